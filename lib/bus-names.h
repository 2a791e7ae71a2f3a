/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names of vfod's D-Bus API (man/org.vfo1.5), for vfod and vfoctl. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/parse-util.h"

#define VFO_SERVICE "org.vfo1"
#define VFO_PATH "/org/vfo1"
#define VFO_MANAGER_IFACE "org.vfo1.Manager"
#define VFO_DOMAIN_IFACE "org.vfo1.Domain"
#define VFO_POOL_IFACE "org.vfo1.Pool"
#define VFO_VF_IFACE "org.vfo1.VF"
#define VFO_JOB_IFACE "org.vfo1.Job"
#define VFO_DOMAIN_PREFIX "/org/vfo1/domain"
#define VFO_POOL_PREFIX "/org/vfo1/pool"
#define VFO_VF_PREFIX "/org/vfo1/vf"
#define VFO_JOB_PREFIX "/org/vfo1/job"

/* The bus's NameOwnerChanged for VFO_SERVICE: vfod starting or going away. */
#define VFO_OWNER_CHANGED_MATCH                                                                    \
        "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"               \
        "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" VFO_SERVICE "'"

/* The N of a job's object path VFO_JOB_PREFIX "/N": 0, or -EINVAL if 'path'
 * is not under VFO_JOB_PREFIX, or parse_uint64()'s error for N. */
static inline int vfo_job_path_id(const char *path, uint64_t *ret) {
        const size_t n = strlen(VFO_JOB_PREFIX "/");

        if (!path || strncmp(path, VFO_JOB_PREFIX "/", n) != 0)
                return -EINVAL;
        return parse_uint64(path + n, 0, UINT64_MAX, ret);
}

/* Errors: BUS_ERROR_PREFIX and a name */
#define BUS_ERROR_PREFIX "org.vfo1.Error."
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
#define BUS_ERROR_CANCELLED "org.vfo1.Error.Cancelled"
#define BUS_ERROR_DRAINED "org.vfo1.Error.Drained"
#define BUS_ERROR_INTERNAL "org.vfo1.Error.Internal"
