/*
 * bench-clone.c: how long a live clone pauses its source, how long it takes
 * to get a running clone, how much it copies and how much it slows the
 * source down, side by side with the alternatives, in one run, on the same
 * guests:
 *
 *   - our clone, strategies precopy, background and auto (the default);
 *   - raw QEMU local migration with the library's pre-copy settings into a
 *     QEMU that libvirt started in incoming mode (the mechanism's floor);
 *   - libvirt's live memory snapshot (virsh snapshot-create-as --live
 *     --memspec ... --diskspec ...);
 *   - virsh save followed by virsh restore.
 *
 * Guests are the real test guest of tests/guest/ (booted through the
 * embedded driver by tests/testutils-guest.c), 512 MiB and 1 GiB, with the
 * workload idle or rewriting its buffer as fast as it can ("busy").  It
 * prints one table (markdown) on stdout, progress on stderr.  See
 * docs/benchmarks.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "libvirt-clone/libvirt-clone.h"
#include "bench-util.h"
#include "clone_domxml.h"
#include "testutils-guest.h"

/* the library's pre-copy settings (src/clone/clone_migrate.c, clone_policy.h) */
#define BENCH_BANDWIDTH_UNLIMITED (G_GINT64_CONSTANT(1) << 40)
#define BENCH_DOWNTIME_LIMIT_MS 20
#define BENCH_STAT_TIMEOUT_MS 20000
#define BENCH_FD_OUT "bench-raw-out"
#define BENCH_FD_IN "bench-raw-in"
#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
#define BENCH_MAX_PHASES 10
#define BENCH_TLB_WARMUPS 10
#define BENCH_QUIET_S 15
#define BENCH_MAX_ATTEMPTS 3
#define BENCH_WATCH_MS 200
#define BENCH_FOREIGN_MAX_CORES 0.15
#define BENCH_QUIET_MAX_S 3600


#define BENCH_ERROR bench_error_quark()
static GQuark bench_error_quark(void);
G_DEFINE_QUARK(bench-error-quark, bench_error)


/* ---- options ------------------------------------------------------------ */

static gint optReps = 3;
static char *optSizes;
static char *optModes;
static char *optMethods;
static gint optTimeout = 60;
static gint optBufferMiB;
static gboolean optQuick;
static gboolean optVerbose;
static gboolean optWaitQuiet;

static GOptionEntry optEntries[] = {
    { "reps", 'r', 0, G_OPTION_ARG_INT, &optReps,
      "repetitions of each clone and raw-migration scenario (3)", "N" },
    { "sizes", 's', 0, G_OPTION_ARG_STRING, &optSizes,
      "guest RAM sizes in MiB (512,1024)", "LIST" },
    { "modes", 'm', 0, G_OPTION_ARG_STRING, &optModes,
      "workload modes (idle,busy)", "LIST" },
    { "methods", 0, 0, G_OPTION_ARG_STRING, &optMethods,
      "methods (precopy,background,auto,raw,snapshot,save)", "LIST" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &optTimeout,
      "seconds a pre-copy (ours or raw) may take to converge (60)", "S" },
    { "buffer-mib", 0, 0, G_OPTION_ARG_INT, &optBufferMiB,
      "workload buffer (default: a quarter of the guest's RAM)", "MIB" },
    { "quick", 'q', 0, G_OPTION_ARG_NONE, &optQuick,
      "smoke run: 512 MiB only, 1 repetition, 15 s convergence timeout", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &optVerbose,
      "print the library's log and the workload's stat lines", NULL },
    { "wait-quiet", 'w', 0, G_OPTION_ARG_NONE, &optWaitQuiet,
      "before each measurement, wait until no other QEMU has run for 15 s", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
};


/* ---- methods and results ------------------------------------------------ */

typedef enum {
    M_PRECOPY = 0,
    M_BACKGROUND,
    M_AUTO,
    M_RAW,
    M_SNAPSHOT,
    M_SAVE,
    M_LAST
} Method;

static const char *const methodNames[M_LAST] = {
    "precopy", "background", "auto", "raw", "snapshot", "save",
};

static const char *const methodLabels[M_LAST] = {
    "clone, precopy",
    "clone, background",
    "clone, auto (default)",
    "raw QEMU migration (floor)",
    "libvirt live memory snapshot",
    "virsh save + restore",
};

static gboolean
methodIsClone(Method m)
{
    return m == M_PRECOPY || m == M_BACKGROUND || m == M_AUTO;
}


/* One measurement.  A negative value means "not measured". */
typedef struct {
    double pauseMs;      /* source STOP -> RESUME (QEMU's stamps) */
    double pauseEvMs;    /* the same, from our own event listener */
    double downtimeMs;   /* QEMU's "downtime" */
    double totalS;       /* to a running clone / to completion */
    double bytes;
    double diskForkMs;
    double cloneStartS;
    double passes;
    double fallbacks;
    double dirtyMiBs;    /* auto: the sampled dirty rate */
    double copyMiBs;     /* auto: the copy's rate it predicted with */
    double rateBefore;   /* workload pages/s */
    double rateDuring;
    double rateAfter;
    char strategy[16];
    /* the source's events from its STOP to its RESUME, ms after the STOP */
    guint nphases;
    struct {
        char label[24];
        double ms;
    } phases[BENCH_MAX_PHASES];
} Sample;

typedef struct {
    guint memMiB;
    TgMode mode;
    Method method;
    GArray *samples;     /* of Sample */
    guint tries;
    guint noConvergence;
    guint failures;
    gboolean skipped;    /* later repetitions skipped after no convergence */
    guint foreign;       /* tries that ran while other QEMUs ran */
    char *firstError;
} Row;

typedef struct {
    TgEnv *env;
    virConnectPtr conn;
    virConnectPtr evConn;      /* ours, for QMP events */
    int evCallback;
    gboolean methods[M_LAST];
    GPtrArray *rows;           /* of Row */
    guint serial;              /* for unique file names */
    guint foreignSeen;         /* scenarios that ran beside other QEMUs */
    guint scenarios;
} Bench;


static void
sampleInit(Sample *s)
{
    memset(s, 0, sizeof(*s));
    s->pauseMs = s->pauseEvMs = s->downtimeMs = s->totalS = s->bytes = -1;
    s->diskForkMs = s->cloneStartS = s->passes = s->fallbacks = -1;
    s->dirtyMiBs = s->copyMiBs = -1;
    s->rateBefore = s->rateDuring = s->rateAfter = -1;
}


static void
rowFree(gpointer p)
{
    Row *r = p;

    g_array_unref(r->samples);
    g_free(r->firstError);
    g_free(r);
}


static Row *
rowNew(Bench *b, guint memMiB, TgMode mode, Method m)
{
    Row *r = g_new0(Row, 1);

    r->memMiB = memMiB;
    r->mode = mode;
    r->method = m;
    r->samples = g_array_new(FALSE, TRUE, sizeof(Sample));
    g_ptr_array_add(b->rows, r);
    return r;
}


static void
rowError(Row *r, const char *msg)
{
    r->failures++;
    if (!r->firstError)
        r->firstError = g_strdup(msg);
}


/* ---- small helpers ------------------------------------------------------ */



static const char *
modeName(TgMode mode)
{
    return mode == TG_MODE_IDLE ? "idle" : "busy";
}


static int
benchRun(const char *const *argv, GError **err)
{
    g_autofree char *errout = NULL;
    g_autoptr(GError) local = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &errout, &status, err))
        return -1;
    if (!g_spawn_check_wait_status(status, &local)) {
        g_set_error(err, BENCH_ERROR, 0, "%s: %s: %s", argv[0], local->message,
                    errout ? g_strstrip(errout) : "");
        return -1;
    }
    return 0;
}


static double
fileSize(const char *path)
{
    struct stat sb;

    return g_stat(path, &sb) == 0 ? (double)sb.st_size : -1;
}


static void
unlinkQuiet(const char *path)
{
    if (path && g_unlink(path) < 0 && errno != ENOENT)
        benchLog("warning: cannot remove %s: %s", path, g_strerror(errno));
}


static int
domState(virDomainPtr dom)
{
    int state = VIR_DOMAIN_NOSTATE;

    if (virDomainGetState(dom, &state, NULL, 0) < 0)
        return VIR_DOMAIN_NOSTATE;
    return state;
}


/* The source must run before each scenario: resume it if a failure left it
 * paused. */
static gboolean
ensureRunning(virDomainPtr dom)
{
    int state = domState(dom);

    if (state == VIR_DOMAIN_PAUSED) {
        benchLog("warning: %s was left paused: resuming it", virDomainGetName(dom));
        if (virDomainResume(dom) < 0)
            return FALSE;
        state = domState(dom);
    }
    return state == VIR_DOMAIN_RUNNING;
}


/* ---- is the machine quiet? ------------------------------------------------
 *
 * On 2 cores under TCG anything else that runs (another test suite's guests,
 * a compiler) shows in every number.  A thread samples /proc every 200 ms:
 * the machine's busy CPU time (/proc/stat) minus that of our processes (this
 * one, its children, and the QEMUs whose command line names our root) is the
 * foreign load; a QEMU that is not ours counts as foreign in any case.
 *
 * Rewritten: the foreign load is the CPU time of the visible processes that
 * are not ours and not niced (a fuzzer at nice 19 yields to us). */

typedef struct {
    GMutex lock;
    char *root;
    pid_t self;
    long hz;
    GHashTable *mine;          /* pid -> CPU jiffies at the last sample */
    gboolean primed;
    guint64 lastBusy;
    gint64 started;
    guint64 hiddenTotal;       /* busy time of no visible process, whole run */
    /* since the last watchReset() */
    guint64 accOther;          /* visible processes not ours, not niced */
    gint64 since;
    guint foreignQemus;        /* samples that saw a QEMU not ours */
} Watch;

static Watch watch;


static gboolean
readProcStat(const char *pid, pid_t *ppid, guint64 *jiffies, int *nice)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/stat", pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) f = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strrchr(text, ')')))
        return FALSE;
    /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime */
    f = g_strsplit(p + 2, " ", 18);
    if (g_strv_length(f) < 17)
        return FALSE;
    *ppid = (pid_t)g_ascii_strtoll(f[1], NULL, 10);
    *jiffies = g_ascii_strtoull(f[11], NULL, 10) + g_ascii_strtoull(f[12], NULL, 10);
    *nice = (int)g_ascii_strtoll(f[16], NULL, 10);
    return TRUE;
}


static guint64
readBusyJiffies(void)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) f = NULL;
    guint64 busy = 0;

    if (!g_file_get_contents("/proc/stat", &text, NULL, NULL))
        return 0;
    *strchrnul(text, '\n') = '\0';
    f = g_strsplit_set(text, " ", -1);
    /* cpu user nice system idle iowait irq softirq steal: user, system and
     * steal.  Not nice: a niced process (a fuzzer at nice 19) yields the CPU
     * to ours; not interrupts: they serve everybody's I/O, ours too */
    for (guint i = 1, col = 0; f[i]; i++) {
        if (!*f[i])
            continue;
        col++;
        if (col == 1 || col == 3 || col == 8)
            busy += g_ascii_strtoull(f[i], NULL, 10);
    }
    return busy;
}


