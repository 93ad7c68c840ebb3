/*
 * clonepolicytest.c: the clone policy parser and formatter
 *
 * Golden tests over clonepolicydata/: each NAME.xml is a case.  A valid
 * policy formats to NAME.out.xml (the effective policy, every default
 * written out), and that formats again to itself; NAME-invalid.xml fails
 * with the message in NAME-invalid.err, line number included.
 * VIR_TEST_REGENERATE_OUTPUT=1 rewrites the expected files for review; an
 * expected file without its case fails.  The schema test
 * (clonepolicyschematest.c) runs the same files through the RelaxNG schema.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_policy.h"
#include "testutils.h"

static GHashTable *used;


static char *
testDataPath(const char *name, const char *suffix)
{
    return g_strdup_printf("%s/%s%s", DATADIR, name, suffix);
}


static void
testExpectPolicyError(const char *part)
{
    virCloneErrorPtr err = virCloneGetLastError();

    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, VIR_CLONE_ERR_POLICY);
    if (part && !strstr(err->message, part)) {
        g_test_message("expected '%s' in '%s'", part, err->message);
        g_test_fail();
    }
}


/* NAME-invalid.xml: the error, whole, is NAME-invalid.err */
static void
testInvalid(const char *name, const char *xml)
{
    g_autofree char *errPath = testDataPath(name, ".err");
    g_autoptr(clonePolicy) p = NULL;
    g_autofree char *msg = NULL;

    virCloneResetLastError();
    p = clonePolicyParse(xml);
    g_assert_null(p);
    testExpectPolicyError("invalid clone policy, line ");
    g_assert_false(g_str_has_prefix(virCloneGetLastErrorMessage(), "invalid clone policy, line 0:"));
    msg = g_strdup_printf("%s\n", virCloneGetLastErrorMessage());
    testDataUse(used, errPath);
    if (!testCompareToFile(msg, errPath))
        g_test_fail();
}


/* NAME.xml: the effective policy is NAME.out.xml, and formats to itself */
static void
testValid(const char *name, const char *xml)
{
    g_autofree char *outPath = testDataPath(name, ".out.xml");
    g_autoptr(clonePolicy) p = clonePolicyParse(xml);
    g_autoptr(clonePolicy) again = NULL;
    g_autofree char *formatted = NULL;
    g_autofree char *formattedAgain = NULL;

    if (!p)
        g_error("%s: %s", name, virCloneGetLastErrorMessage());
    formatted = clonePolicyFormat(p);
    testDataUse(used, outPath);
    if (!testCompareToFile(formatted, outPath))
        g_test_fail();
    again = clonePolicyParse(formatted);
    g_assert_nonnull(again);
    formattedAgain = clonePolicyFormat(again);
    g_assert_cmpstr(formatted, ==, formattedAgain);
}


static void
testDataCase(gconstpointer data)
{
    const char *name = data;
    g_autofree char *path = testDataPath(name, ".xml");
    g_autofree char *xml = testLoadFile(path);

    g_assert_nonnull(xml);
    testDataUse(used, path);
    if (g_str_has_suffix(name, "-invalid"))
        testInvalid(name, xml);
    else
        testValid(name, xml);
}


