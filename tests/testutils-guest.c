/*
 * testutils-guest.c: boot and drive real test guests through libvirt's
 * embedded QEMU driver.  See testutils-guest.h.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "domainxml.h"
#include "testutils-guest.h"

#define TG_ERROR tg_error_quark()
GQuark tg_error_quark(void);
G_DEFINE_QUARK(tg-error-quark, tg_error)

#define TG_DISK_SIZE "64M"
#define TG_POLL_MS 50
#define TG_ROOT_BASE_MAX 40     /* keeps QEMU's socket paths < 108 bytes */
#define TG_DEFAULT_BOOT_TIMEOUT_MS 90000
#define TG_QUERY_TIMEOUT_MS 20000
#define TG_AGENT_RETRY_MS 200
#define TG_TPM_PCRS 24
/* q35 keeps guest RAM below 4 GiB (at physical 0..size) only when it is
 * smaller than this; beyond it, RAM is split around the PCI hole */
#define TG_Q35_LOWMEM_LIMIT 0xb0000000ull

struct _TgEnv {
    char *root;
    int reaper_fd;              /* write end of the reaper's pipe, or -1 */
    char *guest_dir;
    char *kernel;               /* the guest's kernel and initramfs */
    char *initrd;
    char *uri;                  /* TG_URI: a daemon's, not an embedded root */
    gboolean shared_root;       /* TG_ROOT: neither its domains nor the
                                 * root are ours to remove */
    char *accel;
    const char *disk_cache;     /* "none" if the root supports O_DIRECT */
    virConnectPtr conn;
    gint counter;               /* for unique guest names */
};

struct _TgGuest {
    TgEnv *env;
    virDomainPtr dom;
    char *name;
    char *disk_path;
    char *serial_log;
    gboolean owned;             /* made by tgGuestStart: delete its files */

    goffset serial_off;         /* read position in serial_log */
    int serial_dom_id;          /* domain ID the position belongs to */
    gboolean have_ready;
    TgReady ready;

    char *pty_path;             /* open pty, drained by drain_thread */
    int pty_fd;
    GThread *drain_thread;
    gint drain_quit;
    gint pty_dead;
};

/* What we need from a domain's live XML. */
typedef struct {
    int depth;
    int serial_depth;           /* depth of the first <serial>, or 0 */
    int disk_depth;             /* depth of the first <disk device='disk'> */
    gboolean serial_seen;
    gboolean disk_seen;
    char *pty_path;
    char *log_file;
    char *disk_file;
} TgXmlInfo;


/* ---- errors and small helpers ------------------------------------------ */

void
tgVirError(GError **err, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, TG_ERROR, 0, "%s: %s", msg, virGetLastErrorMessage());
    virResetLastError();
}


/* libvirt prints every error to stderr by default; we report them once, in
 * GErrors.  Note that every libvirt API call resets the last error: format
 * the message before calling another one (even virDomainGetName()). */
static void
tgVirErrorSilence(void *opaque G_GNUC_UNUSED, virErrorPtr error G_GNUC_UNUSED)
{
}


int
tgRun(const char *const *argv, GError **err)
{
    g_autofree char *errout = NULL;
    g_autoptr(GError) local = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH |
                      G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &errout,
                      &status, err))
        return -1;
    if (!g_spawn_check_wait_status(status, &local)) {
        g_set_error(err, TG_ERROR, 0, "%s failed (%s): %s", argv[0],
                    local->message, g_strstrip(errout));
        return -1;
    }
    return 0;
}


static int
tgRemoveEntry(const char *path, const struct stat *sb G_GNUC_UNUSED,
              int type G_GNUC_UNUSED, struct FTW *ftw G_GNUC_UNUSED)
{
    if (remove(path) < 0 && errno != ENOENT)
        g_warning("cannot remove '%s': %s", path, g_strerror(errno));
    return 0;
}


void
tgRemoveTree(const char *path)
{
    if (nftw(path, tgRemoveEntry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        g_warning("cannot remove '%s': %s", path, g_strerror(errno));
}


static const char *
tgModeName(TgMode mode)
{
    return mode == TG_MODE_IDLE ? "idle" : "busy";
}


/* ---- libvirt's event loop ---------------------------------------------- */

static GThread *tgLoopThread;
static gint tgLoopQuit;


static gpointer
tgEventRegisterOnce(gpointer data G_GNUC_UNUSED)
{
    return GINT_TO_POINTER(virEventRegisterDefaultImpl());
}


static gpointer
tgEventLoop(gpointer data G_GNUC_UNUSED)
{
    while (!g_atomic_int_get(&tgLoopQuit)) {
        if (virEventRunDefaultImpl() < 0) {
            g_warning("libvirt event loop: %s", virGetLastErrorMessage());
            g_usleep(100 * 1000);
        }
    }
    return NULL;
}


static void
tgEventWakeup(int timer, void *opaque G_GNUC_UNUSED)
{
    virEventRemoveTimeout(timer);
}


static int
tgEventLoopStart(GError **err)
{
    static GOnce once = G_ONCE_INIT;

    if (GPOINTER_TO_INT(g_once(&once, tgEventRegisterOnce, NULL)) < 0) {
        tgVirError(err, "cannot register libvirt's event loop");
        return -1;
    }
    g_atomic_int_set(&tgLoopQuit, 0);
    tgLoopThread = g_thread_new("tg-virevent", tgEventLoop, NULL);
    return 0;
}


/* Make the loop's current iteration return (a 0 ms timer), then join it. */
static void
tgEventLoopStop(void)
{
    if (!tgLoopThread)
        return;
    g_atomic_int_set(&tgLoopQuit, 1);
    if (virEventAddTimeout(0, tgEventWakeup, NULL, NULL) < 0)
        g_warning("cannot wake libvirt's event loop: %s", virGetLastErrorMessage());
    g_thread_join(g_steal_pointer(&tgLoopThread));
}


/* ---- reaper: clean up after a crashed or killed test process ------------ */

/* SIGKILL every QEMU process whose command line mentions @root: the
 * domains' (pid files in the run dir) and also libvirt's capabilities probe
 * ("-machine none", its pid file under lib/qemu/), which outlives a
 * process killed while its embedded driver was probing. */
void
tgRootKillQemu(const char *root)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *ent;

    while (d && (ent = g_dir_read_name(d))) {
        g_autofree char *cmdfile = NULL;
        g_autofree char *cmd = NULL;
        gsize len = 0;
        int pid = atoi(ent);

        if (pid <= 1)
            continue;
        cmdfile = g_strdup_printf("/proc/%d/cmdline", pid);
        if (!g_file_get_contents(cmdfile, &cmd, &len, NULL) ||
            !strstr(cmd, "qemu-system") ||     /* argv[0] */
            !memmem(cmd, len, root, strlen(root)))
            continue;
        kill(pid, SIGKILL);
    }
}


static void G_GNUC_NORETURN
tgReaperRun(int rfd, const char *root)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    char c;

    /* outlive the test's process group and its pipes */
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    while (read(rfd, &c, 1) != 0 && errno == EINTR)
        ;
    if (g_file_test(root, G_FILE_TEST_IS_DIR)) {
        tgRootKillQemu(root);
        g_usleep(G_USEC_PER_SEC);
        tgRemoveTree(root);
    }
    _exit(0);
}


