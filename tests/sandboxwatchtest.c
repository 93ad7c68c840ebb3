/*
 * sandboxwatchtest.c: escape alerts (the sandbox watch)
 *
 * The frame parser runs on a table of frames built here.  Everything else
 * runs for real, without mocks: a tap device lvctw<pid> is created, and a
 * frame written into its file descriptor is received by the host on the tap
 * interface, exactly as a guest's transmit is.  On it run the observer, the
 * public API (on devices, and on a domain of libvirt's test driver whose XML
 * names the tap) and the watch daemon (virt-clone-live sandbox-watch
 * --daemon).  Those need root (TUNSETIFF, CAP_NET_RAW) and are skipped
 * otherwise.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_sandbox_watch.h"
#include "clone_xml.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TEST_MAC "52:54:00:00:00:01"
#define TEST_BCAST "ff:ff:ff:ff:ff:ff"
#define TEST_SECOND G_USEC_PER_SEC

/* ---- frames --------------------------------------------------------------- */

typedef struct {
    const char *name;
    /* what to build */
    const char *mac;        /* destination MAC */
    guint ethertype;
    guint vlan;             /* an 802.1Q tag with this VID first; 0: none */
    guint arpOp;
    const char *src;        /* ARP sender address */
    const char *dst;        /* IP destination, or ARP target */
    guint proto;            /* IP protocol */
    const char *ext;        /* IPv6 extension header first: "hop", "frag"; IPv4: "options" */
    guint fragOffset;       /* in 8-byte units */
    guint port;             /* TCP/UDP destination port */
    guint l4;               /* TCP flags, ICMP type */
    const char *target;     /* neighbour solicitation target */
    gsize cut;              /* truncate the frame to this length; 0: no */
    /* what the parser must say */
    const char *protocol;
    const char *kind;
    const char *dstAddr;
    int dstPort;
} testFrame;


static void
testPut8(GByteArray *f, guint v)
{
    guint8 b = (guint8)v;

    g_byte_array_append(f, &b, 1);
}


static void
testPut16(GByteArray *f, guint v)
{
    testPut8(f, v >> 8);
    testPut8(f, v & 0xff);
}


static void
testPutZeros(GByteArray *f, gsize n)
{
    while (n--)
        testPut8(f, 0);
}


static void
testPutMac(GByteArray *f, const char *mac)
{
    guint b[6];

    g_assert_cmpint(sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]), ==, 6);
    for (int i = 0; i < 6; i++)
        testPut8(f, b[i]);
}


static void
testPutAddr(GByteArray *f, int af, const char *addr)
{
    guint8 buf[16];

    g_assert_cmpint(inet_pton(af, addr, buf), ==, 1);
    g_byte_array_append(f, buf, af == AF_INET ? 4 : 16);
}


static void
testBuildArp(GByteArray *f, const testFrame *t)
{
    testPut16(f, 1);
    testPut16(f, 0x0800);
    testPut8(f, 6);
    testPut8(f, 4);
    testPut16(f, t->arpOp);
    testPutMac(f, "52:54:00:00:00:02");
    testPutAddr(f, AF_INET, t->src);
    testPutZeros(f, 6);
    testPutAddr(f, AF_INET, t->dst);
}


static void
testBuildL4(GByteArray *f, const testFrame *t)
{
    if (t->proto == IPPROTO_TCP) {
        testPut16(f, 40000);
        testPut16(f, t->port);
        testPutZeros(f, 8);       /* seq, ack */
        testPut8(f, 0x50);
        testPut8(f, t->l4);       /* flags */
        testPut16(f, 1024);
        testPutZeros(f, 4);
    } else if (t->proto == IPPROTO_UDP) {
        testPut16(f, 40000);
        testPut16(f, t->port);
        testPut16(f, 8);
        testPut16(f, 0);
    } else if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
        testPut8(f, t->l4);
        testPutZeros(f, 7);
        if (t->target)
            testPutAddr(f, AF_INET6, t->target);
    } else {
        testPutZeros(f, 8);
    }
}


static void
testBuildIPv4(GByteArray *f, const testFrame *t)
{
    gboolean options = g_strcmp0(t->ext, "options") == 0;

    testPut8(f, options ? 0x46 : 0x45);
    testPut8(f, 0);
    testPut16(f, 48);
    testPut16(f, 1);
    testPut16(f, t->fragOffset);
    testPut8(f, 64);
    testPut8(f, t->proto);
    testPut16(f, 0);
    testPutAddr(f, AF_INET, "10.0.0.2");
    testPutAddr(f, AF_INET, t->dst);
    if (options)
        testPutZeros(f, 4);
    testBuildL4(f, t);
}


static void
testBuildIPv6(GByteArray *f, const testFrame *t)
{
    gboolean hop = g_strcmp0(t->ext, "hop") == 0;
    gboolean frag = g_strcmp0(t->ext, "frag") == 0;

    testPut16(f, 0x6000);
    testPut16(f, 0);
    testPut16(f, 32);
    testPut8(f, hop ? 0 : frag ? 44 : t->proto);
    testPut8(f, 255);
    testPutAddr(f, AF_INET6, "fe80::2");
    testPutAddr(f, AF_INET6, t->dst);
    if (hop || frag) {
        testPut8(f, t->proto);
        testPut8(f, 0);                     /* 8 bytes long */
        testPut16(f, frag ? t->fragOffset << 3 : 0);
        testPutZeros(f, 4);
    }
    testBuildL4(f, t);
}


