/*
 * clone_memory.c: reading a running domain's guest-physical memory from
 * its QEMU process, without pausing the guest
 *
 * QEMU keeps guest RAM in RAM blocks mapped into its own address space.
 * The flat view of the address space "memory" (HMP "info mtree -f") says
 * which guest-physical ranges are RAM or ROM and which are MMIO; "gpa2hva"
 * gives the host address of a range's start (and its end, checked).  The
 * bytes are then copied with process_vm_readv(2) while the vCPUs run: a
 * read is as consistent as a DMA by a device would be, i.e. each aligned
 * word is whole but a range may mix before and after of a concurrent
 * write.  Pages the guest never touched read as zeroes without being
 * allocated.
 *
 * Above 4 GiB on a PC machine the RAM continues from the offset where the
 * PCI hole cut it (pc.ram @0x80000000 at 0x100000000 for q35 with more
 * than 2 GiB), which the flat view states and gpa2hva resolves: nothing
 * here assumes a layout.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_memory.h"
#include "clone_qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

/* What QEMU maps of a file: [start, end) of its address space from the
 * file's offset @off. */
typedef struct {
    unsigned long long start;
    unsigned long long end;
    unsigned long long off;
} cloneMemoryFileMap;

struct _cloneMemory {
    char *domName;
    pid_t pid;
    int fileFd;                 /* cloneMemoryReadFromFile(), or -1 */
    GArray *fileMaps;           /* of cloneMemoryFileMap */
    int pidfd;                  /* QEMU's, -1 without pidfd_open (Linux < 5.3) */
    GPtrArray *ranges;          /* of cloneMemoryRange *, by gpa */
};


void
cloneMemoryRangeFree(cloneMemoryRange *r)
{
    if (!r)
        return;
    g_free(r->region);
    g_free(r);
}


void
cloneMemoryFree(cloneMemory *m)
{
    if (!m)
        return;
    g_free(m->domName);
    if (m->ranges)
        g_ptr_array_unref(m->ranges);
    if (m->pidfd >= 0)
        close(m->pidfd);
    if (m->fileFd >= 0)
        close(m->fileFd);
    if (m->fileMaps)
        g_array_unref(m->fileMaps);
    g_free(m);
}


int
cloneMemoryHmp(virDomainPtr dom, const char *cmdline, char **out)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) ret = NULL;

    json_object_set_string_member(args, "command-line", cmdline);
    if (cloneQmpRun(dom, "human-monitor-command", args, &ret) < 0)
        return -1;
    *out = g_strdup(JSON_NODE_HOLDS_VALUE(ret) ? json_node_get_string(ret) : "");
    if (!*out)
        *out = g_strdup("");
    return 0;
}


/* "  0000000100000000-000000019fffffff (prio 0, ram): pc.ram @0000000080000000"
 * as a range if it is RAM or ROM; NULL for anything else (i/o, romd in
 * MMIO mode, RAM devices, non-volatile memory). */
static cloneMemoryRange *
cloneMemoryParseMtreeLine(const char *line)
{
    unsigned long long start, end;
    int prio, n = 0;
    char type[16];
    const char *name, *at;
    g_autoptr(cloneMemoryRange) r = NULL;

    if (sscanf(line, " %llx-%llx (prio %d, %15[^)]): %n", &start, &end, &prio, type, &n) != 4 ||
        n == 0 || end < start)
        return NULL;
    if (!g_str_equal(type, "ram") && !g_str_equal(type, "rom"))
        return NULL;
    name = line + n;
    r = g_new0(cloneMemoryRange, 1);
    r->gpa = start;
    r->size = end - start + 1;
    r->readonly = g_str_equal(type, "rom");
    if ((at = strstr(name, " @"))) {
        r->region = g_strndup(name, at - name);
        r->regionOffset = g_ascii_strtoull(at + 2, NULL, 16);
    } else {
        r->region = g_strdup(name);
    }
    g_strstrip(r->region);
    return g_steal_pointer(&r);
}


