/*
 * bench-identity.c: how long a live clone takes to be on the network with an
 * identity of its own, against booting a fresh guest, in one run, on one
 * bridge:
 *
 *   - live clone, DHCP: network mode inherit (new MAC inside the guest,
 *     addresses flushed, host name set, machine-id regenerated, links up,
 *     a DHCP client in the guest);
 *   - live clone, static address: the same with a static address and
 *     default route from the policy instead of DHCP;
 *   - cold boot, DHCP: a new guest of the same size booted on the bridge,
 *     its address by DHCP.
 *
 * For each: the time to a running guest, to its address being in place and
 * to a TCP echo from the host at that address (the guest's port 7).  The
 * guests are the test guest of tests/guest/ under the harness of
 * tests/testutils-guest.[ch]; the bridge and its DHCP server (busybox
 * udhcpd) come from tests/testutils-net.[ch].  One markdown table on
 * stdout, progress on stderr.  See docs/benchmarks.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "bench-util.h"
#include "testutils-guest.h"
#include "testutils-net.h"

#define NET_PREFIX "10.80.0."
#define BRIDGE_IP NET_PREFIX "1"
#define BRIDGE_MAC "02:00:0a:50:00:01"
#define SOURCE_IP NET_PREFIX "10"
#define STATIC_FIRST 50
#define DHCP_FIRST NET_PREFIX "100"
#define DHCP_LAST NET_PREFIX "150"
#define ECHO_PORT 7
#define ECHO_POLL_MS 20
#define REACH_TIMEOUT_MS 30000
#define GUEST_MIB 256
/* clones per source before a fresh one: each adds an image to its chain,
 * and the policy allows 24 (so that no clone pays for a flatten) */
#define CLONES_PER_SOURCE 20
#define QUIET_S 15

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)


/* ---- options ------------------------------------------------------------ */

static gint optReps = 5;
static char *optMethods;
static gboolean optQuick;
static gboolean optVerbose;
static gboolean optWaitQuiet;

static GOptionEntry optEntries[] = {
    { "reps", 'r', 0, G_OPTION_ARG_INT, &optReps, "repetitions of each method (5)", "N" },
    { "methods", 0, 0, G_OPTION_ARG_STRING, &optMethods,
      "methods (dhcp,static,cold)", "LIST" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &optQuick, "smoke run: 2 repetitions", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &optVerbose, "print the library's log", NULL },
    { "wait-quiet", 'w', 0, G_OPTION_ARG_NONE, &optWaitQuiet,
      "before each measurement, wait until no other QEMU has run for 15 s", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
};


/* ---- methods and results ------------------------------------------------ */

typedef enum {
    M_DHCP = 0,
    M_STATIC,
    M_COLD,
    M_LAST
} Method;

static const char *const methodNames[M_LAST] = { "dhcp", "static", "cold" };

static const char *const methodLabels[M_LAST] = {
    "live clone, DHCP",
    "live clone, static address",
    "cold boot, DHCP",
};

/* One measurement, in ms; negative: not measured. */
typedef struct {
    double running;      /* call -> guest running (clone resumed / ready line) */
    double netUp;        /* resume -> links up, address in place */
    double identity;     /* identity steps before the links came up */
    double callNetUp;    /* call -> address in place */
    double reach;        /* call -> first TCP echo from the host */
    double lookup;       /* DHCP clones: address lookup after the call */
    gboolean foreign;    /* another QEMU ran meanwhile */
} Sample;

static void
sampleInit(Sample *s)
{
    memset(s, 0, sizeof(*s));
    s->running = s->netUp = s->identity = s->callNetUp = s->reach = s->lookup = -1;
}

typedef struct {
    GArray *samples;     /* of Sample */
    guint failures;
    char *firstError;
} Row;

typedef struct {
    TgEnv *env;
    TnBridge *net;
    TgGuest *src;
    char *srcMac;
    guint clonesOfSrc;
    gboolean methods[M_LAST];
    Row rows[M_LAST];
} Bench;


/* ---- small helpers ------------------------------------------------------ */



static double
msSince(gint64 t0)
{
    return (double)(g_get_monotonic_time() - t0) / 1000.0;
}


/* The first group of @pattern in the domain's live XML. */
static char *
xmlGet(virDomainPtr dom, const char *pattern)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GRegex) re = g_regex_new(pattern, 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;

    if (!xml || !g_regex_match(re, xml, 0, &m))
        return NULL;
    return g_match_info_fetch(m, 1);
}


