#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build the vfo lab guest image: a busybox-static initramfs for the Debian
# kernel installed on this machine (linux-image-amd64), with the NIC and tc
# modules, iproute2's ip/tc, the UDP echo peer and, when built, vfo-agent.
#
#   mkinitramfs.sh --find-kernel
#       print the guest kernel (newest Debian /boot/vmlinuz-* with modules)
#   mkinitramfs.sh --modules
#       print the modules the guest loads (files, in load order, with their
#       dependencies) for that kernel: tests/lab/mkdebguest.sh takes them too
#   mkinitramfs.sh --manifest FILE [--agent BIN]
#       (re)write FILE only when the implicit inputs (kernel, busybox,
#       iproute2, agent) changed; make uses it as a prerequisite
#   mkinitramfs.sh --output FILE.cpio.gz --guest-dir DIR --lossecho BIN
#                  [--agent BIN] [--kernel-path-file FILE]
#       build the image (DIR holds init, mdev.conf, vport)
#
# VFO_LAB_KERNEL=/boot/vmlinuz-X overrides the kernel choice.
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: $*" >&2; exit 1; }

# Modules the guest loads at boot, in this order (dependencies are resolved
# with modprobe -D). virtio_pci is a module in Debian's kernel.
MODULES="virtio_pci virtio_net failover net_failover e1000e bonding
         virtio_console sch_ingress cls_bpf act_bpf act_mirred"

find_kernel() {
        if [ -n "${VFO_LAB_KERNEL:-}" ]; then
                [ -r "$VFO_LAB_KERNEL" ] || die "VFO_LAB_KERNEL=$VFO_LAB_KERNEL is not readable"
                echo "$VFO_LAB_KERNEL"
                return
        fi
        local f kver debian=() other=()
        for f in /boot/vmlinuz-*; do
                [ -r "$f" ] || continue
                kver=${f#/boot/vmlinuz-}
                [ -f "/lib/modules/$kver/modules.dep" ] || continue
                if dpkg-query -S "$f" >/dev/null 2>&1; then
                        debian+=("$kver")
                else
                        other+=("$kver")
                fi
        done
        if [ ${#debian[@]} -gt 0 ]; then
                kver=$(printf '%s\n' "${debian[@]}" | sort -V | tail -n 1)
        elif [ ${#other[@]} -gt 0 ]; then
                kver=$(printf '%s\n' "${other[@]}" | sort -V | tail -n 1)
        else
                die "no /boot/vmlinuz-* with modules in /lib/modules (install linux-image-amd64)"
        fi
        echo "/boot/vmlinuz-$kver"
}

find_busybox() {
        local b
        for b in /bin/busybox /usr/bin/busybox; do
                if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then
                        echo "$b"
                        return
                fi
        done
        die "no static busybox (install busybox-static)"
}

# A libtool-built program is a wrapper script; the real binary is in .libs/.
real_binary() {
        local f=$1 d b
        d=$(dirname "$f"); b=$(basename "$f")
        if head -c 4 "$f" | grep -q '^#!' && [ -x "$d/.libs/$b" ]; then
                echo "$d/.libs/$b"
        else
                echo "$f"
        fi
}

agent=
manifest=
output=
guestdir=
lossecho=
kernel_path_file=
mode=build
while [ $# -gt 0 ]; do
        case $1 in
        --find-kernel) mode=find-kernel ;;
        --modules) mode=modules ;;
        --manifest) mode=manifest; manifest=$2; shift ;;
        --output) output=$2; shift ;;
        --guest-dir) guestdir=$2; shift ;;
        --lossecho) lossecho=$2; shift ;;
        --agent) agent=$2; shift ;;
        --kernel-path-file) kernel_path_file=$2; shift ;;
        *) die "unknown argument $1" ;;
        esac
        shift
done

# modules_of KVER SCRATCH: "PATH [ARGS]" of every module of $MODULES and
# its dependencies, in load order, each once.
modules_of() {
        local kver=$1 scratch=$2 m kind path args seen=' '
        for m in $MODULES; do
                modprobe -S "$kver" -D "$m" >"$scratch" || die "modprobe -S $kver -D $m failed"
                while read -r kind path args; do
                        [ "$kind" = insmod ] || continue
                        case $seen in *" $path "*) continue ;; esac
                        seen="$seen$path "
                        echo "$path${args:+ $args}"
                done <"$scratch"
        done
}

