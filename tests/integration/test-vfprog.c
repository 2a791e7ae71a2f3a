/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drivers/vfprog.c. The RTM_SETLINK request is parsed back attribute by
 * attribute (always runs, no root). Then, against the real kernel in a
 * private network namespace: a bridge with two veth ports, where fdb_steer
 * moves a MAC between ports, vfprog_set on a device without SR-IOV
 * (veth: kernels built without the dummy driver have it too), and a
 * migration's forwarding tunnel (VXLAN), a tap that drops (tx_dropped), and
 * a link without VFs (vf_dropped; its parse runs on a PF's answer built
 * here: there is no SR-IOV device to read).
 * That part needs root (else the test is skipped after the first). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>

#include "drivers/vfprog.h"
#include "lib/packet-socket.h"

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x02 };
static const uint8_t mac_c[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x03 };
static const uint8_t mac_d[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x04 };

/* ---- the request, parsed back ------------------------------------------ */

typedef struct Attrs {
        const struct nlattr *tb[IFLA_VF_MAX + 1];
        unsigned count[IFLA_VF_MAX + 1];
        unsigned unknown;
} Attrs;

static int collect_attr_cb(const struct nlattr *a, void *data) {
        Attrs *attrs = data;
        uint16_t type = mnl_attr_get_type(a);

        if (type > IFLA_VF_MAX) {
                attrs->unknown++;
                return MNL_CB_OK;
        }
        attrs->tb[type] = a;
        attrs->count[type]++;
        return MNL_CB_OK;
}

/* The one IFLA_VF_INFO of a request built by vfprog_build_request(). */
static void parse_request(const uint8_t *buf, int len, int ifindex, uint32_t seq, Attrs *ret) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;
        const struct ifinfomsg *ifi;
        const struct nlattr *a, *list = NULL, *info = NULL, *b;
        unsigned n_top = 0, n_info = 0;

        assert_true(len > 0);
        assert_true(mnl_nlmsg_ok(nlh, len));
        assert_int_equal(nlh->nlmsg_len, len);
        assert_int_equal(nlh->nlmsg_type, RTM_SETLINK);
        assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_int_equal(nlh->nlmsg_seq, seq);

        ifi = mnl_nlmsg_get_payload(nlh);
        assert_int_equal(ifi->ifi_family, AF_UNSPEC);
        assert_int_equal(ifi->ifi_index, ifindex);
        assert_int_equal(ifi->ifi_flags, 0);
        assert_int_equal(ifi->ifi_change, 0);

        mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
                n_top++;
                if (mnl_attr_get_type(a) == IFLA_VFINFO_LIST)
                        list = a;
        }
        assert_int_equal(n_top, 1);
        assert_non_null(list);
        assert_true(mnl_attr_get_type(list) == IFLA_VFINFO_LIST);

        mnl_attr_for_each_nested(b, list) {
                n_info++;
                if (mnl_attr_get_type(b) == IFLA_VF_INFO)
                        info = b;
        }
        assert_int_equal(n_info, 1);
        assert_non_null(info);

        memset(ret, 0, sizeof(*ret));
        assert_int_equal(mnl_attr_parse_nested(info, collect_attr_cb, ret), MNL_CB_OK);
        assert_int_equal(ret->unknown, 0);
}

