/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port path switching; see switch.h. The order on detach is the one that
 * measured 0 lost in the lab (agent-switch scenario): both paths deliver -> host steers -> transmit
 * moves -> VF unplugged -> helper off. Attach mirrors it. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/guest/switch.h"
#include "lib/string-table.h"
#include "lib/validate.h"

static const char *const switch_state_table[_SWITCH_STATE_MAX] = {
        [SWITCH_STATE_IDLE] = "idle",
        [SWITCH_STATE_DETACH_PREPARED] = "detach-prepared",
        [SWITCH_STATE_DETACH_DRAINING] = "detach-draining",
        [SWITCH_STATE_DETACHED] = "detached",
        [SWITCH_STATE_ATTACH_PREPARED] = "attach-prepared",
        [SWITCH_STATE_ATTACH_READY] = "attach-ready",
        [SWITCH_STATE_ATTACH_DRAINING] = "attach-draining",
};

static const char *const switch_event_table[_SWITCH_EVENT_MAX] = {
        [SWITCH_EVENT_PREPARE_DETACH] = "prepare-detach",
        [SWITCH_EVENT_PREPARE_ATTACH] = "prepare-attach",
        [SWITCH_EVENT_STEERED_SYNTHETIC] = "steered-synthetic",
        [SWITCH_EVENT_STEERED_VF] = "steered-vf",
        [SWITCH_EVENT_VF_READY] = "vf-ready",
        [SWITCH_EVENT_VF_LOST] = "vf-lost",
        [SWITCH_EVENT_VF_GONE] = "vf-gone",
        [SWITCH_EVENT_DEADLINE] = "deadline",
};

DEFINE_STRING_TABLE_LOOKUP(switch_state, SwitchState, _SWITCH_STATE_MAX);
DEFINE_STRING_TABLE_TO_STRING(switch_event, SwitchEvent, _SWITCH_EVENT_MAX);

