/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt (the C API): the only place in vfod that talks to libvirtd.
 *
 * libvirt's event loop is the caller's sd-event loop (virEventRegisterImpl;
 * libvirt starts no event thread). A Virt keeps one connection, re-opens it
 * with backoff (0.5 s doubling to 30 s) when libvirtd goes away, and
 * re-subscribes to lifecycle and device events each time. Domains are named
 * by their UUID string everywhere.
 *
 * Calls into libvirt are RPCs, and libvirt has no asynchronous API. Those
 * that can wait on a QEMU monitor (they take a job of the domain: attach,
 * detach, link state, metadata, resume, suspend, the migration knobs) run
 * through virt_call(): in a worker process (vfod --virt-worker, its own
 * connection), so a wedged QEMU delays that domain's calls, not the loop;
 * every call has a deadline (libvirt's in-process test driver, test:///,
 * runs them on the loop). What is left on the loop only reads (domain
 * list and XML), which libvirt answers without entering a domain job. A
 * hot-unplug completes later, through the device_removed callback. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "lib/macro.h"
#include "lib/time-util.h"

#include "drivers/virt-xml.h" /* the domain XML: types and pure functions */

typedef struct Virt Virt;

typedef struct VirtCallbacks {
        /* The connection came up (after every reconnect) or went down. */
        void (*connection)(Virt *v, bool up, void *userdata);
        /* Lifecycle event: started, stopped, suspended, resumed, defined,
         * undefined, migrated…; 'event' is virDomainEventType, 'detail' its detail. */
        void (*lifecycle)(Virt *v, const char *uuid, const char *name, VirtDomainState state, int event,
                          int detail, void *userdata);
        /* VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED / _DEVICE_REMOVAL_FAILED. */
        void (*device_removed)(Virt *v, const char *uuid, const char *alias, void *userdata);
        void (*device_removal_failed)(Virt *v, const char *uuid, const char *alias, void *userdata);
        /* VIR_DOMAIN_EVENT_ID_METADATA_CHANGE for vfo's namespace. */
        void (*metadata_changed)(Virt *v, const char *uuid, void *userdata);
} VirtCallbacks;

/* Once per process, before virt_new(): makes 'event' libvirt's event loop. */
int virt_event_register(sd_event *event);

/* Opens 'uri' (NULL: libvirt's default) now if it can, else keeps retrying
 * from a timer. Returns 0 even if libvirtd is not there yet. cb->connection
 * is never called from inside virt_new(): "up" comes from the loop (before
 * any domain event of that connection), also for the first connection. */
int virt_new(sd_event *event, const char *uri, const VirtCallbacks *cb, void *userdata, Virt **ret);
/* Closes the connection; calls no callback. */
Virt *virt_free(Virt *v);
bool virt_is_connected(Virt *v);
/* The URI given to virt_new(); if that was NULL, the one libvirt chose at
 * the first connection (NULL until then). Valid until virt_free(). */
const char *virt_get_uri(Virt *v);

/* Every domain (running or not), parsed. */
int virt_list_domains(Virt *v, VirtDomain **ret, size_t *ret_n);
/* One domain by UUID; -ENOENT if there is none. Four calls to libvirtd,
 * which answers them late when it is busy: on the daemon's loop, prefer
 * virt_read_domain(). */
int virt_get_domain(Virt *v, const char *uuid, VirtDomain *ret);
/* virt_get_domain()'s first half (the blocking read, a worker's): the
 * second is virt_domain_from_raw() (virt-xml.h). */
int virt_get_domain_raw(Virt *v, const char *uuid, VirtDomainRaw *ret);

/* virDomainSetMetadata on the live domain and, if persistent, its config. */
int virt_set_policy(Virt *v, const char *uuid, const VirtPolicy *policy);

/* Hot-plugs 'xml' into the running domain (VIR_DOMAIN_AFFECT_LIVE). */
int virt_attach_device(Virt *v, const char *uuid, const char *xml);
/* virDomainDetachDeviceAlias (LIVE). Returns 0 once requested; completion
 * comes as device_removed. -ENOENT if no device has that alias. */
int virt_detach_alias(Virt *v, const char *uuid, const char *alias);
/* Sets the link state of the interface with 'mac' and no VIR alias prefix
 * (the synthetic NIC) through virDomainUpdateDeviceFlags (LIVE). */
int virt_set_link(Virt *v, const char *uuid, const char *mac, bool up);

/* The functions above and below that change a domain are BLOCKING: on the
 * daemon's loop call them only through virt_call(); they are for the worker
 * process and for tests. */

/* Resumes a paused domain (virDomainResume). */
int virt_resume(Virt *v, const char *uuid);

/* Progress of the domain's current job (virDomainGetJobStats). */
typedef struct VirtJobStats {
        int type;                       /* virDomainJobType; VIR_DOMAIN_JOB_NONE when idle */
        uint64_t data_total;            /* bytes */
        uint64_t data_processed;
        uint64_t data_remaining;
        uint64_t time_elapsed_ms;
        uint64_t memory_iteration;      /* the pass over guest memory in progress, from 1 */
        uint64_t memory_bps;            /* QEMU's transfer rate, as of its last bandwidth measurement (0: none) */
} VirtJobStats;
int virt_get_job_stats(Virt *v, const char *uuid, VirtJobStats *ret);
/* virDomainMigrateSetMaxDowntime: how long the final pause of a running
 * migration may last; QEMU switches over by itself once it can meet it. */
