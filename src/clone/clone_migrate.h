/*
 * clone_migrate.h: moving the source's memory and device state into the
 * clone, with a context of its own
 *
 * A transfer runs in two halves around the switch-over instant: the first
 * ends with the source paused at that instant (pre-copy: QEMU paused it
 * before the switch-over; background: we paused it before the snapshot),
 * the second finishes the copy.  Between the two the caller does what must
 * happen while the source is paused (the disk fork).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_migmon.h"
#include "clone_migparams.h"
#include "clone_policy.h"

/* returned by the first half of a pre-copy transfer to ask the caller to
 * retry with the background strategy (automatic choice, no convergence) */
#define CLONE_PHASE_RETRY_BACKGROUND 1

/* What a transfer measured, for the job's statistics. */
typedef struct {
    guint64 bytes;               /* sent by the source */
    guint64 passes;              /* over the RAM */
    gint64 pauseUs;              /* STOP -> RESUME, as QEMU stamped them */
    gint64 downtimeMs;           /* as QEMU computed it */
    gint64 copyUs;               /* "migrate" to the source's completion */
} cloneTransferResult;

/* progress of the copy, 0-100 */
typedef void (*cloneMigProgressFunc)(guint percent, void *opaque);
/* writes the owner's record: called before each change that an undo after
 * a death must know about */
typedef int (*cloneMigSaveFunc)(void *opaque);

typedef struct _cloneMigJob cloneMigJob;
struct _cloneMigJob {
    /* given by the owner */
    virDomainPtr src;              /* borrowed; NULL: a recovered job's source is gone */
    virDomainPtr clone;            /* borrowed; NULL until the clone runs */
    const clonePolicy *policy;     /* borrowed */
    gint64 deadline;               /* monotonic: the whole job's timeout */
    cloneMigProgressFunc progress;
    cloneMigSaveFunc save;
    void *opaque;

    /* the source's state, as the record keeps it */
    gboolean srcWasRunning;        /* running (not paused) when the clone began */
    gboolean srcPausedByUs;
    gboolean migrationStarted;
    cloneMigSettings *srcSaved;    /* its settings before the transfer */
    JsonObject *srcCaps;           /* what the transfer set on it */
    JsonObject *srcParams;

    cloneMigMon *srcMon;
    cloneMigMon *cloneMon;

    gint64 dirtyRateStartUs;       /* monotonic: calc-dirty-rate asked; 0: not */
    gint64 goUs;                   /* monotonic: "migrate" sent */
    guint maxPasses;               /* pre-copy: passes before it is given up; 0: never */

    cloneTransferResult result;
};

cloneMigJob *cloneMigJobNew(virDomainPtr src, const clonePolicy *policy, gint64 deadline,
                            cloneMigProgressFunc progress, cloneMigSaveFunc save, void *opaque);
void cloneMigJobFree(cloneMigJob *mig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneMigJob, cloneMigJobFree);

/* Follows the source's migration events from now on. */
void cloneMigJobWatchSource(cloneMigJob *mig);
/* The clone @clone (borrowed) listens, or NULL: it is gone. */
void cloneMigJobSetClone(cloneMigJob *mig, virDomainPtr clone);

/* First half of pre-copy: returns 0 once QEMU paused the source before the
 * switch-over, CLONE_PHASE_RETRY_BACKGROUND if @maxPasses is not 0 and
 * the copy did not converge in that many passes, -1 on error. */
int cloneTransferPrecopyToSwitchover(cloneMigJob *mig, guint maxPasses);
/* Second half of pre-copy: the switch-over, to completion. */
int cloneTransferPrecopyComplete(cloneMigJob *mig);
/* First half of a background snapshot: both QEMUs set up, the source
 * paused (if it ran). */
int cloneTransferBackgroundToSwitchover(cloneMigJob *mig);
/* Second half: the snapshot starts, the source runs again once RAM pages
 * flow, the copy completes. */
int cloneTransferBackgroundComplete(cloneMigJob *mig);

/* Asks the source's QEMU to sample its dirty rate (calc-dirty-rate, in
 * the background): 0, or -1 and no error where QEMU cannot (before 8.2,
 * which has no millisecond samples). */
int cloneTransferDirtyRateStart(cloneMigJob *mig);
/* The sample's result in bytes/s, waiting for it until its end and a
 * moment more: 0, or -1 and no error. */
int cloneTransferDirtyRateResult(cloneMigJob *mig, guint64 *bytesPerS);

/* Cancels a started migration (undo of a second half). */
void cloneTransferCancel(cloneMigJob *mig);
/* Cancels, makes sure the source runs, restores its settings (undo of a
 * first half). */
void cloneTransferAbort(cloneMigJob *mig);

/* The source's side is complete: resume it if it waits for us, measure,
 * restore its settings.  @precopy: QEMU paused it at the switch-over. */
int cloneTransferFinishSource(cloneMigJob *mig, gboolean precopy);
/* Waits for the clone's side to complete. */
int cloneTransferWaitClone(cloneMigJob *mig);
