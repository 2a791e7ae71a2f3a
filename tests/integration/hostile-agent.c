/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostile-agent: a guest agent stand-in for tests of vfod's guest boundary.
 * It plays QEMU's chardev server and vfo-agent at once: it binds and
 * listens on the channel's UNIX socket (<channel type='unix'><source
 * mode='bind' path=…>), takes vfod's connection (one at a time, like QEMU),
 * and speaks the protocol with lib/channel.c in the guest role. It answers
 * Sync, Ping, InventoryRequest (the ports given with --port) and
 * PrepareAttach/SteeringMoved/SetPath like vfo-agent would; what it does
 * with PrepareDetach, and on its own, is the mode:
 *
 *   good     DetachReady, like vfo-agent
 *   refuse   Error(INVALID_STATE) to PrepareDetach
 *   ignore   no answer to PrepareDetach, ever
 *   esc      Error to PrepareDetach whose message holds ESC sequences and a
 *            newline (sent as it is: lib/channel.c checks only our requests)
 *   flap     after each SyncReply, a zero-length frame (a protocol error),
 *            for every session
 *   flood    PathChanged events (id 0) as fast as --rate allows (default
 *            10,000 frames/s), for as long as a session is up; the rate it
 *            achieved is printed every 5 s and at the end
 *
 * At SIGTERM/SIGINT it prints one line of counters on stdout and exits 0:
 *   hostile-agent: mode=M connections=N syncs=N ... flood_rate=R */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/channel.h"
#include "lib/macro.h"
#include "lib/string-util.h"
#include "lib/time-util.h"
#include "lib/validate.h"

#define PORTS_MAX 8
#define ATTACH_READY_DELAY_USEC (100 * USEC_PER_MSEC)  /* the VF "appears" in the guest */
#define FLOOD_BATCH 256
#define FLOOD_OUTPUT_MAX (64 * 1024)    /* queue more only when vfod keeps up */
#define REPORT_USEC (5 * USEC_PER_SEC)

typedef enum Mode {
        MODE_GOOD,
        MODE_REFUSE,
        MODE_IGNORE,
        MODE_ESC,
        MODE_FLAP,
        MODE_FLOOD,
        _MODE_MAX,
} Mode;

static const char *const mode_names[_MODE_MAX] = {
        [MODE_GOOD] = "good", [MODE_REFUSE] = "refuse", [MODE_IGNORE] = "ignore",
        [MODE_ESC] = "esc",   [MODE_FLAP] = "flap",     [MODE_FLOOD] = "flood",
};

/* What a hostile guest would like to see on the host's terminal and in its
 * log: clear screen, colours, a window title, and a forged log line. */
static const char esc_message[] = "\x1b[2J\x1b[1;31mguest says: \x1b]0;pwned\x07refused\n"
                                  "vfod[1]: Job 1: detach done\x1b[0m";

typedef struct Port {
        char mac[18];
        char synthetic[16];
        Vfo__PathKind path;
        bool vf_present;
        uint64_t attach_id;     /* PrepareAttach to answer with AttachReady at attach_due */
        usec_t attach_due;
} Port;

typedef struct Stats {
        uint64_t connections, syncs, zero_frames, prepare_detach, detach_ready, refused, ignored, escaped,
                prepare_attach, attach_ready, steering_moved, inventories, pings, host_errors, rate_limited,
                flood_frames;
        usec_t flood_usec;      /* time spent flooding, over all sessions */
} Stats;

static const char *arg_socket;
static Mode arg_mode = MODE_GOOD;
static unsigned arg_rate = 10000;
static Port ports[PORTS_MAX];
static size_t n_ports;
static Stats stats;
static volatile sig_atomic_t quit;

static void on_signal(int sig) {
        quit = 1;
}

static double flood_rate(void) {
        return stats.flood_usec > 0 ? (double) stats.flood_frames * USEC_PER_SEC / (double) stats.flood_usec : 0;
}

