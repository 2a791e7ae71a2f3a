/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of every field a peer sends: strings, counts, enums, direction. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "lib/channel.h"
#include "lib/validate.h"
#include "tests/unit/proto-builders.h"

/* Packs, unpacks with the bounded allocator, validates as sent by 'sender'. */
static int roundtrip(const Vfo__Envelope *e, PeerRole sender) {
        _cleanup_(envelope_freep) Vfo__Envelope *out = NULL;
        size_t n = vfo__envelope__get_packed_size(e);
        uint8_t *buf = malloc(n + 1);
        char why[128] = "";
        int r;

        assert_non_null(buf);
        vfo__envelope__pack(e, buf);
        r = envelope_unpack(buf, n, sender, &out, why, sizeof(why));
        free(buf);
        if (r < 0)
                assert_true(why[0] != '\0');    /* every refusal says why */
        else
                assert_non_null(out);
        return r;
}

static void test_validate_ifname(void **state) {
        assert_true(ifname_is_valid("eth0"));
        assert_true(ifname_is_valid("enp0s3nsby"));
        assert_true(ifname_is_valid("abcdefghijklmno"));        /* 15 bytes */
        assert_false(ifname_is_valid("abcdefghijklmnop"));      /* 16 bytes */
        assert_false(ifname_is_valid(""));
        assert_false(ifname_is_valid("."));
        assert_false(ifname_is_valid(".."));
        assert_false(ifname_is_valid("eth/0"));
        assert_false(ifname_is_valid("eth:0"));
        assert_false(ifname_is_valid("eth 0"));
        assert_false(ifname_is_valid("eth\t0"));
        assert_false(ifname_is_valid("eth\x7f"));
        assert_false(ifname_is_valid("eth\xc3\xa9"));
        assert_false(ifname_is_valid(NULL));
}

static void test_validate_utf8(void **state) {
        assert_true(utf8_is_valid("", 10));
        assert_true(utf8_is_valid("plain", 10));
        assert_true(utf8_is_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 32));
        assert_false(utf8_is_valid("toolong", 6));
        assert_false(utf8_is_valid("\xc3", 10));                /* truncated */
        assert_false(utf8_is_valid("\xc0\xaf", 10));            /* overlong '/' */
        assert_false(utf8_is_valid("\xed\xa0\x80", 10));        /* surrogate */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 10));    /* > U+10FFFF */
        assert_false(utf8_is_valid("\xff", 10));
        assert_false(utf8_is_valid("\x80", 10));
}

static void test_validate_ip_address(void **state) {
        assert_int_equal(ip_address_family("10.78.0.11"), AF_INET);
        assert_int_equal(ip_address_family("fd00::7"), AF_INET6);
        assert_int_equal(ip_address_family("::ffff:192.0.2.1"), AF_INET6);
        assert_int_equal(ip_address_family("10.78.0.11/24"), -EINVAL);
        assert_int_equal(ip_address_family("10.78.0"), -EINVAL);
        assert_int_equal(ip_address_family("host-b"), -EINVAL);
        assert_int_equal(ip_address_family(" 10.78.0.11"), -EINVAL);
        assert_int_equal(ip_address_family(""), -EINVAL);
        assert_int_equal(ip_address_family(NULL), -EINVAL);
}

