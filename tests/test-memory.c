/*
 * test-memory.c: guest memory reads and dumps on a real guest (embedded
 * driver)
 *
 * One guest with RAM above 4 GiB (q35 with 3 GiB: 2 GiB below the PCI
 * hole, 1 GiB from 4 GiB on) writes a known pattern into pages whose
 * guest-physical addresses it reads from /proc/self/pagemap, at least one
 * above 4 GiB ("mempattern", tests/guest/workload.c).  Its memory is
 * refused without VIR_DOMAIN_CLONE_MEMORY_FORCE (it is not a clone) and
 * read with it.  One live clone of it is then read: the pattern at its
 * addresses, the kernel's first code page as QMP pmemsave reads it, MMIO
 * refused; a raw and an ELF dump carry the pattern where the format says.
 * The clone is never paused by any of it (no SUSPENDED event, still
 * running).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <elf.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>

#include "libvirt-clone/libvirt-clone.h"
#include "clonetest-format.h"
#include "testutils-guest.h"

#define PAGE 4096u
#define FOUR_GIB 0x100000000ULL

static TgEnv *env;
static TgGuest *src;
static guint64 seed, kstart, kend;
static GArray *gpas;
static gint suspended;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)


static void
testFillExpected(guint64 gpa, guint64 *page)
{
    for (guint k = 0; k < PAGE / 8; k++)
        page[k] = clonetestMemWord(seed, gpa, k);
}


/* The pattern page at @gpa in @buf, or a failure naming the first word
 * that differs. */
static void
testCheckPage(const char *what, guint64 gpa, const guint64 *buf)
{
    guint64 want[PAGE / 8];

    testFillExpected(gpa, want);
    for (guint k = 0; k < PAGE / 8; k++) {
        if (buf[k] != want[k])
            g_error("%s: page 0x%" G_GINT64_MODIFIER "x word %u is 0x%" G_GINT64_MODIFIER
                    "x, not 0x%" G_GINT64_MODIFIER "x", what, gpa, k, buf[k], want[k]);
    }
}


static int
testLifecycleCb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom G_GNUC_UNUSED,
                int event, int detail G_GNUC_UNUSED, void *opaque G_GNUC_UNUSED)
{
    if (event == VIR_DOMAIN_EVENT_SUSPENDED)
        g_atomic_int_inc(&suspended);
    return 0;
}


static void
testPeekPattern(virDomainPtr dom, unsigned int flags)
{
    guint high = 0;

    for (guint i = 0; i < gpas->len; i++) {
        guint64 gpa = g_array_index(gpas, guint64, i);
        guint64 buf[PAGE / 8];

        if (virDomainCloneMemoryPeek(dom, gpa, PAGE, buf, flags) < 0)
            g_error("peek 0x%" G_GINT64_MODIFIER "x: %s", gpa, virCloneGetLastErrorMessage());
        testCheckPage("peek", gpa, buf);
        high += gpa >= FOUR_GIB;
    }
    g_assert_cmpuint(high, >=, 1);
}


/* The source is not a clone: refused without FORCE, with a reason. */
static void
testRefuseSource(void)
{
    char b[16];
    virCloneErrorPtr e;

    g_assert_cmpint(virDomainCloneMemoryPeek(tgGuestDomain(src), 0x100000, sizeof(b), b, 0), ==, -1);
    e = virCloneGetLastError();
    g_assert_nonnull(e);
    g_assert_cmpint(e->code, ==, VIR_CLONE_ERR_OPERATION_INVALID);
    g_assert_nonnull(strstr(e->message, "is not a clone"));
    g_assert_nonnull(strstr(e->message, "FORCE"));
    g_assert_cmpint(virDomainCloneMemoryDump(tgGuestDomain(src), "/nonexistent/x",
                                             VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW, 0), ==, -1);
    testPeekPattern(tgGuestDomain(src), VIR_DOMAIN_CLONE_MEMORY_FORCE);
}


/* The first 64 KiB of the kernel's code (not rewritten after boot) as
 * QMP pmemsave, QEMU's own reader, has them. */
