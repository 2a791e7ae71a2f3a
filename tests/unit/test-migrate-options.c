/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a caller who is not root may pass to Manager.Migrate: every string
 * that names a program or a transport that runs one is refused; what the
 * lab and the man pages use passes; root may pass anything that parses. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/host/migrate-options.h"

static char why[MIGRATE_WHY_MAX];

static void test_destination_allowed(void **state) {
        static const char *const ok[] = {
                "qemu+ssh://dst.example.org/system",
                "qemu+ssh://admin@10.0.0.2/system",
                "qemu+tls://dst/system",
                "qemu+tcp://[fe80::1]:16509/system",
                "qemu+unix:///system?socket=/run/lab/b/libvirt-sock",
                "qemu+ssh://dst/system?no_verify=1&no_tty=1",
                "qemu:///system",
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                why[0] = '\0';
                if (migrate_check_destination(ok[i], false, why) != 0)
                        fail_msg("%s refused: %s", ok[i], why);
        }
}

static void test_destination_refused(void **state) {
        static const struct {
                const char *uri;
                int r;
        } bad[] = {
                { "qemu+ext:///system?command=/tmp/x", -EPERM },
                { "qemu+ssh://dst/system?command=/tmp/x", -EPERM },
                { "qemu+ssh://dst/system?no_tty=1&command=/tmp/x", -EPERM },
                { "qemu+ssh://dst/system?no_tty=1;command=/tmp/x", -EPERM },
                { "qemu+ssh://dst/system?comm%61nd=/tmp/x", -EPERM },
                { "qemu+ssh://dst/system?netcat=/tmp/x", -EPERM },
                { "qemu+ssh://dst/system?keyfile=/home/u/key", -EPERM },
                { "qemu+tcp://dst/system?socket=/tmp/s", -EPERM },
                { "qemu+unix:///system?socket=relative", -EPERM },
                { "xen+ssh://dst/system", -EPERM },
                { "test:///default", -EPERM },
                { "qemu+ssh://dst/session", -EPERM },
                { "qemu+ssh://-oProxyCommand=x/system", -EINVAL },
                { "qemu+ssh://-F@dst/system", -EINVAL },
                { "qemu+ssh://dst/system\n", -EINVAL },
                { "", -EINVAL },
                { "not a uri", -EINVAL },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r;

                why[0] = '\0';
                r = migrate_check_destination(bad[i].uri, false, why);
                if (r != bad[i].r)
                        fail_msg("'%s': %d, expected %d", bad[i].uri, r, bad[i].r);
                assert_true(why[0] != '\0');
        }
}

static void test_root_may_name_any_transport(void **state) {
        assert_int_equal(migrate_check_destination("qemu+ext:///system?command=/usr/local/bin/x", true, why), 0);
        assert_int_equal(migrate_check_bus_address("unixexec:path=ssh,argv1=dst", true, why), 0);
        assert_int_equal(migrate_check_data_uri("unix:///run/x", true, why), 0);
        /* ... but a string that is not one is still refused */
        assert_int_equal(migrate_check_destination("qemu:///system\x1b[2J", true, why), -EINVAL);
}

static void test_data_uri(void **state) {
        assert_int_equal(migrate_check_data_uri("tcp://127.0.0.1", false, why), 0);
        assert_int_equal(migrate_check_data_uri("tcp://10.0.0.2:49152", false, why), 0);
        assert_int_equal(migrate_check_data_uri("rdma://10.0.0.2", false, why), 0);
        assert_int_equal(migrate_check_data_uri("exec:/bin/true", false, why), -EPERM);
        assert_int_equal(migrate_check_data_uri("unix:///run/x", false, why), -EPERM);
        assert_int_equal(migrate_check_data_uri("fd:3", false, why), -EPERM);
        assert_int_equal(migrate_check_data_uri("tcp://h/x?y", false, why), -EINVAL);
        assert_int_equal(migrate_check_data_uri("tcp://-x", false, why), -EINVAL);
        assert_int_equal(migrate_check_data_uri("tcp://[::1]:49152", false, why), 0);
        assert_int_equal(migrate_check_data_uri("exec:/bin/sh -c x", false, why), -EINVAL);
}

static void test_listen_address(void **state) {
        assert_int_equal(migrate_check_listen_address("127.0.0.1", false, why), 0);
        assert_int_equal(migrate_check_listen_address("::", false, why), 0);
        assert_int_equal(migrate_check_listen_address("dst.example.org", false, why), 0);
        assert_int_equal(migrate_check_listen_address("-x", false, why), -EINVAL);
        assert_int_equal(migrate_check_listen_address("1.2.3.4 5", false, why), -EINVAL);
        assert_int_equal(migrate_check_listen_address("", false, why), -EINVAL);
}

static void test_bus_address(void **state) {
        assert_int_equal(migrate_check_bus_address("unix:path=/run/lab/b/system_bus_socket", false, why), 0);
        assert_int_equal(migrate_check_bus_address("unix:abstract=vfo-b,guid=0123", false, why), 0);
        assert_int_equal(migrate_check_bus_address("unixexec:path=/bin/sh,argv1=-c,argv2=id", false, why), -EPERM);
        assert_int_equal(migrate_check_bus_address("unix:path=/x;unixexec:path=/bin/sh", false, why), -EPERM);
        assert_int_equal(migrate_check_bus_address("unix:path=/x,argv1=y", false, why), -EPERM);
        assert_int_equal(migrate_check_bus_address("tcp:host=h,port=1", false, why), -EPERM);
        assert_int_equal(migrate_check_bus_address("x-machine-unix:machine=.host", false, why), -EPERM);
        assert_int_equal(migrate_check_bus_address("unix:path=relative", false, why), -EINVAL);
        assert_int_equal(migrate_check_bus_address("unix:path=/a,path=/b", false, why), -EINVAL);
        assert_int_equal(migrate_check_bus_address("unix:path=/x%2c", false, why), -EPERM);
}

static void test_ssh_host(void **state) {
        assert_true(migrate_ssh_host_is_safe("dst"));
        assert_true(migrate_ssh_host_is_safe("root@10.0.0.2"));
        assert_false(migrate_ssh_host_is_safe("-oProxyCommand=x"));
        assert_false(migrate_ssh_host_is_safe("-F@dst"));
        assert_false(migrate_ssh_host_is_safe("dst:22"));
        assert_false(migrate_ssh_host_is_safe(""));
        assert_false(migrate_ssh_host_is_safe("a b"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_destination_allowed),
                cmocka_unit_test(test_destination_refused),
                cmocka_unit_test(test_root_may_name_any_transport),
                cmocka_unit_test(test_data_uri),
                cmocka_unit_test(test_listen_address),
                cmocka_unit_test(test_bus_address),
                cmocka_unit_test(test_ssh_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
