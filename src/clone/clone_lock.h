/*
 * clone_lock.h: one clone of a source at a time
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

typedef struct _cloneSourceLock cloneSourceLock;

cloneSourceLock *cloneSourceLockAcquire(virDomainPtr dom, gboolean wait);
void cloneSourceLockRelease(cloneSourceLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneSourceLock, cloneSourceLockRelease);
