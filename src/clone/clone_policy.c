/*
 * clone_policy.c: clone policies (XML): parse, validate, defaults, format
 *
 * The language is described in docs/policy.md and docs/schemas/clonepolicy.rng.
 * The parser is table-driven: each element lists the attributes and the
 * child elements it may have, so unknown elements and attributes, stray text
 * and repeated elements are refused in one place.  It checks everything the
 * schema checks, plus what RelaxNG cannot express (no two interfaces or disks
 * alike, %{n} in the host name only with a numbered name).  Every error
 * names the line of the element at fault.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "clone_policy.h"

#include <arpa/inet.h>
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
CLONE_ENUM_IMPL(cloneTpmMode, CLONE_TPM_MODE_LAST, "auto", "refuse", "clone");
CLONE_ENUM_IMPL(cloneChainAction, CLONE_CHAIN_ACTION_LAST, "flatten", "refuse");
CLONE_ENUM_IMPL(cloneAgentFailure, CLONE_AGENT_FAILURE_LAST, "fail", "warn");
CLONE_ENUM_IMPL(cloneGuestMacMode, CLONE_GUEST_MAC_LAST, "auto", "set", "keep");
CLONE_ENUM_IMPL(cloneIntegrityAction, CLONE_INTEGRITY_ACTION_LAST, "alert", "pause", "destroy");
CLONE_ENUM_IMPL(cloneIpMode, CLONE_IP_MODE_LAST, "auto", "keep", "none", "dhcp", "static");

CLONE_ENUM_IMPL(cloneNetworkMode, CLONE_NETWORK_LAST,
                "disconnected", "inherit", "sandbox");

/* a host name, as Linux's sethostname() takes it (HOST_NAME_MAX) */
#define CLONE_POLICY_HOSTNAME_MAX 64
#define CLONE_POLICY_HOSTNAME_LABEL_MAX 63
#define CLONE_POLICY_BANDWIDTH_MAX G_MAXUINT32
#define CLONE_POLICY_TTL_MAX 31536000 /* a year */

static void
clonePolicyNicFree(gpointer data)
{
    clonePolicyNic *nic = data;

    g_free(nic->sourceMac);
    g_free(nic->mac);
    g_free(nic->ipAddress);
    g_free(nic->ipGateway);
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


cloneTpmMode
clonePolicyTpmMode(const clonePolicy *policy)
{
    if (policy->tpm != CLONE_TPM_AUTO)
        return policy->tpm;
    return policy->network == CLONE_NETWORK_SANDBOX ? CLONE_TPM_CLONE : CLONE_TPM_REFUSE;
}


gboolean
clonePolicyGuestSetsMac(const clonePolicy *policy)
{
    if (policy->guestMac == CLONE_GUEST_MAC_AUTO)
        return policy->network == CLONE_NETWORK_INHERIT;
    return policy->guestMac == CLONE_GUEST_MAC_SET;
}


cloneIpMode
clonePolicyIpMode(const clonePolicy *policy, const char *sourceMac,
                  const clonePolicyNic **nic_out)
{
    const clonePolicyNic *nic = clonePolicyFindNic(policy, sourceMac);
    cloneIpMode mode = nic && nic->ip != CLONE_IP_AUTO ? nic->ip : policy->ip;

    if (nic_out)
        *nic_out = nic;
    if (mode == CLONE_IP_AUTO)
        return policy->network == CLONE_NETWORK_INHERIT ? CLONE_IP_DHCP : CLONE_IP_KEEP;
    return mode;
}


/* Replaces every @key in @text with @value. */
static char *
clonePolicyReplace(const char *text, const char *key, const char *value)
{
    g_auto(GStrv) parts = g_strsplit(text, key, -1);

    return g_strjoinv(value, parts);
}


char *
clonePolicyExpandName(const clonePolicy *policy, const char *source, guint n)
{
    g_autofree char *num = g_strdup_printf("%u", n);
    g_autofree char *step = NULL;

    if (policy->name)
        return g_strdup(policy->name);
    step = clonePolicyReplace(policy->nameTemplate, "%{source}", source);
    return clonePolicyReplace(step, "%{n}", num);
}


char *
clonePolicyExpandHostname(const clonePolicy *policy, guint n)
{
    g_autofree char *num = g_strdup_printf("%u", n);

    if (policy->hostnameMode != CLONE_HOSTNAME_SET || !policy->hostname)
        return NULL;
    return clonePolicyReplace(policy->hostname, "%{n}", num);
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
    g_free(policy->alertLog);
    g_free(policy->alertCommand);
    g_clear_pointer(&policy->nics, g_ptr_array_unref);
    g_free(policy->overlayDir);
    g_free(policy->templateDir);
    g_free(policy->overlayFormat);
    g_clear_pointer(&policy->disks, g_ptr_array_unref);
    g_free(policy);
}


clonePolicy *
clonePolicyNewDefault(void)
{
    clonePolicy *policy = g_new0(clonePolicy, 1);

    policy->nameTemplate = g_strdup(CLONE_POLICY_DEFAULT_NAME_TEMPLATE);
    policy->genid = CLONE_GENID_AUTO;
    policy->hostnameMode = CLONE_HOSTNAME_KEEP;
    policy->machineId = CLONE_MACHINE_ID_KEEP;
    policy->agentOnFailure = CLONE_AGENT_FAIL;
    policy->agentTimeoutS = CLONE_POLICY_DEFAULT_AGENT_TIMEOUT_S;
    policy->network = CLONE_NETWORK_DISCONNECTED;
    policy->nics = g_ptr_array_new_with_free_func(clonePolicyNicFree);
    policy->overlayFormat = g_strdup("qcow2");
    policy->disks = g_ptr_array_new_with_free_func(clonePolicyDiskFree);
    policy->strategy = CLONE_STRATEGY_AUTO;
    policy->downtimeLimitMs = CLONE_POLICY_DEFAULT_DOWNTIME_MS;
    policy->timeoutS = CLONE_POLICY_DEFAULT_TIMEOUT_S;
    policy->autoMaxPasses = CLONE_POLICY_DEFAULT_AUTO_PASSES;
    policy->tpm = CLONE_TPM_AUTO;
    policy->chainMaxDepth = CLONE_POLICY_DEFAULT_CHAIN_DEPTH;
    policy->templateSharing = TRUE;
    policy->chainAtLimit = CLONE_CHAIN_FLATTEN;
    return policy;
}


/* ---- errors -------------------------------------------------------------- */

static int
clonePolicyErrorFull(long line, const char *file, const char *func, int srcline,
                     const char *fmt, ...) G_GNUC_PRINTF(5, 6);
static int
clonePolicyErrorFull(long line, const char *file, const char *func, int srcline,
                     const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    virCloneReportErrorFull(VIR_CLONE_ERR_POLICY, 0, file, func, srcline,
                            _("invalid clone policy, line %1$ld: %2$s"), line, msg);
    return -1;
}


/* The line where text starts that libxml2 saw end on line @end: the line
 * of the first character that is not white space. */
static long
clonePolicyTextLine(xmlNodePtr text, long end)
{
    const char *s = (const char *)text->content;
    long line = end;

    if (!s)
        return end;
    for (s += strspn(s, " \t\r\n"); *s; s++)
        line -= *s == '\n';
    return MAX(line, 1);
}


/* The line where @node starts.  libxml2 records the line of text where it
 * passes it on, at its end; it keeps the line of an element only up to
 * 65535, and past that the text just before an element ends on the
 * element's line (XML_PARSE_BIG_LINES keeps the lines of text). */
static long
clonePolicyLine(xmlNodePtr node)
{
    if (node->type == XML_TEXT_NODE)
        return clonePolicyTextLine(node, xmlGetLineNo(node));
    if (node->type == XML_ELEMENT_NODE && node->line == G_MAXUINT16 &&
        node->prev && node->prev->type == XML_TEXT_NODE)
        return xmlGetLineNo(node->prev);
    return xmlGetLineNo(node);
}


/* Reports an error in the policy at the line of @node; returns -1. */
#define clonePolicyError(node, ...) \
    clonePolicyErrorFull(clonePolicyLine(node), __FILE__, __func__, __LINE__, __VA_ARGS__)


/* ---- scalars ------------------------------------------------------------- */

typedef const char *(*clonePolicyToString)(int value);

static char *
clonePolicyAttr(xmlNodePtr node, const char *attr)
{
    return (char *)xmlGetNoNsProp(node, BAD_CAST attr);
}


static char *
clonePolicyRequiredAttr(xmlNodePtr node, const char *attr)
{
    char *v = clonePolicyAttr(node, attr);

    if (!v)
        clonePolicyError(node, _("<%1$s> needs the attribute '%2$s'"),
                         (const char *)node->name, attr);
    return v;
}


static gboolean
clonePolicyIsBlank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}


