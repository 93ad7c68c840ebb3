/*
 * vcl-template.c: the template commands of virt-clone-live
 *
 *   virt-clone-live template-create DOMAIN [--name TEMPLATE] [--policy FILE]
 *                   [--precopy|--background] [--wait] [--json] [--quiet]
 *   virt-clone-live template-list [--json]
 *   virt-clone-live template-info TEMPLATE [--json]
 *   virt-clone-live template-delete TEMPLATE
 *   virt-clone-live clone-from-template TEMPLATE [--name NAME] [--count N]
 *                   [--sandbox] [--paused] [--persistent] [--policy FILE]
 *                   [--json] [--quiet]
 *   virt-clone-live reset CLONE [--paused]
 *
 * and the clones of "clone-live DOMAIN --count N", which start from a
 * template made for them (VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"

#include "vcl-eventloop.h"
#include "vcl-policy.h"
#include "vcl-template.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virCloneTemplate, virCloneTemplateFree);

/* a template's name: at most 64 characters */
#define VCL_TEMPLATE_NAME_MAX 64


/* @prefix with @suffix, its characters that a template's name cannot hold
 * replaced by '_', shortened to leave room for @suffix. */
static char *
vclTemplateDefaultName(const char *prefix, const char *suffix)
{
    g_autoptr(GString) name = g_string_new(NULL);
    size_t room = VCL_TEMPLATE_NAME_MAX - strlen(suffix);

    for (const char *p = prefix; *p && name->len < room; p++)
        g_string_append_c(name, g_ascii_isalnum(*p) || strchr("_.+-", *p) ? *p : '_');
    if (name->len > 0 && (name->str[0] == '.' || name->str[0] == '-'))
        name->str[0] = '_';
    g_string_append(name, suffix);
    return g_string_free(g_steal_pointer(&name), FALSE);
}


static virCloneTemplatePtr
vclTemplateLookup(virConnectPtr conn, const char *name)
{
    virCloneTemplatePtr tmpl = virCloneTemplateLookupByName(conn, name, 0);

    if (!tmpl)
        vclError(_("cannot find template '%1$s': %2$s"), name, virCloneGetLastErrorMessage());
    return tmpl;
}


static int
vclInfoInt(virTypedParameterPtr p, int n, const char *name)
{
    int v = 0;

    virTypedParamsGetInt(p, n, name, &v);
    return v;
}


static unsigned int
vclInfoUInt(virTypedParameterPtr p, int n, const char *name)
{
    unsigned int v = 0;

    virTypedParamsGetUInt(p, n, name, &v);
    return v;
}


/* The members of a template in its JSON object. */
static void
vclTemplateInfoJSON(JsonBuilder *b, const char *name, virTypedParameterPtr p, int n)
{
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, name);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, vclStatStr(p, n, VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME));
    json_builder_set_member_name(b, "source_uuid");
    json_builder_add_string_value(b, vclStatStr(p, n, VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID));
    json_builder_set_member_name(b, "memory");
    json_builder_add_int_value(b, (gint64)vclStatULL(p, n, VIR_CLONE_TEMPLATE_INFO_MEMORY));
    json_builder_set_member_name(b, "clones");
    json_builder_add_int_value(b, vclInfoUInt(p, n, VIR_CLONE_TEMPLATE_INFO_CLONES));
    json_builder_set_member_name(b, "directory");
    json_builder_add_string_value(b, vclStatStr(p, n, VIR_CLONE_TEMPLATE_INFO_DIRECTORY));
    json_builder_set_member_name(b, "sharing");
    json_builder_add_boolean_value(b, vclInfoInt(p, n, VIR_CLONE_TEMPLATE_INFO_SHARING) != 0);
    json_builder_set_member_name(b, "auto_delete");
    json_builder_add_boolean_value(b, vclInfoInt(p, n, VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE) != 0);
    json_builder_set_member_name(b, "created");
    json_builder_add_int_value(b, (gint64)vclStatULL(p, n, VIR_CLONE_TEMPLATE_INFO_CREATED));
}


/* "2026-12-02 20:15:03" in local time */
static char *
vclTemplateCreated(virTypedParameterPtr p, int n)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(
        (gint64)vclStatULL(p, n, VIR_CLONE_TEMPLATE_INFO_CREATED));

    return t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S") : g_strdup("-");
}


