/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's host core through its D-Bus API (tests/fakes/host-harness.h):
 * attach and detach with a cooperative guest agent, and the rollbacks when
 * the agent refuses, does not answer, or libvirt fails. */

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
#include "tests/fakes/host-harness.h"

#define JOB_USEC (3 * USEC_PER_SEC)

static void assert_job(Harness *h, const char *path, const char *state, const char *error) {
        char *s, *e;

        assert_non_null(path);
        s = harness_wait_job(h, path, JOB_USEC);
        assert_string_equal(s, state);
        e = harness_get_string(h, path, VFO_JOB_IFACE, "Error");
        assert_string_equal(e, error ?: "");
        free(s);
        free(e);
}

static void assert_vf(Harness *h, unsigned index, const char *state) {
        char *s = harness_vf_state(h, index);

        assert_string_equal(s, state);
        free(s);
}

static bool port_holds_vf(Harness *h, void *userdata) {
        char *vf = harness_port_vf(h, userdata);
        bool holds = vf != NULL;

        free(vf);
        return holds;
}

/* Opted in, no VF: the scheduler attaches the free one. A user detach
 * gives it back, and the port stays synthetic; a user attach takes it. */
static void test_attach_detach(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, false, 0);
        char *job;

        harness_start(h);
        assert_true(harness_run_until(h, port_holds_vf, d, JOB_USEC));
        harness_run_for(h, 50 * USEC_PER_MSEC);
        assert_int_equal(harness_pool_free(h), 0);
        assert_vf(h, 0, "attached");
        assert_int_equal(d->n_prepare_attach, 1);

        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        free(job);
        assert_int_equal(d->n_prepare_detach, 1);
        assert_int_equal(harness_pool_free(h), 1);
        assert_vf(h, 0, "free");
        assert_null(harness_port_vf(h, d));
        /* a port a user detached is not given the VF again by the scheduler */
        harness_run_for(h, 100 * USEC_PER_MSEC);
        assert_int_equal(harness_pool_free(h), 1);

        job = harness_attach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        free(job);
        assert_int_equal(harness_pool_free(h), 0);
        assert_vf(h, 0, "attached");
        assert_true(port_holds_vf(h, d));
        harness_free(h);
}

/* What the bus refuses before a job starts. */
static void test_refusals(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 0, false, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *job;

        harness_start(h);
        /* not opted in */
        job = harness_attach(h, d, &error);
        assert_null(job);
        assert_string_equal(error.name, BUS_ERROR_INVALID_ARGUMENT);
        sd_bus_error_free(&error);
        /* holds nothing */
        job = harness_detach(h, d, &error);
        assert_null(job);
        assert_string_equal(error.name, BUS_ERROR_NOT_ATTACHED);
        sd_bus_error_free(&error);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Attach", NULL, &error, "ss", "nobody", ""),
                         -EREMOTE);
        assert_string_equal(error.name, BUS_ERROR_NO_SUCH_DOMAIN);
        sd_bus_error_free(&error);
        assert_int_equal(harness_pool_free(h), 1);
        harness_free(h);
}

/* The agent refuses PrepareDetach of a user's detach: by default
 * (AbruptFallback=) the detach goes on abruptly and says so. */
static void test_detach_agent_refuses_abrupt(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *fallback;

        d->prepare_detach = HARNESS_ANSWER_REFUSE;
        harness_start(h);
        assert_vf(h, 0, "attached");
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        fallback = harness_get_string(h, job, VFO_JOB_IFACE, "Fallback");
        assert_non_null(strstr(fallback, "abrupt"));
        free(fallback);
        free(job);
        assert_int_equal(d->n_prepare_detach, 1);
        assert_vf(h, 0, "free");
        assert_null(harness_port_vf(h, d));
        harness_free(h);
}

/* With AbruptFallback=none the guest's answer holds: the job fails and
 * the VF stays where it was. */
static void test_detach_agent_refuses(void **state) {
        Harness *h = harness_new(1, "AbruptFallback=none");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        d->prepare_detach = HARNESS_ANSWER_REFUSE;
        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_AGENT_REFUSED);
        free(job);
        assert_vf(h, 0, "attached");
        assert_true(port_holds_vf(h, d));
        assert_int_equal(harness_pool_free(h), 0);
        harness_free(h);
}

