/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `vfoctl hook qemu DOMAIN OPERATION SUB-OPERATION EXTRA`: libvirt's qemu
 * hook (installed as $(sysconfdir)/libvirt/hooks/qemu.d/vfo), with the
 * domain XML on stdin.
 *
 * libvirtd waits for every hook, and a non-zero exit aborts what it is
 * doing (a start, an incoming migration). So: operations vfod has no
 * business with exit 0 at once without touching the bus; the others are
 * bounded (a method timeout, and an alarm as the last word) and every
 * failure that is not vfod's deliberate refusal of an incoming migration
 * ends in exit 0 without output, so libvirt goes on as if vfo were not
 * installed. */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "agent/ctl/hook.h"
#include "agent/ctl/vfoctl.h"

#define HOOK_DEADLINE_SEC          6 /* the whole hook, whatever happens */
#define HOOK_MIGRATE_BEGIN_TIMEOUT (5 * USEC_PER_SEC)
#define HOOK_STARTED_TIMEOUT       (2 * USEC_PER_SEC)
#define HOOK_DEFAULT_SYSTEM_BUS    "unix:path=/run/dbus/system_bus_socket"

static const char *hook_domain = "-";

/* stderr (libvirtd logs it when the hook fails) and the journal (libvirtd
 * drops the stderr of a hook that exits 0). */
_printf_(2, 3) static void hook_log(int priority, const char *format, ...) {
        char text[2048];
        va_list ap;

        va_start(ap, format);
        vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);

        fprintf(stderr, "vfoctl hook: %s\n", text);
        fflush(stderr);
        (void) sd_journal_send("MESSAGE=vfoctl hook: %s", text, "PRIORITY=%i", priority,
                               "SYSLOG_IDENTIFIER=vfoctl", "VFO_DOMAIN=%s", hook_domain, NULL);
}

static void on_alarm(int sig) {
        static const char msg[] = "vfoctl hook: no answer from vfod in time; libvirt goes on without vfo\n";

        /* async-signal-safe only; exit 0 so libvirt is never held up nor stopped */
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(0);
}

static int write_all(int fd, const char *p, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* VFO_BUS_ADDRESS, else DBUS_SYSTEM_BUS_ADDRESS, else the system bus's
 * socket. Opened by hand rather than with sd_bus_open_system(), so that the
 * Hello call too is bounded by the method call timeout. */
static int hook_bus_open(usec_t timeout, sd_bus **ret, const char **ret_address) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        const char *address = getenv("VFO_BUS_ADDRESS");
        int r;

        if (!address || !*address)
                address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (!address || !*address)
                address = HOOK_DEFAULT_SYSTEM_BUS;
        *ret_address = address;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_set_method_call_timeout(bus, timeout);
        if (r < 0)
                return r;
        (void) sd_bus_set_description(bus, "vfoctl-hook");
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

/* Calls a Manager method with a timeout; on failure logs why. */
static int hook_call(const char *method, usec_t timeout, sd_bus_message **ret_reply, const char *types, ...) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *address = NULL;
        va_list ap;
        int r;

        r = hook_bus_open(timeout, &bus, &address);
        if (r < 0) {
                hook_log(LOG_WARNING, "%s: cannot connect to the bus %s: %s; going on without vfo.", method,
                         address ?: "?", strerror(-r));
                return r;
        }
        r = sd_bus_message_new_method_call(bus, &m, VFO_SERVICE, VFO_PATH, VFO_MANAGER_IFACE, method);
        if (r >= 0)
                r = sd_bus_message_set_expect_reply(m, true);
        if (r >= 0) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r < 0) {
                hook_log(LOG_WARNING, "%s: cannot build the call: %s; going on without vfo.", method,
                         strerror(-r));
                return r;
        }
        r = sd_bus_call(bus, m, timeout, &error, ret_reply);
        if (r < 0) {
                if (sd_bus_error_has_names(&error, "org.freedesktop.DBus.Error.ServiceUnknown",
                                           "org.freedesktop.DBus.Error.NameHasNoOwner"))
                        hook_log(LOG_NOTICE,
                                 "%s: vfod is not running (nothing owns %s on %s); going on without vfo.",
                                 method, VFO_SERVICE, address);
                else if (sd_bus_error_is_set(&error))
                        hook_log(LOG_WARNING, "%s failed: %s (%s); going on without vfo.", method,
                                 error.message ?: "", error.name);
                else
                        hook_log(LOG_WARNING, "%s failed: %s; going on without vfo.", method, strerror(-r));
                return r;
        }
        return 0;
}

