/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Standby-RX helper: loads drivers/bpf/standby-rx.bpf.c (embedded skeleton) with libbpf and
 * attaches it to the standby's tc ingress; see standby-helper.h. */

#include <assert.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "drivers/bpf/standby-rx.h"
#include "drivers/bpf/standby-rx.skel.h"
#include "drivers/standby-helper.h"
#include "lib/log.h"
#include "lib/macro.h"

/* Where our filter sits on the standby's ingress. Priority 1 runs it before other cls_bpf
 * filters; the handle makes it ours to find, query and remove. */
#define STANDBY_HELPER_TC_HANDLE   0xfa11U
#define STANDBY_HELPER_TC_PRIORITY 1U

struct StandbyHelper {
        int standby_ifindex;
        int master_ifindex;
        struct standby_rx_bpf *skel;
        uint32_t prog_id;   /* the program our filter runs, 0 until attached */
};

static int standby_helper_link_exists(int ifindex) {
        char name[IF_NAMESIZE];

        if (!if_indextoname((unsigned) ifindex, name))
                return errno == ENXIO || errno == ENODEV ? -ENODEV : -errno;
        return 0;
}

StandbyHelper *standby_helper_detach(StandbyHelper *h) {
        if (!h)
                return NULL;

        if (h->prog_id != 0) {
                DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->standby_ifindex,
                                    .attach_point = BPF_TC_INGRESS);
                DECLARE_LIBBPF_OPTS(bpf_tc_opts, query, .handle = STANDBY_HELPER_TC_HANDLE,
                                    .priority = STANDBY_HELPER_TC_PRIORITY);
                DECLARE_LIBBPF_OPTS(bpf_tc_opts, del, .handle = STANDBY_HELPER_TC_HANDLE,
                                    .priority = STANDBY_HELPER_TC_PRIORITY);

                /* Someone may have replaced the filter in our slot since: leave theirs alone. Gone
                 * (the standby went away, or the qdisc was deleted) is fine too. */
                if (bpf_tc_query(&hook, &query) == 0 && query.prog_id == h->prog_id)
                        (void) bpf_tc_detach(&hook, &del);
        }

        /* The clsact qdisc stays: deleting it on a live standby lost frames in
         * the 6.1 guest (lab, agent-switch: 1 frame in 3 of 4 detaches with
         * the delete, 0 in 4 without), and an empty clsact costs next to
         * nothing. */
        standby_rx_bpf__destroy(h->skel);
        return mfree(h);
}

int standby_helper_install_hook(int standby_ifindex) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = standby_ifindex, .attach_point = BPF_TC_INGRESS);
        int r;

        if (standby_ifindex <= 0)
                return -EINVAL;

        r = bpf_tc_hook_create(&hook);
        if (r == -EEXIST)
                return 0;
        return r < 0 ? r : 1;
}

/* libbpf prints to stderr by default ("Exclusivity flag on" for every
 * existing clsact): its words are details of our errors, so debug only. */
static int standby_helper_libbpf_print(enum libbpf_print_level level, const char *format, va_list ap) {
        if (log_get_max_level() >= LOG_DEBUG)
                (void) log_internalv(LOG_DEBUG, 0, __FILE__, __LINE__, __func__, NULL, format, ap);
        return 0;
}

int standby_helper_attach(int standby_ifindex, int master_ifindex, StandbyHelper **ret) {
        _cleanup_(standby_helper_detachp) StandbyHelper *h = NULL;
        static bool print_set = false;
        int r;

        assert(ret);

        if (!print_set) {
                (void) libbpf_set_print(standby_helper_libbpf_print);
                print_set = true;
        }

        /* Redirecting into the standby's own ingress would loop through this program forever. */
        if (standby_ifindex <= 0 || master_ifindex <= 0 || standby_ifindex == master_ifindex)
                return -EINVAL;

        r = standby_helper_link_exists(standby_ifindex);
        if (r < 0)
                return r;
        r = standby_helper_link_exists(master_ifindex);
        if (r < 0)
                return r;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->standby_ifindex = standby_ifindex;
        h->master_ifindex = master_ifindex;

        h->skel = standby_rx_bpf__open();
        if (!h->skel)
                return -errno;

        /* .rodata is frozen at load: the verifier sees a constant, not a compile-time guess. */
        h->skel->rodata->master_ifindex = (uint32_t) master_ifindex;

        r = standby_rx_bpf__load(h->skel);
        if (r < 0)
                return r;

        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = standby_ifindex, .attach_point = BPF_TC_INGRESS);
        r = standby_helper_install_hook(standby_ifindex);
        if (r < 0)
                return r;

        /* No BPF_TC_F_REPLACE: a filter already in our slot means a second helper on this standby
         * (or a dead agent's); replacing it would let two owners detach each other's filter. */
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(h->skel->progs.standby_rx),
                            .handle = STANDBY_HELPER_TC_HANDLE, .priority = STANDBY_HELPER_TC_PRIORITY);
        r = bpf_tc_attach(&hook, &opts);
        if (r < 0)
                return r;
        h->prog_id = opts.prog_id;

        *ret = TAKE_PTR(h);
        return 0;
}

int standby_helper_remove_stale(int standby_ifindex) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = standby_ifindex, .attach_point = BPF_TC_INGRESS);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, query, .handle = STANDBY_HELPER_TC_HANDLE,
                            .priority = STANDBY_HELPER_TC_PRIORITY);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, del, .handle = STANDBY_HELPER_TC_HANDLE,
                            .priority = STANDBY_HELPER_TC_PRIORITY);
        int r;

        if (standby_ifindex <= 0)
                return -EINVAL;

        r = bpf_tc_query(&hook, &query);
        if (r == -ENOENT || r == -EINVAL)
                return 0;               /* no filter in our slot (or no clsact at all) */
        if (r < 0)
                return r;

        r = bpf_tc_detach(&hook, &del);
        return r < 0 ? r : 1;
}

int standby_helper_set_multicast(StandbyHelper *h, bool on) {
        struct standby_rx_bpf__bss bss = {.handover_multicast = on};
        uint32_t key = 0;

        assert(h);

        /* .bss is mmapped on every kernel that has BPF_F_MMAPABLE (5.5+); the syscall is the
         * fallback libbpf leaves us when it is not. */
        if (h->skel->bss) {
                __atomic_store_n(&h->skel->bss->handover_multicast, (uint32_t) on, __ATOMIC_SEQ_CST);
                return 0;
        }

        return bpf_map__update_elem(h->skel->maps.bss, &key, sizeof(key), &bss, sizeof(bss), BPF_ANY);
}

int standby_helper_get_counters(StandbyHelper *h, StandbyHelperCounters *ret) {
        _cleanup_free_ struct standby_rx_counters *percpu = NULL;
        StandbyHelperCounters sum = {};
        uint32_t key = 0;
        int n, r;

        assert(h);
        assert(ret);

        n = libbpf_num_possible_cpus();
        if (n < 0)
                return n;

        percpu = calloc((size_t) n, sizeof(*percpu));
        if (!percpu)
                return -ENOMEM;

        r = bpf_map__lookup_elem(h->skel->maps.standby_rx_stats, &key, sizeof(key), percpu,
                                 (size_t) n * sizeof(*percpu), 0);
        if (r < 0)
                return r;

        for (int i = 0; i < n; i++) {
                sum.redirected_unicast += percpu[i].redirected_unicast;
                sum.redirected_multicast += percpu[i].redirected_multicast;
                sum.passed += percpu[i].passed;
        }

        *ret = sum;
        return 0;
}
