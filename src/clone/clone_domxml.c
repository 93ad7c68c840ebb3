/*
 * clone_domxml.c: the clone's domain XML, derived from the source's
 *
 * A pure function of the source's XML, the policy and the rewrite
 * parameters: nothing here talks to libvirt, touches a file or draws a
 * random number, so every decision is covered by golden tests
 * (tests/clonexml2xmltest.c).  What the clone gets for each device class,
 * and why, is written down in docs/devices.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_domxml.h"
#include "clone_vmstate.h"
#include "clone_tpm.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

/* the character devices whose host side the rewrite looks at */
#define CLONE_CHARDEVS \
    "/domain/devices/*[self::serial or self::console or self::parallel or self::channel]"


/* ---- the plan ------------------------------------------------------------ */

static void
cloneDiskFree(gpointer data)
{
    cloneDisk *d = data;

    g_free(d->target);
    g_free(d->srcPath);
    g_free(d->srcFormat);
    g_free(d->cloneOverlay);
    g_free(d->sourceOverlay);
    g_free(d);
}


static void
cloneCopyFree(gpointer data)
{
    cloneCopy *c = data;

    g_free(c->from);
    g_free(c->to);
    g_free(c);
}


static void
cloneNicFree(gpointer data)
{
    cloneNic *n = data;

    g_free(n->type);
    g_free(n->alias);
    g_free(n->sourceMac);
    g_free(n->mac);
    g_free(n);
}


void
cloneDomainPlanFree(cloneDomainPlan *plan)
{
    if (!plan)
        return;
    g_free(plan->xml);
    g_free(plan->sandboxBridge);
    g_clear_pointer(&plan->disks, g_ptr_array_unref);
    g_clear_pointer(&plan->copies, g_ptr_array_unref);
    g_clear_pointer(&plan->newFiles, g_ptr_array_unref);
    g_clear_pointer(&plan->ownedFiles, g_ptr_array_unref);
    g_clear_pointer(&plan->nics, g_ptr_array_unref);
    g_free(plan->sourceUUID);
    g_free(plan->cloneUUID);
    g_free(plan->tpmStateFrom);
    g_free(plan->tpmStateTo);
    g_free(plan);
}


cloneDomainPlan *
cloneDomainPlanNew(void)
{
    cloneDomainPlan *plan = g_new0(cloneDomainPlan, 1);

    plan->disks = g_ptr_array_new_with_free_func(cloneDiskFree);
    plan->copies = g_ptr_array_new_with_free_func(cloneCopyFree);
    plan->newFiles = g_ptr_array_new_with_free_func(g_free);
    plan->ownedFiles = g_ptr_array_new_with_free_func(g_free);
    plan->nics = g_ptr_array_new_with_free_func(cloneNicFree);
    return plan;
}


/* ---- XML helpers ------------------------------------------------------- */

/* the generic ones (parse, XPath, attributes) are in clone_xml.c */

static xmlDocPtr
cloneDomainXMLParse(const char *xml, xmlXPathContextPtr *ctxt)
{
    return cloneXMLParse(xml, "domain", VIR_CLONE_ERR_INVALID_ARG,
                         _("the source's domain XML cannot be parsed"), ctxt);
}


static void
cloneXMLSetText(xmlNodePtr node, const char *text)
{
    xmlNodeSetContent(node, NULL);
    xmlNodeAddContent(node, BAD_CAST text);
}


static void
cloneXMLSetChildText(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = cloneXMLChild(parent, name);

    if (!n)
        n = xmlNewChild(parent, NULL, BAD_CAST name, NULL);
    cloneXMLSetText(n, text);
}


static void
cloneXMLRemoveChildren(xmlNodePtr parent, const char *name)
{
    xmlNodePtr c = parent->children;

    while (c) {
        xmlNodePtr next = c->next;

        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
        c = next;
    }
}


static char *
cloneXMLFormat(xmlDocPtr doc)
{
    xmlChar *buf = NULL;
    int len = 0;
    const char *start;
    char *ret;

    xmlDocDumpFormatMemory(doc, &buf, &len, 1);
    /* drop the <?xml ...?> declaration, as libvirt's own output has none */
    start = strstr((const char *)buf, "<domain");
    ret = g_strdup(start ? start : (const char *)buf);
    xmlFree(buf);
    return ret;
}


/* ---- the rewrite's state ------------------------------------------------ */

typedef struct {
    const cloneRewriteParams *p;
    const clonePolicy *policy;
    clonePolicy *defaults;     /* the policy when p->policy is NULL */
    const char *overlayDir;
    const char *uuid;          /* the clone's */
    char *srcName;
    char *srcUUID;
    xmlDocPtr doc;
    xmlNodePtr root;
    xmlXPathContextPtr ctxt;
    cloneDomainPlan *plan;
    GHashTable *srcPaths;      /* every absolute path in the source's XML */
    GHashTable *files;         /* a file of the clone -> the source's file it replaces */
    GPtrArray *srcMacs;        /* the MACs of the source's NICs */
    GHashTable *cloneMacs;     /* the MACs given to the clone so far */
} cloneRewriteCtx;


static void
cloneRewriteCtxClear(cloneRewriteCtx *ctx)
{
    clonePolicyFree(ctx->defaults);
    g_free(ctx->srcName);
    g_free(ctx->srcUUID);
    g_clear_pointer(&ctx->ctxt, xmlXPathFreeContext);
    g_clear_pointer(&ctx->doc, xmlFreeDoc);
    cloneDomainPlanFree(ctx->plan);
    g_clear_pointer(&ctx->srcPaths, g_hash_table_unref);
    g_clear_pointer(&ctx->files, g_hash_table_unref);
    g_clear_pointer(&ctx->srcMacs, g_ptr_array_unref);
    g_clear_pointer(&ctx->cloneMacs, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(cloneRewriteCtx, cloneRewriteCtxClear);


typedef int (*cloneNodeFunc)(cloneRewriteCtx *ctx, xmlNodePtr node, guint idx);

/* Calls @fn for every node that @expr selects, in document order, and
 * stops at the first failure. */
static int
cloneForEach(cloneRewriteCtx *ctx, const char *expr, cloneNodeFunc fn)
{
    g_autofree xmlNodePtr *nodes = NULL;
    guint n = cloneXPathNodes(ctx->ctxt, expr, &nodes);

    for (guint i = 0; i < n; i++)
        if (fn(ctx, nodes[i], i) < 0)
            return -1;
    return 0;
}


static gboolean
cloneHas(cloneRewriteCtx *ctx, const char *expr)
{
    return cloneXPathCount(ctx->ctxt, expr) > 0;
}


/* Every absolute path the source's XML mentions: no file of the clone may
 * be one of them. */
static void
cloneCollectSourcePaths(cloneRewriteCtx *ctx)
{
    g_autofree xmlNodePtr *nodes = NULL;
    guint n = cloneXPathNodes(ctx->ctxt,
                              "//@*[starts-with(., '/')] | "
                              "//text()[starts-with(normalize-space(.), '/')]", &nodes);

    ctx->srcPaths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < n; i++) {
        g_autofree char *v = cloneXMLText(nodes[i]);

        if (v)
            g_hash_table_add(ctx->srcPaths, g_steal_pointer(&v));
    }
}


/* Records @path as a file of the clone that stands for the source's
 * @orig.  One file of the source may appear several times (the console
 * that mirrors the first serial port), but two files of the source must
 * not become one of the clone, and no file of the source may be taken. */
static int
cloneClaimFile(cloneRewriteCtx *ctx, const char *path, const char *orig)
{
    const char *prev = g_hash_table_lookup(ctx->files, path);

    if (prev && !g_str_equal(prev, orig)) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("files '%1$s' and '%2$s' of domain '%3$s' would both become '%4$s' in the clone"),
                            prev, orig, ctx->srcName, path);
        return -1;
    }
    if (g_hash_table_contains(ctx->srcPaths, path)) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("file '%1$s' for the clone is used by domain '%2$s' itself"),
                            path, ctx->srcName);
        return -1;
    }
    g_hash_table_insert(ctx->files, g_strdup(path), g_strdup(orig));
    return 0;
}


/* A file the clone gets of its own, in p->fileDir or beside @orig: the
 * source's name at the start of the file name becomes the clone's
 * ("web-serial.log" -> "clone1-serial.log", "web" -> "clone1"), otherwise
 * the clone's name is put in front ("serial.log" -> "clone1-serial.log"). */
