/*
 * test-netstacks.c: live clones of real guests get their own DHCP lease and
 * never answer for the source, whatever network stack the guest runs
 *
 * Run under tests/daemon/run-in-daemon.sh (a private libvirtd with libvirt's
 * `default` NAT network: dnsmasq keys its leases on the DHCP client ID, as on
 * a stock host), as root.
 *
 *  - /netstacks/source-address/{fail,warn} (busybox test guest, a bridge of
 *    the test's own with busybox udhcpd): the DHCP server hands the clone's
 *    MAC the source's address (a static lease), as dnsmasq did to a clone
 *    that asked with the source's client ID.  The library must see the
 *    source's address on the clone and fail the step: on-failure='fail'
 *    rolls the clone back; 'warn' keeps it, with a warning and its link
 *    down again.  The source keeps its address, neighbour entry and TCP
 *    connection.
 *  - /netstacks/debian/{networkd,netplan,networkmanager,ifupdown} (the
 *    Debian 12 guest of tests/guest/debian, lvc.netstack=STACK, on the
 *    `default` network): one source per stack, cloned with
 *    examples/xml/fanout-service.xml.  The clone ends with its own MAC
 *    inside the guest; its own lease (a distinct address and client ID in
 *    dnsmasq's lease file); the new host name and machine-id, also as
 *    hostnamectl and the network daemon see them; systemctl
 *    is-system-running no worse than the source's; a journal that shows
 *    entries after the change.  A capture of every frame the host receives
 *    proves that the clone never claimed the source's address; the host's
 *    neighbour entry and a TCP connection to the source stay the source's.
 *  - /netstacks/debian/sandbox: a sandbox clone of the networkd guest is
 *    isolated (nothing from it reaches the default network's bridge) and
 *    its attempts are alerts, as for the busybox guest.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "testutils-distro.h"
#include "testutils-guest.h"
#include "testutils-net.h"

#define ECHO_PORT 7
#define EXEC_MS 60000

static TgEnv *env;
static GPtrArray *warnings;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)


/* ---- helpers ------------------------------------------------------------------------ */

static void
testLogCb(int priority, const char *message, void *opaque G_GNUC_UNUSED)
{
    if (priority == VIR_CLONE_LOG_WARN && warnings)
        g_ptr_array_add(warnings, g_strdup(message));
    /* what the identity steps found and did */
    if (priority >= VIR_CLONE_LOG_WARN ||
        (g_str_has_prefix(message, "clone '") && priority >= VIR_CLONE_LOG_DEBUG))
        g_test_message("libvirt-clone: %s", message);
}


static unsigned long long
testStat(virTypedParameterPtr stats, int n, const char *name)
{
    unsigned long long v = 0;

    g_assert_cmpint(virTypedParamsGetULLong(stats, n, name, &v), ==, 1);
    return v;
}


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


static gboolean
testEchoOnce(const char *ip, const char *msg)
{
    int fd = -1;
    gboolean ok = FALSE;

    for (guint i = 0; i < 10 && fd < 0; i++)
        if ((fd = testEchoConnect(ip)) < 0)
            g_usleep(G_USEC_PER_SEC / 2);
    if (fd >= 0) {
        ok = testEcho(fd, msg);
        close(fd);
    }
    return ok;
}


/* The first IPv4 address of the NIC with @mac, as the guest agent reports
 * it, waiting up to @timeout_s for one; NULL if none. */
static char *
testAgentIPv4(virDomainPtr dom, const char *mac, guint timeout_s)
{
    gint64 deadline = g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC;

    do {
        virDomainInterfacePtr *ifs = NULL;
        int n = virDomainInterfaceAddresses(dom, &ifs, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0);
        char *found = NULL;

        for (int i = 0; i < n; i++) {
            for (unsigned int j = 0; !found && ifs[i]->hwaddr &&
                 g_ascii_strcasecmp(ifs[i]->hwaddr, mac) == 0 && j < ifs[i]->naddrs; j++)
                if (ifs[i]->addrs[j].type == VIR_IP_ADDR_TYPE_IPV4)
                    found = g_strdup(ifs[i]->addrs[j].addr);
            virDomainInterfaceFree(ifs[i]);
        }
        g_free(ifs);
        if (found)
            return found;
        g_usleep(G_USEC_PER_SEC / 2);
    } while (g_get_monotonic_time() < deadline);
    return NULL;
}


