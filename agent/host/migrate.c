/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration of a domain that holds VFs (DESIGN.md "Migration"):
 *
 *   checking               running (a paused domain is refused, or resumed
 *                          with the "resume" option); no job on its ports
 *   claiming-destination   the destination's vfod claims VFs for the ports
 *                          (when we can reach its bus); a required VF that
 *                          is not free there refuses the migration here,
 *                          before anything is unplugged
 *   detaching              a graceful detach of every VF (child jobs); the
 *                          VFs stay reserved for their ports
 *   migrating              libvirt migrates; a helper process makes the
 *                          blocking call (virDomainMigrateToURI3), so this
 *                          loop keeps serving; progress from job stats
 *   done                   the reservations go: the VFs are free here
 *   rolling-back           on failure, cancel or timeout: the reserved VFs
 *                          are attached again (child jobs), then the job
 *                          fails with the reason
 *
 * Migration jobs are not journaled: after a crash the domain is either
 * still here (its ports wait and get VFs again) or gone. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/host/bus.h"
#include "agent/host/job.h"
#include "agent/host/migrate-options.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/string-util.h"

#define PROGRESS_INTERVAL_USEC (50 * USEC_PER_MSEC)
#define HANDOVER_DRAIN_USEC (50 * USEC_PER_MSEC)
#define HANDOVER_REMAINING (16ULL * 1024 * 1024)
/* How long before the end of the first pass the destination takes the
 * traffic: frames wait there this long plus the downtime (the tap's queue
 * holds 4096, see pool.c), and the source has this long to drain its tap. */
#define HANDOVER_LEAD_USEC (300 * USEC_PER_MSEC)
/* Until the destination holds the traffic, QEMU must not switch over by
 * itself: a downtime it cannot meet keeps it iterating. */
#define HOLD_DOWNTIME_MS 0
#define DEFAULT_DOWNTIME_MS 300
/* After the handover: what is left is small, so this is met at the next
 * check; the domain is paused only as long as the copy of the rest takes. */
#define SWITCHOVER_DOWNTIME_MS 2000
#define DESTINATION_TIMEOUT_USEC (5 * USEC_PER_SEC)

static void migrate_step(Job *j);
static void handover_start(Job *j);

static void ports_set_migrating(Domain *d, bool on) {
        for (size_t i = 0; i < d->n_ports; i++)
                d->ports[i]->migrating = on;
}

static void clear_reservations(Domain *d) {
        Manager *m = d->manager;

        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t k = 0; k < m->pools[i]->n_vfs; k++) {
                        Vf *vf = m->pools[i]->vfs[k];
                        if (vf->reserved_for && vf->reserved_for->domain == d)
                                vf_unreserve(vf);
                }
}

void migrate_job_done(Job *j) {
        j->poll_call = virt_call_cancel(j->poll_call);
        j->knob_call = virt_call_cancel(j->knob_call);
        j->progress_timer = sd_event_source_disable_unref(j->progress_timer);
        j->handover_timer = sd_event_source_disable_unref(j->handover_timer);
        j->helper_io = sd_event_source_disable_unref(j->helper_io);
        j->helper_child = sd_event_source_disable_unref(j->helper_child);
        if (j->helper_fd > 0)
                close(j->helper_fd);
        j->helper_fd = -1;
        j->dest_slot = sd_bus_slot_unref(j->dest_slot);
        j->dest_bus = sd_bus_flush_close_unref(j->dest_bus);
        if (j->domain && j->domain->migration == j) {
                j->domain->migration = NULL;
                ports_set_migrating(j->domain, false);
        }
}

/* ------------------------------------------------------------- rollback */

