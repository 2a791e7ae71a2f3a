/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's event loop side: open the port, move bytes between it and the
 * Channel, answer requests. The port is retried from a timer while the host
 * side is closed (virtio-serial keeps reporting HUP then). */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/guest/agent.h"
#include "agent/guest/inventory.h"
#include "drivers/udev.h"
#include "lib/channel.h"
#include "lib/log.h"

struct Agent {
        sd_event *event;
        char *device;
        int fd;
        sd_event_source *io;
        sd_event_source *reopen;
        Channel *channel;
        Udev *udev;
        sd_event_source *udev_io;
        bool connected_once;
};

static const Vfo__Capability agent_capabilities[] = {
        VFO__CAPABILITY__CAPABILITY_NET_FAILOVER,
        VFO__CAPABILITY__CAPABILITY_BONDING,
        VFO__CAPABILITY__CAPABILITY_NETVSC,
};

static int agent_open(Agent *a);

sd_event *agent_get_event(Agent *a) {
        return a->event;
}

static void agent_close(Agent *a) {
        a->io = sd_event_source_disable_unref(a->io);
        if (a->fd >= 0)
                (void) close(TAKE_FD(a->fd));
}

static int agent_on_reopen(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;

        (void) agent_open(a);
        return 0;
}

/* Not there yet, or the host side went away: try again later, from a timer. */
static void agent_disconnect(Agent *a, int error) {
        int r;

        if (a->fd >= 0)
                log_debug_errno(error, "Channel '%s' closed: %m", a->device);
        agent_close(a);

        r = sd_event_source_set_time_relative(a->reopen, AGENT_REOPEN_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->reopen, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the reopen timer, the channel stays closed: %m");
}

static int agent_flush(Agent *a) {
        const uint8_t *out;
        size_t n;
        ssize_t k;

        out = channel_output(a->channel, &n);
        while (n > 0) {
                k = write(a->fd, out, n);
                if (k < 0) {
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                channel_output_advance(a->channel, (size_t) k);
                out = channel_output(a->channel, &n);
        }

        return sd_event_source_set_io_events(a->io, EPOLLIN | (n > 0 ? EPOLLOUT : 0));
}

static int agent_send(Agent *a, uint64_t id, Vfo__Envelope *e) {
        int r;

        e->id = id;
        r = channel_send(a->channel, e);
        if (r < 0)
                return log_warning_errno(r, "Failed to queue %s, ignoring: %m", envelope_body_to_string(e->body_case));
        return 0;
}

static void agent_reply_inventory(Agent *a, uint64_t id) {
        _cleanup_(inventory_done) Inventory inv = {};
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        int r;

        r = inventory_collect(a->udev, &inv);
        if (r >= 0)
                r = inventory_to_reply(&inv);
        if (r < 0) {
                log_warning_errno(r, "Failed to collect the inventory: %m");
                (void) channel_send_error(a->channel, id, VFO__ERROR_CODE__ERROR_CODE_INTERNAL,
                                          "Failed to read the guest's interfaces.");
                return;
        }

        if (inv.reply.n_ports > VALIDATE_PORTS_MAX)
                inv.reply.n_ports = VALIDATE_PORTS_MAX;
        e.body_case = VFO__ENVELOPE__BODY_INVENTORY_REPLY;
        e.inventory_reply = &inv.reply;
        (void) agent_send(a, id, &e);
}

static void agent_handle_message(Agent *a, const Vfo__Envelope *m) {
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__Pong pong = VFO__PONG__INIT;

        switch (m->body_case) {
        case VFO__ENVELOPE__BODY_PING:
                pong.timestamp_usec = m->ping->timestamp_usec;
                e.body_case = VFO__ENVELOPE__BODY_PONG;
                e.pong = &pong;
                (void) agent_send(a, m->id, &e);
                return;

        case VFO__ENVELOPE__BODY_INVENTORY_REQUEST:
                agent_reply_inventory(a, m->id);
                return;

        case VFO__ENVELOPE__BODY_PREPARE_DETACH:
        case VFO__ENVELOPE__BODY_PREPARE_ATTACH:
        case VFO__ENVELOPE__BODY_STEERING_MOVED:
        case VFO__ENVELOPE__BODY_SET_PATH:
                /* Path switching lands with the datapath drivers; until then the
                 * host is told plainly, so it can fall back to its policy. */
                (void) channel_send_error(a->channel, m->id, VFO__ERROR_CODE__ERROR_CODE_UNSUPPORTED,
                                          "This agent does not switch paths yet.");
                return;

        case VFO__ENVELOPE__BODY_ERROR:
                log_notice("Host reported error %d: %.256s", (int) m->error->code, m->error->message);
                return;

        case VFO__ENVELOPE__BODY_PONG:
                return;

        case VFO__ENVELOPE__BODY_SYNC:
        case VFO__ENVELOPE__BODY_SYNC_REPLY:
        case VFO__ENVELOPE__BODY_INVENTORY_REPLY:
        case VFO__ENVELOPE__BODY_DETACH_READY:
        case VFO__ENVELOPE__BODY_ATTACH_READY:
        case VFO__ENVELOPE__BODY_PATH_CHANGED:
        case VFO__ENVELOPE__BODY__NOT_SET:
        case _VFO__ENVELOPE__BODY__CASE_IS_INT_SIZE:
                break;
        }
        /* The channel validated the direction: nothing else reaches us. */
        assert_not_reached();
}

static int agent_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Agent *a = userdata;
        uint8_t buf[16384];
        usec_t now;
        ssize_t n;
        int r;

        if (revents & EPOLLIN) {
                n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno != EAGAIN) {
                        agent_disconnect(a, -errno);
                        return 0;
                }
                if (n == 0) {
                        agent_disconnect(a, -ECONNRESET);
                        return 0;
                }

                (void) sd_event_now(a->event, CLOCK_MONOTONIC, &now);
                for (size_t off = 0; n > 0 && off < (size_t) n;) {
                        ChannelEvent ev;
                        size_t consumed;

                        r = channel_feed(a->channel, buf + off, (size_t) n - off, now, &consumed, &ev);
                        if (r < 0) {
                                log_warning_errno(r, "Host does not read its channel, reconnecting: %m");
                                agent_disconnect(a, r);
                                return 0;
                        }
                        off += consumed;

                        switch (ev.type) {
                        case CHANNEL_EVENT_MESSAGE:
                                agent_handle_message(a, ev.message);
                                envelope_free(ev.message);
                                break;
                        case CHANNEL_EVENT_SYNCED:
                                log_info("Host session started on '%s'.", a->device);
                                break;
                        case CHANNEL_EVENT_LOST:
                                log_notice("Protocol error from the host, asked it to resync.");
                                break;
                        case CHANNEL_EVENT_NONE:
                                break;
                        case _CHANNEL_EVENT_MAX:
                        case _CHANNEL_EVENT_INVALID:
                                assert_not_reached();
                        }
                }
        } else if (revents & (EPOLLHUP | EPOLLERR)) {
                agent_disconnect(a, -ECONNRESET);
                return 0;
        }

        r = agent_flush(a);
        if (r < 0)
                agent_disconnect(a, r);
        return 0;
}

