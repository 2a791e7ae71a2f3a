/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's host core through its D-Bus API (tests/fakes/host-harness.h):
 * Manager.Migrate of a domain that holds a VF. The VF goes out (a child
 * detach), the fake libvirt "migrates" in vfod's migration helper (this
 * program run again with --migrate-helper; $VFO_FAKE_MIGRATE says how it
 * ends), and on a failure or a cancel the VF comes back (a child attach). */

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/libvirt.h"
#include "lib/bus-names.h"
#include "lib/macro.h"
#include "lib/string-util.h"
#include "tests/fakes/fake-vfprog.h"
#include "tests/fakes/host-harness.h"

#define WAIT_USEC (5 * USEC_PER_SEC)
#define DESTINATION "qemu+tcp://elsewhere/system"

static bool port_holds_vf(Harness *h, void *userdata) {
        char *vf = harness_port_vf(h, userdata);
        bool holds = vf != NULL;

        free(vf);
        return holds;
}

static char *migrate(Harness *h, HarnessDomain *d, sd_bus_error *ret_error) {
        sd_bus_message *reply = NULL;
        const char *path;
        char *copy;

        if (harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", &reply, ret_error, "ssa{sv}", d->name,
                         DESTINATION, 0) < 0)
                return NULL;
        assert_true(sd_bus_message_read(reply, "o", &path) > 0);
        copy = strdup(path);
        sd_bus_message_unref(reply);
        return copy;
}

static void assert_string_property(Harness *h, const char *path, const char *interface, const char *property,
                                   const char *value) {
        char *s = harness_get_string(h, path, interface, property);

        assert_string_equal(s, value);
        free(s);
}

static bool steered_into_tunnel(Harness *h, void *userdata) {
        return streq(fake_vfprog_last_steer(), userdata);
}

/* Frames for the domain go into the tunnel 'userdata': moved, or copied. */
static bool handed_into_tunnel(Harness *h, void *userdata) {
        return steered_into_tunnel(h, userdata) ||
               (fake_vfprog_mirrors() > 0 && streq(fake_vfprog_mirror_tunnel(), userdata));
}

static void assert_vf_back(Harness *h, HarnessDomain *d) {
        char *vf;

        assert_true(harness_run_until(h, port_holds_vf, d, WAIT_USEC));
        vf = harness_vf_state(h, 0);
        assert_string_equal(vf, "attached");
        free(vf);
        assert_int_equal(harness_pool_free(h), 0);
}

/* libvirt fails the migration: the VF that went out comes back. */
static void test_migrate_fails(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *s, *message;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "fail", 1), 0);
        harness_start(h);
        job = migrate(h, d, NULL);
        assert_non_null(job);
        assert_string_property(h, job, VFO_JOB_IFACE, "Kind", "migrate");
        assert_string_property(h, job, VFO_JOB_IFACE, "Destination", DESTINATION);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        assert_string_property(h, job, VFO_JOB_IFACE, "Error", BUS_ERROR_LIBVIRT);
        message = harness_get_string(h, job, VFO_JOB_IFACE, "ErrorMessage");
        assert_non_null(strstr(message, "refused"));
        free(message);
        free(job);
        assert_int_equal(d->n_prepare_detach, 1);
        assert_int_equal(d->n_prepare_attach, 1);
        assert_vf_back(h, d);
        assert_string_property(h, d->path, VFO_DOMAIN_IFACE, "State", "running");
        harness_free(h);
}

typedef struct PhaseWait {
        const char *job;
        const char *phase;
} PhaseWait;

static bool in_phase(Harness *h, void *userdata) {
        PhaseWait *w = userdata;
        char *phase = harness_get_string(h, w->job, VFO_JOB_IFACE, "Phase");
        bool in = streq(phase, w->phase);

        free(phase);
        return in;
}

/* A cancel while libvirt migrates: the migration is aborted, the VF comes
 * back. A second Migrate meanwhile is refused; only migrations cancel. */
static void test_migrate_cancel(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *job, *again, *s, *message;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "wait", 1), 0);
        harness_start(h);
        job = migrate(h, d, NULL);
        assert_non_null(job);
        assert_true(harness_run_until(h, in_phase, &(PhaseWait) { job, "migrating" }, WAIT_USEC));
        assert_false(port_holds_vf(h, d));

        again = migrate(h, d, &error);
        assert_null(again);
        assert_string_equal(error.name, BUS_ERROR_BUSY);
        sd_bus_error_free(&error);

        assert_int_equal(harness_call(h, job, VFO_JOB_IFACE, "Cancel", NULL, NULL, NULL), 0);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        message = harness_get_string(h, job, VFO_JOB_IFACE, "ErrorMessage");
        assert_non_null(strstr(message, "cancel"));
        free(message);
        /* ended: no second cancel */
        assert_int_equal(harness_call(h, job, VFO_JOB_IFACE, "Cancel", NULL, &error, NULL), -EREMOTE);
        sd_bus_error_free(&error);
        free(job);
        assert_vf_back(h, d);
        harness_free(h);
}

