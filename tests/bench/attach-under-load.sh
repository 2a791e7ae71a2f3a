#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Graceful attaches and detaches under load (issue 16's benchmark): runs the
# attach-under-load lab scenario with --cycles cycles (3 VMs, each detached
# and attached once per cycle, every VM metered at 1,000 pps, one busy core
# on the host), then prints and writes the totals: attaches, detaches, lost,
# duplicated, the loss accounting of the jobs, and the deliberately lossy
# (abrupt) move.
#   attach-under-load.sh [--cycles N] [--output FILE]   (as root; N default 34)
set -uo pipefail

cycles=34
out=
while [ $# -gt 0 ]; do
        case $1 in
        --cycles) cycles=$2; shift ;;
        --output) out=$2; shift ;;
        -h|--help) sed -n '3,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "attach-under-load.sh: unknown option '$1'" >&2; exit 2 ;;
        esac
        shift
done

here=$(cd "$(dirname "$0")" && pwd)
lab=${VFO_LAB_SRCDIR:-$here/../lab}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

rc=0
VFO_LAB_CYCLES=$cycles VFO_LAB_RATE=1000 VFO_LAB_BUSY=${VFO_LAB_BUSY:-1} VFO_LAB_CAPTURE=${VFO_LAB_CAPTURE:-0} \
        VFO_LAB_TIMEOUT=$((300 + cycles * 30)) \
        bash "$lab/run-lab.sh" attach-under-load 2>&1 | tee "$log" | grep -E '^(=== lab|PASS|FAIL|ATTACH-UNDER-LOAD|\[)' || rc=$?

python3 - "$log" "${out:-}" <<'PY'
import json, sys, datetime, platform, os
log, out = sys.argv[1], sys.argv[2]
line = None
for l in open(log, errors="replace"):
    if l.startswith("ATTACH-UNDER-LOAD "):
        line = json.loads(l[len("ATTACH-UNDER-LOAD "):])
if line is None:
    print("attach-under-load.sh: the scenario printed no ATTACH-UNDER-LOAD line", file=sys.stderr)
    sys.exit(1)
doc = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
    "machine": {"kernel": platform.release(), "nproc": os.cpu_count(),
                "accelerator": "kvm" if os.environ.get("VFO_LAB_KVM") == "1" else "tcg"},
    "layout": ("single lab bridge" if os.environ.get("VFO_LAB_TOPOLOGY", "twohost") == "single" else
               "host a in a netns of its own (bridge, uplink) behind a learning switch netns with the peer")
              + ", hand-started vfod and libvirtd, busybox guests (a lab layout, not a deployment)",
    "result": line,
}
print(json.dumps(doc, indent=1))
if out:
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
PY
exit $rc
