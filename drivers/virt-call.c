/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt_call(): libvirt calls that may wait on a QEMU monitor run in worker
 * processes, so that the daemon's loop never waits on one.
 *
 * A worker is vfod itself (/proc/self/exe --virt-worker URI) with its own
 * libvirt connection and a SOCK_SEQPACKET socket to the daemon on fd 3: one
 * request in, one reply out, in turn. The daemon keeps up to
 * VIRT_WORKERS_MAX of them; a domain has at most one call running (libvirt
 * serialises a domain's jobs anyway), so calls on other domains go on while
 * one domain's QEMU does not answer. A call whose deadline passes fails with
 * -ETIMEDOUT and its worker is killed (its connection may be stuck in the
 * RPC); the next call starts a fresh one. Idle workers beyond the first go
 * after WORKER_IDLE_USEC.
 *
 * In-process drivers (libvirt's test driver, the fake of the tests) have no
 * QEMU to wait on, and a second connection would not share their state:
 * their calls run on the loop, one per iteration, from a defer source,
 * through the executor the driver gives; one that answers -EINPROGRESS
 * (the fake's "QEMU does not answer") keeps its domain busy until the
 * call's deadline. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/virt-call.h"
#include "lib/log.h"
#include "lib/loop-watch.h"
#include "lib/macro.h"
#include "lib/spawn.h"
#include "lib/string-util.h"

#define WORKER_FD 3
#define WORKER_IDLE_USEC (30 * USEC_PER_SEC)
#define WIRE_ARG_MAX (64 * 1024)

/* Both ends are this program: the layout is the struct's. */
typedef struct WireRequest {
        int32_t op;
        uint8_t up, present, required;
        uint32_t priority;
        uint64_t ms;
        char uuid[37];
        char pool[64];
        char arg[];             /* NUL-terminated */
} WireRequest;

/* The request a WireRequest holds; it points into 'w'. */
static void wire_to_request(const WireRequest *w, VirtRequest *ret) {
        *ret = (VirtRequest) {
                .op = w->op,
                .uuid = w->uuid,
                .arg = w->arg,
                .up = w->up,
                .ms = w->ms,
                .policy = { .present = w->present, .priority = w->priority, .required = w->required },
        };
        snprintf(ret->policy.pool, sizeof(ret->policy.pool), "%s", w->pool);
}

/* The answer; a VIRT_OP_GET_DOMAIN's is followed by the domain's XML
 * ('xml_len' bytes, no NUL), in the same message. */
typedef struct WireReply {
        int32_t r;
        VirtJobStats stats;
        int32_t state, id;
        uint8_t persistent;
        uint32_t xml_len;
} WireReply;

/* A domain's XML in one answer: within what one datagram of the socket can
 * carry (SO_SNDBUF of a unix socket, about 208 KiB by default). */
#define WIRE_XML_MAX (160 * 1024)

typedef struct VirtWorker VirtWorker;

struct VirtCall {
        VirtCall *next;         /* in the queue */
        VirtCalls *calls;
        Virt *virt;
        WireRequest *wire;
        size_t wire_size;
        VirtCallFn fn;
        VirtDomainFn domain_fn; /* instead of 'fn': a VIRT_OP_GET_DOMAIN of virt_calls_submit_read() */
        void *userdata;
        bool owned;             /* in the caller's hands (virt_call() 'ret') */
        bool cancelled;
        bool completing;        /* in its callback: freed after it */
        bool parked;            /* in process, without an answer: on 'parked' */
        sd_event_source *deadline;
        VirtWorker *worker;     /* running on it */
};

struct VirtWorker {
        VirtCalls *calls;
        pid_t pid;
        int fd;
        sd_event_source *io;
        sd_event_source *child;
        sd_event_source *idle;
        VirtCall *call;         /* running */
        bool dying;             /* killed or let go: waits to be reaped */
        VirtWorker *next;
};

struct VirtCalls {
        sd_event *event;
        char *uri;
        sd_event_source *in_process;    /* runs the calls here, instead of workers */
        VirtExecuteFn execute;          /* ... with this */
        VirtCall *parked;               /* ... and keeps those it did not answer */
        VirtWorker *workers;    /* live and dying */
        VirtCall *head, *tail;  /* waiting */
        uint8_t *reply_buf;     /* a worker's answer: sizeof(WireReply) + WIRE_XML_MAX */
};

static void dispatch(VirtCalls *c);

static VirtCall *call_free(VirtCall *call) {
        if (!call)
                return NULL;
        sd_event_source_disable_unref(call->deadline);
        free(call->wire);
        return mfree(call);
}
DEFINE_CLEANUP_FUNC(VirtCall, call_free);

static void queue_remove(VirtCalls *c, VirtCall *call) {
        VirtCall *prev = NULL;

        for (VirtCall *i = c->head; i; prev = i, i = i->next)
                if (i == call) {
                        if (prev)
                                prev->next = i->next;
                        else
                                c->head = i->next;
                        if (c->tail == i)
                                c->tail = prev;
                        i->next = NULL;
                        return;
                }
}

static size_t n_live_workers(VirtCalls *c) {
        size_t n = 0;

        for (VirtWorker *w = c->workers; w; w = w->next)
                n += !w->dying;
        return n;
}

static void worker_unlink(VirtWorker *w) {
        VirtCalls *c = w->calls;

        for (VirtWorker **i = &c->workers; *i; i = &(*i)->next)
                if (*i == w) {
                        *i = w->next;
                        return;
                }
}

static void worker_free(VirtWorker *w) {
        sd_event_source_disable_unref(w->io);
        sd_event_source_disable_unref(w->child);
        sd_event_source_disable_unref(w->idle);
        if (w->fd >= 0)
                close(w->fd);
        free(w);
}

/* Closes the socket (an idle worker then exits) or kills it (a stuck one);
 * it stays on the list until reaped. */
static void worker_let_go(VirtWorker *w, bool kill_it) {
        if (w->dying)
                return;
        w->dying = true;
        w->io = sd_event_source_disable_unref(w->io);
        w->idle = sd_event_source_disable_unref(w->idle);
        if (w->fd >= 0)
                close(w->fd);
        w->fd = -EBADF;
        if (kill_it && w->pid > 0)
                (void) kill(w->pid, SIGKILL);
}

/* A read's callback: the domain parsed from 'raw' when r >= 0. */
static void call_domain_fn(VirtCall *call, int r, const VirtDomainRaw *raw) {
        _cleanup_(virt_domain_done) VirtDomain d = {};

        if (r >= 0 && raw) {
                r = virt_domain_from_raw(raw, &d);
                if (r < 0)
                        log_warning_errno(r, "Failed to parse the XML of domain %s: %m", call->wire->uuid);
        } else if (r >= 0)
                r = -EBADMSG;
        call->domain_fn(call->virt, call->wire->uuid, r, r >= 0 ? &d : NULL, call->userdata);
}

/* Ends 'call' (no longer queued or running): its callback, then the next.
 * The call is freed after its callback: the caller forgets it there.
 * 'raw': a read's answer (NULL for the others, or without one). */
static void call_complete(VirtCall *call, int r, const VirtJobStats *stats, const VirtDomainRaw *raw) {
        VirtCalls *c = call->calls;

        call->deadline = sd_event_source_disable_unref(call->deadline);
        call->completing = true;
        if (!call->cancelled && call->domain_fn)
                call_domain_fn(call, r, raw);
        else if (!call->cancelled && call->fn)
                call->fn(call->virt, call->wire->uuid, r,
                         r >= 0 && call->wire->op == VIRT_OP_GET_JOB_STATS ? stats : NULL, call->userdata);
        call_free(call);
        dispatch(c);
}

static int on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        VirtWorker *w = userdata;
        VirtCalls *c = w->calls;
        VirtCall *call = w->call;

        w->call = NULL;
        if (!w->dying)
                log_warning("libvirt worker %d ended (%s %d).", (int) w->pid,
                            si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        w->pid = 0;
        worker_let_go(w, false);
        worker_unlink(w);
        worker_free(w);
        if (call) {
                call->worker = NULL;
                call_complete(call, -ECONNRESET, NULL, NULL);
        } else
                dispatch(c);    /* its place is free for what waits */
        return 0;
}

static int on_worker_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        VirtWorker *w = userdata;

        w->idle = sd_event_source_disable_unref(w->idle);
        if (!w->call && n_live_workers(w->calls) > 1)   /* one stays, ready */
                worker_let_go(w, false);
        return 0;
}

static int on_worker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VirtWorker *w = userdata;
        VirtCalls *c = w->calls;
        VirtCall *call = w->call;
        WireReply reply;
        VirtDomainRaw raw = {};
        ssize_t k;

        k = recv(w->fd, c->reply_buf, sizeof(WireReply) + WIRE_XML_MAX, MSG_DONTWAIT);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k >= (ssize_t) sizeof(reply))
                memcpy(&reply, c->reply_buf, sizeof(reply));
        if (k < (ssize_t) sizeof(reply) || !call || reply.xml_len > WIRE_XML_MAX ||
            (size_t) k != sizeof(reply) + reply.xml_len ||
            (reply.xml_len > 0) != (call->wire->op == VIRT_OP_GET_DOMAIN && reply.r >= 0)) {
                /* gone, or it spoke out of turn: the child handler ends the call */
                worker_let_go(w, true);
                return 0;
        }
        if (reply.xml_len > 0) {
                raw = (VirtDomainRaw) {
                        .xml = strndup((const char *) c->reply_buf + sizeof(reply), reply.xml_len),
                        .state = reply.state,
                        .persistent = reply.persistent,
                        .id = reply.id,
                };
                if (!raw.xml)
                        reply.r = -ENOMEM;
        }
        w->call = NULL;
        call->worker = NULL;
        loop_watch_note("libvirt: a call returned:", virt_op_to_string(call->wire->op));
        (void) sd_event_add_time_relative(c->event, &w->idle, CLOCK_MONOTONIC, WORKER_IDLE_USEC, USEC_PER_SEC,
                                          on_worker_idle, w);
        call_complete(call, reply.r, &reply.stats, raw.xml ? &raw : NULL);
        virt_domain_raw_done(&raw);
        return 0;
}

