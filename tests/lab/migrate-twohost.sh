#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Migrations between two hosts behind a learning switch (issue 12's
# benchmark; make bench-migrate): vm1 between host a and host b, each with
# its own bridge, uplink, vfod (emulated pool of one VF, ForwardAddress= on
# the host network) and vfo's libvirt hook; the peer sits in the switch's
# netns. Every migration is measured three ways at once:
#   - peer -> guest: the loss meter's echo at RATE (lost, duplicated, the
#     longest gap);
#   - guest -> peer: the guest sends 1,000 sequence-numbered datagrams a
#     second (vfo.emit), counted at the peer (vfo-lossmeter --listen);
#   - TCP: one connection from the peer to the guest (vfo.tcpsink), written
#     at 256 KiB/s: the longest stall and the retransmissions (tcpmeter.py).
# First, at each rate, the control: the same traffic for VFO_LAB_CONTROL_S
# (5) s without a migration, VFO_LAB_CONTROL_RUNS (2) times (mode "none":
# what this machine's guests do to the figures by themselves); then plain
# `virsh migrate --live --p2p` of vm1 (no VF: it has not opted
# in), VFO_LAB_PLAIN_RUNS (2) each way at each rate; then vm1 opts in and
# `vfoctl migrate --managed-switchover` runs VFO_LAB_MANAGED_RUNS each way:
# "RATE:N ..." (default "1000:5 3000:3"), the destination's VF back before
# the meters stop; then `vfoctl migrate --managed-switchover --postcopy`
# (mode "postcopy") VFO_LAB_POSTCOPY_RUNS each way, in the same form and
# with the same default ("" for none). Each run prints a MIGRATE-TWOHOST
# JSON line (mode, direction, rate, the three measurements, wall time,
# libvirt's downtime, the pause the two vfods saw; for vfoctl the source's
# detach, QEMU's hold after the handover and the destination's attach), and
# the end a MIGRATE-TWOHOST-SUMMARY line. Checks: every migration succeeded;
# with VFO_LAB_STRICT=1 also 0 lost and 0 duplicated both ways in every
# managed and post-copy one (the benchmark itself only reports).
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=tests/lab/lib-vfod.sh
. "$LAB_SRCDIR/lib-vfod.sh"
# shellcheck source=tests/lab/lib-bench.sh
. "$LAB_SRCDIR/lib-bench.sh"

PLAIN_RUNS=${VFO_LAB_PLAIN_RUNS:-2}
CONTROL_RUNS=${VFO_LAB_CONTROL_RUNS:-2}
CONTROL_S=${VFO_LAB_CONTROL_S:-5}
MANAGED_RUNS=${VFO_LAB_MANAGED_RUNS:-1000:5 3000:3}
POSTCOPY_RUNS=${VFO_LAB_POSTCOPY_RUNS-1000:5 3000:3}
EMIT_PORT=7001
TCP_PORT=7002
TCP_RATE=$((256 * 1024))
[ "$LAB_TOPOLOGY" = twohost ] || lab_skip "needs VFO_LAB_TOPOLOGY=twohost (the default)"

lab_requirements
vfod_requirements
lab_init
lab_dbus_start a
lab_dbus_start b
LAB_HOOK[a]="env VFO_BUS_ADDRESS=${LAB_BUS[a]} $VFOCTL hook qemu"
LAB_HOOK[b]="env VFO_BUS_ADDRESS=${LAB_BUS[b]} $VFOCTL hook qemu"
lab_libvirtd_start a
lab_libvirtd_start b
VFO_LAB_CMDLINE="${VFO_LAB_CMDLINE:-} vfo.emit=10.77.0.1:$EMIT_PORT:1000 vfo.tcpsink=$TCP_PORT"
lab_vm_start a vm1 1
lab_require "vm1 boots to VFO-GUEST-READY" lab_vm_ready vm1 180
lab_require "vm1 runs vfo-agent" lab_wait_console vm1 'vfo-agent pid' 10
lab_require "vm1 emits to the peer" lab_wait_console vm1 'emits to 10.77.0.1' 10
lab_require "peer reaches vm1" lab_ping "$(lab_vm_ip4 1)"
# CLOCK_MONOTONIC on vfod's log lines: the domain's pause as the two vfods
# saw it (pause_ms below); both hosts are on this machine's clock
export VFO_LOG_TIME=1
vfod_start a 1
vfod_start b 1
lab_require "vfod a is connected" lab_wait 20 "vfod a" on_host a vfod_connected
lab_require "vfod b is connected" lab_wait 20 "vfod b" on_host b vfod_connected

