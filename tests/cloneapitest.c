/*
 * cloneapitest.c: argument checks and errors of the public API
 *
 * Runs against libvirt's own test driver (test:///default).  That driver
 * has no QEMU, so a clone must fail cleanly there: this checks the error
 * path, not the mechanism (the integration tests do that on a real guest).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"

static virConnectPtr conn;

static void
testSilence(void *opaque G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
}


static void
testExpectError(int code, const char *part)
{
    virCloneErrorPtr err = virCloneGetLastError();

    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, code);
    if (part && !strstr(err->message, part)) {
        g_test_message("expected '%s' in '%s'", part, err->message);
        g_test_fail();
    }
}


static void
testNullDomain(void)
{
    g_assert_null(virDomainCloneLive(NULL, NULL, 0));
    testExpectError(VIR_CLONE_ERR_INVALID_ARG, "'dom' must not be NULL");
}


static void
testUnknownFlags(void)
{
    virDomainPtr dom = virDomainLookupByName(conn, "test");

    g_assert_nonnull(dom);
    g_assert_null(virDomainCloneLive(dom, NULL, 1U << 30));
    testExpectError(VIR_CLONE_ERR_INVALID_ARG, "unsupported flags (0x40000000)");
    virDomainFree(dom);
}


static void
testExclusiveFlags(void)
{
    virDomainPtr dom = virDomainLookupByName(conn, "test");

    g_assert_null(virDomainCloneLive(dom, NULL, VIR_DOMAIN_CLONE_LIVE_PRECOPY |
                                                VIR_DOMAIN_CLONE_LIVE_BACKGROUND));
    testExpectError(VIR_CLONE_ERR_INVALID_ARG, "mutually exclusive");
    virDomainFree(dom);
}


static void
testBadPolicy(void)
{
    virDomainPtr dom = virDomainLookupByName(conn, "test");

    g_assert_null(virDomainCloneLive(dom, "<clonepolicy><nope/></clonepolicy>", 0));
    testExpectError(VIR_CLONE_ERR_POLICY, "unknown element 'nope'");
    virDomainFree(dom);
}


/* A running domain of a driver without QEMU: refused before anything
 * starts, as the clone needs a local QEMU connection; the source still
 * runs, no domain was added. */
static void
testNoQemu(void)
{
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    int before = virConnectNumOfDomains(conn);
    int state = -1;

    g_assert_nonnull(dom);
    g_assert_cmpint(virDomainGetState(dom, &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    g_assert_null(virDomainCloneLive(dom, NULL, 0));
    testExpectError(VIR_CLONE_ERR_UNSUPPORTED, "live clones need a local QEMU connection");
    g_assert_cmpint(virConnectNumOfDomains(conn), ==, before);
    g_assert_cmpint(virDomainGetState(dom, &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    virDomainFree(dom);
}


static void
testResetAndMessage(void)
{
    virCloneResetLastError();
    g_assert_null(virCloneGetLastError());
    g_assert_cmpstr(virCloneGetLastErrorMessage(), ==, "no error");
    g_assert_cmpstr(virDomainCloneLivePhaseToString(VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM), ==, "copy-ram");
    g_assert_null(virDomainCloneLivePhaseToString(99));
}


/* Errors are per thread, as in libvirt. */
static gpointer
testOtherThread(gpointer data G_GNUC_UNUSED)
{
    return GINT_TO_POINTER(virCloneGetLastError() == NULL);
}


static void
testThreadLocal(void)
{
    GThread *t;

    g_assert_null(virDomainCloneLive(NULL, NULL, 0));
    t = g_thread_new("other", testOtherThread, NULL);
    g_assert_true(GPOINTER_TO_INT(g_thread_join(t)));
    g_assert_nonnull(virCloneGetLastError());
}


int
main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, testSilence);
    conn = virConnectOpen("test:///default");
    g_assert_nonnull(conn);
    g_test_add_func("/api/null-domain", testNullDomain);
    g_test_add_func("/api/unknown-flags", testUnknownFlags);
    g_test_add_func("/api/exclusive-flags", testExclusiveFlags);
    g_test_add_func("/api/bad-policy", testBadPolicy);
    g_test_add_func("/api/no-qemu", testNoQemu);
    g_test_add_func("/api/reset", testResetAndMessage);
    g_test_add_func("/api/thread-local", testThreadLocal);
    ret = g_test_run();
    virConnectClose(conn);
    return ret;
}