static void
vclTemplateInfoText(const char *name, virTypedParameterPtr p, int n)
{
    g_autofree char *created = vclTemplateCreated(p, n);

    printf(_("Template '%s'\n"), name);
    printf(_("  source:              %1$s (%2$s)\n"),
           vclStatStr(p, n, VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME),
           vclStatStr(p, n, VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID));
    printf(_("  created:             %s\n"), created);
    printf(_("  memory:              %.1f MiB\n"),
           vclStatULL(p, n, VIR_CLONE_TEMPLATE_INFO_MEMORY) / 1048576.0);
    printf(_("  domains started:     %u\n"), vclInfoUInt(p, n, VIR_CLONE_TEMPLATE_INFO_CLONES));
    printf(_("  directory:           %s\n"), vclStatStr(p, n, VIR_CLONE_TEMPLATE_INFO_DIRECTORY));
    printf(_("  memory shared:       %s\n"),
           vclInfoInt(p, n, VIR_CLONE_TEMPLATE_INFO_SHARING) ? _("yes") : _("no"));
    printf(_("  deleted with its last domain: %s\n"),
           vclInfoInt(p, n, VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE) ? _("yes") : _("no"));
}


/* ---- clones from a template ------------------------------------------------ */

static void
vclTemplateProgressCb(virCloneTemplatePtr tmpl G_GNUC_UNUSED, int phase, unsigned int percent,
                      void *opaque)
{
    vclProgressCb(NULL, phase, percent, opaque);
}


