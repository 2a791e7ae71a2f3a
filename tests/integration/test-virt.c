/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt driver (drivers/libvirt.c, virt-event.c, virt-domain.c,
 * virt-call.c) against libvirt itself: its event loop on a real
 * sd-event loop (timeouts, fd handles, deferred free callbacks), then a Virt
 * on libvirt's in-process test driver (test:///default: no libvirtd, no
 * root): connection callback, domains, policy metadata and its event,
 * lifecycle events, unsupported operations, a URI that never opens, and
 * virt_call() through real worker processes (this program run with
 * --virt-worker): order, errors, cancel, a worker that never answers, and
 * a domain read in a worker (virt_read_domain()).
 * Every wait has a deadline. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <systemd/sd-event.h>

#include "drivers/libvirt.h"
#include "drivers/virt-call.h"
#include "lib/log.h"
#include "lib/macro.h"

#define TEST_URI "test:///default"
#define MSEC UINT64_C(1000)
#define SEC UINT64_C(1000000)

static sd_event *event;

static uint64_t mono_usec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Runs the loop until 'cond' holds or 'timeout' µs passed; evaluates to 'cond'. */
#define RUN_UNTIL(cond, timeout)                                                        \
        ({                                                                              \
                uint64_t _deadline_ = mono_usec() + (timeout);                           \
                while (!(cond) && mono_usec() < _deadline_)                              \
                        assert_true(sd_event_run(event, 20 * MSEC) >= 0);               \
                (cond);                                                                 \
        })

/* Runs the loop for 'timeout' µs, whatever happens. */
static void run_for(uint64_t timeout) {
        (void) RUN_UNTIL(false, timeout);
}

/*****************************************************************************
 * libvirt's event loop, through libvirt's own public entry points */

typedef struct Counter {
        unsigned calls;
        unsigned freed;
        int last_events;
        int last_fd;
        int remove_on_hangup;   /* watch id to remove from inside the callback */
} Counter;

static void count_timeout(int timer, void *opaque) {
        Counter *c = opaque;

        c->calls++;
}

static void count_free(void *opaque) {
        Counter *c = opaque;

        c->freed++;
}

static void test_event_timeouts(void **state) {
        Counter c = {};
        unsigned n;
        int t;

        /* 0: on every iteration */
        t = virEventAddTimeout(0, count_timeout, &c, count_free);
        assert_true(t > 0);
        assert_true(RUN_UNTIL(c.calls >= 10, 2 * SEC));

        /* -1: never */
        virEventUpdateTimeout(t, -1);
        n = c.calls;
        run_for(100 * MSEC);
        assert_int_equal(c.calls, n);

        /* 50 ms: periodic, not before the first period is over */
        virEventUpdateTimeout(t, 50);
        n = c.calls;
        run_for(20 * MSEC);
        assert_int_equal(c.calls, n);
        run_for(400 * MSEC);
        assert_in_range(c.calls - n, 3, 9);

        /* The free callback never runs inside the remove call. */
        assert_int_equal(virEventRemoveTimeout(t), 0);
        assert_int_equal(c.freed, 0);
        n = c.calls;
        assert_true(RUN_UNTIL(c.freed == 1, 2 * SEC));
        run_for(100 * MSEC);
        assert_int_equal(c.calls, n);
        assert_int_equal(c.freed, 1);

        assert_int_equal(virEventRemoveTimeout(t), -1);
        assert_int_equal(virEventRemoveHandle(t), -1);
}

static void count_handle(int watch, int fd, int events, void *opaque) {
        Counter *c = opaque;
        char buf[16];

        c->calls++;
        c->last_events = events;
        c->last_fd = fd;
        if (events & VIR_EVENT_HANDLE_READABLE)
                (void) read(fd, buf, sizeof(buf));
        if ((events & VIR_EVENT_HANDLE_HANGUP) && c->remove_on_hangup > 0) {
                /* as libvirt does on EOF: remove the watch from its own callback */
                assert_int_equal(virEventRemoveHandle(c->remove_on_hangup), 0);
                c->remove_on_hangup = 0;
        }
}

