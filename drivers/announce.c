/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Gratuitous ARP and unsolicited Neighbour Advertisement frames, built by hand and sent on an
 * AF_PACKET socket; see announce.h. */

#include <assert.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "drivers/announce.h"
#include "lib/macro.h"
#include "lib/packet-socket.h"

#define ANNOUNCE_ND_OPT_TLLA_SIZE 8u    /* type, length (in units of 8 octets), 6-byte MAC */

static const uint8_t announce_eth_broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
/* RFC 2464 section 7: ff02::1 maps to 33:33 + its low 32 bits. */
static const uint8_t announce_eth_all_nodes[ETH_ALEN] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
static const struct in6_addr announce_in6_all_nodes = { .s6_addr = { 0xff, 0x02, [15] = 0x01 } };

/* Offsets inside the NA frame. The frame is assembled with memcpy() from naturally aligned
 * structs on the stack, because after the 14-byte Ethernet header nothing in 'buf' is aligned. */
#define ANNOUNCE_NA_OFF_IP6 (sizeof(struct ethhdr))
#define ANNOUNCE_NA_OFF_ICMP6 (ANNOUNCE_NA_OFF_IP6 + sizeof(struct ip6_hdr))
#define ANNOUNCE_NA_OFF_OPT (ANNOUNCE_NA_OFF_ICMP6 + sizeof(struct nd_neighbor_advert))
#define ANNOUNCE_NA_ICMP6_LEN (sizeof(struct nd_neighbor_advert) + ANNOUNCE_ND_OPT_TLLA_SIZE)

_Static_assert(sizeof(struct ethhdr) + sizeof(struct ether_arp) == ANNOUNCE_GARP_SIZE, "GARP size");
_Static_assert(ANNOUNCE_NA_OFF_OPT + ANNOUNCE_ND_OPT_TLLA_SIZE == ANNOUNCE_NA_SIZE, "NA size");

static void announce_put_ethhdr(uint8_t *buf, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
                                uint16_t proto) {
        struct ethhdr eth = { .h_proto = htons(proto) };

        memcpy(eth.h_dest, dst, ETH_ALEN);
        memcpy(eth.h_source, src, ETH_ALEN);
        memcpy(buf, &eth, sizeof(eth));
}

int announce_build_garp(const uint8_t mac[6], const struct in_addr *addr, uint8_t *buf, size_t size) {
        struct ether_arp arp = {
                .ea_hdr = {
                        .ar_hrd = htons(ARPHRD_ETHER),
                        .ar_pro = htons(ETH_P_IP),
                        .ar_hln = ETH_ALEN,
                        .ar_pln = sizeof(struct in_addr),
                        /* REQUEST, like the kernel (bonding failover, arp_notify) and RFC 5227
                         * section 3; some stacks only update on requests, Linux takes both. */
                        .ar_op = htons(ARPOP_REQUEST),
                },
                /* arp_tha stays zero: RFC 5227 2.3 "SHOULD be set to all zeroes", as the kernel does. */
        };
        uint32_t a;

        assert(mac);
        assert(addr);
        assert(buf || size == 0);

        a = ntohl(addr->s_addr);
        if (a == INADDR_ANY || a == INADDR_BROADCAST || IN_MULTICAST(a))
                return -EINVAL;
        if (size < ANNOUNCE_GARP_SIZE)
                return -ENOBUFS;

        memcpy(arp.arp_sha, mac, ETH_ALEN);
        memcpy(arp.arp_spa, &addr->s_addr, sizeof(arp.arp_spa));
        memcpy(arp.arp_tpa, &addr->s_addr, sizeof(arp.arp_tpa));

        announce_put_ethhdr(buf, announce_eth_broadcast, mac, ETH_P_ARP);
        memcpy(buf + sizeof(struct ethhdr), &arp, sizeof(arp));
        return (int) ANNOUNCE_GARP_SIZE;
}

static uint32_t announce_csum_add(uint32_t sum, const uint8_t *p, size_t n) {
        for (; n >= 2; p += 2, n -= 2)
                sum += (uint32_t) p[0] << 8 | p[1];
        if (n > 0)
                sum += (uint32_t) p[0] << 8;
        return sum;
}

/* RFC 4443 2.3 / RFC 8200 8.1: one's complement sum over the pseudo-header (source,
 * destination, upper-layer length, next header) and the ICMPv6 message with its checksum
 * field zero. Returned in network byte order, ready to store. */
static uint16_t announce_icmp6_checksum(const struct in6_addr *src, const struct in6_addr *dst,
                                        const uint8_t *msg, size_t len) {
        uint8_t tail[8] = {
                (uint8_t) (len >> 24), (uint8_t) (len >> 16), (uint8_t) (len >> 8), (uint8_t) len,
                0, 0, 0, IPPROTO_ICMPV6,
        };
        uint32_t sum = 0;

        sum = announce_csum_add(sum, src->s6_addr, sizeof(src->s6_addr));
        sum = announce_csum_add(sum, dst->s6_addr, sizeof(dst->s6_addr));
        sum = announce_csum_add(sum, tail, sizeof(tail));
        sum = announce_csum_add(sum, msg, len);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);

        return htons((uint16_t) ~sum);
}