GPtrArray *
cloneMemoryParseMtree(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    g_autoptr(GPtrArray) ranges = g_ptr_array_new_with_free_func((GDestroyNotify)cloneMemoryRangeFree);
    gboolean inView = FALSE, isMemory = FALSE, found = FALSE;

    for (size_t i = 0; lines[i]; i++) {
        const char *l = lines[i];
        cloneMemoryRange *r;

        g_strchomp(lines[i]);
        if (g_str_has_prefix(l, "FlatView ")) {
            if (found)
                break;
            inView = TRUE;
            isMemory = FALSE;
            continue;
        }
        if (!inView)
            continue;
        if (strstr(l, " AS \"memory\"") == l) {
            isMemory = TRUE;
            continue;
        }
        if (!isMemory)
            continue;
        found = TRUE;
        if ((r = cloneMemoryParseMtreeLine(l)))
            g_ptr_array_add(ranges, r);
    }
    if (!found || ranges->len == 0) {
        virCloneReportError(VIR_CLONE_ERR_QEMU, "%s",
                            _("QEMU did not list the RAM of address space 'memory' (info mtree -f)"));
        return NULL;
    }
    return g_steal_pointer(&ranges);
}


int
cloneMemoryParseGpa2hva(const char *text, unsigned long long *hva)
{
    const char *is;
    char *end = NULL;

    if (!text || !g_str_has_prefix(text, "Host virtual address for ") ||
        !(is = strstr(text, " is 0x")))
        return -1;
    errno = 0;
    *hva = strtoull(is + 6, &end, 16);
    if (errno != 0 || end == is + 6)
        return -1;
    return 0;
}


static int
cloneMemoryGpa2hva(virDomainPtr dom, unsigned long long gpa, unsigned long long *hva)
{
    g_autofree char *cmd = g_strdup_printf("gpa2hva 0x%llx", gpa);
    g_autofree char *out = NULL;

    if (cloneMemoryHmp(dom, cmd, &out) < 0)
        return -1;
    if (cloneMemoryParseGpa2hva(out, hva) < 0) {
        virCloneReportError(VIR_CLONE_ERR_QEMU,
                            _("QEMU of domain '%1$s' has no host address for guest-physical address 0x%2$llx: %3$s"),
                            virDomainGetName(dom), gpa, g_strstrip(out));
        return -1;
    }
    return 0;
}


void
cloneMemoryBlockFree(cloneMemoryBlock *b)
{
    if (!b)
        return;
    g_free(b->name);
    g_free(b);
}


/* "              Block Name    PSize   Offset   Used   Total   HVA  RO"
 * "                  pc.ram    4 KiB   0x0...   0x...  0x...   0x7f..  rw"
 * A name has no blank and the page size two words, as the header's first
 * column: the columns are at the header's word positions. */
GPtrArray *
cloneMemoryParseRamblock(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    g_autoptr(GPtrArray) blocks = g_ptr_array_new_with_free_func((GDestroyNotify)cloneMemoryBlockFree);
    int hvaCol = -1, usedCol = -1;

    for (size_t i = 0; lines[i]; i++) {
        g_auto(GStrv) w = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
        g_autoptr(GPtrArray) words = g_ptr_array_new();
        cloneMemoryBlock *b;

        for (size_t j = 0; w[j]; j++)
            if (*w[j])
                g_ptr_array_add(words, w[j]);
        if (words->len == 0)
            continue;
        if (g_str_equal(g_ptr_array_index(words, 0), "Block")) {
            for (guint j = 0; j < words->len; j++) {
                if (g_str_equal(g_ptr_array_index(words, j), "HVA"))
                    hvaCol = (int)j;
                else if (g_str_equal(g_ptr_array_index(words, j), "Used"))
                    usedCol = (int)j;
            }
            continue;
        }
        if (hvaCol < 0 || usedCol < 0 || (int)words->len <= MAX(hvaCol, usedCol))
            continue;
        b = g_new0(cloneMemoryBlock, 1);
        b->name = g_strdup(g_ptr_array_index(words, 0));
        b->used = g_ascii_strtoull(g_ptr_array_index(words, usedCol), NULL, 16);
        b->hva = g_ascii_strtoull(g_ptr_array_index(words, hvaCol), NULL, 16);
        g_ptr_array_add(blocks, b);
    }
    if (hvaCol < 0 || usedCol < 0)
        return NULL;
    return g_steal_pointer(&blocks);
}


