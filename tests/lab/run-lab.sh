#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run lab scenarios (tests/lab/NAME.sh), each in its own lab, and summarise.
#   run-lab.sh --requirements    exit 77 (with the reason) if this machine
#                                cannot run the lab, 0 if it can
#   run-lab.sh NAME...           run the scenarios; prints PASS/FAIL/SKIP per
#                                scenario and "check-lab: N passed, M failed"
# `make check-lab` sets VFO_LAB_SRCDIR/VFO_LAB_BUILDDIR/VFO_TOP_*.
set -uo pipefail

srcdir=${VFO_LAB_SRCDIR:-$(cd "$(dirname "$0")" && pwd)}
export VFO_LAB_SRCDIR=$srcdir

requirements() {
        if [ "$(id -u)" -ne 0 ]; then echo "the lab needs root"; return 77; fi
        if [ ! -c /dev/net/tun ]; then echo "/dev/net/tun is missing"; return 77; fi
        if [ ! -x "${VFO_LAB_EMULATOR:-/usr/bin/qemu-system-x86_64}" ]; then
                echo "qemu-system-x86_64 is missing (install qemu-system-x86)"; return 77
        fi
        return 0
}

if [ "${1:-}" = --requirements ]; then
        why=$(requirements)
        rc=$?
        [ $rc -eq 0 ] || echo "check-lab: SKIP: $why"
        exit $rc
fi

passed=0 failed=0 skipped=0
for name in "$@"; do
        script=$srcdir/$name.sh
        echo "=== lab: $name"
        start=$SECONDS
        if [ ! -f "$script" ]; then
                echo "FAIL: $name (no $script)"
                failed=$((failed + 1))
                continue
        fi
        bash "$script"
        rc=$?
        took=$((SECONDS - start))
        case $rc in
        0) echo "PASS: $name (${took}s)"; passed=$((passed + 1)) ;;
        77) echo "SKIP: $name"; skipped=$((skipped + 1)) ;;
        *) echo "FAIL: $name (exit $rc, ${took}s)"; failed=$((failed + 1)) ;;
        esac
done
[ $skipped -gt 0 ] && echo "check-lab: $skipped skipped"
echo "check-lab: $passed passed, $failed failed"
[ $failed -eq 0 ]
