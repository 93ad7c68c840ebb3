/*
 * clone_vmstate.c: the device state a template saves, read and edited
 *
 * A template's RAM is a file that libvirt's memory backend of the template
 * QEMU wrote (its block is named as the source's, "pc.ram"); the template's
 * device state is saved once with x-ignore-shared, so the stream lists the
 * RAM blocks but carries none of that file's pages.  A clone maps the file
 * privately through a backend of its own, which cannot take libvirt's id
 * ("pc.ram" is libvirt's own backend's id in the clone's QEMU), so the
 * stream a clone loads names the block after the clone's backend.  That
 * name sits in exactly one place: the list of blocks at the start of the
 * RAM section (savevm.c, ram.c: ram_save_setup()), which this file reads
 * and rewrites.  The list is checked against its own total before anything
 * is changed, so a stream of another format is refused, not corrupted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "clone_internal.h"
#include "clone_vmstate.h"

#define QEMU_VM_FILE_MAGIC 0x5145564dU   /* "QEVM" */
#define QEMU_VM_FILE_VERSION 3U
#define QEMU_VM_SECTION_START 0x01
#define RAM_SAVE_FLAG_MEM_SIZE 0x04
#define RAM_FLAGS_MASK 0xfffULL          /* flags live below the page size */

static guint32
cloneBE32(const guint8 *p)
{
    return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}


static guint64
cloneBE64(const guint8 *p)
{
    return ((guint64)cloneBE32(p) << 32) | cloneBE32(p + 4);
}


void
cloneVMStateRAMFree(cloneVMStateRAM *ram)
{
    if (!ram)
        return;
    g_clear_pointer(&ram->blocks, g_ptr_array_unref);
    g_free(ram);
}


static void
cloneVMStateBlockFree(gpointer p)
{
    cloneVMStateBlock *b = p;

    g_free(b->id);
    g_free(b);
}


static gboolean
cloneVMStateIdValid(const guint8 *p, guint len)
{
    guint i;

    for (i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e)
            return FALSE;
    }
    return len > 0;
}


/* The block list that starts at @p (after the section's total), with or
 * without the guest address x-ignore-shared adds to each block; NULL if
 * the blocks do not add up to @total exactly. */
static cloneVMStateRAM *
cloneVMStateParseBlocks(const guint8 *buf, gsize len, gsize pos, guint64 total,
                        gboolean ignoreShared)
{
    g_autoptr(cloneVMStateRAM) ram = g_new0(cloneVMStateRAM, 1);
    guint64 sum = 0;

    ram->total = total;
    ram->ignoreShared = ignoreShared;
    ram->blocks = g_ptr_array_new_with_free_func(cloneVMStateBlockFree);

    while (sum < total) {
        cloneVMStateBlock *b;
        guint idlen;
        gsize need;

        if (pos >= len)
            return NULL;
        idlen = buf[pos];
        need = 1 + idlen + 8 + (ignoreShared ? 8 : 0);
        if (len - pos < need || !cloneVMStateIdValid(buf + pos + 1, idlen))
            return NULL;
        b = g_new0(cloneVMStateBlock, 1);
        b->id = g_strndup((const char *)buf + pos + 1, idlen);
        b->size = cloneBE64(buf + pos + 1 + idlen);
        b->idOffset = pos;
        g_ptr_array_add(ram->blocks, b);
        if (b->size == 0 || b->size > total - sum)
            return NULL;
        sum += b->size;
        pos += need;
    }
    return g_steal_pointer(&ram);
}


cloneVMStateRAM *
cloneVMStateParseRAM(const guint8 *buf, gsize len)
{
    static const guint8 ramName[] = { 3, 'r', 'a', 'm' };
    gsize pos;

    if (len < 8 || cloneBE32(buf) != QEMU_VM_FILE_MAGIC ||
        cloneBE32(buf + 4) != QEMU_VM_FILE_VERSION) {
        virCloneReportError(VIR_CLONE_ERR_MIGRATION, "%s",
                            _("the saved device state is not a QEMU migration stream of version 3"));
        return NULL;
    }

    /* QEMU_VM_SECTION_START, be32 section id, "ram", be32 instance id,
     * be32 version id, be64 total | RAM_SAVE_FLAG_MEM_SIZE */
    for (pos = 8; pos + 1 + 4 + sizeof(ramName) + 4 + 4 + 8 <= len; pos++) {
        const guint8 *p = buf + pos;
        guint64 v;
        gsize start;
        cloneVMStateRAM *ram;

        if (p[0] != QEMU_VM_SECTION_START || memcmp(p + 5, ramName, sizeof(ramName)) != 0)
            continue;
        v = cloneBE64(p + 5 + sizeof(ramName) + 8);
        if ((v & RAM_FLAGS_MASK) != RAM_SAVE_FLAG_MEM_SIZE)
            continue;
        start = pos + 5 + sizeof(ramName) + 8 + 8;
        if ((ram = cloneVMStateParseBlocks(buf, len, start, v & ~RAM_FLAGS_MASK, TRUE)) ||
            (ram = cloneVMStateParseBlocks(buf, len, start, v & ~RAM_FLAGS_MASK, FALSE)))
            return ram;
    }

    virCloneReportError(VIR_CLONE_ERR_MIGRATION, "%s",
                        _("the saved device state has no list of RAM blocks that adds up to its total"));
    return NULL;
}


GBytes *
cloneVMStateRenameRAM(const guint8 *buf, gsize len,
                      const char *from, guint64 size, const char *to)
{
    g_autoptr(cloneVMStateRAM) ram = NULL;
    const cloneVMStateBlock *found = NULL;
    g_autoptr(GByteArray) out = NULL;
    gsize tolen = strlen(to);
    guint8 tolen8 = (guint8)tolen;
    guint i;

    if (tolen == 0 || tolen > 255) {
        virCloneReportError(VIR_CLONE_ERR_INTERNAL,
                            _("invalid RAM block name '%1$s'"), to);
        return NULL;
    }
    if (!(ram = cloneVMStateParseRAM(buf, len)))
        return NULL;
    for (i = 0; i < ram->blocks->len; i++) {
        const cloneVMStateBlock *b = g_ptr_array_index(ram->blocks, i);

        if (g_str_equal(b->id, to)) {
            virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                                _("the saved device state already has a RAM block named '%1$s'"), to);
            return NULL;
        }
        if (g_str_equal(b->id, from))
            found = b;
    }
    if (!found) {
        virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                            _("the saved device state has no RAM block '%1$s'"), from);
        return NULL;
    }
    if (found->size != size) {
        virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                            _("the RAM block '%1$s' of the saved device state has %2$llu bytes, not %3$llu"),
                            from, (unsigned long long)found->size, (unsigned long long)size);
        return NULL;
    }

    out = g_byte_array_sized_new(len - strlen(from) + tolen);
    g_byte_array_append(out, buf, found->idOffset);
    g_byte_array_append(out, &tolen8, 1);
    g_byte_array_append(out, (const guint8 *)to, tolen);
    i = found->idOffset + 1 + strlen(from);
    g_byte_array_append(out, buf + i, len - i);
    return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}
