/*
 * vcl-clone.c: "virt-clone-live clone-live": live-clone a running domain
 *
 *   virt-clone-live clone-live DOMAIN [--name NAME] [--strategy S]
 *                   [--sandbox] [--policy FILE] [--persistent] [--paused]
 *                   [--wait] [--json] [--quiet]
 *
 * Builds the policy from the options (or reads --policy), clones through
 * virDomainCloneLiveFull() with a progress bar on a terminal, and prints
 * the summary: text, JSON, or only the clone's name.
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

typedef struct {
    gboolean bar;
    int phase;
} vclProgress;


static void
vclProgressCb(virDomainPtr source G_GNUC_UNUSED, int phase, unsigned int percent, void *opaque)
{
    vclProgress *p = opaque;
    char bar[41];
    guint fill = percent * 40 / 100;

    if (!p->bar)
        return;
    memset(bar, '#', fill);
    memset(bar + fill, ' ', 40 - fill);
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3u%% %-12s", bar, percent, virDomainCloneLivePhaseToString(phase));
    if (phase == VIR_DOMAIN_CLONE_LIVE_PHASE_DONE || phase == VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK)
        fputc('\n', stderr);
    p->phase = phase;
    fflush(stderr);
}


static const char *
vclStatStr(virTypedParameterPtr s, int n, const char *name)
{
    const char *v = NULL;

    virTypedParamsGetString(s, n, name, &v);
    return v ? v : "";
}


static unsigned long long
vclStatULL(virTypedParameterPtr s, int n, const char *name)
{
    unsigned long long v = 0;

    virTypedParamsGetULLong(s, n, name, &v);
    return v;
}


/* The steps inside the guest and the network, in the text summary: only
 * what happened (a policy without such steps adds no line). */
static void
vclPrintGuestSummary(virTypedParameterPtr s, int n)
{
    unsigned long long steps = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS);
    unsigned long long failed = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED);
    unsigned long long identityUs = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY);
    unsigned long long networkUs = vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP);

    if (steps)
        printf(_("  guest steps:         %llu\n"), steps);
    if (failed)
        printf(_("  guest steps failed:  %llu\n"), failed);
    if (identityUs)
        printf(_("  guest identity:      %.1f ms\n"), identityUs / 1000.0);
    if (networkUs)
        printf(_("  network up:          %.1f ms after the resume\n"), networkUs / 1000.0);
}


/* The summary as one JSON object (names escaped, whatever they hold). */
static void
vclPrintSummaryJSON(const char *source, virTypedParameterPtr s, int n)
{
    static const struct {
        const char *member;
        const char *stat;
        double scale;          /* 0: an integer as it is */
    } numbers[] = {
        { "source_pause_ms", VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, 1000.0 },
        { "downtime_ms", VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME, 0 },
        { "total_ms", VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL, 1000.0 },
        { "clone_start_ms", VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START, 1000.0 },
        { "disk_fork_ms", VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK, 1000.0 },
        { "bytes", VIR_DOMAIN_CLONE_LIVE_STATS_BYTES, 0 },
        { "passes", VIR_DOMAIN_CLONE_LIVE_STATS_PASSES, 0 },
        { "fallbacks", VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS, 0 },
        { "guest_steps", VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS, 0 },
        { "guest_steps_failed", VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED, 0 },
        { "guest_identity_ms", VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY, 1000.0 },
        { "network_up_ms", VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP, 1000.0 },
    };
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, source);
    json_builder_set_member_name(b, "clone");
    json_builder_add_string_value(b, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
    json_builder_set_member_name(b, "uuid");
    json_builder_add_string_value(b, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_UUID));
    json_builder_set_member_name(b, "strategy");
    json_builder_add_string_value(b, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY));
    for (size_t i = 0; i < G_N_ELEMENTS(numbers); i++) {
        unsigned long long v = vclStatULL(s, n, numbers[i].stat);

        json_builder_set_member_name(b, numbers[i].member);
        if (numbers[i].scale > 0)
            json_builder_add_double_value(b, (double)v / numbers[i].scale);
        else
            json_builder_add_int_value(b, (gint64)v);
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}


