/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod: the vfo host daemon (vfod(8)). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "agent/host/bus.h"
#include "agent/host/job.h"
#include "agent/host/manager.h"
#include "agent/host/migrate.h"
#include "lib/log.h"
#include "lib/loop-watch.h"

static const char *arg_config = SYSCONFDIR "/vfo/vfod.conf";
static const char *arg_bus_address;

static void help(void) {
        printf("%s [OPTIONS]\n\n"
               "The vfo host daemon: owns the VF pools, decides which VMs hold VFs, detaches and\n"
               "re-attaches them gracefully with the guest's vfo-agent, and serves org.vfo1 on D-Bus.\n\n"
               "  -h --help              show this help\n"
               "     --version           show the version\n"
               "  -c --config FILE       configuration (default %s)\n"
               "     --bus-address ADDR  D-Bus address instead of the system bus\n"
               "     --log-level LEVEL   debug, info, notice, warning, err (default info)\n\n"
               "Signals: SIGHUP reloads the configuration (like Manager.Reload); SIGTERM stops.\n"
               "See vfod(8), vfod.conf(5), org.vfo1(5).\n",
               program_invocation_short_name, SYSCONFDIR "/vfo/vfod.conf");
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_BUS_ADDRESS, ARG_LOG_LEVEL };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vfod %s\n", PACKAGE_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_BUS_ADDRESS:
                        arg_bus_address = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Unknown log level '%s'.", optarg);
                        log_set_max_level(r);
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no arguments.", program_invocation_short_name);
        return 1;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;

        if (manager_reload(m, &why) < 0)
                log_error("Reload refused: %s; the running configuration is unchanged.", why ?: "error");
        return 0;
}

/* vfod's handlers never wait for libvirt or a guest (workers and deadlines
 * do): a turn of the event loop this long is logged. */
#define VFOD_LOOP_SLOW_USEC (1 * USEC_PER_SEC)

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        sd_event *event = NULL;
        LoopWatch loop_watch = {};
        sigset_t mask;
        int r;

        log_set_max_level(LOG_INFO);
        /* The migration helper: vfod runs itself for the one blocking libvirt call. */
        if (argc > 1 && strcmp(argv[1], "--migrate-helper") == 0)
                return migrate_helper_main(argc, argv);
        /* A libvirt worker: the calls that may wait on a QEMU monitor (drivers/virt-call.c). */
        if (argc > 1 && strcmp(argv[1], "--virt-worker") == 0)
                return virt_worker_main(argc, argv);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);      /* the migration helper and libvirt workers (sd_event_add_child) */
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&event);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the event loop: %m");
                goto finish;
        }
        (void) sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        (void) sd_event_set_watchdog(event, true);
        /* a turn this long held every job and the bus: logged */
        r = loop_watch_start(&loop_watch, event, VFOD_LOOP_SLOW_USEC);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the event loop: %m");
                goto finish;
        }

        r = manager_new(event, arg_config, &m);
        if (r < 0)
                goto finish;
        (void) sd_event_add_signal(event, NULL, SIGHUP, on_sighup, m);
        r = bus_setup(m, arg_bus_address);
        if (r < 0)
                goto finish;
        r = manager_start(m);
        if (r < 0)
                goto finish;

        log_info("vfod %s running (%zu pools).", PACKAGE_VERSION, m->n_pools);
        (void) sd_notify(false, "READY=1\nSTATUS=Running");
        r = sd_event_loop(event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
finish:
        m = manager_free(m);
        loop_watch_stop(&loop_watch);
        sd_event_unref(event);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
