/*
 * test-identity.c: a live clone's identity inside the guest, on a real
 * guest
 *
 * The test builds a network of its own, not isolated: a bridge with a host
 * address (10.81.0.1) and busybox's DHCP server on it.  The source guest
 * sits on that bridge (10.81.0.10, static), runs the QEMU guest agent and a
 * TCP echo service on port 7, and has a VM generation ID.  A raw packet
 * socket on the host records every frame the host's interfaces receive,
 * with the interface it came in on, from before the clone until the end.
 *
 *  - network: the clone (network mode inherit, host name and machine-id
 *    from the policy) gets its new MAC inside the guest while its link is
 *    down, loses the source's address and takes one from the DHCP server;
 *    source and clone both answer on the network with distinct MACs and
 *    addresses; a TCP connection to the source opened before the clone
 *    still works; and no frame with the source's MAC ever came in on the
 *    clone's tap.  The generation ID seen inside the guest differs, and
 *    the clone's kernel logged the reseed of its RNG.
 *  - no agent: a source without a guest agent channel is refused before
 *    anything starts (on-failure='fail'), or cloned with a warning and its
 *    link kept down (on-failure='warn').
 *  - rollback: a step that fails inside the guest (a default route through
 *    a gateway that is not on the link) fails the clone, which is rolled
 *    back; the source keeps running.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "testutils-guest.h"
#include "testutils-net.h"

#define BRIDGE_IP "10.81.0.1"
#define BRIDGE_MAC "02:00:0a:51:00:01"
#define SOURCE_IP "10.81.0.10"
#define DHCP_FIRST "10.81.0.100"
#define DHCP_LAST "10.81.0.150"
#define ECHO_PORT 7

static TgEnv *env;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

static TnBridge *net;


/* ---- TCP echo ------------------------------------------------------------------ */

static int
testEchoConnect(const char *ip)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ECHO_PORT) };
    struct timeval tv = { .tv_sec = 5 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(inet_pton(AF_INET, ip, &sa.sin_addr), ==, 1);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        g_test_message("connect to %s:%d: %s", ip, ECHO_PORT, g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}


/* Sends @msg and reads it back. */
static gboolean
testEcho(int fd, const char *msg)
{
    char buf[128] = { 0 };
    size_t len = strlen(msg);
    size_t got = 0;

    if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
        return FALSE;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

        if (n <= 0) {
            g_test_message("echo of '%s': %s", msg, n < 0 ? g_strerror(errno) : "closed");
            return FALSE;
        }
        got += (size_t)n;
    }
    return memcmp(buf, msg, len) == 0;
}


/* A new connection to @ip answers. */
static gboolean
testEchoOnce(const char *ip, const char *msg)
{
    int fd = -1;
    gboolean ok = FALSE;

    /* the guest's address may need a moment to be announced */
    for (guint i = 0; i < 10 && fd < 0; i++) {
        if ((fd = testEchoConnect(ip)) < 0)
            g_usleep(G_USEC_PER_SEC / 2);
    }
    if (fd >= 0) {
        ok = testEcho(fd, msg);
        close(fd);
    }
    return ok;
}


/* ---- guests ---------------------------------------------------------------------- */

static TgGuest *
testSource(gboolean agent)
{
    TgGuestOpts opts = {
        .name_prefix = "idn", .mode = TG_MODE_IDLE, .memory_mib = 256, .buffer_mib = 16,
        .disk_records_off = TRUE, .with_genid = TRUE, .with_agent = agent,
        .nic_bridge = tnBridgeName(net), .hostname = "idsource", .echo = TRUE,
        .extra_cmdline = "clonetest.ip=" SOURCE_IP "/24 clonetest.gw=" BRIDGE_IP,
    };

    return tgGuestStartOrDie(env, &opts);
}


static void
testIdentity(TgGuest *g, TgIdentity *id)
{
    g_autoptr(GError) err = NULL;

    if (tgGuestIdentity(g, id, &err) < 0)
        g_error("identity of %s: %s", tgGuestName(g), err->message);
    g_test_message("%s: hostname=%s machine_id=%s mac=%s ipv4=%s genid=%s", tgGuestName(g),
                   id->hostname, id->machine_id, id->mac, id->ipv4, id->genid);
}


