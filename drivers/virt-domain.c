/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's domains: the reads vfod's loop makes (list, XML), the blocking
 * operations its workers run (virt-execute.c), and the migration of vfod's
 * migration helper; see libvirt.h. */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virt-internal.h"
#include "lib/log.h"
#include "lib/macro.h"

/*****************************************************************************
 * Domains */

static void virDomainFreep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}

static int virt_lookup(Virt *v, const char *uuid, virDomainPtr *ret) {
        virConnectPtr conn = virt_connection(v);
        virDomainPtr dom;

        if (!conn)
                return -ENOTCONN;
        if (!uuid)
                return -EINVAL;

        dom = virDomainLookupByUUIDString(conn, uuid);
        if (!dom)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to look up domain %s", uuid);
        *ret = dom;
        return 0;
}

static int virt_domain_read(Virt *v, virDomainPtr dom, VirtDomainRaw *ret) {
        _cleanup_(virt_domain_raw_done) VirtDomainRaw raw = {};
        char uuid[VIR_UUID_STRING_BUFLEN] = "?";
        int state, reason, persistent;
        unsigned id;

        (void) virDomainGetUUIDString(dom, uuid);

        raw.xml = virDomainGetXMLDesc(dom, 0);
        if (!raw.xml)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to get the XML of domain %s", uuid);
        if (virDomainGetState(dom, &state, &reason, 0) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to get the state of domain %s", uuid);
        persistent = virDomainIsPersistent(dom);
        if (persistent < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to ask whether domain %s is persistent", uuid);
        id = virDomainGetID(dom);

        raw.state = virt_state_from_libvirt(state);
        raw.persistent = persistent > 0;
        raw.id = id == (unsigned) -1 || id > INT_MAX ? -1 : (int) id;
        *ret = raw;
        raw = (VirtDomainRaw) {};
        return 0;
}

static int virt_domain_fill(Virt *v, virDomainPtr dom, VirtDomain *ret) {
        _cleanup_(virt_domain_raw_done) VirtDomainRaw raw = {};
        int r;

        r = virt_domain_read(v, dom, &raw);
        if (r < 0)
                return r;
        r = virt_domain_from_raw(&raw, ret);
        if (r < 0) {
                char uuid[VIR_UUID_STRING_BUFLEN] = "?";

                (void) virDomainGetUUIDString(dom, uuid);
                return log_warning_errno(r, "Failed to parse the XML of domain %s: %m", uuid);
        }
        return 0;
}

int virt_list_domains(Virt *v, VirtDomain **ret, size_t *ret_n) {
        virConnectPtr conn = virt_connection(v);
        virDomainPtr *doms = NULL;
        VirtDomain *a = NULL;
        size_t n = 0;
        int k, r;

        assert(ret);
        assert(ret_n);

        if (!conn)
                return -ENOTCONN;

        k = virConnectListAllDomains(conn, &doms, 0);
        if (k < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to list domains");

        a = calloc(MAX((size_t) k, 1u), sizeof(VirtDomain));
        if (!a) {
                r = log_oom();
                goto finish;
        }
        for (int i = 0; i < k; i++) {
                r = virt_domain_fill(v, doms[i], &a[n]);
                if (r == -ENOENT)
                        continue; /* gone since the listing */
                if (r < 0)
                        goto finish;
                n++;
        }

        *ret = TAKE_PTR(a);
        *ret_n = n;
        r = 0;

finish:
        for (int i = 0; i < k; i++)
                virDomainFree(doms[i]);
        free(doms);
        virt_domain_free_array(a, n);
        return r;
}

int virt_get_domain_raw(Virt *v, const char *uuid, VirtDomainRaw *ret) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        assert(ret);

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        return virt_domain_read(v, dom, ret);
}

int virt_set_policy(Virt *v, const char *uuid, const VirtPolicy *policy) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *xml = NULL;
        unsigned flags = 0;
        int active, persistent, r;

        assert(policy);

        if (policy->present) {
                r = virt_policy_format(policy, &xml);
                if (r < 0)
                        return r;
        }

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        active = virDomainIsActive(dom);
        if (active < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to ask whether domain %s is running", uuid);
        persistent = virDomainIsPersistent(dom);
        if (persistent < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to ask whether domain %s is persistent", uuid);
        if (active > 0)
                flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (persistent > 0)
                flags |= VIR_DOMAIN_AFFECT_CONFIG;

        if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, VIRT_METADATA_PREFIX,
                                 VIRT_METADATA_URI, flags) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to %s the vfo policy of domain %s",
                                  xml ? "set" : "remove", uuid);
        return 0;
}

int virt_attach_device(Virt *v, const char *uuid, const char *xml) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        if (!xml)
                return -EINVAL;
        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        if (virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to attach a device to domain %s", uuid);
        return 0;
}

int virt_detach_alias(Virt *v, const char *uuid, const char *alias) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        const virError *e;
        int r;

        if (!alias)
                return -EINVAL;
        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        if (virDomainDetachDeviceAlias(dom, alias, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                e = virGetLastError();
                /* Older drivers say "not found" with another code. */
                if (e && (e->code == VIR_ERR_DEVICE_MISSING ||
                          (e->message &&
                           (strstr(e->message, "not found") || strstr(e->message, "no device found"))))) {
                        log_debug("Domain %s has no device with alias %s: %s", uuid, alias, e->message);
                        virResetLastError();
                        return -ENOENT;
                }
                return virt_error(v, VIRT_LOG_AUTO, "Failed to detach device %s from domain %s", alias, uuid);
        }
        return 0;
}

int virt_set_link(Virt *v, const char *uuid, const char *mac, bool up) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_free_ char *xml = NULL, *dev = NULL;
        int r;

        if (!mac)
                return -EINVAL;
        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;

        xml = virDomainGetXMLDesc(dom, 0);
        if (!xml)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to get the XML of domain %s", uuid);
        r = virt_interface_set_link_xml(xml, mac, up, &dev);
        if (r == -ENOENT)
                return log_debug_errno(r, "Domain %s has no interface %s (other than vfo's).", uuid, mac);
        if (r < 0)
                return log_warning_errno(r, "Failed to build the interface XML of %s on domain %s: %m", mac,
                                         uuid);

        if (virDomainUpdateDeviceFlags(dom, dev, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to set the link of %s on domain %s %s", mac, uuid,
                                  up ? "up" : "down");
        return 0;
}

/* One call on the domain that takes nothing else; logs "Failed to <what> domain <uuid>". */
static int virt_domain_call(Virt *v, const char *uuid, int (*call)(virDomainPtr), const char *what) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (call(dom) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to %s domain %s", what, uuid);
        return 0;
}

int virt_resume(Virt *v, const char *uuid) {
        return virt_domain_call(v, uuid, virDomainResume, "resume");
}

int virt_get_job_stats(Virt *v, const char *uuid, VirtJobStats *ret) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        virTypedParameterPtr params = NULL;
        int nparams = 0, type = VIR_DOMAIN_JOB_NONE, r;
        unsigned long long u;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainGetJobStats(dom, &type, &params, &nparams, 0) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to read the job of domain %s", uuid);
        *ret = (VirtJobStats) { .type = type };
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_TOTAL, &u) > 0)
                ret->data_total = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_PROCESSED, &u) > 0)
                ret->data_processed = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_REMAINING, &u) > 0)
                ret->data_remaining = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_TIME_ELAPSED, &u) > 0)
                ret->time_elapsed_ms = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_ITERATION, &u) > 0)
                ret->memory_iteration = u;
        if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_BPS, &u) > 0)
                ret->memory_bps = u;
        virTypedParamsFree(params, nparams);
        return 0;
}

