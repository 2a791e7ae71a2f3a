/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/spawn.h"

pid_t spawn_self(const char *const argv[], int fd, int target_fd, bool die_with_parent) {
        sigset_t none;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0)
                return pid;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (die_with_parent)
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* dup2() leaves FD_CLOEXEC set when the numbers are equal */
        if (fd == target_fd ? fcntl(fd, F_SETFD, 0) < 0 : dup2(fd, target_fd) < 0)
                _exit(127);
        execv("/proc/self/exe", (char *const *) argv);
        _exit(127);
}
