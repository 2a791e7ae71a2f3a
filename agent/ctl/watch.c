/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: following a job to its end (attach, detach, migrate), and the
 * event loop that `vfoctl monitor` (monitor.c) runs too. */

#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "agent/ctl/common.h"
#include "agent/ctl/watch.h"
#include "lib/log.h"


#define BAR_WIDTH 24

typedef struct Follow {
        sd_bus *bus;
        sd_event *event;
        VfoJob job;
        uint64_t snapshot_cookie;       /* signals up to this cookie are in the snapshot */
        bool bar;                       /* a progress bar on the terminal */
        bool bar_shown;
        char *last_phase;
        uint32_t last_progress;
        bool ended;
        bool cancel_on_interrupt;       /* migrate: the first signal cancels the job */
        bool cancel_requested;
        bool cancel_failed;             /* vfod refused Job.Cancel() or did not answer */
        bool timed_out;
        bool interrupted;
        bool vfod_left;         /* vfod left the bus (stopped or crashed) */
        bool stop;              /* any of the above */
} Follow;

static bool job_running(const VfoJob *j) {
        return !j->state || !*j->state || strcmp(j->state, "running") == 0;
}

static void clear_bar(Follow *f) {
        if (f->bar_shown) {
                fputs("\r\033[K", stdout);
                fflush(stdout);
                f->bar_shown = false;
        }
}

static void show_progress(Follow *f) {
        const VfoJob *j = &f->job;
        const char *phase = j->phase ?: "";

        if (arg_quiet)
                return;
        if (f->last_phase && strcmp(f->last_phase, phase) == 0 && f->last_progress == j->progress)
                return;
        free(f->last_phase);
        f->last_phase = strdup(phase);
        f->last_progress = j->progress;

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "event", "progress");
                json_field_uint(&w, "id", j->id);
                json_field_string(&w, "phase", phase);
                json_field_uint(&w, "progress", j->progress);
                json_field_string(&w, "state", j->state);
                json_end_object(&w);
                fputc('\n', stdout);
        } else if (f->bar) {
                char bar[BAR_WIDTH + 3];

                /* a migrate job has no MAC; its destination is in the result line */
                printf("\r\033[K%s %s%s%s  %-13s %s %3" PRIu32 "%%", j->kind ?: "job",
                       vfo_domain_name(f->bus, j->domain) ?: "", j->mac && *j->mac ? " " : "", j->mac ?: "",
                       phase, format_bar(bar, sizeof(bar), j->progress, BAR_WIDTH), MIN(j->progress, 100u));
                f->bar_shown = true;
        } else
                printf("job %" PRIu64 ": %s %" PRIu32 "%%\n", j->id, phase, j->progress);
        fflush(stdout);
}

/* The job ended: take a last snapshot, so the result has every final field. */
static void end_follow(Follow *f) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (f->ended)
                return;
        f->ended = f->stop = true;
        r = vfo_job_load(f->bus, f->job.object, &f->job, NULL, &error);
        if (r < 0)
                log_debug("Cannot re-read %s: %s", f->job.object, error.message ?: strerror(-r));
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Follow *f = userdata;
        const char *iface;
        uint64_t cookie = 0;
        char **invalidated = NULL;
        int r;

        if (f->ended)
                return 0;
        /* Older than the GetAll snapshot (same sender, cookies grow): already seen. */
        (void) sd_bus_message_get_cookie(m, &cookie);
        if (cookie != 0 && cookie <= f->snapshot_cookie)
                return 0;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0 || strcmp(iface, VFO_JOB_IFACE) != 0)
                return 0;
        r = vfo_job_update(m, &f->job);
        if (r < 0) {
                log_debug("Cannot parse PropertiesChanged of %s: %s", f->job.object, strerror(-r));
                return 0;
        }
        r = sd_bus_message_read_strv(m, &invalidated);
        if (r >= 0 && invalidated && invalidated[0])
                (void) vfo_job_load(f->bus, f->job.object, &f->job, NULL, &error);
        for (char **i = invalidated; i && *i; i++)
                free(*i);
        free(invalidated);

        show_progress(f);
        if (!job_running(&f->job))
                end_follow(f);
        return 0;
}

static int on_job_finished(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Follow *f = userdata;
        const char *job, *state;

        if (f->ended)
                return 0;
        if (sd_bus_message_read(m, "os", &job, &state) < 0 || strcmp(job, f->job.object) != 0)
                return 0;
        if (job_running(&f->job)) {
                char *copy = strdup(state);

                if (copy) {
                        free(f->job.state);
                        f->job.state = copy;
                }
        }
        end_follow(f);
        return 0;
}

