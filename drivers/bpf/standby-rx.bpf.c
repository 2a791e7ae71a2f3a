/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Standby RX handover (tc ingress on net_failover's standby): frames that net_failover would drop
 * on the standby while a primary is registered are handed to the master's ingress instead. */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "drivers/bpf/standby-rx.h"

/* Set by the loader before load (skeleton .rodata); 0 = not configured, pass everything. */
const volatile __u32 master_ifindex = 0;

/* Set by the agent while the VF cannot receive broadcast/multicast (.bss, mmapped by the
 * skeleton). While it is 0 the VF delivers them itself, and handing them over as well would
 * deliver them twice (LAB.md: +19 duplicates of 20 broadcast pings with a plain mirred). */
volatile __u32 handover_multicast = 0;

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct standby_rx_counters);
} standby_rx_stats SEC(".maps");

static __always_inline struct standby_rx_counters *standby_rx_get_counters(void) {
        __u32 key = 0;

        return bpf_map_lookup_elem(&standby_rx_stats, &key);
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

        /* I/G bit of the destination: broadcast and multicast. */
        if (eth->h_dest[0] & 1) {
                if (!handover_multicast)
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

/* The kernel knows no "LGPL" string; LGPL-2.1 section 3 lets this object be used under the GPL,
 * and uses no GPL-only helper anyway. */
char LICENSE[] SEC("license") = "GPL";
