/*
 * clone_wrapper.c: C side of the Go binding of libvirt-clone.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "clone_wrapper.h"
#include "_cgo_export.h"


static void
lvcGoErrorFill(lvcGoError *err)
{
    virCloneErrorPtr last = virCloneGetLastError();

    if (!last) {
        err->code = VIR_CLONE_ERR_INTERNAL;
        err->libvirtCode = 0;
        err->message = NULL;
        return;
    }
    err->code = last->code;
    err->libvirtCode = last->libvirtCode;
    err->message = last->message ? strdup(last->message) : NULL;
}


static void
lvcGoProgressTrampoline(virDomainPtr source, int phase, unsigned int percent,
                        void *opaque)
{
    (void)source;
    lvcGoProgress((uintptr_t)opaque, phase, percent);
}


static void
lvcGoTemplateProgressTrampoline(virCloneTemplatePtr tmpl, int phase, unsigned int percent,
                                void *opaque)
{
    (void)tmpl;
    lvcGoProgress((uintptr_t)opaque, phase, percent);
}


static char *
lvcGoStatsString(virTypedParameterPtr params, int nparams, const char *name)
{
    const char *value = NULL;

    if (virTypedParamsGetString(params, nparams, name, &value) != 1 || !value)
        return NULL;
    return strdup(value);
}


static unsigned long long
lvcGoStatsULLong(virTypedParameterPtr params, int nparams, const char *name)
{
    unsigned long long value = 0;

    if (virTypedParamsGetULLong(params, nparams, name, &value) != 1)
        return 0;
    return value;
}


static void
lvcGoStatsFill(lvcGoStats *stats, virTypedParameterPtr params, int nparams)
{
    memset(stats, 0, sizeof(*stats));
    stats->strategy = lvcGoStatsString(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY);
    stats->name = lvcGoStatsString(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_NAME);
    stats->uuid = lvcGoStatsString(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_UUID);
    stats->sourcePauseUs = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE);
    stats->downtimeMs = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME);
    stats->totalUs = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL);
    stats->cloneStartUs = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START);
    stats->diskForkUs = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK);
    stats->bytes = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_BYTES);
    stats->passes = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_PASSES);
    stats->fallbacks = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS);
    stats->guestSteps = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS);
    stats->guestStepsFailed = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED);
    stats->guestIdentityUs = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY);
    stats->networkUpUs = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP);
    stats->dirtyRate = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE);
    stats->copyRate = lvcGoStatsULLong(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE);
    stats->predictedPasses = lvcGoStatsULLong(params, nparams,
                                              VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES);
    stats->template = lvcGoStatsString(params, nparams, VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE);
}


virDomainPtr
lvcGoCloneLive(virDomainPtr dom, const char *policyXML, int progress,
               uintptr_t handle, lvcGoStats *stats, unsigned int flags,
               lvcGoError *err)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    virDomainPtr clone;

    clone = virDomainCloneLiveFull(dom, policyXML,
                                   progress ? lvcGoProgressTrampoline : NULL,
                                   (void *)handle,
                                   stats ? &params : NULL,
                                   stats ? &nparams : NULL,
                                   flags);
    if (!clone) {
        lvcGoErrorFill(err);
        return NULL;
    }
    if (stats)
        lvcGoStatsFill(stats, params, nparams);
    virTypedParamsFree(params, nparams);
    return clone;
}


char *
lvcGoPolicyNormalize(const char *policyXML, unsigned int flags, lvcGoError *err)
{
    char *ret = virDomainCloneLivePolicyNormalize(policyXML, flags);

    if (!ret)
        lvcGoErrorFill(err);
    return ret;
}


int
lvcGoReap(virConnectPtr conn, unsigned int flags, lvcGoError *err)
{
    int ret = virConnectCloneLiveReap(conn, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


virCloneTemplatePtr
lvcGoTemplateCreate(virDomainPtr dom, const char *name, const char *policyXML,
                    int progress, uintptr_t handle, lvcGoStats *stats,
                    unsigned int flags, lvcGoError *err)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    virCloneTemplatePtr tmpl;

    tmpl = virDomainCloneTemplateCreateFull(dom, name, policyXML,
                                            progress ? lvcGoProgressTrampoline : NULL,
                                            (void *)handle,
                                            stats ? &params : NULL,
                                            stats ? &nparams : NULL,
                                            flags);
    if (!tmpl) {
        lvcGoErrorFill(err);
        return NULL;
    }
    if (stats)
        lvcGoStatsFill(stats, params, nparams);
    virTypedParamsFree(params, nparams);
    return tmpl;
}


virCloneTemplatePtr
lvcGoTemplateLookupByName(virConnectPtr conn, const char *name, unsigned int flags,
                          lvcGoError *err)
{
    virCloneTemplatePtr tmpl = virCloneTemplateLookupByName(conn, name, flags);

    if (!tmpl)
        lvcGoErrorFill(err);
    return tmpl;
}


int
lvcGoListAllTemplates(virConnectPtr conn, virCloneTemplatePtr **templates,
                      unsigned int flags, lvcGoError *err)
{
    int ret = virConnectListAllCloneTemplates(conn, templates, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


int
lvcGoTemplateGetInfo(virCloneTemplatePtr tmpl, lvcGoTemplateInfo *info,
                     unsigned int flags, lvcGoError *err)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int clones = 0;
    int value = 0;

    memset(info, 0, sizeof(*info));
    if (virCloneTemplateGetInfo(tmpl, &params, &nparams, flags) < 0) {
        lvcGoErrorFill(err);
        return -1;
    }
    info->sourceName = lvcGoStatsString(params, nparams, VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME);
    info->sourceUUID = lvcGoStatsString(params, nparams, VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID);
    info->directory = lvcGoStatsString(params, nparams, VIR_CLONE_TEMPLATE_INFO_DIRECTORY);
    info->created = lvcGoStatsULLong(params, nparams, VIR_CLONE_TEMPLATE_INFO_CREATED);
    info->memory = lvcGoStatsULLong(params, nparams, VIR_CLONE_TEMPLATE_INFO_MEMORY);
    if (virTypedParamsGetUInt(params, nparams, VIR_CLONE_TEMPLATE_INFO_CLONES, &clones) == 1)
        info->clones = clones;
    if (virTypedParamsGetInt(params, nparams, VIR_CLONE_TEMPLATE_INFO_SHARING, &value) == 1)
        info->sharing = value;
    value = 0;
    if (virTypedParamsGetInt(params, nparams, VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE, &value) == 1)
        info->autoDelete = value;
    virTypedParamsFree(params, nparams);
    return 0;
}


int
lvcGoTemplateDelete(virCloneTemplatePtr tmpl, unsigned int flags, lvcGoError *err)
{
    int ret = virCloneTemplateDelete(tmpl, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


virDomainPtr
lvcGoTemplateCreateDomain(virCloneTemplatePtr tmpl, const char *policyXML,
                          int progress, uintptr_t handle, lvcGoStats *stats,
                          unsigned int flags, lvcGoError *err)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    virDomainPtr dom;

    dom = virCloneTemplateCreateDomainFull(tmpl, policyXML,
                                           progress ? lvcGoTemplateProgressTrampoline : NULL,
                                           (void *)handle,
                                           stats ? &params : NULL,
                                           stats ? &nparams : NULL,
                                           flags);
    if (!dom) {
        lvcGoErrorFill(err);
        return NULL;
    }
    if (stats)
        lvcGoStatsFill(stats, params, nparams);
    virTypedParamsFree(params, nparams);
    return dom;
}


int
lvcGoReset(virDomainPtr dom, unsigned int flags, lvcGoError *err)
{
    int ret = virDomainCloneReset(dom, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


int
lvcGoMemoryPeek(virDomainPtr dom, unsigned long long start, size_t size, void *buffer,
                unsigned int flags, lvcGoError *err)
{
    int ret = virDomainCloneMemoryPeek(dom, start, size, buffer, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


int
lvcGoMemoryDump(virDomainPtr dom, const char *file, unsigned int format,
                unsigned int flags, lvcGoError *err)
{
    int ret = virDomainCloneMemoryDump(dom, file, format, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


/* virDomainCloneSandboxEventCallback: in the watch's thread.  The event is
 * copied into Go memory before the call returns. */
