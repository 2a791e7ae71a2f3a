/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Switch programming through rtnetlink; see vfprog.h. Each call is one
 * request of drivers/netlink.c (its own socket, the ACK or NLMSG_DONE within
 * a 2 s deadline); the kernel's reason for a refusal ("VF index out of
 * range", "Sticky FDB entries can't be …") ends up in the debug log next to
 * the errno we return. */

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libmnl/libmnl.h>

#include "drivers/bpf/standby-rx.h"
#include "drivers/netlink.h"
#include "drivers/vfprog.h"
#include "lib/log.h"
#include "lib/loop-watch.h"
#include "lib/packet-socket.h"
#include "lib/macro.h"

static int ifindex_from_name(const char *ifname, int *ret) {
        unsigned idx;

        if (!ifname || ifname[0] == '\0' || strlen(ifname) >= IFNAMSIZ)
                return -EINVAL;
        idx = if_nametoindex(ifname);
        if (idx == 0)
                return errno == ENXIO ? -ENODEV : -(errno ?: ENODEV);
        *ret = (int) idx;
        return 0;
}

void vf_settings_neutral(VfSettings *ret) {
        assert(ret);

        *ret = (VfSettings) {
                .spoofchk = true,
                .trust = false,
                .link_state = VF_LINK_STATE_AUTO,
        };
}

static int vf_link_state_to_kernel(VfLinkState s, uint32_t *ret) {
        switch (s) {
        case VF_LINK_STATE_AUTO:
                *ret = IFLA_VF_LINK_STATE_AUTO;
                return 0;
        case VF_LINK_STATE_ENABLE:
                *ret = IFLA_VF_LINK_STATE_ENABLE;
                return 0;
        case VF_LINK_STATE_DISABLE:
                *ret = IFLA_VF_LINK_STATE_DISABLE;
                return 0;
        }
        return -EINVAL;
}

int vfprog_build_request(void *buf, size_t size, int pf_ifindex, unsigned vf_index, const VfSettings *s,
                         uint32_t seq) {
        struct nlattr *vfinfo_list, *vfinfo;
        struct nlmsghdr *nlh;
        uint32_t link_state;
        int r;

        if (!buf || !s || size < (size_t) MNL_SOCKET_BUFFER_SIZE)
                return -EINVAL;
        if (pf_ifindex <= 0 || vf_index >= (unsigned) INT32_MAX)
                return -EINVAL;
        if (s->vlan > 4095 || s->qos > 7 || (s->vlan == 0 && s->qos != 0))
                return -EINVAL;
        r = vf_link_state_to_kernel(s->link_state, &link_state);
        if (r < 0)
                return r;

        nlh = netlink_put_link_request(buf, RTM_SETLINK, NLM_F_ACK, pf_ifindex, NULL);
        nlh->nlmsg_seq = seq;

        vfinfo_list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
        vfinfo = mnl_attr_nest_start(nlh, IFLA_VF_INFO);

        /* The kernel applies these in its own fixed order (MAC, VLAN,
         * spoofchk, link state, trust) and stops at the first refusal. */
        struct ifla_vf_mac mac = { .vf = vf_index };
        memcpy(mac.mac, s->mac, sizeof(s->mac));
        mnl_attr_put(nlh, IFLA_VF_MAC, sizeof(mac), &mac);

        /* What "ip link set PF vf N vlan V qos Q" sends: the plain
         * IFLA_VF_VLAN, which the kernel takes as 802.1Q. IFLA_VF_VLAN_LIST
         * is only needed for another protocol (802.1ad). VLAN 0 clears it. */
        struct ifla_vf_vlan vlan = { .vf = vf_index, .vlan = s->vlan, .qos = s->qos };
        mnl_attr_put(nlh, IFLA_VF_VLAN, sizeof(vlan), &vlan);

        struct ifla_vf_spoofchk spoofchk = { .vf = vf_index, .setting = s->spoofchk };
        mnl_attr_put(nlh, IFLA_VF_SPOOFCHK, sizeof(spoofchk), &spoofchk);

        struct ifla_vf_trust trust = { .vf = vf_index, .setting = s->trust };
        mnl_attr_put(nlh, IFLA_VF_TRUST, sizeof(trust), &trust);

        struct ifla_vf_link_state ls = { .vf = vf_index, .link_state = link_state };
        mnl_attr_put(nlh, IFLA_VF_LINK_STATE, sizeof(ls), &ls);

        mnl_attr_nest_end(nlh, vfinfo);
        mnl_attr_nest_end(nlh, vfinfo_list);

        return (int) nlh->nlmsg_len;
}