/* Fork a process that waits for ours to end and, if the root is still there
 * (crash, failed assertion, timeout kill), kills its QEMUs and removes it.
 * Must run before any thread is started.  TG_KEEP=1 disables it. */
int
tgRootReaperStart(const char *root, int *fd, GError **err)
{
    int fds[2];
    pid_t pid;

    *fd = -1;
    if (g_strcmp0(g_getenv("TG_KEEP"), "1") == 0)
        return 0;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        g_set_error(err, TG_ERROR, 0, "pipe: %s", g_strerror(errno));
        return -1;
    }
    if ((pid = fork()) < 0) {
        g_set_error(err, TG_ERROR, 0, "fork: %s", g_strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* double fork: the reaper is reparented, no zombie is left to us */
        close(fds[1]);
        if (fork() == 0)
            tgReaperRun(fds[0], root);
        _exit(0);
    }
    close(fds[0]);
    waitpid(pid, NULL, 0);
    *fd = fds[1];
    return 0;
}


static int
tgReaperStart(TgEnv *env, GError **err)
{
    if (env->shared_root)
        return 0;   /* its owner has one */
    return tgRootReaperStart(env->root, &env->reaper_fd, err);
}


/* ---- environment ------------------------------------------------------- */

static int
tgEnvMakeRoot(TgEnv *env, GError **err)
{
    const char *base = g_getenv("TG_ROOT_BASE");
    const char *shared = g_getenv("TG_ROOT");
    g_autofree char *tmpl = NULL;

    /* TG_ROOT: an embedded root that another process owns (made, cleaned
     * and removed by it); one process at a time opens it */
    if (shared && *shared) {
        env->root = g_strdup(shared);
        env->shared_root = TRUE;
        return 0;
    }

    if (!base || !*base)
        base = "/var/tmp";
    if (strlen(base) > TG_ROOT_BASE_MAX) {
        g_set_error(err, TG_ERROR, 0, "TG_ROOT_BASE '%s' is longer than %d "
                    "bytes (QEMU's UNIX sockets live under it)", base, TG_ROOT_BASE_MAX);
        return -1;
    }
    tmpl = g_build_filename(base, "tg-XXXXXX", NULL);
    if (!g_mkdtemp(tmpl)) {
        g_set_error(err, TG_ERROR, 0, "cannot create a directory in '%s': %s",
                    base, g_strerror(errno));
        return -1;
    }
    env->root = g_steal_pointer(&tmpl);
    return 0;
}


static int
tgEnvWriteConfig(TgEnv *env, GError **err)
{
    g_autofree char *etc = g_build_filename(env->root, "etc", NULL);
    g_autofree char *conf = g_build_filename(etc, "qemu.conf", NULL);
    /* swtpm too runs as root: its default user (tss) cannot enter the
     * root (mode 0700), where its state and log live */
    static const char text[] =
        "# written by tests/testutils-guest.c\n"
        "user = \"root\"\n"
        "group = \"root\"\n"
        "swtpm_user = \"root\"\n"
        "swtpm_group = \"root\"\n"
        "stdio_handler = \"file\"\n";
    /* TG_QEMU_NAMESPACES=0: QEMU without a private /dev (tests/compat/:
     * in its chroot libvirt 9.0's /dev for QEMU has no working PTY) */
    const char *nons = g_strcmp0(g_getenv("TG_QEMU_NAMESPACES"), "0") == 0 ?
                       "namespaces = []\n" : "";
    g_autofree char *all = g_strconcat(text, nons, NULL);

    if (g_mkdir_with_parents(etc, 0755) < 0) {
        g_set_error(err, TG_ERROR, 0, "cannot create '%s': %s", etc, g_strerror(errno));
        return -1;
    }
    return g_file_set_contents(conf, all, -1, err) ? 0 : -1;
}


/* qcow2 with cache='none' needs O_DIRECT on the root's file system. */
static void
tgEnvProbeDirectIO(TgEnv *env)
{
    g_autofree char *probe = g_build_filename(env->root, ".odirect", NULL);
    int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);

    env->disk_cache = fd >= 0 ? "none" : "writeback";
    if (fd >= 0)
        close(fd);
    unlink(probe);
}


static int
tgEnvLoadGuestDir(TgEnv *env, GError **err)
{
    const char *dir = g_getenv("TG_GUEST_DIR");
    const char *files[] = { "vmlinuz", "initramfs.img" };
    size_t i;

    if (!dir || !*dir) {
        g_set_error(err, TG_ERROR, 0, "TG_GUEST_DIR is not set (the build's tests/guest)");
        return -1;
    }
    env->guest_dir = g_canonicalize_filename(dir, NULL);
    env->kernel = g_build_filename(env->guest_dir, "vmlinuz", NULL);
    env->initrd = g_build_filename(env->guest_dir, "initramfs.img", NULL);
    for (i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_build_filename(env->guest_dir, files[i], NULL);

        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(err, TG_ERROR, 0, "no '%s': build the test guest first", path);
            return -1;
        }
    }

    if (!(env->accel = tgGuestDirAccel(env->guest_dir, err)))
        return -1;
    return 0;
}


/* Copy the regular files of @from into @to (created if needed), through a
 * temporary name so that concurrent readers never see half a file. */
static void
tgCopyDir(const char *from, const char *to)
{
    g_autoptr(GDir) dir = g_dir_open(from, 0, NULL);
    const char *ent;

    if (!dir || g_mkdir_with_parents(to, 0755) < 0)
        return;
    while ((ent = g_dir_read_name(dir))) {
        g_autofree char *src = g_build_filename(from, ent, NULL);
        g_autofree char *dst = g_build_filename(to, ent, NULL);
        g_autofree char *tmp = g_strdup_printf("%s.%d.tmp", dst, (int)getpid());
        g_autofree char *data = NULL;
        gsize len = 0;

        if (!g_file_test(src, G_FILE_TEST_IS_REGULAR) ||
            !g_file_get_contents(src, &data, &len, NULL))
            continue;
        if (!g_file_set_contents(tmp, data, len, NULL) || rename(tmp, dst) < 0)
            unlink(tmp);
    }
}


/* libvirt probes QEMU's capabilities (seconds) into a cache under the root;
 * carry that cache over between runs in TG_GUEST_DIR/qemu-caps.  libvirt
 * re-probes by itself if QEMU or libvirt changed. */
static char *
tgCapsCacheDir(TgEnv *env, gboolean in_root)
{
    if (in_root)
        return g_build_filename(env->root, "cache", "qemu", "capabilities", NULL);
    return g_build_filename(env->guest_dir, "qemu-caps", NULL);
}


static void
tgCapsCacheLoad(TgEnv *env)
{
    g_autofree char *saved = tgCapsCacheDir(env, FALSE);
    g_autofree char *live = tgCapsCacheDir(env, TRUE);

    tgCopyDir(saved, live);
}