static int hook_migrate_begin(const char *xml) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *new_xml = NULL, *message = NULL;
        int allow = 1, r;

        r = hook_call("HookMigrateBegin", HOOK_MIGRATE_BEGIN_TIMEOUT, &reply, "s", xml);
        if (r < 0)
                return EXIT_OK;
        r = sd_bus_message_read(reply, "bss", &allow, &new_xml, &message);
        if (r < 0) {
                hook_log(LOG_WARNING, "HookMigrateBegin: unexpected reply (%s); going on without vfo.",
                         strerror(-r));
                return EXIT_OK;
        }
        /* From here on the answer is vfod's: no alarm may cut the output short. */
        alarm(0);
        if (!allow) {
                /* libvirtd aborts the incoming migration and reports this text */
                hook_log(LOG_ERR, "%s",
                         message && *message ? message
                                             : "vfod refuses the incoming migration (no reason given).");
                return EXIT_FAILED;
        }
        if (message && *message)
                hook_log(LOG_INFO, "%s", message);
        if (new_xml && *new_xml) {
                r = write_all(STDOUT_FILENO, new_xml, strlen(new_xml));
                if (r < 0)
                        hook_log(LOG_WARNING, "Cannot write the filtered domain XML: %s.", strerror(-r));
        }
        return EXIT_OK;
}

static int hook_started(const char *xml, size_t size) {
        char uuid[37];
        int r;

        r = hook_uuid_from_xml(xml, size, uuid);
        if (r < 0) {
                hook_log(LOG_WARNING, "No domain UUID in the XML on stdin (%s); not telling vfod.",
                         r == -EBADMSG  ? "not a <domain> document"
                         : r == -ENOENT ? "no <uuid>"
                                        : "malformed <uuid>");
                return EXIT_OK;
        }
        (void) hook_call("HookStarted", HOOK_STARTED_TIMEOUT, NULL, "s", uuid);
        return EXIT_OK;
}

int cmd_hook(int argc, char *argv[]) {
        _cleanup_free_ char *xml = NULL;
        const char *driver, *op, *subop;
        HookAction action;
        size_t size = 0;
        int r;

        /* libvirt reading our stdout may go away: never die of SIGPIPE (a signal is a failure). */
        signal(SIGPIPE, SIG_IGN);

        /* argv: "hook" DRIVER DOMAIN OPERATION SUB-OPERATION EXTRA */
        driver = argc > 1 ? argv[1] : "";
        hook_domain = argc > 2 ? argv[2] : "-";
        op = argc > 3 ? argv[3] : "";
        subop = argc > 4 ? argv[4] : "";

        if (strcmp(driver, "qemu") != 0) {
                hook_log(LOG_WARNING, "Only the qemu hook is handled, not '%s'; nothing to do.", driver);
                return EXIT_OK;
        }
        action = hook_action_for(op, subop);
        if (action == HOOK_ACTION_NONE)
                return EXIT_OK; /* stdin unread: libvirt ignores EPIPE on a hook's stdin */

        signal(SIGALRM, on_alarm);
        alarm(HOOK_DEADLINE_SEC);

        if (!isatty(STDIN_FILENO)) {
                r = hook_read_input(STDIN_FILENO, HOOK_INPUT_MAX, &xml, &size);
                if (r == -EFBIG) {
                        hook_log(LOG_WARNING, "The domain XML on stdin is larger than %u MiB; ignoring it.",
                                 HOOK_INPUT_MAX / (1024 * 1024));
                        return EXIT_OK;
                }
                if (r < 0) {
                        hook_log(LOG_WARNING, "Cannot read the domain XML on stdin: %s.", strerror(-r));
                        return EXIT_OK;
                }
        }
        if (size == 0 || memchr(xml, '\0', size)) {
                hook_log(LOG_WARNING, "%s %s of %s: %s domain XML on stdin; not telling vfod.", op, subop,
                         hook_domain, size == 0 ? "no" : "a NUL byte in the");
                return EXIT_OK;
        }

        if (action == HOOK_ACTION_MIGRATE_BEGIN)
                return hook_migrate_begin(xml);
        return hook_started(xml, size);
}
