/*
 * clone_qmp.h: QMP through libvirt's passthrough, and migration events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

#include <json-glib/json-glib.h>

char *cloneQmpBuild(const char *cmd, JsonObject *args);
int cloneQmpRun(virDomainPtr dom, const char *cmd, JsonObject *args,
                JsonNode **ret);
int cloneQmpRunWithFd(virDomainPtr dom, const char *cmd, JsonObject *args,
                      int fd);
int cloneQmpVersion(virDomainPtr dom, int *major, int *minor);
