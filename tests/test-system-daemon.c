/*
 * test-system-daemon.c: live clones under the system daemon, end to end
 *
 * Run through tests/daemon/run-in-daemon.sh (tests/meson.build does): a
 * private libvirtd with the stock qemu.conf, so QEMU runs as libvirt-qemu
 * and swtpm as tss, with DAC labels and dynamic ownership; libvirt's
 * `default` NAT network (virbr0, dnsmasq); this build installed by `meson
 * install`, its hook in /etc/libvirt/hooks/qemu.d and its library the one
 * this program loads.  The test guest (tests/guest/) sits on the default
 * network and takes its address from dnsmasq.  Through the library and
 * qemu:///system:
 *   - plain: a live clone with the default policy runs on overlays that
 *     QEMU as libvirt-qemu owns; destroyed, the hook removes its overlays,
 *     and a second clone of the same name works;
 *   - sandbox: a clone of the network-attached guest on the isolated
 *     sandbox bridge, which the hook deletes on release;
 *   - tpm: a vTPM clone: the state copy belongs to tss, swtpm runs as tss,
 *     the clone reads the source's PCRs;
 *   - auto-fallback: auto on a guest that speeds up once the copy runs
 *     (pre-copy abandoned, the first clone destroyed, its overlays removed
 *     by the hook's release) must still make the clone with the background
 *     strategy;
 *   - persistent: a defined clone survives destroy with its overlay, boots
 *     again, and is undefined.
 * After each scenario nothing may be left: domains, overlays and other
 * files of the clone, run directories, NVRAM and vTPM state, network
 * interfaces.  Only libvirt's own log of each domain (/var/log/libvirt/qemu,
 * /var/log/swtpm), which libvirt keeps for every domain, is allowed, and
 * reported.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "testutils-guest.h"

#define BOOT_MS 120000
#define STAT_MS 20000
#define DHCP_MS 60000
#define SANDBOX_BRIDGE "lvcsandbox0"
#define NETWORK_PREFIX "192.168.122."

static TgEnv *env;
static uid_t qemuUid;
static uid_t tssUid;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

/* ---- small helpers ---------------------------------------------------------- */

static TgGuest *
testAdopt(virDomainPtr dom)
{
    g_autoptr(GError) err = NULL;
    TgGuest *g = tgGuestAdopt(env, dom, &err);

    if (!g)
        g_test_message("cannot adopt %s: %s", virDomainGetName(dom), err->message);
    g_assert_nonnull(g);
    return g;
}


static gboolean
testWaitStat(TgGuest *g)
{
    g_autoptr(GError) err = NULL;
    TgStat st;

    if (tgSerialWaitStat(g, STAT_MS, &st, &err) < 0) {
        g_test_message("%s: no stat line: %s", tgGuestName(g), err->message);
        return FALSE;
    }
    return TRUE;
}


