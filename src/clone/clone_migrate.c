/*
 * clone_migrate.c: moving the source's memory and device state into the clone
 *
 * The clone's QEMU was started by libvirt with "-incoming defer".  The two
 * QEMUs talk over a socketpair made here and handed to each of them with
 * QMP getfd: no path on the file system, so nobody else can reach it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_job.h"
#include "clone_disk.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLONE_FD_OUT "libvirt-clone-out"
#define CLONE_FD_IN "libvirt-clone-in"
/* "unlimited": QEMU's default max-bandwidth is 128 MiB/s */
#define CLONE_BANDWIDTH_UNLIMITED (G_GUINT64_CONSTANT(1) << 40)

typedef int (*cloneWaitHook)(cloneJob *job, virDomainPtr dom, const cloneMigInfo *info);

static guint
clonePollInterval(cloneJob *job, cloneMigMon *mon)
{
    /* While we hold the source paused (background snapshot) nothing but
     * polling tells when it may run again: poll tightly.  Otherwise, with
     * events the wait ends as soon as QEMU reports and the poll is only a
     * safety net; without them polling is all there is. */
    if (job->srcPausedByUs)
        return 1;
    return cloneMigMonHasEvents(mon) ? 50 : 2;
}


static guint
clonePercent(const cloneMigInfo *info)
{
    if (info->status == CLONE_MIG_STATUS_COMPLETED)
        return 100;
    if (info->total == 0)
        return 0;
    return (guint)MIN(99, (info->total - MIN(info->remaining, info->total)) * 100 / info->total);
}


static gboolean
cloneStatusIn(int status, unsigned int set)
{
    return status >= 0 && (set & CLONE_MIG_STATUS_BIT(status)) != 0;
}


/**
 * cloneWaitStatus:
 *
 * Waits until the migration of @dom reaches a status of the set @want
 * (CLONE_MIG_STATUS_BIT).  A failed or cancelled migration is an error;
 * @hook may end the wait early.
 */
static int
cloneWaitStatus(cloneJob *job, virDomainPtr dom, cloneMigMon *mon,
                unsigned int want, cloneWaitHook hook, gint64 deadline)
{
    guint seen = 0;

    for (;;) {
        g_auto(cloneMigInfo) info = { 0 };
        int rc;

        if (cloneStatusIn(cloneMigMonStatus(mon), want))
            return 0;
        if (cloneMigInfoQuery(dom, &info) < 0)
            return -1;
        if (cloneStatusIn(info.status, want))
            return 0;
        if (info.status == CLONE_MIG_STATUS_FAILED || info.status == CLONE_MIG_STATUS_CANCELLED) {
            virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                                _("copying the memory of '%1$s' failed: %2$s"),
                                virDomainGetName(job->src),
                                info.errorDesc ? info.errorDesc : info.statusName);
            return -1;
        }
        /* pre-copy: the end of the copy after the switch-over belongs to
         * that phase; background: the copy comes after the switch-over */
        if (dom == job->src &&
            (job->strategy == CLONE_STRATEGY_BACKGROUND ||
             job->lastPhase <= VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM))
            cloneJobProgress(job, VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM, clonePercent(&info));
        if (hook && (rc = hook(job, dom, &info)) != 0)
            return rc;
        if (g_get_monotonic_time() > deadline) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("copying the memory of '%1$s' did not finish in %2$u s (state '%3$s')"),
                                virDomainGetName(job->src), job->policy->timeoutS, info.statusName);
            return -1;
        }
        seen = cloneMigMonWait(mon, seen, clonePollInterval(job, mon));
    }
}


static gint64
cloneDeadline(cloneJob *job)
{
    return job->tStart + (gint64)job->policy->timeoutS * G_USEC_PER_SEC;
}


static JsonObject *
cloneCaps(gboolean returnPath, gboolean pauseBeforeSwitchover, gboolean background)
{
    JsonObject *caps = json_object_new();

    json_object_set_boolean_member(caps, "events", TRUE);
    json_object_set_boolean_member(caps, "return-path", returnPath);
    json_object_set_boolean_member(caps, "pause-before-switchover", pauseBeforeSwitchover);
    json_object_set_boolean_member(caps, "background-snapshot", background);
    return caps;
}


