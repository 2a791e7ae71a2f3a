/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pools: the emulated pool and SR-IOV pools behind one interface. What
 * differs is here; everything above (jobs, scheduler, bus) is the same.
 *
 *   emulated  "VFs" are emulated PCIe NICs (Model=, e1000e) on Bridge=,
 *             plugged as <interface type='bridge'>; steering is a static
 *             sticky FDB entry on the bridge to the tap that should receive.
 *   sriov     VFs of PFs= or VFs=, plugged as <hostdev managed='yes'>;
 *             the VF is programmed on its PF (MAC, VLAN, spoofchk, trust);
 *             Steering=switch moves steering with the VF's MAC on the PF's
 *             embedded switch (MAC set: frames go to the VF; MAC cleared:
 *             they go out of the PF's uplink to the synthetic path),
 *             Steering=bridge pins the MAC to the synthetic tap on Bridge=
 *             and unpins it for the VF. */
#include <errno.h>
#include <inttypes.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "agent/host/manager.h"
#include "drivers/rtnl.h"
#include "drivers/sriov.h"
#include "drivers/vfprog.h"
#include "lib/bus-names.h"
#include "lib/log.h"
#include "lib/parse-util.h"
#include "lib/string-util.h"

static Vf *vf_new(Pool *p, const char *id, const char *pf, unsigned index) {
        Vf *vf = calloc(1, sizeof(*vf));
        char alias[80];
        int r;

        if (!vf)
                return NULL;
        vf->manager = p->manager;
        vf->pool = p;
        vf->index = index;
        snprintf(vf->id, sizeof(vf->id), "%s", id);
        snprintf(vf->pf, sizeof(vf->pf), "%s", pf ?: "");
        /* libvirt user aliases: "ua-" then [A-Za-z0-9_-] */
        snprintf(alias, sizeof(alias), "%s%s", VIRT_VF_ALIAS_PREFIX, id);
        for (char *c = alias + strlen(VIRT_VF_ALIAS_PREFIX); *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      *c == '-'))
                        *c = '_';
        memcpy(vf->alias, alias, sizeof(vf->alias));
        r = sd_bus_path_encode(VFO_VF_PREFIX, id, &vf->path);
        if (r < 0)
                return mfree(vf);
        vf->state = VF_FREE;
        return vf;
}

static int pool_add_vf(Pool *p, Vf *vf) {
        Vf **a;

        if (!vf)
                return -ENOMEM;
        a = reallocarray(p->vfs, p->n_vfs + 1, sizeof(Vf *));
        if (!a) {
                free(vf->path);
                free(vf);
                return -ENOMEM;
        }
        p->vfs = a;
        p->vfs[p->n_vfs++] = vf;
        return 0;
}

static int pool_add_sriov_vf(Pool *p, const SriovVf *s) {
        for (size_t i = 0; i < p->n_vfs; i++)
                if (strcmp(p->vfs[i]->id, s->pci) == 0)
                        return 0;
        return pool_add_vf(p, vf_new(p, s->pci, s->pf_ifname, s->index));
}

int pool_new(Manager *m, const PoolConfig *config, Pool **ret) {
        Pool *p;
        int r = 0;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->manager = m;
        p->config = *config;
        r = sd_bus_path_encode(VFO_POOL_PREFIX, config->name, &p->path);
        if (r < 0)
                goto fail;

        if (config->type == POOL_TYPE_EMULATED) {
                for (unsigned i = 0; i < config->count; i++) {
                        char id[96];

                        snprintf(id, sizeof(id), "%s-%u", config->name, i);
                        if (strlen(id) >= sizeof(((Vf *) NULL)->id)) {
                                r = log_error_errno(ENAMETOOLONG, "Pool %s: the name is too long for VF ids.", config->name);
                                goto fail;
                        }
                        r = pool_add_vf(p, vf_new(p, id, NULL, i));
                        if (r < 0)
                                goto fail;
                }
        } else {
                for (size_t i = 0; i < config->n_pfs; i++) {
                        _cleanup_free_ SriovVf *vfs = NULL;
                        size_t n = 0;

                        r = sriov_list_vfs(config->pfs[i], &vfs, &n);
                        if (r < 0) {
                                log_warning_errno(r, "Pool %s: PF %s: %m; its VFs are left out.", config->name,
                                                  config->pfs[i]);
                                continue;
                        }
                        for (size_t j = 0; j < n; j++) {
                                r = pool_add_sriov_vf(p, vfs + j);
                                if (r < 0)
                                        goto fail;
                        }
                }
                for (size_t i = 0; i < config->n_vfs; i++) {
                        SriovVf s;

                        r = sriov_get_vf(config->vfs[i], &s);
                        if (r < 0) {
                                log_warning_errno(r, "Pool %s: VF %s: %m; left out.", config->name, config->vfs[i]);
                                continue;
                        }
                        r = pool_add_sriov_vf(p, &s);
                        if (r < 0)
                                goto fail;
                }
        }
        *ret = p;
        return 0;
fail:
        pool_free(p);
        return r;
}

