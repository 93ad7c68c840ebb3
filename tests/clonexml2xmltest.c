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
 * NAME.snapshot.xml too.  The XML helpers the rewrite is built on
 * (clone_xml.c) and the reader of the metadata it writes
 * (clone_metadata.c) have tests of their own at the end.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_disk.h"
#include "clone_metadata.h"
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


/* ---- the XML helpers and the metadata reader ----------------------------- */

static void
testXMLParse(void)
{
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autofree char *name = NULL;
    xmlDocPtr bad;

    /* an error is reported once, with the caller's code and sentence */
    virCloneResetLastError();
    bad = cloneXMLParse("<domain", "domain", VIR_CLONE_ERR_INVALID_ARG, "not a domain", &ctxt);
    g_assert_null(bad);
    g_assert_null(ctxt);
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_INVALID_ARG);
    g_assert_cmpstr(virCloneGetLastErrorMessage(), ==, "not a domain");
    /* a probe reports nothing; another root element is no domain */
    virCloneResetLastError();
    g_assert_null(cloneXMLParse("<pool/>", "domain", VIR_CLONE_ERR_INTERNAL, NULL, NULL));
    g_assert_null(cloneXMLParse(NULL, NULL, VIR_CLONE_ERR_INTERNAL, NULL, NULL));
    g_assert_null(virCloneGetLastError());
    /* the context starts at the root: relative expressions work */
    doc = cloneXMLParse("<domain><name>d</name></domain>", "domain", 0, NULL, &ctxt);
    g_assert_nonnull(doc);
    g_assert_true(ctxt->node == xmlDocGetRootElement(doc));
    name = cloneXPathString(ctxt, "string(name)");
    g_assert_cmpstr(name, ==, "d");
}


static void
testXMLXPath(void)
{
    const char *xml = "<domain><devices>"
                      "<disk><source file='/a'/><target dev='vda'/></disk>"
                      "<disk><source file=''/><target dev='vdb'/></disk>"
                      "<disk><target dev='vdc'/></disk>"
                      "</devices></domain>";
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = cloneXMLParse(xml, "domain", 0, NULL, &ctxt);
    g_auto(GStrv) files = cloneXPathStrings(ctxt, "/domain/devices/disk/source/@file");
    g_auto(GStrv) none = cloneXPathStrings(ctxt, "/domain/devices/nothing");
    g_auto(GStrv) garbage = cloneXMLStrings("<domain", "/domain/@type");
    const char *want[] = { "/a", NULL };
    g_autofree xmlNodePtr *disks = NULL;
    xmlNodePtr root = ctxt->node;

    g_assert_nonnull(doc);
    /* empty values are left out */
    g_assert_true(g_strv_equal((const char *const *)files, want));
    g_assert_null(none[0]);
    g_assert_null(garbage[0]);
    g_assert_null(cloneXPathString(ctxt, "string(/domain/devices/disk[2]/source/@file)"));
    g_assert_cmpuint(cloneXPathCount(ctxt, "/domain/devices/disk"), ==, 3);
    g_assert_cmpuint(cloneXPathCount(ctxt, "/domain/devices/nothing"), ==, 0);
    g_assert_cmpuint(cloneXPathNodes(ctxt, "/domain/devices/disk", &disks), ==, 3);
    {
        CLONE_XPATH_NODE_AUTORESTORE(ctxt);
        g_autofree char *dev = NULL;

        ctxt->node = disks[2];
        dev = cloneXPathString(ctxt, "string(target/@dev)");
        g_assert_cmpstr(dev, ==, "vdc");
    }
    g_assert_true(ctxt->node == root);
}


static void
testMetadata(void)
{
    /* a whole domain XML, as the hook gets it */
    const char *domain =
        "<domain><name>c</name><metadata>"
        "<clone:clone xmlns:clone='" CLONE_METADATA_NS "'>"
        "<clone:parent name='src' uuid='6f1c3c1e-8f44-4b9e-9f5e-3f8f0c2a0001'/>"
        "<clone:lifecycle expires='1700000000' ephemeral='yes'/>"
        "<clone:sandbox/>"
        "<clone:base target='vda' overlay='/o/vda.qcow2'/>"
        "<clone:base target='vdb' overlay='/o/vdb.qcow2'/>"
        "</clone:clone></metadata></domain>";
    /* the element alone, as virDomainGetMetadata() returns it */
    const char *element = "<clone><parent name='src'/><sandbox bridge='lvcother'/></clone>";
    g_autoptr(cloneMetadata) meta = cloneMetadataParse(domain);
    g_autoptr(cloneMetadata) elem = cloneMetadataParse(element);

    g_assert_nonnull(meta);
    g_assert_cmpstr(meta->parentName, ==, "src");
    g_assert_cmpstr(meta->parentUUID, ==, "6f1c3c1e-8f44-4b9e-9f5e-3f8f0c2a0001");
    g_assert_cmpuint(meta->expires, ==, 1700000000);
    g_assert_true(meta->ephemeral);
    g_assert_true(meta->sandbox);
    g_assert_null(meta->sandboxBridge);
    g_assert_cmpuint(meta->overlays->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(meta->overlays, 1), ==, "/o/vdb.qcow2");
    g_assert_nonnull(elem);
    g_assert_null(elem->parentUUID);
    g_assert_cmpuint(elem->expires, ==, 0);
    g_assert_false(elem->ephemeral);
    g_assert_cmpstr(elem->sandboxBridge, ==, "lvcother");
    g_assert_cmpuint(elem->overlays->len, ==, 0);
    /* not a clone's: no parent; no error either way */
    virCloneResetLastError();
    g_assert_null(cloneMetadataParse("<domain><name>x</name></domain>"));
    g_assert_null(cloneMetadataParse("<domain"));
    g_assert_null(cloneMetadataParse(NULL));
    g_assert_null(virCloneGetLastError());
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
    g_test_add_func("/clonexml2xml/helpers/parse", testXMLParse);
    g_test_add_func("/clonexml2xml/helpers/xpath", testXMLXPath);
    g_test_add_func("/clonexml2xml/helpers/metadata", testMetadata);
    g_test_add_func("/clonexml2xml/unused-data-files", testUnused);
    return g_test_run();
}
