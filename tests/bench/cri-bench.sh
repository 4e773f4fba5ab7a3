#!/usr/bin/env bash
# cri-bench.sh: the calls kubelet makes, through containerd's CRI plugin,
# with each way berth can serve it.
#
#   tests/bench/cri-bench.sh [--rounds N] [--share-pid] [--berth PATH]
#                            [--berth-shim PATH] [--compare-shim PATH]
#                            [--cri-client PATH]
#
# N (default 10) paired rounds; in each, per runtime handler (the order
# rotated each round), one host-network pod with one container:
# RunPodSandbox, CreateContainer, StartContainer, 3 x (ExecSync(true),
# ExecSync(output on stdout and stderr, checked)), StopPodSandbox,
# RemovePodSandbox, each timed as a raw gRPC call by tests/cri's cri-client
# (build/tests/cri/cri-client). Each container has its own pid namespace,
# as kubelet asks by default; --share-pid gives the pod one (the pod spec's
# shareProcessNamespace). Handlers:
#   berth-shim       containerd-shim-berth-v2 (berth-shim), libberth in-process
#   runc.v2+runc     containerd's runc shim exec'ing runc
#   runc.v2+berth    containerd's runc shim exec'ing berth
#   berth-shim-B     with --compare-shim: another berth-shim build, for A/B
# It prints the medians per step and berth-shim's ratio to the others.
# Needs root, containerd (with ctr), busybox-static; runc for its column.
#
# A private containerd (tests/cri/containerd-cri.sh) runs under a temp dir;
# pods get the cgroup parent /berth-cri-bench-PID; nothing touches the
# host's network (no CNI). On exit, Ctrl-C included, containerd and its
# shims are killed by PID, then what is left in our cgroups, the mounts
# under the temp dir, the cgroups and the temp dir go.
set -u
export LC_ALL=C
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
export BERTH_SRC=$REPO_ROOT
ROUNDS=10
POD_ARGS=()
BERTH_PATH=${BERTH:-$REPO_ROOT/build/runtime/berth}
BERTH_SHIM_PATH=${BERTH_SHIM:-$REPO_ROOT/build/shim/berth-shim}
SHIM_B=''
CLIENT=${CRI_CLIENT:-$REPO_ROOT/build/tests/cri/cri-client}

die() { printf 'cri-bench: %s\n' "$*" >&2; exit 1; }
while (($# > 0)); do
    case $1 in
    --rounds) (($# >= 2)) || die "$1 needs a value"; ROUNDS=$2; shift ;;
    --share-pid) POD_ARGS+=(--share-pid) ;;
    --berth) (($# >= 2)) || die "$1 needs a value"; BERTH_PATH=$2; shift ;;
    --berth-shim) (($# >= 2)) || die "$1 needs a value"; BERTH_SHIM_PATH=$2; shift ;;
    --compare-shim) (($# >= 2)) || die "$1 needs a value"; SHIM_B=$2; shift ;;
    --cri-client) (($# >= 2)) || die "$1 needs a value"; CLIENT=$2; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 1)) || die "--rounds wants an integer >= 1"
[ "$(id -u)" = 0 ] || die "needs root"
skip() { printf 'cri-bench: skipped: %s\n' "$*"; exit 0; }
command -v containerd >/dev/null && command -v ctr >/dev/null || skip "containerd or ctr is not installed"
command -v busybox >/dev/null || skip "busybox-static is not installed"
[ -x "$CLIENT" ] || skip "$CLIENT is not built (needs libgrpc++-dev and protobuf-compiler-grpc)"

. "$REPO_ROOT/tests/e2e/lib.sh"
. "$REPO_ROOT/tests/cri/containerd-cri.sh"

W=$(mktemp -d /tmp/berth-cri-bench.XXXXXX)
CG=berth-cri-bench-$$
cleanup() {
    local d
    cri_stop
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    rm -rf "$W"
}
on_exit cleanup

handlers=()
notes=()
if [ -x "$BERTH_SHIM_PATH" ]; then handlers+=(--handler berth=berth-shim)
else notes+=("berth-shim is not built ($BERTH_SHIM_PATH)"); fi
if command -v runc >/dev/null; then handlers+=(--handler runc=runc.v2+runc)
else notes+=("runc is not installed"); fi
if [ -x "$BERTH_PATH" ]; then handlers+=(--handler runc-berth=runc.v2+berth)
else notes+=("berth is not built ($BERTH_PATH)"); fi
if [ -n "$SHIM_B" ]; then
    [ -x "$SHIM_B" ] || die "--compare-shim $SHIM_B: not an executable"
    handlers+=(--handler berth-b=berth-shim-B)
fi
((${#handlers[@]} > 0)) || skip "nothing to measure: ${notes[*]}"

cri_setup "$W" "$BERTH_PATH" "$BERTH_SHIM_PATH" "$SHIM_B" || die "setting up containerd failed"
cri_start || die "containerd with the CRI plugin did not start: $(tail -3 "$W/containerd.log")"
printf 'containerd %s with its CRI plugin; %d paired rounds (after one warm-up), host-network pods%s\n' \
    "$(containerd --version | awk '{ print $3 }')" "$ROUNDS" "${POD_ARGS:+, one pid namespace per pod}"
for n in "${notes[@]}"; do printf 'note: %s\n' "$n"; done
"$CLIENT" -a "$CRI_SOCK" -T 60 bench --pod-name bench --pod-namespace berth-bench --cgroup-parent "/$CG" \
    "${POD_ARGS[@]}" --image "$CRI_IMAGE" "${handlers[@]}" -n "$ROUNDS" --warmup 1
