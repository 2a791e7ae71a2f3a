/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Why vfod's core refused or failed something: a VfoError and a message
 * that says what to do. The core knows nothing of D-Bus; the bus face
 * names each VfoError (org.vfo1.Error.*, agent/host/bus.c) and passes the
 * message on. */
#pragma once

#include "lib/macro.h"

typedef enum VfoError {
        VFO_ERROR_NONE,
        VFO_ERROR_NO_SUCH_DOMAIN,
        VFO_ERROR_NO_SUCH_PORT,
        VFO_ERROR_NO_SUCH_POOL,
        VFO_ERROR_NO_VF_FREE,           /* no VF free (here, or on a migration's destination) */
        VFO_ERROR_BUSY,                 /* something else runs on the port or domain */
        VFO_ERROR_NOT_RUNNING,          /* the domain is not running (or stopped meanwhile) */
        VFO_ERROR_PAUSED,               /* a paused guest cannot take part */
        VFO_ERROR_NO_AGENT,             /* no agent, or it could not be asked */
        VFO_ERROR_AGENT_TIMEOUT,
        VFO_ERROR_AGENT_REFUSED,
        VFO_ERROR_LIBVIRT,              /* a libvirt call failed or timed out */
        VFO_ERROR_UNPLUG_FAILED,        /* the guest did not let the VF go */
        VFO_ERROR_SWITCH_FAILED,        /* programming the VF or the steering failed */
        VFO_ERROR_INVALID_ARGUMENT,
        VFO_ERROR_CONFIG_INVALID,
        VFO_ERROR_NOT_CONNECTED,        /* not connected to libvirt (yet) */
        VFO_ERROR_ALREADY_ATTACHED,
        VFO_ERROR_NOT_ATTACHED,
        VFO_ERROR_CANCELLED,
        VFO_ERROR_DRAINED,              /* the pool is drained for host servicing (vfoctl drain) */
        VFO_ERROR_INTERNAL,             /* vfod could not build what it needed */
        _VFO_ERROR_MAX,
        _VFO_ERROR_INVALID = -1,
} VfoError;

#define FAILURE_MESSAGE_MAX 512

typedef struct Failure {
        VfoError error;
        char message[FAILURE_MESSAGE_MAX];
} Failure;

/* Records 'error' and the message in 'f' (which may be NULL) and returns
 * the errno that stands for it, negative: the core's functions end with
 * "return failure_set(f, ...);". */
int failure_set(Failure *f, VfoError error, const char *format, ...) _printf_(3, 4);
/* The errno that stands for 'error' (positive). */
int vfo_error_to_errno(VfoError error) _const_;