static JsonObject *
cloneSourceParams(cloneJob *job, gboolean precopy)
{
    JsonObject *params = json_object_new();
    guint64 bw = job->policy->bandwidthMiBs ? job->policy->bandwidthMiBs << 20
                                            : CLONE_BANDWIDTH_UNLIMITED;

    json_object_set_int_member(params, "max-bandwidth", (gint64)bw);
    if (precopy)
        json_object_set_int_member(params, "downtime-limit", job->policy->downtimeLimitMs);
    return params;
}


static int
cloneGetFd(virDomainPtr dom, const char *name, int fd)
{
    g_autoptr(JsonObject) args = json_object_new();

    json_object_set_string_member(args, "fdname", name);
    return cloneQmpRunWithFd(dom, "getfd", args, fd);
}


static int
cloneMigrateCmd(virDomainPtr dom, const char *cmd, const char *fdname)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autofree char *uri = g_strdup_printf("fd:%s", fdname);

    json_object_set_string_member(args, "uri", uri);
    return cloneQmpRun(dom, cmd, args, NULL);
}


/* The clone listens: its capabilities must match the source's. */
static int
cloneIncomingStart(cloneJob *job, JsonObject *caps, int fd)
{
    g_autoptr(JsonObject) clonecaps = json_object_new();
    g_autoptr(JsonObject) params = json_object_new();

    json_object_set_boolean_member(clonecaps, "events", TRUE);
    json_object_set_boolean_member(clonecaps, "return-path",
                                   json_object_get_boolean_member(caps, "return-path"));
    /* the clone must not announce the source's MAC addresses */
    json_object_set_int_member(params, "announce-rounds", 0);
    if (cloneMigSettingsApply(job->clone, clonecaps, params) < 0 ||
        cloneGetFd(job->clone, CLONE_FD_IN, fd) < 0 ||
        cloneMigrateCmd(job->clone, "migrate-incoming", CLONE_FD_IN) < 0)
        return -1;
    return 0;
}


/* Sets up both QEMUs: the clone listens, the source has its settings and
 * the socket.  Only the "migrate" command remains (cloneMigrationGo), so
 * that a strategy that pauses the source first keeps all of this out of the
 * pause. */
static int
cloneMigrationPrepare(cloneJob *job, JsonObject *caps, JsonObject *params)
{
    int sv[2] = { -1, -1 };
    int ret = -1;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        virCloneReportSystemError(errno, "%s", _("cannot create the migration socket pair"));
        return -1;
    }
    if (cloneIncomingStart(job, caps, sv[1]) < 0)
        goto cleanup;

    g_clear_pointer(&job->srcSaved, cloneMigSettingsFree);
    if (!(job->srcSaved = cloneMigSettingsQuery(job->src)))
        goto cleanup;
    g_clear_pointer(&job->srcCaps, json_object_unref);
    g_clear_pointer(&job->srcParams, json_object_unref);
    job->srcCaps = json_object_ref(caps);
    job->srcParams = json_object_ref(params);
    /* the record keeps the source's settings before they change */
    if (cloneJobSave(job) < 0 ||
        cloneMigSettingsApply(job->src, caps, params) < 0 ||
        cloneGetFd(job->src, CLONE_FD_OUT, sv[0]) < 0)
        goto cleanup;
    ret = 0;

 cleanup:
    close(sv[0]);
    close(sv[1]);
    return ret;
}


static int
cloneMigrationGo(cloneJob *job)
{
    job->migrationStarted = TRUE;
    if (cloneJobSave(job) < 0 || cloneMigrateCmd(job->src, "migrate", CLONE_FD_OUT) < 0)
        return -1;
    return 0;
}


/* automatic choice: give up pre-copy when it does not converge */
static int
clonePrecopyHook(cloneJob *job, virDomainPtr dom G_GNUC_UNUSED, const cloneMigInfo *info)
{
    job->passes = info->passes;
    if (job->strategyForced || info->status != CLONE_MIG_STATUS_ACTIVE)
        return 0;
    if (info->passes > job->policy->autoMaxPasses) {
        CLONE_INFO("pre-copy of '%s' made %" G_GUINT64_FORMAT " passes without converging "
                   "(expected downtime %" G_GINT64_FORMAT " ms > limit %u ms): "
                   "switching to the background strategy",
                   virDomainGetName(job->src), info->passes - 1, info->expectedDowntime,
                   job->policy->downtimeLimitMs);
        return CLONE_PHASE_RETRY_BACKGROUND;
    }
    return 0;
}