static int agent_open_fd(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;

        if (!S_ISSOCK(st.st_mode)) {
                fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                return fd < 0 ? -errno : TAKE_FD(fd);
        }

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int agent_open(Agent *a) {
        int fd, r;

        fd = agent_open_fd(a->device);
        if (fd < 0) {
                /* EBUSY: another opener holds the port (one at a time). */
                if (!a->connected_once)
                        log_debug_errno(fd, "Cannot open '%s' yet, retrying: %m", a->device);
                agent_disconnect(a, fd);
                return fd;
        }
        a->fd = fd;

        r = sd_event_add_io(a->event, &a->io, fd, EPOLLIN, agent_on_io, a);
        if (r < 0) {
                agent_disconnect(a, r);
                return log_error_errno(r, "Failed to watch '%s': %m", a->device);
        }

        r = channel_reset(a->channel, 0);
        if (r < 0) {
                agent_disconnect(a, r);
                return r;
        }

        if (!a->connected_once)
                log_info("Opened '%s', waiting for the host.", a->device);
        a->connected_once = true;
        return 0;
}

static int agent_on_udev(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Agent *a = userdata;

        /* Ports are looked up afresh for every request; the monitor only
         * keeps the socket drained until path switching acts on uevents. */
        (void) udev_monitor_drain(a->udev);
        return 0;
}

int agent_new(const char *device, Agent **ret) {
        _cleanup_(agent_freep) Agent *a = NULL;
        ChannelConfig config = {
                .role = PEER_ROLE_GUEST,
                .rate_interval = USEC_PER_SEC,
                .rate_burst = 200,
                .capabilities = agent_capabilities,
                .n_capabilities = ELEMENTSOF(agent_capabilities),
        };
        int r;

        assert(device);
        assert(ret);

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->fd = -EBADF;

        a->device = strdup(device);
        if (!a->device)
                return -ENOMEM;

        r = sd_event_default(&a->event);
        if (r < 0)
                return r;
        r = sd_event_set_signal_exit(a->event, true);
        if (r < 0)
                return r;

        r = channel_new(&config, &a->channel);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(a);
        return 0;
}

Agent *agent_free(Agent *a) {
        if (!a)
                return NULL;

        agent_close(a);
        sd_event_source_disable_unref(a->reopen);
        sd_event_source_disable_unref(a->udev_io);
        udev_close(a->udev);
        channel_free(a->channel);
        sd_event_unref(a->event);
        free(a->device);
        return mfree(a);
}

int agent_start(Agent *a) {
        int r;

        r = udev_open(&a->udev);
        if (r < 0)
                return log_error_errno(r, "Failed to open udev: %m");
        r = sd_event_add_io(a->event, &a->udev_io, udev_monitor_fd(a->udev), EPOLLIN, agent_on_udev, a);
        if (r < 0)
                return log_error_errno(r, "Failed to watch udev: %m");

        r = sd_event_add_time_relative(a->event, &a->reopen, CLOCK_MONOTONIC, AGENT_REOPEN_USEC, 0,
                                       agent_on_reopen, a);
        if (r < 0)
                return log_error_errno(r, "Failed to add the reopen timer: %m");
        (void) sd_event_source_set_enabled(a->reopen, SD_EVENT_OFF);

        (void) agent_open(a);
        return 0;
}
