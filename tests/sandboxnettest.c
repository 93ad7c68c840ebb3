/*
 * sandboxnettest.c: the sandbox bridge through real netlink, and the hook
 *
 * /sandbox-net/ cases make a bridge lvct<pid%10000> (and a veth pair
 * lvcv<pid%10000>, lvcv<pid%10000>p) with the library, change it behind
 * its back with ip(8) and check what the library sees.  They need root; the
 * test first moves into a network namespace of its own when it can, so
 * that nothing it does is visible on the host, and deletes what it made
 * after every case all the same.  Without root they are skipped.
 *
 * /hook/ cases run the hook's logic on domain XMLs written here; those
 * that touch no network run everywhere.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_hook.h"
#include "clone_sandbox_net.h"
#include "testutils.h"

#include <sched.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <glib/gstdio.h>

static const char *netSkip;   /* why the netlink cases are skipped, or NULL */

typedef struct {
    char *bridge;   /* lvct<id> */
    char *veth;     /* lvcv<id>, a veth whose peer is lvcv<id>p */
    char *peer;
} NetFixture;


/* ip ARGS...: TRUE if it exits 0; its output in @out if not NULL. */
static gboolean G_GNUC_NULL_TERMINATED
testIp(char **out, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *errout = NULL;
    g_autofree char *stdout_ = NULL;
    const char *arg;
    int status = -1;
    va_list ap;

    g_ptr_array_add(argv, (gpointer)"ip");
    va_start(ap, out);
    while ((arg = va_arg(ap, const char *)))
        g_ptr_array_add(argv, (gpointer)arg);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                      &stdout_, &errout, &status, &err)) {
        g_test_message("cannot run ip: %s", err->message);
        return FALSE;
    }
    if (out)
        *out = g_steal_pointer(&stdout_);
    return g_spawn_check_wait_status(status, NULL);
}


static void
testWriteProc(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");

    g_assert_nonnull(f);
    g_assert_cmpint(fputs(value, f), >=, 0);
    g_assert_cmpint(fclose(f), ==, 0);
}


static char *
testReadConf(const char *family, const char *dev, const char *name)
{
    g_autofree char *path = g_strdup_printf("/proc/sys/net/%s/conf/%s/%s", family, dev, name);
    char *value = NULL;

    g_assert_true(g_file_get_contents(path, &value, NULL, NULL));
    return g_strstrip(value);
}


static void
testExpectError(int rc, const char *part)
{
    const char *msg = virCloneGetLastErrorMessage();

    g_assert_cmpint(rc, ==, -1);
    if (!strstr(msg, part)) {
        g_test_message("expected '%s' in the error '%s'", part, msg);
        g_test_fail();
    }
}


/* "ip -o addr show dev X": the addresses as ip(8) sees them, not netlink
 * through the library. */
static char *
testAddresses(const char *dev)
{
    g_autofree char *out = NULL;

    g_assert_true(testIp(&out, "-o", "addr", "show", "dev", dev, NULL));
    return g_strstrip(g_steal_pointer(&out));
}


static char *
testLinkDetails(const char *dev)
{
    char *out = NULL;

    g_assert_true(testIp(&out, "-d", "link", "show", "dev", dev, NULL));
    return out;
}


static void
netCleanup(NetFixture *fx)
{
    if (netSkip)
        return;
    testIp(NULL, "link", "del", "dev", fx->veth, NULL);
    testIp(NULL, "link", "del", "dev", fx->bridge, NULL);
}


static void
netSetup(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    guint id = (guint)getpid() % 10000;

    fx->bridge = g_strdup_printf("lvct%u", id);
    fx->veth = g_strdup_printf("lvcv%u", id);
    fx->peer = g_strdup_printf("lvcv%up", id);
    netCleanup(fx); /* what a crashed run with the same id left */
    virCloneResetLastError();
}


static void
netTeardown(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    netCleanup(fx);
    g_free(fx->bridge);
    g_free(fx->veth);
    g_free(fx->peer);
}


static gboolean
netSkipped(void)
{
    if (netSkip)
        g_test_skip(netSkip);
    return netSkip != NULL;
}


static void
testAddVethPort(NetFixture *fx)
{
    g_assert_true(testIp(NULL, "link", "add", fx->veth, "type", "veth", "peer", "name", fx->peer, NULL));
    g_assert_true(testIp(NULL, "link", "set", "dev", fx->veth, "master", fx->bridge, NULL));
    g_assert_true(testIp(NULL, "link", "set", "dev", fx->veth, "up", NULL));
}


