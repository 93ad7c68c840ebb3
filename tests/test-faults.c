/*
 * test-faults.c: the fault matrix of live clones, on a real guest
 *
 * For each strategy and each phase of a clone, a fault is injected while
 * `virt-clone-live clone-live` (the caller, a process of its own) runs:
 *
 *   caller-kill     the caller is SIGKILLed (LIBVIRT_CLONE_FAULT=POINT:kill)
 *   clone-kill      the clone's QEMU is SIGKILLed
 *   source-kill     the source's QEMU is SIGKILLed
 *   daemon-restart  libvirtd is restarted (daemon only)
 *   random-kill     the caller is SIGKILLed after a random delay
 *   late-kill       the caller is SIGKILLed once its job has ended
 *                   (LIBVIRT_CLONE_FAULT=job:ended:kill)
 *   guardian-kill   the job's guardian, then the caller, are SIGKILLed
 *                   (daemon only): the stale job is rolled back by the
 *                   hook (the clone's release starts the guardian again)
 *                   or by reap
 *
 * The same dead caller (caller-kill at every point, late-kill) is tried on
 * a template's making (`template-create`, on the pre-copy source): after
 * it no template is left, or (late-kill) a whole one.
 *
 * and, in the daemon run, a full overlay directory (per strategy) and a
 * guest agent that does not answer.  The library is built with -Dtest_faults=true: at a fault point
 * the caller stops ("wait": the test injects its fault, then lets it go on)
 * or kills itself.  After each fault:
 *
 *   - the source runs and its workload progresses: with a daemon within
 *     2 s and without any command (the job's guardian); under the embedded
 *     driver after the next call of the library (virConnectCloneLiveReap),
 *     which the test makes after opening the root again;
 *   - its live and persistent XML name the image QEMU writes to, its
 *     migration is idle and its migration settings are its own again;
 *   - nothing is left: no clone domain, no file beside the source's image
 *     but the source's own new top, no job record or lock; except after a
 *     caller died once its job had ended (late-kill, and random-kill when
 *     it came late): then the clone is whole and runs;
 *   - after a killed source, its next cold boot finds every record its
 *     workload committed.
 *
 * Each strategy ends with a clean clone of the same source (the next clone
 * works) and a cold boot with all records.
 *
 * With TG_URI (tests/daemon/run-in-daemon.sh) the guests run under a private
 * libvirtd, and the whole matrix runs.  Without it they run under the
 * embedded driver, where one process at a time may hold the root: the test
 * itself never opens it, the caller does, and after the caller's death a
 * worker (this program with --worker, TG_ROOT set) opens it, calls the
 * library once (the recovery happens there) and checks.  The embedded run
 * covers the dead caller at every point and at random times.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "testutils-guest.h"
#include "libvirt-clone/libvirt-clone.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt-qemu.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STAT_MS 30000
#define BOOT_MS 120000
#define CLI_MS 180000

typedef enum {
    FAULT_CALLER_KILL,
    FAULT_CLONE_KILL,
    FAULT_SOURCE_KILL,
    FAULT_DAEMON_RESTART,
    FAULT_RANDOM_KILL,
    FAULT_GUARDIAN_KILL,
    FAULT_LATE_KILL,
} FaultKind;

static const char *const faultNames[] = {
    "caller-kill", "clone-kill", "source-kill", "daemon-restart", "random-kill",
    "guardian-kill", "late-kill",
};

typedef struct {
    const char *strategy;
    const char *point;      /* LIBVIRT_CLONE_FAULT point, NULL for random-kill */
    FaultKind kind;
    guint delayMs;          /* random-kill */
} FaultCase;

typedef struct {
    TgGuest *src;           /* in the process that holds the connection */
    char *srcName;
    char *diskDir;          /* where the source's image and overlays are */
    char *policy;           /* the policy's <memory> element */
    guint64 recordsBefore;  /* records committed before the last fault */
    guint n;
    gboolean isTemplate;    /* the caller makes a template (template-create) */
} StrategyState;

static TgEnv *env;
static gboolean daemonMode;
static const char *cli;
static const char *self;
static char *faultDir;
static char *sharedRoot;    /* embedded: the root the test does not open */
static int reaperFd = -1;   /* its reaper's pipe (tgRootReaperStart) */
static StrategyState precopyState;
static StrategyState backgroundState;
/* template-create on the pre-copy source (its guest, not a boot of its own) */
static StrategyState templateState = { .isTemplate = TRUE };

static const char *const precopyPoints[] = {
    "phase:check", "phase:chain", "phase:plan", "phase:sandbox", "phase:files",
    "phase:start-clone", "phase:transfer", "precopy:pre-switchover", "phase:fork", "precopy:forked",
    "phase:transfer-end", "phase:finish-source", "phase:finish-clone", "phase:persist", NULL,
};
static const char *const backgroundPoints[] = {
    "phase:check", "phase:chain", "phase:plan", "phase:sandbox", "phase:files",
    "phase:start-clone", "phase:transfer", "background:paused", "phase:fork", "background:forked",
    "background:started", "phase:transfer-end", "phase:finish-source", "phase:finish-clone",
    "phase:persist", NULL,
};
/* a template's job: a live clone's copy, then its RAM and state kept */
static const char *const templatePoints[] = {
    "phase:check", "phase:chain", "phase:plan", "phase:files", "phase:start-clone",
    "phase:transfer", "precopy:pre-switchover", "phase:fork", "precopy:forked",
    "phase:transfer-end", "phase:finish-source", "phase:save-template", "template:saved", NULL,
};


static StrategyState *
testState(const char *strategy)
{
    if (g_str_equal(strategy, "template"))
        return &templateState;
    return g_str_equal(strategy, "precopy") ? &precopyState : &backgroundState;
}


static const char *
testUri(void)
{
    return g_getenv("TG_URI") && *g_getenv("TG_URI") ? g_getenv("TG_URI") : NULL;
}


static char *
testConnUri(void)
{
    return daemonMode ? g_strdup(testUri())
                      : g_strdup_printf("qemu:///embed?root=%s", sharedRoot);
}


static char *
testRunDir(const char *what)
{
    if (daemonMode)
        return g_build_filename("/run/libvirt-clone", what, NULL);
    return g_build_filename(sharedRoot, "run", "libvirt-clone", what, NULL);
}


static char *
testRunDirJobs(void)
{
    return testRunDir("jobs");
}


