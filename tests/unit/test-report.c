/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loss accounting of one transition (agent/guest/report.c): the
 * differences it reports, a VF that comes or goes in the middle, counters
 * that go back, and what counts as a drop. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/guest/report.h"
#include "lib/validate.h"

enum { SYN = 2, MASTER = 3, VF = 7, VF2 = 9 };

static const DatapathPort with_vf = {
        .kind = PORT_KIND_NET_FAILOVER, .master_ifindex = MASTER, .synthetic_ifindex = SYN, .vf_ifindex = VF,
};
static const DatapathPort without_vf = {
        .kind = PORT_KIND_NET_FAILOVER, .master_ifindex = MASTER, .synthetic_ifindex = SYN,
};

static Netdev link_with(int ifindex, uint64_t rx, uint64_t tx, uint64_t rx_dropped, uint64_t nohandler) {
        return (Netdev) {
                .ifindex = ifindex,
                .stats = { .rx_packets = rx, .tx_packets = tx, .rx_dropped = rx_dropped, .rx_nohandler = nohandler },
        };
}

/* A graceful detach: the VF is there at the start, gone at the end. */
static void test_report_detach(void **state) {
        SwitchTally t;
        Vfo__SwitchReport r;
        Vfo__PathCounters storage[3];
        StandbyHelperCounters h = { .redirected_unicast = 40, .redirected_multicast = 2, .duplicates_vf = 1 };
        Netdev start[] = { link_with(SYN, 100, 10, 0, 5), link_with(MASTER, 1000, 900, 0, 0),
                           link_with(VF, 900, 890, 0, 0) };
        Netdev mid[] = { link_with(SYN, 120, 10, 0, 5), link_with(MASTER, 1100, 990, 0, 0),
                         link_with(VF, 980, 980, 0, 0) };
        Netdev end[] = { link_with(SYN, 300, 200, 0, 5), link_with(MASTER, 1300, 1180, 0, 0) };

        switch_tally_begin(&t, &with_vf, start, ELEMENTSOF(start), 1000);
        assert_true(t.active);
        switch_tally_update(&t, &with_vf, mid, ELEMENTSOF(mid));
        switch_tally_end(&t, &without_vf, end, ELEMENTSOF(end), &h, &(SwitchDrops) {}, "52:54:00:00:00:01",
                         PORT_PATH_SYNTHETIC, 5000, &r, storage);
        assert_false(t.active);

        assert_string_equal(r.mac, "52:54:00:00:00:01");
        assert_int_equal(r.path, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
        assert_int_equal(r.start_usec, 1000);
        assert_int_equal(r.end_usec, 5000);
        assert_int_equal(r.synthetic->rx_packets, 200);
        assert_int_equal(r.synthetic->tx_packets, 190);
        assert_int_equal(r.synthetic->rx_nohandler, 0);         /* 5 before, 5 after */
        /* The VF's last view before it went. */
        assert_int_equal(r.vf->rx_packets, 80);
        assert_int_equal(r.vf->tx_packets, 90);
        assert_int_equal(r.master->rx_packets, 300);
        assert_int_equal(r.handed_over, 42);
        assert_int_equal(r.duplicates_dropped, 1);
        assert_int_equal(r.held_tx, 0);
        assert_int_equal(switch_report_drops(&r), 0);
}

/* An attach: the VF comes during the transition (its counters start at 0);
 * the standby delivered 3 frames to nobody, and the VF dropped 2. */
static void test_report_attach_with_drops(void **state) {
        SwitchTally t;
        Vfo__SwitchReport r;
        Vfo__PathCounters storage[3];
        StandbyHelperCounters h = { .redirected_unicast = 3000, .held_tx = 2500 };
        Netdev start[] = { link_with(SYN, 100, 10, 0, 7), link_with(MASTER, 100, 10, 0, 0) };
        Netdev mid[] = { link_with(SYN, 2000, 2500, 0, 7), link_with(MASTER, 2000, 2500, 0, 0),
                         link_with(VF, 0, 4, 0, 0) };
        Netdev end[] = { link_with(SYN, 3100, 2510, 0, 10), link_with(MASTER, 3400, 2700, 0, 0),
                         link_with(VF, 300, 190, 2, 0) };

        switch_tally_begin(&t, &without_vf, start, ELEMENTSOF(start), 10);
        switch_tally_update(&t, &with_vf, mid, ELEMENTSOF(mid));
        switch_tally_end(&t, &with_vf, end, ELEMENTSOF(end), &h, &(SwitchDrops) {}, "52:54:00:00:00:01", PORT_PATH_VF, 20,
                         &r, storage);

        assert_int_equal(r.path, VFO__PATH_KIND__PATH_KIND_VF);
        assert_int_equal(r.vf->rx_packets, 300);
        assert_int_equal(r.vf->tx_packets, 190);
        assert_int_equal(r.vf->rx_dropped, 2);
        assert_int_equal(r.synthetic->rx_nohandler, 3);
        assert_int_equal(r.held_tx, 2500);
        assert_int_equal(r.handed_over, 3000);
        assert_int_equal(switch_report_drops(&r), 5);
}

/* What no device counts goes to a path's tx_dropped, and the move is lossy:
 * a detach whose VF still had frames queued when it was closed; and what the
 * queue disciplines dropped during the move (fq_codel trims a queue that
 * stood too long, at dequeue). */
static void test_report_uncounted_drops(void **state) {
        SwitchTally t;
        Vfo__SwitchReport r;
        Vfo__PathCounters storage[3];
        StandbyHelperCounters h = {};
        Netdev start[] = { link_with(SYN, 100, 0, 0, 0), link_with(MASTER, 1000, 900, 0, 0),
                           link_with(VF, 900, 900, 0, 0) };
        Netdev end[] = { link_with(SYN, 200, 100, 0, 0), link_with(MASTER, 1200, 1100, 0, 0),
                         link_with(VF, 1000, 1000, 0, 0) };

        switch_tally_begin(&t, &with_vf, start, ELEMENTSOF(start), 10);
        switch_tally_end(&t, &with_vf, end, ELEMENTSOF(end), &h, &(SwitchDrops) { .vf_tx_discarded = 66 },
                         "52:54:00:00:00:01", PORT_PATH_SYNTHETIC, 20, &r, storage);
        assert_int_equal(r.vf->tx_packets, 100);
        assert_int_equal(r.vf->tx_dropped, 66);
        assert_int_equal(r.synthetic->tx_dropped, 0);
        assert_int_equal(switch_report_drops(&r), 66);

        switch_tally_begin(&t, &with_vf, start, ELEMENTSOF(start), 10);
        switch_tally_end(&t, &with_vf, end, ELEMENTSOF(end), &h,
                         &(SwitchDrops) { .vf_tx_discarded = 2, .synthetic_qdisc = 3, .vf_qdisc = 1 },
                         "52:54:00:00:00:01", PORT_PATH_SYNTHETIC, 20, &r, storage);
        assert_int_equal(r.vf->tx_dropped, 3);
        assert_int_equal(r.synthetic->tx_dropped, 3);
        assert_int_equal(switch_report_drops(&r), 6);
}

/* A drop counter followed across reads: what came since the last read; a VF
 * seen for the first time counts from 0, as does a counter that went back;
 * no link, nothing. */
static void test_qdisc_mark(void **state) {
        QdiscMark m;

        qdisc_mark_set(&m, 7, 40);
        assert_int_equal(qdisc_mark_advance(&m, 7, 40), 0);
        assert_int_equal(qdisc_mark_advance(&m, 7, 41), 1);
        assert_int_equal(qdisc_mark_advance(&m, 7, 45), 4);
        assert_int_equal(qdisc_mark_advance(&m, 9, 2), 2);      /* another VF: all of its own */
        assert_int_equal(qdisc_mark_advance(&m, 9, 1), 1);      /* went back: a new qdisc */
        assert_int_equal(qdisc_mark_advance(&m, 0, 5), 0);
        assert_int_equal(qdisc_mark_advance(&m, 9, 1), 0);      /* the last read stays */

        qdisc_mark_set(&m, 0, 99);                              /* no VF at the start (an attach) */
        assert_int_equal(m.drops, 0);
        assert_int_equal(qdisc_mark_advance(&m, 12, 3), 3);
}

/* A VF that came and went (a rollback), then another: both VFs' traffic
 * counts; counters that went back count from 0; the end is never before
 * the start. */
static void test_report_vf_replaced_and_reset(void **state) {
        SwitchTally t;
        Vfo__SwitchReport r;
        Vfo__PathCounters storage[3];
        StandbyHelperCounters h = {};
        Netdev start[] = { link_with(SYN, 500, 500, 0, 0), link_with(MASTER, 500, 500, 0, 0) };
        Netdev first[] = { link_with(SYN, 600, 600, 0, 0), link_with(MASTER, 600, 600, 0, 0),
                           link_with(VF, 10, 20, 0, 0) };
        Netdev gone[] = { link_with(SYN, 700, 700, 0, 0), link_with(MASTER, 700, 700, 0, 0) };
        Netdev second[] = { link_with(SYN, 50, 60, 0, 0), link_with(MASTER, 800, 800, 0, 0),
                            link_with(VF2, 5, 6, 0, 0) };
        DatapathPort second_vf = with_vf;

        second_vf.vf_ifindex = VF2;
        switch_tally_begin(&t, &without_vf, start, ELEMENTSOF(start), 100);
        switch_tally_update(&t, &with_vf, first, ELEMENTSOF(first));
        switch_tally_update(&t, &without_vf, gone, ELEMENTSOF(gone));
        switch_tally_end(&t, &second_vf, second, ELEMENTSOF(second), &h, &(SwitchDrops) {}, "52:54:00:00:00:01", PORT_PATH_VF,
                         50, &r, storage);

        assert_int_equal(r.vf->rx_packets, 15);
        assert_int_equal(r.vf->tx_packets, 26);
        assert_int_equal(r.synthetic->rx_packets, 50);          /* went back: from 0 */
        assert_int_equal(r.start_usec, 100);
        assert_int_equal(r.end_usec, 100);
}

/* Without a tally (the transition began before the agent could read the
 * links), an update does nothing. */
static void test_report_update_inactive(void **state) {
        SwitchTally t = {};
        Netdev l[] = { link_with(VF, 1, 1, 0, 0) };

        switch_tally_update(&t, &with_vf, l, ELEMENTSOF(l));
        assert_false(t.active);
        assert_int_equal(t.vf_ifindex, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_report_detach),
                cmocka_unit_test(test_report_attach_with_drops),
                cmocka_unit_test(test_report_uncounted_drops),
                cmocka_unit_test(test_qdisc_mark),
                cmocka_unit_test(test_report_vf_replaced_and_reset),
                cmocka_unit_test(test_report_update_inactive),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
