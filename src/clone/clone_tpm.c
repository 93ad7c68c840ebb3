/*
 * clone_tpm.c: the vTPM (swtpm) of a clone
 *
 * QEMU's tpm-emulator backend migrates swtpm's whole state (permanent,
 * volatile and save-state blobs) and its post_load pushes it into the
 * destination's swtpm, which writes the permanent part to its own storage:
 * a clone has the source's TPM as it was at the switch-over.  libvirt
 * starts the clone (a plain start with "-incoming defer", not an incoming
 * migration for libvirt) with swtpm on the clone's own storage, and runs
 * swtpm_setup (a new EK and certificates, about 1 s) if that storage is
 * missing or empty.  The source's state is copied there first so that it
 * does not; the migration then overwrites the copy.  Destroying a
 * transient domain deletes its swtpm storage (unless persistent_state='yes'),
 * so an ephemeral clone's TPM goes with it.  Findings and source references:
 * docs/identity.md ("vTPM").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_tpm.h"
#include "clone_lookup.h"
#include "clone_disk.h"
#include "clone_xml.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLONE_SWTPM_SYSTEM_DIR "/var/lib/libvirt/swtpm"


/* ---- check ------------------------------------------------------------------ */

/* The one rule for a vTPM of the source: the clone of one with a backend
 * other than swtpm is refused, and of an emulated one the policy decides. */
int
cloneTpmAllowed(const char *srcName, const char *backendType, const clonePolicy *policy)
{
    if (g_strcmp0(backendType, "emulator") != 0) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: its vTPM has the backend '%2$s', which serves the source only; only an emulated TPM (swtpm) can be cloned"),
                            srcName, backendType ? backendType : "?");
        return -1;
    }
    if (clonePolicyTpmMode(policy) == CLONE_TPM_CLONE)
        return 0;
    virCloneReportError(VIR_CLONE_ERR_POLICY,
                        _("domain '%1$s' has a vTPM and the clone policy refuses it (<tpm mode='refuse'/>, the default for a clone that is not a sandbox): a clone would get a copy of the source's TPM, its keys and measurements included; <tpm mode='clone'/> allows that"),
                        srcName);
    return -1;
}


/* Before anything happens (the chain phase may flatten): the rewrite asks
 * the same question of each <tpm> again. */
int
cloneTpmCheck(const char *srcXML, const char *srcName, const clonePolicy *policy)
{
    g_auto(GStrv) backends = cloneXMLStrings(srcXML, "/domain/devices/tpm/backend/@type");

    for (guint i = 0; backends[i]; i++)
        if (cloneTpmAllowed(srcName, backends[i], policy) < 0)
            return -1;
    return 0;
}


/* ---- where libvirt keeps swtpm state ----------------------------------------- */

char *
cloneTpmStorageDir(virConnectPtr conn)
{
    g_autofree char *root = NULL;

    switch (cloneConnGetKind(conn, &root)) {
    case CLONE_CONN_SYSTEM:
        return g_strdup(CLONE_SWTPM_SYSTEM_DIR);
    case CLONE_CONN_SESSION:
        return g_build_filename(g_get_user_config_dir(), "libvirt", "qemu", "swtpm", NULL);
    case CLONE_CONN_EMBED:
        return g_build_filename(root, "lib", "swtpm", NULL);
    case CLONE_CONN_OTHER:
    case CLONE_CONN_LAST:
        break;
    }
    return NULL;
}


/* The source's state and the clone's: a directory per UUID in libvirt's
 * swtpm storage, or the <source path> of the backend and its counterpart
 * in the clone's XML.  FALSE if the storage of @conn is unknown. */
static gboolean
cloneTpmPaths(virConnectPtr conn, const cloneDomainPlan *plan,
              char **from, char **to, gboolean *isDir)
{
    g_autofree char *base = NULL;

    if (plan->tpmStateFrom) {
        *from = g_strdup(plan->tpmStateFrom);
        *to = g_strdup(plan->tpmStateTo);
        *isDir = plan->tpmStateIsDir;
        return TRUE;
    }
    if (!(base = cloneTpmStorageDir(conn)))
        return FALSE;
    *from = g_build_filename(base, plan->sourceUUID, NULL);
    *to = g_build_filename(base, plan->cloneUUID, NULL);
    *isDir = TRUE;
    return TRUE;
}


