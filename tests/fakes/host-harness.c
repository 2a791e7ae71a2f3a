/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See host-harness.h. */

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/host/agentconn.h"
#include "agent/host/bus.h"
#include "lib/log.h"
#include "lib/string-util.h"
#include "tests/fakes/fake-vfprog.h"
#include "tests/fakes/host-harness.h"

#define HARNESS_START_USEC (5 * USEC_PER_SEC)
#define HARNESS_CALL_USEC (5 * USEC_PER_SEC)

static void die(const char *what, int r) {
        fprintf(stderr, "host-harness: %s: %s\n", what, strerror(r < 0 ? -r : r));
        abort();
}

sd_event *harness_event(void) {
        static sd_event *event;
        int r;

        if (!event) {
                sigset_t mask;

                /* as vfod's main(): sd_event_add_child() (the migration
                 * helper) needs SIGCHLD blocked, in every thread */
                sigemptyset(&mask);
                sigaddset(&mask, SIGCHLD);
                r = -sigprocmask(SIG_BLOCK, &mask, NULL);
                if (r < 0)
                        die("sigprocmask", r);
                r = sd_event_new(&event);
                if (r < 0)
                        die("sd_event_new", r);
        }
        return event;
}

/* ------------------------------------------------------- the guest agent */

static void agent_close(HarnessDomain *d) {
        d->delayed = sd_event_source_disable_unref(d->delayed);
        d->io = sd_event_source_disable_unref(d->io);
        if (d->fd >= 0)
                close(d->fd);
        d->fd = -EBADF;
        d->channel = channel_free(d->channel);
}

static void agent_flush(HarnessDomain *d) {
        const uint8_t *out;
        size_t n;

        if (d->fd < 0)
                return;
        out = channel_output(d->channel, &n);
        while (n > 0) {
                ssize_t k = send(d->fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k <= 0) {
                        if (k < 0 && errno == EAGAIN)
                                return;
                        agent_close(d);
                        return;
                }
                channel_output_advance(d->channel, (size_t) k);
                out = channel_output(d->channel, &n);
        }
}

static void agent_send(HarnessDomain *d, uint64_t id, Vfo__Envelope *e) {
        e->id = id;
        (void) channel_send(d->channel, e);
}

void harness_agent_path_changed(Harness *h, HarnessDomain *d, Vfo__PathKind path, Vfo__PathChangeReason reason) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__PathChanged pc = VFO__PATH_CHANGED__INIT;

        pc.mac = d->mac;
        pc.path = path;
        pc.reason = reason;
        e.body_case = VFO__ENVELOPE__BODY_PATH_CHANGED;
        e.path_changed = &pc;
        d->agent_path = path;
        agent_send(d, 0, &e);
        agent_flush(d);
}

/* PrepareAttach's answer (request 'id'), as 'd' says. */
static void agent_answer_prepare_attach(HarnessDomain *d, uint64_t id) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__AttachReady ar = VFO__ATTACH_READY__INIT;

        if (d->prepare_attach == HARNESS_ANSWER_REFUSE) {
                (void) channel_send_error(d->channel, id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL, "the test refuses");
                return;
        }
        ar.mac = d->mac;
        ar.vf_ifname = (char *) "eth1";
        e.body_case = VFO__ENVELOPE__BODY_ATTACH_READY;
        e.attach_ready = &ar;
        agent_send(d, id, &e);
}

static int on_agent_delayed(sd_event_source *s, uint64_t usec, void *userdata) {
        HarnessDomain *d = userdata;

        d->delayed = sd_event_source_disable_unref(d->delayed);
        if (!d->channel)
                return 0;
        agent_answer_prepare_attach(d, d->delayed_id);
        agent_flush(d);
        return 0;
}

