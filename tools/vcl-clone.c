/*
 * vcl-clone.c: "virt-clone-live clone-live": live-clone a running domain
 *
 *   virt-clone-live clone-live DOMAIN [--name NAME] [--strategy S]
 *                   [--sandbox] [--policy FILE] [--persistent] [--paused]
 *                   [--wait] [--json] [--quiet] [--count N]
 *
 * Builds the policy from the options (or reads --policy), clones through
 * virDomainCloneLiveFull() with a progress bar on a terminal, and prints
 * the summary: text, JSON, or only the clone's name.  With --count, the
 * clones start from a template made for them (vcl-template.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"

#include "vcl-clone.h"
#include "vcl-eventloop.h"
#include "vcl-policy.h"
#include "vcl-template.h"

/* The strategy, and when the automatic choice measured the source, what it
 * chose from (a forced strategy, or QEMU before 8.2, samples nothing). */
static void
vclPrintStrategy(virTypedParameterPtr s, int n)
{
    const char *strategy = vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY);
    unsigned long long dirty = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE);
    unsigned long long copy = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE);
    unsigned long long passes = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES);
    unsigned long long fallbacks = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS);
    double dirtyMiB = dirty / 1048576.0;
    double copyMiB = copy / 1048576.0;

    if (!dirty && !copy) {
        printf(_("  strategy:            %s\n"), strategy);
    } else if (fallbacks) {
        /* pre-copy was chosen, and given up when it did not keep the pace */
        printf(g_dngettext(GETTEXT_PACKAGE,
                           "  strategy:            %1$s (pre-copy chosen, then given up: source dirties %2$.0f MiB/s, copy %3$.0f MiB/s, %4$llu pass predicted)\n",
                           "  strategy:            %1$s (pre-copy chosen, then given up: source dirties %2$.0f MiB/s, copy %3$.0f MiB/s, %4$llu passes predicted)\n",
                           passes),
               strategy, dirtyMiB, copyMiB, passes);
    } else if (passes) {
        printf(g_dngettext(GETTEXT_PACKAGE,
                           "  strategy:            %1$s (chosen: source dirties %2$.0f MiB/s, copy %3$.0f MiB/s, %4$llu pass predicted)\n",
                           "  strategy:            %1$s (chosen: source dirties %2$.0f MiB/s, copy %3$.0f MiB/s, %4$llu passes predicted)\n",
                           passes),
               strategy, dirtyMiB, copyMiB, passes);
    } else {
        printf(_("  strategy:            %1$s (chosen: source dirties %2$.0f MiB/s, copy %3$.0f MiB/s)\n"),
               strategy, dirtyMiB, copyMiB);
    }
}


static void
vclPrintSummary(vclGlobal *g, const char *source, virTypedParameterPtr s, int n)
{
    if (g->json) {
        vclPrintSummaryJSON(source, NULL, s, n);
        return;
    }
    if (g->quiet) {
        printf("%s\n", vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
        return;
    }
    printf(_("Domain '%1$s' cloned to '%2$s'\n"), source, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
    printf(_("  UUID:                %s\n"), vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_UUID));
    vclPrintStrategy(s, n);
    printf(_("  source paused:       %1$.1f ms (QEMU downtime %2$llu ms)\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE) / 1000.0,
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME));
    printf(_("  time to clone:       %.2f s\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL) / 1e6);
    printf(_("  bytes copied:        %.1f MiB\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_BYTES) / 1048576.0);
    vclPrintGuestSummary(s, n);
}


int
cmdCloneLive(vclGlobal *g, int argc, char **argv)
{
    g_autofree char *name = NULL;
    g_autofree char *strategy = NULL;
    g_autofree char *policyFile = NULL;
    g_autofree char *policy = NULL;
    gboolean persistent = FALSE, paused = FALSE, wait = FALSE, sandbox = FALSE;
    int count = G_MININT;      /* not given */
    GOptionEntry entries[] = {
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("name of the clone (default: DOMAIN-cloneN)"), N_("NAME") },
        { "persistent", 0, 0, G_OPTION_ARG_NONE, &persistent, N_("define the clone, not only start it"), NULL },
        { "paused", 0, 0, G_OPTION_ARG_NONE, &paused, N_("leave the clone paused"), NULL },
        { "strategy", 0, 0, G_OPTION_ARG_STRING, &strategy, N_("memory copy: auto, precopy or background"), N_("STRATEGY") },
        { "policy", 0, 0, G_OPTION_ARG_FILENAME, &policyFile, N_("clone policy XML file"), N_("FILE") },
        { "sandbox", 0, 0, G_OPTION_ARG_NONE, &sandbox, N_("isolate the clone's network"), NULL },
        { "wait", 0, 0, G_OPTION_ARG_NONE, &wait, N_("wait for a clone of the same domain under way"), NULL },
        { "json", 0, 0, G_OPTION_ARG_NONE, &g->json, N_("print the summary as JSON"), NULL },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &g->quiet, N_("print only the clone's name"), NULL },
        { "count", 0, 0, G_OPTION_ARG_INT, &count, N_("make N clones from a template made for them"), N_("N") },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomain) clone = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    unsigned int flags = 0;
    vclProgress progress = { .bar = FALSE, .phase = -1 };

    if (!vclParseOptions(_("DOMAIN - live-clone a running domain"), entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 2) {
        vclError("%s", _("clone-live takes exactly one DOMAIN"));
        return EXIT_USAGE;
    }
    if (strategy && !g_strv_contains((const char *const[]){ "auto", "precopy", "background", NULL }, strategy)) {
        vclError(_("unknown strategy '%s': use auto, precopy or background"), strategy);
        return EXIT_USAGE;
    }
    if (count != G_MININT && (count < 1 || count > VCL_COUNT_MAX)) {
        vclError(_("--count takes a number from 1 to %d"), VCL_COUNT_MAX);
        return EXIT_USAGE;
    }
    if (!(policy = vclBuildPolicy(policyFile, name, NULL, strategy, sandbox)))
        return EXIT_USAGE;
    /* before connecting, and with the file's name in the message */
    if (policyFile && !vclPolicyCheck(policyFile, policy))
        return EXIT_FAILED;
    flags |= persistent ? VIR_DOMAIN_CLONE_LIVE_PERSISTENT : 0;
    flags |= paused ? VIR_DOMAIN_CLONE_LIVE_PAUSED : 0;
    flags |= wait ? VIR_DOMAIN_CLONE_LIVE_WAIT : 0;
    progress.bar = !g->quiet && !g->json && isatty(STDERR_FILENO);

    if (!(conn = vclConnect(g->uri)))
        return EXIT_FAILED;
    if (!(dom = vclLookupDomain(conn, argv[1])))
        return EXIT_FAILED;
    if (count != G_MININT)
        return vclCloneLiveCount(g, dom, policyFile ? policy : NULL, name, strategy, sandbox,
                                 count, flags);
    clone = virDomainCloneLiveFull(dom, policy, vclProgressCb, &progress, &stats, &nstats, flags);
    if (!clone) {
        vclProgressEnd(&progress);
        vclError(_("cannot clone domain '%1$s': %2$s"), argv[1], virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    vclPrintSummary(g, argv[1], stats, nstats);
    virTypedParamsFree(stats, nstats);
    return EXIT_OK;
}
