#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Baselines — what users get today, without vfo. Runs the lab scenarios
# tests/lab/baseline-*.sh (each run is its own lab: netns, private libvirtd
# instances, TCG VMs) RUNS times each, round-robin, collects their JSON
# lines and writes a results file with the machine facts and, per scenario
# (and variant), the runs plus min/median/max of lost and max_gap_ms. Prints
# a table. Needs root and the lab's build products (make lab-image and
# tests/lab/vfo-lossmeter; `make bench-baseline` does all of it).
#
#   baseline.sh [--runs N] [--output FILE] [--merge]
#               [--scenarios "abrupt-detach reattach kernel-doc migrate"]
#   --merge  add the new runs to those already in FILE (e.g. to replace a run
#            that failed for reasons outside the scenario); machine facts of
#            the earlier measurement are kept, the merge date is recorded.
#
# Environment: VFO_LAB_SRCDIR / VFO_LAB_BUILDDIR / VFO_TOP_* as for the lab,
# VFO_LAB_RATE (pps, default 1000), VFO_LAB_KVM=1 (KVM instead of TCG).
set -uo pipefail
# What users get today: no vfo-agent in the guest (it would announce and
# change the figures).
export VFO_LAB_CMDLINE="vfo.noagent=1${VFO_LAB_CMDLINE:+ $VFO_LAB_CMDLINE}"

here=$(cd "$(dirname "$0")" && pwd)
export VFO_LAB_SRCDIR=${VFO_LAB_SRCDIR:-$(cd "$here/../lab" && pwd)}
export VFO_LAB_BUILDDIR=${VFO_LAB_BUILDDIR:-$VFO_LAB_SRCDIR}
runs=3
output=$here/results/baseline.json
scenarios="abrupt-detach reattach kernel-doc migrate"
merge=0

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
        case $1 in
        --runs) runs=$2; shift ;;
        --runs=*) runs=${1#*=} ;;
        --output) output=$2; shift ;;
        --output=*) output=${1#*=} ;;
        --scenarios) scenarios=$2; shift ;;
        --scenarios=*) scenarios=${1#*=} ;;
        --merge) merge=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "baseline.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
        esac
        shift
done
case $runs in '' | *[!0-9]* | 0) echo "baseline.sh: --runs must be a positive number" >&2; exit 2 ;; esac

[ "$(id -u)" -eq 0 ] || { echo "baseline.sh: needs root (the lab)" >&2; exit 77; }
PY=$(command -v python3) || { echo "baseline.sh: needs python3" >&2; exit 1; }
for s in $scenarios; do
        [ -f "$VFO_LAB_SRCDIR/baseline-$s.sh" ] || { echo "baseline.sh: no scenario $VFO_LAB_SRCDIR/baseline-$s.sh" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vfo-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
lines=$work/runs.jsonl
: >"$lines"

# ---- machine facts
kpath=$(cat "$VFO_LAB_BUILDDIR/guest/kernel-path" 2>/dev/null || echo unknown)
accel=tcg
[ "${VFO_LAB_KVM:-0}" = 1 ] && accel=kvm
{
        echo "kernel=$(uname -r)"
        echo "kernel_version=$(uname -v)"
        echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
        echo "nproc=$(nproc)"
        echo "memory_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
        echo "qemu=$(/usr/bin/qemu-system-x86_64 --version 2>/dev/null | head -n 1)"
        echo "libvirt=$(libvirtd --version 2>/dev/null | head -n 1)"
        echo "virsh=$(virsh --version 2>/dev/null)"
        echo "guest_kernel=${kpath##*/vmlinuz-}"
        echo "guest_image=busybox initramfs (tests/lab/mkinitramfs.sh), 512 MiB, 1 vCPU, q35, ACPI PCI hotplug"
        echo "accelerator=$accel"
        echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
        echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
        echo "rate_pps=${VFO_LAB_RATE:-1000}"
        echo "runs=$runs"
        echo "git=$(git -C "$VFO_LAB_SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)"
} >"$work/facts"

# ---- runs
failed=0
for r in $(seq "$runs"); do
        for s in $scenarios; do
                log=$work/$s.$r.log
                load=$(cut -d' ' -f1 /proc/loadavg)
                echo "=== baseline $s, run $r/$runs (load $load)" >&2
                start=$SECONDS
                bash "$VFO_LAB_SRCDIR/baseline-$s.sh" >"$work/$s.$r.out" 2>"$log"
                rc=$?
                took=$((SECONDS - start))
                clean=false
                grep -q 'teardown: clean' "$log" && clean=true
                n=0
                while IFS= read -r l; do
                        printf '{"run":%d,"exit":%d,"wall_s":%d,"host_load1_before":%s,"teardown_clean":%s,"result":%s}\n' \
                                "$r" "$rc" "$took" "$load" "$clean" "$l" >>"$lines"
                        n=$((n + 1))
                done < <(grep '^{"scenario"' "$work/$s.$r.out")
                if [ "$n" -eq 0 ]; then
                        # keep the failure in the results: a run without a measurement
                        printf '{"run":%d,"exit":%d,"wall_s":%d,"host_load1_before":%s,"teardown_clean":%s,"result":{"scenario":"%s","variant":"default","ok":false,"meter":null,"timings_ms":{},"notes":"no measurement: %s"}}\n' \
                                "$r" "$rc" "$took" "$load" "$clean" "$s" \
                                "$(grep -m1 -E 'FAIL|ERROR|No such file' "$log" "$work/$s.$r.out" 2>/dev/null | sed 's/.*: //; s/["\\]//g' | cut -c1-200)" >>"$lines"
                fi
                grep '^{"scenario"' "$work/$s.$r.out" >&2
                if [ "$rc" -ne 0 ] || [ "$n" -eq 0 ] || [ "$clean" != true ]; then
                        failed=$((failed + 1))
                        echo "baseline $s run $r: exit $rc, $n result line(s), teardown clean: $clean; log:" >&2
                        tail -n 25 "$log" >&2
                        grep '^FAIL' "$work/$s.$r.out" >&2
                fi
                # nothing of ours may be left, pass or fail
                pid=$(sed -n 's/.*lab vfolab-\([0-9]*\),.*/\1/p' "$log" | head -n 1)
                if [ -n "$pid" ]; then
                        if ip netns list | grep -qw "vfolab-$pid" || grep -q "vfolab-$pid" /proc/mounts ||
                                pgrep -f "vfolab-$pid" >/dev/null; then
                                echo "baseline $s run $r: LEFTOVER of vfolab-$pid" >&2
                                failed=$((failed + 1))
                        fi
                fi
        done
