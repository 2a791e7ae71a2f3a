#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfo-agent's figures: runs the agent-switch lab scenarios (net_failover and
# bonding) with VFO_LAB_RUNS moves each way, to the guest's address and to the
# broadcast address (VFO_LAB_BROADCAST=1), then prints and writes, per
# datapath, direction and traffic: loss, duplicates, the guest's switch latency
# (request received -> transmitting on the new path, from PathChanged) and
# the host's SteeringMoved -> PathChanged round trip, p50/p99/max. Then the
# agent's footprint (lab scenario agent-footprint): RSS and idle wake-ups per
# minute, with no host on the channel and with an idle host session.
#   agent-switch.sh [--runs N] [--output FILE]      (as root; N default 5)
set -uo pipefail

runs=5
out=
while [ $# -gt 0 ]; do
        case $1 in
        --runs) runs=$2; shift ;;
        --output) out=$2; shift ;;
        -h|--help) sed -n '3,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "agent-switch.sh: unknown option '$1'" >&2; exit 2 ;;
        esac
        shift
done

here=$(cd "$(dirname "$0")" && pwd)
lab=${VFO_LAB_SRCDIR:-$here/../lab}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

rc=0
VFO_LAB_RUNS=$runs VFO_LAB_BROADCAST=1 VFO_LAB_MAX_LOST=${VFO_LAB_MAX_LOST:-1000} \
        bash "$lab/run-lab.sh" agent-switch agent-switch-bond agent-footprint 2>&1 | tee "$log" | grep -E '^(=== lab|PASS|FAIL|agent-switch)' || rc=$?

python3 - "$log" "$runs" "${out:-}" <<'PY'
import json, re, sys, datetime, platform, os
log, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
scenario = None
rows = {}
footprint = {}
for line in open(log, errors="replace"):
    m = re.match(r"FOOTPRINT (\S+): (\{.*\})", line)
    if m:
        footprint[m.group(1)] = json.loads(m.group(2))
        continue
    m = re.match(r"=== lab: (\S+)", line)
    if m:
        scenario = {"agent-switch": "net_failover", "agent-switch-bond": "bonding"}.get(m.group(1), m.group(1))
        continue
    m = re.match(r"(SWITCH|LOSS) (attach|detach) (\d+)(\.b)?: (\{.*\})", line)
    if not m or scenario is None:
        continue
    kind, op, run, broadcast, js = m.groups()
    if broadcast:
        op += "-broadcast"
    r = rows.setdefault((scenario, op, run), {})
    r[kind] = json.loads(js)

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))] if v else None

summary = {}
for (dp, op, run), r in sorted(rows.items()):
    s = summary.setdefault(f"{dp}/{op}", {"lost": [], "duplicated": [], "guest_switch_ms": [], "host_round_trip_ms": []})
    if "LOSS" in r:
        s["lost"].append(r["LOSS"]["lost"]); s["duplicated"].append(r["LOSS"]["duplicated"])
    if "SWITCH" in r:
        w = r["SWITCH"]
        s["guest_switch_ms"].append(w["guest_switch_us"] / 1000.0)
        s["host_round_trip_ms"].append(round(w["switched_ms"] - w["steered_ms"], 1))

print(f"{'datapath/op':32} {'moves':>5} {'lost':>10} {'dup':>5} {'guest switch ms p50/p99/max':>30} {'host SteeringMoved->PathChanged ms p50/p99':>44}")
for k, s in summary.items():
    g, h = s["guest_switch_ms"], s["host_round_trip_ms"]
    print(f"{k:32} {len(s['lost']):>5} {sum(s['lost']):>10} {sum(s['duplicated']):>5} "
          f"{pct(g,50):>10.1f}/{pct(g,99):.1f}/{max(g):.1f}".ljust(88) if g else k,
          f"{pct(h,50):>10.1f}/{pct(h,99):.1f}" if h else "")
for phase, f in footprint.items():
    print(f"agent footprint, {phase:8}: RSS {f['rss_kib']} KiB (peak {f['hwm_kib']} KiB), "
          f"{f['wakeups_per_min']:.1f} wake-ups/min over {f['seconds']:.0f} s")
if out:
    doc = {"date": datetime.datetime.utcnow().isoformat() + "Z", "runs": runs,
           "machine": {"kernel": platform.release(), "nproc": os.cpu_count(), "accelerator": "tcg"},
           "note": "detach switch latency includes the 150 ms drain (steering moved -> transmit moves)",
           "summary": summary, "footprint": footprint}
    json.dump(doc, open(out, "w"), indent=1)
    print(f"wrote {out}")
PY
exit $rc