static int on_vfod_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Follow *f = userdata;
        const char *name, *old_owner, *new_owner;

        if (f->ended || sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
            strcmp(name, VFO_SERVICE) != 0 || *new_owner != '\0')
                return 0;
        f->vfod_left = f->stop = true;
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Follow *f = userdata;

        f->timed_out = f->stop = true;
        return 0;
}

/* Job.Cancel(), once; the job is followed on until it has rolled back. */
static void cancel_job(Follow *f) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        f->cancel_requested = true;
        clear_bar(f);
        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "event", "cancelling");
                json_field_uint(&w, "id", f->job.id);
                json_end_object(&w);
                fputc('\n', stdout);
                fflush(stdout);
        }
        fprintf(stderr, "vfoctl: cancelling… (job %" PRIu64 " rolls back; interrupt again to stop waiting)\n",
                f->job.id);
        fflush(stderr);

        r = sd_bus_message_new_method_call(f->bus, &m, VFO_SERVICE, f->job.object, VFO_JOB_IFACE, "Cancel");
        if (r >= 0)
                r = sd_bus_call(f->bus, m, 10 * USEC_PER_SEC, &error, NULL);
        if (r < 0) {
                f->cancel_failed = true;
                if (sd_bus_error_is_set(&error))
                        fprintf(stderr,
                                "vfoctl: Cannot cancel job %" PRIu64 ": %s (%s); still following it.\n",
                                f->job.id, error.message ?: "", error.name);
                else
                        fprintf(stderr, "vfoctl: Cannot cancel job %" PRIu64 ": %s; still following it.\n",
                                f->job.id, strerror(-r));
                fflush(stderr);
        }
        /* redraw the bar on the next change */
        free(f->last_phase);
        f->last_phase = NULL;
}

static int on_interrupt(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Follow *f = userdata;

        if (f->cancel_on_interrupt && !f->cancel_requested && !f->ended) {
                cancel_job(f);
                return 0;
        }
        f->interrupted = f->stop = true;
        return 0;
}

static int block_signals(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        return sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ? -errno : 0;
}

/* Runs the loop until *done. Not sd_event_loop()/sd_event_exit(): on exit,
 * sd-bus closes an attached bus, and vfoctl still needs it afterwards. The
 * loop also ends when the bus disconnects (exit_on_disconnect). */
int watch_run_until(sd_event *e, const bool *done) {
        int r;

        while (!*done) {
                r = sd_event_run(e, UINT64_MAX);
                if (r < 0)
                        return r;
                if (sd_event_get_state(e) == SD_EVENT_FINISHED)
                        break;
        }
        return 0;
}

int watch_setup_event(sd_bus *bus, sd_event **ret, void *userdata,
                      int (*on_signal)(sd_event_source *, const struct signalfd_siginfo *, void *)) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        int r;

        r = block_signals();
        if (r < 0)
                return r;
        r = sd_event_default(&e);
        if (r < 0)
                return r;
        r = sd_event_add_signal(e, NULL, SIGINT, on_signal, userdata);
        if (r < 0)
                return r;
        r = sd_event_add_signal(e, NULL, SIGTERM, on_signal, userdata);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}

static int print_result(Follow *f) {
        const VfoJob *j = &f->job;
        const char *domain = vfo_domain_name(f->bus, j->domain) ?: "";
        _cleanup_free_ char *vf = vfo_path_id(j->vf, VFO_VF_PREFIX);
        bool done = j->state && strcmp(j->state, "done") == 0;
        bool attach = j->kind && strcmp(j->kind, "attach") == 0;
        bool migrate = j->kind && strcmp(j->kind, "migrate") == 0;
        char duration[32], libvirt[32], agent[32];
        int code;

        clear_bar(f);
        format_duration(duration, sizeof(duration), job_duration(j));
        format_duration(libvirt, sizeof(libvirt), j->libvirt_usec);
        format_duration(agent, sizeof(agent), j->agent_usec);

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "event", "result");
                json_job_fields(&w, f->bus, j);
                json_end_object(&w);
                fputc('\n', stdout);
                fflush(stdout);
        } else if (!arg_quiet) {
                if (done && migrate)
                        printf("Migrated %s to %s in %s (libvirt %s, agent %s).\n", domain,
                               j->destination && *j->destination ? j->destination : "the destination",
                               duration, libvirt, agent);
                else if (done)
                        printf("%s %s of %s %s VF %s in %s (libvirt %s, agent %s).\n",
                               attach ? "Attached" : "Detached", j->mac ?: "", domain, attach ? "to" : "from",
                               vf ?: "-", duration, libvirt, agent);
                if (j->fallback && *j->fallback)
                        printf("Fallback: %s\n", j->fallback);
                fflush(stdout);
        }

        if (done)
                return EXIT_OK;

        code = exit_code_from_error_name(j->error);
        /* a migration cancelled here failed because we asked, whatever name vfod gives it */
        if (code == EXIT_OK || (f->cancel_requested && !f->cancel_failed))
                code = EXIT_FAILED;
        return ctl_error(code, "Job %" PRIu64 " (%s %s%s%s) failed after %s in phase %s: %s%s%s%s",
                         j->id, j->kind ?: "", domain, j->mac && *j->mac ? " " : "", j->mac ?: "", duration,
                         j->phase ?: "?",
                         j->error_message && *j->error_message ? j->error_message : "no message",
                         j->error && *j->error ? " (" : "", j->error ?: "", j->error && *j->error ? ")" : "");
}

