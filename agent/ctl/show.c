/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: the commands that show what vfod holds: status, domains, pools,
 * vfs, jobs. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/common.h"
#include "agent/ctl/vfoctl.h"
#include "lib/string-util.h"

static void json_pool(JsonWriter *w, const VfoPool *p) {
        json_begin_object(w);
        json_field_string(w, "name", p->name);
        json_field_string(w, "object", p->object);
        json_field_string(w, "type", p->type);
        json_field_string(w, "steering", p->steering);
        json_field_uint(w, "total", p->total);
        json_field_uint(w, "free", p->free);
        json_field_uint(w, "waiting", p->waiting);
        json_field_bool(w, "drained", p->drained);
        json_key(w, "vfs");
        json_begin_array(w);
        for (char **i = p->vfs; i && *i; i++) {
                _cleanup_free_ char *id = vfo_path_id(*i, VFO_VF_PREFIX);

                json_string(w, id ?: *i);
        }
        json_end_array(w);
        json_end_object(w);
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

static void print_pools_table(const VfoPool *pools, size_t n) {
        static const char *const headers[] = { "POOL", "TYPE", "STEERING", "TOTAL", "FREE", "WAITING", "DRAINED" };
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);

        if (!t) {
                (void) ctl_error(EXIT_FAILED, "Out of memory.");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                char total[16], nfree[16], waiting[16];
                const char *row[] = {pools[i].name, pools[i].type, pools[i].steering, total, nfree, waiting,
                                     yes_no(pools[i].drained)};

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
                "JOB", "KIND", "REASON", "DOMAIN", "MAC", "PHASE", "PROGRESS", "STATE", "DURATION", "LOSS", "ERROR",
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
                        duration, jobs[i].loss ?: "unknown", error_name_short(jobs[i].error),
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

int cmd_status(sd_bus *bus, char **args) {
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

int cmd_domains(sd_bus *bus, char **args) {
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

int cmd_pools(sd_bus *bus, char **args) {
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

int cmd_vfs(sd_bus *bus, char **args) {
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

int cmd_jobs(sd_bus *bus, char **args) {
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
