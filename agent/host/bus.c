/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod on the bus: the connection, the caller's privilege, the names of
 * the errors, and the signals the core emits. Each object's interface is
 * in its own file (bus-manager.c, bus-domain.c, bus-pool.c, bus-job.c). */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/bus-internal.h"
#include "agent/host/job.h"
#include "lib/log.h"
#include "lib/loop-watch.h"

/* ---------------------------------------------------------- privilege */

/* The bus policy already keeps others out; this is the second check, from
 * the caller's credentials as the bus daemon reports them. Returns 1 for
 * root, 0 for a member of AdminGroup=, else an AccessDenied error. */
int bus_check_admin(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        const gid_t *gids = NULL;
        struct group *g;
        uid_t euid;
        gid_t egid;
        int r, n;

        r = sd_bus_query_sender_creds(msg,
                                      SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS |
                                              SD_BUS_CREDS_AUGMENT,
                                      &c);
        if (r < 0)
                /* A caller in another PID namespace (a container's bus
                 * reached through its socket from outside) has no process
                 * here to complete the credentials from: what the bus
                 * daemon itself knows (SO_PEERCRED) is all there is. */
                r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                                           SD_BUS_CREDS_SUPPLEMENTARY_GIDS,
                                              &c);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "Cannot read the caller's credentials: %s.",
                                         strerror(-r));
        r = sd_bus_creds_get_euid(c, &euid);
        if (r < 0)
                r = sd_bus_creds_get_uid(c, &euid);
        if (r >= 0 && euid == 0)
                return 1;
        g = m->config->group ? getgrnam(m->config->group) : NULL;
        if (g) {
                if (sd_bus_creds_get_egid(c, &egid) >= 0 && egid == g->gr_gid)
                        return 0;
                n = sd_bus_creds_get_supplementary_gids(c, &gids);
                for (int i = 0; i < n; i++)
                        if (gids[i] == g->gr_gid)
                                return 0;
        }
        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                 "Changing vfo needs root or membership in the group '%s' (AdminGroup= in vfod.conf).",
                                 m->config->group ?: "vfo");
}

/* ------------------------------------------------------------ helpers */

void strv_freep(char ***p) {
        for (char **s = *p; s && *s; s++)
                free(*s);
        free(*p);
}

/* Appends a copy of 'path' to the NULL-terminated list of a node enumerator. */
int bus_nodes_add(char ***l, size_t *n, const char *path) {
        char **a = reallocarray(*l, *n + 2, sizeof(char *));

        if (!a)
                return -ENOMEM;
        *l = a;
        a[*n] = strdup(path);
        if (!a[*n])
                return -ENOMEM;
        a[++*n] = NULL;
        return 0;
}

void bus_emit_changed(Manager *m, const char *path, const char *interface, ...) {
        const char *names[16];
        size_t n = 0;
        va_list ap;

        /* Nobody can have read anything before the first reconcile: one
         * Domains change at its end instead of one signal per domain. */
        if (!m->bus || !m->reconciled)
                return;
        va_start(ap, interface);
        for (const char *s = va_arg(ap, const char *); s && n < ELEMENTSOF(names) - 1; s = va_arg(ap, const char *))
                names[n++] = s;
        va_end(ap);
        names[n] = NULL;
        (void) sd_bus_emit_properties_changed_strv(m->bus, path, interface, (char **) names);
}

/* A domain that did not opt in (and holds no VF) is not exported: only
 * root and AdminGroup may look at it (its name, UUID and MACs are not
 * everyone's business). */
bool bus_caller_may_see(Manager *m, sd_bus_message *msg, const Domain *d) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        return d->exported || (msg && bus_check_admin(m, msg, &e) >= 0);
}

int bus_reply_job(sd_bus_message *msg, const Job *j) {
        return sd_bus_reply_method_return(msg, "o", j->path);
}

/* ------------------------------------------------------------- errors */

