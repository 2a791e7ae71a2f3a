/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: hostile bytes as the domain XML libvirt gives vfoctl's qemu
 * hook on stdin, through the pure functions of agent/ctl/hook.c:
 * hook_uuid_from_xml(), hook_fallback_prepare() (the VF hostdevs stripped
 * and the vfo policy read when vfod does not answer), hook_fallback_message()
 * and hook_answer_matches(). What they return must hold what hook.h
 * promises; the stripped XML must be this domain's, with nothing left to
 * strip. Built for libFuzzer by 'make fuzz' and replayed over its corpus
 * (tests/fuzz/corpus-hook) by 'make check'. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlstring.h>

#include "agent/ctl/hook.h"
#include "drivers/virt-xml.h"
#include "lib/log.h"
#include "lib/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_uuid(const char u[static 37]) {
        if (strlen(u) != 36)
                abort();
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? u[i] != '-' : !((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
                        abort();
        }
}

static void check_fallback(const HookFallback *f) {
        switch (f->kind) {
        case HOOK_FALLBACK_REFUSE:
                if (!f->required || f->xml)
                        abort();
                break;
        case HOOK_FALLBACK_STRIP:
                if (f->required || !f->xml || f->n_stripped == 0)
                        abort();
                break;
        case HOOK_FALLBACK_KEEP:
                if (f->required || f->xml || f->n_stripped != 0)
                        abort();
                break;
        default:
                abort();
        }
        if (!f->parsed && (f->required || f->n_stripped || f->uuid[0]))
                abort();
        if (f->uuid[0])
                check_uuid(f->uuid);
}

static void check_message(const HookFallback *f) {
        static const char *const wants[] = {
                [HOOK_FALLBACK_KEEP] = "going on without vfo",
                [HOOK_FALLBACK_STRIP] = VIRT_VF_ALIAS_PREFIX,
                [HOOK_FALLBACK_REFUSE] = "Start vfod",
        };
        _cleanup_free_ char *m = NULL;

        if (hook_fallback_message(f, "fuzz-domain", "vfod is not running", &m) < 0)
                return;
        if (!m || !strstr(m, "fuzz-domain") || !strstr(m, "vfod is not running") ||
            !strstr(m, wants[f->kind]))
                abort();
}

/* What the hook writes instead of the incoming XML: valid UTF-8 (libvirt
 * parses it), this domain's, and nothing left to strip or to refuse. */
static void check_stripped(const HookFallback *f) {
        _cleanup_(hook_fallback_done) HookFallback again = {};
        char uuid[37];
        int r;

        if (!xmlCheckUTF8((const xmlChar *) f->xml))
                abort();
        r = hook_uuid_from_xml(f->xml, strlen(f->xml), uuid);
        if (f->uuid[0] && (r < 0 || strcmp(uuid, f->uuid) != 0))
                abort();
        if (hook_answer_matches(f, f->xml) != (f->uuid[0] != '\0'))
                abort();
        r = hook_fallback_prepare(f->xml, strlen(f->xml), &again);
        if (r == -ENOMEM)
                return;
        if (r < 0 || again.kind != HOOK_FALLBACK_KEEP || !again.parsed || again.n_stripped ||
            again.required || strcmp(again.uuid, f->uuid) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(hook_fallback_done) HookFallback f = {};
        _cleanup_free_ char *xml = NULL;
        static bool initialized;
        char uuid[37] = "";
        int r;

        if (!initialized) {
                /* A bad vfo policy logs a warning; a fuzzer makes nothing else. */
                log_set_max_level(LOG_CRIT);
                initialized = true;
        }
        if (size > HOOK_INPUT_MAX)
                return 0;

        /* As hook_read_input() gives it: NUL-terminated. */
        xml = malloc(size + 1);
        if (!xml)
                return 0;
        memcpy(xml, data, size);
        xml[size] = '\0';

        r = hook_uuid_from_xml(xml, size, uuid);
        if (r == 0)
                check_uuid(uuid);
        else if (r != -EBADMSG && r != -ENOENT && r != -EINVAL)
                abort();

        r = hook_fallback_prepare(xml, size, &f);
        if (r == -ENOMEM)
                return 0;
        if (r < 0)
                abort();
        check_fallback(&f);
        /* With a NUL inside, the hook asks nobody and writes nothing. */
        if (memchr(data, '\0', size) && (f.parsed || f.kind != HOOK_FALLBACK_KEEP))
                abort();
        if (f.uuid[0] && strcmp(f.uuid, uuid) != 0)
                abort();
        check_message(&f);
        if (f.kind == HOOK_FALLBACK_STRIP)
                check_stripped(&f);

        /* vfod's answer, were it these bytes: only this domain's own XML stands in for it. */
        if (hook_answer_matches(&f, xml) && (!f.uuid[0] || strcmp(uuid, f.uuid) != 0))
                abort();
        return 0;
}
