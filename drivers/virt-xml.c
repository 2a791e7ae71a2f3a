/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's domain XML, parsed and edited with libxml2 alone; see virt-xml.h. */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/chvalid.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include "drivers/virt-xml.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/parse-util.h"
#include "lib/string-table.h"

#define VIRT_AGENT_CHANNEL "org.vfo.agent.0"
#define VIRT_PRIORITY_DEFAULT 100U
#define VIRT_PRIORITY_MAX 1000U
#define sizeof_field(type, member) sizeof(((type *) 0)->member)

static const char *const virt_domain_state_table[_VIRT_DOMAIN_STATE_MAX] = {
        [VIRT_DOMAIN_SHUTOFF] = "shutoff",
        [VIRT_DOMAIN_RUNNING] = "running",
        [VIRT_DOMAIN_PAUSED] = "paused",
        [VIRT_DOMAIN_OTHER] = "other",
};

DEFINE_STRING_TABLE_TO_STRING(virt_domain_state, VirtDomainState, _VIRT_DOMAIN_STATE_MAX);


_printf_(2, 3) static void virt_xml_silence(void *ctx, const char *msg, ...) {
}

static void virt_xml_init(void) {
        /* libxml2 prints parse and XPath errors to stderr by default. */
        xmlSetGenericErrorFunc(NULL, virt_xml_silence);
}

static void virt_xml_doc_freep(xmlDoc **p) {
        if (*p)
                xmlFreeDoc(*p);
}

static void virt_xpath_context_freep(xmlXPathContext **p) {
        if (*p)
                xmlXPathFreeContext(*p);
}

static void virt_xpath_object_freep(xmlXPathObject **p) {
        if (*p)
                xmlXPathFreeObject(*p);
}

static void virt_xml_charp(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}

static void virt_xml_buffer_freep(xmlBuffer **p) {
        if (*p)
                xmlBufferFree(*p);
}

