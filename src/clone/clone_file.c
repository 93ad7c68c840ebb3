/*
 * clone_file.c: the files the library keeps on the host: locks and JSON
 * records
 *
 * A lock is an flock(2) on a file.  The kernel drops it when its holder
 * dies, however it dies, so a held lock means a live holder and needs no
 * PID to compare.  flock conflicts between two opens of the file even
 * within one process, so the same lock keeps two threads of one caller
 * apart.  A holder may remove its lock file; a waiter that locked a file
 * that has meanwhile been removed opens it again.
 *
 * A record is written whole and renamed into place, so that a reader sees
 * the last complete one.  Nothing is synced: records must survive their
 * writer's death, not the host's (the QEMUs do not survive that either).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
cloneFileLockOnce(const char *path, int op, const char *what)
{
    struct stat byFd;
    struct stat byPath;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0) {
        virCloneReportSystemError(errno, _("cannot open the %1$s '%2$s'"), what, path);
        return -2;
    }
    while (flock(fd, op | LOCK_NB) < 0) {
        int err = errno;

        if (err == EINTR)
            continue;
        close(fd);
        if (err == EWOULDBLOCK)
            return -1;
        virCloneReportSystemError(err, _("cannot lock '%1$s'"), path);
        return -2;
    }
    /* the previous holder may have removed the file after we opened it */
    if (fstat(fd, &byFd) < 0 || stat(path, &byPath) < 0 ||
        byFd.st_ino != byPath.st_ino || byFd.st_dev != byPath.st_dev) {
        close(fd);
        return -1;
    }
    return fd;
}


int
cloneFileLock(const char *path, int op, guint timeoutS,
              int busyCode, const char *busyMsg, const char *what)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutS * G_USEC_PER_SEC;

    for (;;) {
        int fd = cloneFileLockOnce(path, op, what);

        if (fd >= 0)
            return fd;
        if (fd == -2)
            return -1;
        if (timeoutS == 0) {
            virCloneReportError(busyCode, "%s", busyMsg);
            return -1;
        }
        if (g_get_monotonic_time() > deadline) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("timed out after %1$u s waiting for the %2$s '%3$s'"),
                                timeoutS, what, path);
            return -1;
        }
        g_usleep(20 * 1000);
    }
}


int
cloneFileWriteAll(int fd, const void *data, size_t len)
{
    const char *p = data;
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}


int
cloneFileWriteJSON(const char *path, JsonObject *obj, const char *what)
{
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    g_autofree char *text = NULL;
    /* unique: two writers of one record (shared lock) never mix their files */
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
    int fd;

    json_node_set_object(node, obj);
    text = json_to_string(node, TRUE);
    if ((fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600)) < 0)
        goto error;
    if (cloneFileWriteAll(fd, text, strlen(text)) < 0) {
        int err = errno;

        close(fd);
        errno = err;
        goto error;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0)
        goto error;
    return 0;

 error:
    virCloneReportSystemError(errno, _("cannot write the %1$s '%2$s'"), what, path);
    g_unlink(tmp);
    return -1;
}


int
cloneFileReadJSON(const char *path, JsonObject **obj, const char *what)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    JsonNode *root;

    *obj = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    if (!json_parser_load_from_file(parser, path, &err) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot read the %1$s '%2$s': %3$s"),
                            what, path, err ? err->message : _("not a JSON object"));
        return -1;
    }
    *obj = json_object_ref(json_node_get_object(root));
    return 1;
}
