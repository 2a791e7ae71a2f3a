/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The strings of Manager.Migrate that vfod (root) hands to libvirt, libvirtd
 * (root) and sd-bus: what a caller who is not root may name.
 *
 * A libvirt URI can name a program (qemu+ext://…?command=, qemu+ssh://…
 * ?command=) and a D-Bus address can too (unixexec:), and both run as root.
 * So a caller who is not root gets an allow-list: transports that only
 * connect, parameters that only tune the connection. Root may pass anything
 * that parses (root can run those programs anyway). Pure functions: no
 * libvirt, no bus. */
#pragma once

#include <stdbool.h>

/* Each returns 0 if 'value' may be used, else -EINVAL (it does not parse)
 * or -EPERM (it parses, but only root may pass it), with a sentence saying
 * why in 'why' (at least 256 bytes). */
#define MIGRATE_WHY_MAX 256

/* The destination libvirt URI: qemu, qemu+tcp, qemu+tls, qemu+ssh,
 * qemu+libssh, qemu+libssh2 or qemu+unix, path /system, parameters
 * socket (an absolute path), no_verify, no_tty, mode, proxy. */
int migrate_check_destination(const char *uri, bool privileged, char *why);
/* The migration data URI (--migrateuri): tcp://HOST[:PORT] or
 * rdma://HOST[:PORT], no path, query or user. */
int migrate_check_data_uri(const char *uri, bool privileged, char *why);
/* The address the destination QEMU listens on: an IP address or host name. */
int migrate_check_listen_address(const char *address, bool privileged, char *why);
/* The destination's D-Bus address: a single unix:path=ABSOLUTE (or
 * unix:abstract=NAME), optionally with guid=. */
int migrate_check_bus_address(const char *address, bool privileged, char *why);

/* The host of a qemu+ssh:// URI may be used as an ssh argument: a host
 * name or address, optionally USER@, never an option (a leading '-'). */
bool migrate_ssh_host_is_safe(const char *host);