static unsigned long long
testStat(virTypedParameterPtr stats, int n, const char *name)
{
    unsigned long long v = 0;

    g_assert_cmpint(virTypedParamsGetULLong(stats, n, name, &v), ==, 1);
    return v;
}


/* ---- the tests -------------------------------------------------------------------- */

static const char *policyInherit =
    "<clonepolicy>\n"
    "  <name template='%{source}-c%{n}'/>\n"
    "  <identity>\n"
    "    <hostname mode='set'>idclone%{n}</hostname>\n"
    "    <machine-id mode='regenerate'/>\n"
    "  </identity>\n"
    "  <network mode='inherit'/>\n"
    "</clonepolicy>\n";


static void
testNetworkIdentity(void)
{
    g_autoptr(TgGuest) src = testSource(TRUE);
    g_autoptr(TgGuest) cg = NULL;
    g_autoptr(virDomain) clone = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *srcTap = NULL;
    g_autofree char *cloneTap = NULL;
    g_autofree char *cloneMac = NULL;
    g_autofree char *genidXML = NULL;
    g_autofree char *kline = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    TgIdentity before = { 0 };
    TgIdentity after = { 0 };
    TgIdentity cid = { 0 };
    TnCapture *cap;
    gboolean found = FALSE;
    int conn;

    testIdentity(src, &before);
    g_assert_cmpstr(before.ipv4, ==, SOURCE_IP "/24");
    g_assert_cmpstr(before.hostname, ==, "idsource");
    srcTap = tgDomainXMLMatch(tgGuestDomain(src), "<target dev='([^']+)'/>");
    g_assert_nonnull(srcTap);

    cap = tnCaptureStart();
    tnCaptureWatch(cap, before.mac);
    conn = testEchoConnect(SOURCE_IP);
    g_assert_cmpint(conn, >=, 0);
    g_assert_true(testEcho(conn, "before the clone\n"));
    /* the capture sees the source */
    g_usleep(G_USEC_PER_SEC / 2);
    g_assert_cmpuint(tnCaptureCount(cap, before.mac, srcTap), >, 0);

    clone = virDomainCloneLiveFull(tgGuestDomain(src), policyInherit, NULL, NULL,
                                   &stats, &nstats, 0);
    if (!clone)
        g_error("clone: %s", virCloneGetLastErrorMessage());
    g_test_message("clone %s: %llu steps inside the guest in %.1f ms; network up %.1f ms after the resume",
                   virDomainGetName(clone),
                   testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS),
                   testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY) / 1000.0,
                   testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP) / 1000.0);
    g_assert_cmpuint(testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED), ==, 0);
    /* MAC, addresses, host name, machine-id, DHCP */
    g_assert_cmpuint(testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS), ==, 5);
    g_assert_cmpuint(testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP), >, 0);
    virTypedParamsFree(stats, nstats);

    cloneMac = tgDomainXMLMatch(clone, "<mac address='([^']+)'/>");
    cloneTap = tgDomainXMLMatch(clone, "<target dev='([^']+)'/>");
    g_assert_nonnull(cloneMac);
    g_assert_nonnull(cloneTap);
    tnCaptureWatch(cap, cloneMac);
    if (!(cg = tgGuestAdopt(env, clone, &err)))
        g_error("adopt: %s", err->message);

    /* inside the clone: its own MAC, address, host name, machine-id */
    testIdentity(cg, &cid);
    g_assert_cmpstr(cid.mac, ==, cloneMac);
    g_assert_cmpstr(cid.mac, !=, before.mac);
    g_assert_true(g_str_has_prefix(cid.ipv4, "10.81.0.1"));
    g_assert_cmpstr(cid.ipv4, !=, before.ipv4);
    g_assert_cmpstr(cid.hostname, ==, "idclone1");
    g_assert_cmpuint(strlen(cid.machine_id), ==, 32);
    g_assert_cmpstr(cid.machine_id, !=, before.machine_id);
    g_assert_cmpstr(cid.boot_id, ==, before.boot_id);   /* one boot, copied */

    /* generation ID: new in the clone, as libvirt says, and the guest reseeded */
    genidXML = tgDomainXMLMatch(clone, "<genid>([^<]+)</genid>");
    g_assert_nonnull(genidXML);
    g_assert_cmpstr(cid.genid, !=, before.genid);
    g_assert_cmpstr(cid.genid, !=, "none");
    if (tgGuestKmsgFind(cg, "crng reseeded due to virtual machine fork", &found, &kline, &err) < 0)
        g_error("kmsg: %s", err->message);
    g_assert_true(found);
    g_test_message("clone's kernel: %s", kline);
    g_clear_pointer(&kline, g_free);
    if (tgGuestKmsgFind(src, "crng reseeded due to virtual machine fork", &found, &kline, &err) < 0)
        g_error("kmsg: %s", err->message);
    g_assert_false(found);

    /* the source: as before, and its connection undisturbed */
    testIdentity(src, &after);
    g_assert_cmpstr(after.mac, ==, before.mac);
    g_assert_cmpstr(after.ipv4, ==, before.ipv4);
    g_assert_cmpstr(after.hostname, ==, before.hostname);
    g_assert_cmpstr(after.machine_id, ==, before.machine_id);
    g_assert_cmpstr(after.genid, ==, before.genid);
    g_assert_true(testEcho(conn, "after the clone\n"));
    close(conn);

    /* both answer, each at its own address */
    {
        g_auto(GStrv) parts = g_strsplit(cid.ipv4, "/", 2);

        g_assert_true(testEchoOnce(parts[0], "to the clone\n"));
        g_assert_true(testEchoOnce(SOURCE_IP, "to the source\n"));
    }

    /* on the wire: the clone spoke, never with the source's MAC */
    g_usleep(G_USEC_PER_SEC);
    g_assert_cmpuint(tnCaptureCount(cap, cloneMac, cloneTap), >, 0);
    g_assert_cmpuint(tnCaptureCount(cap, before.mac, cloneTap), ==, 0);
    g_assert_cmpuint(tnCaptureCount(cap, cloneMac, srcTap), ==, 0);
    g_test_message("frames in from the clone's tap: %u with its MAC, %u with the source's",
                   tnCaptureCount(cap, cloneMac, cloneTap), tnCaptureCount(cap, before.mac, cloneTap));
    tnCaptureStop(cap);
}


