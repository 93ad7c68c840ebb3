/*
 * clone_sandbox_watch.c: escape alerts, what a sandbox clone sends
 *
 * A sandbox clone's NICs are tap devices (vnetN) on the isolated bridge.
 * One AF_PACKET socket per tap, bound to its ifindex, sees every frame the
 * guest transmits: on a tap, what the guest sends is *received* by the host
 * (what the host sends to the guest is PACKET_OUTGOING and is skipped).
 * The socket sees a frame before the bridge and nftables decide anything,
 * so the frames that the isolation drops, which are the ones that matter
 * here, are observed too.  Attribution by port is exact; source MACs would
 * say nothing, since the guest keeps the source's MAC after a clone.
 *
 * Why not nftables counters: a counter says how many, not to whom, unless
 * a rule or a dynamic set element exists per destination; counters and
 * sets are read by polling (no first-attempt report within milliseconds);
 * nflog would push, but needs rules inside the isolation's ruleset, which
 * another component owns and re-applies.  A packet socket needs nothing
 * from the ruleset, and the kernel trims each frame to its first
 * CLONE_SANDBOX_SNAPLEN bytes by a socket filter before queueing it.
 *
 * A destination tuple is reported at once when it is new, then summed and
 * reported once per second while frames to it continue (see
 * virDomainCloneSandboxEvent).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_sandbox_watch.h"
#include "clone_xml.h"
#include "clone_paths.h"
#include "clone_job.h"
#include "clone_lookup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLONE_SANDBOX_SNAPLEN 512          /* bytes of a frame worth reading */
#define CLONE_SANDBOX_RCVBUF (4 << 20)     /* socket buffer per tap */
#define CLONE_SANDBOX_MAX_TUPLES 4096      /* then new ones are summed per protocol */
#define CLONE_SANDBOX_PERIOD G_USEC_PER_SEC  /* repeats: one event per period */
#define CLONE_SANDBOX_IDLE (10 * G_USEC_PER_SEC) /* a quiet tuple is forgotten */
#define CLONE_SANDBOX_BATCH 64             /* frames read per socket per wakeup */

CLONE_ENUM_IMPL(cloneSandboxEvent, VIR_DOMAIN_CLONE_SANDBOX_EVENT_LAST,
                "traffic", "lost", "end", "integrity");


/* ---- frame parser ---------------------------------------------------- */

static guint
cloneRd16(const guint8 *p)
{
    return ((guint)p[0] << 8) | p[1];
}


