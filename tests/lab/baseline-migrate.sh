#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Baseline 4 — live migration with QEMU/libvirt defaults between two private
# libvirtd instances (a -> b, both in the lab netns on the same bridge):
# virsh migrate --live --p2p, migration data on 127.0.0.1. Loss meter at
# RATE pps across the migration; migration wall time from the virsh call.
# Variants (one VM each, one after the other, one JSON line each):
#   with-vf  the VM runs on its emulated VF (e1000e). NOTE: an emulated
#            e1000e migrates along with the VM; a real VF (hostdev) cannot,
#            it would have to be unplugged first (see baseline-kernel-doc).
#   no-vf    the VM has only its virtio NIC.
# Usage: baseline-migrate.sh [with-vf] [no-vf]   (default: both)
# Exit 0 when every variant was measured, 1 if not, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-bench.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib-bench.sh"

RATE=${VFO_LAB_RATE:-1000}
PRE=3
POST=${VFO_BENCH_MIGRATE_POST_S:-8}   # seconds of meter after the migration returned
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(with-vf no-vf)
for v in "${variants[@]}"; do
        case $v in with-vf | no-vf) ;; *) echo "unknown variant $v" >&2; exit 2 ;; esac
done

lab_requirements
lab_init
lab_libvirtd_start a
lab_libvirtd_start b
lab_check "the two instances have different host_uuid" \
        test "$(grep host_uuid "$LAB_STATE/a/etc/libvirtd.conf")" != "$(grep host_uuid "$LAB_STATE/b/etc/libvirtd.conf")"
bench_events_bg a "$LAB_STATE/events.a"
bench_events_bg b "$LAB_STATE/events.b"

idx=0
for variant in "${variants[@]}"; do
        idx=$((idx + 1))
        vm=vm$idx
        fails_before=$LAB_CHECKS_FAILED
        mac=$(lab_vm_mac "$idx")
        lab_vm_start a "$vm" "$idx"
        lab_require "$variant: guest boots" lab_vm_ready "$vm" 120
        if [ "$variant" = with-vf ]; then
                lab_require "$variant: attach the VF" lab_vf_attach "$vm"
                lab_require "$variant: VM runs on its VF" bench_vm_on_vf "$vm"
        else
                lab_require "$variant: VM runs on virtio" bench_vm_on_virtio "$vm"
        fi
        lab_log "$variant: before: fdb $(bench_fdb_show "$mac")"

        watch=$LAB_STATE/watch.$vm
        bench_watch_bg "$vm" "$mac" "$watch"
        watcher=$BENCH_WATCH_PID
        out=$LAB_STATE/meter.$vm.json
        # long enough for the migration (~4-8 s for 512 MiB under TCG); the
        # meter is stopped with SIGINT POST seconds after virsh returned.
        lab_lossmeter_bg "$vm" "$out" --rate "$RATE" --duration 120 --drain 1 --label "migrate-$variant"
        meter=$LAB_LAST_PID
        sleep "$PRE"

        t0=$(bench_now_ms)
        mig_ok=true
        bench_migrate "$vm" a b >"$LAB_STATE/migrate.$vm.log" 2>&1 || mig_ok=false
        t_ret=$(bench_now_ms)
        lab_check "$variant: virsh migrate --live --p2p a -> b" $mig_ok
        [ "$mig_ok" = true ] || cat "$LAB_STATE/migrate.$vm.log" >&2
        sleep "$POST"
        kill -INT "$meter" 2>/dev/null || true
        wait "$meter" || true
        t_susp=$(bench_event_ms "$LAB_STATE/events.a" "lifecycle.*'$vm'.*Suspended" "$t0") || t_susp=
        t_res=$(bench_event_ms "$LAB_STATE/events.b" "lifecycle.*'$vm'.*Resumed" "$t0") || t_res=
        jobinfo=$(lab_virsh b domjobinfo "$vm" --completed 2>/dev/null || true)
        qtime=$(printf '%s\n' "$jobinfo" | awk -F: '/^Time elapsed:/ { gsub(/[^0-9]/, "", $2); print $2; exit }')
        downtime=$(printf '%s\n' "$jobinfo" | awk -F: '/^Total downtime:/ { gsub(/[^0-9]/, "", $2); print $2; exit }')
        kill "$watcher" 2>/dev/null || true
        wait "$watcher" 2>/dev/null || true
        vtap=$(bench_tap "$vm" virtio)
        vftap=
        [ "$variant" = with-vf ] && vftap=$(bench_tap "$vm" e1000e)
        lab_log "$variant: after: fdb $(bench_fdb_show "$mac") (virtio $vtap, e1000e ${vftap:-none})"
        port=$(bench_fdb_port "$mac")
        where=unknown
        [ -n "$port" ] && [ "$port" = "$vtap" ] && where=virtio
        [ -n "$port" ] && [ "$port" = "$vftap" ] && where=vf
        [ "$variant" = with-vf ] && lab_check "$variant: the e1000e migrated along" lab_vm_has_vf "$vm"
        m=$(cat "$out")
        lab_check "$variant: loss meter result" test -n "$m"

        ok=false
        [ "$LAB_CHECKS_FAILED" -eq "$fails_before" ] && ok=true
        note="virsh migrate --live --p2p (QEMU/libvirt defaults), 512 MiB TCG guest; steering afterwards: $where"
        [ "$variant" = with-vf ] && note="$note; the emulated e1000e VF migrates along with the VM (a real hostdev VF cannot)"
        bench_emit migrate "$variant" "$ok" "$m" \
                "migrate_call=$(bench_diff "$t0" "$t_ret") source_suspended=$(bench_diff "$t0" "$t_susp") dest_resumed=$(bench_diff "$t0" "$t_res") qemu_time_elapsed=$qtime qemu_downtime=$downtime" \
                "$note"
        lab_log "$variant: watch log: $(grep -v ' console VFO-GUEST: \(virtio port\|master\|vfo-lossecho\)' "$watch" | tr '\n' '|')"
        lab_virsh b destroy "$vm" >/dev/null 2>&1 || true
done
lab_finish
