/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "lib/log.h"
#include "lib/loop-watch.h"
#include "lib/macro.h"

/* The notes of the turn that runs (loop_watch_note()): a ring of the last
 * LOOP_WATCH_NOTES, emptied when the loop prepares the next turn. */
static struct {
        bool on;                /* a watch is started */
        unsigned n;             /* notes made this turn (the ring holds the last ones) */
        struct {
                const char *what;
                char arg[48];
                usec_t at;
        } ring[LOOP_WATCH_NOTES];
} notes;

void loop_watch_note(const char *what, const char *arg) {
        unsigned i;

        if (!notes.on || !what)
                return;
        i = notes.n++ % LOOP_WATCH_NOTES;
        notes.ring[i].what = what;
        snprintf(notes.ring[i].arg, sizeof(notes.ring[i].arg), "%s", arg ?: "");
        notes.ring[i].at = now_usec(CLOCK_MONOTONIC);
}

/* "; +T ms WHAT ARG" for each note kept, oldest first, into 'buf'. */
static void notes_format(usec_t woke, char *buf, size_t size) {
        unsigned first = notes.n > LOOP_WATCH_NOTES ? notes.n - LOOP_WATCH_NOTES : 0;
        size_t off = 0;

        if (notes.n == 0) {
                (void) snprintf(buf, size, " Nothing was noted in that turn.");
                return;
        }
        for (unsigned k = first; k < notes.n && off < size; k++) {
                const typeof(notes.ring[0]) *e = &notes.ring[k % LOOP_WATCH_NOTES];
                int n = snprintf(buf + off, size - off, "%s +%" PRIu64 " ms %s%s%s", k == first ? " In it:" : ";",
                                 usec_sub_unsigned(e->at, woke) / USEC_PER_MSEC, e->what, e->arg[0] ? " " : "",
                                 e->arg);

                if (n < 0)
                        break;
                off += (size_t) n;
        }
        if (first > 0 && off < size)
                (void) snprintf(buf + off, size - off, " (the last %u of %u notes)", LOOP_WATCH_NOTES, notes.n);
}

/* Runs when the loop prepares its next turn, right after the handlers of
 * the last one: sd_event_now() is still the time it woke for them. */
static int loop_watch_on_prepare(sd_event_source *s, void *userdata) {
        LoopWatch *w = userdata;
        uint64_t woke;
        usec_t took;

        if (sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &woke) != 0)
                goto finish;    /* no turn yet */
        took = usec_sub_unsigned(now_usec(CLOCK_MONOTONIC), woke);
        if (took < w->threshold)
                goto finish;
        w->n_slow++;
        w->longest = MAX(w->longest, took);
        notes_format(woke, w->last_notes, sizeof(w->last_notes));
        log_warning("One turn of the event loop took %" PRIu64 " ms: a handler blocked, and nothing was "
                    "answered meanwhile.%s",
                    took / USEC_PER_MSEC, w->last_notes);
finish:
        notes.n = 0;
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
        notes.on = true;
        notes.n = 0;
        return 0;
}

void loop_watch_stop(LoopWatch *w) {
        assert(w);
        w->source = sd_event_source_disable_unref(w->source);
        notes.on = false;
}
