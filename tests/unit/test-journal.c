/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's journal: round trip, every malformed record refused with its line,
 * and a failed write leaves the old state (and no PATH.tmp) behind. */

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

        return (JournalState) {
                .claims = claims,
                .n_claims = ELEMENTSOF(claims),
                .jobs = jobs,
                .n_jobs = ELEMENTSOF(jobs),
                .next_job_id = 42,
        };
}

static const char sample_text[] = "vfo-journal 1\n"
                                  "next-job 42\n"
                                  "claim 0000:03:00.2 " UUID1 " 52:54:00:12:34:56\n"
                                  "claim lab-3 " UUID2 " 52:54:00:AB:cd:EF\n"
                                  "job 7 attach " UUID1 " 52:54:00:12:34:56 0000:03:00.2 wait-plugged\n"
                                  "job 41 detach " UUID2 " 52:54:00:ab:cd:ef lab-3 unplug\n";

static void assert_state_equal(const JournalState *a, const JournalState *b) {
        assert_int_equal(a->next_job_id, b->next_job_id);
        assert_int_equal(a->n_claims, b->n_claims);
        assert_int_equal(a->n_jobs, b->n_jobs);
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
        assert_int_equal(out.n_claims + out.n_jobs + out.next_job_id, 0);

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
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
