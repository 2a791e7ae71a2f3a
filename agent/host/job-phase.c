/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The phases of each kind of job and the moves between them: a pure
 * function of the kind, the phase and how the job goes (graceful or
 * abrupt), tested by tests/unit/test-job-phase.c. job_set_phase() refuses
 * (and logs) a move this table does not have. */
#include "agent/host/job-phase.h"
#include "lib/string-table.h"

static const char *const job_kind_table[_JOB_KIND_MAX] = {
        [JOB_ATTACH] = "attach",
        [JOB_DETACH] = "detach",
        [JOB_MIGRATE] = "migrate",
};
DEFINE_STRING_TABLE_LOOKUP(job_kind, JobKind, _JOB_KIND_MAX);

static const char *const job_phase_table[_JOB_PHASE_MAX] = {
        [JOB_PHASE_CHECKING] = "checking",
        [JOB_PHASE_CLAIMING] = "claiming",
        [JOB_PHASE_PROGRAMMING] = "programming",
        [JOB_PHASE_PREPARING] = "preparing",
        [JOB_PHASE_PLUGGING] = "plugging",
        [JOB_PHASE_WAITING_AGENT] = "waiting-agent",
        [JOB_PHASE_STEERING] = "steering",
        [JOB_PHASE_SWITCHING] = "switching",
        [JOB_PHASE_UNPLUGGING] = "unplugging",
        [JOB_PHASE_RELEASING] = "releasing",
        [JOB_PHASE_CLAIMING_DESTINATION] = "claiming-destination",
        [JOB_PHASE_DETACHING] = "detaching",
        [JOB_PHASE_MIGRATING] = "migrating",
        [JOB_PHASE_ROLLING_BACK] = "rolling-back",
        [JOB_PHASE_DONE] = "done",
};
DEFINE_STRING_TABLE_LOOKUP(job_phase, JobPhase, _JOB_PHASE_MAX);

/* The phase after 'from' when its work is done. */
JobPhase job_phase_next(JobKind kind, JobPhase from, bool abrupt) {
        switch (kind) {
        case JOB_ATTACH:
                switch (from) {
                case JOB_PHASE_CHECKING:
                case JOB_PHASE_CLAIMING:        return JOB_PHASE_PROGRAMMING;
                case JOB_PHASE_PROGRAMMING:     return abrupt ? JOB_PHASE_PLUGGING : JOB_PHASE_PREPARING;
                case JOB_PHASE_PREPARING:       return JOB_PHASE_PLUGGING;
                case JOB_PHASE_PLUGGING:        return abrupt ? JOB_PHASE_STEERING : JOB_PHASE_WAITING_AGENT;
                case JOB_PHASE_WAITING_AGENT:   return JOB_PHASE_STEERING;
                case JOB_PHASE_STEERING:        return abrupt ? JOB_PHASE_DONE : JOB_PHASE_SWITCHING;
                case JOB_PHASE_SWITCHING:       return JOB_PHASE_DONE;
                default:                        return _JOB_PHASE_INVALID;
                }
        case JOB_DETACH:
                switch (from) {
                case JOB_PHASE_CHECKING:        return abrupt ? JOB_PHASE_STEERING : JOB_PHASE_PREPARING;
                case JOB_PHASE_PREPARING:       return JOB_PHASE_STEERING;
                case JOB_PHASE_STEERING:        return abrupt ? JOB_PHASE_UNPLUGGING : JOB_PHASE_SWITCHING;
                case JOB_PHASE_SWITCHING:       return JOB_PHASE_UNPLUGGING;
                case JOB_PHASE_UNPLUGGING:      return JOB_PHASE_RELEASING;
                case JOB_PHASE_RELEASING:       return JOB_PHASE_DONE;
                default:                        return _JOB_PHASE_INVALID;
                }
        case JOB_MIGRATE:
                switch (from) {
                case JOB_PHASE_CHECKING:                return JOB_PHASE_CLAIMING_DESTINATION;
                case JOB_PHASE_CLAIMING_DESTINATION:    return JOB_PHASE_DETACHING;
                case JOB_PHASE_DETACHING:               return JOB_PHASE_MIGRATING;
                case JOB_PHASE_MIGRATING:               return JOB_PHASE_DONE;
                default:                                return _JOB_PHASE_INVALID;
                }
        default:
                return _JOB_PHASE_INVALID;
        }
}

/* The moves that are not the next phase of a graceful or an abrupt job. */
static bool job_phase_shortcut(JobKind kind, JobPhase from, JobPhase to) {
        switch (kind) {
        case JOB_ATTACH:
                /* the agent is busy: PrepareAttach again */
                return from == JOB_PHASE_PREPARING && to == JOB_PHASE_PROGRAMMING;
        case JOB_DETACH:
                /* the guest is shut off: nothing to unplug; the agent is
                 * busy: PrepareDetach again. (A detach that goes abrupt
                 * when the agent fails it, AbruptFallback=, goes on to
                 * the next phase from PREPARING or SWITCHING.) */
                return (from == JOB_PHASE_CHECKING && to == JOB_PHASE_RELEASING) ||
                       (from == JOB_PHASE_PREPARING && to == JOB_PHASE_CHECKING);
        default:
                return false;
        }
}

static bool job_phase_of(JobKind kind, JobPhase p) {
        return job_phase_next(kind, p, false) >= 0 || job_phase_next(kind, p, true) >= 0;
}

bool job_phase_allowed(JobKind kind, JobPhase from, JobPhase to) {
        if (from < 0 || from >= _JOB_PHASE_MAX || to < 0 || to >= _JOB_PHASE_MAX || kind < 0 || kind >= _JOB_KIND_MAX)
                return false;
        if (!job_phase_of(kind, from))
                return false;   /* not a phase of this kind, or an end: DONE, ROLLING_BACK (job_finish()) */
        if (to == JOB_PHASE_ROLLING_BACK)
                return true;    /* any failure */
        return job_phase_next(kind, from, false) == to || job_phase_next(kind, from, true) == to ||
               job_phase_shortcut(kind, from, to);
}
