/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: hostile bytes as vfod's journal (agent/host/journal.c). A
 * journal that parses must hold what journal.h promises, and journal_write()
 * must take it and write what reads back the same; one that does not parse
 * must leave nothing behind and name the file. Built for libFuzzer by 'make
 * fuzz' and replayed over its corpus by 'make check'.
 *
 * The round trip writes into a private directory (TMPDIR, else /dev/shm,
 * else /tmp) that is removed at exit. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/host/journal.h"
#include "lib/macro.h"

#define FUZZ_NAME "journal"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_dir, *fuzz_path, *fuzz_tmp;

static void fuzz_cleanup(void) {
        if (fuzz_tmp)
                (void) unlink(fuzz_tmp);
        if (fuzz_path)
                (void) unlink(fuzz_path);
        if (fuzz_dir)
                (void) rmdir(fuzz_dir);
}

/* The journal file of the round trip, or NULL if there is no place for it. */
static const char *fuzz_journal_path(void) {
        static bool done;
        const char *base = getenv("TMPDIR");

        if (done)
                return fuzz_path;
        done = true;

        if (!base || !*base)
                base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        if (asprintf(&fuzz_dir, "%s/vfo-fuzz-journal.XXXXXX", base) < 0) {
                fuzz_dir = NULL;
                return NULL;
        }
        if (!mkdtemp(fuzz_dir)) {
                fuzz_dir = mfree(fuzz_dir);
                return NULL;
        }
        if (asprintf(&fuzz_path, "%s/journal", fuzz_dir) < 0 || asprintf(&fuzz_tmp, "%s/journal.tmp", fuzz_dir) < 0) {
                (void) rmdir(fuzz_dir);
                return NULL;
        }
        (void) atexit(fuzz_cleanup);
        return fuzz_path;
}

static bool terminated(const char *s, size_t size) {
        return memchr(s, '\0', size) != NULL && s[0] != '\0';
}

static void check_state(const JournalState *s) {
        if ((s->n_claims > 0 && !s->claims) || (s->n_jobs > 0 && !s->jobs) || (s->n_drained > 0 && !s->drained))
                abort();
        for (size_t i = 0; i < s->n_drained; i++) {
                const char *pool = s->drained[i].pool;

                if (!terminated(pool, sizeof(s->drained[i].pool)) || strspn(pool, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                                   "abcdefghijklmnopqrstuvwxyz"
                                                                                   "0123456789_.-") != strlen(pool))
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->drained[j].pool, pool) == 0)
                                abort();        /* a pool is drained once */
        }
        for (size_t i = 0; i < s->n_claims; i++) {
                const JournalClaim *c = &s->claims[i];

                if (!terminated(c->vf, sizeof(c->vf)) || strlen(c->domain) != 36 || strlen(c->mac) != 17)
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->claims[j].vf, c->vf) == 0)
                                abort();        /* a VF is claimed once */
        }
        for (size_t i = 0; i < s->n_jobs; i++) {
                const JournalJob *j = &s->jobs[i];

                if (j->id == 0 || j->id >= s->next_job_id)
                        abort();
                if ((strcmp(j->kind, "attach") != 0 && strcmp(j->kind, "detach") != 0) ||
                    strlen(j->domain) != 36 || strlen(j->mac) != 17 || !terminated(j->vf, sizeof(j->vf)) ||
                    !terminated(j->phase, sizeof(j->phase)))
                        abort();
                for (size_t k = 0; k < i; k++)
                        if (s->jobs[k].id == j->id)
                                abort();
        }
}

/* What journal_read() takes, journal_write() writes, and it reads back the same. */
static void check_round_trip(const JournalState *s) {
        _cleanup_(journal_state_done) JournalState again = {};
        _cleanup_free_ char *message = NULL;
        const char *path = fuzz_journal_path();
        int r;

        if (!path)
                return;
        r = journal_write(path, s);
        if (r == -EINVAL)
                abort();
        if (r < 0)
                return;                 /* the disk, not the journal */
        r = journal_read(path, &again, &message);
        if (r < 0 || !journal_state_equal(s, &again))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(journal_state_done) JournalState s = {};
        _cleanup_free_ char *message = NULL, *copy = NULL;
        FILE *f;
        int r;

        /* A copy: fmemopen() wants a writable buffer. */
        copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        f = fmemopen(copy, size, "r");
        if (!f)
                return 0;
        r = journal_parse(f, FUZZ_NAME, &s, &message);
        fclose(f);

        if (r >= 0) {
                if (message)
                        abort();
                check_state(&s);
                check_round_trip(&s);
                return 0;
        }
        /* On any error 'ret' is left empty, and the message names the file. */
        if (s.claims || s.jobs || s.drained || s.n_claims || s.n_jobs || s.n_drained || s.next_job_id)
                abort();
        if (r != -ENOMEM && (!message || strncmp(message, FUZZ_NAME ":", strlen(FUZZ_NAME ":")) != 0))
                abort();
        return 0;
}
