#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Baseline 1 — abrupt detach, what users get today: the VM runs on its
# (emulated) VF, the bridge forwards its MAC to the VF's tap, the loss meter
# runs at RATE pps, and the VF is removed with virDomainDetachDeviceAlias
# (virsh detach-device-alias) and nothing else. Prints one JSON line:
# the loss meter's figures plus the detach timings (lab ms relative to the
# libvirt call). Exit 0 when the run was measured, 1 if not, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-bench.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib-bench.sh"

RATE=${VFO_LAB_RATE:-1000}
PRE=3     # seconds of meter before the detach
POST=5    # seconds of meter after DEVICE_REMOVED (at least)
TOTAL=$((PRE + POST + 2))

lab_requirements
lab_init
lab_libvirtd_start a
ev=$LAB_STATE/events.a
bench_events_bg a "$ev"
lab_vm_start a vm1 1
lab_require "guest boots" lab_vm_ready vm1 120
mac=$(lab_vm_mac 1)

lab_require "attach the VF" lab_vf_attach vm1
lab_require "VM runs on its VF (primary up, bridge learned the MAC on the VF tap)" bench_vm_on_vf vm1
vftap=$(bench_tap vm1 e1000e)
vtap=$(bench_tap vm1 virtio)
lab_log "on the VF: fdb $(bench_fdb_show "$mac") (VF tap $vftap, virtio tap $vtap)"

watch=$LAB_STATE/watch
bench_watch_bg vm1 "$mac" "$watch"
out=$LAB_STATE/meter.json
lab_lossmeter_bg vm1 "$out" --rate "$RATE" --duration "$TOTAL" --drain 1 --label abrupt-detach
meter=$LAB_LAST_PID
sleep "$PRE"

t0=$(bench_now_ms)
lab_check "detach-device-alias ua-vfo-vf0" lab_vf_detach vm1
t_ret=$(bench_now_ms)
t_rm=$(bench_wait_event "$ev" "device-removed.*ua-vfo-vf0" "$((t0 - 50))" 20) || t_rm=
lab_check "DEVICE_REMOVED for ua-vfo-vf0" test -n "$t_rm"
t_left=$(bench_wait_watch "$watch" console 'primary [^ ]+ left' "$t0" 10) || t_left=
wait "$meter" || true
sleep 0.2
t_fdb=$(bench_watch_ms "$watch" fdb "^$vtap\$" "$t0") || t_fdb=
lab_check "bridge forwards to the virtio tap afterwards" test "$(bench_fdb_port "$mac")" = "$vtap"
m=$(cat "$out")
lab_check "loss meter result" test -n "$m"

ok=false
[ "$LAB_CHECKS_FAILED" -eq 0 ] && ok=true
bench_emit abrupt-detach default "$ok" "$m" \
        "detach_call=$(bench_diff "$t0" "$t_ret") device_removed=$(bench_diff "$t0" "$t_rm") guest_primary_left=$(bench_diff "$t0" "$t_left") fdb_to_virtio=$(bench_diff "$t0" "$t_fdb")" \
        "virsh detach-device-alias only; guest timings from the console (0.2 s poll), fdb from a 50 ms poll"
lab_log "watch log: $(tr '\n' '|' <"$watch")"
lab_finish
