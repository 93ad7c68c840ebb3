/*
 * cloneintegritytest.c: the integrity watch's page-table walker, IDT
 * decoding, jump-label rule and baseline/check (src/clone/clone_integrity.c)
 * on real x86-64 structures: page tables, gates and kernel "text" built in
 * a buffer that stands for guest-physical memory.
 *
 * The same code on a real guest, with real attacks: tests/test-integrity.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "clone_integrity.h"

#define MEM_SIZE (8 << 20)

#define P 0x1ULL
#define RW 0x2ULL
#define US 0x4ULL
#define PS 0x80ULL
#define NX (1ULL << 63)

/* guest-physical layout */
#define PML4_PA 0x2000ULL          /* CR3 (kernel); 0x3000 is KPTI's user copy */
#define PDPT_K_PA 0x4000ULL        /* PML4[511] */
#define PD_K_PA 0x5000ULL          /* PDPT[510]: 0xffffffff80000000 */
#define PT_K_PA 0x6000ULL          /* PD[8]: 0xffffffff81000000 */
#define PDPT_U_PA 0x7000ULL        /* PML4[0] */
#define PD_U_PA 0x8000ULL
#define PT_U_PA 0x9000ULL
#define PML5_PA 0xa000ULL

#define TEXT_VA 0xffffffff81000000ULL    /* 2 pages, RO, executable */
#define TEXT_PA 0x100000ULL
#define RODATA_VA 0xffffffff81002000ULL  /* RO, NX */
#define RODATA_PA 0x102000ULL
#define GDT_VA 0xffffffff81003000ULL     /* RW, NX: not in the baseline */
#define GDT_PA 0x103000ULL
#define IDT_VA 0xffffffff81004000ULL     /* RO, NX (like idt_table) */
#define IDT_PA 0x104000ULL
#define BIG_VA 0xffffffff81200000ULL     /* PD[9]: a 2 MiB text page */
#define BIG_PA 0x400000ULL
#define GIANT_VA 0xffffff8000000000ULL   /* PDPT[0]: a 1 GiB page */
#define GIANT_PA 0x40000000ULL
#define USER_VA 0x0000000000401000ULL
#define USER_PA 0x10000ULL

typedef struct {
    guint8 *mem;
    guint reads;
} testMem;


static int
testRead(void *opaque, unsigned long long gpa, void *buf, size_t len)
{
    testMem *m = opaque;

    m->reads++;
    if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa)
        return -1;
    memcpy(buf, m->mem + gpa, len);
    return 0;
}


static void
testSetPte(testMem *m, guint64 table, guint idx, guint64 val)
{
    guint64 le = GUINT64_TO_LE(val);

    memcpy(m->mem + table + idx * 8, &le, 8);
}


static guint
testIdx(guint64 va, int level)
{
    return (guint)((va >> (12 + 9 * (level - 1))) & 511);
}


static void
testGate(guint8 *raw, guint64 target, guint16 sel, guint8 ist, guint8 type,
         guint8 dpl)
{
    memset(raw, 0, 16);
    raw[0] = target & 0xff;
    raw[1] = (target >> 8) & 0xff;
    raw[2] = sel & 0xff;
    raw[3] = sel >> 8;
    raw[4] = ist;
    raw[5] = 0x80 | (dpl << 5) | type;
    raw[6] = (target >> 16) & 0xff;
    raw[7] = (target >> 24) & 0xff;
    raw[8] = (target >> 32) & 0xff;
    raw[9] = (target >> 40) & 0xff;
    raw[10] = (target >> 48) & 0xff;
    raw[11] = (target >> 56) & 0xff;
}


