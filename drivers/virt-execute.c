/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt_execute(): one VirtRequest through the blocking calls of
 * drivers/libvirt.h, and virt_get_domain() from its two halves; the real
 * driver (its workers) and the fake use both. */

#include "drivers/libvirt.h"
#include "lib/log.h"
#include "lib/string-table.h"

static const char *const virt_op_table[_VIRT_OP_MAX] = {
        [VIRT_OP_ATTACH_DEVICE] = "attach-device",
        [VIRT_OP_DETACH_ALIAS] = "detach-alias",
        [VIRT_OP_SET_LINK] = "set-link",
        [VIRT_OP_SET_POLICY] = "set-policy",
        [VIRT_OP_RESUME] = "resume",
        [VIRT_OP_SUSPEND] = "suspend",
        [VIRT_OP_GET_JOB_STATS] = "get-job-stats",
        [VIRT_OP_SET_MAX_DOWNTIME] = "set-max-downtime",
        [VIRT_OP_ABORT_JOB] = "abort-job",
        [VIRT_OP_START_POSTCOPY] = "start-postcopy",
        [VIRT_OP_GET_DOMAIN] = "get-domain",
};
DEFINE_STRING_TABLE_TO_STRING(virt_op, VirtOp, _VIRT_OP_MAX);

int virt_execute(Virt *v, const VirtRequest *req, VirtJobStats *ret_stats, VirtDomainRaw *ret_raw) {
        switch (req->op) {
        case VIRT_OP_ATTACH_DEVICE:
                return virt_attach_device(v, req->uuid, req->arg);
        case VIRT_OP_DETACH_ALIAS:
                return virt_detach_alias(v, req->uuid, req->arg);
        case VIRT_OP_SET_LINK:
                return virt_set_link(v, req->uuid, req->arg, req->up);
        case VIRT_OP_SET_POLICY:
                return virt_set_policy(v, req->uuid, &req->policy);
        case VIRT_OP_RESUME:
                return virt_resume(v, req->uuid);
        case VIRT_OP_SUSPEND:
                return virt_suspend(v, req->uuid);
        case VIRT_OP_GET_JOB_STATS:
                return virt_get_job_stats(v, req->uuid, ret_stats);
        case VIRT_OP_SET_MAX_DOWNTIME:
                return virt_set_max_downtime(v, req->uuid, req->ms);
        case VIRT_OP_ABORT_JOB:
                return virt_abort_job(v, req->uuid);
        case VIRT_OP_START_POSTCOPY:
                return virt_start_postcopy(v, req->uuid);
        case VIRT_OP_GET_DOMAIN:
                return virt_get_domain_raw(v, req->uuid, ret_raw);
        default:
                return -EINVAL;
        }
}

int virt_get_domain(Virt *v, const char *uuid, VirtDomain *ret) {
        _cleanup_(virt_domain_raw_done) VirtDomainRaw raw = {};
        int r;

        r = virt_get_domain_raw(v, uuid, &raw);
        if (r < 0)
                return r;
        r = virt_domain_from_raw(&raw, ret);
        if (r < 0)
                return log_warning_errno(r, "Failed to parse the XML of domain %s: %m", uuid);
        return 0;
}