static GByteArray *
testBuildFrame(const testFrame *t)
{
    GByteArray *f = g_byte_array_new();

    testPutMac(f, t->mac);
    testPutMac(f, "52:54:00:00:00:02");
    if (t->vlan) {
        testPut16(f, 0x8100);
        testPut16(f, t->vlan);
    }
    testPut16(f, t->ethertype);
    if (t->ethertype == 0x0806)
        testBuildArp(f, t);
    else if (t->ethertype == 0x0800)
        testBuildIPv4(f, t);
    else if (t->ethertype == 0x86dd)
        testBuildIPv6(f, t);
    else
        testPutZeros(f, 46);
    if (t->cut)
        g_byte_array_set_size(f, (guint)t->cut);
    return f;
}


/* ARP who-has, ICMP echo, UDP to port 53, TCP SYN to port 443 */
static const testFrame testArpRequest = {
    .mac = TEST_BCAST, .ethertype = 0x0806, .arpOp = 1, .src = "10.0.0.2", .dst = "10.0.0.1",
};
static const testFrame testPing = {
    .mac = TEST_MAC, .ethertype = 0x0800, .proto = IPPROTO_ICMP, .l4 = 8, .dst = "10.0.0.1",
};
static const testFrame testDns = {
    .mac = TEST_MAC, .ethertype = 0x0800, .proto = IPPROTO_UDP, .port = 53, .dst = "10.0.0.1",
};
static const testFrame testSyn = {
    .mac = TEST_MAC, .ethertype = 0x0800, .proto = IPPROTO_TCP, .port = 443, .l4 = 0x02,
    .dst = "10.0.0.1",
};

static const testFrame testFrames[] = {
    { "arp-request", TEST_BCAST, 0x0806, .arpOp = 1, .src = "10.0.0.2", .dst = "10.0.0.1",
      .protocol = "arp", .kind = "request", .dstAddr = "10.0.0.1", .dstPort = -1 },
    { "arp-probe", TEST_BCAST, 0x0806, .arpOp = 1, .src = "0.0.0.0", .dst = "10.0.0.7",
      .protocol = "arp", .kind = "probe", .dstAddr = "10.0.0.7", .dstPort = -1 },
    { "arp-announce", TEST_BCAST, 0x0806, .arpOp = 1, .src = "10.0.0.2", .dst = "10.0.0.2",
      .protocol = "arp", .kind = "announce", .dstAddr = "10.0.0.2", .dstPort = -1 },
    { "arp-reply", TEST_MAC, 0x0806, .arpOp = 2, .src = "10.0.0.2", .dst = "10.0.0.1",
      .protocol = "arp", .kind = "reply", .dstAddr = "10.0.0.1", .dstPort = -1 },
    { "icmp-echo", TEST_MAC, 0x0800, .proto = IPPROTO_ICMP, .l4 = 8, .dst = "10.0.0.1",
      .protocol = "icmp", .kind = "echo-request", .dstAddr = "10.0.0.1", .dstPort = -1 },
    { "icmp-unknown-type", TEST_MAC, 0x0800, .proto = IPPROTO_ICMP, .l4 = 42, .dst = "10.0.0.1",
      .protocol = "icmp", .kind = "type-42", .dstAddr = "10.0.0.1", .dstPort = -1 },
    { "udp", TEST_MAC, 0x0800, .proto = IPPROTO_UDP, .port = 53, .dst = "192.168.1.1",
      .protocol = "udp", .dstAddr = "192.168.1.1", .dstPort = 53 },
    { "udp-ipv4-options", TEST_MAC, 0x0800, .proto = IPPROTO_UDP, .port = 123, .dst = "10.0.0.1",
      .ext = "options", .protocol = "udp", .dstAddr = "10.0.0.1", .dstPort = 123 },
    { "udp-vlan", TEST_MAC, 0x0800, .vlan = 42, .proto = IPPROTO_UDP, .port = 53, .dst = "10.0.0.1",
      .protocol = "udp", .dstAddr = "10.0.0.1", .dstPort = 53 },
    { "tcp-syn", TEST_MAC, 0x0800, .proto = IPPROTO_TCP, .port = 443, .l4 = 0x02, .dst = "10.0.0.1",
      .protocol = "tcp", .kind = "syn", .dstAddr = "10.0.0.1", .dstPort = 443 },
    { "tcp-syn-ack", TEST_MAC, 0x0800, .proto = IPPROTO_TCP, .port = 40000, .l4 = 0x12, .dst = "10.0.0.1",
      .protocol = "tcp", .kind = "syn-ack", .dstAddr = "10.0.0.1", .dstPort = 40000 },
    { "tcp-rst", TEST_MAC, 0x0800, .proto = IPPROTO_TCP, .port = 443, .l4 = 0x14, .dst = "10.0.0.1",
      .protocol = "tcp", .kind = "rst", .dstAddr = "10.0.0.1", .dstPort = 443 },
    { "tcp-ack", TEST_MAC, 0x0800, .proto = IPPROTO_TCP, .port = 443, .l4 = 0x10, .dst = "10.0.0.1",
      .protocol = "tcp", .kind = "segment", .dstAddr = "10.0.0.1", .dstPort = 443 },
    { "tcp-truncated", TEST_MAC, 0x0800, .proto = IPPROTO_TCP, .port = 443, .l4 = 0x02, .dst = "10.0.0.1",
      .cut = 14 + 20 + 6, .protocol = "tcp", .kind = "truncated", .dstAddr = "10.0.0.1", .dstPort = -1 },
    { "ipv4-gre", TEST_MAC, 0x0800, .proto = 47, .dst = "10.0.0.1",
      .protocol = "ipv4", .kind = "proto-47", .dstAddr = "10.0.0.1", .dstPort = -1 },
    { "ipv4-fragment", TEST_MAC, 0x0800, .proto = IPPROTO_UDP, .port = 53, .fragOffset = 185,
      .dst = "10.0.0.1", .protocol = "ipv4", .kind = "fragment", .dstAddr = "10.0.0.1", .dstPort = -1 },
    { "ipv4-truncated", TEST_MAC, 0x0800, .proto = IPPROTO_UDP, .dst = "10.0.0.1", .cut = 14 + 12,
      .protocol = "ipv4", .kind = "truncated", .dstPort = -1 },
    { "udp6", "33:33:00:01:00:03", 0x86dd, .proto = IPPROTO_UDP, .port = 5355, .dst = "ff02::1:3",
      .protocol = "udp", .dstAddr = "ff02::1:3", .dstPort = 5355 },
    { "tcp6", TEST_MAC, 0x86dd, .proto = IPPROTO_TCP, .port = 22, .l4 = 0x02, .dst = "fd00::1",
      .protocol = "tcp", .kind = "syn", .dstAddr = "fd00::1", .dstPort = 22 },
    { "mld2-after-hop-by-hop", "33:33:00:00:00:16", 0x86dd, .proto = IPPROTO_ICMPV6, .ext = "hop",
      .l4 = 143, .dst = "ff02::16", .protocol = "icmpv6", .kind = "mld2-report",
      .dstAddr = "ff02::16", .dstPort = -1 },
    { "neighbor-solicit", "33:33:ff:00:00:01", 0x86dd, .proto = IPPROTO_ICMPV6, .l4 = 135,
      .dst = "ff02::1:ff00:1", .target = "fd00::1", .protocol = "icmpv6", .kind = "neighbor-solicit",
      .dstAddr = "fd00::1", .dstPort = -1 },
    { "ipv6-first-fragment", TEST_MAC, 0x86dd, .proto = IPPROTO_UDP, .ext = "frag", .port = 53,
      .dst = "fd00::1", .protocol = "udp", .dstAddr = "fd00::1", .dstPort = 53 },
    { "ipv6-later-fragment", TEST_MAC, 0x86dd, .proto = IPPROTO_UDP, .ext = "frag", .fragOffset = 10,
      .dst = "fd00::1", .protocol = "ipv6", .kind = "fragment", .dstAddr = "fd00::1", .dstPort = -1 },
    { "ipv6-truncated-extension", TEST_MAC, 0x86dd, .proto = IPPROTO_UDP, .ext = "hop", .dst = "fd00::1",
      .cut = 14 + 40 + 4, .protocol = "ipv6", .kind = "truncated", .dstAddr = "fd00::1", .dstPort = -1 },
    { "lldp", "01:80:c2:00:00:0e", 0x88cc,
      .protocol = "other", .kind = "ethertype-0x88cc", .dstPort = -1 },
    { "llc", "01:80:c2:00:00:00", 0x0026, .protocol = "other", .kind = "llc", .dstPort = -1 },
    { "runt", TEST_MAC, 0x0800, .proto = IPPROTO_UDP, .dst = "10.0.0.1", .cut = 10, .protocol = "other", .kind = "truncated", .dstPort = -1 },
};


