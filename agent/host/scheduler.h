/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who gets a VF: a pure function of the ports and the free VFs, so it is
 * unit-tested without libvirt or a clock.
 *
 *   - a free VF goes to the highest-priority waiting port of its pool
 *     (ties: the one waiting longest);
 *   - with no free VF, the best waiting port preempts the weakest holder of
 *     the pool (lowest priority; ties: the one that got its VF last) if its
 *     priority beats the holder's by at least 'margin' (0: never);
 *   - a port that gained or lost a VF less than 'interval' ago is not
 *     preempted (rate limit: ports do not flap); the plan says when the
 *     blocked preemption becomes possible. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/time-util.h"

typedef struct SchedPort {
        unsigned pool;          /* index into the pools */
        unsigned priority;
        bool holds_vf;
        bool waiting;           /* wants a VF and can take one now (running, agent or policy allows) */
        bool busy;              /* a job runs on it: neither a waiter nor a victim */
        usec_t waiting_since;
        usec_t last_change;
} SchedPort;

typedef enum SchedAction {
        SCHED_NONE,
        SCHED_ATTACH,           /* give a free VF of 'pool' to 'port' */
        SCHED_PREEMPT,          /* detach 'victim' gracefully, its VF then goes to 'port' */
} SchedAction;

typedef struct SchedPlan {
        SchedAction action;
        size_t port;
        size_t victim;
        usec_t retry_at;        /* SCHED_NONE: a preemption blocked by the rate limit becomes possible then (USEC_INFINITY: never) */
} SchedPlan;

/* 'free_vfs[i]' is the number of VFs of pool i nobody holds or has reserved. */
SchedPlan sched_plan(const SchedPort *ports, size_t n_ports, const unsigned *free_vfs, size_t n_pools,
                     unsigned margin, usec_t interval, usec_t now);
