/*
 * clone_jobrec.c: job records and the lock that says their owner is alive
 *
 * The lock is an flock(2) on RUNDIR/jobs/SOURCE-UUID.lock.  The kernel drops
 * it when its holder dies, however it dies, so a held lock means a live
 * job and needs no PID to compare.  flock conflicts between two opens of
 * the file even within one process, so the same lock keeps two threads of
 * one caller apart.  The lock file is removed by its holder; a waiter that
 * locked a file that has meanwhile been removed opens it again.
 *
 * The record, RUNDIR/jobs/SOURCE-UUID.json, is written whole and renamed
 * into place, so that a reader sees the last complete record.  Nothing is
 * synced: the record must survive its writer's death, not the host's (the
 * QEMUs do not survive that either).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_jobrec.h"
#include "clone_file.h"
#include "clone_lookup.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLONE_JOBS_SUBDIR "jobs"

struct _cloneJobLock {
    int fd;
    char *runDir;
    char *uuid;
    char *lockPath;
    char *recordPath;
};


gboolean
cloneConnIsEmbedded(virConnectPtr conn)
{
    return cloneConnGetKind(conn, NULL) == CLONE_CONN_EMBED;
}


char *
cloneRunDir(virConnectPtr conn)
{
    g_autofree char *root = NULL;
    const char *runtime;

    switch (cloneConnGetKind(conn, &root)) {
    case CLONE_CONN_SYSTEM:
        return g_strdup(CLONE_RUN_DIR);
    case CLONE_CONN_EMBED:
        return g_build_filename(root, "run", "libvirt-clone", NULL);
    case CLONE_CONN_SESSION:
        runtime = g_get_user_runtime_dir();
        return g_build_filename(runtime, "libvirt-clone", NULL);
    case CLONE_CONN_OTHER:
    case CLONE_CONN_LAST:
        break;
    }
    virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED, "%s",
                        _("live clones need a local QEMU connection (qemu:///system, qemu:///session or qemu:///embed): the library keeps the records of running clones on this host"));
    return NULL;
}


static char *
cloneJobsDir(const char *runDir)
{
    return g_build_filename(runDir, CLONE_JOBS_SUBDIR, NULL);
}


static cloneJobLock *
cloneJobLockNew(const char *runDir, const char *uuid)
{
    cloneJobLock *lock = g_new0(cloneJobLock, 1);
    g_autofree char *dir = cloneJobsDir(runDir);
    g_autofree char *lockName = g_strdup_printf("%s.lock", uuid);
    g_autofree char *recName = g_strdup_printf("%s.json", uuid);

    lock->fd = -1;
    lock->runDir = g_strdup(runDir);
    lock->uuid = g_strdup(uuid);
    lock->lockPath = g_build_filename(dir, lockName, NULL);
    lock->recordPath = g_build_filename(dir, recName, NULL);
    return lock;
}


static void
cloneJobLockFree(cloneJobLock *lock)
{
    if (!lock)
        return;
    if (lock->fd >= 0)
        close(lock->fd);
    g_free(lock->runDir);
    g_free(lock->uuid);
    g_free(lock->lockPath);
    g_free(lock->recordPath);
    g_free(lock);
}


static int
cloneJobsDirEnsure(const char *runDir)
{
    g_autofree char *dir = cloneJobsDir(runDir);

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        virCloneReportSystemError(errno, _("cannot create directory '%1$s'"), dir);
        return -1;
    }
    return 0;
}


/* One attempt: 1 locked, 0 held by someone else (or the file was replaced
 * under us: try again), -1 error. */
static int
cloneJobLockOnce(cloneJobLock *lock)
{
    int fd = cloneFileLockOnce(lock->lockPath, LOCK_EX, _("job lock"));

    if (fd == -2)
        return -1;
    if (fd < 0)
        return 0;
    lock->fd = fd;
    return 1;
}


cloneJobLock *
cloneJobLockAcquire(const char *runDir, const char *srcUUID, const char *srcName,
                    gboolean wait, guint timeoutS)
{
    g_autoptr(cloneJobLock) lock = cloneJobLockNew(runDir, srcUUID);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutS * G_USEC_PER_SEC;

    if (cloneJobsDirEnsure(runDir) < 0)
        return NULL;
    for (;;) {
        int rc = cloneJobLockOnce(lock);

        if (rc < 0)
            return NULL;
        if (rc > 0)
            return g_steal_pointer(&lock);
        if (!wait) {
            virCloneReportError(VIR_CLONE_ERR_BUSY,
                                _("domain '%1$s' is being cloned already: try again, or ask to wait"),
                                srcName);
            return NULL;
        }
        if (g_get_monotonic_time() > deadline) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("domain '%1$s' was still being cloned by another job after %2$u s"),
                                srcName, timeoutS);
            return NULL;
        }
        g_usleep(20 * G_TIME_SPAN_MILLISECOND);
    }
}


