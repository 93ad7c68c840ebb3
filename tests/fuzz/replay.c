/*
 * replay.c: runs a fuzz target over files, without libFuzzer
 *
 * Registered as a unit test over tests/fuzz/regressions/TARGET/ (inputs
 * that once crashed, kept after the fix) and the golden-test and example
 * files, so that CI replays them under ASan/UBSan and valgrind.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>

#include "fuzz.h"

static guint
replayPath(const char *path)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    guint n = 0;

    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            n += replayPath(child);
        }
        return n;
    }
    if (!g_file_get_contents(path, &data, &len, NULL)) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    return 1;
}


int
main(int argc, char **argv)
{
    guint n = 0;

    for (int i = 1; i < argc; i++)
        n += replayPath(argv[i]);
    printf("1..1\nok 1 - replayed %u inputs\n", n);
    return 0;
}