void migrate_rollback(Job *j) {
        Manager *m = j->manager;
        Domain *d = j->domain;

        j->progress_timer = sd_event_source_disable_unref(j->progress_timer);
        j->handover_timer = sd_event_source_disable_unref(j->handover_timer);
        ports_set_migrating(d, false);
        if (j->handover > 0 && !d->gone) {
                /* The destination took the traffic, the migration failed
                 * (libvirt resumes a source QEMU had paused): back here. */
                Pool *pool = manager_pool_for(m, d);
                for (size_t i = 0; pool && i < d->n_ports; i++)
                        (void) pool_steer_in(pool, NULL, d->ports[i], VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
                j->handover = 0;
        }
        if (d->state == VIRT_DOMAIN_RUNNING && !d->gone)
                for (size_t i = 0; i < m->n_pools; i++)
                        for (size_t k = 0; k < m->pools[i]->n_vfs; k++) {
                                Vf *vf = m->pools[i]->vfs[k];
                                Port *p = vf->reserved_for;
                                Job *child = NULL;

                                if (!p || p->domain != d || vf->state != VF_FREE || p->vf || p->job)
                                        continue;
                                if (job_start(m, JOB_ATTACH, JOB_REASON_MIGRATE, p, vf, &child) < 0)
                                        continue;
                                child->parent = j;
                                j->children++;
                        }
        if (j->children == 0) {
                clear_reservations(d);
                job_finish(j, JOB_FAILED);
        }
        /* else migrate_child_finished() finishes it */
}

/* ------------------------------------------------------------- children */

void migrate_child_finished(Job *j, Job *child) {
        if (j->children > 0)
                j->children--;
        if (child->state == JOB_FAILED && !j->child_error)
                j->child_error = strdup(child->error_message ?: "a child job failed");
        if (j->children > 0 || j->state != JOB_RUNNING)
                return;

        if (j->phase == JOB_PHASE_ROLLING_BACK) {
                char *msg = NULL;

                if (asprintf(&msg, "%s; %s", j->error_message ?: "migration failed",
                             j->child_error ? "re-attaching the VFs on the source failed too" :
                                              "the VFs are back on the source") >= 0) {
                        free(j->error_message);
                        j->error_message = msg;
                }
                clear_reservations(j->domain);
                job_finish(j, JOB_FAILED);
                return;
        }
        if (j->child_error) {
                job_fail(j, BUS_ERROR_UNPLUG_FAILED, "Detaching the VFs before the migration failed: %s",
                         j->child_error);
                return;
        }
        if (j->cancel_requested) {
                job_fail(j, BUS_ERROR_INVALID_ARGUMENT, "Cancelled before the migration started");
                return;
        }
        job_set_phase(j, JOB_PHASE_MIGRATING);
        migrate_step(j);
}

/* ------------------------------------------------------- helper process */

/* Time for the handover: the first pass over guest memory ends within
 * HANDOVER_LEAD_USEC at the rate of the last poll, or is over
 * (memory_iteration counts from 1), or little is left. A downtime limit of
 * 0 keeps QEMU from switching over by itself while something is dirty, but
 * not once nothing is: the source must have drained its tap by then, so
 * the handover comes before the end, not at it. */
static bool handover_due(const Job *j, const VirtJobStats *st) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (st->memory_iteration >= 2 || st->data_remaining <= HANDOVER_REMAINING)
                return true;
        if (j->last_remaining > st->data_remaining && now > j->last_poll) {
                double rate = (double) (j->last_remaining - st->data_remaining) / (double) (now - j->last_poll);
                if ((double) st->data_remaining / rate <= (double) HANDOVER_LEAD_USEC)
                        return true;
        }
        return false;
}

static void on_downtime_set(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Job *j = userdata;

        j->knob_call = NULL;
        if (r < 0) {
                log_warning_errno(r, "Job %" PRIu64 ": cannot set the maximum downtime of %s to %" PRIu64 " ms: %m",
                                  j->id, j->domain->name, j->knob_ms);
                return;
        }
        /* 0 holds QEMU's own switchover back until the handover */
        j->downtime_held = j->knob_ms == HOLD_DOWNTIME_MS;
}

/* QEMU's downtime limit, off the loop; a newer value replaces one not sent yet. */
static void set_downtime(Job *j, uint64_t ms) {
        int r;

        j->knob_call = virt_call_cancel(j->knob_call);
        j->knob_ms = ms;
        r = virt_call(j->manager->virt,
                      &(VirtRequest) { .op = VIRT_OP_SET_MAX_DOWNTIME, .uuid = j->domain->uuid, .ms = ms },
                      j->manager->config->libvirt_timeout, on_downtime_set, j, &j->knob_call);
        if (r < 0)
                log_warning_errno(r, "Job %" PRIu64 ": cannot set the maximum downtime of %s: %m", j->id,
                                  j->domain->name);
}

