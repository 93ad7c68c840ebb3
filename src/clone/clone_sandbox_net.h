/*
 * clone_sandbox_net.h: the isolated bridge of sandbox clones (netlink)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"
#include "clone_policy.h"

/* The bridge shared by all sandbox clones of a host, unless a caller names
 * another one. */
#define CLONE_SANDBOX_BRIDGE CLONE_SANDBOX_DEFAULT_BRIDGE

/* Creates @bridge if it is missing: a Linux bridge with no uplink, no
 * address, IPv6 off (no link-local address, set before it goes up), IPv4
 * neither forwarded nor answered (ARP), STP off, up.  If it exists, checks
 * that it is a bridge and applies the same settings again.  Ports and
 * addresses are not looked at: that is cloneSandboxVerify's job.
 * Returns 0, or -1 with an error reported. */
int cloneSandboxBridgeEnsure(const char *bridge);

/* Checks, through netlink only, that @bridge isolates its ports: it exists,
 * is a bridge, is nobody's port, has no IPv4 or IPv6 address, does not
 * forward IPv4 nor answer ARP, generates no IPv6 address, and every one of
 * its ports is isolated (IFLA_BRPORT_ISOLATED).  Every name of
 * @expectedPorts (NULL-terminated, may be NULL) must be one of its ports.
 * Returns 0, or -1 with an error that names the first problem found. */
int cloneSandboxVerify(const char *bridge, const char *const *expectedPorts);

/* Deletes @bridge if it has no port.  Returns 1 if it was deleted, 0 if it
 * was kept (it has ports) or did not exist, -1 with an error reported. */
int cloneSandboxBridgeRemoveIfUnused(const char *bridge);

/* The names of the ports of @bridge (NULL-terminated, g_strfreev), or NULL
 * with an error reported. */
char **cloneSandboxBridgePorts(const char *bridge);

/* Whether @name can be a network interface's name; reports an error if not. */
gboolean cloneSandboxBridgeNameCheck(const char *name);
