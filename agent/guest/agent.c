/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's event loop side: open the port, move bytes between it and the
 * Channel, answer requests. The port is retried from a timer while the host
 * side is closed (virtio-serial keeps reporting HUP then). */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/guest/agent.h"
#include "agent/guest/config.h"
#include "agent/guest/inventory.h"
#include "agent/guest/links.h"
#include "agent/guest/report.h"
#include "agent/guest/switch.h"
#include "drivers/announce.h"
#include "drivers/rtnl.h"
#include "drivers/sysctl.h"
#include "drivers/udev.h"
#include "lib/channel.h"
#include "lib/log.h"
#include "lib/loop-watch.h"
#include "lib/parse-util.h"
#include "lib/validate.h"

/* One port the agent tracks: its switching state and its announcements. */
typedef struct AgentPort {
        PortSwitch *sw;
        uint8_t mac[6];
        int announce_ifindex;           /* master, or netvsc itself */
        unsigned announce_left;         /* rounds still to send */
        usec_t announce_next;
        bool seen;                      /* found by the latest rescan */
        SwitchTally tally;              /* counters of the running transition */
} AgentPort;

struct Agent {
        sd_event *event;
        LoopWatch loop_watch;           /* says when a handler held the loop (AGENT_LOOP_SLOW_USEC) */
        char *device;
        int fd;
        sd_event_source *io;
        sd_event_source *reopen;
        Channel *channel;
        Udev *udev;
        sd_event_source *udev_io;
        int rtnl_fd;
        sd_event_source *rtnl_io;
        sd_event_source *timer;         /* the earliest port deadline or announcement */
        bool connected_once;

        AgentPort ports[VALIDATE_PORTS_MAX];
        size_t n_ports;
        unsigned announce_count;
        usec_t announce_interval;
        usec_t drain;
        AgentConfig config;             /* for the ignored ports and bonds; device not kept */
        AgentLinks links;               /* what was done to the links (links.c) */
};

