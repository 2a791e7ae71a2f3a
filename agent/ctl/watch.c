/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: following a job to its end (attach, detach) and `vfoctl monitor`. */

#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "agent/ctl/vfoctl.h"
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
static int run_until(sd_event *e, const bool *done) {
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

static int setup_event(sd_bus *bus, sd_event **ret, void *userdata,
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

        r = setup_event(bus, &event, &f, on_interrupt);
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

        r = sd_bus_add_match(bus, &owner_slot,
                             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" VFO_SERVICE
                             "'",
                             on_vfod_owner_changed, &f);
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
                r = run_until(event, &f.stop);
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

/* ---------------------------------------------------------------- monitor */

typedef struct Monitor {
        sd_bus *bus;
        sd_event *event;
        FILE *out;              /* the line being written */
        bool stop;              /* SIGINT or SIGTERM */
} Monitor;

/* "job 7", "domain web1", "pool fast", "vf 0000:03:10.2", "vfod". */
static char *subject_of(sd_bus *bus, const char *object) {
        static const struct {
                const char *prefix;
                const char *word;
        } kinds[] = {
                { VFO_JOB_PREFIX, "job" },
                { VFO_POOL_PREFIX, "pool" },
                { VFO_VF_PREFIX, "vf" },
        };
        char *s = NULL;

        if (strcmp(object, VFO_PATH) == 0)
                return strdup("vfod");
        if (strncmp(object, VFO_DOMAIN_PREFIX "/", strlen(VFO_DOMAIN_PREFIX "/")) == 0) {
                const char *name = vfo_domain_name(bus, object);

                return asprintf(&s, "domain %s", name ?: object) < 0 ? NULL : s;
        }
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                size_t n = strlen(kinds[i].prefix);

                if (strncmp(object, kinds[i].prefix, n) == 0 && object[n] == '/') {
                        _cleanup_free_ char *id = vfo_path_id(object, kinds[i].prefix);

                        return asprintf(&s, "%s %s", kinds[i].word, id ?: object + n + 1) < 0 ? NULL : s;
                }
        }
        return strdup(object);
}

static void line_begin(Monitor *mon, JsonWriter *w, const char *signal, const char *object,
                       const char *subject) {
        uint64_t now = now_usec(CLOCK_REALTIME);
        char ts[64];

        if (arg_json) {
                json_begin_object(w);
                json_field_string(w, "time", format_timestamp(ts, sizeof(ts), now, true));
                json_field_uint(w, "timestamp_usec", now);
                json_field_string(w, "signal", signal);
                json_field_string(w, "object", object);
                json_field_string(w, "subject", subject);
        } else
                fprintf(mon->out, "%s %s: ", format_timestamp(ts, sizeof(ts), now, false), subject);
}

static void line_end(Monitor *mon, JsonWriter *w) {
        if (arg_json)
                json_end_object(w);
        fputc('\n', mon->out);
}

static int monitor_properties_changed(Monitor *mon, sd_bus_message *m, JsonWriter *w) {
        const char *iface;
        bool first = true;
        int r;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0)
                return r;
        if (arg_json) {
                json_field_string(w, "interface", iface);
                json_key(w, "changed");
                r = bus_message_to_json(m, w);
                if (r < 0)
                        return r;
                json_key(w, "invalidated");
                return bus_message_to_json(m, w);
        }

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                fprintf(mon->out, "%s%s=", first ? "" : " ", name);
                first = false;
                r = bus_message_to_text(m, mon->out);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_at_end(m, true);
        if (r == 0) {
                _cleanup_free_ char **inv = NULL;

                r = sd_bus_message_read_strv(m, &inv);
                if (r >= 0 && inv && inv[0]) {
                        fprintf(mon->out, "%sinvalidated:", first ? "" : " ");
                        for (char **i = inv; *i; i++)
                                fprintf(mon->out, " %s", *i);
                }
                for (char **i = inv; i && *i; i++)
                        free(*i);
        }
        return 0;
}

