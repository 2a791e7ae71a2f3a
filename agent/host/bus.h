/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's D-Bus API, org.vfo1 (man/org.vfo1.5). */
#pragma once

#include "agent/host/manager.h"

#define BUS_ERROR_ACCESS_DENIED "org.vfo1.Error.AccessDenied"
#define BUS_ERROR_NO_SUCH_DOMAIN "org.vfo1.Error.NoSuchDomain"
#define BUS_ERROR_NO_SUCH_PORT "org.vfo1.Error.NoSuchPort"
#define BUS_ERROR_NO_SUCH_POOL "org.vfo1.Error.NoSuchPool"
#define BUS_ERROR_NO_VF_FREE "org.vfo1.Error.NoVfFree"
#define BUS_ERROR_BUSY "org.vfo1.Error.Busy"
#define BUS_ERROR_NOT_RUNNING "org.vfo1.Error.NotRunning"
#define BUS_ERROR_PAUSED "org.vfo1.Error.Paused"
#define BUS_ERROR_NO_AGENT "org.vfo1.Error.NoAgent"
#define BUS_ERROR_AGENT_TIMEOUT "org.vfo1.Error.AgentTimeout"
#define BUS_ERROR_AGENT_REFUSED "org.vfo1.Error.AgentRefused"
#define BUS_ERROR_LIBVIRT "org.vfo1.Error.Libvirt"
#define BUS_ERROR_UNPLUG_FAILED "org.vfo1.Error.UnplugFailed"
#define BUS_ERROR_SWITCH_FAILED "org.vfo1.Error.SwitchFailed"
#define BUS_ERROR_INVALID_ARGUMENT "org.vfo1.Error.InvalidArgument"
#define BUS_ERROR_CONFIG_INVALID "org.vfo1.Error.ConfigInvalid"
#define BUS_ERROR_NOT_CONNECTED "org.vfo1.Error.NotConnected"
#define BUS_ERROR_ALREADY_ATTACHED "org.vfo1.Error.AlreadyAttached"
#define BUS_ERROR_NOT_ATTACHED "org.vfo1.Error.NotAttached"

/* Connects (NULL: the system bus; DBUS_SYSTEM_BUS_ADDRESS is honoured),
 * registers the objects and takes the name org.vfo1. */
int bus_setup(Manager *m, const char *address);

/* PropertiesChanged for the NULL-terminated list of properties. */
void bus_emit_changed(Manager *m, const char *path, const char *interface, ...) _sentinel_;
void bus_job_new(Job *j);
void bus_job_finished(Job *j);
void bus_job_removed(Job *j);
void bus_domain_exported(Domain *d, bool exported);
