#!/usr/bin/env bash
# pull-bench.sh: a cold pull and unpack of one image from a local registry,
# berthd next to containerd and podman.
#
#   tests/bench/pull-bench.sh [--runs N] [--size MB] [--berthd PATH] [--berthctl PATH]
#                             [--store-fs journal|host]
#
# It builds an image of this machine's Debian files (pull-bench-image.py:
# six gzip layers, MB megabytes of files in all, default 200), pushes it
# to Debian's docker-registry on 127.0.0.1, then times N (default 5) cold
# pulls with unpack per client, round-robin with the order rotated, after
# one warm-up round each:
#   berthd      `berthctl pull` against a private berthd (own root, state, socket)
#   containerd  `ctr images pull --plain-http` into a private containerd
#               (own root, state, sockets; overlayfs snapshotter)
#   podman      `podman pull --tls-verify=false` with private storage (overlay)
# Each pull starts from an empty store (the image removed and its blobs and
# layers collected after the previous one, outside the timing). The three
# stores live on one fresh ext4 with a journal, loop-mounted under the temp
# dir (--store-fs journal, the default), as a node's /var/lib is: on an ext4
# without a journal (this VM's root), the kernel skips inodes freed in the
# last 30 s to 5 min one by one on every create (ialloc.c's
# recently_deleted), so whichever client deleted most recently pays seconds
# for its predecessors' cleanup; --store-fs host measures there anyway. It prints
# median wall times, the ratios berthd/containerd and berthd/podman, CPU per
# pull, peak RSS, berthd's idle RSS and unpack rate, and how many cores
# berthd kept busy. berthd and berthctl default to $BERTHD / $BERTHCTL,
# else build/cri/daemon/berthd and build/cri/ctl/berthctl. Needs root.
#
# containerd and podman run in a private mount namespace, so their mounts go
# with it. Everything lives under one temp dir; every process started is
# killed by its pid; all is removed on exit, Ctrl-C included. A client that
# is missing or fails is reported and left out; the script exits 0 then.
set -euo pipefail
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
readonly SCRIPT_DIR REPO_ROOT

RUNS=5
SIZE_MB=200
STORE_FS=journal
STORE='' STORE_MOUNTED=no
BERTHD_PATH=${BERTHD:-$REPO_ROOT/build/cri/daemon/berthd}
BERTHCTL_PATH=${BERTHCTL:-$REPO_ROOT/build/cri/ctl/berthctl}
readonly CT_NS=pull-bench

TMP='' NSDIR='' NS_BOUND=no NS_MADE=no
NS=()
REG_PID='' BERTHD_PID='' CT_PID='' SAMPLER_PID=''
REF=''
CLIENTS=() NOTES=()
declare -A FAIL=() S_WALL=() S_CPU=() S_RSS=()
S_BUSY_MEAN='' S_BUSY_PEAK='' IDLE_START='' IDLE_AFTER='' IDLE_LATER='' IDLE_PSS='' UNPACK_LAYER='' UNPACK_SPAN=''
IMG_JSON=''

die() {
	printf 'pull-bench: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit "${1:-0}"
}

