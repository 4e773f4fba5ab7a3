#!/usr/bin/env bash
# e2e: berth-shim under containerd's CRI plugin (Debian's 1.6), driven the
# way kubelet drives it, by tests/cri's CRI client: a host-network pod with
# the runtime handler `berth` (io.containerd.berth.v2), a container in it,
# ExecSync of commands that write to stdout and stderr (as liveness probes
# do), exec exit codes, and a second container of the pod served while an
# exec's output still drains. TAP output.
#
# Everything lives in a temp dir (tests/cri/containerd-cri.sh): containerd's
# root, state, sockets and config, berth-shim's root, the images. Pods get
# the cgroup parent /berth-e2e-cri-PID. On exit, failures included: pods
# are stopped and removed, containerd and its shims are killed by PID,
# leftover processes in our cgroups too, then the cgroups, mounts under the
# temp dir and the temp dir are removed.
set -u
BERTH_SHIM=${BERTH_SHIM:?BERTH_SHIM must name the berth-shim binary}
CRI_CLIENT=${CRI_CLIENT-}   # empty: not built (no grpc++)
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"
. "$BERTH_SRC/tests/cri/containerd-cri.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v containerd >/dev/null || { echo "1..0 # SKIP containerd is not installed"; exit 0; }
command -v ctr >/dev/null || { echo "1..0 # SKIP ctr is not installed"; exit 0; }
command -v busybox >/dev/null || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
[ -x "$BERTH_SHIM" ] || { echo "1..0 # SKIP $BERTH_SHIM is not built"; exit 0; }
[ -n "$CRI_CLIENT" ] && [ -x "$CRI_CLIENT" ] || { echo "1..0 # SKIP cri-client is not built (needs libgrpc++-dev, protobuf-compiler-grpc)"; exit 0; }

W=$(mktemp -d /tmp/berth-e2e-cri.XXXXXX)
CG=berth-e2e-cri-$$
PODS=''   # pod ids, for cleanup
BG=''     # background jobs

cri() { "$CRI_CLIENT" -a "$CRI_SOCK" -T 60 "$@"; }
pod_flags() { echo --pod-name "$1" --pod-uid "$1-$$" --handler berth --cgroup-parent "/$CG"; }
# new_pod NAME: a running pod through berth-shim; prints its id.
new_pod() {
    local id
    # shellcheck disable=SC2046 # pod_flags splits on purpose
    id=$(cri runp $(pod_flags "$1")) || return 1
    PODS="$PODS $id"
    echo "$id"
}
# new_container POD_ID POD_NAME NAME: a started container sleeping in it.
new_container() {
    local id
    # shellcheck disable=SC2046
    id=$(cri create "$1" $(pod_flags "$2") --name "$3" --image "$CRI_IMAGE" -- sleep 3600) &&
        cri start "$id" && echo "$id"
}
cg_procs() { find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -name cgroup.procs -exec cat {} + 2>/dev/null; }
shim_log() { grep -h 'runtime=berth-shim' "$W/containerd.log" 2>/dev/null | tail -n "${1:-6}"; }

cleanup() {
    local p d
    for p in $BG; do kill_pid "$p" 2; done
    if [ -n "$CRI_PID" ] && alive "$CRI_PID"; then
        for p in $PODS; do cri -T 20 stopp "$p" >/dev/null 2>&1; cri -T 20 rmp "$p" >/dev/null 2>&1; done
    fi
    cri_stop
    for p in $(cg_procs); do kill -KILL "$p" 2>/dev/null; done
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    [ -n "${KEEP_LOG:-}" ] && cp "$W/containerd.log" "$KEEP_LOG"
    rm -rf "$W"
}
on_exit cleanup

plan 9
CRI_LOG_LEVEL=debug cri_setup "$W" "${BERTH:-}" "$BERTH_SHIM" && cri_start && out=$(cri version 2>&1) &&
    [[ $out == containerd* ]]
