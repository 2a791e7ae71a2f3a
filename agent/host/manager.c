/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager: lookups, the journal it writes, the reconcile with libvirt
 * at start and reconnect, libvirt's events, and its lifecycle (new, start,
 * reload, free). Domains are in domain.c, the placement of VFs in
 * placement.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "agent/host/forward.h"
#include "agent/host/job.h"
#include "agent/host/journal.h"
#include "agent/host/manager.h"
#include "agent/host/migrate.h"
#include "agent/host/scheduler.h"
#include "lib/log.h"
#include "lib/string-table.h"
#include "lib/string-util.h"
#include "lib/validate.h"

/* ------------------------------------------------------------- lookups */

Pool *manager_find_pool(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_pools; i++)
                if (strcmp(m->pools[i]->config.name, name) == 0)
                        return m->pools[i];
        return NULL;
}

Pool *manager_pool_for_name(Manager *m, const char *name) {
        if (name && name[0])
                return manager_find_pool(m, name);
        if (m->config->default_pool)
                return manager_find_pool(m, m->config->default_pool);
        return m->n_pools > 0 ? m->pools[0] : NULL;
}

Pool *manager_pool_for(Manager *m, const Domain *d) {
        if (!domain_opted_in(d))
                return NULL;
        return manager_pool_for_name(m, d->policy.pool);
}

Domain *manager_find_domain(Manager *m, const char *s) {
        for (size_t i = 0; i < m->n_domains; i++)
                if (!m->domains[i]->gone && strcasecmp(m->domains[i]->uuid, s) == 0)
                        return m->domains[i];
        for (size_t i = 0; i < m->n_domains; i++)
                if (!m->domains[i]->gone && strcmp(m->domains[i]->name, s) == 0)
                        return m->domains[i];
        return NULL;
}

Vf *manager_find_vf(Manager *m, const char *id) {
        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++)
                        if (strcmp(m->pools[i]->vfs[j]->id, id) == 0)
                                return m->pools[i]->vfs[j];
        return NULL;
}

Vf *manager_find_vf_by_alias(Manager *m, const char *alias) {
        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++)
                        if (strcmp(m->pools[i]->vfs[j]->alias, alias) == 0)
                                return m->pools[i]->vfs[j];
        return NULL;
}

usec_t manager_now(Manager *m) {
        uint64_t t;

        if (!m->event || sd_event_now(m->event, CLOCK_MONOTONIC, &t) < 0)
                return now_usec(CLOCK_MONOTONIC);
        return t;
}

Job *manager_find_job(Manager *m, uint64_t id) {
        for (size_t i = 0; i < m->n_jobs; i++)
                if (m->jobs[i]->id == id)
                        return m->jobs[i];
        return NULL;
}

bool vf_incoming_claimed(const Vf *vf) {
        return vf->incoming_uuid[0] && manager_now(vf->manager) < vf->incoming_until;
}

static bool vf_incoming_for(const Vf *vf, const Port *p) {
        return p && vf_incoming_claimed(vf) && strcasecmp(vf->incoming_uuid, p->domain->uuid) == 0 &&
               strcasecmp(vf->incoming_mac, p->mac) == 0;
}

unsigned pool_count_free(const Pool *p) {
        unsigned n = 0;

        for (size_t i = 0; i < p->n_vfs; i++)
                n += p->vfs[i]->state == VF_FREE && !p->vfs[i]->reserved_for && !vf_incoming_claimed(p->vfs[i]);
        return n;
}

Vf *pool_first_free(Pool *p, const Port *for_port) {
        /* first a VF held for this very port (preemption, migration), then any */
        for (size_t i = 0; i < p->n_vfs; i++)
                if (p->vfs[i]->state == VF_FREE && for_port &&
                    (p->vfs[i]->reserved_for == for_port || vf_incoming_for(p->vfs[i], for_port)))
                        return p->vfs[i];
        for (size_t i = 0; i < p->n_vfs; i++)
                if (p->vfs[i]->state == VF_FREE && !p->vfs[i]->reserved_for && !vf_incoming_claimed(p->vfs[i]))
                        return p->vfs[i];
        return NULL;
}

