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

static const char *const bond_action_table[_BOND_ACTION_MAX] = {
        [BOND_ACTION_NONE] = "none",
        [BOND_ACTION_CREATE] = "create",
        [BOND_ACTION_ENSLAVE] = "enslave",
        [BOND_ACTION_NAME_TAKEN] = "name-taken",
        [BOND_ACTION_NIC_TAKEN] = "nic-taken",
};

DEFINE_STRING_TABLE_TO_STRING(bond_action, BondAction, _BOND_ACTION_MAX);
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

static int find_ifindex(const Netdev *links, size_t n, int ifindex) {
        for (size_t i = 0; i < n; i++)
                if (links[i].ifindex == ifindex)
                        return (int) i;
        return -1;
}

static bool is_master(const Netdev *links, size_t n, const Netdev *d) {
        for (size_t i = 0; i < n; i++)
                if (links[i].master == d->ifindex)
                        return true;
        return false;
}

BondPlan ports_plan_bond(const Netdev *links, size_t n, const uint8_t mac[static 6], const char *name) {
        BondPlan plan = { .action = BOND_ACTION_NONE, .nic = -1, .named = -1, .nic_master = -1 };
        const Netdev *nic = NULL, *named, *master;

        assert(links || n == 0);
        assert(name);

        /* The virtio NIC itself: a net_failover master shares its parent
         * device (and so its driver) but is a master. */
        for (size_t i = 0; i < n && !nic; i++) {
                const Netdev *d = &links[i];
                const uint8_t *m = d->has_perm_mac ? d->perm_mac : d->has_mac ? d->mac : NULL;

                if (strcmp(d->driver, "virtio_net") == 0 && d->kind[0] == '\0' && m && memcmp(m, mac, 6) == 0 &&
                    !is_master(links, n, d)) {
                        plan.nic = (int) i;
                        nic = d;
                }
        }
        if (!nic)
                return plan;

        if (nic->master != 0) {
                plan.nic_master = find_ifindex(links, n, nic->master);
                if (plan.nic_master < 0)
                        return plan;    /* the master went away meanwhile: look again next time */
                master = &links[plan.nic_master];
                if (strcmp(master->kind, "bond") != 0 && !is_failover_master(links, n, master))
                        plan.action = BOND_ACTION_NIC_TAKEN;
                return plan;
        }

        for (size_t i = 0; i < n; i++)
                if (strcmp(links[i].name, name) == 0)
                        plan.named = (int) i;
        if (plan.named < 0) {
                plan.action = BOND_ACTION_CREATE;
                return plan;
        }

        /* What is left of an attempt cut short (or a bond made for it): an
         * empty bond with the NIC's MAC. Anything else is not ours to use. */
        named = &links[plan.named];
        if (strcmp(named->kind, "bond") == 0 && named->has_mac && nic->has_mac &&
            memcmp(named->mac, nic->mac, 6) == 0 && !is_master(links, n, named))
                plan.action = BOND_ACTION_ENSLAVE;
        else
                plan.action = BOND_ACTION_NAME_TAKEN;
        return plan;
}

static bool ifindex_in(const int *ifindexes, size_t n, int ifindex) {
        for (size_t i = 0; i < n; i++)
                if (ifindexes[i] == ifindex)
                        return true;
        return false;
}

size_t port_udev_retrigger(const Port *p, const Netdev *links, size_t n, const int *done, size_t n_done,
                           int ret[static PORT_SLAVES_MAX]) {
        size_t k = 0;
        int master;

        assert(p);
        assert(links || n == 0);
        assert(done || n_done == 0);

        if (p->kind != PORT_KIND_NET_FAILOVER || p->master < 0)
                return 0;
        master = links[p->master].ifindex;

        /* Any slave of the master, as the rule has it: not only the ones
         * ports_discover() recognised as standby and VF. A device not yet
         * processed counts too: udevd may be reading its add event right
         * now, before the master link existed. */
        for (size_t i = 0; i < n && k < PORT_SLAVES_MAX; i++)
                if (links[i].master == master &&
                    (links[i].udev_mark == NETDEV_UDEV_PENDING || links[i].udev_mark == NETDEV_UDEV_UNMARKED) &&
                    !ifindex_in(done, n_done, links[i].ifindex))
                        ret[k++] = (int) i;
        return k;
}

size_t netdev_ifindexes_present(const Netdev *links, size_t n, int *ifindexes, size_t n_ifindexes) {
        size_t k = 0;

        assert(links || n == 0);
        assert(ifindexes || n_ifindexes == 0);

        for (size_t i = 0; i < n_ifindexes; i++)
                if (find_ifindex(links, n, ifindexes[i]) >= 0)
                        ifindexes[k++] = ifindexes[i];
        return k;
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