/* The text of @node, or NULL when it has none but white space. */
static char *
clonePolicyText(xmlNodePtr node)
{
    g_autofree char *text = (char *)xmlNodeGetContent(node);

    if (!text || clonePolicyIsBlank(text))
        return NULL;
    return g_steal_pointer(&text);
}


/* "'a', 'b', 'c'": the first @n values of an enum, for a message */
static char *
clonePolicyEnumList(clonePolicyToString toString, int n)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%s'%s'", i > 0 ? ", " : "", toString(i));
    return g_string_free(g_steal_pointer(&s), FALSE);
}


/* Sets *@value to the index of the value of @attr among the first @n values
 * of an enum; leaves it as it is when @attr is absent. */
static int
clonePolicyParseEnum(xmlNodePtr node, const char *attr,
                     clonePolicyToString toString, int n, int *value)
{
    g_autofree char *v = clonePolicyAttr(node, attr);
    g_autofree char *list = NULL;

    if (!v)
        return 0;
    for (int i = 0; i < n; i++) {
        if (g_str_equal(v, toString(i))) {
            *value = i;
            return 0;
        }
    }
    list = clonePolicyEnumList(toString, n);
    return clonePolicyError(node, _("invalid value '%1$s' for attribute '%2$s' of <%3$s>: expected one of %4$s"),
                            v, attr, (const char *)node->name, list);
}


/* A decimal number without sign or white space, from @min to @max; *@out
 * stays as it is when @attr is absent. */
static int
clonePolicyParseNumber(xmlNodePtr node, const char *attr,
                       guint64 min, guint64 max, guint64 *out)
{
    g_autofree char *v = clonePolicyAttr(node, attr);
    guint64 n = 0;

    if (!v)
        return 0;
    if (!*v || v[strspn(v, "0123456789")] != '\0' ||
        !g_ascii_string_to_unsigned(v, 10, min, max, &n, NULL)) {
        return clonePolicyError(node, _("attribute '%1$s' of <%2$s> must be a whole number from %3$llu to %4$llu, not '%5$s'"),
                                attr, (const char *)node->name,
                                (unsigned long long)min, (unsigned long long)max, v);
    }
    *out = n;
    return 0;
}


static int
clonePolicyParseUInt(xmlNodePtr node, const char *attr, guint min, guint max, guint *out)
{
    guint64 n = *out;

    if (clonePolicyParseNumber(node, attr, min, max, &n) < 0)
        return -1;
    *out = (guint)n;
    return 0;
}


static int
clonePolicyParseYesNo(xmlNodePtr node, const char *attr, gboolean *out)
{
    g_autofree char *v = clonePolicyAttr(node, attr);

    if (!v)
        return 0;
    if (g_str_equal(v, "yes"))
        *out = TRUE;
    else if (g_str_equal(v, "no"))
        *out = FALSE;
    else
        return clonePolicyError(node, _("attribute '%1$s' of <%2$s> must be 'yes' or 'no', not '%3$s'"),
                                attr, (const char *)node->name, v);
    return 0;
}


static gboolean
clonePolicyMacIsValid(const char *mac)
{
    if (strlen(mac) != 17)
        return FALSE;
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? mac[i] != ':' : !g_ascii_isxdigit(mac[i]))
            return FALSE;
    }
    return TRUE;
}


/* A unicast MAC address, as libvirt requires it for a NIC. */
static int
clonePolicyCheckMac(xmlNodePtr node, const char *attr, const char *mac)
{
    if (!clonePolicyMacIsValid(mac))
        return clonePolicyError(node, _("invalid MAC address '%1$s' in attribute '%2$s' of <%3$s>"),
                                mac, attr, (const char *)node->name);
    if (g_ascii_xdigit_value(mac[1]) & 1)
        return clonePolicyError(node, _("the MAC address '%1$s' in attribute '%2$s' of <%3$s> is a multicast address: a NIC needs a unicast one"),
                                mac, attr, (const char *)node->name);
    return 0;
}


/* ---- names --------------------------------------------------------------- */

/* Why @name cannot be a domain name, or NULL. */
static const char *
clonePolicyNameProblem(const char *name)
{
    size_t len = strlen(name);

    if (len == 0)
        return _("a name must not be empty");
    if (strchr(name, '/'))
        return _("a name must not contain '/'");
    if (strpbrk(name, "\r\n"))
        return _("a name must not contain a line break");
    if (g_ascii_isspace(name[0]) || g_ascii_isspace(name[len - 1]))
        return _("a name must not begin or end with white space");
    return NULL;
}


/* Why @tmpl cannot be a name template, or NULL. */
static const char *
clonePolicyTemplateProblem(const char *tmpl)
{
    for (const char *p = strchr(tmpl, '%'); p; p = strchr(p + 1, '%')) {
        if (!g_str_has_prefix(p, "%{source}") && !g_str_has_prefix(p, "%{n}"))
            return _("the only keys are %{source} and %{n}");
    }
    return clonePolicyNameProblem(tmpl);
}


