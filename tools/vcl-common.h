/*
 * vcl-common.h: what the commands of virt-clone-live share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
};

typedef struct {
    const char *uri;
    gboolean quiet;
    gboolean json;
    gboolean debug;
} vclGlobal;

/* A command: run() gets its name as argv[0] and returns an exit code. */
typedef struct {
    const char *name;
    int (*run)(vclGlobal *g, int argc, char **argv);
    const char *summary;
} vclCommand;

/* Prints "error: MESSAGE" on standard error. */
void vclError(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
