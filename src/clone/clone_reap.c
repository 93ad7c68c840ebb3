/*
 * clone_reap.c: destroying clones whose time-to-live has passed
 *
 * A clone made with a policy TTL carries its expiry in its metadata
 * (<clone:lifecycle expires='SECONDS-SINCE-EPOCH'/>).  Nothing runs inside
 * libvirt when it passes: virConnectCloneLiveReap(), run periodically (the
 * CLI's "reap" command from a timer), destroys expired clones, undefines
 * persistent ones and removes their own overlays.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_disk.h"
#include "clone_job.h"
#include "clone_lookup.h"
#include "clone_metadata.h"
#include "clone_sandbox_net.h"
#include "clone_sandbox_watch.h"

#include <errno.h>
#include <glib/gstdio.h>

/* The XML of a domain of the listing, for its metadata and its disks: a
 * quiet probe, unlike virDomainGetMetadata(), which reports an error for
 * every domain that is not a clone.  NULL if the domain went away since
 * the listing: libvirt reported that, and there is nothing to reap. */
static char *
cloneReapXML(virDomainPtr dom)
{
    char *xml = virDomainGetXMLDesc(dom, 0);

    if (!xml)
        virResetLastError();
    return xml;
}


static int
cloneReapOne(virDomainPtr dom, const char *xml, const cloneMetadata *meta)
{
    g_auto(GStrv) tops = cloneXMLStrings(xml, "/domain/devices/disk/source/@file");
    int active = virDomainIsActive(dom);
    int persistent = virDomainIsPersistent(dom);

    if (active == 1 && virDomainDestroy(dom) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot destroy expired clone '%1$s'"), virDomainGetName(dom));
        return -1;
    }
    if (persistent == 1 && virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot undefine expired clone '%1$s'"), virDomainGetName(dom));
        return -1;
    }
    /* the files of a stopped clone go by the hook's rule */
    if (cloneDiskRemoveStoppedOverlays(virDomainGetName(dom), meta->overlays,
                                       (const char *const *)tops) < 0)
        CLONE_WARN("%s", virCloneGetLastErrorMessage());
    CLONE_INFO("expired clone '%s' of '%s' destroyed", virDomainGetName(dom), meta->parentName);
    return 0;
}


/* Run directories (CLONE_RUN_DIR/UUID) of clones @conn no longer has,
 * whose alert watcher has ended. */
static void
cloneReapRunDirs(virConnectPtr conn)
{
    g_autoptr(GDir) dir = g_dir_open(CLONE_RUN_DIR, 0, NULL);
    const char *uuid;

    while (dir && (uuid = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(CLONE_RUN_DIR, uuid, NULL);
        g_autofree char *pidfile = g_build_filename(path, "sandbox-watch.pid", NULL);
        virDomainPtr dom = cloneLookupDomain(conn, NULL, uuid);

        if (dom) {
            virDomainFree(dom);
            continue;
        }
        if (!g_uuid_string_is_valid(uuid) || cloneSandboxDaemonPid(pidfile) > 0)
            continue;
        g_unlink(pidfile);
        if (g_rmdir(path) < 0 && errno != ENOENT)
            CLONE_WARN("cannot remove '%s': %s", path, g_strerror(errno));
    }
}


/**
 * virConnectCloneLiveReap:
 * @conn: a connection
 * @flags: extra flags; not used yet, so callers should always pass 0
 *
 * Finishes the rollback of every clone job on @conn's host whose process
 * died (its clone destroyed, its files removed, its source resumed), then
 * destroys every clone on @conn whose time-to-live (policy <lifecycle
 * ttl=.../>) has passed: persistent ones are undefined too, and the
 * clone's own overlays are removed.  Clones without a TTL and domains that
 * are not clones are left alone.  The sandbox bridge is removed when no
 * clone uses it any more (under libvirtd the hook does that when a clone
 * stops; under the embedded driver nothing else does), and so are the run
 * directories (alert watchers) of clones that no longer exist.  A template
 * made with VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE whose domains are all
 * gone is deleted.
 *
 * Returns the number of clones destroyed, or -1 with the thread's last
 * error set (the clones destroyed before the error stay destroyed).
 *
 * Since: 0.2.0
 */
CLONE_EXPORT int
virConnectCloneLiveReap(virConnectPtr conn, unsigned int flags)
{
    virDomainPtr *doms = NULL;
    guint64 now = (guint64)(g_get_real_time() / G_USEC_PER_SEC);
    int n;
    int reaped = 0;
    int ret = -1;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, -1);
    cloneCheckNonNull(conn, -1);
    /* clones whose job never finished first: their rollback removes them */
    if (cloneJobsRecoverStale(conn) < 0)
        return -1;
    if ((n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot list the domains"));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        g_autofree char *xml = cloneReapXML(doms[i]);
        g_autoptr(cloneMetadata) meta = cloneMetadataParse(xml);

        if (!meta || meta->expires == 0 || meta->expires > now)
            continue;
        if (cloneReapOne(doms[i], xml, meta) < 0)
            goto cleanup;
        reaped++;
    }
    if (cloneSandboxBridgeRemoveIfUnused(CLONE_SANDBOX_DEFAULT_BRIDGE) < 0 ||
        cloneTemplatesAutoDelete(conn) < 0)
        goto cleanup;
    cloneReapRunDirs(conn);
    ret = reaped;

 cleanup:
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    g_free(doms);
    return ret;
}
