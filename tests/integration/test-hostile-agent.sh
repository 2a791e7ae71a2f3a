#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfod's guest boundary against a scripted hostile guest agent
# (tests/integration/hostile-agent), with real attach and detach jobs run to
# completion: vfod is tests/integration/vfod-fakevirt (vfod with the fake
# libvirt of tests/fakes/fake-libvirt.c: the domain is an XML file, an
# attached NIC gets a pre-made tap, an unplug completes 50 ms later), in a
# network namespace with the pool's bridge and the domain's taps (steering
# is real bridge FDB entries), on a private system bus, driven with vfoctl.
#
#   good    the scheduler gives the waiting port the VF as soon as the agent
#           answers; vfoctl detach, attach, detach all end done, no fallback;
#           the VF's tap holds the port's MAC while attached; with the
#           domain's libvirt calls wedged, a detach fails after
#           LibvirtTimeoutSec, rolls back, and vfod answers meanwhile
#   refuse  a user detach ends done by an abrupt unplug (AbruptFallback=
#           default) that says so, and the VF is free; with
#           AbruptFallback=none (Reload) it fails with AgentRefused and the
#           VF stays
#   ignore  the detach goes on abruptly after AgentTimeoutSec (1 s)
#   esc     the agent's ESC sequences and newline reach neither vfod's log,
#           nor the job (Fallback, ErrorMessage), nor vfoctl's output
#   flap    for 10 s: vfod's log lines about the agent and PropertiesChanged
#           on the domain stay bounded, and Syncs back off
#   flood   PathChanged events at (up to) 10,000/s: vfod stays up, keeps the
#           session and answers D-Bus; the latency idle and under the flood
#           is printed (make bench-hostile measures it)
# Needs root (namespaces, taps, the bus name); exit 77 otherwise.
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespace, taps, org.vfo1)"

dir=$(mktemp -d /tmp/vfo-hostile.XXXXXX)
chmod 755 "$dir"
. "${VFO_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib-hostile.sh"
trap hostile_cleanup EXIT
r=0
hostile_setup || r=$?
[ "$r" = 0 ] || exit "$r"

failed=0
check() {
        local name=$1
        shift
        if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; failed=$((failed + 1)); fi
}

# pick_job FILE WHICH: the job WHICH (an id, "max", or "result": the result
# line of vfoctl --json attach/detach) of vfoctl's JSON in FILE, to $dir/job.json
pick_job() {
        python3 - "$1" "$2" "$dir/job.json" <<'EOF'
import json, sys
jobs = []
def walk(o):
    if isinstance(o, list):
        for x in o:
            walk(x)
    elif isinstance(o, dict):
        if "state" in o and "id" in o:
            jobs.append(o)
        for x in o.values():
            if isinstance(x, (list, dict)):
                walk(x)
for line in open(sys.argv[1]):
    try:
        walk(json.loads(line))
    except ValueError:
        pass
which, found = sys.argv[2], {}
if which == "result":
    found = ([j for j in jobs if j.get("event") == "result"] or [{}])[-1]
elif which == "max":
    found = max(jobs, key=lambda j: j["id"]) if jobs else {}
else:
    found = ([j for j in jobs if j["id"] == int(which)] or [{}])[0]
json.dump(found, open(sys.argv[3], "w"))
EOF
}

# job VERB [--human]: vfoctl [--json] VERB DOMAIN, which waits for the job;
# job_rc is its exit code, the job (vfoctl's JSON) in $dir/job.json.
# Everything vfoctl printed is kept in $dir/vfoctl.all.
job() {
        job_rc=0
        if [ "${2:-}" = --human ]; then
                "$VFOCTL" "$1" "$DOMAIN" >"$dir/job.out" 2>&1 || job_rc=$?
                "$VFOCTL" --json jobs >"$dir/job.json.raw" 2>>"$dir/job.out" || true
                pick_job "$dir/job.json.raw" max
        else
                "$VFOCTL" --json "$1" "$DOMAIN" >"$dir/job.json.raw" 2>"$dir/job.out" || job_rc=$?
                pick_job "$dir/job.json.raw" result
        fi
        cat "$dir/job.out" "$dir/job.json.raw" >>"$dir/vfoctl.all"
        sed 's/^/    vfoctl: /' "$dir/job.out"
        echo "    job $(jf id) $(jf kind) ($(jf reason)): $(jf state) in $(($(jf duration_usec | sed 's/^$/0/') / 1000)) ms (exit $job_rc); error '$(jf error)'; fallback '$(jf fallback)'"
}
jf() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$dir/job.json" "$1"; }

