/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for the libvirt driver's libvirt.c, virt-event.c and
 * virt-domain.c (drivers/libvirt.h) without libvirt:
 * linked into a test build of vfod (tests/integration/vfod-fakevirt).
 *
 * The domains are the *.xml files of the directory $VFO_FAKE_LIBVIRT_DIR,
 * each a running, persistent domain, read when the connection comes up. The
 * live XML is kept in memory, edited with libxml2 and written back to its
 * file after every change (so a test can look at it, and a restarted vfod
 * finds what is plugged, as with libvirt):
 *
 *   virt_attach_device()  puts the device into <devices>; an <interface>
 *                         without <target dev> gets the first tap of
 *                         $VFO_FAKE_TAPS ("tap0 tap1 …", created by the
 *                         test) that no interface of any domain names yet;
 *   virt_detach_alias()   asks for the unplug; the device leaves the XML and
 *                         device_removed comes from a timer of the loop
 *                         $VFO_FAKE_UNPLUG_MSEC later (default 50);
 *                         $VFO_FAKE_UNPLUG=never: the guest never lets go
 *                         (no event, the device stays), =fail:
 *                         device_removal_failed instead (read at every
 *                         unplug: a test may change it on the way);
 *   virt_set_link(), virt_set_policy() (with its metadata_changed event),
 *   virt_suspend(), virt_resume() (lifecycle events) edit the live state;
 *   job stats say "no job"; migration and its knobs are -EOPNOTSUPP,
 *   unless $VFO_FAKE_MIGRATE says what virt_migrate_blocking() (in vfod's
 *   migration helper process) does: =ok, the domain is gone from here
 *   (its UUID becomes a line of the file "migrated" in the directory, and
 *   the domain is shut off from the next call on); =slow, the same after
 *   1 s, while the job stats say the second pass is on (a managed
 *   switchover hands the traffic over); =fail, it fails;
 *   =wait, it waits until virt_abort_job() writes the file "aborted"
 *   (then fails as cancelled) or 10 s pass, with the job stats of =slow
 *   ($VFO_FAKE_MIGRATE_PASS=1: of a first pass far from its end); every
 *   maximum downtime set is a line "UUID MS" of the file "downtime";
 *   virt_call()           drivers/virt-call.c in its in-process mode (no
 *                         worker process): at the next iteration, or never
 *                         for a domain whose UUID is a line of the file
 *                         "wedged" in the directory (read at every call):
 *                         its QEMU does not answer, the call ends at its
 *                         deadline and the domain's next calls wait for it;
 *                         for a domain whose UUID is a line of the file
 *                         "failing", it fails at once with -EIO (libvirt's
 *                         internal error; also read at every call).
 *
 * The contract of the real driver holds: every callback comes from the
 * sd-event loop, never from inside a call; "up" comes first, from the loop,
 * also for the first connection; virt_free() calls none. There is no
 * libvirtd to lose, so the connection never goes down. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "drivers/libvirt.h"
#include "drivers/virt-call.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/string-util.h"
#include "lib/time-util.h"

#define FAKE_DOMAINS_MAX 256
#define FAKE_XML_MAX (1024 * 1024)
#define FAKE_UNPLUG_USEC_DEFAULT (50 * USEC_PER_MSEC)

/* virDomainEventType values (libvirt's stable ABI) that the fake emits. */
#define FAKE_EVENT_SUSPENDED 3
#define FAKE_EVENT_RESUMED 4
#define FAKE_EVENT_STOPPED 5
#define FAKE_MIGRATE_WAIT_USEC (10 * USEC_PER_SEC)
#define FAKE_MIGRATE_SLOW_USEC (1 * USEC_PER_SEC)

typedef struct FakeDomain {
        char *file;             /* where the live XML is written back */
        char *xml;              /* the live XML */
        char uuid[37];
        int id;
        VirtDomainState state;
} FakeDomain;

typedef enum FakeEventKind {
        FAKE_EVENT_CONNECTION,
        FAKE_EVENT_LIFECYCLE,
        FAKE_EVENT_METADATA,
} FakeEventKind;

typedef struct FakeEvent {
        struct FakeEvent *next;
        FakeEventKind kind;
        char uuid[37];
        char name[256];
        VirtDomainState state;
        int event;
} FakeEvent;

typedef enum FakeUnplugMode {
        FAKE_UNPLUG_REMOVE,     /* the guest lets go: DEVICE_REMOVED */
        FAKE_UNPLUG_NEVER,      /* it never does: no event */
        FAKE_UNPLUG_FAIL,       /* DEVICE_REMOVAL_FAILED */
} FakeUnplugMode;

typedef struct FakeUnplug {
        struct FakeUnplug *next;
        Virt *virt;
        sd_event_source *timer;
        char uuid[37];
        char alias[128];
        FakeUnplugMode mode;
} FakeUnplug;

struct Virt {
        sd_event *event;
        char *uri;              /* as given (unused: the directory decides) */
        char *conn_uri;         /* "fake://" + the directory */
        VirtCallbacks cb;
        void *userdata;
        bool connected;

