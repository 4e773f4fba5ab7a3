#!/usr/bin/env bash
# berthd with the systemd cgroup driver (as kubelet's --cgroup-driver=systemd
# nodes run it), through its socket with the project's own gRPC client:
# RuntimeConfig says SYSTEMD; a pod without a parent gets a transient slice
# of berthd's sized to its resources plus overhead; containers get scopes in
# the pod's slice (kubelet's or berthd's) with their limits; stats, update
# and OOMKilled read the scope's cgroup; a parent that is not a slice is
# refused; removal stops every scope and slice berthd started. Needs systemd
# as PID 1 (the VM lane: tests/vm/lane.sh run-berthd); skips elsewhere. TAP.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

[ -d /run/systemd/system ] || skip "systemd is not PID 1 here (the VM lane runs this)"
berthd_needs systemctl

W=$(mktemp -d /tmp/berth-e2e-sd.XXXXXX)
S=berthe2e$$            # the test's slice: $S.slice, and kubelet's stand-in $S-kubepods.slice
REG_PID= BERTHD_PID=
cleanup() {
    local u
    # Units berthd or the test started under the test's slice, deepest
    # first, before the processes and dirs.
    for u in $(systemctl list-units --all --plain --no-legend "berth-*.scope" "$S*.slice" 2>/dev/null | awk '{print $1}' | sort -r); do
        systemctl stop "$u" 2>/dev/null; systemctl reset-failed "$u" 2>/dev/null
    done
    systemctl stop "$S.slice" 2>/dev/null
    berthd_cleanup "/$S.slice"
}
on_exit cleanup

units() { systemctl list-units --all --plain --no-legend "$@" 2>/dev/null | awk '{print $1}'; }
slice_dir() { echo "/sys/fs/cgroup$(systemctl show -P ControlGroup "$1")"; }

plan 14

mkdir -p "$W/logs"
serve_image
check "a busybox image pushed to docker-registry" $? "$(tail -5 "$W/build.log")"
cat > "$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_driver = "systemd"
cgroup_parent = "$S.slice"
X
start_berthd && "$BERTHCTL" -r "unix://$W/berthd.sock" pull "$IMG" >"$W/pull.log" 2>&1
check "berthd with cgroup_driver systemd; the image pulled" $? "$(cat "$W/pull.log") $(tail -5 "$W/berthd.log")"
out=$(call RuntimeConfig '{}' 2>&1)
[ "$(echo "$out" | py 'd["linux"]["cgroupDriver"]')" = SYSTEMD ]
check "RuntimeConfig: the cgroup driver is SYSTEMD (kubelet matches it)" $? "$out"

pod() {   # pod NAME [EXTRA-LINUX-JSON]
    call RunPodSandbox "{\"config\":{\"metadata\":{\"name\":\"$1\",\"namespace\":\"e2e\",\"uid\":\"u-$1\"},\"hostname\":\"$1\",\"logDirectory\":\"$W/logs/$1\",\"linux\":{${2:-}\"securityContext\":{\"namespaceOptions\":{\"network\":\"POD\",\"pid\":\"CONTAINER\",\"ipc\":\"POD\"}}}}}" |
        py 'd["podSandboxId"]'
}
ctr() {   # ctr POD NAME CMD-JSON [EXTRA-LINUX-JSON]: create and start; prints the id
    local id
    id=$(call CreateContainer "{\"podSandboxId\":\"$1\",\"config\":{\"metadata\":{\"name\":\"$2\"},\"image\":{\"image\":\"$IMG\"},\"command\":$3,\"logPath\":\"$2.log\",\"linux\":{${4:-}\"securityContext\":{\"namespaceOptions\":{\"network\":\"POD\",\"ipc\":\"POD\",\"pid\":\"CONTAINER\"}}}}}" | py 'd["containerId"]') &&
        call StartContainer "{\"containerId\":\"$id\"}" >/dev/null && echo "$id"
}

