/*
 * clone_integrity.c: a Linux x86-64 guest kernel's integrity, seen from
 * outside
 *
 * What is watched, and how:
 *  - each vCPU's CR0.WP, CR4.SMEP, CR4.SMAP, IDTR and GDTR, from HMP "info
 *    registers" (QMP human-monitor-command, one cpu-index at a time);
 *  - the kernel image mapping (0xffffffff80000000-0xffffffffc0000000)
 *    through the guest's own page tables (the first vCPU's CR3, PCID and
 *    KPTI's user bit masked): every present page that is not writable,
 *    i.e. the kernel's text (executable) and read-only data (NX: rodata,
 *    __ro_after_init, among them the system call table and the pinned CR4
 *    bits), compared byte for byte with a copy taken at the baseline, and
 *    the mapping itself (a page moved to another frame or made writable);
 *  - each vCPU's IDT (gate by gate, decoded) and GDT (entry by entry), read
 *    through the same page tables at the IDTR/GDTR addresses.
 *
 * Not readable from outside while the guest runs: the MSRs.  QEMU 10's
 * "info registers" (TCG and KVM alike) prints EFER but not LSTAR (nor STAR,
 * CSTAR, SYSENTER_EIP), no monitor command reads an MSR, and its gdbstub
 * gives only the FS/GS bases, CR0-CR8 and EFER.  LSTAR is in the migration
 * stream (the "cpu" section's env.lstar): the clone instant's value could be
 * taken from there (clone_vmstate.c parses that stream), not later ones.  The system-call entry is covered instead by the code it
 * runs: entry_SYSCALL_64 and, from 6.1.85 on, x64_sys_call() (a switch that
 * replaced the indirect call through sys_call_table) are kernel text; the
 * table is read-only data.  A LSTAR pointed at code outside the kernel
 * image (a module's) is not seen.
 *
 * The copy is compared with memcmp(), not hashed: memcmp is faster than any
 * hash, exact, and gives the old bytes of a change (the jump-label rule
 * needs them); the price is the memory of one copy of the read-only image.
 *
 * Legitimate changes of kernel text: jump-label (static key) sites toggle
 * between a NOP and a JMP, e.g. netstamp_needed_key when a socket asks for
 * SO_TIMESTAMP.  Without trusting the guest's __jump_table, a changed range
 * is forgiven if it is one such site: NOP5 <-> JMP rel32 whose target is in
 * the kernel's text, or NOP2 <-> JMP rel8, possibly half-way through
 * text_poke_bp() (int3 on the first byte).  What this lets through: an
 * attacker who turns some 5-byte NOP (a jump-label or ftrace site) into a
 * jump to another place in kernel text, i.e. a control-flow change made of
 * existing kernel code; a jump out of the text (to a module) is caught.
 * The baseline's own __jump_table (trusted: it is the clone instant's) could
 * list the real sites and their targets; that needs the kernel's symbols.
 * Other run-time text changes (ftrace, kprobes, static_call updates, the BPF
 * dispatcher) are alerts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_integrity.h"
#include "clone_qmp.h"

#include <string.h>

#define PAGE_4K 0x1000ULL
#define PAGE_2M 0x200000ULL
#define PAGE_1G 0x40000000ULL

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)
#define PTE_PS (1ULL << 7)
#define PTE_NX (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

/* 64-bit Linux's TLS entries of the GDT (GDT_ENTRY_TLS_MIN..MAX): rewritten
 * on context switches (set_thread_area), not watched */
#define GDT_TLS_FIRST 12
#define GDT_TLS_LAST 14

CLONE_ENUM_IMPL(cloneIntegrityKind, CLONE_INTEGRITY_LAST,
                "cpus", "cr0.wp", "cr4.smep", "cr4.smap", "idtr", "idt-gate",
                "gdtr", "gdt-entry", "mapping", "text", "rodata");


/* ---- control state ----------------------------------------------------- */

/* The hex value after "NAME=" (and blanks) in @text, at the start of the
 * text or after a blank. */
static gboolean
cloneIntegrityFindHex(const char *text, const char *name, guint64 *val,
                      const char **after)
{
    size_t nlen = strlen(name);
    const char *p = text;

    while ((p = strstr(p, name))) {
        if ((p == text || g_ascii_isspace(p[-1])) && p[nlen] == '=') {
            const char *s = p + nlen + 1;
            char *end = NULL;

            while (*s == ' ')
                s++;
            *val = g_ascii_strtoull(s, &end, 16);
            if (end != s) {
                if (after)
                    *after = end;
                return TRUE;
            }
        }
        p += nlen;
    }
    return FALSE;
}


