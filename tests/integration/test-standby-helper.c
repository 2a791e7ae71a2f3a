/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The standby-RX helper on the real kernel, in a private netns: frames sent into a veth "standby"
 * must show up at the ingress of a veth "master" exactly as the helper promises, observed with
 * packet sockets independently of the program's own counters. The master's veth peer stands for
 * the VF: what is sent there reaches the master's ingress untagged, as the VF's frames do through
 * net_failover's rx_handler. Root only (exit 77 otherwise). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
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
#include "drivers/standby-helper.h"
#include "lib/macro.h"

#define ETH_P_VFO_TEST 0x88B5 /* IEEE local experimental: nothing else in the netns uses it */
#define MAGIC          "vfo-standby-rx"

#define PEER        "vfo-peer"   /* the host side: the test sends from here */
#define STANDBY     "vfo-sb"     /* net_failover's standby (virtio-net in a guest) */
#define MASTER      "vfo-master" /* net_failover's master: we watch its ingress */
#define MASTER_PEER "vfo-master-peer"
#define SHARED_MAC  "02:00:00:00:5b:01" /* net_failover gives master and standby one MAC */

static const uint8_t mac_unicast[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x5b, 0x01};
static const uint8_t mac_broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mac_multicast[ETH_ALEN] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};

typedef struct Received {
        unsigned host, broadcast, multicast, other;
} Received;

typedef struct Fixture {
        int peer_ifindex, standby_ifindex, master_ifindex, master_peer_ifindex;
        int tx_fd;      /* sends on PEER (or MASTER_PEER: the "VF" path) */
        int standby_fd; /* ETH_P_ALL: a tap, runs before tc ingress, so it sees every frame */
        int master_fd;  /* sees what reaches the master's ingress */
        int marked_fd;  /* sees frames at the master that still carry STANDBY_RX_MARK */
        StandbyHelper *helper;
} Fixture;

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

static bool link_has(const char *dev, const char *what, const char *needle) {
        char cmd[128];
        _cleanup_free_ char *out = NULL;

        snprintf(cmd, sizeof(cmd), "tc %s show dev %s%s", what, dev,
                 strcmp(what, "filter") == 0 ? " ingress" : "");
        out = sh_output(cmd);
        return strstr(out, needle) != NULL;
}

/* Our programs on the master's tc egress (the transmit hold). */
static bool master_egress_has(const char *needle) {
        _cleanup_free_ char *out = sh_output("tc filter show dev " MASTER " egress");

        return strstr(out, needle) != NULL;
}

static bool standby_has(const char *what, const char *needle) {
        return link_has(STANDBY, what, needle);
}

static bool master_has(const char *what, const char *needle) {
        return link_has(MASTER, what, needle);
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

/* A packet socket on 'ifindex' that receives only our frames whose skb->mark is 'mark'. */
static int marked_socket(int ifindex, uint32_t mark) {
        struct sock_filter code[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t) (SKF_AD_OFF + SKF_AD_MARK)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, mark, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, 0xffff),
                BPF_STMT(BPF_RET | BPF_K, 0),
        };
        struct sock_fprog prog = {.len = ELEMENTSOF(code), .filter = code};
        int fd = packet_socket(ifindex, ETH_P_VFO_TEST);

        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)), 0);
        return fd;
}

