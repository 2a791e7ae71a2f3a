/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `vfoctl hook qemu DOMAIN OPERATION SUB-OPERATION EXTRA`: libvirt's qemu
 * hook (installed as $(sysconfdir)/libvirt/hooks/qemu.d/vfo), with the
 * domain XML on stdin.
 *
 * libvirtd waits for every hook, and a non-zero exit aborts what it is
 * doing (a start, an incoming migration). So: operations vfod has no
 * business with exit 0 at once without touching the bus; the others are
 * bounded (a method timeout within a deadline, and an alarm as the last
 * word). A failure of HookStarted is only logged. An incoming migration
 * that vfod does not answer fails safe: the hook itself removes the source
 * host's VF <hostdev>s from the XML, or refuses a domain that requires a VF
 * (hook_fallback_prepare()); that is decided before vfod is asked, so that
 * the alarm only writes bytes made ready beforehand. */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "agent/ctl/format.h"
#include "agent/ctl/hook.h"
#include "agent/ctl/vfoctl.h"
#include "lib/bus-names.h"
#include "lib/macro.h"
#include "lib/time-util.h"

#define HOOK_DEADLINE_SEC          6 /* the whole hook, whatever happens: the alarm */
#define HOOK_MIGRATE_BEGIN_TIMEOUT (5 * USEC_PER_SEC)
#define HOOK_STARTED_TIMEOUT       (2 * USEC_PER_SEC)
#define HOOK_MARGIN                (500 * USEC_PER_MSEC) /* kept before the alarm, to write and log */
#define HOOK_DEFAULT_SYSTEM_BUS    "unix:path=/run/dbus/system_bus_socket"

static const char *hook_domain = "-";
static usec_t hook_deadline; /* CLOCK_MONOTONIC: when the alarm goes off */

/* The alarm's last word: bytes made ready beforehand (hook_alarm_set()),
 * written with write(2) alone. Changed only with SIGALRM blocked. */
static struct {
        const char *out; /* to stdout, or NULL */
        size_t out_size;
        char *line; /* "<N>vfoctl hook: …\n": the journal stream takes the priority prefix */
        size_t line_size;
        int journal_fd; /* sd_journal_stream_fd(), or -1 */
        int code;       /* exit status */
} hook_alarm = {.journal_fd = -1};

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

static void on_alarm(int sig) {
        static const char fallback[] = "vfoctl hook: the deadline passed.\n";

        /* async-signal-safe only. The line goes to stderr without its "<N>". */
        if (hook_alarm.out)
                (void) write_all(STDOUT_FILENO, hook_alarm.out, hook_alarm.out_size);
        if (hook_alarm.line) {
                (void) write_all(STDERR_FILENO, hook_alarm.line + 3, hook_alarm.line_size - 3);
                if (hook_alarm.journal_fd >= 0)
                        (void) write_all(hook_alarm.journal_fd, hook_alarm.line, hook_alarm.line_size);
        } else
                (void) write_all(STDERR_FILENO, fallback, sizeof(fallback) - 1);
        _exit(hook_alarm.code);
}

static void hook_sigalrm_block(bool block) {
        sigset_t ss;

        sigemptyset(&ss);
        sigaddset(&ss, SIGALRM);
        (void) sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &ss, NULL);
}

/* What the alarm does from now on: write out (if not NULL; it must stay
 * valid) to stdout, log text, exit with code. */
_printf_(4, 5) static void hook_alarm_set(const char *out, int code, int priority, const char *format, ...) {
        char text[2048], *line = NULL;
        va_list ap;
        int n;

        va_start(ap, format);
        vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);
        n = asprintf(&line, "<%i>vfoctl hook: %s\n", priority & 7, text);

        hook_sigalrm_block(true);
        free(hook_alarm.line);
        hook_alarm.line = n >= 3 ? line : NULL; /* NULL: the alarm's built-in line */
        hook_alarm.line_size = n >= 3 ? (size_t) n : 0;
        hook_alarm.out = out;
        hook_alarm.out_size = out ? strlen(out) : 0;
        hook_alarm.code = code;
        hook_sigalrm_block(false);
}

/* No alarm any more: whatever is written from here on is the main path's
 * alone (a signal already pending stays blocked until _exit). */
static void hook_alarm_disarm(void) {
        hook_sigalrm_block(true);
        alarm(0);
}

