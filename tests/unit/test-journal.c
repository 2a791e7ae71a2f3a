/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's journal: round trip, every malformed record refused with its line,
 * and a failed write leaves the old state (and no PATH.tmp) behind. The
 * running journal: an unreadable file is kept aside (and the copies are
 * bounded), the changes of one loop iteration are one write that is on disk
 * before the next handler runs, and a pending change is written at exit. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <systemd/sd-event.h>

#include "agent/host/journal.h"
#include "lib/macro.h"

#define UUID1 "8a3c7e52-1f0b-4c8e-9d1a-6b2f4e5d7c90"
#define UUID2 "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"

typedef struct Fixture {
        char *dir;
        char *path;     /* DIR/journal */
        char *tmp;      /* DIR/journal.tmp */
} Fixture;

static int setup(void **state) {
        const char *t = getenv("TMPDIR");
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        assert_true(asprintf(&f->dir, "%s/vfo-journal.XXXXXX", t && *t ? t : "/tmp") > 0);
        assert_non_null(mkdtemp(f->dir));
        assert_true(asprintf(&f->path, "%s/journal", f->dir) > 0);
        assert_true(asprintf(&f->tmp, "%s/journal.tmp", f->dir) > 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *cmd = NULL;

        (void) chmod(f->dir, 0700);
        assert_true(asprintf(&cmd, "rm -rf '%s'", f->dir) > 0);
        assert_int_equal(system(cmd), 0);
        free(f->dir);
        free(f->path);
        free(f->tmp);
        free(f);
        return 0;
}

static void write_text(const char *path, const char *text, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, size), (ssize_t) size);
        assert_int_equal(close(fd), 0);
}

/* The file's content, NUL-terminated (malloc'd). */
static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        char *text = calloc(1, 65536);
        size_t n;

        assert_non_null(f);
        assert_non_null(text);
        n = fread(text, 1, 65535, f);
        text[n] = '\0';
        fclose(f);
        return text;
}

static bool exists(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0;
}

static JournalState sample_state(void) {
        static JournalClaim claims[] = {
                { .vf = "0000:03:00.2", .domain = UUID1, .mac = "52:54:00:12:34:56" },
                { .vf = "lab-3", .domain = UUID2, .mac = "52:54:00:AB:cd:EF" },
        };
        static JournalJob jobs[] = {
                { .id = 7, .kind = "attach", .domain = UUID1, .mac = "52:54:00:12:34:56",
                  .vf = "0000:03:00.2", .phase = "wait-plugged" },
                { .id = 41, .kind = "detach", .domain = UUID2, .mac = "52:54:00:ab:cd:ef", .vf = "lab-3",
                  .phase = "unplug" },
        };

        static JournalDrained drained[] = {
                { .pool = "lab" },
                { .pool = "fast_2.b-c" },
        };

        return (JournalState) {
                .claims = claims,
                .n_claims = ELEMENTSOF(claims),
                .jobs = jobs,
                .n_jobs = ELEMENTSOF(jobs),
                .drained = drained,
                .n_drained = ELEMENTSOF(drained),
                .next_job_id = 42,
        };
}

static const char sample_text[] = "vfo-journal 1\n"
                                  "next-job 42\n"
                                  "claim 0000:03:00.2 " UUID1 " 52:54:00:12:34:56\n"
                                  "claim lab-3 " UUID2 " 52:54:00:AB:cd:EF\n"
                                  "job 7 attach " UUID1 " 52:54:00:12:34:56 0000:03:00.2 wait-plugged\n"
                                  "job 41 detach " UUID2 " 52:54:00:ab:cd:ef lab-3 unplug\n"
                                  "drained lab\n"
                                  "drained fast_2.b-c\n";

static void assert_state_equal(const JournalState *a, const JournalState *b) {
        assert_int_equal(a->next_job_id, b->next_job_id);
        assert_int_equal(a->n_claims, b->n_claims);
        assert_int_equal(a->n_jobs, b->n_jobs);
        assert_int_equal(a->n_drained, b->n_drained);
        for (size_t i = 0; i < a->n_drained; i++)
                assert_string_equal(a->drained[i].pool, b->drained[i].pool);
        assert_true(journal_state_equal(a, b));
        for (size_t i = 0; i < a->n_claims; i++) {
                assert_string_equal(a->claims[i].vf, b->claims[i].vf);
                assert_string_equal(a->claims[i].domain, b->claims[i].domain);
                assert_string_equal(a->claims[i].mac, b->claims[i].mac);
        }
        for (size_t i = 0; i < a->n_jobs; i++) {
                assert_int_equal(a->jobs[i].id, b->jobs[i].id);
                assert_string_equal(a->jobs[i].kind, b->jobs[i].kind);
                assert_string_equal(a->jobs[i].domain, b->jobs[i].domain);
                assert_string_equal(a->jobs[i].mac, b->jobs[i].mac);
                assert_string_equal(a->jobs[i].vf, b->jobs[i].vf);
                assert_string_equal(a->jobs[i].phase, b->jobs[i].phase);
        }
}