/* @label is a part of a host name between dots */
static gboolean
clonePolicyHostLabelIsValid(const char *label)
{
    size_t len = strlen(label);

    if (len == 0 || len > CLONE_POLICY_HOSTNAME_LABEL_MAX)
        return FALSE;
    if (label[0] == '-' || label[len - 1] == '-')
        return FALSE;
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isalnum(label[i]) && label[i] != '-')
            return FALSE;
    }
    return TRUE;
}


/* Why @hostname is invalid, or NULL.  %{n} is checked with the longest
 * number it can stand for, so that every clone's host name is valid. */
static const char *
clonePolicyHostnameProblem(const char *hostname)
{
    g_autofree char *longest = NULL;
    g_auto(GStrv) labels = NULL;

    longest = clonePolicyReplace(hostname, "%{n}", "4294967295");
    if (strlen(longest) > CLONE_POLICY_HOSTNAME_MAX)
        return _("a host name has at most 64 characters, with %{n} counted as 10 digits");
    labels = g_strsplit(longest, ".", -1);
    for (size_t i = 0; labels[i]; i++) {
        if (!clonePolicyHostLabelIsValid(labels[i]))
            return _("each dot-separated part of a host name has 1 to 63 letters, digits or '-' (%{n} counted as 10 digits), and does not begin or end with '-'");
    }
    return NULL;
}


/* ---- the elements -------------------------------------------------------- */

typedef struct {
    clonePolicy *policy;
    xmlNodePtr hostname;       /* for the checks once the document is read */
    xmlNodePtr network;
    xmlNodePtr dhcp;           /* the first <interface><ip mode='dhcp'> */
    xmlNodePtr staticIp;       /* the first <interface><ip mode='static'> */
    xmlNodePtr integrity;
} clonePolicyParseCtxt;

typedef int (*clonePolicyParseFunc)(xmlNodePtr node, clonePolicyParseCtxt *ctxt);

typedef struct _clonePolicyElement clonePolicyElement;
struct _clonePolicyElement {
    const char *name;
    const char *const *attrs;           /* the attributes it may have */
    clonePolicyParseFunc parse;         /* NULL: nothing but children */
    const clonePolicyElement *children; /* the elements it may contain */
    size_t nchildren;
    gboolean text;                      /* it has text content */
    gboolean repeat;                    /* it may appear more than once */
};


static int
clonePolicyParseName(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    g_autofree char *tmpl = clonePolicyAttr(node, "template");
    g_autofree char *text = clonePolicyText(node);
    const char *problem;

    if (tmpl && text)
        return clonePolicyError(node, "%s", _("<name> has both a text and a template: give one of them"));
    if (tmpl) {
        if ((problem = clonePolicyTemplateProblem(tmpl)))
            return clonePolicyError(node, _("invalid name template '%1$s': %2$s"), tmpl, problem);
        g_free(ctxt->policy->nameTemplate);
        ctxt->policy->nameTemplate = g_steal_pointer(&tmpl);
        return 0;
    }
    if (!text)
        return clonePolicyError(node, "%s", _("<name> needs the clone's name as its text, or a template attribute"));
    if ((problem = clonePolicyNameProblem(text)))
        return clonePolicyError(node, _("invalid clone name '%1$s': %2$s"), text, problem);
    ctxt->policy->name = g_steal_pointer(&text);
    return 0;
}


static int
clonePolicyParseUuid(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    g_autofree char *text = (char *)xmlNodeGetContent(node);

    if (!text || !g_uuid_string_is_valid(text))
        return clonePolicyError(node, _("invalid UUID '%1$s': expected 8-4-4-4-12 hexadecimal digits"),
                                text ? text : "");
    ctxt->policy->uuid = g_ascii_strdown(text, -1);
    return 0;
}


static int
clonePolicyParseGenid(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    int mode = ctxt->policy->genid;

    if (clonePolicyParseEnum(node, "mode", cloneGenidModeTypeToString,
                             CLONE_GENID_MODE_LAST, &mode) < 0)
        return -1;
    ctxt->policy->genid = mode;
    return 0;
}


static int
clonePolicyParseHostname(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    int mode = CLONE_HOSTNAME_KEEP;
    g_autofree char *text = clonePolicyText(node);
    const char *problem;

    if (clonePolicyParseEnum(node, "mode", cloneHostnameModeTypeToString,
                             CLONE_HOSTNAME_MODE_LAST, &mode) < 0)
        return -1;
    if (mode == CLONE_HOSTNAME_KEEP && text)
        return clonePolicyError(node, "%s", _("<hostname> has a text only with mode='set'"));
    if (mode == CLONE_HOSTNAME_SET && !text)
        return clonePolicyError(node, "%s", _("<hostname mode='set'> needs the host name as its text"));
    if (text && (problem = clonePolicyHostnameProblem(text)))
        return clonePolicyError(node, _("invalid host name '%1$s': %2$s"), text, problem);
    ctxt->policy->hostnameMode = mode;
    ctxt->policy->hostname = g_steal_pointer(&text);
    ctxt->hostname = node;
    return 0;
}


static int
clonePolicyParseMachineId(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    int mode = ctxt->policy->machineId;

    if (clonePolicyParseEnum(node, "mode", cloneMachineIdModeTypeToString,
                             CLONE_MACHINE_ID_MODE_LAST, &mode) < 0)
        return -1;
    ctxt->policy->machineId = mode;
    return 0;
}


static int
clonePolicyParseGuestAgent(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    clonePolicy *p = ctxt->policy;
    int onFailure = p->agentOnFailure;

    if (clonePolicyParseEnum(node, "on-failure", cloneAgentFailureTypeToString,
                             CLONE_AGENT_FAILURE_LAST, &onFailure) < 0 ||
        clonePolicyParseUInt(node, "timeout", 1, 600, &p->agentTimeoutS) < 0)
        return -1;
    p->agentOnFailure = onFailure;
    return 0;
}


static int
clonePolicyParseNetwork(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    clonePolicy *p = ctxt->policy;
    int mode = p->network;
    int guestMac = p->guestMac;
    int ip = p->ip;

    if (clonePolicyParseEnum(node, "mode", cloneNetworkModeTypeToString,
                             CLONE_NETWORK_LAST, &mode) < 0 ||
        clonePolicyParseEnum(node, "guest-mac", cloneGuestMacModeTypeToString,
                             CLONE_GUEST_MAC_LAST, &guestMac) < 0 ||
        clonePolicyParseEnum(node, "ip", cloneIpModeTypeToString,
                             CLONE_IP_MODE_LAST, &ip) < 0)
        return -1;
    if (ip == CLONE_IP_STATIC)
        return clonePolicyError(node, "%s", _("ip='static' is given per interface, with <interface><ip mode='static' address=... prefix=.../>"));
    p->network = mode;
    p->guestMac = guestMac;
    p->ip = ip;
    ctxt->network = node;
    return 0;
}


static gboolean
clonePolicyMacGiven(const clonePolicy *policy, const char *mac)
{
    for (guint i = 0; i < policy->nics->len; i++) {
        const clonePolicyNic *n = g_ptr_array_index(policy->nics, i);

        if (n->mode == CLONE_MAC_SET && g_ascii_strcasecmp(n->mac, mac) == 0)
            return TRUE;
    }
    return FALSE;
}


