/*
 * clone_memdump.c: guest memory reads and dumps, the public API
 *
 * A dump is read live, as cloneMemoryRead() reads: the guest is not
 * paused, so a page may be older or newer than the next one.  The raw
 * format puts each byte at its guest-physical address; the ELF format is
 * the one QEMU's dump-guest-memory writes (a PT_LOAD per range, p_paddr the
 * guest-physical address, p_vaddr 0; one NT_PRSTATUS and one "QEMU" CPU
 * state note per vCPU), which crash and gdb open.  The registers come from
 * HMP "info registers -a", read just before the memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_jobrec.h"
#include "clone_memdump.h"
#include "clone_memsnap.h"
#include "clone_metadata.h"
#include "clone_template.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define CLONE_MEM_PAGE 4096ULL
#define CLONE_MEM_CHUNK (1024ULL * 1024ULL)
/* the most a VMCOREINFO note takes: the kernel gives it one page */
#define CLONE_VMCOREINFO_MAX (sizeof(Elf64_Nhdr) + 12 + CLONE_MEM_PAGE)

/* ---- registers ----------------------------------------------------------- */

static guint64
cloneRegGet(GHashTable *kv, const char *name64, const char *name32)
{
    const char *v = g_hash_table_lookup(kv, name64);

    if (!v && name32)
        v = g_hash_table_lookup(kv, name32);
    return v ? g_ascii_strtoull(v, NULL, 16) : 0;
}


/* "CS =0010 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]" and
 * "GDT=     fffffe0000001000 0000007f" */
static void
cloneRegSegment(const char *block, const char *name, cloneMemSegment *seg)
{
    g_autofree char *pattern = g_strdup_printf("^%s *=([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)", name);
    g_autofree char *table = g_strdup_printf("^%s *= +([0-9a-f]+) ([0-9a-f]+)", name);
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_MULTILINE, 0, NULL);
    g_autoptr(GRegex) reTable = g_regex_new(table, G_REGEX_MULTILINE, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;

    if (g_regex_match(re, block, 0, &mi)) {
        g_autofree char *sel = g_match_info_fetch(mi, 1);
        g_autofree char *base = g_match_info_fetch(mi, 2);
        g_autofree char *limit = g_match_info_fetch(mi, 3);
        g_autofree char *flags = g_match_info_fetch(mi, 4);

        seg->selector = (guint32)g_ascii_strtoull(sel, NULL, 16);
        seg->base = g_ascii_strtoull(base, NULL, 16);
        seg->limit = (guint32)g_ascii_strtoull(limit, NULL, 16);
        seg->flags = (guint32)g_ascii_strtoull(flags, NULL, 16);
        return;
    }
    g_clear_pointer(&mi, g_match_info_free);
    if (g_regex_match(reTable, block, 0, &mi)) {
        g_autofree char *base = g_match_info_fetch(mi, 1);
        g_autofree char *limit = g_match_info_fetch(mi, 2);

        seg->base = g_ascii_strtoull(base, NULL, 16);
        seg->limit = (guint32)g_ascii_strtoull(limit, NULL, 16);
    }
}


