/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfo-labhost: the host side of the protocol for lab scenarios until vfod
 * drives them: connects to a domain's channel socket, runs the graceful
 * detach or attach sequence (ARCHITECTURE.md "6 Detach", "7 Attach") with
 * the lab's steering and unplug commands, and prints one JSON line of
 * timings. A one-shot tool, so it blocks, but every wait has a deadline. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/channel.h"
#include "lib/log.h"

static const char *arg_socket;
static const char *arg_steer;
static const char *arg_device;          /* unplug (detach) or plug (attach) command */
static usec_t arg_timeout = 30 * USEC_PER_SEC;
static uint32_t arg_deadline_ms = 20000;

typedef struct Host {
        int fd;
        Channel *channel;
        uint64_t next_id;
        usec_t t0;
        uint8_t buf[65536];
        size_t n_buf, off;
} Host;

static double ms_since(const Host *h) {
        return (double) (now_usec(CLOCK_MONOTONIC) - h->t0) / 1000.0;
}

static int host_flush(Host *h) {
        const uint8_t *out;
        size_t n;
        ssize_t k;

        out = channel_output(h->channel, &n);
        while (n > 0) {
                k = write(h->fd, out, n);
                if (k < 0)
                        return -errno;
                channel_output_advance(h->channel, (size_t) k);
                out = channel_output(h->channel, &n);
        }
        return 0;
}

/* Waits for an event of 'type' (and for MESSAGE, with 'id' if non-zero). */
static int host_wait(Host *h, ChannelEventType type, uint64_t id, Vfo__Envelope **ret) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + arg_timeout;
        int r;

        for (;;) {
                struct pollfd p = { .fd = h->fd, .events = POLLIN };
                usec_t now;
                ssize_t k;

                while (h->off < h->n_buf) {
                        ChannelEvent ev;
                        size_t consumed;

                        r = channel_feed(h->channel, h->buf + h->off, h->n_buf - h->off, now_usec(CLOCK_MONOTONIC),
                                         &consumed, &ev);
                        if (r < 0)
                                return r;
                        h->off += consumed;
                        if (ev.type == CHANNEL_EVENT_MESSAGE && type == CHANNEL_EVENT_MESSAGE &&
                            (id == 0 || ev.message->id == id)) {
                                *ret = ev.message;
                                return 0;
                        }
                        if (ev.type == CHANNEL_EVENT_MESSAGE) {
                                if (ev.message->body_case == VFO__ENVELOPE__BODY_PATH_CHANGED)
                                        log_info("event: PathChanged reason %d", (int) ev.message->path_changed->reason);
                                envelope_free(ev.message);
                        } else if (ev.type == type)
                                return 0;
                        else if (ev.type == CHANNEL_EVENT_LOST)
                                return -ECONNRESET;
                }
                r = host_flush(h);
                if (r < 0)
                        return r;

                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now) / USEC_PER_MSEC) + 1);
                if (r < 0)
                        return -errno;
                if (r == 0)
                        continue;
                k = read(h->fd, h->buf, sizeof(h->buf));
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ECONNRESET;
                h->n_buf = (size_t) k;
                h->off = 0;
        }
}

static int host_connect(Host *h) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ChannelConfig config = { .role = PEER_ROLE_HOST, .version = "labhost-" PACKAGE_VERSION };
        uint64_t nonce = 0;
        int r;

        if (strlen(arg_socket) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Socket path too long: %s", arg_socket);
        strcpy(sa.sun_path, arg_socket);

        h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (h->fd < 0 || connect(h->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Failed to connect to '%s': %m", arg_socket);

        r = channel_new(&config, &h->channel);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the channel: %m");

        while (nonce == 0)
                if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce))
                        return log_error_errno(errno, "getrandom: %m");

        /* The agent may still be starting: resend Sync until it answers. */
        for (unsigned i = 0; i < 30; i++) {
                usec_t saved = arg_timeout;

                r = channel_reset(h->channel, nonce + i);
                if (r < 0)
                        return r;
                arg_timeout = USEC_PER_SEC;
                r = host_wait(h, CHANNEL_EVENT_SYNCED, 0, NULL);
                arg_timeout = saved;
                if (r != -ETIMEDOUT)
                        break;
        }
        if (r < 0)
                return log_error_errno(r, "No answer from the agent on '%s': %m", arg_socket);
        return 0;
}

static int host_request(Host *h, Vfo__Envelope *e, Vfo__Envelope__BodyCase want, Vfo__Envelope **ret) {
        Vfo__Envelope *reply = NULL;
        int r;

        e->id = ++h->next_id;
        r = channel_send(h->channel, e);
        if (r < 0)
                return log_error_errno(r, "Failed to queue %s: %m", envelope_body_to_string(e->body_case));
        r = host_flush(h);
        if (r < 0)
                return log_error_errno(r, "Failed to write: %m");
        if (want == VFO__ENVELOPE__BODY__NOT_SET)
                return 0;               /* the caller waits for the reply itself */
        r = host_wait(h, CHANNEL_EVENT_MESSAGE, e->id, &reply);
        if (r < 0)
                return log_error_errno(r, "No reply to %s: %m", envelope_body_to_string(e->body_case));
        if (reply->body_case == VFO__ENVELOPE__BODY_ERROR) {
                log_error("%s refused: error %d: %.256s", envelope_body_to_string(e->body_case),
                          (int) reply->error->code, reply->error->message);
                envelope_free(reply);
                return -EREMOTEIO;
        }
        if (reply->body_case != want) {
                envelope_free(reply);
                return log_error_errno(EPROTO, "Unexpected reply to %s.", envelope_body_to_string(e->body_case));
        }
        *ret = reply;
        return 0;
}

