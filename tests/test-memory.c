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
 * running).  A consistent dump then pauses it once, no longer than the
 * live clone paused its source, and holds the busy workload's buffer as
 * of one instant (guestcheck) and the pattern.
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
#include "guestcheck.h"
#include "testutils-guest.h"

/* where scripts/install-deps.sh unpacks the guest kernel's vmlinux */
#define TEST_KERNEL_DBG_DIR "/var/lib/libvirt-clone/kernel-dbg"

#define PAGE 4096u
#define FOUR_GIB 0x100000000ULL

static TgEnv *env;
static TgGuest *src;
static guint64 seed, kstart, kend;
static GArray *gpas;
static gint suspended;
static gint64 pausedSinceUs, pausedUs;
static GMutex pauseLock;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(GuestRamReport, guestRamReportClear)


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
    gint64 now = g_get_monotonic_time();

    g_mutex_lock(&pauseLock);
    if (event == VIR_DOMAIN_EVENT_SUSPENDED) {
        g_atomic_int_inc(&suspended);
        pausedSinceUs = now;
    } else if (event == VIR_DOMAIN_EVENT_RESUMED && pausedSinceUs) {
        pausedUs += now - pausedSinceUs;
        pausedSinceUs = 0;
    }
    g_mutex_unlock(&pauseLock);
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


/* crash(8) with the guest kernel's vmlinux (its debug package, unpacked by
 * scripts/install-deps.sh) opens the dump as a kernel: its release, the
 * kernel log, the task on the vCPU and a backtrace. */
static void
testCrashSession(const char *crash, const char *path, const char *release)
{
    g_autofree char *name = g_strdup_printf("vmlinux-%s", release);
    g_autofree char *vmlinux = g_build_filename(TEST_KERNEL_DBG_DIR, name, NULL);
    g_autofree char *cmds = g_build_filename(g_get_tmp_dir(), "lvc-crash-XXXXXX", NULL);
    g_autofree char *out = NULL;
    g_autofree char *errOut = NULL;
    g_autoptr(GError) err = NULL;
    int fd;
    int status = -1;

    if (!g_file_test(vmlinux, G_FILE_TEST_EXISTS)) {
        g_test_message("no %s: crash not run on the dump with the kernel's symbols", vmlinux);
        return;
    }
    fd = g_mkstemp(cmds);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(g_file_set_contents(cmds, "sys\nlog\nps\nbt\nexit\n", -1, NULL));
    {
        const char *argv[] = { crash, "-s", "--no_scroll", "-i", cmds, vmlinux, path, NULL };

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                   &out, &errOut, &status, &err));
    }
    g_unlink(cmds);
    g_test_message("crash: %s", out);
    if (errOut && *errOut)
        g_test_message("crash (stderr): %s", errOut);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_nonnull(strstr(out, release));
    /* the kernel log, from its ring buffer */
    g_assert_nonnull(strstr(out, "Linux version"));
    /* the task on the vCPU (whichever ran: the workload, a kworker), marked
     * active (crash 8.0.2 finds only the active tasks of this 6.1 kernel,
     * "not found in PID hash": the same with a dump of QEMU's own
     * dump-guest-memory, so it is crash's, not ours) */
    g_assert_true(g_regex_match_simple("^> +[0-9]+ +-?[0-9]+ +0 +[0-9a-f]{16} +[A-Z]{2} ",
                                       out, G_REGEX_MULTILINE, 0));
    /* a backtrace of the task on the vCPU */
    g_assert_true(g_regex_match_simple("^ ?#0 ", out, G_REGEX_MULTILINE, 0));
}


/* What crash reads without the guest's vmlinux (its release, from the
 * VMCOREINFO note) and the registers as gdb reads them. */