static void test_journal_round_trip(void **state) {
        Fixture *f = *state;
        JournalState in = sample_state(), out = {}, empty = {};
        _cleanup_free_ char *text = NULL, *msg = NULL;
        struct stat st;

        assert_int_equal(journal_write(f->path, &in), 0);
        assert_false(exists(f->tmp));
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* The format of journal.h, readable by an admin. */
        text = read_text(f->path);
        assert_string_equal(text, sample_text);

        assert_int_equal(journal_read(f->path, &out, &msg), 0);
        assert_null(msg);
        assert_state_equal(&in, &out);
        journal_state_done(&out);
        assert_null(out.claims);
        assert_null(out.jobs);
        assert_null(out.drained);
        assert_int_equal(out.n_claims + out.n_jobs + out.n_drained + out.next_job_id, 0);

        /* Rewriting replaces the whole state, down to empty. */
        empty.next_job_id = 43;
        assert_int_equal(journal_write(f->path, &empty), 0);
        assert_false(exists(f->tmp));
        text = mfree(text);
        text = read_text(f->path);
        assert_string_equal(text, "vfo-journal 1\nnext-job 43\n");
        assert_int_equal(journal_read(f->path, &out, NULL), 0);
        assert_state_equal(&empty, &out);
        journal_state_done(&out);

        /* A relative path works too (the directory to fsync is "."). */
        {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                assert_non_null(cwd);
                assert_int_equal(chdir(f->dir), 0);
                assert_int_equal(journal_write("journal", &in), 0);
                assert_int_equal(chdir(cwd), 0);
                assert_int_equal(journal_read(f->path, &out, NULL), 0);
                assert_state_equal(&in, &out);
                journal_state_done(&out);
        }
}

static void test_journal_missing_is_empty(void **state) {
        Fixture *f = *state;
        JournalState s = { .n_claims = 99 };
        char *msg = NULL;

        assert_int_equal(journal_read(f->path, &s, &msg), 0);
        assert_null(msg);
        assert_null(s.claims);
        assert_null(s.jobs);
        assert_int_equal(s.n_claims, 0);
        assert_int_equal(s.n_jobs, 0);
        assert_int_equal(s.next_job_id, 0);
        journal_state_done(&s);

        /* Other errors are errors. */
        assert_int_equal(journal_read(f->dir, &s, &msg), -EISDIR);
        assert_non_null(msg);
        free(msg);
}

