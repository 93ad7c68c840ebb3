/*
 * test-integrity.c: the kernel integrity watch (src/clone/clone_integrity.c)
 * on a real running test guest, read live through its QEMU process
 * (src/clone/clone_memory.c), against real attacks.
 *
 * One boot of the test guest (qemu64 with SMEP and SMAP) and one live clone
 * of it: a baseline of the clone (its memory just after the clone instant),
 * then, in the clone,
 *   - a benign module loaded and unloaded and an SO_TIMESTAMP socket opened
 *     then closed (the netstamp_needed_key static key rewrites kernel text
 *     both ways): no difference;
 *   - the attack module (tests/guest/attack/clonetest_attack.c, built from
 *     the guest kernel's headers) patching a byte of kernel text, rewriting
 *     IDT gate 0x80, clearing CR4.SMEP: each is found by the next check, at
 *     the address the module reports.
 *
 * Then the public watch (virDomainCloneIntegrityWatch), with its baseline
 * at the clone instant (a clone made paused, watched, then resumed), a
 * fresh clone of the same source per case:
 *   - each attack is alerted through the callback within 2 s of the
 *     attack's workload command returning (or before it returned), and the
 *     action is taken (paused; for smep paused at once, then destroyed,
 *     and the watch reports the end);
 *   - the quiet run: a busy clone (the page writer), SO_TIMESTAMP sockets
 *     opened and closed, the benign module loaded and unloaded, for
 *     TG_INTEGRITY_QUIET_S seconds (default 300), with action pause: no
 *     alert, and the clone still runs.
 *
 * Under a libvirtd (test-integrity-daemon: tests/daemon/run-in-daemon.sh,
 * TG_URI set) only the policy path runs: per attack, a sandbox clone
 * with <alert log=...> and <integrity interval='1s' action='pause'/> (for
 * smep action='destroy'), whose watcher process takes the baseline before
 * the clone runs; the attack (the module loaded through the guest agent:
 * a sandbox's serial console is cut off) is in the alert log within 2 s,
 * and the clone is paused, or destroyed.  (Under the embedded driver that
 * policy is refused: the watcher cannot open the root.)  And the installed
 * CLI in processes of its own: integrity-watch --json --action pause
 * reports a text attack and pauses the clone; memory-peek and memory-dump
 * --format elf read that clone; memory-peek refuses the source.
 * Skipped if the guest has no attack module (no kernel headers).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <libvirt/libvirt-qemu.h>

#include "clone_integrity.h"
#include "clone_memory.h"
#include "clonetest-format.h"
#include "testutils-guest.h"

#define CMD_MS 60000

static TgEnv *env;
static gboolean daemonMode;        /* TG_URI: under run-in-daemon.sh */
static TgGuest *src;               /* one boot, shared by the cases */
static TgGuestOpts srcOpts = {
    .name_prefix = "itg", .mode = TG_MODE_IDLE, .memory_mib = 256, .buffer_mib = 16,
    .disk_records_off = TRUE, .cpu_features = "smep smap",
};


/* The shared source, booted on first use; NULL (the case skipped) if the
 * guest has no attack module. */
static TgGuest *
testSource(void)
{
    if (daemonMode && !g_str_has_prefix(g_test_get_path(), "/integrity/policy/")) {
        g_test_skip("under a daemon only the policy path runs (the rest: test-integrity)");
        return NULL;
    }
    if (!g_str_equal(g_getenv("TG_ATTACK") ? g_getenv("TG_ATTACK") : "1", "1")) {
        g_test_skip("the test guest has no attack module (no kernel headers: scripts/install-deps.sh)");
        return NULL;
    }
    if (!src)
        src = tgGuestStartOrDie(env, &srcOpts);
    return src;
}


/* This process's CPU time (user + system, all threads), in microseconds. */
static gint64
testCpuUs(void)
{
    struct rusage ru;

    g_assert_cmpint(getrusage(RUSAGE_SELF, &ru), ==, 0);
    return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}


typedef struct {
    TgGuest *guest;
    cloneMemory *mem;
    cloneIntegrityBaseline *base;
} testWatch;


/* A check now: the differences, formatted one a line ("" if none);
 * @forgiven (optional): jump-label sites that toggled. */
