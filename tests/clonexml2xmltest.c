/*
 * clonexml2xmltest.c: golden tests of the clone's domain XML
 *
 * Each case NAME reads clonexml2xmldata/NAME.src.xml and, if it exists,
 * the clone policy NAME.policy.xml (through clonePolicyParse()), and
 * compares the rewrite with NAME.out.xml (the clone's XML followed by the
 * plan of its files), or its error with NAME.err.
 * VIR_TEST_REGENERATE_OUTPUT=1 rewrites the expected files for review.
 * A data file that no case uses fails.
 *
 * Besides the golden files, every successful rewrite is checked for what
 * must never happen: a file of the clone that the source uses, two NICs
 * with one MAC, the source's MAC where the policy did not ask for it.
 *
 * For the cases in snapshotCases the disk-only snapshot that forks the
 * source's disks (cloneDiskSnapshotXML) is compared with
 * NAME.snapshot.xml too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_disk.h"
#include "testutils.h"

typedef enum {
    TEST_DERIVED_MAC = 1 << 0,  /* no newMac callback: MACs from the UUID */
    TEST_POLICY_NAME = 1 << 1,  /* the metadata names the policy */
    TEST_FILE_DIR = 1 << 2,     /* logs and NVRAM go to one directory */
    TEST_EPHEMERAL = 1 << 3,    /* a transient clone */
} testFlags;

typedef struct {
    const char *name;
    unsigned int flags;
} testCase;

static const testCase cases[] = {
    /* disks */
    { "minimal", 0 },
    { "raw-disk", 0 },
    { "block-disk", 0 },
    { "block-disk-no-dir", 0 },
    { "readonly-disks", 0 },
    { "removable-disks", 0 },
    { "disk-actions", TEST_POLICY_NAME },
    { "disk-no-driver", 0 },
    { "network-cdrom", 0 },
    { "network-rbd", 0 },
    { "shareable-writable", 0 },
    { "shareable-readonly", 0 },
    { "transient-disk", 0 },
    { "disk-lun", 0 },
    { "disk-encrypted", 0 },
    { "disk-mirror", 0 },
    { "disk-volume", 0 },
    { "disk-nvme", 0 },
    { "disk-slices", 0 },
    { "disk-share-writable", 0 },
    { "disk-exclude-fixed", 0 },
    { "disk-fork-cdrom", 0 },
    { "disk-policy-unknown", 0 },
    /* NICs */
    { "two-nics-file-console", 0 },
    { "nic-classes", 0 },
    { "nic-mac-policy", 0 },
    { "nic-mac-derived", TEST_DERIVED_MAC },
    { "nic-mac-keep-inherit", 0 },
    { "nic-mac-set-duplicate", 0 },
    { "nic-policy-unknown", 0 },
    { "nic-sandbox", 0 },
    { "nic-vhostuser", 0 },
    { "nic-hostdev", 0 },
    { "nic-direct-passthrough", 0 },
    { "nic-ethernet-unmanaged", 0 },
    { "nic-server", 0 },
    /* character devices, graphics */
    { "chardevs", 0 },
    { "chardevs-file-dir", TEST_FILE_DIR },
    { "chardev-tcp-listen", 0 },
    { "chardev-host-dev", 0 },
    { "chardev-file-collision", TEST_FILE_DIR },
    { "graphics", 0 },
    /* firmware, vTPM, identity */
    { "nvram-graphics", 0 },
    { "nvram-source-file", TEST_FILE_DIR },
    { "nvram-block", 0 },
    { "loader-writable", 0 },
    { "tpm", 0 },
    { "tpm-clone", 0 },
    { "tpm-clone-state-dir", 0 },
    { "tpm-clone-ephemeral", TEST_EPHEMERAL },
    { "tpm-passthrough", 0 },
    { "genid-keep", 0 },
    { "uuid-policy", 0 },
    { "uuid-mismatch", 0 },
    { "qemu-commandline", 0 },
    { "clone-of-clone", 0 },
    /* other devices */
    { "hostdev", 0 },
    { "redirdev", 0 },
    { "input-passthrough", 0 },
    { "smartcard-host", 0 },
    { "filesystem-9p", 0 },
    { "filesystem-virtiofs", 0 },
    { "memory-backing", 0 },
    { "memory-nvdimm", 0 },
    { "shmem", 0 },
    { "launch-security", 0 },
    { "misc-devices", 0 },
    /* sandbox */
    { "sandbox-channels", 0 },
    { "sandbox-user-nic", 0 },
    { "sandbox-filesystem", 0 },
};

