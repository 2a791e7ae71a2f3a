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

#define LOOP_WATCH_NOTES 8

typedef struct LoopWatch {
        usec_t threshold;
        uint64_t n_slow;                /* turns that took 'threshold' or longer */
        usec_t longest;                 /* the longest of them */
        char last_notes[LOOP_WATCH_NOTES * 80]; /* the notes of the last of them, as logged */
        sd_event_source *source;
} LoopWatch;

/* Watches 'e': each turn of 'threshold' or longer is counted and logged
 * (a warning with how long it took, and the notes of that turn). One watch
 * per process: the notes are the process's. */
int loop_watch_start(LoopWatch *w, sd_event *e, usec_t threshold);
void loop_watch_stop(LoopWatch *w);

/* A note of what a handler is about to do that may take time (a call to
 * libvirt, the kernel, a peer) or what it is handling: 'what' a string
 * that outlives the turn (a literal), 'arg' copied (NULL: none). The
 * warning of a slow turn lists the turn's notes, each with its time from
 * the wake-up, so the gap after a note says what blocked. The last
 * LOOP_WATCH_NOTES of a turn are kept; a watch that is not started keeps
 * none. Cheap: no formatting until a warning. */
void loop_watch_note(const char *what, const char *arg);
