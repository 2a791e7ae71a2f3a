# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for the baseline scenarios (tests/lab/baseline-*.sh), sourced
# after lib.sh. What lib.sh does not (yet) offer: the URI of an instance,
# the tap of a NIC, bridge FDB reads/pins/watching, libvirt event logs with
# timestamps, migration between two lab instances, and the JSON line a
# baseline run prints.
#
# Times are "lab ms" (lab_ms: milliseconds since lib.sh was loaded).

# bench_uri INSTANCE: the instance's libvirt URI (qemu+unix:///system?socket=…).
bench_uri() { echo "${LAB_URI[$1]}"; }

# bench_now_ms: lab ms, without a fork.
bench_now_ms() { echo $(((${EPOCHREALTIME/./} - LAB_T0) / 1000)); }

# bench_tap VM MODEL: the host tap of VM's NIC of MODEL (virtio | e1000e),
# on the instance the VM currently runs on.
bench_tap() {
        lab_virsh "${LAB_VM_INST[$1]}" domiflist "$1" 2>/dev/null |
                awk -v m="$2" '$4 == m { print $1; exit }'
}

# bench_fdb_lines NS: "MAC PORT" of every bridge FDB entry of vfobr0 in NS
# (not the ports' own addresses).
bench_fdb_lines() {
        bridge -netns "$1" fdb show br "$LAB_BRIDGE" 2>/dev/null |
                awk '$2 == "dev" && $0 !~ / self/ { print $1, $3 }'
}

# bench_fdb_port MAC: the bridge port MAC is forwarded to, on the bridge of
# the host it is on (empty when unknown). With VFO_LAB_TOPOLOGY=twohost:
# the port on a host's bridge that is a guest's tap (not the uplink, not a
# forwarding tunnel); else the switch's port (the uplink tor-INSTANCE).
bench_fdb_port() {
        local ns port
        for ns in "${LAB_HOST_NS[@]}"; do
                port=$(bench_fdb_lines "$ns" | awk -v mac="$1" '$1 == mac && $2 != "uplink" && $2 !~ /^vfofw/ { print $2; exit }')
                [ -z "$port" ] || { echo "$port"; return 0; }
        done
        bench_fdb_lines "$LAB_NS" | awk -v mac="$1" '$1 == mac { print $2; exit }'
}

# bench_fdb_show MAC: the FDB lines for MAC (for logs), of every bridge.
bench_fdb_show() {
        local ns
        for ns in "$LAB_NS" "${LAB_HOST_NS[@]}"; do
                bridge -netns "$ns" fdb show br "$LAB_BRIDGE" 2>/dev/null | grep -i "^$1 " |
                        sed "s|\$| ($ns)|" | tr '\n' ';'
        done
}

# bench_fdb_pin MAC TAP: the lab's host-side steering: a static sticky FDB
# entry (without sticky the bridge moves even a static entry when the MAC is seen on another port).
bench_fdb_pin() {
        ip netns exec "$(lab_dev_ns "$2")" bridge fdb replace "$1" dev "$2" master static sticky
}

# bench_fdb_forget MAC: drop the learned (dynamic) entries for MAC on every
# bridge, so that they flood until they learn the MAC again from whoever
# transmits.
bench_fdb_forget() {
        local ns port
        for ns in "$LAB_NS" "${LAB_HOST_NS[@]}"; do
                bridge -netns "$ns" fdb show br "$LAB_BRIDGE" 2>/dev/null |
                        awk -v mac="$1" '$1 == mac && $2 == "dev" && $0 !~ / (self|permanent)/ { print $3 }' |
                        while read -r port; do
                                bridge -netns "$ns" fdb del "$1" dev "$port" master 2>/dev/null || true
                        done
        done
}