int
cloneIntegrityParseRegisters(const char *text, cloneIntegrityRegs *regs)
{
    static const char *const names[] = { "CR0", "CR3", "CR4", "EFER" };
    guint64 *vals[] = { &regs->cr0, &regs->cr3, &regs->cr4, &regs->efer };
    const char *after;
    guint64 limit;
    size_t i;

    memset(regs, 0, sizeof(*regs));
    for (i = 0; i < G_N_ELEMENTS(names); i++) {
        if (!cloneIntegrityFindHex(text, names[i], vals[i], NULL))
            goto missing;
    }
    /* "IDT=     fffffe0000000000 00000fff": base, then limit */
    if (!cloneIntegrityFindHex(text, "IDT", &regs->idt_base, &after))
        goto missing;
    limit = g_ascii_strtoull(after, NULL, 16);
    regs->idt_limit = (guint32)limit;
    if (!cloneIntegrityFindHex(text, "GDT", &regs->gdt_base, &after))
        goto missing;
    limit = g_ascii_strtoull(after, NULL, 16);
    regs->gdt_limit = (guint32)limit;
    return 0;

 missing:
    virCloneReportError(VIR_CLONE_ERR_QEMU,
                        _("cannot find the control registers in QEMU's 'info registers' output: %1$s"),
                        text);
    return -1;
}


GArray *
cloneIntegrityReadRegisters(virDomainPtr dom)
{
    g_autoptr(GArray) regs = g_array_new(FALSE, TRUE, sizeof(cloneIntegrityRegs));
    g_autoptr(JsonNode) cpus = NULL;
    JsonArray *list;
    guint i;

    if (cloneQmpRun(dom, "query-cpus-fast", NULL, &cpus) < 0)
        return NULL;
    if (!JSON_NODE_HOLDS_ARRAY(cpus) ||
        json_array_get_length((list = json_node_get_array(cpus))) == 0) {
        virCloneReportError(VIR_CLONE_ERR_QEMU,
                            _("QEMU of domain '%1$s' listed no vCPU"),
                            virDomainGetName(dom));
        return NULL;
    }
    for (i = 0; i < json_array_get_length(list); i++) {
        JsonObject *cpu = json_array_get_object_element(list, i);
        g_autoptr(JsonObject) args = json_object_new();
        g_autoptr(JsonNode) out = NULL;
        cloneIntegrityRegs r;

        json_object_set_string_member(args, "command-line", "info registers");
        json_object_set_int_member(args, "cpu-index",
                                   cpu ? json_object_get_int_member_with_default(cpu, "cpu-index", i) : i);
        if (cloneQmpRun(dom, "human-monitor-command", args, &out) < 0)
            return NULL;
        if (!JSON_NODE_HOLDS_VALUE(out) ||
            json_node_get_value_type(out) != G_TYPE_STRING) {
            virCloneReportError(VIR_CLONE_ERR_QEMU,
                                _("QEMU of domain '%1$s' did not answer 'info registers'"),
                                virDomainGetName(dom));
            return NULL;
        }
        if (cloneIntegrityParseRegisters(json_node_get_string(out), &r) < 0)
            return NULL;
        g_array_append_val(regs, r);
    }
    return g_steal_pointer(&regs);
}


/* ---- page tables ------------------------------------------------------- */

guint64
cloneIntegrityCr3Root(guint64 cr3)
{
    return cr3 & PTE_ADDR & ~0x1000ULL;
}


static guint64
cloneIntegrityCanonical(guint64 va, gboolean la57)
{
    int bits = la57 ? 57 : 48;

    if (va & (1ULL << (bits - 1)))
        return va | ~((1ULL << bits) - 1);
    return va & ((1ULL << bits) - 1);
}


typedef struct {
    cloneIntegrityReadFunc read;
    void *ropaque;
    gboolean la57;
    guint64 start;                 /* canonical */
    guint64 last;                  /* canonical, inclusive */
    cloneIntegrityMapFunc cb;
    void *opaque;
} cloneIntegrityWalker;


/* Walks table @table_pa of @level (5..1, 1 = page table); entry i maps the
 * virtual addresses from @base + i * its span (@top: the top level, whose
 * upper half is sign-extended). */
