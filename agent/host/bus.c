/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "agent/host/job.h"
#include "agent/host/migrate-options.h"
#include "agent/host/migrate.h"
#include "lib/log.h"
#include "lib/string-util.h"
#include "lib/validate.h"

/* ---------------------------------------------------------- privilege */

/* The bus policy already keeps others out; this is the second check, from
 * the caller's credentials as the bus daemon reports them. Returns 1 for
 * root, 0 for a member of AdminGroup=, else an AccessDenied error. */
static int check_admin(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        const gid_t *gids = NULL;
        struct group *g;
        uid_t euid;
        gid_t egid;
        int r, n;

        r = sd_bus_query_sender_creds(msg,
                                      SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS |
                                              SD_BUS_CREDS_AUGMENT,
                                      &c);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Cannot read the caller's credentials: %s.",
                                         strerror(-r));
        r = sd_bus_creds_get_euid(c, &euid);
        if (r >= 0 && euid == 0)
                return 1;
        g = m->config->group ? getgrnam(m->config->group) : NULL;
        if (g) {
                if (sd_bus_creds_get_egid(c, &egid) >= 0 && egid == g->gr_gid)
                        return 0;
                n = sd_bus_creds_get_supplementary_gids(c, &gids);
                for (int i = 0; i < n; i++)
                        if (gids[i] == g->gr_gid)
                                return 0;
        }
        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                 "Changing vfo needs root or membership in the group '%s' (AdminGroup= in vfod.conf).",
                                 m->config->group ?: "vfo");
}

/* ------------------------------------------------------------ helpers */

static void strv_freep(char ***p) {
        for (char **s = *p; s && *s; s++)
                free(*s);
        free(*p);
}

/* Appends a copy of 'path' to the NULL-terminated list of a node enumerator. */
static int nodes_add(char ***l, size_t *n, const char *path) {
        char **a = reallocarray(*l, *n + 2, sizeof(char *));

        if (!a)
                return -ENOMEM;
        *l = a;
        a[*n] = strdup(path);
        if (!a[*n])
                return -ENOMEM;
        a[++*n] = NULL;
        return 0;
}

void bus_emit_changed(Manager *m, const char *path, const char *interface, ...) {
        const char *names[16];
        size_t n = 0;
        va_list ap;

        /* Nobody can have read anything before the first reconcile: one
         * Domains change at its end instead of one signal per domain. */
        if (!m->bus || !m->reconciled)
                return;
        va_start(ap, interface);
        for (const char *s = va_arg(ap, const char *); s && n < ELEMENTSOF(names) - 1; s = va_arg(ap, const char *))
                names[n++] = s;
        va_end(ap);
        names[n] = NULL;
        (void) sd_bus_emit_properties_changed_strv(m->bus, path, interface, (char **) names);
}

static int reply_job(sd_bus_message *msg, Job *j) {
        return sd_bus_reply_method_return(msg, "o", j->path);
}

/* A domain that did not opt in (and holds no VF) is not exported: only
 * root and AdminGroup may look at it (its name, UUID and MACs are not
 * everyone's business). */
static bool caller_may_see(Manager *m, sd_bus_message *msg, const Domain *d) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        return d->exported || (msg && check_admin(m, msg, &e) >= 0);
}

static int no_such_domain(Manager *m, const char *s, sd_bus_error *error) {
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_DOMAIN,
                                 "No domain '%s' in libvirt (%s); give its name or UUID as 'virsh list --all' shows it.",
                                 s, virt_get_uri(m->virt) ?: "default URI");
}

static Domain *lookup_domain(Manager *m, const char *s, sd_bus_error *error) {
        Domain *d = manager_find_domain(m, s);

        if (!d)
                (void) no_such_domain(m, s, error);
        return d;
}

static int require_libvirt(Manager *m, sd_bus_error *error) {
        if (!virt_is_connected(m->virt) || !m->reconciled)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_CONNECTED,
                                         "vfod is not connected to libvirt (%s) yet; check that libvirtd runs and try again.",
                                         virt_get_uri(m->virt) ?: "default URI");
        return 0;
}

/* ---------------------------------------------------------- operations */