static void
testParse(gconstpointer data)
{
    const testFrame *t = data;
    g_autoptr(GByteArray) f = testBuildFrame(t);
    cloneSandboxFrame out;

    cloneSandboxFrameParse(f->data, f->len, &out);
    g_assert_cmpstr(out.protocol, ==, t->protocol);
    g_assert_cmpstr(out.kind, ==, t->kind ? t->kind : "");
    g_assert_cmpstr(out.dstMac, ==, t->mac);
    g_assert_cmpstr(out.dstAddr, ==, t->dstAddr ? t->dstAddr : "");
    g_assert_cmpint(out.dstPort, ==, t->dstPort);
}


/* Every prefix of every frame parses without reading past its end (the
 * sanitizers and valgrind check the reads). */
static void
testParsePrefixes(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(testFrames); i++) {
        g_autoptr(GByteArray) f = testBuildFrame(&testFrames[i]);

        for (guint len = 0; len <= f->len; len++) {
            g_autofree guint8 *copy = g_malloc(len + 1);   /* exactly len bytes are read */
            cloneSandboxFrame out;

            memcpy(copy, f->data, len);
            cloneSandboxFrameParse(copy, len, &out);
            g_assert_nonnull(out.protocol);
        }
    }
}


/* ---- a domain's taps ------------------------------------------------------ */

