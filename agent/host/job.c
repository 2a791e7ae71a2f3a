/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every job shares: its one constructor, its phase (job-phase.c has
 * the moves), its end (job_finish(), job_fail()), its libvirt call and its
 * agent requests. What a kind does is in its JobOps: job-port.c (attach,
 * detach), migrate.c (migration). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "agent/host/job-internal.h"
#include "drivers/vfprog.h"
#include "lib/channel.h"
#include "lib/log.h"
#include "lib/string-table.h"
#include "lib/string-util.h"
#include "lib/validate.h"

#define JOB_RETRY_USEC (10 * USEC_PER_SEC)

/* One field of job_log_fields(): "KEY=value" into the next buffer. */
_printf_(3, 4) static void job_log_field(JobLogFields *f, size_t *n, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(f->buf[*n], sizeof(f->buf[*n]), format, ap);
        va_end(ap);
        f->v[*n] = f->buf[*n];
        (*n)++;
}

const char *const *job_log_fields(const Job *j, JobLogFields *f) {
        size_t n = 0;

        job_log_field(f, &n, "JOB=%" PRIu64, j->id);
        if (j->domain)
                job_log_field(f, &n, "DOMAIN=%s", j->domain->name);
        if (j->mac[0])
                job_log_field(f, &n, "MAC=%s", j->mac);
        if (j->vf) {
                job_log_field(f, &n, "VF=%s", j->vf->id);
                if (j->vf->pool)
                        job_log_field(f, &n, "POOL=%s", j->vf->pool->config.name);
        }
        f->v[n] = NULL;
        return f->v;
}

static const char *const job_reason_table[_JOB_REASON_MAX] = {
        [JOB_REASON_USER] = "user",
        [JOB_REASON_SCHEDULER] = "scheduler",
        [JOB_REASON_PREEMPT] = "preempt",
        [JOB_REASON_RECOVERY] = "recovery",
        [JOB_REASON_POLICY] = "policy",
        [JOB_REASON_MIGRATE] = "migrate",
        [JOB_REASON_DRAIN] = "drain",
};
DEFINE_STRING_TABLE_TO_STRING(job_reason, JobReason, _JOB_REASON_MAX);

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_RUNNING] = "running",
        [JOB_DONE] = "done",
        [JOB_FAILED] = "failed",
};
DEFINE_STRING_TABLE_TO_STRING(job_state, JobState, _JOB_STATE_MAX);

Port *job_port(Job *j) {
        return j->domain ? domain_find_port(j->domain, j->mac) : NULL;
}

unsigned job_progress(const Job *j) {
        return j->state == JOB_RUNNING ? j->ops->progress(j) : 100;
}

void job_set_phase(Job *j, JobPhase phase) {
        if (j->phase == phase)
                return;
        if (!job_phase_allowed(j->kind, j->phase, phase)) {
                log_job_error(j, "Job %" PRIu64 " (%s): no move from %s to %s; this is a bug in vfod, please report it.",
                          j->id, job_kind_to_string(j->kind), job_phase_to_string(j->phase),
                          job_phase_to_string(phase) ?: "(none)");
                return;
        }
        log_job_debug(j, "Job %" PRIu64 " (%s %s %s): %s -> %s", j->id, job_kind_to_string(j->kind),
                  j->domain ? j->domain->name : "?", j->mac, job_phase_to_string(j->phase),
                  job_phase_to_string(phase));
        j->phase = phase;
        j->step_start = now_usec(CLOCK_MONOTONIC);
        /* The journal is not rewritten for every phase: recovery needs the
         * job and the VF's state (vf_set_state() writes it), not the phase. */
        bus_emit_changed(j->manager, j->path, VFO_JOB_IFACE, "Phase", "Progress", NULL);
}

void job_advance(Job *j) {
        job_set_phase(j, job_phase_next(j->kind, j->phase, j->abrupt));
}

void job_timer_off(Job *j) {
        j->timer = sd_event_source_disable_unref(j->timer);
}

void job_cancel_requests(Job *j) {
        AgentConn *a = j->domain ? j->domain->agent : NULL;

        agent_conn_cancel(a, j->request);
        agent_conn_cancel(a, j->barrier);
        agent_conn_cancel(a, j->attach_request);
        j->request = j->barrier = j->attach_request = 0;
}

