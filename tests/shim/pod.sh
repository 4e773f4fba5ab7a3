#!/usr/bin/env bash
# e2e: berth-shim as berthd's per-pod shim (`berth-shim -pod ... start`),
# driven over ttrpc by berth-shimctl: the Pod service (shim/proto/pod.proto).
# TAP output.
#
#   - start -pod: address written to POD_DIR/address, no containerd, no
#     TTRPC_ADDRESS; the shim stays when idle;
#   - PinNamespaces net+ipc+uts+pid with a hostname, a net and an ipc
#     sysctl: seen through nsenter and from containers joined to the pins;
#     lo is up; the pins are private mounts; the pod init is pid 1 of the
#     pod's pid namespace, containers see each other, orphans get reaped;
#   - failures part-way (a bad sysctl, a pin file in the way after the init
#     started) leave no mount, file or process; keys outside the pod's
#     namespaces are InvalidArgument;
#   - ExecSync: output, exit code, signal, stderr, cap, timeout, a stopped
#     container (FailedPrecondition), an unknown one (NotFound); its round
#     trip against Exec+Start+Wait+Delete over FIFOs (printed, not judged);
#   - UnpinNamespaces removes everything and is idempotent; Shutdown waits
#     for it; SIGTERM kills the pod init and the containers; pins outlive
#     the shim.
#
# Everything lives in a temp dir; containers get the cgroups
# /berth-shimpod-PID/ID. On exit, failures included, every process of ours
# is killed by PID, then cgroups, mounts under the temp dir and the dir go.
set -u
BERTH_SHIM=${BERTH_SHIM:?BERTH_SHIM must name the berth-shim binary}
BERTH_SHIMCTL=${BERTH_SHIMCTL:?BERTH_SHIMCTL must name the berth-shimctl binary}
BERTH=${BERTH:?BERTH must name the berth binary}
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
for c in busybox jq nsenter; do
    command -v $c >/dev/null || { echo "1..0 # SKIP $c is not installed"; exit 0; }
done
for b in "$BERTH_SHIM" "$BERTH_SHIMCTL" "$BERTH"; do
    [ -x "$b" ] || { echo "1..0 # SKIP $b is not built"; exit 0; }
done
BERTH_SHIM=$(readlink -f "$BERTH_SHIM")

W=$(mktemp -d /tmp/berth-shimpod.XXXXXX)
CG=berth-shimpod-$$
NS=berthd
export BERTH_SHIM_ROOT=$W/shim
unset TTRPC_ADDRESS
SHIMS='' INITS='' PEER=''

ctl() { local a=$1; shift; TMPDIR=$W timeout 60 "$BERTH_SHIMCTL" -a "$a" -n "$NS" "$@"; }
# pod_shim NAME: a pod dir $W/NAME and its shim, as berthd starts it; prints the address.
pod_shim() {
    mkdir -p "$W/$1" && : >"$W/$1/log" &&
        (cd "$W/$1" && timeout 30 "$BERTH_SHIM" -debug -pod -namespace "$NS" -id "$1-$$" start </dev/null)
}
note_shim() {
    local p
    p=$(ctl "$1" connect | awk '{ print $1 }') && [ -n "$p" ] || return 1
    SHIMS="$SHIMS $p"
    echo "$p"
}
shim_log() { tail -n "${2:-8}" "$W/$1/log" 2>/dev/null; }
# bundle POD ID ARGS...: $W/POD/c/ID joined to POD's pins (those that
# exist), in the cgroup /$CG/ID, running ARGS.
bundle() {
    local pod=$1 id=$2; shift 2
    local d=$W/$pod/c/$id nsd=$W/$pod/ns
    mkdir -p "$d" &&
        jq --arg root "$W/base/rootfs" --arg cg "/$CG/$id" --arg nsd "$nsd" \
            --argjson args "$(jq -nc '$ARGS.positional' --args -- "$@")" \
            --argjson have "$(for f in net ipc uts pid; do [ -e "$nsd/$f" ] && echo "$f"; done | jq -Rnc '[inputs]')" '
            {"network":"net","ipc":"ipc","uts":"uts","pid":"pid"} as $file
            | .process.terminal = false | .process.args = $args | .root.path = $root | .linux.cgroupsPath = $cg
            | del(.hostname)
            | .linux.namespaces |= map(if ($file[.type] // "") as $f | $have | index($f) then .path = ($nsd + "/" + $file[.type]) else . end)' \
            "$W/spec/config.json" >"$d/config.json"
}
# proc ID ARGS...: a process JSON for ARGS, from ID's config.
proc() {
    local f=$W/proc.$RANDOM.json pod=$1 id=$2; shift 2
    jq --argjson args "$(jq -nc '$ARGS.positional' --args -- "$@")" '.process | .args = $args | .terminal = false' \
        "$W/$pod/c/$id/config.json" >"$f" && echo "$f"
}
mounts_under() { grep -F " $1" /proc/self/mountinfo; }
# all_pinned DIR: DIR/{net,ipc,uts,pid} are each a mount.
all_pinned() { local f; for f in net ipc uts pid; do mounts_under "$1/$f " >/dev/null || return 1; done; }
# private MOUNTPOINT: its mountinfo line has no shared:/master: tag.
private() {
    local l
    l=$(grep -F " $1 " /proc/self/mountinfo | tail -1) && [ -n "$l" ] && ! echo "$l" | cut -d' ' -f7- | grep -q 'shared:\|master:'
}
children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | sort; }
cg_procs() { find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -name cgroup.procs -exec cat {} + 2>/dev/null; }
strays() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "BERTH_SHIM_ROOT=$W/shim" && echo "${p#/proc/}"
    done
}
cleanup() {
    local pid d
    [ -n "$PEER" ] && kill_pid "$PEER" 2
    for pid in $(cg_procs) $INITS $SHIMS $(strays); do kill -KILL "$pid" 2>/dev/null; done
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    umount_under "$W"
    rm -rf "$W"
}
on_exit cleanup

