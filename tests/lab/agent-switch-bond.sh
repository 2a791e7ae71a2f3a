#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# agent-switch for guests without the STANDBY feature: the guest's virtio NIC
# is in an active-backup bond, vfo-agent joins the hot-plugged VF to it and
# moves the active slave (bonding datapath). Same checks and output.
export VFO_LAB_BOND=1
exec bash "${VFO_LAB_SRCDIR:-$(dirname "$0")}/agent-switch.sh" "$@"
