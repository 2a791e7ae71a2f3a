/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Notices a turn of the sd-event loop that took too long: a handler that
 * blocked (a slow system call, a write to a terminal that does not drain),
 * during which the process answered nothing. When the loop prepares a
 * turn, it compares the time with the last wake-up; it wakes nothing by
 * itself. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "lib/time-util.h"

typedef struct LoopWatch {
        usec_t threshold;
        uint64_t n_slow;                /* turns that took 'threshold' or longer */
        usec_t longest;                 /* the longest of them */
        sd_event_source *source;
} LoopWatch;

/* Watches 'e': each turn of 'threshold' or longer is counted and logged
 * (a warning with how long it took). */
int loop_watch_start(LoopWatch *w, sd_event *e, usec_t threshold);
void loop_watch_stop(LoopWatch *w);
