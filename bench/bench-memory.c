/*
 * bench-memory.c: reading all guest RAM of a running clone, the library
 * against the alternatives, in one run:
 *
 *   - peek: virDomainCloneMemoryPeek() over all of RAM, in 16 MiB calls
 *     (process_vm_readv on the clone's QEMU, the guest running);
 *   - dump: virDomainCloneMemoryDump() raw, to a file of the root;
 *   - consistent dump: the same with VIR_DOMAIN_CLONE_MEMORY_CONSISTENT
 *     (a background snapshot into a pipe: one brief pause);
 *   - pmemsave: QMP pmemsave of all of RAM to a file;
 *   - memorypeek: virDomainMemoryPeek(VIR_MEMORY_PHYSICAL) at its largest
 *     chunk over the remote protocol (64 KiB), on a sample, extrapolated;
 *   - coredump: virDomainCoreDumpWithFormat(VIR_DUMP_MEMORY_ONLY), what
 *     "virsh dump --memory-only" does (libvirt pauses the guest);
 *   - xp: HMP "xp /128gx" (1 KiB a command, as LibVMI's stock KVM path
 *     reads), on a sample, extrapolated.
 *
 * For each: MB/s and the guest's pause, from libvirt's lifecycle events
 * (SUSPENDED to RESUMED).
 *
 * Then, on the same clone, the cost of virDomainCloneIntegrityWatch() at
 * a 1000 ms period (action alert) over --integrity-seconds: the CPU time
 * of the watch's thread (its schedstat), of the whole bench process
 * (getrusage: with qemu:///embed, libvirt's QEMU driver, which carries
 * the watch's monitor commands, runs in this process too), and of the clone's QEMU (utime + stime of /proc/PID/stat)
 * less the same over an equal window without the watch, measured first
 * (the TCG guest burns CPU of its own); each per check and as a share of
 * one core at one check a second, with the guest's pause over the window.
 * The API does not count its checks: they are counted as the wake-ups of
 * the watch's thread (its CPU time grows after a still spell), polled
 * every 20 ms.
 *
 * The guest is the test guest of tests/guest/, idle, cloned once.  Two
 * markdown tables on stdout, progress on stderr.  See docs/benchmarks.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "bench-util.h"
#include "testutils-guest.h"

#define MIB ((guint64)1024 * 1024)
#define PEEK_CHUNK (16 * MIB)
/* REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX of libvirt's remote protocol */
#define LIBVIRT_PEEK_MAX 65536
#define XP_BYTES 1024
#define INTEGRITY_INTERVAL_MS 1000
/* the watch's thread is polled this often; a wake-up after a still spell
 * of INTEGRITY_STILL_US is one check */
#define INTEGRITY_POLL_US (20 * 1000)
#define INTEGRITY_STILL_US (300 * 1000)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

static gint optMemory = 512;
static gint optSampleMiB = 16;
static gint optXpSampleKiB = 256;
static gint optIntegritySeconds = 30;
static gboolean optVerbose;
static gboolean optWaitQuiet;

