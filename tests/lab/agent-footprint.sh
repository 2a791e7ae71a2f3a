#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfo-agent's footprint in a real guest: its memory (VmRSS, VmHWM) and how
# often it wakes up while idle, first with no host on the channel (the agent
# reopens the port every 500 ms), then with a host session open that sends
# nothing (vfo-labhost hold). The guest's init prints the agent's
# /proc/PID/status every VFO_LAB_FOOTPRINT_S seconds (default 10,
# vfo.footprint=); wake-ups per minute come from the voluntary context
# switches over VFO_LAB_FOOTPRINT_SPANS periods (default 3) of each phase,
# from its second sample on (the first may cover the phase's start; the agent
# is single-threaded: one voluntary switch per time it slept). Prints one "FOOTPRINT PHASE:" JSON
# line per phase; checks only that the figures were taken (no target: a
# benchmark, run by make bench-agent). Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
PERIOD=${VFO_LAB_FOOTPRINT_S:-10}
SPANS=${VFO_LAB_FOOTPRINT_SPANS:-3}    # periods measured per phase
export VFO_LAB_CMDLINE="vfo.footprint=$PERIOD${VFO_LAB_CMDLINE:+ $VFO_LAB_CMDLINE}"
# shellcheck source=tests/lab/lib.sh
. "${VFO_LAB_SRCDIR:-$(dirname "$0")}/lib.sh"

LABHOST=${VFO_LAB_LABHOST:-$LAB_BUILDDIR/vfo-labhost}

lab_requirements
[ -x "$LABHOST" ] || lab_skip "vfo-labhost not built ($LABHOST)"
[ -f "$LAB_TOP_BUILDDIR/agent/guest/vfo-agent" ] || lab_skip "vfo-agent not built"
lab_init
lab_libvirtd_start a
lab_vm_start a vm1 1
lab_require "guest boots to VFO-GUEST-READY" lab_vm_ready vm1 120
lab_require "guest runs vfo-agent" lab_wait_console vm1 'vfo-agent pid' 5

chan=$(lab_vm_channel vm1)
console=$(lab_vm_console vm1)
lab_require "agent answers on org.vfo.agent.0" "$LABHOST" --socket "$chan" --timeout 20 inventory

samples() { grep -ac '^VFO-GUEST: agent-footprint ' "$console" || true; }
# wait_samples N: until the console has N samples.
has_samples() { [ "$(samples)" -ge "$1" ]; }
wait_samples() { lab_wait $((PERIOD * ($1 - $(samples)) + 20)) "$1 footprint samples" has_samples "$1"; }

# phase NAME FIRST: the figures from sample FIRST (1-based) to SPANS later.
phase() {
        grep -a '^VFO-GUEST: agent-footprint ' "$console" | sed -n "$2p;$(($2 + SPANS))p" |
                sed -e 's/^VFO-GUEST: agent-footprint //' -e 's/[a-z_]*=//g' |
                awk -v name="$1" 'NR == 1 { up = $1; vol = $4 }
                        NR == 2 { printf "FOOTPRINT %s: {\"rss_kib\":%d,\"hwm_kib\":%d,\"wakeups_per_min\":%.1f,\"seconds\":%.1f}\n",
                                          name, $2, $3, ($4 - vol) * 60 / ($1 - up), $1 - up }'
}
figures_ok() {
        local j
        j=$(grep "^FOOTPRINT $1:" "$LAB_STATE/footprint.txt")
        echo "$j"
        [ "$(lab_json_num "$j" rss_kib)" -gt 0 ] && [ "$(lab_json_num "$j" hwm_kib)" -gt 0 ]
}

# No host: the inventory's session has ended.
n=$(samples)
lab_require "samples with no host on the channel" wait_samples $((n + SPANS + 2))
phase no-host $((n + 2)) >>"$LAB_STATE/footprint.txt"
lab_check "figures with no host" figures_ok no-host

# A host session that sends nothing, held longer than the samples take.
sessions=$(grep -ac 'Host session started' "$console" || true)
"$LABHOST" --socket "$chan" --timeout $((PERIOD * (SPANS + 3) + 20)) hold >"$LAB_STATE/hold.log" 2>&1 &
holder=$!
lab_pid_record "$holder"
session_started() { [ "$(grep -ac 'Host session started' "$console" || true)" -gt "$sessions" ]; }
lab_require "host session opened" lab_wait 20 "a new host session" session_started
n=$(samples)
lab_require "samples with a host connected" wait_samples $((n + SPANS + 2))
lab_check "the host session lasted through them" kill -0 "$holder"
phase host $((n + 2)) >>"$LAB_STATE/footprint.txt"
lab_check "figures with a host" figures_ok host
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

lab_finish
