/*
 * vcl-memory.h: the guest memory commands of virt-clone-live
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vcl-common.h"

int cmdMemoryDump(vclGlobal *g, int argc, char **argv);
int cmdMemoryPeek(vclGlobal *g, int argc, char **argv);
