/*
 * clone_xml.h: parsing XML and reading it with XPath
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_internal.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject);


/* ---- parsing ---- */

/* Parses @xml, whose root element must be @rootName (NULL: any root).
 * Returns the document and, if @ctxt is not NULL, an XPath context at its
 * root with the prefix "clone" bound to CLONE_METADATA_NS.  On failure
 * (also when @xml is NULL) returns NULL and reports @errmsg, a whole
 * sentence, with @code; with @errmsg NULL nothing is reported (a probe:
 * "is this a domain XML?").  libxml2 itself never prints. */
xmlDocPtr cloneXMLParse(const char *xml, const char *rootName, int code, const char *errmsg,
                        xmlXPathContextPtr *ctxt);


/* ---- XPath, evaluated at ctxt->node ---- */

/* The value of @expr, a string() expression; NULL when it is empty. */
char *cloneXPathString(xmlXPathContextPtr ctxt, const char *expr);

/* The string values (attribute values, element text) of the nodes @expr
 * selects, in document order, leaving out empty ones; an empty vector
 * when nothing matches. */
GStrv cloneXPathStrings(xmlXPathContextPtr ctxt, const char *expr);

/* The nodes @expr selects, in document order: their number, and in @list
 * (if not NULL) a new array of them, NULL when there is none. */
guint cloneXPathNodes(xmlXPathContextPtr ctxt, const char *expr, xmlNodePtr **list);

/* The number of nodes @expr selects. */
guint cloneXPathCount(xmlXPathContextPtr ctxt, const char *expr);

/* cloneXPathStrings() on @xml: an empty vector, and no error, when @xml is
 * NULL or does not parse. */
GStrv cloneXMLStrings(const char *xml, const char *expr);

/* Evaluation relative to a node: ctxt->node is put back at the end of the
 * scope, as libvirt's VIR_XPATH_NODE_AUTORESTORE does.
 *     CLONE_XPATH_NODE_AUTORESTORE(ctxt);
 *     ctxt->node = nic;
 *     mac = cloneXPathString(ctxt, "string(mac/@address)"); */
typedef struct {
    xmlXPathContextPtr ctxt;
    xmlNodePtr node;
} cloneXPathNodeSave;
void cloneXPathNodeRestore(cloneXPathNodeSave *save);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(cloneXPathNodeSave, cloneXPathNodeRestore);
#define CLONE_XPATH_NODE_AUTORESTORE(c) \
    g_auto(cloneXPathNodeSave) G_PASTE(cloneXPathNodeSave_, __LINE__) G_GNUC_UNUSED = { (c), (c)->node }


/* ---- nodes ---- */

/* The first child element of @node named @name, or NULL. */
xmlNodePtr cloneXMLChild(xmlNodePtr node, const char *name);

/* The attribute @name of @node (NULL: none, or @node is NULL). */
char *cloneXMLProp(xmlNodePtr node, const char *name);
gboolean cloneXMLPropIs(xmlNodePtr node, const char *name, const char *value);

/* The text of @node, without leading and trailing blanks; NULL when empty. */
char *cloneXMLText(xmlNodePtr node);


/* ---- a domain's NICs ---- */

/* An <interface> of a domain XML. */
typedef struct _cloneXMLNic cloneXMLNic;
struct _cloneXMLNic {
    char *type;         /* bridge, network, ethernet, direct, user, ... */
    char *mac;          /* <mac address>, or NULL */
    char *bridge;       /* <source bridge>, or NULL */
    char *target;       /* <target dev>: the tap (or macvtap) of a running
                         * domain; NULL in an inactive XML */
    gboolean linkDown;  /* <link state='down'/> */
};

/* The <interface>s of the domain @ctxt is on, of cloneXMLNic, in the order
 * of the XML. */
GPtrArray *cloneXMLDomainNics(xmlXPathContextPtr ctxt);

/* The NIC is a tap of the host's: an interface of type bridge, network or
 * ethernet that has a <target dev>. */
gboolean cloneXMLNicIsTap(const cloneXMLNic *nic);

/* The tap devices of the NICs in @domainXML (cloneXMLNicIsTap), in the
 * order of the XML, NULL-terminated, possibly empty; NULL with an error
 * (VIR_CLONE_ERR_INTERNAL: the XML is libvirt's) if it cannot be parsed. */
GStrv cloneXMLDomainTaps(const char *domainXML);
