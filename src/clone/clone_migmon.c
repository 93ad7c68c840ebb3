/*
 * clone_migmon.c: following a QEMU's migration
 *
 * query-migrate says where a migration is; QMP events (MIGRATION, STOP,
 * RESUME), when the connection delivers them, say it at once and carry
 * QEMU's own timestamps.  Events are registered once per connection with a
 * NULL domain (a second registration on one connection delivered nothing)
 * and dispatched to monitors by UUID.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_migmon.h"

#include <libvirt/libvirt-qemu.h>
#include <string.h>

CLONE_ENUM_IMPL(cloneMigStatus, CLONE_MIG_STATUS_LAST,
                "none", "setup", "cancelling", "cancelled", "active", "postcopy-active",
                "postcopy-paused", "postcopy-recover-setup", "postcopy-recover", "completed",
                "failed", "colo", "pre-switchover", "device", "wait-unplug");


void
cloneMigInfoClear(cloneMigInfo *info)
{
    g_clear_pointer(&info->statusName, g_free);
    g_clear_pointer(&info->errorDesc, g_free);
    memset(info, 0, sizeof(*info));
}


int
cloneMigInfoQuery(virDomainPtr dom, cloneMigInfo *info)
{
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *o;
    JsonObject *ram;

    cloneMigInfoClear(info);
    info->status = -1;
    info->expectedDowntime = -1;
    info->downtime = -1;
    if (cloneQmpRun(dom, "query-migrate", NULL, &ret) < 0)
        return -1;
    if (!JSON_NODE_HOLDS_OBJECT(ret))
        return 0;
    o = json_node_get_object(ret);
    info->statusName = g_strdup(json_object_get_string_member_with_default(o, "status", "none"));
    info->status = cloneMigStatusTypeFromString(info->statusName);
    info->errorDesc = g_strdup(json_object_get_string_member_with_default(o, "error-desc", NULL));
    info->expectedDowntime = json_object_get_int_member_with_default(o, "expected-downtime", -1);
    info->downtime = json_object_get_int_member_with_default(o, "downtime", -1);
    ram = json_object_has_member(o, "ram") ? json_object_get_object_member(o, "ram") : NULL;
    if (ram) {
        info->transferred = json_object_get_int_member_with_default(ram, "transferred", 0);
        info->total = json_object_get_int_member_with_default(ram, "total", 0);
        info->remaining = json_object_get_int_member_with_default(ram, "remaining", 0);
        info->passes = json_object_get_int_member_with_default(ram, "dirty-sync-count", 0);
        info->pagesSent = json_object_get_int_member_with_default(ram, "normal", 0) +
                          json_object_get_int_member_with_default(ram, "duplicate", 0);
    }
    return 0;
}


/* ---- events ---------------------------------------------------------- */

struct _cloneMigMon {
    virConnectPtr conn;
    unsigned char uuid[VIR_UUID_BUFLEN];
    gboolean haveEvents;
    /* protected by cloneEventLock */
    int status;                 /* cloneMigStatus of the last event, -1: none */
    guint events;
    gint64 stopUs;
    gint64 resumeUs;
};

typedef struct {
    int callbackID;
    guint refs;
} cloneConnReg;

static GMutex cloneEventLock;
static GCond cloneEventCond;
static GHashTable *cloneConnRegs;   /* virConnectPtr -> cloneConnReg */
static GPtrArray *cloneMonitors;    /* of cloneMigMon */


static void
cloneMonApplyEvent(cloneMigMon *mon, const char *event, gint64 tsUs,
                   const char *details)
{
    if (g_str_equal(event, "STOP")) {
        mon->stopUs = tsUs;
    } else if (g_str_equal(event, "RESUME")) {
        mon->resumeUs = tsUs;
    } else if (g_str_equal(event, "MIGRATION") && details) {
        g_autoptr(JsonParser) p = json_parser_new();

        if (json_parser_load_from_data(p, details, -1, NULL) &&
            JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
            JsonObject *o = json_node_get_object(json_parser_get_root(p));
            const char *st = json_object_get_string_member_with_default(o, "status", NULL);

            if (st)
                mon->status = cloneMigStatusTypeFromString(st);
        }
    }
    mon->events++;
}


/* Runs in the thread of the libvirt event loop: no libvirt calls that talk
 * to the daemon here. */