static void cloneSandboxFrameKind(cloneSandboxFrame *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
cloneSandboxFrameKind(cloneSandboxFrame *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_vsnprintf(f->kind, sizeof(f->kind), fmt, ap);
    va_end(ap);
}


static void
cloneSandboxParseArp(const guint8 *p, size_t len, cloneSandboxFrame *f)
{
    guint op;

    f->protocol = "arp";
    /* Ethernet and IPv4 only: that is all a guest on a bridge can mean */
    if (len < 28 || cloneRd16(p) != 1 || cloneRd16(p + 2) != ETH_P_IP || p[4] != 6 || p[5] != 4) {
        g_strlcpy(f->kind, "unknown", sizeof(f->kind));
        return;
    }
    inet_ntop(AF_INET, p + 24, f->dstAddr, sizeof(f->dstAddr));
    op = cloneRd16(p + 6);
    if (op == 1 && memcmp(p + 14, "\0\0\0\0", 4) == 0)
        g_strlcpy(f->kind, "probe", sizeof(f->kind));
    else if (op == 1 && memcmp(p + 14, p + 24, 4) == 0)
        g_strlcpy(f->kind, "announce", sizeof(f->kind));
    else if (op == 1)
        g_strlcpy(f->kind, "request", sizeof(f->kind));
    else if (op == 2)
        g_strlcpy(f->kind, "reply", sizeof(f->kind));
    else
        cloneSandboxFrameKind(f, "op-%u", op);
}


static const char *
cloneSandboxIcmpName(guint type, gboolean v6)
{
    static const struct { guint8 type; gboolean v6; const char *name; } names[] = {
        { 0, FALSE, "echo-reply" }, { 3, FALSE, "dest-unreachable" },
        { 5, FALSE, "redirect" }, { 8, FALSE, "echo-request" },
        { 11, FALSE, "time-exceeded" },
        { 1, TRUE, "dest-unreachable" }, { 3, TRUE, "time-exceeded" },
        { 128, TRUE, "echo-request" }, { 129, TRUE, "echo-reply" },
        { 131, TRUE, "mld-report" }, { 133, TRUE, "router-solicit" },
        { 134, TRUE, "router-advert" }, { 135, TRUE, "neighbor-solicit" },
        { 136, TRUE, "neighbor-advert" }, { 143, TRUE, "mld2-report" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (names[i].type == type && names[i].v6 == v6)
            return names[i].name;
    return NULL;
}


static void
cloneSandboxParseIcmp(const guint8 *p, size_t len, gboolean v6, cloneSandboxFrame *f)
{
    const char *name;

    f->protocol = v6 ? "icmpv6" : "icmp";
    if (len < 1) {
        g_strlcpy(f->kind, "truncated", sizeof(f->kind));
        return;
    }
    if ((name = cloneSandboxIcmpName(p[0], v6)))
        g_strlcpy(f->kind, name, sizeof(f->kind));
    else
        cloneSandboxFrameKind(f, "type-%u", p[0]);
    /* a neighbour solicitation asks for an address, as ARP does */
    if (v6 && p[0] == 135 && len >= 24)
        inet_ntop(AF_INET6, p + 8, f->dstAddr, sizeof(f->dstAddr));
}


static void
cloneSandboxParseTcp(const guint8 *p, size_t len, cloneSandboxFrame *f)
{
    guint flags;

    f->protocol = "tcp";
    if (len < 14) {
        g_strlcpy(f->kind, "truncated", sizeof(f->kind));
        return;
    }
    f->dstPort = (int)cloneRd16(p + 2);
    flags = p[13];
    if ((flags & 0x02) && !(flags & 0x10))
        g_strlcpy(f->kind, "syn", sizeof(f->kind));
    else if (flags & 0x02)
        g_strlcpy(f->kind, "syn-ack", sizeof(f->kind));
    else if (flags & 0x04)
        g_strlcpy(f->kind, "rst", sizeof(f->kind));
    else
        g_strlcpy(f->kind, "segment", sizeof(f->kind));
}


/* The transport header @p of IP protocol @proto. */
static void
cloneSandboxParseL4(guint proto, const guint8 *p, size_t len, gboolean v6, cloneSandboxFrame *f)
{
    if (proto == IPPROTO_TCP) {
        cloneSandboxParseTcp(p, len, f);
    } else if (proto == IPPROTO_UDP) {
        f->protocol = "udp";
        if (len >= 4)
            f->dstPort = (int)cloneRd16(p + 2);
        else
            g_strlcpy(f->kind, "truncated", sizeof(f->kind));
    } else if (proto == (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
        cloneSandboxParseIcmp(p, len, v6, f);
    } else {
        cloneSandboxFrameKind(f, "proto-%u", proto);
    }
}


static void
cloneSandboxParseIPv4(const guint8 *p, size_t len, cloneSandboxFrame *f)
{
    size_t ihl;

    f->protocol = "ipv4";
    if (len < 20 || (p[0] >> 4) != 4 || (ihl = (size_t)(p[0] & 0x0f) * 4) < 20) {
        g_strlcpy(f->kind, "truncated", sizeof(f->kind));
        return;
    }
    inet_ntop(AF_INET, p + 16, f->dstAddr, sizeof(f->dstAddr));
    if (cloneRd16(p + 6) & 0x1fff) {
        /* not the first fragment: no transport header */
        g_strlcpy(f->kind, "fragment", sizeof(f->kind));
        return;
    }
    cloneSandboxParseL4(p[9], p + MIN(ihl, len), len - MIN(ihl, len), FALSE, f);
}


/* Skips the IPv6 extension headers from @off; returns the upper-layer
 * protocol and moves @off to it, or returns -1 for a later fragment and -2
 * for a truncated or overlong chain. */
static int
cloneSandboxIPv6Skip(const guint8 *p, size_t len, guint nh, size_t *off)
{
    for (int i = 0; i < 8 && *off <= len; i++) {
        guint next;

        if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60)
            return (int)nh;
        if (*off + 8 > len)
            return -2;
        next = p[*off];
        if (nh == 44 && (cloneRd16(p + *off + 2) & 0xfff8))
            return -1;   /* not the first fragment */
        if (nh == 44)
            *off += 8;
        else if (nh == 51)
            *off += ((size_t)p[*off + 1] + 2) * 4;
        else
            *off += ((size_t)p[*off + 1] + 1) * 8;
        nh = next;
    }
    return -2;
}


static void
cloneSandboxParseIPv6(const guint8 *p, size_t len, cloneSandboxFrame *f)
{
    size_t off = 40;
    int proto;

    f->protocol = "ipv6";
    if (len < 40 || (p[0] >> 4) != 6) {
        g_strlcpy(f->kind, "truncated", sizeof(f->kind));
        return;
    }
    inet_ntop(AF_INET6, p + 24, f->dstAddr, sizeof(f->dstAddr));
    if ((proto = cloneSandboxIPv6Skip(p, len, p[6], &off)) < 0) {
        g_strlcpy(f->kind, proto == -1 ? "fragment" : "truncated", sizeof(f->kind));
        return;
    }
    if (proto == 59) {
        g_strlcpy(f->kind, "no-next-header", sizeof(f->kind));
        return;
    }
    cloneSandboxParseL4((guint)proto, p + off, len - off, TRUE, f);
}


void
cloneSandboxFrameParse(const guint8 *p, size_t len, cloneSandboxFrame *f)
{
    size_t off = 14;
    guint type;

    memset(f, 0, sizeof(*f));
    f->protocol = "other";
    f->dstPort = -1;
    if (len >= 6)
        g_snprintf(f->dstMac, sizeof(f->dstMac), "%02x:%02x:%02x:%02x:%02x:%02x",
                   p[0], p[1], p[2], p[3], p[4], p[5]);
    if (len < 14) {
        g_strlcpy(f->kind, "truncated", sizeof(f->kind));
        return;
    }
    type = cloneRd16(p + 12);
    /* 802.1Q and 802.1ad tags, if the kernel has not already taken them off */
    while ((type == ETH_P_8021Q || type == ETH_P_8021AD) && off + 4 <= len) {
        type = cloneRd16(p + off + 2);
        off += 4;
    }
    if (type == ETH_P_ARP)
        cloneSandboxParseArp(p + off, len - off, f);
    else if (type == ETH_P_IP)
        cloneSandboxParseIPv4(p + off, len - off, f);
    else if (type == ETH_P_IPV6)
        cloneSandboxParseIPv6(p + off, len - off, f);
    else if (type < ETH_P_802_3_MIN)
        g_strlcpy(f->kind, "llc", sizeof(f->kind));
    else
        cloneSandboxFrameKind(f, "ethertype-0x%04x", type);
}


/* ---- observer -------------------------------------------------------- */

typedef struct _cloneSandboxPort cloneSandboxPort;
struct _cloneSandboxPort {
    int fd;                      /* -1 once the device is gone */
    int ifindex;
    char name[IF_NAMESIZE];
};

/* One destination of one port, and what is not reported yet. */
typedef struct _cloneSandboxTuple cloneSandboxTuple;
struct _cloneSandboxTuple {
    cloneSandboxFrame frame;
    guint port;                  /* index in obs->ports */
    gint64 lastReport;           /* monotonic, microseconds */
    gint64 lastSeen;
    long long pendingFirstMs;    /* real time of the first unreported frame */
    unsigned int pending;        /* frames not reported yet */
};

struct _cloneSandboxObserver {
    char *clone;
    cloneSandboxPort *ports;
    size_t nports;
    size_t ngone;
    gboolean endReported;
    int wakefd;                  /* eventfd: Stop wakes the thread */
    GMutex lock;                 /* held by Start until obs->thread is set */
    GThread *thread;
    GThread *self;               /* the thread, as it knows itself (atomic) */
    gint stop;                   /* atomic */
    gboolean detached;           /* stopped from inside func: the thread frees */
    cloneSandboxObserverFunc func;
    void *opaque;
    GDestroyNotify freeOpaque;
    GHashTable *tuples;          /* key string -> cloneSandboxTuple */
    gint64 nextFlush;            /* monotonic; 0: nothing pending */
    gint64 nextHousekeeping;
};


static void
cloneSandboxObserverEmit(cloneSandboxObserver *obs, const virDomainCloneSandboxEvent *ev)
{
    if (!g_atomic_int_get(&obs->stop))
        obs->func(ev, obs->opaque);
}


static void
cloneSandboxObserverReport(cloneSandboxObserver *obs, const cloneSandboxTuple *t,
                           unsigned int count, long long timeMs)
{
    const cloneSandboxFrame *f = &t->frame;
    virDomainCloneSandboxEvent ev = {
        .type = VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC,
        .timeMs = timeMs,
        .clone = obs->clone,
        .device = obs->ports[t->port].name,
        .protocol = f->protocol,
        .kind = *f->kind ? f->kind : NULL,
        .dstMac = *f->dstMac ? f->dstMac : NULL,
        .dstAddr = *f->dstAddr ? f->dstAddr : NULL,
        .dstPort = f->dstPort,
        .count = count,
    };

    cloneSandboxObserverEmit(obs, &ev);
}


static void
cloneSandboxTupleKey(guint port, const cloneSandboxFrame *f, char *key, size_t size)
{
    g_snprintf(key, size, "%u|%s|%s|%s|%s|%d",
               port, f->protocol, f->kind, f->dstMac, f->dstAddr, f->dstPort);
}


/* The tuple of @frame, created if it is new (*isNew).  Beyond
 * CLONE_SANDBOX_MAX_TUPLES, new destinations share one tuple per port,
 * protocol and kind, with address "*". */
static cloneSandboxTuple *
cloneSandboxObserverTuple(cloneSandboxObserver *obs, guint port,
                          const cloneSandboxFrame *frame, gboolean *isNew)
{
    cloneSandboxFrame overflow = { .protocol = frame->protocol, .dstPort = -1 };
    char key[192];
    cloneSandboxTuple *t;

    cloneSandboxTupleKey(port, frame, key, sizeof(key));
    if ((t = g_hash_table_lookup(obs->tuples, key)))
        return t;
    if (g_hash_table_size(obs->tuples) >= CLONE_SANDBOX_MAX_TUPLES) {
        g_strlcpy(overflow.kind, frame->kind, sizeof(overflow.kind));
        g_strlcpy(overflow.dstAddr, "*", sizeof(overflow.dstAddr));
        frame = &overflow;
        cloneSandboxTupleKey(port, frame, key, sizeof(key));
        if ((t = g_hash_table_lookup(obs->tuples, key)))
            return t;
    }
    t = g_new0(cloneSandboxTuple, 1);
    t->frame = *frame;
    t->port = port;
    g_hash_table_insert(obs->tuples, g_strdup(key), t);
    *isNew = TRUE;
    return t;
}


/* A frame: reported at once if its destination is new or was quiet for a
 * period, else summed until its tuple's next period. */
static void
cloneSandboxObserverCount(cloneSandboxObserver *obs, guint port, const cloneSandboxFrame *frame)
{
    gint64 now = g_get_monotonic_time();
    long long nowMs = g_get_real_time() / 1000;
    gboolean isNew = FALSE;
    cloneSandboxTuple *t = cloneSandboxObserverTuple(obs, port, frame, &isNew);

    t->lastSeen = now;
    if (isNew || (t->pending == 0 && now - t->lastReport >= CLONE_SANDBOX_PERIOD)) {
        t->lastReport = now;
        cloneSandboxObserverReport(obs, t, 1, nowMs);
        return;
    }
    if (t->pending++ == 0) {
        gint64 due = t->lastReport + CLONE_SANDBOX_PERIOD;

        t->pendingFirstMs = nowMs;
        if (!obs->nextFlush || due < obs->nextFlush)
            obs->nextFlush = due;
    }
}


/* Reports the sums whose period is over (all of them with @force). */
static void
cloneSandboxObserverFlush(cloneSandboxObserver *obs, gint64 now, gboolean force)
{
    GHashTableIter iter;
    cloneSandboxTuple *t;
    gint64 next = 0;

    g_hash_table_iter_init(&iter, obs->tuples);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&t)) {
        gint64 due = t->lastReport + CLONE_SANDBOX_PERIOD;
        unsigned int count = t->pending;

        if (!count)
            continue;
        if (!force && now < due) {
            next = next ? MIN(next, due) : due;
            continue;
        }
        t->pending = 0;
        t->lastReport = now;
        cloneSandboxObserverReport(obs, t, count, t->pendingFirstMs);
    }
    obs->nextFlush = next;
}


/* Frames the kernel dropped since the last call (the counter resets). */
static void
cloneSandboxPortLost(cloneSandboxObserver *obs, cloneSandboxPort *port)
{
    struct tpacket_stats st = { 0 };
    socklen_t len = sizeof(st);
    virDomainCloneSandboxEvent ev = {
        .type = VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST,
        .clone = obs->clone,
        .device = port->name,
        .dstPort = -1,
    };

    if (port->fd < 0 ||
        getsockopt(port->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0 ||
        st.tp_drops == 0)
        return;
    ev.timeMs = g_get_real_time() / 1000;
    ev.count = st.tp_drops;
    cloneSandboxObserverEmit(obs, &ev);
}


/* A device that was deleted (the clone stopped) is given up.  A device
 * that is only down keeps its socket: the kernel resumes it when the
 * device comes up again. */
static void
cloneSandboxPortCheckGone(cloneSandboxObserver *obs, cloneSandboxPort *port)
{
    char name[IF_NAMESIZE];

    if (port->fd < 0 || if_indextoname(port->ifindex, name) || errno != ENXIO)
        return;
    close(port->fd);
    port->fd = -1;
    obs->ngone++;
    CLONE_DEBUG("sandbox watch of '%s': device %s is gone", obs->clone, port->name);
}


/* Once per second: forget quiet tuples, report losses, notice devices that
 * are gone (a deleted device does not always wake the socket up). */
static void
cloneSandboxObserverHousekeeping(cloneSandboxObserver *obs, gint64 now)
{
    virDomainCloneSandboxEvent end = {
        .type = VIR_DOMAIN_CLONE_SANDBOX_EVENT_END,
        .clone = obs->clone,
        .dstPort = -1,
    };
    GHashTableIter iter;
    cloneSandboxTuple *t;

    obs->nextHousekeeping = now + CLONE_SANDBOX_PERIOD;
    g_hash_table_iter_init(&iter, obs->tuples);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&t))
        if (!t->pending && now - t->lastSeen > CLONE_SANDBOX_IDLE)
            g_hash_table_iter_remove(&iter);
    for (size_t i = 0; i < obs->nports; i++) {
        cloneSandboxPortLost(obs, &obs->ports[i]);
        cloneSandboxPortCheckGone(obs, &obs->ports[i]);
    }
    if (obs->ngone < obs->nports || obs->endReported)
        return;
    cloneSandboxObserverFlush(obs, now, TRUE);
    obs->endReported = TRUE;
    end.timeMs = g_get_real_time() / 1000;
    cloneSandboxObserverEmit(obs, &end);
}


