/*
 * clone_qmp.c: QMP through libvirt's passthrough
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
