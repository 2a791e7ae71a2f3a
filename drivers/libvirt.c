/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt through its C API: the connection, its reconnects and keepalive,
 * and the domain events; see libvirt.h. libvirt's event loop is in
 * virt-event.c, the domain reads and operations in virt-domain.c. */

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/virt-call.h"
#include "drivers/virt-internal.h"
#include "lib/log.h"
#include "lib/loop-watch.h"
#include "lib/macro.h"

#define VIRT_BACKOFF_MIN_USEC (500 * USEC_PER_MSEC)
#define VIRT_BACKOFF_MAX_USEC (30 * USEC_PER_SEC)

/*****************************************************************************
 * libvirt errors */

int virt_errno(const virError *e) {
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

int virt_error(Virt *v, int level, const char *format, ...) {
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

VirtDomainState virt_state_from_libvirt(int state) {
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
        loop_watch_note("libvirt: lifecycle event of", uuid);
        v->cb.lifecycle(v, uuid, virDomainGetName(dom), state, event, detail, v->userdata);
        return 0;
}

static void virt_device_removed_cb(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque) {
        Virt *v = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (!v->cb.device_removed || !alias || virDomainGetUUIDString(dom, uuid) < 0)
                return;
        loop_watch_note("libvirt: DEVICE_REMOVED in", uuid);
        v->cb.device_removed(v, uuid, alias, v->userdata);
}

static void virt_device_removal_failed_cb(virConnectPtr conn, virDomainPtr dom, const char *alias,
                                          void *opaque) {
        Virt *v = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (!v->cb.device_removal_failed || !alias || virDomainGetUUIDString(dom, uuid) < 0)
                return;
        loop_watch_note("libvirt: DEVICE_REMOVAL_FAILED in", uuid);
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
        loop_watch_note("libvirt: metadata change of", uuid);
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

        if (!virt_event_registered())
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
        virt_event_flush_frees();
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

/* The calls off the loop, made at the first. */
static int virt_get_calls(Virt *v, VirtCalls **ret) {
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
        *ret = v->calls;
        return 0;
}

int virt_call(Virt *v, const VirtRequest *req, usec_t timeout, VirtCallFn fn, void *userdata, VirtCall **ret) {
        VirtCalls *c;
        int r;

        r = virt_get_calls(v, &c);
        if (r < 0)
                return r;
        return virt_calls_submit(c, v, req, timeout, fn, userdata, ret);
}

int virt_read_domain(Virt *v, const char *uuid, usec_t timeout, VirtDomainFn fn, void *userdata, VirtCall **ret) {
        VirtCalls *c;
        int r;

        r = virt_get_calls(v, &c);
        if (r < 0)
                return r;
        return virt_calls_submit_read(c, v, uuid, timeout, fn, userdata, ret);
}

bool virt_is_connected(Virt *v) {
        return v && v->conn && !v->lost;
}

const char *virt_get_uri(Virt *v) {
        return v ? v->uri ?: v->conn_uri : NULL;
}

virConnectPtr virt_connection(Virt *v) {
        return virt_is_connected(v) ? v->conn : NULL;
}
