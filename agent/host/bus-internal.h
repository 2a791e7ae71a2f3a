/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of vfod's bus face share (agent/host/bus*.c). A handler
 * parses, checks the caller, calls the core (agent/host/actions.h) and
 * names its Failure; it holds no rules of its own. */
#pragma once

#include <stdbool.h>

#include "agent/host/actions.h"
#include "agent/host/bus.h"

/* 1 for root, 0 for a member of AdminGroup=, else AccessDenied. */
int bus_check_admin(Manager *m, sd_bus_message *msg, sd_bus_error *error);
/* A domain not exported is seen by root and AdminGroup only. */
bool bus_caller_may_see(Manager *m, sd_bus_message *msg, const Domain *d);

/* org.vfo1.Error.NAME of 'e' ("" for VFO_ERROR_NONE). */
const char *bus_error_name(VfoError e) _const_;
/* Sets 'error' from the core's refusal 'r' and 'f', and returns it. */
int bus_set_failure(sd_bus_error *error, int r, const Failure *f);
int bus_reply_job(sd_bus_message *msg, const Job *j);

void strv_freep(char ***p);
/* Appends a copy of 'path' to the NULL-terminated list of a node enumerator. */
int bus_nodes_add(char ***l, size_t *n, const char *path);

/* Domain.Attach/Detach and Manager.Attach/Detach (by the member's name). */
int bus_attach_detach(sd_bus_message *msg, Domain *d, const char *mac, sd_bus_error *error);
/* SetPolicy ('policy' with 'pool') and ClearPolicy ('policy' NULL): answered
 * when libvirt stored it. */
int bus_set_policy(sd_bus_message *msg, Domain *d, const VirtPolicy *policy, const char *pool, sd_bus_error *error);

/* The objects, each registered by its file. */
int bus_manager_register(Manager *m);
int bus_domain_register(Manager *m);
int bus_pool_register(Manager *m);      /* pools and their VFs */
int bus_job_register(Manager *m);
