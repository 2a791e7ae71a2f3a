/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agent: the guest daemon's one object: the host channel on the
 * virtio-serial port, and the ports it reports. */
#pragma once

#include <systemd/sd-event.h>

#include "lib/macro.h"
#include "lib/time-util.h"

#define AGENT_DEVICE_DEFAULT "/dev/virtio-ports/org.vfo.agent.0"
#define AGENT_REOPEN_USEC (500 * USEC_PER_MSEC)
#define AGENT_ANNOUNCE_COUNT_DEFAULT 3U
#define AGENT_ANNOUNCE_INTERVAL_DEFAULT (100 * USEC_PER_MSEC)
/* A turn of the event loop this long is logged: a handler blocked, and a
 * switch waiting for the host's next message could not read it. */
#define AGENT_LOOP_SLOW_USEC (500 * USEC_PER_MSEC)

typedef struct Agent Agent;

/* 'device' is the virtio-serial port, or a UNIX stream socket (tests, and
 * running the agent against a host-side peer without a VM). */
int agent_new(const char *device, Agent **ret);
Agent *agent_free(Agent *a);
DEFINE_CLEANUP_FUNC(Agent, agent_free);

typedef struct AgentConfig AgentConfig;

/* Announcements, drain period and ignored ports; call before agent_start(). */
int agent_set_config(Agent *a, const AgentConfig *c);

int agent_start(Agent *a);
sd_event *agent_get_event(Agent *a);
