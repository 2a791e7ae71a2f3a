/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drivers/rtnl.c against the real kernel, in a private network namespace:
 * link dump, admin state, bond creation and options, addresses. Needs root
 * (else skip). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "drivers/rtnl.h"

static void sh(const char *cmd) {
        int r = system(cmd);

        if (r != 0)
                fail_msg("'%s' failed (%d)", cmd, r);
}

static const Netdev *find(const Netdev *links, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(links[i].name, name) == 0)
                        return &links[i];
        return NULL;
}

/* Where the kernel has no bonding (some VM kernels), a bridge stands in as
 * the master for the tests that do not need bond options. */
static bool have_bonding;

static int setup_netns(void **state) {
        have_bonding = system("ip link add vfo-bond0 type bond mode active-backup miimon 100 2>/dev/null") == 0;
        if (!have_bonding)
                sh("ip link add vfo-bond0 type bridge");
        sh("ip link add vfo-a type veth peer name vfo-a-peer");
        sh("ip link add vfo-b type veth peer name vfo-b-peer");
        sh("ip link set vfo-a master vfo-bond0");
        sh("ip link set vfo-b master vfo-bond0");
        sh("ip link set vfo-a-peer up && ip link set vfo-b-peer up && ip link set vfo-bond0 up");
        sh("ip addr add 10.99.0.2/24 dev vfo-bond0 && ip addr add 10.99.1.2/24 dev vfo-bond0");
        sh("ip -6 addr add fd99::2/64 dev vfo-bond0 nodad");
        return 0;
}

static void test_rtnl_dump_sees_bond_and_slaves(void **state) {
        Netdev *links = NULL;
        const Netdev *bond, *a;
        size_t n = 0;

        assert_int_equal(rtnl_dump_links(&links, &n), 0);
        bond = find(links, n, "vfo-bond0");
        a = find(links, n, "vfo-a");
        assert_non_null(bond);
        assert_non_null(a);
        assert_string_equal(bond->kind, have_bonding ? "bond" : "bridge");
        assert_int_equal(a->master, bond->ifindex);
        assert_true(bond->has_mac);
        if (have_bonding)
                assert_memory_equal(a->mac, bond->mac, 6);     /* bonding gives slaves its MAC */
        free(links);
}

static void test_rtnl_link_up_down(void **state) {
        int ifindex = (int) if_nametoindex("vfo-a-peer");
        Netdev *links = NULL;
        size_t n = 0;

        assert_true(ifindex > 0);
        assert_int_equal(rtnl_link_set_up(ifindex, false), 0);
        assert_int_equal(rtnl_dump_links(&links, &n), 0);
        assert_false(find(links, n, "vfo-a-peer")->admin_up);
        free(links);

        assert_int_equal(rtnl_link_set_up(ifindex, true), 0);
        assert_int_equal(rtnl_dump_links(&links, &n), 0);
        assert_true(find(links, n, "vfo-a-peer")->admin_up);
        free(links);

        assert_int_equal(rtnl_link_set_up(999999, true), -ENODEV);
        assert_int_equal(rtnl_link_set_up(0, true), -EINVAL);
}

/* A queue discipline that holds frames back (tbf at 8 kbit/s): what waits
 * in it and what it sent; none on a link without one (noqueue); closing
 * the link drops what waits, sent nothing more and counted as no drop,
 * which is why the agent counts them first. */
static void test_rtnl_qdisc_stats(void **state) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
        static const char payload[1000] = "vfo-queue-test";
        RtnlQdiscStats st = { 99, 99, 99 }, closed;
        int q, fd;

        sh("ip link add vfo-q type veth peer name vfo-q-peer");
        /* no IPv6: its router solicitations and reports would join the queue */
        sh("echo 1 >/proc/sys/net/ipv6/conf/vfo-q/disable_ipv6");
        sh("ip link set vfo-q-peer up && ip link set vfo-q up && ip addr add 10.98.0.1/24 dev vfo-q");
        sh("ip neigh replace 10.98.0.2 lladdr 02:00:00:00:00:02 dev vfo-q nud permanent");
        q = (int) if_nametoindex("vfo-q");
        assert_true(q > 0);

        assert_int_equal(rtnl_qdisc_stats(q, &st), 0);
        assert_int_equal(st.queued, 0);                         /* veth: noqueue */
        assert_int_equal(st.sent, 0);
        assert_int_equal(st.drops, 0);

        sh("tc qdisc add dev vfo-q root tbf rate 8kbit burst 1600 limit 100000");
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET, "10.98.0.2", &to.sin_addr), 1);
        for (int i = 0; i < 20; i++)            /* 1,000 bytes each: the 1,600-byte burst passes one */
                assert_int_equal(sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *) &to, sizeof(to)),
                                 (ssize_t) sizeof(payload));
        assert_int_equal(rtnl_qdisc_stats(q, &st), 0);
        assert_in_range(st.queued, 15, 20);
        assert_in_range(st.sent, 1, 5);
        assert_int_equal(st.queued + st.sent, 20);
        assert_int_equal(st.drops, 0);

        assert_int_equal(rtnl_link_set_up(q, false), 0);
        assert_int_equal(rtnl_qdisc_stats(q, &closed), 0);
        assert_int_equal(closed.queued, 0);                     /* gone, and counted nowhere */
        assert_int_equal(closed.sent, st.sent);
        assert_int_equal(closed.drops, 0);
        close(fd);

        assert_int_equal(rtnl_qdisc_stats(999999, &st), 0);     /* no such link: nothing queued */
        assert_int_equal(st.queued, 0);
        assert_int_equal(rtnl_qdisc_stats(0, &st), -EINVAL);
        sh("ip link del vfo-q");
}

