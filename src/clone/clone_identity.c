/*
 * clone_identity.c: the clone's identity inside the guest
 *
 * A live clone starts with the source's memory: its guest drivers use the
 * source's MACs, its interfaces hold the source's addresses, and its host
 * name and machine-id are the source's.  libvirt renames the domain; the
 * rest is done here through the QEMU guest agent
 * (virDomainQemuAgentCommand), while the clone's links are down, so that
 * nothing of the source's identity reaches a network:
 *
 *   1. each NIC inside the guest gets its new MAC (ip link set address),
 *   2. the source's addresses and routes leave the guest's interfaces,
 *   3. host name and machine-id, if the policy asks,
 *   (the orchestrator brings the links up)
 *   4. static addresses, or a DHCP client, and a wait for them.
 *
 * Each step has the policy's timeout; a failure fails the clone (it is
 * rolled back) or, with on-failure='warn', is a warning and a NIC whose MAC
 * inside the guest is still the source's keeps its link down.
 *
 * The commands are those of iproute2 and of busybox, which take the same
 * arguments for what is used here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_identity.h"
#include "clone_qmp.h"

#include <libvirt/libvirt-qemu.h>

#define CLONE_AGENT_CHANNEL "org.qemu.guest_agent.0"
#define CLONE_AGENT_POLL_MS 50

typedef struct _cloneNetState cloneNetState;

struct _cloneIdentity {
    const clonePolicy *policy;       /* borrowed from the job */
    const cloneDomainPlan *plan;     /* borrowed: the clone's NICs */
    char *name;                      /* the clone's */
    guint nameNumber;                /* %{n} of the name template, 0: none */
    virDomainPtr clone;              /* borrowed, while the steps run */
    cloneNetState *net;              /* from the steps (links down) to the
                                      * addresses (links up) */
    cloneIdentityResult result;
};

typedef struct {
    char *name;
    char *mac;
    GPtrArray *addrs;    /* of char *: "addr/prefix", link-local IPv6 left out */
} cloneGuestIf;


static void
cloneGuestIfFree(gpointer data)
{
    cloneGuestIf *gif = data;

    g_free(gif->name);
    g_free(gif->mac);
    g_clear_pointer(&gif->addrs, g_ptr_array_unref);
    g_free(gif);
}


/* The guest is to take the NIC's new MAC: the policy says so and the clone's
 * MAC is not the source's. */
static gboolean
cloneIdentityNicSetsMac(const cloneIdentity *idn, const cloneNic *nic)
{
    return clonePolicyGuestSetsMac(idn->policy) &&
           g_ascii_strcasecmp(nic->mac, nic->sourceMac) != 0;
}


static gboolean
cloneIdentityNicHasSteps(const cloneIdentity *idn, const cloneNic *nic)
{
    return cloneIdentityNicSetsMac(idn, nic) ||
           clonePolicyIpMode(idn->policy, nic->sourceMac, NULL) != CLONE_IP_KEEP;
}


gboolean
cloneIdentityHasGuestSteps(const cloneIdentity *idn)
{
    const clonePolicy *p = idn->policy;

    if (p->hostnameMode == CLONE_HOSTNAME_SET || p->machineId == CLONE_MACHINE_ID_REGENERATE)
        return TRUE;
    for (guint i = 0; idn->plan && i < idn->plan->nics->len; i++)
        if (cloneIdentityNicHasSteps(idn, g_ptr_array_index(idn->plan->nics, i)))
            return TRUE;
    return FALSE;
}


/* A step that cannot be carried out: the error stays set and -1 comes back
 * with on-failure='fail'; with 'warn' it becomes a warning and 0. */
static int
cloneIdentityFailed(cloneIdentity *idn, const char *step)
{
    idn->result.failures++;
    if (idn->policy->agentOnFailure == CLONE_AGENT_FAIL)
        return -1;
    CLONE_WARN("clone '%s': the step '%s' inside the guest was not carried out: %s",
               idn->name, step, virCloneGetLastErrorMessage());
    virCloneResetLastError();
    return 0;
}


int
cloneIdentityCheck(cloneIdentity *idn, const char *srcName, const char *srcXML, gboolean paused)
{
    g_autofree char *xpath = NULL;
    g_auto(GStrv) channels = NULL;

    if (!cloneIdentityHasGuestSteps(idn))
        return 0;
    if (paused) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("the clone policy has steps inside the guest (MAC, addresses, host name or machine-id), which need the clone running: flag PAUSED cannot be used with it"));
        return -1;
    }
    xpath = g_strdup_printf("/domain/devices/channel/target[@type='virtio'][@name='%s']/@name",
                            CLONE_AGENT_CHANNEL);
    channels = cloneXMLStrings(srcXML, xpath);
    if (channels[0])
        return 0;
    virCloneReportError(VIR_CLONE_ERR_GUEST,
                        _("domain '%1$s' has no QEMU guest agent channel (%2$s), which the clone policy's steps inside the guest need: add the channel and run qemu-ga in the guest, or give the policy <guest-agent on-failure='warn'/>"),
                        srcName, CLONE_AGENT_CHANNEL);
    idn->result.agentMissing = TRUE;
    return cloneIdentityFailed(idn, "guest agent");
}


/* ---- the agent ------------------------------------------------------------ */

/* Runs one agent command; *@ret (optional) gets its "return" member. */
static int
cloneAgentRun(cloneIdentity *idn, const char *cmd, JsonObject *args, JsonNode **ret)
{
    g_autofree char *json = cloneQmpBuild(cmd, args);
    g_autofree char *reply = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *obj;

    reply = virDomainQemuAgentCommand(idn->clone, json, (int)idn->policy->agentTimeoutS, 0);
    if (!reply) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                   _("guest agent command '%1$s' failed in clone '%2$s'"),
                                   cmd, idn->name);
        return -1;
    }
    if (!json_parser_load_from_data(parser, reply, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("guest agent of clone '%1$s' answered '%2$s' with something that is not a JSON object"),
                            idn->name, cmd);
        return -1;
    }
    obj = json_node_get_object(json_parser_get_root(parser));
    if (ret && json_object_has_member(obj, "return"))
        *ret = json_node_copy(json_object_get_member(obj, "return"));
    return 0;
}


/* The clone's guest agent comes up with the guest: libvirt connects to it
 * once QEMU reports the guest side of the channel open. */
static int
cloneAgentWait(cloneIdentity *idn)
{
    gint64 deadline = g_get_monotonic_time() + idn->policy->agentTimeoutS * G_USEC_PER_SEC;

    for (;;) {
        /* a second per try: an agent that answers at all answers fast */
        g_autofree char *reply = virDomainQemuAgentCommand(idn->clone,
                                                           "{\"execute\":\"guest-ping\"}", 1, 0);

        if (reply)
            return 0;
        if (g_get_monotonic_time() >= deadline) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                       _("the guest agent of clone '%1$s' did not answer within %2$u s"),
                                       idn->name, idn->policy->agentTimeoutS);
            return -1;
        }
        /* expected until the guest's side of the channel opens */
        virResetLastError();
        g_usleep(100 * 1000);
    }
}


static char *
cloneAgentExecData(JsonObject *o, const char *member)
{
    const char *b64 = json_object_get_string_member_with_default(o, member, NULL);
    g_autofree guchar *bytes = NULL;
    gsize len = 0;

    if (!b64)
        return g_strdup("");
    bytes = g_base64_decode(b64, &len);
    return g_strndup(bytes ? (const char *)bytes : "", len);
}


/* Runs @argv inside the guest and waits for it: 0 once it exited, whatever
 * its status (*@code), with its standard output and error (@out, @errText:
 * optional); -1 if the agent did not run it or it did not end in time. */
