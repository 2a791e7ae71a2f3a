/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loss accounting of one transition; see report.h. */

#include <assert.h>
#include <string.h>

#include "agent/guest/report.h"

static const Netdev *link_find(const Netdev *links, size_t n, int ifindex) {
        if (ifindex <= 0)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (links[i].ifindex == ifindex)
                        return &links[i];
        return NULL;
}

static NetdevStats stats_of(const Netdev *links, size_t n, int ifindex) {
        const Netdev *d = link_find(links, n, ifindex);

        return d ? d->stats : (NetdevStats) {};
}

/* b - a per counter; a counter that went back (a device re-created under
 * the same ifindex cannot happen, but a driver may reset) counts from 0. */
static uint64_t diff(uint64_t a, uint64_t b) {
        return b >= a ? b - a : b;
}

static NetdevStats stats_diff(const NetdevStats *a, const NetdevStats *b) {
        return (NetdevStats) {
                .rx_packets = diff(a->rx_packets, b->rx_packets),
                .rx_bytes = diff(a->rx_bytes, b->rx_bytes),
                .tx_packets = diff(a->tx_packets, b->tx_packets),
                .tx_bytes = diff(a->tx_bytes, b->tx_bytes),
                .rx_dropped = diff(a->rx_dropped, b->rx_dropped),
                .tx_dropped = diff(a->tx_dropped, b->tx_dropped),
                .rx_nohandler = diff(a->rx_nohandler, b->rx_nohandler),
        };
}

static void stats_add(NetdevStats *to, const NetdevStats *s) {
        to->rx_packets += s->rx_packets;
        to->rx_bytes += s->rx_bytes;
        to->tx_packets += s->tx_packets;
        to->tx_bytes += s->tx_bytes;
        to->rx_dropped += s->rx_dropped;
        to->tx_dropped += s->tx_dropped;
        to->rx_nohandler += s->rx_nohandler;
}

void path_counters_from_stats(Vfo__PathCounters *c, const NetdevStats *s) {
        *c = (Vfo__PathCounters) VFO__PATH_COUNTERS__INIT;
        if (!s)
                return;
        c->rx_packets = s->rx_packets;
        c->rx_bytes = s->rx_bytes;
        c->tx_packets = s->tx_packets;
        c->tx_bytes = s->tx_bytes;
        c->rx_dropped = s->rx_dropped;
        c->tx_dropped = s->tx_dropped;
        c->rx_nohandler = s->rx_nohandler;
}

void switch_tally_begin(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links, usec_t now) {
        assert(t);
        assert(p);

        *t = (SwitchTally) {
                .active = true,
                .start_usec = now,
                .synthetic_ifindex = p->synthetic_ifindex,
                .master_ifindex = p->master_ifindex,
                .synthetic0 = stats_of(links, n_links, p->synthetic_ifindex),
                .master0 = stats_of(links, n_links, p->master_ifindex),
        };
        if (link_find(links, n_links, p->vf_ifindex)) {
                t->vf_ifindex = p->vf_ifindex;
                t->vf0 = t->vf_last = stats_of(links, n_links, p->vf_ifindex);
        }
}

void switch_tally_update(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links) {
        const Netdev *vf;

        assert(t);
        assert(p);

        if (!t->active)
                return;

        vf = link_find(links, n_links, t->vf_ifindex);
        if (vf) {
                t->vf_last = vf->stats;
                return;
        }
        if (t->vf_ifindex > 0) {        /* gone: what it carried is done */
                NetdevStats d = stats_diff(&t->vf0, &t->vf_last);

                stats_add(&t->vf_done, &d);
                t->vf_ifindex = 0;
                t->vf0 = t->vf_last = (NetdevStats) {};
        }
        vf = link_find(links, n_links, p->vf_ifindex);
        if (vf) {                       /* a VF came: its counters start at 0 */
                t->vf_ifindex = vf->ifindex;
                t->vf_last = vf->stats;
        }
}

void qdisc_mark_set(QdiscMark *m, int ifindex, uint64_t drops) {
        assert(m);
        *m = (QdiscMark) { .ifindex = MAX(ifindex, 0), .drops = ifindex > 0 ? drops : 0 };
}

uint64_t qdisc_mark_advance(QdiscMark *m, int ifindex, uint64_t drops) {
        uint64_t d;

        assert(m);
        if (ifindex <= 0)
                return 0;
        d = ifindex == m->ifindex && drops >= m->drops ? drops - m->drops : drops;
        m->ifindex = ifindex;
        m->drops = drops;
        return d;
}

void switch_tally_end(SwitchTally *t, const DatapathPort *p, const Netdev *links, size_t n_links,
                      const StandbyHelperCounters *helper, const SwitchDrops *drops, const char *mac,
                      PortPath path, usec_t now, Vfo__SwitchReport *ret, Vfo__PathCounters storage[3]) {
        NetdevStats syn, master, vf;

        assert(t);
        assert(p);
        assert(helper);
        assert(drops);
        assert(ret);
        assert(storage);

        switch_tally_update(t, p, links, n_links);
        syn = stats_of(links, n_links, t->synthetic_ifindex);
        master = stats_of(links, n_links, t->master_ifindex);
        syn = stats_diff(&t->synthetic0, &syn);
        master = stats_diff(&t->master0, &master);
        vf = stats_diff(&t->vf0, &t->vf_last);
        stats_add(&vf, &t->vf_done);
        vf.tx_dropped += drops->vf_tx_discarded + drops->vf_qdisc;
        syn.tx_dropped += drops->synthetic_qdisc;

        *ret = (Vfo__SwitchReport) VFO__SWITCH_REPORT__INIT;
        ret->mac = (char *) mac;
        ret->path = path == PORT_PATH_VF ? VFO__PATH_KIND__PATH_KIND_VF : VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
        ret->start_usec = t->start_usec;
        ret->end_usec = MAX(now, t->start_usec);
        path_counters_from_stats(&storage[0], &syn);
        path_counters_from_stats(&storage[1], &vf);
        path_counters_from_stats(&storage[2], &master);
        ret->synthetic = &storage[0];
        ret->vf = &storage[1];
        ret->master = &storage[2];
        ret->handed_over = helper->redirected_unicast + helper->redirected_multicast;
        ret->duplicates_dropped = helper->duplicates_standby + helper->duplicates_vf;
        ret->held_tx = helper->held_tx;

        *t = (SwitchTally) {};
}
