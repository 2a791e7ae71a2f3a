/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl output helpers: see format.h. */

#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "agent/ctl/format.h"
#include "lib/bus-names.h"

#define DBUS_ERROR_PREFIX "org.freedesktop.DBus.Error."

int exit_code_from_error_name(const char *name) {
        static const struct {
                const char *name;
                int code;
        } table[] = {
                { BUS_ERROR_NO_SUCH_DOMAIN, EXIT_NO_SUCH },
                { BUS_ERROR_NO_SUCH_PORT, EXIT_NO_SUCH },
                { BUS_ERROR_NO_SUCH_POOL, EXIT_NO_SUCH },
                { BUS_ERROR_ACCESS_DENIED, EXIT_ACCESS },
                { DBUS_ERROR_PREFIX "AccessDenied", EXIT_ACCESS },
                { BUS_ERROR_BUSY, EXIT_BUSY },
                { BUS_ERROR_NO_VF_FREE, EXIT_BUSY },
                { BUS_ERROR_DRAINED, EXIT_BUSY },
                { BUS_ERROR_INVALID_ARGUMENT, EXIT_USAGE },
                { DBUS_ERROR_PREFIX "InvalidArgs", EXIT_USAGE },
                { DBUS_ERROR_PREFIX "ServiceUnknown", EXIT_UNREACHABLE },
                { DBUS_ERROR_PREFIX "NameHasNoOwner", EXIT_UNREACHABLE },
                { DBUS_ERROR_PREFIX "NoServer", EXIT_UNREACHABLE },
                { DBUS_ERROR_PREFIX "Disconnected", EXIT_UNREACHABLE },
                { DBUS_ERROR_PREFIX "NoReply", EXIT_UNREACHABLE },
                { DBUS_ERROR_PREFIX "Timeout", EXIT_UNREACHABLE },
        };

        if (!name || !*name)
                return EXIT_OK;
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(name, table[i].name) == 0)
                        return table[i].code;
        return EXIT_FAILED;
}

const char *error_name_short(const char *name) {
        if (name && strncmp(name, BUS_ERROR_PREFIX, strlen(BUS_ERROR_PREFIX)) == 0)
                return name + strlen(BUS_ERROR_PREFIX);
        return name;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_sequence_length(const unsigned char *s) {
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                n = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                n = 3;
                cp = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                n = 4;
                cp = s[0] & 0x07;
        } else
                return 0;

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)      /* also stops at the terminating NUL */
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
            cp > 0x10ffff)
                return 0;
        return n;
}

void json_escape_string(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) (s ?: "");

        fputc('"', f);
        while (*p) {
                size_t n;

                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\b':
                        fputs("\\b", f);
                        break;
                case '\f':
                        fputs("\\f", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f) {
                                fprintf(f, "\\u%04x", *p);
                                break;
                        }
                        n = utf8_sequence_length(p);
                        if (n == 0) {
                                fputs("\\ufffd", f);
                                break;
                        }
                        fwrite(p, 1, n, f);
                        p += n;
                        continue;
                }
                p++;
        }
        fputc('"', f);
}

/* Before any value: a comma if the container already has one. */
static void json_value_prefix(JsonWriter *w) {
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (w->depth > 0) {
                if (w->need_comma[w->depth - 1])
                        fputc(',', w->f);
                w->need_comma[w->depth - 1] = true;
        }
}

static void json_open(JsonWriter *w, char c) {
        json_value_prefix(w);
        fputc(c, w->f);
        assert(w->depth < JSON_DEPTH_MAX);
        w->need_comma[w->depth++] = false;
}

static void json_close(JsonWriter *w, char c) {
        assert(w->depth > 0 && !w->after_key);
        w->depth--;
        fputc(c, w->f);
}

void json_begin_object(JsonWriter *w) {
        json_open(w, '{');
}

void json_end_object(JsonWriter *w) {
        json_close(w, '}');
}

void json_begin_array(JsonWriter *w) {
        json_open(w, '[');
}

void json_end_array(JsonWriter *w) {
        json_close(w, ']');
}

void json_key(JsonWriter *w, const char *key) {
        assert(!w->after_key);
        json_value_prefix(w);
        json_escape_string(w->f, key);
        fputc(':', w->f);
        w->after_key = true;
}

void json_string(JsonWriter *w, const char *s) {
        json_value_prefix(w);
        json_escape_string(w->f, s);
}

