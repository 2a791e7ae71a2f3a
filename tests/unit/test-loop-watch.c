/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loop watch on a real sd-event loop: a handler that blocks is counted
 * once, with how long it took and the notes it made; quick turns and
 * sleeping are not. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/log.h"
#include "lib/loop-watch.h"

static int on_block(sd_event_source *s, void *userdata) {
        usleep(60 * 1000);      /* what a blocked handler does to the loop */
        return 0;
}

/* Blocks between two notes, as a handler waiting on libvirt does. */
static int on_block_noted(sd_event_source *s, void *userdata) {
        loop_watch_note("test: the call of", "vm1");
        usleep(60 * 1000);
        loop_watch_note("test: answered for", "vm1");
        return 0;
}

static int on_quick_noted(sd_event_source *s, void *userdata) {
        loop_watch_note("test: a quick turn's", NULL);
        return 0;
}

static int on_many_notes(sd_event_source *s, void *userdata) {
        for (int i = 0; i < 20; i++) {
                char n[16];

                snprintf(n, sizeof(n), "%d", i);
                loop_watch_note("test: note", n);
        }
        usleep(60 * 1000);
        loop_watch_note("test: done", NULL);
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

        assert_non_null(strstr(w.last_notes, "Nothing was noted"));

        assert_int_equal(sd_event_add_defer(e, NULL, on_quick, &quick), 0);
        run_turns(e);
        assert_int_equal(quick, 4);
        assert_int_equal(w.n_slow, 1);

        /* the notes of a slow turn, in order, with their times: the gap is
         * between the two; a quick turn's notes are forgotten */
        assert_int_equal(sd_event_add_defer(e, NULL, on_quick_noted, NULL), 0);
        run_turns(e);
        assert_int_equal(sd_event_add_defer(e, NULL, on_block_noted, NULL), 0);
        run_turns(e);
        assert_int_equal(w.n_slow, 2);
        {
                const char *a = strstr(w.last_notes, "+0 ms test: the call of vm1");
                const char *b = strstr(w.last_notes, "test: answered for vm1");
                unsigned ms = 0;

                assert_non_null(a);
                assert_non_null(b);
                assert_true(b > a);
                assert_null(strstr(w.last_notes, "quick"));
                assert_int_equal(sscanf(strrchr(w.last_notes, '+'), "+%u ms", &ms), 1);
                assert_true(ms >= 60);
        }
        /* more than LOOP_WATCH_NOTES: the last ones are kept */
        assert_int_equal(sd_event_add_defer(e, NULL, on_many_notes, NULL), 0);
        run_turns(e);
        assert_int_equal(w.n_slow, 3);
        assert_non_null(strstr(w.last_notes, "note 19;"));
        assert_null(strstr(w.last_notes, "note 11;"));
        assert_non_null(strstr(w.last_notes, "the last 8 of 21 notes"));

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