static char *
cloneFileName(cloneRewriteCtx *ctx, const char *orig)
{
    const cloneRewriteParams *p = ctx->p;
    g_autofree char *dir = p->fileDir ? g_strdup(p->fileDir) : g_path_get_dirname(orig);
    g_autofree char *base = g_path_get_basename(orig);

    if (g_str_has_prefix(base, ctx->srcName))
        return g_strdup_printf("%s/%s%s", dir, p->name, base + strlen(ctx->srcName));
    return g_strdup_printf("%s/%s-%s", dir, p->name, base);
}


/* The clone's own file for the source's file @orig, which the clone's QEMU
 * creates: recorded in plan->newFiles (once). */
static char *
cloneNewFile(cloneRewriteCtx *ctx, const char *orig)
{
    g_autofree char *path = cloneFileName(ctx, orig);
    GPtrArray *files = ctx->plan->newFiles;

    if (cloneClaimFile(ctx, path, orig) < 0)
        return NULL;
    if (!g_ptr_array_find_with_equal_func(files, path, g_str_equal, NULL))
        g_ptr_array_add(files, g_strdup(path));
    return g_steal_pointer(&path);
}


/* Gives the attribute @attr of @node (a path of the source) a new file of
 * the clone's own; nothing to do without the attribute. */
static int
cloneNewFileProp(cloneRewriteCtx *ctx, xmlNodePtr node, const char *attr)
{
    g_autofree char *orig = cloneXMLProp(node, attr);
    g_autofree char *path = NULL;

    if (!orig)
        return 0;
    if (!(path = cloneNewFile(ctx, orig)))
        return -1;
    xmlSetProp(node, BAD_CAST attr, BAD_CAST path);
    return 0;
}


/* ---- identity ------------------------------------------------------------ */

/* The name and UUID come from the caller (which expands the policy's name
 * template); a UUID the policy names must be the one the caller passes. */
static int
cloneCheckIdentity(cloneRewriteCtx *ctx)
{
    const char *policyUUID = ctx->policy->uuid;

    if (!ctx->p->name || !ctx->p->stamp || g_str_equal(ctx->p->name, ctx->srcName)) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("the clone of domain '%1$s' needs a name and a stamp of its own"),
                            ctx->srcName);
        return -1;
    }
    ctx->uuid = ctx->p->uuid ? ctx->p->uuid : policyUUID;
    if (!ctx->uuid) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("the clone of domain '%1$s' has no UUID"), ctx->srcName);
        return -1;
    }
    if (policyUUID && g_ascii_strcasecmp(policyUUID, ctx->uuid) != 0) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone policy asks for UUID '%1$s', but the clone of domain '%2$s' was given UUID '%3$s'"),
                            policyUUID, ctx->srcName, ctx->uuid);
        return -1;
    }
    if (ctx->srcUUID && g_ascii_strcasecmp(ctx->uuid, ctx->srcUUID) == 0) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone cannot have the UUID '%1$s' of its source '%2$s'"),
                            ctx->uuid, ctx->srcName);
        return -1;
    }
    return 0;
}


static int
cloneDropLabels(cloneRewriteCtx *ctx G_GNUC_UNUSED, xmlNodePtr seclabel, guint idx G_GNUC_UNUSED)
{
    cloneXMLRemoveChildren(seclabel, "label");
    cloneXMLRemoveChildren(seclabel, "imagelabel");
    return 0;
}


/* Name, UUID and generation ID.  An empty <genid/> makes libvirt generate
 * a new one; QEMU writes it into guest memory on load and notifies the
 * guest, which reseeds its RNG.  Dynamic security labels are libvirt's to
 * choose anew. */
static int
cloneRewriteIdentity(cloneRewriteCtx *ctx)
{
    g_autofree xmlNodePtr *genid = NULL;

    xmlUnsetProp(ctx->root, BAD_CAST "id");
    cloneXMLSetChildText(ctx->root, "name", ctx->p->name);
    cloneXMLSetChildText(ctx->root, "uuid", ctx->uuid);
    if (cloneXPathNodes(ctx->ctxt, "/domain/genid", &genid) > 0 &&
        ctx->policy->genid == CLONE_GENID_AUTO) {
        xmlNodeSetContent(genid[0], NULL);
        ctx->plan->hasGenid = TRUE;
    }
    return cloneForEach(ctx, "/domain/seclabel[@type='dynamic']", cloneDropLabels);
}


/* ---- devices that belong to one guest ----------------------------------- */

static int
cloneCheckHostDevices(cloneRewriteCtx *ctx)
{
    g_autofree char *input = NULL;

    if (cloneHas(ctx, "/domain/devices/hostdev")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: it has a host device passed through (<hostdev>), which belongs to one guest"),
                            ctx->srcName);
        return -1;
    }
    if (cloneHas(ctx, "/domain/devices/redirdev")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: it has a redirected USB device (<redirdev>), which its client attaches to the source only"),
                            ctx->srcName);
        return -1;
    }
    if (cloneHas(ctx, "/domain/devices/smartcard[@mode='host']")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: it uses the host's smartcard reader (<smartcard mode='host'>), which belongs to one guest"),
                            ctx->srcName);
        return -1;
    }
    input = cloneXPathString(ctx->ctxt, "string(/domain/devices/input[@type='passthrough' or @type='evdev']/@type)");
    if (input) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: it has a host input device passed through (<input type='%2$s'>), which belongs to one guest"),
                            ctx->srcName, input);
        return -1;
    }
    return 0;
}


/* ---- memory ---------------------------------------------------------------
 * RAM itself, hugepages, memfd and file-backed RAM (shared or private) are
 * fine: libvirt gives every domain its own backing files, so the clone
 * never maps the source's RAM.  What the source shares with the host is
 * refused. */

static int
cloneCheckPmem(cloneRewriteCtx *ctx, xmlNodePtr mem, guint idx G_GNUC_UNUSED)
{
    g_autofree char *model = cloneXMLProp(mem, "model");
    g_autofree char *path = cloneXMLText(cloneXMLChild(cloneXMLChild(mem, "source"), "path"));

    if (!path)
        return 0;
    virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                        _("domain '%1$s' cannot be live-cloned: its %2$s memory device is the host file '%3$s', which the clone would map and write as well"),
                        ctx->srcName, model, path);
    return -1;
}


static int
cloneCheckMemory(cloneRewriteCtx *ctx)
{
    g_autofree char *sec = cloneXPathString(ctx->ctxt, "string(/domain/launchSecurity/@type)");
    g_autofree char *shmem = cloneXPathString(ctx->ctxt, "string(/domain/devices/shmem/@name)");

    if (sec) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: its memory is encrypted (<launchSecurity type='%2$s'>) and cannot be copied to another guest"),
                            ctx->srcName, sec);
        return -1;
    }
    if (shmem) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: its shared memory '%2$s' (<shmem>) is shared with the host, and the clone would write into it as well"),
                            ctx->srcName, shmem);
        return -1;
    }
    return cloneForEach(ctx, "/domain/devices/memory[@model='nvdimm' or @model='virtio-pmem']",
                        cloneCheckPmem);
}


/* ---- filesystems ----------------------------------------------------------
 * 9p stays: QEMU itself blocks the migration while the guest has the
 * export mounted (the orchestrator reads QEMU's migration blockers).
 * virtiofs is refused. */

static int
cloneCheckFilesystem(cloneRewriteCtx *ctx, xmlNodePtr fs, guint idx G_GNUC_UNUSED)
{
    g_autofree char *tag = cloneXMLProp(cloneXMLChild(fs, "target"), "dir");

    if (!cloneXMLPropIs(cloneXMLChild(fs, "driver"), "type", "virtiofs"))
        return 0;
    virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                        _("domain '%1$s' cannot be live-cloned: its virtiofs filesystem '%2$s' is served by a virtiofsd bound to the source, which shares the host directory read-write"),
                        ctx->srcName, tag ? tag : "?");
    return -1;
}


static int
cloneCheckFilesystems(cloneRewriteCtx *ctx)
{
    return cloneForEach(ctx, "/domain/devices/filesystem", cloneCheckFilesystem);
}


/* ---- vTPM -------------------------------------------------------------------
 * swtpm's state travels in the migration stream, so a clone has the
 * source's TPM (its keys included) unless the policy refuses. */

static int
cloneRewriteTpmState(cloneRewriteCtx *ctx, xmlNodePtr backend)
{
    xmlNodePtr source = cloneXMLChild(backend, "source");
    g_autofree char *from = cloneXMLProp(source, "path");
    g_autofree char *to = NULL;

    if (!from)
        return 0;
    to = cloneFileName(ctx, from);
    if (cloneClaimFile(ctx, to, from) < 0)
        return -1;
    xmlSetProp(source, BAD_CAST "path", BAD_CAST to);
    ctx->plan->tpmStateIsDir = cloneXMLPropIs(source, "type", "dir");
    ctx->plan->tpmStateFrom = g_steal_pointer(&from);
    ctx->plan->tpmStateTo = g_steal_pointer(&to);
    return 0;
}