static int worker_spawn(VirtCalls *c, VirtWorker **ret) {
        const char *argv[] = { "vfod", "--virt-worker", c->uri ?: "", NULL };
        _cleanup_free_ VirtWorker *w = NULL;
        int sv[2], r;
        pid_t pid;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = spawn_self(argv, sv[1], WORKER_FD, true);
        close(sv[1]);
        if (pid < 0) {
                close(sv[0]);
                return (int) pid;
        }
        w->calls = c;
        w->pid = pid;
        w->fd = sv[0];
        r = sd_event_add_child(c->event, &w->child, pid, WEXITED, on_worker_exit, w);
        if (r >= 0)
                r = sd_event_add_io(c->event, &w->io, w->fd, EPOLLIN, on_worker_io, w);
        if (r < 0) {
                w->child = sd_event_source_disable_unref(w->child);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);   /* killed: at once */
                close(w->fd);
                return r;
        }
        log_debug("libvirt worker %d started.", (int) pid);
        w->next = c->workers;
        c->workers = w;
        *ret = TAKE_PTR(w);
        return 0;
}

static bool domain_busy(VirtCalls *c, const char *uuid) {
        for (VirtWorker *w = c->workers; w; w = w->next)
                if (!w->dying && w->call && streq(w->call->wire->uuid, uuid))
                        return true;
        for (VirtCall *p = c->parked; p; p = p->next)
                if (streq(p->wire->uuid, uuid))
                        return true;
        return false;
}

