/*
 * guestcheck.h: offline checks of the test guest's RAM and disk state.
 *
 * Pure functions over files (a pmemsave RAM dump, a raw disk image): they
 * tell whether what a clone/migration/snapshot captured is a state the
 * workload (tests/guest/workload.c) could really have been in.
 */
#pragma once

#include <glib.h>

#define GUEST_CHECK_ERROR guest_check_error_quark()
GQuark guest_check_error_quark(void);

typedef struct {
    gboolean ok;                 /* see guestCheckRamDump() */
    char *reason;                /* why not ok (NULL when ok) */

    /* from the CLNSTAT1 status page */
    guint64 nonce;
    guint64 npages_expected;
    guint64 passes;
    guint64 records_committed;
    guint64 record_inflight;     /* G_MAXUINT64: none */

    /* from the CLNPAGE1 pages carrying the status page's nonce */
    guint64 npages_found;        /* distinct indices in [0, npages_expected) */
    guint64 counter_n;           /* N: the minimum counter when ok (else the
                                    value that explains the most pages) */
    guint64 prefix;              /* pages [0, prefix) hold N+1 (best fit) */
    guint64 nbad;                /* missing, duplicate, out of range, wrong value */
    guint64 stale_pages;         /* CLNPAGE1 pages with another nonce (ignored) */
} GuestRamReport;

typedef struct {
    guint64 count;               /* contiguous valid records from record 0 */
    guint64 disk_id;             /* of record 0 (0 when count == 0) */
    guint64 boot_count;          /* of the last record of the run */
    guint64 capacity;            /* records the image can hold */
    gboolean valid_beyond_gap;   /* a valid record exists after the run */
    guint64 first_beyond_gap;    /* its seq, when valid_beyond_gap */
} GuestDiskReport;

void guestRamReportClear(GuestRamReport *rep);

/*
 * Scan @path, a dump of the whole guest physical RAM, page by page.
 * rep->ok is TRUE only if the status page was found and every page
 * 0..npages-1 is present exactly once, every counter is N or N+1, the N+1
 * pages are exactly a prefix [0,k), and N agrees with the status page's
 * pass count (N == passes, or N == passes + 1 with k == 0).  When not ok,
 * N and k are the best fit, so rep->nbad counts only the offending pages
 * (one flipped counter gives nbad == 1).
 * Returns 0 when the dump could be read and a report made (even if not ok),
 * -1 with @err set otherwise (unreadable file, no status page).
 */
int guestCheckRamDump(const char *path, GuestRamReport *rep, GError **err);

/*
 * Scan @rawpath, a raw image of the workload's record disk, for the
 * contiguous run of valid records from record 0 (magic, seq == index, CRC,
 * disk_id of record 0) and for any valid record beyond the first gap.
 * Returns 0 on success, -1 with @err set if the image cannot be read.
 */
int guestCheckDiskImage(const char *rawpath, GuestDiskReport *rep, GError **err);

/* One-line summaries, for logs and the guestcheck tool. */
char *guestRamReportFormat(const GuestRamReport *rep);
char *guestDiskReportFormat(const GuestDiskReport *rep);
