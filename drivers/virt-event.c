/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's event loop on sd-event (virEventRegisterImpl); see libvirt.h and
 * virt-internal.h. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "drivers/virt-internal.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/time-util.h"

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

void virt_error_silence(void *userdata, virErrorPtr error) {
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

bool virt_event_registered(void) {
        return virt_event;
}

void virt_event_flush_frees(void) {
        /* Inside one of libvirt's callbacks the loop runs them (from the defer source). */
        if (virt_dispatch_depth == 0)
                virt_flush_pending_frees();
}
