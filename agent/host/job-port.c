/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The graceful attach and detach of one port's VF, step by step, and their
 * rollback (JobOps job_attach_ops, job_detach_ops). Each step has a
 * deadline; a failure rolls back to the last state that carried traffic.
 * A step never blocks the loop: libvirt's calls run off it (virt_call()),
 * the agent answers later (agentconn). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "agent/host/job-internal.h"
#include "lib/channel.h"
#include "lib/log.h"
#include "lib/string-table.h"
#include "lib/validate.h"

static void attach_step(Job *j);
static void detach_step(Job *j);
static bool detach_fall_back(Job *j, const char *why);
static void rollback_step(Job *j);

static unsigned attach_progress(const Job *j) {
        static const unsigned attach[_JOB_PHASE_MAX] = {
                [JOB_PHASE_CHECKING] = 5,     [JOB_PHASE_CLAIMING] = 5,      [JOB_PHASE_PROGRAMMING] = 10,
                [JOB_PHASE_PREPARING] = 15,   [JOB_PHASE_PLUGGING] = 25,     [JOB_PHASE_WAITING_AGENT] = 40,
                [JOB_PHASE_STEERING] = 85,    [JOB_PHASE_SWITCHING] = 90,    [JOB_PHASE_ROLLING_BACK] = 95,
                [JOB_PHASE_DONE] = 100,
        };
        return attach[j->phase];
}

static unsigned detach_progress(const Job *j) {
        static const unsigned detach[_JOB_PHASE_MAX] = {
                [JOB_PHASE_CHECKING] = 5,     [JOB_PHASE_PREPARING] = 10,    [JOB_PHASE_STEERING] = 30,
                [JOB_PHASE_SWITCHING] = 35,   [JOB_PHASE_UNPLUGGING] = 60,   [JOB_PHASE_RELEASING] = 95,
                [JOB_PHASE_ROLLING_BACK] = 95, [JOB_PHASE_DONE] = 100,
        };
        return detach[j->phase];
}

static void release_vf(Job *j) {
        Port *port = job_port(j);

        if (!j->vf)
                return;
        /* A VF that cannot be reset to neutral is not handed out again. */
        vf_set_state(j->vf, pool_release(j->vf) < 0 ? VF_BROKEN : VF_FREE, NULL);
        if (port && port->vf == j->vf)
                port_set_vf(port, NULL);
}

/* The VF is out of the domain: release it, and drop the steering pin that
 * kept frames off it while it was there. The bridge learns again, so a
 * migration (or anything else that moves the synthetic NIC) is followed as
 * soon as the guest announces itself elsewhere. */
static void release_vf_and_unpin(Job *j) {
        Pool *pool = j->vf ? j->vf->pool : NULL;
        Port *port = job_port(j);

        release_vf(j);
        if (pool && port && pool_steer_in(pool, NULL, port, VFO__PATH_KIND__PATH_KIND_UNSPECIFIED) >= 0)
                log_debug("%s: %s unpinned, the bridge learns.", port->domain->name, port->mac);
}

/* ------------------------------------------------------------------ agent */

static void agent_account(Job *j) {
        j->agent_usec += now_usec(CLOCK_MONOTONIC) - j->step_start;
}

/* The answer to a rollback's SteeringMoved comes after the job ended: the
 * port's path follows what the agent reports (the domain owns the agent
 * connection, so it outlives the request). */
static void on_rollback_path_changed(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
        Domain *d = userdata;

        if (error < 0 || reply->body_case != VFO__ENVELOPE__BODY_PATH_CHANGED)
                return;
        port_set_path(domain_find_port(d, reply->path_changed->mac), reply->path_changed->path);
}

