#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfo's whole test suite in one command: install the dependencies, configure
# with sanitizers and -Werror, build, run the unit tests (make check) and the
# lab (make check-lab: real libvirtd and QEMU guests). Run as root from the
# source tree. Options:
#   --no-deps     do not run contrib/install-deps.sh
#   --no-lab      skip the lab (unit tests only; no root needed)
#   --builddir D  build in D (default: ./build)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$top/build
deps=1 lab=1

while [ $# -gt 0 ]; do
        case $1 in
        --no-deps) deps=0 ;;
        --no-lab) lab=0 ;;
        --builddir) builddir=$(realpath -m "$2"); shift ;;
        -h|--help) sed -n '3,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "run-tests.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
        esac
        shift
done

jobs=$(nproc 2>/dev/null || echo 2)

[ $deps -eq 0 ] || bash "$top/contrib/install-deps.sh"

echo "==> configure ($builddir)"
(cd "$top" && autoreconf -fi >/dev/null 2>&1) || (cd "$top" && autoreconf -fi)
mkdir -p "$builddir"
cd "$builddir"
"$top/configure" -q --enable-werror --enable-sanitizers

echo "==> build"
make -s -j"$jobs"

echo "==> make check"
unit_rc=0
make -s -j"$jobs" check || unit_rc=$?
# The harness's summary, and the log of anything that failed.
if [ -f test-suite.log ]; then
        sed -n '/^# TOTAL/,/^# ERROR/p' test-suite.log
        [ $unit_rc -eq 0 ] || cat test-suite.log
fi

summary() {
        awk -v key="$2" '$1 == "#" && $2 == key":" { print $3 }' "$1" 2>/dev/null | head -1
}
passed=$(summary test-suite.log PASS)
failed=$(( $(summary test-suite.log FAIL) + $(summary test-suite.log ERROR) + $(summary test-suite.log XPASS) ))
skipped=$(summary test-suite.log SKIP)

lab_rc=0
if [ $lab -eq 1 ]; then
        echo "==> make check-lab"
        lab_log=$(mktemp)
        make -s check-lab 2>&1 | tee "$lab_log" || lab_rc=${PIPESTATUS[0]}
        lab_line=$(grep -E '^check-lab: [0-9]+ passed, [0-9]+ failed' "$lab_log" | tail -1 || true)
        if [ -n "$lab_line" ]; then
                passed=$(( passed + $(echo "$lab_line" | awk '{print $2}') ))
                failed=$(( failed + $(echo "$lab_line" | awk '{print $4}') ))
        elif [ $lab_rc -ne 0 ]; then
                failed=$(( failed + 1 ))
        fi
        rm -f "$lab_log"
fi

echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
[ $unit_rc -eq 0 ] && [ $lab_rc -eq 0 ]
