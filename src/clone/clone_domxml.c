/*
 * clone_domxml.c: the clone's domain XML, derived from the source's
 *
 * A pure function of the source's XML and the rewrite parameters: nothing
 * here talks to libvirt or touches a file, so every decision is covered by
 * golden tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_domxml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"



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


void
cloneDomainPlanFree(cloneDomainPlan *plan)
{
    if (!plan)
        return;
    g_free(plan->xml);
    g_clear_pointer(&plan->disks, g_ptr_array_unref);
    g_clear_pointer(&plan->copies, g_ptr_array_unref);
    g_clear_pointer(&plan->newFiles, g_ptr_array_unref);
    g_free(plan);
}


static xmlDocPtr
cloneXMLParse(const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS);

    if (!doc || !xmlDocGetRootElement(doc) ||
        !xmlStrEqual(xmlDocGetRootElement(doc)->name, BAD_CAST "domain")) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG,
                            _("the source's domain XML cannot be parsed"));
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}


static xmlXPathObjectPtr
cloneXPath(xmlXPathContextPtr ctxt, const char *expr)
{
    return xmlXPathEvalExpression(BAD_CAST expr, ctxt);
}


static guint
cloneXPathCount(xmlXPathObjectPtr obj)
{
    return obj && obj->nodesetval ? (guint)obj->nodesetval->nodeNr : 0;
}


static xmlNodePtr
cloneXMLChild(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
            return c;
    return NULL;
}


static char *
cloneXMLProp(xmlNodePtr node, const char *name)
{
    xmlChar *v;
    char *ret;

    if (!node || !(v = xmlGetProp(node, BAD_CAST name)))
        return NULL;
    ret = g_strdup((const char *)v);
    xmlFree(v);
    return ret;
}


static void
cloneXMLSetChildText(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = cloneXMLChild(parent, name);

    if (!n)
        n = xmlNewChild(parent, NULL, BAD_CAST name, NULL);
    xmlNodeSetContent(n, NULL);
    xmlNodeAddContent(n, BAD_CAST text);
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


/* A file the clone gets of its own, in @p->fileDir or beside @orig: the
 * source's name in the file name becomes the clone's ("web-serial.log" ->
 * "clone1-serial.log"), otherwise the clone's name is put in front. */
static char *
cloneFileName(const cloneRewriteParams *p, const char *orig)
{
    g_autofree char *dir = p->fileDir ? g_strdup(p->fileDir) : g_path_get_dirname(orig);
    g_autofree char *base = g_path_get_basename(orig);
    size_t n = strlen(p->sourceName);

    if (strncmp(base, p->sourceName, n) == 0 && base[n] != '\0')
        return g_strdup_printf("%s/%s%s", dir, p->name, base + n);
    return g_strdup_printf("%s/%s-%s", dir, p->name, base);
}


static const char *
cloneDiskSourceAttr(const char *type)
{
    if (g_strcmp0(type, "file") == 0)
        return "file";
    if (g_strcmp0(type, "block") == 0)
        return "dev";
    return NULL;
}


static int
cloneDiskDecide(xmlNodePtr disk, cloneDisk *d, gboolean *fork)
{
    g_autofree char *device = cloneXMLProp(disk, "device");
    g_autofree char *type = cloneXMLProp(disk, "type");
    gboolean readonly = cloneXMLChild(disk, "readonly") != NULL;

    *fork = FALSE;
    if (g_strcmp0(device, "cdrom") == 0 || g_strcmp0(device, "floppy") == 0 || readonly) {
        d->action = CLONE_DISK_SHARE_READONLY;
        return 0;
    }
    if (cloneXMLChild(disk, "shareable")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is shareable and writable: a clone would corrupt it"),
                            d->target);
        return -1;
    }
    if (cloneXMLChild(disk, "transient")) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' is <transient/>: its writes are discarded, cloning it is not supported"),
                            d->target);
        return -1;
    }
    if (!cloneDiskSourceAttr(type)) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' of type '%2$s' cannot be forked: only file and block disks can"),
                            d->target, type ? type : "?");
        return -1;
    }
    d->action = CLONE_DISK_FORK;
    *fork = TRUE;
    return 0;
}