int manager_claim_incoming(Manager *m, Pool *pool, const char *uuid, char **macs, size_t n_macs, bool required,
                           usec_t lifetime, char **ret_message) {
        usec_t until = usec_add(manager_now(m), lifetime);
        size_t claimed = 0, missing = 0;

        /* drop what an earlier attempt for this domain claimed */
        for (size_t i = 0; i < pool->n_vfs; i++)
                if (strcasecmp(pool->vfs[i]->incoming_uuid, uuid) == 0)
                        pool->vfs[i]->incoming_uuid[0] = 0;

        /* A drained pool claims nothing: the domain may come and run
         * synthetic, unless it requires a VF. */
        if (pool->drained) {
                if (ret_message && asprintf(ret_message,
                                            "Pool %s on this host is drained for host servicing%s",
                                            pool->config.name,
                                            required ? ", and the domain requires a VF." : "; the domain runs synthetic until it is restored.") < 0)
                        *ret_message = NULL;
                return required && n_macs > 0 ? -ENOSPC : 0;
        }

        for (size_t k = 0; k < n_macs; k++) {
                Vf *vf = NULL;

                for (size_t i = 0; i < pool->n_vfs && !vf; i++)
                        if (pool->vfs[i]->state == VF_FREE && !pool->vfs[i]->reserved_for &&
                            !vf_incoming_claimed(pool->vfs[i]))
                                vf = pool->vfs[i];
                if (!vf) {
                        missing++;
                        continue;
                }
                snprintf(vf->incoming_uuid, sizeof(vf->incoming_uuid), "%s", uuid);
                snprintf(vf->incoming_mac, sizeof(vf->incoming_mac), "%s", macs[k]);
                vf->incoming_until = until;
                claimed++;
        }
        if (missing > 0 && required) {
                for (size_t i = 0; i < pool->n_vfs; i++)
                        if (strcasecmp(pool->vfs[i]->incoming_uuid, uuid) == 0)
                                pool->vfs[i]->incoming_uuid[0] = 0;
                if (ret_message && asprintf(ret_message,
                                            "Pool %s on this host has no free VF for %zu of %zu ports (%zu VFs, all in use or claimed), and the domain requires one.",
                                            pool->config.name, missing, n_macs, pool->n_vfs) < 0)
                        *ret_message = NULL;
                pool_changed(pool);
                return -ENOSPC;
        }
        if (ret_message && asprintf(ret_message, "pool %s: %zu of %zu ports have a VF claimed%s", pool->config.name,
                                    claimed, n_macs, missing ? "; the others run synthetic until one frees" : "") < 0)
                *ret_message = NULL;
        pool_changed(pool);
        return (int) claimed;
}

/* ---------------------------------------------------------------- journal */

