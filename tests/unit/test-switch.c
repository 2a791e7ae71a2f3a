/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port switching with a fake datapath and a fake clock: the graceful detach
 * and attach sequences, deadlines, refusals, and acting alone. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/guest/switch.h"
#include "lib/validate.h"
#include "tests/fakes/fake-datapath.h"

#define MAC "52:54:00:77:00:11"
#define T0 (100 * USEC_PER_SEC)

typedef struct Sent {
        Vfo__Envelope__BodyCase body;
        uint64_t id;
        Vfo__ErrorCode error;
        Vfo__PathKind path;
        Vfo__PathChangeReason reason;
        uint32_t announcements;
        char vf_ifname[16];
} Sent;

typedef struct Fixture {
        PortSwitch *s;
        Sent sent[32];
        unsigned n_sent;
        unsigned n_announce;
        unsigned n_begun, n_ended;
        bool helper_on_at_end;          /* the datapath still received on both paths when the counters ended */
} Fixture;

static void on_send(void *userdata, PortSwitch *s, Vfo__Envelope *e) {
        Fixture *f = userdata;
        Sent *x = &f->sent[f->n_sent++ % 32];

        /* Everything the agent sends must pass the host's validation. */
        assert_int_equal(envelope_validate(e, PEER_ROLE_GUEST, NULL, 0) == 0 || e->id == 0, 1);
        *x = (Sent) { .body = e->body_case, .id = e->id };
        if (e->body_case == VFO__ENVELOPE__BODY_ERROR)
                x->error = e->error->code;
        if (e->body_case == VFO__ENVELOPE__BODY_PATH_CHANGED) {
                assert_int_equal(envelope_validate(e, PEER_ROLE_GUEST, NULL, 0), 0);
                x->path = e->path_changed->path;
                x->reason = e->path_changed->reason;
                x->announcements = e->path_changed->announcements;
        }
        if (e->body_case == VFO__ENVELOPE__BODY_ATTACH_READY)
                strcpy(x->vf_ifname, e->attach_ready->vf_ifname);
}

static int on_announce(void *userdata, PortSwitch *s) {
        Fixture *f = userdata;

        f->n_announce++;
        return 2;       /* one GARP, one NA */
}

static void on_transition(void *userdata, PortSwitch *s, bool ended, usec_t now) {
        Fixture *f = userdata;

        if (!ended) {
                f->n_begun++;
                return;
        }
        f->n_ended++;
        f->helper_on_at_end = fake_datapath_log.receive_both;
}

static const SwitchCallbacks callbacks = {
        .send = on_send,
        .announce = on_announce,
        .transition = on_transition,
};

static const DatapathPort with_vf = {
        .kind = PORT_KIND_NET_FAILOVER, .master_ifindex = 2, .synthetic_ifindex = 3, .vf_ifindex = 4, .vf_up = true,
};
static const DatapathPort without_vf = {
        .kind = PORT_KIND_NET_FAILOVER, .master_ifindex = 2, .synthetic_ifindex = 3,
};

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        memset(&fake_datapath_log, 0, sizeof(fake_datapath_log));
        assert_int_equal(port_switch_new(MAC, &with_vf, &callbacks, f, &f->s), 0);
        port_switch_seed(f->s, &with_vf, "eth1", true, PORT_PATH_VF);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        port_switch_free(f->s);
        free(f);
        return 0;
}

static const Sent *last(Fixture *f) {
        assert_true(f->n_sent > 0);
        return &f->sent[(f->n_sent - 1) % 32];
}

static void request(Fixture *f, Vfo__Envelope__BodyCase body, uint64_t id, int arg, usec_t now) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__PrepareDetach pd = VFO__PREPARE_DETACH__INIT;
        Vfo__PrepareAttach pa = VFO__PREPARE_ATTACH__INIT;
        Vfo__SteeringMoved sm = VFO__STEERING_MOVED__INIT;

        e.id = id;
        e.body_case = body;
        pd.mac = pa.mac = sm.mac = (char *) MAC;
        pd.deadline_ms = pa.deadline_ms = (uint32_t) arg;
        sm.path = (Vfo__PathKind) arg;
        e.prepare_detach = &pd;
        if (body == VFO__ENVELOPE__BODY_PREPARE_ATTACH)
                e.prepare_attach = &pa;
        if (body == VFO__ENVELOPE__BODY_STEERING_MOVED)
                e.steering_moved = &sm;
        port_switch_request(f->s, &e, now);
}