/* 'fn' NULL: a rollback's, answered by on_rollback_path_changed(). */
static int send_steering_moved(Job *j, Vfo__PathKind path, AgentReplyFn fn) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__SteeringMoved sm = VFO__STEERING_MOVED__INIT;
        int64_t id;

        sm.mac = j->mac;
        sm.path = path;
        /* Frames already on the path steering left arrive after the move;
         * the marker tells the guest when the last of them did. An older
         * agent knows none at a detach: it would take the marker for a
         * frame its stack dropped. */
        if (fn && path == VFO__PATH_KIND__PATH_KIND_VF)
                sm.drain_marker = pool_queue_drain_marker(job_port(j), VFO__PATH_KIND__PATH_KIND_SYNTHETIC) >= 0;
        else if (fn && path == VFO__PATH_KIND__PATH_KIND_SYNTHETIC && agent_conn_get_protocol(j->domain->agent) >= VFO_PROTOCOL_DETACH_MARKER)
                sm.drain_marker = pool_queue_drain_marker(job_port(j), VFO__PATH_KIND__PATH_KIND_VF) >= 0;
        e.body_case = VFO__ENVELOPE__BODY_STEERING_MOVED;
        e.steering_moved = &sm;
        id = fn ? agent_conn_request(j->domain->agent, &e, j->manager->config->agent_timeout, fn, j)
                : agent_conn_request(j->domain->agent, &e, j->manager->config->agent_timeout,
                                     on_rollback_path_changed, j->domain);
        if (id < 0)
                return (int) id;
        if (fn)
                j->request = id;
        return 0;
}

static const char *agent_error_text(int error, const Vfo__Envelope *reply, char *buf, size_t size) {
        if (error == -EREMOTEIO && reply && reply->body_case == VFO__ENVELOPE__BODY_ERROR) {
                size_t n;

                snprintf(buf, size, "the agent refused: %s", reply->error->message);
                n = strlen(buf);
                if (n > 0 && buf[n - 1] == '.')
                        buf[n - 1] = 0;
        }
        else if (error == -ETIMEDOUT)
                snprintf(buf, size, "the agent did not answer in time");
        else if (error == -ECONNRESET)
                snprintf(buf, size, "the agent connection was lost");
        else
                snprintf(buf, size, "unexpected answer from the agent");
        return buf;
}

/* The agent is still finishing the previous transition of the port (its
 * drain after a switch): ask again shortly, within the agent timeout. */
static bool agent_busy_retry(Job *j, int error, const Vfo__Envelope *reply,
                             sd_event_time_handler_t retry) {
        if (error != -EREMOTEIO || !reply || reply->body_case != VFO__ENVELOPE__BODY_ERROR ||
            reply->error->code != VFO__ERROR_CODE__ERROR_CODE_BUSY)
                return false;
        if (manager_now(j->manager) - j->step_start >= j->manager->config->agent_timeout)
                return false;
        job_timer_off(j);
        if (sd_event_add_time_relative(j->manager->event, &j->timer, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC,
                                       10 * USEC_PER_MSEC, retry, j) < 0)
                return false;
        log_job_debug(j, "Job %" PRIu64 ": the agent is busy with %s, asking again in 100 ms.", j->id, j->mac);
        return true;
}

static VfoError agent_error(int error) {
        return error == -ETIMEDOUT    ? VFO_ERROR_AGENT_TIMEOUT
               : error == -EREMOTEIO ? VFO_ERROR_AGENT_REFUSED
                                      : VFO_ERROR_NO_AGENT;
}

static void on_path_changed(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
        Job *j = userdata;
        char buf[320];

        j->request = 0;
        agent_account(j);
        if (error < 0 || reply->body_case != VFO__ENVELOPE__BODY_PATH_CHANGED) {
                agent_error_text(error, reply, buf, sizeof(buf));
                if (detach_fall_back(j, buf))
                        return;
                job_fail(j, agent_error(error), "SteeringMoved: %s.", buf);
                return;
        }
        j->switched = true;
        port_set_path(job_port(j), reply->path_changed->path);
        if (j->kind == JOB_ATTACH) {
                job_advance(j);
                job_finish(j, JOB_DONE);
        } else {
                job_advance(j);
                detach_step(j);
        }
}

/* Sends Prepare* again: attach from PROGRAMMING, detach from CHECKING. The
 * step start (and so the retry budget) is kept. */
static int on_retry_prepare(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;
        usec_t step_start = j->step_start;

        job_timer_off(j);
        job_set_phase(j, j->kind == JOB_ATTACH ? JOB_PHASE_PROGRAMMING : JOB_PHASE_CHECKING);
        if (j->kind == JOB_ATTACH)
                attach_step(j);
        else
                detach_step(j);
        if (j->phase == JOB_PHASE_PREPARING)
                j->step_start = step_start;
        return 0;
}

/* ----------------------------------------------------------------- attach */

