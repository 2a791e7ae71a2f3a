/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame decoder: splits, batches, bad lengths, garbage before the marker. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/frame.h"
#include "lib/macro.h"

typedef struct Fixture {
        FrameDecoder d;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_int_equal(frame_decoder_init(&f->d, FRAME_MAX_DEFAULT), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        frame_decoder_done(&f->d);
        free(f);
        return 0;
}

/* Appends [marker] + header + payload of 'len' bytes of 'fill' to buf. */
static size_t put_frame(uint8_t *buf, bool marker, size_t len, uint8_t fill) {
        size_t n = 0;

        if (marker) {
                memcpy(buf, frame_sync_marker, FRAME_SYNC_MARKER_SIZE);
                n += FRAME_SYNC_MARKER_SIZE;
        }
        frame_header_write(buf + n, (uint32_t) len);
        n += FRAME_HEADER_SIZE;
        memset(buf + n, fill, len);
        return n + len;
}

/* Feeds everything in chunks of 'chunk' bytes; records each frame's length
 * and first byte, and each error. */
typedef struct Result {
        size_t n_frames;
        size_t len[64];
        uint8_t first[64];
        size_t n_errors;
        int errors[8];
} Result;

static void feed_all(FrameDecoder *d, const uint8_t *data, size_t n, size_t chunk, Result *res) {
        memset(res, 0, sizeof(*res));

        for (size_t off = 0; off < n;) {
                size_t k = MIN(chunk, n - off);

                while (k > 0) {
                        const uint8_t *frame;
                        size_t consumed, len;
                        int r;

                        r = frame_decoder_feed(d, data + off, k, &consumed, &frame, &len);
                        assert_true(consumed <= k);
                        off += consumed;
                        k -= consumed;
                        if (r == 1) {
                                assert_true(res->n_frames < ELEMENTSOF(res->len));
                                res->len[res->n_frames] = len;
                                res->first[res->n_frames] = frame[0];
                                res->n_frames++;
                        } else if (r < 0) {
                                assert_true(res->n_errors < ELEMENTSOF(res->errors));
                                res->errors[res->n_errors++] = r;
                        } else
                                assert_int_equal(k, 0);
                }
        }
}

static void test_frame_needs_marker_first(void **state) {
        Fixture *f = *state;
        uint8_t buf[256];
        size_t n = put_frame(buf, false, 10, 0x11);
        Result res;

        /* A fresh decoder hunts: an unmarked frame is stale data. */
        feed_all(&f->d, buf, n, n, &res);
        assert_int_equal(res.n_frames, 0);
        assert_int_equal(res.n_errors, 0);
        assert_int_equal(f->d.n_discarded, n);
}

static void test_frame_split_across_many_reads(void **state) {
        Fixture *f = *state;
        uint8_t buf[4096];
        size_t n = 0;
        Result res;

        n += put_frame(buf + n, true, 1000, 0x21);
        n += put_frame(buf + n, false, 1, 0x22);
        n += put_frame(buf + n, false, 700, 0x23);

        feed_all(&f->d, buf, n, 1, &res);
        assert_int_equal(res.n_frames, 3);
        assert_int_equal(res.len[0], 1000);
        assert_int_equal(res.first[0], 0x21);
        assert_int_equal(res.len[1], 1);
        assert_int_equal(res.first[1], 0x22);
        assert_int_equal(res.len[2], 700);
        assert_int_equal(res.first[2], 0x23);
        assert_int_equal(res.n_errors, 0);

        /* Odd chunk sizes that cut headers and markers in every place. */
        for (size_t chunk = 2; chunk < 13; chunk++) {
                frame_decoder_resync(&f->d);
                feed_all(&f->d, buf, n, chunk, &res);
                assert_int_equal(res.n_frames, 3);
                assert_int_equal(res.len[2], 700);
        }
}

static void test_frame_several_in_one_read(void **state) {
        Fixture *f = *state;
        uint8_t buf[8192];
        size_t n = 0;
        Result res;

        n += put_frame(buf + n, true, 5, 0x30);
        for (unsigned i = 1; i < 40; i++)
                n += put_frame(buf + n, false, 3 + i, (uint8_t) (0x30 + i));

        feed_all(&f->d, buf, n, n, &res);
        assert_int_equal(res.n_frames, 40);
        for (unsigned i = 1; i < 40; i++) {
                assert_int_equal(res.len[i], 3 + i);
                assert_int_equal(res.first[i], 0x30 + i);
        }
}

static void test_frame_zero_length_is_refused_then_resyncs(void **state) {
        Fixture *f = *state;
        uint8_t buf[256];
        size_t n = 0;
        Result res;

        memcpy(buf, frame_sync_marker, FRAME_SYNC_MARKER_SIZE);
        n += FRAME_SYNC_MARKER_SIZE;
        frame_header_write(buf + n, 0);
        n += FRAME_HEADER_SIZE;
        n += put_frame(buf + n, false, 8, 0x41);        /* unmarked: dropped while hunting */
        n += put_frame(buf + n, true, 9, 0x42);

        feed_all(&f->d, buf, n, n, &res);
        assert_int_equal(res.n_errors, 1);
        assert_int_equal(res.errors[0], -EBADMSG);
        assert_int_equal(res.n_frames, 1);
        assert_int_equal(res.len[0], 9);
        assert_int_equal(res.first[0], 0x42);
}

static void test_frame_oversize_is_refused_before_buffering(void **state) {
        static const uint32_t lengths[] = { FRAME_MAX_DEFAULT + 1, 0x00ffffff, 0x7fffffff, 0xfeffffff };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(lengths); i++) {
                uint8_t buf[64];
                const uint8_t *frame = NULL;
                size_t consumed, len, n = 0;
                int r;

                frame_decoder_resync(&f->d);
                memcpy(buf, frame_sync_marker, FRAME_SYNC_MARKER_SIZE);
                n += FRAME_SYNC_MARKER_SIZE;
                frame_header_write(buf + n, lengths[i]);
                n += FRAME_HEADER_SIZE;
                memset(buf + n, 0x55, 16);
                n += 16;

                r = frame_decoder_feed(&f->d, buf, n, &consumed, &frame, &len);
                assert_int_equal(r, -EMSGSIZE);
                /* Stopped right after the header: not one payload byte taken. */
                assert_int_equal(consumed, FRAME_SYNC_MARKER_SIZE + FRAME_HEADER_SIZE);
                assert_int_equal(f->d.state, FRAME_DECODER_HUNTING);
        }
}

