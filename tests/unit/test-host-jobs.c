/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod's host core through its D-Bus API (tests/fakes/host-harness.h):
 * attach and detach with a cooperative guest agent, and a table of
 * rollbacks, one at every phase of an attach and of a detach (the agent
 * refuses or does not answer, libvirt or the switch programming fails, the
 * guest pauses, stops or keeps its VF). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/host/actions.h"
#include "agent/host/job.h"
#include "drivers/libvirt.h"
#include "lib/bus-names.h"
#include "lib/macro.h"
#include "lib/string-util.h"
#include "tests/fakes/fake-vfprog.h"
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

static void assert_loss(Harness *h, const char *job, const char *loss) {
        char *l = harness_get_string(h, job, VFO_JOB_IFACE, "Loss");

        assert_string_equal(l, loss);
        free(l);
}

static bool job_reported(Harness *h, void *userdata) {
        char *l = harness_get_string(h, userdata, VFO_JOB_IFACE, "Loss");
        bool reported = strcmp(l, "unknown") != 0;

        free(l);
        return reported;
}

/* Loss accounting: the agent's SwitchReport after PathChanged goes to the
 * job (also after an attach has ended); no drops is clean, drops are lossy;
 * an agent that sends none leaves it unknown. */
/* A job's log lines carry JOB=, DOMAIN=, MAC=, VF= and POOL= for the
 * journal, as far as the job has them. */
static void test_job_log_fields(void **state) {
        Pool pool = { .config.name = "lab" };
        Vf vf = { .id = "lab-0", .pool = &pool };
        Domain d = { .name = "web1" };
        Job j = { .id = 12, .mac = "52:54:00:77:00:01" };
        JobLogFields f;
        const char *const *v;

        v = job_log_fields(&j, &f);
        assert_string_equal(v[0], "JOB=12");
        assert_string_equal(v[1], "MAC=52:54:00:77:00:01");
        assert_null(v[2]);

        j.domain = &d;
        j.vf = &vf;
        v = job_log_fields(&j, &f);
        assert_string_equal(v[0], "JOB=12");
        assert_string_equal(v[1], "DOMAIN=web1");
        assert_string_equal(v[2], "MAC=52:54:00:77:00:01");
        assert_string_equal(v[3], "VF=lab-0");
        assert_string_equal(v[4], "POOL=lab");
        assert_null(v[5]);
}

static void test_loss_accounting(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_loss(h, job, "unknown");
        free(job);

        d->report = true;
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_true(harness_run_until(h, job_reported, job, JOB_USEC));
        assert_loss(h, job, "clean");
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "SyntheticRxPackets"), 100);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "VFTxPackets"), 20);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HandedOver"), 5);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HeldTx"), 7);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "GuestDrops"), 0);
        free(job);

        d->report_drops = 3;
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_true(harness_run_until(h, job_reported, job, JOB_USEC));
        assert_loss(h, job, "lossy");
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "GuestDrops"), 3);
        free(job);
        harness_free(h);
}

/* The host's side of the loss accounting: what the port's taps drop while
 * a job runs (a starved QEMU that does not read them) makes the job lossy,
 * though the guest saw nothing. The fake's VF taps answer 4 more at each
 * read: a detach reads the VF's tap when it starts, when steering moved and
 * before the unplug, an attach after the plug, when steering moved and when
 * it ends. What came before the move is told apart (HostDropsBeforeMove):
 * the move did not cause it. */