is() { [ "$1" = "$2" ] || { echo "    '$1', expected '$2'"; return 1; }; }
has() { case $1 in *"$2"*) return 0 ;; esac; echo "    '$1' lacks '$2'"; return 1; }
free_vfs() { prop /org/vfo1/pool/lab org.vfo1.Pool Free; }
vf_in_xml() { grep -q "ua-vfo-vf-lab-0" "$dir/domains/$DOMAIN.xml"; }
# (grep -q would end the pipe early: bridge then fails with EPIPE under pipefail)
fdb_pinned() { ip netns exec "$ns" bridge fdb show dev "$1" | grep -i "$MAC.*static" >/dev/null; }
no_esc() { ! grep -q $'\x1b' "$@"; }
export -f fdb_pinned vf_in_xml
export ns MAC dir DOMAIN

job_done_plain() {
        is "$job_rc" 0 && is "$(jf state)" done && is "$(jf fallback)" ""
}

# ------------------------------------------------------------------ good
start_agent good
check "vfod-fakevirt starts, connects to the fake libvirt" start_vfod
check "the good agent's session is up" wait_prop "$domain_path" org.vfo1.Domain AgentConnected "b true" 10
check "the scheduler gives the waiting port the VF (Pool Free 0)" wait_prop /org/vfo1/pool/lab org.vfo1.Pool Free "u 0" 10
wait_prop /org/vfo1/job/1 org.vfo1.Job State 's "done"' 10 >/dev/null || true
"$VFOCTL" --json jobs >"$dir/jobs.json"
pick_job "$dir/jobs.json" 1
check "that job (1) ends done, reason scheduler, no fallback" \
        bash -c "[ '$(jf reason)' = scheduler ] && [ '$(jf state)' = done ] && [ -z '$(jf fallback)' ]"
vf_target() {
        python3 -c '
import sys, xml.etree.ElementTree as ET
for i in ET.parse(sys.argv[1]).getroot().iter("interface"):
    a, t = i.find("alias"), i.find("target")
    if a is not None and a.get("name") == "ua-vfo-vf-lab-0":
        print(t.get("dev") if t is not None else "")' "$dir/domains/$DOMAIN.xml"
}
check "the VF is in the domain's live XML, on a tap of its own" is "$(vf_target)" fvf0
check "steering: the port's MAC is pinned to the VF's tap" fdb_pinned fvf0
job detach
check "good: vfoctl detach ends done, no fallback" job_done_plain
check "good: the VF is free again (Pool Free 1)" is "$(free_vfs)" "u 1"
check "good: the VF left the live XML" bash -c "! grep -q ua-vfo-vf-lab-0 '$dir/domains/$DOMAIN.xml'"
check "good: the MAC is no longer pinned to the VF's tap" bash -c "! fdb_pinned fvf0"
job attach
check "good: vfoctl attach ends done, no fallback" job_done_plain
check "good: the VF is taken (Pool Free 0)" is "$(free_vfs)" "u 0"
check "good: pinned to the VF's tap again" fdb_pinned fvf0
job detach
check "good: vfoctl detach again: done, no fallback" job_done_plain
job attach
check "good: and attach again: done" job_done_plain

# the domain's QEMU stops answering (the fake libvirt's 'wedged' file): the
# unplug request waits off the loop until LibvirtTimeoutSec (2 s), the job
# fails and rolls back onto the VF; vfod answers D-Bus meanwhile
echo "$DOMAIN_UUID" >"$dir/domains/wedged"
"$VFOCTL" --json detach "$DOMAIN" >"$dir/job.json.raw" 2>"$dir/job.out" &
wedge_pid=$!
sleep 0.3
t0=$(date +%s%N)
for _ in 1 2 3 4 5 6 7 8 9 10; do busctl get-property org.vfo1 /org/vfo1 org.vfo1.Manager Version >/dev/null; done
calls_ms=$((($(date +%s%N) - t0) / 1000000))
wedge_running=$(kill -0 $wedge_pid 2>/dev/null && echo yes || echo no)
job_rc=0
wait $wedge_pid || job_rc=$?
pick_job "$dir/job.json.raw" result
echo "    wedged: 10 D-Bus calls in $calls_ms ms while the job waited on libvirt; job $(jf id): $(jf state) in $(($(jf duration_usec | sed 's/^$/0/') / 1000)) ms, error '$(jf error)'"
check "wedged: vfod answers D-Bus while a libvirt call hangs" is "$wedge_running" yes
check "wedged: the detach fails with org.vfo1.Error.Libvirt" \
        bash -c "[ $job_rc != 0 ] && [ '$(jf state)' = failed ] && [ '$(jf error)' = org.vfo1.Error.Libvirt ]"
