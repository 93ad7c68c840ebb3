/*
 * clone_live.c: virDomainCloneLive(), a sequence of named phases with one
 * rollback path
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_job.h"
#include "clone_chain.h"
#include "clone_disk.h"
#include "clone_identity.h"
#include "clone_guardian.h"
#include "clone_lookup.h"
#include "clone_sandbox_net.h"
#include "clone_sandbox_watch.h"
#include "clone_tpm.h"

#include <libvirt/libvirt-qemu.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <errno.h>
#include <glib/gstdio.h>

typedef struct {
    int (*run)(cloneJob *job);
    void (*undo)(cloneJob *job);  /* may run after a partial run; idempotent */
    unsigned int kinds;           /* CLONE_KIND() of the jobs that run it */
} clonePhaseDef;

#define CLONE_KIND(k) (1U << CLONE_JOB_##k)
#define CLONE_KINDS_ALL (CLONE_KIND(LIVE) | CLONE_KIND(TEMPLATE) | \
                         CLONE_KIND(FROM_TEMPLATE) | CLONE_KIND(RESET))
/* the jobs that copy a running source's memory */
#define CLONE_KINDS_SOURCE (CLONE_KIND(LIVE) | CLONE_KIND(TEMPLATE))
/* the jobs that make a domain that runs */
#define CLONE_KINDS_DOMAIN (CLONE_KIND(LIVE) | CLONE_KIND(FROM_TEMPLATE) | CLONE_KIND(RESET))
#define CLONE_KINDS_TEMPLATE_DOMAIN (CLONE_KIND(FROM_TEMPLATE) | CLONE_KIND(RESET))


/* ---- phase: check the source ------------------------------------------ */

static int
cloneCheckState(cloneJob *job)
{
    int state = VIR_DOMAIN_NOSTATE;

    if (virDomainGetState(job->src, &state, NULL, 0) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot read the state of domain '%1$s'"),
                                   virDomainGetName(job->src));
        return -1;
    }
    if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_PAUSED) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' is not running: only a running domain can be live-cloned"),
                            virDomainGetName(job->src));
        return -1;
    }
    job->mig->srcWasRunning = state == VIR_DOMAIN_RUNNING;
    return 0;
}


static int
cloneCheckJobs(cloneJob *job)
{
    virDomainJobInfo info;
    g_auto(cloneMigInfo) mig = { 0 };

    /* no job is VIR_DOMAIN_JOB_NONE, not a failure */
    if (virDomainGetJobInfo(job->src, &info) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot read the jobs of domain '%1$s'"),
                                   virDomainGetName(job->src));
        return -1;
    }
    if (info.type != VIR_DOMAIN_JOB_NONE) {
        virCloneReportError(VIR_CLONE_ERR_BUSY,
                            _("domain '%1$s' is busy with a libvirt job: try again when it has finished"),
                            virDomainGetName(job->src));
        return -1;
    }
    if (cloneMigInfoQuery(job->src, &mig) < 0)
        return -1;
    if (mig.status < 0 || !(CLONE_MIG_STATUS_ENDED & CLONE_MIG_STATUS_BIT(mig.status))) {
        virCloneReportError(VIR_CLONE_ERR_BUSY,
                            _("domain '%1$s' is already migrating (state '%2$s')"),
                            virDomainGetName(job->src), mig.statusName);
        return -1;
    }
    return 0;
}


/* QEMU before 9.0 loses guest writes in pre-copy under TCG ("system/physmem:
 * Fix migration dirty bitmap coherency with TCG memory access"). */
static int
cloneCheckStrategy(cloneJob *job)
{
    gboolean unsafe;

    if (cloneQmpVersion(job->src, &job->qemuMajor, &job->qemuMinor) < 0)
        return -1;
    unsafe = job->tcg && job->qemuMajor < 9;
    if (!unsafe)
        return 0;
    if (job->strategy == CLONE_STRATEGY_PRECOPY && job->strategyForced) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("pre-copy under TCG with QEMU %1$d.%2$d loses guest writes (fixed in QEMU 9.0): use the background strategy"),
                            job->qemuMajor, job->qemuMinor);
        return -1;
    }
    if (job->strategy != CLONE_STRATEGY_BACKGROUND)
        CLONE_WARN("QEMU %d.%d under TCG: pre-copy is unsafe, using the background strategy",
                   job->qemuMajor, job->qemuMinor);
    job->strategy = CLONE_STRATEGY_BACKGROUND;
    return 0;
}


static int
cloneCheckMigratable(cloneJob *job)
{
    g_autoptr(JsonNode) ret = NULL;
    JsonArray *reasons;
    g_autoptr(GString) all = g_string_new(NULL);

    if (cloneQmpRun(job->src, "query-migrate", NULL, &ret) < 0)
        return -1;
    if (!JSON_NODE_HOLDS_OBJECT(ret) ||
        !json_object_has_member(json_node_get_object(ret), "blocked-reasons"))
        return 0;
    reasons = json_object_get_array_member(json_node_get_object(ret), "blocked-reasons");
    for (guint i = 0; reasons && i < json_array_get_length(reasons); i++)
        g_string_append_printf(all, "%s%s", i ? "; " : "",
                               json_array_get_string_element(reasons, i));
    if (all->len == 0)
        return 0;
    virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                        _("domain '%1$s' cannot be live-cloned: QEMU blocks migration: %2$s"),
                        virDomainGetName(job->src), all->str);
    return -1;
}


/* Policy features that are parsed but not carried out yet are refused (or,
 * for steps inside the guest, announced), never silently ignored. */
static int
clonePolicyCheckSupported(const clonePolicy *policy)
{
    if (policy->strategy == CLONE_STRATEGY_POSTCOPY) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED, "%s",
                            _("the postcopy strategy is reserved and not supported yet: use auto, precopy or background"));
        return -1;
    }
    return 0;
}


