#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# contrib/udev/81-vfo-net-failover.rules run by the real udev (udevadm test)
# against a fake sysfs: a net_failover master fo0 on a virtio device with
# VIRTIO_NET_F_STANDBY (bit 62), its standby fo0nsby and its VF vf0; a virtio
# NIC eth1 without STANDBY (bits 61 and 63 set, 62 clear) with a VF vf1
# enslaved to it; a bond0 (no parent device) with a slave eth2.
#   - the two failover slaves get VFO_FAILOVER_SLAVE=1, NM_UNMANAGED=1 and
#     ID_NET_MANAGED_BY=org.vfo.agent on add, change and move;
#   - the master, eth1, vf1, bond0 and eth2 get none of them.
# The fake sysfs (tmpfs on /sys) and a rules directory holding only this rule
# (tmpfs over the system rules directories) live in a private mount namespace;
# SYSTEMD_DEVICE_VERIFY_SYSFS=0 lets sd-device accept a /sys that is not sysfs.
# Needs root, or unprivileged user namespaces, and udevadm; exit 77 otherwise.
set -euo pipefail

top_srcdir=${VFO_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
RULE=$top_srcdir/contrib/udev/81-vfo-net-failover.rules
RULE_NAME=$(basename "$RULE")

skip() { echo "SKIP: $*"; exit 77; }

# ------------------------------------------------------------ in the namespace
if [ "${1:-}" = --in-namespace ]; then
        out=$2
        mount -t tmpfs vfo-sys /sys
        mount -t tmpfs vfo-run /run
        for d in /etc/udev/rules.d /usr/local/lib/udev/rules.d /usr/lib/udev/rules.d /lib/udev/rules.d; do
                if [ -d "$d" ]; then mount -t tmpfs vfo-rules "$d"; fi
        done
        mkdir -p /etc/udev/rules.d /run/udev/rules.d
        cp "$RULE" /etc/udev/rules.d/

        mkdir -p /sys/class/net /sys/bus/virtio/devices /sys/bus/pci/devices /sys/devices/virtual/net
        pcibus=/sys/devices/pci0000:00
        # features PATTERN: 128 feature bits, '1' at the positions listed
        features() {
                local s i
                s=$(printf '0%.0s' $(seq 128))
                for i in "$@"; do s=${s:0:i}1${s:i+1}; done
                echo "$s"
        }
        add_pci() { # add_pci SLOT -> path
                local p=$pcibus/$1
                mkdir -p "$p"
                printf 'PCI_SLOT_NAME=%s\n' "$1" >"$p/uevent"
                ln -s ../../../bus/pci "$p/subsystem"
                echo "$p"
        }
        add_virtio() { # add_virtio SLOT NAME BITS... -> path
                local p
                p=$(add_pci "$1")/$2
                mkdir -p "$p"
                printf 'DRIVER=virtio_net\nVIRTIO_ID=1\n' >"$p/uevent"
                shift 2
                features "$@" >"$p/features"
                ln -sr /sys/bus/virtio "$p/subsystem"
                echo "$p"
        }
        add_net() { # add_net PARENT IFNAME IFINDEX (PARENT "" for a virtual device)
                local p
                if [ -n "$1" ]; then p=$1/net/$2; else p=/sys/devices/virtual/net/$2; fi
                mkdir -p "$p"
                printf 'INTERFACE=%s\nIFINDEX=%s\n' "$2" "$3" >"$p/uevent"
                echo "$3" >"$p/ifindex"
                [ -z "$1" ] || ln -sr "$1" "$p/device"
                ln -sr /sys/class/net "$p/subsystem"
                ln -sr "$p" "/sys/class/net/$2"
        }
        enslave() { # enslave SLAVE MASTER, as netdev_upper_dev_link() shows it
                local s m
                s=$(readlink -f "/sys/class/net/$1")
                m=$(readlink -f "/sys/class/net/$2")
                ln -sr "$m" "$s/master"
                ln -sr "$m" "$s/upper_$2"
                ln -sr "$s" "$m/lower_$1"
        }

        v1=$(add_virtio 0000:00:03.0 virtio1 0 1 5 7 8 9 11 12 13 15 16 32 35 62)
        add_net "$v1" fo0 2
        add_net "$v1" fo0nsby 3
        add_net "$(add_pci 0000:00:04.0)" vf0 4
        enslave fo0nsby fo0
        enslave vf0 fo0
        v2=$(add_virtio 0000:00:05.0 virtio2 0 5 16 32 61 63)
        add_net "$v2" eth1 5
        add_net "$(add_pci 0000:00:06.0)" vf1 6
        enslave vf1 eth1
        add_net "" bond0 7
        v3=$(add_virtio 0000:00:07.0 virtio3 0 5 16 32 62)
        add_net "$v3" eth2 8
        enslave eth2 bond0

        for c in "add fo0" "add fo0nsby" "add vf0" "move fo0nsby" "change vf0" "change fo0nsby" \
                 "add eth1" "add vf1" "add bond0" "add eth2" "change fo0"; do
                set -- $c
                rc=0
                SYSTEMD_DEVICE_VERIFY_SYSFS=0 SYSTEMD_LOG_LEVEL=debug \
                        udevadm test --action="$1" "/sys/class/net/$2" \
                        >"$out/$1-$2.out" 2>"$out/$1-$2.err" || rc=$?
                echo "$rc" >"$out/$1-$2.rc"
        done
        exit 0
fi

# ------------------------------------------------------------------- outside
[ -r "$RULE" ] || skip "$RULE not found"
command -v udevadm >/dev/null || skip "udevadm not installed"
command -v unshare >/dev/null || skip "unshare not installed"
if [ "$(id -u)" = 0 ]; then
        ns=(unshare --mount --propagation private)
else
        ns=(unshare --user --map-root-user --mount --propagation private)
fi
"${ns[@]}" true 2>/dev/null || skip "cannot create a mount namespace (${ns[*]}): needs root or user namespaces"

dir=$(mktemp -d /tmp/vfo-udev-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
"${ns[@]}" bash "$0" --in-namespace "$dir"

failed=0 passed=0
check() {
        local name=$1
        shift
        if "$@"; then
                echo "PASS: $name"
                passed=$((passed + 1))
        else
                echo "FAIL: $name"
                failed=$((failed + 1))
        fi
}
# udevadm's property list: KEY=VALUE lines (indented by newer versions)
prop() { sed -n "s/^[[:space:]]*$2=//p" "$dir/$1.out" | tail -1; }
ran() {
        local c=$1 rules
        [ "$(cat "$dir/$c.rc")" = 0 ] || { echo "    udevadm test exited $(cat "$dir/$c.rc")"; return 1; }
        grep -q "^[[:space:]]*DEVPATH=" "$dir/$c.out" || { echo "    no property list"; return 1; }
        rules=$(sed -n 's/^Reading rules file: //p' "$dir/$c.err")
        [ "$rules" = "/etc/udev/rules.d/$RULE_NAME" ] || { echo "    rules read: ${rules:-none}"; return 1; }
}
is_slave() {
        ran "$1" || return 1
        [ "$(prop "$1" VFO_FAILOVER_SLAVE)" = 1 ] && [ "$(prop "$1" NM_UNMANAGED)" = 1 ] &&
                [ "$(prop "$1" ID_NET_MANAGED_BY)" = org.vfo.agent ] ||
                { sed 's/^/    /' "$dir/$1.out"; return 1; }
}
is_untouched() {
        ran "$1" || return 1
        [ -z "$(prop "$1" VFO_FAILOVER_SLAVE)" ] && [ -z "$(prop "$1" NM_UNMANAGED)" ] &&
                [ -z "$(prop "$1" ID_NET_MANAGED_BY)" ] ||
                { sed 's/^/    /' "$dir/$1.out"; return 1; }
}

echo "udevadm $(udevadm --version)"
check "standby fo0nsby (add) is a failover slave" is_slave add-fo0nsby
check "VF vf0 (add) is a failover slave" is_slave add-vf0
check "standby renamed (move) is a failover slave" is_slave move-fo0nsby
check "VF vf0 (change) is a failover slave" is_slave change-vf0
check "standby fo0nsby (change) is a failover slave" is_slave change-fo0nsby
check "failover master fo0 (add) is left alone" is_untouched add-fo0
check "failover master fo0 (change) is left alone" is_untouched change-fo0
check "virtio NIC without STANDBY (bits 61, 63) is left alone" is_untouched add-eth1
check "VF enslaved to a virtio NIC without STANDBY is left alone" is_untouched add-vf1
check "bond0 (no parent device) is left alone" is_untouched add-bond0
check "virtio NIC with STANDBY enslaved to bond0 is left alone" is_untouched add-eth2

if [ "$failed" != 0 ]; then
        for f in "$dir"/add-fo0nsby.err; do echo "--- $f"; tail -20 "$f"; done
fi
echo "test-udev-failover: $passed passed, $failed failed"
[ "$failed" = 0 ]
