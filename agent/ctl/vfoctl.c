/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: command line client of vfod's D-Bus API (org.vfo1(5)). */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/migrate.h"
#include "agent/ctl/vfoctl.h"
#include "lib/log.h"
#include "lib/validate.h"

bool arg_json = false;
bool arg_quiet = false;
usec_t arg_timeout = 120 * USEC_PER_SEC;
static bool arg_no_wait = false;
static const char *arg_pool = NULL;
static long arg_priority = -1;
static int arg_required = -1;
static const char *arg_timeout_string = NULL;  /* --timeout as given: migrate reads it its own way */
static MigrateArgs arg_migrate = MIGRATE_ARGS_INIT;
static bool arg_migrate_any = false;            /* a migrate-only option was given */

/* migrate --timeout SEC: vfoctl waits for the job SEC plus this long (the VFs are
 * detached before the migration and re-attached after an abort). */
#define MIGRATE_WAIT_MARGIN_SEC 120


int ctl_error(int code, const char *format, ...) {
        _cleanup_free_ char *text = NULL, *shown = NULL;
        va_list ap;
        int r;

        fflush(stdout);
        va_start(ap, format);
        r = vasprintf(&text, format, ap);
        va_end(ap);
        /* error messages carry vfod's, libvirt's and guests' words: escaped */
        shown = r >= 0 ? text_escape(text) : NULL;
        fprintf(stderr, "vfoctl: %s\n", shown ?: "out of memory");
        return code;
}

static bool errno_is_unreachable(int r) {
        switch (abs(r)) {
        case ENOENT:
        case ECONNREFUSED:
        case ECONNRESET:
        case ENOTCONN:
        case EPIPE:
        case ESHUTDOWN:
        case ETIMEDOUT:
                return true;
        default:
                return false;
        }
}

#define IN_SET_CONNECTION_ERRNO(e) \
        ((e) == ECONNREFUSED || (e) == ECONNRESET || (e) == ENOTCONN || (e) == EPIPE || (e) == ESHUTDOWN)

int ctl_bus_error(const sd_bus_error *error, int r, const char *what) {
        const char *address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        int code;

        if (!sd_bus_error_is_set(error)) {
                code = errno_is_unreachable(r) ? EXIT_UNREACHABLE : EXIT_FAILED;
                if (code == EXIT_UNREACHABLE)
                        return ctl_error(code, "%s: cannot talk to vfod on the system bus (%s): %s.", what,
                                         address ?: "unix:path=/run/dbus/system_bus_socket",
                                         strerror(abs(r)));
                return ctl_error(code, "%s: %s.", what, strerror(abs(r)));
        }

        code = exit_code_from_error_name(error->name);
        if (code == EXIT_OK)
                code = EXIT_FAILED;

        /* sd-bus's own errors ("System.Error.ENOTCONN"): the connection failed, was refused or
         * lost. Only errnos vfod itself would not send: it may send System.Error.ENOENT. */
        if (strncmp(error->name, "System.Error.", strlen("System.Error.")) == 0 &&
            IN_SET_CONNECTION_ERRNO(sd_bus_error_get_errno(error)))
                return ctl_error(EXIT_UNREACHABLE, "%s: cannot talk to vfod on the system bus (%s): %s.",
                                 what, address ?: "unix:path=/run/dbus/system_bus_socket",
                                 error->message ?: error->name);

        if (sd_bus_error_has_names(error, "org.freedesktop.DBus.Error.ServiceUnknown",
                                   "org.freedesktop.DBus.Error.NameHasNoOwner"))
                return ctl_error(EXIT_UNREACHABLE,
                                 "vfod is not running: nothing owns org.vfo1 on the system bus (%s). "
                                 "Start it with 'systemctl start vfod'.",
                                 error->name);
        if (code == EXIT_UNREACHABLE)
                return ctl_error(
                        EXIT_UNREACHABLE,
                        "vfod is not reachable: %s (%s). Is it running? See 'systemctl status vfod'.",
                        error->message ?: error->name, error->name);

        if (sd_bus_error_has_name(error, "org.freedesktop.DBus.Error.AccessDenied"))
                return ctl_error(
                        code,
                        "Access denied by the bus policy: %s\n"
                        "vfoctl: Changing vfod's state is for root and members of the group \"vfo\".",
                        error->message ?: error->name);

        if (strncmp(error->name, BUS_ERROR_PREFIX, strlen(BUS_ERROR_PREFIX)) == 0)
                return ctl_error(code, "%s",
                                 error->message && *error->message ? error->message : error->name);

        return ctl_error(code, "%s: %s (%s)", what, error->message ?: "", error->name);
}

uint64_t job_id_from_path(const char *object) {
        const char *p;
        char *end;
        uint64_t id;

        if (!object || strncmp(object, VFO_JOB_PREFIX "/", strlen(VFO_JOB_PREFIX "/")) != 0)
                return 0;
        p = object + strlen(VFO_JOB_PREFIX "/");
        errno = 0;
        id = strtoull(p, &end, 10);
        return errno == 0 && end != p && *end == '\0' ? id : 0;
}

uint64_t job_duration(const VfoJob *j) {
        uint64_t end = j->finish_usec > 0 ? j->finish_usec : now_usec(CLOCK_REALTIME);

        return j->start_usec > 0 ? usec_sub_unsigned(end, j->start_usec) : 0;
}

static void json_vf_id(JsonWriter *w, const char *key, const char *object) {
        _cleanup_free_ char *id = vfo_path_id(object, VFO_VF_PREFIX);

        json_key(w, key);
        if (id)
                json_string(w, id);
        else
                json_null(w);
}