/* ---- names ------------------------------------------------------------------ */

static void
testNames(void)
{
    /* the last one has 16 characters, one too many */
    const char *bad[] = { "", ".", "..", "a/b", "a b", "a:b", "lvcsandbox012345" };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(cloneSandboxBridgeNameCheck(bad[i]));
        testExpectError(-1, "invalid bridge name");
    }
    g_assert_false(cloneSandboxBridgeNameCheck(NULL));
    g_assert_true(cloneSandboxBridgeNameCheck(CLONE_SANDBOX_BRIDGE));
    g_assert_true(cloneSandboxBridgeNameCheck("lvcsandbox01234"));
    testExpectError(cloneSandboxBridgeEnsure("a/b"), "invalid bridge name 'a/b'");
    testExpectError(cloneSandboxVerify("../x", NULL), "invalid bridge name '../x'");
    testExpectError(cloneSandboxBridgeRemoveIfUnused(""), "invalid bridge name ''");
}


/* ---- the bridge ----------------------------------------------------------------- */

static void
testEnsure(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *details = NULL;
    g_autofree char *addrs = NULL;
    g_auto(GStrv) ports = NULL;
    g_autofree char *disable = NULL;
    g_autofree char *path = NULL;

    if (netSkipped())
        return;
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    details = testLinkDetails(fx->bridge);
    g_assert_nonnull(strstr(details, ",UP"));
    g_assert_nonnull(strstr(details, " bridge "));
    g_assert_nonnull(strstr(details, "stp_state 0"));
    g_assert_nonnull(strstr(details, "mcast_snooping 0"));
    g_assert_nonnull(strstr(details, "addrgenmode none"));
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, NULL), ==, 0);
    ports = cloneSandboxBridgePorts(fx->bridge);
    g_assert_nonnull(ports);
    g_assert_cmpuint(g_strv_length(ports), ==, 0);

    g_assert_cmpstr((disable = testReadConf("ipv6", fx->bridge, "disable_ipv6")), ==, "1");
    g_clear_pointer(&disable, g_free);

    /* the address generation mode alone keeps the link-local address away:
     * without disable_ipv6, down and up again, and give DAD time */
    path = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", fx->bridge);
    testWriteProc(path, "0");
    g_assert_true(testIp(NULL, "link", "set", "dev", fx->bridge, "down", NULL));
    g_assert_true(testIp(NULL, "link", "set", "dev", fx->bridge, "up", NULL));
    g_usleep(G_USEC_PER_SEC);
    g_assert_cmpstr((addrs = testAddresses(fx->bridge)), ==, "");
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, NULL), ==, 0);

    /* ensure puts disable_ipv6 back */
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    g_assert_cmpstr((disable = testReadConf("ipv6", fx->bridge, "disable_ipv6")), ==, "1");
}


/* A bridge made by someone else, up, with its IPv6 link-local address:
 * ensure takes it over and the address goes. */
static void
testEnsureExisting(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *path = NULL;
    g_autofree char *addrs = NULL;
    g_autofree char *after = NULL;

    if (netSkipped())
        return;
    g_assert_true(testIp(NULL, "link", "add", fx->bridge, "type", "bridge", NULL));
    path = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", fx->bridge);
    testWriteProc(path, "0");
    g_assert_true(testIp(NULL, "link", "set", "dev", fx->bridge, "up", NULL));
    addrs = testAddresses(fx->bridge);
    if (!strstr(addrs, "inet6 fe80::")) {
        g_test_skip("no IPv6 link-local address appears here");
        return;
    }
    testExpectError(cloneSandboxVerify(fx->bridge, NULL), fx->bridge);
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    g_assert_cmpstr((after = testAddresses(fx->bridge)), ==, "");
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, NULL), ==, 0);
}


