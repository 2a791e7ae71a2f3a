#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vfod on a private system bus against libvirt's test driver (a node file
# with three running domains, no libvirtd), driven with vfoctl and busctl:
#   - domains that did not opt in are hidden from everyone but root and
#     AdminGroup; made-up UUIDs (HookStarted, Handover, PrepareIncoming) are
#     refused and leave no Domain object;
#   - a non-root member of AdminGroup under the shipped policy cannot make
#     vfod run a program through Manager.Migrate (qemu+ext://, command=,
#     unixexec:, exec:);
#   - reading is open to everyone, changing is not: 'nobody' is refused by
#     the bus policy (contrib/dbus/org.vfo1.conf), and, on a bus without
#     that policy, by vfod's own check of the caller's credentials;
#     a member of AdminGroup= passes the daemon's check;
#   - errors are named org.vfo1.Error.* and vfoctl maps them to exit codes;
#   - set-policy stores the policy in the domain's libvirt metadata;
#   - a job that cannot reach the guest agent fails with NoAgent (NoAgent=refuse);
#   - Reload with a broken vfod.conf is refused with FILE:LINE and the old
#     configuration stays.
# Needs root (it switches to 'nobody'); exit 77 otherwise.
set -euo pipefail

top_srcdir=${VFO_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${VFO_TOP_BUILDDIR:-$top_srcdir}
VFOD=$top_builddir/agent/host/vfod
VFOCTL=$top_builddir/agent/ctl/vfoctl

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (switches to nobody)"
for c in dbus-daemon busctl setpriv python3; do command -v "$c" >/dev/null || skip "$c not installed"; done
[ -x "$VFOD" ] && [ -x "$VFOCTL" ] || skip "vfod/vfoctl not built"

dir=$(mktemp -d /tmp/vfo-bus-test.XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() {
        local p
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
        rm -rf "$dir"
}
trap cleanup EXIT

failed=0
check() {
        local name=$1
        shift
        if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; failed=$((failed + 1)); fi
}
# rc_is N CMD...: CMD exits N
rc_is() {
        local want=$1 rc=0
        shift
        "$@" >"$dir/out" 2>&1 || rc=$?
        sed 's/^/    /' "$dir/out"
        [ "$rc" = "$want" ] || { echo "    exit $rc, expected $want"; return 1; }
}
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# ---------------------------------------------------------------- libvirt
python3 - "$dir/node.xml" <<'EOF'
import sys
out = ["<node>"]
for i in range(3):
    meta = ('<metadata><vfo:policy xmlns:vfo="http://vfo.org/xmlns/libvirt/domain/1" pool="lab" '
            'priority="50" required="no"/></metadata>') if i == 0 else ""
    out.append("""<domain type='test'><name>vm%d</name><uuid>5f1c0000-0000-4000-8000-%012d</uuid>
<memory>8192</memory><vcpu>1</vcpu><os><type>hvm</type></os>
<devices><interface type='bridge'><mac address='52:54:00:00:00:%02x'/><source bridge='br0'/>
<model type='virtio'/></interface></devices>%s</domain>""" % (i, i, i, meta))
out.append("</node>")
open(sys.argv[1], "w").write("\n".join(out))
EOF

write_conf() {
        cat >"$dir/vfod.conf" <<EOF
[Daemon]
LibvirtURI=test://$dir/node.xml
StateDirectory=$dir/state
AdminGroup=${1:-vfo}
NoAgent=refuse

[Pool lab]
Type=emulated
Bridge=br0
Count=2
EOF
}

# start_bus POLICY: a private system bus; POLICY=yes includes contrib/dbus/org.vfo1.conf,
# POLICY=group includes it with its group "vfo" renamed to nogroup (so that a
# non-root member can be made with setpriv), POLICY=no lets every method call
# through (only vfod's own check is left).
start_bus() {
        local inc line
        if [ "$1" = yes ]; then
                inc="  <include>$top_srcdir/contrib/dbus/org.vfo1.conf</include>"
        elif [ "$1" = group ]; then
                sed 's/group="vfo"/group="nogroup"/' "$top_srcdir/contrib/dbus/org.vfo1.conf" >"$dir/org.vfo1-nogroup.conf"
                inc="  <include>$dir/org.vfo1-nogroup.conf</include>"
        else
                inc='  <policy user="root"><allow own="org.vfo1"/></policy><policy context="default"><allow send_destination="org.vfo1"/></policy>'
        fi
        while IFS= read -r line; do
                case $line in
                *@INCLUDES@*) printf '%s\n' "$inc" ;;
                *'<deny send_type="method_call"/>'*) [ "$1" != no ] && printf '%s\n' "$line" ;;
                *) printf '%s\n' "${line//@SOCKET@/$dir/bus-$1}" ;;
                esac
        done <"$top_srcdir/tests/lab/dbus-system.conf.in" >"$dir/bus-$1.conf"
        dbus-daemon --config-file="$dir/bus-$1.conf" --fork --nopidfile --print-pid=3 3>"$dir/bus-$1.pid" \
                2>"$dir/bus-$1.log" || { cat "$dir/bus-$1.log"; exit 1; }
        pids+=("$(cat "$dir/bus-$1.pid")")
        export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus-$1
        for _ in $(seq 50); do [ -S "$dir/bus-$1" ] && break; sleep 0.1; done
}

