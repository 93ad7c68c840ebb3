/*
 * bench-diskfork.c: where the disk fork's time goes, while the source is
 * paused
 *
 * The library forks a paused source's disks with libvirt's disk-only
 * external snapshot (cloneDiskFork(), src/clone/clone_disk.c: flags
 * DISK_ONLY|NO_METADATA|REUSE_EXT|ATOMIC, overlays made beforehand with
 * qemu-img).  This benchmark times that call, through the library's own
 * cloneDiskFork() and overlays (cloneDiskCreateOverlay()), on a paused
 * test guest, across the depth of the disks' backing chains and the number
 * of disks, and the same fork done by raw QMP (blockdev-add of the
 * overlay's file and qcow2 nodes, then one 'transaction' of
 * blockdev-snapshot) on a throwaway guest: the difference is libvirt's own
 * work.
 *
 * Every repetition is a new domain (persistent, like a clone's source):
 * defined and started from the test guest's kernel and initramfs, paused
 * (by default as soon as it runs: the fork does not depend on what the
 * guest did; --boot waits for its ready line first), forked once,
 * destroyed and undefined.  The chains are built once with qemu-img and
 * shared by the repetitions (one domain at a time uses them).
 *
 * For libvirt's log of one fork run it with a single repetition and
 * LIBVIRT_LOG_FILTERS / LIBVIRT_LOG_OUTPUTS set (see docs/benchmarks.md);
 * --verbose prints the UTC time of each fork, to find it in that log.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>

#include "libvirt-clone/libvirt-clone.h"
#include "bench-util.h"
#include "clone_disk.h"
#include "clone_domxml.h"
#include "guest/domainxml.h"
#include "testutils-guest.h"

#define DISK_SIZE (64ULL * 1024 * 1024)
#define MAX_DISKS 8
#define MAX_DEPTH 64

static int optReps = 5;
static char *optDepths;
static char *optDisks;
static char *optMethods;
static int optMemory = 128;
static gboolean optBoot;
static gboolean optVerbose;
static gboolean optWaitQuiet;
static gboolean optSync;

static GOptionEntry optEntries[] = {
    { "reps", 'r', 0, G_OPTION_ARG_INT, &optReps,
      "repetitions of each case (5)", "N" },
    { "depths", 'd', 0, G_OPTION_ARG_STRING, &optDepths,
      "images in each disk's backing chain before the fork (1,2,4,8,16)", "LIST" },
    { "disks", 'n', 0, G_OPTION_ARG_STRING, &optDisks,
      "numbers of disks (1,2,4)", "LIST" },
    { "methods", 0, 0, G_OPTION_ARG_STRING, &optMethods,
      "libvirt (the library's cloneDiskFork), qmp (raw QMP) (libvirt,qmp)", "LIST" },
    { "memory", 'm', 0, G_OPTION_ARG_INT, &optMemory,
      "guest RAM in MiB (128)", "MIB" },
    { "boot", 'b', 0, G_OPTION_ARG_NONE, &optBoot,
      "wait for the guest's ready line before pausing it", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &optVerbose,
      "print the library's log and the UTC time of each fork", NULL },
    { "sync", 0, 0, G_OPTION_ARG_NONE, &optSync,
      "fsync each new overlay and its directory before the fork", NULL },
    { "wait-quiet", 'w', 0, G_OPTION_ARG_NONE, &optWaitQuiet,
      "accepted for bench/run.sh, which waits for a quiet machine before the start", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
};

typedef enum {
    M_LIBVIRT = 0,
    M_QMP,
    M_LAST
} Method;

static const char *const methodNames[] = { "libvirt", "qmp" };

typedef struct {
    TgEnv *env;
    char *dir;                    /* chains and overlays */
    char *cmdline;
    GHashTable *chains;           /* "DISK-DEPTH" -> top image */
    guint counter;
} Bench;


static int
parseList(const char *s, GArray *out, guint max)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);

    for (guint i = 0; parts[i]; i++) {
        guint64 v;

        if (!g_ascii_string_to_unsigned(parts[i], 10, 1, max, &v, NULL))
            return -1;
        g_array_append_val(out, (guint){ v });
    }
    return out->len ? 0 : -1;
}


/* The top of a chain of @depth qcow2 images for disk number @disk (a base
 * and depth - 1 overlays), built on first use. */