static void test_event_handles(void **state) {
        Counter c = {}, w = {};
        int p[2], h, h2;
        unsigned n;

        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);

        h = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, count_handle, &c, count_free);
        assert_true(h > 0);
        /* the same fd again, for other events: allowed by libvirt's contract */
        h2 = virEventAddHandle(p[0], 0, count_handle, &w, count_free);
        assert_true(h2 > 0);
        assert_int_not_equal(h, h2);

        run_for(50 * MSEC);
        assert_int_equal(c.calls, 0);

        assert_int_equal(write(p[1], "x", 1), 1);
        assert_true(RUN_UNTIL(c.calls == 1, 2 * SEC));
        assert_int_equal(c.last_fd, p[0]);
        assert_true(c.last_events & VIR_EVENT_HANDLE_READABLE);
        assert_int_equal(w.calls, 0);

        /* events 0: silent, even with data waiting */
        virEventUpdateHandle(h, 0);
        assert_int_equal(write(p[1], "y", 1), 1);
        run_for(100 * MSEC);
        assert_int_equal(c.calls, 1);
        virEventUpdateHandle(h, VIR_EVENT_HANDLE_READABLE);
        assert_true(RUN_UNTIL(c.calls == 2, 2 * SEC));

        /* hangup, and removal from inside the callback */
        assert_int_equal(virEventRemoveHandle(h2), 0);
        c.remove_on_hangup = h;
        n = c.calls;
        assert_int_equal(close(p[1]), 0);
        assert_true(RUN_UNTIL(c.calls > n && c.remove_on_hangup == 0, 2 * SEC));
        assert_true(c.last_events & VIR_EVENT_HANDLE_HANGUP);
        n = c.calls;
        assert_true(RUN_UNTIL(c.freed == 1 && w.freed == 1, 2 * SEC));
        run_for(50 * MSEC);
        assert_int_equal(c.calls, n);
        assert_int_equal(virEventRemoveHandle(h), -1);

        assert_int_equal(close(p[0]), 0);
}

/*****************************************************************************
 * Virt on test:///default */

typedef struct Recorder {
        Virt *v;
        unsigned n_up, n_down;
        unsigned n_metadata;
        char metadata_uuid[37];
        size_t n_lifecycle;
        char lifecycle_uuid[37];
        char lifecycle_name[64];
        VirtDomainState states[32];
        int events[32];
} Recorder;

static void on_connection(Virt *v, bool up, void *userdata) {
        Recorder *rec = userdata;

        assert_ptr_equal(v, rec->v);
        assert_int_equal(virt_is_connected(v), up);
        if (up)
                rec->n_up++;
        else
                rec->n_down++;
}

static void on_lifecycle(Virt *v, const char *uuid, const char *name, VirtDomainState s, int ev, int detail,
                         void *userdata) {
        Recorder *rec = userdata;

        if (rec->n_lifecycle >= ELEMENTSOF(rec->states))
                return;
        snprintf(rec->lifecycle_uuid, sizeof(rec->lifecycle_uuid), "%s", uuid);
        snprintf(rec->lifecycle_name, sizeof(rec->lifecycle_name), "%s", name);
        rec->states[rec->n_lifecycle] = s;
        rec->events[rec->n_lifecycle] = ev;
        rec->n_lifecycle++;
}

static void on_metadata(Virt *v, const char *uuid, void *userdata) {
        Recorder *rec = userdata;

        rec->n_metadata++;
        snprintf(rec->metadata_uuid, sizeof(rec->metadata_uuid), "%s", uuid);
}

static const VirtCallbacks callbacks = {
        .connection = on_connection,
        .lifecycle = on_lifecycle,
        .metadata_changed = on_metadata,
};

static int setup_virt(void **state) {
        Recorder *rec = calloc(1, sizeof(*rec));

        assert_non_null(rec);
        assert_int_equal(virt_new(event, TEST_URI, &callbacks, rec, &rec->v), 0);
        /* opened at once; the callback comes from the loop */
        assert_true(virt_is_connected(rec->v));
        assert_int_equal(rec->n_up, 0);
        assert_true(RUN_UNTIL(rec->n_up == 1, 5 * SEC));
        *state = rec;
        return 0;
}

