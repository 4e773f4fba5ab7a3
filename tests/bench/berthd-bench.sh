#!/usr/bin/env bash
# berthd-bench.sh: berthd against containerd 1.6's CRI plugin, driven by the
# same client (tests/cri's cri-client) in one run, as kubelet would drive
# either.
#
#   tests/bench/berthd-bench.sh [--rounds N] [--execs K] [--pods P]
#                               [--network host|bridge|both]
#
# 1. Pod start and ExecSync: N (default 30) paired rounds, the order rotated
#    each round, one host-network pod with one busybox container per run:
#    RunPodSandbox, CreateContainer, StartContainer, K (default 4) x
#    ExecSync(true) and ExecSync(out+err), StopPodSandbox, RemovePodSandbox.
#      berthd            berthd and its per-pod berth-shim
#      ctrd+runc         containerd's CRI, runc shim + runc
#      ctrd+berth-shim   containerd's CRI, berth-shim
#    Medians, and berthd's ratio to the others ("pod+container up" is
#    RunPodSandbox + CreateContainer + StartContainer, "pod down"
#    StopPodSandbox + RemovePodSandbox).
# 2. Pod start with CNI networking: N paired rounds as in 1, but each pod on
#    a pod network (Debian's CNI plugins bridge + host-local + portmap, the
#    same conflist for both servers but for its name, bridge and subnet) and
#    no ExecSync. Each pod must have an IPv4 address from the bench's subnet
#    (PodSandboxStatus, untimed) or its run fails.
# 3. Exec round trip over the streaming server: one running container per
#    handler, then N rotated rounds of `berthctl exec CTR true` (Exec, then
#    berthctl's WebSocket to the URL, to the exit status) and, for
#    reference, `berthctl exec -s CTR true` (ExecSync); medians of the wall
#    time of each berthctl run, its own start included, and the ratios.
# 4. Density: P (default 100; 0 skips it) idle pods (one `sleep` container
#    each) on berthd, then on containerd with runc: the PSS of the server,
#    its shims and every process of the pods, per pod; and the server's RSS
#    when idle.
# --network picks the pod-start parts: host (1), bridge (2) or both (the
# default); 3 runs with any. With bridge, berthd and containerd run in a network namespace
# of the bench's own (berth-bench-net-PID; host-network pods share it), so
# the bridges, veths, iptables rules and addresses live there and go with it.
#
# Needs root, containerd (ctr), runc, busybox-static, a built tree
# (build/cri/daemon/berthd, build/shim/berth-shim, build/cri/ctl/berthctl,
# build/tests/cri/cri-client); for 2, ip, nsenter, iptables and the CNI
# plugins in /usr/lib/cni (containernetworking-plugins). Everything lives
# under one temp dir; pods get the cgroup parent /berth-bench-PID; every
# process is killed by its pid and all is removed on exit, Ctrl-C included.
set -u
export LC_ALL=C
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
export BERTH_SRC=$REPO_ROOT
B=$REPO_ROOT/build
ROUNDS=30 EXECS=4 PODS=100 NETWORK=both
die() { printf 'berthd-bench: %s\n' "$*" >&2; exit 1; }
while (($# > 0)); do
    case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --execs) EXECS=$2; shift ;;
    --pods) PODS=$2; shift ;;
    --network) NETWORK=$2; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case $NETWORK in host | bridge | both) ;; *) die "--network: host, bridge or both, not $NETWORK" ;; esac
[ "$(id -u)" = 0 ] || die "needs root"
skip() { printf 'berthd-bench: skipped: %s\n' "$*"; exit 0; }
for t in containerd ctr runc busybox; do command -v "$t" >/dev/null || skip "$t is not installed"; done
for f in cri/daemon/berthd shim/berth-shim cri/ctl/berthctl tests/cri/cri-client runtime/berth; do
    [ -x "$B/$f" ] || skip "$B/$f is not built"
done
CNI_BIN=/usr/lib/cni
if [ "$NETWORK" != host ]; then
    for t in ip nsenter iptables $CNI_BIN/bridge $CNI_BIN/host-local $CNI_BIN/portmap $CNI_BIN/loopback; do
        command -v "$t" >/dev/null && continue
        [ "$NETWORK" = bridge ] && skip "$t is missing (iproute2, util-linux, iptables, containernetworking-plugins)"
        printf 'berthd-bench: %s is missing: no CNI part\n' "$t"
        NETWORK=host
        break
    done
fi

. "$REPO_ROOT/tests/e2e/lib.sh"
. "$REPO_ROOT/tests/cri/containerd-cri.sh"

