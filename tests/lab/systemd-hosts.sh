#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfo as users run it: two hosts under systemd with the packages installed
# (tests/lab/lib-systemd.sh: Debian 12 containers, systemd as PID 1, the
# vfo-host package, libvirtd socket-activated, vfod started by its unit,
# their own system buses), each in its network namespace behind the lab's
# learning switch; the guest as VFO_LAB_GUEST says (debian: the Debian 12
# image with the vfo-guest package, VFO_LAB_INITRAMFS).
#   1. vfod runs from its unit: systemctl status, journalctl -u vfod with
#      its structured fields (DOMAIN=, MAC=, JOB=), busctl introspect
#   2. vm1 on host a gets its VF from vfod
#   3. vfoctl migrate --managed-switchover from a to b, at VFO_LAB_RATE pps
#      (default 1000): at most VFO_LAB_MAX_LOST lost (default 0), none
#      duplicated; vm1 gets host b's VF; then vfoctl detach and vfoctl
#      attach on b, measured the same way; their jobs' loss accounting
#      (what the guest counted) says what the meters saw: clean when they
#      lost nothing, lossy when they lost some
#   4. the watchdog: vfod on b stopped with SIGSTOP is killed and restarted
#      by systemd (WatchdogSec=), and the new vfod knows vm1 holds its VF
# The packages: VFO_LAB_DEBS (default: the build tree's debs/, from
# contrib/build-debs.sh). Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-vfod.sh
. "$LAB_SRCDIR/lib-vfod.sh"
# shellcheck source=tests/lab/lib-systemd.sh
. "$LAB_SRCDIR/lib-systemd.sh"

RATE=${VFO_LAB_RATE:-1000}
MAX_LOST=${VFO_LAB_MAX_LOST:-0}
DEBS=${VFO_LAB_DEBS:-$LAB_TOP_BUILDDIR/debs}

lab_requirements
host_deb=$(ls "$DEBS"/vfo-host_*.deb 2>/dev/null | tail -n 1)
[ -n "$host_deb" ] || lab_skip "no vfo-host package in $DEBS (contrib/build-debs.sh $DEBS)"
command -v systemd-nspawn >/dev/null || lab_skip "systemd-nspawn is missing (install systemd-container)"
command -v busctl >/dev/null || lab_skip "busctl is missing"
[ "$LAB_TOPOLOGY" = twohost ] || lab_skip "hosts under systemd need VFO_LAB_TOPOLOGY=twohost"
lab_init
mkhostroot "$host_deb"

for h in a b; do
        lab_host_net "$h"       # its address goes into vfod.conf (ForwardAddress=)
        vfod_unit_config "$h" 1
        lab_systemd_host_start "$h"
done

# ------------------------------------------------- 1. vfod from its unit
# The package enabled vfod.service; its configuration existed at boot.
vfod_active() { [ "$(lab_in_host "$1" systemctl is-active vfod.service)" = active ]; }
for h in a b; do
        lab_check "host $h: vfod started by its unit at boot" lab_wait 30 "vfod on $h" vfod_active "$h"
        lab_check "host $h: vfod connected to libvirtd" lab_wait 30 "vfod on $h connected" on_host "$h" vfod_connected
done
echo "---- systemctl status vfod (host a)"
lab_in_host a systemctl status --no-pager --lines=0 vfod.service | sed 's/^/    /' || true
echo "---- busctl introspect org.vfo1 /org/vfo1 (host a)"
on_host a busctl introspect org.vfo1 /org/vfo1 | sed 's/^/    /'

# ------------------------------------------------------- 2. vm1 on host a
lab_vm_start a vm1 1
lab_require "vm1 boots to VFO-GUEST-READY" lab_vm_ready vm1 300
lab_require "vm1 runs vfo-agent" lab_wait_console vm1 'vfo-agent pid' 10
lab_require "peer reaches vm1" lab_ping "$(lab_vm_ip4 1)"
lab_require "vm1 opts in (vfoctl set-policy, on host a)" lab_in_host a vfoctl set-policy vm1 --pool lab --priority 50
lab_check "vm1 gets its VF from vfod on a" lab_wait 120 "vm1 on a's VF" on_host a vfod_holds vm1
lab_check "jobs on a settled" lab_wait 30 "jobs settled on a" on_host a vfod_idle

# journald's structured fields of vfod's job lines
fields_seen() {
        lab_in_host a journalctl -u vfod.service -o verbose --no-pager 2>/dev/null |
                grep -E '^ *(DOMAIN|MAC|JOB)=' | sort -u >"$LAB_STATE/fields.a"
        grep -q '^ *DOMAIN=vm1$' "$LAB_STATE/fields.a" && grep -q '^ *MAC=' "$LAB_STATE/fields.a" &&
                grep -q '^ *JOB=' "$LAB_STATE/fields.a"
}
lab_check "journalctl -u vfod: DOMAIN=, MAC=, JOB= fields" fields_seen
echo "---- journalctl -u vfod (host a), the attach's line and its fields"
lab_in_host a journalctl -u vfod.service -o verbose --no-pager -g 'attach of' 2>/dev/null |
        grep -E '^ *(MESSAGE|DOMAIN|MAC|JOB|PRIORITY)=' | head -n 5 | sed 's/^/    /' || true

