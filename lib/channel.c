/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Protocol session core; see channel.h. No I/O, no clock, no logging. */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/channel.h"
#include "lib/string-table.h"

struct Channel {
        PeerRole role;
        ChannelState state;
        FrameDecoder decoder;
        RateLimit ratelimit;
        usec_t rate_error_window;       /* window in which we last answered RATE_LIMITED */

        char *version;
        Vfo__Capability *capabilities;
        size_t n_capabilities;
        size_t max_frame;

        uint64_t nonce;                 /* host: nonce of the Sync we wait for */
        char peer_version[VALIDATE_VERSION_MAX + 1];
        uint32_t peer_protocol;
        uint32_t peer_capabilities;     /* bit per Vfo__Capability */

        uint8_t *out;
        size_t n_out, max_output;

        ChannelCounters counters;
};

static const char *const channel_state_table[_CHANNEL_STATE_MAX] = {
        [CHANNEL_STATE_SYNCING] = "syncing",
        [CHANNEL_STATE_READY] = "ready",
};

DEFINE_STRING_TABLE_LOOKUP(channel_state, ChannelState, _CHANNEL_STATE_MAX);

/* protobuf-c allocates while unpacking; a 64 KiB frame of empty repeated
 * submessages would expand ~60-fold, so each unpack gets a budget. */
typedef struct UnpackBudget {
        size_t left;
        bool exhausted;
} UnpackBudget;

static void *unpack_budget_alloc(void *data, size_t size) {
        UnpackBudget *b = data;

        if (size > b->left) {
                b->exhausted = true;
                return NULL;
        }
        b->left -= size;
        return malloc(size);
}

static void unpack_budget_free(void *data, void *p) {
        free(p);
}

Vfo__Envelope *envelope_free(Vfo__Envelope *e) {
        if (e)
                vfo__envelope__free_unpacked(e, NULL);  /* malloc'd: the default allocator frees */
        return NULL;
}

int envelope_unpack(const uint8_t *data, size_t len, PeerRole sender, Vfo__Envelope **ret, char *why,
                    size_t why_size) {
        UnpackBudget budget = { .left = CHANNEL_UNPACK_BUDGET };
        ProtobufCAllocator allocator = {
                .alloc = unpack_budget_alloc,
                .free = unpack_budget_free,
                .allocator_data = &budget,
        };
        _cleanup_(envelope_freep) Vfo__Envelope *e = NULL;
        int r;

        assert(data || len == 0);
        assert(ret);

        e = vfo__envelope__unpack(&allocator, len, data);
        if (!e) {
                if (why && why_size > 0)
                        snprintf(why, why_size, "%s",
                                 budget.exhausted ? "message too large once decoded" : "not a valid Envelope");
                return -EBADMSG;
        }

        r = envelope_validate(e, sender, why, why_size);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(e);
        return 0;
}

int envelope_pack_frame(const Vfo__Envelope *e, bool with_marker, size_t max_frame, uint8_t **ret,
                        size_t *ret_len) {
        size_t size, off = with_marker ? FRAME_SYNC_MARKER_SIZE : 0;
        uint8_t *buf;

        assert(e);
        assert(ret);
        assert(ret_len);

        size = vfo__envelope__get_packed_size(e);
        if (size == 0 || size > max_frame)
                return -EMSGSIZE;

        buf = malloc(off + FRAME_HEADER_SIZE + size);
        if (!buf)
                return -ENOMEM;

        if (with_marker)
                memcpy(buf, frame_sync_marker, FRAME_SYNC_MARKER_SIZE);
        frame_header_write(buf + off, (uint32_t) size);
        (void) vfo__envelope__pack(e, buf + off + FRAME_HEADER_SIZE);

        *ret = buf;
        *ret_len = off + FRAME_HEADER_SIZE + size;
        return 0;
}