/* every disk action, and names that need escaping */
static const char *const snapshotCases[] = { "disk-actions", "removable-disks", NULL };

static GHashTable *used;

static char *
testMac(guint idx, void *opaque G_GNUC_UNUSED)
{
    return g_strdup_printf("52:54:00:c1:00:%02x", idx);
}


static void
testFormatDisks(GString *s, const cloneDomainPlan *plan)
{
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        g_string_append_printf(s, "  disk %s %s", d->target, cloneDiskActionTypeToString(d->action));
        if (d->action == CLONE_DISK_FORK)
            g_string_append_printf(s, " backing=%s (%s) clone=%s source=%s",
                                   d->srcPath, d->srcFormat, d->cloneOverlay, d->sourceOverlay);
        g_string_append_c(s, '\n');
    }
}


static void
testFormatNics(GString *s, const cloneDomainPlan *plan)
{
    for (guint i = 0; i < plan->nics->len; i++) {
        cloneNic *n = g_ptr_array_index(plan->nics, i);

        g_string_append_printf(s, "  nic %s %s %s -> %s (%s)\n",
                               n->alias ? n->alias : "-", n->type,
                               n->sourceMac ? n->sourceMac : "-", n->mac,
                               cloneMacModeTypeToString(n->mode));
    }
}


static void
testFormatTpm(GString *s, const cloneDomainPlan *plan)
{
    if (!plan->tpmClone)
        return;
    if (plan->tpmStateFrom)
        g_string_append_printf(s, "  tpm clone state %s %s -> %s\n",
                               plan->tpmStateIsDir ? "dir" : "file",
                               plan->tpmStateFrom, plan->tpmStateTo);
    else
        g_string_append_printf(s, "  tpm clone state SWTPMDIR/%s/ -> SWTPMDIR/%s/\n",
                               plan->sourceUUID, plan->cloneUUID);
}


static char *
testFormatPlan(const cloneDomainPlan *plan)
{
    g_autoptr(GString) s = g_string_new(plan->xml);
    const char *genid = plan->hasGenid ? "new" : strstr(plan->xml, "<genid>") ? "keep" : "none";

    g_string_append(s, "<!-- plan\n");
    g_string_append_printf(s, "  uuid %s -> %s\n", plan->sourceUUID, plan->cloneUUID);
    testFormatDisks(s, plan);
    for (guint i = 0; i < plan->copies->len; i++) {
        cloneCopy *c = g_ptr_array_index(plan->copies, i);

        g_string_append_printf(s, "  copy %s -> %s\n", c->from, c->to);
    }
    for (guint i = 0; i < plan->newFiles->len; i++)
        g_string_append_printf(s, "  new %s\n", (char *)g_ptr_array_index(plan->newFiles, i));
    testFormatNics(s, plan);
    testFormatTpm(s, plan);
    if (plan->nicsRehome)
        g_string_append(s, "  nics rehome (sandbox)\n");
    g_string_append_printf(s, "  nics %u genid %s\n-->\n", plan->nnics, genid);
    return g_string_free(g_steal_pointer(&s), FALSE);
}


/* A file of the clone must not appear in the source's XML. */
static void
testCheckNotSourcePath(const char *srcXML, const char *path)
{
    g_autofree char *attr = g_strdup_printf("'%s'", path);
    g_autofree char *text = g_strdup_printf(">%s<", path);

    if (path && (strstr(srcXML, attr) || strstr(srcXML, text))) {
        g_test_message("the clone's file %s is used by the source", path);
        g_test_fail();
    }
}


static void
testCheckFiles(const char *srcXML, const cloneDomainPlan *plan)
{
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        if (d->action == CLONE_DISK_FORK) {
            testCheckNotSourcePath(srcXML, d->cloneOverlay);
            testCheckNotSourcePath(srcXML, d->sourceOverlay);
        }
    }
    for (guint i = 0; i < plan->copies->len; i++)
        testCheckNotSourcePath(srcXML, ((cloneCopy *)g_ptr_array_index(plan->copies, i))->to);
    for (guint i = 0; i < plan->newFiles->len; i++)
        testCheckNotSourcePath(srcXML, g_ptr_array_index(plan->newFiles, i));
    if (plan->tpmStateTo)
        testCheckNotSourcePath(srcXML, plan->tpmStateTo);
}


/* No two NICs of the clone share a MAC; the source's MAC only where the
 * policy keeps or sets it, and never on a network the source is on. */
