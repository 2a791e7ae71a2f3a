/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Framing of the host <-> guest stream: 4-byte big-endian length + payload,
 * and the resync marker that lets a receiver find a frame boundary again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 4U
#define FRAME_MAX_DEFAULT (64U * 1024U)
#define FRAME_SYNC_MARKER_SIZE 8U

/* 0xff "VFO-SYN". A header of a frame of at most 16 MiB starts with 0x00, so
 * the marker can never be mistaken for one; 0xff appears in it only once,
 * which keeps the stream search a one-byte restart. */
extern const uint8_t frame_sync_marker[FRAME_SYNC_MARKER_SIZE];

typedef enum FrameDecoderState {
        FRAME_DECODER_HUNTING,  /* discarding bytes until the resync marker */
        FRAME_DECODER_HEADER,   /* reading the 4-byte length */
        FRAME_DECODER_BODY,     /* reading the payload */
} FrameDecoderState;

typedef struct FrameDecoder {
        FrameDecoderState state;
        size_t max_frame;       /* hard limit, checked before the payload is buffered */
        uint8_t header[FRAME_HEADER_SIZE];
        size_t n_header;
        size_t n_marker;        /* marker bytes matched so far while hunting */
        bool marker_at_boundary;        /* the marker began where a header was due */
        uint8_t *buf;           /* max_frame bytes, allocated once */
        size_t len;             /* payload length of the frame being read */
        size_t n_filled;
        uint64_t n_discarded;   /* bytes dropped while hunting, for counters */
} FrameDecoder;

/* The decoder starts HUNTING: after a (re)connect the stream may hold stale bytes. */
int frame_decoder_init(FrameDecoder *d, size_t max_frame);
void frame_decoder_done(FrameDecoder *d);

/* Forget any partial frame and discard until the next resync marker. */
void frame_decoder_resync(FrameDecoder *d);

/* Consumes up to n bytes and never does I/O. Returns 1 and sets *ret_frame,
 * *ret_len when a frame is complete (valid until the next call), 0 when all
 * n bytes were consumed without completing one, -EMSGSIZE for a length above
 * max_frame, -EBADMSG for a zero length or a broken marker at a frame
 * boundary. After an error the decoder is
 * HUNTING again. *ret_consumed is always set. */
int frame_decoder_feed(FrameDecoder *d, const uint8_t *data, size_t n, size_t *ret_consumed,
                       const uint8_t **ret_frame, size_t *ret_len);

void frame_header_write(uint8_t header[static FRAME_HEADER_SIZE], uint32_t len);
