/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rtnetlink through libmnl; see rtnl.h. */

#include <assert.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <libmnl/libmnl.h>

#include "drivers/rtnl.h"
#include "lib/macro.h"

typedef struct LinkDump {
        Netdev *links;
        size_t n, allocated;
        int error;
} LinkDump;

static void mnl_socket_closep(struct mnl_socket **nl) {
        if (*nl)
                mnl_socket_close(*nl);
}

static void rtnl_parse_linkinfo(const struct nlattr *linkinfo, Netdev *d) {
        const struct nlattr *a, *data = NULL, *b;

        mnl_attr_for_each_nested(a, linkinfo) {
                if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
                        snprintf(d->kind, sizeof(d->kind), "%s", mnl_attr_get_str(a));
                else if (mnl_attr_get_type(a) == IFLA_INFO_DATA)
                        data = a;
        }

        /* IFLA_INFO_DATA is kind-specific: only a bond's is read. */
        if (!data || strcmp(d->kind, "bond") != 0)
                return;
        mnl_attr_for_each_nested(b, data)
                if (mnl_attr_get_type(b) == IFLA_BOND_ACTIVE_SLAVE && mnl_attr_validate(b, MNL_TYPE_U32) >= 0)
                        d->active_slave = (int) mnl_attr_get_u32(b);
}

static int rtnl_link_cb(const struct nlmsghdr *nlh, void *data) {
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        LinkDump *dump = data;
        const struct nlattr *a;
        Netdev d = { .ifindex = ifi->ifi_index };

        d.admin_up = ifi->ifi_flags & IFF_UP;
        d.carrier = ifi->ifi_flags & IFF_LOWER_UP;

        mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
                switch (mnl_attr_get_type(a)) {
                case IFLA_IFNAME:
                        if (mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
                                snprintf(d.name, sizeof(d.name), "%s", mnl_attr_get_str(a));
                        break;
                case IFLA_ADDRESS:
                        if (mnl_attr_get_payload_len(a) == 6) {
                                memcpy(d.mac, mnl_attr_get_payload(a), 6);
                                d.has_mac = true;
                        }
                        break;
                case IFLA_MASTER:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                d.master = (int) mnl_attr_get_u32(a);
                        break;
                case IFLA_LINKINFO:
                        rtnl_parse_linkinfo(a, &d);
                        break;
                case IFLA_STATS64:
                        if (mnl_attr_get_payload_len(a) >= sizeof(struct rtnl_link_stats64)) {
                                struct rtnl_link_stats64 s;

                                memcpy(&s, mnl_attr_get_payload(a), sizeof(s));
                                d.stats = (NetdevStats) {
                                        .rx_packets = s.rx_packets,
                                        .rx_bytes = s.rx_bytes,
                                        .tx_packets = s.tx_packets,
                                        .tx_bytes = s.tx_bytes,
                                        .rx_dropped = s.rx_dropped,
                                        .tx_dropped = s.tx_dropped,
                                };
                        }
                        break;
                }
        }

        if (dump->n == dump->allocated) {
                size_t k = dump->allocated ? dump->allocated * 2 : 16;
                Netdev *p = reallocarray(dump->links, k, sizeof(Netdev));

                if (!p) {
                        dump->error = -ENOMEM;
                        return MNL_CB_ERROR;
                }
                dump->links = p;
                dump->allocated = k;
        }
        dump->links[dump->n++] = d;
        return MNL_CB_OK;
}

int rtnl_dump_links(Netdev **ret, size_t *ret_n) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        struct timeval deadline = { .tv_sec = 2 };
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        LinkDump dump = {};
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        unsigned seq, portid;
        ssize_t n;
        int r;

        assert(ret);
        assert(ret_n);

        nl = mnl_socket_open(NETLINK_ROUTE);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof(deadline)) < 0)
                return -errno;
        portid = mnl_socket_get_portid(nl);

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq = (unsigned) time(NULL);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;

        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n < 0) {
                        r = errno == EAGAIN ? -ETIMEDOUT : -errno;
                        break;
                }
                r = mnl_cb_run(buf, (size_t) n, seq, portid, rtnl_link_cb, &dump);
                if (r <= MNL_CB_STOP) {
                        r = r < 0 ? (dump.error ?: -errno) : 0;
                        break;
                }
        }
        if (r < 0) {
                free(dump.links);
                return r;
        }

        *ret = dump.links;
        *ret_n = dump.n;
        return 0;
}
