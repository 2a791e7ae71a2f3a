/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's crash-safe journal: every VF claim and every in-flight job phase.
 * The whole state is rewritten on each change into a temporary file, which
 * is fsync'd and renamed over the old one (and the directory fsync'd), so a
 * crash leaves either the old or the new state, never a mix. The format is
 * one record per line, fields separated by spaces, so an admin can read it:
 *
 *   vfo-journal 1
 *   next-job N
 *   claim VF DOMAIN-UUID MAC
 *   job ID KIND DOMAIN-UUID MAC VF PHASE
 *
 * VF, MAC and PHASE are tokens without spaces; KIND is "attach" or "detach".
 * Unknown record types are an error (a newer vfod wrote the file). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

typedef struct JournalState {
        JournalClaim *claims;
        size_t n_claims;
        JournalJob *jobs;
        size_t n_jobs;
        uint64_t next_job_id;   /* "next-job N" record: job ids are never reused */
} JournalState;

void journal_state_done(JournalState *s);

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
 * twice or not below next_job_id); nothing is written. On any other failure
 * before the rename, 'path' keeps its old content and "PATH.tmp" is removed.
 * A failing fsync of the directory after the rename returns its errno: the
 * new state is in place but may not survive a power loss. */
int journal_write(const char *path, const JournalState *state);