static void check_settings(const Attrs *attrs, unsigned vf, const VfSettings *s, uint32_t link_state) {
        struct ifla_vf_mac mac;
        struct ifla_vf_vlan vlan;
        struct ifla_vf_spoofchk spoofchk;
        struct ifla_vf_trust trust;
        struct ifla_vf_link_state ls;
        static const uint8_t zero[32 - 6] = {};

        /* Exactly these five, once each; IFLA_VF_VLAN, not the list form. */
        for (unsigned t = 0; t <= IFLA_VF_MAX; t++) {
                bool expected = t == IFLA_VF_MAC || t == IFLA_VF_VLAN || t == IFLA_VF_SPOOFCHK ||
                                t == IFLA_VF_TRUST || t == IFLA_VF_LINK_STATE;

                assert_int_equal(attrs->count[t], expected ? 1 : 0);
        }

        assert_int_equal(mnl_attr_get_payload_len(attrs->tb[IFLA_VF_MAC]), sizeof(mac));
        memcpy(&mac, mnl_attr_get_payload(attrs->tb[IFLA_VF_MAC]), sizeof(mac));
        assert_int_equal(mac.vf, vf);
        assert_memory_equal(mac.mac, s->mac, 6);
        assert_memory_equal(mac.mac + 6, zero, sizeof(zero));

        assert_int_equal(mnl_attr_get_payload_len(attrs->tb[IFLA_VF_VLAN]), sizeof(vlan));
        memcpy(&vlan, mnl_attr_get_payload(attrs->tb[IFLA_VF_VLAN]), sizeof(vlan));
        assert_int_equal(vlan.vf, vf);
        assert_int_equal(vlan.vlan, s->vlan);
        assert_int_equal(vlan.qos, s->qos);

        assert_int_equal(mnl_attr_get_payload_len(attrs->tb[IFLA_VF_SPOOFCHK]), sizeof(spoofchk));
        memcpy(&spoofchk, mnl_attr_get_payload(attrs->tb[IFLA_VF_SPOOFCHK]), sizeof(spoofchk));
        assert_int_equal(spoofchk.vf, vf);
        assert_int_equal(spoofchk.setting, s->spoofchk ? 1 : 0);

        assert_int_equal(mnl_attr_get_payload_len(attrs->tb[IFLA_VF_TRUST]), sizeof(trust));
        memcpy(&trust, mnl_attr_get_payload(attrs->tb[IFLA_VF_TRUST]), sizeof(trust));
        assert_int_equal(trust.vf, vf);
        assert_int_equal(trust.setting, s->trust ? 1 : 0);

        assert_int_equal(mnl_attr_get_payload_len(attrs->tb[IFLA_VF_LINK_STATE]), sizeof(ls));
        memcpy(&ls, mnl_attr_get_payload(attrs->tb[IFLA_VF_LINK_STATE]), sizeof(ls));
        assert_int_equal(ls.vf, vf);
        assert_int_equal(ls.link_state, link_state);
}

static void test_build_request(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        VfSettings s = {
                .mac = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef },
                .vlan = 100,
                .qos = 3,
                .spoofchk = false,
                .trust = true,
                .link_state = VF_LINK_STATE_DISABLE,
        };
        Attrs attrs;
        int len;

        memset(buf, 0xa5, sizeof(buf));         /* no stale bytes may leak into the request */
        len = vfprog_build_request(buf, sizeof(buf), 7, 5, &s, 0x1234);
        parse_request(buf, len, 7, 0x1234, &attrs);
        check_settings(&attrs, 5, &s, IFLA_VF_LINK_STATE_DISABLE);

        s.link_state = VF_LINK_STATE_ENABLE;
        s.spoofchk = true;
        s.trust = false;
        len = vfprog_build_request(buf, sizeof(buf), 3, 0, &s, 1);
        parse_request(buf, len, 3, 1, &attrs);
        check_settings(&attrs, 0, &s, IFLA_VF_LINK_STATE_ENABLE);
}

static void test_build_request_neutral(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        static const uint8_t zero_mac[6] = {};
        VfSettings s;
        Attrs attrs;
        int len;

        memset(&s, 0xff, sizeof(s));
        vf_settings_neutral(&s);
        assert_memory_equal(s.mac, zero_mac, 6);
        assert_int_equal(s.vlan, 0);
        assert_int_equal(s.qos, 0);
        assert_true(s.spoofchk);
        assert_false(s.trust);
        assert_int_equal(s.link_state, VF_LINK_STATE_AUTO);

        /* Neutral still sends every attribute: a MAC of zeros and VLAN 0
         * are how the kernel is told to clear them. */
        len = vfprog_build_request(buf, sizeof(buf), 12, 63, &s, 99);
        parse_request(buf, len, 12, 99, &attrs);
        check_settings(&attrs, 63, &s, IFLA_VF_LINK_STATE_AUTO);
}

static void test_build_request_invalid(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        VfSettings s;

        vf_settings_neutral(&s);
        assert_int_equal(vfprog_build_request(buf, 64, 1, 0, &s, 1), -EINVAL);
        assert_int_equal(vfprog_build_request(buf, sizeof(buf), 0, 0, &s, 1), -EINVAL);
        assert_int_equal(vfprog_build_request(buf, sizeof(buf), 1, 0, NULL, 1), -EINVAL);

        s.vlan = 4096;
        assert_int_equal(vfprog_build_request(buf, sizeof(buf), 1, 0, &s, 1), -EINVAL);
        s.vlan = 4095;
        s.qos = 8;
        assert_int_equal(vfprog_build_request(buf, sizeof(buf), 1, 0, &s, 1), -EINVAL);
        s.vlan = 0;
        s.qos = 1;      /* a priority without a VLAN */
        assert_int_equal(vfprog_build_request(buf, sizeof(buf), 1, 0, &s, 1), -EINVAL);

        vf_settings_neutral(&s);
        s.link_state = (VfLinkState) 7;
        assert_int_equal(vfprog_build_request(buf, sizeof(buf), 1, 0, &s, 1), -EINVAL);
}