static int
cloneIntegrityWalkTable(cloneIntegrityWalker *w, int level, guint64 table_pa,
                        guint64 base, gboolean top, unsigned int flags)
{
    int shift = 12 + 9 * (level - 1);
    guint64 span = 1ULL << shift;
    g_autofree guint64 *table = g_new(guint64, 512);
    guint i;

    if (w->read(w->ropaque, table_pa, table, 512 * sizeof(guint64)) < 0)
        return -1;

    for (i = 0; i < 512; i++) {
        guint64 e = GUINT64_FROM_LE(table[i]);
        guint64 va = top ? cloneIntegrityCanonical((guint64)i << shift, w->la57)
                         : base + i * span;
        guint64 va_last = va + (span - 1);
        unsigned int f = flags;
        int rc;

        if (va_last < w->start || va > w->last || !(e & PTE_P))
            continue;
        if (!(e & PTE_RW))
            f &= ~CLONE_PTE_WRITABLE;
        if (!(e & PTE_US))
            f &= ~CLONE_PTE_USER;
        if (e & PTE_NX)
            f |= CLONE_PTE_NX;

        if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
            /* the mask drops a large page's PAT bit (12) with the low bits */
            guint64 pa = e & PTE_ADDR & ~(span - 1);
            guint64 lo = MAX(va, w->start);
            guint64 hi = MIN(va_last, w->last);

            if ((rc = w->cb(w->opaque, lo, pa + (lo - va), hi - lo + 1, f)) != 0)
                return rc;
        } else if (level > 1) {
            if ((rc = cloneIntegrityWalkTable(w, level - 1, e & PTE_ADDR,
                                              va, FALSE, f)) != 0)
                return rc;
        }
    }
    return 0;
}


int
cloneIntegrityWalk(cloneIntegrityReadFunc read, void *ropaque,
                   guint64 cr3, gboolean la57,
                   guint64 va_start, guint64 va_end,
                   cloneIntegrityMapFunc cb, void *opaque)
{
    cloneIntegrityWalker w = {
        .read = read, .ropaque = ropaque, .la57 = la57,
        .start = va_start, .last = va_end - 1, .cb = cb, .opaque = opaque,
    };

    if (va_end <= va_start)
        return 0;
    return cloneIntegrityWalkTable(&w, la57 ? 5 : 4, cloneIntegrityCr3Root(cr3),
                                   0, TRUE, CLONE_PTE_WRITABLE | CLONE_PTE_USER);
}


typedef struct {
    guint64 pa;
    unsigned int flags;
    gboolean found;
} cloneIntegrityOne;


static int
cloneIntegrityTranslateCb(void *opaque, guint64 va G_GNUC_UNUSED, guint64 pa,
                          guint64 size G_GNUC_UNUSED, unsigned int flags)
{
    cloneIntegrityOne *one = opaque;

    one->pa = pa;
    one->flags = flags;
    one->found = TRUE;
    return 1;
}


int
cloneIntegrityTranslate(cloneIntegrityReadFunc read, void *ropaque,
                        guint64 cr3, gboolean la57, guint64 va,
                        guint64 *pa, unsigned int *flags)
{
    cloneIntegrityOne one = { 0 };

    if (cloneIntegrityWalk(read, ropaque, cr3, la57, va, va + 1,
                           cloneIntegrityTranslateCb, &one) < 0)
        return -1;
    if (!one.found)
        return 1;
    *pa = one.pa;
    if (flags)
        *flags = one.flags;
    return 0;
}


/* Reads @len bytes at virtual address @va through the page tables of @cr3:
 * 0, 1 if a page is not mapped (no error), -1 if a read failed. */
static int
cloneIntegrityReadVirt(cloneIntegrityReadFunc read, void *ropaque,
                       guint64 cr3, gboolean la57, guint64 va,
                       void *buf, size_t len)
{
    guint8 *out = buf;

    while (len > 0) {
        size_t chunk = MIN(len, PAGE_4K - (va & (PAGE_4K - 1)));
        guint64 pa;
        int rc;

        if ((rc = cloneIntegrityTranslate(read, ropaque, cr3, la57, va, &pa, NULL)) != 0)
            return rc;
        if (read(ropaque, pa, out, chunk) < 0)
            return -1;
        out += chunk;
        va += chunk;
        len -= chunk;
    }
    return 0;
}


