/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: the commands that change vfod's state: attach, detach, migrate,
 * set-policy, clear-policy, reload, drain, restore. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/common.h"
#include "agent/ctl/vfoctl.h"
#include "agent/ctl/watch.h"
#include "lib/log.h"
#include "lib/parse-util.h"

bool arg_no_wait = false;
const char *arg_pool = NULL;
long arg_priority = -1;
int arg_required = -1;
const char *arg_timeout_string = NULL;
MigrateArgs arg_migrate = MIGRATE_ARGS_INIT;

/* migrate --timeout SEC: vfoctl waits for the job SEC plus this long (the VFs are
 * detached before the migration and re-attached after an abort). */
#define MIGRATE_WAIT_MARGIN_SEC 120

/* --no-wait: the job's object path, and done. */
static int print_job_started(const char *job) {
        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "job", job);
                json_field_uint(&w, "id", job_id_from_path(job));
                json_end_object(&w);
                json_end_line(&w);
        } else if (!arg_quiet)
                printf("%s\n", job);
        return EXIT_OK;
}

static int cmd_attach_detach(sd_bus *bus, char **args, const char *method) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char mac[MAC_STRING_MAX] = "";
        const char *job;
        int r;

        if (args[1] && mac_normalize(args[1], mac) < 0)
                return ctl_error(EXIT_USAGE, "Invalid MAC address '%s' (expected xx:xx:xx:xx:xx:xx).",
                                 args[1]);

        log_debug("Calling %s(%s, \"%s\").", method, args[0], mac);
        r = sd_bus_call_method(bus, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, method, &error, &reply, "ss",
                               args[0], mac);
        if (r < 0)
                return ctl_bus_error(&error, r, method);
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Cannot parse the reply to %s: %s.", method, strerror(-r));

        if (arg_no_wait)
                return print_job_started(job);

        return follow_job(bus, job, false);
}

int cmd_attach(sd_bus *bus, char **args) {
        return cmd_attach_detach(bus, args, "Attach");
}

int cmd_detach(sd_bus *bus, char **args) {
        return cmd_attach_detach(bus, args, "Detach");
}

/* The checks of the migrate options that need the verb (run() calls it). */
int migrate_check_args(char **args) {
        uint64_t t;
        int r;

        if (args[1][0] == '\0')
                return -ctl_error(EXIT_USAGE, "The destination URI must not be empty.");
        if (args[2]) {
                /* virsh's positional MIGRATEURI */
                if (arg_migrate.migrate_uri && strcmp(arg_migrate.migrate_uri, args[2]) != 0)
                        return -ctl_error(EXIT_USAGE,
                                          "Two migration URIs given: '%s' and --migrate-uri '%s'.", args[2],
                                          arg_migrate.migrate_uri);
                arg_migrate.migrate_uri = args[2];
        }
        if (arg_timeout_string) {
                /* migrate: --timeout is the migration's own timeout, as with virsh */
                r = parse_uint64(arg_timeout_string, 0, UINT32_MAX, &t);
                if (r < 0)
                        return -ctl_error(EXIT_USAGE,
                                          "Invalid --timeout '%s' for migrate (whole seconds; 0 for none).",
                                          arg_timeout_string);
                if (t > 0) {
                        arg_migrate.timeout_set = true;
                        arg_migrate.timeout = t;
                        arg_timeout = (t + MIGRATE_WAIT_MARGIN_SEC) * USEC_PER_SEC;
                } else
                        arg_timeout = 0;
        } else
                arg_timeout = 0;        /* like virsh: wait for the migration as long as it takes */
        return 0;
}

int cmd_migrate(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *job;
        int r;

        log_debug("Calling Migrate(%s, %s, …).", args[0], args[1]);
        r = sd_bus_message_new_method_call(bus, &m, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "Migrate");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", args[0], args[1]);
        if (r >= 0)
                r = migrate_append_options(m, &arg_migrate);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Cannot build the call to Migrate: %s.", strerror(-r));
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                int code = ctl_bus_error(&error, r, "Migrate");

                if (sd_bus_error_has_name(&error, BUS_ERROR_PAUSED))
                        (void) ctl_error(code, "Pass --resume to resume the domain and migrate it.");
                else if (sd_bus_error_has_name(&error, "org.freedesktop.DBus.Error.UnknownMethod"))
                        (void) ctl_error(code, "This vfod does not support migration; update it.");
                return code;
        }
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Cannot parse the reply to Migrate: %s.", strerror(-r));

        if (arg_no_wait)
                return print_job_started(job);

        return follow_job(bus, job, true);
}

