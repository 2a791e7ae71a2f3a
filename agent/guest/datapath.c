/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Datapath for net_failover, bonding and netvsc ports; see datapath.h.
 * Each operation is a switch over the port kind: the three differ in a line
 * or two each, which reads better than three files of ops tables. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "agent/guest/datapath.h"
#include "agent/guest/report.h"
#include "drivers/bpf/standby-rx.h"
#include "drivers/rtnl.h"
#include "drivers/standby-helper.h"
#include "lib/log.h"
#include "lib/time-util.h"

#define SLOW_LINK_CHANGE_USEC (200 * USEC_PER_MSEC)
/* How long the deduplication outlives a transition that ends on the VF: as long as the
 * standby's last copies are remembered. */
#define DEDUPE_LINGER_USEC (STANDBY_RX_DEDUPE_WINDOW_NS / 1000)

struct Datapath {
        DatapathPort port;
        StandbyHelper *helper;          /* net_failover: attached while receiving on both paths;
                                         * bonding: the deduplication, alongside all_slaves_active */
        bool all_slaves_active;         /* bonding: set by us */
        bool bond_on_vf;                /* bonding: we made the VF the active slave */
        StandbyHelper *lingering;       /* kept a little after a transition ended, see datapath_receive_normal() */
        bool linger_whole;              /* ... all of it (a detach's end), not only the master's program */
        usec_t linger_until;
        StandbyHelper *replay;          /* a migration's replay window (datapath_expect_replay()) */
        usec_t replay_until;
        StandbyHelperCounters last;     /* the helper's counters when it was last detached */
        SwitchDrops drops;              /* since datapath_mark_drops(), not yet taken */
        QdiscMark synthetic_qdisc, vf_qdisc;
};

static bool datapath_master_on_vf(const Datapath *dp);
static void datapath_end_linger(Datapath *dp);
static void datapath_end_replay(Datapath *dp);

int datapath_new(const DatapathPort *p, Datapath **ret) {
        Datapath *dp;
        int r = 0;

        assert(p);
        assert(ret);

        dp = calloc(1, sizeof(*dp));
        if (!dp)
                return -ENOMEM;
        dp->port = *p;

        /* Only vfo-agent changes these, and only during transitions: found
         * set at start-up, they are a dead agent's. */
        if (p->kind == PORT_KIND_NET_FAILOVER || p->kind == PORT_KIND_BONDING) {
                r = standby_helper_remove_stale(p->synthetic_ifindex);
                /* The master's deduplication filter, the same way. */
                if (p->master_ifindex > 0 && standby_helper_remove_stale(p->master_ifindex) > 0 && r >= 0)
                        r = 1;
                /* The qdiscs now, not in the middle of a transition. */
                (void) standby_helper_install_hook(p->synthetic_ifindex);
                if (p->master_ifindex > 0)
                        (void) standby_helper_install_hook(p->master_ifindex);
        }
        if (p->kind == PORT_KIND_BONDING)
                (void) rtnl_bond_set_all_slaves_active(p->master_ifindex, false);

        *ret = dp;
        return r > 0;   /* a failed clean-up shows again at the next attach */
}

static int datapath_receive_normal_full(Datapath *dp, bool may_linger);

Datapath *datapath_free(Datapath *dp) {
        if (!dp)
                return NULL;
        (void) datapath_receive_normal_full(dp, false);
        datapath_end_linger(dp);
        datapath_end_replay(dp);
        return mfree(dp);
}

void datapath_update(Datapath *dp, const DatapathPort *p) {
        assert(dp);
        assert(p);
        dp->port = *p;
        /* Once the VF is gone (or down) the standby's frames reach the master again, untagged:
         * a lingering deduplication of the master's program alone would take a repeat of one of
         * them for the VF's copy. A whole helper still tags them. */
        if (dp->lingering && !dp->linger_whole && !datapath_master_on_vf(dp))
                datapath_end_linger(dp);
}

/* A transition starts while a replay helper is there (a VF attached on the
 * destination right after the migration): the transition takes that helper,
 * programs, map and the window's end (the kernel's clock) with it, so that
 * the copies still on their way are dropped. true if it did. */
