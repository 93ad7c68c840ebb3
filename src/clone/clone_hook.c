/*
 * clone_hook.c: what the libvirt qemu hook does for clones
 *
 * libvirt runs /etc/libvirt/hooks/qemu.d/libvirt-clone as
 * "HOOK DOMAIN OP SUBOP EXTRA" with the domain XML on standard input; the
 * program (src/qemu_clone_hooks/) hands both to cloneHookRun().  Only
 * clones are acted upon, and of those mostly sandbox clones:
 *
 *   prepare, start  the sandbox bridge is made (again) if it is missing,
 *                   e.g. after a reboot, before libvirt attaches the taps
 *   started         the bridge isolates the clone's taps and every other
 *                   port; a NIC that is not on the bridge has its link down
 *   release         an unused sandbox bridge is deleted; an ephemeral
 *                   clone's own overlays and NVRAM copy are removed
 *   migrate         a sandbox clone is refused on the destination
 *
 * A failure is an error for the program to print, and exit status 1:
 * libvirt then refuses the start (prepare, start), stops the domain it has
 * just started (started) or refuses the incoming migration (migrate).
 * Hooks run while libvirt holds the domain's job: nothing here may call
 * libvirt, or the daemon deadlocks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_hook.h"
#include "clone_guardian.h"
#include "clone_template.h"
#include "clone_jobrec.h"
#include "clone_disk.h"
#include "clone_metadata.h"
#include "clone_sandbox_net.h"

#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

CLONE_ENUM_IMPL(cloneHookOp, CLONE_HOOK_OP_LAST,
                "prepare", "start", "started", "stopped", "release",
                "migrate", "restore", "reconnect", "attach");

/* "started" tolerates a port that is not isolated yet for this long:
 * libvirt attaches another domain's tap (still down) to the bridge first
 * and isolates it right after. */
#define CLONE_HOOK_VERIFY_TRIES 5
#define CLONE_HOOK_VERIFY_DELAY_US (100 * 1000)


void
cloneHookDomainFree(cloneHookDomain *dom)
{
    if (!dom)
        return;
    g_free(dom->template);
    g_free(dom->name);
    g_free(dom->uuid);
    g_free(dom->parentUUID);
    g_free(dom->sandboxBridge);
    g_free(dom->nvram);
    g_clear_pointer(&dom->overlays, g_ptr_array_unref);
    g_clear_pointer(&dom->diskTops, g_ptr_array_unref);
    g_clear_pointer(&dom->nics, g_ptr_array_unref);
    g_free(dom);
}


/* ---- the domain XML ------------------------------------------------------- */

/* <clone:sandbox bridge='NAME'/> in the metadata, a <clone:sandbox/>
 * without a bridge, or a NIC on the default sandbox bridge make a sandbox
 * clone. */
static char *
cloneHookSandboxBridge(cloneMetadata *meta, GPtrArray *nics)
{
    if (meta->sandboxBridge)
        return g_steal_pointer(&meta->sandboxBridge);
    if (meta->sandbox)
        return g_strdup(CLONE_SANDBOX_BRIDGE);
    for (guint i = 0; i < nics->len; i++) {
        cloneXMLNic *nic = g_ptr_array_index(nics, i);

        if (g_strcmp0(nic->bridge, CLONE_SANDBOX_BRIDGE) == 0)
            return g_strdup(CLONE_SANDBOX_BRIDGE);
    }
    return NULL;
}


int
cloneHookDomainParse(const char *xml, cloneHookDomain **dom)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(cloneMetadata) meta = NULL;
    g_autoptr(cloneHookDomain) d = NULL;
    g_auto(GStrv) tops = NULL;

    if (!(doc = cloneXMLParse(xml, "domain", VIR_CLONE_ERR_INVALID_ARG,
                              _("the hook's standard input is not a domain XML"), &ctxt)))
        return -1;
    if (!(meta = cloneMetadataRead(ctxt)))
        return 0;
    d = g_new0(cloneHookDomain, 1);
    d->name = cloneXPathString(ctxt, "string(/domain/name)");
    d->uuid = cloneXPathString(ctxt, "string(/domain/uuid)");
    d->parentUUID = g_steal_pointer(&meta->parentUUID);
    d->ephemeral = meta->ephemeral;
    d->template = g_steal_pointer(&meta->template);
    d->overlays = g_steal_pointer(&meta->overlays);
    /* the top image of each disk: <source file>, not those of <backingStore> */
    tops = cloneXPathStrings(ctxt, "/domain/devices/disk/source/@file");
    d->diskTops = g_ptr_array_new_full(g_strv_length(tops), g_free);
    for (guint i = 0; tops[i]; i++)
        g_ptr_array_add(d->diskTops, g_steal_pointer(&tops[i]));
    /* <nvram><source file=.../></nvram> or <nvram>PATH</nvram> */
    if (!(d->nvram = cloneXPathString(ctxt, "string(/domain/os/nvram/source/@file)")))
        d->nvram = cloneXPathString(ctxt, "string(/domain/os/nvram[not(source)])");
    d->nics = cloneXMLDomainNics(ctxt);
    d->sandboxBridge = cloneHookSandboxBridge(meta, d->nics);
    *dom = g_steal_pointer(&d);
    return 1;
}