static void test_host_drops(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        harness_start(h);
        d->report = true;
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_true(harness_run_until(h, job_reported, job, JOB_USEC));
        assert_loss(h, job, "clean");
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDrops"), 0);
        free(job);

        for (unsigned i = 0; i < 4; i++) {
                char tap[8];

                snprintf(tap, sizeof(tap), "vf%u", i);
                fake_vfprog_tap_drops(tap, 4);
        }
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_true(harness_run_until(h, job_reported, job, JOB_USEC));
        assert_loss(h, job, "lossy");
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDrops"), 8);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDropsBeforeMove"), 4);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "GuestDrops"), 0);
        free(job);

        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_loss(h, job, "lossy");
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDrops"), 8);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDropsBeforeMove"), 4);
        free(job);

        /* the next job counts from 0: the taps drop nothing now */
        fake_vfprog_tap_drops("vf0", 0);
        fake_vfprog_tap_drops("vf1", 0);
        fake_vfprog_tap_drops("vf2", 0);
        fake_vfprog_tap_drops("vf3", 0);
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_true(harness_run_until(h, job_reported, job, JOB_USEC));
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDrops"), 0);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDropsBeforeMove"), 0);
        assert_loss(h, job, "clean");
        free(job);
        harness_free(h);
}

static bool first_job(Harness *h, void *userdata) {
        char *job = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", 0);
        bool yes = job != NULL;

        free(job);
        return yes;
}

/* An SR-IOV VF has no tap: what the NIC drops for it while it is in the
 * domain (vf_dropped()) counts, from the plug to the unplug; before the
 * plug and after the unplug the VF is not the guest's. */
static void test_host_drops_sriov(void **state) {
        Harness *h = harness_new(1, "[Pool nic]\nType=sriov\nPFs=pf1\n");
        HarnessDomain *d;
        char *job, *kind;

        snprintf(h->pool, sizeof(h->pool), "nic");
        d = harness_add_domain(h, "guest", 50, false, 0);
        d->report = true;
        fake_vfprog_vf_drops("pf1", 0, 3);
        harness_start(h);
        /* the scheduler gives the domain a VF of pool nic at once */
        assert_true(harness_run_until(h, first_job, NULL, JOB_USEC));
        job = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", 0);
        assert_job(h, job, "done", NULL);
        kind = harness_get_string(h, job, VFO_JOB_IFACE, "Kind");
        assert_string_equal(kind, "attach");
        free(kind);
        assert_true(harness_run_until(h, job_reported, job, JOB_USEC));
        /* read at the plug, the move and the end: two steps of 3 */
        assert_loss(h, job, "lossy");
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDrops"), 6);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDropsBeforeMove"), 3);
        free(job);

        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        /* read at the start, the move and before the unplug, not after it */
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDrops"), 6);
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDropsBeforeMove"), 3);
        assert_loss(h, job, "lossy");
        free(job);

        /* the same moves with a NIC that drops nothing are clean */
        fake_vfprog_vf_drops("pf1", 0, 0);
        job = harness_attach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        assert_true(harness_run_until(h, job_reported, job, JOB_USEC));
        assert_int_equal(harness_get_u64(h, job, VFO_JOB_IFACE, "HostDrops"), 0);
        assert_loss(h, job, "clean");
        free(job);
        harness_free(h);
}

typedef struct PathWait {
        HarnessDomain *domain;
        const char *path;
} PathWait;

static bool port_path_is(Harness *h, void *userdata) {
        const PathWait *w = userdata;
        char *path = harness_port_path(h, w->domain);
        bool ok = path && streq(path, w->path);

        free(path);
        return ok;
}

/* An emulated VF has a tap of its own: a detach's SteeringMoved{SYNTHETIC}
 * says a drain marker follows what was sent to it, as an attach's
 * SteeringMoved{VF} does for the synthetic tap. */
static void test_drain_markers(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job;

        harness_start(h);
        job = harness_detach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        free(job);
        assert_int_equal(d->n_marked_synthetic, 1);
        assert_int_equal(d->n_marked_vf, 0);

        job = harness_attach(h, d, NULL);
        assert_job(h, job, "done", NULL);
        free(job);
        assert_int_equal(d->n_marked_vf, 1);
        assert_int_equal(d->n_marked_synthetic, 1);
        harness_free(h);
}

static bool vf0_releasing(Harness *h, void *userdata) {
        char *s = harness_vf_state(h, 0);
        bool yes = s && streq(s, "releasing");

        free(s);
        return yes;
}

