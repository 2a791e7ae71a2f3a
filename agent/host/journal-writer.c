/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The running journal of journal.h: deferred, coalesced writes from the
 * sd-event loop, and the start-up read that keeps an unreadable file. */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "agent/host/journal.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/time-util.h"

/* Before every other source: a handler's changes are on disk before the
 * next handler runs (libvirt's connection notifier is IMPORTANT). */
#define JOURNAL_WRITE_PRIORITY INT64_MIN

struct Journal {
        sd_event *event;
        char *path;
        JournalBuildFn build;
        void *userdata;
        sd_event_source *defer;         /* on while a change is pending */
        sd_event_source *exit;          /* writes what is pending at sd_event_exit() */
        bool loaded;                    /* read back (or moved aside): writing is allowed */
        bool dirty;
        bool have_last;
        JournalState last;              /* as last written */
        uint64_t n_writes;
};

int journal_flush(Journal *j) {
        _cleanup_(journal_state_done) JournalState s = {};
        int r;

        if (!j || !j->dirty)
                return 0;
        (void) sd_event_source_set_enabled(j->defer, SD_EVENT_OFF);
        if (!j->loaded)
                return 0;       /* never over a journal not read back; journal_load() said why */

        r = j->build(j->userdata, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to collect the state for the journal %s: %m", j->path);
        if (j->have_last && journal_state_equal(&s, &j->last)) {
                j->dirty = false;
                return 0;
        }
        r = journal_write(j->path, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to write the journal %s: %m", j->path);
        j->n_writes++;
        j->dirty = false;
        journal_state_done(&j->last);
        j->last = s;
        j->have_last = true;
        s = (JournalState) {};
        return 0;
}

static int journal_on_defer(sd_event_source *s, void *userdata) {
        (void) journal_flush(userdata);
        return 0;
}

static int journal_on_exit(sd_event_source *s, void *userdata) {
        (void) journal_flush(userdata);
        return 0;
}

void journal_mark_dirty(Journal *j) {
        if (!j)
                return;
        j->dirty = true;
        /* Should this fail, the exit source or journal_free() writes it. */
        (void) sd_event_source_set_enabled(j->defer, SD_EVENT_ONESHOT);
}

Journal *journal_free(Journal *j) {
        if (!j)
                return NULL;
        (void) journal_flush(j);
        sd_event_source_disable_unref(j->defer);
        sd_event_source_disable_unref(j->exit);
        sd_event_unref(j->event);
        journal_state_done(&j->last);
        free(j->path);
        return mfree(j);
}
DEFINE_CLEANUP_FUNC(Journal, journal_free);

int journal_new(sd_event *event, const char *path, JournalBuildFn build, void *userdata, Journal **ret) {
        _cleanup_(journal_freep) Journal *j = NULL;
        int r;

        assert(event);
        assert(path);
        assert(build);
        assert(ret);

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->event = sd_event_ref(event);
        j->build = build;
        j->userdata = userdata;
        j->path = strdup(path);
        if (!j->path)
                return -ENOMEM;

        r = sd_event_add_defer(event, &j->defer, journal_on_defer, j);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(j->defer, "journal-write");
        r = sd_event_source_set_priority(j->defer, JOURNAL_WRITE_PRIORITY);
        if (r >= 0)
                r = sd_event_source_set_enabled(j->defer, SD_EVENT_OFF);
        if (r < 0)
                return r;

        /* Last of the exit sources, so that it writes what the others changed. */
        r = sd_event_add_exit(event, &j->exit, journal_on_exit, j);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(j->exit, "journal-exit");
        r = sd_event_source_set_priority(j->exit, SD_EVENT_PRIORITY_IDLE);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(j);
        return 0;
}

int journal_load(Journal *j, JournalState *ret) {
        _cleanup_free_ char *message = NULL, *aside = NULL;
        int r;

        assert(j);
        assert(ret);

        r = journal_read(j->path, ret, &message);
        if (r >= 0) {
                j->loaded = true;
                return 0;
        }
        if (!message && asprintf(&message, "%s: %s", j->path, strerror(-r)) < 0)
                message = NULL;

        /* It would be overwritten at the end of the reconcile: keep it. */
        r = journal_set_aside(j->path, now_usec(CLOCK_REALTIME), &aside);
        if (r < 0)
                return log_error_errno(r,
                                       "%s; it cannot be moved aside (%m), so vfod does not write the journal until it restarts. Starting without it (claims are rebuilt from libvirt).",
                                       message ?: j->path);
        log_warning("%s; kept as %s. Starting with an empty journal (claims are rebuilt from libvirt).",
                    message ?: j->path, aside);
        j->loaded = true;
        return 1;
}

uint64_t journal_get_n_writes(const Journal *j) {
        return j ? j->n_writes : 0;
}