/* A kernel-like address space: see the layout above. */
static testMem *
testMemNew(void)
{
    testMem *m = g_new0(testMem, 1);
    guint i;

    m->mem = g_malloc0(MEM_SIZE);
    testSetPte(m, PML4_PA, 511, PDPT_K_PA | P | RW);
    testSetPte(m, PDPT_K_PA, testIdx(TEXT_VA, 3), PD_K_PA | P | RW);
    testSetPte(m, PD_K_PA, testIdx(TEXT_VA, 2), PT_K_PA | P | RW);
    testSetPte(m, PT_K_PA, testIdx(TEXT_VA, 1), TEXT_PA | P);
    testSetPte(m, PT_K_PA, testIdx(TEXT_VA, 1) + 1, (TEXT_PA + 0x1000) | P);
    testSetPte(m, PT_K_PA, testIdx(RODATA_VA, 1), RODATA_PA | P | NX);
    testSetPte(m, PT_K_PA, testIdx(GDT_VA, 1), GDT_PA | P | RW | NX);
    testSetPte(m, PT_K_PA, testIdx(IDT_VA, 1), IDT_PA | P | NX);
    /* 2 MiB page, with the PAT bit (12) set: not part of the address */
    testSetPte(m, PD_K_PA, testIdx(BIG_VA, 2), BIG_PA | 0x1000 | P | PS);
    testSetPte(m, PDPT_K_PA, testIdx(GIANT_VA, 3), GIANT_PA | P | RW | PS | NX);

    testSetPte(m, PML4_PA, 0, PDPT_U_PA | P | RW | US);
    testSetPte(m, PDPT_U_PA, 0, PD_U_PA | P | RW | US);
    testSetPte(m, PD_U_PA, testIdx(USER_VA, 2), PT_U_PA | P | RW | US);
    testSetPte(m, PT_U_PA, testIdx(USER_VA, 1), USER_PA | P | RW | US);

    /* 5-level: PML5[511] -> the same PML4 */
    testSetPte(m, PML5_PA, 511, PML4_PA | P | RW);

    /* "text": NOPs, a 5-byte and a 2-byte jump-label site */
    memset(m->mem + TEXT_PA, 0x90, 0x2000);
    memcpy(m->mem + TEXT_PA + 0x100, "\x0f\x1f\x44\x00\x00", 5);
    memcpy(m->mem + TEXT_PA + 0x200, "\x66\x90", 2);
    memset(m->mem + BIG_PA, 0xc3, 0x200000);
    /* a site across the check's 128 KiB chunks */
    memcpy(m->mem + BIG_PA + 0x1fffe, "\x0f\x1f\x44\x00\x00", 5);
    for (i = 0; i < 0x1000; i++)
        m->mem[RODATA_PA + i] = (guint8)i;
    for (i = 0; i < 256; i++)
        testGate(m->mem + IDT_PA + 16 * i, TEXT_VA + 16 * i, 0x10,
                 i == 2 ? 2 : 0, 0xe, i == 0x80 ? 3 : 0);
    for (i = 0; i < 16; i++)
        memset(m->mem + GDT_PA + 8 * i, i + 1, 8);
    return m;
}