where=a
other() { [ "$1" = a ] && echo b || echo a; }
ip1=$(lab_vm_ip4 1)

# meters_start LABEL RATE / meters_stop: the three meters of one run
meters_start() {
        M_LABEL=$1
        # a long drain (it ends 10 s after the last reply, or when all are
        # in): a TCG guest echoing 3,000/s while it sends 1,000/s and takes
        # TCP falls seconds behind (RTT p50 3.3 s seen), and a reply still on
        # its way when the meter stops would count as lost
        lab_lossmeter_bg vm1 "$LAB_STATE/$1.echo" --rate "$2" --duration 600 --drain 10 --label "$1"
        M_ECHO=$LAB_LAST_PID
        # ip netns exec itself in the background (not lab_ns, a function: its
        # subshell would take the SIGTERM and leave the meter running)
        ip netns exec "$LAB_NS" "$LAB_LOSSMETER" --listen "$EMIT_PORT" --duration 600 --label "$1" \
                >"$LAB_STATE/$1.emit" 2>&1 &
        M_EMIT=$!
        lab_pid_record "$M_EMIT"
        ip netns exec "$LAB_NS" python3 "$LAB_SRCDIR/tcpmeter.py" --target "$ip1:$TCP_PORT" --rate "$TCP_RATE" \
                --duration 600 --label "$1" >"$LAB_STATE/$1.tcp" 2>&1 &
        M_TCP=$!
        lab_pid_record "$M_TCP"
        sleep 1
}
meters_stop() {
        sleep 1
        kill -TERM "$M_EMIT" "$M_TCP" "$M_ECHO" 2>/dev/null || true
        wait "$M_EMIT" "$M_TCP" "$M_ECHO" 2>/dev/null || true
        ECHO=$(cat "$LAB_STATE/$M_LABEL.echo")
        EMIT=$(grep '^{' "$LAB_STATE/$M_LABEL.emit" || true)
        TCP=$(grep '^{' "$LAB_STATE/$M_LABEL.tcp" || true)
}

# log_ms HOST MARK REGEX: in the first line of HOST's vfod log after MARK
# that has REGEX followed by " N ms", N
log_ms() {
        tail -n +$(($2 + 1)) "$LAB_STATE/vfod-$1.log" | sed -n -E "s/.*$3 ([0-9.]+) ms.*/\\1/p" | head -n 1
}

# log_time HOST MARK TEXT: the time (s, CLOCK_MONOTONIC) of the first line
# of HOST's vfod log after MARK that has TEXT
log_time() {
        tail -n +$(($2 + 1)) "$LAB_STATE/vfod-$1.log" | grep -F -- "$3" | head -n 1 |
                sed -n -E 's/^(<[0-9]>)?\[ *([0-9]+\.[0-9]+)\].*/\2/p'
}

# pause_ms SRC MARK_S DST MARK_D: from the source's libvirt event of the
# domain's pause to the destination's of its resume, as each vfod logged it
# (libvirt keeps no completed statistics of most post-copy migrations, so
# this is the one downtime figure every mode has)
pause_ms() {
        local stop run
        stop=$(log_time "$1" "$2" "vm1: running -> paused")
        run=$(log_time "$3" "$4" "vm1: paused -> running")
        [ -n "$stop" ] && [ -n "$run" ] && awk -v a="$stop" -v b="$run" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
        return 0
}

# downtime_ms HOST: QEMU's downtime of the migration that ended on HOST
# (libvirt's completed job statistics of the destination; empty for most
# post-copy migrations, see pause_ms)
downtime_ms() {
        lab_virsh "$1" domjobinfo vm1 --completed --keep-completed 2>/dev/null |
                awk -F: '$1 ~ /^Total downtime/ { print $2 + 0; exit }'
}

