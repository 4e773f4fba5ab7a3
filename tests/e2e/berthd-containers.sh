#!/usr/bin/env bash
# What CreateContainer builds, checked from inside the container, through
# berthd's socket with the project's own gRPC client as kubelet drives it:
# every security-context case (capabilities, privileged, users and groups
# from the image's /etc/passwd and /etc/group, read-only rootfs,
# no_new_privs, masked and read-only paths, seccomp RuntimeDefault,
# Localhost and Unconfined, AppArmor as far as the host has it), the host
# namespace options, the pod's DNS config, hostname and hosts files,
# mounts (read-only, recursive read-only, propagation from the host),
# devices and CDI devices (by field, by annotation, by runtime handler),
# resources, and the pod cgroup berthd makes with the pod's resources plus
# overhead. Bad requests get the right code and a message naming the field,
# and leave nothing. The image is built with umoci and served by
# docker-registry on 127.0.0.1; everything lives under one temp dir and a
# cgroup parent of the test's own; processes are killed by pid. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

berthd_needs

W=$(mktemp -d /tmp/berth-e2e-ctrs.XXXXXX)
CG=/berth-e2e-ctrs-$$
REG_PID= BERTHD_PID=
cleanup() { berthd_cleanup "$CG"; }
on_exit cleanup

pod_json() {   # pod_json NAME NS-OPTIONS-JSON [EXTRA-TOP-JSON] [EXTRA-LINUX-JSON] [EXTRA-SC-JSON]
    printf '{"config":{"metadata":{"name":"%s","namespace":"e2e","uid":"uid-%s","attempt":0},"hostname":"%s-host","logDirectory":"%s",%s"linux":{%s"securityContext":{%s"namespaceOptions":{%s}}}}}' \
        "$1" "$1" "$1" "$W/logs/$1" "${3:-}" "${4:-}" "${5:-}" "$2"
}
POD_NS='"network":"POD","pid":"CONTAINER","ipc":"POD"'
# ctr POD NAME SC-JSON [EXTRA-CONFIG-JSON] [HANDLER-LESS EXTRA-LINUX-JSON]: create
# and start a sleeping container; prints its id.
ctr_cfg() {
    printf '{"podSandboxId":"%s","config":{"metadata":{"name":"%s"},"image":{"image":"%s"},"command":["sleep","1000"],"logPath":"%s.log",%s"linux":{%s"securityContext":{%s}}}}' \
        "$1" "$2" "$IMG" "$2" "${4:-}" "${5:-}" "$3"
}
NSO="\"namespaceOptions\":{$POD_NS}"
started() {   # started POD NAME SC [EXTRA] [LINUX]: the new container's id, running
    local out id
    out=$(call CreateContainer "$(ctr_cfg "$@")" 2>&1) || { echo "create: $out" >&2; return 1; }
    id=$(echo "$out" | py 'd["containerId"]')
    out=$(call StartContainer "{\"containerId\":\"$id\"}" 2>&1) || { echo "start: $out" >&2; return 1; }
    echo "$id"
}
# refused POD NAME SC [EXTRA] [LINUX]: CreateContainer fails; prints rc and message.
refused() {
    local out rc
    out=$(call CreateContainer "$(ctr_cfg "$@")" 2>&1); rc=$?
    echo "$rc $out"
}
n_containers() { call ListContainers '{}' | py 'len(d.get("containers",[]))'; }

plan 49

# --- an image whose /etc/passwd and /etc/group name a user and its groups
add_user() {
    echo 'app:x:1234:1234:app:/home/app:/bin/sh' >>"$1/etc/passwd"
    printf 'app:x:1234:\nextra:x:5555:nobody,app\n' >>"$1/etc/group"
}
mkdir -p "$W/logs"
serve_image add_user
check "a busybox image with a user app (1234) in group extra (5555), pushed to docker-registry" $? "$(tail -5 "$W/build.log")"

# A Localhost seccomp profile that denies mkdir; a CDI spec with a fake device.
cat > "$W/no-mkdir.json" <<X
{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}
X
mkdir -p "$W/cdi"
cat > "$W/cdi/fake.yaml" <<X
cdiVersion: "0.6.0"
kind: example.com/fake
devices:
- name: one
  containerEdits:
    env: [FAKE_ONE=yes]
    deviceNodes:
    - {path: /dev/fakeone, hostPath: /dev/zero, permissions: rw}