plan 30
make_rootfs "$W/base" && mkdir "$W/spec" && "$BERTH" spec -b "$W/spec" && [ -x "$W/base/rootfs/bin/busybox" ]
check "a busybox rootfs and berth spec's config" $? ""

# ------------------------------------------------------------- start -pod
A=$(pod_shim p1); rc=$?
[ "$rc" = 0 ] && [[ $A == "unix://$W/shim/s/"* ]] && [ "$(cat "$W/p1/address")" = "$A" ] && SP=$(note_shim "$A") && alive "$SP"
check "start -pod (no containerd, no TTRPC_ADDRESS) serves at once and writes POD_DIR/address" $? "rc=$rc address=$A; $(shim_log p1)"

# ------------------------------------------------------------ PinNamespaces
# The pod dir on a shared mount with a peer in another mount namespace
# (as under a systemd host's shared /): what the pins do must not reach it.
mkdir "$W/p1/ns" && mount --bind "$W/p1" "$W/p1" && mount --make-shared "$W/p1" &&
    { unshare -m --propagation unchanged sleep 1000 & PEER=$!; } &&
    wait_for 5 eval '[ "$(readlink /proc/$PEER/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]'
check "a shared pod dir with a peer mount namespace" $? "$(grep -F " $W/p1" /proc/self/mountinfo)"
out=$(ctl "$A" pin "$W/p1/ns" network,ipc,uts,pid --hostname pod-host \
    --sysctl net.ipv4.ip_unprivileged_port_start=123 --sysctl kernel.shmmni=1234 2>&1)
INIT=$(echo "$out" | awk '$1 == "init" { print $2 }'); INITS="$INITS $INIT"
want="ipc $W/p1/ns/ipc
network $W/p1/ns/net
pid $W/p1/ns/pid
uts $W/p1/ns/uts"
[ "$(echo "$out" | grep -v ^init)" = "$want" ] && [ "${INIT:-0}" -gt 0 ] && alive "$INIT" &&
    [ "$(cat "/proc/$INIT/comm")" = berth-pod-init ] && [ "$(ps -o ppid= -p "$INIT" | tr -d ' ')" = "$SP" ] &&
    all_pinned "$W/p1/ns"
check "PinNamespaces answers the four pins and the init (berth-pod-init, the shim's child); each pin is a mount" $? \
    "$out; init ppid $(ps -o ppid= -p "${INIT:-0}"); $(mounts_under "$W/p1/ns"); $(shim_log p1)"

