/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfo-agent.conf: values, defaults, and errors that name file and line. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/guest/agent.h"
#include "agent/guest/config.h"
#include "agent/guest/switch.h"

/* Writes 'text' to a temporary file, loads it, returns the result. */
static int load(const char *text, AgentConfig *c, char **ret_message) {
        char path[] = "/tmp/vfo-agent-conf.XXXXXX";
        int fd = mkstemp(path), r;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        r = agent_config_load(c, path, true, ret_message);
        if (ret_message && *ret_message) {
                /* Messages start with the file's name. */
                assert_int_equal(strncmp(*ret_message, path, strlen(path)), 0);
                memmove(*ret_message, *ret_message + strlen(path), strlen(*ret_message + strlen(path)) + 1);
        }
        unlink(path);
        return r;
}

static void test_config_defaults(void **state) {
        AgentConfig c;

        agent_config_init(&c);
        assert_null(c.device);
        assert_int_equal(c.log_level, -1);
        assert_int_equal(c.announce_count, AGENT_ANNOUNCE_COUNT_DEFAULT);
        assert_int_equal(c.announce_interval, AGENT_ANNOUNCE_INTERVAL_DEFAULT);
        assert_int_equal(c.drain, SWITCH_DRAIN_USEC);
        /* The default file may be absent. */
        assert_int_equal(agent_config_load(&c, "/nonexistent/vfo-agent.conf", false, NULL), 0);
        agent_config_done(&c);
}

static void test_config_values(void **state) {
        AgentConfig c;
        char *msg = NULL;

        agent_config_init(&c);
        assert_int_equal(load("# comment\n"
                              "[Agent]\n"
                              "Device = /dev/vport1p1\n"
                              "LogLevel=debug\n"
                              "\n"
                              "; other comment\n"
                              "[Announce]\n"
                              "Count=5\n"
                              "IntervalMSec=250\n"
                              "[Switch]\n"
                              "DrainMSec=0\n"
                              "[Port 52:54:00:77:00:0A]\n"
                              "Mode=ignore\n"
                              "[Port 52:54:00:77:00:0b]\n"
                              "Mode=auto\n"
                              "Bond=bond7\n"
                              "Bond=bond0\n"
                              "[Port 52:54:00:77:00:0C]\n"
                              "Bond=vfo.uplink-0015\n",
                              &c, &msg),
                         0);
        assert_null(msg);
        assert_string_equal(c.device, "/dev/vport1p1");
        assert_int_equal(c.log_level, 7);
        assert_int_equal(c.announce_count, 5);
        assert_int_equal(c.announce_interval, 250 * USEC_PER_MSEC);
        assert_int_equal(c.drain, 0);
        assert_true(agent_config_port_ignored(&c, "52:54:00:77:00:0a"));
        assert_false(agent_config_port_ignored(&c, "52:54:00:77:00:0b"));
        /* The last Bond= of a port wins; MACs in either case. */
        assert_int_equal(c.n_bonds, 2);
        assert_string_equal(agent_config_port_bond(&c, "52:54:00:77:00:0B"), "bond0");
        assert_string_equal(agent_config_port_bond(&c, "52:54:00:77:00:0c"), "vfo.uplink-0015");
        assert_memory_equal(c.bonds[1].mac, ((const uint8_t[]) { 0x52, 0x54, 0x00, 0x77, 0x00, 0x0c }), 6);
        assert_null(agent_config_port_bond(&c, "52:54:00:77:00:0a"));
        assert_null(agent_config_port_bond(&c, "not a mac"));
        agent_config_done(&c);
}