Pool *pool_free(Pool *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_vfs; i++) {
                free(p->vfs[i]->path);
                free(p->vfs[i]);
        }
        free(p->vfs);
        free(p->path);
        return mfree(p);
}

int pool_device_xml(Vf *vf, const Port *port, char **ret) {
        const PoolConfig *c = &vf->pool->config;
        unsigned dom, bus, slot, fn;
        int r;

        if (c->type == POOL_TYPE_EMULATED)
                r = asprintf(ret,
                             "<interface type='bridge'>\n"
                             "  <source bridge='%s'/>\n"
                             "  <mac address='%s'/>\n"
                             "  <model type='%s'/>\n"
                             "  <rom enabled='no'/>\n"
                             "  <alias name='%s'/>\n"
                             "</interface>\n",
                             c->bridge, port->mac, c->model, vf->alias);
        else {
                if (sscanf(vf->id, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
                        return -EINVAL;
                r = asprintf(ret,
                             "<hostdev mode='subsystem' type='pci' managed='yes'>\n"
                             "  <source><address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/></source>\n"
                             "  <alias name='%s'/>\n"
                             "</hostdev>\n",
                             dom, bus, slot, fn, vf->alias);
        }
        return r < 0 ? -ENOMEM : 0;
}

static int vf_settings_for(const Vf *vf, const Port *port, VfSettings *s) {
        const PoolConfig *c = &vf->pool->config;

        *s = (VfSettings) {
                .vlan = c->vlan,
                .spoofchk = c->spoofchk,
                .trust = c->trust,
                .link_state = VF_LINK_STATE_AUTO,
        };
        if (port && parse_mac(port->mac, s->mac) < 0)
                return -EINVAL;
        return 0;
}

int pool_program(Vf *vf, const Port *port) {
        VfSettings s;
        int r;

        if (vf->pool->config.type == POOL_TYPE_EMULATED)
                return 0;
        r = vf_settings_for(vf, port, &s);
        if (r < 0)
                return r;
        r = vfprog_set(vf->pf, vf->index, &s);
        if (r < 0)
                return log_error_errno(r, "VF %s: programming on %s vf %u failed: %m", vf->id, vf->pf, vf->index);
        return 0;
}

int pool_steer(Vf *vf, const Port *port, Vfo__PathKind to) {
        return pool_steer_in(vf->pool, vf, port, to);
}

int pool_steer_in(Pool *pool, Vf *vf, const Port *port, Vfo__PathKind to) {
        const PoolConfig *c = &pool->config;
        uint8_t mac[ETH_ALEN];
        const char *tap;
        int r;

        if (parse_mac(port->mac, mac) < 0)
                return -EINVAL;

        if (c->type == POOL_TYPE_SRIOV && c->steering == STEERING_SWITCH) {
                VfSettings s;

                if (!vf)
                        return 0;       /* no VF: the physical switch learns from the guest's announcements */

                r = vf_settings_for(vf, to == VFO__PATH_KIND__PATH_KIND_SYNTHETIC ? NULL : port, &s);
                if (r < 0)
                        return r;
                r = vfprog_set(vf->pf, vf->index, &s);
                if (r < 0)
                        return log_error_errno(r, "VF %s: steering on %s vf %u failed: %m", vf->id, vf->pf,
                                               vf->index);
                return 0;
        }

        /* bridge FDB */
        if (to == VFO__PATH_KIND__PATH_KIND_SYNTHETIC)
                tap = port->synthetic_tap;
        else if (to == VFO__PATH_KIND__PATH_KIND_VF && c->type == POOL_TYPE_EMULATED)
                tap = port->vf_tap;
        else
                tap = NULL;     /* unpin: the bridge learns (sriov: the VF is behind the uplink) */

        if (!tap) {
                r = fdb_forget(port->synthetic_tap, mac);
                if (r < 0 && r != -ENOENT)
                        return log_error_errno(r, "%s: unpinning %s failed: %m", port->synthetic_tap, port->mac);
                if (port->vf_tap[0]) {
                        r = fdb_forget(port->vf_tap, mac);
                        if (r < 0 && r != -ENOENT)
                                return log_error_errno(r, "%s: unpinning %s failed: %m", port->vf_tap, port->mac);
                }
                return 0;
        }
        if (!tap[0])
                return log_error_errno(ENODEV, "%s: no tap known for the %s path of %s.", port->domain->name,
                                       to == VFO__PATH_KIND__PATH_KIND_VF ? "VF" : "synthetic", port->mac);
        r = fdb_steer(tap, mac, true);
        if (r < 0)
                return log_error_errno(r, "%s: steering %s to %s failed: %m", port->domain->name, port->mac, tap);
        log_debug("%s: %s steered to %s.", port->domain->name, port->mac, tap);
        return 0;
}

/* Frames that wait in the destination's tap from the handover until the
 * domain runs there: at 1,000 frames/s about 4 s, more than a switchover
 * takes. tun's default is 500. */
#define HANDOVER_QUEUE_LEN 4096
/* QEMU reads the waiting frames within milliseconds of the start; a long
 * margin costs nothing. */
#define HANDOVER_QUEUE_HOLD_USEC (10 * USEC_PER_SEC)

int pool_handover_prepare(Pool *pool, Port *port) {
        uint8_t mac[ETH_ALEN];
        char tap[64];
        uint32_t old = 0;
        int r;

        /* Only a tap on the pool's bridge with exactly the MAC libvirt gives
         * this port's tap, and no other domain's (pool_find_tap()). No bridge
         * (Steering=switch): nothing to do, the switch follows the guest's
         * announcements. */
        if (pool->config.type == POOL_TYPE_SRIOV && pool->config.steering == STEERING_SWITCH)
                return 0;
        if (port->handover_prepared)
                return 1;
        if (pool_find_tap(pool, port, tap) < 0)
                return 0;
        snprintf(port->synthetic_tap, sizeof(port->synthetic_tap), "%s", tap);
        /* for when the domain leaves here with a managed switchover: now,
         * before the tap carries its traffic (netdev_add_clsact()) */
        (void) pool_ready_tap(pool, port);
        if (port->handover_queue_len == 0) {
                r = netdev_set_queue_len(port->synthetic_tap, HANDOVER_QUEUE_LEN, &old);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot lengthen the queue of %s for the handover, frames beyond its length will be lost: %m",
                                          port->domain->name, port->synthetic_tap);
                else
                        port->handover_queue_len = old;
        }
        /* The incoming QEMU reads one frame before the domain runs and
         * drops it (QEMU 7.2, lab): let it be this one, not the guest's. */
        if (parse_mac(port->mac, mac) >= 0) {
                r = netdev_queue_placeholder(port->synthetic_tap, mac);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot queue the placeholder frame on %s, the first frame for %s may be lost: %m",
                                          port->domain->name, port->synthetic_tap, port->mac);
        }
        port->handover_prepared = true;
        return 1;
}

