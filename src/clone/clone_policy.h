/*
 * clone_policy.h: clone policies (XML), the contract between the parser,
 * the domain XML rewrite and the orchestration
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

typedef enum {
    CLONE_STRATEGY_AUTO = 0,
    CLONE_STRATEGY_PRECOPY,
    CLONE_STRATEGY_BACKGROUND,
    CLONE_STRATEGY_POSTCOPY,      /* reserved: parsed, refused at clone time */

    CLONE_STRATEGY_LAST
} cloneStrategy;
CLONE_ENUM_DECL(cloneStrategy);

typedef enum {
    CLONE_INTEGRITY_ACTION_ALERT = 0,   /* the values of virDomainCloneIntegrityAction */
    CLONE_INTEGRITY_ACTION_PAUSE,
    CLONE_INTEGRITY_ACTION_DESTROY,

    CLONE_INTEGRITY_ACTION_LAST
} cloneIntegrityAction;
CLONE_ENUM_DECL(cloneIntegrityAction);

typedef enum {
    CLONE_NETWORK_DISCONNECTED = 0, /* links stay down (default) */
    CLONE_NETWORK_INHERIT,          /* links come up as in the source */
    CLONE_NETWORK_SANDBOX,          /* isolated bridge (sandbox issue) */

    CLONE_NETWORK_LAST
} cloneNetworkMode;
CLONE_ENUM_DECL(cloneNetworkMode);

typedef enum {
    CLONE_DISK_FORK = 0,       /* qcow2 overlays for the clone and the source */
    CLONE_DISK_SHARE_READONLY, /* both use the same image, read-only */
    CLONE_DISK_EXCLUDE,        /* the clone gets no such disk */
    CLONE_DISK_DEFAULT,        /* policy only: decide from the device */

    CLONE_DISK_ACTION_LAST
} cloneDiskAction;
CLONE_ENUM_DECL(cloneDiskAction);

typedef enum {
    CLONE_MAC_AUTO = 0,        /* a new random locally administered MAC */
    CLONE_MAC_KEEP,            /* the source's MAC (isolated networks only) */
    CLONE_MAC_SET,             /* the MAC given in the policy */

    CLONE_MAC_MODE_LAST
} cloneMacMode;
CLONE_ENUM_DECL(cloneMacMode);

typedef enum {
    CLONE_GENID_AUTO = 0,      /* new generation ID when the source has one */
    CLONE_GENID_KEEP,

    CLONE_GENID_MODE_LAST
} cloneGenidMode;
CLONE_ENUM_DECL(cloneGenidMode);

typedef enum {
    CLONE_HOSTNAME_KEEP = 0,
    CLONE_HOSTNAME_SET,        /* by the guest agent */

    CLONE_HOSTNAME_MODE_LAST
} cloneHostnameMode;
CLONE_ENUM_DECL(cloneHostnameMode);

typedef enum {
    CLONE_MACHINE_ID_KEEP = 0,
    CLONE_MACHINE_ID_REGENERATE, /* by the guest agent, if the guest has one */

    CLONE_MACHINE_ID_MODE_LAST
} cloneMachineIdMode;
CLONE_ENUM_DECL(cloneMachineIdMode);

/* What happens when a step inside the guest cannot be carried out (no
 * guest agent, a timeout, a command that fails). */
typedef enum {
    CLONE_AGENT_FAIL = 0,      /* the clone fails and is rolled back */
    CLONE_AGENT_WARN,          /* a warning; links whose guest MAC is still
                                * the source's stay down */

    CLONE_AGENT_FAILURE_LAST
} cloneAgentFailure;
CLONE_ENUM_DECL(cloneAgentFailure);

/* <network guest-mac=...>: the MAC inside the guest */
typedef enum {
    CLONE_GUEST_MAC_AUTO = 0,  /* set with network mode inherit */
    CLONE_GUEST_MAC_SET,       /* each NIC's new MAC is set inside the guest */
    CLONE_GUEST_MAC_KEEP,      /* the guest keeps using the source's MACs */

    CLONE_GUEST_MAC_LAST
} cloneGuestMacMode;
CLONE_ENUM_DECL(cloneGuestMacMode);

/* <network ip=...> and <interface><ip mode=...>: the guest's addresses */
typedef enum {
    CLONE_IP_AUTO = 0,         /* dhcp with network mode inherit, else keep */
    CLONE_IP_KEEP,             /* the source's addresses stay in the guest */
    CLONE_IP_NONE,             /* removed, no new ones */
    CLONE_IP_DHCP,             /* removed, then a DHCP client in the guest */
    CLONE_IP_STATIC,           /* removed, then the policy's (interface only) */

    CLONE_IP_MODE_LAST
} cloneIpMode;
CLONE_ENUM_DECL(cloneIpMode);

typedef enum {
    CLONE_TPM_AUTO = 0,        /* clone for a sandbox, else refuse (default) */
    CLONE_TPM_REFUSE,          /* a domain with a vTPM is refused */
    CLONE_TPM_CLONE,           /* the clone gets the source's TPM state */

    CLONE_TPM_MODE_LAST
} cloneTpmMode;
CLONE_ENUM_DECL(cloneTpmMode);

typedef enum {
    CLONE_CHAIN_FLATTEN = 0,   /* pull the source's chain into its top first */
    CLONE_CHAIN_REFUSE,

    CLONE_CHAIN_ACTION_LAST
} cloneChainAction;
CLONE_ENUM_DECL(cloneChainAction);

/* <interface source='MAC' mac='auto|keep|XX:..'/>: NIC of the source,
 * matched by its MAC address */
