/*
 * test-template.c: templates on real guests (embedded driver)
 *
 * One busy test guest is the source of the cases.  A template of it is made
 * (the source paused once, one image added to its chains), domains start
 * from it and are checked while paused: their RAM is a consistent
 * point-in-time image (tests/guest/guestcheck.c) and all of them are of the
 * same instant; their disks hold exactly the records committed at that
 * instant.  They run, and the template's RAM file does not change; a domain
 * put back with virDomainCloneReset() is at the instant again.  Refusals
 * leave nothing behind.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "libvirt-clone/libvirt-clone.h"
#include "testutils-guest.h"
#include "testutils-net.h"
#include "guestcheck.h"

#define BOOT_MS 180000

static TgEnv *env;
static TgGuest *src;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(GuestRamReport, guestRamReportClear)

static int
testDomainState(virDomainPtr dom)
{
    int state = -1;

    g_assert_cmpint(virDomainGetState(dom, &state, NULL, 0), ==, 0);
    return state;
}


static char *
testDiskTop(virDomainPtr dom)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    GMatchInfo *m = NULL;
    g_autoptr(GRegex) re = g_regex_new("<disk[^>]*>.*?<source file='([^']+)'", G_REGEX_DOTALL, 0, NULL);
    char *top = NULL;

    if (g_regex_match(re, xml, 0, &m))
        top = g_match_info_fetch(m, 1);
    g_match_info_free(m);
    g_assert_nonnull(top);
    return top;
}


static char *
testFileHash(const char *path)
{
    g_autofree char *data = NULL;
    gsize len;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &data, &len, &err))
        g_error("%s", err->message);
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guint8 *)data, len);
}


/* The directory of a template's files, as its information says. */
static char *
testTemplateDir(virCloneTemplatePtr tmpl)
{
    virTypedParameterPtr info = NULL;
    int ninfo = 0;
    const char *dir = NULL;
    char *ret;

    if (virCloneTemplateGetInfo(tmpl, &info, &ninfo, 0) < 0)
        g_error("template info: %s", virCloneGetLastErrorMessage());
    g_assert_cmpint(virTypedParamsGetString(info, ninfo, VIR_CLONE_TEMPLATE_INFO_DIRECTORY, &dir), ==, 1);
    ret = g_strdup(dir);
    virTypedParamsFree(info, ninfo);
    return ret;
}


static gboolean daemonMode;

static void
testRestartDaemon(void)
{
    g_autoptr(GError) err = NULL;

    g_test_message("restarting libvirtd");
    if (tgDaemonRestart(&err) < 0 || tgEnvReconnect(env, &err) < 0 ||
        tgGuestReattach(src, &err) < 0)
        g_error("restarting libvirtd: %s", err->message);
}


/* A paused domain's RAM and disk, checked: the report of its RAM. */
static void
testCheckInstant(virDomainPtr dom, GuestRamReport *ram)
{
    g_autofree char *dump = g_build_filename(tgEnvRoot(env), "tmpl-ram.dump", NULL);
    g_autofree char *raw = g_build_filename(tgEnvRoot(env), "tmpl-disk.raw", NULL);
    g_autofree char *top = testDiskTop(dom);
    g_autoptr(GError) err = NULL;
    GuestDiskReport disk = { 0 };

    g_assert_cmpint(testDomainState(dom), ==, VIR_DOMAIN_PAUSED);
    if (tgDumpRam(dom, dump, 0, &err) < 0 || guestCheckRamDump(dump, ram, &err) < 0)
        g_error("RAM of %s: %s", virDomainGetName(dom), err->message);
    g_unlink(dump);
    g_test_message("%s: RAM %s, counter %" G_GUINT64_FORMAT " prefix %" G_GUINT64_FORMAT,
                   virDomainGetName(dom), ram->ok ? "consistent" : ram->reason,
                   ram->counter_n, ram->prefix);
    g_assert_true(ram->ok);
    if (tgDiskToRaw(top, raw, &err) < 0 || guestCheckDiskImage(raw, &disk, &err) < 0)
        g_error("disk of %s: %s", virDomainGetName(dom), err->message);
    g_unlink(raw);
    g_assert_false(disk.valid_beyond_gap);
    if (ram->record_inflight == ram->records_committed)
        g_assert_cmpuint(disk.count, <=, ram->records_committed + 1);
    else
        g_assert_cmpuint(disk.count, ==, ram->records_committed);
    g_assert_cmpuint(disk.count, >=, ram->records_committed);
}