/* The domain runs, and its workload prints its stat lines. */
static void
testRunning(TgGuest *g)
{
    int state = VIR_DOMAIN_NOSTATE;

    g_assert_cmpint(virDomainGetState(tgGuestDomain(g), &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    g_assert_true(testWaitStat(g));
    g_assert_true(testWaitStat(g));
}


static uid_t
testUidOf(const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (!pw)
        g_error("no user '%s'", user);
    return pw->pw_uid;
}


/* The real user ID of process @pid, or -1. */
static gint64
testProcessUid(const char *pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/status", g_strstrip((char *)pid));
    g_autofree char *text = NULL;
    const char *uid;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(uid = strstr(text, "\nUid:")))
        return -1;
    return g_ascii_strtoll(uid + 5, NULL, 10);
}


/* The user the QEMU process of @dom runs as (its pid file under
 * /run/libvirt/qemu), or -1. */
static gint64
testQemuUid(virDomainPtr dom)
{
    g_autofree char *path = g_strdup_printf("/run/libvirt/qemu/%s.pid", virDomainGetName(dom));
    g_autofree char *pid = NULL;

    if (!g_file_get_contents(path, &pid, NULL, NULL))
        return -1;
    return testProcessUid(pid);
}


static gint64
testFileUid(const char *path)
{
    GStatBuf st;

    if (g_stat(path, &st) < 0) {
        g_test_message("cannot stat '%s': %s", path, g_strerror(errno));
        return -1;
    }
    return st.st_uid;
}


/* The top image of vda, and its backing file, from the live XML (the
 * guest has one disk, the first <source file> of its XML). */
static char *
testDiskTop(virDomainPtr dom)
{
    return tgDomainXMLMatch(dom, "<disk type='file' device='disk'>\\s*<driver[^>]*>\\s*"
                                 "<source file='([^']+)'");
}


static char *
testDiskBacking(virDomainPtr dom)
{
    return tgDomainXMLMatch(dom, "<backingStore type='file'[^>]*>\\s*<format[^>]*>\\s*"
                                 "<source file='([^']+)'");
}


/* The clone's overlay and the source's new top belong to the user QEMU
 * runs as (DAC labels), the clone's overlay stands on the source's former
 * top, and both QEMUs run as that user. */
static void
testOwnership(virDomainPtr src, virDomainPtr clone, const char *srcTopBefore)
{
    g_autofree char *cloneTop = testDiskTop(clone);
    g_autofree char *cloneBacking = testDiskBacking(clone);
    g_autofree char *srcTop = testDiskTop(src);

    g_test_message("source's top %s -> %s; clone's overlay %s on %s",
                   srcTopBefore, srcTop, cloneTop, cloneBacking);
    g_assert_nonnull(cloneTop);
    g_assert_nonnull(srcTop);
    g_assert_cmpstr(cloneBacking, ==, srcTopBefore);
    g_assert_cmpstr(srcTop, !=, srcTopBefore);
    g_assert_cmpint(testQemuUid(src), ==, qemuUid);
    g_assert_cmpint(testQemuUid(clone), ==, qemuUid);
    if (cloneTop)
        g_assert_cmpint(testFileUid(cloneTop), ==, qemuUid);
    if (srcTop)
        g_assert_cmpint(testFileUid(srcTop), ==, qemuUid);
}


static virDomainPtr
testCloneFull(TgGuest *src, const char *policy, unsigned int flags, const char *expectStrategy,
              virDomainCloneLiveProgressCallback cb, void *opaque, guint *fallbacksOut)
{
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    const char *strategy = NULL;
    unsigned long long total = 0;
    unsigned long long pause = 0;
    unsigned long long fallbacks = 0;
    virDomainPtr clone;

    clone = virDomainCloneLiveFull(tgGuestDomain(src), policy, cb, opaque, &stats, &nstats,
                                   flags);
    if (!clone) {
        g_test_message("clone of %s with %s failed: %s", tgGuestName(src),
                       policy ? policy : "the default policy", virCloneGetLastErrorMessage());
        return NULL;
    }
    virTypedParamsGetString(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY, &strategy);
    virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL, &total);
    virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, &pause);
    virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS, &fallbacks);
    g_test_message("clone %s: %s, %llu fallbacks, %.2f s, source paused %.1f ms",
                   virDomainGetName(clone), strategy, fallbacks, total / 1e6, pause / 1e3);
    if (expectStrategy)
        g_assert_cmpstr(strategy, ==, expectStrategy);
    if (fallbacksOut)
        *fallbacksOut = (guint)fallbacks;
    virTypedParamsFree(stats, nstats);
    return clone;
}


static virDomainPtr
testClone(TgGuest *src, const char *policy, unsigned int flags, const char *expectStrategy)
{
    return testCloneFull(src, policy, flags, expectStrategy, NULL, NULL, NULL);
}


/* ---- what is left ---------------------------------------------------------------- */

/* Where a clone leaves traces.  The root holds the guests' images and
 * serial logs, and the clones' overlays and serial logs beside them. */
typedef struct {
    const char *dirs[12];
    GHashTable *before[12];
    GHashTable *domains;
    GPtrArray *logs;     /* the clones' own logs (<log file>) */
    GPtrArray *kept;     /* files the scenario expects to stay */
} TestTraces;


static GHashTable *
testDomainNames(void)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(tgEnvConn(env), &doms, 0);

    for (int i = 0; i < n; i++) {
        g_hash_table_add(set, g_strdup(virDomainGetName(doms[i])));
        virDomainFree(doms[i]);
    }
    free(doms);
    return set;
}


static void
testTracesTake(TestTraces *t)
{
    const char *dirs[] = {
        tgEnvRoot(env),
        "/run/libvirt-clone",
        "/run/libvirt-clone/jobs",
        "/run/libvirt/qemu",
        "/run/libvirt/qemu/swtpm",
        "/var/lib/libvirt/qemu",
        "/var/lib/libvirt/qemu/nvram",
        "/var/lib/libvirt/swtpm",
        "/var/log/libvirt/qemu",
        "/var/log/swtpm/libvirt/qemu",
        "/sys/class/net",
        NULL,
    };

    memset(t, 0, sizeof(*t));
    for (guint i = 0; dirs[i]; i++) {
        t->dirs[i] = dirs[i];
        t->before[i] = tgListDir(dirs[i]);
    }
    t->domains = testDomainNames();
    t->logs = g_ptr_array_new_with_free_func(g_free);
    t->kept = g_ptr_array_new_with_free_func(g_free);
}