static int journal_build(Manager *m, JournalState *s) {
        *s = (JournalState) { .next_job_id = m->next_job_id };

        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++) {
                        Vf *vf = m->pools[i]->vfs[j];
                        JournalClaim *c;

                        if (!vf->holder)
                                continue;
                        c = reallocarray(s->claims, s->n_claims + 1, sizeof(*c));
                        if (!c)
                                return -ENOMEM;
                        s->claims = c;
                        c += s->n_claims++;
                        *c = (JournalClaim) {};
                        snprintf(c->vf, sizeof(c->vf), "%s", vf->id);
                        snprintf(c->domain, sizeof(c->domain), "%s", vf->holder->domain->uuid);
                        snprintf(c->mac, sizeof(c->mac), "%s", vf->holder->mac);
                }
        for (size_t i = 0; i < m->n_jobs; i++) {
                Job *job = m->jobs[i];
                JournalJob *jj;

                if (job->state != JOB_RUNNING || job->kind == JOB_MIGRATE)
                        continue;       /* migrations are not resumed: see migrate.c */
                jj = reallocarray(s->jobs, s->n_jobs + 1, sizeof(*jj));
                if (!jj)
                        return -ENOMEM;
                s->jobs = jj;
                jj += s->n_jobs++;
                *jj = (JournalJob) { .id = job->id };
                snprintf(jj->kind, sizeof(jj->kind), "%s", job_kind_to_string(job->kind));
                snprintf(jj->domain, sizeof(jj->domain), "%s", job->domain->uuid);
                snprintf(jj->mac, sizeof(jj->mac), "%s", job->mac);
                snprintf(jj->vf, sizeof(jj->vf), "%s", job->vf ? job->vf->id : "-");
                snprintf(jj->phase, sizeof(jj->phase), "%s", job_phase_to_string(job->phase));
        }
        for (size_t i = 0; i < m->n_pools; i++) {
                JournalDrained *dr;

                if (!m->pools[i]->drained)
                        continue;
                dr = reallocarray(s->drained, s->n_drained + 1, sizeof(*dr));
                if (!dr)
                        return -ENOMEM;
                s->drained = dr;
                dr += s->n_drained++;
                *dr = (JournalDrained) {};
                snprintf(dr->pool, sizeof(dr->pool), "%s", m->pools[i]->config.name);
        }
        return 0;
}

static int manager_build_journal(void *userdata, JournalState *ret) {
        return journal_build(userdata, ret);
}

int manager_save(Manager *m) {
        if (m->reconciled)      /* never overwrite the journal before it was read back */
                journal_mark_dirty(m->journal);
        return 0;
}

/* ------------------------------------------------------------- reconcile */

/* A migration this vfod drove when it died: see manager_reconcile(). */
static void on_reconcile_job_stats(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        Manager *m = userdata;
        Domain *d;

        if (r < 0 || !st || st->type == 0 || st->data_total == 0)
                return;
        d = manager_find_domain(m, uuid);
        if (!d || d->migration)
                return;
        log_notice("%s: a migration is running; QEMU switches it over by itself.", d->name);
        (void) virt_call(m->virt, &(VirtRequest) { .op = VIRT_OP_SET_MAX_DOWNTIME, .uuid = uuid, .ms = 300 },
                         m->config->libvirt_timeout, NULL, NULL, NULL);
}

