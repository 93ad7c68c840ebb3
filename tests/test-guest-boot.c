/*
 * test-guest-boot.c: end-to-end check of the test guest and its harness.
 *
 * Boots a real guest through the embedded QEMU driver, talks to its workload
 * over the serial console, checks a RAM dump and the record disk with
 * guestcheck, then cold-boots it again and checks that the workload resumes
 * where the disk left off.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "testutils-guest.h"
#include "guestcheck.h"

#define STAT_TIMEOUT_MS 10000
#define CMD_TIMEOUT_MS 10000

static TgEnv *env;


static void
checkStats(TgGuest *g)
{
    g_autoptr(GError) err = NULL;
    TgStat prev = { 0 };
    TgStat st;
    int i;

    for (i = 0; i < 3; i++) {
        g_assert_cmpint(tgSerialWaitStat(g, STAT_TIMEOUT_MS, &st, &err), ==, 0);
        g_assert_no_error(err);
        g_assert_cmpint(st.mode, ==, TG_MODE_BUSY);
        g_assert_true(st.disk_on);
        if (i > 0) {
            g_assert_cmpuint(st.t_ms, >, prev.t_ms);
            g_assert_cmpuint(st.passes, >, prev.passes);
            g_assert_cmpuint(st.records, >, prev.records);
        }
        prev = st;
    }
}


/* Switch the workload to @cmd and check the next full stat interval. */
static void
checkMode(TgGuest *g, const char *cmd, TgMode mode)
{
    g_autoptr(GError) err = NULL;
    TgStat st;

    g_assert_cmpint(tgSerialCommand(g, cmd, CMD_TIMEOUT_MS, &err), ==, 0);
    g_assert_no_error(err);
    /* the first stat line may cover time before the switch */
    g_assert_cmpint(tgSerialWaitStat(g, STAT_TIMEOUT_MS, &st, &err), ==, 0);
    g_assert_cmpint(tgSerialWaitStat(g, STAT_TIMEOUT_MS, &st, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(st.mode, ==, mode);
    if (mode == TG_MODE_IDLE)
        g_assert_cmpuint(st.pages_per_s, ==, 0);
    else
        g_assert_cmpuint(st.pages_per_s, >, 0);
}


static void
copyFile(const char *src, const char *dst)
{
    g_autofree char *buf = g_malloc(1 << 20);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;

    g_assert_cmpint(in, >=, 0);
    g_assert_cmpint(out, >=, 0);
    while ((n = read(in, buf, 1 << 20)) > 0)
        g_assert_cmpint(write(out, buf, n), ==, n);
    g_assert_cmpint(n, ==, 0);
    close(in);
    close(out);
}


/* Copy @src to @dst with page @index (of @nonce) holding counter @value. */
static void
corruptDump(const char *src, const char *dst, guint64 nonce, guint64 index,
            guint64 value)
{
    guint64 hdr[4] = { 0 };
    off_t off;
    int fd;

    copyFile(src, dst);
    fd = open(dst, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    for (off = 0; pread(fd, hdr, sizeof(hdr), off) == sizeof(hdr); off += 4096) {
        if (memcmp(hdr, "CLNPAGE1", 8) == 0 && hdr[1] == nonce && hdr[2] == index) {
            hdr[3] = value;
            g_assert_cmpint(pwrite(fd, hdr, sizeof(hdr), off), ==, sizeof(hdr));
            break;
        }
    }
    close(fd);
    g_assert_cmpuint(hdr[3], ==, value);
}


static void
checkRam(TgGuest *g, GuestRamReport *rep)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dump = g_strdup_printf("%s/%s.ram", tgGuestEnvRoot(g), tgGuestName(g));
    g_autofree char *bad = g_strdup_printf("%s/%s.bad.ram", tgGuestEnvRoot(g), tgGuestName(g));
    g_autofree char *text = NULL;
    GuestRamReport badrep;

    g_assert_cmpint(tgDumpRam(tgGuestDomain(g), dump, 0, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(guestCheckRamDump(dump, rep, &err), ==, 0);
    g_assert_no_error(err);
    text = guestRamReportFormat(rep);
    g_test_message("RAM: %s", text);
    g_assert_true(rep->ok);
    g_assert_cmpuint(rep->nonce, ==, tgGuestReady(g)->nonce);
    g_assert_cmpuint(rep->npages_expected, ==, 128 * 256);
    g_assert_cmpuint(rep->npages_found, ==, rep->npages_expected);

    corruptDump(dump, bad, rep->nonce, rep->npages_expected / 2, rep->counter_n + 5);
    g_assert_cmpint(guestCheckRamDump(bad, &badrep, &err), ==, 0);
    g_assert_no_error(err);
    g_test_message("corrupted RAM: %s", badrep.reason);
    g_assert_false(badrep.ok);
    g_assert_nonnull(badrep.reason);
    g_assert_cmpuint(badrep.nbad, ==, 1);
    guestRamReportClear(&badrep);
    g_unlink(bad);
    g_unlink(dump);
}


static void
checkDisk(TgGuest *g, const GuestRamReport *ram, GuestDiskReport *rep)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *raw = g_strdup_printf("%s/%s.raw", tgGuestEnvRoot(g), tgGuestName(g));
    g_autofree char *text = NULL;

    g_assert_cmpint(tgDiskToRaw(tgGuestDiskPath(g), raw, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(guestCheckDiskImage(raw, rep, &err), ==, 0);
    g_assert_no_error(err);
    text = guestDiskReportFormat(rep);
    g_test_message("disk: %s", text);
    g_assert_cmpuint(rep->count, >=, ram->records_committed);
    g_assert_cmpuint(rep->count, <=, ram->records_committed + 1);
    g_assert_cmpuint(rep->disk_id, ==, tgGuestReady(g)->disk_id);
    g_assert_false(rep->valid_beyond_gap);
    g_unlink(raw);
}


static void
testBoot(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TgGuest) g = NULL;
    TgGuestOpts opts = { .name_prefix = "boot", .memory_mib = 512, .mode = TG_MODE_BUSY };
    GuestRamReport ram;
    GuestDiskReport disk;
    gint64 start = g_get_monotonic_time();
    guint64 boot;

    g = tgGuestStart(env, &opts, &err);
    g_assert_no_error(err);
    g_test_message("%s ready after %.1f s, guest uptime %.1f s (accel %s)",
                   tgGuestName(g), (g_get_monotonic_time() - start) / 1e6,
                   tgGuestReady(g)->t_ms / 1e3, tgEnvAccel(env));
    g_assert_cmpuint(tgGuestReady(g)->records_found, ==, 0);
    boot = tgGuestReady(g)->boot;

    checkStats(g);
    checkMode(g, "idle", TG_MODE_IDLE);
    checkMode(g, "busy", TG_MODE_BUSY);

    g_assert_cmpint(virDomainSuspend(tgGuestDomain(g)), ==, 0);
    checkRam(g, &ram);
    checkDisk(g, &ram, &disk);
    guestRamReportClear(&ram);

    g_assert_cmpint(virDomainDestroy(tgGuestDomain(g)), ==, 0);
    start = g_get_monotonic_time();
    g_assert_cmpint(tgGuestBoot(g, 0, &err), ==, 0);
    g_assert_no_error(err);
    g_test_message("cold boot ready after %.1f s, guest uptime %.1f s, records_found=%"
                   G_GUINT64_FORMAT, (g_get_monotonic_time() - start) / 1e6,
                   tgGuestReady(g)->t_ms / 1e3, tgGuestReady(g)->records_found);
    g_assert_cmpuint(tgGuestReady(g)->records_found, >=, disk.count);
    g_assert_cmpuint(tgGuestReady(g)->disk_id, ==, disk.disk_id);
    g_assert_cmpuint(tgGuestReady(g)->boot, ==, boot + 1);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("TG_GUEST_DIR")) {
        g_printerr("TG_GUEST_DIR not set: skipping the real-guest tests\n");
        return 77;
    }
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the test environment: %s\n", err->message);
        return 1;
    }

    g_test_add_func("/guest/boot", testBoot);
    ret = g_test_run();

    tgEnvFree(env);
    return ret;
}