static void
cloneSandboxPortRead(cloneSandboxObserver *obs, guint idx)
{
    cloneSandboxPort *port = &obs->ports[idx];
    guint8 buf[CLONE_SANDBOX_SNAPLEN];
    cloneSandboxFrame frame;

    for (int i = 0; i < CLONE_SANDBOX_BATCH && port->fd >= 0; i++) {
        struct sockaddr_ll sll = { 0 };
        socklen_t slen = sizeof(sll);
        ssize_t n = recvfrom(port->fd, buf, sizeof(buf), 0, (struct sockaddr *)&sll, &slen);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENETDOWN)
            cloneSandboxPortCheckGone(obs, port);
        else if (n < 0 && errno != EAGAIN)
            CLONE_WARN("sandbox watch of '%s': cannot read from device %s: %s",
                       obs->clone, port->name, g_strerror(errno));
        if (n < 0)
            return;
        /* what the host sends to the guest (the filter skips it already) */
        if (sll.sll_pkttype == PACKET_OUTGOING)
            continue;
        cloneSandboxFrameParse(buf, (size_t)n, &frame);
        cloneSandboxObserverCount(obs, idx, &frame);
    }
}


static int
cloneSandboxObserverTimeout(cloneSandboxObserver *obs, gint64 now)
{
    gint64 next = obs->nextHousekeeping;

    if (obs->endReported)
        return 1000;   /* nothing left to watch: only Stop matters */
    if (obs->nextFlush && obs->nextFlush < next)
        next = obs->nextFlush;
    return next <= now ? 0 : (int)((next - now + 999) / 1000);
}


