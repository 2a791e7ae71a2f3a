/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/host/scheduler.h"
#include "lib/macro.h"

/* a before b: higher priority, then waiting longer, then lower index */
static bool better_waiter(const SchedPort *a, const SchedPort *b) {
        if (a->priority != b->priority)
                return a->priority > b->priority;
        return a->waiting_since < b->waiting_since;
}

/* a weaker than b: lower priority, then got its VF later */
static bool weaker_holder(const SchedPort *a, const SchedPort *b) {
        if (a->priority != b->priority)
                return a->priority < b->priority;
        return a->last_change > b->last_change;
}

SchedPlan sched_plan(const SchedPort *ports, size_t n_ports, const unsigned *free_vfs, size_t n_pools,
                     unsigned margin, usec_t interval, usec_t now) {
        SchedPlan plan = { .action = SCHED_NONE, .retry_at = USEC_INFINITY };

        for (size_t pool = 0; pool < n_pools; pool++) {
                size_t best = SIZE_MAX, victim = SIZE_MAX;

                for (size_t i = 0; i < n_ports; i++) {
                        const SchedPort *p = ports + i;

                        if (p->pool != pool || p->busy)
                                continue;
                        if (p->waiting && !p->holds_vf && (best == SIZE_MAX || better_waiter(p, ports + best)))
                                best = i;
                }
                if (best == SIZE_MAX)
                        continue;

                if (free_vfs[pool] > 0)
                        return (SchedPlan) { .action = SCHED_ATTACH, .port = best, .retry_at = USEC_INFINITY };

                if (margin == 0)
                        continue;

                for (size_t i = 0; i < n_ports; i++) {
                        const SchedPort *p = ports + i;

                        if (p->pool != pool || p->busy || !p->holds_vf)
                                continue;
                        if (p->priority + margin > ports[best].priority)
                                continue;
                        if (victim == SIZE_MAX || weaker_holder(p, ports + victim))
                                victim = i;
                }
                if (victim == SIZE_MAX)
                        continue;

                /* Rate limit: both the holder and the waiter must have been
                 * in their state for 'interval'. */
                usec_t eligible = MAX(usec_add(ports[victim].last_change, interval),
                                      usec_add(ports[best].last_change, interval));
                if (eligible > now) {
                        plan.retry_at = MIN(plan.retry_at, eligible);
                        continue;
                }
                return (SchedPlan) { .action = SCHED_PREEMPT, .port = best, .victim = victim,
                                     .retry_at = USEC_INFINITY };
        }
        return plan;
}
