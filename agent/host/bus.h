/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's D-Bus API, org.vfo1 (man/org.vfo1.5). */
#pragma once

#include "agent/host/manager.h"
#include "lib/bus-names.h"

/* Connects (NULL: the system bus; DBUS_SYSTEM_BUS_ADDRESS is honoured),
 * registers the objects and takes the name org.vfo1. */
int bus_setup(Manager *m, const char *address);

/* PropertiesChanged for the NULL-terminated list of properties. */
void bus_emit_changed(Manager *m, const char *path, const char *interface, ...) _sentinel_;
void bus_job_new(Job *j);
void bus_job_finished(Job *j);
void bus_job_removed(Job *j);
void bus_domain_exported(Domain *d, bool exported);
