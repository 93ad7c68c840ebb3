/*
 * vcl-sandbox.c: "virt-clone-live sandbox-watch": escape alerts of a clone
 *
 * Prints what a clone sends, one line per event or JSON lines, appends the
 * JSON lines to a log file, and runs a command per event with the JSON on
 * its standard input.  With --device the clone's tap devices are given and
 * libvirt is not asked (the qemu hook, or a clone of an embedded driver
 * that another process owns).  With --daemon it detaches once the watch
 * has started: that is how a policy's <alert> runs it.  With --integrity,
 * and as "virt-clone-live integrity-watch", it reports the kernel
 * integrity watch's events (virDomainCloneIntegrityWatch) the same ways.
 *
 * The library calls back in its own thread; the events travel to the main
 * loop through a queue, so that output, the log and the alert commands are
 * handled in one thread and a slow command never holds the watch up.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "vcl-eventloop.h"
#include "vcl-sandbox.h"

#define VCL_EXEC_RUNNING_MAX 8   /* alert commands running at once */
#define VCL_EXEC_WAITING_MAX 1024 /* then events skip the alert command */

/* An event, formatted in the watch's thread. */
typedef struct {
    int type;
    char *json;
    char *line;
} vclSandboxEvent;

typedef struct {
    /* options */
    int count;                /* exit after this many events; 0: never */
    int timeout;              /* exit after this many seconds; 0: never */
    char *logPath;
    char *command;
    char **devices;
    char *pidfile;
    gboolean daemon;
    gboolean integrity;       /* watch the kernel's integrity too */
    gboolean noNetwork;       /* integrity-watch: the kernel only */
    int intervalMs;
    char *action;
    gboolean force;
    /* state */
    gboolean json;
    char **execArgv;
    FILE *log;
    int pidfd;
    int readyfd;              /* daemon: tells the waiting parent it runs */
    int actionValue;          /* virDomainCloneIntegrityAction */
    gboolean detached;        /* daemon, running: messages go to syslog */
    GMainLoop *loop;
    GAsyncQueue *queue;       /* of vclSandboxEvent, from the watch's thread */
    int wakefd;               /* eventfd: the queue has events */
    int seen;
    gboolean quitting;        /* quit once the alert commands are done */
    guint running;            /* alert commands running */
    GQueue waiting;           /* of char *: JSON for the alert command */
    guint skipped;
    guint timeoutSource;
} vclSandbox;


static void vclSandboxWarn(vclSandbox *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
vclSandboxWarn(vclSandbox *s, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (s->detached)
        syslog(LOG_WARNING, "%s", msg);
    else
        fprintf(stderr, _("warning: %s\n"), msg);
}


/* The library's messages, once the daemon has no terminal. */
static void
vclSandboxSyslog(int priority, const char *message, void *opaque G_GNUC_UNUSED)
{
    if (priority == VIR_CLONE_LOG_WARN)
        syslog(LOG_WARNING, "%s", message);
    else if (priority == VIR_CLONE_LOG_ERROR)
        syslog(LOG_ERR, "%s", message);
}


static void
vclSandboxEventFree(vclSandboxEvent *e)
{
    g_free(e->json);
    g_free(e->line);
    g_free(e);
}


/* ---- formatting (in the watch's thread) --------------------------------- */

static char *
vclSandboxTime(long long ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];

    gmtime_r(&secs, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    return g_strdup_printf("%s.%03dZ", buf, (int)(ms % 1000));
}


static void
vclJsonString(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}


static void
vclJsonHex(JsonBuilder *b, const char *name, unsigned long long value)
{
    g_autofree char *hex = g_strdup_printf("0x%llx", value);

    vclJsonString(b, name, hex);
}


/* The fields of an integrity event; addresses and values as hex strings
 * (JSON numbers lose precision above 2^53). */
static void
vclSandboxIntegrityJSON(JsonBuilder *b, const virDomainCloneSandboxEvent *ev)
{
    vclJsonString(b, "integrity", ev->integrity);
    vclJsonHex(b, "address", ev->address);
    vclJsonHex(b, "old", ev->oldValue);
    vclJsonHex(b, "new", ev->newValue);
    json_builder_set_member_name(b, "cpu");
    if (ev->cpu >= 0)
        json_builder_add_int_value(b, ev->cpu);
    else
        json_builder_add_null_value(b);
    vclJsonString(b, "action", ev->action);
}


static char *
vclSandboxJSON(const virDomainCloneSandboxEvent *ev)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *when = vclSandboxTime(ev->timeMs);

    json_builder_begin_object(b);
    vclJsonString(b, "type", virDomainCloneSandboxEventTypeToString(ev->type));
    vclJsonString(b, "time", when);
    json_builder_set_member_name(b, "time_ms");
    json_builder_add_int_value(b, ev->timeMs);
    vclJsonString(b, "clone", ev->clone);
    vclJsonString(b, "device", ev->device);
    vclJsonString(b, "protocol", ev->protocol);
    vclJsonString(b, "kind", ev->kind);
    vclJsonString(b, "dst_mac", ev->dstMac);
    vclJsonString(b, "dst_addr", ev->dstAddr);
    json_builder_set_member_name(b, "dst_port");
    if (ev->dstPort >= 0)
        json_builder_add_int_value(b, ev->dstPort);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "count");
    json_builder_add_int_value(b, ev->count);
    if (ev->type == VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY)
        vclSandboxIntegrityJSON(b, ev);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}


