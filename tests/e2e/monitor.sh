#!/usr/bin/env bash
# e2e: berth-shim driven directly over ttrpc by berth-shimctl, as berthd
# will drive it: no containerd, no TTRPC_ADDRESS (its events go nowhere).
# TAP output.
#
# Part 1, the Task API: create and start with stdio to file:// URIs, state,
# pids, exec, update (cgroup limits read back), kill, wait, CloseIO,
# delete, and the shim's exit once its last container is deleted.
# Part 2, the Monitor service and the CRI stdio of shim/proto/monitor.proto:
# k8s-file:// logs (format, partial lines, ReopenLog), Attach, pipe://
# stdin with and without stdin_once; its containers form one pod (the CRI
# sandbox annotation), so `start` from each of their bundles names one shim.
#
# Everything lives in a temp dir: the shim's root (BERTH_SHIM_ROOT), the
# bundles (sharing one busybox rootfs), the logs. Containers get the
# cgroups /berth-e2e-mon-PID/ID. On exit, failures included: every process
# in those cgroups and every shim of ours is killed by PID, then the
# cgroups, mounts under the temp dir and the temp dir are removed.
set -u
BERTH_SHIM=${BERTH_SHIM:?BERTH_SHIM must name the berth-shim binary}
BERTH_SHIMCTL=${BERTH_SHIMCTL:?BERTH_SHIMCTL must name the berth-shimctl binary}
BERTH=${BERTH:?BERTH must name the berth binary}
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
command -v busybox >/dev/null || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
command -v jq >/dev/null || { echo "1..0 # SKIP jq is not installed"; exit 0; }
for b in "$BERTH_SHIM" "$BERTH_SHIMCTL" "$BERTH"; do
    [ -x "$b" ] || { echo "1..0 # SKIP $b is not built"; exit 0; }
done
BERTH_SHIM=$(readlink -f "$BERTH_SHIM")

W=$(mktemp -d /tmp/berth-e2e-mon.XXXXXX)
CG=berth-e2e-mon-$$
NS=berth-mon
POD=berth-e2e-pod-$$
export BERTH_SHIM_ROOT=$W/shim
unset TTRPC_ADDRESS
SHIMS='' BG=''   # shims (from Connect) and background jobs of ours

# ctl ADDRESS CMD ARGS...: one ttrpc call, bounded in time (wait included).
ctl() { local a=$1; shift; TMPDIR=$W timeout 30 "$BERTH_SHIMCTL" -a "$a" -n "$NS" "$@"; }
# attach_for SECONDS ADDRESS ARGS...: an attach session, cut after SECONDS.
attach_for() { local t=$1 a=$2; shift 2; TMPDIR=$W timeout "$t" "$BERTH_SHIMCTL" -a "$a" -n "$NS" attach "$@"; }

# bundle ID [--pod] ARGS...: $W/ID runs ARGS in the cgroup /$CG/ID, from
# `berth spec`'s config with the shared rootfs; --pod puts it in our pod.
# An empty log file catches the shim's log (it writes to BUNDLE/log).
bundle() {
    local id=$1 pod=''; shift
    if [ "$1" = --pod ]; then pod=$POD; shift; fi
    mkdir -p "$W/$id" && : >"$W/$id/log" &&
        jq --arg root "$W/base/rootfs" --arg cg "/$CG/$id" --arg pod "$pod" \
            --argjson args "$(jq -nc '$ARGS.positional' --args -- "$@")" \
            '.process.terminal = false | .process.args = $args | .root.path = $root | .linux.cgroupsPath = $cg
             | if $pod == "" then . else .annotations["io.kubernetes.cri.sandbox-id"] = $pod end' \
            "$W/spec/config.json" >"$W/$id/config.json"
}
# start_shim ID: `berth-shim start` in ID's bundle, as containerd (and
# berthd) run it; prints the address.
start_shim() {
    (cd "$W/$1" && timeout 30 "$BERTH_SHIM" -debug -namespace "$NS" -address "" -id "$1" start)
}
# note_shim ADDRESS: remember the shim's pid (for cleanup); prints it.
note_shim() {
    local p
    p=$(ctl "$1" connect | awk '{ print $1 }') && [ -n "$p" ] || return 1
    case " $SHIMS " in *" $p "*) ;; *) SHIMS="$SHIMS $p" ;; esac
    echo "$p"
}
shim_log() { tail -n "${2:-8}" "$W/$1/log" 2>/dev/null; }
mem_limit() {   # v1 memory.limit_in_bytes, or v2 memory.max
    local d
    d=$(cgroup_dir "$1" memory) || return 1
    cat "$d/memory.limit_in_bytes" 2>/dev/null || cat "$d/memory.max"
}
pids_max() { local d; d=$(cgroup_dir "$1" pids) && cat "$d/pids.max"; }
cg_procs() { find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -name cgroup.procs -exec cat {} + 2>/dev/null; }
cg_dirs() { find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -mindepth 1 -type d 2>/dev/null; }
# Processes of ours the pid list may have missed: a shim, or a container
# init still waiting to exec, inherits BERTH_SHIM_ROOT=$W/shim.
strays() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "BERTH_SHIM_ROOT=$W/shim" && echo "${p#/proc/}"
    done
}

