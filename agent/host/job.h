/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Jobs: the graceful detach and attach of one port, step by step as
 * DESIGN.md sequences them. Each step has a deadline; a failure rolls back
 * to the last state that carried traffic. A job is driven by callbacks
 * (agent replies, libvirt's calls and DEVICE_REMOVED, timers); it never
 * blocks the loop: its libvirt calls run off it (virt_call()). */
#pragma once

#include "agent/host/manager.h"

typedef enum JobKind {
        JOB_ATTACH,
        JOB_DETACH,
        JOB_MIGRATE,
        _JOB_KIND_MAX,
        _JOB_KIND_INVALID = -1,
} JobKind;

typedef enum JobReason {
        JOB_REASON_USER,        /* D-Bus / vfoctl */
        JOB_REASON_SCHEDULER,   /* a free VF went to a waiting port */
        JOB_REASON_PREEMPT,     /* a higher-priority port needs this VF */
        JOB_REASON_RECOVERY,    /* finishing a job a restart interrupted */
        JOB_REASON_POLICY,      /* the domain opted out or changed pool */
        JOB_REASON_MIGRATE,     /* part of a migration: VFs out before, back after a failure */
        _JOB_REASON_MAX,
        _JOB_REASON_INVALID = -1,
} JobReason;

typedef enum JobPhase {
        JOB_PHASE_CHECKING,
        JOB_PHASE_CLAIMING,
        JOB_PHASE_PROGRAMMING,
        JOB_PHASE_PREPARING,
        JOB_PHASE_PLUGGING,
        JOB_PHASE_WAITING_AGENT,
        JOB_PHASE_STEERING,
        JOB_PHASE_SWITCHING,
        JOB_PHASE_UNPLUGGING,
        JOB_PHASE_RELEASING,
        JOB_PHASE_CLAIMING_DESTINATION,
        JOB_PHASE_DETACHING,
        JOB_PHASE_MIGRATING,
        JOB_PHASE_ROLLING_BACK,
        JOB_PHASE_DONE,
        _JOB_PHASE_MAX,
        _JOB_PHASE_INVALID = -1,
} JobPhase;

typedef enum JobState {
        JOB_RUNNING,
        JOB_DONE,
        JOB_FAILED,
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -1,
} JobState;

const char *job_kind_to_string(JobKind k) _const_;
JobKind job_kind_from_string(const char *s) _pure_;
const char *job_reason_to_string(JobReason r) _const_;
const char *job_phase_to_string(JobPhase p) _const_;
JobPhase job_phase_from_string(const char *s) _pure_;
const char *job_state_to_string(JobState s) _const_;

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
        char *error;            /* D-Bus error name */
        char *error_message;
        char *fallback;         /* why the agent was not used, if it was not */
        bool abrupt;
        bool plugged;           /* attach: the device went in */
        bool steered;           /* steering moved to the new path */
        bool switched;          /* the agent moved transmit */
        usec_t start_realtime, finish_realtime;
        usec_t start, libvirt_usec, agent_usec, step_start;
        sd_event_source *timer;
        int64_t request;        /* pending agent request */
        int64_t barrier;
        int64_t attach_request; /* PrepareAttach: answered with AttachReady later */
        VirtCall *virt_call;    /* the job's libvirt call under way */
        VirtOp virt_op;
        usec_t virt_start;
        Vfo__PathKind rollback_path;

        /* migrate (agent/host/migrate.c) */
        Job *parent;            /* the migration a detach/attach belongs to */
        unsigned children;      /* running child jobs */
        char *child_error;      /* the first child's failure */
        char *destination;
        char *destination_bus;
        char *migrate_uri;
        char *listen_address;
        uint64_t bandwidth;
        bool live, p2p, persistent, undefine_source, resume, managed_switchover;
        usec_t timeout;
        bool cancel_requested;
        pid_t helper_pid;
        sd_event_source *helper_child;
        sd_event_source *helper_io;
        int helper_fd;
        char helper_out[1024];
        size_t n_helper_out;
        sd_event_source *progress_timer;
        unsigned migrate_progress;
        sd_bus *dest_bus;
        sd_bus_slot *dest_slot;
        int handover;           /* 0 not yet, 1 asked, 2 done (QEMU switches over), -1 not possible */
        bool downtime_held;     /* QEMU's own switchover held off until the handover */
        uint64_t last_remaining; /* bytes left at the previous progress poll (0: none yet) */
        usec_t last_poll;       /* CLOCK_MONOTONIC of that poll */
        sd_event_source *handover_timer;
        VirtCall *poll_call;    /* job stats */
        VirtCall *knob_call;    /* the maximum downtime */
        uint64_t knob_ms;       /* what knob_call sets */
};

/* Starts a job on 'port' (which must have none). Attach: 'vf' claimed by
 * the caller (or NULL: the first free VF of the port's pool). The job
 * registers itself with the manager and the bus. */
int job_start(Manager *m, JobKind kind, JobReason reason, Port *port, Vf *vf, Job **ret);
Job *job_free(Job *j);
unsigned job_progress(const Job *j);

/* libvirt told us a device is gone / could not be removed. */
void job_device_removed(Job *j, const char *alias);
void job_device_removal_failed(Job *j, const char *alias);
/* The domain stopped or vanished, or its agent went away. */
void job_domain_lost(Job *j, const char *why);

/* For agent/host/migrate.c: the state change points of job.c. */
void job_set_phase(Job *j, JobPhase phase);
void job_finish(Job *j, JobState state);
void job_fail(Job *j, const char *error, const char *format, ...) _printf_(3, 4);
int job_register(Manager *m, Job *j);

/* migrate.c */
typedef struct MigrateRequest {
        const char *destination;
        const char *destination_bus;
        const char *migrate_uri;
        const char *listen_address;
        uint64_t bandwidth;
        bool live, p2p, persistent, undefine_source, resume, managed_switchover;
        usec_t timeout;
} MigrateRequest;
int migrate_start(Manager *m, Domain *d, const MigrateRequest *req, Job **ret);
void migrate_child_finished(Job *parent, Job *child);
void migrate_rollback(Job *j);
int migrate_cancel(Job *j);
void migrate_job_done(Job *j);          /* frees the migration's resources */
/* vfod --migrate-helper: the child process that runs the blocking libvirt call */
int migrate_helper_main(int argc, char *argv[]);
