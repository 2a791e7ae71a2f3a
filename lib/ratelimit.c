/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See ratelimit.h. */

#include <assert.h>

#include "lib/ratelimit.h"

bool ratelimit_below(RateLimit *rl, usec_t now) {
        assert(rl);

        if (rl->interval == 0 || rl->burst == 0)
                return true;

        if (rl->begin == 0 || now < rl->begin || now - rl->begin >= rl->interval) {
                rl->begin = now == 0 ? 1 : now;
                rl->n = 0;
        }

        if (rl->n < rl->burst) {
                rl->n++;
                return true;
        }

        rl->n_suppressed++;
        return false;
}
