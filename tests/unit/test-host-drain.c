/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host servicing through vfod's D-Bus API (tests/fakes/host-harness.h):
 * Manager.Drain detaches every VF of a pool gracefully and the scheduler
 * grants none until Manager.Restore; a user's Attach is refused; the state
 * survives a restart (the journal); an attach that runs is left to finish
 * and then detached; an incoming migration gets no claim. */

#include <errno.h>
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
/* well past ReassignIntervalSec= (the harness sets 1 ms) and the scheduler's retries */
#define GRANT_WAIT_USEC (300 * USEC_PER_MSEC)
#define JOBS_MAX 8

static bool port_holds_vf(Harness *h, void *userdata) {
        char *vf = harness_port_vf(h, userdata);
        bool holds = vf != NULL;

        free(vf);
        return holds;
}

static bool port_holds_none(Harness *h, void *userdata) {
        return !port_holds_vf(h, userdata);
}

static bool all_hold_vf(Harness *h, void *userdata) {
        for (size_t i = 0; i < h->n_domains; i++)
                if (!port_holds_vf(h, &h->domains[i]))
                        return false;
        return true;
}

static char *pool_path(Harness *h) {
        char *p = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Pools", 0);

        assert_non_null(p);
        return p;
}

static bool pool_drained(Harness *h) {
        char *p = pool_path(h);
        bool b = harness_get_bool(h, p, VFO_POOL_IFACE, "Drained");

        free(p);
        return b;
}

/* Manager.Drain(pool): 0 and the jobs' paths (at most JOBS_MAX), or the
 * D-Bus error. */
static int drain(Harness *h, const char *pool, char *jobs[static JOBS_MAX], size_t *ret_n, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        const char *path;
        size_t n = 0;
        int r;

        r = harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Drain", &reply, error, "s", pool);
        if (r < 0)
                return r;
        assert_true(sd_bus_message_enter_container(reply, 'a', "o") > 0);
        while ((r = sd_bus_message_read(reply, "o", &path)) > 0) {
                assert_true(n < JOBS_MAX);
                jobs[n] = strdup(path);
                assert_non_null(jobs[n]);
                n++;
        }
        assert_int_equal(r, 0);
        sd_bus_message_unref(reply);
        *ret_n = n;
        return 0;
}

static int restore(Harness *h, const char *pool, sd_bus_error *error) {
        return harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "Restore", NULL, error, "s", pool);
}

static char *job_string(Harness *h, const char *job, const char *property) {
        char *s = harness_get_string(h, job, VFO_JOB_IFACE, property);

        assert_non_null(s);
        return s;
}

static void assert_job_is(Harness *h, const char *job, const char *kind, const char *reason) {
        char *k = job_string(h, job, "Kind"), *r = job_string(h, job, "Reason");

        assert_string_equal(k, kind);
        assert_string_equal(r, reason);
        free(k);
        free(r);
}

static void assert_job_done(Harness *h, const char *job) {
        char *s = harness_wait_job(h, job, WAIT_USEC);

        assert_string_equal(s, "done");
        free(s);
}

/* How many jobs Manager.Jobs lists (running and finished). */
static size_t count_jobs(Harness *h, const char *kind) {
        size_t n = 0;

        for (size_t i = 0;; i++) {
                char *job = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", i), *k;

                if (!job)
                        return n;
                k = job_string(h, job, "Kind");
                n += streq(k, kind);
                free(k);
                free(job);
        }
}

static void assert_vf_state(Harness *h, unsigned index, const char *state) {
        char *s = harness_vf_state(h, index);

        assert_string_equal(s, state);
        free(s);
}

/* Three domains with cooperative agents hold the three VFs: a drain
 * detaches all of them at once, gracefully; nothing is granted while the
 * pool is drained, a user's attach is refused; a restore gives them back. */