done
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/facts"

# ---- results file + table
mkdir -p "$(dirname "$output")"
MERGE=$merge "$PY" - "$work/facts" "$lines" "$output" <<'EOF'
import json, os, statistics, sys

facts_file, lines_file, output = sys.argv[1:4]
facts = {}
for line in open(facts_file):
    k, _, v = line.rstrip("\n").partition("=")
    facts[k] = int(v) if k in ("nproc", "memory_kib", "rate_pps", "runs") and v.isdigit() else v

runs = [json.loads(l) for l in open(lines_file) if l.strip()]
if os.environ.get("MERGE") == "1" and os.path.exists(output):
    old = json.load(open(output))
    old_runs = [r for g in old["scenarios"].values() for r in g["runs"]]
    last = {}
    for r in old_runs:
        k = (r["result"]["scenario"], r["result"].get("variant", "default"))
        last[k] = max(last.get(k, 0), r["run"])
    for r in runs:
        r["merged_on"] = facts["date"]
        r["host_load_at_merge"] = facts.get("load_before")
        k = (r["result"]["scenario"], r["result"].get("variant", "default"))
        r["run"] += last.get(k, 0)
    merges = old["machine"].get("merges", []) + [{"date": facts["date"], "scenarios": sorted({r["result"]["scenario"] for r in runs})}]
    facts = dict(old["machine"], merges=merges)
    runs = old_runs + runs
groups = {}
for r in runs:
    res = r["result"]
    key = res["scenario"] if res.get("variant", "default") == "default" else f'{res["scenario"]}/{res["variant"]}'
    groups.setdefault(key, []).append(r)

def stats(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"min": min(vals), "median": statistics.median(vals), "max": max(vals), "n": len(vals)}

scenarios = {}
for key, rs in groups.items():
    meters = [r["result"].get("meter") or {} for r in rs]
    timings = {}
    for r in rs:
        for k, v in (r["result"].get("timings_ms") or {}).items():
            timings.setdefault(k, []).append(v)
    scenarios[key] = {
        "scenario": rs[0]["result"]["scenario"],
        "variant": rs[0]["result"].get("variant", "default"),
        "notes": rs[0]["result"].get("notes"),
        "runs_ok": sum(1 for r in rs if r["result"].get("ok") and r["exit"] == 0),
        "lost": stats([m.get("lost") for m in meters]),
        "max_gap_ms": stats([m.get("max_gap_ms") for m in meters]),
        "max_lost_run": stats([m.get("max_lost_run") for m in meters]),
        "duplicated": stats([m.get("duplicated") for m in meters]),
        "timings_ms": {k: stats(v) for k, v in timings.items()},
        "runs": rs,
    }

doc = {
    "what": "vfo baselines: what users get today without vfo (tests/bench/baseline.sh)",
    "machine": facts,
    "scenarios": scenarios,
}
with open(output, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=False)
    f.write("\n")

def fmt(s, key):
    if not s:
        return "-"
    v = [s["min"], s["median"], s["max"]]
    if key == "max_gap_ms":
        return "/".join(f"{x:.0f}" for x in v)
    return "/".join(f"{x:g}" for x in v)

print(f'machine: {facts.get("cpu_model")}, {facts.get("nproc")} CPUs, {facts.get("kernel")}, '
      f'{facts.get("qemu")}, {facts.get("libvirt")}, guest {facts.get("guest_kernel")}, '
      f'{facts.get("accelerator")}, {facts.get("rate_pps")} pps')
hdr = f'{"scenario":<22} {"ok":>5} {"lost min/med/max":>20} {"max_gap_ms min/med/max":>24}  key timings (median ms)'
print(hdr)
print("-" * len(hdr))
for key, s in scenarios.items():
    t = s["timings_ms"]
    keys = [k for k in ("detach_call", "device_removed", "guest_primary_left", "device_added",
                        "guest_vf_carrier_up", "fdb_to_vf", "migrate_call", "qemu_downtime",
                        "procedure_total") if t.get(k)]
    ts = ", ".join(f'{k}={t[k]["median"]:g}' for k in keys)
    print(f'{key:<22} {s["runs_ok"]:>2}/{len(s["runs"]):<2} {fmt(s["lost"], "lost"):>20} '
          f'{fmt(s["max_gap_ms"], "max_gap_ms"):>24}  {ts}')
print(f"results: {output}")
EOF
pyrc=$?
[ $pyrc -eq 0 ] || exit 1
if [ "$failed" -gt 0 ]; then
        echo "baseline.sh: $failed scenario run(s) failed or left something behind" >&2
        exit 1
fi