static void on_job_stats(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Job *j = userdata;

        j->poll_call = NULL;
        if (r < 0 || !st || st->data_total == 0 || j->state != JOB_RUNNING || j->phase != JOB_PHASE_MIGRATING)
                return;
        log_debug("Job %" PRIu64 ": migration %" PRIu64 "/%" PRIu64 " bytes, %" PRIu64 " left, pass %" PRIu64 ".",
                  j->id, st->data_processed, st->data_total, st->data_remaining, st->memory_iteration);
        if (j->handover == 0 && j->managed_switchover && j->dest_bus && !j->downtime_held && !j->knob_call)
                set_downtime(j, HOLD_DOWNTIME_MS);
        if (j->handover == 0 && j->downtime_held && handover_due(j, st))
                handover_start(j);
        j->last_remaining = st->data_remaining;
        j->last_poll = now_usec(CLOCK_MONOTONIC);
        if (j->handover < 0 && j->downtime_held && !j->knob_call)
                set_downtime(j, DEFAULT_DOWNTIME_MS);   /* no handover after all: QEMU's own switchover */
        unsigned p = 20 + (unsigned) (75 * MIN(st->data_processed, st->data_total) / st->data_total);
        if (p != j->migrate_progress) {
                j->migrate_progress = p;
                bus_emit_changed(j->manager, j->path, VFO_JOB_IFACE, "Progress", NULL);
        }
}

static int on_progress(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        if (j->timeout > 0 && now_usec(CLOCK_MONOTONIC) - j->step_start >= j->timeout && !j->cancel_requested) {
                log_warning("Job %" PRIu64 ": migration of %s still running after %.0f s: aborting it.", j->id,
                            j->domain->name, (double) j->timeout / USEC_PER_SEC);
                j->cancel_requested = true;
                free(j->fallback);
                j->fallback = strdup("timeout");
                (void) virt_call(j->manager->virt, &(VirtRequest) { .op = VIRT_OP_ABORT_JOB, .uuid = j->domain->uuid },
                                 j->manager->config->libvirt_timeout, NULL, NULL, NULL);
        }
        /* one poll at a time: a slow answer skips ticks */
        if (!j->poll_call)
                (void) virt_call(j->manager->virt, &(VirtRequest) { .op = VIRT_OP_GET_JOB_STATS, .uuid = j->domain->uuid },
                                 LIBVIRT_POLL_TIMEOUT_USEC, on_job_stats, j, &j->poll_call);
        (void) sd_event_source_set_time_relative(s, PROGRESS_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_helper_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Job *j = userdata;
        ssize_t k;

        k = read(fd, j->helper_out + j->n_helper_out, sizeof(j->helper_out) - 1 - j->n_helper_out);
        if (k > 0) {
                j->n_helper_out += (size_t) k;
                j->helper_out[j->n_helper_out] = 0;
        }
        if (k <= 0 || j->n_helper_out >= sizeof(j->helper_out) - 1)
                j->helper_io = sd_event_source_disable_unref(j->helper_io);
        return 0;
}

static int on_helper_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Job *j = userdata;
        Domain *d = j->domain;
        bool ok = si->si_code == CLD_EXITED && si->si_status == 0;
        usec_t took = now_usec(CLOCK_MONOTONIC) - j->step_start;

        /* the rest of its output */
        while (j->helper_io && on_helper_output(NULL, j->helper_fd, EPOLLIN, j) >= 0 && j->helper_io)
                ;
        j->helper_child = sd_event_source_disable_unref(j->helper_child);
        j->helper_pid = 0;
        j->progress_timer = sd_event_source_disable_unref(j->progress_timer);
        j->libvirt_usec += took;

        if (!ok) {
                char *nl = strchr(j->helper_out, '\n');
                if (nl)
                        *nl = 0;
                job_fail(j, BUS_ERROR_LIBVIRT, "%s%s", j->cancel_requested && !j->fallback ? "cancelled: " :
                                                   j->fallback ? "timed out: " : "",
                         j->helper_out[0] ? j->helper_out : "the migration helper failed");
                return 0;
        }
        log_info("Job %" PRIu64 ": %s migrated to %s in %.1f s.", j->id, d->name, j->destination,
                 (double) took / USEC_PER_SEC);
        free(j->fallback);
        j->fallback = NULL;
        clear_reservations(d);
        (void) domain_refresh(d);       /* gone or shut off here now: its devices went with it */
        j->migrate_progress = 100;
        job_set_phase(j, JOB_PHASE_DONE);
        job_finish(j, JOB_DONE);
        return 0;
}

