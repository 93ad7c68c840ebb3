/*
 * fuzz-rewrite.c: libFuzzer target for the clone's domain XML rewrite
 *
 * Input: a policy, a NUL byte, then a domain XML (no NUL: domain XML only,
 * default policy).  Invariants: no crash or leak; when the rewrite
 * succeeds its XML is well-formed, names the clone, and every forked disk
 * has both overlays.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_domxml.h"
#include "fuzz.h"

#include <libxml/parser.h>

static char *
fuzzMac(guint idx, void *opaque G_GNUC_UNUSED)
{
    return g_strdup_printf("52:54:00:f0:00:%02x", idx & 0xff);
}


static void
fuzzCheckPlan(const cloneDomainPlan *plan)
{
    xmlDocPtr doc = xmlReadMemory(plan->xml, (int)strlen(plan->xml), "clone.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

    if (!doc)
        fuzzFail("the clone's XML is not well-formed", plan->xml);
    xmlFreeDoc(doc);
    if (!strstr(plan->xml, "<name>fuzz-clone</name>"))
        fuzzFail("the clone's XML does not carry its name", plan->xml);
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        if (d->action == CLONE_DISK_FORK && (!d->cloneOverlay || !d->sourceOverlay || !d->srcPath))
            fuzzFail("a forked disk lacks an overlay", plan->xml);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    g_autofree char *policyXML = nul ? g_strndup((const char *)data, nul - (const char *)data) : NULL;
    g_autofree char *domainXML = nul ? g_strndup(nul + 1, size - (nul + 1 - (const char *)data))
                                     : g_strndup((const char *)data, size);
    g_autoptr(clonePolicy) policy = clonePolicyParse(policyXML);
    g_autoptr(cloneDomainPlan) plan = NULL;
    cloneRewriteParams p = {
        .name = "fuzz-clone",
        .uuid = "f0f0f0f0-0000-4000-8000-000000000001",
        .stamp = "s1",
        .newMac = fuzzMac,
        .policy = policy,
    };

    if (policy && (plan = cloneDomainRewrite(domainXML, &p)))
        fuzzCheckPlan(plan);
    virCloneResetLastError();
    return 0;
}