/* A stalled guest: the attach ran out of time and was rolled back, but the
 * guest never let the VF go (the unplug hangs) and brings it up late. The
 * agent says so, and steering follows the guest to the VF's tap; when the
 * guest loses the VF's link, back to the synthetic tap. */
static void test_late_vf_steering_follows_guest(void **state) {
        Harness *h = harness_new(1, NULL);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, false, 0);
        char *path;

        d->prepare_attach = HARNESS_ANSWER_SILENT;
        assert_int_equal(setenv("VFO_FAKE_UNPLUG", "never", 1), 0);
        harness_start(h);
        assert_true(harness_run_until(h, vf0_releasing, NULL, JOB_USEC));
        harness_run_for(h, 300 * USEC_PER_MSEC);        /* past UnplugTimeoutSec: the job failed */
        assert_vf(h, 0, "releasing");
        assert_string_equal(fake_vfprog_last_steer(), "tap0");

        harness_agent_path_changed(h, d, VFO__PATH_KIND__PATH_KIND_VF,
                                   VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_APPEARED);
        assert_true(harness_run_until(h, port_path_is, &(PathWait) {d, "vf"}, JOB_USEC));
        assert_string_equal(fake_vfprog_last_steer(), "vf0");

        harness_agent_path_changed(h, d, VFO__PATH_KIND__PATH_KIND_SYNTHETIC,
                                   VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_LINK_LOST);
        assert_true(harness_run_until(h, port_path_is, &(PathWait) {d, "synthetic"}, JOB_USEC));
        assert_string_equal(fake_vfprog_last_steer(), "tap0");
        path = harness_port_path(h, d);
        assert_string_equal(path, "synthetic");
        free(path);
        harness_free(h);
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
        /* frames in flight to the VF are lost where the guest cannot count them */
        assert_loss(h, job, "lossy");
        free(job);
        assert_int_equal(d->n_prepare_detach, 1);
        assert_vf(h, 0, "free");
        assert_null(harness_port_vf(h, d));
        harness_free(h);
}

/* ------------------------------------------- a rollback at every phase */

/* One row: a failure made to happen at one phase of an attach or a detach
 * of the port of domain "guest" (priority 50, VF lab-0), and what the job
 * and the VF look like once the rollback ended. An attach row first
 * detaches (a user's detach: the scheduler leaves the port alone), then
 * attaches again with the failure armed. */
typedef struct RollbackRow {
        const char *name;
        bool attach;
        const char *extra;                      /* vfod.conf [Daemon] */
        /* Makes the failure happen (before the job is asked for). */
        void (*arm)(Harness *h, HarnessDomain *d);
        /* If set, the job is started through the core (manager_attach(),
         * manager_detach()), and this runs between the job's start and its
         * first step (which runs from the loop). */
        void (*started)(Harness *h, HarnessDomain *d, Domain *domain);

        const char *phase;                      /* Job.Phase: where it failed */
        const char *error;                      /* Job.Error */
        const char *vf_state;                   /* of lab-0 after the rollback */
        bool holds_vf;                          /* Domain.Ports shows lab-0 on the port */
        const char *path;                       /* Domain.Ports: the port's path after the rollback */
} RollbackRow;

static void arm_pin_synthetic_fails(Harness *h, HarnessDomain *d) {
        fake_vfprog_fail(FAKE_VFPROG_FDB_STEER, "tap0", -EIO);
}

static void arm_steer_vf_fails(Harness *h, HarnessDomain *d) {
        fake_vfprog_fail(FAKE_VFPROG_FDB_STEER, "vf0", -EIO);
}

static void arm_steer_vf_fails_unplug_never(Harness *h, HarnessDomain *d) {
        arm_steer_vf_fails(h, d);
        assert_int_equal(setenv("VFO_FAKE_UNPLUG", "never", 1), 0);
}