parse_args() {
	while (($# > 0)); do
		case $1 in
		--runs) (($# >= 2)) || die "$1 needs a value"; RUNS=$2; shift ;;
		--runs=*) RUNS=${1#*=} ;;
		--size) (($# >= 2)) || die "$1 needs a value"; SIZE_MB=$2; shift ;;
		--size=*) SIZE_MB=${1#*=} ;;
		--berthd) (($# >= 2)) || die "$1 needs a value"; BERTHD_PATH=$2; shift ;;
		--berthd=*) BERTHD_PATH=${1#*=} ;;
		--berthctl) (($# >= 2)) || die "$1 needs a value"; BERTHCTL_PATH=$2; shift ;;
		--berthctl=*) BERTHCTL_PATH=${1#*=} ;;
		--store-fs) (($# >= 2)) || die "$1 needs a value"; STORE_FS=$2; shift ;;
		--store-fs=*) STORE_FS=${1#*=} ;;
		-h | --help) usage 0 ;;
		*) die "unknown argument $1 (see --help)" ;;
		esac
		shift
	done
	[[ $RUNS =~ ^[0-9]+$ ]] && ((10#$RUNS >= 1)) || die "--runs wants an integer >= 1"
	RUNS=$((10#$RUNS))
	[[ $SIZE_MB =~ ^[0-9]+$ ]] && ((10#$SIZE_MB >= 1)) || die "--size wants an integer >= 1 (MB)"
	[[ $STORE_FS == journal || $STORE_FS == host ]] || die "--store-fs wants journal or host"
}

# ---------------------------------------------------------------- cleanup

kill_wait() {   # kill_wait PID: TERM, then KILL after 10 s; reap it
	local pid=$1 k
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((k = 0; k < 100; k++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local status=$?
	trap '' INT TERM
	set +e   # every step runs, whatever the one before it did (a grep that finds nothing included)
	kill_wait "$SAMPLER_PID"
	kill_wait "$BERTHD_PID"
	if [[ -n $CT_PID ]]; then
		kill_wait "$CT_PID"
	fi
	kill_wait "$REG_PID"
	if [[ $NS_MADE == yes ]]; then
		umount "$NSDIR/mnt" 2>/dev/null || umount -l "$NSDIR/mnt" 2>/dev/null || true
	fi
	if [[ $NS_BOUND == yes ]]; then
		umount "$NSDIR" 2>/dev/null || umount -l "$NSDIR" 2>/dev/null || true
	fi
	if [[ $STORE_MOUNTED == yes ]]; then
		# Mounts the clients left on it (none expected) first; the loop
		# device goes with the last unmount (autoclear).
		grep -o " $STORE/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
		umount "$STORE" 2>/dev/null || umount -l "$STORE" 2>/dev/null || true
	fi
	if [[ -n $TMP && -d $TMP ]]; then
		# Anything still mounted under it (none expected) goes first.
		grep -o " $TMP/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
		rm -rf "$TMP" 2>/dev/null || printf 'pull-bench: could not remove %s\n' "$TMP" >&2
	fi
	exit "$status"
}

# ---------------------------------------------------------------- helpers

now_us() {
	local -n out=$1
	local t=$EPOCHREALTIME
	out=$((10#${t/./}))
}

progress() {
	[[ -t 2 ]] && printf '\r%s\e[K' "$*" >&2
	return 0
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_until() {   # wait_until TENTHS CMD...
	local n=$1 k
	shift
	for ((k = 0; k < n; k++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # utime + stime of a process, clock ticks
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }   # status_kib PID VmHWM

fail() {   # fail CLIENT WHY
	FAIL[$1]=${2:0:300}
	printf '\npull-bench: %s failed: %s\n' "$1" "${FAIL[$1]}" >&2
}

# ---------------------------------------------------------------- setup

# The stores' file system (see the top). Mounted before the private mount
# namespace is made, so containerd and podman see it too.
make_store() {
	STORE=$TMP/store
	mkdir "$STORE"
	[[ $STORE_FS == host ]] && return 0
	truncate -s $((SIZE_MB * 16 + 2048))M "$TMP/store.img"
	mkfs.ext4 -q -F "$TMP/store.img" || die "mkfs.ext4 failed"
	mount -o loop "$TMP/store.img" "$STORE" || die "could not loop-mount the store file system"
	STORE_MOUNTED=yes
}

make_namespace() {
	NSDIR=$TMP/ns
	mkdir "$NSDIR"
	mount --bind "$NSDIR" "$NSDIR"
	NS_BOUND=yes
	mount --make-private "$NSDIR"
	touch "$NSDIR/mnt"
	unshare --mount="$NSDIR/mnt" --propagation private true
	NS_MADE=yes
	NS=(nsenter "--mount=$NSDIR/mnt")
}

setup_registry() {
	local port
	port=$(free_port)
	mkdir -p "$TMP/reg"
	printf 'version: 0.1\nlog: { level: error, accesslog: { disabled: true } }\nstorage: { filesystem: { rootdirectory: %s } }\nhttp: { addr: 127.0.0.1:%s }\n' \
		"$TMP/reg/data" "$port" >"$TMP/reg/config.yml"
	docker-registry serve "$TMP/reg/config.yml" >"$TMP/reg/log" 2>&1 </dev/null &
	REG_PID=$!
	wait_until 200 curl -sf "http://127.0.0.1:$port/v2/" || die "docker-registry did not start: $(tail -3 "$TMP/reg/log")"
	progress "building the image ($SIZE_MB MB of /usr)"
	IMG_JSON=$(python3 "$SCRIPT_DIR/pull-bench-image.py" "$TMP/layout" "$SIZE_MB") || die "pull-bench-image.py failed"
	REF=127.0.0.1:$port/bench/debian:1
	progress "pushing it"
	skopeo --insecure-policy copy -q --preserve-digests --dest-tls-verify=false "oci:$TMP/layout:bench" \
		"docker://$REF" >"$TMP/push.log" 2>&1 || die "skopeo copy failed: $(tail -3 "$TMP/push.log")"
	rm -rf "$TMP/layout"
}

setup_berthd() {
	if [[ ! -x $BERTHD_PATH || ! -x $BERTHCTL_PATH ]]; then
		NOTES+=("berthd or berthctl is not built ($BERTHD_PATH, $BERTHCTL_PATH): no berthd figures")
		return 0
	fi
	local d=$TMP/berthd
	mkdir -p "$d"
	: >"$d/berthd.toml"   # every default, whatever /etc/berth holds
	"$BERTHD_PATH" --config "$d/berthd.toml" --root "$STORE/berthd" --state "$d/state" --listen "$d/sock" \
		--log-level debug >"$d/log" 2>&1 </dev/null &
	BERTHD_PID=$!
	if ! wait_until 100 "$BERTHCTL_PATH" -r "unix://$d/sock" version; then
		NOTES+=("berthd did not start ($(tail -c 200 "$d/log")): no berthd figures")
		return 0
	fi
	sleep 1
	IDLE_START=$(status_kib "$BERTHD_PID" VmRSS)
	CLIENTS+=(berthd)
}

ctr_() { timeout 600 ctr -a "$TMP/ctrd/containerd.sock" -n "$CT_NS" "$@"; }

setup_containerd() {
	if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
		NOTES+=("containerd or ctr is not installed: no containerd figures")
		return 0
	fi
	local c=$TMP/ctrd
	mkdir -p "$c"
	cat >"$c/config.toml" <<-X
		version = 2
		root = "$STORE/containerd"
		state = "$c/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$c/containerd.sock"
		[ttrpc]
		  address = "$c/containerd.sock.ttrpc"
	X
	"${NS[@]}" containerd --config "$c/config.toml" >"$c/log" 2>&1 </dev/null &
	CT_PID=$!
	if ! wait_until 300 ctr_ version; then
		NOTES+=("containerd did not start ($(tail -c 200 "$c/log")): no containerd figures")
		return 0
	fi
	CLIENTS+=(containerd)
}

setup_podman() {
	if ! command -v podman >/dev/null; then
		NOTES+=("podman is not installed: no podman figures")
		return 0
	fi
	local p=$TMP/podman
	mkdir -p "$p"
	printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s/events.log"\n' \
		"$p" >"$p/containers.conf"
	printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/podman"\n' "$p" "$STORE" >"$p/storage.conf"
	export CONTAINERS_CONF=$p/containers.conf CONTAINERS_STORAGE_CONF=$p/storage.conf
	CLIENTS+=(podman)
}

# ---------------------------------------------------------------- one pull each

# The sampler: berthd's CPU ticks every 0.1 s until its stop file exists;
# prints the busiest 0.5 s (in cores).
start_sampler() {
	rm -f "$TMP/sampler.stop"
	python3 - "$BERTHD_PID" "$TMP/sampler.stop" >"$TMP/sampler.out" 2>/dev/null <<-'PY' &
		import os, sys, time
		pid, stop = sys.argv[1], sys.argv[2]
		hz = os.sysconf("SC_CLK_TCK")
		samples = []
		while not os.path.exists(stop):
		    with open("/proc/%s/stat" % pid) as f:
		        v = f.read().rsplit(")", 1)[1].split()
		    samples.append((time.monotonic(), int(v[11]) + int(v[12])))
		    time.sleep(0.1)
		best = 0.0
		for i, (t0, c0) in enumerate(samples):
		    for t1, c1 in samples[i + 1:]:
		        if t1 - t0 >= 0.5:
		            best = max(best, (c1 - c0) / hz / (t1 - t0))
		            break
		print("%.2f" % best)
	PY
	SAMPLER_PID=$!
}

stop_sampler() {
	touch "$TMP/sampler.stop"
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=''
	S_BUSY_PEAK+=" $(cat "$TMP/sampler.out" 2>/dev/null || echo 0)"
}

pull_berthd() {   # pull_berthd I (0: warm-up)
	local i=$1 d=$TMP/berthd t0 t1 c0 c1 lines
	local ctl=("$BERTHCTL_PATH" -r "unix://$d/sock" -t 60s)
	echo 5 >"/proc/$BERTHD_PID/clear_refs"   # VmHWM starts again from the current RSS
	lines=$(wc -l <"$d/log")
	c0=$(cpu_ticks "$BERTHD_PID")
	((i == 0)) || start_sampler
	now_us t0
	if ! "${ctl[@]}" pull --pull-timeout 600 "$REF" >"$TMP/out" 2>&1; then
		((i == 0)) || stop_sampler
		fail berthd "$(tail -c 300 "$TMP/out")"
		return
	fi
	now_us t1
	c1=$(cpu_ticks "$BERTHD_PID")
	if ((i > 0)); then
		stop_sampler
		S_WALL[berthd]+=" $((t1 - t0))"
		S_CPU[berthd]+=" $(((c1 - c0) * 1000000 / $(getconf CLK_TCK)))"
		S_RSS[berthd]+=" $(status_kib "$BERTHD_PID" VmHWM)"
		S_BUSY_MEAN+=" $(awk -v c=$(((c1 - c0) * 1000000 / $(getconf CLK_TCK))) -v w=$((t1 - t0)) 'BEGIN { printf "%.2f", c / w }')"
		# The per-layer unpack lines this pull logged (image_pull.cpp, debug).
		tail -n +"$((lines + 1))" "$d/log" | awk '
			/unpacked layer/ { for (i = 1; i <= NF; i++) { if ($i == "bytes") b = $(i - 1); if ($i == "ms,") m = $(i - 1) }
			                    tb += b; tm += m; n++ }
			END { if (n && tm) printf "%.0f\n", tb / 1e6 / (tm / 1000) }' >>"$TMP/unpack-layer"
		awk -v w=$((t1 - t0)) -v u="$(jq -r .uncompressed <<<"$IMG_JSON")" 'BEGIN { printf "%.0f\n", u / 1e6 / (w / 1e6) }' >>"$TMP/unpack-span"
	fi
	# RemoveImage collects the blobs and layers before it answers.
	"${ctl[@]}" rmi "$REF" >/dev/null 2>&1 || fail berthd "rmi failed"
	local left
	left=$(find "$STORE/berthd/layers" "$STORE/berthd/content/blobs/sha256" -mindepth 1 -maxdepth 1 2>/dev/null | head -3)
	[[ -z $left ]] || fail berthd "the store is not empty after rmi: $left"
}

pull_containerd() {
	local i=$1 t0 t1 c0 c1 ctr_cpu
	echo 5 >"/proc/$CT_PID/clear_refs"
	c0=$(cpu_ticks "$CT_PID")
	now_us t0
	if ! /usr/bin/time -f '%U %S %M' -o "$TMP/time" timeout 600 ctr -a "$TMP/ctrd/containerd.sock" -n "$CT_NS" \
		images pull --plain-http --snapshotter overlayfs "$REF" >"$TMP/out" 2>&1; then
		fail containerd "$(grep -v '^\(elapsed\|[a-z]*-[a-z0-9]*:\)' "$TMP/out" | tail -c 300)"
		return
	fi
	now_us t1
	c1=$(cpu_ticks "$CT_PID")
	if ((i > 0)); then
		read -r u s m <"$TMP/time"
		ctr_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1e6 }')
		S_WALL[containerd]+=" $((t1 - t0))"
		S_CPU[containerd]+=" $(((c1 - c0) * 1000000 / $(getconf CLK_TCK) + ctr_cpu))"
		S_RSS[containerd]+=" $(($(status_kib "$CT_PID" VmHWM) + m))"
	fi
	ctr_ images rm --sync "$REF" >/dev/null 2>&1 || fail containerd "images rm failed"
	# Collected with the image; make sure, outside the timing.
	local k
	for k in $(ctr_ snapshots --snapshotter overlayfs ls 2>/dev/null | awk 'NR > 1 { print $1 }'); do
		ctr_ snapshots --snapshotter overlayfs rm "$k" >/dev/null 2>&1 || true
	done
	for k in $(ctr_ content ls -q 2>/dev/null); do ctr_ content rm "$k" >/dev/null 2>&1 || true; done
}

pull_podman() {
	local i=$1 t0 t1
	now_us t0
	if ! /usr/bin/time -f '%U %S %M' -o "$TMP/time" "${NS[@]}" podman pull -q --tls-verify=false "$REF" \
		>"$TMP/out" 2>&1 </dev/null; then
		fail podman "$(tail -c 300 "$TMP/out")"
		return
	fi
	now_us t1
	if ((i > 0)); then
		read -r u s m <"$TMP/time"
		S_WALL[podman]+=" $((t1 - t0))"
		S_CPU[podman]+=" $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1e6 }')"
		S_RSS[podman]+=" $m"
	fi
	"${NS[@]}" podman rmi -af >/dev/null 2>&1 </dev/null || fail podman "rmi failed"
}

run_rounds() {
	local i k n c
	local -a live
	for ((i = 0; i <= RUNS; i++)); do
		live=()
		for c in "${CLIENTS[@]}"; do [[ -z ${FAIL[$c]:-} ]] && live+=("$c"); done
		n=${#live[@]}
		for ((k = 0; k < n; k++)); do
			c=${live[(k + i) % n]}
			progress "round $i/$RUNS: $c"
			sync   # what the last client left dirty is not this one's to write back
			"pull_$c" "$i"
		done
	done
	progress ''
	if [[ -n $BERTHD_PID ]] && kill -0 "$BERTHD_PID" 2>/dev/null; then
		sleep 2
		IDLE_AFTER=$(status_kib "$BERTHD_PID" VmRSS)
		sleep 13   # berthd gives back a burst's memory after 10 s idle (cri/daemon/idle_memory.hpp)
		IDLE_LATER=$(status_kib "$BERTHD_PID" VmRSS)
		IDLE_PSS=$(awk '$1 == "Pss:" { print $2 }' "/proc/$BERTHD_PID/smaps_rollup")
	fi
}

# ---------------------------------------------------------------- report

summarize() {   # summarize median|mean|max|n SAMPLES...: medians of us -> s
	local op=$1
	shift
	# shellcheck disable=SC2048,SC2086
	printf '%s\n' $* | sort -g | awk -v op="$op" '
		NF { a[++n] = $1; s += $1 }
		END {
			if (n == 0) { print "-"; exit }
			m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			if (op == "median") printf "%.2f\n", m / 1e6
			else if (op == "mediank") printf "%.1f\n", m / 1024
			else if (op == "median1") printf "%.2f\n", m
			else if (op == "max1") printf "%.2f\n", a[n]
			else if (op == "n") print n
		}'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

report() {
	local c fmt=' %-22s %9s %9s %13s %8s\n'
	declare -A wall
	echo
	printf 'pull bench: %s, %d layers, %.1f MB uncompressed (%.1f MB gzip, %d files), from docker-registry on 127.0.0.1\n' \
		"$REF" "$(jq -r .layers <<<"$IMG_JSON")" "$(jq -r '.uncompressed / 1e6' <<<"$IMG_JSON")" \
		"$(jq -r '.compressed / 1e6' <<<"$IMG_JSON")" "$(jq -r .files <<<"$IMG_JSON")"
	printf '%d cold pulls (empty store) per client after a warm-up; %s cores; load average before: %s\n' \
		"$RUNS" "$(nproc)" "$LOAD_BEFORE"
	if [[ $STORE_FS == journal ]]; then
		echo 'stores on a fresh loop-mounted ext4 with a journal (--store-fs journal)'
	else
		printf 'stores on the host file system (--store-fs host): %s\n' "$(findmnt -no FSTYPE,OPTIONS --target "$STORE" | cut -c1-60)"
	fi
	((${#NOTES[@]} == 0)) || printf '%s\n' "${NOTES[@]/#/note: }"
	echo
	# shellcheck disable=SC2059
	printf "$fmt" client 'pull s' 'CPU s' 'peak RSS MiB' samples
	for c in berthd containerd podman; do
		[[ -n ${S_WALL[$c]:-} ]] || continue
		wall[$c]=$(summarize median "${S_WALL[$c]}")
		local label=$c
		[[ $c == containerd ]] && label="containerd $(containerd --version | awk '{ print $3 }')"
		[[ $c == podman ]] && label="podman $(podman --version | awk '{ print $3 }')"
		# shellcheck disable=SC2059
		printf "$fmt" "$label" "${wall[$c]}" "$(summarize median "${S_CPU[$c]}")" \
			"$(summarize mediank "${S_RSS[$c]}")" "$(summarize n "${S_WALL[$c]}")"
	done
	echo
	echo ' pull s: median wall time of the client command, unpack included. CPU s: median user+sys of'
	echo ' berthd (containerd: the daemon and ctr; podman: podman). peak RSS: median of the peak per pull'
	echo ' (berthd: VmHWM, reset before each pull; containerd: its VmHWM plus ctr'"'"'s; podman: its max RSS).'
	echo
	printf ' %-22s %9s\n' ratio 'pull'
	for c in containerd podman; do
		[[ -n ${wall[berthd]:-} && -n ${wall[$c]:-} ]] || continue
		printf ' %-22s %9s\n' "berthd/$c" "$(ratio "${wall[berthd]}" "${wall[$c]}")"
	done
	if [[ -n ${S_WALL[berthd]:-} ]]; then
		echo
		printf ' berthd: idle RSS %.1f MiB after start, %.1f MiB 2 s after the pulls, %.1f MiB 15 s after (PSS %.1f MiB)\n' \
			"$(awk -v k="${IDLE_START:-0}" 'BEGIN { print k / 1024 }')" "$(awk -v k="${IDLE_AFTER:-0}" 'BEGIN { print k / 1024 }')" \
			"$(awk -v k="${IDLE_LATER:-0}" 'BEGIN { print k / 1024 }')" "$(awk -v k="${IDLE_PSS:-0}" 'BEGIN { print k / 1024 }')"
		printf ' berthd: unpack %s MB/s per layer (uncompressed bytes over the time its unpack took), %s MB/s over the whole pull\n' \
			"$(summarize median1 "$(cat "$TMP/unpack-layer" 2>/dev/null)")" "$(summarize median1 "$(cat "$TMP/unpack-span" 2>/dev/null)")"
		printf ' berthd: cores busy %s on average over a pull, %s at the busiest 0.5 s (medians)\n' \
			"$(summarize median1 "$S_BUSY_MEAN")" "$(summarize median1 "$S_BUSY_PEAK")"
	fi
	for c in "${!FAIL[@]}"; do printf ' FAILED %s: %s\n' "$c" "${FAIL[$c]}"; done
	return 0
}

main() {
	parse_args "$@"
	((EUID == 0)) || die "needs root (a mount namespace, containerd, podman's storage)"
	local t
	for t in docker-registry skopeo python3 jq curl; do command -v "$t" >/dev/null || die "$t is not installed"; done
	[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is not installed"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	TMP=$(mktemp -d /var/tmp/berth-pull-bench.XXXXXX)
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	make_store
	make_namespace
	setup_registry
	setup_berthd
	setup_containerd
	setup_podman
	((${#CLIENTS[@]} > 0)) || die "no client to benchmark: ${NOTES[*]}"
	run_rounds
	report
}

main "$@"
