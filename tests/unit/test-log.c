/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: return values, %m, priority prefixes on stderr, level parsing. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/log.h"

/* Runs 'fn' with stderr redirected to a pipe and returns what it wrote. */
static char *capture_stderr(void (*fn)(void)) {
        static char buf[4096];
        int fds[2], saved;
        ssize_t n;

        assert_int_equal(pipe(fds), 0);
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        assert_true(saved >= 0);
        assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
        close(fds[1]);

        fn();
        fflush(stderr);

        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        n = read(fds[0], buf, sizeof(buf) - 1);
        close(fds[0]);
        assert_true(n >= 0);
        buf[n] = '\0';
        return buf;
}

static void log_two_lines(void) {
        log_set_target(LOG_TARGET_STDERR);
        log_set_max_level(LOG_INFO);
        errno = EINTR;
        assert_int_equal(log_error_errno(ENOENT, "Failed to open '%s': %m", "x"), -ENOENT);
        assert_int_equal(errno, EINTR);         /* logging leaves errno alone */
        assert_int_equal(log_warning_errno(-EBUSY, "Busy: %m"), -EBUSY);
        log_debug("not shown at level info");
        log_notice("plain");
}

static void test_log_stderr_prefixes_and_errno(void **state) {
        const char *out = capture_stderr(log_two_lines);

        /* A pipe is not a terminal: each line carries its syslog priority. */
        assert_non_null(strstr(out, "<3>Failed to open 'x': No such file or directory\n"));
        assert_non_null(strstr(out, "<4>Busy: Device or resource busy\n"));
        assert_non_null(strstr(out, "<5>plain\n"));
        assert_null(strstr(out, "not shown"));
}

static void log_one_line(void) {
        log_set_target(LOG_TARGET_STDERR);
        log_set_max_level(LOG_INFO);
        log_info("timed");
}

/* VFO_LOG_TIME=1: the monotonic time after the priority, as the kernel's
 * console has it; otherwise none. */
static void test_log_stderr_time(void **state) {
        const char *out, *dot;
        double t;
        char rest[16];

        assert_int_equal(setenv("VFO_LOG_TIME", "1", 1), 0);
        out = capture_stderr(log_one_line);
        assert_int_equal(sscanf(out, "<6>[%lf] %15s", &t, rest), 2);
        assert_true(t > 0);
        assert_string_equal(rest, "timed");
        dot = strchr(out, '.');                 /* microseconds: six digits, then "] " */
        assert_non_null(dot);
        assert_int_equal(strspn(dot + 1, "0123456789"), 6);
        assert_memory_equal(dot + 7, "] ", 2);
        assert_int_equal(unsetenv("VFO_LOG_TIME"), 0);
        out = capture_stderr(log_one_line);
        assert_string_equal(out, "<6>timed\n");
}

static void test_log_below_level_still_returns_error(void **state) {
        log_set_max_level(LOG_EMERG);
        assert_int_equal(log_error_errno(EIO, "suppressed"), -EIO);
        assert_int_equal(log_debug_errno(-EPERM, "suppressed"), -EPERM);
}

static void test_log_level_from_string(void **state) {
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("error"), LOG_ERR);
        assert_int_equal(log_level_from_string("warning"), LOG_WARNING);
        assert_int_equal(log_level_from_string("6"), LOG_INFO);
        assert_int_equal(log_level_from_string("8"), -EINVAL);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
        assert_int_equal(log_level_from_string(NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log_stderr_prefixes_and_errno),
                cmocka_unit_test(test_log_stderr_time),
                cmocka_unit_test(test_log_below_level_still_returns_error),
                cmocka_unit_test(test_log_level_from_string),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