/* ---- IDT --------------------------------------------------------------- */

void
cloneIntegrityGateDecode(const guint8 *raw, cloneIntegrityGate *gate)
{
    guint16 off_low = raw[0] | raw[1] << 8;
    guint16 off_mid = raw[6] | raw[7] << 8;
    guint32 off_high = (guint32)raw[8] | (guint32)raw[9] << 8 |
                       (guint32)raw[10] << 16 | (guint32)raw[11] << 24;

    gate->target = (guint64)off_low | (guint64)off_mid << 16 | (guint64)off_high << 32;
    gate->selector = raw[2] | raw[3] << 8;
    gate->ist = raw[4] & 7;
    gate->type = raw[5] & 0xf;
    gate->dpl = (raw[5] >> 5) & 3;
    gate->present = (raw[5] & 0x80) != 0;
}


/* ---- jump labels ------------------------------------------------------- */

static const guint8 cloneNop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static const guint8 cloneNop2[2] = { 0x66, 0x90 };
#define INSN_INT3 0xcc
#define INSN_JMP32 0xe9
#define INSN_JMP8 0xeb

/* What the @n bytes at @p are: 0 neither, 1 the NOP, 2 the JMP (a 5-byte
 * one's target, at @va, in @target), each possibly with an int3 on the
 * first byte (text_poke_bp() at work: then both forms match). */
static int
cloneIntegritySiteForm(const guint8 *p, size_t n, guint64 va, guint64 *target)
{
    const guint8 *nop = n == 5 ? cloneNop5 : cloneNop2;
    int form = 0;

    if ((p[0] == nop[0] || p[0] == INSN_INT3) && memcmp(p + 1, nop + 1, n - 1) == 0)
        form |= 1;
    if (p[0] == (n == 5 ? INSN_JMP32 : INSN_JMP8) || p[0] == INSN_INT3) {
        if (n == 5) {
            gint32 rel = (gint32)((guint32)p[1] | (guint32)p[2] << 8 |
                                  (guint32)p[3] << 16 | (guint32)p[4] << 24);

            *target = va + 5 + (gint64)rel;
        } else {
            *target = va + 2 + (gint8)p[1];
        }
        form |= 2;
    }
    return form;
}


gboolean
cloneIntegrityJumpLabelToggle(const guint8 *old, const guint8 *cur,
                              size_t len, size_t pos, guint64 va,
                              guint64 text_start, guint64 text_end,
                              size_t *end)
{
    static const size_t sizes[] = { 5, 2 };
    size_t k;

    for (k = 0; k < G_N_ELEMENTS(sizes); k++) {
        size_t n = sizes[k];
        size_t p = pos >= n - 1 ? pos - (n - 1) : 0;

        for (; p <= pos && p + n <= len; p++) {
            guint64 t_old = 0, t_cur = 0;
            int f_old = cloneIntegritySiteForm(old + p, n, va + p, &t_old);
            int f_cur = cloneIntegritySiteForm(cur + p, n, va + p, &t_cur);
            gboolean ok;

            /* one side the NOP, the other the JMP (or int3 over either);
             * not a JMP moved to another target */
            ok = ((f_old & 1) && (f_cur & 2)) || ((f_old & 2) && (f_cur & 1));
            if (ok && (f_old & 2) && (f_cur & 2) && old[p] != INSN_INT3 &&
                cur[p] != INSN_INT3)
                ok = FALSE;
            if (ok && n == 5) {
                /* a real JMP (not an int3'd NOP) must land in kernel text */
                if ((f_cur & 2) && cur[p] == INSN_JMP32 &&
                    (t_cur < text_start || t_cur >= text_end))
                    ok = FALSE;
                if ((f_old & 2) && old[p] == INSN_JMP32 &&
                    (t_old < text_start || t_old >= text_end))
                    ok = FALSE;
            }
            if (ok && memcmp(old + p, cur + p, n) != 0) {
                *end = p + n;
                return TRUE;
            }
        }
    }
    return FALSE;
}


/* ---- baseline and check ------------------------------------------------ */

typedef struct {
    guint64 va;
    guint64 pa;
    guint64 size;
    unsigned int flags;
    guint8 *data;                  /* the baseline's copy (regions only) */
} cloneIntegrityRegion;


static void
cloneIntegrityRegionClear(gpointer p)
{
    cloneIntegrityRegion *r = p;

    g_free(r->data);
}


