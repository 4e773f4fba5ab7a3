#!/usr/bin/env bash
# e2e: Debian's podman (through conmon) drives berth as its OCI runtime.
# TAP output. Private storage under a temp dir and an image imported from
# a busybox-static rootfs (no registry). Everything it makes is removed on
# exit, failures included: containers, images, mounts, the temp dir, and
# podman's libpod_parent cgroup when this run made it.
set -u
BERTH=${BERTH:?BERTH must name the berth binary}
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v podman >/dev/null || { echo "1..0 # SKIP podman is not installed"; exit 0; }
command -v busybox >/dev/null || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
[ -x "$BERTH" ] || { echo "1..0 # SKIP $BERTH is not built"; exit 0; }

W=$(mktemp -d /tmp/berth-e2e-podman.XXXXXX)
# What has no setting: root's image blob cache, and berth's default state
# root (podman's container cleanup gives the runtime no --root).
note_new /var/lib/containers /var/lib/containers/cache /var/lib/containers/cache/blob-info-cache-v1.boltdb /run/berth
had_parent=0
for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do [ -d "$d" ] && had_parent=1; done
cat > "$W/containers.conf" <<X
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$W/libpod"
[network]
network_config_dir = "$W/cni"
X
printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/storage"\n' "$W" "$W" > "$W/storage.conf"
export CONTAINERS_CONF=$W/containers.conf CONTAINERS_STORAGE_CONF=$W/storage.conf
IMG=localhost/berth-e2e
pm() { timeout 120 podman --runtime "$BERTH" "$@"; }
# tty_pm ARGS...: podman under a pseudo-terminal (script from util-linux),
# so that -t gets a real terminal on its side. Exit status is podman's.
tty_pm() { timeout 120 script -qefc "podman --runtime $BERTH $*" /dev/null </dev/null; }
status() { pm inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1" 2>&1; }

cleanup() {
    pm rm -af -t 0 >/dev/null 2>&1
    pm rmi -af >/dev/null 2>&1
    umount_under "$W"
    rm -rf "$W"
    remove_new
    if [ "$had_parent" = 0 ]; then
        for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    fi
}
on_exit cleanup

plan 21
make_rootfs "$W/bundle" && tar -C "$W/bundle/rootfs" -cf "$W/rootfs.tar" . &&
    podman import "$W/rootfs.tar" "$IMG" >/dev/null 2>&1
check "image imported" $? "podman import failed"

# --- run in the foreground
out=$(pm run --rm "$IMG" sh -c 'echo hello from berth; grep Seccomp: /proc/self/status' 2>&1)
echo "$out" | grep -q "hello from berth"; check "run --rm prints the container's output" $? "$out"
echo "$out" | grep -q "Seccomp:.2"; check "podman's seccomp profile is in force" $? "$out"

pm run --rm "$IMG" sh -c 'exit 7' >/dev/null 2>&1; rc=$?
[ "$rc" = 7 ]; check "run: a non-zero exit status comes back through podman" $? "got $rc"

out=$(pm run --rm --memory 64m --pids-limit 50 "$IMG" sh -c \
    'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max' 2>&1)
echo "$out" | grep -q '^67108864$' && echo "$out" | grep -q '^50$'; check "--memory and --pids-limit, read inside" $? "$out"

out=$(tty_pm run --rm -it "$IMG" sh -c "'tty; exit 4'" 2>&1); rc=$?
echo "$out" | grep -q '/dev/pts/[0-9]' && [ "$rc" = 4 ]; check "run -it under a terminal: the process has a tty" $? "rc=$rc; $out"

# --- detached, then exec
id=$(pm run -d --memory 32m --pids-limit 40 "$IMG" sh -c \
    'echo to-stdout; echo to-stderr >&2; trap "echo got TERM; exit 3" TERM; while :; do sleep 0.1; done' 2>>"$W/errors")
pm ps --format '{{.ID}} {{.Status}}' | grep -q "^${id:0:12} Up"; check "run -d: ps shows it up" $? "id=$id; $(cat "$W/errors" 2>/dev/null; pm ps -a 2>&1)"

pid=$(pm inspect -f '{{.State.Pid}}' "$id" 2>/dev/null)
mem=$(cat "$(cgroup_dir "$pid" memory)/memory.limit_in_bytes" 2>/dev/null ||
      cat "$(cgroup_dir "$pid" memory)/memory.max" 2>&1)
pids=$(cat "$(cgroup_dir "$pid" pids)/pids.max" 2>&1)
[ "$mem" = 33554432 ] && [ "$pids" = 40 ]
check "--memory and --pids-limit, read from the host's cgroup files" $? "pid=$pid memory=$mem pids=$pids"

wait_for 10 eval "pm logs '$id' 2>&1 | grep -q to-stderr"
out=$(pm logs "$id" 2>&1)
echo "$out" | grep -q '^to-stdout$' && echo "$out" | grep -q '^to-stderr$'; check "logs has stdout and stderr" $? "$out"

out=$(pm exec "$id" sh -c 'echo exec says hi; cat /proc/1/cmdline | tr "\0" " "' 2>&1)
echo "$out" | grep -q '^exec says hi$' && echo "$out" | grep -q 'to-stdout'
check "exec runs in the container and prints" $? "$out"

pm exec "$id" sh -c 'exit 5' >/dev/null 2>&1; rc=$?
[ "$rc" = 5 ]; check "exec: a non-zero exit status comes back through podman" $? "got $rc"

out=$(tty_pm exec -it "$id" sh -c "'tty; exit 6'" 2>&1); rc=$?
echo "$out" | grep -q '/dev/pts/[0-9]' && [ "$rc" = 6 ]; check "exec -it under a terminal: the process has a tty" $? "rc=$rc; $out"

pm pause "$id" >/dev/null 2>&1 && [ "$(status "$id")" = "paused 0" ] && [ "$(freezer_state "$pid")" = FROZEN ] &&
    pm unpause "$id" >/dev/null 2>&1 && [ "$(status "$id")" = "running 0" ] && [ "$(freezer_state "$pid")" = THAWED ]
check "pause and unpause (the freezer cgroup follows)" $? "$(status "$id"); freezer $(freezer_state "$pid")"

# The shell traps TERM: stop ends it with TERM, well before the timeout.
t0=$SECONDS
pm stop -t 20 "$id" >/dev/null 2>&1 && [ "$(status "$id")" = "exited 3" ] && [ $((SECONDS - t0)) -lt 10 ]
check "stop: SIGTERM reaches the process" $? "$(status "$id"), $((SECONDS - t0)) s; $(pm logs "$id" 2>&1 | tail -3)"
pm logs "$id" 2>&1 | grep -q "got TERM"; check "stop: the process handled the SIGTERM" $? "$(pm logs "$id" 2>&1)"

# sleep as pid 1 ignores SIGTERM: stop must fall back to SIGKILL.
id2=$(pm run -d "$IMG" sleep 100 2>>"$W/errors")
t0=$SECONDS
pm stop -t 1 "$id2" >/dev/null 2>&1 && [ "$(status "$id2")" = "exited 137" ] && [ $((SECONDS - t0)) -ge 1 ]
check "stop: SIGKILL after the timeout when TERM is ignored" $? "$(status "$id2"), $((SECONDS - t0)) s"

id3=$(pm run -d "$IMG" sh -c 'trap "exit 12" USR1; while :; do sleep 0.1; done' 2>>"$W/errors")
pm kill -s USR1 "$id3" >/dev/null 2>&1 && wait_for 10 eval '[ "$(status "$id3")" = "exited 12" ]'
check "kill -s USR1 reaches the process" $? "$(status "$id3")"

id4=$(pm run -d "$IMG" sleep 100 2>>"$W/errors")
pm kill "$id4" >/dev/null 2>&1 && wait_for 10 eval '[ "$(status "$id4")" = "exited 137" ]'
check "kill (SIGKILL by default)" $? "$(status "$id4")"

id5=$(pm run -d "$IMG" sleep 100 2>>"$W/errors")
pid5=$(pm inspect -f '{{.State.Pid}}' "$id5" 2>/dev/null)
pm rm -f -t 0 "$id5" >/dev/null 2>&1 && [ -n "$pid5" ] && ! pm container exists "$id5" && ! alive "$pid5"
check "rm -f removes a running container and its process" $? "pid $pid5; $(pm ps -a 2>&1)"

pm rm "$id" "$id2" "$id3" "$id4" >/dev/null 2>&1 && [ -z "$(pm ps -aq)" ]
check "rm of stopped containers leaves none" $? "$(pm ps -a 2>&1)"

# podman gives the runtime no --root: berth keeps its state in /run/berth/ID.
left=$(for i in "$id" "$id2" "$id3" "$id4" "$id5"; do ls -d "/run/berth/$i" 2>/dev/null; done
       find /sys/fs/cgroup/*/libpod_parent -name 'libpod-*' 2>/dev/null)
[ -z "$left" ]; check "no runtime state or container cgroup left behind" $? "$left"

exit $failed
