/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: command line client of vfod's D-Bus API (org.vfo1(5)): the
 * options, the help, and the commands of show.c, change.c, watch.c and
 * hook-main.c by name. */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/common.h"
#include "agent/ctl/vfoctl.h"
#include "agent/ctl/watch.h"
#include "lib/log.h"
#include "lib/parse-util.h"

static bool arg_migrate_any = false;            /* a migrate-only option was given */

static int cmd_monitor_args(sd_bus *bus, char **args) {
        return cmd_monitor(bus);
}

typedef struct Verb {
        const char *name;
        unsigned min_args;
        unsigned max_args;
        int (*run)(sd_bus *bus, char **args);
} Verb;

static const Verb verbs[] = {
        { "status", 0, 0, cmd_status },
        { "domains", 0, 0, cmd_domains },
        { "pools", 0, 0, cmd_pools },
        { "vfs", 0, 0, cmd_vfs },
        { "jobs", 0, 0, cmd_jobs },
        { "attach", 1, 2, cmd_attach },
        { "detach", 1, 2, cmd_detach },
        { "migrate", 2, 3, cmd_migrate },
        { "set-policy", 1, 1, cmd_set_policy },
        { "clear-policy", 1, 1, cmd_clear_policy },
        { "reload", 0, 0, cmd_reload },
        { "drain", 0, 1, cmd_drain },
        { "restore", 0, 1, cmd_restore },
        { "monitor", 0, 0, cmd_monitor_args },
};

static void help(void) {
        printf("%s [OPTIONS...] COMMAND [ARGS...]\n\n"
               "Control vfod, the host daemon that moves VMs' ports between SR-IOV VFs and their\n"
               "synthetic NICs without losing packets.\n\n"
               "Commands:\n"
               "  status                  vfod's version, libvirt connection, pools, running jobs\n"
               "                          (the default command)\n"
               "  domains                 Domains using vfo: state, agent, policy, ports\n"
               "  pools                   VF pools: type, steering, total, free, waiting ports\n"
               "  vfs                     Every VF: pool, state, holder\n"
               "  jobs                    Running jobs and the last finished ones\n"
               "  attach DOMAIN [MAC]     Give a port a VF gracefully and wait for the job\n"
               "                          (default: the first port without a VF)\n"
               "  detach DOMAIN [MAC]     Take a port's VF away gracefully and wait for the job\n"
               "                          (default: the first port holding a VF)\n"
               "  set-policy DOMAIN [--pool NAME] [--priority N] [--required yes|no]\n"
               "                          Opt a domain in, or change its policy; options not given\n"
               "                          keep their value (new: pool \"\", priority 100, required no)\n"
               "  clear-policy DOMAIN     Opt a domain out; a VF it holds is detached gracefully\n"
               "  migrate DOMAIN DEST-URI [MIGRATE-URI] [MIGRATE OPTIONS]\n"
               "                          Live-migrate a domain like 'virsh migrate', its VFs\n"
               "                          detached first and given again on the destination; wait\n"
               "                          for the job (Ctrl-C cancels it and rolls back)\n"
               "  reload                  Make vfod re-read vfod.conf\n"
               "  drain [POOL]            Host servicing: detach every VF of POOL (default: of\n"
               "                          every pool) gracefully, grant none until restored, and\n"
               "                          wait for the jobs\n"
               "  restore [POOL]          End the servicing: the pool's VFs are granted again\n"
               "  monitor                 Print every change of vfod's objects until interrupted\n\n"
               "Options:\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --json               Print JSON: one object or array, or JSON lines for\n"
               "                          progress and monitor\n"
               "  -q --quiet              No progress and no success messages; errors and\n"
               "                          requested listings are still printed\n"
               "     --no-wait            attach/detach/migrate/drain: print the jobs' object paths\n"
               "                          and return\n"
               "     --timeout SEC        attach/detach/drain: stop waiting for a job after SEC\n"
               "                          seconds (default 120; 0 waits forever); the job itself\n"
               "                          goes on. migrate: see below\n"
               "     --pool NAME          set-policy: the pool (\"\" is the default pool)\n"
               "     --priority N         set-policy: 0..1000, higher wins a VF first\n"
               "     --required yes|no    set-policy: the domain must hold a VF to run well\n\n"
               "Migrate options (the names of virsh migrate):\n"
               "     --live               Live migration (the default; --offline is not supported)\n"
               "     --p2p                Peer-to-peer: the source libvirtd migrates (the default)\n"
               "     --direct, --no-p2p   vfod drives a managed migration over its own connection\n"
               "     --persistent         Define the domain on the destination too\n"
               "     --undefine-source    Undefine it on the source afterwards (--undefinesource)\n"
               "     --migrate-uri URI    Migration data URI, e.g. tcp://10.0.0.2 (--migrateuri)\n"
               "     --listen-address ADDR  Address the destination QEMU listens on\n"
               "     --bandwidth MIB      Bandwidth limit in MiB/s\n"
               "     --timeout SEC        Abort the migration after SEC seconds and roll back\n"
               "                          (whole seconds, 0: none). For migrate this is NOT the\n"
               "                          wait: vfoctl waits SEC + 120 s, or without --timeout\n"
               "                          as long as the migration takes\n"
               "     --resume             Resume a paused domain first instead of refusing\n"
               "     --destination-bus ADDRESS  D-Bus address of the destination's system bus\n"
               "                          (e.g. unix:path=/PATH; transports that run a\n"
               "                          program, unixexec:, are for root; default: ssh\n"
               "                          to the host of a qemu+ssh:// URI, else the\n"
               "                          destination's hook claims)\n"
               "     --managed-switchover  The destination takes the traffic before QEMU switches\n"
               "                          over, so nothing is lost in the downtime (needs the\n"
               "                          destination's bus; see vfod(8))\n"
               "     --postcopy           With --managed-switchover: QEMU switches over in\n"
               "                          post-copy right after the handover (--postcopy of\n"
               "                          virsh; a network failure after it leaves the domain\n"
               "                          paused on both hosts until it is resumed)\n"
               "     --verbose            Accepted for virsh compatibility (progress is shown\n"
               "                          on a terminal anyway)\n\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  failure: the job failed, or another error\n"
               "  2  usage error (bad command line, or vfod's InvalidArgument)\n"
               "  3  no such domain, port or pool\n"
               "  4  access denied (root and the group \"vfo\" may change things)\n"
               "  5  vfod not reachable (not running, or no system bus)\n"
               "  6  busy, or no VF free (migrate: also on the destination)\n"
               "A failed job exits as its error; a cancelled or paused-refused migration exits 1.\n\n"
               "'vfoctl hook qemu …' is libvirt's hook (see vfoctl(1)), not for interactive use.\n"
               "The system bus is DBUS_SYSTEM_BUS_ADDRESS if set. See vfoctl(1) and org.vfo1(5).\n",
               program_invocation_short_name);
}