static void send_frames_on(Fixture *f, int ifindex, const uint8_t dst[ETH_ALEN], uint32_t tag, unsigned count) {
        uint8_t frame[64] = {};
        struct ethhdr *eth = (struct ethhdr *) frame;
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = ifindex,
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

static void send_frames(Fixture *f, const uint8_t dst[ETH_ALEN], uint32_t tag, unsigned count) {
        send_frames_on(f, f->peer_ifindex, dst, tag, count);
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
        f->master_peer_ifindex = (int) if_nametoindex(MASTER_PEER);
        assert_true(f->peer_ifindex > 0 && f->standby_ifindex > 0 && f->master_ifindex > 0 &&
                    f->master_peer_ifindex > 0);
        assert_false(master_has("qdisc", "clsact"));

        f->tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        assert_true(f->tx_fd >= 0);
        /* A socket for our EtherType would only see frames the program passes: protocol
         * handlers run after tc ingress. */
        f->standby_fd = packet_socket(f->standby_ifindex, ETH_P_ALL);
        f->master_fd = packet_socket(f->master_ifindex, ETH_P_VFO_TEST);
        f->marked_fd = marked_socket(f->master_ifindex, STANDBY_RX_MARK);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        f->helper = standby_helper_detach(f->helper);
        (void) close(f->tx_fd);
        (void) close(f->standby_fd);
        (void) close(f->master_fd);
        (void) close(f->marked_fd);
        free(f);

        /* No filter of ours survives a test; the qdiscs stay by design. */
        assert_false(standby_has("filter", "standby_rx"));
        assert_false(master_has("filter", "standby_rx"));
        assert_false(master_egress_has("standby_tx_hold"));
        sh("tc qdisc del dev " STANDBY " clsact 2>/dev/null || true");
        sh("tc qdisc del dev " MASTER " clsact 2>/dev/null || true");
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
        assert_true(standby_helper_dedupes(f->helper));
        /* Without deduplication the flag decides, as before it existed. */
        assert_int_equal(standby_helper_set_dedupe(f->helper, false), 0);
        assert_false(standby_helper_dedupes(f->helper));

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
        assert_true(master_has("filter", "standby_rx_mast"));
        assert_int_equal(standby_helper_remove_stale(f->standby_ifindex), 1);
        assert_int_equal(standby_helper_remove_stale(f->master_ifindex), 1);
        assert_int_equal(standby_helper_remove_stale(f->master_ifindex), 0);
        assert_false(standby_has("filter", "standby_rx"));
        assert_false(master_has("filter", "standby_rx"));
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_true(standby_helper_dedupes(f->helper));
        assert_int_equal(send_and_observe(f, mac_unicast, 1, 1).host, 1);

        /* The dead one's handle (never used by a real dead agent) must not
         * take the new filter with it. */
        dead = standby_helper_detach(dead);
        assert_true(standby_has("filter", "standby_rx"));
        assert_true(master_has("filter", "standby_rx_mast"));
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

/* Broadcast/multicast deduplication at the master's ingress: the standby's copy comes in through
 * the helper's redirect (tagged), the "VF"'s through MASTER_PEER (untagged). */

static void assert_duplicates(StandbyHelper *h, uint64_t standby, uint64_t vf) {
        StandbyHelperCounters c;

        assert_int_equal(standby_helper_get_counters(h, &c), 0);
        assert_int_equal(c.duplicates_standby, standby);
        assert_int_equal(c.duplicates_vf, vf);
}

/* Sends 'count' copies of frame 'tag' on 'ifindex' and returns how many reached the master's
 * protocol handlers: waits for 'expect' (or 200 ms if 0). */
static unsigned send_on_and_count(Fixture *f, int ifindex, const uint8_t dst[ETH_ALEN], uint32_t tag,
                                  unsigned count, unsigned expect) {
        Received r;

        send_frames_on(f, ifindex, dst, tag, count);
        r = receive_frames(f->master_fd, tag, expect > 0 ? expect : UINT_MAX, expect > 0 ? 2000 : 200);
        return received_total(&r);
}

/* Frames of our EtherType, any tag, that reached the master still carrying the mark (drains). */
static unsigned marked_frames(Fixture *f) {
        unsigned n = 0;

        for (;;) {
                uint8_t frame[128];
                ssize_t k = recv(f->marked_fd, frame, sizeof(frame), 0);

                if (k < 0) {
                        assert_int_equal(errno, EAGAIN);
                        break;
                }
                n++;
        }
        return n;
}

/* The deduplication's rule, with dedupe on and frames from both paths reaching the master: the
 * other path's second copy is dropped (either way round, broadcast and multicast alike), same-path
 * repeats pass, and unicast is never dropped. Sends 5 broadcast/multicast frames and 1 unicast on
 * the standby. */
static void assert_first_copy_wins(Fixture *f) {
        uint32_t tag;

        /* Standby first, then the VF's copy: the VF's is dropped. */
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 1, 0), 0);
        assert_duplicates(f->helper, 0, 1);

        /* VF first, then the standby's: the standby's is dropped. Multicast alike. */
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_multicast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_multicast, tag, 1, 0), 0);
        assert_duplicates(f->helper, 1, 1);

        /* Same-path repeats always pass, on either path. */
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 3, 3), 3);
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 3, 3), 3);

        /* Unicast is never dropped: both copies arrive. */
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_unicast, tag, 1, 1), 1);
        assert_duplicates(f->helper, 1, 1);
}