X
cat > "$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
cdi_spec_dirs = ["$W/cdi"]
[runtime.handlers.gpu]
cdi_devices = ["example.com/fake=one"]
[runtime.handlers.alt]
shim = "$W/alt-shim"
[runtime.handlers.noshim]
shim = "$W/no-such-shim"
X
cp "$BERTH_SHIM" "$W/alt-shim"
start_berthd
out=$("$BERTHCTL" -r "unix://$W/berthd.sock" pull "$IMG" 2>&1)
check "berthd up, the image pulled" $? "$out $(tail -5 "$W/berthd.log")"

# --- a pod with no cgroup parent of kubelet's: berthd makes one, sized to
# its resources plus overhead; its DNS config, hostname and hosts file.
RES='"resources":{"memoryLimitInBytes":"268435456","cpuPeriod":"100000","cpuQuota":"200000","cpuShares":"1024"},"overhead":{"memoryLimitInBytes":"16777216","cpuQuota":"10000","cpuShares":"128"},'
out=$(call RunPodSandbox "$(pod_json sec "$POD_NS" '"dnsConfig":{"servers":["10.0.0.10","fd00::a"],"searches":["e2e.svc.cluster.local","svc.cluster.local"],"options":["ndots:5"]},"portMappings":[{"protocol":"TCP","containerPort":80,"hostPort":8080}],' "$RES" '"privileged":true,')" 2>&1)
POD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
check "RunPodSandbox (privileged pod, DNS config, resources and overhead)" $? "$out $(tail -5 "$W/berthd.log")"
PODCG=$CG/pod-${POD:0:16}
if [ -d "/sys/fs/cgroup/memory$PODCG" ]; then
    mem=$(cat "/sys/fs/cgroup/memory$PODCG/memory.limit_in_bytes")
    cpu=$(cat "/sys/fs/cgroup/cpu,cpuacct$PODCG/cpu.cfs_quota_us" "/sys/fs/cgroup/cpu$PODCG/cpu.cfs_quota_us" 2>/dev/null | head -1)
    shares=$(cat "/sys/fs/cgroup/cpu,cpuacct$PODCG/cpu.shares" "/sys/fs/cgroup/cpu$PODCG/cpu.shares" 2>/dev/null | head -1)
    want="285212672 210000 1152"
else
    mem=$(cat "/sys/fs/cgroup$PODCG/memory.max")
    cpu=$(cut -d' ' -f1 "/sys/fs/cgroup$PODCG/cpu.max")
    shares=$(cat "/sys/fs/cgroup$PODCG/cpu.weight")
    want="285212672 210000 44"   # shares 1152 -> weight, as runc converts
fi
[ "$mem $cpu $shares" = "$want" ]
check "the pod cgroup berthd made: memory, cpu quota and shares are resources plus overhead" $? "got '$mem $cpu $shares', want '$want'"

C=$(started "$POD" plain "$NSO" 2>"$W/err")
check "a container with the default security context" $? "$(cat "$W/err") $(tail -5 "$W/berthd.log")"
PID=$(ctr_pid "$C")
[[ $(cat /proc/"$PID"/cgroup) == *"$PODCG/$C"* ]]
check "its cgroup is under the pod cgroup" $? "$(cat /proc/"$PID"/cgroup)"
[ "$(status_line "$C" CapEff)" = 00000000a80425fb ] && [ "$(status_line "$C" CapBnd)" = 00000000a80425fb ]
check "default capabilities: containerd's set (effective and bounding)" $? "$(status_line "$C" CapEff) $(status_line "$C" CapBnd)"
[ "$(status_line "$C" Seccomp)" = 0 ] && [ "$(status_line "$C" NoNewPrivs)" = 0 ] && [ "$(status_line "$C" Uid | cut -f1)" = 0 ]
check "no seccomp profile asked: unconfined, no_new_privs off, uid 0" $? "$(sh_in "$C" 'grep -E "Seccomp|NoNewPrivs|Uid" /proc/1/status')"
got=$(sh_in "$C" 'cat /etc/resolv.conf; echo ---; cat /etc/hostname; echo ---; grep -c sec-host /etc/hosts; grep -c localhost /etc/hosts')
want=$(printf 'search e2e.svc.cluster.local svc.cluster.local\nnameserver 10.0.0.10\nnameserver fd00::a\noptions ndots:5\n---\nsec-host\n---\n1\n2')
[ "$got" = "$want" ]
check "the pod's resolv.conf (DNS config), hostname and hosts files" $? "$got"
out=$(call PodSandboxStatus "{\"podSandboxId\":\"$POD\",\"verbose\":true}" 2>&1)
[ "$(echo "$out" | py 'json.loads(d["info"]["info"])["config"]["portMappings"][0]["hostPort"]')" = 8080 ]
check "the pod's port mappings are recorded (verbose info)" $? "$out"