static void
tgCapsCacheSave(TgEnv *env)
{
    g_autofree char *saved = tgCapsCacheDir(env, FALSE);
    g_autofree char *live = tgCapsCacheDir(env, TRUE);

    tgCopyDir(live, saved);
}


/* TG_URI: a daemon's QEMU runs as its own user (libvirt-qemu by default)
 * and must reach the images and write memory dumps (tgDumpRam): the root
 * becomes writable by all, sticky like /tmp, and the kernel and initramfs
 * are copied into it (libvirt's DAC driver chowns them while a guest runs;
 * the build's copies stay as they are). */
static int
tgEnvUseDaemon(TgEnv *env, const char *uri, GError **err)
{
    g_autofree char *kernel = g_build_filename(env->root, "vmlinuz", NULL);
    g_autofree char *initrd = g_build_filename(env->root, "initramfs.img", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;

    env->uri = g_strdup(uri);
    if (chmod(env->root, 01777) < 0) {
        g_set_error(err, TG_ERROR, 0, "cannot chmod '%s': %s", env->root, g_strerror(errno));
        return -1;
    }
    if (!g_file_get_contents(env->kernel, &data, &len, err) ||
        !g_file_set_contents(kernel, data, len, err))
        return -1;
    g_clear_pointer(&data, g_free);
    if (!g_file_get_contents(env->initrd, &data, &len, err) ||
        !g_file_set_contents(initrd, data, len, err))
        return -1;
    g_free(env->kernel);
    g_free(env->initrd);
    env->kernel = g_steal_pointer(&kernel);
    env->initrd = g_steal_pointer(&initrd);
    return 0;
}


static int
tgEnvOpen(TgEnv *env, GError **err)
{
    g_autofree char *uri = env->uri ? g_strdup(env->uri)
                                    : g_strdup_printf("qemu:///embed?root=%s", env->root);

    if (tgEventLoopStart(err) < 0)
        return -1;
    if (!(env->conn = virConnectOpen(uri))) {
        tgVirError(err, "cannot open '%s'", uri);
        return -1;
    }
    return 0;
}


TgEnv *
tgEnvNew(GError **err)
{
    static gint used;
    g_autoptr(TgEnv) env = g_new0(TgEnv, 1);
    const char *uri = g_getenv("TG_URI");

    env->reaper_fd = -1;

    if (!g_atomic_int_compare_and_exchange(&used, 0, 1)) {
        g_set_error(err, TG_ERROR, 0, "only one TgEnv per process: libvirt binds "
                    "its embedded driver to the first root for the process's life");
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);

    if (tgEnvLoadGuestDir(env, err) < 0 ||
        tgEnvMakeRoot(env, err) < 0)
        return NULL;
    if (uri && *uri) {
        if (tgEnvUseDaemon(env, uri, err) < 0)
            return NULL;
    } else if (tgEnvWriteConfig(env, err) < 0) {
        return NULL;
    }
    if (tgReaperStart(env, err) < 0)
        return NULL;

    /* libvirt logs benign errors and warnings (dmidecode, "tainted") to
     * stderr: send them to ROOT/libvirt.log (kept with TG_KEEP=1) unless
     * the user chose something.  Must precede the first libvirt call. */
    if (!g_getenv("LIBVIRT_LOG_OUTPUTS") && !g_getenv("LIBVIRT_DEBUG")) {
        g_autofree char *outputs = g_strdup_printf("3:file:%s/libvirt.log", env->root);

        g_setenv("LIBVIRT_LOG_OUTPUTS", outputs, TRUE);
    }
    virSetErrorFunc(NULL, tgVirErrorSilence);
    tgEnvProbeDirectIO(env);
    if (!env->uri)
        tgCapsCacheLoad(env);
    if (tgEnvOpen(env, err) < 0)
        return NULL;
    return g_steal_pointer(&env);
}


static void
tgDomainRemove(virDomainPtr dom)
{
    unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                         VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_NVRAM;
    g_autofree char *name = g_strdup(virDomainGetName(dom));

    /* every libvirt call resets the last error: read it right away */
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
        g_debug("destroy %s: %s", name, virGetLastErrorMessage());
    if (virDomainIsPersistent(dom) == 1 && virDomainUndefineFlags(dom, flags) < 0)
        g_debug("undefine %s: %s", name, virGetLastErrorMessage());
    virResetLastError();
}


static void
tgEnvRemoveDomains(TgEnv *env)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(env->conn, &doms, 0);
    int i;

    if (n < 0) {
        g_warning("cannot list domains: %s", virGetLastErrorMessage());
        return;
    }
    for (i = 0; i < n; i++) {
        tgDomainRemove(doms[i]);
        virDomainFree(doms[i]);
    }
    free(doms);
}


void
tgEnvFree(TgEnv *env)
{
    if (!env)
        return;
    if (env->conn) {
        if (!env->shared_root)
            tgEnvRemoveDomains(env);
        virConnectClose(env->conn);
        if (!env->uri)
            tgCapsCacheSave(env);
    }
    tgEventLoopStop();
    if (env->root && !env->shared_root && g_strcmp0(g_getenv("TG_KEEP"), "1") != 0)
        tgRemoveTree(env->root);
    if (env->reaper_fd >= 0)
        close(env->reaper_fd);
    g_free(env->root);
    g_free(env->guest_dir);
    g_free(env->kernel);
    g_free(env->initrd);
    g_free(env->uri);
    g_free(env->accel);
    g_free(env);
}


virConnectPtr
tgEnvConn(TgEnv *env)
{
    return env->conn;
}


/* A new connection after the old one broke (a daemon restarted); the
 * guests' handles follow with tgGuestReattach(). */
int
tgEnvReconnect(TgEnv *env, GError **err)
{
    g_autofree char *uri = env->uri ? g_strdup(env->uri)
                                    : g_strdup_printf("qemu:///embed?root=%s", env->root);

    /* the event loop runs already: one thread, stopped once by tgEnvFree */
    g_clear_pointer(&env->conn, virConnectClose);
    if (!(env->conn = virConnectOpen(uri))) {
        tgVirError(err, "cannot open '%s' again", uri);
        return -1;
    }
    return 0;
}


const char *
tgEnvRoot(TgEnv *env)
{
    return env->root;
}


const char *
tgEnvGuestDir(TgEnv *env)
{
    return env->guest_dir;
}


const char *
tgEnvDiskCache(TgEnv *env)
{
    return env->disk_cache;
}


const char *
tgEnvAccel(TgEnv *env)
{
    return env->accel;
}


/* ---- live XML ---------------------------------------------------------- */

static const char *
tgXmlAttr(const char **names, const char **values, const char *name)
{
    for (; *names; names++, values++) {
        if (g_str_equal(*names, name))
            return *values;
    }
    return NULL;
}