/* ---- copy ----------------------------------------------------------------------- */

static int cloneTpmCopyDir(const char *from, const char *to, gboolean *created);

static int
cloneTpmCopyEntry(const char *from, const char *to)
{
    gboolean created = FALSE;   /* the caller removes the whole copy */
    GStatBuf st;

    if (g_lstat(from, &st) < 0) {
        if (errno == ENOENT)   /* swtpm renamed a temporary file */
            return 0;
        virCloneReportSystemError(errno, _("cannot read the vTPM state '%1$s'"), from);
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return cloneTpmCopyDir(from, to, &created);
    if (S_ISREG(st.st_mode))
        return cloneFileCopy(from, to, TRUE, &created);
    CLONE_WARN("vTPM state '%s' is neither a file nor a directory: not copied", from);
    return 0;
}


/* Copies the directory @from to the new directory @to: directories and
 * regular files (swtpm keeps nothing else there), owners and modes. */
static int
cloneTpmCopyDir(const char *from, const char *to, gboolean *created)
{
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *name;
    GStatBuf st;

    if (g_stat(from, &st) < 0) {
        virCloneReportSystemError(errno, _("cannot read the vTPM state '%1$s'"), from);
        return -1;
    }
    if (!(dir = g_dir_open(from, 0, &gerr))) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot read the vTPM state '%1$s': %2$s"),
                            from, gerr->message);
        return -1;
    }
    if (g_mkdir(to, 0700) < 0) {
        virCloneReportSystemError(errno, _("cannot create the clone's vTPM state '%1$s'"), to);
        return -1;
    }
    *created = TRUE;
    if (chown(to, st.st_uid, st.st_gid) < 0 || chmod(to, st.st_mode & 07777) < 0) {
        virCloneReportSystemError(errno, _("cannot set the owner and mode of '%1$s'"), to);
        return -1;
    }
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *f = g_build_filename(from, name, NULL);
        g_autofree char *t = g_build_filename(to, name, NULL);

        if (cloneTpmCopyEntry(f, t) < 0)
            return -1;
    }
    return 0;
}


int
cloneTpmCopyState(virConnectPtr conn, cloneDomainPlan *plan)
{
    g_autofree char *from = NULL;
    g_autofree char *to = NULL;
    gboolean isDir = FALSE;

    if (!plan->tpmClone)
        return 0;
    if (!cloneTpmPaths(conn, plan, &from, &to, &isDir)) {
        CLONE_WARN("the vTPM state of this connection is not on this host: libvirt makes a TPM for clone %s that the migration then replaces",
                   plan->cloneUUID);
        return 0;
    }
    if (!g_file_test(from, G_FILE_TEST_EXISTS)) {
        CLONE_WARN("the vTPM state '%s' of the source does not exist: libvirt makes a TPM for clone %s that the migration then replaces",
                   from, plan->cloneUUID);
        return 0;
    }
    CLONE_DEBUG("copying the vTPM state '%s' to '%s'", from, to);
    if (isDir)
        return cloneTpmCopyDir(from, to, &plan->tpmStateCreated);
    return cloneFileCopy(from, to, TRUE, &plan->tpmStateCreated);
}


/* ---- removal ----------------------------------------------------------------------- */

static void
cloneTpmRemoveTree(const char *path)
{
    g_autoptr(GDir) dir = NULL;
    const char *name;
    GStatBuf st;

    if (g_lstat(path, &st) < 0) {
        if (errno != ENOENT)
            CLONE_WARN("cannot remove '%s': %s", path, g_strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode) && (dir = g_dir_open(path, 0, NULL))) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            cloneTpmRemoveTree(child);
        }
    }
    if (g_remove(path) < 0 && errno != ENOENT)
        CLONE_WARN("cannot remove '%s': %s", path, g_strerror(errno));
}


void
cloneTpmRemoveState(virConnectPtr conn, cloneDomainPlan *plan)
{
    g_autofree char *from = NULL;
    g_autofree char *to = NULL;
    gboolean isDir = FALSE;

    if (!plan->tpmStateCreated)
        return;
    if (cloneTpmPaths(conn, plan, &from, &to, &isDir)) {
        CLONE_DEBUG("removing the clone's vTPM state '%s'", to);
        cloneTpmRemoveTree(to);
    }
    plan->tpmStateCreated = FALSE;
}
