/*
 * clone_template.c: templates, the instants many clones start from: their
 * records, locks and users
 *
 * A template is a source captured at one instant: its RAM in a file
 * (DIRECTORY/NAME/ram), its device state saved once (DIRECTORY/NAME/state),
 * its disks' images at that instant made the read-only bases of the
 * source's and the clones' overlays.  Its record, RUNDIR/templates/NAME.json,
 * says where all that is; RUNDIR/templates/NAME.lock is held exclusively
 * while the template is made or deleted and shared while a clone starts
 * from it.  Which domains use a template is asked of libvirt (their
 * <clone:template> metadata), never counted, so that a clone destroyed or
 * undefined behind our back stops counting at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_template.h"
#include "clone_file.h"
#include "clone_lookup.h"
#include "clone_metadata.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>

#define CLONE_EMPTYSTR(s) ((s) ? (s) : "")

CLONE_ENUM_IMPL(cloneTemplateState, CLONE_TEMPLATE_LAST,
                "creating", "ready");

void
cloneTemplateRecFree(cloneTemplateRec *rec)
{
    if (!rec)
        return;
    g_free(rec->name);
    g_free(rec->dir);
    g_free(rec->srcName);
    g_free(rec->srcUUID);
    g_free(rec->ramBlock);
    g_free(rec->xml);
    g_free(rec);
}


char *
cloneTemplateRamPath(const cloneTemplateRec *rec)
{
    return g_build_filename(rec->dir, CLONE_TEMPLATE_RAM_FILE, NULL);
}


char *
cloneTemplateStatePath(const cloneTemplateRec *rec)
{
    return g_build_filename(rec->dir, CLONE_TEMPLATE_STATE_FILE, NULL);
}


int
cloneTemplateNameCheck(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    size_t i;

    if (len == 0 || len > 64 || name[0] == '.' || name[0] == '-')
        goto invalid;
    for (i = 0; i < len; i++) {
        if (!g_ascii_isalnum(name[i]) && !strchr("_.+-", name[i]))
            goto invalid;
    }
    return 0;

 invalid:
    virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                        _("invalid template name '%1$s': use 1 to 64 letters, digits, '_', '.', '+' or '-', not starting with '.' or '-'"),
                        CLONE_EMPTYSTR(name));
    return -1;
}


static char *
cloneTemplatesDir(const char *runDir)
{
    return g_build_filename(runDir, CLONE_TEMPLATES_SUBDIR, NULL);
}


static char *
cloneTemplateFile(const char *runDir, const char *name, const char *suffix)
{
    g_autofree char *base = g_strconcat(name, suffix, NULL);

    return g_build_filename(runDir, CLONE_TEMPLATES_SUBDIR, base, NULL);
}


/* @dir made, and every directory from @runDir down to it searchable by
 * anyone (0711: not listable), so that the QEMU of a template's domain,
 * which runs as another user, reaches the RAM file (itself 0600, owned by
 * that user). */
static int
cloneTemplateDirEnsure(const char *runDir, const char *dir)
{
    GStatBuf st;

    if (g_mkdir_with_parents(dir, 0711) < 0) {
        virCloneReportSystemError(errno, _("cannot create directory '%1$s'"), dir);
        return -1;
    }
    for (g_autofree char *d = g_strdup(dir); ; ) {
        if (g_stat(d, &st) < 0 ||
            ((st.st_mode & 0011) != 0011 && g_chmod(d, (st.st_mode & 07777) | 0011) < 0)) {
            virCloneReportSystemError(errno, _("cannot make directory '%1$s' searchable"), d);
            return -1;
        }
        if (g_str_equal(d, runDir) || !g_str_has_prefix(d, runDir))
            break;
        {
            char *parent = g_path_get_dirname(d);

            g_free(d);
            d = parent;
        }
    }
    return 0;
}


int
cloneTemplateLock(const char *runDir, const char *name, int op, guint timeoutS)
{
    g_autofree char *dir = cloneTemplatesDir(runDir);
    g_autofree char *path = cloneTemplateFile(runDir, name, ".lock");
    g_autofree char *busy = g_strdup_printf(_("template '%s' is being made or deleted: try again"), name);

    if (cloneTemplateDirEnsure(runDir, dir) < 0)
        return -1;
    return cloneFileLock(path, op, timeoutS, VIR_CLONE_ERR_BUSY, busy, _("template lock"));
}


int
cloneTemplateRecLoad(const char *runDir, const char *name, cloneTemplateRec **recp)
{
    g_autofree char *path = cloneTemplateFile(runDir, name, ".json");
    g_autoptr(JsonObject) o = NULL;
    g_autoptr(cloneTemplateRec) rec = NULL;
    int rc;

    *recp = NULL;
    if ((rc = cloneFileReadJSON(path, &o, _("template record"))) <= 0)
        return rc;

    rec = g_new0(cloneTemplateRec, 1);
    rec->name = g_strdup(json_object_get_string_member_with_default(o, "name", ""));
    rec->state = cloneTemplateStateTypeFromString(json_object_get_string_member_with_default(o, "state", ""));
    rec->dir = g_strdup(json_object_get_string_member_with_default(o, "directory", ""));
    rec->srcName = g_strdup(json_object_get_string_member_with_default(o, "source_name", ""));
    rec->srcUUID = g_strdup(json_object_get_string_member_with_default(o, "source_uuid", ""));
    rec->created = json_object_get_int_member_with_default(o, "created", 0);
    rec->memory = (guint64)json_object_get_int_member_with_default(o, "memory", 0);
    rec->ramBlock = g_strdup(json_object_get_string_member_with_default(o, "ram_block", ""));
    rec->sharing = json_object_get_boolean_member_with_default(o, "sharing", TRUE);
    rec->autoDelete = json_object_get_boolean_member_with_default(o, "auto_delete", FALSE);
    rec->cloned = json_object_get_boolean_member_with_default(o, "cloned", FALSE);
    rec->stateSize = (guint64)json_object_get_int_member_with_default(o, "state_size", 0);
    if (json_object_has_member(o, "xml"))
        rec->xml = g_strdup(json_object_get_string_member(o, "xml"));

    if ((int)rec->state < 0 || !g_str_equal(rec->name, name) || !g_path_is_absolute(rec->dir)) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("the template record '%1$s' is damaged"), path);
        return -1;
    }
    *recp = g_steal_pointer(&rec);
    return 1;
}