static void
cloneSandboxObserverIterate(cloneSandboxObserver *obs, struct pollfd *pfds)
{
    gint64 now = g_get_monotonic_time();

    pfds[0] = (struct pollfd){ .fd = obs->wakefd, .events = POLLIN };
    for (size_t i = 0; i < obs->nports; i++)
        pfds[i + 1] = (struct pollfd){ .fd = obs->ports[i].fd, .events = POLLIN };
    if (poll(pfds, obs->nports + 1, cloneSandboxObserverTimeout(obs, now)) < 0 && errno != EINTR) {
        CLONE_WARN("sandbox watch of '%s': poll failed: %s", obs->clone, g_strerror(errno));
        g_usleep(G_USEC_PER_SEC / 10);
        return;
    }
    for (guint i = 0; i < obs->nports; i++)
        if (pfds[i + 1].revents)
            cloneSandboxPortRead(obs, i);
    now = g_get_monotonic_time();
    if (obs->nextFlush && now >= obs->nextFlush)
        cloneSandboxObserverFlush(obs, now, FALSE);
    if (now >= obs->nextHousekeeping && !obs->endReported)
        cloneSandboxObserverHousekeeping(obs, now);
}


static void
cloneSandboxObserverFree(cloneSandboxObserver *obs)
{
    for (size_t i = 0; i < obs->nports; i++)
        if (obs->ports[i].fd >= 0)
            close(obs->ports[i].fd);
    if (obs->wakefd >= 0)
        close(obs->wakefd);
    g_hash_table_unref(obs->tuples);
    g_mutex_clear(&obs->lock);
    if (obs->freeOpaque)
        obs->freeOpaque(obs->opaque);
    g_free(obs->ports);
    g_free(obs->clone);
    g_free(obs);
}