typedef struct {
    cloneIntegrityRegs regs;
    guint8 *idt;                   /* idt_limit + 1 bytes */
    guint8 *gdt;                   /* gdt_limit + 1 bytes */
} cloneIntegrityCpu;


static void
cloneIntegrityCpuClear(gpointer p)
{
    cloneIntegrityCpu *c = p;

    g_free(c->idt);
    g_free(c->gdt);
}


struct _cloneIntegrityBaseline {
    GArray *cpus;                  /* cloneIntegrityCpu */
    GArray *regions;               /* cloneIntegrityRegion: read-only,
                                    * physically and virtually contiguous,
                                    * same flags */
    guint64 text_start;            /* lowest executable address */
    guint64 text_end;              /* just after the highest */
    guint64 bytes;
};


void
cloneIntegrityBaselineFree(cloneIntegrityBaseline *b)
{
    if (!b)
        return;
    if (b->cpus)
        g_array_unref(b->cpus);
    if (b->regions)
        g_array_unref(b->regions);
    g_free(b);
}


guint64
cloneIntegrityBaselineImageBytes(const cloneIntegrityBaseline *b)
{
    return b->bytes;
}


/* Collects the mappings of a walk, merged when contiguous. */
static int
cloneIntegrityCollectCb(void *opaque, guint64 va, guint64 pa, guint64 size,
                        unsigned int flags)
{
    GArray *regions = opaque;
    cloneIntegrityRegion *last;
    cloneIntegrityRegion r = { .va = va, .pa = pa, .size = size, .flags = flags };

    if (regions->len > 0) {
        last = &g_array_index(regions, cloneIntegrityRegion, regions->len - 1);
        if (last->va + last->size == va && last->pa + last->size == pa &&
            last->flags == flags) {
            last->size += size;
            return 0;
        }
    }
    g_array_append_val(regions, r);
    return 0;
}


static GArray *
cloneIntegrityCollect(cloneIntegrityReadFunc read, void *ropaque,
                      const cloneIntegrityRegs *regs)
{
    g_autoptr(GArray) regions = g_array_new(FALSE, TRUE, sizeof(cloneIntegrityRegion));

    g_array_set_clear_func(regions, cloneIntegrityRegionClear);
    if (cloneIntegrityWalk(read, ropaque, regs->cr3, (regs->cr4 & CLONE_CR4_LA57) != 0,
                           CLONE_KERNEL_IMAGE_START, CLONE_KERNEL_IMAGE_END,
                           cloneIntegrityCollectCb, regions) < 0)
        return NULL;
    return g_steal_pointer(&regions);
}


/* The IDT and GDT of @regs, through @cr3's tables. */
static int
cloneIntegrityReadTables(cloneIntegrityReadFunc read, void *ropaque,
                         const cloneIntegrityRegs *regs, guint64 cr3,
                         gboolean la57, guint8 **idt, guint8 **gdt)
{
    g_autofree guint8 *i = g_malloc0((gsize)regs->idt_limit + 1);
    g_autofree guint8 *g = g_malloc0((gsize)regs->gdt_limit + 1);
    int rc;

    if ((rc = cloneIntegrityReadVirt(read, ropaque, cr3, la57, regs->idt_base,
                                     i, (gsize)regs->idt_limit + 1)) == 0)
        rc = cloneIntegrityReadVirt(read, ropaque, cr3, la57, regs->gdt_base,
                                    g, (gsize)regs->gdt_limit + 1);
    if (rc > 0)
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("the guest's IDT (0x%1$llx) or GDT (0x%2$llx) is not mapped"),
                            (unsigned long long)regs->idt_base,
                            (unsigned long long)regs->gdt_base);
    if (rc != 0)
        return -1;
    *idt = g_steal_pointer(&i);
    *gdt = g_steal_pointer(&g);
    return 0;
}