/* Only a migration can be cancelled. */
static void test_cancel_not_migration(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *job, *s;

        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_non_null(job);
        assert_int_equal(harness_call(h, job, VFO_JOB_IFACE, "Cancel", NULL, &error, NULL), -EREMOTE);
        assert_string_equal(error.name, BUS_ERROR_INVALID_ARGUMENT);
        sd_bus_error_free(&error);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "done");
        free(s);
        free(job);
        harness_free(h);
}

/* libvirt migrates: the domain is gone from here, its VF is free. */
static void test_migrate_succeeds(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *s, *vf;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "ok", 1), 0);
        harness_start(h);
        job = migrate(h, d, NULL);
        assert_non_null(job);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "done");
        free(s);
        assert_int_equal(harness_get_u32(h, job, VFO_JOB_IFACE, "Progress"), 100);
        free(job);
        harness_run_for(h, 50 * USEC_PER_MSEC);
        assert_int_equal(d->n_prepare_detach, 1);
        assert_int_equal(d->n_prepare_attach, 0);
        vf = harness_vf_state(h, 0);
        assert_string_equal(vf, "free");
        free(vf);
        assert_int_equal(harness_pool_free(h), 1);
        harness_free(h);
}

/* The guest does not give the VF up (AbruptFallback= without migrate):
 * nothing is migrated, the VF stays. */
static void test_migrate_detach_refused(void **state) {
        Harness *h = harness_new(1, "AbruptFallback=user");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "ok", 1), 0);
        d->prepare_detach = HARNESS_ANSWER_REFUSE;
        harness_start(h);
        job = migrate(h, d, NULL);
        assert_non_null(job);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(job);
        assert_vf_back(h, d);
        assert_string_property(h, d->path, VFO_DOMAIN_IFACE, "State", "running");
        harness_free(h);
}

/* What Manager.Migrate refuses before it starts. */
static void test_migrate_refusals(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;

        harness_start(h);
        /* no URI */
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                      "elsewhere", 0),
                         -EREMOTE);
        assert_string_equal(error.name, BUS_ERROR_INVALID_ARGUMENT);
        sd_bus_error_free(&error);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", "nobody",
                                      DESTINATION, 0),
                         -EREMOTE);
        assert_string_equal(error.name, BUS_ERROR_NO_SUCH_DOMAIN);
        sd_bus_error_free(&error);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                      DESTINATION, 1, "live", "s", "yes"),
                         -EREMOTE);
        assert_string_equal(error.name, BUS_ERROR_INVALID_ARGUMENT);
        sd_bus_error_free(&error);
        assert_true(port_holds_vf(h, d));
        harness_free(h);
}

/* Manager.Migrate with a managed switchover to the harness's destination
 * vfod (its bus at DIR/destination); 'h' has ForwardAddress=. */
static char *migrate_managed_full(Harness *h, HarnessDomain *d, bool postcopy) {
        sd_bus_message *reply = NULL;
        char path[128], address[160], *copy;
        const char *job;

        snprintf(path, sizeof(path), "%s/destination", h->dir);
        snprintf(address, sizeof(address), "unix:path=%s", path);
        harness_listen_destination(h, path, true);
        harness_start(h);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", &reply, NULL, "ssa{sv}", d->name,
                                      DESTINATION, 3, "managed-switchover", "b", true, "destination-bus", "s",
                                      address, "postcopy", "b", postcopy),
                         0);
        assert_true(sd_bus_message_read(reply, "o", &job) > 0);
        copy = strdup(job);
        sd_bus_message_unref(reply);
        return copy;
}

static char *migrate_managed(Harness *h, HarnessDomain *d) {
        return migrate_managed_full(h, d, false);
}

/* The handover with a forwarding tunnel: the destination readied its tap
 * and opened its end while the first pass ran (HandoverEx with "prepare"),
 * or only at the handover; the source opens the other end on its bridge
 * with the destination's VNI and address. At the handover a guest that
 * expects the replay (ExpectReplay answered) gets its frames here still,
 * and copies go into the tunnel; one that refuses, or does not answer, has
 * its MAC steered into the tunnel instead. Once the domain left here the
 * MAC is pinned to the tunnel either way, which stays a while; vfod's exit
 * closes it. */
