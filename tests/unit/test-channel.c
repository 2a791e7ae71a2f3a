/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Protocol sessions end to end: a host and a guest Channel wired back to back. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/channel.h"
#include "tests/unit/proto-builders.h"

#define NONCE 0xfeedULL

typedef struct Fixture {
        Channel *host;
        Channel *guest;
        usec_t now;
} Fixture;

typedef struct Events {
        unsigned n[_CHANNEL_EVENT_MAX];
        Vfo__Envelope__BodyCase last_body;
        uint64_t last_id;
} Events;

static const Vfo__Capability guest_caps[] = {
        VFO__CAPABILITY__CAPABILITY_NET_FAILOVER,
        VFO__CAPABILITY__CAPABILITY_STANDBY_RX_HELPER,
};

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        ChannelConfig host = {
                .role = PEER_ROLE_HOST,
                .rate_interval = USEC_PER_SEC,
                .rate_burst = 50,
                .version = "host-1",
        };
        ChannelConfig guest = {
                .role = PEER_ROLE_GUEST,
                .rate_interval = USEC_PER_SEC,
                .rate_burst = 50,
                .version = "agent-1",
                .capabilities = guest_caps,
                .n_capabilities = ELEMENTSOF(guest_caps),
        };

        assert_non_null(f);
        assert_int_equal(channel_new(&host, &f->host), 0);
        assert_int_equal(channel_new(&guest, &f->guest), 0);
        f->now = 10 * USEC_PER_SEC;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        channel_free(f->host);
        channel_free(f->guest);
        free(f);
        return 0;
}

/* Feeds raw bytes into 'to', in chunks of 'chunk', and counts the events. */
static void feed(Channel *to, const uint8_t *data, size_t n, size_t chunk, usec_t now, Events *ev) {
        for (size_t off = 0; off < n;) {
                size_t k = MIN(chunk, n - off);

                while (k > 0) {
                        ChannelEvent e;
                        size_t consumed;

                        assert_int_equal(channel_feed(to, data + off, k, now, &consumed, &e), 0);
                        off += consumed;
                        k -= consumed;
                        assert_true(e.type >= 0 && e.type < _CHANNEL_EVENT_MAX);
                        ev->n[e.type]++;
                        if (e.type == CHANNEL_EVENT_MESSAGE) {
                                ev->last_body = e.message->body_case;
                                ev->last_id = e.message->id;
                                envelope_free(e.message);
                        }
                }
        }
}

/* Moves everything queued in 'from' into 'to'. */
static void pump(Channel *from, Channel *to, usec_t now, Events *ev) {
        const uint8_t *out;
        uint8_t *copy;
        size_t n;

        out = channel_output(from, &n);
        if (n == 0)
                return;
        copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, out, n);
        channel_output_advance(from, n);
        feed(to, copy, n, n, now, ev);
        free(copy);
}

static void handshake(Fixture *f) {
        Events hev = { 0 }, gev = { 0 };

        assert_int_equal(channel_reset(f->host, NONCE), 0);
        assert_int_equal(channel_reset(f->guest, 0), 0);
        pump(f->host, f->guest, f->now, &gev);
        pump(f->guest, f->host, f->now, &hev);
        assert_int_equal(gev.n[CHANNEL_EVENT_SYNCED], 1);
        assert_int_equal(hev.n[CHANNEL_EVENT_SYNCED], 1);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_READY);
        assert_int_equal(channel_get_state(f->guest), CHANNEL_STATE_READY);
}

static void send_msg(Channel *c, Vfo__Envelope__BodyCase body, uint64_t id) {
        TestMessage m;

        assert_int_equal(channel_send(c, test_message_init(&m, body, id)), 0);
}

/* A host of protocol version 1 (before SwitchReport): the guest speaks 1. */
static void test_channel_old_host(void **state) {
        Fixture *f = *state;
        Events ev = { 0 };
        TestMessage m;
        uint8_t buf[256];
        size_t n;

        assert_int_equal(channel_reset(f->guest, 0), 0);
        test_message_init(&m, VFO__ENVELOPE__BODY_SYNC, 0x1234);
        m.sync.protocol_version = 1;
        n = test_frame(&m.envelope, true, buf, sizeof(buf));
        feed(f->guest, buf, n, n, f->now, &ev);
        assert_int_equal(ev.n[CHANNEL_EVENT_SYNCED], 1);
        assert_int_equal(channel_get_peer_protocol(f->guest), 1);
        assert_string_equal(channel_get_peer_version(f->guest), "0.1");
}