/* The source's XML, as the clone's is made from it. */
static int
cloneSourceReadXML(cloneJob *job)
{
    g_free(job->srcXML);
    if (!(job->srcXML = virDomainGetXMLDesc(job->src, VIR_DOMAIN_XML_SECURE |
                                                      VIR_DOMAIN_XML_MIGRATABLE))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot read the XML of domain '%1$s'"),
                                   virDomainGetName(job->src));
        return -1;
    }
    return 0;
}


static int
clonePhaseCheck(cloneJob *job)
{
    cloneJobProgress(job, 0);
    if (clonePolicyCheckSupported(job->policy) < 0)
        return -1;
    if (job->kind == CLONE_JOB_FROM_TEMPLATE || job->kind == CLONE_JOB_RESET)
        return cloneTemplatePhaseCheckDomain(job);
    if (cloneCheckState(job) < 0 || cloneCheckJobs(job) < 0)
        return -1;
    if (cloneSourceReadXML(job) < 0)
        return -1;
    {
        g_auto(GStrv) type = cloneXMLStrings(job->srcXML, "/domain/@type");

        job->tcg = type[0] && g_str_equal(type[0], "qemu");
    }
    /* before the chain phase may flatten anything */
    if (cloneTpmCheck(job->srcXML, virDomainGetName(job->src), job->policy) < 0)
        return -1;
    if (job->kind == CLONE_JOB_TEMPLATE && cloneTemplateCheckSource(job) < 0)
        return -1;
    return cloneCheckStrategy(job);
}


/* ---- phase: chain ------------------------------------------------------- */

static void
cloneChainProgressCb(guint percent, void *opaque)
{
    cloneJobProgress(opaque, percent);
}


/* A block job on the source: wait for it or refuse, as the policy says. */
static int
cloneChainBusy(cloneJob *job, const char *target)
{
    virDomainBlockJobInfo info;
    int rc;

    /* 0: no block job, which is not a failure */
    if ((rc = virDomainGetBlockJobInfo(job->src, target, &info, 0)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot read the block jobs of disk '%1$s' of domain '%2$s'"),
                                   target, virDomainGetName(job->src));
        return -1;
    }
    if (rc == 0)
        return 0;
    if (!job->policy->chainWait) {
        virCloneReportError(VIR_CLONE_ERR_BUSY,
                            _("disk '%1$s' of domain '%2$s' has a block job running"),
                            target, virDomainGetName(job->src));
        return -1;
    }
    return cloneChainWaitBlockJob(job->src, target, job->policy->timeoutS);
}


/* Keeps the chain of @target within the policy's depth once the fork has
 * added a layer: flatten it first, or refuse. */
static int
cloneChainLimit(cloneJob *job, const char *target)
{
    guint depth = cloneChainDepth(job->srcXML, target);

    if (depth == 0 || depth + 1 <= job->policy->chainMaxDepth)
        return 0;
    if (job->policy->chainAtLimit == CLONE_CHAIN_REFUSE) {
        virCloneReportError(VIR_CLONE_ERR_DISK,
                            _("the backing chain of disk '%1$s' is %2$u images deep: a clone would make it %3$u, over the policy's limit of %4$u"),
                            target, depth, depth + 1, job->policy->chainMaxDepth);
        return -1;
    }
    CLONE_INFO("flattening the %u-deep backing chain of disk '%s' of '%s' into its active image",
               depth, target, virDomainGetName(job->src));
    if (cloneChainFlatten(job->src, target, job->policy->timeoutS,
                          cloneChainProgressCb, job) < 0)
        return -1;
    return 1;
}


static int
clonePhaseChain(cloneJob *job)
{
    g_auto(GStrv) targets = cloneXMLStrings(job->srcXML,
        "/domain/devices/disk[source][not(readonly)]/target/@dev");
    gboolean changed = FALSE;

    for (guint i = 0; targets[i]; i++) {
        int rc;

        if ((rc = cloneChainBusy(job, targets[i])) < 0)
            return -1;
        changed |= rc > 0;
        if ((rc = cloneChainLimit(job, targets[i])) < 0)
            return -1;
        changed |= rc > 0;
    }
    /* the source's XML again only if its disks changed */
    if (!changed)
        return 0;
    return cloneSourceReadXML(job);
}


/* ---- phase: plan -------------------------------------------------------- */

static gboolean
cloneNameFree(cloneJob *job, const char *name)
{
    virDomainPtr dom = cloneLookupDomain(job->conn, name, NULL);

    if (!dom)
        return TRUE;
    virDomainFree(dom);
    return FALSE;
}


static cloneDomainPlan *
clonePlanFor(cloneJob *job, const char *name)
{
    cloneRewriteParams p = { 0 };

    p.name = name;
    p.uuid = job->uuid;
    if (job->kind != CLONE_JOB_LIVE)
        cloneTemplateRewriteParams(job, &p);
    p.stamp = job->stamp;
    p.overlayDir = job->policy->overlayDir;
    p.policy = job->policy;
    p.ephemeral = !(job->flags & VIR_DOMAIN_CLONE_LIVE_PERSISTENT) && !job->policy->persistent;
    if (job->policy->ttlS)
        p.expires = (guint64)(g_get_real_time() / G_USEC_PER_SEC) + job->policy->ttlS;
    return cloneDomainRewrite(job->srcXML, &p);
}


/* The clone's name comes from the policy: an exact name, or a template.
 * A name without %{n} must be free, and so must its files; with %{n} the
 * first n whose name and files are free is taken. */
static int
clonePlanName(cloneJob *job)
{
    const clonePolicy *policy = job->policy;
    gboolean numbered = !policy->name && strstr(policy->nameTemplate, "%{n}") != NULL;

    for (guint n = 1; n < 10000; n++) {
        g_autofree char *name = clonePolicyExpandName(policy, cloneJobSourceName(job), n);
        g_autoptr(cloneDomainPlan) plan = NULL;

        if (!cloneNameFree(job, name)) {
            if (numbered)
                continue;
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                                _("a domain named '%1$s' exists already"), name);
            return -1;
        }
        if (!(plan = clonePlanFor(job, name)))
            return -1;
        if (!cloneDiskPlanFilesFree(plan)) {
            if (numbered)
                continue;
            virCloneReportError(VIR_CLONE_ERR_DISK,
                                _("files of a clone named '%1$s' exist already (overlay, NVRAM or log)"),
                                name);
            return -1;
        }
        job->name = g_steal_pointer(&name);
        job->nameNumber = numbered ? n : 0;
        job->plan = g_steal_pointer(&plan);
        return 0;
    }
    virCloneReportError(VIR_CLONE_ERR_INTERNAL, _("cannot find a free name for the clone of '%1$s'"),
                        cloneJobSourceName(job));
    return -1;
}