/* SteeringMoved{path} saying that the host put a drain marker behind what it
 * sent to the path it left. */
static void steered_with_marker(Fixture *f, uint64_t id, Vfo__PathKind path, usec_t now) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__SteeringMoved sm = VFO__STEERING_MOVED__INIT;

        sm.mac = (char *) MAC;
        sm.path = path;
        sm.drain_marker = true;
        e.id = id;
        e.body_case = VFO__ENVELOPE__BODY_STEERING_MOVED;
        e.steering_moved = &sm;
        port_switch_request(f->s, &e, now);
}

/* SteeringMoved{VF} with a drain marker: the standby delivers until the
 * helper has seen the marker (polled), or for at most
 * SWITCH_DRAIN_MARKER_MAX_USEC; a marker that came before the request
 * counts too. */
static void test_switch_attach_drain_marker(void **state) {
        Fixture *f = *state;

        port_switch_seed(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC);
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 3, 20000, T0);
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 1000);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_READY);

        steered_with_marker(f, 4, VFO__PATH_KIND__PATH_KIND_VF, T0 + 2000);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_DRAINING);
        assert_true(port_switch_awaits_marker(f->s));
        assert_int_equal(f->s->deadline, T0 + 2000 + SWITCH_DRAIN_MARKER_MAX_USEC);

        /* Past the fixed drain, no marker yet: the standby still delivers. */
        port_switch_poll(f->s, T0 + 2000 + SWITCH_DRAIN_USEC);
        port_switch_timeout(f->s, T0 + 2000 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_DRAINING);
        assert_true(fake_datapath_log.receive_both);

        fake_datapath_log.counters.markers = 1;
        port_switch_poll(f->s, T0 + 2000 + 300000);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_false(fake_datapath_log.receive_both);
        assert_false(port_switch_awaits_marker(f->s));
        fake_datapath_log.counters.markers = 0;

        /* Without the marker, the drain ends at its deadline. */
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 5, 5000, T0 + 400000);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 6, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 401000);
        port_switch_timeout(f->s, T0 + 401000 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0 + 500000);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 7, 20000, T0 + 600000);
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 700000);
        /* A marker that the helper saw before the request is this transition's. */
        fake_datapath_log.counters.markers = 1;
        steered_with_marker(f, 4, VFO__PATH_KIND__PATH_KIND_VF, T0 + 800000);
        assert_true(port_switch_awaits_marker(f->s));
        port_switch_poll(f->s, T0 + 800000);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        fake_datapath_log.counters.markers = 0;

        /* Without the flag, the fixed drain as before. */
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 8, 5000, T0 + 900000);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 9, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 901000);
        port_switch_timeout(f->s, T0 + 901000 + SWITCH_DRAIN_USEC);
        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0 + 1000000);
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 10, 20000, T0 + 1100000);
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 1200000);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 11, VFO__PATH_KIND__PATH_KIND_VF, T0 + 1300000);
        assert_false(port_switch_awaits_marker(f->s));
        assert_int_equal(f->s->deadline, T0 + 1300000 + SWITCH_DRAIN_USEC);
}

/* SteeringMoved{SYNTHETIC} with a drain marker (behind what the host sent to
 * the VF): the VF stays up and transmitting until the marker came through it
 * (markers_vf; a standby marker is not it), or for at most
 * SWITCH_DRAIN_MARKER_MAX_USEC; without a helper to see it, the fixed drain. */
