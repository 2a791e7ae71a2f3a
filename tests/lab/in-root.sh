#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run a command with another Debian release's root tree as / (for the lab
# and the tests on a release this machine does not run), as root:
#   tests/lab/in-root.sh ROOT COMMAND...
# ROOT is a tree with vfo's dependencies, made for example by
#   mmdebstrap --variant=apt --include=build-essential,git,ca-certificates trixie ROOT
# then, with the repository cloned into it, contrib/install-deps.sh run
# through this script. The command runs in a private mount namespace whose
# root is ROOT by pivot_root (not chroot: the lab enters its hosts' mount
# namespaces with nsenter, which resolves paths from a namespace's root),
# with /proc, /sys and /dev of this machine and a fresh /run. The network
# namespaces, the kernel and the devices are this machine's. Nothing stays
# mounted after it ends; ROOT keeps an empty /.oldroot (pivot_root's).
set -euo pipefail

if [ $# -lt 2 ]; then
        echo "usage: in-root.sh ROOT COMMAND..." >&2
        exit 2
fi
root=$(cd "$1" && pwd)
shift
[ -x "$root/bin/bash" ] || { echo "in-root.sh: $root has no /bin/bash" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "in-root.sh: must run as root" >&2; exit 1; }

# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare -m --propagation private /bin/bash -c '
set -e
root=$1
shift
mount --rbind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec "$@"' in-root "$root" "$@"
