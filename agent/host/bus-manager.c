/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.vfo1.Manager at /org/vfo1: the daemon's methods and signals. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/bus-internal.h"
#include "agent/host/forward.h"
#include "agent/host/job.h"
#include "agent/host/migrate-options.h"
#include "lib/log.h"
#include "lib/string-util.h"
#include "lib/validate.h"

/* ------------------------------------------------------------ migration */


static int read_migrate_options(sd_bus_message *msg, MigrateRequest *req, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key, *contents;
                char type;

                r = sd_bus_message_enter_container(msg, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(msg, &type, &contents);
                if (r < 0)
                        return r;
                if (streq(key, "live") || streq(key, "p2p") || streq(key, "persistent") ||
                    streq(key, "undefine-source") || streq(key, "resume") || streq(key, "managed-switchover") ||
                    streq(key, "postcopy")) {
                        int b;
                        if (!streq(contents, "b"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' takes a boolean.", key);
                        r = sd_bus_message_read(msg, "v", "b", &b);
                        if (r < 0)
                                return r;
                        if (streq(key, "live"))
                                req->live = b;
                        else if (streq(key, "p2p"))
                                req->p2p = b;
                        else if (streq(key, "persistent"))
                                req->persistent = b;
                        else if (streq(key, "undefine-source"))
                                req->undefine_source = b;
                        else if (streq(key, "managed-switchover"))
                                req->managed_switchover = b;
                        else if (streq(key, "postcopy"))
                                req->postcopy = b;
                        else
                                req->resume = b;
                } else if (streq(key, "migrate-uri") || streq(key, "listen-address") || streq(key, "destination-bus")) {
                        const char *v;
                        if (!streq(contents, "s"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' takes a string.", key);
                        r = sd_bus_message_read(msg, "v", "s", &v);
                        if (r < 0)
                                return r;
                        if (strlen(v) > 1024 || !utf8_is_valid(v, 1024))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' is not a valid string.", key);
                        if (streq(key, "migrate-uri"))
                                req->migrate_uri = v;
                        else if (streq(key, "listen-address"))
                                req->listen_address = v;
                        else
                                req->destination_bus = v;
                } else if (streq(key, "bandwidth") || streq(key, "timeout")) {
                        uint64_t t;
                        if (!streq(contents, "t"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Option '%s' takes a uint64 ('t').", key);
                        r = sd_bus_message_read(msg, "v", "t", &t);
                        if (r < 0)
                                return r;
                        if (streq(key, "bandwidth"))
                                req->bandwidth = t;
                        else {
                                if (t > 7 * 24 * 3600)
                                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Timeout %" PRIu64 " s is out of range.", t);
                                req->timeout = t * USEC_PER_SEC;
                        }
                } else
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                 "Unknown migration option '%s' (see org.vfo1(5)).", key);
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(msg);
}

/* Every string that reaches libvirt, libvirtd or sd-bus as an address:
 * a caller who is not root gets the allow-lists of migrate-options.h. */
static int check_migrate_strings(const MigrateRequest *req, bool privileged, sd_bus_error *error) {
        char why[MIGRATE_WHY_MAX] = "";
        int r;

        r = migrate_check_destination(req->destination, privileged, why);
        if (r >= 0 && req->migrate_uri)
                r = migrate_check_data_uri(req->migrate_uri, privileged, why);
        if (r >= 0 && req->listen_address)
                r = migrate_check_listen_address(req->listen_address, privileged, why);
        if (r >= 0 && req->destination_bus)
                r = migrate_check_bus_address(req->destination_bus, privileged, why);
        if (r == -EPERM)
                return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "%s", why);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%s", why[0] ? why : strerror(-r));
        return 0;
}

static int method_migrate(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        MigrateRequest req = { .live = true, .p2p = true };
        const char *s, *dest;
        Failure f = {};
        bool privileged;
        Domain *d;
        Job *j;
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        privileged = r > 0;
        r = sd_bus_message_read(msg, "ss", &s, &dest);
        if (r < 0)
                return r;
        req.destination = dest;
        r = read_migrate_options(msg, &req, error);
        if (r < 0)
                return r;
        if (req.postcopy && (!req.managed_switchover || !req.live))
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Option 'postcopy' goes with 'managed-switchover' (vfod starts post-copy "
                                         "at the handover) and a live migration.");
        r = check_migrate_strings(&req, privileged, error);
        if (r < 0)
                return r;
        r = manager_check_connected(m, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        d = manager_lookup_domain(m, s, &f);
        if (!d)
                return bus_set_failure(error, -ENOENT, &f);
        r = manager_migrate(m, d, &req, &j, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        return bus_reply_job(msg, j);
}

/* libvirt's hook on this host, before an incoming domain starts. */
static int method_hook_migrate_begin(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL, *xml_out = NULL;
        Manager *m = userdata;
        const char *xml;
        Failure f = {};
        bool allow;
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &xml);
        if (r < 0)
                return r;
        r = manager_hook_migrate_begin(m, xml, &allow, &xml_out, &why, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        return sd_bus_reply_method_return(msg, "bss", allow, xml_out ?: "", why ?: "");
}

static int method_hook_started(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *uuid;
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &uuid);
        if (r < 0)
                return r;
        if (!uuid_is_valid(uuid))
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID.", uuid);
        log_debug("Hook: domain %s started here.", uuid);
        manager_refresh_soon(m, uuid);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_prepare_incoming(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(strv_freep) char **macs = NULL;
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;
        const char *uuid, *pool_name;
        Failure f = {};
        int required, r;
        size_t n = 0;
        bool ok;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "ssb", &uuid, &pool_name, &required);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(msg, &macs);
        if (r < 0)
                return r;
        while (macs && macs[n])
                n++;
        r = manager_prepare_incoming(m, uuid, pool_name, required, macs, n, &ok, &why, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        return sd_bus_reply_method_return(msg, "bs", ok, why ?: "");
}

/* The destination of a migration: the source is about to let QEMU switch
 * over; frames for its ports must come here from now on (they wait in the
 * new tap until the domain runs here). */
static int method_handover(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *uuid;
        Failure f = {};
        unsigned n = 0;
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &uuid);
        if (r < 0)
                return r;
        r = manager_handover(m, uuid, NULL, false, &n, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        return sd_bus_reply_method_return(msg, "u", n);
}

/* The "tunnels" of HandoverEx's answer: (MAC, VNI) of each port of 'uuid'
 * that has this host's end of a forwarding tunnel; with 'reply' NULL, only
 * how many. */
static int append_tunnels(sd_bus_message *reply, Manager *m, const char *uuid) {
        Domain *d = domain_by_uuid(m, uuid);
        int n = 0, r = 0;

        if (reply)
                r = sd_bus_message_open_container(reply, 'a', "(su)");
        for (size_t i = 0; r >= 0 && d && i < d->n_ports; i++) {
                const Forward *fw = forward_find(m, uuid, d->ports[i]->mac, true);

                if (!fw)
                        continue;
                if (reply)
                        r = sd_bus_message_append(reply, "(su)", d->ports[i]->mac, forward_vni(fw));
                n++;
        }
        if (r >= 0 && reply)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : n;
}

/* Handover with options: "forward-from" (s), the source's ForwardAddress=;
 * "prepare" (b), only ready the taps (and open the tunnels). The answer's
 * dictionary, when a tunnel is open: "address" (s), "port" (q), "tunnels"
 * (a(su): MAC, VNI); else empty. Keys this vfod does not know are ignored
 * (a newer source may send more). */
static int method_handover_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        const char *uuid, *key, *forward_from = NULL;
        int prepare = false;
        Failure f = {};
        unsigned n = 0;
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &uuid);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *contents;
                char type;

                r = sd_bus_message_read(msg, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(msg, &type, &contents);
                if (r < 0)
                        return r;
                if (streq(key, "forward-from")) {
                        if (!streq(contents, "s"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                         "Option '%s' takes a string (an IP address).", key);
                        r = sd_bus_message_read(msg, "v", "s", &forward_from);
                } else if (streq(key, "prepare")) {
                        if (!streq(contents, "b"))
                                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                                         "Option '%s' takes a boolean.", key);
                        r = sd_bus_message_read(msg, "v", "b", &prepare);
                } else
                        r = sd_bus_message_skip(msg, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(msg);
        if (r < 0)
                return r;

        r = manager_handover(m, uuid, forward_from, prepare, &n, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "u", n);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0 && append_tunnels(NULL, m, uuid) > 0) {
                r = sd_bus_message_append(reply, "{sv}{sv}", "address", "s", m->config->forward_address, "port", "q",
                                          m->config->forward_port);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", "tunnels");
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'v', "a(su)");
                if (r >= 0)
                        r = append_tunnels(reply, m, uuid);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ------------------------------------------------------------- methods */

static int method_get_domain(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s;
        Domain *d;
        int r;

        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        d = manager_find_domain(m, s);
        if (d && !bus_caller_may_see(m, msg, d))
                d = NULL;       /* answered like a domain that does not exist */
        if (!d) {
                Failure f = {};

                return bus_set_failure(error, manager_domain_not_found(m, s, &f), &f);
        }
        return sd_bus_reply_method_return(msg, "o", d->path);
}

static int method_attach_detach(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s, *mac;
        Domain *d;
        Failure f = {};
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "ss", &s, &mac);
        if (r < 0)
                return r;
        d = manager_lookup_domain(m, s, &f);
        if (!d)
                return bus_set_failure(error, -ENOENT, &f);
        return bus_attach_detach(msg, d, mac, error);
}

static int method_set_policy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s, *pool;
        uint32_t prio;
        int req, r;
        Failure f = {};
        Domain *d;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "ssub", &s, &pool, &prio, &req);
        if (r < 0)
                return r;
        d = manager_lookup_domain(m, s, &f);
        if (!d)
                return bus_set_failure(error, -ENOENT, &f);
        return bus_set_policy(msg, d, &(VirtPolicy) { .priority = prio, .required = req }, pool, error);
}

static int method_clear_policy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *s;
        Domain *d;
        Failure f = {};
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        d = manager_lookup_domain(m, s, &f);
        if (!d)
                return bus_set_failure(error, -ENOENT, &f);
        return bus_set_policy(msg, d, NULL, NULL, error);
}

/* Host servicing: Drain(pool) -> the jobs to wait for; Restore(pool). */
static int method_drain(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ Job **jobs = NULL;
        Manager *m = userdata;
        const char *pool;
        Failure f = {};
        size_t n = 0;
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &pool);
        if (r < 0)
                return r;
        r = manager_drain(m, pool, &jobs, &n, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "o");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "o", jobs[i]->path);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_restore(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *pool;
        Failure f = {};
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(msg, "s", &pool);
        if (r < 0)
                return r;
        r = manager_restore(m, pool, &f);
        if (r < 0)
                return bus_set_failure(error, r, &f);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;
        int r;

        r = bus_check_admin(m, msg, error);
        if (r < 0)
                return r;
        r = manager_reload(m, &why);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_CONFIG_INVALID, "%s; the running configuration is unchanged.",
                                         why ?: strerror(-r));
        return sd_bus_reply_method_return(msg, NULL);
}

static int prop_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int prop_libvirt_uri(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", virt_get_uri(m->virt) ?: "");
}

static int prop_libvirt_connected(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "b", virt_is_connected(m->virt));
}