static char *
testCheck(testWatch *w, GArray **diffs_out, guint *forgiven)
{
    g_autoptr(GArray) regs = NULL;
    g_autoptr(GArray) diffs = NULL;
    g_autoptr(GString) s = g_string_new(NULL);
    gint64 t0 = g_get_monotonic_time();
    gint64 cpu0 = testCpuUs();
    guint sites = 0;
    guint i;

    regs = cloneIntegrityReadRegisters(tgGuestDomain(w->guest));
    g_assert_nonnull(regs);
    diffs = cloneIntegrityCheck(w->base, cloneMemoryReadCb, w->mem,
                                (cloneIntegrityRegs *)(void *)regs->data, regs->len,
                                &sites);
    if (!diffs)
        g_error("check failed: %s", virCloneGetLastErrorMessage());
    g_test_message("check: %u difference(s), %u jump-label site(s) toggled, "
                   "%.1f ms (%.1f ms of this process's CPU)", diffs->len, sites,
                   (g_get_monotonic_time() - t0) / 1000.0,
                   (testCpuUs() - cpu0) / 1000.0);
    if (forgiven)
        *forgiven = sites;
    for (i = 0; i < diffs->len; i++) {
        g_autofree char *d = cloneIntegrityDiffFormat(&g_array_index(diffs, cloneIntegrityDiff, i));

        g_test_message("  %s", d);
        g_string_append_printf(s, "%s\n", d);
    }
    if (diffs_out)
        *diffs_out = g_steal_pointer(&diffs);
    return g_string_free(g_steal_pointer(&s), FALSE);
}


/* The first difference of @kind, or NULL. */
static const cloneIntegrityDiff *
testFind(GArray *diffs, cloneIntegrityKind kind)
{
    guint i;

    for (i = 0; i < diffs->len; i++) {
        if (g_array_index(diffs, cloneIntegrityDiff, i).kind == kind)
            return &g_array_index(diffs, cloneIntegrityDiff, i);
    }
    return NULL;
}


/* Runs "attack KIND" (or "module benign"): the module's report line. */
static char *
testAttack(testWatch *w, const char *cmd)
{
    g_autoptr(GError) err = NULL;
    char *line = NULL;

    if (tgSerialCommand(w->guest, cmd, CMD_MS, &err) < 0 ||
        tgSerialWait(w->guest, "^CLONETEST attack report=status=0 ", CMD_MS, &line, &err) < 0)
        g_error("%s: %s", cmd, err->message);
    g_test_message("%s: %s", cmd, line);
    return line;
}


/* The hex value after "NAME=0x" in @line. */
static guint64
testReportValue(const char *line, const char *name)
{
    g_autofree char *key = g_strdup_printf(" %s=0x", name);
    const char *p = strstr(line, key);

    g_assert_nonnull(p);
    return g_ascii_strtoull(p + strlen(key), NULL, 16);
}


/* The baseline of @g now (and @mem, its memory), after a look at its
 * control registers. */
static cloneIntegrityBaseline *
testBaseline(TgGuest *g, cloneMemory **mem)
{
    g_autoptr(GArray) regs = NULL;
    const cloneIntegrityRegs *r0;
    cloneIntegrityBaseline *b;
    gint64 t0;

    if (!(*mem = cloneMemoryOpen(tgGuestDomain(g))))
        g_error("cannot open the guest's memory: %s", virCloneGetLastErrorMessage());
    regs = cloneIntegrityReadRegisters(tgGuestDomain(g));
    g_assert_nonnull(regs);
    g_assert_cmpuint(regs->len, ==, 1);
    r0 = &g_array_index(regs, cloneIntegrityRegs, 0);
    g_test_message("%s: cr0=0x%" G_GINT64_MODIFIER "x cr3=0x%" G_GINT64_MODIFIER "x cr4=0x%"
                   G_GINT64_MODIFIER "x idt=0x%" G_GINT64_MODIFIER "x/%u gdt=0x%"
                   G_GINT64_MODIFIER "x/%u", tgGuestName(g),
                   r0->cr0, r0->cr3, r0->cr4, r0->idt_base, r0->idt_limit,
                   r0->gdt_base, r0->gdt_limit);
    g_assert_true(r0->cr0 & CLONE_CR0_WP);
    g_assert_true(r0->cr4 & CLONE_CR4_SMEP);
    g_assert_true(r0->cr4 & CLONE_CR4_SMAP);

    t0 = g_get_monotonic_time();
    b = cloneIntegrityBaselineNew(cloneMemoryReadCb, *mem,
                                  (cloneIntegrityRegs *)(void *)regs->data, regs->len);
    if (!b)
        g_error("baseline: %s", virCloneGetLastErrorMessage());
    g_test_message("baseline: %" G_GUINT64_FORMAT " bytes of kernel image in %.1f ms",
                   cloneIntegrityBaselineImageBytes(b),
                   (g_get_monotonic_time() - t0) / 1000.0);
    return b;
}


