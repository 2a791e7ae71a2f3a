/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See journal.h. Reading checks every field, so that a damaged or foreign
 * file is refused with its line instead of being half loaded; writing
 * refuses (-EINVAL) a state that reading would refuse, so vfod never writes
 * a journal it cannot read back. */

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/host/journal.h"
#include "lib/macro.h"
#include "lib/parse-util.h"

#define JOURNAL_MAGIC "vfo-journal"
#define JOURNAL_VERSION "1"
#define JOURNAL_LINE_MAX 512U
#define JOURNAL_FIELDS_MAX 7U

#define sizeof_field(type, member) sizeof(((type *) NULL)->member)

#define FAIL(...)                                               \
        do {                                                    \
                snprintf(why, why_size, __VA_ARGS__);           \
                return -EINVAL;                                 \
        } while (0)

void journal_state_done(JournalState *s) {
        if (!s)
                return;
        free(s->claims);
        free(s->jobs);
        free(s->drained);
        *s = (JournalState) {};
}

bool journal_state_equal(const JournalState *a, const JournalState *b) {
        if (a->next_job_id != b->next_job_id || a->n_claims != b->n_claims || a->n_jobs != b->n_jobs ||
            a->n_drained != b->n_drained)
                return false;
        for (size_t i = 0; i < a->n_drained; i++)
                if (strcmp(a->drained[i].pool, b->drained[i].pool) != 0)
                        return false;
        for (size_t i = 0; i < a->n_claims; i++) {
                const JournalClaim *x = &a->claims[i], *y = &b->claims[i];

                if (strcmp(x->vf, y->vf) != 0 || strcmp(x->domain, y->domain) != 0 || strcmp(x->mac, y->mac) != 0)
                        return false;
        }
        for (size_t i = 0; i < a->n_jobs; i++) {
                const JournalJob *x = &a->jobs[i], *y = &b->jobs[i];

                if (x->id != y->id || strcmp(x->kind, y->kind) != 0 || strcmp(x->domain, y->domain) != 0 ||
                    strcmp(x->mac, y->mac) != 0 || strcmp(x->vf, y->vf) != 0 || strcmp(x->phase, y->phase) != 0)
                        return false;
        }
        return true;
}

/* [A-Za-z0-9_.:-]{1,63}: a PCI address or POOL-N. */
static bool vf_is_valid(const char *s) {
        size_t n = strnlen(s, sizeof_field(JournalClaim, vf));

        if (n == 0 || n >= sizeof_field(JournalClaim, vf))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.:-", s[i]))
                        return false;
        return true;
}

/* [A-Za-z0-9_.-]{1,63}: what vfod.conf takes as a pool name. */
static bool pool_name_is_valid(const char *s) {
        size_t n = strnlen(s, sizeof_field(JournalDrained, pool));

        if (n == 0 || n >= sizeof_field(JournalDrained, pool))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

static bool kind_is_valid(const char *s) {
        return strcmp(s, "attach") == 0 || strcmp(s, "detach") == 0;
}

/* [a-z-]{1,31} */
static bool phase_is_valid(const char *s) {
        size_t n = strnlen(s, sizeof_field(JournalJob, phase));

        if (n == 0 || n >= sizeof_field(JournalJob, phase))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(s[i] >= 'a' && s[i] <= 'z') && s[i] != '-')
                        return false;
        return true;
}

/* Decimal digits only, no sign, no overflow. */
static int parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return 0;
}

static int journal_error(char **ret_message, const char *path, unsigned line, const char *format, ...)
        _printf_(4, 5);
static int journal_error(char **ret_message, const char *path, unsigned line, const char *format, ...) {
        char why[256];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(why, sizeof(why), format, ap);
        va_end(ap);

        if (ret_message && asprintf(ret_message, "%s:%u: %s", path, line, why) < 0)
                *ret_message = NULL;
        return -EBADMSG;
}

/* Splits 'line' at runs of spaces and tabs. Returns the number of fields,
 * or JOURNAL_FIELDS_MAX + 1 when there are more. */
static size_t split_fields(char *line, char *fields[static JOURNAL_FIELDS_MAX]) {
        size_t n = 0;
        char *state = NULL;

        for (char *w = strtok_r(line, " \t", &state); w; w = strtok_r(NULL, " \t", &state)) {
                if (n >= JOURNAL_FIELDS_MAX)
                        return JOURNAL_FIELDS_MAX + 1;
                fields[n++] = w;
        }
        return n;
}