static void arm_prepare_attach_refused(Harness *h, HarnessDomain *d) {
        d->prepare_attach = HARNESS_ANSWER_REFUSE;
}

static void arm_prepare_attach_refused_late(Harness *h, HarnessDomain *d) {
        d->prepare_attach = HARNESS_ANSWER_REFUSE;
        d->prepare_attach_delay = 150 * USEC_PER_MSEC;  /* the plug is done by then */
}

static void arm_prepare_attach_silent(Harness *h, HarnessDomain *d) {
        d->prepare_attach = HARNESS_ANSWER_SILENT;
}

static void arm_ping_silent(Harness *h, HarnessDomain *d) {
        d->ping = HARNESS_ANSWER_SILENT;
}

static void arm_prepare_detach_refused(Harness *h, HarnessDomain *d) {
        d->prepare_detach = HARNESS_ANSWER_REFUSE;
}

static void arm_prepare_detach_silent(Harness *h, HarnessDomain *d) {
        d->prepare_detach = HARNESS_ANSWER_SILENT;
}

static void arm_steering_moved_refused(Harness *h, HarnessDomain *d) {
        d->steering_moved = HARNESS_ANSWER_REFUSE;
}

static void arm_steering_moved_silent(Harness *h, HarnessDomain *d) {
        d->steering_moved = HARNESS_ANSWER_SILENT;
}

static void arm_libvirt_failing(Harness *h, HarnessDomain *d) {
        harness_libvirt_list(h, "failing", d);
}

static void arm_libvirt_wedged(Harness *h, HarnessDomain *d) {
        harness_libvirt_list(h, "wedged", d);
}

static void arm_unplug_never(Harness *h, HarnessDomain *d) {
        assert_int_equal(setenv("VFO_FAKE_UNPLUG", "never", 1), 0);
}

static void arm_unplug_fails(Harness *h, HarnessDomain *d) {
        assert_int_equal(setenv("VFO_FAKE_UNPLUG", "fail", 1), 0);
}

/* The bus refuses a paused or stopped domain: it pauses (or stops) after
 * the job was made, before its first step. */
static void started_paused(Harness *h, HarnessDomain *d, Domain *domain) {
        assert_int_equal(virt_suspend(h->manager->virt, d->uuid), 0);
        domain_set_state(domain, VIRT_DOMAIN_PAUSED);
}

static void started_not_running(Harness *h, HarnessDomain *d, Domain *domain) {
        domain_set_state(domain, VIRT_DOMAIN_OTHER);     /* crashed, shutting down… */
}