static void
testMemFree(testMem *m)
{
    g_free(m->mem);
    g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(testMem, testMemFree);


static void
testRegs(cloneIntegrityRegs *r)
{
    memset(r, 0, sizeof(*r));
    r->cr0 = 0x80050033;
    r->cr3 = PML4_PA | 0x1000 | 0x5;      /* KPTI's user PGD, PCID 5 */
    r->cr4 = 0x3006f0;
    r->efer = 0xd01;
    r->idt_base = IDT_VA;
    r->idt_limit = 0xfff;
    r->gdt_base = GDT_VA;
    r->gdt_limit = 0x7f;
}


static void
testTranslate(void)
{
    g_autoptr(testMem) m = testMemNew();
    guint64 cr3 = PML4_PA | 0x1000 | 0x5;
    guint64 pa = 0;
    unsigned int flags = 0;

    g_assert_cmphex(cloneIntegrityCr3Root(cr3), ==, PML4_PA);
    g_assert_cmphex(cloneIntegrityCr3Root(0x8000000000002000ULL | 0x1001), ==, PML4_PA);

    /* 4 KiB, read-only, executable */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, TEXT_VA + 0x1234,
                                            &pa, &flags), ==, 0);
    g_assert_cmphex(pa, ==, TEXT_PA + 0x1234);
    g_assert_cmpuint(flags, ==, 0);
    /* NX */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, RODATA_VA + 8,
                                            &pa, &flags), ==, 0);
    g_assert_cmphex(pa, ==, RODATA_PA + 8);
    g_assert_cmpuint(flags, ==, CLONE_PTE_NX);
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, GDT_VA,
                                            &pa, &flags), ==, 0);
    g_assert_cmpuint(flags, ==, CLONE_PTE_NX | CLONE_PTE_WRITABLE);
    /* 2 MiB, PAT bit not in the address */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, BIG_VA + 0x12345,
                                            &pa, &flags), ==, 0);
    g_assert_cmphex(pa, ==, BIG_PA + 0x12345);
    /* 1 GiB */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, GIANT_VA + 0x23456789,
                                            &pa, &flags), ==, 0);
    g_assert_cmphex(pa, ==, GIANT_PA + 0x23456789);
    g_assert_cmpuint(flags, ==, CLONE_PTE_NX | CLONE_PTE_WRITABLE);
    /* user page: U/S and R/W at every level */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, USER_VA + 1,
                                            &pa, &flags), ==, 0);
    g_assert_cmphex(pa, ==, USER_PA + 1);
    g_assert_cmpuint(flags, ==, CLONE_PTE_WRITABLE | CLONE_PTE_USER);
    /* not mapped: a hole in the PT, in the PD, in the PML4 */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, IDT_VA + 0x1000,
                                            &pa, &flags), ==, 1);
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, BIG_VA + 0x200000,
                                            &pa, &flags), ==, 1);
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE, 0xffff888000000000ULL,
                                            &pa, &flags), ==, 1);
    /* a table outside memory: a read error */
    testSetPte(m, PD_K_PA, 20, 0x7ffff000ULL | P);
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, cr3, FALSE,
                                            0xffffffff80000000ULL + 20 * 0x200000ULL,
                                            &pa, &flags), ==, -1);
}


static void
testTranslateLa57(void)
{
    g_autoptr(testMem) m = testMemNew();
    guint64 pa = 0;

    /* the same kernel address through PML5[511] */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, PML5_PA, TRUE, TEXT_VA + 0x10,
                                            &pa, NULL), ==, 0);
    g_assert_cmphex(pa, ==, TEXT_PA + 0x10);
    /* with 4 levels the PML5 page is read as a PML4: entry 511 is a
     * table whose entries are read as PDPTEs */
    g_assert_cmpint(cloneIntegrityTranslate(testRead, m, PML5_PA, FALSE, TEXT_VA + 0x10,
                                            &pa, NULL), ==, 1);
}


typedef struct {
    guint64 va, pa, size;
    unsigned int flags;
} testMap;


static int
testCollect(void *opaque, guint64 va, guint64 pa, guint64 size, unsigned int flags)
{
    GArray *a = opaque;
    testMap t = { va, pa, size, flags };

    g_array_append_val(a, t);
    return 0;
}


