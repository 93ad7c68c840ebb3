/*
 * test-netstacks-unit.c: how the library reads what a guest's network stack
 * says (src/clone/clone_identity.c), on the outputs of Debian 12's
 * networkctl (systemd 252), nmcli (NetworkManager 1.42), netplan's YAML and
 * ifupdown's state file, as tests/test-netstacks.c met them on the Debian
 * test guest
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_identity.h"

/* networkctl status --no-pager --lines=0 enp1s0, lvc.netstack=networkd */
static const char *networkdOut =
    "\xe2\x97\x8f 2: enp1s0\n"
    "                     Link File: /usr/lib/systemd/network/99-default.link\n"
    "                  Network File: /run/systemd/network/50-lvc-dhcp.network\n"
    "                         State: routable (configured)\n"
    "                  Online state: online\n"
    "                          Type: ether\n"
    "                          Path: pci-0000:01:00.0\n"
    "                        Driver: virtio_net\n"
    "                    HW Address: 52:54:00:12:34:56\n"
    "                       Address: 192.168.122.57 (DHCP4 via 192.168.122.1)\n"
    "                                fe80::5054:ff:fe12:3456\n"
    "                       Gateway: 192.168.122.1\n"
    "             Activation Policy: up\n"
    "           Required For Online: yes\n"
    "               DHCP4 Client ID: IAID:0x1e6e9b3a/DUID\n"
    "             DHCP6 Client DUID: DUID-EN/Vendor:0000ab11a1d3f6b0a2c43d5e0000\n";

/* the same, netplan's network file */
static const char *netplanOut =
    "\xe2\x97\x8f 2: enp1s0\n"
    "                  Network File: /run/systemd/network/10-netplan-enp1s0.network\n"
    "                         State: routable (configured)\n";

/* networkd runs but leaves the NIC alone (another stack, or a match that
 * no longer applies) */
static const char *networkdUnmanaged =
    "\xe2\x97\x8f 2: enp1s0\n"
    "                  Network File: n/a\n"
    "                         State: routable (unmanaged)\n";

/* nmcli -t -f GENERAL.STATE,GENERAL.CON-UUID device show enp1s0 */
static const char *nmOut =
    "GENERAL.STATE:100 (connected)\n"
    "GENERAL.CON-UUID:3c0ab4a6-2f53-4f7d-9f57-5cbd4e2e3a11\n";
static const char *nmUnavailable =
    "GENERAL.STATE:20 (unavailable)\n"
    "GENERAL.CON-UUID:\n";
static const char *nmUnmanaged =
    "GENERAL.STATE:10 (unmanaged)\n"
    "GENERAL.CON-UUID:\n";

static void
testDecide(const char *name, const cloneNetstackFacts *f, cloneNetstack want, const char *detail)
{
    g_autofree char *got = NULL;
    cloneNetstack stack = cloneNetstackDecide(f, &got);

    g_test_message("%s: %s (%s)", name, cloneNetstackTypeToString(stack), got ? got : "-");
    g_assert_cmpstr(cloneNetstackTypeToString(stack), ==, cloneNetstackTypeToString(want));
    g_assert_cmpstr(got, ==, detail);
}


static void
testStacks(void)
{
    cloneNetstackFacts f = { 0 };

    testDecide("nothing runs", &f, CLONE_NETSTACK_NONE, NULL);

    f = (cloneNetstackFacts){ .networkctl = networkdOut };
    testDecide("networkd", &f, CLONE_NETSTACK_NETWORKD, "/run/systemd/network/50-lvc-dhcp.network");
    f = (cloneNetstackFacts){ .networkctl = netplanOut };
    testDecide("netplan", &f, CLONE_NETSTACK_NETWORKD, "/run/systemd/network/10-netplan-enp1s0.network");
    f = (cloneNetstackFacts){ .networkctl = networkdUnmanaged };
    testDecide("networkd, unmanaged", &f, CLONE_NETSTACK_NONE, NULL);

    f = (cloneNetstackFacts){ .nmDevice = nmOut };
    testDecide("NetworkManager", &f, CLONE_NETSTACK_NETWORKMANAGER,
               "3c0ab4a6-2f53-4f7d-9f57-5cbd4e2e3a11");
    /* no carrier (the clone's link is down): still NetworkManager's */
    f = (cloneNetstackFacts){ .nmDevice = nmUnavailable };
    testDecide("NetworkManager, no carrier", &f, CLONE_NETSTACK_NETWORKMANAGER, NULL);
    /* NetworkManager leaves it to ifupdown */
    f = (cloneNetstackFacts){ .nmDevice = nmUnmanaged, .ifstate = "enp1s0" };
    testDecide("NetworkManager unmanaged, ifupdown", &f, CLONE_NETSTACK_IFUPDOWN, NULL);
    f = (cloneNetstackFacts){ .nmDevice = nmUnmanaged, .networkctl = networkdOut };
    testDecide("NetworkManager unmanaged, networkd", &f, CLONE_NETSTACK_NETWORKD,
               "/run/systemd/network/50-lvc-dhcp.network");

    f = (cloneNetstackFacts){ .ifstate = "enp1s0" };
    testDecide("ifupdown", &f, CLONE_NETSTACK_IFUPDOWN, NULL);
    /* an interface ifupdown took down again has an empty state file */
    f = (cloneNetstackFacts){ .ifstate = "" };
    testDecide("ifupdown, down", &f, CLONE_NETSTACK_NONE, NULL);

    /* a daemon the library does not know, and none it knows manages the NIC */
    f = (cloneNetstackFacts){ .unknownDaemon = "dhcpcd.service" };
    testDecide("dhcpcd", &f, CLONE_NETSTACK_UNKNOWN, "dhcpcd.service");
    f = (cloneNetstackFacts){ .networkctl = networkdUnmanaged, .unknownDaemon = "connman.service" };
    testDecide("connman", &f, CLONE_NETSTACK_UNKNOWN, "connman.service");
    /* one it knows manages the NIC: that one */
    f = (cloneNetstackFacts){ .networkctl = networkdOut, .unknownDaemon = "connman.service" };
    testDecide("networkd and connman", &f, CLONE_NETSTACK_NETWORKD,
               "/run/systemd/network/50-lvc-dhcp.network");
}