SwitchState switch_state_next(SwitchState s, SwitchEvent e) {
        switch (s) {
        case SWITCH_STATE_IDLE:
                switch (e) {
                case SWITCH_EVENT_PREPARE_DETACH:
                        return SWITCH_STATE_DETACH_PREPARED;
                case SWITCH_EVENT_PREPARE_ATTACH:
                        return SWITCH_STATE_ATTACH_PREPARED;
                case SWITCH_EVENT_STEERED_SYNTHETIC:    /* forced move */
                case SWITCH_EVENT_STEERED_VF:
                case SWITCH_EVENT_VF_READY:             /* acting alone: announce, report */
                case SWITCH_EVENT_VF_LOST:
                case SWITCH_EVENT_VF_GONE:
                case SWITCH_EVENT_DEADLINE:
                        return SWITCH_STATE_IDLE;
                case _SWITCH_EVENT_MAX:
                case _SWITCH_EVENT_INVALID:
                        break;
                }
                break;

        case SWITCH_STATE_DETACH_PREPARED:
                switch (e) {
                case SWITCH_EVENT_PREPARE_DETACH:       /* the host retried */
                case SWITCH_EVENT_VF_READY:
                case SWITCH_EVENT_VF_LOST:
                        return SWITCH_STATE_DETACH_PREPARED;
                case SWITCH_EVENT_STEERED_SYNTHETIC:
                        return SWITCH_STATE_DETACH_DRAINING;
                case SWITCH_EVENT_STEERED_VF:           /* the host rolled back */
                case SWITCH_EVENT_VF_GONE:              /* surprise removal */
                case SWITCH_EVENT_DEADLINE:
                        return SWITCH_STATE_IDLE;
                case SWITCH_EVENT_PREPARE_ATTACH:
                        return _SWITCH_STATE_INVALID;
                case _SWITCH_EVENT_MAX:
                case _SWITCH_EVENT_INVALID:
                        break;
                }
                break;

        case SWITCH_STATE_DETACH_DRAINING:
                switch (e) {
                case SWITCH_EVENT_STEERED_SYNTHETIC:    /* the host retried */
                case SWITCH_EVENT_VF_READY:
                case SWITCH_EVENT_VF_LOST:
                        return SWITCH_STATE_DETACH_DRAINING;
                case SWITCH_EVENT_DEADLINE:             /* drained: move transmit */
                        return SWITCH_STATE_DETACHED;
                case SWITCH_EVENT_STEERED_VF:
                case SWITCH_EVENT_VF_GONE:
                        return SWITCH_STATE_IDLE;
                case SWITCH_EVENT_PREPARE_DETACH:
                case SWITCH_EVENT_PREPARE_ATTACH:
                        return _SWITCH_STATE_INVALID;
                case _SWITCH_EVENT_MAX:
                case _SWITCH_EVENT_INVALID:
                        break;
                }
                break;

        case SWITCH_STATE_DETACHED:
                switch (e) {
                case SWITCH_EVENT_PREPARE_DETACH:
                case SWITCH_EVENT_STEERED_SYNTHETIC:
                case SWITCH_EVENT_VF_READY:
                case SWITCH_EVENT_VF_LOST:
                case SWITCH_EVENT_DEADLINE:
                        return SWITCH_STATE_DETACHED;
                case SWITCH_EVENT_VF_GONE:              /* the unplug completed */
                case SWITCH_EVENT_STEERED_VF:           /* the unplug failed: back to the VF */
                        return SWITCH_STATE_IDLE;
                case SWITCH_EVENT_PREPARE_ATTACH:
                        return _SWITCH_STATE_INVALID;
                case _SWITCH_EVENT_MAX:
                case _SWITCH_EVENT_INVALID:
                        break;
                }
                break;

        case SWITCH_STATE_ATTACH_PREPARED:
                switch (e) {
                case SWITCH_EVENT_PREPARE_ATTACH:
                case SWITCH_EVENT_VF_LOST:
                case SWITCH_EVENT_VF_GONE:
                        return SWITCH_STATE_ATTACH_PREPARED;
                case SWITCH_EVENT_VF_READY:
                        return SWITCH_STATE_ATTACH_READY;
                case SWITCH_EVENT_STEERED_SYNTHETIC:    /* the host gave up */
                case SWITCH_EVENT_DEADLINE:
                        return SWITCH_STATE_IDLE;
                case SWITCH_EVENT_STEERED_VF:
                case SWITCH_EVENT_PREPARE_DETACH:
                        return _SWITCH_STATE_INVALID;
                case _SWITCH_EVENT_MAX:
                case _SWITCH_EVENT_INVALID:
                        break;
                }
                break;

        case SWITCH_STATE_ATTACH_READY:
                switch (e) {
                case SWITCH_EVENT_PREPARE_ATTACH:
                case SWITCH_EVENT_VF_READY:
                        return SWITCH_STATE_ATTACH_READY;
                case SWITCH_EVENT_VF_LOST:
                        return SWITCH_STATE_ATTACH_PREPARED;
                case SWITCH_EVENT_STEERED_VF:
                        return SWITCH_STATE_ATTACH_DRAINING;
                case SWITCH_EVENT_STEERED_SYNTHETIC:
                case SWITCH_EVENT_VF_GONE:
                case SWITCH_EVENT_DEADLINE:
                        return SWITCH_STATE_IDLE;
                case SWITCH_EVENT_PREPARE_DETACH:
                        return _SWITCH_STATE_INVALID;
                case _SWITCH_EVENT_MAX:
                case _SWITCH_EVENT_INVALID:
                        break;
                }
                break;

        case SWITCH_STATE_ATTACH_DRAINING:
                switch (e) {
                case SWITCH_EVENT_STEERED_VF:           /* the host retried */
                case SWITCH_EVENT_VF_READY:
                        return SWITCH_STATE_ATTACH_DRAINING;
                case SWITCH_EVENT_DEADLINE:             /* drained: helper off */
                case SWITCH_EVENT_STEERED_SYNTHETIC:
                case SWITCH_EVENT_VF_LOST:
                case SWITCH_EVENT_VF_GONE:
                        return SWITCH_STATE_IDLE;
                case SWITCH_EVENT_PREPARE_DETACH:
                case SWITCH_EVENT_PREPARE_ATTACH:
                        return _SWITCH_STATE_INVALID;
                case _SWITCH_EVENT_MAX:
                case _SWITCH_EVENT_INVALID:
                        break;
                }
                break;

        case _SWITCH_STATE_MAX:
        case _SWITCH_STATE_INVALID:
                break;
        }
        return _SWITCH_STATE_INVALID;
}

static void port_switch_note(PortSwitch *s, int error, const char *what);

int port_switch_new(const char *mac, const DatapathPort *p, const SwitchCallbacks *cb, void *userdata,
                    PortSwitch **ret) {
        _cleanup_(port_switch_freep) PortSwitch *s = NULL;
        int r;

        assert(mac_is_valid(mac));
        assert(p);
        assert(cb);
        assert(ret);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;

        strncpy(s->mac, mac, sizeof(s->mac) - 1);
        s->port = *p;
        s->state = SWITCH_STATE_IDLE;
        s->active_path = PORT_PATH_SYNTHETIC;
        s->drain = SWITCH_DRAIN_USEC;
        s->deadline = USEC_INFINITY;
        s->cb = cb;
        s->userdata = userdata;

        r = datapath_new(p, &s->dp);
        if (r < 0)
                return r;
        if (r > 0)
                port_switch_note(s, 0, "removed a helper filter an earlier agent left behind");

        *ret = TAKE_PTR(s);
        return 0;
}

