/*
 * clone_integrity_watch.c: the kernel integrity watch of a running clone,
 * a thread that checks it against its baseline every period and reports
 * through the sandbox's event channel (virDomainCloneIntegrityWatch)
 *
 * The watch IDs are the sandbox watch's (cloneSandboxWatchRegister), so
 * virDomainCloneSandboxUnwatch() stops either kind.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "clone_integrity.h"
#include "clone_memory.h"
#include "clone_metadata.h"
#include "clone_sandbox_watch.h"

typedef struct _cloneIntegrityWatch cloneIntegrityWatch;
struct _cloneIntegrityWatch {
    virDomainPtr dom;              /* a reference */
    char *name;
    gint64 intervalUs;
    int action;                    /* virDomainCloneIntegrityAction */
    gboolean acted;                /* the action was taken (or tried) */
    gboolean destroy;              /* destroy the clone after the alert */
    gboolean ended;                /* the clone stopped: END reported */
    virDomainCloneSandboxEventCallback cb;
    void *opaque;
    virFreeCallback freecb;
    cloneMemory *mem;
    cloneIntegrityBaseline *base;
    GHashTable *reported;          /* of "kind cpu address new": reported */

    GMutex lock;
    GCond cond;
    gboolean stop;
    gboolean detached;             /* stopped from its callback: the thread frees */
    GThread *thread;
    GThread *self;
};


static void
cloneIntegrityWatchFree(cloneIntegrityWatch *w)
{
    if (w->freecb)
        w->freecb(w->opaque);
    cloneIntegrityBaselineFree(w->base);
    cloneMemoryFree(w->mem);
    if (w->reported)
        g_hash_table_unref(w->reported);
    if (w->dom)
        virDomainFree(w->dom);
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    g_free(w->name);
    g_free(w);
}


/* Delivers one event; FALSE if the callback stopped the watch. */
static gboolean
cloneIntegrityWatchEmit(cloneIntegrityWatch *w, virDomainCloneSandboxEvent *ev)
{
    gboolean stop;

    if (!ev->timeMs)
        ev->timeMs = g_get_real_time() / 1000;
    ev->clone = w->name;
    ev->dstPort = -1;
    w->cb(w->dom, ev, w->opaque);
    g_mutex_lock(&w->lock);
    stop = w->stop;
    g_mutex_unlock(&w->lock);
    return !stop;
}


/* Pauses the clone (for a destroy too: a pause stops the guest at once,
 * a destroy takes a second or more, and the alert does not wait for it):
 * what the event reports. */
static const char *
cloneIntegrityWatchAct(cloneIntegrityWatch *w)
{
    w->acted = TRUE;
    switch ((virDomainCloneIntegrityAction)w->action) {
    case VIR_DOMAIN_CLONE_INTEGRITY_PAUSE:
        if (virDomainSuspend(w->dom) == 0)
            return "paused";
        break;
    case VIR_DOMAIN_CLONE_INTEGRITY_DESTROY:
        w->destroy = TRUE;
        /* paused or not, it is destroyed after the event */
        (void)virDomainSuspend(w->dom);
        return "destroying";
    case VIR_DOMAIN_CLONE_INTEGRITY_ALERT:
    case VIR_DOMAIN_CLONE_INTEGRITY_LAST:
        return "alert";
    }
    CLONE_WARN("integrity watch of '%s': the action on its alert failed: %s",
               w->name, virGetLastErrorMessage());
    return "alert";
}


/* The clone stopped (a check failed on a domain that no longer runs):
 * reports END once.  FALSE if the callback stopped the watch. */
static gboolean
cloneIntegrityWatchEnd(cloneIntegrityWatch *w)
{
    virDomainCloneSandboxEvent ev = { .type = VIR_DOMAIN_CLONE_SANDBOX_EVENT_END, .cpu = -1 };

    w->ended = TRUE;
    return cloneIntegrityWatchEmit(w, &ev);
}


/* Reports the differences not reported yet, found at @seenMs.  FALSE if
 * the callback stopped the watch. */
static gboolean
cloneIntegrityWatchReport(cloneIntegrityWatch *w, GArray *diffs, long long seenMs)
{
    for (guint i = 0; i < diffs->len; i++) {
        const cloneIntegrityDiff *d = &g_array_index(diffs, cloneIntegrityDiff, i);
        g_autofree char *key = g_strdup_printf("%d %d %" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "x",
                                               (int)d->kind, d->cpu, d->address, d->new_value);
        virDomainCloneSandboxEvent ev = {
            .type = VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY,
            .timeMs = seenMs,
            .count = 1,
            .integrity = cloneIntegrityKindTypeToString(d->kind),
            .address = d->address,
            .oldValue = d->old_value,
            .newValue = d->new_value,
            .cpu = d->cpu,
            .action = "alert",
        };

        if (g_hash_table_contains(w->reported, key))
            continue;
        g_hash_table_add(w->reported, g_steal_pointer(&key));
        if (!w->acted)
            ev.action = cloneIntegrityWatchAct(w);
        if (!cloneIntegrityWatchEmit(w, &ev))
            return FALSE;
    }
    if (w->destroy) {
        w->destroy = FALSE;
        if (virDomainDestroy(w->dom) < 0)
            CLONE_WARN("integrity watch of '%s': cannot destroy the clone: %s",
                       w->name, virGetLastErrorMessage());
        /* the next check finds it gone: END */
    }
    return TRUE;
}