static void test_validate_config_strings(void **state) {
        assert_true(pci_address_is_valid("0000:03:00.2"));
        assert_true(pci_address_is_valid("ABCD:ef:1F.7"));
        assert_false(pci_address_is_valid("03:00.2"));
        assert_false(pci_address_is_valid("0000:03:20.0"));    /* device > 0x1f */
        assert_false(pci_address_is_valid("0000:03:00.8"));    /* function > 7 */
        assert_false(pci_address_is_valid("0000:03:0g.0"));
        assert_false(pci_address_is_valid("0000-03:00.2"));
        assert_false(pci_address_is_valid("0000:03:00.2 "));

        assert_true(group_name_is_valid("vfo"));
        assert_true(group_name_is_valid("_vfo-admins.2"));
        assert_true(group_name_is_valid("a2345678901234567890123456789012"));
        assert_false(group_name_is_valid("a23456789012345678901234567890123"));
        assert_false(group_name_is_valid(""));
        assert_false(group_name_is_valid("9vfo"));
        assert_false(group_name_is_valid("-vfo"));
        assert_false(group_name_is_valid("vfo admins"));

        assert_true(libvirt_uri_is_valid("qemu:///system"));
        assert_true(libvirt_uri_is_valid("qemu+ssh://host/system"));
        assert_true(libvirt_uri_is_valid("test:///default"));
        assert_false(libvirt_uri_is_valid("system"));
        assert_false(libvirt_uri_is_valid("qemu:"));
        assert_false(libvirt_uri_is_valid("Qemu:///system"));
        assert_false(libvirt_uri_is_valid("qemu:///sys tem"));
        assert_false(libvirt_uri_is_valid("qemu:///sys\x7f"));
        assert_false(libvirt_uri_is_valid(""));
}

static void test_validate_printable(void **state) {
        assert_true(text_is_printable("", 10));
        assert_true(text_is_printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 32));
        assert_false(text_is_printable("\x1b[2J", 10));                 /* ESC: a terminal escape */
        assert_false(text_is_printable("a\nb", 10));                   /* a forged log line */
        assert_false(text_is_printable("a\rb", 10));
        assert_false(text_is_printable("a\tb", 10));
        assert_false(text_is_printable("\x7f", 10));                   /* DEL */
        assert_false(text_is_printable("\xc2\x9b" "2J", 10));           /* C1 CSI */
        assert_false(text_is_printable("\xe2\x80\xae" "txt", 10));     /* right-to-left override */
        assert_false(text_is_printable("\xe2\x80\xa8", 10));           /* line separator */
        assert_false(text_is_printable("\xc3", 10));                   /* still UTF-8 first */
        assert_false(text_is_printable("toolong", 6));
}

static void test_text_escape(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain", "plain" },
                { "caf\xc3\xa9", "caf\xc3\xa9" },
                { "\x1b[2Jx", "\\x1b[2Jx" },
                { "a\nb", "a\\x0ab" },
                { "\xc2\x9b", "\\xc2\\x9b" },
                { "\xff\xc3", "\\xff\\xc3" },
                { "", "" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *e = text_escape(cases[i].in);

                assert_non_null(e);
                assert_string_equal(e, cases[i].out);
                assert_true(text_is_printable(e, 64));
                free(e);
        }
}

static void test_validate_error_message_must_be_printable(void **state) {
        TestMessage m;
        Vfo__Envelope *e = test_message_init(&m, VFO__ENVELOPE__BODY_ERROR, 0);

        e->error->message = (char *) "refused \x1b]0;owned\x07";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        e->error->message = (char *) "refused: the port is busy";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), 0);
}

static void test_validate_good_messages_pass(void **state) {
        static const struct {
                Vfo__Envelope__BodyCase body;
                PeerRole sender;
        } cases[] = {
                { VFO__ENVELOPE__BODY_SYNC, PEER_ROLE_HOST },
                { VFO__ENVELOPE__BODY_SYNC_REPLY, PEER_ROLE_GUEST },
                { VFO__ENVELOPE__BODY_INVENTORY_REPLY, PEER_ROLE_GUEST },
                { VFO__ENVELOPE__BODY_PREPARE_DETACH, PEER_ROLE_HOST },
                { VFO__ENVELOPE__BODY_STEERING_MOVED, PEER_ROLE_HOST },
                { VFO__ENVELOPE__BODY_PATH_CHANGED, PEER_ROLE_GUEST },
                { VFO__ENVELOPE__BODY_SWITCH_REPORT, PEER_ROLE_GUEST },
                { VFO__ENVELOPE__BODY_EXPECT_REPLAY, PEER_ROLE_HOST },
                { VFO__ENVELOPE__BODY_REPLAY_EXPECTED, PEER_ROLE_GUEST },
                { VFO__ENVELOPE__BODY_ERROR, PEER_ROLE_GUEST },
                { VFO__ENVELOPE__BODY_ERROR, PEER_ROLE_HOST },
        };
        TestMessage m;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_int_equal(roundtrip(test_message_init(&m, cases[i].body, 7), cases[i].sender), 0);
}

