#!/usr/bin/env bash
# e2e: Debian's Docker engine (docker.io 20.10) with berth registered as a
# runtime in daemon.json, driven with `docker run --runtime berth`. TAP output.
#
# A private dockerd: its own daemon.json, data-root, exec-root, pidfile and
# socket under a temp dir; cgroupfs driver with a cgroup parent of ours
# (/berth-e2e-docker-PID); no bridge, no iptables, containers on
# --network none. The image is a one-layer busybox-static archive made here
# and `docker load`ed (no registry).
# On exit, failures included: containers are removed, dockerd is stopped by
# its PID (it stops its containerd); then anything still running whose
# command line names the temp dir (containerd, shims) is killed by PID,
# processes left in our cgroups are killed, the cgroups, mounts and temp dir
# removed, and the files dockerd makes outside its dirs (/etc/docker/key.json,
# /run/docker/plugins) removed when this run made them.
set -u
BERTH=${BERTH:?BERTH must name the berth binary}
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
DOCKERD=$(command -v dockerd) || { echo "1..0 # SKIP dockerd is not installed (Debian: docker.io)"; exit 0; }
# The CLI that comes with the daemon, when there is one.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
else DOCKER=$(command -v docker) || { echo "1..0 # SKIP the docker CLI is not installed"; exit 0; }; fi
command -v busybox >/dev/null || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
[ -x "$BERTH" ] || { echo "1..0 # SKIP $BERTH is not built"; exit 0; }
BERTH=$(readlink -f "$BERTH")

W=$(mktemp -d /tmp/berth-e2e-docker.XXXXXX)
CG=berth-e2e-docker-$$
IMG=localhost/berth-e2e:latest
DPID=''
had_key=0; [ -e /etc/docker/key.json ] && had_key=1
had_etc=0; [ -d /etc/docker ] && had_etc=1
had_run=0; [ -d /run/docker ] && had_run=1
# dockerd's containerd puts shim sockets in /run/containerd/s.
note_new /run/containerd /run/containerd/s
driver=overlay2; [ "$(stat -f -c %T "$W")" = overlayfs ] && driver=vfs