static void
testDomainTaps(void)
{
    const char *xml =
        "<domain type='kvm'><name>c</name><devices>"
        "<interface type='bridge'><source bridge='lvcsandbox0'/><target dev='vnet3'/></interface>"
        "<interface type='network'><source network='default'/><target dev='vnet4'/></interface>"
        "<interface type='ethernet'><target dev='tap0' managed='no'/></interface>"
        "<interface type='direct'><source dev='eth0' mode='vepa'/><target dev='macvtap0'/></interface>"
        "<interface type='user'/>"
        "<interface type='bridge'><source bridge='br0'/></interface>"
        "</devices></domain>";
    g_auto(GStrv) taps = cloneXMLDomainTaps(xml);
    g_auto(GStrv) none = cloneXMLDomainTaps("<domain><name>c</name><devices/></domain>");
    const char *want[] = { "vnet3", "vnet4", "tap0", NULL };

    g_assert_nonnull(taps);
    g_assert_true(g_strv_equal((const char *const *)taps, want));
    g_assert_nonnull(none);
    g_assert_null(none[0]);
    g_assert_null(cloneXMLDomainTaps("<domain"));
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_INTERNAL);
}


/* ---- a real tap ----------------------------------------------------------- */

typedef struct {
    int fd;
    int ifindex;
    char name[IFNAMSIZ];
} testTap;


static gboolean
testNeedRoot(void)
{
    if (geteuid() == 0)
        return TRUE;
    g_test_skip("needs root: tap devices and packet sockets");
    return FALSE;
}


/* A tap device lvctw<pid>[suffix], up; it disappears when its fd is closed. */
static void
testTapOpen(testTap *tap, const char *suffix)
{
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
    int sock;

    g_snprintf(tap->name, sizeof(tap->name), "lvctw%d%s", (int)getpid(), suffix);
    g_strlcpy(ifr.ifr_name, tap->name, sizeof(ifr.ifr_name));
    g_assert_cmpint((tap->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)), >=, 0);
    g_assert_cmpint(ioctl(tap->fd, TUNSETIFF, &ifr), ==, 0);
    g_assert_cmpint((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), >=, 0);
    g_assert_cmpint(ioctl(sock, SIOCGIFFLAGS, &ifr), ==, 0);
    ifr.ifr_flags |= IFF_UP;
    g_assert_cmpint(ioctl(sock, SIOCSIFFLAGS, &ifr), ==, 0);
    close(sock);
    tap->ifindex = (int)if_nametoindex(tap->name);
    g_assert_cmpint(tap->ifindex, >, 0);
}


static void
testTapClose(testTap *tap)
{
    if (tap->fd >= 0)
        close(tap->fd);
    tap->fd = -1;
}


/* What the guest sends: the host receives it on the tap. */
static void
testTapSend(const testTap *tap, const testFrame *t)
{
    g_autoptr(GByteArray) f = testBuildFrame(t);

    g_assert_cmpint(write(tap->fd, f->data, f->len), ==, (gssize)f->len);
}


/* ---- collecting events ---------------------------------------------------- */

typedef struct {
    int type;
    char *clone;
    char *device;
    char *protocol;
    char *kind;
    char *dstMac;
    char *dstAddr;
    int dstPort;
    unsigned int count;
    long long timeMs;
    gint64 arrived;          /* monotonic */
    gboolean withDomain;
} testEvent;


static void
testEventFree(testEvent *e)
{
    g_free(e->clone);
    g_free(e->device);
    g_free(e->protocol);
    g_free(e->kind);
    g_free(e->dstMac);
    g_free(e->dstAddr);
    g_free(e);
}


typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *events;       /* of testEvent */
    int freed;               /* free callback calls */
    int unwatchOnFirst;      /* a watch ID the callback unwatches, or 0 */
} testCollector;


static void
testCollectorInit(testCollector *c)
{
    g_mutex_init(&c->lock);
    g_cond_init(&c->cond);
    c->events = g_ptr_array_new_with_free_func((GDestroyNotify)testEventFree);
    c->freed = 0;
    c->unwatchOnFirst = 0;
}


static void
testCollectorClear(testCollector *c)
{
    g_ptr_array_unref(c->events);
    g_cond_clear(&c->cond);
    g_mutex_clear(&c->lock);
}


static void
testCollect(testCollector *c, const virDomainCloneSandboxEvent *ev, virDomainPtr dom)
{
    testEvent *e = g_new0(testEvent, 1);

    e->type = ev->type;
    e->clone = g_strdup(ev->clone);
    e->device = g_strdup(ev->device);
    e->protocol = g_strdup(ev->protocol);
    e->kind = g_strdup(ev->kind);
    e->dstMac = g_strdup(ev->dstMac);
    e->dstAddr = g_strdup(ev->dstAddr);
    e->dstPort = ev->dstPort;
    e->count = ev->count;
    e->timeMs = ev->timeMs;
    e->arrived = g_get_monotonic_time();
    e->withDomain = dom && g_str_equal(virDomainGetName(dom), ev->clone);
    g_mutex_lock(&c->lock);
    g_ptr_array_add(c->events, e);
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}


static void
testObserverCb(const virDomainCloneSandboxEvent *ev, void *opaque)
{
    testCollect(opaque, ev, NULL);
}


static void
testWatchCb(virDomainPtr dom, const virDomainCloneSandboxEvent *ev, void *opaque)
{
    testCollector *c = opaque;

    testCollect(c, ev, dom);
    if (c->unwatchOnFirst)
        g_assert_cmpint(virDomainCloneSandboxUnwatch(c->unwatchOnFirst), ==, 0);
}


static void
testFreed(void *opaque)
{
    testCollector *c = opaque;

    g_mutex_lock(&c->lock);
    c->freed++;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}