static void
cloneRegParseCPU(const char *block, cloneMemCPU *cpu)
{
    g_autoptr(GRegex) re = g_regex_new("([A-Z][A-Z0-9]*) *=([0-9a-fA-F]+)", 0, 0, NULL);
    g_autoptr(GHashTable) kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GMatchInfo) mi = NULL;
    static const char *const cr[] = { "CR0", "CR1", "CR2", "CR3", "CR4" };

    g_regex_match(re, block, 0, &mi);
    while (g_match_info_matches(mi)) {
        char *k = g_match_info_fetch(mi, 1);

        if (g_hash_table_contains(kv, k))
            g_free(k);
        else
            g_hash_table_insert(kv, k, g_match_info_fetch(mi, 2));
        g_match_info_next(mi, NULL);
    }
    cpu->rax = cloneRegGet(kv, "RAX", "EAX");
    cpu->rbx = cloneRegGet(kv, "RBX", "EBX");
    cpu->rcx = cloneRegGet(kv, "RCX", "ECX");
    cpu->rdx = cloneRegGet(kv, "RDX", "EDX");
    cpu->rsi = cloneRegGet(kv, "RSI", "ESI");
    cpu->rdi = cloneRegGet(kv, "RDI", "EDI");
    cpu->rsp = cloneRegGet(kv, "RSP", "ESP");
    cpu->rbp = cloneRegGet(kv, "RBP", "EBP");
    cpu->r8 = cloneRegGet(kv, "R8", NULL);
    cpu->r9 = cloneRegGet(kv, "R9", NULL);
    cpu->r10 = cloneRegGet(kv, "R10", NULL);
    cpu->r11 = cloneRegGet(kv, "R11", NULL);
    cpu->r12 = cloneRegGet(kv, "R12", NULL);
    cpu->r13 = cloneRegGet(kv, "R13", NULL);
    cpu->r14 = cloneRegGet(kv, "R14", NULL);
    cpu->r15 = cloneRegGet(kv, "R15", NULL);
    cpu->rip = cloneRegGet(kv, "RIP", "EIP");
    cpu->rflags = cloneRegGet(kv, "RFL", "EFL");
    for (size_t i = 0; i < G_N_ELEMENTS(cr); i++)
        cpu->cr[i] = cloneRegGet(kv, cr[i], NULL);
    cloneRegSegment(block, "CS", &cpu->cs);
    cloneRegSegment(block, "DS", &cpu->ds);
    cloneRegSegment(block, "ES", &cpu->es);
    cloneRegSegment(block, "FS", &cpu->fs);
    cloneRegSegment(block, "GS", &cpu->gs);
    cloneRegSegment(block, "SS", &cpu->ss);
    cloneRegSegment(block, "LDT", &cpu->ldt);
    cloneRegSegment(block, "TR", &cpu->tr);
    cloneRegSegment(block, "GDT", &cpu->gdt);
    cloneRegSegment(block, "IDT", &cpu->idt);
}


GArray *
cloneMemoryParseRegisters(const char *text)
{
    g_auto(GStrv) blocks = g_strsplit(text ? text : "", "CPU#", -1);
    g_autoptr(GArray) cpus = g_array_new(FALSE, TRUE, sizeof(cloneMemCPU));

    /* blocks[0] is what precedes "CPU#0" */
    for (size_t i = 1; blocks[0] && blocks[i]; i++) {
        cloneMemCPU cpu = { 0 };

        if (!strstr(blocks[i], "IP="))
            continue;
        cloneRegParseCPU(blocks[i], &cpu);
        g_array_append_val(cpus, cpu);
    }
    if (cpus->len == 0) {
        virCloneReportError(VIR_CLONE_ERR_QEMU, "%s",
                            _("QEMU did not list the registers of any vCPU (info registers -a)"));
        return NULL;
    }
    return g_steal_pointer(&cpus);
}


/* ---- ELF notes ----------------------------------------------------------- */

/* struct elf_prstatus of x86_64 (336 bytes), as QEMU's x86_64_elf_prstatus */
typedef struct {
    char pad1[32];
    guint32 pid;
    char pad2[76];
    guint64 regs[27];           /* struct user_regs_struct */
    char pad3[8];
} cloneElfPrstatus;
G_STATIC_ASSERT(sizeof(cloneElfPrstatus) == 336);

/* QEMU's QEMUCPUState (target/i386/arch_dump.c), version 1 */
typedef struct {
    guint32 selector;
    guint32 limit;
    guint32 flags;
    guint32 pad;
    guint64 base;
} cloneQemuSegment;

typedef struct {
    guint32 version;
    guint32 size;
    guint64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    guint64 r8, r9, r10, r11, r12, r13, r14, r15;
    guint64 rip, rflags;
    cloneQemuSegment cs, ds, es, fs, gs, ss;
    cloneQemuSegment ldt, tr, gdt, idt;
    guint64 cr[5];
    guint64 kernelGsBase;
} cloneQemuCPUState;

static void
cloneNoteAppend(GByteArray *notes, const char *name, guint32 type, const void *desc, guint32 size)
{
    Elf64_Nhdr h = { .n_namesz = strlen(name) + 1, .n_descsz = size, .n_type = type };
    static const guint8 zero[8] = { 0 };

    g_byte_array_append(notes, (const guint8 *)&h, sizeof(h));
    g_byte_array_append(notes, (const guint8 *)name, h.n_namesz);
    g_byte_array_append(notes, zero, (4 - h.n_namesz % 4) % 4);
    g_byte_array_append(notes, desc, size);
    g_byte_array_append(notes, zero, (4 - size % 4) % 4);
}


