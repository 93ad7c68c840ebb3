/*
 * clonevmstatetest.c: reading and renaming the RAM blocks of a saved
 * device state (src/clone/clone_vmstate.c)
 *
 * The first cases build streams by hand (the layout of QEMU's
 * ram_save_setup()); the last one has a real QEMU (no guest, no libvirt)
 * save its state with x-ignore-shared over file-backed shared RAM, renames
 * the block, and loads the result into a second QEMU whose RAM is the same
 * file mapped privately, as a template's clone is: the RAM must read as the
 * file does, the file must not change when that QEMU runs, and the stream
 * as saved must be refused by it.  Without qemu-system-x86_64 that case is
 * skipped.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixfdmessage.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone_internal.h"
#include "clone_vmstate.h"
#include "libvirt-clone/libvirt-clone.h"

#define MIB (1024ULL * 1024ULL)

static void
putBE32(GByteArray *a, guint32 v)
{
    guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };

    g_byte_array_append(a, b, 4);
}


static void
putBE64(GByteArray *a, guint64 v)
{
    putBE32(a, v >> 32);
    putBE32(a, (guint32)v);
}


static void
putBlock(GByteArray *a, const char *id, guint64 size, gboolean ignoreShared, guint64 addr)
{
    guint8 l = strlen(id);

    g_byte_array_append(a, &l, 1);
    g_byte_array_append(a, (const guint8 *)id, l);
    putBE64(a, size);
    if (ignoreShared)
        putBE64(a, addr);
}


/* QEVM v3, a configuration section, the RAM section's setup */
static GByteArray *
makeStream(gboolean ignoreShared, guint64 totalDelta)
{
    GByteArray *a = g_byte_array_new();
    static const guint8 config[] = { 0x07, 0, 0, 0, 4, 'p', 'c', '-', 'x',
                                     0x01, 0x02, 'r', 'a' };  /* noise */
    guint8 start = 0x01;
    guint8 three = 3;

    putBE32(a, 0x5145564d);
    putBE32(a, 3);
    g_byte_array_append(a, config, sizeof(config));
    g_byte_array_append(a, &start, 1);
    putBE32(a, 2);                       /* section id */
    g_byte_array_append(a, &three, 1);
    g_byte_array_append(a, (const guint8 *)"ram", 3);
    putBE32(a, 0);                       /* instance */
    putBE32(a, 4);                       /* version */
    putBE64(a, ((256 * MIB + 256 * 1024) + totalDelta) | 0x04);
    putBlock(a, "pc.ram", 256 * MIB, ignoreShared, 0);
    putBlock(a, "pc.bios", 256 * 1024, ignoreShared, 0xfffc0000);
    putBE64(a, 0x10);                    /* EOS */
    return a;
}


static void
testParse(gconstpointer data)
{
    gboolean ignoreShared = GPOINTER_TO_INT(data);
    g_autoptr(GByteArray) a = makeStream(ignoreShared, 0);
    g_autoptr(cloneVMStateRAM) ram = cloneVMStateParseRAM(a->data, a->len);
    const cloneVMStateBlock *b;

    g_assert_nonnull(ram);
    g_assert_cmpuint(ram->total, ==, 256 * MIB + 256 * 1024);
    g_assert_cmpint(ram->ignoreShared, ==, ignoreShared);
    g_assert_cmpuint(ram->blocks->len, ==, 2);
    b = g_ptr_array_index(ram->blocks, 0);
    g_assert_cmpstr(b->id, ==, "pc.ram");
    g_assert_cmpuint(b->size, ==, 256 * MIB);
    b = g_ptr_array_index(ram->blocks, 1);
    g_assert_cmpstr(b->id, ==, "pc.bios");
}


static void
testRename(void)
{
    g_autoptr(GByteArray) a = makeStream(TRUE, 0);
    g_autoptr(GBytes) out = cloneVMStateRenameRAM(a->data, a->len, "pc.ram", 256 * MIB,
                                                  CLONE_VMSTATE_RAM_ID);
    g_autoptr(cloneVMStateRAM) ram = NULL;
    gsize len;
    const guint8 *p;

    g_assert_nonnull(out);
    p = g_bytes_get_data(out, &len);
    g_assert_cmpuint(len, ==, a->len - strlen("pc.ram") + strlen(CLONE_VMSTATE_RAM_ID));
    ram = cloneVMStateParseRAM(p, len);
    g_assert_nonnull(ram);
    g_assert_cmpstr(((cloneVMStateBlock *)g_ptr_array_index(ram->blocks, 0))->id, ==,
                    CLONE_VMSTATE_RAM_ID);
    g_assert_cmpstr(((cloneVMStateBlock *)g_ptr_array_index(ram->blocks, 1))->id, ==, "pc.bios");
    /* what follows the list is untouched */
    g_assert_cmpmem(p + len - 8, 8, a->data + a->len - 8, 8);
}


