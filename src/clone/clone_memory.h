/*
 * clone_memory.h: reading a running domain's guest-physical memory from
 * its QEMU process, without pausing the guest
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

#include <sys/types.h>

/* One range of guest-physical addresses backed by a RAM block of QEMU:
 * [gpa, gpa + size) is at [hva, hva + size) in QEMU's address space. */
typedef struct _cloneMemoryRange cloneMemoryRange;
struct _cloneMemoryRange {
    unsigned long long gpa;
    unsigned long long size;
    unsigned long long hva;
    char *region;               /* QEMU's memory region, e.g. "pc.ram" */
    unsigned long long regionOffset; /* where gpa is in the region */
    gboolean readonly;          /* a ROM */
};

void cloneMemoryRangeFree(cloneMemoryRange *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneMemoryRange, cloneMemoryRangeFree);

typedef struct _cloneMemory cloneMemory;

/* A reader callable through a plain function pointer (page-table walkers):
 * 0 when all @len bytes at @gpa are in @buf, -1 with an error otherwise. */
typedef int (*cloneMemoryReadFunc)(void *opaque, unsigned long long gpa,
                                   void *buf, size_t len);

/* Reads the guest-physical layout of running domain @dom (HMP "info mtree
 * -f" and "gpa2hva") and finds its QEMU process on this host.  The layout
 * is read once: memory hot-plug afterwards needs a new cloneMemory. */
cloneMemory *cloneMemoryOpen(virDomainPtr dom);
void cloneMemoryFree(cloneMemory *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneMemory, cloneMemoryFree);

/* Copies @len bytes of guest-physical memory at @gpa into @buf while the
 * guest runs.  The whole span must be RAM or ROM (it may cross from one
 * range into an adjacent one); MMIO and holes are refused. */
int cloneMemoryRead(cloneMemory *m, unsigned long long gpa, void *buf, size_t len);
/* Reads what QEMU maps from file @path (a template's RAM file, mapped
 * privately) from the file itself, not from QEMU: the bytes as they were
 * when the file was written, not the pages the guest wrote since.  -1
 * with an error if QEMU maps nothing of @path. */
int cloneMemoryReadFromFile(cloneMemory *m, const char *path);

/* Whether the QEMU process @m reads from still runs (its pidfd: a PID
 * that another process took since is not it). */
gboolean cloneMemoryAlive(const cloneMemory *m);
/* The same with @opaque a cloneMemory *, as a cloneMemoryReadFunc. */
int cloneMemoryReadCb(void *opaque, unsigned long long gpa, void *buf, size_t len);

/* The RAM and ROM ranges, sorted by guest-physical address. */
size_t cloneMemoryRangeCount(const cloneMemory *m);
const cloneMemoryRange *cloneMemoryRangeGet(const cloneMemory *m, size_t i);

/* The QEMU process the memory is read from. */
pid_t cloneMemoryPid(const cloneMemory *m);

/* Runs HMP command @cmdline through QMP human-monitor-command: its output
 * in @out. */
int cloneMemoryHmp(virDomainPtr dom, const char *cmdline, char **out);

/* Internal, for unit tests: the RAM/ROM ranges (gpa, size, region; hva 0)
 * of the flat view of address space "memory" in the output of HMP "info
 * mtree -f".  NULL with an error if there is none. */
GPtrArray *cloneMemoryParseMtree(const char *text);
/* A RAM block of HMP "info ramblock". */
typedef struct {
    char *name;                 /* e.g. "pc.ram", "0000:00:01.0/vga.vram" */
    unsigned long long used;
    unsigned long long hva;
} cloneMemoryBlock;
void cloneMemoryBlockFree(cloneMemoryBlock *b);
/* The blocks in the output of HMP "info ramblock" (a GPtrArray of
 * cloneMemoryBlock); NULL, and no error, if it has no HVA column. */
GPtrArray *cloneMemoryParseRamblock(const char *text);

/* The host address in the output of HMP "gpa2hva": 0 and @hva, or -1 (and
 * no error) if the address is not RAM. */
int cloneMemoryParseGpa2hva(const char *text, unsigned long long *hva);
