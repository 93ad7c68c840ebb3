/*
 * clonejobrectest.c: job locks and records (clone_jobrec.c, clone_job.c)
 *
 * The lock is a real flock(2) on a real file, taken from this process and
 * from a child that dies holding it; the record goes through the same
 * functions a job uses, with domains of libvirt's test driver
 * (test:///default) as the source and the clone.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_job.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define SRC_UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"   /* test:///default's "test" */

static char *runDir;


static void
testQuiet(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


static guint
testCountFiles(void)
{
    g_autofree char *dir = g_build_filename(runDir, "jobs", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    while (d && g_dir_read_name(d))
        n++;
    return n;
}


/* One job per source: a second lock is refused while the first is held,
 * even from the same process; releasing removes the lock file. */
static void
testLockBusy(void)
{
    g_autoptr(cloneJobLock) lock = cloneJobLockAcquire(runDir, SRC_UUID, "test", FALSE, 1);
    cloneJobLock *second;

    g_assert_nonnull(lock);
    g_assert_true(cloneJobLockHeld(runDir, SRC_UUID));
    second = cloneJobLockAcquire(runDir, SRC_UUID, "test", FALSE, 1);
    g_assert_null(second);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_BUSY);
    g_assert_null(cloneJobLockTry(runDir, SRC_UUID));
    /* waiting gives up after the timeout */
    g_assert_null(cloneJobLockAcquire(runDir, SRC_UUID, "test", TRUE, 1));
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_TIMEOUT);
    g_clear_pointer(&lock, cloneJobLockRelease);
    g_assert_false(cloneJobLockHeld(runDir, SRC_UUID));
    g_assert_cmpuint(testCountFiles(), ==, 0);
}


/* A process that dies holding the lock leaves a stale record: the lock is
 * free, the record is there for whoever takes the lock next. */
static void
testStaleRecord(void)
{
    g_autoptr(cloneJobLock) lock = NULL;
    g_autoptr(JsonObject) rec = NULL;
    g_auto(GStrv) uuids = NULL;
    int status;
    pid_t pid = fork();

    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        cloneJobLock *mine = cloneJobLockAcquire(runDir, SRC_UUID, "test", FALSE, 1);
        g_autoptr(JsonObject) r = json_object_new();

        json_object_set_string_member(r, "phase", "transfer");
        if (!mine || cloneJobRecordSave(mine, r) < 0)
            _exit(1);
        raise(SIGKILL);   /* dies holding the lock, as a killed caller does */
        _exit(1);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    g_assert_false(cloneJobLockHeld(runDir, SRC_UUID));
    uuids = cloneJobRecordList(runDir);
    g_assert_cmpuint(g_strv_length(uuids), ==, 1);
    g_assert_cmpstr(uuids[0], ==, SRC_UUID);
    g_assert_nonnull((lock = cloneJobLockTry(runDir, SRC_UUID)));
    g_assert_cmpint(cloneJobRecordLoad(lock, &rec), ==, 1);
    g_assert_cmpstr(json_object_get_string_member(rec, "phase"), ==, "transfer");
    cloneJobRecordRemove(lock);
    g_clear_pointer(&rec, json_object_unref);
    g_assert_cmpint(cloneJobRecordLoad(lock, &rec), ==, 0);
    g_clear_pointer(&lock, cloneJobLockRelease);
    g_assert_cmpuint(testCountFiles(), ==, 0);
}


