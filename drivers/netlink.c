/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink transport through libmnl; see netlink.h.
 *
 * Each request opens its own socket, so answers to an earlier request that
 * timed out can never be read as this one's. Extended ACKs are switched on
 * so that a refusal ("VF index out of range", "Sticky FDB entries can't be
 * …") comes back with the kernel's reason next to the errno. */

#include <assert.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "drivers/netlink.h"
#include "lib/loop-watch.h"
#include "lib/macro.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* One answer of the kernel must fit: a PF's RTM_NEWLINK with its VFs
 * (RTEXT_FILTER_VF) takes a few hundred bytes per VF, beyond a page. A
 * longer answer fails with -ENOSPC (libmnl's MSG_TRUNC). */
#define NETLINK_RECEIVE_SIZE (64U * 1024U)

static void mnl_socket_closep(struct mnl_socket **nl) {
        if (*nl)
                mnl_socket_close(*nl);
}

/* Sequence numbers: seeded from the clock so that two processes in a row do
 * not start at the same number, then counted up (never 0: libmnl does not
 * check a 0). */
static uint32_t netlink_next_seq(void) {
        static uint32_t seq;

        if (seq == 0)
                seq = (uint32_t) time(NULL);
        if (++seq == 0)
                seq = 1;
        return seq;
}

static int netlink_open(struct mnl_socket **ret) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        int one = 1;

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        /* Both optional (older kernels): errors then come without a text,
         * and with the whole request echoed back. */
        (void) setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        (void) setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));

        *ret = TAKE_PTR(nl);
        return 0;
}

/* The receive timeout for what is left until 'deadline'; -ETIMEDOUT if
 * nothing is. */
static int netlink_set_receive_timeout(struct mnl_socket *nl, usec_t deadline) {
        usec_t left = usec_sub_unsigned(deadline, now_usec(CLOCK_MONOTONIC));
        struct timeval tv = {
                .tv_sec = (time_t) (left / USEC_PER_SEC),
                .tv_usec = (suseconds_t) (left % USEC_PER_SEC),
        };

        if (left == 0)
                return -ETIMEDOUT;
        if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        return 0;
}

/* The extended ACK text of the kernel's error 'error' (< 0) to request 'seq'
 * among the messages in 'buf', malloc'd; NULL if it gave none. libmnl parses
 * the error itself but not its attributes. */
static char *netlink_ext_ack_message(const void *buf, size_t len, uint32_t seq, int error) {
        const struct nlmsghdr *nlh = buf;
        int remaining = (int) len;

        for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
                const struct nlmsgerr *err;
                const struct nlattr *a;
                size_t offset;

                if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq != seq ||
                    !(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                        continue;
                if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr))
                        continue;
                err = mnl_nlmsg_get_payload(nlh);
                if (err->error != error)
                        continue;

                /* The attributes follow the request's header, or the whole
                 * request unless the kernel capped it. */
                offset = sizeof(struct nlmsgerr);
                if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                        offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
                if (offset >= mnl_nlmsg_get_payload_len(nlh))
                        continue;

                mnl_attr_for_each(a, nlh, offset)
                        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
                            mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                return strdup(mnl_attr_get_str(a));
        }
        return NULL;
}

struct nlmsghdr *netlink_put_link_request(void *buf, uint16_t type, uint16_t flags, int ifindex,
                                          struct ifinfomsg **ret_ifi) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        if (ret_ifi)
                *ret_ifi = ifi;
        return nlh;
}

int netlink_transact(struct nlmsghdr *nlh, usec_t timeout, mnl_cb_t cb, void *data, char **ret_message) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        usec_t deadline;
        unsigned portid;
        ssize_t n;
        int r;

        assert(nlh);
        assert(timeout > 0);

        if (ret_message)
                *ret_message = NULL;

        deadline = usec_add(now_usec(CLOCK_MONOTONIC), timeout);
        buf = malloc(NETLINK_RECEIVE_SIZE);
        if (!buf)
                return -ENOMEM;

        r = netlink_open(&nl);
        if (r < 0)
                return r;
        portid = mnl_socket_get_portid(nl);
        nlh->nlmsg_seq = netlink_next_seq();
        {
                char type[16];

                snprintf(type, sizeof(type), "%u", nlh->nlmsg_type);
                loop_watch_note("netlink: message type", type);
        }

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;

        for (;;) {
                r = netlink_set_receive_timeout(nl, deadline);
                if (r < 0)
                        return r;
                n = mnl_socket_recvfrom(nl, buf, NETLINK_RECEIVE_SIZE);
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;

                /* libmnl reports the kernel's error, and a callback its own,
                 * in errno. */
                errno = 0;
                r = mnl_cb_run(buf, (size_t) n, nlh->nlmsg_seq, portid, cb, data);
                if (r == MNL_CB_STOP)
                        return 0;
                if (r < 0) {
                        r = -(errno ?: EPROTO);
                        if (ret_message)
                                *ret_message = netlink_ext_ack_message(buf, (size_t) n, nlh->nlmsg_seq, r);
                        return r;
                }
        }
}

int netlink_monitor_open(uint32_t groups) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_nl sa = {
                .nl_family = AF_NETLINK,
                .nl_groups = groups,
        };

        /* A plain fd, not a struct mnl_socket: the event loop owns it and
         * closes it like any other. */
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int netlink_monitor_drain(int fd) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        bool changed = false;
        ssize_t n;

        for (;;) {
                n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN)
                                break;
                        if (errno == ENOBUFS) {         /* we missed some: rescan anyway */
                                changed = true;
                                continue;
                        }
                        return -errno;
                }
                if (n == 0)
                        break;
                changed = true;
        }
        return changed;
}
