#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `vfoctl hook qemu DOMAIN migrate begin` on the destination when vfod does
# not answer (issue 13, finding 9): the hook must fail safe, never letting
# libvirt keep the source host's VF <hostdev>s (alias ua-vfo-vf-*):
#   - no bus socket, or a private bus where nothing owns org.vfo1: the XML
#     comes out without the VF hostdevs and with everything else;
#   - the domain's vfo policy says required=yes: refused (exit 1) with a
#     message saying vfod is not answering and what to do;
#   - a bus that never answers (the alarm's last word after 6 s), a vfod
#     that never answers (the method timeout), that answers garbage or with
#     another domain's XML: the same fallback;
#   - a vfod that answers: its XML, whole, and nothing of the fallback.
# Needs dbus-daemon for the private bus; exit 77 without it.
set -euo pipefail

top_builddir=${VFO_TOP_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
VFOCTL=$top_builddir/agent/ctl/vfoctl
FAKE=$top_builddir/tests/integration/hook-fake-vfod

skip() { echo "SKIP: $*"; exit 77; }
command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed"
[ -x "$VFOCTL" ] && [ -x "$FAKE" ] || skip "vfoctl/hook-fake-vfod not built"

dir=$(mktemp -d "${TMPDIR:-/tmp}/vfo-hook-test.XXXXXX")
pids=()
cleanup() {
        local p
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
        rm -rf "$dir"
}
trap cleanup EXIT

failed=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

# ------------------------------------------------------------------ inputs
domain() { # domain REQUIRED WITH_VFS
        cat <<EOF
<domain type='kvm'>
  <name>web1</name>
  <uuid>3f2a0000-1111-4222-8333-444455556666</uuid>
  <metadata>
    <vfo:policy xmlns:vfo="http://vfo.org/xmlns/libvirt/domain/1" pool="lab" priority="50" required="$1"/>
  </metadata>
  <devices>
    <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/><alias name='net0'/></interface>
EOF
        if [ "$2" = yes ]; then
                cat <<'EOF'
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source><alias name='ua-vfo-vf-lab-0'/></hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x2'/></source><alias name='ua-vfo-vf-lab-1'/></hostdev>
EOF
        fi
        cat <<'EOF'
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></source><alias name='hostdev0'/></hostdev>
  </devices>
</domain>
EOF
}
domain no yes >"$dir/vfs.xml"
domain yes yes >"$dir/required.xml"
domain no no >"$dir/plain.xml"

# hook NAME BUS INPUT: runs the hook; NAME.out, NAME.err, NAME.rc, NAME.sec
hook() {
        local name=$1 bus=$2 input=$3 rc=0 t0 t1
        t0=$(date +%s%N)
        VFO_BUS_ADDRESS=$bus "$VFOCTL" hook qemu web1 migrate begin - <"$input" \
                >"$dir/$name.out" 2>"$dir/$name.err" || rc=$?
        t1=$(date +%s%N)
        echo "$rc" >"$dir/$name.rc"
        echo $(((t1 - t0) / 1000000000)) >"$dir/$name.sec"
}

# stripped NAME: exit 0, a whole <domain> without the VF hostdevs, with the rest
stripped() {
        local n=$1 o=$dir/$1.out
        [ "$(cat "$dir/$n.rc")" = 0 ] || { echo "    exit $(cat "$dir/$n.rc"), expected 0"; return 1; }
        if command -v xmllint >/dev/null; then
                xmllint --noout "$o" 2>&1 | sed 's/^/    /' || { echo "    not one XML document"; return 1; }
        fi
        [ "$(grep -c '<?xml' "$o")" = 1 ] || { echo "    not one document"; return 1; }
        ! grep -q 'ua-vfo-vf-' "$o" || { echo "    the source's VF hostdevs are still there"; return 1; }
        ! grep -q "bus=.0x03" "$o" || { echo "    the source's VF PCI address is still there"; return 1; }
        local want
        for want in '<name>web1</name>' '<uuid>3f2a0000-1111-4222-8333-444455556666</uuid>' \
                'alias name="hostdev0"' 'alias name="net0"' 'required="no"' '</domain>'; do
                grep -qF "$want" "$o" || { echo "    lost: $want"; return 1; }
        done
        grep -q 'web1: .*removed 2 VF <hostdev>s' "$dir/$n.err" ||
                { echo "    no log line naming the domain and what was done:"; sed 's/^/    /' "$dir/$n.err"; return 1; }
}

# refused NAME: exit 1, nothing on stdout, the reason and what to do on stderr
refused() {
        local n=$1
        [ "$(cat "$dir/$n.rc")" = 1 ] || { echo "    exit $(cat "$dir/$n.rc"), expected 1"; return 1; }
        [ ! -s "$dir/$n.out" ] || { echo "    output on stdout"; return 1; }
        grep -q 'web1 refused: .*requires a VF (required=yes).*Start vfod' "$dir/$n.err" ||
                { echo "    no refusal saying what to do:"; sed 's/^/    /' "$dir/$n.err"; return 1; }
}

check() {
        local name=$1
        shift
        if "$@"; then pass "$name"; else fail "$name"; fi
}

# ------------------------------------------------- no bus at all
hook nobus unix:path="$dir/nonexistent" "$dir/vfs.xml"
check "no bus: VF hostdevs stripped, the rest kept" stripped nobus
hook nobus-req unix:path="$dir/nonexistent" "$dir/required.xml"
check "no bus, required=yes: refused" refused nobus-req
hook nobus-plain unix:path="$dir/nonexistent" "$dir/plain.xml"
check "no bus, no VF hostdev: exit 0, no output" \
        test "$(cat "$dir/nobus-plain.rc")" = 0 -a ! -s "$dir/nobus-plain.out"

# ------------------------------------------------- a private bus, no vfod
cat >"$dir/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile 2>"$dir/dbus-daemon.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/bus" ] && break; sleep 0.05; done
[ -S "$dir/bus" ] || skip "dbus-daemon did not start"
bus=unix:path=$dir/bus

hook novfod "$bus" "$dir/vfs.xml"
check "no vfod on the bus: VF hostdevs stripped" stripped novfod
check "no vfod on the bus: says so" grep -q 'vfod is not running (nothing owns org.vfo1' "$dir/novfod.err"
hook novfod-req "$bus" "$dir/required.xml"
check "no vfod on the bus, required=yes: refused" refused novfod-req

# ------------------------------------------------- vfods that do not help
fake() { # fake NAME ARGS...: starts hook-fake-vfod, waits for "ready"
        local name=$1
        shift
        "$FAKE" "$@" >"$dir/fake-$name.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 100); do grep -q ready "$dir/fake-$name.log" 2>/dev/null && return 0; sleep 0.05; done
        echo "hook-fake-vfod $* did not start:"
        cat "$dir/fake-$name.log"
        return 1
}

# stop_fake: the last fake ends, and its name on the bus goes with it (the
# next one asks for the same name: EEXIST while the old one still has it)
stop_fake() {
        kill "${pids[-1]}" 2>/dev/null || true
        wait "${pids[-1]}" 2>/dev/null || true
}

fake garbage "$bus" garbage
hook garbage "$bus" "$dir/vfs.xml"
check "vfod answers garbage: VF hostdevs stripped" stripped garbage
check "vfod answers garbage: says so" grep -q 'not understood' "$dir/garbage.err"
stop_fake

fake other "$bus" other-xml
hook other "$bus" "$dir/vfs.xml"
check "vfod answers another domain's XML: VF hostdevs stripped" stripped other
stop_fake

fake allow "$bus" allow
hook allow "$bus" "$dir/vfs.xml"
check "vfod answers: its XML, whole, nothing else" \
        cmp -s "$dir/allow.out" <(cat "$dir/vfs.xml" && echo '<!-- vfod -->')
stop_fake

# The slow ones together: the method timeout (5 s) and the alarm (6 s).
fake hang "$bus" hang
fake mute --mute "$dir/mute"
hook hang "$bus" "$dir/vfs.xml" &
h1=$!
hook mute unix:path="$dir/mute" "$dir/vfs.xml" &
h2=$!
hook mute-req unix:path="$dir/mute" "$dir/required.xml" &
h3=$!
wait $h1 $h2 $h3
check "vfod does not answer: VF hostdevs stripped" stripped hang
check "vfod does not answer: says so" grep -q 'vfod did not answer HookMigrateBegin' "$dir/hang.err"
check "bus never answers (alarm): VF hostdevs stripped" stripped mute
check "bus never answers (alarm): by the alarm, in 6 s" \
        grep -q 'no answer from vfod in time' "$dir/mute.err"
check "bus never answers (alarm): within 7 s" test "$(cat "$dir/mute.sec")" -le 7
check "bus never answers (alarm), required=yes: refused" refused mute-req

[ "$failed" = 0 ] || { echo "$failed check(s) failed"; exit 1; }
echo "all checks passed"