static int
cloneRewriteTpm(cloneRewriteCtx *ctx, xmlNodePtr tpm, guint idx G_GNUC_UNUSED)
{
    xmlNodePtr backend = cloneXMLChild(tpm, "backend");
    g_autofree char *type = cloneXMLProp(backend, "type");

    if (cloneTpmAllowed(ctx->srcName, type, ctx->policy) < 0)
        return -1;
    ctx->plan->tpmClone = TRUE;
    /* libvirt removes a transient domain's TPM state when it stops, unless
     * persistent_state='yes': an ephemeral clone's must go with it */
    if (ctx->p->ephemeral)
        xmlUnsetProp(backend, BAD_CAST "persistent_state");
    return cloneRewriteTpmState(ctx, backend);
}


static int
cloneRewriteTpms(cloneRewriteCtx *ctx)
{
    return cloneForEach(ctx, "/domain/devices/tpm", cloneRewriteTpm);
}


/* ---- firmware -------------------------------------------------------------
 * The loader is shared read-only; the NVRAM is copied.  QEMU rewrites the
 * clone's copy from the migrated flash contents after the load, so the copy
 * only has to exist. */

static int
cloneCheckLoader(cloneRewriteCtx *ctx, xmlNodePtr loader, guint idx G_GNUC_UNUSED)
{
    g_autofree char *path = cloneXMLText(loader);

    if (!cloneXMLPropIs(loader, "type", "pflash") || cloneXMLPropIs(loader, "readonly", "yes"))
        return 0;
    virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                        _("domain '%1$s' cannot be live-cloned: its firmware '%2$s' is a writable pflash <loader> (no readonly='yes'), which the source keeps open for writing"),
                        ctx->srcName, path ? path : "?");
    return -1;
}


/* libvirt's own naming: NAME_VARS.fd (NAME_VARS.qcow2 for format qcow2) */
static char *
cloneNvramName(cloneRewriteCtx *ctx, xmlNodePtr nvram, const char *orig)
{
    const char *dir = ctx->p->fileDir;
    g_autofree char *origDir = g_path_get_dirname(orig);
    const char *ext = cloneXMLPropIs(nvram, "format", "qcow2") ? "qcow2" : "fd";

    return g_strdup_printf("%s/%s_VARS.%s", dir ? dir : origDir, ctx->p->name, ext);
}


static int
cloneRewriteNvram(cloneRewriteCtx *ctx, xmlNodePtr nvram, guint idx G_GNUC_UNUSED)
{
    g_autofree char *type = cloneXMLProp(nvram, "type");
    xmlNodePtr source = cloneXMLChild(nvram, "source");
    g_autofree char *orig = source ? cloneXMLProp(source, "file") : cloneXMLText(nvram);
    cloneCopy *c;

    if (type && !g_str_equal(type, "file")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("domain '%1$s' cannot be live-cloned: its NVRAM is not a file (<nvram type='%2$s'>) and cannot be copied for the clone"),
                            ctx->srcName, type);
        return -1;
    }
    if (!orig)
        return 0;
    c = g_new0(cloneCopy, 1);
    c->to = cloneNvramName(ctx, nvram, orig);
    c->from = g_steal_pointer(&orig);
    g_ptr_array_add(ctx->plan->copies, c);
    if (cloneClaimFile(ctx, c->to, c->from) < 0)
        return -1;
    if (source)
        xmlSetProp(source, BAD_CAST "file", BAD_CAST c->to);
    else
        cloneXMLSetText(nvram, c->to);
    return 0;
}


static int
cloneRewriteFirmware(cloneRewriteCtx *ctx)
{
    if (cloneForEach(ctx, "/domain/os/loader", cloneCheckLoader) < 0)
        return -1;
    return cloneForEach(ctx, "/domain/os/nvram", cloneRewriteNvram);
}


/* ---- disks --------------------------------------------------------------- */

/* What the rewrite needs to know of one <disk>. */
typedef struct {
    const char *target;
    char *type;           /* file, block, network, volume, ... */
    char *device;         /* disk, cdrom, floppy, lun */
    char *path;           /* file or block device; NULL for others */
    char *format;         /* <driver type>, default raw */
    xmlNodePtr source;
    gboolean readonly;    /* <readonly/> or a cdrom */
    gboolean removable;   /* cdrom or floppy: can be left without a medium */
    gboolean empty;       /* no medium */
} cloneDiskInfo;


static void
cloneDiskInfoClear(cloneDiskInfo *info)
{
    g_free(info->type);
    g_free(info->device);
    g_free(info->path);
    g_free(info->format);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(cloneDiskInfo, cloneDiskInfoClear);


static void
cloneDiskInfoRead(xmlNodePtr disk, const char *target, cloneDiskInfo *info)
{
    gboolean local;

    info->target = target;
    info->type = cloneXMLProp(disk, "type");
    info->device = cloneXMLProp(disk, "device");
    info->source = cloneXMLChild(disk, "source");
    info->format = cloneXMLProp(cloneXMLChild(disk, "driver"), "type");
    if (!info->type)
        info->type = g_strdup("file");
    if (!info->device)
        info->device = g_strdup("disk");
    if (!info->format)
        info->format = g_strdup("raw");
    local = g_str_equal(info->type, "file") || g_str_equal(info->type, "block");
    if (local)
        info->path = cloneXMLProp(info->source, g_str_equal(info->type, "file") ? "file" : "dev");
    info->removable = g_str_equal(info->device, "cdrom") || g_str_equal(info->device, "floppy");
    info->readonly = g_str_equal(info->device, "cdrom") || cloneXMLChild(disk, "readonly");
    info->empty = !info->source || (local && !info->path);
}


/* Disks that cannot be cloned whatever the policy says. */
static int
cloneDiskRefuse(xmlNodePtr disk, const cloneDiskInfo *info)
{
    if (g_str_equal(info->device, "lun")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is a SCSI LUN passed through (device='lun'): the clone cannot get a copy of it"),
                            info->target);
        return -1;
    }
    if (g_str_equal(info->type, "nvme") || g_str_equal(info->type, "vhostuser") ||
        g_str_equal(info->type, "vhostvdpa")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' of type '%2$s' is a host device or a backend that serves the source only: the clone cannot have it"),
                            info->target, info->type);
        return -1;
    }
    if (cloneXMLChild(disk, "transient")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is <transient/>: its writes go to an overlay that libvirt deletes when the source stops, so no clone can be based on it"),
                            info->target);
        return -1;
    }
    if (cloneXMLChild(disk, "mirror")) {
        virCloneReportError(VIR_CLONE_ERR_BUSY,
                            _("disk '%1$s' is being copied by a block job (<mirror>): clone the domain when the job has finished"),
                            info->target);
        return -1;
    }
    return 0;
}


static cloneDiskAction
cloneDiskChooseAction(cloneRewriteCtx *ctx, const cloneDiskInfo *info)
{
    const clonePolicyDisk *pd = clonePolicyFindDisk(ctx->policy, info->target);

    if (pd && pd->action != CLONE_DISK_DEFAULT)
        return pd->action;
    if (info->readonly || info->empty)
        return CLONE_DISK_SHARE_READONLY;
    return CLONE_DISK_FORK;
}


/* The source's node indexes (<source index='N'>, <backingStore index='N'>)
 * are its bookkeeping: libvirt numbers the clone's nodes itself. */
static void
cloneDiskDropIndexes(xmlNodePtr node)
{
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrEqual(c->name, BAD_CAST "source") || xmlStrEqual(c->name, BAD_CAST "backingStore"))
            xmlUnsetProp(c, BAD_CAST "index");
        if (xmlStrEqual(c->name, BAD_CAST "backingStore"))
            cloneDiskDropIndexes(c);
    }
}


static int
cloneDiskShare(xmlNodePtr disk, const cloneDiskInfo *info)
{
    if (info->readonly || info->empty) {
        cloneDiskDropIndexes(disk);
        return 0;
    }
    virCloneReportError(VIR_CLONE_ERR_POLICY,
                        _("disk '%1$s' is writable in the source: it cannot be shared with the clone, because the source keeps writing to it; use the action 'fork'"),
                        info->target);
    return -1;
}


/* The clone gets the drive without a medium; the source keeps its medium.
 * Only a removable drive can be left empty: QEMU's migration needs the same
 * devices on both sides, and a disk without a medium is no device. */
