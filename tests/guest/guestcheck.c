/*
 * guestcheck.c: offline checks of the test guest's RAM and disk state.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "guestcheck.h"
#include "clonetest-format.h"

G_DEFINE_QUARK(guest-check-error-quark, guest_check_error)

#define SCAN_CHUNK (4u * 1024 * 1024)

G_STATIC_ASSERT(CLONETEST_PAGE_SIZE == CLONETEST_RECORD_SIZE);
G_STATIC_ASSERT(SCAN_CHUNK % CLONETEST_PAGE_SIZE == 0);

typedef void (*ScanFunc)(const guint8 *unit, guint64 idx, gpointer opaque);


static gssize
readFull(int fd, guint8 *buf, gsize len)
{
    gsize done = 0;

    while (done < len) {
        gssize got = read(fd, buf + done, len - done);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += got;
    }
    return done;
}


/* Call @fn for every whole 4 KiB unit of @path, in order.  Stores the number
 * of units in @nunits. */
static int
scanFile(const char *path, ScanFunc fn, gpointer opaque,
         guint64 *nunits, GError **err)
{
    g_autofree guint8 *buf = g_malloc(SCAN_CHUNK);
    guint64 idx = 0;
    gssize got;
    int fd;

    if ((fd = g_open(path, O_RDONLY | O_CLOEXEC, 0)) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot open '%s': %s", path, g_strerror(errno));
        return -1;
    }

    while ((got = readFull(fd, buf, SCAN_CHUNK)) > 0) {
        gsize off;

        for (off = 0; off + CLONETEST_PAGE_SIZE <= (gsize)got; off += CLONETEST_PAGE_SIZE)
            fn(buf + off, idx++, opaque);
        if ((gsize)got < SCAN_CHUNK)
            break;
    }
    if (got < 0) {
        int saved = errno;

        close(fd);
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(saved),
                    "cannot read '%s': %s", path, g_strerror(saved));
        return -1;
    }
    close(fd);
    *nunits = idx;
    return 0;
}


/* ---- RAM dumps --------------------------------------------------------- */

typedef struct {
    guint64 index;
    guint64 counter;
} PageEntry;

typedef struct {
    GHashTable *pages;          /* nonce -> GArray of PageEntry */
    GArray *status;             /* of ClonetestStatus */
} RamScan;

/* The first (lowest-index) offence and how many there are. */
typedef struct {
    guint64 nbad;
    guint64 first_idx;
    char *first;
} BadPages;


