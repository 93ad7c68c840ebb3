/*
 * clone_migparams.c: saving and restoring a QEMU's migration settings
 *
 * A clone sets capabilities and parameters on the source's QEMU (the way
 * libvirt's qemu_migration_params.c does for its own migrations); the job
 * keeps what they were, in its record too, and puts back exactly those it
 * touched.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_migparams.h"


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
