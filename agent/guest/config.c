/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfo-agent.conf(5); see config.h. Unknown sections and keys are errors, so
 * a typo does not silently keep a default. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/guest/agent.h"
#include "agent/guest/config.h"
#include "agent/guest/switch.h"
#include "lib/keyfile.h"
#include "lib/log.h"
#include "lib/parse-util.h"

void agent_config_init(AgentConfig *c) {
        *c = (AgentConfig) {
                .log_level = -1,
                .announce_count = AGENT_ANNOUNCE_COUNT_DEFAULT,
                .announce_interval = AGENT_ANNOUNCE_INTERVAL_DEFAULT,
                .drain = SWITCH_DRAIN_USEC,
        };
}

void agent_config_done(AgentConfig *c) {
        c->device = mfree(c->device);
}

/* The index of the port's Bond= in c->bonds, or -1. */
static int agent_config_bond_index(const AgentConfig *c, const char *mac) {
        uint8_t m[ETHER_ADDR_LEN_BYTES];

        if (parse_mac(mac, m) < 0)
                return -1;
        for (size_t i = 0; i < c->n_bonds; i++)
                if (memcmp(c->bonds[i].mac, m, 6) == 0)
                        return (int) i;
        return -1;
}

#define FAIL(...)                                               \
        do {                                                    \
                snprintf(why, why_size, __VA_ARGS__);           \
                return -EINVAL;                                 \
        } while (0)

static int agent_config_assign(const KeyfileLocation *loc, const char *section, const char *key, const char *value,
                               void *userdata, char *why, size_t why_size) {
        AgentConfig *c = userdata;
        unsigned v;
        int level;

        if (strcmp(section, "Agent") == 0) {
                if (strcmp(key, "Device") == 0) {
                        if (value[0] != '/')
                                FAIL("Device= needs an absolute path, got '%.64s'", value);
                        free(c->device);
                        c->device = strdup(value);
                        return c->device ? 0 : -ENOMEM;
                }
                if (strcmp(key, "LogLevel") == 0) {
                        level = log_level_from_string(value);
                        if (level < 0)
                                FAIL("LogLevel= must be debug, info, notice, warning or err, got '%.32s'", value);
                        c->log_level = level;
                        return 0;
                }
        } else if (strcmp(section, "Announce") == 0) {
                if (strcmp(key, "Count") == 0) {
                        if (parse_uint(value, 0, 10, &v) < 0)
                                FAIL("Count= must be 0..10, got '%.32s'", value);
                        c->announce_count = v;
                        return 0;
                }
                if (strcmp(key, "IntervalMSec") == 0) {
                        if (parse_uint(value, 10, 5000, &v) < 0)
                                FAIL("IntervalMSec= must be 10..5000, got '%.32s'", value);
                        c->announce_interval = v * USEC_PER_MSEC;
                        return 0;
                }
        } else if (strcmp(section, "Switch") == 0) {
                if (strcmp(key, "DrainMSec") == 0) {
                        if (parse_uint(value, 0, 2000, &v) < 0)
                                FAIL("DrainMSec= must be 0..2000, got '%.32s'", value);
                        c->drain = v * USEC_PER_MSEC;
                        return 0;
                }
        } else if (strncmp(section, "Port ", 5) == 0) {
                const char *mac = section + 5;

                if (!mac_is_valid(mac))
                        FAIL("[Port MAC] needs a unicast MAC address, got '%.32s'", mac);
                if (strcmp(key, "Mode") == 0) {
                        if (strcmp(value, "auto") == 0)
                                return 0;
                        if (strcmp(value, "ignore") != 0)
                                FAIL("Mode= must be auto or ignore, got '%.32s'", value);
                        if (agent_config_bond_index(c, mac) >= 0)
                                FAIL("Mode=ignore and Bond= exclude each other");
                        if (agent_config_port_ignored(c, mac))
                                return 0;
                        if (c->n_ignored >= VALIDATE_PORTS_MAX)
                                FAIL("more than %u ports", VALIDATE_PORTS_MAX);
                        (void) mac_normalize(mac, c->ignored[c->n_ignored++]);
                        return 0;
                }
                if (strcmp(key, "Bond") == 0) {
                        int k;

                        if (!ifname_is_valid(value))
                                FAIL("Bond= needs an interface name (1-15 characters, no '/', ':' or white space), "
                                     "got '%.32s'", value);
                        if (agent_config_port_ignored(c, mac))
                                FAIL("Mode=ignore and Bond= exclude each other");
                        k = agent_config_bond_index(c, mac);
                        for (size_t i = 0; i < c->n_bonds; i++)
                                if ((int) i != k && strcmp(c->bonds[i].name, value) == 0) {
                                        char other[MAC_STRING_MAX];

                                        FAIL("Bond=%s is already the bond of [Port %s]", value,
                                             mac_to_string(c->bonds[i].mac, other));
                                }
                        if (k < 0) {
                                if (c->n_bonds >= VALIDATE_PORTS_MAX)
                                        FAIL("more than %u bonds", VALIDATE_PORTS_MAX);
                                k = (int) c->n_bonds++;
                                (void) parse_mac(mac, c->bonds[k].mac);
                        }
                        snprintf(c->bonds[k].name, sizeof(c->bonds[k].name), "%s", value);
                        return 0;
                }
        } else
                FAIL("unknown section [%.64s]", section);

        FAIL("unknown key '%.64s' in [%.64s]", key, section);
}

int agent_config_load(AgentConfig *c, const char *path, bool must_exist, char **ret_message) {
        FILE *f;
        int r;

        if (ret_message)
                *ret_message = NULL;

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT && !must_exist)
                        return 0;
                r = -errno;
                if (ret_message && asprintf(ret_message, "%s: %s", path, strerror(-r)) < 0)
                        *ret_message = NULL;
                return r;
        }

        r = agent_config_parse(c, f, path, ret_message);
        fclose(f);
        return r;
}

int agent_config_parse(AgentConfig *c, FILE *f, const char *name, char **ret_message) {
        return keyfile_parse(f, name, NULL, agent_config_assign, c, ret_message);
}

const char *agent_config_port_bond(const AgentConfig *c, const char *mac) {
        int k;

        if (!mac_is_valid(mac))
                return NULL;
        k = agent_config_bond_index(c, mac);
        return k >= 0 ? c->bonds[k].name : NULL;
}

bool agent_config_port_ignored(const AgentConfig *c, const char *mac) {
        for (size_t i = 0; i < c->n_ignored; i++)
                if (strcasecmp(c->ignored[i], mac) == 0)
                        return true;
        return false;
}
