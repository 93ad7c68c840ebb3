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
 * (SUSPENDED to RESUMED).  The guest is the test guest of tests/guest/,
 * idle, cloned once.  One markdown table on stdout, progress on stderr.
 * See docs/benchmarks.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

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

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

static gint optMemory = 512;
static gint optSampleMiB = 16;
static gint optXpSampleKiB = 256;
static gboolean optVerbose;
static gboolean optWaitQuiet;

static GOptionEntry optEntries[] = {
    { "memory", 'm', 0, G_OPTION_ARG_INT, &optMemory,
      "guest RAM in MiB, below 2816 (512)", "MIB" },
    { "sample-mib", 0, 0, G_OPTION_ARG_INT, &optSampleMiB,
      "what virDomainMemoryPeek reads, extrapolated to all of RAM (16)", "MIB" },
    { "xp-sample-kib", 0, 0, G_OPTION_ARG_INT, &optXpSampleKiB,
      "what HMP xp reads, extrapolated to all of RAM (256)", "KIB" },
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

typedef struct {
    const char *method;
    guint64 bytes;          /* read (the sample's size when extrapolated) */
    gint64 us;
    gint64 pauseUs;
    guint pauses;
    gboolean extrapolated;
    char *error;            /* NULL: it worked */
} Row;


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
    guint64 size;
    int cb;

    benchLogStart();
    g_option_context_add_main_entries(ctx, optEntries, NULL);
    g_option_context_set_description(ctx,
        "Needs TG_GUEST_DIR (the build's tests/guest); bench/run.sh sets it.\n"
        "Prints one markdown table on stdout and progress on stderr.");
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "%s\n", err->message);
        return 2;
    }
    if (optMemory < 128 || optMemory >= 2816 || optSampleMiB < 1 || optXpSampleKiB < 1 ||
        (guint64)optSampleMiB > (guint64)optMemory) {
        fprintf(stderr, "bad --memory (128 to 2815), --sample-mib or --xp-sample-kib\n");
        return 2;
    }
    benchLogVerbose = optVerbose;
    virSetErrorFunc(NULL, benchSilence);
    virCloneSetLogFunc(benchLibLog, NULL);
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

    if (cb >= 0)
        virConnectDomainEventDeregisterAny(tgEnvConn(env), cb);
    virDomainDestroy(clone);
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++)
        g_free(rows[i].error);
    g_rmdir(dir);
    tgGuestFree(src);
    tgEnvFree(env);
    return 0;
}