static void
testWatchAttacks(void)
{
    g_autoptr(GError) err = NULL;
    testWatch w = { 0 };
    testWatch s = { 0 };
    virDomainPtr clone;
    g_autoptr(GArray) diffs = NULL;
    const cloneIntegrityDiff *d;
    g_autofree char *got = NULL;
    g_autofree char *line = NULL;
    guint64 addr;
    guint sites = 0;

    if (!testSource())
        return;
    if (!(clone = virDomainCloneLive(tgGuestDomain(src), NULL, 0)))
        g_error("cannot clone: %s", virCloneGetLastErrorMessage());
    w.guest = tgGuestAdopt(env, clone, &err);
    virDomainFree(clone);
    if (!w.guest)
        g_error("cannot adopt the clone: %s", err->message);
    s.guest = src;
    s.base = testBaseline(s.guest, &s.mem);
    w.base = testBaseline(w.guest, &w.mem);
    /* text and read-only data of a 6.1 kernel: several MiB */
    g_assert_cmpuint(cloneIntegrityBaselineImageBytes(w.base), >, 8 << 20);

    got = testCheck(&w, NULL, NULL);
    g_assert_cmpstr(got, ==, "");
    g_clear_pointer(&got, g_free);

    /* legitimate: a module comes and goes; a static key flips */
    g_free(testAttack(&w, "module benign"));
    if (tgSerialCommand(w.guest, "timestamp on", CMD_MS, &err) < 0)
        g_error("timestamp on: %s", err->message);
    g_usleep(2 * G_USEC_PER_SEC);          /* the key's deferred work */
    got = testCheck(&w, NULL, &sites);
    g_assert_cmpstr(got, ==, "");
    /* the text did change: the rule, not luck, kept it quiet */
    g_assert_cmpuint(sites, >, 0);
    g_clear_pointer(&got, g_free);
    /* and back (JMP -> NOP where the first toggle went NOP -> JMP) */
    if (tgSerialCommand(w.guest, "timestamp off", CMD_MS, &err) < 0)
        g_error("timestamp off: %s", err->message);
    g_usleep(2 * G_USEC_PER_SEC);
    got = testCheck(&w, NULL, NULL);
    g_assert_cmpstr(got, ==, "");
    g_clear_pointer(&got, g_free);

    /* (b) a byte of kernel text */
    line = testAttack(&w, "attack text");
    addr = testReportValue(line, "addr");
    g_clear_pointer(&line, g_free);
    got = testCheck(&w, &diffs, NULL);
    g_assert_nonnull((d = testFind(diffs, CLONE_INTEGRITY_TEXT)));
    g_assert_cmphex(d->address, ==, addr);
    g_assert_cmphex(d->old_value, ==, 0x00);
    g_assert_cmphex(d->new_value, ==, 0x01);
    g_clear_pointer(&got, g_free);
    g_clear_pointer(&diffs, g_array_unref);

    /* (a) an IDT gate */
    line = testAttack(&w, "attack idt");
    addr = testReportValue(line, "gate");
    got = testCheck(&w, &diffs, NULL);
    g_assert_nonnull((d = testFind(diffs, CLONE_INTEGRITY_IDT_GATE)));
    g_assert_cmphex(d->address, ==, addr);
    g_assert_cmphex(d->old_value, ==, testReportValue(line, "old"));
    g_assert_cmphex(d->new_value, ==, testReportValue(line, "new"));
    g_clear_pointer(&line, g_free);
    g_clear_pointer(&got, g_free);
    g_clear_pointer(&diffs, g_array_unref);

    /* (c) CR4.SMEP */
    g_free(testAttack(&w, "attack smep"));
    got = testCheck(&w, &diffs, NULL);
    g_assert_nonnull((d = testFind(diffs, CLONE_INTEGRITY_CR4_SMEP)));
    g_assert_cmpint(d->cpu, ==, 0);
    g_assert_cmphex(d->old_value, ==, 1);
    g_assert_cmphex(d->new_value, ==, 0);
    g_assert_null(testFind(diffs, CLONE_INTEGRITY_CR4_SMAP));
    g_assert_null(testFind(diffs, CLONE_INTEGRITY_CR0_WP));

    g_clear_pointer(&got, g_free);
    g_clear_pointer(&diffs, g_array_unref);
    cloneIntegrityBaselineFree(w.base);
    cloneMemoryFree(w.mem);
    tgGuestFree(w.guest);

    /* the clone's attacks are not the source's */
    got = testCheck(&s, NULL, NULL);
    g_assert_cmpstr(got, ==, "");
    cloneIntegrityBaselineFree(s.base);
    cloneMemoryFree(s.mem);
}


