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

/* tnBridgeDhcp() with @extra lines appended to udhcpd's configuration
 * (e.g. "static_lease MAC ADDR\n"). */
void tnBridgeDhcpExtra(TnBridge *br, const char *first, const char *last, const char *router,
                       const char *extra);

const char *tnBridgeName(TnBridge *br);

/* Stops the DHCP server and deletes the bridge. */
void tnBridgeFree(TnBridge *br);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TnBridge, tnBridgeFree)


/* ---- what the host receives, per interface ------------------------------------ */

typedef struct _TnCapture TnCapture;

/* Records, with a raw packet socket on every interface of this network
 * namespace, the frames the host receives (not those it sends) from the
 * MACs it is told to watch: per interface, and per IPv4 address they claim
 * (an ARP sender address, an IPv4 source address). */
TnCapture *tnCaptureStart(void);

/* Watch frames from @mac from now on. */
void tnCaptureWatch(TnCapture *c, const char *mac);

/* Frames from the watched @mac that came in on @ifname. */
guint tnCaptureCount(TnCapture *c, const char *mac, const char *ifname);

/* Frames from the watched @mac, on any interface, that claim @ipv4: ARP
 * with it as sender address, or IPv4 with it as source address. */
guint tnCaptureClaims(TnCapture *c, const char *mac, const char *ipv4);

void tnCaptureStop(TnCapture *c);

/* The MAC of the host's neighbour entry for @ip (lower case), or NULL. */
char *tnNeighMac(const char *ip);
