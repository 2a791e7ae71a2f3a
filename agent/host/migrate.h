/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A live migration of a domain that holds VFs (agent/host/migrate.c). On
 * the bus it is a Job of kind "migrate", which owns it (Job.data, freed by
 * its JobOps) and whose phases it drives; its Domain points to it while it
 * runs (Domain.migration). Its VFs leave
 * and come back through child jobs (detach, attach), whose ends it is told
 * of (job_on_done()). */
#pragma once

#include "agent/host/job.h"

typedef struct Migration Migration;

typedef struct MigrateRequest {
        const char *destination;
        const char *destination_bus;
        const char *migrate_uri;
        const char *listen_address;
        uint64_t bandwidth;
        bool live, p2p, persistent, undefine_source, resume, managed_switchover, postcopy;
        usec_t timeout;
} MigrateRequest;

/* Starts migrating 'd' (-EBUSY if it is already); 'ret' is its job. */
int migration_start(Manager *m, Domain *d, const MigrateRequest *req, Job **ret);
/* The migration behind a job of kind "migrate", else NULL. */
Migration *migration_from_job(const Job *j);
Job *migration_get_job(const Migration *mg);
const char *migration_destination(const Migration *mg);
/* The domain of a running migration paused here: QEMU switched over. With
 * a managed switchover whose handover has not come yet, it comes now. */
void migration_source_paused(Migration *mg);

/* vfod --migrate-helper: the child process that runs the blocking libvirt call */
int migrate_helper_main(int argc, char *argv[]);