int follow_job(sd_bus *bus, const char *object, bool cancel_on_interrupt) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *snapshot = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *changed_slot = NULL, *finished_slot = NULL,
                                      *owner_slot = NULL;
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Follow f = {
                .bus = bus,
                .bar = !arg_json && !arg_quiet && isatty(STDOUT_FILENO),
                .cancel_on_interrupt = cancel_on_interrupt,
        };
        int r, code;

        r = watch_setup_event(bus, &event, &f, on_interrupt);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Cannot set up the event loop: %s.", strerror(-r));
        f.event = event;

        /* Subscribe first, then read: a change in between is in the snapshot or
         * arrives as a signal after it. */
        r = sd_bus_match_signal(bus, &changed_slot, VFO_SERVICE, object, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_properties_changed, &f);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot subscribe to the job's changes");
        r = sd_bus_match_signal(bus, &finished_slot, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "JobFinished",
                                on_job_finished, &f);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot subscribe to JobFinished");

        r = sd_bus_add_match(bus, &owner_slot, VFO_OWNER_CHANGED_MATCH, on_vfod_owner_changed, &f);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot subscribe to NameOwnerChanged");

        r = vfo_job_load(bus, object, &f.job, &snapshot, &error);
        if (r < 0) {
                code = ctl_bus_error(&error, r, "Cannot read the job");
                vfo_job_done(&f.job);
                return code;
        }
        (void) sd_bus_message_get_cookie(snapshot, &f.snapshot_cookie);
        log_debug("Following %s from cookie %" PRIu64 ".", object, f.snapshot_cookie);

        show_progress(&f);
        if (job_running(&f.job)) {
                if (arg_timeout > 0) {
                        r = sd_event_add_time_relative(event, &timer, CLOCK_MONOTONIC, arg_timeout, 0,
                                                       on_timeout, &f);
                        if (r < 0) {
                                vfo_job_done(&f.job);
                                return ctl_error(EXIT_FAILED, "Cannot set the deadline: %s.", strerror(-r));
                        }
                }
                r = watch_run_until(event, &f.stop);
                if (r < 0) {
                        clear_bar(&f);
                        vfo_job_done(&f.job);
                        return ctl_error(EXIT_FAILED, "Event loop failed: %s.", strerror(-r));
                }
        } else
                f.ended = true;

        if (f.ended || !job_running(&f.job))
                code = print_result(&f);
        else {
                char waited[32];

                clear_bar(&f);
                format_duration(waited, sizeof(waited), arg_timeout);
                if (f.interrupted && f.cancel_requested && !f.cancel_failed)
                        code = ctl_error(EXIT_FAILED,
                                         "Interrupted again; job %" PRIu64
                                         " is being cancelled in vfod (phase %s, %" PRIu32
                                         "%%): see 'vfoctl jobs'.",
                                         f.job.id, f.job.phase ?: "?", f.job.progress);
                else if (f.interrupted)
                        code = ctl_error(EXIT_FAILED,
                                         "Interrupted; job %" PRIu64 " goes on in vfod (phase %s, %" PRIu32
                                         "%%): see 'vfoctl jobs'.",
                                         f.job.id, f.job.phase ?: "?", f.job.progress);
                else if (f.timed_out)
                        code = ctl_error(EXIT_FAILED,
                                         "Timed out after %s waiting for job %" PRIu64 " (phase %s, %" PRIu32
                                         "%%); it goes on in vfod: see 'vfoctl jobs'.",
                                         waited, f.job.id, f.job.phase ?: "?", f.job.progress);
                else if (f.vfod_left)
                        code = ctl_error(EXIT_UNREACHABLE,
                                         "vfod left the bus while job %" PRIu64
                                         " was running (phase %s); see 'systemctl status vfod' and, "
                                         "once it is back, 'vfoctl jobs'.",
                                         f.job.id, f.job.phase ?: "?");
                else
                        code = ctl_error(EXIT_UNREACHABLE,
                                         "Lost the connection to the system bus while job %" PRIu64
                                         " was running.",
                                         f.job.id);
        }

        (void) sd_bus_detach_event(bus);
        free(f.last_phase);
        vfo_job_done(&f.job);
        return code;
}
