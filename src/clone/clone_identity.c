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

#include <libvirt/libvirt-qemu.h>

#define CLONE_AGENT_CHANNEL "org.qemu.guest_agent.0"
#define CLONE_AGENT_POLL_MS 50

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
cloneIdentityNicSetsMac(const cloneJob *job, const cloneNic *nic)
{
    return clonePolicyGuestSetsMac(job->policy) &&
           g_ascii_strcasecmp(nic->mac, nic->sourceMac) != 0;
}


static gboolean
cloneIdentityNicHasSteps(const cloneJob *job, const cloneNic *nic)
{
    return cloneIdentityNicSetsMac(job, nic) ||
           clonePolicyIpMode(job->policy, nic->sourceMac, NULL) != CLONE_IP_KEEP;
}


gboolean
cloneIdentityHasGuestSteps(const cloneJob *job)
{
    const clonePolicy *p = job->policy;

    if (p->hostnameMode == CLONE_HOSTNAME_SET || p->machineId == CLONE_MACHINE_ID_REGENERATE)
        return TRUE;
    for (guint i = 0; job->plan && i < job->plan->nics->len; i++)
        if (cloneIdentityNicHasSteps(job, g_ptr_array_index(job->plan->nics, i)))
            return TRUE;
    return FALSE;
}


/* A step that cannot be carried out: the error stays set and -1 comes back
 * with on-failure='fail'; with 'warn' it becomes a warning and 0. */
static int
cloneIdentityFailed(cloneJob *job, const char *step)
{
    job->guestFailures++;
    if (job->policy->agentOnFailure == CLONE_AGENT_FAIL)
        return -1;
    CLONE_WARN("clone '%s': the step '%s' inside the guest was not carried out: %s",
               job->name, step, virCloneGetLastErrorMessage());
    virCloneResetLastError();
    return 0;
}


int
cloneIdentityCheck(cloneJob *job)
{
    g_autofree char *xpath = NULL;
    g_auto(GStrv) channels = NULL;

    if (!cloneIdentityHasGuestSteps(job))
        return 0;
    if (job->flags & VIR_DOMAIN_CLONE_LIVE_PAUSED) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("the clone policy has steps inside the guest (MAC, addresses, host name or machine-id), which need the clone running: flag PAUSED cannot be used with it"));
        return -1;
    }
    xpath = g_strdup_printf("/domain/devices/channel/target[@type='virtio'][@name='%s']/@name",
                            CLONE_AGENT_CHANNEL);
    channels = cloneXMLStrings(job->srcXML, xpath);
    if (channels[0])
        return 0;
    virCloneReportError(VIR_CLONE_ERR_GUEST,
                        _("domain '%1$s' has no QEMU guest agent channel (%2$s), which the clone policy's steps inside the guest need: add the channel and run qemu-ga in the guest, or give the policy <guest-agent on-failure='warn'/>"),
                        virDomainGetName(job->src), CLONE_AGENT_CHANNEL);
    job->agentMissing = TRUE;
    return cloneIdentityFailed(job, "guest agent");
}


/* ---- the agent ------------------------------------------------------------ */

/* Runs one agent command; *@ret (optional) gets its "return" member. */
static int
cloneAgentRun(cloneJob *job, const char *cmd, JsonObject *args, JsonNode **ret)
{
    g_autofree char *json = cloneQmpBuild(cmd, args);
    g_autofree char *reply = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *obj;

    reply = virDomainQemuAgentCommand(job->clone, json, (int)job->policy->agentTimeoutS, 0);
    if (!reply) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                   _("guest agent command '%1$s' failed in clone '%2$s'"),
                                   cmd, job->name);
        return -1;
    }
    if (!json_parser_load_from_data(parser, reply, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("guest agent of clone '%1$s' answered '%2$s' with something that is not a JSON object"),
                            job->name, cmd);
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
cloneAgentWait(cloneJob *job)
{
    gint64 deadline = g_get_monotonic_time() + job->policy->agentTimeoutS * G_USEC_PER_SEC;

    for (;;) {
        /* a second per try: an agent that answers at all answers fast */
        g_autofree char *reply = virDomainQemuAgentCommand(job->clone,
                                                           "{\"execute\":\"guest-ping\"}", 1, 0);

        if (reply)
            return 0;
        if (g_get_monotonic_time() >= deadline) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                       _("the guest agent of clone '%1$s' did not answer within %2$u s"),
                                       job->name, job->policy->agentTimeoutS);
            return -1;
        }
        virResetLastError();
        g_usleep(100 * 1000);
    }
}


