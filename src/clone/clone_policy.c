/*
 * clone_policy.c: clone policies (XML)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_policy.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

CLONE_ENUM_IMPL(cloneStrategy, CLONE_STRATEGY_LAST,
                "auto", "precopy", "background", "postcopy");
CLONE_ENUM_IMPL(cloneDiskAction, CLONE_DISK_ACTION_LAST,
                "fork", "share-readonly", "exclude", "default");
CLONE_ENUM_IMPL(cloneMacMode, CLONE_MAC_MODE_LAST, "auto", "keep", "set");
CLONE_ENUM_IMPL(cloneGenidMode, CLONE_GENID_MODE_LAST, "auto", "keep");
CLONE_ENUM_IMPL(cloneHostnameMode, CLONE_HOSTNAME_MODE_LAST, "keep", "set");
CLONE_ENUM_IMPL(cloneMachineIdMode, CLONE_MACHINE_ID_MODE_LAST, "keep", "regenerate");
CLONE_ENUM_IMPL(cloneTpmMode, CLONE_TPM_MODE_LAST, "refuse", "clone");
CLONE_ENUM_IMPL(cloneChainAction, CLONE_CHAIN_ACTION_LAST, "flatten", "refuse");

CLONE_ENUM_IMPL(cloneNetworkMode, CLONE_NETWORK_LAST,
                "disconnected", "inherit", "sandbox");

static void
clonePolicyNicFree(gpointer data)
{
    clonePolicyNic *nic = data;

    g_free(nic->sourceMac);
    g_free(nic->mac);
    g_free(nic);
}


static void
clonePolicyDiskFree(gpointer data)
{
    clonePolicyDisk *disk = data;

    g_free(disk->target);
    g_free(disk);
}


const clonePolicyDisk *
clonePolicyFindDisk(const clonePolicy *policy, const char *target)
{
    for (guint i = 0; policy->disks && i < policy->disks->len; i++) {
        const clonePolicyDisk *d = g_ptr_array_index(policy->disks, i);

        if (g_strcmp0(d->target, target) == 0)
            return d;
    }
    return NULL;
}


const clonePolicyNic *
clonePolicyFindNic(const clonePolicy *policy, const char *sourceMac)
{
    for (guint i = 0; policy->nics && sourceMac && i < policy->nics->len; i++) {
        const clonePolicyNic *n = g_ptr_array_index(policy->nics, i);

        if (g_ascii_strcasecmp(n->sourceMac, sourceMac) == 0)
            return n;
    }
    return NULL;
}


char *
clonePolicyExpandName(const clonePolicy *policy, const char *source, guint n)
{
    g_autofree char *num = g_strdup_printf("%u", n);
    g_auto(GStrv) a = NULL;
    g_auto(GStrv) b = NULL;
    g_autofree char *step = NULL;

    if (policy->name)
        return g_strdup(policy->name);
    a = g_strsplit(policy->nameTemplate, "%{source}", -1);
    step = g_strjoinv(source, a);
    b = g_strsplit(step, "%{n}", -1);
    return g_strjoinv(num, b);
}


void
clonePolicyFree(clonePolicy *policy)
{
    if (!policy)
        return;
    g_free(policy->name);
    g_free(policy->nameTemplate);
    g_free(policy->uuid);
    g_free(policy->hostname);
    g_clear_pointer(&policy->nics, g_ptr_array_unref);
    g_free(policy->overlayDir);
    g_free(policy->overlayFormat);
    g_clear_pointer(&policy->disks, g_ptr_array_unref);
    g_free(policy);
}


clonePolicy *
clonePolicyNewDefault(void)
{
    clonePolicy *policy = g_new0(clonePolicy, 1);

    policy->strategy = CLONE_STRATEGY_AUTO;
    policy->downtimeLimitMs = CLONE_POLICY_DEFAULT_DOWNTIME_MS;
    policy->timeoutS = CLONE_POLICY_DEFAULT_TIMEOUT_S;
    policy->autoMaxPasses = CLONE_POLICY_DEFAULT_AUTO_PASSES;
    policy->network = CLONE_NETWORK_DISCONNECTED;
    policy->nameTemplate = g_strdup(CLONE_POLICY_DEFAULT_NAME_TEMPLATE);
    policy->overlayFormat = g_strdup("qcow2");
    policy->nics = g_ptr_array_new_with_free_func(clonePolicyNicFree);
    policy->disks = g_ptr_array_new_with_free_func(clonePolicyDiskFree);
    policy->chainMaxDepth = CLONE_POLICY_DEFAULT_CHAIN_DEPTH;
    policy->chainAtLimit = CLONE_CHAIN_FLATTEN;
    return policy;
}


static int
clonePolicyError(xmlNodePtr node, const char *what, const char *value)
{
    virCloneReportError(VIR_CLONE_ERR_POLICY,
                        _("invalid clone policy, line %1$ld: %2$s '%3$s'"),
                        node ? xmlGetLineNo(node) : 0L, what, value ? value : "");
    return -1;
}


static int
clonePolicyUInt(xmlNodePtr node, const char *attr, guint64 max, guint64 *out)
{
    g_autofree char *v = (char *)xmlGetProp(node, BAD_CAST attr);
    guint64 n;
    char *end = NULL;

    if (!v)
        return 0;
    errno = 0;
    n = g_ascii_strtoull(v, &end, 10);
    if (errno || !end || *end || end == v || n > max || v[0] == '-')
        return clonePolicyError(node, attr, v);
    *out = n;
    return 0;
}


/* Only the attributes in @allowed may appear on @node. */
static int
clonePolicyCheckAttrs(xmlNodePtr node, const char *const *allowed)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next)
        if (!g_strv_contains(allowed, (const char *)a->name))
            return clonePolicyError(node, _("unknown attribute"), (const char *)a->name);
    return 0;
}