int
cloneTemplateRecSave(const char *runDir, const cloneTemplateRec *rec)
{
    g_autofree char *path = cloneTemplateFile(runDir, rec->name, ".json");
    g_autoptr(JsonObject) o = json_object_new();

    json_object_set_string_member(o, "name", rec->name);
    json_object_set_string_member(o, "state", cloneTemplateStateTypeToString(rec->state));
    json_object_set_string_member(o, "directory", rec->dir);
    json_object_set_string_member(o, "source_name", CLONE_EMPTYSTR(rec->srcName));
    json_object_set_string_member(o, "source_uuid", CLONE_EMPTYSTR(rec->srcUUID));
    json_object_set_int_member(o, "created", rec->created);
    json_object_set_int_member(o, "memory", (gint64)rec->memory);
    json_object_set_string_member(o, "ram_block", CLONE_EMPTYSTR(rec->ramBlock));
    json_object_set_boolean_member(o, "sharing", rec->sharing);
    json_object_set_boolean_member(o, "auto_delete", rec->autoDelete);
    json_object_set_boolean_member(o, "cloned", rec->cloned);
    json_object_set_int_member(o, "state_size", (gint64)rec->stateSize);
    if (rec->xml)
        json_object_set_string_member(o, "xml", rec->xml);
    return cloneFileWriteJSON(path, o, _("template record"));
}


static void
cloneTemplateUnlink(const char *path)
{
    if (g_unlink(path) < 0 && errno != ENOENT)
        CLONE_WARN("cannot remove '%s': %s", path, g_strerror(errno));
}


void
cloneTemplateRecRemove(const char *runDir, const cloneTemplateRec *rec)
{
    g_autofree char *ram = cloneTemplateRamPath(rec);
    g_autofree char *state = cloneTemplateStatePath(rec);
    g_autofree char *record = cloneTemplateFile(runDir, rec->name, ".json");
    g_autofree char *lock = cloneTemplateFile(runDir, rec->name, ".lock");

    cloneTemplateUnlink(ram);
    cloneTemplateUnlink(state);
    if (g_rmdir(rec->dir) < 0 && errno != ENOENT)
        CLONE_WARN("cannot remove '%s': %s", rec->dir, g_strerror(errno));
    cloneTemplateUnlink(record);
    /* the holder of the exclusive lock removes it; a waiter opens it again */
    cloneTemplateUnlink(lock);
}


static gint
cloneTemplateStrCmp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}


GStrv
cloneTemplateRecNames(const char *runDir)
{
    g_autofree char *dir = cloneTemplatesDir(runDir);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *ent;

    while (d && (ent = g_dir_read_name(d))) {
        if (g_str_has_suffix(ent, ".json"))
            g_ptr_array_add(names, g_strndup(ent, strlen(ent) - strlen(".json")));
    }
    g_ptr_array_sort(names, cloneTemplateStrCmp);
    g_ptr_array_add(names, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}


GStrv
cloneTemplateUsers(virConnectPtr conn, const char *name)
{
    virDomainPtr *doms = NULL;
    g_autoptr(GPtrArray) users = g_ptr_array_new_with_free_func(g_free);
    int n;
    int i;

    if ((n = virConnectListAllDomains(conn, &doms, 0)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s",
                                   _("cannot list the domains that use a template"));
        return NULL;
    }
    for (i = 0; i < n; i++) {
        g_autofree char *xml = virDomainGetXMLDesc(doms[i], 0);
        g_autoptr(cloneMetadata) meta = NULL;

        /* a domain gone since the listing uses nothing */
        if (xml && (meta = cloneMetadataParse(xml)) && g_strcmp0(meta->template, name) == 0)
            g_ptr_array_add(users, g_strdup(virDomainGetName(doms[i])));
        virDomainFree(doms[i]);
    }
    g_free(doms);
    virResetLastError();
    g_ptr_array_sort(users, cloneTemplateStrCmp);
    g_ptr_array_add(users, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&users), FALSE);
}


/* ==== the phases of a job that makes, or starts from, a template ========== */

#include "clone_job.h"
#include "clone_disk.h"
#include "clone_migparams.h"
#include "clone_qmp.h"
#include "clone_vmstate.h"
#include "clone_xml.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CLONE_TEMPLATE_FD "libvirt-clone-template"
/* a device state this big means the RAM was saved into it: it is not shared */
#define CLONE_TEMPLATE_STATE_MAX (512ULL << 20)
/* room for the device state besides the RAM */
#define CLONE_TEMPLATE_SPACE_MARGIN (64ULL << 20)

/* The template's directory: the policy's, or RUNDIR/templates. */
static char *
cloneTemplateBaseDir(cloneJob *job)
{
    if (job->policy->templateDir)
        return g_strdup(job->policy->templateDir);
    return cloneTemplatesDir(job->runDir);
}


int
cloneTemplateCheckMemoryXML(const char *srcName, const char *xml)
{
    static const struct {
        const char *xpath;
        const char *why;
    } refusals[] = {
        /* first: these devices have <memoryBacking> too, and the reason is theirs */
        { "/domain/devices/interface[@type='vhostuser']",
          N_("a vhost-user interface needs RAM shared with its backend, and a template's domains have private RAM") },
        { "/domain/devices/filesystem[driver/@type='virtiofs']",
          N_("virtio-fs needs RAM shared with virtiofsd, and a template's domains have private RAM") },
        { "/domain/memoryBacking/*",
          N_("its <memoryBacking> (hugepages, memfd, shared or file memory) conflicts with the template's RAM file") },
        { "/domain/maxMemory",
          N_("memory hotplug (<maxMemory>) gives it more than one RAM block") },
        { "/domain/cpu/numa/cell",
          N_("its NUMA cells give it one RAM block per cell") },
        { "/domain/devices/memory",
          N_("its memory devices (DIMM, virtio-mem, NVDIMM) are RAM blocks of their own") },
    };
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = cloneXMLParse(xml, "domain", VIR_CLONE_ERR_LIBVIRT,
                                          _("cannot parse the XML of the source"), &ctxt);

    if (!doc)
        return -1;
    for (size_t i = 0; i < G_N_ELEMENTS(refusals); i++) {
        if (cloneXPathCount(ctxt, refusals[i].xpath) > 0) {
            virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                                _("domain '%1$s' cannot be made a template: %2$s"),
                                srcName, _(refusals[i].why));
            return -1;
        }
    }
    return 0;
}


/* The guest's RAM in bytes, as libvirt's XML says (<memory unit='KiB'>). */
static guint64
cloneTemplateMemoryBytes(const char *xml)
{
    g_auto(GStrv) kib = cloneXMLStrings(xml, "/domain/memory");
    g_auto(GStrv) unit = cloneXMLStrings(xml, "/domain/memory/@unit");

    if (!kib[0] || (unit[0] && !g_str_equal(unit[0], "KiB")))
        return 0;
    return g_ascii_strtoull(kib[0], NULL, 10) << 10;
}


