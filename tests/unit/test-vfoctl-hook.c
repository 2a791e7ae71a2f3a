/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl's libvirt hook (agent/ctl/hook.c: which operations reach vfod, the
 * domain XML's UUID, reading stdin, the fallback of an incoming migration
 * vfod does not answer) and the migrate options as Migrate's a{sv}
 * (agent/ctl/migrate.c). */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "agent/ctl/hook.h"
#include "agent/ctl/migrate.h"
#include "lib/log.h"

static void test_action_dispatch(void **state) {
        /* the two that reach vfod */
        assert_int_equal(hook_action_for("migrate", "begin"), HOOK_ACTION_MIGRATE_BEGIN);
        assert_int_equal(hook_action_for("started", "begin"), HOOK_ACTION_STARTED);
        assert_int_equal(hook_action_for("migrate", "end"), HOOK_ACTION_STARTED);

        /* every other qemu hook operation libvirt sends: nothing */
        static const char *const none[][2] = {
                {"prepare", "begin"},
                {"start", "begin"},
                {"stopped", "end"},
                {"release", "end"},
                {"reconnect", "begin"},
                {"attach", "begin"},
                {"restore", "begin"},
                {"started", "end"},
                {"migrate", "-"},
                {"start", "-"},
                {"", ""},
                {"MIGRATE", "BEGIN"},
                {"migrate ", "begin"},
        };
        for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
                assert_int_equal(hook_action_for(none[i][0], none[i][1]), HOOK_ACTION_NONE);

        assert_int_equal(hook_action_for(NULL, NULL), HOOK_ACTION_NONE);
        assert_int_equal(hook_action_for("migrate", NULL), HOOK_ACTION_NONE);
        assert_string_equal(hook_action_to_string(HOOK_ACTION_MIGRATE_BEGIN), "migrate-begin");
        assert_string_equal(hook_action_to_string(HOOK_ACTION_STARTED), "started");
        assert_string_equal(hook_action_to_string(HOOK_ACTION_NONE), "none");
}

static int uuid_of(const char *xml, char out[static 37]) {
        return hook_uuid_from_xml(xml, strlen(xml), out);
}

static void test_uuid(void **state) {
        char u[37];

        assert_int_equal(uuid_of("<domain type='kvm'><name>web1</name>"
                                 "<uuid>3F2A0000-1111-4222-8333-444455556666</uuid></domain>",
                                 u),
                         0);
        assert_string_equal(u, "3f2a0000-1111-4222-8333-444455556666");

        /* whitespace around it, no dashes, comments and namespaced metadata before it */
        assert_int_equal(uuid_of("<?xml version='1.0'?>\n<!-- c -->\n<domain>\n  <metadata>"
                                 "<vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' pool=''/>"
                                 "<uuid>00000000-0000-0000-0000-000000000000</uuid></metadata>\n"
                                 "  <uuid>\n 3f2a000011114222833344445555666a \n</uuid>\n</domain>\n",
                                 u),
                         0);
        assert_string_equal(u, "3f2a0000-1111-4222-8333-44445555666a");

        /* only a direct child of <domain> counts */
        assert_int_equal(uuid_of("<domain><devices><uuid>3f2a0000-1111-4222-8333-444455556666</uuid>"
                                 "</devices></domain>",
                                 u),
                         -ENOENT);
        assert_int_equal(uuid_of("<domain><name>x</name></domain>", u), -ENOENT);

        /* malformed */
        assert_int_equal(uuid_of("<domain><uuid></uuid></domain>", u), -EINVAL);
        assert_int_equal(uuid_of("<domain><uuid>3f2a0000-1111-4222-8333-44445555666</uuid></domain>", u),
                         -EINVAL);
        assert_int_equal(uuid_of("<domain><uuid>3f2a0000-1111-4222-8333-44445555666g</uuid></domain>", u),
                         -EINVAL);
        assert_int_equal(uuid_of("<domain><uuid>3f2a00001-111-4222-8333-444455556666</uuid></domain>", u),
                         -EINVAL);
        assert_int_equal(uuid_of("<domain><uuid>3f2a0000-1111-4222-8333-444455556666x</uuid></domain>", u),
                         -EINVAL);

        /* not a domain document, or not XML */
        assert_int_equal(uuid_of("<network><uuid>3f2a0000-1111-4222-8333-444455556666</uuid></network>", u),
                         -EBADMSG);
        assert_int_equal(uuid_of("<domain><uuid>3f2a0000", u), -EBADMSG);
        assert_int_equal(uuid_of("not xml", u), -EBADMSG);
        assert_int_equal(hook_uuid_from_xml("", 0, u), -EBADMSG);
        assert_int_equal(hook_uuid_from_xml(NULL, 0, u), -EBADMSG);

        /* an external entity is neither fetched nor expanded */
        assert_int_not_equal(
                uuid_of("<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/hostname'>]>"
                        "<domain><uuid>&x;</uuid></domain>",
                        u),
                0);
}