void json_job_fields(JsonWriter *w, sd_bus *bus, const VfoJob *j) {
        json_field_uint(w, "id", j->id);
        json_field_string(w, "object", j->object);
        json_field_string(w, "kind", j->kind);
        json_field_string(w, "reason", j->reason);
        json_field_string(w, "domain", vfo_domain_name(bus, j->domain));
        json_field_string(w, "domain_object", j->domain);
        json_field_string(w, "mac", j->mac);
        json_vf_id(w, "vf", j->vf);
        json_field_string(w, "phase", j->phase);
        json_field_uint(w, "progress", j->progress);
        json_field_string(w, "state", j->state);
        json_field_string(w, "error", j->error);
        json_field_string(w, "error_message", j->error_message);
        json_field_string(w, "fallback", j->fallback);
        if ((j->kind && strcmp(j->kind, "migrate") == 0) || (j->destination && *j->destination))
                json_field_string(w, "destination", j->destination);
        json_field_uint(w, "start_usec", j->start_usec);
        json_field_uint(w, "finish_usec", j->finish_usec);
        json_field_uint(w, "duration_usec", job_duration(j));
        json_field_uint(w, "libvirt_usec", j->libvirt_usec);
        json_field_uint(w, "agent_usec", j->agent_usec);
}

static void json_pool(JsonWriter *w, const VfoPool *p) {
        json_begin_object(w);
        json_field_string(w, "name", p->name);
        json_field_string(w, "object", p->object);
        json_field_string(w, "type", p->type);
        json_field_string(w, "steering", p->steering);
        json_field_uint(w, "total", p->total);
        json_field_uint(w, "free", p->free);
        json_field_uint(w, "waiting", p->waiting);
        json_key(w, "vfs");
        json_begin_array(w);
        for (char **i = p->vfs; i && *i; i++) {
                _cleanup_free_ char *id = vfo_path_id(*i, VFO_VF_PREFIX);

                json_string(w, id ?: *i);
        }
        json_end_array(w);
        json_end_object(w);
}

static void json_end_line(JsonWriter *w) {
        fputc('\n', w->f);
        fflush(w->f);
}

