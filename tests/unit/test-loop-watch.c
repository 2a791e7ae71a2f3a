/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loop watch on a real sd-event loop: a handler that blocks is counted
 * once, with how long it took; quick turns and sleeping are not. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/log.h"
#include "lib/loop-watch.h"

static int on_block(sd_event_source *s, void *userdata) {
        usleep(60 * 1000);      /* what a blocked handler does to the loop */
        return 0;
}

static int on_quick(sd_event_source *s, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

static void run_turns(sd_event *e) {
        for (int i = 0; i < 4; i++)
                assert_true(sd_event_run(e, 0) >= 0);
}

static void test_loop_watch_counts_a_blocked_turn(void **state) {
        sd_event *e = NULL;
        LoopWatch w;
        unsigned quick = 0;

        log_set_max_level(LOG_ERR);     /* the warning is what is tested, not shown */
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(loop_watch_start(&w, e, 30 * USEC_PER_MSEC), 0);

        for (int i = 0; i < 3; i++) {
                assert_int_equal(sd_event_add_defer(e, NULL, on_quick, &quick), 0);
                run_turns(e);
        }
        assert_int_equal(quick, 3);
        /* sleeping with nothing to do is no blocked turn */
        assert_int_equal(sd_event_run(e, 80 * USEC_PER_MSEC), 0);
        run_turns(e);
        assert_int_equal(w.n_slow, 0);

        assert_int_equal(sd_event_add_defer(e, NULL, on_block, NULL), 0);
        run_turns(e);
        assert_int_equal(w.n_slow, 1);
        assert_true(w.longest >= 60 * USEC_PER_MSEC);
        assert_true(w.longest < 10 * USEC_PER_SEC);

        assert_int_equal(sd_event_add_defer(e, NULL, on_quick, &quick), 0);
        run_turns(e);
        assert_int_equal(quick, 4);
        assert_int_equal(w.n_slow, 1);

        loop_watch_stop(&w);
        assert_null(w.source);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loop_watch_counts_a_blocked_turn),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
