/*
 * clone_lookup.c: finding domains without going through libvirt's errors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_lookup.h"

#include <string.h>

static gboolean
cloneLookupMatch(virDomainPtr dom, const char *name, const char *uuid)
{
    char domUUID[VIR_UUID_STRING_BUFLEN];

    if (name && g_strcmp0(virDomainGetName(dom), name) == 0)
        return TRUE;
    return uuid && virDomainGetUUIDString(dom, domUUID) == 0 &&
           g_ascii_strcasecmp(domUUID, uuid) == 0;
}


virDomainPtr
cloneLookupDomain(virConnectPtr conn, const char *name, const char *uuid)
{
    virDomainPtr *doms = NULL;
    virDomainPtr found = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);

    for (int i = 0; i < n; i++) {
        if (!found && cloneLookupMatch(doms[i], name, uuid))
            found = g_steal_pointer(&doms[i]);
        else
            virDomainFree(doms[i]);
    }
    g_free(doms);
    if (n < 0)
        virResetLastError();
    return found;
}