        FakeDomain *domains;
        size_t n_domains;
        char **taps;            /* $VFO_FAKE_TAPS */
        size_t n_taps;
        usec_t unplug_usec;

        FakeEvent *first, *last; /* delivered one per loop iteration */
        sd_event_source *dispatch;
        FakeUnplug *unplugs;
        VirtCalls *calls;       /* virt_call(), in this process (drivers/virt-call.c) */
};

static sd_event *fake_event;

int virt_event_register(sd_event *event) {
        assert(event);

        if (fake_event)
                return fake_event == event ? 0 : -EBUSY;
        fake_event = sd_event_ref(event);
        return 0;
}

/*****************************************************************************
 * Events: from the loop only */

static int fake_queue(Virt *v, FakeEventKind kind, const FakeDomain *d, int event) {
        FakeEvent *e = calloc(1, sizeof(*e));
        VirtDomain parsed = {};

        if (!e)
                return -ENOMEM;
        e->kind = kind;
        e->event = event;
        if (d) {
                snprintf(e->uuid, sizeof(e->uuid), "%s", d->uuid);
                e->state = d->state;
                if (virt_domain_parse_xml(d->xml, &parsed) >= 0)
                        snprintf(e->name, sizeof(e->name), "%s", parsed.name);
                virt_domain_done(&parsed);
        }
        if (v->last)
                v->last->next = e;
        else
                v->first = e;
        v->last = e;
        return sd_event_source_set_enabled(v->dispatch, SD_EVENT_ONESHOT);
}

static int fake_dispatch_handler(sd_event_source *s, void *userdata) {
        Virt *v = userdata;
        FakeEvent *e = v->first;

        if (!e)
                return 0;
        v->first = e->next;
        if (!v->first)
                v->last = NULL;
        else
                (void) sd_event_source_set_enabled(v->dispatch, SD_EVENT_ONESHOT);

        /* The callback may call into the fake (and queue more): 'v' is not
         * touched after it. */
        switch (e->kind) {
        case FAKE_EVENT_CONNECTION:
                if (v->cb.connection)
                        v->cb.connection(v, true, v->userdata);
                break;
        case FAKE_EVENT_LIFECYCLE:
                if (v->cb.lifecycle)
                        v->cb.lifecycle(v, e->uuid, e->name, e->state, e->event, 0, v->userdata);
                break;
        case FAKE_EVENT_METADATA:
                if (v->cb.metadata_changed)
                        v->cb.metadata_changed(v, e->uuid, v->userdata);
                break;
        }
        free(e);
        return 0;
}

/*****************************************************************************
 * The live XML */

static void fake_doc_freep(xmlDoc **p) {
        if (*p)
                xmlFreeDoc(*p);
}

static void fake_xml_charp(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}

static int fake_parse(const char *xml, xmlDoc **ret) {
        xmlDoc *doc;
        size_t n = strlen(xml);

        if (n > FAKE_XML_MAX)
                return -E2BIG;
        doc = xmlReadMemory(xml, (int) n, "fake.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc || !xmlDocGetRootElement(doc)) {
                if (doc)
                        xmlFreeDoc(doc);
                return -EINVAL;         /* libvirt: VIR_ERR_XML_ERROR */
        }
        *ret = doc;
        return 0;
}

static xmlNode *fake_child(xmlNode *parent, const char *name) {
        for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name))
                        return c;
        return NULL;
}

/* The attribute 'attr' of the child element 'child' of 'node', or NULL. */
static xmlChar *fake_child_prop(xmlNode *node, const char *child, const char *attr) {
        xmlNode *c = fake_child(node, child);

        return c ? xmlGetNoNsProp(c, BAD_CAST attr) : NULL;
}

static bool fake_node_has_alias(xmlNode *node, const char *alias) {
        _cleanup_(fake_xml_charp) xmlChar *name = fake_child_prop(node, "alias", "name");

        return name && streq((const char *) name, alias);
}

static int fake_write_file(const char *file, const char *xml) {
        _cleanup_free_ char *tmp = NULL;
        FILE *f;
        int r = 0;

        if (asprintf(&tmp, "%s.tmp", file) < 0)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        if (fputs(xml, f) < 0)
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, file) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

/* Takes 'doc' as the domain's new live XML and writes it back. */
static int fake_commit(FakeDomain *d, xmlDoc *doc) {
        xmlChar *out = NULL;
        char *xml;
        int size = 0, r;

        xmlDocDumpFormatMemoryEnc(doc, &out, &size, "UTF-8", 1);
        if (!out)
                return -ENOMEM;
        xml = strdup((const char *) out);
        xmlFree(out);
        if (!xml)
                return -ENOMEM;
        free(d->xml);
        d->xml = xml;
        r = fake_write_file(d->file, d->xml);
        if (r < 0)
                log_warning_errno(r, "fake libvirt: cannot write %s back: %m", d->file);
        return 0;
}