typedef struct _clonePolicyNic clonePolicyNic;
struct _clonePolicyNic {
    char *sourceMac;
    cloneMacMode mode;
    char *mac;                 /* CLONE_MAC_SET only */
    cloneIpMode ip;            /* CLONE_IP_AUTO: the <network ip=...> */
    char *ipAddress;           /* CLONE_IP_STATIC: IPv4 or IPv6 address */
    guint ipPrefix;
    char *ipGateway;           /* NULL: no default route */
};

/* <disk target='vdb' action='...'/> */
typedef struct _clonePolicyDisk clonePolicyDisk;
struct _clonePolicyDisk {
    char *target;
    cloneDiskAction action;
};

typedef struct _clonePolicy clonePolicy;
struct _clonePolicy {
    /* <name>exact</name> or <name template='%{source}-clone%{n}'/> */
    char *name;
    char *nameTemplate;        /* default CLONE_POLICY_DEFAULT_NAME_TEMPLATE */

    /* <identity> */
    char *uuid;                /* NULL: a new random one */
    cloneGenidMode genid;
    cloneHostnameMode hostnameMode;
    char *hostname;
    cloneMachineIdMode machineId;
    /* <guest-agent on-failure=... timeout=.../> */
    cloneAgentFailure agentOnFailure;
    guint agentTimeoutS;       /* per step */

    /* <network mode=...> with <interface/> children */
    cloneNetworkMode network;
    cloneGuestMacMode guestMac;
    cloneIpMode ip;            /* never CLONE_IP_STATIC */
    GPtrArray *nics;           /* of clonePolicyNic; NICs not listed: auto */
    /* <alert log=... command=.../>, sandbox only: where escape attempts
     * are delivered besides the API and sandbox-watch */
    char *alertLog;            /* absolute path: JSON lines appended */
    char *alertCommand;        /* run per event, the event as JSON on stdin */
    /* <integrity interval=... action=.../>, sandbox with <alert> only: the
     * kernel integrity watch, run by the alert watcher */
    guint integrityIntervalMs; /* 0: no integrity watch */
    cloneIntegrityAction integrityAction;

    /* <disks dir=... format=...> with <disk/> children */
    char *overlayDir;          /* NULL: beside each image */
    char *overlayFormat;       /* "qcow2" (the only one for now) */
    GPtrArray *disks;          /* of clonePolicyDisk; disks not listed: default */

    /* <memory .../> */
    cloneStrategy strategy;
    guint downtimeLimitMs;
    guint64 bandwidthMiBs;     /* 0: unlimited */
    guint timeoutS;
    guint autoMaxPasses;

    /* <tpm mode=.../> */
    cloneTpmMode tpm;

    /* <lifecycle persistent=... ttl=.../> */
    gboolean persistent;
    guint64 ttlS;              /* 0: none */

    /* <chain max-depth=... at-limit=... wait=.../> */
    guint chainMaxDepth;
    cloneChainAction chainAtLimit;
    gboolean chainWait;        /* wait for a block job on the source to end */

    /* <template directory=... max-memory=... sharing=.../> */
    char *templateDir;         /* NULL: the run directory's templates/ */
    guint64 templateMaxMiB;    /* 0: no limit */
    gboolean templateSharing;  /* clones map the RAM copy-on-write (default) */
};

/* the isolated bridge shared by the sandbox clones of a host */
#define CLONE_SANDBOX_DEFAULT_BRIDGE "lvcsandbox0"

#define CLONE_POLICY_DEFAULT_NAME_TEMPLATE "%{source}-clone%{n}"
#define CLONE_POLICY_DEFAULT_DOWNTIME_MS 20
#define CLONE_POLICY_DEFAULT_TIMEOUT_S 600
#define CLONE_POLICY_DEFAULT_AUTO_PASSES 6
#define CLONE_POLICY_DEFAULT_CHAIN_DEPTH 16
#define CLONE_POLICY_DEFAULT_AGENT_TIMEOUT_S 10

void clonePolicyFree(clonePolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(clonePolicy, clonePolicyFree);

clonePolicy *clonePolicyNewDefault(void);
/* Parses and validates a <clonepolicy> document (NULL: the defaults);
 * errors carry the line number. */
clonePolicy *clonePolicyParse(const char *xml);
/* The effective policy with every default written out; parses back to an
 * equal policy. */
char *clonePolicyFormat(const clonePolicy *policy);

/* What the policy says for the disk @target and the NIC with @sourceMac
 * (NULL when the policy says nothing). */
const clonePolicyDisk *clonePolicyFindDisk(const clonePolicy *policy, const char *target);
const clonePolicyNic *clonePolicyFindNic(const clonePolicy *policy, const char *sourceMac);

/* Expands %{source} and %{n} in the name template. */
char *clonePolicyExpandName(const clonePolicy *policy, const char *source, guint n);

/* The host name to set inside the clone whose name has the number @n
 * (%{n} replaced), or NULL when the policy keeps the source's. */
char *clonePolicyExpandHostname(const clonePolicy *policy, guint n);

/* <tpm mode=...> with auto resolved: clone in a sandbox (isolated and
 * ephemeral, nobody to show the TPM's identity to), else refuse. */
cloneTpmMode clonePolicyTpmMode(const clonePolicy *policy);

/* Whether the guest sets the new MACs of its NICs itself (guest-mac,
 * auto resolved by the network mode). */
gboolean clonePolicyGuestSetsMac(const clonePolicy *policy);

/* The address mode of the NIC with @sourceMac (auto resolved); @nic_out
 * (optional) gets the policy's <interface>, NULL when not listed. */
cloneIpMode clonePolicyIpMode(const clonePolicy *policy, const char *sourceMac,
                              const clonePolicyNic **nic_out);
