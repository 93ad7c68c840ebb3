/*
 * test-tpm.c: live clones of a real guest with a vTPM (swtpm, tpm-crb)
 * under the embedded driver
 *
 * One source guest with a TPM 2.0 serves every case:
 *   - the default policy refuses it in the check phase, before anything
 *     starts: no domain, file, overlay or swtpm state more, the source's
 *     disk chain unchanged, the source and its TPM still running;
 *   - with <tpm mode='clone'/> the clone's guest sees the source's PCRs
 *     at switch-over (a PCR the source extended before the clone
 *     included), and from then on the two TPMs are independent: an extend
 *     in one changes the other's PCRs in no way;
 *   - the clone's swtpm state is a copy under its own UUID (libvirt did
 *     not manufacture a TPM for it), and it goes when the ephemeral clone
 *     is reaped (destroyed: libvirt deletes a transient domain's state).
 * PCR values are what the guests read in sysfs; expected extends are
 * computed here (SHA-256 of the old value and the digest).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"
#include "testutils-guest.h"

#define CMD_MS 20000
#define TPM_PCRS 24
#define TEST_PCR 16     /* the debug PCR: resettable, free for tests */

static TgEnv *env;
static TgGuest *source;   /* started by the first case that needs it */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)


static TgGuest *
testSource(void)
{
    TgGuestOpts opts = { .name_prefix = "tpm", .mode = TG_MODE_IDLE,
                         .buffer_mib = 16, .with_tpm = TRUE };

    if (!source)
        source = tgGuestStartOrDie(env, &opts);
    return source;
}


/* ---- TPM helpers ---------------------------------------------------------- */

static GStrv
testPcrs(TgGuest *g)
{
    g_autoptr(GError) err = NULL;
    char **pcrs = NULL;

    if (tgGuestTpmPcrs(g, &pcrs, &err) < 0)
        g_error("%s: cannot read the PCRs: %s", tgGuestName(g), err->message);
    g_assert_cmpuint(g_strv_length(pcrs), ==, TPM_PCRS);
    return pcrs;
}


static void
testAssertPcrsEqual(GStrv a, GStrv b)
{
    for (guint i = 0; i < TPM_PCRS; i++) {
        if (g_ascii_strcasecmp(a[i], b[i]) != 0)
            g_test_message("PCR %u: %s != %s", i, a[i], b[i]);
        g_assert_cmpint(g_ascii_strcasecmp(a[i], b[i]), ==, 0);
    }
}


static GBytes *
testHexDecode(const char *hex)
{
    gsize n = strlen(hex) / 2;
    guint8 *bin = g_new(guint8, n);

    for (gsize i = 0; i < n; i++)
        bin[i] = (guint8)(g_ascii_xdigit_value(hex[2 * i]) << 4 |
                          g_ascii_xdigit_value(hex[2 * i + 1]));
    return g_bytes_new_take(bin, n);
}


static char *
testSha256(const char *text)
{
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
}


/* What TPM2_PCR_Extend makes of @pcr: SHA-256(@pcr || @digest). */
static char *
testExtended(const char *pcr, const char *digest)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autoptr(GBytes) a = testHexDecode(pcr);
    g_autoptr(GBytes) b = testHexDecode(digest);

    g_checksum_update(sum, g_bytes_get_data(a, NULL), g_bytes_get_size(a));
    g_checksum_update(sum, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
    return g_strdup(g_checksum_get_string(sum));
}


static void
testExtend(TgGuest *g, const char *digest)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *cmd = g_strdup_printf("tpm extend %d %s", TEST_PCR, digest);

    if (tgSerialCommand(g, cmd, CMD_MS, &err) < 0)
        g_error("%s: %s: %s", tgGuestName(g), cmd, err->message);
}


/* Extends TEST_PCR in @g and checks the result; returns the PCRs. */
static GStrv
testExtendChecked(TgGuest *g, const char *text)
{
    g_auto(GStrv) before = testPcrs(g);
    g_autofree char *digest = testSha256(text);
    g_autofree char *want = testExtended(before[TEST_PCR], digest);
    GStrv after;

    testExtend(g, digest);
    after = testPcrs(g);
    g_assert_cmpint(g_ascii_strcasecmp(after[TEST_PCR], want), ==, 0);
    return after;
}


/* ---- files ---------------------------------------------------------------------- */

static char *
testSwtpmDir(const char *uuid)
{
    return g_build_filename(tgEnvRoot(env), "lib", "swtpm", uuid, NULL);
}


static char *
testUUID(virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    g_assert_cmpint(virDomainGetUUIDString(dom, uuid), ==, 0);
    return g_strdup(uuid);
}


/* The first <disk> of @xml: its source and backing chain. */
static char *
testDiskElement(const char *xml)
{
    const char *start = xml ? strstr(xml, "<disk") : NULL;
    const char *end = start ? strstr(start, "</disk>") : NULL;

    g_assert_nonnull(end);
    return g_strndup(start, end - start);
}


