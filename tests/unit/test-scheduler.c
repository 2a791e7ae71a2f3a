/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scheduler's decisions: free VFs, ties, preemption margin, rate limit. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/host/scheduler.h"

#define S USEC_PER_SEC
#define NOW (1000 * S)

static void test_free_vf_goes_to_highest_priority(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 10, .waiting = true, .waiting_since = 1 },
                { .pool = 0, .priority = 50, .waiting = true, .waiting_since = 5 },
                { .pool = 0, .priority = 20, .waiting = true, .waiting_since = 2 },
        };
        unsigned free_vfs[] = { 1 };
        SchedPlan plan = sched_plan(p, 3, free_vfs, 1, 10, 30 * S, NOW);

        assert_int_equal(plan.action, SCHED_ATTACH);
        assert_int_equal(plan.port, 1);
}

static void test_ties_go_to_longest_waiting(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 50, .waiting = true, .waiting_since = 9 * S },
                { .pool = 0, .priority = 50, .waiting = true, .waiting_since = 3 * S },
                { .pool = 0, .priority = 50, .waiting = true, .waiting_since = 7 * S },
        };
        unsigned free_vfs[] = { 1 };
        SchedPlan plan = sched_plan(p, 3, free_vfs, 1, 10, 30 * S, NOW);

        assert_int_equal(plan.action, SCHED_ATTACH);
        assert_int_equal(plan.port, 1);
}

static void test_busy_and_other_pools_are_skipped(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 90, .waiting = true, .busy = true },
                { .pool = 1, .priority = 80, .waiting = true },
                { .pool = 0, .priority = 10, .waiting = true },
        };
        unsigned free_vfs[] = { 1, 0 };
        SchedPlan plan = sched_plan(p, 3, free_vfs, 2, 0, 30 * S, NOW);

        assert_int_equal(plan.action, SCHED_ATTACH);
        assert_int_equal(plan.port, 2);
}

static void test_nothing_to_do(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 10, .holds_vf = true },
                { .pool = 0, .priority = 20, .waiting = false },
        };
        unsigned free_vfs[] = { 3 };
        SchedPlan plan = sched_plan(p, 2, free_vfs, 1, 10, 30 * S, NOW);

        assert_int_equal(plan.action, SCHED_NONE);
        assert_true(plan.retry_at == USEC_INFINITY);
}

static void test_preempt_needs_margin(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 50, .holds_vf = true, .last_change = 1 * S },
                { .pool = 0, .priority = 40, .holds_vf = true, .last_change = 2 * S },
                { .pool = 0, .priority = 49, .waiting = true, .waiting_since = 3 * S },
        };
        unsigned free_vfs[] = { 0 };
        SchedPlan plan;

        /* 49 does not beat 40 by 10 */
        plan = sched_plan(p, 3, free_vfs, 1, 10, 30 * S, NOW);
        assert_int_equal(plan.action, SCHED_NONE);

        /* 50 does: the weakest holder (40) is the victim */
        p[2].priority = 50;
        plan = sched_plan(p, 3, free_vfs, 1, 10, 30 * S, NOW);
        assert_int_equal(plan.action, SCHED_PREEMPT);
        assert_int_equal(plan.port, 2);
        assert_int_equal(plan.victim, 1);

        /* margin 0 disables preemption */
        plan = sched_plan(p, 3, free_vfs, 1, 0, 30 * S, NOW);
        assert_int_equal(plan.action, SCHED_NONE);
}

static void test_preempt_weakest_tie_is_newest_holder(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 10, .holds_vf = true, .last_change = 100 * S },
                { .pool = 0, .priority = 10, .holds_vf = true, .last_change = 200 * S },
                { .pool = 0, .priority = 90, .waiting = true, .waiting_since = 300 * S },
        };
        unsigned free_vfs[] = { 0 };
        SchedPlan plan = sched_plan(p, 3, free_vfs, 1, 10, 30 * S, NOW);

        assert_int_equal(plan.action, SCHED_PREEMPT);
        assert_int_equal(plan.victim, 1);
}

static void test_preempt_rate_limited(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 10, .holds_vf = true, .last_change = NOW - 5 * S },
                { .pool = 0, .priority = 90, .waiting = true, .waiting_since = NOW - 1 * S },
        };
        unsigned free_vfs[] = { 0 };
        SchedPlan plan = sched_plan(p, 2, free_vfs, 1, 10, 30 * S, NOW);

        /* the holder got its VF 5 s ago: not before 25 s from now */
        assert_int_equal(plan.action, SCHED_NONE);
        assert_true(plan.retry_at == NOW + 25 * S);

        plan = sched_plan(p, 2, free_vfs, 1, 10, 30 * S, NOW + 25 * S);
        assert_int_equal(plan.action, SCHED_PREEMPT);

        /* a waiter that just lost its VF cannot take one back at once either */
        p[1].last_change = NOW + 20 * S;
        plan = sched_plan(p, 2, free_vfs, 1, 10, 30 * S, NOW + 25 * S);
        assert_int_equal(plan.action, SCHED_NONE);
        assert_true(plan.retry_at == NOW + 50 * S);
}

static void test_busy_holder_is_not_a_victim(void **state) {
        SchedPort p[] = {
                { .pool = 0, .priority = 10, .holds_vf = true, .busy = true },
                { .pool = 0, .priority = 90, .waiting = true },
        };
        unsigned free_vfs[] = { 0 };
        SchedPlan plan = sched_plan(p, 2, free_vfs, 1, 10, 0, NOW);

        assert_int_equal(plan.action, SCHED_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_free_vf_goes_to_highest_priority),
                cmocka_unit_test(test_ties_go_to_longest_waiting),
                cmocka_unit_test(test_busy_and_other_pools_are_skipped),
                cmocka_unit_test(test_nothing_to_do),
                cmocka_unit_test(test_preempt_needs_margin),
                cmocka_unit_test(test_preempt_weakest_tie_is_newest_holder),
                cmocka_unit_test(test_preempt_rate_limited),
                cmocka_unit_test(test_busy_holder_is_not_a_victim),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
