#!/usr/bin/env bash
# berthctl-runtime.sh (crictl's runtime verbs through berthctl) against
# berthd instead of containerd: a private berthd (own root, state, socket
# and cgroup parent) with a busybox image loaded from a docker-archive made
# here. TAP output (berthctl-runtime.sh's).
set -u
. "$(dirname "$0")/lib.sh"
skip() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root"
for v in BERTHD BERTHCTL BERTH_SHIM; do [ -x "${!v:-}" ] || skip "$v is not built"; done
W=$(mktemp -d /tmp/berth-e2e-ctl-berthd.XXXXXX)
CG=/berth-e2e-ctl-berthd-$$
BERTHD_PID=
cleanup() {
    local f p d
    if [ -n "$BERTHD_PID" ]; then
        "$BERTHCTL" -r "unix://$W/berthd.sock" rmp -f -a >/dev/null 2>&1
        kill_pid "$BERTHD_PID" 5
    fi
    for p in /proc/[0-9]*; do
        grep -qsF "BERTH_SHIM_ROOT=$W/state/shim" "$p/environ" && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    for d in /sys/fs/cgroup/*"$CG" /sys/fs/cgroup"$CG"; do
        [ -d "$d" ] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
    done
    sleep 0.2
    umount_under "$W"
    for d in /sys/fs/cgroup/*"$CG" /sys/fs/cgroup"$CG"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$W"
}
on_exit cleanup
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" localhost/berthctl-e2e:1 ||
    skip "could not build the test image"
cat >"$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
X
"$BERTHD" --config "$W/berthd.toml" --root "$W/root" --state "$W/state" --listen "$W/berthd.sock" >"$W/berthd.log" 2>&1 &
BERTHD_PID=$!
wait_for 10 "$BERTHCTL" -r "unix://$W/berthd.sock" version >/dev/null 2>&1 || skip "berthd did not start: $(tail -3 "$W/berthd.log")"
"$BERTHCTL" -r "unix://$W/berthd.sock" load -i "$W/img.tar" >/dev/null || skip "berthctl load failed"
BERTHCTL_ENDPOINT="unix://$W/berthd.sock" BERTHCTL_IMAGE=localhost/berthctl-e2e:1 \
    bash "$(dirname "$0")/berthctl-runtime.sh"
rc=$?
grep -q 'level=error msg="[A-Za-z]*: .*panic\|terminate called' "$W/berthd.log" && { echo "# berthd logged a crash"; rc=1; }
alive "$BERTHD_PID" || { echo "# berthd died: $(tail -3 "$W/berthd.log")"; rc=1; }
exit $rc