int
cloneTemplateCheckSource(cloneJob *job)
{
    g_autoptr(cloneTemplateRec) old = NULL;
    g_autofree char *base = NULL;
    g_autofree char *dir = NULL;
    struct statvfs fs;
    guint64 bytes;
    guint64 avail;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    int rc;

    if ((job->templateLock = cloneTemplateLock(job->runDir, job->templateName, LOCK_EX, 0)) < 0)
        return -1;
    if ((rc = cloneTemplateRecLoad(job->runDir, job->templateName, &old)) < 0)
        return -1;
    if (rc > 0 && old->state == CLONE_TEMPLATE_READY) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("a template named '%1$s' exists already"), job->templateName);
        return -1;
    }
    if (rc > 0)
        cloneTemplateRecRemove(job->runDir, old);   /* its maker died: we hold its lock */
    if (cloneTemplateCheckMemoryXML(cloneJobSourceName(job), job->srcXML) < 0)
        return -1;
    if ((bytes = cloneTemplateMemoryBytes(job->srcXML)) == 0) {
        virCloneReportError(VIR_CLONE_ERR_LIBVIRT, _("cannot read the memory size of domain '%1$s'"),
                            cloneJobSourceName(job));
        return -1;
    }
    if (job->policy->templateMaxMiB && bytes > (job->policy->templateMaxMiB << 20)) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("domain '%1$s' has %2$llu MiB of RAM, more than the policy's <template max-memory='%3$llu'/>"),
                            cloneJobSourceName(job), (unsigned long long)(bytes >> 20),
                            (unsigned long long)job->policy->templateMaxMiB);
        return -1;
    }
    base = cloneTemplateBaseDir(job);
    if (g_mkdir_with_parents(base, 0711) < 0) {
        virCloneReportSystemError(errno, _("cannot create directory '%1$s'"), base);
        return -1;
    }
    if (statvfs(base, &fs) < 0) {
        virCloneReportSystemError(errno, _("cannot read the free space of '%1$s'"), base);
        return -1;
    }
    avail = (guint64)fs.f_bavail * fs.f_frsize;
    if (avail < bytes + CLONE_TEMPLATE_SPACE_MARGIN) {
        virCloneReportSystemError(ENOSPC,
                                  _("not enough space for template '%1$s' in '%2$s': %3$llu MiB free, %4$llu MiB needed"),
                                  job->templateName, base, (unsigned long long)(avail >> 20),
                                  (unsigned long long)((bytes + CLONE_TEMPLATE_SPACE_MARGIN) >> 20));
        return -1;
    }
    dir = g_build_filename(base, job->templateName, NULL);
    if (g_file_test(dir, G_FILE_TEST_EXISTS)) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("cannot make template '%1$s': '%2$s' exists already"),
                            job->templateName, dir);
        return -1;
    }

    /* the QEMU that receives the source's memory never runs */
    job->policy->network = CLONE_NETWORK_DISCONNECTED;
    job->name = g_strdup_printf("libvirt-clone-template-%s", job->templateName);
    job->uuid = g_uuid_string_random();
    if (virDomainGetUUIDString(job->src, uuid) < 0)
        virResetLastError();   /* read in the check phase already */
    job->tmpl = g_new0(cloneTemplateRec, 1);
    job->tmpl->name = g_strdup(job->templateName);
    job->tmpl->state = CLONE_TEMPLATE_CREATING;
    job->tmpl->dir = g_steal_pointer(&dir);
    job->tmpl->srcName = g_strdup(cloneJobSourceName(job));
    job->tmpl->srcUUID = g_strdup(uuid);
    job->tmpl->memory = bytes;
    job->tmpl->sharing = job->policy->templateSharing;
    job->tmpl->autoDelete = (job->flags & VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE) != 0;
    return 0;
}


/* a reset domain keeps its MAC addresses */
static char *
cloneTemplateResetMac(guint idx, void *opaque)
{
    cloneJob *job = opaque;

    if (!job->resetMacs || idx >= g_strv_length(job->resetMacs))
        return NULL;
    return g_strdup(job->resetMacs[idx]);
}


void
cloneTemplateRewriteParams(cloneJob *job, cloneRewriteParams *p)
{
    if (job->kind == CLONE_JOB_TEMPLATE) {
        p->templateQemu = TRUE;
        return;
    }
    p->templateName = job->templateName;
    p->templatePolicy = job->tmplPolicy;
    p->templateRam = job->tmplRam;
    p->templateRamSize = job->tmpl->memory;
    p->templateCopyRam = !job->tmpl->sharing;
    if (job->kind == CLONE_JOB_RESET) {
        p->newMac = cloneTemplateResetMac;
        p->opaque = job;
    }
}


void
cloneTemplatePlanDone(cloneJob *job)
{
    for (guint i = 0; i < job->plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(job->plan->disks, i);

        g_clear_pointer(&d->sourceOverlay, g_free);
    }
}


/* ---- phase: save the template ------------------------------------------------ */

/* The template QEMU's RAM backend: the one memory-backend-file libvirt made. */
static int
cloneTemplateFindRam(cloneJob *job, char **id, char **path, guint64 *size)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonNode) list = NULL;
    JsonArray *a;

    json_object_set_string_member(args, "path", "/objects");
    if (cloneQmpRun(job->clone, "qom-list", args, &list) < 0)
        return -1;
    a = JSON_NODE_HOLDS_ARRAY(list) ? json_node_get_array(list) : NULL;
    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);
        const char *type = json_object_get_string_member_with_default(o, "type", "");
        const char *name = json_object_get_string_member_with_default(o, "name", "");
        g_autoptr(JsonObject) q = json_object_new();
        g_autoptr(JsonObject) qs = json_object_new();
        g_autoptr(JsonNode) p = NULL;
        g_autoptr(JsonNode) s = NULL;
        g_autofree char *objpath = g_strdup_printf("/objects/%s", name);

        if (!g_str_equal(type, "child<memory-backend-file>"))
            continue;
        json_object_set_string_member(q, "path", objpath);
        json_object_set_string_member(q, "property", "mem-path");
        json_object_set_string_member(qs, "path", objpath);
        json_object_set_string_member(qs, "property", "size");
        if (cloneQmpRun(job->clone, "qom-get", q, &p) < 0 ||
            cloneQmpRun(job->clone, "qom-get", qs, &s) < 0)
            return -1;
        *id = g_strdup(name);
        *path = g_strdup(json_node_get_string(p));
        *size = (guint64)json_node_get_int(s);
        return 0;
    }
    virCloneReportError(VIR_CLONE_ERR_QEMU, _("the QEMU of template '%1$s' has no RAM file"),
                        job->templateName);
    return -1;
}