/* One request and its answer; the kernel's reason for a refusal goes to
 * the debug log next to the errno the caller gets. */
static int vfprog_transact(struct nlmsghdr *nlh, mnl_cb_t cb, void *data) {
        _cleanup_free_ char *message = NULL;
        int r;

        r = netlink_transact(nlh, NETLINK_TIMEOUT_USEC, cb, data, &message);
        if (r < 0 && message)
                log_debug("rtnetlink: %s (%s)", message, strerror(-r));
        return r;
}

int vfprog_set(const char *pf_ifname, unsigned vf_index, const VfSettings *s) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        int ifindex, r;

        assert(s);

        r = ifindex_from_name(pf_ifname, &ifindex);
        if (r < 0)
                return r;
        r = vfprog_build_request(buf, sizeof(buf), ifindex, vf_index, s, /* seq= */ 0);
        if (r < 0)
                return r;
        return vfprog_transact((struct nlmsghdr *) buf, NULL, NULL);
}

/* One FDB entry request for 'mac' on the bridge port 'port_ifname'. */
static int fdb_request(uint16_t type, uint16_t flags, const char *port_ifname, const uint8_t mac[6],
                       uint16_t state, uint8_t ndm_flags) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct ndmsg *ndm;
        int ifindex, r;

        assert(mac);

        r = ifindex_from_name(port_ifname, &ifindex);
        if (r < 0)
                return r;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
        ndm->ndm_family = AF_BRIDGE;
        ndm->ndm_ifindex = ifindex;
        ndm->ndm_state = state;
        ndm->ndm_flags = ndm_flags;
        mnl_attr_put(nlh, NDA_LLADDR, ETH_ALEN, mac);
        return vfprog_transact(nlh, NULL, NULL);
}

int fdb_steer(const char *port_ifname, const uint8_t mac[6], bool sticky) {
        /* NTF_MASTER: the bridge's FDB, not the port's own address list.
         * NUD_NOARP is "static": never aged out, and (unlike NUD_PERMANENT)
         * not a local address of the bridge. NLM_F_REPLACE moves an existing
         * entry to this port. */
        return fdb_request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, port_ifname, mac, NUD_NOARP,
                           NTF_MASTER | (sticky ? NTF_STICKY : 0));
}

int fdb_forget(const char *port_ifname, const uint8_t mac[6]) {
        /* The bridge answers -ENOENT itself when the MAC is not on this port. */
        return fdb_request(RTM_DELNEIGH, 0, port_ifname, mac, 0, NTF_MASTER);
}

static int queue_len_cb(const struct nlmsghdr *nlh, void *data) {
        const struct nlattr *a;

        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
                if (mnl_attr_get_type(a) == IFLA_TXQLEN && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        *(uint32_t *) data = mnl_attr_get_u32(a);
        return MNL_CB_OK;
}

int netdev_set_queue_len(const char *ifname, uint32_t len, uint32_t *ret_old) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        uint32_t old = 0;
        int ifindex, r;

        r = ifindex_from_name(ifname, &ifindex);
        if (r < 0)
                return r;
        if (ret_old) {
                r = vfprog_transact(netlink_put_link_request(buf, RTM_GETLINK, NLM_F_ACK, ifindex, NULL), queue_len_cb,
                                    &old);
                if (r < 0)
                        return r;
                if (old == 0)
                        return -EPROTO;
                *ret_old = old;
        }
        nlh = netlink_put_link_request(buf, RTM_SETLINK, NLM_F_ACK, ifindex, NULL);
        mnl_attr_put_u32(nlh, IFLA_TXQLEN, len);
        return vfprog_transact(nlh, NULL, NULL);
}