static int spawn_helper(Job *j) {
        Manager *m = j->manager;
        char bw[32];
        int pipefd[2];
        pid_t pid;
        int r;

        snprintf(bw, sizeof(bw), "%" PRIu64, j->bandwidth);
        const char *argv[] = {
                "vfod", "--migrate-helper",
                virt_get_uri(m->virt) ?: "", j->domain->uuid, j->destination,
                j->live ? "live" : "offline",
                j->p2p ? "p2p" : "direct",
                j->persistent ? "persistent" : "-",
                j->undefine_source ? "undefine-source" : "-",
                j->migrate_uri ?: "-", j->listen_address ?: "-", bw,
                NULL,
        };

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        /* not killed with vfod: a restarted vfod finds the migration (manager_reconcile()) */
        pid = spawn_self(argv, pipefd[1], STDOUT_FILENO, false);
        close(pipefd[1]);
        if (pid < 0) {
                close(pipefd[0]);
                return (int) pid;
        }
        j->helper_fd = pipefd[0];
        j->helper_pid = pid;
        j->n_helper_out = 0;
        j->helper_out[0] = 0;
        r = sd_event_add_io(m->event, &j->helper_io, j->helper_fd, EPOLLIN, on_helper_output, j);
        if (r < 0)
                return r;
        r = sd_event_add_child(m->event, &j->helper_child, pid, WEXITED, on_helper_exit, j);
        if (r < 0)
                return r;
        return sd_event_add_time_relative(m->event, &j->progress_timer, CLOCK_MONOTONIC, PROGRESS_INTERVAL_USEC,
                                          50 * USEC_PER_MSEC, on_progress, j);
}

/* ---------------------------------------------------- destination claim */

static int on_destination_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *msg = NULL;
        int ok = 0, r;

        j->dest_slot = sd_bus_slot_unref(j->dest_slot);
        j->agent_usec += now_usec(CLOCK_MONOTONIC) - j->step_start;
        if (e) {
                log_warning("Job %" PRIu64 ": the destination's vfod did not claim VFs (%s: %s); its libvirt hook will.",
                            j->id, e->name, e->message);
                free(j->fallback);
                if (asprintf(&j->fallback, "destination vfod not asked (%s); its hook claims VFs", e->message) < 0)
                        j->fallback = NULL;
        } else {
                r = sd_bus_message_read(reply, "bs", &ok, &msg);
                if (r >= 0 && !ok) {
                        job_fail(j, BUS_ERROR_NO_VF_FREE, "The destination refuses: %s Nothing was unplugged.",
                                 msg ?: "");
                        return 0;
                }
                log_info("Job %" PRIu64 ": the destination claimed VFs: %s", j->id, msg ?: "");
        }
        job_set_phase(j, JOB_PHASE_DETACHING);
        migrate_step(j);
        return 0;
}

/* ------------------------------------------------------------- handover */

static int on_handover_drained(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        j->handover_timer = sd_event_source_disable_unref(j->handover_timer);
        if (j->state != JOB_RUNNING || j->phase != JOB_PHASE_MIGRATING || j->helper_pid <= 0)
                return 0;
        /* The switchover: QEMU's own, now that frames wait on the
         * destination. A downtime it meets at once makes it stop the
         * source and complete at the next check. (Pausing the domain
         * through libvirt instead was followed by a hang of the
         * destination guest in virtio-net in 2 of about 14 lab runs.) */
        set_downtime(j, SWITCHOVER_DOWNTIME_MS);
        j->handover = 2;
        log_info("Job %" PRIu64 ": the destination holds %s's traffic; QEMU switches over.", j->id, j->domain->name);
        return 0;
}