static void
testIPv4Conf(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *path = NULL;
    g_autofree char *fwd = NULL;
    g_autofree char *arp = NULL;
    g_autofree char *l2 = NULL;
    g_autofree char *rp = NULL;
    g_autofree char *rpPath = NULL;

    if (netSkipped())
        return;
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    g_assert_cmpstr((fwd = testReadConf("ipv4", fx->bridge, "forwarding")), ==, "0");
    g_assert_cmpstr((arp = testReadConf("ipv4", fx->bridge, "arp_ignore")), ==, "8");
    g_assert_cmpstr((l2 = testReadConf("ipv4", fx->bridge, "drop_unicast_in_l2_multicast")), ==, "1");
    g_assert_cmpstr((rp = testReadConf("ipv4", fx->bridge, "rp_filter")), ==, "1");

    /* rp_filter is best effort: others may change it, verify does not care */
    rpPath = g_strdup_printf("/proc/sys/net/ipv4/conf/%s/rp_filter", fx->bridge);
    testWriteProc(rpPath, "2");
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, NULL), ==, 0);

    path = g_strdup_printf("/proc/sys/net/ipv4/conf/%s/forwarding", fx->bridge);
    testWriteProc(path, "1");
    testExpectError(cloneSandboxVerify(fx->bridge, NULL), ".forwarding = 1 instead of 0");
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, NULL), ==, 0);
}


/* The bridge's MAC address is its own, not that of its smallest port. */
static char *
testMac(const char *dev)
{
    g_autofree char *details = testLinkDetails(dev);
    const char *ether = strstr(details, "link/ether ");

    g_assert_nonnull(ether);
    return g_strndup(ether + strlen("link/ether "), 17);
}


static void
testPorts(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    const char *expected[] = { fx->veth, NULL };
    const char *missing[] = { fx->veth, "lvcnosuch", NULL };
    g_auto(GStrv) ports = NULL;
    g_autofree char *mac = NULL;
    g_autofree char *macAfter = NULL;

    if (netSkipped())
        return;
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    mac = testMac(fx->bridge);
    testAddVethPort(fx);
    g_assert_cmpstr((macAfter = testMac(fx->bridge)), ==, mac);

    testExpectError(cloneSandboxVerify(fx->bridge, NULL), "has an unexpected port");
    testExpectError(cloneSandboxVerify(fx->bridge, NULL), fx->veth);
    testExpectError(cloneSandboxVerify(fx->bridge, NULL), "(not isolated)");
    testExpectError(cloneSandboxVerify(fx->bridge, expected), "is not isolated");
    ports = cloneSandboxBridgePorts(fx->bridge);
    g_assert_nonnull(ports);
    g_assert_cmpuint(g_strv_length(ports), ==, 1);
    g_assert_cmpstr(ports[0], ==, fx->veth);
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);

    g_assert_true(testIp(NULL, "link", "set", "dev", fx->veth, "type", "bridge_slave", "isolated", "on", NULL));
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, NULL), ==, 0);
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, expected), ==, 0);
    testExpectError(cloneSandboxVerify(fx->bridge, missing), "interface 'lvcnosuch' is not a port of sandbox bridge");

    g_assert_cmpint(cloneSandboxBridgeRemoveIfUnused(fx->bridge), ==, 0);
    g_assert_true(testIp(NULL, "link", "show", "dev", fx->bridge, NULL));
    g_assert_true(testIp(NULL, "link", "del", "dev", fx->veth, NULL));
    g_assert_cmpint(cloneSandboxBridgeRemoveIfUnused(fx->bridge), ==, 1);
    g_assert_false(testIp(NULL, "link", "show", "dev", fx->bridge, NULL));
    g_assert_cmpint(cloneSandboxBridgeRemoveIfUnused(fx->bridge), ==, 0);
    testExpectError(cloneSandboxVerify(fx->bridge, NULL), "does not exist");
    g_assert_null(cloneSandboxBridgePorts(fx->bridge));
    testExpectError(-1, "does not exist");
}


static void
testAddress(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    if (netSkipped())
        return;
    g_assert_cmpint(cloneSandboxBridgeEnsure(fx->bridge), ==, 0);
    g_assert_true(testIp(NULL, "addr", "add", "192.0.2.1/24", "dev", fx->bridge, NULL));
    testExpectError(cloneSandboxVerify(fx->bridge, NULL), "has the address '192.0.2.1/24'");
    /* not a sandbox bridge any more: left alone */
    testExpectError(cloneSandboxBridgeEnsure(fx->bridge), "has the address '192.0.2.1/24'");
    g_assert_true(testIp(NULL, "addr", "del", "192.0.2.1/24", "dev", fx->bridge, NULL));
    g_assert_cmpint(cloneSandboxVerify(fx->bridge, NULL), ==, 0);
}


