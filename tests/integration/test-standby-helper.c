/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The standby-RX helper on the real kernel, in a private netns: frames sent into a veth "standby"
 * must show up at the ingress of a veth "master" exactly as the helper promises, observed with
 * packet sockets independently of the program's own counters. Broadcast deduplication adds a veth
 * "VF" enslaved to a bridge that stands in for the net_failover master (a bridge port's frames
 * reach the bridge through its rx_handler after tc ingress, as a VF's reach net_failover's
 * master); the standby's program redirects into the same bridge. drivers/datapath.c runs on the
 * same links. Root only (exit 77 otherwise). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "drivers/bpf/standby-rx.h"
#include "drivers/datapath.h"
#include "drivers/standby-helper.h"
#include "lib/macro.h"

#define ETH_P_VFO_TEST 0x88B5 /* IEEE local experimental: nothing else in the netns uses it */
#define MAGIC          "vfo-standby-rx"

#define PEER        "vfo-peer"   /* the host side: the test sends from here */
#define STANDBY     "vfo-sb"     /* net_failover's standby (virtio-net in a guest) */
#define MASTER      "vfo-master" /* net_failover's master: we watch its ingress */
#define MASTER_PEER "vfo-master-peer"
#define SHARED_MAC  "02:00:00:00:5b:01" /* net_failover gives master and standby one MAC */
#define VF          "vfo-vf"            /* the VF: a port of BRIDGE */
#define VF_PEER     "vfo-vf-peer"       /* the host side of the VF: the test sends from here */
#define BRIDGE      "vfo-br"            /* the master for deduplication: the VF's frames reach it */

#define DEDUPE_WINDOW_MS (STANDBY_RX_DEDUPE_WINDOW_NS / 1000000)

static const uint8_t mac_unicast[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x5b, 0x01};
static const uint8_t mac_broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mac_multicast[ETH_ALEN] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};

typedef struct Received {
        unsigned host, broadcast, multicast, other;
} Received;

typedef struct Fixture {
        int peer_ifindex, standby_ifindex, master_ifindex;
        int tx_fd;      /* sends on PEER */
        int standby_fd; /* ETH_P_ALL: a tap, runs before tc ingress, so it sees every frame */
        int master_fd;  /* sees what reaches the master's ingress */
        StandbyHelper *helper;

        /* deduplication; bridge_ifindex 0 if the kernel has no bridge */
        int vf_peer_ifindex, vf_ifindex, bridge_ifindex;
        int vf_fd;     /* ETH_P_ALL tap on VF */
        int bridge_fd; /* what reaches the bridge (the master) from either path */
        Datapath *dp;
} Fixture;

static bool have_bridge = false;

static uint32_t next_tag = 1;

static int test_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        if (level == LIBBPF_DEBUG)
                return 0;
        fputs("# ", stderr);
        return vfprintf(stderr, fmt, ap);
}

static void sh(const char *cmd) {
        int r = system(cmd);

        if (r != 0)
                fail_msg("'%s' failed: %d", cmd, r);
}

/* The output of a tc/ip command, for "is there a qdisc/filter" checks. */
static char *sh_output(const char *cmd) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, allocated = 0;
        FILE *p = popen(cmd, "r");

        assert_non_null(p);
        for (;;) {
                if (allocated - n < 512) {
                        char *b = realloc(buf, allocated + 4096);

                        assert_non_null(b);
                        buf = b;
                        allocated += 4096;
                }
                size_t k = fread(buf + n, 1, allocated - n - 1, p);
                if (k == 0)
                        break;
                n += k;
        }
        assert_int_equal(pclose(p), 0);
        if (!buf) {
                buf = strdup("");
                assert_non_null(buf);
        }
        buf[n] = 0;
        return TAKE_PTR(buf);
}

static bool link_has(const char *link, const char *what, const char *needle) {
        char cmd[128];
        _cleanup_free_ char *out = NULL;

        snprintf(cmd, sizeof(cmd), "tc %s show dev %s%s", what, link,
                 strcmp(what, "filter") == 0 ? " ingress" : "");
        out = sh_output(cmd);
        return strstr(out, needle) != NULL;
}

static bool standby_has(const char *what, const char *needle) {
        return link_has(STANDBY, what, needle);
}

static bool vf_has(const char *what, const char *needle) {
        return link_has(VF, what, needle);
}

static int packet_socket(int ifindex, uint16_t protocol) {
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(protocol),
                .sll_ifindex = ifindex,
        };
        int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(protocol));

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sll, sizeof(sll)), 0);
        return fd;
}

static void send_frames(Fixture *f, const uint8_t dst[ETH_ALEN], uint32_t tag, unsigned count) {
        uint8_t frame[64] = {};
        struct ethhdr *eth = (struct ethhdr *) frame;
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = f->peer_ifindex,
                .sll_halen = ETH_ALEN,
        };

        memcpy(eth->h_dest, dst, ETH_ALEN);
        memcpy(eth->h_source, (uint8_t[]){0x02, 0, 0, 0, 0x5b, 0x99}, ETH_ALEN);
        eth->h_proto = htons(ETH_P_VFO_TEST);
        memcpy(frame + sizeof(*eth), MAGIC, strlen(MAGIC));
        memcpy(frame + sizeof(*eth) + strlen(MAGIC), &tag, sizeof(tag));
        memcpy(sll.sll_addr, dst, ETH_ALEN);

        for (unsigned i = 0; i < count; i++)
                assert_int_equal(
                        sendto(f->tx_fd, frame, sizeof(frame), 0, (struct sockaddr *) &sll, sizeof(sll)),
                        (ssize_t) sizeof(frame));
}

