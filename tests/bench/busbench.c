/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfo-busbench: latency of vfod's D-Bus API as a client sees it.
 *
 * Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS), reads Manager.Domains
 * and every pool's VFs, times one ObjectManager.GetManagedObjects, then N
 * org.freedesktop.DBus.Properties.GetAll calls on random Domain objects and
 * N on random VF objects, one synchronous call at a time (CLOCK_MONOTONIC
 * around each). Prints one JSON line per kind of call. A benchmark, not a
 * test: it only fails when a call fails. Used by tests/bench/vfod-scale.sh. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "lib/macro.h"
#include "lib/time-util.h"

#define DEST "org.vfo1"
#define MANAGER_PATH "/org/vfo1"

static unsigned arg_calls = 2000;
static unsigned arg_seed = 1;

static void strv_free(char **l) {
        for (char **s = l; s && *s; s++)
                free(*s);
        free(l);
}
DEFINE_CLEANUP_FUNC(char *, strv_free);

static size_t strv_length(char **l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

static int strv_extend_strv(char ***a, char **b) {
        size_t na = strv_length(*a), nb = strv_length(b);
        char **l;

        l = reallocarray(*a, na + nb + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < nb; i++)
                if (!(l[na + i] = strdup(b[i]))) {
                        l[na + i] = NULL;
                        *a = l;
                        return -ENOMEM;
                }
        l[na + nb] = NULL;
        *a = l;
        return 0;
}

static int fail(int r, const sd_bus_error *error, const char *what) {
        fprintf(stderr, "vfo-busbench: %s: %s\n", what,
                error && sd_bus_error_is_set(error) ? error->message ?: error->name : strerror(-r));
        return r;
}

static int get_paths(sd_bus *bus, const char *path, const char *interface, const char *property, char ***ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_get_property(bus, DEST, path, interface, property, &error, &reply, "ao");
        if (r < 0)
                return fail(r, &error, property);
        r = sd_bus_message_read_strv(reply, ret);
        if (r < 0)
                return fail(r, NULL, property);
        return 0;
}

static int cmp_usec(const void *a, const void *b) {
        usec_t x = *(const usec_t *) a, y = *(const usec_t *) b;

        return x < y ? -1 : x > y;
}

/* nearest rank */
static double percentile_ms(const usec_t *sorted, size_t n, unsigned p) {
        size_t k = (n * p + 99) / 100;

        if (n == 0)
                return 0;
        k = k == 0 ? 0 : k - 1;
        return (double) sorted[MIN(k, n - 1)] / USEC_PER_MSEC;
}

static int bench_getall(sd_bus *bus, char **paths, const char *interface) {
        _cleanup_free_ usec_t *t = NULL;
        size_t n = strv_length(paths);
        usec_t total = 0;

        if (n == 0) {
                fprintf(stderr, "vfo-busbench: no objects with %s to call.\n", interface);
                return -ENOENT;
        }
        t = calloc(arg_calls, sizeof(usec_t));
        if (!t)
                return -ENOMEM;
        for (unsigned i = 0; i < arg_calls; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *path = paths[(size_t) random() % n];
                usec_t t0;
                int r;

                t0 = now_usec(CLOCK_MONOTONIC);
                r = sd_bus_call_method(bus, DEST, path, "org.freedesktop.DBus.Properties", "GetAll", &error,
                                       &reply, "s", interface);
                t[i] = now_usec(CLOCK_MONOTONIC) - t0;
                if (r < 0)
                        return fail(r, &error, path);
                total += t[i];
        }
        qsort(t, arg_calls, sizeof(usec_t), cmp_usec);
        printf("{\"what\":\"GetAll %s\",\"objects\":%zu,\"calls\":%u,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
               "\"max_ms\":%.3f,\"mean_ms\":%.3f}\n",
               interface, n, arg_calls, percentile_ms(t, arg_calls, 50), percentile_ms(t, arg_calls, 99),
               (double) t[arg_calls - 1] / USEC_PER_MSEC, (double) total / arg_calls / USEC_PER_MSEC);
        fflush(stdout);
        return 0;
}

static int bench_managed_objects(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        unsigned objects = 0;
        usec_t t0, t;
        int r;

        t0 = now_usec(CLOCK_MONOTONIC);
        r = sd_bus_call_method(bus, DEST, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                               &error, &reply, NULL);
        t = now_usec(CLOCK_MONOTONIC) - t0;
        if (r < 0)
                return fail(r, &error, "GetManagedObjects");

        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        while (r > 0) {
                r = sd_bus_message_skip(reply, "{oa{sa{sv}}}");
                if (r > 0)
                        objects++;
        }
        if (r < 0)
                return fail(r, NULL, "GetManagedObjects reply");
        printf("{\"what\":\"GetManagedObjects\",\"objects\":%u,\"calls\":1,\"ms\":%.3f}\n", objects,
               (double) t / USEC_PER_MSEC);
        fflush(stdout);
        return 0;
}

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Times vfod's D-Bus API on the system bus (DBUS_SYSTEM_BUS_ADDRESS): one GetManagedObjects,\n"
               "then N Properties.GetAll on random org.vfo1.Domain and org.vfo1.VF objects.\n"
               "Prints one JSON line per kind of call.\n\n"
               "  -h --help         this help\n"
               "  -n --calls N      GetAll calls per kind of object (default %u)\n"
               "     --seed N       seed of the object choice (default %u)\n",
               program_invocation_short_name, arg_calls, arg_seed);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_SEED = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "calls", required_argument, NULL, 'n' },
                { "seed", required_argument, NULL, ARG_SEED },
                {}
        };
        unsigned long v;
        char *end;
        int c;

        while ((c = getopt_long(argc, argv, "hn:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'n':
                case ARG_SEED:
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno != 0 || *end || end == optarg || v > 10000000 || (c == 'n' && v == 0)) {
                                fprintf(stderr, "vfo-busbench: invalid number '%s'.\n", optarg);
                                return -EINVAL;
                        }
                        if (c == 'n')
                                arg_calls = v;
                        else
                                arg_seed = v;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        assert_not_reached();
                }
        if (optind < argc) {
                fprintf(stderr, "vfo-busbench: unexpected argument '%s'.\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(strv_freep) char **domains = NULL, **pools = NULL, **vfs = NULL;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        srandom(arg_seed);

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return fail(r, NULL, "cannot connect to the system bus"), 1;

        if (get_paths(bus, MANAGER_PATH, "org.vfo1.Manager", "Domains", &domains) < 0 ||
            get_paths(bus, MANAGER_PATH, "org.vfo1.Manager", "Pools", &pools) < 0)
                return 1;
        for (char **p = pools; *p; p++) {
                _cleanup_(strv_freep) char **l = NULL;

                if (get_paths(bus, *p, "org.vfo1.Pool", "VFs", &l) < 0)
                        return 1;
                if (strv_extend_strv(&vfs, l) < 0)
                        return fail(-ENOMEM, NULL, "VFs"), 1;
        }

        if (bench_managed_objects(bus) < 0 || bench_getall(bus, domains, "org.vfo1.Domain") < 0 ||
            bench_getall(bus, vfs, "org.vfo1.VF") < 0)
                return 1;
        return 0;
}