static void test_forward_tunnel(void **state) {
        for (unsigned late = 0; late < 2 * 3; late++) {
                Harness *h = harness_new(1, "ForwardAddress=192.0.2.1\nForwardCopies=yes");
                HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
                const FakeForwardLink *fw = fake_vfprog_last_forward();
                HarnessAnswer replay = (HarnessAnswer) (late / 2);
                char *job, *s;

                assert_int_equal(setenv("VFO_FAKE_MIGRATE", "slow", 1), 0);
                h->destination_forward_vni = 0x1234;
                h->destination_late_tunnels = late % 2;
                d->expect_replay = replay;
                job = migrate_managed(h, d);
                s = harness_wait_job(h, job, WAIT_USEC);
                assert_string_equal(s, "done");
                free(s);
                free(job);
                assert_int_equal(h->n_handover_prepare, 1);
                assert_int_equal(h->n_handover_ex, 1);
                assert_int_equal(h->n_handover, 0);
                assert_string_equal(h->handover_forward_from, "192.0.2.1");
                assert_string_equal(fw->ifname, "vfofw001234");
                assert_string_equal(fw->bridge, "br0");
                assert_string_equal(fw->redirect_to, "");
                assert_string_equal(fw->local, "192.0.2.1");
                assert_string_equal(fw->remote, HARNESS_FORWARD_ADDRESS);
                assert_int_equal(fw->vni, 0x1234);
                assert_int_equal(fw->port, 4789);
                assert_string_equal(fake_vfprog_last_steer(), "vfofw001234");
                /* the helper asked for when the first pass starts; the window
                 * at the handover if the guest has the helper and the tunnel
                 * was open by then, again every 500 ms while QEMU runs the
                 * domain here (the fake's migration takes longer). A tunnel
                 * that opens only at the handover is steered into, and the
                 * guest lets its helper go. */
                assert_int_equal(d->n_replay_prepared, 1);
                if (replay != HARNESS_ANSWER_OK || late % 2)
                        assert_int_equal(d->n_expect_replay, 0);
                else
                        assert_true(d->n_expect_replay >= 1);
                assert_int_equal(d->replay_window_ms, replay != HARNESS_ANSWER_OK || late % 2 ? 0 : 2000);
                /* closed: a helper not to be used (no tunnel; or still not
                 * answered at the handover); never one that was refused */
                if (replay == HARNESS_ANSWER_SILENT)
                        assert_true(d->n_replay_closed <= 1);
                else
                        assert_int_equal(d->n_replay_closed, replay == HARNESS_ANSWER_OK && late % 2 ? 1 : 0);
                if (replay == HARNESS_ANSWER_OK && !(late % 2)) {
                        assert_string_equal(fake_vfprog_mirror_tap(), "tap0");
                        assert_string_equal(fake_vfprog_mirror_tunnel(), "vfofw001234");
                        assert_int_equal(fake_vfprog_mirrors(), 1);
                } else
                        assert_int_equal(fake_vfprog_mirrors(), 0);
                /* the domain left: frames that still come here keep going there */
                harness_run_for(h, 50 * USEC_PER_MSEC);
                assert_int_equal(fake_vfprog_forward_links(), 1);
                harness_free(h);
                assert_int_equal(fake_vfprog_forward_links(), 0);
                assert_int_equal(fake_vfprog_mirrors(), 0);
        }
}

/* Without ForwardCopies= the handover moves the frames, as before: the guest
 * is asked nothing, the MAC goes into the tunnel, nothing is copied. */
static void test_forward_tunnel_no_copies(void **state) {
        Harness *h = harness_new(1, "ForwardAddress=192.0.2.1");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "slow", 1), 0);
        h->destination_forward_vni = 0x1235;
        job = migrate_managed(h, d);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "done");
        free(s);
        free(job);
        assert_int_equal(d->n_replay_prepared + d->n_expect_replay + d->n_replay_closed, 0);
        assert_string_equal(fake_vfprog_last_steer(), "vfofw001235");
        assert_int_equal(fake_vfprog_mirrors(), 0);
        harness_free(h);
}

static bool replay_closed(Harness *h, void *userdata) {
        return ((HarnessDomain *) userdata)->n_replay_closed > 0;
}

/* The migration fails after the handover: the domain runs here again, the
 * tunnel closes at once and its MAC is steered back to its own tap. */