static int
cloneTemplateWaitSaved(cloneJob *job)
{
    gint64 deadline = job->tStart + (gint64)job->policy->timeoutS * G_USEC_PER_SEC;

    for (;;) {
        g_auto(cloneMigInfo) info = { 0 };

        if (cloneMigInfoQuery(job->clone, &info) < 0)
            return -1;
        if (info.status == CLONE_MIG_STATUS_COMPLETED)
            return 0;
        if (info.status == CLONE_MIG_STATUS_FAILED || info.status == CLONE_MIG_STATUS_CANCELLED) {
            virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                                _("saving the device state of template '%1$s' failed: %2$s"),
                                job->templateName, info.errorDesc ? info.errorDesc : info.statusName);
            return -1;
        }
        if (g_get_monotonic_time() > deadline) {
            virCloneReportError(VIR_CLONE_ERR_TIMEOUT,
                                _("saving the device state of template '%1$s' took too long"),
                                job->templateName);
            return -1;
        }
        g_usleep(2000);
    }
}


/* The template QEMU's device state, without its RAM (x-ignore-shared). */
static GByteArray *
cloneTemplateSaveState(cloneJob *job)
{
    g_autoptr(JsonObject) caps = json_object_new();
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(GByteArray) state = g_byte_array_new();
    int pfd[2];
    int rc;

    json_object_set_boolean_member(caps, "x-ignore-shared", TRUE);
    /* the incoming copy may have set it: a pipe has no way back */
    json_object_set_boolean_member(caps, "return-path", FALSE);
    json_object_set_boolean_member(caps, "pause-before-switchover", FALSE);
    if (cloneMigSettingsApply(job->clone, caps, params) < 0)
        return NULL;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        virCloneReportSystemError(errno, "%s", _("cannot create a pipe"));
        return NULL;
    }
    json_object_set_string_member(args, "fdname", CLONE_TEMPLATE_FD);
    rc = cloneQmpRunWithFd(job->clone, "getfd", args, pfd[1]);
    close(pfd[1]);
    if (rc == 0) {
        g_autoptr(JsonObject) margs = json_object_new();

        json_object_set_string_member(margs, "uri", "fd:" CLONE_TEMPLATE_FD);
        rc = cloneQmpRun(job->clone, "migrate", margs, NULL);
    }
    while (rc == 0) {
        guint8 buf[65536];
        ssize_t n = read(pfd[0], buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            virCloneReportSystemError(errno, "%s", _("cannot read the device state"));
            rc = -1;
        } else if (n == 0) {
            break;
        } else if (state->len + (gsize)n > CLONE_TEMPLATE_STATE_MAX) {
            virCloneReportError(VIR_CLONE_ERR_MIGRATION,
                                _("the device state of template '%1$s' is over %2$llu MiB: its RAM is not in a shared file"),
                                job->templateName, CLONE_TEMPLATE_STATE_MAX >> 20);
            rc = -1;
        } else {
            g_byte_array_append(state, buf, n);
        }
    }
    close(pfd[0]);
    if (rc < 0 || cloneTemplateWaitSaved(job) < 0)
        return NULL;
    return g_steal_pointer(&state);
}


static int
cloneTemplateWriteFile(const char *path, const guint8 *data, gsize len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0 || cloneFileWriteAll(fd, data, len) < 0) {
        int err = errno;

        if (fd >= 0)
            close(fd);
        virCloneReportSystemError(err, _("cannot write '%1$s'"), path);
        return -1;
    }
    if (close(fd) < 0) {
        virCloneReportSystemError(errno, _("cannot write '%1$s'"), path);
        return -1;
    }
    return 0;
}


/* The RAM file kept: a second name of libvirt's file if both are on one
 * file system, else a copy with its owner (the clones' QEMUs read it). */
static int
cloneTemplateKeepRam(const char *from, const char *to)
{
    struct stat st;
    int in = -1;
    int out = -1;
    int ret = -1;

    if (link(from, to) == 0)
        return 0;
    if (errno != EXDEV && errno != EPERM) {
        virCloneReportSystemError(errno, _("cannot link '%1$s' to '%2$s'"), from, to);
        return -1;
    }
    if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0 ||
        (out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        virCloneReportSystemError(errno, _("cannot copy '%1$s' to '%2$s'"), from, to);
        goto cleanup;
    }
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)MIN(left, (off_t)1 << 30), 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            virCloneReportSystemError(n < 0 ? errno : EIO, _("cannot copy '%1$s' to '%2$s'"), from, to);
            goto cleanup;
        }
        left -= n;
    }
    if (fchown(out, st.st_uid, st.st_gid) < 0) {
        virCloneReportSystemError(errno, _("cannot give '%1$s' the owner of '%2$s'"), to, from);
        goto cleanup;
    }
    ret = 0;

 cleanup:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0 && ret == 0) {
        virCloneReportSystemError(errno, _("cannot copy '%1$s' to '%2$s'"), from, to);
        ret = -1;
    }
    return ret;
}


int
cloneTemplatePhaseSave(cloneJob *job)
{
    g_autofree char *ramId = NULL;
    g_autofree char *memPath = NULL;
    g_autofree char *ram = cloneTemplateRamPath(job->tmpl);
    g_autofree char *statePath = cloneTemplateStatePath(job->tmpl);
    g_autoptr(GByteArray) state = NULL;
    g_autoptr(GBytes) renamed = NULL;
    guint64 size = 0;

    cloneJobProgress(job, 100);
    /* the record names the template before anything of it exists */
    job->templateMade = TRUE;
    if (cloneJobSave(job) < 0 || cloneTemplateRecSave(job->runDir, job->tmpl) < 0)
        return -1;
    if (g_mkdir(job->tmpl->dir, 0711) < 0) {
        virCloneReportSystemError(errno, _("cannot create directory '%1$s'"), job->tmpl->dir);
        return -1;
    }
    if (cloneTransferWaitClone(job->mig) < 0 ||
        cloneTemplateFindRam(job, &ramId, &memPath, &size) < 0 ||
        !(state = cloneTemplateSaveState(job)) ||
        !(renamed = cloneVMStateRenameRAM(state->data, state->len, ramId, size,
                                          CLONE_VMSTATE_RAM_ID)) ||
        cloneTemplateWriteFile(statePath, g_bytes_get_data(renamed, NULL),
                               g_bytes_get_size(renamed)) < 0 ||
        cloneTemplateKeepRam(memPath, ram) < 0 ||
        cloneFaultPoint("template:saved") < 0)
        return -1;

    /* the template QEMU and its files go; the source's new tops stay */
    if (virDomainDestroy(job->clone) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot stop the QEMU of template '%1$s'"),
                                   job->templateName);
        return -1;
    }
    cloneMigJobSetClone(job->mig, NULL);
    g_clear_pointer(&job->clone, virDomainFree);
    cloneDiskRemoveCloneFiles(job->plan);

    job->tmpl->xml = g_strdup(job->srcXML);
    job->tmpl->memory = size;
    job->tmpl->ramBlock = g_strdup(ramId);
    job->tmpl->stateSize = g_bytes_get_size(renamed);
    job->tmpl->created = g_get_real_time() / G_USEC_PER_SEC;
    job->tmpl->state = CLONE_TEMPLATE_READY;
    return cloneTemplateRecSave(job->runDir, job->tmpl);
}