case $mode in
find-kernel)
        find_kernel
        exit 0
        ;;
modules)
        kernel=$(find_kernel)
        scratch=$(mktemp)
        trap 'rm -f "$scratch"' EXIT
        modules_of "${kernel##*/vmlinuz-}" "$scratch" | cut -d' ' -f1
        exit 0
        ;;
manifest)
        kernel=$(find_kernel)
        {
                echo "kernel $kernel"
                stat -L -c '%n %s %Y' "$kernel" "$(find_busybox)" \
                        "$(command -v tc)" "$(command -v ip)"
                if [ -n "$agent" ] && [ -f "$agent" ]; then
                        stat -L -c '%n %s %Y' "$(real_binary "$agent")"
                else
                        echo "agent none"
                fi
        } >"$manifest.tmp"
        if [ -f "$manifest" ] && cmp -s "$manifest" "$manifest.tmp"; then
                rm -f "$manifest.tmp"
        else
                mv -f "$manifest.tmp" "$manifest"
        fi
        exit 0
        ;;
esac

[ -n "$output" ] || die "--output is required"
if [ -z "$guestdir" ] || [ ! -f "$guestdir/init" ]; then die "--guest-dir must hold init"; fi
if [ -z "$lossecho" ] || [ ! -x "$lossecho" ]; then die "--lossecho BIN is required (the static UDP echo peer)"; fi
command -v cpio >/dev/null || die "cpio missing (install cpio)"
command -v modprobe >/dev/null || die "modprobe missing (install kmod)"

kernel=$(find_kernel)
kver=${kernel##*/vmlinuz-}
busybox=$(find_busybox)

work=$(mktemp -d "${TMPDIR:-/tmp}/vfo-initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,run,tmp,root,lib/mdev,usr/lib/vfo}

# busybox and a symlink per applet (iproute2's ip and tc replace busybox's).
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
        mkdir -p "$root/$(dirname "$applet")"
        [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

# add_binary SRC DEST: copy a program and, if dynamic, every library ldd names.
add_binary() {
        local src=$1 dest=$2 lib
        rm -f "$root/$dest"
        mkdir -p "$root/$(dirname "$dest")"
        install -m 0755 "$src" "$root/$dest"
        if ldd "$src" >/dev/null 2>&1; then
                for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
                        [ -e "$root/$lib" ] && continue
                        mkdir -p "$root/$(dirname "$lib")"
                        cp -L "$lib" "$root/$lib"
                done
        fi
}

add_binary "$(command -v tc)" /sbin/tc
add_binary "$(command -v ip)" /sbin/ip
add_binary "$lossecho" /usr/bin/vfo-lossecho
if [ -n "$agent" ] && [ -f "$agent" ]; then
        add_binary "$(real_binary "$agent")" /usr/sbin/vfo-agent
        # the agent's eBPF objects, if any were built next to it
        for obj in "$(dirname "$agent")"/*.bpf.o; do
                [ -f "$obj" ] && install -m 0644 "$obj" "$root/usr/lib/vfo/"
        done
        echo "$prog: including vfo-agent from $agent"
fi

# Kernel modules, in load order, without duplicates.
modules_of "$kver" "$work/dep" >"$root/etc/vfo-modules"
while read -r path _; do
        mkdir -p "$root/$(dirname "$path")"
        cp "$path" "$root/$path"
done <"$root/etc/vfo-modules"

install -m 0755 "$guestdir/init" "$root/init"
install -m 0644 "$guestdir/mdev.conf" "$root/etc/mdev.conf"
install -m 0755 "$guestdir/vport" "$root/lib/mdev/vport"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo "$kver" >"$root/etc/vfo-kernel"
# The kernel's built-in initramfs already has /dev/console; add it anyway
# when we can (root), so the image does not depend on that.
mknod -m 0600 "$root/dev/console" c 5 1 2>/dev/null || true

mkdir -p "$(dirname "$output")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --reproducible --quiet) | gzip -6n >"$output.tmp"
mv -f "$output.tmp" "$output"
if [ -n "$kernel_path_file" ]; then
        echo "$kernel" >"$kernel_path_file.tmp"
        mv -f "$kernel_path_file.tmp" "$kernel_path_file"
fi
echo "$prog: $output ($(du -k "$output" | cut -f1) KiB) for $kernel"