static void
testSameInstant(const GuestRamReport *a, const GuestRamReport *b)
{
    g_assert_cmpuint(a->nonce, ==, b->nonce);
    g_assert_cmpuint(a->counter_n, ==, b->counter_n);
    g_assert_cmpuint(a->prefix, ==, b->prefix);
    g_assert_cmpuint(a->records_committed, ==, b->records_committed);
}



static guint64
testPrivateKiB(virDomainPtr dom)
{
    pid_t pid = tgFindQemu(virDomainGetName(dom));
    g_autofree char *path = g_strdup_printf("/proc/%d/smaps_rollup", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    guint64 kib = 0;

    g_assert_cmpint(pid, >, 0);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "Private_Clean:") || g_str_has_prefix(lines[i], "Private_Dirty:"))
            kib += g_ascii_strtoull(strchr(lines[i], ':') + 1, NULL, 10);
    }
    return kib;
}


static void
testExpectError(int code, const char *part)
{
    virCloneErrorPtr err = virCloneGetLastError();

    g_assert_nonnull(err);
    g_test_message("error: %s", err->message);
    g_assert_cmpint(err->code, ==, code);
    if (part && !strstr(err->message, part))
        g_error("'%s' is not in '%s'", part, err->message);
}


/* ---- the cases -------------------------------------------------------------- */

/* A running domain of the template, dumped at the template's instant
 * (VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT) while it runs: the RAM of
 * @instant, not what the domain wrote since, which a live dump shows. */
static void
testDumpInstant(virDomainPtr dom, const GuestRamReport *instant)
{
    g_autofree char *dump = g_build_filename(tgEnvRoot(env), "tmpl-instant.raw", NULL);
    g_auto(GuestRamReport) ram = { 0 };
    g_auto(GuestRamReport) now = { 0 };
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(testDomainState(dom), ==, VIR_DOMAIN_RUNNING);
    if (virDomainCloneMemoryDump(dom, dump, VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW,
                                 VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT) < 0)
        g_error("dump at the template's instant: %s", virCloneGetLastErrorMessage());
    g_assert_cmpint(testDomainState(dom), ==, VIR_DOMAIN_RUNNING);
    if (guestCheckRamDump(dump, &ram, &err) < 0)
        g_error("the dump at the template's instant: %s", err->message);
    g_assert_true(ram.ok);
    testSameInstant(instant, &ram);
    /* the same domain now: it ran on */
    if (virDomainCloneMemoryDump(dom, dump, VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW, 0) < 0 ||
        guestCheckRamDump(dump, &now, &err) < 0)
        g_error("live dump: %s", err ? err->message : virCloneGetLastErrorMessage());
    g_test_message("%s: counter %" G_GUINT64_FORMAT " at the template's instant, %"
                   G_GUINT64_FORMAT " now", virDomainGetName(dom), ram.counter_n, now.counter_n);
    g_assert_cmpuint(now.counter_n, >, ram.counter_n);
    g_unlink(dump);
    /* not for a domain that no template started, nor in ELF */
    g_assert_cmpint(virDomainCloneMemoryDump(tgGuestDomain(src), dump,
                                             VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW,
                                             VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT |
                                             VIR_DOMAIN_CLONE_MEMORY_FORCE), ==, -1);
    testExpectError(VIR_CLONE_ERR_OPERATION_INVALID, "was not started from a template");
    g_assert_cmpint(virDomainCloneMemoryDump(dom, dump, VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF,
                                             VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT), ==, -1);
    testExpectError(VIR_CLONE_ERR_INVALID_ARG, "raw format only");
    g_assert_false(g_file_test(dump, G_FILE_TEST_EXISTS));
}


