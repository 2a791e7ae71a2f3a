# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# vfo lab library, sourced by the lab scenarios (tests/lab/*.sh).
#
# A lab run owns, and removes again in lab_teardown (EXIT trap, also on
# Ctrl-C): one network namespace "vfolab-<pid>" with the bridge vfobr0
# (10.77.0.1/24, fd77::1/64) and the traffic peer (with the default
# VFO_LAB_TOPOLOGY=twohost also one netns per host, below), a state
# directory, private libvirtd/virtlogd instances (each in its own mount
# namespace inside the lab netns or its host's), an
# optional private system D-Bus, the VMs and the loss meters. Nothing
# touches the machine's own interfaces, /etc/libvirt or /run/libvirt.
#
# Environment (set by `make check-lab`; defaults work from the source tree):
#   VFO_LAB_SRCDIR     tests/lab in the source tree (templates, scripts)
#   VFO_LAB_BUILDDIR   tests/lab in the build tree (guest image, loss meter)
#   VFO_TOP_SRCDIR     top of the source tree (contrib/dbus/*.conf)
#   VFO_TOP_BUILDDIR   top of the build tree
#   VFO_LAB_KVM=1      use KVM instead of TCG
#   VFO_LAB_BOND=1     guests without STANDBY: virtio + VF in an active-backup bond
#   VFO_LAB_BOND=agent the same, but vfo-agent creates the bond (vfo-agent.conf Bond=)
#   VFO_LAB_KEEP=1     keep the state directory (logs) after teardown
#   VFO_LAB_CONSOLE=pty  serial console on a pty (+ the same log file), for
#                      `virsh console` (with VFO_LAB_CMDLINE=vfo.shell=1)
#   VFO_LAB_CMDLINE=…  extra guest kernel command line (vfo.debug=1, vfo.shell=1)
#   VFO_LAB_GUEST=debian  the guests are the Debian 12 image of
#                      tests/lab/mkdebguest.sh (systemd, udev, NetworkManager
#                      or systemd-networkd, the vfo-guest package) given as
#                      VFO_LAB_INITRAMFS; 1 GiB each; the switch serves DHCP
#                      (dnsmasq: every VM its lab_vm_ip4 by MAC)
#   VFO_LAB_HOLD=1     at the end of a scenario, keep the lab up until Ctrl-C
#   VFO_LAB_TIMEOUT=S  a scenario still running after S seconds (default 600)
#                      is ended (SIGTERM, then its hung child) and torn down
#   VFO_LAB_LIBVIRT_LOG_FILTERS=…  libvirtd's log_filters (e.g.
#                      "1:qemu.qemu_monitor 3:*": QEMU's monitor traffic) into
#                      each instance's libvirtd.log, which keeps warnings only
#                      otherwise
#   VFO_LAB_TOPOLOGY=  twohost (default): the lab netns is the
#                      top-of-rack switch (a learning bridge vfobr0 with
#                      the peer, never a static FDB entry) and every
#                      libvirtd instance is a host of its own: a netns
#                      "vfolab-<pid>-<instance>" with its own vfobr0, an
#                      uplink veth into the switch, and an address on a
#                      separate host network (10.78.0.0/24, lab_host_addr)
#                      for the migration stream and the forwarding tunnels
#                      (vfod.conf ForwardAddress=); single: the older
#                      variant, every libvirtd instance in the lab netns on
#                      its one bridge (no deployment looks like it: one
#                      static FDB entry steers the whole network)

