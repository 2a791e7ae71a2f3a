# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab hosts under systemd (sourced after lib.sh and lib-vfod.sh): each lab
# "host" is a Debian 12 container booted with systemd as PID 1
# (systemd-nspawn), in that host's network namespace of the two-host
# topology, with libvirt and the vfo-host package installed as a user
# installs them: libvirtd socket-activated, vfod started by its unit with
# the shipped hardening, the container's own system bus, libvirt's hook
# from the package.
#
# The root file system (mkhostroot) is built once with mmdebstrap and kept
# (VFO_LAB_HOSTROOT, default /var/tmp/vfo-lab-hostroot-VERSION); each host
# boots it with a volatile overlay (nothing it writes survives). What the
# lab changes in it, and why:
#   /etc/libvirt/qemu.conf   QEMU runs as root without labels, cgroups or a
#                            /dev namespace: the lab's files (kernel, guest
#                            image, consoles) are root's, and the container
#                            has no writable cgroup v1 controllers
#   bind mounts              the lab's state directory at the same path (the
#                            guests' consoles and the other host's sockets)
#                            and at /run/vfo-lab (vfod.service has a
#                            private /tmp: there it reaches the other host's
#                            bus, LAB_BUS_IN), the guest kernel and image
#                            read-only, and the
#                            host's /run/libvirt, /run/dbus and /etc/vfo in
#                            a directory of the lab, so that the lab talks to
#                            them from outside (LAB_URI, LAB_BUS)
# Facts this relies on (measured here, a machine without systemd as PID 1,
# cgroup v1 hybrid): systemd-nspawn 252 needs --register=no --keep-unit, a
# cgroup of its own per container in the name=systemd and cgroup2
# hierarchies (else all containers share /payload), a unified hierarchy
# inside (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: v1 controllers are read-only
# there and libvirt cannot create its groups), both
# --network-namespace-path and --private-network (without the latter /sys
# shows the machine's interfaces), and a console it can write to
# (--console=read-only; with pipe the boot is silent, not hung). SIGTERM to
# nspawn halts the container in about a second.

LAB_HOSTROOT=${VFO_LAB_HOSTROOT:-/var/tmp/vfo-lab-hostroot-0.1-${VFO_LAB_SUITE:-bookworm}}
LAB_CG_PARENT=vfo-lab
declare -A LAB_NSPAWN=()        # host -> systemd-nspawn pid
declare -A LAB_BUS_IN=()        # host -> its bus's address inside any host

# mkhostroot DEB: the hosts' root file system with the vfo-host package DEB
# (tests/lab/mkrootfs.sh; rebuilt when DEB or the recipe changed).
mkhostroot() {
        local deb=$1 stamp
        # the package and the recipe
        stamp="${VFO_LAB_SUITE:-bookworm} $(stat -L -c '%n %s %Y' "$deb") $(cat "$LAB_SRCDIR/mkrootfs.sh" "${BASH_SOURCE[0]}" | md5sum)"
        if [ -f "$LAB_HOSTROOT.stamp" ] && [ "$(cat "$LAB_HOSTROOT.stamp")" = "$stamp" ] &&
                [ -x "$LAB_HOSTROOT/lib/systemd/systemd" ]; then
                return 0
        fi
        rm -rf "$LAB_HOSTROOT" "$LAB_HOSTROOT.stamp"
        lab_log "building the hosts' root file system in $LAB_HOSTROOT (mmdebstrap, about a minute)"
        bash "$LAB_SRCDIR/mkrootfs.sh" apt \
                systemd,systemd-sysv,dbus,iproute2,procps,libvirt-daemon-system,libvirt-clients,qemu-system-x86 \
                "$deb" "$LAB_HOSTROOT" || lab_die "the hosts' root file system could not be built"
        lab_qemu_conf "host under systemd (tests/lab/lib-systemd.sh)" >>"$LAB_HOSTROOT/etc/libvirt/qemu.conf"
        : >"$LAB_HOSTROOT/etc/machine-id"
        echo "$stamp" >"$LAB_HOSTROOT.stamp"
}

# lab_in_host NAME CMD...: CMD in host NAME's container (all its
# namespaces: the container's PID 1 is the child of systemd-nspawn)
lab_in_host() {
        local name=$1 init
        shift
        init=$(awk '{ print $1 }' "/proc/${LAB_NSPAWN[$name]}/task/${LAB_NSPAWN[$name]}/children" 2>/dev/null)
        [ -n "$init" ] || return 125
        timeout "${LAB_IN_HOST_TIMEOUT:-60}" nsenter -t "$init" -a \
                env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
}

lab_host_booted() {
        local st
        st=$(LAB_IN_HOST_TIMEOUT=5 lab_in_host "$1" systemctl is-system-running 2>/dev/null) || true
        [ "$st" = running ] || [ "$st" = degraded ]
}