static void test_journal_malformed(void **state) {
#define H "vfo-journal 1\nnext-job 9\n"
#define CLAIM "claim 0000:03:00.2 " UUID1 " 52:54:00:12:34:56\n"
#define JOB(id, kind, vf, phase) "job " id " " kind " " UUID1 " 52:54:00:12:34:56 " vf " " phase "\n"
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                { "", ":1: empty file, expected 'vfo-journal 1'" },
                { "vfo-journal 2\nnext-job 1\n", ":1: unsupported journal version '2' (this vfod reads 1)" },
                { "vfo-journal\n", ":1: not a vfo journal: expected 'vfo-journal 1'" },
                { "[Daemon]\n", ":1: not a vfo journal: expected 'vfo-journal 1'" },
                { "vfo-journal 1\n", ":1: no next-job record" },
                { H "\n", ":3: empty record" },
                { H "lease 0000:03:00.2\n", ":3: unknown record type 'lease' (written by a newer vfod?)" },
                { H CLAIM "next-job 10\n", ":4: second next-job record (the first is on line 2)" },
                { "vfo-journal 1\nnext-job -1\n", ":2: invalid next-job '-1'" },
                { "vfo-journal 1\nnext-job 18446744073709551616\n",
                  ":2: invalid next-job '18446744073709551616'" },
                { "vfo-journal 1\nnext-job\n", ":2: next-job needs 1 field, got 0" },
                /* claim */
                { H "claim 0000:03:00.2 " UUID1 "\n",
                  ":3: claim needs 3 fields (VF DOMAIN-UUID MAC), got 2" },
                { H CLAIM "claim a/b " UUID1 " 52:54:00:12:34:56\n", ":4: invalid VF 'a/b'" },
                { H "claim 0123456789012345678901234567890123456789012345678901234567890123 " UUID1
                    " 52:54:00:12:34:56\n",
                  ":3: invalid VF '0123456789012345678901234567890123456789012345678901234567890123'" },
                { H "claim vf0 8a3c7e52-1f0b-4c8e-9d1a-6b2f4e5d7c9 52:54:00:12:34:56\n",
                  ":3: invalid domain UUID '8a3c7e52-1f0b-4c8e-9d1a-6b2f4e5d7c9'" },
                { H "claim vf0 8a3c7e52-1f0b-4c8e-9d1a-6b2f4e5d7c9g 52:54:00:12:34:56\n",
                  ":3: invalid domain UUID '8a3c7e52-1f0b-4c8e-9d1a-6b2f4e5d7c9g'" },
                { H "claim vf0 " UUID1 " 52:54:00:12:34\n", ":3: invalid MAC '52:54:00:12:34'" },
                { H "claim vf0 " UUID1 " 52-54-00-12-34-56\n", ":3: invalid MAC '52-54-00-12-34-56'" },
                { H CLAIM "\n" CLAIM, ":4: empty record" },
                { H CLAIM "claim lab-1 " UUID2 " 52:54:00:00:00:01\n" CLAIM,
                  ":5: VF 0000:03:00.2 is claimed twice" },
                /* job */
                { H JOB("1", "attach", "vf0", "plug") "job 2 attach\n",
                  ":4: job needs 6 fields (ID KIND DOMAIN-UUID MAC VF PHASE), got 2" },
                { H JOB("1", "attach", "vf0", "plug")
                    "job 2 attach " UUID1 " 52:54:00:12:34:56 vf0 plug extra\n",
                  ":4: job needs 6 fields (ID KIND DOMAIN-UUID MAC VF PHASE), got 7" },
                { H JOB("x1", "attach", "vf0", "plug"), ":3: invalid job id 'x1'" },
                { H JOB("0", "attach", "vf0", "plug"), ":3: invalid job id '0'" },
                { H JOB("1", "move", "vf0", "plug"), ":3: invalid job kind 'move' (attach or detach)" },
                { H JOB("1", "attach", "vf 0", "plug"),
                  ":3: job needs 6 fields (ID KIND DOMAIN-UUID MAC VF PHASE), got 7" },
                { H JOB("1", "attach", "vf=0", "plug"), ":3: invalid VF 'vf=0'" },
                { H JOB("1", "attach", "vf0", "Plug"), ":3: invalid phase 'Plug'" },
                { H JOB("1", "attach", "vf0", "wait_plugged"), ":3: invalid phase 'wait_plugged'" },
                { H JOB("1", "attach", "vf0", "abcdefghijklmnopqrstuvwxyzabcdef"),
                  ":3: invalid phase 'abcdefghijklmnopqrstuvwxyzabcdef'" },
                { H "job 1 attach " UUID1 " 52:54:00:12:34:5 vf0 plug\n",
                  ":3: invalid MAC '52:54:00:12:34:5'" },
                { H "job 1 attach 8a3c7e521f0b4c8e9d1a6b2f4e5d7c90 52:54:00:12:34:56 vf0 plug\n",
                  ":3: invalid domain UUID '8a3c7e521f0b4c8e9d1a6b2f4e5d7c90'" },
                { H JOB("3", "attach", "vf0", "plug") JOB("4", "detach", "vf1", "unplug")
                    JOB("3", "detach", "vf2", "unplug"),
                  ":5: job 3 appears twice" },
                { H JOB("1", "attach", "vf0", "plug") JOB("9", "attach", "vf1", "plug"),
                  ":4: job 9 is not below next-job 9" },
                { "vfo-journal 1\n" JOB("12", "attach", "vf0", "plug") "next-job 9\n",
                  ":2: job 12 is not below next-job 9" },
                /* drained */
                { H "drained\n", ":3: drained needs 1 field (POOL), got 0" },
                { H "drained lab fast\n", ":3: drained needs 1 field (POOL), got 2" },
                { H "drained la/b\n", ":3: invalid pool name 'la/b'" },
                { H "drained 0000:03:00.2\n", ":3: invalid pool name '0000:03:00.2'" },
                { H "drained 0123456789012345678901234567890123456789012345678901234567890123\n",
                  ":3: invalid pool name '0123456789012345678901234567890123456789012345678901234567890123'" },
                { H "drained lab\n" CLAIM "drained fast\ndrained lab\n", ":6: pool lab is drained twice" },
                /* damage */
                { H CLAIM "claim lab-1 " UUID2 " 52:54:00:00:00:01",
                  ":4: truncated record (no newline at its end)" },
        };
#undef H
#undef CLAIM
#undef JOB
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                JournalState s = {};
                _cleanup_free_ char *msg = NULL;

                write_text(f->path, cases[i].text, strlen(cases[i].text));
                if (journal_read(f->path, &s, &msg) != -EBADMSG)
                        fail_msg("case %zu was not refused: %s", i, cases[i].text);
                assert_null(s.claims);
                assert_null(s.jobs);
                assert_non_null(msg);
                assert_int_equal(strncmp(msg, f->path, strlen(f->path)), 0);
                if (strcmp(msg + strlen(f->path), cases[i].message) != 0)
                        fail_msg("case %zu: got '%s', want '%s'", i, msg + strlen(f->path), cases[i].message);
        }
}

