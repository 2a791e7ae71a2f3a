/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfoctl: reading vfod's objects; see objects.h. */

#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "agent/ctl/format.h"
#include "agent/ctl/objects.h"
#include "lib/log.h"
#include "lib/validate.h"

typedef enum PropType {
        PROP_STRING,    /* s or o */
        PROP_BOOL,
        PROP_U32,
        PROP_U64,
        PROP_STRV,      /* as or ao */
        PROP_PORTS,     /* a(ssoso); a(ssoss) is read too */
} PropType;

typedef struct PropMap {
        const char *name;
        PropType type;
        size_t offset;
} PropMap;

static void strv_free(char **l) {
        for (char **i = l; i && *i; i++)
                free(*i);
        free(l);
}

static void port_done(VfoPort *p) {
        free(p->mac);
        free(p->path);
        free(p->vf);
        free(p->state);
        free(p->job);
}

static void ports_free(VfoPort *ports, size_t n) {
        for (size_t i = 0; i < n; i++)
                port_done(&ports[i]);
        free(ports);
}

void vfo_manager_done(VfoManager *m) {
        free(m->version);
        free(m->libvirt_uri);
        strv_free(m->pools);
        strv_free(m->domains);
        strv_free(m->jobs);
        *m = (VfoManager) {};
}

void vfo_domain_done(VfoDomain *d) {
        free(d->object);
        free(d->name);
        free(d->uuid);
        free(d->state);
        free(d->agent_version);
        free(d->pool);
        ports_free(d->ports, d->n_ports);
        *d = (VfoDomain) {};
}

void vfo_pool_done(VfoPool *p) {
        free(p->object);
        free(p->name);
        free(p->type);
        free(p->steering);
        strv_free(p->vfs);
        *p = (VfoPool) {};
}

void vfo_vf_done(VfoVf *v) {
        free(v->object);
        free(v->id);
        free(v->pool);
        free(v->state);
        free(v->domain);
        free(v->mac);
        free(v->pf);
        *v = (VfoVf) {};
}

void vfo_job_done(VfoJob *j) {
        free(j->object);
        free(j->kind);
        free(j->reason);
        free(j->domain);
        free(j->mac);
        free(j->vf);
        free(j->phase);
        free(j->state);
        free(j->error);
        free(j->error_message);
        free(j->fallback);
        free(j->loss);
        free(j->destination);
        *j = (VfoJob) {};
}

static const PropMap manager_map[] = {
        { "Version", PROP_STRING, offsetof(VfoManager, version) },
        { "LibvirtURI", PROP_STRING, offsetof(VfoManager, libvirt_uri) },
        { "LibvirtConnected", PROP_BOOL, offsetof(VfoManager, libvirt_connected) },
        { "Pools", PROP_STRV, offsetof(VfoManager, pools) },
        { "Domains", PROP_STRV, offsetof(VfoManager, domains) },
        { "Jobs", PROP_STRV, offsetof(VfoManager, jobs) },
        {}
};

static const PropMap domain_map[] = {
        { "Name", PROP_STRING, offsetof(VfoDomain, name) },
        { "UUID", PROP_STRING, offsetof(VfoDomain, uuid) },
        { "State", PROP_STRING, offsetof(VfoDomain, state) },
        { "AgentConnected", PROP_BOOL, offsetof(VfoDomain, agent_connected) },
        { "AgentVersion", PROP_STRING, offsetof(VfoDomain, agent_version) },
        { "OptedIn", PROP_BOOL, offsetof(VfoDomain, opted_in) },
        { "Pool", PROP_STRING, offsetof(VfoDomain, pool) },
        { "Priority", PROP_U32, offsetof(VfoDomain, priority) },
        { "Required", PROP_BOOL, offsetof(VfoDomain, required) },
        { "Ports", PROP_PORTS, offsetof(VfoDomain, ports) },
        {}
};

