/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The phase machine of jobs (agent/host/job-phase.c): each kind's path,
 * graceful and abrupt, ends in DONE; every move a job makes is allowed,
 * and the moves no job makes are not. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/host/job-phase.h"

#define END _JOB_PHASE_INVALID

/* Walks job_phase_next() from 'start' and compares with 'want' (END-terminated). */
static void check_path(JobKind kind, bool abrupt, JobPhase start, const JobPhase *want) {
        JobPhase p = start;
        size_t i = 0;

        for (;;) {
                assert_int_equal(p, want[i]);
                if (p == JOB_PHASE_DONE)
                        break;
                JobPhase next = job_phase_next(kind, p, abrupt);
                assert_true(job_phase_allowed(kind, p, next));
                p = next;
                i++;
                assert_true(i < 16);
        }
        assert_int_equal(want[i + 1], END);
        assert_int_equal(job_phase_next(kind, JOB_PHASE_DONE, abrupt), END);
}

static void test_attach_graceful(void **state) {
        static const JobPhase want[] = {
                JOB_PHASE_CLAIMING,      JOB_PHASE_PROGRAMMING, JOB_PHASE_PREPARING, JOB_PHASE_PLUGGING,
                JOB_PHASE_WAITING_AGENT, JOB_PHASE_STEERING,    JOB_PHASE_SWITCHING, JOB_PHASE_DONE, END,
        };
        check_path(JOB_ATTACH, false, JOB_PHASE_CLAIMING, want);
}

static void test_attach_abrupt(void **state) {
        /* no agent: no PrepareAttach, no wait for AttachReady, no SteeringMoved */
        static const JobPhase want[] = {
                JOB_PHASE_CLAIMING, JOB_PHASE_PROGRAMMING, JOB_PHASE_PLUGGING, JOB_PHASE_STEERING, JOB_PHASE_DONE, END,
        };
        check_path(JOB_ATTACH, true, JOB_PHASE_CLAIMING, want);
}

static void test_detach_graceful(void **state) {
        static const JobPhase want[] = {
                JOB_PHASE_CHECKING,   JOB_PHASE_PREPARING, JOB_PHASE_STEERING, JOB_PHASE_SWITCHING,
                JOB_PHASE_UNPLUGGING, JOB_PHASE_RELEASING, JOB_PHASE_DONE,     END,
        };
        check_path(JOB_DETACH, false, JOB_PHASE_CHECKING, want);
}

static void test_detach_abrupt(void **state) {
        static const JobPhase want[] = {
                JOB_PHASE_CHECKING, JOB_PHASE_STEERING, JOB_PHASE_UNPLUGGING, JOB_PHASE_RELEASING, JOB_PHASE_DONE, END,
        };
        check_path(JOB_DETACH, true, JOB_PHASE_CHECKING, want);
}

static void test_migrate(void **state) {
        static const JobPhase want[] = {
                JOB_PHASE_CHECKING,  JOB_PHASE_CLAIMING_DESTINATION, JOB_PHASE_DETACHING,
                JOB_PHASE_MIGRATING, JOB_PHASE_DONE,                 END,
        };
        check_path(JOB_MIGRATE, false, JOB_PHASE_CHECKING, want);
}

typedef struct Move {
        JobPhase from, to;
} Move;

/* Every move a job of 'kind' may make but rolling back: exactly 'want'. */
static void check_moves(JobKind kind, const Move *want, size_t n_want) {
        for (JobPhase from = 0; from < _JOB_PHASE_MAX; from++)
                for (JobPhase to = 0; to < _JOB_PHASE_MAX; to++) {
                        bool listed = false;

                        if (to == JOB_PHASE_ROLLING_BACK)
                                continue;
                        for (size_t i = 0; i < n_want; i++)
                                listed = listed || (want[i].from == from && want[i].to == to);
                        if (job_phase_allowed(kind, from, to) != listed)
                                fail_msg("%s: %s -> %s is %s", job_kind_to_string(kind), job_phase_to_string(from),
                                         job_phase_to_string(to), listed ? "refused" : "allowed");
                }
}

static void test_attach_moves(void **state) {
        static const Move want[] = {
                { JOB_PHASE_CHECKING, JOB_PHASE_PROGRAMMING },   { JOB_PHASE_CLAIMING, JOB_PHASE_PROGRAMMING },
                { JOB_PHASE_PROGRAMMING, JOB_PHASE_PREPARING },  { JOB_PHASE_PROGRAMMING, JOB_PHASE_PLUGGING },
                { JOB_PHASE_PREPARING, JOB_PHASE_PLUGGING },     { JOB_PHASE_PREPARING, JOB_PHASE_PROGRAMMING },
                { JOB_PHASE_PLUGGING, JOB_PHASE_WAITING_AGENT }, { JOB_PHASE_PLUGGING, JOB_PHASE_STEERING },
                { JOB_PHASE_WAITING_AGENT, JOB_PHASE_STEERING }, { JOB_PHASE_STEERING, JOB_PHASE_SWITCHING },
                { JOB_PHASE_STEERING, JOB_PHASE_DONE },          { JOB_PHASE_SWITCHING, JOB_PHASE_DONE },
        };
        check_moves(JOB_ATTACH, want, sizeof(want) / sizeof(want[0]));
}

