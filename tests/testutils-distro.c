/*
 * testutils-distro.c: boot and drive the Debian test guest through libvirt.
 * See testutils-distro.h.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "domainxml.h"
#include "testutils-distro.h"

#define TGD_ERROR tgd_error_quark()
GQuark tgd_error_quark(void);
G_DEFINE_QUARK(tgd-error-quark, tgd_error)

#define TGD_DEFAULT_DIR "/var/lib/libvirt-clone/debian-guest"
#define TGD_DEFAULT_BOOT_TIMEOUT_MS 300000
#define TGD_DEFAULT_MEMORY_MIB 1024
#define TGD_EXEC_POLL_MS 100
/* the image's kernel and initrd, copied into each TgEnv's root: libvirt
 * gives them to the QEMU user, which must not happen to shared files */
#define TGD_KERNEL_COPY "distro-vmlinuz"
#define TGD_INITRD_COPY "distro-initrd.img"

struct _TgDistro {
    TgEnv *env;
    TgGuest *guest;             /* serial console and the domain */
    gboolean owned;             /* made by tgDistroStart: delete its files */
    gboolean own_files;         /* tgDistroOwnFiles(): delete its top, NVRAM, log */
    char *overlay;
    char *nvram;
    char *serial_log;
    TgDistroReady ready;
    double boot_s;
};


/* ---- the image --------------------------------------------------------- */

static GMutex tgdImageLock;
static char *tgdImageDir;
static GHashTable *tgdImageInfo;


static int
tgdLoadInfo(const char *dir, GError **err)
{
    g_autofree char *path = g_build_filename(dir, "info", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GHashTable) info = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                       g_free, g_free);
    const char *need[] = { "CMDLINE", "OVMF_CODE", "OVMF_VARS" };
    size_t i;

    if (!g_file_get_contents(path, &text, NULL, err)) {
        g_prefix_error(err, "the Debian guest image is not built: ");
        return -1;
    }
    lines = g_strsplit(text, "\n", -1);
    for (i = 0; lines[i]; i++) {
        char *eq = strchr(lines[i], '=');

        if (eq)
            g_hash_table_insert(info, g_strndup(lines[i], eq - lines[i]), g_strdup(eq + 1));
    }
    for (i = 0; i < G_N_ELEMENTS(need); i++) {
        if (!g_hash_table_contains(info, need[i])) {
            g_set_error(err, TGD_ERROR, 0, "%s has no %s", path, need[i]);
            return -1;
        }
    }
    tgdImageDir = g_strdup(dir);
    tgdImageInfo = g_steal_pointer(&info);
    return 0;
}


/* Run the build script (it prints the image's directory). */
static char *
tgdBuild(const char *script, GError **err)
{
    const char *argv[] = { script, NULL, NULL };
    g_autofree char *out = NULL;
    g_autoptr(GError) local = NULL;
    int status = 0;

    argv[1] = g_getenv("TG_DISTRO_DIR");
    /* the script's progress goes to our stderr (the test's log) */
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                      &out, NULL, &status, err))
        return NULL;
    if (!g_spawn_check_wait_status(status, &local)) {
        g_set_error(err, TGD_ERROR, 0, "%s failed (%s): see its messages above",
                    script, local->message);
        return NULL;
    }
    return g_strdup(g_strstrip(out));
}


int
tgDistroImageEnsure(GError **err)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&tgdImageLock);
    const char *script = g_getenv("TG_DISTRO_BUILD");
    const char *dir = g_getenv("TG_DISTRO_DIR");
    g_autofree char *built = NULL;

    if (tgdImageInfo)
        return 0;
    if (script && *script) {
        if (!(built = tgdBuild(script, err)))
            return -1;
        dir = built;
    }
    if (!dir || !*dir)
        dir = TGD_DEFAULT_DIR;
    return tgdLoadInfo(dir, err);
}


const char *
tgDistroImageDir(void)
{
    return tgdImageDir;
}


const char *
tgDistroImageInfo(const char *key)
{
    return tgdImageInfo ? g_hash_table_lookup(tgdImageInfo, key) : NULL;
}


static char *
tgdImageFile(const char *name)
{
    return g_build_filename(tgdImageDir, name, NULL);
}