static void test_drain_restore(void **state) {
        Harness *h = harness_new(3, NULL);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *jobs[JOBS_MAX], *job;
        size_t n = 0;

        for (unsigned i = 0; i < 3; i++) {
                char name[16];

                snprintf(name, sizeof(name), "guest%u", i);
                harness_add_domain(h, name, 50, true, i);
        }
        harness_start(h);
        assert_true(all_hold_vf(h, NULL));
        assert_false(pool_drained(h));
        assert_int_equal(harness_pool_free(h), 0);

        assert_int_equal(drain(h, "lab", jobs, &n, NULL), 0);
        assert_int_equal(n, 3);
        assert_true(pool_drained(h));
        /* Drain started all three at once (it lists running jobs only) */
        for (size_t i = 0; i < n; i++)
                assert_job_is(h, jobs[i], "detach", "drain");
        for (size_t i = 0; i < n; i++) {
                char *fallback;

                assert_job_done(h, jobs[i]);
                fallback = harness_get_string(h, jobs[i], VFO_JOB_IFACE, "Fallback");
                assert_string_equal(fallback, "");      /* graceful: the agent took part */
                free(fallback);
                free(jobs[i]);
        }
        for (size_t i = 0; i < 3; i++) {
                assert_false(port_holds_vf(h, &h->domains[i]));
                assert_int_equal(h->domains[i].n_prepare_detach, 1);
                assert_vf_state(h, (unsigned) i, "free");
        }
        assert_int_equal(harness_pool_free(h), 3);

        /* the scheduler grants nothing while drained; the ports wait */
        harness_run_for(h, GRANT_WAIT_USEC);
        for (size_t i = 0; i < 3; i++) {
                assert_false(port_holds_vf(h, &h->domains[i]));
                assert_int_equal(h->domains[i].n_prepare_attach, 0);
        }
        assert_int_equal(count_jobs(h, "attach"), 0);
        job = pool_path(h);
        assert_int_equal(harness_get_u32(h, job, VFO_POOL_IFACE, "Waiting"), 3);
        free(job);

        /* a user's attach is refused, saying how to end it */
        assert_null(harness_attach(h, &h->domains[0], &error));
        assert_string_equal(error.name, BUS_ERROR_DRAINED);
        assert_non_null(strstr(error.message, "vfoctl restore lab"));
        sd_bus_error_free(&error);

        /* draining again is no error, and there is nothing left to wait for */
        assert_int_equal(drain(h, "lab", jobs, &n, NULL), 0);
        assert_int_equal(n, 0);

        assert_int_equal(restore(h, "lab", NULL), 0);
        assert_false(pool_drained(h));
        assert_true(harness_run_until(h, all_hold_vf, NULL, WAIT_USEC));
        assert_int_equal(count_jobs(h, "attach"), 3);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(h->domains[i].n_prepare_attach, 1);
        /* restoring again is no error either */
        assert_int_equal(restore(h, "", NULL), 0);
        harness_free(h);
}

/* An agent that refuses: "drain" is in AbruptFallback= by default, so the
 * VF goes anyway, and the job says why. */
static void test_drain_refusing_agent(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *jobs[JOBS_MAX], *fallback;
        size_t n = 0;

        d->prepare_detach = HARNESS_ANSWER_REFUSE;
        harness_start(h);
        assert_int_equal(drain(h, "", jobs, &n, NULL), 0);
        assert_int_equal(n, 1);
        assert_job_done(h, jobs[0]);
        fallback = harness_get_string(h, jobs[0], VFO_JOB_IFACE, "Fallback");
        assert_string_not_equal(fallback, "");
        free(fallback);
        free(jobs[0]);
        assert_false(port_holds_vf(h, d));
        assert_vf_state(h, 0, "free");
        harness_free(h);
}

/* Without "drain" in AbruptFallback= the guest's refusal holds: the job
 * fails, the VF stays; a Drain asks again at once (the scheduler would wait
 * for the port's retry time). */
