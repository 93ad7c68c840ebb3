/*
 * clone_qmp.h: QMP through libvirt's passthrough, and migration events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

#include <json-glib/json-glib.h>

char *cloneQmpBuild(const char *cmd, JsonObject *args);
int cloneQmpRun(virDomainPtr dom, const char *cmd, JsonObject *args,
                JsonNode **ret);
int cloneQmpRunWithFd(virDomainPtr dom, const char *cmd, JsonObject *args,
                      int fd);
int cloneQmpVersion(virDomainPtr dom, int *major, int *minor);

/* Migration capability/parameter state of one QEMU, for save and restore. */
typedef struct _cloneMigSettings cloneMigSettings;
struct _cloneMigSettings {
    JsonObject *caps;   /* capability name -> bool, as found */
    JsonObject *params; /* parameter name -> value, as found */
};
void cloneMigSettingsFree(cloneMigSettings *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneMigSettings, cloneMigSettingsFree);

cloneMigSettings *cloneMigSettingsQuery(virDomainPtr dom);
int cloneMigSettingsApply(virDomainPtr dom, JsonObject *caps, JsonObject *params);
int cloneMigSettingsRestore(virDomainPtr dom, cloneMigSettings *saved,
                            JsonObject *touchedCaps, JsonObject *touchedParams);

/* What query-migrate says. */
typedef struct _cloneMigInfo cloneMigInfo;
struct _cloneMigInfo {
    char *status;
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
char *cloneMigMonStatus(cloneMigMon *mon);
/* QEMU timestamps (microseconds since the Epoch) of the last STOP and
 * RESUME events, 0 when not seen. */
void cloneMigMonPauseTimes(cloneMigMon *mon, gint64 *stopUs, gint64 *resumeUs);
void cloneMigMonReset(cloneMigMon *mon);