/* mac='auto', 'keep' or a MAC address given to no other interface */
static int
clonePolicyParseNicMac(xmlNodePtr node, const clonePolicy *policy,
                       const char *mac, clonePolicyNic *nic)
{
    if (g_str_equal(mac, "auto") || g_str_equal(mac, "keep")) {
        nic->mode = g_str_equal(mac, "auto") ? CLONE_MAC_AUTO : CLONE_MAC_KEEP;
        return 0;
    }
    if (clonePolicyCheckMac(node, "mac", mac) < 0)
        return -1;
    if (clonePolicyMacGiven(policy, mac))
        return clonePolicyError(node, _("the MAC address '%1$s' is given to more than one interface"), mac);
    nic->mode = CLONE_MAC_SET;
    nic->mac = g_ascii_strdown(mac, -1);
    return 0;
}


static int
clonePolicyParseInterface(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    g_autofree char *source = NULL;
    g_autofree char *mac = NULL;
    clonePolicyNic *nic;

    if (!(source = clonePolicyRequiredAttr(node, "source")))
        return -1;
    if (!(mac = clonePolicyAttr(node, "mac")))
        mac = g_strdup("auto");
    if (clonePolicyCheckMac(node, "source", source) < 0)
        return -1;
    if (clonePolicyFindNic(ctxt->policy, source))
        return clonePolicyError(node, _("the interface with the source MAC address '%1$s' appears more than once"),
                                source);
    nic = g_new0(clonePolicyNic, 1);
    if (clonePolicyParseNicMac(node, ctxt->policy, mac, nic) < 0) {
        clonePolicyNicFree(nic);
        return -1;
    }
    nic->sourceMac = g_ascii_strdown(source, -1);
    g_ptr_array_add(ctxt->policy->nics, nic);
    return 0;
}


/* An IPv4 or IPv6 address in @attr, or NULL when absent; *@family gets
 * AF_INET or AF_INET6. */
static int
clonePolicyParseAddress(xmlNodePtr node, const char *attr, char **out, int *family)
{
    g_autofree char *v = clonePolicyAttr(node, attr);
    unsigned char buf[sizeof(struct in6_addr)];

    *out = NULL;
    if (!v)
        return 0;
    if (inet_pton(AF_INET, v, buf) == 1)
        *family = AF_INET;
    else if (inet_pton(AF_INET6, v, buf) == 1)
        *family = AF_INET6;
    else
        return clonePolicyError(node, _("invalid IP address '%1$s' in attribute '%2$s' of <%3$s>"),
                                v, attr, (const char *)node->name);
    *out = g_steal_pointer(&v);
    return 0;
}


/* <interface ...><ip mode='...' address='...' prefix='...' gateway='...'/> */
static int
clonePolicyParseIp(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    clonePolicyNic *nic = g_ptr_array_index(ctxt->policy->nics, ctxt->policy->nics->len - 1);
    g_autofree char *prefix = clonePolicyAttr(node, "prefix");
    g_autofree char *modeAttr = clonePolicyAttr(node, "mode");
    int mode = CLONE_IP_AUTO;
    int family = 0;
    int gwFamily = 0;

    if (clonePolicyParseEnum(node, "mode", cloneIpModeTypeToString,
                             CLONE_IP_MODE_LAST, &mode) < 0 ||
        clonePolicyParseAddress(node, "address", &nic->ipAddress, &family) < 0 ||
        clonePolicyParseAddress(node, "gateway", &nic->ipGateway, &gwFamily) < 0)
        return -1;
    if (!modeAttr)
        return clonePolicyError(node, _("<ip> needs the attribute '%1$s'"), "mode");
    nic->ip = mode;
    if (mode != CLONE_IP_STATIC) {
        if (nic->ipAddress || prefix || nic->ipGateway)
            return clonePolicyError(node, _("<ip mode='%1$s'> has no address, prefix or gateway: they belong to mode 'static'"),
                                    cloneIpModeTypeToString(mode));
        if (mode == CLONE_IP_DHCP && !ctxt->dhcp)
            ctxt->dhcp = node;
        return 0;
    }
    if (!ctxt->staticIp)
        ctxt->staticIp = node;
    if (!nic->ipAddress || !prefix)
        return clonePolicyError(node, "%s", _("<ip mode='static'> needs an address and a prefix"));
    if (clonePolicyParseUInt(node, "prefix", 1, family == AF_INET ? 32 : 128,
                             &nic->ipPrefix) < 0)
        return -1;
    if (nic->ipGateway && gwFamily != family)
        return clonePolicyError(node, _("the gateway '%1$s' and the address '%2$s' are not of one IP version"),
                                nic->ipGateway, nic->ipAddress);
    return 0;
}


/* <alert log='/abs/file' command='prog args'/>: a sandbox's escape
 * attempts go to a log and/or a command, from a watcher the clone starts */
static int
clonePolicyParseAlert(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    g_autofree char *log = clonePolicyAttr(node, "log");
    g_autofree char *command = clonePolicyAttr(node, "command");

    if (ctxt->policy->network != CLONE_NETWORK_SANDBOX)
        return clonePolicyError(node, _("<alert> needs network mode '%1$s'"), "sandbox");
    if (!log && !command)
        return clonePolicyError(node, _("<alert> needs '%1$s' or '%2$s'"), "log", "command");
    if (log && (log[0] != '/' || strpbrk(log, "\r\n")))
        return clonePolicyError(node, _("the alert log '%1$s' is not an absolute path without line breaks"),
                                log);
    if (command && (!*g_strstrip(command) || strpbrk(command, "\r\n")))
        return clonePolicyError(node, _("the alert command '%1$s' is empty or has line breaks"), command);
    ctxt->policy->alertLog = g_steal_pointer(&log);
    ctxt->policy->alertCommand = g_steal_pointer(&command);
    return 0;
}


/* <integrity interval='1s' action='alert|pause|destroy'/>: the interval
 * in milliseconds, "ms" or "s" (from 100 ms to an hour) */
static int
clonePolicyParseIntegrity(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    g_autofree char *interval = clonePolicyAttr(node, "interval");
    clonePolicy *p = ctxt->policy;
    int action = CLONE_INTEGRITY_ACTION_ALERT;
    guint64 ms = 1000;

    if (p->network != CLONE_NETWORK_SANDBOX)
        return clonePolicyError(node, _("<integrity> needs network mode '%1$s'"), "sandbox");
    if (interval) {
        const char *unit = interval + strspn(interval, "0123456789");
        g_autofree char *digits = g_strndup(interval, unit - interval);
        guint64 scale = g_str_equal(unit, "s") ? 1000 : 1;

        if (!*digits || (*unit && !g_str_equal(unit, "s") && !g_str_equal(unit, "ms")) ||
            !g_ascii_string_to_unsigned(digits, 10, 0, 3600000, &ms, NULL) ||
            ms * scale < 100 || ms * scale > 3600000)
            return clonePolicyError(node, _("the integrity interval '%1$s' is not a duration from 100ms to 3600s (a whole number, then 'ms' or 's')"),
                                    interval);
        ms *= scale;
    }
    if (clonePolicyParseEnum(node, "action", cloneIntegrityActionTypeToString,
                             CLONE_INTEGRITY_ACTION_LAST, &action) < 0)
        return -1;
    p->integrityIntervalMs = (guint)ms;
    p->integrityAction = action;
    ctxt->integrity = node;
    return 0;
}