static const RollbackRow rollback_rows[] = {
        /* attach: the VF is free again, the port holds none, its path is synthetic */
        { "attach-claiming-paused", true, NULL, NULL, started_paused,
          "claiming", BUS_ERROR_PAUSED, "free", false, "synthetic" },
        { "attach-claiming-not-running", true, NULL, NULL, started_not_running,
          "claiming", BUS_ERROR_NOT_RUNNING, "free", false, "synthetic" },
        /* an emulated pool programs nothing (pool_program()): what fails here
         * is the pin of the MAC to the synthetic tap */
        { "attach-programming-pin-fails", true, NULL, arm_pin_synthetic_fails, NULL,
          "programming", BUS_ERROR_SWITCH_FAILED, "free", false, "synthetic" },
        { "attach-preparing-refused", true, NULL, arm_prepare_attach_refused, NULL,
          "preparing", BUS_ERROR_AGENT_REFUSED, "free", false, "synthetic" },
        { "attach-preparing-timeout", true, NULL, arm_ping_silent, NULL,
          "preparing", BUS_ERROR_AGENT_TIMEOUT, "free", false, "synthetic" },
        { "attach-plugging-libvirt-fails", true, NULL, arm_libvirt_failing, NULL,
          "plugging", BUS_ERROR_LIBVIRT, "free", false, "synthetic" },
        { "attach-plugging-libvirt-timeout", true, NULL, arm_libvirt_wedged, NULL,
          "plugging", BUS_ERROR_LIBVIRT, "free", false, "synthetic" },
        { "attach-waiting-agent-refused", true, NULL, arm_prepare_attach_refused_late, NULL,
          "waiting-agent", BUS_ERROR_AGENT_REFUSED, "free", false, "synthetic" },
        { "attach-waiting-agent-timeout", true, NULL, arm_prepare_attach_silent, NULL,
          "waiting-agent", BUS_ERROR_AGENT_TIMEOUT, "free", false, "synthetic" },
        { "attach-steering-fails", true, NULL, arm_steer_vf_fails, NULL,
          "steering", BUS_ERROR_SWITCH_FAILED, "free", false, "synthetic" },
        { "attach-switching-refused", true, NULL, arm_steering_moved_refused, NULL,
          "switching", BUS_ERROR_AGENT_REFUSED, "free", false, "synthetic" },
        { "attach-switching-timeout", true, NULL, arm_steering_moved_silent, NULL,
          "switching", BUS_ERROR_AGENT_TIMEOUT, "free", false, "synthetic" },
        /* the guest does not give back the VF the rollback unplugs: it stays
         * the port's, releasing, out of the pool (on_rollback_unplug_timeout()) */
        { "attach-steering-fails-unplug-never", true, NULL, arm_steer_vf_fails_unplug_never, NULL,
          "steering", BUS_ERROR_SWITCH_FAILED, "releasing", true, "synthetic" },

        /* detach (AbruptFallback=none: the guest's answer holds): the VF
         * stays attached to the port, on the VF path */
        { "detach-checking-paused", false, "AbruptFallback=none", NULL, started_paused,
          "checking", BUS_ERROR_PAUSED, "attached", true, "vf" },
        { "detach-checking-not-running", false, "AbruptFallback=none", NULL, started_not_running,
          "checking", BUS_ERROR_NOT_RUNNING, "attached", true, "vf" },
        { "detach-preparing-refused", false, "AbruptFallback=none", arm_prepare_detach_refused, NULL,
          "preparing", BUS_ERROR_AGENT_REFUSED, "attached", true, "vf" },
        { "detach-preparing-timeout", false, "AbruptFallback=none", arm_prepare_detach_silent, NULL,
          "preparing", BUS_ERROR_AGENT_TIMEOUT, "attached", true, "vf" },
        { "detach-steering-fails", false, "AbruptFallback=none", arm_pin_synthetic_fails, NULL,
          "steering", BUS_ERROR_SWITCH_FAILED, "attached", true, "vf" },
        { "detach-switching-refused", false, "AbruptFallback=none", arm_steering_moved_refused, NULL,
          "switching", BUS_ERROR_AGENT_REFUSED, "attached", true, "vf" },
        { "detach-switching-timeout", false, "AbruptFallback=none", arm_steering_moved_silent, NULL,
          "switching", BUS_ERROR_AGENT_TIMEOUT, "attached", true, "vf" },
        /* the unplug fails: the VF stays attached (UnplugFailed, Libvirt) */
        { "detach-unplugging-never", false, "AbruptFallback=none", arm_unplug_never, NULL,
          "unplugging", BUS_ERROR_UNPLUG_FAILED, "attached", true, "vf" },
        { "detach-unplugging-removal-failed", false, "AbruptFallback=none", arm_unplug_fails, NULL,
          "unplugging", BUS_ERROR_UNPLUG_FAILED, "attached", true, "vf" },
        { "detach-unplugging-libvirt-fails", false, "AbruptFallback=none", arm_libvirt_failing, NULL,
          "unplugging", BUS_ERROR_LIBVIRT, "attached", true, "vf" },
        { "detach-unplugging-libvirt-timeout", false, "AbruptFallback=none", arm_libvirt_wedged, NULL,
          "unplugging", BUS_ERROR_LIBVIRT, "attached", true, "vf" },
};

