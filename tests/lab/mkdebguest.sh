#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build the lab's Debian 12 guest: a whole Debian system (systemd as PID 1,
# systemd-udevd, D-Bus, NetworkManager or systemd-networkd) with the
# vfo-guest package installed, as an initramfs for the lab's guest kernel.
# The root file system lives in the guest's RAM (rdinit=/lib/systemd/systemd):
# no disk for two lab hosts to share in a migration.
#
#   mkdebguest.sh --variant nm|networkd --deb vfo-guest_VERSION_ARCH.deb
#                 --lossecho BIN --output FILE.cpio.gz
#
# nm: NetworkManager manages the failover master with its default wired
# connection (DHCP); networkd: a .network file that matches the master by
# its driver (net_failover) asks for DHCP. Either way the lab's switch runs
# the DHCP server (dnsmasq, tests/lab/lib.sh). Needs root, mmdebstrap and
# Debian's mirror; about 2 minutes.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "$prog: $*" >&2; exit 1; }

variant='' deb='' lossecho='' output=''
while [ $# -gt 0 ]; do
        case $1 in
        --variant) variant=$2; shift ;;
        --deb) deb=$2; shift ;;
        --lossecho) lossecho=$2; shift ;;
        --output) output=$2; shift ;;
        *) die "unknown argument $1" ;;
        esac
        shift
done
case $variant in nm | networkd) ;; *) die "--variant nm|networkd is required" ;; esac
[ -f "$deb" ] || die "--deb: the vfo-guest package (contrib/build-debs.sh) is required"
[ -x "$lossecho" ] || die "--lossecho BIN is required"
[ -n "$output" ] || die "--output is required"
[ "$(id -u)" = 0 ] || die "must run as root"

kernel=$(bash "$here/mkinitramfs.sh" --find-kernel)
kver=${kernel##*/vmlinuz-}
work=$(mktemp -d "${TMPDIR:-/tmp}/vfo-debguest.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
pkgs=systemd,systemd-sysv,udev,dbus,iproute2,kmod,netcat-openbsd,procps
[ "$variant" = nm ] && pkgs=$pkgs,network-manager
bash "$here/mkrootfs.sh" minbase "$pkgs" "$deb" "$root"

# the lab kernel's modules the guest needs; udev loads them by alias
while read -r path; do
        mkdir -p "$root/$(dirname "$path")"
        cp "$path" "$root/$path"
done < <(bash "$here/mkinitramfs.sh" --modules)
for f in modules.builtin modules.builtin.modinfo modules.order; do
        [ -f "/lib/modules/$kver/$f" ] && cp "/lib/modules/$kver/$f" "$root/lib/modules/$kver/"
done
depmod -b "$root" "$kver"

install -m 0755 "$lossecho" "$root/usr/local/bin/vfo-lossecho"
install -m 0755 "$here/guest/debian/vfo-lab-guest" "$root/usr/local/sbin/vfo-lab-guest"
install -m 0644 "$here/guest/debian/vfo-lab-guest.service" "$root/etc/systemd/system/vfo-lab-guest.service"
systemctl --root="$root" -q enable vfo-lab-guest.service
if [ "$variant" = networkd ]; then
        mkdir -p "$root/etc/systemd/network"
        printf '[Match]\nDriver=net_failover\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/20-lab-failover.network"
        systemctl --root="$root" -q enable systemd-networkd.service
fi
# what a TCG guest need not spend its time on
systemctl --root="$root" -q mask serial-getty@ttyS0.service getty@tty1.service apt-daily.timer \
        apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true
echo debguest >"$root/etc/hostname"
: >"$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/*
grep -q '^root:' "$root/etc/passwd" || die "no root user in the image"

mkdir -p "$(dirname "$output")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --reproducible --quiet) | gzip -1n >"$output.tmp"
mv -f "$output.tmp" "$output"
echo "$prog: $output ($(du -k "$output" | cut -f1) KiB, $(du -sk "$root" | cut -f1) KiB unpacked), $variant, for $kernel"
