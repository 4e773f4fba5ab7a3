#!/bin/bash
# lane.sh: berth's cgroup v2 + systemd test lane. Boots a Debian bookworm
# guest under qemu (systemd as PID 1, unified cgroup v2 hierarchy) and runs
# berth's integration tests in it, as root.
#
#   lane.sh build                 build the cached guest image (no-op when cached)
#   lane.sh run 'CMD' [DIR]       run CMD with sh in the guest; DIR is copied to
#                                 /lane/src (the cwd). Exits with CMD's status
#                                 (125: the guest gave no result).
#   lane.sh run-integration       copy berth, the integration test binaries and
#                                 contrib/ (mkbundle.sh, ...) into the guest, print the
#                                 guest's cgroup facts, run a smoke container and
#                                 every integration binary with --tap; prints
#                                 `vm: N passed, N failed, N skipped` last. Exits
#                                 1 on a failed test, 125 when the guest gave no
#                                 result, 0 otherwise.
#   lane.sh run-shim              berth-shim's e2e scripts (shim.sh with
#                                 containerd, monitor.sh) in a guest image with
#                                 containerd added (cached apart, in
#                                 /var/cache/berth-vmlane-shim); not in CI.
#   lane.sh run-berthd            berthd's e2e scripts (berthd-systemd.sh,
#                                 berthd-containers.sh, berthd-pods.sh; or those
#                                 LANE_BERTHD_TESTS names) through its socket in a
#                                 guest image with berthd's libraries and
#                                 docker-registry, skopeo and umoci added (cached
#                                 in /var/cache/berth-vmlane-berthd); prints
#                                 `vm-berthd: N passed, N failed, N skipped` last.
#
# Run as root on the host (qemu-system-x86, debootstrap, ... are installed with
# apt-get on first use). See README.md in this directory.
#
# Env:
#   LANE_CACHE   image cache dir (default /var/cache/berth-vmlane); one
#                img-<recipe hash>/ below it, with base.img written last
#   LANE_BUILD   meson build dir (default <repo>/build)
#   LANE_MIRROR  Debian mirror (default: the host's own apt mirror)
#   LANE_ACCEL   kvm|tcg|auto (default auto: kvm only when the CPU shows vmx/svm)
#   LANE_CPU LANE_MEM (MiB, default 1536) LANE_CPUS (default 2)
#   LANE_TIMEOUT qemu wall-clock limit in s (default 900; run-integration 1200,
#                run-shim 1500, run-berthd 2400)
#   LANE_TESTS   run-integration: space-separated binary names to run
#                (default: every build/tests/integration/integration-*)
#   LANE_TEST_TIMEOUT  per-binary limit in the guest, s (default 600)
#   LANE_BERTHD_TESTS  run-berthd: e2e script names without .sh (default
#                berthd-systemd berthd-containers berthd-pods; CI runs
#                berthd-exec-quota)
#   LANE_CRITERION_ARGS  extra args for each test binary (e.g. --filter=mounts/*)
#   LANE_KEEP=1  keep the run dir (/tmp/berth-lane.*) and the copied binaries
#                in it; without it run-integration removes the run dir after a
#                green run (its logs are kept after a failure)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${LANE_BUILD:-$SRC/build}
C=${LANE_CACHE:-/var/cache/berth-vmlane}
SUITE=bookworm
# What berth and its integration tests need at run time in the guest (the
# test binaries link libcriterion3, libyajl2 and libstdc++; mkbundle.sh needs
# bash, busybox-static, coreutils' chroot and findutils' xargs), on top of a
# minbase system with systemd as init.
GUEST_PKGS=systemd,systemd-sysv,dbus,udev,kmod,libcriterion3,libyajl2,libseccomp2,libcap2,libstdc++6,busybox-static,bash,coreutils,findutils,procps,iproute2,util-linux
# run-shim: containerd and what the shim's e2e scripts use (an image of its own).
SHIM_PKGS=containerd,python3,protobuf-compiler,jq,libprotobuf-lite32,tar
[ "${1:-}" != run-shim ] || GUEST_PKGS=$GUEST_PKGS,$SHIM_PKGS
# run-berthd: berthd's shared libraries (gRPC, protobuf, libcurl, libarchive,
# OpenSSL, toml++, libyaml) and what its e2e scripts use.
BERTHD_PKGS=libgrpc++1.51,libprotobuf32,libcurl4,libarchive13,libssl3,libtomlplusplus3,libyaml-0-2,docker-registry,skopeo,umoci,python3,curl,ca-certificates
[ "${1:-}" != run-berthd ] || GUEST_PKGS=$GUEST_PKGS,$BERTHD_PKGS
HOST_PKGS=(qemu-system-x86 qemu-utils debootstrap busybox-static e2fsprogs cpio kmod)

