/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A migration's forwarding tunnel (ARCHITECTURE.md "8 Migration"): from the
 * handover until the network has learnt where the domain runs, the source's
 * bridge sends what still arrives for the domain's MACs through a VXLAN link
 * to the destination's bridge, where it waits in the new tap. One link on
 * each side ("vfofw" and the VNI in hex), with ForwardAddress= at both ends;
 * the destination picks the VNI (Manager.HandoverEx, org.vfo1(5)). */
#pragma once

#include <stdint.h>

#include "agent/host/manager.h"

typedef struct Forward Forward;

/* How long the source forwards after its domain left: the destination's
 * QEMU announces the guest's MACs at once, and the switch learns from the
 * first of those frames. The destination keeps its end longer. */
#define FORWARD_SOURCE_LINGER_USEC (5 * USEC_PER_SEC)
#define FORWARD_DESTINATION_LINGER_USEC (10 * USEC_PER_SEC)

/* Opens the link to 'remote' on the bridge of 'pool' for the domain 'uuid':
 * with 'vni' 0 this end picks a VNI not in use here, and is the
 * destination's end (forward_incoming_*()); 'port' 0 is ForwardPort=. -EOPNOTSUPP when this
 * host has no ForwardAddress=, the pool no bridge, or 'remote' is not of
 * ForwardAddress='s family. One per domain: an older one is closed. */
int forward_open(Manager *m, const Pool *pool, const char *uuid, const char *remote, uint32_t vni, uint16_t port,
                 Forward **ret);
/* Frames to 'port' on the forward's bridge go into the tunnel. */
int forward_steer(Forward *f, const Port *port);
/* Closes it now (the link goes), or 'usec' from now. */
void forward_close(Forward *f);
void forward_close_after(Forward *f, usec_t usec);
/* The destination's end follows its incoming domain: it closes
 * FORWARD_DESTINATION_LINGER_USEC after the domain runs here, and at once
 * when the domain stops or vanishes here (the migration failed). The
 * source's end is its migration's (migrate.c). */
void forward_incoming_running(Manager *m, const char *uuid);
void forward_incoming_stopped(Manager *m, const char *uuid);
/* The source's end when its migration ends: 'migrated', it closes
 * FORWARD_SOURCE_LINGER_USEC later; else now (the domain runs here again). */
void forward_outgoing_end(Manager *m, const char *uuid, bool migrated);
/* The open forward of the domain 'uuid', NULL if none. */
Forward *forward_find(Manager *m, const char *uuid);
const char *forward_ifname(const Forward *f);
uint32_t forward_vni(const Forward *f);
/* At start: the links a vfod that died left (only with ForwardAddress=). */
void forward_remove_stale(Manager *m);
/* At exit: every forward closes now. */
void forward_close_all(Manager *m);