static void agent_answer(HarnessDomain *d, const Vfo__Envelope *m) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;

        switch (m->body_case) {
        case VFO__ENVELOPE__BODY_PING: {
                Vfo__Pong pong = VFO__PONG__INIT;

                if (d->ping == HARNESS_ANSWER_SILENT)
                        return;
                if (d->ping == HARNESS_ANSWER_REFUSE) {
                        (void) channel_send_error(d->channel, m->id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL,
                                                  "the test refuses");
                        return;
                }
                e.body_case = VFO__ENVELOPE__BODY_PONG;
                e.pong = &pong;
                agent_send(d, m->id, &e);
                return;
        }
        case VFO__ENVELOPE__BODY_INVENTORY_REQUEST: {
                Vfo__InventoryReply inv = VFO__INVENTORY_REPLY__INIT;
                Vfo__Port p = VFO__PORT__INIT, *pp = &p;

                bool vf = d->agent_path == VFO__PATH_KIND__PATH_KIND_VF;

                p.mac = d->mac;
                p.synthetic_ifname = (char *) "eth0nsby";
                p.vf_ifname = (char *) (vf ? "eth1" : "");
                p.master_ifname = (char *) "eth0";
                p.datapath = VFO__DATAPATH_KIND__DATAPATH_KIND_NET_FAILOVER;
                p.active_path = d->agent_path;
                p.synthetic_link = VFO__LINK_STATE__LINK_STATE_UP;
                p.vf_link = vf ? VFO__LINK_STATE__LINK_STATE_UP : VFO__LINK_STATE__LINK_STATE_ABSENT;
                inv.ports = &pp;
                inv.n_ports = 1;
                e.body_case = VFO__ENVELOPE__BODY_INVENTORY_REPLY;
                e.inventory_reply = &inv;
                agent_send(d, m->id, &e);
                return;
        }
        case VFO__ENVELOPE__BODY_PREPARE_DETACH: {
                Vfo__DetachReady dr = VFO__DETACH_READY__INIT;

                d->n_prepare_detach++;
                d->last_prepare_id = m->id;
                if (d->prepare_detach == HARNESS_ANSWER_SILENT)
                        return;
                if (d->prepare_detach == HARNESS_ANSWER_REFUSE) {
                        (void) channel_send_error(d->channel, m->id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL,
                                                  "the test refuses");
                        return;
                }
                dr.mac = d->mac;
                e.body_case = VFO__ENVELOPE__BODY_DETACH_READY;
                e.detach_ready = &dr;
                agent_send(d, m->id, &e);
                return;
        }
        case VFO__ENVELOPE__BODY_PREPARE_ATTACH:
                d->n_prepare_attach++;
                d->last_prepare_id = m->id;
                if (d->prepare_attach == HARNESS_ANSWER_SILENT)
                        return;
                if (d->prepare_attach_delay > 0) {
                        d->delayed = sd_event_source_disable_unref(d->delayed);
                        d->delayed_id = m->id;
                        if (sd_event_add_time_relative(harness_event(), &d->delayed, CLOCK_MONOTONIC,
                                                       d->prepare_attach_delay, USEC_PER_MSEC, on_agent_delayed, d) < 0)
                                die("sd_event_add_time_relative", ENOMEM);
                        return;
                }
                agent_answer_prepare_attach(d, m->id);
                return;
        case VFO__ENVELOPE__BODY_STEERING_MOVED:
        case VFO__ENVELOPE__BODY_SET_PATH: {
                Vfo__PathChanged pc = VFO__PATH_CHANGED__INIT;

                if (m->body_case == VFO__ENVELOPE__BODY_STEERING_MOVED) {
                        d->n_steering_moved++;
                        if (m->steering_moved->drain_marker && m->steering_moved->path == VFO__PATH_KIND__PATH_KIND_VF)
                                d->n_marked_vf++;
                        else if (m->steering_moved->drain_marker)
                                d->n_marked_synthetic++;
                        if (d->steering_moved == HARNESS_ANSWER_SILENT)
                                return;
                        if (d->steering_moved == HARNESS_ANSWER_REFUSE) {
                                (void) channel_send_error(d->channel, m->id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL,
                                                          "the test refuses");
                                return;
                        }
                }

                pc.mac = d->mac;
                pc.path = m->body_case == VFO__ENVELOPE__BODY_SET_PATH ? m->set_path->path : m->steering_moved->path;
                d->agent_path = pc.path;
                pc.reason = VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_REQUESTED;
                e.body_case = VFO__ENVELOPE__BODY_PATH_CHANGED;
                e.path_changed = &pc;
                agent_send(d, m->id, &e);
                if (d->report) {
                        Vfo__Envelope re = VFO__ENVELOPE__INIT;
                        Vfo__SwitchReport r = VFO__SWITCH_REPORT__INIT;
                        Vfo__PathCounters syn = VFO__PATH_COUNTERS__INIT, vf = VFO__PATH_COUNTERS__INIT;

                        syn.rx_packets = 100;
                        syn.tx_packets = 90;
                        syn.rx_nohandler = d->report_drops;
                        vf.rx_packets = 10;
                        vf.tx_packets = 20;
                        r.mac = d->mac;
                        r.path = pc.path;
                        r.start_usec = 1000;
                        r.end_usec = 2000;
                        r.synthetic = &syn;
                        r.vf = &vf;
                        r.handed_over = 5;
                        r.held_tx = 7;
                        r.request_id = d->last_prepare_id;
                        re.body_case = VFO__ENVELOPE__BODY_SWITCH_REPORT;
                        re.switch_report = &r;
                        agent_send(d, 0, &re);
                }
                return;
        }
        case VFO__ENVELOPE__BODY_EXPECT_REPLAY: {
                Vfo__ReplayExpected re = VFO__REPLAY_EXPECTED__INIT;

                if (m->expect_replay->window_ms > 0) {
                        d->n_expect_replay++;
                        d->replay_window_ms = m->expect_replay->window_ms;
                } else if (m->expect_replay->prepare_ms > 0)
                        d->n_replay_prepared++;
                else
                        d->n_replay_closed++;
                if (d->expect_replay == HARNESS_ANSWER_SILENT)
                        return;
                if (d->expect_replay == HARNESS_ANSWER_REFUSE) {
                        (void) channel_send_error(d->channel, m->id, VFO__ERROR_CODE__ERROR_CODE_UNSUPPORTED,
                                                  "the test refuses");
                        return;
                }
                re.mac = d->mac;
                re.window_ms = m->expect_replay->window_ms;
                re.prepare_ms = m->expect_replay->prepare_ms;
                e.body_case = VFO__ENVELOPE__BODY_REPLAY_EXPECTED;
                e.replay_expected = &re;
                agent_send(d, m->id, &e);
                return;
        }
        default:
                return;
        }
}

