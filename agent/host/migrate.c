/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration of a domain that holds VFs (ARCHITECTURE.md "8 Migration"):
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

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "agent/host/forward.h"
#include "agent/host/migrate-options.h"
#include "agent/host/migrate.h"
#include "lib/log.h"
#include "lib/parse-util.h"
#include "lib/spawn.h"
#include "lib/string-util.h"
#include "lib/validate.h"

#define PROGRESS_INTERVAL_USEC (50 * USEC_PER_MSEC)
#define HANDOVER_POLL_USEC (10 * USEC_PER_MSEC)
#define HANDOVER_REMAINING (16ULL * 1024 * 1024)
/* How long before the end of the first pass the destination takes the
 * traffic: frames wait there this long at most plus the downtime (the
 * tap's queue holds 4096, see pool.c). */
#define HANDOVER_LEAD_USEC (300 * USEC_PER_MSEC)
/* Until the destination holds the traffic, QEMU must not switch over by
 * itself: a downtime it cannot meet keeps it iterating. */
#define HOLD_DOWNTIME_MS 0
#define DEFAULT_DOWNTIME_MS 300
/* After the handover: what is left is small, so this is met at the next
 * check; the domain is paused only as long as the copy of the rest takes. */
#define SWITCHOVER_DOWNTIME_MS 2000
#define DESTINATION_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* The handover that copies (ExpectReplay): the guest drops what it took
 * twice for this long of its own running time; sent again every
 * REPLAY_REFRESH_USEC until the domain paused here, so the window outlasts
 * the wait for QEMU's switchover. Its deduplication remembers a frame 2 s
 * (drivers/bpf/standby-rx.h): a copy that reaches the guest later than that
 * after the frame itself is delivered twice. */
#define REPLAY_WINDOW_MS 2000
#define REPLAY_REFRESH_USEC (500 * USEC_PER_MSEC)
/* Loading the guest's helper takes a TCG guest 100-300 ms (lab), longer
 * than the handover may wait before QEMU ends the first pass by itself: it
 * is asked for when the first pass starts, kept this long by the guest,
 * and asked again every REPLAY_PREPARE_REFRESH_USEC until the handover. */
#define REPLAY_PREPARE_MS 30000
#define REPLAY_PREPARE_REFRESH_USEC (10 * USEC_PER_SEC)
/* How long an answer may take before the port is moved instead. */
#define REPLAY_ASK_TIMEOUT_USEC (500 * USEC_PER_MSEC)

typedef enum ReplayState {
        REPLAY_REFUSED,         /* refused, not answered in time, or never asked: moved at the handover */
        REPLAY_PREPARING,       /* the helper is asked for */
        REPLAY_READY,           /* the guest has it loaded */
        REPLAY_OPENING,         /* the window is asked for, at the handover */
        REPLAY_OPEN,            /* the guest drops the copies: they go to the destination */
} ReplayState;

/* One port's ExpectReplay. */
typedef struct ReplayAsk {
        Migration *mg;
        char mac[18];
        int64_t id;             /* the request that waits for its answer, 0 none */
        ReplayState state;
} ReplayAsk;

struct Migration {
        Job *job;               /* its face on the bus; owns the Migration */
        Domain *domain;
        unsigned progress;
        /* what was asked (MigrateRequest) */
        char *destination;
        char *destination_bus;
        char *migrate_uri;
        char *listen_address;
        uint64_t bandwidth;
        bool live, p2p, persistent, undefine_source, resume, managed_switchover, postcopy;
        usec_t timeout;
        bool cancel_requested;
        bool finished;          /* migration_finished() ran */
        /* the child jobs that detach the VFs before, or attach them again after a failure */
        unsigned children;
        char *child_error;      /* the first child's failure */
        /* the helper process that makes libvirt's blocking call */
        pid_t helper_pid;
        sd_event_source *helper_child;
        sd_event_source *helper_io;
        int helper_fd;
        char helper_out[1024];
        size_t n_helper_out;
        sd_event_source *progress_timer;
        VirtCall *poll_call;    /* job stats */
        VirtCall *knob_call;    /* the maximum downtime */
        uint64_t knob_ms;       /* what knob_call sets */
        uint64_t last_remaining; /* bytes left at the previous progress poll (0: none yet) */
        usec_t last_poll;       /* CLOCK_MONOTONIC of that poll */
        uint64_t last_elapsed_ms; /* QEMU's time of that poll */
        double max_rate;        /* the fastest the bytes left went down, per µs */
        /* the destination's vfod, and the handover of the traffic to it */
        sd_bus *dest_bus;
        sd_bus_slot *dest_slot;
        int handover;           /* 0 not yet, 1 asked, 2 done (QEMU switches over), -1 not possible */
        bool downtime_held;     /* QEMU's own switchover held off until the handover */
        bool dest_old;          /* the destination knows no HandoverEx */
        bool prepare_asked;     /* HandoverEx(prepare) was sent (once) */
        sd_bus_slot *prepare_slot;
        usec_t handover_usec;   /* CLOCK_MONOTONIC of handover_start() */
        bool source_paused;     /* QEMU stopped the domain here (migration_source_paused()) */
        ReplayAsk *replay;      /* the ports whose guest is asked to expect the copies, one each */
        size_t n_replay;
        usec_t replay_sent;     /* CLOCK_MONOTONIC of the last ExpectReplay */
};

static void migrate_step(Migration *mg);
static void handover_start(Migration *mg);
static void prepare_start(Migration *mg);
static void replay_forget(Migration *mg);
static void replay_close(Migration *mg);
static void replay_prepare(Migration *mg);
static unsigned forward_hand_over(Migration *mg);

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

Migration *migration_from_job(const Job *j) {
        return j && j->kind == JOB_MIGRATE ? j->data : NULL;
}

Job *migration_get_job(const Migration *mg) {
        return mg->job;
}

const char *migration_destination(const Migration *mg) {
        return mg->destination;
}

/* The migration ended: it lets go of the helper, the polls, the
 * destination's bus, and of its domain. */
