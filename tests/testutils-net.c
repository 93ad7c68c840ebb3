/*
 * testutils-net.c: test networks of a test's own making
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "testutils-net.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

struct _TnBridge {
    char *name;
    char *dir;            /* udhcpd's configuration and leases */
    GSubprocess *dhcpd;
};


gboolean
tnRun(gboolean mayFail, const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *errout = NULL;
    const char *a;
    int status = 0;
    va_list ap;

    va_start(ap, first);
    for (a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (gpointer)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &errout, &status, &err) ||
        !g_spawn_check_wait_status(status, NULL)) {
        if (!mayFail)
            g_error("%s failed: %s", first, err ? err->message : errout);
        return FALSE;
    }
    return TRUE;
}


void
tnReapStale(const char *prefix)
{
    g_autoptr(GDir) d = g_dir_open("/sys/class/net", 0, NULL);
    size_t len = strlen(prefix);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *proc = NULL;

        if (!g_str_has_prefix(name, prefix) || !name[len] ||
            name[len + strspn(name + len, "0123456789")] != '\0')
            continue;
        proc = g_strdup_printf("/proc/%s", name + len);
        if (!g_file_test(proc, G_FILE_TEST_EXISTS))
            tnRun(TRUE, "ip", "link", "del", name, NULL);
    }
}


TnBridge *
tnBridgeNew(const char *prefix, const char *mac, const char *cidr)
{
    TnBridge *br = g_new0(TnBridge, 1);

    tnReapStale(prefix);
    br->name = g_strdup_printf("%s%u", prefix, (guint)getpid());
    tnRun(FALSE, "ip", "link", "add", br->name, "address", mac, "type", "bridge",
          "stp_state", "0", "forward_delay", "0", NULL);
    if (cidr)
        tnRun(FALSE, "ip", "addr", "add", cidr, "dev", br->name, NULL);
    tnRun(FALSE, "ip", "link", "set", br->name, "up", NULL);
    return br;
}


const char *
tnBridgeName(TnBridge *br)
{
    return br->name;
}


static void
tnDieWithParent(gpointer data G_GNUC_UNUSED)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}


void
tnBridgeDhcp(TnBridge *br, const char *first, const char *last, const char *router)
{
    tnBridgeDhcpExtra(br, first, last, router, NULL);
}


void
tnBridgeDhcpExtra(TnBridge *br, const char *first, const char *last, const char *router,
                  const char *extra)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autofree char *conf = NULL;
    g_autofree char *leases = NULL;
    g_autofree char *text = NULL;

    g_assert_null(br->dhcpd);
    br->dir = g_dir_make_tmp("lvcdhcp-XXXXXX", &err);
    g_assert_no_error(err);
    conf = g_build_filename(br->dir, "udhcpd.conf", NULL);
    leases = g_build_filename(br->dir, "leases", NULL);
    text = g_strdup_printf("start %s\nend %s\ninterface %s\nlease_file %s\n"
                           "pidfile %s/udhcpd.pid\nmax_leases 51\n"
                           "option subnet 255.255.255.0\noption router %s\noption lease 600\n",
                           first, last, br->name, leases, br->dir, router);
    if (extra) {
        g_autofree char *more = g_strconcat(text, extra, NULL);

        g_free(text);
        text = g_steal_pointer(&more);
    }
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    g_assert_true(g_file_set_contents(leases, "", 0, NULL));
    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_SILENCE |
                                         G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    /* it goes with this process, however this process ends */
    g_subprocess_launcher_set_child_setup(launcher, tnDieWithParent, NULL, NULL);
    br->dhcpd = g_subprocess_launcher_spawn(launcher, &err, "busybox", "udhcpd", "-f", conf, NULL);
    g_assert_no_error(err);
}


void
tnBridgeFree(TnBridge *br)
{
    if (!br)
        return;
    if (br->dhcpd) {
        g_subprocess_force_exit(br->dhcpd);
        g_subprocess_wait(br->dhcpd, NULL, NULL);
        g_clear_object(&br->dhcpd);
    }
    tnRun(TRUE, "ip", "link", "del", br->name, NULL);
    if (br->dir) {
        g_autoptr(GDir) d = g_dir_open(br->dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *path = g_build_filename(br->dir, name, NULL);

            g_unlink(path);
        }
        g_rmdir(br->dir);
    }
    g_free(br->dir);
    g_free(br->name);
    g_free(br);
}


/* ---- what the host receives, per interface ------------------------------------ */

#define TN_CAPTURE_MACS 8

struct _TnCapture {
    int fd;
    GThread *thread;
    gint stop;
    GMutex lock;
    guint nwatched;
    guint8 watched[TN_CAPTURE_MACS][ETH_ALEN];
    GHashTable *counts;        /* (index << 32 | ifindex) -> frames */
    GHashTable *claims;        /* (index << 32 | IPv4, network order) -> frames */
};


static void
tnCount(GHashTable *h, guint64 key)
{
    guint64 *k = g_new(guint64, 1);

    *k = key;
    g_hash_table_insert(h, k, GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(h, k)) + 1));
}


