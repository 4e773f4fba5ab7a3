#!/usr/bin/env bash
# bench.sh: berth side by side with crun and runc on a busybox bundle.
#
#   tests/bench/bench.sh [--runs N] [--podman-runs M] [--shim-runs K] [--cri-runs C]
#                        [--pull-runs P] [--berth PATH] [--berth-shim PATH]
#
# N (default 100) sequential `run /bin/true` per runtime, plus N/2 separately
# timed create/start/delete cycles and a few runs under GNU time for peak RSS,
# and M (default 20; 0 skips it) `podman --runtime RT run --rm IMG /bin/true`
# when podman is installed, all interleaved round-robin so machine noise hits
# every runtime alike.
# K (default 20; 0 skips it) `ctr run --rm IMG /bin/true` per containerd
# shim when containerd and ctr are installed: io.containerd.berth.v2
# (berth-shim) next to io.containerd.runc.v2 with runc and with crun as its
# binary, plus the resident memory (PSS) of each shim per idle container,
# and of conmon when podman is there.
# C (default 10; 0 skips it) paired rounds through containerd's CRI plugin
# (tests/bench/cri-bench.sh, run first, on its own): a pod and a container
# started, ExecSync, the pod stopped and removed, per handler (berth-shim,
# the runc shim with runc, and with berth), timed as raw gRPC calls.
# P (default 5; 0 skips it) cold pulls of a ~200 MB six-layer image from a
# local docker-registry per client (tests/bench/pull-bench.sh, run on its
# own after the CRI part): berthd, containerd (ctr pull) and podman pull.
# berth defaults to $BERTH, else build/runtime/berth under the repo root; when
# it is not built, crun and runc are measured alone. Needs root.
#
# crun 1.8.1 refuses this host's hybrid cgroup layout, so every runtime runs
# in a private mount namespace that lacks the cgroup2 mount at
# /sys/fs/cgroup/unified (see shared/reference/this-machine.md). Containers
# get their own cgroups under /berth-bench/, never the caller's.
#
# Everything it makes (containers, state roots, cgroups, the namespace, temp
# dirs) is removed on exit, Ctrl-C included. A failing runtime is reported
# with its first error line and dropped; the script still exits 0.
set -euo pipefail
# EPOCHREALTIME and `times` print the locale's decimal point; we parse '.'.
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
readonly SCRIPT_DIR REPO_ROOT
readonly ALL_RTS=(berth crun runc)
readonly CG_PARENT=berth-bench
# Unique per invocation, so a concurrent bench never shares a leaf cgroup.
readonly CG_PREFIX="/$CG_PARENT/b$$"
readonly STOP_TIMEOUT_POLLS=500 # x 10 ms
readonly CGROUP_MARK=@CGROUP@

RUNS=100
PODMAN_RUNS=20
SHIM_RUNS=20
CRI_RUNS=10
PULL_RUNS=5
readonly SHIM_IDLE=3 # idle containers per shim for the PSS figure
BERTH_PATH=${BERTH:-$REPO_ROOT/build/runtime/berth}
BERTH_SHIM_PATH=${BERTH_SHIM:-$REPO_ROOT/build/shim/berth-shim}

# Filled in as we go; cleanup() looks at each before undoing it.
TMP=''
NSDIR=''
NS_BOUND=no
NS_MADE=no
NS=()
BUNDLE=''
CONFIG_TMPL=''
ERR=''
declare -A RT_BIN=() RT_FAIL=() RT_ROOT=()
RTS=()   # runtimes found, in ALL_RTS order
NOTES=() # why a runtime is missing
# Results: space-separated samples per runtime, in microseconds (RSS in KiB).
declare -A S_RUN=() S_CPU=() S_CREATE=() S_START=() S_DELETE=() S_RSS=()
S_FLOOR=''
# podman: its own samples and failures, so a runtime podman can't drive
# still has its direct figures.
declare -A S_PODMAN=() P_FAIL=()
PODMAN=''
PODMAN_DIR=''
PODMAN_IMG=localhost/berth-bench
PODMAN_PARENT_MADE=no
# containerd: a private daemon in the namespace, its shims by key (berth:
# berth-shim; runc, crun: containerd-shim-runc-v2 with that binary).
CT=''
CT_PID=''
readonly CT_NS=berth-bench CT_IMG=localhost/berth-bench:latest
SHIMS=()
declare -A SH_LABEL=() SH_FAIL=() S_SHIM=() S_PSS=() S_CPSS=()

