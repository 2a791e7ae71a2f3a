/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Incremental frame decoder: bytes in, frames out, no I/O, no clock. */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/frame.h"
#include "lib/macro.h"

const uint8_t frame_sync_marker[FRAME_SYNC_MARKER_SIZE] = { 0xff, 'V', 'F', 'O', '-', 'S', 'Y', 'N' };

int frame_decoder_init(FrameDecoder *d, size_t max_frame) {
        assert(d);
        assert(max_frame > 0 && max_frame < (1U << 24));

        *d = (FrameDecoder) {
                .state = FRAME_DECODER_HUNTING,
                .max_frame = max_frame,
        };

        d->buf = malloc(max_frame);
        if (!d->buf)
                return -ENOMEM;
        return 0;
}

void frame_decoder_done(FrameDecoder *d) {
        if (!d)
                return;
        d->buf = mfree(d->buf);
}

void frame_decoder_resync(FrameDecoder *d) {
        assert(d);

        d->state = FRAME_DECODER_HUNTING;
        d->n_marker = 0;
        d->marker_at_boundary = false;
        d->n_header = 0;
        d->len = d->n_filled = 0;
}

/* Returns the number of bytes consumed; sets *ret_error when a marker that
 * stood where a header belonged turned out not to be one. */
static size_t frame_decoder_hunt(FrameDecoder *d, const uint8_t *data, size_t n, int *ret_error) {
        size_t i = 0;

        while (i < n) {
                if (d->n_marker == 0) {
                        const uint8_t *p = memchr(data + i, frame_sync_marker[0], n - i);

                        if (!p) {
                                d->n_discarded += n - i;
                                return n;
                        }
                        d->n_discarded += (size_t) (p - (data + i));
                        i = (size_t) (p - data);
                }

                if (data[i] == frame_sync_marker[d->n_marker]) {
                        i++;
                        if (++d->n_marker == FRAME_SYNC_MARKER_SIZE) {
                                d->n_marker = 0;
                                d->n_header = 0;
                                d->marker_at_boundary = false;
                                d->state = FRAME_DECODER_HEADER;
                                return i;
                        }
                        continue;
                }

                /* The marker's first byte occurs nowhere else in it, so a
                 * mismatch restarts the match; the failed prefix was garbage. */
                d->n_discarded += d->n_marker;
                if (d->n_marker == 0) {
                        d->n_discarded++;
                        i++;
                }
                d->n_marker = 0;

                if (d->marker_at_boundary) {
                        d->marker_at_boundary = false;
                        *ret_error = -EBADMSG;
                        return i;
                }
        }

        return i;
}

int frame_decoder_feed(FrameDecoder *d, const uint8_t *data, size_t n, size_t *ret_consumed,
                       const uint8_t **ret_frame, size_t *ret_len) {
        size_t i = 0;

        assert(d);
        assert(data || n == 0);
        assert(ret_consumed);
        assert(ret_frame);
        assert(ret_len);

        while (i < n) {
                switch (d->state) {

                case FRAME_DECODER_HUNTING: {
                        int error = 0;

                        i += frame_decoder_hunt(d, data + i, n - i, &error);
                        if (error < 0) {
                                *ret_consumed = i;
                                return error;
                        }
                        break;
                }

                case FRAME_DECODER_HEADER: {
                        size_t k = MIN(FRAME_HEADER_SIZE - d->n_header, n - i);
                        uint32_t len;

                        /* A marker where a header should start: the peer
                         * restarts the session on the same stream. It must be
                         * a whole marker, or the stream is broken. */
                        if (d->n_header == 0 && data[i] == frame_sync_marker[0]) {
                                d->state = FRAME_DECODER_HUNTING;
                                d->n_marker = 0;
                                d->marker_at_boundary = true;
                                break;
                        }

                        memcpy(d->header + d->n_header, data + i, k);
                        d->n_header += k;
                        i += k;
                        if (d->n_header < FRAME_HEADER_SIZE)
                                break;

                        len = (uint32_t) d->header[0] << 24 | (uint32_t) d->header[1] << 16 |
                              (uint32_t) d->header[2] << 8 | (uint32_t) d->header[3];
                        d->n_header = 0;

                        /* Checked before a single payload byte is buffered. */
                        if (len == 0 || len > d->max_frame) {
                                frame_decoder_resync(d);
                                *ret_consumed = i;
                                return len == 0 ? -EBADMSG : -EMSGSIZE;
                        }

                        d->len = len;
                        d->n_filled = 0;
                        d->state = FRAME_DECODER_BODY;
                        break;
                }

                case FRAME_DECODER_BODY: {
                        size_t k = MIN(d->len - d->n_filled, n - i);

                        memcpy(d->buf + d->n_filled, data + i, k);
                        d->n_filled += k;
                        i += k;
                        if (d->n_filled < d->len)
                                break;

                        d->state = FRAME_DECODER_HEADER;
                        *ret_frame = d->buf;
                        *ret_len = d->len;
                        *ret_consumed = i;
                        return 1;
                }
                }
        }

        *ret_consumed = i;
        return 0;
}

void frame_header_write(uint8_t header[static FRAME_HEADER_SIZE], uint32_t len) {
        header[0] = (uint8_t) (len >> 24);
        header[1] = (uint8_t) (len >> 16);
        header[2] = (uint8_t) (len >> 8);
        header[3] = (uint8_t) len;
}
