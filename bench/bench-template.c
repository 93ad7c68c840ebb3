/*
 * bench-template.c: N domains from a template against the alternatives
 *
 * For each workload (idle, busy) one 512 MiB test guest is the source; for
 * each N (1, 4, 16 by default) it measures, in the same run:
 *
 *   template   virDomainCloneTemplateCreateFull() once, then N ×
 *              virCloneTemplateCreateDomainFull() (running);
 *              virDomainCloneReset() of the first domain, --resets times
 *   live       N × virDomainCloneLiveFull(): each a full copy, each a pause
 *              of the source; then KSM merging (if the kernel has it)
 *   floor      N × virDomainCreateXML() of the source's XML (new name, no
 *              UUID/MAC, an empty disk of its own), PAUSED: libvirt and
 *              QEMU's start, without a migration
 *   save       virDomainSave() of a live clone, then N ×
 *              virDomainRestore() of that file, one after the other
 *              (restore, measure, destroy: one name, one disk)
 *
 * and prints one markdown table, then a verdict per target of issue 12.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "libvirt-clone/libvirt-clone.h"
#include "bench-util.h"
#include "testutils-guest.h"

#define KSM_DIR "/sys/kernel/mm/ksm"

static char *optCounts;
static char *optModes;
static gint optSettle = 30;
static gint optKsmSettle = 60;
static gint optResets = 5;
static gint optKsmPages = 1000;
static gint optKsmSleep = 20;
static gboolean optVerbose;
static gboolean optWaitQuiet;

static GOptionEntry optEntries[] = {
    { "counts", 0, 0, G_OPTION_ARG_STRING, &optCounts, "numbers of domains (default 1,4,16)", "LIST" },
    { "modes", 0, 0, G_OPTION_ARG_STRING, &optModes, "workloads: idle,busy (default both)", "LIST" },
    { "settle", 0, 0, G_OPTION_ARG_INT, &optSettle, "seconds before the second memory sample (30)", "S" },
    { "ksm-settle", 0, 0, G_OPTION_ARG_INT, &optKsmSettle, "seconds of KSM merging (60)", "S" },
    { "resets", 0, 0, G_OPTION_ARG_INT, &optResets, "resets measured per N (5)", "N" },
    { "ksm-pages", 0, 0, G_OPTION_ARG_INT, &optKsmPages, "KSM pages_to_scan (1000)", "N" },
    { "ksm-sleep", 0, 0, G_OPTION_ARG_INT, &optKsmSleep, "KSM sleep_millisecs (20)", "MS" },
    { "wait-quiet", 0, 0, G_OPTION_ARG_NONE, &optWaitQuiet,
      "(run.sh waits for a quiet machine before the start; noted under the table)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &optVerbose, "the library's log too", NULL },
    { NULL }
};

typedef struct {
    TgMode mode;
    guint n;
    /* template */
    gboolean tOk;
    char *tErr;
    char *tAutoErr;         /* the automatic strategy's failure, if it failed */
    double tCreateS;        /* template creation */
    double tDomainsS;       /* N domains from it */
    double tPauseMs;        /* the source's pause (one) */
    double tRamFileMiB;     /* allocated size of the RAM file */
    double tPrivNowMiB;     /* mean private per domain, at once */
    double tPrivLaterMiB;   /* ... after optSettle */
    double tRamNowMiB;      /* of which in the guest's RAM mapping */
    double tRamLaterMiB;
    double resetMinS;
    double resetMedS;
    guint resets;
    /* live clones */
    gboolean lOk;
    char *lErr;
    double lTotalS;
    double lPauseSumMs;
    double lPauseMaxMs;
    guint lPauses;
    double lPrivNowMiB;
    double lPrivLaterMiB;
    double lPrivKsmMiB;     /* < 0: no KSM */
    double lRamNowMiB;
    double lRamLaterMiB;
    double lRamKsmMiB;
    guint64 ksmSharing;
    /* floor */
    gboolean fOk;
    char *fErr;
    double fTotalS;
    /* save + restore */
    gboolean sOk;
    char *sErr;
    double sSaveS;
    double sRestoreS;       /* sum of N restores */
    double sPrivMiB;
    double sRamMiB;
} Row;

static TgEnv *env;
static guint serial;
static gboolean ksmAvailable;

/* qemu-system processes on the machine that are not ours (the other users
 * of a shared machine), and the highest count seen */
static guint othersMax;

