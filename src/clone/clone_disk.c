/*
 * clone_disk.c: overlays, disk fork and chain bookkeeping
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef QEMU_IMG
# define QEMU_IMG "qemu-img"
#endif

/* Overlays, NVRAM copies and logs of a clone are reachable by root (and the
 * QEMU user libvirt hands them to) only. */
static void
cloneChildUmask(gpointer data G_GNUC_UNUSED)
{
    umask(077);
}


static int
cloneRunQemuImg(const char *const *argv, const char *path)
{
    g_autoptr(GError) gerr = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
                      cloneChildUmask, NULL, &out, &errout, &status, &gerr)) {
        virCloneReportError(VIR_CLONE_ERR_DISK,
                            _("cannot create overlay '%1$s': cannot run %2$s: %3$s"),
                            path, argv[0], gerr->message);
        return -1;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        virCloneReportError(VIR_CLONE_ERR_DISK,
                            _("cannot create overlay '%1$s': %2$s"),
                            path, errout && *errout ? g_strstrip(errout) : _("qemu-img failed"));
        return -1;
    }
    return 0;
}


/**
 * cloneDiskCreateOverlay:
 *
 * Creates a qcow2 overlay at @path backed by @backing.  The backing image is
 * in use by the running source, so qemu-img is told not to open it (-u) and
 * is given the size.  Refuses to replace an existing file.
 */
int
cloneDiskCreateOverlay(const char *path, const char *backing,
                       const char *backingFormat, unsigned long long size)
{
    g_autofree char *sizeStr = g_strdup_printf("%llu", size);
    const char *argv[] = {
        QEMU_IMG, "create", "-q", "-f", "qcow2", "-F", backingFormat,
        "-b", backing, "-u", path, sizeStr, NULL
    };

    /* no size: qemu-img reads it from the backing image (opened read-only) */
    if (size == 0) {
        argv[9] = path;
        argv[10] = NULL;
    }

    if (g_file_test(path, G_FILE_TEST_EXISTS)) {
        virCloneReportError(VIR_CLONE_ERR_DISK,
                            _("cannot create overlay '%1$s': the file exists"), path);
        return -1;
    }
    return cloneRunQemuImg(argv, path);
}


/* Creates, for every forked disk, the clone's overlay and the source's next
 * top.  On failure the ones already made are removed by the caller's
 * rollback (they are all recorded in @plan). */
/* Creates the directory of @path (0700) if it is missing, and records what
 * it created in @createdDirs (innermost last) for cloneDiskRemoveDirs. */
static int
cloneDiskMakeDir(const char *path, GPtrArray *createdDirs)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);

    for (char *d = g_strdup(dir); d; ) {
        char *parent;

        if (g_file_test(d, G_FILE_TEST_IS_DIR)) {
            g_free(d);
            break;
        }
        parent = g_path_get_dirname(d);
        g_ptr_array_insert(missing, 0, d);
        d = g_str_equal(parent, d) ? (g_free(parent), NULL) : parent;
    }
    for (guint i = 0; i < missing->len; i++) {
        const char *d = g_ptr_array_index(missing, i);

        if (g_mkdir(d, 0700) < 0 && errno != EEXIST) {
            virCloneReportSystemError(errno, _("cannot create directory '%1$s' for overlays"), d);
            return -1;
        }
        g_ptr_array_add(createdDirs, g_strdup(d));
    }
    return 0;
}


/* Removes the directories cloneDiskMakeDir created, innermost first, if
 * they are empty. */
