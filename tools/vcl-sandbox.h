/*
 * vcl-sandbox.h: the sandbox-watch and integrity-watch commands of
 * virt-clone-live
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vcl-common.h"

int cmdSandboxWatch(vclGlobal *g, int argc, char **argv);
int cmdIntegrityWatch(vclGlobal *g, int argc, char **argv);