static int
clonePolicyParseDisks(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    g_autofree char *dir = clonePolicyAttr(node, "dir");
    g_autofree char *format = clonePolicyAttr(node, "format");

    if (dir && (dir[0] != '/' || strpbrk(dir, "\r\n")))
        return clonePolicyError(node, _("the overlay directory '%1$s' is not an absolute path without line breaks"),
                                dir);
    if (format && !g_str_equal(format, "qcow2"))
        return clonePolicyError(node, _("unsupported overlay format '%1$s': only 'qcow2' is supported"),
                                format);
    if (dir) {
        g_free(ctxt->policy->overlayDir);
        ctxt->policy->overlayDir = g_steal_pointer(&dir);
    }
    return 0;
}


/* A disk target as libvirt's schema has it: vda, sdb, hdc, xvda, ... */
static gboolean
clonePolicyTargetIsValid(const char *target)
{
    static const char *const prefixes[] = { "fd", "hd", "sd", "vd", "xvd", "ubd" };

    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        const char *rest = target + strlen(prefixes[i]);

        if (!g_str_has_prefix(target, prefixes[i]) || !*rest)
            continue;
        for (; *rest; rest++) {
            if (!g_ascii_isalnum(*rest) && *rest != '_')
                return FALSE;
        }
        return TRUE;
    }
    return FALSE;
}


static int
clonePolicyParseDisk(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    g_autofree char *target = NULL;
    g_autofree char *action = NULL;
    int value = CLONE_DISK_DEFAULT;
    clonePolicyDisk *disk;

    /* 'default' is what a disk that is not listed gets */
    if (!(target = clonePolicyRequiredAttr(node, "target")) ||
        !(action = clonePolicyRequiredAttr(node, "action")) ||
        clonePolicyParseEnum(node, "action", cloneDiskActionTypeToString,
                             CLONE_DISK_DEFAULT, &value) < 0)
        return -1;
    if (!clonePolicyTargetIsValid(target))
        return clonePolicyError(node, _("invalid disk target '%1$s': expected a target device such as 'vda' or 'sdb'"),
                                target);
    if (clonePolicyFindDisk(ctxt->policy, target))
        return clonePolicyError(node, _("the disk '%1$s' appears more than once"), target);
    disk = g_new0(clonePolicyDisk, 1);
    disk->target = g_steal_pointer(&target);
    disk->action = value;
    g_ptr_array_add(ctxt->policy->disks, disk);
    return 0;
}


static int
clonePolicyParseMemory(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    clonePolicy *p = ctxt->policy;
    int strategy = p->strategy;

    if (clonePolicyParseEnum(node, "strategy", cloneStrategyTypeToString,
                             CLONE_STRATEGY_LAST, &strategy) < 0 ||
        clonePolicyParseUInt(node, "downtime-limit", 1, 60000, &p->downtimeLimitMs) < 0 ||
        clonePolicyParseNumber(node, "bandwidth", 0, CLONE_POLICY_BANDWIDTH_MAX, &p->bandwidthMiBs) < 0 ||
        clonePolicyParseUInt(node, "timeout", 1, 86400, &p->timeoutS) < 0 ||
        clonePolicyParseUInt(node, "max-passes", 1, 1000, &p->autoMaxPasses) < 0)
        return -1;
    p->strategy = strategy;
    return 0;
}


static int
clonePolicyParseTpm(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    int mode = ctxt->policy->tpm;

    if (clonePolicyParseEnum(node, "mode", cloneTpmModeTypeToString,
                             CLONE_TPM_MODE_LAST, &mode) < 0)
        return -1;
    ctxt->policy->tpm = mode;
    return 0;
}


static int
clonePolicyParseLifecycle(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    clonePolicy *p = ctxt->policy;

    if (clonePolicyParseYesNo(node, "persistent", &p->persistent) < 0 ||
        clonePolicyParseNumber(node, "ttl", 0, CLONE_POLICY_TTL_MAX, &p->ttlS) < 0)
        return -1;
    return 0;
}


static int
clonePolicyParseChain(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    clonePolicy *p = ctxt->policy;
    int atLimit = p->chainAtLimit;

    if (clonePolicyParseUInt(node, "max-depth", 2, 24, &p->chainMaxDepth) < 0 ||
        clonePolicyParseEnum(node, "at-limit", cloneChainActionTypeToString,
                             CLONE_CHAIN_ACTION_LAST, &atLimit) < 0 ||
        clonePolicyParseYesNo(node, "wait", &p->chainWait) < 0)
        return -1;
    p->chainAtLimit = atLimit;
    return 0;
}


static int
clonePolicyParseTemplate(xmlNodePtr node, clonePolicyParseCtxt *ctxt)
{
    clonePolicy *p = ctxt->policy;
    g_autofree char *dir = clonePolicyAttr(node, "directory");

    if (dir && (dir[0] != '/' || strpbrk(dir, "\r\n")))
        return clonePolicyError(node, _("the template directory '%1$s' is not an absolute path without line breaks"),
                                dir);
    if (clonePolicyParseNumber(node, "max-memory", 0, G_MAXUINT32, &p->templateMaxMiB) < 0 ||
        clonePolicyParseYesNo(node, "sharing", &p->templateSharing) < 0)
        return -1;
    if (dir) {
        g_free(p->templateDir);
        p->templateDir = g_steal_pointer(&dir);
    }
    return 0;
}


static const char *const clonePolicyModeAttrs[] = { "mode", NULL };
static const char *const clonePolicyNameAttrs[] = { "template", NULL };
static const char *const clonePolicyNetworkAttrs[] = { "mode", "guest-mac", "ip", NULL };
static const char *const clonePolicyInterfaceAttrs[] = { "source", "mac", NULL };
static const char *const clonePolicyIpAttrs[] = { "mode", "address", "prefix", "gateway", NULL };
static const char *const clonePolicyGuestAgentAttrs[] = { "on-failure", "timeout", NULL };
static const char *const clonePolicyAlertAttrs[] = { "log", "command", NULL };
static const char *const clonePolicyIntegrityAttrs[] = { "interval", "action", NULL };
static const char *const clonePolicyDisksAttrs[] = { "dir", "format", NULL };
static const char *const clonePolicyDiskAttrs[] = { "target", "action", NULL };
static const char *const clonePolicyMemoryAttrs[] = {
    "strategy", "downtime-limit", "bandwidth", "timeout", "max-passes", NULL
};
static const char *const clonePolicyLifecycleAttrs[] = { "persistent", "ttl", NULL };
static const char *const clonePolicyChainAttrs[] = { "max-depth", "at-limit", "wait", NULL };
static const char *const clonePolicyTemplateAttrs[] = { "directory", "max-memory", "sharing", NULL };