static GOptionEntry optEntries[] = {
    { "memory", 'm', 0, G_OPTION_ARG_INT, &optMemory,
      "guest RAM in MiB, below 2816 (512)", "MIB" },
    { "sample-mib", 0, 0, G_OPTION_ARG_INT, &optSampleMiB,
      "what virDomainMemoryPeek reads, extrapolated to all of RAM (16)", "MIB" },
    { "xp-sample-kib", 0, 0, G_OPTION_ARG_INT, &optXpSampleKiB,
      "what HMP xp reads, extrapolated to all of RAM (256)", "KIB" },
    { "integrity-seconds", 0, 0, G_OPTION_ARG_INT, &optIntegritySeconds,
      "how long the integrity watch runs, and the window without it before (30; 0: skip)", "S" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &optVerbose,
      "print the library's log", NULL },
    { "wait-quiet", 'w', 0, G_OPTION_ARG_NONE, &optWaitQuiet,
      "accepted for bench/run.sh, which waits for a quiet machine before the start", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
};

/* the clone's pauses, from its lifecycle events */
static GMutex pauseLock;
static gint64 pauseStartUs;
static gint64 pauseTotalUs;
static guint pauses;

/* the integrity watch's baseline size, from the library's debug log */
static guint64 integrityImageBytes;
/* its INTEGRITY events (differences from the baseline) */
static gint integrityAlerts;

typedef struct {
    const char *method;
    guint64 bytes;          /* read (the sample's size when extrapolated) */
    gint64 us;
    gint64 pauseUs;
    guint pauses;
    gboolean extrapolated;
    char *error;            /* NULL: it worked */
} Row;

typedef struct {
    gint64 us;              /* the window with the watch */
    gint64 idleUs;          /* the window without it, before */
    double qemuMs;          /* QEMU's CPU in the window with the watch */
    double qemuIdleMs;      /* ... in the window without it */
    double selfMs;          /* the bench process's CPU (getrusage), with the watch */
    double selfIdleMs;      /* ... without it */
    double threadMs;        /* the watch thread's CPU; < 0: not found */
    guint checks;           /* 0: not counted */
    gint64 pauseUs;
    guint pauses;
    char *error;            /* NULL: it worked */
} IntegrityRow;


static int
lifecycleCb(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom G_GNUC_UNUSED,
            int event, int detail G_GNUC_UNUSED, void *opaque G_GNUC_UNUSED)
{
    gint64 now = g_get_monotonic_time();

    g_mutex_lock(&pauseLock);
    if (event == VIR_DOMAIN_EVENT_SUSPENDED && !pauseStartUs) {
        pauseStartUs = now;
        pauses++;
    } else if (event == VIR_DOMAIN_EVENT_RESUMED && pauseStartUs) {
        pauseTotalUs += now - pauseStartUs;
        pauseStartUs = 0;
    }
    g_mutex_unlock(&pauseLock);
    return 0;
}


/* the library's log, for benchLibLog(), and the baseline's size from
 * the watch's debug line "integrity baseline of 'NAME': N bytes of kernel
 * image" */
static void
libLog(int priority, const char *message, void *opaque)
{
    const char *p;

    if (g_str_has_prefix(message, "integrity baseline of ") &&
        (p = strstr(message, "': ")))
        integrityImageBytes = g_ascii_strtoull(p + 3, NULL, 10);
    benchLibLog(priority, message, opaque);
}


static void
rowBegin(Row *r, const char *method)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    g_mutex_lock(&pauseLock);
    pauseTotalUs = 0;
    pauses = 0;
    g_mutex_unlock(&pauseLock);
    benchLog("%s ...", method);
    r->us = g_get_monotonic_time();
}


static void
rowEnd(Row *r, guint64 bytes)
{
    r->us = g_get_monotonic_time() - r->us;
    r->bytes = bytes;
    /* the RESUMED event may come a little after the call returned */
    g_usleep(200 * 1000);
    g_mutex_lock(&pauseLock);
    r->pauseUs = pauseTotalUs;
    r->pauses = pauses;
    g_mutex_unlock(&pauseLock);
    benchLog("%s: %" G_GUINT64_FORMAT " MiB in %.3f s", r->method, bytes / MIB, r->us / 1e6);
}


static void
rowFail(Row *r, const char *what)
{
    r->error = g_strdup_printf("%s: %s", what, virCloneGetLastErrorMessage()[0] ?
                               virCloneGetLastErrorMessage() : virGetLastErrorMessage());
    benchLog("%s failed: %s", r->method, r->error);
}


static int
qmp(virDomainPtr dom, const char *cmd, unsigned int flags, char **out)
{
    char *reply = NULL;

    if (virDomainQemuMonitorCommand(dom, cmd, &reply, flags) < 0)
        return -1;
    if (!(flags & VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) && !strstr(reply, "\"return\"")) {
        free(reply);
        return -1;
    }
    if (out)
        *out = g_strdup(reply);
    free(reply);
    return 0;
}


static void
benchPeek(virDomainPtr clone, guint64 size, Row *r)
{
    g_autofree char *buf = g_malloc(PEEK_CHUNK);

    rowBegin(r, "virDomainCloneMemoryPeek (16 MiB calls)");
    for (guint64 off = 0; off < size; off += PEEK_CHUNK) {
        if (virDomainCloneMemoryPeek(clone, off, MIN(PEEK_CHUNK, size - off), buf, 0) < 0) {
            rowFail(r, "peek");
            return;
        }
    }
    rowEnd(r, size);
}


