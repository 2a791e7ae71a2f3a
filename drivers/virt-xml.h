/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's domain XML, read and edited with libxml2 alone (no libvirt):
 * what vfod's libvirt driver parses, and what vfoctl's qemu hook strips
 * when vfod does not answer. Pure functions, no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* The XML namespace of vfo's domain metadata, and the element it holds:
 *   <vfo:policy xmlns:vfo="VIRT_METADATA_URI" pool="lab" priority="50" required="no"/> */
#define VIRT_METADATA_URI "http://vfo.org/xmlns/libvirt/domain/1"
#define VIRT_METADATA_PREFIX "vfo"
/* vfo's user aliases start with "ua-vfo-"; the VFs vfod plugs carry
 * "ua-vfo-vf-" and the VF's id ("ua-vfo-vf-lab-0"). */
#define VIRT_VFO_ALIAS_PREFIX "ua-vfo-"
#define VIRT_VF_ALIAS_PREFIX "ua-vfo-vf-"

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

/* One domain as libvirt gives it, before parsing: its live XML and what the
 * XML does not say (virt_get_domain_raw(), libvirt.h). */
typedef struct VirtDomainRaw {
        char *xml;
        VirtDomainState state;
        bool persistent;
        int id;                 /* -1 if not running */
} VirtDomainRaw;
void virt_domain_raw_done(VirtDomainRaw *raw);  /* frees the XML */
/* Pure: the VirtDomain of 'raw' (virt_domain_parse_xml(), then state,
 * persistent and id). */
int virt_domain_from_raw(const VirtDomainRaw *raw, VirtDomain *ret);
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

/* Pure: the domain XML without the <hostdev> devices whose alias starts with
 * VIRT_VF_ALIAS_PREFIX (SR-IOV VFs of the host the domain comes from). 0 and
 * *ret = NULL if there is none; the number removed and the new document
 * otherwise; -EBADMSG if it is not a <domain> document. */
int virt_strip_vf_hostdevs(const char *xml, char **ret);

/* The MAC libvirt gives the host side (tap) of a guest NIC with MAC 'guest':
 * the same with the first octet 0xfe, or 0xfa when the guest's is 0xfe.
 * Six octets each; so a tap's MAC leaves the guest's first octet open. */
void virt_tap_mac(const uint8_t guest[6], uint8_t ret[6]);