static int do_attach(Manager *m, Domain *d, const char *mac, sd_bus_message *msg, sd_bus_error *error) {
        Pool *pool;
        Port *p;
        Vf *vf;
        Job *j;
        int r;

        r = require_libvirt(m, error);
        if (r < 0)
                return r;
        p = isempty(mac) ? domain_first_port(d, false) : domain_find_port(d, mac);
        if (!p) {
                if (isempty(mac) && domain_first_port(d, true))
                        return sd_bus_error_setf(error, BUS_ERROR_ALREADY_ATTACHED, "Every port of %s holds a VF already.", d->name);
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PORT,
                                         "%s has no synthetic (virtio) port %s; see 'vfoctl domains'.", d->name,
                                         isempty(mac) ? "" : mac);
        }
        if (p->job)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "Job %" PRIu64 " runs on %s of %s; wait for it ('vfoctl jobs').",
                                         p->job->id, p->mac, d->name);
        if (p->vf)
                return sd_bus_error_setf(error, BUS_ERROR_ALREADY_ATTACHED, "%s of %s holds VF %s already.", p->mac, d->name, p->vf->id);
        if (d->state == VIRT_DOMAIN_PAUSED)
                return sd_bus_error_setf(error, BUS_ERROR_PAUSED, "%s is paused; resume it first.", d->name);
        if (d->state != VIRT_DOMAIN_RUNNING)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_RUNNING, "%s is not running.", d->name);
        pool = manager_pool_for(m, d);
        if (!pool) {
                if (!domain_opted_in(d))
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "%s has not opted in to vfo; run 'vfoctl set-policy %s' first.", d->name, d->name);
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_POOL, "%s asks for pool '%s', which vfod.conf does not define.",
                                         d->name, d->policy.pool);
        }
        vf = pool_first_free(pool, p);
        if (!vf)
                return sd_bus_error_setf(error, BUS_ERROR_NO_VF_FREE,
                                         "All %zu VFs of pool %s are in use; detach one, or raise %s's priority so the scheduler preempts a holder.",
                                         pool->n_vfs, pool->config.name, d->name);
        p->manual_synthetic = false;
        r = job_start(m, JOB_ATTACH, JOB_REASON_USER, p, vf, &j);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "Cannot start the job: %s", strerror(-r));
        return reply_job(msg, j);
}

static int do_detach(Manager *m, Domain *d, const char *mac, sd_bus_message *msg, sd_bus_error *error) {
        Port *p;
        Job *j;
        int r;

        r = require_libvirt(m, error);
        if (r < 0)
                return r;
        p = isempty(mac) ? domain_first_port(d, true) : domain_find_port(d, mac);
        if (!p)
                return sd_bus_error_setf(error, isempty(mac) ? BUS_ERROR_NOT_ATTACHED : BUS_ERROR_NO_SUCH_PORT,
                                         isempty(mac) ? "%s holds no VF." : "%s has no port %s.", d->name, mac);
        if (p->job)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "Job %" PRIu64 " runs on %s of %s; wait for it ('vfoctl jobs').",
                                         p->job->id, p->mac, d->name);
        if (!p->vf)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_ATTACHED, "%s of %s holds no VF.", p->mac, d->name);
        if (d->state == VIRT_DOMAIN_PAUSED)
                return sd_bus_error_setf(error, BUS_ERROR_PAUSED, "%s is paused; a paused guest cannot finish an unplug. Resume it first.", d->name);
        r = job_start(m, JOB_DETACH, JOB_REASON_USER, p, NULL, &j);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "Cannot start the job: %s", strerror(-r));
        p->manual_synthetic = true;     /* until a user attaches it again */
        return reply_job(msg, j);
}

typedef struct PolicyCall {
        Manager *manager;
        sd_bus_message *msg;
} PolicyCall;

static void on_policy_stored(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        PolicyCall *pc = userdata;
        Domain *d = r == -ECANCELED ? NULL : manager_find_domain(pc->manager, uuid);

        if (r < 0)
                (void) sd_bus_reply_method_errorf(pc->msg, BUS_ERROR_LIBVIRT,
                                                  "libvirt refused to store the policy of %s: %s.", d ? d->name : uuid,
                                                  r == -ETIMEDOUT ? "libvirt did not answer in time" : strerror(-r));
        else {
                if (d)
                        (void) domain_refresh(d);
                manager_schedule(pc->manager);
                (void) sd_bus_reply_method_return(pc->msg, NULL);
        }
        sd_bus_message_unref(pc->msg);
        free(pc);
}

static int do_set_policy(Manager *m, Domain *d, const char *pool, uint32_t priority, int required, bool clear,
                         sd_bus_message *msg, sd_bus_error *error) {
        VirtPolicy p = {};
        PolicyCall *pc;
        int r;

        r = require_libvirt(m, error);
        if (r < 0)
                return r;
        if (!clear) {
                if (!isempty(pool) && !manager_find_pool(m, pool))
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_POOL, "No pool '%s' in vfod.conf; see 'vfoctl pools'.", pool);
                if (priority > 1000)
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Priority %u is out of range 0..1000.", priority);
                p.present = true;
                snprintf(p.pool, sizeof(p.pool), "%s", pool);
                p.priority = priority;
                p.required = required;
        }
        pc = calloc(1, sizeof(*pc));
        if (!pc)
                return -ENOMEM;
        pc->manager = m;
        pc->msg = sd_bus_message_ref(msg);
        r = virt_call(m->virt, &(VirtRequest) { .op = VIRT_OP_SET_POLICY, .uuid = d->uuid, .policy = p },
                      m->config->libvirt_timeout, on_policy_stored, pc, NULL);
        if (r < 0) {
                sd_bus_message_unref(pc->msg);
                free(pc);
                return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT, "libvirt refused to store the policy of %s: %s.", d->name, strerror(-r));
        }
        return 1;       /* on_policy_stored() answers */
}

/* ------------------------------------------------------------ migration */