/* The chain of vda as libvirt (live and persistent XML) and the image
 * itself (qemu-img: its backing file) describe it. */
static char *
testDiskChain(TgGuest *g)
{
    g_autofree char *live = virDomainGetXMLDesc(tgGuestDomain(g), 0);
    g_autofree char *inactive = virDomainGetXMLDesc(tgGuestDomain(g), VIR_DOMAIN_XML_INACTIVE);
    g_autofree char *liveDisk = testDiskElement(live);
    g_autofree char *inactiveDisk = testDiskElement(inactive);
    const char *argv[] = { "qemu-img", "info", "-U", "--output=json", tgGuestDiskPath(g), NULL };
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    JsonObject *info;
    int status = 0;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH |
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status, &err));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_true(json_parser_load_from_data(parser, out, -1, &err));
    info = json_node_get_object(json_parser_get_root(parser));
    return g_strdup_printf("%s\n%s\n%s", liveDisk, inactiveDisk,
                           json_object_get_string_member_with_default(info, "backing-filename", "-"));
}


static gboolean
testFileContains(const char *path, const char *text)
{
    g_autofree char *data = NULL;

    if (!g_file_get_contents(path, &data, NULL, NULL))
        return FALSE;
    return strstr(data, text) != NULL;
}


/* ---- refusal ------------------------------------------------------------------ */

static void
testProgressCb(virDomainPtr dom G_GNUC_UNUSED, int phase, unsigned int percent G_GNUC_UNUSED,
               void *opaque)
{
    int *maxPhase = opaque;

    if (phase != VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK)
        *maxPhase = MAX(*maxPhase, phase);
}


static void
testRefuse(const char *policy)
{
    TgGuest *src = testSource();
    virDomainPtr dom = tgGuestDomain(src);
    g_autofree char *diskDir = g_path_get_dirname(tgGuestDiskPath(src));
    g_autofree char *swtpmDir = g_build_filename(tgEnvRoot(env), "lib", "swtpm", NULL);
    g_autoptr(GHashTable) files = tgListDir(diskDir);
    g_autoptr(GHashTable) states = tgListDir(swtpmDir);
    g_autofree char *chain = testDiskChain(src);
    g_autofree char *chainAfter = NULL;
    g_auto(GStrv) pcrs = testPcrs(src);
    g_auto(GStrv) pcrsAfter = NULL;
    guint before = tgNumDomains(env);
    int maxPhase = -1;
    virCloneErrorPtr err;
    int state = VIR_DOMAIN_NOSTATE;

    g_assert_null(virDomainCloneLiveFull(dom, policy, testProgressCb, &maxPhase, NULL, NULL, 0));
    err = virCloneGetLastError();
    g_assert_nonnull(err);
    g_test_message("refused: %s", err->message);
    g_assert_cmpint(err->code, ==, VIR_CLONE_ERR_POLICY);
    g_assert_nonnull(strstr(err->message, "vTPM"));
    g_assert_nonnull(strstr(err->message, "<tpm mode='clone'/>"));
    /* the check phase refused: no phase after "prepare" began */
    g_assert_cmpint(maxPhase, ==, VIR_DOMAIN_CLONE_LIVE_PHASE_PREPARE);

    g_assert_cmpuint(tgNumDomains(env), ==, before);
    g_assert_cmpuint(tgNewEntries(diskDir, files), ==, 0);
    g_assert_cmpuint(tgNewEntries(swtpmDir, states), ==, 0);
    chainAfter = testDiskChain(src);
    g_assert_cmpstr(chainAfter, ==, chain);
    g_assert_cmpint(virDomainGetState(dom, &state, NULL, 0), ==, 0);
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    pcrsAfter = testPcrs(src);
    testAssertPcrsEqual(pcrsAfter, pcrs);
}


static void
testRefuseDefault(void)
{
    testRefuse(NULL);
}


static void
testRefuseExplicit(void)
{
    testRefuse("<clonepolicy><tpm mode='refuse'/></clonepolicy>");
}


/* ---- clone ------------------------------------------------------------------- */

