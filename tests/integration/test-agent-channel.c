/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real vfo-agent binary against a host-side Channel over a UNIX socket
 * (what libvirt gives vfod): session start, requests, garbage, and the host
 * going away and coming back. No root needed. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/channel.h"

#define DEADLINE_USEC (10 * USEC_PER_SEC)

typedef struct Fixture {
        char dir[64];
        char path[100];
        int listen_fd;
        int fd;
        pid_t agent;
        Channel *host;
        uint64_t next_id;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ChannelConfig config = { .role = PEER_ROLE_HOST, .version = "test-host" };

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/vfo-agent-test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/channel.sock", f->dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);

        f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->listen_fd >= 0);
        assert_int_equal(bind(f->listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->listen_fd, 1), 0);
        f->fd = -1;
        f->next_id = 100;

        assert_int_equal(channel_new(&config, &f->host), 0);

        f->agent = fork();
        assert_true(f->agent >= 0);
        if (f->agent == 0) {
                execl(VFO_AGENT_PATH, "vfo-agent", "--device", f->path, "--log-level", "debug", (char *) NULL);
                _exit(127);
        }
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        int status;

        kill(f->agent, SIGTERM);
        assert_int_equal(waitpid(f->agent, &status, 0), f->agent);
        /* SIGTERM is a clean exit for the agent (sd_event signal exit). */
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        if (f->fd >= 0)
                close(f->fd);
        close(f->listen_fd);
        unlink(f->path);
        rmdir(f->dir);
        channel_free(f->host);
        free(f);
        return 0;
}

static void host_accept(Fixture *f) {
        struct pollfd p = { .fd = f->listen_fd, .events = POLLIN };

        assert_int_equal(poll(&p, 1, (int) (DEADLINE_USEC / USEC_PER_MSEC)), 1);
        f->fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(f->fd >= 0);
}

static void host_flush(Fixture *f) {
        const uint8_t *out;
        size_t n;

        out = channel_output(f->host, &n);
        if (n == 0)
                return;
        assert_int_equal(write(f->fd, out, n), (ssize_t) n);
        channel_output_advance(f->host, n);
}

/* Reads until the channel yields an event of 'type'; returns its message. */
static Vfo__Envelope *host_wait(Fixture *f, ChannelEventType type) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;

        for (;;) {
                static uint8_t buf[65536];
                static size_t n_buf, off;
                struct pollfd p = { .fd = f->fd, .events = POLLIN };
                ChannelEvent ev;
                size_t consumed;
                ssize_t k;

                while (off < n_buf) {
                        assert_int_equal(channel_feed(f->host, buf + off, n_buf - off, now_usec(CLOCK_MONOTONIC),
                                                      &consumed, &ev), 0);
                        off += consumed;
                        if (ev.type == type)
                                return ev.type == CHANNEL_EVENT_MESSAGE ? ev.message : NULL;
                        if (ev.type == CHANNEL_EVENT_MESSAGE)
                                envelope_free(ev.message);
                }
                host_flush(f);

                assert_true(now_usec(CLOCK_MONOTONIC) < deadline);
                assert_int_equal(poll(&p, 1, 100) >= 0, 1);
                if (!(p.revents & POLLIN))
                        continue;
                k = read(f->fd, buf, sizeof(buf));
                assert_true(k > 0);
                n_buf = (size_t) k;
                off = 0;
        }
}

static void host_session(Fixture *f, uint64_t nonce) {
        host_accept(f);
        assert_int_equal(channel_reset(f->host, nonce), 0);
        host_flush(f);
        (void) host_wait(f, CHANNEL_EVENT_SYNCED);
        assert_string_equal(channel_get_peer_version(f->host), PACKAGE_VERSION);
        assert_true(channel_peer_has_capability(f->host, VFO__CAPABILITY__CAPABILITY_NET_FAILOVER));
}

static Vfo__Envelope *host_request(Fixture *f, Vfo__Envelope *e) {
        Vfo__Envelope *reply;

        e->id = ++f->next_id;
        assert_int_equal(channel_send(f->host, e), 0);
        host_flush(f);
        reply = host_wait(f, CHANNEL_EVENT_MESSAGE);
        assert_int_equal(reply->id, e->id);
        return reply;
}

static void test_agent_answers_requests(void **state) {
        Fixture *f = *state;
        Vfo__Envelope e = VFO__ENVELOPE__INIT, *r;
        Vfo__Ping ping = VFO__PING__INIT;
        Vfo__InventoryRequest inv = VFO__INVENTORY_REQUEST__INIT;
        Vfo__PrepareDetach pd = VFO__PREPARE_DETACH__INIT;

        host_session(f, 0xabc);

        ping.timestamp_usec = 4242;
        e.body_case = VFO__ENVELOPE__BODY_PING;
        e.ping = &ping;
        r = host_request(f, &e);
        assert_int_equal(r->body_case, VFO__ENVELOPE__BODY_PONG);
        assert_int_equal(r->pong->timestamp_usec, 4242);
        envelope_free(r);

        /* This machine has no vfo ports, but the reply is well-formed
         * (the channel validated every field of it). */
        e = (Vfo__Envelope) VFO__ENVELOPE__INIT;
        e.body_case = VFO__ENVELOPE__BODY_INVENTORY_REQUEST;
        e.inventory_request = &inv;
        r = host_request(f, &e);
        assert_int_equal(r->body_case, VFO__ENVELOPE__BODY_INVENTORY_REPLY);
        envelope_free(r);

        /* No such port on this machine: a named error, the session goes on. */
        pd.mac = (char *) "52:54:00:77:00:11";
        pd.deadline_ms = 1000;
        e = (Vfo__Envelope) VFO__ENVELOPE__INIT;
        e.body_case = VFO__ENVELOPE__BODY_PREPARE_DETACH;
        e.prepare_detach = &pd;
        r = host_request(f, &e);
        assert_int_equal(r->body_case, VFO__ENVELOPE__BODY_ERROR);
        assert_int_equal(r->error->code, VFO__ERROR_CODE__ERROR_CODE_UNKNOWN_PORT);
        envelope_free(r);
}

static void test_agent_asks_for_resync_after_garbage(void **state) {
        Fixture *f = *state;
        static const uint8_t garbage[] = { 0x00, 0x00, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00 };

        host_session(f, 0x111);
        assert_int_equal(write(f->fd, garbage, sizeof(garbage)), (ssize_t) sizeof(garbage));
        /* Error{RESYNC_REQUIRED} makes the host channel start over... */
        (void) host_wait(f, CHANNEL_EVENT_LOST);
        /* ...and the agent answers the new Sync. */
        (void) host_wait(f, CHANNEL_EVENT_SYNCED);
        assert_int_equal(channel_get_counters(f->host)->syncs, 2);
}

static void test_agent_reconnects_when_host_returns(void **state) {
        Fixture *f = *state;
        Vfo__Envelope e = VFO__ENVELOPE__INIT, *r;
        Vfo__Ping ping = VFO__PING__INIT;

        host_session(f, 0x222);
        close(f->fd);
        f->fd = -1;

        /* The agent sees EOF, waits on its timer, and connects again. */
        host_session(f, 0x333);
        e.body_case = VFO__ENVELOPE__BODY_PING;
        e.ping = &ping;
        r = host_request(f, &e);
        assert_int_equal(r->body_case, VFO__ENVELOPE__BODY_PONG);
        envelope_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_agent_answers_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_agent_asks_for_resync_after_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_agent_reconnects_when_host_returns, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
