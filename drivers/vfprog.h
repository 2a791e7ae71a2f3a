/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Switch programming through rtnetlink: a VF's settings on its PF
 * (IFLA_VFINFO_LIST: MAC, VLAN, spoof checking, trust, link state), and a
 * Linux bridge's FDB (steering a MAC to one bridge port). All calls are
 * synchronous requests of drivers/netlink.c, answered with an ACK within a
 * 2 s deadline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum VfLinkState {
        VF_LINK_STATE_AUTO,     /* IFLA_VF_LINK_STATE_AUTO */
        VF_LINK_STATE_ENABLE,
        VF_LINK_STATE_DISABLE,
} VfLinkState;

typedef struct VfSettings {
        uint8_t mac[6];         /* all zero: clear the MAC */
        uint16_t vlan;          /* 0: no VLAN */
        uint8_t qos;
        bool spoofchk;
        bool trust;
        VfLinkState link_state;
} VfSettings;

/* The neutral settings a released VF gets: no MAC, no VLAN, spoof checking
 * on, not trusted, link state auto. */
void vf_settings_neutral(VfSettings *ret);

/* ip link set PF vf N mac … vlan … spoofchk … trust … state … in one request. */
int vfprog_set(const char *pf_ifname, unsigned vf_index, const VfSettings *s);

/* Builds the RTM_SETLINK request vfprog_set() sends, into 'buf' (at least
 * MNL_SOCKET_BUFFER_SIZE bytes); returns its length. For unit tests: the
 * request vfprog_set() sends carries the transport's sequence number. */
int vfprog_build_request(void *buf, size_t size, int pf_ifindex, unsigned vf_index, const VfSettings *s,
                         uint32_t seq);

/* bridge fdb replace MAC dev PORT master static [sticky]: frames to 'mac'
 * on the bridge 'port' belongs to go to 'port' only. */
int fdb_steer(const char *port_ifname, const uint8_t mac[6], bool sticky);
/* bridge fdb del MAC dev PORT master; -ENOENT if there was no such entry. */
int fdb_forget(const char *port_ifname, const uint8_t mac[6]);
/* The port a MAC is on in the FDB of the bridge 'port_ifname' belongs to,
 * and whether the entry is static; -ENOENT if not known. */
int fdb_lookup(const char *bridge_ifname, const uint8_t mac[6], char ret_port[16], bool *ret_static);

/* A migration's forwarding tunnel: ip link add IFNAME mtu M type vxlan id
 * VNI local LOCAL remote REMOTE dstport PORT nolearning, then up. LOCAL and
 * REMOTE: IPv4 or IPv6 addresses of one family. Exactly one of:
 *   'bridge'       the source's end: master BRIDGE, mtu (BRIDGE's); bridge
 *                  link set dev IFNAME learning off flood off mcast_flood
 *                  off bcast_flood off. Nothing enters it but what the FDB
 *                  steers to it (fdb_steer()), and what comes out is never
 *                  learned.
 *   'redirect_to'  the destination's end: no bridge, mtu (the tap's); tc
 *                  qdisc clsact and an ingress u32 filter that matches all
 *                  with action mirred egress redirect dev REDIRECT_TO: every frame that
 *                  comes out of the tunnel goes into that tap, whatever the
 *                  bridge knows.
 * Undone on failure. */
int forward_link_add(const char *ifname, const char *bridge, const char *redirect_to, uint32_t vni,
                     const char *local, const char *remote, uint16_t port);
/* ip link del IFNAME; -ENODEV if there is none. */
int forward_link_del(const char *ifname);
/* tc qdisc add dev IFNAME clsact: 1 if added, 0 if there was one. Adding a
 * queue discipline to a running link deactivates it for a moment, and a
 * frame sent to it then is dropped, counted nowhere (measured here: one in
 * about every graft at 2,000 frames/s): add it before traffic flows. */
int netdev_add_clsact(const char *ifname);
/* A migration's handover that copies instead of moving: tc qdisc add dev TAP
 * clsact (one that is there will do); tc filter add dev TAP egress prio
 * 0x7666 u32 match u32 0 0 action mirred egress mirror dev TUNNEL. Every
 * frame the bridge sends into the tap (to the domain) goes into the tunnel
 * too; one such filter at most (an earlier one is replaced). 1 if it had to
 * add the clsact (see netdev_add_clsact()), 0 if not. -ENODEV if either
 * link is missing; the kernel's error if the tap cannot take the filter (an
 * ingress qdisc where clsact would go). */
int forward_mirror_add(const char *tap, const char *tunnel);
/* tc filter del dev TAP egress prio 0x7666 (the clsact qdisc stays). */
int forward_mirror_del(const char *tap);
/* ip link set IFNAME txqueuelen LEN; the length it had in *ret_old if not
 * NULL. A tap's queue is what holds frames while nothing reads it (tun
 * resizes its ring when this changes). */
int netdev_set_queue_len(const char *ifname, uint32_t len, uint32_t *ret_old);

/* What the link 'ifname' could not send (its tx_dropped, IFLA_STATS64). For
 * a tap: frames the bridge handed it while its queue was full, because the
 * reader (QEMU) did not take them in time; the guest never sees them. */
int netdev_tx_dropped(const char *ifname, uint64_t *ret);

/* What the NIC dropped for VF 'vf_index' of the PF 'pf_ifname': the sum of
 * its IFLA_VF_STATS_RX_DROPPED (frames for the guest the VF could not take)
 * and IFLA_VF_STATS_TX_DROPPED (frames from it the VF could not send), from
 * the PF's RTM_GETLINK with RTEXT_FILTER_VF. An SR-IOV VF has no tap; this
 * is its counterpart of netdev_tx_dropped(). A driver without VF statistics
 * (no ndo_get_vf_stats) reads 0. -ENOENT: the PF lists no such VF;
 * -ENODATA: the kernel gives no drop counters for it; -ENOSPC: the PF's
 * answer is too long to read. */
int vf_dropped(const char *pf_ifname, unsigned vf_index, uint64_t *ret);
/* The same from the PF's RTM_NEWLINK message 'nlh' (its length checked by
 * the caller): what vf_dropped() reads, for unit tests. */
struct nlmsghdr;
int vf_dropped_parse(const struct nlmsghdr *nlh, unsigned vf_index, uint64_t *ret);

/* Puts one placeholder frame to 'dst' into the queue of the tap 'ifname'
 * (sent out of it, as if the bridge forwarded it): a QEMU waiting for an
 * incoming migration reads the first frame of its tap before the domain
 * runs and loses it; this is that frame. AF_PACKET, CAP_NET_RAW. */
int netdev_queue_placeholder(const char *ifname, const uint8_t dst[6]);

/* Puts the drain marker (drivers/bpf/standby-rx.h) to 'dst' into the queue
 * of the tap 'ifname', behind whatever is queued there: the guest's standby
 * helper knows from it that the synthetic path has delivered everything sent
 * before. AF_PACKET, CAP_NET_RAW. */
int netdev_queue_drain_marker(const char *ifname, const uint8_t dst[6]);