static void
ramScanClear(RamScan *scan)
{
    g_clear_pointer(&scan->pages, g_hash_table_unref);
    g_clear_pointer(&scan->status, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(RamScan, ramScanClear)


static void
ramScanPage(const guint8 *page, guint64 idx G_GNUC_UNUSED, gpointer opaque)
{
    RamScan *scan = opaque;
    guint64 magic;

    memcpy(&magic, page, sizeof(magic));
    if (magic == CLONETEST_PAGE_MAGIC) {
        ClonetestPage hdr;
        PageEntry ent;
        GArray *arr;

        memcpy(&hdr, page, sizeof(hdr));
        if (!(arr = g_hash_table_lookup(scan->pages, &hdr.nonce))) {
            arr = g_array_new(FALSE, FALSE, sizeof(PageEntry));
            g_hash_table_insert(scan->pages, g_memdup2(&hdr.nonce, sizeof(hdr.nonce)), arr);
        }
        ent.index = hdr.index;
        ent.counter = hdr.counter;
        g_array_append_val(arr, ent);
    } else if (magic == CLONETEST_STAT_MAGIC) {
        ClonetestStatus st;

        memcpy(&st, page, sizeof(st));
        g_array_append_val(scan->status, st);
    }
}


static guint
ramPagesWithNonce(RamScan *scan, guint64 nonce)
{
    GArray *arr = g_hash_table_lookup(scan->pages, &nonce);

    return arr ? arr->len : 0;
}


/* Pick the status page: the one whose nonce most pages carry.  Sets
 * @duplicates to the number of other status pages with the same nonce. */
static const ClonetestStatus *
ramPickStatus(RamScan *scan, guint *duplicates)
{
    const ClonetestStatus *best = NULL;
    guint i;

    for (i = 0; i < scan->status->len; i++) {
        const ClonetestStatus *st = &g_array_index(scan->status, ClonetestStatus, i);

        if (!best || ramPagesWithNonce(scan, st->nonce) > ramPagesWithNonce(scan, best->nonce))
            best = st;
    }
    *duplicates = 0;
    for (i = 0; best && i < scan->status->len; i++) {
        const ClonetestStatus *st = &g_array_index(scan->status, ClonetestStatus, i);

        if (st != best && st->nonce == best->nonce)
            (*duplicates)++;
    }
    return best;
}


static void G_GNUC_PRINTF(3, 4)
badPage(BadPages *bad, guint64 idx, const char *fmt, ...)
{
    va_list ap;

    bad->nbad++;
    if (bad->first && idx >= bad->first_idx)
        return;
    g_free(bad->first);
    va_start(ap, fmt);
    bad->first = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    bad->first_idx = idx;
}


/* Fill @counter/@seen (npages each) from @entries; flag duplicates and
 * out-of-range indices. */
static void
ramCollect(GArray *entries, guint64 npages, guint64 *counter, guint8 *seen,
           BadPages *bad)
{
    guint i;

    for (i = 0; entries && i < entries->len; i++) {
        const PageEntry *ent = &g_array_index(entries, PageEntry, i);

        if (ent->index >= npages) {
            badPage(bad, ent->index, "page index %" G_GUINT64_FORMAT " out of range",
                    ent->index);
        } else if (seen[ent->index]) {
            badPage(bad, ent->index, "page %" G_GUINT64_FORMAT " present twice "
                    "(counters %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT ")",
                    ent->index, counter[ent->index], ent->counter);
        } else {
            seen[ent->index] = 1;
            counter[ent->index] = ent->counter;
        }
    }
}


/* N: the value that best explains the pages, i.e. the present counter
 * value N maximising the number of pages holding N or N+1 (the smallest on a
 * tie).  For a consistent dump that is the minimum counter; a single stale
 * or corrupted page does not throw it off. */
static guint64
ramPickN(const guint64 *counter, const guint8 *seen, guint64 npages)
{
    g_autoptr(GHashTable) hist = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                                       g_free, NULL);
    GHashTableIter iter;
    gpointer key, value;
    guint64 best = 0;
    guint64 best_score = 0;
    guint64 i;

    for (i = 0; i < npages; i++) {
        gpointer old;

        if (!seen[i])
            continue;
        old = g_hash_table_lookup(hist, &counter[i]);
        g_hash_table_replace(hist, g_memdup2(&counter[i], sizeof(guint64)),
                             GSIZE_TO_POINTER(GPOINTER_TO_SIZE(old) + 1));
    }

    g_hash_table_iter_init(&iter, hist);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        guint64 n = *(guint64 *)key;
        guint64 next = n + 1;
        guint64 score = GPOINTER_TO_SIZE(value) +
                        GPOINTER_TO_SIZE(g_hash_table_lookup(hist, &next));

        if (score > best_score || (score == best_score && n < best)) {
            best = n;
            best_score = score;
        }
    }
    return best;
}


/* The prefix length k minimising the pages that contradict "[0,k) hold
 * N+1, [k,n) hold N" (the smallest on a tie). */
static guint64
ramPickPrefix(const guint64 *counter, const guint8 *seen, guint64 npages, guint64 n)
{
    gint64 bad = 0;
    gint64 best_bad;
    guint64 best = 0;
    guint64 i;

    for (i = 0; i < npages; i++)
        bad += seen[i] && counter[i] == n + 1;
    best_bad = bad;
    for (i = 0; i < npages; i++) {
        if (seen[i] && counter[i] == n)
            bad++;
        else if (seen[i] && counter[i] == n + 1)
            bad--;
        if (bad < best_bad) {
            best_bad = bad;
            best = i + 1;
        }
    }
    return best;
}