static void test_switch_detach_drain_marker(void **state) {
        Fixture *f = *state;

        port_switch_seed(f->s, &with_vf, "eth1", true, PORT_PATH_VF);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 3, 5000, T0);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_PREPARED);

        steered_with_marker(f, 4, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 1000);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        assert_true(port_switch_awaits_marker(f->s));
        assert_int_equal(f->s->deadline, T0 + 1000 + SWITCH_DRAIN_MARKER_MAX_USEC);

        /* Past the fixed drain, no marker yet; the standby's marker is an attach's. */
        fake_datapath_log.counters.markers = 1;
        port_switch_poll(f->s, T0 + 1000 + SWITCH_DRAIN_USEC);
        port_switch_timeout(f->s, T0 + 1000 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        assert_null(strchr(fake_datapath_log.calls, 'S'));     /* transmit has not moved */

        fake_datapath_log.counters.markers_vf = 1;
        port_switch_poll(f->s, T0 + 1000 + 400000);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        assert_int_equal(fake_datapath_log.transmit, PORT_PATH_SYNTHETIC);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_PATH_CHANGED);
        assert_int_equal(last(f)->id, 4);
        assert_false(port_switch_awaits_marker(f->s));
        fake_datapath_log.counters = (StandbyHelperCounters) {};
        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0 + 500000);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);

        /* No marker: the VF goes down at SWITCH_DRAIN_MARKER_MAX_USEC. */
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 600000);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 5, 5000, T0 + 700000);
        steered_with_marker(f, 6, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 701000);
        port_switch_timeout(f->s, T0 + 701000 + SWITCH_DRAIN_MARKER_MAX_USEC - 1);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        port_switch_timeout(f->s, T0 + 701000 + SWITCH_DRAIN_MARKER_MAX_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        assert_int_equal(last(f)->id, 6);
        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0 + 3000000);

        /* A datapath whose helper cannot see markers (netvsc): the fixed drain. */
        fake_datapath_log.no_markers = true;
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 3100000);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 7, 5000, T0 + 3200000);
        steered_with_marker(f, 8, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 3201000);
        assert_false(port_switch_awaits_marker(f->s));
        assert_int_equal(f->s->deadline, T0 + 3201000 + SWITCH_DRAIN_USEC);
}

/* The drain ended with frames still in the VF's transmit queue (its
 * completions lag under load): transmit is held on the standby, so the queue
 * only empties, and the VF is closed once it is empty, or at
 * SWITCH_FLUSH_MAX_USEC; nothing waits when the queue is empty. */
