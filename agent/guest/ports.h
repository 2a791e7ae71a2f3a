/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ports: which netdevs form one guest port (synthetic NIC + VF with the same
 * MAC + what joins them). Pure functions over a list of Netdevs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "drivers/netdev.h"
#include "lib/macro.h"

typedef enum PortKind {
        PORT_KIND_NET_FAILOVER, /* net_failover master over a virtio_net STANDBY and the VF */
        PORT_KIND_BONDING,      /* bond over a virtio_net slave and the VF */
        PORT_KIND_NETVSC,       /* hv_netvsc with its VF enslaved to it */
        _PORT_KIND_MAX,
        _PORT_KIND_INVALID = -EINVAL,
} PortKind;

typedef enum PortPath {
        PORT_PATH_SYNTHETIC,
        PORT_PATH_VF,
        _PORT_PATH_MAX,
        _PORT_PATH_INVALID = -EINVAL,
} PortPath;

typedef struct Port {
        PortKind kind;
        uint8_t mac[6];
        int master;             /* index into the Netdev list, -1 for netvsc */
        int synthetic;          /* index, always set */
        int vf;                 /* index, -1 while no VF is plugged */
        int vf_unjoined;        /* bonding: a VF with the port's MAC that is nobody's slave yet, or -1 */
} Port;

typedef enum BondAction {
        BOND_ACTION_NONE,       /* no such virtio NIC, or it is in a bond or net_failover already */
        BOND_ACTION_CREATE,     /* a plain NIC and the name is free: create the bond, enslave the NIC */
        BOND_ACTION_ENSLAVE,    /* a plain NIC and an empty bond of that name with its MAC: enslave it */
        BOND_ACTION_NAME_TAKEN, /* a plain NIC, but another link has the bond's name */
        BOND_ACTION_NIC_TAKEN,  /* the NIC is a slave of something else (bridge, team, ...) */
        _BOND_ACTION_MAX,
        _BOND_ACTION_INVALID = -EINVAL,
} BondAction;

/* What vfo-agent.conf's Bond= asks for, given the links: indexes into them. */
typedef struct BondPlan {
        BondAction action;
        int nic;                /* the virtio NIC with the configured permanent MAC, or -1 */
        int named;              /* the link with the bond's name, or -1 */
        int nic_master;         /* the NIC's master, or -1 */
} BondPlan;

/* Groups 'links' into ports, sorted by MAC. Netdevs that belong to no port
 * (loopback, unrelated NICs) are left out. */
int ports_discover(const Netdev *links, size_t n, Port **ret, size_t *ret_n);

/* Which path carries the port's traffic now, from the kernel's state. */
PortPath port_active_path(const Port *p, const Netdev *links);

/* Bond=NAME for the virtio NIC whose permanent MAC is 'mac' (its current
 * MAC where the kernel reports no permanent one): what to do now. */
BondPlan ports_plan_bond(const Netdev *links, size_t n, const uint8_t mac[static 6], const char *name);

/* A net_failover master has two slaves: the standby and the VF. */
#define PORT_SLAVES_MAX 2

/* The slaves of net_failover port 'p' that udev must process again because
 * 81-vfo-net-failover.rules missed them (udevd handled their add event
 * before the kernel linked them to the master): those whose udev_mark is
 * PENDING or UNMARKED and whose ifindex is not among done[] (asked for
 * already). Bonding and netvsc ports: none, the rule does not cover them.
 * Stores their indexes into 'links' in ret, returns how many. */
size_t port_udev_retrigger(const Port *p, const Netdev *links, size_t n, const int *done, size_t n_done,
                           int ret[static PORT_SLAVES_MAX]);

/* Keeps, in order, the ifindexes of ifindexes[] that are still among
 * 'links'; returns how many. */
size_t netdev_ifindexes_present(const Netdev *links, size_t n, int *ifindexes, size_t n_ifindexes);

const char *bond_action_to_string(BondAction a) _const_;
const char *port_kind_to_string(PortKind k) _const_;
PortKind port_kind_from_string(const char *s) _pure_;
const char *port_path_to_string(PortPath p) _const_;
PortPath port_path_from_string(const char *s) _pure_;
