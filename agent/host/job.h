/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Jobs: the graceful detach and attach of one port, step by step as
 * ARCHITECTURE.md ("6 Detach", "7 Attach") sequences them. Each step has a
 * deadline; a failure rolls back to the last state that carried traffic. A
 * job is driven by callbacks (agent replies, libvirt's calls and
 * DEVICE_REMOVED, timers); it never blocks the loop: its libvirt calls run
 * off it (virt_call()). */
#pragma once

#include "agent/host/error.h"
#include "agent/host/job-phase.h"
#include "agent/host/manager.h"
#include "lib/log.h"

typedef enum JobReason {
        JOB_REASON_USER,        /* D-Bus / vfoctl */
        JOB_REASON_SCHEDULER,   /* a free VF went to a waiting port */
        JOB_REASON_PREEMPT,     /* a higher-priority port needs this VF */
        JOB_REASON_RECOVERY,    /* finishing a job a restart interrupted */
        JOB_REASON_POLICY,      /* the domain opted out or changed pool */
        JOB_REASON_MIGRATE,     /* part of a migration: VFs out before, back after a failure */
        JOB_REASON_DRAIN,       /* the pool is drained for host servicing (Manager.Drain) */
        _JOB_REASON_MAX,
        _JOB_REASON_INVALID = -1,
} JobReason;

typedef enum JobState {
        JOB_RUNNING,
        JOB_DONE,
        JOB_FAILED,
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -1,
} JobState;

const char *job_reason_to_string(JobReason r) _const_;
const char *job_state_to_string(JobState s) _const_;

/* What differs between the kinds of job. job.c drives every job through
 * these: it knows nothing of what a kind does. */
typedef void (*JobReadFn)(Job *j, int r);

typedef struct JobOps {
        void (*start)(Job *j);                  /* the first step, run from the loop */
        void (*rollback)(Job *j);               /* after job_fail(): back to what carried traffic */
        void (*finished)(Job *j);               /* the job ended: let go of what it holds (may be NULL) */
        void (*free_data)(void *data);          /* frees j->data (may be NULL) */
        unsigned (*progress)(const Job *j);     /* 0..100 while running */
        int (*cancel)(Job *j);                  /* NULL: the kind cannot be cancelled */
} JobOps;

typedef void (*JobDoneFn)(Job *j, void *userdata);

/* What the guest counted while the job moved its port (the agent's
 * SwitchReport; ARCHITECTURE.md "11 The guest", loss accounting). */
typedef struct JobTraffic {
        bool reported;
        uint64_t synthetic_rx, synthetic_tx, vf_rx, vf_tx;
        uint64_t handed_over, held_tx, duplicates_dropped;
        uint64_t drops;         /* drops the guest saw on its NICs, and what they delivered to nobody */
} JobTraffic;

/* The host's side of the loss accounting: what the job reads drops from.
 * A tap of the port (its tx_dropped, netdev_tx_dropped()), or an SR-IOV VF
 * on its PF (vf_dropped(): the NIC's drops for it; a VF has no tap). Both
 * in drivers/vfprog.h. */
typedef struct JobTap {
        char ifname[64];        /* the tap, or the VF's PF; "" none */
        int vf_index;           /* -1: a tap; else the VF of that index on PF 'ifname' */
        bool done;              /* read for the last time: the VF left the domain */
        uint64_t base;          /* its count when last read */
        uint64_t dropped;       /* what it dropped while the job read it */
        uint64_t dropped_unmoved; /* of those, before steering moved (job_taps_moved()) */
} JobTap;

struct Job {
        Manager *manager;
        uint64_t id;
        char *path;
        JobKind kind;
        JobReason reason;
        Domain *domain;
        char mac[18];
        Vf *vf;
        JobPhase phase;
        JobPhase failed_phase;  /* where it failed (Phase shows it once the job failed) */
        bool error_recorded;
        JobState state;
        VfoError error;         /* the first failure (the bus names it) */
        char *error_message;
        char *fallback;         /* why the agent was not used, if it was not */
        bool abrupt;
        bool plugged;           /* attach: the device went in */
        bool plugged_read;      /* ... and the domain was read again after (its VF's tap) */
        bool steered;           /* steering moved to the new path */
        bool switched;          /* the agent moved transmit */
        usec_t start_realtime, finish_realtime;
        usec_t start, libvirt_usec, agent_usec, step_start;
        sd_event_source *timer;
        int64_t request;        /* pending agent request */
        int64_t barrier;
        int64_t attach_request; /* PrepareAttach: answered with AttachReady later */
        int64_t prepare_first, prepare_last; /* ids of its PrepareAttach/PrepareDetach (SwitchReport names one) */
        VirtCall *virt_call;    /* the job's libvirt call under way */
        JobReadFn read_fn;      /* ... a read of the domain (job_read_domain()): what follows it */
        VirtOp virt_op;
        usec_t virt_start;
        Vfo__PathKind rollback_path;
        JobTraffic traffic;
        JobTap taps[2];         /* the synthetic tap; an emulated VF's tap or an SR-IOV VF */
        uint64_t host_drops;    /* what they dropped while the job ran */
        uint64_t host_drops_unmoved; /* of those, before steering moved */