static void
testWalkRange(void)
{
    g_autoptr(testMem) m = testMemNew();
    g_autoptr(GArray) maps = g_array_new(FALSE, TRUE, sizeof(testMap));
    static const testMap want[] = {
        { TEXT_VA, TEXT_PA, 0x1000, 0 },
        { TEXT_VA + 0x1000, TEXT_PA + 0x1000, 0x1000, 0 },
        { RODATA_VA, RODATA_PA, 0x1000, CLONE_PTE_NX },
        { GDT_VA, GDT_PA, 0x1000, CLONE_PTE_NX | CLONE_PTE_WRITABLE },
        { IDT_VA, IDT_PA, 0x1000, CLONE_PTE_NX },
        /* clipped at the end of the range */
        { BIG_VA, BIG_PA, 0x100000, 0 },
    };
    guint i;

    g_assert_cmpint(cloneIntegrityWalk(testRead, m, PML4_PA, FALSE,
                                       0xffffffff80000000ULL, BIG_VA + 0x100000,
                                       testCollect, maps), ==, 0);
    g_assert_cmpuint(maps->len, ==, G_N_ELEMENTS(want));
    for (i = 0; i < maps->len; i++) {
        testMap *t = &g_array_index(maps, testMap, i);

        g_assert_cmphex(t->va, ==, want[i].va);
        g_assert_cmphex(t->pa, ==, want[i].pa);
        g_assert_cmphex(t->size, ==, want[i].size);
        g_assert_cmpuint(t->flags, ==, want[i].flags);
    }

    /* clipped at the start, inside a 2 MiB page */
    g_array_set_size(maps, 0);
    g_assert_cmpint(cloneIntegrityWalk(testRead, m, PML4_PA, FALSE,
                                       BIG_VA + 0x1000, 0xffffffffc0000000ULL,
                                       testCollect, maps), ==, 0);
    g_assert_cmpuint(maps->len, ==, 1);
    g_assert_cmphex(g_array_index(maps, testMap, 0).pa, ==, BIG_PA + 0x1000);
    g_assert_cmphex(g_array_index(maps, testMap, 0).size, ==, 0x1ff000);

    /* the whole address space: the user page comes first */
    g_array_set_size(maps, 0);
    g_assert_cmpint(cloneIntegrityWalk(testRead, m, PML4_PA, FALSE, 0, G_MAXUINT64,
                                       testCollect, maps), ==, 0);
    g_assert_cmpuint(maps->len, ==, 8);
    g_assert_cmphex(g_array_index(maps, testMap, 0).va, ==, USER_VA);
    g_assert_cmphex(g_array_index(maps, testMap, 1).va, ==, GIANT_VA);
    g_assert_cmphex(g_array_index(maps, testMap, 1).size, ==, 0x40000000ULL);
}


static void
testGateDecode(void)
{
    guint8 raw[16];
    cloneIntegrityGate g;

    testGate(raw, 0xffffffff81a00c10ULL, 0x10, 3, 0xe, 3);
    cloneIntegrityGateDecode(raw, &g);
    g_assert_cmphex(g.target, ==, 0xffffffff81a00c10ULL);
    g_assert_cmphex(g.selector, ==, 0x10);
    g_assert_cmpuint(g.ist, ==, 3);
    g_assert_cmphex(g.type, ==, 0xe);
    g_assert_cmpuint(g.dpl, ==, 3);
    g_assert_true(g.present);

    /* a real Linux gate (vector 0x80 of a 6.1 guest, IDT at 0xfffffe0000000800):
     * entry_INT80_compat, selector __KERNEL_CS, DPL 3 interrupt gate */
    memcpy(raw, "\x10\x0c\x10\x00\x00\xee\x80\x91\xff\xff\xff\xff\x00\x00\x00\x00", 16);
    cloneIntegrityGateDecode(raw, &g);
    g_assert_cmphex(g.target, ==, 0xffffffff91800c10ULL);
    g_assert_cmpuint(g.dpl, ==, 3);
    g_assert_cmphex(g.type, ==, 0xe);
    g_assert_true(g.present);

    memset(raw, 0, sizeof(raw));
    cloneIntegrityGateDecode(raw, &g);
    g_assert_false(g.present);
}


typedef struct {
    const char *name;
    const char *old;               /* 8 bytes */
    const char *cur;
    size_t pos;                    /* the first byte that differs */
    gboolean want;
    size_t end;
} testJumpCase;