static FakeDomain *fake_find(Virt *v, const char *uuid) {
        for (size_t i = 0; uuid && i < v->n_domains; i++)
                if (strcasecmp(v->domains[i].uuid, uuid) == 0)
                        return &v->domains[i];
        return NULL;
}

/* Whether 'uuid' is a line of the file 'name' in the directory (read at
 * every call: the test, or another process, writes it). */
static bool fake_listed(const char *name, const char *uuid) {
        const char *dir = getenv("VFO_FAKE_LIBVIRT_DIR");
        _cleanup_free_ char *path = NULL, *line = NULL;
        bool found = false;
        size_t n = 0;
        FILE *f;

        if (!dir || !uuid || asprintf(&path, "%s/%s", dir, name) < 0)
                return false;
        f = fopen(path, "re");
        if (!f)
                return false;
        while (!found && getline(&line, &n, f) > 0)
                found = strncmp(line, uuid, 36) == 0;
        fclose(f);
        return found;
}

static int fake_append_line(const char *name, const char *text) {
        const char *dir = getenv("VFO_FAKE_LIBVIRT_DIR");
        _cleanup_free_ char *path = NULL;
        FILE *f;
        int r = 0;

        if (!dir)
                return -ENOENT;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        f = fopen(path, "ae");
        if (!f)
                return -errno;
        if (fprintf(f, "%s\n", text) < 0)
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        return r;
}

/* Domains that migrated away (by the helper process) are shut off here. */
static void fake_sync_migrated(Virt *v) {
        for (size_t i = 0; i < v->n_domains; i++) {
                FakeDomain *d = &v->domains[i];

                if (d->state != VIRT_DOMAIN_SHUTOFF && fake_listed("migrated", d->uuid)) {
                        d->state = VIRT_DOMAIN_SHUTOFF;
                        (void) fake_queue(v, FAKE_EVENT_LIFECYCLE, d, FAKE_EVENT_STOPPED);
                }
        }
}

static int fake_lookup(Virt *v, const char *uuid, FakeDomain **ret) {
        if (!virt_is_connected(v))
                return -ENOTCONN;
        fake_sync_migrated(v);
        if (!uuid)
                return -EINVAL;
        *ret = fake_find(v, uuid);
        return *ret ? 0 : -ENOENT;
}

static int fake_lookup_running(Virt *v, const char *uuid, FakeDomain **ret) {
        int r = fake_lookup(v, uuid, ret);

        if (r < 0)
                return r;
        /* libvirt: VIR_ERR_OPERATION_INVALID "domain is not running" */
        return (*ret)->state == VIRT_DOMAIN_SHUTOFF ? -ESRCH : 0;
}

/*****************************************************************************
 * The connection */

static void fake_domains_free(Virt *v) {
        for (size_t i = 0; i < v->n_domains; i++) {
                free(v->domains[i].file);
                free(v->domains[i].xml);
        }
        v->domains = mfree(v->domains);
        v->n_domains = 0;
}