/* The run directory of the daemon that runs the hook (clone_jobrec.c):
 * the system daemon's, or the session daemon's of the hook's user. */
static char *
cloneHookRunDir(void)
{
    if (geteuid() == 0)
        return g_strdup(CLONE_RUN_DIR);
    return g_build_filename(g_get_user_runtime_dir(), "libvirt-clone", NULL);
}


/* ---- the operations --------------------------------------------------------- */

static int
cloneHookPrepare(const char *domain G_GNUC_UNUSED, cloneHookDomain *dom)
{
    if (!dom->sandboxBridge)
        return 0;
    return cloneSandboxBridgeEnsure(dom->sandboxBridge);
}


static const char *
cloneHookNicName(const cloneXMLNic *nic)
{
    if (nic->target)
        return nic->target;
    return nic->mac ? nic->mac : "?";
}


/* The taps of the NICs on the sandbox bridge (NULL-terminated, borrowed),
 * or NULL with an error if another NIC's link is up. */
static GPtrArray *
cloneHookSandboxPorts(const char *domain, cloneHookDomain *dom)
{
    g_autoptr(GPtrArray) ports = g_ptr_array_new();

    for (guint i = 0; i < dom->nics->len; i++) {
        cloneXMLNic *nic = g_ptr_array_index(dom->nics, i);

        if (g_strcmp0(nic->bridge, dom->sandboxBridge) == 0) {
            if (nic->target)
                g_ptr_array_add(ports, nic->target);
        } else if (!nic->linkDown) {
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("interface '%2$s' of sandbox clone '%1$s' is not on sandbox bridge '%3$s' and its link is up"),
                                domain, cloneHookNicName(nic), dom->sandboxBridge);
            return NULL;
        }
    }
    g_ptr_array_add(ports, NULL);
    return g_steal_pointer(&ports);
}


static int
cloneHookStarted(const char *domain, cloneHookDomain *dom)
{
    g_autoptr(GPtrArray) ports = NULL;

    if (!dom->sandboxBridge)
        return 0;
    if (!(ports = cloneHookSandboxPorts(domain, dom)))
        return -1;
    for (int i = 1;; i++) {
        if (cloneSandboxVerify(dom->sandboxBridge, (const char *const *)ports->pdata) == 0)
            return 0;
        if (i == CLONE_HOOK_VERIFY_TRIES)
            return -1;
        CLONE_DEBUG("sandbox of clone '%s' not verified yet (%s), trying again",
                    domain, virCloneGetLastErrorMessage());
        g_usleep(CLONE_HOOK_VERIFY_DELAY_US);
    }
}


/* A clone's NVRAM is always the copy the library made for it
 * (clone_domxml.c), never the source's, and a clone of this clone got a
 * copy of its own: libvirt keeps the NVRAM of a transient domain, so the
 * copy goes with the ephemeral clone, or the next clone of the same name
 * is refused.  A failure is only a warning: release cannot fail a stop. */
static void
cloneHookRemoveNvram(const char *domain, cloneHookDomain *dom)
{
    if (dom->nvram && cloneDiskRemoveStoppedFile(domain, dom->nvram) < 0)
        CLONE_WARN("%s", virCloneGetLastErrorMessage());
}


/* The job that makes this clone still runs: its files are its own to
 * remove (or to use again, when it retries). */
static gboolean
cloneHookJobRunning(cloneHookDomain *dom)
{
    g_autofree char *runDir = cloneHookRunDir();

    return dom->parentUUID && g_uuid_string_is_valid(dom->parentUUID) &&
           cloneJobLockHeld(runDir, dom->parentUUID);
}


/* A domain of a template made for its domains (AUTO_DELETE) is gone: the
 * template may have no domain left.  The hook must not ask libvirt, so the
 * guardian does, once libvirt has let the domain go. */