typedef struct TxDropped {
        bool found;
        uint64_t value;
} TxDropped;

static int tx_dropped_cb(const struct nlmsghdr *nlh, void *data) {
        TxDropped *d = data;
        const struct nlattr *a;

        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
                if (mnl_attr_get_type(a) == IFLA_STATS64 &&
                    mnl_attr_get_payload_len(a) >= offsetof(struct rtnl_link_stats64, tx_dropped) + sizeof(uint64_t)) {
                        struct rtnl_link_stats64 s = {};

                        /* the attribute may be shorter than this build's struct, or unaligned */
                        memcpy(&s, mnl_attr_get_payload(a), MIN(mnl_attr_get_payload_len(a), sizeof(s)));
                        d->value = s.tx_dropped;
                        d->found = true;
                }
        return MNL_CB_OK;
}

int netdev_tx_dropped(const char *ifname, uint64_t *ret) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        TxDropped d = {};
        int ifindex, r;

        r = ifindex_from_name(ifname, &ifindex);
        if (r < 0)
                return r;
        r = vfprog_transact(netlink_put_link_request(buf, RTM_GETLINK, NLM_F_ACK, ifindex, NULL), tx_dropped_cb, &d);
        if (r < 0)
                return r;
        if (!d.found)
                return -EPROTO;
        *ret = d.value;
        return 0;
}

/* In one IFLA_VF_INFO: its VF index (IFLA_VF_MAC) and drop counters. */
static int vf_info_dropped(const struct nlattr *info, unsigned *ret_index, uint64_t *ret_dropped) {
        const struct nlattr *a, *st;
        bool have_index = false, have_dropped = false;
        uint64_t dropped = 0;

        mnl_attr_for_each_nested(a, info) {
                if (mnl_attr_get_type(a) == IFLA_VF_MAC &&
                    mnl_attr_get_payload_len(a) >= sizeof(struct ifla_vf_mac)) {
                        struct ifla_vf_mac m;

                        memcpy(&m, mnl_attr_get_payload(a), sizeof(m));
                        *ret_index = m.vf;
                        have_index = true;
                } else if (mnl_attr_get_type(a) == IFLA_VF_STATS)
                        mnl_attr_for_each_nested(st, a)
                                if ((mnl_attr_get_type(st) == IFLA_VF_STATS_RX_DROPPED ||
                                     mnl_attr_get_type(st) == IFLA_VF_STATS_TX_DROPPED) &&
                                    mnl_attr_validate(st, MNL_TYPE_U64) >= 0) {
                                        dropped += mnl_attr_get_u64(st);
                                        have_dropped = true;
                                }
        }
        if (!have_index)
                return -EBADMSG;
        if (!have_dropped)
                return -ENODATA;
        *ret_dropped = dropped;
        return 0;
}

int vf_dropped_parse(const struct nlmsghdr *nlh, unsigned vf_index, uint64_t *ret) {
        const struct nlattr *a, *info;

        if (!nlh || !ret || nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
                return -EBADMSG;
        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg)) {
                if (mnl_attr_get_type(a) != IFLA_VFINFO_LIST)
                        continue;
                mnl_attr_for_each_nested(info, a) {
                        unsigned index = UINT_MAX;
                        uint64_t dropped = 0;
                        int r;

                        if (mnl_attr_get_type(info) != IFLA_VF_INFO)
                                continue;
                        r = vf_info_dropped(info, &index, &dropped);
                        if (r == -EBADMSG || index != vf_index)
                                continue;
                        if (r < 0)
                                return r;
                        *ret = dropped;
                        return 0;
                }
        }
        return -ENOENT;
}