static int
cloneAgentExecFull(cloneIdentity *idn, const char *const *argv, gint64 *code, char **out,
                   char **errText)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonArray) arr = json_array_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
    gint64 deadline = g_get_monotonic_time() + idn->policy->agentTimeoutS * G_USEC_PER_SEC;
    gint64 pid;

    for (guint i = 1; argv[i]; i++)
        json_array_add_string_element(arr, argv[i]);
    json_object_set_string_member(args, "path", argv[0]);
    json_object_set_array_member(args, "arg", json_array_ref(arr));
    json_object_set_boolean_member(args, "capture-output", TRUE);
    if (cloneAgentRun(idn, "guest-exec", args, &ret) < 0)
        return -1;
    if (!JSON_NODE_HOLDS_OBJECT(ret) ||
        (pid = json_object_get_int_member_with_default(json_node_get_object(ret), "pid", -1)) < 0) {
        virCloneReportError(VIR_CLONE_ERR_GUEST, _("guest agent of clone '%1$s' did not start '%2$s'"),
                            idn->name, cmdline);
        return -1;
    }
    for (;;) {
        g_autoptr(JsonObject) sargs = json_object_new();
        g_autoptr(JsonNode) st = NULL;
        JsonObject *o;

        json_object_set_int_member(sargs, "pid", pid);
        if (cloneAgentRun(idn, "guest-exec-status", sargs, &st) < 0)
            return -1;
        o = JSON_NODE_HOLDS_OBJECT(st) ? json_node_get_object(st) : NULL;
        if (o && json_object_get_boolean_member_with_default(o, "exited", FALSE)) {
            *code = json_object_get_int_member_with_default(o, "exitcode", -1);
            CLONE_DEBUG("clone '%s': '%s' exited with %lld after %.0f ms", idn->name, cmdline,
                        (long long)*code,
                        (g_get_monotonic_time() - (deadline - idn->policy->agentTimeoutS * G_USEC_PER_SEC)) / 1000.0);
            if (out)
                *out = cloneAgentExecData(o, "out-data");
            if (errText)
                *errText = g_strchomp(cloneAgentExecData(o, "err-data"));
            return 0;
        }
        if (g_get_monotonic_time() >= deadline) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("'%1$s' did not finish inside clone '%2$s' within %3$u s"),
                                cmdline, idn->name, idn->policy->agentTimeoutS);
            return -1;
        }
        g_usleep(CLONE_AGENT_POLL_MS * 1000);
    }
}


/* Runs @argv inside the guest and waits for it; a non-zero exit is an
 * error carrying its standard error.  @out (optional) gets the standard
 * output. */
static int
cloneAgentExecOut(cloneIdentity *idn, const char *const *argv, char **out)
{
    g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
    g_autofree char *text = NULL;
    gint64 code = -1;

    if (cloneAgentExecFull(idn, argv, &code, out, &text) < 0)
        return -1;
    if (code == 0)
        return 0;
    virCloneReportError(VIR_CLONE_ERR_GUEST,
                        _("'%1$s' failed inside clone '%2$s' (exit status %3$lld): %4$s"),
                        cmdline, idn->name, (long long)code, *text ? text : _("no message"));
    if (out)
        g_clear_pointer(out, g_free);
    return -1;
}


static int
cloneAgentExec(cloneIdentity *idn, const char *const *argv)
{
    return cloneAgentExecOut(idn, argv, NULL);
}


/* The guest's interfaces as its agent reports them, through libvirt's API
 * for it. */
static GPtrArray *
cloneAgentInterfaces(cloneIdentity *idn)
{
    g_autoptr(GPtrArray) ifs = g_ptr_array_new_with_free_func(cloneGuestIfFree);
    virDomainInterfacePtr *list = NULL;
    int n;

    if ((n = virDomainInterfaceAddresses(idn->clone, &list,
                                         VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                   _("cannot read the interfaces inside clone '%1$s' from its guest agent"),
                                   idn->name);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        cloneGuestIf *gif = g_new0(cloneGuestIf, 1);

        gif->name = g_strdup(list[i]->name);
        gif->mac = g_strdup(list[i]->hwaddr ? list[i]->hwaddr : "");
        gif->addrs = g_ptr_array_new_with_free_func(g_free);
        for (unsigned int j = 0; j < list[i]->naddrs; j++) {
            const virDomainIPAddress *a = &list[i]->addrs[j];

            if (!a->addr || g_ascii_strncasecmp(a->addr, "fe80:", 5) == 0)
                continue;
            g_ptr_array_add(gif->addrs, g_strdup_printf("%s/%u", a->addr, a->prefix));
        }
        g_ptr_array_add(ifs, gif);
        virDomainInterfaceFree(list[i]);
    }
    g_free(list);
    return g_steal_pointer(&ifs);
}


static const cloneGuestIf *
cloneGuestIfByMac(GPtrArray *ifs, const char *mac)
{
    for (guint i = 0; ifs && i < ifs->len; i++) {
        const cloneGuestIf *gif = g_ptr_array_index(ifs, i);

        if (g_ascii_strcasecmp(gif->mac, mac) == 0)
            return gif;
    }
    return NULL;
}


static int
cloneAgentFileRead(cloneIdentity *idn, const char *path, char **content)
{
    g_autoptr(JsonObject) oargs = json_object_new();
    g_autoptr(JsonNode) handle = NULL;
    g_autoptr(JsonObject) cargs = json_object_new();
    g_autoptr(GString) text = g_string_new(NULL);
    int rc = 0;

    json_object_set_string_member(oargs, "path", path);
    json_object_set_string_member(oargs, "mode", "r");
    *content = NULL;
    if (cloneAgentRun(idn, "guest-file-open", oargs, &handle) < 0 ||
        !JSON_NODE_HOLDS_VALUE(handle))
        return -1;
    /* small files (host name, machine-id, netplan's YAML): up to 1 MiB */
    for (guint i = 0; i < 256 && rc == 0; i++) {
        g_autoptr(JsonObject) rargs = json_object_new();
        g_autoptr(JsonNode) data = NULL;
        JsonObject *o;
        g_autofree guchar *bytes = NULL;
        gsize len = 0;

        json_object_set_int_member(rargs, "handle", json_node_get_int(handle));
        json_object_set_int_member(rargs, "count", 4096);
        if ((rc = cloneAgentRun(idn, "guest-file-read", rargs, &data)) < 0 ||
            !JSON_NODE_HOLDS_OBJECT(data))
            break;
        o = json_node_get_object(data);
        bytes = g_base64_decode(json_object_get_string_member_with_default(o, "buf-b64", ""), &len);
        g_string_append_len(text, bytes ? (const char *)bytes : "", (gssize)len);
        if (len == 0 || json_object_get_boolean_member_with_default(o, "eof", TRUE))
            break;
    }
    json_object_set_int_member(cargs, "handle", json_node_get_int(handle));
    if (cloneAgentRun(idn, "guest-file-close", cargs, NULL) < 0 || rc < 0)
        return -1;
    *content = g_string_free(g_steal_pointer(&text), FALSE);
    return 0;
}


static int
cloneAgentFileWrite(cloneIdentity *idn, const char *path, const char *content)
{
    g_autoptr(JsonObject) oargs = json_object_new();
    g_autoptr(JsonNode) handle = NULL;
    g_autoptr(JsonObject) wargs = json_object_new();
    g_autoptr(JsonObject) cargs = json_object_new();
    g_autofree char *b64 = g_base64_encode((const guchar *)content, strlen(content));
    int rc;

    json_object_set_string_member(oargs, "path", path);
    json_object_set_string_member(oargs, "mode", "w");
    if (cloneAgentRun(idn, "guest-file-open", oargs, &handle) < 0 ||
        !JSON_NODE_HOLDS_VALUE(handle))
        return -1;
    json_object_set_int_member(wargs, "handle", json_node_get_int(handle));
    json_object_set_string_member(wargs, "buf-b64", b64);
    rc = cloneAgentRun(idn, "guest-file-write", wargs, NULL);
    json_object_set_int_member(cargs, "handle", json_node_get_int(handle));
    if (cloneAgentRun(idn, "guest-file-close", cargs, NULL) < 0 || rc < 0)
        return -1;
    return 0;
}


/* Whether @path is a regular file inside the guest: a quiet probe for a
 * file that may be absent (guest-file-open of a missing file is an error
 * that libvirt logs).  1 yes, 0 no, -1 the agent failed. */
static int
cloneAgentFileExists(cloneIdentity *idn, const char *path)
{
    const char *argv[] = { "test", "-f", path, NULL };
    gint64 code = -1;

    if (cloneAgentExecFull(idn, argv, &code, NULL, NULL) < 0)
        return -1;
    return code == 0 ? 1 : 0;
}


/* VIR_ERR_AGENT_COMMAND_TIMEOUT, which libvirt 9.0's header (Debian 12's
 * own) does not name yet: the value is part of libvirt's ABI */
#define CLONE_ERR_AGENT_COMMAND_TIMEOUT 112

/* After a program the guest may lack (ps, a DHCP client) did not run: if
 * that is all that happened, the error is dropped (libvirt has logged the
 * agent's answer) and TRUE comes back; an agent that does not answer and a
 * program that does not end in time are not hidden: FALSE, the error stays. */
static gboolean
cloneAgentForgetMissing(void)
{
    virCloneErrorPtr err = virCloneGetLastError();

    if (!err)
        return TRUE;
    if (err->code == VIR_CLONE_ERR_TIMEOUT || err->libvirtCode == VIR_ERR_AGENT_UNRESPONSIVE ||
        err->libvirtCode == CLONE_ERR_AGENT_COMMAND_TIMEOUT)
        return FALSE;
    virCloneResetLastError();
    return TRUE;
}


/* ---- network stacks: who manages a NIC, and what it needs ------------------- */

CLONE_ENUM_IMPL(cloneNetstack, CLONE_NETSTACK_LAST,
                "none", "systemd-networkd", "NetworkManager", "ifupdown", "unknown");

/* One NIC that comes up in the clone, as the guest had it before the steps. */
typedef struct {
    char *mac;                 /* the clone's MAC */
    char *sourceMac;
    char *ifname;
    cloneNetstack stack;
    char *detail;              /* NM: connection UUID; networkd: network file;
                                * unknown: the daemon */
    char *clientId;            /* networkd: its DHCPv4 client ID, before */
    gboolean netplan;          /* configured by netplan */
    GPtrArray *srcAddrs;       /* the source's: "ADDR/PREFIX" */
} cloneNetNic;

/* What the steps learnt about the guest, kept from the steps (links down)
 * to the addresses (links up) of one clone. */
struct _cloneNetState {
    GPtrArray *nics;           /* of cloneNetNic */
    GHashTable *srcAddrs;      /* every address of the source, without prefix */
    gboolean systemd;          /* the guest's init is systemd */
    GHashTable *active;        /* systemd units that were active */
};

/* the units asked about; those after the first four are network daemons
 * the library does not know */
static const char *const cloneNetUnits[] = {
    "systemd-networkd.service", "NetworkManager.service", "networking.service",
    "systemd-journald.service",
    "dhcpcd.service", "connman.service", "wicked.service", "wickedd.service",
    "systemd-networkd-wait-online.service",
};
#define CLONE_NET_UNITS_KNOWN 4
/* processes of network daemons the library does not know, for guests
 * without systemd */
static const char *const cloneNetUnknownProcs[] = { "dhcpcd", "connmand", "wickedd", "NetworkManager" };


static void
cloneNetNicFree(gpointer data)
{
    cloneNetNic *n = data;

    g_free(n->mac);
    g_free(n->sourceMac);
    g_free(n->ifname);
    g_free(n->detail);
    g_free(n->clientId);
    g_clear_pointer(&n->srcAddrs, g_ptr_array_unref);
    g_free(n);
}


static void
cloneNetStateFree(cloneNetState *st)
{
    if (!st)
        return;
    g_clear_pointer(&st->nics, g_ptr_array_unref);
    g_clear_pointer(&st->srcAddrs, g_hash_table_unref);
    g_clear_pointer(&st->active, g_hash_table_unref);
    g_free(st);
}


static void
cloneNetStateDrop(cloneIdentity *idn)
{
    g_clear_pointer(&idn->net, cloneNetStateFree);
}


/* A new state for @idn, replacing what earlier steps may have left (their
 * links never came up). */
static cloneNetState *
cloneNetStateNew(cloneIdentity *idn)
{
    cloneNetState *st = g_new0(cloneNetState, 1);

    st->nics = g_ptr_array_new_with_free_func(cloneNetNicFree);
    st->srcAddrs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    st->active = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    cloneNetStateDrop(idn);
    idn->net = st;
    return st;
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneNetState, cloneNetStateFree)


static cloneNetNic *
cloneNetNicByMac(cloneNetState *st, const char *mac)
{
    for (guint i = 0; st && i < st->nics->len; i++) {
        cloneNetNic *n = g_ptr_array_index(st->nics, i);

        if (g_ascii_strcasecmp(n->mac, mac) == 0)
            return n;
    }
    return NULL;
}


char *
cloneNetstackValue(const char *text, const char *key, char sep)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    size_t klen = strlen(key);

    for (guint i = 0; lines[i]; i++) {
        const char *l = lines[i] + strspn(lines[i], " \t");

        if (strncmp(l, key, klen) == 0 && l[klen] == sep)
            return g_strstrip(g_strdup(l + klen + 1));
    }
    return NULL;
}


