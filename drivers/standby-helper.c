/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Standby-RX helper: loads drivers/bpf/standby-rx.bpf.c (embedded skeleton) with libbpf and
 * attaches it to the standby's tc ingress; see standby-helper.h. */

#include <assert.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
        uint32_t master_prog_id; /* the program of our filter on the master, 0 none */
        uint32_t tx_prog_id;     /* the program of our filter on the master's egress, 0 none */
        bool handover_multicast; /* our copy of the .bss flags, for the syscall fallback */
        bool dedupe;
        bool hold_tx;
        uint64_t dedupe_until;   /* our copy of .bss dedupe_until (standby_helper_release()) */
        uint64_t replay_until;   /* our copy of .bss replay_until (standby_helper_expect_replay()) */
};

static int standby_helper_link_exists(int ifindex) {
        char name[IF_NAMESIZE];

        if (!if_indextoname((unsigned) ifindex, name))
                return errno == ENXIO || errno == ENODEV ? -ENODEV : -errno;
        return 0;
}

/* Removes our filter from the tc hook 'point' of 'ifindex', only if it still runs 'prog_id' (0: we
 * attached none). Someone may have replaced the filter in our slot since: theirs stays. Gone
 * (the link went away, or the qdisc was deleted) is fine too. */
static void standby_helper_remove_filter(int ifindex, enum bpf_tc_attach_point point, uint32_t prog_id) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, query, .handle = STANDBY_HELPER_TC_HANDLE,
                            .priority = STANDBY_HELPER_TC_PRIORITY);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, del, .handle = STANDBY_HELPER_TC_HANDLE,
                            .priority = STANDBY_HELPER_TC_PRIORITY);

        if (prog_id == 0)
                return;
        if (bpf_tc_query(&hook, &query) == 0 && query.prog_id == prog_id)
                (void) bpf_tc_detach(&hook, &del);
}

StandbyHelper *standby_helper_detach(StandbyHelper *h) {
        if (!h)
                return NULL;

        /* Transmit first goes back to net_failover's choice. Then the standby: once its program
         * is gone net_failover drops the standby's copies again and tags no more of them, so the
         * master's program has nothing left to do. The other way round, tagged frames would
         * reach the master with nobody to clear the mark. */
        standby_helper_remove_filter(h->master_ifindex, BPF_TC_EGRESS, h->tx_prog_id);
        standby_helper_remove_filter(h->standby_ifindex, BPF_TC_INGRESS, h->prog_id);
        standby_helper_remove_filter(h->master_ifindex, BPF_TC_INGRESS, h->master_prog_id);

        /* The clsact qdiscs (the master's too) stay: deleting it on a live standby lost frames in
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

/* Attaches 'prog' to our slot on the tc hook 'point' of 'ifindex', creating the clsact qdisc if
 * there is none. */
static int standby_helper_add_filter(int ifindex, enum bpf_tc_attach_point point, struct bpf_program *prog,
                                     uint32_t *ret_prog_id) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
        int r;

        r = standby_helper_install_hook(ifindex);
        if (r < 0)
                return r;

        /* No BPF_TC_F_REPLACE: a filter already in our slot means a second helper on this link
         * (or a dead agent's); replacing it would let two owners detach each other's filter. */
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(prog),
                            .handle = STANDBY_HELPER_TC_HANDLE, .priority = STANDBY_HELPER_TC_PRIORITY);
        r = bpf_tc_attach(&hook, &opts);
        if (r < 0)
                return r;
        *ret_prog_id = opts.prog_id;
        return 0;
}

/* tag_only: a bond's synthetic slave (standby_helper_attach_tagger()); otherwise net_failover's
 * standby. */
