/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/keyfile: section and assignment callbacks in file order, with their
 * lines, and errors that name the file and line. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/keyfile.h"
#include "lib/macro.h"

/* What the callbacks saw, one "LINE [SECTION]" or "LINE SECTION/KEY=VALUE" a line. */
typedef struct Trace {
        char text[1024];
        size_t n;
        unsigned fail_line;     /* a callback on this line fails */
} Trace;

static int trace_add(Trace *t, const KeyfileLocation *loc, char *why, size_t why_size, const char *format, ...)
        _printf_(5, 6);
static int trace_add(Trace *t, const KeyfileLocation *loc, char *why, size_t why_size, const char *format, ...) {
        va_list ap;

        assert_string_equal(loc->file, "test.conf");
        t->n += (size_t) snprintf(t->text + t->n, sizeof(t->text) - t->n, "%u ", loc->line);
        va_start(ap, format);
        t->n += (size_t) vsnprintf(t->text + t->n, sizeof(t->text) - t->n, format, ap);
        va_end(ap);
        t->n += (size_t) snprintf(t->text + t->n, sizeof(t->text) - t->n, "\n");
        assert_true(t->n < sizeof(t->text));

        if (loc->line != t->fail_line)
                return 0;
        snprintf(why, why_size, "refused on line %u", loc->line);
        return -ENOEXEC;
}

static int on_section(const KeyfileLocation *loc, const char *section, void *userdata, char *why, size_t why_size) {
        return trace_add(userdata, loc, why, why_size, "[%s]", section);
}

static int on_assign(const KeyfileLocation *loc, const char *section, const char *key, const char *value,
                     void *userdata, char *why, size_t why_size) {
        return trace_add(userdata, loc, why, why_size, "%s/%s=%s", section, key, value);
}

static int parse(const char *text, Trace *t, bool sections, char **ret_message) {
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int r;

        assert_non_null(f);
        r = keyfile_parse(f, "test.conf", sections ? on_section : NULL, on_assign, t, ret_message);
        fclose(f);
        return r;
}

static void test_callbacks_in_order(void **state) {
        static const char text[] = "# comment\n"
                                   "[ Daemon ]\n"
                                   "  Key = a value  \n"
                                   "\n"
                                   "; another comment\n"
                                   "[Empty]\n"
                                   "[Pool lab]\n"
                                   "Type=emulated\n"
                                   "Empty=\n";
        Trace t = {};
        char *msg = NULL;

        assert_int_equal(parse(text, &t, true, &msg), 0);
        assert_null(msg);
        assert_string_equal(t.text, "2 [Daemon]\n"
                                    "3 Daemon/Key=a value\n"
                                    "6 [Empty]\n"
                                    "7 [Pool lab]\n"
                                    "8 Pool lab/Type=emulated\n"
                                    "9 Pool lab/Empty=\n");

        /* without a section callback: the assignments alone */
        t = (Trace) {};
        assert_int_equal(parse(text, &t, false, &msg), 0);
        assert_string_equal(t.text, "3 Daemon/Key=a value\n"
                                    "8 Pool lab/Type=emulated\n"
                                    "9 Pool lab/Empty=\n");
}

static void test_callback_errors_name_the_line(void **state) {
        static const char text[] = "[A]\nx=1\n\n[B]\ny=2\n[C]\n";
        Trace t = { .fail_line = 4 };
        char *msg = NULL;

        /* a section callback refusing its header stops parsing there */
        assert_int_equal(parse(text, &t, true, &msg), -ENOEXEC);
        assert_string_equal(msg, "test.conf:4: refused on line 4");
        assert_string_equal(t.text, "1 [A]\n2 A/x=1\n4 [B]\n");
        free(msg);

        /* an assignment callback likewise */
        t = (Trace) { .fail_line = 5 };
        assert_int_equal(parse(text, &t, true, &msg), -ENOEXEC);
        assert_string_equal(msg, "test.conf:5: refused on line 5");
        free(msg);

        /* the section comes before a syntax error below it */
        t = (Trace) { .fail_line = 1 };
        assert_int_equal(parse("[A]\n\njunk\n", &t, true, &msg), -ENOEXEC);
        assert_string_equal(msg, "test.conf:1: refused on line 1");
        free(msg);

        /* NULL: no message wanted */
        t = (Trace) { .fail_line = 1 };
        assert_int_equal(parse("[A]\n", &t, true, NULL), -ENOEXEC);
}

static void test_syntax_errors(void **state) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                { "[A]\njunk\n", "test.conf:2: expected Key=Value, got 'junk'" },
                { "x=1\n", "test.conf:1: assignment outside of a section" },
                { "\n[A\n", "test.conf:2: invalid section header '[A'" },
                { "[]\n", "test.conf:1: invalid section header '[]'" },
                { "[A] x\n", "test.conf:1: invalid section header '[A] x'" },
                { "[A]\n=1\n", "test.conf:2: empty key" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Trace t = {};
                char *msg = NULL;

                assert_int_equal(parse(cases[i].text, &t, true, &msg), -EBADMSG);
                assert_string_equal(msg, cases[i].message);
                free(msg);
        }
}

static void test_long_line(void **state) {
        size_t n = 5000;
        char *text = malloc(n + 16);
        Trace t = {};
        char *msg = NULL;

        assert_non_null(text);
        strcpy(text, "[A]\nk=");
        memset(text + 6, 'v', n);
        strcpy(text + 6 + n, "\n");
        assert_int_equal(parse(text, &t, true, &msg), -EBADMSG);
        assert_string_equal(msg, "test.conf:2: line longer than 4096 bytes");
        assert_string_equal(t.text, "1 [A]\n");
        free(msg);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_callbacks_in_order),
                cmocka_unit_test(test_callback_errors_name_the_line),
                cmocka_unit_test(test_syntax_errors),
                cmocka_unit_test(test_long_line),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