void
cloneTemplatePhaseSaveUndo(cloneJob *job)
{
    g_autoptr(cloneTemplateRec) rec = NULL;

    if (!job->templateMade)
        return;
    if (!job->runDir && !(job->runDir = cloneRunDir(job->conn)))
        return;
    if (cloneTemplateRecLoad(job->runDir, job->templateName, &rec) > 0)
        cloneTemplateRecRemove(job->runDir, rec);
    job->templateMade = FALSE;
}


/* ---- phases: a domain from a template ----------------------------------------- */

/* RESET: the domain's name, UUID, MACs, own overlays, disk tops and policy,
 * from its XML, before it stops. */
static int
cloneTemplateReadResetDomain(cloneJob *job)
{
    g_autofree char *xml = virDomainGetXMLDesc(job->resetDom, VIR_DOMAIN_XML_SECURE);
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(cloneMetadata) meta = NULL;
    g_autofree char *policy = NULL;
    int persistent;

    if (!xml) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot read the XML of domain '%1$s'"),
                                   job->name);
        return -1;
    }
    if (!(doc = cloneXMLParse(xml, "domain", VIR_CLONE_ERR_LIBVIRT,
                              _("cannot parse the XML of the domain"), &ctxt)))
        return -1;
    if (!(meta = cloneMetadataRead(ctxt)) || g_strcmp0(meta->template, job->templateName) != 0) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' was not started from template '%2$s'"),
                            job->name, job->templateName);
        return -1;
    }
    policy = cloneXPathString(ctxt, "string(//*[local-name()='clone']/*[local-name()='template']/*[local-name()='policy'])");
    clonePolicyFree(job->policy);
    if (!(job->policy = clonePolicyParse(policy)))
        return -1;
    job->tmplPolicy = g_steal_pointer(&policy);
    job->resetMacs = cloneXPathStrings(ctxt, "/domain/devices/interface/mac/@address");
    job->resetTops = cloneXPathStrings(ctxt, "/domain/devices/disk/source/@file");
    job->resetOverlays = g_ptr_array_ref(meta->overlays);
    if ((persistent = virDomainIsPersistent(job->resetDom)) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot read whether domain '%1$s' is persistent"),
                                   job->name);
        return -1;
    }
    job->cloneDefined = persistent == 1;
    return 0;
}


int
cloneTemplatePhaseCheckDomain(cloneJob *job)
{
    g_autofree char *state = NULL;
    int rc;

    if ((job->templateLock = cloneTemplateLock(job->runDir, job->templateName, LOCK_SH,
                                               job->policy->timeoutS)) < 0 ||
        (rc = cloneTemplateRecLoad(job->runDir, job->templateName, &job->tmpl)) < 0)
        return -1;
    if (rc == 0 || job->tmpl->state != CLONE_TEMPLATE_READY || !job->tmpl->xml) {
        virCloneReportError(VIR_CLONE_ERR_NO_TEMPLATE, _("no template named '%1$s'"),
                            job->templateName);
        return -1;
    }
    job->tmplRam = cloneTemplateRamPath(job->tmpl);
    state = cloneTemplateStatePath(job->tmpl);
    if (!g_file_test(job->tmplRam, G_FILE_TEST_IS_REGULAR) ||
        !g_file_test(state, G_FILE_TEST_IS_REGULAR)) {
        virCloneReportError(VIR_CLONE_ERR_NO_TEMPLATE,
                            _("template '%1$s' lost its files in '%2$s': delete it and make it again"),
                            job->templateName, job->tmpl->dir);
        return -1;
    }
    job->srcXML = g_strdup(job->tmpl->xml);
    {
        g_auto(GStrv) type = cloneXMLStrings(job->srcXML, "/domain/@type");

        job->tcg = type[0] && g_str_equal(type[0], "qemu");
    }
    if (job->kind == CLONE_JOB_RESET)
        return cloneTemplateReadResetDomain(job);
    job->tmplPolicy = clonePolicyFormat(job->policy);
    if (!job->tmpl->cloned) {
        /* from now on the template may go with its last domain */
        job->tmpl->cloned = TRUE;
        if (cloneTemplateRecSave(job->runDir, job->tmpl) < 0)
            return -1;
    }
    return 0;
}


int
cloneTemplatePhaseStop(cloneJob *job)
{
    int active = virDomainIsActive(job->resetDom);

    if (active < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot read the state of domain '%1$s'"),
                                   job->name);
        return -1;
    }
    if (active == 1 && virDomainDestroy(job->resetDom) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, _("cannot stop domain '%1$s'"), job->name);
        return -1;
    }
    /* its overlays go; they are made again, fresh, over the bases */
    return cloneDiskRemoveStoppedOverlays(job->name, job->resetOverlays,
                                          (const char *const *)job->resetTops);
}


typedef struct {
    int fd;
    GBytes *data;
    int err;
} cloneTemplateWriter;

static gpointer
cloneTemplateWriterRun(gpointer opaque)
{
    cloneTemplateWriter *w = opaque;
    gsize len;
    const guint8 *p = g_bytes_get_data(w->data, &len);

    if (cloneFileWriteAll(w->fd, p, len) < 0)
        w->err = errno;
    close(w->fd);
    return NULL;
}


