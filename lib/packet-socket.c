/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

#include "lib/packet-socket.h"

int packet_socket(void) {
        static int fd = -EBADF;

        if (fd < 0) {
                int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

                if (s < 0)
                        return -errno;
                fd = s;
        }
        return fd;
}