static void on_attach_ready(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
        Job *j = userdata;
        char buf[320];

        j->attach_request = 0;
        if (j->phase == JOB_PHASE_PREPARING && agent_busy_retry(j, error, reply, on_retry_prepare)) {
                agent_conn_cancel(j->domain->agent, j->barrier);
                j->barrier = 0;
                return;
        }
        if (error < 0 || reply->body_case != VFO__ENVELOPE__BODY_ATTACH_READY) {
                job_fail(j, agent_error(error), "PrepareAttach: %s.", agent_error_text(error, reply, buf, sizeof(buf)));
                return;
        }
        log_job_debug(j, "Job %" PRIu64 ": AttachReady, VF %s in the guest after %" PRIu64 " us.", j->id,
                  reply->attach_ready->vf_ifname, reply->attach_ready->wait_usec);
        if (j->phase == JOB_PHASE_WAITING_AGENT) {
                agent_account(j);
                job_advance(j);
                attach_step(j);
        } else
                j->attach_request = -1;         /* ready before we asked: remembered */
}

static void on_barrier(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
        Job *j = userdata;
        char buf[320];

        j->barrier = 0;
        agent_account(j);
        if (error < 0) {
                job_fail(j, agent_error(error), "PrepareAttach: %s.", agent_error_text(error, reply, buf, sizeof(buf)));
                return;
        }
        job_advance(j);
        attach_step(j);
}

static bool domain_has_alias(Domain *d, const char *alias) {
        for (size_t i = 0; i < d->n_vfo_aliases; i++)
                if (strcmp(d->vfo_aliases[i], alias) == 0)
                        return true;
        return false;
}

/* A detach whose reason is in AbruptFallback= does not depend on the
 * guest: when the agent refuses, does not answer or is not there, it goes
 * on as an abrupt unplug. */
static bool detach_may_go_abrupt(const Job *j) {
        static const unsigned flag[_JOB_REASON_MAX] = {
                [JOB_REASON_USER] = DETACH_REASON_USER,
                [JOB_REASON_PREEMPT] = DETACH_REASON_PREEMPT,
                [JOB_REASON_POLICY] = DETACH_REASON_POLICY,
                [JOB_REASON_MIGRATE] = DETACH_REASON_MIGRATE,
                [JOB_REASON_RECOVERY] = DETACH_REASON_RECOVERY,
                [JOB_REASON_DRAIN] = DETACH_REASON_DRAIN,
        };

        return j->kind == JOB_DETACH && j->reason >= 0 && j->reason < _JOB_REASON_MAX &&
               (j->manager->config->abrupt_fallback & flag[j->reason]);
}

static void set_fallback(Job *j, const char *format, ...) _printf_(2, 3);
static void set_fallback(Job *j, const char *format, ...) {
        va_list ap;

        free(j->fallback);
        va_start(ap, format);
        if (vasprintf(&j->fallback, format, ap) < 0)
                j->fallback = NULL;
        va_end(ap);
}

/* The agent refused or failed a graceful detach ('why'): if the reason
 * allows it, go on abruptly from where steering is, say so, and return
 * true; else return false (the caller fails the job). */
static bool detach_fall_back(Job *j, const char *why) {
        if (!detach_may_go_abrupt(j) || j->state != JOB_RUNNING)
                return false;
        j->abrupt = true;
        job_cancel_requests(j);
        job_timer_off(j);
        set_fallback(j, "abrupt unplug: %s; a %s detach does not wait for the guest (AbruptFallback=)", why,
                     job_reason_to_string(j->reason));
        log_job_warning(j, "Job %" PRIu64 ": %s %s: %s.", j->id, j->domain->name, j->mac, j->fallback);
        job_set_phase(j, j->steered ? JOB_PHASE_UNPLUGGING : JOB_PHASE_STEERING);
        detach_step(j);
        return true;
}

/* Without a connected agent: fails the job (NoAgent=refuse) and returns
 * false, or marks it abrupt, says why, and returns true. A detach whose
 * reason is in AbruptFallback= goes abrupt whatever NoAgent= says. */
