/*
 * testutils-net.h: test networks of a test's own making (bridges with a
 * fixed MAC, busybox's DHCP server) and commands run by argv
 *
 * Names of bridges end in the pid of the test that made them, so that a run
 * can remove what runs that died left behind (tnReapStale).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

/* Runs a command (argv, no shell, searched in PATH); a failure is fatal
 * (g_error) unless @mayFail, then FALSE. */
gboolean tnRun(gboolean mayFail, const char *first, ...) G_GNUC_NULL_TERMINATED;

typedef struct _TnBridge TnBridge;

/* Deletes the links named PREFIX<pid> whose process is gone. */
void tnReapStale(const char *prefix);

/* A bridge named PREFIX<pid>, up, without STP, forwarding at once, with
 * the MAC @mac (a bridge otherwise takes its ports' lowest MAC, which
 * changes as guests come and go) and the address @cidr (NULL: none). */
TnBridge *tnBridgeNew(const char *prefix, const char *mac, const char *cidr);

/* busybox udhcpd on the bridge, leasing @first..@last with @router as the
 * default route and a /24 mask; it dies with this process. */
void tnBridgeDhcp(TnBridge *br, const char *first, const char *last, const char *router);

const char *tnBridgeName(TnBridge *br);

/* Stops the DHCP server and deletes the bridge. */
void tnBridgeFree(TnBridge *br);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TnBridge, tnBridgeFree)