static int read_migrate_options(sd_bus_message *msg, MigrateRequest *req, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key, *contents;
                char type;

                r = sd_bus_message_enter_container(msg, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(msg, &type, &contents);
                if (r < 0)
                        return r;
                if (streq(key, "live") || streq(key, "p2p") || streq(key, "persistent") ||
                    streq(key, "undefine-source") || streq(key, "resume") || streq(key, "managed-switchover")) {
                        int b;
                        if (!streq(contents, "b"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' takes a boolean.", key);
                        r = sd_bus_message_read(msg, "v", "b", &b);
                        if (r < 0)
                                return r;
                        if (streq(key, "live"))
                                req->live = b;
                        else if (streq(key, "p2p"))
                                req->p2p = b;
                        else if (streq(key, "persistent"))
                                req->persistent = b;
                        else if (streq(key, "undefine-source"))
                                req->undefine_source = b;
                        else if (streq(key, "managed-switchover"))
                                req->managed_switchover = b;
                        else
                                req->resume = b;
                } else if (streq(key, "migrate-uri") || streq(key, "listen-address") || streq(key, "destination-bus")) {
                        const char *v;
                        if (!streq(contents, "s"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' takes a string.", key);
                        r = sd_bus_message_read(msg, "v", "s", &v);
                        if (r < 0)
                                return r;
                        if (strlen(v) > 1024 || !utf8_is_valid(v, 1024))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' is not a valid string.", key);
                        if (streq(key, "migrate-uri"))
                                req->migrate_uri = v;
                        else if (streq(key, "listen-address"))
                                req->listen_address = v;
                        else
                                req->destination_bus = v;
                } else if (streq(key, "bandwidth") || streq(key, "timeout")) {
                        uint64_t t;
                        if (!streq(contents, "t"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' takes a uint64 ('t').", key);
                        r = sd_bus_message_read(msg, "v", "t", &t);
                        if (r < 0)
                                return r;
                        if (streq(key, "bandwidth"))
                                req->bandwidth = t;
                        else {
                                if (t > 7 * 24 * 3600)
                                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Timeout %" PRIu64 " s is out of range.", t);
                                req->timeout = t * USEC_PER_SEC;
                        }
                } else
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "Unknown migration option '%s' (see org.vfo1(5)).", key);
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(msg);
}

/* Every string that reaches libvirt, libvirtd or sd-bus as an address:
 * a caller who is not root gets the allow-lists of migrate-options.h. */
static int check_migrate_strings(const MigrateRequest *req, bool privileged, sd_bus_error *error) {
        char why[MIGRATE_WHY_MAX] = "";
        int r;

        r = migrate_check_destination(req->destination, privileged, why);
        if (r >= 0 && req->migrate_uri)
                r = migrate_check_data_uri(req->migrate_uri, privileged, why);
        if (r >= 0 && req->listen_address)
                r = migrate_check_listen_address(req->listen_address, privileged, why);
        if (r >= 0 && req->destination_bus)
                r = migrate_check_bus_address(req->destination_bus, privileged, why);
        if (r == -EPERM)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "%s", why);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", why[0] ? why : strerror(-r));
        return 0;
}

static int manager_migrate(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        MigrateRequest req = { .live = true, .p2p = true };
        const char *s, *dest;
        bool privileged;
        Domain *d;
        Job *j;
        int r;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        privileged = r > 0;
        r = sd_bus_message_read(msg, "ss", &s, &dest);
        if (r < 0)
                return r;
        req.destination = dest;
        r = read_migrate_options(msg, &req, error);
        if (r < 0)
                return r;
        r = check_migrate_strings(&req, privileged, error);
        if (r < 0)
                return r;
        r = require_libvirt(m, error);
        if (r < 0)
                return r;
        d = lookup_domain(m, s, error);
        if (!d)
                return -ENOENT;
        if (d->migration)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s is being migrated already (job %" PRIu64 ").",
                                         d->name, migration_get_job(d->migration)->id);
        if (d->state == VIRT_DOMAIN_PAUSED && !req.resume)
                return sd_bus_error_setf(error, BUS_ERROR_PAUSED,
                                         "%s is paused; a paused guest cannot finish an unplug, so nothing was done. Resume it, or migrate with --resume.",
                                         d->name);
        if (d->state != VIRT_DOMAIN_RUNNING && d->state != VIRT_DOMAIN_PAUSED)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_RUNNING, "%s is not running.", d->name);
        r = migration_start(m, d, &req, &j);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "Cannot start the migration: %s", strerror(-r));
        return reply_job(msg, j);
}

/* Hook support: answered from memory, never calling libvirt (libvirtd
 * waits for its hook). */
static int manager_hook_migrate_begin(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL, *stripped = NULL;
        Manager *m = userdata;
        VirtDomain v = {};
        const char *xml;
        char **macs = NULL;
        size_t n = 0;
        Pool *pool;
        int r;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &xml);
        if (r < 0)
                return r;
        r = virt_domain_parse_xml(xml, &v);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "The incoming domain XML does not parse.");
        if (virt_strip_vf_hostdevs(xml, &stripped) < 0)
                stripped = NULL;

        if (!v.policy.present) {
                virt_domain_done(&v);
                return sd_bus_reply_method_return(msg, "bss", true, stripped ?: "", "");
        }
        pool = manager_pool_for_name(m, v.policy.pool);
        if (!pool) {
                bool required = v.policy.required;
                if (asprintf(&why, "No pool '%s' on this host%s", v.policy.pool[0] ? v.policy.pool : "(default)",
                             required ? ", and the domain requires a VF: migration refused." : "; it runs synthetic.") < 0)
                        why = NULL;
                virt_domain_done(&v);
                return sd_bus_reply_method_return(msg, "bss", !required, stripped ?: "", why ?: "");
        }
        macs = calloc(v.n_interfaces + 1, sizeof(char *));
        if (!macs) {
                virt_domain_done(&v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < v.n_interfaces; i++)
                if (streq(v.interfaces[i].model, "virtio") && !startswith(v.interfaces[i].alias, VIRT_VF_ALIAS_PREFIX))
                        macs[n++] = v.interfaces[i].mac;
        r = manager_claim_incoming(m, pool, v.uuid, macs, n, v.policy.required, INCOMING_CLAIM_USEC, &why);
        log_info("Incoming migration of %s: %s", v.name, why ?: "");
        r = sd_bus_reply_method_return(msg, "bss", r >= 0, stripped ?: "", why ?: "");
        free(macs);
        virt_domain_done(&v);
        return r;
}

static int manager_hook_started(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *uuid;
        int r;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &uuid);
        if (r < 0)
                return r;
        if (!uuid_is_valid(uuid))
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID.", uuid);
        log_debug("Hook: domain %s started here.", uuid);
        manager_refresh_soon(m, uuid);
        return sd_bus_reply_method_return(msg, NULL);
}