static const clonePolicyElement clonePolicyIdentityElements[] = {
    { .name = "uuid", .parse = clonePolicyParseUuid, .text = TRUE },
    { .name = "genid", .attrs = clonePolicyModeAttrs, .parse = clonePolicyParseGenid },
    { .name = "hostname", .attrs = clonePolicyModeAttrs, .parse = clonePolicyParseHostname,
      .text = TRUE },
    { .name = "machine-id", .attrs = clonePolicyModeAttrs, .parse = clonePolicyParseMachineId },
    { .name = "guest-agent", .attrs = clonePolicyGuestAgentAttrs,
      .parse = clonePolicyParseGuestAgent },
};

static const clonePolicyElement clonePolicyInterfaceElements[] = {
    { .name = "ip", .attrs = clonePolicyIpAttrs, .parse = clonePolicyParseIp },
};

static const clonePolicyElement clonePolicyNetworkElements[] = {
    { .name = "interface", .attrs = clonePolicyInterfaceAttrs,
      .parse = clonePolicyParseInterface, .repeat = TRUE,
      .children = clonePolicyInterfaceElements,
      .nchildren = G_N_ELEMENTS(clonePolicyInterfaceElements) },
    { .name = "alert", .attrs = clonePolicyAlertAttrs, .parse = clonePolicyParseAlert },
    { .name = "integrity", .attrs = clonePolicyIntegrityAttrs, .parse = clonePolicyParseIntegrity },
};

static const clonePolicyElement clonePolicyDisksElements[] = {
    { .name = "disk", .attrs = clonePolicyDiskAttrs, .parse = clonePolicyParseDisk,
      .repeat = TRUE },
};

static const clonePolicyElement clonePolicyElements[] = {
    { .name = "name", .attrs = clonePolicyNameAttrs, .parse = clonePolicyParseName, .text = TRUE },
    { .name = "identity", .children = clonePolicyIdentityElements,
      .nchildren = G_N_ELEMENTS(clonePolicyIdentityElements) },
    { .name = "network", .attrs = clonePolicyNetworkAttrs, .parse = clonePolicyParseNetwork,
      .children = clonePolicyNetworkElements,
      .nchildren = G_N_ELEMENTS(clonePolicyNetworkElements) },
    { .name = "disks", .attrs = clonePolicyDisksAttrs, .parse = clonePolicyParseDisks,
      .children = clonePolicyDisksElements,
      .nchildren = G_N_ELEMENTS(clonePolicyDisksElements) },
    { .name = "memory", .attrs = clonePolicyMemoryAttrs, .parse = clonePolicyParseMemory },
    { .name = "tpm", .attrs = clonePolicyModeAttrs, .parse = clonePolicyParseTpm },
    { .name = "lifecycle", .attrs = clonePolicyLifecycleAttrs, .parse = clonePolicyParseLifecycle },
    { .name = "chain", .attrs = clonePolicyChainAttrs, .parse = clonePolicyParseChain },
    { .name = "template", .attrs = clonePolicyTemplateAttrs, .parse = clonePolicyParseTemplate },
};

static const clonePolicyElement clonePolicyRoot = {
    .name = "clonepolicy",
    .children = clonePolicyElements,
    .nchildren = G_N_ELEMENTS(clonePolicyElements),
};


/* ---- the walk ------------------------------------------------------------ */

/* "name", or "prefix:name" for a node in a namespace */
static char *
clonePolicyQName(const xmlChar *name, xmlNsPtr ns)
{
    if (ns && ns->prefix)
        return g_strdup_printf("%s:%s", (const char *)ns->prefix, (const char *)name);
    return g_strdup((const char *)name);
}


static int
clonePolicyCheckAttrs(xmlNodePtr node, const char *const *allowed)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        g_autofree char *qname = NULL;

        if (!a->ns && allowed && g_strv_contains(allowed, (const char *)a->name))
            continue;
        qname = clonePolicyQName(a->name, a->ns);
        return clonePolicyError(node, _("unknown attribute '%1$s' on <%2$s>"),
                                qname, (const char *)node->name);
    }
    return 0;
}


static int
clonePolicyUnknownElement(xmlNodePtr parent, xmlNodePtr node)
{
    g_autofree char *qname = clonePolicyQName(node->name, node->ns);

    if (node->ns)
        return clonePolicyError(node, _("unknown element '%1$s' in <%2$s>: the elements of a clone policy have no namespace, this one has '%3$s'"),
                                qname, (const char *)parent->name, (const char *)node->ns->href);
    return clonePolicyError(node, _("unknown element '%1$s' in <%2$s>"),
                            qname, (const char *)parent->name);
}


/* Text where only elements belong; comments and processing instructions
 * are fine anywhere. */
static int
clonePolicyCheckNotText(xmlNodePtr parent, xmlNodePtr node)
{
    gboolean text = node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE;

    if ((text && !xmlIsBlankNode(node)) || node->type == XML_ENTITY_REF_NODE)
        return clonePolicyError(node, _("unexpected text in <%1$s>"), (const char *)parent->name);
    return 0;
}


static const clonePolicyElement *
clonePolicyFindElement(const clonePolicyElement *parent, xmlNodePtr node, size_t *idx)
{
    for (size_t i = 0; !node->ns && i < parent->nchildren; i++) {
        if (xmlStrEqual(node->name, BAD_CAST parent->children[i].name)) {
            *idx = i;
            return &parent->children[i];
        }
    }
    return NULL;
}


static int clonePolicyParseElement(xmlNodePtr node, const clonePolicyElement *def,
                                   clonePolicyParseCtxt *ctxt);

static int
clonePolicyParseChildren(xmlNodePtr node, const clonePolicyElement *def,
                         clonePolicyParseCtxt *ctxt)
{
    guint64 seen = 0;

    G_STATIC_ASSERT(G_N_ELEMENTS(clonePolicyElements) <= 64);
    for (xmlNodePtr c = node->children; c; c = c->next) {
        const clonePolicyElement *cdef;
        size_t idx = 0;

        if (c->type != XML_ELEMENT_NODE) {
            if (!def->text && clonePolicyCheckNotText(node, c) < 0)
                return -1;
            continue;
        }
        if (!(cdef = clonePolicyFindElement(def, c, &idx)))
            return clonePolicyUnknownElement(node, c);
        if (!cdef->repeat && (seen & (G_GUINT64_CONSTANT(1) << idx)))
            return clonePolicyError(c, _("element <%1$s> appears more than once in <%2$s>"),
                                    cdef->name, def->name);
        seen |= G_GUINT64_CONSTANT(1) << idx;
        if (clonePolicyParseElement(c, cdef, ctxt) < 0)
            return -1;
    }
    return 0;
}