static void print_stats(void) {
        printf("hostile-agent: mode=%s connections=%" PRIu64 " syncs=%" PRIu64 " zero_frames=%" PRIu64
               " prepare_detach=%" PRIu64 " detach_ready=%" PRIu64 " refused=%" PRIu64 " ignored=%" PRIu64
               " escaped=%" PRIu64 " prepare_attach=%" PRIu64 " attach_ready=%" PRIu64 " steering_moved=%" PRIu64
               " inventories=%" PRIu64 " pings=%" PRIu64 " host_errors=%" PRIu64 " rate_limited=%" PRIu64
               " flood_frames=%" PRIu64
               " flood_seconds=%.2f flood_rate=%.0f flood_target=%u\n",
               mode_names[arg_mode], stats.connections, stats.syncs, stats.zero_frames, stats.prepare_detach,
               stats.detach_ready, stats.refused, stats.ignored, stats.escaped, stats.prepare_attach,
               stats.attach_ready, stats.steering_moved, stats.inventories, stats.pings, stats.host_errors,
               stats.rate_limited, stats.flood_frames, (double) stats.flood_usec / USEC_PER_SEC, flood_rate(), arg_rate);
        fflush(stdout);
}

static Port *port_find(const char *mac) {
        for (size_t i = 0; i < n_ports; i++)
                if (strcasecmp(ports[i].mac, mac) == 0)
                        return &ports[i];
        return NULL;
}

/* Writes what the channel queued; -errno when the connection broke. */
static int flush_out(int fd, Channel *c) {
        const uint8_t *out;
        size_t n;

        out = channel_output(c, &n);
        while (n > 0) {
                ssize_t k = send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k < 0)
                        return errno == EAGAIN ? 0 : -errno;
                channel_output_advance(c, (size_t) k);
                out = channel_output(c, &n);
        }
        return 0;
}

static void send_reply(Channel *c, uint64_t id, Vfo__Envelope *e) {
        int r;

        e->id = id;
        r = channel_send(c, e);
        if (r < 0)
                fprintf(stderr, "hostile-agent: cannot queue %s: %s\n", envelope_body_to_string(e->body_case),
                        strerror(-r));
}

static void send_inventory(Channel *c, uint64_t id) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__InventoryReply inv = VFO__INVENTORY_REPLY__INIT;
        Vfo__Port p[PORTS_MAX], *pp[PORTS_MAX];

        for (size_t i = 0; i < n_ports; i++) {
                vfo__port__init(&p[i]);
                p[i].mac = ports[i].mac;
                p[i].synthetic_ifname = ports[i].synthetic;
                p[i].vf_ifname = ports[i].vf_present ? "fakevf0" : "";
                p[i].master_ifname = "fakefo0";
                p[i].datapath = VFO__DATAPATH_KIND__DATAPATH_KIND_NET_FAILOVER;
                p[i].active_path = ports[i].vf_present && ports[i].path == VFO__PATH_KIND__PATH_KIND_VF
                                           ? VFO__PATH_KIND__PATH_KIND_VF
                                           : VFO__PATH_KIND__PATH_KIND_SYNTHETIC;
                p[i].synthetic_link = VFO__LINK_STATE__LINK_STATE_UP;
                p[i].vf_link = ports[i].vf_present ? VFO__LINK_STATE__LINK_STATE_UP : VFO__LINK_STATE__LINK_STATE_ABSENT;
                pp[i] = &p[i];
        }
        inv.ports = pp;
        inv.n_ports = n_ports;
        e.body_case = VFO__ENVELOPE__BODY_INVENTORY_REPLY;
        e.inventory_reply = &inv;
        stats.inventories++;
        send_reply(c, id, &e);
}

static void send_path_changed(Channel *c, uint64_t id, Port *p, Vfo__PathKind path, Vfo__PathChangeReason reason) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__PathChanged pc = VFO__PATH_CHANGED__INIT;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        pc.mac = p->mac;
        pc.path = path;
        pc.reason = reason;
        pc.request_usec = now;
        pc.switched_usec = now;
        pc.announcements = 2;
        e.body_case = VFO__ENVELOPE__BODY_PATH_CHANGED;
        e.path_changed = &pc;
        send_reply(c, id, &e);
}

