#!/usr/bin/env bash
# run-bench.sh: a workload run to its end, berthd's way against Docker's,
# in one run, N rounds with the order rotated:
#   berthctl run --rm --config small -- true     (berthd, its per-pod berth-shim)
#   docker run --rm --memory 64m --cpus 1 --network none IMG true   (dockerd, runc)
#   the same docker run with --runtime berth     (dockerd, berth as its runtime)
# The config `small` has the same limits (memory 64m, cpus 1, network none).
# Wall time of each client run, from its start to its exit (its own start
# and the removal included); medians and berthd's ratio to each.
#
#   tests/bench/run-bench.sh [--rounds N]
#
# Needs root, dockerd and the docker CLI (Debian: docker.io), busybox-static
# and a built tree (build/cri/daemon/berthd, build/cri/ctl/berthctl,
# build/shim/berth-shim, build/runtime/berth). A private dockerd (its own
# daemon.json, data-root, exec-root and socket, no networks) and a private
# berthd under one temp dir; both are stopped, every process killed by pid
# and everything removed on exit, Ctrl-C included.
set -u
export LC_ALL=C
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
export BERTH_SRC=$REPO_ROOT
B=$REPO_ROOT/build
ROUNDS=30
while (($# > 0)); do
    case $1 in
    --rounds) ROUNDS=$2; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-bench: unknown argument $1" >&2; exit 1 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "run-bench: needs root" >&2; exit 1; }
skip() { printf 'run-bench: skipped: %s\n' "$*"; exit 0; }
DOCKERD=$(command -v dockerd) || skip "dockerd is not installed (docker.io)"
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker) || skip "the docker CLI is not installed"
command -v busybox >/dev/null || skip "busybox-static is not installed"
for f in cri/daemon/berthd cri/ctl/berthctl shim/berth-shim runtime/berth; do [ -x "$B/$f" ] || skip "$B/$f is not built"; done
. "$REPO_ROOT/tests/e2e/lib.sh"

W=$(mktemp -d /tmp/berth-run-bench.XXXXXX)
CG=berth-run-bench-$$
IMG=localhost/berth-run-bench:1
DPID='' BERTHD_PID=''
had_key=0; [ -e /etc/docker/key.json ] && had_key=1
had_etc=0; [ -d /etc/docker ] && had_etc=1
had_run=0; [ -d /run/docker ] && had_run=1
note_new /run/containerd /run/containerd/s
export DOCKER_HOST=unix://$W/docker.sock DOCKER_CONFIG=$W/cli
d() { timeout 60 "$DOCKER" "$@"; }
cleanup() {
    local p pid c
    if [ -n "$DPID" ] && alive "$DPID"; then
        c=$(d ps -aq 2>/dev/null)
        # shellcheck disable=SC2086 # one word per container id
        [ -n "$c" ] && d rm -f $c >/dev/null 2>&1
    fi
    kill_pid "$DPID" 20
    kill_pid "$BERTHD_PID" 5
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = "$$" ] && continue
        if grep -qsF -- "$W/" "$p/cmdline" || grep -qsF "BERTH_SHIM_ROOT=$W/" "$p/environ"; then kill -KILL "$pid" 2>/dev/null; fi
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

# The image, for both.
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" || { echo "run-bench: no image" >&2; exit 1; }

driver=overlay2; [ "$(stat -f -c %T "$W")" = overlayfs ] && driver=vfs
cat >"$W/daemon.json" <<X
{
  "data-root": "$W/root", "exec-root": "$W/exec", "pidfile": "$W/dockerd.pid",
  "hosts": ["unix://$W/docker.sock"], "storage-driver": "$driver",
  "exec-opts": ["native.cgroupdriver=cgroupfs"], "cgroup-parent": "/$CG",
  "bridge": "none", "iptables": false, "ip-forward": false, "ip-masq": false, "userland-proxy": false,
  "shutdown-timeout": 2, "runtimes": { "berth": { "path": "$(readlink -f "$B/runtime/berth")" } }
}
X
setsid "$DOCKERD" --config-file "$W/daemon.json" >"$W/dockerd.log" 2>&1 </dev/null &
DPID=$!
wait_for 60 d version >/dev/null 2>&1 || { echo "run-bench: dockerd did not start: $(tail -3 "$W/dockerd.log")" >&2; exit 1; }
d load -i "$W/img.tar" >/dev/null || { echo "run-bench: docker load failed" >&2; exit 1; }

