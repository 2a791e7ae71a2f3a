/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target (issue 13): what a guest agent answers, through vfod's host
 * core: the manager, its scheduler, jobs and the agent connection
 * (agentconn.c) on one sd-event loop, with the fake libvirt
 * (tests/fakes/fake-libvirt.c: one running domain, one emulated VF) and a
 * fake bridge FDB (tests/fakes/fake-vfprog.c). The agent end of the
 * channel is this file: it answers Sync as a guest does, then plays the
 * input as a script of what the agent does next.
 *
 * Input: byte 0 picks the start: even, the port has no VF and the
 * scheduler attaches the free one; odd, the VF is plugged already and a
 * user detach starts. Then one op per byte, each run between iterations
 * of the loop, and the loop runs on after the last (at most RUN_USEC):
 *   0 answer the oldest request as the agent would
 *   1 answer the newest request as the agent would (out of order)
 *   2 answer the oldest with Error (next byte: the code)
 *   3 forget the oldest (never answered)
 *   4 an unsolicited PathChanged (next byte: the path)
 *   5 raw bytes (next byte: how many, then those bytes)
 *   6 let the loop run (next byte: milliseconds, at most 31)
 *   7 close the connection (vfod reconnects later)
 * Timeouts are short (AgentTimeoutSec=0.02) so that every path, the
 * rollbacks included, ends within an input. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/host/agentconn.h"
#include "agent/host/job.h"
#include "agent/host/manager.h"
#include "lib/channel.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAC "52:54:00:f0:00:01"
#define UUID "6d1c1e0a-3b1f-4d4c-9a8e-5f0c2b7a9e01"
#define PENDING_MAX 32
#define RUN_USEC (150 * USEC_PER_MSEC)

typedef struct Request {
        uint64_t id;
        Vfo__Envelope__BodyCase body;
        Vfo__PathKind path;     /* SteeringMoved, SetPath */
} Request;

static char dir[64];
static sd_event *event;
static int listen_fd = -EBADF;

static int guest_fd = -EBADF;
static sd_event_source *guest_io;
static Channel *guest;
static Request pending[PENDING_MAX];
static size_t n_pending;

static void guest_close(void) {
        guest_io = sd_event_source_disable_unref(guest_io);
        if (guest_fd >= 0)
                close(guest_fd);
        guest_fd = -EBADF;
        guest = channel_free(guest);
        n_pending = 0;
}

static void guest_flush(void) {
        const uint8_t *out;
        size_t n;

        if (guest_fd < 0)
                return;
        out = channel_output(guest, &n);
        while (n > 0) {
                ssize_t k = send(guest_fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k <= 0) {
                        if (k < 0 && errno == EAGAIN)
                                return;
                        guest_close();
                        return;
                }
                channel_output_advance(guest, (size_t) k);
                out = channel_output(guest, &n);
        }
}

static void remember(const Vfo__Envelope *m) {
        Request *r;

        if (n_pending == PENDING_MAX || m->id == 0)
                return;
        r = &pending[n_pending++];
        *r = (Request) { .id = m->id, .body = m->body_case };
        if (m->body_case == VFO__ENVELOPE__BODY_STEERING_MOVED)
                r->path = m->steering_moved->path;
        else if (m->body_case == VFO__ENVELOPE__BODY_SET_PATH)
                r->path = m->set_path->path;
}

static int on_guest_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint8_t buf[4096];
        ssize_t k;

        k = recv(guest_fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k < 0 && errno == EAGAIN)
                return 0;
        if (k <= 0) {
                guest_close();
                return 0;
        }
        for (size_t off = 0; off < (size_t) k;) {
                ChannelEvent ev;
                size_t consumed;

                if (channel_feed(guest, buf + off, (size_t) k - off, now_usec(CLOCK_MONOTONIC), &consumed, &ev) < 0) {
                        guest_close();
                        return 0;
                }
                off += consumed;
                if (ev.type == CHANNEL_EVENT_SYNCED)
                        n_pending = 0;
                else if (ev.type == CHANNEL_EVENT_MESSAGE) {
                        remember(ev.message);
                        envelope_free(ev.message);
                }
        }
        guest_flush();
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        static const Vfo__Capability caps[] = { VFO__CAPABILITY__CAPABILITY_NET_FAILOVER };
        ChannelConfig config = {
                .role = PEER_ROLE_GUEST,
                .version = "fuzz-agent",
                .capabilities = caps,
                .n_capabilities = 1,
        };
        int c;

        c = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
                return 0;
        guest_close();
        guest_fd = c;
        if (channel_new(&config, &guest) < 0 || channel_reset(guest, 0) < 0 ||
            sd_event_add_io(event, &guest_io, guest_fd, EPOLLIN, on_guest_io, NULL) < 0)
                guest_close();
        return 0;
}

/* ------------------------------------------------------------ answers */

static void send_env(uint64_t id, Vfo__Envelope *e) {
        e->id = id;
        (void) channel_send(guest, e);
}