# --- capabilities, users and groups, read-only rootfs, no_new_privs
C=$(started "$POD" caps "$NSO,\"capabilities\":{\"dropCapabilities\":[\"ALL\"],\"addCapabilities\":[\"NET_BIND_SERVICE\",\"CAP_KILL\"]}" 2>"$W/err")
[ "$(status_line "$C" CapEff)" = 0000000000000420 ] && [ "$(status_line "$C" CapBnd)" = 0000000000000420 ]
check "drop ALL, add NET_BIND_SERVICE and CAP_KILL: exactly those two" $? "$(cat "$W/err") $(status_line "$C" CapEff)"
C=$(started "$POD" ids "$NSO,\"runAsUser\":{\"value\":\"1000\"},\"runAsGroup\":{\"value\":\"2000\"},\"supplementalGroups\":[\"3000\",\"3001\"]" 2>"$W/err")
[ "$(status_line "$C" Uid)" = "$(printf '1000\t1000\t1000\t1000')" ] && [ "$(status_line "$C" Gid)" = "$(printf '2000\t2000\t2000\t2000')" ] &&
    [[ " $(status_line "$C" Groups) " == *" 3000 "* ]] && [[ " $(status_line "$C" Groups) " == *" 3001 "* ]] &&
    [ "$(status_line "$C" CapEff)" = 0000000000000000 ]
check "run_as_user 1000, run_as_group 2000, supplemental groups; no effective caps as non-root" $? "$(cat "$W/err") $(sh_in "$C" 'grep -E "Uid|Gid|Groups|CapEff" /proc/1/status')"
C=$(started "$POD" named "$NSO,\"runAsUsername\":\"app\",\"supplementalGroups\":[\"3000\"]" 2>"$W/err")
g=" $(status_line "$C" Groups) "
[ "$(status_line "$C" Uid | cut -f1)" = 1234 ] && [ "$(status_line "$C" Gid | cut -f1)" = 1234 ] && [[ $g == *" 5555 "* ]] && [[ $g == *" 3000 "* ]] &&
    [ "$(sh_in "$C" 'echo $HOME')" = /home/app ]
check "run_as_username app: uid and gid from the image's passwd, its group extra from /etc/group, HOME" $? "$(cat "$W/err") $(sh_in "$C" 'grep -E "Uid|Gid|Groups" /proc/1/status; echo $HOME')"
out=$(refused "$POD" nouser "$NSO,\"runAsUsername\":\"nosuch\"")
[[ $out == "3 "*run_as_username*nosuch* ]]
check "run_as_username not in the image's passwd: InvalidArgument naming it" $? "$out"
C=$(started "$POD" ro "$NSO,\"readonlyRootfs\":true,\"noNewPrivs\":true" 2>"$W/err")
out=$(sh_in "$C" 'touch /x' 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"Read-only file system"* ]] && [ "$(status_line "$C" NoNewPrivs)" = 1 ] && sh_in "$C" 'echo ok > /dev/shm/x' >/dev/null
check "readonly_rootfs: the rootfs refuses writes, /dev/shm does not; no_new_privs set" $? "$(cat "$W/err") rc=$rc $out"