static void test_channel_handshake_and_requests(void **state) {
        Fixture *f = *state;
        Events ev = { 0 };

        handshake(f);
        assert_string_equal(channel_get_peer_version(f->host), "agent-1");
        assert_int_equal(channel_get_peer_protocol(f->host), VFO_PROTOCOL_VERSION);
        /* The guest knows the host's too: it sends SwitchReport only to a host of version 2. */
        assert_string_equal(channel_get_peer_version(f->guest), "host-1");
        assert_int_equal(channel_get_peer_protocol(f->guest), VFO_PROTOCOL_VERSION);
        assert_true(channel_peer_has_capability(f->host, VFO__CAPABILITY__CAPABILITY_STANDBY_RX_HELPER));
        assert_false(channel_peer_has_capability(f->host, VFO__CAPABILITY__CAPABILITY_BONDING));

        send_msg(f->host, VFO__ENVELOPE__BODY_PREPARE_DETACH, 42);
        pump(f->host, f->guest, f->now, &ev);
        assert_int_equal(ev.n[CHANNEL_EVENT_MESSAGE], 1);
        assert_int_equal(ev.last_body, VFO__ENVELOPE__BODY_PREPARE_DETACH);
        assert_int_equal(ev.last_id, 42);

        memset(&ev, 0, sizeof(ev));
        send_msg(f->guest, VFO__ENVELOPE__BODY_PATH_CHANGED, 0);
        pump(f->guest, f->host, f->now, &ev);
        assert_int_equal(ev.n[CHANNEL_EVENT_MESSAGE], 1);
        assert_int_equal(ev.last_body, VFO__ENVELOPE__BODY_PATH_CHANGED);
}

static void test_channel_send_checks_state_and_content(void **state) {
        Fixture *f = *state;
        TestMessage m;

        /* Nothing but errors before the session is up. */
        assert_int_equal(channel_send(f->host, test_message_init(&m, VFO__ENVELOPE__BODY_PREPARE_DETACH, 1)), -EAGAIN);
        assert_int_equal(channel_send(f->host, test_message_init(&m, VFO__ENVELOPE__BODY_ERROR, 1)), 0);

        handshake(f);
        test_message_init(&m, VFO__ENVELOPE__BODY_PREPARE_DETACH, 1);
        m.prepare_detach.mac = (char *) "not a mac";
        assert_int_equal(channel_send(f->host, &m.envelope), -EBADMSG);
        /* A guest message the host may not send. */
        assert_int_equal(channel_send(f->host, test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 1)), -EBADMSG);
}

static void test_channel_split_frames_one_byte_at_a_time(void **state) {
        Fixture *f = *state;
        Events ev = { 0 };
        const uint8_t *out;
        size_t n;

        handshake(f);
        for (uint64_t id = 1; id <= 5; id++)
                send_msg(f->host, VFO__ENVELOPE__BODY_STEERING_MOVED, id);
        out = channel_output(f->host, &n);
        feed(f->guest, out, n, 1, f->now, &ev);
        channel_output_advance(f->host, n);
        assert_int_equal(ev.n[CHANNEL_EVENT_MESSAGE], 5);
        assert_int_equal(ev.last_id, 5);
}

static void test_channel_stale_bytes_and_wrong_nonce(void **state) {
        Fixture *f = *state;
        uint8_t stale[1024];
        size_t n = 0;
        Events ev = { 0 };
        TestMessage m;

        assert_int_equal(channel_reset(f->host, NONCE), 0);

        /* What an earlier session left in the stream: half a frame, a reply
         * to an older Sync, and a well-formed event. */
        stale[n++] = 0x00;
        stale[n++] = 0x00;
        stale[n++] = 0x13;
        test_message_init(&m, VFO__ENVELOPE__BODY_SYNC_REPLY, 3);
        m.sync_reply.nonce = NONCE - 1;
        n += test_frame(&m.envelope, true, stale + n, sizeof(stale) - n);
        n += test_frame(test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 0), false, stale + n,
                        sizeof(stale) - n);
        feed(f->host, stale, n, 7, f->now, &ev);

        assert_int_equal(ev.n[CHANNEL_EVENT_SYNCED], 0);
        assert_int_equal(ev.n[CHANNEL_EVENT_MESSAGE], 0);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_SYNCING);
        assert_int_equal(channel_get_counters(f->host)->discarded_frames, 2);
        assert_int_equal(channel_get_counters(f->host)->protocol_errors, 0);

        /* The real reply still completes the session. */
        pump(f->host, f->guest, f->now, &ev);
        pump(f->guest, f->host, f->now, &ev);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_READY);
}