mkdir -p "$W/berthd"
cat >"$W/berthd/berthd.toml" <<X
[runtime]
shim = "$B/shim/berth-shim"
cgroup_parent = "/$CG/berthd"
[configs.small]
image = "$IMG"
network = "none"
resources = { memory = "64m", cpus = 1 }
X
"$B/cri/daemon/berthd" --config "$W/berthd/berthd.toml" --root "$W/berthd/root" --state "$W/berthd/state" \
    --listen "$W/berthd/berthd.sock" --cni-conf-dir "$W/berthd/cni" >"$W/berthd/berthd.log" 2>&1 &
BERTHD_PID=$!
CTL=("$B/cri/ctl/berthctl" -r "unix://$W/berthd/berthd.sock")
wait_for 10 "${CTL[@]}" version >/dev/null 2>&1 || { echo "run-bench: berthd did not start" >&2; exit 1; }
"${CTL[@]}" load -i "$W/img.tar" >/dev/null || { echo "run-bench: berthctl load failed" >&2; exit 1; }

LABELS=(berthd docker+runc docker+berth)
run_one() {   # run_one I: one run of client I, its wall time in ms appended to its file
    local t0 t1 rc
    t0=$(date +%s%N)
    case $1 in
    0) "${CTL[@]}" run --rm --config small -- true ;;
    1) d run --rm --memory 64m --cpus 1 --network none "$IMG" true ;;
    2) d run --rm --runtime berth --memory 64m --cpus 1 --network none "$IMG" true ;;
    esac
    rc=$?
    t1=$(date +%s%N)
    [ $rc = 0 ] || { echo "run-bench: ${LABELS[$1]}: exit $rc" >&2; return; }
    echo "$t0 $t1" | awk '{ printf "%.3f\n", ($2 - $1) / 1e6 }' >>"$W/t.$1"
}
for i in 0 1 2; do run_one "$i" >/dev/null; : >"$W/t.$i"; done   # warm-up
for ((r = 0; r < ROUNDS; r++)); do
    for k in 0 1 2; do run_one $(((r + k) % 3)) >/dev/null; done
done
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
m0=$(median "$W/t.0") m1=$(median "$W/t.1") m2=$(median "$W/t.2")
printf 'a workload run to its end (true; memory 64m, cpus 1, no network), %d rotated rounds after a warm-up\n' "$ROUNDS"
printf 'berthd %s, Docker %s\n\n' "$("$B/cri/daemon/berthd" --version | head -1 | awk '{ print $NF }')" "$(d version --format '{{.Server.Version}}')"
printf ' %-54s %10s %6s\n' "median ms (client start to exit)" ms runs
printf ' %-54s %10s %6s\n' "berthctl run --rm --config small -- true" "$m0" "$(wc -l <"$W/t.0")"
printf ' %-54s %10s %6s\n' "docker run --rm --memory 64m --cpus 1 (runc)" "$m1" "$(wc -l <"$W/t.1")"
printf ' %-54s %10s %6s\n' "docker run --rm --runtime berth (same flags)" "$m2" "$(wc -l <"$W/t.2")"
printf '\n berthd / docker+runc %.2f, berthd / docker+berth %.2f (issue 16 target: <= 0.3 against docker run)\n' \
    "$(echo "$m0 $m1" | awk '{ print $1 / $2 }')" "$(echo "$m0 $m2" | awk '{ print $1 / $2 }')"
left=$("${CTL[@]}" executions -a -q | wc -l)
[ "$left" = 0 ] || echo "run-bench: $left execution(s) left behind by --rm" >&2
