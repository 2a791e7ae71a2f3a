/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port discovery over synthesized netdev lists: net_failover, bonding,
 * netvsc, and what must not become a port; what vfo-agent.conf's Bond=
 * asks the agent to do over such lists; which net_failover slaves udev must
 * process again. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/guest/ports.h"

static const uint8_t MAC1[6] = { 0x52, 0x54, 0x00, 0x77, 0x00, 0x11 };
static const uint8_t MAC2[6] = { 0x52, 0x54, 0x00, 0x77, 0x00, 0x12 };
static const uint8_t MAC3[6] = { 0x00, 0x15, 0x5d, 0x00, 0x00, 0x01 };

static Netdev nd(int ifindex, const char *name, const uint8_t *mac, int master, const char *kind,
                 const char *driver, bool pci, bool up) {
        Netdev d = { .ifindex = ifindex, .master = master, .pci = pci, .admin_up = up, .carrier = up };

        snprintf(d.name, sizeof(d.name), "%s", name);
        snprintf(d.kind, sizeof(d.kind), "%s", kind);
        snprintf(d.driver, sizeof(d.driver), "%s", driver);
        if (mac) {
                memcpy(d.mac, mac, 6);
                d.has_mac = true;
        }
        return d;
}

static void test_ports_net_failover_with_and_without_vf(void **state) {
        Netdev links[] = {
                nd(1, "lo", NULL, 0, "", "", false, true),
                /* net_failover masters have no link kind (no rtnl_link_ops)
                 * and show the standby's driver (they share its parent). */
                nd(2, "eth0", MAC1, 0, "", "virtio_net", false, true),
                nd(3, "eth0nsby", MAC1, 2, "", "virtio_net", false, true),
                nd(4, "eth1", MAC1, 2, "", "e1000e", true, true),
                nd(5, "eth2", MAC2, 0, "", "", false, true),
                nd(6, "eth2nsby", MAC2, 5, "", "virtio_net", false, true),
        };
        Port *ports = NULL;
        size_t n = 0;

        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 2);

        assert_int_equal(ports[0].kind, PORT_KIND_NET_FAILOVER);
        assert_memory_equal(ports[0].mac, MAC1, 6);
        assert_string_equal(links[ports[0].master].name, "eth0");
        assert_string_equal(links[ports[0].synthetic].name, "eth0nsby");
        assert_string_equal(links[ports[0].vf].name, "eth1");
        assert_int_equal(port_active_path(&ports[0], links), PORT_PATH_VF);

        assert_string_equal(links[ports[1].synthetic].name, "eth2nsby");
        assert_int_equal(ports[1].vf, -1);
        assert_int_equal(port_active_path(&ports[1], links), PORT_PATH_SYNTHETIC);

        /* A VF that is down does not carry traffic. */
        links[3].carrier = false;
        assert_int_equal(port_active_path(&ports[0], links), PORT_PATH_SYNTHETIC);
        free(ports);
}

static void test_ports_bonding_follows_active_slave(void **state) {
        Netdev links[] = {
                nd(2, "bond0", MAC1, 0, "bond", "", false, true),
                nd(3, "ens3", MAC1, 2, "", "virtio_net", false, true),
                nd(4, "ens4", MAC1, 2, "", "mlx5_core", true, true),
                /* A bond of two plain NICs is not a vfo port. */
                nd(7, "bond1", MAC2, 0, "bond", "", false, true),
                nd(8, "ens8", MAC2, 7, "", "igb", true, true),
                nd(9, "ens9", MAC2, 7, "", "igb", true, true),
        };
        Port *ports = NULL;
        size_t n = 0;

        links[0].active_slave = 3;
        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ports[0].kind, PORT_KIND_BONDING);
        assert_int_equal(ports[0].vf_unjoined, -1);
        assert_string_equal(links[ports[0].vf].name, "ens4");
        assert_int_equal(port_active_path(&ports[0], links), PORT_PATH_SYNTHETIC);
        links[0].active_slave = 4;
        assert_int_equal(port_active_path(&ports[0], links), PORT_PATH_VF);
        free(ports);
}

static void test_ports_bonding_offers_a_hotplugged_vf(void **state) {
        Netdev links[] = {
                nd(2, "bond0", MAC1, 0, "bond", "", false, true),
                nd(3, "ens3", MAC1, 2, "", "virtio_net", false, true),
                nd(4, "ens4", MAC1, 0, "", "e1000e", true, false),      /* just plugged */
                nd(5, "ens5", MAC2, 0, "", "e1000e", true, false),      /* someone else's */
        };
        Port *ports = NULL;
        size_t n = 0;

        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ports[0].vf, -1);
        assert_string_equal(links[ports[0].vf_unjoined].name, "ens4");
        free(ports);
}