static void test_config_errors_name_the_line(void **state) {
        static const struct {
                const char *text;
                const char *message;
        } cases[] = {
                { "[Agent]\nDevise=/dev/x\n", ":2: unknown key 'Devise' in [Agent]" },
                { "[Agent]\n\n\nLogLevel=loud\n", ":4: LogLevel= must be debug, info, notice, warning or err, got 'loud'" },
                { "[Announce]\nCount=11\n", ":2: Count= must be 0..10, got '11'" },
                { "[Announce]\nIntervalMSec=-5\n", ":2: IntervalMSec= must be 10..5000, got '-5'" },
                { "[Switch]\nDrainMSec=2001\n", ":2: DrainMSec= must be 0..2000, got '2001'" },
                { "[Agent]\nDevice=relative\n", ":2: Device= needs an absolute path, got 'relative'" },
                { "[Bogus]\nA=b\n", ":2: unknown section [Bogus]" },
                { "[Port ff:ff:ff:ff:ff:ff]\nMode=ignore\n", ":2: [Port MAC] needs a unicast MAC address, got 'ff:ff:ff:ff:ff:ff'" },
                { "[Port 52:54:00:00:00:01]\nMode=sometimes\n", ":2: Mode= must be auto or ignore, got 'sometimes'" },
                { "[Port 52:54:00:00:00:01]\nBond=bond/0\n",
                  ":2: Bond= needs an interface name (1-15 characters, no '/', ':' or white space), got 'bond/0'" },
                { "[Port 52:54:00:00:00:01]\nBond=bond0:1\n",
                  ":2: Bond= needs an interface name (1-15 characters, no '/', ':' or white space), got 'bond0:1'" },
                { "[Port 52:54:00:00:00:01]\nBond=name-of-16-chars\n",
                  ":2: Bond= needs an interface name (1-15 characters, no '/', ':' or white space), got 'name-of-16-chars'" },
                { "[Port 52:54:00:00:00:01]\nBond=\n",
                  ":2: Bond= needs an interface name (1-15 characters, no '/', ':' or white space), got ''" },
                { "[Port 52:54:00:00:00:01]\nBond=..\n",
                  ":2: Bond= needs an interface name (1-15 characters, no '/', ':' or white space), got '..'" },
                { "[Port 52:54:00:00:00:01]\nMode=ignore\nBond=bond0\n", ":3: Mode=ignore and Bond= exclude each other" },
                { "[Port 52:54:00:00:00:0a]\nBond=bond0\n\n[Port 52:54:00:00:00:0A]\nMode=ignore\n",
                  ":5: Mode=ignore and Bond= exclude each other" },
                { "[Port 52:54:00:00:00:01]\nBond=bond0\n[Port 52:54:00:00:00:02]\nBond=bond0\n",
                  ":4: Bond=bond0 is already the bond of [Port 52:54:00:00:00:01]" },
                { "[Port 01:00:5e:00:00:01]\nBond=bond0\n",
                  ":2: [Port MAC] needs a unicast MAC address, got '01:00:5e:00:00:01'" },
                { "Count=1\n", ":1: assignment outside of a section" },
                { "[Agent]\njust words\n", ":2: expected Key=Value, got 'just words'" },
                { "[Agent\n", ":1: invalid section header '[Agent'" },
                { "[]\n", ":1: invalid section header '[]'" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                AgentConfig c;
                char *msg = NULL;

                agent_config_init(&c);
                assert_true(load(cases[i].text, &c, &msg) < 0);
                assert_non_null(msg);
                assert_string_equal(msg, cases[i].message);
                free(msg);
                agent_config_done(&c);
        }
}

static void test_config_long_line_and_missing_file(void **state) {
        char *text = malloc(5000), *msg = NULL;
        AgentConfig c;

        assert_non_null(text);
        strcpy(text, "[Agent]\nDevice=/");
        memset(text + strlen(text), 'x', 4500);
        strcpy(text + 16 + 4500, "\n");
        agent_config_init(&c);
        assert_int_equal(load(text, &c, &msg), -EBADMSG);
        assert_string_equal(msg, ":2: line longer than 4096 bytes");
        free(msg);
        free(text);

        msg = NULL;
        assert_int_equal(agent_config_load(&c, "/nonexistent/vfo-agent.conf", true, &msg), -ENOENT);
        assert_string_equal(msg, "/nonexistent/vfo-agent.conf: No such file or directory");
        free(msg);
        agent_config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_defaults),
                cmocka_unit_test(test_config_values),
                cmocka_unit_test(test_config_errors_name_the_line),
                cmocka_unit_test(test_config_long_line_and_missing_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