/* A template's QEMU and a domain put back at its template's instant have
 * their name and UUID from the check phase. */
static int
clonePlanNamed(cloneJob *job)
{
    job->stamp = g_strdup_printf("%" G_GINT64_MODIFIER "x", g_get_real_time());
    if (!(job->plan = clonePlanFor(job, job->name)))
        return -1;
    if (job->kind == CLONE_JOB_TEMPLATE) {
        if (!cloneNameFree(job, job->name)) {
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                                _("a domain named '%1$s' exists already"), job->name);
            return -1;
        }
        if (!cloneDiskPlanFilesFree(job->plan)) {
            virCloneReportError(VIR_CLONE_ERR_DISK,
                                _("files of a domain named '%1$s' exist already (overlay, NVRAM or log)"),
                                job->name);
            return -1;
        }
        return cloneCheckMigratable(job);
    }
    job->identity = cloneIdentityNew(job->policy, job->plan, job->name, 0);
    if (cloneIdentityCheck(job->identity, cloneJobSourceName(job), job->srcXML,
                           (job->flags & VIR_DOMAIN_CLONE_LIVE_PAUSED) != 0) < 0)
        return -1;
    cloneTemplatePlanDone(job);
    return 0;
}


static int
clonePhasePlan(cloneJob *job)
{
    if (job->kind == CLONE_JOB_TEMPLATE || job->kind == CLONE_JOB_RESET)
        return clonePlanNamed(job);
    if (job->policy->uuid) {
        virDomainPtr dom = cloneLookupDomain(job->conn, NULL,
                                             job->policy->uuid);

        if (dom) {
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                                _("domain '%1$s' has the UUID '%2$s' that the policy asks for"),
                                virDomainGetName(dom), job->policy->uuid);
            virDomainFree(dom);
            return -1;
        }
        g_free(job->uuid);
        job->uuid = g_strdup(job->policy->uuid);
    } else if (!job->uuid) {
        job->uuid = g_uuid_string_random();   /* a domain from a template has one already */
    }
    job->stamp = g_strdup_printf("%" G_GINT64_MODIFIER "x", g_get_real_time());
    if (clonePlanName(job) < 0)
        return -1;
    job->identity = cloneIdentityNew(job->policy, job->plan, job->name, job->nameNumber);
    if (job->kind == CLONE_JOB_LIVE && cloneCheckMigratable(job) < 0)
        return -1;
    if (cloneIdentityCheck(job->identity, cloneJobSourceName(job), job->srcXML,
                           (job->flags & VIR_DOMAIN_CLONE_LIVE_PAUSED) != 0) < 0)
        return -1;
    if (job->kind == CLONE_JOB_FROM_TEMPLATE)
        cloneTemplatePlanDone(job);
    return 0;
}


/* ---- phase: files -------------------------------------------------------- */

/* The record names every file before it is made (clone_job.c). */
static int
clonePhaseFiles(cloneJob *job)
{
    if (cloneDiskCheckNewFiles(job->plan) < 0 || cloneJobSave(job) < 0)
        return -1;
    if (job->kind == CLONE_JOB_FROM_TEMPLATE || job->kind == CLONE_JOB_RESET) {
        if (cloneDiskCreateCloneOverlays(job->plan, job->createdDirs) < 0)
            return -1;
    } else if (cloneDiskCreateOverlays(job->src, job->plan, job->createdDirs) < 0) {
        return -1;
    }
    if (
        cloneDiskCopyFiles(job->plan) < 0 ||
        cloneTpmCopyState(job->conn, job->plan) < 0)
        return -1;
    return cloneJobSave(job);
}


static void
clonePhaseFilesUndo(cloneJob *job)
{
    if (!job->plan)
        return;
    /* a reset clone that stays defined keeps the overlay its definition names */
    if (job->kind != CLONE_JOB_RESET || !job->cloneDefined)
        cloneDiskRemoveCloneFiles(job->plan);
    cloneTpmRemoveState(job->conn, job->plan);
    /* after the fork the source runs on its new tops: they stay */
    cloneDiskRemoveSourceOverlays(job->src, job->plan, job->forkAttempted);
    cloneDiskRemoveDirs(job->createdDirs);
}


/* ---- phase: sandbox -------------------------------------------------------- */

/* The isolated bridge must exist before libvirt attaches the clone's taps. */
static int
clonePhaseSandbox(cloneJob *job)
{
    if (!job->plan->sandboxBridge)
        return 0;
    return cloneSandboxBridgeEnsure(job->plan->sandboxBridge);
}


static void
clonePhaseSandboxUndo(cloneJob *job)
{
    if (job->plan && job->plan->sandboxBridge &&
        cloneSandboxBridgeRemoveIfUnused(job->plan->sandboxBridge) < 0)
        CLONE_WARN("cannot remove the sandbox bridge '%s': %s",
                   job->plan->sandboxBridge, virCloneGetLastErrorMessage());
}


/* ---- phase: start the clone ----------------------------------------------- */

/* The automatic choice before any copy: the source's dirty rate, sampled
 * while the clone's QEMU starts, against the copy's rate (clone_strategy.c).
 * Without a sample (QEMU before 8.2) pre-copy is tried, and given up after
 * the policy's max-passes. */
static gboolean
cloneStrategyMeasured(cloneJob *job)
{
    return job->src && !job->strategyForced && job->fallbacks == 0 &&
           job->strategy == CLONE_STRATEGY_PRECOPY;
}


