/*
 * clone_migrate.c: moving the source's memory and device state into the clone
 *
 * The clone's QEMU was started by libvirt with "-incoming defer".  The two
 * QEMUs talk over a socketpair made here and handed to each of them with
 * QMP getfd: no path on the file system, so nobody else can reach it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_migrate.h"
#include "clone_jobrec.h"
#include "clone_strategy.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLONE_FD_OUT "libvirt-clone-out"
#define CLONE_FD_IN "libvirt-clone-in"
/* "unlimited": QEMU's default max-bandwidth is 128 MiB/s */
#define CLONE_BANDWIDTH_UNLIMITED (G_GUINT64_CONSTANT(1) << 40)

typedef int (*cloneWaitHook)(cloneMigJob *mig, virDomainPtr dom, const cloneMigInfo *info);

static int cloneSourceResume(cloneMigJob *mig);

static guint
clonePollInterval(cloneMigJob *mig, cloneMigMon *mon)
{
    /* While we hold the source paused (background snapshot) nothing but
     * polling tells when it may run again: poll tightly.  Otherwise, with
     * events the wait ends as soon as QEMU reports and the poll is only a
     * safety net; without them polling is all there is. */
    if (mig->srcPausedByUs)
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
cloneWaitStatus(cloneMigJob *mig, virDomainPtr dom, cloneMigMon *mon,
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
                                virDomainGetName(mig->src ? mig->src : dom),
                                info.errorDesc ? info.errorDesc : info.statusName);
            return -1;
        }
        if (dom == mig->src)
            mig->progress(clonePercent(&info), mig->opaque);
        if (hook && (rc = hook(mig, dom, &info)) != 0)
            return rc;
        if (g_get_monotonic_time() > deadline) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("copying the memory of '%1$s' did not finish in %2$u s (state '%3$s')"),
                                virDomainGetName(mig->src), mig->policy->timeoutS, info.statusName);
            return -1;
        }
        seen = cloneMigMonWait(mon, seen, clonePollInterval(mig, mon));
    }
}


cloneMigJob *
cloneMigJobNew(virDomainPtr src, const clonePolicy *policy, gint64 deadline,
               cloneMigProgressFunc progress, cloneMigSaveFunc save, void *opaque)
{
    cloneMigJob *mig = g_new0(cloneMigJob, 1);

    mig->src = src;
    mig->policy = policy;
    mig->deadline = deadline;
    mig->progress = progress;
    mig->save = save;
    mig->opaque = opaque;
    return mig;
}


void
cloneMigJobWatchSource(cloneMigJob *mig)
{
    if (mig->src && !mig->srcMon)
        mig->srcMon = cloneMigMonNew(mig->src);
}


void
cloneMigJobFree(cloneMigJob *mig)
{
    if (!mig)
        return;
    g_clear_pointer(&mig->srcMon, cloneMigMonFree);
    g_clear_pointer(&mig->cloneMon, cloneMigMonFree);
    g_clear_pointer(&mig->srcSaved, cloneMigSettingsFree);
    g_clear_pointer(&mig->srcCaps, json_object_unref);
    g_clear_pointer(&mig->srcParams, json_object_unref);
    g_free(mig);
}