static int on_agent_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HarnessDomain *d = userdata;
        uint8_t buf[4096];
        ssize_t k;

        k = recv(d->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k < 0 && errno == EAGAIN)
                return 0;
        if (k <= 0) {
                agent_close(d);
                return 0;
        }
        for (size_t off = 0; off < (size_t) k;) {
                ChannelEvent ev;
                size_t consumed;

                if (channel_feed(d->channel, buf + off, (size_t) k - off, now_usec(CLOCK_MONOTONIC), &consumed,
                                 &ev) < 0) {
                        agent_close(d);
                        return 0;
                }
                off += consumed;
                if (ev.type == CHANNEL_EVENT_MESSAGE) {
                        agent_answer(d, ev.message);
                        envelope_free(ev.message);
                }
        }
        agent_flush(d);
        return 0;
}

static int on_agent_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        static const Vfo__Capability caps[] = { VFO__CAPABILITY__CAPABILITY_NET_FAILOVER };
        ChannelConfig config = {
                .role = PEER_ROLE_GUEST,
                .version = "test-agent",
                .capabilities = caps,
                .n_capabilities = 1,
        };
        HarnessDomain *d = userdata;
        int c;

        c = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
                return 0;
        agent_close(d);
        d->fd = c;
        if (channel_new(&config, &d->channel) < 0 || channel_reset(d->channel, 0) < 0 ||
            sd_event_add_io(harness_event(), &d->io, d->fd, EPOLLIN, on_agent_io, d) < 0)
                agent_close(d);
        return 0;
}

/* --------------------------------------------------------- scratch files */

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                die(path, errno);
}

static void remove_tree(const char *path) {
        struct dirent *de;
        DIR *d = opendir(path);

        while (d && (de = readdir(d))) {
                char p[512];
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
                if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                        remove_tree(p);
                else
                        (void) unlink(p);
        }
        if (d)
                closedir(d);
        (void) rmdir(path);
}