/* Runs @argv inside the guest and waits for it; a non-zero exit is an
 * error carrying its standard error. */
static int
cloneAgentExec(cloneJob *job, const char *const *argv)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonArray) arr = json_array_new();
    g_autoptr(JsonNode) ret = NULL;
    g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
    gint64 deadline = g_get_monotonic_time() + job->policy->agentTimeoutS * G_USEC_PER_SEC;
    gint64 pid;

    for (guint i = 1; argv[i]; i++)
        json_array_add_string_element(arr, argv[i]);
    json_object_set_string_member(args, "path", argv[0]);
    json_object_set_array_member(args, "arg", json_array_ref(arr));
    json_object_set_boolean_member(args, "capture-output", TRUE);
    if (cloneAgentRun(job, "guest-exec", args, &ret) < 0)
        return -1;
    if (!JSON_NODE_HOLDS_OBJECT(ret) ||
        (pid = json_object_get_int_member_with_default(json_node_get_object(ret), "pid", -1)) < 0) {
        virCloneReportError(VIR_CLONE_ERR_GUEST, _("guest agent of clone '%1$s' did not start '%2$s'"),
                            job->name, cmdline);
        return -1;
    }
    for (;;) {
        g_autoptr(JsonObject) sargs = json_object_new();
        g_autoptr(JsonNode) st = NULL;
        JsonObject *o;

        json_object_set_int_member(sargs, "pid", pid);
        if (cloneAgentRun(job, "guest-exec-status", sargs, &st) < 0)
            return -1;
        o = JSON_NODE_HOLDS_OBJECT(st) ? json_node_get_object(st) : NULL;
        if (o && json_object_get_boolean_member_with_default(o, "exited", FALSE)) {
            gint64 code = json_object_get_int_member_with_default(o, "exitcode", -1);
            const char *err64 = json_object_get_string_member_with_default(o, "err-data", NULL);
            g_autofree guchar *err = NULL;
            gsize len = 0;
            g_autofree char *text = NULL;

            if (code == 0)
                return 0;
            if (err64)
                err = g_base64_decode(err64, &len);
            text = g_strchomp(g_strndup(err ? (const char *)err : "", len));
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("'%1$s' failed inside clone '%2$s' (exit status %3$lld): %4$s"),
                                cmdline, job->name, (long long)code,
                                *text ? text : _("no message"));
            return -1;
        }
        if (g_get_monotonic_time() >= deadline) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("'%1$s' did not finish inside clone '%2$s' within %3$u s"),
                                cmdline, job->name, job->policy->agentTimeoutS);
            return -1;
        }
        g_usleep(CLONE_AGENT_POLL_MS * 1000);
    }
}


/* The guest's interfaces as its agent reports them, through libvirt's API
 * for it. */
