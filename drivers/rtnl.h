/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rtnetlink (libmnl): the only place in the agent that opens AF_NETLINK. */
#pragma once

#include <stddef.h>

#include "drivers/netdev.h"

/* Dumps every link of this network namespace: name, MAC, master, kind,
 * flags and 64-bit counters. The driver fields are left empty (udev.c). A
 * local dump; the socket has a 2 s receive deadline. */
int rtnl_dump_links(Netdev **ret, size_t *ret_n);