static void
othersSample(void)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *ent;
    guint n = 0;

    while (d && (ent = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", ent);
        g_autofree char *cmd = NULL;
        gsize len = 0;

        if (!g_ascii_isdigit(ent[0]) || !g_file_get_contents(path, &cmd, &len, NULL) || len == 0)
            continue;
        for (gsize i = 0; i + 1 < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        if (strstr(cmd, "qemu-system") && !strstr(cmd, tgEnvRoot(env)) && !strstr(cmd, "btsrc-"))
            n++;
    }
    othersMax = MAX(othersMax, n);
}


static char *
loadAvg(void)
{
    char *text = NULL;

    if (!g_file_get_contents("/proc/loadavg", &text, NULL, NULL))
        return g_strdup("?");
    return g_strstrip(text);
}


static const char *
modeName(TgMode mode)
{
    return mode == TG_MODE_IDLE ? "idle" : "busy";
}


static double
nowS(void)
{
    return (double)g_get_monotonic_time() / 1e6;
}


/* Private_Clean + Private_Dirty of a domain's QEMU (smaps_rollup), MiB; in
 * @ramMiB the part in the mappings of the guest's RAM (those of its exact
 * size, from /proc/PID/smaps): the rest is QEMU's own (heap, TCG's code
 * buffer, ...). */
static guint memMiBGlobal = 512;

static double
privateMiB(const char *name, double *ramMiB)
{
    pid_t pid = tgFindQemu(name);
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    guint64 kib = 0;
    guint64 ramKiB = 0;
    gboolean inRam = FALSE;

    if (ramMiB)
        *ramMiB = -1;
    if (pid <= 0)
        return -1;
    path = g_strdup_printf("/proc/%d/smaps_rollup", (int)pid);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "Private_Clean:") ||
            g_str_has_prefix(lines[i], "Private_Dirty:"))
            kib += g_ascii_strtoull(strchr(lines[i], ':') + 1, NULL, 10);
    }
    g_clear_pointer(&text, g_free);
    g_clear_pointer(&lines, g_strfreev);
    g_free(path);
    path = g_strdup_printf("/proc/%d/smaps", (int)pid);
    if (ramMiB && g_file_get_contents(path, &text, NULL, NULL)) {
        lines = g_strsplit(text, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
            const char *l = lines[i];

            if (g_str_has_prefix(l, "Size:"))
                inRam = g_ascii_strtoull(l + 5, NULL, 10) == (guint64)memMiBGlobal * 1024;
            else if (inRam && (g_str_has_prefix(l, "Private_Clean:") ||
                               g_str_has_prefix(l, "Private_Dirty:")))
                ramKiB += g_ascii_strtoull(strchr(l, ':') + 1, NULL, 10);
        }
        *ramMiB = (double)ramKiB / 1024.0;
    }
    return (double)kib / 1024.0;
}


static double
meanPrivateMiB(GPtrArray *doms, double *ramMiB)
{
    double sum = 0;
    double ram = 0;

    for (guint i = 0; i < doms->len; i++) {
        double r = 0;

        sum += privateMiB(virDomainGetName(g_ptr_array_index(doms, i)), &r);
        ram += r;
    }
    if (ramMiB)
        *ramMiB = doms->len ? ram / doms->len : 0;
    return doms->len ? sum / doms->len : 0;
}


static void
destroyAll(GPtrArray *doms)
{
    for (guint i = 0; i < doms->len; i++) {
        virDomainPtr d = g_ptr_array_index(doms, i);

        virDomainDestroy(d);
        virDomainFree(d);
    }
    g_ptr_array_set_size(doms, 0);
}


static int
cmpDouble(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}


/* ---- KSM ------------------------------------------------------------------ */

static char *
ksmRead(const char *key)
{
    g_autofree char *path = g_build_filename(KSM_DIR, key, NULL);
    char *v = NULL;

    if (!g_file_get_contents(path, &v, NULL, NULL))
        return NULL;
    return g_strstrip(v);
}


static void
ksmWrite(const char *key, const char *value)
{
    g_autofree char *path = g_build_filename(KSM_DIR, key, NULL);
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents_full(path, value, -1, G_FILE_SET_CONTENTS_NONE, 0644, &err))
        benchLog("KSM: cannot write %s: %s", key, err->message);
}


/* ---- the source's XML for the floor ------------------------------------- */

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


/* The source's XML with a new name, no UUID, no MACs, its own log files and
 * each disk on an empty image of its own (@files: to create, then delete). */