static int virt_xml_parse(const char *xml, xmlDoc **ret_doc, xmlXPathContext **ret_ctx) {
        _cleanup_(virt_xml_doc_freep) xmlDoc *doc = NULL;
        xmlXPathContext *ctx;
        xmlNode *root;
        size_t len;

        if (!xml)
                return -EINVAL;
        len = strlen(xml);
        if (len > INT_MAX)
                return -E2BIG;

        virt_xml_init();
        doc = xmlReadMemory(xml, (int) len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return -EBADMSG;
        root = xmlDocGetRootElement(doc);
        if (!root || root->ns || !xmlStrEqual(root->name, BAD_CAST "domain"))
                return -EBADMSG;

        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                return -ENOMEM;

        *ret_doc = TAKE_PTR(doc);
        *ret_ctx = ctx;
        return 0;
}

/* The node set of 'expr'; *ret_nodes NULL if it is empty. */
static int virt_xpath_nodes(xmlXPathContext *ctx, const char *expr, xmlXPathObject **ret,
                            xmlNodeSet **ret_nodes) {
        xmlXPathObject *obj;

        obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
        if (!obj)
                return -ENOMEM;
        if (obj->type != XPATH_NODESET) {
                xmlXPathFreeObject(obj);
                return -EINVAL;
        }
        *ret = obj;
        *ret_nodes = obj->nodesetval && obj->nodesetval->nodeNr > 0 ? obj->nodesetval : NULL;
        return 0;
}

/* The string value of 'expr' (a "string(…)" expression) at 'node', newly
 * allocated; "" if nothing matches. */
static int virt_xpath_strdup(xmlXPathContext *ctx, xmlNode *node, const char *expr, char **ret) {
        _cleanup_(virt_xpath_object_freep) xmlXPathObject *obj = NULL;
        char *s;

        obj = xmlXPathNodeEval(node, BAD_CAST expr, ctx);
        if (!obj)
                return -ENOMEM;
        if (obj->type != XPATH_STRING)
                return -EINVAL;
        s = strdup(obj->stringval ? (const char *) obj->stringval : "");
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int virt_copy_field(char *buf, size_t size, const char *s) {
        size_t n = strlen(s);

        if (n >= size) {
                buf[0] = 0;
                return -ENAMETOOLONG;
        }
        memcpy(buf, s, n + 1);
        return 0;
}

/* Like virt_xpath_strdup(), into a fixed buffer; -ENAMETOOLONG leaves "". */
static int virt_xpath_field(xmlXPathContext *ctx, xmlNode *node, const char *expr, char *buf, size_t size) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = virt_xpath_strdup(ctx, node, expr, &s);
        if (r < 0) {
                buf[0] = 0;
                return r;
        }
        return virt_copy_field(buf, size, s);
}

static void virt_ascii_lower(char *s) {
        for (; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                        *s = (char) (*s - 'A' + 'a');
}

static int virt_parse_interface(xmlXPathContext *ctx, xmlNode *node, VirtInterface *ret) {
        static const struct {
                const char *expr;
                size_t offset, size;
        } fields[] = {
#define FIELD(expr, member) { expr, offsetof(VirtInterface, member), sizeof_field(VirtInterface, member) }
                FIELD("string(@type)", type),
                FIELD("string(mac/@address)", mac),
                FIELD("string(model/@type)", model),
                FIELD("string(alias/@name)", alias),
                FIELD("string(target/@dev)", target),
#undef FIELD
        };
        VirtInterface iface = {};
        char buf[32];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                r = virt_xpath_field(ctx, node, fields[i].expr, (char *) &iface + fields[i].offset,
                                     fields[i].size);
                if (r == -ENAMETOOLONG)
                        log_warning("Domain XML: interface %s too long, ignored.", fields[i].expr);
                else if (r < 0)
                        return r;
        }
        virt_ascii_lower(iface.mac);
        if (iface.mac[0] && strlen(iface.mac) != 17) {
                log_warning("Domain XML: interface MAC '%s' is not a MAC address, ignored.", iface.mac);
                iface.mac[0] = 0;
        }

        r = virt_xpath_field(ctx, node, "string(link/@state)", buf, sizeof(buf));
        if (r < 0 && r != -ENAMETOOLONG)
                return r;
        iface.link_down = strcmp(buf, "down") == 0;

        r = virt_xpath_field(ctx, node, "string(teaming/@type)", buf, sizeof(buf));
        if (r < 0 && r != -ENAMETOOLONG)
                return r;
        iface.teaming_persistent = strcmp(buf, "persistent") == 0;

        *ret = iface;
        return 0;
}

/* -EINVAL for a bad attribute: the caller logs and treats the policy as absent. */
static int virt_parse_policy(xmlNode *node, VirtPolicy *ret) {
        _cleanup_(virt_xml_charp) xmlChar *pool = NULL, *priority = NULL, *required = NULL;
        VirtPolicy p = { .present = true, .priority = VIRT_PRIORITY_DEFAULT };

        pool = xmlGetNoNsProp(node, BAD_CAST "pool");
        priority = xmlGetNoNsProp(node, BAD_CAST "priority");
        required = xmlGetNoNsProp(node, BAD_CAST "required");

        if (pool && virt_copy_field(p.pool, sizeof(p.pool), (const char *) pool) < 0) {
                log_warning("Domain XML: vfo policy pool name is too long.");
                return -EINVAL;
        }
        if (priority && parse_uint((const char *) priority, 0, VIRT_PRIORITY_MAX, &p.priority) < 0) {
                log_warning("Domain XML: vfo policy priority '%s' is not a number 0…%u.", (const char *) priority,
                            VIRT_PRIORITY_MAX);
                return -EINVAL;
        }
        if (required) {
                /* The booleans of vfod.conf and vfoctl (yes/no, true/false, …, any case). */
                int b = parse_boolean((const char *) required);

                if (b < 0) {
                        log_warning("Domain XML: vfo policy required='%s' is not yes or no.",
                                    (const char *) required);
                        return -EINVAL;
                }
                p.required = b;
        }

        *ret = p;
        return 0;
}

void virt_domain_raw_done(VirtDomainRaw *raw) {
        if (raw)
                raw->xml = mfree(raw->xml);
}

int virt_domain_from_raw(const VirtDomainRaw *raw, VirtDomain *ret) {
        int r;

        if (!raw || !raw->xml)
                return -EINVAL;
        r = virt_domain_parse_xml(raw->xml, ret);
        if (r < 0)
                return r;
        ret->state = raw->state;
        ret->persistent = raw->persistent;
        ret->id = raw->id;
        return 0;
}

void virt_domain_done(VirtDomain *d) {
        if (!d)
                return;

        d->interfaces = mfree(d->interfaces);
        d->n_interfaces = 0;
        d->channel_path = mfree(d->channel_path);
        for (size_t i = 0; i < d->n_vfo_aliases; i++)
                free(d->vfo_aliases[i]);
        d->vfo_aliases = mfree(d->vfo_aliases);
        d->n_vfo_aliases = 0;
}

void virt_domain_free_array(VirtDomain *a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                virt_domain_done(&a[i]);
        free(a);
}

#define VIRT_XPATH_INTERFACES "/domain/devices/interface"
#define VIRT_XPATH_CHANNEL                                                                               \
        "/domain/devices/channel[@type='unix'][target[@type='virtio' and @name='" VIRT_AGENT_CHANNEL \
        "']]"
#define VIRT_XPATH_VFO_ALIASES "/domain/devices/*/alias[starts-with(@name,'" VIRT_VFO_ALIAS_PREFIX "')]"
#define VIRT_XPATH_POLICY \
        "/domain/metadata/*[namespace-uri()='" VIRT_METADATA_URI "' and local-name()='policy']"

int virt_domain_parse_xml(const char *xml, VirtDomain *ret) {
        _cleanup_(virt_xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(virt_xpath_context_freep) xmlXPathContext *ctx = NULL;
        _cleanup_(virt_domain_done) VirtDomain d = { .id = -1, .state = _VIRT_DOMAIN_STATE_INVALID };
        _cleanup_(virt_xpath_object_freep) xmlXPathObject *ifaces = NULL, *channels = NULL, *aliases = NULL,
                                                          *policies = NULL;
        xmlNodeSet *nodes;
        xmlNode *root;
        char *path;
        int r;

        assert(ret);

        r = virt_xml_parse(xml, &doc, &ctx);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);

        r = virt_xpath_field(ctx, root, "string(/domain/uuid)", d.uuid, sizeof(d.uuid));
        if (r == -ENAMETOOLONG || (r >= 0 && strlen(d.uuid) != 36))
                return -EBADMSG;
        if (r < 0)
                return r;
        virt_ascii_lower(d.uuid);
        r = virt_xpath_field(ctx, root, "string(/domain/name)", d.name, sizeof(d.name));
        if (r == -ENAMETOOLONG || (r >= 0 && !d.name[0]))
                return -EBADMSG;
        if (r < 0)
                return r;

        r = virt_xpath_nodes(ctx, VIRT_XPATH_INTERFACES, &ifaces, &nodes);
        if (r < 0)
                return r;
        if (nodes) {
                d.interfaces = calloc((size_t) nodes->nodeNr, sizeof(VirtInterface));
                if (!d.interfaces)
                        return -ENOMEM;
                for (int i = 0; i < nodes->nodeNr; i++) {
                        r = virt_parse_interface(ctx, nodes->nodeTab[i], &d.interfaces[d.n_interfaces]);
                        if (r < 0)
                                return r;
                        d.n_interfaces++;
                }
        }

        r = virt_xpath_nodes(ctx, VIRT_XPATH_CHANNEL, &channels, &nodes);
        if (r < 0)
                return r;
        if (nodes) {
                r = virt_xpath_strdup(ctx, nodes->nodeTab[0], "string(source/@path)", &path);
                if (r < 0)
                        return r;
                if (path[0])
                        d.channel_path = path;
                else
                        free(path);
        }

        r = virt_xpath_nodes(ctx, VIRT_XPATH_VFO_ALIASES, &aliases, &nodes);
        if (r < 0)
                return r;
        if (nodes) {
                d.vfo_aliases = calloc((size_t) nodes->nodeNr, sizeof(char *));
                if (!d.vfo_aliases)
                        return -ENOMEM;
                for (int i = 0; i < nodes->nodeNr; i++) {
                        _cleanup_(virt_xml_charp) xmlChar *name = NULL;

                        name = xmlGetNoNsProp(nodes->nodeTab[i], BAD_CAST "name");
                        if (!name)
                                continue;
                        d.vfo_aliases[d.n_vfo_aliases] = strdup((const char *) name);
                        if (!d.vfo_aliases[d.n_vfo_aliases])
                                return -ENOMEM;
                        d.n_vfo_aliases++;
                }
        }

        r = virt_xpath_nodes(ctx, VIRT_XPATH_POLICY, &policies, &nodes);
        if (r < 0)
                return r;
        if (nodes && virt_parse_policy(nodes->nodeTab[0], &d.policy) < 0) {
                log_warning("Domain %s (%s): ignoring its invalid vfo policy.", d.name, d.uuid);
                d.policy = (VirtPolicy) {};
        }

        *ret = d;
        d = (VirtDomain) {};
        return 0;
}

/* The length of the UTF-8 sequence that 'c' starts, 0 if it starts none. */
static int virt_utf8_length(unsigned char c) {
        return c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
}

int virt_policy_format(const VirtPolicy *p, char **ret) {
        _cleanup_(virt_xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(virt_xml_buffer_freep) xmlBuffer *buf = NULL;
        char priority[16];
        xmlNode *node;
        char *s;

        assert(p);
        assert(ret);

        if (p->priority > VIRT_PRIORITY_MAX)
                return -EINVAL;
        if (!memchr(p->pool, 0, sizeof(p->pool)))
                return -EINVAL;
        /* Only what an XML 1.0 attribute can carry, and no control
         * characters: XML characters in shortest-form UTF-8. A parser
         * refuses the rest, which xmlGetUTF8Char() decodes all the same:
         * overlong forms, and a continuation byte or 0xf8..0xff as the
         * first byte. */
        for (const xmlChar *c = BAD_CAST p->pool; *c;) {
                int want = virt_utf8_length(c[0]), len = (int) strlen((const char *) c),
                    ch = xmlGetUTF8Char(c, &len);

                if (ch < 0x20 || ch == 0x7f || !xmlIsCharQ(ch) || len != want || (len == 2 && ch < 0x80) ||
                    (len == 3 && ch < 0x800) || (len == 4 && ch < 0x10000))
                        return -EINVAL;
                c += len;
        }

        virt_xml_init();
        doc = xmlNewDoc(BAD_CAST "1.0");
        if (!doc)
                return -ENOMEM;
        node = xmlNewDocNode(doc, NULL, BAD_CAST "policy", NULL);
        if (!node)
                return -ENOMEM;
        xmlDocSetRootElement(doc, node);

        (void) snprintf(priority, sizeof(priority), "%u", p->priority);
        if (!xmlNewProp(node, BAD_CAST "pool", BAD_CAST p->pool) ||
            !xmlNewProp(node, BAD_CAST "priority", BAD_CAST priority) ||
            !xmlNewProp(node, BAD_CAST "required", BAD_CAST(p->required ? "yes" : "no")))
                return -ENOMEM;

        buf = xmlBufferCreate();
        if (!buf)
                return -ENOMEM;
        if (xmlNodeDump(buf, doc, node, 0, 0) < 0)
                return -ENOMEM;

        s = strdup((const char *) xmlBufferContent(buf));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int virt_interface_set_link_xml(const char *domain_xml, const char *mac, bool up, char **ret) {
        _cleanup_(virt_xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(virt_xpath_context_freep) xmlXPathContext *ctx = NULL;
        _cleanup_(virt_xpath_object_freep) xmlXPathObject *ifaces = NULL;
        _cleanup_(virt_xml_buffer_freep) xmlBuffer *buf = NULL;
        xmlNode *found = NULL, *link;
        xmlNodeSet *nodes;
        char *s;
        int r;

        assert(ret);

        if (!mac)
                return -EINVAL;

        r = virt_xml_parse(domain_xml, &doc, &ctx);
        if (r < 0)
                return r;

        r = virt_xpath_nodes(ctx, VIRT_XPATH_INTERFACES, &ifaces, &nodes);
        if (r < 0)
                return r;
        for (int i = 0; nodes && i < nodes->nodeNr && !found; i++) {
                VirtInterface iface;

                r = virt_parse_interface(ctx, nodes->nodeTab[i], &iface);
                if (r < 0)
                        return r;
                if (strcasecmp(iface.mac, mac) == 0 &&
                    strncmp(iface.alias, VIRT_VF_ALIAS_PREFIX, strlen(VIRT_VF_ALIAS_PREFIX)) != 0)
                        found = nodes->nodeTab[i];
        }
        if (!found)
                return -ENOENT;

        /* Same device, with exactly one <link state=…/>. */
        for (xmlNode *c = found->children, *next; c; c = next) {
                next = c->next;
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "link")) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                }
        }
        link = xmlNewChild(found, NULL, BAD_CAST "link", NULL);
        if (!link || !xmlSetProp(link, BAD_CAST "state", BAD_CAST(up ? "up" : "down")))
                return -ENOMEM;

        buf = xmlBufferCreate();
        if (!buf)
                return -ENOMEM;
        if (xmlNodeDump(buf, doc, found, 0, 0) < 0)
                return -ENOMEM;
        s = strdup((const char *) xmlBufferContent(buf));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int virt_strip_vf_hostdevs(const char *xml, char **ret) {
        _cleanup_(virt_xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(virt_xpath_context_freep) xmlXPathContext *ctx = NULL;
        _cleanup_(virt_xpath_object_freep) xmlXPathObject *obj = NULL;
        xmlNodeSet *nodes = NULL;
        xmlChar *out = NULL;
        int r, size = 0;

        *ret = NULL;
        r = virt_xml_parse(xml, &doc, &ctx);
        if (r < 0)
                return r;
        r = virt_xpath_nodes(ctx, "/domain/devices/hostdev[starts-with(alias/@name, '" VIRT_VF_ALIAS_PREFIX "')]",
                             &obj, &nodes);
        if (r < 0)
                return r;
        if (!nodes)
                return 0;
        for (int i = 0; i < nodes->nodeNr; i++) {
                xmlUnlinkNode(nodes->nodeTab[i]);
                xmlFreeNode(nodes->nodeTab[i]);
                nodes->nodeTab[i] = NULL;
        }
        /* In UTF-8 whatever encoding the input declared: vfod sends it over
         * D-Bus, which takes nothing else. */
        xmlDocDumpMemoryEnc(doc, &out, &size, "UTF-8");
        if (!out)
                return -ENOMEM;
        *ret = strdup((const char *) out);
        xmlFree(out);
        return *ret ? nodes->nodeNr : -ENOMEM;
}

void virt_tap_mac(const uint8_t guest[6], uint8_t ret[6]) {
        memcpy(ret, guest, 6);
        ret[0] = guest[0] == 0xfe ? 0xfa : 0xfe;
}
