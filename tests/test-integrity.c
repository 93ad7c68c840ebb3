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
 * Skipped if the guest has no attack module (no kernel headers).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sys/resource.h>

#include "clone_integrity.h"
#include "clone_memory.h"
#include "testutils-guest.h"

#define CMD_MS 60000

static TgEnv *env;


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
    TgGuestOpts opts = {
        .name_prefix = "itg", .mode = TG_MODE_IDLE, .memory_mib = 256, .buffer_mib = 16,
        .disk_records_off = TRUE, .cpu_features = "smep smap",
    };
    testWatch w = { 0 };
    g_autoptr(TgGuest) src = NULL;
    testWatch s = { 0 };
    virDomainPtr clone;
    g_autoptr(GArray) diffs = NULL;
    const cloneIntegrityDiff *d;
    g_autofree char *got = NULL;
    g_autofree char *line = NULL;
    guint64 addr;
    guint sites = 0;

    if (!g_str_equal(g_getenv("TG_ATTACK") ? g_getenv("TG_ATTACK") : "1", "1")) {
        g_test_skip("the test guest has no attack module (no kernel headers: scripts/install-deps.sh)");
        return;
    }
    src = tgGuestStartOrDie(env, &opts);
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


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, tgQuietErrors);
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    g_test_add_func("/integrity/attacks", testWatchAttacks);
    ret = g_test_run();
    tgEnvFree(env);
    return ret;
}
