/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `vfoctl migrate`: its options as the a{sv} of Manager.Migrate (see
 * org.vfo1(5)). The mapping is a plain table, so the unit test checks it
 * without a bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct MigrateArgs {
        int live; /* -1: not given (vfod's default: true) */
        int p2p;  /* -1: not given (vfod's default: true) */
        bool persistent;
        bool undefine_source;
        bool resume;
        const char *migrate_uri; /* NULL: not given */
        const char *listen_address;
        const char *destination_bus;
        bool managed_switchover;
        bool postcopy;
        bool bandwidth_set;
        uint64_t bandwidth; /* MiB/s */
        bool timeout_set;
        uint64_t timeout; /* seconds */
} MigrateArgs;

#define MIGRATE_ARGS_INIT ((MigrateArgs){.live = -1, .p2p = -1})

typedef struct MigrateOption {
        const char *key;
        char type; /* 'b', 's' or 't' */
        bool b;
        const char *s;
        uint64_t t;
} MigrateOption;

#define MIGRATE_OPTIONS_MAX 16

/* The options given, in a fixed order; what was not given is left out (vfod
 * applies its defaults). Returns how many were written. */
size_t migrate_options(const MigrateArgs *a, MigrateOption out[static MIGRATE_OPTIONS_MAX]);

/* Appends the a{sv} to a message. */
int migrate_append_options(sd_bus_message *m, const MigrateArgs *a);