static gpointer
cloneSandboxObserverRun(gpointer data)
{
    cloneSandboxObserver *obs = data;
    g_autofree struct pollfd *pfds = g_new0(struct pollfd, obs->nports + 1);

    g_atomic_pointer_set(&obs->self, g_thread_self());
    /* wait until Start has set obs->thread */
    g_mutex_lock(&obs->lock);
    g_mutex_unlock(&obs->lock);
    while (!g_atomic_int_get(&obs->stop))
        cloneSandboxObserverIterate(obs, pfds);
    if (obs->detached) {
        g_thread_unref(obs->thread);
        cloneSandboxObserverFree(obs);
    }
    return NULL;
}


/* A packet socket that receives what the guest behind @ifindex sends. */
static int
cloneSandboxPortOpen(const char *clone, int ifindex, cloneSandboxPort *port)
{
    /* skip outgoing frames (to the guest), keep SNAPLEN bytes of the rest */
    static const struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (guint32)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, CLONE_SANDBOX_SNAPLEN),
    };
    struct sock_fprog prog = { .len = G_N_ELEMENTS(code), .filter = (struct sock_filter *)code };
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex,
    };
    int one = 1;
    int rcvbuf = CLONE_SANDBOX_RCVBUF;

    port->ifindex = ifindex;
    if (!if_indextoname((unsigned int)ifindex, port->name)) {
        virCloneReportSystemError(errno, _("cannot find network device %1$d of clone '%2$s'"),
                                  ifindex, clone);
        return -1;
    }
    /* protocol 0: nothing is queued before bind() names the device */
    if ((port->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        virCloneReportSystemError(errno, _("cannot open a packet socket to watch device '%1$s' of clone '%2$s' (this needs CAP_NET_RAW)"),
                                  port->name, clone);
        return -1;
    }
    /* best effort: the filter skips outgoing frames all the same */
    (void)setsockopt(port->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    if (setsockopt(port->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
        (void)setsockopt(port->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (setsockopt(port->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
        bind(port->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        virCloneReportSystemError(errno, _("cannot watch device '%1$s' of clone '%2$s'"),
                                  port->name, clone);
        return -1;
    }
    return 0;
}


static cloneSandboxObserver *
cloneSandboxObserverNew(const char *clone, size_t nports)
{
    cloneSandboxObserver *obs = g_new0(cloneSandboxObserver, 1);

    obs->clone = g_strdup(clone);
    obs->ports = g_new0(cloneSandboxPort, nports);
    obs->nports = nports;
    for (size_t i = 0; i < nports; i++)
        obs->ports[i].fd = -1;
    obs->wakefd = -1;
    obs->tuples = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_mutex_init(&obs->lock);
    return obs;
}


cloneSandboxObserver *
cloneSandboxObserverStart(const char *clone, const int *ifindexes, size_t nifindexes,
                          cloneSandboxObserverFunc func, void *opaque, GDestroyNotify freeOpaque)
{
    g_autoptr(cloneSandboxObserver) obs = cloneSandboxObserverNew(clone, nifindexes);
    g_autoptr(GError) gerr = NULL;

    if (nifindexes == 0) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("no network device to watch for clone '%1$s'"), clone);
        return NULL;
    }
    for (size_t i = 0; i < nifindexes; i++)
        if (cloneSandboxPortOpen(clone, ifindexes[i], &obs->ports[i]) < 0)
            return NULL;
    if ((obs->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        virCloneReportSystemError(errno, "%s", _("cannot create an eventfd"));
        return NULL;
    }
    obs->func = func;
    obs->opaque = opaque;
    obs->freeOpaque = freeOpaque;
    obs->nextHousekeeping = g_get_monotonic_time() + CLONE_SANDBOX_PERIOD;
    g_mutex_lock(&obs->lock);
    obs->thread = g_thread_try_new("sandbox-watch", cloneSandboxObserverRun, obs, &gerr);
    g_mutex_unlock(&obs->lock);
    if (!obs->thread) {
        obs->freeOpaque = NULL;   /* the caller keeps @opaque on failure */
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("cannot start the thread that watches clone '%1$s': %2$s"),
                            clone, gerr->message);
        return NULL;
    }
    CLONE_DEBUG("sandbox watch of '%s' started on %zu devices", clone, nifindexes);
    return g_steal_pointer(&obs);
}


void
cloneSandboxObserverStop(cloneSandboxObserver *obs)
{
    guint64 one = 1;

    if (!obs)
        return;
    g_atomic_int_set(&obs->stop, 1);
    if (!obs->thread) {
        cloneSandboxObserverFree(obs);
        return;
    }
    if (g_atomic_pointer_get(&obs->self) == g_thread_self()) {
        obs->detached = TRUE;   /* the thread frees after the callback */
        return;
    }
    if (write(obs->wakefd, &one, sizeof(one)) < 0)
        CLONE_WARN("cannot wake the sandbox watch of '%s' up: %s", obs->clone, g_strerror(errno));
    g_thread_join(obs->thread);
    cloneSandboxObserverFree(obs);
}


/* ---- a domain's tap devices ------------------------------------------ */

/* The tap devices of a running domain, not empty; NULL with an error. */
static char **
cloneSandboxDomainTapsOf(virDomainPtr dom)
{
    g_autofree char *xml = NULL;
    g_auto(GStrv) taps = NULL;
    int active;

    if ((active = virDomainIsActive(dom)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot check whether domain '%1$s' is running"),
                                   virDomainGetName(dom));
        return NULL;
    }
    if (!active) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' is not running: only a running domain has tap devices to watch"),
                            virDomainGetName(dom));
        return NULL;
    }
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot read the XML of domain '%1$s'"),
                                   virDomainGetName(dom));
        return NULL;
    }
    if (!(taps = cloneXMLDomainTaps(xml)))
        return NULL;
    if (!taps[0]) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' has no tap device to watch: none of its interfaces is of type bridge, network or ethernet with a target device"),
                            virDomainGetName(dom));
        return NULL;
    }
    return g_steal_pointer(&taps);
}


