/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Switch programming through rtnetlink (libmnl); see vfprog.h.
 *
 * Each call opens its own NETLINK_ROUTE socket, sends one request and reads
 * until the kernel's ACK (or NLMSG_DONE for a dump), with a 2 s receive
 * deadline: the kernel answers local requests at once, the deadline only
 * guards against one that never does. Extended ACKs are switched on so that
 * a refusal ("VF index out of range", "Sticky FDB entries can't be …") ends
 * up in the debug log next to the errno we return. */

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>

#include "drivers/vfprog.h"
#include "lib/log.h"
#include "lib/macro.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static void mnl_socket_closep(struct mnl_socket **nl) {
        if (*nl)
                mnl_socket_close(*nl);
}

/* Sequence numbers: seeded from the clock so that two vfod instances in a
 * row do not start at the same number, then counted up. */
static uint32_t vfprog_next_seq(void) {
        static uint32_t seq;

        if (seq == 0)
                seq = (uint32_t) time(NULL);
        if (++seq == 0)
                seq = 1;
        return seq;
}

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
        struct ifinfomsg *ifi;
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

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_SETLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = seq;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = pf_ifindex;

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

static int netlink_open(struct mnl_socket **ret) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        struct timeval deadline = { .tv_sec = 2 };
        int one = 1;

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof(deadline)) < 0)
                return -errno;
        /* Both optional (older kernels): errors then come without a text,
         * and with the whole request echoed back. */
        (void) setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        (void) setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));

        *ret = TAKE_PTR(nl);
        return 0;
}

/* Logs the extended ACK message of every error in 'buf', if there is one. */
static void netlink_log_ext_ack(const void *buf, size_t len) {
        const struct nlmsghdr *nlh = buf;
        int remaining = (int) len;

        for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
                const struct nlmsgerr *err;
                const struct nlattr *a;
                size_t offset;

                if (nlh->nlmsg_type != NLMSG_ERROR || !(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                        continue;
                if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr))
                        continue;
                err = mnl_nlmsg_get_payload(nlh);
                if (err->error == 0)
                        continue;

                offset = sizeof(struct nlmsgerr);
                if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                        offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
                if (offset >= mnl_nlmsg_get_payload_len(nlh))
                        continue;

                mnl_attr_for_each(a, nlh, offset)
                        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
                            mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                log_debug("rtnetlink: %s (%s)", mnl_attr_get_str(a), strerror(-err->error));
        }
}

/* Sends 'nlh' (its nlmsg_seq already set) and runs 'cb' over the answer until
 * the ACK or NLMSG_DONE. Returns 0, the kernel's error, or 'data_error'. */
static int netlink_transact(struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const int *data_error) {
        _cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        unsigned portid;
        ssize_t n;
        int r;

        r = netlink_open(&nl);
        if (r < 0)
                return r;
        portid = mnl_socket_get_portid(nl);

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;

        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n < 0)
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                netlink_log_ext_ack(buf, (size_t) n);
                errno = 0;
                r = mnl_cb_run(buf, (size_t) n, nlh->nlmsg_seq, portid, cb, data);
                if (r < 0)
                        return data_error && *data_error < 0 ? *data_error : -(errno ?: EPROTO);
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

int vfprog_set(const char *pf_ifname, unsigned vf_index, const VfSettings *s) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        int ifindex, r;

        assert(s);

        r = ifindex_from_name(pf_ifname, &ifindex);
        if (r < 0)
                return r;
        r = vfprog_build_request(buf, sizeof(buf), ifindex, vf_index, s, vfprog_next_seq());
        if (r < 0)
                return r;
        return netlink_transact((struct nlmsghdr *) buf, NULL, NULL, NULL);
}

static struct nlmsghdr *fdb_put_request(uint8_t *buf, uint16_t type, uint16_t flags, int port_ifindex,
                                        const uint8_t mac[6], uint16_t state, uint8_t ndm_flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ndmsg *ndm;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nlh->nlmsg_seq = vfprog_next_seq();
        ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
        ndm->ndm_family = AF_BRIDGE;
        ndm->ndm_ifindex = port_ifindex;
        ndm->ndm_state = state;
        ndm->ndm_flags = ndm_flags;
        mnl_attr_put(nlh, NDA_LLADDR, ETH_ALEN, mac);
        return nlh;
}

int fdb_steer(const char *port_ifname, const uint8_t mac[6], bool sticky) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        int ifindex, r;

        assert(mac);

        r = ifindex_from_name(port_ifname, &ifindex);
        if (r < 0)
                return r;

        /* NTF_MASTER: the bridge's FDB, not the port's own address list.
         * NUD_NOARP is "static": never aged out, and (unlike NUD_PERMANENT)
         * not a local address of the bridge. NLM_F_REPLACE moves an existing
         * entry to this port. */
        nlh = fdb_put_request(buf, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, mac, NUD_NOARP,
                              NTF_MASTER | (sticky ? NTF_STICKY : 0));
        return netlink_transact(nlh, NULL, NULL, NULL);
}

int fdb_forget(const char *port_ifname, const uint8_t mac[6]) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        int ifindex, r;

        assert(mac);

        r = ifindex_from_name(port_ifname, &ifindex);
        if (r < 0)
                return r;

        /* The bridge answers -ENOENT itself when the MAC is not on this port. */
        nlh = fdb_put_request(buf, RTM_DELNEIGH, 0, ifindex, mac, 0, NTF_MASTER);
        return netlink_transact(nlh, NULL, NULL, NULL);
}

static int queue_len_cb(const struct nlmsghdr *nlh, void *data) {
        const struct nlattr *a;

        mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg))
                if (mnl_attr_get_type(a) == IFLA_TXQLEN && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        *(uint32_t *) data = mnl_attr_get_u32(a);
        return MNL_CB_OK;
}

static struct nlmsghdr *link_put_request(uint8_t *buf, uint16_t type, int ifindex) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = vfprog_next_seq();
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return nlh;
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
                r = netlink_transact(link_put_request(buf, RTM_GETLINK, ifindex), queue_len_cb, &old, NULL);
                if (r < 0)
                        return r;
                if (old == 0)
                        return -EPROTO;
                *ret_old = old;
        }
        nlh = link_put_request(buf, RTM_SETLINK, ifindex);
        mnl_attr_put_u32(nlh, IFLA_TXQLEN, len);
        return netlink_transact(nlh, NULL, NULL, NULL);
}

int netdev_queue_placeholder(const char *ifname, const uint8_t dst[6]) {
        /* A minimum-size frame of the local experimental EtherType, which
         * a guest drops without a word if it ever gets it. */
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
        memcpy(frame + ETH_HLEN, "vfo handover", 12);

        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        n = sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *) &sa, sizeof(sa));
        r = n < 0 ? -errno : 0;
        close(fd);
        return r;
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
        nlh->nlmsg_seq = vfprog_next_seq();
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_BRIDGE;
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) l.bridge_ifindex);

        r = netlink_transact(nlh, fdb_lookup_cb, &l, NULL);
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