static int teardown_virt(void **state) {
        Recorder *rec = *state;

        rec->v = virt_free(rec->v);
        /* virt_free() never calls back */
        assert_int_equal(rec->n_down, 0);
        run_for(50 * MSEC);
        free(rec);
        return 0;
}

/* The test driver's one domain, "test", running. */
static void find_test_domain(Virt *v, char uuid[static 37]) {
        VirtDomain *a = NULL;
        size_t n = 0;
        bool found = false;

        assert_int_equal(virt_list_domains(v, &a, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i].name, "test") == 0) {
                        strcpy(uuid, a[i].uuid);
                        found = true;
                }
        virt_domain_free_array(a, n);
        assert_true(found);
}

static void test_connect_and_list(void **state) {
        Recorder *rec = *state;
        VirtDomain *a = NULL, *t = NULL;
        size_t n = 0;

        assert_string_equal(virt_get_uri(rec->v), TEST_URI);
        assert_int_equal(virt_list_domains(rec->v, &a, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i].name, "test") == 0)
                        t = &a[i];
        assert_non_null(t);
        assert_int_equal(strlen(t->uuid), 36);
        assert_int_equal(t->state, VIRT_DOMAIN_RUNNING);
        assert_true(t->id > 0);
        assert_true(t->persistent);
        assert_int_equal(t->n_interfaces, 1);
        assert_string_equal(t->interfaces[0].mac, "aa:bb:cc:dd:ee:ff");
        assert_string_equal(t->interfaces[0].type, "network");
        assert_null(t->channel_path);
        assert_int_equal(t->n_vfo_aliases, 0);
        virt_domain_free_array(a, n);
        assert_int_equal(rec->n_up, 1);
}

static void test_policy(void **state) {
        Recorder *rec = *state;
        VirtPolicy p = { .present = true, .pool = "lab <&> \"x\"", .priority = 42, .required = true };
        VirtDomain d = {};
        char uuid[37];

        find_test_domain(rec->v, uuid);

        assert_int_equal(virt_set_policy(rec->v, uuid, &p), 0);
        assert_true(RUN_UNTIL(rec->n_metadata >= 1, 5 * SEC));
        assert_string_equal(rec->metadata_uuid, uuid);

        assert_int_equal(virt_get_domain(rec->v, uuid, &d), 0);
        assert_string_equal(d.uuid, uuid);
        assert_string_equal(d.name, "test");
        assert_true(d.policy.present);
        assert_string_equal(d.policy.pool, p.pool);
        assert_int_equal(d.policy.priority, 42);
        assert_true(d.policy.required);
        virt_domain_done(&d);

        /* present=false removes it */
        rec->n_metadata = 0;
        assert_int_equal(virt_set_policy(rec->v, uuid, &(VirtPolicy) {}), 0);
        assert_true(RUN_UNTIL(rec->n_metadata >= 1, 5 * SEC));
        assert_int_equal(virt_get_domain(rec->v, uuid, &d), 0);
        assert_false(d.policy.present);
        virt_domain_done(&d);

        /* Other namespaces' metadata is not vfo's business. */
        {
                virConnectPtr c = virConnectOpen(TEST_URI);
                virDomainPtr dom;

                assert_non_null(c);
                dom = virDomainLookupByUUIDString(c, uuid);
                assert_non_null(dom);
                rec->n_metadata = 0;
                assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, "<x/>", "other",
                                                      "http://example.org/other", VIR_DOMAIN_AFFECT_LIVE),
                                 0);
                run_for(200 * MSEC);
                assert_int_equal(rec->n_metadata, 0);
                assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL,
                                                      "http://example.org/other", VIR_DOMAIN_AFFECT_LIVE),
                                 0);
                virDomainFree(dom);
                virConnectClose(c);
        }

        assert_int_equal(virt_set_policy(rec->v, uuid, &(VirtPolicy) { .present = true, .priority = 1001 }),
                         -EINVAL);
}