static guint
testCountProcesses(const char *comm)
{
    g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
    const char *ent;
    guint n = 0;

    while ((ent = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("/proc/%s/comm", ent);
        g_autofree char *c = NULL;

        if (g_ascii_isdigit(ent[0]) && g_file_get_contents(path, &c, NULL, NULL) &&
            g_str_equal(g_strstrip(c), comm))
            n++;
    }
    return n;
}


static void
testKill(const char *what, pid_t pid)
{
    g_test_message("killing %s (pid %d)", what, (int)pid);
    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
}


/* Waits for the caller to reach its fault point. */
static gboolean
testWaitMarker(const char *point, GPid caller)
{
    g_autofree char *marker = g_build_filename(faultDir, point, NULL);
    gint64 end = g_get_monotonic_time() + CLI_MS * G_TIME_SPAN_MILLISECOND;

    while (!g_file_test(marker, G_FILE_TEST_EXISTS)) {
        if (waitpid(caller, NULL, WNOHANG) == caller || g_get_monotonic_time() > end)
            return FALSE;
        g_usleep(10 * G_TIME_SPAN_MILLISECOND);
    }
    return TRUE;
}


static void
testReleaseMarker(const char *point)
{
    g_autofree char *marker = g_build_filename(faultDir, point, NULL);

    g_unlink(marker);
}


static void
testRestartDaemon(void)
{
    g_autoptr(GError) err = NULL;

    g_test_message("restarting libvirtd");
    if (tgDaemonRestart(&err) < 0)
        g_error("cannot restart libvirtd: %s", err->message);
}


static GPid
testSpawnCaller(const FaultCase *fc, const char *cloneName, gboolean persistent, int *out)
{
    StrategyState *st = testState(fc->strategy);
    g_autofree char *uri = testConnUri();
    g_autofree char *fault = NULL;
    g_auto(GStrv) envp = g_get_environ();
    g_autoptr(GError) err = NULL;
    g_autofree char *policyFile = g_build_filename(faultDir, "policy.xml", NULL);
    g_autofree char *policy = NULL;
    const char *cloneArgv[] = { cli, "-c", uri, "clone-live", st->srcName,
                                "--policy", policyFile, persistent ? "--persistent" : NULL, NULL };
    const char *templateArgv[] = { cli, "-c", uri, "template-create", st->srcName,
                                   "--name", cloneName, "--policy", policyFile, NULL };
    const char *const *argv = st->isTemplate ? templateArgv : cloneArgv;
    int pipefd[2];
    GPid pid;

    if (fc->point)
        fault = g_strdup_printf("%s:%s", fc->point,
                                fc->kind == FAULT_CALLER_KILL || fc->kind == FAULT_LATE_KILL ?
                                "kill" : "wait");
    envp = g_environ_unsetenv(envp, "LIBVIRT_CLONE_FAULT");
    if (fault)
        envp = g_environ_setenv(envp, "LIBVIRT_CLONE_FAULT", fault, TRUE);
    envp = g_environ_setenv(envp, "LIBVIRT_CLONE_FAULT_DIR", faultDir, TRUE);
    if (st->isTemplate)
        policy = g_strdup_printf("<clonepolicy>%s</clonepolicy>", st->policy);
    else
        policy = g_strdup_printf("<clonepolicy><name>%s</name>%s</clonepolicy>",
                                 cloneName, st->policy);
    g_assert_true(g_file_set_contents(policyFile, policy, -1, NULL));
    g_assert_true(g_unix_open_pipe(pipefd, FD_CLOEXEC, NULL));
    /* its standard output and error both into the pipe */
    g_assert_true(g_spawn_async_with_pipes_and_fds(NULL, argv, (const char *const *)envp,
                                                   G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                                   -1, pipefd[1], pipefd[1], NULL, NULL, 0,
                                                   &pid, NULL, NULL, NULL, &err));
    close(pipefd[1]);
    *out = pipefd[0];
    return pid;
}


/* The caller's exit status, and when it ended (@t0).  What it printed goes
 * to the test log: that includes its guardian's messages, which may come
 * after the caller is gone, so the pipe is read until its end.  With @src
 * (daemon), meanwhile, @running is set to how long after the caller's end
 * @src was seen running (0: not seen). */
static int
testReapCaller(GPid pid, int out, gint64 *t0, TgGuest *src, gint64 *running)
{
    g_autoptr(GString) text = g_string_new(NULL);
    gint64 end = 0;
    int status = 0;

    g_assert_true(g_unix_set_fd_nonblocking(out, TRUE, NULL));
    *t0 = 0;
    if (running)
        *running = 0;
    for (;;) {
        char buf[4096];
        ssize_t n = read(out, buf, sizeof(buf));
        int state = VIR_DOMAIN_NOSTATE;

        if (n > 0) {
            g_string_append_len(text, buf, n);
            continue;
        }
        if (!*t0 && waitpid(pid, &status, WNOHANG) == pid) {
            *t0 = g_get_monotonic_time();
            end = *t0 + 60 * G_USEC_PER_SEC;
        }
        /* (only with @src: the embedded run's test process never calls
         * libvirt, not even to reset an error) */
        if (*t0 && src && running && !*running) {
            if (virDomainGetState(tgGuestDomain(src), &state, NULL, 0) == 0 &&
                state == VIR_DOMAIN_RUNNING)
                *running = MAX(g_get_monotonic_time() - *t0, 1);
            virResetLastError();
        }
        if (n == 0 || (end && g_get_monotonic_time() > end))
            break;
        g_usleep(5 * G_TIME_SPAN_MILLISECOND);
    }
    close(out);
    if (!*t0) {
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        *t0 = g_get_monotonic_time();
    }
    if (text->len)
        g_test_message("caller said: %s", g_strstrip(text->str));
    return status;
}


/* A QMP query of the source, as JSON. */
static JsonNode *
testQmp(virDomainPtr dom, const char *cmd)
{
    g_autofree char *json = g_strdup_printf("{\"execute\":\"%s\"}", cmd);
    g_autoptr(JsonParser) parser = json_parser_new();
    char *reply = NULL;
    JsonNode *ret;

    g_assert_cmpint(virDomainQemuMonitorCommand(dom, json, &reply, 0), ==, 0);
    g_assert_true(json_parser_load_from_data(parser, reply, -1, NULL));
    free(reply);
    ret = json_object_dup_member(json_node_get_object(json_parser_get_root(parser)), "return");
    g_assert_nonnull(ret);
    return ret;
}


/* The file QEMU writes to for the source's first disk, as its block layer
 * says. */
static char *
testQemuTop(virDomainPtr dom)
{
    g_autoptr(JsonNode) ret = testQmp(dom, "query-block");
    JsonArray *devs = json_node_get_array(ret);

    for (guint i = 0; i < json_array_get_length(devs); i++) {
        JsonObject *dev = json_array_get_object_element(devs, i);
        JsonObject *inserted = json_object_get_object_member(dev, "inserted");

        if (inserted && !json_object_get_boolean_member_with_default(inserted, "ro", FALSE))
            return g_strdup(json_object_get_string_member(inserted, "file"));
    }
    return NULL;
}


static char *
testXMLTop(virDomainPtr dom, unsigned int flags)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, flags);
    g_autoptr(GRegex) re = g_regex_new("<disk type='file' device='disk'>.*?<source file='([^']+)'",
                                       G_REGEX_DOTALL, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;

    g_assert_nonnull(xml);
    if (!g_regex_match(re, xml, 0, &m))
        return NULL;
    return g_match_info_fetch(m, 1);
}