static int fake_read_file(const char *file, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;
        FILE *f;

        f = fopen(file, "re");
        if (!f)
                return -errno;
        buf = malloc(FAKE_XML_MAX + 1);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        n = fread(buf, 1, FAKE_XML_MAX + 1, f);
        fclose(f);
        if (n > FAKE_XML_MAX)
                return -E2BIG;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int fake_load(Virt *v, const char *dir) {
        struct dirent **names = NULL;
        int k, r = 0;

        k = scandir(dir, &names, NULL, alphasort);
        if (k < 0)
                return -errno;
        v->domains = calloc(MIN((size_t) k, (size_t) FAKE_DOMAINS_MAX) + 1, sizeof(FakeDomain));
        if (!v->domains) {
                r = -ENOMEM;
                goto finish;
        }
        for (int i = 0; i < k; i++) {
                const char *name = names[i]->d_name;
                size_t len = strlen(name);
                _cleanup_(virt_domain_done) VirtDomain parsed = {};
                _cleanup_free_ char *file = NULL, *xml = NULL;
                FakeDomain *d;

                if (len <= 4 || !streq(name + len - 4, ".xml") || name[0] == '.')
                        continue;
                if (v->n_domains >= FAKE_DOMAINS_MAX) {
                        log_warning("fake libvirt: more than %u domains in %s, the rest is left out.",
                                    FAKE_DOMAINS_MAX, dir);
                        break;
                }
                if (asprintf(&file, "%s/%s", dir, name) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = fake_read_file(file, &xml);
                if (r >= 0)
                        r = virt_domain_parse_xml(xml, &parsed);
                if (r < 0) {
                        log_warning_errno(r, "fake libvirt: %s is not a domain, left out: %m", file);
                        r = 0;
                        continue;
                }
                if (fake_find(v, parsed.uuid)) {
                        log_warning("fake libvirt: %s repeats UUID %s, left out.", file, parsed.uuid);
                        continue;
                }
                d = &v->domains[v->n_domains++];
                *d = (FakeDomain) {
                        .file = TAKE_PTR(file),
                        .xml = TAKE_PTR(xml),
                        .id = (int) v->n_domains,
                        .state = VIRT_DOMAIN_RUNNING,
                };
                snprintf(d->uuid, sizeof(d->uuid), "%s", parsed.uuid);
        }
finish:
        for (int i = 0; i < k; i++)
                free(names[i]);
        free(names);
        return r;
}

/* $VFO_FAKE_UNPLUG, read at every unplug (and checked at the start). */
static int fake_unplug_mode(FakeUnplugMode *ret) {
        const char *s = getenv("VFO_FAKE_UNPLUG");
        FakeUnplugMode mode;

        if (isempty(s) || streq(s, "remove"))
                mode = FAKE_UNPLUG_REMOVE;
        else if (streq(s, "never"))
                mode = FAKE_UNPLUG_NEVER;
        else if (streq(s, "fail"))
                mode = FAKE_UNPLUG_FAIL;
        else
                return log_error_errno(EINVAL, "fake libvirt: VFO_FAKE_UNPLUG='%s' is not remove, never or fail.", s);
        if (ret)
                *ret = mode;
        return 0;
}

static int fake_parse_env(Virt *v) {
        const char *s;

        s = getenv("VFO_FAKE_TAPS");
        if (s) {
                _cleanup_free_ char *copy = strdup(s);
                char *w, *save = NULL;

                if (!copy)
                        return -ENOMEM;
                for (w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                        char **a = reallocarray(v->taps, v->n_taps + 1, sizeof(char *));

                        if (!a)
                                return -ENOMEM;
                        v->taps = a;
                        v->taps[v->n_taps] = strdup(w);
                        if (!v->taps[v->n_taps])
                                return -ENOMEM;
                        v->n_taps++;
                }
        }

        v->unplug_usec = FAKE_UNPLUG_USEC_DEFAULT;
        s = getenv("VFO_FAKE_UNPLUG_MSEC");
        if (s) {
                char *end;
                unsigned long ms;

                errno = 0;
                ms = strtoul(s, &end, 10);
                if (errno != 0 || end == s || *end || ms > 3600 * 1000)
                        return log_error_errno(EINVAL, "fake libvirt: VFO_FAKE_UNPLUG_MSEC='%s' is not 0..3600000.", s);
                v->unplug_usec = ms * USEC_PER_MSEC;
        }
        return fake_unplug_mode(NULL);
}

/*****************************************************************************
 * virt_call() */

static bool fake_wedged(const char *uuid) {
        return fake_listed("wedged", uuid);
}

/* The executor of virt_call(): the blocking functions of this file, but
 * no answer at all for a wedged domain, and an error for a failing one. */
static int fake_execute(Virt *v, const VirtRequest *req, VirtJobStats *ret_stats, VirtDomainRaw *ret_raw) {
        if (fake_wedged(req->uuid))
                return -EINPROGRESS;
        if (fake_listed("failing", req->uuid)) {
                log_debug("fake libvirt: %s is listed in \"failing\": the call fails.", req->uuid);
                return -EIO;
        }
        return virt_execute(v, req, ret_stats, ret_raw);
}

static int fake_get_calls(Virt *v) {
        if (!virt_is_connected(v))
                return -ENOTCONN;
        return v->calls ? 0 : virt_calls_new(v->event, NULL, fake_execute, &v->calls);
}

int virt_call(Virt *v, const VirtRequest *req, usec_t timeout, VirtCallFn fn, void *userdata, VirtCall **ret) {
        int r = fake_get_calls(v);

        return r < 0 ? r : virt_calls_submit(v->calls, v, req, timeout, fn, userdata, ret);
}

int virt_read_domain(Virt *v, const char *uuid, usec_t timeout, VirtDomainFn fn, void *userdata, VirtCall **ret) {
        int r = fake_get_calls(v);

        return r < 0 ? r : virt_calls_submit_read(v->calls, v, uuid, timeout, fn, userdata, ret);
}

/* The fake has no second connection to give a worker: its calls never
 * leave the process (virt_calls_new() above). */
int virt_open_blocking(const char *uri, Virt **ret) {
        return -EOPNOTSUPP;
}

int virt_new(sd_event *event, const char *uri, const VirtCallbacks *cb, void *userdata, Virt **ret) {
        const char *dir = getenv("VFO_FAKE_LIBVIRT_DIR");
        Virt *v;
        int r;

        assert(event);
        assert(ret);

        if (!fake_event)
                return log_error_errno(EINVAL, "virt_event_register() was not called.");

        v = calloc(1, sizeof(*v));
        if (!v)
                return log_oom();
        v->event = sd_event_ref(event);
        v->userdata = userdata;
        if (cb)
                v->cb = *cb;
        if ((uri && !(v->uri = strdup(uri))) || asprintf(&v->conn_uri, "fake://%s", dir ?: "") < 0) {
                v->conn_uri = NULL;
                virt_free(v);
                return log_oom();
        }
        r = fake_parse_env(v);
        if (r >= 0)
                r = sd_event_add_defer(event, &v->dispatch, fake_dispatch_handler, v);
        if (r >= 0) {
                (void) sd_event_source_set_description(v->dispatch, "fake-libvirt-events");
                r = sd_event_source_set_enabled(v->dispatch, SD_EVENT_OFF);
        }
        if (r < 0) {
                virt_free(v);
                return log_error_errno(r, "fake libvirt: cannot set up: %m");
        }

        /* No directory: like a libvirtd that is not there, for good. */
        if (!dir)
                log_warning("fake libvirt: $VFO_FAKE_LIBVIRT_DIR is not set; never connected.");
        else {
                r = fake_load(v, dir);
                if (r < 0)
                        log_warning_errno(r, "fake libvirt: cannot read %s; never connected: %m", dir);
                else {
                        v->connected = true;
                        log_info("Connected to libvirt at %s (fake, %zu domains).", v->conn_uri, v->n_domains);
                        r = fake_queue(v, FAKE_EVENT_CONNECTION, NULL, 0);
                        if (r < 0) {
                                virt_free(v);
                                return log_error_errno(r, "fake libvirt: cannot queue the connection event: %m");
                        }
                }
        }
        *ret = v;
        return 0;
}

Virt *virt_free(Virt *v) {
        if (!v)
                return NULL;
        while (v->first) {
                FakeEvent *e = v->first;

                v->first = e->next;
                free(e);
        }
        while (v->unplugs) {
                FakeUnplug *u = v->unplugs;

                v->unplugs = u->next;
                sd_event_source_disable_unref(u->timer);
                free(u);
        }
        v->calls = virt_calls_free(v->calls);
        sd_event_source_disable_unref(v->dispatch);
        fake_domains_free(v);
        for (size_t i = 0; i < v->n_taps; i++)
                free(v->taps[i]);
        free(v->taps);
        free(v->uri);
        free(v->conn_uri);
        sd_event_unref(v->event);
        return mfree(v);
}

bool virt_is_connected(Virt *v) {
        return v && v->connected;
}

const char *virt_get_uri(Virt *v) {
        return v ? v->uri ?: v->conn_uri : NULL;
}

/*****************************************************************************
 * Domains */

static int fake_fill(const FakeDomain *d, VirtDomain *ret) {
        VirtDomain parsed = {};
        int r;

        r = virt_domain_parse_xml(d->xml, &parsed);
        if (r < 0)
                return log_warning_errno(r, "Failed to parse the XML of domain %s: %m", d->uuid);
        parsed.state = d->state;
        parsed.persistent = true;
        parsed.id = d->state == VIRT_DOMAIN_SHUTOFF ? -1 : d->id;
        *ret = parsed;
        return 0;
}

int virt_list_domains(Virt *v, VirtDomain **ret, size_t *ret_n) {
        VirtDomain *a;
        size_t n = 0;
        int r;

        assert(ret);
        assert(ret_n);

        if (!virt_is_connected(v))
                return -ENOTCONN;
        fake_sync_migrated(v);
        a = calloc(MAX(v->n_domains, 1u), sizeof(VirtDomain));
        if (!a)
                return log_oom();
        for (size_t i = 0; i < v->n_domains; i++) {
                r = fake_fill(&v->domains[i], &a[n]);
                if (r < 0) {
                        virt_domain_free_array(a, n);
                        return r;
                }
                n++;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int virt_get_domain_raw(Virt *v, const char *uuid, VirtDomainRaw *ret) {
        FakeDomain *d;
        int r;

        assert(ret);

        r = fake_lookup(v, uuid, &d);
        if (r < 0)
                return r;
        *ret = (VirtDomainRaw) {
                .xml = strdup(d->xml),
                .state = d->state,
                .persistent = true,
                .id = d->state == VIRT_DOMAIN_SHUTOFF ? -1 : d->id,
        };
        return ret->xml ? 0 : -ENOMEM;
}

/* The first entry of $VFO_FAKE_TAPS that no interface of any domain names. */
static const char *fake_free_tap(Virt *v) {
        for (size_t t = 0; t < v->n_taps; t++) {
                bool used = false;

                for (size_t i = 0; i < v->n_domains && !used; i++) {
                        _cleanup_(virt_domain_done) VirtDomain parsed = {};

                        if (virt_domain_parse_xml(v->domains[i].xml, &parsed) < 0)
                                continue;
                        for (size_t k = 0; k < parsed.n_interfaces && !used; k++)
                                used = streq(parsed.interfaces[k].target, v->taps[t]);
                }
                if (!used)
                        return v->taps[t];
        }
        return NULL;
}

int virt_attach_device(Virt *v, const char *uuid, const char *xml) {
        _cleanup_(fake_doc_freep) xmlDoc *doc = NULL, *dev = NULL;
        _cleanup_(fake_xml_charp) xmlChar *alias = NULL, *target = NULL;
        xmlNode *devices, *node, *copy;
        FakeDomain *d;
        int r;

        if (!xml)
                return -EINVAL;
        r = fake_lookup_running(v, uuid, &d);
        if (r < 0)
                return r;
        r = fake_parse(xml, &dev);
        if (r < 0)
                return log_warning_errno(r, "Failed to attach a device to domain %s: invalid device XML.", uuid);
        r = fake_parse(d->xml, &doc);
        if (r < 0)
                return r;
        devices = fake_child(xmlDocGetRootElement(doc), "devices");
        if (!devices)
                devices = xmlNewChild(xmlDocGetRootElement(doc), NULL, BAD_CAST "devices", NULL);
        if (!devices)
                return -ENOMEM;
        node = xmlDocGetRootElement(dev);

        alias = fake_child_prop(node, "alias", "name");
        if (alias)
                for (xmlNode *c = devices->children; c; c = c->next)
                        if (c->type == XML_ELEMENT_NODE && fake_node_has_alias(c, (const char *) alias))
                                return log_warning_errno(EINVAL,
                                                         "Failed to attach a device to domain %s: non unique alias '%s'.",
                                                         uuid, (const char *) alias);

        copy = xmlDocCopyNode(node, doc, 1);
        if (!copy)
                return -ENOMEM;
        if (!xmlAddChild(devices, copy)) {
                xmlFreeNode(copy);
                return -ENOMEM;
        }

        /* libvirt makes a tap for a new NIC: here one the test made. */
        target = fake_child_prop(copy, "target", "dev");
        if (xmlStrEqual(copy->name, BAD_CAST "interface") && !target) {
                const char *tap = fake_free_tap(v);
                xmlNode *t;

                if (!tap)
                        return log_warning_errno(ENOSPC,
                                                 "Failed to attach a device to domain %s: no free tap left in $VFO_FAKE_TAPS.",
                                                 uuid);
                t = xmlNewChild(copy, NULL, BAD_CAST "target", NULL);
                if (!t || !xmlSetProp(t, BAD_CAST "dev", BAD_CAST tap))
                        return -ENOMEM;
        }
        log_debug("fake libvirt: %s: device %s attached.", uuid, alias ? (const char *) alias : "(no alias)");
        return fake_commit(d, doc);
}

/* The device with 'alias' gone from the live XML: 1 if it was there. */
static int fake_remove_alias(FakeDomain *d, const char *alias) {
        _cleanup_(fake_doc_freep) xmlDoc *doc = NULL;
        xmlNode *devices;
        int r;

        r = fake_parse(d->xml, &doc);
        if (r < 0)
                return r;
        devices = fake_child(xmlDocGetRootElement(doc), "devices");
        for (xmlNode *c = devices ? devices->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && fake_node_has_alias(c, alias)) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                        r = fake_commit(d, doc);
                        return r < 0 ? r : 1;
                }
        return 0;
}

static bool fake_has_alias(FakeDomain *d, const char *alias) {
        _cleanup_(fake_doc_freep) xmlDoc *doc = NULL;
        xmlNode *devices;

        if (fake_parse(d->xml, &doc) < 0)
                return false;
        devices = fake_child(xmlDocGetRootElement(doc), "devices");
        for (xmlNode *c = devices ? devices->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && fake_node_has_alias(c, alias))
                        return true;
        return false;
}

/* The guest finished (or failed) the unplug: from the loop. */
static int fake_unplug_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        FakeUnplug *u = userdata;
        Virt *v = u->virt;
        FakeDomain *d = fake_find(v, u->uuid);
        char uuid[37], alias[128];
        FakeUnplugMode mode = u->mode;
        int removed = 0;

        for (FakeUnplug **p = &v->unplugs; *p; p = &(*p)->next)
                if (*p == u) {
                        *p = u->next;
                        break;
                }
        memcpy(uuid, u->uuid, sizeof(uuid));
        memcpy(alias, u->alias, sizeof(alias));
        sd_event_source_disable_unref(u->timer);
        free(u);

        if (!d || d->state == VIRT_DOMAIN_SHUTOFF)
                return 0;
        if (mode == FAKE_UNPLUG_FAIL) {
                if (v->cb.device_removal_failed)
                        v->cb.device_removal_failed(v, uuid, alias, v->userdata);
                return 0;
        }
        removed = fake_remove_alias(d, alias);
        if (removed < 0)
                log_warning_errno(removed, "fake libvirt: %s: cannot remove %s: %m", uuid, alias);
        if (removed > 0 && v->cb.device_removed)
                v->cb.device_removed(v, uuid, alias, v->userdata);
        return 0;
}

int virt_detach_alias(Virt *v, const char *uuid, const char *alias) {
        FakeUnplugMode mode;
        FakeUnplug *u;
        FakeDomain *d;
        int r;

        if (!alias)
                return -EINVAL;
        r = fake_lookup_running(v, uuid, &d);
        if (r < 0)
                return r;
        if (!fake_has_alias(d, alias)) {
                log_debug("Domain %s has no device with alias %s.", uuid, alias);
                return -ENOENT;
        }
        r = fake_unplug_mode(&mode);
        if (r < 0)
                return r;
        if (mode == FAKE_UNPLUG_NEVER) {
                log_debug("fake libvirt: %s: unplug of %s requested; the guest never lets go.", uuid, alias);
                return 0;
        }

        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->virt = v;
        u->mode = mode;
        snprintf(u->uuid, sizeof(u->uuid), "%s", d->uuid);
        snprintf(u->alias, sizeof(u->alias), "%s", alias);
        r = sd_event_add_time_relative(v->event, &u->timer, CLOCK_MONOTONIC, v->unplug_usec, USEC_PER_MSEC,
                                       fake_unplug_handler, u);
        if (r < 0) {
                free(u);
                return r;
        }
        (void) sd_event_source_set_description(u->timer, "fake-libvirt-unplug");
        u->next = v->unplugs;
        v->unplugs = u;
        log_debug("fake libvirt: %s: unplug of %s requested.", uuid, alias);
        return 0;
}

int virt_set_link(Virt *v, const char *uuid, const char *mac, bool up) {
        _cleanup_(fake_doc_freep) xmlDoc *doc = NULL;
        xmlNode *devices, *found = NULL, *link;
        FakeDomain *d;
        int r;

        if (!mac)
                return -EINVAL;
        r = fake_lookup_running(v, uuid, &d);
        if (r < 0)
                return r;
        r = fake_parse(d->xml, &doc);
        if (r < 0)
                return r;
        devices = fake_child(xmlDocGetRootElement(doc), "devices");
        for (xmlNode *c = devices ? devices->children : NULL; c && !found; c = c->next) {
                _cleanup_(fake_xml_charp) xmlChar *m = NULL, *alias = NULL;

                if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "interface"))
                        continue;
                m = fake_child_prop(c, "mac", "address");
                alias = fake_child_prop(c, "alias", "name");
                if (m && strcasecmp((const char *) m, mac) == 0 &&
                    !(alias && startswith((const char *) alias, VIRT_VF_ALIAS_PREFIX)))
                        found = c;
        }
        if (!found)
                return log_debug_errno(ENOENT, "Domain %s has no interface %s (other than vfo's).", uuid, mac);

        while ((link = fake_child(found, "link"))) {
                xmlUnlinkNode(link);
                xmlFreeNode(link);
        }
        link = xmlNewChild(found, NULL, BAD_CAST "link", NULL);
        if (!link || !xmlSetProp(link, BAD_CAST "state", BAD_CAST(up ? "up" : "down")))
                return -ENOMEM;
        return fake_commit(d, doc);
}

