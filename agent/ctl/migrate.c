/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl migrate: options -> a{sv} (see migrate.h). */

#include <errno.h>
#include <stdlib.h>

#include "agent/ctl/migrate.h"

size_t migrate_options(const MigrateArgs *a, MigrateOption out[static MIGRATE_OPTIONS_MAX]) {
        size_t n = 0;

        if (a->live >= 0)
                out[n++] = (MigrateOption){.key = "live", .type = 'b', .b = a->live};
        if (a->p2p >= 0)
                out[n++] = (MigrateOption){.key = "p2p", .type = 'b', .b = a->p2p};
        if (a->persistent)
                out[n++] = (MigrateOption){.key = "persistent", .type = 'b', .b = true};
        if (a->undefine_source)
                out[n++] = (MigrateOption){.key = "undefine-source", .type = 'b', .b = true};
        if (a->migrate_uri)
                out[n++] = (MigrateOption){.key = "migrate-uri", .type = 's', .s = a->migrate_uri};
        if (a->listen_address)
                out[n++] = (MigrateOption){.key = "listen-address", .type = 's', .s = a->listen_address};
        if (a->bandwidth_set)
                out[n++] = (MigrateOption){.key = "bandwidth", .type = 't', .t = a->bandwidth};
        if (a->timeout_set)
                out[n++] = (MigrateOption){.key = "timeout", .type = 't', .t = a->timeout};
        if (a->resume)
                out[n++] = (MigrateOption){.key = "resume", .type = 'b', .b = true};
        if (a->destination_bus)
                out[n++] = (MigrateOption){.key = "destination-bus", .type = 's', .s = a->destination_bus};
        if (a->managed_switchover)
                out[n++] = (MigrateOption){.key = "managed-switchover", .type = 'b', .b = true};
        if (a->postcopy)
                out[n++] = (MigrateOption){.key = "postcopy", .type = 'b', .b = true};
        return n;
}

int migrate_append_options(sd_bus_message *m, const MigrateArgs *a) {
        MigrateOption o[MIGRATE_OPTIONS_MAX];
        size_t n = migrate_options(a, o);
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                switch (o[i].type) {
                case 'b':
                        r = sd_bus_message_append(m, "{sv}", o[i].key, "b", (int) o[i].b);
                        break;
                case 's':
                        r = sd_bus_message_append(m, "{sv}", o[i].key, "s", o[i].s);
                        break;
                case 't':
                        r = sd_bus_message_append(m, "{sv}", o[i].key, "t", o[i].t);
                        break;
                default:
                        r = -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}