static uint64_t now_msec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Reads frames carrying 'tag' from 'fd' until 'want' arrived or 'timeout_msec' passed. */
static Received receive_frames(int fd, uint32_t tag, unsigned want, unsigned timeout_msec) {
        Received got = {};
        uint64_t deadline = now_msec() + timeout_msec;

        for (;;) {
                uint8_t frame[128];
                struct sockaddr_ll from;
                socklen_t len = sizeof(from);
                ssize_t n = recvfrom(fd, frame, sizeof(frame), 0, (struct sockaddr *) &from, &len);

                if (n < 0) {
                        uint64_t now = now_msec();

                        assert_int_equal(errno, EAGAIN);
                        if (got.host + got.broadcast + got.multicast + got.other >= want || now >= deadline)
                                return got;
                        (void) poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, (int) (deadline - now));
                        continue;
                }

                uint32_t t;
                if ((size_t) n < sizeof(struct ethhdr) + strlen(MAGIC) + sizeof(t) ||
                    memcmp(frame + sizeof(struct ethhdr), MAGIC, strlen(MAGIC)) != 0)
                        continue;
                memcpy(&t, frame + sizeof(struct ethhdr) + strlen(MAGIC), sizeof(t));
                if (t != tag)
                        continue;

                switch (from.sll_pkttype) {
                case PACKET_HOST:
                        got.host++;
                        break;
                case PACKET_BROADCAST:
                        got.broadcast++;
                        break;
                case PACKET_MULTICAST:
                        got.multicast++;
                        break;
                default:
                        got.other++;
                }
        }
}

static unsigned received_total(const Received *r) {
        return r->host + r->broadcast + r->multicast + r->other;
}

/* Sends 'count' frames to 'dst' and returns what the master's ingress saw. The frames are first
 * seen at the standby (which proves they were sent and the program ran on them); a frame that is
 * not redirected is then given 200 ms to show up at the master anyway. */
static Received send_and_observe(Fixture *f, const uint8_t dst[ETH_ALEN], unsigned count, unsigned expect) {
        uint32_t tag = next_tag++;
        Received at_standby;

        send_frames(f, dst, tag, count);
        at_standby = receive_frames(f->standby_fd, tag, count, 2000);
        assert_int_equal(received_total(&at_standby), count);

        return receive_frames(f->master_fd, tag, expect > 0 ? expect : UINT_MAX, expect > 0 ? 2000 : 200);
}

static void assert_counters(StandbyHelper *h, uint64_t unicast, uint64_t multicast, uint64_t passed) {
        StandbyHelperCounters c;

        assert_int_equal(standby_helper_get_counters(h, &c), 0);
        assert_int_equal(c.redirected_unicast, unicast);
        assert_int_equal(c.redirected_multicast, multicast);
        assert_int_equal(c.passed, passed);
}

static int setup(void **state) {
        Fixture *f;

        assert_false(standby_has("qdisc", "clsact"));

        f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->peer_ifindex = (int) if_nametoindex(PEER);
        f->standby_ifindex = (int) if_nametoindex(STANDBY);
        f->master_ifindex = (int) if_nametoindex(MASTER);
        assert_true(f->peer_ifindex > 0 && f->standby_ifindex > 0 && f->master_ifindex > 0);

        f->tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        assert_true(f->tx_fd >= 0);
        /* A socket for our EtherType would only see frames the program passes: protocol
         * handlers run after tc ingress. */
        f->standby_fd = packet_socket(f->standby_ifindex, ETH_P_ALL);
        f->master_fd = packet_socket(f->master_ifindex, ETH_P_VFO_TEST);
        f->vf_fd = f->bridge_fd = -1;
        if (have_bridge) {
                assert_false(vf_has("qdisc", "clsact"));
                f->vf_peer_ifindex = (int) if_nametoindex(VF_PEER);
                f->vf_ifindex = (int) if_nametoindex(VF);
                f->bridge_ifindex = (int) if_nametoindex(BRIDGE);
                assert_true(f->vf_peer_ifindex > 0 && f->vf_ifindex > 0 && f->bridge_ifindex > 0);
                f->vf_fd = packet_socket(f->vf_ifindex, ETH_P_ALL);
                f->bridge_fd = packet_socket(f->bridge_ifindex, ETH_P_VFO_TEST);
        }
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->dp = datapath_free(f->dp);
        f->helper = standby_helper_detach(f->helper);
        (void) close(f->tx_fd);
        (void) close(f->standby_fd);
        (void) close(f->master_fd);
        if (f->vf_fd >= 0)
                (void) close(f->vf_fd);
        if (f->bridge_fd >= 0)
                (void) close(f->bridge_fd);
        free(f);

        /* No filter of ours survives a test; the qdisc stays by design. */
        assert_false(standby_has("filter", "standby_rx"));
        sh("tc qdisc del dev " STANDBY " clsact 2>/dev/null || true");
        if (have_bridge) {
                assert_false(vf_has("filter", "standby_rx"));
                sh("tc qdisc del dev " VF " clsact 2>/dev/null || true");
        }
        return 0;
}

static void test_standby_helper_unicast_reaches_master(void **state) {
        Fixture *f = *state;
        Received r;

        r = send_and_observe(f, mac_unicast, 5, 0);
        assert_int_equal(received_total(&r), 0); /* a veth does not do it on its own */

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        r = send_and_observe(f, mac_unicast, 5, 5);
        assert_int_equal(r.host, 5);
        assert_int_equal(received_total(&r), 5);
        assert_counters(f->helper, 5, 0, 0);
}

static void test_standby_helper_broadcast_only_when_multicast_on(void **state) {
        Fixture *f = *state;
        Received r;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);

        /* Default: the VF still receives broadcast/multicast, so they stay on the standby. */
        r = send_and_observe(f, mac_broadcast, 3, 0);
        assert_int_equal(received_total(&r), 0);
        r = send_and_observe(f, mac_multicast, 3, 0);
        assert_int_equal(received_total(&r), 0);
        assert_counters(f->helper, 0, 0, 6);

        assert_int_equal(standby_helper_set_multicast(f->helper, true), 0);
        r = send_and_observe(f, mac_broadcast, 3, 3);
        assert_int_equal(r.broadcast, 3);
        assert_int_equal(received_total(&r), 3);
        r = send_and_observe(f, mac_multicast, 3, 3);
        assert_int_equal(r.multicast, 3);
        assert_int_equal(received_total(&r), 3);
        r = send_and_observe(f, mac_unicast, 2, 2);
        assert_int_equal(r.host, 2);
        assert_counters(f->helper, 2, 6, 6);

        assert_int_equal(standby_helper_set_multicast(f->helper, false), 0);
        r = send_and_observe(f, mac_broadcast, 3, 0);
        assert_int_equal(received_total(&r), 0);
        r = send_and_observe(f, mac_unicast, 1, 1);
        assert_int_equal(r.host, 1);
        assert_counters(f->helper, 3, 6, 9);
}