die() {
	printf 'bench: %s\n' "$*" >&2
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
		--podman-runs) (($# >= 2)) || die "$1 needs a value"; PODMAN_RUNS=$2; shift ;;
		--podman-runs=*) PODMAN_RUNS=${1#*=} ;;
		--shim-runs) (($# >= 2)) || die "$1 needs a value"; SHIM_RUNS=$2; shift ;;
		--shim-runs=*) SHIM_RUNS=${1#*=} ;;
		--cri-runs) (($# >= 2)) || die "$1 needs a value"; CRI_RUNS=$2; shift ;;
		--cri-runs=*) CRI_RUNS=${1#*=} ;;
		--pull-runs) (($# >= 2)) || die "$1 needs a value"; PULL_RUNS=$2; shift ;;
		--pull-runs=*) PULL_RUNS=${1#*=} ;;
		--berth-shim) (($# >= 2)) || die "$1 needs a value"; BERTH_SHIM_PATH=$2; shift ;;
		--berth-shim=*) BERTH_SHIM_PATH=${1#*=} ;;
		--berth) (($# >= 2)) || die "$1 needs a value"; BERTH_PATH=$2; shift ;;
		--berth=*) BERTH_PATH=${1#*=} ;;
		-h | --help) usage 0 ;;
		*) die "unknown argument $1 (see --help)" ;;
		esac
		shift
	done
	if [[ ! $RUNS =~ ^[0-9]+$ ]] || ((10#$RUNS < 2)); then
		die "--runs wants an integer >= 2"
	fi
	RUNS=$((10#$RUNS))
	[[ $PODMAN_RUNS =~ ^[0-9]+$ ]] || die "--podman-runs wants an integer >= 0"
	PODMAN_RUNS=$((10#$PODMAN_RUNS))
	[[ $SHIM_RUNS =~ ^[0-9]+$ ]] || die "--shim-runs wants an integer >= 0"
	SHIM_RUNS=$((10#$SHIM_RUNS))
	[[ $CRI_RUNS =~ ^[0-9]+$ ]] || die "--cri-runs wants an integer >= 0"
	CRI_RUNS=$((10#$CRI_RUNS))
	[[ $PULL_RUNS =~ ^[0-9]+$ ]] || die "--pull-runs wants an integer >= 0"
	PULL_RUNS=$((10#$PULL_RUNS))
}

# ---------------------------------------------------------------- cleanup

# cleanup: undo everything, in reverse order of setup. Runs on every exit;
# each step tolerates failure so that one stuck step doesn't leak the rest.
cleanup() {
	local status=$? rt id dir
	trap '' INT TERM
	if [[ $NS_MADE == yes ]]; then
		for rt in "${RTS[@]}"; do
			dir=${RT_ROOT[$rt]:-}
			[[ -n $dir && -d $dir ]] || continue
			# State dirs are named by container id in runc, crun and berth.
			for id in "$dir"/*; do
				[[ -d $id ]] || continue
				"${NS[@]}" "${RT_BIN[$rt]}" --root "$dir" delete -f "${id##*/}" \
					</dev/null >/dev/null 2>&1 || true
			done
		done
		containerd_cleanup
		podman_cleanup
		umount "$NSDIR/mnt" 2>/dev/null || umount -l "$NSDIR/mnt" 2>/dev/null || true
	fi
	if [[ $NS_BOUND == yes ]]; then
		umount "$NSDIR" 2>/dev/null || umount -l "$NSDIR" 2>/dev/null || true
	fi
	remove_cgroups
	if [[ -n $TMP && -d $TMP ]]; then
		rm -rf "$TMP" 2>/dev/null || printf 'bench: could not remove %s\n' "$TMP" >&2
	fi
	exit "$status"
}

# remove_cgroups: rmdir the leaves this run made (and the runtimes' own
# subdirs, deepest first), then the shared parent if nothing else uses it.
remove_cgroups() {
	local base left
	for base in /sys/fs/cgroup/*/"$CG_PARENT"; do
		[[ -d $base ]] || continue
		find "$base" -mindepth 1 -depth -type d -path "$base/b$$-*" \
			-exec rmdir {} + 2>/dev/null || true
		rmdir "$base" 2>/dev/null || true
	done
	left=$(find /sys/fs/cgroup/*/"$CG_PARENT" -mindepth 1 -maxdepth 1 -type d \
		-name "b$$-*" 2>/dev/null | head -3) || true
	if [[ -n $left ]]; then
		printf 'bench: cgroups left behind (busy?):\n%s\n' "$left" >&2
	fi
}

# ---------------------------------------------------------------- setup

find_runtimes() {
	local rt path
	for rt in "${ALL_RTS[@]}"; do
		if [[ $rt == berth ]]; then
			path=$BERTH_PATH
			if [[ ! -x $path ]]; then
				NOTES+=("berth is not built ($path missing): benchmarking crun and runc only")
				continue
			fi
		else
			path=$(command -v "$rt") || {
				NOTES+=("$rt not installed: skipped")
				continue
			}
		fi
		# nsenter chdirs to /, so every path we hand it must be absolute.
		RT_BIN[$rt]=$(readlink -f "$path")
		RT_ROOT[$rt]=$TMP/root-$rt
		RTS+=("$rt")
	done
	((${#RTS[@]} > 0)) || die "no runtime to benchmark"
}

# make_namespace: the private mount namespace without cgroup2 that crun needs
# here; unshare --mount=FILE wants FILE on a private mount, hence the bind.
make_namespace() {
	NSDIR=$TMP/ns
	mkdir "$NSDIR"
	mount --bind "$NSDIR" "$NSDIR"
	NS_BOUND=yes
	mount --make-private "$NSDIR"
	touch "$NSDIR/mnt"
	local drop=(true)
	if mountpoint -q /sys/fs/cgroup/unified; then
		drop=(umount /sys/fs/cgroup/unified)
	fi
	unshare --mount="$NSDIR/mnt" --propagation private "${drop[@]}"
	NS_MADE=yes
	NS=(nsenter "--mount=$NSDIR/mnt")
}

# make_bundle: one bundle for everything; only cgroupsPath changes per
# container, substituted into a template in memory (no fork per container).
make_bundle() {
	BUNDLE=$TMP/bundle
	# ociVersion 1.1.0: crun 1.8.1 rejects 1.2.x and the config needs nothing
	# newer.
	"$REPO_ROOT/contrib/mkbundle.sh" "$BUNDLE" --args /bin/true \
		--oci-version 1.1.0 --cgroups-path "$CGROUP_MARK" >/dev/null
	CONFIG_TMPL=$(<"$BUNDLE/config.json")
}

# set_cgroup LEAF: point the bundle at a fresh cgroup, so each container pays
# for creating its cgroups like a real one does.
set_cgroup() {
	printf '%s\n' "${CONFIG_TMPL//"$CGROUP_MARK"/"$CG_PREFIX-$1"}" >"$BUNDLE/config.json"
}

# ---------------------------------------------------------------- podman

# setup_podman: private podman storage and config (as tests/e2e/podman.sh,
# whose settings this machine needs), and the bundle's rootfs imported as an
# image. podman runs in the namespace too, so crun works under it; every
# runtime gets the same podman, conmon and storage.
setup_podman() {
	((PODMAN_RUNS > 0)) || return 0
	PODMAN=$(command -v podman) || {
		NOTES+=("podman not installed: no podman figures")
		return 0
	}
	PODMAN_DIR=$TMP/podman
	mkdir "$PODMAN_DIR"
	local d
	for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
		[[ -d $d ]] && PODMAN_PARENT_MADE=had
	done
	[[ $PODMAN_PARENT_MADE == had ]] || PODMAN_PARENT_MADE=yes
	cat >"$PODMAN_DIR/containers.conf" <<-X
		[containers]
		default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
		netns = "none"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
	X
	printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/storage"\n' \
		"$PODMAN_DIR" "$PODMAN_DIR" >"$PODMAN_DIR/storage.conf"
	export CONTAINERS_CONF=$PODMAN_DIR/containers.conf
	export CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf
	tar -C "$BUNDLE/rootfs" -cf "$PODMAN_DIR/rootfs.tar" .
	if ! "${NS[@]}" "$PODMAN" import "$PODMAN_DIR/rootfs.tar" "$PODMAN_IMG" >/dev/null 2>"$ERR"; then
		NOTES+=("podman import failed ($(head -c 200 "$ERR")): no podman figures")
		PODMAN=''
	fi
}

podman_cleanup() {
	[[ -n $PODMAN_DIR ]] || return 0
	if [[ -n $PODMAN ]]; then
		"${NS[@]}" "$PODMAN" rm -af -t 0 </dev/null >/dev/null 2>&1 || true
		"${NS[@]}" "$PODMAN" rmi -af </dev/null >/dev/null 2>&1 || true
	fi
	# Storage mounts live in the namespace; they go with it. The libpod_parent
	# cgroup podman made is ours to remove (never one that was there before).
	if [[ $PODMAN_PARENT_MADE == yes ]]; then
		local d
		for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
			[[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	fi
	return 0
}

# measure_podman RT I: one timed `podman --runtime RT run --rm IMG /bin/true`.
measure_podman() {
	local rt=$1 t0 t1 rc=0
	now_us t0
	"${NS[@]}" "$PODMAN" --runtime "${RT_BIN[$rt]}" run --rm "$PODMAN_IMG" /bin/true \
		</dev/null >/dev/null 2>"$ERR" || rc=$?
	now_us t1
	if ((rc != 0)); then
		local line
		line=$(grep -m1 -v '^[[:space:]]*$' "$ERR" || true)
		P_FAIL[$rt]="podman run exited $rc: ${line:-(no error output)}"
		P_FAIL[$rt]=${P_FAIL[$rt]:0:300}
		printf '\nbench: podman with %s failed: %s\n' "$rt" "${P_FAIL[$rt]}" >&2
		return
	fi
	S_PODMAN[$rt]+=" $((t1 - t0))"
}

# podman_active VAR R: like active, for the runtimes podman still drives.
podman_active() {
	local -n pout=$1
	local r=$2 rt n k
	local -a live=()
	for rt in "${RTS[@]}"; do
		[[ -z ${P_FAIL[$rt]:-} ]] && live+=("$rt")
	done
	pout=()
	n=${#live[@]}
	for ((k = 0; k < n; k++)); do
		pout+=("${live[(k + r) % n]}")
	done
}

# ---------------------------------------------------------------- containerd shims

ctr_() { timeout 60 ctr -a "$CT/containerd.sock" -n "$CT_NS" "$@"; }

# shim_args KEY: ctr run's runtime flags for that shim.
shim_args() {
	case $1 in
	berth) SHIM_ARGS=(--runtime io.containerd.berth.v2) ;;
	*) SHIM_ARGS=(--runtime io.containerd.runc.v2 --runc-binary "${RT_BIN[$1]}") ;;
	esac
}

# The shims of our containerd (their command line names its socket).
our_shims() {
	local p
	for p in /proc/[0-9]*; do
		grep -qsF -- "$CT/containerd.sock" "$p/cmdline" && grep -qs containerd-shim "$p/cmdline" &&
			echo "${p#/proc/}"
	done
	return 0
}

# setup_containerd: a private containerd (own root, state, sockets, config)
# started inside the namespace, so crun works as the runc shim's binary; the
# bundle's rootfs imported as an image.
setup_containerd() {
	((SHIM_RUNS > 0)) || return 0
	if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
		NOTES+=("containerd or ctr not installed: no shim figures")
		return 0
	fi
	CT=$TMP/ctrd
	mkdir -p "$CT/bin"
	if [[ -x $BERTH_SHIM_PATH ]]; then
		ln -s "$(readlink -f "$BERTH_SHIM_PATH")" "$CT/bin/containerd-shim-berth-v2"
		SHIMS+=(berth)
		SH_LABEL[berth]=berth.v2
	else
		NOTES+=("berth-shim is not built ($BERTH_SHIM_PATH missing): runc shim figures only")
	fi
	local rt
	for rt in runc crun; do
		[[ -n ${RT_BIN[$rt]:-} ]] || continue
		SHIMS+=("$rt")
		SH_LABEL[$rt]=runc.v2+$rt
	done
	cat >"$CT/config.toml" <<-X
		version = 2
		root = "$CT/root"
		state = "$CT/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CT/containerd.sock"
		[ttrpc]
		  address = "$CT/containerd.sock.ttrpc"
	X
	PATH="$CT/bin:$PATH" BERTH_SHIM_ROOT="$CT/shim" setsid "${NS[@]}" containerd --config "$CT/config.toml" \
		>"$CT/log" 2>&1 </dev/null &
	CT_PID=$!
	local k
	for ((k = 0; k < 300; k++)); do
		ctr_ version >/dev/null 2>&1 && break
		sleep 0.1
	done
	# shellcheck source=tests/e2e/lib.sh
	. "$REPO_ROOT/tests/e2e/lib.sh"
	if ! ctr_ version >/dev/null 2>&1 ||
		! make_docker_archive "$BUNDLE/rootfs" "$CT/image.tar" "$CT_IMG" ||
		! ctr_ image import "$CT/image.tar" >/dev/null 2>"$ERR"; then
		NOTES+=("containerd did not start or import ($(tail -c 200 "$ERR" "$CT/log" | tr '\n' ' ')): no shim figures")
		SHIMS=()
	fi
}

containerd_cleanup() {
	[[ -n $CT ]] || return 0
	local t pid
	if [[ -n $CT_PID ]] && kill -0 "$CT_PID" 2>/dev/null; then
		for t in $(ctr_ task ls -q 2>/dev/null); do ctr_ task delete -f "$t" >/dev/null 2>&1 || true; done
		for t in $(ctr_ container ls -q 2>/dev/null); do ctr_ container delete "$t" >/dev/null 2>&1 || true; done
		ctr_ image rm "$CT_IMG" >/dev/null 2>&1 || true
		kill -TERM "$CT_PID" 2>/dev/null || true
		for ((t = 0; t < 100; t++)); do kill -0 "$CT_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$CT_PID" 2>/dev/null || true
		wait "$CT_PID" 2>/dev/null || true
	fi
	for pid in $(our_shims); do kill -KILL "$pid" 2>/dev/null || true; done
	return 0
}

# measure_shim KEY I: one timed `ctr run --rm IMG ID /bin/true`.
measure_shim() {
	local s=$1 i=$2 id="b$$-$1-$2" t0 t1 rc=0
	shim_args "$s"
	now_us t0
	ctr_ run --rm "${SHIM_ARGS[@]}" --fifo-dir "$CT/fifo" --cgroup "$CG_PREFIX-shim-$s-$i" \
		"$CT_IMG" "$id" /bin/true </dev/null >/dev/null 2>"$ERR" || rc=$?
	now_us t1
	if ((rc != 0)); then
		local line
		line=$(grep -m1 -v '^[[:space:]]*$' "$ERR" || true)
		SH_FAIL[$s]="ctr run exited $rc: ${line:-(no error output)}"
		SH_FAIL[$s]=${SH_FAIL[$s]:0:300}
		printf '\nbench: %s failed: %s\n' "${SH_LABEL[$s]}" "${SH_FAIL[$s]}" >&2
		ctr_ task delete -f "$id" >/dev/null 2>&1 || true
		ctr_ container delete "$id" >/dev/null 2>&1 || true
		return
	fi
	S_SHIM[$s]+=" $((t1 - t0))"
}

# pss_kib PID: Pss of the process (smaps_rollup), in KiB.
pss_kib() {
	awk '$1 == "Pss:" { print $2; f = 1 } END { if (!f) print "-" }' "/proc/$1/smaps_rollup" 2>/dev/null
}

# measure_idle KEY: SHIM_IDLE containers left idle (sleep) through the shim
# at once; each one's shim (the parent of its init) gets its PSS read.
measure_idle() {
	local s=$1 k id pid ppid kib
	local -a ids=()
	shim_args "$s"
	for ((k = 1; k <= SHIM_IDLE; k++)); do
		id="b$$-$s-idle-$k"
		ctr_ run -d "${SHIM_ARGS[@]}" --fifo-dir "$CT/fifo" --cgroup "$CG_PREFIX-shim-$s-idle-$k" \
			"$CT_IMG" "$id" sleep 100000 </dev/null >/dev/null 2>"$ERR" && ids+=("$id")
	done
	local -a shim_pids=()
	for id in "${ids[@]}"; do
		pid=$(ctr_ task ls 2>/dev/null | awk -v id="$id" '$1 == id { print $2 }')
		ppid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null) && shim_pids+=("$ppid")
	done
	# Idle means no call either (`task ls` above wakes every shim): berth-shim
	# gives back what a burst of work left resident after 1 s without one;
	# the runc shim has no such step. Both get the same wait.
	sleep 2
	for ppid in "${shim_pids[@]}"; do
		kib=$(pss_kib "$ppid")
		[[ $kib == - ]] || S_PSS[$s]+=" $kib"
	done
	for id in "${ids[@]}"; do
		ctr_ task delete -f "$id" >/dev/null 2>&1 || true
		ctr_ container delete "$id" >/dev/null 2>&1 || true
	done
}

# measure_conmon_idle RT: the same for conmon under podman with that runtime.
measure_conmon_idle() {
	local rt=$1 k cid pid kib
	local -a cids=()
	for ((k = 1; k <= SHIM_IDLE; k++)); do
		cid=$("${NS[@]}" "$PODMAN" --runtime "${RT_BIN[$rt]}" run -d "$PODMAN_IMG" sleep 100000 \
			</dev/null 2>"$ERR") && cids+=("$cid")
	done
	sleep 2
	for cid in "${cids[@]}"; do
		pid=$("${NS[@]}" "$PODMAN" inspect -f '{{.State.ConmonPid}}' "$cid" 2>/dev/null) || continue
		kib=$(pss_kib "$pid")
		[[ $kib == - ]] || S_CPSS[$rt]+=" $kib"
	done
	for cid in "${cids[@]}"; do
		"${NS[@]}" "$PODMAN" rm -f -t 0 "$cid" </dev/null >/dev/null 2>&1 || true
	done
}

# run_shims: warm-up, then K rounds of `ctr run --rm` rotated like the rest,
# then the idle PSS per shim (and per conmon).
run_shims() {
	((${#SHIMS[@]} > 0)) || return 0
	local i k n s
	local -a live
	for s in "${SHIMS[@]}"; do measure_shim "$s" 0; done
	S_SHIM=()
	for ((i = 1; i <= SHIM_RUNS; i++)); do
		progress "shim round $i/$SHIM_RUNS"
		live=()
		for s in "${SHIMS[@]}"; do [[ -z ${SH_FAIL[$s]:-} ]] && live+=("$s"); done
		n=${#live[@]}
		for ((k = 0; k < n; k++)); do measure_shim "${live[(k + i) % n]}" "$i"; done
	done
	progress ''
	for s in "${SHIMS[@]}"; do [[ -z ${SH_FAIL[$s]:-} ]] && measure_idle "$s"; done
	if [[ -n $PODMAN ]]; then
		for s in "${RTS[@]}"; do [[ -z ${P_FAIL[$s]:-} ]] && measure_conmon_idle "$s"; done
	fi
	return 0
}

report_shims() {
	((${#SHIMS[@]} > 0)) || return 0
	local s a b fmt=' %-14s %8s %7s %9s %9s\n'
	declare -A run pss
	echo
	# shellcheck disable=SC2016 # backquotes are literal
	printf 'containerd %s: %d x `ctr run --rm IMG /bin/true` per shim; PSS per idle container (%d idle at once)\n' \
		"$(containerd --version 2>/dev/null | awk '{ print $3 }')" "$SHIM_RUNS" "$SHIM_IDLE"
	echo
	# shellcheck disable=SC2059 # the format is ours
	printf "$fmt" shim 'run ms' 'total s' 'samples' 'PSS KiB'
	for s in "${SHIMS[@]}"; do
		run[$s]=$(summarize median "${S_SHIM[$s]:-}")
		pss[$s]=$(summarize median "${S_PSS[$s]:-}")
		[[ ${pss[$s]} == - ]] || pss[$s]=$(awk -v v="${pss[$s]}" 'BEGIN { printf "%d\n", v * 1000 }')
		# shellcheck disable=SC2059
		printf "$fmt" "${SH_LABEL[$s]}" "${run[$s]}" "$(summarize total "${S_SHIM[$s]:-}")" \
			"$(summarize n "${S_SHIM[$s]:-}")" "${pss[$s]}"
	done
	for s in "${RTS[@]}"; do
		[[ -n ${S_CPSS[$s]:-} ]] || continue
		pss[conmon-$s]=$(awk -v v="$(summarize median "${S_CPSS[$s]}")" 'BEGIN { printf "%d\n", v * 1000 }')
		# shellcheck disable=SC2059
		printf "$fmt" "conmon ($s)" '' '' '' "${pss[conmon-$s]}"
	done
	echo
	echo ' run ms: median wall time of the whole ctr command (containerd, shim, runtime, overlay snapshot).'
	echo ' PSS: median Pss (smaps_rollup) of the shim (conmon: of conmon) per idle container.'
	echo
	printf ' %-26s %8s %8s\n' ratio 'run' 'PSS'
	for a in berth runc; do
		for b in runc crun; do
			[[ $a != "$b" && -n ${SH_LABEL[$a]:-} && -n ${SH_LABEL[$b]:-} ]] || continue
			[[ $a == runc && $b == runc ]] && continue
			if [[ -n ${SH_FAIL[$a]:-}${SH_FAIL[$b]:-} ]]; then
				printf ' %-26s %8s\n' "${SH_LABEL[$a]}/${SH_LABEL[$b]}" '- (failed)'
				continue
			fi
			printf ' %-26s %8s %8s\n' "${SH_LABEL[$a]}/${SH_LABEL[$b]}" "$(ratio "${run[$a]}" "${run[$b]}")" \
				"$(ratio "${pss[$a]}" "${pss[$b]}")"
		done
	done
	if [[ -n ${pss[berth]:-} && -n ${pss[conmon-berth]:-} ]]; then
		printf ' %-26s %8s %8s\n' "berth.v2/conmon (berth)" '' "$(ratio "${pss[berth]}" "${pss[conmon-berth]}")"
	fi
	for s in "${SHIMS[@]}"; do
		[[ -n ${SH_FAIL[$s]:-} ]] && printf ' FAILED %s: %s\n' "${SH_LABEL[$s]}" "${SH_FAIL[$s]}"
	done
	return 0
}

# ---------------------------------------------------------------- measuring

# rt_cmd RT ARGS...: run the runtime in the namespace with its state root.
# stdout goes away, stderr to $ERR for the failure report.
rt_cmd() {
	local rt=$1
	shift
	"${NS[@]}" "${RT_BIN[$rt]}" --root "${RT_ROOT[$rt]}" "$@" </dev/null >/dev/null 2>"$ERR"
}

# fail RT WHAT: drop RT from the rest of the run, keeping its first error line.
fail() {
	local rt=$1 what=$2 line='' first=''
	if [[ -s $ERR ]]; then
		while IFS= read -r line; do
			[[ -n ${line//[[:space:]]/} ]] && { first=$line; break; }
		done <"$ERR"
	fi
	RT_FAIL[$rt]="$what: ${first:-(no error output)}"
	RT_FAIL[$rt]=${RT_FAIL[$rt]:0:300}
	printf '\nbench: %s failed: %s\n' "$rt" "${RT_FAIL[$rt]}" >&2
}

# children_cpu_us VAR: user+sys CPU of all waited-for children so far, in
# microseconds at bash's millisecond resolution. `times` (getrusage) is read
# into a file, not $(...), because a subshell has its own child times.
CPU_FILE=''
children_cpu_us() {
	local -n out=$1
	local self children u s
	times >"$CPU_FILE"
	{ read -r self; read -r children; } <"$CPU_FILE"
	: "$self"
	# No $(...) here: a subshell's CPU would count in the next reading.
	to_us u "${children% *}"
	to_us s "${children#* }"
	out=$((u + s))
}

# to_us VAR 1m2.345s: VAR=62345000
# shellcheck disable=SC2034 # res is a nameref to the caller's VAR
to_us() {
	local -n res=$1
	local frac
	if [[ $2 =~ ^([0-9]+)m([0-9]+)\.([0-9]+)s$ ]]; then
		frac=${BASH_REMATCH[3]}000000
		res=$((BASH_REMATCH[1] * 60000000 + 10#${BASH_REMATCH[2]} * 1000000 + 10#${frac:0:6}))
	else
		res=0
	fi
}

now_us() {
	local -n out=$1
	local t=$EPOCHREALTIME
	out=$((10#${t/./}))
}

# remove_if_left RT ID: `run` normally deletes its container on exit; make
# sure, outside the timed section, so the next run starts clean.
remove_if_left() {
	if [[ -e ${RT_ROOT[$1]}/$2 ]]; then
		rt_cmd "$1" delete -f "$2" || true
	fi
}

# measure_run RT I: one timed `run` of /bin/true: wall and CPU.
measure_run() {
	local rt=$1 i=$2 id="$1-run-$2" c0 c1 t0 t1 rc=0
	set_cgroup "$id"
	children_cpu_us c0
	now_us t0
	rt_cmd "$rt" run --bundle "$BUNDLE" "$id" || rc=$?
	now_us t1
	children_cpu_us c1
	if ((rc != 0)); then
		fail "$rt" "run exited $rc"
		remove_if_left "$rt" "$id"
		return
	fi
	S_RUN[$rt]+=" $((t1 - t0))"
	S_CPU[$rt]+=" $((c1 - c0))"
	remove_if_left "$rt" "$id"
}

# wait_stopped RT ID: poll `state` (untimed) until the container stopped.
wait_stopped() {
	local rt=$1 id=$2 k out
	for ((k = 0; k < STOP_TIMEOUT_POLLS; k++)); do
		out=$("${NS[@]}" "${RT_BIN[$rt]}" --root "${RT_ROOT[$rt]}" state "$id" 2>"$ERR") || return 1
		[[ $out =~ \"status\"[[:space:]]*:[[:space:]]*\"stopped\" ]] && return 0
		sleep 0.01
	done
	echo "still not stopped after $((STOP_TIMEOUT_POLLS / 100)) s" >"$ERR"
	return 1
}

# measure_phases RT I: create, start and delete timed one by one.
measure_phases() {
	local rt=$1 i=$2 id="$1-csd-$2" t0 t1 t2 t3 t4 t5 rc=0
	set_cgroup "$id"
	now_us t0
	rt_cmd "$rt" create --bundle "$BUNDLE" "$id" || rc=$?
	now_us t1
	if ((rc != 0)); then fail "$rt" "create exited $rc"; remove_if_left "$rt" "$id"; return; fi
	now_us t2
	rt_cmd "$rt" start "$id" || rc=$?
	now_us t3
	if ((rc != 0)); then fail "$rt" "start exited $rc"; remove_if_left "$rt" "$id"; return; fi
	if ! wait_stopped "$rt" "$id"; then fail "$rt" "state"; remove_if_left "$rt" "$id"; return; fi
	now_us t4
	rt_cmd "$rt" delete "$id" || rc=$?
	now_us t5
	if ((rc != 0)); then fail "$rt" "delete exited $rc"; remove_if_left "$rt" "$id"; return; fi
	S_CREATE[$rt]+=" $((t1 - t0))"
	S_START[$rt]+=" $((t3 - t2))"
	S_DELETE[$rt]+=" $((t5 - t4))"
}

# measure_floor: fork + nsenter + exec of a trivial binary, the harness's own
# share of every runtime's wall time.
measure_floor() {
	local t0 t1
	now_us t0
	"${NS[@]}" /bin/true
	now_us t1
	S_FLOOR+=" $((t1 - t0))"
}

# RSS: GNU time runs inside the namespace (after nsenter's exec), so it
# reports the runtime and its children only, not nsenter. Kept out of the
# timed runs because GNU time adds a fork and an exec to each.
RSS_TOOL=()
pick_rss_tool() {
	if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
		RSS_TOOL=(/usr/bin/time -f %M -o "$TMP/rss")
	elif command -v python3 >/dev/null; then
		local py
		py=$(command -v python3)
		# ru_maxrss of RUSAGE_CHILDREN is KiB on Linux, like GNU time's %M.
		RSS_TOOL=("$py" -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$TMP/rss")
	fi
}

measure_rss() {
	local rt=$1 i=$2 id="$1-rss-$2" kib rc=0
	((${#RSS_TOOL[@]} > 0)) || return 0
	set_cgroup "$id"
	rm -f "$TMP/rss"
	"${NS[@]}" "${RSS_TOOL[@]}" "${RT_BIN[$rt]}" --root "${RT_ROOT[$rt]}" \
		run --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>"$ERR" || rc=$?
	if ((rc != 0)); then
		fail "$rt" "run (for RSS) exited $rc"
	elif [[ -s $TMP/rss ]]; then
		read -r kib <"$TMP/rss"
		S_RSS[$rt]+=" $kib"
	fi
	remove_if_left "$rt" "$id"
}

# active: the runtimes still standing, rotated by $1 so that no runtime
# always goes first (right after the shell's own work) or last.
active() {
	local -n out=$1
	local r=$2 rt n k
	local -a live=()
	for rt in "${RTS[@]}"; do
		[[ -z ${RT_FAIL[$rt]:-} ]] && live+=("$rt")
	done
	out=()
	n=${#live[@]}
	for ((k = 0; k < n; k++)); do
		out+=("${live[(k + r) % n]}")
	done
}

progress() {
	# \e[K clears what a longer previous line left behind.
	[[ -t 2 ]] && printf '\r%s\e[K' "$*" >&2
	return 0
}

run_rounds() {
	local i rt rss_runs
	local -a order
	# Warm the page cache and each runtime's first-exec costs; a runtime
	# that can't run at all fails here with its own message.
	active order 0
	for rt in "${order[@]}"; do
		measure_run "$rt" 0
	done
	S_RUN=() S_CPU=()
	if [[ -n $PODMAN ]]; then
		podman_active order 0
		for rt in "${order[@]}"; do measure_podman "$rt"; done
		S_PODMAN=()
	fi
	rss_runs=$((RUNS < 10 ? RUNS : 10))
	local rounds=$((RUNS > PODMAN_RUNS ? RUNS : PODMAN_RUNS))
	for ((i = 1; i <= rounds; i++)); do
		progress "round $i/$rounds"
		if [[ -n $PODMAN ]] && ((i <= PODMAN_RUNS)); then
			podman_active order "$i"
			for rt in "${order[@]}"; do measure_podman "$rt"; done
		fi
		((i <= RUNS)) || continue
		active order "$i"
		measure_floor
		for rt in "${order[@]}"; do measure_run "$rt" "$i"; done
		if ((i % 2 == 0)); then
			active order "$((i / 2))"
			for rt in "${order[@]}"; do measure_phases "$rt" "$i"; done
		fi
		if ((i <= rss_runs)); then
			active order "$((i + 1))"
			for rt in "${order[@]}"; do measure_rss "$rt" "$i"; done
		fi
	done
	progress ''
	return 0
}

# ---------------------------------------------------------------- report

# summarize OP SAMPLES: median or mean (ms), total (s), max (MiB from KiB) or
# count of the samples; '-' if there are none.
summarize() {
	local op=$1
	shift
	# shellcheck disable=SC2048,SC2086 # samples are space-separated numbers
	printf '%s\n' $* | sort -n | awk -v op="$op" '
		NF { a[++n] = $1; s += $1 }
		END {
			if (n == 0) { print "-"; exit }
			if (op == "median") printf "%.2f\n", (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) / 1000
			else if (op == "mean") printf "%.2f\n", s / n / 1000
			else if (op == "total") printf "%.2f\n", s / 1e6
			else if (op == "maxmib") printf "%.1f\n", a[n] / 1024
			else if (op == "n") print n
		}'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

report() {
	local rt fmt=' %-8s %8s %7s %10s %10s %10s %10s %10s %9s\n'
	declare -A run cpu rss
	echo
	printf 'berth bench: %d runs of /bin/true per runtime, %d create/start/delete cycles, busybox bundle with netns\n' \
		"$RUNS" "$((RUNS / 2))"
	((${#NOTES[@]} == 0)) || printf '%s\n' "${NOTES[@]/#/note: }"
	echo
	# shellcheck disable=SC2059 # the format is ours
	printf "$fmt" runtime 'run ms' 'total s' 'create ms' 'start ms' 'delete ms' 'CPU ms' 'RSS MiB' 'samples'
	for rt in "${RTS[@]}"; do
		run[$rt]=$(summarize median "${S_RUN[$rt]:-}")
		# Mean, not median: `times` counts whole milliseconds, and a median of
		# whole numbers hides differences smaller than 1 ms.
		cpu[$rt]=$(summarize mean "${S_CPU[$rt]:-}")
		rss[$rt]=$(summarize maxmib "${S_RSS[$rt]:-}")
		# shellcheck disable=SC2059
		printf "$fmt" "$rt" "${run[$rt]}" "$(summarize total "${S_RUN[$rt]:-}")" \
			"$(summarize median "${S_CREATE[$rt]:-}")" "$(summarize median "${S_START[$rt]:-}")" \
			"$(summarize median "${S_DELETE[$rt]:-}")" "${cpu[$rt]}" "${rss[$rt]}" \
			"$(summarize n "${S_RUN[$rt]:-}")"
	done
	# shellcheck disable=SC2059
	printf "$fmt" '(floor)' "$(summarize median "$S_FLOOR")" "$(summarize total "$S_FLOOR")" '' '' '' '' '' \
		"$(summarize n "$S_FLOOR")"
	echo
	echo ' run ms, create/start/delete ms: medians of wall time. total s: sum of the timed runs.'
	echo ' CPU ms: mean user+sys per run of the runtime and its children (the container included).'
	echo ' RSS: max over runs under GNU time. (floor): fork + nsenter + exec /bin/true, included in every ms figure.'

	local pairs=() p a b
	[[ -n ${RT_BIN[berth]:-} ]] && pairs+=(berth/crun berth/runc)
	pairs+=(runc/crun)
	echo
	printf ' %-11s %8s %8s %8s\n' ratio 'run' 'CPU' 'RSS'
	for p in "${pairs[@]}"; do
		a=${p%/*} b=${p#*/}
		[[ -n ${RT_BIN[$a]:-} && -n ${RT_BIN[$b]:-} ]] || continue
		# Partial samples of a runtime that died would make a misleading ratio.
		if [[ -n ${RT_FAIL[$a]:-}${RT_FAIL[$b]:-} ]]; then
			printf ' %-11s %8s\n' "$p" '- (failed)'
			continue
		fi
		printf ' %-11s %8s %8s %8s\n' "$p" "$(ratio "${run[$a]}" "${run[$b]}")" \
			"$(ratio "${cpu[$a]}" "${cpu[$b]}")" "$(ratio "${rss[$a]}" "${rss[$b]}")"
	done

	local failed=no
	for rt in "${RTS[@]}"; do
		if [[ -n ${RT_FAIL[$rt]:-} ]]; then
			[[ $failed == yes ]] || echo
			failed=yes
			printf ' FAILED %s: %s\n' "$rt" "${RT_FAIL[$rt]}"
		fi
	done
	[[ -n $PODMAN ]] && report_podman
	report_shims
	return 0
}

report_podman() {
	local rt p a b pfmt=' %-8s %8s %7s %9s\n'
	declare -A prun
	echo
	# shellcheck disable=SC2016 # backquotes are literal
	printf 'podman %s (conmon, overlay storage, netns none): %d x `podman --runtime RT run --rm IMG /bin/true` per runtime\n' \
		"$("$PODMAN" --version 2>/dev/null | awk '{ print $NF }')" "$PODMAN_RUNS"
	echo
	# shellcheck disable=SC2059 # the format is ours
	printf "$pfmt" runtime 'run ms' 'total s' 'samples'
	for rt in "${RTS[@]}"; do
		prun[$rt]=$(summarize median "${S_PODMAN[$rt]:-}")
		# shellcheck disable=SC2059
		printf "$pfmt" "$rt" "${prun[$rt]}" "$(summarize total "${S_PODMAN[$rt]:-}")" \
			"$(summarize n "${S_PODMAN[$rt]:-}")"
	done
	echo
	echo ' run ms: median wall time of the whole podman command (podman and conmon included).'
	local pairs=()
	[[ -n ${RT_BIN[berth]:-} ]] && pairs+=(berth/crun berth/runc)
	pairs+=(runc/crun)
	echo
	printf ' %-11s %8s\n' ratio 'podman'
	for p in "${pairs[@]}"; do
		a=${p%/*} b=${p#*/}
		[[ -n ${RT_BIN[$a]:-} && -n ${RT_BIN[$b]:-} ]] || continue
		if [[ -n ${P_FAIL[$a]:-}${P_FAIL[$b]:-} ]]; then
			printf ' %-11s %8s\n' "$p" '- (failed)'
			continue
		fi
		printf ' %-11s %8s\n' "$p" "$(ratio "${prun[$a]}" "${prun[$b]}")"
	done
	local first=yes
	for rt in "${RTS[@]}"; do
		if [[ -n ${P_FAIL[$rt]:-} ]]; then
			[[ $first == no ]] || echo
			first=no
			printf ' FAILED podman with %s: %s\n' "$rt" "${P_FAIL[$rt]}"
		fi
	done
}

main() {
	parse_args "$@"
	((EUID == 0)) || die "needs root (namespaces, cgroups)"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	TMP=$(mktemp -d /tmp/berth-bench.XXXXXX)
	ERR=$TMP/err
	CPU_FILE=$TMP/times
	# The CRI figures first, alone on the machine (their containerd is
	# gone before the rest starts); printed last.
	if ((CRI_RUNS > 0)); then
		progress 'through containerd CRI'
		"$SCRIPT_DIR/cri-bench.sh" --rounds "$CRI_RUNS" --berth "$BERTH_PATH" --berth-shim "$BERTH_SHIM_PATH" \
			>"$TMP/cri" 2>&1 </dev/null || printf 'cri-bench.sh failed (exit %d)\n' $? >>"$TMP/cri"
		progress ''
	fi
	if ((PULL_RUNS > 0)); then
		progress 'image pulls'
		"$SCRIPT_DIR/pull-bench.sh" --runs "$PULL_RUNS" >"$TMP/pull" 2>&1 </dev/null ||
			printf 'pull-bench.sh failed (exit %d)\n' $? >>"$TMP/pull"
		progress ''
	fi
	find_runtimes
	make_namespace
	make_bundle
	pick_rss_tool
	setup_podman
	setup_containerd
	((${#RSS_TOOL[@]} > 0)) || NOTES+=("neither GNU time nor python3: no RSS")
	run_rounds
	run_shims
	report
	if [[ -s $TMP/cri ]]; then
		echo
		cat "$TMP/cri"
	fi
	if [[ -s $TMP/pull ]]; then
		echo
		cat "$TMP/pull"
	fi
}

main "$@"