static void
testCheckMacs(const char *srcXML, const cloneDomainPlan *plan, const clonePolicy *policy)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < plan->nics->len; i++) {
        cloneNic *n = g_ptr_array_index(plan->nics, i);
        g_autofree char *mac = g_ascii_strdown(n->mac, -1);
        g_autofree char *attr = g_strdup_printf("address='%s'", mac);
        gboolean isSource = strstr(srcXML, attr) != NULL;

        if (g_hash_table_contains(seen, mac) ||
            (isSource && (n->mode == CLONE_MAC_AUTO ||
                          (policy && policy->network == CLONE_NETWORK_INHERIT)))) {
            g_test_message("the clone's MAC %s is a duplicate or the source's", n->mac);
            g_test_fail();
        }
        g_hash_table_add(seen, g_steal_pointer(&mac));
    }
    if (plan->nics->len != plan->nnics) {
        g_test_message("nnics is %u, but the plan lists %u NICs", plan->nnics, plan->nics->len);
        g_test_fail();
    }
}


static clonePolicy *
testLoadPolicy(const char *name, gboolean *ok)
{
    g_autofree char *path = g_strdup_printf("%s/%s.policy.xml", DATADIR, name);
    g_autofree char *xml = NULL;
    clonePolicy *policy;

    *ok = TRUE;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return NULL;
    testDataUse(used, path);
    xml = testLoadFile(path);
    if (!(policy = clonePolicyParse(xml))) {
        g_test_message("%s: %s", path, virCloneGetLastErrorMessage());
        *ok = FALSE;
    }
    return policy;
}


static void
testCheckResult(const char *name, const char *srcXML, const cloneDomainPlan *plan,
                const clonePolicy *policy)
{
    g_autofree char *out = g_strdup_printf("%s/%s.out.xml", DATADIR, name);
    g_autofree char *errf = g_strdup_printf("%s/%s.err", DATADIR, name);
    gboolean expectError = g_file_test(errf, G_FILE_TEST_EXISTS);

    if (plan && !expectError) {
        g_autofree char *actual = testFormatPlan(plan);

        testDataUse(used, out);
        testCheckFiles(srcXML, plan);
        testCheckMacs(srcXML, plan, policy);
        g_assert_true(testCompareToFile(actual, out));
    } else if (!plan && (expectError || !g_file_test(out, G_FILE_TEST_EXISTS))) {
        g_autofree char *msg = g_strdup_printf("%s\n", virCloneGetLastErrorMessage());

        testDataUse(used, errf);
        g_assert_true(testCompareToFile(msg, errf));
    } else {
        g_test_message("case %s: %s", name, plan ? "the rewrite succeeded but an error was expected"
                                                 : virCloneGetLastErrorMessage());
        g_test_fail();
    }
}


static void
testRewrite(gconstpointer data)
{
    const testCase *tc = data;
    g_autofree char *src = g_strdup_printf("%s/%s.src.xml", DATADIR, tc->name);
    g_autofree char *xml = testLoadFile(src);
    g_autoptr(clonePolicy) policy = NULL;
    g_autoptr(cloneDomainPlan) plan = NULL;
    gboolean policyOk;
    cloneRewriteParams p = {
        .name = "clone1",
        .uuid = "c1c1c1c1-0000-4000-8000-000000000001",
        .stamp = "s1",
        .newMac = (tc->flags & TEST_DERIVED_MAC) ? NULL : testMac,
        .policyName = (tc->flags & TEST_POLICY_NAME) ? tc->name : NULL,
        .fileDir = (tc->flags & TEST_FILE_DIR) ? "/var/lib/clones/files" : NULL,
        .ephemeral = (tc->flags & TEST_EPHEMERAL) != 0,
    };

    g_assert_nonnull(xml);
    testDataUse(used, src);
    virCloneResetLastError();
    policy = testLoadPolicy(tc->name, &policyOk);
    if (!policyOk) {
        g_test_fail();
        return;
    }
    p.policy = policy;
    plan = cloneDomainRewrite(xml, &p);
    testCheckResult(tc->name, xml, plan, policy);
    if (plan && g_strv_contains(snapshotCases, tc->name)) {
        g_autofree char *snapFile = g_strdup_printf("%s/%s.snapshot.xml", DATADIR, tc->name);
        g_autofree char *snap = cloneDiskSnapshotXML(plan, "clone1<&>'");

        testDataUse(used, snapFile);
        g_assert_true(testCompareToFile(snap, snapFile));
    }
}


static void
testUnused(void)
{
    testCheckUnusedFiles(DATADIR, used);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/clonexml2xml/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], testRewrite);
    }
    g_test_add_func("/clonexml2xml/unused-data-files", testUnused);
    return g_test_run();
}