int announce_build_na(const uint8_t mac[6], const struct in6_addr *addr, uint8_t *buf, size_t size) {
        struct ip6_hdr ip6 = {
                .ip6_flow = htonl(6u << 28),    /* version 6, traffic class 0, flow label 0 */
                .ip6_plen = htons(ANNOUNCE_NA_ICMP6_LEN),
                .ip6_nxt = IPPROTO_ICMPV6,
                .ip6_hlim = 255,                /* RFC 4861 7.1.2: receivers drop anything else */
                .ip6_dst = announce_in6_all_nodes,
        };
        struct nd_neighbor_advert na = {
                .nd_na_type = ND_NEIGHBOR_ADVERT,
                .nd_na_code = 0,
                /* glibc's ND_NA_FLAG_* are already in network byte order. Override so that
                 * existing cache entries take the new MAC; Solicited must be clear on a
                 * multicast NA (RFC 4861 7.1.2); Router clear, the guest is a host. */
                .nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE,
                .nd_na_target = *addr,
        };
        struct nd_opt_hdr opt = {
                .nd_opt_type = ND_OPT_TARGET_LINKADDR,
                .nd_opt_len = ANNOUNCE_ND_OPT_TLLA_SIZE / 8,
        };
        uint8_t *icmp6;
        uint16_t csum;

        assert(mac);
        assert(addr);
        assert(buf || size == 0);

        if (IN6_IS_ADDR_UNSPECIFIED(addr) || IN6_IS_ADDR_MULTICAST(addr))
                return -EINVAL;
        if (size < ANNOUNCE_NA_SIZE)
                return -ENOBUFS;

        /* Source is the target itself, as ndisc_send_na() picks for an address we own; valid
         * for link-local and global targets alike. */
        ip6.ip6_src = *addr;

        announce_put_ethhdr(buf, announce_eth_all_nodes, mac, ETH_P_IPV6);
        memcpy(buf + ANNOUNCE_NA_OFF_IP6, &ip6, sizeof(ip6));
        icmp6 = buf + ANNOUNCE_NA_OFF_ICMP6;
        memcpy(icmp6, &na, sizeof(na));
        memcpy(buf + ANNOUNCE_NA_OFF_OPT, &opt, sizeof(opt));
        memcpy(buf + ANNOUNCE_NA_OFF_OPT + sizeof(opt), mac, ETH_ALEN);

        csum = announce_icmp6_checksum(&ip6.ip6_src, &ip6.ip6_dst, icmp6, ANNOUNCE_NA_ICMP6_LEN);
        memcpy(icmp6 + offsetof(struct icmp6_hdr, icmp6_cksum), &csum, sizeof(csum));
        return (int) ANNOUNCE_NA_SIZE;
}

/* Errors that concern the interface rather than one frame. */
static bool announce_error_is_link(int r) {
        return r == -ENETDOWN || r == -ENXIO || r == -ENODEV;
}

static int announce_send_frame(int fd, int ifindex, uint16_t proto, const uint8_t *frame, size_t len) {
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(proto),
                .sll_ifindex = ifindex,
                .sll_halen = ETH_ALEN,
        };
        ssize_t n;

        /* With SOCK_RAW the frame carries its own Ethernet header; sll_addr is informational. */
        memcpy(sll.sll_addr, frame, ETH_ALEN);

        n = sendto(fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) &sll, sizeof(sll));
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        return 0;
}

int announce_send(int ifindex, const uint8_t mac[6], const AnnounceAddrs *addrs) {
        int fd;
        uint8_t frame[MAX(ANNOUNCE_GARP_SIZE, ANNOUNCE_NA_SIZE)];
        size_t n_v4, n_v6;
        int sent = 0, error = 0, r;

        assert(mac);
        assert(addrs);
        assert(addrs->v4 || addrs->n_v4 == 0);
        assert(addrs->v6 || addrs->n_v6 == 0);

        if (ifindex <= 0)
                return -EINVAL;

        n_v4 = MIN(addrs->n_v4, (size_t) ANNOUNCE_ADDRS_MAX);
        n_v6 = MIN(addrs->n_v6, (size_t) ANNOUNCE_ADDRS_MAX);
        if (n_v4 + n_v6 == 0)
                return 0;

        /* The process's one AF_PACKET socket: closing one per round would wait for an RCU
         * grace period (lib/packet-socket.h). It is bound to no link; each frame names one. */
        fd = packet_socket();
        if (fd < 0)
                return fd;

        for (size_t i = 0; i < n_v4 + n_v6; i++) {
                bool v4 = i < n_v4;

                if (v4)
                        r = announce_build_garp(mac, &addrs->v4[i], frame, sizeof(frame));
                else
                        r = announce_build_na(mac, &addrs->v6[i - n_v4], frame, sizeof(frame));
                if (r >= 0)
                        r = announce_send_frame(fd, ifindex, v4 ? ETH_P_ARP : ETH_P_IPV6, frame, (size_t) r);
                if (r < 0) {
                        error = r;
                        /* The interface itself is unusable: every further frame would fail the same way. */
                        if (announce_error_is_link(r))
                                break;
                        continue;
                }
                sent++;
        }

        if (sent == 0 && error < 0)
                return error;
        return sent;
}
