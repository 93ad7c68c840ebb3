/*
 * clone_integrity.h: a Linux x86-64 guest kernel's integrity, seen from
 * outside (the vCPUs' control state through the monitor, the kernel's
 * memory through its own page tables)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

/* Reads @len bytes of guest-physical memory at @gpa into @buf: 0, or -1
 * with an error reported (the shape of cloneMemoryReadCb). */
typedef int (*cloneIntegrityReadFunc)(void *opaque, unsigned long long gpa,
                                      void *buf, size_t len);

/* ---- the vCPUs' control state ------------------------------------------ */

typedef struct _cloneIntegrityRegs cloneIntegrityRegs;
struct _cloneIntegrityRegs {
    guint64 cr0;
    guint64 cr3;
    guint64 cr4;
    guint64 efer;
    guint64 idt_base;
    guint32 idt_limit;
    guint64 gdt_base;
    guint32 gdt_limit;
};

#define CLONE_CR0_WP (1ULL << 16)
#define CLONE_CR4_LA57 (1ULL << 12)
#define CLONE_CR4_SMEP (1ULL << 20)
#define CLONE_CR4_SMAP (1ULL << 21)

/* Fills @regs from the output of HMP "info registers" (x86-64).  -1 with
 * an error if a value is missing. */
int cloneIntegrityParseRegisters(const char *text, cloneIntegrityRegs *regs);

/* The control state of every vCPU of running domain @dom, in the order of
 * their index (QMP query-cpus-fast, then human-monitor-command "info
 * registers" with each cpu-index): a GArray of cloneIntegrityRegs, or NULL
 * with an error reported. */
GArray *cloneIntegrityReadRegisters(virDomainPtr dom);

/* ---- page tables ------------------------------------------------------- */

/* What a translation allows, accumulated over every level. */
#define CLONE_PTE_WRITABLE (1U << 0)   /* R/W set at every level */
#define CLONE_PTE_NX (1U << 1)         /* XD set at some level */
#define CLONE_PTE_USER (1U << 2)       /* U/S set at every level */

/* The physical address of the top-level table named by @cr3: the PCID
 * (bits 11:0), KPTI's user/kernel bit (12) and the no-flush bit (63)
 * masked, so that a vCPU caught in user mode still gives the kernel's
 * tables. */
guint64 cloneIntegrityCr3Root(guint64 cr3);

/* Called for each present leaf mapping [va, va + size) -> pa of a walk, in
 * ascending order of va.  Non-zero stops the walk with that value. */
typedef int (*cloneIntegrityMapFunc)(void *opaque, guint64 va, guint64 pa,
                                     guint64 size, unsigned int flags);

/* Walks the 4-level (5-level if @la57) page tables of @cr3 over the
 * canonical range [@va_start, @va_end), reading each table once.  1 GiB,
 * 2 MiB and 4 KiB pages; a leaf is clipped to the range.  Returns 0, the
 * callback's non-zero value, or -1 (a read failed: reported by @read). */
int cloneIntegrityWalk(cloneIntegrityReadFunc read, void *ropaque,
                       guint64 cr3, gboolean la57,
                       guint64 va_start, guint64 va_end,
                       cloneIntegrityMapFunc cb, void *opaque);

/* Translates one virtual address: 0 with @pa (and @flags), 1 if it is not
 * mapped (no error), -1 if a read failed. */
int cloneIntegrityTranslate(cloneIntegrityReadFunc read, void *ropaque,
                            guint64 cr3, gboolean la57, guint64 va,
                            guint64 *pa, unsigned int *flags);

/* ---- IDT --------------------------------------------------------------- */

typedef struct _cloneIntegrityGate cloneIntegrityGate;
struct _cloneIntegrityGate {
    guint64 target;                /* the handler's address */
    guint16 selector;
    guint8 ist;
    guint8 type;                   /* 0xe interrupt, 0xf trap gate */
    guint8 dpl;
    gboolean present;
};

/* Decodes one 16-byte x86-64 IDT gate. */
void cloneIntegrityGateDecode(const guint8 *raw, cloneIntegrityGate *gate);

