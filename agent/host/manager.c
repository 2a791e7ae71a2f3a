/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "agent/host/job.h"
#include "agent/host/journal.h"
#include "agent/host/manager.h"
#include "agent/host/scheduler.h"
#include "lib/log.h"
#include "lib/string-table.h"
#include "lib/string-util.h"
#include "lib/validate.h"

static const char *const vf_state_table[_VF_STATE_MAX] = {
        [VF_FREE] = "free",
        [VF_CLAIMED] = "claimed",
        [VF_ATTACHED] = "attached",
        [VF_RELEASING] = "releasing",
        [VF_BROKEN] = "broken",
};
DEFINE_STRING_TABLE_TO_STRING(vf_state, VfState, _VF_STATE_MAX);

static const char *const port_state_table[_PORT_STATE_MAX] = {
        [PORT_IDLE] = "idle",
        [PORT_WAITING] = "waiting",
        [PORT_ATTACHING] = "attaching",
        [PORT_DETACHING] = "detaching",
};
DEFINE_STRING_TABLE_TO_STRING(port_state, PortState, _PORT_STATE_MAX);

static void domain_update_export(Domain *d);
static void domain_agent_update(Domain *d);

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

Job *manager_find_job(Manager *m, uint64_t id) {
        for (size_t i = 0; i < m->n_jobs; i++)
                if (m->jobs[i]->id == id)
                        return m->jobs[i];
        return NULL;
}

Port *domain_find_port(Domain *d, const char *mac) {
        for (size_t i = 0; i < d->n_ports; i++)
                if (strcasecmp(d->ports[i]->mac, mac) == 0)
                        return d->ports[i];
        return NULL;
}

Port *domain_first_port(Domain *d, bool with_vf) {
        for (size_t i = 0; i < d->n_ports; i++)
                if (!!d->ports[i]->vf == with_vf)
                        return d->ports[i];
        return NULL;
}

bool domain_opted_in(const Domain *d) {
        return d->policy.present;
}