/* ---- the public watch ---------------------------------------------------- */

typedef struct {
    gint64 at;                     /* monotonic, when the callback ran */
    int type;
    char *integrity;
    char *action;
    guint64 address;
    guint64 oldValue;
    guint64 newValue;
    int cpu;
} testEvent;


static void
testEventFree(gpointer data)
{
    testEvent *e = data;

    g_free(e->integrity);
    g_free(e->action);
    g_free(e);
}


static void
testEventCb(virDomainPtr dom G_GNUC_UNUSED, const virDomainCloneSandboxEvent *ev, void *opaque)
{
    testEvent *e = g_new0(testEvent, 1);

    e->at = g_get_monotonic_time();
    e->type = ev->type;
    e->integrity = g_strdup(ev->integrity);
    e->action = g_strdup(ev->action);
    e->address = ev->address;
    e->oldValue = ev->oldValue;
    e->newValue = ev->newValue;
    e->cpu = ev->cpu;
    g_async_queue_push(opaque, e);
}


static void
testQueueUnref(void *opaque)
{
    g_async_queue_unref(opaque);
}


/* A fresh clone of the shared source, watched from its clone instant (made
 * paused, watched, resumed): the watch's ID in @id, its events in @queue. */
static TgGuest *
testApiClone(int action, GAsyncQueue **queue, int *id)
{
    g_autoptr(GError) err = NULL;
    virDomainPtr clone;
    TgGuest *g;

    if (!(clone = virDomainCloneLive(tgGuestDomain(src), NULL, VIR_DOMAIN_CLONE_LIVE_PAUSED)))
        g_error("cannot clone: %s", virCloneGetLastErrorMessage());
    g = tgGuestAdopt(env, clone, &err);
    if (!g)
        g_error("cannot adopt the clone: %s", err->message);
    *queue = g_async_queue_new_full(testEventFree);
    *id = virDomainCloneIntegrityWatch(clone, 1000, action, testEventCb,
                                       g_async_queue_ref(*queue), testQueueUnref, 0);
    if (*id < 0)
        g_error("cannot watch: %s", virCloneGetLastErrorMessage());
    g_assert_cmpint(virDomainResume(clone), ==, 0);
    virDomainFree(clone);
    return g;
}


typedef struct {
    const char *cmd;
    const char *kind;              /* the event's integrity */
    int action;
} testApiCase;

static const testApiCase apiCases[] = {
    { "attack idt", "idt-gate", VIR_DOMAIN_CLONE_INTEGRITY_PAUSE },
    { "attack text", "text", VIR_DOMAIN_CLONE_INTEGRITY_PAUSE },
    { "attack smep", "cr4.smep", VIR_DOMAIN_CLONE_INTEGRITY_DESTROY },
};


/* Sends the attack and waits for its report line or an event, whichever
 * comes first: when the command returned (0 if the event came first). */
static gint64
testApiSendAttack(TgGuest *g, const char *cmd, GAsyncQueue *queue)
{
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + CMD_MS * 1000LL;

    if (tgSerialSend(g, cmd, &err) < 0)
        g_error("%s: %s", cmd, err->message);
    while (g_get_monotonic_time() < deadline) {
        g_autofree char *line = NULL;

        if (g_async_queue_length(queue) > 0)
            return 0;
        if (tgSerialWait(g, "^CLONETEST (attack report=|nak )", 100, &line, &err) == 0) {
            if (!g_str_has_prefix(line, "CLONETEST attack report=status=0 "))
                g_error("%s: %s", cmd, line);
            g_test_message("%s: %s", cmd, line);
            return g_get_monotonic_time();
        }
        g_clear_error(&err);
    }
    g_error("%s: neither a report nor an alert within %d s", cmd, CMD_MS / 1000);
}