static cloneQemuSegment
cloneQemuSeg(const cloneMemSegment *s)
{
    cloneQemuSegment q = { s->selector, s->limit, s->flags, 0, s->base };

    return q;
}


static GByteArray *
cloneElfNotes(GArray *cpus)
{
    GByteArray *notes = g_byte_array_new();

    for (guint i = 0; i < cpus->len; i++) {
        const cloneMemCPU *c = &g_array_index(cpus, cloneMemCPU, i);
        cloneElfPrstatus pr = { 0 };
        cloneQemuCPUState q = { 0 };
        guint64 regs[27] = {
            c->r15, c->r14, c->r13, c->r12, c->rbp, c->rbx, c->r11, c->r10,
            c->r9, c->r8, c->rax, c->rcx, c->rdx, c->rsi, c->rdi, c->rax /* orig_rax */,
            c->rip, c->cs.selector, c->rflags, c->rsp, c->ss.selector,
            c->fs.base, c->gs.base, c->ds.selector, c->es.selector,
            c->fs.selector, c->gs.selector,
        };

        pr.pid = i + 1;
        memcpy(pr.regs, regs, sizeof(regs));
        cloneNoteAppend(notes, "CORE", NT_PRSTATUS, &pr, sizeof(pr));

        q.version = 1;
        q.size = sizeof(q);
        q.rax = c->rax; q.rbx = c->rbx; q.rcx = c->rcx; q.rdx = c->rdx;
        q.rsi = c->rsi; q.rdi = c->rdi; q.rsp = c->rsp; q.rbp = c->rbp;
        q.r8 = c->r8; q.r9 = c->r9; q.r10 = c->r10; q.r11 = c->r11;
        q.r12 = c->r12; q.r13 = c->r13; q.r14 = c->r14; q.r15 = c->r15;
        q.rip = c->rip;
        q.rflags = c->rflags;
        q.cs = cloneQemuSeg(&c->cs); q.ds = cloneQemuSeg(&c->ds);
        q.es = cloneQemuSeg(&c->es); q.fs = cloneQemuSeg(&c->fs);
        q.gs = cloneQemuSeg(&c->gs); q.ss = cloneQemuSeg(&c->ss);
        q.ldt = cloneQemuSeg(&c->ldt); q.tr = cloneQemuSeg(&c->tr);
        q.gdt = cloneQemuSeg(&c->gdt); q.idt = cloneQemuSeg(&c->idt);
        memcpy(q.cr, c->cr, sizeof(q.cr));
        cloneNoteAppend(notes, "QEMU", 0, &q, sizeof(q));
    }
    return notes;
}


/* ---- writing ------------------------------------------------------------- */

static gboolean
cloneMemIsZero(const char *p, size_t len)
{
    return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}


static int
clonePwriteAll(int fd, const char *buf, size_t len, off_t off, const char *path)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            virCloneReportSystemError(n < 0 ? errno : EIO, _("cannot write to '%1$s'"), path);
            return -1;
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}


/* The guest kernel's VMCOREINFO note (crash and makedumpfile read the
 * kernel's layout and KASLR offset from it) if the page at @p starts with
 * it: Linux keeps it page-aligned (crash_core.c), "VMCOREINFO" then
 * "OSRELEASE=...".  QEMU's own dumps carry it only when the guest has a
 * vmcoreinfo device; a page of the guest's memory has it in any case. */
static void
cloneMemFindVmcoreinfo(const char *p, size_t len, GByteArray *vmcoreinfo)
{
    Elf64_Nhdr h;
    size_t total;

    if (vmcoreinfo->len > 0 || len < sizeof(h) + 12 + 10)
        return;
    memcpy(&h, p, sizeof(h));
    if (h.n_namesz != 11 || h.n_type != 0 || h.n_descsz == 0 ||
        memcmp(p + sizeof(h), "VMCOREINFO", 11) != 0 ||
        memcmp(p + sizeof(h) + 12, "OSRELEASE=", 10) != 0)
        return;
    total = sizeof(h) + 12 + ((h.n_descsz + 3) & ~3u);
    if (total > CLONE_VMCOREINFO_MAX || total > len)
        return;
    g_byte_array_append(vmcoreinfo, (const guint8 *)p, total);
}


/* Copies guest-physical [@gpa, @gpa + @size) to @fd at @off, leaving pages
 * of zeroes as holes; @vmcoreinfo (or NULL) gets the guest kernel's
 * VMCOREINFO note if a page holds it. */