Harness *harness_new(unsigned n_vfs, const char *extra) {
        struct group *g = getgrgid(getegid());
        char path[128], conf[2048];
        Harness *h;

        if (!getenv("VFO_TEST_DEBUG"))
                log_set_max_level(LOG_CRIT);
        h = calloc(1, sizeof(*h));
        if (!h)
                die("calloc", ENOMEM);
        h->destination_fd = -EBADF;
        snprintf(h->pool, sizeof(h->pool), "lab");
        h->event = harness_event();
        snprintf(h->dir, sizeof(h->dir), "%s/vfo-host-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(h->dir))
                die("mkdtemp", errno);
        snprintf(path, sizeof(path), "%s/domains", h->dir);
        if (mkdir(path, 0700) < 0)
                die(path, errno);
        snprintf(conf, sizeof(conf),
                 "[Daemon]\nStateDirectory=%s/state\nNoAgent=refuse\nAgentTimeoutSec=0.1\nUnplugTimeoutSec=0.2\n"
                 "LibvirtTimeoutSec=0.2\nReassignIntervalSec=0.001\nAdminGroup=%s\n%s\n"
                 "[Pool lab]\nType=emulated\nBridge=br0\nCount=%u\n",
                 h->dir, g ? g->gr_name : "root", extra ?: "", n_vfs);
        snprintf(path, sizeof(path), "%s/vfod.conf", h->dir);
        write_file(path, conf);
        snprintf(path, sizeof(path), "%s/state", h->dir);
        if (mkdir(path, 0700) < 0)
                die(path, errno);

        snprintf(path, sizeof(path), "%s/domains", h->dir);
        if (setenv("VFO_FAKE_LIBVIRT_DIR", path, 1) < 0 || setenv("VFO_FAKE_UNPLUG_MSEC", "1", 1) < 0 ||
            setenv("VFO_FAKE_TAPS", "vf0 vf1 vf2 vf3", 1) < 0)
                die("setenv", errno);
        (void) unsetenv("VFO_FAKE_UNPLUG");
        (void) unsetenv("VFO_FAKE_MIGRATE");
        (void) unsetenv("VFO_FAKE_MIGRATE_PASS");
        fake_vfprog_reset();
        return h;
}

HarnessDomain *harness_add_domain(Harness *h, const char *name, unsigned priority, bool with_vf,
                                  unsigned vf_index) {
        char path[256], policy[256] = "", vf[512] = "", xml[4096];
        size_t i = h->n_domains;
        HarnessDomain *d;

        if (i >= HARNESS_DOMAINS_MAX)
                die("too many domains", E2BIG);
        d = &h->domains[h->n_domains++];
        *d = (HarnessDomain) {
                .listen_fd = -EBADF,
                .fd = -EBADF,
                .agent_path = with_vf ? VFO__PATH_KIND__PATH_KIND_VF : VFO__PATH_KIND__PATH_KIND_SYNTHETIC,
        };
        snprintf(d->name, sizeof(d->name), "%s", name);
        snprintf(d->uuid, sizeof(d->uuid), "6d1c1e0a-3b1f-4d4c-9a8e-5f0c2b7a9e%02zx", i + 1);
        snprintf(d->mac, sizeof(d->mac), "52:54:00:f0:00:%02zx", i + 1);
        if (priority > 0)
                snprintf(policy, sizeof(policy),
                         "<metadata><vfo:policy xmlns:vfo='http://vfo.org/xmlns/libvirt/domain/1' pool='%s' "
                         "priority='%u'/></metadata>",
                         h->pool, priority);
        if (with_vf)
                snprintf(vf, sizeof(vf),
                         "<interface type='bridge'><mac address='%s'/><source bridge='br0'/>"
                         "<target dev='vf%u'/><model type='e1000e'/><alias name='ua-vfo-vf-lab-%u'/></interface>",
                         d->mac, vf_index, vf_index);
        snprintf(xml, sizeof(xml),
                 "<domain type='kvm'><name>%s</name><uuid>%s</uuid>%s<devices>"
                 "<interface type='bridge'><mac address='%s'/><source bridge='br0'/>"
                 "<target dev='tap%zu'/><model type='virtio'/><alias name='net0'/></interface>"
                 "%s"
                 "<channel type='unix'><source mode='bind' path='%s/%s.sock'/>"
                 "<target type='virtio' name='org.vfo.agent.0'/></channel>"
                 "</devices></domain>",
                 name, d->uuid, policy, d->mac, i, vf, h->dir, name);
        snprintf(path, sizeof(path), "%s/domains/%s.xml", h->dir, name);
        write_file(path, xml);
        return d;
}

void harness_libvirt_list(Harness *h, const char *name, HarnessDomain *d) {
        char path[192];
        FILE *f;

        snprintf(path, sizeof(path), "%s/domains/%s", h->dir, name);
        f = fopen(path, "ae");
        if (!f || fprintf(f, "%s\n", d->uuid) < 0 || fclose(f) != 0)
                die(path, errno);
}

void harness_write_journal(Harness *h, const char *text) {
        char path[128];

        snprintf(path, sizeof(path), "%s/state/journal", h->dir);
        write_file(path, text);
}

static void agent_listen(Harness *h, HarnessDomain *d) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", h->dir, d->name);
        d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (d->listen_fd < 0 || bind(d->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(d->listen_fd, 8) < 0)
                die("agent socket", errno);
        r = sd_event_add_io(h->event, &d->listen_io, d->listen_fd, EPOLLIN, on_agent_accept, d);
        if (r < 0)
                die("sd_event_add_io", r);
}

/* ------------------------------------------------------------ the bus */

/* The test's end plays the bus driver for what vfod asks of it (Hello,
 * RequestName, AddMatch…): a bus client takes a reply to a call to the
 * driver only from the driver. Every other message is the client's. */
static int driver_reply(sd_bus_message *call, const char *error, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        va_list ap;
        int r;

        if (error)
                r = sd_bus_message_new_method_errorf(call, &reply, error, "not a bus");
        else
                r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_set_sender(reply, "org.freedesktop.DBus");
        if (r >= 0)
                r = sd_bus_message_set_destination(reply, ":1.1");
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(reply, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r < 0 ? r : 1;
}

static int on_driver_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        bool *named = userdata;

        if (!sd_bus_message_is_method_call(m, NULL, NULL) ||
            !streq_ptr(sd_bus_message_get_destination(m), "org.freedesktop.DBus"))
                return 0;
        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus", "Hello"))
                return driver_reply(m, NULL, "s", ":1.1");
        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus", "RequestName")) {
                *named = true;
                return driver_reply(m, NULL, "u", 1);   /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER */
        }
        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus", "ReleaseName"))
                return driver_reply(m, NULL, "u", 1);
        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus", "AddMatch") ||
            sd_bus_message_is_method_call(m, "org.freedesktop.DBus", "RemoveMatch"))
                return driver_reply(m, NULL, NULL);
        return driver_reply(m, "org.freedesktop.DBus.Error.UnknownMethod", NULL);
}

