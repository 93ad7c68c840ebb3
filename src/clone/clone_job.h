/*
 * clone_job.h: the state of one live clone as it goes through its phases
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_domxml.h"
#include "clone_policy.h"
#include "clone_qmp.h"

/* returned by a phase to ask the orchestrator to retry with the background
 * strategy (automatic choice, pre-copy did not converge) */
#define CLONE_PHASE_RETRY_BACKGROUND 1

typedef struct _cloneJob cloneJob;
struct _cloneJob {
    virDomainPtr src;
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

void cloneJobProgress(cloneJob *job, int phase, guint percent);

/* clone_migrate.c */
int cloneTransferPrecopy(cloneJob *job);
int cloneTransferBackground(cloneJob *job);
void cloneTransferAbort(cloneJob *job);
int cloneTransferWaitClone(cloneJob *job);
int cloneSourceResume(cloneJob *job);
void cloneSourceRestoreSettings(cloneJob *job);