static void test_standby_helper_dedupe_first_copy_wins(void **state) {
        Fixture *f = *state;
        uint32_t tag;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_true(standby_helper_dedupes(f->helper));
        assert_true(master_has("filter", "standby_rx_mast"));

        assert_first_copy_wins(f);

        /* Different frames both pass. */
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, next_tag++, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, next_tag++, 1, 1), 1);

        /* After the window the other path's copy is a new frame. */
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        usleep((STANDBY_RX_DEDUPE_WINDOW_NS / 1000) + 20000);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        assert_duplicates(f->helper, 1, 1);

        /* The standby handed over all broadcast/multicast (dedupe ignores the flag), and the mark
         * never got past the master's program. */
        assert_counters(f->helper, 1, 7, 0);
        assert_int_equal(marked_frames(f), 0);
}

/* An IPv4/UDP broadcast whose UDP checksum is 'csum': one path may carry a
 * checksum still to be completed (virtio-net), the other the final one. */
static void send_udp_on(Fixture *f, int ifindex, uint32_t tag, uint16_t csum) {
        uint8_t frame[106] = {};
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = ifindex,
                .sll_halen = ETH_ALEN,
        };

        memcpy(frame, mac_broadcast, ETH_ALEN);
        memcpy(frame + 6, (uint8_t[]){0x02, 0, 0, 0, 0x5b, 0x99}, ETH_ALEN);
        frame[12] = 0x08;                       /* IPv4 */
        frame[14] = 0x45;                       /* 20-byte header */
        frame[16] = 0;
        frame[17] = 92;                         /* total length */
        frame[22] = 64;                         /* TTL */
        frame[23] = 17;                         /* UDP */
        memcpy(frame + 26, (uint8_t[]){10, 77, 0, 1, 10, 77, 0, 255}, 8);
        frame[34] = 0x1b;                       /* ports 7000 -> 7000 */
        frame[35] = 0x58;
        frame[36] = 0x1b;
        frame[37] = 0x58;
        frame[39] = 72;                         /* UDP length */
        memcpy(frame + 40, &csum, sizeof(csum));        /* UDP checksum */
        memcpy(frame + 44, &tag, sizeof(tag));          /* payload */
        memcpy(sll.sll_addr, mac_broadcast, ETH_ALEN);
        assert_int_equal(sendto(f->tx_fd, frame, sizeof(frame), 0, (struct sockaddr *) &sll, sizeof(sll)),
                         (ssize_t) sizeof(frame));
        usleep(50000);
}

static void test_standby_helper_dedupe_ignores_l4_checksum(void **state) {
        Fixture *f = *state;
        uint32_t tag = next_tag++;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_true(standby_helper_dedupes(f->helper));

        /* The same datagram, its UDP checksum differing between the paths: one. */
        send_udp_on(f, f->peer_ifindex, tag, 0x1234);
        send_udp_on(f, f->master_peer_ifindex, tag, 0xabcd);
        assert_duplicates(f->helper, 0, 1);

        /* A different datagram (another payload) is not a copy. */
        send_udp_on(f, f->master_peer_ifindex, next_tag++, 0x1234);
        assert_duplicates(f->helper, 0, 1);
}

static void test_standby_helper_dedupe_off_is_the_flag(void **state) {
        Fixture *f = *state;
        uint32_t tag;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_set_dedupe(f->helper, false), 0);

        /* The flag off: the standby's broadcast stays there, the VF's passes. */
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 0), 0);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 1, 1), 1);

        /* The flag on: both copies arrive, untouched, as before deduplication. */
        assert_int_equal(standby_helper_set_multicast(f->helper, true), 0);
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_multicast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_multicast, tag, 1, 1), 1);
        assert_duplicates(f->helper, 0, 0);
        assert_counters(f->helper, 0, 2, 1);
        assert_int_equal(marked_frames(f), 0);  /* nothing tagged with dedupe off */

        /* And on again. */
        assert_int_equal(standby_helper_set_dedupe(f->helper, true), 0);
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 1, 0), 0);
        assert_duplicates(f->helper, 0, 1);
}

/* The end of a transition on the VF: standby_helper_release() takes the standby's program and the
 * transmit hold away at once, and the master's deduplication lingers: a VF copy of what the
 * standby delivered last is dropped until the linger ends, after that it passes. */
