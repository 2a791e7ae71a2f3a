/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See inventory.h. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guest/inventory.h"
#include "agent/guest/report.h"
#include "drivers/rtnl.h"
#include "lib/parse-util.h"

int inventory_collect(Udev *u, Inventory *ret) {
        Inventory inv = {};
        int r;

        assert(ret);

        r = rtnl_dump_links(&inv.links, &inv.n_links);
        if (r < 0)
                return r;

        if (u) {
                r = udev_fill_drivers(u, inv.links, inv.n_links);
                if (r < 0)
                        goto fail;
        }

        r = ports_discover(inv.links, inv.n_links, &inv.ports, &inv.n_ports);
        if (r < 0)
                goto fail;

        *ret = inv;
        return 0;

fail:
        inventory_done(&inv);
        return r;
}

void inventory_done(Inventory *inv) {
        if (!inv)
                return;
        free(inv->links);
        free(inv->ports);
        free(inv->msg_ports);
        free(inv->msg_port_ptrs);
        free(inv->msg_counters);
        free(inv->macs);
        *inv = (Inventory) {};
}

static Vfo__LinkState link_state(const Netdev *d) {
        if (!d)
                return VFO__LINK_STATE__LINK_STATE_ABSENT;
        if (!d->admin_up)
                return VFO__LINK_STATE__LINK_STATE_DOWN;
        return d->carrier ? VFO__LINK_STATE__LINK_STATE_UP : VFO__LINK_STATE__LINK_STATE_NO_CARRIER;
}

static Vfo__DatapathKind datapath_kind(PortKind k) {
        switch (k) {
        case PORT_KIND_NET_FAILOVER:
                return VFO__DATAPATH_KIND__DATAPATH_KIND_NET_FAILOVER;
        case PORT_KIND_BONDING:
                return VFO__DATAPATH_KIND__DATAPATH_KIND_BONDING;
        case PORT_KIND_NETVSC:
                return VFO__DATAPATH_KIND__DATAPATH_KIND_NETVSC;
        case _PORT_KIND_MAX:
        case _PORT_KIND_INVALID:
                break;
        }
        assert_not_reached();
}

int inventory_to_reply(Inventory *inv) {
        size_t n = inv->n_ports;

        assert(inv);

        inv->msg_ports = calloc(n ?: 1, sizeof(Vfo__Port));
        inv->msg_port_ptrs = calloc(n ?: 1, sizeof(Vfo__Port *));
        inv->msg_counters = calloc(2 * n ?: 1, sizeof(Vfo__PathCounters));
        inv->macs = calloc(n ?: 1, sizeof(*inv->macs));
        if (!inv->msg_ports || !inv->msg_port_ptrs || !inv->msg_counters || !inv->macs)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const Port *p = &inv->ports[i];
                const Netdev *syn = &inv->links[p->synthetic];
                const Netdev *vf = p->vf >= 0 ? &inv->links[p->vf] : NULL;
                Vfo__Port *m = &inv->msg_ports[i];

                *m = (Vfo__Port) VFO__PORT__INIT;
                m->mac = (char *) mac_to_string(p->mac, inv->macs[i]);
                m->synthetic_ifname = (char *) syn->name;
                m->vf_ifname = vf ? (char *) vf->name : (char *) "";
                m->master_ifname = p->master >= 0 ? (char *) inv->links[p->master].name : (char *) "";
                m->datapath = datapath_kind(p->kind);
                m->active_path = port_active_path(p, inv->links) == PORT_PATH_VF ? VFO__PATH_KIND__PATH_KIND_VF
                                                                                : VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
                m->synthetic_link = link_state(syn);
                m->vf_link = link_state(vf);
                path_counters_from_stats(&inv->msg_counters[2 * i], syn ? &syn->stats : NULL);
                path_counters_from_stats(&inv->msg_counters[2 * i + 1], vf ? &vf->stats : NULL);
                m->synthetic_counters = &inv->msg_counters[2 * i];
                m->vf_counters = &inv->msg_counters[2 * i + 1];
                inv->msg_port_ptrs[i] = m;
        }

        inv->reply = (Vfo__InventoryReply) VFO__INVENTORY_REPLY__INIT;
        inv->reply.ports = inv->msg_port_ptrs;
        inv->reply.n_ports = n;
        return 0;
}

void inventory_print(const Inventory *inv, FILE *f, bool json) {
        if (json)
                fputs("{\"ports\":[", f);
        else if (inv->n_ports == 0)
                fputs("No ports: no net_failover, bond or netvsc interface with a synthetic NIC found.\n", f);
        else
                fprintf(f, "%-17s %-12s %-15s %-15s %-15s %-9s %10s %10s\n", "MAC", "DATAPATH", "MASTER", "SYNTHETIC",
                        "VF", "ACTIVE", "RX(SYN)", "RX(VF)");

        for (size_t i = 0; i < inv->n_ports; i++) {
                const Port *p = &inv->ports[i];
                const Netdev *syn = &inv->links[p->synthetic];
                const Netdev *vf = p->vf >= 0 ? &inv->links[p->vf] : NULL;
                const char *master = p->master >= 0 ? inv->links[p->master].name : "";
                char mac[MAC_STRING_MAX];

                mac_to_string(p->mac, mac);
                if (json)
                        fprintf(f,
                                "%s{\"mac\":\"%s\",\"datapath\":\"%s\",\"master\":\"%s\",\"synthetic\":\"%s\","
                                "\"vf\":\"%s\",\"active_path\":\"%s\",\"synthetic_rx_packets\":%" PRIu64
                                ",\"synthetic_tx_packets\":%" PRIu64 ",\"vf_rx_packets\":%" PRIu64
                                ",\"vf_tx_packets\":%" PRIu64 "}",
                                i > 0 ? "," : "", mac, port_kind_to_string(p->kind), master, syn->name,
                                vf ? vf->name : "", port_path_to_string(port_active_path(p, inv->links)),
                                syn->stats.rx_packets, syn->stats.tx_packets, vf ? vf->stats.rx_packets : 0,
                                vf ? vf->stats.tx_packets : 0);
                else
                        fprintf(f, "%-17s %-12s %-15s %-15s %-15s %-9s %10" PRIu64 " %10" PRIu64 "\n", mac,
                                port_kind_to_string(p->kind), master[0] ? master : "-", syn->name,
                                vf ? vf->name : "-", port_path_to_string(port_active_path(p, inv->links)),
                                syn->stats.rx_packets, vf ? vf->stats.rx_packets : 0);
        }

        if (json)
                fputs("]}\n", f);
}