/* The job's one libvirt call at a time, off the loop; 'fn' starts with
 * job_virt_returned(). */
int job_call_virt(Job *j, const VirtRequest *req, VirtCallFn fn) {
        int r;

        assert(!j->virt_call);
        j->virt_start = now_usec(CLOCK_MONOTONIC);
        r = virt_call(j->manager->virt, req, j->manager->config->libvirt_timeout, fn, j, &j->virt_call);
        if (r >= 0)
                j->virt_op = req->op;
        return r;
}

static void on_job_domain_read(Virt *v, const char *uuid, int r, VirtDomain *vd, void *userdata) {
        Job *j = userdata;
        JobReadFn fn = j->read_fn;

        j->read_fn = NULL;
        if (!job_virt_returned(j))
                return;
        (void) domain_refreshed(j->domain, r, vd);
        if (j->state == JOB_RUNNING)
                fn(j, r);       /* (the domain found stopped fails the job there) */
}

int job_read_domain(Job *j, JobReadFn fn) {
        int r;

        assert(!j->virt_call);
        assert(fn);
        j->virt_start = now_usec(CLOCK_MONOTONIC);
        r = virt_read_domain(j->manager->virt, j->domain->uuid, j->manager->config->libvirt_timeout, on_job_domain_read,
                             j, &j->virt_call);
        if (r >= 0) {
                j->virt_op = VIRT_OP_GET_DOMAIN;
                j->read_fn = fn;
        }
        return r;
}

/* In the callback of job_call_virt(): false when the job ended meanwhile. */
bool job_virt_returned(Job *j) {
        j->virt_call = NULL;
        j->libvirt_usec += now_usec(CLOCK_MONOTONIC) - j->virt_start;
        return j->state == JOB_RUNNING;
}

static int job_tap_read(const JobTap *t, uint64_t *ret) {
        return t->vf_index < 0 ? netdev_tx_dropped(t->ifname, ret) : vf_dropped(t->ifname, (unsigned) t->vf_index, ret);
}

/* From now on the job reads 'ifname' (a tap, vf_index -1) or VF 'vf_index'
 * of the PF 'ifname'; one it reads already is left as it is. A VF plugged
 * again after its unplug (a rollback) is read again from here. */
static void job_tap_mark(JobTap *t, const char *ifname, int vf_index) {
        bool same;
        JobTap n = { .vf_index = vf_index };

        if (!ifname || !ifname[0])
                return;
        same = streq(t->ifname, ifname) && t->vf_index == vf_index;
        if (same && !t->done)
                return;
        snprintf(n.ifname, sizeof(n.ifname), "%s", ifname);
        if (job_tap_read(&n, &n.base) < 0)
                return;
        n.dropped = same ? t->dropped : 0;
        n.dropped_unmoved = same ? t->dropped_unmoved : 0;
        *t = n;
}

void job_taps_mark(Job *j) {
        Port *port = job_port(j);

        if (!port)
                return;
        job_tap_mark(&j->taps[0], port->synthetic_tap, -1);
        if (!j->vf)
                return;
        if (j->vf->pool->config.type == POOL_TYPE_EMULATED)
                job_tap_mark(&j->taps[1], port->vf_tap, -1);
        else if (port->vf == j->vf)     /* in the domain: a detach's, or an attach's once plugged */
                job_tap_mark(&j->taps[1], j->vf->pf, (int) j->vf->index);
}

void job_taps_count(Job *j, bool vf_leaves) {
        uint64_t before = j->host_drops;

        for (size_t i = 0; i < ELEMENTSOF(j->taps); i++) {
                JobTap *t = &j->taps[i];
                uint64_t v;

                if (!t->ifname[0] || t->done || job_tap_read(t, &v) < 0)
                        continue;
                if (v > t->base) {
                        t->dropped += v - t->base;
                        j->host_drops += v - t->base;
                }
                t->base = v;
        }
        if (vf_leaves)
                j->taps[1].done = true;
        if (j->host_drops != before)
                bus_emit_changed(j->manager, j->path, VFO_JOB_IFACE, "Loss", "HostDrops", NULL);
}