static void migration_finished(Job *j) {
        Migration *mg = j->data;

        if (mg->finished)
                return;
        mg->finished = true;
        mg->poll_call = virt_call_cancel(mg->poll_call);
        mg->knob_call = virt_call_cancel(mg->knob_call);
        mg->progress_timer = sd_event_source_disable_unref(mg->progress_timer);
        mg->helper_io = sd_event_source_disable_unref(mg->helper_io);
        mg->helper_child = sd_event_source_disable_unref(mg->helper_child);
        if (mg->helper_fd >= 0)
                close(mg->helper_fd);
        mg->helper_fd = -1;
        mg->dest_slot = sd_bus_slot_unref(mg->dest_slot);
        mg->prepare_slot = sd_bus_slot_unref(mg->prepare_slot);
        mg->dest_bus = sd_bus_flush_close_unref(mg->dest_bus);
        /* done, and no pause event was seen: what still comes for the
         * domain goes into the tunnels alone (its tap goes with it) */
        if (j->state == JOB_DONE && mg->handover > 0 && !mg->source_paused) {
                mg->source_paused = true;
                (void) forward_hand_over(mg);
        }
        replay_forget(mg);
        forward_outgoing_end(j->manager, j->domain->uuid, j->state == JOB_DONE);
        /* children of a migration outlive it only when it failed early */
        job_forget_done(j->manager, mg);
        if (mg->domain && mg->domain->migration == mg) {
                mg->domain->migration = NULL;
                ports_set_migrating(mg->domain, false);
        }
}

static void migration_free(void *data) {
        Migration *mg = data;

        if (!mg)
                return;
        migration_finished(mg->job);
        free(mg->destination);
        free(mg->destination_bus);
        free(mg->migrate_uri);
        free(mg->listen_address);
        free(mg->child_error);
        free(mg);
}

static unsigned migration_progress(const Job *j) {
        return ((const Migration *) j->data)->progress;
}

/* ------------------------------------------------------------- rollback */

static void on_child_done(Job *child, void *userdata);

static void migration_rollback(Job *j) {
        Migration *mg = j->data;
        Manager *m = j->manager;
        Domain *d = j->domain;

        mg->progress_timer = sd_event_source_disable_unref(mg->progress_timer);
        ports_set_migrating(d, false);
        if (mg->handover > 0 && !d->gone) {
                /* The destination took the traffic, the migration failed
                 * (libvirt resumes a source QEMU had paused): back here. */
                Pool *pool = manager_pool_for(m, d);
                for (size_t i = 0; pool && i < d->n_ports; i++)
                        (void) pool_steer_in(pool, NULL, d->ports[i], VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
                forward_outgoing_end(m, d->uuid, false);
                mg->handover = 0;
        }
        /* the guest drops nothing more, and lets a helper readied for it go */
        replay_close(mg);
        if (d->state == VIRT_DOMAIN_RUNNING && !d->gone)
                for (size_t i = 0; i < m->n_pools; i++)
                        for (size_t k = 0; k < m->pools[i]->n_vfs; k++) {
                                Vf *vf = m->pools[i]->vfs[k];
                                Port *p = vf->reserved_for;
                                Job *child = NULL;

                                /* a drained pool gives nothing back: the port stays synthetic */
                                if (!p || p->domain != d || vf->state != VF_FREE || p->vf || p->job ||
                                    vf->pool->drained)
                                        continue;
                                if (job_start(m, JOB_ATTACH, JOB_REASON_MIGRATE, p, vf, &child) < 0)
                                        continue;
                                job_on_done(child, on_child_done, mg);
                                mg->children++;
                        }
        if (mg->children == 0) {
                clear_reservations(d);
                job_finish(j, JOB_FAILED);
        }
        /* else on_child_done() finishes it */
}

/* ------------------------------------------------------------- children */

static void on_child_done(Job *child, void *userdata) {
        Migration *mg = userdata;
        Job *j = mg->job;

        if (mg->children > 0)
                mg->children--;
        if (child->state == JOB_FAILED && !mg->child_error)
                mg->child_error = strdup(child->error_message ?: "a child job failed");
        if (mg->children > 0 || j->state != JOB_RUNNING)
                return;

        if (j->phase == JOB_PHASE_ROLLING_BACK) {
                char *msg = NULL;

                if (asprintf(&msg, "%s; %s", j->error_message ?: "migration failed",
                             mg->child_error ? "re-attaching the VFs on the source failed too" :
                                              "the VFs are back on the source") >= 0) {
                        free(j->error_message);
                        j->error_message = msg;
                }
                clear_reservations(j->domain);
                job_finish(j, JOB_FAILED);
                return;
        }
        if (mg->child_error) {
                job_fail(j, VFO_ERROR_UNPLUG_FAILED, "Detaching the VFs before the migration failed: %s",
                         mg->child_error);
                return;
        }
        if (mg->cancel_requested) {
                job_fail(j, VFO_ERROR_CANCELLED, "Cancelled before the migration started");
                return;
        }
        job_advance(j);
        migrate_step(mg);
}

/* ------------------------------------------------------- helper process */

/* Time for the handover: the first pass over guest memory ends within
 * HANDOVER_LEAD_USEC at the fastest rate seen so far, or is over
 * (memory_iteration counts from 1), or little is left. With a maximum
 * downtime of 0, QEMU 7.2 switches over at the end of the first pass
 * whatever is dirty (it never syncs the dirty bitmap before): the source
 * must have drained its tap by then, so the handover comes before the end,
 * not at it. The fastest rate, not the last: the pass crosses zero pages
 * (free guest memory) far faster than pages with data, and a guest that
 * has much of it can finish the pass within one poll (lab: 350 MB of
 * 537 MB left, then none 50 ms later). */
static bool handover_due(Migration *mg, const VirtJobStats *st) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (st->memory_iteration >= 2 || st->data_remaining <= HANDOVER_REMAINING)
                return true;
        if (mg->last_remaining > st->data_remaining && now > mg->last_poll) {
                /* QEMU's own clock when it has one: an answer may come late */
                usec_t dt = st->time_elapsed_ms > mg->last_elapsed_ms
                                    ? (st->time_elapsed_ms - mg->last_elapsed_ms) * USEC_PER_MSEC
                                    : now - mg->last_poll;
                double rate = (double) (mg->last_remaining - st->data_remaining) / (double) dt;

                mg->max_rate = MAX(mg->max_rate, rate);
        }
        return mg->max_rate > 0 && (double) st->data_remaining / mg->max_rate <= (double) HANDOVER_LEAD_USEC;
}

static void on_downtime_set(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Migration *mg = userdata;
        Job *j = mg->job;

        mg->knob_call = NULL;
        if (r < 0) {
                log_job_warning_errno(j, r, "Job %" PRIu64 ": cannot set the maximum downtime of %s to %" PRIu64 " ms: %m",
                                  j->id, j->domain->name, mg->knob_ms);
                return;
        }
        /* 0 holds QEMU's own switchover back until the handover */
        mg->downtime_held = mg->knob_ms == HOLD_DOWNTIME_MS;
}