static const char *
chainTop(Bench *b, guint disk, guint depth, GError **err)
{
    g_autofree char *key = g_strdup_printf("%u-%u", disk, depth);
    g_autofree char *prev = NULL;
    const char *top;

    if ((top = g_hash_table_lookup(b->chains, key)))
        return top;
    for (guint i = 0; i < depth; i++) {
        g_autofree char *path = g_strdup_printf("%s/chain-%u-%u-%u.qcow2", b->dir, disk, depth, i);
        g_autofree char *size = g_strdup_printf("%llu", DISK_SIZE);
        const char *base[] = { "qemu-img", "create", "-q", "-f", "qcow2", path, size, NULL };
        const char *over[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                               "-b", prev, "-u", path, size, NULL };

        if (tgRun(i == 0 ? base : over, err) < 0)
            return NULL;
        g_free(prev);
        prev = g_steal_pointer(&path);
    }
    g_hash_table_insert(b->chains, g_strdup(key), g_steal_pointer(&prev));
    return g_hash_table_lookup(b->chains, key);
}


static char *
diskTarget(guint i)
{
    return g_strdup_printf("vd%c", 'a' + i);
}


static void
domainRemove(virDomainPtr dom)
{
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
        benchLog("cannot destroy %s: %s", virDomainGetName(dom), virGetLastErrorMessage());
    if (virDomainIsPersistent(dom) == 1 &&
        virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0)
        benchLog("cannot undefine %s: %s", virDomainGetName(dom), virGetLastErrorMessage());
}


/* A new persistent domain on the chains of @ndisks disks of depth @depth,
 * started and paused.  @tops gets the top image of each disk.  With
 * --boot, @guest gets the harness's handle on it (whose tgGuestFree()
 * destroys and undefines the domain: keep it until the end). */
static virDomainPtr
domainStart(Bench *b, guint ndisks, guint depth, const char **tops, char **serial,
            TgGuest **guest, GError **err)
{
    g_autofree char *name = g_strdup_printf("bdf-%d-%u", (int)getpid(), ++b->counter);
    g_autoptr(GString) extra = g_string_new(NULL);
    g_autofree char *xml = NULL;
    g_autofree char *kernel = g_build_filename(tgEnvGuestDir(b->env), "vmlinuz", NULL);
    g_autofree char *initrd = g_build_filename(tgEnvGuestDir(b->env), "initramfs.img", NULL);
    virDomainPtr dom;
    TgDomainXmlOpts x = {
        .type = tgEnvAccel(b->env),
        .memory_mib = optMemory,
        .kernel = kernel,
        .initrd = initrd,
        .cmdline = b->cmdline,
        .disk_cache = tgEnvDiskCache(b->env),
        .nic = TG_DOMAIN_NIC_NONE,
    };

    for (guint i = 0; i < ndisks; i++) {
        if (!(tops[i] = chainTop(b, i, depth, err)))
            return NULL;
    }
    for (guint i = 1; i < ndisks; i++) {
        g_autofree char *target = diskTarget(i);
        g_autofree char *d = g_markup_printf_escaped(
            "    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2' cache='%s'/>\n"
            "      <source file='%s'/>\n"
            "      <target dev='%s' bus='virtio'/>\n"
            "    </disk>\n", tgEnvDiskCache(b->env), tops[i], target);

        g_string_append(extra, d);
    }
    *serial = g_strdup_printf("%s/%s-serial.log", b->dir, name);
    x.name = name;
    x.disk = tops[0];
    x.serial_log = *serial;
    x.extra_devices = extra->str;
    xml = tgDomainXml(&x);
    if (!(dom = tgDomainCreate(b->env, xml, FALSE, name, err)))
        return NULL;
    if (optBoot) {
        g_autoptr(TgGuest) g = tgGuestAdopt(b->env, dom, err);

        if (!g || tgSerialWait(g, "CLONETEST ready", 90000, NULL, err) < 0) {
            domainRemove(dom);
            virDomainFree(dom);
            return NULL;
        }
        *guest = g_steal_pointer(&g);
    }
    if (virDomainSuspend(dom) < 0) {
        tgVirError(err, "cannot pause %s", name);
        domainRemove(dom);
        virDomainFree(dom);
        return NULL;
    }
    return dom;
}


static char *
utcNow(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();

    return g_date_time_format(now, "%H:%M:%S.%f");
}


