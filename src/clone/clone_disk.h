/*
 * clone_disk.h: overlays, disk fork and chain bookkeeping
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_domxml.h"

int cloneDiskCreateOverlay(const char *path, const char *backing,
                           const char *backingFormat, unsigned long long size);
int cloneDiskCreateOverlays(virDomainPtr src, cloneDomainPlan *plan, GPtrArray *createdDirs);
void cloneDiskRemoveDirs(GPtrArray *createdDirs);
void cloneDiskRemoveCloneFiles(cloneDomainPlan *plan);
void cloneDiskRemoveSourceOverlays(virDomainPtr src, cloneDomainPlan *plan, gboolean forkAttempted);
int cloneFileCopy(const char *from, const char *to, gboolean keepOwner, gboolean *created);
int cloneDiskCopyFiles(cloneDomainPlan *plan);
int cloneDiskCheckNewFiles(cloneDomainPlan *plan);
gboolean cloneDiskPlanFilesFree(const cloneDomainPlan *plan);
/* The disk-only snapshot XML of cloneDiskFork(), for the tests. */
char *cloneDiskSnapshotXML(const cloneDomainPlan *plan, const char *name);
int cloneDiskCreateCloneOverlays(cloneDomainPlan *plan, GPtrArray *createdDirs);
int cloneDiskFork(virDomainPtr src, const cloneDomainPlan *plan, const char *name);

/* The one rule for removing a file of a clone that has stopped (the hook's
 * release, reap): an absolute path to a regular file, never a link or a
 * device.  0 if it is gone, -1 with an error if it is kept. */
int cloneDiskRemoveStoppedFile(const char *domain, const char *path);
/* ... for each of the clone's own @overlays that is still the top image
 * of one of its disks (@tops): one that is not has been forked, and backs
 * a clone of the clone. */
int cloneDiskRemoveStoppedOverlays(const char *domain, GPtrArray *overlays, const char *const *tops);