# bench_watch_bg VM MAC OUTFILE: background watcher, every 50 ms: records
# "MS fdb PORT" when the bridge port for MAC changes and "MS console LINE"
# for every new VFO-GUEST line on VM's serial console (the console file is
# truncated when a migration destination reopens it: handled).
bench_watch_bg() {
        local vm=$1 mac=$2 out=$3 console
        console=$(lab_vm_console "$vm")
        (
                trap 'exit 0' TERM INT
                prev=- seen=0
                while :; do
                        now=$(((${EPOCHREALTIME/./} - LAB_T0) / 1000))
                        port=$(bench_fdb_port "$mac")
                        if [ "$port" != "$prev" ]; then
                                echo "$now fdb ${port:-none}"
                                prev=$port
                        fi
                        if [ -r "$console" ]; then
                                mapfile -t lines <"$console"
                                n=${#lines[@]}
                                [ "$n" -lt "$seen" ] && seen=0
                                while [ "$seen" -lt "$n" ]; do
                                        case ${lines[$seen]} in
                                        VFO-GUEST*) echo "$now console ${lines[$seen]%$'\r'}" ;;
                                        esac
                                        seen=$((seen + 1))
                                done
                        fi
                        sleep 0.05
                done
        ) >"$out" 2>/dev/null &
        BENCH_WATCH_PID=$!
        lab_pid_record "$BENCH_WATCH_PID"
}

# bench_events_bg INSTANCE OUTFILE: every libvirt domain event of the
# instance, with libvirt's timestamps (line-buffered).
bench_events_bg() {
        stdbuf -oL virsh -q -c "${LAB_URI[$1]}" event --all --loop --timestamp >"$2" 2>&1 &
        lab_pid_record "$!"
}

# bench_event_ms FILE REGEX [AFTER_MS]: lab ms of the first event line
# matching REGEX at or after AFTER_MS (empty when none).
bench_event_ms() {
        local file=$1 re=$2 after=${3:-0} line ts ms
        while IFS= read -r line; do
                [[ $line =~ $re ]] || continue
                ts=${line%%: event *}
                ms=$(date -d "$ts" +%s%3N 2>/dev/null) || continue
                ms=$((ms - LAB_T0 / 1000))
                if [ "$ms" -ge "$after" ]; then
                        echo "$ms"
                        return 0
                fi
        done <"$file"
        return 1
}

# bench_wait_event FILE REGEX AFTER_MS TIMEOUT_S: wait for such an event;
# prints its lab ms.
bench_wait_event() {
        local deadline=$(($(bench_now_ms) + $4 * 1000))
        until bench_event_ms "$1" "$2" "$3"; do
                [ "$(bench_now_ms)" -ge "$deadline" ] && return 1
                sleep 0.05
        done
}

# bench_watch_ms FILE KIND REGEX [AFTER_MS]: lab ms of the first watcher
# record of KIND (fdb | console) whose text matches REGEX at/after AFTER_MS.
bench_watch_ms() {
        local file=$1 kind=$2 re=$3 after=${4:-0} ms k rest
        while read -r ms k rest; do
                [ "$k" = "$kind" ] || continue
                [ "$ms" -ge "$after" ] || continue
                [[ $rest =~ $re ]] || continue
                echo "$ms"
                return 0
        done <"$file"
        return 1
}

# bench_wait_watch FILE KIND REGEX AFTER_MS TIMEOUT_S
bench_wait_watch() {
        local deadline=$(($(bench_now_ms) + $5 * 1000))
        until bench_watch_ms "$1" "$2" "$3" "$4"; do
                [ "$(bench_now_ms)" -ge "$deadline" ] && return 1
                sleep 0.05
        done
}

