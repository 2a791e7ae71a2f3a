#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfod with an emulated pool of 2 VFs and 3 VMs running vfo-agent, under a
# private libvirtd and a private system bus; vfoctl drives it:
#   1. the three VMs opt in (priorities 50, 50, 40): vm1 and vm2 get the
#      VFs, vm3 runs synthetic and waits;
#   2. vm1 (a holder) is destroyed: vm3 gets the freed VF;
#   3. vm1 comes back with priority 40 and waits; its priority is raised to
#      100, past the margin: vm3 (the weakest holder) is detached gracefully
#      and its VF goes to vm1;
#   4. vm2's QEMU stops answering (SIGSTOP of its process, as a wedged
#      monitor): its detach waits for the agent (AgentTimeoutSec), goes on
#      abruptly, and its unplug request hangs in a libvirt worker; meanwhile
#      vm1 gives its VF up and vm3 gets it (both graceful, metered: other
#      domains' libvirt calls go on) and vfod answers D-Bus; the hung call
#      fails at LibvirtTimeoutSec (15 s) and the job rolls back; after
#      SIGCONT libvirt and vfod agree again.
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

vfod_lab_vms 3
vfod_start a 2 "LibvirtTimeoutSec=15"
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

# ------------------------------------------------------------------ phase 4
# job_in_phase PHASE: some running job is in PHASE
job_in_phase() {
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if any(j["State"] == "running" and j["Phase"] == sys.argv[1] for j in s["jobs"]) else 1)' "$1"
}
# dbus_reads PID: busctl reads of vfod every 100 ms while PID runs; prints
# "N MAX_MS"
dbus_reads() {
        local n=0 max=0 t0 ms
        while kill -0 "$1" 2>/dev/null; do
                t0=${EPOCHREALTIME/./}
                busctl get-property org.vfo1 /org/vfo1 org.vfo1.Manager Version >/dev/null || return 1
                ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
                n=$((n + 1))
                [ "$ms" -le "$max" ] || max=$ms
                sleep 0.1
        done
        echo "$n $max"
}
qemu2=$(cat "$LAB_STATE/a/run/qemu/vm2.pid")
kill -STOP "$qemu2"
lab_log "vm2's QEMU (pid $qemu2) stopped"
wedge_t0=$(lab_ms)
"$VFOCTL" --json detach vm2 >"$LAB_STATE/wedge-vm2.json" 2>&1 &
wedge_pid=$!
lab_check "vm2's detach reaches its unplug (after the agent timeout)" lab_wait 40 "vm2 unplugging" job_in_phase unplugging
wedge_unplug=$(lab_ms)
dbus_reads "$wedge_pid" >"$LAB_STATE/wedge-reads" &
reads_pid=$!
vfod_meters_start phase4 vm1 vm3
other_rc=0
"$VFOCTL" detach vm1 || other_rc=$?
lab_check "while vm2's unplug hangs: vm1's VF goes to vm3, plugged through libvirt" \
        lab_wait 12 "vm3 on a VF" vfod_attached vm3
other_ms=$(($(lab_ms) - wedge_unplug))
vm2_still=$(kill -0 "$wedge_pid" 2>/dev/null && echo hanging || echo ended)
vfod_meters_stop
wedge_rc=0
wait "$wedge_pid" || wedge_rc=$?
wedge_ms=$(($(lab_ms) - wedge_unplug))
wait "$reads_pid" || true
read -r reads_n reads_max <"$LAB_STATE/wedge-reads" || true
kill -CONT "$qemu2"
lab_log "vm2's QEMU continued"
echo "WEDGE {\"detach_vm2_rc\":$wedge_rc,\"unplug_to_end_ms\":$wedge_ms,\"agent_wait_ms\":$((wedge_unplug - wedge_t0)),\"vm1_detach_vm3_attach_ms\":$other_ms,\"dbus_reads\":${reads_n:-0},\"dbus_read_max_ms\":${reads_max:-0}}"
lab_check "while vm2's unplug hangs: vm1 detached gracefully (done)" test "$other_rc" = 0
lab_check "vm2's unplug was still hanging when vm3 had the VF" test "$vm2_still" = hanging
lab_check "phase 4: <= $MAX_LOST lost, 0 duplicated on vm1 and vm3" vfod_meters_ok
lab_check "while vm2's unplug hangs: vfod answered every D-Bus read (${reads_n:-0} reads, the slowest ${reads_max:-?} ms)" \
        test "${reads_n:-0}" -gt 10 -a "${reads_max:-9999}" -lt 1000
lab_check "vm2's detach fails with org.vfo1.Error.Libvirt" grep -q 'org.vfo1.Error.Libvirt' "$LAB_STATE/wedge-vm2.json"
lab_check "after LibvirtTimeoutSec (15 s) from its unplug, not much more" test "$wedge_ms" -ge 14000 -a "$wedge_ms" -lt 25000
lab_check "phase 4: jobs settled after SIGCONT" lab_wait 60 "no running job" vfod_idle
lab_check "phase 4: libvirt and vfod agree, no VF in two domains" lab_wait 30 "consistent" vfod_consistent
vfod_show

vfod_job_figures
vfod_stop
lab_finish