static void
testApiAttack(gconstpointer data)
{
    const testApiCase *c = data;
    g_autoptr(GAsyncQueue) queue = NULL;
    g_autoptr(TgGuest) g = NULL;
    g_autofree char *name = NULL;
    g_autofree char *firstAction = NULL;
    testEvent *e;
    gint64 returned;
    gboolean found = FALSE;
    virDomainPtr dom;
    int id;
    int state = -1;

    if (!testSource())
        return;
    g = testApiClone(c->action, &queue, &id);
    name = g_strdup(tgGuestName(g));
    /* the clone runs, unchanged: no event */
    g_usleep(2500 * 1000);
    g_assert_cmpint(g_async_queue_length(queue), ==, 0);

    returned = testApiSendAttack(g, c->cmd, queue);
    /* 30 s: a late alert fails below with how late it was */
    while (!found && (e = g_async_queue_timeout_pop(queue, 30 * G_USEC_PER_SEC))) {
        g_test_message("event %s %s 0x%" G_GINT64_MODIFIER "x: 0x%" G_GINT64_MODIFIER
                       "x -> 0x%" G_GINT64_MODIFIER "x (%s), %+.3f s after the command returned",
                       virDomainCloneSandboxEventTypeToString(e->type),
                       e->integrity ? e->integrity : "-", e->address, e->oldValue,
                       e->newValue, e->action ? e->action : "-",
                       returned ? (e->at - returned) / 1e6 : 0.0);
        g_assert_cmpint(e->type, ==, VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY);
        if (returned)
            g_assert_cmpint(e->at - returned, <=, 2 * G_USEC_PER_SEC);
        found = g_str_equal(e->integrity, c->kind);
        if (!firstAction)
            firstAction = g_strdup(e->action);
        testEventFree(e);
    }
    g_assert_true(found);

    /* the action: on the first alert */
    g_assert_cmpstr(firstAction, ==,
                    c->action == VIR_DOMAIN_CLONE_INTEGRITY_PAUSE ? "paused" : "destroying");
    if (c->action == VIR_DOMAIN_CLONE_INTEGRITY_DESTROY) {
        g_assert_cmpstr(c->kind, ==, "cr4.smep");
        /* the watch saw it go ... */
        e = g_async_queue_timeout_pop(queue, 30 * G_USEC_PER_SEC);
        while (e && e->type == VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY) {
            testEventFree(e);
            e = g_async_queue_timeout_pop(queue, 30 * G_USEC_PER_SEC);
        }
        g_assert_nonnull(e);
        g_assert_cmpint(e->type, ==, VIR_DOMAIN_CLONE_SANDBOX_EVENT_END);
        testEventFree(e);
    }
    dom = virDomainLookupByName(tgEnvConn(env), name);
    if (c->action == VIR_DOMAIN_CLONE_INTEGRITY_PAUSE) {
        g_assert_nonnull(dom);
        g_assert_cmpint(virDomainGetState(dom, &state, NULL, 0), ==, 0);
        g_assert_cmpint(state, ==, VIR_DOMAIN_PAUSED);
    } else {
        /* ... and it is gone */
        g_assert_true(!dom || virDomainIsActive(dom) == 0);
    }
    if (dom)
        virDomainFree(dom);
    g_assert_cmpint(virDomainCloneSandboxUnwatch(id), ==, 0);
    g_assert_cmpint(virDomainCloneSandboxUnwatch(id), ==, -1);
}