static void test_ports_netvsc(void **state) {
        Netdev links[] = {
                nd(2, "eth0", MAC3, 0, "", "hv_netvsc", false, true),
                nd(3, "enP1s1", MAC3, 2, "", "mlx5_core", true, true),
        };
        Port *ports = NULL;
        size_t n = 0;

        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ports[0].kind, PORT_KIND_NETVSC);
        assert_int_equal(ports[0].master, -1);
        assert_string_equal(links[ports[0].synthetic].name, "eth0");
        assert_string_equal(links[ports[0].vf].name, "enP1s1");
        free(ports);
}

static void test_ports_vf_needs_same_mac(void **state) {
        Netdev links[] = {
                nd(2, "eth0", MAC1, 0, "", "", false, true),
                nd(3, "eth0nsby", MAC1, 2, "", "virtio_net", false, true),
                nd(4, "eth1", MAC2, 2, "", "e1000e", true, true),
        };
        Port *ports = NULL;
        size_t n = 0;

        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ports[0].vf, -1);
        free(ports);
}

static void test_ports_bridge_over_virtio_is_not_a_port(void **state) {
        Netdev links[] = {
                nd(2, "br0", MAC1, 0, "bridge", "", false, true),
                nd(3, "ens3", MAC1, 2, "", "virtio_net", false, true),
        };
        Port *ports = NULL;
        size_t n = 1;

        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 0);
        free(ports);
}

static void test_ports_empty(void **state) {
        Port *ports = NULL;
        size_t n = 1;

        assert_int_equal(ports_discover(NULL, 0, &ports, &n), 0);
        assert_int_equal(n, 0);
        free(ports);
}

static Netdev nd_perm(Netdev d, const uint8_t *perm) {
        memcpy(d.perm_mac, perm, 6);
        d.has_perm_mac = true;
        return d;
}

static void test_ports_plan_bond_creates_over_a_plain_nic(void **state) {
        Netdev links[] = {
                nd(1, "lo", NULL, 0, "", "", false, true),
                nd(2, "ens3", MAC1, 0, "", "virtio_net", false, true),
                nd(3, "ens4", MAC1, 0, "", "e1000e", true, true),       /* a VF already there: not the NIC */
                nd(4, "ens5", MAC2, 0, "", "virtio_net", false, true),
        };
        BondPlan p = ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond0");

        assert_int_equal(p.action, BOND_ACTION_CREATE);
        assert_string_equal(links[p.nic].name, "ens3");
        assert_int_equal(p.named, -1);
        assert_int_equal(p.nic_master, -1);

        /* No virtio NIC with that MAC: nothing to do. */
        p = ports_plan_bond(links, ELEMENTSOF(links), MAC3, "bond0");
        assert_int_equal(p.action, BOND_ACTION_NONE);
        assert_int_equal(p.nic, -1);
        p = ports_plan_bond(NULL, 0, MAC1, "bond0");
        assert_int_equal(p.action, BOND_ACTION_NONE);
}

/* What the agent leaves behind is an ordinary bonding port, and the plan
 * has nothing more to do. */