int
cloneTemplatePhaseLoad(cloneJob *job)
{
    g_autofree char *statePath = cloneTemplateStatePath(job->tmpl);
    g_autofree char *data = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(JsonObject) caps = json_object_new();
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(JsonObject) args = json_object_new();
    cloneTemplateWriter w = { .fd = -1 };
    GThread *writer = NULL;
    gsize len;
    int pfd[2];
    int rc;

    cloneJobProgress(job, 0);
    if (!g_file_get_contents(statePath, &data, &len, &gerr)) {
        virCloneReportError(VIR_CLONE_ERR_SYSTEM, _("cannot read the device state of template '%1$s': %2$s"),
                            job->templateName, gerr->message);
        return -1;
    }
    json_object_set_boolean_member(caps, "events", TRUE);
    json_object_set_boolean_member(caps, "x-ignore-shared", TRUE);
    /* the domain must not announce the template's MAC addresses */
    json_object_set_int_member(params, "announce-rounds", 0);
    if (cloneMigSettingsApply(job->clone, caps, params) < 0)
        return -1;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        virCloneReportSystemError(errno, "%s", _("cannot create a pipe"));
        return -1;
    }
    json_object_set_string_member(args, "fdname", CLONE_TEMPLATE_FD);
    rc = cloneQmpRunWithFd(job->clone, "getfd", args, pfd[0]);
    close(pfd[0]);
    if (rc == 0) {
        g_autoptr(JsonObject) margs = json_object_new();

        json_object_set_string_member(margs, "uri", "fd:" CLONE_TEMPLATE_FD);
        rc = cloneQmpRun(job->clone, "migrate-incoming", margs, NULL);
    }
    if (rc < 0) {
        close(pfd[1]);
        return -1;
    }
    w.fd = pfd[1];
    w.data = g_bytes_new_take(g_steal_pointer(&data), len);
    writer = g_thread_new("clone-template-load", cloneTemplateWriterRun, &w);
    rc = cloneTransferWaitClone(job->mig);
    /* a QEMU that refused the stream closed its end: the writer ends too */
    g_thread_join(writer);
    g_bytes_unref(w.data);
    if (rc == 0 && w.err) {
        virCloneReportSystemError(w.err, _("cannot pass the device state of template '%1$s' to '%2$s'"),
                                  job->templateName, job->name);
        rc = -1;
    }
    return rc;
}


/* ==== the public API ======================================================== */

struct _virCloneTemplate {
    virConnectPtr conn;
    char *name;
};


static virCloneTemplatePtr
cloneTemplateHandleNew(virConnectPtr conn, const char *name)
{
    virCloneTemplatePtr t = g_new0(virCloneTemplate, 1);

    virConnectRef(conn);
    t->conn = conn;
    t->name = g_strdup(name);
    return t;
}


/* The record of a template that is there (made, not being made); NULL with
 * VIR_CLONE_ERR_NO_TEMPLATE otherwise. */
static cloneTemplateRec *
cloneTemplateGetReady(const char *runDir, const char *name)
{
    g_autoptr(cloneTemplateRec) rec = NULL;
    int rc = cloneTemplateRecLoad(runDir, name, &rec);

    if (rc < 0)
        return NULL;
    if (rc == 0 || rec->state != CLONE_TEMPLATE_READY) {
        virCloneReportError(VIR_CLONE_ERR_NO_TEMPLATE, _("no template named '%1$s'"), name);
        return NULL;
    }
    return g_steal_pointer(&rec);
}


/**
 * virDomainCloneTemplateCreateFull:
 * @dom: a running domain
 * @name: the template's name: 1 to 64 of letters, digits, '_', '.', '+', '-'
 * @policyXML: a <clonepolicy> document, or NULL for the defaults; its
 *             <memory> settings choose how the source's memory is copied,
 *             its <template> where the files go and whether the template's
 *             domains share its RAM
 * @cb: progress callback, or NULL
 * @opaque: passed to @cb
 * @stats: if not NULL, set to statistics of the copy (see
 *         VIR_DOMAIN_CLONE_LIVE_STATS_*; free with virTypedParamsFree)
 * @nstats: the number of @stats
 * @flags: bitwise-OR of virCloneTemplateCreateFlags
 *
 * Captures @dom at one instant as a template: its RAM is copied, as for a
 * live clone, into a QEMU whose RAM is a file, which is kept with the
 * device state saved once; the disks are forked as for a live clone, their
 * images at the instant becoming the read-only bases of the template's
 * domains.  @dom is paused once, as briefly as by a live clone, and gains
 * one image in its disks' backing chains, however many domains start from
 * the template.
 *
 * On failure nothing is left behind, as for virDomainCloneLiveFull().
 *
 * Returns the template (free the handle with virCloneTemplateFree), or
 * NULL with the thread's last error set.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT virCloneTemplatePtr
virDomainCloneTemplateCreateFull(virDomainPtr dom,
                                 const char *name,
                                 const char *policyXML,
                                 virDomainCloneLiveProgressCallback cb,
                                 void *opaque,
                                 virTypedParameterPtr *stats,
                                 int *nstats,
                                 unsigned int flags)
{
    g_autoptr(cloneJob) job = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(VIR_CLONE_TEMPLATE_CREATE_WAIT | VIR_CLONE_TEMPLATE_CREATE_PRECOPY |
                    VIR_CLONE_TEMPLATE_CREATE_BACKGROUND | VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE, NULL);
    cloneCheckNonNull(dom, NULL);
    if (cloneTemplateNameCheck(name) < 0)
        return NULL;
    cloneCheckJobArgs(VIR_CLONE_TEMPLATE_CREATE_PRECOPY, VIR_CLONE_TEMPLATE_CREATE_BACKGROUND,
                      stats, nstats, NULL);
    if (!(job = cloneJobNew(dom, policyXML, flags)))
        return NULL;
    job->kind = CLONE_JOB_TEMPLATE;
    job->templateName = g_strdup(name);
    job->cb = cb;
    job->opaque = opaque;
    if (cloneJobRun(job, flags & VIR_CLONE_TEMPLATE_CREATE_WAIT) < 0)
        return NULL;
    if (stats)
        cloneJobStats(job, stats, nstats);
    return cloneTemplateHandleNew(job->conn, name);
}


/**
 * virDomainCloneTemplateCreate:
 * @dom: a running domain
 * @name: the template's name
 * @policyXML: a <clonepolicy> document, or NULL
 * @flags: bitwise-OR of virCloneTemplateCreateFlags
 *
 * virDomainCloneTemplateCreateFull() without progress and statistics.
 *
 * Returns the template, or NULL with the thread's last error set.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT virCloneTemplatePtr
virDomainCloneTemplateCreate(virDomainPtr dom, const char *name, const char *policyXML,
                             unsigned int flags)
{
    return virDomainCloneTemplateCreateFull(dom, name, policyXML, NULL, NULL, NULL, NULL, flags);
}


/**
 * virCloneTemplateLookupByName:
 * @conn: a local QEMU connection
 * @name: a template's name
 * @flags: 0
 *
 * Returns the template (free the handle with virCloneTemplateFree), or
 * NULL with VIR_CLONE_ERR_NO_TEMPLATE if there is none of that name.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT virCloneTemplatePtr
virCloneTemplateLookupByName(virConnectPtr conn, const char *name, unsigned int flags)
{
    g_autofree char *runDir = NULL;
    g_autoptr(cloneTemplateRec) rec = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, NULL);
    cloneCheckNonNull(conn, NULL);
    if (cloneTemplateNameCheck(name) < 0 || !(runDir = cloneRunDir(conn)) ||
        !(rec = cloneTemplateGetReady(runDir, name)))
        return NULL;
    return cloneTemplateHandleNew(conn, name);
}


/**
 * virConnectListAllCloneTemplates:
 * @conn: a local QEMU connection
 * @templates: set to a NULL-terminated array of the templates, sorted by
 *             name (free each with virCloneTemplateFree, then the array
 *             with free()); may be NULL to count them only
 * @flags: 0
 *
 * Returns the number of templates, or -1 with the thread's last error set.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT int
virConnectListAllCloneTemplates(virConnectPtr conn, virCloneTemplatePtr **templates,
                                unsigned int flags)
{
    g_autofree char *runDir = NULL;
    g_auto(GStrv) names = NULL;
    g_autoptr(GPtrArray) list = g_ptr_array_new();
    virCloneTemplatePtr *out;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, -1);
    cloneCheckNonNull(conn, -1);
    if (templates)
        *templates = NULL;
    if (!(runDir = cloneRunDir(conn)))
        return -1;
    names = cloneTemplateRecNames(runDir);
    for (guint i = 0; names[i]; i++) {
        g_autoptr(cloneTemplateRec) rec = NULL;

        if (cloneTemplateRecLoad(runDir, names[i], &rec) > 0 && rec->state == CLONE_TEMPLATE_READY)
            g_ptr_array_add(list, cloneTemplateHandleNew(conn, names[i]));
        virCloneResetLastError();   /* a record being replaced is not a template yet */
    }
    if (!templates) {
        for (guint i = 0; i < list->len; i++)
            virCloneTemplateFree(g_ptr_array_index(list, i));
        return (int)list->len;
    }
    out = calloc(list->len + 1, sizeof(*out));
    if (!out) {
        virCloneReportSystemError(ENOMEM, "%s", _("cannot list the templates"));
        for (guint i = 0; i < list->len; i++)
            virCloneTemplateFree(g_ptr_array_index(list, i));
        return -1;
    }
    for (guint i = 0; i < list->len; i++)
        out[i] = g_ptr_array_index(list, i);
    *templates = out;
    return (int)list->len;
}


