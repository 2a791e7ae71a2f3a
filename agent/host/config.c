/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod.conf(5); see config.h. Unknown sections and keys are errors, so a
 * typo does not silently keep a default.
 *
 * lib/keyfile calls back for assignments only, so the section headers are
 * found by a first pass over the text, with the same rules keyfile_parse()
 * applies: that is how an empty [Bogus] section or a second [Pool lab]
 * without keys is noticed, and how the checks made after parsing name the
 * line of the pool's header. Headers are handled in file order, just before
 * the first assignment that follows them, so errors come out in file order. */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/host/config.h"
#include "lib/keyfile.h"
#include "lib/string-table.h"
#include "lib/validate.h"

#define CONFIG_FILE_MAX (1024U * 1024U)
#define POOL_LIST_MAX 4096U

#define sizeof_field(type, member) sizeof(((type *) NULL)->member)

static const char *const pool_type_table[_POOL_TYPE_MAX] = {
        [POOL_TYPE_SRIOV] = "sriov",
        [POOL_TYPE_EMULATED] = "emulated",
};
DEFINE_STRING_TABLE_LOOKUP(pool_type, PoolType, _POOL_TYPE_MAX);

static const char *const steering_kind_table[_STEERING_KIND_MAX] = {
        [STEERING_SWITCH] = "switch",
        [STEERING_BRIDGE] = "bridge",
};
DEFINE_STRING_TABLE_LOOKUP(steering_kind, SteeringKind, _STEERING_KIND_MAX);

static const char *const no_agent_policy_table[_NO_AGENT_POLICY_MAX] = {
        [NO_AGENT_REFUSE] = "refuse",
        [NO_AGENT_ABRUPT] = "abrupt",
};
DEFINE_STRING_TABLE_LOOKUP(no_agent_policy, NoAgentPolicy, _NO_AGENT_POLICY_MAX);

/* The keys a [Pool] section set (an empty value unsets a key again). */
enum {
        POOL_KEY_TYPE = 1U << 0,
        POOL_KEY_PFS = 1U << 1,
        POOL_KEY_VFS = 1U << 2,
        POOL_KEY_VLAN = 1U << 3,
        POOL_KEY_SPOOFCHECK = 1U << 4,
        POOL_KEY_TRUST = 1U << 5,
        POOL_KEY_STEERING = 1U << 6,
        POOL_KEY_BRIDGE = 1U << 7,
        POOL_KEY_COUNT = 1U << 8,
        POOL_KEY_MODEL = 1U << 9,
};

typedef struct PoolParse {
        unsigned line;          /* of the [Pool NAME] header */
        unsigned set;           /* POOL_KEY_* */
} PoolParse;

typedef struct SectionHeader {
        char *name;
        unsigned line;
} SectionHeader;

typedef enum SectionKind {
        SECTION_NONE,
        SECTION_DAEMON,
        SECTION_POOL,
} SectionKind;

typedef struct ConfigParser {
        const char *file;
        Config *config;
        PoolParse *pools;       /* parallel to config->pools */
        SectionHeader *headers;
        size_t n_headers;
        size_t n_opened;        /* headers handled so far */
        SectionKind kind;       /* of the section being read */
        size_t pool;            /* SECTION_POOL: index into config->pools */
        unsigned default_pool_line;
        char *message;          /* "FILE:LINE: reason" of the first error */
} ConfigParser;

static void config_parser_done(ConfigParser *p) {
        for (size_t i = 0; i < p->n_headers; i++)
                free(p->headers[i].name);
        free(p->headers);
        free(p->pools);
        free(p->message);
        config_free(p->config);
}

static int parser_error(ConfigParser *p, unsigned line, int error, const char *format, ...) _printf_(4, 5);
static int parser_error(ConfigParser *p, unsigned line, int error, const char *format, ...) {
        char why[512];
        va_list ap;

        /* The first error wins. */
        if (p->message)
                return error;

        va_start(ap, format);
        (void) vsnprintf(why, sizeof(why), format, ap);
        va_end(ap);

        if (asprintf(&p->message, "%s:%u: %s", p->file, line, why) < 0)
                p->message = NULL;
        return error;
}

