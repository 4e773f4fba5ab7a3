#!/usr/bin/env bash
# e2e: a private containerd (Debian's 1.6) whose io.containerd.runc.v2 shim
# runs berth as its runtime binary (BinaryName, set per container with ctr's
# --runc-binary), driven with ctr. TAP output.
#
# The daemon gets its own root, state, sockets and config under a temp dir;
# the containers get their own ctr namespace, runtime --root, fifo dir and
# cgroups (/berth-e2e-ctr-PID/ID). The image is a one-layer busybox-static
# archive made here and imported with `ctr image import` (no registry).
# On exit, failures included: tasks and containers are killed and deleted,
# then the daemon (by its PID), leftover shims (by the PID whose command line
# names our socket), mounts under the temp dir, the cgroups, the temp dir.
set -u
BERTH=${BERTH:?BERTH must name the berth binary}
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v containerd >/dev/null || { echo "1..0 # SKIP containerd is not installed"; exit 0; }
command -v ctr >/dev/null || { echo "1..0 # SKIP ctr is not installed"; exit 0; }
command -v containerd-shim-runc-v2 >/dev/null || { echo "1..0 # SKIP containerd-shim-runc-v2 is not installed"; exit 0; }
command -v busybox >/dev/null || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
[ -x "$BERTH" ] || { echo "1..0 # SKIP $BERTH is not built"; exit 0; }
BERTH=$(readlink -f "$BERTH")

W=$(mktemp -d /tmp/berth-e2e-ctrd.XXXXXX)
# containerd 1.6 puts shim sockets in /run/containerd/s whatever its state
# dir, and ctr task exec its fifos in /run/containerd/fifo.
note_new /run/containerd /run/containerd/s /run/containerd/fifo
CG=berth-e2e-ctr-$$
NS=berth-e2e
IMG=localhost/berth-e2e:latest
DPID=''
cat > "$W/config.toml" <<X
version = 2
root = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/containerd.sock"
[ttrpc]
  address = "$W/containerd.sock.ttrpc"
[debug]
  address = "$W/debug.sock"
X

c() { timeout 60 ctr -a "$W/containerd.sock" -n "$NS" "$@"; }
# c_run ID ARGS...: ctr run ARGS with what every container gets: berth
# through the runc v2 shim, a private runtime root and fifo dir, and a
# cgroup of ours.
c_run() {
    local id=$1; shift
    c run --runc-binary "$BERTH" --runc-root "$W/runc" --fifo-dir "$W/fifo" --cgroup "/$CG/$id" "$@"
}
task_status() { c task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }

