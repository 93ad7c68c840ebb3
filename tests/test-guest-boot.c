/*
 * test-guest-boot.c: end-to-end check of the test guest and its harness.
 *
 * Boots a real guest through the embedded QEMU driver, talks to its workload
 * over the serial console, checks a RAM dump and the record disk with
 * guestcheck, then cold-boots it again and checks that the workload resumes
 * where the disk left off.
 *
 * A second guest, with a guest agent, a VM generation ID and a TPM, checks
 * what the clone identity tests rely on: the identity the guest reports
 * (host name, machine ID, MAC, generation ID as read from guest memory,
 * address by DHCP), qemu-ga through libvirt (ping, host name, guest-exec,
 * interfaces), the TPM's PCRs and PCR_Extend, and the kernel log.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>

#include "testutils-guest.h"
#include "guestcheck.h"

#define STAT_TIMEOUT_MS 10000
#define CMD_TIMEOUT_MS 10000
#define AGENT_TIMEOUT_MS 60000
#define KMSG_TIMEOUT_MS 10000
#define DHCP_TIMEOUT_MS 20000
#define IDENTITY_HOSTNAME "tg-host"
/* what Linux 6.1's add_vmfork_randomness() prints (drivers/char/random.c) */
#define KMSG_VMFORK "random: crng reseeded due to virtual machine fork"
#define KMSG_CRNG_READY "random: crng init done"

static TgEnv *env;


static void
checkStats(TgGuest *g)
{
    g_autoptr(GError) err = NULL;
    TgStat prev = { 0 };
    TgStat st;
    int i;

    for (i = 0; i < 3; i++) {
        g_assert_cmpint(tgSerialWaitStat(g, STAT_TIMEOUT_MS, &st, &err), ==, 0);
        g_assert_no_error(err);
        g_assert_cmpint(st.mode, ==, TG_MODE_BUSY);
        g_assert_true(st.disk_on);
        if (i > 0) {
            g_assert_cmpuint(st.t_ms, >, prev.t_ms);
            g_assert_cmpuint(st.passes, >, prev.passes);
            g_assert_cmpuint(st.records, >, prev.records);
        }
        prev = st;
    }
}