static int manager_prepare_incoming(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;
        const char *uuid, *pool_name;
        char **macs = NULL;
        size_t n = 0;
        int required, r;
        Pool *pool;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "ssb", &uuid, &pool_name, &required);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(msg, &macs);
        if (r < 0)
                return r;
        if (!uuid_is_valid(uuid)) {
                r = sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID.", uuid);
                goto finish;
        }
        for (char **mac = macs; mac && *mac; mac++, n++)
                if (!mac_is_valid(*mac)) {
                        r = sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "'%s' is not a MAC address.", *mac);
                        goto finish;
                }
        if (n > INCOMING_PORTS_MAX) {
                r = sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%zu ports: a domain has at most %u.", n,
                                      INCOMING_PORTS_MAX);
                goto finish;
        }
        pool = isempty(pool_name) ? manager_pool_for_name(m, NULL) : manager_find_pool(m, pool_name);
        if (!pool) {
                if (asprintf(&why, "No pool '%s' on this host%s", isempty(pool_name) ? "(default)" : pool_name,
                             required ? ", and the domain requires a VF." : "; it will run synthetic.") < 0)
                        why = NULL;
                r = sd_bus_reply_method_return(msg, "bs", !required, why ?: "");
                goto finish;
        }
        r = manager_claim_incoming(m, pool, uuid, macs, n, required, INCOMING_PRECLAIM_USEC, &why);
        log_info("Incoming migration of %s announced by its source: %s", uuid, why ?: "");
        r = sd_bus_reply_method_return(msg, "bs", r >= 0, why ?: "");
finish:
        for (char **mac = macs; mac && *mac; mac++)
                free(*mac);
        free(macs);
        return r;
}

/* The destination of a migration: the source is about to let QEMU switch
 * over; frames for its ports must come here from now on (they wait in the
 * new tap until the domain runs here). */
static int manager_handover(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *uuid;
        unsigned n = 0;
        Domain *d;
        Pool *pool;
        int r;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &uuid);
        if (r < 0)
                return r;
        if (!uuid_is_valid(uuid))
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID.", uuid);
        d = manager_load_domain(m, uuid);
        if (!d)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_DOMAIN, "No incoming domain %s here.", uuid);
        pool = manager_pool_for(m, d);
        if (!pool)
                return sd_bus_reply_method_return(msg, "u", 0);
        for (size_t i = 0; i < d->n_ports; i++) {
                r = pool_handover_in(pool, d->ports[i]);
                if (r < 0)
                        return sd_bus_error_setf(error, BUS_ERROR_SWITCH_FAILED, "Steering %s to %s failed: %s.",
                                                 d->ports[i]->mac, d->ports[i]->synthetic_tap, strerror(-r));
                if (r > 0)
                        n++;
        }
        log_info("Handover: %u port(s) of incoming %s steered here.", n, d->name);
        return sd_bus_reply_method_return(msg, "u", n);
}

/* -------------------------------------------------------------- Manager */

static int manager_get_domain(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s;
        Domain *d;
        int r;

        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        d = manager_find_domain(m, s);
        if (d && !caller_may_see(m, msg, d))
                d = NULL;       /* answered like a domain that does not exist */
        if (!d)
                return no_such_domain(m, s, error);
        return sd_bus_reply_method_return(msg, "o", d->path);
}