/* ---- domain XML -------------------------------------------------------- */

static void
tgdOptsDefaults(const TgDistroOpts *in, TgDistroOpts *o)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (!o->name_prefix)
        o->name_prefix = "debtest";
    if (!o->stack)
        o->stack = "networkd";
    if (!o->memory_mib)
        o->memory_mib = TGD_DEFAULT_MEMORY_MIB;
    if (!o->boot_timeout_ms)
        o->boot_timeout_ms = TGD_DEFAULT_BOOT_TIMEOUT_MS;
}


static TgDomainNic
tgdNicType(TgDistroNic nic)
{
    switch (nic) {
    case TG_DISTRO_NIC_NONE:
        return TG_DOMAIN_NIC_NONE;
    case TG_DISTRO_NIC_BRIDGE:
        return TG_DOMAIN_NIC_BRIDGE;
    case TG_DISTRO_NIC_NETWORK:
        return TG_DOMAIN_NIC_NETWORK;
    case TG_DISTRO_NIC_USER:
    default:
        return TG_DOMAIN_NIC_USER;
    }
}


/* The domain (tests/guest/domainxml.c).  Direct kernel boot: the image's
 * kernel, initrd and command line.  UEFI: OVMF (no secure boot) and an
 * NVRAM made from its template; the command line is grub's, so the stack
 * travels as an SMBIOS OEM string.
 *
 * The machine's image is shared: by other test programs and by libvirt
 * daemons whose QEMU runs as another user (libvirt-qemu), so it is named as
 * the overlay's backing store, which libvirt must not relabel; it is
 * world-readable. */
static char *
tgdBuildXml(TgEnv *env, const TgDistroOpts *o, const char *name, const char *disk,
            const char *nvram, const char *log)
{
    g_autofree char *base = tgdImageFile("disk.qcow2");
    g_autofree char *kernel = g_build_filename(tgEnvRoot(env), TGD_KERNEL_COPY, NULL);
    g_autofree char *initrd = g_build_filename(tgEnvRoot(env), TGD_INITRD_COPY, NULL);
    g_autofree char *cmdline = g_strdup_printf("%s lvc.netstack=%s%s%s",
                                               tgDistroImageInfo("CMDLINE"), o->stack,
                                               o->extra_cmdline ? " " : "",
                                               o->extra_cmdline ? o->extra_cmdline : "");
    g_autofree char *oem = g_strdup_printf("lvc.netstack=%s", o->stack);
    TgDomainXmlOpts x = {
        .type = tgEnvAccel(env),
        .name = name,
        .memory_mib = o->memory_mib,
        .genid = o->with_genid,
        .on_reboot = "restart",
        .disk = disk,
        .disk_cache = tgEnvDiskCache(env),
        .disk_backing = base,
        .serial_log = log,
        .nic = tgdNicType(o->nic),
        .nic_source = o->nic_source,
        .mac = o->mac,
        .channel = TG_AGENT_NAME,
        .rng = TRUE,
        .extra_devices = o->extra_devices_xml,
    };

    if (o->uefi) {
        x.loader = tgDistroImageInfo("OVMF_CODE");
        x.nvram_template = tgDistroImageInfo("OVMF_VARS");
        x.nvram = nvram;
        x.oem_string = oem;
    } else {
        x.kernel = kernel;
        x.initrd = initrd;
        x.cmdline = cmdline;
    }
    return tgDomainXml(&x);
}


/* ---- guests ------------------------------------------------------------ */

/* Copy the image's kernel and initrd into @root, once. */
static int
tgdCopyBoot(const char *root, GError **err)
{
    const char *names[][2] = { { "vmlinuz", TGD_KERNEL_COPY },
                               { "initrd.img", TGD_INITRD_COPY } };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *from = tgdImageFile(names[i][0]);
        g_autofree char *to = g_build_filename(root, names[i][1], NULL);
        g_autofree char *data = NULL;
        gsize len = 0;

        if (g_file_test(to, G_FILE_TEST_EXISTS))
            continue;
        if (!g_file_get_contents(from, &data, &len, err) ||
            !g_file_set_contents(to, data, len, err))
            return -1;
        chmod(to, 0644);
    }
    return 0;
}


