/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixed-window rate limiter: at most 'burst' events per 'interval'. Pure: the caller passes 'now'. */
#pragma once

#include <stdbool.h>

#include "lib/time-util.h"

typedef struct RateLimit {
        usec_t interval;
        unsigned burst;
        usec_t begin;           /* start of the current window */
        unsigned n;             /* events seen in the current window */
        uint64_t n_suppressed;  /* events refused since the limiter was set up */
} RateLimit;

#define RATELIMIT_INIT(i, b) ((RateLimit) { .interval = (i), .burst = (b) })

/* Returns true when the event is allowed, false when it is over the limit.
 * An interval or burst of 0 disables the limiter. */
bool ratelimit_below(RateLimit *rl, usec_t now);