static void
watchSample(void)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
    guint64 busy = readBusyJiffies();
    guint64 mineDelta = 0;
    guint64 otherDelta = 0;
    guint qemus = 0;
    const char *ent;

    while (d && (ent = g_dir_read_name(d))) {
        g_autofree char *cmdPath = NULL;
        g_autofree char *cmd = NULL;
        gsize len = 0;
        pid_t ppid = 0;
        guint64 j = 0;
        gboolean isQemu;
        gboolean isNiced;
        gboolean ours;
        gpointer pid;
        gpointer prev;
        int nice = 0;

        if (!g_ascii_isdigit(ent[0]) || !readProcStat(ent, &ppid, &j, &nice))
            continue;
        isNiced = nice > 0;
        pid = GINT_TO_POINTER(atoi(ent));
        cmdPath = g_strdup_printf("/proc/%s/cmdline", ent);
        g_file_get_contents(cmdPath, &cmd, &len, NULL);
        isQemu = cmd && len && strstr(cmd, "qemu-system");
        /* kernel threads (writeback of our images, ...) count as ours */
        ours = GPOINTER_TO_INT(pid) == watch.self || ppid == watch.self ||
               GPOINTER_TO_INT(pid) == 2 || ppid == 2 ||
               (cmd && len && memmem(cmd, len, watch.root, strlen(watch.root)));
        if (isQemu && !ours)
            qemus++;
        g_mutex_lock(&watch.lock);
        if (g_hash_table_lookup_extended(watch.mine, pid, NULL, &prev))
            prev = GSIZE_TO_POINTER((gsize)(j - MIN(j, (guint64)GPOINTER_TO_SIZE(prev))));
        else
            prev = GSIZE_TO_POINTER((gsize)(watch.primed ? j : 0));   /* new since the last sample */
        g_mutex_unlock(&watch.lock);
        if (ours)
            mineDelta += GPOINTER_TO_SIZE(prev);
        else if (!isNiced)
            otherDelta += GPOINTER_TO_SIZE(prev);
        g_hash_table_insert(seen, pid, GSIZE_TO_POINTER((gsize)j));
    }

    g_mutex_lock(&watch.lock);
    if (watch.primed) {
        guint64 dBusy = busy - MIN(busy, watch.lastBusy);

        watch.accOther += otherDelta;
        /* what no visible process accounts for: other PID namespaces,
         * exited processes, the kernel */
        watch.hiddenTotal += dBusy - MIN(dBusy, mineDelta + otherDelta);
    }
    watch.lastBusy = busy;
    watch.primed = TRUE;
    g_hash_table_remove_all(watch.mine);
    {
        GHashTableIter it;
        gpointer k;
        gpointer v;

        g_hash_table_iter_init(&it, seen);
        while (g_hash_table_iter_next(&it, &k, &v))
            g_hash_table_insert(watch.mine, k, v);
    }
    watch.foreignQemus += qemus > 0;
    g_mutex_unlock(&watch.lock);
}


static void
watchReset(void)
{
    g_mutex_lock(&watch.lock);
    watch.accOther = 0;
    watch.foreignQemus = 0;
    watch.since = g_get_monotonic_time();
    g_mutex_unlock(&watch.lock);
}


/* Foreign load since the last reset, in cores; *qemus: samples with a
 * foreign QEMU. */
static double
watchForeignCores(guint *qemus)
{
    double cores;
    double secs;

    g_mutex_lock(&watch.lock);
    secs = (double)(g_get_monotonic_time() - watch.since) / 1e6;
    cores = secs > 0.05 ? (double)watch.accOther / (double)watch.hz / secs : 0;
    if (qemus)
        *qemus = watch.foreignQemus;
    g_mutex_unlock(&watch.lock);
    return cores;
}


static gint watchQuit;

static gpointer
watchThread(gpointer data G_GNUC_UNUSED)
{
    while (!g_atomic_int_get(&watchQuit)) {
        watchSample();
        g_usleep(BENCH_WATCH_MS * 1000);
    }
    return NULL;
}


static GThread *
watchStart(Bench *b)
{
    g_mutex_init(&watch.lock);
    watch.root = g_strdup(tgEnvRoot(b->env));
    watch.self = getpid();
    watch.hz = sysconf(_SC_CLK_TCK);
    watch.mine = g_hash_table_new(NULL, NULL);
    watchSample();
    watchReset();
    watch.started = g_get_monotonic_time();
    return g_thread_new("bench-watch", watchThread, NULL);
}


static void
watchStop(GThread *t)
{
    g_atomic_int_set(&watchQuit, 1);
    g_thread_join(t);
    g_hash_table_unref(watch.mine);
    g_free(watch.root);
}


static gboolean
watchSkewed(double *cores)
{
    guint qemus = 0;

    *cores = watchForeignCores(&qemus);
    return qemus > 0 || *cores > BENCH_FOREIGN_MAX_CORES;
}


/* Waits until the machine has been quiet for BENCH_QUIET_S seconds (at most
 * BENCH_QUIET_MAX_S: then the measurement runs, and is flagged). */
static void
waitQuiet(void)
{
    gint64 start = g_get_monotonic_time();
    gint64 quiet = 0;
    gboolean said = FALSE;
    double cores = 0;

    for (;;) {
        watchReset();
        g_usleep(2 * G_USEC_PER_SEC);
        if (watchSkewed(&cores)) {
            quiet = 0;
            if (!said)
                benchLog("  waiting for the machine to be quiet (other load: %.2f cores)", cores);
            said = TRUE;
        } else {
            quiet += 2;
        }
        if (quiet >= BENCH_QUIET_S || (!said && quiet >= 2))
            break;
        if (g_get_monotonic_time() - start > (gint64)BENCH_QUIET_MAX_S * G_USEC_PER_SEC) {
            benchLog("  warning: still not quiet after %d s: measuring anyway", BENCH_QUIET_MAX_S);
            break;
        }
    }
    if (said)
        benchLog("  quiet again after %.0f s", (double)(g_get_monotonic_time() - start) / 1e6);
}


/* ---- QMP events (STOP, RESUME, MIGRATION) -------------------------------- */

/* Registered ONCE, with a NULL domain, on a connection of our own: the
 * library registers on the harness's connection, and a second registration
 * on one connection may deliver nothing (see ../shared/DESIGN.md). */

typedef struct {
    guint64 seq;
    unsigned char uuid[VIR_UUID_BUFLEN];
    char *name;
    char *status;        /* MIGRATION only */
    gint64 tsUs;         /* QEMU's wall-clock stamp */
} BenchEvent;

static GMutex evLock;
static GCond evCond;
static GPtrArray *evList;
static guint64 evSeq;


static void
benchEventFree(gpointer p)
{
    BenchEvent *ev = p;

    g_free(ev->name);
    g_free(ev->status);
    g_free(ev);
}


static void
benchEventCb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, const char *event,
             long long seconds, unsigned int micros, const char *details,
             void *opaque G_GNUC_UNUSED)
{
    BenchEvent *ev;

    if (!dom || !event ||
        (!g_str_equal(event, "STOP") && !g_str_equal(event, "RESUME") &&
         !g_str_equal(event, "MIGRATION")))
        return;
    ev = g_new0(BenchEvent, 1);
    if (virDomainGetUUID(dom, ev->uuid) < 0) {
        g_free(ev);
        return;
    }
    ev->name = g_strdup(event);
    ev->tsUs = seconds >= 0 ? seconds * G_USEC_PER_SEC + micros : g_get_real_time();
    if (details && g_str_equal(event, "MIGRATION")) {
        g_autoptr(JsonParser) p = json_parser_new();

        if (json_parser_load_from_data(p, details, -1, NULL) &&
            JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
            ev->status = g_strdup(json_object_get_string_member_with_default(
                json_node_get_object(json_parser_get_root(p)), "status", NULL));
    }
    g_mutex_lock(&evLock);
    ev->seq = ++evSeq;
    g_ptr_array_add(evList, ev);
    g_cond_broadcast(&evCond);
    g_mutex_unlock(&evLock);
}


static guint64
evMark(void)
{
    guint64 seq;

    g_mutex_lock(&evLock);
    seq = evSeq;
    g_mutex_unlock(&evLock);
    return seq;
}


/* Called with evLock held. */
static const BenchEvent *
evFindLocked(const unsigned char *uuid, const char *name, const char *status, guint64 after)
{
    for (guint i = 0; i < evList->len; i++) {
        const BenchEvent *ev = g_ptr_array_index(evList, i);

        if (ev->seq > after && memcmp(ev->uuid, uuid, VIR_UUID_BUFLEN) == 0 &&
            g_str_equal(ev->name, name) && (!status || g_strcmp0(ev->status, status) == 0))
            return ev;
    }
    return NULL;
}


/* Waits up to @timeoutMs for the first matching event after @after. */
static gboolean
evWait(const unsigned char *uuid, const char *name, const char *status, guint64 after,
       guint timeoutMs, guint64 *seqOut, gint64 *tsOut)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeoutMs * G_TIME_SPAN_MILLISECOND;
    const BenchEvent *ev;

    g_mutex_lock(&evLock);
    while (!(ev = evFindLocked(uuid, name, status, after)) &&
           g_cond_wait_until(&evCond, &evLock, end))
        ;
    if (!ev)
        ev = evFindLocked(uuid, name, status, after);
    if (ev) {
        if (seqOut)
            *seqOut = ev->seq;
        if (tsOut)
            *tsOut = ev->tsUs;
    }
    g_mutex_unlock(&evLock);
    return ev != NULL;
}


/* The first STOP of @uuid after @mark to the RESUME that follows it, in ms
 * (QEMU's stamps), or -1. */
static double
evPauseMs(const unsigned char *uuid, guint64 mark, guint timeoutMs)
{
    guint64 stopSeq = 0;
    gint64 stopTs = 0;
    gint64 resumeTs = 0;

    if (!evWait(uuid, "STOP", NULL, mark, 0, &stopSeq, &stopTs) ||
        !evWait(uuid, "RESUME", NULL, stopSeq, timeoutMs, NULL, &resumeTs))
        return -1;
    return (double)(resumeTs - stopTs) / 1000.0;
}


/* Where the pause went: the events of @uuid from its first STOP after @mark
 * to the RESUME that follows, as offsets from the STOP ("pre-switchover",
 * "device", "completed" are MIGRATION states). */
static void
evPhases(const unsigned char *uuid, guint64 mark, Sample *s)
{
    gint64 stopTs = 0;
    gboolean inPause = FALSE;

    s->nphases = 0;
    g_mutex_lock(&evLock);
    for (guint i = 0; i < evList->len && s->nphases < BENCH_MAX_PHASES; i++) {
        const BenchEvent *ev = g_ptr_array_index(evList, i);
        const char *label;

        if (ev->seq <= mark || memcmp(ev->uuid, uuid, VIR_UUID_BUFLEN) != 0)
            continue;
        if (!inPause) {
            if (!g_str_equal(ev->name, "STOP"))
                continue;
            inPause = TRUE;
            stopTs = ev->tsUs;
            continue;
        }
        label = g_str_equal(ev->name, "MIGRATION") ? (ev->status ? ev->status : "migration")
                                                   : ev->name;
        g_strlcpy(s->phases[s->nphases].label, label, sizeof(s->phases[0].label));
        s->phases[s->nphases].ms = (double)(ev->tsUs - stopTs) / 1000.0;
        s->nphases++;
        if (g_str_equal(ev->name, "RESUME"))
            break;
    }
    g_mutex_unlock(&evLock);
}