static void
expectError(const char *substring)
{
    virCloneErrorPtr err = virCloneGetLastError();

    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, VIR_CLONE_ERR_MIGRATION);
    if (!strstr(err->message, substring))
        g_error("error '%s' lacks '%s'", err->message, substring);
    virCloneResetLastError();
}


static void
testRefusals(void)
{
    g_autoptr(GByteArray) a = makeStream(TRUE, 0);
    g_autoptr(GByteArray) off = makeStream(TRUE, 4096);
    guint8 bad[8] = { 'Q', 'E', 'V', 'X', 0, 0, 0, 3 };

    g_assert_null(cloneVMStateParseRAM(bad, sizeof(bad)));
    expectError("not a QEMU migration stream");
    /* the blocks do not add up to the total */
    g_assert_null(cloneVMStateParseRAM(off->data, off->len));
    expectError("adds up");
    /* cut inside the list */
    g_assert_null(cloneVMStateParseRAM(a->data, a->len - 20));
    expectError("adds up");
    g_assert_null(cloneVMStateRenameRAM(a->data, a->len, "pc.ram", 128 * MIB, "clone.ram"));
    expectError("has 268435456 bytes, not 134217728");
    g_assert_null(cloneVMStateRenameRAM(a->data, a->len, "mach-virt.ram", 256 * MIB, "clone.ram"));
    expectError("no RAM block 'mach-virt.ram'");
    g_assert_null(cloneVMStateRenameRAM(a->data, a->len, "pc.ram", 256 * MIB, "pc.bios"));
    expectError("already has a RAM block named 'pc.bios'");
}


/* ---- a real QEMU ------------------------------------------------------ */

typedef struct {
    GPid pid;
    GSocketConnection *conn;
    GDataInputStream *in;
} Qemu;

static JsonObject *
qmpRead(Qemu *q)
{
    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autofree char *line = g_data_input_stream_read_line(q->in, NULL, NULL, &err);
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *o;

        if (!line)
            return NULL;        /* QEMU went away */
        g_assert_true(json_parser_load_from_data(parser, line, -1, NULL));
        o = json_node_get_object(json_parser_get_root(parser));
        if (json_object_has_member(o, "event"))
            continue;
        return json_object_ref(o);
    }
}


/* @cmd's "return", or NULL for an error (its "desc" in @desc) */
static JsonNode *qmpTry(Qemu *q, int fd, char **desc, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static JsonNode *
qmpTry(Qemu *q, int fd, char **desc, const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    g_autoptr(JsonObject) reply = NULL;
    g_autoptr(GError) err = NULL;
    va_list ap;
    GOutputVector v;
    GSocket *sock = g_socket_connection_get_socket(q->conn);
    g_autoptr(GSocketControlMessage) fdmsg = NULL;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    v.buffer = cmd;
    v.size = strlen(cmd);
    if (fd >= 0) {
        fdmsg = g_unix_fd_message_new();
        g_assert_true(g_unix_fd_message_append_fd(G_UNIX_FD_MESSAGE(fdmsg), fd, &err));
    }
    if (g_socket_send_message(sock, NULL, &v, 1, fdmsg ? &fdmsg : NULL,
                              fdmsg ? 1 : 0, 0, NULL, &err) != (gssize)v.size ||
        !(reply = qmpRead(q))) {
        if (desc)
            *desc = g_strdup("QEMU closed its monitor");
        return NULL;
    }
    if (json_object_has_member(reply, "error")) {
        if (desc)
            *desc = g_strdup(json_object_get_string_member(json_object_get_object_member(reply, "error"),
                                                           "desc"));
        return NULL;
    }
    return json_node_copy(json_object_get_member(reply, "return"));
}


#define qmp(q, fd, ...) \
    G_STMT_START { \
        g_autofree char *_desc = NULL; \
        g_autoptr(JsonNode) _r = qmpTry(q, fd, &_desc, __VA_ARGS__); \
        if (!_r) \
            g_error("QMP %s: %s", #__VA_ARGS__, _desc); \
    } G_STMT_END

static void
qemuStart(Qemu *q, const char *dir, const char *name, const char *const *extra)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *sock = g_build_filename(dir, name, NULL);
    g_autofree char *qmpArg = g_strdup_printf("unix:%s,server=on,wait=off", sock);
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(sock);
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonObject) greeting = NULL;
    guint i;

    g_ptr_array_add(argv, g_strdup("qemu-system-x86_64"));
    for (const char *const *a = (const char *const[]){ "-nodefaults", "-display", "none",
                                                        "-accel", "tcg", "-m", "32M", NULL }; *a; a++)
        g_ptr_array_add(argv, g_strdup(*a));
    for (i = 0; extra[i]; i++)
        g_ptr_array_add(argv, g_strdup(extra[i]));
    g_ptr_array_add(argv, g_strdup("-qmp"));
    g_ptr_array_add(argv, g_steal_pointer(&qmpArg));
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_async(NULL, (char **)argv->pdata, NULL,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL,
                                NULL, NULL, &q->pid, &err));
    g_assert_no_error(err);
    for (i = 0; i < 200 && !q->conn; i++) {
        g_clear_error(&err);
        if (!(q->conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &err)))
            g_usleep(50000);
    }
    g_assert_nonnull(q->conn);
    q->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(q->conn)));
    greeting = qmpRead(q);
    g_assert_true(json_object_has_member(greeting, "QMP"));
    qmp(q, -1, "{\"execute\":\"qmp_capabilities\"}");
}


