/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl's JSON emitter, tables and exit codes (agent/ctl/format.c). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/ctl/format.h"

/* Runs fn on a writer over a memory stream and returns what it wrote. */
static char *capture(void (*fn)(JsonWriter *w, const void *arg), const void *arg) {
        char *data = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&data, &size);
        JsonWriter w;

        assert_non_null(f);
        w = JSON_WRITER_INIT(f);
        fn(&w, arg);
        assert_int_equal(w.depth, 0);
        assert_int_equal(fclose(f), 0);
        return data;
}

static void write_string(JsonWriter *w, const void *arg) {
        json_string(w, arg);
}

static void assert_escaped(const char *in, const char *expected) {
        char *out = capture(write_string, in);

        assert_string_equal(out, expected);
        free(out);
}

static void test_escape_plain(void **state) {
        assert_escaped("", "\"\"");
        assert_escaped(NULL, "\"\"");
        assert_escaped("web1", "\"web1\"");
        assert_escaped("/org/vfo1/job/7", "\"/org/vfo1/job/7\"");  /* '/' needs no escape */
}

static void test_escape_quote_backslash(void **state) {
        assert_escaped("a\"b", "\"a\\\"b\"");
        assert_escaped("C:\\x", "\"C:\\\\x\"");
        assert_escaped("\\\"", "\"\\\\\\\"\"");
}

static void test_escape_control_chars(void **state) {
        assert_escaped("a\nb\tc\rd", "\"a\\nb\\tc\\rd\"");
        assert_escaped("\b\f", "\"\\b\\f\"");
        assert_escaped("\x01\x1f", "\"\\u0001\\u001f\"");
        assert_escaped("\x1b[K", "\"\\u001b[K\"");
        assert_escaped("\x7f", "\"\\u007f\"");

        /* every control character comes out escaped */
        for (int c = 1; c < 0x20; c++) {
                char in[2] = { (char) c, 0 };
                char *out = capture(write_string, in);

                assert_int_equal(out[0], '"');
                assert_int_equal(out[1], '\\');
                free(out);
        }
}

static void test_escape_utf8(void **state) {
        /* valid UTF-8 passes as it is */
        assert_escaped("Gr\xc3\xbc\xc3\x9f"
                       "e \xe2\x82\xac \xf0\x9f\x98\x80",
                       "\"Gr\xc3\xbc\xc3\x9f"
                       "e \xe2\x82\xac \xf0\x9f\x98\x80\"");
        /* invalid bytes, truncated sequences, overlong forms and surrogates become U+FFFD */
        assert_escaped("a\xff" "b", "\"a\\ufffdb\"");
        assert_escaped("\xc3", "\"\\ufffd\"");
        assert_escaped("\xe2\x82", "\"\\ufffd\\ufffd\"");
        assert_escaped("\xc0\xaf", "\"\\ufffd\\ufffd\"");
        assert_escaped("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
        assert_escaped("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void write_nested(JsonWriter *w, const void *arg) {
        json_begin_object(w);
        json_field_string(w, "name", "web\"1");
        json_field_uint(w, "priority", 100);
        json_field_bool(w, "required", false);
        json_key(w, "ports");
        json_begin_array(w);
        json_begin_object(w);
        json_field_string(w, "mac", "52:54:00:00:00:01");
        json_key(w, "job");
        json_null(w);
        json_end_object(w);
        json_begin_object(w);
        json_end_object(w);
        json_end_array(w);
        json_key(w, "empty");
        json_begin_array(w);
        json_end_array(w);
        json_key(w, "n");
        json_int(w, -5);
        json_key(w, "raw");
        json_raw(w, "18446744073709551615");
        json_end_object(w);
}

static void test_structure(void **state) {
        char *out = capture(write_nested, NULL);

        assert_string_equal(out, "{\"name\":\"web\\\"1\",\"priority\":100,\"required\":false,"
                                 "\"ports\":[{\"mac\":\"52:54:00:00:00:01\",\"job\":null},{}],"
                                 "\"empty\":[],\"n\":-5,\"raw\":18446744073709551615}");
        free(out);
}

static void write_array(JsonWriter *w, const void *arg) {
        json_begin_array(w);
        json_string(w, "a");
        json_uint(w, 1);
        json_bool(w, true);
        json_begin_array(w);
        json_begin_array(w);
        json_end_array(w);
        json_end_array(w);
        json_end_array(w);
}

static void test_array_commas(void **state) {
        char *out = capture(write_array, NULL);

        assert_string_equal(out, "[\"a\",1,true,[[]]]");
        free(out);
}

static void test_escaped_key(void **state) {
        char *data = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&data, &size);
        JsonWriter w = JSON_WRITER_INIT(f);

        json_begin_object(&w);
        json_field_string(&w, "k\n", "v");
        json_end_object(&w);
        fclose(f);
        assert_string_equal(data, "{\"k\\n\":\"v\"}");
        free(data);
}

static void test_exit_codes(void **state) {
        assert_int_equal(exit_code_from_error_name(NULL), EXIT_OK);
        assert_int_equal(exit_code_from_error_name(""), EXIT_OK);

        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.NoSuchDomain"), 3);
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.NoSuchPort"), 3);
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.NoSuchPool"), 3);

        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.AccessDenied"), 4);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.AccessDenied"), 4);

        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.ServiceUnknown"), 5);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.NameHasNoOwner"), 5);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.NoServer"), 5);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.Disconnected"), 5);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.NoReply"), 5);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.Timeout"), 5);

        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.Busy"), 6);
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.NoVfFree"), 6);

        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.InvalidArgument"), 2);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.InvalidArgs"), 2);

        /* everything else is a plain failure */
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.AgentTimeout"), 1);
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.Libvirt"), 1);
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.NotRunning"), 1);
        assert_int_equal(exit_code_from_error_name("org.freedesktop.DBus.Error.UnknownObject"), 1);
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error.NoSuchDomainX"), 1);
        assert_int_equal(exit_code_from_error_name("org.vfo1.Error"), 1);
}

