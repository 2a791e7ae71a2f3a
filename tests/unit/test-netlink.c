/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drivers/netlink.c against the kernel of this network namespace, with
 * nothing that needs root: a link dump, the kernel's errors (with and
 * without an extended ACK text), a failing callback, the deadline, and a
 * monitor socket. Skips (77) where netlink sockets are not allowed. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "drivers/netlink.h"
#include "lib/macro.h"

typedef struct LinkCount {
        size_t n;
        bool loopback;
} LinkCount;

static int link_count_cb(const struct nlmsghdr *nlh, void *data) {
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        LinkCount *c = data;

        c->n++;
        if (ifi->ifi_flags & IFF_LOOPBACK)
                c->loopback = true;
        return MNL_CB_OK;
}

static struct nlmsghdr *put_getlink(uint8_t *buf, uint16_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;

        nlh->nlmsg_type = RTM_GETLINK;
        nlh->nlmsg_flags = flags;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        return nlh;
}

static void test_netlink_dump_reads_every_link(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        LinkCount c = {};
        char *message = (char *) "unset";

        assert_int_equal(netlink_transact(put_getlink(buf, NLM_F_REQUEST | NLM_F_DUMP), NETLINK_TIMEOUT_USEC,
                                          link_count_cb, &c, &message),
                         0);
        assert_true(c.n >= 1);
        assert_true(c.loopback);        /* every namespace has lo */
        assert_null(message);
}

static void test_netlink_request_gets_a_new_sequence_number(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = put_getlink(buf, NLM_F_REQUEST | NLM_F_DUMP);
        uint32_t first;

        assert_int_equal(netlink_transact(nlh, NETLINK_TIMEOUT_USEC, NULL, NULL, NULL), 0);
        first = nlh->nlmsg_seq;
        assert_int_not_equal(first, 0);
        assert_int_equal(netlink_transact(nlh, NETLINK_TIMEOUT_USEC, NULL, NULL, NULL), 0);
        assert_int_not_equal(nlh->nlmsg_seq, first);
}

static void test_netlink_kernel_error_is_returned(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = put_getlink(buf, NLM_F_REQUEST | NLM_F_ACK);
        _cleanup_free_ char *message = NULL;

        mnl_attr_put_strz(nlh, IFLA_IFNAME, "vfo-none0");
        assert_int_equal(netlink_transact(nlh, NETLINK_TIMEOUT_USEC, NULL, NULL, &message), -ENODEV);
}

static void test_netlink_extended_ack_message_is_returned(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = put_getlink(buf, NLM_F_REQUEST | NLM_F_ACK);
        _cleanup_free_ char *message = NULL;
        int r;

        /* IFLA_IFNAME longer than IFNAMSIZ fails the attribute policy, and
         * the kernel says so in an extended ACK (since 4.12). */
        mnl_attr_put_strz(nlh, IFLA_IFNAME, "vfo-a-name-far-too-long-for-a-link");
        r = netlink_transact(nlh, NETLINK_TIMEOUT_USEC, NULL, NULL, &message);
        assert_true(r < 0);
        if (!message)
                skip();         /* a kernel without extended ACKs */
        assert_true(strlen(message) > 0);
}

static int failing_cb(const struct nlmsghdr *nlh, void *data) {
        errno = *(int *) data;
        return MNL_CB_ERROR;
}

static void test_netlink_callback_error_is_returned(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        int error = ENOMEM;
        char *message = (char *) "unset";

        assert_int_equal(netlink_transact(put_getlink(buf, NLM_F_REQUEST | NLM_F_DUMP), NETLINK_TIMEOUT_USEC,
                                          failing_cb, &error, &message),
                         -ENOMEM);
        assert_null(message);

        /* A callback that sets no errno still fails the request. */
        error = 0;
        assert_int_equal(netlink_transact(put_getlink(buf, NLM_F_REQUEST | NLM_F_DUMP), NETLINK_TIMEOUT_USEC,
                                          failing_cb, &error, NULL),
                         -EPROTO);
}

static void test_netlink_unanswered_request_times_out(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        usec_t start, elapsed;

        /* Without NLM_F_REQUEST (and NLM_F_ACK) the kernel ignores a
         * message and answers nothing. */
        start = now_usec(CLOCK_MONOTONIC);
        assert_int_equal(netlink_transact(put_getlink(buf, 0), 50 * USEC_PER_MSEC, NULL, NULL, NULL), -ETIMEDOUT);
        elapsed = now_usec(CLOCK_MONOTONIC) - start;
        assert_true(elapsed >= 50 * USEC_PER_MSEC);
        assert_true(elapsed < NETLINK_TIMEOUT_USEC);
}

static void test_netlink_monitor_starts_empty(void **state) {
        _cleanup_close_ int fd = -EBADF;

        fd = netlink_monitor_open(1U << (RTNLGRP_LINK - 1));
        assert_true(fd >= 0);
        assert_int_equal(netlink_monitor_drain(fd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_netlink_dump_reads_every_link),
                cmocka_unit_test(test_netlink_request_gets_a_new_sequence_number),
                cmocka_unit_test(test_netlink_kernel_error_is_returned),
                cmocka_unit_test(test_netlink_extended_ack_message_is_returned),
                cmocka_unit_test(test_netlink_callback_error_is_returned),
                cmocka_unit_test(test_netlink_unanswered_request_times_out),
                cmocka_unit_test(test_netlink_monitor_starts_empty),
        };
        int fd;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) {
                fprintf(stderr, "No NETLINK_ROUTE socket here (%s), skipping.\n", strerror(errno));
                return 77;
        }
        close(fd);

        return cmocka_run_group_tests(tests, NULL, NULL);
}
