/*
 * clone_sandbox_watch.h: escape alerts, what a sandbox clone sends
 *
 * Three layers, each usable alone:
 *  - the frame parser: one Ethernet frame to (protocol, kind, destination);
 *  - the observer: AF_PACKET sockets on a list of ifindexes and a thread
 *    that turns frames into virDomainCloneSandboxEvent (no libvirt);
 *  - the watch daemon: "virt-clone-live sandbox-watch --daemon" started for
 *    a clone, for the alert settings of a policy.
 * The public API (virDomainCloneSandboxWatch*) is a thin layer over the
 * observer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

#include <arpa/inet.h>
#include <sys/types.h>

CLONE_ENUM_DECL(cloneSandboxEvent);

/* ---- frame parser ---- */

/* What one frame is, for the watch. */
typedef struct _cloneSandboxFrame cloneSandboxFrame;
struct _cloneSandboxFrame {
    const char *protocol;            /* static: arp, icmp, icmpv6, udp, tcp, ipv4, ipv6, other */
    char kind[24];                   /* "" when none */
    char dstMac[18];                 /* "" only for a frame shorter than 6 bytes */
    char dstAddr[INET6_ADDRSTRLEN];  /* "" when none */
    int dstPort;                     /* -1 when none */
};

/* Never fails: whatever cannot be parsed is reported as far as it goes
 * (a truncated TCP header is "tcp" with kind "truncated"). */
void cloneSandboxFrameParse(const guint8 *frame, size_t len, cloneSandboxFrame *out);

/* ---- observer ---- */

typedef struct _cloneSandboxObserver cloneSandboxObserver;

/* Called from the observer's thread; see virDomainCloneSandboxEventCallback. */
typedef void (*cloneSandboxObserverFunc)(const virDomainCloneSandboxEvent *event, void *opaque);

/* Opens and binds one packet socket per ifindex (CAP_NET_RAW needed) and
 * starts the observer's thread: frames are observed from the return on.
 * @freeOpaque(@opaque) runs when the observer is stopped, not on failure. */
cloneSandboxObserver *cloneSandboxObserverStart(const char *clone,
                                                const int *ifindexes,
                                                size_t nifindexes,
                                                cloneSandboxObserverFunc func,
                                                void *opaque,
                                                GDestroyNotify freeOpaque);

/* Stops the thread, closes the sockets, calls freeOpaque and frees.  No
 * event is delivered after it is called.  From inside @func it returns at
 * once, and the observer's thread finishes this after @func returns. */
void cloneSandboxObserverStop(cloneSandboxObserver *obs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneSandboxObserver, cloneSandboxObserverStop);

/* ---- watch IDs ---- */

/* Registers a running watch under a new ID of virDomainCloneSandboxUnwatch(),
 * which calls @stop(@handle) (the network watches and the integrity watch
 * share the IDs). */
int cloneSandboxWatchRegister(GDestroyNotify stop, void *handle);

/* ---- watch daemon (alert settings of a policy) ---- */

typedef struct _cloneSandboxDaemonParams cloneSandboxDaemonParams;
struct _cloneSandboxDaemonParams {
    const char *clone;          /* the clone's name, as events report it */
    const char *const *taps;    /* its tap devices, NULL-terminated, not empty */
    const char *pidfile;        /* required; locked by the daemon while it runs */
    const char *logPath;        /* append the events as JSON lines, or NULL */
    const char *command;        /* run per event, JSON on its stdin, or NULL;
                                 * split into words like a shell would, but
                                 * no shell runs it */
    const char *program;        /* NULL: $LIBVIRT_CLONE_CLI if set, else the
                                 * installed virt-clone-live */
    guint integrityIntervalMs;  /* 0, or the kernel integrity watch too: the
                                 * daemon then connects to @uri, and takes
                                 * the baseline before this returns */
    const char *integrityAction;/* "alert", "pause" or "destroy" */
    const char *uri;            /* for the integrity watch */
};

/* Starts "virt-clone-live sandbox-watch --daemon" for a clone's taps and
 * returns once its packet sockets are bound (frames are observed from then
 * on), with its pid in @pid (may be NULL).  Without the integrity watch
 * the daemon needs no libvirt connection, so it may be started by the qemu
 * hook and for an embedded driver.  It exits by itself (removing its pidfile) when every tap is
 * gone, and on SIGTERM.  At least one of logPath and command is required. */
int cloneSandboxDaemonStart(const cloneSandboxDaemonParams *p, pid_t *pid);

/* The same for a running domain: its name and taps come from its live XML.
 * With @integrityIntervalMs, the daemon watches the kernel's integrity too
 * (its baseline taken before this returns: call it before the clone runs);
 * that needs a connection that another process can open (not an embedded
 * driver: refused). */
int cloneSandboxDaemonStartForDomain(virDomainPtr clone,
                                     const char *pidfile,
                                     const char *logPath,
                                     const char *command,
                                     guint integrityIntervalMs,
                                     const char *integrityAction,
                                     pid_t *pid);

/* The pid of the daemon that holds @pidfile's lock: 0 if none, -1 on error. */
pid_t cloneSandboxDaemonPid(const char *pidfile);

/* Sends SIGTERM to the daemon of @pidfile and waits up to 5 s for it to
 * exit.  Returns 1 if one was stopped, 0 if none ran, -1 on error. */
int cloneSandboxDaemonStop(const char *pidfile);