/* A full queue drops, and says so: a tbf of 5,000 bytes holds 4 of 20
 * datagrams of 1,000 bytes, its burst lets one pass, and it drops the rest. */
static void test_rtnl_qdisc_drops(void **state) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
        static const char payload[1000] = "vfo-queue-test";
        RtnlQdiscStats st = {};
        bool up = false;
        int q, fd;

        sh("ip link add vfo-r type veth peer name vfo-r-peer");
        sh("echo 1 >/proc/sys/net/ipv6/conf/vfo-r/disable_ipv6");
        sh("tc qdisc add dev vfo-r root tbf rate 8kbit burst 1600 limit 5000");
        sh("ip link set vfo-r-peer up && ip link set vfo-r up && ip addr add 10.97.0.1/24 dev vfo-r");
        sh("ip neigh replace 10.97.0.2 lladdr 02:00:00:00:00:02 dev vfo-r nud permanent");
        q = (int) if_nametoindex("vfo-r");
        assert_true(q > 0);
        /* The kernel's link watch activates the queue discipline when the link
         * goes up, a moment later; until then noop_qdisc drops, uncounted. */
        for (int i = 0; i < 300 && !up; i++) {
                Netdev *links = NULL;
                size_t n = 0;

                assert_int_equal(rtnl_dump_links(&links, &n), 0);
                up = find(links, n, "vfo-r")->oper_up;
                free(links);
                if (!up)
                        usleep(10000);
        }
        assert_true(up);

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET, "10.97.0.2", &to.sin_addr), 1);
        for (int i = 0; i < 20; i++)    /* a full queue: sendto() still says yes (no IP_RECVERR) */
                assert_int_equal(sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *) &to, sizeof(to)),
                                 (ssize_t) sizeof(payload));
        assert_int_equal(rtnl_qdisc_stats(q, &st), 0);
        assert_in_range(st.queued, 3, 5);
        assert_in_range(st.drops, 10, 16);
        assert_int_equal(st.queued + st.sent + st.drops, 20);
        close(fd);
        sh("ip link del vfo-r");
}

static void test_rtnl_bond_active_slave(void **state) {
        int bond = (int) if_nametoindex("vfo-bond0");
        int a = (int) if_nametoindex("vfo-a"), b = (int) if_nametoindex("vfo-b");
        Netdev *links = NULL;
        size_t n = 0;

        if (!have_bonding)
                skip();         /* the lab guest runs this for real */

        assert_int_equal(rtnl_bond_set_active_slave(bond, b), 0);
        assert_int_equal(rtnl_dump_links(&links, &n), 0);
        assert_int_equal(find(links, n, "vfo-bond0")->active_slave, b);
        free(links);

        assert_int_equal(rtnl_bond_set_active_slave(bond, a), 0);
        assert_int_equal(rtnl_dump_links(&links, &n), 0);
        assert_int_equal(find(links, n, "vfo-bond0")->active_slave, a);
        free(links);

        assert_int_equal(rtnl_bond_set_all_slaves_active(bond, true), 0);
        sh("grep -qx 1 /sys/class/net/vfo-bond0/bonding/all_slaves_active");
        assert_int_equal(rtnl_bond_set_all_slaves_active(bond, false), 0);
        sh("grep -qx 0 /sys/class/net/vfo-bond0/bonding/all_slaves_active");

        /* Not a slave of this bond: the kernel refuses. */
        assert_true(rtnl_bond_set_active_slave(bond, (int) if_nametoindex("vfo-a-peer")) < 0);
}

static const uint8_t bond_mac[6] = { 0x52, 0x54, 0x00, 0x99, 0x00, 0x01 };

/* A taken name, bond or not: -EEXIST, and the link is untouched. Runs
 * without bonding too (the kernel checks the name first). */