static GPtrArray *warnings;

static void
testLogCb(int priority, const char *message, void *opaque G_GNUC_UNUSED)
{
    if (priority == VIR_CLONE_LOG_WARN)
        g_ptr_array_add(warnings, g_strdup(message));
}


static void
testNoAgent(void)
{
    g_autoptr(TgGuest) src = testSource(FALSE);
    g_autoptr(virDomain) clone = NULL;
    g_autoptr(TgGuest) cg = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *cloneTap = NULL;
    g_autofree char *link = NULL;
    g_autofree char *srcMac = tgDomainXMLMatch(tgGuestDomain(src), "<mac address='([^']+)'/>");
    const char *warnPolicy =
        "<clonepolicy><identity><guest-agent on-failure='warn'/></identity>"
        "<network mode='inherit'/></clonepolicy>";
    guint domains = tgNumDomains(env);
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    TnCapture *cap;
    const virCloneError *e;

    /* refused before anything starts */
    clone = virDomainCloneLive(tgGuestDomain(src), policyInherit, 0);
    g_assert_null(clone);
    e = virCloneGetLastError();
    g_assert_nonnull(e);
    g_assert_cmpint(e->code, ==, VIR_CLONE_ERR_GUEST);
    g_assert_nonnull(strstr(e->message, "guest agent"));
    g_test_message("refused: %s", e->message);
    g_assert_cmpuint(tgNumDomains(env), ==, domains);
    g_assert_cmpint(virDomainIsActive(tgGuestDomain(src)), ==, 1);

    /* with a warning, and the link stays down: nothing of the source's MAC
     * gets out of the clone */
    cap = tnCaptureStart();
    tnCaptureWatch(cap, srcMac);
    warnings = g_ptr_array_new_with_free_func(g_free);
    virCloneSetLogFunc(testLogCb, NULL);
    clone = virDomainCloneLiveFull(tgGuestDomain(src), warnPolicy, NULL, NULL, &stats, &nstats, 0);
    virCloneSetLogFunc(NULL, NULL);
    if (!clone)
        g_error("clone: %s", virCloneGetLastErrorMessage());
    for (guint i = 0; i < warnings->len; i++)
        g_test_message("warning: %s", (char *)g_ptr_array_index(warnings, i));
    g_assert_cmpuint(warnings->len, >=, 2);   /* no agent; a link stays down */
    g_assert_cmpuint(testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED), >=, 1);
    g_assert_cmpuint(testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP), ==, 0);
    virTypedParamsFree(stats, nstats);
    g_clear_pointer(&warnings, g_ptr_array_unref);
    link = tgDomainXMLMatch(clone, "<link state='([^']+)'/>");
    g_assert_cmpstr(link, ==, "down");
    cloneTap = tgDomainXMLMatch(clone, "<target dev='([^']+)'/>");
    if (!(cg = tgGuestAdopt(env, g_steal_pointer(&clone), &err)))
        g_error("adopt: %s", err->message);
    /* the clone runs (and would talk, if its link were up) */
    g_assert_cmpint(tgSerialCommand(cg, "report", 10000, &err), ==, 0);
    g_usleep(2 * G_USEC_PER_SEC);
    g_assert_cmpuint(tnCaptureCount(cap, srcMac, cloneTap), ==, 0);
    tnCaptureStop(cap);
}


