#!/usr/bin/env bash
# e2e: Debian's podman (through conmon) drives berth as its OCI runtime.
# TAP output. Private storage under a temp dir; everything it makes is
# removed, podman's own libpod_parent cgroup included when it made it.
set -u
BERTH=${BERTH:?BERTH must name the berth binary}
SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v podman >/dev/null || { echo "1..0 # SKIP podman is not installed"; exit 0; }
command -v busybox >/dev/null || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }

W=$(mktemp -d /tmp/berth-e2e-podman.XXXXXX)
had_parent=0; [ -d /sys/fs/cgroup/memory/libpod_parent ] || [ -d /sys/fs/cgroup/libpod_parent ] && had_parent=1
cat > "$W/containers.conf" <<X
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
X
printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/storage"\n' "$W" "$W" > "$W/storage.conf"
export CONTAINERS_CONF=$W/containers.conf CONTAINERS_STORAGE_CONF=$W/storage.conf
pm() { timeout 120 podman --runtime "$BERTH" "$@"; }

cleanup() {
    pm rm -af -t 0 >/dev/null 2>&1
    pm rmi -af >/dev/null 2>&1
    # Whatever podman left mounted under the work dir, deepest first.
    grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
    if [ "$had_parent" = 0 ]; then
        for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    fi
}
trap cleanup EXIT

n=0 failed=0
check() {   # check NAME CONDITION-RESULT DETAIL
    n=$((n + 1))
    if [ "$2" = 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; printf '#   %s\n' "$3" | head -20; fi
}

echo "1..9"
"$SRC/contrib/mkbundle.sh" "$W/bundle" >/dev/null && tar -C "$W/bundle/rootfs" -cf "$W/rootfs.tar" . &&
    podman import "$W/rootfs.tar" localhost/berth-e2e >/dev/null 2>&1
check "image imported" $? "podman import failed"

out=$(pm run --rm localhost/berth-e2e sh -c 'echo hello from berth; grep Seccomp: /proc/self/status' 2>&1)
echo "$out" | grep -q "hello from berth"; check "run --rm prints the container's output" $? "$out"
echo "$out" | grep -q "Seccomp:.2"; check "podman's seccomp profile is in force" $? "$out"

pm run --rm localhost/berth-e2e sh -c 'exit 7' >/dev/null 2>&1; rc=$?
[ "$rc" = 7 ]; check "a non-zero exit status comes back through podman" $? "got $rc"

out=$(pm run --rm --memory 64m --pids-limit 50 localhost/berth-e2e sh -c \
    'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max' 2>&1)
echo "$out" | grep -q '^67108864$' && echo "$out" | grep -q '^50$'; check "--memory and --pids-limit are applied" $? "$out"

id=$(pm run -d localhost/berth-e2e sleep 100 2>&1)
pm ps --format '{{.ID}} {{.Status}}' | grep -q "^${id:0:12} Up"; check "run -d: ps shows it up" $? "id=$id; $(pm ps -a 2>&1)"

pm pause "$id" >/dev/null 2>&1 && [ "$(pm inspect -f '{{.State.Status}}' "$id")" = paused ] &&
    pm unpause "$id" >/dev/null 2>&1 && [ "$(pm inspect -f '{{.State.Status}}' "$id")" = running ]
check "pause and unpause" $? "$(pm inspect -f '{{.State.Status}}' "$id" 2>&1)"

# sleep as pid 1 ignores SIGTERM: stop must fall back to SIGKILL.
pm stop -t 1 "$id" >/dev/null 2>&1 && [ "$(pm inspect -f '{{.State.Status}}' "$id")" = exited ]
check "stop (SIGTERM, then SIGKILL after the timeout)" $? "$(pm inspect -f '{{.State.Status}}' "$id" 2>&1)"

pm rm "$id" >/dev/null 2>&1 && [ -z "$(pm ps -aq)" ]
check "rm leaves no container" $? "$(pm ps -a 2>&1)"
exit $failed