/* Waits until @n events arrived (or @usec passed); returns how many did. */
static guint
testWaitEvents(testCollector *c, guint n, gint64 usec)
{
    gint64 deadline = g_get_monotonic_time() + usec;
    guint got;

    g_mutex_lock(&c->lock);
    while (c->events->len < n && g_cond_wait_until(&c->cond, &c->lock, deadline))
        ;
    got = c->events->len;
    g_mutex_unlock(&c->lock);
    return got;
}


static void
testWaitFreed(testCollector *c, int n)
{
    gint64 deadline = g_get_monotonic_time() + 5 * TEST_SECOND;

    g_mutex_lock(&c->lock);
    while (c->freed < n && g_cond_wait_until(&c->cond, &c->lock, deadline))
        ;
    g_assert_cmpint(c->freed, ==, n);
    g_mutex_unlock(&c->lock);
}


static testEvent *
testEventAt(testCollector *c, guint i)
{
    testEvent *e;

    g_mutex_lock(&c->lock);
    e = g_ptr_array_index(c->events, i);
    g_mutex_unlock(&c->lock);
    return e;
}


static void
testAssertTraffic(const testEvent *e, const testFrame *t, unsigned int count)
{
    g_assert_cmpint(e->type, ==, VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC);
    g_assert_cmpstr(e->protocol, ==, t == &testArpRequest ? "arp" : t == &testPing ? "icmp" :
                                     t == &testDns ? "udp" : "tcp");
    g_assert_cmpstr(e->kind, ==, t == &testArpRequest ? "request" : t == &testPing ? "echo-request" :
                                 t == &testDns ? NULL : "syn");
    g_assert_cmpstr(e->dstMac, ==, t->mac);
    g_assert_cmpstr(e->dstAddr, ==, t->dst);
    g_assert_cmpint(e->dstPort, ==, t == &testDns ? 53 : t == &testSyn ? 443 : -1);
    g_assert_cmpuint(e->count, ==, count);
}


/* ---- the observer on a real tap ------------------------------------------- */

/* Sends @t and checks that its event comes at once (well within 1 s). */
static void
testSendExpectAtOnce(testTap *tap, testCollector *c, const testFrame *t, unsigned int count)
{
    guint before = testWaitEvents(c, 0, 0);
    gint64 sent = g_get_monotonic_time();
    long long sentMs = g_get_real_time() / 1000;
    testEvent *e;

    testTapSend(tap, t);
    g_assert_cmpuint(testWaitEvents(c, before + 1, 2 * TEST_SECOND), ==, before + 1);
    e = testEventAt(c, before);
    testAssertTraffic(e, t, count);
    g_assert_cmpstr(e->device, ==, tap->name);
    g_assert_cmpint(e->arrived - sent, <, TEST_SECOND);
    g_assert_cmpint(e->timeMs, >=, sentMs);
    g_assert_cmpint(e->timeMs, <=, sentMs + 1000);
    g_test_message("%s: event %.2f ms after the frame", e->protocol, (e->arrived - sent) / 1000.0);
}


static void
testObserverTap(void)
{
    testTap tap = { .fd = -1 };
    testCollector c;
    cloneSandboxObserver *obs;
    testEvent *first, *sum;

    if (!testNeedRoot())
        return;
    testCollectorInit(&c);
    testTapOpen(&tap, "");
    obs = cloneSandboxObserverStart("tw-clone", &tap.ifindex, 1, testObserverCb, &c, testFreed);
    g_assert_nonnull(obs);

    testSendExpectAtOnce(&tap, &c, &testArpRequest, 1);
    testSendExpectAtOnce(&tap, &c, &testPing, 1);
    testSendExpectAtOnce(&tap, &c, &testDns, 1);
    /* five SYNs: the first at once, the four repeats summed a period later */
    for (int i = 0; i < 5; i++)
        testTapSend(&tap, &testSyn);
    g_assert_cmpuint(testWaitEvents(&c, 5, 3 * TEST_SECOND), ==, 5);
    first = testEventAt(&c, 3);
    sum = testEventAt(&c, 4);
    testAssertTraffic(first, &testSyn, 1);
    testAssertTraffic(sum, &testSyn, 4);
    g_assert_cmpint(sum->arrived - first->arrived, >=, TEST_SECOND * 9 / 10);
    g_assert_cmpint(sum->arrived - first->arrived, <, TEST_SECOND * 5 / 2);
    g_assert_cmpstr(first->clone, ==, "tw-clone");

    /* after a quiet period, a known destination is reported at once again */
    g_usleep(TEST_SECOND * 11 / 10);
    testSendExpectAtOnce(&tap, &c, &testSyn, 1);

    /* the clone stops: its tap disappears, the watch ends */
    testTapClose(&tap);
    g_assert_cmpuint(testWaitEvents(&c, 7, 3 * TEST_SECOND), ==, 7);
    g_assert_cmpint(testEventAt(&c, 6)->type, ==, VIR_DOMAIN_CLONE_SANDBOX_EVENT_END);
    g_assert_null(testEventAt(&c, 6)->device);
    cloneSandboxObserverStop(obs);
    g_assert_cmpint(c.freed, ==, 1);
    g_assert_cmpuint(c.events->len, ==, 7);
    testCollectorClear(&c);
}


