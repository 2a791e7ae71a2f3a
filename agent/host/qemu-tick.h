/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where QEMU's bandwidth measurement falls, from polls of a migration's
 * statistics; pure, no libvirt.
 *
 * QEMU's migration thread measures its transfer rate once every 100 ms
 * (BUFFER_DELAY in QEMU 7.2), and only then compares what is left with the
 * maximum downtime: a new maximum takes effect at the next measurement.
 * The rate it reports (VIR_DOMAIN_JOB_MEMORY_BPS) changes at each one, so
 * two polls with different rates have a measurement between QEMU's answers
 * to them. vfod hands a migrating domain's traffic to the destination just
 * before a measurement is due, so that QEMU stops the source soon after
 * (agent/host/migrate.c); otherwise the traffic waits at the destination
 * for up to 100 ms more. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/time-util.h"

#define QEMU_TICK_USEC (100 * USEC_PER_MSEC)
/* A measurement seen longer ago than this is no guide any more: QEMU's
 * measurements come a little later than every 100 ms (at its thread's next
 * turn), and the error adds up. */
#define QEMU_TICK_STALE_USEC (3 * QEMU_TICK_USEC)

typedef struct QemuTick {
        bool have_poll;         /* a poll was observed */
        uint64_t last_bps;      /* its rate */
        uint64_t last_elapsed_ms; /* QEMU's time of its answer */
        usec_t last_sent;       /* when it was sent (our clock) */
        usec_t tick;            /* the earliest the last measurement can have been (our clock); 0: none seen */
        usec_t rtt;             /* a poll's round trip: the largest of late, decaying by a quarter a poll */
} QemuTick;

/* One poll's answer: sent at 'sent', its answer here at 'received' (both
 * CLOCK_MONOTONIC); 'bps' and 'elapsed_ms' are QEMU's rate and its time
 * since the migration began. A rate of 0 (QEMU has measured none yet) tells
 * nothing. */
void qemu_tick_observe(QemuTick *t, uint64_t bps, uint64_t elapsed_ms, usec_t sent, usec_t received);

/* How long to wait from 'now' before sending a request that must reach
 * QEMU before its next measurement: the request takes a poll's round trip,
 * plus 'margin'. Between 0 and QEMU_TICK_USEC; USEC_INFINITY when no
 * measurement was seen lately (send now). */
usec_t qemu_tick_wait(const QemuTick *t, usec_t now, usec_t margin);
