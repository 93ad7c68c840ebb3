/*
 * clone_sandbox_net.c: the isolated bridge of sandbox clones (netlink)
 *
 * The NICs of a sandbox clone are isolated ports of one bridge per host
 * (<port isolated='yes'/>: libvirt sets BR_ISOLATED on the tap, on every
 * start).  Isolated ports cannot reach each other, and the bridge has no
 * uplink, so what a guest can still reach is the host's own side of the
 * bridge.  That side gets no address; IPv6 is off on it (no link-local
 * address: the address generation mode is "none" before it first goes up,
 * and disable_ipv6 is set as a second guard); IPv4 that arrives on it is
 * neither forwarded nor answered by ARP; STP and multicast snooping are off,
 * so that the bridge itself sends nothing (snooping makes it join
 * 224.0.0.106 and send IGMP reports to the guests); its MAC address is
 * random and fixed, instead of following the smallest MAC of its ports.
 * docs/sandbox.md says what this leaves open.
 *
 * Everything goes through rtnetlink with libnl-route-3, except
 * disable_ipv6, which the kernel takes only through /proc/sys.  The
 * isolation flag of a port (IFLA_BRPORT_ISOLATED) is read from the
 * AF_BRIDGE link dump, which libnl does not parse.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_sandbox_net.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/inet6.h>

typedef struct nl_sock cloneNlSock;
typedef struct nl_msg cloneNlMsg;
typedef struct nl_cache cloneNlCache;
typedef struct nl_cb cloneNlCb;
typedef struct nl_addr cloneNlAddr;
typedef struct rtnl_link cloneRtnlLink;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneNlSock, nl_socket_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneNlMsg, nlmsg_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneNlCache, nl_cache_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneNlCb, nl_cb_put);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneNlAddr, nl_addr_put);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneRtnlLink, rtnl_link_put);

/* IPv4 settings of the bridge (net.ipv4.conf.BRIDGE.*), set by
 * cloneSandboxBridgeEnsure and, if @verified, checked by cloneSandboxVerify. */
static const struct {
    int id;
    uint32_t value;
    const char *name;
    gboolean verified;
} cloneSandboxInetConf[] = {
    /* a guest's packets are not routed anywhere by the host */
    { IPV4_DEVCONF_FORWARDING, 0, "forwarding", TRUE },
    /* the host answers no ARP request that arrives on the bridge */
    { IPV4_DEVCONF_ARP_IGNORE, 8, "arp_ignore", TRUE },
    /* nor unicast IP sent to a broadcast or multicast MAC address */
    { IPV4_DEVCONF_DROP_UNICAST_IN_L2_MULTICAST, 1, "drop_unicast_in_l2_multicast", TRUE },
    /* strict: no route leads back through the bridge, so a guest's packet
     * to a host address is dropped.  Best effort, not verified: the larger
     * of this and conf.all.rp_filter counts, and systemd-sysctl may set 2
     * (loose) on a new interface after we did. */
    { IPV4_DEVCONF_RP_FILTER, 1, "rp_filter", FALSE },
};

#define CLONE_IPV6_CONF "/proc/sys/net/ipv6/conf"


gboolean
cloneSandboxBridgeNameCheck(const char *name)
{
    /* the kernel's dev_valid_name() */
    if (name && *name && strlen(name) < IFNAMSIZ &&
        !g_str_equal(name, ".") && !g_str_equal(name, "..") &&
        !strpbrk(name, "/: \t\n\v\f\r"))
        return TRUE;
    virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                        _("invalid bridge name '%1$s': an interface name has 1 to %2$d characters and no '/', ':' or white space"),
                        name ? name : "", IFNAMSIZ - 1);
    return FALSE;
}


static cloneNlSock *
cloneNlOpen(void)
{
    g_autoptr(cloneNlSock) sk = nl_socket_alloc();
    int err;

    if (!sk) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, "%s", _("cannot allocate a netlink socket"));
        return NULL;
    }
    if ((err = nl_connect(sk, NETLINK_ROUTE)) < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot open a netlink socket: %1$s"),
                            nl_geterror(err));
        return NULL;
    }
    return g_steal_pointer(&sk);
}


/* The bridge @bridge: 1 and @link, 0 if there is no interface of that
 * name, -1 with an error if it is not a bridge or netlink fails. */