/* ---- the source's address, handed to the clone (busybox guest) ------------------------ */

#define BB_BRIDGE_IP "10.83.0.1"
#define BB_BRIDGE_MAC "02:00:0a:53:00:01"
#define BB_SOURCE_IP "10.83.0.10"
#define BB_CLONE_MAC_FAIL "02:00:0a:53:00:f1"
#define BB_CLONE_MAC_WARN "02:00:0a:53:00:f2"

static TnBridge *bbNet;
static TgGuest *bbSource;      /* shared by both cases: a failed clone leaves it as it was */


static void
testSourceAddress(gconstpointer data)
{
    gboolean warn = GPOINTER_TO_INT(data);
    const char *cloneMac = warn ? BB_CLONE_MAC_WARN : BB_CLONE_MAC_FAIL;
    TgGuestOpts opts = {
        .name_prefix = "nsbb", .mode = TG_MODE_IDLE, .memory_mib = 256,
        .buffer_mib = 16, .disk_records_off = TRUE, .with_agent = TRUE,
        .nic_bridge = tnBridgeName(bbNet), .echo = TRUE,
        .extra_cmdline = "clonetest.ip=" BB_SOURCE_IP "/24 clonetest.gw=" BB_BRIDGE_IP,
    };
    TgGuest *src;
    g_autoptr(virDomain) clone = NULL;
    g_autofree char *srcMac = NULL;
    g_autofree char *srcTap = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *neigh = NULL;
    g_autofree char *link = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    guint domains;
    TnCapture *cap;
    int conn;

    if (!g_getenv("TG_GUEST_DIR")) {
        g_test_skip("no busybox test guest (TG_GUEST_DIR)");
        return;
    }
    if (!bbSource)
        bbSource = tgGuestStartOrDie(env, &opts);
    src = bbSource;
    srcMac = tgDomainXMLMatch(tgGuestDomain(src), "<mac address='([^']+)'/>");
    srcTap = tgDomainXMLMatch(tgGuestDomain(src), "<target dev='([^']+)'/>");
    policy = g_strdup_printf(
        "<clonepolicy><identity><guest-agent on-failure='%s' timeout='15'/></identity>"
        "<network mode='inherit'><interface source='%s' mac='%s'/></network></clonepolicy>",
        warn ? "warn" : "fail", srcMac, cloneMac);

    cap = tnCaptureStart();
    tnCaptureWatch(cap, srcMac);
    tnCaptureWatch(cap, cloneMac);
    conn = testEchoConnect(BB_SOURCE_IP);
    g_assert_cmpint(conn, >=, 0);
    g_assert_true(testEcho(conn, "before the clone\n"));
    neigh = tnNeighMac(BB_SOURCE_IP);
    g_assert_cmpstr(neigh, ==, srcMac);
    g_clear_pointer(&neigh, g_free);
    domains = tgNumDomains(env);

    warnings = g_ptr_array_new_with_free_func(g_free);
    virCloneSetLogFunc(testLogCb, NULL);
    clone = virDomainCloneLiveFull(tgGuestDomain(src), policy, NULL, NULL, &stats, &nstats, 0);
    virCloneSetLogFunc(NULL, NULL);
    if (!warn) {
        const virCloneError *e = virCloneGetLastError();

        g_assert_null(clone);
        g_assert_nonnull(e);
        g_test_message("failed as it should: %s", e->message);
        g_assert_cmpint(e->code, ==, VIR_CLONE_ERR_GUEST);
        g_assert_nonnull(strstr(e->message, "source's address " BB_SOURCE_IP));
        g_assert_cmpuint(tgNumDomains(env), ==, domains);
    } else {
        gboolean seen = FALSE;

        if (!clone)
            g_error("clone: %s", virCloneGetLastErrorMessage());
        for (guint i = 0; i < warnings->len; i++) {
            const char *w = g_ptr_array_index(warnings, i);

            g_test_message("warning: %s", w);
            seen |= strstr(w, "source's address " BB_SOURCE_IP) != NULL;
        }
        g_assert_true(seen);
        g_assert_cmpuint(testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED), >=, 1);
        link = tgDomainXMLMatch(clone, "<link state='([^']+)'/>");
        g_assert_cmpstr(link, ==, "down");
        virTypedParamsFree(stats, nstats);
    }
    g_clear_pointer(&warnings, g_ptr_array_unref);

    /* the source: its connection, its neighbour entry, its frames */
    g_assert_true(testEcho(conn, "after the clone\n"));
    close(conn);
    g_assert_true(testEchoOnce(BB_SOURCE_IP, "to the source\n"));
    neigh = tnNeighMac(BB_SOURCE_IP);
    g_assert_cmpstr(neigh, ==, srcMac);
    g_test_message("frames claiming %s: %u from the source, %u from the clone's MAC",
                   BB_SOURCE_IP, tnCaptureClaims(cap, srcMac, BB_SOURCE_IP),
                   tnCaptureClaims(cap, cloneMac, BB_SOURCE_IP));
    g_assert_cmpuint(tnCaptureCount(cap, srcMac, srcTap), >, 0);
    tnCaptureStop(cap);
    if (clone)
        virDomainDestroy(clone);
}