static int prop_object_list(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        if (strcmp(property, "Pools") == 0)
                for (size_t i = 0; i < m->n_pools && r >= 0; i++)
                        r = sd_bus_message_append(reply, "o", m->pools[i]->path);
        else if (strcmp(property, "Domains") == 0)
                for (size_t i = 0; i < m->n_domains && r >= 0; i++) {
                        if (m->domains[i]->exported)
                                r = sd_bus_message_append(reply, "o", m->domains[i]->path);
                }
        else
                for (size_t i = 0; i < m->n_jobs && r >= 0; i++)
                        r = sd_bus_message_append(reply, "o", m->jobs[i]->path);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", prop_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LibvirtURI", "s", prop_libvirt_uri, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LibvirtConnected", "b", prop_libvirt_connected, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Pools", "ao", prop_object_list, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Domains", "ao", prop_object_list, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Jobs", "ao", prop_object_list, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetDomain", SD_BUS_ARGS("s", domain), SD_BUS_RESULT("o", path), method_get_domain,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Attach", SD_BUS_ARGS("s", domain, "s", mac), SD_BUS_RESULT("o", job),
                                method_attach_detach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("s", domain, "s", mac), SD_BUS_RESULT("o", job),
                                method_attach_detach, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetPolicy", SD_BUS_ARGS("s", domain, "s", pool, "u", priority, "b", required),
                                SD_BUS_NO_RESULT, method_set_policy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ClearPolicy", SD_BUS_ARGS("s", domain), SD_BUS_NO_RESULT, method_clear_policy,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", NULL, NULL, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Drain", SD_BUS_ARGS("s", pool), SD_BUS_RESULT("ao", jobs), method_drain,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Restore", SD_BUS_ARGS("s", pool), SD_BUS_NO_RESULT, method_restore,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Migrate", SD_BUS_ARGS("s", domain, "s", destination_uri, "a{sv}", options),
                                SD_BUS_RESULT("o", job), method_migrate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("HookMigrateBegin", SD_BUS_ARGS("s", domain_xml),
                                SD_BUS_RESULT("b", allow, "s", new_xml, "s", message), method_hook_migrate_begin,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("HookStarted", SD_BUS_ARGS("s", uuid), SD_BUS_NO_RESULT, method_hook_started,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Handover", SD_BUS_ARGS("s", uuid), SD_BUS_RESULT("u", ports), method_handover,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("HandoverEx", SD_BUS_ARGS("s", uuid, "a{sv}", options),
                                SD_BUS_RESULT("u", ports, "a{sv}", forward), method_handover_ex,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PrepareIncoming", SD_BUS_ARGS("s", uuid, "s", pool, "b", required, "as", macs),
                                SD_BUS_RESULT("b", ok, "s", message), method_prepare_incoming,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobNew", SD_BUS_ARGS("o", job, "s", kind, "o", domain), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobFinished", SD_BUS_ARGS("o", job, "s", state), 0),
        SD_BUS_VTABLE_END,
};


int bus_manager_register(Manager *m) {
        return sd_bus_add_object_vtable(m->bus, NULL, VFO_PATH, VFO_MANAGER_IFACE, manager_vtable, m);
}