int virt_set_policy(Virt *v, const char *uuid, const VirtPolicy *policy) {
        _cleanup_(fake_doc_freep) xmlDoc *doc = NULL, *elem = NULL;
        _cleanup_free_ char *xml = NULL;
        xmlNode *root, *metadata, *copy;
        FakeDomain *d;
        int r;

        assert(policy);

        if (policy->present) {
                r = virt_policy_format(policy, &xml);
                if (r < 0)
                        return r;
                r = fake_parse(xml, &elem);
                if (r < 0)
                        return r;
        }
        r = fake_lookup(v, uuid, &d);
        if (r < 0)
                return r;
        r = fake_parse(d->xml, &doc);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        metadata = fake_child(root, "metadata");

        /* virDomainSetMetadata(ELEMENT): vfo's element replaces the old one. */
        for (xmlNode *c = metadata ? metadata->children : NULL, *next; c; c = next) {
                next = c->next;
                if (c->type == XML_ELEMENT_NODE && c->ns && xmlStrEqual(c->ns->href, BAD_CAST VIRT_METADATA_URI)) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                }
        }
        if (elem) {
                xmlNs *ns;

                if (!metadata)
                        metadata = xmlNewChild(root, NULL, BAD_CAST "metadata", NULL);
                if (!metadata)
                        return -ENOMEM;
                copy = xmlDocCopyNode(xmlDocGetRootElement(elem), doc, 1);
                if (!copy)
                        return -ENOMEM;
                if (!xmlAddChild(metadata, copy)) {
                        xmlFreeNode(copy);
                        return -ENOMEM;
                }
                ns = xmlNewNs(copy, BAD_CAST VIRT_METADATA_URI, BAD_CAST VIRT_METADATA_PREFIX);
                if (!ns)
                        return -ENOMEM;
                xmlSetNs(copy, ns);
        }
        r = fake_commit(d, doc);
        if (r < 0)
                return r;
        return fake_queue(v, FAKE_EVENT_METADATA, d, 0);
}