/* Switch the workload to @cmd and check the next full stat interval. */
static void
checkMode(TgGuest *g, const char *cmd, TgMode mode)
{
    g_autoptr(GError) err = NULL;
    TgStat st;

    g_assert_cmpint(tgSerialCommand(g, cmd, CMD_TIMEOUT_MS, &err), ==, 0);
    g_assert_no_error(err);
    /* the first stat line may cover time before the switch */
    g_assert_cmpint(tgSerialWaitStat(g, STAT_TIMEOUT_MS, &st, &err), ==, 0);
    g_assert_cmpint(tgSerialWaitStat(g, STAT_TIMEOUT_MS, &st, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(st.mode, ==, mode);
    if (mode == TG_MODE_IDLE)
        g_assert_cmpuint(st.pages_per_s, ==, 0);
    else
        g_assert_cmpuint(st.pages_per_s, >, 0);
}


static void
copyFile(const char *src, const char *dst)
{
    g_autofree char *buf = g_malloc(1 << 20);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;

    g_assert_cmpint(in, >=, 0);
    g_assert_cmpint(out, >=, 0);
    while ((n = read(in, buf, 1 << 20)) > 0)
        g_assert_cmpint(write(out, buf, n), ==, n);
    g_assert_cmpint(n, ==, 0);
    close(in);
    close(out);
}


/* Copy @src to @dst with page @index (of @nonce) holding counter @value. */
static void
corruptDump(const char *src, const char *dst, guint64 nonce, guint64 index,
            guint64 value)
{
    guint64 hdr[4] = { 0 };
    off_t off;
    int fd;

    copyFile(src, dst);
    fd = open(dst, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    for (off = 0; pread(fd, hdr, sizeof(hdr), off) == sizeof(hdr); off += 4096) {
        if (memcmp(hdr, "CLNPAGE1", 8) == 0 && hdr[1] == nonce && hdr[2] == index) {
            hdr[3] = value;
            g_assert_cmpint(pwrite(fd, hdr, sizeof(hdr), off), ==, sizeof(hdr));
            break;
        }
    }
    close(fd);
    g_assert_cmpuint(hdr[3], ==, value);
}


static void
checkRam(TgGuest *g, GuestRamReport *rep)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dump = g_strdup_printf("%s/%s.ram", tgGuestEnvRoot(g), tgGuestName(g));
    g_autofree char *bad = g_strdup_printf("%s/%s.bad.ram", tgGuestEnvRoot(g), tgGuestName(g));
    g_autofree char *text = NULL;
    GuestRamReport badrep;

    g_assert_cmpint(tgDumpRam(tgGuestDomain(g), dump, 0, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(guestCheckRamDump(dump, rep, &err), ==, 0);
    g_assert_no_error(err);
    text = guestRamReportFormat(rep);
    g_test_message("RAM: %s", text);
    g_assert_true(rep->ok);
    g_assert_cmpuint(rep->nonce, ==, tgGuestReady(g)->nonce);
    g_assert_cmpuint(rep->npages_expected, ==, 128 * 256);
    g_assert_cmpuint(rep->npages_found, ==, rep->npages_expected);

    corruptDump(dump, bad, rep->nonce, rep->npages_expected / 2, rep->counter_n + 5);
    g_assert_cmpint(guestCheckRamDump(bad, &badrep, &err), ==, 0);
    g_assert_no_error(err);
    g_test_message("corrupted RAM: %s", badrep.reason);
    g_assert_false(badrep.ok);
    g_assert_nonnull(badrep.reason);
    g_assert_cmpuint(badrep.nbad, ==, 1);
    guestRamReportClear(&badrep);
    g_unlink(bad);
    g_unlink(dump);
}


static void
checkDisk(TgGuest *g, const GuestRamReport *ram, GuestDiskReport *rep)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *raw = g_strdup_printf("%s/%s.raw", tgGuestEnvRoot(g), tgGuestName(g));
    g_autofree char *text = NULL;

    g_assert_cmpint(tgDiskToRaw(tgGuestDiskPath(g), raw, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(guestCheckDiskImage(raw, rep, &err), ==, 0);
    g_assert_no_error(err);
    text = guestDiskReportFormat(rep);
    g_test_message("disk: %s", text);
    g_assert_cmpuint(rep->count, >=, ram->records_committed);
    g_assert_cmpuint(rep->count, <=, ram->records_committed + 1);
    g_assert_cmpuint(rep->disk_id, ==, tgGuestReady(g)->disk_id);
    g_assert_false(rep->valid_beyond_gap);
    g_unlink(raw);
}


static void
testBoot(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TgGuest) g = NULL;
    TgGuestOpts opts = { .name_prefix = "boot", .memory_mib = 512, .mode = TG_MODE_BUSY };
    GuestRamReport ram;
    GuestDiskReport disk;
    gint64 start = g_get_monotonic_time();
    guint64 boot;

    g = tgGuestStart(env, &opts, &err);
    g_assert_no_error(err);
    g_test_message("%s ready after %.1f s, guest uptime %.1f s (accel %s)",
                   tgGuestName(g), (g_get_monotonic_time() - start) / 1e6,
                   tgGuestReady(g)->t_ms / 1e3, tgEnvAccel(env));
    g_assert_cmpuint(tgGuestReady(g)->records_found, ==, 0);
    boot = tgGuestReady(g)->boot;

    checkStats(g);
    checkMode(g, "idle", TG_MODE_IDLE);
    checkMode(g, "busy", TG_MODE_BUSY);

    g_assert_cmpint(virDomainSuspend(tgGuestDomain(g)), ==, 0);
    checkRam(g, &ram);
    checkDisk(g, &ram, &disk);
    guestRamReportClear(&ram);

    g_assert_cmpint(virDomainDestroy(tgGuestDomain(g)), ==, 0);
    start = g_get_monotonic_time();
    g_assert_cmpint(tgGuestBoot(g, 0, &err), ==, 0);
    g_assert_no_error(err);
    g_test_message("cold boot ready after %.1f s, guest uptime %.1f s, records_found=%"
                   G_GUINT64_FORMAT, (g_get_monotonic_time() - start) / 1e6,
                   tgGuestReady(g)->t_ms / 1e3, tgGuestReady(g)->records_found);
    g_assert_cmpuint(tgGuestReady(g)->records_found, >=, disk.count);
    g_assert_cmpuint(tgGuestReady(g)->disk_id, ==, disk.disk_id);
    g_assert_cmpuint(tgGuestReady(g)->boot, ==, boot + 1);
}


/* The first match of @regex's group 1 in @dom's live XML. */
static char *
domainXmlMatch(virDomainPtr dom, const char *regex)
{
    char *found = tgDomainXMLMatch(dom, regex);

    g_assert_nonnull(found);
    return found;
}


/* A GUID as QEMU puts it in guest memory (hw/acpi/vmgenid.c:
 * qemu_uuid_bswap()): the first three fields (time_low, time_mid,
 * time_hi_and_version) little-endian, the last 8 bytes as they are. */
static char *
genidGuestHex(const char *uuid)
{
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6,
                                   8, 9, 10, 11, 12, 13, 14, 15 };
    g_autoptr(GString) digits = g_string_new(NULL);
    GString *out = g_string_new(NULL);
    const char *p;
    int i;

    for (p = uuid; *p; p++) {
        if (*p != '-')
            g_string_append_c(digits, g_ascii_tolower(*p));
    }
    g_assert_cmpuint(digits->len, ==, 32);
    for (i = 0; i < 16; i++)
        g_string_append_len(out, digits->str + 2 * order[i], 2);
    return g_string_free(out, FALSE);
}


static void
hexDecode(const char *hex, guint8 *out, gsize len)
{
    gsize i;

    g_assert_cmpuint(strlen(hex), ==, 2 * len);
    for (i = 0; i < len; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

        g_assert_cmpint(hi, >=, 0);
        g_assert_cmpint(lo, >=, 0);
        out[i] = hi << 4 | lo;
    }
}


/* The "return" member of the agent's reply to @json (owned by @parser). */
static JsonNode *
agentReturn(TgGuest *g, JsonParser *parser, const char *json)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *reply = NULL;
    JsonObject *obj;

    g_assert_cmpint(tgGuestAgentCommand(g, json, AGENT_TIMEOUT_MS, &reply, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(json_parser_load_from_data(parser, reply, -1, &err));
    g_assert_no_error(err);
    obj = json_node_get_object(json_parser_get_root(parser));
    g_assert_true(json_object_has_member(obj, "return"));
    return json_object_get_member(obj, "return");
}


static void
checkIdentity(TgGuest *g, TgIdentity *id)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *uuid = domainXmlMatch(tgGuestDomain(g), "<genid>([0-9a-fA-F-]{36})</genid>");
    g_autofree char *mac = domainXmlMatch(tgGuestDomain(g), "<mac address='([0-9a-f:]{17})'/>");
    g_autofree char *genid = genidGuestHex(uuid);

    g_assert_cmpint(tgGuestIdentity(g, id, &err), ==, 0);
    g_assert_no_error(err);
    g_test_message("identity: hostname=%s machine_id=%s boot_id=%s mac=%s ipv4=%s genid=%s "
                   "(libvirt <genid> %s)", id->hostname, id->machine_id, id->boot_id,
                   id->mac, id->ipv4, id->genid, uuid);
    g_assert_cmpstr(id->hostname, ==, IDENTITY_HOSTNAME);
    g_assert_cmpuint(strlen(id->machine_id), ==, 32);
    g_assert_cmpuint(strspn(id->machine_id, "0123456789abcdef"), ==, 32);
    g_assert_cmpuint(strlen(id->boot_id), ==, 36);
    g_assert_cmpstr(id->mac, ==, mac);
    g_assert_cmpstr(id->genid, !=, "00000000000000000000000000000000");
    g_assert_cmpstr(id->genid, ==, genid);
}


static void
checkAgentExec(TgGuest *g)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *status_cmd = NULL;
    g_autofree guchar *out = NULL;
    JsonObject *st = NULL;
    gint64 pid;
    gsize len = 0;
    int i;

    pid = json_object_get_int_member(json_node_get_object(agentReturn(
        g, parser, "{\"execute\":\"guest-exec\",\"arguments\":"
                   "{\"path\":\"/bin/hostname\",\"capture-output\":true}}")), "pid");
    g_assert_cmpint(pid, >, 0);
    status_cmd = g_strdup_printf("{\"execute\":\"guest-exec-status\",\"arguments\":"
                                 "{\"pid\":%" G_GINT64_FORMAT "}}", pid);
    for (i = 0; i < 100; i++) {
        st = json_node_get_object(agentReturn(g, parser, status_cmd));
        if (json_object_get_boolean_member(st, "exited"))
            break;
        g_usleep(100 * 1000);
    }
    g_assert_true(json_object_get_boolean_member(st, "exited"));
    g_assert_cmpint(json_object_get_int_member(st, "exitcode"), ==, 0);
    out = g_base64_decode(json_object_get_string_member(st, "out-data"), &len);
    g_assert_cmpmem(out, len, IDENTITY_HOSTNAME "\n", strlen(IDENTITY_HOSTNAME) + 1);
}


static void
checkAgent(TgGuest *g)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    gint64 start = g_get_monotonic_time();
    JsonObject *host;

    /* the first command waits until qemu-ga has opened its port */
    agentReturn(g, parser, "{\"execute\":\"guest-ping\"}");
    g_test_message("agent answered after %.1f s", (g_get_monotonic_time() - start) / 1e6);
    host = json_node_get_object(agentReturn(g, parser, "{\"execute\":\"guest-get-host-name\"}"));
    g_assert_cmpstr(json_object_get_string_member(host, "host-name"), ==, IDENTITY_HOSTNAME);
    checkAgentExec(g);
}


/* PCR 16 (debug, resettable) after TPM2_PCR_Extend: sha256(old || digest). */
static void
checkTpm(TgGuest *g)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) before = NULL;
    g_auto(GStrv) after = NULL;
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
                                                            "libvirt-clone", -1);
    g_autofree char *cmd = g_strdup_printf("tpm extend 16 %s", digest);
    guint8 bytes[32];
    int i;

    g_assert_cmpint(tgGuestTpmPcrs(g, &before, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(g_strv_length(before), ==, 24);
    hexDecode(before[16], bytes, sizeof(bytes));
    g_checksum_update(sum, bytes, sizeof(bytes));
    hexDecode(digest, bytes, sizeof(bytes));
    g_checksum_update(sum, bytes, sizeof(bytes));

    g_assert_cmpint(tgSerialCommand(g, cmd, CMD_TIMEOUT_MS, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(tgGuestTpmPcrs(g, &after, &err), ==, 0);
    g_assert_no_error(err);
    g_test_message("PCR 16: %s -> %s", before[16], after[16]);
    g_assert_cmpstr(after[16], ==, g_checksum_get_string(sum));
    for (i = 0; i < 24; i++) {
        if (i != 16)
            g_assert_cmpstr(after[i], ==, before[i]);
    }
}


/* Poll the guest's kernel log for @text; the first message with it. */
static char *
kmsgWait(TgGuest *g, const char *text)
{
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + KMSG_TIMEOUT_MS * 1000;
    gboolean found = FALSE;
    char *line = NULL;

    for (;;) {
        g_assert_cmpint(tgGuestKmsgFind(g, text, &found, &line, &err), ==, 0);
        g_assert_no_error(err);
        if (found || g_get_monotonic_time() >= deadline)
            break;
        g_usleep(200 * 1000);
    }
    g_assert_true(found);
    return line;
}


/* eth0's address by DHCP (in the background after boot), as the guest
 * reports it and as qemu-ga does. */
static void
checkDhcp(TgGuest *g, const TgIdentity *first)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    gint64 deadline = g_get_monotonic_time() + DHCP_TIMEOUT_MS * 1000;
    g_autofree char *agent_ipv4 = NULL;
    JsonArray *ifaces;
    TgIdentity id = *first;
    guint i;
    guint j;

    while (g_str_equal(id.ipv4, "none") && g_get_monotonic_time() < deadline) {
        g_usleep(500 * 1000);
        g_assert_cmpint(tgGuestIdentity(g, &id, &err), ==, 0);
        g_assert_no_error(err);
    }
    g_test_message("eth0 by DHCP: %s", id.ipv4);
    g_assert_cmpstr(id.ipv4, !=, "none");

    ifaces = json_node_get_array(agentReturn(g, parser,
                                             "{\"execute\":\"guest-network-get-interfaces\"}"));
    for (i = 0; i < json_array_get_length(ifaces); i++) {
        JsonObject *ifc = json_array_get_object_element(ifaces, i);
        JsonArray *addrs;

        if (!g_str_equal(json_object_get_string_member(ifc, "name"), "eth0"))
            continue;
        g_assert_cmpstr(json_object_get_string_member(ifc, "hardware-address"), ==, id.mac);
        addrs = json_object_get_array_member(ifc, "ip-addresses");
        for (j = 0; j < json_array_get_length(addrs); j++) {
            JsonObject *a = json_array_get_object_element(addrs, j);

            if (g_str_equal(json_object_get_string_member(a, "ip-address-type"), "ipv4"))
                agent_ipv4 = g_strdup_printf("%s/%" G_GINT64_FORMAT,
                                             json_object_get_string_member(a, "ip-address"),
                                             json_object_get_int_member(a, "prefix"));
        }
    }
    g_assert_cmpstr(agent_ipv4, ==, id.ipv4);
}


/* The kernel log as the clone tests read it: the CRNG is ready (the
 * workload sees to that; without it a new generation ID would not reseed
 * it), and no VM fork has been seen. */
static void
checkKmsg(TgGuest *g)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *line = kmsgWait(g, KMSG_CRNG_READY);
    char *none = NULL;
    gboolean found = TRUE;

    g_assert_cmpstr(line, ==, KMSG_CRNG_READY);
    g_assert_cmpint(tgGuestKmsgFind(g, KMSG_VMFORK, &found, &none, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_false(found);
    g_assert_null(none);
}


static void
testIdentity(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TgGuest) g = NULL;
    TgGuestOpts opts = {
        .name_prefix = "ident", .buffer_mib = 16, .mode = TG_MODE_IDLE,
        .disk_records_off = TRUE, .with_genid = TRUE, .with_agent = TRUE,
        .with_tpm = TRUE, .hostname = IDENTITY_HOSTNAME, .dhcp = TRUE,
    };
    gint64 start = g_get_monotonic_time();
    TgIdentity id;

    g = tgGuestStart(env, &opts, &err);
    g_assert_no_error(err);
    g_test_message("%s ready after %.1f s, guest uptime %.1f s", tgGuestName(g),
                   (g_get_monotonic_time() - start) / 1e6, tgGuestReady(g)->t_ms / 1e3);
    checkIdentity(g, &id);
    checkAgent(g);
    checkDhcp(g, &id);
    checkTpm(g);
    checkKmsg(g);
}


int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("TG_GUEST_DIR")) {
        g_printerr("TG_GUEST_DIR not set: skipping the real-guest tests\n");
        return 77;
    }
    if (!(env = tgEnvNew(&err))) {
        g_printerr("cannot set up the test environment: %s\n", err->message);
        return 1;
    }

    g_test_add_func("/guest/boot", testBoot);
    g_test_add_func("/guest/identity", testIdentity);
    ret = g_test_run();

    tgEnvFree(env);
    return ret;
}
