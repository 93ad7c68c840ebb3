/*
 * clone_guardian.c: starting and ending the guardian of a clone job
 *
 * A clone job lives in the caller's process, and its source must never stay
 * paused or migrating because that process died.  On a daemon connection
 * the job starts a guardian (libvirt-clone-guardian, spawned with argv) with
 * a libvirt connection of its own.  It watches the caller through a pidfd
 * and a control pipe; when either says the job's process is gone, or the
 * job ended and left its record for it, it takes the job's lock and
 * finishes the rollback from the record (clone_live.c).  The guardian is
 * in a session of its own, so that a terminal's signals to the caller's
 * process group do not reach it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_guardian.h"
#include "clone_paths.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <unistd.h>

#define CLONE_GUARDIAN_READY_TIMEOUT_MS 10000


static const char *
cloneGuardianProgram(void)
{
    const char *env = g_getenv("LIBVIRT_CLONE_GUARDIAN");

    return env && *env ? env : CLONE_GUARDIAN_PATH;
}


static void
cloneGuardianChildSetup(gpointer data G_GNUC_UNUSED)
{
    setsid();
}


/* Reads the guardian's "ready" line (it has its connection), or fails. */
static int
cloneGuardianWaitReady(int out, const char *program)
{
    char buf[64] = "";
    size_t len = 0;
    gint64 end = g_get_monotonic_time() + CLONE_GUARDIAN_READY_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

    while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
        GPollFD pfd = { .fd = out, .events = G_IO_IN };
        gint64 left = (end - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
        ssize_t n;

        if (left <= 0 || g_poll(&pfd, 1, (gint)left) == 0) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("the job guardian '%1$s' did not get ready in %2$d ms"),
                                program, CLONE_GUARDIAN_READY_TIMEOUT_MS);
            return -1;
        }
        if ((n = read(out, buf + len, sizeof(buf) - 1 - len)) < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (!g_str_has_prefix(buf, "ready\n")) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("the job guardian '%1$s' could not start (see its messages on standard error)"),
                            program);
        return -1;
    }
    return 0;
}


int
cloneGuardianStart(const char *uri, const char *srcUUID, GPid *pid, int *control)
{
    const char *program = cloneGuardianProgram();
    const char *argv[] = { program, "--uri", uri, "--source", srcUUID, NULL };
    int pipefd[2] = { -1, -1 };
    int pidfd = -1;
    int out = -1;
    int ret = -1;
    g_autoptr(GError) gerr = NULL;

    *pid = 0;
    *control = -1;
    if ((pidfd = pidfd_open(getpid(), 0)) < 0) {
        virCloneReportSystemError(errno, "%s", _("cannot watch this process for the job guardian (pidfd_open)"));
        return -1;
    }
    if (!g_unix_open_pipe(pipefd, FD_CLOEXEC, NULL)) {
        virCloneReportSystemError(errno, "%s", _("cannot create the job guardian's pipe"));
        goto cleanup;
    }
    {
        int sources[] = { pidfd, pipefd[0] };
        int targets[] = { CLONE_GUARDIAN_PIDFD, CLONE_GUARDIAN_CONTROL };

        if (!g_spawn_async_with_pipes_and_fds(NULL, argv, NULL,
                                              /* reaped by GLib's intermediate
                                               * child: nothing for us to wait for */
                                              G_SPAWN_DEFAULT,
                                              cloneGuardianChildSetup, NULL,
                                              -1, -1, -1, sources, targets, 2,
                                              pid, NULL, &out, NULL, &gerr)) {
            virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                                _("cannot start the job guardian '%1$s': %2$s"),
                                program, gerr->message);
            goto cleanup;
        }
    }
    if (cloneGuardianWaitReady(out, program) < 0) {
        kill(*pid, SIGKILL);
        *pid = 0;
        goto cleanup;
    }
    *control = pipefd[1];
    pipefd[1] = -1;
    ret = 0;

 cleanup:
    if (pidfd >= 0)
        close(pidfd);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (out >= 0)
        close(out);
    return ret;
}


void
cloneGuardianStop(GPid *pid, int *control)
{
    if (*control >= 0)
        close(*control);
    *control = -1;
    *pid = 0;
}


static int
cloneGuardianSpawnDetached(const char *const *argv)
{
    const char *program = argv[0];
    g_autoptr(GError) gerr = NULL;

    /* nothing of the hook's: libvirtd reads the hook's output until its
     * end, and waits for that before it goes on */
    if (!g_spawn_async(NULL, (char **)argv, NULL,
                       G_SPAWN_STDIN_FROM_DEV_NULL | G_SPAWN_STDOUT_TO_DEV_NULL |
                       G_SPAWN_STDERR_TO_DEV_NULL,
                       cloneGuardianChildSetup, NULL, NULL, &gerr)) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("cannot start the job guardian '%1$s': %2$s"),
                            program, gerr->message);
        return -1;
    }
    return 0;
}


int
cloneGuardianRecover(const char *uri, const char *srcUUID)
{
    const char *argv[] = { cloneGuardianProgram(), "--uri", uri, "--source", srcUUID, "--recover", NULL };

    return cloneGuardianSpawnDetached(argv);
}


int
cloneGuardianTemplateRelease(const char *uri, const char *releasedUUID)
{
    const char *argv[] = { cloneGuardianProgram(), "--uri", uri, "--released", releasedUUID, NULL };

    return cloneGuardianSpawnDetached(argv);
}

