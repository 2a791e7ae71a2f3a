/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rtnetlink through libmnl; see rtnl.h. */

#include <assert.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_bonding.h>
#include <linux/if_link.h>
#include <linux/gen_stats.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>

#include "drivers/netlink.h"
#include "drivers/rtnl.h"
#include "lib/macro.h"

typedef struct LinkDump {
        Netdev *links;
        size_t n, allocated;
} LinkDump;

static void rtnl_parse_linkinfo(const struct nlattr *linkinfo, Netdev *d) {
        const struct nlattr *a, *data = NULL, *b;

        const struct nlattr *slave_data = NULL;
        bool bond_slave = false;

        mnl_attr_for_each_nested(a, linkinfo) {
                if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
                        snprintf(d->kind, sizeof(d->kind), "%s", mnl_attr_get_str(a));
                else if (mnl_attr_get_type(a) == IFLA_INFO_DATA)
                        data = a;
                else if (mnl_attr_get_type(a) == IFLA_INFO_SLAVE_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
                        bond_slave = strcmp(mnl_attr_get_str(a), "bond") == 0;
                else if (mnl_attr_get_type(a) == IFLA_INFO_SLAVE_DATA)
                        slave_data = a;
        }

        /* A bond slave: whether the bond itself sees its link up (miimon
         * lags behind the carrier, and the bond refuses a down slave). */
        if (bond_slave && slave_data)
                mnl_attr_for_each_nested(b, slave_data)
                        if (mnl_attr_get_type(b) == IFLA_BOND_SLAVE_MII_STATUS &&
                            mnl_attr_validate(b, MNL_TYPE_U8) >= 0)
                                d->bond_link_up = mnl_attr_get_u8(b) == BOND_LINK_UP;

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
        d.oper_up = true;       /* without IFLA_OPERSTATE (never from a real kernel), the carrier */

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
                case IFLA_PERM_ADDRESS:
                        if (mnl_attr_get_payload_len(a) == 6) {
                                memcpy(d.perm_mac, mnl_attr_get_payload(a), 6);
                                d.has_perm_mac = true;
                        }
                        break;
                case IFLA_OPERSTATE:
                        if (mnl_attr_validate(a, MNL_TYPE_U8) >= 0)
                                d.oper_up = mnl_attr_get_u8(a) == IF_OPER_UP || mnl_attr_get_u8(a) == IF_OPER_UNKNOWN;
                        break;
                case IFLA_MASTER:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                d.master = (int) mnl_attr_get_u32(a);
                        break;
                case IFLA_LINKINFO:
                        rtnl_parse_linkinfo(a, &d);
                        break;
                case IFLA_STATS64:
                        /* An older kernel's struct is shorter than ours: what it lacks stays 0. */
                        if (mnl_attr_get_payload_len(a) >= offsetof(struct rtnl_link_stats64, rx_nohandler)) {
                                struct rtnl_link_stats64 s = {};

                                memcpy(&s, mnl_attr_get_payload(a),
                                       MIN((size_t) mnl_attr_get_payload_len(a), sizeof(s)));
                                d.stats = (NetdevStats) {
                                        .rx_packets = s.rx_packets,
                                        .rx_bytes = s.rx_bytes,
                                        .tx_packets = s.tx_packets,
                                        .tx_bytes = s.tx_bytes,
                                        .rx_dropped = s.rx_dropped,
                                        .tx_dropped = s.tx_dropped,
                                        .rx_nohandler = s.rx_nohandler,
                                };
                        }
                        break;
                }
        }

        if (dump->n == dump->allocated) {
                size_t k = dump->allocated ? dump->allocated * 2 : 16;
                Netdev *p = reallocarray(dump->links, k, sizeof(Netdev));

                if (!p) {
                        errno = ENOMEM;
                        return MNL_CB_ERROR;
                }
                dump->links = p;
                dump->allocated = k;
        }
        dump->links[dump->n++] = d;
        return MNL_CB_OK;
}

static int rtnl_transact(struct nlmsghdr *nlh, mnl_cb_t cb, void *data) {
        return netlink_transact(nlh, NETLINK_TIMEOUT_USEC, cb, data, /* ret_message= */ NULL);
}

int rtnl_dump_links(Netdev **ret, size_t *ret_n) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        LinkDump dump = {};
        struct nlmsghdr *nlh;
        int r;

        assert(ret);
        assert(ret_n);

        nlh = netlink_put_link_request(buf, RTM_GETLINK, NLM_F_DUMP, 0, NULL);

        r = rtnl_transact(nlh, rtnl_link_cb, &dump);
        if (r < 0) {
                free(dump.links);
                return r;
        }

        *ret = dump.links;
        *ret_n = dump.n;
        return 0;
}

