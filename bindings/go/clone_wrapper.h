/*
 * clone_wrapper.h: C side of the Go binding of libvirt-clone.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libvirt-clone's last error is thread-local, and a goroutine may move to
 * another OS thread between two cgo calls.  Each wrapper therefore makes the
 * call and, on failure, copies the thread's last error into @err within the
 * same cgo call.
 */
#ifndef LIBVIRT_CLONE_GO_WRAPPER_H
#define LIBVIRT_CLONE_GO_WRAPPER_H

#include <stdint.h>
#include <libvirt-clone/libvirt-clone.h>

typedef struct {
    int code;           /* virCloneErrorNumber */
    int libvirtCode;    /* virErrorNumber, or 0 */
    char *message;      /* malloc()ed copy, or NULL; the caller frees it */
} lvcGoError;

/* The statistics of virDomainCloneLiveFull(); absent ones are 0 / NULL. */
typedef struct {
    char *strategy;     /* malloc()ed copies, or NULL; the caller frees them */
    char *name;
    char *uuid;
    unsigned long long sourcePauseUs;
    unsigned long long downtimeMs;
    unsigned long long totalUs;
    unsigned long long cloneStartUs;
    unsigned long long diskForkUs;
    unsigned long long bytes;
    unsigned long long passes;
    unsigned long long fallbacks;
    unsigned long long guestSteps;
    unsigned long long guestStepsFailed;
    unsigned long long guestIdentityUs;
    unsigned long long networkUpUs;
    unsigned long long dirtyRate;       /* bytes per second */
    unsigned long long copyRate;        /* bytes per second */
    unsigned long long predictedPasses;
    char *template;     /* VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE */
} lvcGoStats;

/* The facts of virCloneTemplateGetInfo(); absent ones are 0 / NULL. */
typedef struct {
    char *sourceName;   /* malloc()ed copies, or NULL; the caller frees them */
    char *sourceUUID;
    char *directory;
    unsigned long long created;
    unsigned long long memory;
    unsigned int clones;
    int sharing;
    int autoDelete;
} lvcGoTemplateInfo;

/* virDomainCloneLiveFull().  With @progress non-zero, the progress callback
 * is lvcGoProgress(@handle, phase, percent) (a runtime/cgo.Handle); with
 * @stats non-NULL, the statistics are copied there. */
virDomainPtr lvcGoCloneLive(virDomainPtr dom, const char *policyXML,
                            int progress, uintptr_t handle,
                            lvcGoStats *stats, unsigned int flags,
                            lvcGoError *err);

char *lvcGoPolicyNormalize(const char *policyXML, unsigned int flags,
                           lvcGoError *err);

int lvcGoReap(virConnectPtr conn, unsigned int flags, lvcGoError *err);

/* virDomainCloneTemplateCreateFull(), with progress and @stats as for
 * lvcGoCloneLive(). */
virCloneTemplatePtr lvcGoTemplateCreate(virDomainPtr dom, const char *name,
                                        const char *policyXML,
                                        int progress, uintptr_t handle,
                                        lvcGoStats *stats, unsigned int flags,
                                        lvcGoError *err);

virCloneTemplatePtr lvcGoTemplateLookupByName(virConnectPtr conn, const char *name,
                                              unsigned int flags, lvcGoError *err);

/* virConnectListAllCloneTemplates(); *@templates is freed with free() */
int lvcGoListAllTemplates(virConnectPtr conn, virCloneTemplatePtr **templates,
                          unsigned int flags, lvcGoError *err);

/* virCloneTemplateGetInfo() into @info */
int lvcGoTemplateGetInfo(virCloneTemplatePtr tmpl, lvcGoTemplateInfo *info,
                         unsigned int flags, lvcGoError *err);

int lvcGoTemplateDelete(virCloneTemplatePtr tmpl, unsigned int flags, lvcGoError *err);

/* virCloneTemplateCreateDomainFull(); the progress callback is
 * lvcGoProgress(@handle, phase, percent), as for lvcGoCloneLive(). */
virDomainPtr lvcGoTemplateCreateDomain(virCloneTemplatePtr tmpl, const char *policyXML,
                                       int progress, uintptr_t handle,
                                       lvcGoStats *stats, unsigned int flags,
                                       lvcGoError *err);

int lvcGoReset(virDomainPtr dom, unsigned int flags, lvcGoError *err);

int lvcGoMemoryPeek(virDomainPtr dom, unsigned long long start, size_t size, void *buffer,
                    unsigned int flags, lvcGoError *err);
int lvcGoMemoryDump(virDomainPtr dom, const char *file, unsigned int format,
                    unsigned int flags, lvcGoError *err);

/* The watches: events go to lvcGoSandboxEvent(@handle, dom, event), the
 * free callback is lvcGoWatchFree(@handle) (a runtime/cgo.Handle). */
int lvcGoSandboxWatch(virDomainPtr dom, uintptr_t handle, unsigned int flags, lvcGoError *err);
int lvcGoSandboxWatchDevices(const char *cloneName, char **devices, uintptr_t handle,
                             unsigned int flags, lvcGoError *err);
int lvcGoIntegrityWatch(virDomainPtr dom, unsigned int intervalMs, int action,
                        uintptr_t handle, unsigned int flags, lvcGoError *err);
int lvcGoSandboxUnwatch(int watchID, lvcGoError *err);

#endif /* LIBVIRT_CLONE_GO_WRAPPER_H */