static GPtrArray *
cloneAgentInterfaces(cloneJob *job)
{
    g_autoptr(GPtrArray) ifs = g_ptr_array_new_with_free_func(cloneGuestIfFree);
    virDomainInterfacePtr *list = NULL;
    int n;

    if ((n = virDomainInterfaceAddresses(job->clone, &list,
                                         VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                   _("cannot read the interfaces inside clone '%1$s' from its guest agent"),
                                   job->name);
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
cloneAgentFileRead(cloneJob *job, const char *path, char **content)
{
    g_autoptr(JsonObject) oargs = json_object_new();
    g_autoptr(JsonNode) handle = NULL;
    g_autoptr(JsonObject) rargs = json_object_new();
    g_autoptr(JsonObject) cargs = json_object_new();
    g_autoptr(JsonNode) data = NULL;
    const char *b64;
    gsize len = 0;
    g_autofree guchar *bytes = NULL;
    int rc;

    json_object_set_string_member(oargs, "path", path);
    json_object_set_string_member(oargs, "mode", "r");
    *content = NULL;
    if (cloneAgentRun(job, "guest-file-open", oargs, &handle) < 0 ||
        !JSON_NODE_HOLDS_VALUE(handle))
        return -1;
    json_object_set_int_member(rargs, "handle", json_node_get_int(handle));
    json_object_set_int_member(rargs, "count", 4096);
    rc = cloneAgentRun(job, "guest-file-read", rargs, &data);
    json_object_set_int_member(cargs, "handle", json_node_get_int(handle));
    if (cloneAgentRun(job, "guest-file-close", cargs, NULL) < 0 || rc < 0)
        return -1;
    b64 = JSON_NODE_HOLDS_OBJECT(data) ?
        json_object_get_string_member_with_default(json_node_get_object(data), "buf-b64", "") : "";
    bytes = g_base64_decode(b64, &len);
    *content = g_strndup((const char *)bytes, len);
    return 0;
}


static int
cloneAgentFileWrite(cloneJob *job, const char *path, const char *content)
{
    g_autoptr(JsonObject) oargs = json_object_new();
    g_autoptr(JsonNode) handle = NULL;
    g_autoptr(JsonObject) wargs = json_object_new();
    g_autoptr(JsonObject) cargs = json_object_new();
    g_autofree char *b64 = g_base64_encode((const guchar *)content, strlen(content));
    int rc;

    json_object_set_string_member(oargs, "path", path);
    json_object_set_string_member(oargs, "mode", "w");
    if (cloneAgentRun(job, "guest-file-open", oargs, &handle) < 0 ||
        !JSON_NODE_HOLDS_VALUE(handle))
        return -1;
    json_object_set_int_member(wargs, "handle", json_node_get_int(handle));
    json_object_set_string_member(wargs, "buf-b64", b64);
    rc = cloneAgentRun(job, "guest-file-write", wargs, NULL);
    json_object_set_int_member(cargs, "handle", json_node_get_int(handle));
    if (cloneAgentRun(job, "guest-file-close", cargs, NULL) < 0 || rc < 0)
        return -1;
    return 0;
}


/* ---- the steps ------------------------------------------------------------ */

static int
cloneIdentityNicMac(cloneJob *job, const cloneNic *nic, const char *ifname)
{
    const char *argv[] = { "ip", "link", "set", "dev", ifname, "address", nic->mac, NULL };

    if (cloneAgentExec(job, argv) < 0)
        return -1;
    CLONE_DEBUG("clone '%s': guest interface %s has MAC %s (was %s)",
                job->name, ifname, nic->mac, nic->sourceMac);
    job->guestSteps++;
    return 0;
}


/* Addresses first (IPv6 link-local ones come back from the new MAC when the
 * link comes up), then whatever routes are left on the interface. */
static int
cloneIdentityNicFlush(cloneJob *job, const char *ifname)
{
    const char *addr[] = { "ip", "addr", "flush", "dev", ifname, NULL };
    const char *route4[] = { "ip", "-4", "route", "flush", "dev", ifname, NULL };
    const char *route6[] = { "ip", "-6", "route", "flush", "dev", ifname, NULL };

    if (cloneAgentExec(job, addr) < 0)
        return -1;
    /* nothing left to flush is not an error for every ip(8) */
    if (cloneAgentExec(job, route4) < 0 || cloneAgentExec(job, route6) < 0) {
        CLONE_DEBUG("clone '%s': %s", job->name, virCloneGetLastErrorMessage());
        virCloneResetLastError();
    }
    job->guestSteps++;
    return 0;
}


static int
cloneIdentityHostname(cloneJob *job)
{
    g_autofree char *hostname = clonePolicyExpandHostname(job->policy, job->nameNumber);
    g_autofree char *old = NULL;
    g_autofree char *line = NULL;
    g_autofree char *now = NULL;
    const char *argv[] = { "hostname", hostname, NULL };

    if (!hostname)
        return 0;
    if (cloneAgentExec(job, argv) < 0)
        return -1;
    /* the name for the next boot, where the guest keeps one */
    if (cloneAgentFileRead(job, "/etc/hostname", &old) == 0) {
        line = g_strdup_printf("%s\n", hostname);
        if (cloneAgentFileWrite(job, "/etc/hostname", line) < 0)
            return -1;
    } else {
        virCloneResetLastError();
    }
    /* what the guest says now, through libvirt's API for it */
    if (!(now = virDomainGetHostname(job->clone, VIR_DOMAIN_GET_HOSTNAME_AGENT))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_GUEST,
                                   _("cannot read the host name of clone '%1$s' from its guest agent"),
                                   job->name);
        return -1;
    }
    if (!g_str_equal(now, hostname)) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("clone '%1$s' calls itself '%2$s' after its host name was set to '%3$s'"),
                            job->name, now, hostname);
        return -1;
    }
    CLONE_DEBUG("clone '%s': host name '%s'", job->name, hostname);
    job->guestSteps++;
    return 0;
}


