/*
 * vcl-policy.h: the policy commands of virt-clone-live
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vcl-common.h"

int cmdPolicyValidate(vclGlobal *g, int argc, char **argv);
int cmdPolicyDump(vclGlobal *g, int argc, char **argv);

/* Reads the policy file @path; prints the error and returns NULL when it
 * cannot. */
char *vclPolicyRead(const char *path);

/* Checks the policy @xml read from @path; prints the error (with its line
 * number) and returns FALSE when it is invalid. */
gboolean vclPolicyCheck(const char *path, const char *xml);
