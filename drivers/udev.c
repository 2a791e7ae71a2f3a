/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libudev: device lookups, the "net" uevent monitor and re-triggers; see udev.h. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* udevd's control socket (systemd-udevd and eudev): without a udevd the
 * database stays empty and every device looks unprocessed. */
#define UDEV_CONTROL_PATH "/run/udev/control"

static NetdevUdevMark udev_mark_of(struct udev_device *dev) {
        const char *v;

        if (!udev_device_get_is_initialized(dev))
                return NETDEV_UDEV_PENDING;
        v = udev_device_get_property_value(dev, "VFO_FAILOVER_SLAVE");
        return v && strcmp(v, "1") == 0 ? NETDEV_UDEV_MARKED : NETDEV_UDEV_UNMARKED;
}

int udev_fill_drivers(Udev *u, Netdev *links, size_t n) {
        bool udevd = access(UDEV_CONTROL_PATH, F_OK) >= 0;

        assert(u);

        for (size_t i = 0; i < n; i++) {
                struct udev_device *dev, *parent;

                links[i].driver[0] = '\0';
                links[i].pci = false;
                links[i].udev_mark = NETDEV_UDEV_UNKNOWN;

                dev = udev_device_new_from_subsystem_sysname(u->udev, "net", links[i].name);
                if (!dev)
                        continue;       /* gone meanwhile, or virtual: no driver */
                if (udevd)
                        links[i].udev_mark = udev_mark_of(dev);

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

int udev_trigger_change(Udev *u, const char *ifname) {
        static const char action[] = "change";
        char path[sizeof("/sys/class/net//uevent") + 16];
        _cleanup_close_ int fd = -EBADF;
        ssize_t k;

        assert(u);
        assert(ifname);

        /* An interface name: 1..15 characters, no '/', not "." or "..". */
        if (ifname[0] == '\0' || strlen(ifname) >= 16 || strchr(ifname, '/') || strcmp(ifname, ".") == 0 ||
            strcmp(ifname, "..") == 0)
                return -EINVAL;

        snprintf(path, sizeof(path), "/sys/class/net/%s/uevent", ifname);
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        k = write(fd, action, sizeof(action) - 1);
        if (k < 0)
                return -errno;
        if ((size_t) k != sizeof(action) - 1)
                return -EIO;
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