static int manager_reconcile(Manager *m) {
        JournalState journal = {};
        VirtDomain *list = NULL;
        size_t n = 0;
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        bool first = !m->reconciled;
        int r;

        r = virt_list_domains(m->virt, &list, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list domains: %m");

        if (first) {
                (void) journal_load(m->journal, &journal);     /* an unreadable one is kept aside, logged */
                m->next_job_id = MAX(m->next_job_id, journal.next_job_id);
                /* Drained before the restart: still drained (before anything is granted). */
                for (size_t i = 0; i < journal.n_drained; i++) {
                        Pool *pool = manager_find_pool(m, journal.drained[i].pool);

                        if (pool)
                                pool_set_drained(pool, true);
                        else
                                log_warning("The journal says pool %s was drained, but vfod.conf has no such pool any more.",
                                            journal.drained[i].pool);
                }
        }

        for (size_t i = 0; i < m->n_domains; i++)
                m->domains[i]->inventory_pending = true;        /* reused as "seen" marker below */
        for (size_t i = 0; i < n; i++) {
                Domain *d = domain_get_or_new(m, list[i].uuid);
                if (!d) {
                        r = log_oom();
                        goto finish;
                }
                d->inventory_pending = false;
                domain_apply(d, list + i);
        }
        for (size_t i = 0; i < m->n_domains; i++) {
                Domain *d = m->domains[i];
                if (d->inventory_pending && !d->gone) {
                        domain_stopped(d, "gone while libvirt was away");
                        d->gone = true;
                        domain_set_state(d, VIRT_DOMAIN_SHUTOFF);
                        domain_agent_update(d);
                        domain_update_export(d);
                }
                d->inventory_pending = false;
        }
        for (size_t i = 0; i < m->n_domains; i++)
                domain_adopt_devices(m->domains[i], first ? &journal : NULL);

        /* A migration this vfod drove when it died waits for a switchover
         * that will not come (migrate.c holds QEMU's own back): give it to
         * QEMU again. */
        for (size_t i = 0; first && i < m->n_domains; i++) {
                Domain *d = m->domains[i];

                if (d->gone || d->state == VIRT_DOMAIN_SHUTOFF || !domain_opted_in(d))
                        continue;
                (void) virt_call(m->virt, &(VirtRequest) { .op = VIRT_OP_GET_JOB_STATS, .uuid = d->uuid },
                                 m->config->libvirt_timeout, on_reconcile_job_stats, m, NULL);
        }

        if (first) {
                /* Claims whose device is not there: released (the VF back to neutral). */
                for (size_t i = 0; i < journal.n_claims; i++) {
                        Vf *vf = manager_find_vf(m, journal.claims[i].vf);
                        if (vf && vf->state == VF_FREE) {
                                log_info("VF %s was claimed for %s but is not plugged: released.", vf->id,
                                         journal.claims[i].domain);
                                (void) pool_release(vf);
                        }
                }
                /* Interrupted jobs: re-run once the agent is there. */
                for (size_t i = 0; i < journal.n_jobs; i++) {
                        JournalJob *jj = journal.jobs + i;
                        Domain *d = manager_find_domain(m, jj->domain);
                        Port *p = d ? domain_find_port(d, jj->mac) : NULL;

                        if (!p || !p->vf) {
                                log_info("Job %" PRIu64 " (%s %s) was interrupted; nothing is plugged, nothing to finish.",
                                         jj->id, jj->kind, jj->mac);
                                continue;
                        }
                        p->recover = true;
                        snprintf(p->recover_kind, sizeof(p->recover_kind), "%s", jj->kind);
                        log_info("Job %" PRIu64 " (%s %s on %s, phase %s) was interrupted; it is finished when the agent answers.",
                                 jj->id, jj->kind, jj->mac, d->name, jj->phase);
                }
                m->reconciled = true;
                bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "Domains", NULL);
        }
        r = 0;
finish:
        m->reconcile_usec = now_usec(CLOCK_MONOTONIC) - t0;
        log_info("Reconciled %zu domains and %zu pools with libvirt in %.1f ms.", n, m->n_pools,
                 (double) m->reconcile_usec / 1000.0);
        virt_domain_free_array(list, n);
        journal_state_done(&journal);
        (void) manager_save(m);
        manager_schedule(m);
        return r;
}

/* -------------------------------------------------------- libvirt events */

static void on_virt_connection(Virt *v, bool up, void *userdata) {
        Manager *m = userdata;

        bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "LibvirtConnected", NULL);
        if (up) {
                log_info("Connected to libvirt (%s).", virt_get_uri(v));
                (void) manager_reconcile(m);
        } else
                log_warning("Lost the connection to libvirt; reconnecting.");
}