PortSwitch *port_switch_free(PortSwitch *s) {
        if (!s)
                return NULL;
        datapath_free(s->dp);
        return mfree(s);
}

PortPath port_switch_active_path(const PortSwitch *s) {
        return s->active_path;
}

static void port_switch_note(PortSwitch *s, int error, const char *what) {
        if (s->cb->note)
                s->cb->note(s->userdata, s, error, what);
}

static void port_switch_send_error(PortSwitch *s, uint64_t id, Vfo__ErrorCode code, const char *message) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__Error err = VFO__ERROR__INIT;

        err.code = code;
        err.message = (char *) message;
        e.id = id;
        e.body_case = VFO__ENVELOPE__BODY_ERROR;
        e.error = &err;
        s->cb->send(s->userdata, s, &e);
}

static void port_switch_send_detach_ready(PortSwitch *s, uint64_t id, usec_t now) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__DetachReady m = VFO__DETACH_READY__INIT;

        m.mac = s->mac;
        m.prepare_usec = usec_sub_unsigned(now, s->trigger_usec);
        e.id = id;
        e.body_case = VFO__ENVELOPE__BODY_DETACH_READY;
        e.detach_ready = &m;
        s->cb->send(s->userdata, s, &e);
}

static void port_switch_send_attach_ready(PortSwitch *s, usec_t now) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__AttachReady m = VFO__ATTACH_READY__INIT;

        m.mac = s->mac;
        m.vf_ifname = s->vf_ifname;
        m.wait_usec = usec_sub_unsigned(now, s->trigger_usec);
        e.id = s->pending_id;
        e.body_case = VFO__ENVELOPE__BODY_ATTACH_READY;
        e.attach_ready = &m;
        s->cb->send(s->userdata, s, &e);
}

static void port_switch_send_path_changed(PortSwitch *s, uint64_t id, Vfo__PathChangeReason reason,
                                          unsigned announcements, usec_t now) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__PathChanged m = VFO__PATH_CHANGED__INIT;

        m.mac = s->mac;
        m.path = s->active_path == PORT_PATH_VF ? VFO__PATH_KIND__PATH_KIND_VF : VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
        m.reason = reason;
        m.request_usec = MIN(s->trigger_usec, now);
        m.switched_usec = now;
        m.announcements = announcements;
        e.id = id;
        e.body_case = VFO__ENVELOPE__BODY_PATH_CHANGED;
        e.path_changed = &m;
        s->cb->send(s->userdata, s, &e);
}

static unsigned port_switch_announce(PortSwitch *s) {
        int n = s->cb->announce ? s->cb->announce(s->userdata, s) : 0;

        if (n < 0) {
                port_switch_note(s, n, "announcement failed");
                return 0;
        }
        return (unsigned) n;
}

/* Broadcast and multicast are handed over from the standby exactly while
 * the VF is registered but cannot receive because we put it down (detach):
 * then net_failover drops the standby's copy and the VF has none. Without a
 * VF the standby delivers them itself; with the VF up the VF does, and a
 * second copy would be a duplicate (the lab's bridge floods broadcast to both
 * paths). During an attach the VF is opened as it registers, and the agent
 * learns of it later than the kernel: so never then. */
static int port_switch_sync_multicast(PortSwitch *s) {
        bool handover = (s->state == SWITCH_STATE_DETACH_DRAINING || s->state == SWITCH_STATE_DETACHED) &&
                        s->port.vf_ifindex > 0 && !s->port.vf_up;

        return datapath_vf_receives(s->dp, !handover);
}

/* When the drain that begins now ends at the latest. */
static usec_t port_switch_drain_deadline(const PortSwitch *s, usec_t now) {
        return usec_add(now, s->await_marker ? MAX(s->drain, SWITCH_DRAIN_MARKER_MAX_USEC) : s->drain);
}

/* The one place that changes s->state; entry actions run here, also on
 * self-transitions where they are idempotent. */
