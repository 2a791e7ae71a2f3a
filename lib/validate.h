/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checks of every field of a decoded Envelope: string rules, counts, enum
 * ranges, and which side may send which message. Pure functions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/macro.h"
#include "lib/parse-util.h"     /* mac_is_valid(), uuid_is_valid() */
#include "proto/vfo.pb-c.h"

#define VFO_PROTOCOL_VERSION 4U
/* What each version added: a peer below it neither sends nor expects it. */
#define VFO_PROTOCOL_SWITCH_REPORT 2U   /* the agent's SwitchReport */
#define VFO_PROTOCOL_DETACH_MARKER 3U   /* SteeringMoved{SYNTHETIC}.drain_marker: the VF's */
#define VFO_PROTOCOL_REPLAY 4U          /* ExpectReplay, ReplayExpected */

#define VALIDATE_VERSION_MAX 64U        /* Sync.host_version, SyncReply.agent_version */
#define VALIDATE_ERROR_MESSAGE_MAX 256U
#define VALIDATE_CAPABILITIES_MAX 16U
#define VALIDATE_PORTS_MAX 32U
#define VALIDATE_DEADLINE_MS_MAX 60000U
#define VALIDATE_REPLAY_WINDOW_MS_MAX 10000U    /* ExpectReplay.window_ms */
#define VALIDATE_REPLAY_PREPARE_MS_MAX 60000U   /* ExpectReplay.prepare_ms */
#define VALIDATE_IFNAME_MAX 15U         /* IFNAMSIZ - 1 */

typedef enum PeerRole {
        PEER_ROLE_HOST,         /* vfod: sends Sync and requests */
        PEER_ROLE_GUEST,        /* vfo-agent: answers, sends events */
} PeerRole;

const char *peer_role_to_string(PeerRole role) _pure_;

/* A Linux interface name: 1..15 printable ASCII bytes, none of '/', ':' or
 * white space, not "." or "..". */
bool ifname_is_valid(const char *s) _pure_;
/* DDDD:BB:DD.F in hex (either case): a PCI address whose device is 00..1f
 * and function 0..7. */
bool pci_address_is_valid(const char *s) _pure_;
/* A numeric IPv4 or IPv6 address (inet_pton): AF_INET or AF_INET6, else
 * -EINVAL. */
int ip_address_family(const char *s);
/* A POSIX-portable group name, as useradd(8) and groupadd(8) take them:
 * 1..32 characters of A-Z, a-z, 0-9, '_', '.', '-', the first a letter or '_'. */
bool group_name_is_valid(const char *s) _pure_;
/* "scheme:rest" with a lower-case scheme and no white space or control
 * characters: qemu:///system, qemu+ssh://host/system, test:///default. */
bool libvirt_uri_is_valid(const char *s) _pure_;
bool utf8_is_valid(const char *s, size_t max_bytes) _pure_;
/* Valid UTF-8 of at most max_bytes with no control characters (C0, DEL,
 * C1, line separators, bidirectional overrides): safe to show on a
 * terminal and in a log line as it is. Every free-text string from a guest
 * must pass this. */
bool text_is_printable(const char *s, size_t max_bytes) _pure_;
/* A copy of 's' (NULL: "") in which every character text_is_printable()
 * refuses, and every byte that is not UTF-8, is written as \xNN. For
 * showing strings that came from elsewhere. NULL when out of memory. */
char *text_escape(const char *s);

/* Which messages 'sender' may send, and whether they need a non-zero id. */
bool envelope_body_allowed(PeerRole sender, Vfo__Envelope__BodyCase body) _pure_;

/* Returns 0 when every field of 'e', sent by 'sender', is acceptable;
 * -EBADMSG otherwise, with a short reason (no guest data in it) in 'why'. */
/* Frames a SwitchReport says the guest saw dropped: drops on the synthetic
 * NIC and the VF, and what they delivered to nobody (not the master's:
 * net_failover and bonding add up their slaves'). 0 for a clean move as far
 * as the guest can tell. */
uint64_t switch_report_drops(const Vfo__SwitchReport *r);

int envelope_validate(const Vfo__Envelope *e, PeerRole sender, char *why, size_t why_size);

const char *envelope_body_to_string(Vfo__Envelope__BodyCase body) _pure_;
