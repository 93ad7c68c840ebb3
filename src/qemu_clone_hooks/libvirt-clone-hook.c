/*
 * libvirt-clone-hook.c: the libvirt qemu hook of libvirt-clone
 *
 * Installed as /etc/libvirt/hooks/qemu.d/libvirt-clone.  libvirt runs it as
 *
 *   libvirt-clone DOMAIN OP SUBOP EXTRA
 *
 * with the domain XML on standard input, for every QEMU domain of the host;
 * the daemon looks for hooks only when it starts.  The work is done by
 * cloneHookRun() in the library, where it is tested; this program reads its
 * input, prints the error on standard error and exits 1 on failure.  It
 * writes nothing on standard output: for "migrate" and "restore" libvirt
 * would take that as a replacement domain XML.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_hook.h"

#include <locale.h>
#include <stdio.h>

#define HOOK_NAME "libvirt-clone"
#define HOOK_MAX_INPUT (64 * 1024 * 1024)


static void
hookLog(int priority, const char *message, void *opaque G_GNUC_UNUSED)
{
    /* errors are printed once, by main() */
    if (priority == VIR_CLONE_LOG_WARN)
        g_printerr("%s: %s\n", HOOK_NAME, message);
}


/* All of standard input: libvirt writes the XML before it waits for us. */
static char *
hookReadInput(void)
{
    g_autoptr(GString) s = g_string_new(NULL);
    char buf[65536];
    size_t n;

    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
        if (s->len + n > HOOK_MAX_INPUT) {
            g_printerr(_("%1$s: the domain XML on standard input is larger than %2$d bytes\n"),
                       HOOK_NAME, HOOK_MAX_INPUT);
            return NULL;
        }
        g_string_append_len(s, buf, (gssize)n);
    }
    if (ferror(stdin)) {
        g_printerr(_("%1$s: cannot read the domain XML on standard input\n"), HOOK_NAME);
        return NULL;
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}


int
main(int argc, char **argv)
{
    g_autofree char *xml = NULL;

    setlocale(LC_ALL, "");
    virCloneInitialize();
    if (argc < 3) {
        g_printerr(_("usage: %1$s DOMAIN OPERATION [SUBOPERATION [EXTRA]] < DOMAIN-XML\n"), argv[0]);
        return 2;
    }
    virCloneSetLogFunc(hookLog, NULL);
    if (!(xml = hookReadInput()))
        return 1;
    if (cloneHookRun(argv[1], argv[2], xml) < 0) {
        g_printerr("%s: %s: %s\n", HOOK_NAME, argv[2], virCloneGetLastErrorMessage());
        return 1;
    }
    return 0;
}