static void on_virt_lifecycle(Virt *v, const char *uuid, const char *name, VirtDomainState state, int event,
                              int detail, void *userdata) {
        Manager *m = userdata;
        Domain *d;
        VirtDomainState old;

        if (!m->reconciled)
                return;
        d = domain_get_or_new(m, uuid);
        if (!d)
                return;
        old = d->gone ? VIRT_DOMAIN_SHUTOFF : d->state;
        /* first, before the libvirt call of the refresh: the switchover */
        if (state == VIRT_DOMAIN_PAUSED && d->migration)
                migration_source_paused(d->migration);
        if (domain_refresh(d) < 0)
                return;
        if (old != VIRT_DOMAIN_SHUTOFF && d->state == VIRT_DOMAIN_SHUTOFF)
                domain_stopped(d, "stopped");
        else
                domain_adopt_devices(d, NULL);  /* VFs that came in with a migration started by others */
        if (d->state != old)
                log_info("%s: %s -> %s.", d->name, virt_domain_state_to_string(old),
                         virt_domain_state_to_string(d->state));
        if (d->state == VIRT_DOMAIN_RUNNING) {
                for (size_t i = 0; i < d->n_ports; i++)
                        pool_handover_done(d->ports[i]);
                forward_incoming_running(m, d->uuid);
        }
        manager_schedule(m);
}

Domain *domain_by_uuid(Manager *m, const char *uuid) {
        for (size_t i = 0; i < m->n_domains; i++)
                if (strcmp(m->domains[i]->uuid, uuid) == 0)
                        return m->domains[i];
        return NULL;
}

static void on_virt_device_removed(Virt *v, const char *uuid, const char *alias, void *userdata) {
        Manager *m = userdata;
        Domain *d = domain_by_uuid(m, uuid);
        Vf *vf = manager_find_vf_by_alias(m, alias);

        if (!d || !vf)
                return;
        for (size_t i = 0; i < d->n_vfo_aliases; i++)
                if (strcmp(d->vfo_aliases[i], alias) == 0) {
                        free(d->vfo_aliases[i]);
                        d->vfo_aliases[i] = d->vfo_aliases[--d->n_vfo_aliases];
                        break;
                }
        for (size_t i = 0; i < m->n_jobs; i++)
                if (m->jobs[i]->state == JOB_RUNNING && m->jobs[i]->vf == vf) {
                        job_device_removed(m->jobs[i], alias);
                        return;
                }
        /* Nobody of ours asked: someone unplugged it behind our back. */
        if (vf->holder && vf->holder->domain == d) {
                Port *p = vf->holder;

                log_warning("%s: VF %s was unplugged by someone else; it returns to the pool.", d->name, vf->id);
                port_set_vf(p, NULL);
                vf_set_state(vf, pool_release(vf) < 0 ? VF_BROKEN : VF_FREE, NULL);
                manager_schedule(m);
        }
}

static void on_virt_device_removal_failed(Virt *v, const char *uuid, const char *alias, void *userdata) {
        Manager *m = userdata;
        Vf *vf = manager_find_vf_by_alias(m, alias);

        for (size_t i = 0; vf && i < m->n_jobs; i++)
                if (m->jobs[i]->state == JOB_RUNNING && m->jobs[i]->vf == vf)
                        job_device_removal_failed(m->jobs[i], alias);
}

static void on_virt_metadata(Virt *v, const char *uuid, void *userdata) {
        Manager *m = userdata;
        Domain *d = domain_by_uuid(m, uuid);

        if (d && m->reconciled) {
                (void) domain_refresh(d);
                manager_schedule(m);
        }
}

/* ------------------------------------------------------------ lifecycle */

static int manager_load_pools(Manager *m, Config *config) {
        for (size_t i = 0; i < config->n_pools; i++) {
                Pool *p, **a;
                int r;

                r = pool_new(m, config->pools + i, &p);
                if (r < 0)
                        return log_error_errno(r, "Pool %s: %m", config->pools[i].name);
                a = reallocarray(m->pools, m->n_pools + 1, sizeof(Pool *));
                if (!a) {
                        pool_free(p);
                        return log_oom();
                }
                m->pools = a;
                m->pools[m->n_pools++] = p;
                log_info("Pool %s: %s, %zu VFs.", p->config.name, pool_type_to_string(p->config.type), p->n_vfs);
        }
        return 0;
}

