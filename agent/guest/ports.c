/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port discovery; see ports.h. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guest/ports.h"
#include "lib/string-table.h"

static const char *const port_kind_table[_PORT_KIND_MAX] = {
        [PORT_KIND_NET_FAILOVER] = "net_failover",
        [PORT_KIND_BONDING] = "bonding",
        [PORT_KIND_NETVSC] = "netvsc",
};

static const char *const port_path_table[_PORT_PATH_MAX] = {
        [PORT_PATH_SYNTHETIC] = "synthetic",
        [PORT_PATH_VF] = "vf",
};

DEFINE_STRING_TABLE_LOOKUP(port_kind, PortKind, _PORT_KIND_MAX);
DEFINE_STRING_TABLE_LOOKUP(port_path, PortPath, _PORT_PATH_MAX);

static bool is_synthetic(const Netdev *d) {
        return strcmp(d->driver, "virtio_net") == 0 || strcmp(d->driver, "hv_netvsc") == 0;
}

static bool is_vf(const Netdev *d) {
        return d->pci && !is_synthetic(d) && d->has_mac && d->kind[0] == '\0';
}

/* The slave of 'master' that passes 'pred' and has 'mac'. */
static int find_slave(const Netdev *links, size_t n, int master_ifindex, const uint8_t mac[6],
                      bool (*pred)(const Netdev *)) {
        for (size_t i = 0; i < n; i++)
                if (links[i].master == master_ifindex && pred(&links[i]) && links[i].has_mac &&
                    memcmp(links[i].mac, mac, 6) == 0)
                        return (int) i;
        return -1;
}

/* net_failover masters have no rtnetlink link kind, and share the standby's
 * parent device (so they show its driver): a master that is nobody's slave,
 * without a link kind, with a virtio_net slave of the same MAC, is one. */
static bool is_failover_master(const Netdev *links, size_t n, const Netdev *d) {
        if (d->kind[0] != '\0' && strcmp(d->kind, "net_failover") != 0)
                return false;
        if (d->master != 0 || d->pci || !d->has_mac)
                return false;
        for (size_t i = 0; i < n; i++)
                if (links[i].master == d->ifindex && strcmp(links[i].driver, "virtio_net") == 0 &&
                    links[i].has_mac && memcmp(links[i].mac, d->mac, 6) == 0)
                        return true;
        return false;
}

static int port_cmp(const void *a, const void *b) {
        return memcmp(((const Port *) a)->mac, ((const Port *) b)->mac, 6);
}

int ports_discover(const Netdev *links, size_t n, Port **ret, size_t *ret_n) {
        _cleanup_free_ Port *ports = NULL;
        size_t n_ports = 0;

        assert(links || n == 0);
        assert(ret);
        assert(ret_n);

        ports = calloc(n ?: 1, sizeof(Port));
        if (!ports)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const Netdev *d = &links[i];
                Port p = { .master = -1, .synthetic = -1, .vf = -1, .vf_unjoined = -1 };

                if (!d->has_mac)
                        continue;
                memcpy(p.mac, d->mac, 6);

                if (strcmp(d->kind, "bond") == 0 || is_failover_master(links, n, d)) {
                        /* A bond over unrelated NICs is not ours: it needs a
                         * virtio slave with the bond's MAC. */
                        p.kind = strcmp(d->kind, "bond") == 0 ? PORT_KIND_BONDING : PORT_KIND_NET_FAILOVER;
                        p.master = (int) i;
                        p.synthetic = find_slave(links, n, d->ifindex, d->mac, is_synthetic);
                        if (p.synthetic < 0)
                                continue;
                        p.vf = find_slave(links, n, d->ifindex, d->mac, is_vf);
                        /* A bond does not take a hot-plugged VF by itself. */
                        if (p.kind == PORT_KIND_BONDING && p.vf < 0)
                                p.vf_unjoined = find_slave(links, n, 0, d->mac, is_vf);
                } else if (strcmp(d->driver, "hv_netvsc") == 0 && d->master == 0) {
                        p.kind = PORT_KIND_NETVSC;
                        p.synthetic = (int) i;
                        p.vf = find_slave(links, n, d->ifindex, d->mac, is_vf);
                } else
                        continue;

                ports[n_ports++] = p;
        }

        qsort(ports, n_ports, sizeof(Port), port_cmp);
        *ret = TAKE_PTR(ports);
        *ret_n = n_ports;
        return 0;
}

PortPath port_active_path(const Port *p, const Netdev *links) {
        const Netdev *vf;

        assert(p);

        if (p->vf < 0)
                return PORT_PATH_SYNTHETIC;
        vf = &links[p->vf];

        switch (p->kind) {
        case PORT_KIND_BONDING:
                return links[p->master].active_slave == vf->ifindex ? PORT_PATH_VF : PORT_PATH_SYNTHETIC;
        case PORT_KIND_NET_FAILOVER:
        case PORT_KIND_NETVSC:
                /* Both transmit on the VF while it is up with carrier. */
                return vf->admin_up && vf->carrier ? PORT_PATH_VF : PORT_PATH_SYNTHETIC;
        case _PORT_KIND_MAX:
        case _PORT_KIND_INVALID:
                break;
        }
        assert_not_reached();
}
