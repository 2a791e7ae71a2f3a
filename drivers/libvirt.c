/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt through its C API, with sd-event as libvirt's event loop; see libvirt.h. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "drivers/libvirt.h"
#include "drivers/virt-call.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/string-table.h"

#define VIRT_BACKOFF_MIN_USEC (500 * USEC_PER_MSEC)
#define VIRT_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

static const char *const virt_domain_state_table[_VIRT_DOMAIN_STATE_MAX] = {
        [VIRT_DOMAIN_SHUTOFF] = "shutoff",
        [VIRT_DOMAIN_RUNNING] = "running",
        [VIRT_DOMAIN_PAUSED] = "paused",
        [VIRT_DOMAIN_OTHER] = "other",
};

DEFINE_STRING_TABLE_TO_STRING(virt_domain_state, VirtDomainState, _VIRT_DOMAIN_STATE_MAX);

/*****************************************************************************
 * libvirt's event loop on sd-event
 *
 * Every handle and timeout libvirt adds is one sd-event source, kept in a
 * table by its id. A handle polls a dup() of libvirt's fd: libvirt may
 * register one fd more than once (epoll would refuse), and a closed-and-reused
 * fd number can then never confuse two registrations. The 'ff' callbacks of
 * removed handles and timeouts run later from a clean stack: from a defer
 * source, or at the end of virt_free() when that is not called from inside a
 * libvirt callback. */

typedef struct VirtWatch {
        int id;
        bool is_timeout;
        sd_event_source *source;
        int fd;                         /* libvirt's fd (handles) */
        int frequency;                  /* ms; -1 disabled, 0 every iteration (timeouts) */
        virEventHandleCallback handle_cb;
        virEventTimeoutCallback timeout_cb;
        void *opaque;
        virFreeCallback ff;
} VirtWatch;

typedef struct VirtPendingFree {
        struct VirtPendingFree *next;
        virFreeCallback ff;
        void *opaque;
} VirtPendingFree;

static sd_event *virt_event;
static sd_event_source *virt_free_source;
static VirtWatch **virt_watches;
static size_t virt_n_watches, virt_n_watches_allocated;
static int virt_watch_next_id = 1;
static VirtPendingFree *virt_pending_first, *virt_pending_last;
/* >0 while one of libvirt's handle or timeout callbacks runs on our stack */
static unsigned virt_dispatch_depth;

static uint32_t virt_events_to_epoll(int events) {
        uint32_t e = 0;

        if (events & VIR_EVENT_HANDLE_READABLE)
                e |= EPOLLIN;
        if (events & VIR_EVENT_HANDLE_WRITABLE)
                e |= EPOLLOUT;
        if (events & VIR_EVENT_HANDLE_ERROR)
                e |= EPOLLERR;
        if (events & VIR_EVENT_HANDLE_HANGUP)
                e |= EPOLLHUP;
        return e;
}

static int virt_events_from_epoll(uint32_t e) {
        int events = 0;

        if (e & (EPOLLIN | EPOLLPRI))
                events |= VIR_EVENT_HANDLE_READABLE;
        if (e & EPOLLOUT)
                events |= VIR_EVENT_HANDLE_WRITABLE;
        if (e & EPOLLERR)
                events |= VIR_EVENT_HANDLE_ERROR;
        if (e & (EPOLLHUP | EPOLLRDHUP))
                events |= VIR_EVENT_HANDLE_HANGUP;
        return events;
}

static void virt_flush_pending_frees(void) {
        VirtPendingFree *p;

        /* An 'ff' may remove more watches: those are appended and run here too. */
        while ((p = virt_pending_first)) {
                virt_pending_first = p->next;
                if (!virt_pending_first)
                        virt_pending_last = NULL;
                p->ff(p->opaque);
                free(p);
        }
}

static int virt_free_handler(sd_event_source *s, void *userdata) {
        virt_flush_pending_frees();
        return 0;
}

static void virt_defer_free(virFreeCallback ff, void *opaque) {
        VirtPendingFree *p;
        int r;

        if (!ff)
                return;

        p = malloc(sizeof(*p));
        if (!p) {
                /* Calling 'ff' from inside libvirt could deadlock it: leak instead. */
                log_oom();
                return;
        }
        *p = (VirtPendingFree) { .ff = ff, .opaque = opaque };
        if (virt_pending_last)
                virt_pending_last->next = p;
        else
                virt_pending_first = p;
        virt_pending_last = p;

        /* After the loop finished (-ESTALE), virt_free() runs them. */
        r = sd_event_source_set_enabled(virt_free_source, SD_EVENT_ONESHOT);
        if (r < 0 && r != -ESTALE)
                log_warning_errno(r, "Failed to schedule libvirt's free callbacks: %m");
}

static VirtWatch *virt_watch_free(VirtWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        return mfree(w);
}
DEFINE_CLEANUP_FUNC(VirtWatch, virt_watch_free);