static void test_lifecycle(void **state) {
        Recorder *rec = *state;
        virConnectPtr c;
        virDomainPtr dom;
        VirtDomain d = {};
        char uuid[37];

        find_test_domain(rec->v, uuid);

        /* a second connection to the same in-process driver state */
        c = virConnectOpen(TEST_URI);
        assert_non_null(c);
        dom = virDomainLookupByUUIDString(c, uuid);
        assert_non_null(dom);

        assert_int_equal(virDomainSuspend(dom), 0);
        assert_int_equal(virt_get_domain(rec->v, uuid, &d), 0);
        assert_int_equal(d.state, VIRT_DOMAIN_PAUSED);
        virt_domain_done(&d);
        assert_int_equal(virDomainResume(dom), 0);

        /* in order, each with the state its event implies */
        assert_true(RUN_UNTIL(rec->n_lifecycle >= 2, 5 * SEC));
        assert_int_equal(rec->n_lifecycle, 2);
        assert_string_equal(rec->lifecycle_uuid, uuid);
        assert_string_equal(rec->lifecycle_name, "test");
        assert_int_equal(rec->events[0], VIR_DOMAIN_EVENT_SUSPENDED);
        assert_int_equal(rec->states[0], VIRT_DOMAIN_PAUSED);
        assert_int_equal(rec->events[1], VIR_DOMAIN_EVENT_RESUMED);
        assert_int_equal(rec->states[1], VIRT_DOMAIN_RUNNING);

        /* destroy + start */
        assert_int_equal(virDomainDestroy(dom), 0);
        assert_true(RUN_UNTIL(rec->n_lifecycle >= 3, 5 * SEC));
        assert_int_equal(rec->events[2], VIR_DOMAIN_EVENT_STOPPED);
        assert_int_equal(rec->states[2], VIRT_DOMAIN_SHUTOFF);
        assert_int_equal(virt_get_domain(rec->v, uuid, &d), 0);
        assert_int_equal(d.state, VIRT_DOMAIN_SHUTOFF);
        assert_int_equal(d.id, -1);
        virt_domain_done(&d);

        assert_int_equal(virDomainCreate(dom), 0);
        assert_true(RUN_UNTIL(rec->n_lifecycle >= 4, 5 * SEC));
        assert_int_equal(rec->events[3], VIR_DOMAIN_EVENT_STARTED);
        assert_int_equal(rec->states[3], VIRT_DOMAIN_RUNNING);

        virDomainFree(dom);
        assert_true(virConnectClose(c) >= 0);
}

static void test_unsupported_and_missing(void **state) {
        Recorder *rec = *state;
        VirtDomain d = {};
        char uuid[37];
        int r;

        find_test_domain(rec->v, uuid);

        /* the test driver has no hot-plug: an error, not a crash */
        r = virt_attach_device(rec->v, uuid,
                               "<interface type='network'><mac address='52:54:00:00:00:01'/>"
                               "<source network='default'/><alias name='ua-vfo-vf-lab-1'/></interface>");
        assert_int_equal(r, -EOPNOTSUPP);
        /* libvirt 9.0's test driver cannot detach at all; 11.3's can, and
         * says the domain has no such device */
        r = virt_detach_alias(rec->v, uuid, "ua-vfo-vf-lab-1");
        if (r != -ENOENT)
                assert_int_equal(r, -EOPNOTSUPP);
        r = virt_set_link(rec->v, uuid, "AA:BB:CC:DD:EE:FF", false);
        assert_int_equal(r, -EOPNOTSUPP);
        r = virt_set_link(rec->v, uuid, "52:54:00:00:00:99", false);
        assert_int_equal(r, -ENOENT);

        assert_int_equal(virt_get_domain(rec->v, "00000000-0000-0000-0000-000000000000", &d), -ENOENT);
        assert_int_equal(virt_attach_device(rec->v, "00000000-0000-0000-0000-000000000000", "<x/>"), -ENOENT);
        assert_true(virt_get_domain(rec->v, "not-a-uuid", &d) < 0);

        assert_true(virt_is_connected(rec->v));
        assert_int_equal(rec->n_down, 0);
}