static const PropMap pool_map[] = {
        { "Name", PROP_STRING, offsetof(VfoPool, name) },
        { "Type", PROP_STRING, offsetof(VfoPool, type) },
        { "Steering", PROP_STRING, offsetof(VfoPool, steering) },
        { "Total", PROP_U32, offsetof(VfoPool, total) },
        { "Free", PROP_U32, offsetof(VfoPool, free) },
        { "Waiting", PROP_U32, offsetof(VfoPool, waiting) },
        { "Drained", PROP_BOOL, offsetof(VfoPool, drained) },
        { "VFs", PROP_STRV, offsetof(VfoPool, vfs) },
        {}
};

static const PropMap vf_map[] = {
        { "Id", PROP_STRING, offsetof(VfoVf, id) },
        { "Pool", PROP_STRING, offsetof(VfoVf, pool) },
        { "State", PROP_STRING, offsetof(VfoVf, state) },
        { "Domain", PROP_STRING, offsetof(VfoVf, domain) },
        { "MAC", PROP_STRING, offsetof(VfoVf, mac) },
        { "PF", PROP_STRING, offsetof(VfoVf, pf) },
        { "Index", PROP_U32, offsetof(VfoVf, index) },
        {}
};

static const PropMap job_map[] = {
        { "Id", PROP_U64, offsetof(VfoJob, id) },
        { "Kind", PROP_STRING, offsetof(VfoJob, kind) },
        { "Reason", PROP_STRING, offsetof(VfoJob, reason) },
        { "Domain", PROP_STRING, offsetof(VfoJob, domain) },
        { "MAC", PROP_STRING, offsetof(VfoJob, mac) },
        { "VF", PROP_STRING, offsetof(VfoJob, vf) },
        { "Phase", PROP_STRING, offsetof(VfoJob, phase) },
        { "Progress", PROP_U32, offsetof(VfoJob, progress) },
        { "State", PROP_STRING, offsetof(VfoJob, state) },
        { "Error", PROP_STRING, offsetof(VfoJob, error) },
        { "ErrorMessage", PROP_STRING, offsetof(VfoJob, error_message) },
        { "Fallback", PROP_STRING, offsetof(VfoJob, fallback) },
        { "StartUSec", PROP_U64, offsetof(VfoJob, start_usec) },
        { "FinishUSec", PROP_U64, offsetof(VfoJob, finish_usec) },
        { "LibvirtUSec", PROP_U64, offsetof(VfoJob, libvirt_usec) },
        { "AgentUSec", PROP_U64, offsetof(VfoJob, agent_usec) },
        { "Destination", PROP_STRING, offsetof(VfoJob, destination) },
        { "Loss", PROP_STRING, offsetof(VfoJob, loss) },
        { "SyntheticRxPackets", PROP_U64, offsetof(VfoJob, synthetic_rx) },
        { "SyntheticTxPackets", PROP_U64, offsetof(VfoJob, synthetic_tx) },
        { "VFRxPackets", PROP_U64, offsetof(VfoJob, vf_rx) },
        { "VFTxPackets", PROP_U64, offsetof(VfoJob, vf_tx) },
        { "HandedOver", PROP_U64, offsetof(VfoJob, handed_over) },
        { "HeldTx", PROP_U64, offsetof(VfoJob, held_tx) },
        { "GuestDrops", PROP_U64, offsetof(VfoJob, guest_drops) },
        { "HostDrops", PROP_U64, offsetof(VfoJob, host_drops) },
        { "HostDropsBeforeMove", PROP_U64, offsetof(VfoJob, host_drops_before_move) },
        {}
};

static bool streq_ptr(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static bool prop_type_matches(PropType t, const char *sig) {
        switch (t) {
        case PROP_STRING:
                return streq_ptr(sig, "s") || streq_ptr(sig, "o");
        case PROP_BOOL:
                return streq_ptr(sig, "b");
        case PROP_U32:
                return streq_ptr(sig, "u");
        case PROP_U64:
                return streq_ptr(sig, "t");
        case PROP_STRV:
                return streq_ptr(sig, "as") || streq_ptr(sig, "ao");
        case PROP_PORTS:
                return sig && strncmp(sig, "a(", 2) == 0;
        }
        return false;
}

/* One string or object path member of a struct, whichever it is. */
static int read_str_member(sd_bus_message *m, char **ret) {
        const char *s;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, NULL);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        if (type != 's' && type != 'o')
                return -EBADMSG;
        r = sd_bus_message_read_basic(m, type, &s);
        if (r < 0)
                return r;
        *ret = text_escape(s);
        return *ret ? 0 : -ENOMEM;
}