static void
tgXmlStart(GMarkupParseContext *ctx G_GNUC_UNUSED, const char *elem,
           const char **names, const char **values, gpointer opaque,
           GError **err G_GNUC_UNUSED)
{
    TgXmlInfo *info = opaque;
    const char *val;

    info->depth++;
    if (g_str_equal(elem, "serial") && !info->serial_seen) {
        info->serial_seen = TRUE;
        info->serial_depth = info->depth;
    } else if (g_str_equal(elem, "disk") && !info->disk_seen &&
               g_strcmp0(tgXmlAttr(names, values, "device"), "disk") == 0) {
        info->disk_seen = TRUE;
        info->disk_depth = info->depth;
    } else if (info->serial_depth && info->depth == info->serial_depth + 1) {
        if (g_str_equal(elem, "source") && (val = tgXmlAttr(names, values, "path")))
            info->pty_path = g_strdup(val);
        else if (g_str_equal(elem, "log") && (val = tgXmlAttr(names, values, "file")))
            info->log_file = g_strdup(val);
    } else if (info->disk_depth && info->depth == info->disk_depth + 1 &&
               g_str_equal(elem, "source") && (val = tgXmlAttr(names, values, "file"))) {
        info->disk_file = g_strdup(val);
    }
}


static void
tgXmlEnd(GMarkupParseContext *ctx G_GNUC_UNUSED, const char *elem G_GNUC_UNUSED,
         gpointer opaque, GError **err G_GNUC_UNUSED)
{
    TgXmlInfo *info = opaque;

    if (info->depth == info->serial_depth)
        info->serial_depth = 0;
    if (info->depth == info->disk_depth)
        info->disk_depth = 0;
    info->depth--;
}


static void
tgXmlInfoClear(TgXmlInfo *info)
{
    g_free(info->pty_path);
    g_free(info->log_file);
    g_free(info->disk_file);
    memset(info, 0, sizeof(*info));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TgXmlInfo, tgXmlInfoClear)


/* Serial pty/log and first disk of @dom's live XML. */
static int
tgXmlInfoGet(virDomainPtr dom, TgXmlInfo *info, GError **err)
{
    static const GMarkupParser parser = { tgXmlStart, tgXmlEnd, NULL, NULL, NULL };
    g_autoptr(GMarkupParseContext) ctx = NULL;
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);

    memset(info, 0, sizeof(*info));
    if (!xml) {
        tgVirError(err, "cannot get the XML of %s", name);
        return -1;
    }
    ctx = g_markup_parse_context_new(&parser, 0, info, NULL);
    if (!g_markup_parse_context_parse(ctx, xml, -1, err) ||
        !g_markup_parse_context_end_parse(ctx, err)) {
        g_prefix_error(err, "cannot parse the XML of %s: ", name);
        tgXmlInfoClear(info);
        return -1;
    }
    return 0;
}


/* ---- domain XML -------------------------------------------------------- */

static char *
tgCmdline(const TgGuestOpts *o)
{
    GString *s = g_string_new(NULL);
    g_autofree char *workload = NULL;

    g_string_append_printf(s, "clonetest.mode=%s clonetest.mib=%u",
                           tgModeName(o->mode), o->buffer_mib);
    if (o->disk_records_off)
        g_string_append(s, " clonetest.disk=none");
    else
        g_string_append_printf(s, " clonetest.disk=/dev/vda clonetest.diskhz=%u",
                               o->disk_hz == TG_DISK_HZ_UNLIMITED ? 0 : o->disk_hz);
    if (o->mount9p_tag)
        g_string_append_printf(s, " clonetest.mount9p=%s", o->mount9p_tag);
    if (o->hostname)
        g_string_append_printf(s, " clonetest.hostname=%s", o->hostname);
    if (o->echo)
        g_string_append(s, " clonetest.echo=1");
    if (o->dhcp)
        g_string_append(s, " clonetest.dhcp=1");
    if (o->extra_cmdline)
        g_string_append_printf(s, " %s", o->extra_cmdline);
    workload = g_string_free(s, FALSE);
    return tgGuestCmdline(workload);
}


/* The domain (tests/guest/domainxml.c): QEMU's user-mode network (slirp)
 * by default; a tap on a bridge or network of the test's making when asked
 * (slirp's state migrates, so a clone cannot move such a NIC to another
 * backend). */
static char *
tgBuildXml(TgEnv *env, const TgGuestOpts *o, const char *name,
           const char *disk, const char *log)
{
    g_autofree char *cmdline = tgCmdline(o);
    TgDomainXmlOpts x = {
        .type = env->accel,
        .name = name,
        .memory_mib = o->memory_mib,
        .genid = o->with_genid,
        .kernel = env->kernel,
        .initrd = env->initrd,
        .cmdline = cmdline,
        .disk = disk,
        .disk_cache = env->disk_cache,
        .serial_log = log,
        .nic = TG_DOMAIN_NIC_USER,
        .channel = o->with_agent ? TG_AGENT_NAME : NULL,
        .tpm = o->with_tpm,
        .extra_devices = o->extra_devices_xml,
        .cpu_features = o->cpu_features,
    };

    if (o->nic_network) {
        x.nic = TG_DOMAIN_NIC_NETWORK;
        x.nic_source = o->nic_network;
    } else if (o->nic_bridge) {
        x.nic = TG_DOMAIN_NIC_BRIDGE;
        x.nic_source = o->nic_bridge;
    }
    return tgDomainXml(&x);
}


static void
tgOptsDefaults(const TgGuestOpts *in, TgGuestOpts *o)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (!o->name_prefix)
        o->name_prefix = "tg";
    if (!o->memory_mib)
        o->memory_mib = 512;
    if (!o->buffer_mib)
        o->buffer_mib = 128;
    if (!o->disk_hz)
        o->disk_hz = 20;
    if (!o->boot_timeout_ms)
        o->boot_timeout_ms = TG_DEFAULT_BOOT_TIMEOUT_MS;
}


/* ---- serial log -------------------------------------------------------- */

/* The log is rewritten by every new QEMU process: restart at 0 when the
 * domain ID changes. */
static void
tgSerialSync(TgGuest *g)
{
    int id = (int)virDomainGetID(g->dom);

    if (id > 0 && id != g->serial_dom_id) {
        g->serial_dom_id = id;
        g->serial_off = 0;
    }
}


/* Append what the log holds after @off to @out (nothing if it does not
 * exist yet). */
static int
tgSerialReadFrom(const char *path, goffset off, GString *out, GError **err)
{
    char buf[65536];
    ssize_t n;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT)
            return 0;
        g_set_error(err, TG_ERROR, 0, "cannot open %s: %s", path, g_strerror(errno));
        return -1;
    }
    while ((n = pread(fd, buf, sizeof(buf), off)) > 0 ||
           (n < 0 && errno == EINTR)) {
        if (n > 0) {
            g_string_append_len(out, buf, n);
            off += n;
        }
    }
    if (n < 0)
        g_set_error(err, TG_ERROR, 0, "cannot read %s: %s", path, g_strerror(errno));
    close(fd);
    return n < 0 ? -1 : 0;
}


/* Consume complete lines after the read position until one matches.  The
 * log is bytes, not text: it may hold NULs and escape sequences. */
