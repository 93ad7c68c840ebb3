/*
 * clone_memsnap.h: all of a domain's RAM at one instant, through a
 * background snapshot
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_memory.h"

/* Called for each page of the snapshot that has data, at its
 * guest-physical address; pages of zeroes are not passed. */
typedef int (*cloneMemSnapPageFunc)(void *opaque, unsigned long long gpa,
                                    const void *data, size_t len);

/* Takes a background snapshot of running domain @dom, whose layout @m
 * describes, and passes each page to @page.  The guest pauses once, for
 * its device state and the write protection of its RAM.  Holds the
 * domain's job lock (VIR_CLONE_ERR_BUSY during a clone job) and restores
 * its migration settings afterwards. */
int cloneMemorySnapshot(virDomainPtr dom, cloneMemory *m, cloneMemSnapPageFunc page, void *opaque);