const char *bus_error_name(VfoError e) {
        static const char *const table[_VFO_ERROR_MAX] = {
                [VFO_ERROR_NONE] = "",
                [VFO_ERROR_NO_SUCH_DOMAIN] = BUS_ERROR_NO_SUCH_DOMAIN,
                [VFO_ERROR_BUSY] = BUS_ERROR_BUSY,
                [VFO_ERROR_NOT_RUNNING] = BUS_ERROR_NOT_RUNNING,
                [VFO_ERROR_PAUSED] = BUS_ERROR_PAUSED,
                [VFO_ERROR_NO_AGENT] = BUS_ERROR_NO_AGENT,
                [VFO_ERROR_AGENT_TIMEOUT] = BUS_ERROR_AGENT_TIMEOUT,
                [VFO_ERROR_AGENT_REFUSED] = BUS_ERROR_AGENT_REFUSED,
                [VFO_ERROR_LIBVIRT] = BUS_ERROR_LIBVIRT,
                [VFO_ERROR_UNPLUG_FAILED] = BUS_ERROR_UNPLUG_FAILED,
                [VFO_ERROR_SWITCH_FAILED] = BUS_ERROR_SWITCH_FAILED,
                [VFO_ERROR_NO_VF_FREE] = BUS_ERROR_NO_VF_FREE,
                [VFO_ERROR_NO_SUCH_PORT] = BUS_ERROR_NO_SUCH_PORT,
                [VFO_ERROR_NOT_ATTACHED] = BUS_ERROR_NOT_ATTACHED,
                [VFO_ERROR_NO_SUCH_POOL] = BUS_ERROR_NO_SUCH_POOL,
                [VFO_ERROR_INVALID_ARGUMENT] = BUS_ERROR_INVALID_ARGUMENT,
                [VFO_ERROR_CONFIG_INVALID] = BUS_ERROR_CONFIG_INVALID,
                [VFO_ERROR_NOT_CONNECTED] = BUS_ERROR_NOT_CONNECTED,
                [VFO_ERROR_ALREADY_ATTACHED] = BUS_ERROR_ALREADY_ATTACHED,
                [VFO_ERROR_INTERNAL] = BUS_ERROR_INTERNAL,
                [VFO_ERROR_CANCELLED] = BUS_ERROR_CANCELLED,
                [VFO_ERROR_DRAINED] = BUS_ERROR_DRAINED,
        };
        return e >= 0 && e < _VFO_ERROR_MAX && table[e] ? table[e] : BUS_ERROR_INTERNAL;
}

int bus_set_failure(sd_bus_error *error, int r, const Failure *f) {
        if (f->error == VFO_ERROR_NONE)
                return sd_bus_error_set_errnof(error, -r, "%s", strerror(-r));
        return sd_bus_error_set(error, bus_error_name(f->error), f->message);
}

/* --------------------------------------------------------------- events */

void bus_job_new(Job *j) {
        Manager *m = j->manager;

        if (!m->bus)
                return;
        (void) sd_bus_emit_object_added(m->bus, j->path);
        (void) sd_bus_emit_signal(m->bus, VFO_PATH, VFO_MANAGER_IFACE, "JobNew", "oso", j->path,
                                  job_kind_to_string(j->kind), j->domain->path);
        bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", NULL);
}

void bus_job_finished(Job *j) {
        Manager *m = j->manager;

        if (!m->bus)
                return;
        (void) sd_bus_emit_signal(m->bus, VFO_PATH, VFO_MANAGER_IFACE, "JobFinished", "os", j->path,
                                  job_state_to_string(j->state));
}

void bus_job_removed(Job *j) {
        Manager *m = j->manager;

        if (!m->bus)
                return;
        (void) sd_bus_emit_object_removed(m->bus, j->path);
        bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "Jobs", NULL);
}

void bus_domain_exported(Domain *d, bool exported) {
        Manager *m = d->manager;

        if (!m->bus || !m->reconciled)
                return;
        if (exported)
                (void) sd_bus_emit_object_added(m->bus, d->path);
        else
                (void) sd_bus_emit_object_removed(m->bus, d->path);
        bus_emit_changed(m, VFO_PATH, VFO_MANAGER_IFACE, "Domains", NULL);
}

/* Each message in: a note for the loop watch (what a slow turn handled). */
static int bus_note_message(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        loop_watch_note("D-Bus:", sd_bus_message_get_member(message));
        return 0;
}

int bus_setup(Manager *m, const char *address) {
        int r;

        if (address) {
                r = sd_bus_new(&m->bus);
                if (r >= 0)
                        r = sd_bus_set_address(m->bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(m->bus, true);
                if (r >= 0)
                        r = sd_bus_start(m->bus);
        } else
                r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %m");

        if ((r = bus_manager_register(m)) < 0 || (r = bus_domain_register(m)) < 0 || (r = bus_pool_register(m)) < 0 ||
            (r = bus_job_register(m)) < 0 || (r = sd_bus_add_object_manager(m->bus, NULL, VFO_PATH)) < 0)
                return log_error_errno(r, "Cannot register the D-Bus objects: %m");

        r = sd_bus_add_filter(m->bus, NULL, bus_note_message, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the bus's messages: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m");
        r = sd_bus_request_name(m->bus, VFO_SERVICE, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot take the bus name org.vfo1 (another vfod, or the policy file is missing): %m");
        return 0;
}