void
cloneDiskRemoveDirs(GPtrArray *createdDirs)
{
    for (guint i = createdDirs->len; i-- > 0;) {
        const char *d = g_ptr_array_index(createdDirs, i);

        if (g_rmdir(d) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
            CLONE_WARN("cannot remove directory '%s': %s", d, g_strerror(errno));
    }
    g_ptr_array_set_size(createdDirs, 0);
}


int
cloneDiskCreateOverlays(virDomainPtr src, cloneDomainPlan *plan, GPtrArray *createdDirs)
{
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);
        virDomainBlockInfo info;

        if (d->action != CLONE_DISK_FORK)
            continue;
        if (virDomainGetBlockInfo(src, d->target, &info, 0) < 0) {
            virCloneReportLibvirtError(VIR_CLONE_ERR_DISK,
                                       _("cannot read the size of disk '%1$s'"), d->target);
            return -1;
        }
        if (cloneDiskMakeDir(d->cloneOverlay, createdDirs) < 0 ||
            cloneDiskMakeDir(d->sourceOverlay, createdDirs) < 0 ||
            cloneDiskCreateOverlay(d->cloneOverlay, d->srcPath, d->srcFormat, info.capacity) < 0)
            return -1;
        d->cloneOverlayCreated = TRUE;
        if (cloneDiskCreateOverlay(d->sourceOverlay, d->srcPath, d->srcFormat, info.capacity) < 0)
            return -1;
        d->sourceOverlayCreated = TRUE;
    }
    return 0;
}


/* Creates the clone's overlay of every forked disk, over the image the
 * plan names (a template's base): a domain started from a template. */
int
cloneDiskCreateCloneOverlays(cloneDomainPlan *plan, GPtrArray *createdDirs)
{
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        if (d->action != CLONE_DISK_FORK)
            continue;
        if (cloneDiskMakeDir(d->cloneOverlay, createdDirs) < 0 ||
            cloneDiskCreateOverlay(d->cloneOverlay, d->srcPath, d->srcFormat, 0) < 0)
            return -1;
        d->cloneOverlayCreated = TRUE;
    }
    return 0;
}


static void
cloneUnlink(const char *path)
{
    if (path && g_unlink(path) < 0 && errno != ENOENT)
        CLONE_WARN("cannot remove '%s': %s", path, g_strerror(errno));
}


/* Removes the files this clone created for itself: overlays, copies, and
 * the logs its QEMU wrote (checked to be new in cloneDiskCheckNewFiles). */
void
cloneDiskRemoveCloneFiles(cloneDomainPlan *plan)
{
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        if (d->cloneOverlayCreated)
            cloneUnlink(d->cloneOverlay);
        d->cloneOverlayCreated = FALSE;
    }
    for (guint i = 0; i < plan->copies->len; i++) {
        cloneCopy *c = g_ptr_array_index(plan->copies, i);

        if (c->created)
            cloneUnlink(c->to);
        c->created = FALSE;
    }
    for (guint i = 0; i < plan->ownedFiles->len; i++)
        cloneUnlink(g_ptr_array_index(plan->ownedFiles, i));
    g_ptr_array_set_size(plan->ownedFiles, 0);
}


/* The image files @dom's XML (live, and persistent if it has one) names,
 * backing files included; NULL if libvirt cannot say. */
static GHashTable *
cloneDiskFilesInUse(virDomainPtr dom)
{
    g_autoptr(GHashTable) used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    unsigned int flags[] = { 0, VIR_DOMAIN_XML_INACTIVE };

    for (size_t i = 0; i < G_N_ELEMENTS(flags); i++) {
        g_autofree char *xml = NULL;
        g_auto(GStrv) files = NULL;

        if (!dom || !(xml = virDomainGetXMLDesc(dom, flags[i]))) {
            virResetLastError();
            return NULL;
        }
        files = cloneXMLStrings(xml, "/domain/devices/disk//source/@file");
        for (guint j = 0; files[j]; j++)
            g_hash_table_add(used, g_strdup(files[j]));
    }
    return g_steal_pointer(&used);
}


/* Removes the source's next tops that the source does not use.  Before
 * the disk fork that is all of them, after it none; which one it was is
 * asked of libvirt, not assumed.  When libvirt cannot say (the source is
 * gone) they are removed only if the fork was never attempted. */