# The setup README.md documents.
cat > "$W/daemon.json" <<X
{
  "data-root": "$W/root",
  "exec-root": "$W/exec",
  "pidfile": "$W/dockerd.pid",
  "hosts": ["unix://$W/docker.sock"],
  "storage-driver": "$driver",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "cgroup-parent": "/$CG",
  "bridge": "none",
  "iptables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false,
  "shutdown-timeout": 2,
  "runtimes": { "berth": { "path": "$BERTH" } }
}
X
export DOCKER_HOST=unix://$W/docker.sock DOCKER_CONFIG=$W/cli
d() { timeout 60 "$DOCKER" "$@"; }
R=(--runtime berth --network none)
tty_d() { timeout 60 script -qefc "$DOCKER $*" /dev/null </dev/null; }
status() { d inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1" 2>&1; }

cleanup() {
    local p pid c
    if [ -n "$DPID" ] && alive "$DPID"; then
        c=$(d ps -aq 2>/dev/null)
        # shellcheck disable=SC2086 # one word per container id
        [ -n "$c" ] && d rm -f $c >/dev/null 2>&1
    fi
    kill_pid "$DPID" 20
    # dockerd's containerd and shims, should they outlive it.
    for p in /proc/[0-9]*; do
        grep -qsF -- "$W/" "$p/cmdline" || continue
        pid=${p#/proc/}
        [ "$pid" = "$$" ] || kill -KILL "$pid" 2>/dev/null
    done
    for c in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$c" ] || continue
        find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do kill -KILL "$pid" 2>/dev/null; done
        wait_for 5 eval "[ -z \"\$(find '$c' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    rm -rf "$W"
    [ "$had_key" = 1 ] || rm -f /etc/docker/key.json
    [ "$had_etc" = 1 ] || rmdir /etc/docker 2>/dev/null
    [ "$had_run" = 1 ] || { rmdir /run/docker/plugins 2>/dev/null; rmdir /run/docker 2>/dev/null; }
    remove_new
}
on_exit cleanup

plan 23
setsid "$DOCKERD" --config-file "$W/daemon.json" >"$W/dockerd.log" 2>&1 </dev/null &
DPID=$!
wait_for 60 d version >/dev/null 2>&1
check "a private dockerd starts (berth registered in daemon.json)" $? "$(tail -5 "$W/dockerd.log")"
d info --format '{{json .Runtimes}}' 2>/dev/null | grep -q "\"berth\":{\"path\":\"$BERTH\""
check "docker info lists the berth runtime" $? "$(d info 2>&1 | grep -A2 -i runtimes)"

make_rootfs "$W/bundle" && make_docker_archive "$W/bundle/rootfs" "$W/image.tar" "$IMG" &&
    out=$(d load -i "$W/image.tar" 2>&1)
check "image loaded (docker load of a docker archive)" $? "${out:-}"

# --- run in the foreground
out=$(d run --rm "${R[@]}" "$IMG" sh -c 'echo hello from berth; grep Seccomp: /proc/self/status' 2>&1)
echo "$out" | grep -q "hello from berth"; check "run --rm prints the container's output" $? "$out"
echo "$out" | grep -q "Seccomp:.2"; check "docker's seccomp profile is in force" $? "$out"

d run --rm "${R[@]}" "$IMG" sh -c 'exit 7' >/dev/null 2>&1; rc=$?
[ "$rc" = 7 ]; check "run: a non-zero exit status comes back through docker" $? "got $rc"

out=$(tty_d run --rm -it "${R[@]}" "$IMG" sh -c "'tty; exit 4'" 2>&1); rc=$?
echo "$out" | grep -q '/dev/pts/[0-9]' && [ "$rc" = 4 ]; check "run -it under a terminal: the process has a tty" $? "rc=$rc; $out"

# --- detached, then exec
id=$(d run -d "${R[@]}" --memory 64m --pids-limit 50 "$IMG" sh -c \
    'echo to-stdout; echo to-stderr >&2; trap "echo got TERM; exit 3" TERM; while :; do sleep 0.1; done' 2>>"$W/errors")
[ "$(status "$id")" = "running 0" ]; check "run -d: the container is running" $? "id=$id; $(cat "$W/errors" 2>/dev/null; d ps -a 2>&1)"

pid=$(d inspect -f '{{.State.Pid}}' "$id" 2>/dev/null)
mdir=$(cgroup_dir "$pid" memory)
mem=$(cat "$mdir/memory.limit_in_bytes" 2>/dev/null || cat "$mdir/memory.max" 2>&1)
pids=$(cat "$(cgroup_dir "$pid" pids)/pids.max" 2>&1)
[ "$mem" = 67108864 ] && [ "$pids" = 50 ] && [ "${mdir#*/"$CG"/}" = "$id" ]
check "--memory and --pids-limit, in the cgroup docker asked for" $? "$mdir: memory=$mem pids=$pids"

# Docker's spec always carries cpu.shares 0 and blockIO.weight 0 for "not
# set"; runc writes neither, so the container keeps the kernel's defaults.
cdir=$(cgroup_dir "$pid" cpu)
if [ -r "$cdir/cpu.shares" ]; then shares=$(cat "$cdir/cpu.shares"); want=1024
else shares=$(cat "$cdir/cpu.weight" 2>&1); want=100; fi
[ "$shares" = "$want" ]; check "cpu.shares 0 in the spec leaves the default CPU weight" $? "$cdir: $shares, want $want"

wait_for 10 eval "d logs '$id' 2>&1 | grep -q to-stderr"
out=$(d logs "$id" 2>&1)
echo "$out" | grep -q '^to-stdout$' && echo "$out" | grep -q '^to-stderr$'; check "logs has stdout and stderr" $? "$out"

out=$(d exec "$id" sh -c 'echo exec says hi; cat /proc/1/cmdline | tr "\0" " "' 2>&1)
echo "$out" | grep -q '^exec says hi$' && echo "$out" | grep -q 'to-stdout'
check "exec runs in the container and prints" $? "$out"

d exec "$id" sh -c 'exit 5' >/dev/null 2>&1; rc=$?
[ "$rc" = 5 ]; check "exec: a non-zero exit status comes back through docker" $? "got $rc"

out=$(tty_d exec -it "$id" sh -c "'tty; exit 6'" 2>&1); rc=$?
echo "$out" | grep -q '/dev/pts/[0-9]' && [ "$rc" = 6 ]; check "exec -it under a terminal: the process has a tty" $? "rc=$rc; $out"

d pause "$id" >/dev/null 2>&1 && [ "$(status "$id")" = "paused 0" ] && [ "$(freezer_state "$pid")" = FROZEN ] &&
    d unpause "$id" >/dev/null 2>&1 && [ "$(status "$id")" = "running 0" ] && [ "$(freezer_state "$pid")" = THAWED ]
check "pause and unpause (the freezer cgroup follows)" $? "$(status "$id"); freezer $(freezer_state "$pid")"

# The shell traps TERM: stop ends it with TERM, well before the timeout.
t0=$SECONDS
d stop -t 20 "$id" >/dev/null 2>&1 && [ "$(status "$id")" = "exited 3" ] && [ $((SECONDS - t0)) -lt 10 ]
check "stop: SIGTERM reaches the process" $? "$(status "$id"), $((SECONDS - t0)) s; $(d logs "$id" 2>&1 | tail -3)"
d logs "$id" 2>&1 | grep -q "got TERM"; check "stop: the process handled the SIGTERM" $? "$(d logs "$id" 2>&1)"

# sleep as pid 1 ignores SIGTERM: stop must fall back to SIGKILL.
id2=$(d run -d "${R[@]}" "$IMG" sleep 100 2>>"$W/errors")
t0=$SECONDS
d stop -t 1 "$id2" >/dev/null 2>&1 && [ "$(status "$id2")" = "exited 137" ] && [ $((SECONDS - t0)) -ge 1 ]
check "stop: SIGKILL after the timeout when TERM is ignored" $? "$(status "$id2"), $((SECONDS - t0)) s"

id3=$(d run -d "${R[@]}" "$IMG" sh -c 'trap "exit 12" USR1; while :; do sleep 0.1; done' 2>>"$W/errors")
d kill -s USR1 "$id3" >/dev/null 2>&1 && wait_for 10 eval '[ "$(status "$id3")" = "exited 12" ]'
check "kill -s USR1 reaches the process" $? "$(status "$id3")"

id4=$(d run -d "${R[@]}" "$IMG" sleep 100 2>>"$W/errors")
d kill "$id4" >/dev/null 2>&1 && wait_for 10 eval '[ "$(status "$id4")" = "exited 137" ]'
check "kill (SIGKILL by default)" $? "$(status "$id4")"

id5=$(d run -d "${R[@]}" "$IMG" sleep 100 2>>"$W/errors")
pid5=$(d inspect -f '{{.State.Pid}}' "$id5" 2>/dev/null)
d rm -f "$id5" >/dev/null 2>&1 && [ -n "$pid5" ] && ! d inspect "$id5" >/dev/null 2>&1 && ! alive "$pid5"
check "rm -f removes a running container and its process" $? "pid $pid5; $(d ps -a 2>&1)"

d rm "$id" "$id2" "$id3" "$id4" >/dev/null 2>&1 && [ -z "$(d ps -aq)" ]
check "rm of stopped containers leaves none" $? "$(d ps -a 2>&1)"

# dockerd gives runtimes --root EXEC-ROOT/runtime-NAME/moby... (runc's
# shim names it after its runtime type); look in all of them.
left=$(find "$W/exec" -mindepth 3 -maxdepth 3 -path '*/runtime-*/*' 2>/dev/null
       find /sys/fs/cgroup/*/"$CG" -mindepth 1 -type d 2>/dev/null)
[ -z "$left" ]; check "no runtime state or container cgroup left behind" $? "$left"
exit $failed