int channel_new(const ChannelConfig *config, Channel **ret) {
        _cleanup_(channel_freep) Channel *c = NULL;
        int r;

        assert(config);
        assert(ret);
        assert(config->n_capabilities <= VALIDATE_CAPABILITIES_MAX);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        c->role = config->role;
        c->state = CHANNEL_STATE_SYNCING;
        c->max_frame = config->max_frame ?: FRAME_MAX_DEFAULT;
        c->max_output = config->max_output ?: CHANNEL_OUTPUT_MAX_DEFAULT;
        c->ratelimit = RATELIMIT_INIT(config->rate_interval, config->rate_burst);

        c->version = strdup(config->version ?: PACKAGE_VERSION);
        if (!c->version)
                return -ENOMEM;

        if (config->n_capabilities > 0) {
                c->capabilities = calloc(config->n_capabilities, sizeof(Vfo__Capability));
                if (!c->capabilities)
                        return -ENOMEM;
                memcpy(c->capabilities, config->capabilities, config->n_capabilities * sizeof(Vfo__Capability));
                c->n_capabilities = config->n_capabilities;
        }

        r = frame_decoder_init(&c->decoder, c->max_frame);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

Channel *channel_free(Channel *c) {
        if (!c)
                return NULL;

        frame_decoder_done(&c->decoder);
        free(c->version);
        free(c->capabilities);
        free(c->out);
        return mfree(c);
}

static int channel_queue_bytes(Channel *c, const uint8_t *data, size_t n) {
        uint8_t *p;

        if (n > c->max_output - c->n_out)
                return -ENOBUFS;

        p = realloc(c->out, c->n_out + n);
        if (!p)
                return -ENOMEM;
        memcpy(p + c->n_out, data, n);
        c->out = p;
        c->n_out += n;
        return 0;
}

static int channel_queue(Channel *c, const Vfo__Envelope *e, bool with_marker) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;
        int r;

        r = envelope_pack_frame(e, with_marker, c->max_frame, &buf, &n);
        if (r < 0)
                return r;

        r = channel_queue_bytes(c, buf, n);
        if (r < 0)
                return r;

        c->counters.frames_out++;
        return 0;
}

int channel_send_error(Channel *c, uint64_t id, Vfo__ErrorCode code, const char *message) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__Error err = VFO__ERROR__INIT;
        char buf[VALIDATE_ERROR_MESSAGE_MAX + 1];

        assert(c);

        /* Our own text may quote a reason of arbitrary length: cut it at a
         * character boundary so the peer's UTF-8 check still passes. */
        snprintf(buf, sizeof(buf), "%s", message ?: "");
        for (size_t n = strlen(buf); n > 0 && !utf8_is_valid(buf, VALIDATE_ERROR_MESSAGE_MAX); n--)
                buf[n - 1] = '\0';

        err.code = code;
        err.message = buf;
        e.id = id;
        e.body_case = VFO__ENVELOPE__BODY_ERROR;
        e.error = &err;
        return channel_queue(c, &e, false);
}

static uint64_t nonce_next(uint64_t x) {
        /* splitmix64: the next nonce differs from every recent one, and is
         * never 0, without the core reading a random source. */
        uint64_t z;

        do {
                x += 0x9e3779b97f4a7c15ULL;
                z = x;
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
                z ^= z >> 31;
        } while (z == 0);
        return z;
}

static int channel_start_sync(Channel *c, uint64_t nonce) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__Sync s = VFO__SYNC__INIT;

        assert(nonce != 0);

        frame_decoder_resync(&c->decoder);
        c->state = CHANNEL_STATE_SYNCING;
        c->counters.syncs++;

        if (c->role != PEER_ROLE_HOST)
                return 0;

        c->nonce = nonce;
        s.nonce = nonce;
        s.protocol_version = VFO_PROTOCOL_VERSION;
        s.host_version = c->version;
        e.id = nonce;
        e.body_case = VFO__ENVELOPE__BODY_SYNC;
        e.sync = &s;
        return channel_queue(c, &e, true);
}

int channel_reset(Channel *c, uint64_t nonce) {
        assert(c);
        assert(c->role != PEER_ROLE_HOST || nonce != 0);

        /* A new connection: whatever was queued for the old one is stale. */
        c->out = mfree(c->out);
        c->n_out = 0;
        return channel_start_sync(c, nonce ?: 1);
}

