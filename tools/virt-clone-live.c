/*
 * virt-clone-live: live-clone running libvirt domains, in the style of virsh
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"

#include "vcl-eventloop.h"
#include "vcl-policy.h"
#include "vcl-reap.h"
#include "vcl-sandbox.h"

static int cmdCloneLive(vclGlobal *g, int argc, char **argv);

/* the first one is the command of "virt-clone-live DOMAIN" */
static const vclCommand vclCommands[] = {
    { "clone-live", cmdCloneLive, N_("live-clone a running domain") },
    { "policy-validate", cmdPolicyValidate, N_("check clone policy files") },
    { "policy-dump", cmdPolicyDump, N_("print the effective policy, every default filled in") },
    { "reap", cmdReap, N_("destroy the clones whose time-to-live has passed") },
    { "sandbox-watch", cmdSandboxWatch, N_("report what a sandbox clone sends, as it happens") },
};


static void
vclLog(int priority, const char *message, void *opaque)
{
    vclGlobal *g = opaque;

    if (priority == VIR_CLONE_LOG_WARN)
        fprintf(stderr, _("warning: %s\n"), message);
    else if (priority == VIR_CLONE_LOG_INFO && !g->quiet)
        fprintf(stderr, _("note: %s\n"), message);
    else if (g->debug)
        fprintf(stderr, _("debug: %s\n"), message);
}


/* ---- clone-live ---------------------------------------------------------- */

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
    printf(_("Domain '%s' cloned to '%s'\n"), source, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
    printf(_("  UUID:                %s\n"), vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_UUID));
    printf(_("  strategy:            %s\n"), vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY));
    printf(_("  source paused:       %.1f ms (QEMU downtime %llu ms)\n"),
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


static int
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
        vclError(_("domain '%s' not found: %s"), argv[1], virGetLastErrorMessage());
        return EXIT_FAILED;
    }
    clone = virDomainCloneLiveFull(dom, policy, vclProgressCb, &progress, &stats, &nstats, flags);
    if (!clone) {
        if (progress.bar && progress.phase != VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK && progress.phase >= 0)
            fputc('\n', stderr);
        vclError(_("cannot clone domain '%s': %s"), argv[1], virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    vclPrintSummary(g, argv[1], stats, nstats);
    virTypedParamsFree(stats, nstats);
    return EXIT_OK;
}


/* ---- main ---------------------------------------------------------------- */

static void
vclUsage(FILE *f)
{
    fprintf(f, "%s", _("Usage: virt-clone-live [-c URI] COMMAND [ARGS...]\n"
                       "       virt-clone-live [-c URI] DOMAIN [OPTIONS]   (same as clone-live)\n\n"
                       "Options:\n"
                       "  -c, --connect URI   hypervisor connection URI\n"
                       "  -d, --debug         print the library's debug messages\n"
                       "  -h, --help          show this help\n"
                       "  -V, --version       show the version\n\n"
                       "Commands:\n"));
    for (size_t i = 0; i < G_N_ELEMENTS(vclCommands); i++)
        fprintf(f, "  %-20s%s\n", vclCommands[i].name, _(vclCommands[i].summary));
    fprintf(f, "%s", _("\nRun 'virt-clone-live COMMAND --help' for the options of a command.\n"));
}


static const vclCommand *
vclFindCommand(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(vclCommands); i++)
        if (g_str_equal(vclCommands[i].name, name))
            return &vclCommands[i];
    return NULL;
}


int
main(int argc, char **argv)
{
    vclGlobal g = { 0 };
    const vclCommand *cmd;
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    int i = 1;

    /* libvirt's embedded driver logs warnings to stderr by default
     * ("tainted: custom-argv", ...); keep the CLI's output ours unless
     * the user configured libvirt's logging */
    g_setenv("LIBVIRT_LOG_OUTPUTS", "4:file:/dev/null", FALSE);
    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);

    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((g_str_equal(argv[i], "-c") || g_str_equal(argv[i], "--connect")) && i + 1 < argc) {
            g.uri = argv[++i];
        } else if (g_str_has_prefix(argv[i], "--connect=")) {
            g.uri = argv[i] + strlen("--connect=");
        } else if (g_str_equal(argv[i], "-d") || g_str_equal(argv[i], "--debug")) {
            g.debug = TRUE;
        } else if (g_str_equal(argv[i], "-h") || g_str_equal(argv[i], "--help")) {
            vclUsage(stdout);
            return EXIT_OK;
        } else if (g_str_equal(argv[i], "-V") || g_str_equal(argv[i], "--version")) {
            printf("virt-clone-live %s\n", PACKAGE_VERSION);
            return EXIT_OK;
        } else {
            vclError(_("unknown option '%s'"), argv[i]);
            vclUsage(stderr);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        vclUsage(stderr);
        return EXIT_USAGE;
    }
    virCloneSetLogFunc(vclLog, &g);

    /* "virt-clone-live DOMAIN" means "virt-clone-live clone-live DOMAIN" */
    cmd = vclFindCommand(argv[i]);
    g_ptr_array_add(args, cmd ? argv[i] : (char *)"clone-live");
    if (!cmd)
        cmd = &vclCommands[0];
    for (int j = cmd == vclFindCommand(argv[i]) ? i + 1 : i; j < argc; j++)
        g_ptr_array_add(args, argv[j]);
    g_ptr_array_add(args, NULL);
    return cmd->run(&g, (int)args->len - 1, (char **)args->pdata);
}
