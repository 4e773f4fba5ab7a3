#!/usr/bin/env bash
# e2e: berth-shim as containerd's shim v2 (runtime io.containerd.berth.v2),
# driven by ctr against a private containerd (Debian's 1.6). TAP output.
#
# containerd finds the shim as containerd-shim-berth-v2 on its PATH: a
# symlink in a temp dir prepended to the daemon's PATH. The daemon gets its
# own root, state, sockets and config; the shim its own root
# (BERTH_SHIM_ROOT, inherited from the daemon); the containers their own
# ctr namespace and cgroups (/berth-e2e-shim-PID/ID). On exit, failures
# included: tasks and containers are deleted, then the daemon and any shim
# of ours (by PID), mounts under the temp dir, the cgroups, the temp dir.
set -u
BERTH_SHIM=${BERTH_SHIM:?BERTH_SHIM must name the berth-shim binary}
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v containerd >/dev/null || { echo "1..0 # SKIP containerd is not installed"; exit 0; }
command -v ctr >/dev/null || { echo "1..0 # SKIP ctr is not installed"; exit 0; }
command -v busybox >/dev/null || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
[ -x "$BERTH_SHIM" ] || { echo "1..0 # SKIP $BERTH_SHIM is not built"; exit 0; }
BERTH_SHIM=$(readlink -f "$BERTH_SHIM")

W=$(mktemp -d /tmp/berth-e2e-shim.XXXXXX)
# ctr task exec makes its fifos in /run/containerd/fifo.
note_new /run/containerd /run/containerd/fifo
CG=berth-e2e-shim-$$
NS=berth-e2e
IMG=localhost/berth-e2e:latest
RT=io.containerd.berth.v2
DPID='' EPID=''
mkdir -p "$W/bin"
ln -s "$BERTH_SHIM" "$W/bin/containerd-shim-berth-v2"
cat > "$W/config.toml" <<X
version = 2
root = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/containerd.sock"
[ttrpc]
  address = "$W/containerd.sock.ttrpc"
[debug]
  address = "$W/debug.sock"
  level = "debug"
X

