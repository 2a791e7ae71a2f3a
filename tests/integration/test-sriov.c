/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drivers/sriov.c against a umockdev sysfs testbed: one SR-IOV PF with two
 * VFs (one bound to vfio-pci, one unbound) and a switchdev representor below
 * the PF, a PCI NIC without SR-IOV, a virtual netdev.
 *
 * umockdev redirects /sys through its preload library, which must be loaded
 * before the program starts: when it is not, the test re-executes itself
 * under umockdev-wrapper (or with LD_PRELOAD set by hand if the wrapper is
 * not installed), so that the plain test harness can run it. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <umockdev.h>

#include "drivers/sriov.h"

#define PF_PCI "0000:03:00.0"
#define VF0_PCI "0000:03:10.0"
#define VF1_PCI "0000:03:10.2"
#define PLAIN_PCI "0000:05:00.0"
#define REEXEC_ENV "VFO_TEST_SRIOV_REEXEC"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifndef HAVE_ASAN
#define HAVE_ASAN 0
#endif

static UMockdevTestbed *testbed;

/* Adds a device and checks it is there; the path it returns is not needed. */
#define add_device(...)                                                           \
        do {                                                                      \
                gchar *_path_ = umockdev_testbed_add_device(testbed, __VA_ARGS__); \
                assert_non_null(_path_);                                          \
                g_free(_path_);                                                   \
        } while (false)

static int setup_testbed(void **state) {
        gchar *pf, *vf0, *vf1, *plain;

        testbed = umockdev_testbed_new();
        if (!testbed)
                return -1;

        /* The PF: a PCI function with SR-IOV, 2 of 8 VFs enabled. */
        pf = umockdev_testbed_add_device(testbed, "pci", PF_PCI, NULL,
                                         "sriov_totalvfs", "8",
                                         "sriov_numvfs", "2",
                                         "vendor", "0x8086",
                                         NULL,
                                         "PCI_SLOT_NAME", PF_PCI,
                                         "DRIVER", "ixgbe",
                                         NULL);
        assert_non_null(pf);
        umockdev_testbed_set_attribute_link(testbed, pf, "driver", "../../bus/pci/drivers/ixgbe");

        /* A switchdev VF representor below the PF's PCI device, named so that
         * it sorts before the PF's own netdev. */
        add_device("net", "en_pf0vf0", pf,
                   "phys_port_name", "pf0vf0",
                   NULL,
                   "INTERFACE", "en_pf0vf0",
                   NULL);
        add_device("net", "enp3s0f0", pf,
                   "address", "00:1b:21:00:00:01",
                   NULL,
                   "INTERFACE", "enp3s0f0",
                   NULL);

        /* Its VFs, siblings of the PF as in real sysfs. VF0 is handed to a
         * guest (vfio-pci); VF1 has no driver. */
        vf0 = umockdev_testbed_add_device(testbed, "pci", VF0_PCI, NULL,
                                          "vendor", "0x8086",
                                          NULL,
                                          "PCI_SLOT_NAME", VF0_PCI,
                                          "DRIVER", "vfio-pci",
                                          NULL);
        vf1 = umockdev_testbed_add_device(testbed, "pci", VF1_PCI, NULL,
                                          "vendor", "0x8086",
                                          NULL,
                                          "PCI_SLOT_NAME", VF1_PCI,
                                          NULL);
        assert_non_null(vf0);
        assert_non_null(vf1);
        umockdev_testbed_set_attribute_link(testbed, vf0, "driver", "../../bus/pci/drivers/vfio-pci");
        umockdev_testbed_set_attribute_link(testbed, vf0, "physfn", "../" PF_PCI);
        umockdev_testbed_set_attribute_link(testbed, vf1, "physfn", "../" PF_PCI);
        umockdev_testbed_set_attribute_link(testbed, pf, "virtfn0", "../" VF0_PCI);
        umockdev_testbed_set_attribute_link(testbed, pf, "virtfn1", "../" VF1_PCI);

        /* A PCI NIC without SR-IOV, and a virtual netdev without any PCI parent. */
        plain = umockdev_testbed_add_device(testbed, "pci", PLAIN_PCI, NULL,
                                            "vendor", "0x8086",
                                            NULL,
                                            "PCI_SLOT_NAME", PLAIN_PCI,
                                            NULL);
        assert_non_null(plain);
        umockdev_testbed_set_attribute_link(testbed, plain, "driver", "../../bus/pci/drivers/e1000e");
        add_device("net", "eno1", plain, NULL, "INTERFACE", "eno1", NULL);
        add_device("net", "br0", NULL, NULL, "INTERFACE", "br0", NULL);

        g_free(pf);
        g_free(vf0);
        g_free(vf1);
        g_free(plain);
        return 0;
}