static void
testNotBridge(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    if (netSkipped())
        return;
    g_assert_true(testIp(NULL, "link", "add", fx->veth, "type", "veth", "peer", "name", fx->peer, NULL));
    testExpectError(cloneSandboxBridgeEnsure(fx->veth), "is not a bridge");
    testExpectError(cloneSandboxVerify(fx->veth, NULL), "is not a bridge");
    testExpectError(cloneSandboxBridgeRemoveIfUnused(fx->veth), "is not a bridge");
    g_assert_true(testIp(NULL, "link", "show", "dev", fx->veth, NULL));
}


/* ---- the hook --------------------------------------------------------------------- */

#define TEST_CLONE_NS "xmlns:clone='http://libvirt.org/schemas/clone/1.0'"

/* A clone's domain XML: @meta goes into <clone:clone>, @devices into <devices>. */
static char *
testCloneXML(const char *meta, const char *devices)
{
    return g_strdup_printf("<domain type='qemu'>\n"
                           "  <name>dom</name>\n"
                           "  <metadata>\n"
                           "    <clone:clone " TEST_CLONE_NS ">\n"
                           "      <clone:parent name='src' uuid='7f1d8c9e-1d0a-4c3e-9a53-2f6a4d1e8b10'/>\n"
                           "%s"
                           "    </clone:clone>\n"
                           "  </metadata>\n"
                           "  <devices>\n%s  </devices>\n"
                           "</domain>\n", meta, devices);
}


static char *
testNic(const char *bridge, const char *target, const char *link)
{
    return g_strdup_printf("    <interface type='bridge'>\n"
                           "      <mac address='52:54:00:12:34:56'/>\n"
                           "      <source bridge='%s'/>\n"
                           "%s%s%s"
                           "      <port isolated='yes'/>\n"
                           "      <link state='%s'/>\n"
                           "    </interface>\n",
                           bridge, target ? "      <target dev='" : "", target ? target : "",
                           target ? "'/>\n" : "", link);
}


static void
testHookParse(void)
{
    g_autofree char *nic = testNic("br0", "vnet0", "up");
    g_autofree char *nic2 = testNic(CLONE_SANDBOX_BRIDGE, NULL, "down");
    g_autofree char *devs = g_strconcat(nic, nic2,
                                        "    <disk type='file' device='disk'>\n"
                                        "      <source file='/img/top.qcow2'/>\n"
                                        "      <backingStore type='file'><source file='/img/base.qcow2'/></backingStore>\n"
                                        "    </disk>\n", NULL);
    g_autofree char *xml = testCloneXML("      <clone:lifecycle ephemeral='yes'/>\n"
                                        "      <clone:base target='vda' path='/img/base.qcow2' format='qcow2' overlay='/img/top.qcow2'/>\n",
                                        devs);
    g_autoptr(cloneHookDomain) dom = NULL;
    cloneXMLNic *n;

    g_assert_cmpint(cloneHookDomainParse(xml, &dom), ==, 1);
    g_assert_cmpstr(dom->name, ==, "dom");
    g_assert_true(dom->ephemeral);
    /* no <clone:sandbox>: the NIC on the default bridge makes a sandbox */
    g_assert_cmpstr(dom->sandboxBridge, ==, CLONE_SANDBOX_BRIDGE);
    g_assert_cmpuint(dom->overlays->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(dom->overlays, 0), ==, "/img/top.qcow2");
    g_assert_cmpuint(dom->diskTops->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(dom->diskTops, 0), ==, "/img/top.qcow2");
    g_assert_cmpuint(dom->nics->len, ==, 2);
    n = g_ptr_array_index(dom->nics, 0);
    g_assert_cmpstr(n->bridge, ==, "br0");
    g_assert_cmpstr(n->target, ==, "vnet0");
    g_assert_cmpstr(n->mac, ==, "52:54:00:12:34:56");
    g_assert_false(n->linkDown);
    n = g_ptr_array_index(dom->nics, 1);
    g_assert_null(n->target);
    g_assert_true(n->linkDown);
}