static void
testKernelVsPmemsave(virDomainPtr clone, const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "pmemsave", NULL);
    g_autofree char *cmd = NULL;
    g_autofree char *reply = NULL;
    g_autofree char *qemu = NULL;
    g_autofree char *mine = g_malloc(64 * 1024);
    gsize len = 0;

    g_assert_cmpuint(kend, >, kstart + 64 * 1024);
    cmd = g_strdup_printf("{\"execute\":\"pmemsave\",\"arguments\":{\"val\":%" G_GUINT64_FORMAT
                          ",\"size\":65536,\"filename\":\"%s\"}}", kstart, path);
    g_assert_cmpint(virDomainQemuMonitorCommand(clone, cmd, &reply, 0), ==, 0);
    g_assert_nonnull(strstr(reply, "\"return\""));
    g_assert_true(g_file_get_contents(path, &qemu, &len, NULL));
    g_assert_cmpuint(len, ==, 64 * 1024);
    g_assert_cmpint(virDomainCloneMemoryPeek(clone, kstart, 64 * 1024, mine, 0), ==, 0);
    g_assert_cmpint(memcmp(mine, qemu, 64 * 1024), ==, 0);
    g_unlink(path);
}


static void
testDumpRaw(virDomainPtr clone, const char *path)
{
    g_autoptr(GMappedFile) mf = NULL;
    const char *data;
    struct stat st;

    if (virDomainCloneMemoryDump(clone, path, VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW, 0) < 0)
        g_error("raw dump: %s", virCloneGetLastErrorMessage());
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
    /* RAM ends at 5 GiB; the hole below 4 GiB and untouched pages are holes */
    g_assert_cmpuint((guint64)st.st_size, ==, FOUR_GIB + 1024ULL * 1024 * 1024);
    g_assert_cmpuint((guint64)st.st_blocks * 512, <, (guint64)st.st_size / 4);
    mf = g_mapped_file_new(path, FALSE, NULL);
    g_assert_nonnull(mf);
    data = g_mapped_file_get_contents(mf);
    for (guint i = 0; i < gpas->len; i++) {
        guint64 gpa = g_array_index(gpas, guint64, i);

        testCheckPage("raw dump", gpa, (const guint64 *)(data + gpa));
    }
    g_test_message("raw dump: %" G_GUINT64_FORMAT " MiB allocated",
                   (guint64)st.st_blocks * 512 >> 20);
}


static void
testDumpElf(virDomainPtr clone, const char *path)
{
    g_autoptr(GMappedFile) mf = NULL;
    const char *data;
    const Elf64_Ehdr *eh;
    const Elf64_Phdr *ph;
    guint found = 0, prstatus = 0, loads = 0;
    virDomainInfo info;

    if (virDomainCloneMemoryDump(clone, path, VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF, 0) < 0)
        g_error("ELF dump: %s", virCloneGetLastErrorMessage());
    mf = g_mapped_file_new(path, FALSE, NULL);
    g_assert_nonnull(mf);
    data = g_mapped_file_get_contents(mf);
    eh = (const Elf64_Ehdr *)data;
    g_assert_cmpint(memcmp(eh->e_ident, ELFMAG, SELFMAG), ==, 0);
    g_assert_cmpuint(eh->e_type, ==, ET_CORE);
    g_assert_cmpuint(eh->e_machine, ==, EM_X86_64);
    ph = (const Elf64_Phdr *)(data + eh->e_phoff);
    g_assert_cmpuint(ph[0].p_type, ==, PT_NOTE);
    for (guint64 off = 0; off < ph[0].p_filesz;) {
        const Elf64_Nhdr *n = (const Elf64_Nhdr *)(data + ph[0].p_offset + off);
        const char *name = (const char *)(n + 1);

        if (n->n_type == NT_PRSTATUS && g_str_equal(name, "CORE")) {
            const guint64 *regs = (const guint64 *)(name + 8 + 112);

            g_assert_cmpuint(n->n_descsz, ==, 336);
            g_assert_cmphex(regs[16], !=, 0);    /* rip */
            prstatus++;
        }
        off += sizeof(*n) + ((n->n_namesz + 3) & ~3u) + ((n->n_descsz + 3) & ~3u);
    }
    g_assert_cmpint(virDomainGetInfo(clone, &info), ==, 0);
    g_assert_cmpuint(prstatus, ==, info.nrVirtCpu);
    for (guint p = 1; p < eh->e_phnum; p++) {
        g_assert_cmpuint(ph[p].p_type, ==, PT_LOAD);
        loads++;
        for (guint i = 0; i < gpas->len; i++) {
            guint64 gpa = g_array_index(gpas, guint64, i);

            if (gpa >= ph[p].p_paddr && gpa + PAGE <= ph[p].p_paddr + ph[p].p_filesz) {
                testCheckPage("ELF dump", gpa,
                              (const guint64 *)(data + ph[p].p_offset + (gpa - ph[p].p_paddr)));
                found++;
            }
        }
    }
    g_assert_cmpuint(found, ==, gpas->len);
    g_test_message("ELF dump: %u PT_LOAD, %u NT_PRSTATUS", loads, prstatus);
}


