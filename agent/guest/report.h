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

/* What the guest dropped during a transition that no link counter shows;
 * each is added to its path's tx_dropped. */
typedef struct SwitchDrops {
        uint64_t vf_tx_discarded;       /* closing the VF dropped these from its queue (counted by nothing) */
        uint64_t synthetic_qdisc;       /* the synthetic NIC's queue discipline dropped these */
        uint64_t vf_qdisc;              /* the VF's queue discipline (while the VF was there) */
} SwitchDrops;

/* A queue discipline's drop counter, followed across reads during a
 * transition. */
typedef struct QdiscMark {
        int ifindex;                    /* the link it was last read on, 0 none */
        uint64_t drops;
} QdiscMark;

/* The transition starts: the counter of 'ifindex' (0: no such link) is 'drops'. */
void qdisc_mark_set(QdiscMark *m, int ifindex, uint64_t drops);

/* A later read: returns what was dropped since the last one. A link not seen
 * before (a VF that came) counts from 0, and so does a counter that went
 * back (a new queue discipline). */
uint64_t qdisc_mark_advance(QdiscMark *m, int ifindex, uint64_t drops);

/* The transition starts: counters as they are in 'links'. */
void switch_tally_begin(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links, usec_t now);

/* A new view of the links during the transition: follows the VF (a VF that
 * is gone keeps the counters it was last seen with). */
void switch_tally_update(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links);

/* The transition ended: fills 'ret' (whose counters point into 'storage')
 * with the differences and the helper's counters; the tally is reset. What
 * 'drops' holds (counted by no device) is added to the tx_dropped of its
 * path. */
void switch_tally_end(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links,
                      const StandbyHelperCounters *helper, const SwitchDrops *drops, const char *mac,
                      PortPath path, usec_t now, Vfo__SwitchReport *ret, Vfo__PathCounters storage[3]);

/* A netdev's statistics as the protocol's PathCounters (all 0 for NULL). */
void path_counters_from_stats(Vfo__PathCounters *c, const NetdevStats *s);