static void
qemuStop(Qemu *q)
{
    int status;

    if (!q->pid)
        return;
    kill(q->pid, SIGKILL);
    waitpid(q->pid, &status, 0);
    g_spawn_close_pid(q->pid);
    q->pid = 0;
    g_clear_object(&q->in);
    g_clear_object(&q->conn);
}


static char *
qemuMigrationStatus(Qemu *q, gboolean wait)
{
    for (guint i = 0; i < 600; i++) {
        g_autoptr(JsonNode) r = qmpTry(q, -1, NULL, "{\"execute\":\"query-migrate\"}");
        const char *s;

        if (!r)
            return g_strdup("gone");   /* a failed incoming migration ends QEMU */
        s = json_object_get_string_member_with_default(json_node_get_object(r), "status", "");
        if (!wait || g_str_equal(s, "completed") || g_str_equal(s, "failed"))
            return g_strdup(s);
        g_usleep(20000);
    }
    return g_strdup("timeout");
}


static guint32
qemuReadWord(Qemu *q, guint64 gpa)
{
    g_autoptr(JsonNode) r = qmpTry(q, -1, NULL,
                                   "{\"execute\":\"human-monitor-command\","
                                   "\"arguments\":{\"command-line\":\"xp /1xw 0x%llx\"}}",
                                   (unsigned long long)gpa);
    const char *out = json_node_get_string(r);
    const char *colon = strchr(out, ':');

    g_assert_nonnull(colon);
    return (guint32)g_ascii_strtoull(colon + 1, NULL, 16);
}


