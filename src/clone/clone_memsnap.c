/*
 * clone_memsnap.c: all of a domain's RAM at one instant, through a
 * background snapshot
 *
 * QEMU's background-snapshot migration pauses the guest only to save the
 * device state and write-protect RAM (userfaultfd), resumes it, then sends
 * every page once as it was at that instant: a page the guest writes is
 * sent before the write goes through.  The stream goes into a pipe whose
 * other end is read here (QMP getfd, "migrate" to fd:NAME): nothing on the
 * file system, nobody else can read it.  Of the stream only the RAM
 * section is read (savevm.c, ram.c): its list of blocks, then page records
 * (block, offset, flags; a zero byte or the page's bytes) in its PART
 * sections.  A background snapshot appends the device state it saved at
 * the instant once every page is sent (QEMU 10 sends no END section for
 * RAM then): its first section ends the RAM, and the rest is read and
 * dropped.  A page goes
 * to the guest-physical address where QEMU maps its block (info ramblock
 * host addresses, against the layout of cloneMemoryOpen()).
 *
 * The source's job lock keeps a clone job out meanwhile, and its migration
 * settings are restored afterwards, as a clone job does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_memsnap.h"
#include "clone_jobrec.h"
#include "clone_migparams.h"
#include "clone_qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define CLONE_MEMSNAP_FD "libvirt-clone-memsnap"
#define QEMU_VM_FILE_MAGIC 0x5145564dU   /* "QEVM" */
#define QEMU_VM_FILE_VERSION 3U
#define QEMU_VM_EOF 0x00
#define QEMU_VM_SECTION_START 0x01
#define QEMU_VM_SECTION_PART 0x02
#define QEMU_VM_SECTION_END 0x03
#define QEMU_VM_SECTION_FULL 0x04
#define QEMU_VM_SUBSECTION 0x05
#define QEMU_VM_CONFIGURATION 0x07
#define QEMU_VM_SECTION_FOOTER 0x7e
#define RAM_SAVE_FLAG_ZERO 0x02
#define RAM_SAVE_FLAG_MEM_SIZE 0x04
#define RAM_SAVE_FLAG_PAGE 0x08
#define RAM_SAVE_FLAG_EOS 0x10
#define RAM_SAVE_FLAG_CONTINUE 0x20
#define RAM_SAVE_FLAG_MULTIFD_FLUSH 0x200
#define RAM_FLAGS_MASK 0xfffULL
#define CLONE_MEMSNAP_PAGE 4096u
/* "unlimited": QEMU's default max-bandwidth is 128 MiB/s */
#define CLONE_MEMSNAP_BANDWIDTH (G_GUINT64_CONSTANT(1) << 40)

typedef struct {
    int fd;
    guint8 buf[65536];
    size_t pos, len;
    const char *domName;
} cloneSnapReader;

typedef struct {
    char *id;
    guint64 size;
    guint64 hva;                /* 0: unknown */
} cloneSnapBlock;


static void
cloneSnapBlockFree(gpointer p)
{
    cloneSnapBlock *b = p;

    g_free(b->id);
    g_free(b);
}


static int
cloneSnapFill(cloneSnapReader *r)
{
    ssize_t n;

    if (r->pos < r->len)
        return 0;
    do {
        n = read(r->fd, r->buf, sizeof(r->buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        virCloneReportSystemError(errno, _("cannot read the memory snapshot of domain '%1$s'"),
                                  r->domName);
        return -1;
    }
    if (n == 0) {
        virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                            _("the memory snapshot of domain '%1$s' ended before its RAM did"),
                            r->domName);
        return -1;
    }
    r->pos = 0;
    r->len = (size_t)n;
    return 0;
}


static int
cloneSnapRead(cloneSnapReader *r, void *out, size_t len)
{
    guint8 *o = out;

    while (len > 0) {
        size_t n;

        if (cloneSnapFill(r) < 0)
            return -1;
        n = MIN(len, r->len - r->pos);
        if (o) {
            memcpy(o, r->buf + r->pos, n);
            o += n;
        }
        r->pos += n;
        len -= n;
    }
    return 0;
}


static int
cloneSnapPeek(cloneSnapReader *r, guint8 *b)
{
    if (cloneSnapFill(r) < 0)
        return -1;
    *b = r->buf[r->pos];
    return 0;
}


static int
cloneSnapU8(cloneSnapReader *r, guint8 *v)
{
    return cloneSnapRead(r, v, 1);
}


static int
cloneSnapBE32(cloneSnapReader *r, guint32 *v)
{
    guint8 b[4];

    if (cloneSnapRead(r, b, 4) < 0)
        return -1;
    *v = ((guint32)b[0] << 24) | ((guint32)b[1] << 16) | ((guint32)b[2] << 8) | b[3];
    return 0;
}


static int
cloneSnapBE64(cloneSnapReader *r, guint64 *v)
{
    guint32 hi, lo;

    if (cloneSnapBE32(r, &hi) < 0 || cloneSnapBE32(r, &lo) < 0)
        return -1;
    *v = ((guint64)hi << 32) | lo;
    return 0;
}


/* a string with its length byte before it */
static int
cloneSnapIdstr(cloneSnapReader *r, char out[256])
{
    guint8 len;

    if (cloneSnapU8(r, &len) < 0 || cloneSnapRead(r, out, len) < 0)
        return -1;
    out[len] = '\0';
    return 0;
}


static int
cloneSnapBad(cloneSnapReader *r, const char *what)
{
    virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                        _("unexpected memory snapshot of domain '%1$s': %2$s"),
                        r->domName, what);
    return -1;
}


