/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enum <-> string tables: one table per enum, two generated functions. */
#pragma once

#include <errno.h>
#include <string.h>

/* Returns the index of 's' in table[0..n), or -EINVAL. */
static inline int string_table_lookup(const char *const *table, int n, const char *s) {
        for (int i = 0; s && i < n; i++)
                if (table[i] && strcmp(s, table[i]) == 0)
                        return i;
        return -EINVAL;
}

/* Defines name##_to_string() and name##_from_string() over name##_table[max]. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type, max)                                     \
        const char *name##_to_string(type i) {                                          \
                return i >= 0 && i < (max) ? name##_table[i] : NULL;                    \
        }                                                                               \
        type name##_from_string(const char *s) {                                        \
                return (type) string_table_lookup(name##_table, (max), s);              \
        }

#define DEFINE_STRING_TABLE_TO_STRING(name, type, max)                                  \
        const char *name##_to_string(type i) {                                          \
                return i >= 0 && i < (max) ? name##_table[i] : NULL;                    \
        }