/* Frames the host sends to the guest (the tap's transmit) are not counted. */
static void
testObserverIgnoresOutgoing(void)
{
    testTap tap = { .fd = -1 };
    testCollector c;
    g_autoptr(cloneSandboxObserver) obs = NULL;
    g_autoptr(GByteArray) f = NULL;
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = 6 };
    int sock;

    if (!testNeedRoot())
        return;
    testCollectorInit(&c);
    testTapOpen(&tap, "o");
    g_assert_nonnull((obs = cloneSandboxObserverStart("tw-clone", &tap.ifindex, 1, testObserverCb, &c, NULL)));
    /* the host transmits on the tap, to the "guest" */
    f = testBuildFrame(&testDns);
    sll.sll_ifindex = tap.ifindex;
    g_assert_cmpint((sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)), >=, 0);
    g_assert_cmpint(sendto(sock, f->data, f->len, 0, (struct sockaddr *)&sll, sizeof(sll)), ==, (gssize)f->len);
    close(sock);
    g_assert_cmpuint(testWaitEvents(&c, 1, TEST_SECOND / 2), ==, 0);
    /* and the guest's own frame right after it is */
    testSendExpectAtOnce(&tap, &c, &testPing, 1);
    g_clear_pointer(&obs, cloneSandboxObserverStop);
    testTapClose(&tap);
    testCollectorClear(&c);
}


static void
testObserverErrors(void)
{
    int nosuch = 1 << 30;

    g_assert_null(cloneSandboxObserverStart("tw-clone", NULL, 0, testObserverCb, NULL, NULL));
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_INVALID_ARG);
    g_assert_null(cloneSandboxObserverStart("tw-clone", &nosuch, 1, testObserverCb, NULL, NULL));
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_SYSTEM);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "cannot find network device 1073741824 of clone 'tw-clone'"));
}


/* ---- public API ----------------------------------------------------------- */

static void
testApiErrors(void)
{
    const char *nosuch[] = { "lvctw-nosuch", NULL };
    const char *empty[] = { NULL };

    g_assert_cmpint(virDomainCloneSandboxWatch(NULL, testWatchCb, NULL, NULL, 0), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "'clone' must not be NULL"));
    g_assert_cmpint(virDomainCloneSandboxWatchDevices("c", nosuch, testWatchCb, NULL, NULL, 1U << 5), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "unsupported flags (0x20)"));
    g_assert_cmpint(virDomainCloneSandboxWatchDevices("c", nosuch, NULL, NULL, NULL, 0), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "'cb' must not be NULL"));
    g_assert_cmpint(virDomainCloneSandboxWatchDevices("c", empty, testWatchCb, NULL, NULL, 0), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "no network device to watch for clone 'c'"));
    g_assert_cmpint(virDomainCloneSandboxWatchDevices("c", nosuch, testWatchCb, NULL, NULL, 0), ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_SYSTEM);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "cannot find network device 'lvctw-nosuch' of clone 'c'"));
    g_assert_cmpint(virDomainCloneSandboxUnwatch(4242), ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "no sandbox watch with ID 4242"));
    g_assert_cmpstr(virDomainCloneSandboxEventTypeToString(VIR_DOMAIN_CLONE_SANDBOX_EVENT_END), ==, "end");
    g_assert_null(virDomainCloneSandboxEventTypeToString(VIR_DOMAIN_CLONE_SANDBOX_EVENT_LAST));
}


static void
testApiDevices(void)
{
    testTap tap = { .fd = -1 };
    testCollector c;
    const char *devices[2] = { NULL, NULL };
    int id;

    if (!testNeedRoot())
        return;
    testCollectorInit(&c);
    testTapOpen(&tap, "d");
    devices[0] = tap.name;
    id = virDomainCloneSandboxWatchDevices("tw-devices", devices, testWatchCb, &c, testFreed, 0);
    g_assert_cmpint(id, >, 0);
    testSendExpectAtOnce(&tap, &c, &testDns, 1);
    g_assert_cmpstr(testEventAt(&c, 0)->clone, ==, "tw-devices");
    g_assert_false(testEventAt(&c, 0)->withDomain);
    g_assert_cmpint(virDomainCloneSandboxUnwatch(id), ==, 0);
    g_assert_cmpint(c.freed, ==, 1);
    g_assert_cmpint(virDomainCloneSandboxUnwatch(id), ==, -1);
    testTapClose(&tap);
    testCollectorClear(&c);
}


/* The callback unwatches its own watch: no event follows, freecb runs once
 * (in the watch's thread, after the callback). */
static void
testApiUnwatchFromCallback(void)
{
    testTap tap = { .fd = -1 };
    testCollector c;
    const char *devices[2] = { NULL, NULL };

    if (!testNeedRoot())
        return;
    testCollectorInit(&c);
    testTapOpen(&tap, "u");
    devices[0] = tap.name;
    c.unwatchOnFirst = virDomainCloneSandboxWatchDevices("tw-self", devices, testWatchCb, &c, testFreed, 0);
    g_assert_cmpint(c.unwatchOnFirst, >, 0);
    testTapSend(&tap, &testArpRequest);
    testTapSend(&tap, &testPing);
    testWaitFreed(&c, 1);
    g_assert_cmpuint(testWaitEvents(&c, 2, TEST_SECOND / 2), ==, 1);
    testTapClose(&tap);
    testCollectorClear(&c);
}


static virDomainPtr
testDefineDomain(virConnectPtr conn, const char *name, const char *interface, gboolean start)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os>"
        "<devices>%s</devices></domain>", name, interface);

    return start ? virDomainCreateXML(conn, xml, 0) : virDomainDefineXML(conn, xml);
}