/* The log files the clone's QEMU writes (serial and console <log file>):
 * like libvirt's own log of a domain they outlive it, and a clone of the
 * same name reuses them. */
static void
testTracesAddLogs(TestTraces *t, virDomainPtr clone)
{
    g_autofree char *xml = virDomainGetXMLDesc(clone, 0);
    g_autoptr(GRegex) re = g_regex_new("<log file='([^']+)'", 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;

    if (!xml)
        return;
    g_regex_match(re, xml, 0, &m);
    for (; g_match_info_matches(m); g_match_info_next(m, NULL)) {
        g_autofree char *path = g_match_info_fetch(m, 1);

        if (!g_ptr_array_find_with_equal_func(t->logs, path, g_str_equal, NULL))
            g_ptr_array_add(t->logs, g_steal_pointer(&path));
    }
}


static void
testTracesKeep(TestTraces *t, const char *path)
{
    g_ptr_array_add(t->kept, g_strdup(path));
}


static gboolean
testIn(GPtrArray *paths, const char *path)
{
    return g_ptr_array_find_with_equal_func(paths, path, g_str_equal, NULL);
}


/* The files of the domains that were there before (the sources): their
 * new tops appeared in the root with the clone, and are theirs. */
static GHashTable *
testFilesInUse(TestTraces *t)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GRegex) re = g_regex_new("<source file='([^']+)'", 0, 0, NULL);
    GHashTableIter it;
    gpointer name;

    g_hash_table_iter_init(&it, t->domains);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        virDomainPtr dom = virDomainLookupByName(tgEnvConn(env), name);
        g_autofree char *xml = dom ? virDomainGetXMLDesc(dom, 0) : NULL;
        g_autoptr(GMatchInfo) m = NULL;

        if (dom)
            virDomainFree(dom);
        if (!xml)
            continue;
        g_regex_match(re, xml, 0, &m);
        for (; g_match_info_matches(m); g_match_info_next(m, NULL))
            g_hash_table_add(set, g_match_info_fetch(m, 1));
    }
    virResetLastError();
    return set;
}


/* libvirt keeps the log of every domain it ran (QEMU's and swtpm's),
 * whoever made the domain: not a leftover of the library. */
static gboolean
testLibvirtLog(const char *dir)
{
    return g_str_equal(dir, "/var/log/libvirt/qemu") ||
           g_str_equal(dir, "/var/log/swtpm/libvirt/qemu");
}


/* Everything that appeared since testTracesTake(), as test messages;
 * returns how many are leftovers: not a source's disk image, not a log
 * (libvirt's or the clone's own), not a file the scenario keeps.  The
 * library's job directory (/run/libvirt-clone/jobs) may stay, empty. */
static guint
testTracesCheck(TestTraces *t, const char *scenario)
{
    g_autoptr(GHashTable) domains = testDomainNames();
    g_autoptr(GHashTable) inUse = testFilesInUse(t);
    GHashTableIter it;
    gpointer name;
    guint left = 0;

    g_hash_table_iter_init(&it, domains);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        if (!g_hash_table_contains(t->domains, name)) {
            g_test_message("%s: left behind: domain %s", scenario, (char *)name);
            left++;
        }
    }
    for (guint i = 0; t->dirs[i]; i++) {
        g_autoptr(GHashTable) now = tgListDir(t->dirs[i]);

        g_hash_table_iter_init(&it, now);
        while (g_hash_table_iter_next(&it, &name, NULL)) {
            g_autofree char *path = g_build_filename(t->dirs[i], name, NULL);

            if (g_hash_table_contains(t->before[i], name))
                continue;
            if (g_hash_table_contains(inUse, path)) {
                g_test_message("%s: new, a source's disk image: %s", scenario, path);
            } else if (testIn(t->kept, path)) {
                g_test_message("%s: left, as expected: %s", scenario, path);
            } else if (testIn(t->logs, path)) {
                g_test_message("%s: left, the clone's own log: %s", scenario, path);
            } else if (g_str_equal(path, "/run/libvirt-clone/jobs") &&
                       g_file_test(path, G_FILE_TEST_IS_DIR)) {
                g_test_message("%s: new, the library's job directory: %s", scenario, path);
            } else if (g_str_equal(path, "/run/libvirt-clone/copy-rate.json") &&
                       g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
                /* what this host's pre-copies reached, for the automatic
                 * strategy: host state, like the job directory */
                g_test_message("%s: new, this host's copy rate: %s", scenario, path);
            } else if (testLibvirtLog(t->dirs[i])) {
                g_test_message("%s: left, libvirt's own log of the domain: %s", scenario, path);
            } else {
                g_test_message("%s: left behind: %s", scenario, path);
                left++;
            }
        }
    }
    return left;
}