/* Whether a qemu-system process runs that is not one of ours (its command
 * line does not name our root).  bench-clone.c has a fuller watcher that
 * also counts other CPU load; a guest booting or cloning is what skews
 * these numbers. */
static gboolean
otherQemus(TgEnv *env)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *pid;
    gboolean found = FALSE;

    while (d && !found && (pid = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        g_autofree char *cmd = NULL;
        gsize len = 0;

        if (!g_ascii_isdigit(pid[0]))
            continue;
        path = g_strdup_printf("/proc/%s/cmdline", pid);
        if (!g_file_get_contents(path, &cmd, &len, NULL) || len == 0)
            continue;          /* gone, or a zombie */
        for (gsize i = 0; i + 1 < len; i++) {
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        }
        found = strstr(cmd, "qemu-system") && !strstr(cmd, tgEnvRoot(env));
    }
    return found;
}


static void
waitQuiet(TgEnv *env)
{
    gint64 start = g_get_monotonic_time();
    guint quiet = 0;
    gboolean said = FALSE;

    while (quiet < QUIET_S) {
        if (otherQemus(env)) {
            if (!said)
                benchLog("  waiting until no other QEMU has run for %d s", QUIET_S);
            said = TRUE;
            quiet = 0;
        } else if (!said) {
            return;
        } else {
            quiet++;
        }
        g_usleep(G_USEC_PER_SEC);
    }
    benchLog("  quiet again after %.0f s", msSince(start) / 1000.0);
}


/* ---- reachability: a TCP echo from the host ----------------------------- */

static gboolean
waitFd(int fd, short events, int timeoutMs)
{
    struct pollfd pfd = { .fd = fd, .events = events };

    return poll(&pfd, 1, timeoutMs) == 1 && (pfd.revents & events);
}


/* One connection to @ip:7 that echoes a line back. */
static gboolean
echoOnce(const char *ip)
{
    static const char msg[] = "bench-identity\n";
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ECHO_PORT) };
    char buf[sizeof(msg)] = { 0 };
    size_t got = 0;
    int soerr = 0;
    socklen_t slen = sizeof(soerr);
    gboolean ok = FALSE;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        goto out;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
        goto out;
    /* the address is in place when we poll: a second is plenty for ARP */
    if (!waitFd(fd, POLLOUT, 1000) ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0 || soerr != 0)
        goto out;
    if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(msg) - 1)
        goto out;
    while (got < sizeof(msg) - 1 && waitFd(fd, POLLIN, 1000)) {
        ssize_t n = recv(fd, buf + got, sizeof(msg) - 1 - got, 0);

        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    ok = got == sizeof(msg) - 1 && memcmp(buf, msg, got) == 0;
 out:
    if (fd >= 0)
        close(fd);
    return ok;
}


/* Tries every ECHO_POLL_MS; the monotonic time of the first echo, or -1. */
static gint64
echoWait(const char *ip)
{
    gint64 deadline = g_get_monotonic_time() + REACH_TIMEOUT_MS * 1000;

    while (g_get_monotonic_time() < deadline) {
        gint64 next = g_get_monotonic_time() + ECHO_POLL_MS * 1000;

        if (echoOnce(ip))
            return g_get_monotonic_time();
        if (next > g_get_monotonic_time())
            g_usleep(next - g_get_monotonic_time());
    }
    return -1;
}


