/*
 * clone_domxml.h: the clone's domain XML, derived from the source's
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"
#include "clone_policy.h"

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject);


typedef struct _cloneDisk cloneDisk;
struct _cloneDisk {
    char *target;        /* vda */
    cloneDiskAction action;
    char *srcPath;       /* the source's current top image */
    char *srcFormat;     /* its format (qcow2, raw) */
    char *cloneOverlay;  /* the clone's new top, backed by srcPath */
    char *sourceOverlay; /* the source's new top, backed by srcPath */
    gboolean cloneOverlayCreated;   /* by this clone: rollback removes it */
    gboolean sourceOverlayCreated;
};

typedef struct _cloneCopy cloneCopy;
struct _cloneCopy {
    char *from;
    char *to;
    gboolean created;
};

/* Everything the rewrite decided: the XML to start and the files to make. */
typedef struct _cloneDomainPlan cloneDomainPlan;
struct _cloneDomainPlan {
    char *xml;              /* the clone's XML, with -incoming defer */
    GPtrArray *disks;       /* of cloneDisk */
    GPtrArray *copies;      /* of cloneCopy: NVRAM */
    GPtrArray *newFiles;    /* files the clone's QEMU creates (logs) */
    gboolean newFilesOwned; /* checked absent before: rollback removes them */
    guint nnics;
    gboolean hasGenid;
};
void cloneDomainPlanFree(cloneDomainPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneDomainPlan, cloneDomainPlanFree);

typedef struct _cloneRewriteParams cloneRewriteParams;
struct _cloneRewriteParams {
    const char *name;        /* the clone's name */
    const char *uuid;        /* the clone's UUID */
    const char *stamp;       /* unique suffix for the source's new tops */
    const char *overlayDir;  /* where overlays go; NULL: beside each image */
    const char *fileDir;     /* where logs and NVRAM copies go; NULL: beside the original */
    const char *policyName;  /* recorded in the metadata, may be NULL */
    const clonePolicy *policy; /* NULL: the defaults */
    const char *sourceName;  /* set by cloneDomainRewrite from the XML */
    /* returns a new MAC address for NIC @idx (deterministic in tests) */
    char *(*newMac)(guint idx, void *opaque);
    void *opaque;
};

cloneDomainPlan *cloneDomainRewrite(const char *srcXML, const cloneRewriteParams *p);

/* Removes <qemu:commandline> (for the persistent definition). */
char *cloneDomainXMLStripCommandline(const char *xml);

/* The domain's <metadata> says it is a clone: its parent's name, or NULL. */
char *cloneDomainXMLParentName(const char *xml);

/* The disk-only external snapshot that moves the source onto its new tops. */
char *cloneDomainSnapshotXML(const cloneDomainPlan *plan, const char *name);