static void test_channel_10mb_garbage_before_sync(void **state) {
        Fixture *f = *state;
        size_t garbage = 10 * 1024 * 1024, n;
        const uint8_t *sync;
        uint8_t *buf;
        uint32_t x = 1;
        Events ev = { 0 };

        assert_int_equal(channel_reset(f->host, NONCE), 0);
        assert_int_equal(channel_reset(f->guest, 0), 0);
        sync = channel_output(f->host, &n);

        buf = malloc(garbage + n);
        assert_non_null(buf);
        for (size_t i = 0; i < garbage; i++) {
                x = x * 1664525 + 1013904223;
                buf[i] = (uint8_t) (x >> 24);
        }
        buf[garbage - 1] = 0;
        memcpy(buf + garbage, sync, n);
        channel_output_advance(f->host, n);

        feed(f->guest, buf, garbage + n, 4096, f->now, &ev);
        free(buf);

        assert_int_equal(ev.n[CHANNEL_EVENT_SYNCED], 1);
        assert_true(channel_get_counters(f->guest)->discarded_bytes >= garbage - 64 * 1024);
        pump(f->guest, f->host, f->now, &ev);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_READY);
}

/* A bad message from the guest ends the session; the host says why and
 * resyncs with a new nonce; afterwards requests flow again. */
static void test_channel_bad_guest_message_resyncs(void **state) {
        Fixture *f = *state;
        uint8_t buf[512];
        size_t n;
        Events hev = { 0 }, gev = { 0 };
        TestMessage m;

        handshake(f);

        test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 0);
        m.path_changed.path = (Vfo__PathKind) 7;                /* unknown enum value */
        n = test_frame(&m.envelope, false, buf, sizeof(buf));
        feed(f->host, buf, n, n, f->now, &hev);
        assert_int_equal(hev.n[CHANNEL_EVENT_LOST], 1);
        assert_int_equal(hev.n[CHANNEL_EVENT_MESSAGE], 0);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_SYNCING);
        assert_int_equal(channel_get_counters(f->host)->protocol_errors, 1);

        /* The guest gets Error{PROTOCOL} and the new Sync. */
        pump(f->host, f->guest, f->now, &gev);
        assert_int_equal(gev.n[CHANNEL_EVENT_MESSAGE], 1);
        assert_int_equal(gev.last_body, VFO__ENVELOPE__BODY_ERROR);
        assert_int_equal(gev.n[CHANNEL_EVENT_SYNCED], 1);
        memset(&hev, 0, sizeof(hev));
        pump(f->guest, f->host, f->now, &hev);
        assert_int_equal(hev.n[CHANNEL_EVENT_SYNCED], 1);

        memset(&gev, 0, sizeof(gev));
        send_msg(f->host, VFO__ENVELOPE__BODY_PREPARE_DETACH, 9);
        pump(f->host, f->guest, f->now, &gev);
        assert_int_equal(gev.n[CHANNEL_EVENT_MESSAGE], 1);
}

/* The guest sees an oversize length: it asks for a resync, the host starts
 * one, and both end up READY with nothing lost after. */
static void test_channel_oversize_from_host_resyncs(void **state) {
        Fixture *f = *state;
        uint8_t bad[FRAME_HEADER_SIZE + 32] = { 0 };
        Events hev = { 0 }, gev = { 0 };

        handshake(f);
        frame_header_write(bad, 0xfffffffe);
        feed(f->guest, bad, sizeof(bad), sizeof(bad), f->now, &gev);
        assert_int_equal(gev.n[CHANNEL_EVENT_LOST], 1);
        assert_int_equal(channel_get_state(f->guest), CHANNEL_STATE_SYNCING);

        pump(f->guest, f->host, f->now, &hev);          /* Error{RESYNC_REQUIRED} */
        assert_int_equal(hev.n[CHANNEL_EVENT_LOST], 1);
        memset(&gev, 0, sizeof(gev));
        pump(f->host, f->guest, f->now, &gev);          /* marker + Sync */
        assert_int_equal(gev.n[CHANNEL_EVENT_SYNCED], 1);
        memset(&hev, 0, sizeof(hev));
        pump(f->guest, f->host, f->now, &hev);
        assert_int_equal(hev.n[CHANNEL_EVENT_SYNCED], 1);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_READY);
}

static void test_channel_zero_length_from_guest_resyncs(void **state) {
        Fixture *f = *state;
        uint8_t zero[FRAME_HEADER_SIZE] = { 0 };
        Events ev = { 0 };

        handshake(f);
        feed(f->host, zero, sizeof(zero), sizeof(zero), f->now, &ev);
        assert_int_equal(ev.n[CHANNEL_EVENT_LOST], 1);
        assert_int_equal(channel_get_counters(f->host)->protocol_errors, 1);
        pump(f->host, f->guest, f->now, &ev);
        pump(f->guest, f->host, f->now, &ev);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_READY);
}

