#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# agent-switch-bond, but the bond is vfo-agent's: the guest's vfo-agent.conf
# says [Port <virtio MAC>] Bond=bond0, the agent starts before the network,
# creates the active-backup bond over the virtio NIC, and the guest puts its
# addresses on bond0 (the guest's console says "vfo-agent created bond0").
# Then the same graceful moves as agent-switch, same checks and output.
export VFO_LAB_BOND=agent
exec bash "${VFO_LAB_SRCDIR:-$(dirname "$0")}/agent-switch.sh" "$@"
