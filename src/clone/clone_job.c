/*
 * clone_job.c: the state of one clone, its statistics, and its record
 *
 * The record (clone_jobrec.c keeps it on disk) holds what the undos of the
 * phases need, and nothing else: which files the job made, which domain it
 * started, what it changed on the source.  cloneJobFromRecord() gives the
 * undos a job again, so that a rollback finished by someone else is the
 * same rollback.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_job.h"

#include <unistd.h>

#define CLONE_RECORD_VERSION 1

CLONE_ENUM_IMPL(cloneJobPhase, CLONE_JOB_PHASE_LAST,
                "check", "chain", "plan", "stop", "sandbox", "files", "start-clone",
                "load", "transfer", "fork", "transfer-end", "finish-source",
                "save-template", "finish-clone", "persist");

CLONE_ENUM_IMPL(cloneJobKind, CLONE_JOB_KIND_LAST,
                "live", "template", "from-template", "reset");

CLONE_ENUM_IMPL(cloneProgressPhase, VIR_DOMAIN_CLONE_LIVE_PHASE_LAST,
                "prepare", "start-clone", "copy-ram", "switchover",
                "finish", "done", "rollback");

/* The one map from the job's phases to the public ones.  Pre-copy copies
 * RAM before the switch-over instant, the background snapshot after it: the
 * two halves of the transfer have a name for each strategy. */
static const struct {
    virDomainCloneLivePhase precopy;
    virDomainCloneLivePhase background;
} cloneJobPhasePublic[CLONE_JOB_PHASE_LAST] = {
#define CLONE_SAME(p) { VIR_DOMAIN_CLONE_LIVE_PHASE_##p, VIR_DOMAIN_CLONE_LIVE_PHASE_##p }
    [CLONE_JOB_PHASE_CHECK] = CLONE_SAME(PREPARE),
    [CLONE_JOB_PHASE_CHAIN] = CLONE_SAME(PREPARE),
    [CLONE_JOB_PHASE_PLAN] = CLONE_SAME(PREPARE),
    [CLONE_JOB_PHASE_STOP] = CLONE_SAME(PREPARE),
    [CLONE_JOB_PHASE_SANDBOX] = CLONE_SAME(PREPARE),
    [CLONE_JOB_PHASE_FILES] = CLONE_SAME(PREPARE),
    [CLONE_JOB_PHASE_START_CLONE] = CLONE_SAME(START_CLONE),
    [CLONE_JOB_PHASE_LOAD] = CLONE_SAME(COPY_RAM),
    [CLONE_JOB_PHASE_TRANSFER] = { VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM,
                                   VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER },
    [CLONE_JOB_PHASE_FORK] = CLONE_SAME(SWITCHOVER),
    [CLONE_JOB_PHASE_TRANSFER_END] = { VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER,
                                       VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM },
    [CLONE_JOB_PHASE_FINISH_SOURCE] = CLONE_SAME(FINISH),
    [CLONE_JOB_PHASE_SAVE_TEMPLATE] = CLONE_SAME(FINISH),
    [CLONE_JOB_PHASE_FINISH_CLONE] = CLONE_SAME(FINISH),
    [CLONE_JOB_PHASE_PERSIST] = CLONE_SAME(FINISH),
#undef CLONE_SAME
};


static void
cloneJobProgressReport(cloneJob *job, int phase, guint percent)
{
    /* "copied so far" never goes back, although QEMU's remaining count
     * grows while the guest dirties pages */
    if (phase == job->lastPhase && percent < job->lastPercent)
        percent = job->lastPercent;
    if ((!job->cb && !job->tcb) || (phase == job->lastPhase && percent == job->lastPercent))
        return;
    job->lastPhase = phase;
    job->lastPercent = percent;
    if (job->tcb)
        job->tcb(job->handle, phase, percent, job->opaque);
    else
        job->cb(job->src, phase, percent, job->opaque);
}


const char *
cloneJobSourceName(cloneJob *job)
{
    if (job->src)
        return virDomainGetName(job->src);
    return job->templateName ? job->templateName : "";
}


void
cloneJobProgress(cloneJob *job, guint percent)
{
    if (job->strategy == CLONE_STRATEGY_BACKGROUND)
        cloneJobProgressReport(job, cloneJobPhasePublic[job->phase].background, percent);
    else
        cloneJobProgressReport(job, cloneJobPhasePublic[job->phase].precopy, percent);
}


void
cloneJobProgressEnd(cloneJob *job, gboolean ok)
{
    if (ok)
        cloneJobProgressReport(job, VIR_DOMAIN_CLONE_LIVE_PHASE_DONE, 100);
    else
        cloneJobProgressReport(job, VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK, 0);
}



