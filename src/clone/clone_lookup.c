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
    /* libvirt reported why it cannot list (the connection is gone): for
     * the callers that is "no such domain", as the header says, and their
     * next call on @conn fails with libvirt's error again */
    if (n < 0)
        virResetLastError();
    return found;
}


static char *
cloneConnEmbedRoot(GUri *uri)
{
    g_autoptr(GHashTable) params = NULL;
    const char *query = g_uri_get_query(uri);
    const char *root;

    if (!query ||
        !(params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, NULL)) ||
        !(root = g_hash_table_lookup(params, "root")) || !g_path_is_absolute(root))
        return NULL;
    return g_strdup(root);
}


cloneConnKind
cloneConnGetKind(virConnectPtr conn, char **root)
{
    g_autofree char *str = virConnectGetURI(conn);
    g_autoptr(GUri) uri = NULL;
    const char *scheme;
    const char *host;
    const char *path;

    if (root)
        *root = NULL;
    if (!str) {
        /* libvirt reported it (a closed connection): a connection that
         * cannot name itself has no files of ours */
        virResetLastError();
        return CLONE_CONN_OTHER;
    }
    if (!(uri = g_uri_parse(str, G_URI_FLAGS_PARSE_RELAXED, NULL)))
        return CLONE_CONN_OTHER;
    scheme = g_uri_get_scheme(uri);
    host = g_uri_get_host(uri);
    path = g_uri_get_path(uri);
    if ((g_strcmp0(scheme, "qemu") != 0 && g_strcmp0(scheme, "qemu+unix") != 0) ||
        (host && *host))
        return CLONE_CONN_OTHER;
    if (g_str_equal(path, "/system"))
        return CLONE_CONN_SYSTEM;
    if (g_str_equal(path, "/session"))
        return CLONE_CONN_SESSION;
    if (g_str_equal(path, "/embed")) {
        g_autofree char *r = cloneConnEmbedRoot(uri);

        if (!r)
            return CLONE_CONN_OTHER;
        if (root)
            *root = g_steal_pointer(&r);
        return CLONE_CONN_EMBED;
    }
    return CLONE_CONN_OTHER;
}