static void test_channel_wrong_direction_is_a_protocol_error(void **state) {
        Fixture *f = *state;
        uint8_t buf[256];
        size_t n;
        Events ev = { 0 };
        TestMessage m;

        handshake(f);
        n = test_frame(test_message_init(&m, VFO__ENVELOPE__BODY_PREPARE_DETACH, 5), false, buf, sizeof(buf));
        feed(f->host, buf, n, n, f->now, &ev);
        assert_int_equal(ev.n[CHANNEL_EVENT_MESSAGE], 0);
        assert_int_equal(ev.n[CHANNEL_EVENT_LOST], 1);
}

static void test_channel_rate_limit(void **state) {
        Fixture *f = *state;
        Events hev = { 0 }, gev = { 0 };
        uint8_t frame[256];
        uint8_t *flood;
        size_t n, total = 0;
        TestMessage m;

        handshake(f);

        /* 1,000 events inside one window: 50 pass, the rest are dropped and
         * answered by a single RATE_LIMITED error. */
        n = test_frame(test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 0), false, frame, sizeof(frame));
        flood = malloc(n * 1000);
        assert_non_null(flood);
        for (int i = 0; i < 1000; i++) {
                memcpy(flood + total, frame, n);
                total += n;
        }
        feed(f->host, flood, total, total, f->now + 1, &hev);
        assert_int_equal(hev.n[CHANNEL_EVENT_MESSAGE], 49);     /* one token went to the SyncReply */
        assert_int_equal(channel_get_counters(f->host)->rate_limited, 951);
        assert_int_equal(channel_get_state(f->host), CHANNEL_STATE_READY);

        pump(f->host, f->guest, f->now + 1, &gev);
        assert_int_equal(gev.n[CHANNEL_EVENT_MESSAGE], 1);
        assert_int_equal(gev.last_body, VFO__ENVELOPE__BODY_ERROR);

        /* Next window: accepted again. */
        memset(&hev, 0, sizeof(hev));
        feed(f->host, frame, n, n, f->now + 2 * USEC_PER_SEC, &hev);
        assert_int_equal(hev.n[CHANNEL_EVENT_MESSAGE], 1);
        free(flood);
}

static void test_channel_output_is_bounded(void **state) {
        ChannelConfig config = { .role = PEER_ROLE_HOST, .max_output = 4096 };
        _cleanup_(channel_freep) Channel *c = NULL;
        int r = 0;

        assert_int_equal(channel_new(&config, &c), 0);
        for (int i = 0; i < 1000 && r == 0; i++)
                r = channel_send_error(c, 1, VFO__ERROR_CODE__ERROR_CODE_INTERNAL, "peer does not read");
        assert_int_equal(r, -ENOBUFS);
}

static void test_channel_error_text_is_cut_to_valid_utf8(void **state) {
        Fixture *f = *state;
        char text[400];
        Events ev = { 0 };

        handshake(f);
        /* 255 ASCII bytes and a 2-byte character straddling the 256-byte cap. */
        memset(text, 'a', 255);
        strcpy(text + 255, "\xc3\xa9 tail");
        assert_int_equal(channel_send_error(f->host, 3, VFO__ERROR_CODE__ERROR_CODE_INTERNAL, text), 0);
        pump(f->host, f->guest, f->now, &ev);
        assert_int_equal(ev.n[CHANNEL_EVENT_MESSAGE], 1);
        assert_int_equal(ev.n[CHANNEL_EVENT_LOST], 0);
}

static void test_channel_state_table(void **state) {
        for (int s = 0; s < _CHANNEL_STATE_MAX; s++) {
                const char *name = channel_state_to_string((ChannelState) s);

                assert_non_null(name);
                assert_int_equal(channel_state_from_string(name), s);
        }
        assert_null(channel_state_to_string(_CHANNEL_STATE_MAX));
        assert_int_equal(channel_state_from_string("bogus"), _CHANNEL_STATE_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_channel_old_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_handshake_and_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_send_checks_state_and_content, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_split_frames_one_byte_at_a_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_stale_bytes_and_wrong_nonce, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_10mb_garbage_before_sync, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_bad_guest_message_resyncs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_oversize_from_host_resyncs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_zero_length_from_guest_resyncs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_wrong_direction_is_a_protocol_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_channel_rate_limit, setup, teardown),
                cmocka_unit_test(test_channel_output_is_bounded),
                cmocka_unit_test_setup_teardown(test_channel_error_text_is_cut_to_valid_utf8, setup, teardown),
                cmocka_unit_test(test_channel_state_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
