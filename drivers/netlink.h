/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink transport (libmnl): one NETLINK_ROUTE request and its answer, and
 * sockets subscribed to multicast groups. The only place that opens
 * AF_NETLINK; used by drivers/rtnl.c and drivers/vfprog.c, never above
 * drivers/ (it speaks struct nlmsghdr). */
#pragma once

#include <stdint.h>
#include <libmnl/libmnl.h>

#include "lib/time-util.h"

/* Every request is local and answered at once; the deadline only guards
 * against a kernel that never answers. */
#define NETLINK_TIMEOUT_USEC (2 * USEC_PER_SEC)

struct ifinfomsg;

/* Starts a link request in 'buf' (MNL_SOCKET_BUFFER_SIZE bytes): 'type'
 * (RTM_GETLINK, RTM_NEWLINK, …) with NLM_F_REQUEST and 'flags', and an
 * ifinfomsg (AF_UNSPEC) for 'ifindex' (0: none, e.g. by name or a dump),
 * returned in 'ret_ifi' if not NULL. */
struct nlmsghdr *netlink_put_link_request(void *buf, uint16_t type, uint16_t flags, int ifindex,
                                          struct ifinfomsg **ret_ifi);

/* Sends the request 'nlh' on a new NETLINK_ROUTE socket under a fresh
 * sequence number (it sets nlmsg_seq), then runs 'cb' (NULL: none) over
 * every answer until the kernel's ACK or NLMSG_DONE, waiting 'timeout' (> 0)
 * at most in all. 'cb' fails the way libmnl's own callbacks do: it sets
 * errno and returns MNL_CB_ERROR.
 *
 * Returns 0; the kernel's error; -ETIMEDOUT; -ENOSPC for an answer over
 * 64 KiB; or the callback's -errno (-EPROTO if it set none). If
 * 'ret_message' is not NULL it is set, always: the kernel's extended ACK
 * text for its error (malloc'd), or NULL when it gave none or there was no
 * kernel error. */
int netlink_transact(struct nlmsghdr *nlh, usec_t timeout, mnl_cb_t cb, void *data, char **ret_message);

/* A NETLINK_ROUTE socket subscribed to 'groups' (a bit mask, 1 << (RTNLGRP_x
 * - 1)), non-blocking, for the event loop; the caller owns the fd.
 * netlink_monitor_drain() empties it and returns > 0 if anything arrived
 * (also when the kernel dropped some for a full queue), 0 if nothing did. */
int netlink_monitor_open(uint32_t groups);
int netlink_monitor_drain(int fd);
