/*
 * clonepolicyschematest.c: the RelaxNG schema of clone policies, and its
 * agreement with the parser
 *
 * Every *.xml in tests/clonepolicydata/ and examples/xml/ is validated
 * against docs/schemas/clonepolicy.rng with libxml2's RelaxNG validator
 * (what "xmllint --relaxng" does) and parsed with clonePolicyParse().  A
 * file whose name ends in -invalid.xml must fail both, every other file
 * must pass both; the effective policy of a valid file must validate too.
 *
 * The exceptions are rules that RelaxNG cannot express.  Each has a file
 * here that the schema accepts and the parser refuses; an exception without
 * its file fails the test, so the list stays true.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include "clone_policy.h"
#include "testutils.h"

typedef struct {
    const char *file;
    const char *reason;
} testSchemaException;

static const testSchemaException exceptions[] = {
    { "interface-duplicate-source-invalid.xml",
      "two <interface> with one source MAC: RelaxNG has no uniqueness constraints" },
    { "interface-duplicate-mac-invalid.xml",
      "one MAC given to two interfaces (in any letter case): no uniqueness constraints" },
    { "disk-duplicate-invalid.xml",
      "two <disk> with one target: no uniqueness constraints" },
    { "hostname-n-without-number-invalid.xml",
      "%{n} in <hostname> needs %{n} in the name template: a rule across two elements" },
    { "hostname-n-too-long-invalid.xml",
      "the parser counts %{n} in a host name as 10 digits, the schema's lengths count it as written" },
};

static const char *const requiredExamples[] = {
    "minimal.xml", "sandbox-untrusted.xml", "forensic-copy.xml", "fanout-service.xml",
};

static xmlRelaxNGPtr schema;


static void
testCollectError(void *data, xmlErrorPtr err)
{
    GString *log = data;

    g_string_append_printf(log, "line %d: %s", err->line, err->message ? err->message : "?\n");
}


static gboolean
testValidateDoc(xmlDocPtr doc, GString *log)
{
    xmlRelaxNGValidCtxtPtr vctxt = xmlRelaxNGNewValidCtxt(schema);
    int rc;

    g_assert_nonnull(vctxt);
    xmlRelaxNGSetValidStructuredErrors(vctxt, testCollectError, log);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    return rc == 0;
}


/* As xmllint --noout --relaxng SCHEMA @xml: well-formed and valid. */
static gboolean
testValidate(const char *xml, GString *log)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "policy.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    gboolean valid;

    if (!doc) {
        g_string_append(log, "not well-formed\n");
        return FALSE;
    }
    valid = testValidateDoc(doc, log);
    xmlFreeDoc(doc);
    return valid;
}


static const testSchemaException *
testFindException(const char *file)
{
    for (size_t i = 0; i < G_N_ELEMENTS(exceptions); i++) {
        if (g_str_equal(exceptions[i].file, file))
            return &exceptions[i];
    }
    return NULL;
}


/* The effective policy of a valid file is valid too. */
static void
testFormattedValidates(const clonePolicy *policy)
{
    g_autofree char *formatted = clonePolicyFormat(policy);
    g_autoptr(GString) log = g_string_new(NULL);

    if (!testValidate(formatted, log)) {
        g_test_message("the effective policy does not validate:\n%s%s", formatted, log->str);
        g_test_fail();
    }
}


static void
testSchemaFile(gconstpointer data)
{
    const char *path = data;
    g_autofree char *file = g_path_get_basename(path);
    g_autofree char *xml = testLoadFile(path);
    g_autoptr(GString) log = g_string_new(NULL);
    g_autoptr(clonePolicy) policy = NULL;
    gboolean invalid = g_str_has_suffix(file, "-invalid.xml");
    const testSchemaException *exception = testFindException(file);
    gboolean schemaValid;

    g_assert_nonnull(xml);
    schemaValid = testValidate(xml, log);
    virCloneResetLastError();
    policy = clonePolicyParse(xml);

    if (schemaValid != (!invalid || exception)) {
        g_test_message("%s: the schema says %s, expected %s%s%s", file,
                       schemaValid ? "valid" : "invalid", schemaValid ? "invalid" : "valid",
                       log->len ? ":\n" : "", log->str);
        g_test_fail();
    }
    if ((policy != NULL) != !invalid) {
        g_test_message("%s: the parser says %s", file,
                       policy ? "valid" : virCloneGetLastErrorMessage());
        g_test_fail();
    }
    if (policy)
        testFormattedValidates(policy);
}


static void
testDefaultsValidate(void)
{
    g_autoptr(clonePolicy) policy = clonePolicyParse(NULL);

    testFormattedValidates(policy);
}


/* Each exception has its file, and it is one that must be invalid. */
static void
testExceptionsExist(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(exceptions); i++) {
        g_autofree char *path = g_build_filename(POLICYDATADIR, exceptions[i].file, NULL);

        g_assert_true(g_str_has_suffix(exceptions[i].file, "-invalid.xml"));
        if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
            g_test_message("the exception '%s' (%s) has no file", exceptions[i].file,
                           exceptions[i].reason);
            g_test_fail();
        }
    }
}


static void
testExamplesExist(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(requiredExamples); i++) {
        g_autofree char *path = g_build_filename(EXAMPLESDIR, requiredExamples[i], NULL);

        g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    }
}


static int
testComparePaths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


/* Registers a case for every *.xml in @dir; returns their paths. */
static GPtrArray *
testAddDir(const char *dir, const char *prefix)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        if (g_str_has_suffix(name, ".xml"))
            g_ptr_array_add(paths, g_build_filename(dir, name, NULL));
    }
    g_ptr_array_sort(paths, testComparePaths);
    for (guint i = 0; i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        g_autofree char *base = g_path_get_basename(path);
        g_autofree char *testPath = g_strdup_printf("/schema/%s/%s", prefix, base);

        g_test_add_data_func(testPath, path, testSchemaFile);
    }
    return paths;
}


static xmlRelaxNGPtr
testLoadSchema(const char *path)
{
    g_autoptr(GString) log = g_string_new(NULL);
    xmlRelaxNGParserCtxtPtr pctxt = xmlRelaxNGNewParserCtxt(path);
    xmlRelaxNGPtr rng;

    xmlRelaxNGSetParserStructuredErrors(pctxt, testCollectError, log);
    rng = xmlRelaxNGParse(pctxt);
    xmlRelaxNGFreeParserCtxt(pctxt);
    if (!rng)
        g_error("cannot load the schema %s: %s", path, log->str);
    return rng;
}


int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) data = NULL;
    g_autoptr(GPtrArray) examples = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    schema = testLoadSchema(SCHEMA);
    data = testAddDir(POLICYDATADIR, "clonepolicydata");
    examples = testAddDir(EXAMPLESDIR, "examples");
    g_test_add_func("/schema/defaults", testDefaultsValidate);
    g_test_add_func("/schema/exceptions-exist", testExceptionsExist);
    g_test_add_func("/schema/examples-exist", testExamplesExist);
    ret = g_test_run();
    xmlRelaxNGFree(schema);
    xmlRelaxNGCleanupTypes();
    return ret;
}