static void test_journal_damage(void **state) {
        Fixture *f = *state;
        static const char nul[] = "vfo-journal 1\nnext-job 1\nclaim vf0\0 " UUID1 " 52:54:00:12:34:56\n";
        _cleanup_free_ char *msg = NULL, *longline = NULL;
        JournalState s = {};

        write_text(f->path, nul, sizeof(nul) - 1);
        assert_int_equal(journal_read(f->path, &s, &msg), -EBADMSG);
        assert_string_equal(msg + strlen(f->path), ":3: NUL byte in record");
        msg = mfree(msg);

        longline = malloc(1024);
        assert_non_null(longline);
        strcpy(longline, "vfo-journal 1\nnext-job 1\nclaim ");
        memset(longline + strlen(longline), 'a', 600);
        strcpy(longline + 31 + 600, "\n");
        write_text(f->path, longline, strlen(longline));
        assert_int_equal(journal_read(f->path, &s, &msg), -EBADMSG);
        assert_string_equal(msg + strlen(f->path), ":3: line longer than 512 bytes");
}

/* Fields a reader would refuse are refused by the writer, which then does not touch the file. */
static void test_journal_write_refuses_invalid(void **state) {
        Fixture *f = *state;
        JournalState good = sample_state(), bad;
        JournalClaim claims[2];
        JournalJob job;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(journal_write(f->path, &good), 0);

        memcpy(claims, good.claims, sizeof(claims));
        bad = (JournalState) { .claims = claims, .n_claims = 2, .next_job_id = 1 };
        strcpy(claims[1].vf, "has space");
        assert_int_equal(journal_write(f->path, &bad), -EINVAL);
        strcpy(claims[1].vf, claims[0].vf);
        assert_int_equal(journal_write(f->path, &bad), -EINVAL);
        strcpy(claims[1].vf, "ok");
        strcpy(claims[1].mac, "52:54:00:12:34:5\n");
        assert_int_equal(journal_write(f->path, &bad), -EINVAL);
        strcpy(claims[1].mac, "52:54:00:12:34:57");
        assert_int_equal(journal_write(f->path, &bad), 0);
        assert_int_equal(journal_write(f->path, &good), 0);

        job = good.jobs[0];
        bad = (JournalState) { .jobs = &job, .n_jobs = 1, .next_job_id = job.id };
        assert_int_equal(journal_write(f->path, &bad), -EINVAL);
        bad.next_job_id = job.id + 1;
        strcpy(job.kind, "move");
        assert_int_equal(journal_write(f->path, &bad), -EINVAL);
        strcpy(job.kind, "detach");
        strcpy(job.phase, "Phase");
        assert_int_equal(journal_write(f->path, &bad), -EINVAL);
        job.id = 0;
        strcpy(job.phase, "phase");
        assert_int_equal(journal_write(f->path, &bad), -EINVAL);

        {
                JournalDrained drained[2] = { { .pool = "lab" }, { .pool = "lab" } };

                bad = (JournalState) { .drained = drained, .n_drained = 2, .next_job_id = 1 };
                assert_int_equal(journal_write(f->path, &bad), -EINVAL);
                strcpy(drained[1].pool, "la b");
                assert_int_equal(journal_write(f->path, &bad), -EINVAL);
                strcpy(drained[1].pool, "");
                assert_int_equal(journal_write(f->path, &bad), -EINVAL);
                bad.drained = NULL;
                assert_int_equal(journal_write(f->path, &bad), -EINVAL);
        }

        text = read_text(f->path);
        assert_string_equal(text, sample_text);
        assert_false(exists(f->tmp));
}

/* PATH.tmp cannot be opened (a directory is in the way): the old state stays. */
static void test_journal_atomic_open_fails(void **state) {
        Fixture *f = *state;
        JournalState old = sample_state(), new = { .next_job_id = 100 }, out = {};
        _cleanup_free_ char *text = NULL;

        assert_int_equal(journal_write(f->path, &old), 0);
        assert_int_equal(mkdir(f->tmp, 0700), 0);
        assert_int_equal(journal_write(f->path, &new), -EISDIR);
        text = read_text(f->path);
        assert_string_equal(text, sample_text);
        assert_int_equal(journal_read(f->path, &out, NULL), 0);
        assert_state_equal(&old, &out);
        journal_state_done(&out);
        assert_int_equal(rmdir(f->tmp), 0);

        /* A symlink planted at PATH.tmp is not followed, and is gone afterwards. */
        assert_int_equal(symlink("/nonexistent/elsewhere", f->tmp), 0);
        assert_int_equal(journal_write(f->path, &new), -ELOOP);
        assert_false(exists(f->tmp));
        text = mfree(text);
        text = read_text(f->path);
        assert_string_equal(text, sample_text);

        /* And the next write goes through. */
        assert_int_equal(journal_write(f->path, &new), 0);
        assert_false(exists(f->tmp));
        assert_int_equal(journal_read(f->path, &out, NULL), 0);
        assert_state_equal(&new, &out);
        journal_state_done(&out);
}

