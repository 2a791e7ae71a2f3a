/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod.conf(5): the daemon's settings and its pools. A keyfile
 * (lib/keyfile.h); every error names the file and line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/macro.h"
#include "lib/time-util.h"

/* The defaults and limits named in the comments below. */
#define CONFIG_STATE_DIRECTORY_DEFAULT "/var/lib/vfo"
#define CONFIG_PREEMPT_MARGIN_DEFAULT 10U
#define CONFIG_PREEMPT_MARGIN_MAX 1000U
#define CONFIG_REASSIGN_INTERVAL_DEFAULT (30 * USEC_PER_SEC)
#define CONFIG_AGENT_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define CONFIG_UNPLUG_TIMEOUT_DEFAULT (20 * USEC_PER_SEC)
/* above libvirt's own 30 s wait for a domain's job lock: its error comes first */
#define CONFIG_LIBVIRT_TIMEOUT_DEFAULT (45 * USEC_PER_SEC)
#define CONFIG_TIMEOUT_MAX (3600 * USEC_PER_SEC)
#define CONFIG_ADMIN_GROUP_DEFAULT "vfo"
#define CONFIG_MODEL_DEFAULT "e1000e"
#define CONFIG_FORWARD_PORT_DEFAULT 4789U
#define CONFIG_POOL_COUNT_MAX 4096U
#define CONFIG_VLAN_MAX 4094U

typedef enum PoolType {
        POOL_TYPE_SRIOV,        /* real VFs of one or more PFs */
        POOL_TYPE_EMULATED,     /* emulated PCIe NICs (e1000e) on a bridge: the lab, the demo */
        _POOL_TYPE_MAX,
        _POOL_TYPE_INVALID = -1,
} PoolType;

typedef enum SteeringKind {
        STEERING_SWITCH,        /* the PF's embedded switch: the VF's MAC moves steering */
        STEERING_BRIDGE,        /* a Linux bridge FDB entry (static sticky) to the port that should receive */
        _STEERING_KIND_MAX,
        _STEERING_KIND_INVALID = -1,
} SteeringKind;

typedef enum NoAgentPolicy {
        NO_AGENT_REFUSE,        /* refuse the job: the VF stays where it is */
        NO_AGENT_ABRUPT,        /* unplug/plug without the guest's help (loses packets), and say so */
        _NO_AGENT_POLICY_MAX,
        _NO_AGENT_POLICY_INVALID = -1,
} NoAgentPolicy;

const char *pool_type_to_string(PoolType t) _const_;
PoolType pool_type_from_string(const char *s) _pure_;
const char *steering_kind_to_string(SteeringKind k) _const_;
SteeringKind steering_kind_from_string(const char *s) _pure_;
const char *no_agent_policy_to_string(NoAgentPolicy p) _const_;
NoAgentPolicy no_agent_policy_from_string(const char *s) _pure_;

typedef struct PoolConfig {
        char name[64];          /* [Pool NAME]: [A-Za-z0-9_.-]{1,63} */
        PoolType type;
        /* sriov */
        char **pfs;             /* PFs=: netdev names, whitespace-separated */
        size_t n_pfs;
        char **vfs;             /* VFs=: PCI addresses, whitespace-separated */
        size_t n_vfs;
        uint16_t vlan;          /* VLAN= 0..4094, 0 = none */
        bool spoofchk;          /* SpoofCheck= (default yes) */
        bool trust;             /* Trust= (default no) */
        SteeringKind steering;  /* Steering= switch|bridge (sriov default switch; emulated: always bridge) */
        /* emulated, and sriov with Steering=bridge */
        char bridge[16];        /* Bridge=: the Linux bridge */
        unsigned count;         /* Count=: emulated VFs, 1..4096 */
        char model[32];         /* Model=: emulated NIC model, default "e1000e" */
} PoolConfig;

/* AbruptFallback=: the reasons of a detach that goes on abruptly when the
 * guest's agent refuses it, does not answer in time or is not connected, so
 * that a guest cannot keep a VF the host needs (bits, by name). */
typedef enum DetachReasonFlag {
        DETACH_REASON_USER = 1 << 0,            /* "user": vfoctl detach, Domain.Detach */
        DETACH_REASON_PREEMPT = 1 << 1,         /* "preempt": a higher-priority port needs the VF */
        DETACH_REASON_POLICY = 1 << 2,          /* "policy": the domain opted out or changed pool */
        DETACH_REASON_MIGRATE = 1 << 3,         /* "migrate": the VF leaves before a live migration */
        DETACH_REASON_RECOVERY = 1 << 4,        /* "recovery": finishing a detach a restart interrupted */
        DETACH_REASON_DRAIN = 1 << 5,           /* "drain": the pool is drained for host servicing */
        DETACH_REASON_ALL = (1 << 6) - 1,
} DetachReasonFlag;

typedef struct Config {
        char *libvirt_uri;              /* [Daemon] LibvirtURI= (NULL: libvirt's default) */
        char *state_directory;          /* StateDirectory= default /var/lib/vfo */
        char *default_pool;             /* DefaultPool= (NULL: the first pool) */
        unsigned preempt_margin;        /* PreemptMargin= default 10; 0 disables preemption */
        usec_t reassign_interval;       /* ReassignIntervalSec= default 30: a port keeps or waits for a VF at least this long */
        usec_t agent_timeout;           /* AgentTimeoutSec= default 10: each agent step */
        usec_t unplug_timeout;          /* UnplugTimeoutSec= default 20: DEVICE_REMOVED */
        usec_t libvirt_timeout;         /* LibvirtTimeoutSec= default 45: each libvirt call that may wait on QEMU */
        NoAgentPolicy no_agent;         /* NoAgent= refuse|abrupt, default refuse */
        unsigned abrupt_fallback;       /* AbruptFallback= DetachReasonFlag bits, default all */
        char *group;                    /* AdminGroup= default "vfo": may change things over D-Bus */
        char *forward_address;          /* ForwardAddress= this host's end of a migration's forwarding
                                         * tunnel (NULL: no forwarding) */
        uint16_t forward_port;          /* ForwardPort= default 4789: its UDP port (VXLAN) */
        bool forward_copies;            /* ForwardCopies= default no: at a handover the source copies
                                         * into the tunnels and keeps delivering (ExpectReplay) */
        PoolConfig *pools;
        size_t n_pools;
} Config;

/* Parses 'path'. On error returns a negative errno and, in 'ret_message',
 * "FILE:LINE: reason" (malloc'd). A missing file is -ENOENT with a message. */
int config_load(const char *path, Config **ret, char **ret_message);
/* Same, from a stream named 'name' (tests). */
int config_parse(FILE *f, const char *name, Config **ret, char **ret_message);
Config *config_free(Config *c);
DEFINE_CLEANUP_FUNC(Config, config_free);
/* The pool named 'name'; NULL: the default pool (config_default_pool()). */
const PoolConfig *config_find_pool(const Config *c, const char *name);
/* DefaultPool=, or the first pool; NULL when there are no pools. */
const PoolConfig *config_default_pool(const Config *c);