/* QEMU's downtime limit, off the loop; a newer value replaces one not sent yet. */
static void set_downtime(Migration *mg, uint64_t ms) {
        Job *j = mg->job;
        int r;

        mg->knob_call = virt_call_cancel(mg->knob_call);
        mg->knob_ms = ms;
        r = virt_call(j->manager->virt,
                      &(VirtRequest) { .op = VIRT_OP_SET_MAX_DOWNTIME, .uuid = j->domain->uuid, .ms = ms },
                      j->manager->config->libvirt_timeout, on_downtime_set, mg, &mg->knob_call);
        if (r < 0)
                log_job_warning_errno(j, r, "Job %" PRIu64 ": cannot set the maximum downtime of %s: %m", j->id,
                                  j->domain->name);
}

static void replay_refresh(Migration *mg);

static void on_job_stats(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Migration *mg = userdata;
        Job *j = mg->job;

        mg->poll_call = NULL;
        if (r < 0 || !st || st->data_total == 0 || j->state != JOB_RUNNING || j->phase != JOB_PHASE_MIGRATING)
                return;
        log_job_debug(j, "Job %" PRIu64 ": migration %" PRIu64 "/%" PRIu64 " bytes, %" PRIu64 " left, pass %" PRIu64
                  ", at %" PRIu64 " ms, %" PRIu64 " B/s.",
                  j->id, st->data_processed, st->data_total, st->data_remaining, st->memory_iteration,
                  st->time_elapsed_ms, st->memory_bps);
        if (mg->handover == 0 && mg->managed_switchover && mg->dest_bus && !mg->downtime_held && !mg->knob_call)
                set_downtime(mg, HOLD_DOWNTIME_MS);
        if (!mg->prepare_asked && mg->managed_switchover && mg->dest_bus)
                prepare_start(mg);
        if (mg->handover == 0 && mg->downtime_held && handover_due(mg, st))
                handover_start(mg);
        replay_refresh(mg);
        mg->last_remaining = st->data_remaining;
        mg->last_poll = now_usec(CLOCK_MONOTONIC);
        mg->last_elapsed_ms = st->time_elapsed_ms;
        if (mg->handover < 0 && mg->downtime_held && !mg->knob_call)
                set_downtime(mg, DEFAULT_DOWNTIME_MS);   /* no handover after all: QEMU's own switchover */
        unsigned p = 20 + (unsigned) (75 * MIN(st->data_processed, st->data_total) / st->data_total);
        if (p != mg->progress) {
                mg->progress = p;
                bus_emit_changed(j->manager, j->path, VFO_JOB_IFACE, "Progress", NULL);
        }
}

static int on_progress(sd_event_source *s, uint64_t usec, void *userdata) {
        Migration *mg = userdata;
        Job *j = mg->job;

        if (mg->timeout > 0 && manager_now(j->manager) - j->step_start >= mg->timeout && !mg->cancel_requested) {
                log_job_warning(j, "Job %" PRIu64 ": migration of %s still running after %.0f s: aborting it.", j->id,
                            j->domain->name, (double) mg->timeout / USEC_PER_SEC);
                mg->cancel_requested = true;
                free(j->fallback);
                j->fallback = strdup("timeout");
                (void) virt_call(j->manager->virt, &(VirtRequest) { .op = VIRT_OP_ABORT_JOB, .uuid = j->domain->uuid },
                                 j->manager->config->libvirt_timeout, NULL, NULL, NULL);
        }
        /* one poll at a time: a slow answer skips ticks */
        if (!mg->poll_call)
                (void) virt_call(j->manager->virt, &(VirtRequest) { .op = VIRT_OP_GET_JOB_STATS, .uuid = j->domain->uuid },
                                 LIBVIRT_POLL_TIMEOUT_USEC, on_job_stats, mg, &mg->poll_call);
        /* while a handover may come due, often: the end of the first pass
         * can come within one ordinary interval */
        (void) sd_event_source_set_time_relative(s, mg->downtime_held && mg->handover == 0 ? HANDOVER_POLL_USEC
                                                                                          : PROGRESS_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_helper_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Migration *mg = userdata;
        ssize_t k;

        k = read(fd, mg->helper_out + mg->n_helper_out, sizeof(mg->helper_out) - 1 - mg->n_helper_out);
        if (k > 0) {
                mg->n_helper_out += (size_t) k;
                mg->helper_out[mg->n_helper_out] = 0;
        }
        if (k <= 0 || mg->n_helper_out >= sizeof(mg->helper_out) - 1)
                mg->helper_io = sd_event_source_disable_unref(mg->helper_io);
        return 0;
}

static int on_helper_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Migration *mg = userdata;
        Job *j = mg->job;
        Domain *d = j->domain;
        bool ok = si->si_code == CLD_EXITED && si->si_status == 0;
        usec_t took = now_usec(CLOCK_MONOTONIC) - j->step_start;

        /* the rest of its output */
        while (mg->helper_io && on_helper_output(NULL, mg->helper_fd, EPOLLIN, mg) >= 0 && mg->helper_io)
                ;
        mg->helper_child = sd_event_source_disable_unref(mg->helper_child);
        mg->helper_pid = 0;
        mg->progress_timer = sd_event_source_disable_unref(mg->progress_timer);
        j->libvirt_usec += took;

        if (!ok) {
                char *nl = strchr(mg->helper_out, '\n');
                if (nl)
                        *nl = 0;
                job_fail(j, mg->cancel_requested && !j->fallback ? VFO_ERROR_CANCELLED : VFO_ERROR_LIBVIRT, "%s%s",
                         mg->cancel_requested && !j->fallback ? "cancelled: " :
                                                   j->fallback ? "timed out: " : "",
                         mg->helper_out[0] ? mg->helper_out : "the migration helper failed");
                return 0;
        }
        log_job_info(j, "Job %" PRIu64 ": %s migrated to %s in %.1f s.", j->id, d->name, mg->destination,
                 (double) took / USEC_PER_SEC);
        free(j->fallback);
        j->fallback = NULL;
        clear_reservations(d);
        (void) domain_refresh(d);       /* gone or shut off here now: its devices went with it */
        mg->progress = 100;
        job_advance(j);
        job_finish(j, JOB_DONE);
        return 0;
}

