/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SwitchReport: what the guest's counters saw during one port transition
 * (ARCHITECTURE.md "11 The guest", loss accounting). A SwitchTally takes the
 * counters of the synthetic NIC, the VF and the master when a transition
 * starts, follows the VF while it is there, and makes the report's
 * differences when it ends. Pure: the caller reads the links. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/guest/datapath.h"
#include "drivers/netdev.h"
#include "lib/time-util.h"
#include "proto/vfo.pb-c.h"

typedef struct SwitchTally {
        bool active;
        usec_t start_usec;
        int synthetic_ifindex, master_ifindex;
        int vf_ifindex;                 /* the VF being followed, 0 none */
        NetdevStats synthetic0, master0;
        NetdevStats vf0, vf_last;       /* the VF's at the start (0 if it came later) and last seen */
        NetdevStats vf_done;            /* VFs that came and went during the transition */
} SwitchTally;

/* The transition starts: counters as they are in 'links'. */
void switch_tally_begin(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links, usec_t now);

/* A new view of the links during the transition: follows the VF (a VF that
 * is gone keeps the counters it was last seen with). */
void switch_tally_update(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links);

/* The transition ended: fills 'ret' (whose counters point into 'storage')
 * with the differences and the helper's counters; the tally is reset. What
 * closing the VF dropped from its queue ('vf_tx_discarded', counted by no
 * device) is added to the VF's tx_dropped. */
void switch_tally_end(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links,
                      const StandbyHelperCounters *helper, uint64_t vf_tx_discarded, const char *mac,
                      PortPath path, usec_t now, Vfo__SwitchReport *ret, Vfo__PathCounters storage[3]);

/* A netdev's statistics as the protocol's PathCounters (all 0 for NULL). */
void path_counters_from_stats(Vfo__PathCounters *c, const NetdevStats *s);
