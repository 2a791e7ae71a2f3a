/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfo-agent: command line and main loop. */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "agent/guest/agent.h"
#include "agent/guest/config.h"
#include "agent/guest/inventory.h"
#include "lib/log.h"

static const char *arg_device = NULL;
static const char *arg_config = NULL;
static int arg_log_level = -1;
static bool arg_status = false;
static bool arg_json = false;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "vfo guest agent: moves the guest's traffic between its VF and its synthetic NIC\n"
               "when vfod asks, over virtio-serial.\n\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "  -d --device=PATH        virtio-serial port, or a UNIX socket to connect to\n"
               "                          (default: %s)\n"
               "  -c --config=FILE        settings (default: %s, if present)\n"
               "     --log-level=LEVEL    debug, info, notice, warning, err (default: info)\n"
               "     --status             Print the ports found in this guest and exit\n"
               "     --json               With --status: print JSON\n",
               program_invocation_short_name, AGENT_DEVICE_DEFAULT, AGENT_CONFIG_FILE);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_LOG_LEVEL,
                ARG_STATUS,
                ARG_JSON,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "device", required_argument, NULL, 'd' },
                { "config", required_argument, NULL, 'c' },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "status", no_argument, NULL, ARG_STATUS },
                { "json", no_argument, NULL, ARG_JSON },
                {}
        };
        int c, level;

        while ((c = getopt_long(argc, argv, "hd:c:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vfo-agent %s\n", PACKAGE_VERSION);
                        return 0;
                case 'd':
                        arg_device = optarg;
                        break;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        level = log_level_from_string(optarg);
                        if (level < 0)
                                return log_error_errno(level, "Invalid log level '%s'.", optarg);
                        log_set_max_level(level);
                        arg_log_level = level;
                        break;
                case ARG_STATUS:
                        arg_status = true;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        assert_not_reached();
                }

        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s' (see --help).", argv[optind]);
        if (arg_json && !arg_status)
                return log_error_errno(EINVAL, "--json goes with --status.");
        return 1;
}

static int status(void) {
        _cleanup_(inventory_done) Inventory inv = {};
        Udev *u = NULL;
        int r;

        r = udev_open(&u);
        if (r < 0)
                return log_error_errno(r, "Failed to open udev: %m");
        r = inventory_collect(u, &inv);
        udev_close(u);
        if (r < 0)
                return log_error_errno(r, "Failed to read the interfaces: %m");

        inventory_print(&inv, stdout, arg_json);
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(agent_config_done) AgentConfig config = {};
        _cleanup_(agent_freep) Agent *a = NULL;
        _cleanup_free_ char *message = NULL;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        if (arg_status)
                return status();

        agent_config_init(&config);
        r = agent_config_load(&config, arg_config ?: AGENT_CONFIG_FILE, arg_config != NULL, &message);
        if (r < 0)
                return log_error_errno(r, "Bad configuration: %s", message ?: "out of memory");
        if (arg_log_level < 0 && config.log_level >= 0)
                log_set_max_level(config.log_level);    /* the command line wins */

        r = agent_new(arg_device ?: config.device ?: AGENT_DEVICE_DEFAULT, &a);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the agent: %m");
        (void) agent_set_config(a, &config);

        r = agent_start(a);
        if (r < 0)
                return r;

        (void) sd_notify(false, "READY=1");

        r = sd_event_loop(agent_get_event(a));
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
