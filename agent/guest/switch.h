/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PortSwitch: one port's path transitions (ARCHITECTURE.md "11 The guest":
 * the graceful detach and its mirror for attach), driven by host requests, by what the kernel
 * shows of the VF, and by deadlines. The state machine is a pure function;
 * PortSwitch applies it through the datapath driver and reports through
 * callbacks, so tests run it with a fake driver and a fake clock. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/guest/ports.h"
#include "agent/guest/datapath.h"
#include "lib/time-util.h"
#include "proto/vfo.pb-c.h"

typedef enum SwitchState {
        SWITCH_STATE_IDLE,              /* no transition: the kernel's normal handling */
        SWITCH_STATE_DETACH_PREPARED,   /* both paths deliver; transmit on the VF; waiting for steering */
        SWITCH_STATE_DETACH_DRAINING,   /* steering moved; the VF drains what was already sent to it */
        SWITCH_STATE_DETACHED,          /* transmit on synthetic; both paths deliver until the VF is gone */
        SWITCH_STATE_ATTACH_PREPARED,   /* both paths deliver; waiting for the VF and its carrier */
        SWITCH_STATE_ATTACH_READY,      /* VF up, AttachReady sent; waiting for steering */
        SWITCH_STATE_ATTACH_DRAINING,   /* transmit on the VF; the standby drains what was sent to it */
        _SWITCH_STATE_MAX,
        _SWITCH_STATE_INVALID = -EINVAL,
} SwitchState;

typedef enum SwitchEvent {
        SWITCH_EVENT_PREPARE_DETACH,    /* host: PrepareDetach */
        SWITCH_EVENT_PREPARE_ATTACH,    /* host: PrepareAttach */
        SWITCH_EVENT_STEERED_SYNTHETIC, /* host: SteeringMoved / SetPath to synthetic */
        SWITCH_EVENT_STEERED_VF,        /* host: SteeringMoved / SetPath to the VF */
        SWITCH_EVENT_VF_READY,          /* kernel: VF present, joined, carrier up */
        SWITCH_EVENT_VF_LOST,           /* kernel: VF lost its carrier (still present) */
        SWITCH_EVENT_VF_GONE,           /* kernel: VF removed */
        SWITCH_EVENT_DEADLINE,          /* the transition's deadline passed */
        _SWITCH_EVENT_MAX,
        _SWITCH_EVENT_INVALID = -EINVAL,
} SwitchEvent;

/* Pure: the next state, or _SWITCH_STATE_INVALID when the event is refused
 * in this state (the request gets Error{BUSY or INVALID_STATE}). */
SwitchState switch_state_next(SwitchState s, SwitchEvent e) _const_;

const char *switch_state_to_string(SwitchState s) _const_;
SwitchState switch_state_from_string(const char *s) _pure_;
const char *switch_event_to_string(SwitchEvent e) _const_;

/* How long the path that steering left keeps delivering: frames already on
 * their way to it (tap queues, device rings) still arrive after the host
 * moved steering. */
#define SWITCH_DRAIN_USEC (150 * USEC_PER_MSEC)
/* When the host put a drain marker behind what it sent to the path it left
 * (SteeringMoved.drain_marker: the synthetic path at an attach, the VF's at a
 * detach), that path keeps delivering until the marker arrived, checked every
 * SWITCH_MARKER_POLL_USEC, for at most this long. Measured in the lab under
 * load: frames still arrived on the standby 150-360 ms after the move. */
#define SWITCH_DRAIN_MARKER_MAX_USEC (2 * USEC_PER_SEC)
#define SWITCH_MARKER_POLL_USEC (5 * USEC_PER_MSEC)
/* When a detach's drain ended, what the guest queued to send on the VF goes
 * out before the VF is closed (closing drops it): checked every
 * SWITCH_MARKER_POLL_USEC, until the queue is empty, or has not shrunk over
 * SWITCH_FLUSH_STALL_POLLS polls (100 ms of a guest that runs), or for at
 * most SWITCH_FLUSH_MAX_USEC (a guest starved by its host polls seldom).
 * The host waits for it (vfod's AgentTimeout). */
#define SWITCH_FLUSH_STALL_POLLS 20
#define SWITCH_FLUSH_MAX_USEC (2 * USEC_PER_SEC)