void job_taps_moved(Job *j) {
        j->steered = true;
        job_taps_count(j, false);
        for (size_t i = 0; i < ELEMENTSOF(j->taps); i++)
                j->taps[i].dropped_unmoved = j->taps[i].dropped;
        if (j->host_drops_unmoved != j->host_drops) {
                j->host_drops_unmoved = j->host_drops;
                bus_emit_changed(j->manager, j->path, VFO_JOB_IFACE, "HostDropsBeforeMove", NULL);
        }
}

/* When a tap's drops fell: before steering moved, the move had not changed
 * anything the tap gets yet, and a guest that did not read it would have
 * lost them without any move. */
static const char *job_tap_when(const JobTap *t, char *buf, size_t size) {
        if (t->dropped_unmoved == 0)
                return "";
        if (t->dropped_unmoved == t->dropped)
                snprintf(buf, size, ", all before steering moved (the move did not cause them)");
        else
                snprintf(buf, size, ", %" PRIu64 " of them before steering moved (the move did not cause those)",
                         t->dropped_unmoved);
        return buf;
}

/* The job's log line of what the host dropped: where, and why it could. */
static void job_log_host_drops(Job *j) {
        for (size_t i = 0; i < ELEMENTSOF(j->taps); i++) {
                const JobTap *t = &j->taps[i];
                char when[128];

                if (t->dropped == 0)
                        continue;
                if (t->vf_index < 0)
                        log_job_warning(j, "Job %" PRIu64 ": the host's tap %s of %s dropped %" PRIu64
                                        " frames to %s while it ran%s: QEMU did not read them in time (a starved guest). "
                                        "The guest never saw them; the job is lossy.",
                                        j->id, t->ifname, j->mac, t->dropped, j->domain ? j->domain->name : "?",
                                        job_tap_when(t, when, sizeof(when)));
                else
                        log_job_warning(j, "Job %" PRIu64 ": the NIC dropped %" PRIu64 " frames of VF %d of %s (%s of %s) "
                                        "while the job ran%s: it could not deliver them to the guest or send them "
                                        "(the VF's rx/tx_dropped). The job is lossy.",
                                        j->id, t->dropped, t->vf_index, t->ifname, j->mac,
                                        j->domain ? j->domain->name : "?", job_tap_when(t, when, sizeof(when)));
        }
}

void job_finish(Job *j, JobState state) {
        Port *port = job_port(j);
        usec_t took;

        if (j->state != JOB_RUNNING)
                return;         /* finished already: by a callback of an outside call */
        job_timer_off(j);
        job_cancel_requests(j);
        j->virt_call = virt_call_cancel(j->virt_call);
        j->state = state;
        j->phase = state == JOB_DONE ? JOB_PHASE_DONE : j->error_recorded ? j->failed_phase : j->phase;
        j->finish_realtime = now_usec(CLOCK_REALTIME);
        took = now_usec(CLOCK_MONOTONIC) - j->start;
        job_taps_count(j, false);
        job_log_host_drops(j);
        if (port && port->job == j) {
                port->job = NULL;
                if (state == JOB_FAILED) {
                        /* Do not try the same thing again at once: a failure
                         * that lasts would otherwise loop. */
                        port->retry_after = usec_add(manager_now(j->manager),
                                                     MAX(j->manager->config->reassign_interval, JOB_RETRY_USEC));
                        manager_schedule_at(j->manager, port->retry_after);
                }
                port_changed(port);
        }
        if (state == JOB_DONE)
                log_job_info(j, "Job %" PRIu64 ": %s of %s on %s done in %.1f ms (libvirt %.1f ms, agent %.1f ms, vfod %.1f ms)%s%s.",
                         j->id, job_kind_to_string(j->kind), j->mac, j->domain ? j->domain->name : "?",
                         (double) took / 1000.0, (double) j->libvirt_usec / 1000.0,
                         (double) j->agent_usec / 1000.0,
                         (double) usec_sub_unsigned(took, j->libvirt_usec + j->agent_usec) / 1000.0,
                         j->fallback ? "; " : "", j->fallback ?: "");
        else
                log_job_warning(j, "Job %" PRIu64 ": %s of %s on %s failed after %.1f ms: %s", j->id,
                            job_kind_to_string(j->kind), j->mac, j->domain ? j->domain->name : "?",
                            (double) took / 1000.0, j->error_message);
        (void) manager_save(j->manager);
        bus_emit_changed(j->manager, j->path, VFO_JOB_IFACE, "Phase", "Progress", "State", "Error",
                         "ErrorMessage", "FinishUSec", "LibvirtUSec", "AgentUSec", "Fallback", NULL);
        bus_job_finished(j);
        if (j->ops->finished)
                j->ops->finished(j);
        if (j->on_done) {
                JobDoneFn fn = j->on_done;

                j->on_done = NULL;
                fn(j, j->on_done_userdata);
        }
        manager_schedule(j->manager);
}