static int port_switch_set_state(PortSwitch *s, SwitchState state, usec_t deadline) {
        SwitchState old = s->state;
        int r = 0;

        s->state = state;
        if (old != state)
                port_switch_note(s, 0, switch_state_to_string(state));
        if (state != SWITCH_STATE_DETACH_DRAINING)
                s->flushing = false;

        /* The counters end before the helper goes off: from then on the standby
         * drops its copies of the broadcast and multicast the VF delivers
         * (harmless, but counted as undelivered; measured: 21 in an attach under
         * 1,000 broadcast frames/s). Unicast no longer comes there: the drain
         * ended at the host's marker, or its time. */
        if (old != SWITCH_STATE_IDLE && state == SWITCH_STATE_IDLE && s->cb->transition)
                s->cb->transition(s->userdata, s, true, s->cb->clock ? s->cb->clock(s->userdata) : s->trigger_usec);

        switch (state) {
        case SWITCH_STATE_IDLE:
                s->deadline = USEC_INFINITY;
                s->pending_id = 0;
                s->await_marker = false;
                r = datapath_receive_normal(s->dp);
                break;
        case SWITCH_STATE_DETACH_PREPARED:
                s->deadline = deadline;
                r = datapath_receive_both(s->dp);
                if (r >= 0)
                        r = port_switch_sync_multicast(s);
                break;
        case SWITCH_STATE_DETACH_DRAINING:
        case SWITCH_STATE_ATTACH_DRAINING:
                s->deadline = deadline;
                break;
        case SWITCH_STATE_DETACHED:
                /* No deadline: the helper stays until the VF is gone, or the
                 * host steers back. The VF is down and cannot receive (a
                 * bond's VF is up, and the bond stops delivering from it). */
                s->deadline = USEC_INFINITY;
                r = datapath_vf_drained(s->dp);
                if (r >= 0)
                        r = port_switch_sync_multicast(s);
                break;
        case SWITCH_STATE_ATTACH_PREPARED:
                s->deadline = deadline;
                r = datapath_receive_both(s->dp);
                if (r >= 0)
                        r = port_switch_sync_multicast(s);
                /* Transmit stays synthetic until the host steers to the VF. Without the hold
                 * the switch goes on, as before: a few frames may be lost at the VF's carrier-on. */
                if (r >= 0) {
                        int k = datapath_hold_transmit(s->dp, true);
                        if (k < 0)
                                port_switch_note(s, k, "cannot hold transmit on the synthetic path");
                }
                break;
        case SWITCH_STATE_ATTACH_READY:
                r = port_switch_sync_multicast(s);
                break;
        case _SWITCH_STATE_MAX:
        case _SWITCH_STATE_INVALID:
                assert_not_reached();
        }
        /* The counters start once the entry actions ran: before the helper is on,
         * the standby drops its copies of broadcast the VF delivers (as above). */
        if (old == SWITCH_STATE_IDLE && state != SWITCH_STATE_IDLE) {
                if (state != SWITCH_STATE_DETACH_PREPARED && state != SWITCH_STATE_ATTACH_PREPARED)
                        s->trigger_id = 0;      /* not begun by a request */
                if (s->cb->transition)
                        s->cb->transition(s->userdata, s, false, s->trigger_usec);
        }
        return r;
}

/* Moves transmit to 'path', announces, and reports it. */
static int port_switch_move(PortSwitch *s, PortPath path, uint64_t id, Vfo__PathChangeReason reason, usec_t now) {
        unsigned n;
        int r;

        /* net_failover and netvsc move transmit with the VF's admin state, and
         * the VF receives exactly while it is up. Taking it down stops its
         * receive long before the call returns (an e1000e under TCG takes
         * ~70 ms to close): hand broadcast over first, or it is lost. */
        if (path == PORT_PATH_SYNTHETIC && s->port.kind != PORT_KIND_BONDING && s->port.vf_ifindex > 0) {
                s->port.vf_up = false;
                datapath_update(s->dp, &s->port);
                (void) port_switch_sync_multicast(s);
        }

        r = datapath_transmit_on(s->dp, path);
        if (r < 0)
                return r;
        /* To the VF: the host has steered there. To the synthetic NIC (a detach
         * that flushed the VF's queue): the VF is down, the kernel sends on the
         * standby itself. */
        r = datapath_hold_transmit(s->dp, false);
        if (r < 0)
                return r;
        if (s->cb->clock)               /* transmit has moved: that is the switch time */
                now = MAX(now, s->cb->clock(s->userdata));

        if (path == PORT_PATH_VF && s->port.kind != PORT_KIND_BONDING && s->port.vf_ifindex > 0) {
                s->port.vf_up = true;
                datapath_update(s->dp, &s->port);
                (void) port_switch_sync_multicast(s);
        }
        s->active_path = path;
        s->n_switches++;
        n = port_switch_announce(s);
        port_switch_send_path_changed(s, id, reason, n, now);
        return 0;
}

