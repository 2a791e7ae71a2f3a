/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drivers/udev.c against the real kernel and libudev, in a private network
 * and mount namespace (a fresh sysfs that shows only the namespace's links,
 * a tmpfs on /run standing in for udevd's runtime directory): what
 * udev_fill_drivers() makes of udev's database (udev_mark), and that
 * udev_trigger_change() makes the kernel send a "change" uevent. Needs root
 * (else skip). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "drivers/udev.h"

#define IFNAME "vfo-u0"

static void sh(const char *cmd) {
        int r = system(cmd);

        if (r != 0)
                fail_msg("'%s' failed (%d)", cmd, r);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static Netdev link_named(const char *name) {
        Netdev d = { .ifindex = (int) if_nametoindex(name) };

        assert_true(d.ifindex > 0);
        snprintf(d.name, sizeof(d.name), "%s", name);
        return d;
}

static NetdevUdevMark mark_of(Udev *u, const char *name) {
        Netdev d = link_named(name);

        assert_int_equal(udev_fill_drivers(u, &d, 1), 0);
        return d.udev_mark;
}

static int setup(void **state) {
        sh("ip link add " IFNAME " type veth peer name " IFNAME "p");
        return 0;
}

static void test_udev_mark_follows_the_database(void **state) {
        Udev *u = NULL;
        char db[64];

        assert_int_equal(udev_open(&u), 0);
        snprintf(db, sizeof(db), "/run/udev/data/n%u", if_nametoindex(IFNAME));

        /* No udevd: nothing to go by. */
        (void) unlink("/run/udev/control");
        assert_int_equal(mark_of(u, IFNAME), NETDEV_UDEV_UNKNOWN);

        /* udevd runs, has not processed the device yet. */
        write_file("/run/udev/control", "");
        assert_int_equal(mark_of(u, IFNAME), NETDEV_UDEV_PENDING);

        /* Processed, as 81-vfo-net-failover.rules leaves a slave it missed
         * and one it marked. */
        write_file(db, "I:1000\nE:ID_NET_DRIVER=veth\nG:systemd\nQ:systemd\nV:1\n");
        assert_int_equal(mark_of(u, IFNAME), NETDEV_UDEV_UNMARKED);
        write_file(db, "I:1000\nE:VFO_FAILOVER_SLAVE=1\nE:NM_UNMANAGED=1\nE:ID_NET_MANAGED_BY=org.vfo.agent\nV:1\n");
        assert_int_equal(mark_of(u, IFNAME), NETDEV_UDEV_MARKED);
        write_file(db, "I:1000\nE:VFO_FAILOVER_SLAVE=0\nV:1\n");
        assert_int_equal(mark_of(u, IFNAME), NETDEV_UDEV_UNMARKED);

        (void) unlink(db);
        (void) unlink("/run/udev/control");
        udev_close(u);
}

static void test_udev_trigger_change_sends_a_uevent(void **state) {
        struct pollfd p = {};
        Udev *u = NULL;
        int r;

        assert_int_equal(udev_open(&u), 0);
        p = (struct pollfd) { .fd = udev_monitor_fd(u), .events = POLLIN };
        (void) udev_monitor_drain(u);

        assert_int_equal(udev_trigger_change(u, IFNAME), 0);
        r = poll(&p, 1, 2000);
        assert_int_equal(r, 1);
        assert_int_equal(udev_monitor_drain(u), 1);

        assert_int_equal(udev_trigger_change(u, "vfo-none"), -ENOENT);
        assert_int_equal(udev_trigger_change(u, ""), -EINVAL);
        assert_int_equal(udev_trigger_change(u, ".."), -EINVAL);
        assert_int_equal(udev_trigger_change(u, "../../kernel"), -EINVAL);
        assert_int_equal(udev_trigger_change(u, "a-name-far-too-long"), -EINVAL);
        udev_close(u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_udev_mark_follows_the_database),
                cmocka_unit_test(test_udev_trigger_change_sends_a_uevent),
        };

        /* A sysfs mounted in the new network namespace shows its links only;
         * the tmpfs hides the host's udev database. */
        if (geteuid() != 0 || unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
            mount("vfo-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
            mkdir("/run/udev", 0755) < 0 || mkdir("/run/udev/data", 0755) < 0) {
                fprintf(stderr, "SKIP: needs root for a private network and mount namespace\n");
                return 77;
        }

        return cmocka_run_group_tests(tests, setup, NULL);
}