static int virt_watch_add(VirtWatch *w) {
        if (virt_n_watches == virt_n_watches_allocated) {
                size_t k = virt_n_watches_allocated ? virt_n_watches_allocated * 2 : 16;
                VirtWatch **a = reallocarray(virt_watches, k, sizeof(VirtWatch *));

                if (!a)
                        return -ENOMEM;
                virt_watches = a;
                virt_n_watches_allocated = k;
        }

        w->id = virt_watch_next_id;
        virt_watch_next_id = virt_watch_next_id == INT_MAX ? 1 : virt_watch_next_id + 1;
        virt_watches[virt_n_watches++] = w;
        return w->id;
}

static ssize_t virt_watch_find(int id, bool is_timeout) {
        for (size_t i = 0; i < virt_n_watches; i++)
                if (virt_watches[i]->id == id && virt_watches[i]->is_timeout == is_timeout)
                        return (ssize_t) i;
        return -1;
}

/* Takes the watch out of the table, stops its source, defers its 'ff'. */
static int virt_watch_remove(int id, bool is_timeout) {
        ssize_t i = virt_watch_find(id, is_timeout);
        VirtWatch *w;

        if (i < 0)
                return -1;

        w = virt_watches[i];
        memmove(virt_watches + i, virt_watches + i + 1,
                (virt_n_watches - (size_t) i - 1) * sizeof(VirtWatch *));
        virt_n_watches--;

        virt_defer_free(w->ff, w->opaque);
        virt_watch_free(w);
        return 0;
}

static int virt_io_handler(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VirtWatch *w = userdata;

        /* 'w' may be gone once the callback returns. */
        virt_dispatch_depth++;
        w->handle_cb(w->id, w->fd, virt_events_from_epoll(revents), w->opaque);
        virt_dispatch_depth--;
        return 0;
}

static int virt_handle_set_events(VirtWatch *w, int events) {
        int r;

        if (events == 0)
                /* epoll reports errors and hangups even for an empty mask. */
                return sd_event_source_set_enabled(w->source, SD_EVENT_OFF);

        r = sd_event_source_set_io_events(w->source, virt_events_to_epoll(events));
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(w->source, SD_EVENT_ON);
}

static int virt_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        _cleanup_(virt_watch_freep) VirtWatch *w = NULL;
        _cleanup_close_ int copy = -EBADF;
        int r;

        if (!virt_event || fd < 0 || !cb)
                return -1;

        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0) {
                log_debug_errno(errno, "Failed to duplicate libvirt's fd %d: %m", fd);
                return -1;
        }

        w = calloc(1, sizeof(*w));
        if (!w)
                return -1;
        *w = (VirtWatch) { .fd = fd, .handle_cb = cb, .opaque = opaque, .ff = ff };

        r = sd_event_add_io(virt_event, &w->source, copy, virt_events_to_epoll(events), virt_io_handler, w);
        if (r < 0) {
                log_debug_errno(r, "Failed to watch libvirt's fd %d: %m", fd);
                return -1;
        }
        r = sd_event_source_set_io_fd_own(w->source, true);
        if (r < 0)
                return -1;
        TAKE_FD(copy);
        (void) sd_event_source_set_description(w->source, "libvirt-handle");

        if (events == 0 && sd_event_source_set_enabled(w->source, SD_EVENT_OFF) < 0)
                return -1;

        r = virt_watch_add(w);
        if (r < 0)
                return -1;
        TAKE_PTR(w);
        return r;
}

static void virt_update_handle(int watch, int events) {
        ssize_t i = virt_watch_find(watch, false);
        int r;

        if (i < 0)
                return;
        r = virt_handle_set_events(virt_watches[i], events);
        /* -ESTALE: the loop has finished (shutdown); nothing runs any more anyway. */
        if (r < 0 && r != -ESTALE)
                log_warning_errno(r, "Failed to update libvirt's watch %d: %m", watch);
}

static int virt_remove_handle(int watch) {
        return virt_watch_remove(watch, false);
}

/* Arms the source for the next expiry: 0 ms means "on every iteration",
 * which an elapsed time (1 µs after boot) gives with sd-event. */
static int virt_timeout_arm(VirtWatch *w) {
        int r;

        if (w->frequency < 0)
                return sd_event_source_set_enabled(w->source, SD_EVENT_OFF);

        r = sd_event_source_set_time(
                w->source, w->frequency == 0 ? 1 : now_usec(CLOCK_MONOTONIC) + (uint64_t) w->frequency * USEC_PER_MSEC);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(w->source, SD_EVENT_ON);
}

static int virt_time_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        VirtWatch *w = userdata;
        int r;

        r = virt_timeout_arm(w);
        if (r < 0)
                log_warning_errno(r, "Failed to re-arm libvirt's timeout %d: %m", w->id);

        virt_dispatch_depth++;
        w->timeout_cb(w->id, w->opaque);
        virt_dispatch_depth--;
        return 0;
}

static int virt_add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        _cleanup_(virt_watch_freep) VirtWatch *w = NULL;
        int r;

        if (!virt_event || !cb)
                return -1;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -1;
        *w = (VirtWatch) {
                .is_timeout = true,
                .fd = -EBADF,
                .frequency = frequency,
                .timeout_cb = cb,
                .opaque = opaque,
                .ff = ff,
        };

        /* Accuracy 1 µs: sd-event's default (250 ms) would delay "0 ms". */
        r = sd_event_add_time(virt_event, &w->source, CLOCK_MONOTONIC, 1, 1, virt_time_handler, w);
        if (r < 0) {
                log_debug_errno(r, "Failed to add libvirt's timeout: %m");
                return -1;
        }
        (void) sd_event_source_set_description(w->source, "libvirt-timeout");

        if (virt_timeout_arm(w) < 0)
                return -1;

        r = virt_watch_add(w);
        if (r < 0)
                return -1;
        TAKE_PTR(w);
        return r;
}

