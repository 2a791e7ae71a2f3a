/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* announce_send() on the real kernel: a veth pair in a private network namespace, frames
 * captured on the peer, and the peer's neighbour tables checked for the new MAC. Root only;
 * exits 77 (skip) when a network namespace cannot be created. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "drivers/announce.h"
#include "lib/macro.h"

#define TEST_SENDER "ann0"              /* plays the guest's master interface */
#define TEST_PEER "ann1"                /* plays the switch / host bridge side */
#define TEST_DOWN "ann2"                /* a veth left down */
#define TEST_SENDER_MAC "02:00:00:00:aa:01"
#define TEST_STALE_MAC "02:00:00:00:00:99"     /* where the peer believes the addresses live */
#define TEST_DEADLINE_MS 3000

static const uint8_t test_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xaa, 0x01 };

/* Both ends share one namespace, so the announced addresses are configured nowhere: if the
 * sender owned them, the peer would see its "own" address and treat the NA as a DAD clash. */
static const char *const test_v4[] = { "192.0.2.10", "192.0.2.11" };
static const char *const test_v6[] = { "2001:db8::10", "fe80::10" };

static _printf_(1, 2) int test_run(const char *fmt, ...) {
        char cmd[512];
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);

        r = system(cmd);
        if (r < 0 || !WIFEXITED(r))
                return -1;
        return WEXITSTATUS(r);
}

static int test_write_sysctl(const char *path, const char *value) {
        FILE *f = fopen(path, "we");
        int r;

        if (!f)
                return -errno;
        r = fputs(value, f) < 0 ? -EIO : 0;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        return r;
}

static int64_t test_now_ms(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The peer's neighbour entry for 'addr' as 'ip -o neigh' prints it, or "" if there is none. */
static void test_neigh_show(const char *addr, char *buf, size_t size) {
        char cmd[256];
        FILE *p;

        snprintf(cmd, sizeof(cmd), "ip -o neigh show to %s dev " TEST_PEER, addr);
        p = popen(cmd, "re");
        assert_non_null(p);
        if (!fgets(buf, (int) size, p))
                buf[0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        assert_int_equal(pclose(p), 0);
}

/* Waits until the peer's kernel has processed the frames: the capture socket sees a frame
 * before the protocol handler runs, so poll the table briefly instead of reading it once. */
static bool test_neigh_wait_lladdr(const char *addr, const char *mac, char *buf, size_t size) {
        char want[64];
        int64_t deadline = test_now_ms() + TEST_DEADLINE_MS;

        snprintf(want, sizeof(want), "lladdr %s ", mac);
        for (;;) {
                test_neigh_show(addr, buf, size);
                if (strstr(buf, want))
                        return true;
                if (test_now_ms() > deadline)
                        return false;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
}

/* A counter from /proc/net/snmp6 of this namespace. */
static long test_snmp6(const char *name) {
        char line[256], key[128];
        long value;
        FILE *f = fopen("/proc/net/snmp6", "re");

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "%127s %ld", key, &value) == 2 && strcmp(key, name) == 0) {
                        fclose(f);
                        return value;
                }
        fclose(f);
        fail_msg("no %s in /proc/net/snmp6", name);
        return -1;
}

static int test_capture_open(void) {
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_ALL),
                .sll_ifindex = (int) if_nametoindex(TEST_PEER),
        };
        int fd;

        assert_true(sll.sll_ifindex > 0);
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sll, sizeof(sll)), 0);
        return fd;
}

/* Reads one incoming frame from our MAC into 'buf', or returns 0 at the deadline. */
static size_t test_capture_next(int fd, int64_t deadline, uint8_t *buf, size_t size) {
        for (;;) {
                struct sockaddr_ll from;
                socklen_t fromlen = sizeof(from);
                int64_t left = deadline - test_now_ms();
                ssize_t n;

                if (left <= 0)
                        return 0;
                n = recvfrom(fd, buf, size, MSG_TRUNC, (struct sockaddr *) &from, &fromlen);
                if (n < 0) {
                        assert_int_equal(errno, EAGAIN);
                        (void) poll(&(struct pollfd) { .fd = fd, .events = POLLIN }, 1, (int) left);
                        continue;
                }
                /* Skip the peer's own traffic and the sender kernel's RS/MLD/DAD chatter. */
                if (from.sll_pkttype == PACKET_OUTGOING || (size_t) n < 14)
                        continue;
                if (memcmp(buf + 6, test_mac, 6) != 0)
                        continue;
                if (buf[12] == 0x08 && buf[13] == 0x06)
                        return (size_t) n;
                if (buf[12] == 0x86 && buf[13] == 0xdd && n >= 62 && buf[14 + 6] == 58 && buf[54] == 136)
                        return (size_t) n;
        }
}