static void
testDumpTools(const char *path, guint ncpus)
{
    g_autofree char *crash = g_find_program_in_path("crash");
    g_autofree char *gdb = g_find_program_in_path("gdb");
    g_autofree char *out = NULL;
    g_autofree char *regs = NULL;
    g_autoptr(GError) err = NULL;
    int status = -1;

    if (crash) {
        const char *argv[] = { crash, "--osrelease", path, NULL };

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                                   NULL, NULL, &out, NULL, &status, &err));
        g_strstrip(out);
        g_test_message("crash --osrelease: %s", out);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        g_assert_true(g_regex_match_simple("^[0-9]+\\.[0-9]+", out, 0, 0));
        testCrashSession(crash, path, out);
    } else {
        g_test_message("no crash: not opened with crash");
    }
    if (gdb) {
        const char *argv[] = { gdb, "-batch", "-nx", "-ex", "info threads", "-ex", "info registers rip cs",
                               "-c", path, NULL };
        g_autofree char *rip = NULL;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                                   NULL, NULL, &regs, NULL, &status, &err));
        g_test_message("gdb: %s", regs);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        /* the kernel's or user space's 64-bit code segment */
        g_assert_true(g_regex_match_simple("^rip +0x[0-9a-f]{6,16} ", regs, G_REGEX_MULTILINE, 0));
        g_assert_true(g_regex_match_simple("^cs +0x(10|33) ", regs, G_REGEX_MULTILINE, 0));
        for (guint i = 1; i <= ncpus; i++) {
            g_autofree char *lwp = g_strdup_printf("LWP %u", i);

            g_assert_nonnull(strstr(regs, lwp));
        }
    } else {
        g_test_message("no gdb: not opened with gdb");
    }
}


static void
testDumpElf(virDomainPtr clone, const char *path, unsigned int flags)
{
    g_autoptr(GMappedFile) mf = NULL;
    const char *data;
    const Elf64_Ehdr *eh;
    const Elf64_Phdr *ph;
    guint found = 0, prstatus = 0, loads = 0;
    gboolean vmcoreinfo = FALSE;
    virDomainInfo info;

    if (virDomainCloneMemoryDump(clone, path, VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF, flags) < 0)
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
        } else if (n->n_type == 0 && g_str_equal(name, "VMCOREINFO")) {
            g_assert_true(g_str_has_prefix(name + 12, "OSRELEASE="));
            vmcoreinfo = TRUE;
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
    /* Debian's kernel has one (CONFIG_CRASH_CORE) */
    g_assert_true(vmcoreinfo);
    g_test_message("ELF dump: %u PT_LOAD, %u NT_PRSTATUS", loads, prstatus);
    testDumpTools(path, info.nrVirtCpu);
}


/* All of RAM at one instant: the pattern where it belongs, one pause of
 * the clone, no longer than the live clone's own (with room for TCG). */
