/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's host core through its D-Bus API (tests/fakes/host-harness.h):
 * preemption by priority, and a start that reconciles from the journal a
 * previous run left (claims, interrupted jobs). */

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
#include "tests/fakes/host-harness.h"

#define WAIT_USEC (3 * USEC_PER_SEC)

static bool port_holds_vf(Harness *h, void *userdata) {
        char *vf = harness_port_vf(h, userdata);
        bool holds = vf != NULL;

        free(vf);
        return holds;
}

static char *find_job(Harness *h, const char *kind, const char *reason);

static bool job_exists(Harness *h, void *userdata) {
        const char *const *kind_reason = userdata;
        char *job = find_job(h, kind_reason[0], kind_reason[1]);

        free(job);
        return job != NULL;
}

/* The first job (in Manager.Jobs) with 'kind' and 'reason': its path, or NULL. */
static char *find_job(Harness *h, const char *kind, const char *reason) {
        for (size_t i = 0;; i++) {
                char *job = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", i), *k, *r;
                bool match;

                if (!job)
                        return NULL;
                k = harness_get_string(h, job, VFO_JOB_IFACE, "Kind");
                r = harness_get_string(h, job, VFO_JOB_IFACE, "Reason");
                match = streq(k, kind) && streq(r, reason);
                free(k);
                free(r);
                if (match)
                        return job;
                free(job);
        }
}

static void assert_job_done(Harness *h, const char *path) {
        char *s;

        assert_non_null(path);
        s = harness_wait_job(h, path, WAIT_USEC);
        assert_string_equal(s, "done");
        free(s);
}

/* One VF; the low-priority domain holds it, a higher one waits: the
 * scheduler detaches it from the holder (preempt) and gives it to the
 * waiting port. */
static void test_preempt(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *low = harness_add_domain(h, "low", 10, true, 0);
        HarnessDomain *high = harness_add_domain(h, "high", 90, false, 0);
        char *job, *pool;

        harness_start(h);
        assert_true(harness_run_until(h, port_holds_vf, high, WAIT_USEC));
        assert_false(port_holds_vf(h, low));
        assert_int_equal(low->n_prepare_detach, 1);
        assert_int_equal(high->n_prepare_attach, 1);

        job = find_job(h, "detach", "preempt");
        assert_job_done(h, job);
        free(job);
        job = find_job(h, "attach", "preempt");
        assert_job_done(h, job);
        free(job);
        assert_int_equal(harness_pool_free(h), 0);
        /* the preempted domain waits now */
        pool = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Pools", 0);
        assert_int_equal(harness_get_u32(h, pool, VFO_POOL_IFACE, "Waiting"), 1);
        free(pool);
        harness_free(h);
}

/* Within PreemptMargin= nobody is preempted. */
static void test_no_preempt_within_margin(void **state) {
        Harness *h = harness_new(1, "PreemptMargin=50");
        HarnessDomain *low = harness_add_domain(h, "low", 40, true, 0);
        HarnessDomain *high = harness_add_domain(h, "high", 60, false, 0);

        harness_start(h);
        harness_run_for(h, 200 * USEC_PER_MSEC);
        assert_true(port_holds_vf(h, low));
        assert_false(port_holds_vf(h, high));
        assert_int_equal(low->n_prepare_detach, 0);
        harness_free(h);
}

/* The agent of the holder refuses, and AbruptFallback= leaves preemption
 * out: the holder keeps its VF. */