/* A detach's drain ended: what the guest queued to send on the VF must go out
 * before the VF is closed, which drops it uncounted by any device (a run of 161
 * replies at 1,000/s in the lab, when the VF's completions lagged). Rarely does
 * anything wait; then transmit is held on the standby, so the VF's queue only
 * empties, and the VF is closed once it is empty, once it stops shrinking, or
 * after SWITCH_FLUSH_MAX_USEC (what is left then is counted as dropped). The
 * hold is kept this short on purpose: held from the steering on, a guest stopped
 * answering until its VF was unplugged in 4 of 82 busy benchmark cycles.
 * Returns true if the detach waits. */
static bool port_switch_begin_flush(PortSwitch *s, usec_t now) {
        char what[96];
        uint32_t n;
        int r;

        /* Hold first, then look: what the guest sends from here on goes out of
         * the standby, so the VF's queue can only shrink. Looked at first, the
         * queue was found empty and held 161 replies when the VF was closed a
         * moment later (busy benchmark; most likely the agent did not run in
         * between while the echo did, and the VF sent nothing). The move
         * releases the hold. */
        r = datapath_hold_transmit(s->dp, true);
        n = datapath_vf_tx_queued(s->dp);
        if (n == 0)
                return false;
        if (r < 0)
                port_switch_note(s, r, "cannot hold transmit on the synthetic path");
        snprintf(what, sizeof(what), "%" PRIu32 " frames wait in the VF's queue: closing it once they are out", n);
        port_switch_note(s, 0, what);
        s->flushing = true;
        s->flush_queued = n;
        s->flush_idle_polls = 0;
        s->await_marker = false;
        (void) port_switch_set_state(s, SWITCH_STATE_DETACH_DRAINING, usec_add(now, SWITCH_FLUSH_MAX_USEC));
        return true;
}

/* Something went wrong under us: back to the last state that carried
 * traffic (the kernel's normal handling), and tell the host. */
static void port_switch_fail(PortSwitch *s, uint64_t id, int error, const char *what) {
        port_switch_note(s, error, what);
        (void) port_switch_set_state(s, SWITCH_STATE_IDLE, USEC_INFINITY);
        port_switch_send_error(s, id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL, what);
}

