/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* See sysctl.h. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drivers/sysctl.h"
#include "lib/macro.h"
#include "lib/validate.h"

int sysctl_ipv6_disable(const char *ifname, bool disable) {
        _cleanup_close_ int fd = -EBADF;
        char path[128], cur[8] = "";
        const char *want = disable ? "1" : "0";
        ssize_t n;

        /* The name goes into a path: only kernel-valid names, never "..". */
        if (!ifname_is_valid(ifname))
                return -EINVAL;
        snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);

        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, cur, sizeof(cur) - 1);
        if (n < 0)
                return -errno;
        if (cur[0] == want[0])
                return 0;
        if (pwrite(fd, want, 1, 0) != 1)
                return -errno;
        return 1;
}