static int
clonePolicyParseMemory(xmlNodePtr node, clonePolicy *policy)
{
    static const char *const attrs[] = { "strategy", "downtime-limit", "bandwidth",
                                         "timeout", "max-passes", NULL };
    g_autofree char *strategy = (char *)xmlGetProp(node, BAD_CAST "strategy");
    guint64 downtime = policy->downtimeLimitMs;
    guint64 timeout = policy->timeoutS;
    guint64 passes = policy->autoMaxPasses;

    if (clonePolicyCheckAttrs(node, attrs) < 0)
        return -1;
    if (strategy && (int)(policy->strategy = cloneStrategyTypeFromString(strategy)) < 0)
        return clonePolicyError(node, _("unknown memory strategy"), strategy);
    if (clonePolicyUInt(node, "downtime-limit", 60000, &downtime) < 0 ||
        clonePolicyUInt(node, "bandwidth", G_MAXUINT32, &policy->bandwidthMiBs) < 0 ||
        clonePolicyUInt(node, "timeout", 86400, &timeout) < 0 ||
        clonePolicyUInt(node, "max-passes", 1000, &passes) < 0)
        return -1;
    if (timeout == 0 || downtime == 0 || passes == 0)
        return clonePolicyError(node, _("a limit of zero"), "0");
    policy->downtimeLimitMs = (guint)downtime;
    policy->timeoutS = (guint)timeout;
    policy->autoMaxPasses = (guint)passes;
    return 0;
}


static int
clonePolicyParseYesNo(xmlNodePtr node, const char *attr, gboolean *out)
{
    g_autofree char *v = (char *)xmlGetProp(node, BAD_CAST attr);

    if (!v)
        return 0;
    if (g_str_equal(v, "yes"))
        *out = TRUE;
    else if (g_str_equal(v, "no"))
        *out = FALSE;
    else
        return clonePolicyError(node, attr, v);
    return 0;
}