static int
cloneDiskExclude(xmlNodePtr disk, const cloneDiskInfo *info)
{
    if (!info->removable) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("disk '%1$s' cannot be excluded: the migration needs the same devices in the clone, and only a cdrom or floppy drive can be left without a medium"),
                            info->target);
        return -1;
    }
    cloneXMLRemoveChildren(disk, "source");
    cloneXMLRemoveChildren(disk, "backingStore");
    if (!g_str_equal(info->type, "block"))
        xmlSetProp(disk, BAD_CAST "type", BAD_CAST "file");
    return 0;
}


static gboolean
cloneDiskFormatCanBack(const char *format)
{
    static const char *const formats[] = {
        "raw", "qcow2", "qcow", "qed", "vmdk", "vdi", "vpc", "vhdx", NULL
    };

    return g_strv_contains(formats, format);
}


/* Reasons a writable disk with a medium cannot be forked. */
static int
cloneDiskCheckForkable(xmlNodePtr disk, const cloneDiskInfo *info)
{
    if (cloneXMLChild(disk, "shareable")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is shareable and writable: the source keeps writing to it, and a clone writing as well would corrupt it"),
                            info->target);
        return -1;
    }
    if (g_str_equal(info->type, "network")) {
        g_autofree char *protocol = cloneXMLProp(info->source, "protocol");

        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is a network disk (protocol '%2$s'): no local overlay can be put over it, so it cannot be forked; only a read-only network disk can be shared"),
                            info->target, protocol ? protocol : "?");
        return -1;
    }
    if (!info->path) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' of type '%2$s' cannot be forked: only file and block disks can"),
                            info->target, info->type);
        return -1;
    }
    return 0;
}


static int
cloneDiskCheckImage(cloneRewriteCtx *ctx, xmlNodePtr disk, const cloneDiskInfo *info)
{
    if (cloneXMLChild(info->source, "encryption") || cloneXMLChild(disk, "encryption")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is encrypted (<encryption>): an overlay over an encrypted image is not supported"),
                            info->target);
        return -1;
    }
    if (cloneXMLChild(info->source, "slices")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' uses a slice of its image (<slices>): an overlay cannot name a slice as its backing file"),
                            info->target);
        return -1;
    }
    if (!cloneDiskFormatCanBack(info->format)) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' has the format '%2$s', which cannot back a qcow2 overlay"),
                            info->target, info->format);
        return -1;
    }
    if (g_str_equal(info->type, "block") && !ctx->overlayDir) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is the block device '%2$s': its overlays cannot go beside it, so the clone policy must name a directory for them (<disks dir='...'/>)"),
                            info->target, info->path);
        return -1;
    }
    return 0;
}


static int
cloneDiskCheckFork(cloneRewriteCtx *ctx, xmlNodePtr disk, const cloneDiskInfo *info)
{
    if (info->empty) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("disk '%1$s' has no medium: there is nothing to fork"),
                            info->target);
        return -1;
    }
    if (info->readonly) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("disk '%1$s' is read-only in the source: there is nothing to fork; use the action 'share-readonly'"),
                            info->target);
        return -1;
    }
    if (cloneDiskCheckForkable(disk, info) < 0)
        return -1;
    return cloneDiskCheckImage(ctx, disk, info);
}


/* Points the clone's <disk> at its overlay: a qcow2 file backed by the
 * source's current top, whose chain libvirt reads from the image header. */
static void
cloneDiskPointAtOverlay(xmlNodePtr disk, const char *overlay)
{
    xmlNodePtr driver = cloneXMLChild(disk, "driver");
    xmlNodePtr source;

    if (!driver) {
        driver = xmlNewNode(NULL, BAD_CAST "driver");
        xmlNewProp(driver, BAD_CAST "name", BAD_CAST "qemu");
        if (disk->children)
            xmlAddPrevSibling(disk->children, driver);
        else
            xmlAddChild(disk, driver);
    }
    xmlSetProp(driver, BAD_CAST "type", BAD_CAST "qcow2");
    cloneXMLRemoveChildren(disk, "source");
    cloneXMLRemoveChildren(disk, "backingStore");
    source = xmlNewNode(NULL, BAD_CAST "source");
    xmlNewProp(source, BAD_CAST "file", BAD_CAST overlay);
    xmlAddNextSibling(driver, source);
    xmlSetProp(disk, BAD_CAST "type", BAD_CAST "file");
}


static int
cloneRewriteDiskTop(cloneRewriteCtx *ctx, xmlNodePtr disk, const cloneDiskInfo *info, cloneDisk *d)
{
    g_autofree char *dir = NULL;
    g_autofree char *srcDir = NULL;

    if (cloneDiskCheckFork(ctx, disk, info) < 0)
        return -1;
    d->srcPath = g_strdup(info->path);
    d->srcFormat = g_strdup(info->format);
    dir = ctx->overlayDir ? g_strdup(ctx->overlayDir) : g_path_get_dirname(d->srcPath);
    /* the source's next top stays with the source's images (wiping the
     * clones' directory must not take the source's active image with it);
     * only a block device's directory (/dev/...) cannot hold it */
    srcDir = g_str_has_prefix(d->srcPath, "/dev/") ? g_strdup(dir) : g_path_get_dirname(d->srcPath);
    d->cloneOverlay = g_strdup_printf("%s/%s-%s.qcow2", dir, ctx->p->name, d->target);
    d->sourceOverlay = g_strdup_printf("%s/%s-%s.%s.qcow2", srcDir, ctx->srcName, d->target,
                                       ctx->p->stamp);
    if (cloneClaimFile(ctx, d->cloneOverlay, d->srcPath) < 0 ||
        cloneClaimFile(ctx, d->sourceOverlay, d->srcPath) < 0)
        return -1;
    cloneDiskPointAtOverlay(disk, d->cloneOverlay);
    return 0;
}


static int
cloneRewriteDisk(cloneRewriteCtx *ctx, xmlNodePtr disk, guint idx G_GNUC_UNUSED)
{
    cloneDisk *d = g_new0(cloneDisk, 1);
    g_auto(cloneDiskInfo) info = { 0 };

    g_ptr_array_add(ctx->plan->disks, d);
    if (!(d->target = cloneXMLProp(cloneXMLChild(disk, "target"), "dev"))) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("a disk of domain '%1$s' has no target"), ctx->srcName);
        return -1;
    }
    cloneDiskInfoRead(disk, d->target, &info);
    if (cloneDiskRefuse(disk, &info) < 0)
        return -1;
    d->action = cloneDiskChooseAction(ctx, &info);
    switch (d->action) {
    case CLONE_DISK_FORK:
        return cloneRewriteDiskTop(ctx, disk, &info, d);
    case CLONE_DISK_SHARE_READONLY:
        return cloneDiskShare(disk, &info);
    case CLONE_DISK_EXCLUDE:
        return cloneDiskExclude(disk, &info);
    case CLONE_DISK_DEFAULT:
    case CLONE_DISK_ACTION_LAST:
        break;
    }
    virCloneReportError(VIR_CLONE_ERR_INTERNAL, _("unexpected action for disk '%1$s'"), d->target);
    return -1;
}


/* Every disk the policy names must exist: a typo would otherwise fork a
 * disk the user meant to exclude. */
static int
cloneCheckPolicyDisks(cloneRewriteCtx *ctx)
{
    for (guint i = 0; ctx->policy->disks && i < ctx->policy->disks->len; i++) {
        const clonePolicyDisk *pd = g_ptr_array_index(ctx->policy->disks, i);
        g_autofree char *expr = NULL;

        if (strchr(pd->target, '\'') == NULL) {
            expr = g_strdup_printf("/domain/devices/disk/target[@dev='%s']", pd->target);
            if (cloneHas(ctx, expr))
                continue;
        }
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone policy names disk '%1$s', which domain '%2$s' does not have"),
                            pd->target, ctx->srcName);
        return -1;
    }
    return 0;
}


static int
cloneRewriteDisks(cloneRewriteCtx *ctx)
{
    const char *format = ctx->policy->overlayFormat;

    if (format && !g_str_equal(format, "qcow2")) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone policy asks for overlays of format '%1$s': only qcow2 is supported"),
                            format);
        return -1;
    }
    if (cloneCheckPolicyDisks(ctx) < 0)
        return -1;
    return cloneForEach(ctx, "/domain/devices/disk", cloneRewriteDisk);
}


/* ---- NICs ---------------------------------------------------------------- */

static gboolean
cloneIsSourceMac(cloneRewriteCtx *ctx, const char *mac)
{
    for (guint i = 0; i < ctx->srcMacs->len; i++)
        if (g_ascii_strcasecmp(g_ptr_array_index(ctx->srcMacs, i), mac) == 0)
            return TRUE;
    return FALSE;
}


