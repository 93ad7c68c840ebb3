/*
 * vcl-sandbox.h: the sandbox-watch command of virt-clone-live
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vcl-common.h"

int cmdSandboxWatch(vclGlobal *g, int argc, char **argv);
