/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: what the command parts (vfoctl.c, watch.c) share. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "agent/ctl/format.h"
#include "agent/ctl/objects.h"
#include "lib/time-util.h"

extern bool arg_json;
extern bool arg_quiet;
extern usec_t arg_timeout;      /* 0: no deadline */

/* Prints "vfoctl: MESSAGE" to stderr; returns code (an EXIT_* value). */
int ctl_error(int code, const char *format, ...) _printf_(2, 3);

/* Prints a failed call (the D-Bus error message, or strerror(r)) and returns
 * the exit code it maps to. 'what' names what was being done, for errors
 * that do not come from vfod. */
int ctl_bus_error(const sd_bus_error *error, int r, const char *what);

/* The decimal N of /org/vfo1/job/N (0 if it is not one). */
uint64_t job_id_from_path(const char *object);

/* Duration of a job: finished - started, or now - started while it runs. */
uint64_t job_duration(const VfoJob *j);

void json_job_fields(JsonWriter *w, sd_bus *bus, const VfoJob *j);

/* attach/detach/migrate after the call: follow the job until it ends, or
 * arg_timeout (watch.c). With cancel_on_interrupt (migrate), the first
 * SIGINT/SIGTERM calls Job.Cancel() and the job is followed on; a second
 * one stops waiting. */
int follow_job(sd_bus *bus, const char *object, bool cancel_on_interrupt);

/* `vfoctl hook DRIVER …`, libvirt's hook; argv[0] is "hook" (hook-main.c).
 * Exits 0 on every failure but vfod's refusal of an incoming migration. */
int cmd_hook(int argc, char *argv[]);

int cmd_monitor(sd_bus *bus);
