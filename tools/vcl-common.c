/*
 * vcl-common.c: what the commands of virt-clone-live share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vcl-common.h"
#include "vcl-policy.h"

void
vclError(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, _("error: %s\n"), msg);
}


gboolean
vclParseOptions(const char *usage, GOptionEntry *entries, int *argc, char ***argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new(usage);
    g_autoptr(GError) gerr = NULL;

    if (entries)
        g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, argc, argv, &gerr)) {
        vclError("%s", gerr->message);
        return FALSE;
    }
    return TRUE;
}


virDomainPtr
vclLookupDomain(virConnectPtr conn, const char *name)
{
    virDomainPtr dom = virDomainLookupByName(conn, name);

    if (!dom)
        vclError(_("domain '%1$s' not found: %2$s"), name, virGetLastErrorMessage());
    return dom;
}


void
vclProgressEnd(vclProgress *p)
{
    if (p->bar && p->phase >= 0 && p->phase != VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK &&
        p->phase != VIR_DOMAIN_CLONE_LIVE_PHASE_DONE)
        fputc('\n', stderr);
    p->phase = -1;
}


void
vclPrintJSON(JsonBuilder *b)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *text = NULL;

    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}


void
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


const char *
vclStatStr(virTypedParameterPtr s, int n, const char *name)
{
    const char *v = NULL;

    virTypedParamsGetString(s, n, name, &v);
    return v ? v : "";
}


unsigned long long
vclStatULL(virTypedParameterPtr s, int n, const char *name)
{
    unsigned long long v = 0;

    virTypedParamsGetULLong(s, n, name, &v);
    return v;
}


/* The steps inside the guest and the network, in the text summary: only
 * what happened (a policy without such steps adds no line). */
void
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
void
vclPrintSummaryJSON(const char *source, const char *tmpl, virTypedParameterPtr s, int n)
{
    static const struct {
        const char *member;
        const char *stat;
        double scale;          /* 0: an integer as it is */
        gboolean live;         /* only for a live clone: not from a template */
    } numbers[] = {
        { "source_pause_ms", VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE, 1000.0, TRUE },
        { "downtime_ms", VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME, 0, TRUE },
        { "total_ms", VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL, 1000.0, FALSE },
        { "clone_start_ms", VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START, 1000.0, FALSE },
        { "disk_fork_ms", VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK, 1000.0, TRUE },
        { "bytes", VIR_DOMAIN_CLONE_LIVE_STATS_BYTES, 0, FALSE },
        { "passes", VIR_DOMAIN_CLONE_LIVE_STATS_PASSES, 0, TRUE },
        { "fallbacks", VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS, 0, TRUE },
        { "guest_steps", VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS, 0, FALSE },
        { "guest_steps_failed", VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED, 0, FALSE },
        { "guest_identity_ms", VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY, 1000.0, FALSE },
        { "network_up_ms", VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP, 1000.0, FALSE },
        { "dirty_rate_mib_s", VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE, 1048576.0, TRUE },
        { "copy_rate_mib_s", VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE, 1048576.0, TRUE },
        { "predicted_passes", VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES, 0, TRUE },
    };
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, source);
    /* a domain from a template: "name" and "template" instead of "clone" */
    if (tmpl) {
        json_builder_set_member_name(b, "template");
        json_builder_add_string_value(b, tmpl);
        json_builder_set_member_name(b, "name");
    } else {
        json_builder_set_member_name(b, "clone");
    }
    json_builder_add_string_value(b, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
    json_builder_set_member_name(b, "uuid");
    json_builder_add_string_value(b, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_UUID));
    if (!tmpl) {
        json_builder_set_member_name(b, "strategy");
        json_builder_add_string_value(b, vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(numbers); i++) {
        unsigned long long v = vclStatULL(s, n, numbers[i].stat);

        if (tmpl && numbers[i].live)
            continue;
        json_builder_set_member_name(b, numbers[i].member);
        if (numbers[i].scale > 0)
            json_builder_add_double_value(b, (double)v / numbers[i].scale);
        else
            json_builder_add_int_value(b, (gint64)v);
    }
    json_builder_end_object(b);
    vclPrintJSON(b);
}


char *
vclBuildPolicy(const char *policyFile, const char *name, const char *nameTemplate,
               const char *strategy, gboolean sandbox)
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
    } else if (nameTemplate) {
        g_autofree char *esc = g_markup_escape_text(nameTemplate, -1);

        g_string_append_printf(xml, "  <name template='%s'/>\n", esc);
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