typedef struct BusServer {
        int listen_fd;
        sd_bus *bus;
        bool named;
        int r;
} BusServer;

/* vfod's bus_setup() waits for its name: the other end answers from a
 * thread until then, and is the test's (on the loop) after. */
static void *bus_server_thread(void *userdata) {
        BusServer *s = userdata;
        sd_id128_t id;
        int fd, r;

        fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
                s->r = -errno;
                return NULL;
        }
        r = sd_bus_new(&s->bus);
        if (r >= 0)
                r = sd_bus_set_fd(s->bus, fd, fd);
        if (r >= 0)
                r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_set_server(s->bus, true, id);
        if (r >= 0)
                r = sd_bus_add_filter(s->bus, NULL, on_driver_call, &s->named);
        if (r >= 0)
                r = sd_bus_start(s->bus);
        while (r >= 0 && !s->named) {
                r = sd_bus_process(s->bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(s->bus, HARNESS_START_USEC);
        }
        s->r = r;
        return NULL;
}

static void bus_connect(Harness *h) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        BusServer s = { .listen_fd = -EBADF };
        char address[160];
        pthread_t t;
        int r;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bus", h->dir);
        s.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s.listen_fd < 0 || bind(s.listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(s.listen_fd, 1) < 0)
                die("bus socket", errno);
        r = -pthread_create(&t, NULL, bus_server_thread, &s);
        if (r < 0)
                die("pthread_create", r);
        snprintf(address, sizeof(address), "unix:path=%s", sa.sun_path);
        r = bus_setup(h->manager, address);
        (void) pthread_join(t, NULL);
        close(s.listen_fd);
        if (r < 0)
                die("bus_setup", r);
        if (s.r < 0)
                die("the bus driver", s.r);
        h->client = s.bus;
        r = sd_bus_attach_event(h->client, h->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                die("sd_bus_attach_event", r);
}