static void
testTemplateClones(void)
{
    g_autofree char *topBefore = testDiskTop(tgGuestDomain(src));
    g_autofree char *topAfter = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *ramFile = NULL;
    g_autofree char *hash = NULL;
    g_autofree char *hashAfter = NULL;
    virCloneTemplatePtr tmpl = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    unsigned long long pause = 0;
    virDomainPtr doms[3] = { NULL };
    g_auto(GuestRamReport) first = { 0 };
    guint ndoms = tgNumDomains(env);
    unsigned int nclones = 0;

    tmpl = virDomainCloneTemplateCreateFull(tgGuestDomain(src), "t-main", NULL, NULL, NULL,
                                            &stats, &nstats, 0);
    if (!tmpl)
        g_error("template: %s", virCloneGetLastErrorMessage());
    virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, &pause);
    g_test_message("template made, source paused %.1f ms", pause / 1000.0);
    virTypedParamsFree(stats, nstats);
    g_assert_cmpint(testDomainState(tgGuestDomain(src)), ==, VIR_DOMAIN_RUNNING);
    dir = testTemplateDir(tmpl);
    ramFile = g_build_filename(dir, "ram", NULL);
    if (daemonMode) {
        /* the template outlives libvirtd */
        testRestartDaemon();
        virCloneTemplateFree(tmpl);
        if (!(tmpl = virCloneTemplateLookupByName(tgEnvConn(env), "t-main", 0)))
            g_error("lookup after the restart: %s", virCloneGetLastErrorMessage());
    }
    /* the template's QEMU is gone; its RAM and state are kept */
    g_assert_cmpuint(tgNumDomains(env), ==, ndoms);
    g_assert_true(g_file_test(ramFile, G_FILE_TEST_IS_REGULAR));
    topAfter = testDiskTop(tgGuestDomain(src));
    g_assert_cmpstr(topAfter, !=, topBefore);
    hash = testFileHash(ramFile);

    for (guint i = 0; i < G_N_ELEMENTS(doms); i++) {
        g_auto(GuestRamReport) ram = { 0 };
        const char *tname = NULL;

        stats = NULL;
        nstats = 0;
        doms[i] = virCloneTemplateCreateDomainFull(tmpl, NULL, NULL, NULL, &stats, &nstats,
                                                   VIR_CLONE_TEMPLATE_CLONE_PAUSED);
        if (!doms[i])
            g_error("domain from template: %s", virCloneGetLastErrorMessage());
        virTypedParamsGetString(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE, &tname);
        g_assert_cmpstr(tname, ==, "t-main");
        virTypedParamsFree(stats, nstats);
        testCheckInstant(doms[i], &ram);
        if (i == 0) {
            first = ram;
            memset(&ram, 0, sizeof(ram));
        } else {
            testSameInstant(&first, &ram);
        }
    }
    /* the source did not move again: one image per template */
    {
        g_autofree char *top = testDiskTop(tgGuestDomain(src));

        g_assert_cmpstr(top, ==, topAfter);
    }

    /* two of them run, on their own pages: what they write reaches neither
     * the third, still at the instant, nor the template's file */
    for (guint i = 1; i < G_N_ELEMENTS(doms); i++)
        g_assert_cmpint(virDomainResume(doms[i]), ==, 0);
    g_usleep(5 * G_USEC_PER_SEC);
    for (guint i = 0; i < G_N_ELEMENTS(doms); i++)
        g_test_message("%s: %" G_GUINT64_FORMAT " KiB private", virDomainGetName(doms[i]),
                       testPrivateKiB(doms[i]));
    {
        g_auto(GuestRamReport) ram = { 0 };

        testCheckInstant(doms[0], &ram);
        testSameInstant(&first, &ram);
    }
    testDumpInstant(doms[1], &first);
    hashAfter = testFileHash(ramFile);
    g_assert_cmpstr(hash, ==, hashAfter);

    /* in use: not deleted */
    {
        virTypedParameterPtr info = NULL;
        int ninfo = 0;

        g_assert_cmpint(virCloneTemplateGetInfo(tmpl, &info, &ninfo, 0), ==, 0);
        g_assert_cmpint(virTypedParamsGetUInt(info, ninfo, VIR_CLONE_TEMPLATE_INFO_CLONES, &nclones), ==, 1);
        g_assert_cmpuint(nclones, ==, G_N_ELEMENTS(doms));
        virTypedParamsFree(info, ninfo);
    }
    g_assert_cmpint(virCloneTemplateDelete(tmpl, 0), ==, -1);
    testExpectError(VIR_CLONE_ERR_OPERATION_INVALID, "is used by 3 domains");
    g_assert_true(g_file_test(ramFile, G_FILE_TEST_IS_REGULAR));

    /* reset: back at the instant */
    {
        g_auto(GuestRamReport) ram = { 0 };
        char before[VIR_UUID_STRING_BUFLEN];
        char after[VIR_UUID_STRING_BUFLEN];
        g_autofree char *name = g_strdup(virDomainGetName(doms[1]));
        gint64 t0 = g_get_monotonic_time();
        virDomainPtr again;

        virDomainGetUUIDString(doms[1], before);
        if (virDomainCloneReset(doms[1], VIR_CLONE_TEMPLATE_CLONE_PAUSED) < 0)
            g_error("reset: %s", virCloneGetLastErrorMessage());
        g_test_message("reset in %.0f ms", (g_get_monotonic_time() - t0) / 1000.0);
        again = virDomainLookupByName(tgEnvConn(env), name);
        g_assert_nonnull(again);
        virDomainGetUUIDString(again, after);
        g_assert_cmpstr(before, ==, after);
        testCheckInstant(again, &ram);
        testSameInstant(&first, &ram);
        virDomainFree(again);
    }

    for (guint i = 0; i < G_N_ELEMENTS(doms); i++) {
        g_assert_cmpint(virDomainDestroy(doms[i]), ==, 0);
        virDomainFree(doms[i]);
    }
    g_assert_cmpint(virCloneTemplateDelete(tmpl, 0), ==, 0);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    g_assert_null(virCloneTemplateLookupByName(tgEnvConn(env), "t-main", 0));
    testExpectError(VIR_CLONE_ERR_NO_TEMPLATE, "t-main");
    virCloneTemplateFree(tmpl);
}