/* What the undos need comes back from the record as it went in. */
static void
testRecordRoundTrip(void)
{
    virConnectPtr conn = virConnectOpen("test:///default");
    virDomainPtr src = virDomainLookupByName(conn, "test");
    g_autoptr(cloneJob) job = cloneJobNew(src, NULL, 0);
    g_autoptr(cloneJob) back = NULL;
    g_autoptr(JsonObject) rec = NULL;
    cloneDisk *disk = g_new0(cloneDisk, 1);
    cloneDisk *d;

    g_assert_nonnull(job);
    job->name = g_strdup("test-clone1");
    job->phase = CLONE_JOB_PHASE_TRANSFER;
    job->strategy = CLONE_STRATEGY_BACKGROUND;
    job->mig->srcWasRunning = TRUE;
    job->mig->srcPausedByUs = TRUE;
    job->mig->migrationStarted = TRUE;
    job->forkAttempted = TRUE;
    job->plan = cloneDomainPlanNew();
    job->plan->cloneUUID = g_strdup("0b9fcb88-1b30-4d4e-8a45-5fd4c1a3b8c2");
    job->plan->sandboxBridge = g_strdup("lvcsandbox0");
    disk->action = CLONE_DISK_FORK;
    disk->target = g_strdup("vda");
    disk->cloneOverlay = g_strdup("/images/test-clone1-vda.qcow2");
    disk->sourceOverlay = g_strdup("/images/test-vda.next.qcow2");
    g_ptr_array_add(job->plan->disks, disk);
    g_ptr_array_add(job->plan->ownedFiles, g_strdup("/log/test-clone1-serial.log"));
    g_ptr_array_add(job->createdDirs, g_strdup("/images/new"));
    job->mig->srcSaved = g_new0(cloneMigSettings, 1);
    job->mig->srcSaved->caps = json_object_new();
    json_object_set_boolean_member(job->mig->srcSaved->caps, "background-snapshot", FALSE);
    job->mig->srcSaved->params = json_object_new();
    json_object_set_int_member(job->mig->srcSaved->params, "max-bandwidth", 134217728);
    job->mig->srcCaps = json_object_new();
    json_object_set_boolean_member(job->mig->srcCaps, "background-snapshot", TRUE);

    rec = cloneJobToRecord(job);
    g_assert_nonnull((back = cloneJobFromRecord(conn, rec)));
    g_assert_true(back->recovered);
    g_assert_nonnull(back->src);
    g_assert_null(back->clone);   /* no such domain */
    g_assert_cmpint(back->phase, ==, CLONE_JOB_PHASE_TRANSFER);
    g_assert_cmpint(back->strategy, ==, CLONE_STRATEGY_BACKGROUND);
    g_assert_true(back->mig->srcWasRunning && back->mig->srcPausedByUs && back->mig->migrationStarted);
    g_assert_true(back->forkAttempted);
    g_assert_false(back->disksForked);
    g_assert_cmpstr(back->name, ==, "test-clone1");
    g_assert_cmpstr(back->plan->cloneUUID, ==, job->plan->cloneUUID);
    g_assert_cmpstr(back->plan->sourceUUID, ==, SRC_UUID);
    g_assert_cmpstr(back->plan->sandboxBridge, ==, "lvcsandbox0");
    g_assert_cmpuint(back->plan->disks->len, ==, 1);
    d = g_ptr_array_index(back->plan->disks, 0);
    g_assert_cmpstr(d->cloneOverlay, ==, disk->cloneOverlay);
    g_assert_cmpstr(d->sourceOverlay, ==, disk->sourceOverlay);
    /* named in a record once the files phase began: the job's own */
    g_assert_true(d->cloneOverlayCreated && d->sourceOverlayCreated);
    g_assert_cmpuint(back->plan->ownedFiles->len, ==, 1);
    g_assert_cmpuint(back->createdDirs->len, ==, 1);
    g_assert_nonnull(back->mig->srcSaved);
    g_assert_cmpint(json_object_get_int_member(back->mig->srcSaved->params, "max-bandwidth"), ==,
                    134217728);
    g_assert_true(json_object_get_boolean_member(back->mig->srcCaps, "background-snapshot"));

    /* a record of another form is refused, not guessed at */
    json_object_set_int_member(rec, "version", 99);
    g_assert_null(cloneJobFromRecord(conn, rec));
    g_clear_pointer(&job, cloneJobFree);
    virDomainFree(src);
    virConnectClose(conn);
}


/* The run directory follows the connection; remote ones have none. */
static void
testRunDir(void)
{
    virConnectPtr conn = virConnectOpen("test:///default");
    g_autofree char *dir = cloneRunDir(conn);

    g_assert_null(dir);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_UNSUPPORTED);
    /* no job can have run there: nothing to recover, no error */
    g_assert_cmpint(cloneJobsRecoverStale(conn), ==, 0);
    virConnectClose(conn);
}


int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, testQuiet);
    virCloneInitialize();
    runDir = g_dir_make_tmp("lvc-jobrec-XXXXXX", NULL);
    g_test_add_func("/jobrec/lock-busy", testLockBusy);
    g_test_add_func("/jobrec/stale-record", testStaleRecord);
    g_test_add_func("/jobrec/round-trip", testRecordRoundTrip);
    g_test_add_func("/jobrec/run-dir", testRunDir);
    ret = g_test_run();
    {
        g_autofree char *jobs = g_build_filename(runDir, "jobs", NULL);

        g_rmdir(jobs);
        g_rmdir(runDir);
    }
    return ret;
}
