/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/host/agentconn.h"
#include "lib/channel.h"
#include "lib/log.h"
#include "lib/loop-watch.h"
#include "lib/ratelimit.h"

#define SYNC_RETRY_USEC (1 * USEC_PER_SEC)
#define RECONNECT_MIN_USEC (200 * USEC_PER_MSEC)
#define RECONNECT_MAX_USEC (5 * USEC_PER_SEC)
/* A session that ends sooner than this after it began counts as a failure:
 * the next Sync waits, 100 ms doubling up to 5 s, so a guest that breaks
 * every session at once costs vfod a few wake-ups a second at most. */
#define SESSION_HEALTHY_USEC (10 * USEC_PER_SEC)
#define RESYNC_MIN_USEC (100 * USEC_PER_MSEC)
#define RESYNC_MAX_USEC (5 * USEC_PER_SEC)
/* Log lines about one connection: 10 per 10 s, then a count. */
#define LOG_INTERVAL_USEC (10 * USEC_PER_SEC)
#define LOG_BURST 10
/* Messages the agent sends on its own (id 0): 20 per 10 s; more are dropped. */
#define EVENT_INTERVAL_USEC (10 * USEC_PER_SEC)
#define EVENT_BURST 20

typedef struct Pending {
        int64_t id;
        AgentReplyFn fn;
        void *userdata;
        sd_event_source *timer;
        AgentConn *conn;
        struct Pending *next;
} Pending;

struct AgentConn {
        unsigned n_ref;         /* the owner's, and one for each callback under way */
        bool dead;              /* the owner let go (agent_conn_free): no more callbacks */
        sd_event *event;
        char *socket_path;
        char *name;
        AgentCallbacks cb;
        void *userdata;

        int fd;
        sd_event_source *io;
        sd_event_source *timer;         /* Sync retry, or reconnect */
        usec_t backoff;
        Channel *channel;
        bool synced;
        int64_t next_id;
        Pending *pending;
        bool failed_logged;
        usec_t synced_at;       /* CLOCK_MONOTONIC of the last SyncReply, 0 while not synced */
        usec_t resync_backoff;
        RateLimit log_rl;
        uint64_t log_suppressed;
        RateLimit event_rl;
};

static void conn_disconnect(AgentConn *a, bool reconnect);

static AgentConn *agent_conn_ref(AgentConn *a) {
        a->n_ref++;
        return a;
}

static void agent_conn_unref(AgentConn *a) {
        if (!a || --a->n_ref > 0)
                return;
        sd_event_source_disable_unref(a->timer);
        channel_free(a->channel);
        sd_event_unref(a->event);
        free(a->socket_path);
        free(a->name);
        free(a);
}
DEFINE_CLEANUP_FUNC(AgentConn, agent_conn_unref);

/* Every log line about what the guest does goes through here: a guest
 * cannot flood the journal. */
