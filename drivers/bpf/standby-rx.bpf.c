/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Standby RX handover (tc ingress on net_failover's standby): frames that net_failover would drop
 * on the standby while a primary is registered are handed to the master's ingress instead.
 *
 * Unicast is steered by the host to one path and never arrives twice. Broadcast and multicast
 * reach both the VF and the standby. With 'dedupe' set, the standby hands all of them over,
 * tagged with STANDBY_RX_MARK in skb->mark, and a second program on the MASTER's tc ingress
 * (standby_rx_master) sees both copies: every VF frame passes net_failover's rx_handler (which is
 * registered before the VF is opened) and comes back to the master's ingress, and our redirect
 * lands there too, its mark intact (same netns). The copy that arrives second, from the other
 * path, within STANDBY_RX_DEDUPE_WINDOW_NS of the first, is dropped.
 *
 * A bond needs no redirect (all_slaves_active makes it deliver from both slaves during a
 * transition, and every slave's frames come back to the bond's ingress the same way): there
 * standby_rx_tag only marks the synthetic slave's broadcast/multicast, and standby_rx_master
 * deduplicates on the bond. */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "drivers/bpf/standby-rx.h"

/* Set by the loader before load (skeleton .rodata); 0 = not configured, pass everything. */
const volatile __u32 master_ifindex = 0;

/* The standby's ifindex, for standby_tx_hold (.rodata, like master_ifindex); 0 = not configured. */
const volatile __u32 standby_ifindex = 0;

/* Set by the agent while a VF is being attached and the host still steers to the standby
 * (.bss): standby_tx_hold, on the master's tc egress, sends what the master transmits out of
 * the standby, whatever net_failover would choose. */
volatile __u32 hold_tx = 0;

/* Set by the agent while the VF cannot receive broadcast/multicast (.bss, mmapped by the
 * skeleton). While it is 0 the VF delivers them itself, and handing them over as well would
 * deliver them twice (measured in the lab: +19 duplicates of 20 broadcast pings with a plain mirred).
 * Ignored while 'dedupe' is set. */
volatile __u32 handover_multicast = 0;

/* Set by the loader once standby_rx_master is on the master's ingress (.bss): the standby hands
 * over all broadcast/multicast, tagged, and the master's program drops second copies. 0: the
 * standby follows handover_multicast and tags nothing, the master's program touches nothing. */
volatile __u32 dedupe = 0;

/* Set by the loader when a transition ends with the master receiving from the VF
 * (standby_helper_release(), .bss): until bpf_ktime_get_ns() reaches it, standby_rx_master goes
 * on deduplicating as if 'dedupe' were set, while nothing tags any more. A broadcast whose
 * standby copy was delivered in the transition's last moments may reach the master through the
 * VF after the standby's program is gone (the VF delivers late in bursts), and a copy the
 * standby's program redirected may still wait in the backlog; without this both would be
 * delivered. 0: not lingering. */
volatile __u64 dedupe_until = 0;

/* Set by the loader for a migration's handover (standby_helper_expect_replay(), .bss): until
 * bpf_ktime_get_ns() reaches it, standby_rx_master drops every frame, unicast or not, that it
 * delivered once already within STANDBY_RX_DEDUPE_WINDOW_NS, whichever path each copy came in
 * on. The source host goes on delivering to the guest while it copies every frame into the
 * destination's tap, where the copies wait until the guest runs there; the digests of what the
 * guest took here are in this map, in guest memory, and migrate with it. The guest's clock stands
 * still while it is paused, so the window counts only the time it runs. 0: no window. */
volatile __u64 replay_until = 0;

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct standby_rx_counters);
} standby_rx_stats SEC(".maps");

/* Broadcast/multicast frames delivered recently, by digest. */
struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, STANDBY_RX_DEDUPE_ENTRIES);
        __type(key, __u64);
        __type(value, struct standby_rx_seen);
} standby_rx_seen SEC(".maps");

#define FNV1A_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FNV1A_PRIME        0x100000001b3ULL