int pool_ready_tap(Pool *pool, const Port *port) {
        int r;

        /* a bridge's taps only: Steering=switch never copies */
        if (!port->synthetic_tap[0] || (pool->config.type == POOL_TYPE_SRIOV && pool->config.steering == STEERING_SWITCH))
                return 0;
        r = netdev_add_clsact(port->synthetic_tap);
        if (r < 0)
                return log_debug_errno(r, "%s: cannot add the clsact queue discipline to %s: %m", port->domain->name,
                                       port->synthetic_tap);
        if (r > 0)
                log_debug("%s: clsact queue discipline added to %s.", port->domain->name, port->synthetic_tap);
        return r;
}

int pool_handover_in(Pool *pool, Port *port) {
        int r;

        r = pool_handover_prepare(pool, port);
        if (r <= 0)
                return r;
        r = pool_steer_in(pool, NULL, port, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
        return r < 0 ? r : 1;
}

int pool_queue_drain_marker(const Port *port, Vfo__PathKind left) {
        const char *tap = left == VFO__PATH_KIND__PATH_KIND_SYNTHETIC ? port->synthetic_tap
                        : left == VFO__PATH_KIND__PATH_KIND_VF        ? port->vf_tap
                                                                      : "";
        uint8_t mac[6];
        int r;

        if (tap[0] == 0 || parse_mac(port->mac, mac) < 0)
                return -ENODEV;
        r = netdev_queue_drain_marker(tap, mac);
        if (r < 0)
                log_debug_errno(r, "%s: cannot queue the drain marker on %s, the guest drains for a fixed time: %m",
                                port->domain->name, tap);
        return r;
}

static int on_handover_queue_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Port *port = userdata;
        int r;

        port->handover_timer = sd_event_source_disable_unref(port->handover_timer);
        r = netdev_set_queue_len(port->synthetic_tap, port->handover_queue_len, NULL);
        if (r < 0 && r != -ENODEV)
                log_warning_errno(r, "%s: cannot give %s its queue length (%" PRIu32 ") back: %m", port->domain->name,
                                  port->synthetic_tap, port->handover_queue_len);
        port->handover_queue_len = 0;
        return 0;
}

