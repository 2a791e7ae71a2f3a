/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: hostile bytes as vfo-agent.conf (agent/guest/config.c over
 * lib/keyfile.c). Whatever was loaded, also before an error, must hold what
 * config.h promises; an error must name the file. Built for libFuzzer by
 * 'make fuzz' and replayed over its corpus by 'make check'. */

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "agent/guest/config.h"
#include "lib/macro.h"

#define FUZZ_NAME "vfo-agent.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const AgentConfig *c) {
        if (c->device && c->device[0] != '/')
                abort();
        if (c->log_level < -1 || c->log_level > LOG_DEBUG)
                abort();
        if (c->announce_count > 10 || c->announce_interval < 10 * USEC_PER_MSEC ||
            c->announce_interval > 5000 * USEC_PER_MSEC || c->drain > 2000 * USEC_PER_MSEC)
                abort();
        if (c->n_ignored > VALIDATE_PORTS_MAX || c->n_bonds > VALIDATE_PORTS_MAX)
                abort();

        for (size_t i = 0; i < c->n_ignored; i++) {
                const char *mac = c->ignored[i];

                if (!mac_is_valid(mac))
                        abort();
                for (const char *p = mac; *p; p++)
                        if (isupper((unsigned char) *p))
                                abort();
                if (!agent_config_port_ignored(c, mac) || agent_config_port_bond(c, mac))
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c->ignored[j], mac) == 0)
                                abort();
        }

        for (size_t i = 0; i < c->n_bonds; i++) {
                const AgentConfigBond *b = &c->bonds[i];
                const char *name;
                char mac[18];

                if (!memchr(b->name, '\0', sizeof(b->name)) || !ifname_is_valid(b->name))
                        abort();
                (void) snprintf(mac, sizeof(mac), "%02X:%02x:%02X:%02x:%02X:%02x", b->mac[0], b->mac[1],
                                b->mac[2], b->mac[3], b->mac[4], b->mac[5]);
                name = agent_config_port_bond(c, mac);
                if (!name || strcmp(name, b->name) != 0 || agent_config_port_ignored(c, mac))
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c->bonds[j].name, b->name) == 0 || memcmp(c->bonds[j].mac, b->mac, 6) == 0)
                                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *message = NULL, *copy = NULL;
        AgentConfig c;
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

        agent_config_init(&c);
        r = agent_config_parse(&c, f, FUZZ_NAME, &message);
        fclose(f);

        /* The settings before an error are kept: they must be sound too. */
        check_config(&c);
        if (r >= 0 && message)
                abort();
        if (r < 0 && r != -ENOMEM && (!message || strncmp(message, FUZZ_NAME ":", strlen(FUZZ_NAME ":")) != 0))
                abort();

        agent_config_done(&c);
        if (c.device)
                abort();
        return 0;
}