/* Points the clone's <disk> at its overlay (qcow2, backed by the source's
 * current top, which libvirt reads from the image header). */
static int
cloneRewriteDisk(xmlNodePtr disk, const cloneRewriteParams *p, cloneDomainPlan *plan)
{
    g_autofree char *type = cloneXMLProp(disk, "type");
    xmlNodePtr target = cloneXMLChild(disk, "target");
    xmlNodePtr source = cloneXMLChild(disk, "source");
    xmlNodePtr driver = cloneXMLChild(disk, "driver");
    cloneDisk *d = g_new0(cloneDisk, 1);
    g_autofree char *dir = NULL;
    gboolean fork;

    d->target = cloneXMLProp(target, "dev");
    g_ptr_array_add(plan->disks, d);
    if (!d->target) {
        virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, _("a disk of the source has no target"));
        return -1;
    }
    if (cloneDiskDecide(disk, d, &fork) < 0)
        return -1;
    if (!fork || !source)
        return 0;

    d->srcPath = cloneXMLProp(source, cloneDiskSourceAttr(type));
    d->srcFormat = cloneXMLProp(driver, "type");
    if (!d->srcPath) {
        virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                            _("disk '%1$s' has no source: an empty drive cannot be forked"),
                            d->target);
        return -1;
    }
    if (!d->srcFormat)
        d->srcFormat = g_strdup("raw");
    dir = p->overlayDir ? g_strdup(p->overlayDir) : g_path_get_dirname(d->srcPath);
    d->cloneOverlay = g_strdup_printf("%s/%s-%s.qcow2", dir, p->name, d->target);
    d->sourceOverlay = g_strdup_printf("%s/%s-%s.%s.qcow2", dir, p->sourceName, d->target, p->stamp);

    xmlSetProp(disk, BAD_CAST "type", BAD_CAST "file");
    xmlUnlinkNode(source);
    xmlFreeNode(source);
    source = xmlNewNode(NULL, BAD_CAST "source");
    xmlNewProp(source, BAD_CAST "file", BAD_CAST d->cloneOverlay);
    if (driver) {
        xmlAddNextSibling(driver, source);
        xmlSetProp(driver, BAD_CAST "type", BAD_CAST "qcow2");
    } else {
        xmlAddChild(disk, source);
    }
    cloneXMLRemoveChildren(disk, "backingStore");
    return 0;
}


static int
cloneRewriteDisks(xmlXPathContextPtr ctxt, const cloneRewriteParams *p,
                  cloneDomainPlan *plan)
{
    g_autoptr(xmlXPathObject) disks = cloneXPath(ctxt, "/domain/devices/disk");

    for (guint i = 0; i < cloneXPathCount(disks); i++)
        if (cloneRewriteDisk(disks->nodesetval->nodeTab[i], p, plan) < 0)
            return -1;
    return 0;
}


static char *
cloneDefaultMac(guint idx G_GNUC_UNUSED, void *opaque G_GNUC_UNUSED)
{
    guint32 r = g_random_int();

    return g_strdup_printf("52:54:00:%02x:%02x:%02x",
                           (r >> 16) & 0xff, (r >> 8) & 0xff, r & 0xff);
}


/* New MAC; link down until the clone's identity is settled; no host-side
 * device name (libvirt picks a fresh one). */
static void
cloneRewriteNics(xmlXPathContextPtr ctxt, const cloneRewriteParams *p,
                 cloneDomainPlan *plan)
{
    g_autoptr(xmlXPathObject) nics = cloneXPath(ctxt, "/domain/devices/interface");

    for (guint i = 0; i < cloneXPathCount(nics); i++) {
        xmlNodePtr nic = nics->nodesetval->nodeTab[i];
        g_autofree char *mac = p->newMac ? p->newMac(i, p->opaque) : cloneDefaultMac(i, NULL);
        xmlNodePtr macNode = cloneXMLChild(nic, "mac");
        xmlNodePtr link;

        if (!macNode)
            macNode = xmlNewChild(nic, NULL, BAD_CAST "mac", NULL);
        xmlSetProp(macNode, BAD_CAST "address", BAD_CAST mac);
        cloneXMLRemoveChildren(nic, "target");
        cloneXMLRemoveChildren(nic, "link");
        link = xmlNewChild(nic, NULL, BAD_CAST "link", NULL);
        xmlNewProp(link, BAD_CAST "state", BAD_CAST "down");
        plan->nnics++;
    }
}