static int read_ports(sd_bus_message *m, VfoPort **ret, size_t *ret_n) {
        VfoPort *ports = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', NULL);
        if (r < 0)
                return r;
        /* at_end first: entering a struct with NULL contents at the end of the array fails */
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                VfoPort *np;

                r = sd_bus_message_enter_container(m, 'r', NULL);
                if (r <= 0) {
                        r = r < 0 ? r : -EBADMSG;
                        goto fail;
                }
                np = realloc(ports, (n + 1) * sizeof(VfoPort));
                if (!np) {
                        r = -ENOMEM;
                        goto fail;
                }
                ports = np;
                ports[n] = (VfoPort) {};
                n++;
                if ((r = read_str_member(m, &ports[n - 1].mac)) < 0 ||
                    (r = read_str_member(m, &ports[n - 1].path)) < 0 ||
                    (r = read_str_member(m, &ports[n - 1].vf)) < 0 ||
                    (r = read_str_member(m, &ports[n - 1].state)) < 0 ||
                    (r = read_str_member(m, &ports[n - 1].job)) < 0)
                        goto fail;
                /* members a later version may add */
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        r = sd_bus_message_skip(m, NULL);
                        if (r < 0)
                                goto fail;
                }
                if (r < 0)
                        goto fail;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto fail;
        }
        if (r < 0)
                goto fail;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                goto fail;
        *ret = ports;
        *ret_n = n;
        return 0;
fail:
        ports_free(ports, n);
        return r;
}

static int map_one(sd_bus_message *m, const PropMap *p, void *base) {
        uint8_t *where = (uint8_t *) base + p->offset;
        const char *s;
        int r, b;

        switch (p->type) {
        case PROP_STRING: {
                char type;
                char *copy;

                r = sd_bus_message_peek_type(m, &type, NULL);
                if (r < 0)
                        return r;
                r = sd_bus_message_read_basic(m, type, &s);
                if (r < 0)
                        return r;
                copy = text_escape(s);     /* never a raw control character on the terminal */
                if (!copy)
                        return -ENOMEM;
                free(*(char **) where);
                *(char **) where = copy;
                return 0;
        }
        case PROP_BOOL:
                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0)
                        return r;
                *(bool *) where = b;
                return 0;
        case PROP_U32:
                return sd_bus_message_read_basic(m, 'u', where);
        case PROP_U64:
                return sd_bus_message_read_basic(m, 't', where);
        case PROP_STRV: {
                char **l = NULL;

                r = sd_bus_message_read_strv(m, &l);
                if (r < 0)
                        return r;
                strv_free(*(char ***) where);
                *(char ***) where = l;
                return 0;
        }
        case PROP_PORTS: {
                VfoDomain *d = base;
                VfoPort *ports = NULL;
                size_t n = 0;

                assert(p->offset == offsetof(VfoDomain, ports));
                r = read_ports(m, &ports, &n);
                if (r < 0)
                        return r;
                ports_free(d->ports, d->n_ports);
                d->ports = ports;
                d->n_ports = n;
                return 0;
        }
        }
        return -EINVAL;
}

/* Reads a{sv} at the read position of m into base. */
static int map_properties(sd_bus_message *m, const PropMap *map, void *base) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const PropMap *p = NULL;
                const char *name, *contents;
                char type;

                r = sd_bus_message_read_basic(m, 's', &name);
                if (r < 0)
                        return r;
                for (const PropMap *i = map; i->name; i++)
                        if (strcmp(i->name, name) == 0) {
                                p = i;
                                break;
                        }
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (!p || !prop_type_matches(p->type, contents)) {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                } else {
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r < 0)
                                return r;
                        r = map_one(m, p, base);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int get_all(sd_bus *bus, const char *object, const char *iface, const PropMap *map, void *base,
                   sd_bus_message **ret_reply, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, VFO_SERVICE, object, "org.freedesktop.DBus.Properties", "GetAll", error,
                               &reply, "s", iface);
        if (r < 0)
                return r;
        r = map_properties(reply, map, base);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot parse the properties of %s: %s", object,
                                               strerror(-r));
        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return 0;
}