static int standby_helper_attach_full(int standby_ifindex, int master_ifindex, bool tag_only,
                                      StandbyHelper **ret) {
        _cleanup_(standby_helper_detachp) StandbyHelper *h = NULL;
        static bool print_set = false, warned_no_dedupe = false;
        int r, r_master;

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
        h->skel->rodata->standby_ifindex = (uint32_t) standby_ifindex;

        /* Only the standby's program of this mode is loaded: verifying the other one would cost
         * a slow guest CPU time at the start of every transition, for nothing. */
        r = bpf_program__set_autoload(tag_only ? h->skel->progs.standby_rx : h->skel->progs.standby_rx_tag,
                                      false);
        if (r < 0)
                return r;
        if (tag_only) {         /* a bond's active slave is chosen by the agent: nothing to hold */
                r = bpf_program__set_autoload(h->skel->progs.standby_tx_hold, false);
                if (r < 0)
                        return r;
        }

        r = standby_rx_bpf__load(h->skel);
        if (r < 0)
                return r;

        /* The master's program first, so that the standby tags nothing the master does not clear:
         * dedupe goes on only once it is there. Without it the flag decides, as before. */
        r_master = standby_helper_add_filter(master_ifindex, BPF_TC_INGRESS, h->skel->progs.standby_rx_master,
                                             &h->master_prog_id);
        /* Tagging is all a bond's helper does: without the master's program it has no use. */
        if (r_master < 0 && tag_only)
                return r_master;
        if (r_master >= 0) {
                r = standby_helper_set_dedupe(h, true);
                if (r < 0)
                        return r;
        }

        r = standby_helper_add_filter(standby_ifindex, BPF_TC_INGRESS,
                                      tag_only ? h->skel->progs.standby_rx_tag : h->skel->progs.standby_rx,
                                      &h->prog_id);
        if (r < 0)
                return r;

        if (r_master < 0 && !warned_no_dedupe) {
                log_warning_errno(r_master,
                                  "Cannot attach the broadcast deduplication to the failover master "
                                  "(ifindex %d), some broadcast may arrive twice during transitions: %m",
                                  master_ifindex);
                warned_no_dedupe = true;
        }

        *ret = TAKE_PTR(h);
        return 0;
}

int standby_helper_attach(int standby_ifindex, int master_ifindex, StandbyHelper **ret) {
        return standby_helper_attach_full(standby_ifindex, master_ifindex, false, ret);
}

int standby_helper_attach_tagger(int slave_ifindex, int bond_ifindex, StandbyHelper **ret) {
        return standby_helper_attach_full(slave_ifindex, bond_ifindex, true, ret);
}

static int standby_helper_remove_stale_at(int ifindex, enum bpf_tc_attach_point point) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, query, .handle = STANDBY_HELPER_TC_HANDLE,
                            .priority = STANDBY_HELPER_TC_PRIORITY);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, del, .handle = STANDBY_HELPER_TC_HANDLE,
                            .priority = STANDBY_HELPER_TC_PRIORITY);
        int r;

        r = bpf_tc_query(&hook, &query);
        if (r == -ENOENT || r == -EINVAL)
                return 0;               /* no filter in our slot (or no clsact at all) */
        if (r < 0)
                return r;

        r = bpf_tc_detach(&hook, &del);
        return r < 0 ? r : 1;
}

int standby_helper_remove_stale(int ifindex) {
        int r, k;

        if (ifindex <= 0)
                return -EINVAL;

        /* The egress first: a dead agent's transmit hold would keep the master on the standby. */
        k = standby_helper_remove_stale_at(ifindex, BPF_TC_EGRESS);
        r = standby_helper_remove_stale_at(ifindex, BPF_TC_INGRESS);
        if (r < 0 || k < 0)
                return r < 0 ? r : k;
        return r > 0 || k > 0;
}

/* .bss is mmapped on every kernel that has BPF_F_MMAPABLE (5.5+); the syscall is the fallback
 * libbpf leaves us when it is not: it writes the whole section, from our copy. */
static int standby_helper_write_bss(StandbyHelper *h) {
        struct standby_rx_bpf__bss bss;
        uint32_t key = 0;

        bss = (struct standby_rx_bpf__bss){
                .handover_multicast = h->handover_multicast,
                .dedupe = h->dedupe,
                .hold_tx = h->hold_tx,
                .dedupe_until = h->dedupe_until,
                .replay_until = h->replay_until,
        };
        return bpf_map__update_elem(h->skel->maps.bss, &key, sizeof(key), &bss, sizeof(bss), BPF_ANY);
}

static int standby_helper_set_flag(StandbyHelper *h, uint32_t *flag, bool on) {
        if (!flag)
                return standby_helper_write_bss(h);
        __atomic_store_n(flag, (uint32_t) on, __ATOMIC_SEQ_CST);
        return 0;
}