void json_uint(JsonWriter *w, uint64_t u) {
        json_value_prefix(w);
        fprintf(w->f, "%" PRIu64, u);
}

void json_int(JsonWriter *w, int64_t i) {
        json_value_prefix(w);
        fprintf(w->f, "%" PRIi64, i);
}

void json_bool(JsonWriter *w, bool b) {
        json_value_prefix(w);
        fputs(b ? "true" : "false", w->f);
}

void json_null(JsonWriter *w) {
        json_value_prefix(w);
        fputs("null", w->f);
}

void json_raw(JsonWriter *w, const char *text) {
        json_value_prefix(w);
        fputs(text, w->f);
}

void json_field_string(JsonWriter *w, const char *key, const char *s) {
        json_key(w, key);
        json_string(w, s);
}

void json_field_uint(JsonWriter *w, const char *key, uint64_t u) {
        json_key(w, key);
        json_uint(w, u);
}

void json_field_bool(JsonWriter *w, const char *key, bool b) {
        json_key(w, key);
        json_bool(w, b);
}

Table *table_new(size_t n_columns, const char *const *headers) {
        Table *t;

        assert(n_columns > 0);
        t = calloc(1, sizeof(Table));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        if (table_add_row(t, headers) < 0)
                return table_free(t);
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        return mfree(t);
}

int table_add_row(Table *t, const char *const *cells) {
        char **n;

        n = realloc(t->cells, (t->n_cells + t->n_columns) * sizeof(char *));
        if (!n)
                return -ENOMEM;
        t->cells = n;
        for (size_t i = 0; i < t->n_columns; i++) {
                const char *c = cells[i] && *cells[i] ? cells[i] : "-";

                t->cells[t->n_cells] = strdup(c);
                if (!t->cells[t->n_cells])
                        return -ENOMEM;
                t->n_cells++;
        }
        return 0;
}

size_t table_rows(const Table *t) {
        return t->n_cells / t->n_columns - 1;
}

void table_print(const Table *t, FILE *f, bool header) {
        size_t width[t->n_columns];

        memset(width, 0, sizeof(width));
        for (size_t i = header ? 0 : t->n_columns; i < t->n_cells; i++)
                width[i % t->n_columns] = MAX(width[i % t->n_columns], utf8_width(t->cells[i]));

        for (size_t i = header ? 0 : t->n_columns; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;

                fputs(t->cells[i], f);
                if (col == t->n_columns - 1)
                        fputc('\n', f);
                else
                        fprintf(f, "%*s", (int) (width[col] - utf8_width(t->cells[i]) + 2), "");
        }
}

size_t utf8_width(const char *s) {
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *) s; p && *p; p++)
                if ((*p & 0xc0) != 0x80)
                        n++;
        return n;
}

const char *format_duration(char *buf, size_t size, uint64_t usec) {
        uint64_t sec = usec / 1000000;

        if (usec < 1000)
                snprintf(buf, size, "%" PRIu64 "us", usec);
        else if (usec < 1000000)
                snprintf(buf, size, "%" PRIu64 "ms", usec / 1000);
        else if (sec < 60)
                snprintf(buf, size, "%" PRIu64 ".%02" PRIu64 "s", sec, usec % 1000000 / 10000);
        else if (sec < 3600)
                snprintf(buf, size, "%" PRIu64 "min %02" PRIu64 "s", sec / 60, sec % 60);
        else
                snprintf(buf, size, "%" PRIu64 "h %02" PRIu64 "min", sec / 3600, sec % 3600 / 60);
        return buf;
}

const char *format_timestamp(char *buf, size_t size, uint64_t usec, bool utc) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        char s[32];

        if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) ||
            strftime(s, sizeof(s), utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm) == 0) {
                snprintf(buf, size, "@%" PRIu64, usec);
                return buf;
        }
        snprintf(buf, size, "%s.%03u%s", s, (unsigned) (usec % 1000000 / 1000), utc ? "Z" : "");
        return buf;
}

const char *format_bar(char *buf, size_t size, unsigned percent, unsigned width) {
        unsigned filled = MIN(percent, 100u) * width / 100, i;

        assert(size >= (size_t) width + 3);
        buf[0] = '[';
        for (i = 0; i < width; i++)
                buf[1 + i] = i < filled ? '#' : '.';
        buf[1 + width] = ']';
        buf[2 + width] = '\0';
        return buf;
}
