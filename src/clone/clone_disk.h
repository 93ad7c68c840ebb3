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
int cloneDiskFork(virDomainPtr src, const cloneDomainPlan *plan, const char *name);