static void
testApiQuiet(void)
{
    g_autoptr(GAsyncQueue) queue = NULL;
    g_autoptr(TgGuest) g = NULL;
    g_autoptr(GError) err = NULL;
    const char *env_s = g_getenv("TG_INTEGRITY_QUIET_S");
    gint64 seconds = env_s ? g_ascii_strtoll(env_s, NULL, 10) : 300;
    gint64 end;
    testEvent *e;
    guint rounds = 0;
    int state = -1;
    int id;

    if (!testSource())
        return;
    g_assert_cmpint(seconds, >, 0);
    g = testApiClone(VIR_DOMAIN_CLONE_INTEGRITY_PAUSE, &queue, &id);
    if (tgSerialCommand(g, "busy", CMD_MS, &err) < 0)
        g_error("busy: %s", err->message);
    end = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        if (tgSerialCommand(g, "timestamp on", CMD_MS, &err) < 0)
            g_error("timestamp on: %s", err->message);
        g_free(testAttack(&(testWatch){ .guest = g }, "module benign"));
        g_usleep(3 * G_USEC_PER_SEC);
        if (tgSerialCommand(g, "timestamp off", CMD_MS, &err) < 0)
            g_error("timestamp off: %s", err->message);
        g_usleep(3 * G_USEC_PER_SEC);
        rounds++;
        if ((e = g_async_queue_try_pop(queue)))
            g_error("false alert: %s %s 0x%" G_GINT64_MODIFIER "x: 0x%" G_GINT64_MODIFIER
                    "x -> 0x%" G_GINT64_MODIFIER "x (%s)",
                    virDomainCloneSandboxEventTypeToString(e->type),
                    e->integrity ? e->integrity : "-", e->address, e->oldValue,
                    e->newValue, e->action ? e->action : "-");
    }
    /* the last toggle's deferred work, then one more period */
    g_usleep(3 * G_USEC_PER_SEC);
    g_assert_cmpint(g_async_queue_length(queue), ==, 0);
    g_test_message("quiet run: %" G_GINT64_FORMAT " s, %u rounds of SO_TIMESTAMP on/off "
                   "and the benign module, busy page writer: no alert", seconds, rounds);
    g_assert_cmpint(virDomainGetState(tgGuestDomain(g), &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(virDomainCloneSandboxUnwatch(id), ==, 0);
}


/* ---- the policy: the alert watcher ----------------------------------------- */

/* The first line of file @path with every string of @needles, or NULL. */
static char *
testLogLine(const char *path, const char *const *needles)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *const *n;

        for (n = needles; *n && strstr(*l, *n); n++)
            ;
        if (!*n) {
            g_test_message("alert log: %s", *l);
            return g_strdup(*l);
        }
    }
    return NULL;
}


/* Whether file @path has a line with every string of @needles. */
static gboolean
testLogHas(const char *path, const char *const *needles)
{
    g_autofree char *line = testLogLine(path, needles);

    return line != NULL;
}