P=$W/p1/ns
[ "$(nsenter --uts="$P/uts" hostname)" = pod-host ] &&
    [ "$(nsenter --net="$P/net" cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = 123 ] &&
    [ "$(nsenter --ipc="$P/ipc" cat /proc/sys/kernel/shmmni)" = 1234 ] &&
    [ "$(nsenter --net="$P/net" readlink /proc/self/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
    [ "$(cat /proc/sys/kernel/shmmni)" != 1234 ] && [ "$(hostname)" != pod-host ]
check "through nsenter: the hostname and both sysctls are there, in a netns that is not the host's" $? \
    "hostname $(nsenter --uts="$P/uts" hostname 2>&1); port_start $(nsenter --net="$P/net" cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>&1); shmmni $(nsenter --ipc="$P/ipc" cat /proc/sys/kernel/shmmni 2>&1)"

out=$(nsenter --net="$P/net" ip -o link show lo 2>&1)
[[ $out == *"<LOOPBACK,UP,LOWER_UP>"* ]] && [ "$(nsenter --net="$P/net" ip -o link | wc -l)" = 1 ]
check "the pod's netns has lo, up, and nothing else" $? "$out"

# The pins sit on DIR's own private mount: nothing propagates to or from it.
private "$P" && private "$P/net" && private "$P/ipc" && private "$P/uts" && private "$P/pid" &&
    ! grep -F " $P/" "/proc/$PEER/mountinfo"
check "DIR is a private bind mount of itself, the pins are private, and none reached the peer namespace" $? \
    "$(mounts_under "$P"); peer: $(grep -F " $W/" "/proc/$PEER/mountinfo")"

# ------------------------------------------------------- containers in the pod
bundle p1 c1 sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
bundle p1 c2 sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
out=$(ctl "$A" create c1 "$W/p1/c/c1" 2>&1) && ctl "$A" start c1 >/dev/null &&
    out2=$(ctl "$A" create c2 "$W/p1/c/c2" 2>&1) && ctl "$A" start c2 >/dev/null
check "two containers joined to the pins are created and started on the pod's shim" $? "${out:-} ${out2:-}; $(shim_log p1)"

f=$(proc p1 c1 sh -c 'hostname; cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/1/comm /proc/1/cmdline; echo; readlink /proc/self/ns/net')
out=$(ctl "$A" execsync c1 "$f" --out "$W/x.out" --err "$W/x.err" 2>&1)
want="pod-host
1234
123
berth-pod-init
berth-pod-init
$(nsenter --net="$P/net" readlink /proc/self/ns/net)"
[ "$out" = "0 0 $(wc -c <"$W/x.out") 0" ] && [ "$(tr -d '\0' <"$W/x.out")" = "$want" ]
check "in a joined container: the pod's hostname, sysctls, netns, and pid 1 is berth-pod-init" $? \
    "$out; got: $(cat -v "$W/x.out"); want: $want; err: $(cat "$W/x.err")"

f=$(proc p1 c2 ps -o pid,comm)
out=$(ctl "$A" execsync c2 "$f" --out "$W/ps.out" 2>&1)
n1=$(grep -c ' sh$' "$W/ps.out")
grep -Eq '^ *1 berth-pod-init$' "$W/ps.out" && [ "$n1" = 2 ]
check "containers sharing the pod pid namespace see each other (ps in c2 lists both inits and pid 1)" $? "$out; $(cat "$W/ps.out")"

f=$(proc p1 c1 sh -c 'sleep 1 </dev/null >/dev/null 2>&1 & echo $!')
opid=$(ctl "$A" execsync c1 "$f" --out /dev/stdout | head -1)
f=$(proc p1 c1 ps -o pid,ppid,stat,comm)
ctl "$A" execsync c1 "$f" --out "$W/ps1.out" >/dev/null
grep -Eq "^ *$opid +1 +[^Z ]+ +sleep$" "$W/ps1.out" &&
    wait_for 10 eval "ctl '$A' execsync c1 '$f' --out '$W/ps2.out' >/dev/null && ! grep -Eq '^ *$opid ' '$W/ps2.out'"
check "an orphan (sleep, reparented to pid 1) is reaped by the pod init once it exits: no zombie" $? \
    "orphan $opid; before: $(cat "$W/ps1.out"); after: $(cat "$W/ps2.out" 2>&1)"

# ------------------------------------------------------------------ ExecSync
f=$(proc p1 c1 sh -c 'echo to-out; echo to-err >&2; exit 3')
out=$(ctl "$A" execsync c1 "$f" --out "$W/e.out" --err "$W/e.err" 2>&1)
[ "$out" = "3 0 7 7" ] && [ "$(cat "$W/e.out")" = to-out ] && [ "$(cat "$W/e.err")" = to-err ]
check "ExecSync: exit code 3, stdout and stderr apart" $? "$out; out: $(cat "$W/e.out"); err: $(cat "$W/e.err")"
f=$(proc p1 c1 sh -c 'kill -TERM $$')
out=$(ctl "$A" execsync c1 "$f" 2>&1); [ "$out" = "143 0 0 0" ]
check "ExecSync: killed by SIGTERM answers 143" $? "$out"
f=$(proc p1 c1 sh -c 'head -c 300000 /dev/zero; echo finished >&2')
out=$(ctl "$A" execsync c1 "$f" --max-output 1000 --err "$W/cap.err" 2>&1)
[ "$out" = "0 0 1000 9" ] && [ "$(cat "$W/cap.err")" = finished ]
check "ExecSync: stdout over max_output is cut at 1000 bytes, and the process still finishes" $? "$out; $(cat "$W/cap.err")"
f=$(proc p1 c1 sh -c 'head -c 20000000 /dev/zero; head -c 3145728 /dev/zero >&2')
out=$(ctl "$A" execsync c1 "$f" 2>&1)
[ "$out" = "0 0 16777216 3145728" ]
check "ExecSync: by default each stream is kept to kubelet's 16 MiB, whole in one reply" $? "$out"
f=$(proc p1 c1 sh -c 'echo started; exec sleep 31')
out=$(ctl "$A" execsync c1 "$f" --timeout 300 --out "$W/t.out" 2>&1)
f2=$(proc p1 c1 ps -o args)
[ "$out" = "137 1 8 0" ] && [ "$(cat "$W/t.out")" = started ] && ctl "$A" execsync c1 "$f2" --out "$W/t.ps" >/dev/null &&
    grep -qx 'ps -o args' "$W/t.ps" && ! grep -q 'sleep 31' "$W/t.ps"
check "ExecSync: timeout kills the process (137, timed_out) and answers what it wrote" $? "$out; $(cat "$W/t.ps" 2>&1)"
f=$(proc p1 c1 true)
out=$(ctl "$A" execsync nosuch "$f" 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"container nosuch: not found (code 5)"* ]]
check "ExecSync in an unknown container: NotFound" $? "rc=$rc $out"
bundle p1 c3 true
out=$(ctl "$A" create c3 "$W/p1/c/c3" 2>&1) && ctl "$A" start c3 >/dev/null && st=$(ctl "$A" wait c3) &&
    out=$(ctl "$A" execsync c3 "$f" 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"container c3 is not running (stopped) (code 9)"* ]]