bool vf_incoming_claimed(const Vf *vf) {
        return vf->incoming_uuid[0] && now_usec(CLOCK_MONOTONIC) < vf->incoming_until;
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
        usec_t until = usec_add(now_usec(CLOCK_MONOTONIC), lifetime);
        size_t claimed = 0, missing = 0;

        /* drop what an earlier attempt for this domain claimed */
        for (size_t i = 0; i < pool->n_vfs; i++)
                if (strcasecmp(pool->vfs[i]->incoming_uuid, uuid) == 0)
                        pool->vfs[i]->incoming_uuid[0] = 0;

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

PortState port_get_state(const Port *p) {
        if (p->job)
                return p->job->kind == JOB_ATTACH ? PORT_ATTACHING : PORT_DETACHING;
        if (!p->vf && p->waiting_since > 0)
                return PORT_WAITING;
        return PORT_IDLE;
}

/* -------------------------------------------------- state change points */

void vf_set_state(Vf *vf, VfState state, Port *holder) {
        Domain *old = vf->holder ? vf->holder->domain : NULL;

        if (vf->state == state && vf->holder == holder)
                return;
        vf->state = state;
        vf->holder = state == VF_FREE || state == VF_BROKEN ? NULL : holder;
        (void) manager_save(vf->manager);
        bus_emit_changed(vf->manager, vf->path, VFO_VF_IFACE, "State", "Domain", "MAC", NULL);
        pool_changed(vf->pool);
        if (old)
                domain_update_export(old);
        if (vf->holder)
                domain_update_export(vf->holder->domain);
}

void port_set_vf(Port *p, Vf *vf) {
        if (p->vf == vf)
                return;
        p->vf = vf;
        if (!vf)
                p->vf_tap[0] = 0;
        p->last_change = now_usec(CLOCK_MONOTONIC);
        port_changed(p);
}

void vf_reserve(Vf *vf, Port *port) {
        if (vf->reserved_for == port)
                return;
        vf->reserved_for = port;
        pool_changed(vf->pool);         /* Free does not count a reserved VF */
}

void vf_unreserve(Vf *vf) {
        vf_reserve(vf, NULL);
}

void domain_set_state(Domain *d, VirtDomainState state) {
        if (d->state == state)
                return;
        d->state = state;
        domain_changed(d, "State");
}

void port_set_path(Port *p, Vfo__PathKind path) {
        if (!p || p->path == path)
                return;
        p->path = path;
        port_changed(p);
}

void port_changed(Port *p) {
        if (p)
                domain_changed(p->domain, "Ports");
}

void domain_changed(Domain *d, const char *property) {
        if (d->exported)
                bus_emit_changed(d->manager, d->path, VFO_DOMAIN_IFACE, property, NULL);
}

void pool_changed(Pool *p) {
        bus_emit_changed(p->manager, p->path, VFO_POOL_IFACE, "Free", "Waiting", NULL);
}

static void domain_update_export(Domain *d) {
        bool want = !d->gone && (domain_opted_in(d) || domain_first_port(d, true));

        if (want == d->exported)
                return;
        d->exported = want;
        bus_domain_exported(d, want);
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

/* -------------------------------------------------------------- domains */

static void on_agent_state(AgentConn *a, bool synced, void *userdata);
static void on_agent_event(AgentConn *a, const Vfo__Envelope *e, void *userdata);

static void domain_agent_update(Domain *d) {
        bool want = !d->gone && d->state != VIRT_DOMAIN_SHUTOFF && d->channel_path;

        if (want && d->agent && strcmp(agent_conn_get_path(d->agent), d->channel_path) != 0)
                d->agent = agent_conn_free(d->agent);
        if (want && !d->agent) {
                static const AgentCallbacks cb = { .state = on_agent_state, .event = on_agent_event };
                int r = agent_conn_new(d->manager->event, d->channel_path, d->name, &cb, d, &d->agent);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot set up the agent channel: %m", d->name);
        } else if (!want && d->agent) {
                d->agent = agent_conn_free(d->agent);
                domain_changed(d, "AgentConnected");
        }
}

static Port *port_new(Domain *d, const char *mac) {
        Port *p = calloc(1, sizeof(*p)), **a;

        if (!p)
                return NULL;
        p->domain = d;
        snprintf(p->mac, sizeof(p->mac), "%s", mac);
        p->path = VFO__PATH_KIND__PATH_KIND_UNSPECIFIED;
        a = reallocarray(d->ports, d->n_ports + 1, sizeof(Port *));
        if (!a)
                return mfree(p);
        d->ports = a;
        d->ports[d->n_ports++] = p;
        return p;
}

static void port_free(Manager *m, Port *p) {
        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++)
                        if (m->pools[i]->vfs[j]->reserved_for == p)
                                vf_unreserve(m->pools[i]->vfs[j]);
        sd_event_source_disable_unref(p->handover_timer);
        free(p);
}

/* Takes what vfod needs from libvirt's view of the domain. */
static void domain_apply(Domain *d, VirtDomain *v) {
        Manager *m = d->manager;
        bool policy_changed = memcmp(&d->policy, &v->policy, sizeof(v->policy)) != 0;
        snprintf(d->name, sizeof(d->name), "%s", v->name);
        domain_set_state(d, v->state);
        d->persistent = v->persistent;
        d->policy = v->policy;
        d->gone = false;
        free(d->channel_path);
        d->channel_path = TAKE_PTR(v->channel_path);
        for (size_t i = 0; i < d->n_vfo_aliases; i++)
                free(d->vfo_aliases[i]);
        free(d->vfo_aliases);
        d->vfo_aliases = TAKE_PTR(v->vfo_aliases);
        d->n_vfo_aliases = v->n_vfo_aliases;
        v->n_vfo_aliases = 0;

        /* ports: the synthetic NICs (virtio, not plugged by vfod) */
        for (size_t i = 0; i < v->n_interfaces; i++) {
                VirtInterface *ifc = v->interfaces + i;
                Port *p;

                if (startswith(ifc->alias, VIRT_VF_ALIAS_PREFIX) || strcmp(ifc->model, "virtio") != 0 ||
                    !ifc->mac[0])
                        continue;
                p = domain_find_port(d, ifc->mac) ?: port_new(d, ifc->mac);
                if (!p) {
                        log_oom();
                        continue;
                }
                snprintf(p->synthetic_tap, sizeof(p->synthetic_tap), "%s", ifc->target);
                p->link_down = ifc->link_down;
                p->vf_tap[0] = 0;
        }
        /* emulated VFs: their tap; and ports whose NIC is gone */
        for (size_t i = 0; i < v->n_interfaces; i++) {
                VirtInterface *ifc = v->interfaces + i;
                Port *p;

                if (!startswith(ifc->alias, VIRT_VF_ALIAS_PREFIX))
                        continue;
                p = domain_find_port(d, ifc->mac);
                if (p)
                        snprintf(p->vf_tap, sizeof(p->vf_tap), "%s", ifc->target);
        }
        for (size_t i = 0; i < d->n_ports;) {
                Port *p = d->ports[i];
                bool present = false;

                for (size_t k = 0; k < v->n_interfaces; k++)
                        present = present || strcasecmp(v->interfaces[k].mac, p->mac) == 0;
                if (present || p->job || p->vf) {
                        i++;
                        continue;
                }
                memmove(d->ports + i, d->ports + i + 1, (d->n_ports - i - 1) * sizeof(Port *));
                d->n_ports--;
                port_free(m, p);
        }

        domain_agent_update(d);
        domain_update_export(d);
        if (policy_changed) {
                domain_changed(d, "OptedIn");
                domain_changed(d, "Pool");
                domain_changed(d, "Priority");
                domain_changed(d, "Required");
        }
        domain_changed(d, "Ports");
}

static Domain *domain_get_or_new(Manager *m, const char *uuid) {
        Domain *d, **a;

        for (size_t i = 0; i < m->n_domains; i++)
                if (strcmp(m->domains[i]->uuid, uuid) == 0)
                        return m->domains[i];
        d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->manager = m;
        snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
        d->state = VIRT_DOMAIN_SHUTOFF;
        if (sd_bus_path_encode(VFO_DOMAIN_PREFIX, uuid, &d->path) < 0)
                return mfree(d);
        a = reallocarray(m->domains, m->n_domains + 1, sizeof(Domain *));
        if (!a) {
                free(d->path);
                return mfree(d);
        }
        m->domains = a;
        m->domains[m->n_domains++] = d;
        return d;
}

static void domain_free(Domain *d) {
        agent_conn_free(d->agent);
        for (size_t i = 0; i < d->n_ports; i++)
                free(d->ports[i]);
        free(d->ports);
        for (size_t i = 0; i < d->n_vfo_aliases; i++)
                free(d->vfo_aliases[i]);
        free(d->vfo_aliases);
        free(d->channel_path);
        free(d->path);
        free(d);
}

/* The domain stopped or vanished: its devices went with it. */
static void domain_stopped(Domain *d, const char *why) {
        for (size_t i = 0; i < d->n_ports; i++) {
                Port *p = d->ports[i];

                if (p->job)
                        job_domain_lost(p->job, why);
                if (p->vf) {
                        Vf *vf = p->vf;

                        log_info("%s: %s; VF %s returns to pool %s.", d->name, why, vf->id, vf->pool->config.name);
                        port_set_vf(p, NULL);
                        vf_set_state(vf, pool_release(vf) < 0 ? VF_BROKEN : VF_FREE, NULL);
                }
                p->waiting_since = 0;
                p->recover = false;
                p->path = VFO__PATH_KIND__PATH_KIND_UNSPECIFIED;
        }
        /* claims of jobs that had not plugged yet */
        for (size_t i = 0; i < d->manager->n_pools; i++)
                for (size_t j = 0; j < d->manager->pools[i]->n_vfs; j++) {
                        Vf *vf = d->manager->pools[i]->vfs[j];
                        if (vf->holder && vf->holder->domain == d)
                                vf_set_state(vf, VF_FREE, NULL);
                }
        manager_schedule(d->manager);
}

int domain_refresh(Domain *d) {
        VirtDomain v = {};
        int r;

        r = virt_get_domain(d->manager->virt, d->uuid, &v);
        if (r == -ENOENT) {
                if (!d->gone) {
                        domain_stopped(d, "undefined");
                        d->gone = true;
                        domain_set_state(d, VIRT_DOMAIN_SHUTOFF);
                        domain_agent_update(d);
                        domain_update_export(d);
                }
                return r;
        }
        if (r < 0)
                return r;
        domain_apply(d, &v);
        virt_domain_done(&v);
        return 0;
}

/* Makes the VF of every vfo device in the domain's live XML held by it; a
 * VF already held by another domain is unplugged from this one (it must
 * never be in two). */
static void domain_adopt_devices(Domain *d, const JournalState *journal) {
        Manager *m = d->manager;

        if (d->state == VIRT_DOMAIN_SHUTOFF)
                return;
        for (size_t i = 0; i < d->n_vfo_aliases; i++) {
                Vf *vf = manager_find_vf_by_alias(m, d->vfo_aliases[i]);
                Port *p = NULL;

                if (!vf) {
                        if (startswith(d->vfo_aliases[i], VIRT_VF_ALIAS_PREFIX))
                                log_warning("%s: device %s is a VF vfod plugged, but no pool has it now; leaving it alone.",
                                            d->name, d->vfo_aliases[i]);
                        continue;
                }
                if (vf->holder && vf->holder->domain == d)
                        continue;       /* known already (held, or a job of ours plugs it) */
                if (vf->holder) {
                        log_error("VF %s is in %s and in %s; unplugging it from %s.", vf->id,
                                  vf->holder->domain->name, d->name, d->name);
                        (void) virt_call(m->virt, &(VirtRequest) { .op = VIRT_OP_DETACH_ALIAS, .uuid = d->uuid, .arg = vf->alias },
                                         m->config->libvirt_timeout, NULL, NULL, NULL);
                        continue;
                }
                /* which port: the one whose MAC the emulated NIC has (only
                 * that port has a vf_tap), else the journal's, else the first */
                for (size_t k = 0; k < d->n_ports && !p; k++)
                        if (vf->pool->config.type == POOL_TYPE_EMULATED && d->ports[k]->vf_tap[0] && !d->ports[k]->vf)
                                p = d->ports[k];
                for (size_t k = 0; journal && k < journal->n_claims && !p; k++)
                        if (strcmp(journal->claims[k].vf, vf->id) == 0 && strcmp(journal->claims[k].domain, d->uuid) == 0)
                                p = domain_find_port(d, journal->claims[k].mac);
                if (!p)
                        p = domain_first_port(d, false);
                if (!p) {
                        log_warning("%s: VF %s is plugged but the domain has no synthetic port for it.", d->name, vf->id);
                        continue;
                }
                port_set_vf(p, vf);
                vf_set_state(vf, VF_ATTACHED, p);
                log_info("%s: holds VF %s on %s.", d->name, vf->id, p->mac);
        }
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

/* --------------------------------------------------------- agent events */

static void on_inventory(AgentConn *a, int error, const Vfo__Envelope *reply, void *userdata) {
        Domain *d = userdata;

        if (error < 0 || reply->body_case != VFO__ENVELOPE__BODY_INVENTORY_REPLY)
                return;
        for (size_t i = 0; i < reply->inventory_reply->n_ports; i++) {
                const Vfo__Port *ap = reply->inventory_reply->ports[i];
                Port *p = domain_find_port(d, ap->mac);

                if (p && !p->job)
                        port_set_path(p, ap->active_path);
        }
}

static void on_agent_state(AgentConn *a, bool synced, void *userdata) {
        Domain *d = userdata;

        domain_changed(d, "AgentConnected");
        domain_changed(d, "AgentVersion");
        if (synced) {
                Vfo__Envelope e = VFO__ENVELOPE__INIT;
                Vfo__InventoryRequest ir = VFO__INVENTORY_REQUEST__INIT;

                e.body_case = VFO__ENVELOPE__BODY_INVENTORY_REQUEST;
                e.inventory_request = &ir;
                (void) agent_conn_request(a, &e, d->manager->config->agent_timeout, on_inventory, d);
        }
        manager_schedule(d->manager);
}

static void on_agent_event(AgentConn *a, const Vfo__Envelope *e, void *userdata) {
        Domain *d = userdata;
        Port *p;

        if (e->body_case != VFO__ENVELOPE__BODY_PATH_CHANGED)
                return;
        p = domain_find_port(d, e->path_changed->mac);
        if (!p || p->path == e->path_changed->path)
                return;         /* nothing new: not worth a log line (agentconn.c limits how many come) */
        log_info("%s: the agent moved %s to the %s path on its own (reason %d).", d->name, p->mac,
                 e->path_changed->path == VFO__PATH_KIND__PATH_KIND_VF ? "VF" : "synthetic",
                 (int) e->path_changed->reason);
        port_set_path(p, e->path_changed->path);
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
        if (domain_refresh(d) < 0)
                return;
        if (old != VIRT_DOMAIN_SHUTOFF && d->state == VIRT_DOMAIN_SHUTOFF)
                domain_stopped(d, "stopped");
        else
                domain_adopt_devices(d, NULL);  /* VFs that came in with a migration started by others */
        if (d->state != old)
                log_info("%s: %s -> %s.", d->name, virt_domain_state_to_string(old),
                         virt_domain_state_to_string(d->state));
        if (d->state == VIRT_DOMAIN_RUNNING)
                for (size_t i = 0; i < d->n_ports; i++)
                        pool_handover_done(d->ports[i]);
        manager_schedule(m);
}

static Domain *domain_by_uuid(Manager *m, const char *uuid) {
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

/* ------------------------------------------------------------- scheduler */

static bool port_can_wait(Manager *m, Port *p) {
        Domain *d = p->domain;

        return !d->gone && d->state == VIRT_DOMAIN_RUNNING && manager_pool_for(m, d) && !p->vf && !p->manual_synthetic &&
               !p->migrating &&
               now_usec(CLOCK_MONOTONIC) >= p->retry_after &&
               (agent_conn_is_synced(d->agent) || m->config->no_agent == NO_AGENT_ABRUPT);
}

static int on_schedule_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_schedule(userdata);
        return 0;
}

static void manager_run_schedule(Manager *m) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        SchedPort *sp = NULL;
        Port **ports = NULL;
        size_t n = 0;
        unsigned *free_vfs = NULL;

        if (!m->reconciled || !virt_is_connected(m->virt))
                return;

        /* Keep the last JOBS_KEEP finished jobs. */
        while (m->n_jobs > 0) {
                size_t finished = 0, oldest = SIZE_MAX;
                for (size_t i = 0; i < m->n_jobs; i++)
                        if (m->jobs[i]->state != JOB_RUNNING) {
                                finished++;
                                if (oldest == SIZE_MAX)
                                        oldest = i;
                        }
                if (finished <= JOBS_KEEP)
                        break;
                bus_job_removed(m->jobs[oldest]);
                job_free(m->jobs[oldest]);
                memmove(m->jobs + oldest, m->jobs + oldest + 1, (m->n_jobs - oldest - 1) * sizeof(Job *));
                m->n_jobs--;
        }

        /* Who waits, and jobs that a restart interrupted. */
        for (size_t i = 0; i < m->n_domains; i++) {
                Domain *d = m->domains[i];

                for (size_t k = 0; k < d->n_ports; k++) {
                        Port *p = d->ports[k];
                        bool can = port_can_wait(m, p);

                        if (p->recover && !p->job && p->vf && agent_conn_is_synced(d->agent)) {
                                JobKind kind = job_kind_from_string(p->recover_kind);
                                p->recover = false;
                                (void) job_start(m, kind, JOB_REASON_RECOVERY, p, p->vf, NULL);
                        }
                        if (can && p->waiting_since == 0) {
                                p->waiting_since = now;
                                port_changed(p);
                        } else if (!can && p->waiting_since != 0) {
                                p->waiting_since = 0;
                                port_changed(p);
                        }
                        /* opted out, or moved to another pool: give the VF back */
                        if (p->vf && !p->job && d->state == VIRT_DOMAIN_RUNNING &&
                            manager_pool_for(m, d) != p->vf->pool)
                                (void) job_start(m, JOB_DETACH, JOB_REASON_POLICY, p, NULL, NULL);
                }
        }

        /* VFs claimed for a domain that migrated in: attach as soon as it runs */
        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++) {
                        Vf *vf = m->pools[i]->vfs[j];
                        Domain *d;
                        Port *p;

                        if (vf->state != VF_FREE || !vf_incoming_claimed(vf))
                                continue;
                        d = manager_find_domain(m, vf->incoming_uuid);
                        p = d ? domain_find_port(d, vf->incoming_mac) : NULL;
                        if (p && !p->job && port_can_wait(m, p) && manager_pool_for(m, d) == vf->pool &&
                            job_start(m, JOB_ATTACH, JOB_REASON_MIGRATE, p, vf, NULL) >= 0)
                                vf->incoming_uuid[0] = 0;
                }

        /* VFs a preemption freed for a particular port */
        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++) {
                        Vf *vf = m->pools[i]->vfs[j];
                        Port *p = vf->reserved_for;

                        if (!p || vf->state != VF_FREE)
                                continue;
                        if (!p->job && port_can_wait(m, p) && manager_pool_for(m, p->domain) == vf->pool)
                                (void) job_start(m, JOB_ATTACH,
                                                 p->domain->migration ? JOB_REASON_MIGRATE : JOB_REASON_PREEMPT, p, vf,
                                                 NULL);
                        else if (!p->migrating && (!p->job || p->job->kind != JOB_ATTACH))
                                vf_unreserve(vf);
                }

        for (size_t i = 0; i < m->n_domains; i++)
                n += m->domains[i]->n_ports;
        sp = calloc(n ?: 1, sizeof(*sp));
        ports = calloc(n ?: 1, sizeof(*ports));
        free_vfs = calloc(m->n_pools ?: 1, sizeof(*free_vfs));
        if (!sp || !ports || !free_vfs) {
                log_oom();
                goto finish;
        }

        for (unsigned round = 0; round < 64; round++) {
                SchedPlan plan;
                size_t k = 0;

                for (size_t i = 0; i < m->n_pools; i++)
                        free_vfs[i] = pool_count_free(m->pools[i]);
                for (size_t i = 0; i < m->n_domains; i++) {
                        Domain *d = m->domains[i];
                        Pool *pool = manager_pool_for(m, d);
                        size_t pool_index = 0;

                        if (!pool || d->gone)
                                continue;
                        while (m->pools[pool_index] != pool)
                                pool_index++;
                        for (size_t j = 0; j < d->n_ports; j++) {
                                Port *p = d->ports[j];
                                sp[k] = (SchedPort) {
                                        .pool = (unsigned) pool_index,
                                        .priority = d->policy.priority,
                                        .holds_vf = p->vf != NULL,
                                        .waiting = p->waiting_since != 0,
                                        .busy = p->job != NULL || p->recover || now < p->retry_after || p->migrating ||
                                                (p->vf && p->vf->pool != pool) || d->state != VIRT_DOMAIN_RUNNING,
                                        .waiting_since = p->waiting_since,
                                        .last_change = p->last_change,
                                };
                                /* a port a VF is reserved for is served by the loop above */
                                for (size_t q = 0; q < pool->n_vfs; q++)
                                        if (pool->vfs[q]->reserved_for == p)
                                                sp[k].busy = true;
                                ports[k++] = p;
                        }
                }
                plan = sched_plan(sp, k, free_vfs, m->n_pools, m->config->preempt_margin,
                                  m->config->reassign_interval, now);
                if (plan.action == SCHED_ATTACH) {
                        Port *p = ports[plan.port];
                        Vf *vf = pool_first_free(manager_pool_for(m, p->domain), NULL);
                        if (!vf || job_start(m, JOB_ATTACH, JOB_REASON_SCHEDULER, p, vf, NULL) < 0)
                                break;
                        continue;
                }
                if (plan.action == SCHED_PREEMPT) {
                        Port *victim = ports[plan.victim], *winner = ports[plan.port];
                        Vf *vf = victim->vf;

                        log_info("%s (priority %u) preempts %s (priority %u) for VF %s.", winner->domain->name,
                                 winner->domain->policy.priority, victim->domain->name,
                                 victim->domain->policy.priority, vf->id);
                        if (job_start(m, JOB_DETACH, JOB_REASON_PREEMPT, victim, NULL, NULL) < 0)
                                break;
                        vf_reserve(vf, winner);
                        continue;
                }
                if (plan.retry_at != USEC_INFINITY)
                        manager_schedule_at(m, plan.retry_at);
                break;
        }