static int run_cmd(const char *what, const char *cmd) {
        int r;

        if (!cmd)
                return 0;
        r = system(cmd);
        if (r != 0)
                return log_error_errno(EIO, "%s command failed (%d): %s", what, r, cmd);
        return 0;
}

/* Ping -> Pong: the agent has processed everything sent before. */
static int host_barrier(Host *h) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT, *r = NULL;
        Vfo__Ping p = VFO__PING__INIT;
        int k;

        e.body_case = VFO__ENVELOPE__BODY_PING;
        e.ping = &p;
        k = host_request(h, &e, VFO__ENVELOPE__BODY_PONG, &r);
        envelope_free(r);
        return k;
}

static int steering_moved(Host *h, const char *mac, Vfo__PathKind path, Vfo__Envelope **ret) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__SteeringMoved sm = VFO__STEERING_MOVED__INIT;

        sm.mac = (char *) mac;
        sm.path = path;
        e.body_case = VFO__ENVELOPE__BODY_STEERING_MOVED;
        e.steering_moved = &sm;
        return host_request(h, &e, VFO__ENVELOPE__BODY_PATH_CHANGED, ret);
}

static int do_detach(Host *h, const char *mac) {
        _cleanup_(envelope_freep) Vfo__Envelope *ready = NULL, *changed = NULL;
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__PrepareDetach pd = VFO__PREPARE_DETACH__INIT;
        double t_ready, t_steer, t_switched, t_unplugged;
        int r;

        pd.mac = (char *) mac;
        pd.deadline_ms = arg_deadline_ms;
        e.body_case = VFO__ENVELOPE__BODY_PREPARE_DETACH;
        e.prepare_detach = &pd;

        h->t0 = now_usec(CLOCK_MONOTONIC);
        r = host_request(h, &e, VFO__ENVELOPE__BODY_DETACH_READY, &ready);
        if (r < 0)
                return r;
        t_ready = ms_since(h);

        r = run_cmd("steer", arg_steer);
        if (r < 0)
                return r;
        t_steer = ms_since(h);

        r = steering_moved(h, mac, VFO__PATH_KIND__PATH_KIND_SYNTHETIC, &changed);
        if (r < 0)
                return r;
        t_switched = ms_since(h);

        r = run_cmd("unplug", arg_device);
        if (r < 0)
                return r;
        t_unplugged = ms_since(h);

        printf("{\"op\":\"detach\",\"mac\":\"%s\",\"ready_ms\":%.1f,\"steered_ms\":%.1f,\"switched_ms\":%.1f,"
               "\"unplugged_ms\":%.1f,\"guest_prepare_us\":%" PRIu64 ",\"guest_switch_us\":%" PRIu64
               ",\"announcements\":%u}\n",
               mac, t_ready, t_steer, t_switched, t_unplugged, ready->detach_ready->prepare_usec,
               changed->path_changed->switched_usec - changed->path_changed->request_usec,
               changed->path_changed->announcements);
        return 0;
}

static int do_attach(Host *h, const char *mac) {
        _cleanup_(envelope_freep) Vfo__Envelope *ready = NULL, *changed = NULL;
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__PrepareAttach pa = VFO__PREPARE_ATTACH__INIT;
        double t_plugged, t_ready, t_steer, t_switched;
        uint64_t id;
        int r;

        pa.mac = (char *) mac;
        pa.deadline_ms = arg_deadline_ms;
        e.body_case = VFO__ENVELOPE__BODY_PREPARE_ATTACH;
        e.prepare_attach = &pa;

        h->t0 = now_usec(CLOCK_MONOTONIC);
        r = host_request(h, &e, VFO__ENVELOPE__BODY__NOT_SET, NULL);
        if (r < 0)
                return r;
        id = e.id;
        /* The helper must be on before the VF appears. */
        r = host_barrier(h);
        if (r < 0)
                return r;

        r = run_cmd("plug", arg_device);
        if (r < 0)
                return r;
        t_plugged = ms_since(h);

        r = host_wait(h, CHANNEL_EVENT_MESSAGE, id, &ready);
        if (r < 0)
                return log_error_errno(r, "No AttachReady: %m");
        if (ready->body_case != VFO__ENVELOPE__BODY_ATTACH_READY) {
                log_error("PrepareAttach failed: %s %.256s", envelope_body_to_string(ready->body_case),
                          ready->body_case == VFO__ENVELOPE__BODY_ERROR ? ready->error->message : "");
                return -EREMOTEIO;
        }
        t_ready = ms_since(h);

        r = run_cmd("steer", arg_steer);
        if (r < 0)
                return r;
        t_steer = ms_since(h);

        r = steering_moved(h, mac, VFO__PATH_KIND__PATH_KIND_VF, &changed);
        if (r < 0)
                return r;
        t_switched = ms_since(h);

        printf("{\"op\":\"attach\",\"mac\":\"%s\",\"plugged_ms\":%.1f,\"ready_ms\":%.1f,\"steered_ms\":%.1f,"
               "\"switched_ms\":%.1f,\"vf\":\"%s\",\"guest_wait_us\":%" PRIu64 ",\"guest_switch_us\":%" PRIu64
               ",\"announcements\":%u}\n",
               mac, t_plugged, t_ready, t_steer, t_switched, ready->attach_ready->vf_ifname,
               ready->attach_ready->wait_usec,
               changed->path_changed->switched_usec - changed->path_changed->request_usec,
               changed->path_changed->announcements);
        return 0;
}