# --- masked and read-only paths (kubelet sends the defaults itself)
MASK='"maskedPaths":["/proc/kcore","/proc/timer_list","/sys/firmware"],"readonlyPaths":["/proc/sys","/proc/bus"]'
C=$(started "$POD" masked "$NSO,$MASK" 2>"$W/err")
out=$(sh_in "$C" 'wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/shmmni' 2>&1); rc=$?
[ $rc != 0 ] && [ "$(echo "$out" | head -2 | tr '\n' ' ')" = "0 0 " ] && [[ $out == *"Read-only file system"* ]]
check "masked_paths read empty, readonly_paths refuse writes" $? "$(cat "$W/err") rc=$rc $out"
C=$(started "$POD" unmasked "$NSO,\"maskedPaths\":[],\"readonlyPaths\":[]" 2>"$W/err")
out=$(sh_in "$C" 'wc -c < /proc/timer_list; grep -c " /proc/sys " /proc/self/mountinfo' 2>&1)
[ "$(echo "$out" | head -1)" -gt 0 ] && [ "$(echo "$out" | tail -1)" = 0 ]
check "empty lists (procMount Unmasked): nothing masked" $? "$(cat "$W/err") $out"

# --- seccomp
C=$(started "$POD" rtdefault "$NSO,\"seccomp\":{\"profileType\":\"RuntimeDefault\"}" 2>"$W/err")
out=$(sh_in "$C" 'unshare -U true' 2>&1); rc=$?
[ "$(status_line "$C" Seccomp)" = 2 ] && [ $rc != 0 ]
check "seccomp RuntimeDefault: filtered (unshare refused)" $? "$(cat "$W/err") $(status_line "$C" Seccomp) rc=$rc $out"
C=$(started "$POD" local "$NSO,\"seccomp\":{\"profileType\":\"Localhost\",\"localhostRef\":\"$W/no-mkdir.json\"}" 2>"$W/err")
out=$(sh_in "$C" 'mkdir /tmp/d' 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"Operation not permitted"* ]] && sh_in "$C" 'touch /tmp/f' >/dev/null
check "seccomp Localhost: the profile file's rules (mkdir EPERM, the rest allowed)" $? "$(cat "$W/err") rc=$rc $out"
C=$(started "$POD" unconfined "$NSO,\"seccomp\":{\"profileType\":\"Unconfined\"}" 2>"$W/err")
[ "$(status_line "$C" Seccomp)" = 0 ]
check "seccomp Unconfined: no filter" $? "$(cat "$W/err") $(status_line "$C" Seccomp)"
out=$(refused "$POD" nolocal "$NSO,\"seccomp\":{\"profileType\":\"Localhost\",\"localhostRef\":\"$W/nosuch.json\"}")
[[ $out == "5 "*seccomp.localhost_ref*nosuch.json* ]] || [[ $out == "3 "*seccomp.localhost_ref*nosuch.json* ]]
check "seccomp Localhost with a missing file: an error naming the field and file" $? "$out"

# --- AppArmor as far as the host has it
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
    skip_check "AppArmor RuntimeDefault on a host without AppArmor" "AppArmor is enabled here"
    skip_check "AppArmor Localhost on a host without AppArmor" "AppArmor is enabled here"
else
    C=$(started "$POD" aadefault "$NSO,\"apparmor\":{\"profileType\":\"RuntimeDefault\"}" 2>"$W/err")
    check "AppArmor RuntimeDefault on a host without AppArmor: runs without a profile" $? "$(cat "$W/err")"
    out=$(refused "$POD" aalocal "$NSO,\"apparmor\":{\"profileType\":\"Localhost\",\"localhostRef\":\"myprofile\"}")
    [[ $out == [0-9]*apparmor*AppArmor* ]]
    check "AppArmor Localhost on a host without AppArmor: a clear error naming the field" $? "$out"
fi

# --- privileged
C=$(started "$POD" priv "$NSO,\"privileged\":true" 2>"$W/err")
# Every capability the host's bounding set has (root here may lack some).
all=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
devs=$(ls /dev | grep -c -E '^(loop-control|kmsg|mem|fuse)$')
out=$(sh_in "$C" 'grep " /sys " /proc/self/mountinfo | cut -d" " -f6 | cut -d, -f1; grep -c " /proc/kcore " /proc/self/mountinfo; ls /dev | grep -c -E "^(loop-control|kmsg|mem|fuse)$"' 2>&1)
[ "$(status_line "$C" CapEff)" = "$all" ] && [ "$(status_line "$C" Seccomp)" = 0 ] && [ "$devs" -gt 0 ] &&
    [ "$(echo "$out" | tr '\n' ' ')" = "rw 0 $devs " ]
