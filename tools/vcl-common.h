/*
 * vcl-common.h: what the commands of virt-clone-live share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "libvirt-clone/libvirt-clone.h"

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

/* Parses the options @entries (NULL: none but --help) of a command whose
 * parameters @usage describes; prints the error and returns FALSE on a
 * usage error. */
gboolean vclParseOptions(const char *usage, GOptionEntry *entries, int *argc, char ***argv);

/* The domain @name, or NULL when it cannot be found (printed). */
virDomainPtr vclLookupDomain(virConnectPtr conn, const char *name);

typedef struct {
    gboolean bar;              /* draw the progress bar on standard error */
    int phase;                 /* the last phase drawn, -1: none */
} vclProgress;

/* A virDomainCloneLiveProgressCallback drawing a bar; @opaque: vclProgress */
void vclProgressCb(virDomainPtr source, int phase, unsigned int percent, void *opaque);

/* Ends the line of a bar that a failure left unfinished. */
void vclProgressEnd(vclProgress *p);

/* A statistic, or "" / 0 when @s lacks it. */
const char *vclStatStr(virTypedParameterPtr s, int n, const char *name);
unsigned long long vclStatULL(virTypedParameterPtr s, int n, const char *name);

/* The lines of the guest steps in a text summary, only those that happened. */
void vclPrintGuestSummary(virTypedParameterPtr s, int n);

/* A clone's summary as one line of JSON; @tmpl: the template it started
 * from (then "name" and "template" instead of "clone", and not the
 * members of the memory copy), or NULL for a live clone. */
void vclPrintSummaryJSON(const char *source, const char *tmpl, virTypedParameterPtr s, int n);

/* Prints the object of @b as one line. */
void vclPrintJSON(JsonBuilder *b);

/* The policy of the options --name, --strategy and --sandbox, or the file
 * @policyFile, which cannot be combined with them; prints the error and
 * returns NULL on failure.  @nameTemplate: the <name template=...> when
 * @name is NULL, or NULL for the library's default. */
char *vclBuildPolicy(const char *policyFile, const char *name, const char *nameTemplate,
                     const char *strategy, gboolean sandbox);
