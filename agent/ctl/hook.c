/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl hook: the pure parts (see hook.h). */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "agent/ctl/hook.h"
#include "drivers/virt-xml.h"
#include "lib/parse-util.h"

static bool streq0(const char *a, const char *b) {
        return strcmp(a ?: "", b) == 0;
}

HookAction hook_action_for(const char *op, const char *subop) {
        /* Destination of an incoming migration, before anything else: libvirt hands the incoming
         * XML over as a filter (empty output keeps it, non-zero exit aborts the migration). */
        if (streq0(op, "migrate") && streq0(subop, "begin"))
                return HOOK_ACTION_MIGRATE_BEGIN;
        /* The QEMU process runs ("started begin" comes for every start, and on the destination of
         * a migration once the incoming QEMU is up). libvirt up to 10.x has no "migrate end";
         * it is taken too, should a later one send it. */
        if ((streq0(op, "started") && streq0(subop, "begin")) ||
            (streq0(op, "migrate") && streq0(subop, "end")))
                return HOOK_ACTION_STARTED;
        /* prepare, start, stopped, release, reconnect, attach, restore, …: nothing for vfod. */
        return HOOK_ACTION_NONE;
}

const char *hook_action_to_string(HookAction a) {
        switch (a) {
        case HOOK_ACTION_MIGRATE_BEGIN:
                return "migrate-begin";
        case HOOK_ACTION_STARTED:
                return "started";
        case HOOK_ACTION_NONE:
        default:
                return "none";
        }
}

/* The content of <uuid>, white space around it allowed, in canonical form. */
static int uuid_from_content(const char *s, char ret[static UUID_STRING_MAX]) {
        char u[UUID_STRING_MAX];
        size_t len;

        while (isspace((unsigned char) *s))
                s++;
        len = strlen(s);
        while (len > 0 && isspace((unsigned char) s[len - 1]))
                len--;
        if (len >= sizeof(u))
                return -EINVAL;
        memcpy(u, s, len);
        u[len] = '\0';
        return parse_uuid(u, ret);
}

int hook_uuid_from_xml(const char *xml, size_t size, char ret[static 37]) {
        xmlDocPtr doc;
        xmlNodePtr root;
        int r = -ENOENT;

        if (!xml || size == 0 || size > HOOK_INPUT_MAX)
                return -EBADMSG;
        /* No network, no entity substitution (no XXE), no DTD loading, no error printing. */
        doc = xmlReadMemory(xml, (int) size, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return -EBADMSG;
        root = xmlDocGetRootElement(doc);
        if (!root || !xmlStrEqual(root->name, BAD_CAST "domain")) {
                xmlFreeDoc(doc);
                return -EBADMSG;
        }
        for (xmlNodePtr n = root->children; n; n = n->next) {
                xmlChar *content;

                if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST "uuid"))
                        continue;
                content = xmlNodeGetContent(n);
                r = content ? uuid_from_content((const char *) content, ret) : -EINVAL;
                xmlFree(content);
                break;
        }
        xmlFreeDoc(doc);
        return r;
}

int hook_read_input(int fd, size_t max, char **ret, size_t *ret_size) {
        size_t size = 0, allocated = 0;
        char *buf = NULL;

        for (;;) {
                ssize_t n;

                /* Room for max + 1 bytes (one over max tells "too large" apart from "exactly max")
                 * and the NUL. */
                if (allocated - size < 4096 + 1 && allocated < max + 2) {
                        size_t want = allocated == 0 ? 65536 : allocated * 2;
                        char *p;

                        if (want > max + 2)
                                want = max + 2;
                        p = realloc(buf, want);
                        if (!p) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = p;
                        allocated = want;
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        n = -errno;
                        free(buf);
                        return (int) n;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max) {
                        free(buf);
                        return -EFBIG;
                }
        }
        buf[size] = '\0';
        *ret = buf;
        *ret_size = size;
        return 0;
}

int hook_fallback_prepare(const char *xml, size_t size, HookFallback *ret) {
        HookFallback f = {.kind = HOOK_FALLBACK_KEEP};
        VirtDomain d = {};
        int r;

        /* The same two readings as vfod's HookMigrateBegin: the VF hostdevs it would strip, and
         * the policy it would enforce. */
        if (xml && size > 0 && size <= HOOK_INPUT_MAX && !memchr(xml, '\0', size) && xml[size] == '\0') {
                r = virt_strip_vf_hostdevs(xml, &f.xml);
                if (r == -ENOMEM)
                        return r;
                f.parsed = r >= 0;
                f.n_stripped = r > 0 ? (unsigned) r : 0;
                if (f.parsed) {
                        r = virt_domain_parse_xml(xml, &d);
                        if (r == -ENOMEM) {
                                free(f.xml);
                                return r;
                        }
                        /* A policy vfod would ignore (a bad attribute, or a document it refuses) is
                         * no requirement either. */
                        f.required = r >= 0 && d.policy.present && d.policy.required;
                        virt_domain_done(&d);
                        if (hook_uuid_from_xml(xml, size, f.uuid) < 0)
                                f.uuid[0] = '\0';
                }
        }
        if (f.required)
                f.kind = HOOK_FALLBACK_REFUSE;
        else if (f.xml)
                f.kind = HOOK_FALLBACK_STRIP;
        if (f.kind != HOOK_FALLBACK_STRIP) {
                free(f.xml);
                f.xml = NULL;
        }
        *ret = f;
        return 0;
}

void hook_fallback_done(HookFallback *f) {
        if (!f)
                return;
        free(f->xml);
        *f = (HookFallback){};
}

int hook_fallback_message(const HookFallback *f, const char *domain, const char *why, char **ret) {
        const char *d = domain && *domain ? domain : "-";
        int r;

        why = why && *why ? why : "vfod did not answer";
        switch (f->kind) {
        case HOOK_FALLBACK_REFUSE:
                r = asprintf(
                        ret,
                        "Incoming migration of %s refused: %s, and the domain's vfo policy requires a VF "
                        "(required=yes), which cannot be guaranteed without vfod. Start vfod on this host "
                        "(systemctl start vfod) and migrate again, or drop the requirement on the source "
                        "first (vfoctl set-policy %s --required no).",
                        d, why, d);
                break;
        case HOOK_FALLBACK_STRIP:
                r = asprintf(
                        ret,
                        "Incoming migration of %s: %s; removed %u VF <hostdev>%s of the source host (alias "
                        "%s*) from its XML, so it comes in on its synthetic NIC without a VF.",
                        d, why, f->n_stripped, f->n_stripped == 1 ? "" : "s", VIRT_VF_ALIAS_PREFIX);
                break;
        case HOOK_FALLBACK_KEEP:
        default:
                r = asprintf(ret, "Incoming migration of %s: %s; %s, going on without vfo.", d, why,
                             f->parsed ? "no VF <hostdev> in its XML" : "its XML is not a <domain> document");
                break;
        }
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

bool hook_answer_matches(const HookFallback *f, const char *new_xml) {
        char uuid[37];

        if (!f->uuid[0] || !new_xml)
                return false;
        if (hook_uuid_from_xml(new_xml, strlen(new_xml), uuid) < 0)
                return false;
        return strcmp(uuid, f->uuid) == 0;
}
