/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keyfile parsing ("[Section]" and "Key=Value" lines, '#' and ';' comments),
 * the format of systemd's and NetworkManager's configuration files. The
 * parser calls back for every section header and every assignment, in file
 * order, with where they are; errors name the file and line. */
#pragma once

#include <stdio.h>

typedef struct KeyfileLocation {
        const char *file;
        unsigned line;
} KeyfileLocation;

#define KEYFILE_WHY_MAX 512U

/* Both callbacks return 0 to go on, or a negative errno (after writing a
 * message into 'why', at most 'why_size' bytes) to stop parsing. */

/* For each "[Section]" header: 'section' is the name between the brackets,
 * white space stripped; 'loc' the header's line. */
typedef int (*KeyfileSectionCallback)(const KeyfileLocation *loc, const char *section, void *userdata, char *why,
                                      size_t why_size);
/* For each "Key=Value" line; 'section' is the name of the last header. */
typedef int (*KeyfileCallback)(const KeyfileLocation *loc, const char *section, const char *key,
                               const char *value, void *userdata, char *why, size_t why_size);

/* Parses 'f' (named 'file' in messages), calling 'section_cb' (may be NULL)
 * and 'cb'. On an error, 'ret_message' (if not NULL) receives
 * "FILE:LINE: reason" (malloc'd) and the errno is returned: -EBADMSG for
 * syntax, whatever the callback returned otherwise. */
int keyfile_parse(FILE *f, const char *file, KeyfileSectionCallback section_cb, KeyfileCallback cb, void *userdata,
                  char **ret_message);