static void test_standby_helper_release_lingers(void **state) {
        Fixture *f = *state;
        uint32_t early = next_tag++, late = next_tag++, fresh = next_tag++, tagged = next_tag++;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_hold_transmit(f->helper, true), 0);
        assert_true(master_egress_has("standby_tx_hold"));

        /* Both delivered from the standby while the transition runs. */
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, early, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_multicast, late, 1, 1), 1);

        assert_int_equal(standby_helper_release(f->helper, 600 * 1000), 0);
        assert_false(standby_helper_dedupes(f->helper));
        assert_false(standby_helper_holds_transmit(f->helper));
        assert_false(standby_has("filter", "standby_rx"));
        assert_false(master_egress_has("standby_tx_hold"));
        assert_true(master_has("filter", "standby_rx_mast"));

        /* The standby hands nothing over any more. */
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, next_tag++, 1, 0), 0);
        /* The VF's late copy of 'early' is dropped; a new frame from the VF passes, and so do
         * its repeats (all of them the VF's now). */
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, early, 1, 0), 0);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, fresh, 2, 2), 2);
        assert_duplicates(f->helper, 0, 1);
        /* A copy the standby's program tagged, still on its way: the mark is cleared, and it is
         * one of the standby's (a stand-in: the VF's peer sends with the mark set). */
        assert_int_equal(setsockopt(f->tx_fd, SOL_SOCKET, SO_MARK, &(int){STANDBY_RX_MARK}, sizeof(int)), 0);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tagged, 1, 1), 1);
        assert_int_equal(setsockopt(f->tx_fd, SOL_SOCKET, SO_MARK, &(int){0}, sizeof(int)), 0);
        assert_int_equal(marked_frames(f), 0);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tagged, 1, 0), 0);
        assert_duplicates(f->helper, 0, 2);

        /* After the linger (within the 2 s window) the VF's copy of 'late' passes. */
        usleep(700 * 1000);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_multicast, late, 1, 1), 1);
        assert_duplicates(f->helper, 0, 2);
        assert_true(master_has("filter", "standby_rx_mast"));

        /* Nothing to linger without the master's program: the caller detaches. */
        f->helper = standby_helper_detach(f->helper);
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(standby_helper_release(f->helper, 0), -ENOTCONN);
        assert_int_equal(standby_helper_set_dedupe(f->helper, false), 0);
        assert_int_equal(standby_helper_release(f->helper, 600 * 1000), -ENOTCONN);
}

/* A 128-byte unicast frame carrying 'tag' where receive_frames() looks, and 'tail' at byte 100:
 * beyond the 64 bytes the broadcast deduplication compares. */
static void send_tail_on(Fixture *f, int ifindex, uint32_t tag, uint32_t tail) {
        uint8_t frame[128] = {};
        struct ethhdr *eth = (struct ethhdr *) frame;
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = ifindex,
                .sll_halen = ETH_ALEN,
        };

        memcpy(eth->h_dest, mac_unicast, ETH_ALEN);
        memcpy(eth->h_source, (uint8_t[]){0x02, 0, 0, 0, 0x5b, 0x99}, ETH_ALEN);
        eth->h_proto = htons(ETH_P_VFO_TEST);
        memcpy(frame + sizeof(*eth), MAGIC, strlen(MAGIC));
        memcpy(frame + sizeof(*eth) + strlen(MAGIC), &tag, sizeof(tag));
        memcpy(frame + 100, &tail, sizeof(tail));
        memcpy(sll.sll_addr, mac_unicast, ETH_ALEN);
        assert_int_equal(sendto(f->tx_fd, frame, sizeof(frame), 0, (struct sockaddr *) &sll, sizeof(sll)),
                         (ssize_t) sizeof(frame));
}

static void assert_replayed(StandbyHelper *h, uint64_t n) {
        StandbyHelperCounters c;

        assert_int_equal(standby_helper_get_counters(h, &c), 0);
        assert_int_equal(c.duplicates_replayed, n);
}

/* A migration's replay window: every frame the master delivered once is dropped when it comes
 * again, unicast too and on the same path; outside the window repeats pass as always. */