static int
testCompareNames(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


/* Every NAME.xml of clonepolicydata/ but the expected outputs. */
static GPtrArray *
testDataCases(void)
{
    g_autoptr(GDir) dir = g_dir_open(DATADIR, 0, NULL);
    GPtrArray *cases = g_ptr_array_new_with_free_func(g_free);
    const char *file;

    g_assert_nonnull(dir);
    while ((file = g_dir_read_name(dir))) {
        if (g_str_has_suffix(file, ".xml") && !g_str_has_suffix(file, ".out.xml"))
            g_ptr_array_add(cases, g_strndup(file, strlen(file) - strlen(".xml")));
    }
    g_ptr_array_sort(cases, (GCompareFunc)testCompareNames);
    return cases;
}


static void
testUnusedFiles(void)
{
    testCheckUnusedFiles(DATADIR, used);
}


/* The struct behind the XML: what the rewrite and the orchestration read. */
static void
testDefaults(void)
{
    g_autoptr(clonePolicy) p = clonePolicyParse(NULL);
    g_autoptr(clonePolicy) empty = clonePolicyParse("<clonepolicy/>");
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    g_assert_nonnull(p);
    g_assert_null(p->name);
    g_assert_cmpstr(p->nameTemplate, ==, CLONE_POLICY_DEFAULT_NAME_TEMPLATE);
    g_assert_null(p->uuid);
    g_assert_cmpint(p->genid, ==, CLONE_GENID_AUTO);
    g_assert_cmpint(p->hostnameMode, ==, CLONE_HOSTNAME_KEEP);
    g_assert_null(p->hostname);
    g_assert_cmpint(p->machineId, ==, CLONE_MACHINE_ID_KEEP);
    g_assert_cmpint(p->network, ==, CLONE_NETWORK_DISCONNECTED);
    g_assert_cmpuint(p->nics->len, ==, 0);
    g_assert_null(p->overlayDir);
    g_assert_cmpstr(p->overlayFormat, ==, "qcow2");
    g_assert_cmpuint(p->disks->len, ==, 0);
    g_assert_cmpint(p->strategy, ==, CLONE_STRATEGY_AUTO);
    g_assert_cmpuint(p->downtimeLimitMs, ==, CLONE_POLICY_DEFAULT_DOWNTIME_MS);
    g_assert_cmpuint(p->bandwidthMiBs, ==, 0);
    g_assert_cmpuint(p->timeoutS, ==, CLONE_POLICY_DEFAULT_TIMEOUT_S);
    g_assert_cmpuint(p->autoMaxPasses, ==, CLONE_POLICY_DEFAULT_AUTO_PASSES);
    g_assert_cmpint(p->tpm, ==, CLONE_TPM_AUTO);
    g_assert_false(p->persistent);
    g_assert_cmpuint(p->ttlS, ==, 0);
    g_assert_cmpuint(p->chainMaxDepth, ==, CLONE_POLICY_DEFAULT_CHAIN_DEPTH);
    g_assert_cmpint(p->chainAtLimit, ==, CLONE_CHAIN_FLATTEN);
    g_assert_false(p->chainWait);

    g_assert_nonnull(empty);
    a = clonePolicyFormat(p);
    b = clonePolicyFormat(empty);
    g_assert_cmpstr(a, ==, b);
}


static const char *const testFullXML =
    "<clonepolicy>\n"
    "  <name template='%{source}-r%{n}'/>\n"
    "  <identity>\n"
    "    <uuid>C1C1C1C1-0000-4000-8000-000000000001</uuid>\n"
    "    <genid mode='keep'/>\n"
    "    <hostname mode='set'>r%{n}.example.com</hostname>\n"
    "    <machine-id mode='regenerate'/>\n"
    "  </identity>\n"
    "  <network mode='sandbox'>\n"
    "    <interface source='52:54:00:11:22:33' mac='keep'/>\n"
    "    <interface source='52:54:00:1A:2B:3C' mac='52:54:00:AA:BB:CC'/>\n"
    "  </network>\n"
    "  <disks dir='/srv/clones'>\n"
    "    <disk target='vdb' action='exclude'/>\n"
    "    <disk target='sda' action='share-readonly'/>\n"
    "  </disks>\n"
    "  <memory strategy='background' downtime-limit='50' bandwidth='2048' timeout='120' max-passes='3'/>\n"
    "  <tpm mode='clone'/>\n"
    "  <lifecycle persistent='yes' ttl='3600'/>\n"
    "  <chain max-depth='8' at-limit='refuse' wait='yes'/>\n"
    "</clonepolicy>\n";


static void
testFields(void)
{
    g_autoptr(clonePolicy) p = clonePolicyParse(testFullXML);
    const clonePolicyNic *nic;

    g_assert_nonnull(p);
    g_assert_null(p->name);
    g_assert_cmpstr(p->nameTemplate, ==, "%{source}-r%{n}");
    g_assert_cmpstr(p->uuid, ==, "c1c1c1c1-0000-4000-8000-000000000001");
    g_assert_cmpint(p->genid, ==, CLONE_GENID_KEEP);
    g_assert_cmpint(p->hostnameMode, ==, CLONE_HOSTNAME_SET);
    g_assert_cmpstr(p->hostname, ==, "r%{n}.example.com");
    g_assert_cmpint(p->machineId, ==, CLONE_MACHINE_ID_REGENERATE);
    g_assert_cmpint(p->network, ==, CLONE_NETWORK_SANDBOX);
    g_assert_cmpuint(p->nics->len, ==, 2);
    nic = clonePolicyFindNic(p, "52:54:00:11:22:33");
    g_assert_nonnull(nic);
    g_assert_cmpint(nic->mode, ==, CLONE_MAC_KEEP);
    g_assert_null(nic->mac);
    nic = clonePolicyFindNic(p, "52:54:00:1a:2b:3c");
    g_assert_nonnull(nic);
    g_assert_cmpstr(nic->sourceMac, ==, "52:54:00:1a:2b:3c");
    g_assert_cmpint(nic->mode, ==, CLONE_MAC_SET);
    g_assert_cmpstr(nic->mac, ==, "52:54:00:aa:bb:cc");
    g_assert_cmpstr(p->overlayDir, ==, "/srv/clones");
    g_assert_cmpint(clonePolicyFindDisk(p, "vdb")->action, ==, CLONE_DISK_EXCLUDE);
    g_assert_cmpint(clonePolicyFindDisk(p, "sda")->action, ==, CLONE_DISK_SHARE_READONLY);
    g_assert_null(clonePolicyFindDisk(p, "vda"));
    g_assert_cmpint(p->strategy, ==, CLONE_STRATEGY_BACKGROUND);
    g_assert_cmpuint(p->downtimeLimitMs, ==, 50);
    g_assert_cmpuint(p->bandwidthMiBs, ==, 2048);
    g_assert_cmpuint(p->timeoutS, ==, 120);
    g_assert_cmpuint(p->autoMaxPasses, ==, 3);
    g_assert_cmpint(p->tpm, ==, CLONE_TPM_CLONE);
    g_assert_true(p->persistent);
    g_assert_cmpuint(p->ttlS, ==, 3600);
    g_assert_cmpuint(p->chainMaxDepth, ==, 8);
    g_assert_cmpint(p->chainAtLimit, ==, CLONE_CHAIN_REFUSE);
    g_assert_true(p->chainWait);
}


static void
testFindNicCase(void)
{
    g_autoptr(clonePolicy) p = clonePolicyParse(testFullXML);

    g_assert_nonnull(clonePolicyFindNic(p, "52:54:00:1a:2b:3c"));
    g_assert_nonnull(clonePolicyFindNic(p, "52:54:00:1A:2B:3C"));
    g_assert_nonnull(clonePolicyFindNic(p, "52:54:00:1a:2B:3c"));
    g_assert_null(clonePolicyFindNic(p, "52:54:00:1a:2b:3d"));
    g_assert_null(clonePolicyFindNic(p, NULL));
}


static void
testExpand(void)
{
    g_autoptr(clonePolicy) p = clonePolicyParse(testFullXML);
    g_autoptr(clonePolicy) exact = clonePolicyParse("<clonepolicy><name>fixed</name></clonepolicy>");
    g_autoptr(clonePolicy) defaults = clonePolicyParse(NULL);
    g_autofree char *name = clonePolicyExpandName(p, "web", 12);
    g_autofree char *host = clonePolicyExpandHostname(p, 12);
    g_autofree char *fixed = clonePolicyExpandName(exact, "web", 3);
    g_autofree char *defName = clonePolicyExpandName(defaults, "web", 1);
    g_autofree char *defHost = clonePolicyExpandHostname(defaults, 1);

    g_assert_cmpstr(name, ==, "web-r12");
    g_assert_cmpstr(host, ==, "r12.example.com");
    g_assert_cmpstr(fixed, ==, "fixed");
    g_assert_cmpstr(defName, ==, "web-clone1");
    g_assert_null(defHost);
}


static clonePolicy *
testParseOrDie(const char *xml)
{
    clonePolicy *p = clonePolicyParse(xml);

    if (!p)
        g_error("%s: %s", xml, virCloneGetLastErrorMessage());
    return p;
}


/* What "auto" resolves to, per network mode: the guest's MACs, its
 * addresses per NIC, the vTPM. */
static void
testResolveAuto(void)
{
    g_autoptr(clonePolicy) def = testParseOrDie(NULL);
    g_autoptr(clonePolicy) inherit = testParseOrDie(
        "<clonepolicy><network mode='inherit'>"
        "<interface source='52:54:00:00:00:01'><ip mode='keep'/></interface>"
        "<interface source='52:54:00:00:00:02'><ip mode='static' address='192.0.2.2' prefix='24'/></interface>"
        "<interface source='52:54:00:00:00:03'><ip mode='auto'/></interface>"
        "</network></clonepolicy>");
    g_autoptr(clonePolicy) inheritNone = testParseOrDie(
        "<clonepolicy><network mode='inherit' ip='none'/></clonepolicy>");
    g_autoptr(clonePolicy) sandbox = testParseOrDie("<clonepolicy><network mode='sandbox'/></clonepolicy>");
    g_autoptr(clonePolicy) sandboxSet = testParseOrDie(
        "<clonepolicy><network mode='sandbox' guest-mac='set'/><tpm mode='refuse'/></clonepolicy>");
    const clonePolicyNic *nic = NULL;

    /* disconnected: nothing inside the guest, no vTPM */
    g_assert_false(clonePolicyGuestSetsMac(def));
    g_assert_cmpint(clonePolicyIpMode(def, "52:54:00:00:00:09", &nic), ==, CLONE_IP_KEEP);
    g_assert_null(nic);
    g_assert_cmpint(clonePolicyTpmMode(def), ==, CLONE_TPM_REFUSE);

    /* inherit: new MACs and DHCP unless a NIC says otherwise */
    g_assert_true(clonePolicyGuestSetsMac(inherit));
    g_assert_cmpint(clonePolicyIpMode(inherit, "52:54:00:00:00:01", NULL), ==, CLONE_IP_KEEP);
    g_assert_cmpint(clonePolicyIpMode(inherit, "52:54:00:00:00:02", &nic), ==, CLONE_IP_STATIC);
    g_assert_cmpstr(nic->ipAddress, ==, "192.0.2.2");
    g_assert_cmpuint(nic->ipPrefix, ==, 24);
    g_assert_null(nic->ipGateway);
    g_assert_cmpint(clonePolicyIpMode(inherit, "52:54:00:00:00:03", NULL), ==, CLONE_IP_DHCP);
    g_assert_cmpint(clonePolicyIpMode(inherit, "52:54:00:00:00:09", NULL), ==, CLONE_IP_DHCP);
    g_assert_cmpint(clonePolicyIpMode(inheritNone, "52:54:00:00:00:09", NULL), ==, CLONE_IP_NONE);
    g_assert_cmpint(clonePolicyTpmMode(inherit), ==, CLONE_TPM_REFUSE);

    /* sandbox: the guest keeps its MACs and addresses; the vTPM is cloned */
    g_assert_false(clonePolicyGuestSetsMac(sandbox));
    g_assert_cmpint(clonePolicyIpMode(sandbox, "52:54:00:00:00:09", NULL), ==, CLONE_IP_KEEP);
    g_assert_cmpint(clonePolicyTpmMode(sandbox), ==, CLONE_TPM_CLONE);
    g_assert_true(clonePolicyGuestSetsMac(sandboxSet));
    g_assert_cmpint(clonePolicyTpmMode(sandboxSet), ==, CLONE_TPM_REFUSE);
}


/* Line numbers past 65535 (libxml2 needs XML_PARSE_BIG_LINES for them). */
static void
testBigLineNumber(void)
{
    g_autoptr(GString) xml = g_string_new("<clonepolicy>\n");
    g_autoptr(clonePolicy) p = NULL;

    for (guint i = 0; i < 70000; i++)
        g_string_append_c(xml, '\n');
    g_string_append(xml, "<bogus/>\n</clonepolicy>\n");
    virCloneResetLastError();
    p = clonePolicyParse(xml->str);
    g_assert_null(p);
    testExpectPolicyError("invalid clone policy, line 70002: unknown element 'bogus'");
}


static void
testNormalize(void)
{
    g_autofree char *defaults = virDomainCloneLivePolicyNormalize(NULL, 0);
    g_autofree char *expected = testLoadFile(DATADIR "/empty.out.xml");
    g_autofree char *full = virDomainCloneLivePolicyNormalize(testFullXML, 0);
    g_autofree char *again = NULL;

    g_assert_cmpstr(defaults, ==, expected);
    g_assert_null(virCloneGetLastError());
    g_assert_nonnull(full);
    again = virDomainCloneLivePolicyNormalize(full, 0);
    g_assert_cmpstr(full, ==, again);

    g_assert_null(virDomainCloneLivePolicyNormalize("<clonepolicy>\n<tpm mode='x'/></clonepolicy>", 0));
    testExpectPolicyError("line 2: invalid value 'x' for attribute 'mode' of <tpm>");
    g_assert_null(virDomainCloneLivePolicyNormalize(NULL, 1));
    g_assert_cmpint(virCloneGetLastError()->code, ==, VIR_CLONE_ERR_INVALID_ARG);
}


int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) cases = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    cases = testDataCases();
    for (guint i = 0; i < cases->len; i++) {
        const char *name = g_ptr_array_index(cases, i);
        g_autofree char *path = g_strdup_printf("/policy/data/%s", name);

        g_test_add_data_func(path, name, testDataCase);
    }
    g_test_add_func("/policy/data/~unused-files", testUnusedFiles);
    g_test_add_func("/policy/defaults", testDefaults);
    g_test_add_func("/policy/fields", testFields);
    g_test_add_func("/policy/find-nic", testFindNicCase);
    g_test_add_func("/policy/expand", testExpand);
    g_test_add_func("/policy/resolve-auto", testResolveAuto);
    g_test_add_func("/policy/big-line-number", testBigLineNumber);
    g_test_add_func("/policy/normalize", testNormalize);
    ret = g_test_run();
    g_hash_table_unref(used);
    return ret;
}