/* ---- the source --------------------------------------------------------- */

static TgGuestOpts
guestOpts(Bench *b, const char *prefix, const char *hostname, gboolean dhcp)
{
    TgGuestOpts opts = {
        .name_prefix = prefix, .mode = TG_MODE_IDLE, .memory_mib = GUEST_MIB,
        .buffer_mib = 16, .disk_records_off = TRUE, .with_genid = TRUE,
        .with_agent = TRUE, .echo = TRUE, .nic_bridge = tnBridgeName(b->net),
        .hostname = hostname, .dhcp = dhcp,
        .extra_cmdline = dhcp ? NULL : "clonetest.ip=" SOURCE_IP "/24 clonetest.gw=" BRIDGE_IP,
    };

    return opts;
}


/* A source with its agent answering and fewer than CLONES_PER_SOURCE
 * clones behind it. */
static int
sourceReady(Bench *b, GError **err)
{
    TgGuestOpts opts = guestOpts(b, "bid", "idsource", FALSE);
    gint64 t0;

    if (b->src && b->clonesOfSrc < CLONES_PER_SOURCE)
        return 0;
    g_clear_pointer(&b->src, tgGuestFree);
    g_clear_pointer(&b->srcMac, g_free);
    b->clonesOfSrc = 0;
    t0 = g_get_monotonic_time();
    if (!(b->src = tgGuestStart(b->env, &opts, err)) ||
        tgGuestAgentCommand(b->src, "{\"execute\":\"guest-ping\"}", 60000, NULL, err) < 0)
        return -1;
    b->srcMac = xmlGet(tgGuestDomain(b->src), "<mac address='([^']+)'/>");
    benchLog("source %s up, agent answering, after %.1f s (MAC %s)", tgGuestName(b->src),
             msSince(t0) / 1000.0, b->srcMac);
    return 0;
}


/* ---- live clones -------------------------------------------------------- */

static char *
clonePolicy(Method m, const char *srcMac, guint rep)
{
    const char *head =
        "<clonepolicy>"
        "<identity><hostname mode='set'>idclone%{n}</hostname>"
        "<machine-id mode='regenerate'/></identity>";
    const char *tail = "<chain max-depth='24'/></clonepolicy>";

    if (m == M_STATIC)
        return g_strdup_printf("%s<network mode='inherit'><interface source='%s'>"
                               "<ip mode='static' address='" NET_PREFIX "%u' prefix='24' "
                               "gateway='" BRIDGE_IP "'/></interface></network>%s",
                               head, srcMac, STATIC_FIRST + rep, tail);
    return g_strdup_printf("%s<network mode='inherit'/>%s", head, tail);
}


/* The clone's IPv4 address on our network, from its guest agent. */
static char *
cloneAddress(virDomainPtr clone)
{
    virDomainInterfacePtr *ifaces = NULL;
    int n = virDomainInterfaceAddresses(clone, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0);
    char *addr = NULL;

    for (int i = 0; i < n; i++) {
        for (guint j = 0; j < ifaces[i]->naddrs && !addr; j++) {
            const char *a = ifaces[i]->addrs[j].addr;

            if (ifaces[i]->addrs[j].type == VIR_IP_ADDR_TYPE_IPV4 && g_str_has_prefix(a, NET_PREFIX))
                addr = g_strdup(a);
        }
        virDomainInterfaceFree(ifaces[i]);
    }
    g_free(ifaces);
    return addr;
}


/* Destroys a clone and deletes its top image (its own overlay, never one
 * the source uses).  bench-clone.c's destroyCopy() does the same for every
 * file a copy has. */
