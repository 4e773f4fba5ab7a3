#!/usr/bin/env bash
# Aggregate quotas of berthd's execution configs (issue 16), kept by the
# kernel: the config's cgroup carries the config's caps (memory, cpus,
# pids) and each user's cgroup below it the per-user ones, so three
# workloads of 48 MiB each under a 96 MiB cap are held under it by the
# kernel (OOM kills show in their statuses), for the config and per user;
# admission refuses with ResourceExhausted what cannot fit by reservation;
# a SIGHUP's new caps reach the cgroups on the next Run; and removing the
# last execution removes the user's and the config's cgroups.
# With the cgroupfs driver (dirs <parent>/config-NAME/user-UID) where
# systemd is not PID 1, on cgroup v1 or v2; with the systemd driver where it
# is (the VM lane: LANE_BERTHD_TESTS=berthd-exec-quota tests/vm/lane.sh
# run-berthd), where they are transient slices <parent stem>-config_NAME
# .slice and ...-user_UID.slice with MemoryMax, CPUQuota and TasksMax.
# BERTH_E2E_CGROUP_DRIVER=cgroupfs|systemd picks the driver. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

DRIVER=${BERTH_E2E_CGROUP_DRIVER:-}
[ -n "$DRIVER" ] || { [ -d /run/systemd/system ] && DRIVER=systemd || DRIVER=cgroupfs; }
case $DRIVER in
systemd) berthd_needs systemctl; [ -d /run/systemd/system ] || skip "systemd is not PID 1 here" ;;
cgroupfs) berthd_needs ;;
*) echo "BERTH_E2E_CGROUP_DRIVER: cgroupfs or systemd, got \"$DRIVER\"" >&2; exit 2 ;;
esac
V2=false; [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && V2=true

W=$(mktemp -d /tmp/berth-e2e-quota.XXXXXX)
BERTHD_PID=
if [ "$DRIVER" = systemd ]; then
    S=berthqe2e$$   # berthd's parent: $S.slice
    PARENT=$S.slice
    ROOT_CG=/$S.slice
    # config_cg NAME / user_cg NAME UID: the cgroup's path from a hierarchy's root
    config_unit() { echo "$S-config_${1//-/_}.slice"; }
    user_unit() { echo "$S-config_${1//-/_}-user_$2.slice"; }
    config_cg() { echo "/$S.slice/$(config_unit "$1")"; }
    user_cg() { echo "$(config_cg "$1")/$(user_unit "$1" "$2")"; }
else
    PARENT=/berth-e2e-quota-$$
    ROOT_CG=$PARENT
    config_cg() { echo "$PARENT/config-$1"; }
    user_cg() { echo "$PARENT/config-$1/user-$2"; }
fi
units() { systemctl list-units --all --plain --no-legend "$@" 2>/dev/null | awk '{print $1}'; }
cleanup() {
    local u
    if [ "$DRIVER" = systemd ]; then
        for u in $(units "berth-*.scope" "$S-*.slice" | sort -r); do
            [[ $u == berth-*.scope && $(systemctl show -P Slice "$u") != "$S"-* ]] && continue
            systemctl stop "$u" 2>/dev/null; systemctl reset-failed "$u" 2>/dev/null
        done
        systemctl stop "$S.slice" 2>/dev/null
    fi
    berthd_cleanup "$ROOT_CG"
}
on_exit cleanup

# cg_read CONTROLLER CGROUP V1-FILE V2-FILE: the file of CGROUP in
# CONTROLLER's v1 hierarchy, else in the v2 one.
cg_read() {
    if [ -e "/sys/fs/cgroup/$1$2/$3" ]; then cat "/sys/fs/cgroup/$1$2/$3"; else cat "/sys/fs/cgroup$2/$4"; fi
}
mem_limit() { cg_read memory "$1" memory.limit_in_bytes memory.max; }
mem_peak() { cg_read memory "$1" memory.max_usage_in_bytes memory.peak; }
pids_max() { cg_read pids "$1" pids.max pids.max; }
cpu_max() {   # "QUOTA PERIOD", v1 or v2
    if [ -e "/sys/fs/cgroup/cpu$1/cpu.cfs_quota_us" ]; then
        echo "$(cat "/sys/fs/cgroup/cpu$1/cpu.cfs_quota_us") $(cat "/sys/fs/cgroup/cpu$1/cpu.cfs_period_us")"
    else
        cat "/sys/fs/cgroup$1/cpu.max"
    fi
}
# cg_exists CGROUP: in any hierarchy
cg_exists() { local d; for d in /sys/fs/cgroup/*"$1" /sys/fs/cgroup"$1"; do [ -d "$d" ] && return 0; done; return 1; }
# Anything left below berthd's parent: its cgroups in every hierarchy, and
# (systemd) its slice units.
leftovers() {
    local d
    for d in /sys/fs/cgroup/*"$ROOT_CG" /sys/fs/cgroup"$ROOT_CG"; do
        [ -d "$d" ] && find "$d" -mindepth 1 -type d
    done
    [ "$DRIVER" != systemd ] || units "$S-*.slice"
}
no_leftovers() { [ -z "$(leftovers)" ]; }

plan 15

cat >"$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_driver = "$DRIVER"
cgroup_parent = "$PARENT"
X
configs() {   # configs CAPPED-MEMORY CAPPED-PIDS
    cat <<X
[configs.capped]
image = "$IMG"
quota = { memory = "$1", cpus = 1.5, pids = $2 }
[configs.per-user]
image = "$IMG"
quota = { memory = "1g", per_user = { memory = "96m", pids = 48 } }
[configs.reserved]
image = "$IMG"
resources.memory = "48m"
quota.memory = "96m"
[configs.user-reserved]
image = "$IMG"
resources.memory = "48m"
quota = { memory = "1g", per_user = { memory = "48m" } }
X
}
IMG=localhost/berthd-quota-e2e:1
configs 96m 64 >>"$W/berthd.toml"
start_berthd
check "berthd with the $DRIVER cgroup driver ($($V2 && echo v2 || echo v1)) and configs with quotas" $? "$(tail -5 "$W/berthd.log")"
CTL=("$BERTHCTL" -r "unix://$W/berthd.sock")
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    "${CTL[@]}" load -i "$W/img.tar" >/dev/null 2>&1
check "the configs' image loaded" $? ""

execs() { "${CTL[@]}" executions -a -o json | python3 -c "import json,sys; es=json.load(sys.stdin).get('executions',[]); $1"; }
n_oom() { execs "print(sum(1 for e in es if e['config']=='$1' and e.get('reason')=='OOMKilled'))"; }
oomed() { [ "$(n_oom "$1")" -ge 1 ]; }   # oomed CONFIG: one of its workloads was OOM-killed
workload_pid() {   # workload_pid EXECUTION-ID
    local c
    c=$(call ListContainers "{\"filter\":{\"podSandboxId\":\"$1\"}}" | py 'd["containers"][0]["id"]') && ctr_pid "$c"
}
rm_all() { local e; for e in $("${CTL[@]}" executions -a -q); do "${CTL[@]}" rm-execution "$e" >/dev/null || echo "rm $e failed"; done; }

# --- where a workload sits, and the caps on its parents
CCG=$(config_cg capped) UCG=$(user_cg capped 0)
K=$("${CTL[@]}" run -d --config capped -- sleep 600 2>&1)
pid=$(workload_pid "$K" 2>&1)
cg=$(cgroup_dir "$pid" memory)
[[ $cg == /sys/fs/cgroup*"$UCG/"* ]]
check "a workload's cgroup is in its user's, in its config's ($UCG)" $? "$K pid=$pid cgroup=$cg"
[ "$(mem_limit "$CCG")" = 100663296 ] && [ "$(cpu_max "$CCG")" = "150000 100000" ] && [ "$(pids_max "$CCG")" = 64 ]
check "the config's cgroup carries its caps: memory 96 MiB, 1.5 CPUs, 64 pids" $? "$(mem_limit "$CCG") / $(cpu_max "$CCG") / $(pids_max "$CCG")"
if [ "$DRIVER" = systemd ]; then
    mem_prop=MemoryMax; $V2 || mem_prop=MemoryLimit
    cu=$(config_unit capped) uu=$(user_unit capped 0)
    [ "$(systemctl is-active "$cu" "$uu" | sort -u)" = active ] &&
        [ "$(systemctl show -P "$mem_prop" "$cu")" = 100663296 ] && [ "$(systemctl show -P TasksMax "$cu")" = 64 ] &&
        [ "$(systemctl show -P CPUQuotaPerSecUSec "$cu")" = 1.500000s ] &&
        [ "$(systemctl show -P Slice "$uu")" = "$cu" ] && [ "$(systemctl show -P Slice "$cu")" = "$S.slice" ]
    check "systemd: the config's and the user's slices are active units, the caps their properties" $? \
        "$(systemctl show -p "$mem_prop" -p TasksMax -p CPUQuotaPerSecUSec -p Slice -p ActiveState "$cu" "$uu" 2>&1)"
else
    skip_check "systemd: the config's and the user's slices are active units, the caps their properties" "cgroupfs driver"
fi

# --- the kernel holds the config's sum under its cap
hog=(sh -c 'exec dd if=/dev/zero of=/dev/null bs=48M')   # holds a 48 MiB buffer, touched, until killed
h1=$("${CTL[@]}" run -d --config capped -- "${hog[@]}") && h2=$("${CTL[@]}" run -d --config capped -- "${hog[@]}") &&
    h3=$("${CTL[@]}" run -d --config capped -- "${hog[@]}")
check "three workloads of 48 MiB each start under the config's 96 MiB (none has a limit of its own)" $? "$h1 $h2 $h3"
wait_for 60 oomed capped
noom=$(n_oom capped) peak=$(mem_peak "$CCG")
[ "$noom" -ge 1 ] && [ "${peak:-0}" -le 100663296 ]
check "the kernel keeps their sum under the config's cap: OOMKilled in their statuses, the config's peak within 96 MiB" $? \
    "oom=$noom peak=$peak $("${CTL[@]}" executions -a)"
"${CTL[@]}" cancel --grace 0 "$h1" "$h2" "$h3" >/dev/null 2>&1

# --- and each user's under the per-user cap
PCG=$(user_cg per-user 0)
p1=$("${CTL[@]}" run -d --config per-user -- "${hog[@]}") && p2=$("${CTL[@]}" run -d --config per-user -- "${hog[@]}") &&
    p3=$("${CTL[@]}" run -d --config per-user -- "${hog[@]}")
check "three more of 48 MiB each under a per-user cap of 96 MiB (the config's is 1 GiB)" $? "$p1 $p2 $p3"
wait_for 60 oomed per-user
noom=$(n_oom per-user) peak=$(mem_peak "$PCG")
[ "$noom" -ge 1 ] && [ "${peak:-0}" -le 100663296 ] && [ "$(mem_limit "$PCG")" = 100663296 ] && [ "$(pids_max "$PCG")" = 48 ] &&
    [ "$(mem_limit "$(config_cg per-user)")" = 1073741824 ]
check "...the kernel keeps the user's sum under it: OOMKilled, the user's cgroup's peak within 96 MiB" $? \
    "oom=$noom peak=$peak limit=$(mem_limit "$PCG") pids=$(pids_max "$PCG") config=$(mem_limit "$(config_cg per-user)")"
"${CTL[@]}" cancel --grace 0 "$p1" "$p2" "$p3" >/dev/null 2>&1

# --- admission by reservation
r1=$("${CTL[@]}" run -d --config reserved -- sleep 600) && r2=$("${CTL[@]}" run -d --config reserved -- sleep 600)
out=$("${CTL[@]}" run -d --config reserved -- sleep 600 2>&1)
[ -n "$r1" ] && [ -n "$r2" ] && [[ $out == *ResourceExhausted*"the config's memory quota 96m: 96m reserved by 2 running execution(s), 0 left; this workload needs 48m"* ]]
check "a third 48 MiB workload under the config's 96 MiB: ResourceExhausted, saying what is used and left" $? "$out"
u1=$("${CTL[@]}" run -d --config user-reserved -- sleep 600 2>&1)
out=$("${CTL[@]}" run -d --config user-reserved -- sleep 600 2>&1)
[[ $out == *ResourceExhausted*"the user's memory quota 48m: 48m reserved by 1 running execution(s)"* ]]
check "a second 48 MiB workload under a user's 48 MiB: ResourceExhausted" $? "$u1 $out"
"${CTL[@]}" cancel --grace 0 "$r1" "$r2" "$u1" >/dev/null 2>&1

# --- new caps from a SIGHUP reach the config's cgroup on the next Run
{ head -4 "$W/berthd.toml"; configs 64m 32; } >"$W/berthd.toml.new" && mv "$W/berthd.toml.new" "$W/berthd.toml"
kill -HUP "$BERTHD_PID"
wait_for 10 grep -q "SIGHUP: execution configs reloaded" "$W/berthd.log" &&
    "${CTL[@]}" run --rm --config capped -- true >/dev/null 2>&1
[ "$(mem_limit "$CCG")" = 67108864 ] && [ "$(pids_max "$CCG")" = 32 ] &&
    { [ "$DRIVER" != systemd ] || { [ "$(systemctl show -P "$mem_prop" "$cu")" = 67108864 ] &&
        [ "$(systemctl show -P TasksMax "$cu")" = 32 ]; }; }
check "SIGHUP lowers the config's caps: the next Run sets them on its cgroup (64 MiB, 32 pids)" $? \
    "$(mem_limit "$CCG") $(pids_max "$CCG") $([ "$DRIVER" != systemd ] || systemctl show -p "$mem_prop" -p TasksMax "$cu")"

# --- removal: the last execution under a cgroup takes it along
"${CTL[@]}" cancel --grace 0 "$K" >/dev/null 2>&1
for e in $h1 $h2 $h3; do "${CTL[@]}" rm-execution "$e" >/dev/null 2>&1; done
cg_exists "$UCG" && cg_exists "$CCG"
check "removing some of a config's executions keeps the cgroups the rest are in" $? "$(leftovers)"
"${CTL[@]}" rm-execution "$K" >/dev/null 2>&1
! cg_exists "$UCG" && ! cg_exists "$CCG" && cg_exists "$PCG"
check "removing its last one removes the user's cgroup and the config's, not another config's" $? "$(leftovers)"
rm_all
wait_for 5 no_leftovers   # systemd drops a stopped unit from its list soon after
left=$(leftovers)
[ -z "$("${CTL[@]}" executions -a -q)" ] && [ -z "$left" ] && ! grep -q "remove the cgroup" "$W/berthd.log"
check "with every execution removed, nothing is left below berthd's cgroup parent" $? "$left $(grep "remove the cgroup" "$W/berthd.log")"
exit $failed
