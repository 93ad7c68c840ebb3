/*
 * clonetpmtest.c: the vTPM check and the copy of swtpm state (clone_tpm.c)
 *
 * The copy and its removal run on a temporary directory that stands for a
 * <source type='dir'> or <source type='file'> state, with files and modes
 * like swtpm's; libvirt's per-UUID directory (the default) is covered by
 * the integration test tests/test-tpm.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_tpm.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

#define TPM_XML(backend) \
    "<domain type='kvm'><name>tpmvm</name><devices>" \
    "<tpm model='tpm-crb'>" backend "</tpm></devices></domain>"

typedef struct {
    char *dir;
    char *from;
    char *to;
    cloneDomainPlan *plan;
} testFixture;


static void
testWrite(const char *path, const char *data, mode_t mode)
{
    g_assert_true(g_file_set_contents(path, data, -1, NULL));
    g_assert_cmpint(g_chmod(path, mode), ==, 0);
}


static mode_t
testMode(const char *path)
{
    GStatBuf st;

    g_assert_cmpint(g_lstat(path, &st), ==, 0);
    return st.st_mode & 07777;
}


static char *
testRead(const char *path)
{
    char *data = NULL;

    g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
    return data;
}


/* A state directory like swtpm's: DIR/tpmvm/ (0711) with tpm2/ (0700),
 * tpm2-00.permall (0600) and the lock file. */
static void
testSetup(testFixture *f, gconstpointer data)
{
    gboolean isDir = GPOINTER_TO_INT(data);
    g_autofree char *tpm2 = NULL;
    g_autofree char *permall = NULL;
    g_autofree char *lock = NULL;

    f->dir = g_dir_make_tmp("clonetpmtest-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->plan = g_new0(cloneDomainPlan, 1);
    f->plan->tpmClone = TRUE;
    f->plan->tpmStateIsDir = isDir;
    if (isDir) {
        f->from = g_build_filename(f->dir, "tpmvm", NULL);
        f->to = g_build_filename(f->dir, "clone1", NULL);
        tpm2 = g_build_filename(f->from, "tpm2", NULL);
        g_assert_cmpint(g_mkdir(f->from, 0711), ==, 0);
        g_assert_cmpint(g_chmod(f->from, 0711), ==, 0);
        permall = g_build_filename(tpm2, "tpm2-00.permall", NULL);
        lock = g_build_filename(tpm2, ".lock", NULL);
        g_assert_cmpint(g_mkdir(tpm2, 0700), ==, 0);
        testWrite(permall, "permanent state", 0600);
        testWrite(lock, "", 0640);
    } else {
        f->from = g_build_filename(f->dir, "tpmvm.state", NULL);
        f->to = g_build_filename(f->dir, "clone1.state", NULL);
        testWrite(f->from, "linear file state", 0640);
    }
    f->plan->tpmStateFrom = g_strdup(f->from);
    f->plan->tpmStateTo = g_strdup(f->to);
}


static void
testRemoveTree(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        testRemoveTree(child);
    }
    g_remove(path);
}


static void
testTeardown(testFixture *f, gconstpointer data G_GNUC_UNUSED)
{
    testRemoveTree(f->dir);
    cloneDomainPlanFree(f->plan);
    g_free(f->dir);
    g_free(f->from);
    g_free(f->to);
}


/* Copied with contents and modes, then removed; the source stays. */
static void
testCopyDir(testFixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *permall = g_build_filename(f->to, "tpm2", "tpm2-00.permall", NULL);
    g_autofree char *tpm2 = g_build_filename(f->to, "tpm2", NULL);
    g_autofree char *lock = g_build_filename(f->to, "tpm2", ".lock", NULL);
    g_autofree char *content = NULL;

    g_assert_cmpint(cloneTpmCopyState(NULL, f->plan), ==, 0);
    g_assert_true(f->plan->tpmStateCreated);
    content = testRead(permall);
    g_assert_cmpstr(content, ==, "permanent state");
    g_assert_cmpint(testMode(f->to), ==, 0711);
    g_assert_cmpint(testMode(tpm2), ==, 0700);
    g_assert_cmpint(testMode(permall), ==, 0600);
    g_assert_cmpint(testMode(lock), ==, 0640);

    cloneTpmRemoveState(NULL, f->plan);
    g_assert_false(f->plan->tpmStateCreated);
    g_assert_false(g_file_test(f->to, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(f->from, G_FILE_TEST_IS_DIR));
    /* idempotent, as an undo must be */
    cloneTpmRemoveState(NULL, f->plan);
    g_assert_true(g_file_test(f->from, G_FILE_TEST_IS_DIR));
}


static void
testCopyFile(testFixture *f, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *content = NULL;

    g_assert_cmpint(cloneTpmCopyState(NULL, f->plan), ==, 0);
    g_assert_true(f->plan->tpmStateCreated);
    content = testRead(f->to);
    g_assert_cmpstr(content, ==, "linear file state");
    g_assert_cmpint(testMode(f->to), ==, 0640);
    cloneTpmRemoveState(NULL, f->plan);
    g_assert_false(g_file_test(f->to, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(f->from, G_FILE_TEST_IS_REGULAR));
}


/* A state that exists already is not the clone's: refused, and rollback
 * leaves it alone. */
static void
testCopyExists(testFixture *f, gconstpointer data)
{
    if (GPOINTER_TO_INT(data))
        g_assert_cmpint(g_mkdir(f->to, 0700), ==, 0);
    else
        testWrite(f->to, "someone else's", 0600);
    g_assert_cmpint(cloneTpmCopyState(NULL, f->plan), ==, -1);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), f->to));
    g_assert_false(f->plan->tpmStateCreated);
    cloneTpmRemoveState(NULL, f->plan);
    g_assert_true(g_file_test(f->to, G_FILE_TEST_EXISTS));
}