static int
tgdMakeOverlay(const char *overlay, GError **err)
{
    g_autofree char *base = tgdImageFile("disk.qcow2");
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                           "-b", base, overlay, NULL };

    if (tgRun(argv, err) < 0) {
        g_prefix_error(err, "cannot create %s: ", overlay);
        return -1;
    }
    return 0;
}


static int
tgdParseReady(const char *line, TgDistroReady *r)
{
    g_auto(GStrv) words = g_strsplit(line, " ", -1);
    guint i;

    if (g_strv_length(words) < 3 || !g_str_equal(words[1], "ready"))
        return -1;
    g_strlcpy(r->state, words[2], sizeof(r->state));
    for (i = 3; words[i]; i++) {
        if (g_str_has_prefix(words[i], "stack="))
            g_strlcpy(r->stack, words[i] + strlen("stack="), sizeof(r->stack));
        else if (g_str_has_prefix(words[i], "machine-id="))
            g_strlcpy(r->machine_id, words[i] + strlen("machine-id="), sizeof(r->machine_id));
        else if (g_str_has_prefix(words[i], "uptime="))
            r->uptime_s = g_ascii_strtod(words[i] + strlen("uptime="), NULL);
    }
    return 0;
}


int
tgDistroWaitReady(TgDistro *d, guint timeout_ms, TgDistroReady *ready, GError **err)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    TgDistroReady r = { 0 };

    for (;;) {
        g_autofree char *line = NULL;
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;

        const char *msg;

        /* not anchored: systemd's status output on the same console may
         * leave escape sequences (ESC [K) before the line */
        if (tgSerialWait(d->guest, "DEBTEST (ready|failed) ", MAX(left, 1), &line, err) < 0)
            return -1;
        msg = strstr(line, "DEBTEST ");
        if (g_str_has_prefix(msg, "DEBTEST failed ")) {
            if (r.failed[0])
                g_strlcat(r.failed, " ", sizeof(r.failed));
            g_strlcat(r.failed, msg + strlen("DEBTEST failed "), sizeof(r.failed));
            continue;
        }
        if (tgdParseReady(msg, &r) < 0) {
            g_set_error(err, TGD_ERROR, 0, "%s: bad ready line '%s'", tgDistroName(d), line);
            return -1;
        }
        if (ready)
            *ready = r;
        return 0;
    }
}


static TgDistro *
tgdWrap(TgEnv *env, virDomainPtr dom, GError **err)
{
    g_autoptr(TgDistro) d = g_new0(TgDistro, 1);

    d->env = env;
    if (!(d->guest = tgGuestAdopt(env, dom, err)))
        return NULL;
    return g_steal_pointer(&d);
}


TgDistro *
tgDistroStart(TgEnv *env, const TgDistroOpts *opts, GError **err)
{
    static gint counter;
    TgDistroOpts o;
    g_autofree char *name = NULL;
    g_autofree char *overlay = NULL;
    g_autofree char *nvram = NULL;
    g_autofree char *log = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(TgDistro) d = NULL;
    virDomainPtr dom;
    gint64 t0;

    tgdOptsDefaults(opts, &o);
    if (tgDistroImageEnsure(err) < 0)
        return NULL;
    name = g_strdup_printf("%s-%d-%d", o.name_prefix, (int)getpid(),
                           g_atomic_int_add(&counter, 1));
    overlay = g_strdup_printf("%s/%s.qcow2", tgEnvRoot(env), name);
    nvram = g_strdup_printf("%s/%s_VARS.fd", tgEnvRoot(env), name);
    log = g_strdup_printf("%s/%s-serial.log", tgEnvRoot(env), name);
    if ((!o.uefi && tgdCopyBoot(tgEnvRoot(env), err) < 0) ||
        tgdMakeOverlay(overlay, err) < 0)
        return NULL;
    xml = tgdBuildXml(env, &o, name, overlay, nvram, log);

    t0 = g_get_monotonic_time();
    if (!(dom = tgDomainCreate(env, xml, o.transient, name, err))) {
        unlink(overlay);
        return NULL;
    }
    d = tgdWrap(env, dom, err);
    if (!d) {
        virDomainDestroy(dom);
        virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM);
        virDomainFree(dom);
        unlink(overlay);
        return NULL;
    }
    virDomainFree(dom);
    d->owned = TRUE;
    d->overlay = g_steal_pointer(&overlay);
    d->nvram = o.uefi ? g_steal_pointer(&nvram) : NULL;
    d->serial_log = g_steal_pointer(&log);
    if (tgDistroWaitReady(d, o.boot_timeout_ms, &d->ready, err) < 0)
        return NULL;
    d->boot_s = (g_get_monotonic_time() - t0) / 1e6;
    return g_steal_pointer(&d);
}