static int
cloneForkDisks(cloneJob *job)
{
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *snapName = g_strdup_printf("libvirt-clone-%s", job->stamp);

    cloneJobProgress(job, VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER, 100);
    /* whether it happened is asked of libvirt on rollback (clone_disk.c) */
    job->forkAttempted = TRUE;
    if (cloneJobSave(job) < 0 || cloneDiskFork(job->src, job->plan, snapName) < 0)
        return -1;
    job->disksForked = TRUE;
    job->diskForkUs = g_get_monotonic_time() - t0;
    return 0;
}


/**
 * cloneTransferPrecopy:
 *
 * Pre-copy with pause-before-switchover: QEMU pauses the source once the
 * remaining RAM fits the downtime limit and waits; the disks are forked
 * then, and the migration continues to completion.
 */
int
cloneTransferPrecopy(cloneJob *job)
{
    g_autoptr(JsonObject) caps = cloneCaps(TRUE, TRUE, FALSE);
    g_autoptr(JsonObject) params = cloneSourceParams(job, TRUE);
    g_autoptr(JsonObject) cont = json_object_new();
    int rc;

    cloneMigMonReset(job->srcMon);
    if (cloneMigrationPrepare(job, caps, params) < 0 || cloneMigrationGo(job) < 0)
        return -1;
    cloneJobProgress(job, VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM, 0);
    rc = cloneWaitStatus(job, job->src, job->srcMon,
                         CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_PRE_SWITCHOVER),
                         clonePrecopyHook, cloneDeadline(job));
    if (rc != 0)
        return rc;
    if (cloneFaultPoint("precopy:pre-switchover") < 0 || cloneForkDisks(job) < 0 ||
        cloneFaultPoint("precopy:forked") < 0)
        return -1;
    json_object_set_string_member(cont, "state", "pre-switchover");
    if (cloneQmpRun(job->src, "migrate-continue", cont, NULL) < 0)
        return -1;
    return cloneWaitStatus(job, job->src, job->srcMon, CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_COMPLETED),
                           NULL, cloneDeadline(job));
}


/* The source's pause as QEMU stamped it (STOP and RESUME events), once
 * it runs again: whoever resumed it, the library or QEMU 7.2 itself. */
static void
cloneSourceRecordPause(cloneJob *job)
{
    gint64 stopUs = 0;
    gint64 resumeUs = 0;
    gint64 end = g_get_monotonic_time() + 200 * G_TIME_SPAN_MILLISECOND;

    while (cloneMigMonHasEvents(job->srcMon) && g_get_monotonic_time() < end) {
        cloneMigMonPauseTimes(job->srcMon, &stopUs, &resumeUs);
        if (stopUs && resumeUs >= stopUs)
            break;
        g_usleep(500);
    }
    cloneMigMonPauseTimes(job->srcMon, &stopUs, &resumeUs);
    if (stopUs && resumeUs >= stopUs)
        job->pauseUs = resumeUs - stopUs;
}


/* Background snapshot: QEMU resumes the guest by itself once the device
 * state is saved and RAM is write-protected, but only if it was running
 * when the snapshot began (QEMU >= 8); ours was paused for the disk fork,
 * so resume it as soon as RAM pages flow, which happens strictly after. */
static int
cloneBackgroundHook(cloneJob *job, virDomainPtr dom G_GNUC_UNUSED, const cloneMigInfo *info)
{
    int state = VIR_DOMAIN_NOSTATE;

    if (!job->srcPausedByUs)
        return 0;
    if (info->pagesSent == 0 && info->status != CLONE_MIG_STATUS_COMPLETED)
        return 0;
    if (virDomainGetState(job->src, &state, NULL, 0) == 0 && state == VIR_DOMAIN_RUNNING) {
        job->srcPausedByUs = FALSE;   /* QEMU 7.2 restarts it by itself */
        cloneSourceRecordPause(job);
        return 0;
    }
    return cloneSourceResume(job);
}


