/*
 * testutils-net.c: test networks of a test's own making
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "testutils-net.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

struct _TnBridge {
    char *name;
    char *dir;            /* udhcpd's configuration and leases */
    GSubprocess *dhcpd;
};


gboolean
tnRun(gboolean mayFail, const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *errout = NULL;
    const char *a;
    int status = 0;
    va_list ap;

    va_start(ap, first);
    for (a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (gpointer)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &errout, &status, &err) ||
        !g_spawn_check_wait_status(status, NULL)) {
        if (!mayFail)
            g_error("%s failed: %s", first, err ? err->message : errout);
        return FALSE;
    }
    return TRUE;
}


void
tnReapStale(const char *prefix)
{
    g_autoptr(GDir) d = g_dir_open("/sys/class/net", 0, NULL);
    size_t len = strlen(prefix);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *proc = NULL;

        if (!g_str_has_prefix(name, prefix) || !name[len] ||
            name[len + strspn(name + len, "0123456789")] != '\0')
            continue;
        proc = g_strdup_printf("/proc/%s", name + len);
        if (!g_file_test(proc, G_FILE_TEST_EXISTS))
            tnRun(TRUE, "ip", "link", "del", name, NULL);
    }
}


TnBridge *
tnBridgeNew(const char *prefix, const char *mac, const char *cidr)
{
    TnBridge *br = g_new0(TnBridge, 1);

    tnReapStale(prefix);
    br->name = g_strdup_printf("%s%u", prefix, (guint)getpid());
    tnRun(FALSE, "ip", "link", "add", br->name, "address", mac, "type", "bridge",
          "stp_state", "0", "forward_delay", "0", NULL);
    if (cidr)
        tnRun(FALSE, "ip", "addr", "add", cidr, "dev", br->name, NULL);
    tnRun(FALSE, "ip", "link", "set", br->name, "up", NULL);
    return br;
}


const char *
tnBridgeName(TnBridge *br)
{
    return br->name;
}


static void
tnDieWithParent(gpointer data G_GNUC_UNUSED)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}


void
tnBridgeDhcp(TnBridge *br, const char *first, const char *last, const char *router)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autofree char *conf = NULL;
    g_autofree char *leases = NULL;
    g_autofree char *text = NULL;

    g_assert_null(br->dhcpd);
    br->dir = g_dir_make_tmp("lvcdhcp-XXXXXX", &err);
    g_assert_no_error(err);
    conf = g_build_filename(br->dir, "udhcpd.conf", NULL);
    leases = g_build_filename(br->dir, "leases", NULL);
    text = g_strdup_printf("start %s\nend %s\ninterface %s\nlease_file %s\n"
                           "pidfile %s/udhcpd.pid\nmax_leases 51\n"
                           "option subnet 255.255.255.0\noption router %s\noption lease 600\n",
                           first, last, br->name, leases, br->dir, router);
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    g_assert_true(g_file_set_contents(leases, "", 0, NULL));
    launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_SILENCE |
                                         G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    /* it goes with this process, however this process ends */
    g_subprocess_launcher_set_child_setup(launcher, tnDieWithParent, NULL, NULL);
    br->dhcpd = g_subprocess_launcher_spawn(launcher, &err, "busybox", "udhcpd", "-f", conf, NULL);
    g_assert_no_error(err);
}


void
tnBridgeFree(TnBridge *br)
{
    if (!br)
        return;
    if (br->dhcpd) {
        g_subprocess_force_exit(br->dhcpd);
        g_subprocess_wait(br->dhcpd, NULL, NULL);
        g_clear_object(&br->dhcpd);
    }
    tnRun(TRUE, "ip", "link", "del", br->name, NULL);
    if (br->dir) {
        g_autoptr(GDir) d = g_dir_open(br->dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *path = g_build_filename(br->dir, name, NULL);

            g_unlink(path);
        }
        g_rmdir(br->dir);
    }
    g_free(br->dir);
    g_free(br->name);
    g_free(br);
}