static void answer(const Request *r) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;

        switch (r->body) {
        case VFO__ENVELOPE__BODY_PING: {
                Vfo__Pong pong = VFO__PONG__INIT;

                e.body_case = VFO__ENVELOPE__BODY_PONG;
                e.pong = &pong;
                send_env(r->id, &e);
                return;
        }
        case VFO__ENVELOPE__BODY_INVENTORY_REQUEST: {
                Vfo__InventoryReply inv = VFO__INVENTORY_REPLY__INIT;
                Vfo__Port p = VFO__PORT__INIT, *pp = &p;

                p.mac = (char *) MAC;
                p.synthetic_ifname = (char *) "eth0nsby";
                p.vf_ifname = (char *) "";
                p.master_ifname = (char *) "eth0";
                p.datapath = VFO__DATAPATH_KIND__DATAPATH_KIND_NET_FAILOVER;
                p.active_path = VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
                p.synthetic_link = VFO__LINK_STATE__LINK_STATE_UP;
                p.vf_link = VFO__LINK_STATE__LINK_STATE_ABSENT;
                inv.ports = &pp;
                inv.n_ports = 1;
                e.body_case = VFO__ENVELOPE__BODY_INVENTORY_REPLY;
                e.inventory_reply = &inv;
                send_env(r->id, &e);
                return;
        }
        case VFO__ENVELOPE__BODY_PREPARE_DETACH: {
                Vfo__DetachReady dr = VFO__DETACH_READY__INIT;

                dr.mac = (char *) MAC;
                e.body_case = VFO__ENVELOPE__BODY_DETACH_READY;
                e.detach_ready = &dr;
                send_env(r->id, &e);
                return;
        }
        case VFO__ENVELOPE__BODY_PREPARE_ATTACH: {
                Vfo__AttachReady ar = VFO__ATTACH_READY__INIT;

                ar.mac = (char *) MAC;
                ar.vf_ifname = (char *) "eth1";
                e.body_case = VFO__ENVELOPE__BODY_ATTACH_READY;
                e.attach_ready = &ar;
                send_env(r->id, &e);
                return;
        }
        case VFO__ENVELOPE__BODY_STEERING_MOVED:
        case VFO__ENVELOPE__BODY_SET_PATH: {
                Vfo__PathChanged pc = VFO__PATH_CHANGED__INIT;

                pc.mac = (char *) MAC;
                pc.path = r->path;
                pc.reason = VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_REQUESTED;
                e.body_case = VFO__ENVELOPE__BODY_PATH_CHANGED;
                e.path_changed = &pc;
                send_env(r->id, &e);
                return;
        }
        default:
                return;
        }
}

static void take(size_t i) {
        memmove(pending + i, pending + i + 1, (n_pending - i - 1) * sizeof(Request));
        n_pending--;
}

/* Runs op data[*i] (and its arguments); advances *i. */
static void run_op(const uint8_t *data, size_t size, size_t *i) {
        uint8_t op = data[(*i)++] % 8, arg = *i < size ? data[*i] : 0;

        if (op == 2 || op == 4 || op == 5 || op == 6)
                (*i)++;                 /* the argument byte */
        if (op == 6) {
                (void) sd_event_run(event, (arg % 32) * USEC_PER_MSEC);
                return;
        }
        if (op == 7) {
                guest_close();
                return;
        }
        if (!guest || channel_get_state(guest) != CHANNEL_STATE_READY) {
                if (op == 5)
                        *i += MIN((size_t) arg, size - *i);
                return;
        }
        switch (op) {
        case 0:
        case 1:
                if (n_pending == 0)
                        return;
                answer(&pending[op == 0 ? 0 : n_pending - 1]);
                take(op == 0 ? 0 : n_pending - 1);
                break;
        case 2:
                if (n_pending == 0)
                        return;
                (void) channel_send_error(guest, pending[0].id, (Vfo__ErrorCode) (arg % 12), "fuzz");
                take(0);
                break;
        case 3:
                if (n_pending > 0)
                        take(0);
                break;
        case 4: {
                Vfo__Envelope e = VFO__ENVELOPE__INIT;
                Vfo__PathChanged pc = VFO__PATH_CHANGED__INIT;

                pc.mac = (char *) MAC;
                pc.path = (Vfo__PathKind) (arg % 4);
                pc.reason = (Vfo__PathChangeReason) (arg / 4 % 6);
                e.body_case = VFO__ENVELOPE__BODY_PATH_CHANGED;
                e.path_changed = &pc;
                send_env(0, &e);
                break;
        }
        case 5: {
                size_t n = MIN((size_t) arg, size - *i);

                (void) send(guest_fd, data + *i, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                *i += n;
                break;
        }
        }
        guest_flush();
}

/* ------------------------------------------------------------- set-up */

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                abort();
}

static void clean_state(void) {
        char path[128];
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "%s/state", dir);
        d = opendir(path);
        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.') {
                        char f[400];

                        snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
                        (void) unlink(f);
                }
        if (d)
                closedir(d);
}