static char *
floorXml(const char *srcXml, const char *name, GPtrArray *files, GPtrArray *disks)
{
    xmlDocPtr doc = xmlReadMemory(srcXml, (int)strlen(srcXml), "src.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    xmlXPathContextPtr ctxt;
    xmlXPathObjectPtr o;
    xmlChar *out = NULL;
    int len = 0;
    char *ret;

    if (!doc)
        return NULL;
    ctxt = xmlXPathNewContext(doc);
    o = xpathEval(ctxt, "/domain/name");
    if (xpathCount(o) == 1)
        xmlNodeSetContent(o->nodesetval->nodeTab[0], BAD_CAST name);
    xmlXPathFreeObject(o);
    o = xpathEval(ctxt, "/domain/uuid | /domain/devices/interface/mac | /domain/devices/disk/backingStore");
    for (guint i = 0; i < xpathCount(o); i++) {
        xmlUnlinkNode(o->nodesetval->nodeTab[i]);
        xmlFreeNode(o->nodesetval->nodeTab[i]);
    }
    xmlXPathFreeObject(o);
    o = xpathEval(ctxt, "/domain/devices/disk[@device='disk']/source[@file]");
    for (guint i = 0; i < xpathCount(o); i++) {
        char *path = g_strdup_printf("%s/%s-disk%u.qcow2", tgEnvRoot(env), name, i);

        xmlSetProp(o->nodesetval->nodeTab[i], BAD_CAST "file", BAD_CAST path);
        g_ptr_array_add(disks, g_strdup(path));
        g_ptr_array_add(files, path);
    }
    xmlXPathFreeObject(o);
    o = xpathEval(ctxt, "/domain/devices/disk[@device='disk']/driver");
    for (guint i = 0; i < xpathCount(o); i++)
        xmlSetProp(o->nodesetval->nodeTab[i], BAD_CAST "type", BAD_CAST "qcow2");
    xmlXPathFreeObject(o);
    o = xpathEval(ctxt, "/domain/devices/*/log");
    for (guint i = 0; i < xpathCount(o); i++) {
        char *log = g_strdup_printf("%s/%s-log%u.log", tgEnvRoot(env), name, i);

        xmlSetProp(o->nodesetval->nodeTab[i], BAD_CAST "file", BAD_CAST log);
        g_ptr_array_add(files, log);
    }
    xmlXPathFreeObject(o);
    xmlDocDumpMemory(doc, &out, &len);
    ret = g_strndup((const char *)out, len);
    xmlFree(out);
    xmlXPathFreeContext(ctxt);
    xmlFreeDoc(doc);
    return ret;
}


/* ---- the scenarios ---------------------------------------------------------- */

static void
runTemplate(TgGuest *src, Row *r)
{
    g_autoptr(GPtrArray) doms = g_ptr_array_new();
    g_autofree char *tname = g_strdup_printf("bt-%u-%u", (unsigned)getpid(), ++serial);
    g_autofree char *ramFile = NULL;
    g_autoptr(GArray) resets = g_array_new(FALSE, FALSE, sizeof(double));
    virCloneTemplatePtr tmpl;
    virTypedParameterPtr stats = NULL;
    virTypedParameterPtr info = NULL;
    int nstats = 0;
    int ninfo = 0;
    unsigned long long pause = 0;
    const char *dir = NULL;
    struct stat st;
    double t0;
    double t1;

    t0 = nowS();
    tmpl = virDomainCloneTemplateCreateFull(tgGuestDomain(src), tname, NULL, NULL, NULL,
                                            &stats, &nstats, 0);
    t1 = nowS();
    if (!tmpl) {
        /* the automatic strategy failed: measure the background one, and
         * say so under the table */
        r->tAutoErr = g_strdup(virCloneGetLastErrorMessage());
        benchLog("%s N=%u template (automatic strategy) failed: %s; again with the "
                 "background strategy", modeName(r->mode), r->n, r->tAutoErr);
        t0 = nowS();
        tmpl = virDomainCloneTemplateCreateFull(tgGuestDomain(src), tname, NULL, NULL, NULL,
                                                &stats, &nstats,
                                                VIR_CLONE_TEMPLATE_CREATE_BACKGROUND);
        t1 = nowS();
    }
    if (!tmpl) {
        r->tErr = g_strdup_printf("template: %s", virCloneGetLastErrorMessage());
        return;
    }
    virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, &pause);
    virTypedParamsFree(stats, nstats);
    r->tCreateS = t1 - t0;
    r->tPauseMs = pause / 1000.0;
    if (virCloneTemplateGetInfo(tmpl, &info, &ninfo, 0) == 0 &&
        virTypedParamsGetString(info, ninfo, VIR_CLONE_TEMPLATE_INFO_DIRECTORY, &dir) == 1)
        ramFile = g_build_filename(dir, "ram", NULL);
    virTypedParamsFree(info, ninfo);

    for (guint i = 0; i < r->n; i++) {
        virDomainPtr d = virCloneTemplateCreateDomainFull(tmpl, NULL, NULL, NULL, NULL, NULL, 0);

        if (!d) {
            r->tErr = g_strdup_printf("domain %u from the template: %s", i + 1,
                                      virCloneGetLastErrorMessage());
            goto cleanup;
        }
        g_ptr_array_add(doms, d);
    }
    r->tDomainsS = nowS() - t1;
    if (ramFile && stat(ramFile, &st) == 0)
        r->tRamFileMiB = (double)st.st_blocks * 512.0 / 1048576.0;
    r->tPrivNowMiB = meanPrivateMiB(doms, &r->tRamNowMiB);
    benchLog("%s N=%u template: created in %.2f s (pause %.1f ms), %u domains in %.2f s, "
             "RAM file %.0f MiB, private %.1f MiB/domain",
             modeName(r->mode), r->n, r->tCreateS, r->tPauseMs, r->n, r->tDomainsS,
             r->tRamFileMiB, r->tPrivNowMiB);
    g_usleep((gulong)optSettle * G_USEC_PER_SEC);
    r->tPrivLaterMiB = meanPrivateMiB(doms, &r->tRamLaterMiB);
    benchLog("%s N=%u template: after %d s private %.1f MiB/domain", modeName(r->mode), r->n,
             optSettle, r->tPrivLaterMiB);

    /* reset: the first domain, back to the instant, running */
    for (gint i = 0; i < optResets; i++) {
        double s = nowS();
        double e;

        if (virDomainCloneReset(g_ptr_array_index(doms, 0), 0) < 0) {
            r->tErr = g_strdup_printf("reset: %s", virCloneGetLastErrorMessage());
            goto cleanup;
        }
        e = nowS() - s;
        g_array_append_val(resets, e);
        g_usleep(G_USEC_PER_SEC / 2);
    }
    if (resets->len) {
        g_array_sort(resets, cmpDouble);
        r->resets = resets->len;
        r->resetMinS = g_array_index(resets, double, 0);
        r->resetMedS = g_array_index(resets, double, resets->len / 2);
        benchLog("%s N=%u reset: min %.3f s, median %.3f s", modeName(r->mode), r->n,
                 r->resetMinS, r->resetMedS);
    }
    r->tOk = TRUE;

 cleanup:
    destroyAll(doms);
    if (virCloneTemplateDelete(tmpl, 0) < 0)
        benchLog("template delete: %s", virCloneGetLastErrorMessage());
    virCloneTemplateFree(tmpl);
}


