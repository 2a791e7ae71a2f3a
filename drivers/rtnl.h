/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rtnetlink for the guest agent (links, bonds, addresses), through
 * drivers/netlink.c. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/netdev.h"

/* Dumps every link of this network namespace: name, MAC, master, kind,
 * flags and 64-bit counters. The driver fields are left empty (udev.c). A
 * local dump, answered within a 2 s deadline like every request here. */
int rtnl_dump_links(Netdev **ret, size_t *ret_n);

/* One link by name, like one entry of rtnl_dump_links(); -ENODEV if there
 * is none. */
int rtnl_link_get_by_name(const char *name, Netdev *ret);

/* Creates an active-backup bond (miimon 100 ms) named 'name' with MAC
 * 'mac', down and without slaves (ip link add NAME address MAC type bond
 * mode active-backup miimon 100). -EEXIST if any link has that name: an
 * existing one is left as it is. Returns the new link's ifindex in
 * 'ret_ifindex' (may be NULL). */
int rtnl_bond_create(const char *name, const uint8_t mac[static 6], int *ret_ifindex);

/* Removes a link (ip link del). */
int rtnl_link_delete(int ifindex);

/* Administrative state of a link (ip link set up/down). */
int rtnl_link_set_up(int ifindex, bool up);

/* The root queue discipline of a link (tc -s qdisc show dev …): how many
 * packets wait in it ("backlog … Np"), how many it has sent, and how many it
 * dropped ("dropped N": at enqueue when full, or at dequeue, as fq_codel does
 * with a queue that stood too long); all 0 for noqueue. Closing a link drops
 * what waits without counting it anywhere, not even here. */
typedef struct RtnlQdiscStats {
        uint32_t queued;
        uint64_t sent;
        uint64_t drops;
} RtnlQdiscStats;

int rtnl_qdisc_stats(int ifindex, RtnlQdiscStats *ret);

/* Makes 'ifindex' a slave of 'master_ifindex' (ip link set … master …). */
int rtnl_link_set_master(int ifindex, int master_ifindex);

/* Bond options (active-backup): the active slave, and whether inactive
 * slaves deliver what they receive. */
int rtnl_bond_set_active_slave(int bond_ifindex, int slave_ifindex);
int rtnl_bond_set_all_slaves_active(int bond_ifindex, bool on);

/* The IPv4 and IPv6 addresses of a link (for announcements). Capped at
 * 'max' of each family; counts beyond are dropped. */
int rtnl_get_addresses(int ifindex, struct in_addr *v4, size_t max_v4, size_t *ret_n_v4, struct in6_addr *v6,
                       size_t max_v6, size_t *ret_n_v6);

/* A socket subscribed to link changes (RTNLGRP_LINK), non-blocking, for
 * the event loop; rtnl_monitor_drain() empties it and returns > 0 if any
 * link changed (new, gone, flags, carrier, master). */
int rtnl_monitor_open(void);
int rtnl_monitor_drain(int fd);