LAB_SRCDIR=${VFO_LAB_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
LAB_BUILDDIR=${VFO_LAB_BUILDDIR:-$LAB_SRCDIR}
LAB_TOP_SRCDIR=${VFO_TOP_SRCDIR:-$(cd "$LAB_SRCDIR/../.." && pwd)}
# shellcheck disable=SC2034 # for scenarios (e.g. agent/ paths)
LAB_TOP_BUILDDIR=${VFO_TOP_BUILDDIR:-$(cd "$LAB_BUILDDIR/../.." && pwd)}
LAB_LOSSMETER=${VFO_LAB_LOSSMETER:-$LAB_BUILDDIR/vfo-lossmeter}
LAB_INITRAMFS=${VFO_LAB_INITRAMFS:-$LAB_BUILDDIR/guest/initramfs.cpio.gz}
LAB_KERNEL_PATH_FILE=$LAB_BUILDDIR/guest/kernel-path
LAB_EMULATOR=${VFO_LAB_EMULATOR:-/usr/bin/qemu-system-x86_64}
LAB_BRIDGE=vfobr0
LAB_ECHO_PORT=7000

LAB_ID=
LAB_NS=
LAB_STATE=
LAB_T0=${EPOCHREALTIME/./}
LAB_PIDS=()                 # "pid:starttime" of every process the lab started
LAB_INSTANCES=()            # libvirtd instance names
declare -A LAB_URI=()       # instance -> libvirt URI
declare -A LAB_BUS=()       # named private bus -> D-Bus address
declare -A LAB_HOOK=()      # instance -> command line of its qemu hook (set before lab_libvirtd_start)
declare -A LAB_VM_INST=()   # VM name -> instance
declare -A LAB_VM_INDEX=()  # VM name -> index (MAC, addresses)
declare -A LAB_VM_T0=()     # VM name -> lab ms when virsh create was called
LAB_TOPOLOGY=${VFO_LAB_TOPOLOGY:-twohost}
LAB_GUEST=${VFO_LAB_GUEST:-busybox}
declare -A LAB_HOST_NS=()   # instance -> its netns (twohost; single: the lab netns)
declare -A LAB_HOST_ADDR=() # instance -> its address on the host network (twohost)
LAB_DBUS_PID=
LAB_WATCHDOG=
LAB_CHECKS_PASSED=0
LAB_CHECKS_FAILED=0
LAB_FAILED_NAMES=()

# ---------------------------------------------------------------- helpers

# Milliseconds since the library was loaded.
lab_ms() { echo $(((${EPOCHREALTIME/./} - LAB_T0) / 1000)); }

lab_log() {
        local ms
        ms=$(lab_ms)
        printf '[%4d.%03d] %s\n' $((ms / 1000)) $((ms % 1000)) "$*" >&2
}

lab_die() {
        lab_log "ERROR: $*"
        exit 1
}

# lab_skip REASON: exit 77 (automake's "skipped").
lab_skip() {
        echo "SKIP: $*" >&2
        exit 77
}

# lab_check NAME CMD...: run a check, print PASS/FAIL, count it.
lab_check() {
        local name=$1
        shift
        if "$@"; then
                echo "PASS: $name"
                LAB_CHECKS_PASSED=$((LAB_CHECKS_PASSED + 1))
        else
                echo "FAIL: $name"
                LAB_CHECKS_FAILED=$((LAB_CHECKS_FAILED + 1))
                LAB_FAILED_NAMES+=("$name")
        fi
}

# lab_require NAME CMD...: like lab_check, but the scenario stops (exit 1)
# when it fails: later checks would be meaningless.
lab_require() {
        local before=$LAB_CHECKS_FAILED
        lab_check "$@"
        if [ "$LAB_CHECKS_FAILED" -ne "$before" ]; then
                lab_log "stopping: '$1' failed"
                lab_finish
                exit 1
        fi
}

# lab_finish: exit status from the checks counted by lab_check.
lab_finish() {
        lab_log "checks: $LAB_CHECKS_PASSED passed, $LAB_CHECKS_FAILED failed"
        lab_hold
        [ "$LAB_CHECKS_FAILED" -eq 0 ] && [ "$LAB_CHECKS_PASSED" -gt 0 ]
}

# lab_hold: with VFO_LAB_HOLD=1, keep the lab up (for poking at it) until
# Ctrl-C / SIGTERM.
lab_hold() {
        [ "${VFO_LAB_HOLD:-0}" = 1 ] || return 0
        local inst vm
        lab_log "VFO_LAB_HOLD=1: lab kept up until Ctrl-C; netns $LAB_NS, state $LAB_STATE"
        for inst in "${LAB_INSTANCES[@]}"; do
                lab_log "  instance $inst: virsh -c '${LAB_URI[$inst]}'"
        done
        for vm in "${!LAB_VM_INST[@]}"; do
                lab_log "  VM $vm: console log $(lab_vm_console "$vm"), agent channel $(lab_vm_channel "$vm")"
        done
        lab_log "  peer: ip netns exec $LAB_NS …"
        # ending the hold keeps the scenario's verdict
        local st=0
        [ "$LAB_CHECKS_FAILED" -eq 0 ] && [ "$LAB_CHECKS_PASSED" -gt 0 ] || st=1
        # shellcheck disable=SC2064
        trap "lab_log 'hold ended'; exit $st" INT TERM HUP
        while :; do sleep 1; done
}

# lab_wait TIMEOUT_S DESCRIPTION CMD...: poll CMD every 0.1 s until it
# succeeds; fail after TIMEOUT_S seconds.
lab_wait() {
        local timeout=$1 what=$2
        shift 2
        local deadline=$(($(lab_ms) + timeout * 1000))
        until "$@"; do
                if [ "$(lab_ms)" -ge "$deadline" ]; then
                        lab_log "timeout (${timeout}s) waiting for $what"
                        return 1
                fi
                sleep 0.1
        done
}

# lab_requirements: exit 77 unless this machine can run the lab.
lab_requirements() {
        [ "$(id -u)" -eq 0 ] || lab_skip "the lab needs root (network namespaces, libvirtd)"
        [ -c /dev/net/tun ] || lab_skip "/dev/net/tun is missing"
        [ -x "$LAB_EMULATOR" ] || lab_skip "$LAB_EMULATOR is missing (install qemu-system-x86)"
        local c
        for c in libvirtd virtlogd virsh ip unshare; do
                command -v "$c" >/dev/null ||
                        lab_die "$c is missing (run contrib/install-deps.sh)"
        done
        [ -r "$LAB_INITRAMFS" ] || lab_die "$LAB_INITRAMFS missing (make lab-image)"
        [ -r "$LAB_KERNEL_PATH_FILE" ] || lab_die "$LAB_KERNEL_PATH_FILE missing (make lab-image)"
        [ -x "$LAB_LOSSMETER" ] || lab_die "$LAB_LOSSMETER missing (make)"
        case $LAB_GUEST in
        busybox) ;;
        debian) command -v dnsmasq >/dev/null || lab_die "dnsmasq is missing (run contrib/install-deps.sh)" ;;
        *) lab_die "VFO_LAB_GUEST=$LAB_GUEST: busybox or debian" ;;
        esac
}

lab_kernel() { cat "$LAB_KERNEL_PATH_FILE"; }

# Run a command inside the lab's network namespace.
lab_ns() { ip netns exec "$LAB_NS" "$@"; }

# lab_host_ns INSTANCE: the netns of libvirtd INSTANCE (its taps, bridge
# and vfod): its own with VFO_LAB_TOPOLOGY=twohost, else the lab netns.
lab_host_ns() { echo "${LAB_HOST_NS[$1]:-$LAB_NS}"; }