typedef struct PortSwitch PortSwitch;

typedef struct SwitchCallbacks {
        /* Queue a message to the host (a reply carries the request's id). */
        void (*send)(void *userdata, PortSwitch *s, Vfo__Envelope *e);
        /* Announce the port's addresses on its master; returns frames sent. */
        int (*announce)(void *userdata, PortSwitch *s);
        /* Something worth a log line happened (the core does not log). */
        void (*note)(void *userdata, PortSwitch *s, int error, const char *what);
        /* Optional: the clock, read once transmit has moved, so PathChanged
         * carries the real switch time (the 'now' handed in is the request's). */
        usec_t (*clock)(void *userdata);
        /* Optional: a transition began (left idle) or ended (back to idle,
         * the datapath's normal handling restored: its counters are final). */
        void (*transition)(void *userdata, PortSwitch *s, bool ended, usec_t now);
} SwitchCallbacks;

struct PortSwitch {
        char mac[18];
        DatapathPort port;
        char vf_ifname[16];
        bool vf_ready;
        PortPath active_path;   /* where transmit goes */
        PortPath kernel_path;   /* where the kernel said it goes at the last update */
        SwitchState state;
        uint64_t pending_id;    /* PrepareAttach waiting for AttachReady, SteeringMoved for PathChanged */
        uint64_t trigger_id;    /* the PrepareDetach/PrepareAttach that began the transition, 0 none */
        bool await_marker;      /* attach-/detach-draining ends when the host's drain marker arrived */
        bool flushing;          /* detach-draining: drained, the VF's transmit queue empties first */
        uint32_t flush_queued;  /* what waited in it at the last poll */
        unsigned flush_idle_polls; /* polls since it last shrank */
        usec_t trigger_usec;    /* when the current transition's trigger arrived */
        usec_t deadline;        /* USEC_INFINITY when no transition is timed */
        Datapath *dp;
        const SwitchCallbacks *cb;
        void *userdata;
        uint64_t n_switches;
        usec_t drain;           /* SWITCH_DRAIN_USEC unless configured */
};

/* Starts IDLE; call port_switch_update() with the kernel's view next. */
int port_switch_new(const char *mac, const DatapathPort *p, const SwitchCallbacks *cb, void *userdata,
                    PortSwitch **ret);
PortSwitch *port_switch_free(PortSwitch *s);
DEFINE_CLEANUP_FUNC(PortSwitch, port_switch_free);

/* Sets what the kernel shows without raising events (a port just found). */
void port_switch_seed(PortSwitch *s, const DatapathPort *p, const char *vf_ifname, bool vf_ready,
                      PortPath kernel_path);

/* A host request for this port (PrepareDetach, PrepareAttach, SteeringMoved,
 * SetPath, ExpectReplay). Replies or errors go out through cb->send. */
void port_switch_request(PortSwitch *s, const Vfo__Envelope *m, usec_t now);

/* What the kernel shows now; VF arrival, carrier and removal become events.
 * 'vf_ready': the VF is present, joined and has carrier; 'kernel_path':
 * where the kernel transmits (ports.c). */
void port_switch_update(PortSwitch *s, const DatapathPort *p, const char *vf_ifname, bool vf_ready,
                        PortPath kernel_path, usec_t now);

/* Call when port_switch_next_timeout() has passed. */
void port_switch_timeout(PortSwitch *s, usec_t now);
/* The earliest of the transition's deadline and the datapath's own timer (the
 * end of a deduplication that outlived its transition); USEC_INFINITY: none. */
usec_t port_switch_next_timeout(const PortSwitch *s);

/* true while the drain waits for the host's marker. */
bool port_switch_awaits_marker(const PortSwitch *s);
/* true while the drain waits for the host's marker or a detach for the VF's
 * transmit queue to empty: call port_switch_poll() every
 * SWITCH_MARKER_POLL_USEC. */
bool port_switch_polls(const PortSwitch *s);
/* Ends the drain if the helper has seen the marker, the flush if the VF's
 * queue is empty. */
void port_switch_poll(PortSwitch *s, usec_t now);

PortPath port_switch_active_path(const PortSwitch *s);