static void test_never_connects(void **state) {
        Recorder rec = {};
        VirtDomain *a = NULL;
        VirtDomain d = {};
        size_t n = 0;

        assert_int_equal(virt_new(event, "test:///nonexistent.xml", &callbacks, &rec, &rec.v), 0);
        assert_non_null(rec.v);
        assert_false(virt_is_connected(rec.v));
        assert_string_equal(virt_get_uri(rec.v), "test:///nonexistent.xml");

        /* retries at +0.5 s and +1.5 s: still nothing, and no callback */
        run_for(1700 * MSEC);
        assert_false(virt_is_connected(rec.v));
        assert_int_equal(rec.n_up, 0);
        assert_int_equal(rec.n_down, 0);

        assert_int_equal(virt_list_domains(rec.v, &a, &n), -ENOTCONN);
        assert_int_equal(virt_get_domain(rec.v, "0b1d4e5c-7a1f-4a63-9a57-3c2f1e0d9b11", &d), -ENOTCONN);
        assert_int_equal(virt_set_policy(rec.v, "0b1d4e5c-7a1f-4a63-9a57-3c2f1e0d9b11", &(VirtPolicy) {}),
                         -ENOTCONN);
        assert_int_equal(virt_detach_alias(rec.v, "0b1d4e5c-7a1f-4a63-9a57-3c2f1e0d9b11", "ua-vfo-x"),
                         -ENOTCONN);

        rec.v = virt_free(rec.v);
        run_for(50 * MSEC);
        assert_int_equal(rec.n_down, 0);
}

/* Freed at once, before the loop ever ran: nothing dangles. */
static void test_free_before_loop(void **state) {
        Recorder rec = {};

        assert_int_equal(virt_new(event, TEST_URI, &callbacks, &rec, &rec.v), 0);
        assert_true(virt_is_connected(rec.v));
        rec.v = virt_free(rec.v);
        run_for(50 * MSEC);
        assert_int_equal(rec.n_up, 0);
        assert_null(virt_free(NULL));
}

/*****************************************************************************
 * virt_call(): workers */

typedef struct CallResult {
        unsigned n;
        int r[8];
        uint64_t at[8];
} CallResult;

static void on_call(Virt *v, const char *uuid, int r, const VirtJobStats *st, void *userdata) {
        CallResult *res = userdata;

        assert_int_equal(strlen(uuid), 36);
        if (res->n < ELEMENTSOF(res->r)) {
                res->r[res->n] = r;
                res->at[res->n] = mono_usec();
        }
        res->n++;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        unsigned *ticks = userdata;

        (*ticks)++;
        (void) sd_event_source_set_time_relative(s, 10 * MSEC);
        return 0;
}

