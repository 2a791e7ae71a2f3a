/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: following a job to its end, on an sd-event loop that `vfoctl
 * monitor` (monitor.c) uses too (watch.c). */
#pragma once

#include <stdbool.h>
#include <sys/signalfd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* attach/detach/migrate after the call: follow the job until it ends, or
 * arg_timeout. With cancel_on_interrupt (migrate), the first SIGINT/SIGTERM
 * calls Job.Cancel() and the job is followed on; a second one stops
 * waiting. */
int follow_job(sd_bus *bus, const char *object, bool cancel_on_interrupt);

/* The default loop with 'bus' attached (the loop ends when it disconnects)
 * and SIGINT/SIGTERM blocked and given to 'on_signal'. */
int watch_setup_event(sd_bus *bus, sd_event **ret, void *userdata,
                      int (*on_signal)(sd_event_source *, const struct signalfd_siginfo *, void *));
/* Runs the loop until *done (or the loop finished); keeps the bus open. */
int watch_run_until(sd_event *e, const bool *done);
