/*
 * test-sandbox.c: a sandbox clone of a real guest reaches nothing, and
 * everything it tries is reported
 *
 * The test builds a small network of its own: a bridge with a host address
 * (10.77.0.254, "the host's bridge address") and, in a network namespace,
 * a test host (10.77.0.1, the guest's gateway) on a veth.  The source guest
 * sits on that bridge (10.77.0.10) and probes both addresses once a second
 * (ARP, ICMP echo, UDP to port 9, TCP to port 80): the captures must see
 * that, or proving silence later proves nothing.  The source is cloned
 * paused with network mode sandbox, the source stops probing, the clone
 * resumes and goes on probing from the sandbox: the captures on the bridge
 * and in the namespace must see nothing from 10.77.0.10, and the sandbox
 * watch must report every kind of attempt.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "testutils-guest.h"
#include "testutils-net.h"

#define GUEST_IP "10.77.0.10"
#define GATEWAY_IP "10.77.0.1"
#define BRIDGE_IP "10.77.0.254"
#define CLONE_TEST_SANDBOX_BRIDGE "lvcsandbox0"

static TgEnv *env;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

typedef struct {
    char *bridge;      /* the test's bridge, the source's network */
    char *netns;       /* the test host */
    char *vethHost;    /* on the bridge */
    char *vethNs;      /* in the namespace */
} TestNet;

static TestNet net;


static void
testNetDown(void)
{
    if (!net.bridge)
        return;
    tnRun(TRUE, "ip", "link", "del", net.vethHost, NULL);
    tnRun(TRUE, "ip", "link", "del", net.bridge, NULL);
    tnRun(TRUE, "ip", "netns", "del", net.netns, NULL);
    g_clear_pointer(&net.bridge, g_free);
    g_clear_pointer(&net.netns, g_free);
    g_clear_pointer(&net.vethHost, g_free);
    g_clear_pointer(&net.vethNs, g_free);
}


/* A run that failed an assertion aborted before its cleanup: remove what
 * runs that are gone left behind (names end in their pid). */
static void
testNetReapStale(void)
{
    g_autoptr(GDir) d = g_dir_open("/sys/class/net", 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        const char *digits = name + strspn(name, "lvctbrvafhost");
        g_autofree char *proc = NULL;

        if (!g_str_has_prefix(name, "lvct") || !*digits || !g_ascii_isdigit(*digits))
            continue;
        proc = g_strdup_printf("/proc/%s", digits);
        if (!g_file_test(proc, G_FILE_TEST_EXISTS))
            tnRun(TRUE, "ip", "link", "del", name, NULL);
    }
    g_clear_pointer(&d, g_dir_close);
    d = g_dir_open("/run/netns", 0, NULL);
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *proc = g_strdup_printf("/proc/%s", name + strlen("lvcthost"));

        if (g_str_has_prefix(name, "lvcthost") && !g_file_test(proc, G_FILE_TEST_EXISTS))
            tnRun(TRUE, "ip", "netns", "del", name, NULL);
    }
}


static void
testNetUp(void)
{
    guint id = (guint)getpid();

    testNetReapStale();

    net.bridge = g_strdup_printf("lvctbr%u", id);
    net.netns = g_strdup_printf("lvcthost%u", id);
    net.vethHost = g_strdup_printf("lvctva%u", id);
    net.vethNs = g_strdup_printf("lvctvb%u", id);
    tnRun(FALSE, "ip", "link", "add", net.bridge, "type", "bridge", "stp_state", "0", NULL);
    tnRun(FALSE, "ip", "addr", "add", BRIDGE_IP "/24", "dev", net.bridge, NULL);
    tnRun(FALSE, "ip", "link", "set", net.bridge, "up", NULL);
    tnRun(FALSE, "ip", "netns", "add", net.netns, NULL);
    tnRun(FALSE, "ip", "link", "add", net.vethHost, "type", "veth", "peer", "name", net.vethNs, NULL);
    tnRun(FALSE, "ip", "link", "set", net.vethHost, "master", net.bridge, "up", NULL);
    tnRun(FALSE, "ip", "link", "set", net.vethNs, "netns", net.netns, NULL);
    tnRun(FALSE, "ip", "-n", net.netns, "addr", "add", GATEWAY_IP "/24", "dev", net.vethNs, NULL);
    tnRun(FALSE, "ip", "-n", net.netns, "link", "set", net.vethNs, "up", NULL);
    tnRun(FALSE, "ip", "-n", net.netns, "link", "set", "lo", "up", NULL);
}


/* ---- packet capture (tcpdump, on the host side) -------------------------- */

typedef struct {
    GSubprocess *proc;
    GMutex lock;
    GPtrArray *lines;
    GThread *reader;
} TestCapture;

static gpointer
testCaptureRead(gpointer data)
{
    TestCapture *c = data;
    g_autoptr(GDataInputStream) in =
        g_data_input_stream_new(g_subprocess_get_stdout_pipe(c->proc));
    char *line;

    while ((line = g_data_input_stream_read_line(in, NULL, NULL, NULL))) {
        g_mutex_lock(&c->lock);
        g_ptr_array_add(c->lines, line);
        g_mutex_unlock(&c->lock);
    }
    return NULL;
}


