/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "agent/host/error.h"

int vfo_error_to_errno(VfoError error) {
        static const int table[_VFO_ERROR_MAX] = {
                [VFO_ERROR_NONE] = 0,
                [VFO_ERROR_NO_SUCH_DOMAIN] = ENOENT,
                [VFO_ERROR_NO_SUCH_PORT] = ENOENT,
                [VFO_ERROR_NO_SUCH_POOL] = ENOENT,
                [VFO_ERROR_NO_VF_FREE] = ENOSPC,
                [VFO_ERROR_BUSY] = EBUSY,
                [VFO_ERROR_NOT_RUNNING] = ESRCH,
                [VFO_ERROR_PAUSED] = EAGAIN,
                [VFO_ERROR_NO_AGENT] = ENOTCONN,
                [VFO_ERROR_AGENT_TIMEOUT] = ETIMEDOUT,
                [VFO_ERROR_AGENT_REFUSED] = EREMOTEIO,
                [VFO_ERROR_LIBVIRT] = EIO,
                [VFO_ERROR_UNPLUG_FAILED] = EIO,
                [VFO_ERROR_SWITCH_FAILED] = EIO,
                [VFO_ERROR_INVALID_ARGUMENT] = EINVAL,
                [VFO_ERROR_CONFIG_INVALID] = EINVAL,
                [VFO_ERROR_NOT_CONNECTED] = ENOTCONN,
                [VFO_ERROR_ALREADY_ATTACHED] = EEXIST,
                [VFO_ERROR_NOT_ATTACHED] = ENOENT,
                [VFO_ERROR_CANCELLED] = ECANCELED,
                [VFO_ERROR_DRAINED] = EBUSY,
                [VFO_ERROR_INTERNAL] = ENOMEM,
        };

        return error > VFO_ERROR_NONE && error < _VFO_ERROR_MAX ? table[error] : EINVAL;
}

int failure_set(Failure *f, VfoError error, const char *format, ...) {
        va_list ap;

        if (f) {
                f->error = error;
                va_start(ap, format);
                (void) vsnprintf(f->message, sizeof(f->message), format, ap);
                va_end(ap);
        }
        return -vfo_error_to_errno(error);
}
