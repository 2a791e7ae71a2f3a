#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run lab scenarios (tests/lab/NAME.sh), each in its own lab, and summarise.
#   run-lab.sh --requirements    exit 77 (with the reason) if this machine
#                                cannot run the lab, 0 if it can
#   run-lab.sh --cleanup-stale   remove what killed (SIGKILL) lab runs left:
#                                netns vfolab-PID whose PID is gone, their
#                                processes and /tmp/vfolab-PID.* state dirs
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

# A lab run is "stale" when the shell that owned it (the PID in its name)
# is gone: its teardown never ran.
cleanup_stale() {
        local ns pid p dir n=0
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
                case $ns in vfolab-[0-9]*) ;; *) continue ;; esac
                pid=${ns#vfolab-}
                pid=${pid%%-*}          # a host's netns: vfolab-<pid>-<instance>
                case $pid in *[!0-9]*) continue ;; esac
                kill -0 "$pid" 2>/dev/null && continue
                echo "run-lab: removing stale lab $ns"
                for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
                sleep 0.5
                ip netns del "$ns" 2>/dev/null
                n=$((n + 1))
        done
        for dir in "${TMPDIR:-/tmp}"/vfolab-[0-9]*.*; do
                [ -d "$dir" ] || continue
                pid=${dir##*/vfolab-}
                pid=${pid%%.*}
                kill -0 "$pid" 2>/dev/null && continue
                [ -e "$dir/.kept" ] && continue   # VFO_LAB_KEEP=1: left for inspection
                ip netns list 2>/dev/null | grep -w "vfolab-$pid" >/dev/null && continue
                # processes outside the netns (the private dbus-daemon),
                # only if their command line names this state directory
                if [ -s "$dir/dbus/pid" ]; then
                        read -r p <"$dir/dbus/pid"
                        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -F "$dir/" >/dev/null &&
                                kill -KILL "$p" 2>/dev/null
                fi
                echo "run-lab: removing stale state $dir"
                rm -rf "$dir"
                n=$((n + 1))
        done
        return 0
}

if [ "${1:-}" = --cleanup-stale ]; then
        cleanup_stale
        exit 0
fi

cleanup_stale

passed=0 failed=0 skipped=0 interrupted=0
# Ctrl-C reaches the scenario too (same process group); its teardown runs,
# then we stop instead of starting the next scenario.
trap 'interrupted=1' INT TERM HUP
for name in "$@"; do
        if [ $interrupted = 1 ]; then
                echo "SKIP: $name (interrupted)"
                skipped=$((skipped + 1))
                continue
        fi
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
        130 | 143 | 129)
                echo "FAIL: $name (interrupted, ${took}s)"; failed=$((failed + 1)); interrupted=1 ;;
        *) echo "FAIL: $name (exit $rc, ${took}s)"; failed=$((failed + 1)) ;;
        esac
done
[ $skipped -gt 0 ] && echo "check-lab: $skipped skipped"
echo "check-lab: $passed passed, $failed failed"
[ $failed -eq 0 ]
