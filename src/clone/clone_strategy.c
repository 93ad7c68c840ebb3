/*
 * clone_strategy.c: the automatic choice between pre-copy and the
 * background snapshot
 *
 * Pre-copy sends the RAM while the source runs, then what the source
 * dirtied meanwhile, pass after pass, until what is left fits the downtime
 * limit.  With the source's dirty rate D (QEMU's calc-dirty-rate, sampled
 * while the clone's QEMU starts) and the copy's rate B, pass k takes
 * r_k / B and leaves r_{k+1} = D * r_k / B: the passes shrink by D / B.
 * The choice is pre-copy when they converge and the whole sends at most
 * CLONE_PRECOPY_MAX_RAM_FACTOR times the RAM, the background snapshot
 * otherwise.  docs/how-it-works.md gives the measured basis.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_strategy.h"
#include "clone_file.h"

/* the model's bound on passes: a ratio close to 1 converges too slowly to
 * be worth pre-copy anyway */
#define CLONE_MODEL_MAX_PASSES 64

void
cloneStrategyChoose(const cloneStrategyInput *in, cloneStrategyChoice *out)
{
    double copy = MAX(in->copyBytesPerS, 1);
    double limit = copy * in->downtimeMs / 1000.0;
    double left = (double)in->ramBytes;
    double sent = 0;
    guint passes = 0;

    memset(out, 0, sizeof(*out));
    out->strategy = CLONE_STRATEGY_BACKGROUND;
    while (passes < CLONE_MODEL_MAX_PASSES) {
        passes++;
        sent += left;
        if (left <= limit)
            break;
        /* what the source dirties while this pass is sent */
        left = in->dirtyBytesPerS * (left / copy);
    }
    if (left > limit || sent > CLONE_PRECOPY_MAX_RAM_FACTOR * MAX(in->ramBytes, 1))
        return;
    out->strategy = CLONE_STRATEGY_PRECOPY;
    out->passes = passes;
    out->bytes = (guint64)sent;
    out->maxPasses = CLONE_PRECOPY_MAX_PASSES(passes);
}


static char *
cloneStrategyRecordPath(const char *runDir)
{
    return g_build_filename(runDir, "copy-rate.json", NULL);
}


guint64
cloneStrategyCopyRate(const char *runDir)
{
    g_autofree char *path = NULL;
    g_autoptr(JsonObject) o = NULL;
    gint64 rate;

    if (!runDir)
        return CLONE_COPY_RATE_DEFAULT;
    path = cloneStrategyRecordPath(runDir);
    if (cloneFileReadJSON(path, &o, _("copy rate record")) <= 0) {
        virCloneResetLastError();   /* none yet, or unreadable: the default */
        return CLONE_COPY_RATE_DEFAULT;
    }
    rate = json_object_get_int_member_with_default(o, "bytes-per-second", 0);
    return rate > 0 ? (guint64)rate : CLONE_COPY_RATE_DEFAULT;
}


void
cloneStrategyRecordCopy(const char *runDir, guint64 bytes, gint64 us)
{
    g_autofree char *path = NULL;
    g_autoptr(JsonObject) o = NULL;
    guint64 rate;
    guint64 old;

    /* too short to say anything about the rate */
    if (!runDir || us < 50 * G_TIME_SPAN_MILLISECOND || bytes < (G_GUINT64_CONSTANT(16) << 20))
        return;
    rate = (guint64)(bytes / ((double)us / G_USEC_PER_SEC));
    path = cloneStrategyRecordPath(runDir);
    if (cloneFileReadJSON(path, &o, _("copy rate record")) > 0 &&
        (old = (guint64)json_object_get_int_member_with_default(o, "bytes-per-second", 0)) > 0)
        rate = (rate + old) / 2;
    virCloneResetLastError();
    g_clear_pointer(&o, json_object_unref);
    o = json_object_new();
    json_object_set_int_member(o, "bytes-per-second", (gint64)rate);
    if (cloneFileWriteJSON(path, o, _("copy rate record")) < 0) {
        CLONE_DEBUG("not recorded: %s", virCloneGetLastErrorMessage());
        virCloneResetLastError();
    }
}