/* Work out N and the prefix, then check every page against them. */
static void
ramCheckCounters(const guint64 *counter, const guint8 *seen, guint64 npages,
                 GuestRamReport *rep, BadPages *bad)
{
    guint64 n = ramPickN(counter, seen, npages);
    guint64 i;

    rep->counter_n = n;
    rep->prefix = ramPickPrefix(counter, seen, npages, n);

    for (i = 0; i < npages; i++) {
        guint64 want = i < rep->prefix ? n + 1 : n;

        rep->npages_found += seen[i];
        if (!seen[i])
            badPage(bad, i, "page %" G_GUINT64_FORMAT " missing", i);
        else if (counter[i] != want)
            badPage(bad, i, "page %" G_GUINT64_FORMAT " counter %" G_GUINT64_FORMAT
                    ", expected %" G_GUINT64_FORMAT, i, counter[i], want);
    }
}


static void
ramFillStatus(GuestRamReport *rep, const ClonetestStatus *st)
{
    rep->nonce = st->nonce;
    rep->npages_expected = st->npages;
    rep->passes = st->passes;
    rep->records_committed = st->records_committed;
    rep->record_inflight = st->record_inflight;
}


static void
ramReportVerdict(GuestRamReport *rep, BadPages *bad, guint dup_status)
{
    gboolean passes_ok = rep->counter_n == rep->passes ||
                         (rep->counter_n == rep->passes + 1 && rep->prefix == 0);

    rep->nbad = bad->nbad;
    if (bad->nbad > 0) {
        rep->reason = g_strdup_printf("%" G_GUINT64_FORMAT " bad pages (N=%" G_GUINT64_FORMAT
                                      ", prefix=%" G_GUINT64_FORMAT ", found %" G_GUINT64_FORMAT
                                      "/%" G_GUINT64_FORMAT "); first: %s",
                                      bad->nbad, rep->counter_n, rep->prefix,
                                      rep->npages_found, rep->npages_expected, bad->first);
    } else if (dup_status > 0) {
        rep->reason = g_strdup_printf("%u extra status pages with nonce %016" G_GINT64_MODIFIER "x",
                                      dup_status, rep->nonce);
    } else if (!passes_ok) {
        rep->reason = g_strdup_printf("N=%" G_GUINT64_FORMAT " (prefix %" G_GUINT64_FORMAT
                                      ") does not match the status page's passes=%"
                                      G_GUINT64_FORMAT, rep->counter_n, rep->prefix,
                                      rep->passes);
    }
    rep->ok = rep->reason == NULL;
}


static void
ramAnalyze(RamScan *scan, const ClonetestStatus *st, guint dup_status,
           GuestRamReport *rep)
{
    GArray *entries = g_hash_table_lookup(scan->pages, &st->nonce);
    g_autofree guint64 *counter = g_new0(guint64, st->npages);
    g_autofree guint8 *seen = g_new0(guint8, st->npages);
    BadPages bad = { 0, 0, NULL };
    GHashTableIter iter;
    gpointer key, value;

    ramFillStatus(rep, st);
    g_hash_table_iter_init(&iter, scan->pages);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (*(guint64 *)key != st->nonce)
            rep->stale_pages += ((GArray *)value)->len;
    }

    ramCollect(entries, st->npages, counter, seen, &bad);
    ramCheckCounters(counter, seen, st->npages, rep, &bad);
    ramReportVerdict(rep, &bad, dup_status);
    g_free(bad.first);
}


void
guestRamReportClear(GuestRamReport *rep)
{
    g_clear_pointer(&rep->reason, g_free);
}