static void
testTracesClear(TestTraces *t)
{
    for (guint i = 0; t->dirs[i]; i++)
        g_clear_pointer(&t->before[i], g_hash_table_unref);
    g_clear_pointer(&t->domains, g_hash_table_unref);
    g_clear_pointer(&t->logs, g_ptr_array_unref);
    g_clear_pointer(&t->kept, g_ptr_array_unref);
}


/* A leftover of a failed scenario must not fail the next one: remove
 * the clone by name, and everything new in the root. */
static void
testTracesRemove(TestTraces *t, const char *cloneName)
{
    virDomainPtr dom = virDomainLookupByName(tgEnvConn(env), cloneName);
    g_autoptr(GHashTable) now = tgListDir(t->dirs[0]);
    g_autoptr(GHashTable) inUse = NULL;
    GHashTableIter it;
    gpointer name;

    if (dom) {
        virDomainDestroy(dom);
        virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_TPM);
        virDomainFree(dom);
    }
    virResetLastError();
    inUse = testFilesInUse(t);
    g_hash_table_iter_init(&it, now);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        g_autofree char *path = g_build_filename(t->dirs[0], name, NULL);

        if (!g_hash_table_contains(t->before[0], name) && !g_hash_table_contains(inUse, path))
            g_unlink(path);
    }
}


/* ---- the guests ------------------------------------------------------------------- */

/* The source's eth0 gets its address from the default network's dnsmasq. */
static void
testWaitLease(gconstpointer data)
{
    TgGuest *g = (TgGuest *)data;
    gint64 end = g_get_monotonic_time() + DHCP_MS * 1000;

    for (;;) {
        g_autoptr(GError) err = NULL;
        TgIdentity id;

        if (tgGuestIdentity(g, &id, &err) < 0)
            g_test_message("identity of %s: %s", tgGuestName(g), err->message);
        else if (strstr(id.ipv4, NETWORK_PREFIX)) {
            g_test_message("%s: eth0 %s %s (from the default network's dnsmasq)",
                           tgGuestName(g), id.mac, id.ipv4);
            return;
        }
        if (g_get_monotonic_time() > end) {
            g_test_fail_printf("%s got no address on the default network", tgGuestName(g));
            return;
        }
        g_usleep(G_USEC_PER_SEC);
    }
}


static TgGuest *
testSource(const char *prefix, TgMode mode, gboolean tpm)
{
    TgGuestOpts opts = {
        .name_prefix = prefix,
        .mode = mode,
        .memory_mib = 256,
        .buffer_mib = 64,
        .nic_network = g_getenv("LVC_DAEMON_NETWORK"),
        .dhcp = TRUE,
        .with_tpm = tpm,
        .boot_timeout_ms = BOOT_MS,
    };
    TgGuest *g = tgGuestStartOrDie(env, &opts);

    g_assert_cmpint(testQemuUid(tgGuestDomain(g)), ==, qemuUid);
    return g;
}


/* ---- (a) plain: default policy, destroy, the same name again ------------------------- */

static void
testPlainOnce(TestTraces *t, TgGuest *src, const char *policy, const char *name)
{
    g_autofree char *topBefore = testDiskTop(tgGuestDomain(src));
    g_autoptr(virDomain) cdom = testClone(src, policy, 0, NULL);
    g_autoptr(TgGuest) clone = NULL;
    g_autofree char *overlay = NULL;
    g_autofree char *nic = NULL;

    if (!cdom) {
        g_test_fail();
        return;
    }
    g_assert_cmpstr(virDomainGetName(cdom), ==, name);
    testOwnership(tgGuestDomain(src), cdom, topBefore);
    nic = tgDomainXMLMatch(cdom, "<interface type='network'>\\s*<mac[^>]*>\\s*"
                                 "<source network='([^']+)'");
    g_assert_cmpstr(nic, ==, "default");
    clone = testAdopt(cdom);
    testRunning(clone);
    testRunning(src);
    overlay = testDiskTop(cdom);
    testTracesAddLogs(t, cdom);

    /* virsh destroy: libvirt runs the hook's release, which removes the
     * ephemeral clone's overlay */
    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);
    g_assert_false(g_file_test(overlay, G_FILE_TEST_EXISTS));
    g_assert_null(virDomainLookupByName(tgEnvConn(env), name));
    virResetLastError();
}


