/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent does to the guest's links besides switching: IPv6 off on
 * slaves, udev asked again about slaves it missed, a hot-plugged VF joined
 * to its bond, and the bonds of vfo-agent.conf Bond= created. */

#include <assert.h>
#include <errno.h>

#include "agent/guest/links.h"
#include "drivers/rtnl.h"
#include "drivers/sysctl.h"
#include "lib/log.h"
#include "lib/parse-util.h"

/* Slaves must not run IPv6: the standby and the VF would both solicit with
 * the shared MAC and make bridges flap (seen in the lab: the bridge's FDB
 * entry for the MAC moved between the two taps). netvsc marks its VF as a
 * slave itself. */
void links_hygiene(const Inventory *inv, const Port *port) {
        int idx[] = { port->kind != PORT_KIND_NETVSC ? port->synthetic : -1, port->vf };

        for (size_t i = 0; i < ELEMENTSOF(idx); i++) {
                int r;

                if (idx[i] < 0)
                        continue;
                r = sysctl_ipv6_disable(inv->links[idx[i]].name, true);
                if (r > 0)
                        log_info("Disabled IPv6 on slave '%s'.", inv->links[idx[i]].name);
                else if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Failed to disable IPv6 on slave '%s', ignoring: %m",
                                          inv->links[idx[i]].name);
        }
}

/* 81-vfo-net-failover.rules misses a net_failover slave whose add event
 * udevd handles before the kernel links it to its master (a hot-plugged VF,
 * the standby as its port forms), and network managers then take it for
 * theirs: ask udev to process such a slave again, once per ifindex. A slave
 * udevd has not processed yet is asked for too, as its add may be the one
 * that misses; udevd queues the change after it, and an extra change event
 * does no harm. Failures are not retried (they would be logged at every
 * rescan), except for a slave renamed or gone meanwhile. */
void links_udev(AgentLinks *a, Udev *udev, const Inventory *inv, const Port *port, const char *mac) {
        int idx[PORT_SLAVES_MAX];
        size_t k = port_udev_retrigger(port, inv->links, inv->n_links, a->udev_asked, a->n_udev_asked, idx);

        for (size_t i = 0; i < k; i++) {
                const Netdev *d = &inv->links[idx[i]];
                int r;

                if (a->n_udev_asked >= ELEMENTSOF(a->udev_asked)) {
                        log_debug("Port %s: too many slaves re-triggered, not asking udev about '%s'.", mac,
                                  d->name);
                        return;
                }

                r = udev_trigger_change(udev, d->name);
                if (r == -ENOENT || r == -ENODEV) {
                        log_debug_errno(r, "Port %s: slave '%s' is gone or renamed, not re-triggering it now: %m",
                                        mac, d->name);
                        continue;
                }
                a->udev_asked[a->n_udev_asked++] = d->ifindex;
                if (r < 0)
                        log_warning_errno(r, "Port %s: failed to ask udev to process slave '%s' again, "
                                          "network managers may configure it: %m", mac, d->name);
                else if (d->udev_mark == NETDEV_UDEV_UNMARKED)
                        log_info("Port %s: udev did not mark slave '%s' (VFO_FAILOVER_SLAVE), "
                                 "asked it to process the device again.", mac, d->name);
                else
                        log_debug("Port %s: udev has not processed slave '%s' yet, "
                                  "asked it to process the device again.", mac, d->name);
        }
}

/* A bond takes no hot-plugged VF by itself: enslave it (down first, as the
 * bonding driver wants; the bond opens it). The slave event brings us back
 * here with the VF in the port. */
void links_join_vf(const Inventory *inv, const Port *port, const char *mac) {
        const Netdev *vf = &inv->links[port->vf_unjoined];
        int r;

        (void) sysctl_ipv6_disable(vf->name, true);
        r = rtnl_link_set_up(vf->ifindex, false);
        if (r >= 0)
                r = rtnl_link_set_master(vf->ifindex, inv->links[port->master].ifindex);
        if (r < 0)
                log_warning_errno(r, "Port %s: failed to join VF '%s' to bond '%s', ignoring: %m", mac, vf->name,
                                  inv->links[port->master].name);
        else
                log_info("Port %s: joined VF '%s' to bond '%s'.", mac, vf->name, inv->links[port->master].name);
}

static const char *agent_link_kind(const Netdev *d) {
        return d->kind[0] != '\0' ? d->kind : d->driver[0] != '\0' ? d->driver : "no link kind";
}