/* Feeds size bytes through a pipe (from a child) to hook_read_input. */
static int read_through_pipe(size_t size, size_t max, char **ret, size_t *ret_size) {
        int fds[2];
        pid_t pid;
        int r;

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                static char chunk[65536];
                size_t left = size;

                close(fds[0]);
                memset(chunk, 'x', sizeof(chunk));
                while (left > 0) {
                        ssize_t n = write(fds[1], chunk, left < sizeof(chunk) ? left : sizeof(chunk));

                        if (n <= 0)
                                _exit(0); /* the reader stopped early */
                        left -= (size_t) n;
                }
                _exit(0);
        }
        close(fds[1]);
        r = hook_read_input(fds[0], max, ret, ret_size);
        close(fds[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r;
}

static void test_read_input(void **state) {
        static const size_t sizes[] = {0, 1, 4095, 4096, 65535, 65536, 65537, 200000};
        char *buf = NULL;
        size_t size = 0;

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                assert_int_equal(read_through_pipe(sizes[i], 1024 * 1024, &buf, &size), 0);
                assert_int_equal(size, sizes[i]);
                assert_int_equal(buf[size], '\0');
                assert_int_equal(strspn(buf, "x"), sizes[i]);
                free(buf);
                buf = NULL;
        }

        /* exactly max is fine, one more is too large */
        assert_int_equal(read_through_pipe(100000, 100000, &buf, &size), 0);
        assert_int_equal(size, 100000);
        free(buf);
        buf = NULL;
        assert_int_equal(read_through_pipe(100001, 100000, &buf, &size), -EFBIG);
        assert_null(buf);
        assert_int_equal(read_through_pipe(3 * 1024 * 1024, 100000, &buf, &size), -EFBIG);
        assert_null(buf);

        assert_int_equal(hook_read_input(-1, 100, &buf, &size), -EBADF);
}

/* An incoming domain: 'policy' goes into <metadata>, 'devices' into <devices>. */
static char *domain_xml(const char *policy, const char *devices) {
        char *s = NULL;

        assert_true(asprintf(&s,
                             "<domain type='kvm'>\n"
                             "  <name>web1</name>\n"
                             "  <uuid>3f2a0000-1111-4222-8333-444455556666</uuid>\n"
                             "  <metadata>%s</metadata>\n"
                             "  <devices>\n"
                             "    <interface type='bridge'><mac address='52:54:00:00:00:01'/>"
                             "<source bridge='br0'/><model type='virtio'/><alias name='net0'/></interface>\n"
                             "%s"
                             "  </devices>\n"
                             "</domain>\n",
                             policy, devices) >= 0);
        return s;
}

#define VF_HOSTDEV(alias, bus)                                                                              \
        "    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='" bus \
        "' slot='0x00' function='0x1'/></source><alias name='" alias "'/></hostdev>\n"
#define POLICY(required)                                                                          \
        "<vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' pool='lab' priority='50' " \
        "required='" required "'/>"

static void prepare(const char *xml, HookFallback *f) {
        assert_int_equal(hook_fallback_prepare(xml, strlen(xml), f), 0);
}

