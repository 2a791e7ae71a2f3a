#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Migrations between two hosts behind a learning switch (issue 12's
# benchmark): runs the migrate-twohost lab scenario (a control without a
# migration, plain virsh migrate, vfoctl migrate --managed-switchover and
# the same with --postcopy, both directions, at each rate; peer -> guest,
# guest -> peer and TCP measured at once), then prints and writes every
# run's figures and the summary.
#   migrate-twohost.sh [--managed-runs "RATE:N ..."] [--postcopy-runs "RATE:N ..."]
#                      [--plain-runs N] [--output FILE]
#   (as root; defaults "1000:5 3000:3", the managed runs', and 2)
set -uo pipefail

managed="1000:5 3000:3"
postcopy=
plain=2
out=
while [ $# -gt 0 ]; do
        case $1 in
        --managed-runs) managed=$2; shift ;;
        --postcopy-runs) postcopy=$2; shift ;;
        --plain-runs) plain=$2; shift ;;
        --output) out=$2; shift ;;
        -h|--help) sed -n '3,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "migrate-twohost.sh: unknown option '$1'" >&2; exit 2 ;;
        esac
        shift
done

here=$(cd "$(dirname "$0")" && pwd)
lab=${VFO_LAB_SRCDIR:-$here/../lab}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

rc=0
VFO_LAB_MANAGED_RUNS=$managed VFO_LAB_POSTCOPY_RUNS=${postcopy:-$managed} VFO_LAB_PLAIN_RUNS=$plain VFO_LAB_TOPOLOGY=twohost VFO_LAB_TIMEOUT=3600 \
        bash "$lab/run-lab.sh" migrate-twohost 2>&1 | tee "$log" | grep -E '^(=== lab|PASS|FAIL|MIGRATE-TWOHOST|\[)' || rc=$?

python3 - "$log" "${out:-}" <<'PY'
import json, sys, datetime, platform, os, subprocess
log, out = sys.argv[1], sys.argv[2]

def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()[0].strip()
    except Exception:
        return None

def os_name():
    try:
        for l in open("/etc/os-release"):
            if l.startswith("PRETTY_NAME="):
                return l.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None

runs, summary = [], None
for l in open(log, errors="replace"):
    if l.startswith("MIGRATE-TWOHOST "):
        runs.append(json.loads(l[len("MIGRATE-TWOHOST "):]))
    elif l.startswith("MIGRATE-TWOHOST-SUMMARY "):
        summary = json.loads(l[len("MIGRATE-TWOHOST-SUMMARY "):])
if summary is None:
    print("migrate-twohost.sh: the scenario printed no summary", file=sys.stderr)
    sys.exit(1)
doc = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
    "machine": {"kernel": platform.release(), "nproc": os.cpu_count(),
                "accelerator": "kvm" if os.environ.get("VFO_LAB_KVM") == "1" else "tcg"},
    "software": {"os": os_name(), "libvirt": version(["libvirtd", "--version"]),
                 "qemu": version([os.environ.get("VFO_LAB_EMULATOR", "/usr/bin/qemu-system-x86_64"), "--version"]),
                 "guest_kernel": version(["cat", os.path.join(os.environ.get("VFO_LAB_BUILDDIR", ""), "guest/kernel-path")])},
    "layout": "two hosts (a netns each: bridge, uplink, ForwardAddress= on a host network) behind a learning "
              "switch netns with the peer; hand-started vfod and libvirtd, busybox guests (a lab layout, not a "
              "deployment: no systemd, no distro guest)",
    "summary": summary,
    "runs": runs,
}
print(json.dumps(doc["summary"], indent=1))
if out:
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
PY
exit $rc