static void
cloneStrategyDecide(cloneJob *job)
{
    cloneStrategyInput in = { 0 };

    if (!cloneStrategyMeasured(job) ||
        cloneTransferDirtyRateResult(job->mig, &job->dirtyRate) < 0)
        return;
    if ((in.ramBytes = (guint64)virDomainGetMaxMemory(job->src) << 10) == 0) {
        virResetLastError();
        return;
    }
    in.dirtyBytesPerS = job->dirtyRate;
    in.copyBytesPerS = cloneStrategyCopyRate(job->runDir);
    if (job->policy->bandwidthMiBs)
        in.copyBytesPerS = MIN(in.copyBytesPerS, job->policy->bandwidthMiBs << 20);
    in.downtimeMs = job->policy->downtimeLimitMs;
    cloneStrategyChoose(&in, &job->choice);
    job->measured = TRUE;
    job->copyRate = in.copyBytesPerS;
    job->strategy = job->choice.strategy;
    CLONE_INFO("'%s' dirties %" G_GUINT64_FORMAT " MiB/s, the copy runs at %" G_GUINT64_FORMAT
               " MiB/s: %s (%u passes predicted)", cloneJobSourceName(job),
               job->dirtyRate >> 20, job->copyRate >> 20,
               cloneStrategyTypeToString(job->strategy), job->choice.passes);
}


static int
clonePhaseStartClone(cloneJob *job)
{
    gint64 t0 = g_get_monotonic_time();

    cloneJobProgress(job, 0);
    if (cloneStrategyMeasured(job))
        cloneTransferDirtyRateStart(job->mig);
    /* START_PAUSED: without it libvirt sends "cont", which would activate
     * the images before the migration. */
    job->clone = virDomainCreateXML(job->conn, job->plan->xml, VIR_DOMAIN_START_PAUSED);
    if (!job->clone) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot start the clone '%1$s' of domain '%2$s'"),
                                   job->name, cloneJobSourceName(job));
        return -1;
    }
    job->cloneStartUs = g_get_monotonic_time() - t0;
    cloneMigJobSetClone(job->mig, job->clone);
    cloneStrategyDecide(job);
    return 0;
}


/* The clone's QEMU goes.  Its QEMU may be gone already (persist's undo);
 * and after its caller died, the driver that reconnects to the clone's
 * QEMU may hold the domain's job for a while, and a destroy meanwhile
 * fails: it is tried again, for up to CLONE_DESTROY_WAIT_S seconds, until
 * the domain is gone or inactive. */
#define CLONE_DESTROY_WAIT_S 60

static void
clonePhaseStartCloneUndo(cloneJob *job)
{
    gint64 end = g_get_monotonic_time() + CLONE_DESTROY_WAIT_S * G_USEC_PER_SEC;

    if (!job->clone)
        return;
    while (virDomainDestroy(job->clone) < 0) {
        if (virDomainIsActive(job->clone) != 1 || g_get_monotonic_time() > end) {
            virResetLastError();
            break;
        }
        CLONE_DEBUG("clone '%s': destroy failed (%s), trying again", job->name,
                    virGetLastErrorMessage());
        virResetLastError();
        g_usleep(200 * G_TIME_SPAN_MILLISECOND);
    }
    cloneMigJobSetClone(job->mig, NULL);
    g_clear_pointer(&job->clone, virDomainFree);
}


/* ---- phase: transfer -------------------------------------------------------- */

/* Ends with the source paused at the switch-over instant (clone_migrate.h).
 * Pre-copy is given up after the passes the automatic choice allows: what
 * it predicted, or without a sample the policy's max-passes; never when
 * the strategy was forced. */
static int
clonePhaseTransfer(cloneJob *job)
{
    guint maxPasses = job->strategyForced ? 0 :
                      job->measured ? job->choice.maxPasses : job->policy->autoMaxPasses;

    if (job->strategy == CLONE_STRATEGY_BACKGROUND)
        return cloneTransferBackgroundToSwitchover(job->mig);
    return cloneTransferPrecopyToSwitchover(job->mig, maxPasses);
}


/* Cancels the migration, resumes the source, restores its settings. */
static void
clonePhaseTransferUndo(cloneJob *job)
{
    cloneTransferAbort(job->mig);
}


/* ---- phase: the disk fork, while the source is paused ----------------------- */

/* The source goes on with new overlays over the images it used at the
 * switch-over instant; the clone gets its own over the same images.  No
 * undo: once libvirt pivoted the source onto its new tops they stay (the
 * files phase's undo asks libvirt which ones the source uses). */
static int
clonePhaseFork(cloneJob *job)
{
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *snapName = g_strdup_printf("libvirt-clone-%s", job->stamp);

    cloneJobProgress(job, 100);
    /* whether it happened is asked of libvirt on rollback (clone_disk.c) */
    job->forkAttempted = TRUE;
    if (cloneJobSave(job) < 0 || cloneDiskFork(job->src, job->plan, snapName) < 0)
        return -1;
    job->disksForked = TRUE;
    job->diskForkUs = g_get_monotonic_time() - t0;
    return cloneFaultPoint(job->strategy == CLONE_STRATEGY_BACKGROUND ? "background:forked"
                                                                      : "precopy:forked");
}


/* ---- phase: the end of the transfer ------------------------------------------ */

static int
clonePhaseTransferEnd(cloneJob *job)
{
    if (job->strategy == CLONE_STRATEGY_BACKGROUND)
        return cloneTransferBackgroundComplete(job->mig);
    return cloneTransferPrecopyComplete(job->mig);
}


/* A migration that this phase started (background) is cancelled; the
 * transfer's undo does the rest. */
static void
clonePhaseTransferEndUndo(cloneJob *job)
{
    cloneTransferCancel(job->mig);
}


/* ---- phase: finish the source ---------------------------------------------- */

static int
clonePhaseFinishSource(cloneJob *job)
{
    cloneJobProgress(job, 100);
    if (cloneTransferFinishSource(job->mig, job->strategy == CLONE_STRATEGY_PRECOPY) < 0)
        return -1;
    job->transfer = job->mig->result;
    /* what the automatic choice predicts from: a copy at full speed */
    if (job->strategy == CLONE_STRATEGY_PRECOPY && !job->policy->bandwidthMiBs)
        cloneStrategyRecordCopy(job->runDir, job->transfer.bytes, job->transfer.copyUs);
    return 0;
}