static void
cloneDiscard(Bench *b, virDomainPtr clone)
{
    g_autofree char *top = xmlGet(clone, "<source file='([^']+)'");
    g_autofree char *srcTop = xmlGet(tgGuestDomain(b->src), "<source file='([^']+)'");

    if (virDomainIsActive(clone) == 1 && virDomainDestroy(clone) < 0)
        benchLog("warning: cannot destroy %s: %s", virDomainGetName(clone), virGetLastErrorMessage());
    if (virDomainIsPersistent(clone) == 1)
        virDomainUndefineFlags(clone, VIR_DOMAIN_UNDEFINE_NVRAM);
    if (top && g_str_has_prefix(top, tgEnvRoot(b->env)) &&
        g_strcmp0(top, srcTop) != 0 && g_unlink(top) < 0)
        benchLog("warning: cannot remove %s: %s", top, g_strerror(errno));
}


static unsigned long long
statGet(virTypedParameterPtr stats, int n, const char *name)
{
    unsigned long long v = 0;

    virTypedParamsGetULLong(stats, n, name, &v);
    return v;
}


static int
runClone(Bench *b, Method m, guint rep, Sample *s, GError **err)
{
    g_autofree char *policy = NULL;
    g_autofree char *lookup = NULL;
    g_autofree char *addr = NULL;
    g_autoptr(virDomain) clone = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    gint64 t0;
    gint64 tEcho;
    int ret = -1;

    if (sourceReady(b, err) < 0)
        return -1;
    /* a static address per rep: the host holds no neighbour entry for it
     * from an earlier clone */
    policy = clonePolicy(m, b->srcMac, rep);
    b->clonesOfSrc++;
    t0 = g_get_monotonic_time();
    clone = virDomainCloneLiveFull(tgGuestDomain(b->src), policy, NULL, NULL, &stats, &nstats, 0);
    if (!clone) {
        g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "clone: %s", virCloneGetLastErrorMessage());
        return -1;
    }
    if (m == M_STATIC) {
        addr = g_strdup_printf(NET_PREFIX "%u", STATIC_FIRST + rep);
    } else {
        gint64 tl = g_get_monotonic_time();

        addr = cloneAddress(clone);
        s->lookup = msSince(tl);
    }
    if (!addr) {
        g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no address on " NET_PREFIX "0/24",
                    virDomainGetName(clone));
        goto cleanup;
    }
    if ((tEcho = echoWait(addr)) < 0) {
        g_set_error(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no echo from %s within %d s",
                    virDomainGetName(clone), addr, REACH_TIMEOUT_MS / 1000);
        goto cleanup;
    }
    if (statGet(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED) > 0) {
        g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: a step inside the guest failed",
                    virDomainGetName(clone));
        goto cleanup;
    }
    s->callNetUp = statGet(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL) / 1000.0;
    s->netUp = statGet(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP) / 1000.0;
    s->identity = statGet(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY) / 1000.0;
    s->running = s->callNetUp - s->netUp;
    /* the lookup is ours, not the clone's: its network was up when the call
     * returned */
    s->reach = (double)(tEcho - t0) / 1000.0 - MAX(s->lookup, 0);
    if (s->lookup >= 0)
        lookup = g_strdup_printf(" (address lookup %.0f ms excluded)", s->lookup);
    benchLog("  %-27s %s at %s: running %.0f ms, network up +%.0f ms (identity %.0f ms, "
             "%llu steps), reachable %.0f ms%s", methodLabels[m], virDomainGetName(clone), addr,
             s->running, s->netUp, s->identity,
             statGet(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS), s->reach,
             lookup ? lookup : "");
    ret = 0;

 cleanup:
    virTypedParamsFree(stats, nstats);
    cloneDiscard(b, clone);
    return ret;
}


/* ---- cold boot ---------------------------------------------------------- */