/* --sync: the overlay's data and its directory entry on disk */
static void
syncFile(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    const char *paths[] = { path, dir };

    for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
            benchLog("cannot sync '%s': %s", paths[i], g_strerror(errno));
        if (fd >= 0)
            close(fd);
    }
}


/* The library's fork: cloneDiskFork() on overlays from cloneDiskCreateOverlay(). */
static int
forkLibvirt(Bench *b, virDomainPtr dom, guint ndisks, const char **tops,
            GPtrArray *files, gint64 *us, GError **err)
{
    g_autoptr(cloneDomainPlan) plan = cloneDomainPlanNew();
    g_autofree char *t0 = NULL;
    g_autofree char *t1 = NULL;
    gint64 start;

    for (guint i = 0; i < ndisks; i++) {
        cloneDisk *d = g_new0(cloneDisk, 1);

        d->target = diskTarget(i);
        d->action = CLONE_DISK_FORK;
        d->srcPath = g_strdup(tops[i]);
        d->srcFormat = g_strdup("qcow2");
        d->sourceOverlay = g_strdup_printf("%s/%s-%s.qcow2", b->dir,
                                           virDomainGetName(dom), d->target);
        g_ptr_array_add(plan->disks, d);
        if (cloneDiskCreateOverlay(d->sourceOverlay, d->srcPath, d->srcFormat, DISK_SIZE) < 0) {
            g_set_error(err, G_FILE_ERROR, 0, "cannot create overlay: %s",
                        virCloneGetLastErrorMessage());
            return -1;
        }
        g_ptr_array_add(files, g_strdup(d->sourceOverlay));
        if (optSync)
            syncFile(d->sourceOverlay);
    }
    t0 = utcNow();
    start = g_get_monotonic_time();
    if (cloneDiskFork(dom, plan, "bench-diskfork") < 0) {
        g_set_error(err, G_FILE_ERROR, 0, "%s", virCloneGetLastErrorMessage());
        return -1;
    }
    *us = g_get_monotonic_time() - start;
    t1 = utcNow();
    if (optVerbose)
        benchLog("  fork %s: %s .. %s UTC", virDomainGetName(dom), t0, t1);
    return 0;
}


static int
qmp(virDomainPtr dom, const char *cmd, GError **err)
{
    char *reply = NULL;

    if (virDomainQemuMonitorCommand(dom, cmd, &reply, 0) < 0) {
        tgVirError(err, "QMP %s", cmd);
        return -1;
    }
    if (strstr(reply, "\"error\"")) {
        g_set_error(err, G_FILE_ERROR, 0, "QMP %s: %s", cmd, reply);
        free(reply);
        return -1;
    }
    free(reply);
    return 0;
}


/* The same fork by raw QMP: for each disk, blockdev-add of the overlay's
 * file node and qcow2 node (no backing yet), then one transaction of
 * blockdev-snapshot.  @txUs gets the transaction's share. */