static void write_domain(bool with_vf) {
        char path[128], xml[2048];

        snprintf(xml, sizeof(xml),
                 "<domain type='kvm'><name>fuzz</name><uuid>" UUID "</uuid><metadata>"
                 "<vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' pool='lab' priority='50'/>"
                 "</metadata><devices>"
                 "<interface type='bridge'><mac address='" MAC "'/><source bridge='fuzzbr0'/>"
                 "<target dev='fuzztap0'/><model type='virtio'/><alias name='net0'/></interface>"
                 "%s"
                 "<channel type='unix'><source mode='bind' path='%s/agent.sock'/>"
                 "<target type='virtio' name='org.vfo.agent.0'/></channel>"
                 "</devices></domain>",
                 with_vf ? "<interface type='bridge'><mac address='" MAC "'/><source bridge='fuzzbr0'/>"
                           "<target dev='fuzzvf0'/><model type='e1000e'/><alias name='ua-vfo-vf-lab-0'/></interface>"
                         : "",
                 dir);
        snprintf(path, sizeof(path), "%s/domains/fuzz.xml", dir);
        write_file(path, xml);
}

/* The scratch directory goes at exit: state/, domains/, the socket, the config. */
static void remove_dir(void) {
        static const char *const files[] = { "domains/fuzz.xml", "domains/wedged", "agent.sock", "vfod.conf" };
        char path[128];

        clean_state();
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                (void) unlink(path);
        }
        snprintf(path, sizeof(path), "%s/state", dir);
        (void) rmdir(path);
        snprintf(path, sizeof(path), "%s/domains", dir);
        (void) rmdir(path);
        (void) rmdir(dir);
}

static void setup_once(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char path[128], conf[1024];

        if (event)
                return;
        if (!getenv("VFO_FUZZ_DEBUG"))
                log_set_max_level(LOG_CRIT);
        snprintf(dir, sizeof(dir), "%s/vfo-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
                abort();
        atexit(remove_dir);
        snprintf(path, sizeof(path), "%s/domains", dir);
        if (mkdir(path, 0700) < 0)
                abort();
        snprintf(conf, sizeof(conf),
                 "[Daemon]\nStateDirectory=%s/state\nNoAgent=refuse\nAgentTimeoutSec=0.02\nUnplugTimeoutSec=0.05\n"
                 "LibvirtTimeoutSec=0.05\nReassignIntervalSec=0.001\n\n"
                 "[Pool lab]\nType=emulated\nBridge=fuzzbr0\nCount=1\n",
                 dir);
        snprintf(path, sizeof(path), "%s/vfod.conf", dir);
        write_file(path, conf);
        snprintf(path, sizeof(path), "%s/domains", dir);
        if (setenv("VFO_FAKE_LIBVIRT_DIR", path, 1) < 0 || setenv("VFO_FAKE_UNPLUG_MSEC", "1", 1) < 0 ||
            setenv("VFO_FAKE_TAPS", "fuzzvf0", 1) < 0)
                abort();

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/agent.sock", dir);
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(listen_fd, 8) < 0)
                abort();
        if (sd_event_new(&event) < 0 || sd_event_add_io(event, NULL, listen_fd, EPOLLIN, on_accept, NULL) < 0)
                abort();
}

static bool job_running(Manager *m) {
        for (size_t i = 0; i < m->n_jobs; i++)
                if (m->jobs[i]->state == JOB_RUNNING)
                        return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Domain *d = NULL;
        char path[128];
        bool detach;
        usec_t start;
        size_t i = 1;

        if (size < 1 || size > 4096)
                return 0;
        setup_once();
        detach = data[0] & 1;
        clean_state();
        write_domain(detach);
        snprintf(path, sizeof(path), "%s/vfod.conf", dir);
        if (manager_new(event, path, &m) < 0 || manager_start(m) < 0)
                abort();

        /* until vfod has the agent's session (it connects at once) */
        start = now_usec(CLOCK_MONOTONIC);
        for (;;) {
                d = m->reconciled ? manager_find_domain(m, UUID) : NULL;
                if ((d && agent_conn_is_synced(d->agent)) || now_usec(CLOCK_MONOTONIC) - start >= RUN_USEC)
                        break;
                (void) sd_event_run(event, USEC_PER_MSEC);
        }
        if (detach && d) {
                Port *p = domain_first_port(d, true);

                if (p && !p->job)
                        (void) job_start(m, JOB_DETACH, JOB_REASON_USER, p, NULL, NULL);
        }

        while (i < size) {
                run_op(data, size, &i);
                (void) sd_event_run(event, 0);
        }
        start = now_usec(CLOCK_MONOTONIC);
        while (job_running(m) && now_usec(CLOCK_MONOTONIC) - start < RUN_USEC)
                (void) sd_event_run(event, USEC_PER_MSEC);

        m = manager_free(m);
        guest_close();
        /* a connection vfod made that nobody accepted */
        for (int c; (c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0;)
                close(c);
        return 0;
}