/* ---- public API: watches --------------------------------------------- */

typedef struct _cloneSandboxWatch cloneSandboxWatch;
struct _cloneSandboxWatch {
    virDomainPtr dom;            /* a reference, or NULL (watch of devices) */
    virDomainCloneSandboxEventCallback cb;
    void *opaque;
    virFreeCallback freecb;
    cloneSandboxObserver *obs;
};

/* A registered watch of any kind: its stop function and handle. */
typedef struct {
    GDestroyNotify stop;
    void *handle;
} cloneSandboxWatchEntry;

static GMutex cloneSandboxWatchLock;
static GHashTable *cloneSandboxWatches;   /* ID -> cloneSandboxWatchEntry */
static int cloneSandboxWatchLastID;


int
cloneSandboxWatchRegister(GDestroyNotify stop, void *handle)
{
    cloneSandboxWatchEntry *e = g_new0(cloneSandboxWatchEntry, 1);
    int id;

    e->stop = stop;
    e->handle = handle;
    g_mutex_lock(&cloneSandboxWatchLock);
    if (!cloneSandboxWatches)
        cloneSandboxWatches = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    do {
        cloneSandboxWatchLastID = cloneSandboxWatchLastID == G_MAXINT ? 1 : cloneSandboxWatchLastID + 1;
        id = cloneSandboxWatchLastID;
    } while (g_hash_table_contains(cloneSandboxWatches, GINT_TO_POINTER(id)));
    g_hash_table_insert(cloneSandboxWatches, GINT_TO_POINTER(id), e);
    g_mutex_unlock(&cloneSandboxWatchLock);
    return id;
}


static void
cloneSandboxWatchDispatch(const virDomainCloneSandboxEvent *event, void *opaque)
{
    cloneSandboxWatch *w = opaque;

    w->cb(w->dom, event, w->opaque);
}


static void
cloneSandboxWatchFree(void *opaque)
{
    cloneSandboxWatch *w = opaque;

    if (w->freecb)
        w->freecb(w->opaque);
    if (w->dom)
        virDomainFree(w->dom);
    g_free(w);
}


static GArray *
cloneSandboxIfindexes(const char *clone, const char *const *devices)
{
    g_autoptr(GArray) ifindexes = g_array_new(FALSE, FALSE, sizeof(int));

    for (; *devices; devices++) {
        int ifindex = (int)if_nametoindex(*devices);

        if (!ifindex) {
            virCloneReportSystemError(errno, _("cannot find network device '%1$s' of clone '%2$s'"),
                                      *devices, clone);
            return NULL;
        }
        g_array_append_val(ifindexes, ifindex);
    }
    return g_steal_pointer(&ifindexes);
}


static int
cloneSandboxWatchAdd(virDomainPtr dom, const char *clone, const char *const *devices,
                     virDomainCloneSandboxEventCallback cb, void *opaque, virFreeCallback freecb)
{
    g_autoptr(GArray) ifindexes = cloneSandboxIfindexes(clone, devices);
    cloneSandboxWatch *w;

    if (!ifindexes)
        return -1;
    w = g_new0(cloneSandboxWatch, 1);
    w->dom = dom;
    w->cb = cb;
    w->opaque = opaque;
    if (dom)
        virDomainRef(dom);
    if (!(w->obs = cloneSandboxObserverStart(clone, (const int *)(void *)ifindexes->data, ifindexes->len,
                                             cloneSandboxWatchDispatch, w, cloneSandboxWatchFree))) {
        cloneSandboxWatchFree(w);   /* freecb not set yet: the caller keeps opaque */
        return -1;
    }
    w->freecb = freecb;
    return cloneSandboxWatchRegister((GDestroyNotify)cloneSandboxObserverStop, w->obs);
}


/**
 * virDomainCloneSandboxWatch:
 * @clone: a running domain, normally a sandbox clone
 * @cb: called for every event
 * @opaque: passed to @cb
 * @freecb: frees @opaque when the watch is unwatched, or NULL
 * @flags: extra flags; not used yet, so callers should always pass 0
 *
 * Watches what @clone sends on its tap devices: every <interface> of type
 * bridge, network or ethernet with a <target dev> in its live XML, found
 * when this is called (the caller decides whether @clone is a sandbox).
 * Frames are observed from the return of this call on, before the bridge
 * or any firewall sees them, and summarised as virDomainCloneSandboxEvent:
 * the first frame to a new destination is reported within milliseconds.
 *
 * @cb runs in a thread of the watch, not in the caller's event loop; see
 * virDomainCloneSandboxEventCallback.  The watch keeps a reference to
 * @clone.  When the clone stops, its devices disappear and the watch
 * reports VIR_DOMAIN_CLONE_SANDBOX_EVENT_END; a restarted clone has new
 * devices and needs a new watch.
 *
 * Needs CAP_NET_RAW (packet sockets) and the clone on this host.
 *
 * Returns a watch ID for virDomainCloneSandboxUnwatch(), or -1 with the
 * thread's last error set (then @freecb is not called).
 *
 * Since: 0.3.0
 */