static int
cloneRefuseDevices(xmlXPathContextPtr ctxt)
{
    static const struct {
        const char *xpath;
        const char *what;
    } refused[] = {
        { "/domain/devices/hostdev", N_("host device passthrough (<hostdev>)") },
        { "/domain/devices/tpm", N_("a vTPM (<tpm>): cloning TPM state is not supported yet") },
        { "/domain/devices/redirdev", N_("USB redirection (<redirdev>)") },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autoptr(xmlXPathObject) o = cloneXPath(ctxt, refused[i].xpath);

        if (cloneXPathCount(o) > 0) {
            virCloneReportError(VIR_CLONE_ERR_UNSUPPORTED,
                                _("the domain cannot be live-cloned: it has %1$s"),
                                _(refused[i].what));
            return -1;
        }
    }
    return 0;
}


/* Serial/console log files and file-backed character devices get the
 * clone's own files; pty paths are allocated anew. */
static void
cloneRewriteChardevs(xmlXPathContextPtr ctxt, const cloneRewriteParams *p,
                     cloneDomainPlan *plan)
{
    g_autoptr(xmlXPathObject) logs = cloneXPath(ctxt, "/domain/devices/*[self::serial or self::console or self::parallel or self::channel]/log");
    g_autoptr(xmlXPathObject) files = cloneXPath(ctxt, "/domain/devices/*[self::serial or self::console or self::parallel or self::channel][@type='file']/source");
    g_autoptr(xmlXPathObject) ptys = cloneXPath(ctxt, "/domain/devices/*[self::serial or self::console or self::parallel or self::channel][@type='pty']/source");
    const struct { xmlXPathObjectPtr set; const char *attr; } sets[] = {
        { logs, "file" }, { files, "path" },
    };

    for (size_t s = 0; s < G_N_ELEMENTS(sets); s++) {
        for (guint i = 0; i < cloneXPathCount(sets[s].set); i++) {
            xmlNodePtr n = sets[s].set->nodesetval->nodeTab[i];
            g_autofree char *orig = cloneXMLProp(n, sets[s].attr);
            char *path;

            if (!orig)
                continue;
            path = cloneFileName(p, orig);
            xmlSetProp(n, BAD_CAST sets[s].attr, BAD_CAST path);
            g_ptr_array_add(plan->newFiles, path);
        }
    }
    for (guint i = 0; i < cloneXPathCount(ptys); i++) {
        xmlNodePtr n = ptys->nodesetval->nodeTab[i];

        xmlUnsetProp(n, BAD_CAST "path");
    }
}


static void
cloneRewriteGraphics(xmlXPathContextPtr ctxt)
{
    g_autoptr(xmlXPathObject) g = cloneXPath(ctxt, "/domain/devices/graphics[@port]");

    for (guint i = 0; i < cloneXPathCount(g); i++) {
        xmlNodePtr n = g->nodesetval->nodeTab[i];

        xmlUnsetProp(n, BAD_CAST "port");
        xmlUnsetProp(n, BAD_CAST "tlsPort");
        xmlUnsetProp(n, BAD_CAST "websocket");
        xmlSetProp(n, BAD_CAST "autoport", BAD_CAST "yes");
    }
}


static void
cloneRewriteNvram(xmlXPathContextPtr ctxt, const cloneRewriteParams *p,
                  cloneDomainPlan *plan)
{
    g_autoptr(xmlXPathObject) nv = cloneXPath(ctxt, "/domain/os/nvram");

    for (guint i = 0; i < cloneXPathCount(nv); i++) {
        xmlNodePtr n = nv->nodesetval->nodeTab[i];
        g_autofree xmlChar *orig = xmlNodeGetContent(n);
        cloneCopy *c;

        if (!orig || !*orig)
            continue;
        c = g_new0(cloneCopy, 1);
        c->from = g_strdup((const char *)orig);
        {
            g_autofree char *dir = p->fileDir ? g_strdup(p->fileDir) : g_path_get_dirname(c->from);

            /* libvirt's own naming: NAME_VARS.fd */
            c->to = g_strdup_printf("%s/%s_VARS.fd", dir, p->name);
        }
        xmlNodeSetContent(n, NULL);
        xmlNodeAddContent(n, BAD_CAST c->to);
        g_ptr_array_add(plan->copies, c);
    }
}