/* A new /etc/machine-id, as systemd-machine-id-setup writes it: 32
 * lowercase hexadecimal digits and a newline.  A guest without one (or
 * with an empty one, filled on its next boot) is left alone. */
static int
cloneIdentityMachineId(cloneJob *job)
{
    g_autofree char *old = NULL;
    g_autofree char *uuid = NULL;
    g_auto(GStrv) parts = NULL;
    g_autofree char *id = NULL;

    if (job->policy->machineId != CLONE_MACHINE_ID_REGENERATE)
        return 0;
    if (cloneAgentFileRead(job, "/etc/machine-id", &old) < 0 || !*g_strstrip(old)) {
        virCloneResetLastError();
        CLONE_INFO("clone '%s': the guest has no /etc/machine-id: nothing to regenerate", job->name);
        return 0;
    }
    uuid = g_uuid_string_random();
    parts = g_strsplit(uuid, "-", -1);
    id = g_strjoinv("", parts);
    g_clear_pointer(&uuid, g_free);
    uuid = g_strdup_printf("%s\n", id);
    if (cloneAgentFileWrite(job, "/etc/machine-id", uuid) < 0)
        return -1;
    CLONE_DEBUG("clone '%s': machine-id %s (was %s)", job->name, id, old);
    job->guestSteps++;
    return 0;
}


/* The guest's interfaces as the steps left them: new MACs, no address. */
static int
cloneIdentityVerify(cloneJob *job, GHashTable *keepDown)
{
    g_autoptr(GPtrArray) ifs = cloneAgentInterfaces(job);

    if (!ifs)
        return -1;
    for (guint i = 0; i < job->plan->nics->len; i++) {
        const cloneNic *nic = g_ptr_array_index(job->plan->nics, i);
        gboolean setMac = cloneIdentityNicSetsMac(job, nic);
        const cloneGuestIf *gif;

        if (g_hash_table_contains(keepDown, nic->mac))
            continue;
        gif = cloneGuestIfByMac(ifs, setMac ? nic->mac : nic->sourceMac);
        if (!gif) {
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("no interface inside clone '%1$s' has the MAC address %2$s after the identity steps"),
                                job->name, setMac ? nic->mac : nic->sourceMac);
            return -1;
        }
        if (clonePolicyIpMode(job->policy, nic->sourceMac, NULL) != CLONE_IP_KEEP &&
            gif->addrs->len > 0) {
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("interface '%1$s' inside clone '%2$s' still has the address %3$s"),
                                gif->name, job->name, (const char *)g_ptr_array_index(gif->addrs, 0));
            return -1;
        }
    }
    return 0;
}


static int
cloneIdentityNic(cloneJob *job, GPtrArray *ifs, const cloneNic *nic, GHashTable *keepDown)
{
    gboolean setMac = cloneIdentityNicSetsMac(job, nic);
    gboolean flush = clonePolicyIpMode(job->policy, nic->sourceMac, NULL) != CLONE_IP_KEEP;
    const cloneGuestIf *gif;

    if (!setMac && !flush)
        return 0;
    if (!(gif = cloneGuestIfByMac(ifs, nic->sourceMac))) {
        virCloneReportError(VIR_CLONE_ERR_GUEST,
                            _("no interface inside clone '%1$s' has the source's MAC address %2$s"),
                            job->name, nic->sourceMac);
        if (setMac)
            g_hash_table_add(keepDown, g_strdup(nic->mac));
        return cloneIdentityFailed(job, "mac");
    }
    if (setMac && cloneIdentityNicMac(job, nic, gif->name) < 0) {
        g_hash_table_add(keepDown, g_strdup(nic->mac));
        return cloneIdentityFailed(job, "mac");
    }
    if (flush && cloneIdentityNicFlush(job, gif->name) < 0)
        return cloneIdentityFailed(job, "addresses");
    return 0;
}


