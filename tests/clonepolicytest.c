/*
 * clonepolicytest.c: the clone policy parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_policy.h"

static void
testDefaults(void)
{
    g_autoptr(clonePolicy) p = clonePolicyParse(NULL);

    g_assert_nonnull(p);
    g_assert_null(p->name);
    g_assert_cmpint(p->strategy, ==, CLONE_STRATEGY_AUTO);
    g_assert_cmpuint(p->downtimeLimitMs, ==, CLONE_POLICY_DEFAULT_DOWNTIME_MS);
    g_assert_cmpint(p->network, ==, CLONE_NETWORK_DISCONNECTED);
    g_assert_false(p->persistent);
}


static void
testFull(void)
{
    const char *xml =
        "<clonepolicy>\n"
        "  <name>web-sandbox</name>\n"
        "  <memory strategy='background' downtime-limit='50' bandwidth='2048' timeout='120' max-passes='3'/>\n"
        "  <network mode='inherit'/>\n"
        "  <disks dir='/var/lib/clones'/>\n"
        "  <lifecycle persistent='yes'/>\n"
        "</clonepolicy>\n";
    g_autoptr(clonePolicy) p = clonePolicyParse(xml);
    g_autofree char *formatted = NULL;
    g_autoptr(clonePolicy) again = NULL;
    g_autofree char *formattedAgain = NULL;

    g_assert_nonnull(p);
    g_assert_cmpstr(p->name, ==, "web-sandbox");
    g_assert_cmpint(p->strategy, ==, CLONE_STRATEGY_BACKGROUND);
    g_assert_cmpuint(p->downtimeLimitMs, ==, 50);
    g_assert_cmpuint(p->bandwidthMiBs, ==, 2048);
    g_assert_cmpuint(p->timeoutS, ==, 120);
    g_assert_cmpuint(p->autoMaxPasses, ==, 3);
    g_assert_cmpint(p->network, ==, CLONE_NETWORK_INHERIT);
    g_assert_cmpstr(p->overlayDir, ==, "/var/lib/clones");
    g_assert_true(p->persistent);

    /* format -> parse is the identity */
    formatted = clonePolicyFormat(p);
    again = clonePolicyParse(formatted);
    g_assert_nonnull(again);
    formattedAgain = clonePolicyFormat(again);
    g_assert_cmpstr(formatted, ==, formattedAgain);
}


typedef struct {
    const char *xml;
    const char *message;   /* a part of the expected error */
} testBadPolicy;

static const testBadPolicy bad[] = {
    { "<clonepolicy><memory strategy='copy-on-write'/></clonepolicy>", "unknown memory strategy 'copy-on-write'" },
    { "<clonepolicy><memory downtime-limit='-5'/></clonepolicy>", "downtime-limit '-5'" },
    { "<clonepolicy><memory downtime-limit='0'/></clonepolicy>", "a limit of zero" },
    { "<clonepolicy><memory timeout='12x'/></clonepolicy>", "timeout '12x'" },
    { "<clonepolicy><memory speed='1'/></clonepolicy>", "unknown attribute 'speed'" },
    { "<clonepolicy>\n\n  <bogus/>\n</clonepolicy>", "line 3: unknown element 'bogus'" },
    { "<clonepolicy><network mode='bridge'/></clonepolicy>", "unknown network mode 'bridge'" },
    { "<clonepolicy><disks dir='relative/dir'/></clonepolicy>", "absolute path" },
    { "<clonepolicy><lifecycle persistent='maybe'/></clonepolicy>", "persistent 'maybe'" },
    { "<clonepolicy><name>a/b</name></clonepolicy>", "invalid clone name 'a/b'" },
    { "<domain/>", "expected root element <clonepolicy>" },
    { "<clonepolicy>\n<name>x</name>", "not well-formed XML, line 2" },
};


static void
testBad(gconstpointer data)
{
    const testBadPolicy *t = data;
    g_autoptr(clonePolicy) p = NULL;
    virCloneErrorPtr err;

    virCloneResetLastError();
    p = clonePolicyParse(t->xml);
    g_assert_null(p);
    err = virCloneGetLastError();
    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, VIR_CLONE_ERR_POLICY);
    if (!strstr(err->message, t->message)) {
        g_test_message("expected '%s' in '%s'", t->message, err->message);
        g_test_fail();
    }
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/policy/defaults", testDefaults);
    g_test_add_func("/policy/full", testFull);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *path = g_strdup_printf("/policy/bad/%zu", i);

        g_test_add_data_func(path, &bad[i], testBad);
    }
    return g_test_run();
}
