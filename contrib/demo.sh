#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The vfo demo. Today it builds vfo and runs four lab scenarios: a private
# libvirtd boots real guests (Debian kernel, TCG), the loss meter sends 1,000
# datagrams/s to them, and an emulated VF is plugged and unplugged — first the
# way users do it today (smoke), then through vfo's protocol with vfo-agent
# in the guest (agent-switch), then vfod sharing 2 VFs among 3 VMs by
# priority (vfod-pool), then live migration between two lab hosts with
# vfoctl migrate (vfod-migrate). Run as root on Debian 12.
# --no-deps skips the package installation.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$top/build

case ${1:-} in
--no-deps) ;;
-h|--help) sed -n '3,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
"") bash "$top/contrib/install-deps.sh" ;;
*) echo "demo.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

echo "==> building vfo in $builddir"
(cd "$top" && autoreconf -fi >/dev/null 2>&1) || (cd "$top" && autoreconf -fi)
mkdir -p "$builddir"
cd "$builddir"
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc 2>/dev/null || echo 2)"

cat <<'TXT'

==> what you are about to see
    smoke — what libvirt users get today:
    1. a private libvirtd starts in its own network namespace (nothing on
       this machine's own network is touched);
    2. a guest boots under TCG with a virtio-net NIC (net_failover standby);
    3. an emulated VF (e1000e, same MAC) is hot-plugged and becomes the
       guest's primary path;
    4. the loss meter runs at 1,000 datagrams/s while the VF is unplugged
       abruptly: see "LOSS detach" (~65 lost).

    agent-switch — the same with vfo-agent in the guest:
    5. PrepareAttach, the VF is plugged, the agent answers AttachReady once
       it has carrier, steering moves (a bridge FDB pin), SteeringMoved;
    6. PrepareDetach, steering moves back, SteeringMoved, the VF unplugs.
       "SWITCH" lines give the timings, "LOSS" lines the loss (goal: 0).

    vfod-pool — vfod, vfoctl and a private system bus; 3 VMs, 2 VFs:
    7. vm1 and vm2 opt in with priority 50 and get the VFs; vm3 (40) waits
       on the synthetic path;
    8. vm1 is destroyed: its VF goes to vm3;
    9. vm1 returns and its priority is raised to 100: vm3, the weakest
       holder, is detached gracefully and its VF goes to vm1.
       A loss meter runs on every VM through every phase ("LOSS" lines).

    vfod-migrate — two lab "hosts" (libvirtd a and b, each with its vfod,
    its bus and vfo's libvirt hook):
   10. a plain `virsh migrate` as the baseline ("BASELINE": ~30-200 lost);
   11. `vfoctl migrate`: the VF leaves gracefully, the domain migrates, the
       destination's vfod plugs its own VF ("MIGRATE" lines);
   12. refusals and failures: no free VF on b for a VM that requires one,
       b's hook refusing, b's libvirtd killed mid-way — the VM keeps its VF.

TXT
VFO_LAB_MIGRATE_RUNS=${VFO_LAB_MIGRATE_RUNS:-1} \
        make -s check-lab LAB_SCENARIOS="smoke agent-switch vfod-pool vfod-migrate"