cloneIntegrityBaseline *
cloneIntegrityBaselineNew(cloneIntegrityReadFunc read, void *ropaque,
                          const cloneIntegrityRegs *regs, size_t nregs)
{
    g_autoptr(cloneIntegrityBaseline) b = g_new0(cloneIntegrityBaseline, 1);
    gboolean la57;
    size_t i;

    if (nregs == 0) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("no vCPU to take an integrity baseline of"));
        return NULL;
    }
    la57 = (regs[0].cr4 & CLONE_CR4_LA57) != 0;
    b->cpus = g_array_new(FALSE, TRUE, sizeof(cloneIntegrityCpu));
    g_array_set_clear_func(b->cpus, cloneIntegrityCpuClear);
    for (i = 0; i < nregs; i++) {
        cloneIntegrityCpu c = { .regs = regs[i] };

        if (cloneIntegrityReadTables(read, ropaque, &regs[i], regs[0].cr3, la57,
                                     &c.idt, &c.gdt) < 0)
            return NULL;
        g_array_append_val(b->cpus, c);
    }

    if (!(b->regions = cloneIntegrityCollect(read, ropaque, &regs[0])))
        return NULL;
    for (i = b->regions->len; i-- > 0;) {
        if (g_array_index(b->regions, cloneIntegrityRegion, i).flags & CLONE_PTE_WRITABLE)
            g_array_remove_index(b->regions, i);
    }
    if (b->regions->len == 0) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("nothing read-only is mapped at the kernel image addresses (CR3 0x%1$llx): not a running x86-64 Linux kernel"),
                            (unsigned long long)regs[0].cr3);
        return NULL;
    }
    b->text_start = G_MAXUINT64;
    for (i = 0; i < b->regions->len; i++) {
        cloneIntegrityRegion *r = &g_array_index(b->regions, cloneIntegrityRegion, i);

        r->data = g_malloc(r->size);
        if (read(ropaque, r->pa, r->data, r->size) < 0)
            return NULL;
        b->bytes += r->size;
        if (!(r->flags & CLONE_PTE_NX)) {
            b->text_start = MIN(b->text_start, r->va);
            b->text_end = MAX(b->text_end, r->va + r->size);
        }
    }
    return g_steal_pointer(&b);
}


static void
cloneIntegrityAdd(GArray *diffs, cloneIntegrityKind kind, int cpu,
                  guint64 address, guint64 old_value, guint64 new_value,
                  guint32 len)
{
    cloneIntegrityDiff d = {
        .kind = kind, .cpu = cpu, .address = address,
        .old_value = old_value, .new_value = new_value, .len = len,
    };

    g_array_append_val(diffs, d);
}


static guint64
cloneIntegrityLoad(const guint8 *p, size_t n)
{
    guint64 v = 0;
    size_t i;

    for (i = 0; i < n && i < 8; i++)
        v |= (guint64)p[i] << (8 * i);
    return v;
}


/* The differing runs of bytes of region @r in [@from, @to) (offsets in the
 * region), @cur holding its bytes [@ws, @ws + @wn) now: a window a few bytes
 * wider, so that a jump-label site across @from or @to is seen whole.  A
 * run stops at @to (the next window goes on with it); *@resume: where a
 * site found here ended (the next window starts there). */
static void
cloneIntegrityCompareWindow(const cloneIntegrityBaseline *b,
                            const cloneIntegrityRegion *r, const guint8 *cur,
                            guint64 ws, guint64 wn, guint64 from, guint64 to,
                            guint64 *resume, GArray *diffs, guint *forgiven)
{
    const guint8 *old = r->data + ws;
    gboolean text = !(r->flags & CLONE_PTE_NX);
    guint64 pos = MAX(from, *resume);

    while (pos < to) {
        guint64 run;
        size_t end;

        if (old[pos - ws] == cur[pos - ws]) {
            pos++;
            continue;
        }
        if (text && cloneIntegrityJumpLabelToggle(old, cur, wn, pos - ws,
                                                  r->va + ws, b->text_start,
                                                  b->text_end, &end)) {
            (*forgiven)++;
            pos = ws + end;
            *resume = pos;
            continue;
        }
        for (run = 1; pos + run < to && old[pos + run - ws] != cur[pos + run - ws]; run++)
            ;
        cloneIntegrityAdd(diffs, text ? CLONE_INTEGRITY_TEXT : CLONE_INTEGRITY_RODATA,
                          -1, r->va + pos,
                          cloneIntegrityLoad(old + (pos - ws), run),
                          cloneIntegrityLoad(cur + (pos - ws), run),
                          (guint32)run);
        pos += run;
    }
}