W=$(mktemp -d /tmp/berth-berthd-bench.XXXXXX)
CG=berth-bench-$$
NETNS_NAME=berth-bench-net-$$ NETNS=
BERTHD_PID=
cleanup() {
    local d p
    kill_pid "$BERTHD_PID" 5
    for p in $(berthd_shim_pids); do kill -KILL "$p" 2>/dev/null; done
    cri_stop
    # A pod containerd had not yet recorded when it was killed: its CNI
    # results are found by the network's name.
    for p in /var/lib/cni/results/berth-bench-ctrd-$$-*-eth0; do
        [ -e "$p" ] || continue
        d=${p#*/berth-bench-ctrd-$$-}
        rm -f "$p" "/var/lib/cni/results/cni-loopback-${d%-eth0}-lo"
    done
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    rm -rf "$W"
    # Last: the pods' pinned namespaces (their veths) are gone with the
    # mounts above; the bridges and iptables rules go with this one.
    [ -z "$NETNS" ] || ip netns del "$NETNS_NAME" 2>/dev/null
    remove_new
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

# The CNI networks: one conflist, a copy per server (they run side by side,
# so each has its own bridge and subnet, inside $NET_SUBNET), host-local's
# leases under the temp dir. With --network host the dirs stay empty: the
# host's /etc/cni/net.d is not the bench's.
NET_SUBNET=10.123.0.0/16
conflist() {   # conflist SERVER N: bridge bb-SERVER, subnet 10.123.N.0/24
    cat <<X
{"cniVersion":"1.0.0","name":"berth-bench-$1-$$","plugins":[
 {"type":"bridge","bridge":"bb-$1","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","dataDir":"$W/cni/ipam","ranges":[[{"subnet":"10.123.$2.0/24"}]],
          "routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}
]}
X
}
mkdir -p "$W/cni/berthd" "$W/cni/ctrd" "$W/cni/ipam"
RUN_IN_NS=()
if [ "$NETWORK" != host ]; then
    conflist berthd 1 >"$W/cni/berthd/10-bench.conflist"
    conflist ctrd 2 >"$W/cni/ctrd/10-bench.conflist"
    ip netns add "$NETNS_NAME" || die "ip netns add $NETNS_NAME failed"
    NETNS=/run/netns/$NETNS_NAME
    nsenter --net="$NETNS" ip link set lo up
    RUN_IN_NS=(nsenter "--net=$NETNS")
    # containerd's CNI library caches each pod's result under /var/lib/cni
    # whatever its config says; removed at exit when this run made them.
    note_new /var/lib/cni /var/lib/cni/results
fi

CRI_CNI_CONF_DIR=$W/cni/ctrd CRI_CNI_BIN_DIR=$CNI_BIN cri_setup "$W/ctrd" "$B/runtime/berth" "$B/shim/berth-shim" ||
    die "setting up containerd failed"
CRI_NETNS=$NETNS cri_start || die "containerd did not start: $(tail -3 "$W/ctrd/containerd.log")"
mkdir -p "$W/berthd"
cat >"$W/berthd/berthd.toml" <<X
[runtime]
shim = "$B/shim/berth-shim"
cgroup_parent = "/$CG"
[cni]
conf_dir = "$W/cni/berthd"
bin_dirs = ["$CNI_BIN"]
X
"${RUN_IN_NS[@]}" "$B/cri/daemon/berthd" --config "$W/berthd/berthd.toml" --root "$W/berthd/root" --state "$W/berthd/state" \
    --listen "$W/berthd/berthd.sock" >"$W/berthd/berthd.log" 2>&1 &
BERTHD_PID=$!
CTL=("$B/cri/ctl/berthctl" -r "unix://$W/berthd/berthd.sock")
wait_for 10 "${CTL[@]}" version >/dev/null 2>&1 || die "berthd did not start: $(tail -3 "$W/berthd/berthd.log")"
"${CTL[@]}" load -i "$CRI_DIR/image.tar" >/dev/null || die "loading the image into berthd failed"

VERSIONS="berthd $("$B/cri/daemon/berthd" --version | head -1 | awk '{ print $NF }') against containerd $(containerd --version | awk '{ print $3 }') (CRI plugin)"
pod_bench() {   # pod_bench ARGS...: cri-client bench, the three handlers
    "$B/tests/cri/cri-client" -a "$CRI_SOCK" -T 60 bench --pod-name bench --pod-namespace berth-bench \
        --cgroup-parent "/$CG" --image "$CRI_IMAGE" --handler "=berthd@$W/berthd/berthd.sock" \
        --handler runc=ctrd+runc --handler berth=ctrd+berth-shim -n "$ROUNDS" --warmup 1 "$@"
}
if [ "$NETWORK" != bridge ]; then
    printf '%s, %d paired rounds after one warm-up, host-network pods\n' "$VERSIONS" "$ROUNDS"
    pod_bench --execs "$EXECS"
fi
if [ "$NETWORK" != host ]; then
    [ "$NETWORK" = bridge ] || echo
    printf '%s, %d paired rounds after one warm-up, pods on a CNI network (bridge + host-local + portmap, %s)\n' \
        "$VERSIONS" "$ROUNDS" "$NET_SUBNET"
    pod_bench --pod-network --execs 0 --expect-subnet "$NET_SUBNET"
fi

# --- exec round trip through each server's streaming server
median_ms() { sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
exec_bench() {
    local labels=(berthd ctrd+runc ctrd+berth-shim) socks=("$W/berthd/berthd.sock" "$CRI_SOCK" "$CRI_SOCK")
    local handlers=("" runc berth) ctrs=() pods=() i r k pod ctr t0 t1 mode
    for i in 0 1 2; do
        pod=$("$B/tests/cri/cri-client" -a "${socks[i]}" runp --pod-name "sx-$i" --pod-namespace berth-bench \
            --cgroup-parent "/$CG" ${handlers[i]:+--handler "${handlers[i]}"}) &&
            ctr=$("$B/tests/cri/cri-client" -a "${socks[i]}" create "$pod" --pod-name "sx-$i" --pod-namespace berth-bench \
                --cgroup-parent "/$CG" ${handlers[i]:+--handler "${handlers[i]}"} --image "$CRI_IMAGE" -- sleep 3600) &&
            "$B/tests/cri/cri-client" -a "${socks[i]}" start "$ctr" || { echo "exec bench: ${labels[i]}: no container"; return; }
        pods+=("$pod")
        ctrs+=("$ctr")
        # One untimed run each: the first exec of a pod sets up its shim's side.
        "${RUN_IN_NS[@]}" "$B/cri/ctl/berthctl" -r "unix://${socks[i]}" exec "$ctr" true || echo "exec bench: ${labels[i]}: exec failed"
    done
    local flags
    for mode in stream sync; do
        flags=()
        [ "$mode" = sync ] && flags=(-s)
        for i in 0 1 2; do : >"$W/exec-$mode-$i"; done
        for ((r = 0; r < ROUNDS; r++)); do
            for k in 0 1 2; do
                i=$(((r + k) % 3))
                t0=$(date +%s%N)
                "${RUN_IN_NS[@]}" "$B/cri/ctl/berthctl" -r "unix://${socks[i]}" exec "${flags[@]}" "${ctrs[i]}" true ||
                    echo "exec bench: ${labels[i]}: exec failed"
                t1=$(date +%s%N)
                echo "$(((t1 - t0) / 1000))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$W/exec-$mode-$i"
            done
        done
    done
    printf '%-34s %10s %10s %16s %10s %10s\n' "median ms (berthctl's start included)" berthd ctrd+runc ctrd+berth-shim "/ctrd+runc" "/ctrd+berth"
    for mode in stream sync; do
        local m0 m1 m2
        m0=$(median_ms <"$W/exec-$mode-0") m1=$(median_ms <"$W/exec-$mode-1") m2=$(median_ms <"$W/exec-$mode-2")
        printf '%-34s %10s %10s %16s %10.2f %10.2f\n' \
            "$([ $mode = stream ] && echo 'berthctl exec CTR true' || echo 'berthctl exec -s CTR true (ExecSync)')" \
            "$m0" "$m1" "$m2" "$(echo "$m0 $m1" | awk '{ print $1 / $2 }')" "$(echo "$m0 $m2" | awk '{ print $1 / $2 }')"
    done
    for i in 0 1 2; do
        "$B/tests/cri/cri-client" -a "${socks[i]}" stopp "${pods[i]}" >/dev/null 2>&1
        "$B/tests/cri/cri-client" -a "${socks[i]}" rmp "${pods[i]}" >/dev/null 2>&1
    done
}
echo
printf '%s, %d rotated rounds: exec round trip through the streaming server\n' "$VERSIONS" "$ROUNDS"
exec_bench

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
[ "$PODS" -gt 0 ] || exit 0
echo
echo "density: $PODS idle pods, one sleep container each (PSS summed over server, shims and pod processes)"
sleep 12
printf ' berthd idle before: RSS %d KiB, PSS %d KiB\n' "$(rss_kb "$BERTHD_PID")" "$(pss_kb "$BERTHD_PID")"
density berthd "$W/berthd/berthd.sock" "" "$BERTHD_PID" berthd_shim_pids
density ctrd+runc "$CRI_SOCK" runc "$CRI_PID" cri_shim_pids