static void test_detach_moves(void **state) {
        static const Move want[] = {
                { JOB_PHASE_CHECKING, JOB_PHASE_PREPARING },    { JOB_PHASE_CHECKING, JOB_PHASE_STEERING },
                { JOB_PHASE_CHECKING, JOB_PHASE_RELEASING },    { JOB_PHASE_PREPARING, JOB_PHASE_STEERING },
                { JOB_PHASE_PREPARING, JOB_PHASE_CHECKING },    { JOB_PHASE_STEERING, JOB_PHASE_SWITCHING },
                { JOB_PHASE_STEERING, JOB_PHASE_UNPLUGGING },   { JOB_PHASE_SWITCHING, JOB_PHASE_UNPLUGGING },
                { JOB_PHASE_UNPLUGGING, JOB_PHASE_RELEASING },  { JOB_PHASE_RELEASING, JOB_PHASE_DONE },
        };
        check_moves(JOB_DETACH, want, sizeof(want) / sizeof(want[0]));
}

static void test_migrate_moves(void **state) {
        static const Move want[] = {
                { JOB_PHASE_CHECKING, JOB_PHASE_CLAIMING_DESTINATION },
                { JOB_PHASE_CLAIMING_DESTINATION, JOB_PHASE_DETACHING },
                { JOB_PHASE_DETACHING, JOB_PHASE_MIGRATING },
                { JOB_PHASE_MIGRATING, JOB_PHASE_DONE },
        };
        check_moves(JOB_MIGRATE, want, sizeof(want) / sizeof(want[0]));
}

static void test_rollback(void **state) {
        /* from each of the kind's phases but the ends; never out of ROLLING_BACK or DONE */
        static const JobPhase attach[] = { JOB_PHASE_CHECKING, JOB_PHASE_CLAIMING, JOB_PHASE_PROGRAMMING,
                                           JOB_PHASE_PREPARING, JOB_PHASE_PLUGGING, JOB_PHASE_WAITING_AGENT,
                                           JOB_PHASE_STEERING, JOB_PHASE_SWITCHING };

        for (JobPhase p = 0; p < _JOB_PHASE_MAX; p++) {
                bool in = false;
                for (size_t i = 0; i < sizeof(attach) / sizeof(attach[0]); i++)
                        in = in || attach[i] == p;
                assert_int_equal(job_phase_allowed(JOB_ATTACH, p, JOB_PHASE_ROLLING_BACK), in);
        }
        assert_true(job_phase_allowed(JOB_DETACH, JOB_PHASE_UNPLUGGING, JOB_PHASE_ROLLING_BACK));
        assert_false(job_phase_allowed(JOB_DETACH, JOB_PHASE_PLUGGING, JOB_PHASE_ROLLING_BACK));
        assert_true(job_phase_allowed(JOB_MIGRATE, JOB_PHASE_MIGRATING, JOB_PHASE_ROLLING_BACK));
        for (JobKind k = 0; k < _JOB_KIND_MAX; k++)
                for (JobPhase to = 0; to < _JOB_PHASE_MAX; to++) {
                        assert_false(job_phase_allowed(k, JOB_PHASE_DONE, to));
                        assert_false(job_phase_allowed(k, JOB_PHASE_ROLLING_BACK, to));
                }
}

static void test_invalid_input(void **state) {
        assert_false(job_phase_allowed(_JOB_KIND_INVALID, JOB_PHASE_CHECKING, JOB_PHASE_DONE));
        assert_false(job_phase_allowed(JOB_ATTACH, _JOB_PHASE_INVALID, JOB_PHASE_DONE));
        assert_false(job_phase_allowed(JOB_ATTACH, JOB_PHASE_SWITCHING, _JOB_PHASE_MAX));
        assert_int_equal(job_phase_next(_JOB_KIND_MAX, JOB_PHASE_CHECKING, false), END);
        assert_int_equal(job_phase_from_string("waiting-agent"), JOB_PHASE_WAITING_AGENT);
        assert_true(job_phase_from_string("nope") < 0);
        assert_string_equal(job_kind_to_string(JOB_MIGRATE), "migrate");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_attach_graceful),
                cmocka_unit_test(test_attach_abrupt),
                cmocka_unit_test(test_detach_graceful),
                cmocka_unit_test(test_detach_abrupt),
                cmocka_unit_test(test_migrate),
                cmocka_unit_test(test_attach_moves),
                cmocka_unit_test(test_detach_moves),
                cmocka_unit_test(test_migrate_moves),
                cmocka_unit_test(test_rollback),
                cmocka_unit_test(test_invalid_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
