/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: see log.h. Global state is limited to the level and the target. */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
/* the caller's CODE_FILE= and CODE_LINE= go with each entry, not these of log.c */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "lib/log.h"

#define LOG_FIELDS_MAX 16

static int log_max_level = LOG_INFO;
static LogTarget log_target = LOG_TARGET_AUTO;
static int log_resolved_target = -1;    /* LogTarget once AUTO has been looked at */

void log_set_max_level(int level) {
        assert(level >= LOG_EMERG && level <= LOG_DEBUG);
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_target(LogTarget target) {
        log_target = target;
        log_resolved_target = -1;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
        };

        if (!s)
                return -EINVAL;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        if (strcmp(s, "error") == 0)
                return LOG_ERR;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

/* journald sets JOURNAL_STREAM=DEV:INODE for the stream it connected to
 * stderr; only when stderr is still that stream is the journal the target. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static LogTarget log_get_target(void) {
        if (log_resolved_target < 0)
                log_resolved_target = log_target != LOG_TARGET_AUTO ? log_target
                                      : stderr_is_journal()         ? LOG_TARGET_JOURNAL
                                                                    : LOG_TARGET_STDERR;
        return (LogTarget) log_resolved_target;
}

static int log_to_journal(int level, int error, const char *file, int line, const char *func,
                          const char *const *fields, const char *message) {
        char prio[32], code_line[32], errno_field[32];
        _cleanup_free_ char *msg = NULL, *code_file = NULL, *code_func = NULL;
        struct iovec iov[7 + LOG_FIELDS_MAX];
        size_t n = 0;

        if (asprintf(&msg, "MESSAGE=%s", message) < 0 || asprintf(&code_file, "CODE_FILE=%s", file) < 0 ||
            asprintf(&code_func, "CODE_FUNC=%s", func) < 0)
                return -ENOMEM;
        snprintf(prio, sizeof(prio), "PRIORITY=%i", level);
        snprintf(code_line, sizeof(code_line), "CODE_LINE=%i", line);

        iov[n++] = (struct iovec) { msg, strlen(msg) };
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { code_file, strlen(code_file) };
        iov[n++] = (struct iovec) { code_line, strlen(code_line) };
        iov[n++] = (struct iovec) { code_func, strlen(code_func) };
        if (error != 0) {
                snprintf(errno_field, sizeof(errno_field), "ERRNO=%i", abs(error));
                iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
        }
        for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++)
                iov[n++] = (struct iovec) { (char *) fields[i], strlen(fields[i]) };

        return sd_journal_sendv(iov, (int) n);
}

int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *const *fields, const char *format, va_list ap) {
        char buf[2048];
        int saved_errno = errno;

        if (level > log_max_level)
                return -abs(error);

        /* %m prints the error we were handed, not whatever errno happens to be. */
        errno = abs(error);
        (void) vsnprintf(buf, sizeof(buf), format, ap);

        if (log_get_target() != LOG_TARGET_JOURNAL ||
            log_to_journal(level, error, file, line, func, fields, buf) < 0) {
                char when[40] = "";
                const char *e = getenv("VFO_LOG_TIME");

                /* VFO_LOG_TIME=1: CLOCK_MONOTONIC in front, as the kernel's
                 * console lines have it (lines of two processes, or of a
                 * guest's agent and its kernel, can be put in order) */
                if (e && strcmp(e, "1") == 0) {
                        struct timespec ts;

                        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
                        snprintf(when, sizeof(when), "[%5lld.%06ld] ", (long long) ts.tv_sec, ts.tv_nsec / 1000);
                }
                if (isatty(STDERR_FILENO))
                        fprintf(stderr, "%s%s\n", when, buf);
                else
                        fprintf(stderr, "<%i>%s%s\n", level, when, buf);
        }

        errno = saved_errno;
        return -abs(error);
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *const *fields, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_internalv(level, error, file, line, func, fields, format, ap);
        va_end(ap);
        return r;
}