static void on_prepare_detach(Channel *c, const Vfo__Envelope *m, Port *p) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__DetachReady dr = VFO__DETACH_READY__INIT;

        stats.prepare_detach++;
        switch (arg_mode) {
        case MODE_REFUSE:
                stats.refused++;
                (void) channel_send_error(c, m->id, VFO__ERROR_CODE__ERROR_CODE_INVALID_STATE,
                                          "The guest keeps its VF: detach refused.");
                return;
        case MODE_IGNORE:
                stats.ignored++;
                return;
        case MODE_ESC:
                /* channel_send_error() does not check our own text: it goes as it is. */
                stats.escaped++;
                (void) channel_send_error(c, m->id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL, esc_message);
                return;
        case MODE_GOOD:
        case MODE_FLAP:
        case MODE_FLOOD:
        case _MODE_MAX:
                break;
        }
        dr.mac = p->mac;
        dr.prepare_usec = 150;
        e.body_case = VFO__ENVELOPE__BODY_DETACH_READY;
        e.detach_ready = &dr;
        stats.detach_ready++;
        send_reply(c, m->id, &e);
}

static void handle_message(Channel *c, const Vfo__Envelope *m) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__Pong pong = VFO__PONG__INIT;
        const char *mac = NULL;
        Port *p;

        switch (m->body_case) {
        case VFO__ENVELOPE__BODY_PING:
                stats.pings++;
                pong.timestamp_usec = m->ping->timestamp_usec;
                e.body_case = VFO__ENVELOPE__BODY_PONG;
                e.pong = &pong;
                send_reply(c, m->id, &e);
                return;
        case VFO__ENVELOPE__BODY_INVENTORY_REQUEST:
                send_inventory(c, m->id);
                return;
        case VFO__ENVELOPE__BODY_ERROR:
                stats.host_errors++;
                if (m->error->code == VFO__ERROR_CODE__ERROR_CODE_RATE_LIMITED)
                        stats.rate_limited++;   /* vfod says it drops what is over its budget */
                return;
        case VFO__ENVELOPE__BODY_PREPARE_DETACH:
                mac = m->prepare_detach->mac;
                break;
        case VFO__ENVELOPE__BODY_PREPARE_ATTACH:
                mac = m->prepare_attach->mac;
                break;
        case VFO__ENVELOPE__BODY_STEERING_MOVED:
                mac = m->steering_moved->mac;
                break;
        case VFO__ENVELOPE__BODY_SET_PATH:
                mac = m->set_path->mac;
                break;
        default:
                return;
        }

        p = port_find(mac);
        if (!p) {
                (void) channel_send_error(c, m->id, VFO__ERROR_CODE__ERROR_CODE_UNKNOWN_PORT,
                                          "No port with this MAC in the guest.");
                return;
        }
        switch (m->body_case) {
        case VFO__ENVELOPE__BODY_PREPARE_DETACH:
                on_prepare_detach(c, m, p);
                return;
        case VFO__ENVELOPE__BODY_PREPARE_ATTACH:
                /* vfo-agent answers once the VF is there with carrier: shortly. */
                stats.prepare_attach++;
                p->attach_id = m->id;
                p->attach_due = usec_add(now_usec(CLOCK_MONOTONIC), ATTACH_READY_DELAY_USEC);
                return;
        case VFO__ENVELOPE__BODY_STEERING_MOVED:
        case VFO__ENVELOPE__BODY_SET_PATH: {
                Vfo__PathKind path = m->body_case == VFO__ENVELOPE__BODY_STEERING_MOVED ? m->steering_moved->path
                                                                                        : m->set_path->path;

                stats.steering_moved++;
                p->path = path;
                if (path == VFO__PATH_KIND__PATH_KIND_SYNTHETIC)
                        p->vf_present = false;  /* the host unplugs it next */
                send_path_changed(c, m->id, p, path, VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_REQUESTED);
                return;
        }
        default:
                return;
        }
}

static void send_due_attach_ready(Channel *c, usec_t now) {
        for (size_t i = 0; i < n_ports; i++) {
                Vfo__Envelope e = VFO__ENVELOPE__INIT;
                Vfo__AttachReady ar = VFO__ATTACH_READY__INIT;
                Port *p = &ports[i];

                if (p->attach_id == 0 || now < p->attach_due)
                        continue;
                ar.mac = p->mac;
                ar.vf_ifname = "fakevf0";
                ar.wait_usec = ATTACH_READY_DELAY_USEC;
                e.body_case = VFO__ENVELOPE__BODY_ATTACH_READY;
                e.attach_ready = &ar;
                p->vf_present = true;
                stats.attach_ready++;
                send_reply(c, p->attach_id, &e);
                p->attach_id = 0;
        }
}

