# shellcheck shell=bash
# Shared by the berthd e2e scripts that source it after lib.sh: a berthd
# under $W (its socket $W/berthd.sock), driven with the project's own gRPC
# client, and a busybox image served by docker-registry on 127.0.0.1.

skip() { echo "1..0 # SKIP $*"; exit 0; }
# berthd_needs [TOOL...]: skip the script unless it runs as root with
# berthd, berthctl, berth-shim and cri-client built, and docker-registry,
# skopeo, umoci, python3 and each TOOL installed.
berthd_needs() {
    local v t
    [ "$(id -u)" = 0 ] || skip "needs root"
    for v in BERTHD BERTHCTL BERTH_SHIM CRI_CLIENT; do
        [ -x "${!v:-}" ] || skip "$v is not built (grpc++, libcurl, libarchive, toml++ missing?)"
    done
    for t in docker-registry skopeo umoci python3 "$@"; do command -v "$t" >/dev/null || skip "$t is not installed"; done
}

# The pids of a pod's shim: the processes whose command line names its id.
shim_pids() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "-id $1 " && echo "${p#/proc/}"
    done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
call() { "$CRI_CLIENT" -a "$W/berthd.sock" -T 60 call "$@"; }
# py EXPR: evaluate EXPR with d = the JSON on stdin; print the result.
py() { python3 -c 'import json,sys,base64; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1"; }
b64() { python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).decode(), end="")' "$1"; }
# sh_in CTR SCRIPT: run SCRIPT with sh -c in CTR through ExecSync; its
# stdout, then stderr; exit status = the script's (99: the call failed).
sh_in() {
    local out rc
    out=$(call ExecSync "$(python3 -c 'import json,sys; print(json.dumps({"containerId":sys.argv[1],"cmd":["sh","-c",sys.argv[2]],"timeout":10}))' "$1" "$2")" 2>&1) ||
        { echo "$out"; return 99; }
    b64 "$(echo "$out" | py 'd.get("stdout","")')"
    b64 "$(echo "$out" | py 'd.get("stderr","")')"
    rc=$(echo "$out" | py 'd.get("exitCode",0)')
    return "$rc"
}
# status_line CTR FIELD: FIELD's value in /proc/1/status of CTR's own pid
# namespace: the container's process itself, not the exec.
status_line() { sh_in "$1" "grep '^$2:' /proc/1/status" | sed 's/^[^:]*:[[:space:]]*//; s/[[:space:]]*$//'; }
ctr_pid() { call ContainerStatus "{\"containerId\":\"$1\",\"verbose\":true}" | py 'json.loads(d["info"]["info"])["pid"]'; }

# serve_image [CUSTOMIZE [UMOCI-CONFIG-ARG...]]: a busybox image
# ($W/src/rootfs, changed by the function CUSTOMIZE if not empty; its config
# with umoci config's extra arguments) pushed to a docker-registry on
# 127.0.0.1; sets REG_PID, REG (host:port) and IMG. Returns non-zero (log in
# $W/build.log) on failure.
serve_image() {
    local port customize=${1:-}
    [ $# -eq 0 ] || shift
    port=$(free_port)
    mkdir -p "$W/reg"
    cat > "$W/reg.yml" <<X
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $W/reg } }
http: { addr: 127.0.0.1:$port }
X
    docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
    REG_PID=$!
    wait_for 10 curl -sf "http://127.0.0.1:$port/v2/" -o /dev/null || return 1
    make_rootfs "$W/src" || return 1
    [ -z "$customize" ] || "$customize" "$W/src/rootfs" || return 1
    REG=127.0.0.1:$port
    IMG=$REG/test/bb:1
    (
        set -e
        cd "$W"
        umoci init --layout img
        umoci new --image img:bb
        umoci unpack --image img:bb u
        cp -a src/rootfs/. u/rootfs/
        umoci repack --image img:bb u
        umoci config --image img:bb --config.cmd /bin/sh "$@"
        skopeo --insecure-policy copy -q --dest-tls-verify=false oci:img:bb "docker://$IMG"
    ) >"$W/build.log" 2>&1
}

# start_berthd: berthd on $W/berthd.toml, root and state under $W; sets
# BERTHD_PID; waits for its socket to answer. Its CNI config dir is
# $CNI_CONF_DIR, else an empty one of the test's: the host's
# /etc/cni/net.d (podman's bridge, here) must not wire up test pods.
start_berthd() {
    local conf=${CNI_CONF_DIR:-$W/cni-none}
    mkdir -p "$conf"
    "$BERTHD" --config "$W/berthd.toml" --root "$W/root" --state "$W/state" --listen "$W/berthd.sock" \
        --cni-conf-dir "$conf" --log-level debug >>"$W/berthd.log" 2>&1 &
    BERTHD_PID=$!
    wait_for 10 "$BERTHCTL" -r "unix://$W/berthd.sock" version >/dev/null 2>&1
}

# berthd_cleanup CG: after a test, kill berthd and the registry, this
# berthd's shims (found by the shim root in their environment) and every
# process left in the test's cgroup parent CG, all by pid; unmount what is
# under $W; remove CG's cgroups and $W.
berthd_cleanup() {
    local cg=$1 p d
    for p in ${BERTHD_PID:-} ${REG_PID:-}; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for p in /proc/[0-9]*; do
        grep -qsF "BERTH_SHIM_ROOT=$W/state/shim" "$p/environ" && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    for d in /sys/fs/cgroup/*"$cg" /sys/fs/cgroup"$cg"; do
        [ -d "$d" ] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
    done
    sleep 0.2
    umount_under "$W"
    for d in /sys/fs/cgroup/*"$cg" /sys/fs/cgroup"$cg"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$W"
}