static void
testHookParseSandboxMetadata(void)
{
    g_autofree char *xml = testCloneXML("      <clone:sandbox bridge='lvcother'/>\n"
                                        "      <clone:lifecycle ephemeral='no'/>\n", "");
    g_autofree char *xmlDefault = testCloneXML("      <clone:sandbox/>\n", "");
    g_autofree char *nic = testNic("br0", "vnet0", "up");
    g_autofree char *xmlPlain = testCloneXML("", nic);
    g_autoptr(cloneHookDomain) dom = NULL;
    g_autoptr(cloneHookDomain) domDefault = NULL;
    g_autoptr(cloneHookDomain) domPlain = NULL;

    g_assert_cmpint(cloneHookDomainParse(xml, &dom), ==, 1);
    g_assert_cmpstr(dom->sandboxBridge, ==, "lvcother");
    g_assert_false(dom->ephemeral);
    g_assert_cmpint(cloneHookDomainParse(xmlDefault, &domDefault), ==, 1);
    g_assert_cmpstr(domDefault->sandboxBridge, ==, CLONE_SANDBOX_BRIDGE);
    g_assert_cmpint(cloneHookDomainParse(xmlPlain, &domPlain), ==, 1);
    g_assert_null(domPlain->sandboxBridge);
}


static void
testHookNotClone(void)
{
    const char *plain = "<domain type='qemu'><name>x</name><devices>"
                        "<interface type='bridge'><source bridge='" CLONE_SANDBOX_BRIDGE "'/></interface>"
                        "</devices></domain>";
    cloneHookDomain *dom = NULL;

    g_assert_cmpint(cloneHookDomainParse(plain, &dom), ==, 0);
    g_assert_null(dom);
    for (int op = 0; op < CLONE_HOOK_OP_LAST; op++)
        g_assert_cmpint(cloneHookRun("x", cloneHookOpTypeToString(op), plain), ==, 0);
    /* operations the hook ignores do not even read the XML */
    g_assert_cmpint(cloneHookRun("x", "stopped", "garbage"), ==, 0);
    g_assert_cmpint(cloneHookRun("x", "no-such-op", "garbage"), ==, 0);
    testExpectError(cloneHookRun("x", "prepare", "garbage"), "is not a domain XML");
    testExpectError(cloneHookRun("x", "migrate", "<network/>"), "is not a domain XML");
}


static void
testHookMigrate(void)
{
    g_autofree char *sandbox = testCloneXML("      <clone:sandbox bridge='" CLONE_SANDBOX_BRIDGE "'/>\n", "");
    g_autofree char *plain = testCloneXML("", "");

    testExpectError(cloneHookRun("web-clone1", "migrate", sandbox),
                    "sandbox clone 'web-clone1' cannot be migrated off this host");
    g_assert_cmpint(cloneHookRun("web-clone1", "migrate", plain), ==, 0);
}


/* A NIC of a sandbox clone off the bridge must have its link down; checked
 * before any netlink. */
static void
testHookStartedLinkUp(void)
{
    g_autofree char *nic = testNic("br0", "vnet7", "up");
    g_autofree char *xml = testCloneXML("      <clone:sandbox bridge='lvcnone'/>\n", nic);

    testExpectError(cloneHookRun("dom", "started", xml),
                    "interface 'vnet7' of sandbox clone 'dom' is not on sandbox bridge 'lvcnone' and its link is up");
}


static char *
testOverlayXML(const char *dir, const char *ephemeral)
{
    g_autofree char *meta = g_strdup_printf("      <clone:lifecycle ephemeral='%1$s'/>\n"
                                            "      <clone:base target='vda' path='%2$s/base' format='qcow2' overlay='%2$s/top'/>\n"
                                            "      <clone:base target='vdb' path='%2$s/base' format='qcow2' overlay='%2$s/forked'/>\n",
                                            ephemeral, dir);
    /* vdb was forked since (the clone was cloned): its top is another file */
    g_autofree char *disks = g_strdup_printf("    <disk type='file' device='disk'><source file='%1$s/top'/></disk>\n"
                                             "    <disk type='file' device='disk'><source file='%1$s/newtop'/>"
                                             "<backingStore type='file'><source file='%1$s/forked'/></backingStore></disk>\n",
                                             dir);

    return testCloneXML(meta, disks);
}