/* The agent does not answer PrepareDetach (AgentTimeoutSec=). */
static void test_detach_agent_timeout(void **state) {
        Harness *h = harness_new(1, "AbruptFallback=none");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        d->prepare_detach = HARNESS_ANSWER_SILENT;
        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_AGENT_TIMEOUT);
        free(job);
        assert_vf(h, 0, "attached");
        assert_int_equal(harness_pool_free(h), 0);
        harness_free(h);
}

/* The guest never lets go of the device (UnplugTimeoutSec=). */
static void test_detach_unplug_never(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        assert_int_equal(setenv("VFO_FAKE_UNPLUG", "never", 1), 0);
        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_UNPLUG_FAILED);
        free(job);
        assert_true(port_holds_vf(h, d));
        assert_int_equal(harness_pool_free(h), 0);
        harness_free(h);
}

/* QEMU reports that the unplug failed. */
static void test_detach_unplug_fails(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        assert_int_equal(setenv("VFO_FAKE_UNPLUG", "fail", 1), 0);
        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_UNPLUG_FAILED);
        free(job);
        assert_true(port_holds_vf(h, d));
        harness_free(h);
}

/* The agent refuses PrepareAttach: nothing stays plugged, the VF is free. */
static void test_attach_agent_refuses(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        free(job);
        d->prepare_attach = HARNESS_ANSWER_REFUSE;
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_AGENT_REFUSED);
        free(job);
        assert_null(harness_port_vf(h, d));
        assert_int_equal(harness_pool_free(h), 1);
        assert_vf(h, 0, "free");
        harness_free(h);
}

/* The agent does not answer PrepareAttach. */
static void test_attach_agent_timeout(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        free(job);
        d->prepare_attach = HARNESS_ANSWER_SILENT;
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_AGENT_TIMEOUT);
        free(job);
        /* the rollback unplugs what went in */
        harness_run_for(h, 100 * USEC_PER_MSEC);
        assert_null(harness_port_vf(h, d));
        assert_int_equal(harness_pool_free(h), 1);
        harness_free(h);
}

/* libvirt's calls for the domain never return (its QEMU is wedged): the
 * attach fails at the deadline (LibvirtTimeoutSec=). */
static void test_attach_libvirt_wedged(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char path[128], line[64];
        FILE *f;
        char *job;

        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        free(job);
        snprintf(path, sizeof(path), "%s/domains/wedged", h->dir);
        snprintf(line, sizeof(line), "%s\n", d->uuid);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(line, f);
        fclose(f);
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_LIBVIRT);
        free(job);
        assert_null(harness_port_vf(h, d));
        harness_free(h);
}

/* No agent in the guest and NoAgent=refuse: a user attach fails. */
static void test_attach_no_agent(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, false, 0);
        char *job;

        d->no_agent = true;
        harness_start(h);
        harness_run_for(h, 50 * USEC_PER_MSEC);
        assert_int_equal(harness_pool_free(h), 1);
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "failed", BUS_ERROR_NO_AGENT);
        free(job);
        assert_int_equal(harness_pool_free(h), 1);
        harness_free(h);
}

/* The migration helper of migrate.c runs this program again. */
int migrate_helper_main(int argc, char *argv[]);

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_attach_detach),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_detach_agent_refuses_abrupt),
                cmocka_unit_test(test_detach_agent_refuses),
                cmocka_unit_test(test_detach_agent_timeout),
                cmocka_unit_test(test_detach_unplug_never),
                cmocka_unit_test(test_detach_unplug_fails),
                cmocka_unit_test(test_attach_agent_refuses),
                cmocka_unit_test(test_attach_agent_timeout),
                cmocka_unit_test(test_attach_libvirt_wedged),
                cmocka_unit_test(test_attach_no_agent),
        };

        if (argc > 1 && strcmp(argv[1], "--migrate-helper") == 0)
                return migrate_helper_main(argc, argv);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