static AgentBondTry agent_bond_try(const Inventory *inv, const BondPlan *plan) {
        return (AgentBondTry) {
                .action = plan->action,
                .nic_ifindex = plan->nic >= 0 ? inv->links[plan->nic].ifindex : 0,
                .named_ifindex = plan->named >= 0 ? inv->links[plan->named].ifindex : 0,
                .master_ifindex = plan->nic_master >= 0 ? inv->links[plan->nic_master].ifindex : 0,
                .n_links = inv->n_links,
        };
}

static bool agent_bond_try_equal(const AgentBondTry *x, const AgentBondTry *y) {
        return x->action == y->action && x->nic_ifindex == y->nic_ifindex && x->named_ifindex == y->named_ifindex &&
               x->master_ifindex == y->master_ifindex && x->n_links == y->n_links;
}

/* Creates the bond and enslaves the virtio NIC (or enslaves it to the empty
 * bond an earlier attempt left), then brings the bond up. On failure the
 * bond this call created goes again (which releases the NIC) and the NIC is
 * up again if it was. Addresses are not moved: they belong on the bond
 * (vfo-agent.conf). */
static int agent_bond_build(const Inventory *inv, const AgentConfigBond *b, const BondPlan *plan, const char *mac) {
        const Netdev *nic = &inv->links[plan->nic];
        bool created = plan->action == BOND_ACTION_CREATE;
        int bond, r;

        if (created) {
                r = rtnl_bond_create(b->name, nic->mac, &bond);
                if (r < 0)
                        return log_warning_errno(r, "Port %s: failed to create bond '%s' for '%s', "
                                                 "trying again when the interfaces change: %m", mac, b->name, nic->name);
        } else
                bond = inv->links[plan->named].ifindex;

        /* The bonding driver wants its slaves down; it opens them itself. */
        r = rtnl_link_set_up(nic->ifindex, false);
        if (r >= 0)
                r = rtnl_link_set_master(nic->ifindex, bond);
        if (r >= 0)
                r = rtnl_link_set_up(bond, true);
        if (r < 0) {
                log_warning_errno(r, "Port %s: failed to put '%s' into bond '%s', "
                                  "trying again when the interfaces change: %m", mac, nic->name, b->name);
                if (created)
                        (void) rtnl_link_delete(bond);  /* releases the NIC */
                if (nic->admin_up)
                        (void) rtnl_link_set_up(nic->ifindex, true);
                return r;
        }

        log_info("Port %s: %s active-backup bond '%s' (miimon 100 ms) with '%s' as its slave.", mac,
                 created ? "created" : "completed", b->name, nic->name);
        return 0;
}

/* vfo-agent.conf Bond=: the one place that creates bonds and keeps
 * bond_tries[]. The bond shows up as a port at the rescan its link events
 * cause. */
void links_apply_bonds(AgentLinks *a, const AgentConfig *config, const Inventory *inv) {
        for (size_t i = 0; i < config->n_bonds; i++) {
                const AgentConfigBond *b = &config->bonds[i];
                BondPlan plan = ports_plan_bond(inv->links, inv->n_links, b->mac, b->name);
                AgentBondTry t = agent_bond_try(inv, &plan);
                char mac[MAC_STRING_MAX];
                int r = 0;

                if (plan.action == BOND_ACTION_NONE) {
                        a->bond_tries[i] = (AgentBondTry) {};
                        continue;
                }
                if (agent_bond_try_equal(&t, &a->bond_tries[i]))
                        continue;       /* failed on these very links: wait for a change */

                mac_to_string(b->mac, mac);
                log_debug("Port %s: Bond=%s: %s.", mac, b->name, bond_action_to_string(plan.action));
                switch (plan.action) {
                case BOND_ACTION_CREATE:
                case BOND_ACTION_ENSLAVE:
                        r = agent_bond_build(inv, b, &plan, mac);
                        break;
                case BOND_ACTION_NAME_TAKEN:
                        log_error("Port %s: cannot create bond '%s' for '%s': an interface of that name exists "
                                  "(%s) and is not an empty bond with this MAC; leaving both alone.",
                                  mac, b->name, inv->links[plan.nic].name, agent_link_kind(&inv->links[plan.named]));
                        r = -EEXIST;
                        break;
                case BOND_ACTION_NIC_TAKEN:
                        log_warning("Port %s: not creating bond '%s': '%s' is a slave of '%s' (%s).", mac, b->name,
                                    inv->links[plan.nic].name, inv->links[plan.nic_master].name,
                                    agent_link_kind(&inv->links[plan.nic_master]));
                        r = -EBUSY;
                        break;
                case BOND_ACTION_NONE:
                case _BOND_ACTION_MAX:
                case _BOND_ACTION_INVALID:
                        assert_not_reached();
                }
                a->bond_tries[i] = r < 0 ? t : (AgentBondTry) {};
        }
}