static int
runCold(Bench *b, Sample *s, GError **err)
{
    TgGuestOpts opts = guestOpts(b, "bidcold", "idcold", TRUE);
    g_autoptr(TgGuest) g = NULL;
    g_auto(GStrv) parts = NULL;
    TgIdentity id = { 0 };
    gint64 t0 = g_get_monotonic_time();
    gint64 tEcho;

    if (!(g = tgGuestStart(b->env, &opts, err)))
        return -1;
    s->running = msSince(t0);
    /* DHCP runs in the background from before the ready line: ask the guest
     * (serial "identity": a round trip through its console) until it has
     * its address */
    do {
        if (tgGuestIdentity(g, &id, err) < 0)
            return -1;
        if (msSince(t0) - s->running > REACH_TIMEOUT_MS) {
            g_set_error(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "%s: no DHCP address within %d s of its ready line (%.0f ms "
                        "after the start)", tgGuestName(g), REACH_TIMEOUT_MS / 1000, s->running);
            return -1;
        }
    } while (g_str_equal(id.ipv4, "none"));
    s->callNetUp = msSince(t0);
    parts = g_strsplit(id.ipv4, "/", 2);
    if ((tEcho = echoWait(parts[0])) < 0) {
        g_set_error(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no echo from %s within %d s",
                    tgGuestName(g), parts[0], REACH_TIMEOUT_MS / 1000);
        return -1;
    }
    s->reach = (double)(tEcho - t0) / 1000.0;
    benchLog("  %-27s %s at %s: ready line %.0f ms, address seen %.0f ms, reachable %.0f ms",
             methodLabels[M_COLD], tgGuestName(g), parts[0], s->running, s->callNetUp, s->reach);
    return 0;
}


static void
runOne(Bench *b, Method m, guint rep)
{
    Row *r = &b->rows[m];
    g_autoptr(GError) err = NULL;
    Sample s;
    int rc;

    sampleInit(&s);
    if (optWaitQuiet)
        waitQuiet(b->env);
    s.foreign = otherQemus(b->env);
    rc = m == M_COLD ? runCold(b, &s, &err) : runClone(b, m, rep, &s, &err);
    s.foreign = s.foreign || otherQemus(b->env);
    if (rc < 0) {
        benchLog("  %-27s FAILED: %s", methodLabels[m], err ? err->message : "?");
        r->failures++;
        if (!r->firstError)
            r->firstError = g_strdup(err ? err->message : "?");
        return;
    }
    if (s.foreign)
        benchLog("  warning: another QEMU ran during this measurement");
    g_array_append_val(r->samples, s);
}


/* ---- the table ---------------------------------------------------------- */

static int
cmpDouble(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}


/* The values of the field at @offset of @r's samples that were measured,
 * sorted. */
static GArray *
fieldValues(const Row *r, gsize offset)
{
    GArray *v = g_array_new(FALSE, FALSE, sizeof(double));

    for (guint i = 0; i < r->samples->len; i++) {
        const Sample *s = &g_array_index(r->samples, Sample, i);
        double x = *(const double *)((const char *)s + offset);

        if (x >= 0)
            g_array_append_val(v, x);
    }
    g_array_sort(v, cmpDouble);
    return v;
}


static double
median(GArray *v)
{
    const double *d = (const double *)v->data;

    if (v->len == 0)
        return -1;
    return v->len % 2 ? d[v->len / 2] : (d[v->len / 2 - 1] + d[v->len / 2]) / 2;
}


/* "median (min–max)"; "–" if nothing was measured. */
static char *
fieldCell(const Row *r, gsize offset)
{
    g_autoptr(GArray) v = fieldValues(r, offset);
    const double *d = (const double *)v->data;

    if (v->len == 0)
        return g_strdup("–");
    if (v->len == 1)
        return g_strdup_printf("%.0f", d[0]);
    return g_strdup_printf("%.0f (%.0f–%.0f)", median(v), d[0], d[v->len - 1]);
}