static void
vclPrintCloneText(const char *tmplName, virTypedParameterPtr s, int n)
{
    printf(_("Domain '%1$s' started from template '%2$s'\n"),
           vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_NAME), tmplName);
    printf(_("  UUID:                %s\n"), vclStatStr(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_UUID));
    printf(_("  time to start:       %.2f s\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL) / 1e6);
    printf(_("  QEMU start:          %.1f ms\n"),
           vclStatULL(s, n, VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START) / 1000.0);
    vclPrintGuestSummary(s, n);
}


/* Starts @count domains from @tmpl (the source @source), printing each
 * one's summary as soon as it runs.  @name: the name of the only domain,
 * or if @numbered, NAME1..NAMEn; without @name, @prefix gives the names
 * PREFIX-cloneN, else the policy's name template (TEMPLATE-cloneN by
 * default); @policyXML: the policy file's document (then @name, @prefix
 * and @sandbox are not set).  Stops at the first failure.  Returns the
 * number started. */
static int
vclTemplateStartClones(vclGlobal *g, virCloneTemplatePtr tmpl, const char *source,
                       const char *policyXML, const char *name, gboolean numbered,
                       const char *prefix, gboolean sandbox, int count, unsigned int flags)
{
    const char *tmplName = virCloneTemplateGetName(tmpl);
    vclProgress progress = { .bar = !g->quiet && !g->json && isatty(STDERR_FILENO), .phase = -1 };
    g_autofree char *nameTemplate = NULL;
    int i;

    /* a name template takes no other '%' than its keys' */
    if (!name && prefix && !strchr(prefix, '%'))
        nameTemplate = g_strdup_printf("%s-clone%%{n}", prefix);

    for (i = 0; i < count; i++) {
        g_autofree char *cloneName = NULL;
        g_autofree char *policy = NULL;
        g_autoptr(virDomain) clone = NULL;
        virTypedParameterPtr stats = NULL;
        int nstats = 0;

        if (name)
            cloneName = numbered ? g_strdup_printf("%s%d", name, i + 1) : g_strdup(name);
        policy = policyXML ? g_strdup(policyXML)
                           : vclBuildPolicy(NULL, cloneName, nameTemplate, NULL, sandbox);
        clone = virCloneTemplateCreateDomainFull(tmpl, policy, vclTemplateProgressCb, &progress,
                                                 &stats, &nstats, flags);
        if (!clone) {
            vclProgressEnd(&progress);
            vclError(_("cannot start a domain from template '%1$s': %2$s"), tmplName,
                     virCloneGetLastErrorMessage());
            break;
        }
        if (g->json)
            vclPrintSummaryJSON(source, tmplName, stats, nstats);
        else if (g->quiet)
            printf("%s\n", vclStatStr(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_NAME));
        else
            vclPrintCloneText(tmplName, stats, nstats);
        fflush(stdout);
        virTypedParamsFree(stats, nstats);
    }
    return i;
}


/* The source's name of @tmpl, or "" */
static char *
vclTemplateSource(virCloneTemplatePtr tmpl)
{
    virTypedParameterPtr info = NULL;
    int ninfo = 0;
    char *source;

    if (virCloneTemplateGetInfo(tmpl, &info, &ninfo, 0) < 0)
        return g_strdup("");
    source = g_strdup(vclStatStr(info, ninfo, VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME));
    virTypedParamsFree(info, ninfo);
    return source;
}


int
vclCloneLiveCount(vclGlobal *g, virDomainPtr dom, const char *policyXML,
                  const char *name, const char *strategy, gboolean sandbox,
                  int count, unsigned int flags)
{
    const char *source = virDomainGetName(dom);
    g_autofree char *stamp = NULL;
    g_autofree char *tmplName = NULL;
    g_autofree char *tmplPolicy = NULL;
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autoptr(virCloneTemplate) tmpl = NULL;
    unsigned int tflags = VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE;
    vclProgress progress = { .bar = !g->quiet && !g->json && isatty(STDERR_FILENO), .phase = -1 };
    int started;

    stamp = g_date_time_format(now, "-live-%Y%m%dT%H%M%S");
    tmplName = vclTemplateDefaultName(source, stamp);
    tmplPolicy = policyXML ? g_strdup(policyXML) : vclBuildPolicy(NULL, NULL, NULL, strategy, sandbox);
    tflags |= (flags & VIR_DOMAIN_CLONE_LIVE_WAIT) ? VIR_CLONE_TEMPLATE_CREATE_WAIT : 0;
    tmpl = virDomainCloneTemplateCreateFull(dom, tmplName, tmplPolicy, vclProgressCb, &progress,
                                            NULL, NULL, tflags);
    if (!tmpl) {
        vclProgressEnd(&progress);
        vclError(_("cannot make a template of domain '%1$s': %2$s"), source,
                 virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    flags &= VIR_CLONE_TEMPLATE_CLONE_PAUSED | VIR_CLONE_TEMPLATE_CLONE_PERSISTENT;
    /* named as clone-live names them: DOMAIN-cloneN */
    started = vclTemplateStartClones(g, tmpl, source, policyXML, name, TRUE, source, sandbox,
                                     count, flags);
    if (started == 0 && virCloneTemplateDelete(tmpl, 0) < 0)
        vclError(_("cannot delete template '%1$s': %2$s"), tmplName, virCloneGetLastErrorMessage());
    return started == count ? EXIT_OK : EXIT_FAILED;
}


/* ---- the commands ------------------------------------------------------------ */

int
cmdTemplateCreate(vclGlobal *g, int argc, char **argv)
{
    g_autofree char *name = NULL;
    g_autofree char *policyFile = NULL;
    g_autofree char *policy = NULL;
    gboolean precopy = FALSE, background = FALSE, wait = FALSE;
    GOptionEntry entries[] = {
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("name of the template (default: DOMAIN-template)"), N_("TEMPLATE") },
        { "policy", 0, 0, G_OPTION_ARG_FILENAME, &policyFile, N_("clone policy XML file"), N_("FILE") },
        { "precopy", 0, 0, G_OPTION_ARG_NONE, &precopy, N_("copy the memory with pre-copy"), NULL },
        { "background", 0, 0, G_OPTION_ARG_NONE, &background, N_("copy the memory with a background snapshot"), NULL },
        { "wait", 0, 0, G_OPTION_ARG_NONE, &wait, N_("wait for a clone of the same domain under way"), NULL },
        { "json", 0, 0, G_OPTION_ARG_NONE, &g->json, N_("print the summary as JSON"), NULL },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &g->quiet, N_("print only the template's name"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(virCloneTemplate) tmpl = NULL;
    virTypedParameterPtr stats = NULL;
    virTypedParameterPtr info = NULL;
    int nstats = 0, ninfo = 0;
    unsigned int flags = 0;
    vclProgress progress = { .bar = FALSE, .phase = -1 };

    if (!vclParseOptions(_("DOMAIN - capture a running domain as a template"), entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 2) {
        vclError("%s", _("template-create takes exactly one DOMAIN"));
        return EXIT_USAGE;
    }
    if (precopy && background) {
        vclError("%s", _("--precopy and --background cannot be combined"));
        return EXIT_USAGE;
    }
    if (!name)
        name = vclTemplateDefaultName(argv[1], "-template");
    if (policyFile) {
        if (!(policy = vclPolicyRead(policyFile)))
            return EXIT_USAGE;
        if (!vclPolicyCheck(policyFile, policy))
            return EXIT_FAILED;
    }
    flags |= precopy ? VIR_CLONE_TEMPLATE_CREATE_PRECOPY : 0;
    flags |= background ? VIR_CLONE_TEMPLATE_CREATE_BACKGROUND : 0;
    flags |= wait ? VIR_CLONE_TEMPLATE_CREATE_WAIT : 0;
    progress.bar = !g->quiet && !g->json && isatty(STDERR_FILENO);

    if (!(conn = vclConnect(g->uri)))
        return EXIT_FAILED;
    if (!(dom = vclLookupDomain(conn, argv[1])))
        return EXIT_FAILED;
    tmpl = virDomainCloneTemplateCreateFull(dom, name, policy, vclProgressCb, &progress,
                                            &stats, &nstats, flags);
    if (!tmpl) {
        vclProgressEnd(&progress);
        vclError(_("cannot make a template of domain '%1$s': %2$s"), argv[1],
                 virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    /* the template exists: a failure to describe it is only a warning */
    if (virCloneTemplateGetInfo(tmpl, &info, &ninfo, 0) < 0)
        fprintf(stderr, _("warning: %s\n"), virCloneGetLastErrorMessage());
    if (g->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        vclTemplateInfoJSON(b, name, info, ninfo);
        json_builder_set_member_name(b, "strategy");
        json_builder_add_string_value(b, vclStatStr(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY));
        json_builder_set_member_name(b, "source_pause_ms");
        json_builder_add_double_value(b, vclStatULL(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE) / 1000.0);
        json_builder_set_member_name(b, "downtime_ms");
        json_builder_add_int_value(b, (gint64)vclStatULL(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME));
        json_builder_set_member_name(b, "total_ms");
        json_builder_add_double_value(b, vclStatULL(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL) / 1000.0);
        json_builder_set_member_name(b, "bytes");
        json_builder_add_int_value(b, (gint64)vclStatULL(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_BYTES));
        json_builder_end_object(b);
        vclPrintJSON(b);
    } else if (g->quiet) {
        printf("%s\n", name);
    } else {
        printf(_("Domain '%1$s' captured as template '%2$s'\n"), argv[1], name);
        printf(_("  strategy:            %s\n"), vclStatStr(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY));
        printf(_("  source paused:       %1$.1f ms (QEMU downtime %2$llu ms)\n"),
               vclStatULL(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE) / 1000.0,
               vclStatULL(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME));
        printf(_("  time to capture:     %.2f s\n"),
               vclStatULL(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL) / 1e6);
        printf(_("  memory:              %.1f MiB\n"),
               vclStatULL(info, ninfo, VIR_CLONE_TEMPLATE_INFO_MEMORY) / 1048576.0);
        printf(_("  directory:           %s\n"), vclStatStr(info, ninfo, VIR_CLONE_TEMPLATE_INFO_DIRECTORY));
        printf(_("  memory shared:       %s\n"),
               vclInfoInt(info, ninfo, VIR_CLONE_TEMPLATE_INFO_SHARING) ? _("yes") : _("no"));
    }
    virTypedParamsFree(stats, nstats);
    virTypedParamsFree(info, ninfo);
    return EXIT_OK;
}


int
cmdTemplateList(vclGlobal *g, int argc, char **argv)
{
    GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &g->json, N_("print each template as a line of JSON"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    virCloneTemplatePtr *tmpls = NULL;
    int ntmpls;
    int ret = EXIT_OK;

    if (!vclParseOptions(_("- list the templates"), entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 1) {
        vclError("%s", _("template-list takes no arguments"));
        return EXIT_USAGE;
    }
    if (!(conn = vclConnect(g->uri)))
        return EXIT_FAILED;
    if ((ntmpls = virConnectListAllCloneTemplates(conn, &tmpls, 0)) < 0) {
        vclError(_("cannot list the templates: %s"), virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    if (!g->json)
        printf("%-24s %-20s %10s %7s %-7s %s\n", _("Name"), _("Source"), _("Memory"),
               _("Domains"), _("Shared"), _("Created"));
    for (int i = 0; i < ntmpls; i++) {
        const char *name = virCloneTemplateGetName(tmpls[i]);
        virTypedParameterPtr info = NULL;
        int ninfo = 0;

        if (virCloneTemplateGetInfo(tmpls[i], &info, &ninfo, 0) < 0) {
            virCloneErrorPtr err = virCloneGetLastError();

            /* deleted since the list was made */
            if (!err || err->code != VIR_CLONE_ERR_NO_TEMPLATE) {
                vclError(_("cannot read template '%1$s': %2$s"), name, virCloneGetLastErrorMessage());
                ret = EXIT_FAILED;
            }
        } else if (g->json) {
            g_autoptr(JsonBuilder) b = json_builder_new();

            json_builder_begin_object(b);
            vclTemplateInfoJSON(b, name, info, ninfo);
            json_builder_end_object(b);
            vclPrintJSON(b);
        } else {
            g_autofree char *created = vclTemplateCreated(info, ninfo);
            g_autofree char *memory = g_strdup_printf(_("%.0f MiB"),
                vclStatULL(info, ninfo, VIR_CLONE_TEMPLATE_INFO_MEMORY) / 1048576.0);

            printf("%-24s %-20s %10s %7u %-7s %s\n", name,
                   vclStatStr(info, ninfo, VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME), memory,
                   vclInfoUInt(info, ninfo, VIR_CLONE_TEMPLATE_INFO_CLONES),
                   vclInfoInt(info, ninfo, VIR_CLONE_TEMPLATE_INFO_SHARING) ? _("yes") : _("no"),
                   created);
        }
        virTypedParamsFree(info, ninfo);
        virCloneTemplateFree(tmpls[i]);
    }
    free(tmpls);
    return ret;
}


int
cmdTemplateInfo(vclGlobal *g, int argc, char **argv)
{
    GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &g->json, N_("print the template as JSON"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virCloneTemplate) tmpl = NULL;
    virTypedParameterPtr info = NULL;
    int ninfo = 0;

    if (!vclParseOptions(_("TEMPLATE - describe a template"), entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 2) {
        vclError("%s", _("template-info takes exactly one TEMPLATE"));
        return EXIT_USAGE;
    }
    if (!(conn = vclConnect(g->uri)) || !(tmpl = vclTemplateLookup(conn, argv[1])))
        return EXIT_FAILED;
    if (virCloneTemplateGetInfo(tmpl, &info, &ninfo, 0) < 0) {
        vclError(_("cannot read template '%1$s': %2$s"), argv[1], virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    if (g->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        vclTemplateInfoJSON(b, argv[1], info, ninfo);
        json_builder_end_object(b);
        vclPrintJSON(b);
    } else {
        vclTemplateInfoText(argv[1], info, ninfo);
    }
    virTypedParamsFree(info, ninfo);
    return EXIT_OK;
}


int
cmdTemplateDelete(vclGlobal *g, int argc, char **argv)
{
    GOptionEntry entries[] = {
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virCloneTemplate) tmpl = NULL;

    if (!vclParseOptions(_("TEMPLATE - delete a template that no domain uses"), entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 2) {
        vclError("%s", _("template-delete takes exactly one TEMPLATE"));
        return EXIT_USAGE;
    }
    if (!(conn = vclConnect(g->uri)) || !(tmpl = vclTemplateLookup(conn, argv[1])))
        return EXIT_FAILED;
    if (virCloneTemplateDelete(tmpl, 0) < 0) {
        vclError(_("cannot delete template '%1$s': %2$s"), argv[1], virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    printf(_("Template '%s' deleted\n"), argv[1]);
    return EXIT_OK;
}


int
cmdCloneFromTemplate(vclGlobal *g, int argc, char **argv)
{
    g_autofree char *name = NULL;
    g_autofree char *policyFile = NULL;
    g_autofree char *policy = NULL;
    g_autofree char *source = NULL;
    gboolean persistent = FALSE, paused = FALSE, sandbox = FALSE;
    int count = G_MININT;      /* not given */
    GOptionEntry entries[] = {
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("name of the domain (with --count: NAME1..NAMEn)"), N_("NAME") },
        { "count", 0, 0, G_OPTION_ARG_INT, &count, N_("start N domains"), N_("N") },
        { "sandbox", 0, 0, G_OPTION_ARG_NONE, &sandbox, N_("isolate the domain's network"), NULL },
        { "paused", 0, 0, G_OPTION_ARG_NONE, &paused, N_("leave the domain paused"), NULL },
        { "persistent", 0, 0, G_OPTION_ARG_NONE, &persistent, N_("define the domain, not only start it"), NULL },
        { "policy", 0, 0, G_OPTION_ARG_FILENAME, &policyFile, N_("clone policy XML file"), N_("FILE") },
        { "json", 0, 0, G_OPTION_ARG_NONE, &g->json, N_("print each domain's summary as a line of JSON"), NULL },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &g->quiet, N_("print only the domains' names"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virCloneTemplate) tmpl = NULL;
    unsigned int flags = 0;
    int n;

    if (!vclParseOptions(_("TEMPLATE - start domains at a template's instant"), entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 2) {
        vclError("%s", _("clone-from-template takes exactly one TEMPLATE"));
        return EXIT_USAGE;
    }
    if (count != G_MININT && (count < 1 || count > VCL_COUNT_MAX)) {
        vclError(_("--count takes a number from 1 to %d"), VCL_COUNT_MAX);
        return EXIT_USAGE;
    }
    if (policyFile) {
        if (name || sandbox) {
            vclError("%s", _("--policy cannot be combined with --name or --sandbox: put them in the policy"));
            return EXIT_USAGE;
        }
        if (!(policy = vclPolicyRead(policyFile)))
            return EXIT_USAGE;
        if (!vclPolicyCheck(policyFile, policy))
            return EXIT_FAILED;
    }
    flags |= persistent ? VIR_CLONE_TEMPLATE_CLONE_PERSISTENT : 0;
    flags |= paused ? VIR_CLONE_TEMPLATE_CLONE_PAUSED : 0;

    if (!(conn = vclConnect(g->uri)) || !(tmpl = vclTemplateLookup(conn, argv[1])))
        return EXIT_FAILED;
    source = vclTemplateSource(tmpl);
    if (count == G_MININT)
        n = vclTemplateStartClones(g, tmpl, source, policy, name, FALSE, NULL, sandbox, 1, flags);
    else
        n = vclTemplateStartClones(g, tmpl, source, policy, name, TRUE, NULL, sandbox, count, flags);
    return n == (count == G_MININT ? 1 : count) ? EXIT_OK : EXIT_FAILED;
}


int
cmdReset(vclGlobal *g, int argc, char **argv)
{
    gboolean paused = FALSE;
    GOptionEntry entries[] = {
        { "paused", 0, 0, G_OPTION_ARG_NONE, &paused, N_("leave the domain paused"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (!vclParseOptions(_("CLONE - put a domain back at its template's instant"), entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 2) {
        vclError("%s", _("reset takes exactly one CLONE"));
        return EXIT_USAGE;
    }
    if (!(conn = vclConnect(g->uri)))
        return EXIT_FAILED;
    if (!(dom = vclLookupDomain(conn, argv[1])))
        return EXIT_FAILED;
    if (virDomainCloneReset(dom, paused ? VIR_CLONE_TEMPLATE_CLONE_PAUSED : 0) < 0) {
        vclError(_("cannot reset domain '%1$s': %2$s"), argv[1], virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    printf(_("Domain '%s' reset to its template's instant\n"), argv[1]);
    return EXIT_OK;
}
