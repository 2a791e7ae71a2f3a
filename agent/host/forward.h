/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A migration's forwarding tunnels (ARCHITECTURE.md "8 Migration"): from
 * the handover until the network has learnt where the domain runs, the
 * source's bridge sends what still arrives for a port's MAC through a VXLAN
 * link to the destination, where it goes straight into the port's new tap
 * and waits there. One link per port on each side ("vfofw" and the VNI in
 * hex), with ForwardAddress= at both ends; the destination picks the VNIs
 * (Manager.HandoverEx, org.vfo1(5)). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/host/manager.h"

typedef struct Forward Forward;

/* How long the source forwards after its domain left: the destination's
 * QEMU announces the guest's MACs at once, and the switch learns from the
 * first of those frames. The destination keeps its end longer. */
#define FORWARD_SOURCE_LINGER_USEC (5 * USEC_PER_SEC)
#define FORWARD_DESTINATION_LINGER_USEC (10 * USEC_PER_SEC)

/* The destination's end for the port 'port' (its tap known): a link to
 * 'remote' that delivers into the tap, with a VNI not in use here.
 * -EOPNOTSUPP when this host has no ForwardAddress= or 'remote' is of
 * another family. The end this port has already to that tap and 'remote'
 * is kept (the prepare, then the handover); another is closed. */
int forward_open_incoming(Manager *m, const Port *port, const char *remote, Forward **ret);
/* The source's end for the port 'port' on the bridge of 'pool', to the
 * destination 'remote' with its 'vni' and UDP 'port' (0: ForwardPort=);
 * nothing goes into it before forward_steer(). -EOPNOTSUPP without
 * ForwardAddress=, without a bridge, or for another family. */
int forward_open_outgoing(Manager *m, const Pool *pool, const Port *port, const char *remote, uint32_t vni,
                          uint16_t udp_port, Forward **ret);
/* The source pins the port's MAC to its end: frames to it go into the
 * tunnel from now on. 0 if done, or if it was already. */
int forward_steer(Forward *f);
/* The handover that copies: the source goes on delivering to the domain's
 * 'tap' and copies every frame it sends there into its end as well (the
 * guest drops the copies of what it took before it paused, ExpectReplay);
 * forward_steer() later, once the domain paused here. Closing the end
 * removes the copying. 0 if done, or if it was already. */
int forward_mirror(Forward *f, const char *tap);

/* The destination's ends follow their incoming domain: they close
 * FORWARD_DESTINATION_LINGER_USEC after the domain runs here, and at once
 * when it stops or vanishes here (the migration failed). */
void forward_incoming_running(Manager *m, const char *uuid);
void forward_incoming_stopped(Manager *m, const char *uuid);
/* The source's ends when its migration ends: 'migrated', they close
 * FORWARD_SOURCE_LINGER_USEC later; else now (the domain runs here again). */
void forward_outgoing_end(Manager *m, const char *uuid, bool migrated);

/* The open end for the port 'mac' of the domain 'uuid' on the side
 * 'incoming' (a domain that came back soon may have both), NULL if none. */
Forward *forward_find(Manager *m, const char *uuid, const char *mac, bool incoming);
uint32_t forward_vni(const Forward *f);
/* At start: the links a vfod that died left (only with ForwardAddress=). */
void forward_remove_stale(Manager *m);
/* At exit: every forward closes now. */
void forward_close_all(Manager *m);