static int
cloneMemDumpRange(cloneMemory *m, unsigned long long gpa, unsigned long long size,
                  int fd, off_t off, const char *path, GByteArray *vmcoreinfo)
{
    g_autofree char *buf = g_malloc(CLONE_MEM_CHUNK);
    unsigned long long done = 0;

    while (done < size) {
        size_t n = (size_t)MIN(CLONE_MEM_CHUNK, size - done);
        size_t p = 0;

        if (cloneMemoryRead(m, gpa + done, buf, n) < 0)
            return -1;
        for (size_t q = 0; vmcoreinfo && q < n; q += CLONE_MEM_PAGE)
            cloneMemFindVmcoreinfo(buf + q, MIN(CLONE_MEM_PAGE, n - q), vmcoreinfo);
        while (p < n) {
            size_t run = 0;
            size_t step;

            /* a run of pages with data, written at once */
            while (p + run < n) {
                step = MIN(CLONE_MEM_PAGE, n - p - run);
                if (cloneMemIsZero(buf + p + run, step))
                    break;
                run += step;
            }
            if (run > 0 && clonePwriteAll(fd, buf + p, run, off + (off_t)(done + p), path) < 0)
                return -1;
            p += run;
            if (p < n)
                p += MIN(CLONE_MEM_PAGE, n - p);
        }
        done += n;
    }
    return 0;
}


/* Where the pages of a snapshot go (consistent dumps). */
typedef struct {
    cloneMemory *m;
    int fd;
    const char *path;
    const Elf64_Phdr *load;     /* ELF: the PT_LOAD of each range; raw: NULL */
    GByteArray *vmcoreinfo;     /* ELF: the guest's VMCOREINFO, once found */
} cloneMemDumpSink;


static int
cloneMemDumpSnapPage(void *opaque, unsigned long long gpa, const void *data, size_t len)
{
    cloneMemDumpSink *sink = opaque;
    off_t off = (off_t)gpa;

    if (cloneMemIsZero(data, len))
        return 0;
    if (sink->load) {
        size_t i;

        for (i = 0; i < cloneMemoryRangeCount(sink->m); i++) {
            const cloneMemoryRange *r = cloneMemoryRangeGet(sink->m, i);

            if (gpa >= r->gpa && gpa - r->gpa < r->size)
                break;
        }
        if (i == cloneMemoryRangeCount(sink->m))
            return 0;
        off = (off_t)(sink->load[i].p_offset + (gpa - sink->load[i].p_paddr));
        cloneMemFindVmcoreinfo(data, len, sink->vmcoreinfo);
    }
    return clonePwriteAll(sink->fd, data, len, off, sink->path);
}


static int
cloneMemDumpRaw(virDomainPtr dom, cloneMemory *m, int fd, const char *path, gboolean consistent)
{
    unsigned long long end = 0;
    cloneMemDumpSink sink = { m, fd, path, NULL, NULL };

    for (size_t i = 0; i < cloneMemoryRangeCount(m); i++) {
        const cloneMemoryRange *r = cloneMemoryRangeGet(m, i);

        if (!consistent &&
            cloneMemDumpRange(m, r->gpa, r->size, fd, (off_t)r->gpa, path, NULL) < 0)
            return -1;
        end = MAX(end, r->gpa + r->size);
    }
    if (consistent && cloneMemorySnapshot(dom, m, cloneMemDumpSnapPage, &sink) < 0)
        return -1;
    if (ftruncate(fd, (off_t)end) < 0) {
        virCloneReportSystemError(errno, _("cannot set the size of '%1$s'"), path);
        return -1;
    }
    return 0;
}


