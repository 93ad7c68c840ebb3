/*
 * Live-clones DOMAIN of the embedded driver qemu:///embed?root=ROOT and
 * prints the clone's name.
 *
 *   cc example.c $(pkg-config --cflags --libs libvirt-clone)
 *   ./a.out ROOT DOMAIN
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pthread.h>
#include <stdio.h>

#include <libvirt/virterror.h>
#include <libvirt-clone/libvirt-clone.h>

/* the embedded driver needs an event loop that the caller runs */
static void *
eventLoop(void *opaque)
{
    (void)opaque;
    for (;;)
        virEventRunDefaultImpl();
    return NULL;
}

int
main(int argc, char **argv)
{
    char uri[4096];
    pthread_t loop;
    virConnectPtr conn;
    virDomainPtr dom;
    virDomainPtr clone;

    if (argc != 3) {
        fprintf(stderr, "usage: %s ROOT DOMAIN\n", argv[0]);
        return 2;
    }
    snprintf(uri, sizeof(uri), "qemu:///embed?root=%s", argv[1]);
    if (virEventRegisterDefaultImpl() < 0 ||
        pthread_create(&loop, NULL, eventLoop, NULL) != 0)
        return 1;
    if (!(conn = virConnectOpen(uri)) ||
        !(dom = virDomainLookupByName(conn, argv[2]))) {
        fprintf(stderr, "%s\n", virGetLastErrorMessage());
        return 1;
    }
    if (!(clone = virDomainCloneLive(dom, NULL, 0))) {
        fprintf(stderr, "%s\n", virCloneGetLastErrorMessage());
        return 1;
    }
    printf("%s\n", virDomainGetName(clone));
    virDomainFree(clone);
    virDomainFree(dom);
    virConnectClose(conn);
    return 0;
}