static void
testSilence(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


/* The domain-level API, on libvirt's test driver: its live XML names our
 * tap as the domain's <target dev>, so the frames are real. */
static void
testApiDomain(void)
{
    testTap tap = { .fd = -1 };
    testCollector c;
    virConnectPtr conn;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomain) user = NULL;
    g_autoptr(virDomain) off = NULL;
    g_autoptr(virDomain) test = NULL;
    g_autofree char *nic = NULL;
    int id;

    if (!testNeedRoot())
        return;
    testCollectorInit(&c);
    testTapOpen(&tap, "v");
    virSetErrorFunc(NULL, testSilence);
    g_assert_nonnull((conn = virConnectOpen("test:///default")));
    nic = g_strdup_printf("<interface type='bridge'><source bridge='lvcsandbox0'/>"
                          "<target dev='%s'/></interface>", tap.name);
    g_assert_nonnull((dom = testDefineDomain(conn, "tw-dom", nic, TRUE)));
    id = virDomainCloneSandboxWatch(dom, testWatchCb, &c, testFreed, 0);
    g_assert_cmpint(id, >, 0);
    testSendExpectAtOnce(&tap, &c, &testSyn, 1);
    g_assert_true(testEventAt(&c, 0)->withDomain);
    g_assert_cmpint(virDomainCloneSandboxUnwatch(id), ==, 0);
    g_assert_cmpint(c.freed, ==, 1);

    g_assert_nonnull((user = testDefineDomain(conn, "tw-user", "<interface type='user'/>", TRUE)));
    g_assert_cmpint(virDomainCloneSandboxWatch(user, testWatchCb, &c, NULL, 0), ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_OPERATION_INVALID);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "domain 'tw-user' has no tap device to watch"));
    g_assert_nonnull((off = testDefineDomain(conn, "tw-off", nic, FALSE)));
    g_assert_cmpint(virDomainCloneSandboxWatch(off, testWatchCb, &c, NULL, 0), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "domain 'tw-off' is not running"));
    /* the default domain's testnet0 does not exist on this host */
    g_assert_nonnull((test = virDomainLookupByName(conn, "test")));
    g_assert_cmpint(virDomainCloneSandboxWatch(test, testWatchCb, &c, NULL, 0), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "cannot find network device 'testnet0' of clone 'test'"));

    g_clear_pointer(&dom, virDomainFree);
    g_clear_pointer(&user, virDomainFree);
    g_clear_pointer(&off, virDomainFree);
    g_clear_pointer(&test, virDomainFree);
    virConnectClose(conn);
    testTapClose(&tap);
    testCollectorClear(&c);
}


/* ---- the watch daemon ----------------------------------------------------- */

/* Waits until @path contains @n lines; returns its lines. */
static char **
testWaitLines(const char *path, guint n, gint64 usec)
{
    gint64 deadline = g_get_monotonic_time() + usec;

    for (;;) {
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        if (g_file_get_contents(path, &text, NULL, NULL)) {
            lines = g_strsplit(g_strchomp(text), "\n", -1);
            if (*text && g_strv_length(lines) >= n)
                return g_steal_pointer(&lines);
        }
        if (g_get_monotonic_time() > deadline)
            return g_steal_pointer(&lines);
        g_usleep(20000);
    }
}


static void
testWaitDaemonGone(const char *pidfile)
{
    for (int i = 0; i < 100 && cloneSandboxDaemonPid(pidfile) != 0; i++)
        g_usleep(50000);
    g_assert_cmpint(cloneSandboxDaemonPid(pidfile), ==, 0);
    g_assert_false(g_file_test(pidfile, G_FILE_TEST_EXISTS));
}


static void
testDaemon(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *log = NULL;
    g_autofree char *pidfile = NULL;
    g_autofree char *execOut = NULL;
    g_autofree char *command = NULL;
    g_auto(GStrv) lines = NULL;
    g_auto(GStrv) execLines = NULL;
    testTap tap = { .fd = -1 };
    const char *taps[2] = { NULL, NULL };
    cloneSandboxDaemonParams p = { .clone = "tw-daemon", .taps = taps, .program = VCL_PATH };
    pid_t pid = 0;

    if (!testNeedRoot())
        return;
    g_assert_nonnull((dir = g_dir_make_tmp("lvc-sandboxwatch-XXXXXX", NULL)));
    log = g_build_filename(dir, "alerts.log", NULL);
    pidfile = g_build_filename(dir, "watch.pid", NULL);
    execOut = g_build_filename(dir, "exec.out", NULL);
    command = g_strdup_printf("tee -a '%s'", execOut);
    testTapOpen(&tap, "w");
    taps[0] = tap.name;
    p.pidfile = pidfile;
    p.logPath = log;
    p.command = command;

    g_assert_cmpint(cloneSandboxDaemonStart(&p, &pid), ==, 0);
    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(cloneSandboxDaemonPid(pidfile), ==, pid);
    /* one watch per pidfile */
    g_assert_cmpint(cloneSandboxDaemonStart(&p, NULL), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "another sandbox watch holds pidfile"));

    testTapSend(&tap, &testSyn);
    lines = testWaitLines(log, 1, 2 * TEST_SECOND);
    g_assert_nonnull(lines);
    g_assert_cmpuint(g_strv_length(lines), ==, 1);
    g_assert_nonnull(strstr(lines[0], "\"type\":\"traffic\""));
    g_assert_nonnull(strstr(lines[0], "\"clone\":\"tw-daemon\""));
    g_assert_nonnull(strstr(lines[0], "\"protocol\":\"tcp\",\"kind\":\"syn\""));
    g_assert_nonnull(strstr(lines[0], "\"dst_addr\":\"10.0.0.1\",\"dst_port\":443,\"count\":1"));
    execLines = testWaitLines(execOut, 1, 2 * TEST_SECOND);
    g_assert_nonnull(execLines);
    g_assert_cmpstr(execLines[0], ==, lines[0]);

    /* the clone stops: the daemon reports the end and exits by itself */
    testTapClose(&tap);
    testWaitDaemonGone(pidfile);
    g_strfreev(lines);
    lines = testWaitLines(log, 2, 0);
    g_assert_cmpuint(g_strv_length(lines), ==, 2);
    g_assert_nonnull(strstr(lines[1], "\"type\":\"end\""));
    g_assert_cmpint(cloneSandboxDaemonStop(pidfile), ==, 0);

    /* and one stopped from outside */
    testTapOpen(&tap, "x");
    taps[0] = tap.name;
    p.command = NULL;
    g_assert_cmpint(cloneSandboxDaemonStart(&p, &pid), ==, 0);
    g_assert_cmpint(cloneSandboxDaemonStop(pidfile), ==, 1);
    testWaitDaemonGone(pidfile);
    testTapClose(&tap);

    g_unlink(log);
    g_unlink(execOut);
    g_rmdir(dir);
}