/* 'object' may be *field itself: callers use *field afterwards. */
static int set_object(char **field, const char *object) {
        char *c = strdup(object);

        if (!c)
                return -ENOMEM;
        free(*field);
        *field = c;
        return 0;
}

int vfo_manager_load(sd_bus *bus, VfoManager *m, sd_bus_error *error) {
        return get_all(bus, VFO_PATH, VFO_MANAGER_IFACE, manager_map, m, NULL, error);
}

int vfo_domain_load(sd_bus *bus, const char *object, VfoDomain *d, sd_bus_error *error) {
        if (set_object(&d->object, object) < 0)
                return -ENOMEM;
        return get_all(bus, d->object, VFO_DOMAIN_IFACE, domain_map, d, NULL, error);
}

int vfo_pool_load(sd_bus *bus, const char *object, VfoPool *p, sd_bus_error *error) {
        if (set_object(&p->object, object) < 0)
                return -ENOMEM;
        return get_all(bus, p->object, VFO_POOL_IFACE, pool_map, p, NULL, error);
}

int vfo_vf_load(sd_bus *bus, const char *object, VfoVf *v, sd_bus_error *error) {
        if (set_object(&v->object, object) < 0)
                return -ENOMEM;
        return get_all(bus, v->object, VFO_VF_IFACE, vf_map, v, NULL, error);
}

int vfo_job_load(sd_bus *bus, const char *object, VfoJob *j, sd_bus_message **ret_reply,
                 sd_bus_error *error) {
        if (set_object(&j->object, object) < 0)
                return -ENOMEM;
        return get_all(bus, j->object, VFO_JOB_IFACE, job_map, j, ret_reply, error);
}

int vfo_job_update(sd_bus_message *m, VfoJob *j) {
        return map_properties(m, job_map, j);
}

char *vfo_path_id(const char *object, const char *prefix) {
        char *id = NULL;

        if (!object || strcmp(object, "/") == 0)
                return NULL;
        if (sd_bus_path_decode(object, prefix, &id) <= 0 || !id) {
                /* not below prefix: the last element as it is */
                const char *slash = strrchr(object, '/');

                return strdup(slash ? slash + 1 : object);
        }
        return id;
}

typedef struct NameCache {
        struct NameCache *next;
        char *object;
        char *name;
} NameCache;

static NameCache *name_cache = NULL;

const char *vfo_domain_name(sd_bus *bus, const char *object) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        NameCache *c;
        char *name = NULL;

        if (!object || strcmp(object, "/") == 0)
                return "";
        for (c = name_cache; c; c = c->next)
                if (strcmp(c->object, object) == 0)
                        return c->name;

        if (sd_bus_get_property_string(bus, VFO_SERVICE, object, VFO_DOMAIN_IFACE, "Name", &error, &name) <
                    0 ||
            !name || !*name) {
                log_debug("Cannot read the Name of %s: %s", object, error.message ?: "empty");
                free(name);
                name = vfo_path_id(object, VFO_DOMAIN_PREFIX);
                if (!name)
                        return NULL;
        }
        c = calloc(1, sizeof(NameCache));
        if (!c || !(c->object = strdup(object))) {
                free(c);
                free(name);
                return NULL;
        }
        c->name = name;
        c->next = name_cache;
        name_cache = c;
        return c->name;
}

void vfo_name_cache_clear(void) {
        while (name_cache) {
                NameCache *c = name_cache;

                name_cache = c->next;
                free(c->object);
                free(c->name);
                free(c);
        }
}