static void test_validate_direction_is_enforced(void **state) {
        TestMessage m;

        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_SYNC, 7), PEER_ROLE_GUEST), -EBADMSG);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_PREPARE_DETACH, 7), PEER_ROLE_GUEST),
                         -EBADMSG);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 0), PEER_ROLE_HOST),
                         -EBADMSG);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_SYNC_REPLY, 7), PEER_ROLE_HOST),
                         -EBADMSG);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_SWITCH_REPORT, 0), PEER_ROLE_HOST),
                         -EBADMSG);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_EXPECT_REPLAY, 7), PEER_ROLE_GUEST),
                         -EBADMSG);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_REPLAY_EXPECTED, 7), PEER_ROLE_HOST),
                         -EBADMSG);
}

/* ExpectReplay's window: 0 (end it) .. 10 s; a MAC; an id. */
static void test_validate_expect_replay(void **state) {
        TestMessage m;
        Vfo__Envelope *e;

        e = test_message_init(&m, VFO__ENVELOPE__BODY_EXPECT_REPLAY, 7);
        m.expect_replay.window_ms = 0;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), 0);
        m.expect_replay.window_ms = VALIDATE_REPLAY_WINDOW_MS_MAX;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), 0);
        m.expect_replay.window_ms = VALIDATE_REPLAY_WINDOW_MS_MAX + 1;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        m.expect_replay.window_ms = UINT32_MAX;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        m.expect_replay.window_ms = 2000;
        m.expect_replay.mac = (char *) "52:54:00:77:00";
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_EXPECT_REPLAY, 0), PEER_ROLE_HOST),
                         -EBADMSG);

        /* the preparation: up to 60 s, without a window */
        e = test_message_init(&m, VFO__ENVELOPE__BODY_EXPECT_REPLAY, 7);
        m.expect_replay.window_ms = 0;
        m.expect_replay.prepare_ms = VALIDATE_REPLAY_PREPARE_MS_MAX;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), 0);
        m.expect_replay.prepare_ms = VALIDATE_REPLAY_PREPARE_MS_MAX + 1;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        m.expect_replay.prepare_ms = 1000;
        m.expect_replay.window_ms = 1000;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_REPLAY_EXPECTED, 7);
        m.replay_expected.window_ms = 60000;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        test_message_init(&m, VFO__ENVELOPE__BODY_REPLAY_EXPECTED, 7);
        m.replay_expected.prepare_ms = 70000;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
}

static void test_validate_request_needs_id(void **state) {
        TestMessage m;

        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_PREPARE_DETACH, 0), PEER_ROLE_HOST),
                         -EBADMSG);
        /* Events and errors may carry id 0. */
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 0), PEER_ROLE_GUEST), 0);
        assert_int_equal(roundtrip(test_message_init(&m, VFO__ENVELOPE__BODY_ERROR, 0), PEER_ROLE_GUEST), 0);
}

static void test_validate_unknown_enum_values_are_refused(void **state) {
        TestMessage m;
        Vfo__Envelope *e;

        e = test_message_init(&m, VFO__ENVELOPE__BODY_STEERING_MOVED, 7);
        m.steering_moved.path = (Vfo__PathKind) 3;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        m.steering_moved.path = (Vfo__PathKind) -1;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        m.steering_moved.path = VFO__PATH_KIND__PATH_KIND_UNSPECIFIED;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 7);
        m.path_changed.reason = (Vfo__PathChangeReason) 1000;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_SYNC_REPLY, 7);
        m.capabilities[1] = (Vfo__Capability) 77;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_INVENTORY_REPLY, 7);
        m.port_storage[1].datapath = (Vfo__DatapathKind) 9;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        test_message_init(&m, VFO__ENVELOPE__BODY_INVENTORY_REPLY, 7);
        m.port_storage[0].vf_link = (Vfo__LinkState) 42;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_ERROR, 7);
        m.error.code = (Vfo__ErrorCode) 4242;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
}

