/*
 * vcl-reap.c: "virt-clone-live reap": destroy clones whose TTL has passed
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "libvirt-clone/libvirt-clone.h"
#include "vcl-eventloop.h"
#include "vcl-reap.h"

int
cmdReap(vclGlobal *g, int argc, char **argv)
{
    g_autoptr(virConnect) conn = NULL;
    int n;

    if (!vclParseOptions(_("- destroy the clones whose time-to-live has passed"), NULL, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 1) {
        vclError("%s", _("reap takes no arguments"));
        return EXIT_USAGE;
    }
    if (!(conn = vclConnect(g->uri)))
        return EXIT_FAILED;
    if ((n = virConnectCloneLiveReap(conn, 0)) < 0) {
        vclError(_("cannot reap expired clones: %s"), virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    if (!g->quiet)
        printf(g_dngettext(GETTEXT_PACKAGE, "%d expired clone destroyed\n",
                           "%d expired clones destroyed\n", n), n);
    return EXIT_OK;
}