/* The destination: a bus driver as above, and vfod's two methods. */
static int on_destination_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Harness *h = userdata;

        if (sd_bus_message_is_method_call(m, VFO_MANAGER_IFACE, "PrepareIncoming")) {
                h->n_prepare_incoming++;
                return sd_bus_reply_method_return(m, "bs", h->destination_claims,
                                                  h->destination_claims ? "claimed by the test" : "the test refuses");
        }
        if (sd_bus_message_is_method_call(m, VFO_MANAGER_IFACE, "Handover")) {
                h->n_handover++;
                return sd_bus_reply_method_return(m, "u", 1);
        }
        if (sd_bus_message_is_method_call(m, VFO_MANAGER_IFACE, "HandoverEx")) {
                const char *uuid, *key, *from;
                int prepare = false;

                if (h->destination_old)
                        return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_METHOD, "Unknown method HandoverEx");
                if (sd_bus_message_read(m, "s", &uuid) < 0 || sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                        die("HandoverEx", EBADMSG);
                while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                        if (sd_bus_message_read(m, "s", &key) < 0)
                                die("HandoverEx", EBADMSG);
                        if (streq(key, "forward-from") && sd_bus_message_read(m, "v", "s", &from) > 0)
                                snprintf(h->handover_forward_from, sizeof(h->handover_forward_from), "%s", from);
                        else if (streq(key, "prepare") && sd_bus_message_read(m, "v", "b", &prepare) > 0)
                                ;
                        else if (sd_bus_message_skip(m, "v") < 0)
                                die("HandoverEx", EBADMSG);
                        if (sd_bus_message_exit_container(m) < 0)
                                die("HandoverEx", EBADMSG);
                }
                if (prepare)
                        h->n_handover_prepare++;
                else
                        h->n_handover_ex++;
                if (h->destination_forward_vni == 0 || h->n_domains == 0 || (prepare && h->destination_late_tunnels))
                        return sd_bus_reply_method_return(m, "ua{sv}", 1, 0);
                return sd_bus_reply_method_return(m, "ua{sv}", 1, 3, "address", "s", HARNESS_FORWARD_ADDRESS, "port",
                                                  "q", (uint16_t) 4789, "tunnels", "a(su)", 1, h->domains[0].mac,
                                                  h->destination_forward_vni);
        }
        return 0;
}

static bool destination_named;

static int on_destination_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Harness *h = userdata;
        sd_id128_t id;
        int c, r;

        c = accept4(h->destination_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
                return 0;
        h->destination = sd_bus_flush_close_unref(h->destination);
        r = sd_bus_new(&h->destination);
        if (r >= 0)
                r = sd_bus_set_fd(h->destination, c, c);
        if (r >= 0)
                r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_set_server(h->destination, true, id);
        if (r >= 0)
                r = sd_bus_add_filter(h->destination, NULL, on_driver_call, &destination_named);
        if (r >= 0)
                r = sd_bus_add_filter(h->destination, NULL, on_destination_call, h);
        if (r >= 0)
                r = sd_bus_attach_event(h->destination, h->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_start(h->destination);
        if (r < 0)
                die("the destination's bus", r);
        return 0;
}

void harness_listen_destination(Harness *h, const char *path, bool claims) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        h->destination_claims = claims;
        h->destination_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (h->destination_fd < 0 || bind(h->destination_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(h->destination_fd, 4) < 0)
                die("destination socket", errno);
        r = sd_event_add_io(h->event, &h->destination_io, h->destination_fd, EPOLLIN, on_destination_accept, h);
        if (r < 0)
                die("sd_event_add_io", r);
}

/* ------------------------------------------------------------ the loop */

bool harness_run_until(Harness *h, bool (*done)(Harness *h, void *userdata), void *userdata, usec_t timeout) {
        usec_t start = now_usec(CLOCK_MONOTONIC);

        for (;;) {
                if (done(h, userdata))
                        return true;
                if (now_usec(CLOCK_MONOTONIC) - start >= timeout)
                        return false;
                (void) sd_event_run(h->event, 10 * USEC_PER_MSEC);
        }
}

static bool never(Harness *h, void *userdata) {
        return false;
}

void harness_run_for(Harness *h, usec_t usec) {
        (void) harness_run_until(h, never, NULL, usec);
}

static bool started(Harness *h, void *userdata) {
        Manager *m = h->manager;

        if (!m->reconciled)
                return false;
        for (size_t i = 0; i < h->n_domains; i++) {
                Domain *d = manager_find_domain(m, h->domains[i].uuid);

                if (!d || (!h->domains[i].no_agent && !agent_conn_is_synced(d->agent)))
                        return false;
        }
        return true;
}

void harness_start(Harness *h) {
        char path[128];
        int r;

        for (size_t i = 0; i < h->n_domains; i++)
                if (!h->domains[i].no_agent)
                        agent_listen(h, &h->domains[i]);
        snprintf(path, sizeof(path), "%s/vfod.conf", h->dir);
        r = manager_new(h->event, path, &h->manager);
        if (r < 0)
                die("manager_new", r);
        bus_connect(h);
        r = manager_start(h->manager);
        if (r < 0)
                die("manager_start", r);
        if (!harness_run_until(h, started, NULL, HARNESS_START_USEC))
                die("vfod did not come up", ETIMEDOUT);
        for (size_t i = 0; i < h->n_domains; i++) {
                Domain *d = manager_find_domain(h->manager, h->domains[i].uuid);

                snprintf(h->domains[i].path, sizeof(h->domains[i].path), "%s", d->path);
        }
}

void harness_free(Harness *h) {
        if (!h)
                return;
        h->manager = manager_free(h->manager);
        h->client = sd_bus_flush_close_unref(h->client);
        h->destination = sd_bus_flush_close_unref(h->destination);
        h->destination_io = sd_event_source_disable_unref(h->destination_io);
        if (h->destination_fd >= 0)
                close(h->destination_fd);
        for (size_t i = 0; i < h->n_domains; i++) {
                HarnessDomain *d = &h->domains[i];

                agent_close(d);
                d->listen_io = sd_event_source_disable_unref(d->listen_io);
                if (d->listen_fd >= 0)
                        close(d->listen_fd);
        }
        /* what is left of them on the loop */
        for (int i = 0; i < 16 && sd_event_run(h->event, 0) > 0; i++)
                ;
        remove_tree(h->dir);
        free(h);
}

/* ------------------------------------------------------------- calls */

typedef struct Reply {
        bool done;
        sd_bus_message *msg;
} Reply;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Reply *r = userdata;

        r->msg = sd_bus_message_ref(m);
        r->done = true;
        return 1;
}

