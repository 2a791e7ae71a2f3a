/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SR-IOV inventory through libudev/sysfs: the only place in vfod that reads
 * PF and VF devices. A PF is a network interface whose PCI device has
 * sriov_totalvfs; its VFs are the virtfnN links of that device. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct SriovVf {
        char pci[32];           /* "0000:03:00.2" */
        char pf_ifname[16];     /* the PF's netdev */
        char pf_pci[32];
        unsigned index;         /* N of virtfnN */
        char driver[32];        /* bound driver ("vfio-pci", "iavf", …), "" if none */
} SriovVf;

typedef struct SriovPf {
        char ifname[16];
        char pci[32];
        unsigned total_vfs;     /* sriov_totalvfs */
        unsigned num_vfs;       /* sriov_numvfs */
} SriovPf;

/* Reads one PF by interface name; -ENOENT if no such netdev, -ENOTSUP if
 * it is not an SR-IOV PF. */
int sriov_get_pf(const char *ifname, SriovPf *ret);

/* The VFs of PF 'ifname' in virtfn order. */
int sriov_list_vfs(const char *ifname, SriovVf **ret, size_t *ret_n);

/* One VF by PCI address ("0000:03:00.2"): finds its PF (physfn) and index.
 * -ENOENT if no such device, -ENOTSUP if it is not a VF. */
int sriov_get_vf(const char *pci, SriovVf *ret);
