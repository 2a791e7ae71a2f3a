/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libudev: device lookups and the "net" uevent monitor; see udev.h. */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libudev.h>

#include "drivers/udev.h"
#include "lib/macro.h"

struct Udev {
        struct udev *udev;
        struct udev_monitor *monitor;
};

int udev_open(Udev **ret) {
        _cleanup_free_ Udev *u = NULL;
        int r;

        assert(ret);

        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;

        u->udev = udev_new();
        if (!u->udev)
                return -ENOMEM;

        /* Kernel uevents: the lab guest runs no udevd, and the agent must
         * see a VF the moment the kernel registers it. */
        u->monitor = udev_monitor_new_from_netlink(u->udev, "kernel");
        if (!u->monitor) {
                r = -errno ?: -ENOMEM;
                udev_unref(u->udev);
                return r;
        }
        r = udev_monitor_filter_add_match_subsystem_devtype(u->monitor, "net", NULL);
        if (r >= 0)
                r = udev_monitor_enable_receiving(u->monitor);
        if (r < 0) {
                udev_monitor_unref(u->monitor);
                udev_unref(u->udev);
                return r;
        }

        *ret = TAKE_PTR(u);
        return 0;
}

Udev *udev_close(Udev *u) {
        if (!u)
                return NULL;
        udev_monitor_unref(u->monitor);
        udev_unref(u->udev);
        return mfree(u);
}

int udev_fill_drivers(Udev *u, Netdev *links, size_t n) {
        assert(u);

        for (size_t i = 0; i < n; i++) {
                struct udev_device *dev, *parent;

                links[i].driver[0] = '\0';
                links[i].pci = false;

                dev = udev_device_new_from_subsystem_sysname(u->udev, "net", links[i].name);
                if (!dev)
                        continue;       /* gone meanwhile, or virtual: no driver */

                /* The first parent with a driver: virtio_net binds the virtio
                 * device, a NIC driver binds the PCI function itself. */
                for (parent = udev_device_get_parent(dev); parent; parent = udev_device_get_parent(parent)) {
                        const char *driver = udev_device_get_driver(parent);
                        const char *subsystem = udev_device_get_subsystem(parent);

                        if (!driver)
                                continue;
                        snprintf(links[i].driver, sizeof(links[i].driver), "%s", driver);
                        links[i].pci = subsystem && strcmp(subsystem, "pci") == 0;
                        break;
                }
                udev_device_unref(dev);
        }
        return 0;
}

int udev_monitor_fd(Udev *u) {
        return udev_monitor_get_fd(u->monitor);
}

int udev_monitor_drain(Udev *u) {
        struct udev_device *dev;
        int n = 0;

        while ((dev = udev_monitor_receive_device(u->monitor))) {
                n++;
                udev_device_unref(dev);
        }
        return n > 0;
}