static void
cloneRewriteIdentity(xmlNodePtr root, xmlXPathContextPtr ctxt,
                     const cloneRewriteParams *p, cloneDomainPlan *plan)
{
    g_autoptr(xmlXPathObject) genid = cloneXPath(ctxt, "/domain/genid");
    g_autoptr(xmlXPathObject) labels = cloneXPath(ctxt, "/domain/seclabel[@type='dynamic']");

    xmlUnsetProp(root, BAD_CAST "id");
    cloneXMLSetChildText(root, "name", p->name);
    cloneXMLSetChildText(root, "uuid", p->uuid);
    /* An empty <genid/> makes libvirt generate a new one; QEMU writes it
     * into guest memory on load and notifies the guest. */
    if (cloneXPathCount(genid) > 0) {
        xmlNodeSetContent(genid->nodesetval->nodeTab[0], NULL);
        plan->hasGenid = TRUE;
    }
    for (guint i = 0; i < cloneXPathCount(labels); i++) {
        cloneXMLRemoveChildren(labels->nodesetval->nodeTab[i], "label");
        cloneXMLRemoveChildren(labels->nodesetval->nodeTab[i], "imagelabel");
    }
}


static void
cloneAddMetadata(xmlNodePtr root, xmlXPathContextPtr ctxt,
                 const cloneRewriteParams *p, const cloneDomainPlan *plan)
{
    g_autofree char *parentName = NULL;
    g_autofree char *parentUUID = NULL;
    xmlNodePtr meta = cloneXMLChild(root, "metadata");
    xmlNodePtr clone;
    xmlNsPtr ns;
    xmlNodePtr parent;

    {
        g_autoptr(xmlXPathObject) n = cloneXPath(ctxt, "string(/domain/name)");
        g_autoptr(xmlXPathObject) u = cloneXPath(ctxt, "string(/domain/uuid)");

        parentName = g_strdup((const char *)n->stringval);
        parentUUID = g_strdup((const char *)u->stringval);
    }
    if (!meta)
        meta = xmlNewChild(root, NULL, BAD_CAST "metadata", NULL);
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
    xmlNewProp(parent, BAD_CAST "name", BAD_CAST parentName);
    xmlNewProp(parent, BAD_CAST "uuid", BAD_CAST parentUUID);
    if (p->policyName)
        xmlNewChild(clone, ns, BAD_CAST "policy", BAD_CAST p->policyName);
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);
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


static void
cloneAddIncoming(xmlNodePtr root)
{
    xmlNsPtr ns = xmlSearchNsByHref(root->doc, root, BAD_CAST QEMU_NS);
    xmlNodePtr cmdline = NULL;
    xmlNodePtr arg;

    if (!ns)
        ns = xmlNewNs(root, BAD_CAST QEMU_NS, BAD_CAST "qemu");
    for (xmlNodePtr c = root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns == ns &&
            xmlStrEqual(c->name, BAD_CAST "commandline"))
            cmdline = c;
    if (!cmdline)
        cmdline = xmlNewChild(root, ns, BAD_CAST "commandline", NULL);
    arg = xmlNewChild(cmdline, ns, BAD_CAST "arg", NULL);
    xmlNewProp(arg, BAD_CAST "value", BAD_CAST "-incoming");
    arg = xmlNewChild(cmdline, ns, BAD_CAST "arg", NULL);
    xmlNewProp(arg, BAD_CAST "value", BAD_CAST "defer");
}