/* libvirt's live and persistent XML name the image QEMU writes to; no
 * migration is under way, and the capabilities a clone sets are off. */
static void
testSourceConsistent(TgGuest *src)
{
    virDomainPtr dom = tgGuestDomain(src);
    g_autofree char *live = testXMLTop(dom, 0);
    g_autofree char *persistent = testXMLTop(dom, VIR_DOMAIN_XML_INACTIVE);
    g_autofree char *qemu = testQemuTop(dom);
    g_autoptr(JsonNode) mig = testQmp(dom, "query-migrate");
    g_autoptr(JsonNode) caps = testQmp(dom, "query-migrate-capabilities");
    const char *status = json_object_get_string_member_with_default(json_node_get_object(mig),
                                                                    "status", "none");
    JsonArray *a = json_node_get_array(caps);

    g_assert_nonnull(live);
    g_assert_cmpstr(qemu, ==, live);
    g_assert_cmpstr(persistent, ==, live);
    g_assert_true(g_str_equal(status, "none") || g_str_equal(status, "completed") ||
                  g_str_equal(status, "cancelled") || g_str_equal(status, "failed"));
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *c = json_array_get_object_element(a, i);
        const char *name = json_object_get_string_member(c, "capability");

        if (g_str_equal(name, "pause-before-switchover") || g_str_equal(name, "background-snapshot") ||
            g_str_equal(name, "return-path"))
            g_assert_false(json_object_get_boolean_member(c, "state"));
    }
}


/* The workload keeps running: two stat lines, the second later. */
static void
testSourceProgresses(TgGuest *src, guint64 *records)
{
    g_autoptr(GError) err = NULL;
    TgStat a;
    TgStat b;

    if (tgSerialWaitStat(src, STAT_MS, &a, &err) < 0 ||
        tgSerialWaitStat(src, STAT_MS, &b, &err) < 0)
        g_error("%s: no stat line: %s", tgGuestName(src), err->message);
    g_assert_cmpuint(b.t_ms, >, a.t_ms);
    if (records)
        *records = b.records;
}


/* Daemon: the guardian brings the source back without anyone asking (the
 * time that takes is returned), then finishes the rest of the rollback
 * (the record goes last). */
static gint64
testWaitSourceRunning(TgGuest *src, gint64 t0, gint64 running)
{
    gint64 end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    g_autofree char *jobs = testRunDirJobs();

    for (;;) {
        int state = VIR_DOMAIN_NOSTATE;
        g_autoptr(GHashTable) left = tgListDir(jobs);

        if (!running && virDomainGetState(tgGuestDomain(src), &state, NULL, 0) == 0 &&
            state == VIR_DOMAIN_RUNNING)
            running = g_get_monotonic_time() - t0;
        virResetLastError();
        if (running && g_hash_table_size(left) == 0)
            return running;
        if (g_get_monotonic_time() > end)
            g_error("the job was not rolled back within 60 s (source state %d, %u job files)",
                    state, g_hash_table_size(left));
        g_usleep(20 * G_TIME_SPAN_MILLISECOND);
    }
}


/* Whether template @name has files: its directory or its record. */
static gboolean
testTemplateHasFiles(const char *name)
{
    g_autofree char *dir = testRunDir("templates");
    g_autofree char *rec = g_strdup_printf("%s.json", name);
    g_autofree char *files = g_build_filename(dir, name, NULL);
    g_autofree char *recPath = g_build_filename(dir, rec, NULL);

    return g_file_test(files, G_FILE_TEST_IS_DIR) || g_file_test(recPath, G_FILE_TEST_EXISTS);
}


/* No template @name: not listed, no QEMU of its own, no files. */
static void
testTemplateGone(const char *name)
{
    virCloneTemplatePtr tmpl = virCloneTemplateLookupByName(tgEnvConn(env), name, 0);
    g_autofree char *qemuName = g_strdup_printf("libvirt-clone-template-%s", name);
    virDomainPtr dom = virDomainLookupByName(tgEnvConn(env), qemuName);

    if (tmpl) {
        virCloneTemplateFree(tmpl);
        g_error("the template '%s' is still there", name);
    }
    if (dom) {
        virDomainFree(dom);
        g_error("the template's QEMU '%s' is still there", qemuName);
    }
    virCloneResetLastError();
    virResetLastError();
    if (testTemplateHasFiles(name))
        g_error("the template '%s' left files", name);
}


/* Every file that appeared beside the source's image is the source's own
 * current top (the fork happened) -- nothing of the clone. */
static void
testNothingLeft(TgGuest *src, GHashTable *before, const char *cloneName)
{
    g_autofree char *dir = g_path_get_dirname(tgGuestDiskPath(src));
    g_autoptr(GHashTable) now = tgListDir(dir);
    g_autofree char *top = testXMLTop(tgGuestDomain(src), 0);
    g_autofree char *jobs = testRunDirJobs();
    g_autoptr(GHashTable) jobFiles = tgListDir(jobs);
    virDomainPtr clone = virDomainLookupByName(tgEnvConn(env), cloneName);
    GHashTableIter it;
    gpointer name;

    if (clone) {
        virDomainFree(clone);
        g_error("the clone '%s' is still there", cloneName);
    }
    virResetLastError();
    testTemplateGone(cloneName);
    g_hash_table_iter_init(&it, now);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        g_autofree char *path = g_build_filename(dir, (const char *)name, NULL);

        if (g_hash_table_contains(before, name) || g_str_equal(path, top))
            continue;
        g_error("'%s' was left behind", path);
    }
    g_assert_cmpuint(g_hash_table_size(jobFiles), ==, 0);
    if (daemonMode) {
        gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        while (testCountProcesses("libvirt-clone-g") > 0 && g_get_monotonic_time() < end)
            g_usleep(20 * G_TIME_SPAN_MILLISECOND);
        g_assert_cmpuint(testCountProcesses("libvirt-clone-g"), ==, 0);
    }
}