c() { timeout 60 ctr -a "$W/containerd.sock" -n "$NS" "$@"; }
c_run() {   # c_run ID ARGS...: ctr run with our runtime, fifo dir and cgroup
    local id=$1; shift
    c run --runtime "$RT" --fifo-dir "$W/fifo" --cgroup "/$CG/$id" "$@"
}
task_status() { c task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
# The shims of ours: their command line names our socket.
shim_pids() {
    local p
    for p in /proc/[0-9]*; do
        grep -qsF -- "$W/containerd.sock" "$p/cmdline" && grep -qs containerd-shim-berth-v2 "$p/cmdline" && echo "${p#/proc/}"
    done
}

cleanup() {
    local t pid d
    kill_pid "$EPID"
    if [ -n "$DPID" ] && alive "$DPID"; then
        for t in $(c task ls -q 2>/dev/null); do
            c task kill -s KILL "$t" >/dev/null 2>&1
            wait_for 5 eval '[ "$(task_status "$t")" = STOPPED ]'
            c task delete -f "$t" >/dev/null 2>&1
        done
        for t in $(c container ls -q 2>/dev/null); do c container delete "$t" >/dev/null 2>&1; done
        c image rm "$IMG" >/dev/null 2>&1
    fi
    kill_pid "$DPID"
    for pid in $(shim_pids); do [ "$pid" != "$$" ] && kill -KILL "$pid" 2>/dev/null; done
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do kill -KILL "$pid" 2>/dev/null; done
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    [ -n "${KEEP_LOG:-}" ] && cp "$W/containerd.log" "$KEEP_LOG"
    rm -rf "$W"
    remove_new
}
on_exit cleanup

start_containerd() {   # the same root, state and config each time
    PATH="$W/bin:$PATH" BERTH_SHIM_ROOT="$W/shim" setsid containerd --config "$W/config.toml" >>"$W/containerd.log" 2>&1 </dev/null &
    DPID=$!
    wait_for 30 c version >/dev/null 2>&1
}

plan 51
start_containerd
check "a private containerd starts" $? "$(tail -5 "$W/containerd.log")"

make_rootfs "$W/bundle" && make_docker_archive "$W/bundle/rootfs" "$W/image.tar" "$IMG" &&
    out=$(c image import "$W/image.tar" 2>&1) && c image ls -q | grep -qx "$IMG"
check "image imported" $? "${out:-}"

# --- run in the foreground, through berth-shim
out=$(c_run t-fg --rm "$IMG" t-fg sh -c 'echo hello from berth-shim; echo to stderr >&2; exit 7' 2>&1); rc=$?
echo "$out" | grep -q '^hello from berth-shim' && echo "$out" | grep -q '^to stderr'
check "run --rm prints the container's stdout and stderr" $? "$out
$(grep -i 'berth\|shim' "$W/containerd.log" | tail -5)"
[ "$rc" = 7 ]; check "run --rm: the exit status comes back through ctr" $? "got $rc; $out"
! c container ls -q | grep -qx t-fg && wait_for 10 eval '[ -z "$(shim_pids)" ]'
check "run --rm removes the container and its shim exits" $? "$(c container ls 2>&1); shims: $(shim_pids)"

out=$(echo piped-in | c_run t-in --rm "$IMG" t-in sh -c 'read x; echo "got $x"' 2>&1)
[ "$out" = "got piped-in" ]; check "run --rm: stdin reaches the container, and its EOF" $? "$out"

out=$(timeout 60 script -qefc "ctr -a $W/containerd.sock -n $NS run --runtime $RT --fifo-dir $W/fifo --cgroup /$CG/t-tty --rm -t $IMG t-tty sh -c 'tty; exit 4'" /dev/null </dev/null 2>&1); rc=$?
echo "$out" | grep -q '/dev/pts/[0-9]' && [ "$rc" = 4 ]; check "run -t: a terminal through the console socket" $? "rc=$rc; $out"

# containerd's SystemdCgroup (runc options, systemd_cgroup): the container
# gets a systemd scope; where systemd is not PID 1, a clear error, and the
# slice:prefix:name path is never taken for a cgroupfs path.
SD=berthe2e$$
if [ -d /run/systemd/system ]; then
    out=$(c run --runtime "$RT" --fifo-dir "$W/fifo" --runc-systemd-cgroup --cgroup "$SD.slice:berth:t-sd" --rm "$IMG" t-sd cat /proc/self/cgroup 2>&1)
    [[ $out == *"/$SD.slice/berth-t-sd.scope"* ]]
    check "runc option SystemdCgroup: the container runs in a systemd scope" $? "$out"
    systemctl stop "$SD.slice" 2>/dev/null
else
    out=$(c run --runtime "$RT" --fifo-dir "$W/fifo" --runc-systemd-cgroup --cgroup "$SD.slice:berth:t-sd" --rm "$IMG" t-sd true 2>&1); rc=$?
    c container rm t-sd >/dev/null 2>&1
    [ $rc != 0 ] && [[ $out == *systemd* ]] && [ -z "$(ls -d /sys/fs/cgroup/*/"$SD"* /sys/fs/cgroup/"$SD"* 2>/dev/null)" ]
    check "runc option SystemdCgroup without systemd: a clear error, no cgroup made" $? "rc=$rc $out"
fi

# --- log URIs (ctr --log-uri), as containerd's runc shim takes them: a
# file gets both streams; a binary:// logger gets them as fds 3 and 4, its
# query as arguments and the container's id and namespace in its env, and
# says it is ready by closing fd 5.
out=$(c_run t-file --rm --log-uri "file://$W/t-file.log" "$IMG" t-file sh -c 'echo to-file; echo err-file >&2' 2>&1)
wait_for 5 eval 'grep -qx to-file "$W/t-file.log" && grep -qx err-file "$W/t-file.log"'
check "log uri file://: stdout and stderr go to the file" $? "$out; $(cat "$W/t-file.log" 2>&1)"
cat > "$W/logger.sh" <<'X'
#!/bin/sh
# --dir DIR: what the container writes, and who it is.
[ "$1" = --dir ] || exit 2
mkdir -p "$2" || exit 2
echo "$CONTAINER_ID $CONTAINER_NAMESPACE" >"$2/env"
exec 6<&3 7<&4 3<&- 4<&-
exec 5>&-   # ready (before the copies, which would hold fd 5 open)
cat <&6 >"$2/out" &
cat <&7 >"$2/err" &
wait
X
chmod +x "$W/logger.sh"
out=$(c_run t-bin --rm --log-uri "binary://$W/logger.sh?--dir=$W/blog" "$IMG" t-bin sh -c 'echo via-logger; echo err-logger >&2' 2>&1)
wait_for 5 eval 'grep -qx via-logger "$W/blog/out" 2>/dev/null && grep -qx err-logger "$W/blog/err" 2>/dev/null'
check "log uri binary://: the logger gets stdout on fd 3, stderr on fd 4" $? "$out; out: $(cat "$W/blog/out" 2>&1); err: $(cat "$W/blog/err" 2>&1)"
[ "$(cat "$W/blog/env" 2>/dev/null)" = "t-bin $NS" ]
check "log uri binary://: CONTAINER_ID and CONTAINER_NAMESPACE in its env" $? "$(cat "$W/blog/env" 2>&1)"
out=$(c_run t-badlog --rm --log-uri "binary:///nonexistent/logger" "$IMG" t-badlog true 2>&1); rc=$?
[ "$rc" != 0 ] && echo "$out" | grep -q 'log binary /nonexistent/logger'
check "log uri binary:// with a missing logger: the run fails naming it" $? "rc=$rc; $out"
c container delete t-badlog >/dev/null 2>&1

# --- detached: exec, ps, pause/resume, kill, delete
c_run t-bg -d "$IMG" t-bg sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1 &&
    [ "$(task_status t-bg)" = RUNNING ]
check "run -d: the task is running" $? "$(c task ls 2>&1)"
pid=$(c task ls 2>/dev/null | awk '$1 == "t-bg" { print $2 }')
d=$(cgroup_dir "$pid" memory)
[ "$d" = "/sys/fs/cgroup/memory/$CG/t-bg" ] || [ "$d" = "/sys/fs/cgroup/$CG/t-bg" ]   # v1 or v2
check "the init is in the cgroup ctr asked for" $? "$d"

out=$(c task exec --exec-id e1 t-bg sh -c 'echo exec says hi; cat /proc/1/cmdline | tr "\0" " "' 2>&1)
echo "$out" | grep -q '^exec says hi$' && echo "$out" | grep -q 'trap'
check "task exec runs in the container and prints" $? "$out"

c task exec --exec-id e2 t-bg sh -c 'exit 5' >/dev/null 2>&1; rc=$?
[ "$rc" = 5 ]; check "task exec: the exit status comes back through ctr" $? "got $rc"

out=$(timeout 60 script -qefc "ctr -a $W/containerd.sock -n $NS task exec -t --exec-id e3 t-bg sh -c 'tty; exit 6'" /dev/null </dev/null 2>&1); rc=$?
echo "$out" | grep -q '/dev/pts/[0-9]' && [ "$rc" = 6 ]; check "task exec -t: the process has a tty" $? "rc=$rc; $out"

out=$(c task ps t-bg 2>&1)
echo "$out" | grep -qw "$pid"; check "task ps lists the container's init" $? "init $pid; $out"

# containerd's cgroup v1 Metrics (memory.usage_in_bytes) or v2 Metrics
# (memory.usage, and "max" limits as the largest uint64, as its shim says).
out=$(c task metrics t-bg 2>&1)
echo "$out" | awk '$1 == "pids.current" && $2 >= 1 { ok = 1 } END { exit !ok }' &&
    { echo "$out" | grep -q 'memory.usage_in_bytes' ||
        { echo "$out" | awk '$1 == "memory.usage" && $2 > 0 { ok = 1 } END { exit !ok }' &&
          echo "$out" | grep -qE '^pids.limit +18446744073709551615'; }; }
check "task metrics (cgroup v1 or v2 Metrics from the shim)" $? "$out"

c task pause t-bg >/dev/null 2>&1 && [ "$(task_status t-bg)" = PAUSED ] && [ "$(freezer_state "$pid")" = FROZEN ] &&
    c task resume t-bg >/dev/null 2>&1 && [ "$(task_status t-bg)" = RUNNING ] && [ "$(freezer_state "$pid")" = THAWED ]
check "task pause and resume" $? "$(task_status t-bg), freezer $(freezer_state "$pid")"

c task kill t-bg >/dev/null 2>&1 && wait_for 10 eval '[ "$(task_status t-bg)" = STOPPED ]'
check "task kill (SIGTERM, handled by the process)" $? "$(c task ls 2>&1)"

c_run t-k -d "$IMG" t-k sleep 100 >/dev/null 2>&1 &&
    c task kill -s KILL t-k >/dev/null 2>&1 && wait_for 10 eval '[ "$(task_status t-k)" = STOPPED ]'
check "task kill -s KILL" $? "$(c task ls 2>&1)"

out=$(c task delete t-bg 2>&1; c task delete t-k 2>&1)
echo "$out" | grep -q 'exit code 3' && echo "$out" | grep -q 'exit code 137'
check "task delete reports the exit codes (3 and 137)" $? "$out"

wait_for 10 eval '[ -z "$(shim_pids)" ]'; check "each shim exits once its task is deleted" $? "left: $(shim_pids)"

# --- CVE-2019-5736: every process the shim clones into a container runs the
# shim's binary until it execs, and a container can make it execute that
# binary again (a `#!/proc/self/exe` script). The shim runs from a read-only
# view of its binary (exe_guard.hpp), so what /proc/PID/exe leads to can't be
# opened for writing, by the container or anyone; the file on disk is intact.
out=$(c_run t-priv -d --privileged "$IMG" t-priv sh -c 'grep CapEff /proc/self/status; sleep 100' 2>&1) &&
    wait_for 10 eval '[ "$(task_status t-priv)" = RUNNING ]'
check "a --privileged container runs" $? "$out $(c task ls 2>&1)"
out=$(c task exec --exec-id pe1 t-priv sh -c 'echo exec-in-privileged; exit 5' 2>&1); rc=$?
[ "$rc" = 5 ] && [ "$out" = exec-in-privileged ]
check "task exec into it: output and exit status" $? "rc=$rc; $out"
spid=$(shim_pids | head -1)
# (Opening it for writing now would give ETXTBSY, which the kernel checks
# first; once the binary is free it would give EROFS.)
ro=$([ -n "$spid" ] && python3 -c 'import os, sys; print(bool(os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY))' "/proc/$spid/exe" 2>&1)
[ "$ro" = True ]
check "the shim runs from a read-only view of its binary" $? "shim $spid: $ro ($(ls -l /proc/$spid/exe 2>&1))"
c task kill -s KILL t-priv >/dev/null 2>&1; wait_for 10 eval '[ "$(task_status t-priv)" = STOPPED ]'
out=$(c task delete t-priv 2>&1); c container delete t-priv >/dev/null 2>&1
echo "$out" | grep -q 'exit code 137'; check "its exit comes back through the shim (137)" $? "$out"
wait_for 10 eval '[ -z "$(shim_pids)" ]'

# --- OOM: the shim tells containerd (/tasks/oom) when the kernel kills in
# the container's memory cgroup.
timeout 120 ctr -a "$W/containerd.sock" -n "$NS" events >"$W/events" 2>&1 &
EPID=$!
sleep 0.5
out=$(c_run t-oom --rm --memory-limit 33554432 "$IMG" t-oom sh -c 'echo hog; a=xxxxxxxx; while :; do a="$a$a"; done' 2>&1); rc=$?
[ "$rc" = 137 ]; check "a memory hog over --memory-limit is OOM-killed: exit 137" $? "rc=$rc; $out"
wait_for 10 grep -q '/tasks/oom' "$W/events"
check "containerd got the /tasks/oom event" $? "$(cat "$W/events")"
awk '/\/tasks\/oom/ { o = NR } /\/tasks\/exit/ && /t-oom/ { e = NR } END { exit !(o && e && o < e) }' "$W/events"
check "the OOM event comes before the task's exit" $? "$(grep -E 'oom|exit' "$W/events")"
kill_pid "$EPID"; EPID=''

# --- containerd dies (kill -9) and comes back: the shims and containers
# live on, and the new containerd manages them through the same shims.
c_run t-live -d "$IMG" t-live sh -c 'trap "exit 9" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1
c_run t-gone -d "$IMG" t-gone sh -c 'trap "exit 8" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1
lpid=$(c task ls 2>/dev/null | awk '$1 == "t-live" { print $2 }')
gpid=$(c task ls 2>/dev/null | awk '$1 == "t-gone" { print $2 }')
shims=$(shim_pids)
# (Reaped here, quietly: bash would report the killed job on stderr.)
{ kill -KILL "$DPID"; wait "$DPID"; } 2>/dev/null
ok=0; for pid in $lpid $gpid $shims; do alive "$pid" || ok=1; done
[ -n "$lpid" ] && [ -n "$gpid" ] && [ "$(echo $shims | wc -w)" = 2 ] && [ "$ok" = 0 ]
check "kill -9 of containerd: the containers and their shims live on" $? "inits $lpid $gpid, shims: $shims; now $(shim_pids)"
# Idle for over a second, a shim gives back what creating its container left
# resident (shim/idle_memory.hpp): under 1 MiB PSS (the issue's measure: the
# binary's text is shared page cache, and how much of it an idle shim maps
# depends on the kernel's folio sizes for the file, not on the shim), of
# which its own (anonymous) memory is under 512 KiB.
sleep 1.5
mem=$(for pid in $shims; do awk '$1 == "Pss:" { p = $2 } $1 == "Anonymous:" { a = $2 } END { print p, a }' "/proc/$pid/smaps_rollup"; done | sort -n | tail -1)
[ -n "$mem" ] && [ "${mem% *}" -lt 1024 ] && [ "${mem#* }" -lt 512 ]
check "an idle shim: under 1 MiB PSS, under 512 KiB of its own" $? "Pss, Anonymous kB: ${mem:-?}; $(for pid in $shims; do grep -E '^(Rss|Pss|Anonymous):' "/proc/$pid/smaps_rollup" | tr -s ' \n' ' '; done)"
# One exits while nobody listens: its shim keeps the exit for the next containerd.
kill -TERM "$gpid"; wait_for 10 eval "! alive $gpid"
# Its /tasks/exit waits in the shim's queue (shim/events/publisher.hpp), retried
# with backoff. The shims dial containerd's ttrpc socket by the path they
# were given: the new containerd listens elsewhere, and that path becomes a
# link to it only once `ctr events` is subscribed, so no retry can beat it.
sed -i 's|containerd\.sock\.ttrpc"|containerd-2.sock.ttrpc"|' "$W/config.toml"
rm -f "$W/containerd.sock.ttrpc"
start_containerd
check "containerd restarts on the same root and state" $? "$(tail -5 "$W/containerd.log")"
up=$(date +%s.%N)
timeout 60 ctr -a "$W/containerd.sock" -n "$NS" events >"$W/events" 2>&1 &
EPID=$!
# Subscribed once a namespace update of ours shows up.
wait_for 10 eval 'c namespaces label "$NS" berth-e2e-probe=1 >/dev/null 2>&1; grep -q /namespaces/update "$W/events"'
c namespaces label "$NS" berth-e2e-probe= >/dev/null 2>&1
ln -s "$W/containerd-2.sock.ttrpc" "$W/containerd.sock.ttrpc"
wait_for 10 grep -q '/tasks/exit .*"t-gone"' "$W/events"
check "the exit queued while containerd was down reaches the new one (/tasks/exit)" $? "$(cat "$W/events"; grep -E 'queued until|answers again|event dropped' "$W/containerd.log" | tail -5)"
# ctr prints the envelope's time first: the exit's, from before the restart.
line=$(grep -m1 '/tasks/exit .*"t-gone"' "$W/events")
at=$([ -n "$line" ] && date -d "$(echo "$line" | cut -d' ' -f1-3)" +%s.%N 2>/dev/null)
[ -n "$at" ] && awk -v a="$at" -v u="$up" 'BEGIN { exit !(a < u) }'
check "the queued event keeps its time of publishing" $? "event at ${at:-?}, containerd up at $up; $(grep '/tasks/exit' "$W/events")"
kill_pid "$EPID"; EPID=''
[ "$(task_status t-live)" = RUNNING ] && [ "$(shim_pids | sort)" = "$(echo "$shims" | sort)" ]
check "the restarted containerd sees the task RUNNING, through the same shim" $? "$(c task ls 2>&1); shims before: $shims, now: $(shim_pids)"
out=$(c task exec --exec-id r1 t-live sh -c 'echo exec after restart; exit 4' 2>&1); rc=$?
[ "$rc" = 4 ] && echo "$out" | grep -q '^exec after restart$'
check "task exec after the restart: output and exit status" $? "rc=$rc; $out"
[ "$(task_status t-gone)" = STOPPED ] && out=$(c task delete t-gone 2>&1) && echo "$out" | grep -q 'exit code 8'
check "an exit while containerd was down: STOPPED, and delete reports it (8)" $? "$(task_status t-gone); ${out:-}"
c task kill t-live >/dev/null 2>&1 && wait_for 10 eval '[ "$(task_status t-live)" = STOPPED ]' &&
    out=$(c task delete t-live 2>&1) && echo "$out" | grep -q 'exit code 9'
check "task kill and delete after the restart report the exit (9)" $? "$(task_status t-live); ${out:-}"
wait_for 10 eval '[ -z "$(shim_pids)" ]'; check "the shims exit once their tasks are deleted" $? "left: $(shim_pids)"
c container delete t-live t-gone >/dev/null 2>&1

# A shim that dies: containerd runs `containerd-shim-berth-v2 ... delete`,
# which kills the container and unmounts its rootfs.
c_run t-crash -d "$IMG" t-crash sleep 100 >/dev/null 2>&1
cpid=$(c task ls 2>/dev/null | awk '$1 == "t-crash" { print $2 }')
spid=$(shim_pids)
[ -n "$cpid" ] && [ -n "$spid" ] && kill -KILL $spid &&
    wait_for 20 eval '! alive $cpid && [ "$(task_status t-crash)" != RUNNING ]'
check "a killed shim: containerd's cleanup (shim delete) stops the container" $? "task $(task_status t-crash), init $cpid alive: $(alive "$cpid" && echo yes)"
c task delete t-crash >/dev/null 2>&1; c container delete t-crash >/dev/null 2>&1

# --- containerd 2.3's handshake, without containerd: `-info` prints a
# RuntimeInfo; `start` given BootstrapParams on stdin answers with a
# BootstrapResult whose address serves the v3 Task API, and takes its log
# level from them (debug, with no -debug flag).
out=$("$BERTH_SHIM" -info </dev/null | protoc --decode_raw 2>&1)
echo "$out" | grep -qx '1: "io.containerd.berth.v2"' &&
    echo "$out" | grep -q '1: "types.containerd.io/opencontainers/runtime-spec/1/features/Features"' &&
    echo "$out" | grep -q 'ociVersionMin'
check "-info prints a RuntimeInfo with the OCI features" $? "$out"
B=$W/boot BID=boot-$$
mkdir -p "$B" && cp "$W/bundle/config.json" "$B/" && : >"$B/log"
printf 'instance_id: "%s"\nnamespace: "%s"\nlog_level: LOG_LEVEL_DEBUG\ncontainerd_version: "v2.3.0"\ncontainerd_ttrpc_address: "%s"\ncontainerd_grpc_address: "%s"\ncontainerd_binary: "/bin/false"\n' \
    "$BID" "$NS" "$W/containerd.sock.ttrpc" "$W/containerd.sock" |
    protoc --encode=berth.bootstrap.BootstrapParams -I "$BERTH_SRC/shim/proto" bootstrap.proto >"$W/boot.params"
(cd "$B" && env -u TTRPC_ADDRESS BERTH_SHIM_ROOT="$W/shim-boot" timeout 30 "$W/bin/containerd-shim-berth-v2" \
    -namespace "$NS" -address "$W/containerd.sock" -publish-binary /bin/false -id "$BID" start <"$W/boot.params" >"$W/boot.reply")
out=$(protoc --decode=berth.bootstrap.BootstrapResult -I "$BERTH_SRC/shim/proto" bootstrap.proto <"$W/boot.reply" 2>&1)
sock=$(echo "$out" | sed -n 's|^address: "unix://\(/.*\)"$|\1|p')
echo "$out" | grep -qx 'version: 3' && echo "$out" | grep -qx 'protocol: "ttrpc"' && [ -S "$sock" ] &&
    [ "$(cat "$B/address")" = "unix://$sock" ]
check "start with BootstrapParams on stdin: a BootstrapResult (version 3, ttrpc, unix://)" $? "$out; address file: $(cat "$B/address" 2>&1)"
bpid=''
for p in /proc/[0-9]*; do
    grep -qsF -- "$BID" "$p/cmdline" && grep -qs containerd-shim-berth-v2 "$p/cmdline" && bpid=${p#/proc/}
done
# containerd.task.v3.Task/Connect{id} over ttrpc names the shim's pid. The
# client stays connected while the checks run.
timeout 60 python3 - "$sock" "$BID" >"$W/boot.connect" 2>&1 <<'X' &
import socket, struct, sys, time
def ld(f, b): return bytes([f << 3 | 2, len(b)]) + b
req = ld(1, b"containerd.task.v3.Task") + ld(2, b"Connect") + ld(3, ld(1, sys.argv[2].encode()))
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(struct.pack(">IIBB", len(req), 1, 1, 0) + req)
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: sys.exit("EOF from the shim")
        b += c
    return b
sys.stdout.buffer.write(read(struct.unpack(">I", read(10)[:4])[0]))
sys.stdout.flush()
time.sleep(60)
X
CPID=$!
wait_for 10 eval '[ -s "$W/boot.connect" ]'
out=$(protoc --decode_raw <"$W/boot.connect" 2>&1)
[ -n "$bpid" ] && echo "$out" | grep -qx "  1: $bpid" && grep -q 'level=debug msg="ttrpc Connect"' "$B/log"
check "its address serves containerd.task.v3.Task, logging at the level BootstrapParams asked" $? "shim ${bpid:-?}; $out; log: $(tail -3 "$B/log")"
kill_pid "$bpid"
! alive "$bpid" && [ ! -e "$sock" ] && [ ! -e "$W/shim-boot" ]
check "that shim, killed by its pid, leaves nothing behind (socket, its root)" $? "alive: $(alive "$bpid" && echo yes); $(ls -R "$W/shim-boot" 2>&1)"
kill_pid "$CPID"
rm -rf "$B" "$W/boot.params" "$W/boot.reply" "$W/boot.connect"

# --- pods: containers with the same CRI sandbox annotation (containerd
# passes ctr's --annotation on in config.json, where the shim's start reads
# it) are served by one shim; a container without it gets its own.
POD=berth-e2e-pod-$$
TD=$W/state/io.containerd.runtime.v2.task/$NS
for t in t-p1 t-p2; do
    c_run "$t" -d --annotation "io.kubernetes.cri.sandbox-id=$POD" "$IMG" "$t" sleep 100 >/dev/null 2>&1
done
c_run t-p3 -d "$IMG" t-p3 sleep 100 >/dev/null 2>&1
[ "$(task_status t-p1)$(task_status t-p2)$(task_status t-p3)" = RUNNINGRUNNINGRUNNING ] &&
    grep -q "\"io.kubernetes.cri.sandbox-id\": *\"$POD\"" "$TD/t-p2/config.json"
check "pod: three detached containers, two with the sandbox annotation in config.json" $? "$(c task ls 2>&1)"
ppid_of() { ps -o ppid= -p "$(c task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }')" | tr -d ' '; }
a1=$(cat "$TD/t-p1/address" 2>&1) a2=$(cat "$TD/t-p2/address" 2>&1) a3=$(cat "$TD/t-p3/address" 2>&1)
p1=$(ppid_of t-p1) p2=$(ppid_of t-p2) p3=$(ppid_of t-p3)
[ -n "$a1" ] && [ "$a1" = "$a2" ] && [ "$a3" != "$a1" ] && [ "$(shim_pids | wc -l)" = 2 ] &&
    [ -n "$p1" ] && [ "$p1" = "$p2" ] && [ "$p3" != "$p1" ]
check "pod: its two containers share one shim (address, parent process); the third has its own" $? \
    "addresses $a1 $a2 $a3; parents $p1 $p2 $p3; shims: $(shim_pids | tr '\n' ' ')"
c task kill -s KILL t-p1 >/dev/null 2>&1; wait_for 10 eval '[ "$(task_status t-p1)" = STOPPED ]'
c task delete t-p1 >/dev/null 2>&1; c container delete t-p1 >/dev/null 2>&1
[ "$(task_status t-p2)" = RUNNING ] && alive "$p2" && c task exec --exec-id px t-p2 true >/dev/null 2>&1
check "pod: deleting one container leaves the shared shim serving the other" $? "$(c task ls 2>&1); shim $p2"
for t in t-p2 t-p3; do
    c task kill -s KILL "$t" >/dev/null 2>&1; wait_for 10 eval '[ "$(task_status "$t")" = STOPPED ]'
    c task delete "$t" >/dev/null 2>&1; c container delete "$t" >/dev/null 2>&1
done
wait_for 10 eval '[ -z "$(shim_pids)" ]'; check "pod: deleting them all leaves no shim" $? "left: $(shim_pids)"

c container delete t-bg t-k >/dev/null 2>&1
wait_for 10 eval '[ -z "$(ls -A "$W/shim" 2>/dev/null)" ]'
left=$(c container ls -q; c task ls -q; c snapshots ls | awk '$NF == "Active"'; ls -A "$W/shim" 2>/dev/null
       find /sys/fs/cgroup/*/"$CG" -mindepth 1 -type d 2>/dev/null; grep -F " $W/" /proc/self/mountinfo)
[ -z "$left" ]; check "no container, task, snapshot, shim state, mount or cgroup left" $? "$left"
exit $failed