/* The digest covers the first DIGEST_LONG bytes of frames at least that long, the first
 * DIGEST_SHORT of the others, and never the length: the same frame may be padded to the 60-byte
 * Ethernet minimum on one path and not on the other (e1000e pads, virtio-net does not), so a
 * 42-byte ARP is 42 bytes on the standby and 60 on the VF. Padding never takes a frame to 64
 * bytes, so both copies of a frame choose the same window; and 32 bytes are within every frame
 * the padding applies to (below 32 nothing is deduplicated: no IPv4, IPv6 or ARP frame is that
 * short). At the master's ingress skb->data is at the Ethernet header again for both paths
 * (tc ingress programs see the MAC header). */
#define DIGEST_LONG  64
#define DIGEST_SHORT 32
#define REPLAY_DIGEST_MAX 128

/* FNV-1a over 64-bit words, each product folded back (the multiplication carries low bits up,
 * never high bits down): an eighth of a byte loop's instructions, for the verifier of a slow
 * guest, whose time a transition and a migration wait for. */
static __always_inline __u64 fnv1a_words(const __u64 *w, const int n) {
        __u64 h = FNV1A_OFFSET_BASIS;

#pragma clang loop unroll(full)
        for (int i = 0; i < n; i++) {
                h ^= w[i];
                h *= FNV1A_PRIME;
                h ^= h >> 32;
        }
        return h;
}

/* The L4 checksum is left out of the digest (zeroed in 'p', of which the
 * first 'n' bytes are the frame's): the two paths may not carry the same
 * value. A virtio-net guest gets a frame whose checksum the host left to be
 * completed (VIRTIO_NET_HDR_F_NEEDS_CSUM: the field holds only the
 * pseudo-header sum), an emulated or real NIC the completed one, and a copy
 * that went through a tunnel the completed one too. Handled: IPv4 without
 * options and IPv6 without extension headers, UDP, TCP, ICMP and ICMPv6
 * (constant offsets, for the verifier). */
static __always_inline void clear_l4_csum(__u8 *p, const int n) {
        __u16 type = (__u16) (p[12] << 8 | p[13]);
        int off = -1;

        if (type == 0x0800 && p[14] == 0x45) {          /* IPv4, 20-byte header */
                if (p[23] == 17)
                        off = 40;                       /* UDP */
                else if (p[23] == 6)
                        off = 50;                       /* TCP */
                else if (p[23] == 1)
                        off = 36;                       /* ICMP */
        } else if (type == 0x86dd) {
                if (p[20] == 17)
                        off = 60;                       /* UDP */
                else if (p[20] == 58)
                        off = 56;                       /* ICMPv6 */
                else if (p[20] == 6)
                        off = 70;                       /* TCP */
        }
        if (off == 36 && n >= 38) {
                p[36] = 0;
                p[37] = 0;
        } else if (off == 40 && n >= 42) {
                p[40] = 0;
                p[41] = 0;
        } else if (off == 50 && n >= 52) {
                p[50] = 0;
                p[51] = 0;
        } else if (off == 56 && n >= 58) {
                p[56] = 0;
                p[57] = 0;
        } else if (off == 60 && n >= 62) {
                p[60] = 0;
                p[61] = 0;
        } else if (off == 70 && n >= 72) {
                p[70] = 0;
                p[71] = 0;
        }
}

/* The first 'n' bytes (a constant, a multiple of 8) into 'buf', hashed into *h: 1, or 0 if
 * unreadable. */
static __always_inline int digest_words(struct __sk_buff *skb, __u64 *buf, const int n, __u64 *h) {
        if (bpf_skb_load_bytes(skb, 0, buf, n) < 0)
                return 0;
        clear_l4_csum((__u8 *) buf, n);
        *h = fnv1a_words(buf, n / 8);
        return 1;
}

/* 1: the digest is known; 0: the frame is too short (or unreadable) to deduplicate. */
static __always_inline int frame_digest(struct __sk_buff *skb, __u64 *ret) {
        __u64 buf[DIGEST_LONG / 8];

        if (skb->len >= DIGEST_LONG)
                return digest_words(skb, buf, DIGEST_LONG, ret);
        if (skb->len >= DIGEST_SHORT)
                return digest_words(skb, buf, DIGEST_SHORT, ret);
        return 0;
}