static size_t strv_length(char **l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

/* Loads each object of a list; objects that vanished in between are left
 * out. Returns the number loaded, or an exit code (negated) after printing. */
typedef int (*LoadFunc)(sd_bus *bus, const char *object, void *item, sd_bus_error *error);

static bool error_is_vanished(const sd_bus_error *e) {
        return sd_bus_error_has_names(e, "org.freedesktop.DBus.Error.UnknownObject",
                                      "org.freedesktop.DBus.Error.UnknownInterface",
                                      "org.freedesktop.DBus.Error.UnknownMethod");
}

static int load_manager(sd_bus *bus, VfoManager *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = vfo_manager_load(bus, m, &error);
        if (r < 0)
                return -ctl_bus_error(&error, r, "Cannot read vfod's state");
        return 0;
}

#define DEFINE_LOAD_LIST(name, Type, load, done)                                                        \
        static int name(sd_bus *bus, char **objects, Type **ret, size_t *ret_n) {                      \
                size_t n = 0, max = strv_length(objects);                                               \
                Type *items = calloc(max ?: 1, sizeof(Type));                                           \
                int r;                                                                                  \
                                                                                                        \
                if (!items)                                                                             \
                        return -ctl_error(EXIT_FAILED, "Out of memory.");                               \
                for (char **i = objects; i && *i; i++) {                                                \
                        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;            \
                                                                                                        \
                        r = load(bus, *i, &items[n], &error);                                           \
                        if (r >= 0) {                                                                   \
                                n++;                                                                    \
                                continue;                                                               \
                        }                                                                               \
                        done(&items[n]);                                                                \
                        if (error_is_vanished(&error))                                                  \
                                continue;                                                               \
                        r = ctl_bus_error(&error, r, "Cannot read vfod's objects");                     \
                        for (size_t k = 0; k < n; k++)                                                  \
                                done(&items[k]);                                                        \
                        free(items);                                                                    \
                        return -r;                                                                      \
                }                                                                                       \
                *ret = items;                                                                           \
                *ret_n = n;                                                                             \
                return 0;                                                                               \
        }

static int job_load_plain(sd_bus *bus, const char *object, VfoJob *j, sd_bus_error *error) {
        return vfo_job_load(bus, object, j, NULL, error);
}

DEFINE_LOAD_LIST(load_pools, VfoPool, vfo_pool_load, vfo_pool_done)
DEFINE_LOAD_LIST(load_domains, VfoDomain, vfo_domain_load, vfo_domain_done)
DEFINE_LOAD_LIST(load_vfs, VfoVf, vfo_vf_load, vfo_vf_done)
DEFINE_LOAD_LIST(load_jobs, VfoJob, job_load_plain, vfo_job_done)

#define FREE_LIST(items, n, done)                       \
        do {                                            \
                for (size_t _i = 0; _i < (n); _i++)     \
                        done(&(items)[_i]);             \
                free(items);                            \
        } while (0)

static bool streq_ptr(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static const char *str_or_empty(const char *s) {
        return s ?: "";
}

static int cmp_str(const char *a, const char *b) {
        return strcmp(str_or_empty(a), str_or_empty(b));
}

static int pool_compare(const void *a, const void *b) {
        return cmp_str(((const VfoPool *) a)->name, ((const VfoPool *) b)->name);
}

static int domain_compare(const void *a, const void *b) {
        return cmp_str(((const VfoDomain *) a)->name, ((const VfoDomain *) b)->name);
}

static int vf_compare(const void *a, const void *b) {
        const VfoVf *x = a, *y = b;
        int r = cmp_str(x->pool, y->pool);

        if (r != 0)
                return r;
        if (x->index != y->index)
                return x->index < y->index ? -1 : 1;
        return cmp_str(x->id, y->id);
}

static int job_compare(const void *a, const void *b) {
        const VfoJob *x = a, *y = b;

        return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

static const char *pool_display(const char *pool) {
        return pool && *pool ? pool : "(default)";
}

static const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

static void print_pools_table(const VfoPool *pools, size_t n) {
        static const char *const headers[] = { "POOL", "TYPE", "STEERING", "TOTAL", "FREE", "WAITING" };
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);

        if (!t) {
                (void) ctl_error(EXIT_FAILED, "Out of memory.");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                char total[16], nfree[16], waiting[16];
                const char *row[] = {pools[i].name, pools[i].type, pools[i].steering, total, nfree, waiting};

                snprintf(total, sizeof(total), "%" PRIu32, pools[i].total);
                snprintf(nfree, sizeof(nfree), "%" PRIu32, pools[i].free);
                snprintf(waiting, sizeof(waiting), "%" PRIu32, pools[i].waiting);
                (void) table_add_row(t, row);
        }
        table_print(t, stdout, true);
}

/* all: every job, with STATE and ERROR; otherwise running jobs only, without them */
static void print_jobs_table(sd_bus *bus, const VfoJob *jobs, size_t n, bool all) {
        static const char *const headers_all[] = {
                "JOB", "KIND", "REASON", "DOMAIN", "MAC", "PHASE", "PROGRESS", "STATE", "DURATION", "ERROR",
        };
        static const char *const headers_running[] = {
                "JOB", "KIND", "REASON", "DOMAIN", "MAC", "PHASE", "PROGRESS", "DURATION",
        };
        _cleanup_(table_freep) Table *t = all ? table_new(ELEMENTSOF(headers_all), headers_all)
                                              : table_new(ELEMENTSOF(headers_running), headers_running);

        if (!t) {
                (void) ctl_error(EXIT_FAILED, "Out of memory.");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                char id[24], progress[16], duration[32];
                const char *domain = vfo_domain_name(bus, jobs[i].domain);
                const char *row_all[] = {
                        id, jobs[i].kind, jobs[i].reason, domain,
                        jobs[i].mac, jobs[i].phase, progress, jobs[i].state,
                        duration, error_name_short(jobs[i].error),
                };
                const char *row_running[] = {
                        id, jobs[i].kind, jobs[i].reason, domain, jobs[i].mac, jobs[i].phase, progress, duration,
                };

                snprintf(id, sizeof(id), "%" PRIu64, jobs[i].id);
                snprintf(progress, sizeof(progress), "%" PRIu32 "%%", jobs[i].progress);
                format_duration(duration, sizeof(duration), job_duration(&jobs[i]));
                (void) table_add_row(t, all ? row_all : row_running);
        }
        table_print(t, stdout, true);
}

static int cmd_status(sd_bus *bus, char **args) {
        _cleanup_(vfo_manager_done) VfoManager m = {};
        VfoPool *pools = NULL;
        VfoJob *jobs = NULL;
        size_t n_pools = 0, n_jobs = 0, n_running = 0;
        int r;

        r = load_manager(bus, &m);
        if (r < 0)
                return -r;
        r = load_pools(bus, m.pools, &pools, &n_pools);
        if (r < 0)
                return -r;
        r = load_jobs(bus, m.jobs, &jobs, &n_jobs);
        if (r < 0) {
                FREE_LIST(pools, n_pools, vfo_pool_done);
                return -r;
        }
        qsort(pools, n_pools, sizeof(VfoPool), pool_compare);
        qsort(jobs, n_jobs, sizeof(VfoJob), job_compare);

        /* running jobs first in the array, in id order */
        for (size_t i = 0; i < n_jobs; i++)
                if (streq_ptr(jobs[i].state, "running")) {
                        VfoJob tmp = jobs[n_running];

                        jobs[n_running] = jobs[i];
                        jobs[i] = tmp;
                        n_running++;
                }
        qsort(jobs, n_running, sizeof(VfoJob), job_compare);

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_object(&w);
                json_field_string(&w, "version", m.version);
                json_field_string(&w, "libvirt_uri", m.libvirt_uri);
                json_field_bool(&w, "libvirt_connected", m.libvirt_connected);
                json_field_uint(&w, "domains", strv_length(m.domains));
                json_field_uint(&w, "jobs", n_jobs);
                json_key(&w, "pools");
                json_begin_array(&w);
                for (size_t i = 0; i < n_pools; i++)
                        json_pool(&w, &pools[i]);
                json_end_array(&w);
                json_key(&w, "running_jobs");
                json_begin_array(&w);
                for (size_t i = 0; i < n_running; i++) {
                        json_begin_object(&w);
                        json_job_fields(&w, bus, &jobs[i]);
                        json_end_object(&w);
                }
                json_end_array(&w);
                json_end_object(&w);
                json_end_line(&w);
        } else {
                printf("Version:  %s\n", str_or_empty(m.version));
                printf("Libvirt:  %s (%s)\n", m.libvirt_uri && *m.libvirt_uri ? m.libvirt_uri : "default URI",
                       m.libvirt_connected ? "connected" : "NOT connected");
                printf("Domains:  %zu\n", strv_length(m.domains));
                printf("Jobs:     %zu running, %zu finished\n", n_running, n_jobs - n_running);
                printf("\n");
                if (n_pools > 0)
                        print_pools_table(pools, n_pools);
                else
                        printf("No pools.\n");
                printf("\n");
                if (n_running > 0)
                        print_jobs_table(bus, jobs, n_running, false);
                else
                        printf("No jobs running.\n");
        }

        FREE_LIST(pools, n_pools, vfo_pool_done);
        FREE_LIST(jobs, n_jobs, vfo_job_done);
        return EXIT_OK;
}

static int cmd_domains(sd_bus *bus, char **args) {
        static const char *const headers[] = { "DOMAIN", "STATE", "AGENT", "POOL", "PRIORITY", "REQUIRED",
                                               "MAC", "PATH", "VF", "PORT" };
        _cleanup_(vfo_manager_done) VfoManager m = {};
        VfoDomain *domains = NULL;
        size_t n = 0;
        int r;

        r = load_manager(bus, &m);
        if (r < 0)
                return -r;
        r = load_domains(bus, m.domains, &domains, &n);
        if (r < 0)
                return -r;
        qsort(domains, n, sizeof(VfoDomain), domain_compare);

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_array(&w);
                for (size_t i = 0; i < n; i++) {
                        const VfoDomain *d = &domains[i];

                        json_begin_object(&w);
                        json_field_string(&w, "name", d->name);
                        json_field_string(&w, "uuid", d->uuid);
                        json_field_string(&w, "object", d->object);
                        json_field_string(&w, "state", d->state);
                        json_field_bool(&w, "agent_connected", d->agent_connected);
                        json_field_string(&w, "agent_version", d->agent_version);
                        json_field_bool(&w, "opted_in", d->opted_in);
                        json_field_string(&w, "pool", d->pool);
                        json_field_uint(&w, "priority", d->priority);
                        json_field_bool(&w, "required", d->required);
                        json_key(&w, "ports");
                        json_begin_array(&w);
                        for (size_t k = 0; k < d->n_ports; k++) {
                                const VfoPort *p = &d->ports[k];
                                uint64_t job = job_id_from_path(p->job);

                                json_begin_object(&w);
                                json_field_string(&w, "mac", p->mac);
                                json_field_string(&w, "path", p->path);
                                json_vf_id(&w, "vf", p->vf);
                                json_field_string(&w, "state", p->state);
                                json_key(&w, "job");
                                if (job > 0)
                                        json_uint(&w, job);
                                else
                                        json_null(&w);
                                json_end_object(&w);
                        }
                        json_end_array(&w);
                        json_end_object(&w);
                }
                json_end_array(&w);
                json_end_line(&w);
        } else {
                _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);

                if (!t) {
                        FREE_LIST(domains, n, vfo_domain_done);
                        return ctl_error(EXIT_FAILED, "Out of memory.");
                }
                for (size_t i = 0; i < n; i++) {
                        const VfoDomain *d = &domains[i];
                        char agent[128], priority[16];

                        if (d->agent_connected)
                                snprintf(agent, sizeof(agent), "%s", d->agent_version && *d->agent_version
                                                                             ? d->agent_version
                                                                             : "yes");
                        else
                                snprintf(agent, sizeof(agent), "no");
                        snprintf(priority, sizeof(priority), "%" PRIu32, d->priority);

                        for (size_t k = 0; k < MAX(d->n_ports, (size_t) 1); k++) {
                                const VfoPort *p = k < d->n_ports ? &d->ports[k] : NULL;
                                _cleanup_free_ char *vf = p ? vfo_path_id(p->vf, VFO_VF_PREFIX) : NULL;
                                const char *row[] = { d->name,
                                                      d->state,
                                                      agent,
                                                      d->opted_in ? pool_display(d->pool) : "(not opted in)",
                                                      d->opted_in ? priority : NULL,
                                                      d->opted_in ? yes_no(d->required) : NULL,
                                                      p ? p->mac : NULL,
                                                      p ? p->path : NULL,
                                                      vf,
                                                      p ? p->state : NULL };

                                (void) table_add_row(t, row);
                        }
                }
                if (table_rows(t) > 0)
                        table_print(t, stdout, true);
                else if (!arg_quiet)
                        printf("No domains use vfo.\n");
        }

        FREE_LIST(domains, n, vfo_domain_done);
        return EXIT_OK;
}