check "privileged: every capability, no seccomp, writable /sys, nothing masked, the host's devices" $? "$(cat "$W/err") $(status_line "$C" CapEff) want $all; $out"

# --- mounts
mkdir -p "$W/host/rw" "$W/host/ro" "$W/host/rro/sub" "$W/prop" "$W/priv" "$W/host/rel"
mount -t tmpfs sub "$W/host/rro/sub"
mount --bind "$W/prop" "$W/prop" && mount --make-shared "$W/prop"
mount --bind "$W/priv" "$W/priv" && mount --make-private "$W/priv"
M="\"mounts\":[{\"containerPath\":\"/mnt/rw\",\"hostPath\":\"$W/host/rw\"},{\"containerPath\":\"/mnt/ro\",\"hostPath\":\"$W/host/ro\",\"readonly\":true},{\"containerPath\":\"/mnt/ro2\",\"hostPath\":\"$W/host/rro\",\"readonly\":true},{\"containerPath\":\"/mnt/rro\",\"hostPath\":\"$W/host/rro\",\"readonly\":true,\"recursiveReadOnly\":true},{\"containerPath\":\"/mnt/prop\",\"hostPath\":\"$W/prop\",\"propagation\":\"PROPAGATION_HOST_TO_CONTAINER\"}],"
C=$(started "$POD" mounts "$NSO" "$M" 2>"$W/err")
sh_in "$C" 'echo hi > /mnt/rw/from-ctr' >/dev/null && [ "$(cat "$W/host/rw/from-ctr" 2>/dev/null)" = hi ]
check "a host path mount: the container's write lands on the host" $? "$(cat "$W/err")"
out=$(sh_in "$C" 'touch /mnt/ro/x' 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"Read-only file system"* ]]
check "a readonly mount refuses writes" $? "rc=$rc $out"
sh_in "$C" 'touch /mnt/ro2/sub/x' >/dev/null
check "readonly without recursive_read_only: a submount stays writable (as kubelet means it)" $? ""
out=$(sh_in "$C" 'touch /mnt/rro/sub/x' 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"Read-only file system"* ]]
check "recursive_read_only: the submount refuses writes too" $? "rc=$rc $out"
mkdir -p "$W/prop/late" && mount -t tmpfs late "$W/prop/late"
sh_in "$C" 'grep -q " /mnt/prop/late " /proc/self/mountinfo' >/dev/null
check "PROPAGATION_HOST_TO_CONTAINER: a mount made on the host later shows in the container" $? "$(sh_in "$C" 'grep /mnt/prop /proc/self/mountinfo')"
umount "$W/prop/late"
before=$(n_containers)
out=$(refused "$POD" private "$NSO" "\"mounts\":[{\"containerPath\":\"/mnt/p\",\"hostPath\":\"$W/priv\",\"propagation\":\"PROPAGATION_HOST_TO_CONTAINER\"}],")
[[ $out == "3 "*"mounts[0].propagation"*"neither"* ]]
check "PROPAGATION_HOST_TO_CONTAINER of a private host mount: InvalidArgument naming mounts[0].propagation" $? "$out"
out=$(refused "$POD" relabel "$NSO" "\"mounts\":[{\"containerPath\":\"/mnt/r\",\"hostPath\":\"$W/host/rel\",\"selinuxRelabel\":true}],")
[[ $out == *"mounts[0].selinux_relabel"*"SELinux"* ]]
check "selinux_relabel: a clear not-supported error naming the field" $? "$out"
out=$(refused "$POD" imgvol "$NSO" "\"mounts\":[{\"containerPath\":\"/mnt/i\",\"image\":{\"image\":\"$IMG\"}}],")
[[ $out == *"mounts[0].image"* ]]
check "an image volume mount: an error naming mounts[0].image" $? "$out"
[ "$(n_containers)" = "$before" ] && [ -z "$(ls "$W/state/pods/$POD/containers")" -o "$(ls "$W/state/pods/$POD/containers" | wc -l)" = "$before" ]
check "refused creates left no container behind" $? "$(n_containers) vs $before"