static void
benchDump(virDomainPtr clone, const char *dir, guint64 size, Row *r)
{
    g_autofree char *path = g_build_filename(dir, "dump.raw", NULL);

    rowBegin(r, "virDomainCloneMemoryDump raw (to a file)");
    if (virDomainCloneMemoryDump(clone, path, VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW, 0) < 0) {
        rowFail(r, "dump");
        return;
    }
    rowEnd(r, size);
    g_unlink(path);
}


static void
benchDumpConsistent(virDomainPtr clone, const char *dir, guint64 size, Row *r)
{
    g_autofree char *path = g_build_filename(dir, "dump-consistent.raw", NULL);

    rowBegin(r, "virDomainCloneMemoryDump raw, CONSISTENT (to a file)");
    if (virDomainCloneMemoryDump(clone, path, VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW,
                                 VIR_DOMAIN_CLONE_MEMORY_CONSISTENT) < 0) {
        rowFail(r, "consistent dump");
        return;
    }
    rowEnd(r, size);
    g_unlink(path);
}


static void
benchPmemsave(virDomainPtr clone, const char *dir, guint64 size, Row *r)
{
    g_autofree char *path = g_build_filename(dir, "pmemsave", NULL);
    g_autofree char *cmd = g_strdup_printf("{\"execute\":\"pmemsave\",\"arguments\":{\"val\":0,"
                                           "\"size\":%" G_GUINT64_FORMAT ",\"filename\":\"%s\"}}",
                                           size, path);

    rowBegin(r, "QMP pmemsave (to a file)");
    if (qmp(clone, cmd, 0, NULL) < 0) {
        rowFail(r, "pmemsave");
        return;
    }
    rowEnd(r, size);
    g_unlink(path);
}


static void
benchMemoryPeek(virDomainPtr clone, guint64 sample, Row *r)
{
    g_autofree char *buf = g_malloc(LIBVIRT_PEEK_MAX);

    rowBegin(r, "virDomainMemoryPeek PHYSICAL (64 KiB calls)");
    r->extrapolated = TRUE;
    for (guint64 off = 0; off < sample; off += LIBVIRT_PEEK_MAX) {
        if (virDomainMemoryPeek(clone, off, LIBVIRT_PEEK_MAX, buf, VIR_MEMORY_PHYSICAL) < 0) {
            rowFail(r, "virDomainMemoryPeek");
            return;
        }
    }
    rowEnd(r, sample);
    r->extrapolated = TRUE;
}


static void
benchCoreDump(virDomainPtr clone, const char *dir, guint64 size, Row *r)
{
    g_autofree char *path = g_build_filename(dir, "core", NULL);

    rowBegin(r, "virsh dump --memory-only (ELF, to a file)");
    if (virDomainCoreDumpWithFormat(clone, path, VIR_DOMAIN_CORE_DUMP_FORMAT_RAW,
                                    VIR_DUMP_MEMORY_ONLY) < 0) {
        rowFail(r, "core dump");
        return;
    }
    rowEnd(r, size);
    g_unlink(path);
}


static void
benchXp(virDomainPtr clone, guint64 sample, Row *r)
{
    rowBegin(r, "HMP xp /128gx (1 KiB commands)");
    for (guint64 off = 0; off < sample; off += XP_BYTES) {
        g_autofree char *cmd = g_strdup_printf("xp /%ugx 0x%" G_GINT64_MODIFIER "x",
                                               XP_BYTES / 8, off);
        g_autofree char *out = NULL;

        if (qmp(clone, cmd, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP, &out) < 0) {
            rowFail(r, "xp");
            return;
        }
    }
    rowEnd(r, sample);
    r->extrapolated = TRUE;
}


/* utime + stime of process @pid in ms; < 0 if unknown */
static double
procCpuMs(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) f = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !(p = strrchr(text, ')')))
        return -1;
    /* after "pid (comm)": state is field 3, utime 14, stime 15 */
    f = g_strsplit(p + 2, " ", 0);
    if (g_strv_length(f) < 13)
        return -1;
    return (double)(g_ascii_strtoull(f[11], NULL, 10) + g_ascii_strtoull(f[12], NULL, 10)) *
           1000.0 / (double)sysconf(_SC_CLK_TCK);
}