cleanup() {
    local pid d
    for pid in $BG; do kill_pid "$pid" 2; done
    for pid in $(cg_procs) $SHIMS $(strays); do kill -KILL "$pid" 2>/dev/null; done
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    rm -rf "$W"
}
on_exit cleanup

plan 36
make_rootfs "$W/base" && mkdir "$W/spec" && "$BERTH" spec -b "$W/spec" && [ -x "$W/base/rootfs/bin/busybox" ]
check "a busybox rootfs and berth spec's config" $? ""

# ---------------------------------------------------------------- Task API
bundle b1 sh -c 'echo hello-out; echo hello-err >&2; trap "exit 3" TERM; while :; do sleep 0.1; done'
A=$(start_shim b1); rc=$?
[ "$rc" = 0 ] && [[ $A == "unix://$W/shim/s/"* ]] && [ -S "${A#unix://}" ] && [ "$(cat "$W/b1/address")" = "$A" ]
check "berth-shim start (no containerd, no TTRPC_ADDRESS) prints its address" $? "rc=$rc address=$A; $(shim_log b1)"
# A manager may probe before it creates: a shim that never had a container
# waits (30 s) for one rather than exiting when that client disconnects.
SPA=$(note_shim "$A") && sleep 0.3 && alive "$SPA" && [ -S "${A#unix://}" ]
check "a Connect probe before any Create leaves the shim serving" $? "shim ${SPA:-?}; $(shim_log b1)"
pid=$(ctl "$A" create b1 "$W/b1" --stdout "file://$W/b1.out" --stderr "file://$W/b1.err" 2>&1) &&
    out=$(ctl "$A" state b1) && [ "$out" = "created $pid 0" ]
check "Create answers the init's pid; State says created" $? "create: $pid; state: ${out:-}; $(shim_log b1)"
SPA=$(note_shim "$A") && alive "$SPA" && [ "$(ctl "$A" connect b1 | cut -d' ' -f2)" = "$pid" ]
check "Connect answers with the shim's pid and the task's" $? "shim ${SPA:-?}; $(ctl "$A" connect b1 2>&1)"
out=$(ctl "$A" start b1 2>&1) && [ "$out" = "$pid" ] && out=$(ctl "$A" state b1) && [ "$out" = "running $pid 0" ]
check "Start answers the same pid; State says running" $? "$out; $(shim_log b1)"
wait_for 10 grep -qx hello-out "$W/b1.out" && wait_for 10 grep -qx hello-err "$W/b1.err"
check "stdout and stderr reach their file:// URIs" $? "out: $(cat "$W/b1.out" 2>&1); err: $(cat "$W/b1.err" 2>&1)"
d=$(cgroup_dir "$pid" memory); out=$(ctl "$A" pids b1 2>&1)
echo "$out" | grep -qx "$pid" && { [ "$d" = "/sys/fs/cgroup/memory/$CG/b1" ] || [ "$d" = "/sys/fs/cgroup/$CG/b1" ]; }
check "Pids lists the init, which is in the config's cgroup" $? "pids: $out; cgroup $d"

jq --argjson args '["sh", "-c", "echo exec-out; echo exec-err >&2; grep -q trap /proc/1/cmdline && echo sees-init; exit 5"]' \
    '.process | .args = $args' "$W/b1/config.json" >"$W/e1.json"
out=$(ctl "$A" exec b1 e1 "$W/e1.json" --stdout "file://$W/e1.out" --stderr "file://$W/e1.out" 2>&1) &&
    epid=$(ctl "$A" start b1 e1 2>&1) && st=$(ctl "$A" wait b1 e1 2>&1) && [ "$st" = 5 ] &&
    grep -qx exec-out "$W/e1.out" && grep -qx exec-err "$W/e1.out" && grep -qx sees-init "$W/e1.out"
check "Exec + Start into the running container: its output, and Wait answers 5" $? \
    "${out:-} pid ${epid:-?} wait ${st:-?}; $(cat "$W/e1.out" 2>&1); $(shim_log b1)"