static int channel_reply_sync(Channel *c, const Vfo__Envelope *sync) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__SyncReply s = VFO__SYNC_REPLY__INIT;

        /* The guest speaks the lower of the two versions from now on. */
        snprintf(c->peer_version, sizeof(c->peer_version), "%s", sync->sync->host_version);
        c->peer_protocol = MIN(sync->sync->protocol_version, VFO_PROTOCOL_VERSION);

        s.nonce = sync->sync->nonce;
        s.protocol_version = VFO_PROTOCOL_VERSION;
        s.agent_version = c->version;
        s.capabilities = c->capabilities;
        s.n_capabilities = c->n_capabilities;
        e.id = sync->id;
        e.body_case = VFO__ENVELOPE__BODY_SYNC_REPLY;
        e.sync_reply = &s;
        return channel_queue(c, &e, true);
}

/* The peer broke the protocol: say why, and start over from a frame boundary. */
static int channel_protocol_error(Channel *c, const char *why, ChannelEvent *ret_event) {
        bool was_ready = c->state == CHANNEL_STATE_READY;
        int r;

        c->counters.protocol_errors++;

        if (c->role == PEER_ROLE_GUEST) {
                r = channel_send_error(c, 0, VFO__ERROR_CODE__ERROR_CODE_RESYNC_REQUIRED, why);
                if (r < 0)
                        return r;
                r = channel_start_sync(c, 1);
        } else {
                r = channel_send_error(c, 0, VFO__ERROR_CODE__ERROR_CODE_PROTOCOL, why);
                if (r < 0)
                        return r;
                r = channel_start_sync(c, nonce_next(c->nonce));
        }
        if (r < 0)
                return r;

        ret_event->type = was_ready ? CHANNEL_EVENT_LOST : CHANNEL_EVENT_NONE;
        return 0;
}

static void channel_take_sync_reply(Channel *c, const Vfo__SyncReply *s) {
        snprintf(c->peer_version, sizeof(c->peer_version), "%s", s->agent_version);
        c->peer_protocol = MIN(s->protocol_version, VFO_PROTOCOL_VERSION);
        c->peer_capabilities = 0;
        for (size_t i = 0; i < s->n_capabilities; i++)
                if ((unsigned) s->capabilities[i] < 32)
                        c->peer_capabilities |= 1U << s->capabilities[i];
}

static int channel_dispatch(Channel *c, Vfo__Envelope **e, ChannelEvent *ret_event) {
        Vfo__Envelope *m = *e;
        int r;

        if (c->role == PEER_ROLE_GUEST && m->body_case == VFO__ENVELOPE__BODY_SYNC) {
                /* Valid in any state: the host starts a new session. */
                r = channel_reply_sync(c, m);
                if (r < 0)
                        return r;
                c->state = CHANNEL_STATE_READY;
                ret_event->type = CHANNEL_EVENT_SYNCED;
                return 0;
        }

        if (c->role == PEER_ROLE_HOST && m->body_case == VFO__ENVELOPE__BODY_SYNC_REPLY) {
                if (c->state != CHANNEL_STATE_SYNCING || m->sync_reply->nonce != c->nonce) {
                        c->counters.discarded_frames++;         /* stale: an earlier session's */
                        return 0;
                }
                channel_take_sync_reply(c, m->sync_reply);
                c->state = CHANNEL_STATE_READY;
                ret_event->type = CHANNEL_EVENT_SYNCED;
                return 0;
        }

        if (c->state != CHANNEL_STATE_READY) {
                c->counters.discarded_frames++;
                return 0;
        }

        if (c->role == PEER_ROLE_HOST && m->body_case == VFO__ENVELOPE__BODY_ERROR &&
            m->error->code == VFO__ERROR_CODE__ERROR_CODE_RESYNC_REQUIRED) {
                r = channel_start_sync(c, nonce_next(c->nonce));
                if (r < 0)
                        return r;
                ret_event->type = CHANNEL_EVENT_LOST;
                return 0;
        }

        c->counters.messages_in++;
        ret_event->type = CHANNEL_EVENT_MESSAGE;
        ret_event->message = TAKE_PTR(*e);
        return 0;
}