# --- devices, CDI
C=$(started "$POD" devs "$NSO" '"devices":[{"containerPath":"/dev/mynull","hostPath":"/dev/null","permissions":"rwm"}],' 2>"$W/err")
out=$(sh_in "$C" 'echo x > /dev/mynull && stat -c %t,%T /dev/mynull' 2>&1)
[ "$out" = 1,3 ]
check "a device from the config: the node, usable" $? "$(cat "$W/err") $out"
C=$(started "$POD" cdifield "$NSO" '"CDI_devices":[{"name":"example.com/fake=one"}],' 2>"$W/err")
out=$(sh_in "$C" 'echo $FAKE_ONE; stat -c %t,%T /dev/fakeone; head -c 4 /dev/fakeone | wc -c' 2>&1)
[ "$(echo "$out" | tr '\n' ' ')" = "yes 1,5 4 " ]
check "a CDI device by the CDI_devices field: its env and node" $? "$(cat "$W/err") $out"
C=$(started "$POD" cdiann "$NSO" '"annotations":{"cdi.k8s.io/e2e":"example.com/fake=one"},' 2>"$W/err")
out=$(sh_in "$C" 'echo $FAKE_ONE; stat -c %t,%T /dev/fakeone' 2>&1)
[ "$(echo "$out" | tr '\n' ' ')" = "yes 1,5 " ]
check "a CDI device by a cdi.k8s.io annotation" $? "$(cat "$W/err") $out"
out=$(refused "$POD" cdibad "$NSO" '"CDI_devices":[{"name":"example.com/fake=nosuch"}],')
[[ $out == *"example.com/fake=nosuch"* ]] && [[ ${out%% *} != 0 ]]
check "an unknown CDI device: an error naming it" $? "$out"

# --- resources
R='"resources":{"cpuPeriod":"100000","cpuQuota":"50000","cpuShares":"512","memoryLimitInBytes":"67108864","oomScoreAdj":"500","cpusetCpus":"0"},'
C=$(started "$POD" res "$NSO" "" "$R" 2>"$W/err")
PID=$(ctr_pid "$C")
if [ -n "$(cgroup_dir "$PID" memory)" ] && [ -e "$(cgroup_dir "$PID" memory)/memory.limit_in_bytes" ]; then
    got="$(cat "$(cgroup_dir "$PID" memory)/memory.limit_in_bytes") $(cat "$(cgroup_dir "$PID" cpu)/cpu.cfs_quota_us") $(cat "$(cgroup_dir "$PID" cpu)/cpu.shares") $(cat "$(cgroup_dir "$PID" cpuset)/cpuset.cpus")"
    want="67108864 50000 512 0"
else
    d=$(cgroup_dir "$PID" memory)
    got="$(cat "$d/memory.max") $(cat "$d/cpu.max") $(cat "$d/cpuset.cpus")"
    want="67108864 50000 100000 0"
fi
[ "$got" = "$want" ] && [ "$(cat /proc/"$PID"/oom_score_adj)" = 500 ]
check "resources: memory, cpu quota and shares, cpuset in the cgroup; oom_score_adj" $? "$(cat "$W/err") got '$got' want '$want', oom $(cat /proc/"$PID"/oom_score_adj)"

# --- the host's namespaces, and a handler's CDI devices
out=$(call RunPodSandbox "$(pod_json hostns '"network":"NODE","pid":"NODE","ipc":"NODE"' '' '"cgroupParent":"'"$CG"'",')" 2>&1)
HPOD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
check "RunPodSandbox with the host's network, pid and IPC" $? "$out $(grep level=error "$W/berthd.log" | tail -3)"
C=$(started "$HPOD" h '"namespaceOptions":{"network":"NODE","pid":"NODE","ipc":"NODE"}' 2>"$W/err")
PID=$(ctr_pid "$C")
ok=0
for ns in net pid ipc uts; do [ "$(readlink /proc/"$PID"/ns/$ns)" = "$(readlink /proc/self/ns/$ns)" ] || ok=1; done
check "host network, pid and IPC: the container is in the host's net, pid, ipc (and uts) namespaces" $ok "$(cat "$W/err") $(ls -l /proc/"$PID"/ns)"
out=$(sh_in "$C" 'hostname; ls /dev/shm >/dev/null && grep " /dev/shm " /proc/self/mountinfo | cut -d" " -f4')
[ "$(echo "$out" | head -1)" = "$(hostname)" ] && [ "$(echo "$out" | tail -1)" = / ]
check "a host-network pod sees the node's hostname, and host IPC the host's /dev/shm" $? "$out"
out=$(call RunPodSandbox "$(pod_json gpupod "$POD_NS" '' '"cgroupParent":"'"$CG"'",' | sed 's/}$/,"runtimeHandler":"gpu"}/')" 2>&1)
GPOD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
C=$(started "$GPOD" g "$NSO" 2>"$W/err")
out=$(sh_in "$C" 'echo $FAKE_ONE; stat -c %t,%T /dev/fakeone' 2>&1)
[ "$(echo "$out" | tr '\n' ' ')" = "yes 1,5 " ]
check "runtime handler gpu: its CDI devices in every container of the pod, unasked" $? "$(cat "$W/err") $out"