static void
cloneIntegrityCompareCpu(const cloneIntegrityCpu *c, int cpu,
                         const cloneIntegrityRegs *now,
                         const guint8 *idt, const guint8 *gdt, GArray *diffs)
{
    const cloneIntegrityRegs *was = &c->regs;
    static const struct {
        cloneIntegrityKind kind;
        gboolean cr0;
        guint64 bit;
    } bits[] = {
        { CLONE_INTEGRITY_CR0_WP, TRUE, CLONE_CR0_WP },
        { CLONE_INTEGRITY_CR4_SMEP, FALSE, CLONE_CR4_SMEP },
        { CLONE_INTEGRITY_CR4_SMAP, FALSE, CLONE_CR4_SMAP },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bits); i++) {
        guint64 o = (bits[i].cr0 ? was->cr0 : was->cr4) & bits[i].bit;
        guint64 n = (bits[i].cr0 ? now->cr0 : now->cr4) & bits[i].bit;

        if (o != n)
            cloneIntegrityAdd(diffs, bits[i].kind, cpu, 0, o != 0, n != 0, 0);
    }

    if (was->idt_base != now->idt_base || was->idt_limit != now->idt_limit)
        cloneIntegrityAdd(diffs, CLONE_INTEGRITY_IDTR, cpu, now->idt_base,
                          was->idt_base, now->idt_base, now->idt_limit + 1);
    else
        for (i = 0; i + 16 <= (size_t)was->idt_limit + 1; i += 16) {
            cloneIntegrityGate og, ng;

            if (memcmp(c->idt + i, idt + i, 16) == 0)
                continue;
            cloneIntegrityGateDecode(c->idt + i, &og);
            cloneIntegrityGateDecode(idt + i, &ng);
            cloneIntegrityAdd(diffs, CLONE_INTEGRITY_IDT_GATE, cpu,
                              was->idt_base + i, og.target, ng.target, 0);
        }

    if (was->gdt_base != now->gdt_base || was->gdt_limit != now->gdt_limit)
        cloneIntegrityAdd(diffs, CLONE_INTEGRITY_GDTR, cpu, now->gdt_base,
                          was->gdt_base, now->gdt_base, now->gdt_limit + 1);
    else
        for (i = 0; i + 8 <= (size_t)was->gdt_limit + 1; i += 8) {
            if (i / 8 >= GDT_TLS_FIRST && i / 8 <= GDT_TLS_LAST)
                continue;
            if (memcmp(c->gdt + i, gdt + i, 8) != 0)
                cloneIntegrityAdd(diffs, CLONE_INTEGRITY_GDT_ENTRY, cpu,
                                  was->gdt_base + i, cloneIntegrityLoad(c->gdt + i, 8),
                                  cloneIntegrityLoad(gdt + i, 8), 8);
        }
}


/* Reads and compares region @r in chunks that stay in the CPU's cache
 * (faster than one read of several MiB, then one memcmp); a chunk that
 * differs is read again with its neighbours' bytes around it
 * (CHECK_MARGIN: a 5-byte jump-label site seen whole) and compared byte by
 * byte.  @buf: CHECK_CHUNK + 2 * CHECK_MARGIN bytes. */
#define CHECK_CHUNK (128 * 1024)
#define CHECK_MARGIN 4

static int
cloneIntegrityCompareRegion(const cloneIntegrityBaseline *b,
                            const cloneIntegrityRegion *r,
                            cloneIntegrityReadFunc read, void *ropaque,
                            guint8 *buf, GArray *diffs, guint *forgiven)
{
    guint64 resume = 0;
    guint64 off;

    for (off = 0; off < r->size; off += CHECK_CHUNK) {
        guint64 n = MIN(CHECK_CHUNK, r->size - off);
        guint64 ws = off >= CHECK_MARGIN ? off - CHECK_MARGIN : 0;
        guint64 we = MIN(off + n + CHECK_MARGIN, r->size);

        if (read(ropaque, r->pa + off, buf, n) < 0)
            return -1;
        if (memcmp(buf, r->data + off, n) == 0)
            continue;
        if (read(ropaque, r->pa + ws, buf, we - ws) < 0)
            return -1;
        cloneIntegrityCompareWindow(b, r, buf, ws, we - ws, off, off + n,
                                    &resume, diffs, forgiven);
    }
    return 0;
}


/* The region of @regions (sorted, disjoint) that holds @va, or NULL. */
static const cloneIntegrityRegion *
cloneIntegrityFind(GArray *regions, guint64 va)
{
    guint lo = 0, hi = regions->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const cloneIntegrityRegion *r = &g_array_index(regions, cloneIntegrityRegion, mid);

        if (va < r->va)
            hi = mid;
        else if (va - r->va >= r->size)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}