static int spawn_helper(Migration *mg) {
        Job *j = mg->job;
        Manager *m = j->manager;
        char bw[32];
        int pipefd[2];
        pid_t pid;
        int r;

        snprintf(bw, sizeof(bw), "%" PRIu64, mg->bandwidth);
        const char *argv[] = {
                "vfod", "--migrate-helper",
                virt_get_uri(m->virt) ?: "", j->domain->uuid, mg->destination,
                mg->live ? "live" : "offline",
                mg->p2p ? "p2p" : "direct",
                mg->persistent ? "persistent" : "-",
                mg->undefine_source ? "undefine-source" : "-",
                mg->migrate_uri ?: "-", mg->listen_address ?: "-", bw,
                mg->postcopy ? "postcopy" : "-",
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
        mg->helper_fd = pipefd[0];
        mg->helper_pid = pid;
        mg->n_helper_out = 0;
        mg->helper_out[0] = 0;
        r = sd_event_add_io(m->event, &mg->helper_io, mg->helper_fd, EPOLLIN, on_helper_output, mg);
        if (r < 0)
                return r;
        r = sd_event_add_child(m->event, &mg->helper_child, pid, WEXITED, on_helper_exit, mg);
        if (r < 0)
                return r;
        return sd_event_add_time_relative(m->event, &mg->progress_timer, CLOCK_MONOTONIC, PROGRESS_INTERVAL_USEC,
                                          50 * USEC_PER_MSEC, on_progress, mg);
}

/* ---------------------------------------------------- destination claim */

static int on_destination_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Migration *mg = userdata;
        Job *j = mg->job;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *msg = NULL;
        int ok = 0, r;

        mg->dest_slot = sd_bus_slot_unref(mg->dest_slot);
        j->agent_usec += now_usec(CLOCK_MONOTONIC) - j->step_start;
        if (e) {
                log_job_warning(j, "Job %" PRIu64 ": the destination's vfod did not claim VFs (%s: %s); its libvirt hook will.",
                            j->id, e->name, e->message);
                free(j->fallback);
                if (asprintf(&j->fallback, "destination vfod not asked (%s); its hook claims VFs", e->message) < 0)
                        j->fallback = NULL;
        } else {
                r = sd_bus_message_read(reply, "bs", &ok, &msg);
                if (r >= 0 && !ok) {
                        job_fail(j, VFO_ERROR_NO_VF_FREE, "The destination refuses: %s Nothing was unplugged.",
                                 msg ?: "");
                        return 0;
                }
                log_job_info(j, "Job %" PRIu64 ": the destination claimed VFs: %s", j->id, msg ?: "");
        }
        job_advance(j);
        migrate_step(mg);
        return 0;
}

/* ------------------------------------------------------------- handover */

static void on_postcopy_started(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Migration *mg = userdata;
        Job *j = mg->job;

        mg->knob_call = NULL;
        if (r >= 0)
                return;
        log_job_warning_errno(j, r, "Job %" PRIu64 ": cannot switch the migration of %s to post-copy; QEMU switches "
                              "over at its next bandwidth measurement instead: %m", j->id, j->domain->name);
        set_downtime(mg, SWITCHOVER_DOWNTIME_MS);
}

/* Frames go to the destination now: QEMU may switch over. A downtime it
 * meets at once makes it stop the source and complete at its next check.
 * QEMU 7.2 takes a new limit into account only when it next measures its
 * bandwidth (every 100 ms), and goes on reading the source's taps until it
 * stops: what was queued for the domain here before the handover reaches
 * it in that time, at least the knob's own latency. Waiting a fixed time
 * before the knob, as vfod did (50 ms), only lengthened the hold; a tap's
 * queue cannot be counted (libvirt gives taps no qdisc). Pausing the
 * domain through libvirt instead was followed by a hang of the destination
 * guest in virtio-net in 2 of about 14 lab runs. With 'postcopy' QEMU
 * switches over at the next step of its migration thread instead, not at
 * its next bandwidth measurement: the wait for that one (0-100 ms, at
 * random against the handover) is what the knob adds to the hold. */
static void handover_switchover(Migration *mg) {
        Job *j = mg->job;
        int r;

        if (mg->handover == 2 || j->state != JOB_RUNNING || j->phase != JOB_PHASE_MIGRATING || mg->helper_pid <= 0)
                return;
        mg->handover = 2;
        if (mg->postcopy) {
                mg->knob_call = virt_call_cancel(mg->knob_call);
                r = virt_call(j->manager->virt,
                              &(VirtRequest) { .op = VIRT_OP_START_POSTCOPY, .uuid = j->domain->uuid },
                              j->manager->config->libvirt_timeout, on_postcopy_started, mg, &mg->knob_call);
                if (r >= 0) {
                        log_job_info(j, "Job %" PRIu64 ": the destination holds %s's traffic; QEMU switches over "
                                     "in post-copy.", j->id, j->domain->name);
                        return;
                }
                log_job_warning_errno(j, r, "Job %" PRIu64 ": cannot ask for post-copy: %m", j->id);
        }
        set_downtime(mg, SWITCHOVER_DOWNTIME_MS);
        log_job_info(j, "Job %" PRIu64 ": the destination holds %s's traffic; QEMU switches over.", j->id, j->domain->name);
}

/* The destination's forwarding tunnels ('reply' at HandoverEx's dictionary):
 * this host opens its end of each that it has not yet, not steered. */