/* ---- phase: finish the clone ------------------------------------------------ */

/* virtio-net recomputes the link state on load, so the clone's links are
 * put down again here, after the migration completed. */
static int
cloneSetLinks(cloneJob *job, const char *xml, gboolean up)
{
    g_auto(GStrv) aliases = cloneXMLStrings(xml, "/domain/devices/interface/alias/@name");

    for (guint i = 0; aliases[i]; i++) {
        g_autoptr(JsonObject) args = json_object_new();

        json_object_set_string_member(args, "name", aliases[i]);
        json_object_set_boolean_member(args, "up", up);
        if (cloneQmpRun(job->clone, "set_link", args, NULL) < 0)
            return -1;
    }
    return 0;
}


/* The MAC address of the <interface> @nic, or NULL. */
static char *
cloneNicMac(xmlNodePtr nic)
{
    for (xmlNodePtr c = nic->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "mac"))
            return (char *)xmlGetProp(c, BAD_CAST "address");
    return NULL;
}


/* Brings up the link of @nic (an <interface> of the clone's live XML);
 * 0 if done, -1 with an error. */
static int
cloneLinkUp(cloneJob *job, xmlDocPtr doc, xmlNodePtr nic)
{
    xmlBufferPtr buf = xmlBufferCreate();
    int ret = 0;

    for (xmlNodePtr c = nic->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "link"))
            xmlSetProp(c, BAD_CAST "state", BAD_CAST "up");
    xmlNodeDump(buf, doc, nic, 0, 0);
    if (virDomainUpdateDeviceFlags(job->clone, (const char *)xmlBufferContent(buf),
                                   VIR_DOMAIN_AFFECT_LIVE) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot bring up the links of clone '%1$s'"), job->name);
        ret = -1;
    }
    xmlBufferFree(buf);
    return ret;
}


/* Brings up the links of the clone's NICs but those whose MAC is in
 * @keepDown; returns how many came up, or -1 with an error. */
static int
cloneLinksUp(cloneJob *job, const char *xml, GHashTable *keepDown)
{
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = cloneXMLParse(xml, "domain", VIR_CLONE_ERR_LIBVIRT,
                                          _("libvirt's XML of the clone does not parse"), &ctxt);
    g_autofree xmlNodePtr *nics = NULL;
    guint n;
    int up = 0;

    if (!doc)
        return -1;
    n = cloneXPathNodes(ctxt, "/domain/devices/interface", &nics);
    for (guint i = 0; i < n; i++) {
        g_autofree char *mac = cloneNicMac(nics[i]);

        if (mac && g_hash_table_contains(keepDown, mac)) {
            CLONE_WARN("clone '%s': a NIC keeps its link down: the guest still uses the source's MAC on it",
                       job->name);
            continue;
        }
        if (cloneLinkUp(job, doc, nics[i]) < 0)
            return -1;
        up++;
    }
    return up;
}


/* Fail closed: before the clone's vCPUs run and before any link of it goes
 * up, its bridge must have no address and no port but isolated ones, its
 * taps among them. */
static int
cloneSandboxCheck(cloneJob *job, const char *xml)
{
    g_auto(GStrv) taps = NULL;

    if (!job->plan->sandboxBridge)
        return 0;
    if (!(taps = cloneXMLDomainTaps(xml)))
        return -1;
    if (cloneSandboxVerify(job->plan->sandboxBridge, (const char *const *)taps) < 0)
        return -1;
    CLONE_DEBUG("sandbox bridge '%s' verified for clone '%s'", job->plan->sandboxBridge, job->name);
    return 0;
}


/* A sandbox whose policy wants alerts in a log or a command does not run
 * unwatched: the watcher (virt-clone-live sandbox-watch --daemon) is bound
 * to the clone's taps before the clone runs; it ends by itself with them. */
static int
cloneSandboxStartAlerts(cloneJob *job)
{
    g_autofree char *dir = NULL;

    if (!job->plan->sandboxBridge || (!job->policy->alertLog && !job->policy->alertCommand))
        return 0;
    /* with <integrity> the watcher takes the kernel's baseline now, the
     * clone still paused before it first runs: the clone instant */
    dir = g_build_filename(CLONE_RUN_DIR, job->uuid, NULL);
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        virCloneReportSystemError(errno, _("cannot create directory '%1$s'"), dir);
        return -1;
    }
    job->watchPidfile = g_build_filename(dir, "sandbox-watch.pid", NULL);
    return cloneSandboxDaemonStartForDomain(job->clone, job->watchPidfile, job->policy->alertLog,
                                            job->policy->alertCommand,
                                            job->policy->integrityIntervalMs,
                                            cloneIntegrityActionTypeToString(job->policy->integrityAction),
                                            NULL);
}


static void
cloneSandboxStopAlerts(cloneJob *job)
{
    g_autofree char *dir = NULL;

    if (!job->watchPidfile)
        return;
    cloneSandboxDaemonStop(job->watchPidfile);
    dir = g_path_get_dirname(job->watchPidfile);
    g_rmdir(dir);
    g_clear_pointer(&job->watchPidfile, g_free);
}


static void
clonePhaseFinishCloneUndo(cloneJob *job)
{
    cloneSandboxStopAlerts(job);
}