int rtnl_link_get_by_name(const char *name, Netdev *ret) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        LinkDump dump = {};
        struct nlmsghdr *nlh;
        int r;

        assert(ret);

        if (!name || name[0] == '\0' || strlen(name) >= IFNAMSIZ)
                return -EINVAL;

        /* Not a dump: one answer, then the ACK ends the exchange. */
        nlh = netlink_put_link_request(buf, RTM_GETLINK, NLM_F_ACK, 0, NULL);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);

        r = rtnl_transact(nlh, rtnl_link_cb, &dump);
        if (r >= 0 && dump.n != 1)
                r = -ENODEV;
        if (r >= 0)
                *ret = dump.links[0];
        free(dump.links);
        return r;
}

int rtnl_link_set_up(int ifindex, bool up) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct ifinfomsg *ifi;
        struct nlmsghdr *nlh;

        if (ifindex <= 0)
                return -EINVAL;

        nlh = netlink_put_link_request(buf, RTM_NEWLINK, NLM_F_ACK, ifindex, &ifi);
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
        return rtnl_transact(nlh, NULL, NULL);
}

int rtnl_link_set_master(int ifindex, int master_ifindex) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;

        if (ifindex <= 0 || master_ifindex <= 0)
                return -EINVAL;

        nlh = netlink_put_link_request(buf, RTM_NEWLINK, NLM_F_ACK, ifindex, NULL);
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) master_ifindex);
        return rtnl_transact(nlh, NULL, NULL);
}

int rtnl_bond_create(const char *name, const uint8_t mac[static 6], int *ret_ifindex) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlattr *linkinfo, *data;
        struct nlmsghdr *nlh;
        Netdev d;
        int r;

        if (!name || name[0] == '\0' || strlen(name) >= IFNAMSIZ)
                return -EINVAL;

        /* NLM_F_EXCL: a link of that name, bond or not, is never modified. */
        nlh = netlink_put_link_request(buf, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 0, NULL);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bond");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        mnl_attr_put_u8(nlh, IFLA_BOND_MODE, BOND_MODE_ACTIVEBACKUP);
        mnl_attr_put_u32(nlh, IFLA_BOND_MIIMON, 100);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);

        r = rtnl_transact(nlh, NULL, NULL);
        if (r < 0)
                return r;

        if (!ret_ifindex)
                return 0;
        r = rtnl_link_get_by_name(name, &d);
        if (r < 0)
                return r;
        *ret_ifindex = d.ifindex;
        return 0;
}

int rtnl_link_delete(int ifindex) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;

        if (ifindex <= 0)
                return -EINVAL;

        nlh = netlink_put_link_request(buf, RTM_DELLINK, NLM_F_ACK, ifindex, NULL);
        return rtnl_transact(nlh, NULL, NULL);
}

static int rtnl_bond_set(int bond_ifindex, uint16_t attr, uint32_t value, bool u8) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlattr *linkinfo, *data;
        struct nlmsghdr *nlh;

        if (bond_ifindex <= 0)
                return -EINVAL;

        nlh = netlink_put_link_request(buf, RTM_NEWLINK, NLM_F_ACK, bond_ifindex, NULL);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bond");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        if (u8)
                mnl_attr_put_u8(nlh, attr, (uint8_t) value);
        else
                mnl_attr_put_u32(nlh, attr, value);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);
        return rtnl_transact(nlh, NULL, NULL);
}

int rtnl_bond_set_active_slave(int bond_ifindex, int slave_ifindex) {
        if (slave_ifindex <= 0)
                return -EINVAL;
        return rtnl_bond_set(bond_ifindex, IFLA_BOND_ACTIVE_SLAVE, (uint32_t) slave_ifindex, false);
}

int rtnl_bond_set_all_slaves_active(int bond_ifindex, bool on) {
        return rtnl_bond_set(bond_ifindex, IFLA_BOND_ALL_SLAVES_ACTIVE, on, true);
}

typedef struct QdiscDump {
        int ifindex;
        RtnlQdiscStats stats;
} QdiscDump;