void pool_handover_done(Port *port) {
        port->handover_prepared = false;
        if (port->handover_queue_len == 0 || port->handover_timer)
                return;
        if (sd_event_add_time_relative(port->domain->manager->event, &port->handover_timer, CLOCK_MONOTONIC,
                                       HANDOVER_QUEUE_HOLD_USEC, USEC_PER_SEC, on_handover_queue_timer, port) < 0)
                port->handover_queue_len = 0;   /* the longer queue stays: harmless */
}

/* Another domain this vfod knows names 'tap' as one of its NICs. */
static bool tap_is_another_domains(Manager *m, const Domain *self, const char *tap) {
        for (size_t i = 0; i < m->n_domains; i++) {
                const Domain *d = m->domains[i];

                if (d == self || d->gone)
                        continue;
                for (size_t k = 0; k < d->n_ports; k++)
                        if (streq(d->ports[k]->synthetic_tap, tap) || streq(d->ports[k]->vf_tap, tap))
                                return true;
        }
        return false;
}

int pool_find_tap(Pool *pool, const Port *port, char ret[static 64]) {
        _cleanup_free_ Netdev *links = NULL;
        uint8_t guest[ETH_ALEN], mac[ETH_ALEN];
        size_t n = 0, found = 0;
        int bridge, newest = 0, r;

        if (!pool->config.bridge[0] || parse_mac(port->mac, guest) < 0)
                return -EINVAL;
        bridge = (int) if_nametoindex(pool->config.bridge);
        if (bridge <= 0)
                return -ENODEV;
        r = rtnl_dump_links(&links, &n);
        if (r < 0)
                return r;
        virt_tap_mac(guest, mac);
        /* The tap the domain's live XML names, if it is on the pool's bridge
         * with the MAC libvirt gives this port's tap: exact. */
        for (size_t i = 0; port->synthetic_tap[0] && i < n; i++)
                if (streq(links[i].name, port->synthetic_tap) && links[i].master == bridge && links[i].has_mac &&
                    memcmp(links[i].mac, mac, ETH_ALEN) == 0 &&
                    !tap_is_another_domains(pool->manager, port->domain, links[i].name)) {
                        snprintf(ret, 64, "%s", links[i].name);
                        return 0;
                }
        /* Else (the XML named no tap yet, or one that is not this port's):
         * a tap with exactly that MAC that no other domain here names. On a
         * bridge shared by two hosts' worth of QEMUs (the lab's single-bridge
         * variant) the source's tap has it too: the newest is the incoming
         * domain's. */
        for (size_t i = 0; i < n; i++) {
                if (links[i].master != bridge || !links[i].has_mac || memcmp(links[i].mac, mac, ETH_ALEN) != 0 ||
                    tap_is_another_domains(pool->manager, port->domain, links[i].name))
                        continue;
                if (found == 0 || links[i].ifindex > newest) {
                        snprintf(ret, 64, "%s", links[i].name);
                        newest = links[i].ifindex;
                }
                found++;
        }
        return found > 0 ? 0 : -ENOENT;
}

int pool_release(Vf *vf) {
        VfSettings s;
        int r;

        if (vf->pool->config.type == POOL_TYPE_EMULATED)
                return 0;
        vf_settings_neutral(&s);
        r = vfprog_set(vf->pf, vf->index, &s);
        if (r < 0)
                return log_error_errno(r, "VF %s: reset on %s vf %u failed: %m", vf->id, vf->pf, vf->index);
        return 0;
}