static void test_announce_round_arrives_and_peer_relearns(void **state) {
        struct in_addr v4[ELEMENTSOF(test_v4)];
        struct in6_addr v6[ELEMENTSOF(test_v6)];
        AnnounceAddrs addrs = { .v4 = v4, .n_v4 = ELEMENTSOF(v4), .v6 = v6, .n_v6 = ELEMENTSOF(v6) };
        bool seen_v4[ELEMENTSOF(v4)] = {}, seen_v6[ELEMENTSOF(v6)] = {};
        _cleanup_close_ int cap = -EBADF;
        size_t n_seen = 0;
        long na_before, csum_errors_before;
        int64_t deadline;
        char line[256];
        int ifindex;

        for (size_t i = 0; i < ELEMENTSOF(v4); i++)
                assert_int_equal(inet_pton(AF_INET, test_v4[i], &v4[i]), 1);
        for (size_t i = 0; i < ELEMENTSOF(v6); i++)
                assert_int_equal(inet_pton(AF_INET6, test_v6[i], &v6[i]), 1);

        /* Precondition: the first address of each family sits at the old MAC, the second is unknown. */
        test_neigh_show(test_v4[0], line, sizeof(line));
        print_message("before: %s\n", line);
        assert_non_null(strstr(line, "lladdr " TEST_STALE_MAC " "));
        test_neigh_show(test_v6[0], line, sizeof(line));
        print_message("before: %s\n", line);
        assert_non_null(strstr(line, "lladdr " TEST_STALE_MAC " "));
        test_neigh_show(test_v4[1], line, sizeof(line));
        assert_string_equal(line, "");
        test_neigh_show(test_v6[1], line, sizeof(line));
        assert_string_equal(line, "");

        na_before = test_snmp6("Icmp6InNeighborAdvertisements");
        csum_errors_before = test_snmp6("Icmp6InCsumErrors");

        cap = test_capture_open();
        ifindex = (int) if_nametoindex(TEST_SENDER);
        assert_true(ifindex > 0);

        assert_int_equal(announce_send(ifindex, test_mac, &addrs), 4);

        /* Every frame arrives, byte-identical to what the builder makes, exactly once. */
        deadline = test_now_ms() + TEST_DEADLINE_MS;
        while (n_seen < 4) {
                uint8_t frame[2048], want[ANNOUNCE_NA_SIZE];
                size_t n = test_capture_next(cap, deadline, frame, sizeof(frame));
                bool matched = false;

                if (n == 0)
                        fail_msg("only %zu of 4 frames arrived", n_seen);

                for (size_t i = 0; i < ELEMENTSOF(v4) && !matched; i++) {
                        assert_int_equal(announce_build_garp(test_mac, &v4[i], want, sizeof(want)),
                                         ANNOUNCE_GARP_SIZE);
                        if (n == ANNOUNCE_GARP_SIZE && memcmp(frame, want, n) == 0) {
                                assert_false(seen_v4[i]);
                                seen_v4[i] = matched = true;
                                /* Independent of the builder: op REQUEST, spa == tpa == address. */
                                assert_int_equal(frame[20] << 8 | frame[21], 1);
                                assert_memory_equal(frame + 28, &v4[i], 4);
                                assert_memory_equal(frame + 38, &v4[i], 4);
                        }
                }
                for (size_t i = 0; i < ELEMENTSOF(v6) && !matched; i++) {
                        assert_int_equal(announce_build_na(test_mac, &v6[i], want, sizeof(want)),
                                         ANNOUNCE_NA_SIZE);
                        if (n == ANNOUNCE_NA_SIZE && memcmp(frame, want, n) == 0) {
                                assert_false(seen_v6[i]);
                                seen_v6[i] = matched = true;
                                assert_int_equal(frame[21], 255);               /* hop limit */
                                assert_memory_equal(frame + 22, &v6[i], 16);    /* source = target */
                                assert_memory_equal(frame + 62, &v6[i], 16);    /* target */
                        }
                }
                if (!matched)
                        fail_msg("unexpected frame of %zu bytes, ethertype %02x%02x",
                                 n, frame[12], frame[13]);
                n_seen++;
        }
        print_message("captured %zu frames on " TEST_PEER "\n", n_seen);

        /* The peer's kernel took them: the old entries moved to our MAC (GARP with tip == sip
         * overrides the ARP locktime; NA with O=1 overrides), and the unknown addresses were
         * learned (arp_accept=1; accept_untracked_na=1 + forwarding=1, RFC 9131). */
        for (size_t i = 0; i < ELEMENTSOF(test_v4); i++) {
                bool ok = test_neigh_wait_lladdr(test_v4[i], TEST_SENDER_MAC, line, sizeof(line));

                print_message("after:  %s\n", line);
                assert_true(ok);
        }
        for (size_t i = 0; i < ELEMENTSOF(test_v6); i++) {
                bool ok = test_neigh_wait_lladdr(test_v6[i], TEST_SENDER_MAC, line, sizeof(line));

                print_message("after:  %s\n", line);
                assert_true(ok);
        }

        /* Both NAs passed icmpv6_rcv()'s checksum validation. */
        assert_int_equal(test_snmp6("Icmp6InNeighborAdvertisements") - na_before, 2);
        assert_int_equal(test_snmp6("Icmp6InCsumErrors"), csum_errors_before);
}