/* ---- Debian guests on libvirt's default network ---------------------------------------- */

/* dnsmasq's lease of @mac in libvirt's status file of the network's bridge:
 * its address and client ID ("" if none); FALSE if there is none. */
static gboolean
testDnsmasqLease(const char *bridge, const char *mac, char **ip, char **clientId)
{
    g_autofree char *path = g_strdup_printf("/var/lib/libvirt/dnsmasq/%s.status", bridge);
    g_autofree char *text = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonArray *arr;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !*g_strstrip(text) ||
        !json_parser_load_from_data(parser, text, -1, NULL) ||
        !JSON_NODE_HOLDS_ARRAY(json_parser_get_root(parser)))
        return FALSE;
    arr = json_node_get_array(json_parser_get_root(parser));
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);

        if (g_ascii_strcasecmp(json_object_get_string_member_with_default(o, "mac-address", ""), mac))
            continue;
        *ip = g_strdup(json_object_get_string_member_with_default(o, "ip-address", ""));
        *clientId = g_strdup(json_object_get_string_member_with_default(o, "client-id", ""));
        return TRUE;
    }
    return FALSE;
}


static char *
testExecOut(TgDistro *d, const char *const *argv)
{
    g_autoptr(GError) err = NULL;
    char *out = tgDistroExecOut(d, argv, EXEC_MS, &err);

    if (!out)
        g_error("%s in %s: %s", argv[0], tgDistroName(d), err->message);
    return out;
}


/* "running" < "degraded" < anything else */
static int
testSystemRank(const char *state)
{
    if (g_str_equal(state, "running"))
        return 0;
    if (g_str_equal(state, "degraded"))
        return 1;
    return 2;
}


static char *
testSystemState(TgDistro *d)
{
    const char *argv[] = { "systemctl", "is-system-running", NULL };
    g_autoptr(GError) err = NULL;
    char *out = NULL;
    int code = 0;

    if (tgDistroExec(d, argv, EXEC_MS, &code, &out, NULL, &err) < 0)
        g_error("systemctl is-system-running: %s", err->message);
    return g_strstrip(out);
}


/* The guest's interface name of the NIC with @mac. */
static char *
testIfname(TgDistro *d, const char *mac)
{
    const char *argv[] = { "ip", "-o", "link", "show", NULL };
    g_autofree char *out = testExecOut(d, argv);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) w = g_strsplit_set(lines[i], " :", -1);
        g_autofree char *low = g_ascii_strdown(lines[i], -1);

        if (strstr(low, mac)) {
            for (guint j = 1; w[j]; j++)
                if (*w[j])
                    return g_strdup(w[j]);
        }
    }
    g_error("no interface with %s in %s", mac, tgDistroName(d));
}