static void test_standby_helper_detach_removes_filter_keeps_qdisc(void **state) {
        Fixture *f = *state;
        Received r;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_set_multicast(f->helper, true), 0);
        assert_true(standby_has("qdisc", "clsact"));
        assert_true(standby_has("filter", "standby_rx"));

        f->helper = standby_helper_detach(f->helper);
        assert_null(f->helper);
        /* Deleting the qdisc on a live standby lost frames in the guest. */
        assert_true(standby_has("qdisc", "clsact"));
        assert_false(standby_has("filter", "bpf"));

        r = send_and_observe(f, mac_unicast, 3, 0);
        assert_int_equal(received_total(&r), 0);
        r = send_and_observe(f, mac_broadcast, 3, 0);
        assert_int_equal(received_total(&r), 0);

        /* Detaching twice: the first detach returned NULL, and NULL is fine. */
        assert_null(standby_helper_detach(f->helper));
}

static void test_standby_helper_detach_keeps_foreign_qdisc(void **state) {
        Fixture *f = *state;
        Received r;

        sh("tc qdisc add dev " STANDBY " clsact");
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        r = send_and_observe(f, mac_unicast, 2, 2);
        assert_int_equal(r.host, 2);

        f->helper = standby_helper_detach(f->helper);
        assert_true(standby_has("qdisc", "clsact"));
        assert_false(standby_has("filter", "bpf"));
        r = send_and_observe(f, mac_unicast, 2, 0);
        assert_int_equal(received_total(&r), 0);

        sh("tc qdisc del dev " STANDBY " clsact");
}

static void test_standby_helper_attach_twice_is_refused(void **state) {
        Fixture *f = *state;
        StandbyHelper *second = NULL;
        Received r;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &second), -EEXIST);
        assert_null(second);

        /* The refused attach left the first one working and its qdisc in place. */
        r = send_and_observe(f, mac_unicast, 2, 2);
        assert_int_equal(r.host, 2);
        assert_counters(f->helper, 2, 0, 0);

        /* Detach, then attach again: a fresh program, fresh counters. */
        f->helper = standby_helper_detach(f->helper);
        assert_false(standby_has("filter", "standby_rx"));
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_counters(f->helper, 0, 0, 0);
        r = send_and_observe(f, mac_unicast, 1, 1);
        assert_int_equal(r.host, 1);
}

static void test_standby_helper_stale_filter_is_removed(void **state) {
        Fixture *f = *state;
        StandbyHelper *dead = NULL;

        /* Nothing there: nothing to do. */
        assert_int_equal(standby_helper_remove_stale(f->standby_ifindex), 0);

        /* An agent that died mid-transition left its filter: the next one
         * removes it and can attach its own. */
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &dead), 0);
        assert_int_equal(standby_helper_remove_stale(f->standby_ifindex), 1);
        assert_false(standby_has("filter", "standby_rx"));
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(send_and_observe(f, mac_unicast, 1, 1).host, 1);

        /* The dead one's handle (never used by a real dead agent) must not
         * take the new filter with it. */
        dead = standby_helper_detach(dead);
        assert_true(standby_has("filter", "standby_rx"));
        assert_int_equal(send_and_observe(f, mac_unicast, 1, 1).host, 1);
        assert_int_equal(standby_helper_remove_stale(-1), -EINVAL);

        f->helper = standby_helper_detach(f->helper);
        assert_true(standby_has("qdisc", "clsact"));
}

static void test_standby_helper_install_hook(void **state) {
        Fixture *f = *state;

        assert_int_equal(standby_helper_install_hook(f->standby_ifindex), 1);
        assert_true(standby_has("qdisc", "clsact"));
        assert_int_equal(standby_helper_install_hook(f->standby_ifindex), 0);
        assert_int_equal(standby_helper_install_hook(0), -EINVAL);
        /* An attach on an installed hook works as on a bare standby. */
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(send_and_observe(f, mac_unicast, 1, 1).host, 1);
}

static void test_standby_helper_bad_ifindex(void **state) {
        Fixture *f = *state;
        StandbyHelper *h = NULL;

        assert_int_equal(standby_helper_attach(0, f->master_ifindex, &h), -EINVAL);
        assert_int_equal(standby_helper_attach(-1, f->master_ifindex, &h), -EINVAL);
        assert_int_equal(standby_helper_attach(f->standby_ifindex, 0, &h), -EINVAL);
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->standby_ifindex, &h), -EINVAL);
        assert_int_equal(standby_helper_attach(999999, f->master_ifindex, &h), -ENODEV);
        assert_int_equal(standby_helper_attach(f->standby_ifindex, 999999, &h), -ENODEV);
        assert_null(h);
        assert_false(standby_has("qdisc", "clsact"));
}

static void test_standby_helper_standby_vanishes(void **state) {
        Fixture *f = *state;
        StandbyHelper *h = NULL;

        sh("ip link add vfo-gone type veth peer name vfo-gone-peer");
        assert_int_equal(standby_helper_attach((int) if_nametoindex("vfo-gone"), f->master_ifindex, &h), 0);
        sh("ip link del vfo-gone");
        assert_null(standby_helper_detach(h));
}

/* Broadcast deduplication. Frames: Ethernet header, the tag (4 bytes), DD_MAGIC, then a pattern
 * (or zeros: padding) up to any length from 24 bytes. */

#define DD_MAGIC    "vfo-dd"
#define DD_MAGIC_AT (sizeof(struct ethhdr) + sizeof(uint32_t))
#define DD_MIN_LEN  (DD_MAGIC_AT + strlen(DD_MAGIC))
#define DD_MAX_LEN  128

typedef enum Side {
        ON_STANDBY,
        ON_VF,
} Side;

/* One copy of a frame: where it comes in, how long it is, from which byte on it is padding
 * (zeros; 0: none), and which byte is changed (0: none) to make it a different frame. */
typedef struct Copy {
        Side side;
        size_t len, pad_from, flip;
        const uint8_t *dst; /* NULL: broadcast */
} Copy;

static void skip_without_bridge(void) {
        if (!have_bridge) {
                fprintf(stderr, "# no bridge in this kernel: cannot stand in for the master, skipped\n");
                skip();
        }
}