static int
clonePolicyParseElement(xmlNodePtr node, clonePolicy *policy)
{
    const char *name = (const char *)node->name;

    if (g_str_equal(name, "name")) {
        g_autofree char *v = (char *)xmlNodeGetContent(node);

        if (!v || !*v || strchr(v, '/'))
            return clonePolicyError(node, _("invalid clone name"), v);
        g_free(policy->name);
        policy->name = g_steal_pointer(&v);
        return 0;
    }
    if (g_str_equal(name, "memory"))
        return clonePolicyParseMemory(node, policy);
    if (g_str_equal(name, "network")) {
        static const char *const attrs[] = { "mode", NULL };
        g_autofree char *mode = (char *)xmlGetProp(node, BAD_CAST "mode");

        if (clonePolicyCheckAttrs(node, attrs) < 0)
            return -1;
        if (mode && (int)(policy->network = cloneNetworkModeTypeFromString(mode)) < 0)
            return clonePolicyError(node, _("unknown network mode"), mode);
        return 0;
    }
    if (g_str_equal(name, "disks")) {
        static const char *const attrs[] = { "dir", NULL };
        g_autofree char *dir = (char *)xmlGetProp(node, BAD_CAST "dir");

        if (clonePolicyCheckAttrs(node, attrs) < 0)
            return -1;
        if (dir && !g_path_is_absolute(dir))
            return clonePolicyError(node, _("overlay directory must be an absolute path"), dir);
        g_free(policy->overlayDir);
        policy->overlayDir = g_steal_pointer(&dir);
        return 0;
    }
    if (g_str_equal(name, "lifecycle")) {
        static const char *const attrs[] = { "persistent", NULL };

        if (clonePolicyCheckAttrs(node, attrs) < 0)
            return -1;
        return clonePolicyParseYesNo(node, "persistent", &policy->persistent);
    }
    return clonePolicyError(node, _("unknown element"), name);
}


/**
 * clonePolicyParse:
 * @xml: a <clonepolicy> document, or NULL for the defaults
 *
 * Returns the policy with every default filled in, or NULL with an error.
 */
clonePolicy *
clonePolicyParse(const char *xml)
{
    g_autoptr(clonePolicy) policy = clonePolicyNewDefault();
    xmlDocPtr doc;
    xmlNodePtr root;
    int rc = 0;

    if (!xml)
        return g_steal_pointer(&policy);

    doc = xmlReadMemory(xml, (int)strlen(xml), "clonepolicy.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();

        virCloneReportError(VIR_CLONE_ERR_POLICY,
                            _("the clone policy is not well-formed XML, line %1$d: %2$s"),
                            e ? e->line : 0, e && e->message ? g_strchomp(e->message) : "?");
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !xmlStrEqual(root->name, BAD_CAST "clonepolicy")) {
        rc = clonePolicyError(root, _("expected root element <clonepolicy>, found"),
                              root ? (const char *)root->name : "");
    }
    for (xmlNodePtr c = root ? root->children : NULL; rc == 0 && c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            rc = clonePolicyParseElement(c, policy);
    xmlFreeDoc(doc);
    if (rc < 0)
        return NULL;
    return g_steal_pointer(&policy);
}


char *
clonePolicyFormat(const clonePolicy *p)
{
    g_autoptr(GString) s = g_string_new("<clonepolicy>\n");

    if (p->name) {
        g_autofree char *esc = g_markup_escape_text(p->name, -1);

        g_string_append_printf(s, "  <name>%s</name>\n", esc);
    }
    g_string_append_printf(s, "  <memory strategy='%s' downtime-limit='%u' bandwidth='%" G_GUINT64_FORMAT
                           "' timeout='%u' max-passes='%u'/>\n",
                           cloneStrategyTypeToString(p->strategy), p->downtimeLimitMs,
                           p->bandwidthMiBs, p->timeoutS, p->autoMaxPasses);
    g_string_append_printf(s, "  <network mode='%s'/>\n", cloneNetworkModeTypeToString(p->network));
    if (p->overlayDir) {
        g_autofree char *esc = g_markup_escape_text(p->overlayDir, -1);

        g_string_append_printf(s, "  <disks dir='%s'/>\n", esc);
    }
    g_string_append_printf(s, "  <lifecycle persistent='%s'/>\n", p->persistent ? "yes" : "no");
    g_string_append(s, "</clonepolicy>\n");
    return g_string_free(g_steal_pointer(&s), FALSE);
}