typedef struct VfDropped {
        unsigned index;
        int r;
        uint64_t value;
} VfDropped;

static int vf_dropped_cb(const struct nlmsghdr *nlh, void *data) {
        VfDropped *d = data;

        d->r = vf_dropped_parse(nlh, d->index, &d->value);
        return MNL_CB_OK;
}

int vf_dropped(const char *pf_ifname, unsigned vf_index, uint64_t *ret) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        VfDropped d = { .index = vf_index, .r = -ENOENT };
        struct nlmsghdr *nlh;
        int ifindex, r;

        r = ifindex_from_name(pf_ifname, &ifindex);
        if (r < 0)
                return r;
        nlh = netlink_put_link_request(buf, RTM_GETLINK, NLM_F_ACK, ifindex, NULL);
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_VF);
        r = vfprog_transact(nlh, vf_dropped_cb, &d);
        if (r < 0)
                return r;
        if (d.r < 0)
                return d.r;
        *ret = d.value;
        return 0;
}

static int mtu_cb(const struct nlmsghdr *nlh, void *data) {
        const struct nlattr *a;

        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
                if (mnl_attr_get_type(a) == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        *(uint32_t *) data = mnl_attr_get_u32(a);
        return MNL_CB_OK;
}

/* An IPv4 or IPv6 address into 'ret' (16 bytes); its family, or -EINVAL. */
static int forward_parse_address(const char *s, uint8_t ret[16]) {
        if (s && inet_pton(AF_INET, s, ret) == 1)
                return AF_INET;
        if (s && inet_pton(AF_INET6, s, ret) == 1)
                return AF_INET6;
        return -EINVAL;
}

/* A new tc object (RTM_NEWQDISC, RTM_NEWTFILTER) of 'ifindex' under 'parent'. */
static struct nlmsghdr *tc_request(void *buf, uint16_t type, int ifindex, uint32_t parent, struct tcmsg **ret) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct tcmsg *tcm;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
        tcm->tcm_family = AF_UNSPEC;
        tcm->tcm_ifindex = ifindex;
        tcm->tcm_parent = parent;
        *ret = tcm;
        return nlh;
}

/* tc qdisc add dev IFINDEX clsact (one that is there already will do); tc
 * filter add dev IFINDEX ingress|egress prio PRIO u32 match u32 0 0 action
 * mirred egress redirect|mirror dev TO: everything that arrives on IFINDEX
 * (ingress), or leaves through it (egress), leaves through TO as well
 * (mirror) or instead (redirect). u32, not matchall: kernels built without
 * cls_matchall have it. */
static int tc_add_clsact(int ifindex) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct tcmsg *tcm;
        int r;

        nlh = tc_request(buf, RTM_NEWQDISC, ifindex, TC_H_CLSACT, &tcm);
        tcm->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
        mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
        r = vfprog_transact(nlh, NULL, NULL);
        return r == -EEXIST ? 0 : r < 0 ? r : 1;
}

int netdev_add_clsact(const char *ifname) {
        int ifindex, r;

        r = ifindex_from_name(ifname, &ifindex);
        if (r < 0)
                return r;
        return tc_add_clsact(ifindex);
}

