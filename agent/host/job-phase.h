/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kinds of job, their phases, and the moves between them
 * (agent/host/job-phase.c): pure, without the rest of vfod. */
#pragma once

#include <stdbool.h>

#include "lib/macro.h"

typedef enum JobKind {
        JOB_ATTACH,
        JOB_DETACH,
        JOB_MIGRATE,
        _JOB_KIND_MAX,
        _JOB_KIND_INVALID = -1,
} JobKind;

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

const char *job_kind_to_string(JobKind k) _const_;
JobKind job_kind_from_string(const char *s) _pure_;
const char *job_phase_to_string(JobPhase p) _const_;
JobPhase job_phase_from_string(const char *s) _pure_;

/* The phase after 'from' when its work is done, for a graceful or an
 * abrupt job (_JOB_PHASE_INVALID: none, the job ends there). */
JobPhase job_phase_next(JobKind kind, JobPhase from, bool abrupt) _const_;
/* Whether a job of 'kind' ever moves from 'from' to 'to': to the next
 * phase, to ROLLING_BACK from any of its phases but the ends (DONE,
 * ROLLING_BACK), and the two shortcuts job-phase.c names. */
bool job_phase_allowed(JobKind kind, JobPhase from, JobPhase to) _const_;
