/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/actions.h"
#include "agent/host/forward.h"
#include "agent/host/job.h"
#include "lib/log.h"
#include "lib/string-util.h"
#include "lib/validate.h"

int manager_domain_not_found(Manager *m, const char *s, Failure *f) {
        return failure_set(f, VFO_ERROR_NO_SUCH_DOMAIN,
                           "No domain '%s' in libvirt (%s); give its name or UUID as 'virsh list --all' shows it.", s,
                           virt_get_uri(m->virt) ?: "default URI");
}

Domain *manager_lookup_domain(Manager *m, const char *s, Failure *f) {
        Domain *d = manager_find_domain(m, s);

        if (!d)
                (void) manager_domain_not_found(m, s, f);
        return d;
}

int manager_check_connected(Manager *m, Failure *f) {
        if (!virt_is_connected(m->virt) || !m->reconciled)
                return failure_set(f, VFO_ERROR_NOT_CONNECTED,
                                   "vfod is not connected to libvirt (%s) yet; check that libvirtd runs and try again.",
                                   virt_get_uri(m->virt) ?: "default URI");
        return 0;
}

/* ------------------------------------------------------ attach, detach */

int manager_attach(Manager *m, Domain *d, const char *mac, Job **ret, Failure *f) {
        Pool *pool;
        Port *p;
        Vf *vf;
        int r;

        r = manager_check_connected(m, f);
        if (r < 0)
                return r;
        p = isempty(mac) ? domain_first_port(d, false) : domain_find_port(d, mac);
        if (!p) {
                if (isempty(mac) && domain_first_port(d, true))
                        return failure_set(f, VFO_ERROR_ALREADY_ATTACHED, "Every port of %s holds a VF already.", d->name);
                return failure_set(f, VFO_ERROR_NO_SUCH_PORT, "%s has no synthetic (virtio) port %s; see 'vfoctl domains'.",
                                   d->name, isempty(mac) ? "" : mac);
        }
        if (p->job)
                return failure_set(f, VFO_ERROR_BUSY, "Job %" PRIu64 " runs on %s of %s; wait for it ('vfoctl jobs').",
                                   p->job->id, p->mac, d->name);
        if (p->vf)
                return failure_set(f, VFO_ERROR_ALREADY_ATTACHED, "%s of %s holds VF %s already.", p->mac, d->name,
                                   p->vf->id);
        if (d->state == VIRT_DOMAIN_PAUSED)
                return failure_set(f, VFO_ERROR_PAUSED, "%s is paused; resume it first.", d->name);
        if (d->state != VIRT_DOMAIN_RUNNING)
                return failure_set(f, VFO_ERROR_NOT_RUNNING, "%s is not running.", d->name);
        pool = manager_pool_for(m, d);
        if (!pool) {
                if (!domain_opted_in(d))
                        return failure_set(f, VFO_ERROR_INVALID_ARGUMENT,
                                           "%s has not opted in to vfo; run 'vfoctl set-policy %s' first.", d->name,
                                           d->name);
                return failure_set(f, VFO_ERROR_NO_SUCH_POOL, "%s asks for pool '%s', which vfod.conf does not define.",
                                   d->name, d->policy.pool);
        }
        if (pool->drained)
                return failure_set(f, VFO_ERROR_DRAINED,
                                   "Pool %s is drained for host servicing and grants no VF; 'vfoctl restore %s' ends that.",
                                   pool->config.name, pool->config.name);
        vf = pool_first_free(pool, p);
        if (!vf)
                return failure_set(f, VFO_ERROR_NO_VF_FREE,
                                   "All %zu VFs of pool %s are in use; detach one, or raise %s's priority so the scheduler preempts a holder.",
                                   pool->n_vfs, pool->config.name, d->name);
        p->manual_synthetic = false;
        r = job_start(m, JOB_ATTACH, JOB_REASON_USER, p, vf, ret);
        if (r < 0)
                return failure_set(f, VFO_ERROR_INTERNAL, "Cannot start the job: %s", strerror(-r));
        return 0;
}