int
guestCheckRamDump(const char *path, GuestRamReport *rep, GError **err)
{
    g_auto(RamScan) scan = { NULL, NULL };
    const ClonetestStatus *st;
    guint64 nunits = 0;
    guint dup_status = 0;

    memset(rep, 0, sizeof(*rep));
    scan.pages = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                       (GDestroyNotify)g_array_unref);
    scan.status = g_array_new(FALSE, FALSE, sizeof(ClonetestStatus));

    if (scanFile(path, ramScanPage, &scan, &nunits, err) < 0)
        return -1;

    if (!(st = ramPickStatus(&scan, &dup_status))) {
        g_set_error(err, GUEST_CHECK_ERROR, 0,
                    "no CLNSTAT1 status page in '%s' (%" G_GUINT64_FORMAT " pages)",
                    path, nunits);
        return -1;
    }
    if (st->npages > nunits) {
        g_set_error(err, GUEST_CHECK_ERROR, 0,
                    "status page in '%s' claims %" G_GUINT64_FORMAT
                    " pages, more than the dump holds", path, (guint64)st->npages);
        return -1;
    }

    ramAnalyze(&scan, st, dup_status, rep);
    return 0;
}


char *
guestRamReportFormat(const GuestRamReport *rep)
{
    g_autofree char *inflight = NULL;

    if (rep->record_inflight == CLONETEST_NO_INFLIGHT)
        inflight = g_strdup("none");
    else
        inflight = g_strdup_printf("%" G_GUINT64_FORMAT, rep->record_inflight);

    return g_strdup_printf("ok=%s nonce=%016" G_GINT64_MODIFIER "x pages=%" G_GUINT64_FORMAT
                           "/%" G_GUINT64_FORMAT " N=%" G_GUINT64_FORMAT
                           " prefix=%" G_GUINT64_FORMAT " bad=%" G_GUINT64_FORMAT
                           " stale=%" G_GUINT64_FORMAT " passes=%" G_GUINT64_FORMAT
                           " records_committed=%" G_GUINT64_FORMAT
                           " record_inflight=%s%s%s",
                           rep->ok ? "yes" : "no", rep->nonce, rep->npages_found,
                           rep->npages_expected, rep->counter_n, rep->prefix, rep->nbad,
                           rep->stale_pages, rep->passes, rep->records_committed,
                           inflight, rep->reason ? " reason=" : "",
                           rep->reason ? rep->reason : "");
}


/* ---- disk images ------------------------------------------------------- */

typedef struct {
    GuestDiskReport *rep;
    gboolean in_run;
} DiskScan;


static void
diskScanRecord(const guint8 *unit, guint64 idx, gpointer opaque)
{
    DiskScan *scan = opaque;
    GuestDiskReport *rep = scan->rep;
    ClonetestRecord rec;

    memcpy(&rec, unit, sizeof(rec));
    if (scan->in_run && clonetestRecordValid(&rec, idx, rep->disk_id)) {
        if (idx == 0)
            rep->disk_id = rec.disk_id;
        rep->boot_count = rec.boot_count;
        rep->count++;
        return;
    }
    scan->in_run = FALSE;
    if (!rep->valid_beyond_gap && clonetestRecordValid(&rec, idx, rep->disk_id)) {
        rep->valid_beyond_gap = TRUE;
        rep->first_beyond_gap = idx;
    }
}


int
guestCheckDiskImage(const char *rawpath, GuestDiskReport *rep, GError **err)
{
    DiskScan scan = { rep, TRUE };

    memset(rep, 0, sizeof(*rep));
    return scanFile(rawpath, diskScanRecord, &scan, &rep->capacity, err);
}


char *
guestDiskReportFormat(const GuestDiskReport *rep)
{
    g_autofree char *beyond = NULL;

    if (rep->valid_beyond_gap)
        beyond = g_strdup_printf("%" G_GUINT64_FORMAT, rep->first_beyond_gap);
    else
        beyond = g_strdup("none");

    return g_strdup_printf("count=%" G_GUINT64_FORMAT " disk_id=%016" G_GINT64_MODIFIER "x"
                           " boot=%" G_GUINT64_FORMAT " capacity=%" G_GUINT64_FORMAT
                           " valid_beyond_gap=%s",
                           rep->count, rep->disk_id, rep->boot_count, rep->capacity,
                           beyond);
}
