/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `vfoctl hook qemu …`: the parts of libvirt's qemu hook that need no bus
 * (which operations reach vfod, the domain XML's UUID, reading stdin), so
 * the unit test covers them alone. */
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