/* Queues the PathChanged events that are due at --rate since 'start'. */
static void flood(Channel *c, usec_t start, uint64_t *sent, usec_t now) {
        uint64_t due = (uint64_t) ((double) (now - start) * arg_rate / USEC_PER_SEC);
        size_t n_out;

        (void) channel_output(c, &n_out);
        for (unsigned k = 0; k < FLOOD_BATCH && *sent < due && n_out < FLOOD_OUTPUT_MAX && n_ports > 0; k++) {
                Port *p = &ports[*sent % n_ports];

                /* every other one claims the other path: each would be news to vfod */
                send_path_changed(c, 0, p,
                                  (*sent / n_ports) % 2 ? VFO__PATH_KIND__PATH_KIND_VF
                                                        : VFO__PATH_KIND__PATH_KIND_SYNTHETIC,
                                  VFO__PATH_CHANGE_REASON__PATH_CHANGE_REASON_VF_LINK_LOST);
                (*sent)++;
                stats.flood_frames++;
                (void) channel_output(c, &n_out);
        }
}

static void serve(int fd, Channel *c) {
        static const uint8_t zero_frame[FRAME_HEADER_SIZE] = {};
        usec_t flood_start = 0, last_report = now_usec(CLOCK_MONOTONIC);
        uint64_t flood_sent = 0;
        bool flooding = false;

        (void) channel_reset(c, 0);
        for (size_t i = 0; i < n_ports; i++)
                ports[i].attach_id = 0;

        while (!quit) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                usec_t now = now_usec(CLOCK_MONOTONIC);
                int timeout = 50, r;
                size_t n_out;

                (void) channel_output(c, &n_out);
                if (n_out > 0)
                        pfd.events |= POLLOUT;
                if (flooding)
                        timeout = 1;
                for (size_t i = 0; i < n_ports; i++)
                        if (ports[i].attach_id)
                                timeout = MIN(timeout, 5);

                r = poll(&pfd, 1, timeout);
                if (r < 0 && errno != EINTR)
                        break;
                now = now_usec(CLOCK_MONOTONIC);

                if (r > 0 && (pfd.revents & POLLIN)) {
                        uint8_t buf[16384];
                        ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

                        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                                break;
                        for (size_t off = 0; k > 0 && off < (size_t) k;) {
                                ChannelEvent ev;
                                size_t consumed;

                                if (channel_feed(c, buf + off, (size_t) k - off, now, &consumed, &ev) < 0)
                                        goto out;
                                off += consumed;
                                if (ev.type == CHANNEL_EVENT_SYNCED) {
                                        stats.syncs++;
                                        if (arg_mode == MODE_FLAP) {
                                                /* the SyncReply first, then the broken frame */
                                                if (flush_out(fd, c) < 0 ||
                                                    send(fd, zero_frame, sizeof(zero_frame), MSG_NOSIGNAL) < 0)
                                                        goto out;
                                                stats.zero_frames++;
                                        } else if (arg_mode == MODE_FLOOD && !flooding) {
                                                flooding = true;
                                                flood_start = now;
                                                flood_sent = 0;
                                        }
                                } else if (ev.type == CHANNEL_EVENT_MESSAGE) {
                                        handle_message(c, ev.message);
                                        envelope_free(ev.message);
                                }
                        }
                } else if (r > 0 && (pfd.revents & (POLLHUP | POLLERR)))
                        break;

                send_due_attach_ready(c, now);
                if (flooding && channel_get_state(c) == CHANNEL_STATE_READY)
                        flood(c, flood_start, &flood_sent, now);
                if (flush_out(fd, c) < 0)
                        break;
                if (flooding && now - last_report >= REPORT_USEC) {
                        stats.flood_usec += now - flood_start;
                        flood_start = now;
                        flood_sent = 0;
                        last_report = now;
                        fprintf(stderr, "hostile-agent: flooding at %.0f PathChanged/s (target %u), %" PRIu64 " sent\n",
                                flood_rate(), arg_rate, stats.flood_frames);
                }
        }