static int cmd_pools(sd_bus *bus, char **args) {
        _cleanup_(vfo_manager_done) VfoManager m = {};
        VfoPool *pools = NULL;
        size_t n = 0;
        int r;

        r = load_manager(bus, &m);
        if (r < 0)
                return -r;
        r = load_pools(bus, m.pools, &pools, &n);
        if (r < 0)
                return -r;
        qsort(pools, n, sizeof(VfoPool), pool_compare);

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_array(&w);
                for (size_t i = 0; i < n; i++)
                        json_pool(&w, &pools[i]);
                json_end_array(&w);
                json_end_line(&w);
        } else if (n > 0)
                print_pools_table(pools, n);
        else if (!arg_quiet)
                printf("No pools.\n");

        FREE_LIST(pools, n, vfo_pool_done);
        return EXIT_OK;
}

static int cmd_vfs(sd_bus *bus, char **args) {
        static const char *const headers[] = { "VF", "POOL", "STATE", "DOMAIN", "MAC", "PF", "INDEX" };
        _cleanup_(vfo_manager_done) VfoManager m = {};
        VfoPool *pools = NULL;
        VfoVf *vfs = NULL;
        size_t n_pools = 0, n = 0, max = 0;
        int r;

        r = load_manager(bus, &m);
        if (r < 0)
                return -r;
        r = load_pools(bus, m.pools, &pools, &n_pools);
        if (r < 0)
                return -r;

        for (size_t i = 0; i < n_pools; i++) {
                VfoVf *more = NULL;
                size_t n_more = 0;
                VfoVf *all;

                r = load_vfs(bus, pools[i].vfs, &more, &n_more);
                if (r < 0) {
                        FREE_LIST(pools, n_pools, vfo_pool_done);
                        FREE_LIST(vfs, n, vfo_vf_done);
                        return -r;
                }
                all = realloc(vfs, (max + n_more + 1) * sizeof(VfoVf));
                if (!all) {
                        FREE_LIST(more, n_more, vfo_vf_done);
                        FREE_LIST(pools, n_pools, vfo_pool_done);
                        FREE_LIST(vfs, n, vfo_vf_done);
                        return ctl_error(EXIT_FAILED, "Out of memory.");
                }
                vfs = all;
                memcpy(vfs + n, more, n_more * sizeof(VfoVf));
                n += n_more;
                max = n;
                free(more);
        }
        FREE_LIST(pools, n_pools, vfo_pool_done);

        /* sort by the pool's name, not its object path */
        for (size_t i = 0; i < n; i++) {
                char *name = vfo_path_id(vfs[i].pool, VFO_POOL_PREFIX);

                free(vfs[i].pool);
                vfs[i].pool = name;
        }
        qsort(vfs, n, sizeof(VfoVf), vf_compare);

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_array(&w);
                for (size_t i = 0; i < n; i++) {
                        const VfoVf *v = &vfs[i];
                        bool has_domain = v->domain && strcmp(v->domain, "/") != 0;

                        json_begin_object(&w);
                        json_field_string(&w, "id", v->id);
                        json_field_string(&w, "object", v->object);
                        json_field_string(&w, "pool", v->pool);
                        json_field_string(&w, "state", v->state);
                        json_key(&w, "domain");
                        if (has_domain)
                                json_string(&w, vfo_domain_name(bus, v->domain));
                        else
                                json_null(&w);
                        json_field_string(&w, "mac", v->mac);
                        json_field_string(&w, "pf", v->pf);
                        json_field_uint(&w, "index", v->index);
                        json_end_object(&w);
                }
                json_end_array(&w);
                json_end_line(&w);
        } else {
                _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);

                if (!t) {
                        FREE_LIST(vfs, n, vfo_vf_done);
                        return ctl_error(EXIT_FAILED, "Out of memory.");
                }
                for (size_t i = 0; i < n; i++) {
                        const VfoVf *v = &vfs[i];
                        char index[16];
                        const char *row[] = { v->id, v->pool, v->state, vfo_domain_name(bus, v->domain),
                                              v->mac, v->pf, index };

                        snprintf(index, sizeof(index), "%" PRIu32, v->index);
                        (void) table_add_row(t, row);
                }
                if (n > 0)
                        table_print(t, stdout, true);
                else if (!arg_quiet)
                        printf("No VFs.\n");
        }

        FREE_LIST(vfs, n, vfo_vf_done);
        return EXIT_OK;
}

