/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SR-IOV inventory through libudev and sysfs; see sriov.h.
 *
 * Every call opens its own udev context, so nothing is cached between calls:
 * sriov_numvfs and driver bindings change under us (an operator writing
 * sriov_numvfs, libvirt rebinding a VF to vfio-pci). libudev reads plain
 * attributes and the "driver" link; the virtfnN and physfn links are read
 * with readlink(), since libudev only resolves the few links it knows. */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libudev.h>

#include "drivers/sriov.h"
#include "lib/macro.h"
#include "lib/parse-util.h"

/* The kernel allows at most 65535 VFs per PF (sriov_totalvfs is a u16). */
#define SRIOV_MAX_VFS 65535U

DEFINE_CLEANUP_FUNC(struct udev, udev_unref);
DEFINE_CLEANUP_FUNC(struct udev_device, udev_device_unref);
DEFINE_CLEANUP_FUNC(struct udev_enumerate, udev_enumerate_unref);

/* errno after a failed libudev lookup: "not there" unless memory ran out. */
static int udev_lookup_error(void) {
        return errno == ENOMEM ? -ENOMEM : -ENOENT;
}

static int copy_string(char *dst, size_t size, const char *src) {
        size_t n = strlen(src);

        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(dst, src, n + 1);
        return 0;
}

/* A sysfs name we are asked for: no path separators, no "." or "..". */
static bool sysname_is_valid(const char *s, size_t max) {
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n == 0 || n >= max)
                return false;
        if (strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        return true;
}

/* A sysfs number as libudev gives it (its trailing newline stripped). */
static int parse_unsigned(const char *s, unsigned *ret) {
        if (!s)
                return -ENODATA;
        return parse_uint(s, 0, UINT_MAX, ret);
}

/* The last path component of the link 'name' in the directory 'syspath':
 * "virtfn3" → "0000:03:00.5". -ENOENT if there is no such link. */
static int read_link_basename(const char *syspath, const char *name, char *ret, size_t size) {
        char path[PATH_MAX], target[PATH_MAX];
        const char *base;
        ssize_t n;

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", syspath, name) >= sizeof(path))
                return -ENAMETOOLONG;
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';

        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (!sysname_is_valid(base, size))
                return -EINVAL;
        return copy_string(ret, size, base);
}

/* The netdev of PF 'pci_dev': the first "net" child that is not a VF
 * representor (switchdev mode hangs those below the PF's PCI device too,
 * with a phys_port_name of "pfNvfM"). "" if the PF has no netdev (no driver,
 * or bound to vfio-pci itself). */
static int pf_netdev_name(struct udev *udev, struct udev_device *pci_dev, char *ret, size_t size) {
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        struct udev_list_entry *entry;
        int r;

        ret[0] = '\0';

        e = udev_enumerate_new(udev);
        if (!e)
                return -ENOMEM;
        r = udev_enumerate_add_match_subsystem(e, "net");
        if (r < 0)
                return r;
        r = udev_enumerate_add_match_parent(e, pci_dev);
        if (r < 0)
                return r;
        r = udev_enumerate_scan_devices(e);
        if (r < 0)
                return r;

        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
                _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
                const char *port, *sysname;

                d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
                if (!d)
                        continue;
                port = udev_device_get_sysattr_value(d, "phys_port_name");
                if (port && strstr(port, "vf"))
                        continue;
                sysname = udev_device_get_sysname(d);
                if (!sysname || copy_string(ret, size, sysname) < 0)
                        continue;
                return 0;
        }
        return 0;
}

/* Looks up PF 'ifname' and, on success, returns its PCI device (referenced). */
static int pf_lookup(struct udev *udev, const char *ifname, SriovPf *ret, struct udev_device **ret_pci) {
        _cleanup_(udev_device_unrefp) struct udev_device *net = NULL;
        struct udev_device *pci;
        const char *sysname;
        SriovPf pf = {};
        int r;

        if (!sysname_is_valid(ifname, IFNAMSIZ))
                return -EINVAL;

        net = udev_device_new_from_subsystem_sysname(udev, "net", ifname);
        if (!net)
                return udev_lookup_error();

        /* Owned by 'net'. Virtual netdevs (bridges, dummies, virtio) have
         * no PCI parent of their own: not a PF. */
        pci = udev_device_get_parent_with_subsystem_devtype(net, "pci", NULL);
        if (!pci)
                return -ENOTSUP;

        r = parse_unsigned(udev_device_get_sysattr_value(pci, "sriov_totalvfs"), &pf.total_vfs);
        if (r == -ENODATA)
                return -ENOTSUP;
        if (r < 0)
                return r;
        r = parse_unsigned(udev_device_get_sysattr_value(pci, "sriov_numvfs"), &pf.num_vfs);
        if (r == -ENODATA)
                pf.num_vfs = 0;
        else if (r < 0)
                return r;

        sysname = udev_device_get_sysname(pci);
        if (!sysname)
                return -EINVAL;
        r = copy_string(pf.pci, sizeof(pf.pci), sysname);
        if (r < 0)
                return r;
        r = copy_string(pf.ifname, sizeof(pf.ifname), ifname);
        if (r < 0)
                return r;

        if (ret)
                *ret = pf;
        if (ret_pci)
                *ret_pci = udev_device_ref(pci);
        return 0;
}

