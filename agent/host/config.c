/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfod.conf(5); see config.h. Unknown sections and keys are errors, so a
 * typo does not silently keep a default.
 *
 * lib/keyfile calls back for each section header and each assignment, in
 * file order, so errors come out in file order: an empty [Bogus] section or
 * a second [Pool lab] without keys is an error on its header's line. The
 * checks made after parsing name the line of the pool's header, which is
 * kept for that. */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/config.h"
#include "lib/keyfile.h"
#include "lib/parse-util.h"
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

typedef enum SectionKind {
        SECTION_NONE,
        SECTION_DAEMON,
        SECTION_POOL,
} SectionKind;

typedef struct ConfigParser {
        Config *config;
        PoolParse *pools;       /* parallel to config->pools */
        SectionKind kind;       /* of the section being read */
        size_t pool;            /* SECTION_POOL: index into config->pools */
        unsigned default_pool_line;
        /* Where parser_error() writes: keyfile_parse()'s buffer while
         * parsing, config_parse()'s for the checks after it. */
        char *why;
        size_t why_size;
        unsigned error_line;    /* the line parser_error() named */ } ConfigParser;

static void config_parser_done(ConfigParser *p) {
        free(p->pools);
        config_free(p->config);
}

/* Writes the reason of an error on 'line' and returns -EINVAL. */
static int parser_error(ConfigParser *p, unsigned line, const char *format, ...) _printf_(3, 4);
static int parser_error(ConfigParser *p, unsigned line, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(p->why, p->why_size, format, ap);
        va_end(ap);
        p->error_line = line;
        return -EINVAL;
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
        free(c->forward_address);
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
                .forward_port = CONFIG_FORWARD_PORT_DEFAULT,
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

static int set_string(char **dest, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*dest);
        *dest = s;
        return 0;
}

/* Sections */

