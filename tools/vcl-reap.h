/*
 * vcl-reap.h: the reap command of virt-clone-live
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vcl-common.h"

int cmdReap(vclGlobal *g, int argc, char **argv);
