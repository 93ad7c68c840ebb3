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
