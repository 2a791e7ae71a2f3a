/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Datapath drivers for net_failover, bonding and netvsc; see datapath.h.
 * Each operation is a switch over the port kind: the three differ in a line
 * or two each, which reads better than three files of ops tables. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "drivers/datapath.h"
#include "drivers/rtnl.h"
#include "drivers/standby-helper.h"
#include "lib/log.h"

struct Datapath {
        DatapathPort port;
        StandbyHelper *helper;          /* net_failover: attached while receiving on both paths */
        bool dedupe;                    /* net_failover: the helper deduplicates broadcast/multicast */
        bool vf_receives;               /* net_failover: the last datapath_vf_receives() */
        bool warned_no_dedupe;          /* net_failover: the fallback was logged */
        bool all_slaves_active;         /* bonding: set by us */
};

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
        if (p->kind == PORT_KIND_NET_FAILOVER) {
                r = standby_helper_remove_stale(p->synthetic_ifindex);
                /* The qdisc now, not in the middle of a transition. */
                (void) standby_helper_install_hook(p->synthetic_ifindex);
                if (p->vf_ifindex > 0) {
                        if (standby_helper_remove_stale(p->vf_ifindex) > 0)
                                r = 1;
                        (void) standby_helper_install_hook(p->vf_ifindex);
                }
        }
        else if (p->kind == PORT_KIND_BONDING)
                (void) rtnl_bond_set_all_slaves_active(p->master_ifindex, false);

        *ret = dp;
        return r > 0;   /* a failed clean-up shows again at the next attach */
}

Datapath *datapath_free(Datapath *dp) {
        if (!dp)
                return NULL;
        (void) datapath_receive_normal(dp);
        return mfree(dp);
}

/* Broadcast/multicast reach the master through the VF and the standby both, and net_failover
 * drops the standby's copies only while a VF is registered, not only while it receives. The
 * helper deduplicates them (first copy wins, drivers/bpf/standby-rx.bpf.c) once 'dedupe' is on:
 *   - without a VF (attach, from PrepareAttach on; detach, once the VF is gone) the standby hands
 *     them all over; net_failover would deliver each of them once too, but now each is recorded;
 *   - a VF that appears while the helper is on (attach) gets the VF program at once, because the
 *     kernel starts delivering through it right away;
 *   - a VF that was there at the start (detach) gets the VF program then too, but dedupe goes on
 *     only when the VF stops receiving (datapath_vf_receives(false), before it is set down):
 *     until then the VF program only records what the VF delivers, and the standby's copies stay
 *     with net_failover, which drops them, exactly as without the helper. So no copy of a frame
 *     that the VF delivered unrecorded can come in late on the standby and be handed over.
 * Once on, dedupe stays on until the helper goes: the VF program on whatever VF there is, and
 * datapath_vf_receives() a no-op. When the VF program cannot be attached, the flag decides
 * (handover exactly while the VF cannot receive), which delivers a few frames twice around the
 * moments the VF starts or stops receiving; logged once. */
static int datapath_set_multicast_flag(Datapath *dp) {
        return standby_helper_set_multicast(dp->helper, !dp->vf_receives);
}

static int datapath_dedupe_on(Datapath *dp) {
        int r;

        if (dp->dedupe)
                return 0;
        r = standby_helper_set_dedupe(dp->helper, true);
        if (r < 0)
                return r;
        dp->dedupe = true;
        return 0;
}

/* Keeps the VF program on the port's current VF; returns 1 if it moved. */
static int datapath_follow_vf(Datapath *dp) {
        int vf = MAX(dp->port.vf_ifindex, 0), r;

        if (standby_helper_get_vf(dp->helper) == vf)
                return 0;

        if (vf == 0) {
                /* The VF is gone, and its filter with it. */
                (void) standby_helper_detach_vf(dp->helper);
                return 1;
        }

        r = standby_helper_attach_vf(dp->helper, vf);
        if (r < 0) {
                if (!dp->warned_no_dedupe) {
                        log_warning_errno(r,
                                          "Cannot attach the broadcast deduplication to the VF (ifindex %d), "
                                          "some broadcast may arrive twice during transitions: %m",
                                          vf);
                        dp->warned_no_dedupe = true;
                }
                if (dp->dedupe) {
                        dp->dedupe = false;
                        (void) standby_helper_set_dedupe(dp->helper, false);
                }
                (void) datapath_set_multicast_flag(dp);
                return r;
        }
        return 1;
}