# bench_vm_on_vf VM: bring the VM's traffic onto its VF (the state a VM
# normally runs in): wait for the guest's primary to join and get carrier,
# then make the bridge learn the MAC on the VF's tap. The learned entry on
# the virtio tap is forgotten so the bridge floods, the VF receives and the
# guest's replies (sent on the primary) teach the bridge the VF's port.
bench_vm_on_vf() {
        local vm=$1 mac vftap i
        mac=$(lab_vm_mac "${LAB_VM_INDEX[$vm]}")
        lab_wait_console "$vm" 'VFO-GUEST: primary [^ ]+ joined' 30 || return 1
        lab_wait_console "$vm" 'VFO-GUEST: primary [^ ]+ carrier up' 30 || return 1
        vftap=$(bench_tap "$vm" e1000e)
        [ -n "$vftap" ] || return 1
        for i in 1 2 3 4 5 6 7 8 9 10; do
                bench_fdb_forget "$mac"
                lab_lossmeter "$vm" --rate 200 --duration 0.5 --drain 0.5 --label warmup >/dev/null 2>&1
                [ "$(bench_fdb_port "$mac")" = "$vftap" ] && return 0
                sleep 0.5
        done
        lab_log "bridge did not learn $mac on $vftap: $(bench_fdb_show "$mac")"
        return 1
}

# bench_vm_on_virtio VM: the bridge forwards the VM's MAC to its virtio tap.
bench_vm_on_virtio() {
        local vm=$1 mac tap i
        mac=$(lab_vm_mac "${LAB_VM_INDEX[$vm]}")
        tap=$(bench_tap "$vm" virtio)
        for i in 1 2 3 4 5 6 7 8 9 10; do
                lab_lossmeter "$vm" --rate 200 --duration 0.5 --drain 0.5 --label warmup >/dev/null 2>&1
                [ "$(bench_fdb_port "$mac")" = "$tap" ] && return 0
                bench_fdb_forget "$mac"
                sleep 0.5
        done
        lab_log "bridge did not learn $mac on $tap: $(bench_fdb_show "$mac")"
        return 1
}

# bench_migrate VM SRC DST [VIRSH OPTIONS...]: live p2p migration between
# two lab instances (the qemu+unix URI form, migration data on
# lab_host_addr DST). On success the VM belongs to DST.
bench_migrate() {
        local vm=$1 src=$2 dst=$3
        shift 3
        lab_virsh "$src" migrate --live --p2p "$@" "$vm" "${LAB_URI[$dst]}" \
                --migrateuri "tcp://$(lab_host_addr "$dst")" --listen-address "$(lab_host_addr "$dst")" || return 1
        LAB_VM_INST[$vm]=$dst
        lab_pidfile_record "$LAB_STATE/$dst/run/qemu/$vm.pid"
}

# bench_json_val VALUE: VALUE as JSON (number as is, empty -> null).
bench_json_val() {
        case $1 in
        '') echo null ;;
        true | false | null) echo "$1" ;;
        -[0-9]* | [0-9]*) echo "$1" ;;
        *) printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')" ;;
        esac
}

# bench_diff A B: B - A when both are set, else empty.
bench_diff() { [ -n "$1" ] && [ -n "$2" ] && echo $(($2 - $1)); }

# bench_emit SCENARIO VARIANT OK METER_JSON TIMINGS NOTES: print the run's
# JSON line on stdout. TIMINGS is "key=value key=value" (ms; empty = null).
bench_emit() {
        local scenario=$1 variant=$2 ok=$3 meter=$4 timings=$5 notes=$6 kv t=
        for kv in $timings; do
                t+="${t:+,}\"${kv%%=*}\":$(bench_json_val "${kv#*=}")"
        done
        [ -n "$meter" ] || meter=null
        printf '{"scenario":"%s","variant":"%s","ok":%s,"rate_pps":%s,"meter":%s,"timings_ms":{%s},"notes":%s}\n' \
                "$scenario" "$variant" "$ok" "${RATE:-null}" "$meter" "$t" "$(bench_json_val "$notes")"
}

# bench_guest_kernel VM: the guest kernel version (the image's kernel).
bench_guest_kernel() { basename "$(lab_kernel)" | sed 's/^vmlinuz-//'; }

# bench_quiet CMD...: run CMD with its stdout discarded (for lab_check).
bench_quiet() { "$@" >/dev/null; }
