/*
 * clone_strategy.h: the automatic choice between pre-copy and the
 * background snapshot, from the source's measured dirty rate
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_policy.h"

/* calc-dirty-rate's sample: its length, and pages sampled per GiB (QEMU's
 * maximum; the cost is hashing 16 MiB per GiB of RAM twice) */
#define CLONE_DIRTY_SAMPLE_MS 100
#define CLONE_DIRTY_SAMPLE_PAGES 4096

/* the copy's rate before this host measured one (bytes/s) */
#define CLONE_COPY_RATE_DEFAULT (G_GUINT64_CONSTANT(512) << 20)

/* pre-copy only while it is predicted to send at most this many times the
 * RAM: the background snapshot copies each page once, but at 1.4-2.1x the
 * time per byte (docs/how-it-works.md, "The automatic strategy") */
#define CLONE_PRECOPY_MAX_RAM_FACTOR 2.0
/* pre-copy is judged to have changed pace, and given up for the background
 * snapshot, after twice its predicted passes and 3 more: QEMU counts a
 * synchronisation more than the model, and an idle guest under load took
 * 4 passes where 2 were predicted */
#define CLONE_PRECOPY_PASS_FACTOR 2
#define CLONE_PRECOPY_EXTRA_PASSES 3
#define CLONE_PRECOPY_MAX_PASSES(predicted) \
    ((predicted) * CLONE_PRECOPY_PASS_FACTOR + CLONE_PRECOPY_EXTRA_PASSES)

typedef struct {
    guint64 ramBytes;            /* the guest's RAM: what the first pass copies */
    guint64 dirtyBytesPerS;      /* the source's dirty rate, as sampled */
    guint64 copyBytesPerS;       /* the copy's rate */
    guint downtimeMs;            /* the policy's downtime limit */
} cloneStrategyInput;

typedef struct {
    cloneStrategy strategy;      /* precopy or background */
    guint passes;                /* pre-copy: predicted passes, the last one
                                  * during the pause; 0 if it does not converge */
    guint64 bytes;               /* pre-copy: predicted bytes sent */
    guint maxPasses;             /* pre-copy: passes before it is given up */
} cloneStrategyChoice;

void cloneStrategyChoose(const cloneStrategyInput *in, cloneStrategyChoice *out);

/* The copy's rate as this host last measured it (@runDir/copy-rate.json),
 * or CLONE_COPY_RATE_DEFAULT.  Never fails: a missing or unreadable record
 * is the default. */
guint64 cloneStrategyCopyRate(const char *runDir);
/* Records a pre-copy that sent @bytes in @us at full speed (no bandwidth
 * cap): the record keeps a moving average.  Failures are logged only. */
void cloneStrategyRecordCopy(const char *runDir, guint64 bytes, gint64 us);
