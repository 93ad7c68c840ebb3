/*
 * libvirt-clone-guardian: finishes the rollback of a clone job whose
 * process died
 *
 *   libvirt-clone-guardian --uri URI --source UUID [--recover]
 *   libvirt-clone-guardian --uri URI --released UUID
 *
 * The library starts it (clone_guardian.c) for each clone job on a daemon
 * connection, with a pidfd of the job's process as file descriptor 3 and
 * the read end of a control pipe as 4.  It opens its own connection to
 * libvirt, says "ready" on standard output and closes it, then waits until
 * the job's process exits or the control pipe reaches its end (the job is
 * over).  Then it takes the job's lock: a record left behind means the job
 * did not finish its rollback, and the guardian finishes it, reconnecting
 * while libvirtd restarts.  With --recover it does that at once (the hook
 * starts it so for a stale job it cannot touch itself).  With --released
 * (the hook, when a domain of a template made for its domains stops) it
 * waits until libvirt has let that domain go and deletes such templates
 * that have no domain left.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_guardian.h"
#include "clone_job.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define GUARDIAN_NAME "libvirt-clone-guardian"
/* how long libvirtd may take to come back, and a job to let go of a lock */
#define GUARDIAN_RECONNECT_S 60
#define GUARDIAN_LOCK_WAIT_S 120


static void
guardianLog(int priority, const char *message, void *opaque G_GNUC_UNUSED)
{
    if (priority >= VIR_CLONE_LOG_INFO)
        g_printerr("%s: %s\n", GUARDIAN_NAME, message);
}


static void
guardianQuiet(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


/* Returns when the job's process has exited or the job has ended. */
static void
guardianWait(void)
{
    struct pollfd fds[] = {
        { .fd = CLONE_GUARDIAN_PIDFD, .events = POLLIN },
        { .fd = CLONE_GUARDIAN_CONTROL, .events = POLLIN },
    };

    for (;;) {
        char buf[64];

        if (poll(fds, G_N_ELEMENTS(fds), -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
            return;
        if (fds[1].revents & (POLLHUP | POLLERR | POLLNVAL))
            return;
        if ((fds[1].revents & POLLIN) && read(CLONE_GUARDIAN_CONTROL, buf, sizeof(buf)) <= 0)
            return;
    }
}


static virConnectPtr
guardianConnect(const char *uri, guint tries)
{
    for (guint i = 0; i < tries; i++) {
        virConnectPtr conn = virConnectOpen(uri);

        if (conn)
            return conn;
        g_usleep(G_USEC_PER_SEC / 2);
    }
    return NULL;
}


/* Finishes the job's rollback, if it left a record; waits for libvirtd
 * when it is restarting. */
static int
guardianRecover(virConnectPtr *conn, const char *uri, const char *uuid)
{
    gint64 end = g_get_monotonic_time() + GUARDIAN_RECONNECT_S * G_USEC_PER_SEC;

    for (;;) {
        g_autofree char *runDir = NULL;
        int rc;

        if (*conn && virConnectIsAlive(*conn) != 1)
            g_clear_pointer(conn, virConnectClose);
        if (!*conn && !(*conn = guardianConnect(uri, 1))) {
            if (g_get_monotonic_time() > end) {
                g_printerr(_("%1$s: cannot connect to '%2$s' to finish the rollback of the clone of %3$s\n"),
                           GUARDIAN_NAME, uri, uuid);
                return -1;
            }
            g_usleep(G_USEC_PER_SEC / 2);
            continue;
        }
        if (!(runDir = cloneRunDir(*conn)))
            return -1;
        if ((rc = cloneJobRecoverSource(*conn, runDir, uuid, GUARDIAN_LOCK_WAIT_S)) >= 0)
            return 0;
        /* libvirtd may still be starting: try again until the deadline */
        if (g_get_monotonic_time() > end) {
            g_printerr("%s: %s\n", GUARDIAN_NAME, virCloneGetLastErrorMessage());
            return -1;
        }
        g_usleep(G_USEC_PER_SEC / 2);
    }
}


/* --released: once libvirt has let the domain go (a transient one leaves
 * the list when its release hook has returned), the templates made for
 * their domains that have none left are deleted. */
static int
guardianTemplateRelease(virConnectPtr conn, const char *released)
{
    gint64 end = g_get_monotonic_time() + GUARDIAN_RECONNECT_S * G_USEC_PER_SEC;

    for (;;) {
        virDomainPtr dom = virDomainLookupByUUIDString(conn, released);
        int active = dom ? virDomainIsActive(dom) : 0;

        if (dom)
            virDomainFree(dom);
        if (active == 0 || g_get_monotonic_time() > end)
            break;
        g_usleep(G_USEC_PER_SEC / 20);
    }
    if (cloneTemplatesAutoDelete(conn) < 0) {
        g_printerr("%s: %s\n", GUARDIAN_NAME, virCloneGetLastErrorMessage());
        return -1;
    }
    return 0;
}


int
main(int argc, char **argv)
{
    g_autofree char *uri = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *released = NULL;
    gboolean recover = FALSE;
    GOptionEntry entries[] = {
        { "uri", 0, 0, G_OPTION_ARG_STRING, &uri, N_("the job's libvirt connection"), "URI" },
        { "source", 0, 0, G_OPTION_ARG_STRING, &uuid, N_("the UUID of the job's source"), "UUID" },
        { "recover", 0, 0, G_OPTION_ARG_NONE, &recover,
          N_("finish the rollback of a stale job now, without waiting"), NULL },
        { "released", 0, 0, G_OPTION_ARG_STRING, &released,
          N_("delete the templates left without a domain once this domain is gone"), "UUID" },
        { NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    g_autoptr(GError) err = NULL;
    virConnectPtr conn = NULL;
    int ret;

    setlocale(LC_ALL, "");
    /* a closed connection or a caller gone with our standard error must
     * not end us */
    signal(SIGPIPE, SIG_IGN);
    virCloneInitialize();
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || !uri ||
        !((uuid && g_uuid_string_is_valid(uuid)) || (released && g_uuid_string_is_valid(released)))) {
        g_printerr(_("usage: %1$s --uri URI --source UUID [--recover]\n"
                     "       %1$s --uri URI --released UUID\n"), GUARDIAN_NAME);
        return 2;
    }
    virCloneSetLogFunc(guardianLog, NULL);
    virSetErrorFunc(NULL, guardianQuiet);
    if (!(conn = guardianConnect(uri, recover ? GUARDIAN_RECONNECT_S * 2 : 1))) {
        g_printerr(_("%1$s: cannot connect to '%2$s'\n"), GUARDIAN_NAME, uri);
        return 1;
    }
    if (released) {
        ret = guardianTemplateRelease(conn, released) < 0 ? 1 : 0;
        virConnectClose(conn);
        return ret;
    }
    if (!recover) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

        if (write(STDOUT_FILENO, "ready\n", 6) != 6 || null < 0 || dup2(null, STDOUT_FILENO) < 0)
            return 1;
        close(null);
        guardianWait();
    }
    ret = guardianRecover(&conn, uri, uuid) < 0 ? 1 : 0;
    if (conn)
        virConnectClose(conn);
    return ret;
}