static bool replied(Harness *h, void *userdata) {
        return ((Reply *) userdata)->done;
}

static int call_message(Harness *h, sd_bus_message *m, sd_bus_message **ret_reply, sd_bus_error *ret_error) {
        Reply reply = {};
        const sd_bus_error *e;
        int r;

        r = sd_bus_call_async(h->client, NULL, m, on_reply, &reply, HARNESS_CALL_USEC);
        if (r < 0)
                return r;
        if (!harness_run_until(h, replied, &reply, HARNESS_CALL_USEC + USEC_PER_SEC))
                return -ETIMEDOUT;
        e = sd_bus_message_get_error(reply.msg);
        if (e) {
                if (ret_error)
                        (void) sd_bus_error_copy(ret_error, e);
                sd_bus_message_unref(reply.msg);
                return -EREMOTE;
        }
        if (ret_reply)
                *ret_reply = reply.msg;
        else
                sd_bus_message_unref(reply.msg);
        return 0;
}

int harness_call(Harness *h, const char *path, const char *interface, const char *member,
                 sd_bus_message **ret_reply, sd_bus_error *ret_error, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(h->client, &m, VFO_SERVICE, path, interface, member);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return call_message(h, m, ret_reply, ret_error);
}

static sd_bus_message *get_property(Harness *h, const char *path, const char *interface, const char *property,
                                    const char *type) {
        sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = harness_call(h, path, "org.freedesktop.DBus.Properties", "Get", &reply, &error, "ss", interface,
                         property);
        if (r < 0) {
                fprintf(stderr, "host-harness: %s %s.%s: %s %s\n", path, interface, property,
                        error.name ?: strerror(-r), error.message ?: "");
                abort();
        }
        sd_bus_error_free(&error);
        r = sd_bus_message_enter_container(reply, 'v', type);
        if (r < 0)
                die("the property's type", r);
        return reply;
}

char *harness_get_string(Harness *h, const char *path, const char *interface, const char *property) {
        sd_bus_message *reply = get_property(h, path, interface, property, "s");
        const char *s;
        char *copy;

        if (sd_bus_message_read(reply, "s", &s) < 0)
                die("read s", EINVAL);
        copy = strdup(s);
        sd_bus_message_unref(reply);
        return copy;
}

uint32_t harness_get_u32(Harness *h, const char *path, const char *interface, const char *property) {
        sd_bus_message *reply = get_property(h, path, interface, property, "u");
        uint32_t u;

        if (sd_bus_message_read(reply, "u", &u) < 0)
                die("read u", EINVAL);
        sd_bus_message_unref(reply);
        return u;
}

uint64_t harness_get_u64(Harness *h, const char *path, const char *interface, const char *property) {
        sd_bus_message *reply = get_property(h, path, interface, property, "t");
        uint64_t t;

        if (sd_bus_message_read(reply, "t", &t) < 0)
                die("read t", EINVAL);
        sd_bus_message_unref(reply);
        return t;
}

