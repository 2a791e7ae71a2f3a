#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Baseline 3 — the kernel's documented procedure
# (Documentation/networking/net_failover.rst, "Live Migration of a VM with
# SR-IOV VF & virtio-net in STANDBY mode"), driven through libvirt between two
# private libvirtd instances (a -> b, same lab netns, same bridge), with the
# loss meter at RATE pps across all of it.
#
# Steady state as in the document: the VM runs on its VF, the virtio link is
# down (<link state='down'/>; here set live with domif-setlink).
# Source (migrate.sh):
#   virsh domif-setlink DOMAIN VIRTIO_TAP up
#   virsh detach-device --live DOMAIN vf.xml     (--config too in the doc;
#                                                 lab domains are transient)
#   ip link set PF vf N mac 00:..:00 + bridge fdb add MAC dev VF
#       -> no PF here; the stand-in for host steering is
#          bridge fdb replace MAC dev VIRTIO_TAP master static sticky
#   virsh migrate --live DOMAIN DEST   (p2p to instance b, data on 127.0.0.1)
#   bridge fdb del MAC dev VIRTIO_TAP master
# Destination (reattach-vf.sh):
#   bridge fdb del MAC dev VIRTIO_TAP master
#   virsh attach-device --live DOMAIN vf.xml
#   virsh domif-setlink DOMAIN VIRTIO_TAP down
# Prints one JSON line. Exit 0 when measured, 1 if not, 77 skip.
#   VFO_BENCH_KDOC_POST_S  seconds of meter after the last step (default 25)
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-bench.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib-bench.sh"

RATE=${VFO_LAB_RATE:-1000}
PRE=3
POST=${VFO_BENCH_KDOC_POST_S:-25}

lab_requirements
lab_init
lab_libvirtd_start a
lab_libvirtd_start b
lab_check "the two instances have different host_uuid" \
        test "$(grep host_uuid "$LAB_STATE/a/etc/libvirtd.conf")" != "$(grep host_uuid "$LAB_STATE/b/etc/libvirtd.conf")"
eva=$LAB_STATE/events.a
evb=$LAB_STATE/events.b
bench_events_bg a "$eva"
bench_events_bg b "$evb"
lab_vm_start a vm1 1
lab_require "guest boots" lab_vm_ready vm1 120
mac=$(lab_vm_mac 1)
vfxml=$LAB_STATE/vm1.ua-vfo-vf0.xml

lab_require "attach the VF" lab_vf_attach vm1
lab_require "VM runs on its VF" bench_vm_on_vf vm1
tap_a=$(bench_tap vm1 virtio)
lab_require "steady state of the doc: virtio link down" bench_quiet lab_virsh a domif-setlink vm1 "$tap_a" down
sleep 1
lab_require "still on the VF" test "$(bench_fdb_port "$mac")" = "$(bench_tap vm1 e1000e)"
lab_log "before: fdb $(bench_fdb_show "$mac")"

watch=$LAB_STATE/watch
bench_watch_bg vm1 "$mac" "$watch"
out=$LAB_STATE/meter.json
lab_lossmeter_bg vm1 "$out" --rate "$RATE" --duration 180 --drain 1 --label kernel-doc
meter=$LAB_LAST_PID
sleep "$PRE"

# ---- source hypervisor (migrate.sh)
t0=$(bench_now_ms)
lab_check "src: virsh domif-setlink $tap_a up" bench_quiet lab_virsh a domif-setlink vm1 "$tap_a" up
t_up=$(bench_now_ms)
lab_check "src: virsh detach-device --live vf.xml" bench_quiet lab_virsh a detach-device vm1 "$vfxml" --live
t_det=$(bench_now_ms)
lab_check "src: stand-in for 'zero the VF MAC + fdb add': fdb pin MAC on $tap_a (static sticky)" \
        bench_fdb_pin "$mac" "$tap_a"