static int teardown_testbed(void **state) {
        g_clear_object(&testbed);
        return 0;
}

static void test_get_pf(void **state) {
        SriovPf pf;

        assert_int_equal(sriov_get_pf("enp3s0f0", &pf), 0);
        assert_string_equal(pf.ifname, "enp3s0f0");
        assert_string_equal(pf.pci, PF_PCI);
        assert_int_equal(pf.total_vfs, 8);
        assert_int_equal(pf.num_vfs, 2);
}

static void test_get_pf_errors(void **state) {
        SriovPf pf;

        assert_int_equal(sriov_get_pf("nosuch0", &pf), -ENOENT);
        assert_int_equal(sriov_get_pf("eno1", &pf), -ENOTSUP);    /* PCI, no SR-IOV */
        assert_int_equal(sriov_get_pf("br0", &pf), -ENOTSUP);     /* no PCI parent */
        assert_int_equal(sriov_get_pf("", &pf), -EINVAL);
        assert_int_equal(sriov_get_pf("../eno1", &pf), -EINVAL);
        assert_int_equal(sriov_get_pf("averyveryverylongname", &pf), -EINVAL);
}

static void test_list_vfs(void **state) {
        SriovVf *vfs = NULL;
        size_t n = 0;

        assert_int_equal(sriov_list_vfs("enp3s0f0", &vfs, &n), 0);
        assert_int_equal(n, 2);
        assert_non_null(vfs);

        assert_int_equal(vfs[0].index, 0);
        assert_string_equal(vfs[0].pci, VF0_PCI);
        assert_string_equal(vfs[0].pf_ifname, "enp3s0f0");
        assert_string_equal(vfs[0].pf_pci, PF_PCI);
        assert_string_equal(vfs[0].driver, "vfio-pci");

        assert_int_equal(vfs[1].index, 1);
        assert_string_equal(vfs[1].pci, VF1_PCI);
        assert_string_equal(vfs[1].pf_ifname, "enp3s0f0");
        assert_string_equal(vfs[1].pf_pci, PF_PCI);
        assert_string_equal(vfs[1].driver, "");
        free(vfs);

        assert_int_equal(sriov_list_vfs("eno1", &vfs, &n), -ENOTSUP);
        assert_int_equal(sriov_list_vfs("nosuch0", &vfs, &n), -ENOENT);
}

static void test_list_vfs_follows_numvfs(void **state) {
        gchar *pf = g_strdup("/sys/devices/" PF_PCI);
        SriovVf *vfs = NULL;
        SriovPf p;
        size_t n = 42;

        /* sriov_numvfs=0 (VFs disabled): no VFs, not an error. */
        umockdev_testbed_set_attribute(testbed, pf, "sriov_numvfs", "0");
        assert_int_equal(sriov_get_pf("enp3s0f0", &p), 0);
        assert_int_equal(p.num_vfs, 0);
        assert_int_equal(sriov_list_vfs("enp3s0f0", &vfs, &n), 0);
        assert_int_equal(n, 0);
        assert_null(vfs);

        umockdev_testbed_set_attribute(testbed, pf, "sriov_numvfs", "2");
        assert_int_equal(sriov_list_vfs("enp3s0f0", &vfs, &n), 0);
        assert_int_equal(n, 2);
        free(vfs);
        g_free(pf);
}