static int
clonePolicyParseElement(xmlNodePtr node, const clonePolicyElement *def,
                        clonePolicyParseCtxt *ctxt)
{
    if (clonePolicyCheckAttrs(node, def->attrs) < 0)
        return -1;
    if (def->parse && def->parse(node, ctxt) < 0)
        return -1;
    return clonePolicyParseChildren(node, def, ctxt);
}


/* Rules that involve more than one element. */
static int
clonePolicyCheckWhole(clonePolicyParseCtxt *ctxt)
{
    const clonePolicy *p = ctxt->policy;
    gboolean numbered = !p->name && strstr(p->nameTemplate, "%{n}");

    if (p->hostname && strstr(p->hostname, "%{n}") && !numbered)
        return clonePolicyError(ctxt->hostname, _("the host name '%1$s' uses %%{n}, but the clone's name has no number: use a name template with %%{n}"),
                                p->hostname);
    if (p->network != CLONE_NETWORK_INHERIT && (p->ip == CLONE_IP_DHCP || ctxt->dhcp))
        return clonePolicyError(ctxt->dhcp ? ctxt->dhcp : ctxt->network,
                                _("DHCP needs network mode 'inherit': with mode '%1$s' no DHCP server answers"),
                                cloneNetworkModeTypeToString(p->network));
    if (p->network == CLONE_NETWORK_DISCONNECTED && ctxt->staticIp)
        return clonePolicyError(ctxt->staticIp, "%s", _("a static address needs the link up: network mode 'inherit' or 'sandbox'"));
    if (ctxt->integrity && !p->alertLog && !p->alertCommand)
        return clonePolicyError(ctxt->integrity, "%s", _("<integrity> needs an <alert> with a log or a command: its alerts go there"));
    if (p->network == CLONE_NETWORK_INHERIT && p->guestMac == CLONE_GUEST_MAC_KEEP)
        return clonePolicyError(ctxt->network, "%s", _("guest-mac='keep' with network mode 'inherit' puts the source's MAC addresses on the source's network: the guest must take its new MACs (guest-mac='set' or 'auto')"));
    return 0;
}


static int
clonePolicyParseRoot(xmlNodePtr root, clonePolicy *policy)
{
    clonePolicyParseCtxt ctxt = { .policy = policy };

    if (root->ns)
        return clonePolicyError(root, _("the root element <%1$s> is in the namespace '%2$s': a clone policy has no namespace"),
                                (const char *)root->name, (const char *)root->ns->href);
    if (!xmlStrEqual(root->name, BAD_CAST clonePolicyRoot.name))
        return clonePolicyError(root, _("the root element is <%1$s>, expected <clonepolicy>"),
                                (const char *)root->name);
    if (clonePolicyParseElement(root, &clonePolicyRoot, &ctxt) < 0)
        return -1;
    return clonePolicyCheckWhole(&ctxt);
}


G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlParserCtxt, xmlFreeParserCtxt);

typedef struct {
    int line;
    char *message;
} clonePolicyXMLError;


/* Keeps the first error: later ones follow from it. */
static void
clonePolicyCatchXMLError(void *data, xmlErrorPtr err)
{
    xmlParserCtxtPtr pctxt = data;
    clonePolicyXMLError *first = pctxt->_private;

    if (first->message || err->level == XML_ERR_WARNING)
        return;
    first->line = err->line;
    first->message = g_strchomp(g_strdup(err->message ? err->message : _("unknown error")));
}


