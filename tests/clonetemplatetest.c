/*
 * clonetemplatetest.c: templates without a guest: names, records, locks,
 * and what a template cannot hold (src/clone/clone_template.c)
 *
 * A source with virtio-fs or vhost-user cannot run on this machine (no
 * virtiofsd, no vhost-user backend), so their refusal is checked here on
 * the domain XML, which is what the library reads; the refusals a real
 * guest can show (no space) are in tests/test-template.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "clone_template.h"

static void
testExpectError(int code, const char *part)
{
    virCloneErrorPtr err = virCloneGetLastError();

    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, code);
    if (part && !strstr(err->message, part))
        g_error("'%s' is not in '%s'", part, err->message);
    virCloneResetLastError();
}


static void
testNames(void)
{
    static const char *const good[] = { "a", "web-t", "t_1.2+3", NULL };
    static const char *const bad[] = { "", ".hidden", "-x", "a/b", "a b", "ä", NULL };
    g_autofree char *longName = g_strnfill(65, 'x');

    for (guint i = 0; good[i]; i++)
        g_assert_cmpint(cloneTemplateNameCheck(good[i]), ==, 0);
    for (guint i = 0; bad[i]; i++) {
        g_assert_cmpint(cloneTemplateNameCheck(bad[i]), ==, -1);
        testExpectError(VIR_CLONE_ERR_INVALID_ARG, "invalid template name");
    }
    g_assert_cmpint(cloneTemplateNameCheck(longName), ==, -1);
    testExpectError(VIR_CLONE_ERR_INVALID_ARG, "1 to 64");
}


static void
testRecords(void)
{
    g_autofree char *runDir = g_dir_make_tmp("clonetemplate-XXXXXX", NULL);
    g_autoptr(cloneTemplateRec) rec = g_new0(cloneTemplateRec, 1);
    g_autoptr(cloneTemplateRec) back = NULL;
    g_auto(GStrv) names = NULL;
    g_autofree char *ram = NULL;
    int fd;

    rec->name = g_strdup("t1");
    rec->state = CLONE_TEMPLATE_READY;
    rec->dir = g_build_filename(runDir, "templates", "t1", NULL);
    rec->srcName = g_strdup("web");
    rec->srcUUID = g_strdup("4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
    rec->created = 1764700000;
    rec->memory = 512ULL << 20;
    rec->ramBlock = g_strdup("pc.ram");
    rec->sharing = FALSE;
    rec->autoDelete = TRUE;
    rec->xml = g_strdup("<domain type='qemu'><name>web</name></domain>");

    /* nothing yet: 0, no error */
    g_assert_cmpint(cloneTemplateRecLoad(runDir, "t1", &back), ==, 0);
    g_assert_null(virCloneGetLastError());

    fd = cloneTemplateLock(runDir, "t1", LOCK_EX, 0);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(cloneTemplateRecSave(runDir, rec), ==, 0);
    g_assert_cmpint(cloneTemplateRecLoad(runDir, "t1", &back), ==, 1);
    g_assert_cmpstr(back->dir, ==, rec->dir);
    g_assert_cmpstr(back->srcUUID, ==, rec->srcUUID);
    g_assert_cmpint(back->state, ==, CLONE_TEMPLATE_READY);
    g_assert_cmpuint(back->memory, ==, rec->memory);
    g_assert_false(back->sharing);
    g_assert_true(back->autoDelete);
    g_assert_cmpstr(back->xml, ==, rec->xml);

    /* held exclusively: neither shared nor exclusive is had without waiting */
    g_assert_cmpint(cloneTemplateLock(runDir, "t1", LOCK_SH, 0), ==, -1);
    testExpectError(VIR_CLONE_ERR_BUSY, "being made or deleted");
    g_assert_cmpint(cloneTemplateLock(runDir, "t1", LOCK_EX, 1), ==, -1);
    testExpectError(VIR_CLONE_ERR_TIMEOUT, "t1.lock");
    close(fd);
    /* shared: two at once */
    fd = cloneTemplateLock(runDir, "t1", LOCK_SH, 0);
    g_assert_cmpint(fd, >=, 0);
    {
        int fd2 = cloneTemplateLock(runDir, "t1", LOCK_SH, 0);

        g_assert_cmpint(fd2, >=, 0);
        close(fd2);
    }
    close(fd);

    names = cloneTemplateRecNames(runDir);
    g_assert_cmpuint(g_strv_length(names), ==, 1);
    g_assert_cmpstr(names[0], ==, "t1");

    /* its files and record go; the directory is searchable by the QEMU user */
    g_assert_no_errno(g_mkdir(rec->dir, 0711));
    ram = cloneTemplateRamPath(rec);
    g_assert_true(g_file_set_contents(ram, "x", 1, NULL));
    {
        GStatBuf st;

        g_assert_no_errno(g_stat(runDir, &st));
        g_assert_cmpint(st.st_mode & 0011, ==, 0011);
    }
    cloneTemplateRecRemove(runDir, rec);
    g_assert_false(g_file_test(rec->dir, G_FILE_TEST_EXISTS));
    g_clear_pointer(&back, cloneTemplateRecFree);
    g_assert_cmpint(cloneTemplateRecLoad(runDir, "t1", &back), ==, 0);
    {
        g_autofree char *tdir = g_build_filename(runDir, "templates", NULL);

        g_assert_no_errno(g_rmdir(tdir));
        g_assert_no_errno(g_rmdir(runDir));
    }
}


