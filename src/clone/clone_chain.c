/*
 * clone_chain.c: the depth of the source's backing chains, and flattening
 *
 * Every clone adds a layer to the source's chain (the fork puts a new
 * overlay on top).  libvirt 11 cannot start a domain whose chain is about
 * 26 deep ("nesting too deep" in its JSON parser), so the chain is kept
 * under the policy's limit by flattening it before a clone.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_chain.h"
#include "clone_xml.h"

guint
cloneChainDepth(const char *domainXML, const char *target)
{
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = cloneXMLParse(domainXML, "domain", 0, NULL, &ctxt);
    g_autofree char *expr = NULL;

    if (!doc)
        return 0;
    /* the top's <source>, and every <backingStore> that has one */
    expr = g_strdup_printf("/domain/devices/disk[target/@dev='%s']/source | "
                           "/domain/devices/disk[target/@dev='%s']//backingStore[source]",
                           target, target);
    return cloneXPathCount(ctxt, expr);
}


/* Polls the block job of @target until it is gone; reports progress. */
static int
cloneChainWaitJob(virDomainPtr dom, const char *target, guint timeoutS,
                  cloneChainProgress cb, void *opaque)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeoutS * G_USEC_PER_SEC;

    for (;;) {
        virDomainBlockJobInfo info;
        int rc = virDomainGetBlockJobInfo(dom, target, &info, 0);

        if (rc < 0) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_DISK,
                                       _("cannot follow the block job on disk '%1$s'"), target);
            return -1;
        }
        if (rc == 0)
            return 0;
        if (cb && info.end > 0)
            cb((guint)(info.cur * 100 / info.end), opaque);
        if (g_get_monotonic_time() > end) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("the block job on disk '%1$s' of domain '%2$s' did not finish in %3$u s"),
                                target, virDomainGetName(dom), timeoutS);
            return -1;
        }
        g_usleep(50 * G_TIME_SPAN_MILLISECOND);
    }
}


int
cloneChainWaitBlockJob(virDomainPtr dom, const char *target, guint timeoutS)
{
    virDomainBlockJobInfo info;
    int rc = virDomainGetBlockJobInfo(dom, target, &info, 0);

    /* no job is 0 and no error: a failure is one, not "no job" */
    if (rc < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_DISK,
                                   _("cannot follow the block job on disk '%1$s'"), target);
        return -1;
    }
    if (rc == 0)
        return 0;
    if (cloneChainWaitJob(dom, target, timeoutS, NULL, NULL) < 0)
        return -1;
    return 1;
}


int
cloneChainFlatten(virDomainPtr dom, const char *target, guint timeoutS,
                  cloneChainProgress cb, void *opaque)
{
    if (virDomainBlockPull(dom, target, 0, 0) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_DISK,
                                   _("cannot flatten the backing chain of disk '%1$s' of domain '%2$s'"),
                                   target, virDomainGetName(dom));
        return -1;
    }
    return cloneChainWaitJob(dom, target, timeoutS, cb, opaque);
}
