#!/bin/bash
# guest-integration.sh: runs inside the lane's guest (root, systemd PID 1,
# cgroup v2), started by `lane.sh run-integration` with cwd /lane/src, which
# holds: berth, contrib/ (mkbundle.sh, ...), bin/integration-*, test-timeout,
# criterion-args. Writes TAP per binary to /lane/tap/NAME.tap and its exit
# status to NAME.rc; the lane's own checks go to /lane/tap/lane.tap.
# lane.sh on the host counts them.
set -u
cd /lane/src || exit 3
export BERTH=/lane/src/berth BERTH_SRC=/lane/src
[ ! -x /lane/src/sd-notify-helper ] || export BERTH_SD_NOTIFY=/lane/src/sd-notify-helper
[ ! -x /lane/src/exe-attack ] || export BERTH_EXE_ATTACK=/lane/src/exe-attack
[ ! -x /lane/src/syscall-probe ] || export BERTH_SYSCALL_PROBE=/lane/src/syscall-probe
TAP=/lane/tap
mkdir -p "$TAP"
T=$(cat test-timeout 2>/dev/null || echo 600)
read -r -a CARGS < criterion-args || true

n=0 bad=0 lane_bad=0
: > "$TAP/lane.tap"
# check DESC STATUS: one TAP line for the lane's own checks.
check() {
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n - lane::$1" | tee -a "$TAP/lane.tap"
	else
		echo "not ok $n - lane::$1" | tee -a "$TAP/lane.tap"
		bad=$((bad + 1)) lane_bad=$((lane_bad + 1))
	fi
}

echo "=== guest: kernel $(uname -r), $(systemctl --version | head -1), boot state: $(cat /lane/boot-state 2>/dev/null)"
fs=$(stat -fc %T /sys/fs/cgroup)
echo "\$ stat -fc %T /sys/fs/cgroup"; echo "$fs"
echo "\$ cat /proc/self/cgroup"; cat /proc/self/cgroup
echo "\$ cat /sys/fs/cgroup/cgroup.controllers"; cat /sys/fs/cgroup/cgroup.controllers
echo "\$ cat /sys/fs/cgroup/cgroup.subtree_control"; cat /sys/fs/cgroup/cgroup.subtree_control
echo "\$ grep cgroup /proc/self/mountinfo"; grep cgroup /proc/self/mountinfo
[ "$fs" = cgroup2fs ]; check "cgroup_v2_unified_at_sys_fs_cgroup" $?
[ "$(cat /proc/1/comm)" = systemd ]; check "systemd_is_pid_1" $?

missing=$(for b in bin/*; do ldd "$b" 2>&1 | sed -n "s|^|$b: |; /not found/p"; done)
[ -z "$missing" ] || echo "$missing"
[ -z "$missing" ]; check "test_binaries_find_their_libraries" $?

echo "=== smoke: berth run with cgroupsPath /berth-vm/smoke"
d=$(mktemp -d /tmp/lane-smoke.XXXXXX)
bash contrib/mkbundle.sh "$d/bundle" --cgroups-path /berth-vm/smoke \
	--args "sh -c 'cat /proc/self/cgroup; ls /sys/fs/cgroup | head; hostname'"
timeout -k 5 120 ./berth --root /run/berth-lane run --bundle "$d/bundle" lane-smoke >"$d/out" 2>"$d/err"
rc=$?
echo "--- berth run exit $rc; stdout:"; cat "$d/out"; echo "--- stderr:"; cat "$d/err"
check "smoke_berth_run_exits_0" $rc
grep -qx '0::/berth-vm/smoke' "$d/out"; check "smoke_container_in_/berth-vm/smoke" $?
grep -qx 'cgroup.controllers' "$d/out"; check "smoke_sys_fs_cgroup_is_cgroup2_in_container" $?
[ "$(tail -n 1 "$d/out")" = berth ]; check "smoke_hostname_berth" $?
if [ -e /sys/fs/cgroup/berth-vm ]; then
	echo "left behind:"; find /sys/fs/cgroup/berth-vm -name cgroup.procs -exec sh -c 'echo "$1: $(cat "$1" | tr "\n" " ")"' _ {} \;
	check "smoke_berth_removed_/sys/fs/cgroup/berth-vm" 1
	# Clean up what berth left so the integration tests start clean.
	./berth --root /run/berth-lane delete --force lane-smoke >/dev/null 2>&1
	find /sys/fs/cgroup/berth-vm -depth -type d -exec rmdir {} \; 2>/dev/null
else
	echo "/sys/fs/cgroup/berth-vm: gone"
	check "smoke_berth_removed_/sys/fs/cgroup/berth-vm" 0
fi
rm -rf "$d"

for b in bin/*; do
	name=$(basename "$b")
	echo "=== $name"
	start=$SECONDS
	# timeout signals its whole process group: Criterion's workers too.
	timeout -k 10 "$T" "./$b" --tap "${CARGS[@]}" 2>&1 | tee "$TAP/$name.tap"
	rc=${PIPESTATUS[0]}
	echo "$rc" > "$TAP/$name.rc"
	echo "=== $name: exit $rc in $((SECONDS - start)) s"
	[ "$rc" = 0 ] || bad=$((bad + 1))
done

left=$(ls -d /sys/fs/cgroup/berth-* 2>/dev/null)
[ -z "$left" ] || echo "cgroups left: $left"
[ -z "$left" ]; check "no_berth_cgroups_left_after_tests" $?
# The systemd driver's units (integration-systemd): stopped and collected.
units=$(systemctl list-units --all --plain --no-legend 'berth-*' 2>/dev/null; ls -d /sys/fs/cgroup/system.slice/berth-* 2>/dev/null)
[ -z "$units" ] || echo "systemd units left: $units"
[ -z "$units" ]; check "no_berth_systemd_units_left_after_tests" $?
echo "1..$n" >> "$TAP/lane.tap"
[ "$lane_bad" = 0 ]; echo $? > "$TAP/lane.rc"
[ "$bad" = 0 ]
