/*
 * clone_metadata.c: reading the <clone:clone> metadata of a clone
 *
 * The rewrite (clone_domxml.c) writes the metadata into the clone's XML;
 * the hook and the reaper read it back, from a whole
 * domain XML or from what virDomainGetMetadata() returns.  The element is
 * the project's own schema, so its reader has a file of its own instead of
 * living in the generic XML helpers (clone_xml.c) or in one of its users.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_metadata.h"

/* by local names: virDomainGetMetadata() returns the element without its
 * namespace declaration, a whole domain XML has it */
#define CLONE_METADATA_XPATH(child) \
    "//*[local-name()='clone']/*[local-name()='" child "']"


void
cloneMetadataFree(cloneMetadata *meta)
{
    if (!meta)
        return;
    g_free(meta->parentName);
    g_free(meta->parentUUID);
    g_free(meta->sandboxBridge);
    g_free(meta->template);
    g_clear_pointer(&meta->overlays, g_ptr_array_unref);
    g_free(meta);
}


cloneMetadata *
cloneMetadataRead(xmlXPathContextPtr ctxt)
{
    g_autoptr(cloneMetadata) meta = g_new0(cloneMetadata, 1);
    g_autofree char *expires = NULL;
    g_autofree char *ephemeral = NULL;
    g_auto(GStrv) overlays = NULL;

    if (!(meta->parentName = cloneXPathString(ctxt, "string(" CLONE_METADATA_XPATH("parent") "/@name)")))
        return NULL;
    meta->parentUUID = cloneXPathString(ctxt, "string(" CLONE_METADATA_XPATH("parent") "/@uuid)");
    if ((expires = cloneXPathString(ctxt, "string(" CLONE_METADATA_XPATH("lifecycle") "/@expires)")))
        meta->expires = g_ascii_strtoull(expires, NULL, 10);
    ephemeral = cloneXPathString(ctxt, "string(" CLONE_METADATA_XPATH("lifecycle") "/@ephemeral)");
    meta->ephemeral = g_strcmp0(ephemeral, "yes") == 0;
    meta->sandbox = cloneXPathCount(ctxt, CLONE_METADATA_XPATH("sandbox")) > 0;
    meta->sandboxBridge = cloneXPathString(ctxt, "string(" CLONE_METADATA_XPATH("sandbox") "/@bridge)");
    meta->template = cloneXPathString(ctxt, "string(" CLONE_METADATA_XPATH("template") "/@name)");
    overlays = cloneXPathStrings(ctxt, CLONE_METADATA_XPATH("base") "/@overlay");
    meta->overlays = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; overlays[i]; i++)
        g_ptr_array_add(meta->overlays, g_steal_pointer(&overlays[i]));
    return g_steal_pointer(&meta);
}


cloneMetadata *
cloneMetadataParse(const char *xml)
{
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = cloneXMLParse(xml, NULL, 0, NULL, &ctxt);

    if (!doc)
        return NULL;
    return cloneMetadataRead(ctxt);
}


int
cloneMetadataIsClone(virDomainPtr dom)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(cloneMetadata) meta = NULL;

    if (!xml) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the domain's XML"));
        return -1;
    }
    meta = cloneMetadataParse(xml);
    return meta ? 1 : 0;
}