static int
forkQmp(Bench *b, virDomainPtr dom, guint ndisks, const char **tops, GPtrArray *files,
        gint64 *us, gint64 *txUs, GError **err)
{
    g_autoptr(GString) tx = g_string_new("{\"execute\":\"transaction\",\"arguments\":{\"actions\":[");
    g_autoptr(GPtrArray) adds = g_ptr_array_new_with_free_func(g_free);
    gint64 start;
    gint64 txStart;

    for (guint i = 0; i < ndisks; i++) {
        g_autofree char *target = diskTarget(i);
        g_autofree char *path = g_strdup_printf("%s/%s-%s.qcow2", b->dir,
                                                virDomainGetName(dom), target);
        g_autofree char *escTop = g_regex_escape_string(tops[i], -1);
        g_autofree char *re = g_strdup_printf("<source file='%s' index='(\\d+)'", escTop);
        g_autofree char *index = tgDomainXMLMatch(dom, re);
        g_autofree char *jpath = g_strescape(path, NULL);

        if (!index) {
            g_set_error(err, G_FILE_ERROR, 0, "no node index for '%s'", tops[i]);
            return -1;
        }
        if (cloneDiskCreateOverlay(path, tops[i], "qcow2", DISK_SIZE) < 0) {
            g_set_error(err, G_FILE_ERROR, 0, "cannot create overlay: %s",
                        virCloneGetLastErrorMessage());
            return -1;
        }
        g_ptr_array_add(files, g_strdup(path));
        if (optSync)
            syncFile(path);
        g_ptr_array_add(adds, g_strdup_printf(
            "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\","
            "\"node-name\":\"bdf-%u-file\",\"filename\":\"%s\",\"cache\":{\"direct\":%s}}}",
            i, jpath, g_str_equal(tgEnvDiskCache(b->env), "none") ? "true" : "false"));
        g_ptr_array_add(adds, g_strdup_printf(
            "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"qcow2\","
            "\"node-name\":\"bdf-%u-fmt\",\"file\":\"bdf-%u-file\",\"backing\":null}}", i, i));
        g_string_append_printf(tx, "%s{\"type\":\"blockdev-snapshot\",\"data\":"
                               "{\"node\":\"libvirt-%s-format\",\"overlay\":\"bdf-%u-fmt\"}}",
                               i ? "," : "", index, i);
    }
    g_string_append(tx, "]}}");

    start = g_get_monotonic_time();
    for (guint i = 0; i < adds->len; i++)
        if (qmp(dom, g_ptr_array_index(adds, i), err) < 0)
            return -1;
    txStart = g_get_monotonic_time();
    if (qmp(dom, tx->str, err) < 0)
        return -1;
    *us = g_get_monotonic_time() - start;
    *txUs = g_get_monotonic_time() - txStart;
    return 0;
}


typedef struct {
    guint ndisks;
    guint depth;
    GArray *us[M_LAST];           /* gint64 per repetition */
    GArray *txUs;
} Row;


static void
rowFree(gpointer p)
{
    Row *r = p;

    for (guint m = 0; m < M_LAST; m++)
        g_array_unref(r->us[m]);
    g_array_unref(r->txUs);
    g_free(r);
}


static int
cmpI64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a;
    gint64 y = *(const gint64 *)b;

    return x < y ? -1 : x > y;
}


/* "median min max" in ms, or dashes */
static char *
stats(GArray *a)
{
    g_autoptr(GArray) s = NULL;
    double med;

    if (!a->len)
        return g_strdup("– | – | –");
    s = g_array_copy(a);
    g_array_sort(s, cmpI64);
    med = s->len % 2 ? g_array_index(s, gint64, s->len / 2) :
          (g_array_index(s, gint64, s->len / 2 - 1) + g_array_index(s, gint64, s->len / 2)) / 2.0;
    return g_strdup_printf("%.1f | %.1f | %.1f", med / 1000.0,
                           g_array_index(s, gint64, 0) / 1000.0,
                           g_array_index(s, gint64, s->len - 1) / 1000.0);
}


static void
runOne(Bench *b, Row *r, Method m)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *serial = NULL;
    g_autoptr(TgGuest) guest = NULL;
    const char *tops[MAX_DISKS] = { 0 };
    virDomainPtr dom;
    gint64 us = 0;
    gint64 txUs = 0;
    int rc;

    if (!(dom = domainStart(b, r->ndisks, r->depth, tops, &serial, &guest, &err))) {
        benchLog("disks %u depth %u: %s", r->ndisks, r->depth, err->message);
        return;
    }
    if (m == M_LIBVIRT)
        rc = forkLibvirt(b, dom, r->ndisks, tops, files, &us, &err);
    else
        rc = forkQmp(b, dom, r->ndisks, tops, files, &us, &txUs, &err);
    if (rc < 0) {
        benchLog("disks %u depth %u %s: %s", r->ndisks, r->depth, methodNames[m], err->message);
    } else {
        g_array_append_val(r->us[m], us);
        if (m == M_QMP)
            g_array_append_val(r->txUs, txUs);
    }
    tgGuestFree(g_steal_pointer(&guest));
    domainRemove(dom);
    virDomainFree(dom);
    for (guint i = 0; i < files->len; i++)
        g_unlink(g_ptr_array_index(files, i));
    g_unlink(serial);
}