static bool agent_or_fallback(Job *j, const char *fallback) {
        Domain *d = j->domain;

        if (agent_conn_is_synced(d->agent))
                return true;
        if (j->manager->config->no_agent == NO_AGENT_REFUSE && detach_may_go_abrupt(j)) {
                j->abrupt = true;
                set_fallback(j, "abrupt unplug: vfo-agent not connected; a %s detach does not wait for the guest (AbruptFallback=)",
                             job_reason_to_string(j->reason));
                return true;
        }
        if (j->manager->config->no_agent == NO_AGENT_REFUSE) {
                job_fail(j, VFO_ERROR_NO_AGENT,
                         "vfo-agent is not connected in %s, and NoAgent=refuse: start vfo-agent in the guest, or set NoAgent=abrupt in vfod.conf.",
                         d->name);
                return false;
        }
        j->abrupt = true;
        free(j->fallback);
        j->fallback = strdup(fallback);
        return true;
}

static uint32_t agent_deadline_ms(Job *j) {
        usec_t t = j->manager->config->agent_timeout + j->manager->config->unplug_timeout;
        return (uint32_t) MIN(t / USEC_PER_MSEC, 60000);
}

static void on_plugged(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Job *j = userdata;

        if (!job_virt_returned(j))
                return;
        if (j->phase == JOB_PHASE_ROLLING_BACK) {
                /* the rollback waited for this call: it knows now what to undo */
                j->plugged = r >= 0;
                rollback_step(j);
                return;
        }
        if (r < 0) {
                job_fail(j, VFO_ERROR_LIBVIRT, "libvirt could not plug VF %s into %s: %s.", j->vf->id, j->domain->name,
                         r == -ETIMEDOUT ? "libvirt did not answer in time (is the domain's QEMU stuck?)" : strerror(-r));
                return;
        }
        j->plugged = true;
        attach_step(j);
}

static void on_plugged_read(Job *j, int r) {
        if (j->phase == JOB_PHASE_PLUGGING)
                attach_step(j);
}