static void test_validate_strings(void **state) {
        char longer[300];
        TestMessage m;
        Vfo__Envelope *e;

        e = test_message_init(&m, VFO__ENVELOPE__BODY_PREPARE_DETACH, 7);
        m.prepare_detach.mac = (char *) "52:54:00:77:00";
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_INVENTORY_REPLY, 7);
        m.port_storage[0].synthetic_ifname = (char *) "a-name-that-is-too-long";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        test_message_init(&m, VFO__ENVELOPE__BODY_INVENTORY_REPLY, 7);
        m.port_storage[0].vf_ifname = (char *) "../../etc";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        test_message_init(&m, VFO__ENVELOPE__BODY_INVENTORY_REPLY, 7);
        m.port_storage[1].mac = m.port_storage[0].mac;              /* duplicate port */
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        test_message_init(&m, VFO__ENVELOPE__BODY_INVENTORY_REPLY, 7);
        m.port_storage[1].active_path = VFO__PATH_KIND__PATH_KIND_VF;   /* on a VF it does not have */
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_SYNC_REPLY, 7);
        m.sync_reply.agent_version = (char *) "0.1\n";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        memset(longer, 'v', 65);
        longer[65] = '\0';
        m.sync_reply.agent_version = longer;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        m.sync_reply.agent_version = (char *) "";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_ERROR, 7);
        memset(longer, 'x', 257);
        longer[257] = '\0';
        m.error.message = longer;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        longer[256] = '\0';
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), 0);
        m.error.message = (char *) "bad \xc3\x28 utf8";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
}

static void test_validate_numbers(void **state) {
        TestMessage m;
        Vfo__Envelope *e;

        e = test_message_init(&m, VFO__ENVELOPE__BODY_PREPARE_DETACH, 7);
        m.prepare_detach.deadline_ms = 0;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        m.prepare_detach.deadline_ms = VALIDATE_DEADLINE_MS_MAX + 1;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);
        m.prepare_detach.deadline_ms = VALIDATE_DEADLINE_MS_MAX;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), 0);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_SYNC, 7);
        m.sync.nonce = 0;
        assert_int_equal(roundtrip(e, PEER_ROLE_HOST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_PATH_CHANGED, 7);
        m.path_changed.switched_usec = m.path_changed.request_usec - 1;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_SWITCH_REPORT, 0);
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), 0);
        m.switch_report.end_usec = m.switch_report.start_usec - 1;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        e = test_message_init(&m, VFO__ENVELOPE__BODY_SWITCH_REPORT, 0);
        m.switch_report.mac = (char *) "52:54:00:77:00";
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
        e = test_message_init(&m, VFO__ENVELOPE__BODY_SWITCH_REPORT, 0);
        m.switch_report.path = (Vfo__PathKind) 9;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
}

static void test_validate_counts(void **state) {
        Vfo__Capability caps[VALIDATE_CAPABILITIES_MAX + 1];
        Vfo__Port ports[VALIDATE_PORTS_MAX + 1], *pp[VALIDATE_PORTS_MAX + 1];
        char macs[VALIDATE_PORTS_MAX + 1][18];
        TestMessage m;
        Vfo__Envelope *e;

        e = test_message_init(&m, VFO__ENVELOPE__BODY_SYNC_REPLY, 7);
        for (size_t i = 0; i < ELEMENTSOF(caps); i++)
                caps[i] = VFO__CAPABILITY__CAPABILITY_BONDING;
        m.sync_reply.capabilities = caps;
        m.sync_reply.n_capabilities = VALIDATE_CAPABILITIES_MAX;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), 0);
        m.sync_reply.n_capabilities = VALIDATE_CAPABILITIES_MAX + 1;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);

        e = test_message_init(&m, VFO__ENVELOPE__BODY_INVENTORY_REPLY, 7);
        for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
                ports[i] = m.port_storage[1];
                snprintf(macs[i], sizeof(macs[i]), "52:54:00:00:01:%02zx", i);
                ports[i].mac = macs[i];
                pp[i] = &ports[i];
        }
        m.inventory.ports = pp;
        m.inventory.n_ports = VALIDATE_PORTS_MAX;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), 0);
        m.inventory.n_ports = VALIDATE_PORTS_MAX + 1;
        assert_int_equal(roundtrip(e, PEER_ROLE_GUEST), -EBADMSG);
}