/* The replay window's digest (replayed()): both copies of a frame came through the same kind of
 * path (the source's tap, and the destination's through a tunnel), so the length counts and no
 * padding differs; but 64 bytes do not tell an IPv6 TCP segment's acknowledgement number or an
 * IPv6 UDP datagram's payload apart, and every frame is compared, unicast too. So: the first
 * 128 bytes, or 96, 64, 48 or 32 of shorter frames (48 hold an IPv4 TCP header without options),
 * and the length. */
static __always_inline int replay_digest(struct __sk_buff *skb, __u64 *ret) {
        __u64 buf[REPLAY_DIGEST_MAX / 8];
        __u32 len = skb->len;
        __u64 h = 0;
        int ok;

        if (len >= 128)
                ok = digest_words(skb, buf, 128, &h);
        else if (len >= 96)
                ok = digest_words(skb, buf, 96, &h);
        else if (len >= 64)
                ok = digest_words(skb, buf, 64, &h);
        else if (len >= 48)
                ok = digest_words(skb, buf, 48, &h);
        else if (len >= 32)
                ok = digest_words(skb, buf, 32, &h);
        else
                ok = 0;
        if (!ok)
                return 0;
        h ^= len;
        h *= FNV1A_PRIME;
        *ret = h;
        return 1;
}

static __always_inline int within_window(__u64 now, __u64 stamp) {
        __s64 d = (__s64) (now - (stamp & ~1ULL));

        /* Another CPU may have stamped it a little after our bpf_ktime_get_ns(). */
        if (d < 0)
                d = -d;
        return d < (__s64) STANDBY_RX_DEDUPE_WINDOW_NS;
}

/* One attempt to claim an existing entry for 'fresh' (this path, now): DROP if the other path
 * delivered the frame within the window, DELIVER once the entry is ours, or AGAIN with *old
 * updated when another CPU changed the entry in between. */
enum { DELIVER, DROP, AGAIN };

static __always_inline int claim(struct standby_rx_seen *seen, __u64 *old, __u64 fresh, __u64 now) {
        __u64 prev;

        if ((*old & 1) != (fresh & 1) && within_window(now, *old))
                return DROP;
        prev = __sync_val_compare_and_swap(&seen->stamp, *old, fresh);
        if (prev == *old)
                return DELIVER;
        *old = prev;
        return AGAIN;
}

/* First copy wins: 1 if the other path delivered this frame within the window (drop it);
 * otherwise records it as delivered on 'path' now and returns 0. Same-path repeats are always
 * delivered. When in doubt (too short, map trouble, contention), deliver. */
static __always_inline int duplicate(struct __sk_buff *skb, __u64 path) {
        struct standby_rx_seen fresh, *seen;
        __u64 key, now, old;
        int r;

        if (!frame_digest(skb, &key))
                return 0;

        now = bpf_ktime_get_ns();
        fresh.stamp = (now & ~1ULL) | path;

        /* Not seen lately: first copy. NOEXIST makes exactly one of two racing CPUs insert. */
        if (bpf_map_update_elem(&standby_rx_seen, &key, &fresh, BPF_NOEXIST) == 0)
                return 0;
        seen = bpf_map_lookup_elem(&standby_rx_seen, &key);
        if (!seen) { /* evicted in between */
                (void) bpf_map_update_elem(&standby_rx_seen, &key, &fresh, BPF_ANY);
                return 0;
        }

        /* Both copies of a frame race for the entry at most once each; a third attempt is
         * contention by same-path repeats, and delivering is the safe side. Written out, not
         * a loop: clang does not unroll one with these exits. */
        old = *(volatile __u64 *) &seen->stamp;
        r = claim(seen, &old, fresh.stamp, now);
        if (r == AGAIN)
                r = claim(seen, &old, fresh.stamp, now);
        if (r == AGAIN)
                r = claim(seen, &old, fresh.stamp, now);
        return r == DROP;
}