static int cmd_jobs(sd_bus *bus, char **args) {
        _cleanup_(vfo_manager_done) VfoManager m = {};
        VfoJob *jobs = NULL;
        size_t n = 0;
        int r;

        r = load_manager(bus, &m);
        if (r < 0)
                return -r;
        r = load_jobs(bus, m.jobs, &jobs, &n);
        if (r < 0)
                return -r;
        qsort(jobs, n, sizeof(VfoJob), job_compare);

        if (arg_json) {
                JsonWriter w = JSON_WRITER_INIT(stdout);

                json_begin_array(&w);
                for (size_t i = 0; i < n; i++) {
                        json_begin_object(&w);
                        json_job_fields(&w, bus, &jobs[i]);
                        json_end_object(&w);
                }
                json_end_array(&w);
                json_end_line(&w);
        } else if (n > 0)
                print_jobs_table(bus, jobs, n, true);
        else if (!arg_quiet)
                printf("No jobs.\n");

        FREE_LIST(jobs, n, vfo_job_done);
        return EXIT_OK;
}

/* Lower-case xx:xx:xx:xx:xx:xx into buf, or -EINVAL. */
static int normalize_mac(const char *s, char buf[static 18]) {
        if (strlen(s) != 17)
                return -EINVAL;
        for (size_t i = 0; i < 17; i++) {
                if (i % 3 == 2) {
                        if (s[i] != ':')
                                return -EINVAL;
                        buf[i] = ':';
                } else {
                        if (!isxdigit((unsigned char) s[i]))
                                return -EINVAL;
                        buf[i] = (char) tolower((unsigned char) s[i]);
                }
        }
        buf[17] = '\0';
        return 0;
}

static int cmd_attach_detach(sd_bus *bus, char **args, const char *method) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char mac[18] = "";
        const char *job;
        int r;

        if (args[1] && normalize_mac(args[1], mac) < 0)
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

        if (arg_no_wait) {
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

        return follow_job(bus, job, false);
}

static int cmd_attach(sd_bus *bus, char **args) {
        return cmd_attach_detach(bus, args, "Attach");
}

