/*
 * clone_job.h: the state of one live clone as it goes through its phases
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_domxml.h"
#include "clone_jobrec.h"
#include "clone_policy.h"
#include "clone_migmon.h"
#include "clone_migparams.h"

/* returned by a phase to ask the orchestrator to retry with the background
 * strategy (automatic choice, pre-copy did not converge) */
#define CLONE_PHASE_RETRY_BACKGROUND 1

/* The phases of a clone, in order (clone_live.c runs them). */
typedef enum {
    CLONE_JOB_PHASE_CHECK,
    CLONE_JOB_PHASE_CHAIN,
    CLONE_JOB_PHASE_PLAN,
    CLONE_JOB_PHASE_SANDBOX,
    CLONE_JOB_PHASE_FILES,
    CLONE_JOB_PHASE_START_CLONE,
    CLONE_JOB_PHASE_TRANSFER,
    CLONE_JOB_PHASE_FINISH_SOURCE,
    CLONE_JOB_PHASE_FINISH_CLONE,
    CLONE_JOB_PHASE_PERSIST,

    CLONE_JOB_PHASE_LAST
} cloneJobPhase;
CLONE_ENUM_DECL(cloneJobPhase);

typedef struct _cloneJob cloneJob;
struct _cloneJob {
    virConnectPtr conn;          /* the source's connection (borrowed) */
    virDomainPtr src;            /* NULL in a recovered job whose source is gone */
    unsigned int flags;
    clonePolicy *policy;
    cloneStrategy strategy;      /* precopy or background once decided */
    gboolean strategyForced;

    char *srcXML;
    char *name;
    guint nameNumber;            /* %{n} of the name template, 0: none */
    char *uuid;
    char *stamp;
    cloneDomainPlan *plan;
    GPtrArray *createdDirs;      /* overlay directories this clone made */
    gboolean tcg;
    int qemuMajor;
    int qemuMinor;

    virDomainPtr clone;
    gboolean cloneDefined;
    char *watchPidfile;          /* the sandbox alert watcher, if started */
    cloneMigMon *srcMon;
    cloneMigMon *cloneMon;
    cloneMigSettings *srcSaved;
    JsonObject *srcCaps;         /* what we set on the source */
    JsonObject *srcParams;
    gboolean migrationStarted;
    gboolean disksForked;
    gboolean srcPausedByUs;
    gboolean srcWasRunning;      /* running (not paused) when the clone began */

    gboolean forkAttempted;      /* the disk fork was asked of libvirt */

    /* crash safety: the job's record and lock, and its guardian */
    cloneJobLock *lock;
    cloneJobPhase phase;         /* the phase that runs */
    GPid guardianPid;            /* 0: none (embedded driver) */
    int guardianPipe;            /* write end: closed when the job ends */
    gboolean recovered;          /* rebuilt from a stale record */

    virDomainCloneLiveProgressCallback cb;
    void *opaque;
    int lastPhase;
    guint lastPercent;

    gint64 tStart;
    gint64 cloneStartUs;
    gint64 diskForkUs;
    gint64 pauseUs;              /* STOP -> RESUME, as QEMU stamped them */
    gint64 tDone;
    guint64 bytes;
    guint64 passes;
    gint64 downtimeMs;
    guint fallbacks;
    gint64 cloneResumedAt;       /* monotonic, when the clone's vCPUs ran */
    gint64 guestStepsUs;         /* identity steps inside the guest */
    gint64 networkUpUs;          /* resume -> links up and addresses there */
    guint guestSteps;            /* steps inside the guest carried out */
    guint guestFailures;         /* steps that failed (on-failure='warn') */
    gboolean agentMissing;       /* no agent channel: no step can run */
};

/* clone_job.c */
cloneJob *cloneJobNew(virDomainPtr dom, const char *policyXML, unsigned int flags);
void cloneJobFree(cloneJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneJob, cloneJobFree);
void cloneJobProgress(cloneJob *job, int phase, guint percent);
void cloneJobStats(cloneJob *job, virTypedParameterPtr *stats, int *nstats);
/* Writes what undoing the job needs into its record (no-op without one). */
int cloneJobSave(cloneJob *job);
/* The record of @job, as cloneJobSave writes it. */
JsonObject *cloneJobToRecord(cloneJob *job);
/* A job rebuilt from a record on @conn, ready for its undos; the source
 * and the clone are looked up again and may be NULL (gone). */
cloneJob *cloneJobFromRecord(virConnectPtr conn, JsonObject *record);

/* clone_live.c: finishing the rollback of jobs whose owner is gone */
/* Every stale job on @conn's host (its lock free, its record there):
 * returns how many were rolled back, or -1 with an error. */
int cloneJobsRecoverStale(virConnectPtr conn);
/* The job on source @srcUUID: waits up to @timeoutS for its lock, then
 * finishes its rollback if it left a record.  1 done, 0 no record, -1. */
int cloneJobRecoverSource(virConnectPtr conn, const char *runDir, const char *srcUUID,
                          guint timeoutS);

/* clone_migrate.c */
int cloneTransferPrecopy(cloneJob *job);
int cloneTransferBackground(cloneJob *job);
void cloneTransferAbort(cloneJob *job);
int cloneTransferWaitClone(cloneJob *job);
int cloneSourceResume(cloneJob *job);
void cloneSourceRestoreSettings(cloneJob *job);
