/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The announcement frame builders, byte by byte: gratuitous ARP and unsolicited Neighbour
 * Advertisement, with the ICMPv6 checksum re-derived here independently. No privileges. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/announce.h"

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

static struct in_addr test_in4(const char *s) {
        struct in_addr a;

        assert_int_equal(inet_pton(AF_INET, s, &a), 1);
        return a;
}

static struct in6_addr test_in6(const char *s) {
        struct in6_addr a;

        assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
        return a;
}

static uint16_t test_get_be16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

/* RFC 1071 over a flat buffer: written here, not shared with the code under test. */
static uint16_t test_inet_sum(const uint8_t *p, size_t n) {
        uint64_t sum = 0;

        for (size_t i = 0; i + 1 < n; i += 2)
                sum += test_get_be16(p + i);
        if (n % 2)
                sum += (uint64_t) p[n - 1] << 8;
        while (sum > 0xffff)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) sum;
}

static void test_announce_garp_is_exact_rfc5227_announcement(void **state) {
        static const uint8_t expected[ANNOUNCE_GARP_SIZE] = {
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             /* Ethernet broadcast */
                0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,             /* source MAC */
                0x08, 0x06,                                     /* ETH_P_ARP */
                0x00, 0x01,                                     /* hardware: Ethernet */
                0x08, 0x00,                                     /* protocol: IPv4 */
                0x06, 0x04,                                     /* hln, pln */
                0x00, 0x01,                                     /* op: REQUEST */
                0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,             /* sender MAC */
                192, 0, 2, 10,                                  /* sender IP */
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             /* target MAC: zero */
                192, 0, 2, 10,                                  /* target IP = sender IP */
        };
        struct in_addr a = test_in4("192.0.2.10");
        uint8_t buf[128];

        memset(buf, 0xaa, sizeof(buf));
        assert_int_equal(announce_build_garp(test_mac, &a, buf, sizeof(buf)), ANNOUNCE_GARP_SIZE);
        assert_memory_equal(buf, expected, sizeof(expected));
        assert_int_equal(buf[ANNOUNCE_GARP_SIZE], 0xaa);        /* nothing written past the frame */
}

static void test_announce_garp_refuses_bad_input(void **state) {
        struct in_addr a = test_in4("192.0.2.10");
        uint8_t buf[ANNOUNCE_GARP_SIZE];
        const char *bad[] = { "0.0.0.0", "255.255.255.255", "224.0.0.1", "239.1.2.3" };

        assert_int_equal(announce_build_garp(test_mac, &a, buf, sizeof(buf) - 1), -ENOBUFS);
        assert_int_equal(announce_build_garp(test_mac, &a, NULL, 0), -ENOBUFS);
        assert_int_equal(announce_build_garp(test_mac, &a, buf, sizeof(buf)), ANNOUNCE_GARP_SIZE);

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                a = test_in4(bad[i]);
                assert_int_equal(announce_build_garp(test_mac, &a, buf, sizeof(buf)), -EINVAL);
        }
}

/* Checks every field of an NA frame for 'target' and verifies its checksum. */
static void test_check_na(const uint8_t *f, const struct in6_addr *target) {
        static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
        struct in6_addr all_nodes = test_in6("ff02::1");
        const uint8_t *ip6 = f + 14, *icmp6 = f + 54, *opt = f + 78;
        uint8_t pseudo[40 + 32];

        /* Ethernet */
        assert_memory_equal(f, all_nodes_mac, 6);
        assert_memory_equal(f + 6, test_mac, 6);
        assert_int_equal(test_get_be16(f + 12), 0x86dd);

        /* IPv6 */
        assert_int_equal(ip6[0], 0x60);                 /* version 6, traffic class 0 */
        assert_int_equal(ip6[1], 0x00);
        assert_int_equal(test_get_be16(ip6 + 2), 0);    /* flow label */
        assert_int_equal(test_get_be16(ip6 + 4), 32);   /* payload: NA 24 + option 8 */
        assert_int_equal(ip6[6], 58);                   /* next header: ICMPv6 */
        assert_int_equal(ip6[7], 255);                  /* hop limit */
        assert_memory_equal(ip6 + 8, target, 16);       /* source: the target itself */
        assert_memory_equal(ip6 + 24, &all_nodes, 16);

        /* ICMPv6 NA */
        assert_int_equal(icmp6[0], 136);
        assert_int_equal(icmp6[1], 0);
        assert_int_equal(icmp6[4], 0x20);               /* R=0 S=0 O=1 */
        assert_int_equal(icmp6[5], 0);
        assert_int_equal(icmp6[6], 0);
        assert_int_equal(icmp6[7], 0);
        assert_memory_equal(icmp6 + 8, target, 16);

        /* Target Link-Layer Address option */
        assert_int_equal(opt[0], 2);
        assert_int_equal(opt[1], 1);                    /* 1 x 8 octets */
        assert_memory_equal(opt + 2, test_mac, 6);

        /* Checksum: pseudo-header (src, dst, length 32, zero, next header 58) + message;
         * the sum over everything including the stored checksum must be all ones. */
        assert_int_not_equal(test_get_be16(icmp6 + 2), 0);
        memset(pseudo, 0, sizeof(pseudo));
        memcpy(pseudo, target, 16);
        memcpy(pseudo + 16, &all_nodes, 16);
        pseudo[35] = 32;
        pseudo[39] = 58;
        memcpy(pseudo + 40, icmp6, 32);
        assert_int_equal(test_inet_sum(pseudo, sizeof(pseudo)), 0xffff);

        /* ... and recomputing with the field zeroed gives the stored value. */
        pseudo[40 + 2] = pseudo[40 + 3] = 0;
        assert_int_equal((uint16_t) ~test_inet_sum(pseudo, sizeof(pseudo)), test_get_be16(icmp6 + 2));
}