static void
testClone(void)
{
    g_autoptr(virDomain) clone = virDomainCloneLive(tgGuestDomain(src), NULL, 0);
    g_autofree char *dir = g_build_filename(tgEnvRoot(env), "memtest", NULL);
    g_autofree char *raw = g_build_filename(dir, "dump.raw", NULL);
    g_autofree char *elf = g_build_filename(dir, "dump.elf", NULL);
    char b[16];
    virCloneErrorPtr e;
    int cb, state = -1;

    if (!clone)
        g_error("clone: %s", virCloneGetLastErrorMessage());
    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    cb = virConnectDomainEventRegisterAny(tgEnvConn(env), clone, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          VIR_DOMAIN_EVENT_CALLBACK(testLifecycleCb), NULL, NULL);
    g_assert_cmpint(cb, >=, 0);

    testPeekPattern(clone, 0);
    testKernelVsPmemsave(clone, dir);
    /* the IOAPIC: device memory */
    g_assert_cmpint(virDomainCloneMemoryPeek(clone, 0xfec00000ULL, sizeof(b), b, 0), ==, -1);
    e = virCloneGetLastError();
    g_assert_cmpint(e->code, ==, VIR_CLONE_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(e->message, "is not RAM"));
    /* past the end of RAM */
    g_assert_cmpint(virDomainCloneMemoryPeek(clone, FOUR_GIB + 1024ULL * 1024 * 1024 - 8, 16, b, 0), ==, -1);
    testDumpRaw(clone, raw);
    testDumpElf(clone, elf);

    g_assert_cmpint(virDomainGetState(clone, &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    virConnectDomainEventDeregisterAny(tgEnvConn(env), cb);
    g_assert_cmpint(g_atomic_int_get(&suspended), ==, 0);

    if (g_getenv("TG_KEEP")) {
        g_test_message("dumps kept: %s %s", raw, elf);
    } else {
        g_unlink(raw);
        g_unlink(elf);
        g_rmdir(dir);
    }
    virDomainDestroy(clone);
    virDomainUndefine(clone);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    /* more than 2816 MiB: q35 puts RAM above 4 GiB */
    TgGuestOpts opts = { .name_prefix = "tmem", .memory_mib = 3072, .buffer_mib = 16,
                         .mode = TG_MODE_IDLE };
    int ret;

    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, tgQuietErrors);
    virCloneSetLogFunc(tgLibLogToTest, NULL);
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    src = tgGuestStartOrDie(env, &opts);
    if (tgGuestMemPattern(src, &seed, &kstart, &kend, &gpas, &err) < 0)
        g_error("mempattern: %s", err->message);
    for (guint i = 0; i < gpas->len; i++)
        g_test_message("pattern page at 0x%" G_GINT64_MODIFIER "x", g_array_index(gpas, guint64, i));
    g_test_add_func("/memory/refuse-source", testRefuseSource);
    g_test_add_func("/memory/clone", testClone);
    ret = g_test_run();
    g_array_unref(gpas);
    tgGuestFree(src);
    tgEnvFree(env);
    return ret;
}
