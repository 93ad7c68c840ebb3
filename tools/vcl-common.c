/*
 * vcl-common.c: what the commands of virt-clone-live share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <stdarg.h>
#include <stdio.h>

#include "vcl-common.h"

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