/* In a replay window: 1 if this frame was delivered within the window before, by either path
 * (drop it; its stamp stays that of the first copy); otherwise it is recorded as delivered now
 * and 0. A copy replayed by the destination comes after the source's own at least by the time
 * the guest still ran here, and never before it. */
static __always_inline int replayed(struct __sk_buff *skb, __u64 now) {
        struct standby_rx_seen fresh, *seen;
        __u64 key;

        if (!replay_digest(skb, &key))
                return 0;
        fresh.stamp = (now & ~1ULL) | STANDBY_RX_PATH_STANDBY;
        if (bpf_map_update_elem(&standby_rx_seen, &key, &fresh, BPF_NOEXIST) == 0)
                return 0;
        seen = bpf_map_lookup_elem(&standby_rx_seen, &key);
        if (seen && within_window(now, *(volatile __u64 *) &seen->stamp))
                return 1;
        (void) bpf_map_update_elem(&standby_rx_seen, &key, &fresh, BPF_ANY);
        return 0;
}

static __always_inline struct standby_rx_counters *standby_rx_get_counters(void) {
        __u32 key = 0;

        return bpf_map_lookup_elem(&standby_rx_stats, &key);
}

/* The host's drain marker (standby-rx.h): its EtherType and the first bytes of its payload. */
static __always_inline int is_drain_marker(struct __sk_buff *skb, const struct ethhdr *eth) {
        static const char want[] = STANDBY_RX_MARKER_MAGIC;
        char magic[sizeof(want) - 1];
        int same = 1;

        if (eth->h_proto != bpf_htons(STANDBY_RX_MARKER_ETHERTYPE) ||
            bpf_skb_load_bytes(skb, sizeof(*eth), magic, sizeof(magic)) != 0)
                return 0;
#pragma clang loop unroll(full)
        for (int i = 0; i < (int) sizeof(magic); i++)
                same &= magic[i] == want[i];
        return same;
}

SEC("tc")
int standby_rx(struct __sk_buff *skb) {
        void *data = (void *) (long) skb->data;
        void *data_end = (void *) (long) skb->data_end;
        struct standby_rx_counters *c = standby_rx_get_counters();
        const struct ethhdr *eth = data;
        __u32 ifindex = master_ifindex;

        if (ifindex == 0 || (void *) (eth + 1) > data_end)
                goto pass;

        /* The host's drain marker: counted, and no further. */
        if (is_drain_marker(skb, eth)) {
                if (c)
                        c->markers++;
                return TC_ACT_SHOT;
        }

        /* I/G bit of the destination: broadcast and multicast. */
        if (eth->h_dest[0] & 1) {
                if (dedupe)
                        /* For standby_rx_master: this copy came from the standby. Broadcast and
                         * multicast only, which that program clears again; unicast keeps its
                         * mark of 0 for whatever the guest does with marks. */
                        skb->mark = STANDBY_RX_MARK;
                else if (!handover_multicast)
                        goto pass;
                if (c)
                        c->redirected_multicast++;
        } else if (c)
                c->redirected_unicast++;

        return bpf_redirect(ifindex, BPF_F_INGRESS);

pass:
        if (c)
                c->passed++;
        return TC_ACT_OK;
}

/* On a bond's synthetic slave (tag-only mode, standby_helper_attach_tagger()): the bond's own
 * rx_handler takes every slave's frames to the bond's ingress (all_slaves_active during
 * transitions), so nothing is redirected here; broadcast/multicast are only marked as the
 * standby's for standby_rx_master on the bond. TC_ACT_UNSPEC: whatever else the guest has on this
 * hook still runs, and with nothing else the frame goes on as if unfiltered. */