static int on_handover_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t ports = 0;
        int r;

        j->dest_slot = sd_bus_slot_unref(j->dest_slot);
        if (e) {
                log_warning("Job %" PRIu64 ": the destination did not take the traffic over (%s); QEMU switches over by itself.",
                            j->id, e->message);
                j->handover = -1;
                return 0;
        }
        r = sd_bus_message_read(reply, "u", &ports);
        if (r < 0 || ports == 0) {
                log_info("Job %" PRIu64 ": the destination has no tap to take the traffic in; QEMU switches over by itself.",
                         j->id);
                j->handover = -1;
                return 0;
        }
        /* Frames go to the destination now; let QEMU read what is left in
         * the source's tap, then let it switch over. */
        if (sd_event_add_time_relative(j->manager->event, &j->handover_timer, CLOCK_MONOTONIC, HANDOVER_DRAIN_USEC,
                                       USEC_PER_MSEC, on_handover_drained, j) < 0)
                j->handover = -1;
        return 0;
}

/* The first pass over guest memory is done: what is left is small. Ask the
 * destination to take the traffic (it steers the ports to its taps, where
 * frames wait until the domain runs there), then let QEMU switch over. */
static void handover_start(Job *j) {
        int r;

        if (!j->dest_bus) {
                j->handover = -1;
                return;
        }
        r = sd_bus_call_method_async(j->dest_bus, &j->dest_slot, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE,
                                     "Handover", on_handover_reply, j, "s", j->domain->uuid);
        j->handover = r < 0 ? -1 : 1;
}

/* The destination's bus: the given address, or ssh to the host of a
 * qemu+ssh:// URI (like busctl --host). NULL: not reachable from here. */
static char *destination_bus_address(const Job *j) {
        const char *rest, *end;
        char *host, *a = NULL;

        if (j->destination_bus)
                return strdup(j->destination_bus);
        rest = startswith(j->destination, "qemu+ssh://");
        if (!rest)
                return NULL;
        end = strchr(rest, '/');
        host = end ? strndup(rest, (size_t) (end - rest)) : strdup(rest);
        if (!host || !migrate_ssh_host_is_safe(host)) {
                free(host);
                return NULL;
        }
        if (asprintf(&a, "unixexec:path=ssh,argv1=-xT,argv2=--,argv3=%s,argv4=systemd-stdio-bridge", host) < 0)
                a = NULL;
        free(host);
        return a;
}