void datapath_update(Datapath *dp, const DatapathPort *p) {
        assert(dp);
        assert(p);

        dp->port = *p;
        if (!dp->helper || dp->port.kind != PORT_KIND_NET_FAILOVER)
                return;

        /* First thing when a VF appears: the kernel opens it as it registers it with
         * net_failover, and from then on it receives broadcast as well as the standby. */
        if (datapath_follow_vf(dp) > 0)
                (void) datapath_dedupe_on(dp);
}

int datapath_receive_both(Datapath *dp) {
        int r;

        assert(dp);

        switch (dp->port.kind) {
        case PORT_KIND_NET_FAILOVER:
                if (dp->helper)
                        return 0;
                r = standby_helper_attach(dp->port.synthetic_ifindex, dp->port.master_ifindex, &dp->helper);
                if (r < 0)
                        return r;
                dp->dedupe = false;
                /* Until told otherwise the VF is there and receives broadcast itself. */
                dp->vf_receives = dp->port.vf_ifindex > 0;
                r = datapath_set_multicast_flag(dp);
                if (r < 0)
                        return r;
                if (dp->port.vf_ifindex > 0) {
                        /* Records from now on; the flag stays in effect if this fails (logged). */
                        (void) datapath_follow_vf(dp);
                        return 0;
                }
                return datapath_dedupe_on(dp);
        case PORT_KIND_BONDING:
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

        dp->vf_receives = yes;
        if (!dp->helper || dp->dedupe)
                return 0;
        if (!yes && standby_helper_get_vf(dp->helper) > 0 && datapath_dedupe_on(dp) >= 0)
                return 0;
        return datapath_set_multicast_flag(dp);
}

int datapath_transmit_on(Datapath *dp, PortPath path) {
        assert(dp);

        if (path == PORT_PATH_VF && dp->port.vf_ifindex <= 0)
                return -ENODEV;

        switch (dp->port.kind) {
        case PORT_KIND_NET_FAILOVER:
        case PORT_KIND_NETVSC:
                /* Both transmit on the VF exactly while it is up. */
                if (dp->port.vf_ifindex <= 0)
                        return 0;
                return rtnl_link_set_up(dp->port.vf_ifindex, path == PORT_PATH_VF);
        case PORT_KIND_BONDING:
                return rtnl_bond_set_active_slave(dp->port.master_ifindex, path == PORT_PATH_VF
                                                                                   ? dp->port.vf_ifindex
                                                                                   : dp->port.synthetic_ifindex);
        case _PORT_KIND_MAX:
        case _PORT_KIND_INVALID:
                break;
        }
        return -EINVAL;
}

int datapath_receive_normal(Datapath *dp) {
        int r = 0;

        assert(dp);

        if (dp->helper) {
                StandbyHelperCounters c;

                if (standby_helper_get_counters(dp->helper, &c) >= 0)
                        log_info("Standby helper on ifindex %d: handed over %" PRIu64 " unicast and %" PRIu64
                                 " broadcast/multicast frames, dropped %" PRIu64
                                 " duplicates on the standby and %" PRIu64 " on the VF.",
                                 dp->port.synthetic_ifindex, c.redirected_unicast, c.redirected_multicast,
                                 c.duplicates_standby, c.duplicates_vf);
        }
        /* The standby's program first, then the VF's (standby_helper_detach()). */
        dp->helper = standby_helper_detach(dp->helper);
        dp->dedupe = false;
        if (dp->all_slaves_active) {
                r = rtnl_bond_set_all_slaves_active(dp->port.master_ifindex, false);
                if (r >= 0 || r == -ENODEV)
                        dp->all_slaves_active = false;
        }
        return r == -ENODEV ? 0 : r;
}