CLONE_EXPORT int
virDomainCloneSandboxWatch(virDomainPtr clone,
                           virDomainCloneSandboxEventCallback cb,
                           void *opaque,
                           virFreeCallback freecb,
                           unsigned int flags)
{
    g_auto(GStrv) taps = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, -1);
    cloneCheckNonNull(clone, -1);
    cloneCheckNonNull(cb, -1);
    /* a clone whose job died is rolled back, not watched */
    if (cloneJobsRecoverStale(virDomainGetConnect(clone)) < 0)
        return -1;
    if (!(taps = cloneSandboxDomainTapsOf(clone)))
        return -1;
    return cloneSandboxWatchAdd(clone, virDomainGetName(clone), (const char *const *)taps,
                                cb, opaque, freecb);
}


/**
 * virDomainCloneSandboxWatchDevices:
 * @cloneName: the name the events report
 * @devices: the clone's tap devices, NULL-terminated
 * @cb: called for every event, with a NULL domain
 * @opaque: passed to @cb
 * @freecb: frees @opaque when the watch is unwatched, or NULL
 * @flags: extra flags; not used yet, so callers should always pass 0
 *
 * The same as virDomainCloneSandboxWatch() for a caller that knows the
 * devices and must not or cannot call libvirt: a libvirt hook (which gets
 * the domain XML on its standard input), or another process than the one
 * that owns an embedded driver.
 *
 * Returns a watch ID for virDomainCloneSandboxUnwatch(), or -1 with the
 * thread's last error set (then @freecb is not called).
 *
 * Since: 0.3.0
 */
CLONE_EXPORT int
virDomainCloneSandboxWatchDevices(const char *cloneName,
                                  const char *const *devices,
                                  virDomainCloneSandboxEventCallback cb,
                                  void *opaque,
                                  virFreeCallback freecb,
                                  unsigned int flags)
{
    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, -1);
    cloneCheckNonNull(cloneName, -1);
    cloneCheckNonNull(devices, -1);
    cloneCheckNonNull(cb, -1);
    if (!devices[0]) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("no network device to watch for clone '%1$s'"), cloneName);
        return -1;
    }
    return cloneSandboxWatchAdd(NULL, cloneName, devices, cb, opaque, freecb);
}


/**
 * virDomainCloneSandboxUnwatch:
 * @watchID: what virDomainCloneSandboxWatch*() or
 *           virDomainCloneIntegrityWatch() returned
 *
 * Stops a watch: no event is delivered once this is called.  It waits for
 * a callback under way in the watch's thread to return, then calls the
 * watch's free callback and releases its domain reference.  Called from
 * the watch's own callback, it returns at once and the watch's thread does
 * the rest after the callback returns.
 *
 * Returns 0, or -1 with the thread's last error set if no watch has this ID.
 *
 * Since: 0.3.0
 */
CLONE_EXPORT int
virDomainCloneSandboxUnwatch(int watchID)
{
    cloneSandboxWatchEntry e = { 0 };
    gpointer found = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    g_mutex_lock(&cloneSandboxWatchLock);
    if (cloneSandboxWatches &&
        (found = g_hash_table_lookup(cloneSandboxWatches, GINT_TO_POINTER(watchID)))) {
        e = *(cloneSandboxWatchEntry *)found;
        g_hash_table_remove(cloneSandboxWatches, GINT_TO_POINTER(watchID));
        if (g_hash_table_size(cloneSandboxWatches) == 0)
            g_clear_pointer(&cloneSandboxWatches, g_hash_table_unref);
    }
    g_mutex_unlock(&cloneSandboxWatchLock);
    if (!found) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("there is no sandbox watch with ID %1$d"), watchID);
        return -1;
    }
    e.stop(e.handle);
    return 0;
}


/**
 * virDomainCloneSandboxEventTypeToString:
 * @type: a virDomainCloneSandboxEventType
 *
 * Returns "traffic", "lost", "end" or "integrity", or NULL for an unknown
 * type.
 *
 * Since: 0.3.0
 */
CLONE_EXPORT const char *
virDomainCloneSandboxEventTypeToString(int type)
{
    return cloneSandboxEventTypeToString(type);
}


/* ---- watch daemon ---------------------------------------------------- */

static const char *
cloneSandboxDaemonProgram(const char *program)
{
    const char *env = g_getenv("LIBVIRT_CLONE_CLI");

    if (program)
        return program;
    return env && *env ? env : VIRT_CLONE_LIVE_PATH;
}


/* argv of "virt-clone-live sandbox-watch --daemon ..."; the strings are
 * borrowed from @p and @interval (the integrity watch's, in ms). */