static void test_forward_tunnel_rollback(void **state) {
        Harness *h = harness_new(1, "ForwardAddress=192.0.2.1\nForwardCopies=yes");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "wait", 1), 0);
        h->destination_forward_vni = 0x42;
        job = migrate_managed(h, d);
        assert_true(harness_run_until(h, handed_into_tunnel, (void *) "vfofw000042", WAIT_USEC));
        assert_int_equal(fake_vfprog_forward_links(), 1);
        assert_int_equal(fake_vfprog_mirrors(), 1);
        assert_int_equal(harness_call(h, job, VFO_JOB_IFACE, "Cancel", NULL, NULL, NULL), 0);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(job);
        assert_int_equal(fake_vfprog_forward_links(), 0);
        assert_int_equal(fake_vfprog_mirrors(), 0);
        assert_string_not_equal(fake_vfprog_last_steer(), "vfofw000042");
        /* the guest stops dropping what comes twice */
        assert_true(harness_run_until(h, replay_closed, d, WAIT_USEC));
        assert_vf_back(h, d);
        harness_free(h);
}

static bool forward_link_open(Harness *h, void *userdata) {
        return fake_vfprog_forward_links() > 0;
}

/* QEMU switches over before the handover was due (it stopped the domain
 * here with the first pass still far from its end, as far as the last
 * progress poll knew): the handover comes at once, into the tunnel. */
static void test_forward_tunnel_early_switchover(void **state) {
        Harness *h = harness_new(1, "ForwardAddress=192.0.2.1\nForwardCopies=yes");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "wait", 1), 0);
        assert_int_equal(setenv("VFO_FAKE_MIGRATE_PASS", "1", 1), 0);
        h->destination_forward_vni = 0x43;
        job = migrate_managed(h, d);
        assert_true(harness_run_until(h, forward_link_open, NULL, WAIT_USEC));
        harness_run_for(h, 200 * USEC_PER_MSEC);
        assert_int_equal(h->n_handover_ex, 0);  /* not due */
        assert_string_not_equal(fake_vfprog_last_steer(), "vfofw000043");

        assert_int_equal(virt_suspend(h->manager->virt, d->uuid), 0);
        assert_true(harness_run_until(h, steered_into_tunnel, (void *) "vfofw000043", WAIT_USEC));
        harness_run_for(h, 50 * USEC_PER_MSEC);
        assert_int_equal(h->n_handover_ex, 1);
        assert_int_equal(harness_call(h, job, VFO_JOB_IFACE, "Cancel", NULL, NULL, NULL), 0);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(job);
        assert_int_equal(fake_vfprog_forward_links(), 0);
        harness_free(h);
}

/* The last maximum downtime vfod set for 'd' (the fake's file), -1 none. */
static long last_downtime(Harness *h, HarnessDomain *d) {
        char path[PATH_MAX], line[128];
        long ms = -1;
        FILE *f;

        snprintf(path, sizeof(path), "%s/domains/downtime", h->dir);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, d->uuid, 36) == 0)
                        ms = strtol(line + 37, NULL, 10);
        fclose(f);
        return ms;
}

static bool switchover_asked(Harness *h, void *userdata) {
        return last_downtime(h, userdata) == 2000;
}

static bool downtime_held(Harness *h, void *userdata) {
        return last_downtime(h, userdata) == 0;
}

/* QEMU is let switch over as soon as the frames go into the tunnel: the
 * switchover's downtime follows the steering within a loop iteration or
 * two, not after a fixed wait (QEMU's own delay is the drain); before the
 * handover the downtime was held at 0. */
static void test_handover_switchover_at_once(void **state) {
        Harness *h = harness_new(1, "ForwardAddress=192.0.2.1\nForwardCopies=yes");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "wait", 1), 0);
        h->destination_forward_vni = 0x44;
        job = migrate_managed(h, d);
        assert_true(harness_run_until(h, downtime_held, d, WAIT_USEC));
        assert_true(harness_run_until(h, handed_into_tunnel, (void *) "vfofw000044", WAIT_USEC));
        assert_true(harness_run_until(h, switchover_asked, d, 30 * USEC_PER_MSEC));
        assert_int_equal(harness_call(h, job, VFO_JOB_IFACE, "Cancel", NULL, NULL, NULL), 0);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(job);
        harness_free(h);
}

