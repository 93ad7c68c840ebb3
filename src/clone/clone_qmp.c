/*
 * clone_qmp.c: QMP through libvirt's passthrough, and migration events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_qmp.h"

#include <libvirt/libvirt-qemu.h>
#include <string.h>
#include <unistd.h>

/* {"execute": @cmd, "arguments": @args}: a QMP command, and a guest agent
 * command too (the agent speaks the same protocol). */
char *
cloneQmpBuild(const char *cmd, JsonObject *args)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, cmd);
    if (args) {
        JsonNode *n = json_node_new(JSON_NODE_OBJECT);

        json_node_set_object(n, args);
        json_builder_set_member_name(b, "arguments");
        json_builder_add_value(b, n);
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    return json_to_string(root, FALSE);
}


static int
cloneQmpParseReply(virDomainPtr dom, const char *cmd, const char *reply,
                   JsonNode **ret)
{
    g_autoptr(JsonParser) p = json_parser_new();
    g_autoptr(GError) gerr = NULL;
    JsonObject *obj;

    if (!json_parser_load_from_data(p, reply, -1, &gerr) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
        virCloneReportError(VIR_CLONE_ERR_QEMU,
                            _("cannot parse the reply of QEMU command '%1$s' for domain '%2$s': %3$s"),
                            cmd, virDomainGetName(dom), gerr ? gerr->message : reply);
        return -1;
    }
    obj = json_node_get_object(json_parser_get_root(p));
    if (json_object_has_member(obj, "error")) {
        JsonObject *e = json_object_get_object_member(obj, "error");
        const char *desc = e ? json_object_get_string_member_with_default(e, "desc", NULL) : NULL;

        virCloneReportError(VIR_CLONE_ERR_QEMU,
                            _("QEMU command '%1$s' failed for domain '%2$s': %3$s"),
                            cmd, virDomainGetName(dom), desc ? desc : reply);
        return -1;
    }
    if (ret) {
        JsonNode *r = json_object_get_member(obj, "return");

        *ret = r ? json_node_copy(r) : json_node_new(JSON_NODE_NULL);
    }
    return 0;
}


/**
 * cloneQmpRun:
 * @dom: the domain
 * @cmd: the QMP command
 * @args: its arguments, or NULL (borrowed)
 * @ret: the "return" member of the reply, or NULL
 *
 * Runs one QMP command through virDomainQemuMonitorCommand.
 */
int
cloneQmpRun(virDomainPtr dom, const char *cmd, JsonObject *args, JsonNode **ret)
{
    g_autofree char *json = cloneQmpBuild(cmd, args);
    g_autofree char *reply = NULL;

    if (virDomainQemuMonitorCommand(dom, json, &reply, 0) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_QEMU,
                                   _("cannot run QEMU command '%1$s' on domain '%2$s'"),
                                   cmd, virDomainGetName(dom));
        return -1;
    }
    return cloneQmpParseReply(dom, cmd, reply, ret);
}


/* Runs @cmd with @fd passed along (SCM_RIGHTS), e.g. "getfd". */
int
cloneQmpRunWithFd(virDomainPtr dom, const char *cmd, JsonObject *args, int fd)
{
    g_autofree char *json = cloneQmpBuild(cmd, args);
    g_autofree char *reply = NULL;
    int fds[1] = { fd };

    if (virDomainQemuMonitorCommandWithFiles(dom, json, 1, fds, NULL, NULL,
                                             &reply, 0) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_QEMU,
                                   _("cannot pass a file to QEMU command '%1$s' on domain '%2$s'"),
                                   cmd, virDomainGetName(dom));
        return -1;
    }
    return cloneQmpParseReply(dom, cmd, reply, NULL);
}


int
cloneQmpVersion(virDomainPtr dom, int *major, int *minor)
{
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *q;

    if (cloneQmpRun(dom, "query-version", NULL, &ret) < 0)
        return -1;
    q = JSON_NODE_HOLDS_OBJECT(ret) ? json_object_get_object_member(json_node_get_object(ret), "qemu") : NULL;
    if (!q) {
        virCloneReportError(VIR_CLONE_ERR_QEMU,
                            _("QEMU of domain '%1$s' did not report its version"),
                            virDomainGetName(dom));
        return -1;
    }
    *major = (int)json_object_get_int_member_with_default(q, "major", 0);
    *minor = (int)json_object_get_int_member_with_default(q, "minor", 0);
    return 0;
}