/* The guardian's PID, from the job's record. */
static pid_t
testGuardianPid(StrategyState *st)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autofree char *jobs = testRunDirJobs();
    g_autofree char *name = NULL;
    g_autofree char *path = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();

    g_assert_cmpint(virDomainGetUUIDString(tgGuestDomain(st->src), uuid), ==, 0);
    name = g_strdup_printf("%s.json", uuid);
    path = g_build_filename(jobs, name, NULL);
    g_assert_true(json_parser_load_from_file(parser, path, NULL));
    return (pid_t)json_object_get_int_member(json_node_get_object(json_parser_get_root(parser)),
                                             "guardian");
}


static void
testInject(const FaultCase *fc, const char *cloneName, StrategyState *st)
{
    switch (fc->kind) {
    case FAULT_CLONE_KILL:
        testKill("the clone's QEMU", tgFindQemu(cloneName));
        break;
    case FAULT_SOURCE_KILL:
        testKill("the source's QEMU", tgFindQemu(st->srcName));
        break;
    case FAULT_DAEMON_RESTART: {
        g_autoptr(GError) err = NULL;

        testRestartDaemon();
        if (tgEnvReconnect(env, &err) < 0 || tgGuestReattach(precopyState.src, &err) < 0 ||
            tgGuestReattach(backgroundState.src, &err) < 0)
            g_error("cannot connect again after the restart: %s", err->message);
        break;
    }
    case FAULT_GUARDIAN_KILL:
        testKill("the job's guardian", testGuardianPid(st));
        break;
    case FAULT_CALLER_KILL:
    case FAULT_RANDOM_KILL:
    case FAULT_LATE_KILL:
        break;
    }
}


/* A source whose QEMU was killed boots again and finds every record its
 * workload had committed. */
static void
testColdBoot(StrategyState *st)
{
    g_autoptr(GError) err = NULL;
    TgStat last;

    if (virDomainIsActive(tgGuestDomain(st->src)) == 1)
        g_assert_cmpint(virDomainDestroy(tgGuestDomain(st->src)), ==, 0);
    /* what the workload had committed when its QEMU stopped */
    if (tgLastStat(st->src, &last, &err) < 0)
        g_error("no stat line: %s", err->message);
    st->recordsBefore = MAX(st->recordsBefore, last.records);
    if (tgGuestBoot(st->src, BOOT_MS, &err) < 0)
        g_error("the source does not boot again: %s", err->message);
    g_test_message("cold boot: %" G_GUINT64_FORMAT " records found, >= %" G_GUINT64_FORMAT
                   " committed before", tgGuestReady(st->src)->records_found, st->recordsBefore);
    g_assert_cmpuint(tgGuestReady(st->src)->records_found, >=, st->recordsBefore);
}


static void testCompleteClone(StrategyState *st, const char *cloneName, gboolean required);

/* After the fault, in the process that holds the connection: the source
 * is back (daemon: by itself within 2 s), consistent, and nothing is left. */
static void
testCheck(StrategyState *st, const char *cloneName, FaultKind kind, GHashTable *before,
          gint64 t0, gint64 running)
{
    if (kind == FAULT_SOURCE_KILL) {
        testNothingLeft(st->src, before, cloneName);
        testColdBoot(st);
    } else {
        if (daemonMode) {
            gint64 us = testWaitSourceRunning(st->src, t0, running);

            g_test_message("source running again %.0f ms after the fault", us / 1000.0);
            if (kind != FAULT_DAEMON_RESTART)
                g_assert_cmpint(us, <, 2 * G_USEC_PER_SEC);
        }
        if (kind == FAULT_RANDOM_KILL || kind == FAULT_LATE_KILL)
            testCompleteClone(st, cloneName, kind == FAULT_LATE_KILL);
        testSourceProgresses(st->src, NULL);
        testNothingLeft(st->src, before, cloneName);
    }
    testSourceConsistent(st->src);
}


/* Runs this program with --worker ARGS on the shared root; its output goes
 * to the test log, and it must succeed. */
static void
testWorker(const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "TG_ROOT", sharedRoot, TRUE);
    g_autofree char *out = NULL;
    g_autofree char *errOut = NULL;
    g_autoptr(GError) err = NULL;
    int status;

    g_ptr_array_add(argv, (char *)self);
    g_ptr_array_add(argv, (char *)"--worker");
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, envp, G_SPAWN_DEFAULT,
                               NULL, NULL, &out, &errOut, &status, &err));
    if (out && *out)
        g_test_message("worker %s: %s", args[0], g_strstrip(out));
    if (errOut && *errOut)
        g_test_message("worker %s (stderr): %s", args[0], g_strstrip(errOut));
    /* what the worker said goes to stderr too: a failing test's stdout
     * is only in the full log, which CI does not show */
    if (!g_spawn_check_wait_status(status, &err))
        g_error("worker %s failed: %s\n--- its stderr:\n%s\n--- its stdout:\n%s", args[0],
                err->message, errOut ? errOut : "", out ? out : "");
}


static char *
testWriteNames(GHashTable *names)
{
    g_autofree char *path = g_build_filename(faultDir, "before.txt", NULL);
    g_autoptr(GString) text = g_string_new(NULL);
    GHashTableIter it;
    gpointer name;

    g_hash_table_iter_init(&it, names);
    while (g_hash_table_iter_next(&it, &name, NULL))
        g_string_append_printf(text, "%s\n", (const char *)name);
    g_assert_true(g_file_set_contents(path, text->str, -1, NULL));
    return g_steal_pointer(&path);
}


/* A clone that was completed: it runs; then it goes, with its files. */
static void testWorker(const char *const *args);