static int
cloneBridgeLookup(struct nl_sock *sk, const char *bridge, struct rtnl_link **link)
{
    g_autoptr(cloneRtnlLink) found = NULL;
    int err = rtnl_link_get_kernel(sk, 0, bridge, &found);

    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
        return 0;
    if (err < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("cannot look up network interface '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return -1;
    }
    if (g_strcmp0(rtnl_link_get_type(found), "bridge") != 0) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("network interface '%1$s' is not a bridge: it cannot be a sandbox bridge"),
                            bridge);
        return -1;
    }
    *link = g_steal_pointer(&found);
    return 1;
}


/* A unicast, locally administered MAC address, fixed for the bridge's life. */
static cloneNlAddr *
cloneRandomMac(void)
{
    unsigned char mac[6];

    for (size_t i = 0; i < sizeof(mac); i++)
        mac[i] = (unsigned char)g_random_int_range(0, 256);
    mac[0] = (unsigned char)((mac[0] & 0xfe) | 0x02);
    return nl_addr_build(AF_LLC, mac, sizeof(mac));
}


static int
cloneBridgeCreate(struct nl_sock *sk, const char *bridge)
{
    g_autoptr(cloneRtnlLink) link = rtnl_link_alloc();
    g_autoptr(cloneNlAddr) mac = cloneRandomMac();
    int err;

    rtnl_link_set_name(link, bridge);
    rtnl_link_set_addr(link, mac);
    if ((err = rtnl_link_set_type(link, "bridge")) >= 0)
        err = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
    if (err == -NLE_EXIST)
        return 0; /* made meanwhile by another clone's hook */
    if (err < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot create sandbox bridge '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return -1;
    }
    CLONE_INFO("created sandbox bridge '%s'", bridge);
    return 0;
}


/* STP and multicast snooping off: IFLA_INFO_DATA of the bridge, which
 * libnl 3.7 cannot set, in a message of our own ("ip link set BR type
 * bridge stp_state 0 mcast_snooping 0"). */
static int
cloneBridgeSetOptions(struct nl_sock *sk, struct rtnl_link *link, const char *bridge)
{
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = rtnl_link_get_ifindex(link) };
    g_autoptr(cloneNlMsg) msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
    struct nlattr *info;
    struct nlattr *data;
    int err = -NLE_MSGSIZE;

    if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) >= 0 &&
        (info = nla_nest_start(msg, IFLA_LINKINFO)) &&
        nla_put_string(msg, IFLA_INFO_KIND, "bridge") >= 0 &&
        (data = nla_nest_start(msg, IFLA_INFO_DATA)) &&
        nla_put_u32(msg, IFLA_BR_STP_STATE, 0) >= 0 &&
        nla_put_u8(msg, IFLA_BR_MCAST_SNOOPING, 0) >= 0 &&
        nla_nest_end(msg, data) >= 0 && nla_nest_end(msg, info) >= 0 &&
        (err = nl_send_auto(sk, msg)) >= 0)
        err = nl_wait_for_ack(sk);
    if (err < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("cannot turn off STP and multicast snooping on sandbox bridge '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return -1;
    }
    return 0;
}


static gboolean
cloneHostHasIPv6(void)
{
    return g_file_test(CLONE_IPV6_CONF "/all", G_FILE_TEST_IS_DIR);
}


/* IPv4 settings, and no IPv6 address generation: one RTM_NEWLINK with
 * IFLA_AF_SPEC, before the bridge goes up. */
static int
cloneBridgeSetAddrConf(struct nl_sock *sk, struct rtnl_link *link, const char *bridge)
{
    g_autoptr(cloneRtnlLink) change = rtnl_link_alloc();
    int err = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(cloneSandboxInetConf) && err >= 0; i++)
        err = rtnl_link_inet_set_conf(change, cloneSandboxInetConf[i].id,
                                      cloneSandboxInetConf[i].value);
    if (err >= 0 && cloneHostHasIPv6())
        err = rtnl_link_inet6_set_addr_gen_mode(change, IN6_ADDR_GEN_MODE_NONE);
    if (err >= 0)
        err = rtnl_link_change(sk, link, change, 0);
    if (err < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("cannot configure IPv4 and IPv6 on sandbox bridge '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return -1;
    }
    return 0;
}


/* disable_ipv6 removes every IPv6 address the bridge may have and keeps
 * it from getting one. */