check "a private containerd with the CRI plugin answers Version" $? "${out:-}; $(tail -5 "$W/containerd.log")"

P=$(new_pod p1) && C=$(new_container "$P" p1 c1)
check "RunPodSandbox, CreateContainer, StartContainer with the berth handler" $? \
    "pod ${P:-?} container ${C:-?}; $(shim_log)"

# A probe's view: stdout and stderr apart and whole, and the exit code.
cri exec-sync "$C" sh -c 'echo x; echo y >&2; exit 3' >"$W/o1" 2>"$W/e1"; rc=$?
[ "$rc" = 3 ] && [ "$(cat "$W/o1")" = x ] && [ "$(cat "$W/e1")" = y ]
check "ExecSync of 'echo x; echo y >&2; exit 3': stdout x, stderr y, exit code 3" $? \
    "rc=$rc; stdout: $(head -c 200 "$W/o1"); stderr: $(head -c 200 "$W/e1"); $(shim_log)"

cri exec-sync "$C" true >"$W/o2" 2>"$W/e2"; rc=$?
[ "$rc" = 0 ] && [ ! -s "$W/o2" ] && [ ! -s "$W/e2" ]
check "ExecSync of true: exit code 0, no output" $? "rc=$rc; $(head -c 200 "$W/o2" "$W/e2")"

# More than the FIFOs and pipes hold (64 KiB each) on both streams at once:
# everything arrives, in order.
cri exec-sync "$C" sh -c 'seq 1 30000; seq 1 20000 >&2' >"$W/o3" 2>"$W/e3"; rc=$?
[ "$rc" = 0 ] && seq 1 30000 | cmp -s - "$W/o3" && seq 1 20000 | cmp -s - "$W/e3"
check "ExecSync with 169 KB on stdout and 109 KB on stderr: both whole" $? \
    "rc=$rc; stdout $(wc -c <"$W/o3") bytes, stderr $(wc -c <"$W/e3") bytes"

# The exec's stderr alone, then stdout after a pause: each stream is read
# to its own EOF.
cri exec-sync "$C" sh -c 'echo only-err >&2; sleep 0.3; echo late-out' >"$W/o4" 2>"$W/e4"; rc=$?
[ "$rc" = 0 ] && [ "$(cat "$W/o4")" = late-out ] && [ "$(cat "$W/e4")" = only-err ]
check "ExecSync: stderr first, stdout later: both arrive" $? "rc=$rc; stdout: $(cat "$W/o4"); stderr: $(cat "$W/e4")"

# One shim serves the pod: while an exec's output drains (a background
# child holds its stdout for 4 s after the exec exits), another
# container's ExecSync is answered; the first comes back with its output.
C2=$(new_container "$P" p1 c2)
check "a second container in the pod" $? "${C2:-}; $(shim_log)"
started() { grep -c 'publish /tasks/exec-started' "$W/containerd.log"; }
# shellcheck disable=SC2034 # read in wait_for's eval
n0=$(started)
cri exec-sync "$C" sh -c 'echo before; sleep 4 &' >"$W/o5" 2>"$W/e5" &
slow=$!; BG="$BG $slow"
wait_for 10 eval '[ "$(started)" -gt "$n0" ]'
out=$(cri exec-sync "$C2" sh -c 'echo fast' 2>&1); rc=$?
still=no; alive "$slow" && still=yes
wait "$slow"; src=$?
[ "$rc" = 0 ] && [ "$out" = fast ] && [ "$still" = yes ] && [ "$src" = 0 ] && [ "$(cat "$W/o5")" = before ]
check "an ExecSync in another container is answered while an exec's output still drains" $? \
    "fast: rc=$rc '$out', answered while the slow one was pending: $still; slow: rc=$src '$(cat "$W/o5")'; $(shim_log 10)"

cri stopp "$P" && cri rmp "$P" && PODS=''
check "StopPodSandbox and RemovePodSandbox" $? "$(shim_log)"
exit $failed
