/*
 * clone_identity.h: the clone's identity inside the guest, through the QEMU
 * guest agent: MACs, addresses, host name, machine-id, and what the
 * guest's network stack needs to follow them
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_domxml.h"
#include "clone_policy.h"

/* What the steps inside the guest did, for the job's statistics. */
typedef struct {
    guint steps;                 /* carried out */
    guint failures;              /* failed (on-failure='warn') */
    gboolean agentMissing;       /* no agent channel: no step can run */
    gint64 stepsUs;              /* the time of the steps before the links go up */
} cloneIdentityResult;

/* The identity work of one clone: its policy and plan (borrowed: they
 * outlive it), what the steps learn about the guest between the steps and
 * the addresses, and its result. */
typedef struct _cloneIdentity cloneIdentity;

cloneIdentity *cloneIdentityNew(const clonePolicy *policy, const cloneDomainPlan *plan,
                                const char *name, guint nameNumber);
void cloneIdentityFree(cloneIdentity *idn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneIdentity, cloneIdentityFree);
const cloneIdentityResult *cloneIdentityGetResult(const cloneIdentity *idn);

/* Whether the policy asks for steps inside the guest of this clone. */
gboolean cloneIdentityHasGuestSteps(const cloneIdentity *idn);

/* Before anything starts: the steps need a guest agent channel in the
 * source @src (its XML @srcXML) and a running clone (not @paused).  Fails,
 * or warns, as the policy says. */
int cloneIdentityCheck(cloneIdentity *idn, const char *srcName, const char *srcXML, gboolean paused);

/* With the clone running and its links down: read the source's addresses
 * and find the network stack that manages each NIC, give each NIC inside
 * the guest its new MAC, remove the source's addresses, set the host name
 * and a new machine-id, and make the network stack and the journal follow
 * them.  On return @keepDown holds the clone MACs of the NICs whose link
 * must stay down (the guest still uses the source's MAC, or its network
 * stack is unknown, after a step failed with on-failure='warn'). */
int cloneIdentityGuestSteps(cloneIdentity *idn, virDomainPtr clone, GHashTable *keepDown);

/* Once the links are up: addresses from the policy (static) or DHCP by the
 * NIC's network stack, then waits for them.  An address that is one of the
 * source's is a failed step; with on-failure='warn' the NIC's link goes
 * down again. */
int cloneIdentityAddresses(cloneIdentity *idn, virDomainPtr clone, GHashTable *keepDown);


/* ---- network stacks: exposed for the unit test ------------------------------ */

/* Who manages a NIC inside the guest. */
typedef enum {
    CLONE_NETSTACK_NONE = 0,        /* nobody: the library runs a DHCP client */
    CLONE_NETSTACK_NETWORKD,        /* systemd-networkd (netplan's default renderer) */
    CLONE_NETSTACK_NETWORKMANAGER,
    CLONE_NETSTACK_IFUPDOWN,        /* ifupdown, with ISC dhclient for DHCP */
    CLONE_NETSTACK_UNKNOWN,         /* a network daemon the library does not know */

    CLONE_NETSTACK_LAST
} cloneNetstack;
CLONE_ENUM_DECL(cloneNetstack);

/* What the guest said about one NIC; NULL: not asked (the daemon does not
 * run) or nothing there. */
typedef struct {
    const char *nmDevice;      /* nmcli -t -f GENERAL.STATE,GENERAL.CON-UUID device show IF */
    const char *networkctl;    /* networkctl status IF */
    const char *ifstate;       /* /run/network/ifstate.IF (ifupdown) */
    const char *unknownDaemon; /* a running network daemon of another kind */
} cloneNetstackFacts;

/* The stack that manages the NIC; *@detail gets NetworkManager's connection
 * UUID, networkd's network file, or the unknown daemon's name (or NULL). */
cloneNetstack cloneNetstackDecide(const cloneNetstackFacts *facts, char **detail);

/* The value of the first line "KEY<sep>VALUE" of @text (leading blanks
 * ignored), trimmed; NULL if there is none. */
char *cloneNetstackValue(const char *text, const char *key, char sep);

/* @text with every occurrence of the MAC @from (any case) replaced by @to;
 * NULL if @text has none. */
char *cloneNetstackReplaceMac(const char *text, const char *from, const char *to);

/* What systemd-networkd's DHCPv4 client identity is made of, in the
 * output of `networkctl status IF`: the DUID ("DHCP6 Client DUID") when
 * its "DHCP4 Client ID" is IAID plus DUID (the default) or absent (no
 * lease, e.g. the link is down), else its "DHCP4 Client ID"; NULL if it
 * shows neither. */
char *cloneNetworkdClientId(const char *status);

/* The first of @addrs ("ADDR/PREFIX") whose address is in @source (a set of
 * addresses without prefix), or NULL. */
const char *cloneNetstackSourceAddress(GPtrArray *addrs, GHashTable *source);