static void forward_from_reply(Migration *mg, sd_bus_message *reply) {
        Job *j = mg->job;
        Manager *m = j->manager;
        Pool *pool = manager_pool_for(m, j->domain);
        const char *address = NULL, *key, *mac;
        uint16_t udp_port = 0;
        uint32_t vni;
        int r;

        /* "address" and "port" first: the tunnels need them */
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r > 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *contents;
                char type;

                r = sd_bus_message_read(reply, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(reply, &type, &contents);
                if (r < 0)
                        break;
                if (streq(key, "address") && streq(contents, "s"))
                        r = sd_bus_message_read(reply, "v", "s", &address);
                else if (streq(key, "port") && streq(contents, "q"))
                        r = sd_bus_message_read(reply, "v", "q", &udp_port);
                else if (streq(key, "tunnels") && streq(contents, "a(su)") && address && pool) {
                        r = sd_bus_message_enter_container(reply, 'v', "a(su)");
                        if (r >= 0)
                                r = sd_bus_message_enter_container(reply, 'a', "(su)");
                        while (r >= 0 && (r = sd_bus_message_read(reply, "(su)", &mac, &vni)) > 0) {
                                Port *port = domain_find_port(j->domain, mac);

                                if (port && !forward_find(m, j->domain->uuid, port->mac, false))
                                        (void) forward_open_outgoing(m, pool, port, address, vni, udp_port, NULL);
                        }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = 1;
        }
        if (r < 0)
                log_job_warning_errno(j, r, "Job %" PRIu64 ": cannot read the destination's forwarding tunnels: %m", j->id);
}

static ReplayAsk *replay_find(Migration *mg, const char *mac) {
        for (size_t i = 0; i < mg->n_replay; i++)
                if (streq(mg->replay[i].mac, mac))
                        return &mg->replay[i];
        return NULL;
}

/* Ports whose guest has not answered the window yet. */
static unsigned replay_opening(const Migration *mg) {
        unsigned n = 0;

        for (size_t i = 0; i < mg->n_replay; i++)
                n += mg->replay[i].state == REPLAY_OPENING;
        return n;
}

/* Every port with this host's end of a tunnel: its frames go there from now
 * on, copied (this host goes on delivering them to the domain until it
 * paused; the guest drops the copies of what it took) or moved (the MAC is
 * pinned to the tunnel). A port whose guest has not answered the window yet
 * waits. How many ports go there now. */
static unsigned forward_hand_over(Migration *mg) {
        Domain *d = mg->job->domain;
        unsigned n = 0;

        for (size_t i = 0; i < d->n_ports; i++) {
                Port *port = d->ports[i];
                Forward *fw = forward_find(d->manager, d->uuid, port->mac, false);
                ReplayAsk *ra = replay_find(mg, port->mac);
                ReplayState st = ra ? ra->state : REPLAY_REFUSED;

                if (!fw || (st == REPLAY_OPENING && !mg->source_paused))
                        continue;
                if (st == REPLAY_OPEN && !mg->source_paused && forward_mirror(fw, port->synthetic_tap) >= 0)
                        n++;
                else if (forward_steer(fw) >= 0)
                        n++;
        }
        return n;
}

static void on_replay_refreshed(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
}

static void handover_switchover(Migration *mg);

static void on_replay_reply(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
        ReplayAsk *ra = userdata;
        Migration *mg = ra->mg;
        Job *j = mg->job;
        bool ok = error == 0 && reply->body_case == VFO__ENVELOPE__BODY_REPLAY_EXPECTED;
        ReplayState was = ra->state;

        ra->id = 0;
        if (was != REPLAY_PREPARING && was != REPLAY_OPENING)
                return;         /* let go of meanwhile */
        ra->state = !ok ? REPLAY_REFUSED : was == REPLAY_PREPARING ? REPLAY_READY : REPLAY_OPEN;
        if (!ok)
                log_job_info(j, "Job %" PRIu64 ": the guest of %s does not drop replayed frames on %s (%s); its "
                             "frames are moved to the destination at the handover.", j->id, j->domain->name,
                             ra->mac, error == -EREMOTEIO ? reply->error->message : strerror(-error));
        if (was != REPLAY_OPENING || replay_opening(mg) > 0 || mg->handover <= 0 || j->state != JOB_RUNNING ||
            j->phase != JOB_PHASE_MIGRATING)
                return;
        log_job_debug(j, "Job %" PRIu64 ": the guest of %s answered the replay window %.1f ms after the handover.",
                      j->id, j->domain->name, (double) (now_usec(CLOCK_MONOTONIC) - mg->handover_usec) / USEC_PER_MSEC);
        if (forward_hand_over(mg) > 0)
                handover_switchover(mg);
}

/* ExpectReplay to every port in 'from', which is then in 'to' (with 'fn'
 * till the answer; without, nothing waits for it). */
static void replay_send(Migration *mg, ReplayState from, ReplayState to, uint32_t window_ms, uint32_t prepare_ms,
                        AgentReplyFn fn) {
        Job *j = mg->job;

        for (size_t i = 0; i < mg->n_replay; i++) {
                ReplayAsk *ra = &mg->replay[i];
                Vfo__Envelope e = VFO__ENVELOPE__INIT;
                Vfo__ExpectReplay er = VFO__EXPECT_REPLAY__INIT;
                int64_t id;

                if (ra->state != from)
                        continue;
                er.mac = ra->mac;
                er.window_ms = window_ms;
                er.prepare_ms = prepare_ms;
                e.body_case = VFO__ENVELOPE__BODY_EXPECT_REPLAY;
                e.expect_replay = &er;
                id = agent_conn_request(j->domain->agent, &e, REPLAY_ASK_TIMEOUT_USEC, fn ?: on_replay_refreshed,
                                        fn ? (void *) ra : NULL);
                if (!fn) {
                        ra->state = to;
                        continue;
                }
                ra->state = id > 0 ? to : REPLAY_REFUSED;
                ra->id = MAX(id, 0);
        }
        mg->replay_sent = now_usec(CLOCK_MONOTONIC);
}

/* When the migration starts, right after the detaches (the guest may keep a
 * detach's helper for it): every port whose guest agent can drop replayed
 * frames (protocol 4) is asked to load the helper for it. Only with a
 * tunnel to copy into (ForwardAddress=), and ForwardCopies=yes. */
static void replay_prepare(Migration *mg) {
        Job *j = mg->job;
        Domain *d = j->domain;

        if (mg->replay || !agent_conn_is_synced(d->agent) || agent_conn_get_protocol(d->agent) < VFO_PROTOCOL_REPLAY)
                return;
        mg->replay = calloc(d->n_ports ?: 1, sizeof(ReplayAsk));
        if (!mg->replay)
                return;
        for (size_t i = 0; i < d->n_ports; i++) {
                ReplayAsk *ra = &mg->replay[mg->n_replay];

                if (!d->ports[i]->synthetic_tap[0])
                        continue;
                *ra = (ReplayAsk) { .mg = mg, .state = REPLAY_PREPARING };
                snprintf(ra->mac, sizeof(ra->mac), "%s", d->ports[i]->mac);
                mg->n_replay++;
        }
        replay_send(mg, REPLAY_PREPARING, REPLAY_PREPARING, 0, REPLAY_PREPARE_MS, on_replay_reply);
}

/* At the handover: the window, for every port whose guest has the helper
 * and that has a tunnel; the others are moved. */
static void replay_open(Migration *mg) {
        Domain *d = mg->job->domain;

        /* no tunnel (yet): moved, and the guest lets the helper go */
        for (size_t i = 0; i < mg->n_replay; i++)
                if (mg->replay[i].state == REPLAY_READY && !forward_find(d->manager, d->uuid, mg->replay[i].mac, false))
                        mg->replay[i].state = REPLAY_PREPARING;
        replay_send(mg, REPLAY_PREPARING, REPLAY_REFUSED, 0, 0, NULL);
        replay_send(mg, REPLAY_READY, REPLAY_OPENING, REPLAY_WINDOW_MS, 0, on_replay_reply);
}

/* Before the handover, the helper again; after it, while the copies go on
 * and the domain runs here, the window again. */
static void replay_refresh(Migration *mg) {
        usec_t since = now_usec(CLOCK_MONOTONIC) - mg->replay_sent;

        if (mg->n_replay == 0 || mg->source_paused)
                return;
        if (mg->handover == 0 && since >= REPLAY_PREPARE_REFRESH_USEC)
                replay_send(mg, REPLAY_READY, REPLAY_READY, 0, REPLAY_PREPARE_MS, NULL);
        else if (mg->handover > 0 && since >= REPLAY_REFRESH_USEC)
                replay_send(mg, REPLAY_OPEN, REPLAY_OPEN, REPLAY_WINDOW_MS, 0, NULL);
}

/* The domain runs here again (a failed migration): the guest stops dropping
 * and lets the helper go. */
static void replay_close(Migration *mg) {
        for (size_t i = 0; i < mg->n_replay; i++)
                if (mg->replay[i].state != REPLAY_REFUSED)
                        mg->replay[i].state = REPLAY_READY;     /* asked at least: it may have it */
        replay_send(mg, REPLAY_READY, REPLAY_READY, 0, 0, NULL);
        replay_forget(mg);
}

static void replay_forget(Migration *mg) {
        Domain *d = mg->job->domain;

        for (size_t i = 0; i < mg->n_replay; i++)
                if (mg->replay[i].id > 0)
                        agent_conn_cancel(d->agent, mg->replay[i].id);
        mg->replay = mfree(mg->replay);
        mg->n_replay = 0;
}

static bool is_unknown_method(const sd_bus_error *e) {
        return e && sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD);
}

