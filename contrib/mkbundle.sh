#!/usr/bin/env bash
# mkbundle.sh: make an OCI bundle from busybox-static for trying and testing
# berth (and its peers runc and crun).
#
#   contrib/mkbundle.sh DIR [--cgroups-path PATH] [--no-netns]
#                           [--args 'cmd args...'] [--terminal]
#                           [--oci-version V]
#
# DIR/rootfs   busybox with a symlink per applet, the usual empty mount
#              points, etc/passwd and etc/group (root, nobody 65534).
#              Reused as is when it already exists, so calling this again
#              only rewrites config.json.
# DIR/config.json
#              an OCI runtime spec 1.2 config shaped like `runc spec`'s
#              default, with terminal false and hostname "berth".
#
# --args is split like a shell command line (quotes and backslashes, as
# xargs reads them); a value starting with '[' is taken as a ready JSON array.
# The default is: sh -c 'hostname; head -5 /proc/1/status'
#
# --oci-version sets ociVersion (default 1.2.0). crun 1.8.1 rejects 1.2.x
# ("unknown version specified") but takes 1.0.x and 1.1.x; nothing in this
# config needs 1.2, so peers can be given 1.1.0.
#
# No jq or python needed: the JSON comes from a here-doc.
set -euo pipefail

readonly DEFAULT_ARGS="sh -c 'hostname; head -5 /proc/1/status'"

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit "${1:-0}"
}

die() {
	printf 'mkbundle: %s\n' "$*" >&2
	exit 1
}

# json_str S: print S as a JSON string literal.
json_str() {
	local s=$1 c i hex esc
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	# Any other control character would make invalid JSON; escape it as \u00XX.
	for ((i = 1; i < 32; i++)); do
		printf -v hex '%02x' "$i"
		printf -v c %b "\\x$hex"
		if [[ $s == *"$c"* ]]; then
			printf -v esc '\\u%04x' "$i"
			s=${s//"$c"/$esc}
		fi
	done
	printf '"%s"' "$s"
}

# args_json STRING: print the JSON array for --args.
args_json() {
	local spec=$1 out='' w
	local -a words=()
	if [[ $spec == '['* ]]; then
		printf '%s' "$spec"
		return
	fi
	# xargs does the quote handling, so no eval of user text. Its status is
	# checked through the process substitution's pid (bash >= 5.1).
	mapfile -d '' -t words < <(printf '%s\n' "$spec" | xargs -r printf '%s\0')
	wait "$!" || die "--args: cannot split: $spec"
	((${#words[@]} > 0)) || die "--args: empty command"
	for w in "${words[@]}"; do
		out+="${out:+, }$(json_str "$w")"
	done
	printf '[%s]' "$out"
}

# make_rootfs ROOTFS: build the busybox rootfs in a temp dir next to it and
# rename it into place, so an interrupted run never leaves a half rootfs that
# a later run would reuse.
make_rootfs() {
	local rootfs=$1 bb tmp
	bb=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
	bb=$(readlink -f "$bb")
	# A dynamic busybox would need its libraries inside the rootfs.
	if ldd "$bb" >/dev/null 2>&1; then
		die "$bb is dynamically linked; install busybox-static"
	fi
	tmp=$(mktemp -d "$rootfs.tmp.XXXXXX")
	# shellcheck disable=SC2064 # expand $tmp now: it is local
	trap "rm -rf '$tmp'" EXIT
	mkdir -p "$tmp"/{bin,proc,sys,dev,tmp,etc,root}
	chmod 1777 "$tmp/tmp"
	chmod 700 "$tmp/root"
	cp "$bb" "$tmp/bin/busybox"
	# One exec installs every applet of `busybox --list` as a symlink to
	# /bin/busybox (as seen inside the container); a loop of ln would fork
	# ~270 times.
	chroot "$tmp" /bin/busybox --install -s /bin
	local applet
	while IFS= read -r applet; do
		[[ -e $tmp/bin/$applet || -L $tmp/bin/$applet ]] || ln -s busybox "$tmp/bin/$applet"
	done < <("$tmp/bin/busybox" --list)
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$tmp/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$tmp/etc/group"
	chmod 755 "$tmp"
	mv -T "$tmp" "$rootfs"
	trap - EXIT
}

# write_config FILE ARGS_JSON TERMINAL NETNS CGPATH VERSION: the config.json
# that `runc spec` would write, with our hostname, args and cgroupsPath.
write_config() {
	local file=$1 args=$2 terminal=$3 netns=$4 cgpath=$5 version=$6 tmp
	local netns_line='' cg_line=''
	if [[ $netns == yes ]]; then
		netns_line='
			{ "type": "network" },'
	fi
	if [[ -n $cgpath ]]; then
		cg_line="
		\"cgroupsPath\": $(json_str "$cgpath"),"
	fi
	tmp=$file.tmp.$$
	cat >"$tmp" <<EOF
{
	"ociVersion": $(json_str "$version"),
	"process": {
		"terminal": $terminal,
		"user": { "uid": 0, "gid": 0 },
		"args": $args,
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
		},
		"rlimits": [
			{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "berth",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [ "nosuid", "noexec", "nodev" ]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [ "nosuid", "noexec", "nodev", "ro" ]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [ "nosuid", "noexec", "nodev", "relatime", "ro" ]
		}
	],
	"linux": {${cg_line}
		"resources": {
			"devices": [
				{ "allow": false, "access": "rwm" }
			]
		},
		"namespaces": [
			{ "type": "pid" },${netns_line}
			{ "type": "ipc" },
			{ "type": "uts" },
			{ "type": "mount" }
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
EOF
	mv -f "$tmp" "$file"
}

main() {
	local dir='' cgpath='' netns=yes terminal=false args_spec=$DEFAULT_ARGS version=1.2.0
	while (($# > 0)); do
		case $1 in
		--cgroups-path) (($# >= 2)) || die "$1 needs a value"; cgpath=$2; shift ;;
		--cgroups-path=*) cgpath=${1#*=} ;;
		--args) (($# >= 2)) || die "$1 needs a value"; args_spec=$2; shift ;;
		--args=*) args_spec=${1#*=} ;;
		--oci-version) (($# >= 2)) || die "$1 needs a value"; version=$2; shift ;;
		--oci-version=*) version=${1#*=} ;;
		--no-netns) netns=no ;;
		--terminal) terminal=true ;;
		-h | --help) usage 0 ;;
		-*) die "unknown option $1 (see --help)" ;;
		*) [[ -z $dir ]] || die "more than one DIR given"; dir=$1 ;;
		esac
		shift
	done
	[[ -n $dir ]] || usage 1 >&2

	local args
	args=$(args_json "$args_spec")
	mkdir -p "$dir"
	if [[ ! -x $dir/rootfs/bin/busybox ]]; then
		[[ ! -e $dir/rootfs ]] || die "$dir/rootfs exists but has no bin/busybox; remove it first"
		make_rootfs "$dir/rootfs"
	fi
	write_config "$dir/config.json" "$args" "$terminal" "$netns" "$cgpath" "$version"
}

main "$@"
