/*
 * clone_lock.c: one clone of a source at a time
 *
 * QEMU runs one migration at a time.  Within a process, a second clone of a
 * source waits for the first (VIR_DOMAIN_CLONE_LIVE_WAIT) or is refused.
 * Across processes the migration state of the source's QEMU is checked
 * before anything starts (clone_live.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_lock.h"

struct _cloneSourceLock {
    char uuid[VIR_UUID_STRING_BUFLEN];
};

static GMutex cloneLocksMutex;
static GCond cloneLocksCond;
static GHashTable *cloneLocksHeld;   /* UUID string set */

cloneSourceLock *
cloneSourceLockAcquire(virDomainPtr dom, gboolean wait)
{
    g_autofree cloneSourceLock *lock = g_new0(cloneSourceLock, 1);

    if (virDomainGetUUIDString(dom, lock->uuid) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the domain's UUID"));
        return NULL;
    }
    g_mutex_lock(&cloneLocksMutex);
    if (!cloneLocksHeld)
        cloneLocksHeld = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    while (g_hash_table_contains(cloneLocksHeld, lock->uuid)) {
        if (!wait) {
            g_mutex_unlock(&cloneLocksMutex);
            virCloneReportError(VIR_CLONE_ERR_BUSY,
                                _("domain '%1$s' is being cloned already: try again, or ask to wait"),
                                virDomainGetName(dom));
            return NULL;
        }
        g_cond_wait(&cloneLocksCond, &cloneLocksMutex);
    }
    g_hash_table_add(cloneLocksHeld, g_strdup(lock->uuid));
    g_mutex_unlock(&cloneLocksMutex);
    return g_steal_pointer(&lock);
}


void
cloneSourceLockRelease(cloneSourceLock *lock)
{
    if (!lock)
        return;
    g_mutex_lock(&cloneLocksMutex);
    g_hash_table_remove(cloneLocksHeld, lock->uuid);
    g_cond_broadcast(&cloneLocksCond);
    g_mutex_unlock(&cloneLocksMutex);
    g_free(lock);
}