static void
testPlain(gconstpointer data)
{
    TgGuest *src = (TgGuest *)data;
    g_autofree char *name = g_strdup_printf("%s-again", tgGuestName(src));
    g_autofree char *policy = g_strdup_printf("<clonepolicy><name>%s</name></clonepolicy>", name);
    g_autofree char *first = g_strdup_printf("%s-clone1", tgGuestName(src));
    TestTraces t;

    /* the default policy: SOURCE-clone1 */
    testTracesTake(&t);
    testPlainOnce(&t, src, NULL, first);
    g_assert_cmpuint(testTracesCheck(&t, "plain, default policy"), ==, 0);
    testTracesRemove(&t, first);
    testTracesClear(&t);

    /* an exact name (virt-clone-live --name), destroyed and cloned again:
     * what the first left (its logs) must not stand in the way */
    testTracesTake(&t);
    testPlainOnce(&t, src, policy, name);
    g_assert_cmpuint(testTracesCheck(&t, "plain, first of the name"), ==, 0);
    testPlainOnce(&t, src, policy, name);
    g_assert_cmpuint(testTracesCheck(&t, "plain, second of the name"), ==, 0);
    testTracesRemove(&t, name);
    testTracesClear(&t);
}


/* ---- (b) sandbox of a guest on the default network ---------------------------------- */

static gboolean
testLinkExists(const char *dev)
{
    g_autofree char *path = g_build_filename("/sys/class/net", dev, NULL);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}


/* ip -d link show DEV, or "" */
static char *
testLinkDetails(const char *dev)
{
    const char *argv[] = { "ip", "-d", "link", "show", "dev", dev, NULL };
    g_autofree char *out = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL))
        return g_strdup("");
    return g_steal_pointer(&out);
}


static void
testSandbox(gconstpointer data)
{
    TgGuest *src = (TgGuest *)data;
    g_autofree char *name = g_strdup_printf("%s-sandbox", tgGuestName(src));
    g_autofree char *policy = g_strdup_printf("<clonepolicy><name>%s</name>"
                                              "<network mode='sandbox'/></clonepolicy>", name);
    g_autofree char *topBefore = testDiskTop(tgGuestDomain(src));
    g_autoptr(virDomain) cdom = NULL;
    g_autoptr(TgGuest) clone = NULL;
    g_autofree char *bridge = NULL;
    g_autofree char *tap = NULL;
    g_autofree char *details = NULL;
    g_autofree char *brDetails = NULL;
    TestTraces t;

    testTracesTake(&t);
    g_assert_false(testLinkExists(SANDBOX_BRIDGE));
    if (!(cdom = testClone(src, policy, 0, NULL))) {
        g_test_fail();
        goto check;
    }
    testOwnership(tgGuestDomain(src), cdom, topBefore);
    bridge = tgDomainXMLMatch(cdom, "<interface type='bridge'>\\s*<mac[^>]*>\\s*"
                                    "<source bridge='([^']+)'");
    tap = tgDomainXMLMatch(cdom, "<interface type='bridge'>[\\s\\S]*?<target dev='([^']+)'");
    g_test_message("sandbox NIC: bridge %s, tap %s", bridge, tap);
    g_assert_cmpstr(bridge, ==, SANDBOX_BRIDGE);
    g_assert_null(tgDomainXMLMatch(cdom, "<source network='([^']+)'"));
    g_assert_nonnull(tap);
    /* the tap is an isolated port; the bridge has no address, no uplink */
    details = testLinkDetails(tap ? tap : "none");
    g_assert_nonnull(strstr(details, "master " SANDBOX_BRIDGE));
    g_assert_nonnull(strstr(details, "isolated on"));
    brDetails = testLinkDetails(SANDBOX_BRIDGE);
    g_assert_nonnull(strstr(brDetails, "addrgenmode none"));
    clone = testAdopt(cdom);
    testRunning(clone);
    testTracesAddLogs(&t, cdom);
    testRunning(src);

    /* release: the hook deletes the bridge nobody uses any more */
    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);
    g_assert_false(testLinkExists(SANDBOX_BRIDGE));

 check:
    g_assert_cmpuint(testTracesCheck(&t, "sandbox"), ==, 0);
    testTracesRemove(&t, name);
    testTracesClear(&t);
}


/* ---- (c) vTPM --------------------------------------------------------------------- */

/* The user of the swtpm process whose command line names @uuid, or -1. */
static gint64
testSwtpmUid(const char *uuid)
{
    g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
    const char *ent;

    while (proc && (ent = g_dir_read_name(proc))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", ent);
        g_autofree char *cmd = NULL;
        gsize len = 0;

        if (!g_ascii_isdigit(*ent) || !g_file_get_contents(path, &cmd, &len, NULL) ||
            !g_str_has_suffix(cmd, "swtpm") || !memmem(cmd, len, uuid, strlen(uuid)))
            continue;
        return testProcessUid(ent);
    }
    return -1;
}