static void test_standby_helper_replay_window(void **state) {
        Fixture *f = *state;
        uint32_t uni = next_tag++, bcast = next_tag++, before = next_tag++, tag;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);

        /* Delivered before the window opened: not remembered as the window's. */
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, before, 1, 1), 1);
        assert_int_equal(standby_helper_expect_replay(f->helper, 5000 * 1000), 0);

        /* What the guest took while the source still delivered ... */
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, uni, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, bcast, 1, 1), 1);
        assert_replayed(f->helper, 0);
        /* ... replayed by the destination's tap: dropped, unicast and broadcast, and a third
         * copy (the destination's bridge flooded the broadcast too) as well. */
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, uni, 1, 0), 0);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, bcast, 2, 0), 0);
        assert_replayed(f->helper, 3);
        /* The same through the other path. */
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_unicast, uni, 1, 0), 0);
        assert_replayed(f->helper, 4);
        /* A frame the source never delivered (still in its tap when it paused) passes once. */
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, tag, 2, 0), 1);
        assert_replayed(f->helper, 5);
        assert_int_equal(marked_frames(f), 0);
        /* Frames alike in their first 64 bytes (two IPv6 TCP segments' headers) are two frames;
         * the one seen before is still dropped. */
        tag = next_tag++;
        send_tail_on(f, f->peer_ifindex, tag, 1);
        send_tail_on(f, f->peer_ifindex, tag, 2);
        send_tail_on(f, f->peer_ifindex, tag, 1);
        {
                Received r = receive_frames(f->master_fd, tag, UINT_MAX, 200);

                assert_int_equal(received_total(&r), 2);
        }
        assert_replayed(f->helper, 6);

        /* Asked again, the window ends then; after that repeats of unicast pass again. */
        assert_int_equal(standby_helper_expect_replay(f->helper, 300 * 1000), 0);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, uni, 1, 0), 0);
        assert_replayed(f->helper, 7);
        usleep(350 * 1000);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, uni, 2, 2), 2);
        assert_replayed(f->helper, 7);

        /* 0 closes it at once. */
        assert_int_equal(standby_helper_expect_replay(f->helper, 10ULL * 1000 * 1000), 0);
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, tag, 2, 0), 1);
        assert_int_equal(standby_helper_expect_replay(f->helper, 0), 0);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, tag, 1, 1), 1);
        assert_replayed(f->helper, 8);
}

static void test_standby_helper_dedupe_mark_control(void **state) {
        Fixture *f = *state;

        /* The marked socket does see the tag when nobody clears it: the master's filter taken away
         * behind the helper's back (its detach then leaves the slot alone, as it is not ours). */
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_int_equal(marked_frames(f), 0);
        sh("tc filter del dev " MASTER " ingress");
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, next_tag++, 2, 2), 2);
        assert_int_equal(marked_frames(f), 2);
        /* Unicast is never tagged. */
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_unicast, next_tag++, 1, 1), 1);
        assert_int_equal(marked_frames(f), 0);
}

static void test_standby_helper_no_master_program_no_dedupe(void **state) {
        Fixture *f = *state;
        StandbyHelper *other = NULL;
        uint32_t tag;

        /* Someone else's filter in our slot on the master: the helper works without deduplication
         * (warning) and leaves that filter alone. */
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &other), 0);
        assert_int_equal(standby_helper_remove_stale(f->standby_ifindex), 1);
        assert_int_equal(standby_helper_set_dedupe(other, false), 0);

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_false(standby_helper_dedupes(f->helper));
        assert_false(standby_helper_counts_vf_markers(f->helper));      /* a detach drains for a fixed time */
        assert_int_equal(standby_helper_set_dedupe(f->helper, true), -ENOTCONN);
        assert_int_equal(standby_helper_expect_replay(f->helper, 1000), -ENOTCONN);
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 0), 0);
        assert_int_equal(standby_helper_set_multicast(f->helper, true), 0);
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 1, 1), 1);

        f->helper = standby_helper_detach(f->helper);
        assert_true(master_has("filter", "standby_rx_mast"));
        other = standby_helper_detach(other);
}

/* A bond's rx_handler takes every slave's frames to the bond's ingress. Stand-in here: a later
 * filter on the standby's hook that redirects everything to the master's ingress, which also
 * shows that the tagger lets later filters run. false if the kernel lacks cls_u32 or
 * act_mirred. */
static bool add_bond_stand_in(void) {
        return system("tc filter add dev " STANDBY " ingress pref 2 protocol all u32 match u32 0 0 "
                      "action mirred ingress redirect dev " MASTER " 2>/dev/null") == 0;
}

