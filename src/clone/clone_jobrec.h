/*
 * clone_jobrec.h: job records, so that a clone's rollback never depends on
 * the process that asked for the clone
 *
 * A job on a source holds RUNDIR/jobs/SOURCE-UUID.lock (flock) while it
 * runs, and keeps RUNDIR/jobs/SOURCE-UUID.json up to date with what it has
 * changed and what undoing it needs.  A record whose lock nobody holds is
 * stale: its owner died, or its rollback could not finish.  Whoever takes
 * the lock then (the job's guardian, the next clone, reap, sandbox-watch)
 * finishes the rollback from the record.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

#include <json-glib/json-glib.h>

/* The run directory of @conn's driver: CLONE_RUN_DIR for qemu:///system,
 * ROOT/run/libvirt-clone for qemu:///embed?root=ROOT, and
 * $XDG_RUNTIME_DIR/libvirt-clone for qemu:///session.  NULL with an error
 * for a connection whose host files are not ours (a remote URI). */
char *cloneRunDir(virConnectPtr conn);

/* TRUE for qemu:///embed: the driver lives in the caller's process, and no
 * other process can open the root while it does. */
gboolean cloneConnIsEmbedded(virConnectPtr conn);

typedef struct _cloneJobLock cloneJobLock;

/* Takes the lock of the jobs on source @srcUUID in @runDir.  With @wait
 * FALSE a held lock is VIR_CLONE_ERR_BUSY; with @wait TRUE it waits up to
 * @timeoutS seconds.  @srcName is for messages. */
cloneJobLock *cloneJobLockAcquire(const char *runDir, const char *srcUUID,
                                  const char *srcName, gboolean wait, guint timeoutS);
/* Takes the lock only if nobody holds it: NULL without an error otherwise. */
cloneJobLock *cloneJobLockTry(const char *runDir, const char *srcUUID);
void cloneJobLockRelease(cloneJobLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneJobLock, cloneJobLockRelease);
const char *cloneJobLockSourceUUID(const cloneJobLock *lock);
const char *cloneJobLockRunDir(const cloneJobLock *lock);

/* Whether a job on @srcUUID is running now (someone holds its lock). */
gboolean cloneJobLockHeld(const char *runDir, const char *srcUUID);

/* The record of the lock's source: written whole (a new file renamed over
 * the old one, mode 0600), read back, removed. */
int cloneJobRecordSave(cloneJobLock *lock, JsonObject *record);
/* 1 and @record, 0 if there is none, -1 with an error if it is unreadable. */
int cloneJobRecordLoad(cloneJobLock *lock, JsonObject **record);
void cloneJobRecordRemove(cloneJobLock *lock);

/* The source UUIDs that have a record in @runDir (none: an empty list). */
GStrv cloneJobRecordList(const char *runDir);

/* ---- test-only fault points ------------------------------------------------ */

/* With -Dtest_faults=true and LIBVIRT_CLONE_FAULT=POINT:ACTION[,...] in the
 * environment, reaching POINT does ACTION: "kill" (SIGKILL of the calling
 * process), "fail" (the step fails with an error), or "wait" (creates
 * $LIBVIRT_CLONE_FAULT_DIR/POINT and waits, at most 120 s, until a test
 * has removed it, so that the test can inject its fault at that instant).
 * Returns -1 with an error for "fail", else 0.  Without the option it
 * compiles to nothing. */
int cloneFaultPoint(const char *point);
