/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: what its commands (show.c, change.c) and watch.c share: the
 * options every command reads, error messages, a job as JSON. common.c
 * calls none of them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
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

/* "key": the id of the VF 'object', or null. */
void json_vf_id(JsonWriter *w, const char *key, const char *object);
void json_job_fields(JsonWriter *w, sd_bus *bus, const VfoJob *j);
/* Ends a JSON document: a newline, and out it goes. */
void json_end_line(JsonWriter *w);

const char *str_or_empty(const char *s);
const char *pool_display(const char *pool);     /* "" is "(default)" */
const char *yes_no(bool b);
