# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by tests/integration/test-hostile-agent.sh and
# tests/bench/hostile-agent.sh: vfod (tests/integration/vfod-fakevirt, the
# fake libvirt of tests/fakes/fake-libvirt.c) in a network namespace with a
# bridge and taps, on a private system bus, with one domain whose agent
# channel is tests/integration/hostile-agent's socket.
#
# The caller sets 'dir' (a fresh directory) and calls hostile_setup; cleanup
# is hostile_cleanup (the caller's EXIT trap). Needs root.

top_srcdir=${VFO_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${VFO_TOP_BUILDDIR:-$top_srcdir}
VFOD=$top_builddir/tests/integration/vfod-fakevirt
AGENT=$top_builddir/tests/integration/hostile-agent
VFOCTL=$top_builddir/agent/ctl/vfoctl
BUSBENCH=$top_builddir/tests/bench/vfo-busbench

DOMAIN=hostile-vm
DOMAIN_UUID=5f1c0000-0000-4000-8000-00000000a001
MAC=52:54:00:00:a0:01
BRIDGE=vfobr0
SYN_TAP=fsyn0
VF_TAPS="fvf0 fvf1"

hostile_pids=()
vfod_pid=
agent_pid=
agent_mode=
domain_path=
ns=

hostile_cleanup() {
        local p
        [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
        for p in "${hostile_pids[@]}"; do kill "$p" 2>/dev/null || true; done
        for p in "${hostile_pids[@]}"; do wait "$p" 2>/dev/null || true; done
        [ -n "$ns" ] && ip netns delete "$ns" 2>/dev/null
        [ -n "${dir:-}" ] && rm -rf "$dir"
        return 0
}

# The bus, the namespace, the domain. Returns 77 (skip) when something the
# test needs is not there.
hostile_setup() {
        local t line
        for c in dbus-daemon dbus-monitor busctl ip bridge python3; do
                command -v "$c" >/dev/null || { echo "SKIP: $c not installed"; return 77; }
        done
        for t in "$VFOD" "$AGENT" "$VFOCTL" "$BUSBENCH"; do
                [ -x "$t" ] || { echo "SKIP: $t not built"; return 77; }
        done

        ns=vfo-hostile-$$
        ip netns add "$ns" 2>/dev/null || { ns=; echo "SKIP: cannot create a network namespace"; return 77; }
        ip -n "$ns" link set lo up
        ip -n "$ns" link add "$BRIDGE" type bridge
        ip -n "$ns" link set "$BRIDGE" up
        for t in $SYN_TAP $VF_TAPS; do
                ip -n "$ns" tuntap add dev "$t" mode tap 2>/dev/null ||
                        { echo "SKIP: cannot create tap $t (/dev/net/tun)"; return 77; }
                ip -n "$ns" link set "$t" master "$BRIDGE" up
        done
        # the MAC libvirt gives the synthetic NIC's tap (virt_tap_mac)
        ip -n "$ns" link set "$SYN_TAP" address "fe:${MAC#*:}"

        # a private system bus with vfod's own policy (as test-vfod-bus.sh)
        while IFS= read -r line; do
                case $line in
                *@INCLUDES@*) printf '  <include>%s</include>\n' "$top_srcdir/contrib/dbus/org.vfo1.conf" ;;
                *) printf '%s\n' "${line//@SOCKET@/$dir/bus}" ;;
                esac
        done <"$top_srcdir/tests/lab/dbus-system.conf.in" >"$dir/bus.conf"
        dbus-daemon --config-file="$dir/bus.conf" --fork --nopidfile --print-pid=3 3>"$dir/bus.pid" \
                2>"$dir/bus.log" || { cat "$dir/bus.log"; return 1; }
        hostile_pids+=("$(cat "$dir/bus.pid")")
        export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus
        for _ in $(seq 50); do [ -S "$dir/bus" ] && break; sleep 0.1; done

        mkdir -p "$dir/domains"
        cat >"$dir/domains/$DOMAIN.xml" <<EOF
<domain type='kvm'>
  <name>$DOMAIN</name>
  <uuid>$DOMAIN_UUID</uuid>
  <metadata>
    <vfo:policy xmlns:vfo="http://vfo.org/xmlns/libvirt/domain/1" pool="lab" priority="50" required="no"/>
  </metadata>
  <devices>
    <interface type='bridge'>
      <mac address='$MAC'/>
      <source bridge='$BRIDGE'/>
      <target dev='$SYN_TAP'/>
      <model type='virtio'/>
      <teaming type='persistent'/>
      <alias name='net0'/>
    </interface>
    <channel type='unix'>
      <source mode='bind' path='$dir/agent.sock'/>
      <target type='virtio' name='org.vfo.agent.0'/>
    </channel>
  </devices>
</domain>
EOF
        write_conf ""
}