static void
runLive(TgGuest *src, Row *r)
{
    g_autoptr(GPtrArray) doms = g_ptr_array_new();
    double t0 = nowS();

    for (guint i = 0; i < r->n; i++) {
        virTypedParameterPtr stats = NULL;
        int nstats = 0;
        unsigned long long pause = 0;
        virDomainPtr d = virDomainCloneLiveFull(tgGuestDomain(src), NULL, NULL, NULL,
                                                &stats, &nstats, 0);

        if (!d) {
            r->lErr = g_strdup_printf("live clone %u: %s", i + 1, virCloneGetLastErrorMessage());
            goto cleanup;
        }
        g_ptr_array_add(doms, d);
        virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, &pause);
        virTypedParamsFree(stats, nstats);
        r->lPauses++;
        r->lPauseSumMs += pause / 1000.0;
        r->lPauseMaxMs = MAX(r->lPauseMaxMs, pause / 1000.0);
    }
    r->lTotalS = nowS() - t0;
    r->lPrivNowMiB = meanPrivateMiB(doms, &r->lRamNowMiB);
    benchLog("%s N=%u live: %u clones in %.2f s, pauses %.1f ms in all, private %.1f MiB/domain",
             modeName(r->mode), r->n, r->n, r->lTotalS, r->lPauseSumMs, r->lPrivNowMiB);
    g_usleep((gulong)optSettle * G_USEC_PER_SEC);
    r->lPrivLaterMiB = meanPrivateMiB(doms, &r->lRamLaterMiB);
    r->lPrivKsmMiB = -1;
    if (ksmAvailable) {
        g_autofree char *run = ksmRead("run");
        g_autofree char *pages = ksmRead("pages_to_scan");
        g_autofree char *sleepMs = ksmRead("sleep_millisecs");
        g_autofree char *p = g_strdup_printf("%d", optKsmPages);
        g_autofree char *s = g_strdup_printf("%d", optKsmSleep);
        g_autofree char *sharing = NULL;

        ksmWrite("pages_to_scan", p);
        ksmWrite("sleep_millisecs", s);
        ksmWrite("run", "1");
        g_usleep((gulong)optKsmSettle * G_USEC_PER_SEC);
        r->lPrivKsmMiB = meanPrivateMiB(doms, &r->lRamKsmMiB);
        sharing = ksmRead("pages_sharing");
        r->ksmSharing = sharing ? g_ascii_strtoull(sharing, NULL, 10) : 0;
        /* run=2 would unmerge everything: stop, as it was */
        if (pages)
            ksmWrite("pages_to_scan", pages);
        if (sleepMs)
            ksmWrite("sleep_millisecs", sleepMs);
        ksmWrite("run", run ? run : "0");
        benchLog("%s N=%u live+KSM: private %.1f MiB/domain after %d s, pages_sharing %"
                 G_GUINT64_FORMAT, modeName(r->mode), r->n, r->lPrivKsmMiB, optKsmSettle,
                 r->ksmSharing);
    }
    r->lOk = TRUE;

 cleanup:
    destroyAll(doms);
}