static void
lvcGoSandboxEventTrampoline(virDomainPtr clone, const virDomainCloneSandboxEvent *event,
                            void *opaque)
{
    lvcGoSandboxEvent((uintptr_t)opaque, clone, (virDomainCloneSandboxEvent *)event);
}


static void
lvcGoWatchFreeTrampoline(void *opaque)
{
    lvcGoWatchFree((uintptr_t)opaque);
}


int
lvcGoSandboxWatch(virDomainPtr dom, uintptr_t handle, unsigned int flags, lvcGoError *err)
{
    int ret = virDomainCloneSandboxWatch(dom, lvcGoSandboxEventTrampoline, (void *)handle,
                                         lvcGoWatchFreeTrampoline, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


int
lvcGoSandboxWatchDevices(const char *cloneName, char **devices, uintptr_t handle,
                         unsigned int flags, lvcGoError *err)
{
    int ret = virDomainCloneSandboxWatchDevices(cloneName, (const char *const *)devices,
                                                lvcGoSandboxEventTrampoline, (void *)handle,
                                                lvcGoWatchFreeTrampoline, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


int
lvcGoIntegrityWatch(virDomainPtr dom, unsigned int intervalMs, int action, uintptr_t handle,
                    unsigned int flags, lvcGoError *err)
{
    int ret = virDomainCloneIntegrityWatch(dom, intervalMs, action,
                                           lvcGoSandboxEventTrampoline, (void *)handle,
                                           lvcGoWatchFreeTrampoline, flags);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}


int
lvcGoSandboxUnwatch(int watchID, lvcGoError *err)
{
    int ret = virDomainCloneSandboxUnwatch(watchID);

    if (ret < 0)
        lvcGoErrorFill(err);
    return ret;
}
