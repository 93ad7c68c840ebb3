/*
 * clone_job.h: the state of one live clone as it goes through its phases
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_domxml.h"
#include "clone_identity.h"
#include "clone_jobrec.h"
#include "clone_policy.h"
#include "clone_migrate.h"

/* The phases of a clone, in order (clone_live.c runs them; clone_job.c
 * maps each to the public virDomainCloneLivePhase of the progress API). */
typedef enum {
    CLONE_JOB_PHASE_CHECK,
    CLONE_JOB_PHASE_CHAIN,
    CLONE_JOB_PHASE_PLAN,
    CLONE_JOB_PHASE_SANDBOX,
    CLONE_JOB_PHASE_FILES,
    CLONE_JOB_PHASE_START_CLONE,
    CLONE_JOB_PHASE_TRANSFER,        /* up to the source paused at the switch-over instant */
    CLONE_JOB_PHASE_FORK,            /* the disk fork, inside that pause */
    CLONE_JOB_PHASE_TRANSFER_END,    /* the copy completes */
    CLONE_JOB_PHASE_FINISH_SOURCE,
    CLONE_JOB_PHASE_FINISH_CLONE,
    CLONE_JOB_PHASE_PERSIST,

    CLONE_JOB_PHASE_LAST
} cloneJobPhase;
CLONE_ENUM_DECL(cloneJobPhase);
/* the names of the public virDomainCloneLivePhase */
CLONE_ENUM_DECL(cloneProgressPhase);

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
    cloneMigJob *mig;            /* the transfer, and what it changed on the source */
    cloneIdentity *identity;     /* the steps inside the guest, from the plan on */
    gboolean disksForked;

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
    gint64 tDone;
    cloneTransferResult transfer;
    guint fallbacks;
    gint64 cloneResumedAt;       /* monotonic, when the clone's vCPUs ran */
    gint64 networkUpUs;          /* resume -> links up and addresses there */
    cloneIdentityResult guest;   /* the steps inside the guest */
};

/* clone_job.c */
cloneJob *cloneJobNew(virDomainPtr dom, const char *policyXML, unsigned int flags);
void cloneJobFree(cloneJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneJob, cloneJobFree);
/* Reports @percent of the job's phase, under its public name. */
void cloneJobProgress(cloneJob *job, guint percent);
/* Reports the end of the job: DONE, or ROLLBACK. */
void cloneJobProgressEnd(cloneJob *job, gboolean ok);
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