static void
cloneCollectSourceMacs(cloneRewriteCtx *ctx)
{
    g_autofree xmlNodePtr *nodes = NULL;
    guint n = cloneXPathNodes(ctx->ctxt, "/domain/devices/interface/mac/@address", &nodes);

    ctx->srcMacs = g_ptr_array_new_with_free_func(g_free);
    ctx->cloneMacs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < n; i++) {
        g_autofree char *mac = cloneXMLText(nodes[i]);

        if (mac)
            g_ptr_array_add(ctx->srcMacs, g_ascii_strdown(mac, -1));
    }
}


/* A MAC derived from the clone's UUID, so that the rewrite stays a pure
 * function: 52:54:00 (QEMU's prefix, locally administered in libvirt's
 * sense) and three bytes of a hash.  @attempt steps past collisions. */
static char *
cloneDerivedMac(cloneRewriteCtx *ctx, guint idx, guint attempt)
{
    g_autofree char *seed = g_strdup_printf("%s/%u/%u", ctx->uuid, idx, attempt);
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, seed, -1);

    return g_strdup_printf("52:54:00:%.2s:%.2s:%.2s", sum, sum + 2, sum + 4);
}


/* A MAC that the policy gives to some NIC of the clone. */
static gboolean
cloneIsPolicyMac(cloneRewriteCtx *ctx, const char *mac)
{
    for (guint i = 0; ctx->policy->nics && i < ctx->policy->nics->len; i++) {
        const clonePolicyNic *pn = g_ptr_array_index(ctx->policy->nics, i);

        if (pn->mode == CLONE_MAC_SET && g_ascii_strcasecmp(pn->mac, mac) == 0)
            return TRUE;
    }
    return FALSE;
}


static char *
cloneNewMac(cloneRewriteCtx *ctx, guint idx)
{
    g_autofree char *mac = NULL;

    if (ctx->p->newMac)
        return ctx->p->newMac(idx, ctx->p->opaque);
    for (guint attempt = 0; attempt < 64; attempt++) {
        g_free(mac);
        mac = cloneDerivedMac(ctx, idx, attempt);
        if (!cloneIsSourceMac(ctx, mac) && !cloneIsPolicyMac(ctx, mac) &&
            !g_hash_table_contains(ctx->cloneMacs, mac))
            break;
    }
    return g_steal_pointer(&mac);
}


/* The NIC as the user knows it, for messages. */
static char *
cloneNicLabel(xmlNodePtr nic, guint idx)
{
    char *mac = cloneXMLProp(cloneXMLChild(nic, "mac"), "address");

    return mac ? mac : g_strdup_printf("#%u", idx);
}


/* NIC types whose host side the clone cannot have as well. */
static int
cloneNicRefuseType(xmlNodePtr nic, const char *label, const char *type)
{
    static const char *const allowed[] = {
        "network", "bridge", "direct", "user", "ethernet", "mcast", "client", "null", NULL
    };

    if (g_strv_contains(allowed, type))
        return 0;
    if (g_str_equal(type, "vhostuser")) {
        g_autofree char *path = cloneXMLProp(cloneXMLChild(nic, "source"), "path");

        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("interface '%1$s' is a vhost-user port: its socket '%2$s' is bound to the source's backend, so it cannot be cloned"),
                            label, path ? path : "?");
    } else if (g_str_equal(type, "hostdev") || g_str_equal(type, "vdpa")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("interface '%1$s' is a host device passed through (<interface type='%2$s'>), which belongs to one guest"),
                            label, type);
    } else if (g_str_equal(type, "server") || g_str_equal(type, "udp")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("interface '%1$s' is bound to a host port (<interface type='%2$s'>): the source holds the port, so the clone cannot have it"),
                            label, type);
    } else {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("interface '%1$s' of type '%2$s' cannot be cloned"),
                            label, type);
    }
    return -1;
}


/* Host-side devices that a NIC of an allowed type may still hold. */
static int
cloneNicRefuseHostSide(xmlNodePtr nic, const char *label, const char *type)
{
    xmlNodePtr source = cloneXMLChild(nic, "source");
    xmlNodePtr target = cloneXMLChild(nic, "target");

    if (g_str_equal(type, "direct") && cloneXMLPropIs(source, "mode", "passthrough")) {
        g_autofree char *dev = cloneXMLProp(source, "dev");

        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("interface '%1$s' is a macvtap in passthrough mode on '%2$s': the source holds that device, so the clone cannot have it"),
                            label, dev ? dev : "?");
        return -1;
    }
    if (g_str_equal(type, "ethernet") && cloneXMLPropIs(target, "managed", "no")) {
        g_autofree char *dev = cloneXMLProp(target, "dev");

        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("interface '%1$s' uses the tap device '%2$s' created outside libvirt (managed='no'): the source holds it, so the clone cannot have it"),
                            label, dev ? dev : "?");
        return -1;
    }
    return 0;
}


/* The policy's choice for one NIC: auto, keep or a given MAC.  Two NICs
 * with one MAC on a shared network steal each other's traffic, so the
 * source's MAC is kept only while the clone's links stay down or go to
 * the sandbox. */
static int
cloneNicChooseMac(cloneRewriteCtx *ctx, const char *label, guint idx, cloneNic *n)
{
    const clonePolicyNic *pn = clonePolicyFindNic(ctx->policy, n->sourceMac);

    n->mode = pn ? pn->mode : CLONE_MAC_AUTO;
    if (n->mode == CLONE_MAC_KEEP)
        n->mac = g_strdup(n->sourceMac);
    else if (n->mode == CLONE_MAC_SET)
        n->mac = g_strdup(pn->mac);
    else
        n->mac = cloneNewMac(ctx, idx);
    if (!n->mac) {
        virCloneReportError(VIR_CLONE_ERR_INTERNAL,
                            _("no MAC address for interface '%1$s' of the clone"), label);
        return -1;
    }
    if (cloneIsSourceMac(ctx, n->mac) && n->mode == CLONE_MAC_AUTO) {
        virCloneReportError(VIR_CLONE_ERR_INTERNAL,
                            _("the new MAC address '%1$s' for interface '%2$s' is the source's"),
                            n->mac, label);
        return -1;
    }
    if (!cloneIsSourceMac(ctx, n->mac) || ctx->policy->network != CLONE_NETWORK_INHERIT)
        return 0;
    if (n->mode == CLONE_MAC_KEEP)
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone policy keeps the MAC address of interface '%1$s' with network mode 'inherit': on the source's network two NICs with one MAC steal each other's traffic; use network mode 'sandbox' or 'disconnected', or a new MAC"),
                            label);
    else
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone policy gives interface '%1$s' the source's MAC address '%2$s' with network mode 'inherit': on the source's network two NICs with one MAC steal each other's traffic; use network mode 'sandbox' or 'disconnected', or another MAC"),
                            label, n->mac);
    return -1;
}


static int
cloneNicClaimMac(cloneRewriteCtx *ctx, const cloneNic *n)
{
    g_autofree char *mac = g_ascii_strdown(n->mac, -1);

    if (g_hash_table_contains(ctx->cloneMacs, mac)) {
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the MAC address '%1$s' would be given to two interfaces of the clone"),
                            n->mac);
        return -1;
    }
    g_hash_table_add(ctx->cloneMacs, g_steal_pointer(&mac));
    return 0;
}


/* No host-side device name (libvirt makes a new tap or macvtap), no
 * network port of the source, no host port forwards (the source holds the
 * ports), passt's log of its own, and the link down until the clone's
 * identity is settled. */
static int
cloneNicStripHostSide(cloneRewriteCtx *ctx, xmlNodePtr nic, const char *type)
{
    xmlNodePtr link;

    cloneXMLRemoveChildren(nic, "target");
    cloneXMLRemoveChildren(nic, "portForward");
    if (g_str_equal(type, "network")) {
        xmlNodePtr source = cloneXMLChild(nic, "source");

        /* the source's port on the network and its actual device */
        xmlUnsetProp(source, BAD_CAST "portid");
        xmlUnsetProp(source, BAD_CAST "bridge");
        xmlUnsetProp(source, BAD_CAST "dev");
    }
    if (cloneNewFileProp(ctx, cloneXMLChild(nic, "backend"), "logFile") < 0)
        return -1;
    cloneXMLRemoveChildren(nic, "link");
    link = xmlNewChild(nic, NULL, BAD_CAST "link", NULL);
    xmlNewProp(link, BAD_CAST "state", BAD_CAST "down");
    return 0;
}