/* What the stack's daemon says about its DHCPv4 identity on @ifname. */
static char *
testDaemonView(TgDistro *d, const char *stack, const char *ifname)
{
    if (g_str_equal(stack, "networkd") || g_str_equal(stack, "netplan")) {
        const char *argv[] = { "networkctl", "status", "--no-pager", "--lines=0", ifname, NULL };

        return testExecOut(d, argv);
    }
    if (g_str_equal(stack, "networkmanager")) {
        const char *argv[] = { "nmcli", "-t", "-f", "GENERAL.STATE,IP4.ADDRESS,DHCP4", "device",
                               "show", ifname, NULL };

        return testExecOut(d, argv);
    }
    {
        g_autofree char *lf = g_strdup_printf("/var/lib/dhcp/dhclient.%s.leases", ifname);
        const char *argv[] = { "cat", lf, NULL };

        return testExecOut(d, argv);
    }
}


/* Whether @text has the address @ip as a whole (192.168.122.2 is not in
 * 192.168.122.206). */
static gboolean
testHasAddr(const char *text, const char *ip)
{
    size_t len = strlen(ip);

    for (const char *p = strstr(text, ip); p; p = strstr(p + 1, ip)) {
        gboolean before = p > text && (g_ascii_isdigit(p[-1]) || p[-1] == '.');
        gboolean after = g_ascii_isdigit(p[len]) || (p[len] == '.' && g_ascii_isdigit(p[len + 1]));

        if (!before && !after)
            return TRUE;
    }
    return FALSE;
}


static char *
testLoadExample(const char *name)
{
    const char *dir = g_getenv("EXAMPLES_DIR");
    g_autofree char *path = g_build_filename(dir ? dir : "examples/xml", name, NULL);
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}


static char *
testReplace(const char *text, const char *what, const char *with)
{
    g_auto(GStrv) parts = g_strsplit(text, what, 2);

    return g_strjoinv(with, parts);
}


static gboolean
testHaveDebian(void)
{
    g_autoptr(GError) err = NULL;

    if (g_strcmp0(g_getenv("LVC_DAEMON_NETWORK"), "default") != 0) {
        g_test_skip("not under tests/daemon/run-in-daemon.sh with libvirt's default network");
        return FALSE;
    }
    if (tgDistroImageEnsure(&err) < 0) {
        g_test_skip(err->message);
        return FALSE;
    }
    return TRUE;
}


static TgDistro *
testDebianSource(const char *stack)
{
    TgDistroOpts o = {
        .name_prefix = "lvcns", .stack = stack, .nic = TG_DISTRO_NIC_NETWORK,
        .nic_source = "default", .with_genid = TRUE, .memory_mib = 1024,
        /* no status lines of systemd on the serial console: under load one
         * ("A start job is running ...") ended in an escape sequence just
         * before the ready line, which then did not start the line */
        .extra_cmdline = "systemd.show_status=0",
    };
    g_autoptr(GError) err = NULL;
    TgDistro *d;
    gint64 t0 = g_get_monotonic_time();

    if (!(d = tgDistroStart(env, &o, &err)))
        g_error("Debian guest (%s): %s", stack, err->message);
    g_test_message("%s: booted in %.1f s (host), state %s, stack %s", tgDistroName(d),
                   (g_get_monotonic_time() - t0) / 1e6, tgDistroReadyInfo(d)->state,
                   tgDistroReadyInfo(d)->stack);
    g_assert_cmpstr(tgDistroReadyInfo(d)->stack, ==, stack);
    return d;
}