/* The differences from the baseline now, or NULL with an error set. */
static GArray *
cloneIntegrityWatchLook(cloneIntegrityWatch *w)
{
    g_autoptr(GArray) regs = NULL;

    if (!(regs = cloneIntegrityReadRegisters(w->dom)))
        return NULL;
    return cloneIntegrityCheck(w->base, cloneMemoryReadCb, w->mem,
                               (const cloneIntegrityRegs *)(void *)regs->data, regs->len,
                               NULL);
}


/* One check.  FALSE if the callback stopped the watch.
 *
 * A check reads the registers first, then memory: a change of both that
 * falls between the two reads (a rootkit unpins CR4.SMEP in read-only
 * data, then clears it) shows only its memory half.  Before the first
 * alert's action (which may destroy the clone), the watch therefore looks
 * once more, so that the alert reports all that was changed by then. */
static gboolean
cloneIntegrityWatchCheck(cloneIntegrityWatch *w)
{
    g_autoptr(GArray) diffs = NULL;
    long long seenMs;      /* when this check found them */

    if (!(diffs = cloneIntegrityWatchLook(w))) {
        if (virDomainIsActive(w->dom) == 1) {
            CLONE_WARN("integrity watch of '%s': the check failed: %s",
                       w->name, virCloneGetLastErrorMessage());
            return TRUE;
        }
        return cloneIntegrityWatchEnd(w);
    }
    seenMs = g_get_real_time() / 1000;
    if (diffs->len > 0 && !w->acted) {
        g_autoptr(GArray) again = cloneIntegrityWatchLook(w);

        /* reported once: the second look's repeats are skipped */
        if (again)
            g_array_append_vals(diffs, again->data, again->len);
        else
            CLONE_WARN("integrity watch of '%s': the second look failed: %s",
                       w->name, virCloneGetLastErrorMessage());
    }
    return cloneIntegrityWatchReport(w, diffs, seenMs);
}


static gpointer
cloneIntegrityWatchRun(gpointer data)
{
    cloneIntegrityWatch *w = data;
    gboolean detached;

    g_mutex_lock(&w->lock);
    w->self = g_thread_self();
    while (!w->stop) {
        gint64 until = g_get_monotonic_time() + w->intervalUs;

        while (!w->stop && g_cond_wait_until(&w->cond, &w->lock, until))
            ;
        if (w->stop || w->ended)
            continue;
        g_mutex_unlock(&w->lock);
        cloneIntegrityWatchCheck(w);
        g_mutex_lock(&w->lock);
    }
    detached = w->detached;
    g_mutex_unlock(&w->lock);
    if (detached) {
        g_thread_unref(w->thread);
        cloneIntegrityWatchFree(w);
    }
    return NULL;
}


/* The stop function of the registry: see virDomainCloneSandboxUnwatch(). */
static void
cloneIntegrityWatchStop(void *handle)
{
    cloneIntegrityWatch *w = handle;

    g_mutex_lock(&w->lock);
    w->stop = TRUE;
    g_cond_signal(&w->cond);
    if (w->self == g_thread_self()) {
        w->detached = TRUE;    /* from the callback: the thread frees */
        g_mutex_unlock(&w->lock);
        return;
    }
    g_mutex_unlock(&w->lock);
    g_thread_join(w->thread);
    cloneIntegrityWatchFree(w);
}


/* Whether @dom is a clone (the metadata of the clone's rewrite), unless
 * the caller forces a watch of another domain. */
static int
cloneIntegrityCheckClone(virDomainPtr dom, unsigned int flags)
{
    int isClone;

    if (flags & VIR_DOMAIN_CLONE_INTEGRITY_FORCE)
        return 0;
    if ((isClone = cloneMetadataIsClone(dom)) < 0)
        return -1;
    if (!isClone) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' is not a clone: the integrity watch reads its memory, which holds the secrets (keys, passwords) of a production guest; use VIR_DOMAIN_CLONE_INTEGRITY_FORCE (--force) to watch it anyway"),
                            virDomainGetName(dom));
        return -1;
    }
    return 0;
}


