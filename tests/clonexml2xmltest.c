/*
 * clonexml2xmltest.c: golden tests of the clone's domain XML
 *
 * Each case NAME reads clonexml2xmldata/NAME.src.xml and compares the
 * rewrite with NAME.out.xml (the clone's XML followed by the plan of its
 * files), or the error with NAME.err.  VIR_TEST_REGENERATE_OUTPUT=1 rewrites
 * the expected files for review.  A data file that no case uses fails.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_domxml.h"
#include "testutils.h"

static const char *const cases[] = {
    "minimal",
    "raw-disk",
    "block-disk",
    "readonly-disks",
    "nvram-graphics",
    "two-nics-file-console",
    "qemu-commandline",
    "hostdev",
    "shareable-writable",
    "network-rbd",
    "tpm",
    "transient-disk",
};

static GHashTable *used;

static char *
testMac(guint idx, void *opaque G_GNUC_UNUSED)
{
    return g_strdup_printf("52:54:00:c1:00:%02x", idx);
}


static char *
testFormatPlan(const cloneDomainPlan *plan)
{
    g_autoptr(GString) s = g_string_new(plan->xml);

    g_string_append(s, "<!-- plan\n");
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);

        g_string_append_printf(s, "  disk %s %s", d->target, cloneDiskActionTypeToString(d->action));
        if (d->action == CLONE_DISK_FORK)
            g_string_append_printf(s, " backing=%s (%s) clone=%s source=%s",
                                   d->srcPath, d->srcFormat, d->cloneOverlay, d->sourceOverlay);
        g_string_append_c(s, '\n');
    }
    for (guint i = 0; i < plan->copies->len; i++) {
        cloneCopy *c = g_ptr_array_index(plan->copies, i);

        g_string_append_printf(s, "  copy %s -> %s\n", c->from, c->to);
    }
    for (guint i = 0; i < plan->newFiles->len; i++)
        g_string_append_printf(s, "  new %s\n", (char *)g_ptr_array_index(plan->newFiles, i));
    g_string_append_printf(s, "  nics %u genid %s\n-->\n", plan->nnics, plan->hasGenid ? "new" : "none");
    return g_string_free(g_steal_pointer(&s), FALSE);
}


static void
testRewrite(gconstpointer data)
{
    const char *name = data;
    g_autofree char *src = g_strdup_printf("%s/%s.src.xml", DATADIR, name);
    g_autofree char *out = g_strdup_printf("%s/%s.out.xml", DATADIR, name);
    g_autofree char *errf = g_strdup_printf("%s/%s.err", DATADIR, name);
    g_autofree char *xml = testLoadFile(src);
    g_autoptr(cloneDomainPlan) plan = NULL;
    cloneRewriteParams p = {
        .name = "clone1",
        .uuid = "c1c1c1c1-0000-4000-8000-000000000001",
        .stamp = "s1",
        .newMac = testMac,
    };
    gboolean expectError = g_file_test(errf, G_FILE_TEST_EXISTS);

    g_assert_nonnull(xml);
    testDataUse(used, src);
    virCloneResetLastError();
    plan = cloneDomainRewrite(xml, &p);
    if (plan && !expectError) {
        g_autofree char *actual = testFormatPlan(plan);

        testDataUse(used, out);
        g_assert_true(testCompareToFile(actual, out));
    } else if (!plan && (expectError || !g_file_test(out, G_FILE_TEST_EXISTS))) {
        g_autofree char *msg = g_strdup_printf("%s\n", virCloneGetLastErrorMessage());

        testDataUse(used, errf);
        g_assert_true(testCompareToFile(msg, errf));
    } else {
        g_test_message("case %s: %s", name, plan ? "rewrite succeeded but an error was expected"
                                                 : virCloneGetLastErrorMessage());
        g_test_fail();
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
        g_autofree char *path = g_strdup_printf("/clonexml2xml/%s", cases[i]);

        g_test_add_data_func(path, cases[i], testRewrite);
    }
    g_test_add_func("/clonexml2xml/unused-data-files", testUnused);
    return g_test_run();
}