int virt_set_max_downtime(Virt *v, const char *uuid, uint64_t ms);
/* virDomainMigrateStartPostCopy: a migration started with 'postcopy' switches
 * over now (QEMU stops the source at its next step, and the destination runs
 * while it fetches the pages still missing). */
int virt_start_postcopy(Virt *v, const char *uuid);
/* virDomainSuspend. */
int virt_suspend(Virt *v, const char *uuid);
/* virDomainAbortJob: cancels a running migration. */
int virt_abort_job(Virt *v, const char *uuid);

typedef struct VirtMigrateOptions {
        bool live;
        bool p2p;               /* virDomainMigrateToURI3 with PEER2PEER; else virDomainMigrate3 with our own destination connection */
        bool persistent;        /* VIR_MIGRATE_PERSIST_DEST */
        bool undefine_source;   /* VIR_MIGRATE_UNDEFINE_SOURCE */
        bool postcopy;          /* VIR_MIGRATE_POSTCOPY: virt_start_postcopy() may switch it over */
        const char *migrate_uri;        /* VIR_MIGRATE_PARAM_URI, or NULL */
        const char *listen_address;     /* VIR_MIGRATE_PARAM_LISTEN_ADDRESS, or NULL */
        uint64_t bandwidth;             /* MiB/s, 0 = libvirt's default */
} VirtMigrateOptions;

/* Migrates domain 'uuid' of 'src_uri' to 'dest_uri' and returns when it is
 * done. BLOCKING for the whole migration: only for vfod's migration helper
 * process (no event loop; it opens its own connections), never for the
 * daemon's loop. On failure, 'ret_message' (malloc'd) has libvirt's reason. */
int virt_migrate_blocking(const char *src_uri, const char *uuid, const char *dest_uri, const VirtMigrateOptions *o,
                          char **ret_message);

/* ------------------------------------------------- calls off the loop */

typedef enum VirtOp {
        VIRT_OP_ATTACH_DEVICE,          /* arg: the device XML */
        VIRT_OP_DETACH_ALIAS,           /* arg: the alias; -ENOENT if no device has it */
        VIRT_OP_SET_LINK,               /* arg: the MAC; up */
        VIRT_OP_SET_POLICY,             /* policy */
        VIRT_OP_RESUME,
        VIRT_OP_SUSPEND,
        VIRT_OP_GET_JOB_STATS,          /* the reply's stats */
        VIRT_OP_SET_MAX_DOWNTIME,       /* ms */
        VIRT_OP_ABORT_JOB,
        VIRT_OP_START_POSTCOPY,
        VIRT_OP_GET_DOMAIN,             /* virt_read_domain()'s */
        _VIRT_OP_MAX,
        _VIRT_OP_INVALID = -EINVAL,
} VirtOp;

typedef struct VirtRequest {
        VirtOp op;
        const char *uuid;
        const char *arg;
        bool up;
        uint64_t ms;
        VirtPolicy policy;
} VirtRequest;

/* Runs one request with the blocking functions above (the worker's side):
 * 'ret_stats' is filled for VIRT_OP_GET_JOB_STATS, 'ret_raw' for
 * VIRT_OP_GET_DOMAIN. */
int virt_execute(Virt *v, const VirtRequest *req, VirtJobStats *ret_stats, VirtDomainRaw *ret_raw);

/* 'r' is the call's result (a negative errno; -ETIMEDOUT when the deadline
 * passed: the worker is then killed; -ECANCELED when the Virt is freed
 * first); 'stats' is set for VIRT_OP_GET_JOB_STATS when r >= 0. Called
 * from the loop, never from inside virt_call(). */
typedef void (*VirtCallFn)(Virt *v, const char *uuid, int r, const VirtJobStats *stats, void *userdata);
typedef struct VirtCall VirtCall;

/* Queues 'req' (copied). Calls on one domain run one after the other, in
 * order; calls on different domains in parallel (up to VIRT_WORKERS_MAX
 * workers). 'timeout' counts from now, the wait in the queue included. The
 * call is freed after its callback ran: forget the handle there. With 'ret'
 * NULL the callback ('fn' may be NULL) runs exactly once, with -ECANCELED
 * from virt_free() at the latest; a call in '*ret' must be cancelled
 * before virt_free(). */
int virt_call(Virt *v, const VirtRequest *req, usec_t timeout, VirtCallFn fn, void *userdata, VirtCall **ret);
/* virt_get_domain() off the loop, queued like virt_call() (after the
 * domain's calls before it): 'd' is the domain when r >= 0 (-ENOENT: none
 * such; -ETIMEDOUT, -ECANCELED as for virt_call()); the callback may take
 * its members (freed after it). The XML may be 160 KiB at most (-E2BIG). */
typedef void (*VirtDomainFn)(Virt *v, const char *uuid, int r, VirtDomain *d, void *userdata);
int virt_read_domain(Virt *v, const char *uuid, usec_t timeout, VirtDomainFn fn, void *userdata, VirtCall **ret);
/* The callback will not run (a no-op from inside it). A call already sent
 * to libvirt still happens. Returns NULL. */
VirtCall *virt_call_cancel(VirtCall *c);
const char *virt_op_to_string(VirtOp op);

#define VIRT_WORKERS_MAX 8
/* vfod --virt-worker URI|"": the worker, with the request socket on fd 3. */
int virt_worker_main(int argc, char *argv[]);