static void
evForgetAll(void)
{
    g_mutex_lock(&evLock);
    g_ptr_array_set_size(evList, 0);
    g_mutex_unlock(&evLock);
}


static int
evStart(Bench *b, GError **err)
{
    g_autofree char *uri = g_strdup_printf("qemu:///embed?root=%s", tgEnvRoot(b->env));

    evList = g_ptr_array_new_with_free_func(benchEventFree);
    if (!(b->evConn = virConnectOpen(uri))) {
        g_set_error(err, BENCH_ERROR, 0, "cannot open a second connection to %s: %s",
                    uri, virGetLastErrorMessage());
        return -1;
    }
    b->evCallback = virConnectDomainQemuMonitorEventRegister(b->evConn, NULL, NULL,
                                                             benchEventCb, NULL, NULL, 0);
    if (b->evCallback < 0) {
        g_set_error(err, BENCH_ERROR, 0, "cannot register for QMP events: %s",
                    virGetLastErrorMessage());
        return -1;
    }
    return 0;
}


static void
evStop(Bench *b)
{
    if (b->evConn) {
        if (b->evCallback >= 0)
            virConnectDomainQemuMonitorEventDeregister(b->evConn, b->evCallback);
        virConnectClose(b->evConn);
        b->evConn = NULL;
    }
    g_clear_pointer(&evList, g_ptr_array_unref);
}


/* ---- QMP through libvirt's passthrough ----------------------------------- */

static JsonNode *
qmpParse(virDomainPtr dom, const char *cmd, const char *reply, GError **err)
{
    g_autoptr(JsonParser) p = json_parser_new();
    JsonObject *o;
    JsonNode *ret;

    if (!json_parser_load_from_data(p, reply, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        g_set_error(err, BENCH_ERROR, 0, "%s: bad reply to %s: %s",
                    virDomainGetName(dom), cmd, reply);
        return NULL;
    }
    o = json_node_get_object(json_parser_get_root(p));
    if (json_object_has_member(o, "error")) {
        JsonObject *e = json_object_get_object_member(o, "error");

        g_set_error(err, BENCH_ERROR, 0, "%s: %s failed: %s", virDomainGetName(dom), cmd,
                    e ? json_object_get_string_member_with_default(e, "desc", reply) : reply);
        return NULL;
    }
    ret = json_object_get_member(o, "return");
    return ret ? json_node_copy(ret) : json_node_new(JSON_NODE_NULL);
}


static JsonNode *
qmpRun(virDomainPtr dom, const char *cmd, const char *argsJson, GError **err)
{
    g_autofree char *json = argsJson ?
        g_strdup_printf("{\"execute\":\"%s\",\"arguments\":%s}", cmd, argsJson) :
        g_strdup_printf("{\"execute\":\"%s\"}", cmd);
    g_autofree char *reply = NULL;

    if (virDomainQemuMonitorCommand(dom, json, &reply, 0) < 0) {
        g_set_error(err, BENCH_ERROR, 0, "%s: %s: %s", virDomainGetName(dom), cmd,
                    virGetLastErrorMessage());
        return NULL;
    }
    return qmpParse(dom, cmd, reply, err);
}


static int
qmpDo(virDomainPtr dom, const char *cmd, const char *argsJson, GError **err)
{
    g_autoptr(JsonNode) ret = qmpRun(dom, cmd, argsJson, err);

    return ret ? 0 : -1;
}


static int
qmpGetFd(virDomainPtr dom, const char *fdname, int fd, GError **err)
{
    g_autofree char *json = g_strdup_printf(
        "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"%s\"}}", fdname);
    g_autofree char *reply = NULL;
    g_autoptr(JsonNode) ret = NULL;
    int fds[1] = { fd };

    if (virDomainQemuMonitorCommandWithFiles(dom, json, 1, fds, NULL, NULL, &reply, 0) < 0) {
        g_set_error(err, BENCH_ERROR, 0, "%s: getfd: %s", virDomainGetName(dom),
                    virGetLastErrorMessage());
        return -1;
    }
    ret = qmpParse(dom, "getfd", reply, err);
    return ret ? 0 : -1;
}


typedef struct {
    char status[32];
    gint64 downtime;     /* ms, -1 if none */
    gint64 transferred;
} MigInfo;

static int
qmpMigInfo(virDomainPtr dom, MigInfo *mi, GError **err)
{
    g_autoptr(JsonNode) ret = qmpRun(dom, "query-migrate", NULL, err);
    JsonObject *o;
    JsonObject *ram;

    memset(mi, 0, sizeof(*mi));
    mi->downtime = -1;
    if (!ret)
        return -1;
    if (!JSON_NODE_HOLDS_OBJECT(ret)) {
        g_strlcpy(mi->status, "none", sizeof(mi->status));
        return 0;
    }
    o = json_node_get_object(ret);
    g_strlcpy(mi->status, json_object_get_string_member_with_default(o, "status", "none"),
              sizeof(mi->status));
    mi->downtime = json_object_get_int_member_with_default(o, "downtime", -1);
    ram = json_object_has_member(o, "ram") ? json_object_get_object_member(o, "ram") : NULL;
    if (ram)
        mi->transferred = json_object_get_int_member_with_default(ram, "transferred", 0);
    return 0;
}


/* ---- the workload's rate, from the source's serial stat lines ------------- */

typedef struct {
    TgGuest *g;
    goffset off;
    int domId;
    guint64 lastT;
} StatLog;

typedef struct {
    double rate;
    double dtMs;
} RatePoint;


/* Consumes the complete lines after the read position.  Stat lines go to
 * @pts with the guest time they cover.  With @ack non-NULL: an "ack report"
 * sets *ack, and the first stat line after it sets *done and ends the read
 * there (that line is the report's). */
static int
statRead(StatLog *sl, GArray *pts, gboolean *ack, gboolean *done, GError **err)
{
    const char *path = tgGuestSerialLog(sl->g);
    int id = (int)virDomainGetID(tgGuestDomain(sl->g));
    g_autoptr(GString) data = g_string_new(NULL);
    char buf[65536];
    const char *p;
    const char *nl;
    ssize_t n;
    int fd;
    int count = 0;

    if (id > 0 && id != sl->domId) {
        sl->domId = id;
        sl->off = 0;
        sl->lastT = 0;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        g_set_error(err, BENCH_ERROR, 0, "cannot open %s: %s", path, g_strerror(errno));
        return -1;
    }
    while ((n = pread(fd, buf, sizeof(buf), sl->off + (goffset)data->len)) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0)
            g_string_append_len(data, buf, n);
    close(fd);

    p = data->str;
    while ((nl = memchr(p, '\n', data->str + data->len - p))) {
        g_autofree char *line = g_strndup(p, nl - p);
        TgStat st;

        sl->off += nl + 1 - p;
        p = nl + 1;
        g_strstrip(g_strdelimit(line, "\r", ' '));
        if (ack && g_str_has_prefix(line, "CLONETEST ack report")) {
            *ack = TRUE;
        } else if (tgParseStat(line, &st) == 0) {
            RatePoint rp = { (double)st.pages_per_s, 1000 };

            if (sl->lastT && st.t_ms >= sl->lastT)
                rp.dtMs = (double)(st.t_ms - sl->lastT);
            sl->lastT = st.t_ms;
            if (optVerbose)
                benchLog("    %s: %s", tgGuestName(sl->g), line);
            if (pts)
                g_array_append_val(pts, rp);
            count++;
            if (ack && *ack) {
                *done = TRUE;
                break;
            }
        }
    }
    return count;
}


/* Ask for a stat line now ("report"): it ends the current rate interval.
 * The lines up to and including it go to @pts. */
static int
statReport(StatLog *sl, GArray *pts, GError **err)
{
    gint64 end = g_get_monotonic_time() + BENCH_STAT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
    gboolean ack = FALSE;
    gboolean done = FALSE;

    if (tgSerialSend(sl->g, "report", err) < 0)
        return -1;
    while (!done) {
        if (statRead(sl, pts, &ack, &done, err) < 0)
            return -1;
        if (done)
            break;
        if (g_get_monotonic_time() > end) {
            g_set_error(err, BENCH_ERROR, 0, "%s: no reply to 'report'", tgGuestName(sl->g));
            return -1;
        }
        g_usleep(10 * 1000);
    }
    return 0;
}


/* Waits for @n more periodic stat lines (one a second). */
static int
statWait(StatLog *sl, guint n, GArray *pts, GError **err)
{
    gint64 end = g_get_monotonic_time() +
                 (gint64)(BENCH_STAT_TIMEOUT_MS + n * 1000) * G_TIME_SPAN_MILLISECOND;
    guint got = 0;

    while (got < n) {
        int rc = statRead(sl, pts, NULL, NULL, err);

        if (rc < 0)
            return -1;
        got += (guint)rc;
        if (got >= n)
            break;
        if (g_get_monotonic_time() > end) {
            g_set_error(err, BENCH_ERROR, 0, "%s: no stat lines", tgGuestName(sl->g));
            return -1;
        }
        g_usleep(50 * 1000);
    }
    return 0;
}


/* Pages per second over the whole window: each line weighted by the time
 * it covers. */
static double
rateMean(GArray *pts)
{
    double pages = 0;
    double ms = 0;

    for (guint i = 0; i < pts->len; i++) {
        RatePoint *rp = &g_array_index(pts, RatePoint, i);

        pages += rp->rate * rp->dtMs;
        ms += rp->dtMs;
    }
    return ms > 0 ? pages / ms : -1;
}


/* ---- domain XML ---------------------------------------------------------- */

static xmlXPathObjectPtr
xpathEval(xmlXPathContextPtr ctxt, const char *expr)
{
    return xmlXPathEvalExpression(BAD_CAST expr, ctxt);
}


static guint
xpathCount(xmlXPathObjectPtr o)
{
    return o && o->nodesetval ? (guint)o->nodesetval->nodeNr : 0;
}


#define DOMAIN_FILES_XPATH "/domain/devices/disk/source/@file | /domain/devices/*/log/@file | " \
                           "/domain/os/nvram"
#define DOMAIN_ALL_FILES_XPATH "//source/@file | //log/@file | /domain/os/nvram | " \
                               "/domain/os/kernel | /domain/os/initrd"

/* Destroys a clone (or the raw migration's destination) and deletes the
 * files it used of its own: top images, logs, NVRAM -- never one that the
 * source uses, nor one outside the environment's root. */
static void
destroyCopy(Bench *b, virDomainPtr copy, virDomainPtr src)
{
    g_autofree char *xml = virDomainGetXMLDesc(copy, 0);
    g_autofree char *srcXml = virDomainGetXMLDesc(src, 0);
    g_auto(GStrv) files = cloneXMLStrings(xml, DOMAIN_FILES_XPATH);
    g_auto(GStrv) keep = cloneXMLStrings(srcXml, DOMAIN_ALL_FILES_XPATH);
    g_autofree char *rootSlash = g_strdup_printf("%s/", tgEnvRoot(b->env));

    if (virDomainIsActive(copy) == 1 && virDomainDestroy(copy) < 0)
        benchLog("warning: cannot destroy %s: %s", virDomainGetName(copy),
                 virGetLastErrorMessage());
    if (virDomainIsPersistent(copy) == 1 &&
        virDomainUndefineFlags(copy, VIR_DOMAIN_UNDEFINE_NVRAM) < 0)
        benchLog("warning: cannot undefine %s: %s", virDomainGetName(copy),
                 virGetLastErrorMessage());
    for (guint i = 0; files[i]; i++) {
        const char *f = files[i];

        if (*f && !g_strv_contains((const char *const *)keep, f) && g_str_has_prefix(f, rootSlash))
            unlinkQuiet(f);
    }
}


typedef struct {
    char *target;
    char *path;
} RawDisk;

static void
rawDiskFree(gpointer p)
{
    RawDisk *d = p;

    g_free(d->target);
    g_free(d->path);
    g_free(d);
}


static void
xmlRemoveAll(xmlXPathContextPtr ctxt, const char *expr)
{
    xmlXPathObjectPtr o = xpathEval(ctxt, expr);

    for (guint i = 0; i < xpathCount(o); i++) {
        xmlUnlinkNode(o->nodesetval->nodeTab[i]);
        xmlFreeNode(o->nodesetval->nodeTab[i]);
    }
    xmlXPathFreeObject(o);
}


/* The raw migration's destination: the source's XML with a new name, no
 * UUID and no MACs (libvirt makes new ones), its own log files, each disk
 * on a fresh image of its own (@disks; created by the caller), and
 * "-incoming defer".  The fresh images have no backing file: a backing file
 * on the source's top would take a lock that keeps the source from resuming
 * (see ../shared/DESIGN.md), and the migration reads no disk data. */
static char *
rawDestXml(const char *srcXml, const char *name, const char *dir, GPtrArray *disks,
           GPtrArray *files, GError **err)
{
    xmlDocPtr doc = xmlReadMemory(srcXml, (int)strlen(srcXml), "src.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr o;
    xmlNodePtr root;
    xmlNodePtr cmdline;
    xmlNsPtr ns;
    xmlChar *out = NULL;
    int len = 0;
    char *ret;

    if (!doc) {
        g_set_error(err, BENCH_ERROR, 0, "cannot parse the source's XML");
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    ctxt = xmlXPathNewContext(doc);

    o = xpathEval(ctxt, "/domain/name");
    if (xpathCount(o) == 1)
        xmlNodeSetContent(o->nodesetval->nodeTab[0], BAD_CAST name);
    xmlXPathFreeObject(o);
    xmlRemoveAll(ctxt, "/domain/uuid | /domain/devices/interface/mac");

    o = xpathEval(ctxt, "/domain/devices/disk[@device='disk'][source/@file]");
    for (guint i = 0; i < xpathCount(o); i++) {
        xmlNodePtr disk = o->nodesetval->nodeTab[i];
        RawDisk *d = g_new0(RawDisk, 1);

        for (xmlNodePtr c = disk->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (xmlStrEqual(c->name, BAD_CAST "target")) {
                xmlChar *dev = xmlGetProp(c, BAD_CAST "dev");

                d->target = g_strdup(dev ? (const char *)dev : "disk");
                xmlFree(dev);
            }
        }
        d->path = g_strdup_printf("%s/%s-%s.qcow2", dir, name, d->target ? d->target : "disk");
        for (xmlNodePtr c = disk->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (xmlStrEqual(c->name, BAD_CAST "source"))
                xmlSetProp(c, BAD_CAST "file", BAD_CAST d->path);
            else if (xmlStrEqual(c->name, BAD_CAST "driver"))
                xmlSetProp(c, BAD_CAST "type", BAD_CAST "qcow2");
        }
        xmlSetProp(disk, BAD_CAST "type", BAD_CAST "file");
        g_ptr_array_add(files, g_strdup(d->path));
        g_ptr_array_add(disks, d);
    }
    xmlXPathFreeObject(o);
    xmlRemoveAll(ctxt, "/domain/devices/disk/backingStore");

    o = xpathEval(ctxt, "/domain/devices/*/log");
    for (guint i = 0; i < xpathCount(o); i++) {
        g_autofree char *log = g_strdup_printf("%s/%s-log%u.log", dir, name, i);

        xmlSetProp(o->nodesetval->nodeTab[i], BAD_CAST "file", BAD_CAST log);
        g_ptr_array_add(files, g_steal_pointer(&log));
    }
    xmlXPathFreeObject(o);

    ns = xmlSearchNsByHref(doc, root, BAD_CAST QEMU_NS);
    if (!ns)
        ns = xmlNewNs(root, BAD_CAST QEMU_NS, BAD_CAST "qemu");
    cmdline = xmlNewChild(root, ns, BAD_CAST "commandline", NULL);
    xmlNewProp(xmlNewChild(cmdline, ns, BAD_CAST "arg", NULL), BAD_CAST "value", BAD_CAST "-incoming");
    xmlNewProp(xmlNewChild(cmdline, ns, BAD_CAST "arg", NULL), BAD_CAST "value", BAD_CAST "defer");

    xmlDocDumpMemory(doc, &out, &len);
    ret = g_strndup((const char *)out, len);
    xmlFree(out);
    xmlXPathFreeContext(ctxt);
    xmlFreeDoc(doc);
    return ret;
}


/* ---- scenario: our clone --------------------------------------------------- */

static int
runClone(Bench *b, TgGuest *g, StatLog *sl, Method m, Sample *s, gboolean *noConv,
         char **errOut)
{
    virDomainPtr src = tgGuestDomain(g);
    gboolean busy = tgGuestReady(g) && tgGuestReady(g)->mode == TG_MODE_BUSY;
    g_autofree char *policy = NULL;
    g_autoptr(GArray) before = g_array_new(FALSE, FALSE, sizeof(RatePoint));
    g_autoptr(GArray) during = g_array_new(FALSE, FALSE, sizeof(RatePoint));
    g_autoptr(GArray) after = g_array_new(FALSE, FALSE, sizeof(RatePoint));
    g_autoptr(GError) err = NULL;
    g_autoptr(virDomain) clone = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    unsigned char uuid[VIR_UUID_BUFLEN];
    unsigned long long v = 0;
    const char *strategy = NULL;
    guint64 mark;
    int ret = -1;

    if (m == M_PRECOPY)
        policy = g_strdup_printf("<clonepolicy><memory strategy='precopy' timeout='%d'/>"
                                 "</clonepolicy>", optTimeout);
    else if (m == M_BACKGROUND)
        policy = g_strdup_printf("<clonepolicy><memory strategy='background' timeout='%d'/>"
                                 "</clonepolicy>", optTimeout);
    virDomainGetUUID(src, uuid);

    /* before: a "report" starts a fresh interval, three periodic lines, and
     * a "report" right before the call closes it */
    if (busy && (statReport(sl, NULL, &err) < 0 || statWait(sl, 3, before, &err) < 0 ||
                 statReport(sl, before, &err) < 0)) {
        *errOut = g_strdup(err->message);
        return -1;
    }

    mark = evMark();
    clone = virDomainCloneLiveFull(src, policy, NULL, NULL, &stats, &nstats, 0);
    /* during: from the "report" before the call to one right after it */
    if (busy && statReport(sl, during, &err) < 0)
        benchLog("warning: %s", err->message);
    if (!clone) {
        virCloneErrorPtr e = virCloneGetLastError();

        *noConv = e && e->code == VIR_CLONE_ERR_TIMEOUT;
        *errOut = g_strdup(e && e->message ? e->message : "unknown error");
        return -1;
    }
    /* after: three periodic lines, with the clone running */
    g_clear_error(&err);
    if (busy && statWait(sl, 3, after, &err) < 0)
        benchLog("warning: %s", err->message);

    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, &v) == 1)
        s->pauseMs = (double)v / 1000.0;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME, &v) == 1)
        s->downtimeMs = (double)v;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL, &v) == 1)
        s->totalS = (double)v / 1e6;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START, &v) == 1)
        s->cloneStartS = (double)v / 1e6;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK, &v) == 1)
        s->diskForkMs = (double)v / 1000.0;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_BYTES, &v) == 1)
        s->bytes = (double)v;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_PASSES, &v) == 1)
        s->passes = (double)v;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS, &v) == 1)
        s->fallbacks = (double)v;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE, &v) == 1 && v) {
        s->copyMiBs = (double)v / (1 << 20);
        if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE, &v) == 1)
            s->dirtyMiBs = (double)v / (1 << 20);
    }
    if (virTypedParamsGetString(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY, &strategy) == 1)
        g_strlcpy(s->strategy, strategy, sizeof(s->strategy));
    s->pauseEvMs = evPauseMs(uuid, mark, 1000);
    evPhases(uuid, mark, s);
    if (busy) {
        s->rateBefore = rateMean(before);
        s->rateDuring = rateMean(during);
        s->rateAfter = rateMean(after);
    }
    ret = 0;

    virTypedParamsFree(stats, nstats);
    destroyCopy(b, clone, src);
    return ret;
}