void
cloneDiskRemoveSourceOverlays(virDomainPtr src, cloneDomainPlan *plan, gboolean forkAttempted)
{
    g_autoptr(GHashTable) used = cloneDiskFilesInUse(src);

    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        if (!d->sourceOverlayCreated)
            continue;
        if (used ? g_hash_table_contains(used, d->sourceOverlay) : forkAttempted) {
            CLONE_DEBUG("keeping '%s': the source runs on it", d->sourceOverlay);
            continue;
        }
        cloneUnlink(d->sourceOverlay);
        d->sourceOverlayCreated = FALSE;
    }
}


/* None of the clone's overlays and copies may exist yet: rollback removes
 * them.  Files its QEMU writes (logs, sockets) may: they are reused. */
gboolean
cloneDiskPlanFilesFree(const cloneDomainPlan *plan)
{
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        if ((d->cloneOverlay && g_file_test(d->cloneOverlay, G_FILE_TEST_EXISTS)) ||
            (d->sourceOverlay && g_file_test(d->sourceOverlay, G_FILE_TEST_EXISTS)))
            return FALSE;
    }
    for (guint i = 0; i < plan->copies->len; i++)
        if (g_file_test(((cloneCopy *)g_ptr_array_index(plan->copies, i))->to, G_FILE_TEST_EXISTS))
            return FALSE;
    return TRUE;
}


int
cloneDiskCheckNewFiles(cloneDomainPlan *plan)
{
    g_ptr_array_set_size(plan->ownedFiles, 0);
    for (guint i = 0; i < plan->newFiles->len; i++) {
        const char *path = g_ptr_array_index(plan->newFiles, i);

        if (g_file_test(path, G_FILE_TEST_EXISTS)) {
            if (!g_file_test(path, G_FILE_TEST_IS_REGULAR) &&
                g_file_test(path, G_FILE_TEST_IS_DIR)) {
                virCloneReportError(VIR_CLONE_ERR_DISK,
                                    _("file '%1$s' for the clone is a directory"), path);
                return -1;
            }
            CLONE_DEBUG("reusing '%s', left by an earlier domain of the same name", path);
            continue;
        }
        g_ptr_array_add(plan->ownedFiles, g_strdup(path));
    }
    return 0;
}


static int
cloneFileCopyData(int in, int out, const char *from, const char *to)
{
    char buf[64 * 1024];

    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            virCloneReportSystemError(errno, _("cannot read '%1$s'"), from);
            return -1;
        }
        if (n == 0)
            return 0;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, n - done);

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                virCloneReportSystemError(errno, _("cannot write '%1$s'"), to);
                return -1;
            }
            done += w;
        }
    }
}


/**
 * cloneFileCopy:
 * @from: a regular file (not followed if a symlink)
 * @to: the copy, which must not exist
 * @keepOwner: give the copy @from's owner and mode (else root's, 0600)
 * @created: set as soon as @to exists, so that a failed copy is removed
 *
 * Streams @from into a new @to and syncs it.
 */
int
cloneFileCopy(const char *from, const char *to, gboolean keepOwner, gboolean *created)
{
    struct stat st;
    int in = -1;
    int out = -1;
    int ret = -1;

    if ((in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(in, &st) < 0) {
        virCloneReportSystemError(errno, _("cannot read '%1$s'"), from);
        goto cleanup;
    }
    if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        virCloneReportSystemError(errno, _("cannot create '%1$s'"), to);
        goto cleanup;
    }
    *created = TRUE;
    if (cloneFileCopyData(in, out, from, to) < 0)
        goto cleanup;
    if ((keepOwner && (fchown(out, st.st_uid, st.st_gid) < 0 ||
                       fchmod(out, st.st_mode & 07777) < 0)) ||
        fsync(out) < 0) {
        virCloneReportSystemError(errno, _("cannot write '%1$s'"), to);
        goto cleanup;
    }
    ret = 0;

 cleanup:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return ret;
}


int
cloneDiskCopyFiles(cloneDomainPlan *plan)
{
    for (guint i = 0; i < plan->copies->len; i++) {
        cloneCopy *c = g_ptr_array_index(plan->copies, i);

        /* a failed copy is removed by the rollback, as a complete one */
        if (cloneFileCopy(c->from, c->to, FALSE, &c->created) < 0)
            return -1;
    }
    return 0;
}