int
cloneIdentityGuestSteps(cloneJob *job, GHashTable *keepDown)
{
    g_autoptr(GPtrArray) ifs = NULL;
    gint64 t0 = g_get_monotonic_time();

    if (!cloneIdentityHasGuestSteps(job))
        return 0;
    if (job->agentMissing || cloneAgentWait(job) < 0) {
        job->guestStepsUs = g_get_monotonic_time() - t0;
        /* nothing inside the guest can change: NICs with a new MAC stay down */
        for (guint i = 0; i < job->plan->nics->len; i++) {
            const cloneNic *nic = g_ptr_array_index(job->plan->nics, i);

            if (cloneIdentityNicSetsMac(job, nic))
                g_hash_table_add(keepDown, g_strdup(nic->mac));
        }
        job->agentMissing = TRUE;
        return job->guestFailures > 0 ? 0 : cloneIdentityFailed(job, "guest agent");
    }
    if (!(ifs = cloneAgentInterfaces(job)))
        return cloneIdentityFailed(job, "interfaces");
    for (guint i = 0; i < job->plan->nics->len; i++)
        if (cloneIdentityNic(job, ifs, g_ptr_array_index(job->plan->nics, i), keepDown) < 0)
            return -1;
    if (cloneIdentityHostname(job) < 0 && cloneIdentityFailed(job, "hostname") < 0)
        return -1;
    if (cloneIdentityMachineId(job) < 0 && cloneIdentityFailed(job, "machine-id") < 0)
        return -1;
    if (cloneIdentityVerify(job, keepDown) < 0 && cloneIdentityFailed(job, "verify") < 0)
        return -1;
    job->guestStepsUs = g_get_monotonic_time() - t0;
    return 0;
}


/* ---- addresses, once the links are up ------------------------------------------ */

/* DHCP clients, the first one the guest has runs: busybox's (which goes to
 * the background once it has a lease), ISC's, dhcpcd, systemd-networkd's,
 * NetworkManager's. */
static int
cloneIdentityDhcp(cloneJob *job, const char *ifname)
{
    const char *const udhcpc[] = { "udhcpc", "-i", ifname, "-b", "-t", "5", "-T", "1", NULL };
    const char *const dhclient[] = { "dhclient", "-nw", ifname, NULL };
    const char *const dhcpcd[] = { "dhcpcd", "-b", ifname, NULL };
    const char *const networkctl[] = { "networkctl", "reconfigure", ifname, NULL };
    const char *const nmcli[] = { "nmcli", "device", "reapply", ifname, NULL };
    const char *const *const clients[] = { udhcpc, dhclient, dhcpcd, networkctl, nmcli };
    g_autoptr(GString) tried = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(clients); i++) {
        if (cloneAgentExec(job, clients[i]) == 0)
            return 0;
        g_string_append_printf(tried, "%s%s", tried->len ? "; " : "", virCloneGetLastErrorMessage());
        virCloneResetLastError();
    }
    virCloneReportError(VIR_CLONE_ERR_GUEST,
                        _("no DHCP client could run for interface '%1$s' inside clone '%2$s': %3$s"),
                        ifname, job->name, tried->str);
    return -1;
}


static int
cloneIdentityStatic(cloneJob *job, const clonePolicyNic *pnic, const char *ifname)
{
    g_autofree char *cidr = g_strdup_printf("%s/%u", pnic->ipAddress, pnic->ipPrefix);
    const char *family = strchr(pnic->ipAddress, ':') ? "-6" : "-4";
    const char *add[] = { "ip", family, "addr", "add", cidr, "dev", ifname, NULL };
    const char *route[] = { "ip", family, "route", "replace", "default", "via", pnic->ipGateway,
                            "dev", ifname, NULL };

    if (cloneAgentExec(job, add) < 0)
        return -1;
    if (pnic->ipGateway && cloneAgentExec(job, route) < 0)
        return -1;
    return 0;
}