char *
cloneNetstackReplaceMac(const char *text, const char *from, const char *to)
{
    g_autoptr(GString) out = g_string_new(NULL);
    size_t flen = strlen(from);
    gboolean found = FALSE;

    for (const char *p = text; *p;) {
        if (g_ascii_strncasecmp(p, from, flen) == 0) {
            g_string_append(out, to);
            p += flen;
            found = TRUE;
        } else {
            g_string_append_c(out, *p++);
        }
    }
    return found ? g_string_free(g_steal_pointer(&out), FALSE) : NULL;
}


const char *
cloneNetstackSourceAddress(GPtrArray *addrs, GHashTable *source)
{
    for (guint i = 0; addrs && i < addrs->len; i++) {
        const char *a = g_ptr_array_index(addrs, i);
        g_autofree char *bare = g_strndup(a, strcspn(a, "/"));

        if (g_hash_table_contains(source, bare))
            return a;
    }
    return NULL;
}


cloneNetstack
cloneNetstackDecide(const cloneNetstackFacts *f, char **detail)
{
    *detail = NULL;
    if (f->nmDevice) {
        g_autofree char *state = cloneNetstackValue(f->nmDevice, "GENERAL.STATE", ':');

        /* 10 (unmanaged): NetworkManager leaves it to another */
        if (state && !g_str_has_prefix(state, "10 ") && !g_str_equal(state, "10")) {
            *detail = cloneNetstackValue(f->nmDevice, "GENERAL.CON-UUID", ':');
            if (*detail && !**detail)
                g_clear_pointer(detail, g_free);
            return CLONE_NETSTACK_NETWORKMANAGER;
        }
    }
    if (f->networkctl) {
        g_autofree char *state = cloneNetstackValue(f->networkctl, "State", ':');

        if (state && !strstr(state, "(unmanaged)")) {
            *detail = cloneNetstackValue(f->networkctl, "Network File", ':');
            return CLONE_NETSTACK_NETWORKD;
        }
    }
    if (f->ifstate && *f->ifstate)
        return CLONE_NETSTACK_IFUPDOWN;
    if (f->unknownDaemon) {
        *detail = g_strdup(f->unknownDaemon);
        return CLONE_NETSTACK_UNKNOWN;
    }
    return CLONE_NETSTACK_NONE;
}


char *
cloneNetworkdClientId(const char *status)
{
    g_autofree char *id = cloneNetstackValue(status, "DHCP4 Client ID", ':');
    g_autofree char *duid = cloneNetstackValue(status, "DHCP6 Client DUID", ':');

    /* "DHCP4 Client ID: IAID:0x56504d98/DUID" names the DUID that networkd
     * shows for DHCPv6 (systemd 252); it is there with the link down too,
     * the client ID only with a lease */
    if (duid && (!id || g_str_has_suffix(id, "/DUID")))
        return g_steal_pointer(&duid);
    return g_steal_pointer(&id);
}


/* What runs in the guest: systemd's units (systemctl is-active prints one
 * line per unit, whatever its exit status says), or for a guest without
 * systemd the names of its processes (ps, procps' or busybox's). */
static int
cloneNetDaemons(cloneIdentity *idn, cloneNetState *st, char **unknown)
{
    g_autofree char *init = NULL;
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    gint64 code = -1;

    *unknown = NULL;
    if (cloneAgentFileRead(idn, "/proc/1/comm", &init) < 0)
        return -1;
    st->systemd = g_str_equal(g_strstrip(init), "systemd");
    if (st->systemd) {
        const char *argv[G_N_ELEMENTS(cloneNetUnits) + 3] = { "systemctl", "is-active" };

        for (size_t i = 0; i < G_N_ELEMENTS(cloneNetUnits); i++)
            argv[i + 2] = cloneNetUnits[i];
        if (cloneAgentExecFull(idn, argv, &code, &out, NULL) < 0)
            return -1;
        lines = g_strsplit(out, "\n", -1);
        for (size_t i = 0; i < G_N_ELEMENTS(cloneNetUnits) && lines[i]; i++) {
            if (!g_str_equal(g_strstrip(lines[i]), "active") &&
                !g_str_equal(lines[i], "activating") && !g_str_equal(lines[i], "reloading"))
                continue;
            g_hash_table_add(st->active, g_strdup(cloneNetUnits[i]));
            if (i >= CLONE_NET_UNITS_KNOWN && !*unknown &&
                !g_str_equal(cloneNetUnits[i], "systemd-networkd-wait-online.service"))
                *unknown = g_strdup(cloneNetUnits[i]);
        }
        CLONE_DEBUG("clone '%s': systemd units: %s", idn->name, out);
        return 0;
    }
    {
        const char *ps[] = { "ps", "-e", "-o", "comm=", NULL };
        const char *bbps[] = { "ps", "-o", "comm", NULL };

        /* procps' ps, else busybox's, which has no -e */
        if (cloneAgentExecFull(idn, ps, &code, &out, NULL) < 0 && !cloneAgentForgetMissing())
            return -1;
        if (code != 0) {
            g_clear_pointer(&out, g_free);
            code = -1;
            if (cloneAgentExecFull(idn, bbps, &code, &out, NULL) < 0 && !cloneAgentForgetMissing())
                return -1;
            if (code != 0)
                return 0;   /* a guest without ps: nothing known runs */
        }
    }
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i] && !*unknown; i++)
        for (size_t j = 0; j < G_N_ELEMENTS(cloneNetUnknownProcs) && !*unknown; j++)
            if (g_str_equal(g_strstrip(lines[i]), cloneNetUnknownProcs[j]))
                *unknown = g_strdup(cloneNetUnknownProcs[j]);
    return 0;
}


