#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Baseline 2 — re-attach, what users get today: the VM runs on the
# synthetic (virtio) path only, the loss meter runs at RATE pps, and the VF
# is hot-plugged with virsh attach-device --live and nothing else. The guest's
# net_failover makes the VF primary and drops what still arrives on the
# standby until the bridge learns the MAC on the VF's tap (nobody announces).
# The meter runs long enough to see traffic come back (measured: 12-16 s under TCG).
# Prints one JSON line. Exit 0 when measured, 1 if not, 77 skip.
#   VFO_BENCH_REATTACH_S   seconds of meter after the attach (default 30)
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-bench.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib-bench.sh"

RATE=${VFO_LAB_RATE:-1000}
PRE=3
POST=${VFO_BENCH_REATTACH_S:-30}
TOTAL=$((PRE + POST))

lab_requirements
lab_init
lab_libvirtd_start a
ev=$LAB_STATE/events.a
bench_events_bg a "$ev"
lab_vm_start a vm1 1
lab_require "guest boots" lab_vm_ready vm1 120
mac=$(lab_vm_mac 1)
vtap=$(bench_tap vm1 virtio)
lab_require "bridge forwards the MAC to the virtio tap" bench_vm_on_virtio vm1

watch=$LAB_STATE/watch
bench_watch_bg vm1 "$mac" "$watch"
out=$LAB_STATE/meter.json
lab_lossmeter_bg vm1 "$out" --rate "$RATE" --duration "$TOTAL" --drain 1 --label reattach
meter=$LAB_LAST_PID
sleep "$PRE"

t0=$(bench_now_ms)
lab_check "attach-device --live (e1000e ua-vfo-vf0)" lab_vf_attach vm1
t_ret=$(bench_now_ms)
t_add=$(bench_wait_event "$ev" "device-added.*ua-vfo-vf0" "$((t0 - 50))" 10) || t_add=
lab_check "DEVICE_ADDED for ua-vfo-vf0" test -n "$t_add"
t_join=$(bench_wait_watch "$watch" console 'primary [^ ]+ joined' "$t0" 20) || t_join=
lab_check "guest: VF joined net_failover" test -n "$t_join"
t_up=$(bench_wait_watch "$watch" console 'primary [^ ]+ carrier up' "$t0" 20) || t_up=
vftap=$(bench_tap vm1 e1000e)
wait "$meter" || true
sleep 0.2
t_fdb=
[ -n "$vftap" ] && { t_fdb=$(bench_watch_ms "$watch" fdb "^$vftap\$" "$t0") || t_fdb=; }
lab_check "bridge learned the MAC on the VF tap within the run" test -n "$t_fdb"
m=$(cat "$out")
lab_check "loss meter result" test -n "$m"

ok=false
[ "$LAB_CHECKS_FAILED" -eq 0 ] && ok=true
bench_emit reattach default "$ok" "$m" \
        "attach_call=$(bench_diff "$t0" "$t_ret") device_added=$(bench_diff "$t0" "$t_add") guest_primary_joined=$(bench_diff "$t0" "$t_join") guest_vf_carrier_up=$(bench_diff "$t0" "$t_up") fdb_to_vf=$(bench_diff "$t0" "$t_fdb") meter_after_attach=$((POST * 1000))" \
        "virsh attach-device --live only; fdb_to_vf ~ end of the outage (the bridge learns the VF port when the guest transmits on it)"
lab_log "watch log: $(tr '\n' '|' <"$watch")"
lab_finish
