/*
 * vcl-eventloop.h: libvirt event loop and connection for the CLI
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree);

typedef struct _vclConn vclConn;
virConnectPtr vclConnect(const char *uri);
void vclConnectClose(virConnectPtr conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, vclConnectClose);