static const Vfo__Capability agent_capabilities[] = {
        VFO__CAPABILITY__CAPABILITY_NET_FAILOVER,
        VFO__CAPABILITY__CAPABILITY_BONDING,
        VFO__CAPABILITY__CAPABILITY_NETVSC,
        VFO__CAPABILITY__CAPABILITY_STANDBY_RX_HELPER,
        VFO__CAPABILITY__CAPABILITY_ANNOUNCE_IPV4,
        VFO__CAPABILITY__CAPABILITY_ANNOUNCE_IPV6,
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

        if (a->fd < 0)
                return 0;       /* not connected: the queue goes with the next reset */

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

static usec_t agent_now(Agent *a) {
        usec_t now;

        if (sd_event_now(a->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        return now;
}

static AgentPort *agent_port_by_switch(Agent *a, PortSwitch *sw) {
        for (size_t i = 0; i < a->n_ports; i++)
                if (a->ports[i].sw == sw)
                        return &a->ports[i];
        return NULL;
}

static AgentPort *agent_port_by_mac(Agent *a, const char *mac) {
        for (size_t i = 0; i < a->n_ports; i++)
                if (strcasecmp(a->ports[i].sw->mac, mac) == 0)
                        return &a->ports[i];
        return NULL;
}

/* One timer for every port: the earliest transition deadline, end of a
 * lingering deduplication (datapath_linger_until()) or
 * announcement round. */
static void agent_arm_timer(Agent *a) {
        usec_t next = USEC_INFINITY;
        int r;

        for (size_t i = 0; i < a->n_ports; i++) {
                next = MIN(next, port_switch_next_timeout(a->ports[i].sw));
                if (port_switch_polls(a->ports[i].sw))
                        next = MIN(next, usec_add(agent_now(a), SWITCH_MARKER_POLL_USEC));
                if (a->ports[i].announce_left > 0)
                        next = MIN(next, a->ports[i].announce_next);
        }

        if (next == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
                return;
        }
        r = sd_event_source_set_time(a->timer, next);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the port timer, deadlines will not fire: %m");
}

static int agent_announce_round(AgentPort *p) {
        struct in_addr v4[ANNOUNCE_ADDRS_MAX];
        struct in6_addr v6[ANNOUNCE_ADDRS_MAX];
        AnnounceAddrs addrs = { .v4 = v4, .v6 = v6 };
        int r;

        r = rtnl_get_addresses(p->announce_ifindex, v4, ELEMENTSOF(v4), &addrs.n_v4, v6, ELEMENTSOF(v6),
                               &addrs.n_v6);
        if (r < 0)
                return r;
        return announce_send(p->announce_ifindex, p->mac, &addrs);
}

static void agent_switch_send(void *userdata, PortSwitch *sw, Vfo__Envelope *e) {
        Agent *a = userdata;
        int r;

        if (channel_get_state(a->channel) != CHANNEL_STATE_READY) {
                log_debug("Port %s: no host session, not sending %s.", sw->mac,
                          envelope_body_to_string(e->body_case));
                return;
        }
        r = e->body_case == VFO__ENVELOPE__BODY_ERROR
                    ? channel_send_error(a->channel, e->id, e->error->code, e->error->message)
                    : channel_send(a->channel, e);
        if (r < 0) {
                log_warning_errno(r, "Port %s: failed to queue %s, ignoring: %m", sw->mac,
                                  envelope_body_to_string(e->body_case));
                return;
        }

        /* Events from the kernel and timers are not followed by a read on
         * the channel, so write now. */
        r = agent_flush(a);
        if (r < 0)
                agent_disconnect(a, r);
}

static int agent_switch_announce(void *userdata, PortSwitch *sw) {
        Agent *a = userdata;
        AgentPort *p = agent_port_by_switch(a, sw);
        int n;

        if (!p || a->announce_count == 0)
                return 0;

        n = agent_announce_round(p);
        p->announce_left = a->announce_count - 1;
        p->announce_next = usec_add(agent_now(a), a->announce_interval);
        return n;
}

static void agent_switch_note(void *userdata, PortSwitch *sw, int error, const char *what) {
        char field[32];
        const char *fields[] = { field, NULL };

        snprintf(field, sizeof(field), "MAC=%s", sw->mac);
        if (error < 0)
                (void) log_fields_full_errno(LOG_WARNING, error, fields, "Port %s: %s: %m", sw->mac, what);
        else
                (void) log_fields_full_errno(LOG_INFO, 0, fields, "Port %s: %s", sw->mac, what);
}

static usec_t agent_switch_clock(void *userdata) {
        return now_usec(CLOCK_MONOTONIC);
}

/* Loss accounting: counters at the start of a transition, and at its end a
 * log line and a SwitchReport (to hosts of protocol version 2 or later). */
static void agent_switch_transition(void *userdata, PortSwitch *sw, bool ended, usec_t now) {
        Agent *a = userdata;
        AgentPort *p = agent_port_by_switch(a, sw);
        _cleanup_free_ Netdev *links = NULL;
        Vfo__Envelope e = VFO__ENVELOPE__INIT;
        Vfo__SwitchReport rep;
        Vfo__PathCounters storage[3];
        StandbyHelperCounters h;
        SwitchDrops d;
        uint64_t drops;
        size_t n = 0;
        int r;

        if (!p || (ended && !p->tally.active))
                return;
        r = rtnl_dump_links(&links, &n);
        if (r < 0) {
                log_warning_errno(r, "Port %s: cannot read the counters, no report for this transition: %m", sw->mac);
                p->tally = (SwitchTally) {};
                return;
        }
        if (!ended) {
                datapath_mark_drops(sw->dp);
                switch_tally_begin(&p->tally, &sw->port, links, n, now);
                return;
        }

        datapath_get_counters(sw->dp, &h);
        datapath_take_drops(sw->dp, &d);
        switch_tally_end(&p->tally, &sw->port, links, n, &h, &d, sw->mac, sw->active_path, now, &rep, storage);
        drops = switch_report_drops(&rep);
        log_info("Port %s: transition to the %s path ended after %" PRIu64 " ms: synthetic rx %" PRIu64 " tx %" PRIu64
                 ", VF rx %" PRIu64 " tx %" PRIu64 ", handed over %" PRIu64 ", held %" PRIu64 ", drops seen %" PRIu64
                 " (synthetic rx/tx/undelivered %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", VF %" PRIu64 "/%" PRIu64 "/%" PRIu64
                 "): %s.",
                 sw->mac, port_path_to_string(sw->active_path), (rep.end_usec - rep.start_usec) / USEC_PER_MSEC,
                 rep.synthetic->rx_packets, rep.synthetic->tx_packets, rep.vf->rx_packets, rep.vf->tx_packets,
                 rep.handed_over, rep.held_tx, drops, rep.synthetic->rx_dropped, rep.synthetic->tx_dropped,
                 rep.synthetic->rx_nohandler, rep.vf->rx_dropped, rep.vf->tx_dropped, rep.vf->rx_nohandler,
                 drops == 0 ? "clean" : "lossy");

        if (channel_get_peer_protocol(a->channel) < VFO_PROTOCOL_SWITCH_REPORT)
                return;         /* an older vfod does not know the message */
        rep.request_id = sw->trigger_id;
        e.body_case = VFO__ENVELOPE__BODY_SWITCH_REPORT;
        e.switch_report = &rep;
        agent_switch_send(a, sw, &e);
}

static const SwitchCallbacks agent_switch_callbacks = {
        .send = agent_switch_send,
        .announce = agent_switch_announce,
        .note = agent_switch_note,
        .clock = agent_switch_clock,
        .transition = agent_switch_transition,
};

static void agent_port_request(Agent *a, const Vfo__Envelope *m) {
        const char *mac = m->body_case == VFO__ENVELOPE__BODY_PREPARE_DETACH   ? m->prepare_detach->mac
                          : m->body_case == VFO__ENVELOPE__BODY_PREPARE_ATTACH ? m->prepare_attach->mac
                          : m->body_case == VFO__ENVELOPE__BODY_STEERING_MOVED ? m->steering_moved->mac
                          : m->body_case == VFO__ENVELOPE__BODY_EXPECT_REPLAY  ? m->expect_replay->mac
                                                                               : m->set_path->mac;
        AgentPort *p = agent_port_by_mac(a, mac);

        if (!p) {
                (void) channel_send_error(a->channel, m->id, VFO__ERROR_CODE__ERROR_CODE_UNKNOWN_PORT,
                                          "No port with this MAC in the guest.");
                return;
        }
        log_debug("Port %s: %s (request %" PRIu64 ")", p->sw->mac, envelope_body_to_string(m->body_case), m->id);
        port_switch_request(p->sw, m, agent_now(a));
        agent_arm_timer(a);
}

static void agent_port_view(const Inventory *inv, const Port *port, DatapathPort *ret_dp, bool *ret_vf_ready) {
        const Netdev *vf = port->vf >= 0 ? &inv->links[port->vf] : NULL;

        *ret_dp = (DatapathPort) {
                .kind = port->kind,
                .master_ifindex = port->master >= 0 ? inv->links[port->master].ifindex : 0,
                .synthetic_ifindex = inv->links[port->synthetic].ifindex,
                .vf_ifindex = vf ? vf->ifindex : 0,
                .vf_up = vf && vf->admin_up,
        };
        /* Ready once the kernel's link watch has seen the carrier (operational state up): it
         * activates the VF's queue discipline in the same step, and transmit may move only then.
         * A bond also wants to have seen the link itself (miimon). */
        *ret_vf_ready = vf && vf->admin_up && vf->carrier && vf->oper_up &&
                        (port->kind != PORT_KIND_BONDING || vf->bond_link_up);
}

static void agent_rescan(Agent *a) {
        _cleanup_(inventory_done) Inventory inv = {};
        usec_t now = agent_now(a);
        size_t k = 0;
        int r;

        r = inventory_collect(a->udev, &inv);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the interfaces, keeping the last view: %m");
                return;
        }

        for (size_t i = 0; i < inv.n_links && log_get_max_level() >= LOG_DEBUG; i++)
                log_debug("Link %d '%s': kind '%s', driver '%s'%s, master %d, %s%s.", inv.links[i].ifindex,
                          inv.links[i].name, inv.links[i].kind, inv.links[i].driver, inv.links[i].pci ? " (PCI)" : "",
                          inv.links[i].master, inv.links[i].admin_up ? "up" : "down",
                          inv.links[i].carrier ? ", carrier" : "");

        links_apply_bonds(&a->links, &a->config, &inv);

        /* Once per ifindex: forget the slaves that went away. */
        a->links.n_udev_asked = netdev_ifindexes_present(inv.links, inv.n_links, a->links.udev_asked,
                                                         a->links.n_udev_asked);

        for (size_t i = 0; i < a->n_ports; i++)
                a->ports[i].seen = false;

        for (size_t i = 0; i < inv.n_ports && i < VALIDATE_PORTS_MAX; i++) {
                const Port *port = &inv.ports[i];
                const Netdev *vf = port->vf >= 0 ? &inv.links[port->vf] : NULL;
                PortPath kernel_path = port_active_path(port, inv.links);
                char mac[MAC_STRING_MAX];
                DatapathPort dp;
                bool vf_ready;
                AgentPort *p;

                mac_to_string(port->mac, mac);
                if (agent_config_port_ignored(&a->config, mac))
                        continue;       /* vfo-agent.conf: Mode=ignore */
                if (port->vf_unjoined >= 0)
                        links_join_vf(&inv, port, mac);
                agent_port_view(&inv, port, &dp, &vf_ready);
                links_hygiene(&inv, port);
                links_udev(&a->links, a->udev, &inv, port, mac);

                p = agent_port_by_mac(a, mac);
                if (!p) {
                        if (a->n_ports >= VALIDATE_PORTS_MAX)
                                continue;
                        p = &a->ports[a->n_ports];
                        *p = (AgentPort) {};
                        r = port_switch_new(mac, &dp, &agent_switch_callbacks, a, &p->sw);
                        if (r < 0) {
                                log_error_errno(r, "Port %s: failed to track it: %m", mac);
                                continue;
                        }
                        a->n_ports++;
                        p->sw->drain = a->drain;
                        memcpy(p->mac, port->mac, 6);
                        port_switch_seed(p->sw, &dp, vf ? vf->name : NULL, vf_ready, kernel_path);
                        log_info("Port %s: %s, synthetic '%s'%s%s, on the %s path.", mac,
                                 port_kind_to_string(port->kind), inv.links[port->synthetic].name,
                                 vf ? ", VF " : "", vf ? vf->name : "", port_path_to_string(kernel_path));
                } else {
                        switch_tally_update(&p->tally, &dp, inv.links, inv.n_links);
                        port_switch_update(p->sw, &dp, vf ? vf->name : NULL, vf_ready, kernel_path, now);
                }

                p->announce_ifindex = dp.master_ifindex ?: dp.synthetic_ifindex;
                p->seen = true;
        }

        /* Ports that vanished (the synthetic NIC was unplugged): forget them. */
        for (size_t i = 0; i < a->n_ports; i++) {
                if (a->ports[i].seen) {
                        a->ports[k++] = a->ports[i];
                        continue;
                }
                log_info("Port %s: gone.", a->ports[i].sw->mac);
                port_switch_free(a->ports[i].sw);
        }
        a->n_ports = k;

        agent_arm_timer(a);
}

static int agent_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        usec_t now = agent_now(a);

        for (size_t i = 0; i < a->n_ports; i++) {
                AgentPort *p = &a->ports[i];

                port_switch_poll(p->sw, now);
                port_switch_timeout(p->sw, now);
                if (p->announce_left > 0 && p->announce_next <= now) {
                        int n = agent_announce_round(p);

                        if (n < 0)
                                log_debug_errno(n, "Port %s: announcement failed: %m", p->sw->mac);
                        p->announce_left--;
                        p->announce_next = usec_add(now, a->announce_interval);
                }
        }
        agent_arm_timer(a);
        return 0;
}

static int agent_on_rtnl(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Agent *a = userdata;
        int r;

        r = rtnl_monitor_drain(fd);
        if (r < 0)
                log_warning_errno(r, "Failed to read link changes, ignoring: %m");
        if (r != 0)
                agent_rescan(a);
        return 0;
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
        case VFO__ENVELOPE__BODY_EXPECT_REPLAY:
                agent_port_request(a, m);
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
        case VFO__ENVELOPE__BODY_SWITCH_REPORT:
        case VFO__ENVELOPE__BODY_REPLAY_EXPECTED:
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
                        if (a->fd < 0)          /* a reply failed to go out: disconnected */
                                return 0;

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

        if (udev_monitor_drain(a->udev) > 0)
                agent_rescan(a);
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
        a->rtnl_fd = -EBADF;
        a->announce_count = AGENT_ANNOUNCE_COUNT_DEFAULT;
        a->announce_interval = AGENT_ANNOUNCE_INTERVAL_DEFAULT;
        a->drain = SWITCH_DRAIN_USEC;
        agent_config_init(&a->config);

        a->device = strdup(device);
        if (!a->device)
                return -ENOMEM;

        r = sd_event_default(&a->event);
        if (r < 0)
                return r;
        r = sd_event_set_signal_exit(a->event, true);
        if (r < 0)
                return r;
        r = loop_watch_start(&a->loop_watch, a->event, AGENT_LOOP_SLOW_USEC);
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
        for (size_t i = 0; i < a->n_ports; i++)
                port_switch_free(a->ports[i].sw);
        sd_event_source_disable_unref(a->timer);
        sd_event_source_disable_unref(a->rtnl_io);
        if (a->rtnl_fd >= 0)
                (void) close(a->rtnl_fd);
        sd_event_source_disable_unref(a->reopen);
        sd_event_source_disable_unref(a->udev_io);
        udev_close(a->udev);
        channel_free(a->channel);
        loop_watch_stop(&a->loop_watch);
        sd_event_unref(a->event);
        free(a->device);
        return mfree(a);
}

int agent_set_config(Agent *a, const AgentConfig *c) {
        a->announce_count = c->announce_count;
        a->announce_interval = c->announce_interval;
        a->drain = c->drain;
        a->config = *c;
        a->config.device = NULL;
        return 0;
}

int agent_start(Agent *a) {
        int r;

        r = udev_open(&a->udev);
        if (r < 0)
                return log_error_errno(r, "Failed to open udev: %m");
        r = sd_event_add_io(a->event, &a->udev_io, udev_monitor_fd(a->udev), EPOLLIN, agent_on_udev, a);
        if (r < 0)
                return log_error_errno(r, "Failed to watch udev: %m");

        a->rtnl_fd = rtnl_monitor_open();
        if (a->rtnl_fd < 0)
                return log_error_errno(a->rtnl_fd, "Failed to watch link changes: %m");
        r = sd_event_add_io(a->event, &a->rtnl_io, a->rtnl_fd, EPOLLIN, agent_on_rtnl, a);
        if (r < 0)
                return log_error_errno(r, "Failed to watch link changes: %m");

        /* Drain periods and announcement rounds are tens of ms: sd-event's
         * default accuracy (250 ms) would stretch them. */
        r = sd_event_add_time(a->event, &a->timer, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC, agent_on_timer, a);
        if (r < 0)
                return log_error_errno(r, "Failed to add the port timer: %m");
        (void) sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);

        r = sd_event_add_time_relative(a->event, &a->reopen, CLOCK_MONOTONIC, AGENT_REOPEN_USEC, 0,
                                       agent_on_reopen, a);
        if (r < 0)
                return log_error_errno(r, "Failed to add the reopen timer: %m");
        (void) sd_event_source_set_enabled(a->reopen, SD_EVENT_OFF);

        agent_rescan(a);

        (void) agent_open(a);
        return 0;
}