static void
cloneHookTemplateRelease(cloneHookDomain *dom)
{
    g_autofree char *runDir = NULL;
    g_autoptr(cloneTemplateRec) rec = NULL;

    if (!dom->template || !dom->uuid || cloneTemplateNameCheck(dom->template) < 0) {
        virCloneResetLastError();
        return;
    }
    runDir = cloneHookRunDir();
    if (cloneTemplateRecLoad(runDir, dom->template, &rec) <= 0 || !rec->autoDelete) {
        virCloneResetLastError();
        return;
    }
    if (cloneGuardianTemplateRelease(geteuid() == 0 ? "qemu:///system" : "qemu:///session",
                                     dom->uuid) < 0)
        CLONE_WARN("%s", virCloneGetLastErrorMessage());
}


static int
cloneHookRelease(const char *domain, cloneHookDomain *dom)
{
    int ret = 0;

    if (dom->ephemeral && cloneHookJobRunning(dom)) {
        CLONE_DEBUG("ephemeral clone '%s' released while its job runs: the job removes its files", domain);
    } else if (dom->ephemeral) {
        /* the strings stay dom's: a copy of the array would free them */
        g_autoptr(GPtrArray) tops = g_ptr_array_sized_new(dom->diskTops->len + 1);

        for (guint i = 0; i < dom->diskTops->len; i++)
            g_ptr_array_add(tops, g_ptr_array_index(dom->diskTops, i));
        g_ptr_array_add(tops, NULL);
        cloneHookRemoveNvram(domain, dom);
        if (cloneDiskRemoveStoppedOverlays(domain, dom->overlays,
                                           (const char *const *)tops->pdata) < 0)
            ret = -1;
    }
    cloneHookTemplateRelease(dom);
    if (dom->sandboxBridge) {
        /* the first error is the one reported */
        virCloneSavedError *first = ret < 0 ? virCloneSaveLastError() : NULL;

        if (cloneSandboxBridgeRemoveIfUnused(dom->sandboxBridge) < 0)
            ret = -1;
        virCloneRestoreLastError(first);
    }
    return ret;
}


/* Called on the destination, with the incoming XML. */
static int
cloneHookMigrate(const char *domain, cloneHookDomain *dom)
{
    if (!dom->sandboxBridge)
        return 0;
    virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                        _("sandbox clone '%1$s' cannot be migrated off this host"), domain);
    return -1;
}


typedef int (*cloneHookFunc)(const char *domain, cloneHookDomain *dom);

/* NULL: nothing to do, and the XML is not even parsed */
static const cloneHookFunc cloneHookFuncs[CLONE_HOOK_OP_LAST] = {
    [CLONE_HOOK_OP_PREPARE] = cloneHookPrepare,
    [CLONE_HOOK_OP_START] = cloneHookPrepare,
    [CLONE_HOOK_OP_STARTED] = cloneHookStarted,
    [CLONE_HOOK_OP_RELEASE] = cloneHookRelease,
    [CLONE_HOOK_OP_MIGRATE] = cloneHookMigrate,
};


/* A job on this clone's source whose owner died, with no guardian that
 * finished it: the hook must not call libvirt (libvirtd waits for it), so
 * it starts the guardian to do the rollback once the hook has returned. */
static void
cloneHookRecoverStale(cloneHookDomain *dom)
{
    g_autofree char *runDir = cloneHookRunDir();
    g_auto(GStrv) stale = NULL;

    if (!dom->parentUUID || !g_uuid_string_is_valid(dom->parentUUID))
        return;
    stale = cloneJobRecordList(runDir);
    if (!g_strv_contains((const char *const *)stale, dom->parentUUID) ||
        cloneJobLockHeld(runDir, dom->parentUUID))
        return;
    CLONE_WARN("the job that made clone '%s' died: starting its rollback", dom->name);
    if (cloneGuardianRecover(geteuid() == 0 ? "qemu:///system" : "qemu:///session",
                             dom->parentUUID) < 0)
        CLONE_WARN("%s", virCloneGetLastErrorMessage());
}


int
cloneHookRun(const char *domain, const char *op, const char *xml)
{
    g_autoptr(cloneHookDomain) dom = NULL;
    int type = cloneHookOpTypeFromString(op);
    int rc;

    if (type < 0 || !cloneHookFuncs[type])
        return 0;
    if ((rc = cloneHookDomainParse(xml, &dom)) <= 0)
        return rc;
    if (!domain)
        domain = dom->name ? dom->name : "?";
    CLONE_DEBUG("hook %s for clone '%s' (sandbox bridge: %s)", op, domain,
                dom->sandboxBridge ? dom->sandboxBridge : "none");
    cloneHookRecoverStale(dom);
    return cloneHookFuncs[type](domain, dom);
}