static void test_calls_in_workers(void **state) {
        Recorder *rec = *state;
        CallResult res = {}, gone = {}, late = {};
        VirtCall *held = NULL, *cancelled = NULL;
        VirtCalls *c = NULL;
        char uuid[37];

        find_test_domain(rec->v, uuid);
        /* workers, as vfod has them for qemu:// (virt_call() would run the
         * test driver's calls in this process) */
        assert_int_equal(virt_calls_new(event, TEST_URI, NULL, &c), 0);
#define CALL(op_, uuid_, timeout_, res_, ret_)                                                                  \
        virt_calls_submit(c, rec->v, &(VirtRequest) { .op = (op_), .uuid = (uuid_) }, (timeout_), on_call, (res_), \
                          (ret_))

        /* one domain: in order, on the worker's own connection (the test
         * driver keeps its state per connection: the resume finds the
         * domain the suspend paused, so both ran in the same worker) */
        assert_int_equal(CALL(VIRT_OP_SUSPEND, uuid, 10 * SEC, &res, &held), 0);
        assert_int_equal(CALL(VIRT_OP_RESUME, uuid, 10 * SEC, &res, NULL), 0);
        assert_int_equal(CALL(VIRT_OP_RESUME, uuid, 10 * SEC, &res, NULL), 0);
        assert_int_equal(res.n, 0);     /* never from inside the call */
        assert_true(RUN_UNTIL(res.n == 3, 10 * SEC));
        assert_int_equal(res.r[0], 0);
        assert_int_equal(res.r[1], 0);
        assert_true(res.r[2] < 0);      /* running already: "domain is not paused" */

        /* errors come back as errno */
        res = (CallResult) {};
        assert_int_equal(CALL(VIRT_OP_SUSPEND, "0b1d4e5c-7a1f-4a63-9a57-3c2f1e0d9b11", 10 * SEC, &res, NULL), 0);
        assert_true(RUN_UNTIL(res.n == 1, 10 * SEC));
        assert_int_equal(res.r[0], -ENOENT);

        /* cancelled: no callback */
        res = (CallResult) {};
        assert_int_equal(CALL(VIRT_OP_SUSPEND, uuid, 10 * SEC, &res, &cancelled), 0);
        assert_null(virt_call_cancel(cancelled));
        run_for(300 * MSEC);
        assert_int_equal(res.n, 0);

        /* a worker that never answers (a QEMU that does not): the loop goes
         * on, the call ends at its deadline, the worker is killed, and the
         * next call gets a new one */
        {
                sd_event_source *tick = NULL;
                unsigned ticks = 0;
                uint64_t t0;

                assert_int_equal(setenv("VFO_TEST_WORKER_STALL", "1", 1), 0);
                /* the idle worker must go first: a stalled one is a new one */
                c = virt_calls_free(c);
                assert_int_equal(virt_calls_new(event, TEST_URI, NULL, &c), 0);
                assert_int_equal(sd_event_add_time_relative(event, &tick, CLOCK_MONOTONIC, 10 * MSEC, MSEC, on_tick,
                                                            &ticks), 0);
                assert_int_equal(sd_event_source_set_enabled(tick, SD_EVENT_ON), 0);
                t0 = mono_usec();
                assert_int_equal(CALL(VIRT_OP_SUSPEND, uuid, 500 * MSEC, &late, NULL), 0);
                assert_true(RUN_UNTIL(late.n == 1, 5 * SEC));
                assert_int_equal(late.r[0], -ETIMEDOUT);
                /* sd-event counts from the loop's time of this iteration */
                assert_true(late.at[0] - t0 >= 400 * MSEC && late.at[0] - t0 < 2 * SEC);
                assert_true(ticks >= 20);       /* the loop ran meanwhile */
                printf("# stalled worker: -ETIMEDOUT after %.0f ms, %u loop ticks of 10 ms meanwhile\n",
                       (double) (late.at[0] - t0) / MSEC, ticks);
                tick = sd_event_source_disable_unref(tick);
                assert_int_equal(unsetenv("VFO_TEST_WORKER_STALL"), 0);
                res = (CallResult) {};
                assert_int_equal(CALL(VIRT_OP_SUSPEND, uuid, 10 * SEC, &res, NULL), 0);
                assert_true(RUN_UNTIL(res.n == 1, 10 * SEC));
                assert_int_equal(res.r[0], 0);
        }

        /* a call nobody holds hears of the end */
        assert_int_equal(CALL(VIRT_OP_RESUME, uuid, 10 * SEC, &gone, NULL), 0);
        c = virt_calls_free(c);
        assert_int_equal(gone.n, 1);
        assert_int_equal(gone.r[0], -ECANCELED);
#undef CALL
}

typedef struct ReadResult {
        unsigned n;
        int r;
        VirtDomain d;
} ReadResult;

static void on_read(Virt *v, const char *uuid, int r, VirtDomain *d, void *userdata) {
        ReadResult *res = userdata;

        assert_int_equal(strlen(uuid), 36);
        res->n++;
        res->r = r;
        if (r >= 0) {
                assert_non_null(d);
                virt_domain_done(&res->d);
                res->d = *d;    /* the callback may take the members */
                *d = (VirtDomain) {};
        } else
                assert_null(d);
}

/* virt_read_domain()'s call, through a worker (the XML comes back in the
 * answer) and in this process: the same domain as virt_get_domain() reads
 * on the loop; a domain libvirt does not know is -ENOENT. */