/* What is left of the deadline for a call, keeping HOOK_MARGIN; at most max. */
static usec_t hook_time_left(usec_t max) {
        usec_t left = usec_sub_unsigned(hook_deadline, usec_add(now_usec(CLOCK_MONOTONIC), HOOK_MARGIN));

        return MIN(left, max);
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

/* Calls a Manager method with a timeout. On failure, *ret_why says why
 * (malloc'd, NULL without memory) and *ret_priority how much it matters. */
static int hook_call(const char *method, usec_t timeout, sd_bus_message **ret_reply, char **ret_why,
                     int *ret_priority, const char *types, ...) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *address = NULL;
        va_list ap;
        int r;

        *ret_why = NULL;
        *ret_priority = LOG_WARNING;
        if (timeout < 100 * USEC_PER_MSEC) {
                if (asprintf(ret_why, "%s: no time left to ask vfod within %u s", method, HOOK_DEADLINE_SEC) <
                    0)
                        *ret_why = NULL;
                return -ETIMEDOUT;
        }
        r = hook_bus_open(timeout, &bus, &address);
        if (r < 0) {
                if (asprintf(ret_why, "vfod cannot be reached (%s: no connection to the bus %s: %s)", method,
                             address ?: "?", strerror(-r)) < 0)
                        *ret_why = NULL;
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
                if (asprintf(ret_why, "%s: cannot build the call: %s", method, strerror(-r)) < 0)
                        *ret_why = NULL;
                return r;
        }
        r = sd_bus_call(bus, m, timeout, &error, ret_reply);
        if (r < 0) {
                if (sd_bus_error_has_names(&error, "org.freedesktop.DBus.Error.ServiceUnknown",
                                           "org.freedesktop.DBus.Error.NameHasNoOwner")) {
                        *ret_priority = LOG_NOTICE;
                        r = asprintf(ret_why, "vfod is not running (nothing owns %s on %s)", VFO_SERVICE,
                                     address);
                } else if (sd_bus_error_has_name(&error, SD_BUS_ERROR_NO_REPLY) || r == -ETIMEDOUT)
                        r = asprintf(ret_why, "vfod did not answer %s within %.1f s", method,
                                     (double) timeout / USEC_PER_SEC);
                else if (sd_bus_error_is_set(&error))
                        r = asprintf(ret_why, "%s failed: %s (%s)", method, error.message ?: "", error.name);
                else
                        r = asprintf(ret_why, "%s failed: %s", method, strerror(-r));
                if (r < 0)
                        *ret_why = NULL;
                return -EIO;
        }
        return 0;
}

/* vfod did not answer, or not usefully: the fallback decided beforehand. */
static int hook_migrate_fallback(const HookFallback *fb, const char *why) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (hook_fallback_message(fb, hook_domain, why, &text) < 0)
                text = NULL;
        switch (fb->kind) {
        case HOOK_FALLBACK_REFUSE:
                /* libvirtd aborts the incoming migration and reports this text */
                hook_log(LOG_ERR, "%s",
                         text ?: "vfod is not answering and the domain requires a VF: refused.");
                return EXIT_FAILED;
        case HOOK_FALLBACK_STRIP:
                hook_log(LOG_WARNING, "%s", text ?: "vfod is not answering: removed the VF hostdevs.");
                r = write_all(STDOUT_FILENO, fb->xml, strlen(fb->xml));
                if (r < 0) {
                        /* libvirt would go on with a part of the XML, or with the source's VFs */
                        hook_log(LOG_ERR,
                                 "Cannot write the domain XML without its VF hostdevs: %s; refusing.",
                                 strerror(-r));
                        return EXIT_FAILED;
                }
                return EXIT_OK;
        case HOOK_FALLBACK_KEEP:
        default:
                hook_log(LOG_WARNING, "%s", text ?: "vfod is not answering; going on without vfo.");
                return EXIT_OK;
        }
}