check "wedged: after LibvirtTimeoutSec (2 s), not much more" \
        bash -c "[ $(jf duration_usec | sed 's/^$/0/') -ge 2000000 ] && [ $(jf duration_usec | sed 's/^$/0/') -lt 5000000 ]"
check "wedged: rolled back onto the VF (attached, pinned to its tap)" \
        bash -c "[ \"\$(busctl get-property org.vfo1 /org/vfo1/vf/lab_2d0 org.vfo1.VF State)\" = 's \"attached\"' ] && fdb_pinned fvf0"
rm -f "$dir/domains/wedged"
job detach
check "wedged, then answering again: the detach ends done" job_done_plain
job attach
check "wedged, then answering again: attach: done" job_done_plain
stop_agent
check "good: the agent was asked and said DetachReady four times" is "$(agent_count detach_ready)" 4

# ---------------------------------------------------------------- refuse
start_agent refuse
job detach
check "refuse: the detach ends done" bash -c "[ $job_rc = 0 ] && [ '$(jf state)' = done ]"
check "refuse: its Fallback says abrupt unplug and why" has "$(jf fallback)" "abrupt unplug: the agent refused: The guest keeps its VF: detach refused"
check "refuse: the VF is free (Pool Free 1)" is "$(free_vfs)" "u 1"
check "refuse: the VF left the live XML" bash -c "! grep -q ua-vfo-vf-lab-0 '$dir/domains/$DOMAIN.xml'"
job attach
check "refuse: an attach still works with it (the agent only refuses detaches)" job_done_plain
write_conf none
check "AbruptFallback=none: vfoctl reload" "$VFOCTL" reload
job detach
check "refuse + AbruptFallback=none: the detach fails" bash -c "[ $job_rc != 0 ] && [ '$(jf state)' = failed ]"
check "refuse + AbruptFallback=none: with org.vfo1.Error.AgentRefused" is "$(jf error)" org.vfo1.Error.AgentRefused
check "refuse + AbruptFallback=none: no fallback" is "$(jf fallback)" ""
check "refuse + AbruptFallback=none: the VF stays (Pool Free 0, VF attached)" \
        bash -c "[ \"\$(busctl get-property org.vfo1 /org/vfo1/pool/lab org.vfo1.Pool Free)\" = 'u 0' ] && [ \"\$(busctl get-property org.vfo1 /org/vfo1/vf/lab_2d0 org.vfo1.VF State)\" = 's \"attached\"' ]"
check "refuse + AbruptFallback=none: still in the XML, still pinned to its tap" bash -c "vf_in_xml && fdb_pinned fvf0"
write_conf ""
"$VFOCTL" reload
stop_agent
check "refuse: the agent refused twice" is "$(agent_count refused)" 2

# ---------------------------------------------------------------- ignore
start_agent ignore
job detach
check "ignore: the detach ends done" bash -c "[ $job_rc = 0 ] && [ '$(jf state)' = done ]"
check "ignore: by the fallback, after the agent timeout" has "$(jf fallback)" "abrupt unplug: the agent did not answer in time"
check "ignore: it took AgentTimeoutSec (1 s) and not much more" \
        bash -c "[ $(jf duration_usec) -ge 1000000 ] && [ $(jf duration_usec) -lt 4000000 ]"
check "ignore: the VF is free (Pool Free 1)" is "$(free_vfs)" "u 1"
job attach
check "ignore: attach works" job_done_plain
stop_agent
check "ignore: the agent got PrepareDetach once and kept quiet" is "$(agent_count ignored)" 1