static xmlDocPtr
clonePolicyReadXML(const char *xml)
{
    g_autoptr(xmlParserCtxt) pctxt = xmlNewParserCtxt();
    clonePolicyXMLError first = { 0 };
    size_t len = strlen(xml);
    xmlDocPtr doc;

    if (!pctxt)
        abort();
    if (len > G_MAXINT) {
        clonePolicyErrorFull(0, __FILE__, __func__, __LINE__, "%s",
                             _("the document is larger than 2 GiB"));
        return NULL;
    }
    pctxt->_private = &first;
    pctxt->sax->serror = clonePolicyCatchXMLError;
    doc = xmlCtxtReadMemory(pctxt, xml, (int)len, "clonepolicy.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_BIG_LINES);
    if (doc && pctxt->wellFormed && !first.message)
        return doc;
    xmlFreeDoc(doc);
    clonePolicyErrorFull(first.line, __FILE__, __func__, __LINE__,
                         _("the document is not well-formed XML: %1$s"),
                         first.message ? first.message : _("unknown error"));
    g_free(first.message);
    return NULL;
}


/**
 * clonePolicyParse:
 * @xml: a <clonepolicy> document, or NULL for the defaults
 *
 * Returns the policy with every default filled in, or NULL with an error
 * that names the line at fault.
 */
clonePolicy *
clonePolicyParse(const char *xml)
{
    g_autoptr(clonePolicy) policy = clonePolicyNewDefault();
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root;

    if (!xml)
        return g_steal_pointer(&policy);
    if (!(doc = clonePolicyReadXML(xml)))
        return NULL;
    if (!(root = xmlDocGetRootElement(doc))) {
        clonePolicyErrorFull(1, __FILE__, __func__, __LINE__, "%s",
                             _("the document has no root element"));
        return NULL;
    }
    if (clonePolicyParseRoot(root, policy) < 0)
        return NULL;
    return g_steal_pointer(&policy);
}


/* ---- format -------------------------------------------------------------- */

/* Appends @text escaped for an attribute value or element text.  Tabs and
 * line breaks become character references: a parser would otherwise turn
 * them into spaces (attributes) or '\n' (a carriage return). */
static void
clonePolicyAppendEscaped(GString *s, const char *text)
{
    g_autofree char *esc = g_markup_escape_text(text, -1);

    for (const char *p = esc; *p; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r')
            g_string_append_printf(s, "&#%d;", *p);
        else
            g_string_append_c(s, *p);
    }
}


static void
clonePolicyFormatName(GString *s, const clonePolicy *p)
{
    if (p->name) {
        g_string_append(s, "  <name>");
        clonePolicyAppendEscaped(s, p->name);
        g_string_append(s, "</name>\n");
        return;
    }
    g_string_append(s, "  <name template='");
    clonePolicyAppendEscaped(s, p->nameTemplate);
    g_string_append(s, "'/>\n");
}


static void
clonePolicyFormatIdentity(GString *s, const clonePolicy *p)
{
    g_string_append(s, "  <identity>\n");
    if (p->uuid)
        g_string_append_printf(s, "    <uuid>%s</uuid>\n", p->uuid);
    g_string_append_printf(s, "    <genid mode='%s'/>\n", cloneGenidModeTypeToString(p->genid));
    if (p->hostname) {
        g_string_append_printf(s, "    <hostname mode='%s'>",
                               cloneHostnameModeTypeToString(p->hostnameMode));
        clonePolicyAppendEscaped(s, p->hostname);
        g_string_append(s, "</hostname>\n");
    } else {
        g_string_append_printf(s, "    <hostname mode='%s'/>\n",
                               cloneHostnameModeTypeToString(p->hostnameMode));
    }
    g_string_append_printf(s, "    <machine-id mode='%s'/>\n",
                           cloneMachineIdModeTypeToString(p->machineId));
    g_string_append_printf(s, "    <guest-agent on-failure='%s' timeout='%u'/>\n",
                           cloneAgentFailureTypeToString(p->agentOnFailure), p->agentTimeoutS);
    g_string_append(s, "  </identity>\n");
}


static void
clonePolicyFormatNetwork(GString *s, const clonePolicy *p)
{
    g_string_append_printf(s, "  <network mode='%s' guest-mac='%s' ip='%s'",
                           cloneNetworkModeTypeToString(p->network),
                           cloneGuestMacModeTypeToString(p->guestMac),
                           cloneIpModeTypeToString(p->ip));
    if (p->nics->len == 0 && !p->alertLog && !p->alertCommand && !p->integrityIntervalMs) {
        g_string_append(s, "/>\n");
        return;
    }
    g_string_append(s, ">\n");
    for (guint i = 0; i < p->nics->len; i++) {
        const clonePolicyNic *n = g_ptr_array_index(p->nics, i);

        g_string_append_printf(s, "    <interface source='%s' mac='%s'", n->sourceMac,
                               n->mode == CLONE_MAC_SET ? n->mac : cloneMacModeTypeToString(n->mode));
        if (n->ip == CLONE_IP_AUTO) {
            g_string_append(s, "/>\n");
            continue;
        }
        g_string_append_printf(s, ">\n      <ip mode='%s'", cloneIpModeTypeToString(n->ip));
        if (n->ipAddress)
            g_string_append_printf(s, " address='%s' prefix='%u'", n->ipAddress, n->ipPrefix);
        if (n->ipGateway)
            g_string_append_printf(s, " gateway='%s'", n->ipGateway);
        g_string_append(s, "/>\n    </interface>\n");
    }
    if (p->alertLog || p->alertCommand) {
        g_string_append(s, "    <alert");
        if (p->alertLog) {
            g_string_append(s, " log='");
            clonePolicyAppendEscaped(s, p->alertLog);
            g_string_append_c(s, '\'');
        }
        if (p->alertCommand) {
            g_string_append(s, " command='");
            clonePolicyAppendEscaped(s, p->alertCommand);
            g_string_append_c(s, '\'');
        }
        g_string_append(s, "/>\n");
    }
    if (p->integrityIntervalMs) {
        if (p->integrityIntervalMs % 1000 == 0)
            g_string_append_printf(s, "    <integrity interval='%us'", p->integrityIntervalMs / 1000);
        else
            g_string_append_printf(s, "    <integrity interval='%ums'", p->integrityIntervalMs);
        g_string_append_printf(s, " action='%s'/>\n",
                               cloneIntegrityActionTypeToString(p->integrityAction));
    }
    g_string_append(s, "  </network>\n");
}


static void
clonePolicyFormatDisks(GString *s, const clonePolicy *p)
{
    g_string_append(s, "  <disks");
    if (p->overlayDir) {
        g_string_append(s, " dir='");
        clonePolicyAppendEscaped(s, p->overlayDir);
        g_string_append_c(s, '\'');
    }
    g_string_append_printf(s, " format='%s'", p->overlayFormat);
    if (p->disks->len == 0) {
        g_string_append(s, "/>\n");
        return;
    }
    g_string_append(s, ">\n");
    for (guint i = 0; i < p->disks->len; i++) {
        const clonePolicyDisk *d = g_ptr_array_index(p->disks, i);

        g_string_append_printf(s, "    <disk target='%s' action='%s'/>\n", d->target,
                               cloneDiskActionTypeToString(d->action));
    }
    g_string_append(s, "  </disks>\n");
}


static void
clonePolicyFormatScalars(GString *s, const clonePolicy *p)
{
    g_string_append_printf(s, "  <memory strategy='%s' downtime-limit='%u' bandwidth='%llu' "
                           "timeout='%u' max-passes='%u'/>\n",
                           cloneStrategyTypeToString(p->strategy), p->downtimeLimitMs,
                           (unsigned long long)p->bandwidthMiBs, p->timeoutS, p->autoMaxPasses);
    g_string_append_printf(s, "  <tpm mode='%s'/>\n", cloneTpmModeTypeToString(p->tpm));
    g_string_append_printf(s, "  <lifecycle persistent='%s' ttl='%llu'/>\n",
                           p->persistent ? "yes" : "no", (unsigned long long)p->ttlS);
    g_string_append_printf(s, "  <chain max-depth='%u' at-limit='%s' wait='%s'/>\n",
                           p->chainMaxDepth, cloneChainActionTypeToString(p->chainAtLimit),
                           p->chainWait ? "yes" : "no");
    g_string_append(s, "  <template");
    if (p->templateDir) {
        g_string_append(s, " directory='");
        clonePolicyAppendEscaped(s, p->templateDir);
        g_string_append_c(s, '\'');
    }
    g_string_append_printf(s, " max-memory='%llu' sharing='%s'/>\n",
                           (unsigned long long)p->templateMaxMiB, p->templateSharing ? "yes" : "no");
}


/**
 * clonePolicyFormat:
 * @p: a policy
 *
 * Returns the effective policy as a <clonepolicy> document with every
 * default written out.  Parsing it gives an equal policy, and formatting
 * that gives the same document.
 */
char *
clonePolicyFormat(const clonePolicy *p)
{
    g_autoptr(GString) s = g_string_new("<clonepolicy>\n");

    clonePolicyFormatName(s, p);
    clonePolicyFormatIdentity(s, p);
    clonePolicyFormatNetwork(s, p);
    clonePolicyFormatDisks(s, p);
    clonePolicyFormatScalars(s, p);
    g_string_append(s, "</clonepolicy>\n");
    return g_string_free(g_steal_pointer(&s), FALSE);
}


/* ---- public API ---------------------------------------------------------- */

/**
 * virDomainCloneLivePolicyNormalize:
 * @policyXML: a <clonepolicy> document, or NULL for the defaults
 * @flags: extra flags; not used yet, so callers should always pass 0
 *
 * Validates @policyXML as virDomainCloneLive() would, without a domain or
 * a connection, and returns the effective policy: a <clonepolicy> document
 * with every default written out (see docs/policy.md).  Passing the result
 * to virDomainCloneLive() has the same effect as passing @policyXML.
 *
 * Returns the effective policy (free it with free()), or NULL with the
 * thread's last error set (virCloneGetLastError); the error of an invalid
 * policy has the code VIR_CLONE_ERR_POLICY and names the line at fault.
 *
 * Since: 0.2.0
 */
CLONE_EXPORT char *
virDomainCloneLivePolicyNormalize(const char *policyXML, unsigned int flags)
{
    g_autoptr(clonePolicy) policy = NULL;

    virCloneInitialize();
    virCloneResetLastError();
    cloneCheckFlags(0, NULL);
    if (!(policy = clonePolicyParse(policyXML)))
        return NULL;
    return clonePolicyFormat(policy);
}