static gboolean
tgSerialScan(TgGuest *g, GRegex *re, const GString *data, char **line_out)
{
    const char *p = data->str;
    const char *end = data->str + data->len;
    const char *nl;

    while ((nl = memchr(p, '\n', end - p))) {
        g_autofree char *line = g_strndup(p, nl - p);

        g->serial_off += nl + 1 - p;
        p = nl + 1;
        g_strchomp(g_strdelimit(line, "\r", ' '));
        if (g_regex_match(re, line, 0, NULL)) {
            if (line_out)
                *line_out = g_steal_pointer(&line);
            return TRUE;
        }
    }
    return FALSE;
}


/* Last few lines of the log, for error messages. */
static char *
tgSerialTail(TgGuest *g, guint nlines)
{
    g_autoptr(GString) data = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    guint n;

    if (tgSerialReadFrom(g->serial_log, 0, data, NULL) < 0)
        return g_strdup("");
    lines = g_strsplit(g_strstrip(data->str), "\n", -1);
    n = g_strv_length(lines);
    return g_strjoinv("\n  | ", lines + (n > nlines ? n - nlines : 0));
}


static int
tgSerialWaitFailed(TgGuest *g, const char *regex, const char *why, GError **err)
{
    g_autofree char *tail = tgSerialTail(g, 8);

    g_set_error(err, TG_ERROR, 0, "%s: %s while waiting for /%s/; serial log %s ends:\n  | %s",
                g->name, why, regex, g->serial_log, tail);
    return -1;
}


int
tgSerialWait(TgGuest *g, const char *regex, guint timeout_ms,
             char **line_out, GError **err)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_autoptr(GRegex) re = g_regex_new(regex, G_REGEX_RAW, 0, err);

    if (!re)
        return -1;
    for (;;) {
        g_autoptr(GString) data = g_string_new(NULL);
        gboolean active;

        tgSerialSync(g);
        active = virDomainIsActive(g->dom) == 1;
        if (tgSerialReadFrom(g->serial_log, g->serial_off, data, err) < 0)
            return -1;
        if (tgSerialScan(g, re, data, line_out))
            return 0;
        if (!active)
            return tgSerialWaitFailed(g, regex, "domain is not running", err);
        if (g_get_monotonic_time() >= deadline)
            return tgSerialWaitFailed(g, regex, "timed out", err);
        g_usleep(TG_POLL_MS * 1000);
    }
}


static const char *
tgLineValue(const char *line, const char *key)
{
    size_t klen = strlen(key);
    const char *p = line;

    while ((p = strstr(p, key))) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=')
            return p + klen + 1;
        p += klen;
    }
    return NULL;
}


static gboolean
tgLineU64(const char *line, const char *key, guint base, guint64 *val)
{
    const char *v = tgLineValue(line, key);
    char *end = NULL;

    if (!v || !g_ascii_isxdigit(*v))
        return FALSE;
    *val = g_ascii_strtoull(v, &end, base);
    return *end == '\0' || *end == ' ';
}


/* Copy the value of @key (up to the next blank) to @buf; FALSE if there
 * is none or it does not fit. */
static gboolean
tgLineWord(const char *line, const char *key, char *buf, size_t size)
{
    const char *v = tgLineValue(line, key);
    size_t len;

    if (!v)
        return FALSE;
    len = strcspn(v, " ");
    if (len == 0 || len >= size)
        return FALSE;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return TRUE;
}


static TgMode
tgLineMode(const char *line)
{
    const char *v = tgLineValue(line, "mode");

    return v && g_str_has_prefix(v, "idle") ? TG_MODE_IDLE : TG_MODE_BUSY;
}


int
tgParseStat(const char *line, TgStat *st)
{
    const char *disk;

    memset(st, 0, sizeof(*st));
    if (!g_str_has_prefix(line, "CLONETEST stat ") ||
        !tgLineU64(line, "t", 10, &st->t_ms) ||
        !tgLineU64(line, "passes", 10, &st->passes) ||
        !tgLineU64(line, "pages_per_s", 10, &st->pages_per_s) ||
        !tgLineU64(line, "records", 10, &st->records))
        return -1;
    st->mode = tgLineMode(line);
    disk = tgLineValue(line, "disk");
    st->disk_on = disk && g_str_has_prefix(disk, "on");
    return 0;
}


int
tgParseReady(const char *line, TgReady *ready)
{
    memset(ready, 0, sizeof(*ready));
    if (!g_str_has_prefix(line, "CLONETEST ready ") ||
        !tgLineU64(line, "nonce", 16, &ready->nonce) ||
        !tgLineU64(line, "records_found", 10, &ready->records_found) ||
        !tgLineU64(line, "pages", 10, &ready->pages))
        return -1;
    ready->mode = tgLineMode(line);
    tgLineU64(line, "disk_id", 16, &ready->disk_id);
    tgLineU64(line, "boot", 10, &ready->boot);
    tgLineU64(line, "t", 10, &ready->t_ms);
    return 0;
}


int
tgParseIdentity(const char *line, TgIdentity *id)
{
    memset(id, 0, sizeof(*id));
    if (!g_str_has_prefix(line, "CLONETEST identity ") ||
        !tgLineWord(line, "hostname", id->hostname, sizeof(id->hostname)) ||
        !tgLineWord(line, "machine_id", id->machine_id, sizeof(id->machine_id)) ||
        !tgLineWord(line, "boot_id", id->boot_id, sizeof(id->boot_id)) ||
        !tgLineWord(line, "mac", id->mac, sizeof(id->mac)) ||
        !tgLineWord(line, "ipv4", id->ipv4, sizeof(id->ipv4)) ||
        !tgLineWord(line, "genid", id->genid, sizeof(id->genid)))
        return -1;
    return 0;
}


int
tgSerialWaitStat(TgGuest *g, guint timeout_ms, TgStat *st, GError **err)
{
    g_autofree char *line = NULL;

    if (tgSerialWait(g, "^CLONETEST stat ", timeout_ms, &line, err) < 0)
        return -1;
    if (tgParseStat(line, st) < 0) {
        g_set_error(err, TG_ERROR, 0, "%s: malformed stat line '%s'", g->name, line);
        return -1;
    }
    return 0;
}


int
tgLastStat(TgGuest *g, TgStat *st, GError **err)
{
    g_autoptr(GString) data = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    char *end;
    guint i;

    if (tgSerialReadFrom(g->serial_log, 0, data, err) < 0)
        return -1;
    /* complete lines only: a stat line being written may be cut short */
    if ((end = strrchr(data->str, '\n')))
        g_string_truncate(data, end - data->str);
    else
        g_string_truncate(data, 0);
    lines = g_strsplit(data->str, "\n", -1);
    for (i = g_strv_length(lines); i > 0; i--) {
        if (tgParseStat(g_strstrip(lines[i - 1]), st) == 0)
            return 0;
    }
    g_set_error(err, TG_ERROR, 0, "%s: no stat line in %s", g->name, g->serial_log);
    return -1;
}