static GPtrArray *
cloneSandboxDaemonArgv(const cloneSandboxDaemonParams *p, const char *interval)
{
    GPtrArray *argv = g_ptr_array_new();
    const char *fixed[] = { "sandbox-watch", "--daemon", "--pidfile", p->pidfile };

    g_ptr_array_add(argv, (char *)cloneSandboxDaemonProgram(p->program));
    if (p->integrityIntervalMs) {
        g_ptr_array_add(argv, (char *)"--connect");
        g_ptr_array_add(argv, (char *)p->uri);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
        g_ptr_array_add(argv, (char *)fixed[i]);
    if (p->logPath) {
        g_ptr_array_add(argv, (char *)"--log");
        g_ptr_array_add(argv, (char *)p->logPath);
    }
    if (p->command) {
        g_ptr_array_add(argv, (char *)"--exec");
        g_ptr_array_add(argv, (char *)p->command);
    }
    if (p->integrityIntervalMs) {
        /* the daemon asks libvirt for the taps (the same ones), and
         * watches the kernel */
        g_ptr_array_add(argv, (char *)"--integrity");
        g_ptr_array_add(argv, (char *)"--action");
        g_ptr_array_add(argv, (char *)p->integrityAction);
        g_ptr_array_add(argv, (char *)"--interval");
        g_ptr_array_add(argv, (char *)interval);
    } else {
        for (const char *const *tap = p->taps; *tap; tap++) {
            g_ptr_array_add(argv, (char *)"--device");
            g_ptr_array_add(argv, (char *)*tap);
        }
    }
    g_ptr_array_add(argv, (char *)"--");
    g_ptr_array_add(argv, (char *)p->clone);
    g_ptr_array_add(argv, NULL);
    return argv;
}


/* The last line the daemon printed on stderr, without the CLI's prefix. */
static const char *
cloneSandboxDaemonMessage(char *err)
{
    char *line;

    g_strstrip(err);
    line = strrchr(err, '\n') ? strrchr(err, '\n') + 1 : err;
    if (g_str_has_prefix(line, "error: "))
        line += strlen("error: ");
    return *line ? line : _("it exited without a message");
}


int
cloneSandboxDaemonStart(const cloneSandboxDaemonParams *p, pid_t *pid)
{
    g_autoptr(GPtrArray) argv = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autofree char *err = NULL;
    g_autofree char *interval = g_strdup_printf("%u", p->integrityIntervalMs);
    int status;
    pid_t daemonPid;

    if (!p->clone || !p->pidfile || !p->taps || !p->taps[0] || (!p->logPath && !p->command)) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("a sandbox watch daemon needs a clone name, its tap devices, a pidfile, and a log file or a command"));
        return -1;
    }
    if (p->integrityIntervalMs && (!p->uri || !p->integrityAction)) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("the integrity watch of a sandbox watch daemon needs a connection URI and an action"));
        return -1;
    }
    argv = cloneSandboxDaemonArgv(p, interval);
    /* returns once the daemon has bound its sockets (or failed) and
     * closed its standard output and error */
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &err, &status, &gerr)) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot run '%1$s' to watch clone '%2$s': %3$s"),
                            (const char *)argv->pdata[0], p->clone, gerr->message);
        return -1;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot start the sandbox watch of clone '%1$s': %2$s"),
                            p->clone, cloneSandboxDaemonMessage(err));
        return -1;
    }
    if ((daemonPid = cloneSandboxDaemonPid(p->pidfile)) <= 0) {
        if (daemonPid == 0)
            virCloneReportError(VIR_CLONE_ERR_INTERNAL,
                                _("the sandbox watch of clone '%1$s' started, but nothing holds its pidfile '%2$s'"),
                                p->clone, p->pidfile);
        return -1;
    }
    CLONE_DEBUG("sandbox watch daemon of '%s' started, pid %d", p->clone, (int)daemonPid);
    if (pid)
        *pid = daemonPid;
    return 0;
}


int
cloneSandboxDaemonStartForDomain(virDomainPtr clone, const char *pidfile,
                                 const char *logPath, const char *command,
                                 guint integrityIntervalMs, const char *integrityAction,
                                 pid_t *pid)
{
    g_auto(GStrv) taps = NULL;
    g_autofree char *uri = NULL;
    cloneSandboxDaemonParams p = {
        .pidfile = pidfile, .logPath = logPath, .command = command,
        .integrityIntervalMs = integrityIntervalMs, .integrityAction = integrityAction,
    };

    if (integrityIntervalMs) {
        virConnectPtr conn = virDomainGetConnect(clone);

        if (cloneConnGetKind(conn, NULL) == CLONE_CONN_EMBED) {
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("the integrity watch of clone '%1$s' (policy <integrity>) needs a libvirt daemon: its watcher is another process, which cannot open the embedded driver's root"),
                                virDomainGetName(clone));
            return -1;
        }
        if (!(uri = virConnectGetURI(conn))) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the connection's URI"));
            return -1;
        }
        p.uri = uri;
    }
    if (!(taps = cloneSandboxDomainTapsOf(clone)))
        return -1;
    p.clone = virDomainGetName(clone);
    p.taps = (const char *const *)taps;
    return cloneSandboxDaemonStart(&p, pid);
}


pid_t
cloneSandboxDaemonPid(const char *pidfile)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int fd = open(pidfile, O_RDONLY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0) {
        virCloneReportSystemError(errno, _("cannot read the lock of pidfile '%1$s'"), pidfile);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}


int
cloneSandboxDaemonStop(const char *pidfile)
{
    pid_t pid = cloneSandboxDaemonPid(pidfile);

    if (pid <= 0)
        return pid;
    if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
        virCloneReportSystemError(errno, _("cannot stop the sandbox watch %1$d of pidfile '%2$s'"),
                                  (int)pid, pidfile);
        return -1;
    }
    for (int i = 0; i < 50; i++) {
        pid_t now = cloneSandboxDaemonPid(pidfile);

        if (now != pid)
            return now < 0 ? -1 : 1;
        g_usleep(G_USEC_PER_SEC / 10);
    }
    virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                        _("the sandbox watch %1$d of pidfile '%2$s' did not exit within 5 seconds"),
                        (int)pid, pidfile);
    return -1;
}
