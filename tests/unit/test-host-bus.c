/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's D-Bus face (tests/fakes/host-harness.h): the objects and their
 * properties, the policy methods, Reload, the hook and migration-peer
 * methods, Manager.Migrate's options and a destination vfod on its bus. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/bus-names.h"
#include "lib/macro.h"
#include "lib/string-util.h"
#include "tests/fakes/fake-vfprog.h"
#include "tests/fakes/host-harness.h"

#define WAIT_USEC (5 * USEC_PER_SEC)

static bool port_holds_vf(Harness *h, void *userdata) {
        char *vf = harness_port_vf(h, userdata);
        bool holds = vf != NULL;

        free(vf);
        return holds;
}

static bool port_holds_no_vf(Harness *h, void *userdata) {
        return !port_holds_vf(h, userdata);
}

static bool opted_in(Harness *h, void *userdata) {
        HarnessDomain *d = userdata;

        return harness_get_bool(h, d->path, VFO_DOMAIN_IFACE, "OptedIn");
}

static void assert_error(int r, sd_bus_error *error, const char *name) {
        assert_int_equal(r, -EREMOTE);
        assert_string_equal(error->name, name);
        sd_bus_error_free(error);
}

static char *read_path(sd_bus_message *reply) {
        const char *path;
        char *copy;

        assert_true(sd_bus_message_read(reply, "o", &path) > 0);
        copy = strdup(path);
        sd_bus_message_unref(reply);
        return copy;
}

/* Every object with every property (GetManagedObjects), introspection,
 * GetDomain. */
static void test_objects(void **state) {
        Harness *h = harness_new(2, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *s, *path;

        harness_start(h);
        assert_int_equal(harness_call(h, VFO_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", &reply,
                                      NULL, NULL),
                         0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
        sd_bus_message_unref(reply);
        assert_int_equal(harness_call(h, VFO_PATH, "org.freedesktop.DBus.Introspectable", "Introspect", NULL, NULL,
                                      NULL),
                         0);
        assert_int_equal(harness_call(h, "/org/vfo1/domain", "org.freedesktop.DBus.Introspectable", "Introspect",
                                      NULL, NULL, NULL),
                         0);
        assert_int_equal(harness_call(h, d->path, "org.freedesktop.DBus.Properties", "GetAll", NULL, NULL, "s",
                                      VFO_DOMAIN_IFACE),
                         0);

        assert_true(harness_get_bool(h, VFO_PATH, VFO_MANAGER_IFACE, "LibvirtConnected"));
        s = harness_get_string(h, VFO_PATH, VFO_MANAGER_IFACE, "LibvirtURI");
        assert_true(startswith(s, "fake://"));
        free(s);
        s = harness_get_string(h, d->path, VFO_DOMAIN_IFACE, "Name");
        assert_string_equal(s, "guest");
        free(s);
        s = harness_get_string(h, d->path, VFO_DOMAIN_IFACE, "Pool");
        assert_string_equal(s, "lab");
        free(s);
        assert_int_equal(harness_get_u32(h, d->path, VFO_DOMAIN_IFACE, "Priority"), 50);
        assert_true(harness_get_bool(h, d->path, VFO_DOMAIN_IFACE, "AgentConnected"));
        path = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Domains", 0);
        assert_string_equal(path, d->path);
        free(path);

        /* the VF's properties */
        path = harness_port_vf(h, d);
        assert_non_null(path);
        assert_int_equal(harness_call(h, path, "org.freedesktop.DBus.Properties", "GetAll", NULL, NULL, "s",
                                      VFO_VF_IFACE),
                         0);
        s = harness_get_string(h, path, VFO_VF_IFACE, "MAC");
        assert_string_equal(s, d->mac);
        free(s);
        free(path);

        /* by name and by UUID */
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "GetDomain", &reply, NULL, "s", "guest"), 0);
        path = read_path(reply);
        assert_string_equal(path, d->path);
        free(path);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "GetDomain", &reply, NULL, "s", d->uuid), 0);
        path = read_path(reply);
        assert_string_equal(path, d->path);
        free(path);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "GetDomain", NULL, &error, "s", "nobody"), &error,
                     BUS_ERROR_NO_SUCH_DOMAIN);
        harness_free(h);
}