/* A source whose state is not there yet: libvirt makes one for the clone,
 * which the migration overwrites; nothing is created here. */
static void
testCopyMissing(testFixture *f, gconstpointer data G_GNUC_UNUSED)
{
    testRemoveTree(f->from);
    g_assert_cmpint(cloneTpmCopyState(NULL, f->plan), ==, 0);
    g_assert_false(f->plan->tpmStateCreated);
    g_assert_false(g_file_test(f->to, G_FILE_TEST_EXISTS));
}


static void
testNotCloned(testFixture *f, gconstpointer data G_GNUC_UNUSED)
{
    f->plan->tpmClone = FALSE;
    g_assert_cmpint(cloneTpmCopyState(NULL, f->plan), ==, 0);
    g_assert_false(g_file_test(f->to, G_FILE_TEST_EXISTS));
}


/* ---- the check -------------------------------------------------------------- */

static void
testCheckOne(const char *xml, const char *policyXML, int code, const char *part)
{
    g_autoptr(clonePolicy) policy = clonePolicyParse(policyXML);
    int rc;

    g_assert_nonnull(policy);
    rc = cloneTpmCheck(xml, "tpmvm", policy);
    if (code == VIR_CLONE_ERR_OK) {
        g_assert_cmpint(rc, ==, 0);
        return;
    }
    g_assert_cmpint(rc, ==, -1);
    g_assert_cmpint(virCloneGetLastError()->code, ==, code);
    g_assert_nonnull(strstr(virCloneGetLastErrorMessage(), part));
}


static void
testCheck(void)
{
    const char *none = "<domain type='kvm'><name>tpmvm</name><devices/></domain>";
    const char *swtpm = TPM_XML("<backend type='emulator' version='2.0'/>");
    const char *passthrough = TPM_XML("<backend type='passthrough'><device path='/dev/tpm0'/></backend>");
    const char *clone = "<clonepolicy><tpm mode='clone'/></clonepolicy>";

    testCheckOne(none, NULL, VIR_CLONE_ERR_OK, NULL);
    testCheckOne(swtpm, NULL, VIR_CLONE_ERR_POLICY, "the default for a clone that is not a sandbox");
    /* a sandbox clones the vTPM by default */
    testCheckOne(swtpm, "<clonepolicy><network mode='sandbox'/></clonepolicy>",
                 VIR_CLONE_ERR_OK, NULL);
    testCheckOne(swtpm, "<clonepolicy><network mode='sandbox'/><tpm mode='refuse'/></clonepolicy>",
                 VIR_CLONE_ERR_POLICY, "<tpm mode='clone'/>");
    testCheckOne(swtpm, "<clonepolicy><tpm mode='refuse'/></clonepolicy>",
                 VIR_CLONE_ERR_POLICY, "<tpm mode='clone'/>");
    testCheckOne(swtpm, clone, VIR_CLONE_ERR_OK, NULL);
    testCheckOne(passthrough, clone, VIR_CLONE_ERR_UNSUPPORTED, "'passthrough'");
    testCheckOne(passthrough, NULL, VIR_CLONE_ERR_UNSUPPORTED, "'passthrough'");
}


/* Only a local connection has a known place for swtpm state. */
static void
testStorageDir(void)
{
    virConnectPtr conn = virConnectOpen("test:///default");
    g_autofree char *dir = NULL;

    g_assert_nonnull(conn);
    dir = cloneTpmStorageDir(conn);
    g_assert_null(dir);
    virConnectClose(conn);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    virCloneInitialize();
    g_test_add_func("/tpm/check", testCheck);
    g_test_add_func("/tpm/storage-dir", testStorageDir);
    g_test_add("/tpm/copy-dir", testFixture, GINT_TO_POINTER(TRUE), testSetup, testCopyDir, testTeardown);
    g_test_add("/tpm/copy-file", testFixture, GINT_TO_POINTER(FALSE), testSetup, testCopyFile, testTeardown);
    g_test_add("/tpm/copy-dir-exists", testFixture, GINT_TO_POINTER(TRUE), testSetup, testCopyExists,
               testTeardown);
    g_test_add("/tpm/copy-file-exists", testFixture, GINT_TO_POINTER(FALSE), testSetup, testCopyExists,
               testTeardown);
    g_test_add("/tpm/copy-missing", testFixture, GINT_TO_POINTER(TRUE), testSetup, testCopyMissing,
               testTeardown);
    g_test_add("/tpm/not-cloned", testFixture, GINT_TO_POINTER(TRUE), testSetup, testNotCloned,
               testTeardown);
    return g_test_run();
}
