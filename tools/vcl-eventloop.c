/*
 * vcl-eventloop.c: libvirt event loop and connection for the CLI
 *
 * The embedded driver needs an event loop registered before the connection
 * is opened; the library uses QMP events on every connection.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include <libvirt/virterror.h>

#include "vcl-eventloop.h"

static gint vclLoopQuit;
static GThread *vclLoopThread;
static int vclLoopTimer = -1;


static gpointer
vclLoopRun(gpointer data G_GNUC_UNUSED)
{
    while (!g_atomic_int_get(&vclLoopQuit))
        virEventRunDefaultImpl();
    return NULL;
}


static void
vclLoopTick(int timer G_GNUC_UNUSED, void *opaque G_GNUC_UNUSED)
{
}


static void
vclSilence(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


virConnectPtr
vclConnect(const char *uri)
{
    virConnectPtr conn;

    virSetErrorFunc(NULL, vclSilence);
    if (virEventRegisterDefaultImpl() < 0) {
        fprintf(stderr, _("error: cannot start the libvirt event loop\n"));
        return NULL;
    }
    vclLoopThread = g_thread_new("libvirt-events", vclLoopRun, NULL);
    if (!(conn = virConnectOpen(uri))) {
        fprintf(stderr, _("error: cannot connect to '%1$s': %2$s\n"),
                uri ? uri : _("the default hypervisor"), virGetLastErrorMessage());
        vclConnectClose(NULL);
        return NULL;
    }
    return conn;
}


void
vclConnectClose(virConnectPtr conn)
{
    if (conn)
        virConnectClose(conn);
    if (!vclLoopThread)
        return;
    g_atomic_int_set(&vclLoopQuit, 1);
    /* wake the loop up so that it sees the flag */
    vclLoopTimer = virEventAddTimeout(0, vclLoopTick, NULL, NULL);
    g_thread_join(g_steal_pointer(&vclLoopThread));
    if (vclLoopTimer >= 0)
        virEventRemoveTimeout(vclLoopTimer);
}