/* The configuration section (savevm.c: vmstate_configuration): the machine
 * type, then its subsections. */
static int
cloneSnapConfiguration(cloneSnapReader *r)
{
    guint32 len;
    guint8 next;

    if (cloneSnapBE32(r, &len) < 0 || cloneSnapRead(r, NULL, len) < 0)
        return -1;
    for (;;) {
        char name[256];
        guint32 version, n;

        if (cloneSnapPeek(r, &next) < 0)
            return -1;
        if (next != QEMU_VM_SUBSECTION)
            return 0;
        if (cloneSnapU8(r, &next) < 0 || cloneSnapIdstr(r, name) < 0 ||
            cloneSnapBE32(r, &version) < 0)
            return -1;
        if (g_str_equal(name, "configuration/target-page-bits")) {
            if (cloneSnapBE32(r, &n) < 0)
                return -1;
            if (n != 12)
                return cloneSnapBad(r, "target page size is not 4 KiB");
        } else if (g_str_equal(name, "configuration/capabilities")) {
            if (cloneSnapBE32(r, &n) < 0)
                return -1;
            for (guint32 i = 0; i < n; i++) {
                char cap[256];

                if (cloneSnapIdstr(r, cap) < 0)
                    return -1;
            }
        } else if (g_str_equal(name, "configuration/uuid")) {
            if (cloneSnapRead(r, NULL, 16) < 0)
                return -1;
        } else {
            return cloneSnapBad(r, name);
        }
    }
}


static int
cloneSnapFooter(cloneSnapReader *r, guint32 sectionId)
{
    guint8 b;
    guint32 id;

    if (cloneSnapPeek(r, &b) < 0)
        return -1;
    if (b != QEMU_VM_SECTION_FOOTER)
        return 0;
    if (cloneSnapU8(r, &b) < 0 || cloneSnapBE32(r, &id) < 0)
        return -1;
    if (id != sectionId)
        return cloneSnapBad(r, "section footer of another section");
    return 0;
}


/* ram_save_setup(): the total, then each block's name and size */
static int
cloneSnapRamSetup(cloneSnapReader *r, GPtrArray *blocks)
{
    guint64 total, sum = 0, eos;

    if (cloneSnapBE64(r, &total) < 0)
        return -1;
    if (!(total & RAM_SAVE_FLAG_MEM_SIZE))
        return cloneSnapBad(r, "no RAM size");
    total &= ~RAM_FLAGS_MASK;
    while (sum < total) {
        cloneSnapBlock *b = g_new0(cloneSnapBlock, 1);
        char id[256];

        g_ptr_array_add(blocks, b);
        if (cloneSnapIdstr(r, id) < 0 || cloneSnapBE64(r, &b->size) < 0)
            return -1;
        b->id = g_strdup(id);
        if (b->size == 0 || b->size > total - sum)
            return cloneSnapBad(r, "RAM blocks do not add up");
        sum += b->size;
    }
    if (cloneSnapBE64(r, &eos) < 0)
        return -1;
    if (eos & RAM_SAVE_FLAG_MULTIFD_FLUSH && cloneSnapBE64(r, &eos) < 0)
        return -1;
    if (!(eos & RAM_SAVE_FLAG_EOS))
        return cloneSnapBad(r, "no end of the RAM setup");
    return 0;
}


