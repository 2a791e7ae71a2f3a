/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for vfod for test-vfoctl-hook.sh: owns org.vfo1 on the bus at
 * ADDRESS and answers Manager.HookMigrateBegin as MODE says:
 *   hang       never answers
 *   garbage    answers with the signature "s" instead of "bss"
 *   other-xml  allows, with the XML of another domain
 *   allow      allows, with the incoming XML and "<!-- vfod -->" appended
 * or, as `hook-fake-vfod --mute PATH`, listens on the unix socket PATH and
 * never says a word (a bus that hangs before the hook is even connected).
 * Prints "ready" once it owns the name (or listens); runs until killed. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>

static const char *mode;

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *xml = NULL;
        char *answer = NULL;
        int r;

        if (!sd_bus_message_is_method_call(m, "org.vfo1.Manager", "HookMigrateBegin"))
                return 0;
        if (strcmp(mode, "hang") == 0)
                return 1; /* taken, never answered */
        if (strcmp(mode, "garbage") == 0)
                return sd_bus_reply_method_return(m, "s", "not what the hook expects");
        if (strcmp(mode, "other-xml") == 0)
                return sd_bus_reply_method_return(
                        m, "bss", 1,
                        "<domain><name>other</name><uuid>00000000-0000-4000-8000-000000000001</uuid></"
                        "domain>",
                        "");
        r = sd_bus_message_read(m, "s", &xml);
        if (r < 0)
                return r;
        if (asprintf(&answer, "%s<!-- vfod -->\n", xml) < 0)
                return -ENOMEM;
        r = sd_bus_reply_method_return(m, "bss", 1, answer, "vfod: fake answer");
        free(answer);
        return r;
}

static int mute(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return 2;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                fprintf(stderr, "hook-fake-vfod: %s: %s\n", path, strerror(errno));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        for (;;)
                pause(); /* connections wait in the backlog, unanswered */
}

int main(int argc, char *argv[]) {
        sd_bus *bus = NULL;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: %s ADDRESS hang|garbage|other-xml|allow\n       %s --mute PATH\n",
                        argv[0], argv[0]);
                return 2;
        }
        if (strcmp(argv[1], "--mute") == 0)
                return mute(argv[2]);
        mode = argv[2];
        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, argv[1])) < 0 ||
            (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0 ||
            (r = sd_bus_add_object(bus, NULL, "/org/vfo1", on_message, NULL)) < 0 ||
            (r = sd_bus_request_name(bus, "org.vfo1",
                                     /* a fake the test just stopped may hold it still */
                                     SD_BUS_NAME_ALLOW_REPLACEMENT | SD_BUS_NAME_REPLACE_EXISTING)) < 0) {
                fprintf(stderr, "hook-fake-vfod: %s\n", strerror(-r));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return 1;
                if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
                        return 1;
        }
}
