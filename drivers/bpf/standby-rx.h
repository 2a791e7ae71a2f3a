/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layout shared by the standby-rx BPF program and its loader (drivers/standby-helper.c). */
#pragma once

#include <linux/types.h>

/* Value of the per-CPU 'standby_rx_stats' map (one slot, key 0). */
struct standby_rx_counters {
        __u64 redirected_unicast;   /* handed to the master: unicast */
        __u64 redirected_multicast; /* handed to the master: broadcast and multicast */
        __u64 passed;               /* left to the normal path (TC_ACT_OK) */
};