/* netplan's YAML files that name the NIC's source MAC (match: macaddress:,
 * or a macaddress: to set), in the directories netplan reads. */
static int
cloneNetplanFiles(cloneIdentity *idn, const char *sourceMac, GPtrArray *files)
{
    const char *find[] = { "find", "/etc/netplan", "/run/netplan", "/lib/netplan",
                           "-maxdepth", "1", "-name", "*.yaml", "-type", "f", NULL };
    g_autofree char *out = NULL;
    g_auto(GStrv) paths = NULL;
    gint64 code = -1;

    /* a directory that does not exist is an exit status 1, not an error */
    if (cloneAgentExecFull(idn, find, &code, &out, NULL) < 0)
        return -1;
    paths = g_strsplit(out, "\n", -1);
    for (guint i = 0; paths[i]; i++) {
        g_autofree char *yaml = NULL;
        g_autofree char *rewritten = NULL;

        if (!*g_strstrip(paths[i]))
            continue;
        if (cloneAgentFileRead(idn, paths[i], &yaml) < 0)
            return -1;
        if ((rewritten = cloneNetstackReplaceMac(yaml, sourceMac, sourceMac)))
            g_ptr_array_add(files, g_strdup(paths[i]));
    }
    return 0;
}


/* The facts about @ifname, asked of the daemons that run. */
static int
cloneNetDetectNic(cloneIdentity *idn, cloneNetState *st, cloneNetNic *n, const char *unknown)
{
    g_autofree char *nm = NULL;
    g_autofree char *nd = NULL;
    g_autofree char *ifstate = NULL;
    g_autofree char *ifstatePath = g_strdup_printf("/run/network/ifstate.%s", n->ifname);
    cloneNetstackFacts facts = { .unknownDaemon = unknown };
    gint64 code = -1;

    if (g_hash_table_contains(st->active, "NetworkManager.service")) {
        const char *argv[] = { "nmcli", "-t", "-f", "GENERAL.STATE,GENERAL.CON-UUID",
                               "device", "show", n->ifname, NULL };

        if (cloneAgentExecOut(idn, argv, &nm) < 0)
            return -1;
        facts.nmDevice = nm;
    }
    if (g_hash_table_contains(st->active, "systemd-networkd.service")) {
        const char *argv[] = { "networkctl", "status", "--no-pager", "--lines=0", n->ifname, NULL };

        if (cloneAgentExecFull(idn, argv, &code, &nd, NULL) < 0)
            return -1;
        facts.networkctl = nd;
        n->clientId = cloneNetworkdClientId(nd);
    }
    {
        /* cat: a missing file is an exit status, not an error of the agent */
        const char *argv[] = { "cat", ifstatePath, NULL };

        if (cloneAgentExecFull(idn, argv, &code, &ifstate, NULL) < 0)
            return -1;
        if (code == 0)
            facts.ifstate = g_strstrip(ifstate);
    }
    n->stack = cloneNetstackDecide(&facts, &n->detail);
    if (n->stack == CLONE_NETSTACK_NETWORKD && n->detail &&
        strstr(n->detail, "/10-netplan-"))
        n->netplan = TRUE;
    if (n->stack == CLONE_NETSTACK_NETWORKMANAGER && n->detail) {
        const char *argv[] = { "nmcli", "-t", "-f", "connection.id", "connection", "show",
                               "uuid", n->detail, NULL };
        g_autofree char *id = NULL;

        if (cloneAgentExecOut(idn, argv, &id) < 0)
            return -1;
        n->netplan = strstr(id, "netplan-") != NULL;
    }
    CLONE_INFO("clone '%s': interface %s is managed by %s%s%s%s", idn->name, n->ifname,
               cloneNetstackTypeToString(n->stack), n->netplan ? " (netplan)" : "",
               n->detail ? ": " : "", n->detail ? n->detail : "");
    return 0;
}


static gboolean
cloneIdentityNicComesUp(const cloneIdentity *idn, const cloneNic *nic)
{
    return (idn->policy->network == CLONE_NETWORK_INHERIT ||
            idn->policy->network == CLONE_NETWORK_SANDBOX) &&
           clonePolicyIpMode(idn->policy, nic->sourceMac, NULL) != CLONE_IP_KEEP;
}


/* Before anything changes: the source's addresses (in the clone they are
 * still there), and for each NIC whose link comes up the stack that
 * manages it.  A stack the library does not know is a failed step: its
 * NIC stays down. */
static int
cloneNetDetect(cloneIdentity *idn, cloneNetState *st, GPtrArray *ifs, GHashTable *keepDown)
{
    g_autofree char *unknown = NULL;

    for (guint i = 0; i < ifs->len; i++) {
        const cloneGuestIf *gif = g_ptr_array_index(ifs, i);

        for (guint j = 0; j < gif->addrs->len; j++) {
            const char *a = g_ptr_array_index(gif->addrs, j);

            if (!g_str_has_prefix(a, "127.") && !g_str_has_prefix(a, "::1/"))
                g_hash_table_add(st->srcAddrs, g_strndup(a, strcspn(a, "/")));
        }
    }
    if (cloneNetDaemons(idn, st, &unknown) < 0) {
        /* not knowing who manages them, no NIC comes up */
        for (guint i = 0; i < idn->plan->nics->len; i++) {
            const cloneNic *nic = g_ptr_array_index(idn->plan->nics, i);

            if (cloneIdentityNicComesUp(idn, nic))
                g_hash_table_add(keepDown, g_strdup(nic->mac));
        }
        return cloneIdentityFailed(idn, "network stack");
    }
    for (guint i = 0; i < idn->plan->nics->len; i++) {
        const cloneNic *nic = g_ptr_array_index(idn->plan->nics, i);
        const cloneGuestIf *gif = cloneGuestIfByMac(ifs, nic->sourceMac);
        cloneNetNic *n;

        if (!gif || !cloneIdentityNicComesUp(idn, nic))
            continue;
        n = g_new0(cloneNetNic, 1);
        n->mac = g_strdup(nic->mac);
        n->sourceMac = g_strdup(nic->sourceMac);
        n->ifname = g_strdup(gif->name);
        n->srcAddrs = g_ptr_array_new_with_free_func(g_free);
        for (guint j = 0; j < gif->addrs->len; j++)
            g_ptr_array_add(n->srcAddrs, g_strdup(g_ptr_array_index(gif->addrs, j)));
        g_ptr_array_add(st->nics, n);
        if (cloneNetDetectNic(idn, st, n, unknown) < 0) {
            g_hash_table_add(keepDown, g_strdup(n->mac));
            if (cloneIdentityFailed(idn, "network stack") < 0)
                return -1;
            continue;
        }
        if (n->stack == CLONE_NETSTACK_UNKNOWN) {
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("interface '%1$s' inside clone '%2$s' is managed by '%3$s', a network daemon libvirt-clone does not know: its DHCP client may ask for the source's address with the source's identity, so the link does not come up"),
                                n->ifname, idn->name, n->detail);
            g_hash_table_add(keepDown, g_strdup(n->mac));
            if (cloneIdentityFailed(idn, "network stack") < 0)
                return -1;
        }
    }
    return 0;
}


/* netplan: the YAML that names the source's MAC names the clone's, for the
 * clone's next boot.  Not generated again now: netplan matches on the
 * permanent MAC (networkd's PermanentMACAddress=, NetworkManager's
 * mac-address=), which stays the source's until the clone reboots (the
 * driver read it at probe), so the files generated at boot still match and
 * new ones would not. */
static int
cloneNetplanRewrite(cloneIdentity *idn, const cloneNetNic *n)
{
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);

    if (cloneNetplanFiles(idn, n->sourceMac, files) < 0)
        return -1;
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        g_autofree char *yaml = NULL;
        g_autofree char *rewritten = NULL;

        if (cloneAgentFileRead(idn, path, &yaml) < 0)
            return -1;
        if (!(rewritten = cloneNetstackReplaceMac(yaml, n->sourceMac, n->mac)))
            continue;
        if (cloneAgentFileWrite(idn, path, rewritten) < 0)
            return -1;
        CLONE_DEBUG("clone '%s': %s names %s instead of %s", idn->name, path, n->mac, n->sourceMac);
    }
    return 0;
}