static void
testTpm(void)
{
    g_autoptr(TgGuest) src = NULL;
    g_autoptr(virDomain) cdom = NULL;
    g_autoptr(TgGuest) clone = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) srcPcrs = NULL;
    g_auto(GStrv) clonePcrs = NULL;
    g_autofree char *name = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *state = NULL;
    g_autofree char *permall = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];
    TestTraces t;

    src = testSource("sysd-tpm", TG_MODE_IDLE, TRUE);
    name = g_strdup_printf("%s-tpm", tgGuestName(src));
    policy = g_strdup_printf("<clonepolicy><name>%s</name><tpm mode='clone'/></clonepolicy>", name);
    g_assert_cmpint(tgGuestTpmPcrs(src, &srcPcrs, &err), ==, 0);
    testTracesTake(&t);
    if (!(cdom = testClone(src, policy, 0, NULL))) {
        g_test_fail();
        goto check;
    }
    g_assert_cmpint(virDomainGetUUIDString(cdom, uuid), ==, 0);
    state = g_build_filename("/var/lib/libvirt/swtpm", uuid, NULL);
    permall = g_build_filename(state, "tpm2", "tpm2-00.permall", NULL);
    g_test_message("clone's vTPM state %s, swtpm as uid %" G_GINT64_FORMAT, permall,
                   testSwtpmUid(uuid));
    /* the copy made by the library as root belongs to swtpm's user */
    g_assert_cmpint(testFileUid(permall), ==, tssUid);
    g_assert_cmpint(testSwtpmUid(uuid), ==, tssUid);
    clone = testAdopt(cdom);
    testRunning(clone);
    testTracesAddLogs(&t, cdom);
    if (tgGuestTpmPcrs(clone, &clonePcrs, &err) < 0)
        g_test_fail_printf("the clone's PCRs: %s", err->message);
    else
        g_assert_cmpstrv(clonePcrs, srcPcrs);
    testRunning(src);

    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);
    g_assert_false(g_file_test(state, G_FILE_TEST_EXISTS));

 check:
    g_assert_cmpuint(testTracesCheck(&t, "vtpm"), ==, 0);
    testTracesRemove(&t, name);
    testTracesClear(&t);
}


/* ---- (d) auto on a guest that changes pace, with the hook: the fallback ------------- */

/* As /clone-live/auto-rule: the source is idle when auto samples its dirty
 * rate and chooses pre-copy, then rewrites its buffer as fast as it can
 * once RAM is copied (64 MiB/s): pre-copy is given up after its predicted
 * passes, auto destroys its first clone (the hook's release removes that
 * ephemeral clone's overlay) and makes the clone with the background
 * strategy. */
static void
testAutoFallback(void)
{
    g_autoptr(TgGuest) src = testSource("sysd-pace", TG_MODE_IDLE, FALSE);
    g_autofree char *name = g_strdup_printf("%s-auto", tgGuestName(src));
    g_autofree char *policy = g_strdup_printf(
        "<clonepolicy><name>%s</name>"
        "<memory strategy='auto' bandwidth='64'/></clonepolicy>", name);
    g_autofree char *topBefore = testDiskTop(tgGuestDomain(src));
    g_autoptr(virDomain) cdom = NULL;
    g_autoptr(TgGuest) clone = NULL;
    TgPace pace = { .src = src };
    guint fallbacks = 0;
    TestTraces t;

    testTracesTake(&t);
    if (!(cdom = testCloneFull(src, policy, 0, "background", tgPaceSpeedUpCb, &pace, &fallbacks))) {
        g_test_fail();
        goto check;
    }
    g_assert_true(pace.sped);
    g_assert_cmpuint(fallbacks, ==, 1);
    testOwnership(tgGuestDomain(src), cdom, topBefore);
    clone = testAdopt(cdom);
    testRunning(clone);
    testTracesAddLogs(&t, cdom);
    testRunning(src);
    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);

 check:
    g_assert_cmpuint(testTracesCheck(&t, "auto fallback"), ==, 0);
    testTracesRemove(&t, name);
    testTracesClear(&t);
}


/* ---- UEFI: the clone's NVRAM ------------------------------------------------------- */

/* The test guest booted again by OVMF (libvirt's firmware auto-selection,
 * no secure boot) with its NVRAM from the template, still by direct kernel
 * boot: the guest is defined again with <os firmware='efi'>. */