static void dd_build(const Copy *c, uint32_t tag, uint8_t frame[static DD_MAX_LEN]) {
        struct ethhdr *eth = (struct ethhdr *) frame;

        assert_true(c->len >= DD_MIN_LEN && c->len <= DD_MAX_LEN);
        memset(frame, 0, DD_MAX_LEN);
        memcpy(eth->h_dest, c->dst ?: mac_broadcast, ETH_ALEN);
        memcpy(eth->h_source, (uint8_t[]){0x02, 0, 0, 0, 0x5b, 0x99}, ETH_ALEN);
        eth->h_proto = htons(ETH_P_VFO_TEST);
        memcpy(frame + sizeof(*eth), &tag, sizeof(tag));
        memcpy(frame + DD_MAGIC_AT, DD_MAGIC, strlen(DD_MAGIC));
        for (size_t i = DD_MIN_LEN; i < c->len && (c->pad_from == 0 || i < c->pad_from); i++)
                frame[i] = (uint8_t) (i * 7 + 1);
        if (c->flip > 0)
                frame[c->flip] ^= 0xff;
}

/* Reads frames carrying 'tag' from 'fd' until 'want' arrived or 'timeout_msec' passed. */
static unsigned dd_receive(int fd, uint32_t tag, unsigned want, unsigned timeout_msec) {
        uint64_t deadline = now_msec() + timeout_msec;
        unsigned got = 0;

        for (;;) {
                uint8_t frame[DD_MAX_LEN + 64];
                ssize_t n = recv(fd, frame, sizeof(frame), 0);
                uint32_t t;

                if (n < 0) {
                        uint64_t now = now_msec();

                        assert_int_equal(errno, EAGAIN);
                        if (got >= want || now >= deadline)
                                return got;
                        (void) poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, (int) (deadline - now));
                        continue;
                }
                if ((size_t) n < DD_MIN_LEN || memcmp(frame + DD_MAGIC_AT, DD_MAGIC, strlen(DD_MAGIC)) != 0)
                        continue;
                memcpy(&t, frame + sizeof(struct ethhdr), sizeof(t));
                if (t == tag)
                        got++;
        }
}

/* Sends one copy from the peer of its side and waits until that side's tap saw it: from then on
 * the kernel is running the side's tc ingress on it. */
static void dd_inject(Fixture *f, const Copy *c, uint32_t tag) {
        uint8_t frame[DD_MAX_LEN];
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = c->side == ON_VF ? f->vf_peer_ifindex : f->peer_ifindex,
                .sll_halen = ETH_ALEN,
        };

        dd_build(c, tag, frame);
        memcpy(sll.sll_addr, frame, ETH_ALEN);
        assert_int_equal(sendto(f->tx_fd, frame, c->len, 0, (struct sockaddr *) &sll, sizeof(sll)),
                         (ssize_t) c->len);
        assert_int_equal(dd_receive(c->side == ON_VF ? f->vf_fd : f->standby_fd, tag, 1, 2000), 1);
}

/* Sends copy 'a' of a fresh frame and then copy 'b' (if any), and returns how many copies reached
 * the master (the bridge). 'a' is waited for at the master (up to 200 ms) before 'b' goes, so
 * 'a' is the first copy. When 'timed', both went within half the window, or the whole is tried
 * again with a fresh frame (a host too busy to send two frames in 25 ms is not what is tested);
 * 'delta' gets what the helper's counters did in the attempt that counted. */
static unsigned send_copies(Fixture *f, const Copy *a, const Copy *b, bool timed, StandbyHelper *h,
                            StandbyHelperCounters *delta) {
        for (unsigned attempt = 0;; attempt++) {
                StandbyHelperCounters before = {}, after = {};
                uint32_t tag = next_tag++;
                uint64_t t0;
                unsigned got;
                bool in_time;

                if (h)
                        assert_int_equal(standby_helper_get_counters(h, &before), 0);
                t0 = now_msec();
                dd_inject(f, a, tag);
                got = dd_receive(f->bridge_fd, tag, 1, 200);
                if (b)
                        dd_inject(f, b, tag);
                in_time = now_msec() - t0 < DEDUPE_WINDOW_MS / 2;
                /* Ask for one more than could come: a duplicate has 200 ms to show up. */
                got += dd_receive(f->bridge_fd, tag, 3, 200);

                if (h) {
                        assert_int_equal(standby_helper_get_counters(h, &after), 0);
                        if (delta)
                                *delta = (StandbyHelperCounters){
                                        .redirected_unicast =
                                                after.redirected_unicast - before.redirected_unicast,
                                        .redirected_multicast =
                                                after.redirected_multicast - before.redirected_multicast,
                                        .passed = after.passed - before.passed,
                                        .duplicates_standby =
                                                after.duplicates_standby - before.duplicates_standby,
                                        .duplicates_vf = after.duplicates_vf - before.duplicates_vf,
                                };
                }
                if (!timed || !b || in_time)
                        return got;
                fprintf(stderr, "# two sends took %" PRIu64 " ms, trying again\n", now_msec() - t0);
                assert_true(attempt < 5);
        }
}

static void assert_delta(const StandbyHelperCounters *d, uint64_t multicast, uint64_t dup_standby,
                         uint64_t dup_vf) {
        assert_int_equal(d->redirected_multicast, multicast);
        assert_int_equal(d->duplicates_standby, dup_standby);
        assert_int_equal(d->duplicates_vf, dup_vf);
}

/* Helper on STANDBY for BRIDGE, its VF program on VF, dedupe on. */
static void dd_attach(Fixture *f) {
        skip_without_bridge();
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->bridge_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_attach_vf(f->helper, f->vf_ifindex), 0);
        assert_int_equal(standby_helper_set_dedupe(f->helper, true), 0);
}

static void test_dedupe_first_copy_wins(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;

        dd_attach(f);

        /* Standby first: it is handed over, the VF's copy is dropped. */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, &(Copy){ON_VF, 64}, true, f->helper, &d), 1);
        assert_delta(&d, 1, 0, 1);
        /* VF first: it passes, the standby's copy is dropped. */
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 64}, &(Copy){ON_STANDBY, 64}, true, f->helper, &d), 1);
        assert_delta(&d, 0, 1, 0);
        /* Multicast as broadcast; and frames of every length class. */
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 90, .dst = mac_multicast},
                                     &(Copy){ON_STANDBY, 90, .dst = mac_multicast}, true, f->helper, &d),
                         1);
        assert_delta(&d, 0, 1, 0);
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 32}, &(Copy){ON_VF, 32}, true, f->helper, &d), 1);
        assert_delta(&d, 1, 0, 1);
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 128}, &(Copy){ON_VF, 128}, true, f->helper, &d),
                         1);
        assert_delta(&d, 1, 0, 1);
}