int channel_feed(Channel *c, const uint8_t *data, size_t n, usec_t now, size_t *ret_consumed,
                 ChannelEvent *ret_event) {
        _cleanup_(envelope_freep) Vfo__Envelope *e = NULL;
        PeerRole sender = c->role == PEER_ROLE_HOST ? PEER_ROLE_GUEST : PEER_ROLE_HOST;
        uint64_t discarded_before = c->decoder.n_discarded;
        const uint8_t *frame = NULL;
        size_t frame_len = 0;
        char why[128];
        int r, k;

        assert(c);
        assert(ret_consumed);
        assert(ret_event);

        *ret_event = (ChannelEvent) { .type = CHANNEL_EVENT_NONE };

        k = frame_decoder_feed(&c->decoder, data, n, ret_consumed, &frame, &frame_len);
        c->counters.discarded_bytes += c->decoder.n_discarded - discarded_before;
        if (k == 0)
                return 0;

        /* Every frame and every framing error counts against the peer's
         * budget, so a peer cannot make us answer faster than it may talk. */
        if (!ratelimit_below(&c->ratelimit, now)) {
                c->counters.rate_limited++;
                if (k < 0)
                        frame_decoder_resync(&c->decoder);
                if (c->rate_error_window == c->ratelimit.begin)
                        return 0;
                c->rate_error_window = c->ratelimit.begin;
                r = channel_send_error(c, 0, VFO__ERROR_CODE__ERROR_CODE_RATE_LIMITED,
                                       "Too many frames; some were dropped.");
                return r == -ENOBUFS ? r : 0;
        }

        if (k < 0) {
                snprintf(why, sizeof(why), "%s", k == -EMSGSIZE ? "frame longer than the limit" : "malformed frame header");
                return channel_protocol_error(c, why, ret_event);
        }

        c->counters.frames_in++;

        r = envelope_unpack(frame, frame_len, sender, &e, why, sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (c->state != CHANNEL_STATE_READY) {
                        /* Still looking for the session start: no need to shout. */
                        c->counters.discarded_frames++;
                        frame_decoder_resync(&c->decoder);
                        return 0;
                }
                return channel_protocol_error(c, why, ret_event);
        }

        return channel_dispatch(c, &e, ret_event);
}

int channel_send(Channel *c, const Vfo__Envelope *e) {
        int r;

        assert(c);
        assert(e);

        if (c->state != CHANNEL_STATE_READY && e->body_case != VFO__ENVELOPE__BODY_ERROR)
                return -EAGAIN;

        r = envelope_validate(e, c->role, NULL, 0);
        if (r < 0)
                return r;

        return channel_queue(c, e, false);
}

const uint8_t *channel_output(const Channel *c, size_t *ret_len) {
        assert(c);
        assert(ret_len);

        *ret_len = c->n_out;
        return c->out;
}

void channel_output_advance(Channel *c, size_t n) {
        assert(c);
        assert(n <= c->n_out);

        if (n == 0)
                return;
        memmove(c->out, c->out + n, c->n_out - n);
        c->n_out -= n;
}

ChannelState channel_get_state(const Channel *c) {
        return c->state;
}

const ChannelCounters *channel_get_counters(const Channel *c) {
        return &c->counters;
}

const char *channel_get_peer_version(const Channel *c) {
        return c->state == CHANNEL_STATE_READY ? c->peer_version : NULL;
}

uint32_t channel_get_peer_protocol(const Channel *c) {
        return c->state == CHANNEL_STATE_READY ? c->peer_protocol : 0;
}

bool channel_peer_has_capability(const Channel *c, Vfo__Capability cap) {
        return c->state == CHANNEL_STATE_READY && (unsigned) cap < 32 && (c->peer_capabilities & (1U << cap));
}
