/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One time type everywhere: usec_t, microseconds of CLOCK_MONOTONIC unless a name says otherwise. */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define MSEC_PER_SEC 1000ULL

/* Reads the clock; the protocol core never calls this, it is handed 'now'. */
usec_t now_usec(clockid_t clock);

usec_t timespec_to_usec(const struct timespec *ts);

/* Saturating arithmetic, so a deadline far away never wraps into the past. */
static inline usec_t usec_add(usec_t a, usec_t b) {
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

static inline usec_t usec_sub_unsigned(usec_t a, usec_t b) {
        return a < b ? 0 : a - b;
}