/* The disk-only external snapshot that moves the source onto its new
 * tops (the plan's sourceOverlay of each forked disk); the other disks
 * are left out of it. */
char *
cloneDiskSnapshotXML(const cloneDomainPlan *plan, const char *name)
{
    g_autoptr(GString) s = g_string_new(NULL);
    g_autofree char *escName = g_markup_escape_text(name, -1);

    g_string_append_printf(s, "<domainsnapshot>\n  <name>%s</name>\n  <disks>\n", escName);
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);
        g_autofree char *path = NULL;
        g_autofree char *target = g_markup_escape_text(d->target, -1);

        if (d->action != CLONE_DISK_FORK) {
            g_string_append_printf(s, "    <disk name='%s' snapshot='no'/>\n", target);
            continue;
        }
        path = g_markup_escape_text(d->sourceOverlay, -1);
        g_string_append_printf(s,
                               "    <disk name='%s' snapshot='external' type='file'>\n"
                               "      <driver type='qcow2'/>\n"
                               "      <source file='%s'/>\n"
                               "    </disk>\n", target, path);
    }
    g_string_append(s, "  </disks>\n</domainsnapshot>\n");
    return g_string_free(g_steal_pointer(&s), FALSE);
}


/**
 * cloneDiskFork:
 *
 * Moves the (paused) source onto its new tops with libvirt's own snapshot
 * API, so that libvirt's live and persistent XML follow.  A raw QMP
 * blockdev-snapshot would leave libvirt's view stale: the next cold boot
 * would lose every write since the clone.
 */
int
cloneDiskFork(virDomainPtr src, const cloneDomainPlan *plan, const char *name)
{
    g_autofree char *xml = cloneDiskSnapshotXML(plan, name);
    virDomainSnapshotPtr snap;
    unsigned int flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                         VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA |
                         VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT |
                         VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
    gboolean any = FALSE;

    for (guint i = 0; i < plan->disks->len; i++)
        any |= ((cloneDisk *)g_ptr_array_index(plan->disks, i))->action == CLONE_DISK_FORK;
    if (!any)
        return 0;

    if (!(snap = virDomainSnapshotCreateXML(src, xml, flags))) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_DISK,
                                   _("cannot fork the disks of domain '%1$s'"),
                                   virDomainGetName(src));
        return -1;
    }
    virDomainSnapshotFree(snap);
    return 0;
}


/* ---- the files of a clone that has stopped ----------------------------------- */

int
cloneDiskRemoveStoppedFile(const char *domain, const char *path)
{
    GStatBuf st;

    if (!g_path_is_absolute(path)) {
        virCloneReportError(VIR_CLONE_ERR_DISK,
                            _("file '%1$s' of clone '%2$s' is not an absolute path: it is kept"),
                            path, domain);
        return -1;
    }
    if (g_lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        virCloneReportSystemError(errno, _("cannot remove file '%1$s' of clone '%2$s'"), path, domain);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        virCloneReportError(VIR_CLONE_ERR_DISK,
                            _("file '%1$s' of clone '%2$s' is not a regular file: it is kept"),
                            path, domain);
        return -1;
    }
    if (g_unlink(path) < 0 && errno != ENOENT) {
        virCloneReportSystemError(errno, _("cannot remove file '%1$s' of clone '%2$s'"), path, domain);
        return -1;
    }
    CLONE_INFO("removed '%s' of clone '%s'", path, domain);
    return 0;
}


int
cloneDiskRemoveStoppedOverlays(const char *domain, GPtrArray *overlays, const char *const *tops)
{
    int ret = 0;

    for (guint i = 0; i < overlays->len; i++) {
        const char *path = g_ptr_array_index(overlays, i);

        if (!g_strv_contains(tops, path)) {
            CLONE_WARN("overlay '%s' of clone '%s' is kept: it is not the top image of a disk of the clone, so another clone may use it as its backing file",
                       path, domain);
            continue;
        }
        if (cloneDiskRemoveStoppedFile(domain, path) < 0)
            ret = -1;
    }
    return ret;
}