/* The checks across records, shared by reading and writing. Returns the
 * index (into claims, or n_claims + index into jobs, or n_claims + n_jobs
 * + index into drained) of the first bad record and a reason, or -1. */
static ssize_t journal_check_records(const JournalState *s, char *why, size_t why_size) {
        for (size_t i = 0; i < s->n_claims; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->claims[i].vf, s->claims[j].vf) == 0) {
                                snprintf(why, why_size, "VF %s is claimed twice", s->claims[i].vf);
                                return (ssize_t) i;
                        }
        for (size_t i = 0; i < s->n_jobs; i++) {
                if (s->jobs[i].id >= s->next_job_id) {
                        snprintf(why, why_size, "job %" PRIu64 " is not below next-job %" PRIu64,
                                 s->jobs[i].id, s->next_job_id);
                        return (ssize_t) (s->n_claims + i);
                }
                for (size_t j = 0; j < i; j++)
                        if (s->jobs[i].id == s->jobs[j].id) {
                                snprintf(why, why_size, "job %" PRIu64 " appears twice", s->jobs[i].id);
                                return (ssize_t) (s->n_claims + i);
                        }
        }
        for (size_t i = 0; i < s->n_drained; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->drained[i].pool, s->drained[j].pool) == 0) {
                                snprintf(why, why_size, "pool %s is drained twice", s->drained[i].pool);
                                return (ssize_t) (s->n_claims + s->n_jobs + i);
                        }
        return -1;
}

static int parse_claim(char **f, JournalClaim *ret, char *why, size_t why_size) {
        if (!vf_is_valid(f[1]))
                FAIL("invalid VF '%.64s'", f[1]);
        if (!uuid_is_valid(f[2]))
                FAIL("invalid domain UUID '%.40s'", f[2]);
        if (parse_mac(f[3], NULL) < 0)
                FAIL("invalid MAC '%.20s'", f[3]);

        *ret = (JournalClaim) {};
        strcpy(ret->vf, f[1]);
        strcpy(ret->domain, f[2]);
        strcpy(ret->mac, f[3]);
        return 0;
}

static int parse_job(char **f, JournalJob *ret, char *why, size_t why_size) {
        uint64_t id;

        if (parse_u64(f[1], &id) < 0 || id == 0)
                FAIL("invalid job id '%.24s'", f[1]);
        if (!kind_is_valid(f[2]))
                FAIL("invalid job kind '%.16s' (attach or detach)", f[2]);
        if (!uuid_is_valid(f[3]))
                FAIL("invalid domain UUID '%.40s'", f[3]);
        if (parse_mac(f[4], NULL) < 0)
                FAIL("invalid MAC '%.20s'", f[4]);
        if (!vf_is_valid(f[5]))
                FAIL("invalid VF '%.64s'", f[5]);
        if (!phase_is_valid(f[6]))
                FAIL("invalid phase '%.32s'", f[6]);

        *ret = (JournalJob) { .id = id };
        strcpy(ret->kind, f[2]);
        strcpy(ret->domain, f[3]);
        strcpy(ret->mac, f[4]);
        strcpy(ret->vf, f[5]);
        strcpy(ret->phase, f[6]);
        return 0;
}

int journal_read(const char *path, JournalState *ret, char **ret_message) {
        FILE *f;
        int r;

        assert(path);
        assert(ret);

        *ret = (JournalState) {};
        if (ret_message)
                *ret_message = NULL;

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                r = -errno;
                if (ret_message && asprintf(ret_message, "%s: %s", path, strerror(-r)) < 0)
                        *ret_message = NULL;
                return r;
        }

        r = journal_parse(f, path, ret, ret_message);
        fclose(f);
        return r;
}