/* ---- scenario: raw QEMU migration (the floor) ------------------------------- */

typedef struct {
    gboolean have;
    gboolean caps[4];
    gboolean capKnown[4];
    gint64 maxBandwidth;
    gint64 downtimeLimit;
} MigSaved;

static const char *const migCapNames[4] = {
    "events", "return-path", "pause-before-switchover", "background-snapshot",
};

static int
migSave(virDomainPtr dom, MigSaved *ms, GError **err)
{
    g_autoptr(JsonNode) caps = qmpRun(dom, "query-migrate-capabilities", NULL, err);
    g_autoptr(JsonNode) params = caps ? qmpRun(dom, "query-migrate-parameters", NULL, err) : NULL;
    JsonArray *arr;
    JsonObject *po;

    memset(ms, 0, sizeof(*ms));
    if (!params)
        return -1;
    arr = JSON_NODE_HOLDS_ARRAY(caps) ? json_node_get_array(caps) : NULL;
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *c = json_array_get_object_element(arr, i);
        const char *name = json_object_get_string_member_with_default(c, "capability", "");

        for (guint j = 0; j < G_N_ELEMENTS(migCapNames); j++) {
            if (g_str_equal(name, migCapNames[j])) {
                ms->capKnown[j] = TRUE;
                ms->caps[j] = json_object_get_boolean_member_with_default(c, "state", FALSE);
            }
        }
    }
    po = JSON_NODE_HOLDS_OBJECT(params) ? json_node_get_object(params) : NULL;
    ms->maxBandwidth = po ? json_object_get_int_member_with_default(po, "max-bandwidth", -1) : -1;
    ms->downtimeLimit = po ? json_object_get_int_member_with_default(po, "downtime-limit", -1) : -1;
    ms->have = TRUE;
    return 0;
}


static char *
migCapsJson(const gboolean *known, const gboolean *state)
{
    GString *s = g_string_new("{\"capabilities\":[");
    gboolean first = TRUE;

    for (guint j = 0; j < G_N_ELEMENTS(migCapNames); j++) {
        if (!known[j])
            continue;
        g_string_append_printf(s, "%s{\"capability\":\"%s\",\"state\":%s}",
                               first ? "" : ",", migCapNames[j], state[j] ? "true" : "false");
        first = FALSE;
    }
    g_string_append(s, "]}");
    return g_string_free(s, FALSE);
}


