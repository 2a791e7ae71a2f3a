/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domains and their ports: what libvirt says of them (domain_refresh(),
 * domain_apply()), their agent connection, the VFs they came with, and the
 * one place each of their states and a VF's change (vf_set_state(),
 * vf_reserve(), port_set_vf(), domain_set_state()). */
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
#include "agent/host/scheduler.h"
#include "lib/log.h"
#include "lib/loop-watch.h"
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
        p->last_change = manager_now(p->domain->manager);
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

void pool_set_drained(Pool *p, bool drained) {
        if (p->drained == drained)
                return;
        p->drained = drained;
        if (drained)    /* a drained pool takes no incoming domain's VF either */
                for (size_t i = 0; i < p->n_vfs; i++)
                        p->vfs[i]->incoming_uuid[0] = 0;
        log_notice("Pool %s %s.", p->config.name,
                   drained ? "drained for host servicing: its VFs are detached, none is granted until restored"
                           : "restored: its VFs are granted again");
        (void) manager_save(p->manager);
        bus_emit_changed(p->manager, p->path, VFO_POOL_IFACE, "Drained", "Free", "Waiting", NULL);
        manager_schedule(p->manager);
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

void domain_update_export(Domain *d) {
        bool want = !d->gone && (domain_opted_in(d) || domain_first_port(d, true));

        if (want == d->exported)
                return;
        d->exported = want;
        bus_domain_exported(d, want);
}

/* -------------------------------------------------------------- domains */

static void on_agent_state(AgentConn *a, bool synced, void *userdata);
static void on_agent_event(AgentConn *a, const Vfo__Envelope *e, void *userdata);

void domain_agent_update(Domain *d) {
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
void domain_apply(Domain *d, VirtDomain *v) {
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

Domain *domain_get_or_new(Manager *m, const char *uuid) {
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

void domain_free(Domain *d) {
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
void domain_stopped(Domain *d, const char *why) {
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
                port_set_path(p, VFO__PATH_KIND__PATH_KIND_UNSPECIFIED);
        }
        /* claims of jobs that had not plugged yet */
        for (size_t i = 0; i < d->manager->n_pools; i++)
                for (size_t j = 0; j < d->manager->pools[i]->n_vfs; j++) {
                        Vf *vf = d->manager->pools[i]->vfs[j];
                        if (vf->holder && vf->holder->domain == d)
                                vf_set_state(vf, VF_FREE, NULL);
                }
        forward_incoming_stopped(d->manager, d->uuid);
        manager_schedule(d->manager);
}

int domain_refreshed(Domain *d, int r, VirtDomain *v) {
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
        domain_apply(d, v);
        return 0;
}

int domain_refresh(Domain *d) {
        VirtDomain v = {};
        int r;

        /* on the loop: libvirtd answers this without a job of the domain,
         * but it answers late when it is busy (loop_watch_note()) */
        loop_watch_note("libvirt: the XML of", d->name);
        r = virt_get_domain(d->manager->virt, d->uuid, &v);
        loop_watch_note("libvirt: answered for", d->name);
        r = domain_refreshed(d, r, &v);
        virt_domain_done(&v);
        return r;
}

typedef struct DomainRead {
        Manager *manager;
        DomainReadFn fn;
        void *userdata;
} DomainRead;

static void on_domain_read(Virt *v, const char *uuid, int r, VirtDomain *vd, void *userdata) {
        DomainRead *rd = userdata;
        Domain *d = r == -ECANCELED ? NULL : domain_by_uuid(rd->manager, uuid);

        if (d)
                r = domain_refreshed(d, r, vd);
        if (rd->fn)
                rd->fn(rd->manager, d, r, rd->userdata);
        free(rd);
}

int domain_read(Domain *d, DomainReadFn fn, void *userdata) {
        DomainRead *rd;
        int r;

        rd = malloc(sizeof(*rd));
        if (!rd)
                return -ENOMEM;
        *rd = (DomainRead) { .manager = d->manager, .fn = fn, .userdata = userdata };
        r = virt_read_domain(d->manager->virt, d->uuid, d->manager->config->libvirt_timeout, on_domain_read, rd, NULL);
        if (r < 0)
                free(rd);
        return r;
}

/* Makes the VF of every vfo device in the domain's live XML held by it; a
 * VF already held by another domain is unplugged from this one (it must
 * never be in two). */
void domain_adopt_devices(Domain *d, const JournalState *journal) {
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

/* A guest's own move that waits for the domain's XML (below). */
typedef struct SteerAfterRead {
        char mac[18];
        Vfo__PathKind path;
        Vfo__PathChangeReason reason;
} SteerAfterRead;

static void port_steer_now(Port *p, Vfo__PathKind path, Vfo__PathChangeReason reason);

static void on_read_for_steer(Manager *m, Domain *d, int r, void *userdata) {
        SteerAfterRead *s = userdata;
        Port *p = d ? domain_find_port(d, s->mac) : NULL;

        /* still the guest's own move, still nobody else's to steer */
        if (p && !p->job && !d->migration && p->vf && p->path == s->path &&
            (p->vf->state == VF_ATTACHED || p->vf->state == VF_RELEASING))
                port_steer_now(p, s->path, s->reason);
        free(s);
}

/* The guest moved its transmit on its own, outside any job of ours: a VF of
 * ours that came late (its attach had been rolled back, the unplug still
 * pending), lost its link, or came back. Steering follows, or the guest's
 * kernel drops what arrives on the other path (net_failover delivers
 * nothing from the standby while a VF is registered). A job or a migration
 * of the port steers for itself. */
static bool port_steer_after_guest(Port *p, Vfo__PathKind path, Vfo__PathChangeReason reason) {
        Domain *d = p->domain;

        if (p->job || d->migration || !p->vf || (p->vf->state != VF_ATTACHED && p->vf->state != VF_RELEASING))
                return false;
        if (path == VFO__PATH_KIND__PATH_KIND_VF && !p->vf_tap[0]) {
                /* an emulated VF's tap, if it came late: read the domain
                 * again first, off the loop */
                SteerAfterRead *s = malloc(sizeof(*s));

                if (s) {
                        *s = (SteerAfterRead) { .path = path, .reason = reason };
                        snprintf(s->mac, sizeof(s->mac), "%s", p->mac);
                        if (domain_read(d, on_read_for_steer, s) >= 0)
                                return true;
                        free(s);
                }
        }
        port_steer_now(p, path, reason);
        return true;
}

static void port_steer_now(Port *p, Vfo__PathKind path, Vfo__PathChangeReason reason) {
        Domain *d = p->domain;
        const char *to = path == VFO__PATH_KIND__PATH_KIND_VF ? "VF" : "synthetic";
        int r;

        r = pool_steer(p->vf, p, path);
        if (r < 0)
                log_warning_errno(r, "%s: the agent moved %s to the %s path on its own (reason %d); steering it there failed: %m",
                                  d->name, p->mac, to, (int) reason);
        else
                log_notice("%s: the agent moved %s to the %s path on its own (reason %d); steering follows (VF %s, %s).",
                           d->name, p->mac, to, (int) reason, p->vf->id, vf_state_to_string(p->vf->state));
}

/* The guest's counters of a transition go to the job whose PrepareAttach or
 * PrepareDetach began it (the report comes when the guest's transition ends:
 * after an attach job has ended, and maybe after the next job began). */
static void on_switch_report(Domain *d, const Vfo__SwitchReport *r) {
        Port *p = domain_find_port(d, r->mac);
        Job *j = p ? job_by_prepare(d->manager, d, p->mac, r->request_id) : NULL;

        if (!j || j->traffic.reported) {
                log_debug("%s: the guest's counters of a transition of %s (request %" PRIu64 ") match no job, ignored.",
                          d->name, r->mac, r->request_id);
                return;
        }
        job_set_traffic(j, r);
}

static void on_agent_event(AgentConn *a, const Vfo__Envelope *e, void *userdata) {
        Domain *d = userdata;
        Port *p;

        if (e->body_case == VFO__ENVELOPE__BODY_SWITCH_REPORT) {
                on_switch_report(d, e->switch_report);
                return;
        }
        if (e->body_case != VFO__ENVELOPE__BODY_PATH_CHANGED)
                return;
        p = domain_find_port(d, e->path_changed->mac);
        if (!p || p->path == e->path_changed->path)
                return;         /* nothing new: not worth a log line (agentconn.c limits how many come) */
        port_set_path(p, e->path_changed->path);
        if (!port_steer_after_guest(p, e->path_changed->path, e->path_changed->reason))
                log_info("%s: the agent moved %s to the %s path on its own (reason %d).", d->name, p->mac,
                         e->path_changed->path == VFO__PATH_KIND__PATH_KIND_VF ? "VF" : "synthetic",
                         (int) e->path_changed->reason);
}

/* A UUID from a caller (a hook, a source host) becomes a Domain object only
 * once libvirt knows it: made-up UUIDs leave nothing behind. */
Domain *manager_load_domain(Manager *m, const char *uuid) {
        VirtDomain v = {};
        Domain *d;
        int r;

        if (!uuid_is_valid(uuid))
                return NULL;
        d = domain_by_uuid(m, uuid);
        if (d)
                return domain_refresh(d) < 0 ? NULL : d;
        loop_watch_note("libvirt: the XML of", uuid);
        r = virt_get_domain(m->virt, uuid, &v);
        loop_watch_note("libvirt: answered for", uuid);
        if (r < 0)
                return NULL;
        d = domain_get_or_new(m, v.uuid);
        if (d)
                domain_apply(d, &v);
        virt_domain_done(&v);
        return d;
}

/* The domain started here (libvirt's hook): its taps carry nothing yet. */
static void domain_ready_taps(Domain *d) {
        Pool *pool = manager_pool_for(d->manager, d);

        for (size_t i = 0; pool && i < d->n_ports; i++)
                (void) pool_ready_tap(pool, d->ports[i]);
}

static int on_refresh_soon(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        for (size_t i = 0; i < m->n_domains; i++)
                if (m->domains[i]->refresh_pending) {
                        m->domains[i]->refresh_pending = false;
                        (void) domain_refresh(m->domains[i]);
                        domain_adopt_devices(m->domains[i], NULL);
                        domain_ready_taps(m->domains[i]);
                }
        for (size_t i = 0; i < m->n_refresh_new; i++) {
                Domain *d = manager_load_domain(m, m->refresh_new[i]);

                if (d) {
                        domain_adopt_devices(d, NULL);
                        domain_ready_taps(d);
                } else
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