/* CPU time of this process, all threads, in ms */
static double
selfCpuMs(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return -1;
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}


/* The thread of this process named @name (its comm), 0 if none */
static pid_t
findThread(const char *name)
{
    g_autoptr(GDir) d = g_dir_open("/proc/self/task", 0, NULL);
    const char *ent;

    while (d && (ent = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/self/task/%s/comm", ent);
        g_autofree char *comm = NULL;

        if (g_file_get_contents(path, &comm, NULL, NULL) &&
            g_str_equal(g_strstrip(comm), name))
            return (pid_t)atoi(ent);
    }
    return 0;
}


/* CPU time of thread @tid of this process in ns (the first field of its
 * schedstat, kept up to date whenever it sleeps); -1 if unknown */
static gint64
threadCpuNs(pid_t tid)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d/schedstat", (int)tid);
    g_autofree char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    return g_ascii_strtoll(text, NULL, 10);
}


static void
integrityCb(virDomainPtr dom G_GNUC_UNUSED, const virDomainCloneSandboxEvent *ev,
            void *opaque G_GNUC_UNUSED)
{
    if (ev->type == VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY)
        g_atomic_int_inc(&integrityAlerts);
}


/* Polls the watch thread @tid until @untilUs (monotonic), counting its
 * wake-ups in @r->checks; without @tid, only waits. */
static void
integrityPoll(pid_t tid, gint64 untilUs, IntegrityRow *r)
{
    gint64 last = tid ? threadCpuNs(tid) : -1;
    gint64 lastChangeUs = g_get_monotonic_time();

    while (g_get_monotonic_time() < untilUs) {
        gint64 now, cpu;

        g_usleep(INTEGRITY_POLL_US);
        if (last < 0)
            continue;
        now = g_get_monotonic_time();
        if ((cpu = threadCpuNs(tid)) < 0)
            break;
        if (cpu != last) {
            if (now - lastChangeUs >= INTEGRITY_STILL_US)
                r->checks++;
            last = cpu;
            lastChangeUs = now;
        }
    }
}


static void
benchIntegrity(virDomainPtr clone, IntegrityRow *r)
{
    const char *name = virDomainGetName(clone);
    pid_t qemu = tgFindQemu(name);
    gint64 windowUs = (gint64)optIntegritySeconds * G_USEC_PER_SEC;
    gint64 t0, cpu0 = -1;
    double q0, s0;
    pid_t tid;
    int id;

    memset(r, 0, sizeof(*r));
    r->threadMs = -1;
    if (!qemu) {
        r->error = g_strdup_printf("no QEMU process for '%s'", name);
        benchLog("integrity watch: %s", r->error);
        return;
    }

    benchLog("integrity watch: %d s without it (QEMU %d) ...", optIntegritySeconds, (int)qemu);
    q0 = procCpuMs(qemu);
    s0 = selfCpuMs();
    t0 = g_get_monotonic_time();
    g_usleep(windowUs);
    r->idleUs = g_get_monotonic_time() - t0;
    r->qemuIdleMs = procCpuMs(qemu) - q0;
    r->selfIdleMs = selfCpuMs() - s0;

    benchLog("integrity watch: %d s with it, every %d ms ...", optIntegritySeconds,
             INTEGRITY_INTERVAL_MS);
    integrityImageBytes = 0;
    if ((id = virDomainCloneIntegrityWatch(clone, INTEGRITY_INTERVAL_MS,
                                           VIR_DOMAIN_CLONE_INTEGRITY_ALERT,
                                           integrityCb, NULL, NULL, 0)) < 0) {
        r->error = g_strdup_printf("virDomainCloneIntegrityWatch: %s", virCloneGetLastErrorMessage());
        benchLog("integrity watch failed: %s", r->error);
        return;
    }
    /* the window starts after the baseline: the checks only */
    if ((tid = findThread("integrity-watch")))
        cpu0 = threadCpuNs(tid);
    else
        benchLog("integrity watch: its thread not found, its checks not counted");
    g_mutex_lock(&pauseLock);
    pauseTotalUs = 0;
    pauses = 0;
    g_mutex_unlock(&pauseLock);
    q0 = procCpuMs(qemu);
    s0 = selfCpuMs();
    t0 = g_get_monotonic_time();
    integrityPoll(cpu0 >= 0 ? tid : 0, t0 + windowUs, r);
    r->us = g_get_monotonic_time() - t0;
    r->qemuMs = procCpuMs(qemu) - q0;
    r->selfMs = selfCpuMs() - s0;
    if (cpu0 >= 0) {
        gint64 cpu1 = threadCpuNs(tid);

        if (cpu1 >= 0)
            r->threadMs = (cpu1 - cpu0) / 1e6;
    }
    virDomainCloneSandboxUnwatch(id);
    g_usleep(200 * 1000);
    g_mutex_lock(&pauseLock);
    r->pauseUs = pauseTotalUs + (pauseStartUs ? g_get_monotonic_time() - pauseStartUs : 0);
    r->pauses = pauses;
    g_mutex_unlock(&pauseLock);
    benchLog("integrity watch: %u checks in %.1f s, watch thread %.1f ms, QEMU %.1f ms "
             "(%.1f ms without the watch)", r->checks, r->us / 1e6, r->threadMs,
             r->qemuMs, r->qemuIdleMs);
}


