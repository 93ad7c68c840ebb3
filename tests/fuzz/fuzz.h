/*
 * fuzz.h: shared by the fuzz targets and their replay driver
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void
fuzzFail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz invariant broken: %s\n%s\n", what, detail ? detail : "");
    abort();
}