static void attach_step(Job *j) {
        Manager *m = j->manager;
        Domain *d = j->domain;
        Port *port = job_port(j);
        int r;

        if (j->state != JOB_RUNNING)
                return;         /* every step re-checks: an outside call may have ended the job */
        if (!port) {
                job_fail(j, VFO_ERROR_NO_SUCH_PORT, "The port %s is gone from the domain.", j->mac);
                return;
        }

        switch (j->phase) {
        case JOB_PHASE_CLAIMING:
        case JOB_PHASE_CHECKING:
                if (d->state == VIRT_DOMAIN_PAUSED) {
                        job_fail(j, VFO_ERROR_PAUSED, "%s is paused; a paused guest cannot take part. Resume it first.", d->name);
                        return;
                }
                if (d->state != VIRT_DOMAIN_RUNNING) {
                        job_fail(j, VFO_ERROR_NOT_RUNNING, "%s is not running.", d->name);
                        return;
                }
                if (!agent_or_fallback(j, "abrupt plug: vfo-agent not connected (NoAgent=abrupt); the guest switches on its own and may lose packets"))
                        return;
                job_advance(j);
                __attribute__((fallthrough));
        case JOB_PHASE_PROGRAMMING:
                r = pool_program(j->vf, port);
                if (r < 0) {
                        job_fail(j, VFO_ERROR_SWITCH_FAILED, "Programming VF %s failed: %s.", j->vf->id, strerror(-r));
                        return;
                }
                if (domain_has_alias(d, j->vf->alias))
                        j->plugged = true;      /* recovery: the device is in already */
                if (!j->abrupt && !j->plugged) {
                        /* Steering stays on the synthetic path until the
                         * guest is ready: a learning bridge would otherwise
                         * follow the VF's first frame to a VF that does not
                         * deliver yet. */
                        r = pool_steer(j->vf, port, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
                        if (r < 0) {
                                job_fail(j, VFO_ERROR_SWITCH_FAILED, "Pinning %s to the synthetic path failed: %s.",
                                         j->mac, strerror(-r));
                                return;
                        }
                }
                if (j->abrupt) {
                        job_advance(j);
                        attach_step(j);
                        return;
                }
                job_advance(j);
                {
                        Vfo__Envelope e = VFO__ENVELOPE__INIT, p = VFO__ENVELOPE__INIT;
                        Vfo__PrepareAttach pa = VFO__PREPARE_ATTACH__INIT;
                        Vfo__Ping ping = VFO__PING__INIT;
                        int64_t id;

                        pa.mac = j->mac;
                        pa.deadline_ms = agent_deadline_ms(j);
                        e.body_case = VFO__ENVELOPE__BODY_PREPARE_ATTACH;
                        e.prepare_attach = &pa;
                        id = agent_conn_request(d->agent, &e, (usec_t) pa.deadline_ms * USEC_PER_MSEC + USEC_PER_SEC,
                                                on_attach_ready, j);
                        if (id < 0) {
                                job_fail(j, VFO_ERROR_NO_AGENT, "PrepareAttach could not be sent: %s.", strerror((int) -id));
                                return;
                        }
                        j->attach_request = id;
                        job_prepare_sent(j, id);
                        /* The helper must be on before the VF appears: Ping is
                         * answered only after PrepareAttach was processed. */
                        ping.timestamp_usec = now_usec(CLOCK_MONOTONIC);
                        p.body_case = VFO__ENVELOPE__BODY_PING;
                        p.ping = &ping;
                        id = agent_conn_request(d->agent, &p, m->config->agent_timeout, on_barrier, j);
                        if (id < 0) {
                                job_fail(j, VFO_ERROR_NO_AGENT, "Ping could not be sent: %s.", strerror((int) -id));
                                return;
                        }
                        j->barrier = id;
                }
                return;

        case JOB_PHASE_PLUGGING:
                if (j->virt_call)
                        return;         /* on_plugged() */
                if (!j->plugged) {
                        _cleanup_free_ char *xml = NULL;

                        r = pool_device_xml(j->vf, port, &xml);
                        if (r < 0) {
                                job_fail(j, VFO_ERROR_INTERNAL, "No device XML for VF %s.", j->vf->id);
                                return;
                        }
                        r = job_call_virt(j, &(VirtRequest) { .op = VIRT_OP_ATTACH_DEVICE, .uuid = d->uuid, .arg = xml },
                                          on_plugged);
                        if (r < 0)
                                job_fail(j, VFO_ERROR_LIBVIRT, "libvirt could not plug VF %s into %s: %s.", j->vf->id,
                                         d->name, strerror(-r));
                        return;         /* on_plugged() */
                }
                if (!j->plugged_read) {
                        port_set_vf(port, j->vf);
                        vf_set_state(j->vf, VF_ATTACHED, port);
                        /* the VF's tap: libvirt names it now */
                        j->plugged_read = true;
                        if (job_read_domain(j, on_plugged_read) >= 0)
                                return;         /* on_plugged_read() */
                }
                job_taps_mark(j);
                port = job_port(j);
                port_changed(port);
                if (j->abrupt) {
                        job_advance(j);
                        attach_step(j);
                        return;
                }
                job_advance(j);
                if (j->attach_request == -1) {  /* AttachReady came already */
                        j->attach_request = 0;
                        job_advance(j);
                        attach_step(j);
                }
                return;

        case JOB_PHASE_WAITING_AGENT:
                return;         /* on_attach_ready */

        case JOB_PHASE_STEERING:
                r = pool_steer(j->vf, port, j->abrupt ? VFO__PATH_KIND__PATH_KIND_UNSPECIFIED : VFO__PATH_KIND__PATH_KIND_VF);
                if (r < 0) {
                        job_fail(j, VFO_ERROR_SWITCH_FAILED, "Moving steering to VF %s failed: %s.", j->vf->id, strerror(-r));
                        return;
                }
                job_taps_moved(j);
                if (j->abrupt) {
                        port_set_path(port, VFO__PATH_KIND__PATH_KIND_UNSPECIFIED);
                        job_advance(j);
                        job_finish(j, JOB_DONE);
                        return;
                }
                job_advance(j);
                r = send_steering_moved(j, VFO__PATH_KIND__PATH_KIND_VF, on_path_changed);
                if (r < 0)
                        job_fail(j, VFO_ERROR_NO_AGENT, "SteeringMoved could not be sent: %s.", strerror(-r));
                return;

        default:
                return;
        }
}

/* ----------------------------------------------------------------- detach */

static void on_detach_ready(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
        Job *j = userdata;
        char buf[320];

        j->request = 0;
        if (agent_busy_retry(j, error, reply, on_retry_prepare))
                return;
        agent_account(j);
        if (error < 0 || reply->body_case != VFO__ENVELOPE__BODY_DETACH_READY) {
                agent_error_text(error, reply, buf, sizeof(buf));
                if (detach_fall_back(j, buf))
                        return;
                job_fail(j, agent_error(error), "PrepareDetach: %s.", buf);
                return;
        }
        j->rollback_path = VFO__PATH_KIND__PATH_KIND_VF;        /* the agent is prepared: tell it on rollback */
        job_advance(j);
        detach_step(j);
}

static void on_unplug_checked(Job *j, int r) {
        if (j->phase != JOB_PHASE_UNPLUGGING)
                return;
        if (r >= 0 && !domain_has_alias(j->domain, j->vf->alias)) {
                job_device_removed(j, j->vf->alias);
                return;
        }
        job_fail(j, VFO_ERROR_UNPLUG_FAILED,
                 "%s did not release VF %s within %.1f s (the guest did not finish the unplug); the VF stays attached.",
                 j->domain->name, j->vf->id, (double) j->manager->config->unplug_timeout / USEC_PER_SEC);
}

static int on_unplug_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        /* No DEVICE_REMOVED in time: ask libvirt what is really there (off
         * the loop; with the unplug's own call still under way, it did
         * not answer in time either) */
        if (j->virt_call || job_read_domain(j, on_unplug_checked) < 0)
                on_unplug_checked(j, -ETIMEDOUT);
        return 0;
}