#define TEXT_LO 0xffffffff81000000ULL
#define TEXT_HI 0xffffffff82000000ULL
/* the site is at offset 1 of the 8 bytes, at TEXT_LO + 0x1000 + 1 */
static const testJumpCase jumpCases[] = {
    { "nop5-to-jmp32", "\x90\x0f\x1f\x44\x00\x00\x90\x90", "\x90\xe9\x10\x00\x00\x00\x90\x90", 1, TRUE, 6 },
    { "jmp32-to-nop5", "\x90\xe9\x10\x00\x00\x00\x90\x90", "\x90\x0f\x1f\x44\x00\x00\x90\x90", 1, TRUE, 6 },
    { "nop2-to-jmp8", "\x90\x66\x90\x90\x90\x90\x90\x90", "\x90\xeb\x05\x90\x90\x90\x90\x90", 1, TRUE, 3 },
    { "jmp8-to-nop2", "\x90\xeb\xf0\x90\x90\x90\x90\x90", "\x90\x66\x90\x90\x90\x90\x90\x90", 1, TRUE, 3 },
    /* text_poke_bp(): int3 first, then the tail, then the first byte */
    { "nop5-int3", "\x90\x0f\x1f\x44\x00\x00\x90\x90", "\x90\xcc\x1f\x44\x00\x00\x90\x90", 1, TRUE, 6 },
    { "nop5-int3-tail", "\x90\x0f\x1f\x44\x00\x00\x90\x90", "\x90\xcc\x10\x00\x00\x00\x90\x90", 1, TRUE, 6 },
    /* asked about a byte inside the site: found from where it starts */
    { "jmp32-to-nop5-inside", "\x90\xe9\x10\x00\x00\x00\x90\x90", "\x90\x0f\x1f\x44\x00\x00\x90\x90", 3, TRUE, 6 },
    /* a jump out of kernel text (to a module, say) */
    { "jmp32-out-of-text", "\x90\x0f\x1f\x44\x00\x00\x90\x90", "\x90\xe9\x00\x00\x00\x40\x90\x90", 1, FALSE, 0 },
    /* a jump redirected: not a toggle */
    { "jmp32-retarget", "\x90\xe9\x10\x00\x00\x00\x90\x90", "\x90\xe9\x20\x00\x00\x00\x90\x90", 2, FALSE, 0 },
    /* the attack module's change: a NOP5 that is another NOP */
    { "nop5-displacement", "\x90\x0f\x1f\x44\x00\x00\x90\x90", "\x90\x0f\x1f\x44\x00\x01\x90\x90", 5, FALSE, 0 },
    { "random-byte", "\x55\x48\x89\xe5\x90\x90\x90\x90", "\x55\x48\x89\xe5\xcc\x90\x90\x90", 4, FALSE, 0 },
    { "call-to-jmp", "\x90\xe8\x10\x00\x00\x00\x90\x90", "\x90\xe9\x10\x00\x00\x00\x90\x90", 1, FALSE, 0 },
};


static void
testJumpLabel(gconstpointer data)
{
    const testJumpCase *tc = data;
    size_t end = 0;
    gboolean got;

    got = cloneIntegrityJumpLabelToggle((const guint8 *)tc->old, (const guint8 *)tc->cur,
                                        8, tc->pos, TEXT_LO + 0x1000,
                                        TEXT_LO, TEXT_HI, &end);
    g_assert_cmpint(got, ==, tc->want);
    if (tc->want)
        g_assert_cmpuint(end, ==, tc->end);
}


static void
testParseRegisters(void)
{
    /* QEMU 10.0, TCG, qemu64 with SMEP and SMAP, a 6.1 guest (trimmed) */
    static const char text[] =
        "RAX=0000000000000000 RBX=0000000000000000 RCX=0000000000000001 RDX=0000000000000000\r\n"
        "RIP=ffffffff91e4f3ab RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\r\n"
        "ES =0000 0000000000000000 00000000 00000000\r\n"
        "GS =0000 ffff89655f000000 00000000 00000000\r\n"
        "LDT=0000 0000000000000000 00000000 00008200 DPL=0 LDT\r\n"
        "TR =0040 fffffe0000003000 00004087 00008900 DPL=0 TSS64-avl\r\n"
        "GDT=     fffffe0000001000 0000007f\r\n"
        "IDT=     fffffe0000000000 00000fff\r\n"
        "CR0=80050033 CR2=00007f91aa352d58 CR3=00000000021be000 CR4=003006f0\r\n"
        "DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 \r\n"
        "DR6=00000000ffff0ff0 DR7=0000000000000400\r\n"
        "EFER=0000000000000d01\r\n"
        "FCW=037f FSW=0000 [ST=0] FTW=00 MXCSR=00001f80\r\n";
    cloneIntegrityRegs r;

    g_assert_cmpint(cloneIntegrityParseRegisters(text, &r), ==, 0);
    g_assert_cmphex(r.cr0, ==, 0x80050033);
    g_assert_cmphex(r.cr3, ==, 0x21be000);
    g_assert_cmphex(r.cr4, ==, 0x3006f0);
    g_assert_cmphex(r.efer, ==, 0xd01);
    g_assert_cmphex(r.idt_base, ==, 0xfffffe0000000000ULL);
    g_assert_cmphex(r.idt_limit, ==, 0xfff);
    g_assert_cmphex(r.gdt_base, ==, 0xfffffe0000001000ULL);
    g_assert_cmphex(r.gdt_limit, ==, 0x7f);

    g_assert_cmpint(cloneIntegrityParseRegisters("RAX=0 CR0=1\n", &r), ==, -1);
}


