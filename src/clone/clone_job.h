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
#include "clone_strategy.h"
#include "clone_template.h"

/* The phases of a clone, in order (clone_live.c runs them; clone_job.c
 * maps each to the public virDomainCloneLivePhase of the progress API). */
typedef enum {
    CLONE_JOB_PHASE_CHECK,
    CLONE_JOB_PHASE_CHAIN,
    CLONE_JOB_PHASE_PLAN,
    CLONE_JOB_PHASE_STOP,            /* a reset: the clone's QEMU goes */
    CLONE_JOB_PHASE_SANDBOX,
    CLONE_JOB_PHASE_FILES,
    CLONE_JOB_PHASE_START_CLONE,
    CLONE_JOB_PHASE_LOAD,            /* a template's device state into the clone */
    CLONE_JOB_PHASE_TRANSFER,        /* up to the source paused at the switch-over instant */
    CLONE_JOB_PHASE_FORK,            /* the disk fork, inside that pause */
    CLONE_JOB_PHASE_TRANSFER_END,    /* the copy completes */
    CLONE_JOB_PHASE_FINISH_SOURCE,
    CLONE_JOB_PHASE_SAVE_TEMPLATE,   /* the template's RAM and device state kept */
    CLONE_JOB_PHASE_FINISH_CLONE,
    CLONE_JOB_PHASE_PERSIST,

    CLONE_JOB_PHASE_LAST
} cloneJobPhase;
CLONE_ENUM_DECL(cloneJobPhase);
/* the names of the public virDomainCloneLivePhase */
CLONE_ENUM_DECL(cloneProgressPhase);

/* What a job makes. */
typedef enum {
    CLONE_JOB_LIVE,              /* a live clone of a running source */
    CLONE_JOB_TEMPLATE,          /* a template of a running source */
    CLONE_JOB_FROM_TEMPLATE,     /* a domain started from a template */
    CLONE_JOB_RESET,             /* a template's domain put back at its instant */

    CLONE_JOB_KIND_LAST
} cloneJobKind;
CLONE_ENUM_DECL(cloneJobKind);

typedef struct _cloneJob cloneJob;
struct _cloneJob {
    cloneJobKind kind;
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
    /* the automatic choice (clone_strategy.h) */
    gboolean measured;           /* from a dirty rate, not by trying */
    guint64 dirtyRate;           /* the source's, bytes/s */
    guint64 copyRate;            /* the copy's, as predicted, bytes/s */
    cloneStrategyChoice choice;
    gint64 cloneResumedAt;       /* monotonic, when the clone's vCPUs ran */
    gint64 networkUpUs;          /* resume -> links up and addresses there */
    cloneIdentityResult guest;   /* the steps inside the guest */

    /* templates (clone_template.c) */
    char *templateName;          /* the template made, or started from */
    cloneTemplateRec *tmpl;      /* its record */
    char *runDir;                /* the connection's run directory, from
                                  * cloneJobBegin on (a recovered job: NULL) */
    int templateLock;            /* flock: exclusive while it is made, shared
                                  * while a domain starts from it; -1 */
    gboolean templateMade;       /* SAVE_TEMPLATE began: its files may exist */
    virDomainPtr resetDom;       /* RESET: the caller's domain (borrowed) */
    GThread *loadWriter;         /* LOAD: feeds the saved state to the clone */
    virCloneTemplatePtr handle;  /* FROM_TEMPLATE: the caller's (borrowed) */
    virCloneTemplateProgressCallback tcb;
    char *tmplRam;               /* the template's RAM file */
    char *tmplPolicy;            /* the policy in the domain's metadata */
    GStrv resetMacs;             /* RESET: the domain's MACs, in XML order */
    GPtrArray *resetOverlays;    /* RESET: the domain's own overlays */
    GStrv resetTops;             /* RESET: its disks' top images */
};

/* The name of the job's source for messages and %{source}: the domain, or
 * for a domain started from a template the template. */
const char *cloneJobSourceName(cloneJob *job);

/* clone_job.c */
cloneJob *cloneJobNew(virDomainPtr dom, const char *policyXML, unsigned int flags);
/* A job on @conn whose source @dom may be NULL (a domain from a template). */
cloneJob *cloneJobNewOn(virConnectPtr conn, virDomainPtr dom, const char *policyXML,
                        unsigned int flags);
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

/* clone_live.c */
/* Runs the job's phases under its lock (and guardian); 0, or -1 with an
 * error and everything undone. */
int cloneJobRun(cloneJob *job, gboolean wait);
/* finishing the rollback of jobs whose owner is gone */
/* Every stale job on @conn's host (its lock free, its record there):
 * returns how many were rolled back, or -1 with an error. */
int cloneJobsRecoverStale(virConnectPtr conn);
/* The job on source @srcUUID: waits up to @timeoutS for its lock, then
 * finishes its rollback if it left a record.  1 done, 0 no record, -1. */
int cloneJobRecoverSource(virConnectPtr conn, const char *runDir, const char *srcUUID,
                          guint timeoutS);