/* Waits for an address on each interface in @pending (name -> NULL). */
static int
cloneIdentityWaitAddresses(cloneJob *job, GHashTable *pending)
{
    gint64 deadline = g_get_monotonic_time() + job->policy->agentTimeoutS * G_USEC_PER_SEC;

    while (g_hash_table_size(pending) > 0) {
        g_autoptr(GPtrArray) ifs = cloneAgentInterfaces(job);

        if (!ifs)
            return -1;
        for (guint i = 0; i < ifs->len; i++) {
            const cloneGuestIf *gif = g_ptr_array_index(ifs, i);

            if (gif->addrs->len > 0 && g_hash_table_remove(pending, gif->name))
                CLONE_DEBUG("clone '%s': interface %s has %s", job->name, gif->name,
                            (const char *)g_ptr_array_index(gif->addrs, 0));
        }
        if (g_hash_table_size(pending) == 0)
            break;
        if (g_get_monotonic_time() >= deadline) {
            GHashTableIter it;
            gpointer name;

            g_hash_table_iter_init(&it, pending);
            g_hash_table_iter_next(&it, &name, NULL);
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("interface '%1$s' inside clone '%2$s' got no address within %3$u s"),
                                (const char *)name, job->name, job->policy->agentTimeoutS);
            return -1;
        }
        g_usleep(CLONE_AGENT_POLL_MS * 2 * 1000);
    }
    return 0;
}


int
cloneIdentityAddresses(cloneJob *job, GHashTable *keepDown)
{
    g_autoptr(GPtrArray) ifs = NULL;
    g_autoptr(GHashTable) pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gboolean any = FALSE;

    for (guint i = 0; i < job->plan->nics->len && !any; i++) {
        const cloneNic *nic = g_ptr_array_index(job->plan->nics, i);
        cloneIpMode mode = clonePolicyIpMode(job->policy, nic->sourceMac, NULL);

        any = (mode == CLONE_IP_DHCP || mode == CLONE_IP_STATIC) &&
              !g_hash_table_contains(keepDown, nic->mac);
    }
    if (!any || job->agentMissing)
        return 0;
    if (!(ifs = cloneAgentInterfaces(job)))
        return cloneIdentityFailed(job, "addresses");
    for (guint i = 0; i < job->plan->nics->len; i++) {
        const cloneNic *nic = g_ptr_array_index(job->plan->nics, i);
        const clonePolicyNic *pnic = NULL;
        cloneIpMode mode = clonePolicyIpMode(job->policy, nic->sourceMac, &pnic);
        const cloneGuestIf *gif = cloneGuestIfByMac(ifs, nic->mac);
        const char *up[] = { "ip", "link", "set", "dev", NULL, "up", NULL };
        int rc;

        if ((mode != CLONE_IP_DHCP && mode != CLONE_IP_STATIC) ||
            g_hash_table_contains(keepDown, nic->mac))
            continue;
        if (!gif)
            gif = cloneGuestIfByMac(ifs, nic->sourceMac);
        if (!gif) {
            virCloneReportError(VIR_CLONE_ERR_GUEST,
                                _("no interface inside clone '%1$s' has the MAC address %2$s"),
                                job->name, nic->mac);
            if (cloneIdentityFailed(job, "addresses") < 0)
                return -1;
            continue;
        }
        up[4] = gif->name;
        rc = cloneAgentExec(job, up);
        if (rc == 0)
            rc = mode == CLONE_IP_DHCP ? cloneIdentityDhcp(job, gif->name)
                                       : cloneIdentityStatic(job, pnic, gif->name);
        if (rc < 0) {
            if (cloneIdentityFailed(job, mode == CLONE_IP_DHCP ? "dhcp" : "static address") < 0)
                return -1;
            continue;
        }
        job->guestSteps++;
        g_hash_table_add(pending, g_strdup(gif->name));
    }
    if (cloneIdentityWaitAddresses(job, pending) < 0 &&
        cloneIdentityFailed(job, "addresses") < 0)
        return -1;
    return 0;
}
