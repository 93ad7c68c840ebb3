/*
 * vcl-clone.h: the clone-live command of virt-clone-live
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vcl-common.h"

int cmdCloneLive(vclGlobal *g, int argc, char **argv);