static void vf_fill_driver(struct udev *udev, SriovVf *vf) {
        _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
        const char *driver;

        vf->driver[0] = '\0';
        d = udev_device_new_from_subsystem_sysname(udev, "pci", vf->pci);
        if (!d)
                return;
        driver = udev_device_get_driver(d);
        if (driver)
                (void) copy_string(vf->driver, sizeof(vf->driver), driver);
}

int sriov_get_pf(const char *ifname, SriovPf *ret) {
        _cleanup_(udev_unrefp) struct udev *udev = NULL;

        assert(ret);

        udev = udev_new();
        if (!udev)
                return -ENOMEM;
        return pf_lookup(udev, ifname, ret, NULL);
}

int sriov_list_vfs(const char *ifname, SriovVf **ret, size_t *ret_n) {
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_(udev_device_unrefp) struct udev_device *pci = NULL;
        _cleanup_free_ SriovVf *vfs = NULL;
        const char *syspath;
        size_t n = 0;
        SriovPf pf;
        unsigned max;
        int r;

        assert(ret);
        assert(ret_n);

        udev = udev_new();
        if (!udev)
                return -ENOMEM;
        r = pf_lookup(udev, ifname, &pf, &pci);
        if (r < 0)
                return r;
        syspath = udev_device_get_syspath(pci);
        if (!syspath)
                return -EINVAL;

        /* virtfn0 … virtfn(numvfs-1); a link missing in between means the
         * VFs are being created or removed right now: report what is there. */
        max = MIN(pf.num_vfs, SRIOV_MAX_VFS);
        if (max > 0) {
                vfs = calloc(max, sizeof(SriovVf));
                if (!vfs)
                        return -ENOMEM;
        }
        for (unsigned i = 0; i < max; i++) {
                SriovVf *vf = &vfs[n];
                char link[32];

                *vf = (SriovVf) { .index = i };
                (void) snprintf(link, sizeof(link), "virtfn%u", i);
                r = read_link_basename(syspath, link, vf->pci, sizeof(vf->pci));
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                memcpy(vf->pf_ifname, pf.ifname, sizeof(vf->pf_ifname));
                memcpy(vf->pf_pci, pf.pci, sizeof(vf->pf_pci));
                vf_fill_driver(udev, vf);
                n++;
        }

        *ret = n > 0 ? TAKE_PTR(vfs) : NULL;
        *ret_n = n;
        return 0;
}

int sriov_get_vf(const char *pci, SriovVf *ret) {
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_(udev_device_unrefp) struct udev_device *vf_dev = NULL, *pf_dev = NULL;
        const char *vf_syspath, *pf_syspath, *driver;
        SriovVf vf = {};
        unsigned num = 0;
        int r;

        assert(ret);

        if (!sysname_is_valid(pci, sizeof(vf.pci)))
                return -EINVAL;

        udev = udev_new();
        if (!udev)
                return -ENOMEM;

        vf_dev = udev_device_new_from_subsystem_sysname(udev, "pci", pci);
        if (!vf_dev)
                return udev_lookup_error();
        vf_syspath = udev_device_get_syspath(vf_dev);
        if (!vf_syspath)
                return -EINVAL;

        r = copy_string(vf.pci, sizeof(vf.pci), udev_device_get_sysname(vf_dev) ?: pci);
        if (r < 0)
                return r;
        driver = udev_device_get_driver(vf_dev);
        if (driver)
                (void) copy_string(vf.driver, sizeof(vf.driver), driver);

        r = read_link_basename(vf_syspath, "physfn", vf.pf_pci, sizeof(vf.pf_pci));
        if (r == -ENOENT)
                return -ENOTSUP;
        if (r < 0)
                return r;

        pf_dev = udev_device_new_from_subsystem_sysname(udev, "pci", vf.pf_pci);
        if (!pf_dev)
                return udev_lookup_error();
        pf_syspath = udev_device_get_syspath(pf_dev);
        if (!pf_syspath)
                return -EINVAL;

        /* Our index is the N of the PF's virtfnN link that points back at us. */
        r = parse_unsigned(udev_device_get_sysattr_value(pf_dev, "sriov_numvfs"), &num);
        if (r < 0)
                return r == -ENODATA ? -ENOTSUP : r;
        r = -ENOENT;
        for (unsigned i = 0; i < MIN(num, SRIOV_MAX_VFS); i++) {
                char link[32], target[sizeof(vf.pci)];

                (void) snprintf(link, sizeof(link), "virtfn%u", i);
                if (read_link_basename(pf_syspath, link, target, sizeof(target)) < 0)
                        continue;
                if (strcmp(target, vf.pci) == 0) {
                        vf.index = i;
                        r = 0;
                        break;
                }
        }
        if (r < 0)
                return r;       /* the PF does not list us (yet): VF being torn down or set up */

        r = pf_netdev_name(udev, pf_dev, vf.pf_ifname, sizeof(vf.pf_ifname));
        if (r < 0)
                return r;

        *ret = vf;
        return 0;
}