static void
migRestore(virDomainPtr dom, const MigSaved *ms)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *caps = NULL;
    g_autofree char *params = NULL;

    if (!ms->have)
        return;
    caps = migCapsJson(ms->capKnown, ms->caps);
    if (ms->maxBandwidth >= 0 && ms->downtimeLimit >= 0)
        params = g_strdup_printf("{\"max-bandwidth\":%" G_GINT64_FORMAT
                                 ",\"downtime-limit\":%" G_GINT64_FORMAT "}",
                                 ms->maxBandwidth, ms->downtimeLimit);
    if (qmpDo(dom, "migrate-set-capabilities", caps, &err) < 0 ||
        (params && qmpDo(dom, "migrate-set-parameters", params, &err) < 0))
        benchLog("warning: cannot restore the migration settings: %s", err->message);
}


/* Waits until the migration of @dom (@uuid) completes; events first, a
 * query-migrate every 50 ms as the library does. */
static int
rawWaitCompleted(virDomainPtr dom, const unsigned char *uuid, guint64 mark, gint64 deadline,
                 gint64 *tsOut, gboolean *timedOut, GError **err)
{
    *timedOut = FALSE;
    for (;;) {
        MigInfo mi;

        if (evWait(uuid, "MIGRATION", "completed", mark, 0, NULL, tsOut))
            return 0;
        if (qmpMigInfo(dom, &mi, err) < 0)
            return -1;
        if (g_str_equal(mi.status, "completed")) {
            if (!evWait(uuid, "MIGRATION", "completed", mark, 0, NULL, tsOut))
                *tsOut = g_get_real_time();
            return 0;
        }
        if (g_str_equal(mi.status, "failed") || g_str_equal(mi.status, "cancelled")) {
            g_set_error(err, BENCH_ERROR, 0, "%s: migration %s", virDomainGetName(dom), mi.status);
            return -1;
        }
        if (g_get_monotonic_time() > deadline) {
            *timedOut = TRUE;
            g_set_error(err, BENCH_ERROR, 0, "%s: migration did not converge in %d s",
                        virDomainGetName(dom), optTimeout);
            return -1;
        }
        evWait(uuid, "MIGRATION", "completed", mark, 50, NULL, tsOut);
    }
}


static void
rawCancel(virDomainPtr src)
{
    g_autoptr(GError) err = NULL;
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    if (qmpDo(src, "migrate_cancel", NULL, &err) < 0) {
        benchLog("warning: %s", err->message);
        return;
    }
    while (g_get_monotonic_time() < end) {
        MigInfo mi;

        g_clear_error(&err);
        if (qmpMigInfo(src, &mi, &err) < 0 || !g_str_equal(mi.status, "cancelling"))
            break;
        g_usleep(20 * 1000);
    }
}


static int
runRaw(Bench *b, TgGuest *g, Sample *s, gboolean *noConv, char **errOut)
{
    virDomainPtr src = tgGuestDomain(g);
    g_autofree char *name = g_strdup_printf("%s-raw%u", tgGuestName(g), ++b->serial);
    g_autofree char *srcXml = virDomainGetXMLDesc(src, VIR_DOMAIN_XML_SECURE |
                                                       VIR_DOMAIN_XML_MIGRATABLE);
    g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func(rawDiskFree);
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *dxml = NULL;
    g_autofree char *srcCaps = NULL;
    g_autofree char *srcParams = NULL;
    g_autoptr(virDomain) dst = NULL;
    g_autoptr(GError) err = NULL;
    unsigned char suuid[VIR_UUID_BUFLEN];
    unsigned char duuid[VIR_UUID_BUFLEN];
    static const gboolean capsKnown[4] = { TRUE, TRUE, TRUE, TRUE };
    static const gboolean srcCapsState[4] = { TRUE, TRUE, FALSE, FALSE };
    MigSaved saved = { 0 };
    MigInfo mi;
    gboolean migrating = FALSE;
    gboolean timedOut = FALSE;
    int sv[2] = { -1, -1 };
    gint64 t0;
    gint64 tSrcDone = 0;
    gint64 tDstDone = 0;
    gint64 deadline;
    guint64 mark;
    int ret = -1;

    if (!srcXml) {
        *errOut = g_strdup_printf("cannot get the source's XML: %s", virGetLastErrorMessage());
        return -1;
    }
    virDomainGetUUID(src, suuid);
    if (!(dxml = rawDestXml(srcXml, name, tgEnvRoot(b->env), disks, files, &err)))
        goto cleanup;
    for (guint i = 0; i < disks->len; i++) {
        RawDisk *d = g_ptr_array_index(disks, i);
        virDomainBlockInfo info;
        g_autofree char *size = NULL;

        if (virDomainGetBlockInfo(src, d->target, &info, 0) < 0) {
            g_set_error(&err, BENCH_ERROR, 0, "block info of %s: %s", d->target,
                        virGetLastErrorMessage());
            goto cleanup;
        }
        size = g_strdup_printf("%llu", info.capacity);
        {
            const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", d->path, size, NULL };

            if (benchRun(argv, &err) < 0)
                goto cleanup;
        }
    }
    if (migSave(src, &saved, &err) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        if (!err)
            g_set_error(&err, BENCH_ERROR, 0, "socketpair: %s", g_strerror(errno));
        goto cleanup;
    }
    srcCaps = migCapsJson(capsKnown, srcCapsState);
    srcParams = g_strdup_printf("{\"max-bandwidth\":%" G_GINT64_FORMAT ",\"downtime-limit\":%d}",
                                BENCH_BANDWIDTH_UNLIMITED, BENCH_DOWNTIME_LIMIT_MS);

    mark = evMark();
    t0 = g_get_real_time();
    deadline = g_get_monotonic_time() + (gint64)optTimeout * G_USEC_PER_SEC;
    /* START_PAUSED, as the library: without it libvirt sends "cont" */
    if (!(dst = virDomainCreateXML(b->conn, dxml, VIR_DOMAIN_START_PAUSED))) {
        g_set_error(&err, BENCH_ERROR, 0, "cannot start the destination: %s",
                    virGetLastErrorMessage());
        goto cleanup;
    }
    virDomainGetUUID(dst, duuid);
    if (qmpDo(dst, "migrate-set-capabilities",
              "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
              "{\"capability\":\"return-path\",\"state\":true}]}", &err) < 0 ||
        qmpDo(dst, "migrate-set-parameters", "{\"announce-rounds\":0}", &err) < 0 ||
        qmpGetFd(dst, BENCH_FD_IN, sv[1], &err) < 0 ||
        qmpDo(dst, "migrate-incoming", "{\"uri\":\"fd:" BENCH_FD_IN "\"}", &err) < 0 ||
        qmpDo(src, "migrate-set-capabilities", srcCaps, &err) < 0 ||
        qmpDo(src, "migrate-set-parameters", srcParams, &err) < 0 ||
        qmpGetFd(src, BENCH_FD_OUT, sv[0], &err) < 0)
        goto cleanup;
    close(sv[0]);
    close(sv[1]);
    sv[0] = sv[1] = -1;
    if (qmpDo(src, "migrate", "{\"uri\":\"fd:" BENCH_FD_OUT "\"}", &err) < 0)
        goto cleanup;
    migrating = TRUE;

    if (rawWaitCompleted(src, suuid, mark, deadline, &tSrcDone, &timedOut, &err) < 0) {
        *noConv = timedOut;
        goto cleanup;
    }
    migrating = FALSE;
    /* a plain migration leaves the source paused: resume it at once.  QEMU
     * sends 'completed' before it leaves the finish-migrate state, and
     * refuses 'cont' until then: retry */
    for (guint tries = 1;; tries++) {
        if (virDomainResume(src) == 0) {
            if (tries > 1)
                benchLog("  note: 'cont' was refused %u times (%s) before the source resumed",
                         tries - 1, "Migration is not finalized yet");
            break;
        }
        if (!strstr(virGetLastErrorMessage(), "not finalized") || tries > 2000) {
            g_set_error(&err, BENCH_ERROR, 0, "cannot resume the source: %s",
                        virGetLastErrorMessage());
            goto cleanup;
        }
        g_usleep(1000);
    }
    if (rawWaitCompleted(dst, duuid, mark, deadline, &tDstDone, &timedOut, &err) < 0)
        goto cleanup;

    s->totalS = (double)(tDstDone - t0) / 1e6;
    s->pauseMs = evPauseMs(suuid, mark, 1000);
    s->pauseEvMs = s->pauseMs;
    evPhases(suuid, mark, s);
    if (qmpMigInfo(src, &mi, &err) == 0) {
        s->downtimeMs = (double)mi.downtime;
        s->bytes = (double)mi.transferred;
    }
    g_clear_error(&err);
    ret = 0;

 cleanup:
    if (ret < 0)
        *errOut = g_strdup(err ? err->message : "unknown error");
    if (migrating)
        rawCancel(src);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    migRestore(src, &saved);
    ensureRunning(src);
    if (dst)
        destroyCopy(b, dst, src);
    for (guint i = 0; i < files->len; i++)
        unlinkQuiet(g_ptr_array_index(files, i));
    return ret;
}


/* ---- scenario: libvirt's live memory snapshot ------------------------------ */

static int
runSnapshot(Bench *b, TgGuest *g, Sample *s, char **errOut)
{
    virDomainPtr src = tgGuestDomain(g);
    guint n = ++b->serial;
    g_autofree char *mem = g_strdup_printf("%s/%s-snap%u.mem", tgEnvRoot(b->env),
                                           tgGuestName(g), n);
    g_autofree char *top = g_strdup_printf("%s/%s-snap%u.vda.qcow2", tgEnvRoot(b->env),
                                           tgGuestName(g), n);
    g_autofree char *xml = g_markup_printf_escaped(
        "<domainsnapshot><name>bench-snap%u</name>"
        "<memory snapshot='external' file='%s'/>"
        "<disks><disk name='vda' snapshot='external'><source file='%s'/></disk></disks>"
        "</domainsnapshot>", n, mem, top);
    unsigned int flags = VIR_DOMAIN_SNAPSHOT_CREATE_LIVE | VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA;
    virDomainSnapshotPtr snap;
    unsigned char uuid[VIR_UUID_BUFLEN];
    g_autoptr(GError) err = NULL;
    MigInfo mi;
    guint64 mark;
    gint64 t0;

    virDomainGetUUID(src, uuid);
    mark = evMark();
    t0 = g_get_monotonic_time();
    snap = virDomainSnapshotCreateXML(src, xml, flags);
    if (!snap && virGetLastErrorCode() != VIR_ERR_OPERATION_FAILED &&
        domState(src) == VIR_DOMAIN_RUNNING && !g_file_test(top, G_FILE_TEST_EXISTS)) {
        /* NO_METADATA refused with a memory image: keep the metadata, and
         * delete it afterwards */
        benchLog("  snapshot with NO_METADATA refused (%s): retrying with metadata",
                 virGetLastErrorMessage());
        unlinkQuiet(mem);
        flags &= ~VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA;
        mark = evMark();
        t0 = g_get_monotonic_time();
        snap = virDomainSnapshotCreateXML(src, xml, flags);
    }
    s->totalS = (double)(g_get_monotonic_time() - t0) / 1e6;
    if (!snap) {
        *errOut = g_strdup(virGetLastErrorMessage());
        unlinkQuiet(mem);
        ensureRunning(src);
        return -1;
    }
    if (!(flags & VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA) &&
        virDomainSnapshotDelete(snap, VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY) < 0)
        benchLog("warning: cannot delete the snapshot's metadata: %s", virGetLastErrorMessage());
    virDomainSnapshotFree(snap);

    s->pauseMs = evPauseMs(uuid, mark, 2000);
    s->pauseEvMs = s->pauseMs;
    evPhases(uuid, mark, s);
    s->bytes = fileSize(mem);
    if (qmpMigInfo(src, &mi, &err) == 0 && g_str_equal(mi.status, "completed"))
        s->downtimeMs = (double)mi.downtime;
    /* the source now runs on @top: it stays (the next scenario uses it) */
    unlinkQuiet(mem);
    ensureRunning(src);
    return 0;
}