static void test_ports_plan_bond_then_a_bonding_port(void **state) {
        Netdev links[] = {
                nd(1, "lo", NULL, 0, "", "", false, true),
                nd_perm(nd(2, "ens3", MAC1, 0, "", "virtio_net", false, true), MAC1),
                nd(9, "bond0", MAC1, 0, "bond", "", false, true),
        };
        Port *ports = NULL;
        size_t n = 1;

        /* Just created, NIC not in it yet: a left-over to complete. */
        assert_int_equal(ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond0").action, BOND_ACTION_ENSLAVE);
        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 0);
        free(ports);

        links[1].master = 9;
        assert_int_equal(ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond0").action, BOND_ACTION_NONE);
        assert_int_equal(ports_discover(links, ELEMENTSOF(links), &ports, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ports[0].kind, PORT_KIND_BONDING);
        assert_string_equal(links[ports[0].master].name, "bond0");
        assert_string_equal(links[ports[0].synthetic].name, "ens3");
        free(ports);
}

static void test_ports_plan_bond_matches_the_permanent_mac(void **state) {
        Netdev links[] = {
                /* Someone set MAC1 on ens5, whose own MAC is MAC2. */
                nd_perm(nd(4, "ens5", MAC1, 0, "", "virtio_net", false, true), MAC2),
                nd_perm(nd(2, "ens3", MAC2, 0, "", "virtio_net", false, true), MAC1),
        };
        BondPlan p = ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond0");

        assert_int_equal(p.action, BOND_ACTION_CREATE);
        assert_string_equal(links[p.nic].name, "ens3");
}

static void test_ports_plan_bond_leaves_bonds_and_failover_alone(void **state) {
        Netdev links[] = {
                nd(2, "bond0", MAC1, 0, "bond", "", false, true),
                nd_perm(nd(3, "ens3", MAC1, 2, "", "virtio_net", false, true), MAC1),
                /* net_failover: the master shows the standby's driver. */
                nd_perm(nd(5, "eth2", MAC2, 0, "", "virtio_net", false, true), MAC2),
                nd_perm(nd(6, "eth2nsby", MAC2, 5, "", "virtio_net", false, true), MAC2),
        };
        BondPlan p = ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond0");

        assert_int_equal(p.action, BOND_ACTION_NONE);
        assert_string_equal(links[p.nic].name, "ens3");
        assert_string_equal(links[p.nic_master].name, "bond0");

        /* Another name changes nothing: the NIC is in a bond already. */
        assert_int_equal(ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond7").action, BOND_ACTION_NONE);

        p = ports_plan_bond(links, ELEMENTSOF(links), MAC2, "bond1");
        assert_int_equal(p.action, BOND_ACTION_NONE);
        assert_string_equal(links[p.nic].name, "eth2nsby");
        assert_string_equal(links[p.nic_master].name, "eth2");
}

static void test_ports_plan_bond_refuses_a_nic_in_a_bridge(void **state) {
        Netdev links[] = {
                nd(2, "br0", MAC1, 0, "bridge", "", false, true),
                nd(3, "ens3", MAC1, 2, "", "virtio_net", false, true),
        };
        BondPlan p = ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond0");

        assert_int_equal(p.action, BOND_ACTION_NIC_TAKEN);
        assert_string_equal(links[p.nic].name, "ens3");
        assert_string_equal(links[p.nic_master].name, "br0");
}

static void test_ports_plan_bond_name_taken_or_left_over(void **state) {
        Netdev links[] = {
                nd(2, "ens3", MAC1, 0, "", "virtio_net", false, false),
                nd(3, "bond0", MAC1, 0, "dummy", "", false, false),
                nd(4, "bond1", MAC1, 0, "bond", "", false, false),      /* empty, the NIC's MAC */
                nd(5, "bond2", MAC2, 0, "bond", "", false, false),      /* empty, another MAC */
                nd(6, "bond3", MAC1, 0, "bond", "", false, true),       /* has a slave */
                nd(7, "veth0", MAC1, 6, "veth", "", false, true),
        };
        BondPlan p = ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond0");

        assert_int_equal(p.action, BOND_ACTION_NAME_TAKEN);
        assert_string_equal(links[p.named].name, "bond0");

        p = ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond1");
        assert_int_equal(p.action, BOND_ACTION_ENSLAVE);
        assert_string_equal(links[p.nic].name, "ens3");
        assert_string_equal(links[p.named].name, "bond1");

        assert_int_equal(ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond2").action, BOND_ACTION_NAME_TAKEN);
        assert_int_equal(ports_plan_bond(links, ELEMENTSOF(links), MAC1, "bond3").action, BOND_ACTION_NAME_TAKEN);
        /* The NIC's own name. */
        assert_int_equal(ports_plan_bond(links, ELEMENTSOF(links), MAC1, "ens3").action, BOND_ACTION_NAME_TAKEN);
}

static Netdev nd_udev(Netdev d, NetdevUdevMark m) {
        d.udev_mark = m;
        return d;
}

/* The port of 'links' with MAC 'mac' (there must be one). */
static Port port_of(const Netdev *links, size_t n, const uint8_t *mac) {
        Port *ports = NULL, p;
        size_t n_ports = 0;

        assert_int_equal(ports_discover(links, n, &ports, &n_ports), 0);
        for (size_t i = 0; i < n_ports; i++)
                if (memcmp(ports[i].mac, mac, 6) == 0) {
                        p = ports[i];
                        free(ports);
                        return p;
                }
        fail_msg("no port with that MAC");
        abort();
}

static void test_ports_udev_retrigger_unmarked_failover_slaves(void **state) {
        Netdev links[] = {
                nd_udev(nd(1, "lo", NULL, 0, "", "", false, true), NETDEV_UDEV_UNMARKED),
                /* The master itself is never marked, and never asked for. */
                nd_udev(nd(2, "eth0", MAC1, 0, "", "virtio_net", false, true), NETDEV_UDEV_UNMARKED),
                nd_udev(nd(3, "eth0nsby", MAC1, 2, "", "virtio_net", false, true), NETDEV_UDEV_MARKED),
                nd_udev(nd(4, "eth1", MAC1, 2, "", "e1000e", true, true), NETDEV_UDEV_UNMARKED),
                /* Another port: both slaves missed, the VF not processed yet. */
                nd_udev(nd(5, "eth2", MAC2, 0, "", "virtio_net", false, true), NETDEV_UDEV_UNMARKED),
                nd_udev(nd(6, "eth2nsby", MAC2, 5, "", "virtio_net", false, true), NETDEV_UDEV_UNMARKED),
                nd_udev(nd(7, "eth3", MAC2, 5, "", "e1000e", true, true), NETDEV_UDEV_PENDING),
        };
        Port p1 = port_of(links, ELEMENTSOF(links), MAC1), p2 = port_of(links, ELEMENTSOF(links), MAC2);
        int ret[PORT_SLAVES_MAX], done[] = { 7 };

        assert_int_equal(p1.kind, PORT_KIND_NET_FAILOVER);
        assert_int_equal(port_udev_retrigger(&p1, links, ELEMENTSOF(links), NULL, 0, ret), 1);
        assert_string_equal(links[ret[0]].name, "eth1");

        assert_int_equal(port_udev_retrigger(&p2, links, ELEMENTSOF(links), NULL, 0, ret), 2);
        assert_string_equal(links[ret[0]].name, "eth2nsby");
        assert_string_equal(links[ret[1]].name, "eth3");

        /* Asked for already: once per ifindex. */
        assert_int_equal(port_udev_retrigger(&p2, links, ELEMENTSOF(links), done, ELEMENTSOF(done), ret), 1);
        assert_string_equal(links[ret[0]].name, "eth2nsby");

        /* No udevd (UNKNOWN): nothing to ask. */
        links[3].udev_mark = NETDEV_UDEV_UNKNOWN;
        assert_int_equal(port_udev_retrigger(&p1, links, ELEMENTSOF(links), NULL, 0, ret), 0);
}

/* The rule covers net_failover only: bond and netvsc slaves are left alone. */
static void test_ports_udev_retrigger_not_for_bonds_or_netvsc(void **state) {
        Netdev links[] = {
                nd_udev(nd(2, "bond0", MAC1, 0, "bond", "", false, true), NETDEV_UDEV_UNMARKED),
                nd_udev(nd(3, "ens3", MAC1, 2, "", "virtio_net", false, true), NETDEV_UDEV_UNMARKED),
                nd_udev(nd(4, "ens4", MAC1, 2, "", "mlx5_core", true, true), NETDEV_UDEV_PENDING),
                nd_udev(nd(5, "eth0", MAC3, 0, "", "hv_netvsc", false, true), NETDEV_UDEV_UNMARKED),
                nd_udev(nd(6, "enP1s1", MAC3, 5, "", "mlx5_core", true, true), NETDEV_UDEV_UNMARKED),
        };
        Port bond = port_of(links, ELEMENTSOF(links), MAC1), netvsc = port_of(links, ELEMENTSOF(links), MAC3);
        int ret[PORT_SLAVES_MAX];

        assert_int_equal(bond.kind, PORT_KIND_BONDING);
        assert_int_equal(port_udev_retrigger(&bond, links, ELEMENTSOF(links), NULL, 0, ret), 0);
        assert_int_equal(netvsc.kind, PORT_KIND_NETVSC);
        assert_int_equal(port_udev_retrigger(&netvsc, links, ELEMENTSOF(links), NULL, 0, ret), 0);
}

/* A VF's life as the agent's rescans see it, with the agent's bookkeeping:
 * re-triggered once when enslaved unmarked, not again while it stays, again
 * when it comes back as a new device. */
static void test_ports_udev_retrigger_hotplug(void **state) {
        Netdev links[] = {
                nd_udev(nd(2, "eth0", MAC1, 0, "", "virtio_net", false, true), NETDEV_UDEV_UNMARKED),
                nd_udev(nd(3, "eth0nsby", MAC1, 2, "", "virtio_net", false, true), NETDEV_UDEV_MARKED),
                /* Registered, its add event sent, not yet linked to eth0. */
                nd_udev(nd(4, "eth1", MAC1, 0, "", "e1000e", true, false), NETDEV_UDEV_UNMARKED),
        };
        int done[4], ret[PORT_SLAVES_MAX];
        size_t n_done = 0, k;
        Port p;

        p = port_of(links, ELEMENTSOF(links), MAC1);
        assert_int_equal(p.vf, -1);
        assert_int_equal(port_udev_retrigger(&p, links, ELEMENTSOF(links), done, n_done, ret), 0);

        /* NETDEV_REGISTER: net_failover takes it; the rule missed it. */
        links[2].master = 2;
        p = port_of(links, ELEMENTSOF(links), MAC1);
        assert_string_equal(links[p.vf].name, "eth1");
        k = port_udev_retrigger(&p, links, ELEMENTSOF(links), done, n_done, ret);
        assert_int_equal(k, 1);
        assert_string_equal(links[ret[0]].name, "eth1");
        done[n_done++] = links[ret[0]].ifindex;

        /* Still unmarked (say, the rule is not installed): not again. */
        n_done = netdev_ifindexes_present(links, ELEMENTSOF(links), done, n_done);
        assert_int_equal(n_done, 1);
        assert_int_equal(port_udev_retrigger(&p, links, ELEMENTSOF(links), done, n_done, ret), 0);

        /* Unplugged: forgotten. Plugged again, a new ifindex: asked again. */
        n_done = netdev_ifindexes_present(links, 2, done, n_done);
        assert_int_equal(n_done, 0);
        links[2].ifindex = 9;
        links[2].udev_mark = NETDEV_UDEV_PENDING;
        p = port_of(links, ELEMENTSOF(links), MAC1);
        assert_int_equal(port_udev_retrigger(&p, links, ELEMENTSOF(links), done, n_done, ret), 1);
        assert_int_equal(links[ret[0]].ifindex, 9);
}

static void test_ports_ifindexes_present(void **state) {
        Netdev links[] = {
                nd(1, "lo", NULL, 0, "", "", false, true),
                nd(4, "eth1", MAC1, 0, "", "e1000e", true, true),
                nd(7, "eth3", MAC2, 0, "", "e1000e", true, true),
        };
        int ifindexes[] = { 7, 5, 1, 9, 4 };

        assert_int_equal(netdev_ifindexes_present(links, ELEMENTSOF(links), ifindexes, ELEMENTSOF(ifindexes)), 3);
        assert_int_equal(ifindexes[0], 7);
        assert_int_equal(ifindexes[1], 1);
        assert_int_equal(ifindexes[2], 4);
        assert_int_equal(netdev_ifindexes_present(NULL, 0, ifindexes, 3), 0);
        assert_int_equal(netdev_ifindexes_present(links, ELEMENTSOF(links), NULL, 0), 0);
}

static void test_ports_tables(void **state) {
        for (int k = 0; k < _PORT_KIND_MAX; k++)
                assert_int_equal(port_kind_from_string(port_kind_to_string((PortKind) k)), k);
        for (int p = 0; p < _PORT_PATH_MAX; p++)
                assert_int_equal(port_path_from_string(port_path_to_string((PortPath) p)), p);
        for (int a = 0; a < _BOND_ACTION_MAX; a++)
                assert_non_null(bond_action_to_string((BondAction) a));
        assert_null(port_kind_to_string(_PORT_KIND_MAX));
        assert_null(bond_action_to_string(_BOND_ACTION_MAX));
        assert_int_equal(port_path_from_string("nope"), _PORT_PATH_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ports_net_failover_with_and_without_vf),
                cmocka_unit_test(test_ports_bonding_follows_active_slave),
                cmocka_unit_test(test_ports_bonding_offers_a_hotplugged_vf),
                cmocka_unit_test(test_ports_netvsc),
                cmocka_unit_test(test_ports_vf_needs_same_mac),
                cmocka_unit_test(test_ports_bridge_over_virtio_is_not_a_port),
                cmocka_unit_test(test_ports_empty),
                cmocka_unit_test(test_ports_plan_bond_creates_over_a_plain_nic),
                cmocka_unit_test(test_ports_plan_bond_then_a_bonding_port),
                cmocka_unit_test(test_ports_plan_bond_matches_the_permanent_mac),
                cmocka_unit_test(test_ports_plan_bond_leaves_bonds_and_failover_alone),
                cmocka_unit_test(test_ports_plan_bond_refuses_a_nic_in_a_bridge),
                cmocka_unit_test(test_ports_plan_bond_name_taken_or_left_over),
                cmocka_unit_test(test_ports_udev_retrigger_unmarked_failover_slaves),
                cmocka_unit_test(test_ports_udev_retrigger_not_for_bonds_or_netvsc),
                cmocka_unit_test(test_ports_udev_retrigger_hotplug),
                cmocka_unit_test(test_ports_ifindexes_present),
                cmocka_unit_test(test_ports_tables),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
