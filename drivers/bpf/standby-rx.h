/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layout shared by the standby-rx BPF program and its loader (drivers/standby-helper.c). */
#pragma once

#include <linux/types.h>

/* skb->mark of the broadcast/multicast the standby's program hands to the master while
 * deduplicating ('vfo1'); the master's program clears it. */
#define STANDBY_RX_MARK 0x76666f31U

/* Broadcast/multicast deduplication: a copy is dropped when the other path delivered the same
 * frame (same digest) less than this long before. In the lab (TCG, emulated e1000e VF) 50 ms
 * let 622 copies of ~2,600 through at an attach, 500 ms 165, 2 s none: a freshly plugged VF
 * delivers in a burst, at its link-up, frames it took in up to ~2 s before. */
#define STANDBY_RX_DEDUPE_WINDOW_NS (2000ULL * 1000 * 1000)
/* Recently delivered frames remembered (LRU, 16 bytes a frame plus the map's own): at 1,000
 * broadcasts/s the window holds 2,000 of them; from ~4,000/s on, copies may be evicted before
 * their twin arrives and both delivered. */
#define STANDBY_RX_DEDUPE_ENTRIES 8192

/* The drain marker: after moving steering to the VF, the host puts one frame of this EtherType
 * (IEEE local experimental 1) to the port's MAC, whose payload starts with these 8 bytes, into
 * the synthetic NIC's tap. Tap queues are first in, first out: once the standby's program has
 * seen it, everything the host sent to the synthetic path before the move has arrived, and the
 * helper may go. The program drops it and counts it (standby_rx_counters.markers). At a detach
 * the host puts one into the VF's path after moving steering to the synthetic NIC (an emulated
 * VF's tap); it reaches the master's program through the VF (markers_vf), and the VF may go
 * down once it did. */
#define STANDBY_RX_MARKER_ETHERTYPE 0x88B5
#define STANDBY_RX_MARKER_MAGIC     "vfodrain"

/* The path a frame came in on, bit 0 of standby_rx_seen.stamp. */
#define STANDBY_RX_PATH_STANDBY 0ULL
#define STANDBY_RX_PATH_VF      1ULL

/* Value of the 'standby_rx_seen' LRU hash (key: the frame's 64-bit digest): when and on which
 * path the frame was last delivered, as bpf_ktime_get_ns() with bit 0 replaced by the path. One
 * word, so that two CPUs receiving both copies at once claim it with one compare-and-exchange
 * and exactly one of them delivers. */
struct standby_rx_seen {
        __u64 stamp;
};

/* Value of the per-CPU 'standby_rx_stats' map (one slot, key 0), shared by both programs. */
struct standby_rx_counters {
        __u64 redirected_unicast;   /* standby: handed to the master, unicast */
        __u64 redirected_multicast; /* standby: handed to the master, broadcast and multicast */
        __u64 passed;               /* standby: left to the normal path (TC_ACT_OK) */
        __u64 duplicates_standby;   /* master: dropped a standby copy, the VF's came first */
        __u64 duplicates_vf;        /* master: dropped a VF copy, the standby's came first */
        __u64 tagged_multicast;     /* standby, tag-only (bond): broadcast and multicast marked */
        __u64 held_tx;              /* master egress: frames sent out of the standby while holding */
        __u64 markers;              /* standby: drain markers seen (and dropped) */
        __u64 markers_vf;           /* master: drain markers that came through the VF (dropped) */
        __u64 duplicates_replayed;  /* master, in a migration's replay window: dropped a copy of a
                                     * frame it had delivered (the source host's, replayed by the
                                     * destination's tap) */
};