/* ifupdown: its dhclient is stopped (its release goes nowhere: the link
 * is down), and its lease files go: they hold the source's lease and the
 * DUID of its client identifier (ifupdown runs dhclient with -I). */
static int
cloneNetIfupdownStop(cloneIdentity *idn, const cloneNetNic *n)
{
    g_autofree char *lease4 = g_strdup_printf("/var/lib/dhcp/dhclient.%s.leases", n->ifname);
    g_autofree char *lease6 = g_strdup_printf("/var/lib/dhcp/dhclient6.%s.leases", n->ifname);
    const char *down[] = { "ifdown", "--force", n->ifname, NULL };
    const char *rm[] = { "rm", "-f", lease4, lease6, NULL };

    if (cloneAgentExec(idn, down) < 0 || cloneAgentExec(idn, rm) < 0)
        return -1;
    return 0;
}


/* NetworkManager: a connection that sets a MAC on activation other than
 * "preserve" (the default) would put the source's MAC (permanent: the one
 * the driver found at boot) or one derived from the source's secrets
 * (stable) back on the NIC; its lease file holds the source's lease. */
static int
cloneNetNmPrepare(cloneIdentity *idn, const cloneNetNic *n)
{
    g_autofree char *cloned = NULL;
    g_autofree char *lease = NULL;
    g_autofree char *dlease = NULL;
    const char *rm[] = { "rm", "-f", NULL, NULL, NULL };
    const char *get[] = { "nmcli", "-g", "802-3-ethernet.cloned-mac-address", "connection",
                          "show", "uuid", n->detail, NULL };

    if (!n->detail)
        return 0;
    if (cloneAgentExecOut(idn, get, &cloned) < 0)
        return -1;
    g_strstrip(cloned);
    if (*cloned && !g_str_equal(cloned, "preserve") && g_ascii_strcasecmp(cloned, n->mac) != 0) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("NetworkManager's connection %1$s of interface '%2$s' inside clone '%3$s' sets the MAC address '%4$s' when it comes up, not the clone's %5$s"),
                            n->detail, n->ifname, idn->name, cloned, n->mac);
        return -1;
    }
    lease = g_strdup_printf("/var/lib/NetworkManager/internal-%s-%s.lease", n->detail, n->ifname);
    dlease = g_strdup_printf("/var/lib/NetworkManager/dhclient-%s-%s.lease", n->detail, n->ifname);
    rm[2] = lease;
    rm[3] = dlease;
    return cloneAgentExec(idn, rm);
}


static int
cloneNetRestart(cloneIdentity *idn, const char *unit)
{
    const char *argv[] = { "systemctl", "restart", unit, NULL };

    if (cloneAgentExec(idn, argv) < 0)
        return -1;
    CLONE_DEBUG("clone '%s': %s restarted", idn->name, unit);
    return 0;
}


/* networkd after its restart: it manages the NIC (with netplan: the new
 * match applies). */
static int
cloneNetNetworkdCheck(cloneIdentity *idn, const cloneNetNic *n)
{
    const char *argv[] = { "networkctl", "status", "--no-pager", "--lines=0", n->ifname, NULL };
    g_autofree char *out = NULL;
    g_autofree char *state = NULL;
    gint64 code = -1;

    if (cloneAgentExecFull(idn, argv, &code, &out, NULL) < 0)
        return -1;
    state = cloneNetstackValue(out, "State", ':');
    if (!state || strstr(state, "(unmanaged)")) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("systemd-networkd does not manage interface '%1$s' inside clone '%2$s' after its restart (state: %3$s)"),
                            n->ifname, idn->name, state ? state : _("unknown"));
        return -1;
    }
    return 0;
}


/* journald keeps writing under the machine-id it read at its start
 * (/var/log/journal/ID or /run/log/journal/ID) while journalctl reads the
 * directory of the current one: after a new machine-id the journal looks
 * empty until journald restarts.  The check: a line logged now is read
 * back by journalctl. */
static int
cloneNetJournal(cloneIdentity *idn, const char *machineId)
{
    g_autofree char *marker = g_strdup_printf("libvirt-clone: clone %s, machine-id %s",
                                              idn->name, machineId);
    const char *logger[] = { "logger", "-t", "libvirt-clone", marker, NULL };
    const char *read[] = { "journalctl", "--no-pager", "-q", "-o", "cat", "-t", "libvirt-clone",
                           "-n", "5", NULL };
    gint64 deadline;

    if (cloneNetRestart(idn, "systemd-journald.service") < 0)
        return -1;
    if (cloneAgentExec(idn, logger) < 0)
        return -1;
    deadline = g_get_monotonic_time() + idn->policy->agentTimeoutS * G_USEC_PER_SEC;
    for (;;) {
        g_autofree char *out = NULL;

        if (cloneAgentExecOut(idn, read, &out) < 0)
            return -1;
        if (strstr(out, marker))
            return 0;
        if (g_get_monotonic_time() >= deadline)
            break;
        g_usleep(CLONE_AGENT_POLL_MS * 4 * 1000);
    }
    virCloneReportError(VIR_CLONE_ERR_GUEST,
                        _("journalctl inside clone '%1$s' does not show what was logged after its new machine-id"),
                        idn->name);
    return -1;
}


/* What systemd's host name service says: restarted if it ran (it read the
 * machine-id once), then asked. */
static int
cloneNetHostnamed(cloneIdentity *idn, const char *hostname, const char *machineId)
{
    const char *restart[] = { "systemctl", "try-restart", "systemd-hostnamed.service", NULL };
    const char *status[] = { "hostnamectl", "status", NULL };
    g_autofree char *out = NULL;
    g_autofree char *name = NULL;
    g_autofree char *id = NULL;

    if (cloneAgentExec(idn, restart) < 0 || cloneAgentExecOut(idn, status, &out) < 0)
        return -1;
    name = cloneNetstackValue(out, "Static hostname", ':');
    id = cloneNetstackValue(out, "Machine ID", ':');
    if ((hostname && g_strcmp0(name, hostname) != 0) || (machineId && g_strcmp0(id, machineId) != 0)) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("systemd-hostnamed inside clone '%1$s' reports host name '%2$s' and machine-id '%3$s', not '%4$s' and '%5$s'"),
                            idn->name, name ? name : "", id ? id : "",
                            hostname ? hostname : name ? name : "", machineId ? machineId : id ? id : "");
        return -1;
    }
    return 0;
}


static gboolean
cloneNetAny(cloneNetState *st, GHashTable *keepDown, cloneNetstack stack)
{
    for (guint i = 0; i < st->nics->len; i++) {
        const cloneNetNic *n = g_ptr_array_index(st->nics, i);

        if (n->stack == stack && !g_hash_table_contains(keepDown, n->mac))
            return TRUE;
    }
    return FALSE;
}


/* A NIC whose stack could not be made to follow stays down. */
static int
cloneNetNicFailed(cloneIdentity *idn, const cloneNetNic *n, GHashTable *keepDown, const char *step)
{
    g_hash_table_add(keepDown, g_strdup(n->mac));
    return cloneIdentityFailed(idn, step);
}


/* After the new MACs, host name and machine-id, with the links down: each
 * network stack follows them before its NIC comes up. */
static int
cloneNetPrepare(cloneIdentity *idn, cloneNetState *st, GHashTable *keepDown,
                const char *hostname, const char *machineId)
{
    for (guint i = 0; i < st->nics->len; i++) {
        cloneNetNic *n = g_ptr_array_index(st->nics, i);
        int rc = 0;

        if (g_hash_table_contains(keepDown, n->mac))
            continue;
        if (n->netplan)
            rc = cloneNetplanRewrite(idn, n);
        if (rc == 0 && n->stack == CLONE_NETSTACK_IFUPDOWN)
            rc = cloneNetIfupdownStop(idn, n);
        if (rc == 0 && n->stack == CLONE_NETSTACK_NETWORKMANAGER)
            rc = cloneNetNmPrepare(idn, n);
        if (rc < 0 && cloneNetNicFailed(idn, n, keepDown, "network stack") < 0)
            return -1;
    }
    /* the daemons read the machine-id (networkd's DUID, NetworkManager's
     * DUIDs and stable IDs) and the host name when they start */
    if (cloneNetAny(st, keepDown, CLONE_NETSTACK_NETWORKD)) {
        int rc = cloneNetRestart(idn, "systemd-networkd.service");

        for (guint i = 0; i < st->nics->len; i++) {
            cloneNetNic *n = g_ptr_array_index(st->nics, i);

            if (n->stack != CLONE_NETSTACK_NETWORKD || g_hash_table_contains(keepDown, n->mac))
                continue;
            if ((rc < 0 || cloneNetNetworkdCheck(idn, n) < 0) &&
                cloneNetNicFailed(idn, n, keepDown, "systemd-networkd") < 0)
                return -1;
        }
        idn->result.steps++;
    }
    if (cloneNetAny(st, keepDown, CLONE_NETSTACK_NETWORKMANAGER)) {
        if (cloneNetRestart(idn, "NetworkManager.service") < 0) {
            for (guint i = 0; i < st->nics->len; i++) {
                cloneNetNic *n = g_ptr_array_index(st->nics, i);

                if (n->stack == CLONE_NETSTACK_NETWORKMANAGER &&
                    !g_hash_table_contains(keepDown, n->mac) &&
                    cloneNetNicFailed(idn, n, keepDown, "NetworkManager") < 0)
                    return -1;
            }
        } else {
            idn->result.steps++;
        }
    }
    if (st->systemd && machineId && g_hash_table_contains(st->active, "systemd-journald.service")) {
        if (cloneNetJournal(idn, machineId) < 0) {
            if (cloneIdentityFailed(idn, "journal") < 0)
                return -1;
        } else {
            idn->result.steps++;
        }
    }
    if (st->systemd && (hostname || machineId) &&
        cloneNetHostnamed(idn, hostname, machineId) < 0 &&
        cloneIdentityFailed(idn, "hostnamed") < 0)
        return -1;
    return 0;
}