static int
cloneFinishClone(cloneJob *job)
{
    g_autoptr(GHashTable) keepDown = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gboolean paused = (job->flags & VIR_DOMAIN_CLONE_LIVE_PAUSED) != 0;
    g_autofree char *xml = NULL;
    int up;

    if (cloneTransferWaitClone(job->mig) < 0)
        return -1;
    /* the clone's live XML, once: aliases, taps and links do not change */
    if (!(xml = virDomainGetXMLDesc(job->clone, 0))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot read the XML of clone '%1$s'"),
                                   job->name);
        return -1;
    }
    if (cloneSetLinks(job, xml, FALSE) < 0 || cloneSandboxCheck(job, xml) < 0 ||
        cloneSandboxStartAlerts(job) < 0 || cloneJobSave(job) < 0)
        return -1;
    /* a paused clone has no steps inside its guest (cloneIdentityCheck) */
    if (!paused) {
        if (virDomainResume(job->clone) < 0) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                       _("cannot resume clone '%1$s'"), job->name);
            return -1;
        }
        job->cloneResumedAt = g_get_monotonic_time();
        /* the source's identity leaves the guest while its links are down */
        if (cloneIdentityGuestSteps(job->identity, job->clone, keepDown) < 0)
            return -1;
    }
    if (job->policy->network != CLONE_NETWORK_INHERIT &&
        job->policy->network != CLONE_NETWORK_SANDBOX)
        return 0;
    /* sandbox: up on the verified, isolated bridge, so that what the guest
     * tries is seen (and goes nowhere) */
    if ((up = cloneLinksUp(job, xml, keepDown)) < 0 || paused)
        return up < 0 ? -1 : 0;
    if (cloneIdentityAddresses(job->identity, job->clone, keepDown) < 0)
        return -1;
    if (up > 0)
        job->networkUpUs = g_get_monotonic_time() - job->cloneResumedAt;
    return 0;
}


static int
clonePhaseFinishClone(cloneJob *job)
{
    int rc = cloneFinishClone(job);

    job->guest = *cloneIdentityGetResult(job->identity);
    return rc;
}


/* ---- phase: persist ----------------------------------------------------------- */