static int on_prepare_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Migration *mg = userdata;
        Job *j = mg->job;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t ports = 0;
        unsigned n = 0;

        mg->prepare_slot = sd_bus_slot_unref(mg->prepare_slot);
        if (is_unknown_method(e)) {
                mg->dest_old = true;    /* older than HandoverEx: Handover at the handover */
                return 0;
        }
        if (e) {
                log_job_warning(j, "Job %" PRIu64 ": the destination cannot ready its taps (%s); it will at the handover.",
                            j->id, e->message);
                return 0;
        }
        if (sd_bus_message_read(reply, "u", &ports) < 0)
                return 0;
        forward_from_reply(mg, reply);
        for (size_t i = 0; i < j->domain->n_ports; i++)
                n += forward_find(j->manager, j->domain->uuid, j->domain->ports[i]->mac, false) != NULL;
        log_job_info(j, "Job %" PRIu64 ": the destination readied %" PRIu32 " port(s) of %s; %u forwarding tunnel(s) open.",
                 j->id, ports, j->domain->name, n);
        /* a handover that came meanwhile: into the tunnels now */
        if (mg->handover > 0 && forward_hand_over(mg) > 0 && replay_opening(mg) == 0)
                handover_switchover(mg);
        return 0;
}

/* While the first pass runs: the destination readies the taps (a longer
 * queue, the placeholder frame) and opens its ends of the tunnels, so that
 * the handover itself is one FDB entry on each side. */
static void prepare_start(Migration *mg) {
        Job *j = mg->job;
        const char *from = j->manager->config->forward_address;
        int r;

        /* ends of an earlier migration of this domain from here: done */
        forward_outgoing_end(j->manager, j->domain->uuid, false);

        if (from)
                r = sd_bus_call_method_async(mg->dest_bus, &mg->prepare_slot, VFO_SERVICE, VFO_PATH,
                                             VFO_MANAGER_IFACE, "HandoverEx", on_prepare_reply, mg, "sa{sv}",
                                             j->domain->uuid, 2, "prepare", "b", true, "forward-from", "s", from);
        else
                r = sd_bus_call_method_async(mg->dest_bus, &mg->prepare_slot, VFO_SERVICE, VFO_PATH,
                                             VFO_MANAGER_IFACE, "HandoverEx", on_prepare_reply, mg, "sa{sv}",
                                             j->domain->uuid, 1, "prepare", "b", true);
        mg->prepare_asked = true;      /* failed or not: the handover asks again */
        if (r < 0)
                log_job_warning_errno(j, r, "Job %" PRIu64 ": cannot ask the destination to ready its taps: %m", j->id);
}

static void handover_call(Migration *mg);

static int on_handover_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Migration *mg = userdata;
        Job *j = mg->job;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t ports = 0;
        int r;

        mg->dest_slot = sd_bus_slot_unref(mg->dest_slot);
        if (is_unknown_method(e) && !mg->dest_old) {
                mg->dest_old = true;    /* older than HandoverEx */
                handover_call(mg);
                return 0;
        }
        if (e || sd_bus_message_read(reply, "u", &ports) < 0 || ports == 0) {
                if (mg->handover == 2) {
                        /* the tunnels deliver into its taps all the same */
                        log_job_warning(j, "Job %" PRIu64 ": the destination did not steer its bridge (%s); the forwarding tunnels carry %s's traffic.",
                                    j->id, e ? e->message : "no tap", j->domain->name);
                        return 0;
                }
                log_job_warning(j, "Job %" PRIu64 ": the destination did not take the traffic over (%s); QEMU switches over by itself.",
                            j->id, e ? e->message : "it has no tap to take the traffic in");
                mg->handover = -1;
                return 0;
        }
        if (!mg->dest_old) {
                forward_from_reply(mg, reply);
                r = forward_hand_over(mg);
                if (r == 0 && replay_opening(mg) == 0 && j->manager->config->forward_address)
                        log_job_info(j, "Job %" PRIu64 ": no forwarding tunnel; frames that reach this host after QEMU stopped %s here are lost until the network learns where it runs.",
                                 j->id, j->domain->name);
        }
        /* a guest that has not answered the window yet: its answer switches over */
        if (replay_opening(mg) == 0)
                handover_switchover(mg);
        return 0;
}