static void test_switch_detach_flushes_vf_queue(void **state) {
        Fixture *f = *state;

        port_switch_seed(f->s, &with_vf, "eth1", true, PORT_PATH_VF);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 3, 5000, T0);
        steered_with_marker(f, 4, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 1000);
        assert_false(fake_datapath_log.hold_transmit);          /* not while the VF drains */

        fake_datapath_log.vf_tx_queued = 161;
        fake_datapath_log.counters.markers_vf = 1;
        port_switch_poll(f->s, T0 + 50000);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        assert_true(port_switch_polls(f->s));
        assert_false(port_switch_awaits_marker(f->s));
        assert_true(fake_datapath_log.hold_transmit);           /* nothing new enters the VF's queue */
        assert_null(strchr(fake_datapath_log.calls, 'S'));      /* the VF is still up */
        assert_int_equal(f->s->deadline, T0 + 50000 + SWITCH_FLUSH_MAX_USEC);

        fake_datapath_log.vf_tx_queued = 20;
        port_switch_poll(f->s, T0 + 55000);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);

        fake_datapath_log.vf_tx_queued = 0;
        port_switch_poll(f->s, T0 + 60000);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        assert_int_equal(fake_datapath_log.transmit, PORT_PATH_SYNTHETIC);
        assert_false(fake_datapath_log.hold_transmit);          /* the VF is down */
        assert_false(port_switch_polls(f->s));
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_PATH_CHANGED);
        assert_int_equal(last(f)->id, 4);
        fake_datapath_log.counters = (StandbyHelperCounters) {};
        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0 + 500000);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);

        /* A queue that does not empty: closed at the flush's deadline. */
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 600000);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 5, 5000, T0 + 700000);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 6, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 701000);
        fake_datapath_log.vf_tx_queued = 7;
        port_switch_timeout(f->s, T0 + 701000 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        port_switch_poll(f->s, T0 + 701000 + SWITCH_DRAIN_USEC + SWITCH_FLUSH_MAX_USEC - 1);
        port_switch_timeout(f->s, T0 + 701000 + SWITCH_DRAIN_USEC + SWITCH_FLUSH_MAX_USEC - 1);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        port_switch_timeout(f->s, T0 + 701000 + SWITCH_DRAIN_USEC + SWITCH_FLUSH_MAX_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        assert_int_equal(last(f)->id, 6);
        assert_false(fake_datapath_log.hold_transmit);
        fake_datapath_log.counters = (StandbyHelperCounters) {};
        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0 + 4000000);

        /* A queue that stops shrinking: closed after SWITCH_FLUSH_STALL_POLLS
         * polls without progress, long before the deadline; one that shrinks
         * is waited for. Polls, not time: a guest its host did not run polls
         * once after a long gap, and that alone does not end the flush. */
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 5000000);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 7, 5000, T0 + 5100000);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 8, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 5101000);
        fake_datapath_log.vf_tx_queued = 30;
        port_switch_timeout(f->s, T0 + 5101000 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        port_switch_poll(f->s, T0 + 5101000 + SWITCH_DRAIN_USEC + SWITCH_FLUSH_MAX_USEC - 1); /* one late poll */
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        for (unsigned i = 0; i < 3 * SWITCH_FLUSH_STALL_POLLS; i++) {
                fake_datapath_log.vf_tx_queued = 29 - i / (SWITCH_FLUSH_STALL_POLLS - 1) % 30;  /* shrinks now and then */
                port_switch_poll(f->s, T0 + 5101000 + SWITCH_DRAIN_USEC + SWITCH_FLUSH_MAX_USEC - 1);
                assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        }
        fake_datapath_log.vf_tx_queued = 12;
        for (unsigned i = 0; i <= SWITCH_FLUSH_STALL_POLLS; i++) {
                assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
                port_switch_poll(f->s, T0 + 5101000 + SWITCH_DRAIN_USEC + SWITCH_FLUSH_MAX_USEC - 1);
        }
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        assert_int_equal(last(f)->id, 8);
        assert_false(fake_datapath_log.hold_transmit);
}

/* The queue is looked at with transmit already held on the standby: nothing
 * can enter it between the look and the close. Found empty, the VF closes at
 * once and the move releases the hold. */
static void test_switch_detach_looks_at_queue_held(void **state) {
        Fixture *f = *state;
        const char *h, *t;

        port_switch_seed(f->s, &with_vf, "eth1", true, PORT_PATH_VF);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 3, 5000, T0);
        steered_with_marker(f, 4, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 1000);
        assert_false(fake_datapath_log.hold_transmit);
        fake_datapath_log.counters.markers_vf = 1;
        port_switch_poll(f->s, T0 + 50000);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        assert_true(fake_datapath_log.vf_tx_queued_read_held);
        h = strchr(fake_datapath_log.calls, 'H');
        t = strrchr(fake_datapath_log.calls, 'S');
        assert_non_null(h);
        assert_non_null(t);
        assert_true(h < t);                                     /* held, then the VF closed */
        assert_non_null(strchr(t, 'h'));                        /* and released */
        assert_false(fake_datapath_log.hold_transmit);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_PATH_CHANGED);
        assert_int_equal(last(f)->id, 4);
}

