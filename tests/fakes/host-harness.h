/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's host core in a test process, without root: the Manager on one
 * sd-event loop with the fake libvirt (tests/fakes/fake-libvirt.c, its
 * domains in a scratch directory) and the fake switch programming
 * (tests/fakes/fake-vfprog.c); a scripted guest agent for each domain on
 * the unix socket its XML names as the virtio-serial channel; and vfod's
 * bus on a private peer-to-peer connection whose other end is the test's
 * client (harness_call(), harness_get()).
 *
 * The scripted agent answers as vfo-agent does (Sync, Inventory, Prepare*,
 * SteeringMoved, SetPath, Ping); each domain says how it answers a
 * PrepareDetach, a PrepareAttach, a SteeringMoved and a Ping (HarnessAnswer),
 * and how long after a PrepareAttach its answer comes.
 *
 * One Harness at a time: the fake libvirt binds to the process's one loop
 * (harness_event()), and reads its directory from the environment. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "agent/host/manager.h"
#include "lib/channel.h"

typedef enum HarnessAnswer {
        HARNESS_ANSWER_OK,              /* as the agent does */
        HARNESS_ANSWER_REFUSE,          /* an Error reply (ERROR_CODE_INTERNAL) */
        HARNESS_ANSWER_SILENT,          /* never answered: the request times out */
} HarnessAnswer;

typedef struct HarnessDomain {
        char name[32];
        char uuid[37];
        char mac[18];
        char path[128];                 /* the domain's D-Bus object path, once known */
        HarnessAnswer prepare_detach, prepare_attach;
        HarnessAnswer steering_moved;   /* PathChanged, or not (SetPath is always answered) */
        HarnessAnswer ping;             /* Pong (vfod's barrier after PrepareAttach), or not */
        HarnessAnswer expect_replay;    /* ReplayExpected at a migration's handover, or not */
        usec_t prepare_attach_delay;    /* 0: at once (before the plug); else the answer comes that much later */
        Vfo__PathKind agent_path;       /* where the agent sends: its Inventory says so; a SteeringMoved or
                                         * SetPath it answers moves it (the VF's if it starts with one) */
        bool no_agent;                  /* nobody listens on the channel */
        bool report;                    /* a SwitchReport follows each PathChanged it sends */
        uint64_t report_drops;          /* ... with this many frames the standby delivered to nobody */
        uint64_t last_prepare_id;       /* the latest PrepareAttach/PrepareDetach, which the report names */
        unsigned n_prepare_detach, n_prepare_attach;   /* requests seen */
        unsigned n_steering_moved;
        unsigned n_marked_vf, n_marked_synthetic;      /* ... with drain_marker, by path */
        unsigned n_replay_prepared;     /* ExpectReplay requests seen that ready the helper */
        unsigned n_expect_replay;       /* ... that open the window */
        unsigned n_replay_closed;       /* ... that end both */
        uint32_t replay_window_ms;      /* the last window asked */

        /* the agent's end of the channel */
        int listen_fd, fd;
        sd_event_source *listen_io, *io;
        Channel *channel;
        sd_event_source *delayed;       /* the PrepareAttach answer that waits */
        uint64_t delayed_id;
} HarnessDomain;

#define HARNESS_DOMAINS_MAX 4

typedef struct Harness {
        char dir[64];
        sd_event *event;
        Manager *manager;
        sd_bus *client;                 /* the test's end of vfod's bus */
        HarnessDomain domains[HARNESS_DOMAINS_MAX];
        size_t n_domains;
        /* the pool the domains added from now on want (their policy's
         * pool=): "lab" (the emulated pool harness_new() writes), or one
         * that harness_new()'s 'extra' adds; an SR-IOV pool's PFs are
         * tests/fakes/fake-sriov.c's ("pf0" … "pf9", 4 VFs each) */
        char pool[32];

        /* a destination vfod (harness_listen_destination()) */
        int destination_fd;
        sd_event_source *destination_io;
        sd_bus *destination;
        bool destination_claims;
        unsigned n_prepare_incoming, n_handover;
        /* HandoverEx: with 'destination_forward_vni' > 0 it answers with its
         * end of a forwarding tunnel for the first domain's MAC
         * (HARNESS_FORWARD_ADDRESS, that VNI, port 4789), at the prepare
         * already unless 'destination_late_tunnels'; 'destination_old'
         * answers UnknownMethod, like a vfod older than HandoverEx. What the
         * source asked: */
        uint32_t destination_forward_vni;
        bool destination_late_tunnels;
        bool destination_old;
        unsigned n_handover_ex, n_handover_prepare;
        char handover_forward_from[64];
} Harness;

