#!/usr/bin/env bash
# berthctl-runtime.sh (crictl's runtime verbs through berthctl) against
# berthd instead of containerd: a private berthd (own root, state, socket
# and cgroup parent) with a busybox image loaded from a docker-archive made
# here. TAP output (berthctl-runtime.sh's).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
for v in BERTHD BERTHCTL BERTH_SHIM; do [ -x "${!v:-}" ] || skip "$v is not built"; done
W=$(mktemp -d /tmp/berth-e2e-ctl-berthd.XXXXXX)
CG=/berth-e2e-ctl-berthd-$$
BERTHD_PID=
cleanup() {
    [ -n "$BERTHD_PID" ] && "$BERTHCTL" -r "unix://$W/berthd.sock" rmp -f -a >/dev/null 2>&1
    berthd_cleanup "$CG"
}
on_exit cleanup
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" localhost/berthctl-e2e:1 ||
    skip "could not build the test image"
cat >"$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
X
start_berthd || skip "berthd did not start: $(tail -3 "$W/berthd.log")"
"$BERTHCTL" -r "unix://$W/berthd.sock" load -i "$W/img.tar" >/dev/null || skip "berthctl load failed"
BERTHCTL_ENDPOINT="unix://$W/berthd.sock" BERTHCTL_IMAGE=localhost/berthctl-e2e:1 \
    bash "$(dirname "$0")/berthctl-runtime.sh"
rc=$?
grep -q 'level=error msg="[A-Za-z]*: .*panic\|terminate called' "$W/berthd.log" && { echo "# berthd logged a crash"; rc=1; }
alive "$BERTHD_PID" || { echo "# berthd died: $(tail -3 "$W/berthd.log")"; rc=1; }
exit $rc