static void assert_tagged(StandbyHelper *h, uint64_t tagged) {
        StandbyHelperCounters c;

        assert_int_equal(standby_helper_get_counters(h, &c), 0);
        assert_int_equal(c.tagged_multicast, tagged);
}

static void test_standby_helper_tagger_dedupes_bond(void **state) {
        Fixture *f = *state;
        uint32_t tag;

        assert_int_equal(standby_helper_attach_tagger(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_true(standby_helper_dedupes(f->helper));
        assert_true(standby_has("filter", "standby_rx_tag"));
        assert_true(master_has("filter", "standby_rx_mast"));
        if (!add_bond_stand_in())
                skip();

        /* The synthetic slave's copies marked, the VF's not: the same rule as net_failover's. */
        assert_first_copy_wins(f);

        /* Nothing redirected by the tagger itself, every standby broadcast/multicast tagged, and
         * no mark got past the bond's program. */
        assert_counters(f->helper, 0, 0, 0);
        assert_tagged(f->helper, 5);
        assert_int_equal(marked_frames(f), 0);

        /* Detached: both filters gone, the stand-in stays (not ours), and nothing is dropped. */
        f->helper = standby_helper_detach(f->helper);
        assert_false(standby_has("filter", "standby_rx_tag"));
        assert_false(master_has("filter", "standby_rx_mast"));
        assert_true(standby_has("filter", "mirred"));
        tag = next_tag++;
        assert_int_equal(send_on_and_count(f, f->peer_ifindex, mac_broadcast, tag, 1, 1), 1);
        assert_int_equal(send_on_and_count(f, f->master_peer_ifindex, mac_broadcast, tag, 1, 1), 1);
}

static void test_standby_helper_tagger_passes_frames_on(void **state) {
        Fixture *f = *state;
        _cleanup_close_ int standby_marked = -EBADF, standby_rx = -EBADF;
        Received r;
        uint32_t tag;

        /* Alone on the hook, the tagger lets every frame go on into the slave (in a bond, to
         * the bond's rx_handler): broadcast tagged, unicast not. */
        assert_int_equal(standby_helper_attach_tagger(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        standby_marked = marked_socket(f->standby_ifindex, STANDBY_RX_MARK);
        standby_rx = packet_socket(f->standby_ifindex, ETH_P_VFO_TEST);

        tag = next_tag++;
        send_frames(f, mac_broadcast, tag, 2);
        r = receive_frames(standby_rx, tag, 2, 2000);
        assert_int_equal(r.broadcast, 2);
        r = receive_frames(standby_marked, tag, 2, 2000);
        assert_int_equal(r.broadcast, 2);

        tag = next_tag++;
        send_frames(f, mac_unicast, tag, 1);
        r = receive_frames(standby_rx, tag, 1, 2000);
        assert_int_equal(r.host, 1);
        r = receive_frames(standby_marked, tag, UINT_MAX, 200);
        assert_int_equal(received_total(&r), 0);

        /* The master never saw them: the tagger redirects nothing. */
        assert_counters(f->helper, 0, 0, 0);
        assert_tagged(f->helper, 2);
}

/* The transmit hold: what the master sends leaves through the standby while held, through the
 * master's own link otherwise (MASTER_PEER stands for the VF, PEER for the host behind the
 * standby); the egress filter goes with the helper. */
static void test_standby_helper_hold_transmit(void **state) {
        Fixture *f = *state;
        int peer_fd = packet_socket(f->peer_ifindex, ETH_P_VFO_TEST);
        int vf_fd = packet_socket(f->master_peer_ifindex, ETH_P_VFO_TEST);
        StandbyHelperCounters c;
        Received r;
        uint32_t tag;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_false(standby_helper_holds_transmit(f->helper));

        tag = next_tag++;
        send_frames_on(f, f->master_ifindex, mac_unicast, tag, 3);
        r = receive_frames(vf_fd, tag, 3, 2000);
        assert_int_equal(received_total(&r), 3);
        r = receive_frames(peer_fd, tag, UINT_MAX, 200);
        assert_int_equal(received_total(&r), 0);

        assert_int_equal(standby_helper_hold_transmit(f->helper, true), 0);
        assert_true(standby_helper_holds_transmit(f->helper));
        assert_true(master_egress_has("standby_tx_hold"));
        tag = next_tag++;
        send_frames_on(f, f->master_ifindex, mac_unicast, tag, 4);
        r = receive_frames(peer_fd, tag, 4, 2000);
        assert_int_equal(received_total(&r), 4);
        r = receive_frames(vf_fd, tag, UINT_MAX, 200);
        assert_int_equal(received_total(&r), 0);
        assert_int_equal(standby_helper_get_counters(f->helper, &c), 0);
        assert_int_equal(c.held_tx, 4);

        assert_int_equal(standby_helper_hold_transmit(f->helper, false), 0);
        tag = next_tag++;
        send_frames_on(f, f->master_ifindex, mac_unicast, tag, 2);
        r = receive_frames(vf_fd, tag, 2, 2000);
        assert_int_equal(received_total(&r), 2);
        r = receive_frames(peer_fd, tag, UINT_MAX, 200);
        assert_int_equal(received_total(&r), 0);

        /* Held when the helper goes: the filter goes with it, transmit is the kernel's again. */
        assert_int_equal(standby_helper_hold_transmit(f->helper, true), 0);
        f->helper = standby_helper_detach(f->helper);
        assert_false(master_egress_has("bpf"));
        tag = next_tag++;
        send_frames_on(f, f->master_ifindex, mac_unicast, tag, 2);
        r = receive_frames(vf_fd, tag, 2, 2000);
        assert_int_equal(received_total(&r), 2);

        (void) close(peer_fd);
        (void) close(vf_fd);
}

/* Sends the host's drain marker to the shared MAC into 'ifindex' (PEER: the
 * synthetic path; MASTER_PEER: the VF's). */
static void send_marker_on(Fixture *f, int ifindex) {
        uint8_t frame[ETH_ZLEN] = {};
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                .sll_ifindex = ifindex,
                .sll_halen = ETH_ALEN,
        };

        memcpy(frame, mac_unicast, ETH_ALEN);
        frame[6] = 0x02;
        frame[12] = STANDBY_RX_MARKER_ETHERTYPE >> 8;
        frame[13] = STANDBY_RX_MARKER_ETHERTYPE & 0xff;
        memcpy(frame + ETH_HLEN, STANDBY_RX_MARKER_MAGIC, strlen(STANDBY_RX_MARKER_MAGIC));
        memcpy(sll.sll_addr, mac_unicast, ETH_ALEN);
        assert_int_equal(sendto(f->tx_fd, frame, sizeof(frame), 0, (struct sockaddr *) &sll, sizeof(sll)),
                         (ssize_t) sizeof(frame));
}

/* The helper's counters once 'field' is non-zero, or after 2 s. */
static StandbyHelperCounters counters_once(StandbyHelper *h, size_t field) {
        StandbyHelperCounters c = {};

        for (int i = 0; i < 200; i++) {
                assert_int_equal(standby_helper_get_counters(h, &c), 0);
                if (*(const uint64_t *) ((const uint8_t *) &c + field) != 0)
                        break;
                (void) poll(NULL, 0, 10);
        }
        return c;
}

/* Drain markers that reach 'fd' within 'timeout_msec'. */
static unsigned markers_at(int fd, unsigned timeout_msec) {
        uint64_t deadline = now_msec() + timeout_msec;
        unsigned n = 0;

        for (uint64_t now = now_msec(); now < deadline; now = now_msec()) {
                uint8_t frame[128];
                ssize_t len = recv(fd, frame, sizeof(frame), 0);

                if (len < 0) {
                        assert_int_equal(errno, EAGAIN);
                        (void) poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, (int) (deadline - now));
                        continue;
                }
                if ((size_t) len >= ETH_HLEN + strlen(STANDBY_RX_MARKER_MAGIC) &&
                    memcmp(frame + ETH_HLEN, STANDBY_RX_MARKER_MAGIC, strlen(STANDBY_RX_MARKER_MAGIC)) == 0)
                        n++;
        }
        return n;
}

/* The host's drain marker is counted and goes no further; our other frames of
 * the same EtherType are not markers. */
static void test_standby_helper_drain_marker(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters c;
        Received r;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        r = send_and_observe(f, mac_unicast, 3, 3);
        assert_int_equal(r.host, 3);
        assert_int_equal(standby_helper_get_counters(f->helper, &c), 0);
        assert_int_equal(c.markers, 0);

        send_marker_on(f, f->peer_ifindex);
        c = counters_once(f->helper, offsetof(StandbyHelperCounters, markers));
        assert_int_equal(c.markers, 1);
        assert_int_equal(c.markers_vf, 0);
        assert_int_equal(c.redirected_unicast, 3);      /* not handed over */
        assert_int_equal(markers_at(f->master_fd, 200), 0);
}

/* A detach's marker comes through the VF: the master's program counts it apart
 * from the standby's and drops it. */
static void test_standby_helper_drain_marker_vf(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters c;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        assert_true(standby_helper_counts_vf_markers(f->helper));
        send_marker_on(f, f->master_peer_ifindex);
        c = counters_once(f->helper, offsetof(StandbyHelperCounters, markers_vf));
        assert_int_equal(c.markers_vf, 1);
        assert_int_equal(c.markers, 0);
        assert_int_equal(markers_at(f->master_fd, 200), 0);
        /* Without a helper the marker goes on to the master's stack. */
        f->helper = standby_helper_detach(f->helper);
        send_marker_on(f, f->master_peer_ifindex);
        assert_int_equal(markers_at(f->master_fd, 2000), 1);
}

/* A bond's tagger counts and drops the standby's marker too (the bond's
 * rx_handler would deliver it to the bond). */
static void test_standby_helper_tagger_drain_marker(void **state) {
        Fixture *f = *state;
        StandbyHelperCounters c;

        assert_int_equal(standby_helper_attach_tagger(f->standby_ifindex, f->master_ifindex, &f->helper), 0);
        send_marker_on(f, f->peer_ifindex);
        c = counters_once(f->helper, offsetof(StandbyHelperCounters, markers));
        assert_int_equal(c.markers, 1);
        assert_int_equal(c.markers_vf, 0);
        send_marker_on(f, f->master_peer_ifindex);
        c = counters_once(f->helper, offsetof(StandbyHelperCounters, markers_vf));
        assert_int_equal(c.markers_vf, 1);
        assert_int_equal(markers_at(f->master_fd, 200), 0);
}

/* A dead agent's hold is removed at start-up like its other filters. */
static void test_standby_helper_stale_hold_is_removed(void **state) {
        Fixture *f = *state;
        StandbyHelper *h;

        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &h), 0);
        assert_int_equal(standby_helper_hold_transmit(h, true), 0);
        /* What an agent killed while holding leaves on the master: both of its filters go. */
        assert_int_equal(standby_helper_remove_stale(f->master_ifindex), 1);
        assert_false(master_egress_has("bpf"));
        assert_false(master_has("filter", "bpf"));
        h = standby_helper_detach(h);
}