/* Reads a basic value of any type into text; strings are not copied. */
static int read_basic_text(sd_bus_message *m, char type, char *buf, size_t size, const char **ret) {
        union {
                uint8_t u8;
                int16_t i16;
                uint16_t u16;
                int32_t i32;
                uint32_t u32;
                int64_t i64;
                uint64_t u64;
                double d;
                int b;
                const char *s;
        } v;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case 'y':
                snprintf(buf, size, "%u", v.u8);
                break;
        case 'n':
                snprintf(buf, size, "%" PRIi16, v.i16);
                break;
        case 'q':
                snprintf(buf, size, "%" PRIu16, v.u16);
                break;
        case 'i':
        case 'h':
                snprintf(buf, size, "%" PRIi32, v.i32);
                break;
        case 'u':
                snprintf(buf, size, "%" PRIu32, v.u32);
                break;
        case 'x':
                snprintf(buf, size, "%" PRIi64, v.i64);
                break;
        case 't':
                snprintf(buf, size, "%" PRIu64, v.u64);
                break;
        case 'd':
                snprintf(buf, size, "%g", v.d);
                break;
        case 'b':
                snprintf(buf, size, "%s", v.b ? "true" : "false");
                break;
        case 's':
        case 'o':
        case 'g':
                *ret = v.s;
                return 1;
        default:
                return -EBADMSG;
        }
        *ret = buf;
        return 0;
}

int bus_message_to_json(sd_bus_message *m, JsonWriter *w) {
        const char *contents, *text;
        char type, buf[64];
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        switch (type) {
        case 'v':
        case 'a':
        case 'r': {
                bool dict = type == 'a' && contents[0] == '{';

                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                if (dict)
                        json_begin_object(w);
                else if (type != 'v')
                        json_begin_array(w);
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        if (dict) {
                                char ktype;

                                r = sd_bus_message_enter_container(m, 'e', NULL);
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_peek_type(m, &ktype, NULL);
                                if (r < 0)
                                        return r;
                                r = read_basic_text(m, ktype, buf, sizeof(buf), &text);
                                if (r < 0)
                                        return r;
                                json_key(w, text);
                                r = bus_message_to_json(m, w);
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_exit_container(m);
                        } else
                                r = bus_message_to_json(m, w);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                if (dict)
                        json_end_object(w);
                else if (type != 'v')
                        json_end_array(w);
                return sd_bus_message_exit_container(m);
        }
        case 'b': {
                int b;

                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0)
                        return r;
                json_bool(w, b);
                return 0;
        }
        case 'd':
                r = read_basic_text(m, type, buf, sizeof(buf), &text);
                if (r < 0)
                        return r;
                json_string(w, text);   /* NaN and infinities are not JSON numbers */
                return 0;
        default:
                r = read_basic_text(m, type, buf, sizeof(buf), &text);
                if (r < 0)
                        return r;
                if (r > 0)
                        json_string(w, text);
                else
                        json_raw(w, text);      /* integers: the digits are a JSON number */
                return 0;
        }
}

int bus_message_to_text(sd_bus_message *m, FILE *f) {
        const char *contents, *text;
        char type, buf[64];
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        switch (type) {
        case 'v':
        case 'a':
        case 'r': {
                bool dict = type == 'a' && contents[0] == '{', first = true;

                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                if (type != 'v')
                        fputc(dict ? '{' : type == 'a' ? '[' : '(', f);
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        if (!first)
                                fputs(type == 'r' ? " " : ", ", f);
                        first = false;
                        if (dict) {
                                r = sd_bus_message_enter_container(m, 'e', NULL);
                                if (r < 0)
                                        return r;
                                r = bus_message_to_text(m, f);
                                if (r < 0)
                                        return r;
                                fputc('=', f);
                                r = bus_message_to_text(m, f);
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_exit_container(m);
                        } else
                                r = bus_message_to_text(m, f);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                if (type != 'v')
                        fputc(dict ? '}' : type == 'a' ? ']' : ')', f);
                return sd_bus_message_exit_container(m);
        }
        default:
                r = read_basic_text(m, type, buf, sizeof(buf), &text);
                if (r < 0)
                        return r;
                if (r > 0 && (!*text || strpbrk(text, " \t\n\"")))
                        json_escape_string(f, text);    /* quoted when it would be ambiguous */
                else
                        fputs(text, f);
                return 0;
        }
}
