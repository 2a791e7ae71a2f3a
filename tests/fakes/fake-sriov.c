/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for the SR-IOV inventory of drivers/sriov.h, for the host
 * core's unit tests: no sysfs, no udev. Every PF whose name starts with
 * "pf" has four VFs, 0000:0N:00.2 to .5 for PF "pfN"
 * (tests/integration/test-sriov.c runs the real inventory on a umockdev
 * testbed). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/sriov.h"

#define FAKE_SRIOV_VFS 4

static int fake_pf(const char *ifname, unsigned *ret_n) {
        char *end;
        unsigned long n;

        if (!ifname || strncmp(ifname, "pf", 2) != 0)
                return -ENOENT;
        n = strtoul(ifname + 2, &end, 10);
        if (end == ifname + 2 || *end || n > 9)
                return -ENOENT;
        *ret_n = (unsigned) n;
        return 0;
}

static void fake_vf(unsigned pf, unsigned index, SriovVf *ret) {
        *ret = (SriovVf) { .index = index };
        snprintf(ret->pci, sizeof(ret->pci), "0000:0%u:00.%u", pf, index + 2);
        snprintf(ret->pf_ifname, sizeof(ret->pf_ifname), "pf%u", pf);
        snprintf(ret->pf_pci, sizeof(ret->pf_pci), "0000:0%u:00.0", pf);
        snprintf(ret->driver, sizeof(ret->driver), "vfio-pci");
}

int sriov_get_pf(const char *ifname, SriovPf *ret) {
        unsigned n;

        if (fake_pf(ifname, &n) < 0)
                return -ENOENT;
        *ret = (SriovPf) { .total_vfs = FAKE_SRIOV_VFS, .num_vfs = FAKE_SRIOV_VFS };
        snprintf(ret->ifname, sizeof(ret->ifname), "%s", ifname);
        snprintf(ret->pci, sizeof(ret->pci), "0000:0%u:00.0", n);
        return 0;
}

int sriov_list_vfs(const char *ifname, SriovVf **ret, size_t *ret_n) {
        SriovVf *vfs;
        unsigned n;

        if (fake_pf(ifname, &n) < 0)
                return -ENOENT;
        vfs = calloc(FAKE_SRIOV_VFS, sizeof(*vfs));
        if (!vfs)
                return -ENOMEM;
        for (unsigned i = 0; i < FAKE_SRIOV_VFS; i++)
                fake_vf(n, i, vfs + i);
        *ret = vfs;
        *ret_n = FAKE_SRIOV_VFS;
        return 0;
}

int sriov_get_vf(const char *pci, SriovVf *ret) {
        unsigned pf, fn;

        if (!pci || sscanf(pci, "0000:0%1u:00.%1u", &pf, &fn) != 2 || fn < 2 || fn >= 2 + FAKE_SRIOV_VFS)
                return -ENOENT;
        fake_vf(pf, fn - 2, ret);
        return strcmp(ret->pci, pci) == 0 ? 0 : -ENOENT;
}