static int manager_attach_detach(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s, *mac;
        Domain *d;
        int r;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "ss", &s, &mac);
        if (r < 0)
                return r;
        d = lookup_domain(m, s, error);
        if (!d)
                return -ENOENT;
        if (strcmp(sd_bus_message_get_member(msg), "Attach") == 0)
                return do_attach(m, d, mac, msg, error);
        return do_detach(m, d, mac, msg, error);
}

static int manager_set_policy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s, *pool;
        uint32_t prio;
        int req, r;
        Domain *d;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "ssub", &s, &pool, &prio, &req);
        if (r < 0)
                return r;
        d = lookup_domain(m, s, error);
        if (!d)
                return -ENOENT;
        return do_set_policy(m, d, pool, prio, req, false, msg, error);
}

static int manager_clear_policy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s;
        Domain *d;
        int r;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        d = lookup_domain(m, s, error);
        if (!d)
                return -ENOENT;
        return do_set_policy(m, d, "", 0, false, true, msg, error);
}

static int manager_reload_method(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;
        int r;

        r = check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = manager_reload(m, &why);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_CONFIG_INVALID, "%s; the running configuration is unchanged.",
                                         why ?: strerror(-r));
        return sd_bus_reply_method_return(msg, NULL);
}

static int prop_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int prop_libvirt_uri(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", virt_get_uri(m->virt) ?: "");
}

static int prop_libvirt_connected(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "b", virt_is_connected(m->virt));
}

static int prop_object_list(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        if (strcmp(property, "Pools") == 0)
                for (size_t i = 0; i < m->n_pools && r >= 0; i++)
                        r = sd_bus_message_append(reply, "o", m->pools[i]->path);
        else if (strcmp(property, "Domains") == 0)
                for (size_t i = 0; i < m->n_domains && r >= 0; i++) {
                        if (m->domains[i]->exported)
                                r = sd_bus_message_append(reply, "o", m->domains[i]->path);
                }
        else
                for (size_t i = 0; i < m->n_jobs && r >= 0; i++)
                        r = sd_bus_message_append(reply, "o", m->jobs[i]->path);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", prop_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LibvirtURI", "s", prop_libvirt_uri, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LibvirtConnected", "b", prop_libvirt_connected, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Pools", "ao", prop_object_list, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Domains", "ao", prop_object_list, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Jobs", "ao", prop_object_list, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetDomain", SD_BUS_ARGS("s", domain), SD_BUS_RESULT("o", path), manager_get_domain,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Attach", SD_BUS_ARGS("s", domain, "s", mac), SD_BUS_RESULT("o", job),
                                manager_attach_detach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("s", domain, "s", mac), SD_BUS_RESULT("o", job),
                                manager_attach_detach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetPolicy", SD_BUS_ARGS("s", domain, "s", pool, "u", priority, "b", required),
                                SD_BUS_NO_RESULT, manager_set_policy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ClearPolicy", SD_BUS_ARGS("s", domain), SD_BUS_NO_RESULT, manager_clear_policy,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", NULL, NULL, manager_reload_method, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Migrate", SD_BUS_ARGS("s", domain, "s", destination_uri, "a{sv}", options),
                                SD_BUS_RESULT("o", job), manager_migrate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("HookMigrateBegin", SD_BUS_ARGS("s", domain_xml),
                                SD_BUS_RESULT("b", allow, "s", new_xml, "s", message), manager_hook_migrate_begin,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("HookStarted", SD_BUS_ARGS("s", uuid), SD_BUS_NO_RESULT, manager_hook_started,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Handover", SD_BUS_ARGS("s", uuid), SD_BUS_RESULT("u", ports), manager_handover,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PrepareIncoming", SD_BUS_ARGS("s", uuid, "s", pool, "b", required, "as", macs),
                                SD_BUS_RESULT("b", ok, "s", message), manager_prepare_incoming,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobNew", SD_BUS_ARGS("o", job, "s", kind, "o", domain), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobFinished", SD_BUS_ARGS("o", job, "s", state), 0),
        SD_BUS_VTABLE_END,
};

/* --------------------------------------------------------------- Domain */

static int domain_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *uuid = NULL;

        if (sd_bus_path_decode(path, VFO_DOMAIN_PREFIX, &uuid) <= 0)
                return 0;
        /* gone domains too: finished jobs still name them */
        for (size_t i = 0; i < m->n_domains; i++)
                if (strcmp(m->domains[i]->uuid, uuid) == 0) {
                        if (!caller_may_see(m, sd_bus_get_current_message(bus), m->domains[i]))
                                return 0;
                        *found = m->domains[i];
                        return 1;
                }
        return 0;
}

static int domain_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        Manager *m = userdata;
        size_t n = 0;

        for (size_t i = 0; i < m->n_domains; i++)
                if (m->domains[i]->exported && nodes_add(&l, &n, m->domains[i]->path) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 0;
}