/* SetPolicy opts a domain in (the scheduler gives it a VF), ClearPolicy
 * opts it out (its VF goes back). */
static void test_policy(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 0, false, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;

        harness_start(h);
        assert_false(harness_get_bool(h, d->path, VFO_DOMAIN_IFACE, "OptedIn"));
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "SetPolicy", NULL, &error, "ssub", d->name, "nope",
                                  10, false),
                     &error, BUS_ERROR_NO_SUCH_POOL);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "SetPolicy", NULL, &error, "ssub", d->name, "lab",
                                  5000, false),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "SetPolicy", NULL, NULL, "ssub", d->name, "lab",
                                      60, true),
                         0);
        assert_true(harness_run_until(h, opted_in, d, WAIT_USEC));
        assert_true(harness_run_until(h, port_holds_vf, d, WAIT_USEC));
        assert_true(harness_get_bool(h, d->path, VFO_DOMAIN_IFACE, "Required"));

        /* the same on the domain's object */
        assert_int_equal(harness_call(h, d->path, VFO_DOMAIN_IFACE, "SetPolicy", NULL, NULL, "sub", "lab", 70, false),
                         0);
        harness_run_for(h, 50 * USEC_PER_MSEC);
        assert_int_equal(harness_get_u32(h, d->path, VFO_DOMAIN_IFACE, "Priority"), 70);

        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "ClearPolicy", NULL, NULL, "s", d->name), 0);
        assert_true(harness_run_until(h, port_holds_no_vf, d, WAIT_USEC));
        assert_int_equal(harness_pool_free(h), 1);
        harness_free(h);
}

/* Domain.Detach and Domain.Attach, and what they refuse. */
static void test_domain_methods(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *job, *s;

        harness_start(h);
        assert_error(harness_call(h, d->path, VFO_DOMAIN_IFACE, "Attach", NULL, &error, "s", d->mac), &error,
                     BUS_ERROR_ALREADY_ATTACHED);
        assert_error(harness_call(h, d->path, VFO_DOMAIN_IFACE, "Detach", NULL, &error, "s", "52:54:00:00:00:99"),
                     &error, BUS_ERROR_NO_SUCH_PORT);
        assert_int_equal(harness_call(h, d->path, VFO_DOMAIN_IFACE, "Detach", &reply, NULL, "s", d->mac), 0);
        job = read_path(reply);
        /* a second job on the port while the first runs */
        assert_error(harness_call(h, d->path, VFO_DOMAIN_IFACE, "Detach", NULL, &error, "s", d->mac), &error,
                     BUS_ERROR_BUSY);
        assert_int_equal(harness_call(h, job, "org.freedesktop.DBus.Properties", "GetAll", NULL, NULL, "s",
                                      VFO_JOB_IFACE),
                         0);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "done");
        free(s);
        free(job);
        assert_int_equal(harness_call(h, d->path, VFO_DOMAIN_IFACE, "Attach", &reply, NULL, "s", ""), 0);
        job = read_path(reply);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "done");
        free(s);
        free(job);
        assert_true(port_holds_vf(h, d));
        harness_free(h);
}

static void write_config(Harness *h, const char *text) {
        char path[128];
        FILE *f;

        snprintf(path, sizeof(path), "%s/vfod.conf", h->dir);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* Reload: a configuration that does not parse leaves the running one. */
static void test_reload(void **state) {
        Harness *h = harness_new(1, NULL);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char text[1024];

        harness_add_domain(h, "guest", 50, true, 0);
        harness_start(h);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Reload", NULL, NULL, NULL), 0);
        write_config(h, "[Daemon]\nNoSuchKey=1\n");
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Reload", NULL, &error, NULL), &error,
                     BUS_ERROR_CONFIG_INVALID);
        snprintf(text, sizeof(text),
                 "[Daemon]\nStateDirectory=%s/state\nAgentTimeoutSec=0.1\nReassignIntervalSec=0.001\n"
                 "PreemptMargin=5\n\n[Pool lab]\nType=emulated\nBridge=br0\nCount=1\n",
                 h->dir);
        write_config(h, text);
        (void) harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Reload", NULL, NULL, NULL);
        assert_int_equal(harness_pool_free(h), 0);
        harness_free(h);
}

