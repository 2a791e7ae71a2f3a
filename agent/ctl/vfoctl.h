/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: the commands main() (vfoctl.c) runs by name, and the options that
 * only they read (vfoctl.c sets them). A command gets the bus and its
 * arguments after the verb, and returns an EXIT_* value. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "agent/ctl/migrate.h"

/* show.c: what vfod holds. */
int cmd_status(sd_bus *bus, char **args);
int cmd_domains(sd_bus *bus, char **args);
int cmd_pools(sd_bus *bus, char **args);
int cmd_vfs(sd_bus *bus, char **args);
int cmd_jobs(sd_bus *bus, char **args);

/* change.c: what changes vfod's state. */
extern bool arg_no_wait;
extern const char *arg_pool;                    /* set-policy; NULL: not given */
extern long arg_priority;                       /* set-policy; -1: not given */
extern int arg_required;                        /* set-policy; -1: not given */
extern const char *arg_timeout_string;          /* --timeout as given: migrate reads it its own way */
extern MigrateArgs arg_migrate;

int cmd_attach(sd_bus *bus, char **args);
int cmd_detach(sd_bus *bus, char **args);
/* The checks of the migrate options that need the verb's arguments; returns
 * 0, or -EXIT_* after printing. */
int migrate_check_args(char **args);
int cmd_migrate(sd_bus *bus, char **args);
int cmd_set_policy(sd_bus *bus, char **args);
int cmd_clear_policy(sd_bus *bus, char **args);
int cmd_reload(sd_bus *bus, char **args);
/* Host servicing: drain [POOL] waits until every VF of the pool (or of
 * every pool) is detached; restore [POOL] ends it. */
int cmd_drain(sd_bus *bus, char **args);
int cmd_restore(sd_bus *bus, char **args);

/* monitor.c: every change of vfod's objects until interrupted. */
int cmd_monitor(sd_bus *bus);

/* `vfoctl hook DRIVER …`, libvirt's hook; argv[0] is "hook" (hook-main.c).
 * Exits 0 on every failure but vfod's refusal of an incoming migration. */
int cmd_hook(int argc, char *argv[]);