static void test_dedupe_same_path_repeats_are_delivered(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;

        dd_attach(f);
        assert_int_equal(
                send_copies(f, &(Copy){ON_STANDBY, 64}, &(Copy){ON_STANDBY, 64}, true, f->helper, &d), 2);
        assert_delta(&d, 2, 0, 0);
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 64}, &(Copy){ON_VF, 64}, true, f->helper, &d), 2);
        assert_delta(&d, 0, 0, 0);
}

static void test_dedupe_different_frames_pass(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;

        dd_attach(f);
        /* Differing within the first 64 bytes (the window of a frame of 64 or more) ... */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 100}, &(Copy){ON_VF, 100, .flip = 63}, true,
                                     f->helper, &d),
                         2);
        assert_delta(&d, 1, 0, 0);
        /* ... or the first 32 (the window of a shorter one). */
        assert_int_equal(
                send_copies(f, &(Copy){ON_VF, 50}, &(Copy){ON_STANDBY, 50, .flip = 31}, true, f->helper, &d),
                2);
        assert_delta(&d, 1, 0, 0);
        /* The length is no part of a frame's identity, but the window is: 63 and 64 bytes with
         * the same first 63 are two frames. */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 63}, &(Copy){ON_VF, 64}, true, f->helper, &d), 2);
        assert_delta(&d, 1, 0, 0);
}

static void test_dedupe_padding_is_the_same_frame(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;

        dd_attach(f);
        /* A 42-byte ARP-sized frame, padded to 60 on one path (e1000e) and not on the other. */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 42}, &(Copy){ON_VF, 60, .pad_from = 42}, true,
                                     f->helper, &d),
                         1);
        assert_delta(&d, 1, 0, 1);
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 60, .pad_from = 42}, &(Copy){ON_STANDBY, 42}, true,
                                     f->helper, &d),
                         1);
        assert_delta(&d, 0, 1, 0);
}

static void test_dedupe_limits(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;

        dd_attach(f);
        /* The documented limit: frames that differ only after the window are taken for copies. */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 100}, &(Copy){ON_VF, 100, .flip = 64}, true,
                                     f->helper, &d),
                         1);
        assert_delta(&d, 1, 0, 1);
        assert_int_equal(
                send_copies(f, &(Copy){ON_STANDBY, 50}, &(Copy){ON_VF, 50, .flip = 32}, true, f->helper, &d),
                1);
        assert_delta(&d, 1, 0, 1);
        /* Under 32 bytes nothing is deduplicated. */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 31}, &(Copy){ON_VF, 31}, true, f->helper, &d), 2);
        assert_delta(&d, 1, 0, 0);
}

static void test_dedupe_after_the_window(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters before, after;
        uint32_t tag = next_tag++;

        dd_attach(f);
        assert_int_equal(standby_helper_get_counters(f->helper, &before), 0);
        dd_inject(f, &(Copy){ON_STANDBY, 64}, tag);
        assert_int_equal(dd_receive(f->bridge_fd, tag, 1, 2000), 1);
        (void) usleep((useconds_t) DEDUPE_WINDOW_MS * 2 * 1000);
        dd_inject(f, &(Copy){ON_VF, 64}, tag);
        assert_int_equal(dd_receive(f->bridge_fd, tag, 1, 2000), 1);
        assert_int_equal(standby_helper_get_counters(f->helper, &after), 0);
        assert_int_equal(after.duplicates_standby + after.duplicates_vf,
                         before.duplicates_standby + before.duplicates_vf);
}

static void test_dedupe_leaves_unicast_alone(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;

        dd_attach(f);
        /* Unicast is never taken for a copy: both go through (the host never sends both). */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64, .dst = mac_unicast},
                                     &(Copy){ON_VF, 64, .dst = mac_unicast}, true, f->helper, &d),
                         2);
        assert_int_equal(d.redirected_unicast, 1);
        assert_delta(&d, 0, 0, 0);
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 64, .dst = mac_unicast},
                                     &(Copy){ON_VF, 64, .dst = mac_unicast}, true, f->helper, &d),
                         2);
}

static void test_dedupe_off_is_the_flag(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;

        skip_without_bridge();
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->bridge_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_attach_vf(f->helper, f->vf_ifindex), 0);

        /* Flag off: the standby leaves broadcast to net_failover (here: its own stack), the VF
         * delivers. */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, NULL, false, f->helper, &d), 0);
        assert_int_equal(d.passed, 1);
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, &(Copy){ON_VF, 64}, false, f->helper, &d),
                         1);
        assert_delta(&d, 0, 0, 0);
        /* Flag on: handed over, and nothing dropped: both copies arrive, as before dedupe. */
        assert_int_equal(standby_helper_set_multicast(f->helper, true), 0);
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, &(Copy){ON_VF, 64}, false, f->helper, &d),
                         2);
        assert_delta(&d, 1, 0, 0);
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 64}, &(Copy){ON_STANDBY, 64}, false, f->helper, &d),
                         2);
        assert_delta(&d, 1, 0, 0);

        /* Dedupe on overrides the flag either way ... */
        assert_int_equal(standby_helper_set_dedupe(f->helper, true), 0);
        assert_int_equal(standby_helper_set_multicast(f->helper, false), 0);
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, &(Copy){ON_VF, 64}, true, f->helper, &d), 1);
        assert_delta(&d, 1, 0, 1);
        /* ... and off again is the flag again. */
        assert_int_equal(standby_helper_set_dedupe(f->helper, false), 0);
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, NULL, false, f->helper, &d), 0);
        assert_int_equal(d.passed, 1);
}

static void test_dedupe_vf_records_while_off(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters d;
        uint32_t tag = next_tag++;

        /* What the VF delivers while dedupe is off is remembered: when it goes on (the VF is
         * about to go down), the standby's late copy of it is dropped. */
        skip_without_bridge();
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->bridge_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_attach_vf(f->helper, f->vf_ifindex), 0);
        dd_inject(f, &(Copy){ON_VF, 64}, tag);
        assert_int_equal(dd_receive(f->bridge_fd, tag, 1, 2000), 1);
        assert_int_equal(standby_helper_set_dedupe(f->helper, true), 0);
        dd_inject(f, &(Copy){ON_STANDBY, 64}, tag);
        assert_int_equal(dd_receive(f->bridge_fd, tag, 1, 300), 0);
        assert_int_equal(standby_helper_get_counters(f->helper, &d), 0);
        assert_int_equal(d.duplicates_standby, 1);
}