static int config_section(const KeyfileLocation *loc, const char *section, void *userdata, char *why,
                          size_t why_size) {
        ConfigParser *p = userdata;
        Config *c = p->config;
        const char *name;
        PoolConfig *pools;
        PoolParse *parse;

        p->why = why;
        p->why_size = why_size;
        p->kind = SECTION_NONE;

        if (strcmp(section, "Daemon") == 0) {
                p->kind = SECTION_DAEMON;
                return 0;
        }

        if (strcmp(section, "Pool") == 0)
                return parser_error(p, loc->line, "[Pool NAME] needs a pool name, e.g. [Pool lab]");
        if (strncmp(section, "Pool ", 5) != 0)
                return parser_error(p, loc->line,
                                    "unknown section [%.64s] (expected [Daemon] or [Pool NAME])", section);

        name = section + 5;
        if (!pool_name_is_valid(name))
                return parser_error(
                        p, loc->line,
                        "invalid pool name '%.64s': 1..63 characters of A-Z, a-z, 0-9, '_', '.', '-'", name);
        for (size_t i = 0; i < c->n_pools; i++)
                if (strcmp(c->pools[i].name, name) == 0)
                        return parser_error(p, loc->line,
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
        p->pools[c->n_pools] = (PoolParse) { .line = loc->line };
        p->pool = c->n_pools++;
        p->kind = SECTION_POOL;
        return 0;
}

/* Assignments */

/* The [Daemon] settings in seconds, more than 0 and at most CONFIG_TIMEOUT_MAX. */
static const struct {
        const char *key;
        size_t offset;
        usec_t def;
} daemon_seconds[] = {
        { "ReassignIntervalSec", offsetof(Config, reassign_interval), CONFIG_REASSIGN_INTERVAL_DEFAULT },
        { "AgentTimeoutSec", offsetof(Config, agent_timeout), CONFIG_AGENT_TIMEOUT_DEFAULT },
        { "UnplugTimeoutSec", offsetof(Config, unplug_timeout), CONFIG_UNPLUG_TIMEOUT_DEFAULT },
        { "LibvirtTimeoutSec", offsetof(Config, libvirt_timeout), CONFIG_LIBVIRT_TIMEOUT_DEFAULT },
};

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
                                p, line,
                                "LibvirtURI= must be a libvirt URI such as qemu:///system, got '%.64s'",
                                value);
                return set_string(&c->libvirt_uri, value);
        }
        if (strcmp(key, "StateDirectory") == 0) {
                if (!*value)
                        value = CONFIG_STATE_DIRECTORY_DEFAULT;
                if (value[0] != '/')
                        return parser_error(p, line, "StateDirectory= needs an absolute path, got '%.64s'", value);
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
                                p, line,
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
                        return parser_error(p, line, "PreemptMargin= must be 0..%u, got '%.32s'",
                                            CONFIG_PREEMPT_MARGIN_MAX, value);
                c->preempt_margin = u;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(daemon_seconds); i++) {
                usec_t *dest = (usec_t *) ((uint8_t *) c + daemon_seconds[i].offset);

                if (strcmp(key, daemon_seconds[i].key) != 0)
                        continue;
                if (!*value)
                        *dest = daemon_seconds[i].def;
                else if (parse_seconds(value, 1, CONFIG_TIMEOUT_MAX, dest) < 0)
                        return parser_error(p, line,
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
                        return parser_error(p, line, "NoAgent= must be refuse or abrupt, got '%.32s'", value);
                c->no_agent = v;
                return 0;
        }
        if (strcmp(key, "AbruptFallback") == 0) {
                static const char *const names[] = { "user", "preempt", "policy", "migrate", "recovery", "drain" };
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
                                return parser_error(p, line,
                                                    "AbruptFallback= takes none, or any of user, preempt, policy, migrate, recovery and drain, got '%.32s'",
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
                                p, line,
                                "AdminGroup= must be a group name (1..32 characters of A-Z, a-z, 0-9, "
                                "'_', '.', '-', not starting with a digit, '.' or '-'), got '%.64s'",
                                value);
                return set_string(&c->group, value);
        }

        if (strcmp(key, "ForwardAddress") == 0) {
                if (!*value) {
                        c->forward_address = mfree(c->forward_address);
                        return 0;
                }
                if (ip_address_family(value) < 0)
                        return parser_error(p, line,
                                            "ForwardAddress= must be an IPv4 or IPv6 address of this host, got '%.64s'",
                                            value);
                return set_string(&c->forward_address, value);
        }
        if (strcmp(key, "ForwardPort") == 0) {
                if (!*value)
                        u = CONFIG_FORWARD_PORT_DEFAULT;
                else if (parse_uint(value, 1, 65535, &u) < 0)
                        return parser_error(p, line, "ForwardPort= must be a UDP port, 1..65535, got '%.32s'", value);
                c->forward_port = (uint16_t) u;
                return 0;
        }

        if (strcmp(key, "ForwardCopies") == 0) {
                int b = *value ? parse_boolean(value) : 0;

                if (b < 0)
                        return parser_error(p, line,
                                            "ForwardCopies= must be a boolean (yes/no, true/false, on/off, 1/0), got '%.32s'",
                                            value);
                c->forward_copies = b;
                return 0;
        }

        return parser_error(p, line, "unknown key '%.64s' in [Daemon]", key);
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
                                return parser_error(p, line,
                                                    "VFs= needs PCI addresses DDDD:BB:DD.F in hex "
                                                    "(e.g. 0000:03:00.2), got '%.32s'",
                                                    w);
                        for (char *q = w; *q; q++)
                                *q = (char) tolower((unsigned char) *q);
                } else if (!ifname_is_valid(w))
                        return parser_error(
                                p, line,
                                "PFs= needs interface names (1..15 bytes, no '/', ':' or white space), "
                                "got '%.32s'",
                                w);

                for (size_t i = 0; i < *n; i++)
                        if (strcmp((*list)[i], w) == 0)
                                return parser_error(p, line, "%s= lists '%s' twice", key, w);
                other = pool_listing(p->config, pool, vfs, w);
                if (other)
                        return parser_error(p, line, "%s '%s' is already in [Pool %s]",
                                            vfs ? "VF" : "PF", w, other->name);
                if (*n >= POOL_LIST_MAX)
                        return parser_error(p, line, "%s= lists more than %u entries", key, POOL_LIST_MAX);

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
                        return parser_error(p, line, "Type= must be sriov or emulated, got '%.32s'", value);
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
                        return parser_error(p, line, "VLAN= must be 0..%u (0: none), got '%.32s'",
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
                                        p, line,
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
                        return parser_error(p, line, "Steering= must be switch or bridge, got '%.32s'", value);
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
                                p, line,
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
                        return parser_error(p, line, "Count= must be 1..%u, got '%.32s'", CONFIG_POOL_COUNT_MAX, value);
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
                        return parser_error(p, line,
                                            "Model= must be 1..31 characters of a-z, 0-9, '_', '-' "
                                            "(e.g. e1000e), got '%.32s'",
                                            value);
                snprintf(pool->model, sizeof(pool->model), "%s", value);
                *set |= POOL_KEY_MODEL;
                return 0;
        }

        return parser_error(p, line, "unknown key '%.64s' in [Pool %s]", key, pool->name);
}