log() { echo "[lane $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 2; }

mirror() {
	if [ -n "${LANE_MIRROR:-}" ]; then echo "$LANE_MIRROR"; return; fi
	local m
	m=$(awk '/^URIs:/{print $2; exit} /^deb /{print $2; exit}' \
		/etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
	echo "${m:-http://deb.debian.org/debian}"
}

# The guest-side runner: mounts the 9p share, runs /lane/cmd.sh, records its
# status in /lane/rc and powers off. Installed as a systemd service whose
# output goes straight to the serial console (the host's stdout), unprefixed.
lane_run_script() {
	cat <<'EOF'
#!/bin/sh
mkdir -p /lane
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lane /lane || { echo LANE-RC=250; systemctl --no-block poweroff; exit 0; }
systemctl is-system-running --wait >/lane/boot-state 2>&1 || true   # wait until boot is finished
( cd /lane/src 2>/dev/null || cd /; sh /lane/cmd.sh; echo $? > /lane/rc ) 2>&1 | tee /lane/out.log
echo "LANE-RC=$(cat /lane/rc)"; journalctl -b --no-pager > /lane/journal.txt 2>&1 || true
sync; umount /lane || true; systemctl --no-block poweroff
EOF
}

lane_service() {
	printf '%s\n' '[Unit]' 'Description=berth test lane runner' 'After=multi-user.target' \
		'[Service]' 'Type=simple' 'ExecStart=/usr/local/sbin/lane-run' \
		'StandardOutput=tty' 'StandardError=tty' 'TTYPath=/dev/ttyS0' \
		'[Install]' 'WantedBy=multi-user.target'
}

# The tiny initramfs's init: load virtio + ext4, switch_root to /dev/vda.
initrd_init() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "lane: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys; mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
}

# The image's recipe: anything that changes it gives a new img-<hash> dir, so
# an old cache (or one from another script) is never mistaken for this one.
recipe_hash() {
	{ echo "$SUITE $GUEST_PKGS"; declare -f build_image lane_run_script lane_service initrd_init; } \
		| sha256sum | cut -c1-12
}

IMG=
image_dir() { IMG=$C/img-$(recipe_hash); }

ensure_host_tools() {
	local need=() p
	for p in "${HOST_PKGS[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
	done
	[ ${#need[@]} -eq 0 ] && return
	log "installing host tools: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
}

# Build $IMG/{vmlinuz,initrd.img,base.img}; base.img is written last, so its
# presence means the cache is complete. Steps reuse what an interrupted build
# finished (the kernel .debs, a complete debootstrap) and redo the rest.
build_image() (
	set -euo pipefail
	local D=$IMG KV m
	mkdir -p "$D"; cd "$D"
	rm -rf kernel initrd img.tmp rootfs.tmp
	# kernel: download + extract the .deb (nothing installed on the host)
	if ! ls kdeb/linux-image-[0-9]*.deb >/dev/null 2>&1; then
		rm -rf kdeb kdeb.tmp; mkdir kdeb.tmp
		local kpkg
		kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
		if [ -z "$kpkg" ] || ! (cd kdeb.tmp && apt-get download "$kpkg"); then
			log "kernel package not downloadable from the host's apt lists; apt-get update"
			apt-get update -qq
			kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
			(cd kdeb.tmp && apt-get download "$kpkg")
		fi
		mv kdeb.tmp kdeb
	fi
	dpkg -x kdeb/linux-image-[0-9]*.deb kernel; KV=$(ls kernel/lib/modules)
	# root filesystem: debootstrap into rootfs.tmp, renamed when complete
	if [ ! -x rootfs/lib/systemd/systemd ]; then
		rm -rf rootfs
		log "debootstrap $SUITE from $(mirror)"
		debootstrap --variant=minbase --include="$GUEST_PKGS" "$SUITE" rootfs.tmp "$(mirror)"
		mv rootfs.tmp rootfs
	fi
	rm -rf rootfs/lib/modules; mkdir -p rootfs/lib/modules; cp -a kernel/lib/modules/"$KV" rootfs/lib/modules/
	(cd rootfs/lib/modules/"$KV"/kernel && rm -rf sound drivers/{gpu,media,net/wireless,net/ethernet,infiniband,staging,bluetooth,iio,hid,input,usb,isdn})
	depmod -b rootfs "$KV"
	echo berth-lane > rootfs/etc/hostname; echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > rootfs/etc/fstab
	for m in serial-getty@ttyS0 getty@tty1 systemd-firstboot; do ln -sf /dev/null rootfs/etc/systemd/system/$m.service; done
	lane_run_script > rootfs/usr/local/sbin/lane-run; chmod 755 rootfs/usr/local/sbin/lane-run
	lane_service > rootfs/etc/systemd/system/lane.service
	mkdir -p rootfs/etc/systemd/system/multi-user.target.wants
	ln -sf /etc/systemd/system/lane.service rootfs/etc/systemd/system/multi-user.target.wants/
	rm -rf rootfs/var/cache/apt/archives/*.deb rootfs/var/lib/apt/lists/*
	truncate -s 3G img.tmp; mkfs.ext4 -q -F -L vmroot -d rootfs img.tmp   # no loop mount
	# tiny busybox initramfs: insmod virtio_pci/virtio_blk/ext4 (+deps), switch_root to /dev/vda
	mkdir -p initrd/{bin,dev,proc,sys,newroot,mods}; cp "$(readlink -f /bin/busybox)" initrd/bin/busybox
	depmod -b kernel "$KV"
	modprobe -a -d kernel -S "$KV" --show-depends virtio_pci virtio_blk ext4 crc32c_generic \
		| awk '$1=="insmod" && !s[$2]++ {print $2}' | while read -r m; do
			cp "$m" initrd/mods/; basename "$m" >> initrd/mods/order; done
	initrd_init > initrd/init; chmod 755 initrd/init
	(cd initrd && find . | cpio -o -H newc --quiet | gzip -1) > initrd.img
	cp kernel/boot/vmlinuz-"$KV" vmlinuz; echo "$KV" > kernel.version
	sync; mv img.tmp base.img   # base.img last = cache complete
	rm -rf kdeb kernel initrd rootfs
	log "built $D: kernel $KV, $(du -h base.img | cut -f1) used"
)

build() {
	ensure_host_tools
	image_dir
	[ -f "$IMG/base.img" ] && return 0
	mkdir -p "$C"
	exec 9>"$C/.lock"
	flock 9   # one builder at a time; a waiter then finds base.img
	if [ ! -f "$IMG/base.img" ]; then
		local t0=$SECONDS
		log "building guest image in $IMG (cold: a few minutes)"
		build_image
		log "image build took $((SECONDS - t0)) s"
		# Drop images of older recipes (a running qemu keeps its open file).
		local d
		for d in "$C"/img-*; do
			[ "$d" = "$IMG" ] || [ ! -d "$d" ] || { log "removing old image $d"; rm -rf "$d"; }
		done
	fi
	exec 9>&-
}

# run CMD [DIR]: boot the guest, run CMD in the run dir ($LANE_RUN_DIR or a
# new /tmp/berth-lane.*). Returns CMD's status (125: no result).
run() {
	local cmd=$1 src=${2:-} accel=${LANE_ACCEL:-auto} R rc t0
	[ -z "$src" ] || src=$(realpath "$src")
	build
	if [ "$accel" = auto ]; then   # nested KVM only if the CPU advertises vmx/svm
		if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; else accel=tcg; fi
	fi
	local cpu=${LANE_CPU:-max}; [ "$accel" = kvm ] && cpu=${LANE_CPU:-host}
	R=${LANE_RUN_DIR:-$(mktemp -d /tmp/berth-lane.XXXXXX)}
	printf '%s\n' "$cmd" > "$R/cmd.sh"
	[ -z "$src" ] || { mkdir -p "$R/src"; cp -a "$src"/. "$R/src/"; }
	log "booting (accel=$accel, ${LANE_CPUS:-2} cpus, ${LANE_MEM:-1536} MiB), run dir $R"
	t0=$SECONDS
	timeout "${LANE_TIMEOUT:-900}" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" \
		-m "${LANE_MEM:-1536}" -smp "${LANE_CPUS:-2}" -nodefaults -no-reboot -display none \
		-serial stdio -monitor none -nic none -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
		-append "console=ttyS0 root=/dev/vda rw panic=-1 quiet systemd.show_status=0" \
		-drive file="$IMG/base.img",format=raw,if=virtio,cache=unsafe -snapshot \
		-virtfs local,path="$R",mount_tag=lane,security_model=none,id=lane </dev/null \
		| sed -u 's/\r$//' | tee "$R/console.log" || true
	log "guest ran $((SECONDS - t0)) s"
	if [ -f "$R/rc" ]; then
		rc=$(cat "$R/rc"); log "guest rc=$rc, logs in $R (out.log, console.log, journal.txt)"
		return "$rc"
	fi
	log "no result (crash/timeout), see $R/console.log"
	return 125
}

# Count one TAP file's results into P F S; a binary that exited non-zero
# without a `not ok`, or gave fewer results than its plan, counts one failure.
P=0 F=0 S=0 FAILED=()
count_tap() {
	local tap=$1 name rc p=0 f=0 s=0 plan=
	name=$(basename "$tap" .tap)
	rc=$(cat "${tap%.tap}.rc" 2>/dev/null || echo none)
	while IFS= read -r l; do
		case $l in
		'not ok'*)
			f=$((f + 1))
			[[ $l =~ ^not\ ok\ *[0-9]*\ *-?\ *(.*)$ ]] && l=${BASH_REMATCH[1]}
			FAILED+=("$name: $l") ;;
		'ok'*'# SKIP'* | 'ok'*'# skip'*) s=$((s + 1)) ;;
		'ok'*) p=$((p + 1)) ;;
		1..*) plan=${l#1..}; plan=${plan%% *} ;;
		esac
	done < "$tap"
	if [ "$rc" != 0 ] && [ "$f" -eq 0 ]; then
		f=$((f + 1)); FAILED+=("$name: exited with status $rc")
	elif [ -n "$plan" ] && [ $((p + f + s)) -lt "$plan" ]; then
		FAILED+=("$name: $((p + f + s)) results for plan 1..$plan"); f=$((f + 1))
	fi
	printf 'vm: %-24s %3d passed, %d failed, %d skipped (exit %s)\n' "$name" "$p" "$f" "$s" "$rc"
	P=$((P + p)) F=$((F + f)) S=$((S + s))
}

run_integration() {
	local berth=$BUILD/runtime/berth bins=() b n st
	[ -x "$berth" ] || die "no $berth: build first (ninja -C $BUILD)"
	if [ -n "${LANE_TESTS:-}" ]; then
		for n in $LANE_TESTS; do bins+=("$BUILD/tests/integration/$n"); done
	else
		for b in "$BUILD"/tests/integration/integration-*; do
			[ -f "$b" ] && [ -x "$b" ] && bins+=("$b")
		done
	fi
	[ ${#bins[@]} -gt 0 ] || die "no integration test binaries in $BUILD/tests/integration"
	st=$(mktemp -d /tmp/berth-lane-src.XXXXXX)
	mkdir -p "$st/contrib" "$st/bin"
	cp "$berth" "$st/berth"
	# The static helpers tests copy into a rootfs (sd_notify client, the
	# CVE-2019-5736 attack, the seccomp syscall prober).
	for b in sd-notify-helper exe-attack syscall-probe; do
		[ ! -x "$BUILD/tests/integration/$b" ] || cp "$BUILD/tests/integration/$b" "$st/$b"
	done
	cp -a "$SRC/contrib/." "$st/contrib/"   # mkbundle.sh, seccomp profiles the tests read
	for b in "${bins[@]}"; do [ -x "$b" ] || die "no test binary $b"; cp "$b" "$st/bin/"; done
	cp "$HERE/guest-integration.sh" "$st/"
	printf '%s\n' "${LANE_TEST_TIMEOUT:-600}" > "$st/test-timeout"
	printf '%s\n' "${LANE_CRITERION_ARGS:-}" > "$st/criterion-args"
	local R rc=0; R=$(mktemp -d /tmp/berth-lane.XXXXXX); mkdir "$R/tap"
	LANE_RUN_DIR=$R LANE_TIMEOUT=${LANE_TIMEOUT:-1200} run 'exec bash /lane/src/guest-integration.sh' "$st" || rc=$?
	rm -rf "$st"; [ "${LANE_KEEP:-0}" = 1 ] || rm -rf "$R/src"

	echo "=== vm lane results (run dir $R)"
	local t
	[ ! -f "$R/tap/lane.tap" ] || count_tap "$R/tap/lane.tap"   # the lane's own checks first
	for t in "$R"/tap/integration-*.tap; do [ ! -f "$t" ] || count_tap "$t"; done
	local missing=0
	for b in "${bins[@]}"; do
		n=$(basename "$b")
		[ -f "$R/tap/$n.rc" ] || { missing=$((missing + 1)); FAILED+=("$n: no result from the guest"); }
	done
	[ -f "$R/tap/lane.rc" ] || { missing=$((missing + 1)); FAILED+=("lane checks: no result from the guest"); }
	for t in "${FAILED[@]}"; do echo "vm: FAILED $t"; done
	echo "vm: $P passed, $F failed, $S skipped"
	if [ "$rc" = 125 ] || [ "$missing" -gt 0 ]; then
		log "the guest gave no (complete) result: guest rc=$rc, $missing result(s) missing"
		return 125
	fi
	[ "$F" -eq 0 ] || return 1
	[ "$rc" = 0 ] || { log "guest script exited $rc"; return 1; }
	[ "${LANE_KEEP:-0}" = 1 ] || rm -rf "$R"   # green: nothing left behind
	return 0
}

# run-shim: berth-shim's e2e scripts (shim.sh with Debian's containerd, and
# monitor.sh) on the cgroup v2 + systemd guest: the v2 paths of its OOM
# watcher and metrics, end to end. Not in CI (a guest image of its own, and
# minutes of TCG); prints the two scripts' TAP and `vm-shim: N passed, ...`.
run_shim() {
	local st b rc=0 R out
	st=$(mktemp -d /tmp/berth-lane-shim.XXXXXX)
	mkdir -p "$st/bin" "$st/src/tests" "$st/src/shim"
	for b in shim/berth-shim runtime/berth tests/shim/berth-shimctl; do
		[ -x "$BUILD/$b" ] || die "no $BUILD/$b: build first (ninja -C $BUILD)"
		cp "$BUILD/$b" "$st/bin/"
	done
	cp -a "$SRC/tests/e2e" "$st/src/tests/"; cp -a "$SRC/shim/proto" "$st/src/shim/"; cp -a "$SRC/contrib" "$st/src/"
	R=$(mktemp -d /tmp/berth-lane.XXXXXX)
	LANE_RUN_DIR=$R LANE_TIMEOUT=${LANE_TIMEOUT:-1500} run '
		export BERTH_SRC=$PWD/src BERTH_SHIM=$PWD/bin/berth-shim BERTH_SHIMCTL=$PWD/bin/berth-shimctl BERTH=$PWD/bin/berth
		stat -fc "cgroup fs: %T" /sys/fs/cgroup
		bash src/tests/e2e/shim.sh > /lane/shim.tap 2>&1; echo "shim.sh exit $?" >> /lane/shim.tap
		bash src/tests/e2e/monitor.sh > /lane/monitor.tap 2>&1; echo "monitor.sh exit $?" >> /lane/monitor.tap
		cat /lane/shim.tap /lane/monitor.tap' "$st" || rc=$?
	rm -rf "$st"
	out=$(cat "$R/shim.tap" "$R/monitor.tap" 2>/dev/null)
	echo "vm-shim: $(grep -c '^ok' <<<"$out") passed, $(grep -c '^not ok' <<<"$out") failed (run dir $R)"
	return "$rc"
}

# run-berthd: berthd's e2e scripts through its socket on the cgroup v2 +
# systemd guest (pod cgroups, stats, OOM from memory.events, update on v2;
# execution configs' quota slices). Prints the scripts' TAP, one line per
# script and last `vm-berthd: N passed, N failed, N skipped`. Exits 1 on a
# failed check (or a script that exited non-zero without one), 125 when the
# guest gave no (complete) result, 0 otherwise; the run dir (logs, each
# script's tap/NAME.tap and .rc) stays after a failure, or with LANE_KEEP=1.
run_berthd() {
	local st b rc=0 R t missing=0 tests=${LANE_BERTHD_TESTS:-berthd-systemd berthd-containers berthd-pods}
	st=$(mktemp -d /tmp/berth-lane-berthd.XXXXXX)
	mkdir -p "$st/bin" "$st/src/tests"
	for b in cri/daemon/berthd cri/ctl/berthctl shim/berth-shim runtime/berth tests/cri/cri-client; do
		[ -x "$BUILD/$b" ] || die "no $BUILD/$b: build first (ninja -C $BUILD)"
		cp "$BUILD/$b" "$st/bin/"
	done
	cp -a "$SRC/tests/e2e" "$st/src/tests/"; cp -a "$SRC/contrib" "$st/src/"
	R=$(mktemp -d /tmp/berth-lane.XXXXXX); mkdir "$R/tap"
	LANE_RUN_DIR=$R LANE_TIMEOUT=${LANE_TIMEOUT:-2400} run '
		export BERTH_SRC=$PWD/src BERTHD=$PWD/bin/berthd BERTHCTL=$PWD/bin/berthctl BERTH_SHIM=$PWD/bin/berth-shim
		export CRI_CLIENT=$PWD/bin/cri-client BERTH=$PWD/bin/berth
		stat -fc "cgroup fs: %T" /sys/fs/cgroup
		for t in '"$tests"'; do
			s=$(date +%s)
			timeout 1200 bash src/tests/e2e/$t.sh > /lane/tap/$t.tap 2>&1; echo $? > /lane/tap/$t.rc
			echo "# $t.sh: $(($(date +%s) - s)) s" >> /lane/tap/$t.tap
		done
		cat /lane/tap/*.tap' "$st" || rc=$?
	rm -rf "$st"
	echo "=== vm-berthd results (run dir $R)"
	for t in $tests; do
		if [ -f "$R/tap/$t.rc" ]; then count_tap "$R/tap/$t.tap"
		else missing=$((missing + 1)); FAILED+=("$t: no result from the guest"); fi
	done
	for t in "${FAILED[@]}"; do echo "vm-berthd: FAILED $t"; done
	echo "vm-berthd: $P passed, $F failed, $S skipped"
	if [ "$rc" = 125 ] || [ "$missing" -gt 0 ]; then
		log "the guest gave no (complete) result: guest rc=$rc, $missing result(s) missing"
		return 125
	fi
	[ "$F" -eq 0 ] || return 1
	[ "$rc" = 0 ] || { log "guest script exited $rc"; return 1; }
	[ "${LANE_KEEP:-0}" = 1 ] || rm -rf "$R"   # green: nothing left behind
	return 0
}

[ "$(id -u)" = 0 ] || die "run as root (qemu, debootstrap and the image cache need it)"
case ${1:-} in
build) build ;;
run) shift; [ $# -ge 1 ] || die "usage: $0 run 'CMD' [DIR]"; run "$@" ;;
run-integration) run_integration ;;
run-shim) LANE_CACHE=${LANE_CACHE:-/var/cache/berth-vmlane-shim}; C=$LANE_CACHE; run_shim ;;
run-berthd) LANE_CACHE=${LANE_CACHE:-/var/cache/berth-vmlane-berthd}; C=$LANE_CACHE; run_berthd ;;
*) echo "usage: $0 build | run 'CMD' [DIR] | run-integration | run-shim | run-berthd" >&2; exit 2 ;;
esac