/* ---- serial pty -------------------------------------------------------- */

/* Guest output also goes to the pty once we hold it open: keep reading it,
 * or QEMU would stall the guest's UART when the pty buffer fills. */
static gpointer
tgPtyDrain(gpointer opaque)
{
    TgGuest *g = opaque;
    char buf[4096];

    while (!g_atomic_int_get(&g->drain_quit)) {
        struct pollfd pfd = { g->pty_fd, POLLIN, 0 };
        int rc = poll(&pfd, 1, 100);
        ssize_t n;

        if (rc == 0 || (rc < 0 && errno == EINTR))
            continue;
        if (rc < 0 || !(pfd.revents & POLLIN))
            break;              /* POLLHUP: QEMU went away */
        n = read(g->pty_fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break;
    }
    g_atomic_int_set(&g->pty_dead, 1);
    return NULL;
}


static void
tgPtyClose(TgGuest *g)
{
    if (g->drain_thread) {
        g_atomic_int_set(&g->drain_quit, 1);
        g_thread_join(g_steal_pointer(&g->drain_thread));
    }
    if (g->pty_fd >= 0)
        close(g->pty_fd);
    g->pty_fd = -1;
    g_clear_pointer(&g->pty_path, g_free);
}


static int
tgPtyOpen(TgGuest *g, const char *path, GError **err)
{
    struct termios t;
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        g_set_error(err, TG_ERROR, 0, "cannot open %s: %s", path, g_strerror(errno));
        return -1;
    }
    if (tcgetattr(fd, &t) < 0 || (cfmakeraw(&t), tcsetattr(fd, TCSANOW, &t)) < 0) {
        g_set_error(err, TG_ERROR, 0, "cannot make %s raw: %s", path, g_strerror(errno));
        close(fd);
        return -1;
    }
    g->pty_fd = fd;
    g->pty_path = g_strdup(path);
    g_atomic_int_set(&g->drain_quit, 0);
    g_atomic_int_set(&g->pty_dead, 0);
    g->drain_thread = g_thread_new("tg-pty-drain", tgPtyDrain, g);
    return 0;
}


/* (Re)open the pty the domain currently has. */
static int
tgPtyEnsure(TgGuest *g, GError **err)
{
    g_auto(TgXmlInfo) info = { 0 };

    if (tgXmlInfoGet(g->dom, &info, err) < 0)
        return -1;
    if (!info.pty_path) {
        g_set_error(err, TG_ERROR, 0, "%s has no serial pty (is it running?)", g->name);
        return -1;
    }
    if (g->pty_fd >= 0 && !g_atomic_int_get(&g->pty_dead) &&
        g_str_equal(g->pty_path, info.pty_path))
        return 0;
    tgPtyClose(g);
    return tgPtyOpen(g, info.pty_path, err);
}


static int
tgWriteAll(int fd, const char *buf, size_t len, GError **err)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
            g_get_monotonic_time() < deadline) {
            g_usleep(10 * 1000);
            continue;
        }
        if (n < 0) {
            g_set_error(err, TG_ERROR, 0, "cannot write to the serial pty: %s",
                        g_strerror(errno));
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}


int
tgSerialSend(TgGuest *g, const char *line, GError **err)
{
    g_autofree char *data = g_strdup_printf("%s\n", line);

    if (tgPtyEnsure(g, err) < 0)
        return -1;
    return tgWriteAll(g->pty_fd, data, strlen(data), err);
}


int
tgSerialCommand(TgGuest *g, const char *cmd, guint timeout_ms, GError **err)
{
    g_autofree char *esc = g_regex_escape_string(cmd, -1);
    g_autofree char *regex = g_strdup_printf("^CLONETEST (ack|nak) %s($| )", esc);
    g_autofree char *line = NULL;

    if (tgSerialSend(g, cmd, err) < 0 ||
        tgSerialWait(g, regex, timeout_ms, &line, err) < 0)
        return -1;
    if (g_str_has_prefix(line, "CLONETEST nak")) {
        g_set_error(err, TG_ERROR, 0, "%s refused '%s': %s", g->name, cmd, line);
        return -1;
    }
    return 0;
}


void
tgPaceSpeedUpCb(virDomainPtr source G_GNUC_UNUSED, int phase, unsigned int percent G_GNUC_UNUSED,
                void *opaque)
{
    TgPace *p = opaque;
    g_autoptr(GError) err = NULL;

    if (p->sped || phase != VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM)
        return;
    p->sped = TRUE;
    if (tgSerialCommand(p->src, "rate 0", 10000, &err) < 0 ||
        tgSerialCommand(p->src, "busy", 10000, &err) < 0)
        g_error("speeding the source up: %s", err->message);
}


/* ---- guest queries ----------------------------------------------------- */

/* Send @cmd, wait for its ack, then for the line matching @regex. */
static int
tgGuestQuery(TgGuest *g, const char *cmd, const char *regex, char **line,
             GError **err)
{
    if (tgSerialCommand(g, cmd, TG_QUERY_TIMEOUT_MS, err) < 0 ||
        tgSerialWait(g, regex, TG_QUERY_TIMEOUT_MS, line, err) < 0)
        return -1;
    return 0;
}


int
tgGuestIdentity(TgGuest *g, TgIdentity *id, GError **err)
{
    g_autofree char *line = NULL;

    if (tgGuestQuery(g, "identity", "^CLONETEST identity ", &line, err) < 0)
        return -1;
    if (tgParseIdentity(line, id) < 0) {
        g_set_error(err, TG_ERROR, 0, "%s: malformed identity line '%s'", g->name, line);
        return -1;
    }
    return 0;
}


static gboolean
tgIsHex(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!g_ascii_isxdigit(s[i]))
            return FALSE;
    }
    return s[len] == '\0';
}


int
tgGuestTpmPcrs(TgGuest *g, char ***pcrs_out, GError **err)
{
    g_autofree char *line = NULL;
    g_auto(GStrv) words = NULL;
    g_autoptr(GPtrArray) pcrs = g_ptr_array_new_with_free_func(g_free);
    guint i;

    if (tgGuestQuery(g, "tpm pcrs", "^CLONETEST tpm (pcrs|none)", &line, err) < 0)
        return -1;
    if (g_str_equal(line, "CLONETEST tpm none")) {
        g_set_error(err, TG_ERROR, 0, "%s has no TPM", g->name);
        return -1;
    }
    words = g_strsplit(line + strlen("CLONETEST tpm pcrs "), " ", -1);
    for (i = 0; words[i] && i < TG_TPM_PCRS; i++) {
        g_autofree char *key = g_strdup_printf("%u=", i);

        if (!g_str_has_prefix(words[i], key) || !tgIsHex(words[i] + strlen(key), 64))
            break;
        g_ptr_array_add(pcrs, g_ascii_strdown(words[i] + strlen(key), -1));
    }
    if (pcrs->len != TG_TPM_PCRS || words[i]) {
        g_set_error(err, TG_ERROR, 0, "%s: malformed PCR line '%s'", g->name, line);
        return -1;
    }
    g_ptr_array_add(pcrs, NULL);
    *pcrs_out = (char **)g_ptr_array_free(g_steal_pointer(&pcrs), FALSE);
    return 0;
}