static void test_frame_4gib_length_is_a_broken_marker(void **state) {
        Fixture *f = *state;
        uint8_t buf[64];
        const uint8_t *frame = NULL;
        size_t consumed, len, n = 0;
        Result res;
        int r;

        /* 0xffffffff cannot be a header (lengths start with 0x00); at a frame
         * boundary 0xff starts a marker, and a broken one is an error. */
        n = put_frame(buf, true, 4, 0x61);
        r = frame_decoder_feed(&f->d, buf, n, &consumed, &frame, &len);
        assert_int_equal(r, 1);

        memset(buf, 0xff, 4);
        memset(buf + 4, 0x55, 16);
        feed_all(&f->d, buf, 20, 20, &res);
        assert_int_equal(res.n_errors, 1);
        assert_int_equal(res.errors[0], -EBADMSG);
        assert_int_equal(res.n_frames, 0);
        assert_int_equal(f->d.state, FRAME_DECODER_HUNTING);
}

static void test_frame_marker_at_boundary_restarts(void **state) {
        Fixture *f = *state;
        uint8_t buf[256];
        size_t n = 0;
        Result res;

        n += put_frame(buf + n, true, 4, 0x71);
        n += put_frame(buf + n, true, 5, 0x72);         /* the peer restarted its session */
        n += put_frame(buf + n, false, 6, 0x73);

        feed_all(&f->d, buf, n, 3, &res);
        assert_int_equal(res.n_errors, 0);
        assert_int_equal(res.n_frames, 3);
        assert_int_equal(res.first[1], 0x72);
        assert_int_equal(res.first[2], 0x73);
}

static void test_frame_10mb_garbage_before_marker(void **state) {
        Fixture *f = *state;
        size_t garbage = 10 * 1024 * 1024, n;
        uint8_t *buf = malloc(garbage + 256);
        uint32_t x = 0x12345678;
        Result res;

        assert_non_null(buf);
        /* Pseudo-random bytes, with plenty of 0xff and marker prefixes in them. */
        for (size_t i = 0; i < garbage; i++) {
                x = x * 1103515245 + 12345;
                buf[i] = (uint8_t) (x >> 16);
                if (i % 4099 == 0 && i + FRAME_SYNC_MARKER_SIZE < garbage) {
                        memcpy(buf + i, frame_sync_marker, 5);
                        i += 4;
                }
        }
        /* The garbage must not end inside a would-be marker. */
        buf[garbage - 1] = 0;
        n = garbage + put_frame(buf + garbage, true, 20, 0x81);

        feed_all(&f->d, buf, n, 65536, &res);
        assert_int_equal(res.n_frames, 1);
        assert_int_equal(res.len[0], 20);
        assert_int_equal(res.first[0], 0x81);
        assert_true(f->d.n_discarded >= garbage);
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_frame_needs_marker_first, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frame_split_across_many_reads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frame_several_in_one_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frame_zero_length_is_refused_then_resyncs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frame_oversize_is_refused_before_buffering, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frame_4gib_length_is_a_broken_marker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frame_marker_at_boundary_restarts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_frame_10mb_garbage_before_marker, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