static void test_read_domain(void **state) {
        Recorder *rec = *state;
        ReadResult res = {}, gone = {}, here = {};
        VirtDomain d = {};
        VirtCalls *c = NULL;
        char uuid[37];

        find_test_domain(rec->v, uuid);
        assert_int_equal(virt_get_domain(rec->v, uuid, &d), 0);
        assert_int_equal(virt_calls_new(event, TEST_URI, NULL, &c), 0);
        assert_int_equal(virt_calls_submit_read(c, rec->v, uuid, 10 * SEC, on_read, &res, NULL), 0);
        assert_int_equal(virt_calls_submit_read(c, rec->v, "0b1d4e5c-7a1f-4a63-9a57-3c2f1e0d9b11", 10 * SEC, on_read,
                                                &gone, NULL), 0);
        assert_int_equal(res.n, 0);     /* never from inside the call */
        assert_true(RUN_UNTIL(res.n == 1 && gone.n == 1, 10 * SEC));
        assert_int_equal(res.r, 0);
        assert_string_equal(res.d.uuid, d.uuid);
        assert_string_equal(res.d.name, d.name);
        assert_int_equal(res.d.state, d.state);
        assert_int_equal(res.d.persistent, d.persistent);
        assert_int_equal(res.d.id, d.id);
        assert_int_equal(res.d.n_interfaces, d.n_interfaces);
        assert_int_equal(gone.r, -ENOENT);
        c = virt_calls_free(c);

        assert_int_equal(virt_read_domain(rec->v, uuid, 10 * SEC, on_read, &here, NULL), 0);
        assert_int_equal(here.n, 0);
        assert_true(RUN_UNTIL(here.n == 1, 5 * SEC));
        assert_int_equal(here.r, 0);
        assert_string_equal(here.d.name, d.name);
        virt_domain_done(&res.d);
        virt_domain_done(&here.d);
        virt_domain_done(&d);
}

/* test:/// through virt_call(): in this process, from the loop, so the
 * Virt's own connection sees what the call changed. */
static void test_calls_in_process(void **state) {
        Recorder *rec = *state;
        VirtPolicy p = { .present = true, .pool = "lab", .priority = 7 };
        CallResult res = {};
        VirtDomain d = {};
        char uuid[37];

        find_test_domain(rec->v, uuid);
        assert_int_equal(virt_call(rec->v, &(VirtRequest) { .op = VIRT_OP_SET_POLICY, .uuid = uuid, .policy = p },
                                   10 * SEC, on_call, &res, NULL), 0);
        assert_int_equal(res.n, 0);
        assert_true(RUN_UNTIL(res.n == 1, 5 * SEC));
        assert_int_equal(res.r[0], 0);
        assert_int_equal(virt_get_domain(rec->v, uuid, &d), 0);
        assert_true(d.policy.present);
        assert_string_equal(d.policy.pool, "lab");
        assert_int_equal(d.policy.priority, 7);
        virt_domain_done(&d);
}

static int setup_group(void **state) {
        assert_int_equal(sd_event_new(&event), 0);
        assert_int_equal(virt_event_register(event), 0);
        assert_int_equal(virt_event_register(event), 0);
        return 0;
}

static int teardown_group(void **state) {
        run_for(50 * MSEC);
        event = sd_event_unref(event);
        return 0;
}

int main(int argc, char *argv[]) {
        /* virt_call()'s workers are this program (/proc/self/exe) */
        if (argc > 1 && strcmp(argv[1], "--virt-worker") == 0) {
                if (getenv("VFO_TEST_WORKER_STALL"))
                        for (;;)
                                pause();        /* a libvirt call that never returns */
                return virt_worker_main(argc, argv);
        }

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_event_timeouts),
                cmocka_unit_test(test_event_handles),
                cmocka_unit_test_setup_teardown(test_connect_and_list, setup_virt, teardown_virt),
                cmocka_unit_test_setup_teardown(test_policy, setup_virt, teardown_virt),
                cmocka_unit_test_setup_teardown(test_lifecycle, setup_virt, teardown_virt),
                cmocka_unit_test_setup_teardown(test_unsupported_and_missing, setup_virt, teardown_virt),
                cmocka_unit_test(test_never_connects),
                cmocka_unit_test(test_free_before_loop),
                cmocka_unit_test_setup_teardown(test_calls_in_workers, setup_virt, teardown_virt),
                cmocka_unit_test_setup_teardown(test_calls_in_process, setup_virt, teardown_virt),
                cmocka_unit_test_setup_teardown(test_read_domain, setup_virt, teardown_virt),
        };
        sigset_t mask;

        if (getenv("VFO_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);      /* the workers (sd_event_add_child) */
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