/* Records the first error and rolls back. */
void job_fail(Job *j, VfoError error, const char *format, ...) {
        va_list ap;

        assert(error > VFO_ERROR_NONE && error < _VFO_ERROR_MAX);
        if (!j->error) {
                char *msg = NULL;

                va_start(ap, format);
                if (vasprintf(&msg, format, ap) < 0)
                        msg = NULL;
                va_end(ap);
                j->error = error;
                j->error_message = msg;
        }
        job_timer_off(j);
        job_cancel_requests(j);
        if (j->virt_call && j->virt_op == VIRT_OP_GET_DOMAIN) {
                /* a read changes nothing: the rollback needs the call */
                j->virt_call = virt_call_cancel(j->virt_call);
                j->read_fn = NULL;
        }
        if (!j->error_recorded) {
                j->error_recorded = true;
                j->failed_phase = j->phase;
        }
        if (j->phase == JOB_PHASE_ROLLING_BACK) {
                job_finish(j, JOB_FAILED);
                return;
        }
        job_set_phase(j, JOB_PHASE_ROLLING_BACK);
        j->ops->rollback(j);
}

static int on_start(sd_event_source *s, void *userdata) {
        Job *j = userdata;

        j->timer = sd_event_source_disable_unref(j->timer);
        j->ops->start(j);
        return 0;
}

int job_new(Manager *m, JobKind kind, JobReason reason, Domain *d, const char *mac, const JobOps *ops, void *data,
            Job **ret) {
        Job **a;
        Job *j;
        int r;

        assert(ops && ops->start && ops->rollback && ops->progress);
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->manager = m;
        j->id = m->next_job_id++;
        j->kind = kind;
        j->reason = reason;
        j->domain = d;
        snprintf(j->mac, sizeof(j->mac), "%s", mac ?: "");
        j->ops = ops;
        j->state = JOB_RUNNING;
        j->phase = JOB_PHASE_CHECKING;
        j->start = j->step_start = now_usec(CLOCK_MONOTONIC);
        j->start_realtime = now_usec(CLOCK_REALTIME);
        if (asprintf(&j->path, VFO_JOB_PREFIX "/%" PRIu64, j->id) < 0) {
                free(j);
                return -ENOMEM;
        }
        r = sd_event_add_defer(m->event, &j->timer, on_start, j);
        a = r >= 0 ? reallocarray(m->jobs, m->n_jobs + 1, sizeof(Job *)) : NULL;
        if (!a) {
                j->timer = sd_event_source_disable_unref(j->timer);
                free(j->path);
                free(j);
                return r < 0 ? r : -ENOMEM;
        }
        m->jobs = a;
        m->jobs[m->n_jobs++] = j;
        j->data = data;         /* the job owns it from here */
        *ret = j;
        return 0;
}

void job_announce(Job *j) {
        bus_job_new(j);
}

void job_on_done(Job *j, JobDoneFn fn, void *userdata) {
        j->on_done = fn;
        j->on_done_userdata = userdata;
}

void job_forget_done(Manager *m, void *userdata) {
        for (size_t i = 0; i < m->n_jobs; i++)
                if (m->jobs[i]->on_done_userdata == userdata) {
                        m->jobs[i]->on_done = NULL;
                        m->jobs[i]->on_done_userdata = NULL;
                }
}

void job_prepare_sent(Job *j, int64_t id) {
        if (j->prepare_first == 0)
                j->prepare_first = id;
        j->prepare_last = id;
}