static void
testDebianStack(gconstpointer data)
{
    const char *stack = data;
    g_autoptr(TgDistro) src = NULL;
    g_autoptr(TgDistro) cd = NULL;
    g_autoptr(virDomain) clone = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *example = NULL;
    g_autofree char *cloneDisk = NULL;
    g_autofree char *srcMac = NULL, *srcTap = NULL, *srcIp = NULL, *ifname = NULL;
    g_autofree char *cloneMac = NULL, *cloneTap = NULL, *cloneIp = NULL;
    g_autofree char *srcState = NULL, *cloneState = NULL;
    g_autofree char *srcView = NULL, *cloneView = NULL;
    g_autofree char *leaseIp = NULL, *srcClientId = NULL, *cloneLeaseIp = NULL, *cloneClientId = NULL;
    g_autofree char *neigh = NULL, *hostnamectl = NULL, *machineId = NULL, *journal = NULL;
    g_autofree char *cloneIfname = NULL, *guestMac = NULL, *macPath = NULL;
    const char *echo[] = { "systemd-run", "--unit=lvc-echo", "/usr/bin/systemd-socket-activate",
                           "-l", "7", "--inetd", "-a", "/bin/cat", NULL };
    const char *hn[] = { "hostnamectl", "status", NULL };
    const char *mid[] = { "cat", "/etc/machine-id", NULL };
    const char *logger[] = { "logger", "-t", "lvctest", "after the clone", NULL };
    const char *jctl[] = { "journalctl", "--no-pager", "-q", "-o", "cat", "-t", "lvctest", NULL };
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    gint64 t0;
    TnCapture *cap;
    int conn;

    if (!testHaveDebian())
        return;
    src = testDebianSource(stack);
    srcMac = tgDomainXMLMatch(tgDistroDomain(src), "<mac address='([^']+)'/>");
    srcTap = tgDomainXMLMatch(tgDistroDomain(src), "<target dev='([^']+)'/>");
    if (!(srcIp = testAgentIPv4(tgDistroDomain(src), srcMac, 120)))
        g_error("the source has no IPv4 address");
    ifname = testIfname(src, srcMac);
    srcState = testSystemState(src);
    srcView = testDaemonView(src, stack, ifname);
    g_free(testExecOut(src, echo));
    g_assert_true(testDnsmasqLease("virbr0", srcMac, &leaseIp, &srcClientId));
    g_assert_cmpstr(leaseIp, ==, srcIp);
    g_test_message("source %s: %s %s on %s, client ID '%s', system %s", tgDistroName(src),
                   srcMac, srcIp, ifname, srcClientId, srcState);

    cap = tnCaptureStart();
    tnCaptureWatch(cap, srcMac);
    /* the echo service needs a moment to listen */
    for (guint i = 0; i < 20 && (conn = testEchoConnect(srcIp)) < 0; i++)
        g_usleep(G_USEC_PER_SEC / 2);
    g_assert_cmpint(conn, >=, 0);
    g_assert_true(testEcho(conn, "before the clone\n"));
    neigh = tnNeighMac(srcIp);
    g_assert_cmpstr(neigh, ==, srcMac);
    g_clear_pointer(&neigh, g_free);

    /* the fan-out example, as a user would run it, with a longer timeout
     * per step: restarting a daemon under TCG on a busy 2-core machine
     * took more than the default 10 s */
    example = testLoadExample("fanout-service.xml");
    g_assert_nonnull(strstr(example, "<guest-agent on-failure='fail' timeout='30'/>"));
    policy = testReplace(example, "timeout='30'", "timeout='120'");
    /* the replicas' overlays in the test's root, which goes however the
     * test ends */
    g_assert_nonnull(strstr(policy, "<disks dir='/var/lib/libvirt-clone/replicas'/>"));
    {
        g_autofree char *disks = g_strdup_printf("<disks dir='%s'/>", tgEnvRoot(env));
        g_autofree char *p = testReplace(policy, "<disks dir='/var/lib/libvirt-clone/replicas'/>", disks);

        g_free(policy);
        policy = g_steal_pointer(&p);
    }
    virCloneSetLogFunc(testLogCb, NULL);
    t0 = g_get_monotonic_time();
    clone = virDomainCloneLiveFull(tgDistroDomain(src), policy, NULL, NULL, &stats, &nstats, 0);
    virCloneSetLogFunc(NULL, NULL);
    if (!clone)
        g_error("clone: %s", virCloneGetLastErrorMessage());
    g_test_message("clone %s in %.1f s: %llu steps inside the guest in %.1f ms, network up %.1f ms after the resume",
                   virDomainGetName(clone), (g_get_monotonic_time() - t0) / 1e6,
                   testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS),
                   testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY) / 1000.0,
                   testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP) / 1000.0);
    g_assert_cmpuint(testStat(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED), ==, 0);
    virTypedParamsFree(stats, nstats);
    cloneMac = tgDomainXMLMatch(clone, "<mac address='([^']+)'/>");
    cloneTap = tgDomainXMLMatch(clone, "<target dev='([^']+)'/>");
    cloneDisk = tgDomainXMLMatch(clone, "<source file='([^']+)'");
    tnCaptureWatch(cap, cloneMac);
    if (!(cd = tgDistroAdopt(env, clone, &err)))
        g_error("adopt: %s", err->message);

    /* its own MAC inside the guest */
    cloneIfname = testIfname(cd, cloneMac);
    g_assert_cmpstr(cloneIfname, ==, ifname);
    macPath = g_strdup_printf("/sys/class/net/%s/address", ifname);
    {
        const char *argv[] = { "cat", macPath, NULL };

        guestMac = g_strstrip(testExecOut(cd, argv));
    }
    g_assert_cmpstr(guestMac, ==, cloneMac);

    /* its own lease: address and client ID */
    if (!(cloneIp = testAgentIPv4(clone, cloneMac, 30)))
        g_error("the clone has no IPv4 address");
    g_assert_cmpstr(cloneIp, !=, srcIp);
    g_assert_true(testDnsmasqLease("virbr0", cloneMac, &cloneLeaseIp, &cloneClientId));
    g_test_message("clone: %s %s, client ID '%s'", cloneMac, cloneIp, cloneClientId);
    g_assert_cmpstr(cloneLeaseIp, ==, cloneIp);
    if (*srcClientId || *cloneClientId)
        g_assert_cmpstr(cloneClientId, !=, srcClientId);
    g_clear_pointer(&leaseIp, g_free);
    g_clear_pointer(&srcClientId, g_free);
    g_assert_true(testDnsmasqLease("virbr0", srcMac, &leaseIp, &srcClientId));
    g_assert_cmpstr(leaseIp, ==, srcIp);

    /* host name and machine-id, and as the daemons see them */
    hostnamectl = testExecOut(cd, hn);
    machineId = g_strstrip(testExecOut(cd, mid));
    g_test_message("clone's hostnamectl:\n%s", hostnamectl);
    g_assert_cmpstr(machineId, !=, tgDistroReadyInfo(src)->machine_id);
    g_assert_nonnull(strstr(hostnamectl, "replica1"));
    g_assert_nonnull(strstr(hostnamectl, machineId));
    cloneView = testDaemonView(cd, stack, ifname);
    g_test_message("source's %s:\n%s\nclone's:\n%s", stack, srcView, cloneView);
    g_assert_true(testHasAddr(cloneView, cloneIp));
    g_assert_false(testHasAddr(cloneView, srcIp));
    if (g_str_equal(stack, "networkd") || g_str_equal(stack, "netplan")) {
        g_autofree char *a = NULL;
        g_autofree char *b = NULL;
        /* "DHCP4 Client ID: IAID:0x.../DUID" names the DUID of this line */
        const char *k = "DHCP6 Client DUID:";

        a = g_strdup(strstr(srcView, k));
        b = g_strdup(strstr(cloneView, k));
        g_assert_nonnull(a);
        g_assert_nonnull(b);
        *strchrnul(a, '\n') = '\0';
        *strchrnul(b, '\n') = '\0';
        g_assert_cmpstr(a, !=, b);
    }

    /* the system no worse, the journal readable */
    cloneState = testSystemState(cd);
    g_test_message("systemctl is-system-running: source %s, clone %s", srcState, cloneState);
    g_assert_cmpint(testSystemRank(cloneState), <=, testSystemRank(srcState));
    g_free(testExecOut(cd, logger));
    for (guint i = 0; i < 20; i++) {
        g_clear_pointer(&journal, g_free);
        journal = testExecOut(cd, jctl);
        if (strstr(journal, "after the clone"))
            break;
        g_usleep(G_USEC_PER_SEC / 4);
    }
    g_assert_nonnull(strstr(journal, "after the clone"));

    /* the source: its connection, neighbour entry and address; both answer */
    g_assert_true(testEcho(conn, "after the clone\n"));
    close(conn);
    g_assert_true(testEchoOnce(cloneIp, "to the clone\n"));
    g_assert_true(testEchoOnce(srcIp, "to the source\n"));
    neigh = tnNeighMac(srcIp);
    g_assert_cmpstr(neigh, ==, srcMac);
    {
        g_autofree char *again = testAgentIPv4(tgDistroDomain(src), srcMac, 5);

        g_assert_cmpstr(again, ==, srcIp);
    }
    /* on the wire: the clone spoke with its own MAC and address, never
     * claimed the source's address and never used the source's MAC */
    g_usleep(G_USEC_PER_SEC);
    g_test_message("frames in from the clone's tap: %u with its MAC, %u with the source's; "
                   "claiming %s: %u from the clone's MAC",
                   tnCaptureCount(cap, cloneMac, cloneTap), tnCaptureCount(cap, srcMac, cloneTap),
                   srcIp, tnCaptureClaims(cap, cloneMac, srcIp));
    g_assert_cmpuint(tnCaptureCount(cap, cloneMac, cloneTap), >, 0);
    g_assert_cmpuint(tnCaptureClaims(cap, cloneMac, cloneIp), >, 0);
    g_assert_cmpuint(tnCaptureCount(cap, srcMac, cloneTap), ==, 0);
    g_assert_cmpuint(tnCaptureClaims(cap, cloneMac, srcIp), ==, 0);
    g_assert_cmpuint(tnCaptureClaims(cap, srcMac, srcIp), >, 0);
    tnCaptureStop(cap);
    /* the replica's overlay */
    g_clear_pointer(&cd, tgDistroFree);
    g_assert_nonnull(cloneDisk);
    g_unlink(cloneDisk);
}