static int monitor_job_new(Monitor *mon, sd_bus_message *m, JsonWriter *w) {
        const char *job, *kind, *domain;
        int r;

        r = sd_bus_message_read(m, "oso", &job, &kind, &domain);
        if (r < 0)
                return r;
        if (arg_json) {
                json_field_string(w, "job", job);
                json_field_uint(w, "id", job_id_from_path(job));
                json_field_string(w, "kind", kind);
                json_field_string(w, "domain", vfo_domain_name(mon->bus, domain));
                json_field_string(w, "domain_object", domain);
        } else
                fprintf(mon->out, "started: %s of %s", kind,
                       vfo_domain_name(mon->bus, domain) ?: domain);
        return 0;
}

static int monitor_job_finished(Monitor *mon, sd_bus_message *m, JsonWriter *w) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(vfo_job_done) VfoJob j = {};
        const char *job, *state;
        bool have;
        int r;

        r = sd_bus_message_read(m, "os", &job, &state);
        if (r < 0)
                return r;
        have = vfo_job_load(mon->bus, job, &j, NULL, &error) >= 0;
        if (arg_json) {
                json_field_string(w, "job", job);
                json_field_uint(w, "id", job_id_from_path(job));
                json_field_string(w, "state", state);
                if (have) {
                        json_field_string(w, "error", j.error);
                        json_field_string(w, "error_message", j.error_message);
                        json_field_string(w, "fallback", j.fallback);
                        json_field_uint(w, "duration_usec", job_duration(&j));
                }
        } else {
                char duration[32];

                fprintf(mon->out, "finished: %s", state);
                if (have) {
                        fprintf(mon->out, " after %s",
                                format_duration(duration, sizeof(duration), job_duration(&j)));
                        if (j.error && *j.error)
                                fprintf(mon->out, ": %s (%s)", j.error_message ?: "", j.error);
                        if (j.fallback && *j.fallback)
                                fprintf(mon->out, "; fallback: %s", j.fallback);
                }
        }
        return 0;
}

static int monitor_interfaces(Monitor *mon, sd_bus_message *m, JsonWriter *w, bool added) {
        const char *object;
        bool first = true;
        int r;

        r = sd_bus_message_read(m, "o", &object);
        if (r < 0)
                return r;
        if (arg_json) {
                json_key(w, "interfaces");
                return bus_message_to_json(m, w);
        }

        fprintf(mon->out, "%s", added ? "added" : "removed");
        if (added) {
                r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                        const char *iface;

                        r = sd_bus_message_read(m, "s", &iface);
                        if (r < 0)
                                return r;
                        fprintf(mon->out, "%s%s", first ? " (" : ", ", iface);
                        first = false;
                        r = sd_bus_message_skip(m, "a{sv}");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
        } else {
                const char *iface;

                r = sd_bus_message_enter_container(m, 'a', "s");
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_read(m, "s", &iface)) > 0) {
                        fprintf(mon->out, "%s%s", first ? " (" : ", ", iface);
                        first = false;
                }
                if (r < 0)
                        return r;
        }
        if (!first)
                fprintf(mon->out, ")");
        return sd_bus_message_exit_container(m);
}

static int monitor_other(Monitor *mon, sd_bus_message *m, JsonWriter *w) {
        int r;

        if (arg_json) {
                json_field_string(w, "interface", sd_bus_message_get_interface(m));
                json_key(w, "args");
                json_begin_array(w);
        } else
                fprintf(mon->out, "%s.%s", sd_bus_message_get_interface(m) ?: "",
                        sd_bus_message_get_member(m) ?: "");
        while ((r = sd_bus_message_at_end(m, true)) == 0) {
                if (arg_json)
                        r = bus_message_to_json(m, w);
                else {
                        fputc(' ', mon->out);
                        r = bus_message_to_text(m, mon->out);
                }
                if (r < 0)
                        return r;
        }
        if (arg_json)
                json_end_array(w);
        return r < 0 ? r : 0;
}

/* Writes one line into a buffer first, so a message that cannot be parsed
 * halfway leaves no broken JSON behind. */