static int
clonePhasePersist(cloneJob *job)
{
    g_autofree char *live = NULL;
    g_autofree char *xml = NULL;
    virDomainPtr def;

    if (job->kind == CLONE_JOB_RESET ? !job->cloneDefined :
        !(job->flags & VIR_DOMAIN_CLONE_LIVE_PERSISTENT) && !job->policy->persistent)
        return 0;
    if (!(live = virDomainGetXMLDesc(job->clone, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot read the XML of clone '%1$s'"),
                                   job->name);
        return -1;
    }
    if (!(xml = cloneDomainXMLStripCommandline(live)))
        return -1;
    /* the record first: a death right after the definition undefines it */
    job->cloneDefined = TRUE;
    if (cloneJobSave(job) < 0)
        return -1;
    if (!(def = virDomainDefineXML(job->conn, xml))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot define the clone '%1$s'"), job->name);
        return -1;
    }
    virDomainFree(def);
    return 0;
}


/* The definition goes: destroyed first, as undefining a running domain
 * only makes it transient; start-clone's undo then finds it gone. */
static void
clonePhasePersistUndo(cloneJob *job)
{
    /* a reset clone keeps its definition */
    if (!job->clone || !job->cloneDefined || job->kind == CLONE_JOB_RESET)
        return;
    if (virDomainDestroy(job->clone) < 0)
        virResetLastError();   /* its QEMU may be gone already */
    if (virDomainUndefineFlags(job->clone, VIR_DOMAIN_UNDEFINE_NVRAM) < 0)
        virResetLastError();   /* so may its definition, in a recovered job */
    job->cloneDefined = FALSE;
}


static const clonePhaseDef clonePhases[CLONE_JOB_PHASE_LAST] = {
    [CLONE_JOB_PHASE_CHECK] = { clonePhaseCheck, NULL, CLONE_KINDS_ALL },
    [CLONE_JOB_PHASE_CHAIN] = { clonePhaseChain, NULL, CLONE_KINDS_SOURCE },
    [CLONE_JOB_PHASE_PLAN] = { clonePhasePlan, NULL, CLONE_KINDS_ALL },
    [CLONE_JOB_PHASE_STOP] = { cloneTemplatePhaseStop, NULL, CLONE_KIND(RESET) },
    [CLONE_JOB_PHASE_SANDBOX] = { clonePhaseSandbox, clonePhaseSandboxUndo, CLONE_KINDS_DOMAIN },
    [CLONE_JOB_PHASE_FILES] = { clonePhaseFiles, clonePhaseFilesUndo, CLONE_KINDS_ALL },
    [CLONE_JOB_PHASE_START_CLONE] = { clonePhaseStartClone, clonePhaseStartCloneUndo,
                                      CLONE_KINDS_ALL },
    [CLONE_JOB_PHASE_LOAD] = { cloneTemplatePhaseLoad, NULL, CLONE_KINDS_TEMPLATE_DOMAIN },
    [CLONE_JOB_PHASE_TRANSFER] = { clonePhaseTransfer, clonePhaseTransferUndo, CLONE_KINDS_SOURCE },
    [CLONE_JOB_PHASE_FORK] = { clonePhaseFork, NULL, CLONE_KINDS_SOURCE },
    [CLONE_JOB_PHASE_TRANSFER_END] = { clonePhaseTransferEnd, clonePhaseTransferEndUndo,
                                       CLONE_KINDS_SOURCE },
    [CLONE_JOB_PHASE_FINISH_SOURCE] = { clonePhaseFinishSource, NULL, CLONE_KINDS_SOURCE },
    [CLONE_JOB_PHASE_SAVE_TEMPLATE] = { cloneTemplatePhaseSave, cloneTemplatePhaseSaveUndo,
                                        CLONE_KIND(TEMPLATE) },
    [CLONE_JOB_PHASE_FINISH_CLONE] = { clonePhaseFinishClone, clonePhaseFinishCloneUndo,
                                       CLONE_KINDS_DOMAIN },
    [CLONE_JOB_PHASE_PERSIST] = { clonePhasePersist, clonePhasePersistUndo, CLONE_KINDS_DOMAIN },
};


static gboolean
clonePhaseRuns(const cloneJob *job, cloneJobPhase phase)
{
    return (clonePhases[phase].kinds & (1U << job->kind)) != 0;
}


/* Undoes phases @failed down to @downTo, the failed one first. */
static void
cloneRollback(cloneJob *job, cloneJobPhase failed, cloneJobPhase downTo)
{
    /* restores the first error when the undos are done */
    G_GNUC_UNUSED g_autoptr(virCloneSavedError) saved = virCloneSaveLastError();

    for (int i = (int)failed; i >= (int)downTo; i--) {
        if (clonePhases[i].undo && clonePhaseRuns(job, i)) {
            CLONE_DEBUG("clone '%s': undoing phase '%s'", job->name ? job->name : "",
                        cloneJobPhaseTypeToString(i));
            clonePhases[i].undo(job);
        }
    }
}


/* Enters phase @phase: the record says so before the phase changes
 * anything. */
static int
cloneJobEnterPhase(cloneJob *job, cloneJobPhase phase)
{
    g_autofree char *point = g_strdup_printf("phase:%s", cloneJobPhaseTypeToString(phase));

    job->phase = phase;
    if (cloneJobSave(job) < 0 || cloneFaultPoint(point) < 0)
        return -1;
    CLONE_DEBUG("%s job of '%s': phase '%s'", cloneJobKindTypeToString(job->kind),
                cloneJobSourceName(job), cloneJobPhaseTypeToString(phase));
    return 0;
}


static int
cloneRunPhases(cloneJob *job)
{
    cloneJobPhase i = CLONE_JOB_PHASE_CHECK;

    while (i < CLONE_JOB_PHASE_LAST) {
        int rc;

        if (!clonePhaseRuns(job, i)) {
            i++;
            continue;
        }
        rc = cloneJobEnterPhase(job, i);

        if (rc == 0)
            rc = clonePhases[i].run(job);
        if (rc == CLONE_PHASE_RETRY_BACKGROUND) {
            /* from the files on: the clone's destruction may take its
             * files with it (the hook removes an ephemeral clone's
             * overlays when libvirt releases it); the sandbox bridge,
             * made before them, stays */
            cloneRollback(job, i, CLONE_JOB_PHASE_FILES);
            job->strategy = CLONE_STRATEGY_BACKGROUND;
            job->fallbacks++;
            i = CLONE_JOB_PHASE_FILES;
            continue;
        }
        if (rc < 0) {
            /* never "no error" for the caller */
            if (!virCloneGetLastError())
                virCloneReportError(VIR_CLONE_ERR_INTERNAL,
                                    _("phase '%1$s' of the clone of '%2$s' failed without an error"),
                                    cloneJobPhaseTypeToString(i), cloneJobSourceName(job));
            cloneJobProgressEnd(job, FALSE);
            cloneRollback(job, i, CLONE_JOB_PHASE_CHECK);
            return -1;
        }
        i++;
    }
    return 0;
}


/* ---- jobs that outlive their owner -------------------------------------------- */

/* Finishes the rollback of the job recorded under @lock, if a record is
 * there.  Returns 1 if it did, 0 if there was none, -1 if it could not
 * (the record stays for the next try). */
static int
cloneJobRecoverLocked(virConnectPtr conn, cloneJobLock *lock)
{
    g_autoptr(JsonObject) rec = NULL;
    g_autoptr(cloneJob) job = NULL;
    int rc;

    if ((rc = cloneJobRecordLoad(lock, &rec)) <= 0)
        return rc;
    if (virConnectIsAlive(conn) != 1) {
        virCloneReportError(VIR_CLONE_ERR_LIBVIRT, "%s",
                            _("cannot finish the rollback of an interrupted clone: the connection to libvirt is closed"));
        return -1;
    }
    if (!(job = cloneJobFromRecord(conn, rec)))
        return -1;
    CLONE_WARN("finishing the rollback of clone '%s' of '%s', interrupted in phase '%s'",
               job->name, job->src ? virDomainGetName(job->src) : cloneJobLockSourceUUID(lock),
               cloneJobPhaseTypeToString(job->phase));
    cloneMigJobWatchSource(job->mig);
    cloneRollback(job, job->phase, CLONE_JOB_PHASE_CHECK);
    if (virConnectIsAlive(conn) != 1) {
        virCloneReportError(VIR_CLONE_ERR_LIBVIRT, "%s",
                            _("the connection to libvirt closed while the rollback of an interrupted clone ran"));
        return -1;
    }
    /* the record goes only once the clone it started is gone */
    if (job->uuid && job->phase >= CLONE_JOB_PHASE_START_CLONE) {
        g_autoptr(virDomain) left = virDomainLookupByUUIDString(conn, job->uuid);

        if (left && virDomainIsActive(left) == 1) {
            virCloneReportError(VIR_CLONE_ERR_LIBVIRT,
                                _("the clone '%1$s' of an interrupted job still runs after its rollback: the job's record stays for the next try"),
                                job->name);
            return -1;
        }
        virResetLastError();
    }
    cloneJobRecordRemove(lock);
    return 1;
}


int
cloneJobRecoverSource(virConnectPtr conn, const char *runDir, const char *srcUUID, guint timeoutS)
{
    g_autoptr(cloneJobLock) lock = cloneJobLockAcquire(runDir, srcUUID, srcUUID, TRUE, timeoutS);

    if (!lock)
        return -1;
    return cloneJobRecoverLocked(conn, lock);
}


int
cloneJobsRecoverStale(virConnectPtr conn)
{
    g_autofree char *runDir = NULL;
    g_auto(GStrv) uuids = NULL;
    int recovered = 0;

    /* no clone job can have run on a connection without a run directory */
    if (cloneConnGetKind(conn, NULL) == CLONE_CONN_OTHER)
        return 0;
    if (!(runDir = cloneRunDir(conn)))
        return -1;
    uuids = cloneJobRecordList(runDir);
    for (guint i = 0; uuids[i]; i++) {
        g_autoptr(cloneJobLock) lock = cloneJobLockTry(runDir, uuids[i]);
        int rc;

        if (!lock)
            continue;   /* its owner is alive */
        if ((rc = cloneJobRecoverLocked(conn, lock)) < 0)
            return -1;
        recovered += rc;
    }
    return recovered;
}


/* The job's lock on its source, its own stale record finished first, and
 * on a daemon connection its guardian. */
static int
cloneJobBegin(cloneJob *job, gboolean wait)
{
    virConnectPtr conn = job->conn;
    g_autofree char *uri = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];

    /* a job on a source is keyed by the source; a domain started from a
     * template by its own UUID, chosen before the job begins */
    if (job->src) {
        if (virDomainGetUUIDString(job->src, uuid) < 0) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the domain's UUID"));
            return -1;
        }
    } else {
        g_strlcpy(uuid, job->uuid, sizeof(uuid));
    }
    /* the job's run directory, for its phases too */
    if (!(job->runDir = cloneRunDir(conn)) ||
        !(job->lock = cloneJobLockAcquire(job->runDir, uuid, cloneJobSourceName(job), wait,
                                          job->policy->timeoutS)) ||
        cloneJobRecoverLocked(conn, job->lock) < 0 ||
        cloneJobsRecoverStale(conn) < 0)
        return -1;
    if (cloneConnIsEmbedded(conn))
        return 0;   /* the next open of the root recovers */
    if (!(uri = virConnectGetURI(conn))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the connection's URI"));
        return -1;
    }
    return cloneGuardianStart(uri, uuid, &job->guardianPid, &job->guardianPipe);
}


