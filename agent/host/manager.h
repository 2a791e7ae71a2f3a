/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's objects and the one place each of them changes state.
 *
 *   Manager  the daemon: config, libvirt, bus, journal, scheduler
 *   Pool     a set of VFs with the switch settings they get
 *   Vf       one VF (or emulated stand-in); FREE -> CLAIMED -> ATTACHED -> FREE
 *   Domain   a libvirt domain; its agent connection; its ports
 *   Port     one synthetic NIC (MAC) of a domain, which may hold a VF
 *   Job      a graceful attach or detach of one port (agent/host/job.c), or
 *            the face on the bus of a Migration (agent/host/migrate.c)
 *
 * Every state change of a Vf goes through vf_set_state(), of its
 * reservation through vf_reserve()/vf_unreserve(), of a Port's VF through
 * port_set_vf(), of a Domain's state through domain_set_state(), of a Job's
 * phase through job_set_phase(): those emit PropertiesChanged (and
 * vf_set_state() writes the journal). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "agent/host/config.h"
#include "drivers/libvirt.h"
#include "lib/time-util.h"
#include "proto/vfo.pb-c.h"

typedef struct Manager Manager;
typedef struct Pool Pool;
typedef struct Vf Vf;
typedef struct Domain Domain;
typedef struct Port Port;
typedef struct Job Job;
typedef struct Migration Migration;
typedef struct AgentConn AgentConn;
typedef struct Journal Journal;

typedef enum VfState {
        VF_FREE,
        VF_CLAIMED,             /* reserved for a port, not plugged (yet) */
        VF_ATTACHED,            /* plugged into the holder's domain */
        VF_RELEASING,           /* unplug requested */
        VF_BROKEN,              /* programming or release failed: not handed out */
        _VF_STATE_MAX,
        _VF_STATE_INVALID = -1,
} VfState;

typedef enum PortState {
        PORT_IDLE,
        PORT_WAITING,           /* opted in, wants a VF, has none */
        PORT_ATTACHING,
        PORT_DETACHING,
        _PORT_STATE_MAX,
        _PORT_STATE_INVALID = -1,
} PortState;

const char *vf_state_to_string(VfState s) _const_;
const char *port_state_to_string(PortState s) _const_;

struct Vf {
        Manager *manager;
        Pool *pool;
        char id[64];            /* PCI address, or POOL-N (emulated) */
        char alias[80];         /* libvirt user alias of the plugged device */
        char *path;             /* D-Bus object path */
        char pf[16];            /* sriov: the PF netdev */
        unsigned index;         /* sriov: N of virtfnN; emulated: N */
        VfState state;
        Port *holder;           /* CLAIMED/ATTACHED/RELEASING: the port */
        Port *reserved_for;     /* freed by a preemption (or a migration) for this port */
        /* claimed for an incoming migration (hook or a source vfod): */
        char incoming_uuid[37];
        char incoming_mac[18];
        usec_t incoming_until;  /* CLOCK_MONOTONIC; the claim lapses then */
};

struct Pool {
        Manager *manager;
        PoolConfig config;      /* a copy; the lists point into manager->config */
        char *path;
        Vf **vfs;
        size_t n_vfs;
        bool drained;           /* host servicing: grants no VF, its VFs are detached (pool_set_drained()) */
};

struct Port {
        Domain *domain;
        char mac[18];
        Vfo__PathKind path;     /* what the agent last reported or we switched to */
        Vf *vf;
        char synthetic_tap[64]; /* host side of the synthetic NIC (live XML <target dev>) */
        char vf_tap[64];        /* host side of an emulated VF */
        bool link_down;         /* the synthetic NIC's libvirt link state */
        Job *job;               /* running job, if any */
        usec_t waiting_since;   /* CLOCK_MONOTONIC: when it started waiting (0: not waiting) */
        usec_t last_change;     /* CLOCK_MONOTONIC: when it last gained or lost a VF */
        usec_t retry_after;     /* CLOCK_MONOTONIC: a job of the scheduler failed; not before then */
        bool migrating;         /* its domain is being migrated: no VF for it here */
        bool manual_synthetic;  /* detached by a user: stays synthetic until attached by a user */
        bool recover;           /* a job was interrupted by a restart: re-run it when the agent is there */
        char recover_kind[16];
        bool handover_prepared; /* an incoming port's tap is ready for the handover (pool_handover_prepare()) */
        uint32_t handover_queue_len; /* Handover lengthened synthetic_tap's queue; its length before (0: no) */
        sd_event_source *handover_timer; /* gives it back once the domain has run here a while */
};

struct Domain {
        Manager *manager;
        char uuid[37];
        char name[256];
        char *path;
        VirtDomainState state;
        bool persistent;
        bool gone;              /* undefined or vanished; kept while a job refers to it */
        VirtPolicy policy;
        Port **ports;           /* stable pointers: jobs and reservations refer to them */
        size_t n_ports;
        char *channel_path;
        AgentConn *agent;
        char **vfo_aliases;     /* from the last live XML */
        size_t n_vfo_aliases;
        bool exported;          /* announced on the bus (opted in or holding a VF) */
        bool inventory_pending;
        Migration *migration;   /* running migration of this domain (agent/host/migrate.h) */
        bool refresh_pending;   /* manager_refresh_soon() */
};

