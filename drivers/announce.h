/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Announcer: after a path switch, tells the L2 network where our MAC now lives with a gratuitous
 * ARP per IPv4 address and an unsolicited Neighbour Advertisement per IPv6 address. The only
 * place in the agent that opens AF_PACKET. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many addresses of each family are announced per round; the rest are ignored
 * (the return value of announce_send() then shows fewer frames than addresses). One round is
 * at most 2 * 64 frames of <= 86 bytes: cheap, and bounded whatever the interface carries. */
#define ANNOUNCE_ADDRS_MAX 64

/* Frame sizes, without the Ethernet FCS and without padding to 60 bytes (the driver pads, as
 * it does for the kernel's own ARP). */
#define ANNOUNCE_GARP_SIZE 42u  /* ethhdr 14 + ARP for IPv4 over Ethernet 28 */
#define ANNOUNCE_NA_SIZE 86u    /* ethhdr 14 + ip6_hdr 40 + nd_neighbor_advert 24 + TLLA option 8 */

typedef struct AnnounceAddrs {
        const struct in_addr *v4;
        size_t n_v4;
        const struct in6_addr *v6;
        size_t n_v6;
} AnnounceAddrs;

/* Builds a gratuitous ARP for 'addr' from 'mac' into 'buf': the RFC 5227 "ARP Announcement"
 * that the kernel sends for bonding failover and arp_notify (inetdev_send_gratuitous_arp()):
 * Ethernet broadcast, op REQUEST, sender = target = 'addr', target hardware address zero.
 * Returns the frame length (ANNOUNCE_GARP_SIZE), -ENOBUFS if 'size' is too small, -EINVAL if
 * 'addr' is 0.0.0.0, multicast or limited broadcast. Pure: no I/O. */
int announce_build_garp(const uint8_t mac[6], const struct in_addr *addr, uint8_t *buf, size_t size);

/* Builds an unsolicited Neighbour Advertisement for 'addr' from 'mac' into 'buf', as the
 * kernel's ndisc_send_unsol_na() does (RFC 4861 7.2.6): Ethernet 33:33:00:00:00:01, IPv6 from
 * 'addr' itself to ff02::1, hop limit 255, ICMPv6 type 136 with Override set, Solicited and
 * Router clear, target 'addr', Target Link-Layer Address option 'mac', checksum filled in.
 * Returns the frame length (ANNOUNCE_NA_SIZE), -ENOBUFS if 'size' is too small, -EINVAL if
 * 'addr' is :: or multicast. Pure: no I/O. */
int announce_build_na(const uint8_t mac[6], const struct in6_addr *addr, uint8_t *buf, size_t size);

/* Sends one round of announcements out of 'ifindex' with source MAC 'mac': one gratuitous ARP
 * per address in addrs->v4, then one unsolicited NA per address in addrs->v6, each capped at
 * ANNOUNCE_ADDRS_MAX. Never blocks: a frame the kernel refuses (EAGAIN included) is skipped,
 * except that an interface-level error (-ENETDOWN, -ENXIO, -ENODEV) ends the round.
 * Returns the number of frames sent (0 if there was nothing to send); -errno if the socket
 * cannot be opened, 'ifindex' is invalid, or not a single frame could be sent (then the error
 * of the last failed frame, e.g. -ENETDOWN, -ENXIO, -EINVAL for an unusable address). */
int announce_send(int ifindex, const uint8_t mac[6], const AnnounceAddrs *addrs);