static void test_switch_graceful_detach(void **state) {
        Fixture *f = *state;

        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 1, 5000, T0);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_PREPARED);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_DETACH_READY);
        assert_int_equal(last(f)->id, 1);
        assert_true(fake_datapath_log.receive_both);
        assert_false(fake_datapath_log.helper_multicast);       /* the VF still receives broadcast */
        assert_int_equal(f->s->deadline, T0 + 5 * USEC_PER_SEC);
        assert_int_equal(f->n_announce, 0);                     /* transmit has not moved */

        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 2, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 1000);
        /* Frames already sent to the VF still come in: transmit waits, and is
         * not held on the standby meanwhile (tried: guests stalled, see
         * vfo-agent(8)). */
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_DETACH_READY);
        assert_false(fake_datapath_log.hold_transmit);
        assert_int_equal(f->s->deadline, T0 + 1000 + SWITCH_DRAIN_USEC);
        port_switch_timeout(f->s, T0 + 1000 + SWITCH_DRAIN_USEC - 1);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_DRAINING);
        port_switch_timeout(f->s, T0 + 1000 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        assert_int_equal(fake_datapath_log.transmit, PORT_PATH_SYNTHETIC);
        assert_true(fake_datapath_log.helper_multicast);        /* the VF is down now */
        assert_int_equal(f->n_announce, 1);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_PATH_CHANGED);
        assert_int_equal(last(f)->id, 2);
        assert_int_equal(last(f)->path, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
        assert_int_equal(last(f)->reason, VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_REQUESTED);
        assert_int_equal(last(f)->announcements, 2);
        assert_int_equal(f->s->deadline, USEC_INFINITY);
        assert_true(fake_datapath_log.receive_both);            /* until the VF is gone */

        f->n_sent = 0;
        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0 + 300000);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_false(fake_datapath_log.receive_both);
        assert_int_equal(f->n_sent, 0);                         /* expected: nothing to report */
        /* helper on, VF receives; at the drain's end transmit held on the
         * standby while the VF's queue is looked at; broadcast handed over
         * *before* the VF goes down (it stops receiving long before the call
         * returns), transmit synthetic, the hold released, the VF's path
         * drained and still handed over once DETACHED; VF gone: nothing to
         * hand over; helper off */
        assert_string_equal(fake_datapath_log.calls, "BMHmShDmMN");
}

static void expect_replay_full(Fixture *f, uint64_t id, uint32_t window_ms, uint32_t prepare_ms, usec_t now) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__ExpectReplay er = VFO__EXPECT_REPLAY__INIT;

        er.mac = (char *) MAC;
        er.window_ms = window_ms;
        er.prepare_ms = prepare_ms;
        e.id = id;
        e.body_case = VFO__ENVELOPE__BODY_EXPECT_REPLAY;
        e.expect_replay = &er;
        assert_int_equal(envelope_validate(&e, PEER_ROLE_HOST, NULL, 0), 0);
        port_switch_request(f->s, &e, now);
}

static void expect_replay(Fixture *f, uint64_t id, uint32_t window_ms, usec_t now) {
        expect_replay_full(f, id, window_ms, 0, now);
}

/* ExpectReplay (a migration's handover): the datapath's replay window, outside
 * transitions only, answered with ReplayExpected; refusals are named errors. */
static void test_switch_expect_replay(void **state) {
        Fixture *f = *state;

        port_switch_seed(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC);
        /* readied while the first pass runs, then the window */
        expect_replay_full(f, 9, 0, 30000, T0 - 1000);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_REPLAY_EXPECTED);
        assert_int_equal(fake_datapath_log.replay_prepare, 30 * USEC_PER_SEC);
        assert_int_equal(fake_datapath_log.replay_window, 0);
        expect_replay(f, 1, 2000, T0);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_REPLAY_EXPECTED);
        assert_int_equal(last(f)->id, 1);
        assert_int_equal(fake_datapath_log.replay_window, 2 * USEC_PER_SEC);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        expect_replay(f, 2, 0, T0 + 1000);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_REPLAY_EXPECTED);
        assert_int_equal(fake_datapath_log.replay_window, 0);

        /* the datapath cannot (netvsc), or is busy */
        fake_datapath_log.fail_replay = -EOPNOTSUPP;
        expect_replay(f, 3, 2000, T0 + 2000);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_ERROR);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_UNSUPPORTED);
        fake_datapath_log.fail_replay = -EBUSY;
        expect_replay(f, 4, 2000, T0 + 3000);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_BUSY);
        fake_datapath_log.fail_replay = -ENOMEM;
        expect_replay(f, 5, 2000, T0 + 4000);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_INTERNAL);
        fake_datapath_log.fail_replay = 0;

        /* not while a transition runs; closing always works */
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 6, 5000, T0 + 5000);
        assert_int_not_equal(f->s->state, SWITCH_STATE_IDLE);
        expect_replay(f, 7, 2000, T0 + 6000);
        assert_int_equal(last(f)->id, 7);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_BUSY);
        expect_replay(f, 8, 0, T0 + 7000);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_REPLAY_EXPECTED);
        assert_string_equal(fake_datapath_log.calls, "PRrRRRBMHr");
}