static void
testPolicy(gconstpointer data)
{
    const testApiCase *tc = data;
    gboolean destroy = tc->action == VIR_DOMAIN_CLONE_INTEGRITY_DESTROY;
    const char *attack = tc->cmd + strlen("attack ");
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *log = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *kindNeedle = g_strdup_printf("\"integrity\":\"%s\"", tc->kind);
    g_autofree char *exec = NULL;
    g_autoptr(TgGuest) g = NULL;
    const char *const needles[] = { "\"type\":\"integrity\"", kindNeedle, NULL };
    /* the action goes with the first alert, which may be another part of
     * the same attack (the SMEP attack's write to read-only data) */
    const char *const acted[] = { "\"type\":\"integrity\"",
                                  destroy ? "\"action\":\"destroying\"" : "\"action\":\"paused\"",
                                  NULL };
    g_autofree char *reply = NULL;
    g_autofree char *status = NULL;
    g_autofree char *alert = NULL;
    const char *pidp;
    const char *seenp;
    virDomainPtr clone;
    gint64 returned = 0;       /* real time, microseconds */
    gint64 deadline;
    int state = -1;

    if (!daemonMode) {
        g_test_skip("the policy's integrity watch runs in the alert watcher, another process: "
                    "it needs a libvirt daemon (test-integrity-daemon)");
        return;
    }
    if (!testSource())
        return;
    dir = g_dir_make_tmp("lvc-integrity-XXXXXX", &err);
    g_assert_no_error(err);
    log = g_build_filename(dir, "alerts.log", NULL);
    policy = g_strdup_printf("<clonepolicy><network mode='sandbox'><alert log='%s'/>"
                             "<integrity interval='1s' action='%s'/></network></clonepolicy>",
                             log, destroy ? "destroy" : "pause");
    if (!(clone = virDomainCloneLive(tgGuestDomain(src), policy, 0)))
        g_error("sandbox clone with <integrity>: %s", virCloneGetLastErrorMessage());
    g = tgGuestAdopt(env, clone, &err);
    virDomainFree(clone);
    if (!g)
        g_error("cannot adopt the clone: %s", err->message);
    /* it runs, unchanged: no integrity alert, not paused */
    g_usleep(2500 * 1000);
    g_assert_cmpint(virDomainGetState(tgGuestDomain(g), &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    g_assert_false(testLogHas(log, (const char *const[]){ "\"type\":\"integrity\"", NULL }));

    /* a sandbox's serial console is cut off (null): the attack goes
     * through the guest agent, the one channel a sandbox keeps; as the
     * workload's "attack" does, the SMEP attack gets cr4_pinned_bits's
     * address from /proc/kallsyms, and a report other than "status=0"
     * (the attack not done) fails the command */
    exec = g_strdup_printf("{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\","
                           "\"arg\":[\"-c\",\"insmod " CLONETEST_ATTACK_KO " attack=%s%s && "
                           "r=$(cat " CLONETEST_ATTACK_REPORT ") && rmmod clonetest_attack && "
                           "case $r in 'status=0 '*) ;; *) echo $r; exit 1;; esac\"]}}",
                           attack, g_str_equal(attack, "smep") ? " pinned=0x$(grep ' cr4_pinned_bits$' /proc/kallsyms"
                                             " | cut -d' ' -f1)" : "");
    if (tgGuestAgentCommand(g, "{\"execute\":\"guest-ping\"}", 60000, NULL, &err) < 0 ||
        tgGuestAgentCommand(g, exec, 10000, &reply, &err) < 0)
        g_error("%s: %s", tc->cmd, err->message);
    g_assert_nonnull((pidp = strstr(reply, "\"pid\":")));
    status = g_strdup_printf("{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":%d}}",
                             atoi(pidp + strlen("\"pid\":")));
    deadline = g_get_monotonic_time() + CMD_MS * 1000LL;
    while (!(alert = testLogLine(log, needles))) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (returned) {
            g_usleep(50 * 1000);
            continue;
        }
        /* until the clone is paused: has the attack returned? */
        g_clear_pointer(&reply, g_free);
        reply = virDomainQemuAgentCommand(tgGuestDomain(g), status, 1, 0);
        if (reply && strstr(reply, "\"exited\":true")) {
            g_test_message("%s: %s", tc->cmd, reply);
            g_assert_nonnull(strstr(reply, "\"exitcode\":0"));
            returned = g_get_real_time();
        }
        g_usleep(50 * 1000);
    }
    /* the alert's time is when the watch saw the change (the event's
     * timeMs), before its action and the log: within 2 s of the change,
     * which came before the attack returned */
    g_assert_nonnull((seenp = strstr(alert, "\"time_ms\":")));
    if (returned) {
        gint64 seen = g_ascii_strtoll(seenp + strlen("\"time_ms\":"), NULL, 10) * 1000;

        g_test_message("the watch saw it %+.3f s after the attack returned, in the log %+.3f s",
                       (seen - returned) / 1e6, (g_get_real_time() - returned) / 1e6);
        g_assert_cmpint(seen - returned, <=, 2 * G_USEC_PER_SEC);
    } else {
        g_test_message("the alert is in the log before the attack returned");
    }
    g_assert_true(testLogHas(log, acted));
    if (destroy) {
        /* destroyed right after the alert */
        deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        while (virDomainIsActive(tgGuestDomain(g)) == 1 && g_get_monotonic_time() < deadline)
            g_usleep(50 * 1000);
        g_assert_cmpint(virDomainIsActive(tgGuestDomain(g)), !=, 1);
        virResetLastError();
    } else {
        g_assert_cmpint(virDomainGetState(tgGuestDomain(g), &state, NULL, 0), ==, 0);
        g_assert_cmpint(state, ==, VIR_DOMAIN_PAUSED);
    }
    g_clear_pointer(&g, tgGuestFree);
    g_unlink(log);
    g_rmdir(dir);
}


/* Runs the installed CLI against the daemon: exit status, standard output. */
static int
testCli(const char *const *args, char **out)
{
    const char *cli = g_getenv("LIBVIRT_CLONE_CLI");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *errOut = NULL;
    g_autoptr(GError) err = NULL;
    int status = -1;

    g_ptr_array_add(argv, (char *)cli);
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, (char *)g_getenv("TG_URI"));
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add(argv, (char *)args[i]);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               out, &errOut, &status, &err));
    if (errOut && *errOut)
        g_test_message("%s (stderr): %s", args[0], errOut);
    return g_spawn_check_wait_status(status, NULL) ? 0 : -1;
}


/* What a user runs: integrity-watch alerting on an attack and pausing
 * the clone, memory-peek and memory-dump of that clone, from the
 * installed CLI in processes of their own. */