/* ---- scenario: virsh save + virsh restore ---------------------------------- */

static int
runSave(Bench *b, TgGuest *g, Sample *s, char **errOut)
{
    virDomainPtr src = tgGuestDomain(g);
    g_autofree char *file = g_strdup_printf("%s/%s-%u.save", tgEnvRoot(b->env),
                                            tgGuestName(g), ++b->serial);
    unsigned char uuid[VIR_UUID_BUFLEN];
    guint64 mark;
    gint64 t0;
    gint64 t1;
    double evMs;

    virDomainGetUUID(src, uuid);
    mark = evMark();
    t0 = g_get_monotonic_time();
    if (virDomainSave(src, file) < 0) {
        *errOut = g_strdup_printf("save: %s", virGetLastErrorMessage());
        unlinkQuiet(file);
        return -1;
    }
    s->bytes = fileSize(file);
    if (virDomainRestore(b->conn, file) < 0) {
        *errOut = g_strdup_printf("restore: %s", virGetLastErrorMessage());
        unlinkQuiet(file);
        return -1;
    }
    t1 = g_get_monotonic_time();
    unlinkQuiet(file);
    /* the guest does not run from the save call until the restored domain
     * runs: STOP of the old QEMU to RESUME of the new one, or the calls */
    s->totalS = (double)(t1 - t0) / 1e6;
    evMs = evPauseMs(uuid, mark, 2000);
    s->pauseEvMs = evMs;
    evPhases(uuid, mark, s);
    s->pauseMs = evMs > 0 ? evMs : s->totalS * 1000.0;
    return 0;
}


/* ---- one guest ------------------------------------------------------------- */

static void
logSample(const Row *r, const Sample *s)
{
    benchLog("  %4u MiB %s %-10s pause %.1f ms (events %.1f), downtime %.0f ms, "
             "total %.2f s, %.0f MiB%s%s",
             r->memMiB, modeName(r->mode), methodNames[r->method], s->pauseMs, s->pauseEvMs,
             s->downtimeMs, s->totalS, s->bytes / 1048576.0,
             s->strategy[0] ? ", strategy " : "", s->strategy);
    if (s->nphases) {
        g_autoptr(GString) ph = g_string_new("STOP");

        for (guint i = 0; i < s->nphases; i++)
            g_string_append_printf(ph, " → %s %.1f", s->phases[i].label, s->phases[i].ms);
        benchLog("       pause (ms after STOP): %s", ph->str);
    }
    if (s->rateBefore >= 0)
        benchLog("       workload pages/s before %.0f during %.0f after %.0f",
                 s->rateBefore, s->rateDuring, s->rateAfter);
    if (s->diskForkMs >= 0)
        benchLog("       clone start %.2f s, disk fork %.1f ms, passes %.0f, fallbacks %.0f",
                 s->cloneStartS, s->diskForkMs, s->passes, s->fallbacks);
}


static int
runScenario(Bench *b, TgGuest *g, StatLog *sl, Row *r, Sample *s, gboolean *noConv, char **msg)
{
    switch (r->method) {
    case M_PRECOPY:
    case M_BACKGROUND:
    case M_AUTO:
        return runClone(b, g, sl, r->method, s, noConv, msg);
    case M_RAW:
        return runRaw(b, g, s, noConv, msg);
    case M_SNAPSHOT:
        return runSnapshot(b, g, s, msg);
    case M_SAVE:
        return runSave(b, g, s, msg);
    case M_LAST:
    default:
        *msg = g_strdup("unknown method");
        return -1;
    }
}


/* One measurement.  With --wait-quiet, one during which another QEMU ran is
 * thrown away and made again (BENCH_MAX_ATTEMPTS times at most). */
static void
runOne(Bench *b, TgGuest *g, StatLog *sl, Row *r)
{
    for (guint attempt = 1;; attempt++) {
        g_autofree char *msg = NULL;
        gboolean noConv = FALSE;
        gboolean skewed;
        double foreign = 0;
        Sample s;
        int rc;

        if (r->skipped)
            return;
        sampleInit(&s);
        if (!ensureRunning(tgGuestDomain(g))) {
            rowError(r, "the source is not running");
            return;
        }
        if (optWaitQuiet)
            waitQuiet();
        watchReset();
        rc = runScenario(b, g, sl, r, &s, &noConv, &msg);
        skewed = watchSkewed(&foreign);
        if (skewed && optWaitQuiet && attempt < BENCH_MAX_ATTEMPTS) {
            benchLog("  %4u MiB %s %-10s thrown away: other load on the machine meanwhile "
                     "(%.2f cores, or another QEMU)",
                     r->memMiB, modeName(r->mode), methodNames[r->method], foreign);
            continue;
        }
        r->tries++;
        b->scenarios++;
        if (skewed) {
            r->foreign++;
            b->foreignSeen++;
            benchLog("  warning: other load ran during this measurement (%.2f cores, or another "
                     "QEMU): it is skewed", foreign);
        }
        if (rc == 0) {
            g_array_append_val(r->samples, s);
            logSample(r, &s);
            return;
        }
        benchLog("  %4u MiB %s %-10s %s: %s", r->memMiB, modeName(r->mode),
                 methodNames[r->method], noConv ? "no convergence" : "failed", msg);
        if (noConv) {
            /* more tries would only cost the timeout again */
            r->noConvergence++;
            r->skipped = TRUE;
            return;
        }
        rowError(r, msg);
        return;
    }
}


/* Under TCG the workload's rate depends on the size of QEMU's soft TLB,
 * which QEMU resizes only when the TLB is flushed: a busy guest that never
 * flushes it runs with the small initial TLB (a miss on every page of its
 * buffer), until a migration's dirty-log syncs flush it and it grows; the
 * rate then jumps 5-10x and stays there.  To compare before/during/after in
 * one regime, flush it a few times first: QEMU's dirty-rate measurement in
 * dirty-bitmap mode starts and syncs the dirty log, like a migration. */
static void
tlbWarmup(TgGuest *g)
{
    virDomainPtr dom = tgGuestDomain(g);
    g_autoptr(GError) err = NULL;
    gint64 end;

    /* every measurement starts and stops the dirty log: two flushes; the
     * TLB doubles at each flush while it is full (256 entries -> 64 Ki) */
    for (guint i = 0; i < BENCH_TLB_WARMUPS; i++) {
        gboolean done = FALSE;

        if (qmpDo(dom, "calc-dirty-rate", "{\"calc-time\":50,\"calc-time-unit\":\"millisecond\","
                  "\"mode\":\"dirty-bitmap\"}", &err) < 0) {
            benchLog("warning: TLB warm-up: %s", err->message);
            return;
        }
        end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        while (!done && g_get_monotonic_time() < end) {
            g_autoptr(JsonNode) ret = qmpRun(dom, "query-dirty-rate", NULL, NULL);
            JsonObject *o = ret && JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;

            done = o && g_strcmp0(json_object_get_string_member_with_default(o, "status", ""),
                                  "measured") == 0;
            if (!done)
                g_usleep(20 * 1000);
        }
        if (!done) {
            benchLog("warning: TLB warm-up: no dirty-rate result");
            return;
        }
    }
}


