#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Host servicing: vfod with an emulated pool of 3 VFs held by 3 VMs running
# vfo-agent, under a private libvirtd and a private system bus:
#   1. vfoctl drain lab: every VF leaves gracefully, all at once; every VM
#      runs synthetic; the pool grants nothing while drained;
#   2. vfod killed with SIGKILL and started again: still drained, nothing
#      attached;
#   3. vfoctl restore lab: every VM gets its VF back.
# The loss meter runs on every VM through phases 1 and 3 at VFO_LAB_RATE pps
# (default 1000): at most VFO_LAB_MAX_LOST (default 0) lost and 0 duplicated
# per VM. After each phase libvirt and vfod agree. Prints
# DRAIN {"drain_ms":..,"restore_ms":..}.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-vfod.sh
. "$LAB_SRCDIR/lib-vfod.sh"

RATE=${VFO_LAB_RATE:-1000}
MAX_LOST=${VFO_LAB_MAX_LOST:-0}

vfod_lab_vms 3
vfod_start a 3
lab_require "vfod is on the bus and connected to libvirt" lab_wait 20 "vfod" vfod_connected
for i in 1 2 3; do lab_check "vfoctl set-policy vm$i" "$VFOCTL" set-policy "vm$i" --pool lab --priority 50; done
lab_require "vm1, vm2 and vm3 hold a VF" lab_wait 90 "three VMs on VFs" vfod_holds vm1 vm2 vm3
lab_require "jobs settled" lab_wait 30 "no running job" vfod_idle

pool_drained() {
        [ "$(busctl get-property org.vfo1 /org/vfo1/pool/lab org.vfo1.Pool Drained 2>/dev/null)" = "b ${1:-true}" ]
}
# no_vf_for SECONDS: no VM gets a VF during SECONDS (the scheduler runs every
# ReassignIntervalSec=3 of the lab's vfod.conf)
no_vf_for() {
        local end=$((SECONDS + $1))
        while [ $SECONDS -lt "$end" ]; do
                vfod_holds || return 1
                sleep 0.5
        done
}

# ------------------------------------------------------------------ 1. drain
vfod_meters_start drain vm1 vm2 vm3
t0=$(lab_ms)
lab_check "vfoctl drain lab (exit 0)" "$VFOCTL" drain lab
drain_ms=$(($(lab_ms) - t0))
vfod_meters_stop
lab_check "drained: no VM holds a VF" vfod_holds
lab_check "drained: Pool.Drained is true" pool_drained true
lab_check "drained: every detach was graceful (reason drain, done)" vfod_job_seen detach drain done
lab_check "drain: <= $MAX_LOST lost, 0 duplicated on every VM" vfod_meters_ok
lab_check "drained: no VF granted for 8 s" no_vf_for 8
lab_check "drained: libvirt and vfod agree, no VF in any domain" vfod_consistent
attach_refused() {
        local rc=0
        "$VFOCTL" attach vm1 >"$LAB_STATE/attach-drained.out" 2>&1 || rc=$?
        cat "$LAB_STATE/attach-drained.out"
        [ "$rc" = 6 ] && grep -q -i drained "$LAB_STATE/attach-drained.out"
}
lab_check "drained: vfoctl attach vm1 is refused (exit 6, the pool is drained)" attach_refused
vfod_show

# ------------------------------------------------------ 2. SIGKILL, restart
vfod_kill9
vfod_start a 3
lab_require "vfod is back on the bus" lab_wait 20 "vfod" vfod_connected
lab_check "after SIGKILL and restart: Pool.Drained is still true" lab_wait 10 "drained" pool_drained true
lab_check "after SIGKILL and restart: no VF granted for 8 s" no_vf_for 8

# ---------------------------------------------------------------- 3. restore
vfod_meters_start restore vm1 vm2 vm3
t0=$(lab_ms)
lab_check "vfoctl restore lab" "$VFOCTL" restore lab
lab_check "restored: vm1, vm2 and vm3 hold a VF again" lab_wait 90 "three VMs on VFs" vfod_holds vm1 vm2 vm3
lab_check "jobs settled" lab_wait 30 "no running job" vfod_idle
restore_ms=$(($(lab_ms) - t0))
vfod_meters_stop
lab_check "restored: Pool.Drained is false" pool_drained false
lab_check "restore: <= $MAX_LOST lost, 0 duplicated on every VM" vfod_meters_ok
lab_check "restored: libvirt and vfod agree, no VF in two domains" vfod_consistent
vfod_show
echo "DRAIN {\"drain_ms\":$drain_ms,\"restore_ms\":$restore_ms}"
vfod_job_figures
vfod_stop
lab_finish