int journal_parse(FILE *f, const char *path, JournalState *ret, char **ret_message) {
        _cleanup_(journal_state_done) JournalState s = {};
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ unsigned *claim_lines = NULL, *job_lines = NULL, *drained_lines = NULL;
        size_t allocated = 0;
        unsigned line = 0, next_job_line = 0;
        ssize_t len, bad;
        char why[256];
        int r = 0;

        assert(f);
        assert(path);
        assert(ret);

        *ret = (JournalState) {};
        if (ret_message)
                *ret_message = NULL;

        while ((len = getline(&buf, &allocated, f)) >= 0) {
                char *fields[JOURNAL_FIELDS_MAX];
                size_t n;
                void *p;

                line++;
                if ((size_t) len > JOURNAL_LINE_MAX) {
                        r = journal_error(ret_message, path, line, "line longer than %u bytes",
                                          JOURNAL_LINE_MAX);
                        goto finish;
                }
                if (len == 0 || buf[len - 1] != '\n') {
                        r = journal_error(ret_message, path, line,
                                          "truncated record (no newline at its end)");
                        goto finish;
                }
                buf[--len] = '\0';
                if (strlen(buf) != (size_t) len) {
                        r = journal_error(ret_message, path, line, "NUL byte in record");
                        goto finish;
                }

                n = split_fields(buf, fields);
                if (line == 1) {
                        if (n != 2 || strcmp(fields[0], JOURNAL_MAGIC) != 0) {
                                r = journal_error(ret_message, path, line,
                                                  "not a vfo journal: expected '" JOURNAL_MAGIC
                                                  " " JOURNAL_VERSION "'");
                                goto finish;
                        }
                        if (strcmp(fields[1], JOURNAL_VERSION) != 0) {
                                r = journal_error(ret_message, path, line,
                                                  "unsupported journal version '%.16s' (this vfod reads "
                                                  JOURNAL_VERSION ")",
                                                  fields[1]);
                                goto finish;
                        }
                        continue;
                }
                if (n == 0) {
                        r = journal_error(ret_message, path, line, "empty record");
                        goto finish;
                }

                if (strcmp(fields[0], "next-job") == 0) {
                        if (n != 2) {
                                r = journal_error(ret_message, path, line, "next-job needs 1 field, got %zu",
                                                  n - 1);
                                goto finish;
                        }
                        if (next_job_line > 0) {
                                r = journal_error(ret_message, path, line,
                                                  "second next-job record (the first is on line %u)",
                                                  next_job_line);
                                goto finish;
                        }
                        if (parse_u64(fields[1], &s.next_job_id) < 0) {
                                r = journal_error(ret_message, path, line, "invalid next-job '%.24s'",
                                                  fields[1]);
                                goto finish;
                        }
                        next_job_line = line;
                        continue;
                }

                if (strcmp(fields[0], "claim") == 0) {
                        if (n != 4) {
                                r = journal_error(ret_message, path, line,
                                                  "claim needs 3 fields (VF DOMAIN-UUID MAC), got %zu",
                                                  n - 1);
                                goto finish;
                        }
                        p = reallocarray(s.claims, s.n_claims + 1, sizeof(JournalClaim));
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        s.claims = p;
                        if (parse_claim(fields, &s.claims[s.n_claims], why, sizeof(why)) < 0) {
                                r = journal_error(ret_message, path, line, "%s", why);
                                goto finish;
                        }
                        p = reallocarray(claim_lines, s.n_claims + 1, sizeof(unsigned));
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        claim_lines = p;
                        claim_lines[s.n_claims++] = line;
                } else if (strcmp(fields[0], "job") == 0) {
                        if (n != 7) {
                                r = journal_error(
                                        ret_message, path, line,
                                        "job needs 6 fields (ID KIND DOMAIN-UUID MAC VF PHASE), got %zu",
                                        n - 1);
                                goto finish;
                        }
                        p = reallocarray(s.jobs, s.n_jobs + 1, sizeof(JournalJob));
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        s.jobs = p;
                        if (parse_job(fields, &s.jobs[s.n_jobs], why, sizeof(why)) < 0) {
                                r = journal_error(ret_message, path, line, "%s", why);
                                goto finish;
                        }
                        p = reallocarray(job_lines, s.n_jobs + 1, sizeof(unsigned));
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        job_lines = p;
                        job_lines[s.n_jobs++] = line;
                } else if (strcmp(fields[0], "drained") == 0) {
                        if (n != 2) {
                                r = journal_error(ret_message, path, line, "drained needs 1 field (POOL), got %zu",
                                                  n - 1);
                                goto finish;
                        }
                        if (!pool_name_is_valid(fields[1])) {
                                r = journal_error(ret_message, path, line, "invalid pool name '%.64s'", fields[1]);
                                goto finish;
                        }
                        p = reallocarray(s.drained, s.n_drained + 1, sizeof(JournalDrained));
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        s.drained = p;
                        s.drained[s.n_drained] = (JournalDrained) {};
                        strcpy(s.drained[s.n_drained].pool, fields[1]);
                        p = reallocarray(drained_lines, s.n_drained + 1, sizeof(unsigned));
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        drained_lines = p;
                        drained_lines[s.n_drained++] = line;
                } else {
                        r = journal_error(ret_message, path, line,
                                          "unknown record type '%.32s' (written by a newer vfod?)",
                                          fields[0]);
                        goto finish;
                }
        }

        if (ferror(f)) {
                /* getline() set errno; EISDIR when 'path' is a directory. */
                r = errno > 0 ? -errno : -EIO;
                if (ret_message && asprintf(ret_message, "%s: %s", path, strerror(-r)) < 0)
                        *ret_message = NULL;
                goto finish;
        }
        if (line == 0) {
                r = journal_error(ret_message, path, 1,
                                  "empty file, expected '" JOURNAL_MAGIC " " JOURNAL_VERSION "'");
                goto finish;
        }
        if (next_job_line == 0) {
                r = journal_error(ret_message, path, line, "no next-job record");
                goto finish;
        }

        bad = journal_check_records(&s, why, sizeof(why));
        if (bad >= 0) {
                r = journal_error(ret_message, path,
                                  (size_t) bad < s.n_claims ? claim_lines[bad]
                                  : (size_t) bad < s.n_claims + s.n_jobs
                                          ? job_lines[(size_t) bad - s.n_claims]
                                          : drained_lines[(size_t) bad - s.n_claims - s.n_jobs],
                                  "%s", why);
                goto finish;
        }

        *ret = s;
        s = (JournalState) {};
finish:
        return r;
}