static void
testDiscardClone(const char *cloneName)
{
    virDomainPtr clone = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(GRegex) re = g_regex_new("<(?:source|log) file='([^']+)'", 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;
    int state = VIR_DOMAIN_NOSTATE;

    if (!env) {
        /* embedded: only a worker may open the root (the test's process
         * would keep it for good) */
        const char *args[] = { "discard", cloneName, NULL };

        testWorker(args);
        return;
    }
    clone = virDomainLookupByName(tgEnvConn(env), cloneName);
    g_assert_nonnull(clone);
    g_assert_cmpint(virDomainGetState(clone, &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    xml = virDomainGetXMLDesc(clone, 0);
    g_assert_cmpint(virDomainDestroy(clone), ==, 0);
    if (virDomainIsPersistent(clone) == 1)
        g_assert_cmpint(virDomainUndefineFlags(clone, VIR_DOMAIN_UNDEFINE_NVRAM), ==, 0);
    virDomainFree(clone);
    /* the hook removes an ephemeral clone's overlay; here nobody else
     * does; and a clone that ran keeps its serial log, which the test
     * would find left behind */
    for (gboolean found = g_regex_match(re, xml, 0, &m); found; found = g_match_info_next(m, NULL)) {
        g_autofree char *file = g_match_info_fetch(m, 1);

        if ((g_str_has_suffix(file, ".qcow2") || g_str_has_suffix(file, ".log")) &&
            strstr(file, cloneName))
            g_unlink(file);
    }
}


/* A caller killed at a random instant may die after its job was done:
 * after the printed summary, while its embedded driver shuts down, or
 * between the job's end and the summary.  Once the rollback was asked
 * for, a clone that is still there is such a clone: no job is left,
 * and it runs.  It goes, and the source is checked as after any fault.
 * @required: the caller died after its job (late-kill): the clone must
 * be there.  A template's job leaves a template, which is deleted. */
static void
testCompleteClone(StrategyState *st, const char *cloneName, gboolean required)
{
    virDomainPtr clone = NULL;
    g_autofree char *jobs = testRunDirJobs();
    g_autoptr(GHashTable) left = tgListDir(jobs);

    if (st->isTemplate) {
        virCloneTemplatePtr tmpl = virCloneTemplateLookupByName(tgEnvConn(env), cloneName, 0);

        if (!tmpl) {
            if (required)
                g_error("the template '%s' of a job that had ended is gone", cloneName);
            virCloneResetLastError();
            return;
        }
        g_test_message("the template was complete when the caller died");
        g_assert_cmpuint(g_hash_table_size(left), ==, 0);
        g_assert_true(testTemplateHasFiles(cloneName));
        g_assert_cmpint(virCloneTemplateDelete(tmpl, 0), ==, 0);
        virCloneTemplateFree(tmpl);
        return;
    }
    clone = virDomainLookupByName(tgEnvConn(env), cloneName);
    if (!clone) {
        if (required)
            g_error("the clone '%s' of a job that had ended is gone", cloneName);
        virResetLastError();
        return;
    }
    virDomainFree(clone);
    g_test_message("the clone was complete when the caller died");
    g_assert_cmpuint(g_hash_table_size(left), ==, 0);
    testDiscardClone(cloneName);
}


/* Nobody finishes the job now: the source stays as the job left it until
 * an entry point of the library sees the stale record.  At the copy's
 * instants the clone's release does (the hook starts the guardian again),
 * elsewhere reap does.  Returns when that was asked. */
static gint64
testRecoverWithoutGuardian(const FaultCase *fc, StrategyState *st, const char *cloneName)
{
    g_autofree char *jobs = testRunDirJobs();
    g_autoptr(GHashTable) left = NULL;
    virDomainPtr clone;

    g_usleep(G_USEC_PER_SEC);
    left = tgListDir(jobs);
    g_assert_cmpuint(g_hash_table_size(left), >, 0);   /* still stale */
    if (g_str_has_prefix(fc->point, "phase:")) {
        g_test_message("reap");
        g_assert_cmpint(virConnectCloneLiveReap(tgEnvConn(env), 0), >=, 0);
        return g_get_monotonic_time();
    }
    g_test_message("destroying the clone: the hook sees the stale job");
    clone = virDomainLookupByName(tgEnvConn(env), cloneName);
    g_assert_nonnull(clone);
    g_assert_cmpint(virDomainDestroy(clone), ==, 0);
    virDomainFree(clone);
    (void)st;
    return g_get_monotonic_time();
}


static void
testFault(gconstpointer data)
{
    const FaultCase *fc = data;
    StrategyState *st = testState(fc->strategy);
    g_autoptr(GHashTable) before = tgListDir(st->diskDir);
    g_autofree char *cloneName = g_strdup_printf("%s-f%u", st->srcName, ++st->n);
    gboolean persistent = g_str_equal(fc->strategy, "precopy");
    gint64 t0;
    gint64 running = 0;
    GPid caller;
    int out = -1;
    int status;

    if (daemonMode)
        testSourceProgresses(st->src, &st->recordsBefore);
    caller = testSpawnCaller(fc, cloneName, persistent, &out);
    if (fc->kind == FAULT_RANDOM_KILL) {
        g_usleep(fc->delayMs * G_TIME_SPAN_MILLISECOND);
        testKill("the caller", caller);
    } else if (fc->kind != FAULT_CALLER_KILL && fc->kind != FAULT_LATE_KILL) {
        if (!testWaitMarker(fc->point, caller))
            g_error("the caller never reached '%s'", fc->point);
        testInject(fc, cloneName, st);
        if (fc->kind == FAULT_GUARDIAN_KILL)
            testKill("the caller", caller);
        testReleaseMarker(fc->point);
    }
    status = testReapCaller(caller, out, &t0, daemonMode ? st->src : NULL, &running);
    if (fc->kind == FAULT_RANDOM_KILL && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        /* the clone was done before the kill: a good clone, not a fault */
        g_test_message("the clone was complete before the kill");
        testDiscardClone(cloneName);
    } else if (fc->kind == FAULT_CALLER_KILL || fc->kind == FAULT_GUARDIAN_KILL ||
               fc->kind == FAULT_LATE_KILL) {
        g_assert_true(WIFSIGNALED(status));
    } else if (fc->kind != FAULT_RANDOM_KILL) {
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), !=, 0);
    }
    if (fc->kind == FAULT_GUARDIAN_KILL)
        t0 = testRecoverWithoutGuardian(fc, st, cloneName);
    if (daemonMode) {
        testCheck(st, cloneName, fc->kind, before, t0, running);
    } else {
        g_autofree char *beforeFile = testWriteNames(before);
        const char *args[] = { "check", fc->strategy, st->srcName, cloneName,
                               faultNames[fc->kind], beforeFile, NULL };

        testWorker(args);
    }
}


/* The next clone works, and the source boots cold with all its records. */
static void
testNextClone(StrategyState *st)
{
    g_autofree char *policy = g_strdup_printf("<clonepolicy>%s</clonepolicy>", st->policy);
    g_autofree char *xml = NULL;
    virDomainPtr clone;

    if (st->isTemplate) {
        /* the next template of the source is made and deleted; the source's
         * own cold boot is the pre-copy cases' */
        g_autofree char *name = g_strdup_printf("%s-t%u", st->srcName, ++st->n);
        virCloneTemplatePtr tmpl = virDomainCloneTemplateCreate(tgGuestDomain(st->src), name,
                                                                policy, 0);

        if (!tmpl)
            g_error("the next template fails: %s", virCloneGetLastErrorMessage());
        g_assert_cmpint(virCloneTemplateDelete(tmpl, 0), ==, 0);
        virCloneTemplateFree(tmpl);
        testTemplateGone(name);
        testSourceProgresses(st->src, NULL);
        testSourceConsistent(st->src);
        return;
    }
    clone = virDomainCloneLive(tgGuestDomain(st->src), policy, 0);
    if (!clone)
        g_error("the next clone fails: %s", virCloneGetLastErrorMessage());
    xml = virDomainGetXMLDesc(clone, 0);
    g_assert_cmpint(virDomainDestroy(clone), ==, 0);
    virDomainFree(clone);
    if (!daemonMode) {
        /* no hook under the embedded driver: the transient clone's overlay is ours */
        g_autoptr(GRegex) re = g_regex_new("<source file='([^']+)'", 0, 0, NULL);
        g_autoptr(GMatchInfo) m = NULL;
        g_autofree char *file = NULL;

        if (g_regex_match(re, xml, 0, &m) && (file = g_match_info_fetch(m, 1)))
            g_unlink(file);
    }
    testSourceProgresses(st->src, &st->recordsBefore);
    testColdBoot(st);
    testSourceConsistent(st->src);
}


static void
testAfterFaults(gconstpointer data)
{
    const char *strategy = data;
    StrategyState *st = testState(strategy);

    if (daemonMode) {
        testNextClone(st);
    } else {
        const char *args[] = { "next", strategy, st->srcName, NULL };

        testWorker(args);
    }
}


/* A clone that fails inside the caller (the library's own rollback): the
 * error is the one expected, the source runs on, nothing is left. */
static void
testInProcessFailure(TgGuest *src, const char *policy, int wantCode, const char *overlayDir)
{
    g_autofree char *dir = g_path_get_dirname(tgGuestDiskPath(src));
    g_autoptr(GHashTable) before = tgListDir(dir);
    g_autoptr(GHashTable) beforeOverlays = overlayDir ? tgListDir(overlayDir) : NULL;
    guint domains = tgNumDomains(env);
    virDomainPtr clone = virDomainCloneLive(tgGuestDomain(src), policy, 0);
    const virCloneError *err = virCloneGetLastError();

    g_assert_null(clone);
    g_assert_nonnull(err);
    g_test_message("refused as expected: %s", err->message);
    g_assert_cmpint(err->code, ==, wantCode);
    g_assert_cmpuint(tgNumDomains(env), ==, domains);
    testSourceProgresses(src, NULL);
    testNothingLeft(src, before, "none");
    if (overlayDir) {
        g_autoptr(GHashTable) now = tgListDir(overlayDir);

        g_assert_cmpuint(g_hash_table_size(now), ==, g_hash_table_size(beforeOverlays));
    }
    testSourceConsistent(src);
}


/* The overlay directory is a full file system (a 64 KiB tmpfs, in the
 * test's own mount namespace): the files phase fails and rolls back. */
static void
testDiskFull(gconstpointer data)
{
    const char *strategy = data;
    StrategyState *st = testState(strategy);
    g_autofree char *mnt = g_build_filename(faultDir, "full", NULL);
    g_autofree char *policy = g_strdup_printf("<clonepolicy>%s<disks dir='%s'/></clonepolicy>",
                                              st->policy, mnt);
    const char *mountArgv[] = { "mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", mnt, NULL };
    const char *umountArgv[] = { "umount", mnt, NULL };
    int status = -1;

    g_assert_cmpint(g_mkdir(mnt, 0755), ==, 0);
    g_assert_true(g_spawn_sync(NULL, (char **)mountArgv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, &status, NULL));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    testInProcessFailure(st->src, policy, VIR_CLONE_ERR_DISK, mnt);
    g_assert_true(g_spawn_sync(NULL, (char **)umountArgv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, &status, NULL));
    g_rmdir(mnt);
}


/* The guest agent stops answering (SIGSTOP, from inside the guest, a
 * moment after the command that asks for it returns): the clone inherits
 * the stopped agent, its identity steps time out and the clone is rolled
 * back. */
static void
testAgentSilent(void)
{
    TgGuestOpts opts = { .name_prefix = "fa", .memory_mib = 256, .buffer_mib = 16,
                         .mode = TG_MODE_IDLE, .with_agent = TRUE };
    g_autoptr(TgGuest) src = tgGuestStartOrDie(env, &opts);
    g_autoptr(GError) err = NULL;
    g_autofree char *reply = NULL;
    const char *stop =
        "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\",\"arg\":[\"-c\","
        "\"sleep 1; kill -STOP $(cat /var/run/qemu-ga.pid)\"]}}";
    const char *policy =
        "<clonepolicy><memory strategy='background'/><identity>"
        "<hostname mode='set'>silent-clone</hostname>"
        "<guest-agent on-failure='fail' timeout='3'/></identity></clonepolicy>";
    const virCloneError *cerr;
    virDomainPtr clone;

    if (tgGuestAgentCommand(src, "{\"execute\":\"guest-ping\"}", 60000, NULL, &err) < 0 ||
        tgGuestAgentCommand(src, stop, 10000, &reply, &err) < 0)
        g_error("cannot stop the guest agent: %s", err->message);
    g_usleep(2 * G_USEC_PER_SEC);
    g_assert_cmpint(tgGuestAgentCommand(src, "{\"execute\":\"guest-ping\"}", 2000, NULL, &err), <, 0);
    clone = virDomainCloneLive(tgGuestDomain(src), policy, 0);
    g_assert_null(clone);
    cerr = virCloneGetLastError();
    g_test_message("refused as expected: %s", cerr->message);
    g_assert_true(cerr->code == VIR_CLONE_ERR_TIMEOUT || cerr->code == VIR_CLONE_ERR_GUEST);
    testSourceProgresses(src, NULL);
    testSourceConsistent(src);
}


/* A second job on the same source from another process: refused at once,
 * or (--wait) made once the first is done. */
static void
testSecondJob(gconstpointer data)
{
    gboolean wait = GPOINTER_TO_INT(data);
    StrategyState *st = &backgroundState;
    /* any kind but caller-kill makes the caller wait at the point; no
     * fault is injected here */
    FaultCase first = { .strategy = "background", .point = "phase:transfer", .kind = FAULT_CLONE_KILL };
    g_autofree char *name1 = g_strdup_printf("%s-j%u", st->srcName, ++st->n);
    g_autofree char *name2 = g_strdup_printf("%s-j%u", st->srcName, ++st->n);
    g_autofree char *uri = testConnUri();
    g_autofree char *policyFile = g_build_filename(faultDir, "second.xml", NULL);
    g_autofree char *policy = g_strdup_printf("<clonepolicy><name>%s</name>%s</clonepolicy>",
                                              name2, st->policy);
    const char *argv[] = { cli, "-c", uri, "clone-live", st->srcName, "--policy", policyFile,
                           wait ? "--wait" : NULL, NULL };
    g_autofree char *out = NULL;
    g_autofree char *errOut = NULL;
    GPid caller;
    GPid second = 0;
    int fd1 = -1;
    int status;
    gint64 t0;

    /* the first job stops at the transfer */
    caller = testSpawnCaller(&first, name1, FALSE, &fd1);
    g_assert_true(testWaitMarker(first.point, caller));
    g_assert_true(g_file_set_contents(policyFile, policy, -1, NULL));
    if (!wait) {
        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                   &out, &errOut, &status, NULL));
        g_test_message("second job: %s", errOut);
        g_assert_false(g_spawn_check_wait_status(status, NULL));
        g_assert_nonnull(strstr(errOut, "is being cloned already"));
    } else {
        g_assert_true(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                    G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &second, NULL));
        g_usleep(G_USEC_PER_SEC);
        /* still waiting for the lock */
        g_assert_cmpint(waitpid(second, &status, WNOHANG), ==, 0);
    }
    testReleaseMarker(first.point);
    status = testReapCaller(caller, fd1, &t0, NULL, NULL);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    testDiscardClone(name1);
    if (wait) {
        g_assert_cmpint(waitpid(second, &status, 0), ==, second);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        testDiscardClone(name2);
    }
}