static void handover_call(Migration *mg) {
        Job *j = mg->job;
        const char *from = j->manager->config->forward_address;
        int r;

        if (mg->dest_old)
                r = sd_bus_call_method_async(mg->dest_bus, &mg->dest_slot, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE,
                                             "Handover", on_handover_reply, mg, "s", j->domain->uuid);
        else if (from)
                r = sd_bus_call_method_async(mg->dest_bus, &mg->dest_slot, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE,
                                             "HandoverEx", on_handover_reply, mg, "sa{sv}", j->domain->uuid, 1,
                                             "forward-from", "s", from);
        else
                r = sd_bus_call_method_async(mg->dest_bus, &mg->dest_slot, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE,
                                             "HandoverEx", on_handover_reply, mg, "sa{sv}", j->domain->uuid, 0);
        if (r < 0 && mg->handover != 2)
                mg->handover = -1;
}

/* The first pass over guest memory is about to end: what is left is small.
 * Frames to the domain go into the tunnels the destination readied, at
 * once; the destination steers its own bridge to its taps too (and opens
 * the tunnels if it had not), where frames wait until the domain runs
 * there; then QEMU may switch over. */
static void handover_start(Migration *mg) {
        Job *j = mg->job;

        if (!mg->dest_bus) {
                mg->handover = -1;
                return;
        }
        mg->handover = 1;
        mg->handover_usec = now_usec(CLOCK_MONOTONIC);
        log_job_info(j, "Job %" PRIu64 ": handover of %s's traffic to the destination.", j->id, j->domain->name);
        if (!mg->source_paused)
                replay_open(mg);
        if (replay_opening(mg) == 0 && forward_hand_over(mg) > 0)
                handover_switchover(mg);     /* frames go into the destination's taps already */
        handover_call(mg);
}

void migration_source_paused(Migration *mg) {
        Job *j = mg->job;

        if (j->state != JOB_RUNNING || j->phase != JOB_PHASE_MIGRATING)
                return;
        mg->source_paused = true;
        if (mg->handover > 0) {
                /* how long the source ran after the handover: the knob's
                 * latency and QEMU's next bandwidth measurement */
                log_job_info(j, "Job %" PRIu64 ": QEMU stopped %s %.1f ms after the handover.", j->id, j->domain->name,
                         (double) (now_usec(CLOCK_MONOTONIC) - mg->handover_usec) / USEC_PER_MSEC);
                /* Nothing reads the tap here any more: what arrives for
                 * the domain goes into the tunnels alone (the copies went
                 * there already; pinned, they outlive the tap). A guest
                 * that has not answered ExpectReplay: moved now. */
                if (replay_opening(mg) > 0)
                        log_job_warning(j, "Job %" PRIu64 ": QEMU stopped %s before its guest agent answered the replay window: what waited in its tap here then is lost.",
                                        j->id, j->domain->name);
                (void) forward_hand_over(mg);
                return;
        }
        if (mg->handover != 0 || !mg->managed_switchover || !mg->dest_bus)
                return;
        /* QEMU switched over before the handover was due (nothing was left
         * to copy): what reaches this host from now on goes to the
         * destination at least. */
        log_job_warning(j, "Job %" PRIu64 ": QEMU stopped %s before the handover; handing over now.", j->id,
                    j->domain->name);
        handover_start(mg);
}

/* The destination's bus: the given address, or ssh to the host of a
 * qemu+ssh:// URI (like busctl --host). NULL: not reachable from here. */