static char *strip(char *s) {
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = '\0';
        return s;
}

static void strv_free_n(char **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i]);
        free(l);
}

static void pool_config_done(PoolConfig *pool) {
        strv_free_n(pool->pfs, pool->n_pfs);
        strv_free_n(pool->vfs, pool->n_vfs);
        pool->pfs = pool->vfs = NULL;
        pool->n_pfs = pool->n_vfs = 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->libvirt_uri);
        free(c->state_directory);
        free(c->default_pool);
        free(c->group);
        for (size_t i = 0; i < c->n_pools; i++)
                pool_config_done(&c->pools[i]);
        free(c->pools);
        return mfree(c);
}

static Config *config_new(void) {
        Config *c = calloc(1, sizeof(Config));

        if (!c)
                return NULL;
        *c = (Config) {
                .preempt_margin = CONFIG_PREEMPT_MARGIN_DEFAULT,
                .reassign_interval = CONFIG_REASSIGN_INTERVAL_DEFAULT,
                .agent_timeout = CONFIG_AGENT_TIMEOUT_DEFAULT,
                .libvirt_timeout = CONFIG_LIBVIRT_TIMEOUT_DEFAULT,
                .unplug_timeout = CONFIG_UNPLUG_TIMEOUT_DEFAULT,
                .no_agent = NO_AGENT_REFUSE,
                .abrupt_fallback = DETACH_REASON_ALL,
        };
        c->state_directory = strdup(CONFIG_STATE_DIRECTORY_DEFAULT);
        c->group = strdup(CONFIG_ADMIN_GROUP_DEFAULT);
        if (!c->state_directory || !c->group)
                return config_free(c);
        return c;
}

static void pool_config_init(PoolConfig *pool, const char *name) {
        *pool = (PoolConfig) {
                .type = _POOL_TYPE_INVALID,
                .spoofchk = true,
                .steering = STEERING_SWITCH,
        };
        snprintf(pool->name, sizeof(pool->name), "%s", name);
        snprintf(pool->model, sizeof(pool->model), "%s", CONFIG_MODEL_DEFAULT);
}

const PoolConfig *config_find_pool(const Config *c, const char *name) {
        if (!c)
                return NULL;
        if (!name)
                return config_default_pool(c);
        for (size_t i = 0; i < c->n_pools; i++)
                if (strcmp(c->pools[i].name, name) == 0)
                        return &c->pools[i];
        return NULL;
}

const PoolConfig *config_default_pool(const Config *c) {
        if (!c || c->n_pools == 0)
                return NULL;
        if (c->default_pool)
                return config_find_pool(c, c->default_pool);
        return &c->pools[0];
}

/* Value checks */

static bool pool_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n >= sizeof_field(PoolConfig, name))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

static bool model_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n >= sizeof_field(PoolConfig, model))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' &&
                    s[i] != '-')
                        return false;
        return true;
}