void
cloneMigJobSetClone(cloneMigJob *mig, virDomainPtr clone)
{
    g_clear_pointer(&mig->cloneMon, cloneMigMonFree);
    mig->clone = clone;
    if (clone)
        mig->cloneMon = cloneMigMonNew(clone);
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
cloneSourceParams(cloneMigJob *mig, gboolean precopy)
{
    JsonObject *params = json_object_new();
    guint64 bw = mig->policy->bandwidthMiBs ? mig->policy->bandwidthMiBs << 20
                                            : CLONE_BANDWIDTH_UNLIMITED;

    json_object_set_int_member(params, "max-bandwidth", (gint64)bw);
    if (precopy)
        json_object_set_int_member(params, "downtime-limit", mig->policy->downtimeLimitMs);
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
cloneIncomingStart(cloneMigJob *mig, JsonObject *caps, int fd)
{
    g_autoptr(JsonObject) clonecaps = json_object_new();
    g_autoptr(JsonObject) params = json_object_new();

    json_object_set_boolean_member(clonecaps, "events", TRUE);
    json_object_set_boolean_member(clonecaps, "return-path",
                                   json_object_get_boolean_member(caps, "return-path"));
    /* the clone must not announce the source's MAC addresses */
    json_object_set_int_member(params, "announce-rounds", 0);
    if (cloneMigSettingsApply(mig->clone, clonecaps, params) < 0 ||
        cloneGetFd(mig->clone, CLONE_FD_IN, fd) < 0 ||
        cloneMigrateCmd(mig->clone, "migrate-incoming", CLONE_FD_IN) < 0)
        return -1;
    return 0;
}


/* Sets up both QEMUs: the clone listens, the source has its settings and
 * the socket.  Only the "migrate" command remains (cloneMigrationGo), so
 * that a strategy that pauses the source first keeps all of this out of the
 * pause. */
static int
cloneMigrationPrepare(cloneMigJob *mig, JsonObject *caps, JsonObject *params)
{
    int sv[2] = { -1, -1 };
    int ret = -1;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        virCloneReportSystemError(errno, "%s", _("cannot create the migration socket pair"));
        return -1;
    }
    if (cloneIncomingStart(mig, caps, sv[1]) < 0)
        goto cleanup;

    g_clear_pointer(&mig->srcSaved, cloneMigSettingsFree);
    if (!(mig->srcSaved = cloneMigSettingsQuery(mig->src)))
        goto cleanup;
    g_clear_pointer(&mig->srcCaps, json_object_unref);
    g_clear_pointer(&mig->srcParams, json_object_unref);
    mig->srcCaps = json_object_ref(caps);
    mig->srcParams = json_object_ref(params);
    /* the record keeps the source's settings before they change */
    if (mig->save(mig->opaque) < 0 ||
        cloneMigSettingsApply(mig->src, caps, params) < 0 ||
        cloneGetFd(mig->src, CLONE_FD_OUT, sv[0]) < 0)
        goto cleanup;
    ret = 0;

 cleanup:
    close(sv[0]);
    close(sv[1]);
    return ret;
}


static int
cloneMigrationGo(cloneMigJob *mig)
{
    mig->migrationStarted = TRUE;
    mig->goUs = g_get_monotonic_time();
    if (mig->save(mig->opaque) < 0 || cloneMigrateCmd(mig->src, "migrate", CLONE_FD_OUT) < 0)
        return -1;
    return 0;
}


static int
clonePrecopyPasses(cloneMigJob *mig, virDomainPtr dom G_GNUC_UNUSED, const cloneMigInfo *info)
{
    mig->result.passes = info->passes;
    return 0;
}


/* automatic choice: give up pre-copy when it does not converge */
static int
clonePrecopyHook(cloneMigJob *mig, virDomainPtr dom, const cloneMigInfo *info)
{
    clonePrecopyPasses(mig, dom, info);
    if (info->status != CLONE_MIG_STATUS_ACTIVE)
        return 0;
    if (info->passes > mig->maxPasses) {
        CLONE_INFO("pre-copy of '%s' made %" G_GUINT64_FORMAT " passes without converging "
                   "(expected downtime %" G_GINT64_FORMAT " ms > limit %u ms): "
                   "switching to the background strategy",
                   virDomainGetName(mig->src), info->passes - 1, info->expectedDowntime,
                   mig->policy->downtimeLimitMs);
        return CLONE_PHASE_RETRY_BACKGROUND;
    }
    return 0;
}


/**
 * cloneTransferPrecopyToSwitchover:
 *
 * Pre-copy with pause-before-switchover: QEMU pauses the source once the
 * remaining RAM fits the downtime limit and waits (for the disk fork);
 * cloneTransferPrecopyComplete() lets the migration continue to
 * completion.
 */
int
cloneTransferPrecopyToSwitchover(cloneMigJob *mig, guint maxPasses)
{
    g_autoptr(JsonObject) caps = cloneCaps(TRUE, TRUE, FALSE);
    g_autoptr(JsonObject) params = cloneSourceParams(mig, TRUE);
    int rc;

    mig->maxPasses = maxPasses;
    cloneMigMonReset(mig->srcMon);
    if (cloneMigrationPrepare(mig, caps, params) < 0 || cloneMigrationGo(mig) < 0)
        return -1;
    mig->progress(0, mig->opaque);
    rc = cloneWaitStatus(mig, mig->src, mig->srcMon,
                         CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_PRE_SWITCHOVER),
                         maxPasses ? clonePrecopyHook : clonePrecopyPasses, mig->deadline);
    if (rc != 0)
        return rc;
    return cloneFaultPoint("precopy:pre-switchover");
}


int
cloneTransferPrecopyComplete(cloneMigJob *mig)
{
    g_autoptr(JsonObject) cont = json_object_new();

    json_object_set_string_member(cont, "state", "pre-switchover");
    if (cloneQmpRun(mig->src, "migrate-continue", cont, NULL) < 0 ||
        cloneWaitStatus(mig, mig->src, mig->srcMon, CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_COMPLETED),
                        NULL, mig->deadline) < 0)
        return -1;
    mig->result.copyUs = g_get_monotonic_time() - mig->goUs;
    return 0;
}