static void
testAddCase(const char *strategy, const char *point, FaultKind kind, guint delayMs)
{
    FaultCase *fc = g_new0(FaultCase, 1);
    g_autofree char *path = NULL;

    fc->strategy = strategy;
    fc->point = point;
    fc->kind = kind;
    fc->delayMs = delayMs;
    if (point)
        path = g_strdup_printf("/faults/%s/%s/%s", strategy, faultNames[kind], point);
    else
        path = g_strdup_printf("/faults/%s/%s/%ums", strategy, faultNames[kind], delayMs);
    g_test_add_data_func_full(path, fc, testFault, g_free);
}


static gboolean
testPointAfter(const char *point, const char *first, const char *const *points)
{
    gboolean seen = FALSE;

    for (guint i = 0; points[i]; i++) {
        seen |= g_str_equal(points[i], first);
        if (g_str_equal(points[i], point))
            return seen;
    }
    return FALSE;
}


/* The matrix: every point for a dead caller; the points with a clone for
 * its QEMU's death; the points of the copy for the source's death and a
 * daemon restart. */
static void
testAddStrategy(const char *strategy, const char *const *points)
{
    static const char *const sourceKill[] = {
        "precopy:pre-switchover", "precopy:forked",
        "background:paused", "background:forked", "background:started", NULL,
    };
    static const char *const guardianKill[] = {
        "phase:files", "precopy:pre-switchover", "background:forked", "phase:finish-clone", NULL,
    };
    static const char *const daemonRestart[] = {
        "phase:transfer", "precopy:pre-switchover", "precopy:forked",
        "background:paused", "background:forked", "phase:finish-clone", NULL,
    };

    gboolean isTemplate = testState(strategy)->isTemplate;

    for (guint i = 0; points[i]; i++) {
        testAddCase(strategy, points[i], FAULT_CALLER_KILL, 0);
        if (!daemonMode || isTemplate)
            continue;
        if (testPointAfter(points[i], "phase:transfer", points) &&
            !g_str_equal(points[i], "phase:persist"))
            testAddCase(strategy, points[i], FAULT_CLONE_KILL, 0);
        if (g_strv_contains(sourceKill, points[i]))
            testAddCase(strategy, points[i], FAULT_SOURCE_KILL, 0);
        if (g_strv_contains(daemonRestart, points[i]))
            testAddCase(strategy, points[i], FAULT_DAEMON_RESTART, 0);
        if (g_strv_contains(guardianKill, points[i]))
            testAddCase(strategy, points[i], FAULT_GUARDIAN_KILL, 0);
    }
    testAddCase(strategy, "job:ended", FAULT_LATE_KILL, 0);
    for (guint delay = 300; delay <= 2500 && !isTemplate; delay += 1100)
        testAddCase(strategy, NULL, FAULT_RANDOM_KILL, delay + g_random_int_range(0, 400));
    if (daemonMode && !isTemplate)
        g_test_add_data_func(g_strdup_printf("/faults/%s/overlay-dir-full/files", strategy),
                             strategy, testDiskFull);
    /* its own suite, so that it runs after the cases (GLib runs a suite's
     * own cases before its sub-suites) */
    g_test_add_data_func(g_strdup_printf("/faults/%s/zz-after/next-clone-and-cold-boot", strategy),
                         strategy, testAfterFaults);
}


