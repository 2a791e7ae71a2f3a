#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfod killed with SIGKILL in the middle of a graceful detach and in the
# middle of a graceful attach, then restarted: it reads its journal back,
# reconciles with libvirt's live XML and finishes the interrupted job.
# Asserts after each restart: the journal held the interrupted job; vfod
# reconnects; no job is left running; exactly one VM holds the pool's one
# VF; no VF is in two domains and vfod's view matches libvirt's (nothing
# leaked, nothing doubled). Two VMs with vfo-agent, an emulated pool of 1.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-vfod.sh
. "$LAB_SRCDIR/lib-vfod.sh"

lab_requirements
vfod_requirements
lab_init
lab_dbus_start
lab_libvirtd_start a
for i in 1 2; do lab_vm_start a "vm$i" "$i"; done
for i in 1 2; do
        lab_require "vm$i boots to VFO-GUEST-READY" lab_vm_ready "vm$i" 180
        lab_require "vm$i runs vfo-agent" lab_wait_console "vm$i" 'vfo-agent pid' 10
done

for i in 1 2; do lab_require "peer reaches vm$i" lab_ping "$(lab_vm_ip4 "$i")"; done
VFO_LAB_REASSIGN_SEC=1
log_mark=1
vfod_start a 1
lab_require "vfod is connected" lab_wait 20 "vfod" vfod_connected
lab_require "set-policy vm1 --priority 50" "$VFOCTL" set-policy vm1 --pool lab --priority 50
lab_require "vm1 holds the VF" lab_wait 60 "vm1 on the VF" vfod_holds vm1
lab_require "set-policy vm2 --priority 40" "$VFOCTL" set-policy vm2 --pool lab --priority 40
lab_require "vm2 waits" lab_wait 20 "vm2 waiting" vfod_port_state vm2 waiting
lab_require "jobs settled" lab_wait 60 "no running job" vfod_idle

journal=$LAB_STATE/vfod-a/journal

# job_phase JOB: the Phase property, "" if the job is unknown
job_phase() {
        busctl get-property org.vfo1 "$1" org.vfo1.Job Phase 2>/dev/null | sed -n 's/^s "\(.*\)"$/\1/p'
}

# wait_phase JOB REGEX TIMEOUT_MS: poll fast until the job's phase matches.
wait_phase() {
        local deadline=$(($(lab_ms) + $3)) p
        while [ "$(lab_ms)" -lt "$deadline" ]; do
                p=$(job_phase "$1")
                [[ $p =~ $2 ]] && { echo "$p"; return 0; }
                sleep 0.01
        done
        return 1
}

# running_attach: the path of a running attach job, if any
running_attach() {
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
for j in s["jobs"]:
    if j["Kind"] == "attach" and j["State"] == "running":
        print("/org/vfo1/job/%d" % j["Id"])
        break'
}

# recovered KIND: the restarted vfod finished the interrupted job (a
# recovery job of KIND done), or found nothing plugged to finish (the claim
# released); then no job runs and one VM holds the VF.
recovered() {
        lab_wait 20 "vfod reconnects" vfod_connected &&
                lab_wait 90 "the interrupted $1 finished or released" recovery_seen "$1" &&
                lab_wait 90 "no running job" vfod_idle &&
                lab_wait 60 "one VM holds the VF" one_holder
}
one_holder() { vfod_holds vm1 || vfod_holds vm2; }
recovery_seen() {
        vfod_job_seen "$1" recovery done ||
                tail -n +"$log_mark" "$LAB_STATE/vfod-a.log" | grep -q 'nothing is plugged, nothing to finish'
}
# restart_vfod: start vfod again and remember where its new log begins
restart_vfod() {
        log_mark=$(($(wc -l <"$LAB_STATE/vfod-a.log") + 1))
        vfod_start a 1
}
attach_running() { [ -n "$(running_attach)" ]; }

# ------------------------------------------------------------ mid-detach
job=$(busctl call org.vfo1 /org/vfo1 org.vfo1.Manager Detach ss vm1 "" | sed -n 's/^o "\(.*\)"$/\1/p')
lab_require "Detach vm1 started a job ($job)" test -n "$job"
phase=$(wait_phase "$job" '^(switching|unplugging)$' 20000) || phase=
lab_require "the detach reached switching/unplugging (${phase:-never})" test -n "$phase"
vfod_kill9
lab_check "the journal holds the interrupted detach" grep -q "^job .* detach " "$journal"
sed 's/^/  journal: /' "$journal"
restart_vfod
lab_check "after SIGKILL mid-detach ($phase): vfod recovers, jobs settle, one holder" recovered detach
lab_check "mid-detach: libvirt and vfod agree, no VF in two domains" vfod_consistent
lab_check "mid-detach: the interrupted detach was finished (recovery job done)" vfod_job_seen detach recovery done
vfod_show

# ------------------------------------------------------------ mid-attach
# Free the VF with a user detach; the scheduler hands it to the other VM.
holder=vm1
vfod_holds vm2 && holder=vm2
lab_require "detach $holder" "$VFOCTL" detach "$holder"
job=
lab_wait 30 "a scheduler attach" attach_running || true
job=$(running_attach)
lab_require "the freed VF is being attached ($job)" test -n "$job"
phase=$(wait_phase "$job" '^(plugging|waiting-agent)$' 20000) || phase=
lab_require "the attach reached plugging/waiting-agent (${phase:-never})" test -n "$phase"
vfod_kill9
lab_check "the journal holds the interrupted attach" grep -q "^job .* attach " "$journal"
sed 's/^/  journal: /' "$journal"
restart_vfod
lab_check "after SIGKILL mid-attach ($phase): vfod recovers, jobs settle, one holder" recovered attach
lab_check "mid-attach: libvirt and vfod agree, no VF in two domains" vfod_consistent
vfod_show

vfod_stop
lab_finish