static void test_preempt_refused(void **state) {
        Harness *h = harness_new(1, "AbruptFallback=user");
        HarnessDomain *low = harness_add_domain(h, "low", 10, true, 0);
        HarnessDomain *high = harness_add_domain(h, "high", 90, false, 0);
        char *job, *s;

        low->prepare_detach = HARNESS_ANSWER_REFUSE;
        harness_start(h);
        harness_run_for(h, 200 * USEC_PER_MSEC);
        job = find_job(h, "detach", "preempt");
        assert_non_null(job);
        s = harness_wait_job(h, job, WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(job);
        assert_true(port_holds_vf(h, low));
        assert_false(port_holds_vf(h, high));
        harness_free(h);
}

/* A claim in the journal whose device is plugged: the VF is the port's
 * again, and nothing runs. */
static void test_journal_claim_adopted(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char text[512], *vf;

        snprintf(text, sizeof(text), "vfo-journal 1\nnext-job 40\nclaim lab-0 %s %s\n", d->uuid, d->mac);
        harness_write_journal(h, text);
        harness_start(h);
        harness_run_for(h, 100 * USEC_PER_MSEC);
        vf = harness_vf_state(h, 0);
        assert_string_equal(vf, "attached");
        free(vf);
        assert_true(port_holds_vf(h, d));
        assert_int_equal(d->n_prepare_attach + d->n_prepare_detach, 0);
        assert_null(harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", 0));
        harness_free(h);
}

/* A detach that a restart interrupted, with the VF still plugged: it is
 * finished once the agent is there, under a job id the journal did not
 * hand out yet. */
static void test_journal_interrupted_detach(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char text[512], *job;
        uint64_t id = 0;
        sd_bus_message *reply = NULL;

        snprintf(text, sizeof(text),
                 "vfo-journal 1\nnext-job 40\nclaim lab-0 %s %s\njob 39 detach %s %s lab-0 unplugging\n", d->uuid,
                 d->mac, d->uuid, d->mac);
        harness_write_journal(h, text);
        harness_start(h);
        assert_true(harness_run_until(h, job_exists, (const char *[]) { "detach", "recovery" }, WAIT_USEC));
        job = find_job(h, "detach", "recovery");
        assert_non_null(job);
        assert_job_done(h, job);
        assert_int_equal(harness_call(h, job, "org.freedesktop.DBus.Properties", "Get", &reply, NULL, "ss",
                                      VFO_JOB_IFACE, "Id"),
                         0);
        assert_true(sd_bus_message_read(reply, "v", "t", &id) > 0);
        sd_bus_message_unref(reply);
        assert_true(id >= 40);
        free(job);
        /* the port is opted in: the scheduler gives it the VF again */
        assert_true(harness_run_until(h, port_holds_vf, d, WAIT_USEC));
        harness_free(h);
}

/* An attach that a restart interrupted before anything was plugged: its
 * claim is released, nothing is re-run for it. */
static void test_journal_interrupted_attach_unplugged(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 0, false, 0);
        char text[512], *vf;

        snprintf(text, sizeof(text),
                 "vfo-journal 1\nnext-job 5\nclaim lab-0 %s %s\njob 4 attach %s %s lab-0 plugging\n", d->uuid, d->mac,
                 d->uuid, d->mac);
        harness_write_journal(h, text);
        harness_start(h);
        harness_run_for(h, 100 * USEC_PER_MSEC);
        vf = harness_vf_state(h, 0);
        assert_string_equal(vf, "free");
        free(vf);
        assert_int_equal(harness_pool_free(h), 1);
        assert_null(harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", 0));
        harness_free(h);
}

/* A journal that does not parse is set aside; vfod starts from libvirt. */
static void test_journal_corrupt(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *vf;

        harness_write_journal(h, "vfo-journal 1\nthis is not a record\n");
        harness_start(h);
        harness_run_for(h, 100 * USEC_PER_MSEC);
        vf = harness_vf_state(h, 0);
        assert_string_equal(vf, "attached");
        free(vf);
        assert_true(port_holds_vf(h, d));
        harness_free(h);
}

/* The migration helper of migrate.c runs this program again. */
int migrate_helper_main(int argc, char *argv[]);

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_preempt),
                cmocka_unit_test(test_no_preempt_within_margin),
                cmocka_unit_test(test_preempt_refused),
                cmocka_unit_test(test_journal_claim_adopted),
                cmocka_unit_test(test_journal_interrupted_detach),
                cmocka_unit_test(test_journal_interrupted_attach_unplugged),
                cmocka_unit_test(test_journal_corrupt),
        };

        if (argc > 1 && strcmp(argv[1], "--migrate-helper") == 0)
                return migrate_helper_main(argc, argv);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