static int tc_mirred_all(int ifindex, bool egress, uint16_t prio, int to, bool mirror) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlattr *options, *actions, *action, *action_options;
        struct nlmsghdr *nlh;
        struct tcmsg *tcm;
        struct tc_mirred mirred = {
                .action = mirror ? TC_ACT_PIPE : TC_ACT_STOLEN,
                .eaction = mirror ? TCA_EGRESS_MIRROR : TCA_EGRESS_REDIR,
                .ifindex = (uint32_t) to,
        };
        /* one key that every frame matches: 0 under the mask 0 at offset 0 */
        uint8_t selector[sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key)] = {};
        struct tc_u32_sel sel = { .flags = TC_U32_TERMINAL, .nkeys = 1 };
        int r;

        memcpy(selector, &sel, sizeof(sel));

        r = tc_add_clsact(ifindex);
        if (r < 0)
                return r;

        nlh = tc_request(buf, RTM_NEWTFILTER, ifindex,
                         TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS), &tcm);
        tcm->tcm_info = TC_H_MAKE((uint32_t) prio << 16, htons(ETH_P_ALL));   /* every protocol */
        mnl_attr_put_strz(nlh, TCA_KIND, "u32");
        options = mnl_attr_nest_start(nlh, TCA_OPTIONS);
        mnl_attr_put(nlh, TCA_U32_SEL, sizeof(selector), selector);
        actions = mnl_attr_nest_start(nlh, TCA_U32_ACT);
        action = mnl_attr_nest_start(nlh, 1);
        mnl_attr_put_strz(nlh, TCA_ACT_KIND, "mirred");
        action_options = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
        mnl_attr_put(nlh, TCA_MIRRED_PARMS, sizeof(mirred), &mirred);
        mnl_attr_nest_end(nlh, action_options);
        mnl_attr_nest_end(nlh, action);
        mnl_attr_nest_end(nlh, actions);
        mnl_attr_nest_end(nlh, options);
        return vfprog_transact(nlh, NULL, NULL);
}

/* The destination's end: everything that comes out of the tunnel goes into the tap. */
static int forward_redirect(int ifindex, int to) {
        return tc_mirred_all(ifindex, false, 1, to, false);
}

/* Our filter's priority on a source tap's egress: apart from anyone else's. */
#define FORWARD_MIRROR_PRIO 0x7666U

int forward_mirror_del(const char *tap);

int forward_mirror_add(const char *tap, const char *tunnel) {
        int tap_ifindex, tunnel_ifindex, added, r;

        r = ifindex_from_name(tap, &tap_ifindex);
        if (r >= 0)
                r = ifindex_from_name(tunnel, &tunnel_ifindex);
        if (r < 0)
                return r;
        /* u32 would take a second filter at the same priority: every frame twice */
        (void) forward_mirror_del(tap);
        added = tc_add_clsact(tap_ifindex);
        if (added < 0)
                return added;
        r = tc_mirred_all(tap_ifindex, true, FORWARD_MIRROR_PRIO, tunnel_ifindex, true);
        return r < 0 ? r : added;
}

int forward_mirror_del(const char *tap) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct tcmsg *tcm;
        int ifindex, r;

        r = ifindex_from_name(tap, &ifindex);
        if (r < 0)
                return r;
        nlh = tc_request(buf, RTM_DELTFILTER, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &tcm);
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        tcm->tcm_info = TC_H_MAKE((uint32_t) FORWARD_MIRROR_PRIO << 16, htons(ETH_P_ALL));
        return vfprog_transact(nlh, NULL, NULL);
}