Job *job_by_prepare(Manager *m, const Domain *d, const char *mac, uint64_t id) {
        if (id == 0 || id > INT64_MAX)
                return NULL;
        for (size_t i = 0; i < m->n_jobs; i++) {
                Job *j = m->jobs[i];

                if (j->domain == d && (j->kind == JOB_ATTACH || j->kind == JOB_DETACH) && j->prepare_first > 0 &&
                    strcasecmp(j->mac, mac) == 0 && (int64_t) id >= j->prepare_first && (int64_t) id <= j->prepare_last)
                        return j;
        }
        return NULL;
}

const char *job_loss(const Job *j) {
        if ((j->abrupt && j->kind == JOB_DETACH) || j->host_drops > 0)
                return "lossy";
        if (!j->traffic.reported)
                return "unknown";
        return j->traffic.drops == 0 ? "clean" : "lossy";
}

void job_set_traffic(Job *j, const Vfo__SwitchReport *r) {
        const Vfo__PathCounters none = VFO__PATH_COUNTERS__INIT;
        const Vfo__PathCounters *syn = r->synthetic ?: &none, *vf = r->vf ?: &none;
        JobTraffic *t = &j->traffic;

        *t = (JobTraffic) {
                .reported = true,
                .synthetic_rx = syn->rx_packets,
                .synthetic_tx = syn->tx_packets,
                .vf_rx = vf->rx_packets,
                .vf_tx = vf->tx_packets,
                .handed_over = r->handed_over,
                .held_tx = r->held_tx,
                .duplicates_dropped = r->duplicates_dropped,
                .drops = switch_report_drops(r),
        };
        log_job_info(j, "Job %" PRIu64 ": %s of %s on %s: the guest counted synthetic rx %" PRIu64 " tx %" PRIu64
                 ", VF rx %" PRIu64 " tx %" PRIu64 ", handed over %" PRIu64 ", held %" PRIu64 ", drops %" PRIu64
                 " over %" PRIu64 " ms: %s.",
                 j->id, job_kind_to_string(j->kind), j->mac, j->domain ? j->domain->name : "?", t->synthetic_rx,
                 t->synthetic_tx, t->vf_rx, t->vf_tx, t->handed_over, t->held_tx, t->drops,
                 (r->end_usec - r->start_usec) / USEC_PER_MSEC, job_loss(j));
        bus_emit_changed(j->manager, j->path, VFO_JOB_IFACE, "Loss", "SyntheticRxPackets", "SyntheticTxPackets",
                         "VFRxPackets", "VFTxPackets", "HandedOver", "HeldTx", "GuestDrops", NULL);
}

int job_start(Manager *m, JobKind kind, JobReason reason, Port *port, Vf *vf, Job **ret) {
        Job *j;
        int r;

        if (port->job)
                return -EBUSY;
        if (kind == JOB_ATTACH && !vf)
                return -EINVAL;
        if (kind == JOB_DETACH && !port->vf)
                return -ENOENT;
        if (kind != JOB_ATTACH && kind != JOB_DETACH)
                return -EINVAL;

        r = job_new(m, kind, reason, port->domain, port->mac, kind == JOB_ATTACH ? &job_attach_ops : &job_detach_ops, NULL, &j);
        if (r < 0)
                return r;
        j->vf = kind == JOB_ATTACH ? vf : port->vf;
        if (kind == JOB_ATTACH)
                j->phase = JOB_PHASE_CLAIMING;
        port->job = j;
        job_taps_mark(j);       /* detach: the VF's too */
        if (kind == JOB_ATTACH) {
                port_set_vf(port, NULL);
                vf_set_state(vf, VF_CLAIMED, port);
                if (vf->reserved_for == port)
                        vf_unreserve(vf);
        }

        log_job_info(j, "Job %" PRIu64 ": %s %s of %s (%s), VF %s.", j->id, job_kind_to_string(kind), port->mac,
                 port->domain->name, job_reason_to_string(reason), j->vf->id);
        (void) manager_save(m);
        job_announce(j);
        port_changed(port);
        if (ret)
                *ret = j;
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        job_timer_off(j);
        job_cancel_requests(j);
        j->virt_call = virt_call_cancel(j->virt_call);
        if (j->ops && j->ops->free_data)
                j->ops->free_data(j->data);
        free(j->path);
        free(j->error_message);
        free(j->fallback);
        return mfree(j);
}
