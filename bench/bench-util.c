/*
 * bench-util.c: what the benchmarks under bench/ share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libvirt-clone/libvirt-clone.h"

static gint64 benchT0;
gboolean benchLogVerbose;


void
benchLogStart(void)
{
    benchT0 = g_get_monotonic_time();
}


gint64
benchElapsedUs(void)
{
    return g_get_monotonic_time() - benchT0;
}


void
benchLog(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;
    gint64 t = benchElapsedUs();

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%4d:%02d] %s\n", (int)(t / G_USEC_PER_SEC / 60),
            (int)(t / G_USEC_PER_SEC % 60), msg);
}


void
benchLibLog(int priority, const char *message, void *opaque G_GNUC_UNUSED)
{
    if (benchLogVerbose || priority >= VIR_CLONE_LOG_WARN)
        benchLog("  libvirt-clone: %s", message);
}


void
benchSilence(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


gboolean
benchParseOptions(GOptionContext *ctx, GOptionEntry *entries, int *argc, char ***argv,
                  const char *description)
{
    g_autoptr(GError) err = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, description);
    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        fprintf(stderr, "%s\n", err->message);
        return FALSE;
    }
    return TRUE;
}


char *
benchCpuModel(void)
{
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents("/proc/cpuinfo", &text, NULL, NULL) ||
        !(p = strstr(text, "model name")) || !(p = strchr(p, ':')))
        return g_strdup("unknown CPU");
    return g_strstrip(g_strndup(p + 1, strcspn(p + 1, "\n")));
}