static void
vclPrintSummary(vclGlobal *g, const char *source, virTypedParameterPtr s, int n)
{
    if (g->json) {
        vclPrintSummaryJSON(source, s, n);
        return;
    }
    if (g->quiet) {
        printf("%s\n", vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
        return;
    }
    printf(_("Domain '%1$s' cloned to '%2$s'\n"), source, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
    printf(_("  UUID:                %s\n"), vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_UUID));
    printf(_("  strategy:            %s\n"), vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY));
    printf(_("  source paused:       %1$.1f ms (QEMU downtime %2$llu ms)\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE) / 1000.0,
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME));
    printf(_("  time to clone:       %.2f s\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL) / 1e6);
    printf(_("  bytes copied:        %.1f MiB\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_BYTES) / 1048576.0);
    vclPrintGuestSummary(s, n);
}


static char *
vclBuildPolicy(const char *policyFile, const char *name, const char *strategy,
               gboolean sandbox)
{
    g_autoptr(GString) xml = NULL;

    if (policyFile) {
        if (name || strategy || sandbox) {
            vclError("%s", _("--policy cannot be combined with --name, --strategy or --sandbox: put them in the policy"));
            return NULL;
        }
        return vclPolicyRead(policyFile);
    }
    xml = g_string_new("<clonepolicy>\n");
    if (name) {
        g_autofree char *esc = g_markup_escape_text(name, -1);

        g_string_append_printf(xml, "  <name>%s</name>\n", esc);
    }
    if (strategy) {
        g_autofree char *esc = g_markup_escape_text(strategy, -1);

        g_string_append_printf(xml, "  <memory strategy='%s'/>\n", esc);
    }
    if (sandbox)
        g_string_append(xml, "  <network mode='sandbox'/>\n");
    g_string_append(xml, "</clonepolicy>\n");
    return g_string_free(g_steal_pointer(&xml), FALSE);
}


int
cmdCloneLive(vclGlobal *g, int argc, char **argv)
{
    g_autofree char *name = NULL;
    g_autofree char *strategy = NULL;
    g_autofree char *policyFile = NULL;
    g_autofree char *policy = NULL;
    gboolean persistent = FALSE, paused = FALSE, wait = FALSE, sandbox = FALSE;
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
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(_("DOMAIN - live-clone a running domain"));
    g_autoptr(GError) gerr = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virDomain) clone = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    unsigned int flags = 0;
    vclProgress progress = { .bar = FALSE, .phase = -1 };

    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        vclError("%s", gerr->message);
        return EXIT_USAGE;
    }
    if (argc != 2) {
        vclError("%s", _("clone-live takes exactly one DOMAIN"));
        return EXIT_USAGE;
    }
    if (strategy && !g_strv_contains((const char *const[]){ "auto", "precopy", "background", NULL }, strategy)) {
        vclError(_("unknown strategy '%s': use auto, precopy or background"), strategy);
        return EXIT_USAGE;
    }
    if (!(policy = vclBuildPolicy(policyFile, name, strategy, sandbox)))
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
    if (!(dom = virDomainLookupByName(conn, argv[1]))) {
        vclError(_("domain '%1$s' not found: %2$s"), argv[1], virGetLastErrorMessage());
        return EXIT_FAILED;
    }
    clone = virDomainCloneLiveFull(dom, policy, vclProgressCb, &progress, &stats, &nstats, flags);
    if (!clone) {
        if (progress.bar && progress.phase != VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK && progress.phase >= 0)
            fputc('\n', stderr);
        vclError(_("cannot clone domain '%1$s': %2$s"), argv[1], virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    vclPrintSummary(g, argv[1], stats, nstats);
    virTypedParamsFree(stats, nstats);
    return EXIT_OK;
}
