/*
 * clone_lookup.h: finding domains without going through libvirt's errors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

/* The domain named @name or with the UUID string @uuid (either may be
 * NULL), or NULL when there is none.  Unlike virDomainLookupBy*(), an
 * expected miss raises no libvirt error, which libvirt's default handler
 * would print on the application's stderr.  Free with virDomainFree. */
virDomainPtr cloneLookupDomain(virConnectPtr conn, const char *name, const char *uuid);


/* Where a connection's driver keeps its files on this host. */
typedef enum {
    CLONE_CONN_OTHER = 0,  /* remote, or not QEMU: no files of ours */
    CLONE_CONN_SYSTEM,     /* qemu:///system */
    CLONE_CONN_SESSION,    /* qemu:///session */
    CLONE_CONN_EMBED,      /* qemu:///embed?root=ROOT */

    CLONE_CONN_LAST
} cloneConnKind;

/* The kind of @conn; for CLONE_CONN_EMBED, @root (if not NULL) is set to
 * the embedded driver's root. */
cloneConnKind cloneConnGetKind(virConnectPtr conn, char **root);
