#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfod's D-Bus latency while a guest floods it: vfod
# (tests/integration/vfod-fakevirt, the fake libvirt) with one domain whose
# agent is tests/integration/hostile-agent (the setup of
# tests/integration/test-hostile-agent.sh: tests/integration/lib-hostile.sh).
# Per run (a fresh vfod): Properties.GetAll latency on the Domain and VF
# objects (tests/bench/vfo-busbench, one call at a time) with a cooperative
# agent connected ("idle"), then while the agent sends PathChanged events at
# --rate frames/s ("flood"); vfod's CPU use over the calls and over 3 s
# without calls in each state; the rate the agent achieved and whether vfod
# kept the session. Prints one JSON line per run and the medians, and writes
# them with the machine's facts to FILE.
#   hostile-agent.sh [--runs N] [--calls N] [--rate N] [--output FILE]
#                                                       (as root; runs 3)
# A benchmark: it fails only when something does not work (vfod does not
# start or stops answering), never because of a figure. Exit 77 if not root.
set -euo pipefail

runs=${BENCH_RUNS:-3}
calls=2000
rate=10000
out=
while [ $# -gt 0 ]; do
        case $1 in
        --runs) runs=$2; shift ;;
        --calls) calls=$2; shift ;;
        --rate) rate=$2; shift ;;
        --output) out=$2; shift ;;
        -h|--help) sed -n '3,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "hostile-agent.sh: unknown option '$1'" >&2; exit 2 ;;
        esac
        shift
done

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespace, taps, org.vfo1)"; exit 77; }
die() { echo "hostile-agent bench: $*" >&2; exit 1; }

dir=$(mktemp -d /tmp/vfo-hostile-bench.XXXXXX)
chmod 755 "$dir"
. "${VFO_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib-hostile.sh"
trap hostile_cleanup EXIT
r=0
hostile_setup || r=$?
[ "$r" = 0 ] || exit "$r"

facts=$dir/facts
{
        echo "kernel=$(uname -r)"
        echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
        echo "nproc=$(nproc)"
        echo "libsystemd=$(pkg-config --modversion libsystemd 2>/dev/null || echo unknown)"
        echo "dbus=$(dbus-daemon --version | head -n 1)"
        echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
        echo "cflags=$(sed -n 's/^CFLAGS = //p; s/^SANITIZER_CFLAGS = \(..*\)/\1/p' "$top_builddir/Makefile" | tr '\n' ' ' | sed 's/ *$//')"
        echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
        echo "git=$(git -C "$top_srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >"$facts"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# vfod's CPU time in ms and its context switches (wake-ups): from
# /proc/PID/sched (µs precision) where the kernel has it, else the ticks of
# /proc/PID/stat (and no switches)
cpu_sample() {
        if [ -r "/proc/$vfod_pid/sched" ] && grep -q sum_exec_runtime "/proc/$vfod_pid/sched"; then
                awk '/^se.sum_exec_runtime/ { ms = $3 } /^nr_switches/ { n = $3 } END { print ms, n }' "/proc/$vfod_pid/sched"
        else
                awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz, 0 }' "/proc/$vfod_pid/stat"
        fi
}
# cpu_between "MS0 N0" "MS1 N1" WALL_MS: percent of one CPU, and wake-ups per second
cpu_between() { echo "$1 $2 $3" | awk '{ printf "%.2f %.0f\n", ($3 - $1) * 100 / $5, ($4 - $2) * 1000 / $5 }'; }

# measure NAME: busbench, and vfod's CPU over it
measure() {
        local t0 c0 c1
        t0=$(now_ms)
        c0=$(cpu_sample)
        "$BUSBENCH" --calls "$calls" >"$dir/$1.out" || die "vfo-busbench failed ($1)"
        c1=$(cpu_sample)
        cpu_between "$c0" "$c1" $(($(now_ms) - t0 + 1)) >"$dir/$1.cpu"
}

# quiet_cpu NAME: vfod's CPU and wake-ups over 3 s without any D-Bus call
quiet_cpu() {
        local t0 c0 c1
        t0=$(now_ms)
        c0=$(cpu_sample)
        sleep 3
        c1=$(cpu_sample)
        cpu_between "$c0" "$c1" $(($(now_ms) - t0)) >"$dir/$1.quiet"
}

results=$dir/results.jsonl
: >"$results"
for run in $(seq "$runs"); do
        start_vfod || die "vfod-fakevirt does not start"
        start_agent good || die "the cooperative agent's session does not come up"
        wait_prop /org/vfo1/pool/lab org.vfo1.Pool Free "u 0" 10 >/dev/null || die "the VF was not attached"
        quiet_cpu idle
        measure idle
        stop_agent >/dev/null
        : >"$dir/agent-flood.out"
        start_agent flood --rate "$rate" || die "the flooding agent's session does not come up"
        sleep 1
        quiet_cpu flood
        measure flood
        kept=$(prop "$domain_path" org.vfo1.Domain AgentConnected)
        stop_agent >/dev/null
        vfod_alive || die "vfod died under the flood"
        RUN=$run KEPT=$kept RATE=$(agent_count flood_rate) SECS=$(agent_count flood_seconds) \
                DROPPED=$(agent_count rate_limited) CPU_IDLE=$(cat "$dir/idle.cpu") CPU_FLOOD=$(cat "$dir/flood.cpu") \
                QUIET_IDLE=$(cat "$dir/idle.quiet") QUIET_FLOOD=$(cat "$dir/flood.quiet") \
                python3 - "$dir/idle.out" "$dir/flood.out" >>"$results" <<'EOF'