int forward_link_add(const char *ifname, const char *bridge, const char *redirect_to, uint32_t vni,
                     const char *local, const char *remote, uint16_t port) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE], la[16], ra[16];
        struct nlattr *linkinfo, *data, *protinfo;
        struct ifinfomsg *ifi;
        struct nlmsghdr *nlh;
        uint32_t mtu = 0;
        int other, ifindex, family, r;

        if (!ifname || strlen(ifname) == 0 || strlen(ifname) >= IFNAMSIZ || vni == 0 || vni > 0xffffff ||
            port == 0 || !bridge == !redirect_to)
                return -EINVAL;
        family = forward_parse_address(local, la);
        if (family < 0 || forward_parse_address(remote, ra) != family)
                return -EINVAL;
        r = ifindex_from_name(bridge ?: redirect_to, &other);
        if (r < 0)
                return r;
        /* the MTU of the bridge (a port with a smaller one would lower it),
         * or of the tap it feeds */
        r = vfprog_transact(netlink_put_link_request(buf, RTM_GETLINK, NLM_F_ACK, other, NULL), mtu_cb, &mtu);
        if (r < 0)
                return r;

        nlh = netlink_put_link_request(buf, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 0, NULL);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        if (bridge)
                mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) other);
        if (mtu > 0)
                mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vni);
        if (family == AF_INET) {
                mnl_attr_put(nlh, IFLA_VXLAN_LOCAL, 4, la);
                mnl_attr_put(nlh, IFLA_VXLAN_GROUP, 4, ra);
        } else {
                mnl_attr_put(nlh, IFLA_VXLAN_LOCAL6, 16, la);
                mnl_attr_put(nlh, IFLA_VXLAN_GROUP6, 16, ra);
        }
        mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(port));
        mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);
        r = vfprog_transact(nlh, NULL, NULL);
        if (r < 0)
                return r;

        r = ifindex_from_name(ifname, &ifindex);
        if (r < 0)
                return r;
        if (bridge) {
                /* bridge link set dev IFNAME learning off flood off
                 * mcast_flood off bcast_flood off: only what the FDB names
                 * this port goes in, and nothing that comes out is learned
                 * (no loop with the uplink). */
                nlh = netlink_put_link_request(buf, RTM_SETLINK, NLM_F_ACK, ifindex, &ifi);
                ifi->ifi_family = AF_BRIDGE;
                protinfo = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
                mnl_attr_put_u8(nlh, IFLA_BRPORT_LEARNING, 0);
                mnl_attr_put_u8(nlh, IFLA_BRPORT_UNICAST_FLOOD, 0);
                mnl_attr_put_u8(nlh, IFLA_BRPORT_MCAST_FLOOD, 0);
                mnl_attr_put_u8(nlh, IFLA_BRPORT_BCAST_FLOOD, 0);
                mnl_attr_nest_end(nlh, protinfo);
                r = vfprog_transact(nlh, NULL, NULL);
        } else
                r = forward_redirect(ifindex, other);
        if (r >= 0) {
                nlh = netlink_put_link_request(buf, RTM_SETLINK, NLM_F_ACK, ifindex, &ifi);
                ifi->ifi_flags = IFF_UP;
                ifi->ifi_change = IFF_UP;
                r = vfprog_transact(nlh, NULL, NULL);
        }
        if (r < 0)
                (void) forward_link_del(ifname);
        return r;
}

int forward_link_del(const char *ifname) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        int ifindex, r;

        r = ifindex_from_name(ifname, &ifindex);
        if (r < 0)
                return r;
        return vfprog_transact(netlink_put_link_request(buf, RTM_DELLINK, NLM_F_ACK, ifindex, NULL), NULL, NULL);
}

/* One minimum-size frame of the local experimental EtherType to 'dst', with
 * 'payload' (at most ETH_ZLEN - ETH_HLEN bytes), out of the tap 'ifname'. */
static int netdev_queue_frame(const char *ifname, const uint8_t dst[6], const char *payload) {
        uint8_t frame[ETH_ZLEN] = {};
        struct sockaddr_ll sa = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_802_EX1),
                .sll_halen = ETH_ALEN,
        };
        int fd, ifindex, r;
        ssize_t n;

        r = ifindex_from_name(ifname, &ifindex);
        if (r < 0)
                return r;
        sa.sll_ifindex = ifindex;
        memcpy(sa.sll_addr, dst, ETH_ALEN);
        memcpy(frame, dst, ETH_ALEN);
        frame[6] = 0x02;        /* a locally administered source */
        frame[12] = ETH_P_802_EX1 >> 8;
        frame[13] = ETH_P_802_EX1 & 0xff;
        memcpy(frame + ETH_HLEN, payload, MIN(strlen(payload), sizeof(frame) - ETH_HLEN));

        loop_watch_note("AF_PACKET: a frame into", ifname);
        fd = packet_socket();
        if (fd < 0)
                return fd;
        n = sendto(fd, frame, sizeof(frame), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &sa, sizeof(sa));
        return n < 0 ? -errno : 0;
}