start_vfod() {
        "$VFOD" --config "$dir/vfod.conf" >>"$dir/vfod.log" 2>&1 &
        vfod_pid=$!
        pids+=("$vfod_pid")
        for _ in $(seq 100); do
                [ "$(busctl get-property org.vfo1 /org/vfo1 org.vfo1.Manager LibvirtConnected 2>/dev/null)" = "b true" ] &&
                        return 0
                sleep 0.1
        done
        cat "$dir/vfod.log"
        return 1
}
stop_vfod() { kill "$vfod_pid"; wait "$vfod_pid" || true; }

# ------------------------------------------------------- with the policy
write_conf
start_bus yes
check "vfod starts and connects to libvirt's test driver" start_vfod
check "nobody may read: vfoctl status" rc_is 0 as_nobody "$VFOCTL" status
check "nobody may read: GetAll on a domain" \
        rc_is 0 as_nobody busctl get-property org.vfo1 /org/vfo1 org.vfo1.Manager Domains
check "nobody may not change: vfoctl set-policy exits 4 (bus policy)" \
        rc_is 4 as_nobody "$VFOCTL" set-policy vm0 --priority 10
check "nobody may not change: Reload refused by the bus" \
        rc_is 1 as_nobody busctl call org.vfo1 /org/vfo1 org.vfo1.Manager Reload
grep -q "AccessDenied\|Access denied" "$dir/out" || { echo "FAIL: no AccessDenied"; failed=$((failed + 1)); }
# Domains that did not opt in are not everyone's to read (vm2 never does).
vm2_uuid=5f1c0000-0000-4000-8000-000000000002
bus_path() { python3 -c 'import sys; u=sys.argv[1]; print("/org/vfo1/domain/" + "".join(c if c.isalnum() and not (i == 0 and c.isdigit()) else "_%02x" % ord(c) for i, c in enumerate(u)))' "$1"; }
check "nobody: GetDomain of a domain that did not opt in is NoSuchDomain" \
        rc_is 1 as_nobody busctl call org.vfo1 /org/vfo1 org.vfo1.Manager GetDomain s vm2
grep -q "NoSuchDomain\|No domain 'vm2'" "$dir/out" || { echo "FAIL: not NoSuchDomain"; failed=$((failed + 1)); }
check "nobody: its object does not answer" \
        rc_is 1 as_nobody busctl get-property org.vfo1 "$(bus_path $vm2_uuid)" org.vfo1.Domain Name
check "root: GetDomain vm2 answers" rc_is 0 busctl call org.vfo1 /org/vfo1 org.vfo1.Manager GetDomain s vm2
check "root: its object answers" rc_is 0 busctl get-property org.vfo1 "$(bus_path $vm2_uuid)" org.vfo1.Domain Name
check "nobody: an opted-in domain stays readable" \
        rc_is 0 as_nobody busctl call org.vfo1 /org/vfo1 org.vfo1.Manager GetDomain s vm0

# UUIDs a caller made up leave no Domain behind.
fake=0badc0de-0000-4000-8000-00000000beef
check "HookStarted with a malformed UUID: InvalidArgument" \
        rc_is 1 busctl call org.vfo1 /org/vfo1 org.vfo1.Manager HookStarted s "../x"
grep -q "not a domain UUID" "$dir/out" || { echo "FAIL: message"; failed=$((failed + 1)); }
check "HookStarted with an unknown UUID is answered" \
        rc_is 0 busctl call org.vfo1 /org/vfo1 org.vfo1.Manager HookStarted s "$fake"
