/*
 * clone_identity.h: the clone's identity inside the guest, through the QEMU
 * guest agent: MACs, addresses, host name, machine-id
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_job.h"

/* Whether the policy asks for steps inside the guest of this clone. */
gboolean cloneIdentityHasGuestSteps(const cloneJob *job);

/* Before anything starts: the steps need a guest agent channel in the
 * source and a running clone.  Fails, or warns, as the policy says. */
int cloneIdentityCheck(cloneJob *job);

/* With the clone running and its links down: give each NIC inside the
 * guest its new MAC, remove the source's addresses, set the host name and
 * a new machine-id.  On return @keepDown holds the clone MACs of the NICs
 * whose link must stay down (the guest still uses the source's MAC after
 * a step failed with on-failure='warn'). */
int cloneIdentityGuestSteps(cloneJob *job, GHashTable *keepDown);

/* Once the links are up: addresses from the policy (static) or a DHCP
 * client inside the guest, then waits for them. */
int cloneIdentityAddresses(cloneJob *job, GHashTable *keepDown);