/* A template directory on a tmpfs too small for the RAM: refused before the
 * source is touched, nothing left. */
static void
testRefuseFull(void)
{
    g_autofree char *mnt = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *top = testDiskTop(tgGuestDomain(src));
    g_autofree char *topAfter = NULL;
    guint ndoms = tgNumDomains(env);

    if (getuid() != 0) {
        g_test_skip("mounting a tmpfs needs root");
        return;
    }
    mnt = g_dir_make_tmp("tg-tmpfs-XXXXXX", NULL);
    g_assert_nonnull(mnt);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=32m") < 0)
        g_error("mount: %s", g_strerror(errno));
    policy = g_strdup_printf("<clonepolicy><template directory='%s'/></clonepolicy>", mnt);
    g_assert_null(virDomainCloneTemplateCreate(tgGuestDomain(src), "t-full", policy, 0));
    testExpectError(VIR_CLONE_ERR_SYSTEM, "not enough space");
    g_assert_cmpuint(tgNumDomains(env), ==, ndoms);
    g_assert_null(virCloneTemplateLookupByName(tgEnvConn(env), "t-full", 0));
    testExpectError(VIR_CLONE_ERR_NO_TEMPLATE, "t-full");
    /* nothing was written there */
    {
        g_autoptr(GDir) d = g_dir_open(mnt, 0, NULL);

        g_assert_nonnull(d);
        g_assert_null(g_dir_read_name(d));
    }
    topAfter = testDiskTop(tgGuestDomain(src));
    g_assert_cmpstr(top, ==, topAfter);
    g_assert_cmpint(testDomainState(tgGuestDomain(src)), ==, VIR_DOMAIN_RUNNING);
    g_assert_no_errno(umount(mnt));
    g_assert_no_errno(g_rmdir(mnt));
}