static void test_announce_na_global_target(void **state) {
        struct in6_addr a = test_in6("2001:db8::10");
        uint8_t buf[128];

        memset(buf, 0xaa, sizeof(buf));
        assert_int_equal(announce_build_na(test_mac, &a, buf, sizeof(buf)), ANNOUNCE_NA_SIZE);
        test_check_na(buf, &a);
        assert_int_equal(buf[ANNOUNCE_NA_SIZE], 0xaa);
}

static void test_announce_na_link_local_target(void **state) {
        struct in6_addr a = test_in6("fe80::5054:ff:feab:cdef");
        uint8_t buf[ANNOUNCE_NA_SIZE];

        assert_int_equal(announce_build_na(test_mac, &a, buf, sizeof(buf)), ANNOUNCE_NA_SIZE);
        test_check_na(buf, &a);
}

static void test_announce_na_odd_bytes_checksum(void **state) {
        /* All-ones target and MAC push every partial sum through the carry fold. */
        static const uint8_t mac_ff[6] = { 0x02, 0xff, 0xff, 0xff, 0xff, 0xff };
        struct in6_addr a = test_in6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
        uint8_t buf[ANNOUNCE_NA_SIZE];
        uint8_t pseudo[72] = {};
        struct in6_addr all_nodes = test_in6("ff02::1");

        assert_int_equal(announce_build_na(mac_ff, &a, buf, sizeof(buf)), ANNOUNCE_NA_SIZE);
        memcpy(pseudo, &a, 16);
        memcpy(pseudo + 16, &all_nodes, 16);
        pseudo[35] = 32;
        pseudo[39] = 58;
        memcpy(pseudo + 40, buf + 54, 32);
        assert_int_equal(test_inet_sum(pseudo, sizeof(pseudo)), 0xffff);
}

static void test_announce_na_refuses_bad_input(void **state) {
        struct in6_addr a = test_in6("2001:db8::10");
        uint8_t buf[ANNOUNCE_NA_SIZE];

        assert_int_equal(announce_build_na(test_mac, &a, buf, sizeof(buf) - 1), -ENOBUFS);
        assert_int_equal(announce_build_na(test_mac, &a, NULL, 0), -ENOBUFS);

        a = test_in6("::");
        assert_int_equal(announce_build_na(test_mac, &a, buf, sizeof(buf)), -EINVAL);
        a = test_in6("ff02::1");
        assert_int_equal(announce_build_na(test_mac, &a, buf, sizeof(buf)), -EINVAL);
}

static void test_announce_send_checks_before_opening_a_socket(void **state) {
        struct in_addr a4 = test_in4("192.0.2.10");
        AnnounceAddrs none = {}, one = { .v4 = &a4, .n_v4 = 1 };

        /* Neither needs privileges: no socket is opened. */
        assert_int_equal(announce_send(0, test_mac, &one), -EINVAL);
        assert_int_equal(announce_send(-1, test_mac, &one), -EINVAL);
        assert_int_equal(announce_send(1, test_mac, &none), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_announce_garp_is_exact_rfc5227_announcement),
                cmocka_unit_test(test_announce_garp_refuses_bad_input),
                cmocka_unit_test(test_announce_na_global_target),
                cmocka_unit_test(test_announce_na_link_local_target),
                cmocka_unit_test(test_announce_na_odd_bytes_checksum),
                cmocka_unit_test(test_announce_na_refuses_bad_input),
                cmocka_unit_test(test_announce_send_checks_before_opening_a_socket),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