/**
 * virCloneTemplateGetName:
 * @tmpl: a template
 *
 * Returns the template's name (owned by @tmpl), or NULL.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT const char *
virCloneTemplateGetName(virCloneTemplatePtr tmpl)
{
    cloneCheckNonNull(tmpl, NULL);
    return tmpl->name;
}


/**
 * virCloneTemplateGetInfo:
 * @tmpl: a template
 * @params: set to the template's facts (VIR_CLONE_TEMPLATE_INFO_*; free
 *          them with virTypedParamsFree)
 * @nparams: the number of @params
 * @flags: 0
 *
 * Returns 0, or -1 with the thread's last error set.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT int
virCloneTemplateGetInfo(virCloneTemplatePtr tmpl, virTypedParameterPtr *params, int *nparams,
                        unsigned int flags)
{
    g_autofree char *runDir = NULL;
    g_autoptr(cloneTemplateRec) rec = NULL;
    g_auto(GStrv) users = NULL;
    int max = 0;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, -1);
    cloneCheckNonNull(tmpl, -1);
    cloneCheckNonNull(params, -1);
    cloneCheckNonNull(nparams, -1);
    if (!(runDir = cloneRunDir(tmpl->conn)) || !(rec = cloneTemplateGetReady(runDir, tmpl->name)) ||
        !(users = cloneTemplateUsers(tmpl->conn, tmpl->name)))
        return -1;
    *params = NULL;
    *nparams = 0;
    virTypedParamsAddString(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME, rec->srcName);
    virTypedParamsAddString(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID, rec->srcUUID);
    virTypedParamsAddULLong(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_CREATED,
                            (unsigned long long)rec->created);
    virTypedParamsAddULLong(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_MEMORY, rec->memory);
    virTypedParamsAddUInt(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_CLONES,
                          g_strv_length(users));
    virTypedParamsAddString(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_DIRECTORY, rec->dir);
    virTypedParamsAddInt(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_SHARING, rec->sharing);
    virTypedParamsAddInt(params, nparams, &max, VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE, rec->autoDelete);
    return 0;
}


/* Under the template's exclusive lock: refused while domains use it. */
static int
cloneTemplateDeleteLocked(virConnectPtr conn, const char *runDir, cloneTemplateRec *rec)
{
    g_auto(GStrv) users = cloneTemplateUsers(conn, rec->name);

    if (!users)
        return -1;
    if (users[0]) {
        g_autofree char *list = g_strjoinv("', '", users);

        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            g_dngettext(GETTEXT_PACKAGE, "template '%1$s' is used by %2$u domain: '%3$s'; destroy or undefine it first",
                                     "template '%1$s' is used by %2$u domains: '%3$s'; destroy or undefine them first",
                                     g_strv_length(users)),
                            rec->name, g_strv_length(users), list);
        return -1;
    }
    cloneTemplateRecRemove(runDir, rec);
    return 0;
}


/**
 * virCloneTemplateDelete:
 * @tmpl: a template
 * @flags: 0
 *
 * Removes the template's RAM file, device state and record.  Refused
 * (VIR_CLONE_ERR_OPERATION_INVALID) while a domain started from it exists,
 * running or defined, and (VIR_CLONE_ERR_BUSY) while a domain starts from
 * it.  The disks' bases stay: the source's disks go on over them.
 *
 * Returns 0, or -1 with the thread's last error set.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT int
virCloneTemplateDelete(virCloneTemplatePtr tmpl, unsigned int flags)
{
    g_autofree char *runDir = NULL;
    g_autoptr(cloneTemplateRec) rec = NULL;
    int lock;
    int ret;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, -1);
    cloneCheckNonNull(tmpl, -1);
    if (!(runDir = cloneRunDir(tmpl->conn)) ||
        (lock = cloneTemplateLock(runDir, tmpl->name, LOCK_EX, 0)) < 0)
        return -1;
    if ((rec = cloneTemplateGetReady(runDir, tmpl->name)))
        ret = cloneTemplateDeleteLocked(tmpl->conn, runDir, rec);
    else
        ret = -1;
    close(lock);
    return ret;
}


int
cloneTemplatesAutoDelete(virConnectPtr conn)
{
    g_autofree char *runDir = NULL;
    g_auto(GStrv) names = NULL;
    int deleted = 0;

    if (cloneConnGetKind(conn, NULL) == CLONE_CONN_OTHER)
        return 0;
    if (!(runDir = cloneRunDir(conn)))
        return -1;
    names = cloneTemplateRecNames(runDir);
    for (guint i = 0; names[i]; i++) {
        g_autoptr(cloneTemplateRec) rec = NULL;
        g_auto(GStrv) users = NULL;
        int lock = cloneTemplateLock(runDir, names[i], LOCK_EX, 0);

        /* a template being made or used right now is not ours to judge */
        if (lock < 0) {
            virCloneResetLastError();
            continue;
        }
        if (cloneTemplateRecLoad(runDir, names[i], &rec) > 0) {
            if (rec->state == CLONE_TEMPLATE_CREATING) {
                cloneTemplateRecRemove(runDir, rec);   /* its maker died */
            } else if (rec->autoDelete && rec->cloned &&
                       (users = cloneTemplateUsers(conn, rec->name)) && !users[0]) {
                CLONE_INFO("template '%s' lost its last domain: deleted", rec->name);
                cloneTemplateRecRemove(runDir, rec);
                deleted++;
            }
        }
        virCloneResetLastError();
        close(lock);
    }
    return deleted;
}