/* The write fails half-way (the file size limit): the old state stays, PATH.tmp goes. */
static void test_journal_atomic_write_fails(void **state) {
        Fixture *f = *state;
        JournalState old = sample_state(), big = { .next_job_id = 1 };
        _cleanup_free_ char *text = NULL;
        JournalClaim *claims;
        int status;
        pid_t pid;

        assert_int_equal(journal_write(f->path, &old), 0);

        claims = calloc(1000, sizeof(JournalClaim));
        assert_non_null(claims);
        for (size_t i = 0; i < 1000; i++) {
                snprintf(claims[i].vf, sizeof(claims[i].vf), "lab-%zu", i);
                strcpy(claims[i].domain, UUID1);
                snprintf(claims[i].mac, sizeof(claims[i].mac), "52:54:00:00:%02zx:%02zx", i / 256, i % 256);
        }
        big.claims = claims;
        big.n_claims = 1000;

        /* In a child, so the limit does not touch the test's own output. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit rl;

                (void) signal(SIGXFSZ, SIG_IGN);
                if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
                        _exit(100);
                rl.rlim_cur = 4096;
                if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
                        _exit(101);
                _exit(journal_write(f->path, &big) == -EFBIG ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        text = read_text(f->path);
        assert_string_equal(text, sample_text);
        assert_false(exists(f->tmp));

        /* Without the limit it fits. */
        assert_int_equal(journal_write(f->path, &big), 0);
        {
                JournalState out = {};

                assert_int_equal(journal_read(f->path, &out, NULL), 0);
                assert_state_equal(&big, &out);
                journal_state_done(&out);
        }
        free(claims);
}

/* rename() fails (a directory is in the way at PATH): PATH.tmp does not survive. */
static void test_journal_atomic_rename_fails(void **state) {
        Fixture *f = *state;
        JournalState s = sample_state();
        _cleanup_free_ char *inner = NULL;
        int r;

        assert_int_equal(mkdir(f->path, 0700), 0);
        assert_true(asprintf(&inner, "%s/keep", f->path) > 0);
        write_text(inner, "x", 1);

        r = journal_write(f->path, &s);
        assert_true(r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST);
        assert_false(exists(f->tmp));
        assert_true(exists(inner));
        assert_int_equal(unlink(inner), 0);
        assert_int_equal(rmdir(f->path), 0);
}

/* A directory vfod may not write to: the old state stays. As root, the
 * write is made by a child that dropped to nobody. */
static void test_journal_atomic_read_only_dir(void **state) {
        Fixture *f = *state;
        JournalState old = sample_state(), new = { .next_job_id = 5 };
        _cleanup_free_ char *text = NULL;
        int status, r;
        pid_t pid;

        assert_int_equal(journal_write(f->path, &old), 0);

        if (geteuid() != 0) {
                assert_int_equal(chmod(f->dir, 0500), 0);
                r = journal_write(f->path, &new);
                assert_int_equal(chmod(f->dir, 0700), 0);
                assert_int_equal(r, -EACCES);
        } else {
                assert_int_equal(chmod(f->dir, 0755), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                                _exit(77);
                        /* _exit(): no leak check in a process that may not ptrace itself. */
                        _exit(journal_write(f->path, &new) == -EACCES ? 0 : 1);
                }
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_int_equal(chmod(f->dir, 0700), 0);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) == 77)
                        skip();
                assert_int_equal(WEXITSTATUS(status), 0);
        }

        text = read_text(f->path);
        assert_string_equal(text, sample_text);
        assert_false(exists(f->tmp));
}

/* ------------------------------------------------------------ running */

/* The daemon's side of the running journal: 'state' (arrays not owned) is
 * what the build callback hands out, as a copy. */
typedef struct World {
        JournalState state;
        unsigned builds;
        sd_event *event;
        Journal *journal;
        const char *path;
        char *seen;             /* the file as the next handler found it */
} World;

static int world_build(void *userdata, JournalState *ret) {
        World *w = userdata;

        w->builds++;
        *ret = (JournalState) { .next_job_id = w->state.next_job_id };
        if (w->state.n_claims > 0) {
                ret->claims = calloc(w->state.n_claims, sizeof(JournalClaim));
                assert_non_null(ret->claims);
                memcpy(ret->claims, w->state.claims, w->state.n_claims * sizeof(JournalClaim));
                ret->n_claims = w->state.n_claims;
        }
        if (w->state.n_jobs > 0) {
                ret->jobs = calloc(w->state.n_jobs, sizeof(JournalJob));
                assert_non_null(ret->jobs);
                memcpy(ret->jobs, w->state.jobs, w->state.n_jobs * sizeof(JournalJob));
                ret->n_jobs = w->state.n_jobs;
        }
        if (w->state.n_drained > 0) {
                ret->drained = calloc(w->state.n_drained, sizeof(JournalDrained));
                assert_non_null(ret->drained);
                memcpy(ret->drained, w->state.drained, w->state.n_drained * sizeof(JournalDrained));
                ret->n_drained = w->state.n_drained;
        }
        return 0;
}

static void world_start(World *w, const char *path) {
        *w = (World) { .path = path };
        assert_int_equal(sd_event_new(&w->event), 0);
        assert_int_equal(journal_new(w->event, path, world_build, w, &w->journal), 0);
}