/* libvirt's hook and a source vfod ask a destination: HookMigrateBegin,
 * HookStarted, PrepareIncoming, Handover. */
static void test_incoming(void **state) {
        static const char *const xml_policy =
                "<domain type='kvm'><name>in</name><uuid>0e7d5a40-1111-4c4c-9a8e-5f0c2b7a9e77</uuid>"
                "<metadata><vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' pool='lab' "
                "priority='50' required='yes'/></metadata><devices>"
                "<interface type='bridge'><mac address='52:54:00:f0:00:77'/><source bridge='br0'/>"
                "<model type='virtio'/></interface></devices></domain>";
        static const char *const xml_plain =
                "<domain type='kvm'><name>plain</name><uuid>0e7d5a40-2222-4c4c-9a8e-5f0c2b7a9e77</uuid>"
                "<devices/></domain>";
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 0, false, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *stripped, *why;
        int ok = 0;
        uint32_t n = 9;

        harness_start(h);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HookMigrateBegin", &reply, NULL, "s",
                                      xml_plain),
                         0);
        assert_true(sd_bus_message_read(reply, "bss", &ok, &stripped, &why) > 0);
        assert_true(ok);
        sd_bus_message_unref(reply);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HookMigrateBegin", &reply, NULL, "s",
                                      xml_policy),
                         0);
        assert_true(sd_bus_message_read(reply, "bss", &ok, &stripped, &why) > 0);
        assert_true(ok);
        sd_bus_message_unref(reply);
        /* the free VF is held for the incoming domain */
        assert_int_equal(harness_pool_free(h), 0);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HookMigrateBegin", NULL, &error, "s", "<nope"),
                     &error, BUS_ERROR_INVALID_ARGUMENT);

        /* no VF left: a second domain that requires one is refused */
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "PrepareIncoming", &reply, NULL, "ssbas",
                                      "0e7d5a40-3333-4c4c-9a8e-5f0c2b7a9e77", "lab", true, 1, "52:54:00:f0:00:78"),
                         0);
        assert_true(sd_bus_message_read(reply, "bs", &ok, &why) > 0);
        assert_false(ok);
        sd_bus_message_unref(reply);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "PrepareIncoming", &reply, NULL, "ssbas",
                                      "0e7d5a40-3333-4c4c-9a8e-5f0c2b7a9e77", "nope", false, 1,
                                      "52:54:00:f0:00:78"),
                         0);
        assert_true(sd_bus_message_read(reply, "bs", &ok, &why) > 0);
        assert_true(ok);
        sd_bus_message_unref(reply);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "PrepareIncoming", NULL, &error, "ssbas",
                                  "not-a-uuid", "lab", false, 0),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "PrepareIncoming", NULL, &error, "ssbas",
                                  "0e7d5a40-3333-4c4c-9a8e-5f0c2b7a9e77", "lab", false, 1, "nomac"),
                     &error, BUS_ERROR_INVALID_ARGUMENT);

        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HookStarted", NULL, NULL, "s", d->uuid), 0);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HookStarted", NULL, &error, "s", "x"), &error,
                     BUS_ERROR_INVALID_ARGUMENT);
        harness_run_for(h, 20 * USEC_PER_MSEC);

        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Handover", &reply, NULL, "s", d->uuid), 0);
        assert_true(sd_bus_message_read(reply, "u", &n) > 0);
        assert_int_equal(n, 0);         /* not opted in: no pool */
        sd_bus_message_unref(reply);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Handover", NULL, &error, "s",
                                  "0e7d5a40-4444-4c4c-9a8e-5f0c2b7a9e77"),
                     &error, BUS_ERROR_NO_SUCH_DOMAIN);

        /* HandoverEx: no port steered here, so no forwarding tunnel either */
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HandoverEx", &reply, NULL, "sa{sv}", d->uuid,
                                      3, "forward-from", "s", "192.0.2.1", "from-the-future", "u", 7, "prepare", "b",
                                      true),
                         0);
        assert_true(sd_bus_message_read(reply, "u", &n) > 0);
        assert_int_equal(n, 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
        assert_int_equal(sd_bus_message_enter_container(reply, 'e', "sv"), 0);  /* empty */
        sd_bus_message_unref(reply);
        assert_int_equal(fake_vfprog_forward_links(), 0);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HandoverEx", NULL, &error, "sa{sv}", d->uuid, 1,
                                  "forward-from", "s", "192.0.2.1/24"),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HandoverEx", NULL, &error, "sa{sv}", d->uuid, 1,
                                  "forward-from", "u", 3221225985U),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HandoverEx", NULL, &error, "sa{sv}", d->uuid, 1,
                                  "prepare", "s", "yes"),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "HandoverEx", NULL, &error, "sa{sv}",
                                  "0e7d5a40-4444-4c4c-9a8e-5f0c2b7a9e77", 0),
                     &error, BUS_ERROR_NO_SUCH_DOMAIN);
        harness_free(h);
}

