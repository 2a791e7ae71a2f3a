/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl output: a minimal JSON emitter, aligned text tables, durations and
 * times, and the mapping of D-Bus error names to exit codes. No sd-bus in
 * here, so the unit test links it alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/macro.h"

/* Exit codes of vfoctl (documented in --help and vfoctl(1)). */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,        /* job failed, other errors */
        EXIT_USAGE = 2,         /* bad command line, InvalidArgument */
        EXIT_NO_SUCH = 3,       /* org.vfo1.Error.NoSuchDomain/NoSuchPort/NoSuchPool */
        EXIT_ACCESS = 4,        /* org.vfo1.Error.AccessDenied, org.freedesktop.DBus.Error.AccessDenied */
        EXIT_UNREACHABLE = 5,   /* vfod not running or not answering, bus not reachable */
        EXIT_BUSY = 6,          /* org.vfo1.Error.Busy, NoVfFree, Drained */
};

/* The exit code for a D-Bus error name; NULL or "" is success, an unknown
 * name is EXIT_FAILED. */
int exit_code_from_error_name(const char *name) _pure_;

/* "org.vfo1.Error.NoVfFree" -> "NoVfFree"; other names unchanged. */
const char *error_name_short(const char *name) _pure_;

/* JSON. Commas, colons and nesting are tracked by the writer; the caller
 * only says what comes next. Strings are escaped per RFC 8259 (quote,
 * backslash, every control character); invalid UTF-8 becomes U+FFFD, so the
 * output is always valid JSON. Output is compact, on one line. */
#define JSON_DEPTH_MAX 32

typedef struct JsonWriter {
        FILE *f;
        unsigned depth;
        bool need_comma[JSON_DEPTH_MAX];
        bool after_key;
} JsonWriter;

#define JSON_WRITER_INIT(file) ((JsonWriter) { .f = (file) })

void json_escape_string(FILE *f, const char *s);   /* writes "…" with escapes; NULL as "" */

void json_begin_object(JsonWriter *w);
void json_end_object(JsonWriter *w);
void json_begin_array(JsonWriter *w);
void json_end_array(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);
void json_string(JsonWriter *w, const char *s);
void json_uint(JsonWriter *w, uint64_t u);
void json_int(JsonWriter *w, int64_t i);
void json_bool(JsonWriter *w, bool b);
void json_null(JsonWriter *w);
void json_raw(JsonWriter *w, const char *text);    /* a number the caller formatted */

/* key + value in one call. */
void json_field_string(JsonWriter *w, const char *key, const char *s);
void json_field_uint(JsonWriter *w, const char *key, uint64_t u);
void json_field_bool(JsonWriter *w, const char *key, bool b);

/* Aligned text columns. Cells are copied; NULL or "" prints as "-". The last
 * column is not padded. */
typedef struct Table {
        size_t n_columns;
        size_t n_cells;
        char **cells;           /* headers first, then rows */
} Table;

Table *table_new(size_t n_columns, const char *const *headers);
Table *table_free(Table *t);
DEFINE_CLEANUP_FUNC(Table, table_free);
int table_add_row(Table *t, const char *const *cells);
size_t table_rows(const Table *t);     /* without the header */
void table_print(const Table *t, FILE *f, bool header);

/* Code points in a UTF-8 string (the display width of what vfoctl prints). */
size_t utf8_width(const char *s) _pure_;

/* "850ms", "2.31s", "1min 05s", "1h 02min"; into buf (at least 32 bytes). */
const char *format_duration(char *buf, size_t size, uint64_t usec);

/* CLOCK_REALTIME usec as local "YYYY-MM-DD HH:MM:SS.mmm" (human) or UTC
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" (JSON). */
const char *format_timestamp(char *buf, size_t size, uint64_t usec, bool utc);

/* "[#######.......]"-style bar of 'width' cells for 0..100 percent. */
const char *format_bar(char *buf, size_t size, unsigned percent, unsigned width);
