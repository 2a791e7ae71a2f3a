/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Standby-RX helper: while a VF comes or goes, a tc-ingress BPF program on net_failover's standby
 * hands what the standby receives to the master, which net_failover would otherwise drop, and a
 * second one on the master drops the second copy of a broadcast/multicast frame that arrived on
 * both paths. On an active-backup bond (standby_helper_attach_tagger()) only the deduplication
 * runs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/macro.h"

typedef struct StandbyHelper StandbyHelper;

typedef struct StandbyHelperCounters {
        uint64_t redirected_unicast;   /* unicast handed to the master */
        uint64_t redirected_multicast; /* broadcast and multicast handed to the master */
        uint64_t passed;               /* left to the standby's normal path */
        uint64_t duplicates_standby;   /* dedupe: dropped at the master, the standby's copy came second */
        uint64_t duplicates_vf;        /* dedupe: dropped at the master, the VF's copy came second */
        uint64_t tagged_multicast;     /* tag-only: broadcast and multicast marked as the standby's */
        uint64_t held_tx;              /* transmitted by the master, sent out of the standby (hold) */
        uint64_t markers;              /* the host's drain markers seen on the standby */
        uint64_t markers_vf;           /* the host's drain markers that came through the VF */
        uint64_t duplicates_replayed;  /* replay window: dropped at the master, delivered before */
} StandbyHelperCounters;

/* Loads the programs for 'master_ifindex' and attaches them to the tc ingress (clsact) hooks of
 * 'master_ifindex' and 'standby_ifindex', creating the clsact qdiscs if there are none (they
 * stay). Unicast is handed over from then on. Broadcast/multicast are deduplicated (see
 * standby_helper_set_dedupe()), which is on from the start; if the master's program cannot be
 * attached (a warning, once, says why) dedupe stays off and they are handed over only after
 * standby_helper_set_multicast(h, true).
 * Errors: -EINVAL bad or equal ifindexes; -ENODEV either link does not exist; -EEXIST our filter
 * is already on that standby (attached twice, or left behind by an agent that died);
 * -EPERM no CAP_BPF/CAP_NET_ADMIN; other negative errnos from libbpf/the kernel. */
int standby_helper_attach(int standby_ifindex, int master_ifindex, StandbyHelper **ret);

/* The same deduplication for an active-backup bond, whose own rx_handler delivers from both
 * slaves during a transition (all_slaves_active): 'slave_ifindex' (the synthetic slave) gets a
 * program that only marks broadcast/multicast as the standby's and lets everything go on to the
 * bond (no redirect, and later filters on that hook still run); 'bond_ifindex' gets the master's
 * program. Dedupe is on from the start and cannot run without the bond's program: failing to
 * attach it is an error here. Errors as standby_helper_attach(). */
int standby_helper_attach_tagger(int slave_ifindex, int bond_ifindex, StandbyHelper **ret);

/* Makes sure the standby has a clsact qdisc (created once, when the port is
 * found, and never deleted: see standby_helper_detach()). Returns 1 if it
 * created one, 0 if there was one. */
int standby_helper_install_hook(int standby_ifindex);

/* Removes a filter left in our slot (tc ingress or egress) on 'ifindex' (a standby, or a failover
 * master) by an agent that died mid-transition (one agent per guest: a filter
 * there at start-up is nobody's). Returns 1 if one was removed, 0 if there was
 * none. */
int standby_helper_remove_stale(int ifindex);

/* true: broadcast/multicast arriving on the standby are handed to the master too (set while the
 * VF cannot receive). false (the default): they are left to the normal path, so nothing is
 * delivered twice while the VF still receives. */
int standby_helper_set_multicast(StandbyHelper *h, bool on);

/* Broadcast/multicast deduplication at the master's tc ingress, first copy wins. While on, the
 * standby hands over ALL broadcast/multicast (standby_helper_set_multicast() no longer matters),
 * marked as the standby's, and the master's program drops a broadcast/multicast frame whose copy
 * came in from the other path (the VF's through net_failover, or the standby's) less than
 * STANDBY_RX_DEDUPE_WINDOW_NS (drivers/bpf/standby-rx.h, 2 s) before; the first 64 bytes of a
 * frame (32 of a frame under 64; shorter ones are not deduplicated) tell copies apart. Unicast
 * is never dropped. Off: everything behaves as without deduplication. -ENOTCONN to turn it on
 * when the master's program is not attached. */
int standby_helper_set_dedupe(StandbyHelper *h, bool on);
bool standby_helper_dedupes(StandbyHelper *h);
/* Whether drain markers that come through the VF are counted (markers_vf):
 * the master's program is attached. */
bool standby_helper_counts_vf_markers(StandbyHelper *h);

/* net_failover only. true: what the master transmits leaves through the standby, whatever
 * net_failover would choose (a program on the master's tc egress, attached at the first call);
 * false: net_failover chooses again. Held while a VF is attached and the host still steers to the
 * standby: net_failover moves transmit to the VF at its carrier-on, before the VF's queue
 * discipline is active, and the frames sent in between are dropped (drivers/bpf/standby-rx.bpf.c,
 * standby_tx_hold). -EOPNOTSUPP for a bond's helper. */
int standby_helper_hold_transmit(StandbyHelper *h, bool on);
bool standby_helper_holds_transmit(StandbyHelper *h);

/* A migration's handover (the host keeps delivering to the guest here and copies every frame into
 * the destination's tap, where the copies wait until the guest runs there): for 'window_usec'
 * from now, by the guest's CLOCK_MONOTONIC (which stands still while the guest is paused), the
 * master's program drops every frame, unicast included, that it delivered once already within
 * STANDBY_RX_DEDUPE_WINDOW_NS, from whichever path (counted in duplicates_replayed). A frame's
 * digest covers its length and its first 128 bytes (96, 64, 48 or 32 of a shorter one), the L4
 * checksum aside; what it cannot tell apart is dropped too: a frame repeated byte for byte that
 * far within 2 s. Frames under 32 bytes are not compared. 0 ends the window. -ENOTCONN without
 * the master's program. */
int standby_helper_expect_replay(StandbyHelper *h, uint64_t window_usec);

/* Totals over all CPUs since attach. */
int standby_helper_get_counters(StandbyHelper *h, StandbyHelperCounters *ret);

/* A transition ends with the master receiving from the VF: the transmit hold and the standby's
 * program go now, and the master's deduplication goes on for 'linger_usec' (the kernel's clock
 * decides; standby_helper_detach() removes it after that). Meanwhile every broadcast/multicast
 * frame at the master counts as the VF's, and one whose copy the standby delivered within the
 * window is dropped: the VF may deliver its copy of a frame after the standby's was handed over
 * and the standby's program is gone, and a copy handed over may still wait in the backlog.
 * -ENOTCONN if the helper does not deduplicate (or linger_usec is 0): detach it instead. */
int standby_helper_release(StandbyHelper *h, uint64_t linger_usec);

/* Detaches (removes our filters from the standby, then the master, each only if it is still
 * ours; the clsact qdiscs stay) and frees.
 * A standby that is already gone is not an error. NULL-safe; returns NULL. */
StandbyHelper *standby_helper_detach(StandbyHelper *h);
DEFINE_CLEANUP_FUNC(StandbyHelper, standby_helper_detach);