static void
cloneNicSetMac(xmlNodePtr nic, const char *mac)
{
    xmlNodePtr macNode = cloneXMLChild(nic, "mac");

    if (!macNode) {
        macNode = xmlNewNode(NULL, BAD_CAST "mac");
        if (nic->children)
            xmlAddPrevSibling(nic->children, macNode);
        else
            xmlAddChild(nic, macNode);
    }
    xmlSetProp(macNode, BAD_CAST "address", BAD_CAST mac);
}


static int
cloneRewriteNic(cloneRewriteCtx *ctx, xmlNodePtr nic, guint idx)
{
    g_autofree char *type = cloneXMLProp(nic, "type");
    g_autofree char *label = cloneNicLabel(nic, idx);
    cloneNic *n;

    if (!type)
        type = g_strdup("?");
    if (cloneNicRefuseType(nic, label, type) < 0 || cloneNicRefuseHostSide(nic, label, type) < 0)
        return -1;
    n = g_new0(cloneNic, 1);
    g_ptr_array_add(ctx->plan->nics, n);
    n->type = g_strdup(type);
    n->alias = cloneXMLProp(cloneXMLChild(nic, "alias"), "name");
    n->sourceMac = cloneXMLProp(cloneXMLChild(nic, "mac"), "address");
    if (cloneNicChooseMac(ctx, label, idx, n) < 0 || cloneNicClaimMac(ctx, n) < 0)
        return -1;
    cloneNicSetMac(nic, n->mac);
    ctx->plan->nnics++;
    return cloneNicStripHostSide(ctx, nic, type);
}


static int
cloneCheckPolicyNics(cloneRewriteCtx *ctx)
{
    for (guint i = 0; ctx->policy->nics && i < ctx->policy->nics->len; i++) {
        const clonePolicyNic *pn = g_ptr_array_index(ctx->policy->nics, i);

        if (pn->sourceMac && cloneIsSourceMac(ctx, pn->sourceMac))
            continue;
        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone policy names the interface with MAC address '%1$s', which domain '%2$s' does not have"),
                            pn->sourceMac ? pn->sourceMac : "", ctx->srcName);
        return -1;
    }
    return 0;
}


static int
cloneRewriteNics(cloneRewriteCtx *ctx)
{
    if (cloneCheckPolicyNics(ctx) < 0)
        return -1;
    /* sandbox: the NICs stay as they are, link down; the sandbox moves them
     * to its isolated bridge before a link goes up */
    ctx->plan->nicsRehome = ctx->policy->network == CLONE_NETWORK_SANDBOX;
    return cloneForEach(ctx, "/domain/devices/interface", cloneRewriteNic);
}


/* ---- character devices ---------------------------------------------------
 * Logs, files and listening sockets become the clone's own; ptys are
 * allocated anew; a socket the source connects to is connected to by the
 * clone as well; what only one guest can hold is refused. */

static char *
cloneChardevLabel(xmlNodePtr chr)
{
    xmlNodePtr target = cloneXMLChild(chr, "target");
    g_autofree char *name = cloneXMLProp(target, "name");
    g_autofree char *port = cloneXMLProp(target, "port");

    if (name)
        return g_strdup_printf("%s %s", (const char *)chr->name, name);
    return g_strdup_printf("%s%s", (const char *)chr->name, port ? port : "");
}


static int
cloneChardevRefuseBound(xmlNodePtr chr, const char *type)
{
    g_autofree char *label = cloneChardevLabel(chr);
    g_autofree char *service = NULL;
    g_autofree char *path = cloneXMLProp(cloneXMLChild(chr, "source"), "path");

    if (g_str_equal(type, "dev")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("character device '%1$s' is the host device '%2$s': the source holds it, so the clone cannot have it"),
                            label, path ? path : "?");
        return -1;
    }
    if (g_str_equal(type, "pipe") || g_str_equal(type, "nmdm")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("character device '%1$s' is the pipe '%2$s', which the source reads: the clone cannot read it as well"),
                            label, path ? path : "?");
        return -1;
    }
    for (xmlNodePtr s = chr->children; s; s = s->next) {
        if (s->type != XML_ELEMENT_NODE || !xmlStrEqual(s->name, BAD_CAST "source") ||
            !cloneXMLPropIs(s, "mode", "bind"))
            continue;
        service = cloneXMLProp(s, "service");
        if (g_str_equal(type, "udp"))
            virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                                _("character device '%1$s' is bound to UDP port '%2$s': the source holds the port, so the clone cannot have it"),
                                label, service ? service : "?");
        else
            virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                                _("character device '%1$s' listens on TCP port '%2$s': the source holds the port, so the clone cannot have it; a pty or a UNIX socket can be cloned"),
                                label, service ? service : "?");
        return -1;
    }
    return 0;
}


/* A virtio channel whose socket libvirt made in its channel directory
 * (the guest agent's, typically): libvirt makes one for the clone. */
static gboolean
cloneChardevAutoSocket(xmlNodePtr chr, const char *path)
{
    return xmlStrEqual(chr->name, BAD_CAST "channel") &&
           cloneXMLPropIs(cloneXMLChild(chr, "target"), "type", "virtio") &&
           strstr(path, "/channel/target/") != NULL;
}


static int
cloneRewriteChardevUnix(cloneRewriteCtx *ctx, xmlNodePtr chr)
{
    xmlNodePtr source = cloneXMLChild(chr, "source");
    g_autofree char *path = cloneXMLProp(source, "path");

    if (!path || !cloneXMLPropIs(source, "mode", "bind"))
        return 0;
    if (cloneChardevAutoSocket(chr, path)) {
        xmlUnsetProp(source, BAD_CAST "path");
        return 0;
    }
    return cloneNewFileProp(ctx, source, "path");
}


/* libvirt allocates a new pty for the clone. */
static void
cloneChardevDropPty(xmlNodePtr chr)
{
    xmlNodePtr source = cloneXMLChild(chr, "source");

    xmlUnsetProp(chr, BAD_CAST "tty");
    if (!source)
        return;
    xmlUnsetProp(source, BAD_CAST "path");
    if (!source->properties && !source->children) {
        xmlUnlinkNode(source);
        xmlFreeNode(source);
    }
}


static int
cloneRewriteChardev(cloneRewriteCtx *ctx, xmlNodePtr chr, guint idx G_GNUC_UNUSED)
{
    g_autofree char *type = cloneXMLProp(chr, "type");

    if (!type)
        return 0;
    if (g_str_equal(type, "tcp") || g_str_equal(type, "udp") || g_str_equal(type, "dev") ||
        g_str_equal(type, "pipe") || g_str_equal(type, "nmdm")) {
        if (cloneChardevRefuseBound(chr, type) < 0)
            return -1;
    }
    if (cloneNewFileProp(ctx, cloneXMLChild(chr, "log"), "file") < 0)
        return -1;
    if (g_str_equal(type, "pty")) {
        cloneChardevDropPty(chr);
    } else if (g_str_equal(type, "file")) {
        return cloneNewFileProp(ctx, cloneXMLChild(chr, "source"), "path");
    } else if (g_str_equal(type, "unix")) {
        return cloneRewriteChardevUnix(ctx, chr);
    }
    return 0;
}


static int
cloneRewriteChardevs(cloneRewriteCtx *ctx)
{
    return cloneForEach(ctx, CLONE_CHARDEVS, cloneRewriteChardev);
}


/* ---- graphics, vsock, pstore ---------------------------------------------- */

static int
cloneDropSocket(cloneRewriteCtx *ctx G_GNUC_UNUSED, xmlNodePtr listen, guint idx G_GNUC_UNUSED)
{
    xmlUnsetProp(listen, BAD_CAST "socket");
    return 0;
}


/* Fixed ports and the source's sockets would clash: the clone's display
 * gets ports (and a websocket, if the source has one) of libvirt's
 * choosing.  Passwords stay: the clone shows what the source shows. */
static int
cloneRewriteGraphic(cloneRewriteCtx *ctx G_GNUC_UNUSED, xmlNodePtr g, guint idx G_GNUC_UNUSED)
{
    gboolean ports = xmlHasProp(g, BAD_CAST "port") || xmlHasProp(g, BAD_CAST "tlsPort") ||
                     xmlHasProp(g, BAD_CAST "autoport");

    xmlUnsetProp(g, BAD_CAST "port");
    xmlUnsetProp(g, BAD_CAST "tlsPort");
    if (ports)
        xmlSetProp(g, BAD_CAST "autoport", BAD_CAST "yes");
    if (xmlHasProp(g, BAD_CAST "websocket"))
        xmlSetProp(g, BAD_CAST "websocket", BAD_CAST "-1");
    xmlUnsetProp(g, BAD_CAST "socket");
    return 0;
}