/**
 * virCloneTemplateFree:
 * @tmpl: a template handle
 *
 * Frees the handle (not the template).
 *
 * Returns 0, or -1 if @tmpl is NULL.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT int
virCloneTemplateFree(virCloneTemplatePtr tmpl)
{
    if (!tmpl)
        return -1;
    virConnectClose(tmpl->conn);
    g_free(tmpl->name);
    g_free(tmpl);
    return 0;
}


/**
 * virCloneTemplateCreateDomainFull:
 * @tmpl: a template
 * @policyXML: a <clonepolicy> document, or NULL for the defaults: name,
 *             identity, network (sandbox included), guest agent steps,
 *             disks, vTPM and lifecycle as for a live clone
 * @cb: progress callback, or NULL
 * @opaque: passed to @cb
 * @stats: if not NULL, set to statistics (VIR_DOMAIN_CLONE_LIVE_STATS_*,
 *         with VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE)
 * @nstats: the number of @stats
 * @flags: bitwise-OR of virCloneTemplateCloneFlags
 *
 * Starts a domain at the template's instant: its RAM is the template's
 * file mapped copy-on-write (or copied, with <template sharing='no'/> in
 * the template's policy), its device state the template's, its writable
 * disks new overlays over the template's bases.  It gets its own name,
 * UUID, MAC addresses and generation ID, and the policy's steps inside the
 * guest, as a live clone does.  The template's source is not touched.
 *
 * Returns the domain (free it with virDomainFree), or NULL with the
 * thread's last error set; nothing is left behind then.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT virDomainPtr
virCloneTemplateCreateDomainFull(virCloneTemplatePtr tmpl,
                                 const char *policyXML,
                                 virCloneTemplateProgressCallback cb,
                                 void *opaque,
                                 virTypedParameterPtr *stats,
                                 int *nstats,
                                 unsigned int flags)
{
    g_autoptr(cloneJob) job = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(VIR_CLONE_TEMPLATE_CLONE_PAUSED | VIR_CLONE_TEMPLATE_CLONE_PERSISTENT, NULL);
    cloneCheckNonNull(tmpl, NULL);
    cloneCheckJobArgs(0, 0, stats, nstats, NULL);
    /* the flags have the values of VIR_DOMAIN_CLONE_LIVE_PAUSED and _PERSISTENT */
    if (!(job = cloneJobNewOn(tmpl->conn, NULL, policyXML, flags)))
        return NULL;
    job->kind = CLONE_JOB_FROM_TEMPLATE;
    job->templateName = g_strdup(tmpl->name);
    job->uuid = job->policy->uuid ? g_strdup(job->policy->uuid) : g_uuid_string_random();
    job->handle = tmpl;
    job->tcb = cb;
    job->opaque = opaque;
    if (cloneJobRun(job, TRUE) < 0)
        return NULL;
    if (stats)
        cloneJobStats(job, stats, nstats);
    return g_steal_pointer(&job->clone);
}


/**
 * virCloneTemplateCreateDomain:
 * @tmpl: a template
 * @policyXML: a <clonepolicy> document, or NULL
 * @flags: bitwise-OR of virCloneTemplateCloneFlags
 *
 * virCloneTemplateCreateDomainFull() without progress and statistics.
 *
 * Returns the domain, or NULL with the thread's last error set.
 *
 * Since: 0.5.0
 */
CLONE_EXPORT virDomainPtr
virCloneTemplateCreateDomain(virCloneTemplatePtr tmpl, const char *policyXML, unsigned int flags)
{
    return virCloneTemplateCreateDomainFull(tmpl, policyXML, NULL, NULL, NULL, NULL, flags);
}


/**
 * virDomainCloneReset:
 * @clone: a domain started from a template (running or, if defined, not)
 * @flags: VIR_CLONE_TEMPLATE_CLONE_PAUSED, or 0
 *
 * Puts @clone back at its template's instant: its QEMU is stopped, its
 * overlays are replaced by fresh ones over the template's bases, and it
 * starts again from the template's RAM and device state with the same
 * name, UUID and MAC addresses, and its policy's steps inside the guest
 * done again.  A defined @clone stays defined.
 *
 * Returns 0, or -1 with the thread's last error set.  A reset that fails
 * after the domain was stopped leaves it stopped (a transient one is gone).
 *
 * Since: 0.5.0
 */
CLONE_EXPORT int
virDomainCloneReset(virDomainPtr clone, unsigned int flags)
{
    g_autoptr(cloneJob) job = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(cloneMetadata) meta = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(VIR_CLONE_TEMPLATE_CLONE_PAUSED, -1);
    cloneCheckNonNull(clone, -1);
    if (!(xml = virDomainGetXMLDesc(clone, 0)) || virDomainGetUUIDString(clone, uuid) < 0) {
        virCloneReportLibvirtError(VIR_CLONE_ERR_LIBVIRT, "%s", _("cannot read the domain's XML"));
        return -1;
    }
    if (!(meta = cloneMetadataParse(xml)) || !meta->template) {
        virCloneReportError(VIR_CLONE_ERR_OPERATION_INVALID,
                            _("domain '%1$s' was not started from a template: only such a domain can be reset"),
                            virDomainGetName(clone));
        return -1;
    }
    if (!(job = cloneJobNewOn(virDomainGetConnect(clone), NULL, NULL, flags)))
        return -1;
    job->kind = CLONE_JOB_RESET;
    job->templateName = g_strdup(meta->template);
    job->resetDom = clone;
    job->name = g_strdup(virDomainGetName(clone));
    job->uuid = g_strdup(uuid);
    return cloneJobRun(job, TRUE);
}