static int config_assign(const KeyfileLocation *loc, const char *section, const char *key, const char *value,
                         void *userdata, char *why, size_t why_size) {
        ConfigParser *p = userdata;

        p->why = why;
        p->why_size = why_size;
        switch (p->kind) {
        case SECTION_DAEMON:
                return daemon_assign(p, loc->line, key, value);
        case SECTION_POOL:
                return pool_assign(p, loc->line, key, value);
        case SECTION_NONE:
                break;
        }
        /* not reached: config_section() refused the section */
        return parser_error(p, loc->line, "unknown section [%.64s]", section);
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
                return parser_error(p, line, "[Pool %s] needs Type=sriov or Type=emulated", pool->name);

        if (pool->type == POOL_TYPE_EMULATED) {
                for (size_t k = 0; k < ELEMENTSOF(sriov_only); k++)
                        if (set & sriov_only[k].bit)
                                return parser_error(p, line,
                                                    "[Pool %s] %s= applies only to Type=sriov", pool->name,
                                                    sriov_only[k].key);
                if ((set & POOL_KEY_STEERING) && pool->steering != STEERING_BRIDGE)
                        return parser_error(p, line,
                                            "[Pool %s] Type=emulated always steers with its bridge, "
                                            "Steering=%s is for Type=sriov",
                                            pool->name, steering_kind_to_string(pool->steering));
                if (pool->bridge[0] == '\0')
                        return parser_error(p, line, "[Pool %s] Type=emulated needs Bridge=", pool->name);
                if (pool->count == 0)
                        return parser_error(p, line, "[Pool %s] Type=emulated needs Count=", pool->name);
                pool->steering = STEERING_BRIDGE;
                return 0;
        }

        for (size_t k = 0; k < ELEMENTSOF(emulated_only); k++)
                if (set & emulated_only[k].bit)
                        return parser_error(p, line, "[Pool %s] %s= applies only to Type=emulated",
                                            pool->name, emulated_only[k].key);
        if (pool->n_pfs == 0 && pool->n_vfs == 0)
                return parser_error(p, line, "[Pool %s] Type=sriov needs PFs= or VFs=", pool->name);
        if (pool->steering == STEERING_BRIDGE && pool->bridge[0] == '\0')
                return parser_error(p, line, "[Pool %s] Steering=bridge needs Bridge=", pool->name);
        if (pool->steering == STEERING_SWITCH && pool->bridge[0] != '\0')
                return parser_error(p, line,
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
                return parser_error(p, p->default_pool_line,
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
        _cleanup_(config_parser_done) ConfigParser p = {};
        _cleanup_free_ char *text = NULL;
        char why[KEYFILE_WHY_MAX] = "";
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

        if (size > 0) {
                FILE *m = fmemopen(text, size, "r");

                if (!m)
                        return -errno;
                r = keyfile_parse(m, name, config_section, config_assign, &p, ret_message);
                fclose(m);
                if (r < 0 && ret_message && !*ret_message)
                        return set_message(ret_message, r, "%s: %s", name, strerror(-r));
                if (r < 0)
                        return r;
        }

        p.why = why;
        p.why_size = sizeof(why);
        r = check_config(&p);
        if (r < 0)
                return set_message(ret_message, r, "%s:%u: %s", name, p.error_line, why);

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