static void
cloneEventCallback(virConnectPtr conn G_GNUC_UNUSED,
                   virDomainPtr dom,
                   const char *event,
                   long long seconds,
                   unsigned int micros,
                   const char *details,
                   void *opaque G_GNUC_UNUSED)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    gint64 tsUs = seconds >= 0 ? seconds * G_USEC_PER_SEC + micros : g_get_real_time();

    if (!dom || virDomainGetUUID(dom, uuid) < 0)
        return;

    g_mutex_lock(&cloneEventLock);
    for (guint i = 0; cloneMonitors && i < cloneMonitors->len; i++) {
        cloneMigMon *mon = g_ptr_array_index(cloneMonitors, i);

        if (memcmp(mon->uuid, uuid, VIR_UUID_BUFLEN) == 0)
            cloneMonApplyEvent(mon, event, tsUs, details);
    }
    g_cond_broadcast(&cloneEventCond);
    g_mutex_unlock(&cloneEventLock);
}


/* Called with cloneEventLock held. */
static gboolean
cloneConnRegRef(virConnectPtr conn)
{
    cloneConnReg *reg;

    if (!cloneConnRegs)
        cloneConnRegs = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    if ((reg = g_hash_table_lookup(cloneConnRegs, conn))) {
        reg->refs++;
        return reg->callbackID >= 0;
    }
    reg = g_new0(cloneConnReg, 1);
    reg->refs = 1;
    reg->callbackID = virConnectDomainQemuMonitorEventRegister(conn, NULL, NULL,
                                                               cloneEventCallback,
                                                               NULL, NULL, 0);
    if (reg->callbackID < 0) {
        /* expected where the driver has no QMP events (libvirt logged its
         * refusal): polling does without them */
        CLONE_DEBUG("no QMP events on this connection (%s), polling instead",
                    virGetLastErrorMessage());
        virResetLastError();
    }
    g_hash_table_insert(cloneConnRegs, conn, reg);
    return reg->callbackID >= 0;
}


/* Called with cloneEventLock held. */
static void
cloneConnRegUnref(virConnectPtr conn)
{
    cloneConnReg *reg = g_hash_table_lookup(cloneConnRegs, conn);

    if (!reg || --reg->refs > 0)
        return;
    if (reg->callbackID >= 0)
        virConnectDomainQemuMonitorEventDeregister(conn, reg->callbackID);
    g_hash_table_remove(cloneConnRegs, conn);
}


cloneMigMon *
cloneMigMonNew(virDomainPtr dom)
{
    cloneMigMon *mon = g_new0(cloneMigMon, 1);

    mon->status = -1;
    mon->conn = virDomainGetConnect(dom);
    virConnectRef(mon->conn);
    virDomainGetUUID(dom, mon->uuid);

    g_mutex_lock(&cloneEventLock);
    mon->haveEvents = cloneConnRegRef(mon->conn);
    if (!cloneMonitors)
        cloneMonitors = g_ptr_array_new();
    g_ptr_array_add(cloneMonitors, mon);
    g_mutex_unlock(&cloneEventLock);
    return mon;
}


void
cloneMigMonFree(cloneMigMon *mon)
{
    if (!mon)
        return;
    g_mutex_lock(&cloneEventLock);
    g_ptr_array_remove(cloneMonitors, mon);
    cloneConnRegUnref(mon->conn);
    g_mutex_unlock(&cloneEventLock);
    virConnectClose(mon->conn);
    g_free(mon);
}


gboolean
cloneMigMonHasEvents(cloneMigMon *mon)
{
    return mon->haveEvents;
}


guint
cloneMigMonWait(cloneMigMon *mon, guint seen, guint timeoutMs)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeoutMs * G_TIME_SPAN_MILLISECOND;
    guint events;

    g_mutex_lock(&cloneEventLock);
    while (mon->events == seen &&
           g_cond_wait_until(&cloneEventCond, &cloneEventLock, end))
        ;
    events = mon->events;
    g_mutex_unlock(&cloneEventLock);
    return events;
}


int
cloneMigMonStatus(cloneMigMon *mon)
{
    int ret;

    g_mutex_lock(&cloneEventLock);
    ret = mon->status;
    g_mutex_unlock(&cloneEventLock);
    return ret;
}


void
cloneMigMonPauseTimes(cloneMigMon *mon, gint64 *stopUs, gint64 *resumeUs)
{
    g_mutex_lock(&cloneEventLock);
    *stopUs = mon->stopUs;
    *resumeUs = mon->resumeUs;
    g_mutex_unlock(&cloneEventLock);
}


void
cloneMigMonReset(cloneMigMon *mon)
{
    g_mutex_lock(&cloneEventLock);
    mon->status = -1;
    mon->stopUs = 0;
    mon->resumeUs = 0;
    g_mutex_unlock(&cloneEventLock);
}