# run MODE RATE N: one migration of vm1 to the other host, measured
fails=0
run() {
        local mode=$1 rate=$2 n=$3 src=$where dst label t0 wall rc=0 mark_s mark_d detach hold attach downtime pause
        dst=$(other "$src")
        [ "$mode" != none ] || dst=$src
        label="$mode-$rate-$src$dst-$n"
        mark_s=$(wc -l <"$LAB_STATE/vfod-$src.log")
        mark_d=$(wc -l <"$LAB_STATE/vfod-$dst.log")
        meters_start "$label" "$rate"
        t0=$(lab_ms)
        if [ "$mode" = none ]; then
                # the control: the same traffic for as long, no migration
                sleep "$CONTROL_S"
                wall=$(($(lab_ms) - t0))
        elif [ "$mode" = plain ]; then
                bench_migrate vm1 "$src" "$dst" >"$LAB_STATE/$label.out" 2>&1 || rc=$?
                wall=$(($(lab_ms) - t0))
        else
                local extra=()
                [ "$mode" != postcopy ] || extra=(--postcopy)
                on_host "$src" "$VFOCTL" migrate vm1 "${LAB_URI[$dst]}" --live --p2p --managed-switchover "${extra[@]}" \
                        $(lab_mig_opts "$dst") --destination-bus "${LAB_BUS[$dst]}" >"$LAB_STATE/$label.out" 2>&1 ||
                        rc=$?
                wall=$(($(lab_ms) - t0))
                if [ $rc = 0 ]; then
                        LAB_VM_INST[vm1]=$dst
                        lab_pidfile_record "$LAB_STATE/$dst/run/qemu/vm1.pid"
                        lab_wait 60 "vm1 on $dst's VF" on_host "$dst" vfod_holds vm1 || rc=1
                        lab_wait 30 "jobs settled on $dst" on_host "$dst" vfod_idle || rc=1
                fi
        fi
        meters_stop
        [ $rc = 0 ] && where=$dst
        detach=$(log_ms "$src" "$mark_s" "detach of .* on vm1 done in")
        hold=$(log_ms "$src" "$mark_s" "QEMU stopped vm1")
        attach=$(log_ms "$dst" "$mark_d" "attach of .* on vm1 done in")
        downtime=
        [ $rc = 0 ] && [ "$mode" != none ] && downtime=$(downtime_ms "$dst")
        pause=
        [ $rc = 0 ] && [ "$mode" != none ] && pause=$(pause_ms "$src" "$mark_s" "$dst" "$mark_d")
        printf 'MIGRATE-TWOHOST {"mode":"%s","from":"%s","to":"%s","rate":%s,"rc":%s,"wall_ms":%s,"downtime_ms":%s,"pause_ms":%s,"detach_ms":%s,"hold_ms":%s,"attach_ms":%s,"peer_to_guest":%s,"guest_to_peer":%s,"tcp":%s}\n' \
                "$mode" "$src" "$dst" "$rate" "$rc" "$wall" "$(bench_json_val "$downtime")" "$(bench_json_val "$pause")" "$(bench_json_val "$detach")" "$(bench_json_val "$hold")" \
                "$(bench_json_val "$attach")" "${ECHO:-null}" "${EMIT:-null}" "${TCP:-null}" | tee -a "$LAB_STATE/runs.lines"
        [ "$mode" = none ] || lab_check "$label: the migration succeeded" test "$rc" = 0 || fails=$((fails + 1))
        if { [ "$mode" = managed ] || [ "$mode" = postcopy ]; } && [ "${VFO_LAB_STRICT:-0}" = 1 ]; then
                lab_check "$label: 0 lost and 0 duplicated both ways" \
                        test "$(lab_json_num "$ECHO" lost)/$(lab_json_num "$ECHO" duplicated)/$(lab_json_num "$EMIT" lost)/$(lab_json_num "$EMIT" duplicated)" = 0/0/0/0
        fi
        return 0
}

for rate_n in $MANAGED_RUNS; do
        rate=${rate_n%%:*}
        for i in $(seq "$CONTROL_RUNS"); do
                run none "$rate" "$i"
        done
        for i in $(seq "$PLAIN_RUNS"); do
                run plain "$rate" "$i"
                run plain "$rate" "$i"
        done
done
[ "$where" = a ] || lab_die "vm1 is not back on a after the plain migrations"