int virt_resume(Virt *v, const char *uuid) {
        FakeDomain *d;
        int r;

        r = fake_lookup(v, uuid, &d);
        if (r < 0)
                return r;
        if (d->state != VIRT_DOMAIN_PAUSED)
                return -ESRCH;          /* libvirt: "domain is not paused" */
        d->state = VIRT_DOMAIN_RUNNING;
        return fake_queue(v, FAKE_EVENT_LIFECYCLE, d, FAKE_EVENT_RESUMED);
}

int virt_suspend(Virt *v, const char *uuid) {
        FakeDomain *d;
        int r;

        r = fake_lookup(v, uuid, &d);
        if (r < 0)
                return r;
        if (d->state != VIRT_DOMAIN_RUNNING)
                return -ESRCH;          /* libvirt: "domain is not running" */
        d->state = VIRT_DOMAIN_PAUSED;
        return fake_queue(v, FAKE_EVENT_LIFECYCLE, d, FAKE_EVENT_SUSPENDED);
}

/*****************************************************************************
 * Jobs and migration: there are none here */

int virt_get_job_stats(Virt *v, const char *uuid, VirtJobStats *ret) {
        FakeDomain *d;
        int r;

        r = fake_lookup(v, uuid, &d);
        if (r < 0)
                return r;
        if ((streq_ptr(getenv("VFO_FAKE_MIGRATE"), "slow") || streq_ptr(getenv("VFO_FAKE_MIGRATE"), "wait")) &&
            !fake_listed("migrated", d->uuid)) {
                /* the second pass: little left, time for a handover; with
                 * $VFO_FAKE_MIGRATE_PASS=1, the first pass that stands still */
                bool first = streq_ptr(getenv("VFO_FAKE_MIGRATE_PASS"), "1");

                *ret = (VirtJobStats) {
                        .type = 2,      /* VIR_DOMAIN_JOB_UNBOUNDED */
                        .data_total = 1ULL << 30,
                        .data_processed = first ? 1ULL << 29 : (1ULL << 30) - (1ULL << 20),
                        .data_remaining = first ? 1ULL << 29 : 1ULL << 20,
                        .memory_iteration = first ? 1 : 2,
                };
                return 0;
        }
        *ret = (VirtJobStats) { .type = 0 };    /* VIR_DOMAIN_JOB_NONE */
        return 0;
}