static void
testHookReleaseOverlays(void)
{
    g_autofree char *dir = g_dir_make_tmp("lvc-hook-XXXXXX", NULL);
    g_autofree char *top = g_build_filename(dir, "top", NULL);
    g_autofree char *forked = g_build_filename(dir, "forked", NULL);
    g_autofree char *keep = testOverlayXML(dir, "no");
    g_autofree char *drop = testOverlayXML(dir, "yes");

    g_assert_nonnull(dir);
    g_assert_true(g_file_set_contents(top, "", 0, NULL));
    g_assert_true(g_file_set_contents(forked, "", 0, NULL));

    g_assert_cmpint(cloneHookRun("dom", "release", keep), ==, 0);
    g_assert_true(g_file_test(top, G_FILE_TEST_EXISTS));
    g_assert_cmpint(cloneHookRun("dom", "release", drop), ==, 0);
    g_assert_false(g_file_test(top, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(forked, G_FILE_TEST_EXISTS));
    /* again: nothing left to remove is no error */
    g_assert_cmpint(cloneHookRun("dom", "release", drop), ==, 0);

    g_assert_cmpint(g_unlink(forked), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}


/* prepare makes the bridge, started verifies it, release deletes it once
 * the last port is gone. */
static void
testHookSandboxFlow(NetFixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *sandbox = NULL;
    g_autofree char *nic = NULL;
    g_autofree char *xml = NULL;

    if (netSkipped())
        return;
    sandbox = g_strdup_printf("      <clone:sandbox bridge='%s'/>\n", fx->bridge);
    nic = testNic(fx->bridge, fx->veth, "down");
    xml = testCloneXML(sandbox, nic);

    g_assert_cmpint(cloneHookRun("dom", "prepare", xml), ==, 0);
    g_assert_true(testIp(NULL, "link", "show", "dev", fx->bridge, NULL));
    testExpectError(cloneHookRun("dom", "started", xml), "is not a port of sandbox bridge");
    testAddVethPort(fx);
    testExpectError(cloneHookRun("dom", "started", xml), "is not isolated");
    g_assert_true(testIp(NULL, "link", "set", "dev", fx->veth, "type", "bridge_slave", "isolated", "on", NULL));
    g_assert_cmpint(cloneHookRun("dom", "started", xml), ==, 0);
    g_assert_cmpint(cloneHookRun("dom", "release", xml), ==, 0);
    g_assert_true(testIp(NULL, "link", "show", "dev", fx->bridge, NULL));
    g_assert_true(testIp(NULL, "link", "del", "dev", fx->veth, NULL));
    g_assert_cmpint(cloneHookRun("dom", "release", xml), ==, 0);
    g_assert_false(testIp(NULL, "link", "show", "dev", fx->bridge, NULL));
}


/* ---- main ------------------------------------------------------------------------ */

static const char *
netCheck(void)
{
    int fd;
    g_autofree char *ip = NULL;

    if (geteuid() != 0)
        return "netlink cases need root";
    if (!(ip = g_find_program_in_path("ip")))
        return "netlink cases need ip(8) (iproute2)";
    if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
        return "no rtnetlink socket";
    close(fd);
    /* a network namespace of our own, when we may: nothing leaks to the host */
    if (unshare(CLONE_NEWNET) < 0)
        g_printerr("# cannot unshare the network namespace (%s): the host's is used\n",
                   g_strerror(errno));
    return NULL;
}


#define NET_TEST(path, func) \
    g_test_add(path, NetFixture, NULL, netSetup, func, netTeardown)

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    netSkip = netCheck();

    g_test_add_func("/sandbox-net/names", testNames);
    NET_TEST("/sandbox-net/ensure", testEnsure);
    NET_TEST("/sandbox-net/ensure-existing", testEnsureExisting);
    NET_TEST("/sandbox-net/ipv4-conf", testIPv4Conf);
    NET_TEST("/sandbox-net/ports", testPorts);
    NET_TEST("/sandbox-net/address", testAddress);
    NET_TEST("/sandbox-net/not-a-bridge", testNotBridge);

    g_test_add_func("/hook/parse", testHookParse);
    g_test_add_func("/hook/parse-sandbox-metadata", testHookParseSandboxMetadata);
    g_test_add_func("/hook/not-a-clone", testHookNotClone);
    g_test_add_func("/hook/migrate", testHookMigrate);
    g_test_add_func("/hook/started-link-up", testHookStartedLinkUp);
    g_test_add_func("/hook/release-overlays", testHookReleaseOverlays);
    NET_TEST("/hook/sandbox-flow", testHookSandboxFlow);
    return g_test_run();
}
