/*
 * clone_tpm.h: the vTPM (swtpm) of a clone
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_domxml.h"
#include "clone_policy.h"

/* Refuses, before anything starts, a source whose vTPM the clone cannot
 * have: a backend other than swtpm ("emulator"), or a policy that says
 * <tpm mode='refuse'/> (the default).  Returns 0 (also for a domain
 * without a vTPM) or -1 with an error. */
int cloneTpmAllowed(const char *srcName, const char *backendType, const clonePolicy *policy);
int cloneTpmCheck(const char *srcXML, const char *srcName, const clonePolicy *policy);

/* libvirt's directory of swtpm state per domain UUID for @conn:
 * /var/lib/libvirt/swtpm (qemu:///system), ROOT/lib/swtpm (qemu:///embed),
 * $XDG_CONFIG_HOME/libvirt/qemu/swtpm (qemu:///session); NULL, without an
 * error, for a connection to another host. */
char *cloneTpmStorageDir(virConnectPtr conn);

/* Copies the source's swtpm state to where libvirt looks for the clone's
 * (owner and mode kept), so that libvirt does not run swtpm_setup for a
 * TPM that the migration replaces.  The copy must not exist yet.  Does
 * nothing unless @plan clones a vTPM; a source state that cannot be found
 * is a warning, not an error (libvirt then makes a TPM that the migration
 * overwrites).  Sets plan->tpmStateCreated once it has created anything. */
int cloneTpmCopyState(virConnectPtr conn, cloneDomainPlan *plan);

/* Removes what cloneTpmCopyState created (libvirt may have removed it
 * already: destroying a transient domain deletes its swtpm state). */
void cloneTpmRemoveState(virConnectPtr conn, cloneDomainPlan *plan);
