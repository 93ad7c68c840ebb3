/*
 * clone_template.h: templates, the instants many clones start from
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"
#include "libvirt-clone/libvirt-clone.h"

#include <json-glib/json-glib.h>

/* RUNDIR/templates holds NAME.json (the record) and NAME.lock; the files
 * are in DIRECTORY/NAME/ (ram, state), DIRECTORY being the policy's
 * <template directory> or RUNDIR/templates. */
#define CLONE_TEMPLATES_SUBDIR "templates"
#define CLONE_TEMPLATE_RAM_FILE "ram"
#define CLONE_TEMPLATE_STATE_FILE "state"

typedef enum {
    CLONE_TEMPLATE_CREATING,    /* being made: its files may be partial */
    CLONE_TEMPLATE_READY,

    CLONE_TEMPLATE_LAST
} cloneTemplateState;
CLONE_ENUM_DECL(cloneTemplateState);

typedef struct _cloneTemplateRec cloneTemplateRec;
struct _cloneTemplateRec {
    char *name;
    cloneTemplateState state;
    char *dir;                  /* DIRECTORY/NAME: its ram and state */
    char *srcName;
    char *srcUUID;
    gint64 created;             /* seconds since the Epoch */
    guint64 memory;             /* the guest's RAM in bytes */
    char *ramBlock;             /* the RAM block's name in the saved state */
    gboolean sharing;           /* clones map the RAM copy-on-write */
    gboolean autoDelete;        /* gone with its last clone */
    gboolean cloned;            /* a clone was made from it */
    char *xml;                  /* the source's XML at the instant, disks on the bases */
    guint64 stateSize;          /* bytes of the saved state */
};

void cloneTemplateRecFree(cloneTemplateRec *rec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneTemplateRec, cloneTemplateRecFree);

char *cloneTemplateRamPath(const cloneTemplateRec *rec);
char *cloneTemplateStatePath(const cloneTemplateRec *rec);

/* A template's name: 1 to 64 of [A-Za-z0-9_.+-], not starting with '.' or
 * '-'; else VIR_CLONE_ERR_INVALID_ARG. */
int cloneTemplateNameCheck(const char *name);

/* The lock of template @name in @runDir: flock @op (LOCK_SH or LOCK_EX),
 * waiting up to @timeoutS seconds (0: not at all, VIR_CLONE_ERR_BUSY).
 * Returns the file descriptor to close, or -1 with an error. */
int cloneTemplateLock(const char *runDir, const char *name, int op, guint timeoutS);

/* The record of template @name: 1 and @rec, 0 if there is none (and no
 * error), -1 with an error if it cannot be read. */
int cloneTemplateRecLoad(const char *runDir, const char *name, cloneTemplateRec **rec);
int cloneTemplateRecSave(const char *runDir, const cloneTemplateRec *rec);

/* Removes the template's files, its directory and its record. */
void cloneTemplateRecRemove(const char *runDir, const cloneTemplateRec *rec);

/* The names of the templates that have a record in @runDir, sorted. */
GStrv cloneTemplateRecNames(const char *runDir);

/* The domains of @conn that started from template @name (running or
 * defined), sorted by name; NULL with an error if libvirt cannot list them. */
GStrv cloneTemplateUsers(virConnectPtr conn, const char *name);

/* What a template cannot hold: its RAM must be one block that libvirt's
 * file backend can write and a private mapping can read back, and no
 * device may need it shared with a host process.  0, or -1 with
 * VIR_CLONE_ERR_UNSUPPORTED naming the reason. */
int cloneTemplateCheckMemoryXML(const char *srcName, const char *xml);

/* ---- the template phases of a job (clone_live.c runs them) ------------------ */

typedef struct _cloneJob cloneJob;
typedef struct _cloneRewriteParams cloneRewriteParams;

/* making a template: the source can be one, the name is free, the space is there */
int cloneTemplateCheckSource(cloneJob *job);
/* a domain from a template, or a reset: the template is there and stays */
int cloneTemplatePhaseCheckDomain(cloneJob *job);
void cloneTemplateRewriteParams(cloneJob *job, cloneRewriteParams *p);
/* the plan of a domain from a template forks nothing of the source's */
void cloneTemplatePlanDone(cloneJob *job);
int cloneTemplatePhaseStop(cloneJob *job);
int cloneTemplatePhaseLoad(cloneJob *job);
int cloneTemplatePhaseSave(cloneJob *job);
void cloneTemplatePhaseSaveUndo(cloneJob *job);

/* Deletes every template made with VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE
 * that had domains and has none left; returns how many, or -1. */
int cloneTemplatesAutoDelete(virConnectPtr conn);