static char *destination_bus_address(const Migration *mg) {
        const char *rest, *end;
        char *host, *a = NULL;

        if (mg->destination_bus)
                return strdup(mg->destination_bus);
        rest = startswith(mg->destination, "qemu+ssh://");
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

static int ask_destination(Migration *mg) {
        Job *j = mg->job;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        _cleanup_free_ char *address = destination_bus_address(mg);
        Domain *d = j->domain;
        Pool *pool = manager_pool_for(j->manager, d);
        int r;

        if (!address)
                return 0;       /* the destination's hook claims */
        r = sd_bus_new(&mg->dest_bus);
        if (r >= 0)
                r = sd_bus_set_address(mg->dest_bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(mg->dest_bus, true);
        if (r >= 0)
                r = sd_bus_start(mg->dest_bus);
        if (r >= 0)
                r = sd_bus_attach_event(mg->dest_bus, j->manager->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_message_new_method_call(mg->dest_bus, &msg, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE,
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
                r = sd_bus_call_async(mg->dest_bus, &mg->dest_slot, msg, on_destination_reply, mg,
                                      DESTINATION_TIMEOUT_USEC);
        if (r < 0) {
                log_job_warning_errno(j, r, "Job %" PRIu64 ": cannot reach the destination's vfod at %s: %m", j->id, address);
                mg->dest_bus = sd_bus_flush_close_unref(mg->dest_bus);
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
        Migration *mg = userdata;
        Job *j = mg->job;

        j->virt_call = NULL;
        if (j->state != JOB_RUNNING || j->phase != JOB_PHASE_CHECKING)
                return;
        if (r < 0) {
                job_fail(j, VFO_ERROR_LIBVIRT, "Could not resume %s: %s.", j->domain->name, strerror(-r));
                return;
        }
        domain_set_state(j->domain, VIRT_DOMAIN_RUNNING);
        migrate_step(mg);
}

static void migrate_step(Migration *mg) {
        Job *j = mg->job;
        Manager *m = j->manager;
        Domain *d = j->domain;
        int r;

        switch (j->phase) {
        case JOB_PHASE_CHECKING:
                if (d->state == VIRT_DOMAIN_PAUSED) {
                        if (!mg->resume) {
                                job_fail(j, VFO_ERROR_PAUSED,
                                         "%s is paused; a paused guest cannot finish an unplug, so nothing was done. Resume it, or migrate with --resume.",
                                         d->name);
                                return;
                        }
                        if (j->virt_call)
                                return;         /* on_resumed() */
                        r = virt_call(m->virt, &(VirtRequest) { .op = VIRT_OP_RESUME, .uuid = d->uuid },
                                      m->config->libvirt_timeout, on_resumed, mg, &j->virt_call);
                        if (r < 0)
                                job_fail(j, VFO_ERROR_LIBVIRT, "Could not resume %s: %s.", d->name, strerror(-r));
                        return;
                }
                if (d->state != VIRT_DOMAIN_RUNNING) {
                        job_fail(j, VFO_ERROR_NOT_RUNNING, "%s is not running.", d->name);
                        return;
                }
                for (size_t i = 0; i < d->n_ports; i++)
                        if (d->ports[i]->job) {
                                job_fail(j, VFO_ERROR_BUSY, "Job %" PRIu64 " runs on %s of %s; wait for it.",
                                         d->ports[i]->job->id, d->ports[i]->mac, d->name);
                                return;
                        }
                ports_set_migrating(d, true);
                job_advance(j);
                mg->progress = 2;
                if (ask_destination(mg) > 0)
                        return;
                job_advance(j);
                __attribute__((fallthrough));
        case JOB_PHASE_DETACHING:
                mg->progress = 5;
                for (size_t i = 0; i < d->n_ports; i++) {
                        Port *p = d->ports[i];
                        Job *child = NULL;

                        if (!p->vf)
                                continue;
                        vf_reserve(p->vf, p);
                        r = job_start(m, JOB_DETACH, JOB_REASON_MIGRATE, p, NULL, &child);
                        if (r < 0) {
                                job_fail(j, VFO_ERROR_BUSY, "Cannot detach the VF of %s: %s.", p->mac, strerror(-r));
                                return;
                        }
                        job_on_done(child, on_child_done, mg);
                        mg->children++;
                }
                if (mg->children > 0)
                        return;         /* on_child_done() */
                job_advance(j);
                __attribute__((fallthrough));
        case JOB_PHASE_MIGRATING:
                mg->progress = 20;
                if (mg->cancel_requested) {
                        job_fail(j, VFO_ERROR_CANCELLED, "Cancelled before the migration started");
                        return;
                }
                /* No pin may hold the ports' frames here once the domain
                 * runs elsewhere: the bridge learns from its announcements. */
                {
                        Pool *pool = manager_pool_for(m, d);
                        for (size_t i = 0; pool && i < d->n_ports; i++)
                                (void) pool_steer_in(pool, NULL, d->ports[i], VFO__PATH_KIND__PATH_KIND_UNSPECIFIED);
                }
                /* the guest readies its helper while the first pass runs */
                if (mg->managed_switchover && mg->dest_bus && m->config->forward_address && m->config->forward_copies)
                        replay_prepare(mg);
                r = spawn_helper(mg);
                if (r < 0)
                        job_fail(j, VFO_ERROR_LIBVIRT, "Cannot start the migration: %s.", strerror(-r));
                return;
        default:
                return;
        }
}

static void migration_start_step(Job *j) {
        migrate_step(j->data);
}

static int migration_cancel(Job *j) {
        Migration *mg = j->data;

        if (j->state != JOB_RUNNING)
                return -EINVAL;
        if (mg->cancel_requested)
                return 0;
        mg->cancel_requested = true;
        log_job_info(j, "Job %" PRIu64 ": cancelling the migration of %s (phase %s).", j->id, j->domain->name,
                 job_phase_to_string(j->phase));
        if (j->phase == JOB_PHASE_MIGRATING && mg->helper_pid > 0)
                return virt_call(j->manager->virt, &(VirtRequest) { .op = VIRT_OP_ABORT_JOB, .uuid = j->domain->uuid },
                                 j->manager->config->libvirt_timeout, NULL, NULL, NULL);
        if (j->phase == JOB_PHASE_CLAIMING_DESTINATION || j->phase == JOB_PHASE_CHECKING)
                job_fail(j, VFO_ERROR_CANCELLED, "Cancelled before anything was unplugged");
        return 0;       /* detaching: checked when the detaches end */
}

static const JobOps migration_ops = {
        .start = migration_start_step,
        .rollback = migration_rollback,
        .finished = migration_finished,
        .free_data = migration_free,
        .progress = migration_progress,
        .cancel = migration_cancel,
};

static int dup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (isempty(s))
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int migration_start(Manager *m, Domain *d, const MigrateRequest *req, Job **ret) {
        Migration *mg;
        Job *j;
        int r;

        if (d->migration)
                return -EBUSY;
        mg = calloc(1, sizeof(*mg));
        if (!mg)
                return -ENOMEM;
        mg->domain = d;
        mg->helper_fd = -1;
        mg->live = req->live;
        mg->p2p = req->p2p;
        mg->persistent = req->persistent;
        mg->undefine_source = req->undefine_source;
        mg->resume = req->resume;
        mg->managed_switchover = req->managed_switchover;
        mg->postcopy = req->postcopy;
        mg->bandwidth = req->bandwidth;
        mg->timeout = req->timeout;
        if (dup_or_null(req->destination, &mg->destination) < 0 || !mg->destination ||
            dup_or_null(req->destination_bus, &mg->destination_bus) < 0 ||
            dup_or_null(req->migrate_uri, &mg->migrate_uri) < 0 ||
            dup_or_null(req->listen_address, &mg->listen_address) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        r = job_new(m, JOB_MIGRATE, JOB_REASON_USER, d, NULL, &migration_ops, mg, &j);
        if (r < 0)
                goto fail;
        mg->job = j;
        d->migration = mg;
        log_job_info(j, "Job %" PRIu64 ": migrate %s to %s.", j->id, d->name, mg->destination);
        job_announce(j);
        *ret = j;
        return 0;
fail:
        free(mg->destination);
        free(mg->destination_bus);
        free(mg->migrate_uri);
        free(mg->listen_address);
        free(mg);
        return r;
}

/* ------------------------------------------------------ helper process */

int migrate_helper_main(int argc, char *argv[]) {
        VirtMigrateOptions o = {};
        _cleanup_free_ char *msg = NULL;
        int r;

        /* vfod --migrate-helper SRC UUID DEST live|offline p2p|direct persistent|- undefine-source|- MURI|- LISTEN|- BW
         * postcopy|- */
        if (argc != 13) {
                printf("internal error: the migration helper got %d arguments\n", argc);
                return EXIT_FAILURE;
        }
        o.live = streq(argv[5], "live");
        o.p2p = streq(argv[6], "p2p");
        o.persistent = streq(argv[7], "persistent");
        o.undefine_source = streq(argv[8], "undefine-source");
        o.postcopy = streq(argv[12], "postcopy");
        o.migrate_uri = streq(argv[9], "-") ? NULL : argv[9];
        o.listen_address = streq(argv[10], "-") ? NULL : argv[10];
        r = parse_uint64(argv[11], 0, UINT64_MAX, &o.bandwidth);
        if (r < 0) {
                printf("internal error: the migration helper got bandwidth '%s', not a number of MiB/s\n",
                       argv[11]);
                return EXIT_FAILURE;
        }
        r = virt_migrate_blocking(isempty(argv[2]) ? NULL : argv[2], argv[3], argv[4], &o, &msg);
        if (r < 0) {
                printf("%s\n", msg ?: strerror(-r));
                return EXIT_FAILURE;
        }
        printf("ok\n");
        return EXIT_SUCCESS;
}