static bool datapath_replay_to_transition(Datapath *dp) {
        if (!dp->replay)
                return false;
        log_info("Replay window on ifindex %d goes on in the transition that starts.", dp->port.master_ifindex);
        dp->helper = TAKE_PTR(dp->replay);
        dp->replay_until = USEC_INFINITY;
        return true;
}

int datapath_receive_both(Datapath *dp) {
        int r;

        assert(dp);

        /* The last transition's deduplication is in the master's slot: this one's takes it. */
        datapath_end_linger(dp);

        switch (dp->port.kind) {
        case PORT_KIND_NET_FAILOVER:
                if (dp->helper)
                        return 0;
                dp->last = (StandbyHelperCounters) {};
                if (datapath_replay_to_transition(dp))
                        return standby_helper_set_multicast(dp->helper, dp->port.vf_ifindex == 0);
                r = standby_helper_attach(dp->port.synthetic_ifindex, dp->port.master_ifindex, &dp->helper);
                if (r < 0)
                        return r;
                /* Until told otherwise the VF is there and receives broadcast itself. */
                return standby_helper_set_multicast(dp->helper, dp->port.vf_ifindex == 0);
        case PORT_KIND_BONDING:
                /* The deduplication first: once all_slaves_active is set the bond delivers
                 * broadcast/multicast from both slaves, and loading the programs takes tens of
                 * ms in a slow guest. Without it frames arrive twice, but none is lost, so the
                 * switch goes on. */
                if (!dp->helper && !datapath_replay_to_transition(dp)) {
                        dp->last = (StandbyHelperCounters) {};
                        r = standby_helper_attach_tagger(dp->port.synthetic_ifindex, dp->port.master_ifindex,
                                                         &dp->helper);
                        if (r < 0)
                                log_warning_errno(r, "Cannot deduplicate broadcast on bond ifindex %d, "
                                                     "some may arrive twice during this transition: %m",
                                                  dp->port.master_ifindex);
                }
                r = rtnl_bond_set_all_slaves_active(dp->port.master_ifindex, true);
                if (r < 0)
                        return r;
                dp->all_slaves_active = true;
                return 0;
        case PORT_KIND_NETVSC:
                /* netvsc itself receives on the synthetic path whenever the
                 * host switches its data path: nothing to do in the guest. */
                return 0;
        case _PORT_KIND_MAX:
        case _PORT_KIND_INVALID:
                break;
        }
        return -EINVAL;
}

int datapath_vf_receives(Datapath *dp, bool yes) {
        assert(dp);

        /* While the helper deduplicates it hands over all broadcast/multicast anyway. */
        if (!dp->helper || standby_helper_dedupes(dp->helper))
                return 0;
        return standby_helper_set_multicast(dp->helper, !yes);
}

bool datapath_sees_markers(Datapath *dp, PortPath left) {
        assert(dp);
        if (!dp->helper)
                return false;
        return left == PORT_PATH_SYNTHETIC || standby_helper_counts_vf_markers(dp->helper);
}

void datapath_get_counters(Datapath *dp, StandbyHelperCounters *ret) {
        assert(dp);
        assert(ret);

        if (!dp->helper || standby_helper_get_counters(dp->helper, ret) < 0)
                *ret = dp->last;
}

int datapath_hold_transmit(Datapath *dp, bool on) {
        assert(dp);

        if (dp->port.kind != PORT_KIND_NET_FAILOVER)
                return 0;
        if (!dp->helper)
                return on ? -ENOTCONN : 0;
        if (!on && !standby_helper_holds_transmit(dp->helper))
                return 0;
        return standby_helper_hold_transmit(dp->helper, on);
}