/* The RAM blocks' host addresses ("info ramblock"), asked before the
 * snapshot starts: while it runs, QEMU's migration thread may hold the
 * big lock waiting for the pipe, so a monitor command then would wait for
 * a reader that waits for it.  A QEMU whose "info ramblock" has no host
 * addresses (before 8.0) gives them through the layout @m read with
 * "gpa2hva": a block named after each mapped region, at the address of
 * the region's offset 0. */
static GPtrArray *
cloneMemSnapBlockAddrs(virDomainPtr dom, cloneMemory *m)
{
    g_autofree char *text = NULL;
    GPtrArray *rb;

    if (cloneMemoryHmp(dom, "info ramblock", &text) < 0)
        return NULL;
    if ((rb = cloneMemoryParseRamblock(text)))
        return rb;
    rb = g_ptr_array_new_with_free_func((GDestroyNotify)cloneMemoryBlockFree);
    for (size_t i = 0; i < cloneMemoryRangeCount(m); i++) {
        const cloneMemoryRange *r = cloneMemoryRangeGet(m, i);
        cloneMemoryBlock *b;

        if (!r->hva || r->hva < r->regionOffset)
            continue;
        b = g_new0(cloneMemoryBlock, 1);
        b->name = g_strdup(r->region);
        b->hva = r->hva - r->regionOffset;
        g_ptr_array_add(rb, b);
    }
    return rb;
}


/* Each block of the stream at its host address: the block of that name,
 * else the region of that name inside a device's block ("DEVICE/REGION",
 * when the names are the regions'). */
static void
cloneMemSnapResolveBlocks(GPtrArray *addrs, GPtrArray *blocks)
{
    for (guint i = 0; i < blocks->len; i++) {
        cloneSnapBlock *b = g_ptr_array_index(blocks, i);
        const char *slash = strrchr(b->id, '/');

        for (guint j = 0; j < addrs->len && !b->hva; j++) {
            const cloneMemoryBlock *x = g_ptr_array_index(addrs, j);

            if (g_str_equal(x->name, b->id))
                b->hva = x->hva;
        }
        for (guint j = 0; j < addrs->len && !b->hva && slash; j++) {
            const cloneMemoryBlock *x = g_ptr_array_index(addrs, j);

            if (g_str_equal(x->name, slash + 1))
                b->hva = x->hva;
        }
    }
}


/* Passes the page at host address @hva to @page at every guest-physical
 * address that maps it (the BIOS is at the top of 4 GiB and, in part,
 * below 1 MiB); none for a block that is not mapped (firmware tables). */
static int
cloneSnapDeliver(cloneMemory *m, guint64 hva, const guint8 *data, size_t len,
                 cloneMemSnapPageFunc page, void *opaque)
{
    for (size_t i = 0; i < cloneMemoryRangeCount(m); i++) {
        const cloneMemoryRange *x = cloneMemoryRangeGet(m, i);

        if (hva >= x->hva && hva - x->hva < x->size &&
            page(opaque, x->gpa + (hva - x->hva), data, len) < 0)
            return -1;
    }
    return 0;
}


/* Page records of one PART or END section, up to its EOS. */
static int
cloneSnapPages(cloneSnapReader *r, cloneMemory *m, GPtrArray *blocks,
               cloneSnapBlock **cur, cloneMemSnapPageFunc page, void *opaque)
{
    guint8 data[CLONE_MEMSNAP_PAGE];

    for (;;) {
        guint64 v, flags, off;
        guint8 zero;

        if (cloneSnapBE64(r, &v) < 0)
            return -1;
        flags = v & RAM_FLAGS_MASK;
        off = v & ~RAM_FLAGS_MASK;
        if (flags & RAM_SAVE_FLAG_EOS)
            return 0;
        if (flags == RAM_SAVE_FLAG_MULTIFD_FLUSH)
            continue;
        if (!(flags & RAM_SAVE_FLAG_CONTINUE)) {
            char id[256];

            if (cloneSnapIdstr(r, id) < 0)
                return -1;
            *cur = NULL;
            for (guint i = 0; i < blocks->len; i++) {
                cloneSnapBlock *b = g_ptr_array_index(blocks, i);

                if (g_str_equal(b->id, id))
                    *cur = b;
            }
            if (!*cur)
                return cloneSnapBad(r, "page of an unknown RAM block");
        }
        if (!*cur)
            return cloneSnapBad(r, "page without a RAM block");
        flags &= ~(guint64)RAM_SAVE_FLAG_CONTINUE;
        if (flags == RAM_SAVE_FLAG_ZERO) {
            if (cloneSnapU8(r, &zero) < 0)
                return -1;
            if (zero != 0)
                return cloneSnapBad(r, "a filled page marked zero");
            /* the dump is a new sparse file: nothing to write */
        } else if (flags == RAM_SAVE_FLAG_PAGE) {
            if (cloneSnapRead(r, data, sizeof(data)) < 0)
                return -1;
            if ((*cur)->hva &&
                cloneSnapDeliver(m, (*cur)->hva + off, data, sizeof(data), page, opaque) < 0)
                return -1;
        } else {
            return cloneSnapBad(r, "unknown page flags");
        }
    }
}