/* The job is over: its record goes, unless its rollback could not finish
 * (libvirt went away): then the guardian, or the next entry point, takes
 * it over. */
static void
cloneJobEnd(cloneJob *job, gboolean ok)
{
    if (!job->lock)
        return;
    if (ok || virConnectIsAlive(job->conn) == 1)
        cloneJobRecordRemove(job->lock);
    else
        CLONE_WARN("the rollback of clone '%s' could not finish: its guardian, or the next use of the library on this connection, finishes it",
                   job->name ? job->name : "");
    g_clear_pointer(&job->lock, cloneJobLockRelease);
    cloneGuardianStop(&job->guardianPid, &job->guardianPipe);
}


int
cloneJobRun(cloneJob *job, gboolean wait)
{
    int rc;

    if (cloneJobBegin(job, wait) < 0) {
        cloneJobEnd(job, FALSE);
        return -1;
    }
    cloneMigJobWatchSource(job->mig);
    rc = cloneRunPhases(job);
    cloneJobEnd(job, rc == 0);
    if (rc < 0)
        return -1;
    /* a caller that dies from here on leaves a whole clone */
    if (cloneFaultPoint("job:ended") < 0)
        return -1;
    job->tDone = g_get_monotonic_time();
    cloneJobProgressEnd(job, TRUE);
    return 0;
}


/**
 * virDomainCloneLiveFull:
 * @dom: a running domain
 * @policyXML: a <clonepolicy> document, or NULL for the defaults
 * @cb: progress callback, or NULL
 * @opaque: passed to @cb
 * @stats: if not NULL, set to statistics of the clone (free them with
 *         virTypedParamsFree); see VIR_DOMAIN_CLONE_LIVE_STATS_*
 * @nstats: the number of @stats
 * @flags: bitwise-OR of virDomainCloneLiveFlags
 *
 * Creates a running copy of @dom that starts from its memory, CPU, device
 * and disk state, on the same connection.  @dom keeps running after a pause
 * of a few milliseconds.  The clone has its own name, UUID, MAC addresses
 * and generation ID; its writable disks are qcow2 overlays over the images
 * the source used at the switch-over instant, and the source continues on
 * new overlays of its own (libvirt's XML of the source follows).
 *
 * On failure nothing is left behind: no clone, no overlay, and the source
 * runs on a consistent disk chain.  That holds when the calling process
 * dies too: the job keeps a record of what it changed, and on a daemon
 * connection a guardian process finishes the rollback within a second of
 * the caller's death; under the embedded driver the next call of this
 * library on the same root does, before anything else.
 *
 * Returns the clone (free it with virDomainFree), or NULL with the thread's
 * last error set (virCloneGetLastError).
 *
 * Since: 0.1.0
 */
CLONE_EXPORT virDomainPtr
virDomainCloneLiveFull(virDomainPtr dom,
                       const char *policyXML,
                       virDomainCloneLiveProgressCallback cb,
                       void *opaque,
                       virTypedParameterPtr *stats,
                       int *nstats,
                       unsigned int flags)
{
    g_autoptr(cloneJob) job = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(VIR_DOMAIN_CLONE_LIVE_PAUSED | VIR_DOMAIN_CLONE_LIVE_PERSISTENT |
                    VIR_DOMAIN_CLONE_LIVE_WAIT | VIR_DOMAIN_CLONE_LIVE_PRECOPY |
                    VIR_DOMAIN_CLONE_LIVE_BACKGROUND, NULL);
    cloneCheckNonNull(dom, NULL);
    cloneCheckJobArgs(VIR_DOMAIN_CLONE_LIVE_PRECOPY, VIR_DOMAIN_CLONE_LIVE_BACKGROUND,
                      stats, nstats, NULL);
    if (!(job = cloneJobNew(dom, policyXML, flags)))
        return NULL;
    job->cb = cb;
    job->opaque = opaque;

    if (cloneJobRun(job, flags & VIR_DOMAIN_CLONE_LIVE_WAIT) < 0)
        return NULL;
    if (stats)
        cloneJobStats(job, stats, nstats);
    return g_steal_pointer(&job->clone);
}


/**
 * virDomainCloneLive:
 * @dom: a running domain
 * @policyXML: a <clonepolicy> document, or NULL for the defaults
 * @flags: bitwise-OR of virDomainCloneLiveFlags
 *
 * virDomainCloneLiveFull() without progress and statistics.
 *
 * Returns the clone, or NULL with the thread's last error set.
 *
 * Since: 0.1.0
 */
CLONE_EXPORT virDomainPtr
virDomainCloneLive(virDomainPtr dom, const char *policyXML, unsigned int flags)
{
    return virDomainCloneLiveFull(dom, policyXML, NULL, NULL, NULL, NULL, flags);
}


/**
 * virDomainCloneLivePhaseToString:
 *
 * Returns the name of a virDomainCloneLivePhase, or NULL.
 *
 * Since: 0.1.0
 */
CLONE_EXPORT const char *
virDomainCloneLivePhaseToString(int phase)
{
    return cloneProgressPhaseTypeToString(phase);
}