int datapath_transmit_on(Datapath *dp, PortPath path) {
        assert(dp);

        if (path == PORT_PATH_VF && dp->port.vf_ifindex <= 0)
                return -ENODEV;

        switch (dp->port.kind) {
        case PORT_KIND_NET_FAILOVER:
        case PORT_KIND_NETVSC: {
                RtnlQdiscStats before = {}, after = {};
                bool closing = path == PORT_PATH_SYNTHETIC, seen = false;
                usec_t start, took;
                int r;

                /* Both transmit on the VF exactly while it is up. */
                if (dp->port.vf_ifindex <= 0)
                        return 0;
                /* Closing the VF drops what still waits in its queue discipline, and no
                 * counter shows it: count it here. What waited before and was sent by
                 * the time the VF was down is not lost. */
                if (closing && rtnl_qdisc_stats(dp->port.vf_ifindex, &before) >= 0) {
                        seen = true;
                        /* and the last look at what its queue discipline dropped */
                        dp->drops.vf_qdisc += qdisc_mark_advance(&dp->vf_qdisc, dp->port.vf_ifindex, before.drops);
                }
                start = now_usec(CLOCK_MONOTONIC);
                r = rtnl_link_set_up(dp->port.vf_ifindex, path == PORT_PATH_VF);
                if (r < 0)
                        return r;
                /* The kernel runs the driver's open or close within the request: a
                 * slow one holds the whole move (and the host's wait for it). */
                took = usec_sub_unsigned(now_usec(CLOCK_MONOTONIC), start);
                if (took >= SLOW_LINK_CHANGE_USEC)
                        log_warning("Taking VF ifindex %d %s took %" PRIu64 " ms.", dp->port.vf_ifindex,
                                    path == PORT_PATH_VF ? "up" : "down", took / USEC_PER_MSEC);
                if (seen && before.queued > 0 && rtnl_qdisc_stats(dp->port.vf_ifindex, &after) >= 0) {
                        uint64_t sent = after.sent >= before.sent ? after.sent - before.sent : 0;

                        if (before.queued > sent) {
                                log_warning("Closing VF ifindex %d dropped %" PRIu64 " frames from its queue "
                                            "(%" PRIu32 " waited, %" PRIu64 " of them went out).",
                                            dp->port.vf_ifindex, before.queued - sent, before.queued, sent);
                                dp->drops.vf_tx_discarded += before.queued - sent;
                        }
                }
                return 0;
        }
        case PORT_KIND_BONDING: {
                int r = rtnl_bond_set_active_slave(dp->port.master_ifindex, path == PORT_PATH_VF
                                                                                    ? dp->port.vf_ifindex
                                                                                    : dp->port.synthetic_ifindex);
                if (r >= 0)
                        dp->bond_on_vf = path == PORT_PATH_VF;
                return r;
        }
        case _PORT_KIND_MAX:
        case _PORT_KIND_INVALID:
                break;
        }
        return -EINVAL;
}

uint32_t datapath_vf_tx_queued(Datapath *dp) {
        RtnlQdiscStats st;

        assert(dp);

        if ((dp->port.kind != PORT_KIND_NET_FAILOVER && dp->port.kind != PORT_KIND_NETVSC) ||
            dp->port.vf_ifindex <= 0 || rtnl_qdisc_stats(dp->port.vf_ifindex, &st) < 0)
                return 0;
        return st.queued;
}

/* The drop counter of the root queue discipline of 'ifindex' (0 if there is none). */
static uint64_t qdisc_drops(int ifindex) {
        RtnlQdiscStats st = {};

        if (ifindex <= 0 || rtnl_qdisc_stats(ifindex, &st) < 0)
                return 0;
        return st.drops;
}

void datapath_mark_drops(Datapath *dp) {
        assert(dp);
        dp->drops = (SwitchDrops) {};
        qdisc_mark_set(&dp->synthetic_qdisc, dp->port.synthetic_ifindex, qdisc_drops(dp->port.synthetic_ifindex));
        qdisc_mark_set(&dp->vf_qdisc, dp->port.vf_ifindex, qdisc_drops(dp->port.vf_ifindex));
}

void datapath_take_drops(Datapath *dp, SwitchDrops *ret) {
        assert(dp);
        assert(ret);
        dp->drops.synthetic_qdisc += qdisc_mark_advance(&dp->synthetic_qdisc, dp->port.synthetic_ifindex,
                                                        qdisc_drops(dp->port.synthetic_ifindex));
        /* A VF closed by datapath_transmit_on() was read then; one that is still
         * up (an attach, a bond's slave) is read now. */
        if (dp->port.vf_ifindex > 0 && dp->port.vf_up)
                dp->drops.vf_qdisc += qdisc_mark_advance(&dp->vf_qdisc, dp->port.vf_ifindex,
                                                         qdisc_drops(dp->port.vf_ifindex));
        *ret = dp->drops;
        dp->drops = (SwitchDrops) {};
}