static void test_switch_graceful_attach(void **state) {
        Fixture *f = *state;
        DatapathPort vf_no_carrier = with_vf;

        port_switch_seed(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC);

        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 3, 20000, T0);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_PREPARED);
        assert_int_equal(f->n_sent, 0);                         /* AttachReady waits for the VF */
        assert_true(fake_datapath_log.receive_both);
        /* No VF registered: the standby delivers broadcast itself. */
        assert_false(fake_datapath_log.helper_multicast);
        /* Transmit is held on the synthetic path until the host steers to the VF. */
        assert_true(fake_datapath_log.hold_transmit);

        /* The VF appears; carrier comes ~2.5 s later (measured in the lab under TCG). */
        port_switch_update(f->s, &vf_no_carrier, "eth1", false, PORT_PATH_SYNTHETIC, T0 + 200000);
        assert_int_equal(f->n_sent, 0);
        /* Up, even without carrier yet, the VF receives broadcast itself. */
        assert_false(fake_datapath_log.helper_multicast);
        /* Nor while the kernel opens it (the agent's view lags behind). */
        vf_no_carrier.vf_up = false;
        port_switch_update(f->s, &vf_no_carrier, "eth1", false, PORT_PATH_SYNTHETIC, T0 + 300000);
        assert_false(fake_datapath_log.helper_multicast);
        vf_no_carrier.vf_up = true;
        port_switch_update(f->s, &vf_no_carrier, "eth1", false, PORT_PATH_SYNTHETIC, T0 + 400000);
        assert_false(fake_datapath_log.helper_multicast);
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0 + 2700000);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_READY);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_ATTACH_READY);
        assert_int_equal(last(f)->id, 3);
        assert_string_equal(last(f)->vf_ifname, "eth1");
        assert_false(fake_datapath_log.helper_multicast);
        assert_true(fake_datapath_log.receive_both);            /* until steering moved */
        assert_true(fake_datapath_log.hold_transmit);           /* the VF has carrier, the host still steers to the standby */

        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 4, VFO__PATH_KIND__PATH_KIND_VF, T0 + 2800000);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_DRAINING);
        assert_int_equal(fake_datapath_log.transmit, PORT_PATH_VF);
        assert_false(fake_datapath_log.hold_transmit);          /* released as transmit moves */
        /* The standby keeps delivering what was already sent to it. */
        assert_true(fake_datapath_log.receive_both);
        assert_int_equal(f->n_begun, 1);
        assert_int_equal(f->n_ended, 0);
        port_switch_timeout(f->s, T0 + 2800000 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_false(fake_datapath_log.receive_both);
        /* The loss accounting ended before the helper went off: after it the
         * standby drops its copies of broadcast, which the VF delivers. */
        assert_int_equal(f->n_ended, 1);
        assert_true(f->helper_on_at_end);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_PATH_CHANGED);
        assert_int_equal(last(f)->id, 4);
        assert_int_equal(last(f)->path, VFO__PATH_KIND__PATH_KIND_VF);
        assert_int_equal(f->n_announce, 1);
}

static void test_switch_prepare_attach_with_vf_present(void **state) {
        Fixture *f = *state;

        /* A VF already up: AttachReady at once. */
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 5, 1000, T0);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_READY);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_ATTACH_READY);
        assert_int_equal(last(f)->id, 5);
}

