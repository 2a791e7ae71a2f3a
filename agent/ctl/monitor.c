/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `vfoctl monitor`: every change of vfod's objects, one line each, until
 * interrupted. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "agent/ctl/common.h"
#include "agent/ctl/vfoctl.h"
#include "agent/ctl/watch.h"
#include "lib/log.h"

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

        r = watch_setup_event(bus, &event, &mon, on_monitor_signal);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Cannot set up the event loop: %s.", strerror(-r));
        mon.event = event;

        r = sd_bus_add_match(bus, &slot,
                             "type='signal',sender='" VFO_SERVICE "',path_namespace='" VFO_PATH "'",
                             on_vfo_signal, &mon);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot subscribe to vfod's signals");
        r = sd_bus_add_match(bus, &owner_slot, VFO_OWNER_CHANGED_MATCH, on_owner_changed, &mon);
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

        r = watch_run_until(event, &mon.stop);
        (void) sd_bus_detach_event(bus);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Event loop failed: %s.", strerror(-r));
        if (!sd_bus_is_open(bus))
                return ctl_error(EXIT_UNREACHABLE, "Lost the connection to the system bus.");
        return EXIT_OK;
}
