/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc/sys/net: the per-interface settings the agent keeps (IPv6 off on slaves). */
#pragma once

#include <stdbool.h>

/* Sets net.ipv6.conf.<ifname>.disable_ipv6. Returns 1 if it changed, 0 if it
 * already had that value, -ENOENT when the interface (or IPv6) is absent. */
int sysctl_ipv6_disable(const char *ifname, bool disable);