static int
cloneRewriteGraphics(cloneRewriteCtx *ctx)
{
    if (cloneForEach(ctx, "/domain/devices/graphics", cloneRewriteGraphic) < 0)
        return -1;
    return cloneForEach(ctx, "/domain/devices/graphics/listen[@socket]", cloneDropSocket);
}


/* A vsock CID is unique on the host: the clone gets one of libvirt's
 * choosing, and QEMU tells the guest after the load (transport reset). */
static int
cloneRewriteVsockCid(cloneRewriteCtx *ctx G_GNUC_UNUSED, xmlNodePtr cid, guint idx G_GNUC_UNUSED)
{
    xmlSetProp(cid, BAD_CAST "auto", BAD_CAST "yes");
    xmlUnsetProp(cid, BAD_CAST "address");
    return 0;
}


static int
cloneRewritePstore(cloneRewriteCtx *ctx, xmlNodePtr path, guint idx G_GNUC_UNUSED)
{
    g_autofree char *orig = cloneXMLText(path);
    g_autofree char *mine = NULL;

    if (!orig)
        return 0;
    if (!(mine = cloneNewFile(ctx, orig)))
        return -1;
    cloneXMLSetText(path, mine);
    return 0;
}


static int
cloneRewriteMisc(cloneRewriteCtx *ctx)
{
    if (cloneForEach(ctx, "/domain/devices/vsock/cid", cloneRewriteVsockCid) < 0)
        return -1;
    return cloneForEach(ctx, "/domain/devices/pstore/path", cloneRewritePstore);
}


/* ---- metadata and the incoming migration ---------------------------------- */

static void
cloneAddMetadataBases(cloneRewriteCtx *ctx, xmlNodePtr clone, xmlNsPtr ns)
{
    for (guint i = 0; i < ctx->plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(ctx->plan->disks, i);
        xmlNodePtr b;

        if (d->action != CLONE_DISK_FORK)
            continue;
        b = xmlNewChild(clone, ns, BAD_CAST "base", NULL);
        xmlNewProp(b, BAD_CAST "target", BAD_CAST d->target);
        xmlNewProp(b, BAD_CAST "path", BAD_CAST d->srcPath);
        xmlNewProp(b, BAD_CAST "format", BAD_CAST d->srcFormat);
        xmlNewProp(b, BAD_CAST "overlay", BAD_CAST d->cloneOverlay);
    }
}


/* <metadata><clone:clone> names the parent, the policy and the base image
 * of every forked disk (replacing what the source, if itself a clone,
 * carried). */
static int
cloneAddMetadata(cloneRewriteCtx *ctx)
{
    xmlNodePtr meta = cloneXMLChild(ctx->root, "metadata");
    xmlNodePtr clone;
    xmlNodePtr parent;
    xmlNsPtr ns;

    if (!meta)
        meta = xmlNewChild(ctx->root, NULL, BAD_CAST "metadata", NULL);
    for (xmlNodePtr c = meta->children; c; c = c->next) {
        if (c->ns && xmlStrEqual(c->ns->href, BAD_CAST CLONE_METADATA_NS)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
            break;
        }
    }
    clone = xmlNewChild(meta, NULL, BAD_CAST "clone", NULL);
    ns = xmlNewNs(clone, BAD_CAST CLONE_METADATA_NS, BAD_CAST CLONE_METADATA_PREFIX);
    xmlSetNs(clone, ns);
    parent = xmlNewChild(clone, ns, BAD_CAST "parent", NULL);
    xmlNewProp(parent, BAD_CAST "name", BAD_CAST ctx->srcName);
    xmlNewProp(parent, BAD_CAST "uuid", BAD_CAST(ctx->srcUUID ? ctx->srcUUID : ""));
    if (ctx->p->policyName)
        xmlNewTextChild(clone, ns, BAD_CAST "policy", BAD_CAST ctx->p->policyName);
    if (ctx->plan->sandboxBridge) {
        xmlNodePtr sb = xmlNewChild(clone, ns, BAD_CAST "sandbox", NULL);

        xmlNewProp(sb, BAD_CAST "bridge", BAD_CAST ctx->plan->sandboxBridge);
    }
    {
        xmlNodePtr life = xmlNewChild(clone, ns, BAD_CAST "lifecycle", NULL);

        xmlNewProp(life, BAD_CAST "ephemeral", BAD_CAST(ctx->p->ephemeral ? "yes" : "no"));
        if (ctx->p->expires) {
            g_autofree char *when = g_strdup_printf("%" G_GUINT64_FORMAT, ctx->p->expires);

            xmlNewProp(life, BAD_CAST "expires", BAD_CAST when);
        }
    }
    if (ctx->p->templateName) {
        xmlNodePtr t = xmlNewChild(clone, ns, BAD_CAST "template", NULL);

        xmlNewProp(t, BAD_CAST "name", BAD_CAST ctx->p->templateName);
        if (ctx->p->templatePolicy)
            xmlNewTextChild(t, ns, BAD_CAST "policy", BAD_CAST ctx->p->templatePolicy);
    }
    cloneAddMetadataBases(ctx, clone, ns);
    return 0;
}


static int
cloneAddIncoming(cloneRewriteCtx *ctx)
{
    xmlNsPtr ns = xmlSearchNsByHref(ctx->doc, ctx->root, BAD_CAST QEMU_NS);
    xmlNodePtr cmdline = NULL;
    xmlNodePtr arg;

    if (!ns)
        ns = xmlNewNs(ctx->root, BAD_CAST QEMU_NS, BAD_CAST "qemu");
    for (xmlNodePtr c = ctx->root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns == ns &&
            xmlStrEqual(c->name, BAD_CAST "commandline"))
            cmdline = c;
    if (!cmdline)
        cmdline = xmlNewChild(ctx->root, ns, BAD_CAST "commandline", NULL);
    arg = xmlNewChild(cmdline, ns, BAD_CAST "arg", NULL);
    xmlNewProp(arg, BAD_CAST "value", BAD_CAST "-incoming");
    arg = xmlNewChild(cmdline, ns, BAD_CAST "arg", NULL);
    xmlNewProp(arg, BAD_CAST "value", BAD_CAST "defer");
    return 0;
}



/* ---- templates -------------------------------------------------------------
 * The QEMU that makes a template gets its RAM from libvirt's own backend as
 * a shared file, which the template keeps.  A clone of the template maps
 * that file privately through a backend of its own: libvirt's backend of
 * the clone keeps its id (and stays unused: no RAM block, nothing
 * resident), the later -machine memory-backend wins, and the saved device
 * state names the clone's block (clone_vmstate.c). */

static void
cloneAddQemuArg(cloneRewriteCtx *ctx, const char *value)
{
    xmlNsPtr ns = xmlSearchNsByHref(ctx->doc, ctx->root, BAD_CAST QEMU_NS);
    xmlNodePtr cmdline = NULL;
    xmlNodePtr arg;

    for (xmlNodePtr c = ctx->root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns == ns &&
            xmlStrEqual(c->name, BAD_CAST "commandline"))
            cmdline = c;
    arg = xmlNewChild(cmdline, ns, BAD_CAST "arg", NULL);
    xmlNewProp(arg, BAD_CAST "value", BAD_CAST value);
}


/* QEMU's option syntax: a ',' in a value is written twice */
static char *
cloneQemuOptEscape(const char *value)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);

    return g_strjoinv(",,", parts);
}


static int
cloneRewriteTemplateMemory(cloneRewriteCtx *ctx)
{
    xmlNodePtr mb;

    if (ctx->p->templateQemu) {
        /* the template's checks refused any other <memoryBacking> */
        if ((mb = cloneXMLChild(ctx->root, "memoryBacking"))) {
            xmlUnlinkNode(mb);
            xmlFreeNode(mb);
        }
        mb = xmlNewChild(ctx->root, NULL, BAD_CAST "memoryBacking", NULL);
        xmlNewProp(xmlNewChild(mb, NULL, BAD_CAST "source", NULL), BAD_CAST "type", BAD_CAST "file");
        xmlNewProp(xmlNewChild(mb, NULL, BAD_CAST "access", NULL), BAD_CAST "mode", BAD_CAST "shared");
    }
    if (ctx->p->templateRam) {
        g_autofree char *path = cloneQemuOptEscape(ctx->p->templateRam);
        g_autofree char *object = g_strdup_printf("memory-backend-file,id=%s,size=%" G_GUINT64_FORMAT
                                                  ",mem-path=%s,share=off%s,"
                                                  "x-use-canonical-path-for-ramblock-id=off",
                                                  CLONE_VMSTATE_RAM_ID, ctx->p->templateRamSize, path,
                                                  ctx->p->templateCopyRam ? ",prealloc=on" : "");

        cloneAddQemuArg(ctx, "-object");
        cloneAddQemuArg(ctx, object);
        cloneAddQemuArg(ctx, "-machine");
        cloneAddQemuArg(ctx, "memory-backend=" CLONE_VMSTATE_RAM_ID);
    }
    return 0;
}