int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the disk fork: libvirt against raw QMP");
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) depths = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GArray) ndisks = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(rowFree);
    g_autofree char *cpu = NULL;
    gboolean methods[M_LAST] = { FALSE };
    Bench b = { 0 };

    benchLogStart();
    if (!benchParseOptions(ctx, optEntries, &argc, &argv,
                           "Needs TG_GUEST_DIR (the build's tests/guest); bench/run.sh sets it.\n"
                           "Prints one markdown table on stdout and progress on stderr."))
        return 2;
    benchLogVerbose = optVerbose;
    if (parseList(optDepths ? optDepths : "1,2,4,8,16", depths, MAX_DEPTH) < 0 ||
        parseList(optDisks ? optDisks : "1,2,4", ndisks, MAX_DISKS) < 0 ||
        optReps < 1 || optMemory < 64) {
        fprintf(stderr, "bad --depths, --disks, --reps or --memory\n");
        return 2;
    }
    {
        g_auto(GStrv) names = g_strsplit(optMethods ? optMethods : "libvirt,qmp", ",", -1);

        for (guint i = 0; names[i]; i++) {
            guint m;

            for (m = 0; m < M_LAST && !g_str_equal(names[i], methodNames[m]); m++)
                ;
            if (m == M_LAST) {
                fprintf(stderr, "bad --methods\n");
                return 2;
            }
            methods[m] = TRUE;
        }
    }

    virSetErrorFunc(NULL, benchSilence);
    virCloneSetLogFunc(benchLibLog, NULL);
    xmlInitParser();
    if (!(b.env = tgEnvNew(&err))) {
        fprintf(stderr, "cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    b.dir = g_build_filename(tgEnvRoot(b.env), "diskfork", NULL);
    g_mkdir(b.dir, 0700);
    b.chains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    b.cmdline = tgGuestCmdline("clonetest.mode=idle clonetest.mib=16 clonetest.disk=none");
    benchLog("root %s, accelerator %s, cache %s", tgEnvRoot(b.env), tgEnvAccel(b.env),
             tgEnvDiskCache(b.env));

    for (guint i = 0; i < ndisks->len; i++) {
        for (guint j = 0; j < depths->len; j++) {
            Row *r = g_new0(Row, 1);

            r->ndisks = g_array_index(ndisks, guint, i);
            r->depth = g_array_index(depths, guint, j);
            for (guint m = 0; m < M_LAST; m++)
                r->us[m] = g_array_new(FALSE, FALSE, sizeof(gint64));
            r->txUs = g_array_new(FALSE, FALSE, sizeof(gint64));
            g_ptr_array_add(rows, r);
            benchLog("disks %u, depth %u", r->ndisks, r->depth);
            /* the methods alternate, so that a slow spell of the machine
             * falls on both */
            for (int k = 0; k < optReps; k++)
                for (guint m = 0; m < M_LAST; m++)
                    if (methods[m])
                        runOne(&b, r, m);
        }
    }

    cpu = benchCpuModel();
    printf("CPU: %s; accelerator %s; guest %d MiB%s; %d repetitions; libvirt's "
           "cloneDiskFork() against raw QMP (blockdev-add ×2 per disk + transaction), ms\n\n",
           cpu, tgEnvAccel(b.env), optMemory, optBoot ? " (booted)" : "", optReps);
    printf("| disks | chain depth | libvirt median | min | max | raw QMP median | min | max "
           "| QMP transaction median | libvirt − QMP (medians) |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (guint i = 0; i < rows->len; i++) {
        Row *r = g_ptr_array_index(rows, i);
        g_autofree char *lv = stats(r->us[M_LIBVIRT]);
        g_autofree char *qm = stats(r->us[M_QMP]);
        g_autofree char *tx = stats(r->txUs);
        g_auto(GStrv) lvp = g_strsplit(lv, " | ", -1);
        g_auto(GStrv) qmp_ = g_strsplit(qm, " | ", -1);
        g_auto(GStrv) txp = g_strsplit(tx, " | ", -1);
        g_autofree char *diff = NULL;

        if (r->us[M_LIBVIRT]->len && r->us[M_QMP]->len)
            diff = g_strdup_printf("%.1f", g_ascii_strtod(lvp[0], NULL) - g_ascii_strtod(qmp_[0], NULL));
        printf("| %u | %u | %s | %s | %s | %s |\n", r->ndisks, r->depth, lv, qm, txp[0],
               diff ? diff : "–");
    }
    fflush(stdout);

    g_hash_table_unref(b.chains);
    tgRemoveTree(b.dir);
    g_free(b.dir);
    g_free(b.cmdline);
    tgEnvFree(b.env);
    return 0;
}