/* "2026-11-22T03:40:01.123Z web-clone1 tcp syn 10.0.0.1:443 (52:54:00:..) x3" */
static char *
vclSandboxTrafficLine(const char *when, const virDomainCloneSandboxEvent *ev)
{
    GString *line = g_string_new(NULL);

    g_string_append_printf(line, "%s %s %s", when, ev->clone, ev->protocol);
    if (ev->kind)
        g_string_append_printf(line, " %s", ev->kind);
    if (ev->dstAddr && ev->dstPort >= 0 && strchr(ev->dstAddr, ':'))
        g_string_append_printf(line, " [%s]:%d", ev->dstAddr, ev->dstPort);
    else if (ev->dstAddr && ev->dstPort >= 0)
        g_string_append_printf(line, " %s:%d", ev->dstAddr, ev->dstPort);
    else if (ev->dstAddr)
        g_string_append_printf(line, " %s", ev->dstAddr);
    if (ev->dstMac)
        g_string_append_printf(line, " (%s)", ev->dstMac);
    g_string_append_printf(line, " x%u", ev->count);
    return g_string_free(line, FALSE);
}


/* "2026-11-22T03:40:01.123Z web-clone1 integrity idt-gate cpu 0
 * 0xfffffe0000000800: 0xffffffff81a00b10 -> 0xffffffffc0401000 (paused)" */
static char *
vclSandboxIntegrityLine(const char *when, const virDomainCloneSandboxEvent *ev)
{
    GString *line = g_string_new(NULL);

    g_string_append_printf(line, "%s %s integrity %s", when, ev->clone, ev->integrity);
    if (ev->cpu >= 0)
        g_string_append_printf(line, " cpu %d", ev->cpu);
    if (ev->address)
        g_string_append_printf(line, " 0x%llx", ev->address);
    g_string_append_printf(line, ": 0x%llx -> 0x%llx (%s)", ev->oldValue, ev->newValue, ev->action);
    return g_string_free(line, FALSE);
}


static char *
vclSandboxLine(const virDomainCloneSandboxEvent *ev)
{
    g_autofree char *when = vclSandboxTime(ev->timeMs);

    switch ((virDomainCloneSandboxEventType)ev->type) {
    case VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC:
        return vclSandboxTrafficLine(when, ev);
    case VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST:
        return g_strdup_printf(g_dngettext(GETTEXT_PACKAGE,
                                           "%1$s %2$s lost: %3$u frame on %4$s was dropped before it could be observed",
                                           "%1$s %2$s lost: %3$u frames on %4$s were dropped before they could be observed",
                                           ev->count),
                               when, ev->clone, ev->count, ev->device);
    case VIR_DOMAIN_CLONE_SANDBOX_EVENT_END:
        if (!ev->device && ev->cpu == -1)
            return g_strdup_printf(_("%1$s %2$s end: the clone is no longer running"),
                                   when, ev->clone);
        return g_strdup_printf(_("%1$s %2$s end: the clone's network devices are gone"),
                               when, ev->clone);
    case VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY:
        return vclSandboxIntegrityLine(when, ev);
    }
    return g_strdup_printf("%s %s %d", when, ev->clone, ev->type);
}


