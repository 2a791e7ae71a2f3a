#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The vfo demo: builds vfo and plays the lab's demo scene. Two private
# libvirtd "hosts" with vfod, vfo's libvirt hook and a private system bus
# each; three VMs (Debian kernel, TCG, vfo-agent inside); a loss meter sends
# 1,000 datagrams/s to every VM throughout. A plain virsh migrate first, then
# the VMs opt in, vfoctl migrate moves vm1 from a to b with its VF, a's freed
# VF goes to vm2, and vm3 gives its VF up and takes it back; a table of what
# every VM lost ends it. Run as root on Debian 12 (about 2 minutes after the
# build). --no-deps skips the package installation; --all also runs the
# other lab scenarios (smoke, agent-switch, vfod-pool, vfod-migrate).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$top/build

deps=1 scenarios=demo
for a in "$@"; do
        case $a in
        --no-deps) deps=0 ;;
        --all) scenarios="demo smoke agent-switch vfod-pool vfod-migrate" ;;
        -h|--help) sed -n '3,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown option '$a' (see --help)" >&2; exit 2 ;;
        esac
done
[ $deps = 0 ] || bash "$top/contrib/install-deps.sh"

echo "==> building vfo in $builddir"
(cd "$top" && autoreconf -fi >/dev/null 2>&1) || (cd "$top" && autoreconf -fi)
mkdir -p "$builddir"
cd "$builddir"
[ -f Makefile ] || "$top/configure" -q
make -s -j"$(nproc 2>/dev/null || echo 2)"

cat <<'TXT'

==> what you are about to see (tests/lab/demo.sh)
    Nothing on this machine's own network is touched: everything runs in a
    network namespace with its own bridge.
    act 1  without vfo: a plain 'virsh migrate --live' of vm1 from a to b
           loses what QEMU's downtime loses (tens to a hundred datagrams);
    act 2  the VMs opt in (vfoctl set-policy): vm1 gets a's only VF, vm3 one
           of b's two, vm2 (lower priority) waits on the synthetic path;
    act 3  vfoctl migrate vm1 --managed-switchover: the VF leaves gracefully
           (vfo-agent moves the traffic to virtio-net first), libvirt
           migrates, b takes vm1's traffic just before QEMU switches over,
           b's vfod plugs its free VF into vm1; a's freed VF goes to vm2;
    act 4  vm3 gives its VF up and takes it back.
    "LOSS" and the closing table give every VM's loss per act (goal: 0
    after act 1), and the wall time of both migrations.

TXT
VFO_LAB_MIGRATE_RUNS=${VFO_LAB_MIGRATE_RUNS:-1} make -s check-lab LAB_SCENARIOS="$scenarios"