/* The stream up to the END section of RAM. */
static int
cloneSnapParse(cloneSnapReader *r, GPtrArray *addrs, cloneMemory *m, GPtrArray *blocks,
               cloneMemSnapPageFunc page, void *opaque)
{
    guint32 magic, version, ramId = G_MAXUINT32;
    cloneSnapBlock *cur = NULL;

    if (cloneSnapBE32(r, &magic) < 0 || cloneSnapBE32(r, &version) < 0)
        return -1;
    if (magic != QEMU_VM_FILE_MAGIC || version != QEMU_VM_FILE_VERSION)
        return cloneSnapBad(r, "not a QEMU migration stream of version 3");
    for (;;) {
        guint8 type;
        guint32 id, instance, sectionVersion;
        char name[256];

        if (cloneSnapU8(r, &type) < 0)
            return -1;
        switch (type) {
        case QEMU_VM_CONFIGURATION:
            if (cloneSnapConfiguration(r) < 0)
                return -1;
            break;
        case QEMU_VM_SECTION_START:
            if (cloneSnapBE32(r, &id) < 0 || cloneSnapIdstr(r, name) < 0 ||
                cloneSnapBE32(r, &instance) < 0 || cloneSnapBE32(r, &sectionVersion) < 0)
                return -1;
            if (!g_str_equal(name, "ram") || ramId != G_MAXUINT32)
                return cloneSnapBad(r, name);
            ramId = id;
            if (cloneSnapRamSetup(r, blocks) < 0 || cloneSnapFooter(r, id) < 0)
                return -1;
            cloneMemSnapResolveBlocks(addrs, blocks);
            break;
        case QEMU_VM_SECTION_FULL:
        case QEMU_VM_EOF:
            /* the device state after all of RAM */
            if (ramId == G_MAXUINT32)
                return cloneSnapBad(r, "device state before RAM");
            return 0;
        case QEMU_VM_SECTION_PART:
        case QEMU_VM_SECTION_END:
            if (cloneSnapBE32(r, &id) < 0)
                return -1;
            if (id != ramId)
                return cloneSnapBad(r, "a section of another device before RAM ended");
            if (cloneSnapPages(r, m, blocks, &cur, page, opaque) < 0 ||
                cloneSnapFooter(r, id) < 0)
                return -1;
            if (type == QEMU_VM_SECTION_END)
                return 0;
            break;
        default:
            return cloneSnapBad(r, "unknown section type");
        }
    }
}


/* Drops the rest of the stream (the device state) until QEMU closes it. */
static void
cloneSnapDrain(int fd)
{
    char buf[65536];
    ssize_t n;

    do {
        n = read(fd, buf, sizeof(buf));
    } while (n > 0 || (n < 0 && errno == EINTR));
}


/* query-migrate's status */
static char *
cloneSnapStatus(virDomainPtr dom)
{
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *o;

    if (cloneQmpRun(dom, "query-migrate", NULL, &ret) < 0)
        return NULL;
    o = JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
    return g_strdup(o ? json_object_get_string_member_with_default(o, "status", "none") : "none");
}


static int
cloneSnapWaitDone(virDomainPtr dom)
{
    gint64 end = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;

    for (;;) {
        g_autofree char *st = cloneSnapStatus(dom);

        if (!st)
            return -1;
        if (g_str_equal(st, "completed"))
            return 0;
        if (g_str_equal(st, "failed") || g_str_equal(st, "cancelled")) {
            virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                                _("the memory snapshot of domain '%1$s' ended with status '%2$s'"),
                                virDomainGetName(dom), st);
            return -1;
        }
        if (g_get_monotonic_time() > end) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("the memory snapshot of domain '%1$s' did not complete"),
                                virDomainGetName(dom));
            return -1;
        }
        g_usleep(10 * G_TIME_SPAN_MILLISECOND);
    }
}


