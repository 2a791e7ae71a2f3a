/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: hostile bytes into the frame decoder, the validator and a
 * whole protocol session, on either side. Built for libFuzzer by 'make fuzz'
 * and replayed over the corpus by 'make check'. */

#include <stddef.h>
#include <stdint.h>

#include "lib/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_session(PeerRole role, const uint8_t *data, size_t size, size_t chunk) {
        ChannelConfig config = {
                .role = role,
                .rate_interval = USEC_PER_SEC,
                .rate_burst = 64,
                .max_output = 256 * 1024,
        };
        _cleanup_(channel_freep) Channel *c = NULL;
        usec_t now = USEC_PER_SEC;
        unsigned stalls = 0;

        if (channel_new(&config, &c) < 0)
                abort();
        if (channel_reset(c, 0x5eed) < 0)
                abort();

        for (size_t off = 0; off < size;) {
                size_t k = MIN(chunk, size - off), consumed;
                ChannelEvent ev;
                const uint8_t *out;
                size_t n_out;
                int r;

                r = channel_feed(c, data + off, k, now, &consumed, &ev);
                if (r == -ENOBUFS)
                        return;                 /* the I/O layer would drop the peer */
                if (r < 0)
                        abort();
                /* An error may end a call before its first byte; two calls
                 * in a row without progress would spin the caller. */
                stalls = consumed == 0 ? stalls + 1 : 0;
                if (stalls > 1)
                        abort();
                off += consumed;
                now += 997;
                if (ev.type == CHANNEL_EVENT_MESSAGE) {
                        /* Anything delivered must pass validation again. */
                        PeerRole sender = role == PEER_ROLE_HOST ? PEER_ROLE_GUEST : PEER_ROLE_HOST;

                        if (envelope_validate(ev.message, sender, NULL, 0) < 0)
                                abort();
                        envelope_free(ev.message);
                }

                /* Drain what we would send, as a reading peer does. */
                out = channel_output(c, &n_out);
                (void) out;
                channel_output_advance(c, n_out);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Vfo__Envelope *e = NULL;
        size_t chunk;

        if (size < 1)
                return 0;

        /* Whole input as one message, for both senders. */
        if (envelope_unpack(data + 1, size - 1, PEER_ROLE_GUEST, &e, NULL, 0) == 0)
                e = envelope_free(e);
        if (envelope_unpack(data + 1, size - 1, PEER_ROLE_HOST, &e, NULL, 0) == 0)
                e = envelope_free(e);

        /* As a stream: the first byte picks the side and the read size. */
        chunk = (size_t) (data[0] >> 1) + 1;
        fuzz_session(data[0] & 1 ? PEER_ROLE_HOST : PEER_ROLE_GUEST, data + 1, size - 1, chunk);
        return 0;
}