/* ---- the steps ------------------------------------------------------------ */

static int
cloneIdentityNicMac(cloneIdentity *idn, const cloneNic *nic, const char *ifname)
{
    const char *argv[] = { "ip", "link", "set", "dev", ifname, "address", nic->mac, NULL };

    if (cloneAgentExec(idn, argv) < 0)
        return -1;
    CLONE_DEBUG("clone '%s': guest interface %s has MAC %s (was %s)",
                idn->name, ifname, nic->mac, nic->sourceMac);
    idn->result.steps++;
    return 0;
}


/* Addresses first (IPv6 link-local ones come back from the new MAC when the
 * link comes up), then whatever routes are left on the interface. */
static int
cloneIdentityNicFlush(cloneIdentity *idn, const char *ifname)
{
    const char *addr[] = { "ip", "addr", "flush", "dev", ifname, NULL };
    const char *route4[] = { "ip", "-4", "route", "flush", "dev", ifname, NULL };
    const char *route6[] = { "ip", "-6", "route", "flush", "dev", ifname, NULL };

    gint64 code = 0;

    if (cloneAgentExec(idn, addr) < 0)
        return -1;
    /* nothing left to flush is not an error for every ip(8): the exit
     * status is looked at, not reported */
    if (cloneAgentExecFull(idn, route4, &code, NULL, NULL) < 0)
        return -1;
    if (code == 0 && cloneAgentExecFull(idn, route6, &code, NULL, NULL) < 0)
        return -1;
    if (code != 0)
        CLONE_DEBUG("clone '%s': the routes of %s: ip exited with %lld", idn->name, ifname,
                    (long long)code);
    idn->result.steps++;
    return 0;
}


static int
cloneIdentityHostname(cloneIdentity *idn, char **set)
{
    g_autofree char *hostname = clonePolicyExpandHostname(idn->policy, idn->nameNumber);
    g_autofree char *line = NULL;
    g_autofree char *now = NULL;
    const char *argv[] = { "hostname", hostname, NULL };
    int exists;

    if (!hostname)
        return 0;
    if (cloneAgentExec(idn, argv) < 0)
        return -1;
    /* the name for the next boot, where the guest keeps one */
    if ((exists = cloneAgentFileExists(idn, "/etc/hostname")) < 0)
        return -1;
    if (exists) {
        line = g_strdup_printf("%s\n", hostname);
        if (cloneAgentFileWrite(idn, "/etc/hostname", line) < 0)
            return -1;
    }
    /* what the guest says now, through libvirt's API for it */
    if (!(now = virDomainGetHostname(idn->clone, VIR_DOMAIN_GET_HOSTNAME_AGENT))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                   _("cannot read the host name of clone '%1$s' from its guest agent"),
                                   idn->name);
        return -1;
    }
    if (!g_str_equal(now, hostname)) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("clone '%1$s' calls itself '%2$s' after its host name was set to '%3$s'"),
                            idn->name, now, hostname);
        return -1;
    }
    CLONE_DEBUG("clone '%s': host name '%s'", idn->name, hostname);
    idn->result.steps++;
    *set = g_steal_pointer(&hostname);
    return 0;
}


/* A new /etc/machine-id, as systemd-machine-id-setup writes it: 32
 * lowercase hexadecimal digits and a newline.  A guest without one (or
 * with an empty one, filled on its next boot) is left alone. */
static int
cloneIdentityMachineId(cloneIdentity *idn, char **set)
{
    g_autofree char *old = NULL;
    g_autofree char *uuid = NULL;
    g_auto(GStrv) parts = NULL;
    g_autofree char *id = NULL;

    int exists;

    if (idn->policy->machineId != CLONE_MACHINE_ID_REGENERATE)
        return 0;
    if ((exists = cloneAgentFileExists(idn, "/etc/machine-id")) < 0 ||
        (exists && cloneAgentFileRead(idn, "/etc/machine-id", &old) < 0))
        return -1;
    if (!exists || !*g_strstrip(old)) {
        CLONE_INFO("clone '%s': the guest has no /etc/machine-id: nothing to regenerate", idn->name);
        return 0;
    }
    uuid = g_uuid_string_random();
    parts = g_strsplit(uuid, "-", -1);
    id = g_strjoinv("", parts);
    g_clear_pointer(&uuid, g_free);
    uuid = g_strdup_printf("%s\n", id);
    if (cloneAgentFileWrite(idn, "/etc/machine-id", uuid) < 0)
        return -1;
    CLONE_DEBUG("clone '%s': machine-id %s (was %s)", idn->name, id, old);
    idn->result.steps++;
    *set = g_steal_pointer(&id);
    return 0;
}


/* The guest's interfaces as the steps left them: new MACs, no address. */
static int
cloneIdentityVerify(cloneIdentity *idn, GHashTable *keepDown)
{
    g_autoptr(GPtrArray) ifs = cloneAgentInterfaces(idn);

    if (!ifs)
        return -1;
    for (guint i = 0; i < idn->plan->nics->len; i++) {
        const cloneNic *nic = g_ptr_array_index(idn->plan->nics, i);
        gboolean setMac = cloneIdentityNicSetsMac(idn, nic);
        const cloneGuestIf *gif;

        if (g_hash_table_contains(keepDown, nic->mac))
            continue;
        gif = cloneGuestIfByMac(ifs, setMac ? nic->mac : nic->sourceMac);
        if (!gif) {
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("no interface inside clone '%1$s' has the MAC address %2$s after the identity steps"),
                                idn->name, setMac ? nic->mac : nic->sourceMac);
            return -1;
        }
        if (clonePolicyIpMode(idn->policy, nic->sourceMac, NULL) != CLONE_IP_KEEP &&
            gif->addrs->len > 0) {
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("interface '%1$s' inside clone '%2$s' still has the address %3$s"),
                                gif->name, idn->name, (const char *)g_ptr_array_index(gif->addrs, 0));
            return -1;
        }
    }
    return 0;
}


static int
cloneIdentityNic(cloneIdentity *idn, GPtrArray *ifs, const cloneNic *nic, GHashTable *keepDown)
{
    gboolean setMac = cloneIdentityNicSetsMac(idn, nic);
    gboolean flush = clonePolicyIpMode(idn->policy, nic->sourceMac, NULL) != CLONE_IP_KEEP;
    const cloneGuestIf *gif;

    if (!setMac && !flush)
        return 0;
    if (!(gif = cloneGuestIfByMac(ifs, nic->sourceMac))) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("no interface inside clone '%1$s' has the source's MAC address %2$s"),
                            idn->name, nic->sourceMac);
        if (setMac)
            g_hash_table_add(keepDown, g_strdup(nic->mac));
        return cloneIdentityFailed(idn, "mac");
    }
    if (setMac && cloneIdentityNicMac(idn, nic, gif->name) < 0) {
        g_hash_table_add(keepDown, g_strdup(nic->mac));
        return cloneIdentityFailed(idn, "mac");
    }
    if (flush && cloneIdentityNicFlush(idn, gif->name) < 0)
        return cloneIdentityFailed(idn, "addresses");
    return 0;
}


