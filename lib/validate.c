/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of decoded messages; see validate.h. Everything here treats its
 * input as hostile: no field is trusted until it was checked. */

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/validate.h"

const char *peer_role_to_string(PeerRole role) {
        switch (role) {
        case PEER_ROLE_HOST:
                return "host";
        case PEER_ROLE_GUEST:
                return "guest";
        }
        return NULL;
}

bool ifname_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, VALIDATE_IFNAME_MAX + 1);
        if (n == 0 || n > VALIDATE_IFNAME_MAX)
                return false;
        if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '/' || s[i] == ':')
                        return false;
        return true;
}

/* "scheme:rest": qemu:///system, qemu+ssh://host/system, test:///default. */
bool libvirt_uri_is_valid(const char *s) {
        const char *p = s;

        if (!(*p >= 'a' && *p <= 'z'))
                return false;
        /* *p first: strchr() finds the terminating NUL too. */
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p && strchr("+.-", *p)))
                p++;
        if (*p != ':' || p[1] == '\0')
                return false;
        for (; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* A POSIX-portable group name, as useradd(8) and groupadd(8) take them. */
bool group_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 32)
                return false;
        if (!isalpha((unsigned char) s[0]) && s[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

int ip_address_family(const char *s) {
        uint8_t a[16];

        if (s && inet_pton(AF_INET, s, a) == 1)
                return AF_INET;
        if (s && inet_pton(AF_INET6, s, a) == 1)
                return AF_INET6;
        return -EINVAL;
}

/* DDDD:BB:DD.F in hex; the device is 00..1f and the function 0..7. */
bool pci_address_is_valid(const char *s) {
        static const char shape[] = "xxxx:xx:xx.x";

        if (strlen(s) != strlen(shape))
                return false;
        for (size_t i = 0; shape[i]; i++) {
                if (shape[i] != 'x') {
                        if (s[i] != shape[i])
                                return false;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
        }
        if (strtoul((char[]) { s[8], s[9], '\0' }, NULL, 16) > 0x1f)
                return false;
        return s[11] >= '0' && s[11] <= '7';
}

static bool printable_ascii(const char *s, size_t max, bool allow_empty) {
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, max + 1);
        if (n > max || (n == 0 && !allow_empty))
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < ' ' || s[i] >= 0x7f)
                        return false;
        return true;
}

/* Control characters a terminal or a log reader acts on: C0, DEL, C1, and
 * the Unicode line separators and bidirectional overrides that reorder
 * what is shown (U+2028/2029, U+202A-202E, U+2066-2069). */
static bool codepoint_is_control(uint32_t cp) {
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
               (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static bool utf8_check(const char *s, size_t max_bytes, bool printable) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, max_bytes + 1);
        if (n > max_bytes)
                return false;

        for (size_t i = 0; i < n;) {
                unsigned c = p[i], len;
                uint32_t cp;

                if (c < 0x80) {
                        if (printable && codepoint_is_control(c))
                                return false;
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;

                if (i + len > n)
                        return false;
                for (unsigned k = 1; k < len; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i + k] & 0x3f);
                }

                /* Overlong forms, surrogates and values past U+10FFFF. */
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                if (printable && codepoint_is_control(cp))
                        return false;
                i += len;
        }
        return true;
}

bool utf8_is_valid(const char *s, size_t max_bytes) {
        return utf8_check(s, max_bytes, false);
}

char *text_escape(const char *s) {
        const unsigned char *p = (const unsigned char *) (s ?: "");
        size_t n = strlen((const char *) p), k = 0;
        char *out = malloc(n * 4 + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t len = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3 : 4;
                char one[5] = {};

                /* one character at a time: shown as it is if it is printable, else as bytes */
                if (i + len <= n)
                        memcpy(one, p + i, len);
                if (i + len <= n && text_is_printable(one, len)) {
                        memcpy(out + k, one, len);
                        k += len;
                        i += len;
                } else {
                        k += (size_t) sprintf(out + k, "\\x%02x", p[i]);
                        i++;
                }
        }
        out[k] = '\0';
        return out;
}

bool text_is_printable(const char *s, size_t max_bytes) {
        return utf8_check(s, max_bytes, true);
}