/* Made for its domains: gone with the last of them (reap). */
/* Pre-copy (the first case's busy guest falls back to the background
 * strategy): its incoming side leaves return-path on in the template's QEMU,
 * which the save must not use.  Not with QEMU < 9, where pre-copy under TCG
 * is refused (docs/compat.md). */
static const char *
testPrecopyPolicy(void)
{
    unsigned long version = 0;

    g_assert_cmpint(virConnectGetVersion(tgEnvConn(env), &version), ==, 0);
    if (version < 9000000)
        return NULL;
    return "<clonepolicy><memory strategy='precopy' downtime-limit='5000'/></clonepolicy>";
}


static void
testAutoDelete(void)
{
    virCloneTemplatePtr tmpl = virDomainCloneTemplateCreate(tgGuestDomain(src), "t-auto",
                                                            testPrecopyPolicy(),
                                                            VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE);
    g_autofree char *dir = NULL;
    virDomainPtr a;
    virDomainPtr b;

    if (!tmpl)
        g_error("template: %s", virCloneGetLastErrorMessage());
    dir = testTemplateDir(tmpl);
    /* not yet used: it stays */
    g_assert_cmpint(virConnectCloneLiveReap(tgEnvConn(env), 0), >=, 0);
    g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
    a = virCloneTemplateCreateDomain(tmpl, NULL, 0);
    /* a sandbox, as a live clone's: its NIC on an isolated port of the
     * sandbox bridge (the library verified the bridge before the link went
     * up, failing closed) */
    b = virCloneTemplateCreateDomain(tmpl, "<clonepolicy><network mode='sandbox'/></clonepolicy>", 0);
    if (!a || !b)
        g_error("domain from template: %s", virCloneGetLastErrorMessage());
    {
        g_autofree char *xml = virDomainGetXMLDesc(b, 0);
        g_autofree char *bridge = tgDomainXMLMatch(b, "<source bridge='([^']+)'");

        g_assert_cmpstr(bridge, ==, "lvcsandbox0");
        g_assert_nonnull(strstr(xml, "<port isolated='yes'/>"));
        g_assert_cmpint(testDomainState(b), ==, VIR_DOMAIN_RUNNING);
    }
    g_assert_cmpint(virDomainDestroy(a), ==, 0);
    g_assert_cmpint(virConnectCloneLiveReap(tgEnvConn(env), 0), >=, 0);
    g_assert_true(g_file_test(dir, G_FILE_TEST_IS_DIR));
    g_assert_cmpint(virDomainDestroy(b), ==, 0);
    if (daemonMode) {
        /* the hook has the guardian delete it, without any command */
        for (guint i = 0; i < 100 && g_file_test(dir, G_FILE_TEST_EXISTS); i++)
            g_usleep(G_USEC_PER_SEC / 10);
        g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    }
    g_assert_cmpint(virConnectCloneLiveReap(tgEnvConn(env), 0), >=, 0);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    g_assert_cmpint(virConnectListAllCloneTemplates(tgEnvConn(env), NULL, 0), ==, 0);
    virDomainFree(a);
    virDomainFree(b);
    virCloneTemplateFree(tmpl);
}