static void
testClone(void)
{
    TgGuest *src = testSource();
    g_autofree char *srcUUID = testUUID(tgGuestDomain(src));
    g_autofree char *srcState = testSwtpmDir(srcUUID);
    g_autofree char *srcLog = g_strdup_printf("%s/log/swtpm/%s-swtpm.log", tgEnvRoot(env),
                                              tgGuestName(src));
    g_auto(GStrv) boot = testPcrs(src);
    g_auto(GStrv) srcBefore = NULL;
    g_auto(GStrv) srcAt = NULL;
    g_auto(GStrv) cloneAt = NULL;
    g_auto(GStrv) cloneMine = NULL;
    g_auto(GStrv) srcMine = NULL;
    g_auto(GStrv) pcrs = NULL;
    g_autoptr(virDomain) cdom = NULL;
    g_autoptr(TgGuest) clone = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *cloneUUID = NULL;
    g_autofree char *cloneState = NULL;
    g_autofree char *clonePermall = NULL;
    g_autofree char *cloneLog = NULL;
    virTypedParameterPtr stats = NULL;
    int nstats = 0;
    unsigned long long startUs = 0;
    unsigned long long totalUs = 0;
    gint64 madeAt;
    GStatBuf sa;
    GStatBuf sb;

    /* the PCRs are not all boot values when the clone is made */
    srcBefore = testExtendChecked(src, "extended in the source before the clone");
    g_assert_cmpstr(srcBefore[TEST_PCR], !=, boot[TEST_PCR]);

    cdom = virDomainCloneLiveFull(tgGuestDomain(src),
                                  "<clonepolicy><tpm mode='clone'/><lifecycle ttl='1'/></clonepolicy>",
                                  NULL, NULL, &stats, &nstats, 0);
    if (!cdom)
        g_error("clone failed: %s", virCloneGetLastErrorMessage());
    madeAt = g_get_real_time();
    virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START, &startUs);
    virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL, &totalUs);
    virTypedParamsFree(stats, nstats);
    g_test_message("clone started in %.0f ms, done in %.0f ms", startUs / 1000.0, totalUs / 1000.0);
    /* nothing extended since: the source's PCRs at switch-over */
    srcAt = testPcrs(src);
    testAssertPcrsEqual(srcAt, srcBefore);

    /* (c) a copy of the state under the clone's own UUID, made before the
     * start: libvirt did not run swtpm_setup for the clone */
    cloneUUID = testUUID(cdom);
    cloneState = testSwtpmDir(cloneUUID);
    clonePermall = g_build_filename(cloneState, "tpm2", "tpm2-00.permall", NULL);
    g_assert_cmpstr(cloneUUID, !=, srcUUID);
    g_assert_true(g_file_test(clonePermall, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpint(g_stat(cloneState, &sa), ==, 0);
    g_assert_cmpint(g_stat(srcState, &sb), ==, 0);
    g_assert_cmpint(sa.st_mode & 07777, ==, sb.st_mode & 07777);
    g_assert_cmpint(sa.st_uid, ==, sb.st_uid);
    cloneLog = g_strdup_printf("%s/log/swtpm/%s-swtpm.log", tgEnvRoot(env), virDomainGetName(cdom));
    g_assert_true(testFileContains(srcLog, "manufacturing"));
    g_assert_false(testFileContains(cloneLog, "manufacturing"));

    /* (a) the clone's guest sees a working TPM with the source's PCRs */
    if (!(clone = tgGuestAdopt(env, cdom, &err)))
        g_error("cannot adopt the clone: %s", err->message);
    cloneAt = testPcrs(clone);
    testAssertPcrsEqual(cloneAt, srcAt);

    /* (b) from now on, each TPM is its own */
    cloneMine = testExtendChecked(clone, "extended in the clone");
    pcrs = testPcrs(src);
    testAssertPcrsEqual(pcrs, srcAt);
    g_clear_pointer(&pcrs, g_strfreev);
    srcMine = testExtendChecked(src, "extended in the source after the clone");
    g_assert_cmpstr(srcMine[TEST_PCR], !=, cloneMine[TEST_PCR]);
    pcrs = testPcrs(clone);
    testAssertPcrsEqual(pcrs, cloneMine);

    /* (c) reaping the expired, ephemeral clone destroys it, and libvirt
     * deletes its state; the source's stays */
    while (g_get_real_time() < madeAt + 2 * G_USEC_PER_SEC)
        g_usleep(G_USEC_PER_SEC / 10);
    g_assert_cmpint(virConnectCloneLiveReap(tgEnvConn(env), 0), ==, 1);
    g_assert_cmpint(virDomainIsActive(cdom), !=, 1);
    virResetLastError();
    g_assert_false(g_file_test(cloneState, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(srcState, G_FILE_TEST_IS_DIR));
    g_clear_pointer(&pcrs, g_strfreev);
    pcrs = testPcrs(src);
    testAssertPcrsEqual(pcrs, srcMine);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, tgQuietErrors);
    virCloneSetLogFunc(tgLibLogToTest, NULL);
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the embedded driver: %s\n", err->message);
        return 1;
    }
    g_test_add_func("/tpm/refuse-default", testRefuseDefault);
    g_test_add_func("/tpm/refuse-explicit", testRefuseExplicit);
    g_test_add_func("/tpm/clone", testClone);
    ret = g_test_run();
    g_clear_pointer(&source, tgGuestFree);
    tgEnvFree(env);
    return ret;
}
