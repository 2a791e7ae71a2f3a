#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The shipped units, as built: systemd-analyze accepts them, and their
# exposure (systemd-analyze security --offline) stays at or below what it
# was measured at when their hardening was last reviewed, so a change that
# loosens one shows here. Skips without systemd-analyze >= 250 (--offline).
set -euo pipefail

top_builddir=${VFO_TOP_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
v=$(systemd-analyze --version | awk 'NR == 1 { print $2 }')
[ "${v%%.*}" -ge 250 ] 2>/dev/null || { echo "SKIP: systemd $v has no --offline"; exit 77; }

failed=0
# unit, the most exposure allowed (reviewed: vfod 2.8, vfo-agent 3.2)
for pair in vfod.service:2.8 vfo-agent.service:3.2; do
        unit=${pair%%:*} max=${pair#*:}
        f=$top_builddir/contrib/systemd/$unit
        [ -f "$f" ] || { echo "FAIL: $f not built"; failed=$((failed + 1)); continue; }
        out=$(systemd-analyze security --offline=yes --no-pager "$f" 2>&1) || true
        level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
        if [ -z "$level" ]; then
                printf '%s\n' "$out" | tail -5
                echo "FAIL: $unit: no exposure level"
                failed=$((failed + 1))
        elif awk -v l="$level" -v m="$max" 'BEGIN { exit !(l <= m) }'; then
                echo "PASS: $unit exposure $level (at most $max)"
        else
                printf '%s\n' "$out" | grep '✗' || true
                echo "FAIL: $unit exposure $level, more than $max"
                failed=$((failed + 1))
        fi
        # Only what a unit says counts here: the binaries and man pages are not installed.
        if systemd-analyze verify "$f" 2>&1 | grep -v "is not executable\|Command 'man \|failed with code 16" | grep .; then
                echo "FAIL: systemd-analyze verify $unit"
                failed=$((failed + 1))
        else
                echo "PASS: systemd-analyze verify $unit"
        fi
done
echo "test-units: $failed failed"
[ "$failed" = 0 ]
