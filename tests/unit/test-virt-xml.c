/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* drivers/virt-xml.c, the pure half of the libvirt driver: domain XML
 * parsing, the policy element, the interface XML for a link change, the
 * state names. libxml2 only: libvirt is not linked. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/virt-xml.h"
#include "lib/log.h"
#include "lib/macro.h"

/* What `virsh dumpxml` shows for a running q35 guest that vfod manages. */
static const char full_xml[] =
        "<domain type='kvm' id='7'>\n"
        "  <name>lab-vm1</name>\n"
        "  <uuid>0f8a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b</uuid>\n"
        "  <metadata>\n"
        "    <libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>\n"
        "      <libosinfo:os id='http://debian.org/debian/12'/>\n"
        "    </libosinfo:libosinfo>\n"
        "    <other:policy xmlns:other='http://example.org/not-vfo' pool='wrong' priority='7'/>\n"
        "    <vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' pool='lab' priority='50' "
        "required='yes'/>\n"
        "  </metadata>\n"
        "  <memory unit='KiB'>2097152</memory>\n"
        "  <vcpu placement='static'>2</vcpu>\n"
        "  <os>\n"
        "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
        "  </os>\n"
        "  <devices>\n"
        "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='/var/lib/libvirt/images/lab-vm1.qcow2' index='1'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "      <alias name='virtio-disk0'/>\n"
        "    </disk>\n"
        "    <controller type='pci' index='0' model='pcie-root'>\n"
        "      <alias name='pcie.0'/>\n"
        "    </controller>\n"
        "    <interface type='bridge'>\n"
        "      <mac address='52:54:00:AA:BB:CC'/>\n"
        "      <source bridge='br0'/>\n"
        "      <target dev='vnet0'/>\n"
        "      <model type='virtio'/>\n"
        "      <teaming type='persistent'/>\n"
        "      <link state='up'/>\n"
        "      <alias name='ua-net0'/>\n"
        "      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
        "    </interface>\n"
        "    <interface type='network'>\n"
        "      <mac address='52:54:00:11:22:33'/>\n"
        "      <source network='lab' portid='3f2e1d0c-0000-4000-8000-000000000001' bridge='virbr1'/>\n"
        "      <target dev='vnet1'/>\n"
        "      <model type='e1000e'/>\n"
        "      <link state='down'/>\n"
        "      <alias name='ua-vfo-vf-lab-0'/>\n"
        "      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n"
        "    </interface>\n"
        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "      <driver name='vfio'/>\n"
        "      <source>\n"
        "        <address domain='0x0000' bus='0x03' slot='0x00' function='0x2'/>\n"
        "      </source>\n"
        "      <alias name='ua-vfo-vf-0000_03_00_2'/>\n"
        "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\n"
        "    </hostdev>\n"
        "    <channel type='unix'>\n"
        "      <source mode='bind' path='/run/libvirt/qemu/channel/7-lab-vm1/org.qemu.guest_agent.0'/>\n"
        "      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>\n"
        "      <alias name='channel0'/>\n"
        "    </channel>\n"
        "    <channel type='pty'>\n"
        "      <source path='/dev/pts/3'/>\n"
        "      <target type='virtio' name='org.vfo.agent.0'/>\n"
        "      <alias name='channel1'/>\n"
        "    </channel>\n"
        "    <channel type='unix'>\n"
        "      <source mode='bind' path='/run/vfo/channel/lab-vm1.sock'/>\n"
        "      <target type='virtio' name='org.vfo.agent.0' state='disconnected'/>\n"
        "      <alias name='channel2'/>\n"
        "    </channel>\n"
        "    <memballoon model='virtio'>\n"
        "      <alias name='balloon0'/>\n"
        "    </memballoon>\n"
        "  </devices>\n"
        "</domain>\n";

static const char minimal_xml[] =
        "<domain type='kvm'>\n"
        "  <name>plain</name>\n"
        "  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n"
        "  <devices/>\n"
        "</domain>\n";

/* A domain with 'metadata' inside <metadata>. */
static char *domain_with_metadata(const char *metadata) {
        char *s;

        assert_true(asprintf(&s,
                             "<domain type='kvm'><name>m</name><uuid>11111111-2222-3333-4444-555555555555</uuid>"
                             "<metadata>%s</metadata><devices/></domain>",
                             metadata) >= 0);
        return s;
}