t_pin=$(bench_now_ms)
mig_ok=true
bench_migrate vm1 a b >"$LAB_STATE/migrate.log" 2>&1 || mig_ok=false
t_mig=$(bench_now_ms)
lab_require "src: virsh migrate --live --p2p a -> b" $mig_ok
lab_on_host_ns a bridge fdb del "$mac" dev "$tap_a" master 2>/dev/null || true   # the tap is gone with the source QEMU
# ---- destination hypervisor (reattach-vf.sh)
tap_b=$(bench_tap vm1 virtio)
lab_on_host_ns b bridge fdb del "$mac" dev "$tap_b" master 2>/dev/null || true
t_att0=$(bench_now_ms)
lab_check "dst: virsh attach-device --live vf.xml" bench_quiet lab_virsh b attach-device vm1 "$vfxml" --live
t_att=$(bench_now_ms)
lab_check "dst: virsh domif-setlink $tap_b down" bench_quiet lab_virsh b domif-setlink vm1 "$tap_b" down
t_end=$(bench_now_ms)

sleep "$POST"
kill -INT "$meter" 2>/dev/null || true
wait "$meter" || true

t_rm=$(bench_event_ms "$eva" "device-removed.*ua-vfo-vf0" "$t0") || t_rm=
t_susp=$(bench_event_ms "$eva" "lifecycle.*'vm1'.*Suspended" "$t0") || t_susp=
t_res=$(bench_event_ms "$evb" "lifecycle.*'vm1'.*Resumed" "$t0") || t_res=
t_add=$(bench_event_ms "$evb" "device-added.*ua-vfo-vf0" "$t_att0") || t_add=
t_left=$(bench_watch_ms "$watch" console 'primary [^ ]+ left' "$t0") || t_left=
t_join=$(bench_watch_ms "$watch" console 'primary [^ ]+ joined' "$t_att0") || t_join=
t_cup=$(bench_watch_ms "$watch" console 'primary [^ ]+ carrier up' "$t_att0") || t_cup=
vftap_b=$(bench_tap vm1 e1000e)
t_fdb=
[ -n "$vftap_b" ] && { t_fdb=$(bench_watch_ms "$watch" fdb "^$vftap_b\$" "$t_att0") || t_fdb=; }
lab_check "DEVICE_REMOVED on the source" test -n "$t_rm"
lab_check "guest: VF joined on the destination" test -n "$t_join"
lab_check "bridge forwards to the destination's VF tap at the end" test "$(bench_fdb_port "$mac")" = "$vftap_b"
lab_log "after: fdb $(bench_fdb_show "$mac") (virtio $tap_b, e1000e $vftap_b)"
jobinfo=$(lab_virsh b domjobinfo vm1 --completed 2>/dev/null || true)
downtime=$(printf '%s\n' "$jobinfo" | awk -F: '/^Total downtime:/ { gsub(/[^0-9]/, "", $2); print $2; exit }')
m=$(cat "$out")
lab_check "loss meter result" test -n "$m"

ok=false
[ "$LAB_CHECKS_FAILED" -eq 0 ] && ok=true
bench_emit kernel-doc default "$ok" "$m" \
        "setlink_up_call=$(bench_diff "$t0" "$t_up") detach_call=$(bench_diff "$t_up" "$t_det") device_removed=$(bench_diff "$t_up" "$t_rm") guest_primary_left=$(bench_diff "$t_up" "$t_left") fdb_pin_after_detach_call=$(bench_diff "$t_det" "$t_pin") migrate_call=$(bench_diff "$t_pin" "$t_mig") source_suspended=$(bench_diff "$t_pin" "$t_susp") dest_resumed=$(bench_diff "$t_pin" "$t_res") qemu_downtime=$downtime attach_call=$(bench_diff "$t_att0" "$t_att") device_added=$(bench_diff "$t_att0" "$t_add") guest_primary_joined=$(bench_diff "$t_att0" "$t_join") guest_vf_carrier_up=$(bench_diff "$t_att0" "$t_cup") fdb_to_vf=$(bench_diff "$t_att0" "$t_fdb") procedure_total=$(bench_diff "$t0" "$t_end")" \
        "net_failover.rst procedure via libvirt; PF steps replaced by a static sticky bridge FDB pin; detach/device/guest timings relative to the step's libvirt call, fdb_to_vf relative to the destination attach"
lab_log "watch log: $(grep -v ' console VFO-GUEST: \(virtio port\|master\|vfo-lossecho\)' "$watch" | tr '\n' '|')"
lab_log "events a: $(tr '\n' '|' <"$eva")"
lab_log "events b: $(tr '\n' '|' <"$evb")"
lab_finish
