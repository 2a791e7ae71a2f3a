/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See qemu-tick.h. */

#include <assert.h>

#include "agent/host/qemu-tick.h"
#include "lib/macro.h"

void qemu_tick_observe(QemuTick *t, uint64_t bps, uint64_t elapsed_ms, usec_t sent, usec_t received) {
        assert(t);

        if (received >= sent) {
                usec_t rtt = received - sent;

                t->rtt = MAX(rtt, t->rtt - t->rtt / 4);
        }
        if (bps == 0)
                return;
        if (t->have_poll && bps != t->last_bps && elapsed_ms >= t->last_elapsed_ms) {
                /* The measurement came after QEMU answered the last poll. That
                 * answer came after the last poll was sent, and (QEMU's own
                 * clock) this many ms before this answer, which came after
                 * this poll was sent; the ms are whole, hence one more. */
                usec_t apart = (elapsed_ms - t->last_elapsed_ms + 1) * USEC_PER_MSEC;
                usec_t lo = t->last_sent;

                if (sent > apart)
                        lo = MAX(lo, sent - apart);
                t->tick = lo;
        }
        t->have_poll = true;
        t->last_bps = bps;
        t->last_elapsed_ms = elapsed_ms;
        t->last_sent = sent;
}

usec_t qemu_tick_wait(const QemuTick *t, usec_t now, usec_t margin) {
        usec_t lead, next;

        assert(t);

        if (t->tick == 0 || now < t->tick || now - t->tick > QEMU_TICK_STALE_USEC)
                return USEC_INFINITY;
        /* The next measurement is no earlier than this: measurements come
         * every QEMU_TICK_USEC or a little later. */
        lead = usec_add(t->rtt, margin);
        next = t->tick + QEMU_TICK_USEC;
        while (next < usec_add(now, lead))
                next += QEMU_TICK_USEC;
        return next - lead - now;
}