static void test_switch_detach_deadline_rolls_back(void **state) {
        Fixture *f = *state;

        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 1, 1000, T0);
        port_switch_timeout(f->s, T0 + 999999);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_PREPARED);
        port_switch_timeout(f->s, T0 + 1000000);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_false(fake_datapath_log.receive_both);
        assert_int_equal(f->s->deadline, USEC_INFINITY);
        assert_int_equal(port_switch_active_path(f->s), PORT_PATH_VF);  /* never left the VF */
}

/* The datapath's own timer (a deduplication outliving its transition) is part of the next
 * timeout, and port_switch_timeout() runs it, idle or not. */
static void test_switch_datapath_timer(void **state) {
        Fixture *f = *state;

        assert_int_equal(port_switch_next_timeout(f->s), USEC_INFINITY);
        fake_datapath_log.linger_until = T0 + 2 * USEC_PER_SEC;
        assert_int_equal(port_switch_next_timeout(f->s), T0 + 2 * USEC_PER_SEC);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 1, 1000, T0);
        assert_int_equal(port_switch_next_timeout(f->s), T0 + USEC_PER_SEC);    /* the deadline first */
        port_switch_timeout(f->s, T0 + USEC_PER_SEC);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_int_equal(fake_datapath_log.expired, 0);
        assert_int_equal(port_switch_next_timeout(f->s), T0 + 2 * USEC_PER_SEC);
        port_switch_timeout(f->s, T0 + 2 * USEC_PER_SEC - 1);
        assert_int_equal(fake_datapath_log.expired, 0);
        port_switch_timeout(f->s, T0 + 2 * USEC_PER_SEC);
        assert_int_equal(fake_datapath_log.expired, 1);
        assert_int_equal(port_switch_next_timeout(f->s), USEC_INFINITY);
}

static void test_switch_attach_deadline_reports_timeout(void **state) {
        Fixture *f = *state;

        port_switch_seed(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC);
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 7, 2000, T0);
        port_switch_timeout(f->s, T0 + 2 * USEC_PER_SEC);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_ERROR);
        assert_int_equal(last(f)->id, 7);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_TIMEOUT);
        assert_false(fake_datapath_log.receive_both);
}

static void test_switch_refusals(void **state) {
        Fixture *f = *state;

        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 1, 5000, T0);
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 2, 5000, T0);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_BUSY);
        assert_int_equal(last(f)->id, 2);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACH_PREPARED);

        /* The host retries PrepareDetach: same answer, same deadline. */
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 3, 9000, T0 + 10);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_DETACH_READY);
        assert_int_equal(last(f)->id, 3);

        /* Steering to a VF that has no carrier yet is refused, not busy. */
        port_switch_timeout(f->s, USEC_INFINITY - 1);
        port_switch_seed(f->s, &with_vf, "eth1", false, PORT_PATH_SYNTHETIC);
        request(f, VFO__ENVELOPE__BODY_PREPARE_ATTACH, 6, 5000, T0);
        assert_int_equal(f->s->state, SWITCH_STATE_ATTACH_PREPARED);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 7, VFO__PATH_KIND__PATH_KIND_VF, T0);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_INVALID_STATE);
        assert_int_equal(last(f)->id, 7);

        port_switch_seed(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC);
        port_switch_timeout(f->s, USEC_INFINITY - 1);
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 4, 5000, T0);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_INVALID_STATE);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 5, VFO__PATH_KIND__PATH_KIND_VF, T0);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_INVALID_STATE);
}

static void test_switch_surprise_removal(void **state) {
        Fixture *f = *state;

        port_switch_update(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC, T0);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_int_equal(f->n_announce, 1);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_PATH_CHANGED);
        assert_int_equal(last(f)->id, 0);
        assert_int_equal(last(f)->reason, VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_REMOVED);
        assert_int_equal(last(f)->path, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
}