/* ---- against the kernel, in a private network namespace ----------------- */

static void sh(const char *cmd) {
        int r = system(cmd);

        if (r != 0)
                fail_msg("'%s' failed (%d)", cmd, r);
}

static bool sh_ok(const char *cmd) {
        return system(cmd) == 0;
}

static int setup_netns(void **state) {
        sh("ip link add vfo-br0 type bridge");
        sh("ip link add vfo-p1 type veth peer name vfo-p1-peer");
        sh("ip link add vfo-p2 type veth peer name vfo-p2-peer");
        sh("ip link add vfo-d0 type veth peer name vfo-d0-peer");
        sh("ip link set vfo-p1 master vfo-br0 && ip link set vfo-p2 master vfo-br0");
        sh("ip link set vfo-p1-peer up && ip link set vfo-p2-peer up");
        sh("ip link set vfo-p1 up && ip link set vfo-p2 up && ip link set vfo-br0 up");
        return 0;
}

static void assert_lookup(const uint8_t mac[6], const char *port, bool is_static) {
        char got[16] = "";
        bool s = !is_static;

        assert_int_equal(fdb_lookup("vfo-br0", mac, got, &s), 0);
        assert_string_equal(got, port);
        assert_int_equal(s, is_static);
}

static void test_fdb_steer_moves(void **state) {
        assert_int_equal(fdb_lookup("vfo-br0", mac_a, NULL, NULL), -ENOENT);

        assert_int_equal(fdb_steer("vfo-p1", mac_a, false), 0);
        assert_lookup(mac_a, "vfo-p1", true);
        /* iproute2 sees the same entry */
        assert_true(sh_ok("bridge fdb show br vfo-br0 | grep -q '^02:00:5e:10:00:01 dev vfo-p1 master vfo-br0 static'"));

        /* Steering again to the other port moves the entry, it does not add one. */
        assert_int_equal(fdb_steer("vfo-p2", mac_a, false), 0);
        assert_lookup(mac_a, "vfo-p2", true);
        assert_true(sh_ok("bridge fdb show br vfo-br0 | grep -q '^02:00:5e:10:00:01 dev vfo-p2 master vfo-br0 static'"));
        assert_false(sh_ok("bridge fdb show br vfo-br0 | grep -q '^02:00:5e:10:00:01 dev vfo-p1 '"));

        /* And back; steering twice to the same port is fine. */
        assert_int_equal(fdb_steer("vfo-p1", mac_a, false), 0);
        assert_int_equal(fdb_steer("vfo-p1", mac_a, false), 0);
        assert_lookup(mac_a, "vfo-p1", true);

        assert_int_equal(fdb_forget("vfo-p1", mac_a), 0);
}

static void test_fdb_sticky(void **state) {
        assert_int_equal(fdb_steer("vfo-p2", mac_b, true), 0);
        assert_lookup(mac_b, "vfo-p2", true);
        assert_true(sh_ok("bridge fdb show br vfo-br0 | grep '^02:00:5e:10:00:02 dev vfo-p2 ' | grep -q sticky"));

        /* Re-steering without sticky clears the flag. */
        assert_int_equal(fdb_steer("vfo-p1", mac_b, false), 0);
        assert_lookup(mac_b, "vfo-p1", true);
        assert_false(sh_ok("bridge fdb show br vfo-br0 | grep '^02:00:5e:10:00:02 ' | grep -q sticky"));

        assert_int_equal(fdb_forget("vfo-p1", mac_b), 0);
}