#define HARNESS_FORWARD_ADDRESS "192.0.2.2"

/* The loop every harness of this process uses. */
sd_event *harness_event(void);

/* A scratch directory with vfod.conf: short timeouts, NoAgent=refuse, the
 * caller's group as AdminGroup=, one emulated pool "lab" of 'n_vfs' VFs on
 * bridge "br0"; 'extra' is appended to the [Daemon] section (or NULL), and
 * may begin sections of its own (another pool). */
Harness *harness_new(unsigned n_vfs, const char *extra);
/* A running domain "NAME" (UUID and MAC derived from 'index'); with
 * 'priority' > 0 it has opted in to pool "lab" with that priority;
 * 'with_vf': the emulated VF lab-N (N = 'vf_index') is plugged already. */
HarnessDomain *harness_add_domain(Harness *h, const char *name, unsigned priority, bool with_vf,
                                  unsigned vf_index);
/* Makes 'd' a line of the fake libvirt's file 'name' ("wedged": its calls
 * never return; "failing": they fail; tests/fakes/fake-libvirt.c). */
void harness_libvirt_list(Harness *h, const char *name, HarnessDomain *d);
/* Writes the journal vfod reads at its start. */
void harness_write_journal(Harness *h, const char *text);
/* Starts vfod's core: Manager, its bus, the first reconcile; returns once
 * every domain with an agent has its session (or aborts). */
void harness_start(Harness *h);
/* Stops vfod and removes the scratch directory. */
void harness_free(Harness *h);

/* A destination's vfod for Manager.Migrate's "destination-bus" option: on
 * the unix socket 'path' (an address "unix:path=PATH"), it answers
 * PrepareIncoming with 'claims', Handover and HandoverEx with one port. */
void harness_listen_destination(Harness *h, const char *path, bool claims);

/* Runs the loop until 'done' returns true or 'timeout' passes; returns
 * what 'done' returned last. */
bool harness_run_until(Harness *h, bool (*done)(Harness *h, void *userdata), void *userdata, usec_t timeout);
/* Runs the loop for 'usec'. */
void harness_run_for(Harness *h, usec_t usec);

/* Calls a method of vfod (on the loop; 'ret_reply' may be NULL). Returns 0,
 * or -EREMOTE with the D-Bus error in 'ret_error' (if not NULL). */
int harness_call(Harness *h, const char *path, const char *interface, const char *member,
                 sd_bus_message **ret_reply, sd_bus_error *ret_error, const char *types, ...);
/* Properties, read through org.freedesktop.DBus.Properties.Get. */
char *harness_get_string(Harness *h, const char *path, const char *interface, const char *property);
uint32_t harness_get_u32(Harness *h, const char *path, const char *interface, const char *property);
uint64_t harness_get_u64(Harness *h, const char *path, const char *interface, const char *property);
bool harness_get_bool(Harness *h, const char *path, const char *interface, const char *property);
/* The 'index'th object path of an "ao" property (a copy), or NULL. */
char *harness_get_object(Harness *h, const char *path, const char *interface, const char *property, size_t index);

/* The free VFs of pool "lab" (Pool.Free). */
uint32_t harness_pool_free(Harness *h);
/* The State of VF lab-N ("free", "attached", …). */
char *harness_vf_state(Harness *h, unsigned index);
/* The VF object path of 'd's port (Domain.Ports), or NULL if it holds none. */
char *harness_port_vf(Harness *h, HarnessDomain *d);
/* The path of 'd's port as Domain.Ports shows it ("vf", "synthetic", "unknown"). */
char *harness_port_path(Harness *h, HarnessDomain *d);
/* Waits until the job at 'path' ends; returns its State ("done",
 * "failed"; "running" if it did not end within 'timeout'). */
char *harness_wait_job(Harness *h, const char *path, usec_t timeout);
/* Manager.Attach / Manager.Detach of 'd's port: the job's path, or NULL
 * with the D-Bus error in 'ret_error'. */
/* The agent of 'd' reports, unasked, that the guest moved to 'path'. */
void harness_agent_path_changed(Harness *h, HarnessDomain *d, Vfo__PathKind path, Vfo__PathChangeReason reason);
char *harness_attach(Harness *h, HarnessDomain *d, sd_bus_error *ret_error);
char *harness_detach(Harness *h, HarnessDomain *d, sd_bus_error *ret_error);