static void
testCliWatch(void)
{
    const char *cli = g_getenv("LIBVIRT_CLONE_CLI");
    g_autoptr(TgGuest) g = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    g_autofree char *out = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *dump = NULL;
    g_autofree char *head = NULL;
    virDomainPtr clone;
    GPid pid;
    int outFd = -1;
    int status = -1;
    int state = -1;
    gsize len = 0;

    if (!daemonMode) {
        g_test_skip("the CLI runs in processes of its own, which cannot open this test's "
                    "embedded driver: it needs a libvirt daemon (test-integrity-daemon)");
        return;
    }
    if (!testSource())
        return;
    g_assert_nonnull(cli);
    if (!(clone = virDomainCloneLive(tgGuestDomain(src), NULL, 0)))
        g_error("cannot clone: %s", virCloneGetLastErrorMessage());
    g = tgGuestAdopt(env, clone, &err);
    virDomainFree(clone);
    if (!g)
        g_error("cannot adopt the clone: %s", err->message);
    name = g_strdup(tgGuestName(g));
    {
        const char *argv[] = { cli, "-c", g_getenv("TG_URI"), "integrity-watch", name, "--json",
                               "--action", "pause", "--count", "1", "--timeout", "60", NULL };

        g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                               NULL, NULL, &pid, NULL, &outFd, NULL, &err));
    }
    /* its baseline, then nothing to report */
    g_usleep(5 * G_USEC_PER_SEC);
    g_assert_cmpint(waitpid(pid, &status, WNOHANG), ==, 0);
    /* not waiting for its report: the clone may be paused before it */
    if (tgSerialSend(g, "attack text", &err) < 0)
        g_error("attack text: %s", err->message);
    /* --count 1: it exits after the alert */
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_spawn_close_pid(pid);
    {
        g_autoptr(GIOChannel) ch = g_io_channel_unix_new(outFd);

        g_io_channel_set_close_on_unref(ch, TRUE);
        g_assert_cmpint(g_io_channel_read_to_end(ch, &out, &len, NULL), ==, G_IO_STATUS_NORMAL);
    }
    g_test_message("integrity-watch: %s", out);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_nonnull(strstr(out, "\"integrity\":\"text\""));
    g_assert_nonnull(strstr(out, "\"action\":\"paused\""));
    g_assert_cmpint(virDomainGetState(tgGuestDomain(g), &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_PAUSED);

    /* the paused clone's memory: a peek of its first page, an ELF dump */
    g_clear_pointer(&out, g_free);
    g_assert_cmpint(testCli((const char *const[]){ "memory-peek", name, "0x0", "4096", NULL },
                            &out), ==, 0);
    g_assert_cmpuint(strlen(out), >, 4096 * 2);
    dir = g_dir_make_tmp("lvc-integrity-XXXXXX", &err);
    g_assert_no_error(err);
    dump = g_build_filename(dir, "clone.elf", NULL);
    g_clear_pointer(&out, g_free);
    g_assert_cmpint(testCli((const char *const[]){ "memory-dump", name, dump, "--format", "elf",
                                                   NULL }, &out), ==, 0);
    g_assert_true(g_file_get_contents(dump, &head, &len, NULL));
    g_assert_cmpuint(len, >, 256ULL << 20);
    g_assert_cmpmem(head, 4, "\177ELF", 4);
    g_unlink(dump);
    g_rmdir(dir);
    /* without --force the source is refused */
    g_clear_pointer(&out, g_free);
    g_assert_cmpint(testCli((const char *const[]){ "memory-peek", tgGuestName(src), "0x0", "16",
                                                   NULL }, &out), ==, -1);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, tgQuietErrors);
    daemonMode = g_getenv("TG_URI") != NULL;
    if (daemonMode) {
        /* a sandbox moves the source's NIC: it needs one on a network */
        srcOpts.nic_network = g_getenv("LVC_DAEMON_NETWORK");
        srcOpts.with_agent = TRUE;
        if (!srcOpts.nic_network || !*srcOpts.nic_network) {
            g_printerr("TG_URI without LVC_DAEMON_NETWORK: run me with tests/daemon/run-in-daemon.sh\n");
            return 1;
        }
    }
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    g_test_add_func("/integrity/attacks", testWatchAttacks);
    g_test_add_data_func("/integrity/api/idt", &apiCases[0], testApiAttack);
    g_test_add_data_func("/integrity/api/text", &apiCases[1], testApiAttack);
    g_test_add_data_func("/integrity/api/smep", &apiCases[2], testApiAttack);
    g_test_add_func("/integrity/api/quiet", testApiQuiet);
    g_test_add_data_func("/integrity/policy/idt", &apiCases[0], testPolicy);
    g_test_add_data_func("/integrity/policy/text", &apiCases[1], testPolicy);
    g_test_add_data_func("/integrity/policy/smep", &apiCases[2], testPolicy);
    g_test_add_func("/integrity/policy/cli", testCliWatch);
    ret = g_test_run();
    g_clear_pointer(&src, tgGuestFree);
    tgEnvFree(env);
    return ret;
}