/* ---- sandbox --------------------------------------------------------------
 * A sandbox clone's NICs move to the host's isolated bridge, each on a port
 * that libvirt isolates (<port isolated='yes'/>, also on every restart);
 * the character devices that open a channel between the guest and the host
 * lose their host side (a null backend; logs, which only carry the guest's
 * output out, stay); the guest agent channel stays, as only libvirt talks
 * to it; shared host directories are refused. */

static const char *const cloneSandboxNicKeep[] = {
    "mac", "model", "driver", "alias", "address", "rom", "mtu", "coalesce",
    "boot", "acpi", "link", NULL,
};

static int
cloneSandboxNic(cloneRewriteCtx *ctx, xmlNodePtr nic, guint idx)
{
    g_autofree char *type = cloneXMLProp(nic, "type");
    g_autofree char *label = cloneNicLabel(nic, idx);
    xmlNodePtr c = nic->children;
    xmlNodePtr node;

    /* slirp's state travels in the migration stream: the clone's NIC
     * cannot have another backend than the source's */
    if (g_strcmp0(type, "user") == 0 &&
        !cloneHas(ctx, "/domain/devices/interface[@type='user']/backend[@type='passt']")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("interface '%1$s' uses QEMU's user-mode network, whose state is part of the migration: it cannot be moved to the sandbox bridge; use a tap-based interface (network, bridge, ethernet) or passt"),
                            label);
        return -1;
    }
    while (c) {
        xmlNodePtr next = c->next;

        if (c->type == XML_ELEMENT_NODE && !g_strv_contains(cloneSandboxNicKeep, (const char *)c->name)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
        c = next;
    }
    xmlSetProp(nic, BAD_CAST "type", BAD_CAST "bridge");
    xmlUnsetProp(nic, BAD_CAST "trustGuestRxFilters");
    node = xmlNewChild(nic, NULL, BAD_CAST "source", NULL);
    xmlNewProp(node, BAD_CAST "bridge", BAD_CAST ctx->plan->sandboxBridge);
    node = xmlNewChild(nic, NULL, BAD_CAST "port", NULL);
    xmlNewProp(node, BAD_CAST "isolated", BAD_CAST "yes");
    return 0;
}


static gboolean
cloneSandboxIsAgent(xmlNodePtr chr)
{
    g_autofree char *name = cloneXMLProp(cloneXMLChild(chr, "target"), "name");

    return g_strcmp0(name, "org.qemu.guest_agent.0") == 0;
}


static int
cloneSandboxChardev(cloneRewriteCtx *ctx G_GNUC_UNUSED, xmlNodePtr chr, guint idx G_GNUC_UNUSED)
{
    g_autofree char *type = cloneXMLProp(chr, "type");
    xmlNodePtr c = chr->children;

    if (!type || g_str_equal(type, "null") || g_str_equal(type, "file") || cloneSandboxIsAgent(chr))
        return 0;
    while (c) {
        xmlNodePtr next = c->next;

        if (c->type == XML_ELEMENT_NODE && !xmlStrEqual(c->name, BAD_CAST "target") &&
            !xmlStrEqual(c->name, BAD_CAST "log") && !xmlStrEqual(c->name, BAD_CAST "alias") &&
            !xmlStrEqual(c->name, BAD_CAST "address")) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
        c = next;
    }
    xmlSetProp(chr, BAD_CAST "type", BAD_CAST "null");
    xmlUnsetProp(chr, BAD_CAST "tty");
    return 0;
}


static int
cloneRewriteSandbox(cloneRewriteCtx *ctx)
{
    if (ctx->policy->network != CLONE_NETWORK_SANDBOX)
        return 0;
    if (cloneHas(ctx, "/domain/devices/filesystem")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED, "%s",
                            _("the domain shares a host directory (<filesystem>): a sandbox clone cannot have it"));
        return -1;
    }
    ctx->plan->sandboxBridge = g_strdup(CLONE_SANDBOX_DEFAULT_BRIDGE);
    if (cloneForEach(ctx, "/domain/devices/interface", cloneSandboxNic) < 0)
        return -1;
    return cloneForEach(ctx, "/domain/devices/*[self::serial or self::console or self::parallel or self::channel]",
                        cloneSandboxChardev);
}


/* ---- the rewrite ------------------------------------------------------------ */

/* In this order: refusals of whole device classes first, so that the error
 * a user sees does not depend on how far the rewrite got. */
static const struct {
    const char *name;
    int (*run)(cloneRewriteCtx *ctx);
} cloneRewriteSteps[] = {
    { "identity", cloneCheckIdentity },
    { "host devices", cloneCheckHostDevices },
    { "memory", cloneCheckMemory },
    { "filesystems", cloneCheckFilesystems },
    { "vTPM", cloneRewriteTpms },
    { "firmware", cloneRewriteFirmware },
    { "disks", cloneRewriteDisks },
    { "sandbox", cloneRewriteSandbox },
    { "NICs", cloneRewriteNics },
    { "character devices", cloneRewriteChardevs },
    { "graphics", cloneRewriteGraphics },
    { "vsock and pstore", cloneRewriteMisc },
    { "metadata", cloneAddMetadata },
    { "name, UUID and genid", cloneRewriteIdentity },
    { "incoming migration", cloneAddIncoming },
    { "template memory", cloneRewriteTemplateMemory },
};


static int
cloneRewriteInit(cloneRewriteCtx *ctx, const char *srcXML, const cloneRewriteParams *p)
{
    ctx->p = p;
    if (!p->policy)
        ctx->defaults = clonePolicyNewDefault();
    ctx->policy = p->policy ? p->policy : ctx->defaults;
    ctx->overlayDir = p->overlayDir ? p->overlayDir : ctx->policy->overlayDir;
    ctx->plan = cloneDomainPlanNew();
    ctx->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!(ctx->doc = cloneDomainXMLParse(srcXML, &ctx->ctxt)))
        return -1;
    ctx->root = xmlDocGetRootElement(ctx->doc);
    ctx->srcName = cloneXPathString(ctx->ctxt, "string(/domain/name)");
    ctx->srcUUID = cloneXPathString(ctx->ctxt, "string(/domain/uuid)");
    if (!ctx->srcName) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s",
                            _("the source's domain XML has no name"));
        return -1;
    }
    cloneCollectSourcePaths(ctx);
    cloneCollectSourceMacs(ctx);
    return 0;
}


/**
 * cloneDomainRewrite:
 * @srcXML: the source's XML (VIR_DOMAIN_XML_SECURE|VIR_DOMAIN_XML_MIGRATABLE)
 * @params: the clone's identity, its policy and where its files go
 *
 * Returns the plan of the clone, or NULL with an error reported when the
 * domain has something that cannot be cloned or that the policy refuses.
 */
cloneDomainPlan *
cloneDomainRewrite(const char *srcXML, const cloneRewriteParams *params)
{
    g_auto(cloneRewriteCtx) ctx = { 0 };

    if (cloneRewriteInit(&ctx, srcXML, params) < 0)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(cloneRewriteSteps); i++) {
        CLONE_DEBUG("clone of '%s': rewriting %s", ctx.srcName, cloneRewriteSteps[i].name);
        if (cloneRewriteSteps[i].run(&ctx) < 0)
            return NULL;
    }
    ctx.plan->sourceUUID = g_strdup(ctx.srcUUID);
    ctx.plan->cloneUUID = g_strdup(ctx.uuid);
    ctx.plan->xml = cloneXMLFormat(ctx.doc);
    return g_steal_pointer(&ctx.plan);
}


char *
cloneDomainXMLStripCommandline(const char *xml)
{
    g_autoptr(xmlDoc) doc = cloneDomainXMLParse(xml, NULL);
    xmlNodePtr root;
    xmlNodePtr c;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    c = root->children;
    while (c) {
        xmlNodePtr next = c->next;

        if (c->type == XML_ELEMENT_NODE && c->ns &&
            xmlStrEqual(c->ns->href, BAD_CAST QEMU_NS) &&
            xmlStrEqual(c->name, BAD_CAST "commandline")) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
        c = next;
    }
    return cloneXMLFormat(doc);
}