static void world_stop(World *w) {
        w->journal = journal_free(w->journal);
        w->event = sd_event_unref(w->event);
        w->seen = mfree(w->seen);
}

/* Dispatches until nothing is pending (sd-event: one source per run). */
static void run_until_idle(sd_event *e) {
        int r;

        while ((r = sd_event_run(e, 0)) > 0)
                ;
        assert_int_equal(r, 0);
}

/* The file's bytes (malloc'd) and size. */
static char *read_bytes(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "re");
        char *data = calloc(1, 65536);

        assert_non_null(f);
        assert_non_null(data);
        *ret_size = fread(data, 1, 65536, f);
        fclose(f);
        return data;
}

static bool is_set_aside_name(const char *name) {
        static const char shape[] = "journal.corrupt-########T######Z";

        if (strlen(name) != strlen(shape))
                return false;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == '#' ? name[i] < '0' || name[i] > '9' : name[i] != shape[i])
                        return false;
        return true;
}

/* The names in 'dir' that start with "journal.corrupt-", sorted, as one
 * string "a b c" (malloc'd; "" for none). */
static char *set_aside_names(const char *dir) {
        struct dirent **list = NULL;
        char *out = strdup("");
        int n;

        assert_non_null(out);
        n = scandir(dir, &list, NULL, alphasort);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
                if (strncmp(list[i]->d_name, "journal.corrupt-", 16) == 0) {
                        char *more = NULL;

                        assert_true(asprintf(&more, "%s%s%s", out, *out ? " " : "", list[i]->d_name) > 0);
                        free(out);
                        out = more;
                }
                free(list[i]);
        }
        free(list);
        return out;
}

/* An unreadable journal is moved aside before anything can overwrite it,
 * byte for byte, and the journal written after it leaves it alone. */
static void test_journal_corrupt_is_kept(void **state) {
        static const char garbage[] = "vfo-journal 1\nnext-job 3\n\xff\xfe garbage\0 with a NUL\n";
        static const char twice[] = "vfo-journal 1\nnext-job 3\n"
                                    "claim lab-0 " UUID1 " 52:54:00:12:34:56\n"
                                    "claim lab-0 " UUID2 " 52:54:00:12:34:57\n";
        static const struct {
                const char *text;
                size_t size;
        } cases[] = {
                { garbage, sizeof(garbage) - 1 },       /* does not parse */
                { twice, sizeof(twice) - 1 },           /* parses, fails a check */
        };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *names = NULL, *aside = NULL, *bytes = NULL, *text = NULL;
                JournalState loaded = { .n_claims = 99 };
                struct stat before, after;
                World w;
                size_t size;

                write_text(f->path, cases[i].text, cases[i].size);
                world_start(&w, f->path);
                assert_int_equal(journal_load(w.journal, &loaded), 1);
                assert_null(loaded.claims);
                assert_null(loaded.jobs);
                assert_int_equal(loaded.n_claims + loaded.n_jobs + loaded.next_job_id, 0);
                assert_false(exists(f->path));

                names = set_aside_names(f->dir);
                if (!is_set_aside_name(names))
                        fail_msg("case %zu: want one journal.corrupt-YYYYMMDDTHHMMSSZ, got '%s'", i, names);
                assert_true(asprintf(&aside, "%s/%s", f->dir, names) > 0);
                bytes = read_bytes(aside, &size);
                assert_int_equal(size, cases[i].size);
                assert_memory_equal(bytes, cases[i].text, size);
                assert_int_equal(stat(aside, &before), 0);

                /* vfod goes on with an empty journal and writes it: not over the copy. */
                w.state = sample_state();
                journal_mark_dirty(w.journal);
                run_until_idle(w.event);
                assert_int_equal(journal_get_n_writes(w.journal), 1);
                text = read_text(f->path);
                assert_string_equal(text, sample_text);
                world_stop(&w);

                bytes = mfree(bytes);
                bytes = read_bytes(aside, &size);
                assert_int_equal(size, cases[i].size);
                assert_memory_equal(bytes, cases[i].text, size);
                assert_int_equal(stat(aside, &after), 0);
                assert_int_equal(after.st_ino, before.st_ino);
                assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
                assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
                assert_int_equal(unlink(aside), 0);
                assert_int_equal(unlink(f->path), 0);
        }
}

/* A journal that reads is not moved, nor is a missing one. */
static void test_journal_load_readable(void **state) {
        Fixture *f = *state;
        JournalState in = sample_state(), out = {};
        _cleanup_free_ char *names = NULL, *text = NULL;
        World w;

        world_start(&w, f->path);
        assert_int_equal(journal_load(w.journal, &out), 0);
        assert_int_equal(out.n_claims + out.n_jobs + out.next_job_id, 0);
        world_stop(&w);
        assert_false(exists(f->path));

        assert_int_equal(journal_write(f->path, &in), 0);
        world_start(&w, f->path);
        assert_int_equal(journal_load(w.journal, &out), 0);
        assert_state_equal(&in, &out);
        journal_state_done(&out);
        world_stop(&w);
        names = set_aside_names(f->dir);
        assert_string_equal(names, "");
        text = read_text(f->path);
        assert_string_equal(text, sample_text);
}