static uint64_t path_drops(const Vfo__PathCounters *c) {
        return c ? c->rx_dropped + c->tx_dropped + c->rx_nohandler : 0;
}

uint64_t switch_report_drops(const Vfo__SwitchReport *r) {
        assert(r);
        return path_drops(r->synthetic) + path_drops(r->vf);
}

const char *envelope_body_to_string(Vfo__Envelope__BodyCase body) {
        const ProtobufCFieldDescriptor *f;

        f = protobuf_c_message_descriptor_get_field(&vfo__envelope__descriptor, (unsigned) body);
        return f && f->id != 1 ? f->name : NULL;
}

/* Requests and replies carry a non-zero id; events and errors may use 0. */
static bool envelope_body_needs_id(Vfo__Envelope__BodyCase body) {
        return body != VFO__ENVELOPE__BODY_PATH_CHANGED && body != VFO__ENVELOPE__BODY_ERROR &&
               body != VFO__ENVELOPE__BODY_SWITCH_REPORT;
}

bool envelope_body_allowed(PeerRole sender, Vfo__Envelope__BodyCase body) {
        switch (body) {
        case VFO__ENVELOPE__BODY_SYNC:
        case VFO__ENVELOPE__BODY_INVENTORY_REQUEST:
        case VFO__ENVELOPE__BODY_PREPARE_DETACH:
        case VFO__ENVELOPE__BODY_PREPARE_ATTACH:
        case VFO__ENVELOPE__BODY_STEERING_MOVED:
        case VFO__ENVELOPE__BODY_SET_PATH:
        case VFO__ENVELOPE__BODY_EXPECT_REPLAY:
                return sender == PEER_ROLE_HOST;
        case VFO__ENVELOPE__BODY_SYNC_REPLY:
        case VFO__ENVELOPE__BODY_INVENTORY_REPLY:
        case VFO__ENVELOPE__BODY_DETACH_READY:
        case VFO__ENVELOPE__BODY_ATTACH_READY:
        case VFO__ENVELOPE__BODY_PATH_CHANGED:
        case VFO__ENVELOPE__BODY_SWITCH_REPORT:
        case VFO__ENVELOPE__BODY_REPLAY_EXPECTED:
                return sender == PEER_ROLE_GUEST;
        case VFO__ENVELOPE__BODY_PING:
        case VFO__ENVELOPE__BODY_PONG:
        case VFO__ENVELOPE__BODY_ERROR:
                return true;
        case VFO__ENVELOPE__BODY__NOT_SET:
        case _VFO__ENVELOPE__BODY__CASE_IS_INT_SIZE:
                break;
        }
        return false;
}

/* An enum value the .proto lists; 'specified' also refuses the zero value. */
static bool enum_ok(const ProtobufCEnumDescriptor *d, int v, bool specified) {
        if (specified && v == 0)
                return false;
        return protobuf_c_enum_descriptor_get_value(d, v) != NULL;
}

