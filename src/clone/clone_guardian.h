/*
 * clone_guardian.h: the guardian of a clone job on a daemon connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

/* The file descriptors the guardian gets, and its arguments. */
#define CLONE_GUARDIAN_PIDFD 3     /* a pidfd of the job's process */
#define CLONE_GUARDIAN_CONTROL 4   /* end of file: the job has ended */

/* Starts the guardian of the job on source @srcUUID of the connection
 * @uri, and waits until it has its own connection.  Sets @pid and
 * @control (the write end of its control pipe: close it when the job has
 * ended, after its record is gone or left for the guardian). */
int cloneGuardianStart(const char *uri, const char *srcUUID, GPid *pid, int *control);

/* Ends the job's side: closes @control.  The guardian exits by itself, at
 * once if there is no record left to recover; nobody needs to reap it. */
void cloneGuardianStop(GPid *pid, int *control);

/* Starts the guardian to finish the rollback of the stale job on source
 * @srcUUID of @uri now, and does not wait for it (the hook's way: it must
 * not call libvirt itself). */
int cloneGuardianRecover(const char *uri, const char *srcUUID);
/* Starts the guardian, detached, to delete the AUTO_DELETE templates left
 * without a domain once libvirt has let domain @releasedUUID go (the hook,
 * on the release of a template's domain). */
int cloneGuardianTemplateRelease(const char *uri, const char *releasedUUID);