void
cloneMigSettingsFree(cloneMigSettings *s)
{
    if (!s)
        return;
    g_clear_pointer(&s->caps, json_object_unref);
    g_clear_pointer(&s->params, json_object_unref);
    g_free(s);
}


cloneMigSettings *
cloneMigSettingsQuery(virDomainPtr dom)
{
    g_autoptr(cloneMigSettings) s = g_new0(cloneMigSettings, 1);
    g_autoptr(JsonNode) caps = NULL;
    g_autoptr(JsonNode) params = NULL;
    JsonArray *arr;

    if (cloneQmpRun(dom, "query-migrate-capabilities", NULL, &caps) < 0 ||
        cloneQmpRun(dom, "query-migrate-parameters", NULL, &params) < 0)
        return NULL;

    s->caps = json_object_new();
    arr = JSON_NODE_HOLDS_ARRAY(caps) ? json_node_get_array(caps) : NULL;
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *c = json_array_get_object_element(arr, i);
        const char *name = json_object_get_string_member_with_default(c, "capability", NULL);

        if (name)
            json_object_set_boolean_member(s->caps, name,
                                           json_object_get_boolean_member_with_default(c, "state", FALSE));
    }
    s->params = JSON_NODE_HOLDS_OBJECT(params) ? json_object_ref(json_node_get_object(params))
                                               : json_object_new();
    return g_steal_pointer(&s);
}


static JsonObject *
cloneMigCapsArgs(JsonObject *caps)
{
    JsonObject *args = json_object_new();
    JsonArray *arr = json_array_new();
    g_autoptr(GList) names = json_object_get_members(caps);

    for (GList *l = names; l; l = l->next) {
        JsonObject *c = json_object_new();

        json_object_set_string_member(c, "capability", l->data);
        json_object_set_boolean_member(c, "state",
                                       json_object_get_boolean_member(caps, l->data));
        json_array_add_object_element(arr, c);
    }
    json_object_set_array_member(args, "capabilities", arr);
    return args;
}


/* Applies capabilities (name -> bool) and parameters (name -> value); either
 * may be NULL. */
int
cloneMigSettingsApply(virDomainPtr dom, JsonObject *caps, JsonObject *params)
{
    if (caps && json_object_get_size(caps) > 0) {
        g_autoptr(JsonObject) args = cloneMigCapsArgs(caps);

        if (cloneQmpRun(dom, "migrate-set-capabilities", args, NULL) < 0)
            return -1;
    }
    if (params && json_object_get_size(params) > 0 &&
        cloneQmpRun(dom, "migrate-set-parameters", params, NULL) < 0)
        return -1;
    return 0;
}


/* Puts back the saved values of the capabilities and parameters that were
 * changed. */
int
cloneMigSettingsRestore(virDomainPtr dom, cloneMigSettings *saved,
                        JsonObject *touchedCaps, JsonObject *touchedParams)
{
    g_autoptr(JsonObject) caps = json_object_new();
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(GList) cnames = touchedCaps ? json_object_get_members(touchedCaps) : NULL;
    g_autoptr(GList) pnames = touchedParams ? json_object_get_members(touchedParams) : NULL;

    for (GList *l = cnames; l; l = l->next)
        json_object_set_boolean_member(caps, l->data,
                                       json_object_get_boolean_member_with_default(saved->caps, l->data, FALSE));
    for (GList *l = pnames; l; l = l->next) {
        JsonNode *v = json_object_get_member(saved->params, l->data);

        if (v)
            json_object_set_member(params, l->data, json_node_copy(v));
    }
    return cloneMigSettingsApply(dom, caps, params);
}


void
cloneMigInfoClear(cloneMigInfo *info)
{
    g_clear_pointer(&info->status, g_free);
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
    info->expectedDowntime = -1;
    info->downtime = -1;
    if (cloneQmpRun(dom, "query-migrate", NULL, &ret) < 0)
        return -1;
    if (!JSON_NODE_HOLDS_OBJECT(ret))
        return 0;
    o = json_node_get_object(ret);
    info->status = g_strdup(json_object_get_string_member_with_default(o, "status", "none"));
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
    char *status;
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

            if (st) {
                g_free(mon->status);
                mon->status = g_strdup(st);
            }
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
    g_free(mon->status);
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


char *
cloneMigMonStatus(cloneMigMon *mon)
{
    char *ret;

    g_mutex_lock(&cloneEventLock);
    ret = g_strdup(mon->status);
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
    g_clear_pointer(&mon->status, g_free);
    mon->stopUs = 0;
    mon->resumeUs = 0;
    g_mutex_unlock(&cloneEventLock);
}