static void test_dedupe_vf_attach_detach(void **state) {
        Fixture *f = *state;
        StandbyHelper *other = NULL;

        skip_without_bridge();
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->bridge_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_get_vf(f->helper), 0);
        assert_int_equal(standby_helper_attach_vf(f->helper, 0), -EINVAL);
        assert_int_equal(standby_helper_attach_vf(f->helper, f->standby_ifindex), -EINVAL);
        assert_int_equal(standby_helper_attach_vf(f->helper, f->bridge_ifindex), -EINVAL);
        assert_int_equal(standby_helper_attach_vf(f->helper, 999999), -ENODEV);
        assert_false(vf_has("qdisc", "clsact"));

        /* The clsact qdisc is created as on the standby, and stays. */
        assert_int_equal(standby_helper_attach_vf(f->helper, f->vf_ifindex), 0);
        assert_int_equal(standby_helper_get_vf(f->helper), f->vf_ifindex);
        assert_true(vf_has("qdisc", "clsact"));
        assert_true(vf_has("filter", "standby_rx_vf"));
        assert_int_equal(standby_helper_attach_vf(f->helper, f->vf_ifindex), 0);

        /* One owner per slot: another helper cannot take the VF; an earlier agent's filter is
         * removed as on the standby. */
        sh("ip link add vfo-sb2 type veth peer name vfo-sb2-peer");
        assert_int_equal(standby_helper_attach((int) if_nametoindex("vfo-sb2"), f->bridge_ifindex, &other),
                         0);
        assert_int_equal(standby_helper_attach_vf(other, f->vf_ifindex), -EEXIST);
        assert_int_equal(standby_helper_get_vf(other), 0);
        other = standby_helper_detach(other);
        sh("ip link del vfo-sb2");
        assert_true(vf_has("filter", "standby_rx_vf"));

        assert_int_equal(standby_helper_detach_vf(f->helper), 0);
        assert_int_equal(standby_helper_get_vf(f->helper), 0);
        assert_false(vf_has("filter", "bpf"));
        assert_true(vf_has("qdisc", "clsact"));
        assert_int_equal(standby_helper_detach_vf(f->helper), 0);

        /* Detaching the helper takes the VF's filter too. */
        assert_int_equal(standby_helper_attach_vf(f->helper, f->vf_ifindex), 0);
        f->helper = standby_helper_detach(f->helper);
        assert_false(vf_has("filter", "bpf"));
        assert_false(standby_has("filter", "bpf"));

        /* A dead agent's filter on the VF. */
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->bridge_ifindex, &other), 0);
        assert_int_equal(standby_helper_attach_vf(other, f->vf_ifindex), 0);
        assert_int_equal(standby_helper_remove_stale(f->vf_ifindex), 1);
        assert_int_equal(standby_helper_remove_stale(f->vf_ifindex), 0);
        other = standby_helper_detach(other);
}

static void test_dedupe_vf_moves_and_vanishes(void **state) {
        Fixture *f = *state;
        int vf2;

        dd_attach(f);
        sh("ip link add vfo-vf2 type veth peer name vfo-vf2-peer");
        vf2 = (int) if_nametoindex("vfo-vf2");

        /* Another VF: the program moves. */
        assert_int_equal(standby_helper_attach_vf(f->helper, vf2), 0);
        assert_int_equal(standby_helper_get_vf(f->helper), vf2);
        assert_false(vf_has("filter", "bpf"));
        assert_true(link_has("vfo-vf2", "filter", "standby_rx_vf"));

        /* It vanishes: detaching is no error. */
        sh("ip link del vfo-vf2");
        assert_int_equal(standby_helper_detach_vf(f->helper), 0);
        assert_int_equal(standby_helper_get_vf(f->helper), 0);
        /* With no VF program, dedupe still hands all broadcast over from the standby. */
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, NULL, false, f->helper, NULL), 1);
}

/* Both copies of each frame at the same time, on two CPUs: exactly one of them reaches the
 * master (the insert and the compare-and-exchange in the program decide, not the order). */
typedef struct Racer {
        int ifindex, cpu, error;
        uint32_t first_tag;
        unsigned n;
        pthread_barrier_t *barrier;
} Racer;

static void *racer_run(void *p) {
        Racer *r = p;
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = r->ifindex,
                .sll_halen = ETH_ALEN,
        };
        cpu_set_t cpus;
        int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

        CPU_ZERO(&cpus);
        CPU_SET(r->cpu, &cpus);
        if (fd < 0 || pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus) != 0)
                r->error = errno ?: EINVAL;
        memcpy(sll.sll_addr, mac_broadcast, ETH_ALEN);
        (void) pthread_barrier_wait(r->barrier);

        for (unsigned i = 0; fd >= 0 && i < r->n; i++) {
                uint8_t frame[DD_MAX_LEN];

                dd_build(&(Copy){ON_STANDBY, 64}, r->first_tag + i, frame);
                if (sendto(fd, frame, 64, 0, (struct sockaddr *) &sll, sizeof(sll)) != 64)
                        r->error = errno;
        }
        if (fd >= 0)
                (void) close(fd);
        return NULL;
}