/* The name of a copy, no copy replaced, and at most JOURNAL_CORRUPT_KEEP. */
static void test_journal_set_aside_names(void **state) {
        static const char *const older[] = {
                "journal.corrupt-20200101T000000Z", "journal.corrupt-20200102T000000Z",
                "journal.corrupt-20200103T000000Z", "journal.corrupt-20200104T000000Z",
                "journal.corrupt-20200105T000000Z",
        };
        const uint64_t t = UINT64_C(1700000000) * 1000000U + 999999U;      /* 2023-11-14 22:13:20.999999 UTC */
        Fixture *f = *state;
        _cleanup_free_ char *names = NULL;
        char *aside = NULL, *text;

        assert_int_equal(JOURNAL_CORRUPT_KEEP, 5);
        assert_int_equal(journal_set_aside(f->path, t, &aside), -ENOENT);

        write_text(f->path, "a", 1);
        assert_int_equal(journal_set_aside(f->path, t, &aside), 0);
        assert_string_equal(aside + strlen(f->dir), "/journal.corrupt-20231114T221320Z");
        assert_false(exists(f->path));
        free(aside);

        /* The same second again: a new name, the first copy stays as it was. */
        write_text(f->path, "b", 1);
        assert_int_equal(journal_set_aside(f->path, t, &aside), 0);
        assert_string_equal(aside + strlen(f->dir), "/journal.corrupt-20231114T221320Z-2");
        text = read_text(aside);
        assert_string_equal(text, "b");
        free(text);
        free(aside);

        /* 5 older copies, and files that only look alike: 8 copies after the
         * next one, of which the 3 oldest go. */
        for (size_t i = 0; i < ELEMENTSOF(older); i++) {
                _cleanup_free_ char *p = NULL;

                assert_true(asprintf(&p, "%s/%s", f->dir, older[i]) > 0);
                write_text(p, "old", 3);
        }
        {
                _cleanup_free_ char *p = NULL, *q = NULL;

                assert_true(asprintf(&p, "%s/journal.corrupt-notes", f->dir) > 0);
                write_text(p, "mine", 4);
                assert_true(asprintf(&q, "%s/journal.corrupt-20190101T000000Z.bak", f->dir) > 0);
                write_text(q, "mine", 4);
        }
        write_text(f->path, "c", 1);
        assert_int_equal(journal_set_aside(f->path, t + 3600U * 1000000U, &aside), 0);
        assert_string_equal(aside + strlen(f->dir), "/journal.corrupt-20231114T231320Z");
        free(aside);
        names = set_aside_names(f->dir);
        assert_string_equal(names, "journal.corrupt-20190101T000000Z.bak journal.corrupt-20200104T000000Z "
                                   "journal.corrupt-20200105T000000Z journal.corrupt-20231114T221320Z "
                                   "journal.corrupt-20231114T221320Z-2 journal.corrupt-20231114T231320Z "
                                   "journal.corrupt-notes");

        /* A clock that went back: the new copy sorts first but is the one kept. */
        write_text(f->path, "d", 1);
        assert_int_equal(journal_set_aside(f->path, UINT64_C(1000000000) * 1000000U, &aside), 0);
        assert_string_equal(aside + strlen(f->dir), "/journal.corrupt-20010909T014640Z");
        free(aside);
        names = mfree(names);
        names = set_aside_names(f->dir);
        assert_string_equal(names, "journal.corrupt-20010909T014640Z journal.corrupt-20190101T000000Z.bak "
                                   "journal.corrupt-20200105T000000Z journal.corrupt-20231114T221320Z "
                                   "journal.corrupt-20231114T221320Z-2 journal.corrupt-20231114T231320Z "
                                   "journal.corrupt-notes");
}

/* A handler that makes 'n' changes, then queues the next step (a defer
 * source of normal priority, as a job's first step is). */
static int on_next_step(sd_event_source *s, void *userdata) {
        World *w = userdata;

        free(w->seen);
        w->seen = exists(w->path) ? read_text(w->path) : strdup("");
        return 0;
}

static int on_burst(sd_event_source *s, void *userdata) {
        World *w = userdata;

        for (unsigned i = 1; i <= 10; i++) {
                w->state.next_job_id++;
                journal_mark_dirty(w->journal);
        }
        assert_int_equal(sd_event_add_defer(w->event, NULL, on_next_step, w), 0);
        return 0;
}

