#!/usr/bin/env bash
# berthd-bench.sh: berthd against containerd 1.6's CRI plugin, driven by the
# same client (tests/cri's cri-client) in one run, as kubelet would drive
# either.
#
#   tests/bench/berthd-bench.sh [--rounds N] [--execs K] [--pods P]
#
# 1. Pod start and ExecSync: N (default 30) paired rounds, the order rotated
#    each round, one host-network pod with one busybox container per run:
#    RunPodSandbox, CreateContainer, StartContainer, K (default 4) x
#    ExecSync(true) and ExecSync(out+err), StopPodSandbox, RemovePodSandbox.
#      berthd            berthd and its per-pod berth-shim
#      ctrd+runc         containerd's CRI, runc shim + runc
#      ctrd+berth-shim   containerd's CRI, berth-shim
#    Medians, and berthd's ratio to the others ("pod+container up" is
#    RunPodSandbox + CreateContainer + StartContainer).
# 2. Density: P (default 100) idle pods (one `sleep` container each) on
#    berthd, then on containerd with runc: the PSS of the server, its shims
#    and every process of the pods, per pod; and the server's RSS when idle.
#
# Needs root, containerd (ctr), runc, busybox-static, a built tree
# (build/cri/daemon/berthd, build/shim/berth-shim, build/cri/ctl/berthctl,
# build/tests/cri/cri-client). Everything lives under one temp dir; pods get
# the cgroup parent /berth-bench-PID; every process is killed by its pid and
# all is removed on exit, Ctrl-C included.
set -u
export LC_ALL=C
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
export BERTH_SRC=$REPO_ROOT
B=$REPO_ROOT/build
ROUNDS=30 EXECS=4 PODS=100
die() { printf 'berthd-bench: %s\n' "$*" >&2; exit 1; }
while (($# > 0)); do
    case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --execs) EXECS=$2; shift ;;
    --pods) PODS=$2; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || die "needs root"
skip() { printf 'berthd-bench: skipped: %s\n' "$*"; exit 0; }
for t in containerd ctr runc busybox; do command -v "$t" >/dev/null || skip "$t is not installed"; done
for f in cri/daemon/berthd shim/berth-shim cri/ctl/berthctl tests/cri/cri-client runtime/berth; do
    [ -x "$B/$f" ] || skip "$B/$f is not built"
done

. "$REPO_ROOT/tests/e2e/lib.sh"
. "$REPO_ROOT/tests/cri/containerd-cri.sh"