static void test_fallback_strip(void **state) {
        static const char devices[] = VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03") VF_HOSTDEV("hostdev0", "0x04")
                VF_HOSTDEV("ua-vfo-vf-lab-1", "0x05") VF_HOSTDEV("ua-vfo-x", "0x06");
        _cleanup_free_ char *xml = domain_xml(POLICY("no"), devices);
        HookFallback f;

        prepare(xml, &f);
        assert_int_equal(f.kind, HOOK_FALLBACK_STRIP);
        assert_true(f.parsed);
        assert_false(f.required);
        assert_int_equal(f.n_stripped, 2);
        assert_string_equal(f.uuid, "3f2a0000-1111-4222-8333-444455556666");
        assert_non_null(f.xml);
        /* the source's VFs are gone, and nothing else */
        assert_null(strstr(f.xml, "ua-vfo-vf-"));
        assert_null(strstr(f.xml, "bus=\"0x03\""));
        assert_null(strstr(f.xml, "bus=\"0x05\""));
        assert_non_null(strstr(f.xml, "<alias name=\"hostdev0\"/>"));
        assert_non_null(strstr(f.xml, "<alias name=\"ua-vfo-x\"/>"));
        assert_non_null(strstr(f.xml, "<alias name=\"net0\"/>"));
        assert_non_null(strstr(f.xml, "<name>web1</name>"));
        assert_non_null(strstr(f.xml, "required=\"no\""));
        /* what is written stands for this domain */
        assert_true(hook_answer_matches(&f, f.xml));
        hook_fallback_done(&f);
        assert_null(f.xml);

        /* no policy at all (the domain never opted in): stripped all the same */
        free(xml);
        xml = domain_xml("", VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03"));
        prepare(xml, &f);
        assert_int_equal(f.kind, HOOK_FALLBACK_STRIP);
        assert_int_equal(f.n_stripped, 1);
        hook_fallback_done(&f);
}

static void test_fallback_keep(void **state) {
        _cleanup_free_ char *xml = domain_xml(POLICY("no"), VF_HOSTDEV("hostdev0", "0x04"));
        HookFallback f;

        /* nothing of the source host's: no output, libvirt keeps its XML */
        prepare(xml, &f);
        assert_int_equal(f.kind, HOOK_FALLBACK_KEEP);
        assert_true(f.parsed);
        assert_null(f.xml);
        assert_int_equal(f.n_stripped, 0);
        hook_fallback_done(&f);

        /* not a domain document, not XML, a NUL byte: nothing to do, libvirt refuses it itself */
        static const char *const bad[] = {
                "<network><devices>" VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03") "</devices></network>",
                "<domain><devices>" VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03"),
                "not xml",
                "<x:domain xmlns:x='urn:x'/>",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                prepare(bad[i], &f);
                assert_int_equal(f.kind, HOOK_FALLBACK_KEEP);
                assert_false(f.parsed);
                assert_null(f.xml);
                hook_fallback_done(&f);
        }
        assert_int_equal(hook_fallback_prepare("<domain/>\0<x/>", 14, &f), 0);
        assert_false(f.parsed);
        assert_int_equal(hook_fallback_prepare(NULL, 0, &f), 0);
        assert_false(f.parsed);
        assert_int_equal(f.kind, HOOK_FALLBACK_KEEP);
}

static void test_fallback_required(void **state) {
        static const char *const yes[] = {"yes", "true", "1"};
        HookFallback f;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                _cleanup_free_ char *policy = NULL, *xml = NULL;

                assert_true(
                        asprintf(&policy,
                                 "<vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' pool='lab' "
                                 "required='%s'/>",
                                 yes[i]) >= 0);
                /* with VF hostdevs or without: a VF cannot be had without vfod */
                xml = domain_xml(policy, i == 0 ? VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03") : "");
                prepare(xml, &f);
                assert_int_equal(f.kind, HOOK_FALLBACK_REFUSE);
                assert_true(f.required);
                assert_null(f.xml);
                hook_fallback_done(&f);
        }

        /* a policy vfod would ignore is no requirement: another namespace, a bad attribute */
        static const char *const not_required[] = {
                "<vfo:policy xmlns:vfo='http://example.org/other' required='yes'/>",
                "<vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' priority='abc' "
                "required='yes'/>",
                "<vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' required='maybe'/>",
                "<policy required='yes'/>",
                POLICY("no"),
        };
        for (size_t i = 0; i < ELEMENTSOF(not_required); i++) {
                _cleanup_free_ char *xml = domain_xml(not_required[i], VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03"));

                prepare(xml, &f);
                assert_int_equal(f.kind, HOOK_FALLBACK_STRIP);
                assert_false(f.required);
                hook_fallback_done(&f);
        }
}

static void test_fallback_message(void **state) {
        _cleanup_free_ char *strip = domain_xml(POLICY("no"), VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03")),
                            *refuse = domain_xml(POLICY("yes"), ""), *keep = domain_xml("", "");
        HookFallback f;
        char *m;

        prepare(strip, &f);
        assert_int_equal(hook_fallback_message(&f, "web1", "vfod is not running", &m), 0);
        assert_non_null(strstr(m, "web1"));
        assert_non_null(strstr(m, "vfod is not running"));
        assert_non_null(strstr(m, "removed 1 VF <hostdev> "));
        assert_non_null(strstr(m, "ua-vfo-vf-"));
        free(m);
        hook_fallback_done(&f);

        prepare(refuse, &f);
        assert_int_equal(hook_fallback_message(&f, "web1", "vfod is not running", &m), 0);
        assert_non_null(strstr(m, "web1 refused: vfod is not running"));
        assert_non_null(strstr(m, "required=yes"));
        assert_non_null(strstr(m, "Start vfod"));
        assert_non_null(strstr(m, "vfoctl set-policy web1 --required no"));
        free(m);
        hook_fallback_done(&f);

        prepare(keep, &f);
        assert_int_equal(hook_fallback_message(&f, NULL, NULL, &m), 0);
        assert_non_null(strstr(m, "going on without vfo"));
        free(m);
        hook_fallback_done(&f);
}

static void test_answer_matches(void **state) {
        _cleanup_free_ char *xml = domain_xml("", VF_HOSTDEV("ua-vfo-vf-lab-0", "0x03"));
        HookFallback f;

        prepare(xml, &f);
        assert_true(hook_answer_matches(
                &f, "<domain><uuid>3F2A0000-1111-4222-8333-444455556666</uuid></domain>"));
        assert_false(hook_answer_matches(
                &f, "<domain><uuid>3f2a0000-1111-4222-8333-444455556667</uuid></domain>"));
        assert_false(hook_answer_matches(&f, "<domain><name>web1</name></domain>"));
        assert_false(hook_answer_matches(&f, "<domain><uuid>3f2a0000-1111-4222-8333-444455556666</uuid>"));
        assert_false(hook_answer_matches(&f, "garbage"));
        assert_false(hook_answer_matches(&f, NULL));
        hook_fallback_done(&f);

        /* an input without a UUID matches nothing */
        prepare("<domain><devices/></domain>", &f);
        assert_true(f.parsed);
        assert_false(hook_answer_matches(
                &f, "<domain><uuid>3f2a0000-1111-4222-8333-444455556666</uuid></domain>"));
        hook_fallback_done(&f);
}

static const MigrateOption *find(const MigrateOption *o, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(o[i].key, key) == 0)
                        return &o[i];
        return NULL;
}

static void test_migrate_options_default(void **state) {
        MigrateArgs a = MIGRATE_ARGS_INIT;
        MigrateOption o[MIGRATE_OPTIONS_MAX];

        /* nothing given: an empty a{sv}, vfod's defaults (live, p2p) apply */
        assert_int_equal(migrate_options(&a, o), 0);
}

static void test_migrate_options_all(void **state) {
        MigrateArgs a = MIGRATE_ARGS_INIT;
        MigrateOption o[MIGRATE_OPTIONS_MAX];
        const MigrateOption *x;
        size_t n;

        a.live = true;
        a.p2p = false;
        a.persistent = true;
        a.undefine_source = true;
        a.resume = true;
        a.migrate_uri = "tcp://127.0.0.1";
        a.listen_address = "127.0.0.1";
        a.destination_bus = "unixexec:path=ssh,argv1=-xT,argv2=host2,argv3=systemd-stdio-bridge";
        a.bandwidth_set = true;
        a.bandwidth = 500;
        a.timeout_set = true;
        a.timeout = 30;
        a.managed_switchover = true;
        a.postcopy = true;

        n = migrate_options(&a, o);
        assert_int_equal(n, 12);

        x = find(o, n, "managed-switchover");
        assert_non_null(x);
        assert_true(x->b);
        x = find(o, n, "postcopy");
        assert_non_null(x);
        assert_int_equal(x->type, 'b');
        assert_true(x->b);

        x = find(o, n, "live");
        assert_non_null(x);
        assert_int_equal(x->type, 'b');
        assert_true(x->b);
        x = find(o, n, "p2p");
        assert_non_null(x);
        assert_int_equal(x->type, 'b');
        assert_false(x->b);
        x = find(o, n, "persistent");
        assert_non_null(x);
        assert_true(x->b);
        x = find(o, n, "undefine-source");
        assert_non_null(x);
        assert_true(x->b);
        x = find(o, n, "resume");
        assert_non_null(x);
        assert_true(x->b);
        x = find(o, n, "migrate-uri");
        assert_non_null(x);
        assert_int_equal(x->type, 's');
        assert_string_equal(x->s, "tcp://127.0.0.1");
        x = find(o, n, "listen-address");
        assert_non_null(x);
        assert_int_equal(x->type, 's');
        assert_string_equal(x->s, "127.0.0.1");
        x = find(o, n, "destination-bus");
        assert_non_null(x);
        assert_int_equal(x->type, 's');
        assert_string_equal(x->s, a.destination_bus);
        x = find(o, n, "bandwidth");
        assert_non_null(x);
        assert_int_equal(x->type, 't');
        assert_int_equal(x->t, 500);
        x = find(o, n, "timeout");
        assert_non_null(x);
        assert_int_equal(x->type, 't');
        assert_int_equal(x->t, 30);

        /* every key once, and only keys of org.vfo1(5) */
        for (size_t i = 0; i < n; i++) {
                static const char *const known[] = {
                        "live",           "p2p",       "persistent", "undefine-source", "migrate-uri",
                        "listen-address", "bandwidth", "timeout",    "resume",          "destination-bus",
                        "managed-switchover", "postcopy"};
                bool ok = false;

                for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
                        ok = ok || strcmp(o[i].key, known[k]) == 0;
                assert_true(ok);
                for (size_t k = i + 1; k < n; k++)
                        assert_string_not_equal(o[i].key, o[k].key);
        }
}

static void test_migrate_options_some(void **state) {
        MigrateArgs a = MIGRATE_ARGS_INIT;
        MigrateOption o[MIGRATE_OPTIONS_MAX];
        size_t n;

        /* --p2p only: p2p=true and nothing else; false booleans are not sent */
        a.p2p = true;
        n = migrate_options(&a, o);
        assert_int_equal(n, 1);
        assert_string_equal(o[0].key, "p2p");
        assert_true(o[0].b);

        a = MIGRATE_ARGS_INIT;
        a.timeout_set = true;
        a.timeout = 0; /* set is what counts */
        a.persistent = false;
        n = migrate_options(&a, o);
        assert_int_equal(n, 1);
        assert_string_equal(o[0].key, "timeout");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_action_dispatch),     cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_read_input),          cmocka_unit_test(test_migrate_options_default),
                cmocka_unit_test(test_migrate_options_all), cmocka_unit_test(test_migrate_options_some),
                cmocka_unit_test(test_fallback_strip),      cmocka_unit_test(test_fallback_keep),
                cmocka_unit_test(test_fallback_required),   cmocka_unit_test(test_fallback_message),
                cmocka_unit_test(test_answer_matches),
        };

        /* virt_domain_parse_xml() warns about the bad policies on purpose */
        log_set_max_level(LOG_ERR);

        return cmocka_run_group_tests(tests, NULL, NULL);
}