# ------------------------------------------------------------------- esc
start_agent esc
job detach --human
check "esc: the detach ends done" bash -c "[ $job_rc = 0 ] && [ '$(jf state)' = done ]"
check "esc: the unprintable Error ends the session; the detach goes on without the agent" \
        has "$(jf fallback)" "abrupt unplug: the agent connection was lost"
check "esc: the VF is free (Pool Free 1)" is "$(free_vfs)" "u 1"
check "esc: vfod logged the protocol error" grep -q "$DOMAIN: protocol error from the agent" "$dir/vfod.log"
# the session comes back (the agent answers Sync); with AbruptFallback=none the job fails
check "esc: the agent's session comes back" wait_prop "$domain_path" org.vfo1.Domain AgentConnected "b true" 10
job attach
check "esc: attach works" job_done_plain
write_conf none
"$VFOCTL" reload
job detach --human
check "esc + AbruptFallback=none: the detach fails, the VF stays" \
        bash -c "[ $job_rc != 0 ] && [ '$(jf state)' = failed ] && [ \"\$(busctl get-property org.vfo1 /org/vfo1/pool/lab org.vfo1.Pool Free)\" = 'u 0' ]"
busctl get-property org.vfo1 "$(jf object)" org.vfo1.Job ErrorMessage >"$dir/esc-errormessage"
busctl get-property org.vfo1 "$(jf object)" org.vfo1.Job Fallback >>"$dir/esc-errormessage"
sed 's/^/    ErrorMessage, Fallback: /' "$dir/esc-errormessage"
check "esc: no ESC in the job's ErrorMessage and Fallback" no_esc "$dir/esc-errormessage"
check "esc: the forged log line is nowhere in the job" bash -c "! grep -q 'Job 1: detach done' '$dir/esc-errormessage'"
"$VFOCTL" status >>"$dir/vfoctl.all" 2>&1 || true
"$VFOCTL" jobs >>"$dir/vfoctl.all" 2>&1 || true
write_conf ""
"$VFOCTL" reload
wait_prop "$domain_path" org.vfo1.Domain AgentConnected "b true" 10 >/dev/null || true
job detach
check "esc: a detach with the default AbruptFallback= frees the VF again" bash -c "[ $job_rc = 0 ] && [ \"\$(busctl get-property org.vfo1 /org/vfo1/pool/lab org.vfo1.Pool Free)\" = 'u 1' ]"
wait_prop "$domain_path" org.vfo1.Domain AgentConnected "b true" 10 >/dev/null || true
job attach
check "esc: attach again (the VF stays for what follows)" job_done_plain
stop_agent
check "esc: the agent sent its ESC message (3 times)" is "$(agent_count escaped)" 3
check "esc: no ESC byte in vfod's log" no_esc "$dir/vfod.log"
check "esc: no ESC byte in anything vfoctl printed" no_esc "$dir/vfoctl.all"
check "esc: the forged log line is not in vfod's log" bash -c "! grep -q 'vfod\[1\]: Job 1: detach done' '$dir/vfod.log'"

# ------------------------------------------------------------------ flap
# monitor_start / monitor_stop: PropertiesChanged signals on the domain object
monitor_start() {
        dbus-monitor --address "$DBUS_SYSTEM_BUS_ADDRESS" \
                "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='$domain_path'" \
                >"$dir/monitor-$1.out" 2>&1 &
        monitor_pid=$!
        hostile_pids+=("$monitor_pid")
        sleep 0.5
}
monitor_stop() {
        kill "$monitor_pid" 2>/dev/null || true
        wait "$monitor_pid" 2>/dev/null || true
        grep -c "^signal .*member=PropertiesChanged" "$dir/monitor-$1.out" || true
}
# log_lines_since N: vfod's lines after line N that are about the domain's agent
log_lines_since() { tail -n +"$(($1 + 1))" "$dir/vfod.log" | grep -c "$DOMAIN\|agent" || true; }

