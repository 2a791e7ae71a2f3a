#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A Debian root file system for the lab (mmdebstrap, as root; the release is
# VFO_LAB_SUITE, default bookworm, Debian 12): PACKAGES
# (comma-separated, without Recommends), then the local package DEB
# installed by apt as a user installs it (apt brings its dependencies and
# runs its maintainer scripts); no documentation, man pages or locales.
# Used by tests/lab/mkdebguest.sh (guests) and tests/lab/lib-systemd.sh
# (hosts under systemd).
#
#   mkrootfs.sh VARIANT PACKAGES DEB DIR      VARIANT: minbase, apt, ...
set -euo pipefail

[ $# -eq 4 ] || { echo "usage: ${0##*/} VARIANT PACKAGES DEB DIR" >&2; exit 2; }
variant=$1 pkgs=$2 deb=$3 dir=$4
[ -f "$deb" ] || { echo "${0##*/}: $deb: no such package" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "${0##*/}: mmdebstrap missing (apt-get install mmdebstrap)" >&2; exit 1; }
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2016 # "$1" is mmdebstrap's
if ! mmdebstrap --quiet --variant="$variant" --include="$pkgs" \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook="copy-in $deb /tmp" \
        --customize-hook="chroot \"\$1\" apt-get -q -y --no-install-recommends install /tmp/${deb##*/}" \
        --customize-hook='rm -f "$1"/tmp/*.deb "$1"/var/lib/apt/lists/* 2>/dev/null; true' \
        "${VFO_LAB_SUITE:-bookworm}" "$dir" >"$log" 2>&1; then
        cat "$log" >&2
        echo "${0##*/}: mmdebstrap failed" >&2
        exit 1
fi