static int do_inventory(Host *h) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT, *r = NULL;
        Vfo__InventoryRequest ir = VFO__INVENTORY_REQUEST__INIT;
        int k;

        e.body_case = VFO__ENVELOPE__BODY_INVENTORY_REQUEST;
        e.inventory_request = &ir;
        k = host_request(h, &e, VFO__ENVELOPE__BODY_INVENTORY_REPLY, &r);
        if (k < 0)
                return k;
        printf("{\"agent\":\"%s\",\"ports\":[", channel_get_peer_version(h->channel));
        for (size_t i = 0; i < r->inventory_reply->n_ports; i++) {
                const Vfo__Port *p = r->inventory_reply->ports[i];

                printf("%s{\"mac\":\"%s\",\"datapath\":%d,\"master\":\"%s\",\"synthetic\":\"%s\",\"vf\":\"%s\","
                       "\"active_path\":%d,\"vf_link\":%d}",
                       i ? "," : "", p->mac, (int) p->datapath, p->master_ifname, p->synthetic_ifname,
                       p->vf_ifname, (int) p->active_path, (int) p->vf_link);
        }
        printf("]}\n");
        envelope_free(r);
        return 0;
}

/* Keeps the session open for --timeout seconds, sending nothing: what the
 * agent costs while idle with a host connected. A new session in between
 * (the agent restarted) is an error. */
static int do_hold(Host *h) {
        int r = host_wait(h, CHANNEL_EVENT_SYNCED, 0, NULL);

        if (r == -ETIMEDOUT)
                return 0;
        if (r == 0)
                return log_error_errno(ECONNRESET, "The agent started a new session while held.");
        return log_error_errno(r, "The session ended while held: %m");
}

static void help(void) {
        printf("%s --socket PATH [OPTIONS] inventory | detach MAC | attach MAC | hold\n\n"
               "Host side of the vfo protocol for lab scenarios.\n\n"
               "  --socket PATH      the domain's org.vfo.agent.0 channel socket\n"
               "  --steer CMD        shell command that moves steering (run after DetachReady /\n"
               "                     AttachReady, before SteeringMoved)\n"
               "  --device CMD       detach: unplug command (after PathChanged);\n"
               "                     attach: plug command (after PrepareAttach is processed)\n"
               "  --deadline-ms N    deadline sent with Prepare* (default 20000)\n"
               "  --timeout SEC      wait for each reply at most SEC (default 30);\n"
               "                     hold: keep the session open this long, sending nothing\n",
               program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "socket", required_argument, NULL, 's' },
                { "steer", required_argument, NULL, 'S' },
                { "device", required_argument, NULL, 'd' },
                { "deadline-ms", required_argument, NULL, 'D' },
                { "timeout", required_argument, NULL, 't' },
                {}
        };
        Host h = { .fd = -1 };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 's':
                        arg_socket = optarg;
                        break;
                case 'S':
                        arg_steer = optarg;
                        break;
                case 'd':
                        arg_device = optarg;
                        break;
                case 'D':
                        arg_deadline_ms = (uint32_t) strtoul(optarg, NULL, 10);
                        break;
                case 't':
                        arg_timeout = strtoull(optarg, NULL, 10) * USEC_PER_SEC;
                        break;
                default:
                        return EXIT_FAILURE;
                }

        if (!arg_socket || optind >= argc) {
                help();
                return EXIT_FAILURE;
        }

        r = host_connect(&h);
        if (r >= 0) {
                if (strcmp(argv[optind], "inventory") == 0)
                        r = do_inventory(&h);
                else if (strcmp(argv[optind], "detach") == 0 && optind + 1 < argc)
                        r = do_detach(&h, argv[optind + 1]);
                else if (strcmp(argv[optind], "attach") == 0 && optind + 1 < argc)
                        r = do_attach(&h, argv[optind + 1]);
                else if (strcmp(argv[optind], "hold") == 0)
                        r = do_hold(&h);
                else
                        r = log_error_errno(EINVAL, "Unknown command '%s' (see --help).", argv[optind]);
        }

        channel_free(h.channel);
        if (h.fd >= 0)
                close(h.fd);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
