/*
 * vcl-memory.c: the guest memory commands of virt-clone-live
 *
 *   virt-clone-live memory-dump CLONE FILE [--consistent | --template-instant]
 *                   [--format raw|elf] [--force]
 *   virt-clone-live memory-peek CLONE GPA SIZE [--raw] [--force]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"

#include "vcl-eventloop.h"
#include "vcl-memory.h"

/* what one virDomainCloneMemoryPeek() call of memory-peek reads */
#define VCL_PEEK_CHUNK (16u * 1024u * 1024u)


/* A number in decimal or, with 0x, hexadecimal. */
static gboolean
vclMemoryNumber(const char *what, const char *s, unsigned long long *v)
{
    char *end = NULL;

    errno = 0;
    *v = g_ascii_strtoull(s, &end, 0);
    if (errno != 0 || !end || end == s || *end || s[0] == '-') {
        vclError(_("invalid %1$s '%2$s': use a number, 0x for hexadecimal"), what, s);
        return FALSE;
    }
    return TRUE;
}


int
cmdMemoryDump(vclGlobal *g, int argc, char **argv)
{
    g_autofree char *format = NULL;
    gboolean force = FALSE, consistent = FALSE, templateInstant = FALSE;
    GOptionEntry entries[] = {
        { "consistent", 0, 0, G_OPTION_ARG_NONE, &consistent, N_("all memory at one instant (the guest pauses once, briefly)"), NULL },
        { "template-instant", 0, 0, G_OPTION_ARG_NONE, &templateInstant,
          N_("a domain started from a template: its memory at the template's instant (raw, no pause)"), NULL },
        { "format", 0, 0, G_OPTION_ARG_STRING, &format, N_("raw (the default: byte at offset = guest-physical address) or elf"), N_("FORMAT") },
        { "force", 0, 0, G_OPTION_ARG_NONE, &force, N_("dump a domain that is not a clone"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    unsigned int fmt = VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW;
    unsigned int flags = 0;

    if (!vclParseOptions(_("CLONE FILE - write a clone's guest memory to a file"),
                         entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 3) {
        vclError("%s", _("memory-dump takes a CLONE and a FILE"));
        return EXIT_USAGE;
    }
    if (format && g_str_equal(format, "elf")) {
        fmt = VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF;
    } else if (format && !g_str_equal(format, "raw")) {
        vclError(_("unknown format '%1$s': use raw or elf"), format);
        return EXIT_USAGE;
    }
    if (!(conn = vclConnect(g->uri)) || !(dom = vclLookupDomain(conn, argv[1])))
        return EXIT_FAILED;
    flags |= force ? VIR_DOMAIN_CLONE_MEMORY_FORCE : 0;
    flags |= consistent ? VIR_DOMAIN_CLONE_MEMORY_CONSISTENT : 0;
    flags |= templateInstant ? VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT : 0;
    if (virDomainCloneMemoryDump(dom, argv[2], fmt, flags) < 0) {
        vclError(_("cannot dump the memory of domain '%1$s': %2$s"), argv[1], virCloneGetLastErrorMessage());
        return EXIT_FAILED;
    }
    if (!g->quiet)
        printf(_("Memory of domain '%1$s' dumped to '%2$s'\n"), argv[1], argv[2]);
    return EXIT_OK;
}


/* "ADDRESS: 16 bytes in hex  |ASCII|", as xxd and virsh's hex dumps */
static void
vclHexDump(unsigned long long addr, const unsigned char *buf, size_t len)
{
    for (size_t off = 0; off < len; off += 16) {
        size_t n = MIN(16, len - off);

        printf("%016llx:", addr + off);
        for (size_t i = 0; i < 16; i++) {
            if (i < n)
                printf(" %02x", buf[off + i]);
            else
                printf("   ");
        }
        printf("  |");
        for (size_t i = 0; i < n; i++)
            putchar(g_ascii_isprint(buf[off + i]) ? buf[off + i] : '.');
        printf("|\n");
    }
}


int
cmdMemoryPeek(vclGlobal *g, int argc, char **argv)
{
    gboolean force = FALSE, raw = FALSE;
    GOptionEntry entries[] = {
        { "raw", 0, 0, G_OPTION_ARG_NONE, &raw, N_("write the bytes as they are, not a hex dump"), NULL },
        { "force", 0, 0, G_OPTION_ARG_NONE, &force, N_("read a domain that is not a clone"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autofree unsigned char *buf = NULL;
    unsigned long long gpa, size, done = 0;

    if (!vclParseOptions(_("CLONE GPA SIZE - read a clone's guest-physical memory without pausing it"),
                         entries, &argc, &argv))
        return EXIT_USAGE;
    if (argc != 4) {
        vclError("%s", _("memory-peek takes a CLONE, a guest-physical address and a size"));
        return EXIT_USAGE;
    }
    if (!vclMemoryNumber(_("address"), argv[2], &gpa) || !vclMemoryNumber(_("size"), argv[3], &size))
        return EXIT_USAGE;
    if (!(conn = vclConnect(g->uri)) || !(dom = vclLookupDomain(conn, argv[1])))
        return EXIT_FAILED;
    buf = g_malloc(MIN(size, VCL_PEEK_CHUNK) + 1);
    while (done < size) {
        size_t n = (size_t)MIN(size - done, VCL_PEEK_CHUNK);

        if (virDomainCloneMemoryPeek(dom, gpa + done, n, buf, force ? VIR_DOMAIN_CLONE_MEMORY_FORCE : 0) < 0) {
            vclError(_("cannot read the memory of domain '%1$s': %2$s"), argv[1], virCloneGetLastErrorMessage());
            return EXIT_FAILED;
        }
        if (raw) {
            if (fwrite(buf, 1, n, stdout) != n) {
                vclError(_("cannot write to standard output: %1$s"), g_strerror(errno));
                return EXIT_FAILED;
            }
        } else {
            vclHexDump(gpa + done, buf, n);
        }
        done += n;
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}