static void test_announce_round_is_capped(void **state) {
        struct in_addr v4[ANNOUNCE_ADDRS_MAX + 6];
        struct in6_addr v6[ANNOUNCE_ADDRS_MAX + 6];
        AnnounceAddrs addrs = { .v4 = v4, .n_v4 = ELEMENTSOF(v4), .v6 = v6, .n_v6 = ELEMENTSOF(v6) };
        _cleanup_close_ int cap = -EBADF;
        size_t n_seen = 0, n_v4 = 0;
        uint8_t frame[2048];
        int64_t deadline;

        for (size_t i = 0; i < ELEMENTSOF(v4); i++) {
                v4[i].s_addr = htonl(0xc6336400u + 1 + (uint32_t) i);    /* 198.51.100.1... */
                assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::", &v6[i]), 1);
                v6[i].s6_addr[15] = (uint8_t) (i + 1);
        }

        cap = test_capture_open();
        assert_int_equal(announce_send((int) if_nametoindex(TEST_SENDER), test_mac, &addrs),
                         2 * ANNOUNCE_ADDRS_MAX);

        deadline = test_now_ms() + TEST_DEADLINE_MS;
        while (test_capture_next(cap, deadline, frame, sizeof(frame)) > 0) {
                n_seen++;
                if (frame[12] == 0x08)
                        n_v4++;
                if (n_seen == 2 * ANNOUNCE_ADDRS_MAX)
                        deadline = test_now_ms() + 200;         /* and nothing more after that */
        }
        assert_int_equal(n_seen, 2 * ANNOUNCE_ADDRS_MAX);
        assert_int_equal(n_v4, ANNOUNCE_ADDRS_MAX);
}

static void test_announce_send_reports_link_errors(void **state) {
        struct in_addr a4;
        struct in6_addr a6;
        AnnounceAddrs addrs = { .v4 = &a4, .n_v4 = 1, .v6 = &a6, .n_v6 = 1 };

        assert_int_equal(inet_pton(AF_INET, "192.0.2.10", &a4), 1);
        assert_int_equal(inet_pton(AF_INET6, "2001:db8::10", &a6), 1);

        assert_int_equal(announce_send((int) if_nametoindex(TEST_DOWN), test_mac, &addrs), -ENETDOWN);
        assert_int_equal(announce_send(0x7ffffff0, test_mac, &addrs), -ENXIO);

        /* An unusable address fails alone; the others still go out. */
        a6.s6_addr[0] = 0xff;
        assert_int_equal(announce_send((int) if_nametoindex(TEST_SENDER), test_mac, &addrs), 1);
        a4.s_addr = htonl(INADDR_ANY);
        assert_int_equal(announce_send((int) if_nametoindex(TEST_SENDER), test_mac, &addrs), -EINVAL);
}

static int test_setup_netns(void) {
        static const char *const sysctls[][2] = {
                /* Learn GARPs for addresses not in the table yet (default 0: only update). */
                { "/proc/sys/net/ipv4/conf/" TEST_PEER "/arp_accept", "1" },
                /* RFC 9131: unsolicited NAs create STALE entries, but only on a router. */
                { "/proc/sys/net/ipv6/conf/" TEST_PEER "/forwarding", "1" },
                { "/proc/sys/net/ipv6/conf/" TEST_PEER "/accept_untracked_na", "1" },
        };
        int r;

        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "unshare(CLONE_NEWNET): %m, skipping\n");
                return 77;
        }

        r = test_run("ip link add " TEST_SENDER " address " TEST_SENDER_MAC " type veth peer name " TEST_PEER
                     " address 02:00:00:00:bb:01");
        if (r == 127) {
                fprintf(stderr, "no 'ip' (iproute2), skipping\n");
                return 77;
        }
        if (r != 0)
                return 1;
        if (test_run("ip link add " TEST_DOWN " type veth peer name ann3") != 0)
                return 1;

        for (size_t i = 0; i < ELEMENTSOF(sysctls); i++) {
                r = test_write_sysctl(sysctls[i][0], sysctls[i][1]);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", sysctls[i][0], strerror(-r));
                        return 1;
                }
        }

        if (test_run("ip link set " TEST_SENDER " up") != 0 ||
            test_run("ip link set " TEST_PEER " up") != 0 ||
            test_run("ip addr add 192.0.2.1/24 dev " TEST_PEER) != 0 ||
            test_run("ip addr add 2001:db8::1/64 dev " TEST_PEER " nodad") != 0)
                return 1;

        /* The peer believes the first address of each family lives at the old MAC. */
        for (size_t i = 0; i < 2; i++)
                if (test_run("ip neigh replace %s lladdr " TEST_STALE_MAC " nud stale dev " TEST_PEER,
                             i == 0 ? test_v4[0] : test_v6[0]) != 0)
                        return 1;

        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_announce_round_arrives_and_peer_relearns),
                cmocka_unit_test(test_announce_round_is_capped),
                cmocka_unit_test(test_announce_send_reports_link_errors),
        };
        int r;

        r = test_setup_netns();
        if (r != 0)
                return r;

        return cmocka_run_group_tests(tests, NULL, NULL);
}