/* bpf_ktime_get_ns(): CLOCK_MONOTONIC in ns. */
static int monotonic_ns(uint64_t *ret) {
        struct timespec ts;

        if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
                return -errno;
        *ret = (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
        return 0;
}

int standby_helper_set_multicast(StandbyHelper *h, bool on) {
        assert(h);

        h->handover_multicast = on;
        return standby_helper_set_flag(h, h->skel->bss ? &h->skel->bss->handover_multicast : NULL, on);
}

int standby_helper_set_dedupe(StandbyHelper *h, bool on) {
        assert(h);

        /* Never on without the master's program: the standby would hand over every broadcast,
         * tagged, with nothing to drop the VF's copies or clear the mark. */
        if (on && h->master_prog_id == 0)
                return -ENOTCONN;
        h->dedupe = on;
        return standby_helper_set_flag(h, h->skel->bss ? &h->skel->bss->dedupe : NULL, on);
}

int standby_helper_release(StandbyHelper *h, uint64_t linger_usec) {
        uint64_t until = 0;
        int r;

        assert(h);

        if (!h->dedupe || h->master_prog_id == 0 || linger_usec == 0)
                return -ENOTCONN;
        r = monotonic_ns(&until);
        if (r < 0)
                return r;
        until += linger_usec * 1000ULL;

        /* As in standby_helper_detach(): transmit, then the standby's program, so that nothing is
         * tagged any more; then the master's program lingers. Its deadline before 'dedupe' goes
         * off, so that it never stops in between. */
        standby_helper_remove_filter(h->master_ifindex, BPF_TC_EGRESS, h->tx_prog_id);
        h->tx_prog_id = 0;
        h->hold_tx = false;
        standby_helper_remove_filter(h->standby_ifindex, BPF_TC_INGRESS, h->prog_id);
        h->prog_id = 0;

        if (h->skel->bss)
                __atomic_store_n(&h->skel->bss->dedupe_until, until, __ATOMIC_SEQ_CST);
        h->dedupe_until = until;
        h->dedupe = false;
        return standby_helper_set_flag(h, h->skel->bss ? &h->skel->bss->dedupe : NULL, false);
}

int standby_helper_expect_replay(StandbyHelper *h, uint64_t window_usec) {
        uint64_t until = 0;
        int r;

        assert(h);

        if (h->master_prog_id == 0)
                return -ENOTCONN;
        if (window_usec > 0) {
                r = monotonic_ns(&until);
                if (r < 0)
                        return r;
                until += window_usec * 1000ULL;
        }
        h->replay_until = until;
        if (!h->skel->bss)
                return standby_helper_write_bss(h);
        __atomic_store_n(&h->skel->bss->replay_until, until, __ATOMIC_SEQ_CST);
        return 0;
}

int standby_helper_hold_transmit(StandbyHelper *h, bool on) {
        int r;

        assert(h);

        if (on && h->tx_prog_id == 0) {
                /* Loaded only for net_failover (standby_helper_attach()). */
                if (!h->skel->progs.standby_tx_hold || bpf_program__fd(h->skel->progs.standby_tx_hold) < 0)
                        return -EOPNOTSUPP;
                r = standby_helper_add_filter(h->master_ifindex, BPF_TC_EGRESS, h->skel->progs.standby_tx_hold,
                                              &h->tx_prog_id);
                if (r < 0)
                        return r;
        }
        h->hold_tx = on;
        return standby_helper_set_flag(h, h->skel->bss ? &h->skel->bss->hold_tx : NULL, on);
}

bool standby_helper_holds_transmit(StandbyHelper *h) {
        assert(h);
        return h->hold_tx;
}

bool standby_helper_dedupes(StandbyHelper *h) {
        assert(h);
        return h->dedupe;
}

bool standby_helper_counts_vf_markers(StandbyHelper *h) {
        assert(h);
        return h->master_prog_id != 0;
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
                sum.duplicates_standby += percpu[i].duplicates_standby;
                sum.duplicates_vf += percpu[i].duplicates_vf;
                sum.tagged_multicast += percpu[i].tagged_multicast;
                sum.held_tx += percpu[i].held_tx;
                sum.markers += percpu[i].markers;
                sum.markers_vf += percpu[i].markers_vf;
                sum.duplicates_replayed += percpu[i].duplicates_replayed;
        }

        *ret = sum;
        return 0;
}