int datapath_vf_drained(Datapath *dp) {
        int r;

        assert(dp);

        if (dp->port.kind != PORT_KIND_BONDING || !dp->all_slaves_active)
                return 0;
        r = rtnl_bond_set_all_slaves_active(dp->port.master_ifindex, false);
        if (r < 0)
                return r;
        dp->all_slaves_active = false;
        return 0;
}

/* Whether the master now receives from the VF alone: its copies are the ones that may still
 * come late. */
static bool datapath_master_on_vf(const Datapath *dp) {
        if (dp->port.vf_ifindex <= 0)
                return false;
        switch (dp->port.kind) {
        case PORT_KIND_NET_FAILOVER:
                return dp->port.vf_up;          /* net_failover drops the standby's own */
        case PORT_KIND_BONDING:
                return dp->bond_on_vf;          /* the bond drops its backup slave's */
        default:
                return false;
        }
}

static void datapath_end_linger(Datapath *dp) {
        StandbyHelperCounters c;

        if (!dp->lingering)
                return;
        if (standby_helper_get_counters(dp->lingering, &c) >= 0 &&
            c.duplicates_vf + c.duplicates_standby > dp->last.duplicates_vf + dp->last.duplicates_standby)
                log_info("Broadcast deduplication on ifindex %d dropped late copies after the transition "
                         "ended: %" PRIu64 " from the VF, %" PRIu64 " handed over from the standby.",
                         dp->port.master_ifindex, c.duplicates_vf - dp->last.duplicates_vf,
                         c.duplicates_standby - dp->last.duplicates_standby);
        dp->lingering = standby_helper_detach(dp->lingering);
        dp->linger_whole = false;
        dp->linger_until = USEC_INFINITY;
}

static void datapath_end_replay(Datapath *dp) {
        StandbyHelperCounters c;

        if (!dp->replay)
                return;
        if (standby_helper_get_counters(dp->replay, &c) >= 0)
                log_info("Replay window on ifindex %d ended: dropped %" PRIu64 " frames the guest had taken "
                         "already (copies the migration's source put into the destination's tap).",
                         dp->port.master_ifindex ?: dp->port.synthetic_ifindex, c.duplicates_replayed);
        dp->replay = standby_helper_detach(dp->replay);
        dp->replay_until = USEC_INFINITY;
}

int datapath_expect_replay(Datapath *dp, usec_t window, usec_t prepare, usec_t now) {
        int r;

        assert(dp);

        if (window == 0 && prepare == 0) {
                datapath_end_replay(dp);
                return 0;
        }
        if (dp->helper || dp->port.vf_ifindex > 0)
                return -EBUSY;
        if (dp->port.kind != PORT_KIND_NET_FAILOVER && dp->port.kind != PORT_KIND_BONDING)
                return -EOPNOTSUPP;
        if (!dp->replay && dp->lingering && dp->linger_whole) {
                /* A detach's whole helper that lingers (a migration detaches first): the same
                 * programs, loaded already. */
                dp->replay = TAKE_PTR(dp->lingering);
                dp->linger_whole = false;
                dp->linger_until = USEC_INFINITY;
        }
        if (!dp->replay) {
                /* the master's slot */
                datapath_end_linger(dp);
                r = dp->port.kind == PORT_KIND_NET_FAILOVER
                            ? standby_helper_attach(dp->port.synthetic_ifindex, dp->port.master_ifindex, &dp->replay)
                            : standby_helper_attach_tagger(dp->port.synthetic_ifindex, dp->port.master_ifindex,
                                                           &dp->replay);
                if (r < 0)
                        return log_warning_errno(r, "Cannot attach the helper for a replay window on ifindex %d: %m",
                                                 dp->port.master_ifindex);
        }
        if (window == 0) {
                /* ready: the window comes later, or the helper goes then */
                if (!standby_helper_counts_vf_markers(dp->replay)) {
                        dp->replay = standby_helper_detach(dp->replay);
                        return -EOPNOTSUPP;     /* no master's program */
                }
                dp->replay_until = usec_add(now, prepare);
                log_info("Replay helper on ifindex %d ready for %" PRIu64 " ms.", dp->port.master_ifindex,
                         prepare / USEC_PER_MSEC);
                return 0;
        }
        r = standby_helper_expect_replay(dp->replay, window);
        if (r < 0) {
                dp->replay = standby_helper_detach(dp->replay);
                if (r == -ENOTCONN)
                        return -EOPNOTSUPP;
                return log_warning_errno(r, "Cannot open a replay window on ifindex %d: %m", dp->port.master_ifindex);
        }
        dp->replay_until = usec_add(now, window);
        log_info("Replay window on ifindex %d for %" PRIu64 " ms: frames the guest took once are dropped when "
                 "they come again.", dp->port.master_ifindex, window / USEC_PER_MSEC);
        return 0;
}

