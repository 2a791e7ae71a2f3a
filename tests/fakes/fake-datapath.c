/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fake datapath driver: implements agent/guest/datapath.h, records what the
 * switching logic asked for, and fails on demand. */

#include <errno.h>
#include <stdlib.h>

#include "tests/fakes/fake-datapath.h"

FakeDatapathLog fake_datapath_log;

int datapath_new(const DatapathPort *p, Datapath **ret) {
        Datapath *dp = calloc(1, sizeof(DatapathPort));

        if (!dp)
                return -ENOMEM;
        *(DatapathPort *) dp = *p;
        *ret = dp;
        return 0;
}

Datapath *datapath_free(Datapath *dp) {
        fake_datapath_log.receive_both = false;
        return mfree(dp);
}

void datapath_update(Datapath *dp, const DatapathPort *p) {
        *(DatapathPort *) dp = *p;
}

int datapath_receive_both(Datapath *dp) {
        fake_datapath_log.calls[fake_datapath_log.n_calls++ % FAKE_DATAPATH_CALLS] = 'B';
        if (fake_datapath_log.fail_receive_both)
                return fake_datapath_log.fail_receive_both;
        fake_datapath_log.receive_both = true;
        return 0;
}

int datapath_vf_receives(Datapath *dp, bool yes) {
        fake_datapath_log.calls[fake_datapath_log.n_calls++ % FAKE_DATAPATH_CALLS] = yes ? 'M' : 'm';
        fake_datapath_log.helper_multicast = fake_datapath_log.receive_both && !yes;
        return 0;
}

int datapath_transmit_on(Datapath *dp, PortPath path) {
        fake_datapath_log.calls[fake_datapath_log.n_calls++ % FAKE_DATAPATH_CALLS] = path == PORT_PATH_VF ? 'V' : 'S';
        if (fake_datapath_log.fail_transmit)
                return fake_datapath_log.fail_transmit;
        if (path == PORT_PATH_VF && ((DatapathPort *) dp)->vf_ifindex <= 0)
                return -ENODEV;
        fake_datapath_log.transmit = path;
        return 0;
}

bool datapath_sees_markers(Datapath *dp, PortPath left) {
        return fake_datapath_log.receive_both && !fake_datapath_log.no_markers;
}

void datapath_get_counters(Datapath *dp, StandbyHelperCounters *ret) {
        *ret = fake_datapath_log.counters;
}

int datapath_hold_transmit(Datapath *dp, bool on) {
        if (!on && !fake_datapath_log.hold_transmit)
                return 0;
        fake_datapath_log.calls[fake_datapath_log.n_calls++ % FAKE_DATAPATH_CALLS] = on ? 'H' : 'h';
        if (on && !fake_datapath_log.receive_both)
                return -ENOTCONN;
        fake_datapath_log.hold_transmit = on;
        return 0;
}

uint32_t datapath_vf_tx_queued(Datapath *dp) {
        fake_datapath_log.vf_tx_queued_read_held = fake_datapath_log.hold_transmit;
        return fake_datapath_log.vf_tx_queued;
}

int datapath_vf_drained(Datapath *dp) {
        fake_datapath_log.calls[fake_datapath_log.n_calls++ % FAKE_DATAPATH_CALLS] = 'D';
        return 0;
}

int datapath_receive_normal(Datapath *dp) {
        fake_datapath_log.calls[fake_datapath_log.n_calls++ % FAKE_DATAPATH_CALLS] = 'N';
        fake_datapath_log.receive_both = false;
        fake_datapath_log.helper_multicast = false;
        fake_datapath_log.hold_transmit = false;
        return 0;
}

int datapath_expect_replay(Datapath *dp, usec_t window, usec_t prepare, usec_t now) {
        fake_datapath_log.calls[fake_datapath_log.n_calls++ % FAKE_DATAPATH_CALLS] =
                window > 0 ? 'R' : prepare > 0 ? 'P' : 'r';
        if ((window > 0 || prepare > 0) && fake_datapath_log.fail_replay)
                return fake_datapath_log.fail_replay;
        fake_datapath_log.replay_window = window;
        fake_datapath_log.replay_prepare = prepare;
        return 0;
}

usec_t datapath_linger_until(const Datapath *dp) {
        return fake_datapath_log.linger_until > 0 ? fake_datapath_log.linger_until : USEC_INFINITY;
}

void datapath_expire(Datapath *dp, usec_t now) {
        if (fake_datapath_log.linger_until > 0 && now >= fake_datapath_log.linger_until) {
                fake_datapath_log.expired++;
                fake_datapath_log.linger_until = 0;
        }
}