int netdev_queue_placeholder(const char *ifname, const uint8_t dst[6]) {
        /* A guest drops it without a word if it ever gets it. */
        return netdev_queue_frame(ifname, dst, "vfo handover");
}

_Static_assert(STANDBY_RX_MARKER_ETHERTYPE == ETH_P_802_EX1, "the drain marker is sent as ETH_P_802_EX1");

int netdev_queue_drain_marker(const char *ifname, const uint8_t dst[6]) {
        return netdev_queue_frame(ifname, dst, STANDBY_RX_MARKER_MAGIC);
}

typedef struct FdbLookup {
        int bridge_ifindex;
        uint8_t mac[ETH_ALEN];
        bool found, found_untagged;
        int port_ifindex;
        bool is_static;
} FdbLookup;

static int fdb_lookup_cb(const struct nlmsghdr *nlh, void *data) {
        FdbLookup *l = data;
        const struct ndmsg *ndm;
        const struct nlattr *a;
        bool mac_match = false, has_vlan = false;
        int master = 0;

        if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm))
                return MNL_CB_OK;
        ndm = mnl_nlmsg_get_payload(nlh);
        if (ndm->ndm_family != AF_BRIDGE)
                return MNL_CB_OK;

        mnl_attr_for_each(a, nlh, sizeof(*ndm)) {
                switch (mnl_attr_get_type(a)) {
                case NDA_LLADDR:
                        mac_match = mnl_attr_get_payload_len(a) == ETH_ALEN &&
                                    memcmp(mnl_attr_get_payload(a), l->mac, ETH_ALEN) == 0;
                        break;
                case NDA_MASTER:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                master = (int) mnl_attr_get_u32(a);
                        break;
                case NDA_VLAN:
                        has_vlan = true;
                        break;
                }
        }

        /* Only the bridge's own entries carry NDA_MASTER; the ports' own
         * address lists (NTF_SELF) come in the same dump without it. */
        if (!mac_match || master != l->bridge_ifindex)
                return MNL_CB_OK;

        /* With VLAN filtering one MAC has an entry per VLAN: the untagged
         * one (VLAN 0) wins, else the first. */
        if (l->found_untagged || (l->found && has_vlan))
                return MNL_CB_OK;

        l->found = true;
        l->found_untagged = !has_vlan;
        l->port_ifindex = ndm->ndm_ifindex;
        l->is_static = ndm->ndm_state & (NUD_NOARP | NUD_PERMANENT);
        return MNL_CB_OK;
}

int fdb_lookup(const char *bridge_ifname, const uint8_t mac[6], char ret_port[16], bool *ret_static) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        char name[IF_NAMESIZE];
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        FdbLookup l = {};
        int r;

        assert(mac);

        r = ifindex_from_name(bridge_ifname, &l.bridge_ifindex);
        if (r < 0)
                return r;
        memcpy(l.mac, mac, ETH_ALEN);

        /* The dump filter as "bridge fdb show br BRIDGE" sends it: an
         * ifinfomsg with IFLA_MASTER, which every kernel since 4.12 takes
         * without strict checking; the callback filters again on NDA_MASTER. */
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETNEIGH;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_BRIDGE;
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) l.bridge_ifindex);

        r = vfprog_transact(nlh, fdb_lookup_cb, &l);
        if (r < 0)
                return r;
        if (!l.found)
                return -ENOENT;

        if (ret_port) {
                if (!if_indextoname((unsigned) l.port_ifindex, name))
                        return errno == ENXIO ? -ENODEV : -errno;
                (void) snprintf(ret_port, 16, "%s", name);
        }
        if (ret_static)
                *ret_static = l.is_static;
        return 0;
}