# A fresh vfod: the backoff and the log limiter start from nothing (a
# session that broke earlier keeps them raised). It finds the VF in the live
# XML; holding it, the port gives the scheduler nothing to do.
stop_vfod
check "vfod restarts" start_vfod
check "it adopts the plugged VF from the live XML (Pool Free 0)" wait_prop /org/vfo1/pool/lab org.vfo1.Pool Free "u 0" 5
monitor_start flap
log_mark=$(wc -l <"$dir/vfod.log")
start_agent flap
sleep 10
flap_log=$(log_lines_since "$log_mark")
flap_signals=$(monitor_stop flap)
stop_agent
flap_syncs=$(agent_count syncs)
echo "    flap, 10 s: $flap_log log lines about the agent, $flap_signals PropertiesChanged on the domain, $flap_syncs Syncs answered"
tail -n +"$((log_mark + 1))" "$dir/vfod.log" | grep "$DOMAIN\|agent" | sed 's/^/    log: /' | head -n 30
check "flap: vfod is up" vfod_alive
# 10 lines per 10 s per connection, plus the suppressed count: a 10 s
# window can span two of the limiter's windows
check "flap: at most 22 log lines about the agent in 10 s" bash -c "[ $flap_log -le 22 ]"
check "flap: at most 50 PropertiesChanged on the domain in 10 s" bash -c "[ $flap_signals -le 50 ]"
check "flap: Syncs back off (at most 15 in 10 s; 100 ms doubling to 5 s)" bash -c "[ $flap_syncs -ge 2 ] && [ $flap_syncs -le 15 ]"
check "flap: the suppressed lines are counted" bash -c "[ $flap_log -le 10 ] || grep -q 'messages about the agent suppressed' '$dir/vfod.log'"

# ----------------------------------------------------------------- flood
# A fresh vfod again, so that the limiters' windows begin with this case.
stop_vfod
start_vfod
flood_t0=$(date +%s%N)
start_agent good
"$BUSBENCH" --calls 500 >"$dir/bench-idle.out"
stop_agent
monitor_start flood
log_mark=$(wc -l <"$dir/vfod.log")
start_agent flood
sleep 1
flood_bench_rc=0
"$BUSBENCH" --calls 500 >"$dir/bench-flood.out" || flood_bench_rc=$?
check "flood: vfod answers every D-Bus call during the flood" is "$flood_bench_rc" 0
check "flood: vfod keeps the session (frames over the budget are dropped, not fatal)" \
        is "$(prop "$domain_path" org.vfo1.Domain AgentConnected)" "b true"
flood_log=$(log_lines_since "$log_mark")
flood_ms=$((($(date +%s%N) - flood_t0) / 1000000))
flood_signals=$(monitor_stop flood)
stop_agent
flood_rate=$(agent_count flood_rate)
check "flood: vfod tells the agent it drops frames (Error RATE_LIMITED)" bash -c "[ $(agent_count rate_limited) -ge 1 ]"
flood_secs=$(agent_count flood_seconds)
check "flood: vfod is up and answers" bash -c "kill -0 $vfod_pid && busctl get-property org.vfo1 /org/vfo1 org.vfo1.Manager Version >/dev/null"
lat() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["what"] == "GetAll org.vfo1.Domain":
        print("p50 %.3f ms, p99 %.3f ms" % (o["p50_ms"], o["p99_ms"]))' "$1"; }
echo "    flood: the agent sent $flood_rate PathChanged/s (target 10000) for $flood_secs s"
echo "    flood: $flood_log log lines about the agent, $flood_signals PropertiesChanged on the domain"
echo "    D-Bus GetAll org.vfo1.Domain (500 calls): idle $(lat "$dir/bench-idle.out"); under the flood $(lat "$dir/bench-flood.out")"
# agentconn.c: 10 lines per 10 s and the suppressed count; manager.c: a line
# for each event that gets through (20 per 10 s). Twice that if the case took
# more than one window of the limiters.
flood_max=31
[ "$flood_ms" -lt 10000 ] || flood_max=62
check "flood: at most $flood_max log lines about the agent (the case took $flood_ms ms)" bash -c "[ $flood_log -le $flood_max ]"
check "flood: at most 50 PropertiesChanged on the domain" bash -c "[ $flood_signals -le 50 ]"

stop_vfod
check "no ESC byte in vfod's log, all cases" no_esc "$dir/vfod.log"
if [ "$failed" != 0 ]; then
        echo "--- vfod.log (last 150 lines)"
        tail -n 150 "$dir/vfod.log"
fi
echo "test-hostile-agent: $failed failed"
[ "$failed" = 0 ]