check "Handover with an unknown UUID: NoSuchDomain" \
        rc_is 1 busctl call org.vfo1 /org/vfo1 org.vfo1.Manager Handover s "$fake"
check "PrepareIncoming with a malformed UUID: InvalidArgument" \
        rc_is 1 busctl call org.vfo1 /org/vfo1 org.vfo1.Manager PrepareIncoming ssbas "x" lab false 0
sleep 0.3
check "no Domain object for the made-up UUID" \
        rc_is 1 busctl introspect org.vfo1 "$(bus_path $fake)" org.vfo1.Domain
check "vm0 opted in through its XML metadata" bash -c "'$VFOCTL' --json domains | grep -q '\"vm0\"'"
check "root: vfoctl set-policy vm1 --pool lab --priority 70 --required yes" \
        rc_is 0 "$VFOCTL" set-policy vm1 --pool lab --priority 70 --required yes
check "vfod reads the policy back from vm1's libvirt metadata" \
        bash -c "'$VFOCTL' --json domains | python3 -c '
import json, sys
d = json.load(sys.stdin)
ds = d if isinstance(d, list) else d.get(\"domains\", d)
vm = [x for x in ds if x.get(\"name\") == \"vm1\"][0]
assert vm[\"priority\"] == 70 and vm[\"required\"] is True and vm[\"pool\"] == \"lab\", vm
'"
check "unknown pool: org.vfo1.Error.NoSuchPool, exit 3" rc_is 3 "$VFOCTL" set-policy vm1 --pool nope
grep -q "No pool 'nope'" "$dir/out" || { echo "FAIL: message"; failed=$((failed + 1)); }
check "unknown domain: exit 3" rc_is 3 "$VFOCTL" attach no-such-vm
check "busctl sees the named error" \
        bash -c "busctl call org.vfo1 /org/vfo1 org.vfo1.Manager GetDomain s no-such-vm 2>&1 | grep -q 'No domain'"
check "attach without a guest agent: the job fails with NoAgent (exit 1)" rc_is 1 "$VFOCTL" attach vm1
grep -q "vfo-agent is not connected" "$dir/out" || { echo "FAIL: NoAgent message"; failed=$((failed + 1)); }
check "the failed job left no claim: both VFs free" \
        bash -c "busctl get-property org.vfo1 /org/vfo1/pool/lab org.vfo1.Pool Free | grep -qx 'u 2'"

# Host servicing: drain, a restart (SIGKILL) keeps it, restore.
drained_is() { busctl get-property org.vfo1 /org/vfo1/pool/lab org.vfo1.Pool Drained | grep -qx "b $1"; }
check "vfoctl pools --json shows drained: false" \
        bash -c "'$VFOCTL' --json pools | python3 -c 'import json,sys; assert json.load(sys.stdin)[0][\"drained\"] is False'"
check "nobody may not drain: exit 4 (bus policy)" rc_is 4 as_nobody "$VFOCTL" drain lab
check "drain of an unknown pool: NoSuchPool, exit 3" rc_is 3 "$VFOCTL" drain nope
check "vfoctl drain lab (nothing lent): exit 0" rc_is 0 "$VFOCTL" drain lab
grep -q "Pool lab drained" "$dir/out" || { echo "FAIL: drain's message"; failed=$((failed + 1)); }
check "Pool.Drained is true" drained_is true
check "vfoctl drain lab again is no error" rc_is 0 "$VFOCTL" drain lab
check "attach on a drained pool: org.vfo1.Error.Drained, exit 6" rc_is 6 "$VFOCTL" attach vm1
grep -q "vfoctl restore lab" "$dir/out" || { echo "FAIL: Drained message"; failed=$((failed + 1)); }
check "vfoctl --json --no-wait drain lists no job" \
        bash -c "'$VFOCTL' --json --no-wait drain | python3 -c 'import json,sys; assert json.load(sys.stdin) == {\"pool\": \"\", \"jobs\": []}'"
kill -9 "$vfod_pid"; wait "$vfod_pid" || true
check "vfod restarts after SIGKILL" start_vfod
check "the pool is still drained" drained_is true
check "vfoctl restore lab: exit 0" rc_is 0 "$VFOCTL" restore lab
check "Pool.Drained is false" drained_is false
check "restore of an unknown pool: exit 3" rc_is 3 "$VFOCTL" restore nope

# Reload: a broken file is refused with its line, the old one stays.
cp "$dir/vfod.conf" "$dir/vfod.conf.good"
printf '[Pool bad]\nType=emulated\nCount=zero\n' >>"$dir/vfod.conf"
check "Reload with a broken vfod.conf: ConfigInvalid naming FILE:LINE (exit 1)" rc_is 1 "$VFOCTL" reload
grep -q "vfod.conf:13" "$dir/out" || { echo "FAIL: no FILE:LINE in the message"; failed=$((failed + 1)); }
check "the old configuration stays in force" \
        bash -c "busctl get-property org.vfo1 /org/vfo1/pool/lab org.vfo1.Pool Total | grep -qx 'u 2'"
cp "$dir/vfod.conf.good" "$dir/vfod.conf"
stop_vfod

# ---------------------------------------------- without the bus policy
start_bus no
check "vfod starts on a bus without its policy" start_vfod
check "nobody, let through by the bus, is refused by vfod: exit 4" \
        rc_is 4 as_nobody "$VFOCTL" set-policy vm0 --priority 10
grep -q "AdminGroup" "$dir/out" || { echo "FAIL: daemon's AccessDenied message"; failed=$((failed + 1)); }
check "nobody, let through by the bus, may not drain: exit 4" rc_is 4 as_nobody "$VFOCTL" drain
check "nor restore: exit 4" rc_is 4 as_nobody "$VFOCTL" restore
stop_vfod
write_conf nogroup
start_vfod
gid=$(getent group nogroup | cut -d: -f3)
check "a member of AdminGroup (nogroup) may change things" \
        rc_is 0 setpriv --reuid=65534 --regid=65534 --groups="$gid" "$VFOCTL" set-policy vm2 --priority 30
stop_vfod

# ------------------- the shipped policy, a non-root member of AdminGroup=
# Manager.Migrate hands its strings to libvirt (as root), libvirtd (root)
# and sd-bus: none of them may name a program for a caller who is not root.
start_bus group
start_vfod
as_admin() { setpriv --reuid=65534 --regid=65534 --groups="$gid" "$@"; }
migrate_call() {
        as_admin busctl call org.vfo1 /org/vfo1 org.vfo1.Manager Migrate 'ssa{sv}' vm0 "$@"
}
rm -f "$dir/pwned"
printf '#!/bin/sh\ntouch %s/pwned\n' "$dir" >"$dir/pwn.sh"
chmod 755 "$dir/pwn.sh"
check "admin group: destination-bus unixexec: is refused (AccessDenied)" \
        rc_is 1 migrate_call 'qemu+unix:///system?socket=/nonexistent' 1 destination-bus s \
        "unixexec:path=/bin/sh,argv1=-c,argv2=touch $dir/pwned"
grep -q "org.vfo1.Error.AccessDenied\|Only root may give a destination bus" "$dir/out" ||
        { echo "FAIL: no AccessDenied for unixexec"; failed=$((failed + 1)); }
check "admin group: qemu+ext:// destination is refused (AccessDenied)" \
        rc_is 1 migrate_call "qemu+ext:///system?command=$dir/pwn.sh" 0
grep -q "for root only" "$dir/out" || { echo "FAIL: no 'for root only' for qemu+ext"; failed=$((failed + 1)); }
check "admin group: command= on an ssh URI is refused" \
        rc_is 1 migrate_call "qemu+ssh://localhost/system?command=$dir/pwn.sh" 0
check "admin group: vfoctl migrate --migrate-uri exec: exits 4" \
        rc_is 4 as_admin "$VFOCTL" migrate vm0 'qemu+unix:///system?socket=/nonexistent' --migrate-uri 'exec:/bin/true'
not_access_denied() { ! "$@" 2>&1 | grep -q AccessDenied; }
check "admin group: a plain unix destination bus passes the check (the migration then fails elsewhere)" \
        not_access_denied migrate_call 'qemu+unix:///system?socket=/nonexistent' 1 destination-bus s unix:path=/nonexistent
sleep 1
check "nothing ran: no file made by the refused commands" test ! -e "$dir/pwned"
stop_vfod

[ "$failed" = 0 ] || { echo "--- vfod.log"; cat "$dir/vfod.log"; }
echo "test-vfod-bus: $failed failed"
[ "$failed" = 0 ]
