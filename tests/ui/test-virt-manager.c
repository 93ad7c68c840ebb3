/*
 * test-virt-manager.c: virt-manager's clone button makes a live sandbox
 * clone of a running test guest
 *
 * Run by test-virt-manager.sh, inside tests/daemon/run-in-daemon.sh (a
 * private libvirtd, this build installed), with an X server, a session bus
 * and the patched virt-manager.  The test starts the test guest with a NIC
 * on libvirt's default network, watches the source's QMP STOP and RESUME
 * events, and runs the dogtail driver (LVC_UI_DRIVER), which clones it in
 * virt-manager's dialog: live, sandbox, a name of ours (then the same name
 * again, which must end in virt-manager's error dialog with the library's
 * message; then, without the libvirt_clone module, virt-manager must not
 * offer to clone the running machine, as before the patch).  Then, through
 * libvirt: the clone runs (its workload reports), its only NIC is an
 * isolated port of the sandbox bridge, the source ran on and paused no
 * longer than a live clone's switch-over.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "testutils-guest.h"

#define SANDBOX_BRIDGE "lvcsandbox0"
#define STAT_MS 30000
/* a live clone pauses the source for tens of milliseconds (docs/benchmarks.md);
 * an offline clone, a save and restore, for seconds */
#define MAX_PAUSE_US (1000 * 1000)

static TgEnv *env;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

/* the source's pauses, from QEMU's STOP and RESUME events and their times */
typedef struct {
    GMutex lock;
    gint64 stopUs;       /* the open pause's STOP, 0 if running */
    gint64 longestUs;
    guint pauses;
} TestPauses;


static void
testMonitorEventCb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom G_GNUC_UNUSED,
                   const char *event, long long seconds, unsigned int micros,
                   const char *details G_GNUC_UNUSED, void *opaque)
{
    TestPauses *p = opaque;
    gint64 t = seconds * G_USEC_PER_SEC + micros;

    g_mutex_lock(&p->lock);
    if (g_str_equal(event, "STOP")) {
        p->stopUs = t;
    } else if (g_str_equal(event, "RESUME") && p->stopUs) {
        p->longestUs = MAX(p->longestUs, t - p->stopUs);
        p->pauses++;
        p->stopUs = 0;
    }
    g_mutex_unlock(&p->lock);
}


