/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.vfo1.Domain: /org/vfo1/domain/UUID, a domain that opted in or holds a VF. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/bus-internal.h"
#include "agent/host/agentconn.h"
#include "agent/host/job.h"
#include "lib/log.h"
#include "lib/string-util.h"

static int domain_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *uuid = NULL;

        if (sd_bus_path_decode(path, VFO_DOMAIN_PREFIX, &uuid) <= 0)
                return 0;
        /* gone domains too: finished jobs still name them */
        for (size_t i = 0; i < m->n_domains; i++)
                if (strcmp(m->domains[i]->uuid, uuid) == 0) {
                        if (!bus_caller_may_see(m, sd_bus_get_current_message(bus), m->domains[i]))
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
                if (m->domains[i]->exported && bus_nodes_add(&l, &n, m->domains[i]->path) < 0)
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

/* ------------------------------------------- shared with org.vfo1.Manager */

int bus_attach_detach(sd_bus_message *msg, Domain *d, const char *mac, sd_bus_error *error) {
        Failure f = {};
        Job *j = NULL;
        int r;

        if (streq(sd_bus_message_get_member(msg), "Attach"))
                r = manager_attach(d->manager, d, mac, &j, &f);
        else
                r = manager_detach(d->manager, d, mac, &j, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        return bus_reply_job(msg, j);
}

static void on_policy_done(Manager *m, int r, const Failure *f, void *userdata) {
        sd_bus_message *msg = userdata;

        if (r < 0)
                (void) sd_bus_reply_method_errorf(msg, bus_error_name(f->error), "%s", f->message);
        else
                (void) sd_bus_reply_method_return(msg, NULL);
        sd_bus_message_unref(msg);
}

int bus_set_policy(sd_bus_message *msg, Domain *d, const VirtPolicy *policy, const char *pool, sd_bus_error *error) {
        VirtPolicy p = {};
        Failure f = {};
        int r;

        if (policy) {
                p = *policy;
                if (strlen(pool) >= sizeof(p.pool))
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_POOL, "No pool '%s' in vfod.conf; see 'vfoctl pools'.",
                                                 pool);
                snprintf(p.pool, sizeof(p.pool), "%s", pool);
        }
        r = manager_set_policy(d->manager, d, policy ? &p : NULL, on_policy_done, sd_bus_message_ref(msg), &f);
        if (r < 0) {
                sd_bus_message_unref(msg);
                return bus_set_failure(error, r, &f);
        }
        return 1;       /* on_policy_done() answers */
}

/* ------------------------------------------------------------- methods */

static int domain_attach_detach(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        const char *mac;
        int r;

        r = bus_check_admin(d->manager, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &mac);
        if (r < 0)
                return r;
        return bus_attach_detach(msg, d, mac, error);
}

static int domain_set_policy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        const char *pool;
        uint32_t prio;
        int req, r;

        r = bus_check_admin(d->manager, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "sub", &pool, &prio, &req);
        if (r < 0)
                return r;
        return bus_set_policy(msg, d, &(VirtPolicy) { .priority = prio, .required = req }, pool, error);
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

int bus_domain_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_DOMAIN_PREFIX, VFO_DOMAIN_IFACE, domain_vtable, domain_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_DOMAIN_PREFIX, domain_enumerate, m);
        return r;
}