int
cloneIdentityGuestSteps(cloneIdentity *idn, virDomainPtr clone, GHashTable *keepDown)
{
    g_autoptr(GPtrArray) ifs = NULL;
    g_autofree char *hostname = NULL;
    g_autofree char *machineId = NULL;
    gint64 t0 = g_get_monotonic_time();
    cloneNetState *st;

    idn->clone = clone;
    cloneNetStateDrop(idn);
    if (!cloneIdentityHasGuestSteps(idn))
        return 0;
    if (idn->result.agentMissing || cloneAgentWait(idn) < 0) {
        idn->result.stepsUs = g_get_monotonic_time() - t0;
        /* nothing inside the guest can change: NICs with a new MAC stay down */
        for (guint i = 0; i < idn->plan->nics->len; i++) {
            const cloneNic *nic = g_ptr_array_index(idn->plan->nics, i);

            if (cloneIdentityNicSetsMac(idn, nic))
                g_hash_table_add(keepDown, g_strdup(nic->mac));
        }
        idn->result.agentMissing = TRUE;
        return idn->result.failures > 0 ? 0 : cloneIdentityFailed(idn, "guest agent");
    }
    if (!(ifs = cloneAgentInterfaces(idn)))
        return cloneIdentityFailed(idn, "interfaces");
    /* before anything changes: the source's addresses and network stacks */
    st = cloneNetStateNew(idn);
    if (cloneNetDetect(idn, st, ifs, keepDown) < 0)
        goto error;
    for (guint i = 0; i < idn->plan->nics->len; i++)
        if (cloneIdentityNic(idn, ifs, g_ptr_array_index(idn->plan->nics, i), keepDown) < 0)
            goto error;
    if (cloneIdentityHostname(idn, &hostname) < 0 && cloneIdentityFailed(idn, "hostname") < 0)
        goto error;
    if (cloneIdentityMachineId(idn, &machineId) < 0 && cloneIdentityFailed(idn, "machine-id") < 0)
        goto error;
    if (cloneNetPrepare(idn, st, keepDown, hostname, machineId) < 0)
        goto error;
    /* after the stacks: none of them put the source's MAC or an address back */
    if (cloneIdentityVerify(idn, keepDown) < 0 && cloneIdentityFailed(idn, "verify") < 0)
        goto error;
    /* kept for cloneIdentityAddresses() only if a link comes up */
    if (st->nics->len == 0)
        cloneNetStateDrop(idn);
    idn->result.stepsUs = g_get_monotonic_time() - t0;
    return 0;

 error:
    cloneNetStateDrop(idn);
    return -1;
}


/* ---- addresses, once the links are up ------------------------------------------ */

/* A NIC no daemon manages: a DHCP client of the library's choosing, the
 * first the guest has.  busybox's udhcpc (in the background once it has a
 * lease) and ISC's dhclient (with lease and pid files of its own: the
 * default lease file holds the source's lease) send the interface's MAC,
 * the new one, as client identifier. */
static int
cloneIdentityDhcpOwn(cloneIdentity *idn, const char *ifname)
{
    g_autofree char *lf = g_strdup_printf("/run/libvirt-clone-dhclient.%s.leases", ifname);
    g_autofree char *pf = g_strdup_printf("/run/libvirt-clone-dhclient.%s.pid", ifname);
    const char *const udhcpc[] = { "udhcpc", "-i", ifname, "-b", "-t", "5", "-T", "1", NULL };
    const char *const dhclient[] = { "dhclient", "-nw", "-lf", lf, "-pf", pf, ifname, NULL };
    const char *const *const clients[] = { udhcpc, dhclient };
    g_autoptr(GString) tried = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(clients); i++) {
        if (cloneAgentExec(idn, clients[i]) == 0)
            return 0;
        g_string_append_printf(tried, "%s%s", tried->len ? "; " : "", virCloneGetLastErrorMessage());
        if (!cloneAgentForgetMissing())
            return -1;
    }
    virCloneReportError(VIR_CLONE_ERR_GUEST,
                        _("no DHCP client could run for interface '%1$s' inside clone '%2$s': %3$s"),
                        ifname, idn->name, tried->str);
    return -1;
}


/* DHCP as the NIC's stack does it; the stacks were prepared (restarted with
 * the new machine-id, lease files removed) while the link was down. */
static int
cloneIdentityDhcp(cloneIdentity *idn, const cloneNetNic *n, const char *ifname)
{
    cloneNetstack stack = n ? n->stack : CLONE_NETSTACK_NONE;

    switch (stack) {
    case CLONE_NETSTACK_NETWORKD:
        /* the restarted networkd asks once it sees the carrier */
        return 0;
    case CLONE_NETSTACK_NETWORKMANAGER: {
        const char *state[] = { "nmcli", "-g", "GENERAL.STATE", "device", "show", ifname, NULL };
        const char *connect[] = { "nmcli", "--wait", "0", "device", "connect", ifname, NULL };
        g_autofree char *out = NULL;

        /* the restarted NetworkManager activates its connection on carrier
         * when it may connect automatically; else it is asked to */
        if (cloneAgentExecOut(idn, state, &out) < 0)
            return -1;
        /* 30 (disconnected); others: activating, activated, or waiting for
         * the carrier */
        if (!g_str_has_prefix(out, "30 "))
            return 0;
        return cloneAgentExec(idn, connect);
    }
    case CLONE_NETSTACK_IFUPDOWN: {
        const char *up[] = { "ifup", ifname, NULL };

        return cloneAgentExec(idn, up);
    }
    case CLONE_NETSTACK_NONE:
        return cloneIdentityDhcpOwn(idn, ifname);
    case CLONE_NETSTACK_UNKNOWN:
    case CLONE_NETSTACK_LAST:
        break;
    }
    virCloneReportError(VIR_CLONE_ERR_INTERNAL,
                        _("no DHCP for interface '%1$s' inside clone '%2$s': unknown network stack"),
                        ifname, idn->name);
    return -1;
}


static int
cloneIdentityStatic(cloneIdentity *idn, const clonePolicyNic *pnic, const char *ifname)
{
    g_autofree char *cidr = g_strdup_printf("%s/%u", pnic->ipAddress, pnic->ipPrefix);
    const char *family = strchr(pnic->ipAddress, ':') ? "-6" : "-4";
    const char *add[] = { "ip", family, "addr", "add", cidr, "dev", ifname, NULL };
    const char *route[] = { "ip", family, "route", "replace", "default", "via", pnic->ipGateway,
                            "dev", ifname, NULL };

    if (cloneAgentExec(idn, add) < 0)
        return -1;
    if (pnic->ipGateway && cloneAgentExec(idn, route) < 0)
        return -1;
    return 0;
}


/* The NIC's link goes down again: its guest took one of the source's
 * addresses. */
static int
cloneIdentityLinkDown(cloneIdentity *idn, const char *mac)
{
    g_autofree char *xml = virDomainGetXMLDesc(idn->clone, 0);
    g_autofree char *xpath = g_strdup_printf("/domain/devices/interface[mac/@address='%s']", mac);
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autofree xmlNodePtr *nics = NULL;
    xmlBufferPtr buf;
    xmlNodePtr nic;
    int rc;

    if (!xml) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot read the XML of clone '%1$s'"),
                                   idn->name);
        return -1;
    }
    if (!(doc = cloneXMLParse(xml, "domain", VIR_CLONE_ERR_LIBVIRT,
                              _("libvirt's XML of the clone does not parse"), &ctxt)))
        return -1;
    if (cloneXPathNodes(ctxt, xpath, &nics) < 1) {
        virCloneReportError(VIR_CLONE_ERR_INTERNAL, _("clone '%1$s' has no NIC with the MAC address %2$s"),
                            idn->name, mac);
        return -1;
    }
    nic = nics[0];
    for (xmlNodePtr c = nic->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "link"))
            xmlSetProp(c, BAD_CAST "state", BAD_CAST "down");
    buf = xmlBufferCreate();
    xmlNodeDump(buf, doc, nic, 0, 0);
    rc = virDomainUpdateDeviceFlags(idn->clone, (const char *)xmlBufferContent(buf),
                                    VIR_DOMAIN_AFFECT_LIVE);
    xmlBufferFree(buf);
    if (rc < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot bring down the link of clone '%1$s' with the MAC address %2$s"),
                                   idn->name, mac);
        return -1;
    }
    return 0;
}


/* A NIC that got what it must not have: with on-failure='warn' its link
 * goes down again. */
static int
cloneIdentityAddressFailed(cloneIdentity *idn, const char *mac, GHashTable *keepDown)
{
    if (cloneIdentityFailed(idn, "addresses") < 0)
        return -1;
    if (!g_hash_table_contains(keepDown, mac))
        g_hash_table_add(keepDown, g_strdup(mac));
    if (cloneIdentityLinkDown(idn, mac) < 0) {
        CLONE_WARN("clone '%s': %s", idn->name, virCloneGetLastErrorMessage());
        virCloneResetLastError();
    }
    CLONE_WARN("clone '%s': the NIC with the MAC address %s keeps its link down", idn->name, mac);
    return 0;
}


