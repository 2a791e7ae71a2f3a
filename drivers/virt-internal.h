/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside the libvirt driver: what its files share. They are the only ones in
 * vfo that include <libvirt/libvirt.h>:
 *   virt-event.c   libvirt's event loop on sd-event (virEventRegisterImpl)
 *   libvirt.c      the connection: reconnects, keepalive, domain events
 *   virt-domain.c  domain reads and operations, the blocking migration
 * (virt-xml.c reads the XML, virt-call.c runs calls in worker processes,
 * virt-execute.c maps a VirtRequest to an operation; none needs libvirt's
 * headers.) Calls go down this list, never up. */
#pragma once

#include <stdbool.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "drivers/libvirt.h"
#include "lib/macro.h"

/* ------------------------------------------------ virt-event.c */

/* virt_event_register() was called (and succeeded). */
bool virt_event_registered(void);
/* Runs the 'ff' callbacks of removed handles and timeouts now, unless one of
 * libvirt's callbacks is on the stack (then the loop runs them later). */
void virt_event_flush_frees(void);
/* libvirt's error function: libvirt would print every error to stderr; the
 * driver logs them itself. */
void virt_error_silence(void *userdata, virErrorPtr error);

/* ------------------------------------------------ libvirt.c */

/* libvirt's error as a negative errno (-EIO if there is none). */
int virt_errno(const virError *e);

/* The level for virt_error() that depends on the error: -ENOENT (no such
 * domain or device) at debug, anything else at warning. */
#define VIRT_LOG_AUTO (-1)

/* Logs libvirt's last error at 'level' after "<what>: " and returns it as a
 * negative errno. A connection-level error on a dead connection starts the
 * reconnect. */
int virt_error(Virt *v, int level, const char *format, ...) _printf_(3, 4);

/* The connection while virt_is_connected(), else NULL. */
virConnectPtr virt_connection(Virt *v);

/* virDomainState to ours. */
VirtDomainState virt_state_from_libvirt(int state);
