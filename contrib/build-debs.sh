#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build vfo's Debian packages (vfo-host, vfo-guest) from this tree and check
# them with lintian. As root on Debian 12: installs what the build needs
# (apt-get build-dep, debhelper, lintian), builds in a scratch copy of the
# tree (what git tracks, and new files it does not ignore), and leaves the
# .deb files and lintian's report in OUTDIR (default: debs/).
#
#   contrib/build-debs.sh [OUTDIR]
#
# OUTDIR is taken from where it is called. DEB_BUILD_OPTIONS=nocheck skips
# the packages' make check.
set -euo pipefail
out=${1:-$(dirname "$0")/../debs}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
        echo "build-debs.sh: must run as root (apt-get)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$log" "$work"' EXIT
if ! { apt-get -q update &&
       apt-get -q -y --no-install-recommends install dpkg-dev debhelper lintian git &&
       apt-get -q -y --no-install-recommends build-dep "$top"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "build-debs.sh: apt-get failed (see above)" >&2
        exit 1
fi

# a scratch copy: no build products of this tree end up in the packages
mkdir -p "$work/vfo"
git ls-files -z -co --exclude-standard | tar -C "$top" --null -T - -cf - | tar -C "$work/vfo" -xf -
(cd "$work/vfo" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
        tail -60 "$out/build.log" >&2
        echo "build-debs.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
        exit 1
}
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
echo "build-debs.sh: built $(cd "$out" && ls ./*.deb | tr '\n' ' ')"

# lintian at its default level: errors and warnings fail; what remains is
# explained in debian/*.lintian-overrides
rc=0
lintian --fail-on error,warning --info "$out"/vfo_*.changes >"$out/lintian.log" 2>&1 || rc=$?
cat "$out/lintian.log"
if [ $rc -ne 0 ]; then
        echo "build-debs.sh: lintian found errors or warnings (above)" >&2
        exit 1
fi
echo "build-debs.sh: lintian clean"