static void test_validate_unpack_is_bounded(void **state) {
        /* 32,000 empty Port entries fit in a 64 KiB frame (2 bytes each) but
         * would need ~3.5 MB once decoded: the allocation budget stops it. */
        size_t n = 0, count = 32000;
        uint8_t *buf = malloc(2 * count + 16);
        Vfo__Envelope *e = NULL;
        char why[128] = "";

        assert_non_null(buf);
        buf[n++] = 0x08;                        /* id = 1 */
        buf[n++] = 0x01;
        buf[n++] = 0x6a;                        /* field 13 (inventory_reply), length-delimited */
        for (size_t v = 2 * count; v > 0; v >>= 7)     /* varint length */
                buf[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        for (size_t i = 0; i < count; i++) {
                buf[n++] = 0x0a;                /* InventoryReply.ports, empty */
                buf[n++] = 0x00;
        }
        assert_true(n <= FRAME_MAX_DEFAULT);
        assert_int_equal(envelope_unpack(buf, n, PEER_ROLE_GUEST, &e, why, sizeof(why)), -EBADMSG);
        assert_null(e);
        assert_string_equal(why, "message too large once decoded");
        free(buf);
}

static void test_validate_garbage_and_unknown_bodies(void **state) {
        static const uint8_t unknown_field[] = { 0x08, 0x05, 0xfa, 0x06, 0x00 };      /* id 5, field 111 */
        static const uint8_t truncated[] = { 0x08, 0x05, 0x52, 0x10, 0x01 };
        static const uint8_t id_only[] = { 0x08, 0x05 };
        Vfo__Envelope *e = NULL;
        char why[128];

        assert_int_equal(envelope_unpack(unknown_field, sizeof(unknown_field), PEER_ROLE_GUEST, &e, why, sizeof(why)),
                         -EBADMSG);
        assert_int_equal(envelope_unpack(truncated, sizeof(truncated), PEER_ROLE_GUEST, &e, why, sizeof(why)),
                         -EBADMSG);
        assert_int_equal(envelope_unpack(id_only, sizeof(id_only), PEER_ROLE_GUEST, &e, why, sizeof(why)), -EBADMSG);
        assert_null(e);
}

static void test_validate_body_names_cover_every_case(void **state) {
        const ProtobufCMessageDescriptor *d = &vfo__envelope__descriptor;

        /* Every oneof member has a name and a sender. */
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];

                if (f->id == 1)
                        continue;
                assert_non_null(envelope_body_to_string((Vfo__Envelope__BodyCase) f->id));
                assert_true(envelope_body_allowed(PEER_ROLE_HOST, (Vfo__Envelope__BodyCase) f->id) ||
                            envelope_body_allowed(PEER_ROLE_GUEST, (Vfo__Envelope__BodyCase) f->id));
        }
        assert_null(envelope_body_to_string(VFO__ENVELOPE__BODY__NOT_SET));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_validate_ifname),
                cmocka_unit_test(test_validate_utf8),
                cmocka_unit_test(test_validate_config_strings),
                cmocka_unit_test(test_validate_ip_address),
                cmocka_unit_test(test_validate_printable),
                cmocka_unit_test(test_text_escape),
                cmocka_unit_test(test_validate_error_message_must_be_printable),
                cmocka_unit_test(test_validate_good_messages_pass),
                cmocka_unit_test(test_validate_direction_is_enforced),
                cmocka_unit_test(test_validate_expect_replay),
                cmocka_unit_test(test_validate_request_needs_id),
                cmocka_unit_test(test_validate_unknown_enum_values_are_refused),
                cmocka_unit_test(test_validate_strings),
                cmocka_unit_test(test_validate_numbers),
                cmocka_unit_test(test_validate_counts),
                cmocka_unit_test(test_validate_unpack_is_bounded),
                cmocka_unit_test(test_validate_garbage_and_unknown_bodies),
                cmocka_unit_test(test_validate_body_names_cover_every_case),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