static char *
rowNotes(const Row *r, Method m)
{
    g_autoptr(GString) n = g_string_new(NULL);
    g_autoptr(GArray) lookup = fieldValues(r, G_STRUCT_OFFSET(Sample, lookup));
    guint foreign = 0;

    switch (m) {
    case M_DHCP:
        g_string_append_printf(n, "address lookup after the call (guest agent) %.0f ms, not counted",
                               median(lookup));
        break;
    case M_STATIC:
        g_string_append(n, "address from the policy");
        break;
    case M_COLD:
        g_string_append(n, "running: the guest's ready line; network up: the first serial "
                           "`identity` that shows the DHCP address");
        break;
    case M_LAST:
        break;
    }
    for (guint i = 0; i < r->samples->len; i++)
        foreign += g_array_index(r->samples, Sample, i).foreign;
    if (foreign)
        g_string_append_printf(n, "; **%u with another QEMU running**", foreign);
    if (r->failures)
        g_string_append_printf(n, "; %u failed (%s)", r->failures, r->firstError);
    return g_string_free(g_steal_pointer(&n), FALSE);
}


static void
printTable(Bench *b, GString *out)
{
    static const gsize cols[] = {
        G_STRUCT_OFFSET(Sample, running), G_STRUCT_OFFSET(Sample, netUp),
        G_STRUCT_OFFSET(Sample, identity), G_STRUCT_OFFSET(Sample, callNetUp),
        G_STRUCT_OFFSET(Sample, reach),
    };

    g_string_append(out,
        "| method | n | call → guest running ms | resume → network up ms | of which identity "
        "steps ms | call → network up ms | call → reachable (TCP echo) ms | notes |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (Method m = 0; m < M_LAST; m++) {
        const Row *r = &b->rows[m];
        g_autofree char *notes = NULL;

        if (!b->methods[m])
            continue;
        g_string_append_printf(out, "| %s | %u |", methodLabels[m], r->samples->len);
        for (gsize c = 0; c < G_N_ELEMENTS(cols); c++) {
            g_autofree char *cell = fieldCell(r, cols[c]);

            g_string_append_printf(out, " %s |", cell);
        }
        notes = rowNotes(r, m);
        g_string_append_printf(out, " %s |\n", notes);
    }
}


static void
printMachine(Bench *b, GString *out, gint64 elapsedUs)
{
    virConnectPtr conn = tgEnvConn(b->env);
    const char *accel = tgEnvAccel(b->env);
    g_autofree char *cpu = benchCpuModel();
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *date = g_date_time_format(now, "%Y-%m-%d %H:%M UTC");
    unsigned long lib = 0;
    unsigned long hv = 0;
    guint measured = 0;
    guint foreign = 0;
    struct utsname un;

    virConnectGetLibVersion(conn, &lib);
    virConnectGetVersion(conn, &hv);
    if (uname(&un) < 0)
        memset(&un, 0, sizeof(un));
    g_string_append_printf(out,
        "\nmachine: %s, %d cores, accelerator %s (%s), kernel %s, libvirt %lu.%lu.%lu, "
        "QEMU %lu.%lu.%lu; %s; run took %d min %02d s (reps %d; guests %d MiB, idle, "
        "guest agent, echo service)\n",
        cpu, g_get_num_processors(), g_str_equal(accel, "qemu") ? "TCG" : accel, accel,
        un.release, lib / 1000000, lib / 1000 % 1000, lib % 1000, hv / 1000000,
        hv / 1000 % 1000, hv % 1000, date, (int)(elapsedUs / G_USEC_PER_SEC / 60),
        (int)(elapsedUs / G_USEC_PER_SEC % 60), optReps, GUEST_MIB);
    for (Method m = 0; m < M_LAST; m++) {
        for (guint i = 0; i < b->rows[m].samples->len; i++) {
            measured++;
            foreign += g_array_index(b->rows[m].samples, Sample, i).foreign;
        }
    }
    if (foreign)
        g_string_append_printf(out, "**warning: %u of %u measurements ran while another QEMU ran "
                               "on this machine: they are skewed.**\n", foreign, measured);
    else
        g_string_append(out, "quiet machine: no other QEMU ran during any measurement.\n");
}