static void
testDamagedRecord(void)
{
    g_autofree char *runDir = g_dir_make_tmp("clonetemplate-XXXXXX", NULL);
    g_autofree char *tdir = g_build_filename(runDir, "templates", NULL);
    g_autofree char *path = g_build_filename(tdir, "t2.json", NULL);
    cloneTemplateRec *rec = NULL;

    g_assert_no_errno(g_mkdir(tdir, 0711));
    /* a record that names another template, or a relative directory */
    g_assert_true(g_file_set_contents(path, "{\"name\":\"t3\",\"state\":\"ready\",\"directory\":\"/x\"}",
                                      -1, NULL));
    g_assert_cmpint(cloneTemplateRecLoad(runDir, "t2", &rec), ==, -1);
    testExpectError(VIR_CLONE_ERR_SYSTEM, "damaged");
    g_assert_true(g_file_set_contents(path, "{\"name\":\"t2\",\"state\":\"ready\",\"directory\":\"x\"}",
                                      -1, NULL));
    g_assert_cmpint(cloneTemplateRecLoad(runDir, "t2", &rec), ==, -1);
    testExpectError(VIR_CLONE_ERR_SYSTEM, "damaged");
    g_assert_true(g_file_set_contents(path, "not json", -1, NULL));
    g_assert_cmpint(cloneTemplateRecLoad(runDir, "t2", &rec), ==, -1);
    testExpectError(VIR_CLONE_ERR_SYSTEM, "cannot read the template record");
    g_assert_null(rec);
    g_assert_no_errno(g_unlink(path));
    g_assert_no_errno(g_rmdir(tdir));
    g_assert_no_errno(g_rmdir(runDir));
}


typedef struct {
    const char *xml;          /* inside <domain> */
    const char *reason;       /* NULL: accepted */
} testMemoryCase;

static void
testMemory(gconstpointer data)
{
    const testMemoryCase *tc = data;
    g_autofree char *xml = g_strdup_printf("<domain type='qemu'><name>src</name>"
                                           "<memory unit='KiB'>524288</memory>%s</domain>", tc->xml);
    int rc = cloneTemplateCheckMemoryXML("src", xml);

    if (!tc->reason) {
        g_assert_cmpint(rc, ==, 0);
        return;
    }
    g_assert_cmpint(rc, ==, -1);
    testExpectError(VIR_CLONE_ERR_UNSUPPORTED, tc->reason);
}


static const testMemoryCase memPlain = {
    "<devices><interface type='network'><source network='default'/></interface></devices>", NULL,
};
static const testMemoryCase memVirtiofs = {
    "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
    "<devices><filesystem type='mount'><driver type='virtiofs'/><source dir='/srv'/>"
    "<target dir='srv'/></filesystem></devices>",
    "virtio-fs needs RAM shared with virtiofsd",
};
static const testMemoryCase memVhostUser = {
    "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
    "<devices><interface type='vhostuser'><source type='unix' path='/run/vu.sock' mode='client'/>"
    "<model type='virtio'/></interface></devices>",
    "vhost-user interface needs RAM shared with its backend",
};
static const testMemoryCase memHugepages = {
    "<memoryBacking><hugepages/></memoryBacking>", "<memoryBacking>",
};
static const testMemoryCase memNuma = {
    "<cpu><numa><cell id='0' cpus='0' memory='524288' unit='KiB'/></numa></cpu>", "NUMA cells",
};
static const testMemoryCase memHotplug = {
    "<maxMemory slots='4' unit='KiB'>4194304</maxMemory>", "memory hotplug",
};
static const testMemoryCase memDimm = {
    "<devices><memory model='dimm'><target><size unit='KiB'>131072</size><node>0</node></target></memory></devices>",
    "memory devices",
};


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/template/names", testNames);
    g_test_add_func("/template/records-and-locks", testRecords);
    g_test_add_func("/template/damaged-record", testDamagedRecord);
    g_test_add_data_func("/template/memory/plain", &memPlain, testMemory);
    g_test_add_data_func("/template/memory/virtiofs", &memVirtiofs, testMemory);
    g_test_add_data_func("/template/memory/vhost-user", &memVhostUser, testMemory);
    g_test_add_data_func("/template/memory/hugepages", &memHugepages, testMemory);
    g_test_add_data_func("/template/memory/numa", &memNuma, testMemory);
    g_test_add_data_func("/template/memory/hotplug", &memHotplug, testMemory);
    g_test_add_data_func("/template/memory/dimm", &memDimm, testMemory);
    return g_test_run();
}