static void
vclSandboxEventCb(virDomainPtr dom G_GNUC_UNUSED,
                  const virDomainCloneSandboxEvent *ev,
                  void *opaque)
{
    vclSandbox *s = opaque;
    vclSandboxEvent *e = g_new0(vclSandboxEvent, 1);
    guint64 one = 1;

    e->type = ev->type;
    e->json = vclSandboxJSON(ev);
    e->line = vclSandboxLine(ev);
    g_async_queue_push(s->queue, e);
    if (write(s->wakefd, &one, sizeof(one)) < 0) {
        /* an eventfd counter does not overflow here: the main loop reads it */
    }
}


/* ---- alert command ------------------------------------------------------ */

static void
vclSandboxMaybeQuit(vclSandbox *s)
{
    if (s->quitting && s->running == 0 && g_queue_is_empty(&s->waiting))
        g_main_loop_quit(s->loop);
}


/* Quits once the alert commands under way are done. */
static void
vclSandboxQuit(vclSandbox *s)
{
    s->quitting = TRUE;
    vclSandboxMaybeQuit(s);
}


/* In the child: this process ignores SIGPIPE; the command must not. */
static void
vclSandboxChildSetup(gpointer data G_GNUC_UNUSED)
{
    signal(SIGPIPE, SIG_DFL);
}


static void vclSandboxExecStart(vclSandbox *s, const char *json);

static void
vclSandboxExecDone(GPid pid, gint status, gpointer opaque)
{
    vclSandbox *s = opaque;
    g_autoptr(GError) gerr = NULL;
    g_autofree char *next = NULL;

    g_spawn_close_pid(pid);
    s->running--;
    if (!g_spawn_check_wait_status(status, &gerr))
        vclSandboxWarn(s, _("the alert command '%1$s' failed: %2$s"), s->command, gerr->message);
    if ((next = g_queue_pop_head(&s->waiting)))
        vclSandboxExecStart(s, next);
    vclSandboxMaybeQuit(s);
}


static void
vclSandboxExecStart(vclSandbox *s, const char *json)
{
    g_autoptr(GError) gerr = NULL;
    g_autofree char *data = g_strconcat(json, "\n", NULL);
    GPid pid;
    int in;

    if (!g_spawn_async_with_pipes(NULL, s->execArgv, NULL,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                  vclSandboxChildSetup, NULL, &pid, &in, NULL, NULL, &gerr)) {
        vclSandboxWarn(s, _("cannot run the alert command '%1$s': %2$s"), s->command, gerr->message);
        return;
    }
    /* one JSON line is far below a pipe's capacity: this does not block */
    if (write(in, data, strlen(data)) < 0 && errno != EPIPE)
        vclSandboxWarn(s, _("cannot pass an event to the alert command '%1$s': %2$s"),
                       s->command, g_strerror(errno));
    close(in);
    s->running++;
    g_child_watch_add(pid, vclSandboxExecDone, s);
}


static void
vclSandboxExec(vclSandbox *s, const char *json)
{
    if (s->running < VCL_EXEC_RUNNING_MAX) {
        vclSandboxExecStart(s, json);
    } else if (g_queue_get_length(&s->waiting) < VCL_EXEC_WAITING_MAX) {
        g_queue_push_tail(&s->waiting, g_strdup(json));
    } else if (s->skipped++ == 0) {
        vclSandboxWarn(s, _("the alert command '%1$s' is too slow: events are skipped until it catches up (the log has them all)"),
                       s->command);
    }
}


/* ---- main loop ---------------------------------------------------------- */