static int
cloneSnapRun(virDomainPtr dom, cloneMemory *m, cloneMemSnapPageFunc page, void *opaque)
{
    g_autoptr(JsonObject) caps = json_object_new();
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(JsonObject) getfd = json_object_new();
    g_autoptr(JsonObject) migrate = json_object_new();
    g_autoptr(GPtrArray) blocks = g_ptr_array_new_with_free_func(cloneSnapBlockFree);
    g_autoptr(GPtrArray) addrs = NULL;
    g_autoptr(cloneMigSettings) saved = NULL;
    g_autofree cloneSnapReader *r = g_new0(cloneSnapReader, 1);
    g_autofree char *st = NULL;
    int pipefd[2] = { -1, -1 };
    gboolean started = FALSE;
    int ret = -1;

    if (!(st = cloneSnapStatus(dom)))
        return -1;
    if (g_str_equal(st, "active") || g_str_equal(st, "setup") ||
        g_str_equal(st, "pre-switchover") || g_str_equal(st, "device")) {
        virCloneReportError(VIR_CLONE_ERR_BUSY,
                            _("a migration of domain '%1$s' is under way"), virDomainGetName(dom));
        return -1;
    }
    json_object_set_boolean_member(caps, "background-snapshot", TRUE);
    json_object_set_boolean_member(caps, "return-path", FALSE);
    json_object_set_boolean_member(caps, "pause-before-switchover", FALSE);
    json_object_set_int_member(params, "max-bandwidth", (gint64)CLONE_MEMSNAP_BANDWIDTH);
    if (!(addrs = cloneMemSnapBlockAddrs(dom, m)) || !(saved = cloneMigSettingsQuery(dom)))
        return -1;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        virCloneReportSystemError(errno, "%s", _("cannot create the memory snapshot's pipe"));
        return -1;
    }
    json_object_set_string_member(getfd, "fdname", CLONE_MEMSNAP_FD);
    json_object_set_string_member(migrate, "uri", "fd:" CLONE_MEMSNAP_FD);
    if (cloneMigSettingsApply(dom, caps, params) < 0 ||
        cloneQmpRunWithFd(dom, "getfd", getfd, pipefd[1]) < 0)
        goto cleanup;
    close(pipefd[1]);
    pipefd[1] = -1;
    if (cloneQmpRun(dom, "migrate", migrate, NULL) < 0)
        goto cleanup;
    started = TRUE;
    r->fd = pipefd[0];
    r->domName = virDomainGetName(dom);
    if (cloneSnapParse(r, addrs, m, blocks, page, opaque) < 0)
        goto cleanup;
    cloneSnapDrain(pipefd[0]);
    if (cloneSnapWaitDone(dom) < 0)
        goto cleanup;
    started = FALSE;
    ret = 0;

 cleanup:
    if (started) {
        virCloneSavedError *err = virCloneSaveLastError();

        /* first the pipe: QEMU may be blocked writing to it, with the big
         * lock held, and would not answer a monitor command */
        close(pipefd[0]);
        pipefd[0] = -1;
        cloneQmpRun(dom, "migrate_cancel", NULL, NULL);
        virCloneRestoreLastError(err);
    }
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    {
        virCloneSavedError *err = ret < 0 ? virCloneSaveLastError() : NULL;

        if (cloneMigSettingsRestore(dom, saved, caps, params) < 0 && ret == 0)
            ret = -1;
        if (err)
            virCloneRestoreLastError(err);
    }
    return ret;
}


int
cloneMemorySnapshot(virDomainPtr dom, cloneMemory *m, cloneMemSnapPageFunc page, void *opaque)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autofree char *runDir = NULL;
    g_autoptr(cloneJobLock) lock = NULL;

    if (virDomainGetUUIDString(dom, uuid) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the domain's UUID"));
        return -1;
    }
    /* no clone job on the domain meanwhile: it would change the same
     * migration settings */
    if (!(runDir = cloneRunDir(virDomainGetConnect(dom))) ||
        !(lock = cloneJobLockAcquire(runDir, uuid, virDomainGetName(dom), FALSE, 0)))
        return -1;
    return cloneSnapRun(dom, m, page, opaque);
}