static int rtnl_qdisc_cb(const struct nlmsghdr *nlh, void *data) {
        const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
        QdiscDump *q = data;
        const struct nlattr *a, *b;
        bool pkt64 = false;

        /* The root only: an mq root sums its children's queues when dumped,
         * and clsact (parent TC_H_CLSACT) queues nothing. */
        if (tcm->tcm_ifindex != q->ifindex || tcm->tcm_parent != TC_H_ROOT)
                return MNL_CB_OK;
        mnl_attr_for_each(a, nlh, sizeof(*tcm)) {
                if (mnl_attr_get_type(a) != TCA_STATS2)
                        continue;
                mnl_attr_for_each_nested(b, a) {
                        uint16_t type = mnl_attr_get_type(b);

                        /* Attributes are 4-byte aligned, gnet_stats_basic wants 8: copied out. */
                        if (type == TCA_STATS_QUEUE && mnl_attr_get_payload_len(b) >= sizeof(struct gnet_stats_queue)) {
                                struct gnet_stats_queue gq;

                                memcpy(&gq, mnl_attr_get_payload(b), sizeof(gq));
                                q->stats.queued = gq.qlen;
                                q->stats.drops = gq.drops;
                        } else if (type == TCA_STATS_PKT64 && mnl_attr_get_payload_len(b) >= sizeof(uint64_t)) {
                                q->stats.sent = mnl_attr_get_u64(b);
                                pkt64 = true;
                        } else if (type == TCA_STATS_BASIC && !pkt64 &&
                                   mnl_attr_get_payload_len(b) >= sizeof(struct gnet_stats_basic)) {
                                struct gnet_stats_basic gb;

                                memcpy(&gb, mnl_attr_get_payload(b), sizeof(gb));
                                q->stats.sent = gb.packets;
                        }
                }
        }
        return MNL_CB_OK;
}

int rtnl_qdisc_stats(int ifindex, RtnlQdiscStats *ret) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        QdiscDump q = { .ifindex = ifindex };
        struct nlmsghdr *nlh;
        struct tcmsg *tcm;
        int r;

        assert(ret);

        if (ifindex <= 0)
                return -EINVAL;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETQDISC;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
        tcm->tcm_family = AF_UNSPEC;
        tcm->tcm_ifindex = ifindex;

        r = rtnl_transact(nlh, rtnl_qdisc_cb, &q);
        if (r < 0)
                return r;
        *ret = q.stats;         /* noqueue has no root to report: all 0 */
        return 0;
}

typedef struct AddrDump {
        int ifindex;
        struct in_addr *v4;
        size_t max_v4, n_v4;
        struct in6_addr *v6;
        size_t max_v6, n_v6;
} AddrDump;

static int rtnl_addr_cb(const struct nlmsghdr *nlh, void *data) {
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        AddrDump *dump = data;
        const struct nlattr *a;

        if ((int) ifa->ifa_index != dump->ifindex)
                return MNL_CB_OK;

        mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
                if (mnl_attr_get_type(a) != IFA_ADDRESS)
                        continue;
                if (ifa->ifa_family == AF_INET && mnl_attr_get_payload_len(a) == sizeof(struct in_addr) &&
                    dump->n_v4 < dump->max_v4)
                        memcpy(&dump->v4[dump->n_v4++], mnl_attr_get_payload(a), sizeof(struct in_addr));
                else if (ifa->ifa_family == AF_INET6 && mnl_attr_get_payload_len(a) == sizeof(struct in6_addr) &&
                         dump->n_v6 < dump->max_v6)
                        memcpy(&dump->v6[dump->n_v6++], mnl_attr_get_payload(a), sizeof(struct in6_addr));
        }
        return MNL_CB_OK;
}

int rtnl_get_addresses(int ifindex, struct in_addr *v4, size_t max_v4, size_t *ret_n_v4, struct in6_addr *v6,
                       size_t max_v6, size_t *ret_n_v6) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        AddrDump dump = {
                .ifindex = ifindex,
                .v4 = v4,
                .max_v4 = max_v4,
                .v6 = v6,
                .max_v6 = max_v6,
        };
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;
        int r;

        assert(ret_n_v4);
        assert(ret_n_v6);

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_UNSPEC;

        r = rtnl_transact(nlh, rtnl_addr_cb, &dump);
        if (r < 0)
                return r;

        *ret_n_v4 = dump.n_v4;
        *ret_n_v6 = dump.n_v6;
        return 0;
}

int rtnl_monitor_open(void) {
        return netlink_monitor_open(1U << (RTNLGRP_LINK - 1));
}

int rtnl_monitor_drain(int fd) {
        return netlink_monitor_drain(fd);
}
