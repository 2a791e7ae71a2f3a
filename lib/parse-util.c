/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See parse-util.h. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/parse-util.h"

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

int parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;
        const char *p = s;

        if (!s || *s == '\0')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned) (*p - '0');

                if (v > (UINT64_MAX - d) / 10) {
                        /* Too large for 64 bits: out of range if the rest is digits too. */
                        p += strspn(p, "0123456789");
                        return *p == '\0' ? -ERANGE : -EINVAL;
                }
                v = v * 10 + d;
        }
        if (*p != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret) {
        uint64_t v;
        int r;

        r = parse_uint64(s, min, max, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

int parse_seconds(const char *s, usec_t min, usec_t max, usec_t *ret) {
        usec_t sec = 0, frac = 0, scale = USEC_PER_SEC / 10, v;
        const char *p = s;

        if (!s || !(*p >= '0' && *p <= '9'))
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                sec = sec * 10 + (usec_t) (*p - '0');
                if (sec > max / USEC_PER_SEC)
                        return -ERANGE;
        }
        if (*p == '.') {
                p++;
                if (!(*p >= '0' && *p <= '9'))
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (scale == 0) {
                                /* Below a microsecond: only zeros. */
                                if (*p != '0')
                                        return -ERANGE;
                                continue;
                        }
                        frac += (usec_t) (*p - '0') * scale;
                        scale /= 10;
                }
        }
        if (*p != '\0')
                return -EINVAL;

        v = sec * USEC_PER_SEC + frac;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int parse_mac(const char *s, uint8_t *ret) {
        uint8_t mac[ETHER_ADDR_LEN_BYTES];

        if (!s || strnlen(s, MAC_STRING_MAX) != MAC_STRING_MAX - 1)
                return -EINVAL;
        for (size_t i = 0; i < ETHER_ADDR_LEN_BYTES; i++) {
                int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

                if (hi < 0 || lo < 0 || (i < ETHER_ADDR_LEN_BYTES - 1 && s[3 * i + 2] != ':'))
                        return -EINVAL;
                mac[i] = (uint8_t) (hi << 4 | lo);
        }
        if (ret)
                memcpy(ret, mac, sizeof(mac));
        return 0;
}

const char *mac_to_string(const uint8_t mac[static ETHER_ADDR_LEN_BYTES], char buf[static MAC_STRING_MAX]) {
        (void) snprintf(buf, MAC_STRING_MAX, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                        mac[4], mac[5]);
        return buf;
}

int mac_normalize(const char *s, char ret[static MAC_STRING_MAX]) {
        uint8_t mac[ETHER_ADDR_LEN_BYTES];
        int r;

        r = parse_mac(s, mac);
        if (r < 0)
                return r;
        mac_to_string(mac, ret);
        return 0;
}

bool mac_is_valid(const char *s) {
        static const uint8_t zero[ETHER_ADDR_LEN_BYTES] = {};
        uint8_t mac[ETHER_ADDR_LEN_BYTES];

        if (parse_mac(s, mac) < 0)
                return false;
        /* The group bit of the first octet marks multicast and broadcast addresses. */
        return !(mac[0] & 1) && memcmp(mac, zero, sizeof(mac)) != 0;
}

static bool uuid_dash_at(size_t i) {
        return i == 8 || i == 13 || i == 18 || i == 23;
}

int parse_uuid(const char *s, char ret[static UUID_STRING_MAX]) {
        char hex[32];
        size_t len, n = 0;

        if (!s)
                return -EINVAL;
        len = strnlen(s, UUID_STRING_MAX);
        if (len != 32 && len != 36)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (len == 36 && uuid_dash_at(i)) {
                        if (s[i] != '-')
                                return -EINVAL;
                        continue;
                }
                if (hexval(s[i]) < 0)
                        return -EINVAL;
                hex[n++] = "0123456789abcdef"[hexval(s[i])];
        }
        for (size_t i = 0, k = 0; i < UUID_STRING_MAX - 1; i++)
                ret[i] = uuid_dash_at(i) ? '-' : hex[k++];
        ret[UUID_STRING_MAX - 1] = '\0';
        return 0;
}

bool uuid_is_valid(const char *s) {
        char u[UUID_STRING_MAX];

        return s && strnlen(s, UUID_STRING_MAX) == UUID_STRING_MAX - 1 && parse_uuid(s, u) == 0;
}