int manager_detach(Manager *m, Domain *d, const char *mac, Job **ret, Failure *f) {
        Port *p;
        int r;

        r = manager_check_connected(m, f);
        if (r < 0)
                return r;
        p = isempty(mac) ? domain_first_port(d, true) : domain_find_port(d, mac);
        if (!p) {
                if (isempty(mac))
                        return failure_set(f, VFO_ERROR_NOT_ATTACHED, "%s holds no VF.", d->name);
                return failure_set(f, VFO_ERROR_NO_SUCH_PORT, "%s has no port %s.", d->name, mac);
        }
        if (p->job)
                return failure_set(f, VFO_ERROR_BUSY, "Job %" PRIu64 " runs on %s of %s; wait for it ('vfoctl jobs').",
                                   p->job->id, p->mac, d->name);
        if (!p->vf)
                return failure_set(f, VFO_ERROR_NOT_ATTACHED, "%s of %s holds no VF.", p->mac, d->name);
        if (d->state == VIRT_DOMAIN_PAUSED)
                return failure_set(f, VFO_ERROR_PAUSED,
                                   "%s is paused; a paused guest cannot finish an unplug. Resume it first.", d->name);
        r = job_start(m, JOB_DETACH, JOB_REASON_USER, p, NULL, ret);
        if (r < 0)
                return failure_set(f, VFO_ERROR_INTERNAL, "Cannot start the job: %s", strerror(-r));
        p->manual_synthetic = true;     /* until a user attaches it again */
        return 0;
}

/* ------------------------------------------------------- host servicing */

static int lookup_pools(Manager *m, const char *name, Pool **one, Failure *f) {
        *one = NULL;
        if (isempty(name))
                return 0;
        *one = manager_find_pool(m, name);
        if (!*one)
                return failure_set(f, VFO_ERROR_NO_SUCH_POOL, "No pool '%s' in vfod.conf; see 'vfoctl pools'.", name);
        return 0;
}

int manager_drain(Manager *m, const char *name, Job ***ret_jobs, size_t *ret_n, Failure *f) {
        _cleanup_free_ Job **jobs = NULL;
        size_t n = 0;
        Pool *one;
        int r;

        r = lookup_pools(m, name, &one, f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_pools; i++)
                if (!one || m->pools[i] == one) {
                        pool_set_drained(m->pools[i], true);
                        manager_detach_drained(m, m->pools[i], true);
                }
        /* what runs on the ports that hold its VFs (a detach's port still holds its VF) */
        for (size_t i = 0; i < m->n_jobs; i++) {
                Job *j = m->jobs[i], **a;

                if (j->state != JOB_RUNNING || j->kind == JOB_MIGRATE || !j->vf || !j->vf->pool->drained ||
                    (one && j->vf->pool != one))
                        continue;
                a = reallocarray(jobs, n + 1, sizeof(Job *));
                if (!a)
                        return failure_set(f, VFO_ERROR_INTERNAL, "Out of memory.");
                jobs = a;
                jobs[n++] = j;
        }
        *ret_jobs = TAKE_PTR(jobs);
        *ret_n = n;
        return 0;
}

int manager_restore(Manager *m, const char *name, Failure *f) {
        Pool *one;
        int r;

        r = lookup_pools(m, name, &one, f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_pools; i++)
                if (!one || m->pools[i] == one)
                        pool_set_drained(m->pools[i], false);
        return 0;
}

/* -------------------------------------------------------------- policy */

typedef struct PolicyCall {
        Manager *manager;
        PolicyDoneFn fn;
        void *userdata;
} PolicyCall;

static void on_policy_stored(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        PolicyCall *pc = userdata;
        Domain *d = r == -ECANCELED ? NULL : manager_find_domain(pc->manager, uuid);
        Failure f = {};

        if (r < 0)
                r = failure_set(&f, VFO_ERROR_LIBVIRT, "libvirt refused to store the policy of %s: %s.",
                                d ? d->name : uuid, r == -ETIMEDOUT ? "libvirt did not answer in time" : strerror(-r));
        else {
                if (d)
                        (void) domain_refresh(d);
                manager_schedule(pc->manager);
        }
        pc->fn(pc->manager, r, &f, pc->userdata);
        free(pc);
}

