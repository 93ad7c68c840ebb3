/*
 * test-distro-boot.c: the Debian 12 test guest (tests/guest/debian/) boots
 * under libvirt both ways, and a live clone of its UEFI boot works.
 *
 * - direct kernel boot (the image's own kernel and initrd), systemd-networkd;
 * - UEFI: OVMF, an NVRAM file made from its template, the disk's own grub;
 *   the network stack travels as an SMBIOS OEM string (the kernel command
 *   line is grub's);
 * for each: "systemctl is-system-running" says running, Debian's qemu-ga
 * answers, the machine-id was generated at first boot, the NIC got its
 * address from QEMU's user-mode DHCP.
 *
 * Then virDomainCloneLive() of the UEFI guest with the default policy: the
 * clone runs with an NVRAM file of its own whose content is the source's at
 * clone time, its agent answers (its NIC link is down: nothing here uses the
 * network), the source keeps running.  Everything is removed at the end.
 *
 * TG_DISTRO_STACKS=1 adds a direct kernel boot with netplan and one with
 * NetworkManager (ifupdown and networkd are above).
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "libvirt-clone/libvirt-clone.h"
#include "testutils-distro.h"

#define AGENT_TIMEOUT_MS 180000
/* a loaded 2-core machine runs a TCG guest at a fraction of its speed */
#define EXEC_TIMEOUT_MS 180000
#define DHCP_TIMEOUT_MS 120000
/* QEMU's user-mode network hands out this address first */
#define SLIRP_ADDR "10.0.2.15/24"

static TgEnv *env;
static TgDistro *uefiGuest;


static gboolean
isMachineId(const char *s)
{
    size_t i;

    if (strlen(s) != 32)
        return FALSE;
    for (i = 0; i < 32; i++) {
        if (!g_ascii_isxdigit(s[i]) || g_ascii_isupper(s[i]))
            return FALSE;
    }
    return TRUE;
}


static char *
execOut(TgDistro *d, const char *const *argv)
{
    g_autoptr(GError) err = NULL;
    char *out = tgDistroExecOut(d, argv, EXEC_TIMEOUT_MS, &err);

    g_assert_no_error(err);
    g_assert_nonnull(out);
    return out;
}


/* For the record (where the boot's time went): @argv's output or why
 * there is none; never fails the test. */
static void
logCommand(TgDistro *d, const char *what, const char *const *argv)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = tgDistroExecOut(d, argv, EXEC_TIMEOUT_MS, &err);

    g_test_message("%s: %s:\n%s", tgDistroName(d), what, out ? out : err->message);
}


/* IPv4 addresses of the guest's global-scope interfaces, as "ip" shows them. */
static gboolean
waitAddress(TgDistro *d, const char *want)
{
    const char *argv[] = { "ip", "-4", "-o", "addr", "show", "scope", "global", NULL };
    gint64 deadline = g_get_monotonic_time() + DHCP_TIMEOUT_MS * G_GINT64_CONSTANT(1000);

    for (;;) {
        g_autofree char *out = execOut(d, argv);

        if (strstr(out, want))
            return TRUE;
        if (g_get_monotonic_time() >= deadline) {
            g_test_message("addresses of %s: %s", tgDistroName(d), out);
            return FALSE;
        }
        g_usleep(G_USEC_PER_SEC);
    }
}


/* What every boot must give, whichever way it booted. */
static void
checkBooted(TgDistro *d, const char *stack)
{
    const TgDistroReady *r = tgDistroReadyInfo(d);
    const char *state[] = { "systemctl", "is-system-running", NULL };
    const char *mid[] = { "cat", "/etc/machine-id", NULL };
    const char *host[] = { "hostname", NULL };
    const char *analyze[] = { "systemd-analyze", "time", NULL };
    const char *blame[] = { "sh", "-c", "systemd-analyze blame | head -n 5", NULL };
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;

    g_test_message("%s: ready in %.1f s (guest uptime %.1f s), state %s, stack %s%s%s",
                   tgDistroName(d), tgDistroBootSeconds(d), r->uptime_s, r->state,
                   r->stack, r->failed[0] ? ", failed: " : "", r->failed);
    g_assert_cmpstr(r->failed, ==, "");
    g_assert_cmpstr(r->state, ==, "running");
    g_assert_cmpstr(r->stack, ==, stack);
    g_assert_true(isMachineId(r->machine_id));

    g_assert_cmpint(tgDistroAgentPing(d, AGENT_TIMEOUT_MS, &err), ==, 0);
    g_assert_no_error(err);
    out = execOut(d, state);
    g_assert_cmpstr(out, ==, "running");
    g_clear_pointer(&out, g_free);
    out = execOut(d, mid);
    g_assert_cmpstr(out, ==, r->machine_id);
    g_clear_pointer(&out, g_free);
    out = execOut(d, host);
    g_assert_cmpstr(out, ==, "debtest");
    g_assert_true(waitAddress(d, SLIRP_ADDR));
    logCommand(d, "boot time", analyze);
    logCommand(d, "slowest units", blame);
}