static int ask_destination(Job *j) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        _cleanup_free_ char *address = destination_bus_address(j);
        Domain *d = j->domain;
        Pool *pool = manager_pool_for(j->manager, d);
        int r;

        if (!address)
                return 0;       /* the destination's hook claims */
        r = sd_bus_new(&j->dest_bus);
        if (r >= 0)
                r = sd_bus_set_address(j->dest_bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(j->dest_bus, true);
        if (r >= 0)
                r = sd_bus_start(j->dest_bus);
        if (r >= 0)
                r = sd_bus_attach_event(j->dest_bus, j->manager->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_message_new_method_call(j->dest_bus, &msg, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE,
                                                   "PrepareIncoming");
        if (r >= 0)
                r = sd_bus_message_append(msg, "ssb", d->uuid, d->policy.pool[0] ? d->policy.pool : "",
                                          (int) d->policy.required);
        if (r >= 0)
                r = sd_bus_message_open_container(msg, 'a', "s");
        for (size_t i = 0; r >= 0 && i < d->n_ports; i++)
                r = sd_bus_message_append(msg, "s", d->ports[i]->mac);
        if (r >= 0)
                r = sd_bus_message_close_container(msg);
        if (r >= 0)
                r = sd_bus_call_async(j->dest_bus, &j->dest_slot, msg, on_destination_reply, j,
                                      DESTINATION_TIMEOUT_USEC);
        if (r < 0) {
                log_warning_errno(r, "Job %" PRIu64 ": cannot reach the destination's vfod at %s: %m", j->id, address);
                j->dest_bus = sd_bus_flush_close_unref(j->dest_bus);
                free(j->fallback);
                if (asprintf(&j->fallback, "destination vfod not reachable (%s); its hook claims VFs", strerror(-r)) < 0)
                        j->fallback = NULL;
                return 0;
        }
        (void) pool;
        return 1;       /* on_destination_reply() goes on */
}

/* ---------------------------------------------------------------- steps */

static void on_resumed(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Job *j = userdata;

        j->virt_call = NULL;
        if (j->state != JOB_RUNNING || j->phase != JOB_PHASE_CHECKING)
                return;
        if (r < 0) {
                job_fail(j, BUS_ERROR_LIBVIRT, "Could not resume %s: %s.", j->domain->name, strerror(-r));
                return;
        }
        domain_set_state(j->domain, VIRT_DOMAIN_RUNNING);
        migrate_step(j);
}

static void migrate_step(Job *j) {
        Manager *m = j->manager;
        Domain *d = j->domain;
        int r;

        switch (j->phase) {
        case JOB_PHASE_CHECKING:
                if (d->state == VIRT_DOMAIN_PAUSED) {
                        if (!j->resume) {
                                job_fail(j, BUS_ERROR_PAUSED,
                                         "%s is paused; a paused guest cannot finish an unplug, so nothing was done. Resume it, or migrate with --resume.",
                                         d->name);
                                return;
                        }
                        if (j->virt_call)
                                return;         /* on_resumed() */
                        r = virt_call(m->virt, &(VirtRequest) { .op = VIRT_OP_RESUME, .uuid = d->uuid },
                                      m->config->libvirt_timeout, on_resumed, j, &j->virt_call);
                        if (r < 0)
                                job_fail(j, BUS_ERROR_LIBVIRT, "Could not resume %s: %s.", d->name, strerror(-r));
                        return;
                }
                if (d->state != VIRT_DOMAIN_RUNNING) {
                        job_fail(j, BUS_ERROR_NOT_RUNNING, "%s is not running.", d->name);
                        return;
                }
                for (size_t i = 0; i < d->n_ports; i++)
                        if (d->ports[i]->job) {
                                job_fail(j, BUS_ERROR_BUSY, "Job %" PRIu64 " runs on %s of %s; wait for it.",
                                         d->ports[i]->job->id, d->ports[i]->mac, d->name);
                                return;
                        }
                ports_set_migrating(d, true);
                job_set_phase(j, JOB_PHASE_CLAIMING_DESTINATION);
                j->migrate_progress = 2;
                if (ask_destination(j) > 0)
                        return;
                job_set_phase(j, JOB_PHASE_DETACHING);
                __attribute__((fallthrough));
        case JOB_PHASE_DETACHING:
                j->migrate_progress = 5;
                for (size_t i = 0; i < d->n_ports; i++) {
                        Port *p = d->ports[i];
                        Job *child = NULL;

                        if (!p->vf)
                                continue;
                        vf_reserve(p->vf, p);
                        r = job_start(m, JOB_DETACH, JOB_REASON_MIGRATE, p, NULL, &child);
                        if (r < 0) {
                                job_fail(j, BUS_ERROR_BUSY, "Cannot detach the VF of %s: %s.", p->mac, strerror(-r));
                                return;
                        }
                        child->parent = j;
                        j->children++;
                }
                if (j->children > 0)
                        return;         /* migrate_child_finished() */
                job_set_phase(j, JOB_PHASE_MIGRATING);
                __attribute__((fallthrough));
        case JOB_PHASE_MIGRATING:
                j->migrate_progress = 20;
                if (j->cancel_requested) {
                        job_fail(j, BUS_ERROR_INVALID_ARGUMENT, "Cancelled before the migration started");
                        return;
                }
                /* No pin may hold the ports' frames here once the domain
                 * runs elsewhere: the bridge learns from its announcements. */
                {
                        Pool *pool = manager_pool_for(m, d);
                        for (size_t i = 0; pool && i < d->n_ports; i++)
                                (void) pool_steer_in(pool, NULL, d->ports[i], VFO__PATH_KIND__PATH_KIND_UNSPECIFIED);
                }
                r = spawn_helper(j);
                if (r < 0)
                        job_fail(j, BUS_ERROR_LIBVIRT, "Cannot start the migration: %s.", strerror(-r));
                return;
        default:
                return;
        }
}

static int on_migrate_start(sd_event_source *s, void *userdata) {
        Job *j = userdata;

        j->timer = sd_event_source_disable_unref(j->timer);
        migrate_step(j);
        return 0;
}

int migrate_cancel(Job *j) {
        if (j->kind != JOB_MIGRATE || j->state != JOB_RUNNING)
                return -EINVAL;
        if (j->cancel_requested)
                return 0;
        j->cancel_requested = true;
        log_info("Job %" PRIu64 ": cancelling the migration of %s (phase %s).", j->id, j->domain->name,
                 job_phase_to_string(j->phase));
        if (j->phase == JOB_PHASE_MIGRATING && j->helper_pid > 0)
                return virt_call(j->manager->virt, &(VirtRequest) { .op = VIRT_OP_ABORT_JOB, .uuid = j->domain->uuid },
                                 j->manager->config->libvirt_timeout, NULL, NULL, NULL);
        if (j->phase == JOB_PHASE_CLAIMING_DESTINATION || j->phase == JOB_PHASE_CHECKING)
                job_fail(j, BUS_ERROR_INVALID_ARGUMENT, "Cancelled before anything was unplugged");
        return 0;       /* detaching: checked when the detaches end */
}

static int dup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (isempty(s))
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int migrate_start(Manager *m, Domain *d, const MigrateRequest *req, Job **ret) {
        Job *j;
        int r;

        if (d->migration)
                return -EBUSY;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->manager = m;
        j->id = m->next_job_id++;
        j->kind = JOB_MIGRATE;
        j->reason = JOB_REASON_USER;
        j->domain = d;
        j->helper_fd = -1;
        j->state = JOB_RUNNING;
        j->phase = JOB_PHASE_CHECKING;
        j->start = j->step_start = now_usec(CLOCK_MONOTONIC);
        j->start_realtime = now_usec(CLOCK_REALTIME);
        j->live = req->live;
        j->p2p = req->p2p;
        j->persistent = req->persistent;
        j->undefine_source = req->undefine_source;
        j->resume = req->resume;
        j->managed_switchover = req->managed_switchover;
        j->bandwidth = req->bandwidth;
        j->timeout = req->timeout;
        if (asprintf(&j->path, VFO_JOB_PREFIX "/%" PRIu64, j->id) < 0 ||
            dup_or_null(req->destination, &j->destination) < 0 || !j->destination ||
            dup_or_null(req->destination_bus, &j->destination_bus) < 0 ||
            dup_or_null(req->migrate_uri, &j->migrate_uri) < 0 ||
            dup_or_null(req->listen_address, &j->listen_address) < 0) {
                job_free(j);
                return -ENOMEM;
        }
        r = job_register(m, j);
        if (r < 0) {
                job_free(j);
                return r;
        }
        d->migration = j;
        r = sd_event_add_defer(m->event, &j->timer, on_migrate_start, j);
        if (r < 0)
                return r;
        log_info("Job %" PRIu64 ": migrate %s to %s.", j->id, d->name, j->destination);
        bus_job_new(j);
        *ret = j;
        return 0;
}

/* ------------------------------------------------------ helper process */

int migrate_helper_main(int argc, char *argv[]) {
        VirtMigrateOptions o = {};
        _cleanup_free_ char *msg = NULL;
        int r;

        /* vfod --migrate-helper SRC UUID DEST live|offline p2p|direct persistent|- undefine-source|- MURI|- LISTEN|- BW */
        if (argc != 12) {
                printf("internal error: the migration helper got %d arguments\n", argc);
                return EXIT_FAILURE;
        }
        o.live = streq(argv[5], "live");
        o.p2p = streq(argv[6], "p2p");
        o.persistent = streq(argv[7], "persistent");
        o.undefine_source = streq(argv[8], "undefine-source");
        o.migrate_uri = streq(argv[9], "-") ? NULL : argv[9];
        o.listen_address = streq(argv[10], "-") ? NULL : argv[10];
        o.bandwidth = strtoull(argv[11], NULL, 10);
        r = virt_migrate_blocking(isempty(argv[2]) ? NULL : argv[2], argv[3], argv[4], &o, &msg);
        if (r < 0) {
                printf("%s\n", msg ?: strerror(-r));
                return EXIT_FAILURE;
        }
        printf("ok\n");
        return EXIT_SUCCESS;
}
