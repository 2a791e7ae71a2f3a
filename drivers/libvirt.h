/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt (the C API): the only place in vfod that talks to libvirtd.
 *
 * libvirt's event loop is the caller's sd-event loop (virEventRegisterImpl;
 * libvirt starts no event thread). A Virt keeps one connection, re-opens it
 * with backoff (0.5 s doubling to 30 s) when libvirtd goes away, and
 * re-subscribes to lifecycle and device events each time. Domains are named
 * by their UUID string everywhere. Calls into libvirt are RPCs: they block
 * the loop for their duration (libvirt has no asynchronous API); a hot-unplug
 * completes later, through the device_removed callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

/* The XML namespace of vfo's domain metadata, and the element it holds:
 *   <vfo:policy xmlns:vfo="VIRT_METADATA_URI" pool="lab" priority="50" required="no"/> */
#define VIRT_METADATA_URI "http://vfo.org/xmlns/libvirt/domain/1"
#define VIRT_METADATA_PREFIX "vfo"
/* vfo's user aliases start with "ua-vfo-"; the VFs vfod plugs carry
 * "ua-vfo-vf-" and the VF's id ("ua-vfo-vf-lab-0"). */
#define VIRT_VFO_ALIAS_PREFIX "ua-vfo-"
#define VIRT_VF_ALIAS_PREFIX "ua-vfo-vf-"

typedef struct Virt Virt;

typedef enum VirtDomainState {
        VIRT_DOMAIN_SHUTOFF,            /* also: not defined any more */
        VIRT_DOMAIN_RUNNING,
        VIRT_DOMAIN_PAUSED,             /* also: pmsuspended, and "migrating" paused states */
        VIRT_DOMAIN_OTHER,              /* blocked, crashed, shutting down, … */
        _VIRT_DOMAIN_STATE_MAX,
        _VIRT_DOMAIN_STATE_INVALID = -1,
} VirtDomainState;

const char *virt_domain_state_to_string(VirtDomainState s);   /* "shutoff", "running", "paused", "other" */

/* One <interface> of a domain's live XML. */
typedef struct VirtInterface {
        char mac[18];           /* lower case "52:54:00:aa:bb:cc" */
        char model[32];         /* <model type=…>, "" if none */
        char alias[64];         /* <alias name=…>, "" if none */
        char target[64];        /* <target dev=…> (the host tap), "" if none */
        char type[16];          /* <interface type=…>: "bridge", "network", "hostdev", … */
        bool link_down;         /* <link state='down'/> */
        bool teaming_persistent; /* <teaming type='persistent'/> */
} VirtInterface;

/* vfo's policy from the domain's metadata. */
typedef struct VirtPolicy {
        bool present;           /* the metadata element exists: the domain opted in */
        char pool[64];          /* "" = the default pool */
        unsigned priority;      /* 0..1000, default 100 */
        bool required;
} VirtPolicy;

/* What vfod needs of one domain: parsed from its live XML. */
typedef struct VirtDomain {
        char uuid[37];
        char name[256];
        int id;                 /* -1 if not running */
        VirtDomainState state;
        bool persistent;
        VirtInterface *interfaces;
        size_t n_interfaces;
        char *channel_path;     /* <channel type='unix'> with target name org.vfo.agent.0: its socket; NULL if none */
        char **vfo_aliases;     /* aliases of devices (any kind) starting with VIRT_VFO_ALIAS_PREFIX */
        size_t n_vfo_aliases;
        VirtPolicy policy;
} VirtDomain;

void virt_domain_done(VirtDomain *d);      /* frees the members, not 'd' */
void virt_domain_free_array(VirtDomain *a, size_t n);

/* Pure: fills 'ret' (uuid, name, interfaces, channel_path, vfo_aliases,
 * policy) from a domain XML document (libxml2 + XPath). id/state/persistent
 * are left to the caller. -EBADMSG on malformed XML; a bad policy attribute
 * (priority not a number or > 1000, required not yes/no/true/false/1/0)
 * leaves policy.present false and returns 0 with a warning logged. */
int virt_domain_parse_xml(const char *xml, VirtDomain *ret);

/* The element virt_set_policy() writes (for tests and for the docs). */
int virt_policy_format(const VirtPolicy *p, char **ret);

/* Pure: the <interface> of 'domain_xml' with 'mac' (any case) whose alias
 * does not start with VIRT_VFO_ALIAS_PREFIX, serialized with exactly one
 * <link state='up|down'/>: the device XML virt_set_link() passes to
 * virDomainUpdateDeviceFlags(). -ENOENT if there is no such interface,
 * -EBADMSG on malformed XML. */
int virt_interface_set_link_xml(const char *domain_xml, const char *mac, bool up, char **ret);

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
/* One domain by UUID; -ENOENT if there is none. */
int virt_get_domain(Virt *v, const char *uuid, VirtDomain *ret);

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
} VirtJobStats;
int virt_get_job_stats(Virt *v, const char *uuid, VirtJobStats *ret);
/* virDomainMigrateSetMaxDowntime: how long the final pause of a running
 * migration may last; QEMU switches over by itself once it can meet it. */
int virt_set_max_downtime(Virt *v, const char *uuid, uint64_t ms);
/* virDomainSuspend. */
int virt_suspend(Virt *v, const char *uuid);
/* virDomainAbortJob: cancels a running migration. */
int virt_abort_job(Virt *v, const char *uuid);

typedef struct VirtMigrateOptions {
        bool live;
        bool p2p;               /* virDomainMigrateToURI3 with PEER2PEER; else virDomainMigrate3 with our own destination connection */
        bool persistent;        /* VIR_MIGRATE_PERSIST_DEST */
        bool undefine_source;   /* VIR_MIGRATE_UNDEFINE_SOURCE */
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

/* Pure: the domain XML without the <hostdev> devices whose alias starts with
 * VIRT_VF_ALIAS_PREFIX (SR-IOV VFs of the host the domain comes from). 0 and
 * *ret = NULL if there is none; 1 and the new document otherwise. */
int virt_strip_vf_hostdevs(const char *xml, char **ret);
