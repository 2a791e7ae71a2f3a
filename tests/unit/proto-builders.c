/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See proto-builders.h. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/channel.h"
#include "tests/unit/proto-builders.h"

Vfo__Envelope *test_message_init(TestMessage *m, Vfo__Envelope__BodyCase body, uint64_t id) {
        memset(m, 0, sizeof(*m));
        m->envelope = (Vfo__Envelope) VFO__ENVELOPE__INIT;
        m->envelope.id = id;
        m->envelope.body_case = body;

        switch (body) {
        case VFO__ENVELOPE__BODY_SYNC:
                m->sync = (Vfo__Sync) VFO__SYNC__INIT;
                m->sync.nonce = 0x1234;
                m->sync.protocol_version = 1;
                m->sync.host_version = (char *) "0.1";
                m->envelope.sync = &m->sync;
                break;
        case VFO__ENVELOPE__BODY_SYNC_REPLY:
                m->sync_reply = (Vfo__SyncReply) VFO__SYNC_REPLY__INIT;
                m->sync_reply.nonce = 0x1234;
                m->sync_reply.protocol_version = 1;
                m->sync_reply.agent_version = (char *) "0.1";
                m->capabilities[0] = VFO__CAPABILITY__CAPABILITY_NET_FAILOVER;
                m->capabilities[1] = VFO__CAPABILITY__CAPABILITY_ANNOUNCE_IPV4;
                m->sync_reply.capabilities = m->capabilities;
                m->sync_reply.n_capabilities = 2;
                m->envelope.sync_reply = &m->sync_reply;
                break;
        case VFO__ENVELOPE__BODY_INVENTORY_REPLY:
                m->inventory = (Vfo__InventoryReply) VFO__INVENTORY_REPLY__INIT;
                for (size_t i = 0; i < 2; i++) {
                        Vfo__Port *p = &m->port_storage[i];

                        *p = (Vfo__Port) VFO__PORT__INIT;
                        p->mac = i == 0 ? (char *) "52:54:00:77:00:11" : (char *) "52:54:00:77:00:12";
                        p->synthetic_ifname = i == 0 ? (char *) "eth0nsby" : (char *) "eth1nsby";
                        p->vf_ifname = i == 0 ? (char *) "eth2" : (char *) "";
                        p->master_ifname = i == 0 ? (char *) "eth0" : (char *) "eth1";
                        p->datapath = VFO__DATAPATH_KIND__DATAPATH_KIND_NET_FAILOVER;
                        p->active_path = i == 0 ? VFO__PATH_KIND__PATH_KIND_VF : VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
                        p->synthetic_link = VFO__LINK_STATE__LINK_STATE_UP;
                        p->vf_link = i == 0 ? VFO__LINK_STATE__LINK_STATE_UP : VFO__LINK_STATE__LINK_STATE_ABSENT;
                        m->ports[i] = p;
                }
                m->inventory.ports = m->ports;
                m->inventory.n_ports = 2;
                m->envelope.inventory_reply = &m->inventory;
                break;
        case VFO__ENVELOPE__BODY_PREPARE_DETACH:
                m->prepare_detach = (Vfo__PrepareDetach) VFO__PREPARE_DETACH__INIT;
                m->prepare_detach.mac = (char *) "52:54:00:77:00:11";
                m->prepare_detach.deadline_ms = 5000;
                m->envelope.prepare_detach = &m->prepare_detach;
                break;
        case VFO__ENVELOPE__BODY_STEERING_MOVED:
                m->steering_moved = (Vfo__SteeringMoved) VFO__STEERING_MOVED__INIT;
                m->steering_moved.mac = (char *) "52:54:00:77:00:11";
                m->steering_moved.path = VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
                m->envelope.steering_moved = &m->steering_moved;
                break;
        case VFO__ENVELOPE__BODY_PATH_CHANGED:
                m->path_changed = (Vfo__PathChanged) VFO__PATH_CHANGED__INIT;
                m->path_changed.mac = (char *) "52:54:00:77:00:11";
                m->path_changed.path = VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
                m->path_changed.reason = VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_REMOVED;
                m->path_changed.request_usec = 100;
                m->path_changed.switched_usec = 250;
                m->envelope.path_changed = &m->path_changed;
                break;
        case VFO__ENVELOPE__BODY_SWITCH_REPORT:
                m->counters = (Vfo__PathCounters) VFO__PATH_COUNTERS__INIT;
                m->counters.rx_packets = 1000;
                m->switch_report = (Vfo__SwitchReport) VFO__SWITCH_REPORT__INIT;
                m->switch_report.mac = (char *) "52:54:00:77:00:11";
                m->switch_report.path = VFO__PATH_KIND__PATH_KIND_VF;
                m->switch_report.start_usec = 100;
                m->switch_report.end_usec = 400;
                m->switch_report.synthetic = &m->counters;
                m->envelope.switch_report = &m->switch_report;
                break;
        case VFO__ENVELOPE__BODY_EXPECT_REPLAY:
                m->expect_replay = (Vfo__ExpectReplay) VFO__EXPECT_REPLAY__INIT;
                m->expect_replay.mac = (char *) "52:54:00:77:00:11";
                m->expect_replay.window_ms = 2000;
                m->envelope.expect_replay = &m->expect_replay;
                break;
        case VFO__ENVELOPE__BODY_REPLAY_EXPECTED:
                m->replay_expected = (Vfo__ReplayExpected) VFO__REPLAY_EXPECTED__INIT;
                m->replay_expected.mac = (char *) "52:54:00:77:00:11";
                m->replay_expected.window_ms = 2000;
                m->envelope.replay_expected = &m->replay_expected;
                break;
        case VFO__ENVELOPE__BODY_ERROR:
                m->error = (Vfo__Error) VFO__ERROR__INIT;
                m->error.code = VFO__ERROR_CODE__ERROR_CODE_UNKNOWN_PORT;
                m->error.message = (char *) "no such port";
                m->envelope.error = &m->error;
                break;
        default:
                fail_msg("test_message_init: body %d not supported", (int) body);
        }

        return &m->envelope;
}

size_t test_frame(const Vfo__Envelope *e, bool with_marker, uint8_t *buf, size_t size) {
        uint8_t *p = NULL;
        size_t n = 0;

        assert_int_equal(envelope_pack_frame(e, with_marker, FRAME_MAX_DEFAULT, &p, &n), 0);
        assert_true(n <= size);
        memcpy(buf, p, n);
        free(p);
        return n;
}