int
tgGuestKmsgFind(TgGuest *g, const char *substr, gboolean *found, char **line,
                GError **err)
{
    g_autofree char *cmd = g_strdup_printf("kmsg %s", substr);
    g_autofree char *reply = NULL;
    const char *msg;

    if (strpbrk(substr, "\r\n") || !*substr) {
        g_set_error(err, TG_ERROR, 0, "kmsg: '%s' is empty or spans lines", substr);
        return -1;
    }
    if (tgGuestQuery(g, cmd, "^CLONETEST kmsg found=[01] line=", &reply, err) < 0)
        return -1;
    *found = g_str_has_prefix(reply, "CLONETEST kmsg found=1 ");
    msg = strstr(reply, " line=") + strlen(" line=");
    if (line)
        *line = *found ? g_strdup(msg) : NULL;
    return 0;
}


int
tgGuestMemPattern(TgGuest *g, guint64 *seed, guint64 *kstart, guint64 *kend,
                  GArray **gpas, GError **err)
{
    g_autofree char *line = NULL;
    g_autoptr(GRegex) re = g_regex_new("^CLONETEST mempattern seed=([0-9a-f]+) "
                                       "kernel=([0-9a-f]+)-([0-9a-f]+) gpas=([0-9a-f,]+)$",
                                       0, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;
    g_auto(GStrv) list = NULL;
    g_autofree char *s = NULL;
    g_autofree char *ks = NULL;
    g_autofree char *ke = NULL;
    g_autofree char *l = NULL;
    GArray *a;

    if (tgGuestQuery(g, "mempattern", "^CLONETEST mempattern ", &line, err) < 0)
        return -1;
    if (!g_regex_match(re, line, 0, &mi)) {
        g_set_error(err, TG_ERROR, 0, "%s: malformed mempattern line '%s'", g->name, line);
        return -1;
    }
    s = g_match_info_fetch(mi, 1);
    ks = g_match_info_fetch(mi, 2);
    ke = g_match_info_fetch(mi, 3);
    l = g_match_info_fetch(mi, 4);
    *seed = g_ascii_strtoull(s, NULL, 16);
    *kstart = g_ascii_strtoull(ks, NULL, 16);
    *kend = g_ascii_strtoull(ke, NULL, 16);
    list = g_strsplit(l, ",", -1);
    a = g_array_new(FALSE, FALSE, sizeof(guint64));
    for (guint i = 0; list[i]; i++) {
        guint64 v = g_ascii_strtoull(list[i], NULL, 16);

        g_array_append_val(a, v);
    }
    *gpas = a;
    return 0;
}


/* ---- guest agent ------------------------------------------------------- */

int
tgGuestAgentCommand(TgGuest *g, const char *json, guint timeout_ms,
                    char **reply, GError **err)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        char *out = virDomainQemuAgentCommand(g->dom, json,
                                              VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT, 0);
        virErrorPtr e;

        if (out) {
            if (reply)
                *reply = g_strdup(out);
            free(out);
            return 0;
        }
        /* "not connected" (qemu-ga has not opened its port yet) or "not
         * responding": retry; anything else is the command's answer */
        e = virGetLastError();
        if (!e || e->code != VIR_ERR_AGENT_UNRESPONSIVE ||
            g_get_monotonic_time() >= deadline) {
            tgVirError(err, "%s: guest agent command %s failed", g->name, json);
            return -1;
        }
        g_usleep(TG_AGENT_RETRY_MS * 1000);
    }
}


/* ---- guests ------------------------------------------------------------ */

static TgGuest *
tgGuestNew(TgEnv *env, virDomainPtr dom, const char *name)
{
    TgGuest *g = g_new0(TgGuest, 1);

    g->env = env;
    g->dom = dom;
    g->name = g_strdup(name);
    g->pty_fd = -1;
    return g;
}


static int
tgGuestWaitReady(TgGuest *g, guint timeout_ms, GError **err)
{
    g_autofree char *line = NULL;

    g->have_ready = FALSE;
    if (tgSerialWait(g, "^CLONETEST (ready|fatal) ", timeout_ms, &line, err) < 0)
        return -1;
    if (tgParseReady(line, &g->ready) < 0) {
        g_set_error(err, TG_ERROR, 0, "%s did not start: %s", g->name, line);
        return -1;
    }
    g->have_ready = TRUE;
    return 0;
}


int
tgGuestBoot(TgGuest *g, guint timeout_ms, GError **err)
{
    if (virDomainCreate(g->dom) < 0) {
        tgVirError(err, "cannot start %s", g->name);
        return -1;
    }
    return tgGuestWaitReady(g, timeout_ms ? timeout_ms : TG_DEFAULT_BOOT_TIMEOUT_MS, err);
}


virDomainPtr
tgDomainCreate(TgEnv *env, const char *xml, gboolean transient, const char *name,
               GError **err)
{
    virDomainPtr dom;

    if (transient)
        dom = virDomainCreateXML(env->conn, xml, 0);
    else
        dom = virDomainDefineXML(env->conn, xml);
    if (!dom) {
        tgVirError(err, "cannot %s %s", transient ? "create" : "define", name);
        return NULL;
    }
    if (!transient && virDomainCreate(dom) < 0) {
        tgVirError(err, "cannot start %s", name);
        tgDomainRemove(dom);
        virDomainFree(dom);
        return NULL;
    }
    return dom;
}


static int
tgDiskCreate(const char *path, GError **err)
{
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2",
                           path, TG_DISK_SIZE, NULL };

    return tgRun(argv, err);
}


TgGuest *
tgGuestStart(TgEnv *env, const TgGuestOpts *opts, GError **err)
{
    g_autoptr(TgGuest) g = NULL;
    g_autofree char *name = NULL;
    g_autofree char *xml = NULL;
    TgGuestOpts o;

    tgOptsDefaults(opts, &o);
    name = g_strdup_printf("%s-%d-%d", o.name_prefix, (int)getpid(),
                           g_atomic_int_add(&env->counter, 1) + 1);
    g = tgGuestNew(env, NULL, name);
    g->owned = TRUE;
    g->disk_path = g_strdup_printf("%s/%s.qcow2", env->root, name);
    g->serial_log = g_strdup_printf("%s/%s-serial.log", env->root, name);

    if (tgDiskCreate(g->disk_path, err) < 0)
        return NULL;
    xml = tgBuildXml(env, &o, name, g->disk_path, g->serial_log);
    if (!(g->dom = tgDomainCreate(env, xml, o.transient, name, err)) ||
        tgGuestWaitReady(g, o.boot_timeout_ms, err) < 0)
        return NULL;
    return g_steal_pointer(&g);
}