static int
cloneMemDumpElf(virDomainPtr dom, cloneMemory *m, GArray *cpus, int fd, const char *path,
                gboolean consistent)
{
    size_t nranges = cloneMemoryRangeCount(m);
    size_t nphdr = nranges + 1;
    g_autoptr(GByteArray) notes = cloneElfNotes(cpus);
    g_autoptr(GByteArray) vmcoreinfo = g_byte_array_new();
    g_autofree Elf64_Phdr *ph = g_new0(Elf64_Phdr, nphdr);
    Elf64_Ehdr eh = { 0 };
    off_t notesOff = sizeof(eh) + nphdr * sizeof(Elf64_Phdr);
    /* room for the VMCOREINFO note, found while the memory is copied */
    off_t dataOff = (off_t)(((guint64)notesOff + notes->len + CLONE_VMCOREINFO_MAX +
                             CLONE_MEM_PAGE - 1) & ~(CLONE_MEM_PAGE - 1));

    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof(eh);
    eh.e_ehsize = sizeof(eh);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = nphdr;

    ph[0].p_type = PT_NOTE;
    ph[0].p_offset = notesOff;
    ph[0].p_filesz = ph[0].p_memsz = notes->len;
    for (size_t i = 0; i < nranges; i++) {
        const cloneMemoryRange *r = cloneMemoryRangeGet(m, i);
        Elf64_Phdr *p = &ph[i + 1];

        p->p_type = PT_LOAD;
        p->p_flags = PF_R | (r->readonly ? 0 : PF_W) | PF_X;
        p->p_offset = dataOff;
        p->p_paddr = r->gpa;
        p->p_vaddr = 0;
        p->p_filesz = p->p_memsz = r->size;
        if (!consistent &&
            cloneMemDumpRange(m, r->gpa, r->size, fd, dataOff, path, vmcoreinfo) < 0)
            return -1;
        dataOff += (off_t)r->size;
    }
    if (consistent) {
        cloneMemDumpSink sink = { m, fd, path, ph + 1, vmcoreinfo };

        if (cloneMemorySnapshot(dom, m, cloneMemDumpSnapPage, &sink) < 0)
            return -1;
    }
    g_byte_array_append(notes, vmcoreinfo->data, vmcoreinfo->len);
    ph[0].p_filesz = ph[0].p_memsz = notes->len;
    if (clonePwriteAll(fd, (const char *)&eh, sizeof(eh), 0, path) < 0 ||
        clonePwriteAll(fd, (const char *)ph, nphdr * sizeof(Elf64_Phdr), sizeof(eh), path) < 0 ||
        clonePwriteAll(fd, (const char *)notes->data, notes->len, notesOff, path) < 0)
        return -1;
    if (ftruncate(fd, dataOff) < 0) {
        virCloneReportSystemError(errno, _("cannot set the size of '%1$s'"), path);
        return -1;
    }
    return 0;
}


int
cloneMemoryDumpWrite(virDomainPtr dom, cloneMemory *m, GArray *cpus, int fd,
                     unsigned int format, const char *path, gboolean consistent)
{
    switch ((virDomainCloneMemoryDumpFormat)format) {
    case VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW:
        return cloneMemDumpRaw(dom, m, fd, path, consistent);
    case VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF:
        return cloneMemDumpElf(dom, m, cpus, fd, path, consistent);
    case VIR_DOMAIN_CLONE_MEMORY_DUMP_LAST:
        break;
    }
    virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, _("unknown memory dump format %1$u"), format);
    return -1;
}


/* ---- public API ---------------------------------------------------------- */

/* Refuses a domain that is not a clone (@isClone, from
 * cloneMetadataIsClone), unless FORCE says the caller reads one on
 * purpose. */
static int
cloneMemoryRefuseNonClone(virDomainPtr dom, int isClone, unsigned int flags)
{
    if (isClone < 0)
        return -1;
    if (!isClone && !(flags & VIR_DOMAIN_CLONE_MEMORY_FORCE)) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' is not a clone: its memory holds the secrets (keys, passwords) of a production guest; use VIR_DOMAIN_CLONE_MEMORY_FORCE (--force) to read it anyway"),
                            virDomainGetName(dom));
        return -1;
    }
    return 0;
}


/* Whether @dom is a clone, or FORCE says the caller reads a domain that is
 * not one on purpose. */
static int
cloneMemoryCheckClone(virDomainPtr dom, unsigned int flags)
{
    if (flags & VIR_DOMAIN_CLONE_MEMORY_FORCE)
        return 0;
    return cloneMemoryRefuseNonClone(dom, cloneMetadataIsClone(dom), flags);
}


/* The layouts peeks read through, one per domain (by UUID): reading one
 * takes three monitor commands and the domain's XML, more than a small
 * peek itself.  A layout is read again when its QEMU is gone (a domain
 * started again, or a PID taken by another process) or when a read
 * through it fails (memory hot-plug moved the ranges). */
typedef struct {
    cloneMemory *mem;
    gboolean isClone;           /* its metadata says so */
} cloneMemPeekLayout;

static GMutex cloneMemPeekLock;
static GHashTable *cloneMemPeekLayouts;     /* UUID -> cloneMemPeekLayout */