bool harness_get_bool(Harness *h, const char *path, const char *interface, const char *property) {
        sd_bus_message *reply = get_property(h, path, interface, property, "b");
        int b;

        if (sd_bus_message_read(reply, "b", &b) < 0)
                die("read b", EINVAL);
        sd_bus_message_unref(reply);
        return b;
}

char *harness_get_object(Harness *h, const char *path, const char *interface, const char *property, size_t index) {
        sd_bus_message *reply = get_property(h, path, interface, property, "ao");
        const char *o;
        char *copy = NULL;

        if (sd_bus_message_enter_container(reply, 'a', "o") < 0)
                die("enter ao", EINVAL);
        for (size_t i = 0; sd_bus_message_read(reply, "o", &o) > 0; i++)
                if (i == index) {
                        copy = strdup(o);
                        break;
                }
        sd_bus_message_unref(reply);
        return copy;
}

uint32_t harness_pool_free(Harness *h) {
        char *pool = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Pools", 0);
        uint32_t n;

        if (!pool)
                die("no pool", ENOENT);
        n = harness_get_u32(h, pool, VFO_POOL_IFACE, "Free");
        free(pool);
        return n;
}

char *harness_vf_state(Harness *h, unsigned index) {
        char *pool = harness_get_object(h, VFO_PATH, VFO_MANAGER_IFACE, "Pools", 0), *vf, *s;

        if (!pool)
                die("no pool", ENOENT);
        vf = harness_get_object(h, pool, VFO_POOL_IFACE, "VFs", index);
        if (!vf)
                die("no such VF", ENOENT);
        s = harness_get_string(h, vf, VFO_VF_IFACE, "State");
        free(vf);
        free(pool);
        return s;
}

char *harness_port_vf(Harness *h, HarnessDomain *d) {
        sd_bus_message *reply = get_property(h, d->path, VFO_DOMAIN_IFACE, "Ports", "a(ssoso)");
        const char *mac, *path, *vf, *state, *job;
        char *copy = NULL;

        if (sd_bus_message_enter_container(reply, 'a', "(ssoso)") < 0)
                die("enter a(ssoso)", EINVAL);
        while (sd_bus_message_read(reply, "(ssoso)", &mac, &path, &vf, &state, &job) > 0)
                if (strcasecmp(mac, d->mac) == 0 && !streq(vf, "/"))
                        copy = strdup(vf);
        sd_bus_message_unref(reply);
        return copy;
}

char *harness_port_path(Harness *h, HarnessDomain *d) {
        sd_bus_message *reply = get_property(h, d->path, VFO_DOMAIN_IFACE, "Ports", "a(ssoso)");
        const char *mac, *path, *vf, *state, *job;
        char *copy = NULL;

        if (sd_bus_message_enter_container(reply, 'a', "(ssoso)") < 0)
                die("enter a(ssoso)", EINVAL);
        while (sd_bus_message_read(reply, "(ssoso)", &mac, &path, &vf, &state, &job) > 0)
                if (strcasecmp(mac, d->mac) == 0)
                        copy = strdup(path);
        sd_bus_message_unref(reply);
        return copy;
}

typedef struct JobWait {
        const char *path;
        char *state;
} JobWait;

static bool job_ended(Harness *h, void *userdata) {
        JobWait *w = userdata;

        free(w->state);
        w->state = harness_get_string(h, w->path, VFO_JOB_IFACE, "State");
        return !streq(w->state, "running");
}

char *harness_wait_job(Harness *h, const char *path, usec_t timeout) {
        JobWait w = { .path = path };

        (void) harness_run_until(h, job_ended, &w, timeout);
        return w.state;
}

static char *attach_detach(Harness *h, HarnessDomain *d, const char *member, sd_bus_error *ret_error) {
        sd_bus_message *reply = NULL;
        const char *path;
        char *copy;

        if (harness_call(h, VFO_PATH, VFO_MANAGER_IFACE, member, &reply, ret_error, "ss", d->name, d->mac) < 0)
                return NULL;
        if (sd_bus_message_read(reply, "o", &path) < 0)
                die("read o", EINVAL);
        copy = strdup(path);
        sd_bus_message_unref(reply);
        return copy;
}

char *harness_attach(Harness *h, HarnessDomain *d, sd_bus_error *ret_error) {
        return attach_detach(h, d, "Attach", ret_error);
}

char *harness_detach(Harness *h, HarnessDomain *d, sd_bus_error *ret_error) {
        return attach_detach(h, d, "Detach", ret_error);
}
