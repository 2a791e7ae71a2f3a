/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Channel: one host <-> guest protocol session as a pure state machine.
 * Bytes from the peer go in, validated messages and session events come
 * out, and bytes to send queue up in an output buffer; the caller does the
 * I/O and passes 'now'. Protocol errors never escape as failures: the
 * channel answers them with Error and a resync, and counts them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/frame.h"
#include "lib/macro.h"
#include "lib/ratelimit.h"
#include "lib/time-util.h"
#include "lib/validate.h"

#define CHANNEL_OUTPUT_MAX_DEFAULT (1024U * 1024U)
#define CHANNEL_UNPACK_BUDGET (1024U * 1024U)   /* bytes protobuf-c may allocate per frame */

typedef enum ChannelState {
        CHANNEL_STATE_SYNCING,  /* discarding until Sync (guest) or SyncReply{nonce} (host) */
        CHANNEL_STATE_READY,    /* session established; requests may flow */
        _CHANNEL_STATE_MAX,
        _CHANNEL_STATE_INVALID = -EINVAL,
} ChannelState;

typedef enum ChannelEventType {
        CHANNEL_EVENT_NONE,     /* nothing for the caller */
        CHANNEL_EVENT_MESSAGE,  /* a validated message in 'message', owned by the caller */
        CHANNEL_EVENT_SYNCED,   /* a session started: forget requests of the previous one */
        CHANNEL_EVENT_LOST,     /* a protocol error ended the session; a resync is under way */
        _CHANNEL_EVENT_MAX,
        _CHANNEL_EVENT_INVALID = -EINVAL,
} ChannelEventType;

typedef struct ChannelEvent {
        ChannelEventType type;
        Vfo__Envelope *message; /* CHANNEL_EVENT_MESSAGE only; free with envelope_free() */
} ChannelEvent;

typedef struct ChannelConfig {
        PeerRole role;                  /* our side */
        size_t max_frame;               /* 0: FRAME_MAX_DEFAULT */
        size_t max_output;              /* 0: CHANNEL_OUTPUT_MAX_DEFAULT */
        usec_t rate_interval;           /* frames accepted from the peer: 'rate_burst' per interval */
        unsigned rate_burst;            /* 0: unlimited */
        const char *version;            /* our version string for Sync/SyncReply */
        const Vfo__Capability *capabilities;    /* guest: announced in SyncReply */
        size_t n_capabilities;
} ChannelConfig;

typedef struct ChannelCounters {
        uint64_t frames_in;             /* complete frames received */
        uint64_t messages_in;           /* delivered to the caller */
        uint64_t frames_out;
        uint64_t discarded_bytes;       /* skipped while hunting for a frame boundary */
        uint64_t discarded_frames;      /* well-formed but not expected while syncing */
        uint64_t protocol_errors;
        uint64_t rate_limited;
        uint64_t syncs;
} ChannelCounters;

typedef struct Channel Channel;

int channel_new(const ChannelConfig *config, Channel **ret);
Channel *channel_free(Channel *c);
DEFINE_CLEANUP_FUNC(Channel, channel_free);

/* Host: start (or restart) a session with 'nonce' (non-zero, fresh each
 * time): queues the marker and Sync, and discards everything until the
 * matching SyncReply. Guest: forget the session and wait for a Sync. Call it
 * after every (re)connect; the host calls it again when SyncReply is late. */
int channel_reset(Channel *c, uint64_t nonce);

/* Consumes up to n bytes. Returns 0 and sets *ret_consumed and *ret_event;
 * call again with the rest until everything is consumed. Fails only with
 * -ENOMEM, or -ENOBUFS when the output buffer is full (the peer does not
 * read): the caller should drop the connection. */
int channel_feed(Channel *c, const uint8_t *data, size_t n, usec_t now, size_t *ret_consumed,
                 ChannelEvent *ret_event);

/* Queues a message. -EAGAIN while not READY (Error excepted), -EBADMSG if
 * our own message would not pass the peer's validation, -ENOBUFS if full. */
int channel_send(Channel *c, const Vfo__Envelope *e);

/* Queues Error{code, message} with 'id' (0 for a session-level error). */
int channel_send_error(Channel *c, uint64_t id, Vfo__ErrorCode code, const char *message);

/* The bytes waiting to be written, and how many were written. */
const uint8_t *channel_output(const Channel *c, size_t *ret_len);
void channel_output_advance(Channel *c, size_t n);

ChannelState channel_get_state(const Channel *c);
const ChannelCounters *channel_get_counters(const Channel *c);
/* Host: what the guest said in its SyncReply, valid while READY. */
const char *channel_get_peer_version(const Channel *c);
uint32_t channel_get_peer_protocol(const Channel *c);
bool channel_peer_has_capability(const Channel *c, Vfo__Capability cap);

const char *channel_state_to_string(ChannelState s) _const_;
ChannelState channel_state_from_string(const char *s) _pure_;

/* Decodes and validates one frame payload with a bounded allocator. */
int envelope_unpack(const uint8_t *data, size_t len, PeerRole sender, Vfo__Envelope **ret, char *why,
                    size_t why_size);
Vfo__Envelope *envelope_free(Vfo__Envelope *e);
DEFINE_CLEANUP_FUNC(Vfo__Envelope, envelope_free);

/* Serializes 'e' as a frame (optionally preceded by the resync marker) into
 * a newly allocated buffer. */
int envelope_pack_frame(const Vfo__Envelope *e, bool with_marker, size_t max_frame, uint8_t **ret,
                        size_t *ret_len);