static int
cloneBridgeDisableIPv6(const char *bridge)
{
    g_autofree char *path = g_strdup_printf(CLONE_IPV6_CONF "/%s/disable_ipv6", bridge);
    int fd;
    ssize_t n;

    if (!cloneHostHasIPv6())
        return 0;
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
        virCloneReportSystemError(errno, _("cannot open '%1$s'"), path);
        return -1;
    }
    n = write(fd, "1\n", 2);
    if (n != 2) {
        virCloneReportSystemError(n < 0 ? errno : EIO, _("cannot write '%1$s'"), path);
        close(fd);
        return -1;
    }
    if (close(fd) < 0) {
        virCloneReportSystemError(errno, _("cannot write '%1$s'"), path);
        return -1;
    }
    return 0;
}


static int
cloneBridgeSetUp(struct nl_sock *sk, struct rtnl_link *link, const char *bridge)
{
    g_autoptr(cloneRtnlLink) change = rtnl_link_alloc();
    int err;

    if (rtnl_link_get_flags(link) & IFF_UP)
        return 0;
    rtnl_link_set_flags(change, IFF_UP);
    if ((err = rtnl_link_change(sk, link, change, 0)) < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot bring up sandbox bridge '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return -1;
    }
    return 0;
}


/* Fails on the first address of @ifindex; with @allowLinkLocal6, IPv6
 * link-local addresses are let through (disable_ipv6 removes them). */
static int
cloneBridgeCheckAddresses(struct nl_sock *sk, const char *bridge, int ifindex,
                          gboolean allowLinkLocal6)
{
    g_autoptr(cloneNlCache) cache = NULL;
    int err;

    if ((err = rtnl_addr_alloc_cache(sk, &cache)) < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("cannot list the addresses of sandbox bridge '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return -1;
    }
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *addr = (struct rtnl_addr *)o;
        char buf[INET6_ADDRSTRLEN + 8];

        if (rtnl_addr_get_ifindex(addr) != ifindex)
            continue;
        if (allowLinkLocal6 && rtnl_addr_get_family(addr) == AF_INET6 &&
            rtnl_addr_get_scope(addr) == RT_SCOPE_LINK)
            continue;
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("sandbox bridge '%1$s' has the address '%2$s': a sandbox bridge must have none"),
                            bridge, nl_addr2str(rtnl_addr_get_local(addr), buf, sizeof(buf)));
        return -1;
    }
    return 0;
}


int
cloneSandboxBridgeEnsure(const char *bridge)
{
    g_autoptr(cloneNlSock) sk = NULL;
    g_autoptr(cloneRtnlLink) link = NULL;
    int rc;

    if (!cloneSandboxBridgeNameCheck(bridge) || !(sk = cloneNlOpen()))
        return -1;
    if ((rc = cloneBridgeLookup(sk, bridge, &link)) < 0)
        return -1;
    if (rc == 0) {
        if (cloneBridgeCreate(sk, bridge) < 0 || (rc = cloneBridgeLookup(sk, bridge, &link)) < 0)
            return -1;
        if (rc == 0) {
            virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                                _("sandbox bridge '%1$s' disappeared right after its creation"),
                                bridge);
            return -1;
        }
    } else if (cloneBridgeCheckAddresses(sk, bridge, rtnl_link_get_ifindex(link), TRUE) < 0) {
        /* someone's real bridge: changing its settings could cut the host off */
        return -1;
    }
    if (cloneBridgeSetOptions(sk, link, bridge) < 0 ||
        cloneBridgeSetAddrConf(sk, link, bridge) < 0 ||
        cloneBridgeDisableIPv6(bridge) < 0)
        return -1;
    return cloneBridgeSetUp(sk, link, bridge);
}


/* ---- ports: the AF_BRIDGE link dump --------------------------------------- */

typedef struct _cloneBridgePort cloneBridgePort;
struct _cloneBridgePort {
    char *name;
    gboolean isolated;   /* IFLA_BRPORT_ISOLATED */
};

static void
cloneBridgePortFree(gpointer data)
{
    cloneBridgePort *port = data;

    g_free(port->name);
    g_free(port);
}

typedef struct _cloneBridgePortDump cloneBridgePortDump;
struct _cloneBridgePortDump {
    uint32_t master;     /* the bridge's ifindex */
    GPtrArray *ports;    /* of cloneBridgePort */
    gboolean unparsable; /* a message could not be parsed: it may be a port */
};