static void
cloneMemPeekLayoutFree(gpointer p)
{
    cloneMemPeekLayout *l = p;

    cloneMemoryFree(l->mem);
    g_free(l);
}


static gboolean
cloneMemPeekLayoutGone(gpointer key G_GNUC_UNUSED, gpointer value, gpointer opaque G_GNUC_UNUSED)
{
    return !cloneMemoryAlive(((cloneMemPeekLayout *)value)->mem);
}


static int
cloneMemoryPeekKept(virDomainPtr dom, unsigned long long start, size_t size, void *buffer,
                    unsigned int flags)
{
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cloneMemPeekLock);
    char uuid[VIR_UUID_STRING_BUFLEN];
    cloneMemPeekLayout *l;
    int isClone;

    if (virDomainGetUUIDString(dom, uuid) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the domain's UUID"));
        return -1;
    }
    if (!cloneMemPeekLayouts)
        cloneMemPeekLayouts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                    cloneMemPeekLayoutFree);
    l = g_hash_table_lookup(cloneMemPeekLayouts, uuid);
    if (l && cloneMemoryAlive(l->mem) && (l->isClone || (flags & VIR_DOMAIN_CLONE_MEMORY_FORCE))) {
        if (cloneMemoryRead(l->mem, start, buffer, size) == 0)
            return 0;
        virCloneResetLastError();
    }
    /* read again, once; and forget the domains that are gone */
    g_hash_table_remove(cloneMemPeekLayouts, uuid);
    g_hash_table_foreach_remove(cloneMemPeekLayouts, cloneMemPeekLayoutGone, NULL);
    isClone = cloneMetadataIsClone(dom);
    if (cloneMemoryRefuseNonClone(dom, isClone, flags) < 0)
        return -1;
    l = g_new0(cloneMemPeekLayout, 1);
    l->isClone = isClone == 1;
    if (!(l->mem = cloneMemoryOpen(dom))) {
        g_free(l);
        return -1;
    }
    g_hash_table_insert(cloneMemPeekLayouts, g_strdup(uuid), l);
    return cloneMemoryRead(l->mem, start, buffer, size);
}


/**
 * virDomainCloneMemoryPeek:
 * @clone: a running clone (or any running domain with
 *         VIR_DOMAIN_CLONE_MEMORY_FORCE)
 * @start: the guest-physical address of the first byte
 * @size: how many bytes
 * @buffer: where they go, @size bytes
 * @flags: VIR_DOMAIN_CLONE_MEMORY_FORCE, or 0
 *
 * Reads guest-physical memory of @clone while it runs, from its QEMU
 * process on this host (process_vm_readv), without pausing it: unlike
 * virDomainMemoryPeek() there is no limit on @size and no monitor round
 * trip per chunk.  The range must be RAM or ROM; a hole or device memory
 * (MMIO) is refused.  The bytes are as they were while they were copied: a
 * range the guest writes meanwhile may mix old and new contents.  Needs
 * the right to ptrace QEMU (root).
 *
 * A domain that is not a clone is refused unless @flags has
 * VIR_DOMAIN_CLONE_MEMORY_FORCE: its memory holds a production guest's
 * secrets, so reading it must be the caller's explicit choice.
 *
 * Returns 0, or -1 with the thread's last error set.
 *
 * Since: 0.7.0
 */
CLONE_EXPORT int
virDomainCloneMemoryPeek(virDomainPtr clone, unsigned long long start, size_t size,
                         void *buffer, unsigned int flags)
{
    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(VIR_DOMAIN_CLONE_MEMORY_FORCE, -1);
    cloneCheckNonNull(clone, -1);
    if (size > 0)
        cloneCheckNonNull(buffer, -1);
    return cloneMemoryPeekKept(clone, start, size, buffer, flags);
}


/* Makes @m read domain @dom's RAM at its template's instant: from the
 * template's RAM file, which the domain's QEMU maps privately. */