static void
runFloor(TgGuest *src, Row *r)
{
    g_autoptr(GPtrArray) doms = g_ptr_array_new();
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *srcXml = virDomainGetXMLDesc(tgGuestDomain(src), VIR_DOMAIN_XML_SECURE |
                                                                      VIR_DOMAIN_XML_MIGRATABLE);
    virDomainBlockInfo binfo;
    g_autofree char *cap = NULL;
    GPtrArray *xmls = g_ptr_array_new_with_free_func(g_free);
    double t0;

    if (!srcXml || virDomainGetBlockInfo(tgGuestDomain(src), "vda", &binfo, 0) < 0) {
        r->fErr = g_strdup_printf("source XML: %s", virGetLastErrorMessage());
        goto cleanup;
    }
    cap = g_strdup_printf("%llu", binfo.capacity);
    /* the XML and the empty disks first: not part of the time */
    for (guint i = 0; i < r->n; i++) {
        g_autofree char *name = g_strdup_printf("%s-floor%u", tgGuestName(src), ++serial);
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func(g_free);
        char *xml = floorXml(srcXml, name, files, disks);

        if (!xml) {
            r->fErr = g_strdup("cannot parse the source's XML");
            goto cleanup;
        }
        g_ptr_array_add(xmls, xml);
        for (guint j = 0; j < disks->len; j++) {
            const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2",
                                   g_ptr_array_index(disks, j), cap, NULL };
            g_autoptr(GError) err = NULL;
            gint status = 0;

            if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                              NULL, NULL, &status, &err) ||
                !g_spawn_check_wait_status(status, &err)) {
                r->fErr = g_strdup_printf("qemu-img: %s", err->message);
                goto cleanup;
            }
        }
    }
    t0 = nowS();
    for (guint i = 0; i < r->n; i++) {
        virDomainPtr d = virDomainCreateXML(tgEnvConn(env), g_ptr_array_index(xmls, i),
                                            VIR_DOMAIN_START_PAUSED);

        if (!d) {
            r->fErr = g_strdup_printf("start %u: %s", i + 1, virGetLastErrorMessage());
            goto cleanup;
        }
        g_ptr_array_add(doms, d);
    }
    r->fTotalS = nowS() - t0;
    benchLog("%s N=%u floor: %u QEMUs (paused) in %.2f s", modeName(r->mode), r->n, r->n,
             r->fTotalS);
    r->fOk = TRUE;

 cleanup:
    destroyAll(doms);
    for (guint i = 0; i < files->len; i++)
        g_unlink(g_ptr_array_index(files, i));
    g_ptr_array_free(xmls, TRUE);
}


static void
runSave(TgGuest *src, Row *r)
{
    g_autofree char *file = g_strdup_printf("%s/bench-save-%u.img", tgEnvRoot(env), ++serial);
    g_autofree char *name = NULL;
    virDomainPtr clone = virDomainCloneLive(tgGuestDomain(src), NULL, 0);
    double t0;

    if (!clone) {
        r->sErr = g_strdup_printf("live clone to save: %s", virCloneGetLastErrorMessage());
        return;
    }
    name = g_strdup(virDomainGetName(clone));
    t0 = nowS();
    if (virDomainSave(clone, file) < 0) {
        r->sErr = g_strdup_printf("save: %s", virGetLastErrorMessage());
        virDomainDestroy(clone);
        virDomainFree(clone);
        g_unlink(file);
        return;
    }
    r->sSaveS = nowS() - t0;
    virDomainFree(clone);
    for (guint i = 0; i < r->n; i++) {
        virDomainPtr d;

        t0 = nowS();
        if (virDomainRestore(tgEnvConn(env), file) < 0) {
            r->sErr = g_strdup_printf("restore %u: %s", i + 1, virGetLastErrorMessage());
            break;
        }
        r->sRestoreS += nowS() - t0;
        if (i == 0)
            r->sPrivMiB = privateMiB(name, &r->sRamMiB);
        if ((d = virDomainLookupByName(tgEnvConn(env), name))) {
            virDomainDestroy(d);
            virDomainFree(d);
        }
    }
    g_unlink(file);
    if (!r->sErr) {
        r->sOk = TRUE;
        benchLog("%s N=%u save+restore: save %.2f s, %u restores %.2f s, private %.1f MiB",
                 modeName(r->mode), r->n, r->sSaveS, r->n, r->sRestoreS, r->sPrivMiB);
    }
}