static void
testDaemonErrors(void)
{
    g_autofree char *dir = g_dir_make_tmp("lvc-sandboxwatch-XXXXXX", NULL);
    g_autofree char *pidfile = g_build_filename(dir, "watch.pid", NULL);
    g_autofree char *log = g_build_filename(dir, "alerts.log", NULL);
    const char *taps[] = { "lvctw-nosuch", NULL };
    cloneSandboxDaemonParams p = {
        .clone = "tw-daemon", .taps = taps, .pidfile = pidfile, .program = VCL_PATH,
    };

    g_assert_cmpint(cloneSandboxDaemonStart(&p, NULL), ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_INVALID_ARG);
    p.logPath = log;
    g_assert_cmpint(cloneSandboxDaemonStart(&p, NULL), ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_SYSTEM);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(),
                            "cannot start the sandbox watch of clone 'tw-daemon': cannot watch clone 'tw-daemon': "
                            "cannot find network device 'lvctw-nosuch' of clone 'tw-daemon'"));
    g_assert_false(g_file_test(pidfile, G_FILE_TEST_EXISTS));
    g_assert_cmpint(cloneSandboxDaemonStop(pidfile), ==, 0);
    g_unlink(log);
    g_rmdir(dir);
}


/* With the integrity watch the daemon needs a URI and an action, and asks
 * libvirt for the clone's taps (not --device): test:///default's "test"
 * names the tap "testnet0", which does not exist on this host. */
static void
testDaemonIntegrityErrors(void)
{
    g_autofree char *dir = g_dir_make_tmp("lvc-sandboxwatch-XXXXXX", NULL);
    g_autofree char *pidfile = g_build_filename(dir, "watch.pid", NULL);
    g_autofree char *log = g_build_filename(dir, "alerts.log", NULL);
    const char *taps[] = { "lvctw-nosuch", NULL };
    cloneSandboxDaemonParams p = {
        .clone = "test", .taps = taps, .pidfile = pidfile, .program = VCL_PATH,
        .logPath = log, .integrityIntervalMs = 500,
    };

    g_assert_cmpint(cloneSandboxDaemonStart(&p, NULL), ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), "needs a connection URI and an action"));
    p.uri = "test:///default";
    p.integrityAction = "pause";
    g_assert_cmpint(cloneSandboxDaemonStart(&p, NULL), ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_SYSTEM);
    g_test_message("%s", virCloneGetLastErrorMessage());
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(),
                            "cannot start the sandbox watch of clone 'test': cannot watch clone 'test': "
                            "cannot find network device 'testnet0' of clone 'test'"));
    g_assert_false(g_file_test(pidfile, G_FILE_TEST_EXISTS));
    g_unlink(log);
    g_rmdir(dir);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(testFrames); i++) {
        g_autofree char *name = g_strdup_printf("/sandboxwatch/parse/%s", testFrames[i].name);

        g_test_add_data_func(name, &testFrames[i], testParse);
    }
    g_test_add_func("/sandboxwatch/parse/prefixes", testParsePrefixes);
    g_test_add_func("/sandboxwatch/domain-taps", testDomainTaps);
    g_test_add_func("/sandboxwatch/observer/tap", testObserverTap);
    g_test_add_func("/sandboxwatch/observer/ignores-outgoing", testObserverIgnoresOutgoing);
    g_test_add_func("/sandboxwatch/observer/errors", testObserverErrors);
    g_test_add_func("/sandboxwatch/api/errors", testApiErrors);
    g_test_add_func("/sandboxwatch/api/devices", testApiDevices);
    g_test_add_func("/sandboxwatch/api/unwatch-from-callback", testApiUnwatchFromCallback);
    g_test_add_func("/sandboxwatch/api/domain", testApiDomain);
    g_test_add_func("/sandboxwatch/daemon/run", testDaemon);
    g_test_add_func("/sandboxwatch/daemon/errors", testDaemonErrors);
    g_test_add_func("/sandboxwatch/daemon/integrity-errors", testDaemonIntegrityErrors);
    return g_test_run();
}
