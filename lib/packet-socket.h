/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One AF_PACKET socket per process, to send frames out of links (the
 * drain marker and placeholder into a tap, GARP and unsolicited NA out of a
 * guest's NIC). Protocol 0: it is never hooked into receive, so nothing
 * queues on it; it is bound to no link (each sendto() names one).
 *
 * Why not one per send: closing an AF_PACKET socket waits for an RCU grace
 * period (the kernel's packet_release() calls synchronize_net()). On this
 * project's lab machine under load that took 5-76 ms per close, and 2-4.5 s
 * at times, with the event loop waiting. */
#pragma once

/* The socket (non-blocking, close-on-exec), opened at the first call and
 * kept until the process exits; a negative errno if it cannot be opened. */
int packet_socket(void);