static void
vclSandboxHandle(vclSandbox *s, const vclSandboxEvent *e)
{
    if (s->quitting)
        return;
    if (!s->daemon && (printf("%s\n", s->json ? e->json : e->line) < 0 || fflush(stdout) != 0))
        vclSandboxQuit(s);   /* nobody reads the output any more */
    if (s->log && (fprintf(s->log, "%s\n", e->json) < 0 || fflush(s->log) != 0))
        vclSandboxWarn(s, _("cannot write to log file '%1$s': %2$s"), s->logPath, g_strerror(errno));
    if (s->execArgv)
        vclSandboxExec(s, e->json);
    s->seen++;
    if (e->type == VIR_DOMAIN_CLONE_SANDBOX_EVENT_END || (s->count > 0 && s->seen >= s->count))
        vclSandboxQuit(s);
}


static gboolean
vclSandboxOnWake(gint fd, GIOCondition cond G_GNUC_UNUSED, gpointer opaque)
{
    vclSandbox *s = opaque;
    vclSandboxEvent *e;
    guint64 n;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        vclSandboxWarn(s, _("cannot read the event queue's eventfd: %1$s"), g_strerror(errno));
    while ((e = g_async_queue_try_pop(s->queue))) {
        vclSandboxHandle(s, e);
        vclSandboxEventFree(e);
    }
    return G_SOURCE_CONTINUE;
}


static gboolean
vclSandboxOnSignal(gpointer opaque)
{
    vclSandbox *s = opaque;

    g_main_loop_quit(s->loop);
    return G_SOURCE_CONTINUE;
}


static gboolean
vclSandboxOnTimeout(gpointer opaque)
{
    vclSandbox *s = opaque;

    s->timeoutSource = 0;
    vclSandboxQuit(s);
    return G_SOURCE_REMOVE;
}


/* The signals are taken (by the main loop, later) from before the watch
 * starts: a SIGTERM right after a daemon's start ends it through its
 * cleanup, which removes the pidfile, not through the default action. */
static void
vclSandboxRunLoop(vclSandbox *s, guint sigint, guint sigterm)
{
    guint wake = g_unix_fd_add(s->wakefd, G_IO_IN, vclSandboxOnWake, s);

    if (s->timeout > 0)
        s->timeoutSource = g_timeout_add_seconds((guint)s->timeout, vclSandboxOnTimeout, s);
    g_main_loop_run(s->loop);
    g_source_remove(wake);
    g_source_remove(sigint);
    g_source_remove(sigterm);
    if (s->timeoutSource)
        g_source_remove(s->timeoutSource);
}


/* ---- pidfile and daemon ------------------------------------------------- */

/* Writes the pid into the pidfile and keeps it locked (fcntl): the lock
 * says the watch runs, and who it is, without trusting a stale pid. */
static int
vclSandboxPidfile(vclSandbox *s)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(s->pidfile, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);

    if (fd < 0) {
        vclError(_("cannot open pidfile '%1$s': %2$s"), s->pidfile, g_strerror(errno));
        return -1;
    }
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        if (errno == EAGAIN || errno == EACCES)
            vclError(_("another sandbox watch holds pidfile '%1$s'"), s->pidfile);
        else
            vclError(_("cannot lock pidfile '%1$s': %2$s"), s->pidfile, g_strerror(errno));
        close(fd);
        return -1;
    }
    if (ftruncate(fd, 0) < 0 || write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
        vclError(_("cannot write pidfile '%1$s': %2$s"), s->pidfile, g_strerror(errno));
        close(fd);
        return -1;
    }
    s->pidfd = fd;
    return 0;
}


/* Forks before any thread exists.  The parent waits until the child runs
 * (or fails, and then the child has said why on the shared stderr) and
 * returns the exit code; the child returns -1 and goes on in a new session. */
static int
vclSandboxDaemonize(vclSandbox *s)
{
    int fds[2];
    pid_t pid;
    ssize_t n;
    char c;

    fflush(stdout);
    fflush(stderr);
    if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        vclError(_("cannot start the sandbox watch in the background: %1$s"), g_strerror(errno));
        return EXIT_FAILED;
    }
    if (pid == 0) {
        close(fds[0]);
        s->readyfd = fds[1];
        setsid();
        return -1;
    }
    close(fds[1]);
    while ((n = read(fds[0], &c, 1)) < 0 && errno == EINTR)
        ;
    close(fds[0]);
    if (n == 1)
        return EXIT_OK;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return EXIT_FAILED;
}