/* Frames from the guest's address (or ARP about it) on @dev, optionally
 * inside the namespace @ns. */
static TestCapture *
testCaptureStart(const char *ns, const char *dev)
{
    TestCapture *c = g_new0(TestCapture, 1);
    g_autoptr(GError) err = NULL;
    const char *filter = "host " GUEST_IP " or (arp and host " GUEST_IP ")";

    if (ns)
        c->proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err,
                                   "ip", "netns", "exec", ns, "tcpdump", "-l", "-n", "-e", "-i", dev,
                                   filter, NULL);
    else
        c->proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err,
                                   "tcpdump", "-l", "-n", "-e", "-i", dev, filter, NULL);
    if (!c->proc)
        g_error("tcpdump: %s", err->message);
    c->lines = g_ptr_array_new_with_free_func(g_free);
    g_mutex_init(&c->lock);
    c->reader = g_thread_new("capture", testCaptureRead, c);
    g_usleep(1500 * G_TIME_SPAN_MILLISECOND);   /* tcpdump attaches */
    return c;
}


static guint
testCaptureCount(TestCapture *c)
{
    guint n;

    g_mutex_lock(&c->lock);
    n = c->lines->len;
    for (guint i = 0; i < c->lines->len && i < 5; i++)
        g_test_message("  captured: %s", (char *)g_ptr_array_index(c->lines, i));
    g_mutex_unlock(&c->lock);
    return n;
}


static void
testCaptureStop(TestCapture *c)
{
    g_subprocess_send_signal(c->proc, SIGTERM);
    g_subprocess_wait(c->proc, NULL, NULL);
    g_thread_join(c->reader);
    g_object_unref(c->proc);
    g_ptr_array_unref(c->lines);
    g_mutex_clear(&c->lock);
    g_free(c);
}


/* ---- sandbox events ---------------------------------------------------------- */

typedef struct {
    GMutex lock;
    GHashTable *kinds;       /* "proto dst:port" */
    gint64 firstUs;
} TestEvents;

static void
testEventCb(virDomainPtr clone G_GNUC_UNUSED, const virDomainCloneSandboxEvent *ev, void *opaque)
{
    TestEvents *e = opaque;
    g_autofree char *kind = g_strdup_printf("%s %s:%d", ev->protocol, ev->dstAddr ? ev->dstAddr : "-",
                                            ev->dstPort);

    g_mutex_lock(&e->lock);
    if (!e->firstUs)
        e->firstUs = g_get_monotonic_time();
    g_hash_table_add(e->kinds, g_steal_pointer(&kind));
    g_mutex_unlock(&e->lock);
}


static gboolean
testEventSeen(TestEvents *e, const char *kind)
{
    gboolean seen;

    g_mutex_lock(&e->lock);
    seen = g_hash_table_contains(e->kinds, kind);
    if (!seen) {
        g_autofree char **all = (char **)g_hash_table_get_keys_as_array(e->kinds, NULL);
        g_autofree char *list = g_strjoinv(", ", all);

        g_test_message("no event '%s' among: %s", kind, list);
    }
    g_mutex_unlock(&e->lock);
    return seen;
}


static TgGuest *
testSource(void)
{
    TgGuestOpts opts = {
        .name_prefix = "sbx", .mode = TG_MODE_IDLE, .memory_mib = 256, .buffer_mib = 16,
        .nic_bridge = net.bridge,
        .extra_cmdline = "clonetest.ip=" GUEST_IP "/24 clonetest.gw=" GATEWAY_IP,
    };

    return tgGuestStartOrDie(env, &opts);
}


static void
testCommand(TgGuest *g, const char *cmd)
{
    g_autoptr(GError) err = NULL;

    if (tgSerialCommand(g, cmd, 10000, &err) < 0)
        g_error("%s: %s", cmd, err->message);
}