import json, os, sys
e = os.environ
def bb(path):
    return {o["what"]: {k: v for k, v in o.items() if k != "what"} for o in map(json.loads, open(path))}
print(json.dumps({"run": int(e["RUN"]), "idle": bb(sys.argv[1]), "flood": bb(sys.argv[2]),
                  "flood_rate": float(e["RATE"]), "flood_seconds": float(e["SECS"]),
                  "rate_limited_errors": int(e["DROPPED"]), "session_kept": e["KEPT"] == "b true",
                  "vfod_cpu_pct_idle": float(e["CPU_IDLE"].split()[0]),
                  "vfod_cpu_pct_flood": float(e["CPU_FLOOD"].split()[0]),
                  "vfod_cpu_pct_idle_no_calls": float(e["QUIET_IDLE"].split()[0]),
                  "vfod_cpu_pct_flood_no_calls": float(e["QUIET_FLOOD"].split()[0]),
                  "vfod_wakeups_per_s_idle_no_calls": int(e["QUIET_IDLE"].split()[1]),
                  "vfod_wakeups_per_s_flood_no_calls": int(e["QUIET_FLOOD"].split()[1])}))
EOF
        tail -n 1 "$results"
        stop_vfod
done
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$facts"

python3 - "$facts" "$results" "${out:-}" "$calls" "$rate" <<'EOF'
import json, statistics, sys
facts_path, results_path, out, calls, rate = sys.argv[1:]
facts = dict(l.rstrip("\n").split("=", 1) for l in open(facts_path) if "=" in l)
facts["nproc"] = int(facts["nproc"])
rows = [json.loads(l) for l in open(results_path) if l.strip()]
def med(values):
    return round(statistics.median(values), 3) if values else None
summary = {}
for phase in ("idle", "flood"):
    for what in ("GetAll org.vfo1.Domain", "GetAll org.vfo1.VF"):
        for k in ("p50_ms", "p99_ms", "max_ms"):
            summary.setdefault(phase, {}).setdefault(what, {})[k] = med([r[phase][what][k] for r in rows])
    summary[phase]["vfod_cpu_pct"] = med([r["vfod_cpu_pct_" + phase] for r in rows])
    summary[phase]["vfod_cpu_pct_no_calls"] = med([r["vfod_cpu_pct_%s_no_calls" % phase] for r in rows])
    summary[phase]["vfod_wakeups_per_s_no_calls"] = med([r["vfod_wakeups_per_s_%s_no_calls" % phase] for r in rows])
summary["flood_rate"] = med([r["flood_rate"] for r in rows])
summary["session_kept"] = all(r["session_kept"] for r in rows)
doc = {
    "what": "vfod's D-Bus latency idle and while the guest agent floods it with PathChanged events "
            "(tests/bench/hostile-agent.sh)",
    "machine": dict(facts, runs=len(rows)),
    "setup": {"calls_per_kind": int(calls), "flood_target_per_s": int(rate),
              "vfod": "tests/integration/vfod-fakevirt (tests/fakes/fake-libvirt.c), one domain, one emulated VF attached",
              "bus": "private dbus-daemon (tests/lab/dbus-system.conf.in + contrib/dbus/org.vfo1.conf)",
              "notes": "GetAll one call at a time (tests/bench/vfo-busbench); idle: a cooperative agent connected; "
                       "flood: tests/integration/hostile-agent --mode flood, from 1 s after its session began: 3 s without "
                       "calls, then the calls; vfod_cpu_pct: vfod's user+system time over the calls, "
                       "vfod_cpu_pct_no_calls: over the 3 s before them, percent of one CPU (/proc/PID/sched); "
                       "vfod_wakeups_per_s_no_calls: vfod's context switches over those 3 s; "
                       "vfod accepts 200 frames/s and 20 events per 10 s of a guest and drops the rest"},
    "runs": rows,
    "median": summary,
}
if out:
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
d, v = summary["idle"]["GetAll org.vfo1.Domain"], summary["flood"]["GetAll org.vfo1.Domain"]
print(json.dumps({"what": "hostile-agent", "runs": len(rows), "idle_p50_ms": d["p50_ms"], "idle_p99_ms": d["p99_ms"],
                  "flood_p50_ms": v["p50_ms"], "flood_p99_ms": v["p99_ms"], "flood_rate": summary["flood_rate"],
                  "vfod_cpu_pct_idle": summary["idle"]["vfod_cpu_pct"],
                  "vfod_cpu_pct_flood": summary["flood"]["vfod_cpu_pct"],
                  "vfod_cpu_pct_idle_no_calls": summary["idle"]["vfod_cpu_pct_no_calls"],
                  "vfod_cpu_pct_flood_no_calls": summary["flood"]["vfod_cpu_pct_no_calls"],
                  "vfod_wakeups_per_s_idle_no_calls": summary["idle"]["vfod_wakeups_per_s_no_calls"],
                  "vfod_wakeups_per_s_flood_no_calls": summary["flood"]["vfod_wakeups_per_s_no_calls"]}))
EOF
