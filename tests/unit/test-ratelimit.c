/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rate limiter windows, with 'now' handed in. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/ratelimit.h"

static void test_ratelimit_allows_burst_per_interval(void **state) {
        RateLimit rl = RATELIMIT_INIT(USEC_PER_SEC, 3);
        usec_t t = 5 * USEC_PER_SEC;

        for (int i = 0; i < 3; i++)
                assert_true(ratelimit_below(&rl, t + (usec_t) i));
        assert_false(ratelimit_below(&rl, t + 10));
        assert_false(ratelimit_below(&rl, t + USEC_PER_SEC - 1));
        assert_int_equal(rl.n_suppressed, 2);

        /* A new window begins one interval after the first event. */
        assert_true(ratelimit_below(&rl, t + USEC_PER_SEC));
}

static void test_ratelimit_zero_disables(void **state) {
        RateLimit rl = RATELIMIT_INIT(0, 0);

        for (int i = 0; i < 1000; i++)
                assert_true(ratelimit_below(&rl, 1));
        assert_int_equal(rl.n_suppressed, 0);
}

static void test_ratelimit_clock_going_back_starts_new_window(void **state) {
        RateLimit rl = RATELIMIT_INIT(USEC_PER_SEC, 1);

        assert_true(ratelimit_below(&rl, 10 * USEC_PER_SEC));
        assert_false(ratelimit_below(&rl, 10 * USEC_PER_SEC));
        assert_true(ratelimit_below(&rl, 1 * USEC_PER_SEC));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ratelimit_allows_burst_per_interval),
                cmocka_unit_test(test_ratelimit_zero_disables),
                cmocka_unit_test(test_ratelimit_clock_going_back_starts_new_window),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
