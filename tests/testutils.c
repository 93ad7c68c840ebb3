/*
 * testutils.c: golden-file helpers for the unit tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "testutils.h"

#include <stdio.h>
#include <string.h>

static gboolean
testRegenerate(void)
{
    return g_strcmp0(g_getenv("VIR_TEST_REGENERATE_OUTPUT"), "1") == 0;
}


char *
testLoadFile(const char *path)
{
    g_autoptr(GError) err = NULL;
    char *data = NULL;

    if (!g_file_get_contents(path, &data, NULL, &err))
        return NULL;
    return data;
}


static void
testPrintDiff(const char *expected, const char *actual)
{
    g_auto(GStrv) e = g_strsplit(expected, "\n", -1);
    g_auto(GStrv) a = g_strsplit(actual, "\n", -1);

    for (guint i = 0; e[i] || a[i]; i++) {
        if (g_strcmp0(e[i], a[i]) != 0) {
            g_printerr("first difference at line %u:\n- %s\n+ %s\n",
                       i + 1, e[i] ? e[i] : "<EOF>", a[i] ? a[i] : "<EOF>");
            return;
        }
        if (!e[i] || !a[i])
            return;
    }
}


gboolean
testCompareToFile(const char *actual, const char *path)
{
    g_autofree char *expected = NULL;
    g_autoptr(GError) err = NULL;

    if (testRegenerate()) {
        if (!g_file_set_contents(path, actual, -1, &err)) {
            g_printerr("cannot write %s: %s\n", path, err->message);
            return FALSE;
        }
        return TRUE;
    }
    if (!(expected = testLoadFile(path))) {
        g_printerr("missing expected file %s (run with VIR_TEST_REGENERATE_OUTPUT=1)\n", path);
        return FALSE;
    }
    if (strcmp(expected, actual) != 0) {
        g_printerr("output differs from %s\n", path);
        testPrintDiff(expected, actual);
        return FALSE;
    }
    return TRUE;
}


void
testDataUse(GHashTable *used, const char *path)
{
    g_hash_table_add(used, g_path_get_basename(path));
}


void
testCheckUnusedFiles(const char *dir, GHashTable *used)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    guint unused = 0;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        if (!g_hash_table_contains(used, name)) {
            g_printerr("data file %s/%s is not used by any test case\n", dir, name);
            unused++;
        }
    }
    g_assert_cmpuint(unused, ==, 0);
}