#define conn_log(a, level, format, ...)                                                                      \
        do {                                                                                                 \
                if (ratelimit_below(&(a)->log_rl, now_usec(CLOCK_MONOTONIC))) {                               \
                        if ((a)->log_suppressed > 0)                                                         \
                                log_full(LOG_NOTICE, "%s: %" PRIu64 " messages about the agent suppressed.", \
                                         (a)->name, (a)->log_suppressed);                                    \
                        (a)->log_suppressed = 0;                                                             \
                        log_full(level, format, ##__VA_ARGS__);                                              \
                } else                                                                                       \
                        (a)->log_suppressed++;                                                               \
        } while (0)

static void pending_free(Pending *p) {
        sd_event_source_disable_unref(p->timer);
        free(p);
}

static Pending *pending_take(AgentConn *a, int64_t id) {
        for (Pending **pp = &a->pending; *pp; pp = &(*pp)->next)
                if ((*pp)->id == id) {
                        Pending *p = *pp;
                        *pp = p->next;
                        return p;
                }
        return NULL;
}

static void fail_all_pending(AgentConn *a, int error) {
        while (a->pending) {
                Pending *p = a->pending;
                a->pending = p->next;
                AgentReplyFn fn = p->fn;
                void *ud = p->userdata;
                pending_free(p);
                fn(a, error, NULL, ud);
        }
}

static int conn_flush(AgentConn *a) {
        const uint8_t *out;
        size_t n;

        out = channel_output(a->channel, &n);
        while (n > 0) {
                ssize_t k = send(a->fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
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

/* A new session with a fresh nonce: from now on the channel discards
 * everything until the SyncReply to it (a reply to an older Sync included).
 * The Sync is queued, not sent: conn_flush() sends it. */
static int conn_prepare_sync(AgentConn *a) {
        uint64_t nonce = 0;

        while (nonce == 0)
                if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
                        return -errno;
        return channel_reset(a->channel, nonce);
}

static int conn_send_sync(AgentConn *a) {
        int r = conn_prepare_sync(a);

        if (r < 0)
                return r;
        return conn_flush(a);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void arm_timer(AgentConn *a, usec_t delay) {
        usec_t when = usec_add(now_usec(CLOCK_MONOTONIC), delay);

        if (a->timer) {
                (void) sd_event_source_set_time(a->timer, when);
                (void) sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
        } else
                (void) sd_event_add_time(a->event, &a->timer, CLOCK_MONOTONIC, when, 10 * USEC_PER_MSEC, on_timer,
                                         a);
}

static void handle_message(AgentConn *a, Vfo__Envelope *e) {
        if (e->id == 0) {
                if (!ratelimit_below(&a->event_rl, now_usec(CLOCK_MONOTONIC))) {
                        conn_log(a, LOG_WARNING, "%s: the agent sends more than %u events in %u s; dropping them.",
                                 a->name, EVENT_BURST, (unsigned) (EVENT_INTERVAL_USEC / USEC_PER_SEC));
                        return;
                }
                if (a->cb.event)
                        a->cb.event(a, e, a->userdata);
                return;
        }
        Pending *p = pending_take(a, (int64_t) e->id);
        if (!p) {
                log_debug("%s: reply %" PRIu64 " to no pending request, ignored.", a->name, e->id);
                return;
        }
        AgentReplyFn fn = p->fn;
        void *ud = p->userdata;
        pending_free(p);
        fn(a, e->body_case == VFO__ENVELOPE__BODY_ERROR ? -EREMOTEIO : 0, e, ud);
}

static int conn_read(AgentConn *a) {
        uint8_t buf[16384];
        ssize_t k;

        k = recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k < 0)
                return errno == EAGAIN ? 0 : -errno;
        if (k == 0)
                return -ECONNRESET;

        loop_watch_note("agent: a message from", a->name);
        for (size_t off = 0; off < (size_t) k;) {
                ChannelEvent ev;
                size_t consumed;
                int r;

                r = channel_feed(a->channel, buf + off, (size_t) k - off, now_usec(CLOCK_MONOTONIC), &consumed, &ev);
                if (r < 0)
                        return r;
                off += consumed;
                switch (ev.type) {
                case CHANNEL_EVENT_SYNCED:
                        a->synced = true;
                        a->synced_at = now_usec(CLOCK_MONOTONIC);
                        a->backoff = 0;
                        a->failed_logged = false;
                        (void) sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
                        conn_log(a, LOG_INFO, "%s: agent %s connected.", a->name, channel_get_peer_version(a->channel));
                        if (a->cb.state)
                                a->cb.state(a, true, a->userdata);
                        break;
                case CHANNEL_EVENT_LOST: {
                        usec_t now = now_usec(CLOCK_MONOTONIC);

                        /* a session that did not last: wait longer before the next */
                        if (a->synced_at > 0 && now - a->synced_at >= SESSION_HEALTHY_USEC)
                                a->resync_backoff = 0;
                        else
                                a->resync_backoff = a->resync_backoff == 0 ? RESYNC_MIN_USEC
                                                                           : MIN(a->resync_backoff * 2, RESYNC_MAX_USEC);
                        conn_log(a, LOG_WARNING, "%s: protocol error from the agent, resynchronising in %u ms.", a->name,
                                 (unsigned) ((a->resync_backoff ?: 0) / USEC_PER_MSEC));
                        a->synced_at = 0;
                        if (a->synced) {
                                a->synced = false;
                                fail_all_pending(a, -ECONNRESET);
                                if (a->cb.state)
                                        a->cb.state(a, false, a->userdata);
                                if (a->dead || a->fd < 0)
                                        return 0;
                        }
                        if (a->resync_backoff == 0) {
                                r = conn_send_sync(a);
                                if (r < 0)
                                        return r;
                                arm_timer(a, SYNC_RETRY_USEC);
                        } else {
                                /* nothing is accepted until then (the guest does
                                 * not know the new nonce); on_timer() sends it */
                                r = conn_prepare_sync(a);
                                if (r >= 0)
                                        r = sd_event_source_set_io_events(a->io, EPOLLIN);
                                if (r < 0)
                                        return r;
                                arm_timer(a, a->resync_backoff);
                        }
                        break;
                }
                case CHANNEL_EVENT_MESSAGE:
                        handle_message(a, ev.message);
                        envelope_free(ev.message);
                        break;
                default:
                        break;
                }
                if (a->dead || a->fd < 0)       /* a callback let go of us, or reset us */
                        return 0;
        }
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_(agent_conn_unrefp) AgentConn *a = agent_conn_ref(userdata);
        int r = 0;

        if (revents & EPOLLIN)
                r = conn_read(a);
        /* In a session, also what the channel queued while reading (its
         * RATE_LIMITED answer to a guest that sends too much): nothing else
         * sends it before our next request. Not between sessions: the Sync
         * that waits for the backoff goes from on_timer(). */
        if (r >= 0 && a->fd >= 0 && ((revents & EPOLLOUT) || a->synced))
                r = conn_flush(a);
        if (r >= 0 && (revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN))
                r = -ECONNRESET;
        if (r < 0 && !a->dead) {
                if (a->synced)
                        conn_log(a, LOG_WARNING, "%s: channel closed: %s", a->name, strerror(-r));
                conn_disconnect(a, true);
        }
        return 0;
}

static int conn_connect(AgentConn *a) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (strlen(a->socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, a->socket_path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;

        r = sd_event_add_io(a->event, &a->io, fd, EPOLLIN, on_io, a);
        if (r < 0)
                return r;
        a->fd = TAKE_FD(fd);
        r = conn_send_sync(a);
        if (r < 0)
                return r;
        arm_timer(a, SYNC_RETRY_USEC);
        return 0;
}

static void conn_disconnect(AgentConn *a, bool reconnect) {
        bool was_synced = a->synced;

        a->io = sd_event_source_disable_unref(a->io);
        if (a->fd >= 0)
                close(a->fd);
        a->fd = -EBADF;
        a->synced = false;
        fail_all_pending(a, -ECONNRESET);
        if (was_synced && a->cb.state)
                a->cb.state(a, false, a->userdata);
        if (reconnect) {
                a->backoff = a->backoff == 0 ? RECONNECT_MIN_USEC : MIN(a->backoff * 2, RECONNECT_MAX_USEC);
                arm_timer(a, a->backoff);
        }
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(agent_conn_unrefp) AgentConn *a = agent_conn_ref(userdata);
        int r;

        if (a->dead)
                return 0;
        if (a->fd >= 0) {
                /* Connected, no SyncReply yet: the agent may still be starting. */
                r = conn_send_sync(a);
                if (r < 0) {
                        conn_disconnect(a, true);
                        return 0;
                }
                arm_timer(a, SYNC_RETRY_USEC);
                return 0;
        }
        r = conn_connect(a);
        if (r < 0) {
                if (!a->failed_logged)
                        log_debug_errno(r, "%s: cannot connect to %s yet: %m", a->name, a->socket_path);
                a->failed_logged = true;
                conn_disconnect(a, true);
        }
        return 0;
}

int agent_conn_new(sd_event *event, const char *socket_path, const char *name, const AgentCallbacks *cb,
                   void *userdata, AgentConn **ret) {
        ChannelConfig config = {
                .role = PEER_ROLE_HOST,
                .version = "vfod-" PACKAGE_VERSION,
                .rate_interval = USEC_PER_SEC,
                .rate_burst = 200,
        };
        _cleanup_(agent_conn_unrefp) AgentConn *a = NULL;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->n_ref = 1;
        a->fd = -EBADF;
        a->log_rl = RATELIMIT_INIT(LOG_INTERVAL_USEC, LOG_BURST);
        a->event_rl = RATELIMIT_INIT(EVENT_INTERVAL_USEC, EVENT_BURST);
        a->event = sd_event_ref(event);
        a->socket_path = strdup(socket_path);
        a->name = strdup(name);
        if (!a->socket_path || !a->name)
                return -ENOMEM;
        if (cb)
                a->cb = *cb;
        a->userdata = userdata;
        r = channel_new(&config, &a->channel);
        if (r < 0)
                return r;
        arm_timer(a, 0);
        *ret = TAKE_PTR(a);
        return 0;
}

/* The owner lets go: no callback of the connection runs any more, pending
 * requests are failed (-ECONNRESET) now, and the memory goes once no
 * handler of this connection is under way (one may be: the owner can let
 * go from inside a callback). */
AgentConn *agent_conn_free(AgentConn *a) {
        if (!a || a->dead)
                return NULL;
        a->dead = true;
        a->cb = (AgentCallbacks) {};
        agent_conn_ref(a);
        conn_disconnect(a, false);
        a->timer = sd_event_source_disable_unref(a->timer);
        agent_conn_unref(a);    /* the ref just taken */
        agent_conn_unref(a);    /* the owner's */
        return NULL;
}

bool agent_conn_is_synced(const AgentConn *a) {
        return a && a->synced;
}

const char *agent_conn_get_version(const AgentConn *a) {
        return a && a->synced ? channel_get_peer_version(a->channel) : "";
}

uint32_t agent_conn_get_protocol(const AgentConn *a) {
        return a && a->synced ? channel_get_peer_protocol(a->channel) : 0;
}

const char *agent_conn_get_path(const AgentConn *a) {
        return a->socket_path;
}

static int on_request_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Pending *p = userdata;
        _cleanup_(agent_conn_unrefp) AgentConn *a = agent_conn_ref(p->conn);

        p = pending_take(a, p->id);
        if (!p)
                return 0;
        AgentReplyFn fn = p->fn;
        void *ud = p->userdata;
        pending_free(p);
        fn(a, -ETIMEDOUT, NULL, ud);
        return 0;
}

int64_t agent_conn_request(AgentConn *a, Vfo__Envelope *e, usec_t timeout, AgentReplyFn fn, void *userdata) {
        Pending *p;
        int r;

        if (!a || a->dead || !a->synced)
                return -ENOTCONN;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->id = ++a->next_id;
        p->fn = fn;
        p->userdata = userdata;
        p->conn = a;
        e->id = (uint64_t) p->id;

        r = channel_send(a->channel, e);
        if (r < 0) {
                free(p);
                return r;
        }
        r = sd_event_add_time_relative(a->event, &p->timer, CLOCK_MONOTONIC, timeout, USEC_PER_MSEC,
                                       on_request_timeout, p);
        if (r < 0) {
                free(p);
                return r;
        }
        p->next = a->pending;
        a->pending = p;

        r = conn_flush(a);
        if (r < 0) {
                log_warning_errno(r, "%s: write failed: %m", a->name);
                /* the io handler sees the error and fails the request */
        }
        return p->id;
}

void agent_conn_cancel(AgentConn *a, int64_t id) {
        Pending *p;

        if (!a || id <= 0)
                return;
        p = pending_take(a, id);
        if (p)
                pending_free(p);
}