static void test_error_name_short(void **state) {
        assert_string_equal(error_name_short("org.vfo1.Error.NoVfFree"), "NoVfFree");
        assert_string_equal(error_name_short("org.freedesktop.DBus.Error.AccessDenied"),
                            "org.freedesktop.DBus.Error.AccessDenied");
        assert_null(error_name_short(NULL));
}

static void test_table(void **state) {
        static const char *const headers[] = { "NAME", "STATE", "MAC" };
        static const char *const row1[] = { "web1", "running", "52:54:00:00:00:01" };
        static const char *const row2[] = { "d\xc3\xa9j\xc3\xa0", "", NULL };
        Table *t = table_new(3, headers);
        char *data = NULL;
        size_t size = 0;
        FILE *f;

        assert_non_null(t);
        assert_int_equal(table_add_row(t, row1), 0);
        assert_int_equal(table_add_row(t, row2), 0);
        assert_int_equal(table_rows(t), 2);
        f = open_memstream(&data, &size);
        table_print(t, f, true);
        fclose(f);
        assert_string_equal(data, "NAME  STATE    MAC\n"
                                  "web1  running  52:54:00:00:00:01\n"
                                  "d\xc3\xa9j\xc3\xa0  -        -\n");
        free(data);
        table_free(t);
}

static void test_duration(void **state) {
        char buf[32];

        assert_string_equal(format_duration(buf, sizeof(buf), 0), "0us");
        assert_string_equal(format_duration(buf, sizeof(buf), 850000), "850ms");
        assert_string_equal(format_duration(buf, sizeof(buf), 2310000), "2.31s");
        assert_string_equal(format_duration(buf, sizeof(buf), 65000000), "1min 05s");
        assert_string_equal(format_duration(buf, sizeof(buf), 3720000000ULL), "1h 02min");
}

static void test_bar_and_timestamp(void **state) {
        char buf[64];

        assert_string_equal(format_bar(buf, sizeof(buf), 0, 10), "[..........]");
        assert_string_equal(format_bar(buf, sizeof(buf), 40, 10), "[####......]");
        assert_string_equal(format_bar(buf, sizeof(buf), 100, 10), "[##########]");
        assert_string_equal(format_bar(buf, sizeof(buf), 250, 10), "[##########]");
        assert_string_equal(format_timestamp(buf, sizeof(buf), 1700000000123456ULL, true),
                            "2023-11-14T22:13:20.123Z");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_plain),
                cmocka_unit_test(test_escape_quote_backslash),
                cmocka_unit_test(test_escape_control_chars),
                cmocka_unit_test(test_escape_utf8),
                cmocka_unit_test(test_structure),
                cmocka_unit_test(test_array_commas),
                cmocka_unit_test(test_escaped_key),
                cmocka_unit_test(test_exit_codes),
                cmocka_unit_test(test_error_name_short),
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_bar_and_timestamp),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
