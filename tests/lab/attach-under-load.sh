#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Graceful attaches and detaches under load: vfod with an emulated pool of 3
# VFs held by 3 VMs running vfo-agent; a loss meter on every VM at
# VFO_LAB_RATE pps (default 1000) and, unless VFO_LAB_BUSY=0, one busy
# process on the host (a core's worth of background load). VFO_LAB_CYCLES
# cycles (default 3); in each, every VM in turn is detached (vfoctl detach)
# and attached again (vfoctl attach), and every VM's meter covers the whole
# cycle. Checks: every job ends done and graceful; at most VFO_LAB_MAX_LOST
# (default 0) lost and 0 duplicated per VM and cycle. A lossy cycle prints
# its meter line, the jobs of the cycle and the guests' agent lines.
# Prints ATTACH-UNDER-LOAD {...} with the totals.
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-vfod.sh
. "$LAB_SRCDIR/lib-vfod.sh"
# shellcheck source=tests/lab/lib-bench.sh
. "$LAB_SRCDIR/lib-bench.sh"

RATE=${VFO_LAB_RATE:-1000}
MAX_LOST=${VFO_LAB_MAX_LOST:-0}
CYCLES=${VFO_LAB_CYCLES:-3}
VMS=(vm1 vm2 vm3)

vfod_lab_vms 3
vfod_start a 3
lab_require "vfod is on the bus and connected to libvirt" lab_wait 20 "vfod" vfod_connected
for vm in "${VMS[@]}"; do lab_check "vfoctl set-policy $vm" "$VFOCTL" set-policy "$vm" --pool lab --priority 50; done
lab_require "vm1, vm2 and vm3 hold a VF" lab_wait 90 "three VMs on VFs" vfod_holds vm1 vm2 vm3
lab_require "jobs settled" lab_wait 30 "no running job" vfod_idle

if [ "${VFO_LAB_BUSY:-1}" != 0 ]; then
        # one core's worth of background load, ended by the teardown
        bash -c 'while :; do :; done' &
        lab_pid_record $!
        lab_log "busy loop pid $!"
fi

# VFO_LAB_CAPTURE=1: tcpdump on every link of the lab netns (the bridge and
# the taps, tcpdump -i any); a lossy cycle shows where each lost datagram and
# its neighbours were seen (meter-capture.py)
CAPTURE=${VFO_LAB_CAPTURE:-0}
CAPTURE_PIDS=()
capture_start() {
        local vm
        [ "$CAPTURE" = 1 ] || return 0
        CAPTURE_PIDS=()
        rm -f "$LAB_STATE"/*.pcap
        ip netns exec "$LAB_NS" tcpdump -i any -s 128 -w "$LAB_STATE/any.pcap" -U udp port "$LAB_ECHO_PORT" 2>/dev/null &
        lab_pid_record $!
        CAPTURE_PIDS+=($!)
        sleep 1
}
capture_stop() {
        local p
        for p in "${CAPTURE_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
        for p in "${CAPTURE_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

attaches=0 detaches=0 lost=0 duplicated=0 lossy=0 failed=0 worst=0
for c in $(seq "$CYCLES"); do
        capture_start
        vfod_meters_start "cycle$c" "${VMS[@]}"
        cycle_t0=$(lab_ms)
        for vm in "${VMS[@]}"; do
                if "$VFOCTL" detach "$vm" >"$LAB_STATE/job.out" 2>&1; then
                        detaches=$((detaches + 1))
                else
                        failed=$((failed + 1))
                        lab_log "cycle $c: vfoctl detach $vm failed: $(cat "$LAB_STATE/job.out")"
                fi
                if "$VFOCTL" attach "$vm" >"$LAB_STATE/job.out" 2>&1; then
                        attaches=$((attaches + 1))
                else
                        failed=$((failed + 1))
                        lab_log "cycle $c: vfoctl attach $vm failed: $(cat "$LAB_STATE/job.out")"
                fi
        done
        vfod_meters_stop
        capture_stop
        bad=0
        for vm in "${VMS[@]}"; do
                j=$(cat "$LAB_STATE/cycle$c.$vm.loss")
                l=$(lab_json_num "$j" lost)
                d=$(lab_json_num "$j" duplicated)
                lost=$((lost + ${l:-0}))
                duplicated=$((duplicated + ${d:-0}))
                [ "${l:-0}" -le "$worst" ] || worst=$l
                if [ "${l:-1}" != 0 ] || [ "${d:-1}" != 0 ]; then
                        bad=1
                        lab_log "cycle $c (started at lab ms $cycle_t0): $vm: $j"
                        grep -a -E 'Port |helper' "$(lab_vm_console "$vm")" | tail -n 40 || true
                        if [ "$CAPTURE" = 1 ]; then
                                seqs=$(printf '%s\n' "$j" | sed 's/.*"lost_at_ms":\[\([^]]*\)\].*/\1/' | tr ',' '\n' |
                                        awk -v r="$RATE" 'NF { s = int($1 * r / 1000 + 0.5); for (i = s - 3; i <= s + 3; i++) print i }' |
                                        sort -nu | paste -sd,)
                                python3 "$LAB_SRCDIR/meter-capture.py" "$(lab_vm_ip4 "${LAB_VM_INDEX[$vm]}")" "$seqs" \
                                        "$LAB_STATE/any.pcap" "$(lab_ns cat /sys/class/net/$LAB_BRIDGE/ifindex)=br" \
                                        "$(lab_ns cat /sys/class/net/$(bench_tap "$vm" virtio)/ifindex)=syn" || true
                                grep -E "steered|$vm" "$LAB_STATE/vfod-a.log" | tail -n 30
                        fi
                fi
        done
        if [ "$bad" = 1 ]; then
                lossy=$((lossy + 1))
                vfod_job_figures | tail -n 6
        fi
        lab_log "cycle $c of $CYCLES: $attaches attaches, $detaches detaches, $lost lost, $duplicated duplicated so far"
done

# what the guests' standby helpers did (vfo-agent logs it when a transition ends)
held=0
for vm in "${VMS[@]}"; do
        n=$(grep -a -o 'held [0-9]* transmitted' "$(lab_vm_console "$vm")" | awk '{ s += $2 } END { print s + 0 }')
        held=$((held + n))
done
lab_log "frames the guests transmitted on the synthetic path while a VF joined (transmit hold): $held"

lab_check "every vfoctl attach and detach succeeded" test "$failed" = 0
lab_check "$attaches attaches and $detaches detaches: $lost lost (<= $MAX_LOST per VM and cycle), $duplicated duplicated" \
        test "$worst" -le "$MAX_LOST" -a "$duplicated" = 0
lab_check "libvirt and vfod agree, no VF in two domains" vfod_consistent
echo "ATTACH-UNDER-LOAD {\"cycles\":$CYCLES,\"vms\":${#VMS[@]},\"rate_pps\":$RATE,\"busy\":${VFO_LAB_BUSY:-1},\"attaches\":$attaches,\"detaches\":$detaches,\"lost\":$lost,\"duplicated\":$duplicated,\"lossy_cycles\":$lossy,\"failed\":$failed,\"held_tx\":$held}"
lab_finish