/* The process that makes a template dies once the template's RAM and state
 * are kept, before its QEMU goes: the guardian rolls it all back (daemon
 * only: under the embedded driver the next open of the root does, as
 * tests/test-faults.c shows for live clones).  Needs the test-only fault
 * points (-Dtest_faults=true) and the installed CLI. */
static void
testKillWhileSaving(void)
{
    const char *cli = g_getenv("LIBVIRT_CLONE_CLI");
    g_autofree char *top = testDiskTop(tgGuestDomain(src));
    g_autofree char *topAfter = NULL;
    g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "LIBVIRT_CLONE_FAULT",
                                          "template:saved:kill", TRUE);
    const char *argv[] = { cli, "-c", "qemu:///system", "template-create", tgGuestName(src),
                           "--name", "t-kill", NULL };
    g_autoptr(GError) err = NULL;
    int status = 0;
    gboolean gone = FALSE;

    if (!daemonMode || !cli || g_strcmp0(g_getenv("TG_FAULTS"), "1") != 0) {
        g_test_skip("needs libvirtd, the installed CLI and -Dtest_faults=true");
        return;
    }
    g_assert_true(g_spawn_sync(NULL, (char **)argv, envp, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &err));
    g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* the guardian's rollback: no template, no template QEMU, the source runs */
    for (guint i = 0; i < 100 && !gone; i++) {
        virDomainPtr tq = virDomainLookupByName(tgEnvConn(env), "libvirt-clone-template-t-kill");
        virCloneTemplatePtr t = virCloneTemplateLookupByName(tgEnvConn(env), "t-kill", 0);

        gone = !tq && !t;
        if (tq)
            virDomainFree(tq);
        if (t)
            virCloneTemplateFree(t);
        if (!gone)
            g_usleep(G_USEC_PER_SEC / 10);
    }
    g_assert_true(gone);
    g_assert_cmpint(testDomainState(tgGuestDomain(src)), ==, VIR_DOMAIN_RUNNING);
    /* the fork had happened: the source stays on its new top, one more */
    topAfter = testDiskTop(tgGuestDomain(src));
    g_assert_cmpstr(topAfter, !=, top);
    {
        g_autofree char *dir = g_build_filename("/run/libvirt-clone/templates", "t-kill", NULL);
        g_autofree char *rec = g_build_filename("/run/libvirt-clone/templates", "t-kill.json", NULL);

        g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(rec, G_FILE_TEST_EXISTS));
    }
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    TgGuestOpts opts = { .name_prefix = "tsrc", .memory_mib = 256, .buffer_mib = 64,
                         .with_genid = TRUE };
    g_autoptr(TnBridge) br = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    daemonMode = g_getenv("TG_URI") != NULL;
    if (daemonMode && !g_getenv("LVC_DAEMON_CTL")) {
        g_printerr("TG_URI without LVC_DAEMON_CTL: run me with tests/daemon/run-in-daemon.sh\n");
        return 1;
    }
    virSetErrorFunc(NULL, tgQuietErrors);
    virCloneSetLogFunc(tgLibLogToTest, NULL);
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    g_test_add_func("/template/clones-and-reset", testTemplateClones);
    g_test_add_func("/template/refuse-full", testRefuseFull);
    g_test_add_func("/template/auto-delete", testAutoDelete);
    g_test_add_func("/template/kill-while-saving", testKillWhileSaving);
    /* the source's NIC on a bridge of its own (a sandbox cannot take
     * QEMU's user-mode network) */
    tnReapStale("lvctp");
    br = tnBridgeNew("lvctp", "52:54:00:7e:00:01", "10.79.0.1/24");
    opts.nic_bridge = tnBridgeName(br);
    src = tgGuestStartOrDie(env, &opts);
    ret = g_test_run();
    tgGuestFree(src);
    tgEnvFree(env);
    return ret;
}