static void test_fdb_forget(void **state) {
        assert_int_equal(fdb_steer("vfo-p1", mac_c, true), 0);

        /* Not on that port: nothing to forget, and the entry stays. */
        assert_int_equal(fdb_forget("vfo-p2", mac_c), -ENOENT);
        assert_lookup(mac_c, "vfo-p1", true);

        assert_int_equal(fdb_forget("vfo-p1", mac_c), 0);
        assert_int_equal(fdb_lookup("vfo-br0", mac_c, NULL, NULL), -ENOENT);
        assert_false(sh_ok("bridge fdb show br vfo-br0 | grep -q '^02:00:5e:10:00:03 '"));
        assert_int_equal(fdb_forget("vfo-p1", mac_c), -ENOENT);
}

static void test_fdb_lookup_dynamic(void **state) {
        /* An entry that is not static (what learning would leave). */
        sh("bridge fdb add 02:00:5e:10:00:04 dev vfo-p2 master dynamic");
        assert_lookup(mac_d, "vfo-p2", false);

        /* Steering turns it into a static entry on our port. */
        assert_int_equal(fdb_steer("vfo-p1", mac_d, false), 0);
        assert_lookup(mac_d, "vfo-p1", true);
        assert_int_equal(fdb_forget("vfo-p1", mac_d), 0);
}

static void test_fdb_errors(void **state) {
        char port[16];
        bool s;

        assert_int_equal(fdb_steer("vfo-nosuch", mac_a, false), -ENODEV);
        assert_int_equal(fdb_forget("vfo-nosuch", mac_a), -ENODEV);
        assert_int_equal(fdb_lookup("vfo-nosuch", mac_a, port, &s), -ENODEV);
        assert_int_equal(fdb_lookup("vfo-br0", mac_a, port, &s), -ENOENT);

        /* A device that is no bridge port has no master FDB to write to. */
        assert_true(fdb_steer("vfo-d0", mac_a, false) < 0);
}

/* vfprog_set on a device without SR-IOV: an error, not 0, not a crash. */
static void test_vfprog_set_without_sriov(void **state) {
        VfSettings s;
        int r;

        vf_settings_neutral(&s);
        r = vfprog_set("vfo-d0", 0, &s);
        assert_true(r < 0);
        fprintf(stderr, "vfprog_set on a veth: %s\n", strerror(-r));

        s.vlan = 10;
        s.mac[0] = 0x02;
        s.mac[5] = 0x01;
        assert_true(vfprog_set("vfo-d0", 3, &s) < 0);
        assert_true(vfprog_set("vfo-br0", 0, &s) < 0);
        assert_int_equal(vfprog_set("vfo-nosuch", 0, &s), -ENODEV);
}

/* A migration's forwarding tunnel: the source's end a VXLAN port of the
 * bridge that floods nothing and learns nothing, with the bridge's MTU (a
 * jumbo bridge stays jumbo); the destination's end outside any bridge, with
 * a tc redirect into the tap it feeds. */