int
cloneTransferBackground(cloneJob *job)
{
    g_autoptr(JsonObject) caps = cloneCaps(FALSE, FALSE, TRUE);
    g_autoptr(JsonObject) params = cloneSourceParams(job, FALSE);

    if (cloneMigrationPrepare(job, caps, params) < 0)
        return -1;
    cloneMigMonReset(job->srcMon);
    if (job->srcWasRunning) {
        /* the record first: a death right after the pause resumes it */
        job->srcPausedByUs = TRUE;
        if (cloneJobSave(job) < 0)
            return -1;
        if (virDomainSuspend(job->src) < 0) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                       _("cannot pause domain '%1$s'"), virDomainGetName(job->src));
            return -1;
        }
    }
    if (cloneFaultPoint("background:paused") < 0 || cloneForkDisks(job) < 0 ||
        cloneFaultPoint("background:forked") < 0 || cloneMigrationGo(job) < 0 ||
        cloneFaultPoint("background:started") < 0)
        return -1;
    cloneJobProgress(job, VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM, 0);
    if (cloneWaitStatus(job, job->src, job->srcMon, CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_COMPLETED),
                        cloneBackgroundHook, cloneDeadline(job)) < 0)
        return -1;
    return cloneBackgroundHook(job, job->src, &(cloneMigInfo){ .status = CLONE_MIG_STATUS_COMPLETED });
}


/* Resumes the source and records its pause as QEMU stamped it. */
int
cloneSourceResume(cloneJob *job)
{
    gint64 end;

    /* QEMU reports 'completed' a moment before it leaves the migration's
     * finishing state, and refuses 'cont' until then ("Migration is not
     * finalized yet"): retry for a short, bounded while */
    end = g_get_monotonic_time() + 500 * G_TIME_SPAN_MILLISECOND;
    while (virDomainResume(job->src) < 0) {
        if (g_get_monotonic_time() > end) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                       _("cannot resume domain '%1$s'"), virDomainGetName(job->src));
            return -1;
        }
        g_usleep(G_TIME_SPAN_MILLISECOND);
    }
    virResetLastError();
    job->srcPausedByUs = FALSE;
    cloneSourceRecordPause(job);
    return 0;
}


void
cloneSourceRestoreSettings(cloneJob *job)
{
    if (!job->srcSaved)
        return;
    if (cloneMigSettingsRestore(job->src, job->srcSaved, job->srcCaps, job->srcParams) < 0)
        CLONE_WARN("cannot restore the migration settings of '%s': %s",
                   virDomainGetName(job->src), virCloneGetLastErrorMessage());
    g_clear_pointer(&job->srcSaved, cloneMigSettingsFree);
}


/* Rollback of the transfer: cancel, make sure the source runs, restore its
 * settings.  Errors here are logged; the first error is what the caller
 * sees. */
void
cloneTransferAbort(cloneJob *job)
{
    int state = VIR_DOMAIN_NOSTATE;

    if (!job->src)
        return;   /* a recovered job whose source is gone */
    if (job->migrationStarted) {
        g_auto(cloneMigInfo) info = { 0 };

        if (cloneMigInfoQuery(job->src, &info) == 0 &&
            !cloneStatusIn(info.status, CLONE_MIG_STATUS_ENDED)) {
            cloneQmpRun(job->src, "migrate_cancel", NULL, NULL);
            cloneWaitStatus(job, job->src, job->srcMon, CLONE_MIG_STATUS_ENDED, NULL,
                            g_get_monotonic_time() + 30 * G_USEC_PER_SEC);
        }
        job->migrationStarted = FALSE;
    }
    if (virDomainGetState(job->src, &state, NULL, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
        job->srcWasRunning) {
        if (virDomainResume(job->src) < 0)
            CLONE_WARN("cannot resume '%s' after a failed clone: %s",
                       virDomainGetName(job->src), virGetLastErrorMessage());
        job->srcPausedByUs = FALSE;
    }
    cloneSourceRestoreSettings(job);
}


int
cloneTransferWaitClone(cloneJob *job)
{

    return cloneWaitStatus(job, job->clone, job->cloneMon,
                           CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_COMPLETED), NULL, cloneDeadline(job));
}