/* Returns 1 to go on, 0 to exit successfully, or -EXIT_* after printing. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_WAIT,
                ARG_TIMEOUT,
                ARG_POOL,
                ARG_PRIORITY,
                ARG_REQUIRED,
                ARG_LIVE,
                ARG_OFFLINE,
                ARG_P2P,
                ARG_NO_P2P,
                ARG_PERSISTENT,
                ARG_UNDEFINE_SOURCE,
                ARG_MIGRATE_URI,
                ARG_LISTEN_ADDRESS,
                ARG_BANDWIDTH,
                ARG_RESUME,
                ARG_DESTINATION_BUS,
                ARG_MANAGED_SWITCHOVER,
                ARG_POSTCOPY,
                ARG_VERBOSE,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "no-wait", no_argument, NULL, ARG_NO_WAIT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "pool", required_argument, NULL, ARG_POOL },
                { "priority", required_argument, NULL, ARG_PRIORITY },
                { "required", required_argument, NULL, ARG_REQUIRED },
                /* migrate, with virsh migrate's names (and its spellings) */
                { "live", no_argument, NULL, ARG_LIVE },
                { "offline", no_argument, NULL, ARG_OFFLINE },
                { "p2p", no_argument, NULL, ARG_P2P },
                { "direct", no_argument, NULL, ARG_NO_P2P },
                { "no-p2p", no_argument, NULL, ARG_NO_P2P },
                { "persistent", no_argument, NULL, ARG_PERSISTENT },
                { "undefine-source", no_argument, NULL, ARG_UNDEFINE_SOURCE },
                { "undefinesource", no_argument, NULL, ARG_UNDEFINE_SOURCE },
                { "migrate-uri", required_argument, NULL, ARG_MIGRATE_URI },
                { "migrateuri", required_argument, NULL, ARG_MIGRATE_URI },
                { "listen-address", required_argument, NULL, ARG_LISTEN_ADDRESS },
                { "bandwidth", required_argument, NULL, ARG_BANDWIDTH },
                { "resume", no_argument, NULL, ARG_RESUME },
                { "destination-bus", required_argument, NULL, ARG_DESTINATION_BUS },
                { "managed-switchover", no_argument, NULL, ARG_MANAGED_SWITCHOVER },
                { "postcopy", no_argument, NULL, ARG_POSTCOPY },
                { "verbose", no_argument, NULL, ARG_VERBOSE },
                {}
        };
        char *end;
        double d;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vfoctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_NO_WAIT:
                        arg_no_wait = true;
                        break;
                case ARG_TIMEOUT:
                        errno = 0;
                        d = strtod(optarg, &end);
                        if (errno != 0 || end == optarg || *end != '\0' || !isfinite(d) || d < 0 ||
                            d > 365.0 * 24 * 3600)
                                return -ctl_error(EXIT_USAGE,
                                                  "Invalid --timeout '%s' (seconds, 0 waits forever).",
                                                  optarg);
                        arg_timeout = (usec_t) (d * (double) USEC_PER_SEC);
                        if (arg_timeout == 0 && d > 0)
                                arg_timeout = 1;
                        arg_timeout_string = optarg;
                        break;
                case ARG_POOL:
                        arg_pool = optarg;
                        break;
                case ARG_PRIORITY: {
                        unsigned u;

                        if (parse_uint(optarg, 0, 1000, &u) < 0)
                                return -ctl_error(EXIT_USAGE, "Invalid --priority '%s' (0..1000).", optarg);
                        arg_priority = u;
                        break;
                }
                case ARG_REQUIRED:
                        arg_required = parse_boolean(optarg);
                        if (arg_required < 0)
                                return -ctl_error(EXIT_USAGE, "Invalid --required '%s' (yes or no).", optarg);
                        break;
                case ARG_LIVE:
                        arg_migrate.live = true;
                        arg_migrate_any = true;
                        break;
                case ARG_OFFLINE:
                        return -ctl_error(EXIT_USAGE,
                                          "--offline is not supported: vfoctl migrate moves running domains "
                                          "(use 'virsh migrate --offline' for a domain that is shut off).");
                case ARG_P2P:
                case ARG_NO_P2P: {
                        int p2p = c == ARG_P2P;

                        if (arg_migrate.p2p >= 0 && arg_migrate.p2p != p2p)
                                return -ctl_error(EXIT_USAGE,
                                                  "--p2p and --direct/--no-p2p exclude each other.");
                        arg_migrate.p2p = p2p;
                        arg_migrate_any = true;
                        break;
                }
                case ARG_PERSISTENT:
                        arg_migrate.persistent = true;
                        arg_migrate_any = true;
                        break;
                case ARG_UNDEFINE_SOURCE:
                        arg_migrate.undefine_source = true;
                        arg_migrate_any = true;
                        break;
                case ARG_MIGRATE_URI:
                        if (!*optarg)
                                return -ctl_error(EXIT_USAGE, "--migrate-uri must not be empty.");
                        arg_migrate.migrate_uri = optarg;
                        arg_migrate_any = true;
                        break;
                case ARG_LISTEN_ADDRESS:
                        if (!*optarg)
                                return -ctl_error(EXIT_USAGE, "--listen-address must not be empty.");
                        arg_migrate.listen_address = optarg;
                        arg_migrate_any = true;
                        break;
                case ARG_BANDWIDTH:
                        if (parse_uint64(optarg, 0, UINT32_MAX, &arg_migrate.bandwidth) < 0 ||
                            arg_migrate.bandwidth == 0)
                                return -ctl_error(EXIT_USAGE,
                                                  "Invalid --bandwidth '%s' (MiB/s, a whole number > 0).",
                                                  optarg);
                        arg_migrate.bandwidth_set = true;
                        arg_migrate_any = true;
                        break;
                case ARG_RESUME:
                        arg_migrate.resume = true;
                        arg_migrate_any = true;
                        break;
                case ARG_MANAGED_SWITCHOVER:
                        arg_migrate.managed_switchover = true;
                        arg_migrate_any = true;
                        break;
                case ARG_POSTCOPY:
                        arg_migrate.postcopy = true;
                        arg_migrate_any = true;
                        break;
                case ARG_DESTINATION_BUS:
                        if (!*optarg)
                                return -ctl_error(EXIT_USAGE, "--destination-bus must not be empty.");
                        arg_migrate.destination_bus = optarg;
                        arg_migrate_any = true;
                        break;
                case ARG_VERBOSE:
                        /* virsh migrate --verbose: progress is shown anyway */
                        arg_migrate_any = true;
                        break;
                case ':':
                        return -ctl_error(EXIT_USAGE, "Option '%s' needs an argument (see --help).",
                                          argv[optind - 1]);
                case '?':
                        if (optopt != 0)
                                return -ctl_error(EXIT_USAGE, "Unknown option '-%c' (see --help).", optopt);
                        return -ctl_error(EXIT_USAGE, "Unknown option '%s' (see --help).", argv[optind - 1]);
                default:
                        assert_not_reached();
                }
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *verb_name, *e;
        const Verb *verb = NULL;
        char **args;
        unsigned n_args;
        int r;

        log_set_target(LOG_TARGET_STDERR);
        e = getenv("VFOCTL_LOG_LEVEL");
        if (e) {
                r = log_level_from_string(e);
                if (r >= 0)
                        log_set_max_level(r);
        } else
                log_set_max_level(LOG_WARNING);

        /* libvirt's hook: before getopt, which must not see (or refuse) libvirt's arguments */
        if (argc > 1 && strcmp(argv[1], "hook") == 0)
                return cmd_hook(argc - 1, argv + 1);

        r = parse_argv(argc, argv);
        if (r <= 0)
                return -r;

        verb_name = optind < argc ? argv[optind] : "status";
        args = optind < argc ? argv + optind + 1 : argv + argc;
        n_args = optind < argc ? (unsigned) (argc - optind - 1) : 0;

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, verb_name) == 0)
                        verb = &verbs[i];
        if (!verb)
                return ctl_error(EXIT_USAGE, "Unknown command '%s' (see --help).", verb_name);
        if (n_args < verb->min_args)
                return ctl_error(EXIT_USAGE, "'%s' needs %s (see --help).", verb->name,
                                 verb->min_args == 1   ? "a DOMAIN"
                                 : verb->min_args == 2 ? "a DOMAIN and a DEST-URI"
                                                       : "more arguments");
        if (n_args > verb->max_args)
                return ctl_error(EXIT_USAGE, "Unexpected argument '%s' for '%s' (see --help).",
                                 args[verb->max_args], verb->name);
        if ((arg_pool || arg_priority >= 0 || arg_required >= 0) && verb->run != cmd_set_policy)
                return ctl_error(EXIT_USAGE, "--pool, --priority and --required go with set-policy.");
        if (arg_migrate_any && verb->run != cmd_migrate)
                return ctl_error(EXIT_USAGE, "--live, --p2p, --direct, --persistent, --undefine-source, "
                                             "--migrate-uri, --listen-address, --bandwidth, --resume, "
                                             "--destination-bus, --managed-switchover, --postcopy and --verbose "
                                             "go with migrate.");
        if (verb->min_args > 0 && args[0][0] == '\0')
                return ctl_error(EXIT_USAGE, "The domain name must not be empty.");
        if (verb->run == cmd_migrate) {
                r = migrate_check_args(args);
                if (r < 0)
                        return -r;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                e = getenv("DBUS_SYSTEM_BUS_ADDRESS");
                return ctl_error(EXIT_UNREACHABLE, "Cannot connect to the system bus (%s): %s.",
                                 e ?: "unix:path=/run/dbus/system_bus_socket", strerror(-r));
        }

        return verb->run(bus, args);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        vfo_name_cache_clear();
        fflush(stdout);
        if (ferror(stdout) && r == EXIT_OK)
                r = ctl_error(EXIT_FAILED, "Cannot write the output.");
        return r;
}