static void
testDumpConsistent(virDomainPtr clone, const char *path, guint64 clonePauseUs)
{
    g_autoptr(GMappedFile) mf = NULL;
    g_auto(GuestRamReport) rep = { 0 };
    g_autoptr(GError) err = NULL;
    g_autofree char *summary = NULL;
    const char *data;
    gint64 us;
    int state = -1;

    g_atomic_int_set(&suspended, 0);
    pausedUs = 0;
    if (virDomainCloneMemoryDump(clone, path, VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW,
                                 VIR_DOMAIN_CLONE_MEMORY_CONSISTENT) < 0)
        g_error("consistent dump: %s", virCloneGetLastErrorMessage());
    mf = g_mapped_file_new(path, FALSE, NULL);
    g_assert_nonnull(mf);
    data = g_mapped_file_get_contents(mf);
    for (guint i = 0; i < gpas->len; i++) {
        guint64 gpa = g_array_index(gpas, guint64, i);

        testCheckPage("consistent dump", gpa, (const guint64 *)(data + gpa));
    }
    /* the BIOS, one RAM block mapped twice (below 1 MiB, below 4 GiB) */
    {
        static const guint64 bios[] = { 0xfff00, 0xffffff00ULL };

        for (guint i = 0; i < G_N_ELEMENTS(bios); i++) {
            char rom[256];

            g_assert_cmpint(virDomainCloneMemoryPeek(clone, bios[i], sizeof(rom), rom, 0), ==, 0);
            g_assert_cmpint(memcmp(rom, data + bios[i], sizeof(rom)), ==, 0);
        }
    }
    /* the busy workload's buffer, rewritten page after page all along, is
     * of one instant (tests/guest/guestcheck.c); at TCG's pace a live read
     * of its 16 MiB passes too, so this checks where the snapshot's pages
     * land more than the instant */
    if (guestCheckRamDump(path, &rep, &err) < 0)
        g_error("guestcheck: %s", err->message);
    summary = guestRamReportFormat(&rep);
    g_test_message("consistent dump: %s", summary);
    g_assert_true(rep.ok);
    /* the RESUMED event may follow the call */
    for (guint i = 0; i < 50; i++) {
        int s = -1;

        if (virDomainGetState(clone, &s, NULL, 0) == 0 && s == VIR_DOMAIN_RUNNING && !pausedSinceUs)
            break;
        g_usleep(20 * 1000);
    }
    g_mutex_lock(&pauseLock);
    us = pausedUs;
    g_mutex_unlock(&pauseLock);
    g_test_message("consistent dump: %d pause(s), %" G_GINT64_FORMAT " us; the live clone's pause %"
                   G_GUINT64_FORMAT " us", g_atomic_int_get(&suspended), us, clonePauseUs);
    g_assert_cmpint(g_atomic_int_get(&suspended), <=, 1);
    g_assert_cmpint(us, <=, MAX((gint64)clonePauseUs * 2, 200 * 1000));
    g_assert_cmpint(virDomainGetState(clone, &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    /* the migration settings are back: no background snapshot */
    {
        g_autofree char *caps = NULL;
        g_autoptr(GRegex) re = g_regex_new("\\{[^}]*\"background-snapshot\"[^}]*\\}", 0, 0, NULL);
        g_autoptr(GMatchInfo) mi = NULL;
        g_autofree char *cap = NULL;

        g_assert_cmpint(virDomainQemuMonitorCommand(clone, "{\"execute\":\"query-migrate-capabilities\"}",
                                                    &caps, 0), ==, 0);
        g_assert_true(g_regex_match(re, caps, 0, &mi));
        cap = g_match_info_fetch(mi, 0);
        g_assert_nonnull(strstr(cap, "false"));
    }
    /* not for a peek */
    g_assert_cmpint(virDomainCloneMemoryPeek(clone, 0x100000, 8, (char[8]){ 0 },
                                             VIR_DOMAIN_CLONE_MEMORY_CONSISTENT), ==, -1);
}


static void
testClone(void)
{
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    unsigned long long clonePauseUs = 0;
    g_autoptr(virDomain) clone = virDomainCloneLiveFull(tgGuestDomain(src), NULL, NULL, NULL,
                                                        &stats, &nstats, 0);
    g_autofree char *dir = g_build_filename(tgEnvRoot(env), "memtest", NULL);
    g_autofree char *raw = g_build_filename(dir, "dump.raw", NULL);
    g_autofree char *elf = g_build_filename(dir, "dump.elf", NULL);
    char b[16];
    virCloneErrorPtr e;
    int cb, state = -1;

    if (!clone)
        g_error("clone: %s", virCloneGetLastErrorMessage());
    g_assert_cmpint(virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE,
                                            &clonePauseUs), ==, 1);
    virTypedParamsFree(stats, nstats);
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
    testDumpElf(clone, elf, 0);

    g_assert_cmpint(virDomainGetState(clone, &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(g_atomic_int_get(&suspended), ==, 0);
    g_unlink(raw);
    testDumpConsistent(clone, raw, clonePauseUs);
    g_unlink(elf);
    testDumpElf(clone, elf, VIR_DOMAIN_CLONE_MEMORY_CONSISTENT);
    virConnectDomainEventDeregisterAny(tgEnvConn(env), cb);

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
    TgGuestOpts opts = { .name_prefix = "tmem", .memory_mib = 3072, .buffer_mib = 16 };
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
