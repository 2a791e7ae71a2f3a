/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libudev: the agent's only view of devices below the netdevs. */
#pragma once

#include <stddef.h>

#include "drivers/netdev.h"

typedef struct Udev Udev;

int udev_open(Udev **ret);
Udev *udev_close(Udev *u);

/* Fills the driver and pci fields of each netdev from its device's parents,
 * and udev_mark from udev's database (NETDEV_UDEV_UNKNOWN for all while no
 * udevd runs: nothing would process the devices). */
int udev_fill_drivers(Udev *u, Netdev *links, size_t n);

/* Asks udev to process the interface again: writes "change" to
 * /sys/class/net/IFNAME/uevent, as 'udevadm trigger --action=change' does
 * (libudev has no call for it). -ENOENT when no interface has that name. */
int udev_trigger_change(Udev *u, const char *ifname);

/* The monitor's fd (for sd_event_add_io) and a drain that says whether any
 * "net" uevent arrived since the last call. */
int udev_monitor_fd(Udev *u);
int udev_monitor_drain(Udev *u);
