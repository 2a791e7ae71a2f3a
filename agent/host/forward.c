/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A migration's forwarding tunnel; see forward.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-id128.h>

#include "agent/host/forward.h"
#include "drivers/netdev.h"
#include "drivers/rtnl.h"
#include "drivers/vfprog.h"
#include "lib/log.h"
#include "lib/parse-util.h"
#include "lib/string-util.h"

#define FORWARD_IFNAME_PREFIX "vfofw"
/* a VNI collides with a link of this host now and then: try others */
#define FORWARD_VNI_TRIES 8

struct Forward {
        Manager *manager;
        char ifname[16];
        char uuid[37];
        uint32_t vni;
        bool incoming;          /* the destination's end */
        sd_event_source *timer; /* forward_close_after() */
};

static int address_family(const char *s) {
        uint8_t a[16];

        if (s && inet_pton(AF_INET, s, a) == 1)
                return AF_INET;
        if (s && inet_pton(AF_INET6, s, a) == 1)
                return AF_INET6;
        return -EINVAL;
}

static uint32_t random_vni(void) {
        sd_id128_t id;

        if (sd_id128_randomize(&id) < 0)
                return 0;
        return (uint32_t) (id.qwords[0] % 0xfffffe) + 1;
}

Forward *forward_find(Manager *m, const char *uuid) {
        for (size_t i = 0; i < m->n_forwards; i++)
                if (streq(m->forwards[i]->uuid, uuid))
                        return m->forwards[i];
        return NULL;
}

int forward_open(Manager *m, const Pool *pool, const char *uuid, const char *remote, uint32_t vni, uint16_t port,
                 Forward **ret) {
        const Config *c = m->config;
        Forward *f, **a, *old;
        int r = -EEXIST;

        if (!c->forward_address || !pool->config.bridge[0])
                return -EOPNOTSUPP;
        if (address_family(remote) != address_family(c->forward_address))
                return -EOPNOTSUPP;
        old = forward_find(m, uuid);
        if (old)
                forward_close(old);

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        a = reallocarray(m->forwards, m->n_forwards + 1, sizeof(Forward *));
        if (!a) {
                free(f);
                return -ENOMEM;
        }
        m->forwards = a;
        f->manager = m;
        snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
        f->incoming = vni == 0;
        for (unsigned i = 0; i < (vni ? 1 : FORWARD_VNI_TRIES) && r == -EEXIST; i++) {
                f->vni = vni ?: random_vni();
                if (f->vni == 0)
                        break;
                snprintf(f->ifname, sizeof(f->ifname), FORWARD_IFNAME_PREFIX "%06" PRIx32, f->vni);
                r = forward_link_add(f->ifname, pool->config.bridge, f->vni, c->forward_address, remote,
                                     port ?: c->forward_port);
        }
        if (r < 0) {
                free(f);
                return log_warning_errno(r, "Cannot open the forwarding tunnel of %s to %s on %s: %m", uuid, remote,
                                         pool->config.bridge);
        }
        m->forwards[m->n_forwards++] = f;
        log_info("%s: forwarding tunnel %s (VNI %" PRIu32 ") %s -> %s on %s.", uuid, f->ifname, f->vni,
                 c->forward_address, remote, pool->config.bridge);
        if (ret)
                *ret = f;
        return 0;
}

int forward_steer(Forward *f, const Port *port) {
        uint8_t mac[6];
        int r;

        if (parse_mac(port->mac, mac) < 0)
                return -EINVAL;
        r = fdb_steer(f->ifname, mac, true);
        if (r < 0)
                return log_warning_errno(r, "%s: steering %s into %s failed: %m", port->domain->name, port->mac,
                                         f->ifname);
        log_debug("%s: %s steered into the forwarding tunnel %s.", port->domain->name, port->mac, f->ifname);
        return 0;
}

void forward_close(Forward *f) {
        Manager *m;
        int r;

        if (!f)
                return;
        m = f->manager;
        for (size_t i = 0; i < m->n_forwards; i++)
                if (m->forwards[i] == f) {
                        m->forwards[i] = m->forwards[--m->n_forwards];
                        break;
                }
        sd_event_source_disable_unref(f->timer);
        r = forward_link_del(f->ifname);
        if (r < 0 && r != -ENODEV)
                log_warning_errno(r, "Cannot remove the forwarding tunnel %s: %m", f->ifname);
        else
                log_info("%s: forwarding tunnel %s closed.", f->uuid, f->ifname);
        free(f);
}

static int on_close_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        forward_close(userdata);
        return 0;
}

void forward_close_after(Forward *f, usec_t usec) {
        if (!f)
                return;
        f->timer = sd_event_source_disable_unref(f->timer);
        if (sd_event_add_time_relative(f->manager->event, &f->timer, CLOCK_MONOTONIC, usec, USEC_PER_MSEC,
                                       on_close_timer, f) < 0)
                forward_close(f);
}

void forward_incoming_running(Manager *m, const char *uuid) {
        Forward *f = forward_find(m, uuid);

        if (f && f->incoming && !f->timer)
                forward_close_after(f, FORWARD_DESTINATION_LINGER_USEC);
}

void forward_incoming_stopped(Manager *m, const char *uuid) {
        Forward *f = forward_find(m, uuid);

        if (f && f->incoming)
                forward_close(f);
}

void forward_outgoing_end(Manager *m, const char *uuid, bool migrated) {
        Forward *f = forward_find(m, uuid);

        if (!f || f->incoming)
                return;
        if (!migrated)
                forward_close(f);
        else if (!f->timer)
                forward_close_after(f, FORWARD_SOURCE_LINGER_USEC);
}

const char *forward_ifname(const Forward *f) {
        return f->ifname;
}

uint32_t forward_vni(const Forward *f) {
        return f->vni;
}

void forward_remove_stale(Manager *m) {
        _cleanup_free_ Netdev *links = NULL;
        size_t n = 0;

        if (!m->config->forward_address || rtnl_dump_links(&links, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (startswith(links[i].name, FORWARD_IFNAME_PREFIX) && streq(links[i].kind, "vxlan")) {
                        log_info("Removing the forwarding tunnel %s a former vfod left.", links[i].name);
                        (void) forward_link_del(links[i].name);
                }
}

void forward_close_all(Manager *m) {
        while (m->n_forwards > 0)
                forward_close(m->forwards[m->n_forwards - 1]);
        m->forwards = mfree(m->forwards);
}
