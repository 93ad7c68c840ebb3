/*
 * clone_domxml.h: the clone's domain XML, derived from the source's
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"
#include "clone_policy.h"
#include "clone_xml.h"


typedef struct _cloneDisk cloneDisk;
struct _cloneDisk {
    char *target;        /* vda */
    cloneDiskAction action; /* fork, share-readonly or exclude (never default) */
    char *srcPath;       /* the source's current top image (fork only) */
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

/* A NIC of the clone, in the order of the domain XML. */
typedef struct _cloneNic cloneNic;
struct _cloneNic {
    char *type;          /* network, bridge, direct, user, ethernet, ... */
    char *alias;         /* net0; NULL when the source's XML has none */
    char *sourceMac;     /* the source's MAC: the guest still uses it after the copy */
    char *mac;           /* the clone's MAC in its XML */
    cloneMacMode mode;   /* how mac was chosen */
};

/* Everything the rewrite decided: the XML to start and the files to make. */
typedef struct _cloneDomainPlan cloneDomainPlan;
struct _cloneDomainPlan {
    char *xml;              /* the clone's XML, with -incoming defer */
    GPtrArray *disks;       /* of cloneDisk, every <disk> of the source */
    GPtrArray *copies;      /* of cloneCopy: NVRAM */
    GPtrArray *newFiles;    /* files the clone's QEMU creates (logs, sockets) */
    GPtrArray *ownedFiles;  /* those of @newFiles that did not exist before
                             * this clone (a log of an earlier clone of the
                             * same name is reused, as libvirt reuses a
                             * domain's log): rollback removes these */
    guint nnics;            /* == nics->len */
    gboolean hasGenid;      /* the clone gets a new generation ID */

    char *sourceUUID;       /* the source's UUID */
    char *cloneUUID;        /* the clone's UUID, as in its XML */
    GPtrArray *nics;        /* of cloneNic */
    gboolean nicsRehome;    /* network mode sandbox: the NICs are moved to
                             * the isolated bridge @sandboxBridge */
    char *sandboxBridge;

    /* vTPM with policy <tpm mode='clone'/>: the clone keeps its <tpm>.  The
     * migration stream carries swtpm's whole state; the orchestrator copies
     * the source's state directory to the clone's before the start all the
     * same, so that libvirt finds it and does not run swtpm_setup (a fresh
     * TPM with a new EK, only to be overwritten).  With tpmStateFrom NULL the
     * state is in libvirt's directory per UUID: copy SWTPMDIR/<sourceUUID>/
     * to SWTPMDIR/<cloneUUID>/, where SWTPMDIR is /var/lib/libvirt/swtpm
     * (qemu:///system) or ROOT/lib/swtpm (embedded driver). */
    gboolean tpmClone;
    char *tpmStateFrom;     /* <backend><source path=...>: the source's state */
    char *tpmStateTo;       /* the clone's, as in its XML */
    gboolean tpmStateIsDir; /* <source type='dir'> (else a single file) */
    gboolean tpmStateCreated; /* the copy was made by this clone (clone_tpm.c):
                               * rollback removes it */
};
cloneDomainPlan *cloneDomainPlanNew(void);
void cloneDomainPlanFree(cloneDomainPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneDomainPlan, cloneDomainPlanFree);

typedef struct _cloneRewriteParams cloneRewriteParams;
struct _cloneRewriteParams {
    const char *name;        /* the clone's name */
    const char *uuid;        /* the clone's UUID; NULL: the policy's <uuid> */
    const char *stamp;       /* unique suffix for the source's new tops */
    const char *overlayDir;  /* where overlays go; NULL: the policy's <disks dir>,
                              * else beside each image */
    const char *fileDir;     /* where logs and NVRAM copies go; NULL: beside the original */
    const char *policyName;  /* recorded in the metadata, may be NULL */
    const clonePolicy *policy; /* NULL: the defaults */
    guint64 expires;         /* policy TTL: when the clone expires, seconds
                              * since the Epoch; 0: never */
    gboolean ephemeral;      /* a transient clone: its overlays go with it */
    /* returns a new MAC address for NIC @idx; NULL: one derived from the
     * clone's UUID (the rewrite itself never draws random numbers) */
    char *(*newMac)(guint idx, void *opaque);
    void *opaque;

    /* templates (clone_template.c) */
    gboolean templateQemu;      /* the QEMU that makes a template: its RAM
                                 * in a shared file (libvirt's own backend) */
    const char *templateName;   /* a clone of this template: <clone:template> */
    const char *templatePolicy; /* its policy, for a reset: <clone:template> */
    const char *templateRam;    /* the template's RAM file, mapped privately */
    guint64 templateRamSize;    /* its size in bytes */
    gboolean templateCopyRam;   /* sharing off: each page copied at start */
};

cloneDomainPlan *cloneDomainRewrite(const char *srcXML, const cloneRewriteParams *p);

/* Removes <qemu:commandline> (for the persistent definition). */
char *cloneDomainXMLStripCommandline(const char *xml);
