#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install every build, test and lab dependency of vfo on Debian 12 (bookworm)
# or 13 (trixie).
# Idempotent: packages already present are left alone. Quiet unless something fails.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps.sh: must run as root (apt-get)" >&2
        exit 1
fi

build=(
        autoconf automake libtool pkg-config make gcc
        libsystemd-dev libudev-dev libvirt-dev libxml2-dev libprotobuf-c-dev protobuf-c-compiler
        libmnl-dev libbpf-dev bpftool clang llvm libclang-rt-dev libcmocka-dev
        xz-utils
)
tests=(
        dbus systemd python3 umockdev libumockdev-dev gcovr
)
lab=(
        libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
        qemu-system-x86 qemu-utils linux-image-amd64 busybox-static cpio kmod
        iproute2 tcpdump util-linux procps python3 dnsmasq-base mmdebstrap systemd-container
)

missing=()
for p in "${build[@]}" "${tests[@]}" "${lab[@]}"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
        echo "install-deps.sh: all dependencies present"
        exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get -q update && \
       apt-get -q -y --no-install-recommends install "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "install-deps.sh: apt-get failed (see above)" >&2
        exit 1
fi
echo "install-deps.sh: done"
