/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers: well-formed messages to start from, and frames of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/vfo.pb-c.h"

/* A message with every part a test may want to break; all pointers point
 * into the struct itself, so it can be copied and edited freely. */
typedef struct TestMessage {
        Vfo__Envelope envelope;
        Vfo__Sync sync;
        Vfo__SyncReply sync_reply;
        Vfo__Capability capabilities[4];
        Vfo__InventoryReply inventory;
        Vfo__Port port_storage[2];
        Vfo__Port *ports[2];
        Vfo__PrepareDetach prepare_detach;
        Vfo__SteeringMoved steering_moved;
        Vfo__PathChanged path_changed;
        Vfo__SwitchReport switch_report;
        Vfo__ExpectReplay expect_replay;
        Vfo__ReplayExpected replay_expected;
        Vfo__PathCounters counters;
        Vfo__Error error;
} TestMessage;

/* Fills 'm' with a valid message of the given body; returns &m->envelope. */
Vfo__Envelope *test_message_init(TestMessage *m, Vfo__Envelope__BodyCase body, uint64_t id);

/* Packs 'e' as a frame (with the resync marker when asked) into 'buf'.
 * Returns the frame size; aborts the test if it does not fit. */
size_t test_frame(const Vfo__Envelope *e, bool with_marker, uint8_t *buf, size_t size);
