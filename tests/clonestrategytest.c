/*
 * clonestrategytest.c: the automatic choice's model and this host's copy
 * rate record (src/clone/clone_strategy.c), without a guest
 *
 * The choice on real guests whose dirty rate the test sets is in
 * tests/test-clone-live.c (/clone-live/auto-rule).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>

#include "clone_strategy.h"

#define MiB (G_GUINT64_CONSTANT(1) << 20)

typedef struct {
    const char *name;
    guint64 ramMiB;
    guint64 dirtyMiBs;
    guint64 copyMiBs;
    guint downtimeMs;
    cloneStrategy want;
    guint passes;              /* 0: any */
} testChoiceCase;


static void
testChoice(gconstpointer data)
{
    const testChoiceCase *tc = data;
    cloneStrategyInput in = {
        .ramBytes = tc->ramMiB * MiB, .dirtyBytesPerS = tc->dirtyMiBs * MiB,
        .copyBytesPerS = tc->copyMiBs * MiB, .downtimeMs = tc->downtimeMs,
    };
    cloneStrategyChoice out;

    cloneStrategyChoose(&in, &out);
    g_assert_cmpint(out.strategy, ==, tc->want);
    if (tc->want == CLONE_STRATEGY_BACKGROUND) {
        g_assert_cmpuint(out.passes, ==, 0);
        g_assert_cmpuint(out.maxPasses, ==, 0);
        return;
    }
    if (tc->passes)
        g_assert_cmpuint(out.passes, ==, tc->passes);
    g_assert_cmpuint(out.maxPasses, ==, 2 * out.passes + 3);
    g_assert_cmpuint(out.bytes, >=, in.ramBytes);
    g_assert_cmpuint(out.bytes, <=, CLONE_PRECOPY_MAX_RAM_FACTOR * in.ramBytes);
}


/* the passes shrink by D/B; pre-copy while the total stays within twice the RAM */
static const testChoiceCase cases[] = {
    /* nothing dirtied: the RAM, then the empty pass in the pause */
    { "idle", 512, 0, 512, 20, CLONE_STRATEGY_PRECOPY, 2 },
    /* 512 -> 64 -> 8 MiB, which fits 20 ms at 512 MiB/s (10.24 MiB) */
    { "eighth", 512, 64, 512, 20, CLONE_STRATEGY_PRECOPY, 3 },
    /* sends 1/(1 - 0.4) = 1.67x the RAM */
    { "forty-percent", 1024, 205, 512, 20, CLONE_STRATEGY_PRECOPY, 0 },
    /* would converge, but sends 1/(1 - 0.6) = 2.5x the RAM */
    { "sixty-percent", 1024, 307, 512, 20, CLONE_STRATEGY_BACKGROUND, 0 },
    /* never converges */
    { "as-fast-as-the-copy", 512, 512, 512, 20, CLONE_STRATEGY_BACKGROUND, 0 },
    { "faster-than-the-copy", 512, 1300, 512, 20, CLONE_STRATEGY_BACKGROUND, 0 },
    /* the README demo's busy guest and the benchmark's busy guests,
     * sampled over 100 ms: their whole buffer */
    { "busy-128-of-512", 512, 1280, 600, 20, CLONE_STRATEGY_BACKGROUND, 0 },
    { "busy-256-of-1024", 1024, 2600, 600, 20, CLONE_STRATEGY_BACKGROUND, 0 },
    /* a RAM that fits the downtime at once */
    { "tiny", 8, 1000, 1024, 20, CLONE_STRATEGY_PRECOPY, 1 },
    /* a copy of 0 bytes/s (no rate known) is not a division by zero */
    { "no-copy-rate", 512, 10, 0, 20, CLONE_STRATEGY_BACKGROUND, 0 },
};


static void
testCopyRateRecord(void)
{
    g_autofree char *runDir = g_dir_make_tmp("clonestrategy-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(runDir, "copy-rate.json", NULL);

    /* none yet: the default */
    g_assert_cmpuint(cloneStrategyCopyRate(runDir), ==, CLONE_COPY_RATE_DEFAULT);
    g_assert_cmpuint(cloneStrategyCopyRate(NULL), ==, CLONE_COPY_RATE_DEFAULT);

    /* 400 MiB in 1 s */
    cloneStrategyRecordCopy(runDir, 400 * MiB, G_USEC_PER_SEC);
    g_assert_cmpuint(cloneStrategyCopyRate(runDir), ==, 400 * MiB);
    /* the average of the last and this one: (400 + 800) / 2 */
    cloneStrategyRecordCopy(runDir, 400 * MiB, G_USEC_PER_SEC / 2);
    g_assert_cmpuint(cloneStrategyCopyRate(runDir), ==, 600 * MiB);
    /* too short or too small to say anything: unchanged */
    cloneStrategyRecordCopy(runDir, 400 * MiB, 10 * G_TIME_SPAN_MILLISECOND);
    cloneStrategyRecordCopy(runDir, 1 * MiB, G_USEC_PER_SEC);
    g_assert_cmpuint(cloneStrategyCopyRate(runDir), ==, 600 * MiB);

    /* a damaged record is the default, and no error is left behind */
    g_assert_true(g_file_set_contents(path, "{not json", -1, NULL));
    g_assert_cmpuint(cloneStrategyCopyRate(runDir), ==, CLONE_COPY_RATE_DEFAULT);
    g_assert_null(virCloneGetLastError());
    /* and the next copy writes a good one over it */
    cloneStrategyRecordCopy(runDir, 300 * MiB, G_USEC_PER_SEC);
    g_assert_cmpuint(cloneStrategyCopyRate(runDir), ==, 300 * MiB);
    g_assert_null(virCloneGetLastError());

    g_unlink(path);
    g_rmdir(runDir);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/strategy/choice/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], testChoice);
    }
    g_test_add_func("/strategy/copy-rate-record", testCopyRateRecord);
    return g_test_run();
}