# --- a handler's own pod shim
out=$(call RunPodSandbox "$(pod_json altpod "$POD_NS" '' '"cgroupParent":"'"$CG"'",' | sed 's/}$/,"runtimeHandler":"alt"}/')" 2>&1)
APOD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
sp=$(shim_pids "$APOD")
argv0() { tr '\0' '\n' <"/proc/$1/cmdline" | head -1; }
[ -n "$APOD" ] && [ -n "$sp" ] && [ "$(argv0 "$sp")" = "$W/alt-shim" ]
check "runtime handler alt: its pod runs under the handler's own shim binary" $? "$out pids=$sp argv0=$(argv0 "${sp:-0}" 2>&1)"
pods_before=$(ls "$W/state/pods" | wc -l)
out=$(call RunPodSandbox "$(pod_json nsh "$POD_NS" '' '"cgroupParent":"'"$CG"'",' | sed 's/}$/,"runtimeHandler":"noshim"}/')" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *no-such-shim* ]] && [ "$(ls "$W/state/pods" | wc -l)" = "$pods_before" ]
check "a handler whose shim is missing: RunPodSandbox fails naming it, and leaves no pod" $? "rc=$rc $out"

# --- bad pods and containers
out=$(refused "$HPOD" privno '"namespaceOptions":{"network":"NODE","pid":"NODE","ipc":"NODE"},"privileged":true')
[[ $out == "3 "*privileged*"pod is not privileged"* ]]
check "a privileged container in a pod that is not: InvalidArgument naming privileged" $? "$out"
out=$(refused "$POD" badcap "$NSO,\"capabilities\":{\"addCapabilities\":[\"NOPE\"]}")
[[ $out == "3 "*capabilities*NOPE* ]]
check "an unknown capability: InvalidArgument naming it" $? "$out"
pods_before=$(ls "$W/state/pods" | wc -l)
out=$(call RunPodSandbox "$(pod_json badres "$POD_NS" '' '"overhead":{"memoryLimitInBytes":"-5"},')" 2>&1); rc=$?
[ $rc = 3 ] && [[ $out == *config.linux.overhead.memory_limit_in_bytes* ]] && [ "$(ls "$W/state/pods" | wc -l)" = "$pods_before" ] &&
    ! ls -d /sys/fs/cgroup/*"$CG"/pod-* /sys/fs/cgroup"$CG"/pod-* 2>/dev/null | grep -vq "pod-${POD:0:16}"
check "a negative overhead: InvalidArgument naming config.linux.overhead.memory_limit_in_bytes, nothing made" $? "rc=$rc $out"
out=$(call RunPodSandbox "$(pod_json badres "$POD_NS" '' '"overhead":{"memoryLimitInBytes":"1048576"},')" 2>&1)
BPOD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
check "the same pod name with a good config then runs: the refused one did not keep the name" $? "$out"

# --- removal takes the pod cgroup berthd made
for p in $POD $HPOD $GPOD $APOD $BPOD; do call StopPodSandbox "{\"podSandboxId\":\"$p\"}" >/dev/null 2>&1; call RemovePodSandbox "{\"podSandboxId\":\"$p\"}" >/dev/null 2>&1; done
left=$(ls -d /sys/fs/cgroup/*"$PODCG" /sys/fs/cgroup"$PODCG" 2>/dev/null; grep -F "$W/state" /proc/self/mountinfo; ls "$W/state/pods")
[ -z "$left" ]
check "RemovePodSandbox: the pod cgroup, pins and state are gone" $? "$left"
exit $failed
