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
/* The job's domain read again from libvirt, off the loop (in the job's one
 * call): the answer is applied (domain_refreshed()), then 'fn' runs with
 * the read's result if the job still runs; not at all if it ended. */
int job_read_domain(Job *j, JobReadFn fn);
/* The host's side of the loss accounting. job_taps_mark(): reads the drop
 * counts of the port's taps and VF that it does not read yet (the synthetic
 * tap; an emulated VF's tap once it exists; an SR-IOV VF while it is in the
 * domain). job_taps_count(): adds what they dropped since to j->host_drops;
 * 'vf_leaves': the VF is about to go with the unplug, read it this last
 * time (an emulated VF's tap goes with it; an SR-IOV VF's drops after it
 * are not the guest's). One that cannot be read is left out. */
void job_taps_mark(Job *j);
void job_taps_count(Job *j, bool vf_leaves);
/* Steering moved (j->steered): what the taps dropped until now came before
 * the move changed anything they get (a starved guest that did not read
 * them, as without a move); Job.HostDropsBeforeMove and the log line tell
 * them apart. */
void job_taps_moved(Job *j);