/* ---- main ------------------------------------------------------------------- */

static int
parseMethods(const char *list, gboolean *on)
{
    g_auto(GStrv) parts = g_strsplit(list, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        Method m = 0;

        while (m < M_LAST && !g_str_equal(g_strstrip(parts[i]), methodNames[m]))
            m++;
        if (m == M_LAST) {
            fprintf(stderr, "unknown method '%s' (dhcp, static, cold)\n", parts[i]);
            return -1;
        }
        on[m] = TRUE;
    }
    return 0;
}


/* One clone before the measurements, not counted: the first clone of a
 * process sets up what the later ones find ready. */
static void
warmUp(Bench *b)
{
    g_autoptr(GError) err = NULL;
    Sample s;

    sampleInit(&s);
    benchLog("warm-up clone (not counted)");
    if (runClone(b, M_DHCP, 0, &s, &err) < 0)
        benchLog("  warm-up failed: %s", err->message);
}


int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- time from a clone's resume to its network");
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    Bench b = { 0 };
    int rc = 0;

    benchLogStart();
    if (!benchParseOptions(ctx, optEntries, &argc, &argv,
                           "Needs root and TG_GUEST_DIR (the build's tests/guest); bench/run.sh --bench identity\n"
                           "sets it.  Prints one markdown table on stdout and progress on stderr."))
        return 2;
    benchLogVerbose = optVerbose;
    if (optQuick)
        optReps = 2;
    if (parseMethods(optMethods ? optMethods : "dhcp,static,cold", b.methods) < 0 ||
        optReps < 1 || optReps > 100) {
        fprintf(stderr, "bad --methods or --reps\n");
        return 2;
    }
    if (getuid() != 0) {
        fprintf(stderr, "needs root (a bridge, a DHCP server, libvirt's embedded driver)\n");
        return 1;
    }

    virSetErrorFunc(NULL, benchSilence);
    virCloneSetLogFunc(benchLibLog, NULL);
    if (!(b.env = tgEnvNew(&err))) {
        fprintf(stderr, "cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    /* a MAC of its own: udhcpd keeps sending from the MAC it found at its start */
    b.net = tnBridgeNew("lvcbid", BRIDGE_MAC, BRIDGE_IP "/24");
    tnBridgeDhcp(b.net, DHCP_FIRST, DHCP_LAST, BRIDGE_IP);
    for (Method m = 0; m < M_LAST; m++)
        b.rows[m].samples = g_array_new(FALSE, FALSE, sizeof(Sample));
    benchLog("root %s, accelerator %s, bridge %s", tgEnvRoot(b.env), tgEnvAccel(b.env),
             tnBridgeName(b.net));

    if (sourceReady(&b, &err) < 0) {
        benchLog("cannot start the source: %s", err->message);
        rc = 1;
    } else {
        if (b.methods[M_DHCP] || b.methods[M_STATIC])
            warmUp(&b);
        /* interleaved, so that a drift of the machine hits every method alike */
        for (guint rep = 0; rep < (guint)optReps; rep++) {
            benchLog("repetition %u of %d", rep + 1, optReps);
            for (Method m = 0; m < M_LAST; m++) {
                if (b.methods[m])
                    runOne(&b, m, rep);
            }
        }
    }

    printTable(&b, out);
    printMachine(&b, out, benchElapsedUs());
    fputs(out->str, stdout);
    fflush(stdout);

    g_clear_pointer(&b.src, tgGuestFree);
    g_free(b.srcMac);
    for (Method m = 0; m < M_LAST; m++) {
        /* a method that never succeeded fails the run */
        if (b.methods[m] && b.rows[m].samples->len == 0)
            rc = 1;
        g_array_unref(b.rows[m].samples);
        g_free(b.rows[m].firstError);
    }
    tnBridgeFree(b.net);
    tgEnvFree(b.env);
    return rc;
}