/* The watch runs: the daemon leaves the terminal and its parent exits. */
static int
vclSandboxDetach(vclSandbox *s)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    char c = 1;

    if (null < 0) {
        vclError(_("cannot open /dev/null: %1$s"), g_strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
    if (chdir("/") < 0) {
        /* not fatal: every path was made absolute */
    }
    s->detached = TRUE;
    openlog("virt-clone-live", LOG_PID, LOG_DAEMON);
    virCloneSetLogFunc(vclSandboxSyslog, NULL);
    if (write(s->readyfd, &c, 1) < 0) {
        /* the parent is gone: nobody waits for this */
    }
    close(s->readyfd);
    s->readyfd = -1;
    return 0;
}


/* ---- command ------------------------------------------------------------ */

static void
vclAbsPath(char **path)
{
    char *abs = g_canonicalize_filename(*path, NULL);

    g_free(*path);
    *path = abs;
}


/* --interval and --action, checked. */
static int
vclSandboxIntegrityOptions(vclSandbox *s)
{
    if (s->intervalMs < 0) {
        vclError("%s", _("--interval cannot be negative"));
        return EXIT_USAGE;
    }
    if (!s->action || g_str_equal(s->action, "alert")) {
        s->actionValue = VIR_DOMAIN_CLONE_INTEGRITY_ALERT;
    } else if (g_str_equal(s->action, "pause")) {
        s->actionValue = VIR_DOMAIN_CLONE_INTEGRITY_PAUSE;
    } else if (g_str_equal(s->action, "destroy")) {
        s->actionValue = VIR_DOMAIN_CLONE_INTEGRITY_DESTROY;
    } else {
        vclError(_("unknown --action '%1$s': it is alert, pause or destroy"), s->action);
        return EXIT_USAGE;
    }
    return -1;
}


static int
vclSandboxOptions(vclGlobal *g, vclSandbox *s, int *argc, char ***argv)
{
    GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &g->json, N_("print JSON lines"), NULL },
        { "count", 0, 0, G_OPTION_ARG_INT, &s->count, N_("exit after N events"), N_("N") },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &s->timeout, N_("exit after S seconds"), N_("S") },
        { "log", 0, 0, G_OPTION_ARG_FILENAME, &s->logPath, N_("append the events to FILE as JSON lines"), N_("FILE") },
        { "exec", 0, 0, G_OPTION_ARG_STRING, &s->command,
          N_("run COMMAND for each event, with the event as JSON on its standard input (no shell runs it)"), N_("COMMAND") },
        { "device", 0, 0, G_OPTION_ARG_STRING_ARRAY, &s->devices,
          N_("watch this tap device of the clone without asking libvirt (repeat for each)"), N_("DEVICE") },
        { "daemon", 0, 0, G_OPTION_ARG_NONE, &s->daemon, N_("go to the background once the watch runs (needs --log or --exec)"), NULL },
        { "pidfile", 0, 0, G_OPTION_ARG_FILENAME, &s->pidfile, N_("write the process ID to FILE and keep it locked"), N_("FILE") },
        { "integrity", 0, 0, G_OPTION_ARG_NONE, &s->integrity,
          N_("watch the clone's kernel integrity too (see integrity-watch)"), NULL },
        { "interval", 0, 0, G_OPTION_ARG_INT, &s->intervalMs, N_("with --integrity: check every MS milliseconds (default 1000)"), N_("MS") },
        { "action", 0, 0, G_OPTION_ARG_STRING, &s->action,
          N_("with --integrity: on the first alert, alert (default), pause or destroy the clone"), N_("ACTION") },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };

    if (!vclParseOptions(_("CLONE - report what a sandbox clone sends"), entries, argc, argv))
        return EXIT_USAGE;
    if (*argc != 2) {
        vclError("%s", _("sandbox-watch takes exactly one CLONE"));
        return EXIT_USAGE;
    }
    if (s->count < 0 || s->timeout < 0) {
        vclError("%s", _("--count and --timeout cannot be negative"));
        return EXIT_USAGE;
    }
    if (s->daemon && !s->logPath && !s->command) {
        vclError("%s", _("--daemon needs --log or --exec: a daemon has no terminal to print to"));
        return EXIT_USAGE;
    }
    if (s->integrity && s->devices) {
        vclError("%s", _("--integrity cannot be used with --device: the integrity watch needs libvirt"));
        return EXIT_USAGE;
    }
    s->json = g->json;
    return vclSandboxIntegrityOptions(s);
}