# lab_on_host_ns INSTANCE CMD...: run CMD in that netns.
lab_on_host_ns() {
        local inst=$1
        shift
        ip netns exec "$(lab_host_ns "$inst")" "$@"
}

# lab_dev_ns DEV: the lab netns that has the link DEV (a tap), the lab
# netns when none has it.
lab_dev_ns() {
        local d
        for d in "${LAB_HOST_NS[@]}"; do
                ip -n "$d" link show "$1" >/dev/null 2>&1 && { echo "$d"; return 0; }
        done
        echo "$LAB_NS"
}

# lab_host_addr INSTANCE: where a migration to INSTANCE goes (its address on
# the host network; 127.0.0.1 when all instances share the lab netns).
lab_host_addr() { echo "${LAB_HOST_ADDR[$1]:-127.0.0.1}"; }

# lab_mig_opts DST: vfoctl migrate's options for the migration stream to
# instance DST (words without blanks: for an unquoted $(...)).
lab_mig_opts() { echo "--migrate-uri tcp://$(lab_host_addr "$1") --listen-address $(lab_host_addr "$1")"; }

# lab_host_net NAME: with VFO_LAB_TOPOLOGY=twohost, the netns of host NAME:
# its bridge, its uplink into the switch (the lab netns's bridge) and its
# address on the host network (a second bridge in the lab netns, vfohost0).
lab_host_net() {
        local name=$1 ns k
        [ "$LAB_TOPOLOGY" = twohost ] || return 0
        [ -z "${LAB_HOST_NS[$name]:-}" ] || return 0
        ns=$LAB_ID-$name
        k=$((${#LAB_HOST_NS[@]} + 1))
        [ "$k" -le 9 ] || lab_die "twohost: at most 9 hosts"
        ip netns add "$ns" || lab_die "cannot create netns $ns"
        LAB_HOST_NS[$name]=$ns
        LAB_HOST_ADDR[$name]=10.78.0.$((10 + k))
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip -n "$ns" link add "$LAB_BRIDGE" address "02:77:00:00:0$k:01" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
        ip -n "$ns" link set "$LAB_BRIDGE" up
        # the uplink: host side on the host's bridge, the switch's port on the
        # switch's bridge (it only learns)
        ip -n "$ns" link add uplink type veth peer name "tor-$name" netns "$LAB_NS"
        ip -n "$ns" link set uplink master "$LAB_BRIDGE" up
        lab_ns ip link set "tor-$name" master "$LAB_BRIDGE" up
        # the host network, for the migration stream
        if ! lab_ns ip link show vfohost0 >/dev/null 2>&1; then
                lab_ns ip link add vfohost0 type bridge stp_state 0 forward_delay 0
                lab_ns ip link set vfohost0 up
        fi
        ip -n "$ns" link add hostnet type veth peer name "hn-$name" netns "$LAB_NS"
        lab_ns ip link set "hn-$name" master vfohost0 up
        ip -n "$ns" addr add "${LAB_HOST_ADDR[$name]}/24" dev hostnet
        ip -n "$ns" link set hostnet up
        lab_log "host $name: netns $ns, its own $LAB_BRIDGE, uplink into the switch (tor-$name), address ${LAB_HOST_ADDR[$name]}"
}

# ---------------------------------------------------------------- processes

lab_pid_starttime() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        # shellcheck disable=SC2086 # split the fields on purpose
        set -- $stat
        echo "${20}"
}

# lab_pid_record PID: remember a process the lab started (with its start
# time, so teardown never signals a recycled PID).
lab_pid_record() {
        local st
        st=$(lab_pid_starttime "$1") || return 0
        LAB_PIDS+=("$1:$st")
}

# lab_pid_alive PID:STARTTIME
lab_pid_alive() {
        local pid=${1%%:*} st=${1#*:} now
        now=$(lab_pid_starttime "$pid") || return 1
        [ "$now" = "$st" ]
}

lab_pidfile_record() {
        local f=$1 pid
        [ -s "$f" ] || return 0
        read -r pid <"$f" || return 0
        [ -n "$pid" ] && lab_pid_record "$pid"
}

# ---------------------------------------------------------------- lab

# lab_init: create the state directory, the network namespace, the bridge
# and install the teardown traps.
lab_init() {
        LAB_ID=vfolab-$$
        LAB_NS=$LAB_ID
        LAB_STATE=$(mktemp -d "${TMPDIR:-/tmp}/$LAB_ID.XXXXXX")
        trap lab_teardown EXIT
        trap 'lab_log "interrupted"; exit 130' INT
        trap 'lab_log "terminated"; exit 143' TERM
        trap 'lab_log "hangup"; exit 129' HUP
        lab_log "lab $LAB_ID, state in $LAB_STATE"
        lab_watchdog_start

        ip netns add "$LAB_NS"
        lab_ns ip link set lo up
        # Taps get no IPv6 (no RS/DAD noise from the bridge ports); the
        # bridge, the lab's peer address, gets it back.
        lab_ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1
        # A fixed MAC: a bridge without one takes its lowest port's, and a VM
        # destroyed then changes it under the other VMs' ARP caches.
        lab_ns ip link add "$LAB_BRIDGE" address 02:77:00:00:00:01 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
        lab_ns sysctl -qw "net.ipv6.conf.$LAB_BRIDGE.disable_ipv6=0"
        lab_ns ip addr add 10.77.0.1/24 dev "$LAB_BRIDGE"
        lab_ns ip -6 addr add fd77::1/64 dev "$LAB_BRIDGE" nodad
        lab_ns ip link set "$LAB_BRIDGE" up
        [ "$LAB_GUEST" = debian ] && lab_dhcp_start
        return 0
}

# lab_dhcp_start: the switch's DHCP server for distribution guests: VM
# INDEX (1-9) gets lab_vm_ip4 INDEX by its MAC, nothing else is given out.
lab_dhcp_start() {
        local i hosts=()
        for i in 1 2 3 4 5 6 7 8 9; do
                hosts+=("--dhcp-host=$(lab_vm_mac "$i"),$(lab_vm_ip4 "$i")")
        done
        ip netns exec "$LAB_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=0 \
                --interface="$LAB_BRIDGE" --bind-interfaces --dhcp-authoritative --leasefile-ro \
                --dhcp-range=10.77.0.0,static,255.255.255.0,12h "${hosts[@]}" \
                --log-dhcp --log-facility="$LAB_STATE/dnsmasq.log" &
        lab_pid_record $!
        lab_log "DHCP server on the switch (dnsmasq pid $!)"
}

# lab_watchdog_start: after VFO_LAB_TIMEOUT seconds, SIGTERM the scenario
# (its trap tears the lab down) and, if a hung command keeps bash from
# running the trap, that command too.
lab_watchdog_start() {
        local t=${VFO_LAB_TIMEOUT:-600} main=$$
        (
                trap - INT TERM HUP
                i=0
                while [ $i -lt "$t" ]; do sleep 1; i=$((i + 1)); done
                echo "lab: VFO_LAB_TIMEOUT=${t}s reached, ending the scenario" >&2
                kill -TERM "$main" 2>/dev/null
                sleep 2
                for f in /proc/[0-9]*/stat; do
                        stat=$(cat "$f" 2>/dev/null) || continue
                        pid=${f#/proc/}
                        pid=${pid%/stat}
                        stat=${stat##*) }
                        # shellcheck disable=SC2086 # split the fields on purpose
                        set -- $stat
                        [ "$2" = "$main" ] && [ "$pid" != "$BASHPID" ] && kill -TERM "$pid" 2>/dev/null
                done
        ) </dev/null &
        LAB_WATCHDOG=$!
        lab_pid_record "$LAB_WATCHDOG"
}

# lab_teardown: EXIT trap. Destroys the domains, ends every process the lab
# started, deletes the namespace and the state directory, then verifies that
# nothing is left. Keeps the exit status (a leftover turns success into 1).
lab_teardown() {
        local rc=$?
        trap '' INT TERM HUP
        trap - EXIT
        set +e
        [ -n "$LAB_ID" ] || exit "$rc"
        lab_log "teardown of $LAB_ID (exit status $rc)"
        [ -n "$LAB_WATCHDOG" ] && kill "$LAB_WATCHDOG" 2>/dev/null
        local inst vm d p
        [ "$rc" -eq 0 ] || lab_failure_context

        # 1. domains, politely (qemu gets SIGTERM from libvirt)
        for inst in "${LAB_INSTANCES[@]}"; do
                for vm in $(timeout 10 virsh -q -c "${LAB_URI[$inst]}" list --name 2>/dev/null); do
                        timeout 15 virsh -q -c "${LAB_URI[$inst]}" destroy "$vm" >/dev/null 2>&1
                done
        done

        # hosts under systemd (lib-systemd.sh): halted, as systemd halts them
        declare -F lab_systemd_hosts_stop >/dev/null && lab_systemd_hosts_stop

        # 2. every process we started or that lives in our namespace
        for inst in "${LAB_INSTANCES[@]}"; do
                d=$LAB_STATE/$inst/run
                for p in "$d"/qemu/*.pid "$d"/libvirtd.pid "$d"/virtlogd.pid; do
                        [ -f "$p" ] && lab_pidfile_record "$p"
                done
        done
        for d in "$LAB_NS" "${LAB_HOST_NS[@]}"; do
                [ -n "$d" ] && [ -e "/run/netns/$d" ] || continue
                for p in $(ip netns pids "$d" 2>/dev/null); do
                        lab_pid_record "$p"
                done
        done
        local live=()
        for p in "${LAB_PIDS[@]}"; do
                lab_pid_alive "$p" && live+=("$p")
        done
        if [ ${#live[@]} -gt 0 ]; then
                for p in "${live[@]}"; do kill -TERM "${p%%:*}" 2>/dev/null; done
                local _
                for _ in $(seq 50); do
                        local still=()
                        for p in "${live[@]}"; do lab_pid_alive "$p" && still+=("$p"); done
                        live=("${still[@]}")
                        [ ${#live[@]} -eq 0 ] && break
                        sleep 0.1
                done
                for p in "${live[@]}"; do
                        lab_log "teardown: SIGKILL ${p%%:*} ($(cat "/proc/${p%%:*}/comm" 2>/dev/null))"
                        kill -KILL "${p%%:*}" 2>/dev/null
                done
                sleep 0.2
        fi

        # 3. namespace (its mount namespaces died with their processes)
        for d in "${LAB_HOST_NS[@]}" "$LAB_NS"; do
                [ -n "$d" ] && [ -e "/run/netns/$d" ] && ip netns del "$d"
        done

        # 4. verify
        local left=()
        for p in "${LAB_PIDS[@]}"; do
                lab_pid_alive "$p" && left+=("process ${p%%:*} $(cat "/proc/${p%%:*}/comm" 2>/dev/null)")
        done
        for d in "$LAB_NS" "${LAB_HOST_NS[@]}"; do
                [ -n "$d" ] && ip netns list 2>/dev/null | grep -qw -- "$d" && left+=("netns $d")
        done
        grep -q "$LAB_ID" /proc/mounts && left+=("mounts: $(grep "$LAB_ID" /proc/mounts | cut -d' ' -f2 | tr '\n' ' ')")

        if [ "${VFO_LAB_KEEP:-0}" = 1 ]; then
                : >"$LAB_STATE/.kept"
                lab_log "teardown: state kept in $LAB_STATE"
        else
                rm -rf "$LAB_STATE"
                [ -e "$LAB_STATE" ] && left+=("state dir $LAB_STATE")
        fi
        if [ ${#left[@]} -gt 0 ]; then
                lab_log "teardown: LEFTOVER: ${left[*]}"
                [ "$rc" -eq 0 ] && rc=1
        else
                lab_log "teardown: clean (no process, namespace, mount or state left)"
        fi
        # last, so that a log's tail names what failed
        for p in "${LAB_FAILED_NAMES[@]}"; do lab_log "failed check: $p"; done
        exit "$rc"
}

# lab_failure_context: what a failed run's logs say, before teardown removes
# them (CI keeps only the output): the domains every libvirtd knows and the
# last lines of libvirtd's errors, of every QEMU log and of every vfod log.
lab_failure_context() {
        local inst f
        for inst in "${LAB_INSTANCES[@]}"; do
                lab_log "context: libvirtd $inst: domains"
                timeout 10 virsh -q -c "${LAB_URI[$inst]}" list --all 2>&1 | sed 's/^/    /' >&2
                f=$LAB_STATE/$inst/log/libvirtd.log
                if [ -s "$f" ]; then
                        lab_log "context: libvirtd $inst: its last errors (startup noise left out)"
                        grep -Ev 'dnsmasq|system bus|udevGetDMIData|dmidecode|/dev/mem|security driver|tainted|^$' "$f" |
                                tail -n 8 | cut -c1-300 | sed 's/^/    /' >&2
                fi
                for f in "$LAB_STATE/$inst"/log/qemu/*.log; do
                        [ -s "$f" ] || continue
                        lab_log "context: libvirtd $inst: ${f##*/}"
                        tail -n 4 "$f" | cut -c1-300 | sed 's/^/    /' >&2
                done
        done
        for f in "$LAB_STATE"/vfod-*.log; do
                [ -s "$f" ] || continue
                lab_log "context: ${f##*/}"
                tail -n 12 "$f" | cut -c1-300 | sed 's/^/    /' >&2
        done
        # frames a link of the lab dropped (a tap whose QEMU did not read it),
        # and datagrams the meters' sockets had no room for
        for d in "$LAB_NS" "${LAB_HOST_NS[@]}"; do
                [ -n "$d" ] && [ -e "/run/netns/$d" ] || continue
                # one line a link: "RX: bytes packets errors dropped … \ VALUES"
                ip -n "$d" -s -o link show 2>/dev/null | awk -v ns="$d" '
                        { name = $2; sub(":$", "", name); rxd = txd = 0
                          for (i = 1; i <= NF; i++) {
                                  if ($i == "RX:") rxd = $(i + 11)
                                  if ($i == "TX:") txd = $(i + 11) }
                          if (rxd + 0 > 0 || txd + 0 > 0) printf "    netns %s: %s dropped rx %s tx %s\n", ns, name, rxd, txd }' >&2
        done
        # where the switch and each host's bridge send the VMs' MACs now
        for d in $(printf '%s\n' "$LAB_NS" "${LAB_HOST_NS[@]}" | sort -u); do
                [ -e "/run/netns/$d" ] || continue
                bridge -n "$d" fdb show 2>/dev/null | grep -i '^52:54:00:77:' | sed "s/^/    netns $d: fdb /" >&2 || true
        done
        lab_log "context: UDP of the lab netns (the meters): $(lab_ns awk '$1 == "Udp:" && n++ { print "in_errors=" $4 " rcvbuf_errors=" $6 }' /proc/net/snmp 2>/dev/null)"
        for f in "$LAB_STATE"/*.console.log; do
                [ -s "$f" ] || continue
                lab_log "context: ${f##*/}: the agent's last transitions"
                grep -a -E 'transition to the|VFO-GUEST: udp|drain marker' "$f" | tail -n 4 | cut -c1-300 | sed 's/^/    /' >&2
        done
}

# ---------------------------------------------------------------- libvirtd

# lab_qemu_conf WHAT: libvirt's qemu.conf settings of the lab: QEMU as
# root (the lab's files are root's), without labels, cgroups or a /dev
# namespace (a lab host has no cgroup v1 controllers of its own).
lab_qemu_conf() {
        cat <<EOF
# vfo lab $1: QEMU as root, no labels, cgroups or /dev namespace
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "logd"
EOF
}

# lab_libvirtd_start NAME: a private libvirtd + virtlogd in their own mount
# namespace inside the lab netns; waits until the API answers. Sets
# LAB_URI[NAME] (use lab_virsh NAME …).
lab_libvirtd_start() {
        local name=$1 d uuid t0 level=3
        d=$LAB_STATE/$name
        [ -z "${VFO_LAB_LIBVIRT_LOG_FILTERS:-}" ] || level=1
        mkdir -p "$d"/{etc,run,lib,cache,log}
        uuid=$(cat /proc/sys/kernel/random/uuid)
        cat >"$d/etc/libvirtd.conf" <<EOF
# vfo lab instance $name
host_uuid = "$uuid"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "$level:file:/var/log/libvirt/libvirtd.log"
EOF
        [ -z "${VFO_LAB_LIBVIRT_LOG_FILTERS:-}" ] ||
                printf 'log_filters = "%s"\n' "$VFO_LAB_LIBVIRT_LOG_FILTERS" >>"$d/etc/libvirtd.conf"
        if [ -n "${LAB_HOOK[$name]:-}" ]; then
                # libvirtd reads its hook directory when it starts
                mkdir -p "$d/etc/hooks/qemu.d"
                printf '#!/bin/sh\nexec %s "$@"\n' "${LAB_HOOK[$name]}" >"$d/etc/hooks/qemu.d/vfo"
                chmod 755 "$d/etc/hooks/qemu.d/vfo"
        fi
        cat >"$d/etc/virtlogd.conf" <<EOF
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
EOF
        lab_qemu_conf "instance $name" >"$d/etc/qemu.conf"
        LAB_URI[$name]="qemu+unix:///system?socket=$d/run/libvirt-sock"
        LAB_INSTANCES+=("$name")

        # QEMU capabilities probed by an earlier instance of this run are
        # valid here too (same binaries): saves the cold probe (seconds).
        local other
        for other in "${LAB_INSTANCES[@]}"; do
                [ "$other" != "$name" ] || continue
                if [ -d "$LAB_STATE/$other/cache/qemu/capabilities" ]; then
                        mkdir -p "$d/cache/qemu"
                        cp -r "$LAB_STATE/$other/cache/qemu/capabilities" "$d/cache/qemu/"
                        break
                fi
        done

        t0=$(lab_ms)
        lab_host_net "$name"
        # shellcheck disable=SC2016
        lab_on_host_ns "$name" unshare -m --propagation private bash -c '
                set -e
                d=$1
                mkdir -p /run/libvirt
                mount --bind "$d/etc" /etc/libvirt
                mount --bind "$d/run" /run/libvirt
                mount --bind "$d/lib" /var/lib/libvirt
                mount --bind "$d/cache" /var/cache/libvirt
                mount --bind "$d/log" /var/log/libvirt
                virtlogd -d -f /etc/libvirt/virtlogd.conf -p /run/libvirt/virtlogd.pid
                exec libvirtd -d -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid
        ' lab-libvirtd "$d" </dev/null >"$d/log/start.log" 2>&1 ||
                { cat "$d/log/start.log" >&2; lab_die "libvirtd $name did not start"; }
        lab_wait 10 "libvirtd $name pid file" test -s "$d/run/libvirtd.pid" ||
                lab_die "libvirtd $name wrote no pid file"
        lab_pidfile_record "$d/run/virtlogd.pid"
        lab_pidfile_record "$d/run/libvirtd.pid"
        if ! lab_wait 90 "libvirtd $name API" lab_virsh_quiet "$name" list --all; then
                tail -n 20 "$d/log/libvirtd.log" >&2
                lab_die "libvirtd $name does not answer"
        fi
        local t1
        t1=$(lab_ms)
        # libvirtd probes QEMU lazily; do it now so that "up" means ready.
        lab_virsh_quiet "$name" capabilities || lab_die "libvirtd $name: no capabilities"
        lab_log "libvirtd $name up: API after $((t1 - t0)) ms, QEMU capabilities after $(($(lab_ms) - t0)) ms (${LAB_URI[$name]})"
}

lab_virsh() {
        local name=$1
        shift
        virsh -q -c "${LAB_URI[$name]}" "$@"
}

lab_virsh_quiet() { lab_virsh "$@" >/dev/null 2>&1; }

# ---------------------------------------------------------------- dbus

# lab_dbus_start [NAME]: private system bus with contrib/dbus/*.conf.
# Without NAME it is the lab's bus: DBUS_SYSTEM_BUS_ADDRESS is exported.
# With NAME (one bus per lab "host", e.g. for two vfods) its address is
# LAB_BUS[NAME] and nothing is exported.
lab_dbus_start() {
        local name=${1:-} d=$LAB_STATE/dbus f inc=
        [ -n "$name" ] && d=$LAB_STATE/dbus-$name
        mkdir -p "$d"
        for f in "$LAB_TOP_SRCDIR"/contrib/dbus/*.conf; do
                [ -f "$f" ] && inc+="  <include>$(cd "$(dirname "$f")" && pwd)/$(basename "$f")</include>"$'\n'
        done
        local line
        while IFS= read -r line; do
                case $line in
                *@INCLUDES@*) printf '%s' "$inc" ;;
                *) printf '%s\n' "${line//@SOCKET@/$d/system_bus_socket}" ;;
                esac
        done <"$LAB_SRCDIR/dbus-system.conf.in" >"$d/system.conf"
        dbus-daemon --config-file="$d/system.conf" --fork --nopidfile \
                --print-pid=3 3>"$d/pid" </dev/null >"$d/log" 2>&1 ||
                { cat "$d/log" >&2; lab_die "dbus-daemon did not start"; }
        lab_pidfile_record "$d/pid"
        read -r LAB_DBUS_PID <"$d/pid"
        lab_wait 5 "dbus socket" test -S "$d/system_bus_socket" || lab_die "no dbus socket"
        if [ -n "$name" ]; then
                LAB_BUS[$name]="unix:path=$d/system_bus_socket"
                lab_log "dbus-daemon $name pid $LAB_DBUS_PID at ${LAB_BUS[$name]}"
        else
                export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$d/system_bus_socket"
                lab_log "dbus-daemon pid $LAB_DBUS_PID at $DBUS_SYSTEM_BUS_ADDRESS"
        fi
}

# ---------------------------------------------------------------- VMs

lab_vm_ip4() { echo "10.77.0.$((10 + $1))"; }
lab_vm_ip6() { echo "fd77::$((10 + $1))"; }
lab_vm_mac() { printf '52:54:00:77:00:%02x\n' "$1"; }
lab_vm_console() { echo "$LAB_STATE/$1.console.log"; }
lab_vm_channel() { echo "$LAB_STATE/$1.agent.sock"; }

# lab_sed_escape STRING: escape for a sed replacement with | as delimiter.
lab_sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# lab_domain_xml NAME INDEX: the domain XML of VM NAME (1 <= INDEX <= 200).
lab_domain_xml() {
        local name=$1 idx=$2 domtype=qemu cpu='' kernel memory=512 extra=${VFO_LAB_CMDLINE:-}
        kernel=$(lab_kernel)
        if [ "$LAB_GUEST" = debian ]; then
                # systemd as PID 1 from the image; its root file system is in RAM
                memory=1024
                extra="rdinit=/lib/systemd/systemd systemd.show_status=0 $extra"
        fi
        if [ "${VFO_LAB_KVM:-0}" = 1 ]; then
                domtype=kvm
                cpu="<cpu mode='host-passthrough'/>"
        fi
        sed -e "s|@NAME@|$(lab_sed_escape "$name")|g" \
            -e "s|@DOMTYPE@|$domtype|g" \
            -e "s|@CPU@|$cpu|g" \
            -e "s|@EMULATOR@|$(lab_sed_escape "$LAB_EMULATOR")|g" \
            -e "s|@KERNEL@|$(lab_sed_escape "$kernel")|g" \
            -e "s|@INITRD@|$(lab_sed_escape "$LAB_INITRAMFS")|g" \
            -e "s|@IP4@|$(lab_vm_ip4 "$idx")|g" \
            -e "s|@IP6@|$(lab_vm_ip6 "$idx")|g" \
            -e "s|@CMDLINE_EXTRA@|$(lab_sed_escape "$extra")|g" \
            -e "s|@MEMORY@|$memory|g" \
            -e "s|@BRIDGE@|$LAB_BRIDGE|g" \
            -e "s|@MAC@|$(lab_vm_mac "$idx")|g" \
            -e "s|@CONSOLE@|$(lab_sed_escape "$(lab_vm_console "$name")")|g" \
            -e "s|@CHANNEL@|$(lab_sed_escape "$(lab_vm_channel "$name")")|g" \
            "$LAB_SRCDIR/domain.xml.in" |
        if [ "${VFO_LAB_BOND:-0}" = 1 ]; then
                # No STANDBY feature: the guest bonds virtio and the VF itself.
                sed -e "/<teaming /d" -e "s|\(vfo.ip=[^ ']*\)|\1 vfo.bond=1|"
        elif [ "${VFO_LAB_BOND:-0}" = agent ]; then
                # The same, but vfo-agent creates the bond (Bond=bond0).
                sed -e "/<teaming /d" -e "s|\(vfo.ip=[^ ']*\)|\1 vfo.bond=agent|"
        else
                cat
        fi |
        if [ "${VFO_LAB_CHANNEL:-path}" = auto ]; then
                # libvirt picks the socket under its own state directory, per
                # instance, as on a real host (two QEMUs of one migration
                # must not share a socket path: the source removes it on exit)
                sed -e "s|<source mode='bind' path='[^']*'/>|<source mode='bind'/>|"
        else
                cat
        fi |
        if [ "${VFO_LAB_CONSOLE:-file}" = pty ]; then
                sed -e "s|<serial type='file'>|<serial type='pty'>|" \
                    -e "s|<source path='\([^']*\)' append='off'/>|<log file='\1' append='off'/>|"
        else
                cat
        fi
}

# lab_vf_xml INDEX [ALIAS]: the emulated VF (e1000e, same MAC as VM INDEX).
lab_vf_xml() {
        local idx=$1 alias=${2:-ua-vfo-vf0}
        sed -e "s|@BRIDGE@|$LAB_BRIDGE|g" \
            -e "s|@MAC@|$(lab_vm_mac "$idx")|g" \
            -e "s|@ALIAS@|$(lab_sed_escape "$alias")|g" \
            "$LAB_SRCDIR/vf.xml.in"
}

# lab_vm_start INSTANCE NAME INDEX: create (transient) and start VM NAME.
lab_vm_start() {
        local inst=$1 name=$2 idx=$3 xml
        xml=$LAB_STATE/$name.xml
        lab_domain_xml "$name" "$idx" >"$xml"
        LAB_VM_INST[$name]=$inst
        LAB_VM_INDEX[$name]=$idx
        LAB_VM_T0[$name]=$(lab_ms)
        lab_virsh "$inst" create "$xml" >/dev/null || lab_die "virsh create $name failed"
        lab_pidfile_record "$LAB_STATE/$inst/run/qemu/$name.pid"
        lab_log "VM $name started on $inst (mac $(lab_vm_mac "$idx"), $(lab_vm_ip4 "$idx"), $(lab_vm_ip6 "$idx"))"
}

# lab_console_has NAME REGEX: the VM's serial console log matches.
lab_console_has() { grep -Eq -- "$2" "$(lab_vm_console "$1")" 2>/dev/null; }

# lab_wait_console NAME REGEX TIMEOUT_S
lab_wait_console() {
        lab_wait "$3" "'$2' on the console of $1" lab_console_has "$1" "$2"
}

# lab_vm_ready NAME [TIMEOUT_S]: wait for VFO-GUEST-READY.
lab_vm_ready() {
        local name=$1 t0
        t0=$(lab_ms)
        if ! lab_wait_console "$name" '^VFO-GUEST-READY' "${2:-120}"; then
                lab_log "console of $name:"
                tail -n 30 "$(lab_vm_console "$name")" >&2
                return 1
        fi
        lab_log "VM $name ready $(($(lab_ms) - ${LAB_VM_T0[$name]:-$t0})) ms after virsh create: $(grep -a '^VFO-GUEST-READY' "$(lab_vm_console "$name")" | tail -n 1)"
}

# lab_guest_manager_checks NAME: a Debian guest (VFO_LAB_GUEST=debian):
# what its network manager made of the failover master and its slaves at
# the last report (tests/lab/guest/debian/vfo-lab-guest: "managed ROLE
# LINK STATE" lines): the master configured, the standby and the VF
# unmanaged; and the master still reachable at its address.
lab_guest_managed() {
        # a report with no state: the link went before the manager was asked
        tr -d '\r' <"$(lab_vm_console "$1")" | grep -a "^VFO-GUEST: managed $2 [^ ]* [^ ]" | tail -n 1 | cut -d' ' -f4- || true
}
lab_guest_reported() { [ -n "$(lab_guest_managed "$1" "$2")" ]; }
lab_guest_manager_checks() {
        local vm=$1 role want got
        grep -a '^VFO-GUEST: \(managed\|manager:\) \|^VFO-GUEST-READY' "$(lab_vm_console "$vm")" | tr -d '\r' |
                sed "s/^/GUEST $vm: /" || true
        for role in master standby primary; do
                case $role in master) want='(connected|configured)' ;; *) want=unmanaged ;; esac
                # the guest reports a VF 3 s after it joined
                lab_wait 10 "$vm's report of its $role" lab_guest_reported "$vm" "$role" || true
                got=$(lab_guest_managed "$vm" "$role")
                lab_check "$vm: the network manager's $role: ${got:-not reported} (want $want)" \
                        eval "[[ \"$got\" =~ ^[^\ ]+\ $want\$ ]]"
        done
        lab_check "$vm: the master kept its address through the moves" lab_ping "$(lab_vm_ip4 "${LAB_VM_INDEX[$vm]}")"
}

# lab_vm_has_vf NAME [ALIAS]: the live domain XML has the VF.
lab_vm_has_vf() {
        local xml
        # not "virsh | grep -q": grep's early exit + pipefail = random failure
        xml=$(lab_virsh "${LAB_VM_INST[$1]}" dumpxml "$1") || return 2
        [[ $xml == *"<alias name='${2:-ua-vfo-vf0}'/>"* ]]
}

# lab_vf_attach NAME [ALIAS]: hot-plug the emulated VF.
lab_vf_attach() {
        local name=$1 alias=${2:-ua-vfo-vf0} xml
        xml=$LAB_STATE/$name.$alias.xml
        lab_vf_xml "${LAB_VM_INDEX[$name]}" "$alias" >"$xml"
        lab_virsh "${LAB_VM_INST[$name]}" attach-device "$name" "$xml" --live >/dev/null
}

# lab_vf_detach NAME [ALIAS]: hot-unplug by alias (returns before the guest
# has released it; DEVICE_REMOVED follows).
lab_vf_detach() {
        lab_virsh "${LAB_VM_INST[$1]}" detach-device-alias "$1" "${2:-ua-vfo-vf0}" --live >/dev/null
}

# ---------------------------------------------------------------- traffic

# lab_ping ADDR [COUNT]: ICMP from the lab peer (busybox ping).
lab_ping() {
        local addr=$1 count=${2:-3} p=ping
        case $addr in *:*) p=ping6 ;; esac
        lab_ns busybox "$p" -c "$count" -W 2 -q "$addr" >/dev/null 2>&1 ||
                lab_ns busybox "$p" -c "$count" -W 2 -q "$addr" >/dev/null 2>&1
}

# lab_lossmeter NAME ARGS...: run the loss meter against VM NAME's echo
# peer from inside the lab netns; prints its JSON line.
lab_lossmeter() {
        local name=$1
        shift
        lab_ns "$LAB_LOSSMETER" --target "$(lab_vm_ip4 "${LAB_VM_INDEX[$name]}"):$LAB_ECHO_PORT" "$@"
}

# lab_lossmeter_bg NAME OUTFILE ARGS...: same, in the background; the PID
# is recorded (teardown ends it) and left in LAB_LAST_PID.
lab_lossmeter_bg() {
        local name=$1 out=$2
        shift 2
        ip netns exec "$LAB_NS" "$LAB_LOSSMETER" \
                --target "$(lab_vm_ip4 "${LAB_VM_INDEX[$name]}"):$LAB_ECHO_PORT" "$@" \
                >"$out" 2>"$out.err" &
        LAB_LAST_PID=$!
        lab_pid_record "$LAB_LAST_PID"
}

# lab_json_num JSON KEY: a number from the loss meter's one-line JSON.
lab_json_num() {
        local v
        v=$(printf '%s\n' "$1" | sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\\([-0-9.eE+]*\\).*/\\1/p")
        echo "${v:-}"
}