static void
testStepFailsRollback(void)
{
    g_autoptr(TgGuest) src = testSource(TRUE);
    g_autofree char *srcMac = tgDomainXMLMatch(tgGuestDomain(src), "<mac address='([^']+)'/>");
    g_autofree char *policy = g_strdup_printf(
        "<clonepolicy><network mode='inherit'>"
        "<interface source='%s'><ip mode='static' address='10.81.0.50' prefix='24' gateway='192.0.2.1'/></interface>"
        "</network></clonepolicy>", srcMac);
    guint domains = tgNumDomains(env);
    g_autoptr(virDomain) clone = NULL;
    g_autoptr(GError) err = NULL;
    TgStat st;
    const virCloneError *e;

    clone = virDomainCloneLive(tgGuestDomain(src), policy, 0);
    g_assert_null(clone);
    e = virCloneGetLastError();
    g_assert_nonnull(e);
    g_test_message("failed as it should: %s", e->message);
    g_assert_cmpint(e->code, ==, VIR_CLONE_ERR_GUEST);
    g_assert_nonnull(strstr(e->message, "192.0.2.1"));
    g_assert_cmpuint(tgNumDomains(env), ==, domains);
    /* the source runs on */
    g_assert_cmpint(tgSerialCommand(src, "report", 10000, &err), ==, 0);
    g_assert_cmpint(tgSerialWaitStat(src, 10000, &st, &err), ==, 0);
    g_assert_true(testEchoOnce(SOURCE_IP, "still there\n"));
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (getuid() != 0) {
        g_test_skip("needs root (bridges, packet capture, libvirt's embedded driver)");
        return g_test_run();
    }
    virSetErrorFunc(NULL, tgQuietErrors);
    if (!(env = tgEnvNew(&err)))
        g_error("%s", err->message);
    /* a MAC of its own: udhcpd keeps sending from the MAC it found at its start */
    net = tnBridgeNew("lvcid", BRIDGE_MAC, BRIDGE_IP "/24");
    tnBridgeDhcp(net, DHCP_FIRST, DHCP_LAST, BRIDGE_IP);
    g_test_add_func("/identity/network", testNetworkIdentity);
    g_test_add_func("/identity/no-agent", testNoAgent);
    g_test_add_func("/identity/step-fails-rollback", testStepFailsRollback);
    ret = g_test_run();
    g_clear_pointer(&net, tnBridgeFree);
    tgEnvFree(env);
    return ret;
}