static int domain_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        Manager *m = d->manager;

        if (strcmp(property, "Name") == 0)
                return sd_bus_message_append(reply, "s", d->name);
        if (strcmp(property, "UUID") == 0)
                return sd_bus_message_append(reply, "s", d->uuid);
        if (strcmp(property, "State") == 0)
                return sd_bus_message_append(reply, "s", virt_domain_state_to_string(d->state));
        if (strcmp(property, "AgentConnected") == 0)
                return sd_bus_message_append(reply, "b", agent_conn_is_synced(d->agent));
        if (strcmp(property, "AgentVersion") == 0)
                return sd_bus_message_append(reply, "s", agent_conn_get_version(d->agent));
        if (strcmp(property, "OptedIn") == 0)
                return sd_bus_message_append(reply, "b", domain_opted_in(d));
        if (strcmp(property, "Pool") == 0) {
                Pool *p = manager_pool_for(m, d);
                return sd_bus_message_append(reply, "s", p ? p->config.name : d->policy.pool);
        }
        if (strcmp(property, "Priority") == 0)
                return sd_bus_message_append(reply, "u", d->policy.present ? d->policy.priority : 0);
        if (strcmp(property, "Required") == 0)
                return sd_bus_message_append(reply, "b", d->policy.required);
        return -ENOENT;
}

static int domain_prop_ports(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssoso)");
        for (size_t i = 0; r >= 0 && i < d->n_ports; i++) {
                Port *p = d->ports[i];
                const char *path_s = p->path == VFO__PATH_KIND__PATH_KIND_VF          ? "vf"
                                     : p->path == VFO__PATH_KIND__PATH_KIND_SYNTHETIC ? "synthetic"
                                                                                      : "unknown";
                r = sd_bus_message_append(reply, "(ssoso)", p->mac, path_s, p->vf ? p->vf->path : "/",
                                          port_state_to_string(port_get_state(p)), p->job ? p->job->path : "/");
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int domain_attach_detach(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        const char *mac;
        int r;

        r = check_admin(d->manager, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &mac);
        if (r < 0)
                return r;
        if (strcmp(sd_bus_message_get_member(msg), "Attach") == 0)
                return do_attach(d->manager, d, mac, msg, error);
        return do_detach(d->manager, d, mac, msg, error);
}

static int domain_set_policy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        const char *pool;
        uint32_t prio;
        int req, r;

        r = check_admin(d->manager, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "sub", &pool, &prio, &req);
        if (r < 0)
                return r;
        return do_set_policy(d->manager, d, pool, prio, req, false, msg, error);
}

static const sd_bus_vtable domain_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UUID", "s", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AgentConnected", "b", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AgentVersion", "s", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OptedIn", "b", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Pool", "s", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Priority", "u", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Required", "b", domain_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Ports", "a(ssoso)", domain_prop_ports, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Attach", SD_BUS_ARGS("s", mac), SD_BUS_RESULT("o", job), domain_attach_detach,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("s", mac), SD_BUS_RESULT("o", job), domain_attach_detach,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetPolicy", SD_BUS_ARGS("s", pool, "u", priority, "b", required), SD_BUS_NO_RESULT,
                                domain_set_policy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ----------------------------------------------------------------- Pool */

static int pool_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *name = NULL;
        Pool *p;

        if (sd_bus_path_decode(path, VFO_POOL_PREFIX, &name) <= 0)
                return 0;
        p = manager_find_pool(m, name);
        if (!p)
                return 0;
        *found = p;
        return 1;
}

static int pool_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        Manager *m = userdata;
        size_t n = 0;

        for (size_t i = 0; i < m->n_pools; i++)
                if (nodes_add(&l, &n, m->pools[i]->path) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 0;
}

static int pool_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Pool *p = userdata;
        Manager *m = p->manager;
        int r;

        if (strcmp(property, "Name") == 0)
                return sd_bus_message_append(reply, "s", p->config.name);
        if (strcmp(property, "Type") == 0)
                return sd_bus_message_append(reply, "s", pool_type_to_string(p->config.type));
        if (strcmp(property, "Steering") == 0)
                return sd_bus_message_append(reply, "s",
                                             steering_kind_to_string(p->config.type == POOL_TYPE_EMULATED ? STEERING_BRIDGE
                                                                                                          : p->config.steering));
        if (strcmp(property, "Total") == 0)
                return sd_bus_message_append(reply, "u", (uint32_t) p->n_vfs);
        if (strcmp(property, "Free") == 0)
                return sd_bus_message_append(reply, "u", pool_count_free(p));
        if (strcmp(property, "Waiting") == 0) {
                uint32_t n = 0;
                for (size_t i = 0; i < m->n_domains; i++)
                        if (manager_pool_for(m, m->domains[i]) == p)
                                for (size_t k = 0; k < m->domains[i]->n_ports; k++)
                                        n += port_get_state(m->domains[i]->ports[k]) == PORT_WAITING;
                return sd_bus_message_append(reply, "u", n);
        }
        if (strcmp(property, "VFs") == 0) {
                r = sd_bus_message_open_container(reply, 'a', "o");
                for (size_t i = 0; r >= 0 && i < p->n_vfs; i++)
                        r = sd_bus_message_append(reply, "o", p->vfs[i]->path);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(reply);
        }
        return -ENOENT;
}

static const sd_bus_vtable pool_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Steering", "s", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Total", "u", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Free", "u", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Waiting", "u", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VFs", "ao", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

/* ------------------------------------------------------------------- VF */