static int
cloneMemoryUseTemplateInstant(virDomainPtr dom, cloneMemory *m)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(cloneMetadata) meta = NULL;
    g_autoptr(cloneTemplateRec) rec = NULL;
    g_autofree char *runDir = NULL;
    g_autofree char *ram = NULL;
    int rc;

    if (!xml) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the domain's XML"));
        return -1;
    }
    meta = cloneMetadataParse(xml);
    if (!meta || !meta->template) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' was not started from a template: it has no template's instant to read"),
                            virDomainGetName(dom));
        return -1;
    }
    if (!(runDir = cloneRunDir(virDomainGetConnect(dom))) ||
        (rc = cloneTemplateRecLoad(runDir, meta->template, &rec)) < 0)
        return -1;
    if (rc == 0) {
        virCloneReportError(VIR_CLONE_ERR_NO_TEMPLATE,
                            _("the template '%1$s' of domain '%2$s' is gone"),
                            meta->template, virDomainGetName(dom));
        return -1;
    }
    ram = cloneTemplateRamPath(rec);
    return cloneMemoryReadFromFile(m, ram);
}


/**
 * virDomainCloneMemoryDump:
 * @clone: a running clone (or any running domain with
 *         VIR_DOMAIN_CLONE_MEMORY_FORCE)
 * @file: the dump, created or truncated, mode 0600
 * @format: a virDomainCloneMemoryDumpFormat
 * @flags: bitwise OR of VIR_DOMAIN_CLONE_MEMORY_FORCE, and
 *         VIR_DOMAIN_CLONE_MEMORY_CONSISTENT or
 *         VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT
 *
 * Writes all guest-physical RAM and ROM of @clone to @file, read as
 * virDomainCloneMemoryPeek() reads it: without pausing the guest, so the
 * pages are not all of one instant.  With VIR_DOMAIN_CLONE_MEMORY_CONSISTENT
 * they are: QEMU takes a background snapshot into a pipe the library
 * reads, the guest pausing once (device state saved, RAM write-protected)
 * as briefly as a live clone's source; a clone job on @clone meanwhile is
 * refused (VIR_CLONE_ERR_BUSY) and its migration settings are restored
 * afterwards.  Pages of zeroes are holes of a sparse file.  The ELF format
 * carries the vCPUs' registers, read just before the memory (or the
 * snapshot).  With VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT (raw format
 * only), for a domain started from a template: its RAM as it was at the
 * template's instant, read from the template's RAM file, with no pause
 * (the ROM, not in that file, is read live).  A domain that is not a
 * clone is refused unless @flags has VIR_DOMAIN_CLONE_MEMORY_FORCE.
 *
 * Returns 0, or -1 with the thread's last error set (and no @file left).
 *
 * Since: 0.7.0
 */
CLONE_EXPORT int
virDomainCloneMemoryDump(virDomainPtr clone, const char *file, unsigned int format,
                         unsigned int flags)
{
    g_autoptr(cloneMemory) m = NULL;
    g_autoptr(GArray) cpus = NULL;
    g_autofree char *regs = NULL;
    int fd;
    int ret;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(VIR_DOMAIN_CLONE_MEMORY_FORCE | VIR_DOMAIN_CLONE_MEMORY_CONSISTENT |
                    VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT, -1);
    cloneCheckNonNull(clone, -1);
    cloneCheckNonNull(file, -1);
    if (format >= VIR_DOMAIN_CLONE_MEMORY_DUMP_LAST) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, _("unknown memory dump format %1$u"), format);
        return -1;
    }
    if (flags & VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT &&
        (flags & VIR_DOMAIN_CLONE_MEMORY_CONSISTENT || format != VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW)) {
        /* the registers of that instant are in the template's saved
         * device state, which is not read */
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("the template's instant is dumped in the raw format only, and is consistent by itself"));
        return -1;
    }
    if (cloneMemoryCheckClone(clone, flags) < 0 ||
        !(m = cloneMemoryOpen(clone)))
        return -1;
    if (flags & VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT &&
        cloneMemoryUseTemplateInstant(clone, m) < 0)
        return -1;
    if (format == VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF &&
        (cloneMemoryHmp(clone, "info registers -a", &regs) < 0 ||
         !(cpus = cloneMemoryParseRegisters(regs))))
        return -1;
    if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        virCloneReportSystemError(errno, _("cannot create '%1$s'"), file);
        return -1;
    }
    ret = cloneMemoryDumpWrite(clone, m, cpus, fd, format, file,
                               (flags & VIR_DOMAIN_CLONE_MEMORY_CONSISTENT) != 0);
    if (close(fd) < 0 && ret == 0) {
        virCloneReportSystemError(errno, _("cannot write to '%1$s'"), file);
        ret = -1;
    }
    if (ret < 0)
        g_unlink(file);
    return ret;
}
