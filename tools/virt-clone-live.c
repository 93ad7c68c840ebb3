/*
 * virt-clone-live: live-clone running libvirt domains, in the style of virsh
 *
 * This file only reads the global options and dispatches: each command
 * lives in a file of its own (vcl-clone.c, vcl-policy.c, vcl-reap.c,
 * vcl-sandbox.c, vcl-template.c) and gets its name as argv[0].
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>
#include <glib/gi18n.h>
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "libvirt-clone/libvirt-clone.h"

#include "vcl-clone.h"
#include "vcl-common.h"
#include "vcl-memory.h"
#include "vcl-policy.h"
#include "vcl-reap.h"
#include "vcl-sandbox.h"
#include "vcl-template.h"

/* the first one is the command of "virt-clone-live DOMAIN" */
static const vclCommand vclCommands[] = {
    { "clone-live", cmdCloneLive, N_("live-clone a running domain") },
    { "policy-validate", cmdPolicyValidate, N_("check clone policy files") },
    { "policy-dump", cmdPolicyDump, N_("print the effective policy, every default filled in") },
    { "reap", cmdReap, N_("destroy the clones whose time-to-live has passed") },
    { "sandbox-watch", cmdSandboxWatch, N_("report what a sandbox clone sends, as it happens") },
    { "integrity-watch", cmdIntegrityWatch, N_("report changes of a clone's kernel, as they happen") },
    { "template-create", cmdTemplateCreate, N_("capture a running domain as a template") },
    { "template-list", cmdTemplateList, N_("list the templates") },
    { "template-info", cmdTemplateInfo, N_("describe a template") },
    { "template-delete", cmdTemplateDelete, N_("delete a template that no domain uses") },
    { "clone-from-template", cmdCloneFromTemplate, N_("start domains at a template's instant") },
    { "reset", cmdReset, N_("put a domain back at its template's instant") },
    { "memory-dump", cmdMemoryDump, N_("write a clone's guest memory to a file") },
    { "memory-peek", cmdMemoryPeek, N_("read a clone's guest-physical memory") },
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


static void
vclUsage(FILE *f)
{
    fprintf(f, "%s", _("Usage: virt-clone-live [-c URI] COMMAND [ARGS...]\n"
                       "       virt-clone-live [-c URI] DOMAIN [OPTIONS]   (same as clone-live)\n\n"
                       "Options:\n"
                       "  -c, --connect URI   hypervisor connection URI\n"
                       "  -d, --debug         print the library's debug messages and libvirt's warnings\n"
                       "  -h, --help          show this help\n"
                       "  -V, --version       show the version\n\n"
                       "Commands:\n"));
    for (size_t i = 0; i < G_N_ELEMENTS(vclCommands); i++)
        fprintf(f, "  %-20s%s\n", vclCommands[i].name, _(vclCommands[i].summary));
    fprintf(f, "%s", _("\nRun 'virt-clone-live COMMAND --help' for the options of a command.\n"));
}


/* libvirt's embedded driver logs to stderr when no log output is
 * configured: its version and host name, then warnings such as "Domain id=1
 * name='x' ... is tainted: high-privileges".  A user reads them as errors of
 * this program, which reports every error itself.  Unless the user
 * configured libvirt's logging, send it nowhere, or with --debug let
 * libvirt's warnings and errors through.  Before the first call into
 * libvirt, which reads the variables once. */
static void
vclQuietLibvirt(gboolean debug)
{
    if (g_getenv("LIBVIRT_LOG_OUTPUTS") || g_getenv("LIBVIRT_DEBUG"))
        return;
    g_setenv("LIBVIRT_LOG_OUTPUTS", debug ? "3:stderr" : "4:file:/dev/null", TRUE);
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
    vclQuietLibvirt(g.debug);
    virCloneSetLogFunc(vclLog, &g);

    /* "virt-clone-live DOMAIN" means "virt-clone-live clone-live DOMAIN" */
    if ((cmd = vclFindCommand(argv[i])))
        i++;
    else
        cmd = &vclCommands[0];
    g_ptr_array_add(args, (char *)cmd->name);
    for (; i < argc; i++)
        g_ptr_array_add(args, argv[i]);
    g_ptr_array_add(args, NULL);
    return cmd->run(&g, (int)args->len - 1, (char **)args->pdata);
}