static void
printIntegrityRow(const IntegrityRow *r, const char *what, double ms)
{
    double per = r->checks ? ms / r->checks : ms / (r->us / 1e3 / INTEGRITY_INTERVAL_MS);
    g_autofree char *note = r->pauses ? g_strdup_printf(" (%u pauses)", r->pauses) : NULL;

    printf("| %s | %.2f | %.3f | %.1f%s |\n", what, per,
           per / INTEGRITY_INTERVAL_MS * 100.0, r->pauseUs / 1000.0, note ? note : "");
}


static void
printIntegrityTable(const IntegrityRow *r)
{
    printf("\nThe kernel integrity watch (virDomainCloneIntegrityWatch, every %d ms, "
           "action alert) on the same clone for %.1f s:\n\n",
           INTEGRITY_INTERVAL_MS, r->us / 1e6);
    printf("| what | CPU ms per check | %% of one core at 1 s | guest paused (ms) |\n");
    printf("|---|---:|---:|---:|\n");
    if (r->error) {
        printf("| integrity watch | failed: %s | | |\n", r->error);
        return;
    }
    if (r->threadMs >= 0)
        printIntegrityRow(r, "the watch's thread (bench process)", r->threadMs);
    printIntegrityRow(r, "the bench process, all threads (getrusage): the watch, "
                      "the embedded driver's monitor I/O, the 20 ms poll", r->selfMs);
    printIntegrityRow(r, "QEMU answering (with the watch less without)",
                      r->qemuMs - r->qemuIdleMs * ((double)r->us / (double)r->idleUs));
    if (r->threadMs >= 0)
        printIntegrityRow(r, "total: the watch's thread + QEMU answering",
                          r->threadMs + r->qemuMs - r->qemuIdleMs * ((double)r->us / (double)r->idleUs));
    printf("\n");
    if (r->checks)
        printf("Checks: %u, counted as the wake-ups of the watch's thread.  ", r->checks);
    else
        printf("Checks: not counted; per check is the window over the interval (%.1f).  ",
               r->us / 1e3 / INTEGRITY_INTERVAL_MS);
    if (integrityImageBytes)
        printf("Baseline: %" G_GUINT64_FORMAT " bytes of kernel image compared per check.  ",
               integrityImageBytes);
    printf("Alerts: %d.\n", g_atomic_int_get(&integrityAlerts));
    printf("Raw CPU (ms): with the watch over %.1f s: the watch's thread %.1f, "
           "the bench process %.1f, QEMU %.1f; without it over %.1f s before: "
           "the bench process %.1f, QEMU %.1f.\n",
           r->us / 1e6, r->threadMs, r->selfMs, r->qemuMs, r->idleUs / 1e6,
           r->selfIdleMs, r->qemuIdleMs);
}


