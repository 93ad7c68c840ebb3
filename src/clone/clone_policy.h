/*
 * clone_policy.h: clone policies (XML)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

typedef enum {
    CLONE_STRATEGY_AUTO = 0,
    CLONE_STRATEGY_PRECOPY,
    CLONE_STRATEGY_BACKGROUND,

    CLONE_STRATEGY_LAST
} cloneStrategy;
CLONE_ENUM_DECL(cloneStrategy);

typedef enum {
    CLONE_NETWORK_DISCONNECTED = 0, /* links stay down (default) */
    CLONE_NETWORK_INHERIT,          /* links come up as in the source */
    CLONE_NETWORK_SANDBOX,          /* isolated bridge (not yet supported) */

    CLONE_NETWORK_LAST
} cloneNetworkMode;
CLONE_ENUM_DECL(cloneNetworkMode);

typedef struct _clonePolicy clonePolicy;
struct _clonePolicy {
    char *name;                 /* the clone's name, or NULL: derived */
    cloneStrategy strategy;
    guint downtimeLimitMs;      /* QEMU downtime-limit for pre-copy */
    guint64 bandwidthMiBs;      /* 0: unlimited */
    guint timeoutS;             /* the whole memory copy */
    guint autoMaxPasses;        /* auto: pre-copy passes before falling back */
    cloneNetworkMode network;
    char *overlayDir;           /* NULL: beside each image */
    gboolean persistent;
};

#define CLONE_POLICY_DEFAULT_DOWNTIME_MS 20
#define CLONE_POLICY_DEFAULT_TIMEOUT_S 600
#define CLONE_POLICY_DEFAULT_AUTO_PASSES 6

void clonePolicyFree(clonePolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(clonePolicy, clonePolicyFree);

clonePolicy *clonePolicyNewDefault(void);
clonePolicy *clonePolicyParse(const char *xml);
char *clonePolicyFormat(const clonePolicy *policy);
