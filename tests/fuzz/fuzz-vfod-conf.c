/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: hostile bytes as vfod.conf (agent/host/config.c over
 * lib/keyfile.c). A config that parses must hold what config.h promises;
 * one that does not must say why, with the file's name. Built for libFuzzer
 * by 'make fuzz' and replayed over its corpus by 'make check'. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/config.h"

#define FUZZ_NAME "vfod.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t size) {
        return memchr(s, '\0', size) != NULL;
}

static void check_list(char **l, size_t n) {
        if (n > 0 && !l)
                abort();
        for (size_t i = 0; i < n; i++)
                if (!l[i] || !l[i][0] || strpbrk(l[i], " \t"))
                        abort();
        if (l && l[n])
                abort();                /* kept NULL-terminated */
}

static void check_pool(const Config *c, const PoolConfig *p) {
        if (!terminated(p->name, sizeof(p->name)) || !p->name[0] ||
            !terminated(p->bridge, sizeof(p->bridge)) || !terminated(p->model, sizeof(p->model)))
                abort();
        if (config_find_pool(c, p->name) != p)
                abort();                /* names are unique */
        if (!pool_type_to_string(p->type) || !steering_kind_to_string(p->steering))
                abort();
        check_list(p->pfs, p->n_pfs);
        check_list(p->vfs, p->n_vfs);
        if (p->vlan > CONFIG_VLAN_MAX)
                abort();

        switch (p->type) {
        case POOL_TYPE_EMULATED:
                if (p->steering != STEERING_BRIDGE || !p->bridge[0] || p->count < 1 ||
                    p->count > CONFIG_POOL_COUNT_MAX || p->n_pfs > 0 || p->n_vfs > 0 || !p->model[0])
                        abort();
                break;
        case POOL_TYPE_SRIOV:
                if (p->n_pfs == 0 && p->n_vfs == 0)
                        abort();
                if ((p->steering == STEERING_BRIDGE) != (p->bridge[0] != '\0'))
                        abort();
                break;
        case _POOL_TYPE_MAX:
        case _POOL_TYPE_INVALID:
                abort();
        }
}

static void check_config(const Config *c) {
        if (!c->state_directory || c->state_directory[0] != '/' || !c->group || !c->group[0])
                abort();
        if (c->libvirt_uri && !strchr(c->libvirt_uri, ':'))
                abort();
        if (c->preempt_margin > CONFIG_PREEMPT_MARGIN_MAX)
                abort();
        if (c->reassign_interval == 0 || c->reassign_interval > CONFIG_TIMEOUT_MAX ||
            c->agent_timeout == 0 || c->agent_timeout > CONFIG_TIMEOUT_MAX || c->unplug_timeout == 0 ||
            c->unplug_timeout > CONFIG_TIMEOUT_MAX)
                abort();
        if (!no_agent_policy_to_string(c->no_agent))
                abort();
        if (c->n_pools > 0 && !c->pools)
                abort();
        for (size_t i = 0; i < c->n_pools; i++)
                check_pool(c, &c->pools[i]);
        /* DefaultPool= names a pool that exists. */
        if ((c->n_pools > 0) != (config_default_pool(c) != NULL))
                abort();
        if (c->default_pool && !config_find_pool(c, c->default_pool))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *message = NULL, *copy = NULL;
        FILE *f;
        int r;

        /* A copy: fmemopen() wants a writable buffer. */
        copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        f = fmemopen(copy, size, "r");
        if (!f)
                return 0;
        r = config_parse(f, FUZZ_NAME, &c, &message);
        fclose(f);

        if (r >= 0) {
                if (!c || message)
                        abort();
                check_config(c);
                return 0;
        }
        if (c)
                abort();
        /* Every error but running out of memory names the file. */
        if (r != -ENOMEM && (!message || strncmp(message, FUZZ_NAME ":", strlen(FUZZ_NAME ":")) != 0))
                abort();
        return 0;
}