static void
runGuest(Bench *b, guint memMiB, TgMode mode)
{
    TgGuestOpts opts = {
        .name_prefix = "bench",
        .memory_mib = memMiB,
        .buffer_mib = optBufferMiB > 0 ? (guint)optBufferMiB : memMiB / 4,
        .mode = mode,
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(TgGuest) g = NULL;
    StatLog sl = { 0 };
    Row *rows[M_LAST] = { NULL };
    static const Method repeated[] = { M_PRECOPY, M_BACKGROUND, M_AUTO, M_RAW };

    for (int m = 0; m < M_LAST; m++)
        if (b->methods[m])
            rows[m] = rowNew(b, memMiB, mode, (Method)m);

    benchLog("guest %u MiB, %s (buffer %u MiB): booting", memMiB, modeName(mode), opts.buffer_mib);
    if (!(g = tgGuestStart(b->env, &opts, &err))) {
        benchLog("cannot start the guest: %s", err->message);
        for (int m = 0; m < M_LAST; m++)
            if (rows[m])
                rowError(rows[m], "the guest did not boot");
        return;
    }
    sl.g = g;
    if (mode == TG_MODE_BUSY)
        tlbWarmup(g);
    /* let the workload settle (and the first clone not meet a booting guest) */
    if (statWait(&sl, 3, NULL, &err) < 0) {
        benchLog("warning: %s", err->message);
        g_clear_error(&err);
    }

    for (int rep = 0; rep < optReps; rep++)
        for (guint i = 0; i < G_N_ELEMENTS(repeated); i++)
            if (rows[repeated[i]])
                runOne(b, g, &sl, rows[repeated[i]]);
    if (rows[M_SNAPSHOT])
        runOne(b, g, &sl, rows[M_SNAPSHOT]);
    if (rows[M_SAVE])
        runOne(b, g, &sl, rows[M_SAVE]);
    benchLog("guest %u MiB, %s: done", memMiB, modeName(mode));
}


/* ---- the table -------------------------------------------------------------- */

static int
cmpDouble(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}


typedef struct {
    guint n;
    double med;
    double min;
    double max;
} Stat3;

static Stat3
rowStat(const Row *r, size_t off)
{
    g_autoptr(GArray) v = g_array_new(FALSE, FALSE, sizeof(double));
    Stat3 st = { 0, -1, -1, -1 };

    for (guint i = 0; i < r->samples->len; i++) {
        const Sample *s = &g_array_index(r->samples, Sample, i);
        double x = *(const double *)((const char *)s + off);

        if (x >= 0)
            g_array_append_val(v, x);
    }
    if (v->len == 0)
        return st;
    g_array_sort(v, cmpDouble);
    st.n = v->len;
    st.min = g_array_index(v, double, 0);
    st.max = g_array_index(v, double, v->len - 1);
    st.med = v->len % 2 ? g_array_index(v, double, v->len / 2)
                        : (g_array_index(v, double, v->len / 2 - 1) +
                           g_array_index(v, double, v->len / 2)) / 2;
    return st;
}


static void
appendValue(GString *out, double x, double scale, int decimals)
{
    g_string_append_printf(out, "%.*f", decimals, x * scale);
}


/* "median (min–max)", "value", or "–" */
static void
appendStat(GString *out, const Row *r, size_t off, double scale, int decimals)
{
    Stat3 st = rowStat(r, off);

    if (st.n == 0) {
        g_string_append(out, "–");
        return;
    }
    appendValue(out, st.med, scale, decimals);
    if (st.n > 1) {
        g_string_append(out, " (");
        appendValue(out, st.min, scale, decimals);
        g_string_append(out, "–");
        appendValue(out, st.max, scale, decimals);
        g_string_append(out, ")");
    }
}


static void
appendBytes(GString *out, const Row *r)
{
    Stat3 st = rowStat(r, offsetof(Sample, bytes));

    if (st.n == 0)
        g_string_append(out, "–");
    else if (st.med >= 1024.0 * 1048576.0)
        g_string_append_printf(out, "%.2f GiB", st.med / (1024.0 * 1048576.0));
    else
        g_string_append_printf(out, "%.0f MiB", st.med / 1048576.0);
}


static void
appendNotes(GString *out, const Row *r)
{
    GString *n = g_string_new(NULL);

    if (methodIsClone(r->method) && r->samples->len > 0) {
        Stat3 start = rowStat(r, offsetof(Sample, cloneStartS));
        Stat3 fork = rowStat(r, offsetof(Sample, diskForkMs));
        Stat3 passes = rowStat(r, offsetof(Sample, passes));
        if (r->method == M_AUTO) {
            guint pre = 0;
            guint bg = 0;
            double fallbacks = 0;

            for (guint i = 0; i < r->samples->len; i++) {
                const Sample *s = &g_array_index(r->samples, Sample, i);

                pre += g_str_equal(s->strategy, "precopy");
                bg += g_str_equal(s->strategy, "background");
                fallbacks += MAX(s->fallbacks, 0);
            }
            g_string_append(n, "chose ");
            if (pre)
                g_string_append_printf(n, "precopy %u×", pre);
            if (bg)
                g_string_append_printf(n, "%sbackground %u×", pre ? ", " : "", bg);
            if (fallbacks > 0)
                g_string_append_printf(n, " (%.0f pre-copy attempts abandoned)", fallbacks);
            if (rowStat(r, offsetof(Sample, dirtyMiBs)).n) {
                Stat3 dirty = rowStat(r, offsetof(Sample, dirtyMiBs));
                Stat3 copy = rowStat(r, offsetof(Sample, copyMiBs));

                g_string_append_printf(n, " from a dirty rate of %.0f MiB/s against a copy of %.0f MiB/s",
                                       dirty.med, copy.med);
            }
            g_string_append(n, "; ");
        }
        g_string_append_printf(n, "clone QEMU start %.2f s, disk fork %.1f ms",
                               start.med, fork.med);
        if (passes.n && r->method == M_PRECOPY)
            g_string_append_printf(n, ", %.0f passes", passes.med);
    }
    if (r->method == M_RAW && r->samples->len > 0)
        g_string_append(n, "time: start of the destination to its 'completed'");
    if (r->method == M_SNAPSHOT && r->samples->len > 0)
        g_string_append(n, "time: the whole call; bytes: memory image");
    if (r->method == M_SAVE && r->samples->len > 0)
        g_string_append(n, "pause = time: save call to restored guest running; bytes: save image");
    if (r->noConvergence) {
        g_string_append_printf(n, "%sno convergence in %d s (%u of %u tries%s)",
                               n->len ? "; " : "", optTimeout, r->noConvergence, r->tries,
                               r->skipped && r->tries < (guint)optReps
                               ? "; later repetitions skipped" : "");
    }
    if (r->failures)
        g_string_append_printf(n, "%s%u failed: %s", n->len ? "; " : "", r->failures,
                               r->firstError);
    if (r->foreign)
        g_string_append_printf(n, "%s**%u of %u tries ran beside other load**",
                               n->len ? "; " : "", r->foreign, r->tries);
    g_string_append(out, n->len ? n->str : "");
    g_string_free(n, TRUE);
}


static void
appendRates(GString *out, const Row *r)
{
    Stat3 a = rowStat(r, offsetof(Sample, rateBefore));
    Stat3 d = rowStat(r, offsetof(Sample, rateDuring));
    Stat3 z = rowStat(r, offsetof(Sample, rateAfter));

    if (!methodIsClone(r->method)) {
        g_string_append(out, "");
        return;
    }
    if (r->mode == TG_MODE_IDLE) {
        g_string_append(out, "idle");
        return;
    }
    if (a.n == 0) {
        g_string_append(out, "–");
        return;
    }
    g_string_append_printf(out, "%.1f / %.1f / %.1f", a.med / 1000, d.med / 1000, z.med / 1000);
    if (a.med > 0)
        g_string_append_printf(out, " (%.0f%% / %.0f%%)", 100 * d.med / a.med, 100 * z.med / a.med);
}


static Row *
findRow(Bench *b, guint memMiB, TgMode mode, Method m)
{
    for (guint i = 0; i < b->rows->len; i++) {
        Row *r = g_ptr_array_index(b->rows, i);

        if (r->memMiB == memMiB && r->mode == mode && r->method == m)
            return r;
    }
    return NULL;
}


static void
printTable(Bench *b, GString *out)
{
    g_string_append(out,
        "| guest | method | n | source pause ms (STOP→RESUME) | QEMU downtime ms | "
        "time to running clone s | bytes | workload kpages/s before / during / after "
        "(during, after vs before) | notes |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (guint i = 0; i < b->rows->len; i++) {
        const Row *r = g_ptr_array_index(b->rows, i);

        g_string_append_printf(out, "| %u MiB %s | %s | %u | ", r->memMiB, modeName(r->mode),
                               methodLabels[r->method], r->samples->len);
        appendStat(out, r, offsetof(Sample, pauseMs), 1, 1);
        g_string_append(out, " | ");
        appendStat(out, r, offsetof(Sample, downtimeMs), 1, 0);
        g_string_append(out, " | ");
        appendStat(out, r, offsetof(Sample, totalS), 1, 2);
        g_string_append(out, " | ");
        appendBytes(out, r);
        g_string_append(out, " | ");
        appendRates(out, r);
        g_string_append(out, " | ");
        appendNotes(out, r);
        g_string_append(out, " |\n");
    }
}


typedef enum {
    T_PAUSE = 0,
    T_AUTO,
    T_DEMO,
    T_SNAPSHOT,
    T_TIME,
    T_SAVE,
    T_LAST
} Target;

static const char *const targetNames[T_LAST] = {
    "source pause ≤ 1.0× raw migration idle, ≤ 1.3× busy",
    "time to running clone ≤ 1.1× the better forced strategy",
    "the README demo's busy clone (512 MiB busy) ≤ 2.5 s",
    "pause ≥ 10× shorter than live memory snapshot",
    "time to running clone ≤ 1.3× raw migration",
    "pause ≥ 100× shorter than save + restore",
};

/* the README demo's guest: 512 MiB, busy (scripts/demo.sh) */
#define DEMO_MEM_MIB 512
#define DEMO_LIMIT_S 2.5


/* One cell: the value for @r (one of our methods) and PASS / MISS.
 * Returns 1 (pass), 0 (miss) or -1 (not measured). */
static int
targetCell(Bench *b, const Row *r, Target t, GString *cell)
{
    Stat3 pause = rowStat(r, offsetof(Sample, pauseMs));
    Stat3 total = rowStat(r, offsetof(Sample, totalS));
    Method other = t == T_TIME || t == T_PAUSE ? M_RAW : t == T_SNAPSHOT ? M_SNAPSHOT : M_SAVE;
    const Row *o = findRow(b, r->memMiB, r->mode, other);
    Stat3 os = { 0, -1, -1, -1 };
    double ratio = 0;
    gboolean pass = FALSE;

    if (t == T_DEMO) {
        if (r->memMiB != DEMO_MEM_MIB || r->mode != TG_MODE_BUSY || !total.n) {
            g_string_append(cell, "n/a");
            return -1;
        }
        pass = total.med <= DEMO_LIMIT_S;
        g_string_append_printf(cell, "%.2f s: %s", total.med, pass ? "PASS" : "**MISS**");
        return pass;
    }
    if (t == T_AUTO) {
        const Row *pre = findRow(b, r->memMiB, r->mode, M_PRECOPY);
        const Row *bg = findRow(b, r->memMiB, r->mode, M_BACKGROUND);
        Stat3 ps = pre ? rowStat(pre, offsetof(Sample, totalS)) : os;
        Stat3 bs = bg ? rowStat(bg, offsetof(Sample, totalS)) : os;
        double better;

        if (!total.n || (!ps.n && !bs.n)) {
            g_string_append(cell, "n/a");
            return -1;
        }
        better = !ps.n ? bs.med : !bs.n ? ps.med : MIN(ps.med, bs.med);
        ratio = total.med / better;
        pass = ratio <= 1.1;
        g_string_append_printf(cell, "%.2f s / %.2f s = %.2f×: %s", total.med, better, ratio,
                               pass ? "PASS" : "**MISS**");
        return pass;
    }
    if (t == T_PAUSE) {
        double limit = r->mode == TG_MODE_IDLE ? 1.0 : 1.3;

        os = o ? rowStat(o, offsetof(Sample, pauseMs)) : os;
        if (!pause.n || !os.n || os.med <= 0) {
            g_string_append(cell, !pause.n && r->noConvergence ? "no convergence: **MISS**" : "n/a");
            return !pause.n && r->noConvergence ? 0 : -1;
        }
        ratio = pause.med / os.med;
        pass = ratio <= limit;
        g_string_append_printf(cell, "%.1f ms / %.1f ms = %.2f×: %s", pause.med, os.med, ratio,
                               pass ? "PASS" : "**MISS**");
        return pass;
    }
    if (!o) {
        g_string_append(cell, "n/a");
        return -1;
    }
    os = rowStat(o, t == T_TIME ? offsetof(Sample, totalS) : offsetof(Sample, pauseMs));
    if (t == T_TIME) {
        if (!total.n || !os.n) {
            g_string_append(cell, !total.n && r->noConvergence ? "no convergence: **MISS**" :
                                  !os.n && o->noConvergence ? "n/a (raw did not converge)" : "n/a");
            return !total.n && r->noConvergence ? 0 : -1;
        }
        ratio = total.med / os.med;
        pass = ratio <= 1.3;
        g_string_append_printf(cell, "%.2f s / %.2f s = %.2f×: %s", total.med, os.med, ratio,
                               pass ? "PASS" : "**MISS**");
        return pass;
    }
    if (!pause.n || !os.n || pause.med <= 0) {
        g_string_append(cell, !pause.n && r->noConvergence ? "no convergence: **MISS**" : "n/a");
        return !pause.n && r->noConvergence ? 0 : -1;
    }
    ratio = os.med / pause.med;
    pass = ratio >= (t == T_SNAPSHOT ? 10 : 100);
    g_string_append_printf(cell, "%.0f ms / %.1f ms = %.*f×: %s", os.med, pause.med,
                           ratio < 10 ? 1 : 0, ratio, pass ? "PASS" : "**MISS**");
    return pass;
}


static void
printTargets(Bench *b, GString *out)
{
    static const Method ours[] = { M_AUTO, M_PRECOPY, M_BACKGROUND };

    g_string_append(out,
        "\n### Targets (medians of this run)\n\n"
        "| target | guest | clone, auto (default) | clone, precopy | clone, background |\n"
        "| --- | --- | --- | --- | --- |\n");
    for (int t = 0; t < T_LAST; t++) {
        guint pass = 0;
        guint total = 0;

        for (guint i = 0; i < b->rows->len; i++) {
            const Row *first = g_ptr_array_index(b->rows, i);
            gboolean newGuest = TRUE;

            /* one line per guest: the first row of each guest */
            for (guint j = 0; j < i; j++) {
                const Row *q = g_ptr_array_index(b->rows, j);

                newGuest &= !(q->memMiB == first->memMiB && q->mode == first->mode);
            }
            if (!newGuest ||
                (t == T_DEMO && (first->memMiB != DEMO_MEM_MIB || first->mode != TG_MODE_BUSY)))
                continue;
            g_string_append_printf(out, "| %s | %u MiB %s |", targetNames[t], first->memMiB,
                                   modeName(first->mode));
            for (guint k = 0; k < G_N_ELEMENTS(ours); k++) {
                const Row *r = findRow(b, first->memMiB, first->mode, ours[k]);
                g_autoptr(GString) cell = g_string_new(NULL);

                if (!r) {
                    g_string_append(cell, "–");
                } else {
                    int ok = targetCell(b, r, (Target)t, cell);

                    if (ours[k] == M_AUTO && ok >= 0) {
                        total++;
                        pass += (guint)ok;
                    }
                }
                g_string_append_printf(out, " %s |", cell->str);
            }
            g_string_append(out, "\n");
        }
        if (total)
            g_string_append_printf(out, "| **%s** | **default strategy, all guests** | **%s (%u of %u)** | | |\n",
                                   targetNames[t], pass == total ? "PASS" : "MISS", pass, total);
    }
}


/* One line of the pause table: the samples of @r that used @strategy (all
 * of them if NULL); for each event, in the order of first appearance, the
 * median of its first offset after STOP. */
static void
printPhasesLine(GString *out, const Row *r, const char *strategy)
{
    g_autoptr(GPtrArray) labels = g_ptr_array_new();
    g_autoptr(GString) line = g_string_new("STOP 0");
    guint n = 0;

    for (guint k = 0; k < r->samples->len; k++) {
        const Sample *s = &g_array_index(r->samples, Sample, k);

        if (strategy && !g_str_equal(s->strategy, strategy))
            continue;
        n++;
        for (guint p = 0; p < s->nphases; p++) {
            gboolean seen = FALSE;

            for (guint q = 0; q < labels->len && !seen; q++)
                seen = g_str_equal(g_ptr_array_index(labels, q), s->phases[p].label);
            if (!seen)
                g_ptr_array_add(labels, (gpointer)s->phases[p].label);
        }
    }
    for (guint q = 0; q < labels->len; q++) {
        const char *label = g_ptr_array_index(labels, q);
        g_autoptr(GArray) v = g_array_new(FALSE, FALSE, sizeof(double));
        double med;

        for (guint k = 0; k < r->samples->len; k++) {
            const Sample *s = &g_array_index(r->samples, Sample, k);

            if (strategy && !g_str_equal(s->strategy, strategy))
                continue;
            for (guint p = 0; p < s->nphases; p++) {
                if (g_str_equal(s->phases[p].label, label)) {
                    g_array_append_val(v, s->phases[p].ms);
                    break;
                }
            }
        }
        g_array_sort(v, cmpDouble);
        med = v->len % 2 ? g_array_index(v, double, v->len / 2)
                         : (g_array_index(v, double, v->len / 2 - 1) +
                            g_array_index(v, double, v->len / 2)) / 2;
        g_string_append_printf(line, " → %s %.1f", label, med);
    }
    g_string_append_printf(out, "| %u MiB %s | %s%s%s | %u | %s |\n", r->memMiB,
                           modeName(r->mode), methodLabels[r->method],
                           r->method == M_AUTO && strategy ? " → " : "",
                           r->method == M_AUTO && strategy ? strategy : "", n, line->str);
}


static void
printPhases(Bench *b, GString *out)
{
    g_string_append(out,
        "\n### Where the source's pause goes (median ms after QEMU's STOP event)\n\n"
        "| guest | method | n | events of the source from STOP to RESUME |\n"
        "| --- | --- | --- | --- |\n");
    for (guint i = 0; i < b->rows->len; i++) {
        const Row *r = g_ptr_array_index(b->rows, i);
        g_autoptr(GPtrArray) strategies = g_ptr_array_new();

        for (guint k = 0; k < r->samples->len; k++) {
            const char *st = g_array_index(r->samples, Sample, k).strategy;
            gboolean seen = FALSE;

            for (guint q = 0; q < strategies->len && !seen; q++)
                seen = g_str_equal(g_ptr_array_index(strategies, q), st);
            if (!seen)
                g_ptr_array_add(strategies, (gpointer)st);
        }
        /* auto: one line per strategy it chose */
        for (guint q = 0; q < strategies->len; q++)
            printPhasesLine(out, r, g_ptr_array_index(strategies, q));
    }
}


static double
memTotalGiB(void)
{
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents("/proc/meminfo", &text, NULL, NULL) ||
        !(p = strstr(text, "MemTotal:")))
        return 0;
    return g_ascii_strtod(p + strlen("MemTotal:"), NULL) / 1048576.0;
}


