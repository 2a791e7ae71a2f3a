/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host end of one domain's org.vfo.agent.0 channel: connects to the
 * UNIX socket libvirt made for it, runs lib/channel.c's session (Sync until
 * the agent answers, resync after any error), matches replies to requests
 * and gives every request a deadline. Reconnects with backoff while the
 * domain runs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "lib/macro.h"
#include "lib/time-util.h"
#include "proto/vfo.pb-c.h"

typedef struct AgentConn AgentConn;

/* 'error': 0 with the reply (owned by the callee, freed after the call);
 * -ETIMEDOUT at the deadline; -ECONNRESET when the session ended;
 * -EREMOTEIO with 'reply' holding the agent's Error. */
typedef void (*AgentReplyFn)(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata);

typedef struct AgentCallbacks {
        /* The session is up (after Sync) or gone. */
        void (*state)(AgentConn *a, bool synced, void *userdata);
        /* An event from the agent (PathChanged with id 0). */
        void (*event)(AgentConn *a, const Vfo__Envelope *e, void *userdata);
} AgentCallbacks;

int agent_conn_new(sd_event *event, const char *socket_path, const char *name, const AgentCallbacks *cb,
                   void *userdata, AgentConn **ret);
AgentConn *agent_conn_free(AgentConn *a);
DEFINE_CLEANUP_FUNC(AgentConn, agent_conn_free);

bool agent_conn_is_synced(const AgentConn *a);
const char *agent_conn_get_version(const AgentConn *a);
/* The protocol both sides speak (the lower of the two versions), 0 before the sync. */
uint32_t agent_conn_get_protocol(const AgentConn *a);
const char *agent_conn_get_path(const AgentConn *a);

/* Sends 'e' (its id is assigned here) and calls 'fn' once: with the reply,
 * at 'timeout', or when the session ends. Returns the request id (> 0) or
 * a negative errno (-ENOTCONN when not synced). */
int64_t agent_conn_request(AgentConn *a, Vfo__Envelope *e, usec_t timeout, AgentReplyFn fn, void *userdata);
/* Forgets a pending request: its callback is not called. */
void agent_conn_cancel(AgentConn *a, int64_t id);