usec_t datapath_linger_until(const Datapath *dp) {
        assert(dp);
        return MIN(dp->lingering ? dp->linger_until : USEC_INFINITY,
                   dp->replay ? dp->replay_until : USEC_INFINITY);
}

void datapath_expire(Datapath *dp, usec_t now) {
        assert(dp);
        if (dp->lingering && now >= dp->linger_until)
                datapath_end_linger(dp);
        if (dp->replay && now >= dp->replay_until)
                datapath_end_replay(dp);
}

int datapath_receive_normal(Datapath *dp) {
        return datapath_receive_normal_full(dp, true);
}

static int datapath_receive_normal_full(Datapath *dp, bool may_linger) {
        StandbyHelperCounters c;
        int r = 0;

        assert(dp);

        if (dp->helper && standby_helper_get_counters(dp->helper, &c) >= 0) {
                dp->last = c;
                if (dp->port.kind == PORT_KIND_BONDING)
                        log_info("Broadcast deduplication on bond ifindex %d: tagged %" PRIu64
                                 " broadcast/multicast frames on the synthetic slave, dropped %" PRIu64
                                 " duplicates from it and %" PRIu64 " from the VF.",
                                 dp->port.master_ifindex, c.tagged_multicast, c.duplicates_standby,
                                 c.duplicates_vf);
                else
                        log_info("Standby helper on ifindex %d: handed over %" PRIu64 " unicast and %" PRIu64
                                 " broadcast/multicast frames, dropped %" PRIu64
                                 " duplicates from the standby and %" PRIu64 " from the VF, held %" PRIu64
                                 " transmitted frames on the standby%s.",
                                 dp->port.synthetic_ifindex, c.redirected_unicast, c.redirected_multicast,
                                 c.duplicates_standby, c.duplicates_vf, c.held_tx,
                                 standby_helper_dedupes(dp->helper) ? "" : " (no deduplication)");
        }
        /* A bond stops delivering from its backup slave first: the other way round, the two
         * slaves' copies would reach the bond undeduplicated in between. */
        if (dp->all_slaves_active) {
                r = rtnl_bond_set_all_slaves_active(dp->port.master_ifindex, false);
                if (r >= 0 || r == -ENODEV)
                        dp->all_slaves_active = false;
        }
        /* The deduplication stays a little longer; the helper's counters were read above, and
         * are the transition's. Ending on the VF, only the master's program stays (the VF's late
         * copies come untagged; the standby's program goes). Ending on the standby (a detach,
         * net_failover), all of it stays but the transmit hold: a broadcast whose VF copy the
         * master got in the transition's last moments may still come through the slower
         * synthetic path, and only a tag tells the master that copy from a new frame (one CI run
         * of the NetworkManager guest: 3 duplicated about 80 ms after the unplug). */
        if (dp->helper && may_linger && datapath_master_on_vf(dp) &&
            standby_helper_release(dp->helper, DEDUPE_LINGER_USEC) >= 0) {
                dp->lingering = TAKE_PTR(dp->helper);
                dp->linger_until = usec_add(now_usec(CLOCK_MONOTONIC), DEDUPE_LINGER_USEC);
        } else if (dp->helper && may_linger && dp->port.kind == PORT_KIND_NET_FAILOVER &&
                   standby_helper_dedupes(dp->helper) && standby_helper_hold_transmit(dp->helper, false) >= 0) {
                dp->lingering = TAKE_PTR(dp->helper);
                dp->linger_whole = true;
                dp->linger_until = usec_add(now_usec(CLOCK_MONOTONIC), DEDUPE_LINGER_USEC);
        }
        dp->helper = standby_helper_detach(dp->helper);
        return r == -ENODEV ? 0 : r;
}