static void parked_remove(VirtCalls *c, VirtCall *call) {
        for (VirtCall **i = &c->parked; *i; i = &(*i)->next)
                if (*i == call) {
                        *i = call->next;
                        call->next = NULL;
                        call->parked = false;
                        return;
                }
}

static VirtWorker *idle_worker(VirtCalls *c) {
        for (VirtWorker *w = c->workers; w; w = w->next)
                if (!w->dying && !w->call)
                        return w;
        return NULL;
}

static int on_in_process(sd_event_source *s, void *userdata) {
        VirtCalls *c = userdata;
        _cleanup_(virt_domain_raw_done) VirtDomainRaw raw = {};
        VirtJobStats stats = {};
        VirtCall *call;
        VirtRequest rq;
        int r;

        for (call = c->head; call && domain_busy(c, call->wire->uuid); call = call->next)
                ;
        if (!call) {
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        queue_remove(c, call);
        wire_to_request(call->wire, &rq);
        r = c->execute(call->virt, &rq, &stats, &raw);
        if (r == -EINPROGRESS) {
                call->parked = true;
                call->next = c->parked;
                c->parked = call;
                return 0;       /* on_deadline() */
        }
        call_complete(call, r, &stats, raw.xml ? &raw : NULL);
        return 0;
}

/* Starts what can start: the first waiting call of each idle domain. */
static void dispatch(VirtCalls *c) {
        if (!c)
                return;
        if (c->in_process) {
                (void) sd_event_source_set_enabled(c->in_process, c->head ? SD_EVENT_ON : SD_EVENT_OFF);
                return;
        }
        for (VirtCall *call = c->head, *next; call; call = next) {
                VirtWorker *w;
                int r;

                next = call->next;
                if (domain_busy(c, call->wire->uuid))
                        continue;
                w = idle_worker(c);
                if (!w) {
                        if (n_live_workers(c) >= VIRT_WORKERS_MAX)
                                return;
                        r = worker_spawn(c, &w);
                        if (r < 0) {
                                log_error_errno(r, "Cannot start a libvirt worker: %m");
                                queue_remove(c, call);
                                call_complete(call, r, NULL, NULL);
                                return;         /* call_complete() dispatched again */
                        }
                }
                if (send(w->fd, call->wire, call->wire_size, MSG_NOSIGNAL | MSG_DONTWAIT) !=
                    (ssize_t) call->wire_size) {
                        r = -errno;
                        log_warning_errno(r, "Cannot hand a libvirt call to worker %d: %m", (int) w->pid);
                        worker_let_go(w, true);
                        continue;               /* another worker, or a new one, next time */
                }
                w->idle = sd_event_source_disable_unref(w->idle);
                queue_remove(c, call);
                w->call = call;
                call->worker = w;
        }
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        VirtCall *call = userdata;

        log_warning("libvirt did not answer %s on domain %s in time%s.", virt_op_to_string(call->wire->op),
                    call->wire->uuid, call->worker ? "; its worker is killed" : "");
        if (call->worker) {
                call->worker->call = NULL;
                worker_let_go(call->worker, true);
                call->worker = NULL;
        } else if (call->parked)
                parked_remove(call->calls, call);
        else
                queue_remove(call->calls, call);
        call_complete(call, -ETIMEDOUT, NULL, NULL);
        return 0;
}

int virt_calls_new(sd_event *event, const char *uri, VirtExecuteFn in_process, VirtCalls **ret) {
        VirtCalls *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->execute = in_process;
        if (in_process) {
                int r = sd_event_add_defer(event, &c->in_process, on_in_process, c);

                if (r >= 0)
                        r = sd_event_source_set_enabled(c->in_process, SD_EVENT_OFF);
                if (r < 0) {
                        sd_event_source_disable_unref(c->in_process);
                        free(c);
                        return r;
                }
        }
        if (uri) {
                c->uri = strdup(uri);
                if (!c->uri) {
                        free(c);
                        return -ENOMEM;
                }
        }
        if (!in_process) {
                c->reply_buf = malloc(sizeof(WireReply) + WIRE_XML_MAX);
                if (!c->reply_buf) {
                        free(c->uri);
                        free(c);
                        return -ENOMEM;
                }
        }
        c->event = sd_event_ref(event);
        *ret = c;
        return 0;
}

/* A call nobody holds hears of its end; one that is held was cancelled
 * by its holder before (virt_call()). */
static void call_drop(VirtCall *call) {
        if (!call->owned && !call->cancelled && (call->fn || call->domain_fn)) {
                call->completing = true;
                if (call->domain_fn)
                        call->domain_fn(call->virt, call->wire->uuid, -ECANCELED, NULL, call->userdata);
                else
                        call->fn(call->virt, call->wire->uuid, -ECANCELED, NULL, call->userdata);
        }
        call_free(call);
}

static void calls_drop(VirtCall **list) {
        while (*list) {
                VirtCall *call = *list;

                *list = call->next;
                call_drop(call);
        }
}

VirtCalls *virt_calls_free(VirtCalls *c) {
        if (!c)
                return NULL;
        while (c->workers) {
                VirtWorker *w = c->workers;

                c->workers = w->next;
                if (w->pid > 0) {
                        (void) kill(w->pid, SIGKILL);
                        (void) waitpid(w->pid, NULL, 0);
                }
                if (w->call)
                        call_drop(w->call);
                worker_free(w);
        }
        calls_drop(&c->head);
        c->tail = NULL;
        calls_drop(&c->parked);
        sd_event_source_disable_unref(c->in_process);
        sd_event_unref(c->event);
        free(c->uri);
        free(c->reply_buf);
        return mfree(c);
}

int virt_calls_submit(VirtCalls *c, Virt *v, const VirtRequest *req, usec_t timeout, VirtCallFn fn,
                      void *userdata, VirtCall **ret) {
        size_t arg_len = req->arg ? strlen(req->arg) : 0;
        _cleanup_(call_freep) VirtCall *call = NULL;
        int r;

        if (req->op < 0 || req->op >= _VIRT_OP_MAX || !req->uuid || strlen(req->uuid) >= 37)
                return -EINVAL;
        if (arg_len >= WIRE_ARG_MAX)
                return -E2BIG;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        call->wire_size = sizeof(WireRequest) + arg_len + 1;
        call->wire = calloc(1, call->wire_size);
        if (!call->wire)
                return -ENOMEM;
        call->wire->op = req->op;
        call->wire->up = req->up;
        call->wire->ms = req->ms;
        call->wire->present = req->policy.present;
        call->wire->required = req->policy.required;
        call->wire->priority = req->policy.priority;
        snprintf(call->wire->uuid, sizeof(call->wire->uuid), "%s", req->uuid);
        snprintf(call->wire->pool, sizeof(call->wire->pool), "%s", req->policy.pool);
        if (arg_len > 0)
                memcpy(call->wire->arg, req->arg, arg_len);
        call->calls = c;
        call->virt = v;
        call->fn = fn;
        call->userdata = userdata;
        call->owned = ret != NULL;
        r = sd_event_add_time_relative(c->event, &call->deadline, CLOCK_MONOTONIC, timeout, USEC_PER_MSEC,
                                       on_deadline, call);
        if (r < 0)
                return r;
        if (c->tail)
                c->tail->next = call;
        else
                c->head = call;
        c->tail = call;
        if (ret)
                *ret = call;
        TAKE_PTR(call);
        dispatch(c);
        return 0;
}

int virt_calls_submit_read(VirtCalls *c, Virt *v, const char *uuid, usec_t timeout, VirtDomainFn fn, void *userdata,
                           VirtCall **ret) {
        VirtCall *call = NULL;
        int r;

        if (!fn)
                return -EINVAL;
        r = virt_calls_submit(c, v, &(VirtRequest) { .op = VIRT_OP_GET_DOMAIN, .uuid = uuid }, timeout, NULL,
                              userdata, &call);
        if (r < 0)
                return r;
        call->domain_fn = fn;
        call->owned = ret != NULL;
        if (ret)
                *ret = call;
        return 0;
}

VirtCall *virt_call_cancel(VirtCall *call) {
        if (!call || call->completing)
                return NULL;            /* from its own callback: freed after it */
        call->cancelled = true;
        if (call->worker || call->parked)
                return NULL;            /* under way: freed when it ends (answer, worker's end, deadline) */
        queue_remove(call->calls, call);
        return call_free(call);
}

/* ----------------------------------------------------------- the worker */

int virt_worker_main(int argc, char *argv[]) {
        _cleanup_free_ WireRequest *req = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        Virt *v = NULL;
        int r;

        if (argc != 3) {
                log_error("usage: vfod --virt-worker URI");
                return EXIT_FAILURE;
        }
        req = malloc(sizeof(WireRequest) + WIRE_ARG_MAX + 1);
        out = malloc(sizeof(WireReply) + WIRE_XML_MAX);
        if (!req || !out)
                return EXIT_FAILURE;
        /* a domain's XML goes in one datagram */
        (void) setsockopt(WORKER_FD, SOL_SOCKET, SO_SNDBUF, &(int) { sizeof(WireReply) + WIRE_XML_MAX + 4096 },
                          sizeof(int));
        r = virt_open_blocking(isempty(argv[2]) ? NULL : argv[2], &v);
        for (;;) {
                WireReply reply = {};
                VirtDomainRaw raw = {};
                VirtRequest rq;
                size_t n;
                ssize_t k;

                k = recv(WORKER_FD, req, sizeof(WireRequest) + WIRE_ARG_MAX, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;          /* the daemon let go */
                if ((size_t) k < sizeof(WireRequest) + 1)
                        break;
                ((char *) req)[k - 1] = 0;
                req->uuid[sizeof(req->uuid) - 1] = 0;
                req->pool[sizeof(req->pool) - 1] = 0;
                wire_to_request(req, &rq);
                if (!v)
                        r = virt_open_blocking(isempty(argv[2]) ? NULL : argv[2], &v);
                reply.r = v ? virt_execute(v, &rq, &reply.stats, &raw) : r;
                n = sizeof(reply);
                if (reply.r >= 0 && rq.op == VIRT_OP_GET_DOMAIN) {
                        size_t len = raw.xml ? strlen(raw.xml) : 0;

                        if (len == 0)
                                reply.r = -EBADMSG;
                        else if (len > WIRE_XML_MAX)
                                reply.r = -E2BIG;
                        else {
                                reply.xml_len = (uint32_t) len;
                                reply.state = raw.state;
                                reply.id = raw.id;
                                reply.persistent = raw.persistent;
                                memcpy(out + sizeof(reply), raw.xml, len);
                                n += len;
                        }
                }
                virt_domain_raw_done(&raw);
                memcpy(out, &reply, sizeof(reply));
                if (send(WORKER_FD, out, n, MSG_NOSIGNAL) != (ssize_t) n)
                        break;
        }
        virt_free(v);
        return EXIT_SUCCESS;
}