static void virt_update_timeout(int timer, int frequency) {
        ssize_t i = virt_watch_find(timer, true);
        int r;

        if (i < 0)
                return;
        virt_watches[i]->frequency = frequency;
        r = virt_timeout_arm(virt_watches[i]);
        if (r < 0 && r != -ESTALE)
                log_warning_errno(r, "Failed to update libvirt's timeout %d: %m", timer);
}

static int virt_remove_timeout(int timer) {
        return virt_watch_remove(timer, true);
}

static void virt_error_silence(void *userdata, virErrorPtr error) {
        /* libvirt would print every error to stderr; callers log them. */
}

int virt_event_register(sd_event *event) {
        int r;

        assert(event);

        if (virt_event)
                return virt_event == event ? 0 : -EBUSY;

        if (virInitialize() < 0)
                return log_error_errno(EIO, "Failed to initialize libvirt: %s", virGetLastErrorMessage());
        virSetErrorFunc(NULL, virt_error_silence);

        r = sd_event_add_defer(event, &virt_free_source, virt_free_handler, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add libvirt's free source: %m");
        (void) sd_event_source_set_description(virt_free_source, "libvirt-free");
        r = sd_event_source_set_enabled(virt_free_source, SD_EVENT_OFF);
        if (r < 0) {
                virt_free_source = sd_event_source_unref(virt_free_source);
                return log_error_errno(r, "Failed to set up libvirt's free source: %m");
        }

        /* Kept for the life of the process: libvirt may add and remove
         * watches until the very end. */
        virt_event = sd_event_ref(event);
        virEventRegisterImpl(virt_add_handle, virt_update_handle, virt_remove_handle, virt_add_timeout,
                             virt_update_timeout, virt_remove_timeout);
        return 0;
}

/*****************************************************************************
 * libvirt errors */

static int virt_errno(const virError *e) {
        if (!e)
                return -EIO;

        switch (e->code) {
        case VIR_ERR_OK:
                return -EIO;
        case VIR_ERR_NO_MEMORY:
                return -ENOMEM;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
        case VIR_ERR_CONFIG_UNSUPPORTED:
                return -EOPNOTSUPP;
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_DEVICE_MISSING:
                return -ENOENT;
        case VIR_ERR_NO_DOMAIN_METADATA:
                return -ENODATA;
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_XML_DETAIL:
        case VIR_ERR_XML_INVALID_SCHEMA:
        case VIR_ERR_INVALID_MAC:
        case VIR_ERR_INVALID_DOMAIN:
                return -EINVAL;
        case VIR_ERR_OPERATION_INVALID:
                /* e.g. "domain is not running" */
                return -ESRCH;
        case VIR_ERR_OPERATION_DENIED:
        case VIR_ERR_ACCESS_DENIED:
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
        case VIR_ERR_AUTH_UNAVAILABLE:
                return -EACCES;
        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
                return -ETIMEDOUT;
        case VIR_ERR_RESOURCE_BUSY:
        case VIR_ERR_DOM_EXIST:
                return -EBUSY;
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_INVALID_CONN:
                return -ENOTCONN;
        case VIR_ERR_RPC:
                return -EPROTO;
        case VIR_ERR_SYSTEM_ERROR:
                return e->int1 > 0 ? -e->int1 : -EIO;
        default:
                return -EIO;
        }
}

static bool virt_error_is_connection(const virError *e) {
        if (!e)
                return false;
        switch (e->code) {
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_INVALID_CONN:
        case VIR_ERR_RPC:
        case VIR_ERR_SYSTEM_ERROR:
                return true;
        default:
                return false;
        }
}

static void virt_mark_lost(Virt *v, const char *reason);
static bool virt_conn_alive(Virt *v);

/* The level for virt_error() that depends on the error: -ENOENT (no such
 * domain or device) at debug, anything else at warning. */
#define VIRT_LOG_AUTO (-1)

/* Logs libvirt's last error at 'level' after "<what>: " and returns it as a
 * negative errno. A connection-level error on a dead connection starts the
 * reconnect. */
_printf_(3, 4) static int virt_error(Virt *v, int level, const char *format, ...) {
        const virError *e = virGetLastError();
        char what[512];
        va_list ap;
        int r;

        va_start(ap, format);
        (void) vsnprintf(what, sizeof(what), format, ap);
        va_end(ap);

        r = virt_errno(e);
        if (level < 0)
                level = r == -ENOENT ? LOG_DEBUG : LOG_WARNING;
        log_full_errno(level, r, "%s: %s", what, e && e->message ? e->message : "unknown libvirt error");

        if (v && virt_error_is_connection(e) && !virt_conn_alive(v))
                virt_mark_lost(v, "error");
        return r;
}

/*****************************************************************************
 * The connection */

enum {
        VIRT_EVENT_LIFECYCLE,
        VIRT_EVENT_DEVICE_REMOVED,
        VIRT_EVENT_DEVICE_REMOVAL_FAILED,
        VIRT_EVENT_METADATA_CHANGE,
        _VIRT_EVENT_MAX,
};

struct Virt {
        sd_event *event;
        char *uri;                      /* as given; NULL: libvirt's default */
        char *conn_uri;                 /* if 'uri' is NULL: what libvirt chose, at the first connection */
        VirtCallbacks cb;
        void *userdata;

        virConnectPtr conn;
        int callback_ids[_VIRT_EVENT_MAX];
        bool close_cb_registered;
        bool lost;                      /* libvirt said it closed; torn down from 'retry' */
        bool up_notified;               /* cb.connection(true) was called for 'conn' */
        bool failing;                   /* the failure to connect was logged */

        sd_event_source *retry;         /* reconnect, and teardown after a loss */
        sd_event_source *notify;        /* cb.connection(true), from the loop */
        uint64_t backoff_usec;
        VirtCalls *calls;               /* the workers of virt_call(), from the first call */
};

static const char *virt_uri_string(Virt *v) {
        return virt_get_uri(v) ?: "(libvirt's default URI)";
}

static bool virt_conn_alive(Virt *v) {
        return v->conn && virConnectIsAlive(v->conn) == 1;
}

static VirtDomainState virt_state_from_libvirt(int state) {
        switch (state) {
        case VIR_DOMAIN_RUNNING:
                return VIRT_DOMAIN_RUNNING;
        case VIR_DOMAIN_PAUSED:
        case VIR_DOMAIN_PMSUSPENDED:
                return VIRT_DOMAIN_PAUSED;
        case VIR_DOMAIN_SHUTOFF:
                return VIRT_DOMAIN_SHUTOFF;
        default:
                /* NOSTATE, BLOCKED, SHUTDOWN (shutting down), CRASHED */
                return VIRT_DOMAIN_OTHER;
        }
}

/* The state an event leaves the domain in. The event itself says so where it
 * can: asking libvirt would race with later events (a suspend and a resume
 * in quick succession would both read "running"). */
static VirtDomainState virt_state_from_event(virDomainPtr dom, int event) {
        int state, reason;

        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_RESUMED:
                return VIRT_DOMAIN_RUNNING;
        case VIR_DOMAIN_EVENT_SUSPENDED:
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
                return VIRT_DOMAIN_PAUSED;
        case VIR_DOMAIN_EVENT_STOPPED:
                return VIRT_DOMAIN_SHUTOFF;
        case VIR_DOMAIN_EVENT_CRASHED:
                return VIRT_DOMAIN_OTHER;
        default:
                /* DEFINED, UNDEFINED, SHUTDOWN: the event does not tell. */
                if (virDomainGetState(dom, &state, &reason, 0) < 0) {
                        /* Typically: undefined and not running any more. */
                        virResetLastError();
                        return VIRT_DOMAIN_SHUTOFF;
                }
                return virt_state_from_libvirt(state);
        }
}