static void
printTable(const Row *rows, guint n, guint64 size, const char *accel)
{
    g_autofree char *cpu = benchCpuModel();
    struct utsname u;

    uname(&u);
    printf("Reading all %" G_GUINT64_FORMAT " MiB of guest RAM of a running clone "
           "(%s, kernel %s, accelerator %s):\n\n", size / MIB, cpu, u.release, accel);
    printf("| method | time for all RAM (s) | MB/s | guest paused (ms) | x slower than peek |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (guint i = 0; i < n; i++) {
        const Row *r = &rows[i];
        double s, mbs;

        if (r->error) {
            printf("| %s | failed: %s | | | |\n", r->method, r->error);
            continue;
        }
        s = r->us / 1e6 * ((double)size / (double)r->bytes);
        mbs = (double)size / 1e6 / s;
        printf("| %s%s | %.3f | %.0f | %.1f%s | %.1f |\n", r->method,
               r->extrapolated ? " (sample, extrapolated)" : "", s, mbs, r->pauseUs / 1000.0,
               r->pauses > 1 ? " (several)" : "",
               rows[0].error ? 0.0 : s / (rows[0].us / 1e6));
    }
}


int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- reading a clone's guest RAM: the library against the alternatives");
    g_autoptr(GError) err = NULL;
    g_autoptr(virDomain) clone = NULL;
    g_autofree char *dir = NULL;
    TgEnv *env;
    TgGuest *src;
    Row rows[7];
    IntegrityRow irow = { 0 };
    guint64 size;
    int cb;

    benchLogStart();
    if (!benchParseOptions(ctx, optEntries, &argc, &argv,
                           "Needs TG_GUEST_DIR (the build's tests/guest); bench/run.sh sets it.\n"
                           "Prints one markdown table on stdout and progress on stderr."))
        return 2;
    if (optMemory < 128 || optMemory >= 2816 || optSampleMiB < 1 || optXpSampleKiB < 1 ||
        (guint64)optSampleMiB > (guint64)optMemory || optIntegritySeconds < 0) {
        fprintf(stderr, "bad --memory (128 to 2815), --sample-mib, --xp-sample-kib "
                "or --integrity-seconds\n");
        return 2;
    }
    benchLogVerbose = optVerbose;
    virSetErrorFunc(NULL, benchSilence);
    virCloneSetLogFunc(libLog, NULL);
    if (!(env = tgEnvNew(&err))) {
        fprintf(stderr, "cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    {
        TgGuestOpts opts = { .name_prefix = "bmem", .memory_mib = optMemory, .buffer_mib = 64,
                             .mode = TG_MODE_IDLE };

        if (!(src = tgGuestStart(env, &opts, &err))) {
            fprintf(stderr, "cannot start the guest: %s\n", err->message);
            tgEnvFree(env);
            return 1;
        }
    }
    size = (guint64)optMemory * MIB;
    dir = g_build_filename(tgEnvRoot(env), "bench-memory", NULL);
    g_mkdir(dir, 0700);
    benchLog("root %s, accelerator %s; cloning %s", tgEnvRoot(env), tgEnvAccel(env), tgGuestName(src));
    if (!(clone = virDomainCloneLive(tgGuestDomain(src), NULL, 0))) {
        fprintf(stderr, "cannot clone: %s\n", virCloneGetLastErrorMessage());
        tgGuestFree(src);
        tgEnvFree(env);
        return 1;
    }
    cb = virConnectDomainEventRegisterAny(tgEnvConn(env), clone, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          VIR_DOMAIN_EVENT_CALLBACK(lifecycleCb), NULL, NULL);

    benchPeek(clone, size, &rows[0]);
    benchDump(clone, dir, size, &rows[1]);
    benchDumpConsistent(clone, dir, size, &rows[2]);
    benchPmemsave(clone, dir, size, &rows[3]);
    benchMemoryPeek(clone, (guint64)optSampleMiB * MIB, &rows[4]);
    benchXp(clone, (guint64)optXpSampleKiB * 1024, &rows[5]);
    benchCoreDump(clone, dir, size, &rows[6]);
    printTable(rows, G_N_ELEMENTS(rows), size, tgEnvAccel(env));
    fflush(stdout);
    if (optIntegritySeconds > 0) {
        benchIntegrity(clone, &irow);
        printIntegrityTable(&irow);
    }

    if (cb >= 0)
        virConnectDomainEventDeregisterAny(tgEnvConn(env), cb);
    virDomainDestroy(clone);
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++)
        g_free(rows[i].error);
    g_free(irow.error);
    g_rmdir(dir);
    tgGuestFree(src);
    tgEnvFree(env);
    return 0;
}