/* Paths made absolute (the daemon changes to /), the command split into
 * argv, the log opened: every mistake is reported before detaching. */
static int
vclSandboxPrepare(vclSandbox *s)
{
    g_autoptr(GError) gerr = NULL;
    int fd;

    if (s->command && !g_shell_parse_argv(s->command, NULL, &s->execArgv, &gerr)) {
        vclError(_("cannot parse the --exec command '%1$s': %2$s"), s->command, gerr->message);
        return EXIT_USAGE;
    }
    /* "./alert" still means the same program after the daemon's chdir("/") */
    if (s->execArgv && strchr(s->execArgv[0], '/'))
        vclAbsPath(&s->execArgv[0]);
    if (s->pidfile)
        vclAbsPath(&s->pidfile);
    if (!s->logPath)
        return -1;
    vclAbsPath(&s->logPath);
    if ((fd = open(s->logPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600)) < 0 ||
        !(s->log = fdopen(fd, "a"))) {
        vclError(_("cannot open log file '%1$s': %2$s"), s->logPath, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_FAILED;
    }
    return -1;
}


/* Starts the watch: on the given devices, or on the domain's taps; and
 * the integrity watch, in @integrityId. */
static int
vclSandboxWatch(vclGlobal *g, vclSandbox *s, const char *clone, virConnectPtr *conn,
                int *integrityId)
{
    g_autoptr(virDomain) dom = NULL;
    unsigned int flags = s->force ? VIR_DOMAIN_CLONE_INTEGRITY_FORCE : 0;
    int id = 0;

    if (s->devices) {
        id = virDomainCloneSandboxWatchDevices(clone, (const char *const *)s->devices,
                                               vclSandboxEventCb, s, NULL, 0);
    } else {
        if (!(*conn = vclConnect(g->uri)))
            return -1;
        if (!(dom = vclLookupDomain(*conn, clone)))
            return -1;
        if (!s->noNetwork)
            id = virDomainCloneSandboxWatch(dom, vclSandboxEventCb, s, NULL, 0);
    }
    if (id < 0) {
        vclError(_("cannot watch clone '%1$s': %2$s"), clone, virCloneGetLastErrorMessage());
        return -1;
    }
    if (s->integrity &&
        (*integrityId = virDomainCloneIntegrityWatch(dom, (unsigned int)s->intervalMs, s->actionValue,
                                                     vclSandboxEventCb, s, NULL, flags)) < 0) {
        vclError(_("cannot watch the kernel integrity of clone '%1$s': %2$s"),
                 clone, virCloneGetLastErrorMessage());
        if (!s->noNetwork)
            virDomainCloneSandboxUnwatch(id);
        return -1;
    }
    return id;
}


static int
vclSandboxRun(vclGlobal *g, vclSandbox *s, const char *clone)
{
    virConnectPtr conn = NULL;
    vclSandboxEvent *e;
    guint sigint = g_unix_signal_add(SIGINT, vclSandboxOnSignal, s);
    guint sigterm = g_unix_signal_add(SIGTERM, vclSandboxOnSignal, s);
    int id = -1;
    int integrityId = -1;
    int ret = EXIT_FAILED;

    if (s->pidfile && vclSandboxPidfile(s) < 0) {
        g_source_remove(sigint);
        g_source_remove(sigterm);
        return EXIT_FAILED;
    }
    if ((s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        vclError(_("cannot create an eventfd: %1$s"), g_strerror(errno));
        return EXIT_FAILED;
    }
    s->queue = g_async_queue_new();
    s->loop = g_main_loop_new(NULL, FALSE);
    if ((id = vclSandboxWatch(g, s, clone, &conn, &integrityId)) < 0 ||
        (s->daemon && vclSandboxDetach(s) < 0))
        goto cleanup;
    vclSandboxRunLoop(s, sigint, sigterm);
    sigint = sigterm = 0;
    ret = EXIT_OK;

 cleanup:
    if (sigint)
        g_source_remove(sigint);
    if (sigterm)
        g_source_remove(sigterm);
    if (integrityId >= 0)
        virDomainCloneSandboxUnwatch(integrityId);
    if (id > 0 && !s->noNetwork)
        virDomainCloneSandboxUnwatch(id);
    vclConnectClose(conn);
    while ((e = g_async_queue_try_pop(s->queue)))
        vclSandboxEventFree(e);
    return ret;
}


static void
vclSandboxClear(vclSandbox *s)
{
    if (s->pidfd >= 0) {
        unlink(s->pidfile);
        close(s->pidfd);
    }
    if (s->readyfd >= 0)
        close(s->readyfd);
    if (s->wakefd >= 0)
        close(s->wakefd);
    if (s->log)
        fclose(s->log);
    g_clear_pointer(&s->queue, g_async_queue_unref);
    g_clear_pointer(&s->loop, g_main_loop_unref);
    g_queue_clear_full(&s->waiting, g_free);
    g_strfreev(s->execArgv);
    g_strfreev(s->devices);
    g_free(s->logPath);
    g_free(s->command);
    g_free(s->pidfile);
    g_free(s->action);
}


int
cmdSandboxWatch(vclGlobal *g, int argc, char **argv)
{
    vclSandbox s = { .pidfd = -1, .readyfd = -1, .wakefd = -1 };
    int ret;

    g_queue_init(&s.waiting);
    /* a closed output or a finished alert command is no reason to die */
    signal(SIGPIPE, SIG_IGN);
    if ((ret = vclSandboxOptions(g, &s, &argc, &argv)) < 0 &&
        (ret = vclSandboxPrepare(&s)) < 0 &&
        (!s.daemon || (ret = vclSandboxDaemonize(&s)) < 0))
        ret = vclSandboxRun(g, &s, argv[1]);
    vclSandboxClear(&s);
    return ret;
}


/* ---- integrity-watch ---------------------------------------------------- */

static int
vclIntegrityOptions(vclGlobal *g, vclSandbox *s, int *argc, char ***argv)
{
    GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &g->json, N_("print JSON lines"), NULL },
        { "interval", 0, 0, G_OPTION_ARG_INT, &s->intervalMs, N_("check every MS milliseconds (default 1000)"), N_("MS") },
        { "action", 0, 0, G_OPTION_ARG_STRING, &s->action,
          N_("on the first alert, alert (default), pause or destroy the clone"), N_("ACTION") },
        { "force", 0, 0, G_OPTION_ARG_NONE, &s->force, N_("watch a domain that is not a clone"), NULL },
        { "count", 0, 0, G_OPTION_ARG_INT, &s->count, N_("exit after N events"), N_("N") },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &s->timeout, N_("exit after S seconds"), N_("S") },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };

    if (!vclParseOptions(_("CLONE - report changes of a clone's kernel"), entries, argc, argv))
        return EXIT_USAGE;
    if (*argc != 2) {
        vclError("%s", _("integrity-watch takes exactly one CLONE"));
        return EXIT_USAGE;
    }
    if (s->count < 0 || s->timeout < 0) {
        vclError("%s", _("--count and --timeout cannot be negative"));
        return EXIT_USAGE;
    }
    s->json = g->json;
    s->integrity = TRUE;
    s->noNetwork = TRUE;
    return vclSandboxIntegrityOptions(s);
}


int
cmdIntegrityWatch(vclGlobal *g, int argc, char **argv)
{
    vclSandbox s = { .pidfd = -1, .readyfd = -1, .wakefd = -1 };
    int ret;

    g_queue_init(&s.waiting);
    signal(SIGPIPE, SIG_IGN);
    if ((ret = vclIntegrityOptions(g, &s, &argc, &argv)) < 0)
        ret = vclSandboxRun(g, &s, argv[1]);
    vclSandboxClear(&s);
    return ret;
}