static void
testValues(void)
{
    g_autofree char *state = cloneNetstackValue(networkdOut, "State", ':');
    g_autofree char *cid = cloneNetstackValue(networkdOut, "DHCP4 Client ID", ':');
    g_autofree char *none = cloneNetstackValue(netplanOut, "DHCP4 Client ID", ':');
    g_autofree char *uuid = cloneNetstackValue(nmOut, "GENERAL.CON-UUID", ':');
    g_autofree char *empty = cloneNetstackValue(nmUnavailable, "GENERAL.CON-UUID", ':');
    /* a key is a whole key: "State" is not "Online state" */
    g_autofree char *online = cloneNetstackValue(networkdOut, "Online state", ':');

    g_assert_cmpstr(state, ==, "routable (configured)");
    g_assert_cmpstr(cid, ==, "IAID:0x1e6e9b3a/DUID");
    g_assert_null(none);
    g_assert_cmpstr(uuid, ==, "3c0ab4a6-2f53-4f7d-9f57-5cbd4e2e3a11");
    g_assert_cmpstr(empty, ==, "");
    g_assert_cmpstr(online, ==, "online");
}


static void
testNetworkdClientId(void)
{
    g_autofree char *withLease = cloneNetworkdClientId(networkdOut);
    g_autofree char *linkDown = cloneNetworkdClientId(
        "                         State: no-carrier (configuring)\n"
        "             DHCP6 Client DUID: DUID-EN/Vendor:0000ab11a1d3f6b0a2c43d5e0000\n");
    g_autofree char *mac = cloneNetworkdClientId(
        "               DHCP4 Client ID: 01:52:54:00:12:34:56\n"
        "             DHCP6 Client DUID: DUID-EN/Vendor:0000ab11a1d3f6b0a2c43d5e0000\n");
    g_autofree char *none = cloneNetworkdClientId(netplanOut);

    /* the DUID, derived from the machine-id: the same whether the link had
     * a lease or not */
    g_assert_cmpstr(withLease, ==, "DUID-EN/Vendor:0000ab11a1d3f6b0a2c43d5e0000");
    g_assert_cmpstr(linkDown, ==, withLease);
    /* ClientIdentifier=mac */
    g_assert_cmpstr(mac, ==, "01:52:54:00:12:34:56");
    g_assert_null(none);
}


static void
testNetplanRewrite(void)
{
    const char *yaml =
        "network:\n"
        "    ethernets:\n"
        "        enp1s0:\n"
        "            dhcp4: true\n"
        "            match:\n"
        "                macaddress: 52:54:00:AB:cd:01\n"
        "            set-name: enp1s0\n"
        "    version: 2\n";
    const char *want =
        "network:\n"
        "    ethernets:\n"
        "        enp1s0:\n"
        "            dhcp4: true\n"
        "            match:\n"
        "                macaddress: 52:54:00:9e:11:22\n"
        "            set-name: enp1s0\n"
        "    version: 2\n";
    g_autofree char *got = cloneNetstackReplaceMac(yaml, "52:54:00:ab:cd:01", "52:54:00:9e:11:22");
    g_autofree char *other = cloneNetstackReplaceMac(yaml, "52:54:00:ab:cd:02", "52:54:00:9e:11:22");

    g_assert_cmpstr(got, ==, want);
    /* a YAML that does not name the source's MAC is left alone */
    g_assert_null(other);
}


static void
testSourceAddress(void)
{
    g_autoptr(GHashTable) source = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) clone = g_ptr_array_new();

    g_hash_table_add(source, (gpointer)"192.168.122.57");
    g_hash_table_add(source, (gpointer)"2001:db8::57");
    g_ptr_array_add(clone, (gpointer)"192.168.122.5/24");
    g_ptr_array_add(clone, (gpointer)"192.168.122.157/24");
    g_assert_null(cloneNetstackSourceAddress(clone, source));
    g_ptr_array_add(clone, (gpointer)"2001:db8::57/64");
    g_assert_cmpstr(cloneNetstackSourceAddress(clone, source), ==, "2001:db8::57/64");
    g_ptr_array_set_size(clone, 0);
    g_ptr_array_add(clone, (gpointer)"192.168.122.57/24");
    g_assert_cmpstr(cloneNetstackSourceAddress(clone, source), ==, "192.168.122.57/24");
    g_assert_null(cloneNetstackSourceAddress(NULL, source));
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/netstacks-unit/stacks", testStacks);
    g_test_add_func("/netstacks-unit/values", testValues);
    g_test_add_func("/netstacks-unit/networkd-client-id", testNetworkdClientId);
    g_test_add_func("/netstacks-unit/netplan-rewrite", testNetplanRewrite);
    g_test_add_func("/netstacks-unit/source-address", testSourceAddress);
    return g_test_run();
}