# write_conf ABRUPT_FALLBACK: vfod.conf with an emulated pool of one VF on
# the namespace's bridge; AgentTimeoutSec=1 so that an agent that does not
# answer costs a second, LibvirtTimeoutSec=2 for a wedged domain.
write_conf() {
        cat >"$dir/vfod.conf" <<EOF
[Daemon]
StateDirectory=$dir/state
NoAgent=refuse
AgentTimeoutSec=1
UnplugTimeoutSec=5
LibvirtTimeoutSec=2
AbruptFallback=$1

[Pool lab]
Type=emulated
Bridge=$BRIDGE
Count=1
EOF
}

start_vfod() {
        ip netns exec "$ns" env VFO_FAKE_LIBVIRT_DIR="$dir/domains" VFO_FAKE_TAPS="$VF_TAPS" \
                "$VFOD" --config "$dir/vfod.conf" >>"$dir/vfod.log" 2>&1 &
        vfod_pid=$!
        hostile_pids+=("$vfod_pid")
        wait_prop /org/vfo1 org.vfo1.Manager LibvirtConnected "b true" 10 || { cat "$dir/vfod.log"; return 1; }
        domain_path=$(busctl call org.vfo1 /org/vfo1 org.vfo1.Manager GetDomain s "$DOMAIN" | sed 's/^o "\(.*\)"$/\1/')
        [ -n "$domain_path" ]
}

stop_vfod() {
        kill "$vfod_pid" 2>/dev/null || true
        wait "$vfod_pid" 2>/dev/null || true
        vfod_pid=
}

vfod_alive() { [ -n "$vfod_pid" ] && kill -0 "$vfod_pid" 2>/dev/null; }

prop() { busctl get-property org.vfo1 "$1" "$2" "$3" 2>/dev/null; }

# wait_prop PATH IFACE NAME VALUE SECONDS
wait_prop() {
        local i
        for i in $(seq $(($5 * 20))); do
                [ "$(prop "$1" "$2" "$3")" = "$4" ] && return 0
                sleep 0.05
        done
        echo "    $3 of $1 is '$(prop "$1" "$2" "$3")' after $5 s, not '$4'"
        return 1
}

# start_agent MODE [ARGS...]: the hostile agent in MODE on the channel's socket,
# counters in $dir/agent-MODE.out; waits until vfod's session with it is up
# (not for flap).
start_agent() {
        agent_mode=$1
        shift
        "$AGENT" --socket "$dir/agent.sock" --mode "$agent_mode" --port "$MAC,eth0nsby" "$@" \
                >>"$dir/agent-$agent_mode.out" 2>>"$dir/agent-$agent_mode.err" &
        agent_pid=$!
        # a flapping agent's sessions last a moment: nothing to wait for
        [ -z "$domain_path" ] || [ "$agent_mode" = flap ] && return 0
        wait_prop "$domain_path" org.vfo1.Domain AgentConnected "b true" 10
}

# stop_agent: prints the agent's counters line; vfod sees its session end.
stop_agent() {
        kill "$agent_pid" 2>/dev/null || true
        wait "$agent_pid" 2>/dev/null || true
        agent_pid=
        tail -n 1 "$dir/agent-$agent_mode.out"
        [ -z "$domain_path" ] && return 0
        wait_prop "$domain_path" org.vfo1.Domain AgentConnected "b false" 10 >/dev/null || true
}

# agent_count NAME: a counter of the agent's last line
agent_count() { tail -n 1 "$dir/agent-$agent_mode.out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