static void on_link_up(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Job *j = userdata;
        Port *port;

        if (!job_virt_returned(j) || j->phase != JOB_PHASE_CHECKING)
                return;
        if (r < 0) {
                job_fail(j, VFO_ERROR_LIBVIRT, "Could not bring the synthetic link of %s up: %s.", j->mac, strerror(-r));
                return;
        }
        port = job_port(j);
        if (port)
                port->link_down = false;
        detach_step(j);
}

static void on_unplug_requested(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Job *j = userdata;

        if (!job_virt_returned(j) || j->phase != JOB_PHASE_UNPLUGGING)
                return;         /* ended, or DEVICE_REMOVED came first */
        if (r == -ENOENT) {
                job_advance(j);
                detach_step(j);
                return;
        }
        if (r < 0) {
                job_fail(j, VFO_ERROR_LIBVIRT, "libvirt could not unplug VF %s from %s: %s.", j->vf->id,
                         j->domain->name, strerror(-r));
                return;
        }
        j->step_start = now_usec(CLOCK_MONOTONIC);
        r = sd_event_add_time_relative(j->manager->event, &j->timer, CLOCK_MONOTONIC,
                                       j->manager->config->unplug_timeout, 10 * USEC_PER_MSEC, on_unplug_timeout, j);
        if (r < 0)
                job_fail(j, VFO_ERROR_LIBVIRT, "No timer: %s.", strerror(-r));
}

