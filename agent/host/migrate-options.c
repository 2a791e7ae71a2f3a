/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/uri.h>
#include <libxml/xmlmemory.h>

#include "agent/host/migrate-options.h"
#include "lib/macro.h"
#include "lib/string-util.h"

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:"
#define USER_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"

_printf_(3, 4) static int refuse(int r, char *why, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(why, MIGRATE_WHY_MAX, format, ap);
        va_end(ap);
        return r;
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static bool only(const char *s, const char *chars) {
        return strspn(s, chars) == strlen(s);
}

/* A host name, an IPv4 address, or an IPv6 address (bare, or in brackets
 * as libxml2 leaves it in a URI's server). Never an option. */
static bool host_is_plain(const char *host) {
        size_t n;

        if (isempty(host) || host[0] == '-' || (n = strlen(host)) > 253)
                return false;
        if (host[0] == '[')
                return n > 2 && host[n - 1] == ']' && strspn(host + 1, "0123456789abcdefABCDEF:.") == n - 2;
        return only(host, HOST_CHARS);
}

bool migrate_ssh_host_is_safe(const char *host) {
        const char *at;

        if (isempty(host))
                return false;
        at = strchr(host, '@');
        if (at) {
                _cleanup_free_ char *user = strndup(host, (size_t) (at - host));

                if (!user || isempty(user) || user[0] == '-' || !only(user, USER_CHARS))
                        return false;
                host = at + 1;
        }
        return host_is_plain(host) && !strchr(host, ':');
}

static void xml_uri_freep(xmlURI **u) {
        if (*u)
                xmlFreeURI(*u);
}

static bool one_of(const char *s, const char *const *list) {
        for (; *list; list++)
                if (streq(s, *list))
                        return true;
        return false;
}

/* The query of a libvirt URI, split as libvirt splits it ('&' or ';'
 * between parameters, '=' before the value). Names must be allowed ones,
 * spelled plainly: an escaped name is refused rather than decoded, so no
 * spelling of "command" can get through. */
static int check_libvirt_query(const char *query, const char *scheme, char *why) {
        static const char *const allowed[] = { "socket", "no_verify", "no_tty", "mode", "proxy", NULL };
        _cleanup_free_ char *copy = strdup(query);
        char *p, *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (p = strtok_r(copy, "&;", &save); p; p = strtok_r(NULL, "&;", &save)) {
                _cleanup_free_ char *value = NULL;
                char *eq = strchr(p, '=');

                if (eq)
                        *eq = '\0';
                if (!one_of(p, allowed))
                        return refuse(-EPERM, why,
                                      "The destination URI's parameter '%.64s' is for root only; allowed are socket, no_verify, no_tty, mode and proxy.",
                                      p);
                value = eq ? xmlURIUnescapeString(eq + 1, 0, NULL) : strdup("");
                if (!value)
                        return -ENOMEM;
                if (has_control(value))
                        return refuse(-EINVAL, why, "The destination URI's parameter '%s' has control characters.", p);
                if (streq(p, "socket") && (value[0] != '/' || !(streq(scheme, "qemu+unix") || startswith(scheme, "qemu+ssh") ||
                                                                startswith(scheme, "qemu+libssh"))))
                        return refuse(-EPERM, why,
                                      "socket= takes an absolute path, and only with qemu+unix:// or an ssh transport.");
        }
        return 0;
}

int migrate_check_destination(const char *uri, bool privileged, char *why) {
        static const char *const schemes[] = { "qemu",        "qemu+tcp",     "qemu+tls",  "qemu+ssh",
                                               "qemu+libssh", "qemu+libssh2", "qemu+unix", NULL };
        _cleanup_(xml_uri_freep) xmlURI *u = NULL;
        int r;

        if (isempty(uri) || strlen(uri) > 1024 || has_control(uri))
                return refuse(-EINVAL, why, "The destination URI is empty, too long or has control characters.");
        u = xmlParseURI(uri);
        if (!u || !u->scheme)
                return refuse(-EINVAL, why, "The destination URI '%.128s' does not parse as a URI.", uri);
        if (privileged)
                return 0;
        if (!one_of(u->scheme, schemes))
                return refuse(-EPERM, why,
                              "The transport '%.32s' is for root only; use qemu, qemu+tcp, qemu+tls, qemu+ssh or qemu+unix.",
                              u->scheme);
        if (!streq_ptr(u->path, "/system"))
                return refuse(-EPERM, why, "The destination URI must name the system instance (/system).");
        if (u->fragment || u->opaque)
                return refuse(-EINVAL, why, "The destination URI has a fragment or no hierarchy.");
        if (u->server && !host_is_plain(u->server))
                return refuse(-EINVAL, why, "The destination host '%.64s' is not a host name or address.", u->server);
        if (u->user && (u->user[0] == '-' || !only(u->user, USER_CHARS)))
                return refuse(-EINVAL, why, "The destination URI's user name is not plain.");
        if (u->query_raw) {
                r = check_libvirt_query(u->query_raw, u->scheme, why);
                if (r < 0)
                        return r;
        }
        return 0;
}

int migrate_check_data_uri(const char *uri, bool privileged, char *why) {
        _cleanup_(xml_uri_freep) xmlURI *u = NULL;

        if (isempty(uri) || strlen(uri) > 1024 || has_control(uri))
                return refuse(-EINVAL, why, "The migration URI is empty, too long or has control characters.");
        u = xmlParseURI(uri);
        if (!u || !u->scheme)
                return refuse(-EINVAL, why, "The migration URI '%.128s' does not parse as a URI.", uri);
        if (privileged)
                return 0;
        if (!streq(u->scheme, "tcp") && !streq(u->scheme, "rdma"))
                return refuse(-EPERM, why, "The migration URI's scheme '%.32s' is for root only; use tcp:// or rdma://.",
                              u->scheme);
        if (!host_is_plain(u->server) || u->user || u->query_raw || u->fragment || !(isempty(u->path) || streq(u->path, "/")))
                return refuse(-EINVAL, why, "The migration URI must be %s://HOST[:PORT], nothing else.", u->scheme);
        return 0;
}

int migrate_check_listen_address(const char *address, bool privileged, char *why) {
        if (isempty(address) || strlen(address) > 255 || has_control(address))
                return refuse(-EINVAL, why, "The listen address is empty, too long or has control characters.");
        if (privileged)
                return 0;
        if (!host_is_plain(address))
                return refuse(-EINVAL, why, "The listen address '%.64s' is not an IP address or host name.", address);
        return 0;
}

int migrate_check_bus_address(const char *address, bool privileged, char *why) {
        _cleanup_free_ char *copy = NULL;
        const char *rest;
        char *p, *save = NULL;
        int n_where = 0;

        if (isempty(address) || strlen(address) > 1024 || has_control(address))
                return refuse(-EINVAL, why, "The destination bus address is empty, too long or has control characters.");
        if (privileged)
                return 0;
        rest = startswith(address, "unix:");
        if (!rest || strpbrk(address, ";%"))
                return refuse(-EPERM, why,
                              "Only root may give a destination bus other than one unix:path=/... or unix:abstract=... address.");
        copy = strdup(rest);
        if (!copy)
                return -ENOMEM;
        for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                const char *v;

                if ((v = startswith(p, "path="))) {
                        if (v[0] != '/')
                                return refuse(-EINVAL, why, "The destination bus's path= is not absolute.");
                        n_where++;
                } else if ((v = startswith(p, "abstract=")) && *v)
                        n_where++;
                else if (!startswith(p, "guid="))
                        return refuse(-EPERM, why, "The destination bus address's key '%.32s' is for root only.", p);
        }
        if (n_where != 1)
                return refuse(-EINVAL, why, "The destination bus address needs exactly one path= or abstract=.");
        return 0;
}