/* The differences of @m now, against @b, as "KIND ..." strings. */
static guint forgivenLast;

static char *
testCheck(cloneIntegrityBaseline *b, testMem *m, const cloneIntegrityRegs *regs)
{
    g_autoptr(GArray) diffs = cloneIntegrityCheck(b, testRead, m, regs, 1, &forgivenLast);
    g_autoptr(GString) s = g_string_new(NULL);
    guint i;

    g_assert_nonnull(diffs);
    for (i = 0; i < diffs->len; i++) {
        g_autofree char *d = cloneIntegrityDiffFormat(&g_array_index(diffs, cloneIntegrityDiff, i));

        g_string_append_printf(s, "%s%s", i ? "\n" : "", d);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}


static void
testBaselineCheck(void)
{
    g_autoptr(testMem) m = testMemNew();
    g_autoptr(cloneIntegrityBaseline) b = NULL;
    g_autofree guint8 *pristine = NULL;
    cloneIntegrityRegs regs;
    cloneIntegrityRegs now;
    char *got;

    testRegs(&regs);
    b = cloneIntegrityBaselineNew(testRead, m, &regs, 1);
    g_assert_nonnull(b);
    /* text 2 pages + rodata + IDT page + 2 MiB; not the writable GDT */
    g_assert_cmpuint(cloneIntegrityBaselineImageBytes(b), ==, 4 * 0x1000 + 0x200000);
    pristine = g_memdup2(m->mem, MEM_SIZE);

#define CHECK(want) \
    do { \
        got = testCheck(b, m, &now); \
        g_assert_cmpstr(got, ==, want); \
        g_free(got); \
        memcpy(m->mem, pristine, MEM_SIZE); \
        now = regs; \
    } while (0)

    now = regs;
    CHECK("");

    /* a vCPU in user mode: KPTI's other PGD and another PCID */
    now.cr3 = PML4_PA | 0x7;
    CHECK("");

    /* the static keys toggle: no difference */
    memcpy(m->mem + TEXT_PA + 0x100, "\xe9\x00\x01\x00\x00", 5);
    memcpy(m->mem + TEXT_PA + 0x200, "\xeb\x10", 2);
    CHECK("");
    g_assert_cmpuint(forgivenLast, ==, 2);

    /* a site across two of the check's chunks: forgiven; made a jump out of
     * the text: reported, a run cut where the chunk ends */
    memcpy(m->mem + BIG_PA + 0x1fffe, "\xe9\x00\x10\x00\x00", 5);
    CHECK("");
    g_assert_cmpuint(forgivenLast, ==, 1);
    memcpy(m->mem + BIG_PA + 0x1fffe, "\xe9\x00\x00\x00\x40", 5);
    CHECK("text address=0xffffffff8121fffe old=0x1f0f new=0xe9 len=2\n"
          "text address=0xffffffff81220000 old=0x44 new=0x0 len=1\n"
          "text address=0xffffffff81220002 old=0x0 new=0x40 len=1");

    /* one byte of text */
    m->mem[TEXT_PA + 0x1800] = 0xcc;
    CHECK("text address=0xffffffff81001800 old=0x90 new=0xcc len=1");
    /* the attack module's NOP5 -> NOP5 with another displacement */
    m->mem[TEXT_PA + 0x104] = 0x01;
    CHECK("text address=0xffffffff81000104 old=0x0 new=0x1 len=1");
    /* a static key site made into a jump out of the kernel text */
    memcpy(m->mem + TEXT_PA + 0x100, "\xe9\x00\x00\x00\x40", 5);
    CHECK("text address=0xffffffff81000100 old=0x441f0f new=0xe9 len=3\n"
          "text address=0xffffffff81000104 old=0x0 new=0x40 len=1");
    /* inside the 2 MiB page */
    m->mem[BIG_PA + 0x123456] = 0x90;
    CHECK("text address=0xffffffff81323456 old=0xc3 new=0x90 len=1");
    /* read-only data */
    m->mem[RODATA_PA + 0x10] = 0xff;
    CHECK("rodata address=0xffffffff81002010 old=0x10 new=0xff len=1");

    /* an IDT gate: decoded, and its page is read-only data too */
    testGate(m->mem + IDT_PA + 16 * 0x80, TEXT_VA + 0x42, 0x10, 0, 0xe, 3);
    CHECK("idt-gate cpu=0 address=0xffffffff81004800 old=0xffffffff81000800 new=0xffffffff81000042\n"
          "rodata address=0xffffffff81004800 old=0x800 new=0x42 len=2");
    /* the IDTR moved */
    now.idt_base = RODATA_VA;
    CHECK("idtr cpu=0 address=0xffffffff81002000 old=0xffffffff81004000 new=0xffffffff81002000 len=4096");

    /* a GDT entry; not the TLS ones */
    m->mem[GDT_PA + 8 * 4 + 5] = 0;
    CHECK("gdt-entry cpu=0 address=0xffffffff81003020 old=0x505050505050505 new=0x505000505050505 len=8");
    memset(m->mem + GDT_PA + 8 * 12, 0x77, 3 * 8);
    CHECK("");

    /* control bits */
    now.cr4 &= ~CLONE_CR4_SMEP;
    CHECK("cr4.smep cpu=0 old=0x1 new=0x0");
    now.cr4 &= ~CLONE_CR4_SMAP;
    now.cr0 &= ~CLONE_CR0_WP;
    CHECK("cr0.wp cpu=0 old=0x1 new=0x0\ncr4.smap cpu=0 old=0x1 new=0x0");

    /* a text page moved to another frame (its bytes copied there) */
    memcpy(m->mem + 0x200000, m->mem + TEXT_PA + 0x1000, 0x1000);
    testSetPte(m, PT_K_PA, testIdx(TEXT_VA, 1) + 1, 0x200000 | P);
    CHECK("mapping address=0xffffffff81001000 old=0x101000 new=0x200000");
    /* made writable */
    testSetPte(m, PT_K_PA, testIdx(RODATA_VA, 1), RODATA_PA | P | RW | NX);
    CHECK("mapping address=0xffffffff81002000 old=0x102002 new=0x102003");

    /* the number of vCPUs */
    {
        cloneIntegrityRegs two[2] = { regs, regs };
        g_autoptr(GArray) diffs = cloneIntegrityCheck(b, testRead, m, two, 2, NULL);

        g_assert_nonnull(diffs);
        g_assert_cmpuint(diffs->len, ==, 1);
        g_assert_cmpint(g_array_index(diffs, cloneIntegrityDiff, 0).kind, ==,
                        CLONE_INTEGRITY_CPUS);
    }
#undef CHECK
}


int
main(int argc, char **argv)
{
    guint i;

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/integrity/walk/translate", testTranslate);
    g_test_add_func("/integrity/walk/la57", testTranslateLa57);
    g_test_add_func("/integrity/walk/range", testWalkRange);
    g_test_add_func("/integrity/idt/gate-decode", testGateDecode);
    for (i = 0; i < G_N_ELEMENTS(jumpCases); i++) {
        g_autofree char *path = g_strdup_printf("/integrity/jump-label/%s", jumpCases[i].name);

        g_test_add_data_func(path, &jumpCases[i], testJumpLabel);
    }
    g_test_add_func("/integrity/parse-registers", testParseRegisters);
    g_test_add_func("/integrity/baseline-check", testBaselineCheck);
    return g_test_run();
}
