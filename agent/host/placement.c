/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which port holds which VF: the scheduler's plan (scheduler.c, pure) put
 * into jobs — recovery of interrupted jobs, policy changes, drained pools,
 * VFs claimed for incoming domains, free VFs to waiting ports, and
 * preemption.
 *
 * A drained pool (host servicing, pool_set_drained()) grants nothing: its
 * VFs are not offered to sched_plan() (no attach, no preemption into it),
 * VFs reserved for a port or claimed for an incoming domain are not
 * attached, and every port holding one of its VFs gets a graceful detach
 * (reason drain), all at once (each port runs its own job). A port whose
 * attach runs is left to finish, then detached. Its ports keep waiting:
 * once restored, the scheduler serves them as before. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "agent/host/job.h"
#include "agent/host/journal.h"
#include "agent/host/manager.h"
#include "agent/host/scheduler.h"
#include "lib/log.h"
#include "lib/string-table.h"
#include "lib/string-util.h"
#include "lib/validate.h"

/* ------------------------------------------------------------- scheduler */

static bool port_can_wait(Manager *m, Port *p, usec_t now) {
        Domain *d = p->domain;

        return !d->gone && d->state == VIRT_DOMAIN_RUNNING && manager_pool_for(m, d) && !p->vf && !p->manual_synthetic &&
               !p->migrating &&
               now >= p->retry_after &&
               (agent_conn_is_synced(d->agent) || m->config->no_agent == NO_AGENT_ABRUPT);
}

void manager_detach_drained(Manager *m, Pool *pool, bool now_too) {
        usec_t now = manager_now(m);

        if (!pool->drained || !m->reconciled || !virt_is_connected(m->virt))
                return;
        for (size_t i = 0; i < pool->n_vfs; i++) {
                Vf *vf = pool->vfs[i];
                Port *p = vf->holder;

                /* a running job (an attach: detached once it ended), an
                 * interrupted one (recovered first), a migration (its own
                 * detach takes the VF), a paused domain (when it runs again) */
                if (!p || p->vf != vf || vf->state != VF_ATTACHED || p->job || p->recover || p->migrating ||
                    p->domain->state != VIRT_DOMAIN_RUNNING)
                        continue;
                /* The scheduler's own (after a restart, after a job ended)
                 * waits for the agent to come, so that the detach is
                 * graceful, and does not retry a failure at once; a user's
                 * Drain does not wait: AbruptFallback= decides. */
                if (!now_too && (now < p->retry_after ||
                                 (p->domain->channel_path && !agent_conn_is_synced(p->domain->agent))))
                        continue;
                (void) job_start(m, JOB_DETACH, JOB_REASON_DRAIN, p, NULL, NULL);
        }
}

static int on_schedule_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_schedule(userdata);
        return 0;
}