static void detach_step(Job *j) {
        Manager *m = j->manager;
        Domain *d = j->domain;
        Port *port = job_port(j);
        int r;

        if (j->state != JOB_RUNNING)
                return;
        switch (j->phase) {
        case JOB_PHASE_CHECKING:
                if (!port || !port->vf) {
                        job_fail(j, VFO_ERROR_NOT_ATTACHED, "%s has no VF on %s.", d->name, j->mac);
                        return;
                }
                if (d->state == VIRT_DOMAIN_SHUTOFF) {
                        job_set_phase(j, JOB_PHASE_RELEASING);  /* nothing to unplug */
                        detach_step(j);
                        return;
                }
                if (d->state == VIRT_DOMAIN_PAUSED) {
                        job_fail(j, VFO_ERROR_PAUSED, "%s is paused; a paused guest cannot finish an unplug. Resume it first.", d->name);
                        return;
                }
                if (d->state != VIRT_DOMAIN_RUNNING) {
                        job_fail(j, VFO_ERROR_NOT_RUNNING, "%s is not running.", d->name);
                        return;
                }
                if (port->link_down) {
                        if (j->virt_call)
                                return;         /* on_link_up() */
                        r = job_call_virt(j, &(VirtRequest) { .op = VIRT_OP_SET_LINK, .uuid = d->uuid, .arg = port->mac, .up = true },
                                          on_link_up);
                        if (r < 0)
                                job_fail(j, VFO_ERROR_LIBVIRT, "Could not bring the synthetic link of %s up: %s.", j->mac, strerror(-r));
                        return;
                }
                if (!agent_or_fallback(j, "abrupt unplug: vfo-agent not connected (NoAgent=abrupt); the guest loses what is in flight"))
                        return;
                if (j->abrupt) {
                        job_advance(j);
                        detach_step(j);
                        return;
                }
                job_advance(j);
                {
                        Vfo__Envelope e = VFO__ENVELOPE__INIT;
                        Vfo__PrepareDetach pd = VFO__PREPARE_DETACH__INIT;
                        int64_t id;

                        pd.mac = j->mac;
                        pd.deadline_ms = agent_deadline_ms(j);
                        e.body_case = VFO__ENVELOPE__BODY_PREPARE_DETACH;
                        e.prepare_detach = &pd;
                        id = agent_conn_request(d->agent, &e, m->config->agent_timeout, on_detach_ready, j);
                        if (id < 0) {
                                char why[128];

                                snprintf(why, sizeof(why), "PrepareDetach could not be sent (%s)", strerror((int) -id));
                                if (!detach_fall_back(j, why))
                                        job_fail(j, VFO_ERROR_NO_AGENT, "%s.", why);
                                return;
                        }
                        j->request = id;
                        job_prepare_sent(j, id);
                }
                return;

        case JOB_PHASE_STEERING:
                r = pool_steer(j->vf, port, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
                if (r < 0) {
                        job_fail(j, VFO_ERROR_SWITCH_FAILED, "Moving steering to the synthetic path failed: %s.", strerror(-r));
                        return;
                }
                job_taps_moved(j);
                if (j->abrupt) {
                        job_advance(j);
                        detach_step(j);
                        return;
                }
                job_advance(j);
                r = send_steering_moved(j, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, on_path_changed);
                if (r < 0) {
                        char why[128];

                        snprintf(why, sizeof(why), "SteeringMoved could not be sent (%s)", strerror(-r));
                        if (!detach_fall_back(j, why))
                                job_fail(j, VFO_ERROR_NO_AGENT, "%s.", why);
                }
                return;

        case JOB_PHASE_UNPLUGGING:
                job_taps_count(j, true);        /* the VF's tap goes with the unplug, and its count */
                vf_set_state(j->vf, VF_RELEASING, port);
                j->step_start = now_usec(CLOCK_MONOTONIC);
                r = job_call_virt(j, &(VirtRequest) { .op = VIRT_OP_DETACH_ALIAS, .uuid = d->uuid, .arg = j->vf->alias },
                                  on_unplug_requested);
                if (r < 0)
                        job_fail(j, VFO_ERROR_LIBVIRT, "libvirt could not unplug VF %s from %s: %s.", j->vf->id, d->name, strerror(-r));
                return;         /* on_unplug_requested(), job_device_removed() */

        case JOB_PHASE_RELEASING:
                release_vf_and_unpin(j);
                job_advance(j);
                job_finish(j, JOB_DONE);
                return;

        default:
                return;
        }
}

void job_device_removed(Job *j, const char *alias) {
        if (j->state != JOB_RUNNING || !j->vf || strcmp(alias, j->vf->alias) != 0)
                return;
        if (j->phase == JOB_PHASE_UNPLUGGING) {
                /* since the request was answered (on_unplug_requested() moved
                 * step_start), or since it was made if the event came first */
                j->libvirt_usec += now_usec(CLOCK_MONOTONIC) - j->step_start;
                j->virt_call = virt_call_cancel(j->virt_call);
                j->read_fn = NULL;
                job_timer_off(j);
                job_advance(j);
                detach_step(j);
        } else if (j->phase == JOB_PHASE_ROLLING_BACK && j->plugged) {
                j->plugged = false;
                job_timer_off(j);
                rollback_step(j);
        }
}

void job_device_removal_failed(Job *j, const char *alias) {
        if (j->state != JOB_RUNNING || !j->vf || strcmp(alias, j->vf->alias) != 0)
                return;
        if (j->phase == JOB_PHASE_UNPLUGGING)
                job_fail(j, VFO_ERROR_UNPLUG_FAILED,
                         "libvirt reported DEVICE_REMOVAL_FAILED for VF %s in %s; the VF stays attached.", j->vf->id,
                         j->domain->name);
}

void job_domain_lost(Job *j, const char *why) {
        if (j->state != JOB_RUNNING)
                return;
        /* Nothing to roll back in a guest that is gone; its devices went with it. */
        j->plugged = false;
        j->steered = false;
        j->switched = false;
        j->rollback_path = VFO__PATH_KIND__PATH_KIND_UNSPECIFIED;
        job_fail(j, VFO_ERROR_NOT_RUNNING, "%s: %s.", j->domain->name, why);
}

/* --------------------------------------------------------------- rollback */

static int on_rollback_unplug_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        log_job_error(j, "Job %" PRIu64 ": VF %s did not leave %s during rollback; it stays claimed by it.", j->id,
                  j->vf->id, j->domain->name);
        job_finish(j, JOB_FAILED);
        return 0;
}