static bool journal_state_is_valid(const JournalState *s) {
        char why[256];

        if ((s->n_claims > 0 && !s->claims) || (s->n_jobs > 0 && !s->jobs) || (s->n_drained > 0 && !s->drained))
                return false;
        for (size_t i = 0; i < s->n_drained; i++)
                if (!pool_name_is_valid(s->drained[i].pool))
                        return false;
        for (size_t i = 0; i < s->n_claims; i++) {
                const JournalClaim *c = &s->claims[i];

                if (!vf_is_valid(c->vf) || !uuid_is_valid(c->domain) || parse_mac(c->mac, NULL) < 0)
                        return false;
        }
        for (size_t i = 0; i < s->n_jobs; i++) {
                const JournalJob *j = &s->jobs[i];

                if (j->id == 0 || !kind_is_valid(j->kind) || !uuid_is_valid(j->domain) ||
                    parse_mac(j->mac, NULL) < 0 || !vf_is_valid(j->vf) || !phase_is_valid(j->phase))
                        return false;
        }
        return journal_check_records(s, why, sizeof(why)) < 0;
}

static int journal_format(const JournalState *s, char **ret, size_t *ret_size) {
        char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, JOURNAL_MAGIC " " JOURNAL_VERSION "\n");
        fprintf(f, "next-job %" PRIu64 "\n", s->next_job_id);
        for (size_t i = 0; i < s->n_claims; i++)
                fprintf(f, "claim %s %s %s\n", s->claims[i].vf, s->claims[i].domain, s->claims[i].mac);
        for (size_t i = 0; i < s->n_jobs; i++) {
                const JournalJob *j = &s->jobs[i];

                fprintf(f, "job %" PRIu64 " %s %s %s %s %s\n", j->id, j->kind, j->domain, j->mac, j->vf,
                        j->phase);
        }
        for (size_t i = 0; i < s->n_drained; i++)
                fprintf(f, "drained %s\n", s->drained[i].pool);
        if (ferror(f)) {
                fclose(f);
                free(text);
                return -ENOMEM;
        }
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        *ret_size = size;
        return 0;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* The directory that holds 'path' (malloc'd), or NULL when out of memory. */
static char *directory_of(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t) (slash - path));
}