static void port_switch_dispatch(PortSwitch *s, SwitchEvent e, uint64_t id, uint32_t deadline_ms, usec_t now) {
        SwitchState next = switch_state_next(s->state, e);
        usec_t deadline = usec_add(now, (usec_t) deadline_ms * USEC_PER_MSEC);
        SwitchState old = s->state;
        int r;

        if (next < 0) {
                if (e == SWITCH_EVENT_STEERED_VF)       /* only refused while attaching */
                        port_switch_send_error(s, id, VFO__ERROR_CODE__ERROR_CODE_INVALID_STATE,
                                               "The VF is not ready yet: wait for AttachReady.");
                else
                        port_switch_send_error(s, id, VFO__ERROR_CODE__ERROR_CODE_BUSY,
                                               "Another transition is in progress on this port.");
                return;
        }

        switch (e) {
        case SWITCH_EVENT_PREPARE_DETACH:
                if (old == SWITCH_STATE_IDLE) {
                        s->trigger_usec = now;
                        s->trigger_id = id;
                }
                if (next == SWITCH_STATE_DETACHED) {   /* already done: answer again */
                        port_switch_send_detach_ready(s, id, now);
                        return;
                }
                r = port_switch_set_state(s, next, deadline);
                if (r < 0) {
                        port_switch_fail(s, id, r, "Failed to make both paths deliver.");
                        return;
                }
                port_switch_send_detach_ready(s, id, now);
                return;

        case SWITCH_EVENT_PREPARE_ATTACH:
                if (old == SWITCH_STATE_IDLE) {
                        s->trigger_usec = now;
                        s->trigger_id = id;
                }
                s->pending_id = id;
                r = port_switch_set_state(s, next, old == SWITCH_STATE_IDLE ? deadline : s->deadline);
                if (r < 0) {
                        port_switch_fail(s, id, r, "Failed to make both paths deliver.");
                        return;
                }
                if (next == SWITCH_STATE_ATTACH_READY)
                        port_switch_send_attach_ready(s, now);
                else if (s->vf_ready)           /* the VF is already there */
                        port_switch_dispatch(s, SWITCH_EVENT_VF_READY, 0, 0, now);
                return;

        case SWITCH_EVENT_STEERED_SYNTHETIC:
        case SWITCH_EVENT_STEERED_VF: {
                PortPath path = e == SWITCH_EVENT_STEERED_VF ? PORT_PATH_VF : PORT_PATH_SYNTHETIC;

                if (next != old)
                        s->trigger_usec = now;
                if (next == SWITCH_STATE_DETACH_DRAINING) {
                        /* Transmit moves (the VF goes down) once what was
                         * already sent to the VF has come in: the host's
                         * marker behind it arrived, or the drain passed. */
                        s->pending_id = id;
                        if (old != next)
                                (void) port_switch_set_state(s, next, port_switch_drain_deadline(s, now));
                        return;
                }
                r = port_switch_move(s, path, id, VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_REQUESTED, now);
                if (r < 0) {
                        port_switch_fail(s, id, r, "Failed to move transmit.");
                        return;
                }
                r = port_switch_set_state(s, next,
                                          next == SWITCH_STATE_ATTACH_DRAINING && old != next
                                                  ? port_switch_drain_deadline(s, now)
                                                  : s->deadline);
                if (r < 0)
                        port_switch_note(s, r, "Failed to update receive handling.");
                return;
        }

        case SWITCH_EVENT_VF_READY:
                if (old == SWITCH_STATE_ATTACH_PREPARED) {
                        r = port_switch_set_state(s, next, s->deadline);
                        if (r < 0) {
                                port_switch_fail(s, s->pending_id, r, "Failed to update receive handling.");
                                return;
                        }
                        port_switch_send_attach_ready(s, now);
                        return;
                }
                if (old == SWITCH_STATE_IDLE) {
                        /* A VF nobody asked for: the kernel uses it now. */
                        port_switch_note(s, 0, "VF appeared without a request");
                        s->trigger_usec = now;
                        s->active_path = s->kernel_path;
                        port_switch_send_path_changed(s, 0, VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_APPEARED,
                                                      port_switch_announce(s), now);
                }
                (void) port_switch_set_state(s, next, s->deadline);
                return;

        case SWITCH_EVENT_VF_LOST:
        case SWITCH_EVENT_VF_GONE:
                if (old == SWITCH_STATE_IDLE || old == SWITCH_STATE_ATTACH_DRAINING ||
                    (e == SWITCH_EVENT_VF_GONE && (old == SWITCH_STATE_DETACH_PREPARED ||
                                                   old == SWITCH_STATE_DETACH_DRAINING ||
                                                   old == SWITCH_STATE_ATTACH_READY))) {
                        /* Surprise removal or link loss: traffic is on the
                         * synthetic path now whether we like it or not. */
                        bool was_vf = s->active_path == PORT_PATH_VF;

                        s->trigger_usec = now;
                        s->active_path = PORT_PATH_SYNTHETIC;
                        port_switch_note(s, 0, e == SWITCH_EVENT_VF_GONE ? "VF removed without warning"
                                                                         : "VF lost its link");
                        if (was_vf || old != SWITCH_STATE_IDLE)
                                port_switch_send_path_changed(
                                        s, 0,
                                        e == SWITCH_EVENT_VF_GONE ? VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_REMOVED
                                                                  : VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_LINK_LOST,
                                        port_switch_announce(s), now);
                }
                r = port_switch_set_state(s, next, s->deadline);
                if (r < 0)
                        port_switch_note(s, r, "Failed to update receive handling.");
                return;

        case SWITCH_EVENT_DEADLINE:
                if (old == SWITCH_STATE_DETACH_DRAINING) {
                        if (!s->flushing && port_switch_begin_flush(s, now))
                                return;
                        r = port_switch_move(s, PORT_PATH_SYNTHETIC, s->pending_id,
                                             VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_REQUESTED, now);
                        if (r < 0) {
                                port_switch_fail(s, s->pending_id, r, "Failed to move transmit.");
                                return;
                        }
                        s->pending_id = 0;
                        (void) port_switch_set_state(s, next, USEC_INFINITY);
                        return;
                }
                if (old == SWITCH_STATE_ATTACH_DRAINING) {
                        (void) port_switch_set_state(s, next, USEC_INFINITY);
                        return;
                }
                if (old == SWITCH_STATE_ATTACH_PREPARED || old == SWITCH_STATE_ATTACH_READY)
                        port_switch_send_error(s, s->pending_id, VFO__ERROR_CODE__ERROR_CODE_TIMEOUT,
                                               "The VF did not come up before the deadline.");
                if (old != SWITCH_STATE_IDLE && old != next)
                        port_switch_note(s, -ETIMEDOUT, "transition abandoned at its deadline");
                (void) port_switch_set_state(s, next, USEC_INFINITY);
                return;

        case _SWITCH_EVENT_MAX:
        case _SWITCH_EVENT_INVALID:
                break;
        }
        assert_not_reached();
}