/* Manager.Migrate with every option, to a destination vfod on a bus that
 * claims the VFs there. */
static void test_migrate_options(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char path[128], address[160], *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "ok", 1), 0);
        snprintf(path, sizeof(path), "%s/destination", h->dir);
        snprintf(address, sizeof(address), "unix:path=%s", path);
        harness_listen_destination(h, path, true);
        harness_start(h);

        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                  "qemu+tcp://elsewhere/system", 1, "colour", "s", "blue"),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                  "qemu+tcp://elsewhere/system", 1, "timeout", "t", (uint64_t) 1000000000),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                  "qemu+tcp://elsewhere/system", 1, "bandwidth", "u", 5),
                     &error, BUS_ERROR_INVALID_ARGUMENT);
        assert_error(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                  "qemu+tcp://elsewhere/system", 1, "migrate-uri", "b", true),
                     &error, BUS_ERROR_INVALID_ARGUMENT);

        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", &reply, NULL, "ssa{sv}", d->name,
                                      "qemu+tcp://elsewhere/system", 10,
                                      "live", "b", true,
                                      "p2p", "b", true,
                                      "persistent", "b", true,
                                      "undefine-source", "b", false,
                                      "resume", "b", true,
                                      "managed-switchover", "b", true,
                                      "migrate-uri", "s", "tcp://elsewhere:49152",
                                      "listen-address", "s", "0.0.0.0",
                                      "bandwidth", "t", (uint64_t) 100,
                                      "destination-bus", "s", address),
                         0);
        job = read_path(reply);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "done");
        free(s);
        free(job);
        assert_int_equal(h->n_prepare_incoming, 1);
        assert_int_equal(harness_pool_free(h), 1);
        harness_free(h);
}

/* The destination's vfod has no VF for the domain: nothing is unplugged. */
static void test_migrate_destination_refuses(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_message *reply = NULL;
        char path[128], address[160], *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "ok", 1), 0);
        snprintf(path, sizeof(path), "%s/destination", h->dir);
        snprintf(address, sizeof(address), "unix:path=%s", path);
        harness_listen_destination(h, path, false);
        harness_start(h);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", &reply, NULL, "ssa{sv}", d->name,
                                      "qemu+tcp://elsewhere/system", 1, "destination-bus", "s", address),
                         0);
        job = read_path(reply);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        s = harness_get_string(h, job, VFO_JOB_IFACE, "Error");
        assert_string_equal(s, BUS_ERROR_NO_VF_FREE);
        free(s);
        free(job);
        assert_int_equal(d->n_prepare_detach, 0);
        assert_true(port_holds_vf(h, d));
        harness_free(h);
}

/* The migration helper of migrate.c runs this program again. */
int migrate_helper_main(int argc, char *argv[]);

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_objects),
                cmocka_unit_test(test_policy),
                cmocka_unit_test(test_domain_methods),
                cmocka_unit_test(test_reload),
                cmocka_unit_test(test_incoming),
                cmocka_unit_test(test_migrate_options),
                cmocka_unit_test(test_migrate_destination_refuses),
        };

        if (argc > 1 && strcmp(argv[1], "--migrate-helper") == 0)
                return migrate_helper_main(argc, argv);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