/* A domain whose vfo policy element has 'attributes'. */
static char *domain_with_policy(const char *attributes) {
        _cleanup_free_ char *m = NULL;

        assert_true(asprintf(&m, "<vfo:policy xmlns:vfo='" VIRT_METADATA_URI "' %s/>", attributes) >= 0);
        return domain_with_metadata(m);
}

static void test_parse_full(void **state) {
        VirtDomain d = {};
        const VirtInterface *a, *b;

        assert_int_equal(virt_domain_parse_xml(full_xml, &d), 0);

        assert_string_equal(d.uuid, "0f8a6b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b");
        assert_string_equal(d.name, "lab-vm1");
        /* left to the caller */
        assert_int_equal(d.id, -1);
        assert_int_equal(d.state, _VIRT_DOMAIN_STATE_INVALID);
        assert_false(d.persistent);

        assert_int_equal(d.n_interfaces, 2);
        a = &d.interfaces[0];
        assert_string_equal(a->mac, "52:54:00:aa:bb:cc");
        assert_string_equal(a->model, "virtio");
        assert_string_equal(a->alias, "ua-net0");
        assert_string_equal(a->target, "vnet0");
        assert_string_equal(a->type, "bridge");
        assert_false(a->link_down);
        assert_true(a->teaming_persistent);

        b = &d.interfaces[1];
        assert_string_equal(b->mac, "52:54:00:11:22:33");
        assert_string_equal(b->model, "e1000e");
        assert_string_equal(b->alias, "ua-vfo-vf-lab-0");
        assert_string_equal(b->target, "vnet1");
        assert_string_equal(b->type, "network");
        assert_true(b->link_down);
        assert_false(b->teaming_persistent);

        /* the unix one, not the pty one with the same name, not the guest agent's */
        assert_non_null(d.channel_path);
        assert_string_equal(d.channel_path, "/run/vfo/channel/lab-vm1.sock");

        assert_int_equal(d.n_vfo_aliases, 2);
        assert_string_equal(d.vfo_aliases[0], "ua-vfo-vf-lab-0");
        assert_string_equal(d.vfo_aliases[1], "ua-vfo-vf-0000_03_00_2");

        /* vfo's namespace, not the other <policy> */
        assert_true(d.policy.present);
        assert_string_equal(d.policy.pool, "lab");
        assert_int_equal(d.policy.priority, 50);
        assert_true(d.policy.required);

        virt_domain_done(&d);
        assert_null(d.interfaces);
        assert_null(d.channel_path);
        assert_null(d.vfo_aliases);
        virt_domain_done(&d);
}

static void test_parse_minimal(void **state) {
        VirtDomain d = {};

        assert_int_equal(virt_domain_parse_xml(minimal_xml, &d), 0);
        assert_string_equal(d.uuid, "11111111-2222-3333-4444-555555555555");
        assert_string_equal(d.name, "plain");
        assert_int_equal(d.n_interfaces, 0);
        assert_null(d.interfaces);
        assert_null(d.channel_path);
        assert_int_equal(d.n_vfo_aliases, 0);
        assert_false(d.policy.present);
        virt_domain_done(&d);
}

static void test_parse_other_metadata_only(void **state) {
        _cleanup_free_ char *xml = domain_with_metadata(
                "<other:policy xmlns:other='http://example.org/x' pool='p'/>"
                "<policy pool='no-namespace'/>");
        VirtDomain d = {};

        assert_int_equal(virt_domain_parse_xml(xml, &d), 0);
        assert_false(d.policy.present);
        virt_domain_done(&d);
}

static void test_policy_defaults(void **state) {
        _cleanup_free_ char *xml = domain_with_policy("");
        VirtDomain d = {};

        assert_int_equal(virt_domain_parse_xml(xml, &d), 0);
        assert_true(d.policy.present);
        assert_string_equal(d.policy.pool, "");
        assert_int_equal(d.policy.priority, 100);
        assert_false(d.policy.required);
        virt_domain_done(&d);
}

