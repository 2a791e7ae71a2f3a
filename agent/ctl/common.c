/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: what its commands and watch.c share; see common.h. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/common.h"
#include "lib/bus-names.h"
#include "lib/validate.h"

bool arg_json = false;
bool arg_quiet = false;
usec_t arg_timeout = 120 * USEC_PER_SEC;

int ctl_error(int code, const char *format, ...) {
        _cleanup_free_ char *text = NULL, *shown = NULL;
        va_list ap;
        int r;

        fflush(stdout);
        va_start(ap, format);
        r = vasprintf(&text, format, ap);
        va_end(ap);
        /* error messages carry vfod's, libvirt's and guests' words: escaped */
        shown = r >= 0 ? text_escape(text) : NULL;
        fprintf(stderr, "vfoctl: %s\n", shown ?: "out of memory");
        return code;
}

static bool errno_is_unreachable(int r) {
        switch (abs(r)) {
        case ENOENT:
        case ECONNREFUSED:
        case ECONNRESET:
        case ENOTCONN:
        case EPIPE:
        case ESHUTDOWN:
        case ETIMEDOUT:
                return true;
        default:
                return false;
        }
}

#define IN_SET_CONNECTION_ERRNO(e) \
        ((e) == ECONNREFUSED || (e) == ECONNRESET || (e) == ENOTCONN || (e) == EPIPE || (e) == ESHUTDOWN)

int ctl_bus_error(const sd_bus_error *error, int r, const char *what) {
        const char *address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        int code;

        if (!sd_bus_error_is_set(error)) {
                code = errno_is_unreachable(r) ? EXIT_UNREACHABLE : EXIT_FAILED;
                if (code == EXIT_UNREACHABLE)
                        return ctl_error(code, "%s: cannot talk to vfod on the system bus (%s): %s.", what,
                                         address ?: "unix:path=/run/dbus/system_bus_socket",
                                         strerror(abs(r)));
                return ctl_error(code, "%s: %s.", what, strerror(abs(r)));
        }

        code = exit_code_from_error_name(error->name);
        if (code == EXIT_OK)
                code = EXIT_FAILED;

        /* sd-bus's own errors ("System.Error.ENOTCONN"): the connection failed, was refused or
         * lost. Only errnos vfod itself would not send: it may send System.Error.ENOENT. */
        if (strncmp(error->name, "System.Error.", strlen("System.Error.")) == 0 &&
            IN_SET_CONNECTION_ERRNO(sd_bus_error_get_errno(error)))
                return ctl_error(EXIT_UNREACHABLE, "%s: cannot talk to vfod on the system bus (%s): %s.",
                                 what, address ?: "unix:path=/run/dbus/system_bus_socket",
                                 error->message ?: error->name);

        if (sd_bus_error_has_names(error, "org.freedesktop.DBus.Error.ServiceUnknown",
                                   "org.freedesktop.DBus.Error.NameHasNoOwner"))
                return ctl_error(EXIT_UNREACHABLE,
                                 "vfod is not running: nothing owns org.vfo1 on the system bus (%s). "
                                 "Start it with 'systemctl start vfod'.",
                                 error->name);
        if (code == EXIT_UNREACHABLE)
                return ctl_error(
                        EXIT_UNREACHABLE,
                        "vfod is not reachable: %s (%s). Is it running? See 'systemctl status vfod'.",
                        error->message ?: error->name, error->name);

        if (sd_bus_error_has_name(error, "org.freedesktop.DBus.Error.AccessDenied"))
                return ctl_error(
                        code,
                        "Access denied by the bus policy: %s\n"
                        "vfoctl: Changing vfod's state is for root and members of the group \"vfo\".",
                        error->message ?: error->name);

        if (strncmp(error->name, BUS_ERROR_PREFIX, strlen(BUS_ERROR_PREFIX)) == 0)
                return ctl_error(code, "%s",
                                 error->message && *error->message ? error->message : error->name);

        return ctl_error(code, "%s: %s (%s)", what, error->message ?: "", error->name);
}

uint64_t job_id_from_path(const char *object) {
        uint64_t id;

        return vfo_job_path_id(object, &id) < 0 ? 0 : id;
}

uint64_t job_duration(const VfoJob *j) {
        uint64_t end = j->finish_usec > 0 ? j->finish_usec : now_usec(CLOCK_REALTIME);

        return j->start_usec > 0 ? usec_sub_unsigned(end, j->start_usec) : 0;
}

void json_vf_id(JsonWriter *w, const char *key, const char *object) {
        _cleanup_free_ char *id = vfo_path_id(object, VFO_VF_PREFIX);

        json_key(w, key);
        if (id)
                json_string(w, id);
        else
                json_null(w);
}

void json_job_fields(JsonWriter *w, sd_bus *bus, const VfoJob *j) {
        json_field_uint(w, "id", j->id);
        json_field_string(w, "object", j->object);
        json_field_string(w, "kind", j->kind);
        json_field_string(w, "reason", j->reason);
        json_field_string(w, "domain", vfo_domain_name(bus, j->domain));
        json_field_string(w, "domain_object", j->domain);
        json_field_string(w, "mac", j->mac);
        json_vf_id(w, "vf", j->vf);
        json_field_string(w, "phase", j->phase);
        json_field_uint(w, "progress", j->progress);
        json_field_string(w, "state", j->state);
        json_field_string(w, "error", j->error);
        json_field_string(w, "error_message", j->error_message);
        json_field_string(w, "fallback", j->fallback);
        if ((j->kind && strcmp(j->kind, "migrate") == 0) || (j->destination && *j->destination))
                json_field_string(w, "destination", j->destination);
        json_field_uint(w, "start_usec", j->start_usec);
        json_field_uint(w, "finish_usec", j->finish_usec);
        json_field_uint(w, "duration_usec", job_duration(j));
        json_field_uint(w, "libvirt_usec", j->libvirt_usec);
        json_field_uint(w, "agent_usec", j->agent_usec);
        json_field_string(w, "loss", j->loss ?: "unknown");
        json_field_uint(w, "synthetic_rx_packets", j->synthetic_rx);
        json_field_uint(w, "synthetic_tx_packets", j->synthetic_tx);
        json_field_uint(w, "vf_rx_packets", j->vf_rx);
        json_field_uint(w, "vf_tx_packets", j->vf_tx);
        json_field_uint(w, "handed_over", j->handed_over);
        json_field_uint(w, "held_tx", j->held_tx);
        json_field_uint(w, "guest_drops", j->guest_drops);
        json_field_uint(w, "host_drops", j->host_drops);
        json_field_uint(w, "host_drops_before_move", j->host_drops_before_move);
}

void json_end_line(JsonWriter *w) {
        fputc('\n', w->f);
        fflush(w->f);
}

const char *str_or_empty(const char *s) {
        return s ?: "";
}

const char *pool_display(const char *pool) {
        return pool && *pool ? pool : "(default)";
}

const char *yes_no(bool b) {
        return b ? "yes" : "no";
}