/* Ten changes in one handler: one write, on disk before the next handler. */
static void test_journal_coalesced(void **state) {
        Fixture *f = *state;
        JournalState empty = {};
        World w;

        world_start(&w, f->path);
        assert_int_equal(journal_load(w.journal, &empty), 0);
        w.state.next_job_id = 100;

        assert_int_equal(sd_event_add_defer(w.event, NULL, on_burst, &w), 0);
        run_until_idle(w.event);
        assert_int_equal(journal_get_n_writes(w.journal), 1);
        assert_int_equal(w.builds, 1);
        assert_non_null(w.seen);
        assert_string_equal(w.seen, "vfo-journal 1\nnext-job 110\n");

        /* Another handler, another write. */
        assert_int_equal(sd_event_add_defer(w.event, NULL, on_burst, &w), 0);
        run_until_idle(w.event);
        assert_int_equal(journal_get_n_writes(w.journal), 2);
        assert_string_equal(w.seen, "vfo-journal 1\nnext-job 120\n");

        /* A change back to what is on disk is no write. */
        journal_mark_dirty(w.journal);
        run_until_idle(w.event);
        assert_int_equal(journal_get_n_writes(w.journal), 2);
        assert_int_equal(w.builds, 3);
        world_stop(&w);
}

/* journal_flush() writes at once, inside the handler; the deferred write
 * then has nothing left to do. */
static int on_change_and_flush(sd_event_source *s, void *userdata) {
        World *w = userdata;

        w->state = sample_state();
        journal_mark_dirty(w->journal);
        assert_false(exists(w->path));
        assert_int_equal(journal_flush(w->journal), 0);
        free(w->seen);
        w->seen = read_text(w->path);
        return 0;
}

static void test_journal_flush(void **state) {
        Fixture *f = *state;
        JournalState empty = {};
        World w;

        world_start(&w, f->path);
        /* Not before the journal was read back. */
        journal_mark_dirty(w.journal);
        assert_int_equal(journal_flush(w.journal), 0);
        assert_false(exists(f->path));
        assert_int_equal(journal_load(w.journal, &empty), 0);

        assert_int_equal(sd_event_add_defer(w.event, NULL, on_change_and_flush, &w), 0);
        run_until_idle(w.event);
        assert_string_equal(w.seen, sample_text);
        assert_int_equal(journal_get_n_writes(w.journal), 1);
        world_stop(&w);
}

static int on_change_and_exit(sd_event_source *s, void *userdata) {
        World *w = userdata;

        w->state = sample_state();
        journal_mark_dirty(w->journal);
        return sd_event_exit(w->event, 0);
}

/* A change pending at sd_event_exit() is written before the loop returns;
 * one pending at journal_free() is written by it. */
static void test_journal_flush_on_exit(void **state) {
        Fixture *f = *state;
        JournalState empty = {}, last = { .next_job_id = 77 };
        _cleanup_free_ char *text = NULL;
        World w;

        world_start(&w, f->path);
        assert_int_equal(journal_load(w.journal, &empty), 0);
        assert_int_equal(sd_event_add_defer(w.event, NULL, on_change_and_exit, &w), 0);
        assert_int_equal(sd_event_loop(w.event), 0);
        assert_int_equal(journal_get_n_writes(w.journal), 1);
        text = read_text(f->path);
        assert_string_equal(text, sample_text);

        w.state = last;
        journal_mark_dirty(w.journal);
        world_stop(&w);
        text = mfree(text);
        text = read_text(f->path);
        assert_string_equal(text, "vfo-journal 1\nnext-job 77\n");
}

/* An unreadable journal that cannot be moved aside is never written over.
 * As root, the run is a child that dropped to nobody. */
static int load_unmovable(const char *path) {
        JournalState s = {};
        World w;
        int r;

        world_start(&w, path);
        r = journal_load(w.journal, &s);
        if (r != -EACCES)
                return 1;
        w.state = sample_state();
        journal_mark_dirty(w.journal);
        run_until_idle(w.event);
        if (journal_flush(w.journal) != 0 || journal_get_n_writes(w.journal) != 0)
                return 1;
        world_stop(&w);
        return 0;
}

static void test_journal_corrupt_unmovable(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *text = NULL;
        int status, r;
        pid_t pid;

        write_text(f->path, "not a journal\n", 14);
        assert_int_equal(chmod(f->path, 0644), 0);
        if (geteuid() != 0) {
                assert_int_equal(chmod(f->dir, 0500), 0);
                r = load_unmovable(f->path);
                assert_int_equal(chmod(f->dir, 0700), 0);
                assert_int_equal(r, 0);
        } else {
                assert_int_equal(chmod(f->dir, 0755), 0);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                                _exit(77);
                        _exit(load_unmovable(f->path));
                }
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_int_equal(chmod(f->dir, 0700), 0);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) == 77)
                        skip();
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        text = read_text(f->path);
        assert_string_equal(text, "not a journal\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_journal_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_missing_is_empty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_malformed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_damage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_write_refuses_invalid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_atomic_open_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_atomic_write_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_atomic_rename_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_atomic_read_only_dir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_corrupt_is_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_load_readable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_set_aside_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_coalesced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_flush, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_flush_on_exit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_corrupt_unmovable, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