cleanup() {
    local t pid p d
    if [ -n "$DPID" ] && alive "$DPID"; then
        for t in $(c task ls -q 2>/dev/null); do
            c task kill -s KILL "$t" >/dev/null 2>&1
            wait_for 5 eval '[ "$(task_status "$t")" = STOPPED ]'
            c task delete -f "$t" >/dev/null 2>&1
        done
        for t in $(c container ls -q 2>/dev/null); do c container delete "$t" >/dev/null 2>&1; done
        c image rm "$IMG" >/dev/null 2>&1
    fi
    kill_pid "$DPID"
    # Shims of ours that outlived the daemon: their command line names our socket.
    for p in /proc/[0-9]*; do
        grep -qsF -- "$W/containerd.sock" "$p/cmdline" || continue
        pid=${p#/proc/}
        [ "$pid" = "$$" ] || kill -KILL "$pid" 2>/dev/null
    done
    # Container processes left in our cgroups, then the cgroups.
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do kill -KILL "$pid" 2>/dev/null; done
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    rm -rf "$W"
    remove_new
}
on_exit cleanup

plan 17
setsid containerd --config "$W/config.toml" >"$W/containerd.log" 2>&1 </dev/null &
DPID=$!
wait_for 30 c version >/dev/null 2>&1
check "a private containerd starts" $? "$(tail -5 "$W/containerd.log")"

make_rootfs "$W/bundle" && make_docker_archive "$W/bundle/rootfs" "$W/image.tar" "$IMG" &&
    out=$(c image import "$W/image.tar" 2>&1) && c image ls -q | grep -qx "$IMG"
check "image imported (ctr image import of a docker archive)" $? "${out:-}"

# --- run in the foreground
out=$(c_run t-fg --rm "$IMG" t-fg sh -c 'echo hello from berth; exit 7' 2>&1); rc=$?
echo "$out" | grep -q '^hello from berth' ; check "run --rm prints the container's output" $? "$out"
[ "$rc" = 7 ]; check "run --rm: the exit status comes back through ctr" $? "got $rc; $out"
! c container ls -q | grep -qx t-fg; check "run --rm removes the container" $? "$(c container ls 2>&1)"

# --- detached: exec, ps, pause/resume, kill, delete
c_run t-bg -d --memory-limit 67108864 "$IMG" t-bg sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1 &&
    [ "$(task_status t-bg)" = RUNNING ]
check "run -d: the task is running" $? "$(c task ls 2>&1)"
pid=$(c task ls 2>/dev/null | awk '$1 == "t-bg" { print $2 }')

# ctr's default spec mounts no /sys/fs/cgroup: read the limit from the host.
d=$(cgroup_dir "$pid" memory)
mem=$(cat "$d/memory.limit_in_bytes" 2>/dev/null || cat "$d/memory.max" 2>&1)
[ "$mem" = 67108864 ] && [ "$d" = "/sys/fs/cgroup/memory/$CG/t-bg" ]
check "--memory-limit is applied, in the cgroup ctr asked for" $? "$d: $mem"

out=$(c task exec --exec-id e1 t-bg sh -c 'echo exec says hi; cat /proc/1/cmdline | tr "\0" " "' 2>&1)
echo "$out" | grep -q '^exec says hi$' && echo "$out" | grep -q 'trap'
check "task exec runs in the container and prints" $? "$out"

c task exec --exec-id e2 t-bg sh -c 'exit 5' >/dev/null 2>&1; rc=$?
[ "$rc" = 5 ]; check "task exec: the exit status comes back through ctr" $? "got $rc"

out=$(timeout 60 script -qefc "ctr -a $W/containerd.sock -n $NS task exec -t --exec-id e3 t-bg sh -c 'tty; exit 6'" /dev/null </dev/null 2>&1); rc=$?
echo "$out" | grep -q '/dev/pts/[0-9]' && [ "$rc" = 6 ]; check "task exec -t under a terminal: the process has a tty" $? "rc=$rc; $out"

out=$(c task ps t-bg 2>&1)
echo "$out" | grep -qw "$pid"; check "task ps lists the container's init" $? "init $pid; $out"

c task pause t-bg >/dev/null 2>&1 && [ "$(task_status t-bg)" = PAUSED ] && [ "$(freezer_state "$pid")" = FROZEN ]
check "task pause" $? "$(task_status t-bg), freezer $(freezer_state "$pid")"
c task resume t-bg >/dev/null 2>&1 && [ "$(task_status t-bg)" = RUNNING ] && [ "$(freezer_state "$pid")" = THAWED ]
check "task resume" $? "$(task_status t-bg), freezer $(freezer_state "$pid")"

c task kill t-bg >/dev/null 2>&1 && wait_for 10 eval '[ "$(task_status t-bg)" = STOPPED ]'
check "task kill (SIGTERM, handled by the process)" $? "$(c task ls 2>&1)"

c_run t-k -d "$IMG" t-k sleep 100 >/dev/null 2>&1 &&
    c task kill -s KILL t-k >/dev/null 2>&1 && wait_for 10 eval '[ "$(task_status t-k)" = STOPPED ]'
check "task kill -s KILL" $? "$(c task ls 2>&1)"

out=$(c task delete t-bg 2>&1; c task delete t-k 2>&1)
echo "$out" | grep -q 'exit code 3' && echo "$out" | grep -q 'exit code 137'
check "task delete reports the exit codes (3 and 137)" $? "$out"

c container delete t-bg t-k >/dev/null 2>&1
left=$(c container ls -q; c task ls -q; c snapshots ls | awk '$NF == "Active"'; ls "$W/runc/$NS" 2>/dev/null
       find /sys/fs/cgroup/*/"$CG" -mindepth 1 -type d 2>/dev/null; grep -F " $W/state/" /proc/self/mountinfo)
[ -z "$left" ]; check "delete leaves no container, task, snapshot, runtime state, mount or cgroup" $? "$left"
exit $failed