int
cloneTransferDirtyRateStart(cloneMigJob *mig)
{
    g_autoptr(JsonObject) args = json_object_new();

    json_object_set_int_member(args, "calc-time", CLONE_DIRTY_SAMPLE_MS);
    json_object_set_string_member(args, "calc-time-unit", "millisecond");
    json_object_set_int_member(args, "sample-pages", CLONE_DIRTY_SAMPLE_PAGES);
    if (cloneQmpRun(mig->src, "calc-dirty-rate", args, NULL) < 0) {
        /* expected before QEMU 8.2: the choice does without */
        CLONE_DEBUG("no dirty rate for '%s': %s", virDomainGetName(mig->src),
                    virCloneGetLastErrorMessage());
        virCloneResetLastError();
        return -1;
    }
    mig->dirtyRateStartUs = g_get_monotonic_time();
    return 0;
}


int
cloneTransferDirtyRateResult(cloneMigJob *mig, guint64 *bytesPerS)
{
    g_autoptr(JsonObject) args = json_object_new();
    gint64 end;

    if (!mig->dirtyRateStartUs)
        return -1;
    end = mig->dirtyRateStartUs + (CLONE_DIRTY_SAMPLE_MS + 1000) * G_TIME_SPAN_MILLISECOND;
    json_object_set_string_member(args, "calc-time-unit", "millisecond");
    for (;;) {
        g_autoptr(JsonNode) ret = NULL;
        JsonObject *o;
        const char *status;

        if (cloneQmpRun(mig->src, "query-dirty-rate", args, &ret) < 0) {
            CLONE_DEBUG("no dirty rate for '%s': %s", virDomainGetName(mig->src),
                        virCloneGetLastErrorMessage());
            virCloneResetLastError();
            return -1;
        }
        o = JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
        status = o ? json_object_get_string_member_with_default(o, "status", "") : "";
        if (g_str_equal(status, "measured") && json_object_has_member(o, "dirty-rate")) {
            /* QEMU's unit: MB/s, of 2^20 bytes */
            *bytesPerS = (guint64)MAX(json_object_get_int_member(o, "dirty-rate"), 0) << 20;
            return 0;
        }
        if (g_get_monotonic_time() > end) {
            CLONE_DEBUG("no dirty rate for '%s': still '%s'", virDomainGetName(mig->src), status);
            return -1;
        }
        g_usleep(5 * G_TIME_SPAN_MILLISECOND);
    }
}


/* The source's pause as QEMU stamped it (STOP and RESUME events), once
 * it runs again: whoever resumed it, the library or QEMU 7.2 itself. */
static void
cloneSourceRecordPause(cloneMigJob *mig)
{
    gint64 stopUs = 0;
    gint64 resumeUs = 0;
    gint64 end = g_get_monotonic_time() + 200 * G_TIME_SPAN_MILLISECOND;

    while (cloneMigMonHasEvents(mig->srcMon) && g_get_monotonic_time() < end) {
        cloneMigMonPauseTimes(mig->srcMon, &stopUs, &resumeUs);
        if (stopUs && resumeUs >= stopUs)
            break;
        g_usleep(500);
    }
    cloneMigMonPauseTimes(mig->srcMon, &stopUs, &resumeUs);
    if (stopUs && resumeUs >= stopUs)
        mig->result.pauseUs = resumeUs - stopUs;
}


/* Background snapshot: QEMU resumes the guest by itself once the device
 * state is saved and RAM is write-protected, but only if it was running
 * when the snapshot began (QEMU >= 8); ours was paused for the disk fork,
 * so resume it as soon as RAM pages flow, which happens strictly after. */
static int
cloneBackgroundHook(cloneMigJob *mig, virDomainPtr dom G_GNUC_UNUSED, const cloneMigInfo *info)
{
    int state = VIR_DOMAIN_NOSTATE;

    if (!mig->srcPausedByUs)
        return 0;
    if (info->pagesSent == 0 && info->status != CLONE_MIG_STATUS_COMPLETED)
        return 0;
    if (virDomainGetState(mig->src, &state, NULL, 0) == 0 && state == VIR_DOMAIN_RUNNING) {
        mig->srcPausedByUs = FALSE;   /* QEMU 7.2 restarts it by itself */
        cloneSourceRecordPause(mig);
        return 0;
    }
    return cloneSourceResume(mig);
}


int
cloneTransferBackgroundToSwitchover(cloneMigJob *mig)
{
    g_autoptr(JsonObject) caps = cloneCaps(FALSE, FALSE, TRUE);
    g_autoptr(JsonObject) params = cloneSourceParams(mig, FALSE);

    if (cloneMigrationPrepare(mig, caps, params) < 0)
        return -1;
    cloneMigMonReset(mig->srcMon);
    if (mig->srcWasRunning) {
        /* the record first: a death right after the pause resumes it */
        mig->srcPausedByUs = TRUE;
        if (mig->save(mig->opaque) < 0)
            return -1;
        if (virDomainSuspend(mig->src) < 0) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                       _("cannot pause domain '%1$s'"), virDomainGetName(mig->src));
            return -1;
        }
    }
    return cloneFaultPoint("background:paused");
}


