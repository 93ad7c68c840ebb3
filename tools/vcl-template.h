/*
 * vcl-template.h: the template commands of virt-clone-live
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libvirt/libvirt.h>

#include "vcl-common.h"

/* the most clones of one --count */
#define VCL_COUNT_MAX 1000

int cmdTemplateCreate(vclGlobal *g, int argc, char **argv);
int cmdTemplateList(vclGlobal *g, int argc, char **argv);
int cmdTemplateInfo(vclGlobal *g, int argc, char **argv);
int cmdTemplateDelete(vclGlobal *g, int argc, char **argv);
int cmdCloneFromTemplate(vclGlobal *g, int argc, char **argv);
int cmdReset(vclGlobal *g, int argc, char **argv);

/* "clone-live DOMAIN --count N": makes a template of @dom for the @count
 * clones (deleted when the last of them is gone) and starts them.
 * @policyFile: the policy read from --policy, or NULL for the one of
 * @name, @strategy and @sandbox; @flags: VIR_DOMAIN_CLONE_LIVE_PERSISTENT,
 * _PAUSED, _WAIT.  Returns the exit code. */
int vclCloneLiveCount(vclGlobal *g, virDomainPtr dom, const char *policyFile,
                      const char *name, const char *strategy, gboolean sandbox,
                      int count, unsigned int flags);
