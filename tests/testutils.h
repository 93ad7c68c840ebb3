/*
 * testutils.h: golden-file helpers for the unit tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* Compares @actual with the file @path.  With VIR_TEST_REGENERATE_OUTPUT=1
 * in the environment the file is (re)written instead, for review. */
gboolean testCompareToFile(const char *actual, const char *path);

/* Records that a data file is used by a case. */
void testDataUse(GHashTable *used, const char *path);

/* Fails for every file in @dir that no case used. */
void testCheckUnusedFiles(const char *dir, GHashTable *used);

char *testLoadFile(const char *path);