static void test_dedupe_race(void **state) {
        enum { N = 200, ROUNDS = 10 };
        Fixture *f = *state;
        unsigned rounds = 0, late = 0;
        int size = 8 << 20;

        dd_attach(f);
        if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
                fprintf(stderr, "# one CPU: no race to test, skipped\n");
                skip();
        }
        /* Room for every copy, duplicates included: a full socket would hide them. */
        assert_int_equal(setsockopt(f->bridge_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)), 0);

        while (rounds < ROUNDS) {
                pthread_barrier_t barrier;
                Racer racers[2] = {
                        {.ifindex = f->peer_ifindex, .cpu = 0, .n = N, .barrier = &barrier},
                        {.ifindex = f->vf_peer_ifindex, .cpu = 1, .n = N, .barrier = &barrier},
                };
                uint32_t first = next_tag;
                unsigned seen[N] = {};
                pthread_t threads[2];
                uint64_t t0;

                next_tag += N;
                racers[0].first_tag = racers[1].first_tag = first;
                assert_int_equal(pthread_barrier_init(&barrier, NULL, 3), 0);
                for (unsigned i = 0; i < 2; i++)
                        assert_int_equal(pthread_create(&threads[i], NULL, racer_run, &racers[i]), 0);
                (void) pthread_barrier_wait(&barrier);
                t0 = now_msec();
                for (unsigned i = 0; i < 2; i++)
                        assert_int_equal(pthread_join(threads[i], NULL), 0);
                assert_int_equal(pthread_barrier_destroy(&barrier), 0);
                assert_int_equal(racers[0].error, 0);
                assert_int_equal(racers[1].error, 0);

                /* A round the host stretched past half the window proves nothing either way. */
                if (now_msec() - t0 >= DEDUPE_WINDOW_MS / 2) {
                        assert_true(++late < 20);
                        continue;
                }

                for (uint64_t deadline = now_msec() + 500;;) {
                        uint8_t frame[DD_MAX_LEN + 64];
                        ssize_t n = recv(f->bridge_fd, frame, sizeof(frame), 0);
                        uint32_t t;

                        if (n < 0) {
                                uint64_t now = now_msec();

                                assert_int_equal(errno, EAGAIN);
                                if (now >= deadline)
                                        break;
                                (void) poll(&(struct pollfd){.fd = f->bridge_fd, .events = POLLIN}, 1,
                                            (int) (deadline - now));
                                continue;
                        }
                        if ((size_t) n < DD_MIN_LEN ||
                            memcmp(frame + DD_MAGIC_AT, DD_MAGIC, strlen(DD_MAGIC)) != 0)
                                continue;
                        memcpy(&t, frame + sizeof(struct ethhdr), sizeof(t));
                        if (t - first < N)
                                seen[t - first]++;
                }
                for (unsigned i = 0; i < N; i++)
                        if (seen[i] != 1)
                                fail_msg("round %u: frame %u of %u reached the master %u times", rounds, i, N,
                                         seen[i]);
                rounds++;
        }
}

/* drivers/datapath.c, net_failover: the same links as a port. */
static DatapathPort dd_port(Fixture *f, int vf_ifindex) {
        return (DatapathPort){
                .kind = PORT_KIND_NET_FAILOVER,
                .master_ifindex = f->bridge_ifindex,
                .synthetic_ifindex = f->standby_ifindex,
                .vf_ifindex = vf_ifindex,
                .vf_up = vf_ifindex > 0,
        };
}

static unsigned dd_standby_only(Fixture *f) {
        return send_copies(f, &(Copy){ON_STANDBY, 64}, NULL, false, NULL, NULL);
}

/* The same frame on both paths, the standby's copy first. Timed only where it is deduplicated:
 * a first copy that does not reach the master is waited for in vain. */
static unsigned dd_both(Fixture *f, bool timed) {
        return send_copies(f, &(Copy){ON_STANDBY, 64}, &(Copy){ON_VF, 64}, timed, NULL, NULL);
}

static void test_datapath_detach(void **state) {
        Fixture *f = *state;
        DatapathPort p;

        skip_without_bridge();
        p = dd_port(f, f->vf_ifindex);
        assert_int_equal(datapath_new(&p, &f->dp), 0);

        /* PrepareDetach: the VF program records, the standby leaves broadcast to net_failover. */
        assert_int_equal(datapath_receive_both(f->dp), 0);
        assert_true(standby_has("filter", "standby_rx"));
        assert_true(vf_has("filter", "standby_rx_vf"));
        assert_int_equal(datapath_vf_receives(f->dp, true), 0);
        assert_int_equal(dd_standby_only(f), 0);
        assert_int_equal(dd_both(f, false), 1);

        /* Transmit moves, the VF is about to go down: dedupe from now on. */
        assert_int_equal(datapath_vf_receives(f->dp, false), 0);
        assert_int_equal(dd_standby_only(f), 1);
        assert_int_equal(dd_both(f, true), 1);
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 64}, &(Copy){ON_STANDBY, 64}, true, NULL, NULL), 1);
        /* The host steers back (the VF receives again): still deduplicated. */
        assert_int_equal(datapath_vf_receives(f->dp, true), 0);
        assert_int_equal(dd_both(f, true), 1);
        assert_int_equal(dd_standby_only(f), 1);

        /* The VF is gone: its filter goes, the standby hands everything over. */
        p.vf_ifindex = 0;
        p.vf_up = false;
        datapath_update(f->dp, &p);
        assert_false(vf_has("filter", "bpf"));
        assert_int_equal(dd_standby_only(f), 1);

        assert_int_equal(datapath_receive_normal(f->dp), 0);
        assert_false(standby_has("filter", "bpf"));
        assert_int_equal(dd_standby_only(f), 0);
}

static void test_datapath_attach(void **state) {
        Fixture *f = *state;
        DatapathPort p;

        skip_without_bridge();
        p = dd_port(f, 0);
        assert_int_equal(datapath_new(&p, &f->dp), 0);

        /* PrepareAttach, no VF yet: everything handed over (and recorded). */
        assert_int_equal(datapath_receive_both(f->dp), 0);
        assert_int_equal(datapath_vf_receives(f->dp, true), 0);
        assert_int_equal(dd_standby_only(f), 1);

        /* The VF appears: its program at once, deduplicated from then on. */
        p = dd_port(f, f->vf_ifindex);
        datapath_update(f->dp, &p);
        assert_true(vf_has("filter", "standby_rx_vf"));
        assert_int_equal(dd_both(f, true), 1);
        assert_int_equal(send_copies(f, &(Copy){ON_VF, 64}, &(Copy){ON_STANDBY, 64}, true, NULL, NULL), 1);
        /* The flag no longer matters. */
        assert_int_equal(datapath_vf_receives(f->dp, true), 0);
        assert_int_equal(dd_standby_only(f), 1);
        assert_int_equal(dd_both(f, true), 1);

        /* Drained: both programs go. */
        assert_int_equal(datapath_receive_normal(f->dp), 0);
        assert_false(standby_has("filter", "bpf"));
        assert_false(vf_has("filter", "bpf"));
        assert_int_equal(dd_standby_only(f), 0);
}

