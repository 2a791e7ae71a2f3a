/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/parse-util: the value parsers vfod.conf, vfo-agent.conf and vfoctl share. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/parse-util.h"

static void test_boolean(void **state) {
        static const char *const yes[] = { "1", "yes", "YES", "y", "Y", "true", "True", "on", "ON" };
        static const char *const no[] = { "0", "no", "No", "n", "N", "false", "FALSE", "off", "Off" };
        static const char *const bad[] = { "", "2", "yess", "t", "f", "enable", " yes", "yes ", "-1", "01" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                assert_int_equal(parse_boolean(yes[i]), 1);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_int_equal(parse_boolean(no[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_boolean(bad[i]), -EINVAL);
        assert_int_equal(parse_boolean(NULL), -EINVAL);
}

static void test_uint(void **state) {
        unsigned u = 77;
        uint64_t v = 77;

        assert_int_equal(parse_uint("0", 0, 10, &u), 0);
        assert_int_equal(u, 0);
        assert_int_equal(parse_uint("10", 0, 10, &u), 0);
        assert_int_equal(u, 10);
        assert_int_equal(parse_uint("007", 0, 10, &u), 0);
        assert_int_equal(u, 7);
        assert_int_equal(parse_uint("4294967295", 0, UINT32_MAX, &u), 0);
        assert_int_equal(u, UINT32_MAX);

        /* out of range: filled only on success */
        u = 77;
        assert_int_equal(parse_uint("11", 0, 10, &u), -ERANGE);
        assert_int_equal(parse_uint("0", 1, 10, &u), -ERANGE);
        assert_int_equal(parse_uint("4294967296", 0, UINT32_MAX, &u), -ERANGE);
        assert_int_equal(u, 77);

        /* not a number */
        assert_int_equal(parse_uint("", 0, 10, &u), -EINVAL);
        assert_int_equal(parse_uint(NULL, 0, 10, &u), -EINVAL);
        assert_int_equal(parse_uint("-1", 0, 10, &u), -EINVAL);
        assert_int_equal(parse_uint("+1", 0, 10, &u), -EINVAL);
        assert_int_equal(parse_uint(" 1", 0, 10, &u), -EINVAL);
        assert_int_equal(parse_uint("1 ", 0, 10, &u), -EINVAL);
        assert_int_equal(parse_uint("1.5", 0, 10, &u), -EINVAL);
        assert_int_equal(parse_uint("1e3", 0, 10000, &u), -EINVAL);
        assert_int_equal(parse_uint("0x10", 0, 100, &u), -EINVAL);
        assert_int_equal(u, 77);

        assert_int_equal(parse_uint64("4294967295", 0, UINT32_MAX, &v), 0);
        assert_true(v == UINT32_MAX);
        assert_int_equal(parse_uint64("4294967296", 0, UINT32_MAX, &v), -ERANGE);
        assert_int_equal(parse_uint64("18446744073709551615", 0, UINT64_MAX, &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse_uint64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_uint64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_uint64("99999999999999999999999x", 0, UINT64_MAX, &v), -EINVAL);
        assert_true(v == UINT64_MAX);
}

static void test_seconds(void **state) {
        static const usec_t max = 3600 * USEC_PER_SEC;
        static const struct {
                const char *s;
                usec_t usec;
        } good[] = {
                { "30", 30 * USEC_PER_SEC },
                { "0.5", USEC_PER_SEC / 2 },
                { "2.25", 2250000 },
                { "0.000001", 1 },
                { "0.0000010", 1 },
                { "3600", 3600 * USEC_PER_SEC },
                { "3600.000", 3600 * USEC_PER_SEC },
                { "007", 7 * USEC_PER_SEC },
        };
        static const struct {
                const char *s;
                int error;
        } bad[] = {
                { "0", -ERANGE },
                { "0.0", -ERANGE },
                { "3600.5", -ERANGE },
                { "3601", -ERANGE },
                { "99999999999999999999999", -ERANGE },
                { "0.0000001", -ERANGE },       /* below a microsecond */
                { "", -EINVAL },
                { ".5", -EINVAL },
                { "5.", -EINVAL },
                { "20s", -EINVAL },
                { "-1", -EINVAL },
                { "+1", -EINVAL },
                { " 1", -EINVAL },
                { "1 ", -EINVAL },
                { "1,5", -EINVAL },
        };
        usec_t v;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                v = 0;
                assert_int_equal(parse_seconds(good[i].s, 1, max, &v), 0);
                assert_true(v == good[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                v = 42;
                if (parse_seconds(bad[i].s, 1, max, &v) != bad[i].error)
                        fail_msg("'%s': want %d", bad[i].s, bad[i].error);
                assert_true(v == 42);
        }
        assert_int_equal(parse_seconds(NULL, 1, max, &v), -EINVAL);
        assert_int_equal(parse_seconds("0", 0, max, &v), 0);
        assert_true(v == 0);
}

static void test_mac(void **state) {
        static const char *const bad[] = {
                "", "52:54:00:77:00:1", "52:54:00:77:00:111", "52-54-00-77-00-11", "52:54:00:77:00:1g",
                "5:54:00:77:00:11:", "525400770011", " 52:54:00:77:00:11", "52:54:00:77:00:11 ", "52:54:00:77:0011:",
        };
        uint8_t m[ETHER_ADDR_LEN_BYTES] = {};
        char buf[MAC_STRING_MAX];

        assert_int_equal(parse_mac("52:54:00:AB:cd:EF", m), 0);
        assert_memory_equal(m, ((uint8_t[]) { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef }), 6);
        assert_string_equal(mac_to_string(m, buf), "52:54:00:ab:cd:ef");
        assert_int_equal(parse_mac("ff:ff:ff:ff:ff:ff", NULL), 0);   /* any address parses */
        assert_int_equal(parse_mac("00:00:00:00:00:00", NULL), 0);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (parse_mac(bad[i], m) != -EINVAL)
                        fail_msg("'%s' parsed", bad[i]);
                assert_int_equal(mac_normalize(bad[i], buf), -EINVAL);
                assert_false(mac_is_valid(bad[i]));
        }
        assert_int_equal(parse_mac(NULL, m), -EINVAL);

        assert_int_equal(mac_normalize("52:54:00:AB:cd:EF", buf), 0);
        assert_string_equal(buf, "52:54:00:ab:cd:ef");

        /* a port's MAC: unicast and not all zero */
        assert_true(mac_is_valid("52:54:00:77:00:11"));
        assert_true(mac_is_valid("52:54:00:AB:cd:EF"));
        assert_false(mac_is_valid("00:00:00:00:00:00"));
        assert_false(mac_is_valid("ff:ff:ff:ff:ff:ff"));        /* broadcast */
        assert_false(mac_is_valid("01:00:5e:00:00:01"));        /* multicast */
        assert_false(mac_is_valid("33:33:00:00:00:01"));
        assert_false(mac_is_valid(NULL));
}

static void test_uuid(void **state) {
        static const char *const bad[] = {
                "",
                "5f1c0000-0000-4000-8000-00000000000",          /* short */
                "5f1c0000-0000-4000-8000-0000000000000",        /* long */
                "5f1c0000x0000-4000-8000-000000000000",
                "5g1c0000-0000-4000-8000-000000000000",
                "5f1c00000000-4000-8000-000000000000-",
                "5f1c0000000040008000000000000000a",            /* 33 digits */
                " 5f1c0000-0000-4000-8000-000000000000",
                "../../../../etc/passwd-0000-00000000",
        };
        char u[UUID_STRING_MAX];

        assert_int_equal(parse_uuid("5F1C0000-ABCD-4000-8000-00000000000f", u), 0);
        assert_string_equal(u, "5f1c0000-abcd-4000-8000-00000000000f");
        assert_int_equal(parse_uuid("5F1C0000ABCD4000800000000000000F", u), 0);
        assert_string_equal(u, "5f1c0000-abcd-4000-8000-00000000000f");

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (parse_uuid(bad[i], u) != -EINVAL)
                        fail_msg("'%s' parsed", bad[i]);
                assert_false(uuid_is_valid(bad[i]));
        }
        assert_int_equal(parse_uuid(NULL, u), -EINVAL);

        /* uuid_is_valid(): the dashed form only */
        assert_true(uuid_is_valid("5f1c0000-0000-4000-8000-000000000000"));
        assert_true(uuid_is_valid("5F1C0000-ABCD-4000-8000-00000000000f"));
        assert_false(uuid_is_valid("5f1c0000000040008000000000000000"));
        assert_false(uuid_is_valid(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_boolean), cmocka_unit_test(test_uint), cmocka_unit_test(test_seconds),
                cmocka_unit_test(test_mac),     cmocka_unit_test(test_uuid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