/* ---- jump labels ------------------------------------------------------- */

/* Whether the byte that differs at @pos between @old and @cur (both @len
 * bytes, the same kernel text at @va) belongs to a jump-label site that
 * toggled: 5 bytes NOP5 <-> JMP rel32 (its target inside [@text_start,
 * @text_end)) or 2 bytes NOP2 <-> JMP rel8, either side possibly half-way
 * through text_poke_bp() (an int3 on the first byte).  If so, *@end is the
 * offset just after the site. */
gboolean cloneIntegrityJumpLabelToggle(const guint8 *old, const guint8 *cur,
                                       size_t len, size_t pos, guint64 va,
                                       guint64 text_start, guint64 text_end,
                                       size_t *end);

/* ---- baseline and check ------------------------------------------------ */

/* The kernel image mapping of x86-64 Linux (__START_KERNEL_map, KASLR
 * places the kernel inside it). */
#define CLONE_KERNEL_IMAGE_START 0xffffffff80000000ULL
#define CLONE_KERNEL_IMAGE_END 0xffffffffc0000000ULL

typedef enum {
    CLONE_INTEGRITY_CPUS,          /* the number of vCPUs changed */
    CLONE_INTEGRITY_CR0_WP,        /* old/new: the bit */
    CLONE_INTEGRITY_CR4_SMEP,
    CLONE_INTEGRITY_CR4_SMAP,
    CLONE_INTEGRITY_IDTR,          /* address: the base; old/new: base */
    CLONE_INTEGRITY_IDT_GATE,      /* address: the gate; old/new: targets */
    CLONE_INTEGRITY_GDTR,
    CLONE_INTEGRITY_GDT_ENTRY,     /* address: the entry; old/new: it */
    CLONE_INTEGRITY_MAPPING,       /* address: the page; old/new: pa|flags */
    CLONE_INTEGRITY_TEXT,          /* address: the first byte changed;
                                    * old/new: up to 8 bytes from it,
                                    * little-endian; len: bytes changed */
    CLONE_INTEGRITY_RODATA,

    CLONE_INTEGRITY_LAST
} cloneIntegrityKind;

CLONE_ENUM_DECL(cloneIntegrityKind);

typedef struct _cloneIntegrityDiff cloneIntegrityDiff;
struct _cloneIntegrityDiff {
    cloneIntegrityKind kind;
    int cpu;                       /* the vCPU, -1 if none */
    guint64 address;
    guint64 old_value;
    guint64 new_value;
    guint32 len;
};

/* "KIND cpu=N address=0x... old=0x... new=0x..." */
char *cloneIntegrityDiffFormat(const cloneIntegrityDiff *d);

typedef struct _cloneIntegrityBaseline cloneIntegrityBaseline;

/* Takes the baseline: the control state @regs of the @nregs vCPUs, the
 * present read-only pages of the kernel image mapping (through the first
 * vCPU's CR3) and a copy of their bytes, each vCPU's IDT and GDT.  NULL
 * with an error reported. */
cloneIntegrityBaseline *cloneIntegrityBaselineNew(cloneIntegrityReadFunc read,
                                                  void *ropaque,
                                                  const cloneIntegrityRegs *regs,
                                                  size_t nregs);
void cloneIntegrityBaselineFree(cloneIntegrityBaseline *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneIntegrityBaseline, cloneIntegrityBaselineFree);

/* Bytes of kernel image the baseline holds (read again by every check). */
guint64 cloneIntegrityBaselineImageBytes(const cloneIntegrityBaseline *b);

/* Compares the guest's state now (@regs, memory through @read) with @b: a
 * GArray of cloneIntegrityDiff, empty if nothing changed, or NULL with an
 * error reported (a read failed).  @forgiven (optional): the number of
 * text changes found to be jump-label sites toggling (not differences). */
GArray *cloneIntegrityCheck(const cloneIntegrityBaseline *b,
                            cloneIntegrityReadFunc read, void *ropaque,
                            const cloneIntegrityRegs *regs, size_t nregs,
                            guint *forgiven);