W=$(mktemp -d /tmp/berth-berthd-bench.XXXXXX)
CG=berth-bench-$$
BERTHD_PID=
cleanup() {
    local d p
    kill_pid "$BERTHD_PID" 5
    for p in $(berthd_shim_pids); do kill -KILL "$p" 2>/dev/null; done
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

# berthd's shims: their environment names its shim root.
berthd_shim_pids() {
    local p
    for p in /proc/[0-9]*; do
        grep -qsF "BERTH_SHIM_ROOT=$W/berthd/state/shim" "$p/environ" && echo "${p#/proc/}"
    done
    return 0
}
pss_kb() {   # pss_kb PID...: the sum of their PSS, in KiB
    local p t=0 v
    for p in "$@"; do
        v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cgroup_pids() {
    find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

cri_setup "$W/ctrd" "$B/runtime/berth" "$B/shim/berth-shim" || die "setting up containerd failed"
cri_start || die "containerd did not start: $(tail -3 "$W/ctrd/containerd.log")"
mkdir -p "$W/berthd"
mkdir -p "$W/berthd/cni"   # no CNI network: the host's /etc/cni/net.d is not the bench's
cat >"$W/berthd/berthd.toml" <<X
[runtime]
shim = "$B/shim/berth-shim"
cgroup_parent = "/$CG"
[cni]
conf_dir = "$W/berthd/cni"
X
"$B/cri/daemon/berthd" --config "$W/berthd/berthd.toml" --root "$W/berthd/root" --state "$W/berthd/state" \
    --listen "$W/berthd/berthd.sock" >"$W/berthd/berthd.log" 2>&1 &
BERTHD_PID=$!
CTL=("$B/cri/ctl/berthctl" -r "unix://$W/berthd/berthd.sock")
wait_for 10 "${CTL[@]}" version >/dev/null 2>&1 || die "berthd did not start: $(tail -3 "$W/berthd/berthd.log")"
"${CTL[@]}" load -i "$CRI_DIR/image.tar" >/dev/null || die "loading the image into berthd failed"

printf 'berthd %s against containerd %s (CRI plugin), %d paired rounds after one warm-up, host-network pods\n' \
    "$("$B/cri/daemon/berthd" --version | head -1 | awk '{ print $NF }')" "$(containerd --version | awk '{ print $3 }')" "$ROUNDS"
"$B/tests/cri/cri-client" -a "$CRI_SOCK" -T 60 bench --pod-name bench --pod-namespace berth-bench \
    --cgroup-parent "/$CG" --image "$CRI_IMAGE" --handler "=berthd@$W/berthd/berthd.sock" \
    --handler runc=ctrd+runc --handler berth=ctrd+berth-shim -n "$ROUNDS" --warmup 1 --execs "$EXECS"

# --- density
density() {   # density LABEL SOCKET HANDLER SERVER_PID SHIM_PIDS_FN
    local label=$1 sock=$2 handler=$3 server=$4 shims_fn=$5 i pod ctr ids=() t0 idle
    t0=$SECONDS
    for ((i = 0; i < PODS; i++)); do
        pod=$("$B/tests/cri/cri-client" -a "$sock" runp --pod-name "dens-$i" --pod-namespace berth-bench \
            --cgroup-parent "/$CG" ${handler:+--handler "$handler"}) || { echo "density $label: runp failed"; break; }
        ctr=$("$B/tests/cri/cri-client" -a "$sock" create "$pod" --pod-name "dens-$i" --pod-namespace berth-bench \
            --cgroup-parent "/$CG" ${handler:+--handler "$handler"} --image "$CRI_IMAGE" -- sleep 3600) &&
            "$B/tests/cri/cri-client" -a "$sock" start "$ctr" || { echo "density $label: container failed"; break; }
        ids+=("$pod")
    done
    local up=$((SECONDS - t0))
    sleep 12   # let the shims and the server settle (berth-shim and berthd give back idle memory)
    local shims pods_pss server_pss shims_pss n=${#ids[@]}
    shims=$($shims_fn)
    server_pss=$(pss_kb "$server")
    shims_pss=$(pss_kb $shims)
    pods_pss=$(pss_kb $(cgroup_pids))
    idle=$(rss_kb "$server")
    printf ' %-16s %4d pods in %3d s: server PSS %6d KiB, %3d shims %7d KiB, pod processes %7d KiB; per pod %5d KiB; server RSS %d KiB\n' \
        "$label" "$n" "$up" "$server_pss" "$(echo $shims | wc -w)" "$shims_pss" "$pods_pss" \
        "$(( n > 0 ? (server_pss + shims_pss + pods_pss) / n : 0 ))" "$idle"
    for pod in "${ids[@]}"; do
        "$B/tests/cri/cri-client" -a "$sock" stopp "$pod" >/dev/null 2>&1
        "$B/tests/cri/cri-client" -a "$sock" rmp "$pod" >/dev/null 2>&1
    done
}
echo
echo "density: $PODS idle pods, one sleep container each (PSS summed over server, shims and pod processes)"
sleep 12
printf ' berthd idle before: RSS %d KiB, PSS %d KiB\n' "$(rss_kb "$BERTHD_PID")" "$(pss_kb "$BERTHD_PID")"
density berthd "$W/berthd/berthd.sock" "" "$BERTHD_PID" berthd_shim_pids
density ctrd+runc "$CRI_SOCK" runc "$CRI_PID" cri_shim_pids