# --- a pod of berthd's own: a transient slice with the pod's limits
POD=$(pod own '"resources":{"memoryLimitInBytes":"268435456","cpuQuota":"200000","cpuPeriod":"100000"},"overhead":{"memoryLimitInBytes":"16777216"},' 2>"$W/err")
PS=$S-pod${POD:0:16}.slice
[ -n "$POD" ] && [ "$(systemctl is-active "$PS")" = active ]
check "a pod without a cgroup parent: berthd starts the slice $S-pod….slice" $? "$(cat "$W/err") $(units "$S*") $(tail -3 "$W/berthd.log")"
[ "$(cat "$(slice_dir "$PS")/memory.max" 2>&1)" = 285212672 ] && [ "$(cut -d' ' -f1 "$(slice_dir "$PS")/cpu.max" 2>&1)" = 200000 ]
check "the pod slice's memory.max and cpu.max are its resources plus overhead" $? "$(cat "$(slice_dir "$PS")"/memory.max "$(slice_dir "$PS")"/cpu.max 2>&1)"
C=$(ctr "$POD" app '["sleep","1000"]' '"resources":{"memoryLimitInBytes":"67108864"},' 2>"$W/err")
PID=$(ctr_pid "$C")
[ "$(systemctl show -P Slice "berth-$C.scope")" = "$PS" ] &&
    [ "$(cat /proc/"$PID"/cgroup)" = "0::/$S.slice/$PS/berth-$C.scope" ] &&
    [ "$(cat "/sys/fs/cgroup/$S.slice/$PS/berth-$C.scope/memory.max")" = 67108864 ]
check "a container: the scope berth-<id>.scope in the pod slice, with its memory limit" $? "$(cat "$W/err") $(systemctl status "berth-$C.scope" 2>&1 | head -5) $(cat /proc/"$PID"/cgroup)"
[ "$(sh_in "$C" 'echo hi')" = hi ]
check "ExecSync in it" $? ""
out=$(call ContainerStats "{\"containerId\":\"$C\"}" 2>&1)
[ "$(echo "$out" | py 'int(d["stats"]["memory"]["workingSetBytes"]["value"]) > 0 and int(d["stats"]["cpu"]["usageCoreNanoSeconds"]["value"]) > 0')" = True ]
check "ContainerStats reads the scope's cgroup" $? "$out"
call UpdateContainerResources "{\"containerId\":\"$C\",\"linux\":{\"memoryLimitInBytes\":\"33554432\"}}" >"$W/up" 2>&1 &&
    [ "$(cat "/sys/fs/cgroup/$S.slice/$PS/berth-$C.scope/memory.max")" = 33554432 ] &&
    [ "$(systemctl show -P MemoryMax "berth-$C.scope")" = 33554432 ]
check "UpdateContainerResources: the scope's memory.max and systemd's MemoryMax" $? "$(cat "$W/up") $(systemctl show -P MemoryMax "berth-$C.scope")"
H=$(ctr "$POD" hog '["sh","-c","x=a; while :; do x=$x$x; done"]' '"resources":{"memoryLimitInBytes":"16777216"},' 2>"$W/err")
exited() { call ContainerStatus "{\"containerId\":\"$1\"}" 2>/dev/null | grep -q CONTAINER_EXITED; }
wait_for 30 exited "$H"
out=$(call ContainerStatus "{\"containerId\":\"$H\"}" 2>&1)
[ "$(echo "$out" | py 'd["status"]["reason"]')" = OOMKilled ] && [ "$(echo "$out" | py 'd["status"]["exitCode"]')" = 137 ]
check "over its limit in a scope: exit 137, reason OOMKilled (memory.events of the scope)" $? "$(cat "$W/err") $out"

# --- kubelet's pod slice (kubelet makes it; here systemd makes it implicitly)
KPOD=$(pod kube "\"cgroupParent\":\"$S-kubepods.slice\"," 2>"$W/err")
K=$(ctr "$KPOD" app '["sleep","1000"]' 2>>"$W/err")
[ "$(systemctl show -P Slice "berth-$K.scope")" = "$S-kubepods.slice" ]
check "a pod in kubelet's slice: its container's scope is in that slice" $? "$(cat "$W/err") $(systemctl show -P Slice "berth-$K.scope")"
out=$(pod bad '"cgroupParent":"/kubepods/podx",' 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *config.linux.cgroup_parent*systemd* ]]
check "a cgroupfs parent with the systemd driver: InvalidArgument naming config.linux.cgroup_parent" $? "rc=$rc $out"

# --- removal stops what berthd started
for p in $POD $KPOD; do
    call StopPodSandbox "{\"podSandboxId\":\"$p\"}" >/dev/null 2>&1
    call RemovePodSandbox "{\"podSandboxId\":\"$p\"}" >/dev/null 2>&1
done
left=$(units "berth-$C.scope" "berth-$H.scope" "berth-$K.scope" "$PS" | grep -v '^$'; ls -d /sys/fs/cgroup/"$S.slice/$PS" 2>/dev/null)
[ -z "$left" ]
check "RemovePodSandbox: the containers' scopes and berthd's pod slice are gone" $? "$left"
[ -z "$(ls "$W/state/pods")" ] && ! grep -qF "$W/state" /proc/self/mountinfo
check "no pod state or pin left" $? "$(ls "$W/state/pods") $(grep -F "$W" /proc/self/mountinfo)"
exit $failed