static void test_policy_bounds_and_spellings(void **state) {
        static const struct {
                const char *attributes;
                unsigned priority;
                bool required;
        } good[] = {
                { "priority='0'", 0, false },
                { "priority='1000' required='true'", 1000, true },
                { "required='1'", 100, true },
                { "required='no'", 100, false },
                { "required='false'", 100, false },
                { "required='0'", 100, false },
                /* lib/parse-util's booleans, as in vfod.conf and vfoctl */
                { "required='YES'", 100, true },
                { "required='on'", 100, true },
                { "required='n'", 100, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *xml = domain_with_policy(good[i].attributes);
                VirtDomain d = {};

                assert_int_equal(virt_domain_parse_xml(xml, &d), 0);
                assert_true(d.policy.present);
                assert_int_equal(d.policy.priority, good[i].priority);
                assert_int_equal(d.policy.required, good[i].required);
                virt_domain_done(&d);
        }
}

static void test_policy_bad_attributes(void **state) {
        static const char *const bad[] = {
                "priority='1001'", "priority='abc'", "priority='-1'", "priority=''", "priority='50x'",
                "priority='99999999999999999999'", "priority=' 5'", "required='maybe'", "required=''",
                "required='YES!'",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *xml = domain_with_policy(bad[i]);
                VirtDomain d = {};

                assert_int_equal(virt_domain_parse_xml(xml, &d), 0);
                assert_false(d.policy.present);
                assert_string_equal(d.name, "m");
                virt_domain_done(&d);
        }
}

static void test_parse_malformed(void **state) {
        static const char *const bad[] = {
                "",
                "not xml at all",
                "<domain><name>x</name><uuid>11111111-2222-3333-4444-555555555555</uuid>",
                "<domain><name>x</name></uuid></domain>",
                "<network><name>x</name><uuid>11111111-2222-3333-4444-555555555555</uuid></network>",
                "<domain><name>x</name></domain>",                                      /* no uuid */
                "<domain><uuid>11111111-2222-3333-4444-555555555555</uuid></domain>",   /* no name */
                "<domain><name>x</name><uuid>1234</uuid></domain>",                     /* short uuid */
                ("<d:domain xmlns:d='urn:x'><name>x</name>"
                 "<uuid>11111111-2222-3333-4444-555555555555</uuid></d:domain>"),
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                VirtDomain d = {};

                assert_int_equal(virt_domain_parse_xml(bad[i], &d), -EBADMSG);
                assert_null(d.interfaces);
        }
}

/* No entity expansion, no network: an external entity stays unexpanded. */
static void test_parse_no_external_entities(void **state) {
        static const char xml[] =
                "<?xml version='1.0'?>\n"
                "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/hostname'>]>\n"
                "<domain><name>n&x;</name><uuid>11111111-2222-3333-4444-555555555555</uuid></domain>";
        VirtDomain d = {};
        int r;

        r = virt_domain_parse_xml(xml, &d);
        if (r == 0) {
                assert_string_equal(d.name, "n");
                virt_domain_done(&d);
        } else
                assert_int_equal(r, -EBADMSG);
}

static void test_policy_format(void **state) {
        VirtPolicy p = { .present = true, .pool = "lab", .priority = 50, .required = true };
        _cleanup_free_ char *s = NULL, *t = NULL;

        assert_int_equal(virt_policy_format(&p, &s), 0);
        assert_string_equal(s, "<policy pool=\"lab\" priority=\"50\" required=\"yes\"/>");

        p = (VirtPolicy) { .present = true, .priority = 100 };
        assert_int_equal(virt_policy_format(&p, &t), 0);
        assert_string_equal(t, "<policy pool=\"\" priority=\"100\" required=\"no\"/>");
}

static void test_policy_format_rejects(void **state) {
        VirtPolicy p = { .present = true, .pool = "lab", .priority = 1001 };
        char *s = NULL;

        assert_int_equal(virt_policy_format(&p, &s), -EINVAL);
        p.priority = 1;
        strcpy(p.pool, "a\x01");
        assert_int_equal(virt_policy_format(&p, &s), -EINVAL);
        strcpy(p.pool, "\xff\xfe");
        assert_int_equal(virt_policy_format(&p, &s), -EINVAL);
        assert_null(s);
}

/* What virt_set_policy() writes comes back from the domain XML unchanged.
 * libvirt stores the element with our namespace and prefix: do the same. */
static void test_policy_round_trip(void **state) {
        static const VirtPolicy policies[] = {
                { .present = true, .pool = "lab", .priority = 50, .required = true },
                { .present = true, .pool = "", .priority = 0, .required = false },
                { .present = true, .pool = "a\"b<c>&d'e f", .priority = 1000, .required = true },
                { .present = true, .pool = "pool-\xc3\xa9t\xc3\xa9", .priority = 100, .required = false },
        };

        for (size_t i = 0; i < ELEMENTSOF(policies); i++) {
                _cleanup_free_ char *element = NULL, *namespaced = NULL, *xml = NULL;
                VirtDomain d = {};

                assert_int_equal(virt_policy_format(&policies[i], &element), 0);
                assert_int_equal(strncmp(element, "<policy ", 8), 0);
                assert_true(asprintf(&namespaced, "<vfo:policy xmlns:vfo='%s' %s", VIRT_METADATA_URI,
                                     element + 8) >= 0);
                xml = domain_with_metadata(namespaced);

                assert_int_equal(virt_domain_parse_xml(xml, &d), 0);
                assert_true(d.policy.present);
                assert_string_equal(d.policy.pool, policies[i].pool);
                assert_int_equal(d.policy.priority, policies[i].priority);
                assert_int_equal(d.policy.required, policies[i].required);
                virt_domain_done(&d);
        }
}

static size_t count(const char *haystack, const char *needle) {
        size_t n = 0;

        for (const char *p = haystack; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static void test_set_link_xml(void **state) {
        _cleanup_free_ char *down = NULL, *up = NULL;
        char *none = NULL;

        /* the synthetic NIC, whatever the case of the MAC */
        assert_int_equal(virt_interface_set_link_xml(full_xml, "52:54:00:aa:bb:CC", false, &down), 0);
        assert_int_equal(strncmp(down, "<interface type=\"bridge\">", 25), 0);
        assert_non_null(strstr(down, "<mac address=\"52:54:00:AA:BB:CC\"/>"));
        assert_non_null(strstr(down, "<source bridge=\"br0\"/>"));
        assert_non_null(strstr(down, "<model type=\"virtio\"/>"));
        assert_non_null(strstr(down, "<teaming type=\"persistent\"/>"));
        assert_int_equal(count(down, "<link "), 1);
        assert_non_null(strstr(down, "<link state=\"down\"/>"));
        assert_null(strstr(down, "52:54:00:11:22:33"));
        assert_null(strstr(down, "<domain"));

        assert_int_equal(virt_interface_set_link_xml(full_xml, "52:54:00:aa:bb:cc", true, &up), 0);
        assert_int_equal(count(up, "<link "), 1);
        assert_non_null(strstr(up, "<link state=\"up\"/>"));

        /* a VF vfod plugged (alias ua-vfo-vf-…) is never the one, nor an unknown MAC */
        assert_int_equal(virt_interface_set_link_xml(full_xml, "52:54:00:11:22:33", true, &none), -ENOENT);
        assert_int_equal(virt_interface_set_link_xml(full_xml, "52:54:00:00:00:00", true, &none), -ENOENT);
        assert_int_equal(virt_interface_set_link_xml("<domain", "52:54:00:aa:bb:cc", true, &none), -EBADMSG);
        assert_null(none);
}

static void test_state_strings(void **state) {
        assert_string_equal(virt_domain_state_to_string(VIRT_DOMAIN_SHUTOFF), "shutoff");
        assert_string_equal(virt_domain_state_to_string(VIRT_DOMAIN_RUNNING), "running");
        assert_string_equal(virt_domain_state_to_string(VIRT_DOMAIN_PAUSED), "paused");
        assert_string_equal(virt_domain_state_to_string(VIRT_DOMAIN_OTHER), "other");
        assert_null(virt_domain_state_to_string(_VIRT_DOMAIN_STATE_INVALID));
        assert_null(virt_domain_state_to_string(_VIRT_DOMAIN_STATE_MAX));
}

static void test_tap_mac(void **state) {
        const uint8_t a[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc }, b[6] = { 0xfe, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
        const uint8_t fe[6] = { 0xfe, 0x54, 0x00, 0xaa, 0xbb, 0xcc }, fa[6] = { 0xfa, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
        uint8_t t[6];

        virt_tap_mac(a, t);
        assert_memory_equal(t, fe, 6);
        virt_tap_mac(b, t);
        assert_memory_equal(t, fa, 6);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_full),
                cmocka_unit_test(test_tap_mac),
                cmocka_unit_test(test_parse_minimal),
                cmocka_unit_test(test_parse_other_metadata_only),
                cmocka_unit_test(test_policy_defaults),
                cmocka_unit_test(test_policy_bounds_and_spellings),
                cmocka_unit_test(test_policy_bad_attributes),
                cmocka_unit_test(test_parse_malformed),
                cmocka_unit_test(test_parse_no_external_entities),
                cmocka_unit_test(test_policy_format),
                cmocka_unit_test(test_policy_format_rejects),
                cmocka_unit_test(test_policy_round_trip),
                cmocka_unit_test(test_set_link_xml),
                cmocka_unit_test(test_state_strings),
        };

        /* The bad-policy cases log warnings: keep the output readable. */
        log_set_max_level(LOG_ERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