out=$(ctl "$A" state b1 e1) && [ "$out" = "stopped $epid 5" ] && out=$(ctl "$A" delete b1 e1) && [ "$out" = 5 ]
check "the exec's State is stopped, and Delete answers its exit status" $? "$out"
out=$(ctl "$A" state b1 e1 2>&1); rc=$?
[ "$rc" = 1 ] && [[ $out == "berth-shimctl: State: "*"not found"* ]]
check "a deleted exec is gone (berth-shimctl: State: ... not found, exit 1)" $? "rc=$rc; $out"

# An exec's stdout and stderr to FIFOs whose reader, as containerd's, comes
# only after State has answered, asked once the exec is reaped: the shim
# keeps serving while the output waits for its reader, and both arrive.
mkfifo "$W/e2.out" "$W/e2.err"
jq --argjson args '["sh", "-c", "echo exec2-out; echo exec2-err >&2"]' '.process | .args = $args' \
    "$W/b1/config.json" >"$W/e2.json"
r1='' r2='' st=''
out=$(ctl "$A" exec b1 e2 "$W/e2.json" --stdout "$W/e2.out" --stderr "$W/e2.err" 2>&1) &&
    epid=$(ctl "$A" start b1 e2 2>&1) && wait_for 10 eval '[ ! -e /proc/$epid ]' && ctl "$A" state b1 e2 >/dev/null && {
        timeout 10 cat "$W/e2.out" >"$W/e2.o" & r1=$!
        timeout 10 cat "$W/e2.err" >"$W/e2.e" & r2=$!
    } && st=$(ctl "$A" wait b1 e2 2>&1) && wait "$r1" && wait "$r2" && [ "$st" = 0 ] &&
    [ "$(cat "$W/e2.o")" = exec2-out ] && [ "$(cat "$W/e2.e")" = exec2-err ] && ctl "$A" delete b1 e2 >/dev/null
check "an exec's stdout and stderr reach FIFOs whose readers come after the exit" $? \
    "${out:-} pid ${epid:-?} wait ${st:-?}; out: $(cat "$W/e2.o" 2>&1); err: $(cat "$W/e2.e" 2>&1); $(shim_log b1)"

# containerd's typeurl LinuxResources, as JSON.
printf '{"memory":{"limit":67108864},"pids":{"limit":77}}' >"$W/res.json"
before="$(mem_limit "$pid") $(pids_max "$pid")"
out=$(ctl "$A" update b1 "$W/res.json" 2>&1) && [ "$(mem_limit "$pid")" = 67108864 ] && [ "$(pids_max "$pid")" = 77 ]
check "Update sets the memory and pids limits in the container's cgroups" $? \
    "${out:-}; before: $before; after: $(mem_limit "$pid") $(pids_max "$pid")"

# A second container on the same shim (as berthd does for a pod), whose
# Wait is answered when it exits.
bundle b2 sh -c 'sleep 0.5; exit 7'
out=$(ctl "$A" create b2 "$W/b2" 2>&1) && ctl "$A" start b2 >/dev/null && st=$(ctl "$A" wait b2 2>&1) && [ "$st" = 7 ]
check "a second container on the shim: Wait blocks until it exits, and answers 7" $? "${out:-} wait ${st:-?}"

# CloseIO: a FIFO stdin nobody writes to, closed by the shim.
bundle b3 sh -c 'cat; echo cat-done'
mkfifo "$W/b3.in"
out=$(ctl "$A" create b3 "$W/b3" --stdin "$W/b3.in" --stdout "file://$W/b3.out" 2>&1) && ctl "$A" start b3 >/dev/null &&
    sleep 0.3 && [ "$(ctl "$A" state b3 | cut -d' ' -f1)" = running ] &&
    ctl "$A" closeio b3 && st=$(ctl "$A" wait b3 2>&1) && [ "$st" = 0 ] && grep -qx cat-done "$W/b3.out"
check "CloseIO closes the process's stdin: cat sees EOF" $? "${out:-} wait ${st:-?}; $(cat "$W/b3.out" 2>&1)"

ctl "$A" kill b1 TERM && st=$(ctl "$A" wait b1 2>&1) && [ "$st" = 3 ] && out=$(ctl "$A" state b1) && [ "$out" = "stopped $pid 3" ]
check "Kill TERM: the init's trap runs; Wait answers 3, State says stopped" $? "wait ${st:-?}; ${out:-}"