static void test_switch_unrequested_vf(void **state) {
        Fixture *f = *state;

        port_switch_seed(f->s, &without_vf, NULL, false, PORT_PATH_SYNTHETIC);
        port_switch_update(f->s, &with_vf, "eth1", true, PORT_PATH_VF, T0);
        assert_int_equal(last(f)->reason, VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_APPEARED);
        assert_int_equal(last(f)->path, VFO__PATH_KIND__PATH_KIND_VF);
        assert_int_equal(f->n_announce, 1);

        /* Losing carrier is reported too. */
        port_switch_update(f->s, &with_vf, "eth1", false, PORT_PATH_SYNTHETIC, T0 + 1);
        assert_int_equal(last(f)->reason, VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_LINK_LOST);
}

static void test_switch_driver_failure_rolls_back(void **state) {
        Fixture *f = *state;

        fake_datapath_log.fail_receive_both = -EOPNOTSUPP;
        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 9, 5000, T0);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_int_equal(last(f)->body, VFO__ENVELOPE__BODY_ERROR);
        assert_int_equal(last(f)->id, 9);
        assert_int_equal(last(f)->error, VFO__ERROR_CODE__ERROR_CODE_INTERNAL);
}

static void test_switch_unplug_failed_host_steers_back(void **state) {
        Fixture *f = *state;

        request(f, VFO__ENVELOPE__BODY_PREPARE_DETACH, 1, 5000, T0);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 2, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, T0 + 1);
        port_switch_timeout(f->s, T0 + 1 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_DETACHED);
        request(f, VFO__ENVELOPE__BODY_STEERING_MOVED, 3, VFO__PATH_KIND__PATH_KIND_VF, T0 + 2 + SWITCH_DRAIN_USEC);
        assert_int_equal(f->s->state, SWITCH_STATE_IDLE);
        assert_int_equal(fake_datapath_log.transmit, PORT_PATH_VF);
        assert_int_equal(last(f)->path, VFO__PATH_KIND__PATH_KIND_VF);
        assert_false(fake_datapath_log.receive_both);
}

static void test_switch_state_table(void **state) {
        for (int s = 0; s < _SWITCH_STATE_MAX; s++) {
                assert_int_equal(switch_state_from_string(switch_state_to_string((SwitchState) s)), s);
                /* Every state answers every event, with a state or a refusal. */
                for (int e = 0; e < _SWITCH_EVENT_MAX; e++) {
                        SwitchState n = switch_state_next((SwitchState) s, (SwitchEvent) e);

                        assert_non_null(switch_event_to_string((SwitchEvent) e));
                        assert_true(n == _SWITCH_STATE_INVALID || (n >= 0 && n < _SWITCH_STATE_MAX));
                }
                /* A deadline always ends a timed state. */
                if (s == SWITCH_STATE_DETACH_PREPARED || s == SWITCH_STATE_ATTACH_PREPARED ||
                    s == SWITCH_STATE_ATTACH_READY || s == SWITCH_STATE_ATTACH_DRAINING)
                        assert_int_equal(switch_state_next((SwitchState) s, SWITCH_EVENT_DEADLINE), SWITCH_STATE_IDLE);
        }
        assert_int_equal(switch_state_next(SWITCH_STATE_DETACH_PREPARED, SWITCH_EVENT_STEERED_SYNTHETIC),
                         SWITCH_STATE_DETACH_DRAINING);
        assert_int_equal(switch_state_next(SWITCH_STATE_DETACH_DRAINING, SWITCH_EVENT_DEADLINE), SWITCH_STATE_DETACHED);
        assert_int_equal(switch_state_next(SWITCH_STATE_ATTACH_PREPARED, SWITCH_EVENT_STEERED_VF),
                         _SWITCH_STATE_INVALID);
        assert_int_equal(switch_state_from_string("bogus"), _SWITCH_STATE_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_switch_attach_drain_marker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_detach_drain_marker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_detach_flushes_vf_queue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_detach_looks_at_queue_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_graceful_detach, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_graceful_attach, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_prepare_attach_with_vf_present, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_detach_deadline_rolls_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_attach_deadline_reports_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_surprise_removal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_unrequested_vf, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_driver_failure_rolls_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_unplug_failed_host_steers_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_datapath_timer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_switch_expect_replay, setup, teardown),
                cmocka_unit_test(test_switch_state_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