/* the IPv4 address a frame claims as its sender's, 0 if none */
static guint32
tnFrameClaim(const guint8 *buf, ssize_t n)
{
    guint16 type = (guint16)(buf[12] << 8 | buf[13]);
    guint32 ip = 0;

    if (type == ETH_P_ARP && n >= ETH_HLEN + 28)
        memcpy(&ip, buf + ETH_HLEN + 14, 4);
    else if (type == ETH_P_IP && n >= ETH_HLEN + 20)
        memcpy(&ip, buf + ETH_HLEN + 12, 4);
    return ip;
}


static gpointer
tnCaptureRun(gpointer data)
{
    TnCapture *c = data;
    guint8 buf[2048];

    while (!g_atomic_int_get(&c->stop)) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        struct sockaddr_ll from;
        socklen_t len = sizeof(from);
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        n = recvfrom(c->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &len);
        /* frames the host sends out are not frames a guest sent */
        if (n < ETH_HLEN || from.sll_pkttype == PACKET_OUTGOING)
            continue;
        g_mutex_lock(&c->lock);
        for (guint i = 0; i < c->nwatched; i++) {
            guint32 ip;

            if (memcmp(buf + ETH_ALEN, c->watched[i], ETH_ALEN) != 0)
                continue;
            tnCount(c->counts, (guint64)i << 32 | (guint32)from.sll_ifindex);
            if ((ip = tnFrameClaim(buf, n)))
                tnCount(c->claims, (guint64)i << 32 | ip);
        }
        g_mutex_unlock(&c->lock);
    }
    return NULL;
}


static void
tnParseMac(const char *text, guint8 *mac)
{
    g_assert_cmpint(sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
                           &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]), ==, 6);
}


TnCapture *
tnCaptureStart(void)
{
    TnCapture *c = g_new0(TnCapture, 1);

    c->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    g_assert_cmpint(c->fd, >=, 0);
    c->counts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    c->claims = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_mutex_init(&c->lock);
    c->thread = g_thread_new("capture", tnCaptureRun, c);
    return c;
}


/* the index of @mac among the watched ones, -1 if not watched */
static int
tnCaptureIndex(TnCapture *c, const char *mac)
{
    guint8 m[ETH_ALEN];

    tnParseMac(mac, m);
    for (guint i = 0; i < c->nwatched; i++)
        if (memcmp(c->watched[i], m, ETH_ALEN) == 0)
            return (int)i;
    return -1;
}


void
tnCaptureWatch(TnCapture *c, const char *mac)
{
    g_mutex_lock(&c->lock);
    if (tnCaptureIndex(c, mac) < 0) {
        g_assert_cmpuint(c->nwatched, <, TN_CAPTURE_MACS);
        tnParseMac(mac, c->watched[c->nwatched++]);
    }
    g_mutex_unlock(&c->lock);
}


guint
tnCaptureCount(TnCapture *c, const char *mac, const char *ifname)
{
    guint ifindex = if_nametoindex(ifname);
    guint64 key;
    int i;
    guint n;

    g_assert_cmpuint(ifindex, >, 0);
    g_mutex_lock(&c->lock);
    i = tnCaptureIndex(c, mac);
    g_assert_cmpint(i, >=, 0);
    key = (guint64)i << 32 | ifindex;
    n = GPOINTER_TO_UINT(g_hash_table_lookup(c->counts, &key));
    g_mutex_unlock(&c->lock);
    return n;
}


guint
tnCaptureClaims(TnCapture *c, const char *mac, const char *ipv4)
{
    struct in_addr a;
    guint64 key;
    int i;
    guint n;

    g_assert_cmpint(inet_pton(AF_INET, ipv4, &a), ==, 1);
    g_mutex_lock(&c->lock);
    i = tnCaptureIndex(c, mac);
    g_assert_cmpint(i, >=, 0);
    key = (guint64)i << 32 | a.s_addr;
    n = GPOINTER_TO_UINT(g_hash_table_lookup(c->claims, &key));
    g_mutex_unlock(&c->lock);
    return n;
}


void
tnCaptureStop(TnCapture *c)
{
    if (!c)
        return;
    g_atomic_int_set(&c->stop, 1);
    g_thread_join(c->thread);
    close(c->fd);
    g_hash_table_unref(c->counts);
    g_hash_table_unref(c->claims);
    g_mutex_clear(&c->lock);
    g_free(c);
}


char *
tnNeighMac(const char *ip)
{
    const char *argv[] = { "ip", "neigh", "show", "to", ip, NULL };
    g_autofree char *out = NULL;
    g_auto(GStrv) words = NULL;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, NULL, NULL))
        return NULL;
    words = g_strsplit_set(out, " \n", -1);
    for (guint i = 0; words[i] && words[i + 1]; i++)
        if (g_str_equal(words[i], "lladdr"))
            return g_ascii_strdown(words[i + 1], -1);
    return NULL;
}
