# shellcheck shell=bash
# A private containerd (Debian's 1.6) with its CRI plugin, for the CRI e2e
# test and tests/bench (sourced, not run; needs tests/e2e/lib.sh first).
# Everything lives under one dir: root, state, sockets, the runc shims'
# roots, berth-shim's root (BERTH_SHIM_ROOT), the pods' pinned network
# namespaces, the CNI dirs (empty: pods use the host's network, so no CNI
# runs and the host's network is untouched).
#
# For pods on a CNI network, set before cri_setup CRI_CNI_CONF_DIR (a
# conflist; containerd takes the lexically first) and CRI_CNI_BIN_DIR (the
# plugins, loopback among them: containerd 1.6 brings every pod's lo up with
# it), and before cri_start CRI_NETNS (a network namespace's path, such as
# /run/netns/NAME) to run containerd in it, so the plugins' bridge, veths and
# iptables rules live there and not on the host.
#
# Runtime handlers:
#   berth       berth-shim (io.containerd.berth.v2, containerd-shim-berth-v2
#               on containerd's PATH)
#   runc        containerd's runc shim with runc
#   runc-berth  containerd's runc shim with berth as its runc binary
# The sandbox ("pause") image is busybox sleeping; the container image is
# busybox; both are built from busybox-static and imported with ctr.
#
#   berth-b     a second berth-shim build, when cri_setup gets one (A/B)
#
#   cri_setup DIR BERTH BERTH_SHIM [BERTH_SHIM_B]
#                                    config and images; sets CRI_SOCK,
#                                    CRI_IMAGE, CRI_PAUSE
#   cri_start                        starts it and imports the images (CRI_PID)
#   cri_stop                         pods' shims and containerd killed by PID,
#                                    mounts under DIR detached

CRI_DIR='' CRI_PID='' CRI_SOCK=''
CRI_IMAGE=localhost/berth-cri:latest
CRI_PAUSE=localhost/berth-cri-pause:latest

cri_setup() {
    local dir=$1 berth=$2 shim=$3 shim_b=${4:-}
    CRI_DIR=$dir
    CRI_SOCK=$dir/containerd.sock
    mkdir -p "$dir/bin" "$dir/cni/bin" "$dir/cni/conf" || return 1
    [ -x "$shim" ] && ln -sf "$(readlink -f "$shim")" "$dir/bin/containerd-shim-berth-v2"
    [ -n "$shim_b" ] && ln -sf "$(readlink -f "$shim_b")" "$dir/bin/containerd-shim-berthb-v2"
    # The runc shim wants an absolute BinaryName; one that is missing makes
    # only that handler fail.
    [ -n "$berth" ] && berth=$(readlink -f "$berth")
    local p='plugins."io.containerd.grpc.v1.cri"'
    cat >"$dir/config.toml" <<X || return 1
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  level = "${CRI_LOG_LEVEL:-info}"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[$p]
  sandbox_image = "$CRI_PAUSE"
  # root here lacks CAP_SYS_RESOURCE: oom_score_adj can't go below ours.
  restrict_oom_score_adj = true
  # A port of its own (10010 by default), on loopback only.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Pods' network namespaces pinned under state, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [$p.cni]
    bin_dir = "${CRI_CNI_BIN_DIR:-$dir/cni/bin}"
    conf_dir = "${CRI_CNI_CONF_DIR:-$dir/cni/conf}"
  [$p.containerd]
    default_runtime_name = "runc"
    [$p.containerd.runtimes.berth]
      runtime_type = "io.containerd.berth.v2"
    [$p.containerd.runtimes.berth-b]
      runtime_type = "io.containerd.berthb.v2"
    [$p.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [$p.containerd.runtimes.runc.options]
        Root = "$dir/runc"
    [$p.containerd.runtimes.runc-berth]
      runtime_type = "io.containerd.runc.v2"
      [$p.containerd.runtimes.runc-berth.options]
        BinaryName = "${berth:-/nonexistent/berth}"
        Root = "$dir/runc-berth"
X
    make_rootfs "$dir/image" &&
        make_docker_archive "$dir/image/rootfs" "$dir/image.tar" "$CRI_IMAGE" &&
        make_docker_archive "$dir/image/rootfs" "$dir/pause.tar" "$CRI_PAUSE" '["sleep","2147483647"]'
}

# cri_ctr ARGS...: ctr in the CRI plugin's namespace.
cri_ctr() { timeout 60 ctr -a "$CRI_SOCK" -n k8s.io "$@"; }

cri_start() {
    local in_ns=()
    [ -n "${CRI_NETNS:-}" ] && in_ns=(nsenter "--net=$CRI_NETNS")
    PATH="$CRI_DIR/bin:$PATH" BERTH_SHIM_ROOT="$CRI_DIR/shim" \
        setsid "${in_ns[@]}" containerd --config "$CRI_DIR/config.toml" >>"$CRI_DIR/containerd.log" 2>&1 </dev/null &
    CRI_PID=$!
    wait_for 30 cri_ctr version >/dev/null 2>&1 &&
        cri_ctr image import "$CRI_DIR/image.tar" >/dev/null &&
        cri_ctr image import "$CRI_DIR/pause.tar" >/dev/null
}

# The shims our containerd started: their command line names its socket.
cri_shim_pids() {
    local p
    for p in /proc/[0-9]*; do
        grep -qsF -- "$CRI_SOCK" "$p/cmdline" && grep -qs containerd-shim "$p/cmdline" && echo "${p#/proc/}"
    done
    return 0
}

cri_stop() {
    [ -n "$CRI_DIR" ] || return 0
    local pid
    kill_pid "$CRI_PID"
    CRI_PID=''
    for pid in $(cri_shim_pids); do kill -KILL "$pid" 2>/dev/null; done
    umount_under "$CRI_DIR"
    # containerd's CNI library keeps each pod's results in /var/lib/cni
    # (results/NETWORK-POD_ID-IFNAME) whatever its config says; DEL drops
    # them, so only a pod never stopped leaves them.
    local d
    for d in "$CRI_DIR"/root/io.containerd.grpc.v1.cri/sandboxes/*/; do
        [ -d "$d" ] && rm -f /var/lib/cni/results/*-"$(basename "$d")"-*
    done
    return 0
}
