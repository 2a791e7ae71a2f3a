/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.vfo1.Job: /org/vfo1/job/N, the running and the last finished jobs. */
#include <errno.h>
#include <string.h>

#include "agent/host/bus-internal.h"
#include "agent/host/job.h"
#include "agent/host/migrate.h"
#include "lib/log.h"
#include "lib/string-util.h"

static int job_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                    sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t id;
        Job *j;

        if (vfo_job_path_id(path, &id) < 0)
                return 0;
        j = manager_find_job(m, id);
        if (!j)
                return 0;
        *found = j;
        return 1;
}

static int job_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        Manager *m = userdata;
        size_t n = 0;

        for (size_t i = 0; i < m->n_jobs; i++)
                if (bus_nodes_add(&l, &n, m->jobs[i]->path) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 0;
}

static int job_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;

        if (strcmp(property, "Id") == 0)
                return sd_bus_message_append(reply, "t", j->id);
        if (strcmp(property, "Kind") == 0)
                return sd_bus_message_append(reply, "s", job_kind_to_string(j->kind));
        if (strcmp(property, "Reason") == 0)
                return sd_bus_message_append(reply, "s", job_reason_to_string(j->reason));
        if (strcmp(property, "Domain") == 0)
                return sd_bus_message_append(reply, "o", j->domain->path);
        if (strcmp(property, "MAC") == 0)
                return sd_bus_message_append(reply, "s", j->mac);
        if (strcmp(property, "VF") == 0)
                return sd_bus_message_append(reply, "o", j->vf ? j->vf->path : "/");
        if (strcmp(property, "Phase") == 0)
                return sd_bus_message_append(reply, "s", job_phase_to_string(j->phase));
        if (strcmp(property, "Progress") == 0)
                return sd_bus_message_append(reply, "u", job_progress(j));
        if (strcmp(property, "State") == 0)
                return sd_bus_message_append(reply, "s", job_state_to_string(j->state));
        if (strcmp(property, "Error") == 0)
                return sd_bus_message_append(reply, "s", bus_error_name(j->error));
        if (strcmp(property, "ErrorMessage") == 0)
                return sd_bus_message_append(reply, "s", j->error_message ?: "");
        if (strcmp(property, "Fallback") == 0)
                return sd_bus_message_append(reply, "s", j->fallback ?: "");
        if (strcmp(property, "StartUSec") == 0)
                return sd_bus_message_append(reply, "t", j->start_realtime);
        if (strcmp(property, "FinishUSec") == 0)
                return sd_bus_message_append(reply, "t", j->finish_realtime);
        if (strcmp(property, "LibvirtUSec") == 0)
                return sd_bus_message_append(reply, "t", j->libvirt_usec);
        if (strcmp(property, "AgentUSec") == 0)
                return sd_bus_message_append(reply, "t", j->agent_usec);
        if (strcmp(property, "Loss") == 0)
                return sd_bus_message_append(reply, "s", job_loss(j));
        if (strcmp(property, "SyntheticRxPackets") == 0)
                return sd_bus_message_append(reply, "t", j->traffic.synthetic_rx);
        if (strcmp(property, "SyntheticTxPackets") == 0)
                return sd_bus_message_append(reply, "t", j->traffic.synthetic_tx);
        if (strcmp(property, "VFRxPackets") == 0)
                return sd_bus_message_append(reply, "t", j->traffic.vf_rx);
        if (strcmp(property, "VFTxPackets") == 0)
                return sd_bus_message_append(reply, "t", j->traffic.vf_tx);
        if (strcmp(property, "HandedOver") == 0)
                return sd_bus_message_append(reply, "t", j->traffic.handed_over);
        if (strcmp(property, "HeldTx") == 0)
                return sd_bus_message_append(reply, "t", j->traffic.held_tx);
        if (strcmp(property, "GuestDrops") == 0)
                return sd_bus_message_append(reply, "t", j->traffic.drops);
        if (strcmp(property, "HostDrops") == 0)
                return sd_bus_message_append(reply, "t", j->host_drops);
        if (strcmp(property, "HostDropsBeforeMove") == 0)
                return sd_bus_message_append(reply, "t", j->host_drops_unmoved);
        if (strcmp(property, "Destination") == 0)
                return sd_bus_message_append(reply, "s", migration_from_job(j) ? migration_destination(migration_from_job(j)) : "");
        return -ENOENT;
}

static int job_cancel_method(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        int r;

        r = bus_check_admin(j->manager, msg, error);
        if (r < 0)
                return r;
        if (!j->ops->cancel)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "Only migrations can be cancelled; an attach or detach rolls back by itself when it fails.");
        if (j->state != JOB_RUNNING)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "Job %" PRIu64 " has ended already.", j->id);
        r = j->ops->cancel(j);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT, "libvirt could not abort the migration: %s.", strerror(-r));
        return sd_bus_reply_method_return(msg, NULL);
}

static const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Reason", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Domain", "o", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MAC", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VF", "o", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Phase", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Progress", "u", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("State", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ErrorMessage", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Fallback", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StartUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FinishUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LibvirtUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AgentUSec", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Destination", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Loss", "s", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SyntheticRxPackets", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SyntheticTxPackets", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VFRxPackets", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VFTxPackets", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HandedOver", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HeldTx", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GuestDrops", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HostDrops", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HostDropsBeforeMove", "t", job_prop, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Cancel", NULL, NULL, job_cancel_method, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_job_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, VFO_JOB_PREFIX, VFO_JOB_IFACE, job_vtable, job_find, m);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(m->bus, NULL, VFO_JOB_PREFIX, job_enumerate, m);
        return r;
}
