/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See keyfile.h. Lines are at most 4 KiB; longer ones are an error. */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/keyfile.h"
#include "lib/macro.h"

#define KEYFILE_LINE_MAX 4096

static char *strip(char *s) {
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = '\0';
        return s;
}

static int keyfile_error(char **ret_message, const KeyfileLocation *loc, int error, const char *format, ...)
        _printf_(4, 5);
static int keyfile_error(char **ret_message, const KeyfileLocation *loc, int error, const char *format, ...) {
        char why[KEYFILE_WHY_MAX];
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(why, sizeof(why), format, ap);
        va_end(ap);

        if (ret_message && asprintf(ret_message, "%s:%u: %s", loc->file, loc->line, why) < 0)
                *ret_message = NULL;
        return error;
}

int keyfile_parse(FILE *f, const char *file, KeyfileSectionCallback section_cb, KeyfileCallback cb, void *userdata,
                  char **ret_message) {
        _cleanup_free_ char *section = NULL;
        KeyfileLocation loc = { .file = file };
        char buf[KEYFILE_LINE_MAX + 2];

        assert(f);
        assert(file);
        assert(cb);

        if (ret_message)
                *ret_message = NULL;

        while (fgets(buf, sizeof(buf), f)) {
                char *l, *eq, *key, *value, why[KEYFILE_WHY_MAX] = "";
                size_t n = strlen(buf);
                int r;

                loc.line++;
                if (n > 0 && buf[n - 1] != '\n' && !feof(f))
                        return keyfile_error(ret_message, &loc, -EBADMSG, "line longer than %u bytes",
                                             KEYFILE_LINE_MAX);

                l = strip(buf);
                if (*l == '\0' || *l == '#' || *l == ';')
                        continue;

                if (*l == '[') {
                        char *end = strchr(l, ']');

                        if (!end || end[1] != '\0' || end == l + 1)
                                return keyfile_error(ret_message, &loc, -EBADMSG, "invalid section header '%.64s'", l);
                        *end = '\0';
                        free(section);
                        section = strdup(strip(l + 1));
                        if (!section)
                                return -ENOMEM;
                        if (section_cb) {
                                r = section_cb(&loc, section, userdata, why, sizeof(why));
                                if (r < 0)
                                        return keyfile_error(ret_message, &loc, r, "%s",
                                                             why[0] ? why : "invalid section");
                        }
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq)
                        return keyfile_error(ret_message, &loc, -EBADMSG, "expected Key=Value, got '%.64s'", l);
                if (!section)
                        return keyfile_error(ret_message, &loc, -EBADMSG, "assignment outside of a section");
                *eq = '\0';
                key = strip(l);
                value = strip(eq + 1);
                if (*key == '\0')
                        return keyfile_error(ret_message, &loc, -EBADMSG, "empty key");

                r = cb(&loc, section, key, value, userdata, why, sizeof(why));
                if (r < 0)
                        return keyfile_error(ret_message, &loc, r, "%s", why[0] ? why : "invalid setting");
        }

        if (ferror(f))
                return -EIO;
        return 0;
}
