/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging for vfod, vfo-agent and vfoctl: stderr with journald priority
 * prefixes, or sd-journal with structured fields when stderr is the journal. */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "lib/macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,        /* journal if stderr is connected to it (JOURNAL_STREAM), else stderr */
        LOG_TARGET_STDERR,      /* stderr; "<N>" priority prefixes unless stderr is a terminal */
        LOG_TARGET_JOURNAL,     /* sd_journal_send() with structured fields */
} LogTarget;

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_target(LogTarget target);

/* "debug", "info", …, "emerg", or a number 0…7. Returns the level or -EINVAL. */
int log_level_from_string(const char *s);

/* 'fields' is NULL or a NULL-terminated array of "KEY=value" strings
 * (DOMAIN=, MAC=, VF=, JOB=, …), sent to the journal as they are and left
 * out on stderr. Returns -abs(error), so callers can 'return log_…_errno()'. */
int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *const *fields, const char *format, va_list ap) _printf_(7, 0);
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *const *fields, const char *format, ...) _printf_(7, 8);

#define log_fields_full_errno(level, error, fields, ...)                                  \
        ({                                                                                \
                int _level_ = (level), _e_ = (error);                                     \
                (_level_ <= log_get_max_level())                                          \
                        ? log_internal(_level_, _e_, __FILE__, __LINE__, __func__, fields, \
                                       __VA_ARGS__)                                       \
                        : -abs(_e_);                                                      \
        })
#define log_full_errno(level, error, ...) log_fields_full_errno(level, error, NULL, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