static void on_rollback_unplug_requested(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Job *j = userdata;

        if (!job_virt_returned(j))
                return;
        if (r == -ENOENT) {
                j->plugged = false;     /* gone already */
                rollback_step(j);
                return;
        }
        if (r < 0) {
                log_job_error_errno(j, r, "Job %" PRIu64 ": VF %s could not be unplugged during rollback: %m", j->id, j->vf->id);
                job_finish(j, JOB_FAILED);
                return;
        }
        vf_set_state(j->vf, VF_RELEASING, job_port(j));
        r = sd_event_add_time_relative(j->manager->event, &j->timer, CLOCK_MONOTONIC, j->manager->config->unplug_timeout,
                                       10 * USEC_PER_MSEC, on_rollback_unplug_timeout, j);
        if (r < 0) {
                log_job_error_errno(j, r, "Job %" PRIu64 ": no timer for the rollback's unplug: %m", j->id);
                job_finish(j, JOB_FAILED);
        }
        /* job_device_removed() comes back to rollback_step() */
}

/* Back to the last state that carried traffic: for an attach, the synthetic
 * path without the VF; for a detach, the VF. */
static void rollback_step(Job *j) {
        Domain *d = j->domain;
        Port *port = job_port(j);
        bool agent = !j->abrupt && d && agent_conn_is_synced(d->agent);
        int r;

        if (!port || !j->vf || d->state == VIRT_DOMAIN_SHUTOFF || d->gone) {
                release_vf(j);
                job_finish(j, JOB_FAILED);
                return;
        }
        if (j->virt_call && j->virt_op == VIRT_OP_ATTACH_DEVICE)
                return;         /* whether the VF went in: on_plugged() comes back here */

        if (j->kind == JOB_ATTACH) {
                if (j->steered) {
                        (void) pool_steer(j->vf, port, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
                        j->steered = false;
                }
                if (agent)      /* in ATTACH_*: "the host gave up" */
                        (void) send_steering_moved(j, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, NULL);
                if (j->plugged) {
                        r = job_call_virt(j, &(VirtRequest) { .op = VIRT_OP_DETACH_ALIAS, .uuid = d->uuid, .arg = j->vf->alias },
                                          on_rollback_unplug_requested);
                        if (r >= 0)
                                return;         /* on_rollback_unplug_requested() */
                        log_job_error_errno(j, r, "Job %" PRIu64 ": VF %s could not be unplugged during rollback: %m", j->id,
                                        j->vf->id);
                        job_finish(j, JOB_FAILED);
                        return;
                }
                release_vf_and_unpin(j);
                port_set_path(port, VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
                job_finish(j, JOB_FAILED);
                return;
        }

        /* detach: the VF is still plugged (the unplug failed or never started) */
        if (j->steered) {
                (void) pool_steer(j->vf, port, VFO__PATH_KIND__PATH_KIND_VF);
                j->steered = false;
        }
        if (agent && (j->rollback_path == VFO__PATH_KIND__PATH_KIND_VF || j->switched))
                (void) send_steering_moved(j, VFO__PATH_KIND__PATH_KIND_VF, NULL);
        if (j->vf->state == VF_RELEASING)
                vf_set_state(j->vf, VF_ATTACHED, port);
        job_finish(j, JOB_FAILED);
}


static void detach_finished(Job *j) {
        if (j->state == JOB_FAILED && j->vf)
                vf_unreserve(j->vf);            /* the preemption did not happen */
}

const JobOps job_attach_ops = {
        .start = attach_step,
        .rollback = rollback_step,
        .progress = attach_progress,
};

const JobOps job_detach_ops = {
        .start = detach_step,
        .rollback = rollback_step,
        .finished = detach_finished,
        .progress = detach_progress,
};