int
cloneTransferBackgroundComplete(cloneMigJob *mig)
{
    if (cloneMigrationGo(mig) < 0 || cloneFaultPoint("background:started") < 0)
        return -1;
    mig->progress(0, mig->opaque);
    if (cloneWaitStatus(mig, mig->src, mig->srcMon, CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_COMPLETED),
                        cloneBackgroundHook, mig->deadline) < 0)
        return -1;
    return cloneBackgroundHook(mig, mig->src, &(cloneMigInfo){ .status = CLONE_MIG_STATUS_COMPLETED });
}


/* QEMU reports 'completed' (or 'cancelled') a moment before it leaves the
 * migration's finishing state, and refuses 'cont' until then ("Migration
 * is not finalized yet"): retry for a short, bounded while.  On failure
 * libvirt's last error is the last refusal. */
static int
cloneDomainResumeBounded(virDomainPtr dom)
{
    gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

    while (virDomainResume(dom) < 0) {
        if (g_get_monotonic_time() > end)
            return -1;
        g_usleep(G_TIME_SPAN_MILLISECOND);
    }
    /* the refusals before it, expected, are forgotten */
    virResetLastError();
    return 0;
}


/* Resumes the source and records its pause as QEMU stamped it. */
static int
cloneSourceResume(cloneMigJob *mig)
{
    if (cloneDomainResumeBounded(mig->src) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot resume domain '%1$s'"), virDomainGetName(mig->src));
        return -1;
    }
    mig->srcPausedByUs = FALSE;
    cloneSourceRecordPause(mig);
    return 0;
}


static void
cloneSourceRestoreSettings(cloneMigJob *mig)
{
    if (!mig->srcSaved)
        return;
    if (cloneMigSettingsRestore(mig->src, mig->srcSaved, mig->srcCaps, mig->srcParams) < 0)
        CLONE_WARN("cannot restore the migration settings of '%s': %s",
                   virDomainGetName(mig->src), virCloneGetLastErrorMessage());
    g_clear_pointer(&mig->srcSaved, cloneMigSettingsFree);
}


/* Errors in the undos are logged; the first error is what the caller
 * sees. */
void
cloneTransferCancel(cloneMigJob *mig)
{
    if (!mig->src)
        return;   /* a recovered job whose source is gone */
    if (mig->migrationStarted) {
        g_auto(cloneMigInfo) info = { 0 };

        if (cloneMigInfoQuery(mig->src, &info) == 0 &&
            !cloneStatusIn(info.status, CLONE_MIG_STATUS_ENDED)) {
            cloneQmpRun(mig->src, "migrate_cancel", NULL, NULL);
            cloneWaitStatus(mig, mig->src, mig->srcMon, CLONE_MIG_STATUS_ENDED, NULL,
                            g_get_monotonic_time() + 30 * G_USEC_PER_SEC);
        }
        mig->migrationStarted = FALSE;
    }
}


void
cloneTransferAbort(cloneMigJob *mig)
{
    int state = VIR_DOMAIN_NOSTATE;

    cloneTransferCancel(mig);
    if (!mig->src)
        return;
    if (virDomainGetState(mig->src, &state, NULL, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
        mig->srcWasRunning) {
        /* a migration cancelled at its end refuses 'cont' for a moment */
        if (cloneDomainResumeBounded(mig->src) < 0) {
            /* read the message before any other libvirt call: each
             * public call (virDomainGetName too) resets the last error */
            g_autofree char *msg = g_strdup(virGetLastErrorMessage());

            CLONE_WARN("cannot resume '%s' after a failed clone: %s",
                       virDomainGetName(mig->src), msg);
        }
        mig->srcPausedByUs = FALSE;
    }
    cloneSourceRestoreSettings(mig);
}


int
cloneTransferWaitClone(cloneMigJob *mig)
{
    return cloneWaitStatus(mig, mig->clone, mig->cloneMon,
                           CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_COMPLETED), NULL, mig->deadline);
}


int
cloneTransferFinishSource(cloneMigJob *mig, gboolean precopy)
{
    g_auto(cloneMigInfo) info = { 0 };

    /* resume as soon as the source's side completes: waiting for the
     * clone's side would add to the source's pause */
    if (mig->srcWasRunning && (mig->srcPausedByUs || precopy) && cloneSourceResume(mig) < 0)
        return -1;
    if (cloneMigInfoQuery(mig->src, &info) == 0) {
        mig->result.bytes = info.transferred;
        mig->result.downtimeMs = info.downtime;
        mig->result.passes = MAX(mig->result.passes, info.passes);
    }
    mig->migrationStarted = FALSE;
    cloneSourceRestoreSettings(mig);
    return mig->save(mig->opaque);
}