int cmd_set_policy(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(vfo_domain_done) VfoDomain d = {};
        const char *object, *pool = "";
        uint32_t priority = 100;
        bool required = false;
        int r;

        r = sd_bus_call_method(bus, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "GetDomain", &error, &reply,
                               "s", args[0]);
        if (r < 0)
                return ctl_bus_error(&error, r, "GetDomain");
        r = sd_bus_message_read(reply, "o", &object);
        if (r < 0)
                return ctl_error(EXIT_FAILED, "Cannot parse the reply to GetDomain: %s.", strerror(-r));
        r = vfo_domain_load(bus, object, &d, &error);
        if (r < 0)
                return ctl_bus_error(&error, r, "Cannot read the domain");

        /* What is not given stays as it is; a domain not opted in starts from the defaults. */
        if (d.opted_in) {
                pool = str_or_empty(d.pool);
                priority = d.priority;
                required = d.required;
        }
        if (arg_pool)
                pool = arg_pool;
        if (arg_priority >= 0)
                priority = (uint32_t) arg_priority;
        if (arg_required >= 0)
                required = arg_required;

        sd_bus_error_free(&error);
        r = sd_bus_call_method(bus, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "SetPolicy", &error, NULL,
                               "ssub", args[0], pool, priority, (int) required);
        if (r < 0)
                return ctl_bus_error(&error, r, "SetPolicy");

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "domain", d.name && *d.name ? d.name : args[0]);
                json_field_string(&w, "pool", pool);
                json_field_uint(&w, "priority", priority);
                json_field_bool(&w, "required", required);
                json_end_object(&w);
                json_end_line(&w);
        } else if (!arg_quiet)
                printf("%s: pool %s, priority %" PRIu32 ", required %s.\n",
                       d.name && *d.name ? d.name : args[0], pool_display(pool), priority, yes_no(required));
        return EXIT_OK;
}

int cmd_clear_policy(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "ClearPolicy", &error, NULL,
                               "s", args[0]);
        if (r < 0)
                return ctl_bus_error(&error, r, "ClearPolicy");

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "domain", args[0]);
                json_field_bool(&w, "opted_in", false);
                json_end_object(&w);
                json_end_line(&w);
        } else if (!arg_quiet)
                printf("%s no longer uses vfo; a VF it holds is detached gracefully.\n", args[0]);
        return EXIT_OK;
}

int cmd_reload(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "Reload", &error, NULL, NULL);
        if (r < 0)
                return ctl_bus_error(&error, r, "Reload");

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_bool(&w, "reloaded", true);
                json_end_object(&w);
                json_end_line(&w);
        } else if (!arg_quiet)
                printf("vfod reloaded its configuration.\n");
        return EXIT_OK;
}

/* ------------------------------------------------------- host servicing */

/* drain asks again after its jobs ended (an attach that was running is
 * detached only then); a pool that still lends a VF after this many rounds
 * is reported. */
#define DRAIN_ROUNDS_MAX 8

static const char *pool_or_every(const char *pool) {
        return pool && *pool ? pool : "every pool";
}

/* Manager.Drain(pool): the jobs to wait for (a NULL-terminated list). */
static int call_drain(sd_bus *bus, const char *pool, char ***ret_jobs) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        log_debug("Calling Drain(\"%s\").", pool);
        r = sd_bus_call_method(bus, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "Drain", &error, &reply, "s", pool);
        if (r < 0) {
                int code = ctl_bus_error(&error, r, "Drain");

                if (sd_bus_error_has_name(&error, "org.freedesktop.DBus.Error.UnknownMethod"))
                        (void) ctl_error(code, "This vfod cannot drain; update it.");
                return -code;
        }
        r = sd_bus_message_read_strv(reply, ret_jobs);
        if (r < 0)
                return -ctl_error(EXIT_FAILED, "Cannot parse the reply to Drain: %s.", strerror(-r));
        return 0;
}

