/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A migration's forwarding tunnels; see forward.h. */
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
#include "lib/validate.h"

#define FORWARD_IFNAME_PREFIX "vfofw"
/* a VNI collides with a link of this host now and then: try others */
#define FORWARD_VNI_TRIES 8

struct Forward {
        Manager *manager;
        char ifname[16];
        char uuid[37];
        char mac[18];
        char tap[64];           /* the destination's end: the tap it feeds */
        char remote[64];
        uint32_t vni;
        bool incoming;          /* the destination's end */
        bool steered;           /* the source's end: the MAC is pinned to it */
        char mirror_tap[64];    /* the source's end: the tap whose frames it copies, "" none */
        sd_event_source *timer; /* forward_close_after() */
};

static uint32_t random_vni(void) {
        sd_id128_t id;

        if (sd_id128_randomize(&id) < 0)
                return 0;
        return (uint32_t) (id.qwords[0] % 0xfffffe) + 1;
}

static void forward_close(Forward *f);

Forward *forward_find(Manager *m, const char *uuid, const char *mac, bool incoming) {
        for (size_t i = 0; i < m->n_forwards; i++)
                if (streq(m->forwards[i]->uuid, uuid) && streq(m->forwards[i]->mac, mac) &&
                    m->forwards[i]->incoming == incoming)
                        return m->forwards[i];
        return NULL;
}

/* 'vni' 0: a free one of this host's choosing. */
static int forward_open(Manager *m, const Port *port, const char *bridge, const char *tap, const char *remote,
                        uint32_t vni, uint16_t udp_port, Forward **ret) {
        const Config *c = m->config;
        Forward *f, **a;
        int r = -EEXIST;

        if (!c->forward_address || ip_address_family(remote) != ip_address_family(c->forward_address))
                return -EOPNOTSUPP;
        forward_close(forward_find(m, port->domain->uuid, port->mac, tap != NULL));

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        a = reallocarray(m->forwards, m->n_forwards + 1, sizeof(Forward *));
        if (!a) {
                free(f);
                return -ENOMEM;
        }
        m->forwards = a;
        *f = (Forward) { .manager = m, .incoming = tap != NULL };
        snprintf(f->uuid, sizeof(f->uuid), "%s", port->domain->uuid);
        snprintf(f->mac, sizeof(f->mac), "%s", port->mac);
        snprintf(f->tap, sizeof(f->tap), "%s", tap ?: "");
        snprintf(f->remote, sizeof(f->remote), "%s", remote);
        for (unsigned i = 0; i < (vni ? 1 : FORWARD_VNI_TRIES) && r == -EEXIST; i++) {
                f->vni = vni ?: random_vni();
                if (f->vni == 0)
                        break;
                snprintf(f->ifname, sizeof(f->ifname), FORWARD_IFNAME_PREFIX "%06" PRIx32, f->vni);
                r = forward_link_add(f->ifname, bridge, tap, f->vni, c->forward_address, remote,
                                     udp_port ?: c->forward_port);
        }
        if (r < 0) {
                free(f);
                return log_warning_errno(r, "%s: cannot open the forwarding tunnel of %s to %s: %m",
                                         port->domain->name, port->mac, remote);
        }
        m->forwards[m->n_forwards++] = f;
        log_info("%s: forwarding tunnel %s (VNI %" PRIu32 ") of %s: %s -> %s, %s %s.", port->domain->name,
                 f->ifname, f->vni, port->mac, c->forward_address, remote, tap ? "into" : "on",
                 tap ?: bridge);
        if (ret)
                *ret = f;
        return 0;
}

int forward_open_incoming(Manager *m, const Port *port, const char *remote, Forward **ret) {
        Forward *f = forward_find(m, port->domain->uuid, port->mac, true);

        if (!port->synthetic_tap[0])
                return -ENODEV;
        /* asked again in the same migration (prepare, then handover) */
        if (f && streq(f->tap, port->synthetic_tap) && streq(f->remote, remote)) {
                if (ret)
                        *ret = f;
                return 0;
        }
        return forward_open(m, port, NULL, port->synthetic_tap, remote, 0, 0, ret);
}