/* The host address of @r from the RAM block of its region, if exactly one
 * block has that name (a device's blocks are "DEVICE/REGION") and holds
 * all of @r: 0 and @r->hva set, or -1. */
static int
cloneMemoryFromBlocks(GPtrArray *blocks, cloneMemoryRange *r)
{
    g_autofree char *suffix = g_strdup_printf("/%s", r->region);
    const cloneMemoryBlock *found = NULL;

    for (guint i = 0; blocks && i < blocks->len; i++) {
        const cloneMemoryBlock *b = g_ptr_array_index(blocks, i);

        if (!g_str_equal(b->name, r->region) && !g_str_has_suffix(b->name, suffix))
            continue;
        if (found)
            return -1;
        found = b;
    }
    if (!found || r->regionOffset > found->used || r->size > found->used - r->regionOffset)
        return -1;
    r->hva = found->hva + r->regionOffset;
    return 0;
}


/* The host address of every range: from "info ramblock" where the range's
 * region names one block, else from "gpa2hva" of its first and last byte
 * (which also checks that it is one piece of one RAM block). */
static int
cloneMemoryResolve(virDomainPtr dom, GPtrArray *ranges)
{
    g_autofree char *ramblock = NULL;
    g_autoptr(GPtrArray) blocks = NULL;

    if (cloneMemoryHmp(dom, "info ramblock", &ramblock) < 0)
        return -1;
    blocks = cloneMemoryParseRamblock(ramblock);
    for (guint i = 0; i < ranges->len; i++) {
        cloneMemoryRange *r = g_ptr_array_index(ranges, i);
        unsigned long long last;

        if (cloneMemoryFromBlocks(blocks, r) == 0)
            continue;
        if (cloneMemoryGpa2hva(dom, r->gpa, &r->hva) < 0 ||
            cloneMemoryGpa2hva(dom, r->gpa + r->size - 1, &last) < 0)
            return -1;
        if (last != r->hva + r->size - 1) {
            virCloneReportError(VIR_CLONE_ERR_QEMU,
                                _("guest-physical range 0x%1$llx-0x%2$llx of domain '%3$s' is not contiguous in QEMU's memory"),
                                r->gpa, r->gpa + r->size - 1, virDomainGetName(dom));
            return -1;
        }
    }
    return 0;
}


/* Whether @cmd (a NUL-separated command line of @len bytes) has "-uuid
 * @uuid". */
static gboolean
cloneMemoryCmdlineHasUUID(const char *cmd, gsize len, const char *uuid)
{
    const char *p = cmd, *end = cmd + len;
    gboolean prevUUID = FALSE;

    while (p < end) {
        if (prevUUID && g_ascii_strcasecmp(p, uuid) == 0)
            return TRUE;
        prevUUID = g_str_equal(p, "-uuid");
        p += strlen(p) + 1;
    }
    return FALSE;
}


/* The QEMU process of @dom: libvirt gives each QEMU "-uuid UUID" on its
 * command line, whatever the driver (system, session, embedded root). */
static pid_t
cloneMemoryFindPid(virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) gerr = NULL;
    const char *ent;
    pid_t found = 0;

    if (virDomainGetUUIDString(dom, uuid) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s",
                                   _("cannot read the domain's UUID"));
        return -1;
    }
    if (!(d = g_dir_open("/proc", 0, &gerr))) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot list processes: %1$s"), gerr->message);
        return -1;
    }
    while ((ent = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        g_autofree char *cmd = NULL;
        gsize len = 0;

        if (!g_ascii_isdigit(ent[0]))
            continue;
        path = g_strdup_printf("/proc/%s/cmdline", ent);
        if (!g_file_get_contents(path, &cmd, &len, NULL) || len == 0 ||
            !strstr(cmd, "qemu") || !cloneMemoryCmdlineHasUUID(cmd, len, uuid))
            continue;
        if (found) {
            virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                _("two QEMU processes (%1$d and %2$s) run domain '%3$s'"),
                                (int)found, ent, virDomainGetName(dom));
            return -1;
        }
        found = (pid_t)atoi(ent);
    }
    if (!found) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("no QEMU process of domain '%1$s' on this host: guest memory can only be read on the host that runs it"),
                            virDomainGetName(dom));
        return -1;
    }
    return found;
}


