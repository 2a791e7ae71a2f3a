/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: hostile bytes as a libvirt domain XML, through the pure
 * functions of drivers/virt-xml.c: virt_domain_parse_xml() (with the vfo
 * policy in the metadata), virt_strip_vf_hostdevs(),
 * virt_interface_set_link_xml() and virt_policy_format(). What they return
 * must hold what virt-xml.h promises, and what they write must read back.
 * No libvirt connection. Built for libFuzzer by 'make fuzz' and replayed
 * over its corpus by 'make check'. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlstring.h>

#include "drivers/virt-xml.h"
#include "lib/log.h"
#include "lib/macro.h"

#define FUZZ_UUID "00000000-0000-4000-8000-000000000000"
#define FUZZ_INTERFACES_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t size) {
        return memchr(s, '\0', size) != NULL;
}

static bool has_upper(const char *s) {
        for (; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                        return true;
        return false;
}

static void check_domain(const VirtDomain *d) {
        if (strlen(d->uuid) != 36 || has_upper(d->uuid) || !terminated(d->name, sizeof(d->name)) || !d->name[0])
                abort();
        if (d->n_interfaces > 0 && !d->interfaces)
                abort();
        for (size_t i = 0; i < d->n_interfaces; i++) {
                const VirtInterface *f = &d->interfaces[i];

                if (!terminated(f->mac, sizeof(f->mac)) || !terminated(f->model, sizeof(f->model)) ||
                    !terminated(f->alias, sizeof(f->alias)) || !terminated(f->target, sizeof(f->target)) ||
                    !terminated(f->type, sizeof(f->type)))
                        abort();
                if (f->mac[0] && (strlen(f->mac) != 17 || has_upper(f->mac)))
                        abort();
        }
        if (d->channel_path && !d->channel_path[0])
                abort();
        if (d->n_vfo_aliases > 0 && !d->vfo_aliases)
                abort();
        for (size_t i = 0; i < d->n_vfo_aliases; i++)
                if (!d->vfo_aliases[i] ||
                    strncmp(d->vfo_aliases[i], VIRT_VFO_ALIAS_PREFIX, strlen(VIRT_VFO_ALIAS_PREFIX)) != 0)
                        abort();
        if (d->policy.present) {
                if (!terminated(d->policy.pool, sizeof(d->policy.pool)) || d->policy.priority > 1000)
                        abort();
        } else if (d->policy.pool[0] || d->policy.priority || d->policy.required)
                abort();
}

/* What virt_policy_format() writes, put where libvirt keeps it, parses
 * back to the same policy. */
static void check_policy_round_trip(const VirtPolicy *p) {
        _cleanup_free_ char *element = NULL, *xml = NULL;
        _cleanup_(virt_domain_done) VirtDomain d = {};
        int r;

        r = virt_policy_format(p, &element);
        if (r == -EINVAL)
                return;                 /* not something an XML attribute can carry */
        if (r < 0)
                return;
        if (strncmp(element, "<policy ", strlen("<policy ")) != 0)
                abort();
        if (asprintf(&xml,
                     "<domain><name>p</name><uuid>" FUZZ_UUID "</uuid><metadata><vfo:policy xmlns:vfo='"
                     VIRT_METADATA_URI "' %s</metadata></domain>",
                     element + strlen("<policy ")) < 0)
                return;
        r = virt_domain_parse_xml(xml, &d);
        if (r == -ENOMEM)
                return;
        if (r < 0 || !d.policy.present || strcmp(d.policy.pool, p->pool) != 0 ||
            d.policy.priority != p->priority || d.policy.required != p->required)
                abort();
}

static void check_strip(const char *xml, const VirtDomain *d, bool parsed) {
        _cleanup_free_ char *out = NULL, *again = NULL;
        _cleanup_(virt_domain_done) VirtDomain s = {};
        int r;

        r = virt_strip_vf_hostdevs(xml, &out);
        if (r == -ENOMEM)
                return;
        if (parsed && r < 0)
                abort();                /* the same document parsed above */
        if (r <= 0) {
                if (out)
                        abort();
                return;
        }
        if (!out)
                abort();
        /* It goes back to libvirt through the hook, and over D-Bus ("s"). */
        if (!xmlCheckUTF8((const xmlChar *) out))
                abort();
        /* Nothing left to strip, and still a domain. */
        r = virt_strip_vf_hostdevs(out, &again);
        if (r == -ENOMEM)
                return;
        if (r != 0 || again)
                abort();
        if (!parsed)
                return;
        r = virt_domain_parse_xml(out, &s);
        if (r == -ENOMEM)
                return;
        if (r < 0 || strcmp(s.uuid, d->uuid) != 0 || strcmp(s.name, d->name) != 0 ||
            s.n_interfaces != d->n_interfaces)
                abort();
}

static void check_set_link(const char *xml, const VirtDomain *d) {
        for (size_t i = 0; i < MIN(d->n_interfaces, (size_t) FUZZ_INTERFACES_MAX); i++) {
                const VirtInterface *f = &d->interfaces[i];
                _cleanup_free_ char *out = NULL;
                bool up = i % 2 == 0;
                int r;

                if (!f->mac[0])
                        continue;
                r = virt_interface_set_link_xml(xml, f->mac, up, &out);
                if (r == -ENOMEM)
                        continue;
                if (r == -ENOENT) {
                        /* Only if every interface with that MAC is a VF vfod plugged. */
                        if (strncmp(f->alias, VIRT_VF_ALIAS_PREFIX, strlen(VIRT_VF_ALIAS_PREFIX)) != 0)
                                abort();
                        continue;
                }
                if (r < 0 || !out || !strstr(out, up ? "<link state=\"up\"/>" : "<link state=\"down\"/>"))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(virt_domain_done) VirtDomain d = {};
        _cleanup_free_ char *xml = NULL;
        static bool initialized;
        int r;

        if (!initialized) {
                /* Bad input logs warnings; a fuzzer makes nothing else. */
                log_set_max_level(LOG_CRIT);
                initialized = true;
        }

        xml = malloc(size + 1);
        if (!xml)
                return 0;
        memcpy(xml, data, size);
        xml[size] = '\0';

        r = virt_domain_parse_xml(xml, &d);
        if (r == 0) {
                check_domain(&d);
                check_set_link(xml, &d);
                if (d.policy.present)
                        check_policy_round_trip(&d.policy);
        } else if (d.interfaces || d.channel_path || d.vfo_aliases)
                abort();
        check_strip(xml, &d, r == 0);

        /* The input's bytes as a pool name: what the policy writer takes. */
        if (size >= 3) {
                VirtPolicy p = {
                        .present = true,
                        .priority = ((unsigned) data[0] << 8 | data[1]) % 1001,
                        .required = data[2] & 1,
                };

                memcpy(p.pool, data + 3, MIN(size - 3, sizeof(p.pool) - 1));
                check_policy_round_trip(&p);
        }
        return 0;
}
