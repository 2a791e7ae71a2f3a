/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running this program again as a helper process (vfod's migration helper
 * and libvirt workers). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* fork() and exec /proc/self/exe with 'argv': the child starts with an
 * empty signal mask and 'fd' as its 'target_fd' (kept across exec, every
 * other descriptor is the caller's business: open them O_CLOEXEC); with
 * 'die_with_parent' it gets SIGKILL when the caller dies. The caller still
 * holds 'fd'. Returns the child's pid, or a negative errno. */
pid_t spawn_self(const char *const argv[], int fd, int target_fd, bool die_with_parent);