lab_require "vm1 opts in on a (required)" on_host a "$VFOCTL" set-policy vm1 --pool lab --priority 50 --required yes
lab_require "vm1 holds a's VF" lab_wait 60 "vm1 on a's VF" on_host a vfod_holds vm1
lab_require "jobs settled on a" lab_wait 30 "idle" on_host a vfod_idle
for mode in managed postcopy; do
        runs=$MANAGED_RUNS
        [ "$mode" = managed ] || runs=$POSTCOPY_RUNS
        for rate_n in $runs; do
                rate=${rate_n%%:*}
                for i in $(seq "${rate_n##*:}"); do
                        run "$mode" "$rate" "$i"
                        run "$mode" "$rate" "$i"
                done
        done
done

python3 - "$LAB_STATE/runs.lines" <<'PY'
import json, sys, statistics
runs = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1])]
out = {}
for mode in ("none", "plain", "managed", "postcopy"):
    for rate in sorted({r["rate"] for r in runs}):
        for d in (("aa", "bb") if mode == "none" else ("ab", "ba")):
            rs = [r for r in runs if r["mode"] == mode and r["rate"] == rate and r["from"] + r["to"] == d]
            if not rs:
                continue
            def tot(key, field):
                return sum((r[key] or {}).get(field, 0) or 0 for r in rs)
            out["%s-%d-%s" % (mode, rate, d)] = {
                "runs": len(rs),
                "failed": sum(1 for r in rs if r["rc"] != 0),
                "lost_peer_to_guest": tot("peer_to_guest", "lost"),
                "duplicated_peer_to_guest": tot("peer_to_guest", "duplicated"),
                "lost_guest_to_peer": tot("guest_to_peer", "lost"),
                "duplicated_guest_to_peer": tot("guest_to_peer", "duplicated"),
                "max_tcp_stall_ms": max(((r["tcp"] or {}).get("max_stall_ms") or 0) for r in rs),
                "tcp_retrans": tot("tcp", "retrans"),
                "wall_ms_median": statistics.median(r["wall_ms"] for r in rs),
            }
            g = out["%s-%d-%s" % (mode, rate, d)]
            for k in ("downtime_ms", "pause_ms", "detach_ms", "hold_ms", "attach_ms"):
                v = [r[k] for r in rs if r.get(k) is not None]
                if v:
                    g[k + "_median"] = statistics.median(v)
            # how much longer TCP stalled than QEMU's downtime
            v = [(r["tcp"] or {}).get("max_stall_ms", 0) - r["downtime_ms"] for r in rs
                 if r.get("downtime_ms") is not None and r["tcp"]]
            if v:
                g["max_tcp_stall_over_downtime_ms"] = round(max(v), 1)
            # libvirt keeps no completed statistics of most post-copy
            # migrations: the pause the two vfods saw, which every mode has
            v = [(r["tcp"] or {}).get("max_stall_ms", 0) - r["pause_ms"] for r in rs
                 if r.get("pause_ms") is not None and r["tcp"]]
            if v:
                g["max_tcp_stall_over_pause_ms"] = round(max(v), 1)
                g["tcp_stall_within_pause_100ms"] = sum(1 for x in v if x <= 100)
            # what is left of the stall without the hold (frames waiting on
            # the destination before the source stopped) and the domain's
            # stop: the guest's own time to answer after it runs again
            # (downtime where libvirt has it, else the pause)
            v = [(r["tcp"] or {}).get("max_stall_ms", 0) - r["downtime_ms"] - (r.get("hold_ms") or 0) for r in rs
                 if r.get("downtime_ms") is not None and r["tcp"] and r["mode"] != "postcopy"]
            v += [(r["tcp"] or {}).get("max_stall_ms", 0) - r["pause_ms"] - (r.get("hold_ms") or 0) for r in rs
                  if r["mode"] == "postcopy" and r.get("pause_ms") is not None and r["tcp"]]
            if v:
                g["tcp_stall_beyond_stop_and_hold_ms"] = [round(min(v), 1), round(max(v), 1)]
for rate in sorted({r["rate"] for r in runs}):
    for d in ("ab", "ba"):
        p = out.get("plain-%d-%s" % (rate, d))
        for mode in ("managed", "postcopy"):
            m = out.get("%s-%d-%s" % (mode, rate, d))
            if p and m:
                m["overhead_ms_median"] = m["wall_ms_median"] - p["wall_ms_median"]
print("MIGRATE-TWOHOST-SUMMARY " + json.dumps(out))
PY
lab_check "every migration succeeded" test "$fails" = 0