static char *
cloneXMLFormat(xmlDocPtr doc)
{
    xmlChar *buf = NULL;
    int len = 0;
    char *ret;

    xmlDocDumpFormatMemory(doc, &buf, &len, 1);
    /* drop the <?xml ...?> declaration, as libvirt's own output has none */
    ret = g_strdup(strstr((const char *)buf, "<domain") ? strstr((const char *)buf, "<domain")
                                                        : (const char *)buf);
    xmlFree(buf);
    return ret;
}


/**
 * cloneDomainRewrite:
 * @srcXML: the source's XML (VIR_DOMAIN_XML_SECURE|VIR_DOMAIN_XML_MIGRATABLE)
 * @p: the clone's identity and where its files go
 *
 * Returns the plan of the clone, or NULL with an error reported when the
 * domain has something that cannot be cloned.
 */
cloneDomainPlan *
cloneDomainRewrite(const char *srcXML, const cloneRewriteParams *params)
{
    cloneRewriteParams local = *params;
    const cloneRewriteParams *p = params;
    g_autofree char *srcName = NULL;
    g_autoptr(cloneDomainPlan) plan = g_new0(cloneDomainPlan, 1);
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlXPathContext) ctxt = NULL;
    xmlNodePtr root;

    plan->disks = g_ptr_array_new_with_free_func(cloneDiskFree);
    plan->copies = g_ptr_array_new_with_free_func(cloneCopyFree);
    plan->newFiles = g_ptr_array_new_with_free_func(g_free);

    if (!(doc = cloneXMLParse(srcXML)))
        return NULL;
    root = xmlDocGetRootElement(doc);
    ctxt = xmlXPathNewContext(doc);

    {
        g_autoptr(xmlXPathObject) n = cloneXPath(ctxt, "string(/domain/name)");

        srcName = g_strdup((const char *)n->stringval);
    }
    local.sourceName = srcName;
    p = &local;
    if (cloneRefuseDevices(ctxt) < 0 ||
        cloneRewriteDisks(ctxt, p, plan) < 0)
        return NULL;
    cloneRewriteNics(ctxt, p, plan);
    cloneRewriteChardevs(ctxt, p, plan);
    cloneRewriteGraphics(ctxt);
    cloneRewriteNvram(ctxt, p, plan);
    cloneAddMetadata(root, ctxt, p, plan);
    cloneRewriteIdentity(root, ctxt, p, plan);
    cloneAddIncoming(root);

    plan->xml = cloneXMLFormat(doc);
    return g_steal_pointer(&plan);
}


char *
cloneDomainXMLStripCommandline(const char *xml)
{
    g_autoptr(xmlDoc) doc = cloneXMLParse(xml);
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


char *
cloneDomainXMLParentName(const char *xml)
{
    g_autoptr(xmlDoc) doc = cloneXMLParse(xml);
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlXPathObject) o = NULL;

    if (!doc)
        return NULL;
    ctxt = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctxt, BAD_CAST "c", BAD_CAST CLONE_METADATA_NS);
    o = cloneXPath(ctxt, "string(/domain/metadata/c:clone/c:parent/@name)");
    if (!o || !o->stringval || !*o->stringval)
        return NULL;
    return g_strdup((const char *)o->stringval);
}


char *
cloneDomainSnapshotXML(const cloneDomainPlan *plan, const char *name)
{
    g_autoptr(GString) s = g_string_new(NULL);

    g_string_append_printf(s, "<domainsnapshot>\n  <name>%s</name>\n  <disks>\n", name);
    for (guint i = 0; i < plan->disks->len; i++) {
        cloneDisk *d = g_ptr_array_index(plan->disks, i);
        g_autofree char *path = NULL;

        if (d->action != CLONE_DISK_FORK) {
            g_string_append_printf(s, "    <disk name='%s' snapshot='no'/>\n", d->target);
            continue;
        }
        path = g_markup_escape_text(d->sourceOverlay, -1);
        g_string_append_printf(s,
                               "    <disk name='%s' snapshot='external' type='file'>\n"
                               "      <driver type='qcow2'/>\n"
                               "      <source file='%s'/>\n"
                               "    </disk>\n", d->target, path);
    }
    g_string_append(s, "  </disks>\n</domainsnapshot>\n");
    return g_string_free(g_steal_pointer(&s), FALSE);
}
