/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The value parsers vfod.conf, vfo-agent.conf and vfoctl share: booleans,
 * unsigned numbers in a range, seconds, MAC addresses and UUIDs. Pure
 * functions; each returns 0 or a negative errno (-EINVAL: not of the form,
 * -ERANGE: of the form but out of range) and fills 'ret' only on success. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/macro.h"
#include "lib/time-util.h"

#define ETHER_ADDR_LEN_BYTES 6U
#define MAC_STRING_MAX 18U      /* "aa:bb:cc:dd:ee:ff" and its NUL */
#define UUID_STRING_MAX 37U     /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its NUL */

/* 1, yes, y, true, on → 1; 0, no, n, false, off → 0 (any case); else -EINVAL.
 * (vfoctl always took y and n; systemd's set has them too.) */
int parse_boolean(const char *s) _pure_;

/* Decimal digits only (no sign, no white space, no base prefix), min..max. */
int parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);

/* "30", "0.5", "2.25": decimal seconds to the microsecond (no unit, no
 * sign, digits on both sides of a '.'), min..max. Digits below a
 * microsecond must be zeros. */
int parse_seconds(const char *s, usec_t min, usec_t max, usec_t *ret);

/* "52:54:00:AA:bb:cc": six colon-separated pairs of hex digits, any case.
 * 'ret' may be NULL to check the form only. Any address (also multicast,
 * all zero): mac_is_valid() is the stricter check for a port's MAC. */
int parse_mac(const char *s, uint8_t *ret);
/* Lower case "52:54:00:aa:bb:cc" in 'buf'; returns 'buf'. */
const char *mac_to_string(const uint8_t mac[static ETHER_ADDR_LEN_BYTES], char buf[static MAC_STRING_MAX]);
/* parse_mac() and mac_to_string() in one: 's' in canonical form. */
int mac_normalize(const char *s, char ret[static MAC_STRING_MAX]);
/* A MAC a port may have: the form of parse_mac(), unicast and not all zero. */
bool mac_is_valid(const char *s) _pure_;

/* "5f1c0000-0000-4000-8000-000000000000" (8-4-4-4-12), or the same 32 hex
 * digits without dashes, any case; 'ret' receives the dashed lower-case
 * form. */
int parse_uuid(const char *s, char ret[static UUID_STRING_MAX]);
/* Only the dashed 8-4-4-4-12 form, any case. */
bool uuid_is_valid(const char *s) _pure_;