static int vf_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                   sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *id = NULL;
        Vf *vf;

        if (sd_bus_path_decode(path, VFO_VF_PREFIX, &id) <= 0)
                return 0;
        vf = manager_find_vf(m, id);
        if (!vf)
                return 0;
        *found = vf;
        return 1;
}

static int vf_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        Manager *m = userdata;
        size_t n = 0;

        for (size_t i = 0; i < m->n_pools; i++)
                for (size_t j = 0; j < m->pools[i]->n_vfs; j++)
                        if (nodes_add(&l, &n, m->pools[i]->vfs[j]->path) < 0)
                                return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 0;
}

static int vf_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vf *vf = userdata;

        if (strcmp(property, "Id") == 0)
                return sd_bus_message_append(reply, "s", vf->id);
        if (strcmp(property, "Pool") == 0)
                return sd_bus_message_append(reply, "o", vf->pool->path);
        if (strcmp(property, "State") == 0)
                return sd_bus_message_append(reply, "s", vf_state_to_string(vf->state));
        if (strcmp(property, "Domain") == 0)
                return sd_bus_message_append(reply, "o", vf->holder ? vf->holder->domain->path : "/");
        if (strcmp(property, "MAC") == 0)
                return sd_bus_message_append(reply, "s", vf->holder ? vf->holder->mac : "");
        if (strcmp(property, "PF") == 0)
                return sd_bus_message_append(reply, "s", vf->pf);
        if (strcmp(property, "Index") == 0)
                return sd_bus_message_append(reply, "u", vf->index);
        return -ENOENT;
}

static const sd_bus_vtable vf_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", vf_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Pool", "o", vf_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", vf_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Domain", "o", vf_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MAC", "s", vf_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PF", "s", vf_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Index", "u", vf_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

/* ------------------------------------------------------------------ Job */

/* The name on the bus of why a job failed; "" while it has not. */
const char *bus_job_error_name(JobError e) {
        static const char *const table[_JOB_ERROR_MAX] = {
                [JOB_ERROR_NONE] = "",
                [JOB_ERROR_BUSY] = BUS_ERROR_BUSY,
                [JOB_ERROR_NOT_RUNNING] = BUS_ERROR_NOT_RUNNING,
                [JOB_ERROR_PAUSED] = BUS_ERROR_PAUSED,
                [JOB_ERROR_NO_AGENT] = BUS_ERROR_NO_AGENT,
                [JOB_ERROR_AGENT_TIMEOUT] = BUS_ERROR_AGENT_TIMEOUT,
                [JOB_ERROR_AGENT_REFUSED] = BUS_ERROR_AGENT_REFUSED,
                [JOB_ERROR_LIBVIRT] = BUS_ERROR_LIBVIRT,
                [JOB_ERROR_UNPLUG_FAILED] = BUS_ERROR_UNPLUG_FAILED,
                [JOB_ERROR_SWITCH_FAILED] = BUS_ERROR_SWITCH_FAILED,
                [JOB_ERROR_NO_VF_FREE] = BUS_ERROR_NO_VF_FREE,
                [JOB_ERROR_NO_SUCH_PORT] = BUS_ERROR_NO_SUCH_PORT,
                [JOB_ERROR_NOT_ATTACHED] = BUS_ERROR_NOT_ATTACHED,
                [JOB_ERROR_INTERNAL] = BUS_ERROR_INTERNAL,
                [JOB_ERROR_CANCELLED] = BUS_ERROR_CANCELLED,
        };
        return e >= 0 && e < _JOB_ERROR_MAX && table[e] ? table[e] : BUS_ERROR_INTERNAL;
}

static int job_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error) {
        Manager *m = userdata;
        const char *e = startswith(path, VFO_JOB_PREFIX "/");
        char *end;
        uint64_t id;
        Job *j;

        if (!e || !*e)
                return 0;
        errno = 0;
        id = strtoull(e, &end, 10);
        if (errno != 0 || *end)
                return 0;
        j = manager_find_job(m, id);
        if (!j)
                return 0;
        *found = j;
        return 1;
}

static int job_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        Manager *m = userdata;
        size_t n = 0;

        for (size_t i = 0; i < m->n_jobs; i++)
                if (nodes_add(&l, &n, m->jobs[i]->path) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 0;
}