finish:
        free(sp);
        free(ports);
        free(free_vfs);
}

static int on_schedule(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        manager_run_schedule(m);
        return 0;
}

void manager_schedule_at(Manager *m, usec_t when) {
        uint64_t armed;

        if (m->schedule_timer && sd_event_source_get_enabled(m->schedule_timer, NULL) > 0 &&
            sd_event_source_get_time(m->schedule_timer, &armed) >= 0 && armed <= when)
                return;         /* an earlier run is due anyway */
        if (!m->schedule_timer)
                (void) sd_event_add_time(m->event, &m->schedule_timer, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC,
                                         on_schedule_timer, m);
        else {
                (void) sd_event_source_set_time(m->schedule_timer, when);
                (void) sd_event_source_set_enabled(m->schedule_timer, SD_EVENT_ONESHOT);
        }
}

/* A UUID from a caller (a hook, a source host) becomes a Domain object only
 * once libvirt knows it: made-up UUIDs leave nothing behind. */
Domain *manager_load_domain(Manager *m, const char *uuid) {
        VirtDomain v = {};
        Domain *d;

        if (!uuid_is_valid(uuid))
                return NULL;
        d = domain_by_uuid(m, uuid);
        if (d)
                return domain_refresh(d) < 0 ? NULL : d;
        if (virt_get_domain(m->virt, uuid, &v) < 0)
                return NULL;
        d = domain_get_or_new(m, v.uuid);
        if (d)
                domain_apply(d, &v);
        virt_domain_done(&v);
        return d;
}

