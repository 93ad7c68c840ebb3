/*
 * clone_vmstate.h: the device state a template saves, read and edited
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* The id of a template clone's RAM backend (and so of its RAM block). */
#define CLONE_VMSTATE_RAM_ID "clone.ram"

typedef struct {
    char *id;           /* the RAM block's name, e.g. "pc.ram" */
    guint64 size;       /* its used length in bytes */
    gsize idOffset;     /* where the name's length byte is in the stream */
} cloneVMStateBlock;

typedef struct {
    guint64 total;      /* the RAM section's total, sum of the blocks */
    GPtrArray *blocks;  /* cloneVMStateBlock */
    gboolean ignoreShared; /* each block carries its guest address */
} cloneVMStateRAM;

void cloneVMStateRAMFree(cloneVMStateRAM *ram);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneVMStateRAM, cloneVMStateRAMFree);

/* The RAM section's list of blocks in a QEMU migration stream saved with
 * x-ignore-shared; NULL with an error (VIR_CLONE_ERR_MIGRATION) when @buf
 * is not such a stream. */
cloneVMStateRAM *cloneVMStateParseRAM(const guint8 *buf, gsize len);

/* A copy of the stream @buf in which the RAM block @from, of @size bytes,
 * is named @to; NULL with an error if there is no such block. */
GBytes *cloneVMStateRenameRAM(const guint8 *buf, gsize len,
                              const char *from, guint64 size, const char *to);