static void
testKernelBoot(void)
{
    TgDistroOpts o = { .stack = "networkd" };
    g_autoptr(GError) err = NULL;
    g_autoptr(TgDistro) d = tgDistroStart(env, &o, &err);
    const char *efi[] = { "test", "-d", "/sys/firmware/efi", NULL };
    int code = -1;

    g_assert_no_error(err);
    checkBooted(d, "networkd");
    /* no firmware of ours: SeaBIOS and the kernel straight from the host */
    g_assert_cmpint(tgDistroExec(d, efi, EXEC_TIMEOUT_MS, &code, NULL, NULL, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(code, !=, 0);
    g_assert_null(tgDistroNvramPath(d));
}


static void
testUefiBoot(void)
{
    TgDistroOpts o = { .stack = "ifupdown", .uefi = TRUE };
    g_autoptr(GError) err = NULL;
    const char *efi[] = { "test", "-d", "/sys/firmware/efi", NULL };
    const char *cmdline[] = { "cat", "/proc/cmdline", NULL };
    g_autofree char *nvram = NULL;
    g_autofree char *out = NULL;
    int code = -1;

    uefiGuest = tgDistroStart(env, &o, &err);
    g_assert_no_error(err);
    checkBooted(uefiGuest, "ifupdown");
    /* booted by firmware, through grub's command line (no lvc.netstack on it) */
    g_assert_cmpint(tgDistroExec(uefiGuest, efi, EXEC_TIMEOUT_MS, &code, NULL, NULL, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(code, ==, 0);
    out = execOut(uefiGuest, cmdline);
    g_assert_null(strstr(out, "lvc.netstack"));
    nvram = tgDistroNvramPath(uefiGuest);
    g_assert_nonnull(nvram);
    g_assert_true(g_file_test(nvram, G_FILE_TEST_IS_REGULAR));
}


/* TG_DISTRO_STACKS=1: one direct kernel boot per network stack (not in
 * CI: test-netstacks boots each stack). */
static void
testStackBoot(gconstpointer data)
{
    const char *stack = data;
    TgDistroOpts o = { .stack = stack };
    g_autoptr(GError) err = NULL;
    g_autoptr(TgDistro) d = tgDistroStart(env, &o, &err);

    g_assert_no_error(err);
    checkBooted(d, stack);
}


static gboolean
sameContent(const char *a, const char *b)
{
    g_autofree char *da = NULL;
    g_autofree char *db = NULL;
    gsize la = 0;
    gsize lb = 0;

    g_assert_true(g_file_get_contents(a, &da, &la, NULL));
    g_assert_true(g_file_get_contents(b, &db, &lb, NULL));
    return la == lb && memcmp(da, db, la) == 0;
}


static void
testUefiClone(void)
{
    const char *mid[] = { "cat", "/etc/machine-id", NULL };
    const char *state[] = { "systemctl", "is-system-running", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(TgDistro) clone = NULL;
    g_autofree char *srcNvram = NULL;
    g_autofree char *cloneNvram = NULL;
    g_autofree char *out = NULL;
    virDomainPtr cdom;
    gint64 t0;

    if (!uefiGuest) {
        g_test_skip("the UEFI guest did not boot");
        return;
    }
    srcNvram = tgDistroNvramPath(uefiGuest);
    t0 = g_get_monotonic_time();
    cdom = virDomainCloneLive(tgDistroDomain(uefiGuest), NULL, 0);
    if (!cdom)
        g_error("virDomainCloneLive: %s", virGetLastErrorMessage());
    g_test_message("live clone %s in %.2f s", virDomainGetName(cdom),
                   (g_get_monotonic_time() - t0) / 1e6);
    clone = tgDistroAdopt(env, cdom, &err);
    virDomainFree(cdom);
    g_assert_no_error(err);

    /* its own NVRAM file, with the source's content at clone time */
    cloneNvram = tgDistroNvramPath(clone);
    g_test_message("NVRAM: source %s, clone %s", srcNvram, cloneNvram);
    g_assert_nonnull(cloneNvram);
    g_assert_cmpstr(cloneNvram, !=, srcNvram);
    g_assert_true(g_file_test(cloneNvram, G_FILE_TEST_IS_REGULAR));
    g_assert_true(sameContent(srcNvram, cloneNvram));

    /* both run; the clone's agent answers (its link is down) */
    g_assert_cmpint(virDomainIsActive(tgDistroDomain(clone)), ==, 1);
    g_assert_cmpint(tgDistroAgentPing(clone, AGENT_TIMEOUT_MS, &err), ==, 0);
    g_assert_no_error(err);
    out = execOut(clone, state);
    g_assert_cmpstr(out, ==, "running");
    g_clear_pointer(&out, g_free);
    /* the default policy keeps the guest's identity */
    out = execOut(clone, mid);
    g_assert_cmpstr(out, ==, tgDistroReadyInfo(uefiGuest)->machine_id);

    g_assert_cmpint(virDomainIsActive(tgDistroDomain(uefiGuest)), ==, 1);
    g_assert_cmpint(tgDistroAgentPing(uefiGuest, AGENT_TIMEOUT_MS, &err), ==, 0);
    g_assert_no_error(err);
    g_clear_pointer(&out, g_free);
    out = execOut(uefiGuest, state);
    g_assert_cmpstr(out, ==, "running");

    /* a transient clone's files stay when it ends (no hook here) */
    tgDistroOwnFiles(clone);
    g_clear_pointer(&clone, tgDistroFree);
    g_assert_false(g_file_test(cloneNvram, G_FILE_TEST_EXISTS));
}


/* Files of our guests and their clones (names start with "debtest") left
 * in the root; libvirt's own directories appear there on first use. */
static guint
countLeftovers(const char *root, GHashTable *before)
{
    g_autoptr(GHashTable) now = tgListDir(root);
    GHashTableIter it;
    gpointer name;
    guint n = 0;

    g_hash_table_iter_init(&it, now);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        if (g_str_has_prefix(name, "debtest") && !g_hash_table_contains(before, name)) {
            g_test_message("left behind: %s/%s", root, (const char *)name);
            n++;
        }
    }
    return n;
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GHashTable) before = NULL;
    gint64 t0;
    guint left;
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (getuid() != 0) {
        g_test_skip("needs root (libvirt's embedded driver, debootstrap)");
        return g_test_run();
    }
    virSetErrorFunc(NULL, tgQuietErrors);
    t0 = g_get_monotonic_time();
    if (tgDistroImageEnsure(&err) < 0)
        g_error("%s", err->message);
    g_test_message("Debian guest image %s ready in %.1f s (last build took %s s)",
                   tgDistroImageDir(), (g_get_monotonic_time() - t0) / 1e6,
                   tgDistroImageInfo("BUILD_SECONDS"));
    if (!(env = tgEnvNew(&err)))
        g_error("%s", err->message);
    before = tgListDir(tgEnvRoot(env));

    g_test_add_func("/distro/kernel-boot", testKernelBoot);
    g_test_add_func("/distro/uefi-boot", testUefiBoot);
    g_test_add_func("/distro/uefi-clone", testUefiClone);
    if (g_strcmp0(g_getenv("TG_DISTRO_STACKS"), "1") == 0) {
        g_test_add_data_func("/distro/stack/netplan", "netplan", testStackBoot);
        g_test_add_data_func("/distro/stack/networkmanager", "networkmanager", testStackBoot);
    }
    ret = g_test_run();

    g_clear_pointer(&uefiGuest, tgDistroFree);
    left = countLeftovers(tgEnvRoot(env), before);
    tgEnvFree(env);
    if (ret == 0 && left > 0) {
        g_printerr("# %u files left behind in the root\n", left);
        ret = 1;
    }
    return ret;
}