cloneJobLock *
cloneJobLockTry(const char *runDir, const char *srcUUID)
{
    g_autoptr(cloneJobLock) lock = cloneJobLockNew(runDir, srcUUID);
    int rc;

    if (cloneJobsDirEnsure(runDir) < 0)
        return NULL;
    /* a file replaced under us is a job that has just ended: look again */
    for (int i = 0; i < 3; i++) {
        if ((rc = cloneJobLockOnce(lock)) < 0)
            return NULL;
        if (rc > 0)
            return g_steal_pointer(&lock);
        if (cloneJobLockHeld(runDir, srcUUID))
            break;
    }
    return NULL;
}


gboolean
cloneJobLockHeld(const char *runDir, const char *srcUUID)
{
    g_autoptr(cloneJobLock) lock = cloneJobLockNew(runDir, srcUUID);
    int fd = open(lock->lockPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    gboolean held;

    if (fd < 0)
        return FALSE;
    held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}


void
cloneJobLockRelease(cloneJobLock *lock)
{
    if (!lock)
        return;
    if (lock->fd >= 0 && g_unlink(lock->lockPath) < 0 && errno != ENOENT)
        CLONE_WARN("cannot remove the job lock '%s': %s", lock->lockPath, g_strerror(errno));
    cloneJobLockFree(lock);
}


const char *
cloneJobLockSourceUUID(const cloneJobLock *lock)
{
    return lock->uuid;
}


const char *
cloneJobLockRunDir(const cloneJobLock *lock)
{
    return lock->runDir;
}


/* A new file renamed over the old one, not synced: GLib's "consistent"
 * writes fsync, which costs milliseconds, and some records are written
 * while the source is paused. */
int
cloneJobRecordSave(cloneJobLock *lock, JsonObject *record)
{
    return cloneFileWriteJSON(lock->recordPath, record, _("job record"));
}


int
cloneJobRecordLoad(cloneJobLock *lock, JsonObject **record)
{
    return cloneFileReadJSON(lock->recordPath, record, _("job record"));
}


void
cloneJobRecordRemove(cloneJobLock *lock)
{
    if (g_unlink(lock->recordPath) < 0 && errno != ENOENT)
        CLONE_WARN("cannot remove the job record '%s': %s", lock->recordPath, g_strerror(errno));
}


GStrv
cloneJobRecordList(const char *runDir)
{
    g_autofree char *dir = cloneJobsDir(runDir);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *uuid = NULL;

        if (!g_str_has_suffix(name, ".json"))
            continue;
        uuid = g_strndup(name, strlen(name) - strlen(".json"));
        if (g_uuid_string_is_valid(uuid))
            g_ptr_array_add(uuids, g_steal_pointer(&uuid));
    }
    g_ptr_array_add(uuids, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&uuids), FALSE);
}


/* ---- test-only fault points ------------------------------------------------ */

#ifdef CLONE_TEST_FAULTS
/* The action for @point in LIBVIRT_CLONE_FAULT, or NULL. */
static char *
cloneFaultAction(const char *point)
{
    const char *env = g_getenv("LIBVIRT_CLONE_FAULT");
    g_auto(GStrv) items = NULL;

    if (!env || !*env)
        return NULL;
    items = g_strsplit(env, ",", -1);
    for (guint i = 0; items[i]; i++) {
        const char *colon = strrchr(items[i], ':');

        if (colon && strlen(point) == (size_t)(colon - items[i]) &&
            strncmp(items[i], point, strlen(point)) == 0)
            return g_strdup(colon + 1);
    }
    return NULL;
}


static void
cloneFaultWait(const char *point)
{
    const char *dir = g_getenv("LIBVIRT_CLONE_FAULT_DIR");
    g_autofree char *marker = g_build_filename(dir && *dir ? dir : g_get_tmp_dir(), point, NULL);
    gint64 end = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;

    if (!g_file_set_contents(marker, "", 0, NULL))
        return;
    while (g_file_test(marker, G_FILE_TEST_EXISTS) && g_get_monotonic_time() < end)
        g_usleep(10 * G_TIME_SPAN_MILLISECOND);
}
#endif


int
cloneFaultPoint(const char *point)
{
#ifdef CLONE_TEST_FAULTS
    g_autofree char *action = cloneFaultAction(point);

    if (!action)
        return 0;
    CLONE_DEBUG("fault point '%s': %s", point, action);
    if (g_str_equal(action, "kill"))
        kill(getpid(), SIGKILL);
    else if (g_str_equal(action, "wait"))
        cloneFaultWait(point);
    else if (g_str_equal(action, "fail")) {
        virCloneReportError(VIR_CLONE_ERR_INTERNAL, _("fault injected at '%1$s'"), point);
        return -1;
    }
#else
    (void)point;
#endif
    return 0;
}
