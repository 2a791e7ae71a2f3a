/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfo-agent.conf(5): the agent's settings, parsed from a keyfile. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/time-util.h"
#include "lib/validate.h"

#define AGENT_CONFIG_FILE SYSCONFDIR "/vfo/vfo-agent.conf"

/* [Port MAC] Bond=NAME: the bond vfo-agent creates over that virtio NIC. */
typedef struct AgentConfigBond {
        uint8_t mac[ETHER_ADDR_LEN_BYTES]; /* the virtio NIC's permanent MAC */
        char name[16];                  /* IFNAMSIZ */
} AgentConfigBond;

typedef struct AgentConfig {
        char *device;                   /* NULL: the default port */
        int log_level;                  /* -1: not set */
        unsigned announce_count;        /* rounds after every switch, 0..10 */
        usec_t announce_interval;       /* between rounds, 10..5000 ms */
        usec_t drain;                   /* after steering moved, 0..2000 ms */
        char ignored[VALIDATE_PORTS_MAX][MAC_STRING_MAX]; /* ports the agent leaves alone (MAC, lower case) */
        size_t n_ignored;
        AgentConfigBond bonds[VALIDATE_PORTS_MAX];
        size_t n_bonds;
} AgentConfig;

void agent_config_init(AgentConfig *c);
void agent_config_done(AgentConfig *c);

/* Loads 'path' over the defaults. A missing file is fine unless
 * 'must_exist'. On errors 'ret_message' says "FILE:LINE: reason"; the
 * settings loaded before the error are kept. */
int agent_config_load(AgentConfig *c, const char *path, bool must_exist, char **ret_message);
/* Same, from a stream named 'name' in messages (the fuzz target). */
int agent_config_parse(AgentConfig *c, FILE *f, const char *name, char **ret_message);

bool agent_config_port_ignored(const AgentConfig *c, const char *mac);
/* Bond= of the port with MAC 'mac' ("52:54:00:aa:bb:cc", either case), or
 * NULL. */
const char *agent_config_port_bond(const AgentConfig *c, const char *mac);