/* ExpectReplay: a migration's handover, outside transitions. */
static void port_switch_expect_replay(PortSwitch *s, const Vfo__Envelope *m, usec_t now) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__ReplayExpected re = VFO__REPLAY_EXPECTED__INIT;
        uint32_t ms = m->expect_replay->window_ms, prepare = m->expect_replay->prepare_ms;
        int r;

        if ((ms > 0 || prepare > 0) && s->state != SWITCH_STATE_IDLE) {
                port_switch_send_error(s, m->id, VFO__ERROR_CODE__ERROR_CODE_BUSY, "A transition runs on this port.");
                return;
        }
        r = datapath_expect_replay(s->dp, ms * USEC_PER_MSEC, prepare * USEC_PER_MSEC, now);
        if (r == -EOPNOTSUPP) {
                port_switch_send_error(s, m->id, VFO__ERROR_CODE__ERROR_CODE_UNSUPPORTED,
                                       "This port's datapath cannot drop replayed frames.");
                return;
        }
        if (r == -EBUSY) {
                port_switch_send_error(s, m->id, VFO__ERROR_CODE__ERROR_CODE_BUSY,
                                       "A VF is plugged on this port, or a transition holds it.");
                return;
        }
        if (r < 0) {
                port_switch_send_error(s, m->id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL,
                                       "Loading the helper for the replay window failed.");
                return;
        }
        re.mac = s->mac;
        re.window_ms = ms;
        re.prepare_ms = prepare;
        e.id = m->id;
        e.body_case = VFO__ENVELOPE__BODY_REPLAY_EXPECTED;
        e.replay_expected = &re;
        s->cb->send(s->userdata, s, &e);
}

void port_switch_request(PortSwitch *s, const Vfo__Envelope *m, usec_t now) {
        Vfo__PathKind path;

        assert(s);
        assert(m);

        switch (m->body_case) {
        case VFO__ENVELOPE__BODY_PREPARE_DETACH:
                if (s->port.vf_ifindex <= 0)
                        break;
                port_switch_dispatch(s, SWITCH_EVENT_PREPARE_DETACH, m->id, m->prepare_detach->deadline_ms, now);
                return;

        case VFO__ENVELOPE__BODY_PREPARE_ATTACH:
                port_switch_dispatch(s, SWITCH_EVENT_PREPARE_ATTACH, m->id, m->prepare_attach->deadline_ms, now);
                return;

        case VFO__ENVELOPE__BODY_STEERING_MOVED:
        case VFO__ENVELOPE__BODY_SET_PATH:
                path = m->body_case == VFO__ENVELOPE__BODY_SET_PATH ? m->set_path->path : m->steering_moved->path;
                if (path == VFO__PATH_KIND__PATH_KIND_VF && s->port.vf_ifindex <= 0)
                        break;
                /* The marker is behind what the host sent to the path it left: the synthetic
                 * NIC's at an attach, the VF's at a detach. Only a helper sees it. */
                if (s->state != SWITCH_STATE_ATTACH_DRAINING && s->state != SWITCH_STATE_DETACH_DRAINING)
                        s->await_marker = m->body_case == VFO__ENVELOPE__BODY_STEERING_MOVED &&
                                          m->steering_moved->drain_marker &&
                                          datapath_sees_markers(s->dp, path == VFO__PATH_KIND__PATH_KIND_VF
                                                                               ? PORT_PATH_SYNTHETIC : PORT_PATH_VF);
                port_switch_dispatch(s,
                                     path == VFO__PATH_KIND__PATH_KIND_VF ? SWITCH_EVENT_STEERED_VF
                                                                          : SWITCH_EVENT_STEERED_SYNTHETIC,
                                     m->id, 0, now);
                return;

        case VFO__ENVELOPE__BODY_EXPECT_REPLAY:
                port_switch_expect_replay(s, m, now);
                return;

        default:
                port_switch_send_error(s, m->id, VFO__ERROR_CODE__ERROR_CODE_UNSUPPORTED, "Not a port request.");
                return;
        }

        port_switch_send_error(s, m->id, VFO__ERROR_CODE__ERROR_CODE_INVALID_STATE, "No VF is plugged on this port.");
}