static int
cloneBridgePortParse(struct nl_msg *msg, void *opaque)
{
    static struct nla_policy linkPolicy[IFLA_MAX + 1] = {
        [IFLA_MASTER] = { .type = NLA_U32 },
        [IFLA_IFNAME] = { .type = NLA_STRING, .maxlen = IFNAMSIZ },
        [IFLA_PROTINFO] = { .type = NLA_NESTED },
    };
    static struct nla_policy portPolicy[IFLA_BRPORT_MAX + 1] = {
        [IFLA_BRPORT_ISOLATED] = { .type = NLA_U8 },
    };
    cloneBridgePortDump *dump = opaque;
    struct nlmsghdr *nlh = nlmsg_hdr(msg);
    struct nlattr *tb[IFLA_MAX + 1];
    struct nlattr *info[IFLA_BRPORT_MAX + 1];
    cloneBridgePort *port;

    if (nlh->nlmsg_type != RTM_NEWLINK)
        return NL_OK;
    if (nlmsg_parse(nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX, linkPolicy) < 0) {
        dump->unparsable = TRUE;
        return NL_OK;
    }
    if (!tb[IFLA_MASTER] || !tb[IFLA_IFNAME] || nla_get_u32(tb[IFLA_MASTER]) != dump->master)
        return NL_OK;
    port = g_new0(cloneBridgePort, 1);
    port->name = g_strndup(nla_data(tb[IFLA_IFNAME]), nla_len(tb[IFLA_IFNAME]));
    if (tb[IFLA_PROTINFO] &&
        nla_parse_nested(info, IFLA_BRPORT_MAX, tb[IFLA_PROTINFO], portPolicy) == 0 &&
        info[IFLA_BRPORT_ISOLATED])
        port->isolated = nla_get_u8(info[IFLA_BRPORT_ISOLATED]) != 0;
    g_ptr_array_add(dump->ports, port);
    return NL_OK;
}


/* The ports of the bridge @link, of cloneBridgePort. */
static GPtrArray *
cloneBridgePortList(struct nl_sock *sk, struct rtnl_link *link, const char *bridge)
{
    struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE };
    g_autoptr(cloneNlCb) cb = nl_cb_alloc(NL_CB_DEFAULT);
    g_autoptr(GPtrArray) ports = g_ptr_array_new_with_free_func(cloneBridgePortFree);
    cloneBridgePortDump dump = { (uint32_t)rtnl_link_get_ifindex(link), ports, FALSE };
    int err = -NLE_NOMEM;

    if (cb &&
        (err = nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, cloneBridgePortParse, &dump)) >= 0 &&
        (err = nl_send_simple(sk, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi))) >= 0)
        err = nl_recvmsgs(sk, cb);
    if (err >= 0 && dump.unparsable)
        err = -NLE_PARSE_ERR;
    if (err < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot list the ports of bridge '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return NULL;
    }
    return g_steal_pointer(&ports);
}


static cloneBridgePort *
cloneBridgePortFind(GPtrArray *ports, const char *name)
{
    for (guint i = 0; i < ports->len; i++) {
        cloneBridgePort *port = g_ptr_array_index(ports, i);

        if (g_str_equal(port->name, name))
            return port;
    }
    return NULL;
}


static gboolean
cloneStrvContains(const char *const *strv, const char *s)
{
    return strv && g_strv_contains(strv, s);
}


static int
cloneBridgeCheckPorts(const char *bridge, GPtrArray *ports, const char *const *expected)
{
    for (guint i = 0; i < ports->len; i++) {
        cloneBridgePort *port = g_ptr_array_index(ports, i);

        if (port->isolated)
            continue;
        if (cloneStrvContains(expected, port->name))
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("port '%2$s' of sandbox bridge '%1$s' is not isolated"),
                                bridge, port->name);
        else
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("sandbox bridge '%1$s' has an unexpected port '%2$s' (not isolated)"),
                                bridge, port->name);
        return -1;
    }
    for (const char *const *e = expected; e && *e; e++) {
        if (!cloneBridgePortFind(ports, *e)) {
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("interface '%2$s' is not a port of sandbox bridge '%1$s'"),
                                bridge, *e);
            return -1;
        }
    }
    return 0;
}


/* ---- verification ----------------------------------------------------------- */