int virt_set_max_downtime(Virt *v, const char *uuid, uint64_t ms) {
        FakeDomain *d;
        char line[64];
        int r;

        if (isempty(getenv("VFO_FAKE_MIGRATE")))
                return -EOPNOTSUPP;
        r = fake_lookup_running(v, uuid, &d);
        if (r < 0)
                return r;
        snprintf(line, sizeof(line), "%s %" PRIu64, d->uuid, ms);
        return fake_append_line("downtime", line);
}

int virt_start_postcopy(Virt *v, const char *uuid) {
        FakeDomain *d;
        int r;

        r = fake_lookup_running(v, uuid, &d);
        if (r < 0)
                return r;
        /* QEMU: "Enable postcopy with migrate_set_capability before the start of migration" */
        if (!fake_listed("postcopy-enabled", d->uuid))
                return -EINVAL;
        return fake_append_line("postcopy", d->uuid);
}

int virt_abort_job(Virt *v, const char *uuid) {
        FakeDomain *d;
        int r;

        if (isempty(getenv("VFO_FAKE_MIGRATE")))
                return -EOPNOTSUPP;
        r = fake_lookup_running(v, uuid, &d);
        if (r < 0)
                return r;
        return fake_append_line("aborted", d->uuid);
}

/* In vfod's migration helper: no loop, no Virt; only files in the
 * directory tell the test's (or vfod's) process what happened. */