/* Baseline region @r is not mapped as it was: the first page that moved,
 * changed flags or went away (new value 0). */
static void
cloneIntegrityCompareMapping(const cloneIntegrityRegion *r, GArray *now,
                             GArray *diffs)
{
    guint64 off;

    for (off = 0; off < r->size; off += PAGE_4K) {
        const cloneIntegrityRegion *n = cloneIntegrityFind(now, r->va + off);
        guint64 pa = n ? n->pa + (r->va + off - n->va) : 0;

        if (!n || pa != r->pa + off || n->flags != r->flags) {
            cloneIntegrityAdd(diffs, CLONE_INTEGRITY_MAPPING, -1, r->va + off,
                              (r->pa + off) | r->flags, n ? pa | n->flags : 0, 0);
            return;
        }
    }
}


GArray *
cloneIntegrityCheck(const cloneIntegrityBaseline *b,
                    cloneIntegrityReadFunc read, void *ropaque,
                    const cloneIntegrityRegs *regs, size_t nregs,
                    guint *forgiven)
{
    g_autoptr(GArray) diffs = g_array_new(FALSE, TRUE, sizeof(cloneIntegrityDiff));
    g_autoptr(GArray) now = NULL;
    g_autofree guint8 *buf = g_malloc(CHECK_CHUNK + 2 * CHECK_MARGIN);
    guint sites = 0;
    gboolean la57;
    size_t i;

    if (nregs == 0) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("no vCPU to check the integrity of"));
        return NULL;
    }
    la57 = (regs[0].cr4 & CLONE_CR4_LA57) != 0;
    if (nregs != b->cpus->len)
        cloneIntegrityAdd(diffs, CLONE_INTEGRITY_CPUS, -1, 0, b->cpus->len, nregs, 0);

    for (i = 0; i < MIN(nregs, b->cpus->len); i++) {
        const cloneIntegrityCpu *c = &g_array_index(b->cpus, cloneIntegrityCpu, i);
        g_autofree guint8 *idt = NULL;
        g_autofree guint8 *gdt = NULL;
        cloneIntegrityRegs same = regs[i];

        /* the tables at the baseline's addresses; a moved IDTR/GDTR is
         * reported as such */
        same.idt_base = c->regs.idt_base;
        same.idt_limit = c->regs.idt_limit;
        same.gdt_base = c->regs.gdt_base;
        same.gdt_limit = c->regs.gdt_limit;
        if (cloneIntegrityReadTables(read, ropaque, &same, regs[0].cr3, la57,
                                     &idt, &gdt) < 0)
            return NULL;
        cloneIntegrityCompareCpu(c, (int)i, &regs[i], idt, gdt, diffs);
    }

    /* the mapping now, against the baseline's, then the bytes */
    if (!(now = cloneIntegrityCollect(read, ropaque, &regs[0])))
        return NULL;
    for (i = 0; i < b->regions->len; i++) {
        const cloneIntegrityRegion *r = &g_array_index(b->regions, cloneIntegrityRegion, i);
        const cloneIntegrityRegion *n = cloneIntegrityFind(now, r->va);

        if (!n || n->va + n->size < r->va + r->size ||
            n->pa + (r->va - n->va) != r->pa || n->flags != r->flags) {
            cloneIntegrityCompareMapping(r, now, diffs);
            continue;
        }
        if (cloneIntegrityCompareRegion(b, r, read, ropaque, buf, diffs, &sites) < 0)
            return NULL;
    }
    if (forgiven)
        *forgiven = sites;
    return g_steal_pointer(&diffs);
}


char *
cloneIntegrityDiffFormat(const cloneIntegrityDiff *d)
{
    GString *s = g_string_new(cloneIntegrityKindTypeToString(d->kind));

    if (d->cpu >= 0)
        g_string_append_printf(s, " cpu=%d", d->cpu);
    if (d->address)
        g_string_append_printf(s, " address=0x%" G_GINT64_MODIFIER "x", d->address);
    g_string_append_printf(s, " old=0x%" G_GINT64_MODIFIER "x new=0x%" G_GINT64_MODIFIER "x",
                           d->old_value, d->new_value);
    if (d->len)
        g_string_append_printf(s, " len=%u", d->len);
    return g_string_free(s, FALSE);
}
