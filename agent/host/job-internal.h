/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Between job.c (what every job shares) and job-port.c (attach, detach). */
#pragma once

#include "agent/host/job.h"

extern const JobOps job_attach_ops;
extern const JobOps job_detach_ops;

/* The port the job is about (NULL for a migration, or once it is gone). */
Port *job_port(Job *j);
void job_timer_off(Job *j);
/* Drops the job's pending agent requests. */
void job_cancel_requests(Job *j);
/* The job's one libvirt call at a time, off the loop; 'fn' starts with
 * job_virt_returned(), which is false when the job ended meanwhile. */
int job_call_virt(Job *j, const VirtRequest *req, VirtCallFn fn);
bool job_virt_returned(Job *j);
