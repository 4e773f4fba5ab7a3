# shellcheck shell=bash
# Shared by the e2e scripts (sourced, not run): TAP output, waiting, and a
# busybox image built locally (no registry, no network).

# TAP. plan N first; then one check per case. The script exits
# with $failed.
# shellcheck disable=SC2034 # read by the scripts that source this
n=0 failed=0
plan() { echo "1..$1"; }
check() {   # check NAME STATUS DETAIL: ok when STATUS is 0
    n=$((n + 1))
    if [ "$2" = 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        failed=1
        printf '%s\n' "$3" | head -20 | sed 's/^/#   /'
    fi
}

skip_check() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }   # skip_check NAME REASON

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.1
    done
}

# cgroup_dir PID CONTROLLER: the host path of PID's cgroup in CONTROLLER's
# v1 hierarchy, or its v2 cgroup when there is no such v1 hierarchy.
cgroup_dir() {
    local line
    [ -n "$1" ] && [ -r "/proc/$1/cgroup" ] || return 1
    line=$(grep -E "^[0-9]+:([^:]*,)?$2(,[^:]*)?:" "/proc/$1/cgroup")
    if [ -n "$line" ]; then
        echo "/sys/fs/cgroup/$2${line#*:*:}"
    else
        line=$(grep '^0::' "/proc/$1/cgroup")
        echo "/sys/fs/cgroup${line#0::}"
    fi
}

# freezer_state PID: FROZEN or THAWED from PID's freezer cgroup (v1
# freezer.state, or v2 cgroup.freeze), ? when unreadable.
freezer_state() {
    local d v
    d=$(cgroup_dir "$1" freezer) || { echo "?"; return; }
    if [ -r "$d/freezer.state" ]; then
        cat "$d/freezer.state"
    elif v=$(cat "$d/cgroup.freeze" 2>/dev/null); then
        [ "$v" = 1 ] && echo FROZEN || echo THAWED
    else
        echo "?"
    fi
}

# make_rootfs DIR: a busybox-static rootfs in DIR/rootfs (contrib/mkbundle.sh).
make_rootfs() {
    "$BERTH_SRC/contrib/mkbundle.sh" "$1" >/dev/null
}

# make_docker_archive ROOTFS OUT NAME:TAG [CMD_JSON]: a one-layer image in
# the format `docker save` writes (manifest.json, config, layer tar).
# `docker load` and `ctr image import` both read it. Cmd is CMD_JSON
# (default ["sh"]).
make_docker_archive() {
    local rootfs=$1 out=$2 ref=$3 cmd=${4:-'["sh"]'} d diff cfg
    d=$(mktemp -d "$out.XXXXXX") || return 1
    tar --numeric-owner -C "$rootfs" -cf "$d/layer.tar" . || return 1
    diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    mkdir "$d/$diff" && mv "$d/layer.tar" "$d/$diff/layer.tar" || return 1
    printf '{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"berth e2e"}]}' \
        "$cmd" "$diff" > "$d/config.json"
    cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
    mv "$d/config.json" "$d/$cfg.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$ref" "$diff" > "$d/manifest.json"
    tar -C "$d" -cf "$out" manifest.json "$cfg.json" "$diff" && rm -rf "$d"
}

# umount_under DIR: lazily unmount whatever is mounted under DIR, deepest first.
umount_under() {
    grep -o " $1/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
}

# alive PID: PID runs (a zombie does not count).
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${st#Z}" = "$st" ]
}

# kill_pid PID [SECONDS]: TERM, then KILL if still alive after SECONDS (10),
# then reap it when it is our child.
kill_pid() {
    local pid=$1 t=${2:-10}
    [ -n "$pid" ] || return 0
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        wait_for "$t" eval "! alive $pid" || kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# note_new PATH...: paths a client makes on the host whatever its config
# says (containerd's shim socket dir, podman's image cache); those missing
# now are removed by remove_new at cleanup, deepest first, so a run leaves
# nothing behind. A dir is removed only when empty (another user may share
# it since).
NEW_PATHS=()
note_new() {
    local p
    for p in "$@"; do [ -e "$p" ] || NEW_PATHS+=("$p"); done
}
remove_new() {
    local i p
    for ((i = ${#NEW_PATHS[@]} - 1; i >= 0; i--)); do
        p=${NEW_PATHS[i]}
        if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir "$p" 2>/dev/null; else rm -f "$p"; fi
    done
}

# on_exit FUNC: run FUNC once on exit, Ctrl-C and TERM included, and let no
# second signal cut it short.
on_exit() {
    # shellcheck disable=SC2064 # FUNC is expanded now, on purpose
    trap "trap '' INT TERM; $1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
