# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab helpers for scenarios that run vfod (sourced after lib.sh): start and
# stop vfod in the lab netns against a lab libvirtd and the private bus,
# read its state over D-Bus (busctl --json), compare it with libvirt's live
# XML, and run loss meters on several VMs at once.

VFOD=${VFO_LAB_VFOD:-$LAB_TOP_BUILDDIR/agent/host/vfod}
# vfod runs in its libvirtd's mount namespace (it sees the channel sockets
# where libvirt says they are), so libvirt picks the sockets itself
VFO_LAB_CHANNEL=${VFO_LAB_CHANNEL:-auto}
VFOCTL=${VFO_LAB_VFOCTL:-$LAB_TOP_BUILDDIR/agent/ctl/vfoctl}
VFOD_PID=
VFOD_INST=
declare -A VFOD_PIDS=()         # instance -> vfod pid
declare -A VFOD_METER=()        # VM -> meter pid of the current phase
VFOD_PHASE=

vfod_requirements() {
        [ -x "$VFOD" ] || lab_skip "vfod not built ($VFOD)"
        [ -x "$VFOCTL" ] || lab_skip "vfoctl not built ($VFOCTL)"
        [ -f "$LAB_TOP_BUILDDIR/agent/guest/vfo-agent" ] || lab_skip "vfo-agent not built"
        command -v busctl >/dev/null || lab_skip "busctl not installed"
        command -v python3 >/dev/null || lab_skip "python3 not installed"
        command -v setpriv >/dev/null || lab_skip "setpriv not installed"
        command -v nsenter >/dev/null || lab_skip "nsenter not installed"
}

# vfod_lab_vms N: one lab "host" (libvirtd a on the lab's bus) with vm1..vmN
# booted, running vfo-agent and reachable from the peer; skips or fails the
# scenario otherwise.
vfod_lab_vms() {
        local i
        lab_requirements
        vfod_requirements
        lab_init
        lab_dbus_start
        lab_libvirtd_start a
        for i in $(seq "$1"); do lab_vm_start a "vm$i" "$i"; done
        for i in $(seq "$1"); do
                lab_require "vm$i boots to VFO-GUEST-READY" lab_vm_ready "vm$i" 180
                lab_require "vm$i runs vfo-agent" lab_wait_console "vm$i" 'vfo-agent pid' 10
        done
        for i in $(seq "$1"); do lab_require "peer reaches vm$i" lab_ping "$(lab_vm_ip4 "$i")"; done
}

# vfod_forward_line INSTANCE: with hosts of their own (VFO_LAB_TOPOLOGY=
# twohost), the host's address for a migration's forwarding tunnel, unless
# VFO_LAB_FORWARD=0 (to measure without it); and the handover that copies
# (ForwardCopies=yes) unless VFO_LAB_FORWARD_COPIES=0. The hosts under
# systemd (lib-systemd.sh) keep the packaged default, no copies, unless
# VFO_LAB_DISTRO_FORWARD_COPIES=1.
vfod_forward_line() {
        [ -n "${LAB_HOST_ADDR[$1]:-}" ] && [ "${VFO_LAB_FORWARD:-1}" != 0 ] || return 0
        echo "ForwardAddress=${LAB_HOST_ADDR[$1]}"
        [ "${VFO_LAB_FORWARD_COPIES:-1}" = 0 ] || echo "ForwardCopies=yes"
}

# vfod_config INSTANCE COUNT [EXTRA DAEMON LINES]: vfod.conf for an emulated
# pool "lab" of COUNT VFs on the lab bridge.
vfod_config() {
        cat <<EOF
# vfo lab: vfod against libvirtd $1
[Daemon]
LibvirtURI=${LAB_URI[$1]}
StateDirectory=$LAB_STATE/vfod-$1
PreemptMargin=10
ReassignIntervalSec=${VFO_LAB_REASSIGN_SEC:-3}
AgentTimeoutSec=10
UnplugTimeoutSec=20
$(vfod_forward_line "$1")
${3:-}

[Pool lab]
Type=emulated
Bridge=$LAB_BRIDGE
Count=$2
EOF
}