static int virt_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        Virt *v = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN];
        VirtDomainState state;

        if (!v->cb.lifecycle || virDomainGetUUIDString(dom, uuid) < 0)
                return 0;
        state = virt_state_from_event(dom, event);
        log_debug("Domain %s: lifecycle event %d/%d, now %s.", uuid, event, detail,
                  virt_domain_state_to_string(state));
        v->cb.lifecycle(v, uuid, virDomainGetName(dom), state, event, detail, v->userdata);
        return 0;
}

static void virt_device_removed_cb(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque) {
        Virt *v = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (!v->cb.device_removed || !alias || virDomainGetUUIDString(dom, uuid) < 0)
                return;
        v->cb.device_removed(v, uuid, alias, v->userdata);
}

static void virt_device_removal_failed_cb(virConnectPtr conn, virDomainPtr dom, const char *alias,
                                          void *opaque) {
        Virt *v = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (!v->cb.device_removal_failed || !alias || virDomainGetUUIDString(dom, uuid) < 0)
                return;
        v->cb.device_removal_failed(v, uuid, alias, v->userdata);
}

static void virt_metadata_change_cb(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                                    void *opaque) {
        Virt *v = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (type != VIR_DOMAIN_METADATA_ELEMENT || !nsuri || strcmp(nsuri, VIRT_METADATA_URI) != 0)
                return;
        if (!v->cb.metadata_changed || virDomainGetUUIDString(dom, uuid) < 0)
                return;
        v->cb.metadata_changed(v, uuid, v->userdata);
}

/* The event callbacks have different signatures; libvirt takes them through
 * its generic type. The cast through void(*)(void) says that on purpose. */
#define VIRT_EVENT_CALLBACK(f) ((virConnectDomainEventGenericCallback) (void (*)(void)) (f))

static const struct {
        int id;
        const char *name;
} virt_events[_VIRT_EVENT_MAX] = {
        [VIRT_EVENT_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE, "lifecycle" },
        [VIRT_EVENT_DEVICE_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, "device-removed" },
        [VIRT_EVENT_DEVICE_REMOVAL_FAILED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
                                               "device-removal-failed" },
        [VIRT_EVENT_METADATA_CHANGE] = { VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, "metadata-change" },
};

