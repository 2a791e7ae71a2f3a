/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>

#include "lib/log.h"
#include "lib/loop-watch.h"
#include "lib/macro.h"

/* Runs when the loop prepares its next turn, right after the handlers of
 * the last one: sd_event_now() is still the time it woke for them. */
static int loop_watch_on_prepare(sd_event_source *s, void *userdata) {
        LoopWatch *w = userdata;
        uint64_t woke;
        usec_t took;

        if (sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &woke) != 0)
                return 0;       /* no turn yet */
        took = usec_sub_unsigned(now_usec(CLOCK_MONOTONIC), woke);
        if (took < w->threshold)
                return 0;
        w->n_slow++;
        w->longest = MAX(w->longest, took);
        log_warning("One turn of the event loop took %" PRIu64 " ms: a handler blocked, and nothing was "
                    "answered meanwhile.",
                    took / USEC_PER_MSEC);
        return 0;
}

/* A post source only to carry the prepare callback: it is enabled, and runs
 * (doing nothing) only after other sources ran. */
static int loop_watch_on_post(sd_event_source *s, void *userdata) {
        return 0;
}

int loop_watch_start(LoopWatch *w, sd_event *e, usec_t threshold) {
        int r;

        assert(w);
        assert(e);

        *w = (LoopWatch) { .threshold = threshold };
        r = sd_event_add_post(e, &w->source, loop_watch_on_post, w);
        if (r < 0)
                return r;
        r = sd_event_source_set_prepare(w->source, loop_watch_on_prepare);
        if (r < 0) {
                w->source = sd_event_source_unref(w->source);
                return r;
        }
        (void) sd_event_source_set_priority(w->source, SD_EVENT_PRIORITY_IDLE);
        (void) sd_event_source_set_description(w->source, "loop-watch");
        return 0;
}

void loop_watch_stop(LoopWatch *w) {
        assert(w);
        w->source = sd_event_source_disable_unref(w->source);
}
