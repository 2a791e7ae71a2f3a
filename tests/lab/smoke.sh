#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab smoke test: one libvirtd, one TCG VM with a virtio NIC (net_failover
# standby); hot-plug the emulated VF, then unplug it abruptly while the loss
# meter runs at 1000 pps. Loss is only reported (vfo is not involved yet);
# the guest must answer before, during and after, and the VF must really
# come and go. Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
# What users get today: no vfo-agent in the guest (it would announce and
# change the figures).
export VFO_LAB_CMDLINE="vfo.noagent=1${VFO_LAB_CMDLINE:+ $VFO_LAB_CMDLINE}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"

RATE=${VFO_LAB_RATE:-1000}

lab_requirements
lab_init
lab_libvirtd_start a
lab_vm_start a vm1 1
lab_require "guest boots to VFO-GUEST-READY" lab_vm_ready vm1 120
lab_check "peer pings 10.77.0.11" lab_ping 10.77.0.11
lab_check "peer pings fd77::11" lab_ping fd77::11

# ---- attach the VF
t0=$(lab_ms)
lab_require "attach-device e1000e (ua-vfo-vf0)" lab_vf_attach vm1
lab_check "live XML shows the VF" lab_vm_has_vf vm1
lab_require "guest: VF joined net_failover as primary" \
        lab_wait_console vm1 'VFO-GUEST: primary [^ ]+ joined' 30
lab_log "VF joined $(($(lab_ms) - t0)) ms after attach"
lab_check "guest: VF carrier up" lab_wait_console vm1 'VFO-GUEST: primary [^ ]+ carrier up' 30
lab_log "VF carrier up $(($(lab_ms) - t0)) ms after attach"
sleep 1

dir=$LAB_STATE/smoke
mkdir -p "$dir"
received_ok() { [ "$(lab_json_num "$1" received)" -gt 0 ] 2>/dev/null; }

# ---- before: on the VF
before=$(lab_lossmeter vm1 --rate "$RATE" --duration 2 --drain 1 --label before)
echo "LOSS before: $before"
lab_check "guest echoes on the VF path" received_ok "$before"

# ---- during: abrupt unplug 2 s into a 6 s run
lab_lossmeter_bg vm1 "$dir/during.json" --rate "$RATE" --duration 6 --drain 1 --label detach
meter=$LAB_LAST_PID
virsh -q -c "${LAB_URI[a]}" event vm1 --event device-removed --timeout 20 >"$dir/event.txt" 2>&1 &
event=$!
lab_pid_record "$event"
sleep 2
t0=$(lab_ms)
lab_check "detach-device-alias ua-vfo-vf0" lab_vf_detach vm1
event_ok() { wait "$event" && grep -q "device-removed.*ua-vfo-vf0" "$dir/event.txt"; }
lab_check "DEVICE_REMOVED event for ua-vfo-vf0" event_ok
lab_log "DEVICE_REMOVED $(($(lab_ms) - t0)) ms after detach-device-alias"
no_vf() { local rc=0; lab_vm_has_vf vm1 || rc=$?; [ "$rc" -eq 1 ]; }
lab_check "live XML no longer shows the VF" no_vf
lab_check "guest: primary left net_failover" \
        lab_wait_console vm1 'VFO-GUEST: primary [^ ]+ left' 10
wait "$meter" || true
during=$(cat "$dir/during.json")
echo "LOSS detach: $during"
lab_check "guest echoes while the VF goes away" received_ok "$during"

# ---- after: on the virtio standby
after=$(lab_lossmeter vm1 --rate "$RATE" --duration 2 --drain 1 --label after)
echo "LOSS after: $after"
lab_check "guest echoes again after the detach" received_ok "$after"
lab_check "peer pings 10.77.0.11 after the detach" lab_ping 10.77.0.11

lab_finish