void
cloneJobFree(cloneJob *job)
{
    if (!job)
        return;
    g_clear_pointer(&job->identity, cloneIdentityFree);
    g_clear_pointer(&job->mig, cloneMigJobFree);
    g_clear_pointer(&job->plan, cloneDomainPlanFree);
    g_clear_pointer(&job->createdDirs, g_ptr_array_unref);
    g_clear_pointer(&job->clone, virDomainFree);
    g_clear_pointer(&job->lock, cloneJobLockRelease);
    if (job->recovered)
        g_clear_pointer(&job->src, virDomainFree);   /* looked up, not the caller's */
    if (job->templateLock >= 0)
        close(job->templateLock);
    g_free(job->templateName);
    g_clear_pointer(&job->tmpl, cloneTemplateRecFree);
    g_free(job->runDir);
    g_free(job->tmplRam);
    g_free(job->tmplPolicy);
    g_strfreev(job->resetMacs);
    g_clear_pointer(&job->resetOverlays, g_ptr_array_unref);
    g_strfreev(job->resetTops);
    clonePolicyFree(job->policy);
    g_free(job->srcXML);
    g_free(job->watchPidfile);
    g_free(job->name);
    g_free(job->uuid);
    g_free(job->stamp);
    g_free(job);
}



void
cloneJobStats(cloneJob *job, virTypedParameterPtr *stats, int *nstats)
{
    int max = 0;

    *stats = NULL;
    *nstats = 0;
    virTypedParamsAddString(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_NAME, job->name);
    virTypedParamsAddString(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_UUID, job->uuid);
    virTypedParamsAddString(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY,
                            cloneStrategyTypeToString(job->strategy));
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE,
                            (unsigned long long)MAX(job->transfer.pauseUs, 0));
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME,
                            (unsigned long long)MAX(job->transfer.downtimeMs, 0));
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL,
                            (unsigned long long)(job->tDone - job->tStart));
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START,
                            (unsigned long long)job->cloneStartUs);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK,
                            (unsigned long long)job->diskForkUs);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_BYTES,
                            job->transfer.bytes);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_PASSES,
                            job->transfer.passes);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS, job->fallbacks);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS,
                            job->guest.steps);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED,
                            job->guest.failures);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY,
                            (unsigned long long)job->guest.stepsUs);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP,
                            (unsigned long long)job->networkUpUs);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE,
                            job->measured ? job->dirtyRate : 0);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE,
                            job->measured ? job->copyRate : 0);
    virTypedParamsAddULLong(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES,
                            job->measured ? job->choice.passes : 0);
    if (job->kind != CLONE_JOB_LIVE && job->templateName)
        virTypedParamsAddString(stats, nstats, &max, VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE,
                                job->templateName);
}



static void
cloneJobMigProgress(guint percent, void *opaque)
{
    cloneJobProgress(opaque, percent);
}


static int
cloneJobMigSave(void *opaque)
{
    return cloneJobSave(opaque);
}


static cloneMigJob *
cloneJobMigNew(cloneJob *job)
{
    gint64 deadline = job->tStart + (gint64)job->policy->timeoutS * G_USEC_PER_SEC;

    return cloneMigJobNew(job->src, job->policy, deadline, cloneJobMigProgress, cloneJobMigSave, job);
}


cloneJob *
cloneJobNew(virDomainPtr dom, const char *policyXML, unsigned int flags)
{
    return cloneJobNewOn(virDomainGetConnect(dom), dom, policyXML, flags);
}


cloneJob *
cloneJobNewOn(virConnectPtr conn, virDomainPtr dom, const char *policyXML, unsigned int flags)
{
    g_autoptr(cloneJob) job = g_new0(cloneJob, 1);

    job->tStart = g_get_monotonic_time();
    job->src = dom;
    job->conn = conn;
    job->templateLock = -1;
    job->flags = flags;
    job->lastPhase = -1;
    job->guardianPipe = -1;
    job->createdDirs = g_ptr_array_new_with_free_func(g_free);
    if (!(job->policy = clonePolicyParse(policyXML)))
        return NULL;
    job->strategy = job->policy->strategy;
    job->strategyForced = job->strategy != CLONE_STRATEGY_AUTO;
    if (flags & VIR_DOMAIN_CLONE_LIVE_PRECOPY)
        job->strategy = CLONE_STRATEGY_PRECOPY;
    if (flags & VIR_DOMAIN_CLONE_LIVE_BACKGROUND)
        job->strategy = CLONE_STRATEGY_BACKGROUND;
    job->strategyForced |= (flags & (VIR_DOMAIN_CLONE_LIVE_PRECOPY |
                                     VIR_DOMAIN_CLONE_LIVE_BACKGROUND)) != 0;
    if (job->strategy == CLONE_STRATEGY_AUTO)
        job->strategy = CLONE_STRATEGY_PRECOPY;
    job->mig = cloneJobMigNew(job);
    return g_steal_pointer(&job);
}




