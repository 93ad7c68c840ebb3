/*
 * clone_memdump.h: guest memory dumps (raw, ELF) and the vCPU registers
 * they carry
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_memory.h"

/* A segment register as HMP "info registers" prints it. */
typedef struct {
    guint32 selector;
    guint32 limit;
    guint32 flags;
    guint64 base;
} cloneMemSegment;

/* One vCPU's registers (HMP "info registers -a"); the 32-bit names fill
 * the low halves when the vCPU is not in long mode. */
typedef struct {
    guint64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    guint64 r8, r9, r10, r11, r12, r13, r14, r15;
    guint64 rip, rflags;
    cloneMemSegment cs, ds, es, fs, gs, ss, ldt, tr, gdt, idt;
    guint64 cr[5];
} cloneMemCPU;

/* The vCPUs in the output of HMP "info registers -a": a GArray of
 * cloneMemCPU, NULL with an error if there is none. */
GArray *cloneMemoryParseRegisters(const char *text);

/* Writes the RAM and ROM ranges of @m to the new file @fd as @format
 * (virDomainCloneMemoryDumpFormat); @cpus (ELF only) the vCPUs' registers.
 * Pages of zeroes are left as holes. */
int cloneMemoryDumpWrite(cloneMemory *m, GArray *cpus, int fd, unsigned int format,
                         const char *path);