static gint
cloneMemoryRangeCmp(gconstpointer a, gconstpointer b)
{
    const cloneMemoryRange *x = *(cloneMemoryRange *const *)a;
    const cloneMemoryRange *y = *(cloneMemoryRange *const *)b;

    return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}


cloneMemory *
cloneMemoryOpen(virDomainPtr dom)
{
    g_autoptr(cloneMemory) m = g_new0(cloneMemory, 1);

    m->pidfd = -1;
    m->fileFd = -1;
    g_autofree char *mtree = NULL;
    int active;

    if ((active = virDomainIsActive(dom)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT,
                                   _("cannot read the state of domain '%1$s'"),
                                   virDomainGetName(dom));
        return NULL;
    }
    if (!active) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' is not running: it has no memory to read"),
                            virDomainGetName(dom));
        return NULL;
    }
    m->domName = g_strdup(virDomainGetName(dom));
    if (cloneMemoryHmp(dom, "info mtree -f", &mtree) < 0 ||
        !(m->ranges = cloneMemoryParseMtree(mtree)))
        return NULL;
    g_ptr_array_sort(m->ranges, cloneMemoryRangeCmp);
    if (cloneMemoryResolve(dom, m->ranges) < 0 ||
        (m->pid = cloneMemoryFindPid(dom)) < 0)
        return NULL;
#ifdef SYS_pidfd_open
    m->pidfd = (int)syscall(SYS_pidfd_open, m->pid, 0);
#endif
    return g_steal_pointer(&m);
}


/* The range holding @gpa, or NULL. */
static const cloneMemoryRange *
cloneMemoryFind(const cloneMemory *m, unsigned long long gpa)
{
    guint lo = 0, hi = m->ranges->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const cloneMemoryRange *r = g_ptr_array_index(m->ranges, mid);

        if (gpa < r->gpa)
            hi = mid;
        else if (gpa - r->gpa >= r->size)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}


int
cloneMemoryReadFromFile(cloneMemory *m, const char *path)
{
    g_autofree char *mapsPath = g_strdup_printf("/proc/%d/maps", (int)m->pid);
    g_autofree char *maps = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(cloneMemoryFileMap));
    struct stat st;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        virCloneReportSystemError(errno, _("cannot open '%1$s'"), path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!g_file_get_contents(mapsPath, &maps, NULL, &gerr)) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot read '%1$s': %2$s"),
                            mapsPath, gerr->message);
        close(fd);
        return -1;
    }
    /* "START-END PERMS OFFSET MAJOR:MINOR INODE PATH" */
    lines = g_strsplit(maps, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        cloneMemoryFileMap fm;
        unsigned int major, minor;
        unsigned long long inode;

        if (sscanf(lines[i], "%llx-%llx %*s %llx %x:%x %llu", &fm.start, &fm.end, &fm.off,
                   &major, &minor, &inode) == 6 &&
            inode == (unsigned long long)st.st_ino && makedev(major, minor) == st.st_dev)
            g_array_append_val(found, fm);
    }
    if (found->len == 0) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("the QEMU process of domain '%1$s' does not map '%2$s'"),
                            m->domName, path);
        close(fd);
        return -1;
    }
    if (m->fileFd >= 0)
        close(m->fileFd);
    g_clear_pointer(&m->fileMaps, g_array_unref);
    m->fileFd = fd;
    m->fileMaps = g_steal_pointer(&found);
    return 0;
}


/* The bytes at @hva that QEMU maps from the file of
 * cloneMemoryReadFromFile(), read from the file: how many (0: @hva is
 * not in such a mapping, and *@len is cut where the next one begins), or
 * -1 with an error. */