static void
testSandboxReachesNothing(void)
{
    g_autoptr(TgGuest) src = testSource();
    g_autoptr(virDomain) clone = NULL;
    TestCapture *onBridge;
    TestCapture *inNs;
    TestEvents events = { .kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
    gint64 resumed;
    int watch;
    g_autofree char *alertLog = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *alerts = NULL;

    /* the source's probes arrive: the captures work */
    testCommand(src, "probe " GATEWAY_IP "," BRIDGE_IP);
    inNs = testCaptureStart(net.netns, net.vethNs);
    onBridge = testCaptureStart(NULL, net.bridge);
    g_usleep(3 * G_USEC_PER_SEC);
    g_assert_cmpuint(testCaptureCount(inNs), >, 0);
    g_assert_cmpuint(testCaptureCount(onBridge), >, 0);
    testCaptureStop(inNs);
    testCaptureStop(onBridge);

    /* the clone, paused, still probing in its memory; its policy also
     * sends alerts to a log */
    alertLog = g_build_filename(tgEnvRoot(env), "alerts.log", NULL);
    policy = g_strdup_printf("<clonepolicy><network mode='sandbox'><alert log='%s'/></network>"
                             "</clonepolicy>", alertLog);
    clone = virDomainCloneLive(tgGuestDomain(src), policy, VIR_DOMAIN_CLONE_LIVE_PAUSED);
    if (!clone)
        g_error("sandbox clone: %s", virCloneGetLastErrorMessage());
    testCommand(src, "probe off");
    g_usleep(2 * G_USEC_PER_SEC);

    inNs = testCaptureStart(net.netns, net.vethNs);
    onBridge = testCaptureStart(NULL, net.bridge);
    g_mutex_init(&events.lock);
    watch = virDomainCloneSandboxWatch(clone, testEventCb, &events, NULL, 0);
    if (watch < 0)
        g_error("watch: %s", virCloneGetLastErrorMessage());
    resumed = g_get_monotonic_time();
    g_assert_cmpint(virDomainResume(clone), ==, 0);
    g_usleep(6 * G_USEC_PER_SEC);

    /* nothing arrived anywhere ... */
    g_assert_cmpuint(testCaptureCount(inNs), ==, 0);
    g_assert_cmpuint(testCaptureCount(onBridge), ==, 0);
    testCaptureStop(inNs);
    testCaptureStop(onBridge);
    /* ... and every kind of attempt was reported, the first within 1 s of
     * the clone's first probe (it probes once a second) */
    g_assert_true(testEventSeen(&events, "udp " GATEWAY_IP ":9"));
    g_assert_true(testEventSeen(&events, "udp " BRIDGE_IP ":9"));
    g_assert_true(testEventSeen(&events, "tcp " GATEWAY_IP ":80"));
    g_assert_true(testEventSeen(&events, "arp " GATEWAY_IP ":-1"));
    g_assert_cmpint(events.firstUs - resumed, <, 2 * G_USEC_PER_SEC);
    /* the policy's alert log got them too, from the watcher started with
     * the clone */
    g_assert_true(g_file_get_contents(alertLog, &alerts, NULL, NULL));
    g_test_message("alert log: %zu bytes", strlen(alerts));
    g_assert_nonnull(strstr(alerts, "\"udp\""));
    g_assert_nonnull(strstr(alerts, GATEWAY_IP));
    virDomainCloneSandboxUnwatch(watch);
    g_hash_table_unref(events.kinds);
    g_mutex_clear(&events.lock);
    virDomainDestroy(clone);
    /* without libvirtd's hook, reaping removes the unused sandbox bridge
     * and the ended watcher's run directory */
    g_usleep(G_USEC_PER_SEC);
    g_assert_cmpint(virConnectCloneLiveReap(tgEnvConn(env), 0), ==, 0);
    g_assert_false(g_file_test("/sys/class/net/" CLONE_TEST_SANDBOX_BRIDGE, G_FILE_TEST_EXISTS));
    g_unlink(alertLog);
}


/* A port on the sandbox bridge that is not an isolated sandbox port: the
 * clone must fail closed, with nothing left behind. */
static void
testSandboxForeignPort(void)
{
    g_autoptr(TgGuest) src = testSource();
    g_autofree char *veth = g_strdup_printf("lvctfa%u", (guint)getpid());
    g_autofree char *peer = g_strdup_printf("lvctfb%u", (guint)getpid());
    int before = virConnectNumOfDomains(tgEnvConn(env));
    virCloneErrorPtr err;

    /* the bridge as the library makes it, plus a foreign port */
    tnRun(TRUE, "ip", "link", "add", CLONE_TEST_SANDBOX_BRIDGE, "type", "bridge", NULL);
    tnRun(FALSE, "ip", "link", "add", veth, "type", "veth", "peer", "name", peer, NULL);
    tnRun(FALSE, "ip", "link", "set", veth, "master", CLONE_TEST_SANDBOX_BRIDGE, "up", NULL);
    g_assert_null(virDomainCloneLive(tgGuestDomain(src), "<clonepolicy><network mode='sandbox'/></clonepolicy>", 0));
    err = virCloneGetLastError();
    g_test_message("refused: %s", err->message);
    g_assert_nonnull(strstr(err->message, veth));
    g_assert_cmpint(virConnectNumOfDomains(tgEnvConn(env)), ==, before);
    tnRun(TRUE, "ip", "link", "del", veth, NULL);
    tnRun(TRUE, "ip", "link", "del", CLONE_TEST_SANDBOX_BRIDGE, NULL);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (getuid() != 0) {
        g_test_skip("needs root (bridges, network namespaces)");
        return g_test_run();
    }
    virSetErrorFunc(NULL, tgQuietErrors);
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    testNetUp();
    g_test_add_func("/sandbox/reaches-nothing", testSandboxReachesNothing);
    g_test_add_func("/sandbox/foreign-port", testSandboxForeignPort);
    ret = g_test_run();
    tgEnvFree(env);
    testNetDown();
    return ret;
}
