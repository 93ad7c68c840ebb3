/*
 * clone_hook.h: what the libvirt qemu hook does for clones
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"
#include "clone_xml.h"

/* The operations of libvirt's qemu hook (its second argument). */
typedef enum {
    CLONE_HOOK_OP_PREPARE,
    CLONE_HOOK_OP_START,
    CLONE_HOOK_OP_STARTED,
    CLONE_HOOK_OP_STOPPED,
    CLONE_HOOK_OP_RELEASE,
    CLONE_HOOK_OP_MIGRATE,
    CLONE_HOOK_OP_RESTORE,
    CLONE_HOOK_OP_RECONNECT,
    CLONE_HOOK_OP_ATTACH,

    CLONE_HOOK_OP_LAST
} cloneHookOp;
CLONE_ENUM_DECL(cloneHookOp);

/* What the hook reads in the domain XML on its standard input. */
typedef struct _cloneHookDomain cloneHookDomain;
struct _cloneHookDomain {
    char *name;
    char *uuid;
    char *parentUUID;    /* the source it was cloned from, or NULL */
    char *sandboxBridge; /* a sandbox clone's bridge; NULL: not a sandbox */
    gboolean ephemeral;  /* <clone:lifecycle ephemeral='yes'/> */
    GPtrArray *overlays; /* of char *: the clone's own overlays (metadata) */
    GPtrArray *diskTops; /* of char *: each disk's current <source file> */
    char *nvram;         /* <os><nvram>'s file, or NULL */
    GPtrArray *nics;     /* of cloneXMLNic */
    char *template;      /* the template it started from, or NULL */
};
void cloneHookDomainFree(cloneHookDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneHookDomain, cloneHookDomainFree);

/* Parses a domain XML.  Returns 1 and @dom for a clone (its <metadata>
 * has a <clone:clone> with a parent), 0 for any other domain, -1 with an
 * error if @xml is not a domain XML. */
int cloneHookDomainParse(const char *xml, cloneHookDomain **dom);

/* Does what the hook does for @op ("prepare", ...) of @domain, whose XML
 * libvirt gave on standard input.  Unknown operations and domains that are
 * not clones are left alone.  Never calls libvirt.  Returns 0, or -1 with
 * an error: the hook then exits 1, which refuses a start (prepare, start,
 * started) or an incoming migration (migrate). */
int cloneHookRun(const char *domain, const char *op, const char *xml);