TgDistro *
tgDistroAdopt(TgEnv *env, virDomainPtr dom, GError **err)
{
    return tgdWrap(env, dom, err);
}


void
tgDistroOwnFiles(TgDistro *d)
{
    d->own_files = TRUE;
}


/* The qcow2 images of @dom's disk chains that are in @root (never the
 * shared image), from its live XML. */
static GPtrArray *
tgdRootImages(virDomainPtr dom, const char *root)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GRegex) re = g_regex_new("<source file='([^']+\\.qcow2)'", 0, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;
    g_autofree char *prefix = g_strdup_printf("%s/", root);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);

    virResetLastError();
    if (!xml)
        return files;
    g_regex_match(re, xml, 0, &mi);
    for (; g_match_info_matches(mi); g_match_info_next(mi, NULL)) {
        g_autofree char *path = g_match_info_fetch(mi, 1);

        if (g_str_has_prefix(path, prefix) && !strstr(path + strlen(prefix), "/"))
            g_ptr_array_add(files, g_steal_pointer(&path));
    }
    return files;
}


static void
tgdUnlink(const char *path)
{
    if (path && unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove '%s': %s", path, g_strerror(errno));
}


void
tgDistroFree(TgDistro *d)
{
    g_autoptr(GPtrArray) images = NULL;
    g_autofree char *nvram = NULL;
    g_autofree char *top = NULL;

    if (!d)
        return;
    if (d->owned)
        images = tgdRootImages(tgDistroDomain(d), tgEnvRoot(d->env));
    if (d->own_files) {
        nvram = tgDistroNvramPath(d);
        top = g_strdup(tgGuestDiskPath(d->guest));
        if (!d->serial_log)
            d->serial_log = g_strdup(tgGuestSerialLog(d->guest));
    }
    /* destroys and undefines the domain (libvirt removes a defined
     * domain's NVRAM) */
    tgGuestFree(d->guest);
    if (d->owned || d->own_files) {
        guint i;

        for (i = 0; images && i < images->len; i++)
            tgdUnlink(g_ptr_array_index(images, i));
        tgdUnlink(d->overlay);
        tgdUnlink(top);
        tgdUnlink(d->nvram);
        tgdUnlink(nvram);
        tgdUnlink(d->serial_log);
    }
    g_free(d->overlay);
    g_free(d->nvram);
    g_free(d->serial_log);
    g_free(d);
}


virDomainPtr
tgDistroDomain(TgDistro *d)
{
    return tgGuestDomain(d->guest);
}


const char *
tgDistroName(TgDistro *d)
{
    return tgGuestName(d->guest);
}


TgGuest *
tgDistroGuest(TgDistro *d)
{
    return d->guest;
}


const TgDistroReady *
tgDistroReadyInfo(TgDistro *d)
{
    return &d->ready;
}


double
tgDistroBootSeconds(TgDistro *d)
{
    return d->boot_s;
}


char *
tgDistroNvramPath(TgDistro *d)
{
    return tgDomainXMLMatch(tgDistroDomain(d), "<nvram[^>]*>([^<]+)</nvram>");
}


/* ---- guest agent ------------------------------------------------------- */

int
tgDistroAgentCommand(TgDistro *d, const char *json, guint timeout_ms, char **reply,
                     GError **err)
{
    return tgGuestAgentCommand(d->guest, json, timeout_ms, reply, err);
}


int
tgDistroAgentPing(TgDistro *d, guint timeout_ms, GError **err)
{
    return tgDistroAgentCommand(d, "{\"execute\":\"guest-ping\"}", timeout_ms, NULL, err);
}


/* The "return" object of an agent reply. */
static JsonObject *
tgdReturnObject(JsonNode *root, const char *reply, GError **err)
{
    JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonNode *ret = obj ? json_object_get_member(obj, "return") : NULL;

    if (!ret || !JSON_NODE_HOLDS_OBJECT(ret)) {
        g_set_error(err, TGD_ERROR, 0, "unexpected guest agent reply: %s", reply);
        return NULL;
    }
    return json_node_get_object(ret);
}


static char *
tgdExecJson(const char *const *argv)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    size_t i;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, "guest-exec");
    json_builder_set_member_name(b, "arguments");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "path");
    json_builder_add_string_value(b, argv[0]);
    json_builder_set_member_name(b, "arg");
    json_builder_begin_array(b);
    for (i = 1; argv[i]; i++)
        json_builder_add_string_value(b, argv[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "capture-output");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}