/* The VFs of 'pool' (NULL: of every pool) that a port holds or is getting. */
static int count_held(sd_bus *bus, const char *pool, unsigned *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(vfo_manager_done) VfoManager m = {};
        unsigned n = 0;
        int r;

        r = vfo_manager_load(bus, &m, &error);
        if (r < 0)
                return -ctl_bus_error(&error, r, "Cannot read vfod's pools");
        for (char **i = m.pools; i && *i; i++) {
                _cleanup_(vfo_pool_done) VfoPool p = {};

                r = vfo_pool_load(bus, *i, &p, &error);
                if (r < 0)
                        return -ctl_bus_error(&error, r, "Cannot read a pool");
                if (pool && *pool && strcmp(str_or_empty(p.name), pool) != 0)
                        continue;
                for (char **v = p.vfs; v && *v; v++) {
                        _cleanup_(vfo_vf_done) VfoVf vf = {};

                        r = vfo_vf_load(bus, *v, &vf, &error);
                        if (r < 0)
                                return -ctl_bus_error(&error, r, "Cannot read a VF");
                        n += vf.state && (strcmp(vf.state, "claimed") == 0 || strcmp(vf.state, "attached") == 0 ||
                                          strcmp(vf.state, "releasing") == 0);
                }
        }
        *ret = n;
        return 0;
}

static void strv_free_list(char **l) {
        for (char **i = l; i && *i; i++)
                free(*i);
        free(l);
}

int cmd_drain(sd_bus *bus, char **args) {
        const char *pool = args[0] ?: "";
        unsigned held = 0, n_jobs = 0;
        int r, code = EXIT_OK;

        for (unsigned round = 0; round < DRAIN_ROUNDS_MAX; round++) {
                char **jobs = NULL;
                size_t n = 0;

                r = call_drain(bus, pool, &jobs);
                if (r < 0)
                        return -r;
                while (jobs && jobs[n])
                        n++;
                if (arg_no_wait) {
                        if (arg_json) {
                                JsonWriter w = JSON_WRITER_INIT(stdout);

                                json_begin_object(&w);
                                json_field_string(&w, "pool", pool);
                                json_key(&w, "jobs");
                                json_begin_array(&w);
                                for (size_t i = 0; i < n; i++)
                                        json_string(&w, jobs[i]);
                                json_end_array(&w);
                                json_end_object(&w);
                                json_end_line(&w);
                        } else if (!arg_quiet)
                                for (size_t i = 0; i < n; i++)
                                        printf("%s\n", jobs[i]);
                        strv_free_list(jobs);
                        return EXIT_OK;
                }
                if (n == 0) {
                        strv_free_list(jobs);
                        break;
                }
                if (!arg_json && !arg_quiet) {
                        printf("Draining %s: %zu job%s.\n", pool_or_every(pool), n, n == 1 ? "" : "s");
                        fflush(stdout);
                }
                /* vfod runs them at once; vfoctl follows one after the other */
                for (size_t i = 0; i < n; i++) {
                        r = follow_job(bus, jobs[i], false);
                        if (r != EXIT_OK && code == EXIT_OK)
                                code = r;
                }
                n_jobs += (unsigned) n;
                strv_free_list(jobs);
                if (code != EXIT_OK)
                        break;  /* not again: a failure that lasts would loop */
        }

        r = count_held(bus, pool, &held);
        if (r < 0)
                return -r;
        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "event", "drained");
                json_field_string(&w, "pool", pool);
                json_field_uint(&w, "jobs", n_jobs);
                json_field_uint(&w, "held", held);
                json_end_object(&w);
                json_end_line(&w);
        } else if (!arg_quiet && held == 0)
                printf("%s%s drained: no VF is lent, none is granted until 'vfoctl restore%s%s'.\n",
                       *pool ? "Pool " : "Every pool is", pool, *pool ? " " : "", pool);
        if (held > 0 && code == EXIT_OK)
                code = ctl_error(EXIT_FAILED,
                                 "%s is drained, but %u VF%s still lent (a paused domain, or a job that failed): "
                                 "see 'vfoctl vfs' and 'vfoctl jobs', and run 'vfoctl drain%s%s' again.",
                                 *pool ? pool : "Every pool", held, held == 1 ? " is" : "s are", *pool ? " " : "",
                                 pool);
        else if (held > 0)
                (void) ctl_error(code, "%u VF%s of %s still lent; 'vfoctl drain%s%s' tries again.", held,
                                 held == 1 ? " is" : "s are", pool_or_every(pool), *pool ? " " : "", pool);
        return code;
}

int cmd_restore(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *pool = args[0] ?: "";
        int r;

        r = sd_bus_call_method(bus, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "Restore", &error, NULL, "s", pool);
        if (r < 0)
                return ctl_bus_error(&error, r, "Restore");

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "pool", pool);
                json_field_bool(&w, "drained", false);
                json_end_object(&w);
                json_end_line(&w);
        } else if (!arg_quiet)
                printf("%s%s restored: the scheduler grants %s VFs again.\n", *pool ? "Pool " : "Every pool", pool,
                       *pool ? "its" : "their");
        return EXIT_OK;
}