int virt_migrate_blocking(const char *src_uri, const char *uuid, const char *dest_uri, const VirtMigrateOptions *o,
                          char **ret_message) {
        const char *mode = getenv("VFO_FAKE_MIGRATE");
        usec_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        *ret_message = NULL;
        if (isempty(mode)) {
                *ret_message = strdup("the fake libvirt driver does not migrate");
                return -EOPNOTSUPP;
        }
        /* what virt_start_postcopy() checks, as QEMU does */
        if (o->postcopy && fake_append_line("postcopy-enabled", uuid) < 0) {
                *ret_message = strdup("fake libvirt: cannot note the migration's post-copy");
                return -EIO;
        }
        if (streq(mode, "ok")) {
                r = fake_append_line("migrated", uuid);
                if (r < 0)
                        *ret_message = strdup("fake libvirt: cannot note the migration");
                return r;
        }
        if (streq(mode, "slow")) {
                (void) usleep(FAKE_MIGRATE_SLOW_USEC);
                r = fake_append_line("migrated", uuid);
                if (r < 0)
                        *ret_message = strdup("fake libvirt: cannot note the migration");
                return r;
        }
        if (streq(mode, "wait"))
                while (now_usec(CLOCK_MONOTONIC) - start < FAKE_MIGRATE_WAIT_USEC) {
                        if (fake_listed("aborted", uuid)) {
                                *ret_message = strdup("operation aborted: migration out job: canceled by client");
                                return -ECANCELED;
                        }
                        (void) usleep(10 * USEC_PER_MSEC);
                }
        *ret_message = strdup("fake libvirt: the destination refused the domain");
        return -EIO;
}