static void test_drain_refused_kept(void **state) {
        Harness *h = harness_new(1, "AbruptFallback=user");
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *jobs[JOBS_MAX], *s;
        size_t n = 0;

        d->prepare_detach = HARNESS_ANSWER_REFUSE;
        harness_start(h);
        assert_int_equal(drain(h, "lab", jobs, &n, NULL), 0);
        assert_int_equal(n, 1);
        s = harness_wait_job(h, jobs[0], WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(jobs[0]);
        assert_true(port_holds_vf(h, d));
        assert_true(pool_drained(h));

        assert_int_equal(drain(h, "lab", jobs, &n, NULL), 0);
        assert_int_equal(n, 1);
        assert_job_is(h, jobs[0], "detach", "drain");
        s = harness_wait_job(h, jobs[0], WAIT_USEC);
        assert_string_equal(s, "failed");
        free(s);
        free(jobs[0]);
        assert_int_equal(d->n_prepare_detach, 2);
        harness_free(h);
}

/* The journal a drained vfod left, read back into 'buf'. */
static void read_journal(Harness *h, char *buf, size_t size) {
        char path[128];
        size_t n;
        FILE *f;

        snprintf(path, sizeof(path), "%s/state/journal", h->dir);
        f = fopen(path, "re");
        assert_non_null(f);
        n = fread(buf, 1, size - 1, f);
        buf[n] = 0;
        fclose(f);
}

/* Drained, then vfod is gone (its journal as it was on disk, as after a
 * SIGKILL) and a new one starts on that journal: still drained, nothing
 * attached until a restore. */
static void test_drain_survives_restart(void **state) {
        Harness *h = harness_new(2, NULL);
        char *jobs[JOBS_MAX], text[1024];
        size_t n = 0;

        harness_add_domain(h, "guest0", 50, true, 0);
        harness_add_domain(h, "guest1", 50, true, 1);
        harness_start(h);
        assert_int_equal(drain(h, "", jobs, &n, NULL), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
                assert_job_done(h, jobs[i]);
                free(jobs[i]);
        }
        harness_run_for(h, 20 * USEC_PER_MSEC);
        read_journal(h, text, sizeof(text));
        assert_non_null(strstr(text, "\ndrained lab\n"));
        harness_free(h);

        /* the same domains (same UUIDs and MACs), their VFs unplugged */
        h = harness_new(2, NULL);
        harness_add_domain(h, "guest0", 50, false, 0);
        harness_add_domain(h, "guest1", 50, false, 0);
        harness_write_journal(h, text);
        harness_start(h);
        assert_true(pool_drained(h));
        harness_run_for(h, GRANT_WAIT_USEC);
        assert_false(port_holds_vf(h, &h->domains[0]));
        assert_false(port_holds_vf(h, &h->domains[1]));
        assert_int_equal(count_jobs(h, "attach"), 0);
        assert_int_equal(harness_pool_free(h), 2);

        assert_int_equal(restore(h, "", NULL), 0);
        assert_true(harness_run_until(h, all_hold_vf, NULL, WAIT_USEC));
        harness_free(h);
}

/* vfod died after it journaled the drain, before the detach: the VF is
 * still plugged at the start, and it is detached (reason drain). An old
 * journal without "drained" records drains nothing. */
static void test_drain_journal_vf_plugged(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char text[512];

        snprintf(text, sizeof(text), "vfo-journal 1\nnext-job 7\nclaim lab-0 %s %s\ndrained lab\n", d->uuid, d->mac);
        harness_write_journal(h, text);
        harness_start(h);
        assert_true(pool_drained(h));
        assert_true(harness_run_until(h, port_holds_none, d, WAIT_USEC));
        assert_int_equal(d->n_prepare_detach, 1);
        harness_run_for(h, GRANT_WAIT_USEC);
        assert_false(port_holds_vf(h, d));
        assert_vf_state(h, 0, "free");
        harness_free(h);

        h = harness_new(1, NULL);
        d = harness_add_domain(h, "guest", 50, true, 0);
        snprintf(text, sizeof(text), "vfo-journal 1\nnext-job 7\nclaim lab-0 %s %s\n", d->uuid, d->mac);
        harness_write_journal(h, text);
        harness_start(h);
        assert_false(pool_drained(h));
        harness_run_for(h, GRANT_WAIT_USEC);
        assert_true(port_holds_vf(h, d));
        assert_int_equal(d->n_prepare_detach, 0);
        harness_free(h);
}

/* Replies of calls sent without waiting. */
typedef struct Pending {
        sd_bus_message *reply[2];
} Pending;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        *(sd_bus_message **) userdata = sd_bus_message_ref(m);
        return 0;
}

static bool both_answered(Harness *h, void *userdata) {
        Pending *p = userdata;

        return p->reply[0] && p->reply[1];
}

/* A drain while a user's attach runs: the attach is among the jobs to
 * wait for, it finishes, and then the scheduler detaches the VF. */