# lab_systemd_host_start NAME: host NAME's container, booted; LAB_URI[NAME]
# and LAB_BUS[NAME] reach its libvirtd and its system bus.
lab_systemd_host_start() {
        local name=$1 d h t0 pid
        d=$LAB_STATE/$name
        mkdir -p "$d"/run-libvirt "$d"/run-dbus "$d"/etc-vfo
        lab_host_net "$name"
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
                [ -d "$h" ] && mkdir -p "$h/$LAB_CG_PARENT/$LAB_ID-$name"
        done
        t0=$(lab_ms)
        # shellcheck disable=SC2016 # expanded by the inner bash
        SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 setsid unshare -m --propagation private bash -c '
                for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
                        [ -d "$h" ] && echo $$ >"$h/$4/cgroup.procs"
                done
                mount -t tmpfs -o mode=755,size=16m tmpfs /run/systemd
                exec systemd-nspawn -q -D "$0" -M "$1" --register=no --keep-unit --volatile=overlay \
                        --network-namespace-path="/run/netns/$2" --private-network --console=read-only \
                        --bind="$3" --bind="$3/$1/run-libvirt:/run/libvirt" --bind="$3/$1/run-dbus:/run/dbus" \
                        --bind="$3/$1/etc-vfo:/etc/vfo" --bind="$3:/run/vfo-lab" \
                        --bind-ro=/boot --bind-ro="$5" --boot
        ' "$LAB_HOSTROOT" "$name" "$(lab_host_ns "$name")" "$LAB_STATE" "$LAB_CG_PARENT/$LAB_ID-$name" \
                "$(dirname "$LAB_INITRAMFS")" </dev/null >"$d/console.log" 2>"$d/nspawn.err" &
        pid=$!
        LAB_NSPAWN[$name]=$pid
        lab_pid_record "$pid"
        LAB_URI[$name]="qemu+unix:///system?socket=$d/run-libvirt/libvirt-sock"
        LAB_BUS[$name]="unix:path=$d/run-dbus/system_bus_socket"
        LAB_BUS_IN[$name]="unix:path=/run/vfo-lab/$name/run-dbus/system_bus_socket"
        LAB_INSTANCES+=("$name")
        if ! lab_wait 90 "host $name boots (systemd)" lab_host_booted "$name"; then
                tail -n 20 "$d/console.log" "$d/nspawn.err" >&2
                lab_die "host $name did not boot"
        fi
        lab_log "host $name: systemd up in $(($(lab_ms) - t0)) ms (nspawn pid $pid; $(lab_in_host "$name" systemctl is-system-running))"
        # socket activation: the first call starts libvirtd
        lab_wait 60 "libvirtd $name API" lab_virsh_quiet "$name" list --all ||
                lab_die "libvirtd $name does not answer (socket activation)"
        lab_virsh_quiet "$name" capabilities || lab_die "libvirtd $name: no capabilities"
        lab_log "host $name: libvirtd up after $(($(lab_ms) - t0)) ms, by socket activation"
}

# lab_systemd_hosts_stop: halt every container (the teardown's first step)
lab_systemd_hosts_stop() {
        local name pid h _
        for name in "${!LAB_NSPAWN[@]}"; do
                pid=${LAB_NSPAWN[$name]}
                kill -TERM "$pid" 2>/dev/null || continue
        done
        for name in "${!LAB_NSPAWN[@]}"; do
                pid=${LAB_NSPAWN[$name]}
                for _ in $(seq 100); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
                        [ -d "$h/$LAB_CG_PARENT/$LAB_ID-$name" ] &&
                                find "$h/$LAB_CG_PARENT/$LAB_ID-$name" -depth -type d -exec rmdir {} \; 2>/dev/null
                done
        done
        for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
                rmdir "$h/$LAB_CG_PARENT" 2>/dev/null
        done
        return 0
}

# vfod_unit_config NAME COUNT: /etc/vfo/vfod.conf of host NAME, as an
# administrator writes it: the pool, the forwarding address, nothing else
# (libvirt, the state directory, the bus: the defaults).
vfod_unit_config() {
        mkdir -p "$LAB_STATE/$1/etc-vfo"
        cat >"$LAB_STATE/$1/etc-vfo/vfod.conf" <<EOF
# vfo lab host $1
[Daemon]
AgentTimeoutSec=10
UnplugTimeoutSec=20
$(VFO_LAB_FORWARD_COPIES=${VFO_LAB_DISTRO_FORWARD_COPIES:-0} vfod_forward_line "$1")

[Pool lab]
Type=emulated
Bridge=$LAB_BRIDGE
Count=$2
EOF
}
