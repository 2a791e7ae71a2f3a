/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Clock reads for the I/O layers; see time-util.h. */

#include <assert.h>
#include <stdlib.h>

#include "lib/time-util.h"

usec_t timespec_to_usec(const struct timespec *ts) {
        assert(ts);

        if (ts->tv_sec < 0 || ts->tv_nsec < 0)
                return 0;
        if ((uint64_t) ts->tv_sec > (USEC_INFINITY - 1) / USEC_PER_SEC)
                return USEC_INFINITY;

        return (usec_t) ts->tv_sec * USEC_PER_SEC + (usec_t) ts->tv_nsec / NSEC_PER_USEC;
}

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        /* Only fails for an invalid clock id, which is a programming error. */
        if (clock_gettime(clock, &ts) < 0)
                abort();

        return timespec_to_usec(&ts);
}
