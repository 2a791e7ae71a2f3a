/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inspectable state of tests/fakes/fake-datapath.c. */
#pragma once

#include "agent/guest/datapath.h"

#define FAKE_DATAPATH_CALLS 64

typedef struct FakeDatapathLog {
        bool receive_both;              /* helper / all_slaves_active in effect */
        bool helper_multicast;          /* broadcast handed over from the standby */
        bool hold_transmit;             /* transmit held on the synthetic path */
        PortPath transmit;
        char calls[FAKE_DATAPATH_CALLS + 1];    /* B both, D VF drained, N normal, M/m VF receives yes/no, V/S transmit, H/h hold on/off, R/r replay window on/off, P helper readied for one */
        unsigned n_calls;
        int fail_receive_both;          /* negative errno to fail with */
        int fail_transmit;
        StandbyHelperCounters counters; /* what datapath_get_counters() gives */
        bool no_markers;                /* datapath_sees_markers() false (netvsc, no helper) */
        uint32_t vf_tx_queued;          /* what datapath_vf_tx_queued() gives */
        bool vf_tx_queued_read_held;    /* transmit was held when it was last asked */
        usec_t linger_until;            /* what datapath_linger_until() gives (0: USEC_INFINITY) */
        unsigned expired;               /* datapath_expire() calls at or after it */
        usec_t replay_window;           /* the last datapath_expect_replay() */
        usec_t replay_prepare;
        int fail_replay;                /* negative errno for datapath_expect_replay() */
} FakeDatapathLog;

extern FakeDatapathLog fake_datapath_log;