check "ExecSync in a stopped container: FailedPrecondition naming it" $? "rc=$rc wait=${st:-} $out"
ctl "$A" delete c3 >/dev/null

# ExecSync round trip of `true`, against Exec+Start+Wait+Delete over FIFOs.
out=$(ctl "$A" bench-exec c1 "$f" 100 2>&1)
check "ExecSync round trip measured (median/p90/min in µs; printed, not judged)" $? "$out"
echo "$out" | sed 's/^/# /'

# ------------------------------------------------ Unpin, Shutdown
out=$(ctl "$A" shutdown 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"container(s) left"*"(code 9)"* ]] && alive "$SP"
check "Shutdown with containers left: FailedPrecondition, the shim stays" $? "rc=$rc $out"
ctl "$A" kill c1 TERM && ctl "$A" kill c2 TERM && ctl "$A" wait c1 >/dev/null && ctl "$A" wait c2 >/dev/null &&
    ctl "$A" delete c1 >/dev/null && ctl "$A" delete c2 >/dev/null &&
    out=$(ctl "$A" shutdown 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"pod init (pid $INIT) runs: UnpinNamespaces first (code 9)"* ]] && alive "$SP"
check "Shutdown with the pins in place: FailedPrecondition, the shim stays" $? "rc=$rc $out"
out=$(ctl "$A" unpin "$P" 2>&1) && ! alive "$INIT" && [ ! -e "/proc/$INIT" ] && [ -z "$(mounts_under "$P")" ] &&
    [ -z "$(ls -A "$P")" ] && ctl "$A" unpin "$P" && ctl "$A" unpin "$W/nonexistent"