static void
testSetupStrategy(const char *strategy, TgGuest *src)
{
    StrategyState *st = testState(strategy);

    st->src = src;
    st->srcName = g_strdup(tgGuestName(src));
    st->diskDir = g_path_get_dirname(tgGuestDiskPath(src));
    /* a busy TCG guest converges only with a generous downtime limit */
    st->policy = g_strdup_printf("<memory strategy='%s' downtime-limit='2000'/>",
                                 st->isTemplate ? "precopy" : strategy);
}


static TgGuest *
testBootSource(const char *strategy)
{
    TgGuestOpts opts = { .name_prefix = g_str_equal(strategy, "precopy") ? "fp" : "fb",
                         .memory_mib = 256, .buffer_mib = 32, .mode = TG_MODE_BUSY };

    return tgGuestStartOrDie(env, &opts);
}


static TgGuest *
testAdoptByName(const char *name)
{
    g_autoptr(GError) err = NULL;
    virDomainPtr dom = virDomainLookupByName(tgEnvConn(env), name);
    TgGuest *g;

    if (!dom || !(g = tgGuestAdopt(env, dom, &err)))
        g_error("cannot find '%s': %s", name, err ? err->message : virGetLastErrorMessage());
    virDomainFree(dom);
    return g;
}


/* The embedded root's side, in a process of its own (TG_ROOT):
 *   boot                    boots both sources, prints "STRATEGY NAME DISK"
 *   check STRATEGY SOURCE CLONE FAULT BEFORE-FILE
 *                           the next call of the library, then the checks
 *   next STRATEGY SOURCE    the next clone and a cold boot
 *   discard CLONE           a clone made before the caller was killed goes
 *   cleanup                 removes every domain of the root */