/* The baseline of @w's domain now. */
static int
cloneIntegrityWatchBaseline(cloneIntegrityWatch *w)
{
    g_autoptr(GArray) regs = NULL;

    if (!(w->mem = cloneMemoryOpen(w->dom)) ||
        !(regs = cloneIntegrityReadRegisters(w->dom)) ||
        !(w->base = cloneIntegrityBaselineNew(cloneMemoryReadCb, w->mem,
                                              (const cloneIntegrityRegs *)(void *)regs->data,
                                              regs->len)))
        return -1;
    CLONE_DEBUG("integrity baseline of '%s': %" G_GUINT64_FORMAT " bytes of kernel image",
                w->name, cloneIntegrityBaselineImageBytes(w->base));
    return 0;
}


/**
 * virDomainCloneIntegrityWatch:
 * @clone: a running clone (or any running domain with
 *         VIR_DOMAIN_CLONE_INTEGRITY_FORCE) of a Linux x86-64 guest
 * @intervalMs: the period of the checks in milliseconds (0: 1000)
 * @action: a virDomainCloneIntegrityAction, taken on the first alert
 * @cb: called for every event
 * @opaque: passed to @cb
 * @freecb: frees @opaque when the watch is unwatched, or NULL
 * @flags: bitwise-OR of virDomainCloneIntegrityFlags
 *
 * Watches the integrity of @clone's kernel from outside, without pausing
 * it: a baseline is taken when this is called (its memory read live from
 * its QEMU process, its vCPUs' control registers through the monitor),
 * then every @intervalMs a thread compares the guest with it, through the
 * guest's own page tables: the kernel image's read-only pages (text and
 * read-only data) byte for byte, each vCPU's IDT (gates and their
 * targets), IDTR, GDT, GDTR, CR0.WP, CR4.SMEP and CR4.SMAP.  Jump-label
 * and static-key sites that toggle (text the kernel rewrites itself) are
 * not differences.  For the baseline to be the clone instant, clone with
 * VIR_DOMAIN_CLONE_LIVE_PAUSED, call this, then resume the clone.
 *
 * Each difference is reported once, as a
 * VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY event through @cb (the
 * callback type and the event of virDomainCloneSandboxWatch(), so that one
 * callback serves both), within a period of the change; a difference
 * already reported is not reported again, a new one (or a new value at the
 * same place) is.  On the first one the watch looks once more (so that
 * the first alerts report all that was changed by then), then pauses or
 * destroys @clone according to @action.  When @clone stops, the watch reports
 * VIR_DOMAIN_CLONE_SANDBOX_EVENT_END and checks no more; it stays
 * registered until it is unwatched.  @cb runs in the watch's thread, as
 * for virDomainCloneSandboxWatch().
 *
 * A domain that is not a clone is refused unless @flags has
 * VIR_DOMAIN_CLONE_INTEGRITY_FORCE.  Needs the right to ptrace QEMU
 * (root) and the clone on this host.
 *
 * Returns a watch ID for virDomainCloneSandboxUnwatch(), or -1 with the
 * thread's last error set (then @freecb is not called).
 *
 * Since: 0.7.0
 */
CLONE_EXPORT int
virDomainCloneIntegrityWatch(virDomainPtr clone,
                             unsigned int intervalMs,
                             int action,
                             virDomainCloneSandboxEventCallback cb,
                             void *opaque,
                             virFreeCallback freecb,
                             unsigned int flags)
{
    cloneIntegrityWatch *w;
    g_autoptr(GError) gerr = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(VIR_DOMAIN_CLONE_INTEGRITY_FORCE, -1);
    cloneCheckNonNull(clone, -1);
    cloneCheckNonNull(cb, -1);
    if (action < VIR_DOMAIN_CLONE_INTEGRITY_ALERT || action > VIR_DOMAIN_CLONE_INTEGRITY_DESTROY) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("unknown integrity action %1$d"), action);
        return -1;
    }
    if (cloneIntegrityCheckClone(clone, flags) < 0)
        return -1;

    w = g_new0(cloneIntegrityWatch, 1);
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    w->dom = clone;
    virDomainRef(clone);
    w->name = g_strdup(virDomainGetName(clone));
    w->intervalUs = (gint64)(intervalMs ? intervalMs : 1000) * 1000;
    w->action = action;
    w->cb = cb;
    w->opaque = opaque;
    w->reported = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (cloneIntegrityWatchBaseline(w) < 0) {
        cloneIntegrityWatchFree(w);   /* freecb not set: the caller keeps opaque */
        return -1;
    }
    w->freecb = freecb;
    g_mutex_lock(&w->lock);
    w->thread = g_thread_try_new("integrity-watch", cloneIntegrityWatchRun, w, &gerr);
    g_mutex_unlock(&w->lock);
    if (!w->thread) {
        w->freecb = NULL;
        virCloneReportError(VIR_CLONE_ERR_SYSTEM,
                            _("cannot start the thread that watches clone '%1$s': %2$s"),
                            w->name, gerr->message);
        cloneIntegrityWatchFree(w);
        return -1;
    }
    return cloneSandboxWatchRegister(cloneIntegrityWatchStop, w);
}