static int hook_migrate_begin(const char *xml, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(hook_fallback_done) HookFallback fb = {};
        _cleanup_free_ char *why = NULL, *alarm_text = NULL;
        const char *new_xml = NULL, *message = NULL;
        int allow = 1, priority, r;

        r = hook_fallback_prepare(xml, size, &fb);
        if (r < 0) {
                hook_alarm_disarm();
                hook_log(LOG_ERR, "Incoming migration of %s refused: %s.", hook_domain, strerror(-r));
                return EXIT_FAILED;
        }
        if (hook_fallback_message(&fb, hook_domain, "no answer from vfod in time", &alarm_text) < 0)
                alarm_text = NULL;
        hook_alarm_set(fb.kind == HOOK_FALLBACK_STRIP ? fb.xml : NULL,
                       fb.kind == HOOK_FALLBACK_REFUSE ? EXIT_FAILED : EXIT_OK,
                       fb.kind == HOOK_FALLBACK_REFUSE ? LOG_ERR : LOG_WARNING, "%s",
                       alarm_text ?: "no answer from vfod in time; the fallback applies.");

        r = hook_call("HookMigrateBegin", hook_time_left(HOOK_MIGRATE_BEGIN_TIMEOUT), &reply, &why, &priority,
                      "s", xml);
        /* From here on, what is written is either vfod's answer or the fallback, whole. */
        hook_alarm_disarm();
        if (r < 0)
                return hook_migrate_fallback(&fb, why);
        r = sd_bus_message_read(reply, "bss", &allow, &new_xml, &message);
        if (r < 0) {
                if (asprintf(&why, "vfod's answer to HookMigrateBegin is not understood (%s)", strerror(-r)) <
                    0)
                        why = NULL;
                return hook_migrate_fallback(&fb, why);
        }
        if (!allow) {
                /* libvirtd aborts the incoming migration and reports this text */
                hook_log(LOG_ERR, "%s",
                         message && *message ? message
                                             : "vfod refuses the incoming migration (no reason given).");
                return EXIT_FAILED;
        }
        if (new_xml && *new_xml && !hook_answer_matches(&fb, new_xml))
                return hook_migrate_fallback(&fb, "vfod answered with an XML that is not this domain's");
        if (message && *message)
                hook_log(LOG_INFO, "%s", message);
        if (new_xml && *new_xml) {
                r = write_all(STDOUT_FILENO, new_xml, strlen(new_xml));
                if (r < 0) {
                        hook_log(LOG_ERR, "Cannot write the filtered domain XML: %s; refusing.",
                                 strerror(-r));
                        return EXIT_FAILED;
                }
        }
        return EXIT_OK;
}

static int hook_started(const char *xml, size_t size) {
        _cleanup_free_ char *why = NULL;
        char uuid[37];
        int priority, r;

        r = hook_uuid_from_xml(xml, size, uuid);
        if (r < 0) {
                hook_log(LOG_WARNING, "No domain UUID in the XML on stdin (%s); not telling vfod.",
                         r == -EBADMSG  ? "not a <domain> document"
                         : r == -ENOENT ? "no <uuid>"
                                        : "malformed <uuid>");
                return EXIT_OK;
        }
        r = hook_call("HookStarted", hook_time_left(HOOK_STARTED_TIMEOUT), NULL, &why, &priority, "s", uuid);
        hook_alarm_disarm();
        if (r < 0)
                hook_log(priority, "%s; going on without vfo.", why ?: "HookStarted failed");
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

        /* Opened now, for the alarm: write(2) to it is all a signal handler may do. */
        hook_alarm.journal_fd = sd_journal_stream_fd("vfoctl", LOG_WARNING, true);
        if (action == HOOK_ACTION_MIGRATE_BEGIN)
                /* Until the XML is read, whether it holds VFs of the source host is not known. */
                hook_alarm_set(
                        NULL, EXIT_FAILED, LOG_ERR,
                        "Incoming migration of %s refused: its domain XML did not come on stdin within "
                        "%u s, so its VF <hostdev>s could not be removed.",
                        hook_domain, HOOK_DEADLINE_SEC);
        else
                hook_alarm_set(NULL, EXIT_OK, LOG_WARNING,
                               "%s %s of %s: no answer from vfod in time; going on without vfo.", op, subop,
                               hook_domain);
        hook_deadline = usec_add(now_usec(CLOCK_MONOTONIC), HOOK_DEADLINE_SEC * USEC_PER_SEC);
        signal(SIGALRM, on_alarm);
        alarm(HOOK_DEADLINE_SEC);

        if (!isatty(STDIN_FILENO)) {
                r = hook_read_input(STDIN_FILENO, HOOK_INPUT_MAX, &xml, &size);
                if (r == -EFBIG) {
                        hook_alarm_disarm();
                        hook_log(LOG_WARNING, "The domain XML on stdin is larger than %u MiB; ignoring it.",
                                 HOOK_INPUT_MAX / (1024 * 1024));
                        return EXIT_OK;
                }
                if (r < 0) {
                        hook_alarm_disarm();
                        hook_log(LOG_WARNING, "Cannot read the domain XML on stdin: %s.", strerror(-r));
                        return EXIT_OK;
                }
        }
        if (size == 0 || memchr(xml, '\0', size)) {
                hook_alarm_disarm();
                hook_log(LOG_WARNING, "%s %s of %s: %s domain XML on stdin; not telling vfod.", op, subop,
                         hook_domain, size == 0 ? "no" : "a NUL byte in the");
                return EXIT_OK;
        }

        if (action == HOOK_ACTION_MIGRATE_BEGIN)
                return hook_migrate_begin(xml, size);
        return hook_started(xml, size);
}