/* ---- the record -------------------------------------------------------------- */

static void
cloneRecSetStr(JsonObject *o, const char *name, const char *value)
{
    if (value)
        json_object_set_string_member(o, name, value);
}


static JsonArray *
cloneRecStrArray(GPtrArray *strs)
{
    JsonArray *a = json_array_new();

    for (guint i = 0; strs && i < strs->len; i++)
        json_array_add_string_element(a, g_ptr_array_index(strs, i));
    return a;
}


static void
cloneRecSetObj(JsonObject *o, const char *name, JsonObject *value)
{
    if (value)
        json_object_set_object_member(o, name, json_object_ref(value));
}


static JsonObject *
cloneRecSource(cloneJob *job)
{
    JsonObject *o = json_object_new();
    const cloneMigJob *mig = job->mig;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";

    if (job->src && virDomainGetUUIDString(job->src, uuid) == 0)
        json_object_set_string_member(o, "uuid", uuid);
    cloneRecSetStr(o, "name", cloneJobSourceName(job));
    json_object_set_boolean_member(o, "wasRunning", mig->srcWasRunning);
    json_object_set_boolean_member(o, "pausedByUs", mig->srcPausedByUs);
    json_object_set_boolean_member(o, "migrationStarted", mig->migrationStarted);
    json_object_set_boolean_member(o, "forkAttempted", job->forkAttempted);
    json_object_set_boolean_member(o, "disksForked", job->disksForked);
    if (mig->srcSaved) {
        cloneRecSetObj(o, "savedCaps", mig->srcSaved->caps);
        cloneRecSetObj(o, "savedParams", mig->srcSaved->params);
        cloneRecSetObj(o, "setCaps", mig->srcCaps);
        cloneRecSetObj(o, "setParams", mig->srcParams);
    }
    return o;
}


/* The files of the plan.  Every path here was checked absent when the plan
 * was made, so once the files phase has begun each one that exists is the
 * job's own (written before they are made: a death halfway leaves nothing
 * that the record does not name). */
static JsonObject *
cloneRecFiles(cloneJob *job)
{
    cloneDomainPlan *plan = job->plan;
    JsonObject *o = json_object_new();
    JsonArray *disks = json_array_new();
    g_autoptr(GPtrArray) copies = g_ptr_array_new();

    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);
        JsonObject *disk;

        if (d->action != CLONE_DISK_FORK)
            continue;
        disk = json_object_new();
        cloneRecSetStr(disk, "target", d->target);
        cloneRecSetStr(disk, "cloneOverlay", d->cloneOverlay);
        cloneRecSetStr(disk, "sourceOverlay", d->sourceOverlay);
        json_array_add_object_element(disks, disk);
    }
    json_object_set_array_member(o, "disks", disks);
    for (guint i = 0; i < plan->copies->len; i++)
        g_ptr_array_add(copies, ((cloneCopy *)g_ptr_array_index(plan->copies, i))->to);
    json_object_set_array_member(o, "copies", cloneRecStrArray(copies));
    json_object_set_array_member(o, "owned", cloneRecStrArray(plan->ownedFiles));
    json_object_set_array_member(o, "dirs", cloneRecStrArray(job->createdDirs));
    if (plan->tpmClone) {
        JsonObject *tpm = json_object_new();

        cloneRecSetStr(tpm, "from", plan->tpmStateFrom);
        cloneRecSetStr(tpm, "to", plan->tpmStateTo);
        json_object_set_boolean_member(tpm, "isDir", plan->tpmStateIsDir);
        json_object_set_object_member(o, "tpm", tpm);
    }
    return o;
}


