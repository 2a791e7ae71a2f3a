/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rtnetlink (libmnl): the only place in the agent that opens AF_NETLINK. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "drivers/netdev.h"

/* Dumps every link of this network namespace: name, MAC, master, kind,
 * flags and 64-bit counters. The driver fields are left empty (udev.c). A
 * local dump; the socket has a 2 s receive deadline. */
int rtnl_dump_links(Netdev **ret, size_t *ret_n);

/* Administrative state of a link (ip link set up/down). */
int rtnl_link_set_up(int ifindex, bool up);

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