static virConnectDomainEventGenericCallback virt_event_callback(size_t i) {
        switch (i) {
        case VIRT_EVENT_LIFECYCLE:
                return VIRT_EVENT_CALLBACK(virt_lifecycle_cb);
        case VIRT_EVENT_DEVICE_REMOVED:
                return VIRT_EVENT_CALLBACK(virt_device_removed_cb);
        case VIRT_EVENT_DEVICE_REMOVAL_FAILED:
                return VIRT_EVENT_CALLBACK(virt_device_removal_failed_cb);
        case VIRT_EVENT_METADATA_CHANGE:
                return VIRT_EVENT_CALLBACK(virt_metadata_change_cb);
        default:
                assert_not_reached();
        }
}

static void virt_arm_retry(Virt *v, uint64_t delay_usec) {
        int r;

        if (!v->retry)
                return;         /* virt_open_blocking(): no reconnect */
        r = sd_event_source_set_time(v->retry, now_usec(CLOCK_MONOTONIC) + delay_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(v->retry, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the libvirt reconnect timer: %m");
}

/* Retries after the current backoff, and doubles it. */
static void virt_schedule_reconnect(Virt *v) {
        virt_arm_retry(v, v->backoff_usec);
        v->backoff_usec = MIN(v->backoff_usec * 2, VIRT_BACKOFF_MAX_USEC);
}

static void virt_mark_lost(Virt *v, const char *reason) {
        if (!v->conn || v->lost)
                return;

        v->lost = true;
        log_warning("Lost the connection to libvirt at %s (%s), reconnecting.", virt_uri_string(v), reason);
        /* Tear down from the loop, not from inside libvirt's callback. */
        virt_arm_retry(v, 0);
}

static void virt_close_cb(virConnectPtr conn, int reason, void *opaque) {
        static const char *const reasons[] = {
                [VIR_CONNECT_CLOSE_REASON_ERROR] = "error",
                [VIR_CONNECT_CLOSE_REASON_EOF] = "end of file",
                [VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "keepalive timeout",
                [VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by the client",
        };
        Virt *v = opaque;

        if (conn != v->conn)
                return;
        virt_mark_lost(v, reason >= 0 && (size_t) reason < ELEMENTSOF(reasons) && reasons[reason]
                                  ? reasons[reason]
                                  : "unknown reason");
}

/* Drops the connection; no callback. */
static void virt_disconnect(Virt *v) {
        if (!v->conn)
                return;

        for (size_t i = 0; i < _VIRT_EVENT_MAX; i++)
                if (v->callback_ids[i] >= 0) {
                        /* On a dead connection this fails after dropping the local registration. */
                        (void) virConnectDomainEventDeregisterAny(v->conn, v->callback_ids[i]);
                        v->callback_ids[i] = -1;
                }
        if (v->close_cb_registered) {
                (void) virConnectUnregisterCloseCallback(v->conn, virt_close_cb);
                v->close_cb_registered = false;
        }
        if (virConnectClose(v->conn) < 0)
                log_debug("Closing the libvirt connection failed: %s", virGetLastErrorMessage());
        virResetLastError();

        v->conn = NULL;
        v->lost = false;
        (void) sd_event_source_set_enabled(v->notify, SD_EVENT_OFF);
}

static void virt_connect_failed(Virt *v, int error, const char *what) {
        if (!v->failing) {
                log_warning_errno(error, "%s %s, retrying in the background: %s", what, virt_uri_string(v),
                                  virGetLastErrorMessage());
                v->failing = true;
        } else
                log_debug_errno(error, "%s %s: %s", what, virt_uri_string(v), virGetLastErrorMessage());
        virResetLastError();
}

static int virt_connect(Virt *v) {
        int r;

        assert(!v->conn);

        v->conn = virConnectOpen(v->uri);
        if (!v->conn) {
                r = virt_errno(virGetLastError());
                virt_connect_failed(v, r, "Cannot connect to libvirt at");
                return r;
        }

        if (virConnectRegisterCloseCallback(v->conn, virt_close_cb, v, NULL) < 0) {
                r = virt_errno(virGetLastError());
                virt_connect_failed(v, r, "Cannot watch the libvirt connection to");
                virt_disconnect(v);
                return r;
        }
        v->close_cb_registered = true;

        /* Not every driver has keepalive (test:///, qemu:///embed): fine. */
        if (virConnectSetKeepAlive(v->conn, 5, 3) < 0) {
                log_debug("libvirt keepalive not available on %s: %s", virt_uri_string(v),
                          virGetLastErrorMessage());
                virResetLastError();
        }

        for (size_t i = 0; i < _VIRT_EVENT_MAX; i++) {
                v->callback_ids[i] = virConnectDomainEventRegisterAny(v->conn, NULL, virt_events[i].id,
                                                                      virt_event_callback(i), v, NULL);
                if (v->callback_ids[i] < 0) {
                        r = virt_errno(virGetLastError());
                        virt_connect_failed(v, r, "Cannot subscribe to domain events of");
                        virt_disconnect(v);
                        return r;
                }
        }

        /* Kept once known: virt_get_uri()'s string lives as long as 'v'. */
        if (!v->uri && !v->conn_uri) {
                v->conn_uri = virConnectGetURI(v->conn);
                if (!v->conn_uri)
                        virResetLastError();
        }

        log_info("Connected to libvirt at %s.", virt_uri_string(v));
        v->failing = false;
        v->backoff_usec = VIRT_BACKOFF_MIN_USEC;

        r = sd_event_source_set_enabled(v->notify, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to schedule the libvirt connection callback: %m");
        return 0;
}

static int virt_notify_handler(sd_event_source *s, void *userdata) {
        Virt *v = userdata;

        if (!virt_is_connected(v) || v->up_notified)
                return 0;
        v->up_notified = true;
        if (v->cb.connection)
                v->cb.connection(v, true, v->userdata);
        return 0;
}

static int virt_retry_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        Virt *v = userdata;
        bool was_up;

        if (v->conn) {
                /* Lost: drop it, tell the user last ('v' may be freed by then). */
                was_up = v->up_notified;
                v->up_notified = false;
                virt_disconnect(v);
                v->backoff_usec = VIRT_BACKOFF_MIN_USEC;
                virt_schedule_reconnect(v);
                if (was_up && v->cb.connection)
                        v->cb.connection(v, false, v->userdata);
                return 0;
        }

        if (virt_connect(v) < 0)
                virt_schedule_reconnect(v);
        return 0;
}

DEFINE_CLEANUP_FUNC(Virt, virt_free);

int virt_new(sd_event *event, const char *uri, const VirtCallbacks *cb, void *userdata, Virt **ret) {
        _cleanup_(virt_freep) Virt *v = NULL;
        int r;

        assert(event);
        assert(ret);

        if (!virt_event)
                return log_error_errno(EINVAL, "virt_event_register() was not called.");

        v = calloc(1, sizeof(*v));
        if (!v)
                return log_oom();
        v->event = sd_event_ref(event);
        v->userdata = userdata;
        if (cb)
                v->cb = *cb;
        for (size_t i = 0; i < _VIRT_EVENT_MAX; i++)
                v->callback_ids[i] = -1;
        v->backoff_usec = VIRT_BACKOFF_MIN_USEC;
        if (uri) {
                v->uri = strdup(uri);
                if (!v->uri)
                        return log_oom();
        }

        r = sd_event_add_time(event, &v->retry, CLOCK_MONOTONIC, 1, 1, virt_retry_handler, v);
        if (r < 0)
                return log_error_errno(r, "Failed to add the libvirt reconnect timer: %m");
        (void) sd_event_source_set_description(v->retry, "libvirt-reconnect");
        r = sd_event_source_set_enabled(v->retry, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the libvirt reconnect timer: %m");

        r = sd_event_add_defer(event, &v->notify, virt_notify_handler, v);
        if (r < 0)
                return log_error_errno(r, "Failed to add the libvirt connection notifier: %m");
        (void) sd_event_source_set_description(v->notify, "libvirt-connected");
        /* Before libvirt's own event dispatch: "up" comes before any domain event. */
        r = sd_event_source_set_priority(v->notify, SD_EVENT_PRIORITY_IMPORTANT);
        if (r >= 0)
                r = sd_event_source_set_enabled(v->notify, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the libvirt connection notifier: %m");

        if (virt_connect(v) < 0)
                virt_schedule_reconnect(v);

        *ret = TAKE_PTR(v);
        return 0;
}

Virt *virt_free(Virt *v) {
        if (!v)
                return NULL;

        v->calls = virt_calls_free(v->calls);
        v->retry = sd_event_source_disable_unref(v->retry);
        v->notify = sd_event_source_disable_unref(v->notify);
        virt_disconnect(v);
        free(v->uri);
        free(v->conn_uri);
        sd_event_unref(v->event);
        free(v);

        /* libvirt's free callbacks from the teardown, unless we are inside one
         * of its callbacks (then the loop runs them). */
        if (virt_dispatch_depth == 0)
                virt_flush_pending_frees();
        return NULL;
}

int virt_open_blocking(const char *uri, Virt **ret) {
        _cleanup_(virt_freep) Virt *v = NULL;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < _VIRT_EVENT_MAX; i++)
                v->callback_ids[i] = -1;
        virSetErrorFunc(NULL, virt_error_silence);
        v->conn = virConnectOpen(uri);
        if (!v->conn) {
                int r = virt_errno(virGetLastError());

                log_warning_errno(r, "Cannot connect to libvirt at %s: %s", uri ?: "(libvirt's default URI)",
                                  virGetLastErrorMessage());
                virResetLastError();
                return r;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

int virt_call(Virt *v, const VirtRequest *req, usec_t timeout, VirtCallFn fn, void *userdata, VirtCall **ret) {
        int r;

        if (!virt_is_connected(v))
                return -ENOTCONN;
        if (!v->calls) {
                const char *uri = virt_get_uri(v);

                /* libvirt's test driver lives in this process: nothing to
                 * wait on, and a worker's connection would be another test
                 * driver with its own state */
                r = virt_calls_new(v->event, uri, uri && strncmp(uri, "test:", 5) == 0 ? virt_execute : NULL,
                                   &v->calls);
                if (r < 0)
                        return r;
        }
        return virt_calls_submit(v->calls, v, req, timeout, fn, userdata, ret);
}

bool virt_is_connected(Virt *v) {
        return v && v->conn && !v->lost;
}

const char *virt_get_uri(Virt *v) {
        return v ? v->uri ?: v->conn_uri : NULL;
}

/*****************************************************************************
 * Domains */

static void virDomainFreep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}

static int virt_lookup(Virt *v, const char *uuid, virDomainPtr *ret) {
        virDomainPtr dom;

        if (!virt_is_connected(v))
                return -ENOTCONN;
        if (!uuid)
                return -EINVAL;

        dom = virDomainLookupByUUIDString(v->conn, uuid);
        if (!dom)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to look up domain %s", uuid);
        *ret = dom;
        return 0;
}

static int virt_domain_fill(Virt *v, virDomainPtr dom, VirtDomain *ret) {
        _cleanup_(virt_domain_done) VirtDomain d = {};
        _cleanup_free_ char *xml = NULL;
        char uuid[VIR_UUID_STRING_BUFLEN] = "?";
        int state, reason, persistent, r;
        unsigned id;

        (void) virDomainGetUUIDString(dom, uuid);

        xml = virDomainGetXMLDesc(dom, 0);
        if (!xml)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to get the XML of domain %s", uuid);
        r = virt_domain_parse_xml(xml, &d);
        if (r < 0)
                return log_warning_errno(r, "Failed to parse the XML of domain %s: %m", uuid);

        if (virDomainGetState(dom, &state, &reason, 0) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to get the state of domain %s", uuid);
        persistent = virDomainIsPersistent(dom);
        if (persistent < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to ask whether domain %s is persistent", uuid);
        id = virDomainGetID(dom);

        d.state = virt_state_from_libvirt(state);
        d.persistent = persistent > 0;
        d.id = id == (unsigned) -1 || id > INT_MAX ? -1 : (int) id;

        *ret = d;
        d = (VirtDomain) {};
        return 0;
}

int virt_list_domains(Virt *v, VirtDomain **ret, size_t *ret_n) {
        virDomainPtr *doms = NULL;
        VirtDomain *a = NULL;
        size_t n = 0;
        int k, r;

        assert(ret);
        assert(ret_n);

        if (!virt_is_connected(v))
                return -ENOTCONN;

        k = virConnectListAllDomains(v->conn, &doms, 0);
        if (k < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to list domains");

        a = calloc(MAX((size_t) k, 1u), sizeof(VirtDomain));
        if (!a) {
                r = log_oom();
                goto finish;
        }
        for (int i = 0; i < k; i++) {
                r = virt_domain_fill(v, doms[i], &a[n]);
                if (r == -ENOENT)
                        continue; /* gone since the listing */
                if (r < 0)
                        goto finish;
                n++;
        }

        *ret = TAKE_PTR(a);
        *ret_n = n;
        r = 0;

finish:
        for (int i = 0; i < k; i++)
                virDomainFree(doms[i]);
        free(doms);
        virt_domain_free_array(a, n);
        return r;
}

int virt_get_domain(Virt *v, const char *uuid, VirtDomain *ret) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        assert(ret);

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        return virt_domain_fill(v, dom, ret);
}

int virt_set_policy(Virt *v, const char *uuid, const VirtPolicy *policy) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *xml = NULL;
        unsigned flags = 0;
        int active, persistent, r;

        assert(policy);

        if (policy->present) {
                r = virt_policy_format(policy, &xml);
                if (r < 0)
                        return r;
        }

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        active = virDomainIsActive(dom);
        if (active < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to ask whether domain %s is running", uuid);
        persistent = virDomainIsPersistent(dom);
        if (persistent < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to ask whether domain %s is persistent", uuid);
        if (active > 0)
                flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (persistent > 0)
                flags |= VIR_DOMAIN_AFFECT_CONFIG;

        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, VIRT_METADATA_PREFIX,
                                 VIRT_METADATA_URI, flags) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to %s the vfo policy of domain %s",
                                  xml ? "set" : "remove", uuid);
        return 0;
}

int virt_attach_device(Virt *v, const char *uuid, const char *xml) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        if (!xml)
                return -EINVAL;
        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        if (virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to attach a device to domain %s", uuid);
        return 0;
}

int virt_detach_alias(Virt *v, const char *uuid, const char *alias) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        const virError *e;
        int r;

        if (!alias)
                return -EINVAL;
        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        if (virDomainDetachDeviceAlias(dom, alias, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                e = virGetLastError();
                /* Older drivers say "not found" with another code. */
                if (e && (e->code == VIR_ERR_DEVICE_MISSING ||
                          (e->message &&
                           (strstr(e->message, "not found") || strstr(e->message, "no device found"))))) {
                        log_debug("Domain %s has no device with alias %s: %s", uuid, alias, e->message);
                        virResetLastError();
                        return -ENOENT;
                }
                return virt_error(v, VIRT_LOG_AUTO, "Failed to detach device %s from domain %s", alias, uuid);
        }
        return 0;
}

int virt_set_link(Virt *v, const char *uuid, const char *mac, bool up) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *xml = NULL, *dev = NULL;
        int r;

        if (!mac)
                return -EINVAL;
        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        xml = virDomainGetXMLDesc(dom, 0);
        if (!xml)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to get the XML of domain %s", uuid);
        r = virt_interface_set_link_xml(xml, mac, up, &dev);
        if (r == -ENOENT)
                return log_debug_errno(r, "Domain %s has no interface %s (other than vfo's).", uuid, mac);
        if (r < 0)
                return log_warning_errno(r, "Failed to build the interface XML of %s on domain %s: %m", mac,
                                         uuid);

        if (virDomainUpdateDeviceFlags(dom, dev, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to set the link of %s on domain %s %s", mac, uuid,
                                  up ? "up" : "down");
        return 0;
}

int virt_resume(Virt *v, const char *uuid) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainResume(dom) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to resume domain %s", uuid);
        return 0;
}

int virt_get_job_stats(Virt *v, const char *uuid, VirtJobStats *ret) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        virTypedParameterPtr params = NULL;
        int nparams = 0, type = VIR_DOMAIN_JOB_NONE, r;
        unsigned long long u;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainGetJobStats(dom, &type, &params, &nparams, 0) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to read the job of domain %s", uuid);
        *ret = (VirtJobStats) { .type = type };
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_TOTAL, &u) > 0)
                ret->data_total = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_PROCESSED, &u) > 0)
                ret->data_processed = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_REMAINING, &u) > 0)
                ret->data_remaining = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_TIME_ELAPSED, &u) > 0)
                ret->time_elapsed_ms = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_ITERATION, &u) > 0)
                ret->memory_iteration = u;
        virTypedParamsFree(params, nparams);
        return 0;
}