/* "scheme:rest": qemu:///system, qemu+ssh://host/system, test:///default. */
static bool libvirt_uri_is_valid(const char *s) {
        const char *p = s;

        if (!(*p >= 'a' && *p <= 'z'))
                return false;
        /* *p first: strchr() finds the terminating NUL too. */
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p && strchr("+.-", *p)))
                p++;
        if (*p != ':' || p[1] == '\0')
                return false;
        for (; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* A POSIX-portable group name, as useradd(8) and groupadd(8) take them. */
static bool group_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 32)
                return false;
        if (!isalpha((unsigned char) s[0]) && s[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* DDDD:BB:DD.F in hex; the device is 00..1f and the function 0..7. */
static bool pci_address_is_valid(const char *s) {
        static const char shape[] = "xxxx:xx:xx.x";

        if (strlen(s) != strlen(shape))
                return false;
        for (size_t i = 0; shape[i]; i++) {
                if (shape[i] != 'x') {
                        if (s[i] != shape[i])
                                return false;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
        }
        if (strtoul((char[]) { s[8], s[9], '\0' }, NULL, 16) > 0x1f)
                return false;
        return s[11] >= '0' && s[11] <= '7';
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

/* "30", "0.5", "2.25": seconds to the microsecond, more than 0 and at most
 * CONFIG_TIMEOUT_MAX. */
static int parse_seconds(const char *s, usec_t *ret) {
        usec_t sec = 0, frac = 0, scale = USEC_PER_SEC / 10, v;
        const char *p = s;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                sec = sec * 10 + (usec_t) (*p - '0');
                if (sec > CONFIG_TIMEOUT_MAX / USEC_PER_SEC)
                        return -ERANGE;
        }
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                for (; isdigit((unsigned char) *p); p++) {
                        if (scale == 0) {
                                /* Below a microsecond: only zeros. */
                                if (*p != '0')
                                        return -ERANGE;
                                continue;
                        }
                        frac += (usec_t) (*p - '0') * scale;
                        scale /= 10;
                }
        }
        if (*p != '\0')
                return -EINVAL;

        v = sec * USEC_PER_SEC + frac;
        if (v == 0 || v > CONFIG_TIMEOUT_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_boolean(const char *s) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

static int set_string(char **dest, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*dest);
        *dest = s;
        return 0;
}

/* Sections */

static int open_section(ConfigParser *p, const SectionHeader *h) {
        Config *c = p->config;
        const char *name;
        PoolConfig *pools;
        PoolParse *parse;

        if (strcmp(h->name, "Daemon") == 0) {
                p->kind = SECTION_DAEMON;
                return 0;
        }

        if (strcmp(h->name, "Pool") == 0)
                return parser_error(p, h->line, -EINVAL, "[Pool NAME] needs a pool name, e.g. [Pool lab]");
        if (strncmp(h->name, "Pool ", 5) != 0)
                return parser_error(p, h->line, -EINVAL,
                                    "unknown section [%.64s] (expected [Daemon] or [Pool NAME])", h->name);

        name = h->name + 5;
        if (!pool_name_is_valid(name))
                return parser_error(
                        p, h->line, -EINVAL,
                        "invalid pool name '%.64s': 1..63 characters of A-Z, a-z, 0-9, '_', '.', '-'", name);
        for (size_t i = 0; i < c->n_pools; i++)
                if (strcmp(c->pools[i].name, name) == 0)
                        return parser_error(p, h->line, -EINVAL,
                                            "duplicate pool '%s' (first defined on line %u)", name,
                                            p->pools[i].line);

        pools = reallocarray(c->pools, c->n_pools + 1, sizeof(PoolConfig));
        if (!pools)
                return -ENOMEM;
        c->pools = pools;
        parse = reallocarray(p->pools, c->n_pools + 1, sizeof(PoolParse));
        if (!parse)
                return -ENOMEM;
        p->pools = parse;

        pool_config_init(&c->pools[c->n_pools], name);
        p->pools[c->n_pools] = (PoolParse) { .line = h->line };
        p->pool = c->n_pools++;
        p->kind = SECTION_POOL;
        return 0;
}

/* Handles the section headers above 'line'. */
static int open_sections_before(ConfigParser *p, unsigned line) {
        while (p->n_opened < p->n_headers && p->headers[p->n_opened].line < line) {
                int r = open_section(p, &p->headers[p->n_opened++]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The first pass: every line that keyfile_parse() takes for a section header. */
static int scan_headers(ConfigParser *p, const char *text, size_t size) {
        _cleanup_free_ char *copy = NULL;
        char *l, *end;
        unsigned line = 0;

        copy = malloc(size + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, text, size);
        copy[size] = '\0';

        for (l = copy, end = copy + size; l < end; l++) {
                char *nl = memchr(l, '\n', (size_t) (end - l)), *s, *close;
                SectionHeader *headers;

                if (nl)
                        *nl = '\0';
                line++;
                s = strip(l);
                l = nl ? nl : end;

                if (*s != '[')
                        continue;
                close = strchr(s, ']');
                if (!close || close[1] != '\0' || close == s + 1)
                        continue; /* keyfile_parse() reports it */
                *close = '\0';

                headers = reallocarray(p->headers, p->n_headers + 1, sizeof(SectionHeader));
                if (!headers)
                        return -ENOMEM;
                p->headers = headers;
                p->headers[p->n_headers].name = strdup(strip(s + 1));
                if (!p->headers[p->n_headers].name)
                        return -ENOMEM;
                p->headers[p->n_headers++].line = line;
        }
        return 0;
}

/* Assignments */

static int daemon_assign(ConfigParser *p, unsigned line, const char *key, const char *value) {
        Config *c = p->config;
        unsigned u;
        int v;

        if (strcmp(key, "LibvirtURI") == 0) {
                if (!*value) {
                        c->libvirt_uri = mfree(c->libvirt_uri);
                        return 0;
                }
                if (!libvirt_uri_is_valid(value))
                        return parser_error(
                                p, line, -EINVAL,
                                "LibvirtURI= must be a libvirt URI such as qemu:///system, got '%.64s'",
                                value);
                return set_string(&c->libvirt_uri, value);
        }
        if (strcmp(key, "StateDirectory") == 0) {
                if (!*value)
                        value = CONFIG_STATE_DIRECTORY_DEFAULT;
                if (value[0] != '/')
                        return parser_error(p, line, -EINVAL,
                                            "StateDirectory= needs an absolute path, got '%.64s'", value);
                return set_string(&c->state_directory, value);
        }
        if (strcmp(key, "DefaultPool") == 0) {
                if (!*value) {
                        c->default_pool = mfree(c->default_pool);
                        p->default_pool_line = 0;
                        return 0;
                }
                if (!pool_name_is_valid(value))
                        return parser_error(
                                p, line, -EINVAL,
                                "DefaultPool= must be a pool name (1..63 characters of A-Z, a-z, 0-9, "
                                "'_', '.', '-'), got '%.64s'",
                                value);
                p->default_pool_line = line;
                return set_string(&c->default_pool, value);
        }
        if (strcmp(key, "PreemptMargin") == 0) {
                if (!*value)
                        u = CONFIG_PREEMPT_MARGIN_DEFAULT;
                else if (parse_uint(value, 0, CONFIG_PREEMPT_MARGIN_MAX, &u) < 0)
                        return parser_error(p, line, -EINVAL, "PreemptMargin= must be 0..%u, got '%.32s'",
                                            CONFIG_PREEMPT_MARGIN_MAX, value);
                c->preempt_margin = u;
                return 0;
        }
        if (strcmp(key, "ReassignIntervalSec") == 0 || strcmp(key, "AgentTimeoutSec") == 0 ||
            strcmp(key, "UnplugTimeoutSec") == 0 || strcmp(key, "LibvirtTimeoutSec") == 0) {
                usec_t *dest, def;

                if (key[0] == 'R') {
                        dest = &c->reassign_interval;
                        def = CONFIG_REASSIGN_INTERVAL_DEFAULT;
                } else if (key[0] == 'L') {
                        dest = &c->libvirt_timeout;
                        def = CONFIG_LIBVIRT_TIMEOUT_DEFAULT;
                } else if (key[0] == 'A') {
                        dest = &c->agent_timeout;
                        def = CONFIG_AGENT_TIMEOUT_DEFAULT;
                } else {
                        dest = &c->unplug_timeout;
                        def = CONFIG_UNPLUG_TIMEOUT_DEFAULT;
                }
                if (!*value)
                        *dest = def;
                else if (parse_seconds(value, dest) < 0)
                        return parser_error(p, line, -EINVAL,
                                            "%s= must be seconds, more than 0 and at most 3600, "
                                            "to the microsecond (e.g. 30 or 0.5), got '%.32s'",
                                            key, value);
                return 0;
        }
        if (strcmp(key, "NoAgent") == 0) {
                if (!*value) {
                        c->no_agent = NO_AGENT_REFUSE;
                        return 0;
                }
                v = no_agent_policy_from_string(value);
                if (v < 0)
                        return parser_error(p, line, -EINVAL,
                                            "NoAgent= must be refuse or abrupt, got '%.32s'", value);
                c->no_agent = v;
                return 0;
        }
        if (strcmp(key, "AbruptFallback") == 0) {
                static const char *const names[] = { "user", "preempt", "policy", "migrate", "recovery" };
                _cleanup_free_ char *copy = strdup(value);
                char *w, *save = NULL;
                unsigned bits = 0;

                if (!copy)
                        return -ENOMEM;
                if (!*value) {          /* empty: the default, every reason */
                        c->abrupt_fallback = DETACH_REASON_ALL;
                        return 0;
                }
                if (strcmp(value, "none") == 0) {       /* the guest's answer holds */
                        c->abrupt_fallback = 0;
                        return 0;
                }
                for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                        size_t i;

                        for (i = 0; i < ELEMENTSOF(names) && strcmp(w, names[i]) != 0; i++)
                                ;
                        if (i == ELEMENTSOF(names))
                                return parser_error(p, line, -EINVAL,
                                                    "AbruptFallback= takes none, or any of user, preempt, policy, migrate and recovery, got '%.32s'",
                                                    w);
                        bits |= 1U << i;
                }
                c->abrupt_fallback = bits;
                return 0;
        }
        if (strcmp(key, "AdminGroup") == 0) {
                if (!*value)
                        value = CONFIG_ADMIN_GROUP_DEFAULT;
                if (!group_name_is_valid(value))
                        return parser_error(
                                p, line, -EINVAL,
                                "AdminGroup= must be a group name (1..32 characters of A-Z, a-z, 0-9, "
                                "'_', '.', '-', not starting with a digit, '.' or '-'), got '%.64s'",
                                value);
                return set_string(&c->group, value);
        }

        return parser_error(p, line, -EINVAL, "unknown key '%.64s' in [Daemon]", key);
}

/* Which pool other than 'self' already lists 'item' in PFs= (vfs false) or VFs= (vfs true). */
static const PoolConfig *pool_listing(const Config *c, const PoolConfig *self, bool vfs, const char *item) {
        for (size_t i = 0; i < c->n_pools; i++) {
                const PoolConfig *pool = &c->pools[i];
                char **l = vfs ? pool->vfs : pool->pfs;
                size_t n = vfs ? pool->n_vfs : pool->n_pfs;

                if (pool == self)
                        continue;
                for (size_t j = 0; j < n; j++)
                        if (strcmp(l[j], item) == 0)
                                return pool;
        }
        return NULL;
}

/* PFs= and VFs=: each assignment adds to the list; an empty one empties it. */
static int pool_list_assign(ConfigParser *p, unsigned line, PoolConfig *pool, bool vfs, const char *value) {
        char ***list = vfs ? &pool->vfs : &pool->pfs;
        size_t *n = vfs ? &pool->n_vfs : &pool->n_pfs;
        const char *key = vfs ? "VFs" : "PFs";
        _cleanup_free_ char *copy = NULL;
        char *state = NULL;

        if (!*value) {
                strv_free_n(*list, *n);
                *list = NULL;
                *n = 0;
                p->pools[p->pool].set &= ~(vfs ? POOL_KEY_VFS : POOL_KEY_PFS);
                return 0;
        }

        copy = strdup(value);
        if (!copy)
                return -ENOMEM;

        for (char *w = strtok_r(copy, " \t", &state); w; w = strtok_r(NULL, " \t", &state)) {
                const PoolConfig *other;
                char **l;

                if (vfs) {
                        if (!pci_address_is_valid(w))
                                return parser_error(p, line, -EINVAL,
                                                    "VFs= needs PCI addresses DDDD:BB:DD.F in hex "
                                                    "(e.g. 0000:03:00.2), got '%.32s'",
                                                    w);
                        for (char *q = w; *q; q++)
                                *q = (char) tolower((unsigned char) *q);
                } else if (!ifname_is_valid(w))
                        return parser_error(
                                p, line, -EINVAL,
                                "PFs= needs interface names (1..15 bytes, no '/', ':' or white space), "
                                "got '%.32s'",
                                w);

                for (size_t i = 0; i < *n; i++)
                        if (strcmp((*list)[i], w) == 0)
                                return parser_error(p, line, -EINVAL, "%s= lists '%s' twice", key, w);
                other = pool_listing(p->config, pool, vfs, w);
                if (other)
                        return parser_error(p, line, -EINVAL, "%s '%s' is already in [Pool %s]",
                                            vfs ? "VF" : "PF", w, other->name);
                if (*n >= POOL_LIST_MAX)
                        return parser_error(p, line, -EINVAL, "%s= lists more than %u entries", key,
                                            POOL_LIST_MAX);

                /* Kept NULL-terminated too. */
                l = reallocarray(*list, *n + 2, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                *list = l;
                l[*n] = strdup(w);
                if (!l[*n])
                        return -ENOMEM;
                l[++*n] = NULL;
        }

        p->pools[p->pool].set |= vfs ? POOL_KEY_VFS : POOL_KEY_PFS;
        return 0;
}

static int pool_assign(ConfigParser *p, unsigned line, const char *key, const char *value) {
        PoolConfig *pool = &p->config->pools[p->pool];
        unsigned *set = &p->pools[p->pool].set, u;
        int v;

        if (strcmp(key, "Type") == 0) {
                v = pool_type_from_string(value);
                if (v < 0)
                        return parser_error(p, line, -EINVAL, "Type= must be sriov or emulated, got '%.32s'",
                                            value);
                pool->type = v;
                *set |= POOL_KEY_TYPE;
                return 0;
        }
        if (strcmp(key, "PFs") == 0)
                return pool_list_assign(p, line, pool, false, value);
        if (strcmp(key, "VFs") == 0)
                return pool_list_assign(p, line, pool, true, value);
        if (strcmp(key, "VLAN") == 0) {
                if (!*value) {
                        pool->vlan = 0;
                        *set &= ~POOL_KEY_VLAN;
                        return 0;
                }
                if (parse_uint(value, 0, CONFIG_VLAN_MAX, &u) < 0)
                        return parser_error(p, line, -EINVAL, "VLAN= must be 0..%u (0: none), got '%.32s'",
                                            CONFIG_VLAN_MAX, value);
                pool->vlan = (uint16_t) u;
                *set |= POOL_KEY_VLAN;
                return 0;
        }
        if (strcmp(key, "SpoofCheck") == 0 || strcmp(key, "Trust") == 0) {
                bool spoofchk = key[0] == 'S';
                unsigned bit = spoofchk ? POOL_KEY_SPOOFCHECK : POOL_KEY_TRUST;

                if (!*value) {
                        v = spoofchk;
                        *set &= ~bit;
                } else {
                        v = parse_boolean(value);
                        if (v < 0)
                                return parser_error(
                                        p, line, -EINVAL,
                                        "%s= must be a boolean (yes/no, true/false, on/off, 1/0), "
                                        "got '%.32s'",
                                        key, value);
                        *set |= bit;
                }
                if (spoofchk)
                        pool->spoofchk = v;
                else
                        pool->trust = v;
                return 0;
        }
        if (strcmp(key, "Steering") == 0) {
                if (!*value) {
                        pool->steering = STEERING_SWITCH;
                        *set &= ~POOL_KEY_STEERING;
                        return 0;
                }
                v = steering_kind_from_string(value);
                if (v < 0)
                        return parser_error(p, line, -EINVAL,
                                            "Steering= must be switch or bridge, got '%.32s'", value);
                pool->steering = v;
                *set |= POOL_KEY_STEERING;
                return 0;
        }
        if (strcmp(key, "Bridge") == 0) {
                if (!*value) {
                        pool->bridge[0] = '\0';
                        *set &= ~POOL_KEY_BRIDGE;
                        return 0;
                }
                if (!ifname_is_valid(value))
                        return parser_error(
                                p, line, -EINVAL,
                                "Bridge= needs an interface name (1..15 bytes, no '/', ':' or white "
                                "space), got '%.32s'",
                                value);
                snprintf(pool->bridge, sizeof(pool->bridge), "%s", value);
                *set |= POOL_KEY_BRIDGE;
                return 0;
        }
        if (strcmp(key, "Count") == 0) {
                if (!*value) {
                        pool->count = 0;
                        *set &= ~POOL_KEY_COUNT;
                        return 0;
                }
                if (parse_uint(value, 1, CONFIG_POOL_COUNT_MAX, &u) < 0)
                        return parser_error(p, line, -EINVAL, "Count= must be 1..%u, got '%.32s'",
                                            CONFIG_POOL_COUNT_MAX, value);
                pool->count = u;
                *set |= POOL_KEY_COUNT;
                return 0;
        }
        if (strcmp(key, "Model") == 0) {
                if (!*value) {
                        snprintf(pool->model, sizeof(pool->model), "%s", CONFIG_MODEL_DEFAULT);
                        *set &= ~POOL_KEY_MODEL;
                        return 0;
                }
                if (!model_is_valid(value))
                        return parser_error(p, line, -EINVAL,
                                            "Model= must be 1..31 characters of a-z, 0-9, '_', '-' "
                                            "(e.g. e1000e), got '%.32s'",
                                            value);
                snprintf(pool->model, sizeof(pool->model), "%s", value);
                *set |= POOL_KEY_MODEL;
                return 0;
        }

        return parser_error(p, line, -EINVAL, "unknown key '%.64s' in [Pool %s]", key, pool->name);
}

static int config_assign(const KeyfileLocation *loc, const char *section, const char *key, const char *value,
                         void *userdata, char *why, size_t why_size) {
        ConfigParser *p = userdata;
        int r;

        r = open_sections_before(p, loc->line);
        if (r >= 0) {
                if (p->kind == SECTION_DAEMON)
                        r = daemon_assign(p, loc->line, key, value);
                else if (p->kind == SECTION_POOL)
                        r = pool_assign(p, loc->line, key, value);
                else /* not reached: keyfile_parse() wants a section first */
                        r = parser_error(p, loc->line, -EINVAL, "unknown section [%.64s]", section);
        }
        if (r < 0)
                /* config_parse() uses p->message; this is for keyfile_parse(). */
                snprintf(why, why_size, "invalid setting");
        return r;
}

/* Checks after parsing */

static int check_pool(ConfigParser *p, size_t i) {
        static const struct {
                unsigned bit;
                const char *key;
        } sriov_only[] = {
                { POOL_KEY_PFS, "PFs" },
                { POOL_KEY_VFS, "VFs" },
                { POOL_KEY_VLAN, "VLAN" },
                { POOL_KEY_SPOOFCHECK, "SpoofCheck" },
                { POOL_KEY_TRUST, "Trust" },
        }, emulated_only[] = {
                { POOL_KEY_COUNT, "Count" },
                { POOL_KEY_MODEL, "Model" },
        };
        PoolConfig *pool = &p->config->pools[i];
        unsigned line = p->pools[i].line, set = p->pools[i].set;

        if (!(set & POOL_KEY_TYPE))
                return parser_error(p, line, -EINVAL, "[Pool %s] needs Type=sriov or Type=emulated",
                                    pool->name);

        if (pool->type == POOL_TYPE_EMULATED) {
                for (size_t k = 0; k < ELEMENTSOF(sriov_only); k++)
                        if (set & sriov_only[k].bit)
                                return parser_error(p, line, -EINVAL,
                                                    "[Pool %s] %s= applies only to Type=sriov", pool->name,
                                                    sriov_only[k].key);
                if ((set & POOL_KEY_STEERING) && pool->steering != STEERING_BRIDGE)
                        return parser_error(p, line, -EINVAL,
                                            "[Pool %s] Type=emulated always steers with its bridge, "
                                            "Steering=%s is for Type=sriov",
                                            pool->name, steering_kind_to_string(pool->steering));
                if (pool->bridge[0] == '\0')
                        return parser_error(p, line, -EINVAL,
                                            "[Pool %s] Type=emulated needs Bridge=", pool->name);
                if (pool->count == 0)
                        return parser_error(p, line, -EINVAL,
                                            "[Pool %s] Type=emulated needs Count=", pool->name);
                pool->steering = STEERING_BRIDGE;
                return 0;
        }

        for (size_t k = 0; k < ELEMENTSOF(emulated_only); k++)
                if (set & emulated_only[k].bit)
                        return parser_error(p, line, -EINVAL, "[Pool %s] %s= applies only to Type=emulated",
                                            pool->name, emulated_only[k].key);
        if (pool->n_pfs == 0 && pool->n_vfs == 0)
                return parser_error(p, line, -EINVAL, "[Pool %s] Type=sriov needs PFs= or VFs=", pool->name);
        if (pool->steering == STEERING_BRIDGE && pool->bridge[0] == '\0')
                return parser_error(p, line, -EINVAL, "[Pool %s] Steering=bridge needs Bridge=", pool->name);
        if (pool->steering == STEERING_SWITCH && pool->bridge[0] != '\0')
                return parser_error(p, line, -EINVAL,
                                    "[Pool %s] Bridge= is used only with Steering=bridge (or Type=emulated)",
                                    pool->name);
        return 0;
}

static int check_config(ConfigParser *p) {
        Config *c = p->config;
        int r;

        for (size_t i = 0; i < c->n_pools; i++) {
                r = check_pool(p, i);
                if (r < 0)
                        return r;
        }
        if (c->default_pool && !config_find_pool(c, c->default_pool))
                return parser_error(p, p->default_pool_line, -EINVAL,
                                    "DefaultPool=%s names no pool: there is no [Pool %s]", c->default_pool,
                                    c->default_pool);
        return 0;
}

static int read_all(FILE *f, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                size_t n;

                if (allocated - size < 4096) {
                        size_t a = allocated ? allocated * 2 : 16384;
                        char *b;

                        if (allocated > CONFIG_FILE_MAX + 1)
                                return -EFBIG;
                        b = realloc(buf, a);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = a;
                }

                n = fread(buf + size, 1, allocated - size - 1, f);
                size += n;
                if (size > CONFIG_FILE_MAX)
                        return -EFBIG;
                if (n == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }

        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int set_message(char **ret_message, int error, const char *format, ...) _printf_(3, 4);
static int set_message(char **ret_message, int error, const char *format, ...) {
        va_list ap;

        if (!ret_message)
                return error;
        va_start(ap, format);
        if (vasprintf(ret_message, format, ap) < 0)
                *ret_message = NULL;
        va_end(ap);
        return error;
}

int config_parse(FILE *f, const char *name, Config **ret, char **ret_message) {
        _cleanup_(config_parser_done) ConfigParser p = { .file = name };
        _cleanup_free_ char *text = NULL, *keyfile_message = NULL;
        size_t size;
        int r;

        assert(f);
        assert(name);
        assert(ret);

        if (ret_message)
                *ret_message = NULL;

        r = read_all(f, &text, &size);
        if (r == -EFBIG)
                return set_message(ret_message, r, "%s: larger than %u bytes", name, CONFIG_FILE_MAX);
        if (r < 0)
                return set_message(ret_message, r, "%s: %s", name, strerror(-r));
        if (memchr(text, '\0', size))
                return set_message(ret_message, -EBADMSG, "%s: contains a NUL byte", name);

        p.config = config_new();
        if (!p.config)
                return -ENOMEM;
        r = scan_headers(&p, text, size);
        if (r < 0)
                return r;

        if (size > 0) {
                FILE *m = fmemopen(text, size, "r");

                if (!m)
                        return -errno;
                r = keyfile_parse(m, name, config_assign, &p, &keyfile_message);
                fclose(m);
                if (r < 0 && !p.message && keyfile_message) {
                        /* A syntax error: a bad section header above it comes first. */
                        size_t n = strlen(name);
                        unsigned long line;

                        if (strncmp(keyfile_message, name, n) == 0 && keyfile_message[n] == ':') {
                                line = strtoul(keyfile_message + n + 1, NULL, 10);
                                (void) open_sections_before(&p,
                                                            (unsigned) MIN(line, (unsigned long) UINT_MAX));
                        }
                }
        }
        if (r >= 0)
                r = open_sections_before(&p, UINT_MAX);
        if (r >= 0)
                r = check_config(&p);
        if (r < 0) {
                if (ret_message) {
                        if (p.message)
                                *ret_message = TAKE_PTR(p.message);
                        else if (keyfile_message)
                                *ret_message = TAKE_PTR(keyfile_message);
                        else
                                (void) set_message(ret_message, r, "%s: %s", name, strerror(-r));
                }
                return r;
        }

        *ret = TAKE_PTR(p.config);
        return 0;
}

int config_load(const char *path, Config **ret, char **ret_message) {
        FILE *f;
        int r;

        assert(path);
        assert(ret);

        if (ret_message)
                *ret_message = NULL;

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                return set_message(ret_message, r, "%s: %s", path, strerror(-r));
        }

        r = config_parse(f, path, ret, ret_message);
        fclose(f);
        return r;
}