int manager_set_policy(Manager *m, Domain *d, const VirtPolicy *policy, PolicyDoneFn fn, void *userdata, Failure *f) {
        VirtPolicy p = {};
        PolicyCall *pc;
        int r;

        r = manager_check_connected(m, f);
        if (r < 0)
                return r;
        if (policy) {
                if (!isempty(policy->pool) && !manager_find_pool(m, policy->pool))
                        return failure_set(f, VFO_ERROR_NO_SUCH_POOL, "No pool '%s' in vfod.conf; see 'vfoctl pools'.",
                                           policy->pool);
                if (policy->priority > 1000)
                        return failure_set(f, VFO_ERROR_INVALID_ARGUMENT, "Priority %u is out of range 0..1000.",
                                           policy->priority);
                p = *policy;
                p.present = true;
        }
        pc = calloc(1, sizeof(*pc));
        if (!pc)
                return failure_set(f, VFO_ERROR_INTERNAL, "Out of memory.");
        *pc = (PolicyCall) { .manager = m, .fn = fn, .userdata = userdata };
        r = virt_call(m->virt, &(VirtRequest) { .op = VIRT_OP_SET_POLICY, .uuid = d->uuid, .policy = p },
                      m->config->libvirt_timeout, on_policy_stored, pc, NULL);
        if (r < 0) {
                free(pc);
                return failure_set(f, VFO_ERROR_LIBVIRT, "libvirt refused to store the policy of %s: %s.", d->name,
                                   strerror(-r));
        }
        return 0;       /* on_policy_stored() */
}

/* ----------------------------------------------------------- migration */

int manager_migrate(Manager *m, Domain *d, const MigrateRequest *req, Job **ret, Failure *f) {
        int r;

        r = manager_check_connected(m, f);
        if (r < 0)
                return r;
        if (d->migration)
                return failure_set(f, VFO_ERROR_BUSY, "%s is being migrated already (job %" PRIu64 ").", d->name,
                                   migration_get_job(d->migration)->id);
        if (d->state == VIRT_DOMAIN_PAUSED && !req->resume)
                return failure_set(f, VFO_ERROR_PAUSED,
                                   "%s is paused; a paused guest cannot finish an unplug, so nothing was done. Resume it, or migrate with --resume.",
                                   d->name);
        if (d->state != VIRT_DOMAIN_RUNNING && d->state != VIRT_DOMAIN_PAUSED)
                return failure_set(f, VFO_ERROR_NOT_RUNNING, "%s is not running.", d->name);
        r = migration_start(m, d, req, ret);
        if (r < 0)
                return failure_set(f, VFO_ERROR_INTERNAL, "Cannot start the migration: %s", strerror(-r));
        return 0;
}

int manager_hook_migrate_begin(Manager *m, const char *xml, bool *ret_allow, char **ret_xml, char **ret_message,
                               Failure *f) {
        _cleanup_free_ char *why = NULL, *stripped = NULL;
        _cleanup_free_ char **macs = NULL;
        VirtDomain v = {};
        size_t n = 0;
        Pool *pool;
        int r;

        r = virt_domain_parse_xml(xml, &v);
        if (r < 0)
                return failure_set(f, VFO_ERROR_INVALID_ARGUMENT, "The incoming domain XML does not parse.");
        if (virt_strip_vf_hostdevs(xml, &stripped) < 0)
                stripped = NULL;

        if (!v.policy.present) {
                *ret_allow = true;
                goto done;
        }
        pool = manager_pool_for_name(m, v.policy.pool);
        if (!pool) {
                if (asprintf(&why, "No pool '%s' on this host%s", v.policy.pool[0] ? v.policy.pool : "(default)",
                             v.policy.required ? ", and the domain requires a VF: migration refused." :
                                                 "; it runs synthetic.") < 0)
                        why = NULL;
                *ret_allow = !v.policy.required;
                goto done;
        }
        macs = calloc(v.n_interfaces + 1, sizeof(char *));
        if (!macs) {
                virt_domain_done(&v);
                return failure_set(f, VFO_ERROR_INTERNAL, "Out of memory.");
        }
        for (size_t i = 0; i < v.n_interfaces; i++)
                if (streq(v.interfaces[i].model, "virtio") && !startswith(v.interfaces[i].alias, VIRT_VF_ALIAS_PREFIX))
                        macs[n++] = v.interfaces[i].mac;
        r = manager_claim_incoming(m, pool, v.uuid, macs, n, v.policy.required, INCOMING_CLAIM_USEC, &why);
        log_info("Incoming migration of %s: %s", v.name, why ?: "");
        *ret_allow = r >= 0;
done:
        virt_domain_done(&v);
        *ret_xml = TAKE_PTR(stripped);
        *ret_message = TAKE_PTR(why);
        return 0;
}

