/*
 * clone_chain.h: the depth of the source's backing chains, and flattening
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

/* Number of images in the chain of disk @target in @domainXML (the live
 * XML, which lists the whole chain), 0 if the disk has no source. */
guint cloneChainDepth(const char *domainXML, const char *target);

typedef void (*cloneChainProgress)(guint percent, void *opaque);

/* Pulls the whole chain of @target into the source's active image with a
 * libvirt block job (block-stream): only the active image is written, never
 * an image that a clone uses as its backing.  Waits for the job. */
int cloneChainFlatten(virDomainPtr dom, const char *target, guint timeoutS,
                      cloneChainProgress cb, void *opaque);

/* Waits until no block job runs on @target; returns 1 if one was running,
 * 0 if none was, -1 with an error. */
int cloneChainWaitBlockJob(virDomainPtr dom, const char *target, guint timeoutS);