static void test_standby_helper_tagger_needs_the_bond_program(void **state) {
        Fixture *f = *state;
        StandbyHelper *other = NULL;

        /* Someone else's filter in our slot on the bond: tagging alone would be of no use, so
         * the attach fails and leaves nothing on the slave. */
        assert_int_equal(standby_helper_attach(f->standby_ifindex, f->master_ifindex, &other), 0);
        assert_int_equal(standby_helper_remove_stale(f->standby_ifindex), 1);

        assert_int_equal(standby_helper_attach_tagger(f->standby_ifindex, f->master_ifindex, &f->helper),
                         -EEXIST);
        assert_null(f->helper);
        assert_false(standby_has("filter", "standby_rx"));
        assert_true(master_has("filter", "standby_rx_mast"));
        other = standby_helper_detach(other);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_standby_helper_unicast_reaches_master, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_replay_window, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_hold_transmit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_drain_marker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_drain_marker_vf, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_tagger_drain_marker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_stale_hold_is_removed, setup, teardown),
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
                cmocka_unit_test_setup_teardown(test_standby_helper_dedupe_first_copy_wins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_dedupe_ignores_l4_checksum, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_dedupe_off_is_the_flag, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_dedupe_mark_control, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_release_lingers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_no_master_program_no_dedupe, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_tagger_dedupes_bond, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_tagger_passes_frames_on, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standby_helper_tagger_needs_the_bond_program, setup,
                                                teardown),
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
        /* the probe's; tests start bare */
        (void) system("tc qdisc del dev " STANDBY " clsact; tc qdisc del dev " MASTER " clsact");

        return cmocka_run_group_tests(tests, NULL, NULL);
}