int manager_prepare_incoming(Manager *m, const char *uuid, const char *pool_name, bool required, char **macs,
                             size_t n_macs, bool *ret_ok, char **ret_message, Failure *f) {
        char *why = NULL;
        Pool *pool;
        int r;

        if (!uuid_is_valid(uuid))
                return failure_set(f, VFO_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID.", uuid);
        for (size_t i = 0; i < n_macs; i++)
                if (!mac_is_valid(macs[i]))
                        return failure_set(f, VFO_ERROR_INVALID_ARGUMENT, "'%s' is not a MAC address.", macs[i]);
        if (n_macs > INCOMING_PORTS_MAX)
                return failure_set(f, VFO_ERROR_INVALID_ARGUMENT, "%zu ports: a domain has at most %u.", n_macs,
                                   INCOMING_PORTS_MAX);
        pool = isempty(pool_name) ? manager_pool_for_name(m, NULL) : manager_find_pool(m, pool_name);
        if (!pool) {
                if (asprintf(&why, "No pool '%s' on this host%s", isempty(pool_name) ? "(default)" : pool_name,
                             required ? ", and the domain requires a VF." : "; it will run synthetic.") < 0)
                        why = NULL;
                *ret_ok = !required;
                *ret_message = why;
                return 0;
        }
        r = manager_claim_incoming(m, pool, uuid, macs, n_macs, required, INCOMING_PRECLAIM_USEC, &why);
        log_info("Incoming migration of %s announced by its source: %s", uuid, why ?: "");
        *ret_ok = r >= 0;
        *ret_message = why;
        return 0;
}

int manager_handover(Manager *m, const char *uuid, const char *forward_from, bool prepare, unsigned *ret_ports,
                     Failure *f) {
        unsigned n = 0;
        Domain *d;
        Pool *pool;
        int r;

        if (!uuid_is_valid(uuid))
                return failure_set(f, VFO_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID.", uuid);
        if (forward_from && ip_address_family(forward_from) < 0)
                return failure_set(f, VFO_ERROR_INVALID_ARGUMENT, "forward-from: '%.64s' is not an IP address.",
                                   forward_from);
        d = manager_load_domain(m, uuid);
        if (!d)
                return failure_set(f, VFO_ERROR_NO_SUCH_DOMAIN, "No incoming domain %s here.", uuid);
        pool = manager_pool_for(m, d);
        for (size_t i = 0; pool && i < d->n_ports; i++) {
                Port *p = d->ports[i];

                r = prepare ? pool_handover_prepare(pool, p) : pool_handover_in(pool, p);
                if (r < 0)
                        return failure_set(f, VFO_ERROR_SWITCH_FAILED, "Steering %s to %s failed: %s.", p->mac,
                                           p->synthetic_tap, strerror(-r));
                if (r == 0)
                        continue;
                n++;
                /* what the source still gets goes into the tap: this end first */
                if (forward_from && m->config->forward_address)
                        (void) forward_open_incoming(m, p, forward_from, NULL);
        }
        if (pool)
                log_info("Handover: %u port(s) of incoming %s %s here.", n, d->name, prepare ? "ready" : "steered");
        *ret_ports = n;
        return 0;
}