static int on_refresh_soon(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        for (size_t i = 0; i < m->n_domains; i++)
                if (m->domains[i]->refresh_pending) {
                        m->domains[i]->refresh_pending = false;
                        (void) domain_refresh(m->domains[i]);
                        domain_adopt_devices(m->domains[i], NULL);
                }
        for (size_t i = 0; i < m->n_refresh_new; i++) {
                Domain *d = manager_load_domain(m, m->refresh_new[i]);

                if (d)
                        domain_adopt_devices(d, NULL);
                else
                        log_debug("Domain %s, announced as started, is not known to libvirt; ignored.", m->refresh_new[i]);
        }
        m->n_refresh_new = 0;
        manager_schedule(m);
        return 0;
}

void manager_refresh_soon(Manager *m, const char *uuid) {
        Domain *d;

        if (!m->reconciled || !uuid_is_valid(uuid))
                return;
        d = domain_by_uuid(m, uuid);
        if (d)
                d->refresh_pending = true;
        else {
                /* not an object until libvirt confirms it (on_refresh_soon) */
                for (size_t i = 0; i < m->n_refresh_new; i++)
                        if (strcasecmp(m->refresh_new[i], uuid) == 0)
                                goto queued;
                if (m->n_refresh_new >= ELEMENTSOF(m->refresh_new))
                        return;         /* full until the next iteration: a flood, not starts */
                snprintf(m->refresh_new[m->n_refresh_new], sizeof(m->refresh_new[0]), "%s", uuid);
                m->n_refresh_new++;
        }
queued:
        if (!m->refresh_source && sd_event_add_defer(m->event, &m->refresh_source, on_refresh_soon, m) < 0)
                return;
        (void) sd_event_source_set_enabled(m->refresh_source, SD_EVENT_ONESHOT);
}

void manager_schedule(Manager *m) {
        if (!m->schedule_source) {
                if (sd_event_add_defer(m->event, &m->schedule_source, on_schedule, m) < 0)
                        return;
        }
        (void) sd_event_source_set_enabled(m->schedule_source, SD_EVENT_ONESHOT);
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