static gboolean
testToUefi(TgGuest *g)
{
    virDomainPtr dom = tgGuestDomain(g);
    g_autofree char *xml = NULL;
    g_autoptr(GString) efi = NULL;
    g_autoptr(GError) err = NULL;
    virDomainPtr again;

    if (virDomainDestroy(dom) < 0 ||
        !(xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE))) {
        g_test_message("cannot read %s: %s", tgGuestName(g), virGetLastErrorMessage());
        return FALSE;
    }
    efi = g_string_new(xml);
    if (g_string_replace(efi, "<os>", "<os firmware='efi'>\n    <firmware>"
                         "<feature enabled='no' name='secure-boot'/></firmware>", 1) != 1) {
        g_test_message("no <os> in the XML of %s", tgGuestName(g));
        return FALSE;
    }
    /* with "quiet" this guest printed nothing past OVMF's first lines in
     * 120 s, three times out of three; without it it boots in seconds
     * (not understood yet) */
    g_string_replace(efi, " quiet ", " ", 1);
    if (!(again = virDomainDefineXML(tgEnvConn(env), efi->str))) {
        g_test_message("cannot define %s for UEFI: %s", tgGuestName(g), virGetLastErrorMessage());
        return FALSE;
    }
    virDomainFree(again);
    if (tgGuestBoot(g, BOOT_MS, &err) < 0) {
        g_test_message("%s does not boot under UEFI: %s", tgGuestName(g), err->message);
        return FALSE;
    }
    return TRUE;
}


/* One clone of the UEFI guest: NVRAM of its own, owned by QEMU's user;
 * destroyed, its overlay goes (hook).  Returns the clone's NVRAM path. */
static char *
testUefiOnce(TestTraces *t, TgGuest *src, const char *srcNvram, const char *policy)
{
    g_autoptr(virDomain) cdom = testClone(src, policy, 0, NULL);
    g_autoptr(TgGuest) clone = NULL;
    g_autofree char *nvram = NULL;
    g_autofree char *overlay = NULL;

    if (!cdom) {
        g_test_fail();
        return NULL;
    }
    nvram = tgDomainXMLMatch(cdom, "<nvram[^>]*>([^<]+)</nvram>");
    overlay = testDiskTop(cdom);
    g_test_message("the clone's NVRAM %s", nvram);
    g_assert_nonnull(nvram);
    g_assert_cmpstr(nvram, !=, srcNvram);
    if (nvram)
        g_assert_cmpint(testFileUid(nvram), ==, qemuUid);
    clone = testAdopt(cdom);
    testRunning(clone);
    testTracesAddLogs(t, cdom);
    testRunning(src);
    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);
    g_assert_false(g_file_test(overlay, G_FILE_TEST_EXISTS));
    return g_steal_pointer(&nvram);
}


static void
testUefi(void)
{
    g_autoptr(TgGuest) src = NULL;
    g_autofree char *name = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *srcNvram = NULL;
    g_autofree char *nvram = NULL;
    g_autofree char *nvram2 = NULL;
    TestTraces t;

    if (!g_file_test("/usr/share/qemu/firmware/60-edk2-x86_64.json", G_FILE_TEST_EXISTS)) {
        g_test_skip("no OVMF (ovmf)");
        return;
    }
    src = testSource("sysd-efi", TG_MODE_IDLE, FALSE);
    if (!testToUefi(src)) {
        g_test_fail();
        return;
    }
    srcNvram = tgDomainXMLMatch(tgGuestDomain(src), "<nvram[^>]*>([^<]+)</nvram>");
    g_test_message("%s runs under UEFI with NVRAM %s", tgGuestName(src), srcNvram);
    g_assert_nonnull(srcNvram);
    name = g_strdup_printf("%s-uefi", tgGuestName(src));
    policy = g_strdup_printf("<clonepolicy><name>%s</name></clonepolicy>", name);

    /* the NVRAM copy of a destroyed ephemeral clone must not stay, nor
     * stand in the way of the next clone of that name */
    testTracesTake(&t);
    nvram = testUefiOnce(&t, src, srcNvram, policy);
    g_assert_cmpuint(testTracesCheck(&t, "uefi"), ==, 0);
    nvram2 = testUefiOnce(&t, src, srcNvram, policy);
    g_assert_cmpuint(testTracesCheck(&t, "uefi, second of the name"), ==, 0);
    testTracesRemove(&t, name);
    if (nvram)
        g_unlink(nvram);
    testTracesClear(&t);
}


/* ---- persistent ------------------------------------------------------------------------ */