static void
testRealQemu(void)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-x86_64");
    g_autofree char *dir = NULL;
    g_autofree char *ram = NULL;
    g_autofree char *statePath = NULL;
    g_autofree char *renamedPath = NULL;
    g_autofree char *tmplObj = NULL;
    g_autofree char *cloneObj = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *status = NULL;
    g_autofree guint8 *state = NULL;
    g_autoptr(GBytes) renamed = NULL;
    g_autoptr(GError) err = NULL;
    Qemu tmpl = { 0 };
    Qemu clone = { 0 };
    g_autoptr(GByteArray) saved = NULL;
    gsize len;
    int fd;
    int pfd[2];
    guint8 pattern[4] = { 0xef, 0xbe, 0xad, 0xde };   /* 0xdeadbeef */

    if (!qemu) {
        g_test_skip("no qemu-system-x86_64");
        return;
    }
    dir = g_dir_make_tmp("clonevmstate-XXXXXX", &err);
    g_assert_no_error(err);
    ram = g_build_filename(dir, "ram", NULL);
    statePath = g_build_filename(dir, "state", NULL);
    renamedPath = g_build_filename(dir, "state.clone", NULL);

    /* the template: shared file-backed RAM named as libvirt names it */
    tmplObj = g_strdup_printf("memory-backend-file,id=pc.ram,size=32M,mem-path=%s,share=on,"
                              "x-use-canonical-path-for-ramblock-id=off", ram);
    qemuStart(&tmpl, dir, "tmpl.sock",
              (const char *const[]){ "-object", tmplObj, "-machine", "pc,memory-backend=pc.ram",
                                     "-S", NULL });
    fd = open(ram, O_WRONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, pattern, sizeof(pattern), 0x100000), ==, sizeof(pattern));
    close(fd);
    g_assert_cmphex(qemuReadWord(&tmpl, 0x100000), ==, 0xdeadbeef);

    qmp(&tmpl, -1, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
        "[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}");
    /* a pipe, as the library saves it (fd: on a regular file is deprecated) */
    g_assert_no_errno(pipe2(pfd, O_CLOEXEC));
    qmp(&tmpl, pfd[1], "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"state\"}}");
    close(pfd[1]);
    qmp(&tmpl, -1, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:state\"}}");
    saved = g_byte_array_new();
    for (;;) {
        guint8 buf[65536];
        ssize_t n = read(pfd[0], buf, sizeof(buf));

        g_assert_cmpint(n, >=, 0);
        if (n == 0)
            break;
        g_byte_array_append(saved, buf, n);
    }
    close(pfd[0]);
    status = qemuMigrationStatus(&tmpl, TRUE);
    g_assert_cmpstr(status, ==, "completed");
    qemuStop(&tmpl);
    g_assert_true(g_file_set_contents(statePath, (char *)saved->data, saved->len, &err));

    g_assert_true(g_file_get_contents(statePath, (char **)&state, &len, &err));
    /* x-ignore-shared: the 32 MiB are not in the stream */
    g_assert_cmpuint(len, <, 8 * MIB);
    renamed = cloneVMStateRenameRAM(state, len, "pc.ram", 32 * MIB, CLONE_VMSTATE_RAM_ID);
    g_assert_nonnull(renamed);
    g_assert_true(g_file_set_contents(renamedPath, g_bytes_get_data(renamed, NULL),
                                      g_bytes_get_size(renamed), &err));
    before = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "", 0);
    {
        g_autofree char *data = NULL;
        gsize n;

        g_assert_true(g_file_get_contents(ram, &data, &n, NULL));
        g_free(before);
        before = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guint8 *)data, n);
    }

    /* a clone: libvirt's pc.ram stays, unused; the file mapped privately */
    cloneObj = g_strdup_printf("memory-backend-file,id=%s,size=32M,mem-path=%s,share=off,"
                               "x-use-canonical-path-for-ramblock-id=off", CLONE_VMSTATE_RAM_ID, ram);
    for (guint pass = 0; pass < 2; pass++) {
        const char *load = pass == 0 ? statePath : renamedPath;
        g_autofree char *data = NULL;
        gsize n;
        g_autofree char *machine = g_strdup_printf("pc,memory-backend=%s", CLONE_VMSTATE_RAM_ID);

        qemuStart(&clone, dir, "clone.sock",
                  (const char *const[]){ "-object", "memory-backend-ram,id=pc.ram,size=32M",
                                         "-object", cloneObj, "-machine", machine,
                                         "-incoming", "defer", NULL });
        qmp(&clone, -1, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
            "[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}");
        g_assert_true(g_file_get_contents(load, &data, &n, &err));
        g_assert_no_errno(pipe2(pfd, O_CLOEXEC));
        qmp(&clone, pfd[0], "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"state\"}}");
        close(pfd[0]);
        qmp(&clone, -1, "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"fd:state\"}}");
        for (gsize off = 0; off < n;) {
            ssize_t w = write(pfd[1], data + off, n - off);

            if (w < 0 && errno == EPIPE)
                break;          /* QEMU refused the stream and is gone */
            g_assert_cmpint(w, >, 0);
            off += w;
        }
        close(pfd[1]);
        g_free(status);
        status = qemuMigrationStatus(&clone, TRUE);
        if (pass == 0) {
            /* the stream as saved names a block this QEMU does not have:
             * the load fails and QEMU exits */
            if (!g_str_equal(status, "failed"))
                g_assert_cmpstr(status, ==, "gone");
            qemuStop(&clone);
            continue;
        }
        g_assert_cmpstr(status, ==, "completed");
        g_assert_cmphex(qemuReadWord(&clone, 0x100000), ==, 0xdeadbeef);
        /* the firmware runs and writes its RAM: privately */
        qmp(&clone, -1, "{\"execute\":\"cont\"}");
        g_usleep(G_USEC_PER_SEC / 2);
        /* SeaBIOS's equipment word in the BIOS data area */
        g_assert_cmphex(qemuReadWord(&clone, 0x410) & 0xffff, !=, 0);
        qemuStop(&clone);
    }
    {
        g_autofree char *data = NULL;
        gsize n;

        g_assert_true(g_file_get_contents(ram, &data, &n, NULL));
        after = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guint8 *)data, n);
        g_assert_cmphex(data[0x410] | data[0x411], ==, 0);
    }
    g_assert_cmpstr(before, ==, after);
    g_assert_no_errno(unlink(ram));
    g_assert_no_errno(unlink(statePath));
    g_assert_no_errno(unlink(renamedPath));
    for (const char *const *sock = (const char *const[]){ "tmpl.sock", "clone.sock", NULL }; *sock; sock++) {
        g_autofree char *path = g_build_filename(dir, *sock, NULL);

        g_assert_no_errno(unlink(path));
    }
    g_assert_no_errno(rmdir(dir));
}


int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/vmstate/parse/ignore-shared", GINT_TO_POINTER(TRUE), testParse);
    g_test_add_data_func("/vmstate/parse/plain", GINT_TO_POINTER(FALSE), testParse);
    g_test_add_func("/vmstate/rename", testRename);
    g_test_add_func("/vmstate/refusals", testRefusals);
    g_test_add_func("/vmstate/real-qemu", testRealQemu);
    return g_test_run();
}
