/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small string helpers. */
#pragma once

#include <stdbool.h>
#include <string.h>

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* Both NULL, or both equal. */
static inline bool streq_ptr(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* The rest of 's' after 'prefix', or NULL if 's' does not start with it. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}