static void test_get_vf(void **state) {
        SriovVf vf;

        assert_int_equal(sriov_get_vf(VF1_PCI, &vf), 0);
        assert_string_equal(vf.pci, VF1_PCI);
        assert_int_equal(vf.index, 1);
        assert_string_equal(vf.pf_pci, PF_PCI);
        assert_string_equal(vf.pf_ifname, "enp3s0f0");     /* not the representor */
        assert_string_equal(vf.driver, "");

        assert_int_equal(sriov_get_vf(VF0_PCI, &vf), 0);
        assert_string_equal(vf.pci, VF0_PCI);
        assert_int_equal(vf.index, 0);
        assert_string_equal(vf.pf_pci, PF_PCI);
        assert_string_equal(vf.pf_ifname, "enp3s0f0");
        assert_string_equal(vf.driver, "vfio-pci");
}

static void test_get_vf_errors(void **state) {
        SriovVf vf;

        assert_int_equal(sriov_get_vf("0000:99:00.0", &vf), -ENOENT);
        assert_int_equal(sriov_get_vf(PLAIN_PCI, &vf), -ENOTSUP);  /* no physfn */
        assert_int_equal(sriov_get_vf(PF_PCI, &vf), -ENOTSUP);     /* a PF is not a VF */
        assert_int_equal(sriov_get_vf("", &vf), -EINVAL);
        assert_int_equal(sriov_get_vf("../../etc", &vf), -EINVAL);
}

/* Whether umockdev's preload library is mapped into this process.
 * (umockdev_in_mock_environment() only says whether UMOCKDEV_DIR is set,
 * which a testbed sets itself.) */
static bool preload_active(void) {
        char line[PATH_MAX + 128];
        bool found = false;
        FILE *f;

        f = fopen("/proc/self/maps", "re");
        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "/libumockdev-preload.so") != NULL;
        fclose(f);
        return found;
}

/* Runs the test again with the umockdev preload library loaded. Returns
 * only on failure, with the exit code to use. */
static int reexec_with_umockdev(int argc, char *argv[]) {
        char self[PATH_MAX], **args;
        ssize_t n;

        if (getenv(REEXEC_ENV)) {
                fprintf(stderr, "%s: umockdev's preload library is not active after re-executing%s\n",
                        argv[0], HAVE_ASAN ? " (AddressSanitizer build)" : "");
                return HAVE_ASAN ? 77 : EXIT_FAILURE;
        }

        /* /proc/self/exe would name the wrapper's shell by the time it runs. */
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
                fprintf(stderr, "%s: readlink(/proc/self/exe): %m\n", argv[0]);
                return EXIT_FAILURE;
        }
        self[n] = '\0';

        args = calloc((size_t) argc + 2, sizeof(char *));
        if (!args)
                return EXIT_FAILURE;
        args[0] = (char *) "umockdev-wrapper";
        args[1] = self;
        for (int i = 1; i < argc; i++)
                args[i + 1] = argv[i];

        (void) setenv(REEXEC_ENV, "1", 1);
        if (HAVE_ASAN) {
                /* The preload library comes first in the link order, ahead
                 * of the ASan runtime; ASan refuses that unless told not to. */
                const char *old = getenv("ASAN_OPTIONS");
                char *opts;

                if (asprintf(&opts, "%s%sverify_asan_link_order=0", old ?: "", old && *old ? ":" : "") < 0)
                        return EXIT_FAILURE;
                (void) setenv("ASAN_OPTIONS", opts, 1);
                free(opts);
        }

        execvp(args[0], args);

        /* No wrapper script: what it does, by hand. */
        const char *preload = getenv("LD_PRELOAD");
        char *value;

        if (asprintf(&value, "libumockdev-preload.so.0%s%s", preload && *preload ? ":" : "", preload ?: "") < 0)
                return EXIT_FAILURE;
        (void) setenv("LD_PRELOAD", value, 1);
        free(value);
        execv(self, args + 1);

        fprintf(stderr, "%s: SKIP: cannot re-execute with umockdev's preload library: %m\n", argv[0]);
        return 77;
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_get_pf),
                cmocka_unit_test(test_get_pf_errors),
                cmocka_unit_test(test_list_vfs),
                cmocka_unit_test(test_list_vfs_follows_numvfs),
                cmocka_unit_test(test_get_vf),
                cmocka_unit_test(test_get_vf_errors),
        };

        if (!preload_active())
                return reexec_with_umockdev(argc, argv);

        return cmocka_run_group_tests(tests, setup_testbed, teardown_testbed);
}