# vfod_start INSTANCE COUNT [EXTRA]: vfod in the lab netns (log:
# vfod-INSTANCE.log), on the bus LAB_BUS[INSTANCE] if there is one (one
# vfod per lab "host"), else on the lab's bus.
vfod_start() {
        local bus=()
        VFOD_INST=$1
        [ -n "${LAB_BUS[$1]:-}" ] && bus=(--bus-address "${LAB_BUS[$1]}")
        vfod_config "$@" >"$LAB_STATE/vfod-$1.conf"
        # in the lab netns and in the mount namespace of libvirtd $1, like a
        # vfod next to its libvirtd on a real host
        nsenter --target "$(cat "$LAB_STATE/$1/run/libvirtd.pid")" --mount --net \
                "$VFOD" --config "$LAB_STATE/vfod-$1.conf" --log-level debug "${bus[@]}" \
                >>"$LAB_STATE/vfod-$1.log" 2>&1 &
        VFOD_PID=$!
        VFOD_PIDS[$1]=$VFOD_PID
        lab_pid_record "$VFOD_PID"
        lab_log "vfod pid $VFOD_PID against libvirtd $1 (log $LAB_STATE/vfod-$1.log)"
}

# on_host INSTANCE CMD...: CMD (a program or a query function of this
# file) with the system bus of INSTANCE's vfod, in a subshell
on_host() {
        local inst=$1
        shift
        (
                export DBUS_SYSTEM_BUS_ADDRESS=${LAB_BUS[$inst]:-${DBUS_SYSTEM_BUS_ADDRESS:-}}
                VFOD_INST=$inst
                "$@"
        )
}

vfod_kill9() {
        kill -9 "$VFOD_PID" 2>/dev/null || true
        wait "$VFOD_PID" 2>/dev/null || true
        lab_log "vfod pid $VFOD_PID killed with SIGKILL"
}

vfod_stop() {
        kill -TERM "$VFOD_PID" 2>/dev/null || true
        wait "$VFOD_PID" 2>/dev/null || true
}

vfod_connected() {
        [ "$(busctl get-property org.vfo1 /org/vfo1 org.vfo1.Manager LibvirtConnected 2>/dev/null)" = "b true" ]
}

# vfod_state: one JSON document of vfod's view (domains with ports, VFs, jobs).
vfod_state() {
        python3 - <<'EOF'
import json, subprocess
def call(*a):
    return json.loads(subprocess.run(["busctl", "--json=short"] + list(a), check=True,
                                     capture_output=True, text=True).stdout)
objs = call("call", "org.vfo1", "/org/vfo1", "org.freedesktop.DBus.ObjectManager",
            "GetManagedObjects")["data"][0]
out = {"domains": {}, "vfs": {}, "jobs": []}
for path, ifaces in objs.items():
    if "org.vfo1.Domain" in ifaces:
        p = {k: v["data"] for k, v in ifaces["org.vfo1.Domain"].items()}
        out["domains"][p["Name"]] = {"path": path, "ports": p["Ports"], "agent": p["AgentConnected"],
                                     "state": p["State"], "priority": p["Priority"]}
    if "org.vfo1.VF" in ifaces:
        p = {k: v["data"] for k, v in ifaces["org.vfo1.VF"].items()}
        out["vfs"][path] = p
    if "org.vfo1.Job" in ifaces:
        p = {k: v["data"] for k, v in ifaces["org.vfo1.Job"].items()}
        out["jobs"].append(p)
print(json.dumps(out))
EOF
}

# vfod_holds VM...: exactly these VMs hold a VF (per vfod).
vfod_holds() {
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
want = set(sys.argv[1:])
have = set(n for n, d in s["domains"].items() if any(p[2] != "/" for p in d["ports"]))
sys.exit(0 if want == have else 1)' "$@"
}

# vfod_attached VM: some VF is attached to VM (per vfod), not only claimed.
vfod_attached() {
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
d = s["domains"].get(sys.argv[1])
sys.exit(0 if d and any(v["State"] == "attached" and v["Domain"] == d["path"] for v in s["vfs"].values()) else 1)' "$1"
}

# vfod_port_state VM STATE: VM's (first) port is in STATE (idle, waiting, …).
vfod_port_state() {
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
d = s["domains"].get(sys.argv[1])
sys.exit(0 if d and d["ports"] and d["ports"][0][3] == sys.argv[2] else 1)' "$1" "$2"
}

vfod_idle() {
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(1 if any(j["State"] == "running" for j in s["jobs"]) else 0)'
}

# vfod_job_seen KIND REASON STATE
vfod_job_seen() {
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
k, r, st = sys.argv[1:4]
sys.exit(0 if any(j["Kind"] == k and j["Reason"] == r and j["State"] == st for j in s["jobs"]) else 1)' "$@"
}