TgGuest *
tgGuestAdopt(TgEnv *env, virDomainPtr dom, GError **err)
{
    g_autoptr(TgGuest) g = tgGuestNew(env, NULL, virDomainGetName(dom));
    g_auto(TgXmlInfo) info = { 0 };

    if (tgXmlInfoGet(dom, &info, err) < 0)
        return NULL;
    if (!info.log_file) {
        g_set_error(err, TG_ERROR, 0, "%s has no serial <log file=...>", g->name);
        return NULL;
    }
    if (virDomainRef(dom) < 0) {
        tgVirError(err, "cannot reference %s", g->name);
        return NULL;
    }
    g->dom = dom;
    g->serial_log = g_steal_pointer(&info.log_file);
    g->disk_path = g_steal_pointer(&info.disk_file);
    tgSerialSync(g);
    return g_steal_pointer(&g);
}


void
tgGuestFree(TgGuest *g)
{
    if (!g)
        return;
    tgPtyClose(g);
    if (g->dom) {
        if (!g->env->shared_root)
            tgDomainRemove(g->dom);
        virDomainFree(g->dom);
    }
    if (g->owned && !g->env->shared_root) {
        if (g->disk_path)
            unlink(g->disk_path);
        if (g->serial_log)
            unlink(g->serial_log);
    }
    g_free(g->name);
    g_free(g->disk_path);
    g_free(g->serial_log);
    g_free(g);
}


int
tgGuestReattach(TgGuest *g, GError **err)
{
    g_clear_pointer(&g->dom, virDomainFree);
    if (!(g->dom = virDomainLookupByName(g->env->conn, g->name))) {
        tgVirError(err, "cannot find %s again", g->name);
        return -1;
    }
    return 0;
}


virDomainPtr
tgGuestDomain(TgGuest *g)
{
    return g->dom;
}


const char *
tgGuestName(TgGuest *g)
{
    return g->name;
}


const char *
tgGuestDiskPath(TgGuest *g)
{
    return g->disk_path;
}


const char *
tgGuestSerialLog(TgGuest *g)
{
    return g->serial_log;
}


const char *
tgGuestEnvRoot(TgGuest *g)
{
    return g->env->root;
}


const TgReady *
tgGuestReady(TgGuest *g)
{
    return g->have_ready ? &g->ready : NULL;
}


/* The QEMU process of domain @name (its -name guest=NAME), or 0. */
pid_t
tgFindQemu(const char *name)
{
    g_autofree char *needle = g_strdup_printf("guest=%s,", name);
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *ent;

    while ((ent = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", ent);
        g_autofree char *cmd = NULL;
        gsize len = 0;

        if (!g_ascii_isdigit(ent[0]) || !g_file_get_contents(path, &cmd, &len, NULL))
            continue;
        for (gsize i = 0; i + 1 < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        if (strstr(cmd, needle))
            return (pid_t)atoi(ent);
    }
    return 0;
}


/* ---- state capture ----------------------------------------------------- */

static char *
tgJsonString(const char *s)
{
    GString *out = g_string_new("\"");

    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            g_string_append_printf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            g_string_append_printf(out, "\\u%04x", (unsigned char)*s);
        else
            g_string_append_c(out, *s);
    }
    g_string_append_c(out, '"');
    return g_string_free(out, FALSE);
}


int
tgDumpRam(virDomainPtr dom, const char *path, guint64 bytes, GError **err)
{
    g_autofree char *jpath = tgJsonString(path);
    g_autofree char *cmd = NULL;
    g_autofree char *reply = NULL;
    const char *name = virDomainGetName(dom);
    virDomainInfo info;

    if (bytes == 0) {
        if (virDomainGetInfo(dom, &info) < 0) {
            tgVirError(err, "cannot get the memory size of %s", name);
            return -1;
        }
        bytes = (guint64)info.memory * 1024;
    }
    if (bytes >= TG_Q35_LOWMEM_LIMIT) {
        g_set_error(err, TG_ERROR, 0, "cannot dump %" G_GUINT64_FORMAT " bytes of %s: "
                    "q35 splits RAM around the PCI hole from 2816 MiB on", bytes, name);
        return -1;
    }
    cmd = g_strdup_printf("{\"execute\":\"pmemsave\",\"arguments\":{\"val\":0,"
                          "\"size\":%" G_GUINT64_FORMAT ",\"filename\":%s}}", bytes, jpath);
    if (virDomainQemuMonitorCommand(dom, cmd, &reply, 0) < 0) {
        tgVirError(err, "pmemsave on %s failed", name);
        return -1;
    }
    if (!strstr(reply, "\"return\"")) {
        g_set_error(err, TG_ERROR, 0, "pmemsave on %s failed: %s", name, reply);
        return -1;
    }
    return 0;
}


int
tgDiskToRaw(const char *qcow2_top, const char *raw_out, GError **err)
{
    const char *argv[] = { "qemu-img", "convert", "-U", "-O", "raw",
                           qcow2_top, raw_out, NULL };

    return tgRun(argv, err);
}


/* ---- test programs --------------------------------------------------------- */

TgGuest *
tgGuestStartOrDie(TgEnv *env, const TgGuestOpts *opts)
{
    g_autoptr(GError) err = NULL;
    TgGuest *g = tgGuestStart(env, opts, &err);

    if (!g)
        g_error("cannot start the test guest: %s", err->message);
    return g;
}


char *
tgDomainXMLMatch(virDomainPtr dom, const char *regex)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GRegex) re = g_regex_new(regex, 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;

    g_assert_nonnull(xml);
    g_assert_nonnull(re);
    if (!g_regex_match(re, xml, 0, &m))
        return NULL;
    return g_match_info_fetch(m, 1);
}


void
tgQuietErrors(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


void
tgLibLogToTest(int priority, const char *message, void *opaque G_GNUC_UNUSED)
{
    if (priority >= VIR_CLONE_LOG_INFO)
        g_test_message("libvirt-clone: %s", message);
}


/* ---- leftovers ------------------------------------------------------------ */

GHashTable *
tgListDir(const char *dir)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d)))
        g_hash_table_add(set, g_strdup(name));
    return set;
}


guint
tgNewEntries(const char *dir, GHashTable *before)
{
    g_autoptr(GHashTable) after = tgListDir(dir);
    GHashTableIter it;
    gpointer name;
    guint extra = 0;

    g_hash_table_iter_init(&it, after);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        if (!g_hash_table_contains(before, name)) {
            g_test_message("left behind: %s/%s", dir, (char *)name);
            extra++;
        }
    }
    return extra;
}


guint
tgNumDomains(TgEnv *env)
{
    return (guint)virConnectNumOfDomains(tgEnvConn(env)) +
           (guint)virConnectNumOfDefinedDomains(tgEnvConn(env));
}


int
tgDaemonRestart(GError **err)
{
    const char *ctl = g_getenv("LVC_DAEMON_CTL");
    const char *argv[] = { ctl, "restart", NULL };
    int status;

    if (!ctl) {
        g_set_error(err, TG_ERROR, 0, "LVC_DAEMON_CTL is not set: no libvirtd of ours to restart");
        return -1;
    }
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                      &status, err) ||
        !g_spawn_check_wait_status(status, err))
        return -1;
    return 0;
}