static char *start_job(Harness *h, HarnessDomain *d, const RollbackRow *row) {
        Domain *domain;
        Failure f = {};
        Job *j = NULL;

        if (!row->started)
                return row->attach ? harness_attach(h, d, NULL) : harness_detach(h, d, NULL);
        domain = manager_find_domain(h->manager, d->uuid);
        assert_non_null(domain);
        if (row->attach)
                assert_int_equal(manager_attach(h->manager, domain, d->mac, &j, &f), 0);
        else
                assert_int_equal(manager_detach(h->manager, domain, d->mac, &j, &f), 0);
        assert_non_null(j);
        row->started(h, d, domain);
        return strdup(j->path);
}

static void test_rollback(void **state) {
        const RollbackRow *row = *state;
        Harness *h = harness_new(1, row->extra);
        HarnessDomain *d = harness_add_domain(h, "guest", 50, true, 0);
        char *job, *phase, *path, *vf, *vf0, *pool;

        harness_start(h);
        assert_vf(h, 0, "attached");
        if (row->attach) {
                job = harness_detach(h, d, NULL);
                assert_job(h, job, "done", NULL);
                free(job);
                assert_vf(h, 0, "free");
        } else {
                path = harness_port_path(h, d);
                assert_string_equal(path, "vf");
                free(path);
        }

        if (row->arm)
                row->arm(h, d);
        job = start_job(h, d, row);
        assert_job(h, job, "failed", row->error);
        phase = harness_get_string(h, job, VFO_JOB_IFACE, "Phase");
        assert_string_equal(phase, row->phase);
        free(phase);
        free(job);

        /* nothing moves after the job's end */
        harness_run_for(h, 50 * USEC_PER_MSEC);
        assert_vf(h, 0, row->vf_state);
        assert_int_equal(harness_pool_free(h), streq(row->vf_state, "free") ? 1 : 0);
        vf = harness_port_vf(h, d);
        if (row->holds_vf) {
                pool = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Pools", 0);
                vf0 = harness_get_object(h, pool, VFO_POOL_IFACE, "VFs", 0);
                assert_non_null(vf);
                assert_string_equal(vf, vf0);
                free(vf0);
                free(pool);
        } else
                assert_null(vf);
        free(vf);

        /* where the scripted agent sends now: what Domain.Ports should say */
        assert_int_equal(d->agent_path, streq(row->path, "vf") ? VFO__PATH_KIND__PATH_KIND_VF
                                                               : VFO__PATH_KIND__PATH_KIND_SYNTHETIC);
        /* the agent's answer to a rollback's SteeringMoved may come after the job ended */
        (void) harness_run_until(h, port_path_is, &(PathWait) { .domain = d, .path = row->path }, 2 * USEC_PER_SEC);
        path = harness_port_path(h, d);
        assert_string_equal(path, row->path);
        free(path);
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
        const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_attach_detach),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_detach_agent_refuses_abrupt),
                cmocka_unit_test(test_job_log_fields),
                cmocka_unit_test(test_loss_accounting),
                cmocka_unit_test(test_host_drops),
                cmocka_unit_test(test_host_drops_sriov),
                cmocka_unit_test(test_drain_markers),
                cmocka_unit_test(test_late_vf_steering_follows_guest),
                cmocka_unit_test(test_attach_no_agent),
        };
        struct CMUnitTest tests[ELEMENTSOF(fixed) + ELEMENTSOF(rollback_rows)];
        size_t n = 0;

        if (argc > 1 && strcmp(argv[1], "--migrate-helper") == 0)
                return migrate_helper_main(argc, argv);
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                tests[n++] = fixed[i];
        for (size_t i = 0; i < ELEMENTSOF(rollback_rows); i++)
                tests[n++] = (struct CMUnitTest) {
                        .name = rollback_rows[i].name,
                        .test_func = test_rollback,
                        .initial_state = (void *) &rollback_rows[i],
                };
        return _cmocka_run_group_tests("test-host-jobs", tests, n, NULL, NULL);
}