static void test_drain_while_attaching(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *jobs[JOBS_MAX], *job, **listed = NULL;
        Pending pending = {};
        const char *path;
        size_t n = 0;

        harness_start(h);
        /* a user's detach keeps the port synthetic: the scheduler does not attach it */
        job = harness_detach(h, d, NULL);
        assert_non_null(job);
        assert_job_done(h, job);
        free(job);
        /* Attach and Drain sent together: vfod reads the Drain before the
         * attach's steps with the agent are through (the fakes answer fast) */
        assert_true(sd_bus_call_method_async(h->client, NULL, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "Attach",
                                             on_reply, &pending.reply[0], "ss", d->uuid, "") >= 0);
        assert_true(sd_bus_call_method_async(h->client, NULL, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, "Drain",
                                             on_reply, &pending.reply[1], "s", "lab") >= 0);
        assert_true(harness_run_until(h, both_answered, &pending, WAIT_USEC));
        assert_false(sd_bus_message_is_method_error(pending.reply[0], NULL));
        assert_false(sd_bus_message_is_method_error(pending.reply[1], NULL));
        assert_true(sd_bus_message_read(pending.reply[0], "o", &path) > 0);
        assert_true(sd_bus_message_read_strv(pending.reply[1], &listed) >= 0);
        assert_non_null(listed);
        assert_string_equal(listed[0], path);     /* the attach, still running */
        assert_null(listed[1]);
        assert_job_is(h, path, "attach", "user");
        assert_job_done(h, path);       /* left to finish */
        for (size_t i = 0; listed[i]; i++)
                free(listed[i]);
        free(listed);
        sd_bus_message_unref(pending.reply[0]);
        sd_bus_message_unref(pending.reply[1]);

        assert_true(harness_run_until(h, port_holds_none, d, WAIT_USEC));
        assert_int_equal(d->n_prepare_detach, 2);
        assert_int_equal(count_jobs(h, "detach"), 2);
        assert_vf_state(h, 0, "free");
        /* nothing left to wait for */
        assert_int_equal(drain(h, "lab", jobs, &n, NULL), 0);
        assert_int_equal(n, 0);
        harness_free(h);
}

/* Unknown pools are NoSuchPool, for Drain and Restore; nothing changes. */
static void test_drain_unknown_pool(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *jobs[JOBS_MAX];
        size_t n = 0;

        harness_start(h);
        assert_int_equal(drain(h, "nope", jobs, &n, &error), -EREMOTE);
        assert_string_equal(error.name, BUS_ERROR_NO_SUCH_POOL);
        sd_bus_error_free(&error);
        assert_int_equal(restore(h, "nope", &error), -EREMOTE);
        assert_string_equal(error.name, BUS_ERROR_NO_SUCH_POOL);
        sd_bus_error_free(&error);
        assert_false(pool_drained(h));
        harness_run_for(h, 20 * USEC_PER_MSEC);
        assert_true(port_holds_vf(h, d));
        harness_free(h);
}

/* A drained pool claims nothing for an incoming migration: a domain that
 * requires a VF is refused, one that does not comes and runs synthetic. */
static void test_drain_incoming_refused(void **state) {
        Harness *h = harness_new(2, NULL);
        sd_bus_message *reply = NULL;
        const char *const uuid = "0b0e4c3a-6f1d-4a2b-8c9d-1e2f3a4b5c6d";
        const char *why;
        char *jobs[JOBS_MAX];
        size_t n = 0;
        int ok;

        harness_start(h);
        assert_int_equal(drain(h, "lab", jobs, &n, NULL), 0);
        assert_int_equal(n, 0);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "PrepareIncoming", &reply, NULL, "ssbas", uuid,
                                      "lab", 1, 1, "52:54:00:aa:00:01"),
                         0);
        assert_true(sd_bus_message_read(reply, "bs", &ok, &why) > 0);
        assert_false(ok);
        assert_non_null(strstr(why, "drained"));
        reply = sd_bus_message_unref(reply);
        assert_int_equal(harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, "PrepareIncoming", &reply, NULL, "ssbas", uuid,
                                      "lab", 0, 1, "52:54:00:aa:00:01"),
                         0);
        assert_true(sd_bus_message_read(reply, "bs", &ok, &why) > 0);
        assert_true(ok);
        reply = sd_bus_message_unref(reply);
        assert_int_equal(harness_pool_free(h), 2);     /* nothing claimed */
        harness_free(h);
}

/* The migration helper of migrate.c runs this program again. */
int migrate_helper_main(int argc, char *argv[]);

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_drain_restore),
                cmocka_unit_test(test_drain_refusing_agent),
                cmocka_unit_test(test_drain_refused_kept),
                cmocka_unit_test(test_drain_survives_restart),
                cmocka_unit_test(test_drain_journal_vf_plugged),
                cmocka_unit_test(test_drain_while_attaching),
                cmocka_unit_test(test_drain_unknown_pool),
                cmocka_unit_test(test_drain_incoming_refused),
        };

        if (argc > 1 && strcmp(argv[1], "--migrate-helper") == 0)
                return migrate_helper_main(argc, argv);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
