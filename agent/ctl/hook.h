/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `vfoctl hook qemu …`: the parts of libvirt's qemu hook that need no bus
 * (which operations reach vfod, the domain XML's UUID, reading stdin, what
 * to do with an incoming migration when vfod does not answer), so the unit
 * test and the fuzzer cover them alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define HOOK_INPUT_MAX (16u * 1024u * 1024u) /* domain XML on stdin, at most */

typedef enum HookAction {
        HOOK_ACTION_NONE,          /* exit 0 at once: not vfod's business */
        HOOK_ACTION_MIGRATE_BEGIN, /* Manager.HookMigrateBegin(xml), may refuse or filter the XML */
        HOOK_ACTION_STARTED,       /* Manager.HookStarted(uuid), errors only logged */
} HookAction;

/* What libvirt's "OPERATION SUB-OPERATION" of the qemu hook asks of vfod.
 * NULL is taken as "". */
HookAction hook_action_for(const char *op, const char *subop);
const char *hook_action_to_string(HookAction a);

/* The <uuid> of a <domain> XML document, lower case, in the 36-character
 * dashed form (32 hex digits without dashes are accepted and dashed).
 * Returns 0, -EBADMSG when the text is not XML or its root is not <domain>,
 * -ENOENT without a <uuid> child, -EINVAL when the UUID is malformed. */
int hook_uuid_from_xml(const char *xml, size_t size, char ret[static 37]);

/* Reads fd to its end into a NUL-terminated buffer. Returns 0, -EFBIG when
 * there is more than max bytes (nothing is returned then), or -errno. */
int hook_read_input(int fd, size_t max, char **ret, size_t *ret_size);

/* What the hook does with an incoming migration when vfod cannot be reached,
 * does not answer in time, or answers something else than HookMigrateBegin's
 * (bss): it never lets the destination open the source host's VFs, and never
 * lets a domain that requires a VF in without vfod. */
typedef enum HookFallbackKind {
        HOOK_FALLBACK_KEEP,   /* exit 0, no output: no VF <hostdev> in the XML (or it does not parse) */
        HOOK_FALLBACK_STRIP,  /* exit 0, 'xml' on stdout: the XML without its VF <hostdev>s */
        HOOK_FALLBACK_REFUSE, /* exit 1: the vfo policy says required=yes, which only vfod can keep */
} HookFallbackKind;

typedef struct HookFallback {
        HookFallbackKind kind;
        char *xml;           /* STRIP: the new domain XML; NULL otherwise */
        unsigned n_stripped; /* <hostdev>s with an alias starting with VIRT_VF_ALIAS_PREFIX */
        bool parsed;         /* the XML is a <domain> document (else nothing could be done) */
        bool required;       /* its vfo policy, read as vfod reads it, says required=yes */
        char uuid[37];       /* as hook_uuid_from_xml() gives it; "" if none */
} HookFallback;

/* Decides the fallback for the incoming domain XML 'xml' (size bytes, NUL
 * at xml[size]), before vfod is asked, so that it is ready whatever
 * happens. Returns 0 (see kind), or -ENOMEM. A document that does not
 * parse gives KEEP with parsed false: libvirt refuses it by itself. */
int hook_fallback_prepare(const char *xml, size_t size, HookFallback *ret);
void hook_fallback_done(HookFallback *f);

/* The log line for a fallback, naming the domain, why vfod was not asked or
 * did not answer ('why', e.g. "vfod is not running (...)"), what was done
 * and, for a refusal, what to do. Returns 0 or -ENOMEM. */
int hook_fallback_message(const HookFallback *f, const char *domain, const char *why, char **ret);

/* Whether new_xml, vfod's answer to HookMigrateBegin, can stand in for the
 * incoming XML: a <domain> document with the same UUID as 'f' has. */
bool hook_answer_matches(const HookFallback *f, const char *new_xml);