/* A NIC being given its address. */
typedef struct {
    char *ifname;
    char *mac;                 /* the clone's */
    const cloneNetNic *net;    /* NULL: not in the state */
    char *want;                /* static: this address; NULL: a new one */
    gboolean wantV4;           /* DHCP: the source had IPv4 here, a new IPv4 is awaited */
} clonePendingNic;


static void
clonePendingNicFree(gpointer data)
{
    clonePendingNic *p = data;

    g_free(p->ifname);
    g_free(p->mac);
    g_free(p->want);
    g_free(p);
}


static gboolean
clonePendingDone(const clonePendingNic *p, GPtrArray *addrs, GHashTable *source)
{
    for (guint i = 0; i < addrs->len; i++) {
        const char *a = g_ptr_array_index(addrs, i);
        g_autofree char *bare = g_strndup(a, strcspn(a, "/"));

        if (g_hash_table_contains(source, bare))
            continue;
        if (p->want ? g_str_equal(bare, p->want) : (!p->wantV4 || !strchr(bare, ':')))
            return TRUE;
    }
    return FALSE;
}


/* networkd's own view once it has the lease: its DHCPv4 client ID is not
 * the source's (it would be, had it kept the DUID of the old machine-id). */
static int
cloneIdentityNetworkdClientId(cloneIdentity *idn, const clonePendingNic *p)
{
    const char *argv[] = { "networkctl", "status", "--no-pager", "--lines=0", p->ifname, NULL };
    g_autofree char *out = NULL;
    g_autofree char *id = NULL;
    gint64 code = -1;

    if (!p->net || p->net->stack != CLONE_NETSTACK_NETWORKD || !p->net->clientId)
        return 0;
    if (cloneAgentExecFull(idn, argv, &code, &out, NULL) < 0)
        return -1;
    id = cloneNetworkdClientId(out);
    if (id && g_str_equal(id, p->net->clientId)) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("systemd-networkd inside clone '%1$s' asks DHCP on '%2$s' with the source's client ID %3$s"),
                            idn->name, p->ifname, id);
        return -1;
    }
    CLONE_DEBUG("clone '%s': networkd's DHCPv4 client ID on %s: %s (the source's: %s)",
                idn->name, p->ifname, id ? id : "none", p->net->clientId);
    return 0;
}


/* Waits for a new address on each pending NIC.  One of the source's
 * addresses is a failure: the guest's DHCP client asked with the source's
 * identity, or its configuration is static. */
static int
cloneIdentityWaitAddresses(cloneIdentity *idn, GPtrArray *pending, GHashTable *source,
                           GHashTable *keepDown)
{
    gint64 deadline = g_get_monotonic_time() + idn->policy->agentTimeoutS * G_USEC_PER_SEC;

    while (pending->len > 0) {
        g_autoptr(GPtrArray) ifs = cloneAgentInterfaces(idn);

        if (!ifs)
            return cloneIdentityFailed(idn, "addresses");
        for (guint i = pending->len; i-- > 0;) {
            const clonePendingNic *p = g_ptr_array_index(pending, i);
            const cloneGuestIf *gif = cloneGuestIfByMac(ifs, p->mac);
            const char *stolen;

            if (!gif)
                continue;
            if ((stolen = cloneNetstackSourceAddress(gif->addrs, source))) {
                virCloneReportError(VIR_CLONE_ERR_GUEST,
                                    _("interface '%1$s' inside clone '%2$s' took the source's address %3$s: the clone would answer for the source"),
                                    gif->name, idn->name, stolen);
                if (cloneIdentityAddressFailed(idn, p->mac, keepDown) < 0)
                    return -1;
                g_ptr_array_remove_index(pending, i);
                continue;
            }
            if (!clonePendingDone(p, gif->addrs, source))
                continue;
            CLONE_DEBUG("clone '%s': interface %s has %s", idn->name, gif->name,
                        (const char *)g_ptr_array_index(gif->addrs, 0));
            if (cloneIdentityNetworkdClientId(idn, p) < 0 &&
                cloneIdentityAddressFailed(idn, p->mac, keepDown) < 0)
                return -1;
            g_ptr_array_remove_index(pending, i);
        }
        if (pending->len == 0)
            break;
        if (g_get_monotonic_time() >= deadline) {
            const clonePendingNic *p = g_ptr_array_index(pending, 0);

            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("interface '%1$s' inside clone '%2$s' got no new address within %3$u s"),
                                p->ifname, idn->name, idn->policy->agentTimeoutS);
            return cloneIdentityFailed(idn, "addresses");
        }
        g_usleep(CLONE_AGENT_POLL_MS * 2 * 1000);
    }
    return 0;
}


int
cloneIdentityAddresses(cloneIdentity *idn, virDomainPtr clone, GHashTable *keepDown)
{
    g_autoptr(cloneNetState) st = g_steal_pointer(&idn->net);
    g_autoptr(GPtrArray) ifs = NULL;
    g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func(clonePendingNicFree);
    g_autoptr(GHashTable) noSource = g_hash_table_new(g_str_hash, g_str_equal);
    gboolean any = FALSE;

    idn->clone = clone;
    for (guint i = 0; i < idn->plan->nics->len && !any; i++) {
        const cloneNic *nic = g_ptr_array_index(idn->plan->nics, i);
        cloneIpMode mode = clonePolicyIpMode(idn->policy, nic->sourceMac, NULL);

        any = (mode == CLONE_IP_DHCP || mode == CLONE_IP_STATIC) &&
              !g_hash_table_contains(keepDown, nic->mac);
    }
    if (!any || idn->result.agentMissing)
        return 0;
    if (!(ifs = cloneAgentInterfaces(idn)))
        return cloneIdentityFailed(idn, "addresses");
    for (guint i = 0; i < idn->plan->nics->len; i++) {
        const cloneNic *nic = g_ptr_array_index(idn->plan->nics, i);
        const clonePolicyNic *pnic = NULL;
        cloneIpMode mode = clonePolicyIpMode(idn->policy, nic->sourceMac, &pnic);
        const cloneGuestIf *gif = cloneGuestIfByMac(ifs, nic->mac);
        const cloneNetNic *net = cloneNetNicByMac(st, nic->mac);
        const char *up[] = { "ip", "link", "set", "dev", NULL, "up", NULL };
        clonePendingNic *p;
        int rc = 0;

        if ((mode != CLONE_IP_DHCP && mode != CLONE_IP_STATIC) ||
            g_hash_table_contains(keepDown, nic->mac))
            continue;
        if (!gif)
            gif = cloneGuestIfByMac(ifs, nic->sourceMac);
        if (!gif) {
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("no interface inside clone '%1$s' has the MAC address %2$s"),
                                idn->name, nic->mac);
            if (cloneIdentityFailed(idn, "addresses") < 0)
                return -1;
            continue;
        }
        up[4] = gif->name;
        /* ifupdown brings it up itself (ifdown took it down) */
        if (!net || net->stack != CLONE_NETSTACK_IFUPDOWN || mode != CLONE_IP_DHCP)
            rc = cloneAgentExec(idn, up);
        if (rc == 0)
            rc = mode == CLONE_IP_DHCP ? cloneIdentityDhcp(idn, net, gif->name)
                                       : cloneIdentityStatic(idn, pnic, gif->name);
        if (rc < 0) {
            if (cloneIdentityFailed(idn, mode == CLONE_IP_DHCP ? "dhcp" : "static address") < 0)
                return -1;
            continue;
        }
        idn->result.steps++;
        p = g_new0(clonePendingNic, 1);
        p->ifname = g_strdup(gif->name);
        p->mac = g_strdup(nic->mac);
        p->net = net;
        p->want = mode == CLONE_IP_STATIC ? g_strdup(pnic->ipAddress) : NULL;
        for (guint j = 0; net && j < net->srcAddrs->len && !p->wantV4; j++)
            p->wantV4 = !strchr(g_ptr_array_index(net->srcAddrs, j), ':');
        g_ptr_array_add(pending, p);
    }
    return cloneIdentityWaitAddresses(idn, pending, st ? st->srcAddrs : noSource, keepDown);
}


/* ---- the context ------------------------------------------------------------- */

cloneIdentity *
cloneIdentityNew(const clonePolicy *policy, const cloneDomainPlan *plan, const char *name,
                 guint nameNumber)
{
    cloneIdentity *idn = g_new0(cloneIdentity, 1);

    idn->policy = policy;
    idn->plan = plan;
    idn->name = g_strdup(name);
    idn->nameNumber = nameNumber;
    return idn;
}


void
cloneIdentityFree(cloneIdentity *idn)
{
    if (!idn)
        return;
    cloneNetStateDrop(idn);
    g_free(idn->name);
    g_free(idn);
}


const cloneIdentityResult *
cloneIdentityGetResult(const cloneIdentity *idn)
{
    return &idn->result;
}
