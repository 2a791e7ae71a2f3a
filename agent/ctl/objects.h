/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl's view of vfod's objects (see org.vfo1(5)): read with
 * Properties.GetAll into plain structs, updated from PropertiesChanged. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "lib/bus-names.h"
#include "lib/macro.h"


typedef struct VfoManager {
        char *version;
        char *libvirt_uri;
        bool libvirt_connected;
        char **pools;
        char **domains;
        char **jobs;
} VfoManager;

typedef struct VfoPort {
        char *mac;
        char *path;             /* "vf" | "synthetic" */
        char *vf;               /* object path or "/" */
        char *state;
        char *job;              /* object path or "/" */
} VfoPort;

typedef struct VfoDomain {
        char *object;
        char *name;
        char *uuid;
        char *state;
        bool agent_connected;
        char *agent_version;
        bool opted_in;
        char *pool;
        uint32_t priority;
        bool required;
        VfoPort *ports;
        size_t n_ports;
} VfoDomain;

typedef struct VfoPool {
        char *object;
        char *name;
        char *type;
        char *steering;
        uint32_t total;
        uint32_t free;
        uint32_t waiting;
        bool drained;           /* false from a vfod without host servicing */
        char **vfs;
} VfoPool;

typedef struct VfoVf {
        char *object;
        char *id;
        char *pool;
        char *state;
        char *domain;
        char *mac;
        char *pf;
        uint32_t index;
} VfoVf;

typedef struct VfoJob {
        char *object;
        uint64_t id;
        char *kind;
        char *reason;
        char *domain;
        char *mac;
        char *vf;
        char *phase;
        uint32_t progress;
        char *state;
        char *error;
        char *error_message;
        char *fallback;
        uint64_t start_usec;
        uint64_t finish_usec;
        uint64_t libvirt_usec;
        uint64_t agent_usec;
        char *destination;      /* migrate: the destination URI */
        char *loss;             /* clean, lossy, unknown */
        uint64_t synthetic_rx, synthetic_tx, vf_rx, vf_tx, handed_over, held_tx, guest_drops, host_drops;
        uint64_t host_drops_before_move;
} VfoJob;

void vfo_manager_done(VfoManager *m);
void vfo_domain_done(VfoDomain *d);
void vfo_pool_done(VfoPool *p);
void vfo_vf_done(VfoVf *v);
void vfo_job_done(VfoJob *j);

/* GetAll of the object's interface. The struct must be zeroed or filled
 * before; unknown properties and unexpected types are ignored. */
int vfo_manager_load(sd_bus *bus, VfoManager *m, sd_bus_error *error);
int vfo_domain_load(sd_bus *bus, const char *object, VfoDomain *d, sd_bus_error *error);
int vfo_pool_load(sd_bus *bus, const char *object, VfoPool *p, sd_bus_error *error);
int vfo_vf_load(sd_bus *bus, const char *object, VfoVf *v, sd_bus_error *error);
int vfo_job_load(sd_bus *bus, const char *object, VfoJob *j, sd_bus_message **ret_reply, sd_bus_error *error);

/* Applies the a{sv} at the read position of m (a GetAll reply or the
 * changed properties of PropertiesChanged) to the job. */
int vfo_job_update(sd_bus_message *m, VfoJob *j);

/* The last element of an object path, decoded ("/" or NULL -> NULL). */
char *vfo_path_id(const char *object, const char *prefix);

/* The Name of a domain object, cached for the life of the process; falls
 * back to the decoded UUID. Never NULL unless out of memory. */
const char *vfo_domain_name(sd_bus *bus, const char *object);
void vfo_name_cache_clear(void);

/* A value of any D-Bus type at the read position of m, as JSON or as text
 * (for `vfoctl monitor`). */
struct JsonWriter;
int bus_message_to_json(sd_bus_message *m, struct JsonWriter *w);
int bus_message_to_text(sd_bus_message *m, FILE *f);