check "UnpinNamespaces: init killed and reaped, no mount under DIR, no file; again (and a missing DIR) is ok" $? \
    "$out; init $INIT: $(ps -o stat= -p "$INIT"); $(mounts_under "$P"); $(ls -A "$P")"
! grep -F " $P" "/proc/$PEER/mountinfo"
check "nothing of the pins is left in the peer mount namespace either" $? "$(grep -F " $W/" "/proc/$PEER/mountinfo")"
kill_pid "$PEER" 2
ctl "$A" shutdown && wait_for 10 eval '! alive "$SP"' && [ ! -e "${A#unix://}" ]
check "Shutdown once empty and unpinned: the shim exits and removes its socket" $? "$(shim_log p1)"

# --------------------------------------------- failures leave nothing behind
B=$(pod_shim p2) && SB=$(note_shim "$B")
check "a second pod shim" $? "$(shim_log p2)"
kids=$(children_of "$SB")
mkdir "$W/bad1"
out=$(ctl "$B" pin "$W/bad1" network,uts,pid --sysctl net.ipv4.no_such_key=1 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"sysctl net.ipv4.no_such_key"*"No such file or directory"* ]] &&
    [ -z "$(mounts_under "$W/bad1")" ] && [ -z "$(ls -A "$W/bad1")" ] && [ "$(children_of "$SB")" = "$kids" ]
check "a sysctl that does not exist: the error names it and its errno; no mount, file or process left" $? \
    "rc=$rc $out; $(mounts_under "$W/bad1"); $(ls -A "$W/bad1"); children: $(children_of "$SB") (were $kids)"
mkdir "$W/bad2" && : >"$W/bad2/pid"
out=$(ctl "$B" pin "$W/bad2" network,ipc,uts,pid 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == *"pin pid: create $W/bad2/pid"* ]] &&
    [ -z "$(mounts_under "$W/bad2")" ] && [ "$(ls -A "$W/bad2")" = pid ] && [ "$(children_of "$SB")" = "$kids" ]
check "a pin file in the way after three pins and the init: all undone, the init killed and reaped" $? \
    "rc=$rc $out; $(mounts_under "$W/bad2"); $(ls -A "$W/bad2"); children: $(children_of "$SB") (were $kids)"
out=$(ctl "$B" pin "$W/bad1" uts --sysctl net.core.somaxconn=1 2>&1); rc=$?
out2=$(ctl "$B" pin "$W/bad1" network --sysctl kernel.core_pattern=x 2>&1); rc2=$?
[ "$rc" = 1 ] && [[ $out == *'"net.core.somaxconn" belongs to the network namespace'*"(code 3)"* ]] &&
    [ "$rc2" = 1 ] && [[ $out2 == *'"kernel.core_pattern" is not a namespaced sysctl (code 3)'* ]] &&
    [ -z "$(mounts_under "$W/bad1")" ] && [ -z "$(ls -A "$W/bad1")" ]
check "sysctls outside the namespaces made: InvalidArgument naming the key, nothing made" $? "$out; $out2"

# --------------------------------------------------- SIGTERM, pins outlive it
mkdir "$W/p2/ns" &&
    out=$(ctl "$B" pin "$W/p2/ns" network,ipc,uts,pid 2>&1) && INIT2=$(echo "$out" | awk '$1 == "init" { print $2 }') &&
    INITS="$INITS $INIT2" && bundle p2 d1 sleep 1000 && ctl "$B" create d1 "$W/p2/c/d1" >/dev/null &&
    D1=$(ctl "$B" start d1) && alive "$D1" && alive "$INIT2"
check "a second pod shim with pins, its init and a running container" $? "${out:-}; $(shim_log p2)"
kill -TERM "$SB"
wait_for 10 eval '! alive "$SB"' && wait_for 10 eval '! alive "$INIT2" && ! alive "$D1"' && all_pinned "$W/p2/ns"
check "SIGTERM: the shim kills its container and the pod init, and exits; the pins outlive it" $? \
    "shim $SB $(alive "$SB" && echo alive); init $INIT2 $(alive "$INIT2" && echo alive); d1 $D1 $(alive "$D1" && echo alive); $(mounts_under "$W/p2/ns"); $(shim_log p2)"
