/*
 * clone_xml.c: parsing XML and reading it with XPath
 *
 * The one place that parses an XML document (a domain XML, the clone
 * metadata) and reads values out of it, in the way of libvirt's
 * src/util/virxml.c: one parse that reports its error once, XPath helpers
 * that return GLib strings, and the readers of a domain's NICs that the
 * hook, the sandbox check and the alert watcher share.  The clone policy
 * has a parser of its own (clone_policy.c: line numbers, RelaxNG).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_xml.h"

#include <string.h>

/* no network, no messages of libxml2's own on stderr; blanks between
 * elements are dropped so that a rewritten document formats cleanly */
#define CLONE_XML_PARSE_FLAGS \
    (XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)


/* ---- parsing ------------------------------------------------------------- */

xmlDocPtr
cloneXMLParse(const char *xml, const char *rootName, int code, const char *errmsg,
              xmlXPathContextPtr *ctxt)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root = NULL;

    if (ctxt)
        *ctxt = NULL;
    if (xml)
        doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, CLONE_XML_PARSE_FLAGS);
    if (doc)
        root = xmlDocGetRootElement(doc);
    if (!root || (rootName && !xmlStrEqual(root->name, BAD_CAST rootName))) {
        if (errmsg)
            virCloneReportError(code, "%s", errmsg);
        return NULL;
    }
    if (ctxt) {
        *ctxt = xmlXPathNewContext(doc);
        (*ctxt)->node = root;
        xmlXPathRegisterNs(*ctxt, BAD_CAST CLONE_METADATA_PREFIX, BAD_CAST CLONE_METADATA_NS);
    }
    return g_steal_pointer(&doc);
}


/* ---- XPath ---------------------------------------------------------------- */

static xmlXPathObjectPtr
cloneXPathEval(xmlXPathContextPtr ctxt, const char *expr)
{
    return xmlXPathEvalExpression(BAD_CAST expr, ctxt);
}


char *
cloneXPathString(xmlXPathContextPtr ctxt, const char *expr)
{
    g_autoptr(xmlXPathObject) o = cloneXPathEval(ctxt, expr);

    if (!o || o->type != XPATH_STRING || !o->stringval || !*o->stringval)
        return NULL;
    return g_strdup((const char *)o->stringval);
}


guint
cloneXPathNodes(xmlXPathContextPtr ctxt, const char *expr, xmlNodePtr **list)
{
    g_autoptr(xmlXPathObject) o = cloneXPathEval(ctxt, expr);
    guint n;

    if (list)
        *list = NULL;
    if (!o || o->type != XPATH_NODESET || !o->nodesetval || o->nodesetval->nodeNr <= 0)
        return 0;
    n = (guint)o->nodesetval->nodeNr;
    if (list) {
        *list = g_new(xmlNodePtr, n);
        memcpy(*list, o->nodesetval->nodeTab, n * sizeof(xmlNodePtr));
    }
    return n;
}


guint
cloneXPathCount(xmlXPathContextPtr ctxt, const char *expr)
{
    return cloneXPathNodes(ctxt, expr, NULL);
}


GStrv
cloneXPathStrings(xmlXPathContextPtr ctxt, const char *expr)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_autofree xmlNodePtr *nodes = NULL;
    guint n = cloneXPathNodes(ctxt, expr, &nodes);

    for (guint i = 0; i < n; i++) {
        xmlChar *v = xmlNodeGetContent(nodes[i]);

        if (v && *v)
            g_strv_builder_add(b, (const char *)v);
        xmlFree(v);
    }
    return g_strv_builder_end(b);
}


GStrv
cloneXMLStrings(const char *xml, const char *expr)
{
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = cloneXMLParse(xml, NULL, 0, NULL, &ctxt);

    if (!doc)
        return g_new0(char *, 1);
    return cloneXPathStrings(ctxt, expr);
}


void
cloneXPathNodeRestore(cloneXPathNodeSave *save)
{
    save->ctxt->node = save->node;
}


/* ---- nodes ------------------------------------------------------------------ */

xmlNodePtr
cloneXMLChild(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
            return c;
    return NULL;
}


char *
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


gboolean
cloneXMLPropIs(xmlNodePtr node, const char *name, const char *value)
{
    g_autofree char *v = cloneXMLProp(node, name);

    return g_strcmp0(v, value) == 0;
}


char *
cloneXMLText(xmlNodePtr node)
{
    xmlChar *v = xmlNodeGetContent(node);
    char *ret = NULL;

    if (v && *v)
        ret = g_strstrip(g_strdup((const char *)v));
    xmlFree(v);
    return ret;
}


/* ---- a domain's NICs ------------------------------------------------------- */

static void
cloneXMLNicFree(gpointer data)
{
    cloneXMLNic *nic = data;

    g_free(nic->type);
    g_free(nic->mac);
    g_free(nic->bridge);
    g_free(nic->target);
    g_free(nic);
}


GPtrArray *
cloneXMLDomainNics(xmlXPathContextPtr ctxt)
{
    GPtrArray *nics = g_ptr_array_new_with_free_func(cloneXMLNicFree);
    g_autofree xmlNodePtr *nodes = NULL;
    guint n = cloneXPathNodes(ctxt, "/domain/devices/interface", &nodes);
    CLONE_XPATH_NODE_AUTORESTORE(ctxt);

    for (guint i = 0; i < n; i++) {
        cloneXMLNic *nic = g_new0(cloneXMLNic, 1);
        g_autofree char *state = NULL;

        ctxt->node = nodes[i];
        nic->type = cloneXPathString(ctxt, "string(@type)");
        nic->mac = cloneXPathString(ctxt, "string(mac/@address)");
        nic->bridge = cloneXPathString(ctxt, "string(source/@bridge)");
        nic->target = cloneXPathString(ctxt, "string(target/@dev)");
        state = cloneXPathString(ctxt, "string(link/@state)");
        nic->linkDown = g_strcmp0(state, "down") == 0;
        g_ptr_array_add(nics, nic);
    }
    return nics;
}


gboolean
cloneXMLNicIsTap(const cloneXMLNic *nic)
{
    static const char *const types[] = { "bridge", "network", "ethernet", NULL };

    return nic->target && nic->type && g_strv_contains(types, nic->type);
}


GStrv
cloneXMLDomainTaps(const char *domainXML)
{
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GPtrArray) nics = NULL;
    g_autoptr(GStrvBuilder) taps = g_strv_builder_new();

    if (!(doc = cloneXMLParse(domainXML, NULL, VIR_CLONE_ERR_INTERNAL,
                              _("cannot parse the domain XML to find its tap devices"), &ctxt)))
        return NULL;
    nics = cloneXMLDomainNics(ctxt);
    for (guint i = 0; i < nics->len; i++) {
        const cloneXMLNic *nic = g_ptr_array_index(nics, i);

        if (cloneXMLNicIsTap(nic))
            g_strv_builder_add(taps, nic->target);
    }
    return g_strv_builder_end(taps);
}