static void test_datapath_falls_back_to_the_flag(void **state) {
        Fixture *f = *state;
        StandbyHelper *squatter = NULL;
        DatapathPort p;

        skip_without_bridge();
        p = dd_port(f, 0);
        assert_int_equal(datapath_new(&p, &f->dp), 0);
        assert_int_equal(datapath_receive_both(f->dp), 0);

        /* Someone else's filter in our slot on the VF that appears (logged once, a warning). */
        sh("ip link add vfo-sb2 type veth peer name vfo-sb2-peer");
        assert_int_equal(standby_helper_attach((int) if_nametoindex("vfo-sb2"), f->bridge_ifindex, &squatter),
                         0);
        assert_int_equal(standby_helper_attach_vf(squatter, f->vf_ifindex), 0);
        p = dd_port(f, f->vf_ifindex);
        datapath_update(f->dp, &p);

        /* Today's behaviour: the flag decides, both copies arrive while it is on. */
        assert_int_equal(datapath_vf_receives(f->dp, true), 0);
        assert_int_equal(dd_standby_only(f), 0);
        assert_int_equal(datapath_vf_receives(f->dp, false), 0);
        assert_int_equal(dd_standby_only(f), 1);
        assert_int_equal(send_copies(f, &(Copy){ON_STANDBY, 64}, &(Copy){ON_VF, 64}, false, NULL, NULL), 2);

        assert_int_equal(datapath_receive_normal(f->dp), 0);
        squatter = standby_helper_detach(squatter);
        sh("ip link del vfo-sb2");
}

static void test_datapath_new_removes_stale_vf_filter(void **state) {
        Fixture *f = *state;
        StandbyHelper *dead = NULL;
        DatapathPort p;

        skip_without_bridge();
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->bridge_ifindex, &dead), 0);
        assert_int_equal(standby_helper_attach_vf(dead, f->vf_ifindex), 0);

        p = dd_port(f, f->vf_ifindex);
        assert_int_equal(datapath_new(&p, &f->dp), 1);
        assert_false(standby_has("filter", "bpf"));
        assert_false(vf_has("filter", "bpf"));
        dead = standby_helper_detach(dead);

        assert_int_equal(datapath_receive_both(f->dp), 0);
        assert_true(vf_has("filter", "standby_rx_vf"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_standby_helper_unicast_reaches_master, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_broadcast_only_when_multicast_on, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_detach_removes_filter_keeps_qdisc, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_detach_keeps_foreign_qdisc, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_attach_twice_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_stale_filter_is_removed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_install_hook, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_bad_ifindex, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_standby_vanishes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_first_copy_wins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_same_path_repeats_are_delivered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_different_frames_pass, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_padding_is_the_same_frame, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_after_the_window, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_leaves_unicast_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_off_is_the_flag, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_vf_records_while_off, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_vf_attach_detach, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_vf_moves_and_vanishes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dedupe_race, setup, teardown),
                cmocka_unit_test_setup_teardown(test_datapath_detach, setup, teardown),
                cmocka_unit_test_setup_teardown(test_datapath_attach, setup, teardown),
                cmocka_unit_test_setup_teardown(test_datapath_falls_back_to_the_flag, setup, teardown),
                cmocka_unit_test_setup_teardown(test_datapath_new_removes_stale_vf_filter, setup, teardown),
        };
        StandbyHelper *probe = NULL;
        int r;

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "test-standby-helper: needs root and a private netns, skipping\n");
                return 77;
        }

        libbpf_set_print(test_libbpf_print);

        /* No IPv6: nothing but our frames should cross the standby, so the counters are exact. */
        if (system("ip link set lo up") != 0 ||
            system("ip link add " PEER " type veth peer name " STANDBY) != 0 ||
            system("ip link add " MASTER " type veth peer name " MASTER_PEER) != 0) {
                fprintf(stderr, "test-standby-helper: no iproute2 or veth, skipping\n");
                return 77;
        }
        (void) system("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 "
                      "2>/dev/null");
        if (system("ip link set " STANDBY " address " SHARED_MAC " && ip link set " MASTER
                   " address " SHARED_MAC " && for l in " PEER " " STANDBY " " MASTER " " MASTER_PEER
                   "; do ip link set $l up || exit 1; done") != 0) {
                fprintf(stderr, "test-standby-helper: cannot set up the links\n");
                return EXIT_FAILURE;
        }

        /* The VF and the bridge standing in for the master it is enslaved to (no multicast
         * snooping: the bridge delivers every multicast frame to itself). */
        have_bridge = system("ip link add " BRIDGE " type bridge mcast_snooping 0 2>/dev/null") == 0;
        if (!have_bridge)
                fprintf(stderr, "test-standby-helper: no bridge in this kernel, deduplication not tested\n");
        else if (system("ip link add " VF_PEER " type veth peer name " VF " && ip link set " VF
                        " master " BRIDGE " && ip link set " BRIDGE " address " SHARED_MAC
                        " && ip link set " VF " address " SHARED_MAC " && for l in " VF_PEER " " VF " " BRIDGE
                        "; do ip link set $l up || exit 1; done") != 0) {
                fprintf(stderr, "test-standby-helper: cannot set up the VF and the bridge\n");
                return EXIT_FAILURE;
        }

        /* Until linkwatch activates a veth's qdisc (up to ~1 s after carrier), it drops what is sent. */
        if (system("for i in $(seq 100); do ip -o link show | grep -q 'vfo-.*qdisc noop' || exit 0; sleep "
                   "0.05; "
                   "done; exit 1") != 0) {
                fprintf(stderr, "test-standby-helper: the links did not come up\n");
                return EXIT_FAILURE;
        }

        /* A container may grant CAP_NET_ADMIN but not CAP_BPF. */
        r = standby_helper_attach((int) if_nametoindex(STANDBY), (int) if_nametoindex(MASTER), &probe);
        if (r == -EPERM) {
                fprintf(stderr, "test-standby-helper: cannot load BPF programs (EPERM), skipping\n");
                return 77;
        }
        if (r < 0) {
                fprintf(stderr, "test-standby-helper: attach failed: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        probe = standby_helper_detach(probe);
        (void) system("tc qdisc del dev " STANDBY " clsact");   /* the probe's; tests start bare */

        return cmocka_run_group_tests(tests, NULL, NULL);
}