# vfod_consistent: every vfo device in a live domain XML is a VF vfod says
# that domain holds (attached), no VF is in two domains, and every VF vfod
# calls attached is in its domain's XML.
vfod_consistent() {
        local uri=${LAB_URI[$VFOD_INST]} dom xml
        : >"$LAB_STATE/aliases"
        for dom in $(virsh -q -c "$uri" list --name); do
                xml=$(virsh -q -c "$uri" dumpxml "$dom")
                grep -o "<alias name='ua-vfo-vf-[^']*'/>" <<<"$xml" | sed "s/.*name='\\([^']*\\)'.*/$dom \\1/" \
                        >>"$LAB_STATE/aliases" || true
        done
        vfod_state | python3 -c '
import json, sys
s = json.load(sys.stdin)
pairs = [l.split() for l in open(sys.argv[1]) if l.strip()]
ok = True
seen = {}
for dom, alias in pairs:
    if alias in seen:
        print("VF device %s is in %s and %s" % (alias, seen[alias], dom)); ok = False
    seen[alias] = dom
name_of = {d["path"]: n for n, d in s["domains"].items()}
for path, vf in s["vfs"].items():
    alias = "ua-vfo-vf-" + "".join(c if c.isalnum() or c == "-" else "_" for c in vf["Id"])
    holder = name_of.get(vf["Domain"])
    if vf["State"] == "attached":
        if seen.get(alias) != holder:
            print("vfod says %s is attached to %s; libvirt has it in %s" % (vf["Id"], holder, seen.get(alias))); ok = False
    elif alias in seen:
        print("%s is in %s but vfod says %s" % (vf["Id"], seen[alias], vf["State"])); ok = False
for alias, dom in seen.items():
    print("libvirt: %s in %s" % (alias, dom))
sys.exit(0 if ok else 1)' "$LAB_STATE/aliases"
}

vfod_show() {
        "$VFOCTL" vfs 2>&1 | sed 's/^/  /' || true
}

# vfod_meters_start PHASE VM...: a loss meter on each VM until vfod_meters_stop,
# which waits VFO_LAB_DRAIN seconds (default 1) at most for late replies.
vfod_meters_start() {
        local vm
        VFOD_PHASE=$1
        shift
        VFOD_METER=()
        for vm in "$@"; do
                lab_lossmeter_bg "$vm" "$LAB_STATE/$VFOD_PHASE.$vm.loss" --rate "$RATE" --duration 600 --drain "${VFO_LAB_DRAIN:-1}" \
                        --label "$VFOD_PHASE-$vm"
                VFOD_METER[$vm]=$LAB_LAST_PID
        done
        sleep 1
}

vfod_meters_stop() {
        local vm
        sleep 1
        for vm in "${!VFOD_METER[@]}"; do kill -TERM "${VFOD_METER[$vm]}" 2>/dev/null || true; done
        for vm in "${!VFOD_METER[@]}"; do wait "${VFOD_METER[$vm]}" 2>/dev/null || true; done
}

vfod_meters_ok() {
        local vm j ok=0
        for vm in "${!VFOD_METER[@]}"; do
                j=$(cat "$LAB_STATE/$VFOD_PHASE.$vm.loss")
                echo "LOSS $VFOD_PHASE $vm: $j"
                [ -n "$j" ] && [ "$(lab_json_num "$j" lost)" -le "$MAX_LOST" ] &&
                        [ "$(lab_json_num "$j" duplicated)" = 0 ] && [ "$(lab_json_num "$j" received)" -gt 0 ] || ok=1
        done
        return $ok
}

# vfod_job_figures: one "JOBTIME" JSON line per finished job of this run,
# from vfod's log: total, libvirt (calls + waiting for DEVICE_REMOVED),
# agent (waiting for the guest) and vfod (the rest: vfod's own overhead).
vfod_job_figures() {
        sed -n 's/.*Job \([0-9]*\): \(attach\|detach\) of \([^ ]*\) on \([^ ]*\) done in \([0-9.]*\) ms (libvirt \([0-9.]*\) ms, agent \([0-9.]*\) ms, vfod \([0-9.]*\) ms).*/JOBTIME {"job":\1,"kind":"\2","domain":"\4","total_ms":\5,"libvirt_ms":\6,"agent_ms":\7,"vfod_ms":\8}/p' \
                "$LAB_STATE/vfod-$VFOD_INST.log"
}