JsonObject *
cloneJobToRecord(cloneJob *job)
{
    JsonObject *rec = json_object_new();
    g_autofree char *uri = virConnectGetURI(job->conn);

    json_object_set_int_member(rec, "version", CLONE_RECORD_VERSION);
    json_object_set_int_member(rec, "pid", getpid());
    json_object_set_int_member(rec, "guardian", job->guardianPid);
    cloneRecSetStr(rec, "uri", uri);
    json_object_set_string_member(rec, "phase", cloneJobPhaseTypeToString(job->phase));
    json_object_set_string_member(rec, "kind", cloneJobKindTypeToString(job->kind));
    if (job->templateName) {
        JsonObject *t = json_object_new();

        json_object_set_string_member(t, "name", job->templateName);
        json_object_set_boolean_member(t, "made", job->templateMade);
        json_object_set_object_member(rec, "template", t);
    }
    json_object_set_string_member(rec, "strategy", cloneStrategyTypeToString(job->strategy));
    json_object_set_object_member(rec, "source", cloneRecSource(job));
    if (job->plan) {
        JsonObject *clone = json_object_new();

        cloneRecSetStr(clone, "name", job->name);
        cloneRecSetStr(clone, "uuid", job->plan->cloneUUID);
        json_object_set_boolean_member(clone, "defined", job->cloneDefined);
        cloneRecSetStr(clone, "sandboxBridge", job->plan->sandboxBridge);
        cloneRecSetStr(clone, "watchPidfile", job->watchPidfile);
        json_object_set_object_member(rec, "clone", clone);
        if (job->phase >= CLONE_JOB_PHASE_FILES)
            json_object_set_object_member(rec, "files", cloneRecFiles(job));
    }
    return rec;
}


int
cloneJobSave(cloneJob *job)
{
    g_autoptr(JsonObject) rec = NULL;

    if (!job->lock)
        return 0;
    rec = cloneJobToRecord(job);
    return cloneJobRecordSave(job->lock, rec);
}


/* ---- a job again, from its record ------------------------------------------ */

static const char *
cloneRecStr(JsonObject *o, const char *name)
{
    return o ? json_object_get_string_member_with_default(o, name, NULL) : NULL;
}


static gboolean
cloneRecBool(JsonObject *o, const char *name)
{
    return o && json_object_get_boolean_member_with_default(o, name, FALSE);
}


static JsonObject *
cloneRecObj(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;

    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}


static void
cloneRecStrings(JsonObject *o, const char *name, GPtrArray *into)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    JsonArray *a = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        const char *s = json_array_get_string_element(a, i);

        if (s && g_path_is_absolute(s))
            g_ptr_array_add(into, g_strdup(s));
    }
}


static void
cloneRecPlanDisks(JsonObject *files, cloneDomainPlan *plan)
{
    JsonNode *n = json_object_get_member(files, "disks");
    JsonArray *a = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);
        cloneDisk *d = g_new0(cloneDisk, 1);

        d->action = CLONE_DISK_FORK;
        d->target = g_strdup(cloneRecStr(o, "target"));
        d->cloneOverlay = g_strdup(cloneRecStr(o, "cloneOverlay"));
        d->sourceOverlay = g_strdup(cloneRecStr(o, "sourceOverlay"));
        d->cloneOverlayCreated = d->cloneOverlay && g_path_is_absolute(d->cloneOverlay);
        d->sourceOverlayCreated = d->sourceOverlay && g_path_is_absolute(d->sourceOverlay);
        g_ptr_array_add(plan->disks, d);
    }
}


static cloneDomainPlan *
cloneRecPlan(JsonObject *rec)
{
    JsonObject *clone = cloneRecObj(rec, "clone");
    JsonObject *files = cloneRecObj(rec, "files");
    JsonObject *tpm = cloneRecObj(files, "tpm");
    g_autoptr(cloneDomainPlan) plan = cloneDomainPlanNew();
    g_autoptr(GPtrArray) copies = g_ptr_array_new_with_free_func(g_free);

    plan->cloneUUID = g_strdup(cloneRecStr(clone, "uuid"));
    plan->sourceUUID = g_strdup(cloneRecStr(cloneRecObj(rec, "source"), "uuid"));
    plan->sandboxBridge = g_strdup(cloneRecStr(clone, "sandboxBridge"));
    if (!files)
        return g_steal_pointer(&plan);
    cloneRecPlanDisks(files, plan);
    cloneRecStrings(files, "copies", copies);
    for (guint i = 0; i < copies->len; i++) {
        cloneCopy *c = g_new0(cloneCopy, 1);

        c->to = g_strdup(g_ptr_array_index(copies, i));
        c->created = TRUE;
        g_ptr_array_add(plan->copies, c);
    }
    cloneRecStrings(files, "owned", plan->ownedFiles);
    if (tpm) {
        plan->tpmClone = TRUE;
        plan->tpmStateFrom = g_strdup(cloneRecStr(tpm, "from"));
        plan->tpmStateTo = g_strdup(cloneRecStr(tpm, "to"));
        plan->tpmStateIsDir = cloneRecBool(tpm, "isDir");
        plan->tpmStateCreated = TRUE;
    }
    return g_steal_pointer(&plan);
}