        /* what kind of job it is: job-port.c's attach and detach, migrate.c's migration */
        const JobOps *ops;
        void *data;             /* the kind's own object (a Migration) */
        /* told once when the job ends (a migration's child jobs) */
        JobDoneFn on_done;
        void *on_done_userdata;
};

/* The one constructor: a running job of 'kind' on 'd' (and its port 'mac',
 * or NULL), registered with the manager; ops->start() runs from the loop,
 * so the D-Bus caller gets the job's path before its first
 * PropertiesChanged. Announced on the bus by job_announce(). */
int job_new(Manager *m, JobKind kind, JobReason reason, Domain *d, const char *mac, const JobOps *ops, void *data,
            Job **ret);
void job_announce(Job *j);
/* 'fn' is called once when 'j' ends; job_forget_done() drops every such
 * call with 'userdata' (its owner goes first). */
void job_on_done(Job *j, JobDoneFn fn, void *userdata);
void job_forget_done(Manager *m, void *userdata);

/* Starts an attach or detach of 'port' (which must have no job). Attach:
 * 'vf' is the free VF it gets; detach: 'vf' is NULL. */
int job_start(Manager *m, JobKind kind, JobReason reason, Port *port, Vf *vf, Job **ret);
Job *job_free(Job *j);
unsigned job_progress(const Job *j);

/* A PrepareAttach or PrepareDetach of the job went out as request 'id'. */
void job_prepare_sent(Job *j, int64_t id);
/* The port job of 'd' and 'mac' whose PrepareAttach or PrepareDetach was
 * request 'id' (the transition a SwitchReport is about), or NULL. */
Job *job_by_prepare(Manager *m, const Domain *d, const char *mac, uint64_t id);
/* The agent's SwitchReport for the job's port: kept, on the bus, logged. */
void job_set_traffic(Job *j, const Vfo__SwitchReport *r);
/* "clean": the guest reported the move and saw no drop; "lossy": it saw
 * drops, the host's taps of the port dropped frames while the job ran, or
 * the VF was taken away without the agent (frames in flight to it are lost
 * where the guest cannot count them); "unknown": no report (an agent
 * without loss accounting, or the job did not move the port). */
const char *job_loss(const Job *j);

/* libvirt told us a device is gone / could not be removed. */
void job_device_removed(Job *j, const char *alias);
void job_device_removal_failed(Job *j, const char *alias);
/* The domain stopped or vanished, or its agent went away. */
void job_domain_lost(Job *j, const char *why);

/* The state change points of a job, for the kinds (job.c, migrate.c).
 * job_set_phase() makes only the moves job_phase_allowed(); job_advance()
 * makes the next one. */
void job_set_phase(Job *j, JobPhase phase);
void job_advance(Job *j);
void job_finish(Job *j, JobState state);
void job_fail(Job *j, VfoError error, const char *format, ...) _printf_(3, 4);

/* A log line of job 'j' with its structured fields for the journal (JOB=,
 * DOMAIN=, MAC= of its port, VF= of its VF, POOL=): journalctl -u vfod
 * JOB=12 or DOMAIN=web1 finds every line of it. */
#define JOB_LOG_FIELDS 6
typedef struct JobLogFields {
        const char *v[JOB_LOG_FIELDS];
        char buf[JOB_LOG_FIELDS - 1][300];
} JobLogFields;
const char *const *job_log_fields(const Job *j, JobLogFields *f);
#define log_job_full_errno(j, level, error, ...)                                                 \
        ({                                                                                        \
                JobLogFields _jf_;                                                                \
                log_fields_full_errno(level, error, job_log_fields(j, &_jf_), __VA_ARGS__);       \
        })
#define log_job_debug(j, ...) (void) log_job_full_errno(j, LOG_DEBUG, 0, __VA_ARGS__)
#define log_job_info(j, ...) (void) log_job_full_errno(j, LOG_INFO, 0, __VA_ARGS__)
#define log_job_warning(j, ...) (void) log_job_full_errno(j, LOG_WARNING, 0, __VA_ARGS__)
#define log_job_error(j, ...) (void) log_job_full_errno(j, LOG_ERR, 0, __VA_ARGS__)
#define log_job_debug_errno(j, error, ...) log_job_full_errno(j, LOG_DEBUG, error, __VA_ARGS__)
#define log_job_info_errno(j, error, ...) log_job_full_errno(j, LOG_INFO, error, __VA_ARGS__)
#define log_job_warning_errno(j, error, ...) log_job_full_errno(j, LOG_WARNING, error, __VA_ARGS__)
#define log_job_error_errno(j, error, ...) log_job_full_errno(j, LOG_ERR, error, __VA_ARGS__)