/* ---- the table --------------------------------------------------------------- */

static void
cellTime(GString *out, gboolean ok, const char *err, double totalS, guint n)
{
    if (!ok)
        g_string_append_printf(out, " failed: %s |", err ? err : "?");
    else
        g_string_append_printf(out, " %.2f s (%.2f s/domain) |", totalS, totalS / n);
}


static void
printTable(GPtrArray *rows, GString *out, guint memMiB)
{
    g_string_append_printf(out,
        "| workload | N | method | time to N domains (from the call) | source pauses | "
        "private/domain at once (of which in the guest's RAM mapping) | private/domain after %d s | + template RAM file / N | "
        "reset min / median |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", optSettle);
    for (guint i = 0; i < rows->len; i++) {
        Row *r = g_ptr_array_index(rows, i);
        const char *m = modeName(r->mode);

        g_string_append_printf(out, "| %s | %u | template (creation + N domains)%s |", m, r->n,
                               r->tAutoErr ? " [background strategy¹]" : "");
        if (r->tOk) {
            double tot = r->tCreateS + r->tDomainsS;

            g_string_append_printf(out, " %.2f s = %.2f + %.2f (%.2f s/domain) | 1: %.1f ms |"
                                   " %.1f MiB (%.1f%%; RAM %.1f) | %.1f MiB (%.1f%%; RAM %.1f) | %.1f MiB"
                                   " (= %.1f MiB/domain in all) | %.3f / %.3f s (%u runs) |\n",
                                   tot, r->tCreateS, r->tDomainsS, r->tDomainsS / r->n,
                                   r->tPauseMs, r->tPrivNowMiB, 100.0 * r->tPrivNowMiB / memMiB,
                                   r->tRamNowMiB,
                                   r->tPrivLaterMiB, 100.0 * r->tPrivLaterMiB / memMiB,
                                   r->tRamLaterMiB,
                                   r->tRamFileMiB / r->n, r->tPrivLaterMiB + r->tRamFileMiB / r->n,
                                   r->resetMinS, r->resetMedS, r->resets);
        } else {
            g_string_append_printf(out, " failed: %s | | | | | |\n", r->tErr ? r->tErr : "?");
        }

        g_string_append_printf(out, "| %s | %u | live clones (full copies) |", m, r->n);
        cellTime(out, r->lOk, r->lErr, r->lTotalS, r->n);
        if (r->lOk) {
            g_string_append_printf(out, " %u: %.1f ms in all, max %.1f |"
                                   " %.1f MiB (%.1f%%; RAM %.1f) | %.1f MiB (%.1f%%; RAM %.1f) | none | |\n",
                                   r->lPauses, r->lPauseSumMs, r->lPauseMaxMs,
                                   r->lPrivNowMiB, 100.0 * r->lPrivNowMiB / memMiB, r->lRamNowMiB,
                                   r->lPrivLaterMiB, 100.0 * r->lPrivLaterMiB / memMiB, r->lRamLaterMiB);
            if (r->lPrivKsmMiB >= 0)
                g_string_append_printf(out, "| %s | %u | the same live clones + KSM, after %d s more"
                                       " | | | | %.1f MiB (%.1f%%; RAM %.1f); pages_sharing %" G_GUINT64_FORMAT
                                       " | none | |\n", m, r->n, optKsmSettle, r->lPrivKsmMiB,
                                       100.0 * r->lPrivKsmMiB / memMiB, r->lRamKsmMiB, r->ksmSharing);
            else
                g_string_append_printf(out, "| %s | %u | full clones + KSM | KSM not available on this"
                                       " kernel (no %s) | | | | | |\n", m, r->n, KSM_DIR);
        } else {
            g_string_append(out, " | | | | |\n");
        }

        g_string_append_printf(out, "| %s | %u | floor: N × virDomainCreateXML, paused, no migration |",
                               m, r->n);
        cellTime(out, r->fOk, r->fErr, r->fTotalS, r->n);
        g_string_append(out, " 0 | | | | |\n");

        g_string_append_printf(out, "| %s | %u | save of 1 clone + N × restore, one after the other |",
                               m, r->n);
        if (r->sOk)
            g_string_append_printf(out, " %.2f s = %.2f + %.2f (%.2f s/restore) | (of the clone) |"
                                   " %.1f MiB (%.1f%%; RAM %.1f) | | | |\n",
                                   r->sSaveS + r->sRestoreS, r->sSaveS, r->sRestoreS,
                                   r->sRestoreS / r->n, r->sPrivMiB, 100.0 * r->sPrivMiB / memMiB,
                                   r->sRamMiB);
        else
            g_string_append_printf(out, " failed: %s | | | | | |\n", r->sErr ? r->sErr : "?");
    }
}