static void test_rtnl_bond_create_refuses_taken_names(void **state) {
        Netdev d, before;

        assert_int_equal(rtnl_link_get_by_name("vfo-a", &before), 0);
        assert_int_equal(before.ifindex, (int) if_nametoindex("vfo-a"));
        assert_int_equal(rtnl_bond_create("vfo-a", bond_mac, NULL), -EEXIST);
        assert_int_equal(rtnl_link_get_by_name("vfo-a", &d), 0);
        assert_string_equal(d.kind, "veth");
        assert_int_equal(d.master, before.master);
        assert_memory_equal(d.mac, before.mac, 6);
        assert_int_equal(d.admin_up, before.admin_up);

        assert_int_equal(rtnl_bond_create("vfo-bond0", bond_mac, NULL), -EEXIST);
        assert_int_equal(rtnl_link_get_by_name("vfo-bond0", &d), 0);
        assert_string_equal(d.kind, have_bonding ? "bond" : "bridge");

        assert_int_equal(rtnl_link_get_by_name("vfo-none", &d), -ENODEV);
        assert_int_equal(rtnl_link_delete(0), -EINVAL);
        assert_int_equal(rtnl_bond_create("", bond_mac, NULL), -EINVAL);
        assert_int_equal(rtnl_bond_create("name-of-16-chars", bond_mac, NULL), -EINVAL);
        assert_int_equal(rtnl_link_get_by_name("name-of-16-chars", &d), -EINVAL);

        if (!have_bonding) {
                /* The kernel refuses the kind, and nothing is left behind. */
                assert_true(rtnl_bond_create("vfo-bond9", bond_mac, NULL) < 0);
                assert_int_equal(rtnl_link_get_by_name("vfo-bond9", &d), -ENODEV);
        }
}

static void test_rtnl_bond_create_enslave_delete(void **state) {
        Netdev d;
        int bond = 0, c;

        if (!have_bonding)
                skip();         /* the lab guest runs this for real (agent-switch-bond-create) */

        assert_int_equal(rtnl_link_get_by_name("vfo-bond9", &d), -ENODEV);
        assert_int_equal(rtnl_bond_create("vfo-bond9", bond_mac, &bond), 0);
        assert_true(bond > 0);
        assert_int_equal(rtnl_link_get_by_name("vfo-bond9", &d), 0);
        assert_int_equal(d.ifindex, bond);
        assert_string_equal(d.kind, "bond");
        assert_memory_equal(d.mac, bond_mac, 6);
        assert_false(d.admin_up);
        sh("grep -qx 'active-backup 1' /sys/class/net/vfo-bond9/bonding/mode");
        sh("grep -qx 100 /sys/class/net/vfo-bond9/bonding/miimon");
        assert_int_equal(rtnl_bond_create("vfo-bond9", bond_mac, NULL), -EEXIST);

        /* Enslave (down first, as vfo-agent does), bring the bond up. */
        sh("ip link add vfo-c type veth peer name vfo-c-peer && ip link set vfo-c up");
        c = (int) if_nametoindex("vfo-c");
        assert_int_equal(rtnl_link_set_up(c, false), 0);
        assert_int_equal(rtnl_link_set_master(c, bond), 0);
        assert_int_equal(rtnl_link_set_up(bond, true), 0);
        assert_int_equal(rtnl_link_get_by_name("vfo-c", &d), 0);
        assert_int_equal(d.master, bond);
        assert_memory_equal(d.mac, bond_mac, 6);
        assert_true(d.admin_up);                /* the bond opens its slaves */
        assert_int_equal(rtnl_link_get_by_name("vfo-bond9", &d), 0);
        assert_true(d.admin_up);

        /* Deleting the bond releases the slave. */
        assert_int_equal(rtnl_link_delete(bond), 0);
        assert_int_equal(rtnl_link_get_by_name("vfo-bond9", &d), -ENODEV);
        assert_int_equal(rtnl_link_get_by_name("vfo-c", &d), 0);
        assert_int_equal(d.master, 0);
}

static void test_rtnl_addresses(void **state) {
        struct in_addr v4[4];
        struct in6_addr v6[4];
        size_t n4 = 0, n6 = 0;
        char buf[INET6_ADDRSTRLEN];
        bool seen_global = false;

        assert_int_equal(rtnl_get_addresses((int) if_nametoindex("vfo-bond0"), v4, 4, &n4, v6, 4, &n6), 0);
        assert_int_equal(n4, 2);
        assert_string_equal(inet_ntop(AF_INET, &v4[0], buf, sizeof(buf)), "10.99.0.2");
        assert_string_equal(inet_ntop(AF_INET, &v4[1], buf, sizeof(buf)), "10.99.1.2");
        assert_true(n6 >= 1);
        for (size_t i = 0; i < n6; i++)
                if (strcmp(inet_ntop(AF_INET6, &v6[i], buf, sizeof(buf)), "fd99::2") == 0)
                        seen_global = true;
        assert_true(seen_global);

        /* The cap holds. */
        assert_int_equal(rtnl_get_addresses((int) if_nametoindex("vfo-bond0"), v4, 1, &n4, v6, 0, &n6), 0);
        assert_int_equal(n4, 1);
        assert_int_equal(n6, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rtnl_dump_sees_bond_and_slaves),
                cmocka_unit_test(test_rtnl_link_up_down),
                cmocka_unit_test(test_rtnl_qdisc_stats),
                cmocka_unit_test(test_rtnl_qdisc_drops),
                cmocka_unit_test(test_rtnl_bond_active_slave),
                cmocka_unit_test(test_rtnl_bond_create_refuses_taken_names),
                cmocka_unit_test(test_rtnl_bond_create_enslave_delete),
                cmocka_unit_test(test_rtnl_addresses),
        };

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "SKIP: needs root for a private network namespace\n");
                return 77;
        }

        return cmocka_run_group_tests(tests, setup_netns, NULL);
}