void port_switch_seed(PortSwitch *s, const DatapathPort *p, const char *vf_ifname, bool vf_ready,
                      PortPath kernel_path) {
        assert(s);
        assert(p);

        s->port = *p;
        datapath_update(s->dp, p);
        snprintf(s->vf_ifname, sizeof(s->vf_ifname), "%s", vf_ifname ?: "");
        s->vf_ready = vf_ready;
        s->active_path = s->kernel_path = kernel_path;
}

void port_switch_update(PortSwitch *s, const DatapathPort *p, const char *vf_ifname, bool vf_ready,
                        PortPath kernel_path, usec_t now) {
        bool had_vf = s->port.vf_ifindex > 0, was_ready = s->vf_ready;

        assert(s);
        assert(p);

        s->port = *p;
        datapath_update(s->dp, p);
        snprintf(s->vf_ifname, sizeof(s->vf_ifname), "%s", vf_ifname ?: "");
        s->vf_ready = vf_ready;
        s->kernel_path = kernel_path;
        (void) port_switch_sync_multicast(s);

        if (had_vf && p->vf_ifindex <= 0)
                port_switch_dispatch(s, SWITCH_EVENT_VF_GONE, 0, 0, now);
        else if (!was_ready && vf_ready)
                port_switch_dispatch(s, SWITCH_EVENT_VF_READY, 0, 0, now);
        else if (was_ready && !vf_ready && p->vf_ifindex > 0 && s->state != SWITCH_STATE_DETACHED)
                port_switch_dispatch(s, SWITCH_EVENT_VF_LOST, 0, 0, now);

        /* Outside transitions the kernel is the truth about transmit. */
        if (s->state == SWITCH_STATE_IDLE)
                s->active_path = kernel_path;
}

void port_switch_timeout(PortSwitch *s, usec_t now) {
        assert(s);

        datapath_expire(s->dp, now);
        if (s->deadline == USEC_INFINITY || now < s->deadline)
                return;
        port_switch_dispatch(s, SWITCH_EVENT_DEADLINE, 0, 0, now);
}

usec_t port_switch_next_timeout(const PortSwitch *s) {
        assert(s);
        return MIN(s->deadline, datapath_linger_until(s->dp));
}

bool port_switch_awaits_marker(const PortSwitch *s) {
        return (s->state == SWITCH_STATE_ATTACH_DRAINING || s->state == SWITCH_STATE_DETACH_DRAINING) &&
               s->await_marker;
}

bool port_switch_polls(const PortSwitch *s) {
        return port_switch_awaits_marker(s) || (s->state == SWITCH_STATE_DETACH_DRAINING && s->flushing);
}

void port_switch_poll(PortSwitch *s, usec_t now) {
        StandbyHelperCounters c;
        char what[64];

        assert(s);

        if (s->state == SWITCH_STATE_DETACH_DRAINING && s->flushing) {
                uint32_t n = datapath_vf_tx_queued(s->dp);

                if (n > 0) {
                        /* Stalled: the queue did not shrink over the last
                         * SWITCH_FLUSH_STALL_POLLS polls. Counted in polls, not
                         * time: a guest its host did not run for a second
                         * polls once after it, and its VF had no chance. */
                        s->flush_idle_polls = n < s->flush_queued ? 0 : s->flush_idle_polls + 1;
                        s->flush_queued = n;
                        if (s->flush_idle_polls < SWITCH_FLUSH_STALL_POLLS)
                                return;
                        snprintf(what, sizeof(what), "the VF's queue is stuck at %" PRIu32 " frames", n);
                } else
                        snprintf(what, sizeof(what), "the VF's queue emptied %" PRIu64 " ms after the move",
                                 (uint64_t) (usec_sub_unsigned(now, s->trigger_usec) / USEC_PER_MSEC));
                port_switch_note(s, 0, what);
                port_switch_dispatch(s, SWITCH_EVENT_DEADLINE, 0, 0, now);
                return;
        }

        if (!port_switch_awaits_marker(s))
                return;
        /* The helper came with this transition: any marker it saw is this one's. */
        datapath_get_counters(s->dp, &c);
        if ((s->state == SWITCH_STATE_ATTACH_DRAINING ? c.markers : c.markers_vf) == 0)
                return;
        snprintf(what, sizeof(what), "drain marker arrived %" PRIu64 " ms after the move",
                 (uint64_t) (usec_sub_unsigned(now, s->trigger_usec) / USEC_PER_MSEC));
        port_switch_note(s, 0, what);
        port_switch_dispatch(s, SWITCH_EVENT_DEADLINE, 0, 0, now);
}