static int on_vfo_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Monitor *mon = userdata;
        const char *member = sd_bus_message_get_member(m) ?: "";
        const char *object = sd_bus_message_get_path(m) ?: "";
        const char *target = object;
        _cleanup_free_ char *subject = NULL, *data = NULL;
        size_t size = 0;
        JsonWriter w;
        int r;

        /* Manager's job signals and ObjectManager's name the object they are about. */
        if (sd_bus_message_is_signal(m, VFO_MANAGER_IFACE, "JobNew") ||
            sd_bus_message_is_signal(m, VFO_MANAGER_IFACE, "JobFinished") ||
            sd_bus_message_is_signal(m, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded") ||
            sd_bus_message_is_signal(m, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved")) {
                if (sd_bus_message_read(m, "o", &target) < 0)
                        return 0;
                (void) sd_bus_message_rewind(m, true);
        }
        subject = subject_of(mon->bus, target);

        mon->out = open_memstream(&data, &size);
        if (!mon->out)
                return 0;
        w = JSON_WRITER_INIT(mon->out);
        line_begin(mon, &w, member, target, subject ?: target);

        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Properties", "PropertiesChanged"))
                r = monitor_properties_changed(mon, m, &w);
        else if (sd_bus_message_is_signal(m, VFO_MANAGER_IFACE, "JobNew"))
                r = monitor_job_new(mon, m, &w);
        else if (sd_bus_message_is_signal(m, VFO_MANAGER_IFACE, "JobFinished"))
                r = monitor_job_finished(mon, m, &w);
        else if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded"))
                r = monitor_interfaces(mon, m, &w, true);
        else if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved"))
                r = monitor_interfaces(mon, m, &w, false);
        else
                r = monitor_other(mon, m, &w);

        if (r >= 0)
                line_end(mon, &w);
        fclose(mon->out);
        mon->out = NULL;

        if (r < 0) {
                /* only what is known for sure */
                free(data);
                data = NULL;
                mon->out = open_memstream(&data, &size);
                if (!mon->out)
                        return 0;
                w = JSON_WRITER_INIT(mon->out);
                line_begin(mon, &w, member, target, subject ?: target);
                if (arg_json)
                        json_field_string(&w, "parse_error", strerror(-r));
                else
                        fprintf(mon->out, "%s (cannot parse: %s)", member, strerror(-r));
                line_end(mon, &w);
                fclose(mon->out);
                mon->out = NULL;
        }
        fwrite(data, 1, size, stdout);
        fflush(stdout);
        return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Monitor *mon = userdata;
        JsonWriter w;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 ||
            strcmp(name, VFO_SERVICE) != 0)
                return 0;
        mon->out = stdout;
        w = JSON_WRITER_INIT(stdout);
        line_begin(mon, &w, "NameOwnerChanged", VFO_PATH, "vfod");
        if (arg_json) {
                json_field_bool(&w, "running", *new_owner != '\0');
                json_field_string(&w, "owner", new_owner);
        } else
                fprintf(mon->out, "%s",
                        *new_owner ? "started (org.vfo1 is on the bus)" : "stopped (org.vfo1 left the bus)");
        line_end(mon, &w);
        fflush(stdout);
        mon->out = NULL;
        return 0;
}

static int on_monitor_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Monitor *mon = userdata;

        mon->stop = true;
        return 0;
}

int cmd_monitor(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL, *owner_slot = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Monitor mon = { .bus = bus };
        int r, has_owner = 0;

        r = setup_event(bus, &event, &mon, on_monitor_signal);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Cannot set up the event loop: %s.", strerror(-r));
        mon.event = event;

        r = sd_bus_add_match(bus, &slot,
                             "type='signal',sender='" VFO_SERVICE "',path_namespace='" VFO_PATH "'",
                             on_vfo_signal, &mon);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot subscribe to vfod's signals");
        r = sd_bus_add_match(bus, &owner_slot,
                             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" VFO_SERVICE
                             "'",
                             on_owner_changed, &mon);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot subscribe to NameOwnerChanged");

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", VFO_SERVICE);
        if (r >= 0)
                (void) sd_bus_message_read(reply, "b", &has_owner);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot talk to the bus");
        if (!has_owner && !arg_quiet)
                fprintf(stderr, "vfoctl: vfod is not running; waiting for it (Ctrl-C to stop).\n");

        r = run_until(event, &mon.stop);
        (void) sd_bus_detach_event(bus);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Event loop failed: %s.", strerror(-r));
        if (!sd_bus_is_open(bus))
                return ctl_error(EXIT_UNREACHABLE, "Lost the connection to the system bus.");
        return EXIT_OK;
}