# ------------------------------------------- 3. managed migration a -> b
vfod_meters_start migrate vm1
t0=$(lab_ms)
rc=0
lab_in_host a vfoctl migrate vm1 "${LAB_URI[b]}" --live --p2p --managed-switchover $(lab_mig_opts b) \
        --destination-bus "${LAB_BUS_IN[b]}" >"$LAB_STATE/migrate.out" 2>&1 || rc=$?
wall=$(($(lab_ms) - t0))
vfod_meters_stop
sed 's/^/    vfoctl: /' "$LAB_STATE/migrate.out"
lab_check "vfoctl migrate --managed-switchover a -> b (${wall} ms)" test "$rc" = 0
LAB_VM_INST[vm1]=b
lab_check "migration a -> b: <= $MAX_LOST lost, none duplicated" vfod_meters_ok
lab_check "vm1 gets b's VF" lab_wait 120 "vm1 on b's VF" on_host b vfod_holds vm1
lab_check "jobs on b settled" lab_wait 30 "jobs settled on b" on_host b vfod_idle
lab_in_host a journalctl -u vfod.service --no-pager -o cat >"$LAB_STATE/vfod-a.log" 2>&1 || true
lab_in_host b journalctl -u vfod.service --no-pager -o cat >"$LAB_STATE/vfod-b.log" 2>&1 || true
grep -E 'handover|QEMU stopped|forwarding|destination' "$LAB_STATE/vfod-a.log" | sed 's/^/    vfod a: /' || true

# ----------------------- 3b. detach and attach by vfod on host b (graceful)
move() {
        local op=$1 rc=0
        vfod_meters_start "$op" vm1
        lab_in_host b vfoctl "$op" vm1 >"$LAB_STATE/$op.out" 2>&1 || rc=$?
        vfod_meters_stop
        sed 's/^/    vfoctl: /' "$LAB_STATE/$op.out"
        [ $rc = 0 ] && vfod_meters_ok
}
lab_check "vfoctl detach vm1 on b: <= $MAX_LOST lost, none duplicated" move detach
lab_check "vfoctl attach vm1 on b: <= $MAX_LOST lost, none duplicated" move attach
lab_check "vm1 holds b's VF again" lab_wait 60 "vm1 on b's VF" on_host b vfod_holds vm1
# the guest's loss accounting of the two moves, as vfod keeps it with their
# jobs (Job.Loss): what the meter saw, clean when it lost nothing and lossy
# when it lost some (a move may lose up to MAX_LOST here; the account must
# say so). The report comes after the attach's drain.
meter_verdict() {
        local lost
        lost=$(lab_json_num "$(cat "$LAB_STATE/$1.vm1.loss" 2>/dev/null)" lost)
        if [ "${lost:-0}" = 0 ]; then echo clean; else echo lossy; fi
}
job_losses() {
        lab_in_host b vfoctl jobs --json | python3 -c '
import json, sys
jobs = sorted((j for j in json.load(sys.stdin) if j.get("state") == "done"), key=lambda j: j["id"])
print(" ".join(j.get("loss", "unknown") for j in jobs[-2:]))'
}
reported() { case " $(job_losses) " in *" unknown "*) return 1 ;; esac; }
lab_wait 10 "the guest's reports of the moves" reported || true
losses=$(job_losses || true)
want="$(meter_verdict detach) $(meter_verdict attach)"
# what the guest counted, as vfod logged it, for a move that was not clean
case " $losses $want " in
*" lossy "*)
        lab_in_host b journalctl -u vfod.service -o cat --no-pager -g 'the guest counted' 2>/dev/null |
                tail -n 2 | sed 's/^/    vfod b: /' || true ;;
esac
lab_check "the jobs of the detach and the attach on b say: ${losses:-nothing} (the meters: $want)" test "$losses" = "$want"

[ "$LAB_GUEST" = debian ] && lab_guest_manager_checks vm1

# --------------------------------------------------- 4. the watchdog
watchdog() {
        local old new restarts
        old=$(lab_in_host b systemctl show -P MainPID vfod.service)
        [ "${old:-0}" != 0 ] || return 1
        lab_in_host b kill -STOP "$old"
        lab_log "vfod on b (pid $old in the container) stopped with SIGSTOP"
        # WatchdogSec=30s: systemd kills it (SIGABRT) and Restart=on-failure
        # starts a new one
        lab_wait 90 "systemd restarts vfod on b" restarted "$old" || return 1
        new=$(lab_in_host b systemctl show -P MainPID vfod.service)
        restarts=$(lab_in_host b systemctl show -P NRestarts vfod.service)
        lab_log "vfod on b: pid $old -> $new, NRestarts=$restarts"
        lab_in_host b journalctl -u vfod.service --no-pager -o cat -g 'atchdog' 2>/dev/null | tail -n 3 | sed 's/^/    /' || true
        [ "${restarts:-0}" -ge 1 ]
}
restarted() {
        local pid
        pid=$(lab_in_host b systemctl show -P MainPID vfod.service)
        [ "${pid:-0}" != 0 ] && [ "$pid" != "$1" ] && vfod_active b
}
lab_check "vfod on b stopped (SIGSTOP): the watchdog restarts it" watchdog
lab_check "the restarted vfod on b is on the bus" lab_wait 30 "vfod on b connected" on_host b vfod_connected
lab_check "the restarted vfod knows vm1 holds b's VF" lab_wait 60 "vm1 on b's VF" on_host b vfod_holds vm1
lab_check "vfod's state matches libvirt's on b" on_host b vfod_consistent

lab_finish
