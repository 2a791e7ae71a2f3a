/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netdev: what the guest agent knows of one network interface, in our own
 * types (filled by drivers/rtnl.c and drivers/udev.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct NetdevStats {
        uint64_t rx_packets;
        uint64_t rx_bytes;
        uint64_t tx_packets;
        uint64_t tx_bytes;
        uint64_t rx_dropped;
        uint64_t tx_dropped;
        uint64_t rx_nohandler;  /* received, delivered to nobody: net_failover's standby
                                 * while a VF is registered counts what it drops here */
} NetdevStats;

/* What udev made of the device (contrib/udev/81-vfo-net-failover.rules marks
 * net_failover slaves with VFO_FAILOVER_SLAVE=1). */
typedef enum NetdevUdevMark {
        NETDEV_UDEV_UNKNOWN,    /* no udevd running, device gone, or not read */
        NETDEV_UDEV_PENDING,    /* udevd has not processed the device yet */
        NETDEV_UDEV_UNMARKED,   /* processed, without VFO_FAILOVER_SLAVE=1 */
        NETDEV_UDEV_MARKED,     /* VFO_FAILOVER_SLAVE=1 */
} NetdevUdevMark;

typedef struct Netdev {
        int ifindex;
        char name[16];          /* IFNAMSIZ */
        uint8_t mac[6];
        bool has_mac;
        uint8_t perm_mac[6];    /* the hardware's own (IFLA_PERM_ADDRESS): a bond may change 'mac' */
        bool has_perm_mac;
        int master;             /* ifindex of the master (bond, net_failover), 0 if none */
        char kind[32];          /* rtnetlink link kind: "net_failover", "bond", "" for hardware */
        int active_slave;       /* bond: ifindex of the active slave, 0 if none or not a bond */
        bool bond_link_up;      /* a bond's slave: the bond (miimon) sees its link up */
        char driver[32];        /* driver of the device below: "virtio_net", "e1000e", "hv_netvsc", "" */
        bool pci;               /* a PCI function (a VF, or the lab's emulated stand-in) */
        NetdevUdevMark udev_mark;
        bool admin_up;          /* IFF_UP */
        bool carrier;           /* IFF_LOWER_UP */
        bool oper_up;           /* IFLA_OPERSTATE up or unknown: the kernel's link watch has
                                 * seen the carrier, and activated the queue discipline */
        NetdevStats stats;
} Netdev;