out:
        if (flooding)
                stats.flood_usec += now_usec(CLOCK_MONOTONIC) - flood_start;
}

static int listen_on(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "hostile-agent: socket path too long.\n");
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
                int r = -errno;

                fprintf(stderr, "hostile-agent: cannot listen on %s: %s\n", path, strerror(errno));
                close(fd);
                return r;
        }
        return fd;
}

static void help(void) {
        printf("%s --socket PATH --port MAC[,IFNAME] [--mode MODE] [--rate N]\n\n"
               "A hostile stand-in for vfo-agent (and QEMU's chardev server) for vfod's tests.\n"
               "MODE: good, refuse, ignore, esc, flap, flood (default good). --rate: flood's\n"
               "target in frames/s (default 10000). SIGTERM prints the counters and exits.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "socket", required_argument, NULL, 's' },
                { "mode", required_argument, NULL, 'm' },
                { "port", required_argument, NULL, 'p' },
                { "rate", required_argument, NULL, 'r' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hs:m:p:r:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 's':
                        arg_socket = optarg;
                        break;
                case 'm': {
                        size_t i;

                        for (i = 0; i < _MODE_MAX && !streq(optarg, mode_names[i]); i++)
                                ;
                        if (i == _MODE_MAX) {
                                fprintf(stderr, "hostile-agent: unknown mode '%s'.\n", optarg);
                                return -EINVAL;
                        }
                        arg_mode = (Mode) i;
                        break;
                }
                case 'p': {
                        const char *comma = strchr(optarg, ',');
                        Port *p = &ports[n_ports];

                        if (n_ports >= PORTS_MAX) {
                                fprintf(stderr, "hostile-agent: at most %u ports.\n", PORTS_MAX);
                                return -EINVAL;
                        }
                        *p = (Port) { .path = VFO__PATH_KIND__PATH_KIND_SYNTHETIC };
                        snprintf(p->mac, sizeof(p->mac), "%.*s", comma ? (int) (comma - optarg) : 17, optarg);
                        snprintf(p->synthetic, sizeof(p->synthetic), "%s", comma ? comma + 1 : "eth0nsby");
                        if (!mac_is_valid(p->mac) || !ifname_is_valid(p->synthetic)) {
                                fprintf(stderr, "hostile-agent: invalid --port '%s'.\n", optarg);
                                return -EINVAL;
                        }
                        n_ports++;
                        break;
                }
                case 'r': {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || v == 0 || v > 10000000) {
                                fprintf(stderr, "hostile-agent: invalid --rate '%s'.\n", optarg);
                                return -EINVAL;
                        }
                        arg_rate = (unsigned) v;
                        break;
                }
                default:
                        return -EINVAL;
                }
        if (!arg_socket || optind < argc) {
                fprintf(stderr, "hostile-agent: --socket PATH is needed, and no other arguments.\n");
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        ChannelConfig config = {
                .role = PEER_ROLE_GUEST,
                .version = "hostile-agent-1",
                .rate_burst = 0,        /* the host may talk as fast as it likes */
        };
        struct sigaction sa = { .sa_handler = on_signal };
        _cleanup_(channel_freep) Channel *c = NULL;
        _cleanup_close_ int lfd = -EBADF;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = channel_new(&config, &c);
        if (r < 0) {
                fprintf(stderr, "hostile-agent: %s\n", strerror(-r));
                return 1;
        }
        lfd = listen_on(arg_socket);
        if (lfd < 0)
                return 1;
        fprintf(stderr, "hostile-agent: mode %s, listening on %s.\n", mode_names[arg_mode], arg_socket);

        while (!quit) {
                struct pollfd pfd = { .fd = lfd, .events = POLLIN };
                int fd;

                if (poll(&pfd, 1, 200) <= 0)
                        continue;
                fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        continue;
                stats.connections++;
                serve(fd, c);
                close(fd);
        }
        (void) unlink(arg_socket);
        print_stats();
        return 0;
}