out="$(ctl "$A" delete b2) $(ctl "$A" delete b3) $(ctl "$A" delete b1)"
[ "$out" = "7 0 3" ]; check "Delete answers each container's exit status" $? "$out; $(shim_log b1)"
wait_for 10 eval '! alive "$SPA"' && [ ! -e "${A#unix://}" ]
check "the shim exits once the last container is deleted and its client gone, removing its socket" $? \
    "shim $SPA alive: $(alive "$SPA" && echo yes); socket: $(ls -l "${A#unix://}" 2>&1); $(shim_log b1)"
left=$(for p in $pid $epid; do alive "$p" && echo "process $p"; done; cg_procs; cg_dirs
       grep -F " $W/" /proc/self/mountinfo; ls -A "$W/shim" 2>/dev/null)
[ -z "$left" ]; check "nothing left behind: no process, cgroup, mount or shim state" $? "$left"

# ------------------------------------------------- Monitor service, CRI stdio
# (shim/proto/monitor.proto: k8s-file://, pipe://, Attach, ReopenLog)
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z'
st='' out='' SPB=''
bundle m-log --pod sh -c 'echo to-stdout; echo to-stderr >&2; head -c 40000 /dev/zero | tr "\000" a; echo; echo after-long'
bundle m-rot --pod sh -c 'i=0; while :; do echo tick-$i; echo tock-$i >&2; i=$((i+1)); sleep 0.1; done'
bundle m-in --pod sh -c 'while read l; do echo got:$l; done; echo eof'
mkdir "$W/rot"
B=$(start_shim m-log) && B2=$(start_shim m-rot) && [ "$B" = "$B2" ] && [ -S "${B#unix://}" ]
check "one pod, one shim: start from each of its bundles names the same socket" $? "${B:-} vs ${B2:-}; $(shim_log m-log)"

LOG=$W/m-log.log
out=$(ctl "$B" create m-log "$W/m-log" --stdout "k8s-file://$LOG" --stderr "k8s-file://$LOG" 2>&1) &&
    SPB=$(note_shim "$B") && ctl "$B" start m-log >/dev/null && st=$(ctl "$B" wait m-log 2>&1) && [ "$st" = 0 ]
check "a container logging to k8s-file:// runs and exits 0" $? "${out:-} wait ${st:-?}; $(shim_log m-log)"
[ -s "$LOG" ] && ! grep -Evq "^$TS (stdout|stderr) [PF] " "$LOG"
check "every log line is 'RFC3339Nano STREAM P|F CONTENT'" $? "$(grep -Ev "^$TS (stdout|stderr) [PF] " "$LOG" 2>&1 | cut -c1-100)"
grep -Eqx "$TS stdout F to-stdout" "$LOG" && grep -Eqx "$TS stderr F to-stderr" "$LOG" && grep -Eqx "$TS stdout F after-long" "$LOG"
check "stdout and stderr lines are tagged with their stream, F for a full line" $? "$(cut -c1-100 "$LOG" 2>&1 | head)"
# The 40000-byte line: P chunks of at most 16384 bytes, then an F, which
# put together give the line back.
out=$(awk '{ tag = $3; c = substr($0, length($1) + length($2) + length($3) + 4) }
    $2 != "stdout" { next }
    !on && tag == "F" && c == "to-stdout" { on = 1; next }
    on { if (length(c) > 16384) big++; acc = acc c; if (tag == "P") p++; else { on = 0; done = 1 } }
    END { ok = done && !big && p >= 2 && length(acc) == 40000 && acc !~ /[^a]/
          printf "%s P=%d over16k=%d total=%d\n", ok ? "ok" : "bad", p, big, length(acc) }' "$LOG" 2>&1)
[ "${out%% *}" = ok ]; check "a 40000-byte line is logged as P chunks (<= 16384 bytes) then an F, losslessly" $? "$out"

RLOG=$W/rot/ctr.log
tick_of() { grep -Eo 'stdout F tick-[0-9]+$' "$1" | sed -n "$2" | sed 's/.*tick-//'; }
out=$(ctl "$B" create m-rot "$W/m-rot" --stdout "k8s-file://$RLOG" --stderr "k8s-file://$RLOG" 2>&1) &&
    rpid=$(ctl "$B" start m-rot 2>&1) && wait_for 10 grep -q 'stdout F tick-3$' "$RLOG" &&
    mv "$RLOG" "$RLOG.1" && out=$(ctl "$B" reopen-log m-rot 2>&1) && wait_for 10 grep -q 'stdout F tick-' "$RLOG" &&
    sleep 0.3 && s1=$(stat -c %s "$RLOG.1") && sleep 0.5 && [ "$(stat -c %s "$RLOG.1")" = "$s1" ] &&
    last=$(tick_of "$RLOG.1" '$p') && first=$(tick_of "$RLOG" 1p) && [ "$first" = $((last + 1)) ]
check "ReopenLog after a rename: a fresh log takes over, the old one stops, no line lost" $? \
    "${out:-}; old ends at ${last:-?}, new starts at ${first:-?}; $(ls -l "$W/rot" 2>&1); $(shim_log m-log 4)"

attach_for 2 "$B" m-rot --stdout --stderr >"$W/att.out" 2>"$W/att.err"; rc=$?
[ "$rc" = 124 ] && grep -Eqx 'tick-[0-9]+' "$W/att.out" && grep -Eqx 'tock-[0-9]+' "$W/att.err" &&
    ! grep -q tock "$W/att.out" && ! grep -q tick "$W/att.err"
check "Attach --stdout --stderr to a running container: its live output, each on its stream" $? \
    "rc=$rc; out: $(head -3 "$W/att.out"); err: $(head -3 "$W/att.err")"
n1=$(grep -c 'stdout F tick-' "$RLOG" 2>/dev/null); sleep 0.5
[ "$(ctl "$B" state m-rot | cut -d' ' -f1)" = running ] && [ "$(grep -c 'stdout F tick-' "$RLOG")" -gt "${n1:-0}" ]
check "the container runs and logs on after its attach client is gone" $? "$(ctl "$B" state m-rot 2>&1)"
attach_for 2 "$B" m-rot --stderr >"$W/att2.out" 2>"$W/att2.err"
[ ! -s "$W/att2.out" ] && grep -Eqx 'tock-[0-9]+' "$W/att2.err"
check "Attach --stderr alone gets no stdout" $? "out: $(head -3 "$W/att2.out"); err: $(head -3 "$W/att2.err")"

ILOG=$W/m-in.log
out=$(ctl "$B" create m-in "$W/m-in" --stdin pipe:// --stdout "k8s-file://$ILOG" --stderr "k8s-file://$ILOG" 2>&1) &&
    ctl "$B" start m-in >/dev/null
check "a container with stdin pipe:// starts" $? "${out:-}; $(shim_log m-log 4)"
echo one | attach_for 2 "$B" m-in --stdin --stdout >"$W/in1.out" 2>&1; rc=$?
[ "$rc" = 124 ] && grep -qx got:one "$W/in1.out" && [ "$(ctl "$B" state m-in | cut -d' ' -f1)" = running ]
check "Attach --stdin: input reaches the process; its end does not close stdin (no stdin_once)" $? \
    "rc=$rc; $(cat "$W/in1.out"); $(ctl "$B" state m-in 2>&1)"
out=$(echo two | attach_for 10 "$B" m-in --stdin --stdin-once --stdout 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$out" = "got:two
eof" ]
check "Attach --stdin --stdin-once: input, then EOF; the session ends when the process has exited" $? "rc=$rc; $out"
st=$(ctl "$B" wait m-in 2>&1) && [ "$st" = 0 ] &&
    grep -Eqx "$TS stdout F got:one" "$ILOG" && grep -Eqx "$TS stdout F got:two" "$ILOG" && grep -Eqx "$TS stdout F eof" "$ILOG"
check "the pipe:// container exited 0, and everything it wrote is in its log" $? "wait ${st:-?}; $(cat "$ILOG" 2>&1)"

ctl "$B" kill m-rot KILL; st=$(ctl "$B" wait m-rot 2>&1)
[ "$st" = 137 ]; check "Kill KILL: Wait answers 137" $? "${st:-?}"
out="$(ctl "$B" delete m-log 2>&1) $(ctl "$B" delete m-in 2>&1) $(ctl "$B" delete m-rot 2>&1)"
[ "$out" = "0 0 137" ]; check "Delete answers each exit status (the pod's last container too)" $? "$out"
wait_for 10 eval '! alive "${SPB:-0}"' && [ ! -e "${B#unix://}" ]
check "the pod's shim exits once its last container is deleted" $? "shim ${SPB:-?}: $(alive "${SPB:-0}" && echo alive); $(shim_log m-log)"
left=$(for p in ${rpid:-}; do alive "$p" && echo "process $p"; done; cg_procs; cg_dirs
       grep -F " $W/" /proc/self/mountinfo; ls -A "$W/shim" 2>/dev/null; ls -d "$W"/berth-shimctl.* 2>/dev/null)
[ -z "$left" ]; check "nothing left behind: no process, cgroup, mount, shim state or attach socket" $? "$left"
exit $failed