static void test_forward_link(void **state) {
        sh("ip link add vfo-br9 type bridge");
        sh("ip link add vfo-j1 mtu 9000 type veth peer name vfo-j1-peer mtu 9000");
        sh("ip link set vfo-j1 master vfo-br9 && ip link set vfo-br9 up");
        assert_true(sh_ok("ip link show vfo-br9 | grep -q 'mtu 9000'"));

        assert_int_equal(forward_link_add("vfofw000abc", "vfo-br9", NULL, 0xabc, "192.0.2.1", "192.0.2.2", 4789), 0);
        assert_true(sh_ok("ip -d link show vfofw000abc | grep -q 'vxlan id 2748 remote 192.0.2.2 local 192.0.2.1 .*dstport 4789 .*nolearning'"));
        assert_true(sh_ok("ip link show vfofw000abc | grep -q 'mtu 9000 .*master vfo-br9'"));
        assert_true(sh_ok("ip link show vfofw000abc | grep -q '<.*,UP'"));
        assert_true(sh_ok("ip link show vfo-br9 | grep -q 'mtu 9000'"));
        assert_true(sh_ok("bridge -d link show dev vfofw000abc | grep -q 'learning off flood off'"));
        assert_true(sh_ok("bridge -d link show dev vfofw000abc | grep -q 'mcast_flood off'"));
        assert_true(sh_ok("bridge -d link show dev vfofw000abc | grep -q 'bcast_flood off'"));
        /* the MAC goes into the tunnel like into any port */
        assert_int_equal(fdb_steer("vfofw000abc", mac_a, true), 0);
        assert_true(sh_ok("bridge fdb show br vfo-br9 | grep -q '^02:00:5e:10:00:01 dev vfofw000abc sticky master vfo-br9 static'"));

        /* the same VNI on the same port again; a second name is taken */
        assert_true(forward_link_add("vfofw000abd", "vfo-br9", NULL, 0xabc, "192.0.2.1", "192.0.2.3", 4789) < 0);
        assert_int_equal(forward_link_add("vfofw000abc", "vfo-br9", NULL, 0xabd, "192.0.2.1", "192.0.2.3", 4789), -EEXIST);
        assert_false(sh_ok("ip link show vfofw000abd >/dev/null 2>&1"));
        /* IPv6 ends */
        assert_int_equal(forward_link_add("vfofw000001", "vfo-br9", NULL, 1, "fd00::1", "fd00::2", 4790), 0);
        assert_true(sh_ok("ip -d link show vfofw000001 | grep -q 'remote fd00::2 local fd00::1'"));
        assert_int_equal(forward_link_del("vfofw000001"), 0);

        /* what is refused before the kernel is asked */
        assert_int_equal(forward_link_add("vfofw000002", "vfo-br9", NULL, 2, "192.0.2.1", "fd00::2", 4789), -EINVAL);
        assert_int_equal(forward_link_add("vfofw000002", "vfo-br9", NULL, 2, "192.0.2.1", "host-b", 4789), -EINVAL);
        assert_int_equal(forward_link_add("vfofw000002", "vfo-br9", NULL, 0, "192.0.2.1", "192.0.2.2", 4789), -EINVAL);
        assert_int_equal(forward_link_add("vfofw000002", "vfo-br9", NULL, 1U << 24, "192.0.2.1", "192.0.2.2", 4789),
                         -EINVAL);
        assert_int_equal(forward_link_add("vfofw000002", "vfo-nosuch", NULL, 2, "192.0.2.1", "192.0.2.2", 4789),
                         -ENODEV);
        assert_false(sh_ok("ip link show vfofw000002 >/dev/null 2>&1"));

        /* the destination's end: no bridge, everything into one device */
        sh("ip link add vfo-j2 mtu 1400 type veth peer name vfo-j2-peer");
        assert_int_equal(forward_link_add("vfofw000077", NULL, "vfo-j2", 0x77, "192.0.2.2", "192.0.2.1", 4789), 0);
        assert_true(sh_ok("ip link show vfofw000077 | grep -q 'mtu 1400 '"));
        assert_false(sh_ok("ip link show vfofw000077 | grep -q master"));
        assert_true(sh_ok("tc qdisc show dev vfofw000077 | grep -q clsact"));
        assert_true(sh_ok("tc filter show dev vfofw000077 ingress | grep -q 'match 00000000/00000000 at 0'"));
        assert_true(sh_ok("tc filter show dev vfofw000077 ingress | grep -q 'mirred (Egress Redirect to device vfo-j2) stolen'"));
        assert_int_equal(forward_link_add("vfofw000078", "vfo-br9", "vfo-j2", 0x78, "192.0.2.2", "192.0.2.1", 4789),
                         -EINVAL);
        assert_int_equal(forward_link_add("vfofw000078", NULL, NULL, 0x78, "192.0.2.2", "192.0.2.1", 4789), -EINVAL);
        assert_int_equal(forward_link_add("vfofw000078", NULL, "vfo-nosuch", 0x78, "192.0.2.2", "192.0.2.1", 4789),
                         -ENODEV);
        assert_int_equal(forward_link_del("vfofw000077"), 0);

        assert_int_equal(forward_link_del("vfofw000abc"), 0);
        assert_false(sh_ok("ip link show vfofw000abc >/dev/null 2>&1"));
        assert_int_equal(forward_link_del("vfofw000abc"), -ENODEV);
}

/* What 'ifname' sent (this netns's own: sysfs shows another's). */
static uint64_t tx_packets(const char *ifname) {
        char cmd[128];
        unsigned long long v = 0;
        FILE *f;

        snprintf(cmd, sizeof(cmd), "ip -s link show dev %s | awk '/TX:/ { getline; print $2 }'", ifname);
        f = popen(cmd, "re");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%llu", &v), 1);
        assert_int_equal(pclose(f), 0);
        return v;
}

/* A handover that copies: what leaves through the source's tap (to the
 * domain) leaves through the tunnel too, and after forward_mirror_del() no
 * more; the tap still sends every frame. A veth stands in for each. */
