/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keyfile parsing ("[Section]" and "Key=Value" lines, '#' and ';' comments),
 * the format of systemd's and NetworkManager's configuration files. The
 * parser calls back for every assignment; errors name the file and line. */
#pragma once

#include <stdio.h>

typedef struct KeyfileLocation {
        const char *file;
        unsigned line;
} KeyfileLocation;

/* Returns 0 to go on, or a negative errno (after writing a message into
 * 'why', at most 'why_size' bytes) to stop parsing. */
typedef int (*KeyfileCallback)(const KeyfileLocation *loc, const char *section, const char *key,
                               const char *value, void *userdata, char *why, size_t why_size);

/* Parses 'f' (named 'file' in messages). On an error, 'ret_message' (if
 * not NULL) receives "FILE:LINE: reason" (malloc'd) and the errno is
 * returned: -EBADMSG for syntax, whatever the callback returned otherwise. */
int keyfile_parse(FILE *f, const char *file, KeyfileCallback cb, void *userdata, char **ret_message);