static bool postcopy_asked(Harness *h, void *userdata) {
        HarnessDomain *d = userdata;
        char path[PATH_MAX], line[128];
        bool found = false;
        FILE *f;

        snprintf(path, sizeof(path), "%s/domains/postcopy", h->dir);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strncmp(line, d->uuid, 36) == 0;
        fclose(f);
        return found;
}

/* With "postcopy" the switchover is post-copy, asked as soon as the frames
 * go into the tunnel, and the downtime stays held at 0. Without
 * "managed-switchover" (or live) "postcopy" is refused. */
static void test_handover_postcopy(void **state) {
        Harness *h = harness_new(1, "ForwardAddress=192.0.2.1\nForwardCopies=yes");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *job, *s;

        assert_int_equal(setenv("VFO_FAKE_MIGRATE", "wait", 1), 0);
        h->destination_forward_vni = 0x44;
        job = migrate_managed_full(h, d, true);
        assert_true(harness_run_until(h, downtime_held, d, WAIT_USEC));
        assert_true(harness_run_until(h, handed_into_tunnel, (void *) "vfofw000044", WAIT_USEC));
        assert_true(harness_run_until(h, postcopy_asked, d, 30 * USEC_PER_MSEC));
        assert_int_equal(last_downtime(h, d), 0);
        assert_int_equal(harness_call(h, job, VFO_JOB_IFACE, "Cancel", NULL, NULL, NULL), 0);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(job);

        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                      DESTINATION, 1, "postcopy", "b", true),
                         -EREMOTE);
        assert_true(sd_bus_error_has_name(&error, "org.vfo1.Error.InvalidArgument"));
        sd_bus_error_free(&error);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Migrate", NULL, &error, "ssa{sv}", d->name,
                                      DESTINATION, 3, "postcopy", "b", true, "managed-switchover", "b", true,
                                      "live", "b", false),
                         -EREMOTE);
        sd_bus_error_free(&error);
        harness_free(h);
}

/* A destination older than HandoverEx: the plain Handover, no tunnel. And a
 * destination without ForwardAddress=: HandoverEx, no tunnel either. */
static void test_forward_tunnel_none(void **state) {
        for (unsigned old = 0; old < 2; old++) {
                Harness *h = harness_new(1, "ForwardAddress=192.0.2.1\nForwardCopies=yes");
                HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
                char *job, *s;

                assert_int_equal(setenv("VFO_FAKE_MIGRATE", "slow", 1), 0);
                h->destination_old = old;
                job = migrate_managed(h, d);
                s = harness_wait_job(h, job, WAIT_USEC);
                assert_string_equal(s, "done");
                free(s);
                free(job);
                assert_int_equal(h->n_handover, old);
                assert_int_equal(h->n_handover_ex, !old);
                assert_int_equal(h->n_handover_prepare, !old);
                assert_int_equal(fake_vfprog_forward_links(), 0);
                assert_string_equal(fake_vfprog_last_forward()->ifname, "");
                harness_free(h);
        }
}

/* The migration helper of migrate.c runs this program again. */
int migrate_helper_main(int argc, char *argv[]);

/* A bandwidth that is not a number stops the helper before libvirt is asked. */
static void test_helper_bad_bandwidth(void **state) {
        static const char *const bad[] = { "", "12x", "-1", "0x10", "99999999999999999999" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *argv[] = {
                        (char *) "vfod", (char *) "--migrate-helper", (char *) "", (char *) "uuid",
                        (char *) DESTINATION, (char *) "live", (char *) "p2p", (char *) "-", (char *) "-",
                        (char *) "-", (char *) "-", (char *) bad[i], (char *) "-", NULL,
                };

                assert_int_equal(migrate_helper_main(13, argv), EXIT_FAILURE);
        }
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_migrate_fails),
                cmocka_unit_test(test_migrate_cancel),
                cmocka_unit_test(test_cancel_not_migration),
                cmocka_unit_test(test_migrate_succeeds),
                cmocka_unit_test(test_migrate_detach_refused),
                cmocka_unit_test(test_migrate_refusals),
                cmocka_unit_test(test_helper_bad_bandwidth),
                cmocka_unit_test(test_handover_postcopy),
                cmocka_unit_test(test_forward_tunnel),
                cmocka_unit_test(test_forward_tunnel_no_copies),
                cmocka_unit_test(test_forward_tunnel_rollback),
                cmocka_unit_test(test_forward_tunnel_early_switchover),
                cmocka_unit_test(test_forward_tunnel_none),
                cmocka_unit_test(test_handover_switchover_at_once),
        };

        if (argc > 1 && strcmp(argv[1], "--migrate-helper") == 0)
                return migrate_helper_main(argc, argv);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
