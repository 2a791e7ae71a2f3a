#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfod with an emulated pool of 2 VFs and 3 VMs running vfo-agent, under a
# private libvirtd and a private system bus; vfoctl drives it:
#   1. the three VMs opt in (priorities 50, 50, 40): vm1 and vm2 get the
#      VFs, vm3 runs synthetic and waits;
#   2. vm1 (a holder) is destroyed: vm3 gets the freed VF;
#   3. vm1 comes back with priority 40 and waits; its priority is raised to
#      100, past the margin: vm3 (the weakest holder) is detached gracefully
#      and its VF goes to vm1.
# The loss meter runs on every running VM through every phase at
# VFO_LAB_RATE pps (default 1000): at most VFO_LAB_MAX_LOST (default 0) lost
# and 0 duplicated per VM and phase. After each phase every VF is in at most
# one domain's live XML, and vfod's view matches libvirt's. Last, an
# unprivileged caller cannot change anything (vfoctl exits 4, nothing moves).
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-vfod.sh
. "$LAB_SRCDIR/lib-vfod.sh"

RATE=${VFO_LAB_RATE:-1000}
MAX_LOST=${VFO_LAB_MAX_LOST:-0}

lab_requirements
vfod_requirements
lab_init
lab_dbus_start
lab_libvirtd_start a
for i in 1 2 3; do lab_vm_start a "vm$i" "$i"; done
for i in 1 2 3; do
        lab_require "vm$i boots to VFO-GUEST-READY" lab_vm_ready "vm$i" 180
        lab_require "vm$i runs vfo-agent" lab_wait_console "vm$i" 'vfo-agent pid' 10
done

for i in 1 2 3; do lab_require "peer reaches vm$i" lab_ping "$(lab_vm_ip4 "$i")"; done
vfod_start a 2
lab_require "vfod is on the bus and connected to libvirt" lab_wait 20 "vfod" vfod_connected

# ------------------------------------------------------------------ phase 1
vfod_meters_start phase1 vm1 vm2 vm3
lab_check "vfoctl set-policy vm1 --priority 50" "$VFOCTL" set-policy vm1 --pool lab --priority 50
lab_check "vfoctl set-policy vm2 --priority 50" "$VFOCTL" set-policy vm2 --pool lab --priority 50
lab_require "vm1 and vm2 hold a VF" lab_wait 60 "vm1 and vm2 on VFs" vfod_holds vm1 vm2
lab_check "vfoctl set-policy vm3 --priority 40" "$VFOCTL" set-policy vm3 --pool lab --priority 40
lab_check "vm3 waits on the synthetic path" lab_wait 10 "vm3 waiting" vfod_port_state vm3 waiting
lab_check "jobs settled" lab_wait 30 "no running job" vfod_idle
vfod_meters_stop
lab_check "phase 1: vm1, vm2 on VFs; vm3 synthetic: <= $MAX_LOST lost, 0 duplicated on every VM" vfod_meters_ok
lab_check "phase 1: libvirt and vfod agree, no VF in two domains" vfod_consistent
vfod_show

# ------------------------------------------------------------------ phase 2
vfod_meters_start phase2 vm2 vm3
lab_virsh a destroy vm1 >/dev/null
lab_check "vm1 destroyed: vm3 gets the freed VF" lab_wait 60 "vm3 on a VF" vfod_holds vm2 vm3
lab_check "jobs settled" lab_wait 30 "no running job" vfod_idle
vfod_meters_stop
lab_check "phase 2: <= $MAX_LOST lost, 0 duplicated on vm2 and vm3" vfod_meters_ok
lab_check "phase 2: libvirt and vfod agree, no VF in two domains" vfod_consistent
vfod_show

# ------------------------------------------------------------------ phase 3
: >"$(lab_vm_console vm1)"
lab_vm_start a vm1 1
lab_require "vm1 boots again" lab_vm_ready vm1 180
lab_require "vm1 runs vfo-agent" lab_wait_console vm1 'vfo-agent pid' 10
lab_check "vfoctl set-policy vm1 --priority 40 (no margin over the holders)" \
        "$VFOCTL" set-policy vm1 --pool lab --priority 40
lab_check "vm1 waits" lab_wait 20 "vm1 waiting" vfod_port_state vm1 waiting
vfod_meters_start phase3 vm1 vm2 vm3
lab_check "vfoctl set-policy vm1 --priority 100" "$VFOCTL" set-policy vm1 --priority 100
lab_check "vm1 preempts vm3 (the weakest holder) gracefully" lab_wait 90 "vm1 and vm2 on VFs" vfod_holds vm1 vm2
lab_check "vm3 waits on the synthetic path" lab_wait 10 "vm3 waiting" vfod_port_state vm3 waiting
lab_check "jobs settled" lab_wait 30 "no running job" vfod_idle
vfod_meters_stop
lab_check "phase 3: <= $MAX_LOST lost, 0 duplicated on every VM" vfod_meters_ok
lab_check "phase 3: libvirt and vfod agree, no VF in two domains" vfod_consistent
lab_check "the preemption was a graceful detach of vm3 (job reason preempt, done)" vfod_job_seen detach preempt done
vfod_show
"$VFOCTL" jobs || true

# ------------------------------------------------------------- privilege
unprivileged() {
        local rc=0
        # the private bus's socket must be reachable for 'nobody'
        chmod o+x "$LAB_STATE" "$LAB_STATE/dbus"
        setpriv --reuid=65534 --regid=65534 --clear-groups "$VFOCTL" detach vm2 >"$LAB_STATE/unpriv.out" 2>&1 || rc=$?
        cat "$LAB_STATE/unpriv.out"
        [ "$rc" = 4 ] || { echo "vfoctl exited $rc, not 4 (access denied)"; return 1; }
        setpriv --reuid=65534 --regid=65534 --clear-groups "$VFOCTL" status >/dev/null || { echo "reading failed"; return 1; }
        vfod_holds vm1 vm2 && vfod_idle
}
lab_check "an unprivileged caller can read but not detach (exit 4, nothing moved)" unprivileged

vfod_job_figures
vfod_stop
lab_finish