static int cmd_detach(sd_bus *bus, char **args) {
        return cmd_attach_detach(bus, args, "Detach");
}

/* The checks of the migrate options that need the verb (run() calls it). */
static int migrate_check_args(char **args) {
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
                r = migrate_parse_uint(arg_timeout_string, UINT32_MAX, &t);
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

static int cmd_migrate(sd_bus *bus, char **args) {
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

        if (arg_no_wait) {
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

        return follow_job(bus, job, true);
}

static int cmd_set_policy(sd_bus *bus, char **args) {
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

static int cmd_clear_policy(sd_bus *bus, char **args) {
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

static int cmd_reload(sd_bus *bus, char **args) {
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

static int cmd_monitor_args(sd_bus *bus, char **args) {
        return cmd_monitor(bus);
}

typedef struct Verb {
        const char *name;
        unsigned min_args;
        unsigned max_args;
        int (*run)(sd_bus *bus, char **args);
} Verb;

static const Verb verbs[] = {
        { "status", 0, 0, cmd_status },
        { "domains", 0, 0, cmd_domains },
        { "pools", 0, 0, cmd_pools },
        { "vfs", 0, 0, cmd_vfs },
        { "jobs", 0, 0, cmd_jobs },
        { "attach", 1, 2, cmd_attach },
        { "detach", 1, 2, cmd_detach },
        { "migrate", 2, 3, cmd_migrate },
        { "set-policy", 1, 1, cmd_set_policy },
        { "clear-policy", 1, 1, cmd_clear_policy },
        { "reload", 0, 0, cmd_reload },
        { "monitor", 0, 0, cmd_monitor_args },
};

static void help(void) {
        printf("%s [OPTIONS...] COMMAND [ARGS...]\n\n"
               "Control vfod, the host daemon that moves VMs' ports between SR-IOV VFs and their\n"
               "synthetic NICs without losing packets.\n\n"
               "Commands:\n"
               "  status                  vfod's version, libvirt connection, pools, running jobs\n"
               "                          (the default command)\n"
               "  domains                 Domains using vfo: state, agent, policy, ports\n"
               "  pools                   VF pools: type, steering, total, free, waiting ports\n"
               "  vfs                     Every VF: pool, state, holder\n"
               "  jobs                    Running jobs and the last finished ones\n"
               "  attach DOMAIN [MAC]     Give a port a VF gracefully and wait for the job\n"
               "                          (default: the first port without a VF)\n"
               "  detach DOMAIN [MAC]     Take a port's VF away gracefully and wait for the job\n"
               "                          (default: the first port holding a VF)\n"
               "  set-policy DOMAIN [--pool NAME] [--priority N] [--required yes|no]\n"
               "                          Opt a domain in, or change its policy; options not given\n"
               "                          keep their value (new: pool \"\", priority 100, required no)\n"
               "  clear-policy DOMAIN     Opt a domain out; a VF it holds is detached gracefully\n"
               "  migrate DOMAIN DEST-URI [MIGRATE-URI] [MIGRATE OPTIONS]\n"
               "                          Live-migrate a domain like 'virsh migrate', its VFs\n"
               "                          detached first and given again on the destination; wait\n"
               "                          for the job (Ctrl-C cancels it and rolls back)\n"
               "  reload                  Make vfod re-read vfod.conf\n"
               "  monitor                 Print every change of vfod's objects until interrupted\n\n"
               "Options:\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --json               Print JSON: one object or array, or JSON lines for\n"
               "                          progress and monitor\n"
               "  -q --quiet              No progress and no success messages; errors and\n"
               "                          requested listings are still printed\n"
               "     --no-wait            attach/detach/migrate: print the job's object path and\n"
               "                          return\n"
               "     --timeout SEC        attach/detach: stop waiting after SEC seconds (default 120;\n"
               "                          0 waits forever); the job itself goes on. migrate: see\n"
               "                          below\n"
               "     --pool NAME          set-policy: the pool (\"\" is the default pool)\n"
               "     --priority N         set-policy: 0..1000, higher wins a VF first\n"
               "     --required yes|no    set-policy: the domain must hold a VF to run well\n\n"
               "Migrate options (the names of virsh migrate):\n"
               "     --live               Live migration (the default; --offline is not supported)\n"
               "     --p2p                Peer-to-peer: the source libvirtd migrates (the default)\n"
               "     --direct, --no-p2p   vfod drives a managed migration over its own connection\n"
               "     --persistent         Define the domain on the destination too\n"
               "     --undefine-source    Undefine it on the source afterwards (--undefinesource)\n"
               "     --migrate-uri URI    Migration data URI, e.g. tcp://10.0.0.2 (--migrateuri)\n"
               "     --listen-address ADDR  Address the destination QEMU listens on\n"
               "     --bandwidth MIB      Bandwidth limit in MiB/s\n"
               "     --timeout SEC        Abort the migration after SEC seconds and roll back\n"
               "                          (whole seconds, 0: none). For migrate this is NOT the\n"
               "                          wait: vfoctl waits SEC + 120 s, or without --timeout\n"
               "                          as long as the migration takes\n"
               "     --resume             Resume a paused domain first instead of refusing\n"
               "     --destination-bus ADDRESS  D-Bus address of the destination's system bus\n"
               "                          (e.g. unix:path=/PATH; transports that run a\n"
               "                          program, unixexec:, are for root; default: ssh\n"
               "                          to the host of a qemu+ssh:// URI, else the\n"
               "                          destination's hook claims)\n"
               "     --managed-switchover  The destination takes the traffic before QEMU switches\n"
               "                          over, so nothing is lost in the downtime (needs the\n"
               "                          destination's bus; see vfod(8))\n"
               "     --verbose            Accepted for virsh compatibility (progress is shown\n"
               "                          on a terminal anyway)\n\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  failure: the job failed, or another error\n"
               "  2  usage error (bad command line, or vfod's InvalidArgument)\n"
               "  3  no such domain, port or pool\n"
               "  4  access denied (root and the group \"vfo\" may change things)\n"
               "  5  vfod not reachable (not running, or no system bus)\n"
               "  6  busy, or no VF free (migrate: also on the destination)\n"
               "A failed job exits as its error; a cancelled or paused-refused migration exits 1.\n\n"
               "'vfoctl hook qemu …' is libvirt's hook (see vfoctl(1)), not for interactive use.\n"
               "The system bus is DBUS_SYSTEM_BUS_ADDRESS if set. See vfoctl(1) and org.vfo1(5).\n",
               program_invocation_short_name);
}

static int parse_bool_arg(const char *s) {
        static const char *const yes[] = { "yes", "y", "true", "on", "1" };
        static const char *const no[] = { "no", "n", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

/* Returns 1 to go on, 0 to exit successfully, or -EXIT_* after printing. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_WAIT,
                ARG_TIMEOUT,
                ARG_POOL,
                ARG_PRIORITY,
                ARG_REQUIRED,
                ARG_LIVE,
                ARG_OFFLINE,
                ARG_P2P,
                ARG_NO_P2P,
                ARG_PERSISTENT,
                ARG_UNDEFINE_SOURCE,
                ARG_MIGRATE_URI,
                ARG_LISTEN_ADDRESS,
                ARG_BANDWIDTH,
                ARG_RESUME,
                ARG_DESTINATION_BUS,
                ARG_MANAGED_SWITCHOVER,
                ARG_VERBOSE,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "no-wait", no_argument, NULL, ARG_NO_WAIT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "pool", required_argument, NULL, ARG_POOL },
                { "priority", required_argument, NULL, ARG_PRIORITY },
                { "required", required_argument, NULL, ARG_REQUIRED },
                /* migrate, with virsh migrate's names (and its spellings) */
                { "live", no_argument, NULL, ARG_LIVE },
                { "offline", no_argument, NULL, ARG_OFFLINE },
                { "p2p", no_argument, NULL, ARG_P2P },
                { "direct", no_argument, NULL, ARG_NO_P2P },
                { "no-p2p", no_argument, NULL, ARG_NO_P2P },
                { "persistent", no_argument, NULL, ARG_PERSISTENT },
                { "undefine-source", no_argument, NULL, ARG_UNDEFINE_SOURCE },
                { "undefinesource", no_argument, NULL, ARG_UNDEFINE_SOURCE },
                { "migrate-uri", required_argument, NULL, ARG_MIGRATE_URI },
                { "migrateuri", required_argument, NULL, ARG_MIGRATE_URI },
                { "listen-address", required_argument, NULL, ARG_LISTEN_ADDRESS },
                { "bandwidth", required_argument, NULL, ARG_BANDWIDTH },
                { "resume", no_argument, NULL, ARG_RESUME },
                { "destination-bus", required_argument, NULL, ARG_DESTINATION_BUS },
                { "managed-switchover", no_argument, NULL, ARG_MANAGED_SWITCHOVER },
                { "verbose", no_argument, NULL, ARG_VERBOSE },
                {}
        };
        char *end;
        double d;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vfoctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_NO_WAIT:
                        arg_no_wait = true;
                        break;
                case ARG_TIMEOUT:
                        errno = 0;
                        d = strtod(optarg, &end);
                        if (errno != 0 || end == optarg || *end != '\0' || !isfinite(d) || d < 0 ||
                            d > 365.0 * 24 * 3600)
                                return -ctl_error(EXIT_USAGE,
                                                  "Invalid --timeout '%s' (seconds, 0 waits forever).",
                                                  optarg);
                        arg_timeout = (usec_t) (d * (double) USEC_PER_SEC);
                        if (arg_timeout == 0 && d > 0)
                                arg_timeout = 1;
                        arg_timeout_string = optarg;
                        break;
                case ARG_POOL:
                        arg_pool = optarg;
                        break;
                case ARG_PRIORITY:
                        errno = 0;
                        arg_priority = strtol(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end != '\0' || arg_priority < 0 ||
                            arg_priority > 1000)
                                return -ctl_error(EXIT_USAGE, "Invalid --priority '%s' (0..1000).", optarg);
                        break;
                case ARG_REQUIRED:
                        arg_required = parse_bool_arg(optarg);
                        if (arg_required < 0)
                                return -ctl_error(EXIT_USAGE, "Invalid --required '%s' (yes or no).", optarg);
                        break;
                case ARG_LIVE:
                        arg_migrate.live = true;
                        arg_migrate_any = true;
                        break;
                case ARG_OFFLINE:
                        return -ctl_error(EXIT_USAGE,
                                          "--offline is not supported: vfoctl migrate moves running domains "
                                          "(use 'virsh migrate --offline' for a domain that is shut off).");
                case ARG_P2P:
                case ARG_NO_P2P: {
                        int p2p = c == ARG_P2P;

                        if (arg_migrate.p2p >= 0 && arg_migrate.p2p != p2p)
                                return -ctl_error(EXIT_USAGE,
                                                  "--p2p and --direct/--no-p2p exclude each other.");
                        arg_migrate.p2p = p2p;
                        arg_migrate_any = true;
                        break;
                }
                case ARG_PERSISTENT:
                        arg_migrate.persistent = true;
                        arg_migrate_any = true;
                        break;
                case ARG_UNDEFINE_SOURCE:
                        arg_migrate.undefine_source = true;
                        arg_migrate_any = true;
                        break;
                case ARG_MIGRATE_URI:
                        if (!*optarg)
                                return -ctl_error(EXIT_USAGE, "--migrate-uri must not be empty.");
                        arg_migrate.migrate_uri = optarg;
                        arg_migrate_any = true;
                        break;
                case ARG_LISTEN_ADDRESS:
                        if (!*optarg)
                                return -ctl_error(EXIT_USAGE, "--listen-address must not be empty.");
                        arg_migrate.listen_address = optarg;
                        arg_migrate_any = true;
                        break;
                case ARG_BANDWIDTH:
                        if (migrate_parse_uint(optarg, UINT32_MAX, &arg_migrate.bandwidth) < 0 ||
                            arg_migrate.bandwidth == 0)
                                return -ctl_error(EXIT_USAGE,
                                                  "Invalid --bandwidth '%s' (MiB/s, a whole number > 0).",
                                                  optarg);
                        arg_migrate.bandwidth_set = true;
                        arg_migrate_any = true;
                        break;
                case ARG_RESUME:
                        arg_migrate.resume = true;
                        arg_migrate_any = true;
                        break;
                case ARG_MANAGED_SWITCHOVER:
                        arg_migrate.managed_switchover = true;
                        arg_migrate_any = true;
                        break;
                case ARG_DESTINATION_BUS:
                        if (!*optarg)
                                return -ctl_error(EXIT_USAGE, "--destination-bus must not be empty.");
                        arg_migrate.destination_bus = optarg;
                        arg_migrate_any = true;
                        break;
                case ARG_VERBOSE:
                        /* virsh migrate --verbose: progress is shown anyway */
                        arg_migrate_any = true;
                        break;
                case ':':
                        return -ctl_error(EXIT_USAGE, "Option '%s' needs an argument (see --help).",
                                          argv[optind - 1]);
                case '?':
                        if (optopt != 0)
                                return -ctl_error(EXIT_USAGE, "Unknown option '-%c' (see --help).", optopt);
                        return -ctl_error(EXIT_USAGE, "Unknown option '%s' (see --help).", argv[optind - 1]);
                default:
                        assert_not_reached();
                }
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *verb_name, *e;
        const Verb *verb = NULL;
        char **args;
        unsigned n_args;
        int r;

        log_set_target(LOG_TARGET_STDERR);
        e = getenv("VFOCTL_LOG_LEVEL");
        if (e) {
                r = log_level_from_string(e);
                if (r >= 0)
                        log_set_max_level(r);
        } else
                log_set_max_level(LOG_WARNING);

        /* libvirt's hook: before getopt, which must not see (or refuse) libvirt's arguments */
        if (argc > 1 && strcmp(argv[1], "hook") == 0)
                return cmd_hook(argc - 1, argv + 1);

        r = parse_argv(argc, argv);
        if (r <= 0)
                return -r;

        verb_name = optind < argc ? argv[optind] : "status";
        args = optind < argc ? argv + optind + 1 : argv + argc;
        n_args = optind < argc ? (unsigned) (argc - optind - 1) : 0;

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, verb_name) == 0)
                        verb = &verbs[i];
        if (!verb)
                return ctl_error(EXIT_USAGE, "Unknown command '%s' (see --help).", verb_name);
        if (n_args < verb->min_args)
                return ctl_error(EXIT_USAGE, "'%s' needs %s (see --help).", verb->name,
                                 verb->min_args == 1   ? "a DOMAIN"
                                 : verb->min_args == 2 ? "a DOMAIN and a DEST-URI"
                                                       : "more arguments");
        if (n_args > verb->max_args)
                return ctl_error(EXIT_USAGE, "Unexpected argument '%s' for '%s' (see --help).",
                                 args[verb->max_args], verb->name);
        if ((arg_pool || arg_priority >= 0 || arg_required >= 0) && verb->run != cmd_set_policy)
                return ctl_error(EXIT_USAGE, "--pool, --priority and --required go with set-policy.");
        if (arg_migrate_any && verb->run != cmd_migrate)
                return ctl_error(EXIT_USAGE, "--live, --p2p, --direct, --persistent, --undefine-source, "
                                             "--migrate-uri, --listen-address, --bandwidth, --resume, "
                                             "--destination-bus and --verbose go with migrate.");
        if (verb->min_args > 0 && args[0][0] == '\0')
                return ctl_error(EXIT_USAGE, "The domain name must not be empty.");
        if (verb->run == cmd_migrate) {
                r = migrate_check_args(args);
                if (r < 0)
                        return -r;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                e = getenv("DBUS_SYSTEM_BUS_ADDRESS");
                return ctl_error(EXIT_UNREACHABLE, "Cannot connect to the system bus (%s): %s.",
                                 e ?: "unix:path=/run/dbus/system_bus_socket", strerror(-r));
        }

        return verb->run(bus, args);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        vfo_name_cache_clear();
        fflush(stdout);
        if (ferror(stdout) && r == EXIT_OK)
                r = ctl_error(EXIT_FAILED, "Cannot write the output.");
        return r;
}