static void test_forward_mirror(void **state) {
        uint64_t tunnel0, tap0;

        sh("ip link add vfo-t1 type veth peer name vfo-t1-peer");
        sh("ip link add vfo-m1 type veth peer name vfo-m1-peer");
        sh("for l in vfo-t1 vfo-t1-peer vfo-m1 vfo-m1-peer; do "
           "sysctl -qw net.ipv6.conf.$l.disable_ipv6=1 2>/dev/null; ip link set $l up; done");
        /* 1: it added the clsact qdisc itself */
        assert_int_equal(forward_mirror_add("vfo-t1", "vfo-m1"), 1);
        assert_true(sh_ok("tc filter show dev vfo-t1 egress | grep -q 'mirred (Egress Mirror to device vfo-m1) pipe'"));
        tunnel0 = tx_packets("vfo-m1");
        tap0 = tx_packets("vfo-t1");
        for (int i = 0; i < 3; i++)
                assert_int_equal(netdev_queue_placeholder("vfo-t1", mac_a), 0);
        assert_int_equal(tx_packets("vfo-m1") - tunnel0, 3);
        assert_int_equal(tx_packets("vfo-t1") - tap0, 3);

        /* added again: still one copy of each frame */
        assert_int_equal(forward_mirror_add("vfo-t1", "vfo-m1"), 0);
        assert_int_equal(netdev_queue_placeholder("vfo-t1", mac_a), 0);
        assert_int_equal(tx_packets("vfo-m1") - tunnel0, 4);
        /* gone, and the tunnel gets no more */
        assert_int_equal(forward_mirror_del("vfo-t1"), 0);
        assert_false(sh_ok("tc filter show dev vfo-t1 egress | grep -q mirred"));
        assert_int_equal(netdev_queue_placeholder("vfo-t1", mac_a), 0);
        assert_int_equal(tx_packets("vfo-m1") - tunnel0, 4);
        assert_int_equal(tx_packets("vfo-t1") - tap0, 5);
        assert_true(forward_mirror_del("vfo-t1") < 0);
        assert_int_equal(forward_mirror_add("vfo-t1", "vfo-nosuch"), -ENODEV);
        assert_int_equal(forward_mirror_add("vfo-nosuch", "vfo-m1"), -ENODEV);
        assert_int_equal(forward_mirror_del("vfo-nosuch"), -ENODEV);

        /* the qdisc ahead of time: once */
        sh("ip link add vfo-t2 type veth peer name vfo-t2-peer");
        assert_int_equal(netdev_add_clsact("vfo-t2"), 1);
        assert_true(sh_ok("tc qdisc show dev vfo-t2 | grep -q clsact"));
        assert_int_equal(netdev_add_clsact("vfo-t2"), 0);
        assert_int_equal(forward_mirror_add("vfo-t2", "vfo-m1"), 0);
        assert_int_equal(netdev_add_clsact("vfo-nosuch"), -ENODEV);
}

/* A tap whose reader does not read: its queue (txqueuelen 4) fills, and
 * what the bridge hands it after that is its tx_dropped, which
 * netdev_tx_dropped() reads. */
static void test_tap_tx_dropped(void **state) {
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
        uint64_t dropped = 1;
        int fd;

        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                skip();
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vfo-tap0");
        assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
        /* nothing of the host's own (IPv6 DAD, MLD) in the queue */
        sh("sysctl -qw net.ipv6.conf.vfo-tap0.disable_ipv6=1 2>/dev/null || true");
        sh("ip link set vfo-tap0 up");
        assert_int_equal(netdev_set_queue_len("vfo-tap0", 4, NULL), 0);
        assert_int_equal(netdev_tx_dropped("vfo-tap0", &dropped), 0);
        assert_int_equal(dropped, 0);
        for (int i = 0; i < 12; i++)
                assert_int_equal(netdev_queue_placeholder("vfo-tap0", mac_a), 0);
        assert_int_equal(netdev_tx_dropped("vfo-tap0", &dropped), 0);
        assert_int_equal(dropped, 12 - 4);
        /* all through the process's one AF_PACKET socket, still open */
        assert_true(packet_socket() >= 0);
        assert_int_equal(fcntl(packet_socket(), F_GETFD), FD_CLOEXEC);
        assert_int_equal(netdev_tx_dropped("vfo-nosuch", &dropped), -ENODEV);
        close(fd);
}

