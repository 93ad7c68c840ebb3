/*
 * bench-util.h: what the benchmarks under bench/ share: progress lines on
 * stderr, the library's log, the machine's description
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* progress lines show the time since this call */
void benchLogStart(void);
/* microseconds since benchLogStart() */
gint64 benchElapsedUs(void);
void benchLog(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* virCloneSetLogFunc() callback: warnings and errors, and everything when
 * benchLogVerbose is set */
extern gboolean benchLogVerbose;
void benchLibLog(int priority, const char *message, void *opaque);

/* virSetErrorFunc() callback that prints nothing: errors are reported by
 * the benchmark where they matter */
void benchSilence(void *opaque, virErrorPtr err);

/* Parses a benchmark's options (@entries, @description for --help);
 * prints the error and returns FALSE on a usage error. */
gboolean benchParseOptions(GOptionContext *ctx, GOptionEntry *entries, int *argc, char ***argv,
                           const char *description);

/* "model name" of /proc/cpuinfo */
char *benchCpuModel(void);