static int
testWorkerMain(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    const char *what = argc > 0 ? argv[0] : "";

    if (!(env = tgEnvNew(&err)))
        g_error("cannot open the root: %s", err->message);
    daemonMode = FALSE;
    if (g_str_equal(what, "boot")) {
        const char *strategies[] = { "precopy", "background" };

        for (guint i = 0; i < G_N_ELEMENTS(strategies); i++) {
            g_autoptr(TgGuest) g = testBootSource(strategies[i]);

            printf("%s %s %s\n", strategies[i], tgGuestName(g), tgGuestDiskPath(g));
        }
    } else if (g_str_equal(what, "check") && argc == 6) {
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;
        g_autoptr(GHashTable) before = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        int kind = -1;

        /* the next call of the library on the root rolls the job back */
        g_assert_cmpint(virConnectCloneLiveReap(tgEnvConn(env), 0), >=, 0);
        testSetupStrategy(argv[1], testAdoptByName(argv[2]));
        g_assert_true(g_file_get_contents(argv[5], &text, NULL, NULL));
        lines = g_strsplit(text, "\n", -1);
        for (guint i = 0; lines[i]; i++)
            if (*lines[i])
                g_hash_table_add(before, g_strdup(lines[i]));
        for (guint i = 0; i < G_N_ELEMENTS(faultNames); i++)
            if (g_str_equal(faultNames[i], argv[4]))
                kind = (int)i;
        g_assert_cmpint(kind, >=, 0);
        testCheck(testState(argv[1]), argv[3], kind, before, g_get_monotonic_time(), 0);
        tgGuestFree(testState(argv[1])->src);
    } else if (g_str_equal(what, "next") && argc == 3) {
        testSetupStrategy(argv[1], testAdoptByName(argv[2]));
        testNextClone(testState(argv[1]));
        tgGuestFree(testState(argv[1])->src);
    } else if (g_str_equal(what, "discard") && argc == 2) {
        testDiscardClone(argv[1]);
    } else if (g_str_equal(what, "cleanup")) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(tgEnvConn(env), &doms, 0);

        for (int i = 0; i < n; i++) {
            if (virDomainIsActive(doms[i]) == 1)
                virDomainDestroy(doms[i]);
            if (virDomainIsPersistent(doms[i]) == 1)
                virDomainUndefineFlags(doms[i], VIR_DOMAIN_UNDEFINE_NVRAM);
            virDomainFree(doms[i]);
        }
        free(doms);
    } else {
        g_printerr("unknown worker command '%s'\n", what);
        return 2;
    }
    tgEnvFree(env);
    return 0;
}


/* Embedded: the worker boots the sources in a root the test never opens. */
static void
testEmbeddedSetup(void)
{
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    const char *args[] = { "boot", NULL };
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_auto(GStrv) envp = NULL;
    g_autoptr(GError) err = NULL;
    int status;

    sharedRoot = g_build_filename("/var/tmp", "tgf-XXXXXX", NULL);
    g_assert_nonnull(g_mkdtemp(sharedRoot));
    /* a failed assertion here leaves no guest of the root running */
    if (tgRootReaperStart(sharedRoot, &reaperFd, &err) < 0)
        g_error("cannot start the root's reaper: %s", err->message);
    envp = g_environ_setenv(g_get_environ(), "TG_ROOT", sharedRoot, TRUE);
    g_ptr_array_add(argv, (char *)self);
    g_ptr_array_add(argv, (char *)"--worker");
    g_ptr_array_add(argv, (char *)args[0]);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                      &out, NULL, &status, &err) ||
        !g_spawn_check_wait_status(status, &err))
        g_error("cannot boot the sources: %s", err->message);
    lines = g_strsplit(out, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], " ", 3);
        StrategyState *st;

        if (g_strv_length(f) != 3)
            continue;
        st = testState(f[0]);
        st->srcName = g_strdup(f[1]);
        st->diskDir = g_path_get_dirname(f[2]);
        st->policy = g_strdup_printf("<memory strategy='%s' downtime-limit='2000'/>", f[0]);
    }
    g_assert_nonnull(precopyState.srcName);
    g_assert_nonnull(backgroundState.srcName);
    templateState.srcName = g_strdup(precopyState.srcName);
    templateState.diskDir = g_strdup(precopyState.diskDir);
    templateState.policy = g_strdup(precopyState.policy);
}


static void
testEmbeddedCleanup(void)
{
    const char *args[] = { "cleanup", NULL };
    const char *rm[] = { "rm", "-rf", sharedRoot, NULL };

    testWorker(args);
    /* a caller killed while its embedded driver probed QEMU's capabilities
     * leaves that probe running */
    tgRootKillQemu(sharedRoot);
    g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    self = argv[0];
    if (argc > 1 && g_str_equal(argv[1], "--worker")) {
        virSetErrorFunc(NULL, tgQuietErrors);
        sharedRoot = g_strdup(g_getenv("TG_ROOT"));
        g_test_init(&argc, &argv, NULL);
        return testWorkerMain(argc - 2, argv + 2);
    }
    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, tgQuietErrors);
    virCloneSetLogFunc(tgLibLogToTest, NULL);
    daemonMode = testUri() != NULL;
    if (!(cli = g_getenv("LIBVIRT_CLONE_CLI"))) {
        g_printerr("LIBVIRT_CLONE_CLI must name virt-clone-live\n");
        return 1;
    }
    if (daemonMode && !g_getenv("LVC_DAEMON_CTL")) {
        g_printerr("TG_URI without LVC_DAEMON_CTL: run me with tests/daemon/run-in-daemon.sh\n");
        return 1;
    }
    faultDir = g_dir_make_tmp("lvc-faults-XXXXXX", NULL);
    if (daemonMode) {
        if (!(env = tgEnvNew(&err))) {
            g_printerr("cannot set up libvirt: %s\n", err->message);
            return 1;
        }
        testSetupStrategy("precopy", testBootSource("precopy"));
        testSetupStrategy("template", precopyState.src);
        testSetupStrategy("background", testBootSource("background"));
    } else {
        testEmbeddedSetup();
    }
    testAddStrategy("precopy", precopyPoints);
    testAddStrategy("background", backgroundPoints);
    testAddStrategy("template", templatePoints);
    if (daemonMode) {
        g_test_add_func("/faults/guest/agent-not-answering", testAgentSilent);
        g_test_add_data_func("/faults/second-job/refused", GINT_TO_POINTER(FALSE), testSecondJob);
        g_test_add_data_func("/faults/second-job/waits", GINT_TO_POINTER(TRUE), testSecondJob);
    }
    ret = g_test_run();
    if (daemonMode) {
        tgGuestFree(precopyState.src);
        tgGuestFree(backgroundState.src);
        tgEnvFree(env);
    } else {
        testEmbeddedCleanup();
    }
    return ret;
}
