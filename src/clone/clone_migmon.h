/*
 * clone_migmon.h: following a QEMU's migration, by QMP events and queries
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_qmp.h"

/* QEMU's MigrationStatus, as query-migrate and MIGRATION events say it. */
typedef enum {
    CLONE_MIG_STATUS_NONE,
    CLONE_MIG_STATUS_SETUP,
    CLONE_MIG_STATUS_CANCELLING,
    CLONE_MIG_STATUS_CANCELLED,
    CLONE_MIG_STATUS_ACTIVE,
    CLONE_MIG_STATUS_POSTCOPY_ACTIVE,
    CLONE_MIG_STATUS_POSTCOPY_PAUSED,
    CLONE_MIG_STATUS_POSTCOPY_RECOVER_SETUP,
    CLONE_MIG_STATUS_POSTCOPY_RECOVER,
    CLONE_MIG_STATUS_COMPLETED,
    CLONE_MIG_STATUS_FAILED,
    CLONE_MIG_STATUS_COLO,
    CLONE_MIG_STATUS_PRE_SWITCHOVER,
    CLONE_MIG_STATUS_DEVICE,
    CLONE_MIG_STATUS_WAIT_UNPLUG,

    CLONE_MIG_STATUS_LAST
} cloneMigStatus;
CLONE_ENUM_DECL(cloneMigStatus);

/* A set of statuses, for waits: CLONE_MIG_STATUS_BIT(x) | ... */
#define CLONE_MIG_STATUS_BIT(s) (1u << (s))
/* The migration is over, one way or the other. */
#define CLONE_MIG_STATUS_ENDED \
    (CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_NONE) | CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_COMPLETED) | \
     CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_FAILED) | CLONE_MIG_STATUS_BIT(CLONE_MIG_STATUS_CANCELLED))

/* What query-migrate says. */
typedef struct _cloneMigInfo cloneMigInfo;
struct _cloneMigInfo {
    int status;              /* cloneMigStatus, -1 for one this library does not know */
    char *statusName;        /* as QEMU said it */
    char *errorDesc;
    guint64 transferred;
    guint64 total;
    guint64 remaining;
    guint64 passes;          /* ram.dirty-sync-count */
    guint64 pagesSent;       /* ram.normal + ram.duplicate */
    gint64 expectedDowntime; /* ms, -1 if not reported */
    gint64 downtime;         /* ms, -1 if not reported */
};
void cloneMigInfoClear(cloneMigInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(cloneMigInfo, cloneMigInfoClear);
int cloneMigInfoQuery(virDomainPtr dom, cloneMigInfo *info);

/* Watches QMP events of one domain.  One event callback is registered per
 * connection (a second registration on one connection delivers nothing) and
 * events are dispatched to monitors by domain UUID. */
typedef struct _cloneMigMon cloneMigMon;
cloneMigMon *cloneMigMonNew(virDomainPtr dom);
void cloneMigMonFree(cloneMigMon *mon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneMigMon, cloneMigMonFree);

gboolean cloneMigMonHasEvents(cloneMigMon *mon);
/* Waits until an event arrives or @timeoutMs passes; returns the number of
 * events seen so far (a counter, to tell whether anything happened). */
guint cloneMigMonWait(cloneMigMon *mon, guint seen, guint timeoutMs);
/* The status of the last MIGRATION event, -1 if none (or unknown). */
int cloneMigMonStatus(cloneMigMon *mon);
/* QEMU timestamps (microseconds since the Epoch) of the last STOP and
 * RESUME events, 0 when not seen. */
void cloneMigMonPauseTimes(cloneMigMon *mon, gint64 *stopUs, gint64 *resumeUs);
void cloneMigMonReset(cloneMigMon *mon);
