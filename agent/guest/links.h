/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent does to the guest's links besides switching
 * (agent/guest/links.c); the agent calls these at each rescan. */
#pragma once

#include <stddef.h>

#include "agent/guest/config.h"
#include "agent/guest/inventory.h"
#include "agent/guest/ports.h"
#include "drivers/udev.h"
#include "lib/validate.h"

/* The plan last acted on for a configured bond (vfo-agent.conf Bond=) that
 * failed, over which links: the same plan over the same links is not tried
 * again, so a failure is retried once per change of the interfaces, and
 * what the attempt itself changed (and undid) does not count. */
typedef struct AgentBondTry {
        BondAction action;              /* BOND_ACTION_NONE: nothing failed */
        int nic_ifindex;
        int named_ifindex;
        int master_ifindex;
        size_t n_links;
} AgentBondTry;

/* What the agent did to the links so far. */
typedef struct AgentLinks {
        AgentBondTry bond_tries[VALIDATE_PORTS_MAX];    /* one per config.bonds[] */
        int udev_asked[PORT_SLAVES_MAX * VALIDATE_PORTS_MAX];   /* ifindexes of slaves re-triggered */
        size_t n_udev_asked;
} AgentLinks;

/* IPv6 off on the port's slaves. */
void links_hygiene(const Inventory *inv, const Port *port);
/* Asks udev to process again a slave its rules missed (once per ifindex). */
void links_udev(AgentLinks *l, Udev *udev, const Inventory *inv, const Port *port, const char *mac);
/* Joins the port's hot-plugged VF to its bond. */
void links_join_vf(const Inventory *inv, const Port *port, const char *mac);
/* vfo-agent.conf Bond=: creates or completes the bonds; keeps bond_tries[]. */
void links_apply_bonds(AgentLinks *l, const AgentConfig *config, const Inventory *inv);