#define SANDBOX_MAC "52:54:00:5a:0b:01"

static void
testDebianSandbox(void)
{
    g_autoptr(TgDistro) src = NULL;
    g_autoptr(virDomain) clone = NULL;
    g_autoptr(TgDistro) cd = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *alertLog = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *alerts = NULL;
    g_autofree char *srcMac = NULL, *cloneMac = NULL, *srcIp = NULL, *cloneTap = NULL;
    TnCapture *cap;

    if (!testHaveDebian())
        return;
    src = testDebianSource("networkd");
    srcMac = tgDomainXMLMatch(tgDistroDomain(src), "<mac address='([^']+)'/>");
    if (!(srcIp = testAgentIPv4(tgDistroDomain(src), srcMac, 120)))
        g_error("the source has no IPv4 address");
    alertLog = g_build_filename(tgEnvRoot(env), "netstacks-alerts.log", NULL);
    /* the clone's MAC is chosen here, so that the capture watches it from
     * before the clone's first frame */
    policy = g_strdup_printf("<clonepolicy><identity><hostname mode='set'>sandbox%%{n}</hostname>"
                             "<machine-id mode='regenerate'/><guest-agent timeout='120'/></identity>"
                             "<network mode='sandbox'><interface source='%s' mac='%s'/>"
                             "<alert log='%s'/></network></clonepolicy>",
                             srcMac, SANDBOX_MAC, alertLog);
    cap = tnCaptureStart();
    tnCaptureWatch(cap, SANDBOX_MAC);
    virCloneSetLogFunc(testLogCb, NULL);
    clone = virDomainCloneLive(tgDistroDomain(src), policy, 0);
    virCloneSetLogFunc(NULL, NULL);
    if (!clone)
        g_error("sandbox clone: %s", virCloneGetLastErrorMessage());
    cloneMac = tgDomainXMLMatch(clone, "<mac address='([^']+)'/>");
    cloneTap = tgDomainXMLMatch(clone, "<target dev='([^']+)'/>");
    g_assert_cmpstr(cloneMac, ==, SANDBOX_MAC);
    tnCaptureWatch(cap, srcMac);
    /* the source answers on the default network meanwhile (a refused
     * connection: its RST) */
    g_assert_cmpint(testEchoConnect(srcIp), <, 0);
    if (!(cd = tgDistroAdopt(env, clone, &err)))
        g_error("adopt: %s", err->message);
    /* networkd in the clone lost the source's lease with the carrier and
     * asks DHCP again on the isolated bridge: an alert, and nothing of it
     * on the default network's bridge */
    g_usleep(2 * G_USEC_PER_SEC);
    /* a sandbox's guest keeps the source's MAC (guest-mac auto is keep
     * there): the clone's frames are those that come in on its tap */
    g_test_message("frames on the clone's tap %s: %u with the source's MAC, %u with the clone's",
                   cloneTap, tnCaptureCount(cap, srcMac, cloneTap),
                   tnCaptureCount(cap, cloneMac, cloneTap));
    g_assert_cmpuint(tnCaptureCount(cap, srcMac, cloneTap) + tnCaptureCount(cap, cloneMac, cloneTap), >, 0);
    g_assert_cmpuint(tnCaptureCount(cap, cloneMac, "virbr0"), ==, 0);
    {
        g_autofree char *link = g_strdup_printf("/sys/class/net/%s/master", cloneTap);
        g_autofree char *master = g_file_read_link(link, NULL);

        g_test_message("the clone's tap is a port of %s", master ? master : "nothing");
        g_assert_nonnull(master);
        g_assert_false(g_str_has_suffix(master, "/virbr0"));
    }
    g_assert_true(g_file_get_contents(alertLog, &alerts, NULL, NULL));
    g_test_message("alert log:\n%s", alerts);
    g_assert_nonnull(strstr(alerts, "\"clone\":\""));
    g_assert_nonnull(strstr(alerts, "\"dst_port\":67"));
    g_assert_cmpuint(tnCaptureCount(cap, srcMac, "virbr0"), >, 0);
    tnCaptureStop(cap);
    g_unlink(alertLog);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    gint64 t0 = g_get_monotonic_time();
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (getuid() != 0) {
        g_test_skip("needs root (bridges, packet capture, libvirt)");
        return g_test_run();
    }
    virSetErrorFunc(NULL, tgQuietErrors);
    if (!(env = tgEnvNew(&err)))
        g_error("%s", err->message);
    bbNet = tnBridgeNew("lvcns", BB_BRIDGE_MAC, BB_BRIDGE_IP "/24");
    {
        g_autofree char *leases = g_strdup_printf("static_lease %s %s\nstatic_lease %s %s\n",
                                                  BB_CLONE_MAC_FAIL, BB_SOURCE_IP,
                                                  BB_CLONE_MAC_WARN, BB_SOURCE_IP);

        tnBridgeDhcpExtra(bbNet, "10.83.0.100", "10.83.0.150", BB_BRIDGE_IP, leases);
    }
    g_test_add_data_func("/netstacks/source-address/fail", GINT_TO_POINTER(FALSE), testSourceAddress);
    g_test_add_data_func("/netstacks/source-address/warn", GINT_TO_POINTER(TRUE), testSourceAddress);
    g_test_add_data_func("/netstacks/debian/networkd", "networkd", testDebianStack);
    g_test_add_data_func("/netstacks/debian/netplan", "netplan", testDebianStack);
    g_test_add_data_func("/netstacks/debian/networkmanager", "networkmanager", testDebianStack);
    g_test_add_data_func("/netstacks/debian/ifupdown", "ifupdown", testDebianStack);
    g_test_add_func("/netstacks/debian/sandbox", testDebianSandbox);
    ret = g_test_run();
    g_clear_pointer(&bbSource, tgGuestFree);
    g_clear_pointer(&bbNet, tnBridgeFree);
    tgEnvFree(env);
    g_test_message("test-netstacks: %.0f s in all", (g_get_monotonic_time() - t0) / 1e6);
    return ret;
}