static void
testRunning(TgGuest *g)
{
    g_autoptr(GError) err = NULL;
    int state = VIR_DOMAIN_NOSTATE;
    TgStat st;
    int i;

    g_assert_cmpint(virDomainGetState(tgGuestDomain(g), &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    for (i = 0; i < 2; i++) {
        if (tgSerialWaitStat(g, STAT_MS, &st, &err) < 0)
            g_error("%s: no stat line: %s", tgGuestName(g), err->message);
    }
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


/* Run the dogtail driver; its report becomes test messages. */
static gboolean
testDriveDialog(const char *source, const char *clone)
{
    const char *argv[] = { "/usr/bin/python3", g_getenv("LVC_UI_DRIVER"), source, clone,
                           g_getenv("LVC_UI_OUTDIR"), NULL };
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errOut = NULL;
    g_auto(GStrv) lines = NULL;
    g_auto(GStrv) errLines = NULL;
    int status = 0;
    size_t i;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT,
                      NULL, NULL, &out, &errOut, &status, &err))
        g_error("cannot run %s: %s", argv[1], err->message);
    lines = g_strsplit(out, "\n", -1);
    for (i = 0; lines[i]; i++) {
        if (*lines[i])
            g_test_message("ui: %s", lines[i]);
    }
    errLines = g_strsplit(errOut, "\n", -1);
    for (i = 0; errLines[i]; i++) {
        if (*errLines[i])
            g_test_message("ui stderr: %s", errLines[i]);
    }
    if (!g_spawn_check_wait_status(status, &err)) {
        g_test_message("the driver failed: %s (virt-manager's log: %s/virt-manager.log)",
                       err->message, g_getenv("LVC_UI_OUTDIR"));
        return FALSE;
    }
    return TRUE;
}


static void
testCloneButton(void)
{
    TgGuestOpts opts = {
        .name_prefix = "vmm",
        .mode = TG_MODE_IDLE,
        .memory_mib = 256,
        .buffer_mib = 16,
        .nic_network = g_getenv("LVC_DAEMON_NETWORK"),
    };
    g_autoptr(TgGuest) src = tgGuestStartOrDie(env, &opts);
    g_autofree char *name = g_strdup_printf("%s-live", tgGuestName(src));
    g_autoptr(virDomain) cdom = NULL;
    g_autoptr(TgGuest) clone = NULL;
    g_autofree char *bridge = NULL;
    g_autofree char *tap = NULL;
    g_autofree char *details = NULL;
    g_autofree char *brDetails = NULL;
    TestPauses pauses = { .stopUs = 0 };
    int cb;

    g_mutex_init(&pauses.lock);
    cb = virConnectDomainQemuMonitorEventRegister(tgEnvConn(env), tgGuestDomain(src), NULL,
                                                  testMonitorEventCb, &pauses, NULL, 0);
    g_assert_cmpint(cb, >=, 0);

    g_assert_true(testDriveDialog(tgGuestName(src), name));

    /* the clone runs, on the sandbox bridge only; the second try of the
     * name (the error dialog) left nothing */
    cdom = virDomainLookupByName(tgEnvConn(env), name);
    if (!cdom)
        g_error("no domain %s after the dialog: %s", name, virGetLastErrorMessage());
    g_assert_cmpuint(tgNumDomains(env), ==, 2);
    bridge = tgDomainXMLMatch(cdom, "<interface type='bridge'>\\s*<mac[^>]*>\\s*"
                                    "<source bridge='([^']+)'");
    tap = tgDomainXMLMatch(cdom, "<interface type='bridge'>[\\s\\S]*?<target dev='([^']+)'");
    g_test_message("clone %s: NIC on bridge %s, tap %s", name, bridge, tap);
    g_assert_cmpstr(bridge, ==, SANDBOX_BRIDGE);
    g_assert_null(tgDomainXMLMatch(cdom, "<source network='([^']+)'"));
    g_assert_nonnull(tgDomainXMLMatch(cdom, "<port (isolated='yes')/>"));
    g_assert_nonnull(tap);
    details = testLinkDetails(tap);
    g_assert_nonnull(strstr(details, "master " SANDBOX_BRIDGE));
    g_assert_nonnull(strstr(details, "isolated on"));
    brDetails = testLinkDetails(SANDBOX_BRIDGE);
    g_assert_nonnull(strstr(brDetails, "addrgenmode none"));
    g_assert_null(strstr(brDetails, " master "));
    clone = tgGuestAdopt(env, cdom, NULL);
    g_assert_nonnull(clone);
    testRunning(clone);

    /* the source ran on; its pauses were a live clone's */
    testRunning(src);
    virConnectDomainQemuMonitorEventDeregister(tgEnvConn(env), cb);
    g_mutex_lock(&pauses.lock);
    g_test_message("source: %u pause(s), the longest %.1f ms", pauses.pauses,
                   pauses.longestUs / 1e3);
    g_assert_cmpint(pauses.stopUs, ==, 0);
    g_assert_cmpuint(pauses.pauses, >=, 1);
    g_assert_cmpint(pauses.longestUs, <, MAX_PAUSE_US);
    g_mutex_unlock(&pauses.lock);
    g_mutex_clear(&pauses.lock);

    /* a transient clone: destroyed, it is gone (the hook removes its overlay) */
    g_assert_cmpint(virDomainDestroy(cdom), ==, 0);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("LVC_DAEMON_CTL") || !g_getenv("TG_URI") || !g_getenv("LVC_UI_DRIVER")) {
        g_print("1..0 # SKIP run through tests/ui/test-virt-manager.sh\n");
        return 0;
    }
    virSetErrorFunc(NULL, tgQuietErrors);
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot connect to the daemon: %s\n", err->message);
        return 1;
    }
    g_test_add_func("/virt-manager/clone-button", testCloneButton);
    ret = g_test_run();
    tgEnvFree(env);
    return ret;
}