int forward_open_outgoing(Manager *m, const Pool *pool, const Port *port, const char *remote, uint32_t vni,
                          uint16_t udp_port, Forward **ret) {
        if (!pool->config.bridge[0] || vni == 0)
                return -EOPNOTSUPP;
        return forward_open(m, port, pool->config.bridge, NULL, remote, vni, udp_port, ret);
}

int forward_steer(Forward *f) {
        uint8_t mac[6];
        int r;

        if (f->steered)
                return 0;
        if (f->incoming || parse_mac(f->mac, mac) < 0)
                return -EINVAL;
        r = fdb_steer(f->ifname, mac, true);
        if (r < 0)
                return log_warning_errno(r, "%s: steering into the forwarding tunnel %s failed: %m", f->mac,
                                         f->ifname);
        f->steered = true;
        log_debug("%s steered into the forwarding tunnel %s.", f->mac, f->ifname);
        return 0;
}

int forward_mirror(Forward *f, const char *tap) {
        int r;

        if (f->incoming || !tap || !tap[0])
                return -EINVAL;
        if (f->mirror_tap[0])
                return 0;
        r = forward_mirror_add(tap, f->ifname);
        if (r < 0)
                return log_warning_errno(r, "%s: copying what %s gets into the forwarding tunnel %s failed: %m",
                                         f->mac, tap, f->ifname);
        if (r > 0)
                log_notice("%s: %s had no clsact queue discipline (the domain started before vfod learnt of it, "
                           "or without vfo's libvirt hook); adding it to the running tap may have lost a frame.",
                           f->mac, tap);
        snprintf(f->mirror_tap, sizeof(f->mirror_tap), "%s", tap);
        log_debug("%s: what %s gets is copied into the forwarding tunnel %s.", f->mac, tap, f->ifname);
        return 0;
}

/* Closes it now: the link goes. */
static void forward_close(Forward *f) {
        Netdev link;
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
        /* the copies first (a tap the domain left is gone with them) */
        if (f->mirror_tap[0]) {
                r = forward_mirror_del(f->mirror_tap);
                if (r < 0 && r != -ENODEV && r != -ENOENT)
                        log_warning_errno(r, "Cannot stop copying what %s gets into %s: %m", f->mirror_tap,
                                          f->ifname);
        }
        /* what went through it: the source sends, the destination receives */
        if (rtnl_link_get_by_name(f->ifname, &link) < 0)
                link = (Netdev) {};
        r = forward_link_del(f->ifname);
        if (r < 0 && r != -ENODEV)
                log_warning_errno(r, "Cannot remove the forwarding tunnel %s: %m", f->ifname);
        else
                log_info("%s: forwarding tunnel %s closed; %" PRIu64 " frames %s it.", f->mac, f->ifname,
                         f->incoming ? link.stats.rx_packets : link.stats.tx_packets,
                         f->incoming ? "came out of" : "went into");
        free(f);
}

static int on_close_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        forward_close(userdata);
        return 0;
}

static void forward_close_after(Forward *f, usec_t usec) {
        if (!f)
                return;
        f->timer = sd_event_source_disable_unref(f->timer);
        if (sd_event_add_time_relative(f->manager->event, &f->timer, CLOCK_MONOTONIC, usec, USEC_PER_MSEC,
                                       on_close_timer, f) < 0)
                forward_close(f);
}

/* Every end of the domain 'uuid' on the side 'incoming': closed now
 * ('usec' 0) or that long from now (unless already timed). */
static void forward_close_domain(Manager *m, const char *uuid, bool incoming, usec_t usec) {
        for (size_t i = m->n_forwards; i > 0; i--) {
                Forward *f = m->forwards[i - 1];

                if (!streq(f->uuid, uuid) || f->incoming != incoming)
                        continue;
                if (usec == 0)
                        forward_close(f);
                else if (!f->timer)
                        forward_close_after(f, usec);
        }
}

void forward_incoming_running(Manager *m, const char *uuid) {
        forward_close_domain(m, uuid, true, FORWARD_DESTINATION_LINGER_USEC);
}

void forward_incoming_stopped(Manager *m, const char *uuid) {
        forward_close_domain(m, uuid, true, 0);
}

void forward_outgoing_end(Manager *m, const char *uuid, bool migrated) {
        forward_close_domain(m, uuid, false, migrated ? FORWARD_SOURCE_LINGER_USEC : 0);
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