int virt_set_max_downtime(Virt *v, const char *uuid, uint64_t ms) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainMigrateSetMaxDowntime(dom, ms, 0) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to set the maximum downtime of domain %s", uuid);
        return 0;
}

int virt_start_postcopy(Virt *v, const char *uuid) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        int r;

        r = virt_lookup(v, uuid, &dom);
        if (r < 0)
                return r;
        if (virDomainMigrateStartPostCopy(dom, 0) < 0)
                return virt_error(v, VIRT_LOG_AUTO, "Failed to switch the migration of domain %s to post-copy", uuid);
        return 0;
}

int virt_suspend(Virt *v, const char *uuid) {
        return virt_domain_call(v, uuid, virDomainSuspend, "suspend");
}

int virt_abort_job(Virt *v, const char *uuid) {
        return virt_domain_call(v, uuid, virDomainAbortJob, "abort the job of");
}

static char *virt_last_message(const char *what) {
        const virError *e = virGetLastError();
        char *s = NULL;

        if (asprintf(&s, "%s: %s", what, e && e->message ? e->message : "unknown libvirt error") < 0)
                return NULL;
        return s;
}

int virt_migrate_blocking(const char *src_uri, const char *uuid, const char *dest_uri, const VirtMigrateOptions *o,
                          char **ret_message) {
        virConnectPtr conn = NULL, dconn = NULL;
        virDomainPtr dom = NULL, ddom = NULL;
        virTypedParameterPtr params = NULL;
        int nparams = 0, maxparams = 0, r = 0;
        unsigned flags = 0;

        *ret_message = NULL;
        virSetErrorFunc(NULL, virt_error_silence);
        conn = virConnectOpen(src_uri);
        if (!conn) {
                *ret_message = virt_last_message("cannot connect to the source libvirt");
                r = -ENOTCONN;
                goto finish;
        }
        dom = virDomainLookupByUUIDString(conn, uuid);
        if (!dom) {
                *ret_message = virt_last_message("no such domain");
                r = -ENOENT;
                goto finish;
        }

        if ((o->migrate_uri &&
             virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI, o->migrate_uri) < 0) ||
            (o->listen_address && virTypedParamsAddString(&params, &nparams, &maxparams,
                                                          VIR_MIGRATE_PARAM_LISTEN_ADDRESS, o->listen_address) < 0) ||
            (o->bandwidth > 0 && virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                                                         o->bandwidth) < 0)) {
                r = -ENOMEM;
                goto finish;
        }

        flags = (o->live ? VIR_MIGRATE_LIVE : 0) | (o->persistent ? VIR_MIGRATE_PERSIST_DEST : 0) |
                (o->undefine_source ? VIR_MIGRATE_UNDEFINE_SOURCE : 0) | (o->postcopy ? VIR_MIGRATE_POSTCOPY : 0);
        if (o->p2p) {
                if (virDomainMigrateToURI3(dom, dest_uri, params, (unsigned) nparams, flags | VIR_MIGRATE_PEER2PEER) < 0) {
                        *ret_message = virt_last_message("migration failed");
                        r = virt_errno(virGetLastError());
                }
        } else {
                dconn = virConnectOpen(dest_uri);
                if (!dconn) {
                        *ret_message = virt_last_message("cannot connect to the destination libvirt");
                        r = -ENOTCONN;
                        goto finish;
                }
                ddom = virDomainMigrate3(dom, dconn, params, (unsigned) nparams, flags);
                if (!ddom) {
                        *ret_message = virt_last_message("migration failed");
                        r = virt_errno(virGetLastError());
                }
        }
finish:
        virTypedParamsFree(params, nparams);
        if (ddom)
                virDomainFree(ddom);
        if (dom)
                virDomainFree(dom);
        if (dconn)
                virConnectClose(dconn);
        if (conn)
                virConnectClose(conn);
        return r;
}