static const char *base_of(const char *path) {
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

/* fsync()s the directory that holds 'path', so that the rename is on disk. */
static int fsync_directory_of(const char *path) {
        _cleanup_free_ char *dir = directory_of(path);
        _cleanup_close_ int fd = -EBADF;

        if (!dir)
                return -ENOMEM;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int journal_write(const char *path, const JournalState *state) {
        _cleanup_free_ char *tmp = NULL, *text = NULL;
        size_t size;
        int fd, r;

        assert(path);
        assert(state);

        if (!journal_state_is_valid(state))
                return -EINVAL;

        r = journal_format(state, &text, &size);
        if (r < 0)
                return r;

        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;

        /* O_NOFOLLOW: a symlink planted at PATH.tmp is refused (and removed below). */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                goto fail;
        }
        /* A stale PATH.tmp keeps its mode through O_TRUNC. */
        if (fchmod(fd, 0600) < 0)
                r = -errno;
        if (r >= 0)
                r = write_all(fd, text, size);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                goto fail;

        /* The new state is in place; this makes it survive a power loss. */
        return fsync_directory_of(path);

fail:
        /* A directory (or anything else unlink() refuses) at PATH.tmp stays. */
        (void) unlink(tmp);
        return r;
}

/* 'shape': '#' is a decimal digit, anything else itself. Returns what
 * follows the match in 's', or NULL. */
static const char *skip_shape(const char *s, const char *shape) {
        for (; *shape; s++, shape++)
                if (*shape == '#' ? !isdigit((unsigned char) *s) : *s != *shape)
                        return NULL;
        return s;
}

/* "BASE.corrupt-YYYYMMDDTHHMMSSZ", optionally with "-N" (N 2…9). */
static bool is_set_aside_name(const char *name, const char *base) {
        size_t n = strlen(base);
        const char *rest;

        if (strncmp(name, base, n) != 0)
                return false;
        rest = skip_shape(name + n, ".corrupt-########T######Z");
        if (!rest)
                return false;
        return *rest == '\0' || (rest[0] == '-' && rest[1] >= '2' && rest[1] <= '9' && rest[2] == '\0');
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Removes the oldest set-aside copies of 'path' (by name, which sorts by
 * time) beyond JOURNAL_CORRUPT_KEEP; never 'keep', the one just made. Best
 * effort: what cannot be removed stays. */
static void prune_set_aside(const char *path, const char *keep) {
        _cleanup_free_ char *dir = directory_of(path);
        const char *base = base_of(path);
        char **names = NULL;
        size_t n = 0, excess;
        struct dirent *de;
        DIR *d;

        if (!dir)
                return;
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char **p;

                if (!is_set_aside_name(de->d_name, base))
                        continue;
                p = reallocarray(names, n + 1, sizeof(char *));
                if (!p)
                        break;
                names = p;
                names[n] = strdup(de->d_name);
                if (!names[n])
                        break;
                n++;
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), compare_names);
        excess = n > JOURNAL_CORRUPT_KEEP ? n - JOURNAL_CORRUPT_KEEP : 0;
        for (size_t i = 0; i < n && excess > 0; i++) {
                if (strcmp(names[i], base_of(keep)) == 0)
                        continue;
                (void) unlinkat(dirfd(d), names[i], 0);
                excess--;
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        closedir(d);
}

/* rename() that fails with -EEXIST instead of replacing 'to'. */
static int rename_noreplace(const char *from, const char *to) {
        struct stat st;

        if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return -errno;
        /* A file system without RENAME_NOREPLACE; vfod alone writes there. */
        if (lstat(to, &st) >= 0)
                return -EEXIST;
        if (errno != ENOENT)
                return -errno;
        return rename(from, to) < 0 ? -errno : 0;
}

int journal_set_aside(const char *path, uint64_t now_realtime_usec, char **ret_path) {
        _cleanup_free_ char *aside = NULL;
        time_t t = (time_t) (now_realtime_usec / 1000000U);
        char stamp[32];
        struct tm tm;
        int r = -EEXIST;

        assert(path);
        assert(ret_path);

        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;
        for (unsigned n = 1; n <= 9 && r == -EEXIST; n++) {
                aside = mfree(aside);
                if ((n == 1 ? asprintf(&aside, "%s.corrupt-%s", path, stamp)
                            : asprintf(&aside, "%s.corrupt-%s-%u", path, stamp, n)) < 0) {
                        aside = NULL;
                        return -ENOMEM;
                }
                r = rename_noreplace(path, aside);
        }
        if (r < 0)
                return r;

        /* The copy is in place; a failing fsync only risks it on a power loss,
         * and the next journal_write() syncs the directory again. */
        (void) fsync_directory_of(path);
        prune_set_aside(path, aside);
        *ret_path = TAKE_PTR(aside);
        return 0;
}