static void
cloneRecSourceState(cloneJob *job, JsonObject *src)
{
    JsonObject *caps = cloneRecObj(src, "savedCaps");
    JsonObject *params = cloneRecObj(src, "savedParams");
    cloneMigJob *mig = job->mig;

    mig->srcWasRunning = cloneRecBool(src, "wasRunning");
    mig->srcPausedByUs = cloneRecBool(src, "pausedByUs");
    mig->migrationStarted = cloneRecBool(src, "migrationStarted");
    job->forkAttempted = cloneRecBool(src, "forkAttempted");
    job->disksForked = cloneRecBool(src, "disksForked");
    if (caps && params) {
        mig->srcSaved = g_new0(cloneMigSettings, 1);
        mig->srcSaved->caps = json_object_ref(caps);
        mig->srcSaved->params = json_object_ref(params);
        mig->srcCaps = cloneRecObj(src, "setCaps") ? json_object_ref(cloneRecObj(src, "setCaps")) : NULL;
        mig->srcParams = cloneRecObj(src, "setParams") ? json_object_ref(cloneRecObj(src, "setParams")) : NULL;
    }
}


/* The domain with @uuid, or NULL if libvirt says there is none; anything
 * else libvirt says (it is starting, it went away) is an error: a rollback
 * must not take "cannot tell" for "gone". */
static int
cloneRecLookup(virConnectPtr conn, const char *uuid, virDomainPtr *dom)
{
    virErrorPtr err;

    if ((*dom = virDomainLookupByUUIDString(conn, uuid)))
        return 0;
    err = virGetLastError();
    if (err && err->code == VIR_ERR_NO_DOMAIN) {
        virResetLastError();
        return 0;
    }
    virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                               _("cannot look up domain %1$s to finish the rollback of its clone"),
                               uuid);
    return -1;
}


cloneJob *
cloneJobFromRecord(virConnectPtr conn, JsonObject *rec)
{
    g_autoptr(cloneJob) job = g_new0(cloneJob, 1);
    JsonObject *src = cloneRecObj(rec, "source");
    JsonObject *clone = cloneRecObj(rec, "clone");
    JsonObject *tmpl = cloneRecObj(rec, "template");
    const char *srcUUID = cloneRecStr(src, "uuid");
    int phase = cloneJobPhaseTypeFromString(cloneRecStr(rec, "phase"));
    const char *kindStr = cloneRecStr(rec, "kind");
    int kind = kindStr ? cloneJobKindTypeFromString(kindStr) : CLONE_JOB_LIVE;
    gboolean fromTemplate = kind == CLONE_JOB_FROM_TEMPLATE || kind == CLONE_JOB_RESET;

    if (json_object_get_int_member_with_default(rec, "version", 0) != CLONE_RECORD_VERSION ||
        (!srcUUID && !fromTemplate) || phase < 0 || kind < 0 ||
        (kind != CLONE_JOB_LIVE && !cloneRecStr(tmpl, "name"))) {
        virCloneReportError(VIR_CLONE_ERR_INTERNAL, "%s",
                            _("a job record of an unknown form: it is left for a person to look at"));
        return NULL;
    }
    job->recovered = TRUE;
    job->conn = conn;
    if (!(job->policy = clonePolicyParse(NULL)))
        return NULL;
    job->lastPhase = -1;
    job->guardianPipe = -1;
    job->templateLock = -1;
    job->phase = phase;
    job->strategy = cloneStrategyTypeFromString(cloneRecStr(rec, "strategy"));
    job->kind = kind;
    job->templateName = g_strdup(cloneRecStr(tmpl, "name"));
    job->templateMade = cloneRecBool(tmpl, "made");
    if (srcUUID && cloneRecLookup(conn, srcUUID, &job->src) < 0)
        return NULL;
    job->createdDirs = g_ptr_array_new_with_free_func(g_free);
    job->name = g_strdup(cloneRecStr(clone, "name") ? cloneRecStr(clone, "name") : "?");
    job->tStart = g_get_monotonic_time();
    job->mig = cloneJobMigNew(job);
    cloneRecSourceState(job, src);
    if (clone) {
        job->plan = cloneRecPlan(rec);
        job->uuid = g_strdup(job->plan->cloneUUID);
        job->cloneDefined = cloneRecBool(clone, "defined");
        job->watchPidfile = g_strdup(cloneRecStr(clone, "watchPidfile"));
        if (job->uuid && cloneRecLookup(conn, job->uuid, &job->clone) < 0)
            return NULL;
        job->mig->clone = job->clone;
        cloneRecStrings(cloneRecObj(rec, "files"), "dirs", job->createdDirs);
    }
    return g_steal_pointer(&job);
}