static void manager_run_schedule(Manager *m) {
        usec_t now = manager_now(m);
        SchedPort *sp = NULL;
        Port **ports = NULL;
        size_t n = 0;
        unsigned *free_vfs = NULL;

        if (!m->reconciled || !virt_is_connected(m->virt))
                return;

        /* Keep the last JOBS_KEEP finished jobs. */
        while (m->n_jobs > 0) {
                size_t finished = 0, oldest = SIZE_MAX;
                for (size_t i = 0; i < m->n_jobs; i++)
                        if (m->jobs[i]->state != JOB_RUNNING) {
                                finished++;
                                if (oldest == SIZE_MAX)
                                        oldest = i;
                        }
                if (finished <= JOBS_KEEP)
                        break;
                bus_job_removed(m->jobs[oldest]);
                job_free(m->jobs[oldest]);
                memmove(m->jobs + oldest, m->jobs + oldest + 1, (m->n_jobs - oldest - 1) * sizeof(Job *));
                m->n_jobs--;
        }

        /* Who waits, and jobs that a restart interrupted. */
        for (size_t i = 0; i < m->n_domains; i++) {
                Domain *d = m->domains[i];

                for (size_t k = 0; k < d->n_ports; k++) {
                        Port *p = d->ports[k];
                        bool can = port_can_wait(m, p, now);

                        if (p->recover && !p->job && p->vf && agent_conn_is_synced(d->agent)) {
                                JobKind kind = job_kind_from_string(p->recover_kind);
                                p->recover = false;
                                (void) job_start(m, kind, JOB_REASON_RECOVERY, p, p->vf, NULL);
                        }
                        if (can && p->waiting_since == 0) {
                                p->waiting_since = now;
                                port_changed(p);
                        } else if (!can && p->waiting_since != 0) {
                                p->waiting_since = 0;
                                port_changed(p);
                        }
                        /* opted out, or moved to another pool: give the VF back */
                        if (p->vf && !p->job && d->state == VIRT_DOMAIN_RUNNING &&
                            manager_pool_for(m, d) != p->vf->pool)
                                (void) job_start(m, JOB_DETACH, JOB_REASON_POLICY, p, NULL, NULL);
                }
        }

        /* Drained pools: every VF out */
        for (size_t i = 0; i < m->n_pools; i++)
                manager_detach_drained(m, m->pools[i], false);

        /* VFs claimed for a domain that migrated in: attach as soon as it runs */
        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++) {
                        Vf *vf = m->pools[i]->vfs[j];
                        Domain *d;
                        Port *p;

                        if (vf->state != VF_FREE || !vf_incoming_claimed(vf) || vf->pool->drained)
                                continue;
                        d = manager_find_domain(m, vf->incoming_uuid);
                        p = d ? domain_find_port(d, vf->incoming_mac) : NULL;
                        if (p && !p->job && port_can_wait(m, p, now) && manager_pool_for(m, d) == vf->pool &&
                            job_start(m, JOB_ATTACH, JOB_REASON_MIGRATE, p, vf, NULL) >= 0)
                                vf->incoming_uuid[0] = 0;
                }

        /* VFs a preemption freed for a particular port */
        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++) {
                        Vf *vf = m->pools[i]->vfs[j];
                        Port *p = vf->reserved_for;

                        if (!p || vf->state != VF_FREE)
                                continue;
                        if (!p->job && port_can_wait(m, p, now) && manager_pool_for(m, p->domain) == vf->pool &&
                            !vf->pool->drained)
                                (void) job_start(m, JOB_ATTACH,
                                                 p->domain->migration ? JOB_REASON_MIGRATE : JOB_REASON_PREEMPT, p, vf,
                                                 NULL);
                        else if (!p->migrating && (!p->job || p->job->kind != JOB_ATTACH))
                                vf_unreserve(vf);
                }

        for (size_t i = 0; i < m->n_domains; i++)
                n += m->domains[i]->n_ports;
        sp = calloc(n ?: 1, sizeof(*sp));
        ports = calloc(n ?: 1, sizeof(*ports));
        free_vfs = calloc(m->n_pools ?: 1, sizeof(*free_vfs));
        if (!sp || !ports || !free_vfs) {
                log_oom();
                goto finish;
        }

        for (unsigned round = 0; round < 64; round++) {
                SchedPlan plan;
                size_t k = 0;

                for (size_t i = 0; i < m->n_pools; i++)
                        free_vfs[i] = m->pools[i]->drained ? 0 : pool_count_free(m->pools[i]);
                for (size_t i = 0; i < m->n_domains; i++) {
                        Domain *d = m->domains[i];
                        Pool *pool = manager_pool_for(m, d);
                        size_t pool_index = 0;

                        if (!pool || d->gone || pool->drained)     /* neither a winner nor a victim there */
                                continue;
                        while (m->pools[pool_index] != pool)
                                pool_index++;
                        for (size_t j = 0; j < d->n_ports; j++) {
                                Port *p = d->ports[j];
                                sp[k] = (SchedPort) {
                                        .pool = (unsigned) pool_index,
                                        .priority = d->policy.priority,
                                        .holds_vf = p->vf != NULL,
                                        .waiting = p->waiting_since != 0,
                                        .busy = p->job != NULL || p->recover || now < p->retry_after || p->migrating ||
                                                (p->vf && p->vf->pool != pool) || d->state != VIRT_DOMAIN_RUNNING,
                                        .waiting_since = p->waiting_since,
                                        .last_change = p->last_change,
                                };
                                /* a port a VF is reserved for is served by the loop above */
                                for (size_t q = 0; q < pool->n_vfs; q++)
                                        if (pool->vfs[q]->reserved_for == p)
                                                sp[k].busy = true;
                                ports[k++] = p;
                        }
                }
                plan = sched_plan(sp, k, free_vfs, m->n_pools, m->config->preempt_margin,
                                  m->config->reassign_interval, now);
                if (plan.action == SCHED_ATTACH) {
                        Port *p = ports[plan.port];
                        Vf *vf = pool_first_free(manager_pool_for(m, p->domain), NULL);
                        if (!vf || job_start(m, JOB_ATTACH, JOB_REASON_SCHEDULER, p, vf, NULL) < 0)
                                break;
                        continue;
                }
                if (plan.action == SCHED_PREEMPT) {
                        Port *victim = ports[plan.victim], *winner = ports[plan.port];
                        Vf *vf = victim->vf;

                        log_info("%s (priority %u) preempts %s (priority %u) for VF %s.", winner->domain->name,
                                 winner->domain->policy.priority, victim->domain->name,
                                 victim->domain->policy.priority, vf->id);
                        if (job_start(m, JOB_DETACH, JOB_REASON_PREEMPT, victim, NULL, NULL) < 0)
                                break;
                        vf_reserve(vf, winner);
                        continue;
                }
                if (plan.retry_at != USEC_INFINITY)
                        manager_schedule_at(m, plan.retry_at);
                break;
        }
finish:
        free(sp);
        free(ports);
        free(free_vfs);
}

static int on_schedule(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        manager_run_schedule(m);
        return 0;
}

void manager_schedule_at(Manager *m, usec_t when) {
        uint64_t armed;

        if (m->schedule_timer && sd_event_source_get_enabled(m->schedule_timer, NULL) > 0 &&
            sd_event_source_get_time(m->schedule_timer, &armed) >= 0 && armed <= when)
                return;         /* an earlier run is due anyway */
        if (!m->schedule_timer)
                (void) sd_event_add_time(m->event, &m->schedule_timer, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC,
                                         on_schedule_timer, m);
        else {
                (void) sd_event_source_set_time(m->schedule_timer, when);
                (void) sd_event_source_set_enabled(m->schedule_timer, SD_EVENT_ONESHOT);
        }
}

void manager_schedule(Manager *m) {
        if (!m->schedule_source) {
                if (sd_event_add_defer(m->event, &m->schedule_source, on_schedule, m) < 0)
                        return;
        }
        (void) sd_event_source_set_enabled(m->schedule_source, SD_EVENT_ONESHOT);
}