int manager_new(sd_event *event, const char *config_path, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *msg = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        m->event = sd_event_ref(event);
        m->next_job_id = 1;
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return log_oom();

        r = config_load(config_path, &m->config, &msg);
        if (r < 0) {
                log_error("%s", msg ?: "Failed to load the configuration.");
                return r;
        }
        if (asprintf(&m->journal_path, "%s/journal", m->config->state_directory) < 0)
                return log_oom();
        r = journal_new(m->event, m->journal_path, manager_build_journal, m, &m->journal);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the journal: %m");
        r = manager_load_pools(m, m->config);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_start(Manager *m) {
        static const VirtCallbacks cb = {
                .connection = on_virt_connection,
                .lifecycle = on_virt_lifecycle,
                .device_removed = on_virt_device_removed,
                .device_removal_failed = on_virt_device_removal_failed,
                .metadata_changed = on_virt_metadata,
        };
        int r;

        if (mkdir(m->config->state_directory, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create %s: %m", m->config->state_directory);
        forward_remove_stale(m);
        r = virt_event_register(m->event);
        if (r < 0)
                return log_error_errno(r, "Cannot hook libvirt into the event loop: %m");
        r = virt_new(m->event, m->config->libvirt_uri, &cb, m, &m->virt);
        if (r < 0)
                return log_error_errno(r, "Cannot set up libvirt: %m");
        return 0;
}

int manager_reload(Manager *m, char **ret_message) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        r = config_load(m->config_path, &c, ret_message);
        if (r < 0)
                return r;
        /* Pools that exist keep their VFs and claims; settings apply to the
         * next attach. Adding or removing pools needs a restart. */
        if (c->n_pools != m->n_pools) {
                if (ret_message)
                        *ret_message = strdup("Adding or removing pools needs a restart of vfod; the old configuration stays in force.");
                return -EBUSY;
        }
        for (size_t i = 0; i < c->n_pools; i++)
                if (strcmp(c->pools[i].name, m->pools[i]->config.name) != 0 || c->pools[i].type != m->pools[i]->config.type ||
                    (c->pools[i].type == POOL_TYPE_EMULATED && c->pools[i].count != m->pools[i]->config.count)) {
                        if (ret_message)
                                (void) asprintf(ret_message,
                                                "Pool %s changed its name, type or size; that needs a restart of vfod. The old configuration stays in force.",
                                                m->pools[i]->config.name);
                        return -EBUSY;
                }
        for (size_t i = 0; i < c->n_pools; i++)
                m->pools[i]->config = c->pools[i];
        /* keep state directory and libvirt URI: they need a restart */
        free(c->libvirt_uri);
        c->libvirt_uri = m->config->libvirt_uri ? strdup(m->config->libvirt_uri) : NULL;
        free(c->state_directory);
        c->state_directory = strdup(m->config->state_directory);
        config_free(m->config);
        m->config = TAKE_PTR(c);
        log_info("Configuration reloaded from %s.", m->config_path);
        manager_schedule(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->journal = journal_free(m->journal);  /* writes what is pending, while all is there */
        while (m->n_jobs > 0)   /* job_free() looks at the jobs still listed */
                job_free(m->jobs[--m->n_jobs]);
        free(m->jobs);
        /* before the domains: a libvirt call nobody holds ends with
         * -ECANCELED, and its callback may look a domain up */
        m->virt = virt_free(m->virt);
        forward_close_all(m);
        for (size_t i = 0; i < m->n_domains; i++)
                domain_free(m->domains[i]);
        free(m->domains);
        for (size_t i = 0; i < m->n_pools; i++)
                pool_free(m->pools[i]);
        free(m->pools);
        sd_event_source_disable_unref(m->schedule_source);
        sd_event_source_disable_unref(m->schedule_timer);
        sd_event_source_disable_unref(m->refresh_source);
        sd_bus_flush_close_unref(m->bus);
        config_free(m->config);
        free(m->config_path);
        free(m->journal_path);
        sd_event_unref(m->event);
        return mfree(m);
}