static ssize_t
cloneMemoryReadFile(cloneMemory *m, unsigned long long hva, char *buf, size_t *plen)
{
    size_t len = *plen;

    for (guint i = 0; m->fileMaps && i < m->fileMaps->len; i++) {
        const cloneMemoryFileMap *fm = &g_array_index(m->fileMaps, cloneMemoryFileMap, i);

        if (fm->start > hva && fm->start - hva < *plen)
            *plen = (size_t)(fm->start - hva);
    }
    for (guint i = 0; m->fileMaps && i < m->fileMaps->len; i++) {
        const cloneMemoryFileMap *fm = &g_array_index(m->fileMaps, cloneMemoryFileMap, i);
        size_t n;
        ssize_t got;

        if (hva < fm->start || hva >= fm->end)
            continue;
        n = (size_t)MIN((unsigned long long)len, fm->end - hva);
        do {
            got = pread(m->fileFd, buf, n, (off_t)(fm->off + hva - fm->start));
        } while (got < 0 && errno == EINTR);
        if (got < 0) {
            virCloneReportSystemError(errno, "%s", _("cannot read the template's RAM file"));
            return -1;
        }
        if (got == 0)   /* past the file's end: pages never written */
            memset(buf, 0, n);
        return got == 0 ? (ssize_t)n : got;
    }
    return 0;
}


/* process_vm_readv until all @len bytes at @hva are read: the kernel stops
 * short at a page it cannot read.  What QEMU maps from the file of
 * cloneMemoryReadFromFile() comes from that file. */
static int
cloneMemoryReadHost(cloneMemory *m, unsigned long long gpa, unsigned long long hva,
                    char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t chunk = len - done;
        ssize_t fromFile = cloneMemoryReadFile(m, hva + done, buf + done, &chunk);
        struct iovec local;
        struct iovec remote;
        ssize_t got;

        if (fromFile < 0)
            return -1;
        if (fromFile > 0) {
            done += (size_t)fromFile;
            continue;
        }
        local = (struct iovec){ buf + done, chunk };
        remote = (struct iovec){ (void *)(uintptr_t)(hva + done), chunk };
        got = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int err = got < 0 ? errno : EFAULT;

            if (err == ESRCH)
                virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                                    _("the QEMU process of domain '%1$s' has ended"),
                                    m->domName);
            else
                virCloneReportSystemError(err,
                                          _("cannot read guest-physical address 0x%1$llx of domain '%2$s' from its QEMU process %3$d"),
                                          gpa + done, m->domName, (int)m->pid);
            return -1;
        }
        done += (size_t)got;
    }
    return 0;
}


int
cloneMemoryRead(cloneMemory *m, unsigned long long gpa, void *buf, size_t len)
{
    char *out = buf;

    if (len > 0 && gpa + len - 1 < gpa) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("guest-physical range at 0x%1$llx of %2$zu bytes wraps around"),
                            gpa, len);
        return -1;
    }
    while (len > 0) {
        const cloneMemoryRange *r = cloneMemoryFind(m, gpa);
        unsigned long long off, n;

        if (!r) {
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                                _("guest-physical address 0x%1$llx of domain '%2$s' is not RAM (a hole or device memory)"),
                                gpa, m->domName);
            return -1;
        }
        off = gpa - r->gpa;
        n = MIN((unsigned long long)len, r->size - off);
        if (cloneMemoryReadHost(m, gpa, r->hva + off, out, (size_t)n) < 0)
            return -1;
        out += n;
        gpa += n;
        len -= (size_t)n;
    }
    return 0;
}


gboolean
cloneMemoryAlive(const cloneMemory *m)
{
    struct pollfd pfd = { .fd = m->pidfd, .events = POLLIN };

    if (m->pidfd < 0)
        return kill(m->pid, 0) == 0;
    /* a pidfd is readable once its process has exited */
    return poll(&pfd, 1, 0) == 0;
}


int
cloneMemoryReadCb(void *opaque, unsigned long long gpa, void *buf, size_t len)
{
    return cloneMemoryRead(opaque, gpa, buf, len);
}


size_t
cloneMemoryRangeCount(const cloneMemory *m)
{
    return m->ranges->len;
}


const cloneMemoryRange *
cloneMemoryRangeGet(const cloneMemory *m, size_t i)
{
    return i < m->ranges->len ? g_ptr_array_index(m->ranges, i) : NULL;
}


pid_t
cloneMemoryPid(const cloneMemory *m)
{
    return m->pid;
}