static int
cloneBridgeCheckConf(struct rtnl_link *link, const char *bridge)
{
    uint8_t mode;

    for (size_t i = 0; i < G_N_ELEMENTS(cloneSandboxInetConf); i++) {
        uint32_t value;

        if (rtnl_link_inet_get_conf(link, cloneSandboxInetConf[i].id, &value) < 0) {
            virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                                _("cannot read the IPv4 settings of sandbox bridge '%1$s'"),
                                bridge);
            return -1;
        }
        if (cloneSandboxInetConf[i].verified && value != cloneSandboxInetConf[i].value) {
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("sandbox bridge '%1$s' has net.ipv4.conf.%1$s.%2$s = %3$u instead of %4$u"),
                                bridge, cloneSandboxInetConf[i].name, value,
                                cloneSandboxInetConf[i].value);
            return -1;
        }
    }
    /* no IPv6 data: the host has no IPv6 at all */
    if (rtnl_link_inet6_get_addr_gen_mode(link, &mode) == 0 && mode != IN6_ADDR_GEN_MODE_NONE) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("sandbox bridge '%1$s' generates IPv6 addresses (address generation mode %2$u instead of none)"),
                            bridge, mode);
        return -1;
    }
    return 0;
}


static int
cloneBridgeCheckMaster(struct nl_sock *sk, struct rtnl_link *link, const char *bridge)
{
    g_autoptr(cloneRtnlLink) master = NULL;
    int ifindex = rtnl_link_get_master(link);

    if (ifindex == 0)
        return 0;
    if (rtnl_link_get_kernel(sk, ifindex, NULL, &master) < 0)
        master = NULL;
    virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                        _("sandbox bridge '%1$s' is a port of '%2$s': it must have no uplink"),
                        bridge, master ? rtnl_link_get_name(master) : "?");
    return -1;
}


int
cloneSandboxVerify(const char *bridge, const char *const *expectedPorts)
{
    g_autoptr(cloneNlSock) sk = NULL;
    g_autoptr(cloneRtnlLink) link = NULL;
    g_autoptr(GPtrArray) ports = NULL;
    int rc;

    if (!cloneSandboxBridgeNameCheck(bridge) || !(sk = cloneNlOpen()))
        return -1;
    if ((rc = cloneBridgeLookup(sk, bridge, &link)) <= 0) {
        if (rc == 0)
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("sandbox bridge '%1$s' does not exist"), bridge);
        return -1;
    }
    if (cloneBridgeCheckMaster(sk, link, bridge) < 0 ||
        cloneBridgeCheckConf(link, bridge) < 0 ||
        cloneBridgeCheckAddresses(sk, bridge, rtnl_link_get_ifindex(link), FALSE) < 0)
        return -1;
    if (!(ports = cloneBridgePortList(sk, link, bridge)))
        return -1;
    return cloneBridgeCheckPorts(bridge, ports, expectedPorts);
}


/* ---- ports and removal ------------------------------------------------------- */

char **
cloneSandboxBridgePorts(const char *bridge)
{
    g_autoptr(cloneNlSock) sk = NULL;
    g_autoptr(cloneRtnlLink) link = NULL;
    g_autoptr(GPtrArray) ports = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    int rc;

    if (!cloneSandboxBridgeNameCheck(bridge) || !(sk = cloneNlOpen()))
        return NULL;
    if ((rc = cloneBridgeLookup(sk, bridge, &link)) <= 0) {
        if (rc == 0)
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("sandbox bridge '%1$s' does not exist"), bridge);
        return NULL;
    }
    if (!(ports = cloneBridgePortList(sk, link, bridge)))
        return NULL;
    for (guint i = 0; i < ports->len; i++) {
        cloneBridgePort *port = g_ptr_array_index(ports, i);

        g_ptr_array_add(names, g_strdup(port->name));
    }
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}


int
cloneSandboxBridgeRemoveIfUnused(const char *bridge)
{
    g_autoptr(cloneNlSock) sk = NULL;
    g_autoptr(cloneRtnlLink) link = NULL;
    g_autoptr(GPtrArray) ports = NULL;
    int rc;
    int err;

    if (!cloneSandboxBridgeNameCheck(bridge) || !(sk = cloneNlOpen()))
        return -1;
    if ((rc = cloneBridgeLookup(sk, bridge, &link)) <= 0)
        return rc;
    if (!(ports = cloneBridgePortList(sk, link, bridge)))
        return -1;
    if (ports->len > 0) {
        CLONE_DEBUG("sandbox bridge '%s' is kept: it has %u ports", bridge, ports->len);
        return 0;
    }
    err = rtnl_link_delete(sk, link);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
        return 0;
    if (err < 0) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot delete sandbox bridge '%1$s': %2$s"),
                            bridge, nl_geterror(err));
        return -1;
    }
    CLONE_INFO("deleted sandbox bridge '%s': no port left", bridge);
    return 1;
}
