/*
 * fuzz-policy.c: libFuzzer target for the clone policy parser
 *
 * Invariants: parsing never crashes or leaks; a policy that parses formats
 * to a document that parses again and formats identically.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_policy.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = g_strndup((const char *)data, size);
    g_autoptr(clonePolicy) policy = clonePolicyParse(xml);
    g_autoptr(clonePolicy) again = NULL;
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;

    virCloneResetLastError();
    if (!policy)
        return 0;
    first = clonePolicyFormat(policy);
    if (!(again = clonePolicyParse(first)))
        fuzzFail("the formatted policy does not parse", first);
    second = clonePolicyFormat(again);
    if (strcmp(first, second) != 0)
        fuzzFail("format -> parse -> format is not stable", first);
    return 0;
}
