/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What users, libvirt's hook and a migration's source ask of vfod: the
 * rules of each request, without D-Bus. Each returns a negative errno and
 * fills the Failure (error and message) when it refuses; the bus face
 * (agent/host/bus-*.c) only parses, checks the caller, calls these and
 * names the Failure. */
#pragma once

#include "agent/host/error.h"
#include "agent/host/forward.h"
#include "agent/host/manager.h"
#include "agent/host/migrate.h"

/* The domain 'name_or_uuid', or NoSuchDomain. */
int manager_domain_not_found(Manager *m, const char *name_or_uuid, Failure *f);
Domain *manager_lookup_domain(Manager *m, const char *name_or_uuid, Failure *f);
/* NotConnected until libvirt is connected and the first reconcile ran. */
int manager_check_connected(Manager *m, Failure *f);

/* A user's attach of a VF to the port 'mac' of 'd' ("" or NULL: its first
 * port without one); 'ret' is the job. */
int manager_attach(Manager *m, Domain *d, const char *mac, Job **ret, Failure *f);
/* A user's detach: the port stays synthetic until a user attaches it. */
int manager_detach(Manager *m, Domain *d, const char *mac, Job **ret, Failure *f);

/* Host servicing: drains the pool 'pool' ("" or NULL: every pool), so that
 * it grants no VF until restored (it stays drained across a restart: the
 * journal), and starts a graceful detach (reason drain) of every VF it
 * lends. 'ret_jobs' (malloc'd, may be NULL with 'ret_n' 0) is every
 * running job on a port holding one of its VFs: the detaches, and attaches
 * that were running (the scheduler detaches their VF when they end; the
 * next Drain returns those detaches). Draining a drained pool is not an
 * error. NoSuchPool for a name vfod.conf does not define. */
int manager_drain(Manager *m, const char *pool, Job ***ret_jobs, size_t *ret_n, Failure *f);
/* Ends the servicing of 'pool' ("" or NULL: every pool): the scheduler
 * grants its VFs again. Restoring a pool that is not drained is not an
 * error. */
int manager_restore(Manager *m, const char *pool, Failure *f);

/* Stores the policy of 'd' in its libvirt metadata ('policy' NULL: clears
 * it), off the loop; 'fn' is called once with the outcome (r < 0: 'f'
 * says why). Returns < 0 (and fills 'f') if it cannot start. */
typedef void (*PolicyDoneFn)(Manager *m, int r, const Failure *f, void *userdata);
int manager_set_policy(Manager *m, Domain *d, const VirtPolicy *policy, PolicyDoneFn fn, void *userdata, Failure *f);

/* Migrates 'd' (Manager.Migrate); the request's strings were checked. */
int manager_migrate(Manager *m, Domain *d, const MigrateRequest *req, Job **ret, Failure *f);

/* libvirt's hook on the destination, before an incoming domain starts:
 * answered from memory (libvirtd waits for its hook). 'ret_allow' says
 * whether it may come, 'ret_xml' is its XML without the source's VFs,
 * 'ret_message' why (both malloc'd, may be NULL). < 0 only for XML that
 * does not parse. */
int manager_hook_migrate_begin(Manager *m, const char *xml, bool *ret_allow, char **ret_xml, char **ret_message,
                               Failure *f);
/* A migration's source claims VFs here for the ports 'macs' of 'uuid'. */
int manager_prepare_incoming(Manager *m, const char *uuid, const char *pool, bool required, char **macs, size_t n_macs,
                             bool *ret_ok, char **ret_message, Failure *f);
/* A migration's source hands the traffic of 'uuid' over to this host;
 * 'ret_ports' is how many ports were steered here. With 'prepare' the taps
 * are only readied (nothing is steered yet). With 'forward_from' (the
 * source's ForwardAddress=, or NULL) and ForwardAddress= here, each such
 * port gets this host's end of a forwarding tunnel (forward_find()). */
int manager_handover(Manager *m, const char *uuid, const char *forward_from, bool prepare, unsigned *ret_ports,
                     Failure *f);