SEC("tc")
int standby_rx_tag(struct __sk_buff *skb) {
        void *data = (void *) (long) skb->data;
        void *data_end = (void *) (long) skb->data_end;
        const struct ethhdr *eth = data;
        struct standby_rx_counters *c;

        if ((void *) (eth + 1) > data_end)
                return TC_ACT_UNSPEC;
        /* The host's drain marker: counted, and no further (as in standby_rx). */
        if (is_drain_marker(skb, eth)) {
                c = standby_rx_get_counters();
                if (c)
                        c->markers++;
                return TC_ACT_SHOT;
        }
        if (!dedupe || !(eth->h_dest[0] & 1))
                return TC_ACT_UNSPEC;

        skb->mark = STANDBY_RX_MARK;
        c = standby_rx_get_counters();
        if (c)
                c->tagged_multicast++;
        return TC_ACT_UNSPEC;
}

/* On the master's tc ingress: in a replay window ('replay_until') every frame is deduplicated
 * (replayed()). Otherwise unicast, and everything while 'dedupe' is 0 and no linger runs
 * ('dedupe_until'), passes untouched. Broadcast/multicast come from the standby (our tag in
 * skb->mark, cleared here) or else from the VF; a copy whose twin came from the other path
 * within the window is dropped. A drain
 * marker here came from the VF (the standby's programs drop the standby's): counted, dropped. */
SEC("tc")
int standby_rx_master(struct __sk_buff *skb) {
        void *data = (void *) (long) skb->data;
        void *data_end = (void *) (long) skb->data_end;
        const struct ethhdr *eth = data;
        struct standby_rx_counters *c;
        __u64 path = STANDBY_RX_PATH_VF;

        if ((void *) (eth + 1) > data_end)
                return TC_ACT_OK;
        if (is_drain_marker(skb, eth)) {
                c = standby_rx_get_counters();
                if (c)
                        c->markers_vf++;
                return TC_ACT_SHOT;
        }
        if (replay_until != 0) {
                __u64 until = replay_until, now = bpf_ktime_get_ns();

                if (now < until) {
                        if (skb->mark == STANDBY_RX_MARK)
                                skb->mark = 0;
                        if (!replayed(skb, now))
                                return TC_ACT_OK;
                        c = standby_rx_get_counters();
                        if (c)
                                c->duplicates_replayed++;
                        return TC_ACT_SHOT;
                }
        }
        if (!(eth->h_dest[0] & 1))
                return TC_ACT_OK;
        if (!dedupe) {
                __u64 until = dedupe_until;

                if (until == 0 || bpf_ktime_get_ns() >= until)
                        return TC_ACT_OK;
        }

        if (skb->mark == STANDBY_RX_MARK) {
                skb->mark = 0;
                path = STANDBY_RX_PATH_STANDBY;
        }
        if (!duplicate(skb, path))
                return TC_ACT_OK;

        c = standby_rx_get_counters();
        if (c) {
                if (path == STANDBY_RX_PATH_STANDBY)
                        c->duplicates_standby++;
                else
                        c->duplicates_vf++;
        }
        return TC_ACT_SHOT;
}

/* On the master's tc egress (net_failover only), while the agent attaches a VF: net_failover
 * moves transmit to the VF the moment the VF has carrier, but the VF's queue discipline is
 * activated later, by the kernel's link watch work (dev_activate()), and until then every frame
 * sent to the VF goes to noop_qdisc, which drops it without counting it on any device: measured
 * in the lab as 1-4 echo replies lost at the carrier-on of an attach, under load, in ~1 attach
 * of 30. With hold_tx set the master's frames leave through the standby, which is where the host
 * still steers; the agent clears it when the host has steered to the VF, long after the VF's
 * operational state (set by the same work) went up. Runs before net_failover's ndo_start_xmit:
 * the tc egress hook of a device comes before its queue discipline and driver. */
SEC("tc")
int standby_tx_hold(struct __sk_buff *skb) {
        struct standby_rx_counters *c;
        __u32 ifindex = standby_ifindex;

        if (!hold_tx || ifindex == 0 || skb->ifindex == ifindex)
                return TC_ACT_OK;
        c = standby_rx_get_counters();
        if (c)
                c->held_tx++;
        return bpf_redirect(ifindex, 0);
}

/* The kernel knows no "LGPL" string; LGPL-2.1 section 3 lets this object be used under the GPL,
 * and uses no GPL-only helper anyway. */
char LICENSE[] SEC("license") = "GPL";
