/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's crash-safe journal: every VF claim and every in-flight job phase.
 * The whole state is rewritten into a temporary file, which is fsync'd and
 * renamed over the old one (and the directory fsync'd), so a crash leaves
 * either the old or the new state, never a mix; when it is rewritten is the
 * business of the running journal below. The format is one record per line,
 * fields separated by spaces, so an admin can read it:
 *
 *   vfo-journal 1
 *   next-job N
 *   claim VF DOMAIN-UUID MAC
 *   job ID KIND DOMAIN-UUID MAC VF PHASE
 *   drained POOL
 *
 * VF, MAC and PHASE are tokens without spaces; KIND is "attach" or "detach";
 * POOL is a pool name as vfod.conf allows it (a drained pool grants no VF
 * until restored: vfoctl drain). A journal without "drained" records (as
 * older vfods wrote) has nothing drained. Unknown record types are an error
 * (a newer vfod wrote the file). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sd_event sd_event;

typedef struct JournalClaim {
        char vf[64];            /* VF id: PCI address, or "POOL-N" for the emulated pool */
        char domain[37];        /* UUID */
        char mac[18];
} JournalClaim;

typedef struct JournalJob {
        uint64_t id;
        char kind[16];          /* "attach" | "detach" */
        char domain[37];
        char mac[18];
        char vf[64];
        char phase[32];
} JournalJob;

typedef struct JournalDrained {
        char pool[64];          /* [A-Za-z0-9_.-]{1,63}, as vfod.conf's [Pool NAME] */
} JournalDrained;

typedef struct JournalState {
        JournalClaim *claims;
        size_t n_claims;
        JournalJob *jobs;
        size_t n_jobs;
        JournalDrained *drained;
        size_t n_drained;
        uint64_t next_job_id;   /* "next-job N" record: job ids are never reused */
} JournalState;

void journal_state_done(JournalState *s);
/* The same claims, jobs and drained pools, in the same order, and the same
 * next job id. */
bool journal_state_equal(const JournalState *a, const JournalState *b);

/* Reads 'path'. A missing file is an empty state (0). A malformed file is
 * -EBADMSG with "FILE:LINE: reason" in 'ret_message'; other errors say
 * "FILE: reason". On any error 'ret' is left empty. Free with
 * journal_state_done(). */
int journal_read(const char *path, JournalState *ret, char **ret_message);
/* Same, from a stream named 'name' in messages (the fuzz target). */
int journal_parse(FILE *f, const char *name, JournalState *ret, char **ret_message);
/* Writes 'state' atomically to 'path' (tmp + fsync + rename + fsync dir).
 * Returns 0 or a negative errno. -EINVAL: 'state' holds something
 * journal_read() would refuse (a bad field, a VF claimed twice, a job id
 * twice or not below next_job_id, a pool drained twice); nothing is written. On any other failure
 * before the rename, 'path' keeps its old content and "PATH.tmp" is removed.
 * A failing fsync of the directory after the rename returns its errno: the
 * new state is in place but may not survive a power loss. */
int journal_write(const char *path, const JournalState *state);

/* How many set-aside copies of an unreadable journal are kept. */
#define JOURNAL_CORRUPT_KEEP 5U

/* Moves the journal at 'path' aside to "PATH.corrupt-YYYYMMDDTHHMMSSZ"
 * ('now_realtime_usec' as UTC; "-2" to "-9" appended when the name is taken,
 * never replacing a file), then removes the oldest such copies beyond
 * JOURNAL_CORRUPT_KEEP (by name; never the new one). Returns 0 and the new
 * path in 'ret_path', or a negative errno with 'path' where it was. */
int journal_set_aside(const char *path, uint64_t now_realtime_usec, char **ret_path);

/* ------------------------------------------------------------------------
 * The running journal (journal-writer.c): the journal of a vfod, written
 * from its sd-event loop.
 *
 * A change does not write the journal: it marks it dirty, and the whole
 * state (from the 'build' callback) is written once, from a defer source
 * that runs before every other event source. sd-event dispatches one source
 * per loop iteration, so all the changes one handler makes cost one write,
 * and they are on disk before the next handler runs. A state equal to the
 * one last written is not written again. A pending change is written at
 * sd_event_exit() (from an exit source) and by journal_free().
 *
 * The rule for callers: what recovery depends on must be on disk before
 * the outside action it describes. A handler that changes the journaled
 * state (a claim, a job) and then, in the same handler, acts outside vfod
 * on it (plugs or unplugs a device through libvirt, programs or steers a
 * VF, tells an agent to switch) calls journal_flush() between the two.
 * Changes that give something back (a job finished, a claim released) are
 * left to the deferred write: a crash before they are on disk looks like a
 * crash a moment earlier, which reconcile handles (a claim with nothing
 * plugged is released, a job with nothing to finish is dropped). Jobs follow
 * the rule by their shape: job_start() journals the job and its claim, and
 * the job's first step runs from a defer source of its own, after the
 * write. A failed write is logged and stays pending; the next change, flush
 * or exit tries again. It does not stop what the caller does next.
 *
 * Nothing is written before journal_load() has read the file back, or
 * moved it aside when it could not be read. */
typedef struct Journal Journal;

/* Fills 'ret' with the state to write. On failure 'ret' may hold part of
 * it; the caller frees it with journal_state_done(). */
typedef int (*JournalBuildFn)(void *userdata, JournalState *ret);

int journal_new(sd_event *event, const char *path, JournalBuildFn build, void *userdata, Journal **ret);
/* Writes a pending change, then frees. */
Journal *journal_free(Journal *j);
/* Reads the journal at start-up into 'ret'. A missing file is an empty
 * state (0). A file that cannot be read (it does not parse, fails a check,
 * or reading fails) is moved aside with journal_set_aside() before anything
 * could overwrite it, logged at warning level with the new name and what
 * was wrong ("FILE:LINE: reason"), and 'ret' is empty: 1. If it cannot be
 * moved aside, that is logged as an error, 'ret' is empty, and this journal
 * writes nothing until vfod restarts: a negative errno. */
int journal_load(Journal *j, JournalState *ret);
void journal_mark_dirty(Journal *j);
/* Writes a pending change now (see the rule above). 0 when written or when
 * nothing was pending, else the logged negative errno. */
int journal_flush(Journal *j);
/* How many times the file was written (tests). */
uint64_t journal_get_n_writes(const Journal *j);
