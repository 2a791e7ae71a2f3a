/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inside the libvirt driver: the worker processes behind virt_call()
 * (drivers/virt-call.c), as the connection (drivers/libvirt.c) uses them,
 * and the blocking connection a worker opens (virt_open_blocking(), in
 * drivers/libvirt.c); the operations themselves are in virt-domain.c. */
#pragma once

#include "drivers/libvirt.h"

typedef struct VirtCalls VirtCalls;

/* Runs one request in this process. -EINPROGRESS: no answer; the call
 * keeps its domain busy until its deadline (a QEMU that does not answer). */
typedef int (*VirtExecuteFn)(Virt *v, const VirtRequest *req, VirtJobStats *ret_stats, VirtDomainRaw *ret_raw);

/* The workers of one Virt; 'uri' NULL: libvirt's default. With
 * 'in_process' there are no workers: the calls run on the loop through it
 * (libvirt's test driver, the fake). */
int virt_calls_new(sd_event *event, const char *uri, VirtExecuteFn in_process, VirtCalls **ret);
/* Kills the workers; no callback runs. */
VirtCalls *virt_calls_free(VirtCalls *c);
int virt_calls_submit(VirtCalls *c, Virt *v, const VirtRequest *req, usec_t timeout, VirtCallFn fn,
                      void *userdata, VirtCall **ret);
/* virt_read_domain()'s: a VIRT_OP_GET_DOMAIN call whose answer is parsed. */
int virt_calls_submit_read(VirtCalls *c, Virt *v, const char *uuid, usec_t timeout, VirtDomainFn fn, void *userdata,
                           VirtCall **ret);

/* A Virt for blocking calls only: no events, no reconnect (the worker's). */
int virt_open_blocking(const char *uri, Virt **ret);
