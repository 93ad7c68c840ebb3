/*
 * vcl-policy.c: policy-validate and policy-dump
 *
 *   virt-clone-live policy-validate FILE...
 *   virt-clone-live policy-dump [FILE]
 *
 * Both work on files alone, without a connection, through
 * virDomainCloneLivePolicyNormalize(): what they accept is exactly what
 * virDomainCloneLive() accepts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "libvirt-clone/libvirt-clone.h"

#include "vcl-policy.h"

char *
vclPolicyRead(const char *path)
{
    g_autoptr(GError) gerr = NULL;
    g_autofree char *xml = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &xml, &len, &gerr)) {
        vclError(_("cannot read policy: %s"), gerr->message);
        return NULL;
    }
    /* the library takes a string: it would see only what comes before */
    if (strlen(xml) != len) {
        vclError(_("cannot read policy: '%s' contains a NUL byte"), path);
        return NULL;
    }
    return g_steal_pointer(&xml);
}


gboolean
vclPolicyCheck(const char *path, const char *xml)
{
    g_autofree char *normal = virDomainCloneLivePolicyNormalize(xml, 0);

    if (!normal) {
        vclError("%s: %s", path, virCloneGetLastErrorMessage());
        return FALSE;
    }
    return TRUE;
}


int
cmdPolicyValidate(vclGlobal *g G_GNUC_UNUSED, int argc, char **argv)
{
    int ret = EXIT_OK;

    if (!vclParseOptions(_("FILE... - check clone policy files"), NULL, &argc, &argv))
        return EXIT_USAGE;
    if (argc < 2) {
        vclError("%s", _("policy-validate takes one or more FILEs"));
        return EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        g_autofree char *xml = vclPolicyRead(argv[i]);

        if (!xml || !vclPolicyCheck(argv[i], xml)) {
            ret = EXIT_FAILED;
            continue;
        }
        printf(_("%s: valid\n"), argv[i]);
    }
    return ret;
}


int
cmdPolicyDump(vclGlobal *g G_GNUC_UNUSED, int argc, char **argv)
{
    g_autofree char *xml = NULL;
    g_autofree char *normal = NULL;

    if (!vclParseOptions(_("[FILE] - print the effective policy, every default filled in"),
                         NULL, &argc, &argv))
        return EXIT_USAGE;
    if (argc > 2) {
        vclError("%s", _("policy-dump takes at most one FILE"));
        return EXIT_USAGE;
    }
    if (argc == 2 && !(xml = vclPolicyRead(argv[1])))
        return EXIT_FAILED;
    if (!(normal = virDomainCloneLivePolicyNormalize(xml, 0))) {
        vclError("%s: %s", argc == 2 ? argv[1] : "-", virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    fputs(normal, stdout);
    return EXIT_OK;
}