struct Manager {
        sd_event *event;
        sd_bus *bus;
        Virt *virt;
        Config *config;
        char *config_path;
        char *journal_path;

        Pool **pools;
        size_t n_pools;
        Domain **domains;
        size_t n_domains;
        Job **jobs;             /* running and the last JOBS_KEEP finished */
        size_t n_jobs;
        uint64_t next_job_id;

        sd_event_source *schedule_source;   /* deferred scheduler run */
        sd_event_source *schedule_timer;    /* a blocked preemption becomes eligible */
        bool reconciled;
        Journal *journal;                   /* written from the loop: journal.h */
        sd_event_source *refresh_source;    /* manager_refresh_soon() */
        char refresh_new[64][37];               /* UUIDs not yet Domains, for it */
        size_t n_refresh_new;
        usec_t reconcile_usec;              /* how long the last full reconcile took */
        struct Forward **forwards;          /* migrations' forwarding tunnels (forward.h) */
        size_t n_forwards;
};

#define JOBS_KEEP 64
/* Deadline of a migration's progress poll (virt_call()); every other
 * libvirt call has LibvirtTimeoutSec= (config->libvirt_timeout). */
#define LIBVIRT_POLL_TIMEOUT_USEC (5 * USEC_PER_SEC)

int manager_new(sd_event *event, const char *config_path, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_CLEANUP_FUNC(Manager, manager_free);
int manager_start(Manager *m);          /* libvirt, journal, first reconcile */
int manager_reload(Manager *m, char **ret_message);

Pool *manager_find_pool(Manager *m, const char *name);
Pool *manager_pool_for(Manager *m, const Domain *d);
/* The pool named 'name', or the default pool for NULL. */
Pool *manager_pool_for_name(Manager *m, const char *name);
/* The domain with that UUID, read from libvirt now; created if new and
 * libvirt knows it. NULL for a UUID that is malformed or unknown to libvirt. */
Domain *manager_load_domain(Manager *m, const char *uuid);
/* Re-reads a domain from libvirt from the loop, not now (hook calls); a
 * UUID vfod does not know yet becomes a Domain only if libvirt knows it. */
void manager_refresh_soon(Manager *m, const char *uuid);
Domain *manager_find_domain(Manager *m, const char *uuid_or_name);
Vf *manager_find_vf(Manager *m, const char *id);
Vf *manager_find_vf_by_alias(Manager *m, const char *alias);
Job *manager_find_job(Manager *m, uint64_t id);

/* The time of the loop's current iteration (sd_event_now(), CLOCK_MONOTONIC):
 * what the core's decisions go by (deadlines, retries, claims, the
 * scheduler's plan). Durations it reports are measured with the clock. */
usec_t manager_now(Manager *m);

/* Runs the scheduler soon (coalesced), or at 'when' (CLOCK_MONOTONIC). */
void manager_schedule(Manager *m);
void manager_schedule_at(Manager *m, usec_t when);
/* The journal (claims and running jobs) changed: it is written before the
 * next event source runs (journal.h says when to journal_flush() too). */
int manager_save(Manager *m);

Port *domain_find_port(Domain *d, const char *mac);
Port *domain_first_port(Domain *d, bool with_vf);
bool domain_opted_in(const Domain *d);
/* Re-reads the domain from libvirt (ports, channel, aliases, policy), on
 * the loop: it waits for libvirtd (loop_watch_note()). -ENOENT: libvirt no
 * longer has it (then it is stopped and gone here). */
int domain_refresh(Domain *d);
/* The same off the loop (virt_read_domain()): the answer is applied, then
 * 'fn' runs, exactly once, with the domain (NULL if it is no longer known
 * here, or at -ECANCELED) and the read's result. A job's read is
 * job_read_domain() (job-internal.h), which the job can cancel. */
typedef void (*DomainReadFn)(Manager *m, Domain *d, int r, void *userdata);
int domain_read(Domain *d, DomainReadFn fn, void *userdata);
/* What domain_refresh() and domain_read() do with libvirt's answer. */
int domain_refreshed(Domain *d, int r, VirtDomain *v);

void vf_set_state(Vf *vf, VfState state, Port *holder);
/* The one place a VF is reserved for a port (a preemption or a migration
 * freed it for that port) or no longer is: Pool.Free changes with it. */
void vf_reserve(Vf *vf, Port *port);
void vf_unreserve(Vf *vf);
/* The one place a port gains or loses its VF: last_change, Domain.Ports. */
void port_set_vf(Port *p, Vf *vf);
/* The one place a domain's state changes: Domain.State. */
void domain_set_state(Domain *d, VirtDomainState state);
/* The one place a pool is drained or restored: Pool.Drained and Waiting,
 * the journal, the scheduler (placement.c detaches the VFs of a drained
 * pool and grants none); draining drops the pool's incoming claims. */
void pool_set_drained(Pool *p, bool drained);

/* pool.c: the pool drivers (emulated, sriov); same interface above them. */
int pool_new(Manager *m, const PoolConfig *config, Pool **ret);
Pool *pool_free(Pool *p);
/* The libvirt device XML that plugs 'vf' for 'port'. */
int pool_device_xml(Vf *vf, const Port *port, char **ret);
/* Programs the VF for the port (sriov: MAC, VLAN, spoofchk, trust). */
int pool_program(Vf *vf, const Port *port);
/* Moves where frames to the port's MAC go: SYNTHETIC, VF, or UNSPECIFIED
 * (no pin: the switch learns again). */
int pool_steer(Vf *vf, const Port *port, Vfo__PathKind to);
/* After steering moved away from the path 'left': the drain marker behind
 * what is queued on that path's tap (the guest's helper stays until it
 * arrives): the synthetic tap at an attach, an emulated VF's tap at a detach.
 * 0 when it was queued; -ENODEV when the port has no such tap (an SR-IOV VF
 * has none: the guest drains for a fixed time). */
int pool_queue_drain_marker(const Port *port, Vfo__PathKind left);
/* The same for a port that may hold no VF ('vf' NULL): the synthetic path. */
int pool_steer_in(Pool *pool, Vf *vf, const Port *port, Vfo__PathKind to);
/* The tap of the port's synthetic NIC on the pool's bridge, found by the MAC
 * libvirt gives it (for an incoming domain the XML still names the source's
 * tap). -ENOENT if there is none. */
int pool_find_tap(Pool *pool, const Port *port, char ret[static 64]);
/* The destination of a migration readies the port's tap for its frames
 * before the domain runs here: its queue lengthened for the switchover, the
 * placeholder frame first in it. Once per incoming migration. 1 if ready, 0
 * if the port has no tap here. */
int pool_handover_prepare(Pool *pool, Port *port);
/* The destination takes the port's frames before the domain runs here (the
 * tap readied first if it was not): they wait in its tap. 1 if steered, 0
 * if the port has no tap here. */
int pool_handover_in(Pool *pool, Port *port);
/* A tap the domain started with (libvirt's hook), or a migration brings:
 * the clsact queue discipline a managed switchover away from here copies
 * with (forward_mirror()), added while no traffic flows. 1 added, 0 there
 * already or not a bridge's tap. */
int pool_ready_tap(Pool *pool, const Port *port);
/* The domain runs here: the tap's queue gets its length back once QEMU
 * has read what waited there (a shorter ring drops what is beyond it). */
void pool_handover_done(Port *port);
/* Back to neutral after an unplug. */
int pool_release(Vf *vf);
unsigned pool_count_free(const Pool *p);
/* A live claim for an incoming migration. */
bool vf_incoming_claimed(const Vf *vf);
/* Claims a free VF of 'pool' for each MAC of an incoming domain, until
 * 'lifetime' from now; -ENOSPC (and nothing claimed) if 'required' and one
 * is missing. Returns the number claimed. A source's pre-claim
 * (PrepareIncoming) is short: only libvirt's own hook on this host, when
 * the domain really arrives, makes it last (INCOMING_CLAIM_USEC). */
#define INCOMING_PRECLAIM_USEC (2 * 60 * USEC_PER_SEC)
#define INCOMING_CLAIM_USEC (10 * 60 * USEC_PER_SEC)
#define INCOMING_PORTS_MAX 64
int manager_claim_incoming(Manager *m, Pool *pool, const char *uuid, char **macs, size_t n_macs, bool required,
                           usec_t lifetime, char **ret_message);
Vf *pool_first_free(Pool *p, const Port *for_port);
/* placement.c: a graceful detach (reason drain) for every port that holds
 * a VF of the drained 'pool' and has no job; 'now_too' ignores a port's
 * retry_after (a user asked again). */
void manager_detach_drained(Manager *m, Pool *pool, bool now_too);
PortState port_get_state(const Port *p);
void port_set_path(Port *p, Vfo__PathKind path);
void port_changed(Port *p);             /* emits Domain.Ports */
void domain_changed(Domain *d, const char *property);
void pool_changed(Pool *p);

/* For the core's own files (domain.c, manager.c, placement.c): */
Domain *domain_by_uuid(Manager *m, const char *uuid);       /* no libvirt call */
Domain *domain_get_or_new(Manager *m, const char *uuid);
void domain_apply(Domain *d, VirtDomain *v);                /* libvirt's view of it, read just now */
void domain_stopped(Domain *d, const char *why);
void domain_free(Domain *d);
void domain_update_export(Domain *d);                       /* on the bus while opted in or holding a VF */
void domain_agent_update(Domain *d);                        /* its agent connection follows its state */
typedef struct JournalState JournalState;
/* Claims the VFs libvirt shows in the domain (journal: what the last run knew; may be NULL). */
void domain_adopt_devices(Domain *d, const JournalState *journal);