int virt_set_max_downtime(Virt *v, const char *uuid, uint64_t ms) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainMigrateSetMaxDowntime(dom, ms, 0) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to set the maximum downtime of domain %s", uuid);
        return 0;
}

int virt_suspend(Virt *v, const char *uuid) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainSuspend(dom) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to suspend domain %s", uuid);
        return 0;
}

int virt_abort_job(Virt *v, const char *uuid) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainAbortJob(dom) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to abort the job of domain %s", uuid);
        return 0;
}

static char *virt_last_message(const char *what) {
        const virError *e = virGetLastError();
        char *s = NULL;

        if (asprintf(&s, "%s: %s", what, e && e->message ? e->message : "unknown libvirt error") < 0)
                return NULL;
        return s;
}

int virt_migrate_blocking(const char *src_uri, const char *uuid, const char *dest_uri, const VirtMigrateOptions *o,
                          char **ret_message) {
        virConnectPtr conn = NULL, dconn = NULL;
        virDomainPtr dom = NULL, ddom = NULL;
        virTypedParameterPtr params = NULL;
        int nparams = 0, maxparams = 0, r = 0;
        unsigned flags = 0;

        *ret_message = NULL;
        virSetErrorFunc(NULL, virt_error_silence);
        conn = virConnectOpen(src_uri);
        if (!conn) {
                *ret_message = virt_last_message("cannot connect to the source libvirt");
                r = -ENOTCONN;
                goto finish;
        }
        dom = virDomainLookupByUUIDString(conn, uuid);
        if (!dom) {
                *ret_message = virt_last_message("no such domain");
                r = -ENOENT;
                goto finish;
        }

        if ((o->migrate_uri &&
             virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI, o->migrate_uri) < 0) ||
            (o->listen_address && virTypedParamsAddString(&params, &nparams, &maxparams,
                                                          VIR_MIGRATE_PARAM_LISTEN_ADDRESS, o->listen_address) < 0) ||
            (o->bandwidth > 0 && virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                                                         o->bandwidth) < 0)) {
                r = -ENOMEM;
                goto finish;
        }

        flags = (o->live ? VIR_MIGRATE_LIVE : 0) | (o->persistent ? VIR_MIGRATE_PERSIST_DEST : 0) |
                (o->undefine_source ? VIR_MIGRATE_UNDEFINE_SOURCE : 0);
        if (o->p2p) {
                if (virDomainMigrateToURI3(dom, dest_uri, params, (unsigned) nparams, flags | VIR_MIGRATE_PEER2PEER) < 0) {
                        *ret_message = virt_last_message("migration failed");
                        r = virt_errno(virGetLastError());
                }
        } else {
                dconn = virConnectOpen(dest_uri);
                if (!dconn) {
                        *ret_message = virt_last_message("cannot connect to the destination libvirt");
                        r = -ENOTCONN;
                        goto finish;
                }
                ddom = virDomainMigrate3(dom, dconn, params, (unsigned) nparams, flags);
                if (!ddom) {
                        *ret_message = virt_last_message("migration failed");
                        r = virt_errno(virGetLastError());
                }
        }
finish:
        virTypedParamsFree(params, nparams);
        if (ddom)
                virDomainFree(ddom);
        if (dom)
                virDomainFree(dom);
        if (dconn)
                virConnectClose(dconn);
        if (conn)
                virConnectClose(conn);
        return r;
}