static char *
tgdBase64Member(JsonObject *obj, const char *member)
{
    const char *b64 = json_object_has_member(obj, member) ?
                      json_object_get_string_member(obj, member) : NULL;
    g_autofree guchar *raw = NULL;
    gsize len = 0;

    if (!b64)
        return g_strdup("");
    raw = g_base64_decode(b64, &len);
    return g_strndup((const char *)raw, len);
}


/* guest-exec-status until the process has exited. */
static int
tgdExecWait(TgDistro *d, gint64 pid, gint64 deadline, int *exit_code, char **out,
            char **errout, GError **err)
{
    g_autofree char *json = g_strdup_printf(
        "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":%" G_GINT64_FORMAT "}}", pid);

    for (;;) {
        g_autofree char *reply = NULL;
        g_autoptr(JsonNode) root = NULL;
        JsonObject *ret;
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;

        if (tgDistroAgentCommand(d, json, MAX(left, 1), &reply, err) < 0)
            return -1;
        if (!(root = json_from_string(reply, err)) ||
            !(ret = tgdReturnObject(root, reply, err)))
            return -1;
        if (json_object_get_boolean_member_with_default(ret, "exited", FALSE)) {
            if (json_object_has_member(ret, "signal"))
                *exit_code = 128 + (int)json_object_get_int_member(ret, "signal");
            else
                *exit_code = (int)json_object_get_int_member_with_default(ret, "exitcode", -1);
            if (out)
                *out = tgdBase64Member(ret, "out-data");
            if (errout)
                *errout = tgdBase64Member(ret, "err-data");
            return 0;
        }
        if (g_get_monotonic_time() >= deadline) {
            g_set_error(err, TGD_ERROR, 0, "%s: guest process %" G_GINT64_FORMAT
                        " has not exited in time", tgDistroName(d), pid);
            return -1;
        }
        g_usleep(TGD_EXEC_POLL_MS * 1000);
    }
}


int
tgDistroExec(TgDistro *d, const char *const *argv, guint timeout_ms, int *exit_code,
             char **out, char **errout, GError **err)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_autofree char *json = tgdExecJson(argv);
    g_autofree char *reply = NULL;
    g_autoptr(JsonNode) root = NULL;
    JsonObject *ret;
    int code = -1;

    if (tgDistroAgentCommand(d, json, timeout_ms, &reply, err) < 0)
        return -1;
    if (!(root = json_from_string(reply, err)) ||
        !(ret = tgdReturnObject(root, reply, err)))
        return -1;
    if (!json_object_has_member(ret, "pid")) {
        g_set_error(err, TGD_ERROR, 0, "guest-exec gave no pid: %s", reply);
        return -1;
    }
    if (tgdExecWait(d, json_object_get_int_member(ret, "pid"), deadline, &code,
                    out, errout, err) < 0)
        return -1;
    if (exit_code)
        *exit_code = code;
    return 0;
}


char *
tgDistroExecOut(TgDistro *d, const char *const *argv, guint timeout_ms, GError **err)
{
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    g_autofree char *cmd = g_strjoinv(" ", (char **)argv);
    int code = -1;

    if (tgDistroExec(d, argv, timeout_ms, &code, &out, &errout, err) < 0)
        return NULL;
    if (code != 0) {
        g_set_error(err, TGD_ERROR, 0, "%s: '%s' exited with %d: %s%s", tgDistroName(d),
                    cmd, code, g_strstrip(out), g_strstrip(errout));
        return NULL;
    }
    return g_strdup(g_strstrip(out));
}
