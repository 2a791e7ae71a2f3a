/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.vfo1.Pool (/org/vfo1/pool/NAME) and org.vfo1.VF (/org/vfo1/vf/ID). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/bus-internal.h"
#include "lib/log.h"
#include "lib/string-util.h"

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
                if (bus_nodes_add(&l, &n, m->pools[i]->path) < 0)
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
        if (strcmp(property, "Drained") == 0)
                return sd_bus_message_append(reply, "b", p->drained);
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
        SD_BUS_PROPERTY("Drained", "b", pool_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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
                        if (bus_nodes_add(&l, &n, m->pools[i]->vfs[j]->path) < 0)
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

int bus_pool_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_POOL_PREFIX, VFO_POOL_IFACE, pool_vtable, pool_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_POOL_PREFIX, pool_enumerate, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_VF_PREFIX, VFO_VF_IFACE, vf_vtable, vf_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_VF_PREFIX, vf_enumerate, m);
        return r;
}