static void
testPersistent(gconstpointer data)
{
    TgGuest *src = (TgGuest *)data;
    g_autofree char *name = g_strdup_printf("%s-persistent", tgGuestName(src));
    g_autofree char *policy = g_strdup_printf("<clonepolicy><name>%s</name></clonepolicy>", name);
    g_autofree char *topBefore = testDiskTop(tgGuestDomain(src));
    g_autoptr(virDomain) cdom = NULL;
    g_autoptr(TgGuest) clone = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *overlay = NULL;
    TestTraces t;

    testTracesTake(&t);
    if (!(cdom = testClone(src, policy, VIR_DOMAIN_CLONE_LIVE_PERSISTENT, NULL))) {
        g_test_fail();
        goto check;
    }
    g_assert_cmpint(virDomainIsPersistent(cdom), ==, 1);
    testOwnership(tgGuestDomain(src), cdom, topBefore);
    overlay = testDiskTop(cdom);
    clone = testAdopt(cdom);
    testRunning(clone);
    testTracesAddLogs(&t, cdom);

    /* destroyed, a persistent clone keeps its overlay, and boots from it */
    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);
    g_assert_true(g_file_test(overlay, G_FILE_TEST_EXISTS));
    if (tgGuestBoot(clone, BOOT_MS, &err) < 0)
        g_test_fail_printf("the persistent clone does not boot again: %s", err->message);
    else
        g_test_message("the persistent clone booted again from %s", overlay);
    g_assert_cmpint(testQemuUid(cdom), ==, qemuUid);
    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);
    g_assert_cmpint(virDomainUndefineFlags(cdom, VIR_DOMAIN_UNDEFINE_NVRAM), ==, 0);

    /* undefined: its overlay is the user's to remove */
    if (overlay)
        testTracesKeep(&t, overlay);

 check:
    g_assert_cmpuint(testTracesCheck(&t, "persistent"), ==, 0);
    testTracesRemove(&t, name);
    testTracesClear(&t);
}


/* ---- the environment ---------------------------------------------------------------- */

/* This program loads the installed library, not the build's. */
static void
testInstalled(void)
{
    const char *prefix = g_getenv("LVC_DAEMON_PREFIX");
    const char *hook = g_getenv("LVC_DAEMON_HOOK");
    g_autofree char *maps = NULL;
    g_auto(GStrv) lines = NULL;
    const char *lib = NULL;

    g_assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
    lines = g_strsplit(maps, "\n", -1);
    for (guint i = 0; lines[i] && !lib; i++)
        if (strstr(lines[i], "/libvirt-clone.so"))
            lib = strchr(lines[i], '/');
    g_test_message("library %s, hook %s", lib, hook);
    g_assert_nonnull(prefix);
    g_assert_nonnull(lib);
    if (prefix && lib)
        g_assert_true(g_str_has_prefix(lib, prefix));
    g_assert_true(hook && g_file_test(hook, G_FILE_TEST_IS_EXECUTABLE));
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TgGuest) src = NULL;
    gint64 start = g_get_monotonic_time();
    const char *user;
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("LVC_DAEMON_CTL") || !g_getenv("TG_URI")) {
        g_print("1..0 # SKIP run through tests/daemon/run-in-daemon.sh\n");
        return 0;
    }
    /* every scenario runs and reports what it leaves, whatever failed before */
    g_test_set_nonfatal_assertions();
    virSetErrorFunc(NULL, tgQuietErrors);
    virCloneSetLogFunc(tgLibLogToTest, NULL);
    if (!(user = g_getenv("LVC_DAEMON_QEMU_USER")))
        user = "libvirt-qemu";
    qemuUid = testUidOf(user);
    /* libvirt's default swtpm_user, or root with run-in-daemon.sh --qemu-root */
    tssUid = testUidOf(g_str_equal(user, "root") ? "root" : "tss");
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot connect to the daemon: %s\n", err->message);
        return 1;
    }
    g_test_add_func("/system-daemon/installed", testInstalled);
    src = testSource("sysd", TG_MODE_IDLE, FALSE);
    g_test_add_data_func("/system-daemon/network", src, testWaitLease);
    g_test_add_data_func("/system-daemon/plain", src, testPlain);
    g_test_add_data_func("/system-daemon/sandbox", src, testSandbox);
    g_test_add_data_func("/system-daemon/persistent", src, testPersistent);
    g_test_add_func("/system-daemon/tpm", testTpm);
    g_test_add_func("/system-daemon/uefi", testUefi);
    g_test_add_func("/system-daemon/auto-fallback", testAutoFallback);
    ret = g_test_run();
    g_clear_pointer(&src, tgGuestFree);
    tgEnvFree(env);
    g_printerr("# test-system-daemon: %.0f s\n", (g_get_monotonic_time() - start) / 1e6);
    return ret;
}