/* A PF's RTM_NEWLINK with three VFs, as the kernel writes it: VF 0 with
 * drop counters, VF 1 with statistics but no drop counters (an older
 * kernel), VF 2 with drops but an IFLA_VF_MAC too short to name it. */
static struct nlmsghdr *put_pf_answer(uint8_t *buf) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nlattr *list, *info, *stats;
        struct ifinfomsg *ifi;

        nlh->nlmsg_type = RTM_NEWLINK;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_index = 7;
        mnl_attr_put_u32(nlh, IFLA_NUM_VF, 3);
        list = mnl_attr_nest_start(nlh, IFLA_VFINFO_LIST);
        for (unsigned vf = 0; vf < 3; vf++) {
                struct ifla_vf_mac m = { .vf = vf };

                info = mnl_attr_nest_start(nlh, IFLA_VF_INFO);
                mnl_attr_put(nlh, IFLA_VF_MAC, vf == 2 ? sizeof(m.vf) : sizeof(m), &m);
                stats = mnl_attr_nest_start(nlh, IFLA_VF_STATS);
                mnl_attr_put_u64(nlh, IFLA_VF_STATS_RX_PACKETS, 1000);
                if (vf != 1) {
                        mnl_attr_put_u64(nlh, IFLA_VF_STATS_RX_DROPPED, 5);
                        mnl_attr_put_u64(nlh, IFLA_VF_STATS_TX_DROPPED, 2);
                }
                /* a counter of the wrong size is not read */
                mnl_attr_put_u32(nlh, IFLA_VF_STATS_RX_DROPPED, 100);
                mnl_attr_nest_end(nlh, stats);
                mnl_attr_nest_end(nlh, info);
        }
        mnl_attr_nest_end(nlh, list);
        return nlh;
}

static void test_vf_dropped_parse(void **state) {
        uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = put_pf_answer(buf);
        uint64_t dropped = 99;

        assert_int_equal(vf_dropped_parse(nlh, 0, &dropped), 0);
        assert_int_equal(dropped, 5 + 2);
        dropped = 99;
        assert_int_equal(vf_dropped_parse(nlh, 1, &dropped), -ENODATA);
        assert_int_equal(vf_dropped_parse(nlh, 2, &dropped), -ENOENT);
        assert_int_equal(vf_dropped_parse(nlh, 3, &dropped), -ENOENT);
        assert_int_equal(dropped, 99);

        nlh->nlmsg_type = RTM_DELLINK;
        assert_int_equal(vf_dropped_parse(nlh, 0, &dropped), -EBADMSG);
        assert_int_equal(vf_dropped_parse(NULL, 0, &dropped), -EBADMSG);
}

/* A link without SR-IOV lists no VFs. */
static void test_vf_dropped_without_sriov(void **state) {
        uint64_t dropped = 99;

        assert_int_equal(vf_dropped("vfo-d0", 0, &dropped), -ENOENT);
        assert_int_equal(vf_dropped("vfo-nosuch", 0, &dropped), -ENODEV);
        assert_int_equal(dropped, 99);
}

int main(void) {
        const struct CMUnitTest unit_tests[] = {
                cmocka_unit_test(test_build_request),
                cmocka_unit_test(test_build_request_neutral),
                cmocka_unit_test(test_build_request_invalid),
                cmocka_unit_test(test_vf_dropped_parse),
        };
        const struct CMUnitTest kernel_tests[] = {
                cmocka_unit_test(test_fdb_steer_moves),
                cmocka_unit_test(test_fdb_sticky),
                cmocka_unit_test(test_fdb_forget),
                cmocka_unit_test(test_fdb_lookup_dynamic),
                cmocka_unit_test(test_fdb_errors),
                cmocka_unit_test(test_vfprog_set_without_sriov),
                cmocka_unit_test(test_forward_link),
                cmocka_unit_test(test_forward_mirror),
                cmocka_unit_test(test_tap_tx_dropped),
                cmocka_unit_test(test_vf_dropped_without_sriov),
        };
        int r;

        r = cmocka_run_group_tests_name("vfprog request", unit_tests, NULL, NULL);
        if (r != 0)
                return EXIT_FAILURE;

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "SKIP: needs root for a private network namespace (request tests passed)\n");
                return 77;
        }

        return cmocka_run_group_tests_name("vfprog kernel", kernel_tests, setup_netns, NULL) == 0 ? 0
                                                                                                : EXIT_FAILURE;
}
