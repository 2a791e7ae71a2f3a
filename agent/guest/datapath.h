/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Datapath: how one guest port moves traffic between its synthetic NIC and
 * its VF, the agent's policy for each port kind over drivers/rtnl.c and
 * drivers/standby-helper.c. One small interface for net_failover, bonding
 * and netvsc; the switching logic above it (switch.c) is the same for all
 * three, and its tests link tests/fakes/fake-datapath.c instead. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/guest/ports.h"
#include "drivers/standby-helper.h"
#include "lib/time-util.h"

typedef struct DatapathPort {
        PortKind kind;
        int master_ifindex;     /* net_failover master or bond; 0 for netvsc */
        int synthetic_ifindex;
        int vf_ifindex;         /* 0 while no VF is plugged */
        bool vf_up;             /* the VF is administratively up (it receives) */
} DatapathPort;

/* Per-port driver state (the helper's handle). */
typedef struct Datapath Datapath;

/* Also clears what an earlier agent left behind on the port (a helper
 * filter, all_slaves_active); returns 1 if it found any. */
int datapath_new(const DatapathPort *p, Datapath **ret);
/* Undoes whatever is still in effect (helper detached). NULL-safe. */
Datapath *datapath_free(Datapath *dp);

/* Refresh the interfaces (the VF comes and goes, ifindexes change). */
void datapath_update(Datapath *dp, const DatapathPort *p);

/* prepare: the master accepts frames from both paths from now on
 * (net_failover: standby-RX helper on; bonding: all_slaves_active). */
int datapath_receive_both(Datapath *dp);
/* Whether the VF can receive broadcast/multicast now: while it cannot, the
 * helper hands those over from the standby too; while it can, it must not
 * (they would arrive twice). */
int datapath_vf_receives(Datapath *dp, bool yes);
/* Move transmit to 'path' (net_failover, netvsc: the VF's admin state;
 * bonding: the active slave). */
int datapath_transmit_on(Datapath *dp, PortPath path);
/* attach: keep transmit on the synthetic path while the VF joins (net_failover
 * would move it at the VF's carrier-on, before the VF can send: see
 * standby_helper_hold_transmit()); false lets the kernel choose again. Needs
 * datapath_receive_both() first; 0 for bonding and netvsc, where the agent
 * moves transmit itself. */
int datapath_hold_transmit(Datapath *dp, bool on);
/* A helper is attached that counts the host's drain markers on the path
 * steering 'left' (net_failover, bonding: from datapath_receive_both() on;
 * the VF's need the helper's program on the master). */
bool datapath_sees_markers(Datapath *dp, PortPath left);
/* The helper's counters: live while it is attached, else as it left them
 * (zero before the first transition). */
void datapath_get_counters(Datapath *dp, StandbyHelperCounters *ret);
/* How many frames wait in the VF's queue discipline to be sent (net_failover,
 * netvsc, where closing the VF drops them; 0 for bonding, without a VF, or
 * when it cannot be read). */
uint32_t datapath_vf_tx_queued(Datapath *dp);
/* A transition starts: what the guest drops from here on, and no link
 * counts, is followed (the queue disciplines' drop counters of the synthetic
 * NIC and the VF; and what closing the VF drops from its queue, which the
 * kernel counts nowhere). */
void datapath_mark_drops(Datapath *dp);
/* The transition ended: those drops since datapath_mark_drops(). A VF's
 * queue discipline is read for the last time when datapath_transmit_on()
 * closes it (what it dropped after that, until the unplug, is not seen). */
typedef struct SwitchDrops SwitchDrops;
void datapath_take_drops(Datapath *dp, SwitchDrops *ret);
/* detach: what was sent to the VF has come in and transmit has moved to the
 * synthetic NIC, so nothing more is wanted from the VF. Bonding: the bond
 * stops delivering from the VF (all_slaves_active off), which still receives
 * broadcast until it is unplugged; the deduplication stays on until
 * datapath_receive_normal() and drops the synthetic NIC's late copies of what
 * the VF delivered last (the synthetic path lags the VF by tens of ms). Nothing
 * to do for net_failover and netvsc: the VF is down. */
int datapath_vf_drained(Datapath *dp);
/* finish: back to the kernel's normal receive handling (helper off). When
 * the master now receives from the VF, the broadcast deduplication outlives
 * the transition by the dedupe window (standby_helper_release()): the VF's
 * late copies of what the standby delivered last are still dropped. */
int datapath_receive_normal(Datapath *dp);
/* A migration's handover (ExpectReplay): for 'window' of the guest's running
 * time from 'now' the master drops every frame it already took once, unicast
 * included (standby_helper_expect_replay(): the source host copies what it
 * delivers here into the destination's tap). Attaches a helper for it when
 * none is (net_failover: the standby's and the master's programs; bonding:
 * the tagger); a second call moves the end. 'window' 0 and 'prepare' > 0:
 * the helper only, kept that long for a window that follows (loading it is
 * the slow part); both 0 end it now. -EBUSY
 * while a transition holds the helper or a VF is plugged (the host detaches
 * before it migrates); -EOPNOTSUPP for netvsc, and when the master's program
 * cannot be attached. A transition that starts (datapath_receive_both())
 * takes the helper over, and the window goes on in it until its end. */
int datapath_expect_replay(Datapath *dp, usec_t window, usec_t prepare, usec_t now);
/* When that deduplication, or a replay window, is to be removed (USEC_INFINITY:
 * none runs); call datapath_expire() then. The next datapath_receive_both()
 * ends it too. */
usec_t datapath_linger_until(const Datapath *dp);
void datapath_expire(Datapath *dp, usec_t now);

DEFINE_CLEANUP_FUNC(Datapath, datapath_free);