static void
verdict(GString *out, const char *target, int ok, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void
verdict(GString *out, const char *target, int ok, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *detail = NULL;

    va_start(ap, fmt);
    detail = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_string_append_printf(out, "| %s | %s | %s |\n", target,
                           ok < 0 ? "not measured" : ok == 2 ? "**missed** (estimate)" :
                           ok ? "**met**" : "**missed**", detail);
}


static void
printTargets(GPtrArray *rows, GString *out, guint memMiB)
{
    Row *big = NULL;

    g_string_append(out, "\n| target (issue 12) | verdict | numbers |\n| --- | --- | --- |\n");
    for (guint i = 0; i < rows->len; i++) {
        Row *r = g_ptr_array_index(rows, i);

        if (r->tOk && (!big || r->n > big->n || (r->n == big->n && r->mode == TG_MODE_BUSY)))
            big = r;
    }
    if (big) {
        double tot = big->tCreateS + big->tDomainsS;

        if (big->n >= 16)
            verdict(out, "16 domains of 512 MiB ≤ 10 s from the call", tot <= 10.0,
                    "%s N=%u: %.2f s", modeName(big->mode), big->n, tot);
        else {
            double est = big->tCreateS + 16.0 * big->tDomainsS / big->n;

            verdict(out, "16 domains of 512 MiB ≤ 10 s from the call", est <= 10.0 ? -1 : 2,
                    "N=16 not run; %s N=%u: %.2f s, so 16 ≈ %.2f + 16 × %.2f = %.1f s",
                    modeName(big->mode), big->n, tot, big->tCreateS, big->tDomainsS / big->n, est);
        }
    }
    for (guint i = 0; i < rows->len; i++) {
        Row *r = g_ptr_array_index(rows, i);
        g_autofree char *label = g_strdup_printf("%s N=%u", modeName(r->mode), r->n);

        if (!r->tOk)
            continue;
        if (r->fOk) {
            double per = r->tDomainsS / r->n;
            double fl = r->fTotalS / r->n;

            verdict(out, "per domain ≤ 1.3 × the floor", per <= 1.3 * fl,
                    "%s: %.3f s vs %.3f s = %.2f×", label, per, fl, per / fl);
        }
        if (r->mode == TG_MODE_IDLE)
            verdict(out, "idle domain's private memory ≤ 5% of its RAM",
                    r->tPrivLaterMiB <= 0.05 * memMiB,
                    "%s: %.1f MiB = %.1f%% of %u MiB after %d s (%.1f%% at once); of it in "
                    "the guest's RAM mapping %.1f MiB = %.1f%%, the rest QEMU's own", label,
                    r->tPrivLaterMiB, 100.0 * r->tPrivLaterMiB / memMiB, memMiB, optSettle,
                    100.0 * r->tPrivNowMiB / memMiB, r->tRamLaterMiB,
                    100.0 * r->tRamLaterMiB / memMiB);
        if (r->lOk)
            verdict(out, "one source pause per template, ≤ a live clone's",
                    r->tPauseMs <= r->lPauseMaxMs,
                    "%s: 1 pause of %.1f ms; live clones: %u pauses, %.1f ms each on average, max %.1f",
                    label, r->tPauseMs, r->lPauses, r->lPauseSumMs / MAX(r->lPauses, 1),
                    r->lPauseMaxMs);
        if (r->resets)
            verdict(out, "reset ≤ 1 s", r->resetMedS <= 1.0, "%s: median %.3f s, min %.3f s (%u runs)",
                    label, r->resetMedS, r->resetMinS, r->resets);
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


static char *loadStart;

static void
printMachine(GString *out, double elapsedS)
{
    unsigned long lib = 0;
    unsigned long hv = 0;
    g_autofree char *cpu = benchCpuModel();
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *date = g_date_time_format(now, "%Y-%m-%d %H:%M UTC");
    struct utsname un;
    const char *accel = tgEnvAccel(env);

    virConnectGetLibVersion(tgEnvConn(env), &lib);
    virConnectGetVersion(tgEnvConn(env), &hv);
    if (uname(&un) < 0)
        memset(&un, 0, sizeof(un));
    g_string_append_printf(out,
        "\nmachine: %s, %d cores, %.1f GiB RAM, accelerator %s (%s), kernel %s, "
        "libvirt %lu.%lu.%lu, QEMU %lu.%lu.%lu; %s; run took %d min %02d s\n",
        cpu, g_get_num_processors(), memTotalGiB(),
        g_str_equal(accel, "qemu") ? "TCG" : accel, accel, un.release,
        lib / 1000000, lib / 1000 % 1000, lib % 1000, hv / 1000000, hv / 1000 % 1000, hv % 1000,
        date, (int)(elapsedS / 60), (int)elapsedS % 60);
    {
        g_autofree char *load = loadAvg();

        g_string_append_printf(out, "shared machine: up to %u QEMU processes of other users ran "
                               "during the run (sampled between measurements); load average at "
                               "the start %s, at the end %s%s.\n", othersMax, loadStart, load,
                               optWaitQuiet ? "; run.sh waited for a quiet machine first" : "");
    }
    if (ksmAvailable)
        g_string_append_printf(out, "KSM: run=1, pages_to_scan=%d, sleep_millisecs=%d for %d s, "
                               "then its settings restored.\n", optKsmPages, optKsmSleep,
                               optKsmSettle);
    else
        g_string_append_printf(out, "KSM: not available on this kernel (no %s).\n", KSM_DIR);
}


int
main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- domains from a template against the alternatives");
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) rows = g_ptr_array_new();
    g_auto(GStrv) counts = NULL;
    g_auto(GStrv) modes = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    const guint memMiB = 512;
    double t0 = nowS();

    g_option_context_add_main_entries(ctx, optEntries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        g_printerr("%s\n", err->message);
        return 2;
    }
    benchLogStart();
    loadStart = loadAvg();
    benchLogVerbose = optVerbose;
    counts = g_strsplit(optCounts ? optCounts : "1,4,16", ",", -1);
    modes = g_strsplit(optModes ? optModes : "idle,busy", ",", -1);
    ksmAvailable = g_file_test(KSM_DIR "/run", G_FILE_TEST_EXISTS);
    virSetErrorFunc(NULL, benchSilence);
    virCloneSetLogFunc(benchLibLog, NULL);
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }

    for (guint mi = 0; modes[mi]; mi++) {
        TgMode mode = g_str_equal(modes[mi], "idle") ? TG_MODE_IDLE : TG_MODE_BUSY;
        TgGuestOpts opts = { .name_prefix = "btsrc", .memory_mib = memMiB, .mode = mode,
                             .with_genid = TRUE };
        g_autoptr(TgGuest) src = NULL;

        benchLog("booting the %s source (%u MiB)", modes[mi], memMiB);
        if (!(src = tgGuestStart(env, &opts, &err))) {
            g_printerr("cannot boot the source: %s\n", err->message);
            tgEnvFree(env);
            return 1;
        }
        for (guint ci = 0; counts[ci]; ci++) {
            Row *r = g_new0(Row, 1);

            r->mode = mode;
            r->n = (guint)g_ascii_strtoull(counts[ci], NULL, 10);
            if (r->n == 0)
                r->n = 1;
            g_ptr_array_add(rows, r);
            othersSample();
            runTemplate(src, r);
            othersSample();
            runLive(src, r);
            othersSample();
            runFloor(src, r);
            othersSample();
            runSave(src, r);
            othersSample();
        }
    }

    g_string_append_printf(out, "Domains of a %u MiB test guest from a template, against the "
                           "alternatives (bench/bench-template)\n\n", memMiB);
    printTable(rows, out, memMiB);
    for (guint i = 0; i < rows->len; i++) {
        Row *r = g_ptr_array_index(rows, i);

        if (r->tAutoErr) {
            g_string_append_printf(out, "\n¹ the template with the automatic strategy failed (%s), "
                                   "so the row is of VIR_CLONE_TEMPLATE_CREATE_BACKGROUND; "
                                   "the first failure: %s\n", modeName(r->mode), r->tAutoErr);
            break;
        }
    }
    printTargets(rows, out, memMiB);
    printMachine(out, nowS() - t0);
    fputs(out->str, stdout);
    tgEnvFree(env);
    return 0;
}