static int fail(char *why, size_t why_size, const char *format, ...) _printf_(3, 4);
static int fail(char *why, size_t why_size, const char *format, ...) {
        va_list ap;

        if (why && why_size > 0) {
                va_start(ap, format);
                (void) vsnprintf(why, why_size, format, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

#define CHECK(cond, ...)                                                \
        do {                                                            \
                if (!(cond))                                            \
                        return fail(why, why_size, __VA_ARGS__);        \
        } while (0)

static bool path_ok(Vfo__PathKind p) {
        return p == VFO__PATH_KIND__PATH_KIND_SYNTHETIC || p == VFO__PATH_KIND__PATH_KIND_VF;
}

static bool deadline_ok(uint32_t ms) {
        return ms >= 1 && ms <= VALIDATE_DEADLINE_MS_MAX;
}

static int validate_port(const Vfo__Port *p, size_t index, char *why, size_t why_size) {
        CHECK(p, "port %zu: missing", index);
        CHECK(mac_is_valid(p->mac), "port %zu: invalid MAC", index);
        CHECK(ifname_is_valid(p->synthetic_ifname), "port %zu: invalid synthetic interface name", index);
        CHECK(p->vf_ifname && (p->vf_ifname[0] == '\0' || ifname_is_valid(p->vf_ifname)),
              "port %zu: invalid VF interface name", index);
        CHECK(p->master_ifname && (p->master_ifname[0] == '\0' || ifname_is_valid(p->master_ifname)),
              "port %zu: invalid master interface name", index);
        CHECK(enum_ok(&vfo__datapath_kind__descriptor, p->datapath, true), "port %zu: invalid datapath kind",
              index);
        CHECK(p->datapath == VFO__DATAPATH_KIND__DATAPATH_KIND_NETVSC || p->master_ifname[0] != '\0',
              "port %zu: missing master interface", index);
        CHECK(path_ok(p->active_path), "port %zu: invalid active path", index);
        CHECK(enum_ok(&vfo__link_state__descriptor, p->synthetic_link, true), "port %zu: invalid synthetic link state",
              index);
        CHECK(enum_ok(&vfo__link_state__descriptor, p->vf_link, true), "port %zu: invalid VF link state", index);
        CHECK((p->vf_link == VFO__LINK_STATE__LINK_STATE_ABSENT) == (p->vf_ifname[0] == '\0'),
              "port %zu: VF link state and VF interface name disagree", index);
        CHECK(p->active_path != VFO__PATH_KIND__PATH_KIND_VF || p->vf_ifname[0] != '\0',
              "port %zu: active path is the VF but no VF is present", index);
        return 0;
}

static int validate_inventory(const Vfo__InventoryReply *r, char *why, size_t why_size) {
        int k;

        CHECK(r->n_ports <= VALIDATE_PORTS_MAX, "too many ports (%zu > %u)", r->n_ports, VALIDATE_PORTS_MAX);
        for (size_t i = 0; i < r->n_ports; i++) {
                k = validate_port(r->ports[i], i, why, why_size);
                if (k < 0)
                        return k;
                for (size_t j = 0; j < i; j++)
                        CHECK(strcasecmp(r->ports[i]->mac, r->ports[j]->mac) != 0,
                              "ports %zu and %zu have the same MAC", j, i);
        }
        return 0;
}

int envelope_validate(const Vfo__Envelope *e, PeerRole sender, char *why, size_t why_size) {
        const char *name;

        assert(e);

        name = envelope_body_to_string(e->body_case);
        CHECK(name, "unknown or missing message body (%d)", (int) e->body_case);
        CHECK(envelope_body_allowed(sender, e->body_case), "%s is not sent by the %s", name,
              peer_role_to_string(sender));
        CHECK(!envelope_body_needs_id(e->body_case) || e->id != 0, "%s without request id", name);

        switch (e->body_case) {
        case VFO__ENVELOPE__BODY_SYNC:
                CHECK(e->sync->nonce != 0, "Sync with nonce 0");
                CHECK(e->sync->protocol_version >= 1, "Sync with protocol version 0");
                CHECK(printable_ascii(e->sync->host_version, VALIDATE_VERSION_MAX, false),
                      "Sync: invalid host version string");
                return 0;

        case VFO__ENVELOPE__BODY_SYNC_REPLY:
                CHECK(e->sync_reply->nonce != 0, "SyncReply with nonce 0");
                CHECK(e->sync_reply->protocol_version >= 1, "SyncReply with protocol version 0");
                CHECK(printable_ascii(e->sync_reply->agent_version, VALIDATE_VERSION_MAX, false),
                      "SyncReply: invalid agent version string");
                CHECK(e->sync_reply->n_capabilities <= VALIDATE_CAPABILITIES_MAX, "SyncReply: too many capabilities");
                for (size_t i = 0; i < e->sync_reply->n_capabilities; i++)
                        CHECK(enum_ok(&vfo__capability__descriptor, e->sync_reply->capabilities[i], true),
                              "SyncReply: unknown capability %d", (int) e->sync_reply->capabilities[i]);
                return 0;

        case VFO__ENVELOPE__BODY_INVENTORY_REQUEST:
                return 0;

        case VFO__ENVELOPE__BODY_INVENTORY_REPLY:
                return validate_inventory(e->inventory_reply, why, why_size);

        case VFO__ENVELOPE__BODY_PREPARE_DETACH:
                CHECK(mac_is_valid(e->prepare_detach->mac), "PrepareDetach: invalid MAC");
                CHECK(deadline_ok(e->prepare_detach->deadline_ms), "PrepareDetach: deadline out of range");
                return 0;

        case VFO__ENVELOPE__BODY_DETACH_READY:
                CHECK(mac_is_valid(e->detach_ready->mac), "DetachReady: invalid MAC");
                return 0;

        case VFO__ENVELOPE__BODY_PREPARE_ATTACH:
                CHECK(mac_is_valid(e->prepare_attach->mac), "PrepareAttach: invalid MAC");
                CHECK(deadline_ok(e->prepare_attach->deadline_ms), "PrepareAttach: deadline out of range");
                return 0;

        case VFO__ENVELOPE__BODY_ATTACH_READY:
                CHECK(mac_is_valid(e->attach_ready->mac), "AttachReady: invalid MAC");
                CHECK(ifname_is_valid(e->attach_ready->vf_ifname), "AttachReady: invalid VF interface name");
                return 0;

        case VFO__ENVELOPE__BODY_STEERING_MOVED:
                CHECK(mac_is_valid(e->steering_moved->mac), "SteeringMoved: invalid MAC");
                CHECK(path_ok(e->steering_moved->path), "SteeringMoved: invalid path");
                return 0;

        case VFO__ENVELOPE__BODY_SET_PATH:
                CHECK(mac_is_valid(e->set_path->mac), "SetPath: invalid MAC");
                CHECK(path_ok(e->set_path->path), "SetPath: invalid path");
                return 0;

        case VFO__ENVELOPE__BODY_PATH_CHANGED:
                CHECK(mac_is_valid(e->path_changed->mac), "PathChanged: invalid MAC");
                CHECK(path_ok(e->path_changed->path), "PathChanged: invalid path");
                CHECK(enum_ok(&vfo__path_change_reason__descriptor, e->path_changed->reason, true),
                      "PathChanged: invalid reason");
                CHECK(e->path_changed->switched_usec >= e->path_changed->request_usec,
                      "PathChanged: switched before it was requested");
                return 0;

        case VFO__ENVELOPE__BODY_SWITCH_REPORT:
                CHECK(mac_is_valid(e->switch_report->mac), "SwitchReport: invalid MAC");
                CHECK(path_ok(e->switch_report->path), "SwitchReport: invalid path");
                CHECK(e->switch_report->end_usec >= e->switch_report->start_usec,
                      "SwitchReport: ended before it started");
                return 0;

        case VFO__ENVELOPE__BODY_EXPECT_REPLAY:
                CHECK(mac_is_valid(e->expect_replay->mac), "ExpectReplay: invalid MAC");
                CHECK(e->expect_replay->window_ms <= VALIDATE_REPLAY_WINDOW_MS_MAX,
                      "ExpectReplay: window out of range");
                CHECK(e->expect_replay->prepare_ms <= VALIDATE_REPLAY_PREPARE_MS_MAX,
                      "ExpectReplay: preparation out of range");
                CHECK(e->expect_replay->prepare_ms == 0 || e->expect_replay->window_ms == 0,
                      "ExpectReplay: a preparation with a window");
                return 0;

        case VFO__ENVELOPE__BODY_REPLAY_EXPECTED:
                CHECK(mac_is_valid(e->replay_expected->mac), "ReplayExpected: invalid MAC");
                CHECK(e->replay_expected->window_ms <= VALIDATE_REPLAY_WINDOW_MS_MAX,
                      "ReplayExpected: window out of range");
                CHECK(e->replay_expected->prepare_ms <= VALIDATE_REPLAY_PREPARE_MS_MAX,
                      "ReplayExpected: preparation out of range");
                return 0;

        case VFO__ENVELOPE__BODY_PING:
        case VFO__ENVELOPE__BODY_PONG:
                return 0;

        case VFO__ENVELOPE__BODY_ERROR:
                CHECK(enum_ok(&vfo__error_code__descriptor, e->error->code, true), "Error: invalid code");
                CHECK(text_is_printable(e->error->message, VALIDATE_ERROR_MESSAGE_MAX),
                      "Error: message is not printable UTF-8 text or longer than %u bytes", VALIDATE_ERROR_MESSAGE_MAX);
                return 0;

        case VFO__ENVELOPE__BODY__NOT_SET:
        case _VFO__ENVELOPE__BODY__CASE_IS_INT_SIZE:
                break;
        }

        return fail(why, why_size, "unknown message body");
}