static int job_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;

        if (strcmp(property, "Id") == 0)
                return sd_bus_message_append(reply, "t", j->id);
        if (strcmp(property, "Kind") == 0)
                return sd_bus_message_append(reply, "s", job_kind_to_string(j->kind));
        if (strcmp(property, "Reason") == 0)
                return sd_bus_message_append(reply, "s", job_reason_to_string(j->reason));
        if (strcmp(property, "Domain") == 0)
                return sd_bus_message_append(reply, "o", j->domain->path);
        if (strcmp(property, "MAC") == 0)
                return sd_bus_message_append(reply, "s", j->mac);
        if (strcmp(property, "VF") == 0)
                return sd_bus_message_append(reply, "o", j->vf ? j->vf->path : "/");
        if (strcmp(property, "Phase") == 0)
                return sd_bus_message_append(reply, "s", job_phase_to_string(j->phase));
        if (strcmp(property, "Progress") == 0)
                return sd_bus_message_append(reply, "u", job_progress(j));
        if (strcmp(property, "State") == 0)
                return sd_bus_message_append(reply, "s", job_state_to_string(j->state));
        if (strcmp(property, "Error") == 0)
                return sd_bus_message_append(reply, "s", bus_job_error_name(j->error));
        if (strcmp(property, "ErrorMessage") == 0)
                return sd_bus_message_append(reply, "s", j->error_message ?: "");
        if (strcmp(property, "Fallback") == 0)
                return sd_bus_message_append(reply, "s", j->fallback ?: "");
        if (strcmp(property, "StartUSec") == 0)
                return sd_bus_message_append(reply, "t", j->start_realtime);
        if (strcmp(property, "FinishUSec") == 0)
                return sd_bus_message_append(reply, "t", j->finish_realtime);
        if (strcmp(property, "LibvirtUSec") == 0)
                return sd_bus_message_append(reply, "t", j->libvirt_usec);
        if (strcmp(property, "AgentUSec") == 0)
                return sd_bus_message_append(reply, "t", j->agent_usec);
        if (strcmp(property, "Destination") == 0)
                return sd_bus_message_append(reply, "s", migration_from_job(j) ? migration_destination(migration_from_job(j)) : "");
        return -ENOENT;
}

static int job_cancel_method(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        int r;

        r = check_admin(j->manager, msg, error);
        if (r < 0)
                return r;
        if (!j->ops->cancel)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Only migrations can be cancelled; an attach or detach rolls back by itself when it fails.");
        if (j->state != JOB_RUNNING)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Job %" PRIu64 " has ended already.", j->id);
        r = j->ops->cancel(j);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT, "libvirt could not abort the migration: %s.", strerror(-r));
        return sd_bus_reply_method_return(msg, NULL);
}

static const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Reason", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Domain", "o", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MAC", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VF", "o", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Phase", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Progress", "u", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ErrorMessage", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Fallback", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StartUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FinishUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LibvirtUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AgentUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Destination", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("Cancel", NULL, NULL, job_cancel_method, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* --------------------------------------------------------------- events */

void bus_job_new(Job *j) {
        Manager *m = j->manager;

        if (!m->bus)
                return;
        (void) sd_bus_emit_object_added(m->bus, j->path);
        (void) sd_bus_emit_signal(m->bus, VFO_PATH, VFO_MANAGER_IFACE, "JobNew", "oso", j->path,
                                  job_kind_to_string(j->kind), j->domain->path);
        bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", NULL);
}

void bus_job_finished(Job *j) {
        Manager *m = j->manager;

        if (!m->bus)
                return;
        (void) sd_bus_emit_signal(m->bus, VFO_PATH, VFO_MANAGER_IFACE, "JobFinished", "os", j->path,
                                  job_state_to_string(j->state));
}

void bus_job_removed(Job *j) {
        Manager *m = j->manager;

        if (!m->bus)
                return;
        (void) sd_bus_emit_object_removed(m->bus, j->path);
        bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", NULL);
}

void bus_domain_exported(Domain *d, bool exported) {
        Manager *m = d->manager;

        if (!m->bus || !m->reconciled)
                return;
        if (exported)
                (void) sd_bus_emit_object_added(m->bus, d->path);
        else
                (void) sd_bus_emit_object_removed(m->bus, d->path);
        bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "Domains", NULL);
}

int bus_setup(Manager *m, const char *address) {
        int r;

        if (address) {
                r = sd_bus_new(&m->bus);
                if (r >= 0)
                        r = sd_bus_set_address(m->bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(m->bus, true);
                if (r >= 0)
                        r = sd_bus_start(m->bus);
        } else
                r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %m");

        if ((r = sd_bus_add_object_vtable(m->bus, NULL, VFO_PATH, VFO_MANAGER_IFACE, manager_vtable, m)) < 0 ||
            (r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_DOMAIN_PREFIX, VFO_DOMAIN_IFACE, domain_vtable,
                                            domain_find, m)) < 0 ||
            (r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_DOMAIN_PREFIX, domain_enumerate, m)) < 0 ||
            (r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_POOL_PREFIX, VFO_POOL_IFACE, pool_vtable, pool_find,
                                            m)) < 0 ||
            (r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_POOL_PREFIX, pool_enumerate, m)) < 0 ||
            (r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_VF_PREFIX, VFO_VF_IFACE, vf_vtable, vf_find, m)) < 0 ||
            (r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_VF_PREFIX, vf_enumerate, m)) < 0 ||
            (r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_JOB_PREFIX, VFO_JOB_IFACE, job_vtable, job_find, m)) < 0 ||
            (r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_JOB_PREFIX, job_enumerate, m)) < 0 ||
            (r = sd_bus_add_object_manager(m->bus, NULL, VFO_PATH)) < 0)
                return log_error_errno(r, "Cannot register the D-Bus objects: %m");

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m");
        r = sd_bus_request_name(m->bus, VFO_SERVICE, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot take the bus name org.vfo1 (another vfod, or the policy file is missing): %m");
        return 0;
}