static void
printMachine(Bench *b, GString *out, gint64 elapsedUs)
{
    unsigned long lib = 0;
    unsigned long hv = 0;
    g_autofree char *cpu = benchCpuModel();
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *date = g_date_time_format(now, "%Y-%m-%d %H:%M UTC");
    struct utsname un;
    const char *accel = tgEnvAccel(b->env);

    virConnectGetLibVersion(b->conn, &lib);
    virConnectGetVersion(b->conn, &hv);
    if (uname(&un) < 0)
        memset(&un, 0, sizeof(un));
    g_string_append_printf(out,
        "\nmachine: %s, %d cores, %.1f GiB RAM, accelerator %s (%s), kernel %s, "
        "libvirt %lu.%lu.%lu, QEMU %lu.%lu.%lu; %s; run took %d min %02d s "
        "(reps %d, convergence timeout %d s)\n",
        cpu, g_get_num_processors(), memTotalGiB(),
        g_str_equal(accel, "qemu") ? "TCG" : accel, accel, un.release,
        lib / 1000000, lib / 1000 % 1000, lib % 1000, hv / 1000000, hv / 1000 % 1000, hv % 1000,
        date, (int)(elapsedUs / G_USEC_PER_SEC / 60), (int)(elapsedUs / G_USEC_PER_SEC % 60),
        optReps, optTimeout);
    g_mutex_lock(&watch.lock);
    g_string_append_printf(out, "CPU time that no visible process accounts for (other PID namespaces, "
                           "the kernel): %.2f cores on average over the run.\n",
                           (double)watch.hiddenTotal / (double)watch.hz /
                           ((double)(g_get_monotonic_time() - watch.started) / 1e6));
    g_mutex_unlock(&watch.lock);
    if (b->foreignSeen)
        g_string_append_printf(out, "\n**warning: %u of %u measurements ran while other QEMU "
                               "processes ran on this machine: they are skewed.**\n",
                               b->foreignSeen, b->scenarios);
    else
        g_string_append(out, "quiet machine: no other QEMU and less than 0.15 cores of other load "
                               "during every measurement (sampled every 200 ms).\n");
}


/* ---- main ------------------------------------------------------------------- */

static int
parseList(const char *list, GArray *sizes)
{
    g_auto(GStrv) parts = g_strsplit(list, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        guint64 v = 0;

        if (!g_ascii_string_to_unsigned(g_strstrip(parts[i]), 10, 64, 1u << 20, &v, NULL))
            return -1;
        {
            guint u = (guint)v;

            g_array_append_val(sizes, u);
        }
    }
    return 0;
}


static int
parseNames(const char *list, const char *const *names, guint n, gboolean *on)
{
    g_auto(GStrv) parts = g_strsplit(list, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        gboolean found = FALSE;

        for (guint j = 0; j < n; j++) {
            if (g_str_equal(g_strstrip(parts[i]), names[j])) {
                on[j] = TRUE;
                found = TRUE;
            }
        }
        if (!found) {
            fprintf(stderr, "unknown name '%s'\n", parts[i]);
            return -1;
        }
    }
    return 0;
}


int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- live clone benchmark");
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GString) out = g_string_new(NULL);
    static const char *const modeNames[] = { "idle", "busy" };
    gboolean modes[2] = { FALSE, FALSE };
    GThread *watcher;
    Bench b = { 0 };

    benchLogStart();
    if (!benchParseOptions(ctx, optEntries, &argc, &argv,
                           "Needs TG_GUEST_DIR (the build's tests/guest); bench/run.sh sets it.\n"
                           "Prints one markdown table on stdout and progress on stderr."))
        return 2;
    benchLogVerbose = optVerbose;
    if (optQuick) {
        optReps = 1;
        if (!optSizes)
            optSizes = g_strdup("512");
        optTimeout = MIN(optTimeout, 15);
    }
    if (parseList(optSizes ? optSizes : "512,1024", sizes) < 0 || sizes->len == 0 ||
        parseNames(optModes ? optModes : "idle,busy", modeNames, 2, modes) < 0 ||
        parseNames(optMethods ? optMethods : "precopy,background,auto,raw,snapshot,save",
                   methodNames, M_LAST, b.methods) < 0 ||
        optReps < 1 || optTimeout < 1) {
        fprintf(stderr, "bad --sizes, --modes, --methods, --reps or --timeout\n");
        return 2;
    }

    virSetErrorFunc(NULL, benchSilence);
    virCloneSetLogFunc(benchLibLog, NULL);
    xmlInitParser();
    if (!(b.env = tgEnvNew(&err))) {
        fprintf(stderr, "cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    b.conn = tgEnvConn(b.env);
    b.evCallback = -1;
    b.rows = g_ptr_array_new_with_free_func(rowFree);
    if (evStart(&b, &err) < 0) {
        fprintf(stderr, "%s\n", err->message);
        evStop(&b);
        tgEnvFree(b.env);
        return 1;
    }
    benchLog("root %s, accelerator %s", tgEnvRoot(b.env), tgEnvAccel(b.env));
    watcher = watchStart(&b);

    for (guint i = 0; i < sizes->len; i++) {
        for (guint mo = 0; mo < 2; mo++) {
            if (!modes[mo])
                continue;
            runGuest(&b, g_array_index(sizes, guint, i), mo == 0 ? TG_MODE_IDLE : TG_MODE_BUSY);
            evForgetAll();
        }
    }

    printTable(&b, out);
    printTargets(&b, out);
    printPhases(&b, out);
    printMachine(&b, out, benchElapsedUs());
    fputs(out->str, stdout);
    fflush(stdout);

    watchStop(watcher);
    evStop(&b);
    g_ptr_array_unref(b.rows);
    tgEnvFree(b.env);
    return 0;
}
