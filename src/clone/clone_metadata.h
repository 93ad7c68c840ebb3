/*
 * clone_metadata.h: reading the <clone:clone> metadata of a clone
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_xml.h"

/* What the <clone:clone> metadata element of a clone says (written by the
 * rewrite, clone_domxml.c). */
typedef struct _cloneMetadata cloneMetadata;
struct _cloneMetadata {
    char *parentName;
    char *parentUUID;         /* or NULL */
    guint64 expires;          /* 0: never */
    gboolean ephemeral;       /* transient: its overlays go when it stops */
    gboolean sandbox;         /* it has a <clone:sandbox>, with or without a bridge */
    char *sandboxBridge;      /* a sandbox clone's isolated bridge, or NULL */
    GPtrArray *overlays;      /* of char *: the clone's own overlays */
    char *template;           /* the template it started from, or NULL */
};
void cloneMetadataFree(cloneMetadata *meta);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneMetadata, cloneMetadataFree);

/* Reads the metadata in the document of @ctxt: a whole domain XML or the
 * element virDomainGetMetadata(CLONE_METADATA_NS) returns.  NULL, and no
 * error, if it is not a clone's (no parent). */
cloneMetadata *cloneMetadataRead(xmlXPathContextPtr ctxt);

/* The same on a string; NULL, and no error, also if @xml is NULL or does
 * not parse. */
cloneMetadata *cloneMetadataParse(const char *xml);

/* 1 if domain @dom is a clone (its live XML has the clone's metadata), 0
 * if not, -1 if its XML cannot be read (reported). */
int cloneMetadataIsClone(virDomainPtr dom);
