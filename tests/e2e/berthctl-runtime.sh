#!/usr/bin/env bash
# e2e: berthctl's runtime verbs (crictl's) against a real CRI server: by
# default a private containerd (Debian's 1.6) with its CRI plugin and runc
# (tests/cri/containerd-cri.sh); with BERTHCTL_ENDPOINT set, that server
# instead (berthd: BERTHCTL_ENDPOINT=unix:///run/berth/berthd.sock, with
# BERTHCTL_IMAGE pulled there and BERTHCTL_HANDLER its handler, if any).
# Every verb: runp/pods/inspectp, create/start/ps/inspect, exec -s (output,
# exit code, timeout), logs (partial lines joined, --tail, --timestamps,
# --since, -f across a log rotation), stats/statsp, update (the memory
# cgroup's limit), stop/rm, stopp/rmp, run, events, --help, and bad input
# (unknown ids, a config with an unknown field). TAP output.
#
# Everything lives in a temp dir: containerd's root, state, sockets, the
# configs, the pods' logs. Pods get the cgroup parent /berth-e2e-ctl-PID.
# On exit, failures included: background berthctl processes are killed by
# PID, pods are removed, containerd and its shims are killed by PID, then
# leftover processes in our cgroups, the cgroups, mounts under the temp dir
# and the temp dir are removed.
set -u
BERTHCTL=${BERTHCTL:?BERTHCTL must name the berthctl binary}
BERTH_SRC=${BERTH_SRC:?BERTH_SRC must name the source tree}
. "$BERTH_SRC/tests/e2e/lib.sh"
. "$BERTH_SRC/tests/cri/containerd-cri.sh"

ENDPOINT=${BERTHCTL_ENDPOINT:-}
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
[ -x "$BERTHCTL" ] || { echo "1..0 # SKIP $BERTHCTL is not built"; exit 0; }
if [ -z "$ENDPOINT" ]; then
    for t in containerd ctr busybox runc; do
        command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed"; exit 0; }
    done
fi

W=$(mktemp -d /tmp/berth-e2e-ctl.XXXXXX)
CG=berth-e2e-ctl-$$
BG=''     # background jobs
PODS=''   # pod ids, for cleanup
HANDLER=${BERTHCTL_HANDLER:-}
c() { "$BERTHCTL" -r "$ENDPOINT" -t 60s "$@"; }
runtime_flag() { [ -n "$HANDLER" ] && echo "--runtime=$HANDLER"; }
cg_procs() { find /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG" -name cgroup.procs -exec cat {} + 2>/dev/null; }
tail_log() { tail -n "${1:-5}" "$W/containerd.log" 2>/dev/null; }

cleanup() {
    local p d
    for p in $BG; do kill_pid "$p" 2; done
    if [ -n "$ENDPOINT" ]; then
        for p in $PODS $(c pods -q --namespace '^berthctl-e2e$' 2>/dev/null); do c rmp -f "$p" >/dev/null 2>&1; done
    fi
    cri_stop
    for p in $(cg_procs); do kill -KILL "$p" 2>/dev/null; done
    for d in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
        [ -d "$d" ] || continue
        wait_for 5 eval "[ -z \"\$(find '$d' -name cgroup.procs -exec cat {} + 2>/dev/null)\" ]"
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    umount_under "$W"
    [ -n "${KEEP_LOG:-}" ] && cp "$W/containerd.log" "$KEEP_LOG"
    rm -rf "$W"
}
on_exit cleanup


# ---- the server ------------------------------------------------------------
if [ -z "$ENDPOINT" ]; then
    cri_setup "$W" "" "" >/dev/null 2>&1
    # Short log lines: containerd splits longer ones into partial (P)
    # records, which berthctl logs must join.
    sed -i 's/^  restrict_oom_score_adj = true$/&\n  max_container_log_line_size = 64/' "$W/config.toml"
    cri_start
    ENDPOINT=unix://$CRI_SOCK
    IMAGE=$CRI_IMAGE
else
    IMAGE=${BERTHCTL_IMAGE:?BERTHCTL_IMAGE must name an image pulled on $ENDPOINT}
fi
out=$(c version 2>&1)
check "the CRI server answers berthctl version" $? "$out; $(tail_log)"

mkdir -p "$W/logs"
# A host-network pod (no CNI) as JSON, its container as YAML.
pod_config() {   # pod_config NAME FILE
    cat >"$2" <<X
{
    "metadata": {"name": "$1", "namespace": "berthctl-e2e", "uid": "$1-$$", "attempt": 0},
    "log_directory": "$W/logs/$1",
    "labels": {"e2e": "berthctl"},
    "linux": {
        "cgroup_parent": "/$CG",
        "security_context": {"namespace_options": {"network": "NODE"}}
    }
}
X
}
pod_config p1 "$W/p1.json"
pod_config p2 "$W/p2.json"
long=$(printf 'L%.0s' $(seq 1 150))   # 150 chars: three records at 64
cat >"$W/c1.yaml" <<X
metadata:
  name: c1
image:
  image: $IMAGE
command: [sh, -c]
args:
  - |
    echo out-1; echo err-1 >&2; echo $long
    i=0; while :; do echo tick \$i; i=\$((i+1)); sleep 0.2; done
log_path: c1.log
labels:
  role: ticker
X

# ---- events, in the background from here on --------------------------------
c events >"$W/events.out" 2>"$W/events.err" &
EV=$!; BG="$BG $EV"

# ---- pods ------------------------------------------------------------------
P=$(c runp $(runtime_flag) "$W/p1.json" 2>"$W/err"); rc=$?
PODS="$PODS $P"
[ "$rc" = 0 ] && [[ $P =~ ^[0-9a-f]{12,}$ ]]
check "runp pod.json prints the pod id" $? "rc=$rc '$P' $(cat "$W/err"); $(tail_log)"

out=$(c pods 2>&1)
head=$(head -1 <<<"$out" | tr -s ' ')
row=$(grep "^${P:0:13} " <<<"$out" | tr -s ' ')
[ "$head" = "POD ID CREATED STATE NAME NAMESPACE ATTEMPT RUNTIME" ] && [[ $row == *" ago Ready p1 berthctl-e2e 0 "* ]]
check "pods: crictl's columns, the pod Ready" $? "$out"

out=$(c pods -q --name '^p1$' --namespace berthctl-e2e --state ready --label e2e=berthctl 2>&1)
[ "$out" = "$P" ]
check "pods -q with --name, --namespace, --state, --label" $? "$out"
out=$(c pods -q --state notready 2>&1)
[ -z "$out" ]
check "pods --state notready: none" $? "$out"

out=$(c inspectp "$P" 2>&1)
python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["status"]; assert s["id"]==sys.argv[1] and s["state"]=="SANDBOX_READY" and s["metadata"]["name"]=="p1" and "T" in s["createdAt"], d' "$P" <<<"$out" 2>&1
check "inspectp: status (id, state, createdAt as a time) and info as JSON" $? "$out"
out=$(c inspectp -o table "$P" 2>&1)
grep -qx "ID: $P" <<<"$out" && grep -qx "Status: SANDBOX_READY" <<<"$out"
check "inspectp -o table" $? "$out"

# ---- containers ------------------------------------------------------------
C=$(c create "$P" "$W/c1.yaml" "$W/p1.json" 2>"$W/err"); rc=$?
[ "$rc" = 0 ] && [[ $C =~ ^[0-9a-f]{12,}$ ]]
check "create POD container.yaml pod.json prints the container id" $? "rc=$rc '$C' $(cat "$W/err"); $(tail_log)"

running=$(c ps -q 2>&1); all=$(c ps -a --state created -q 2>&1)
[ -z "$running" ] && [ "$all" = "$C" ]
check "ps lists running containers; ps -a --state created the created one" $? "ps -q: '$running'; ps -aq: '$all'"

out=$(c start "$C" 2>&1)
[ "$out" = "$C" ]
check "start prints the id" $? "$out; $(tail_log)"

out=$(c ps 2>&1)
head=$(head -1 <<<"$out" | tr -s ' ')
row=$(grep "^${C:0:13} " <<<"$out" | tr -s ' ')
[ "$head" = "CONTAINER IMAGE CREATED STATE NAME ATTEMPT POD ID POD NAMESPACE" ] &&
    [[ $row == *" ago Running c1 0 ${P:0:13} "* ]]
check "ps: crictl's columns, the container Running in its pod" $? "$out"
out=$(c ps -q --pod "$P" --name 'c.' --label role=ticker --image "$IMAGE" 2>&1)
[ "$out" = "$C" ]
check "ps -q with --pod, --name, --label, --image" $? "$out"
out=$(c ps -o json --no-trunc 2>&1)
python3 -c 'import json,sys; d=json.load(sys.stdin); assert [x["id"] for x in d["containers"]]==[sys.argv[1]], d' "$C" <<<"$out" 2>&1
check "ps -o json" $? "$out"

# The bash completion (generated from berthctl's tables): verbs, a verb's
# flags, and ids from the server the command line names.
BC=${BERTHCTL_BASH_COMPLETION:-}
if [ -n "$BC" ] && [ -f "$BC" ]; then
    cw() { bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _berthctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$BC" "$@"; }
    v=$(cw "$BERTHCTL" insp | sort | tr '\n' ' '); f=$(cw "$BERTHCTL" logs --ti); i=$(cw "$BERTHCTL" -r "$ENDPOINT" stop "")
    [ "$v" = "inspect inspecti inspectp " ] && [ "$f" = --timestamps ] && [ "$i" = "$C" ]
    check "bash completion: verbs, flags, container ids from -r's server" $? "verbs '$v' flags '$f' ids '$i'"
else
    skip_check "bash completion" "BERTHCTL_BASH_COMPLETION is not set"
fi

out=$(c inspect "$C" 2>&1)
pid=$(python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["status"]; assert s["id"]==sys.argv[1] and s["state"]=="CONTAINER_RUNNING" and s["finishedAt"].startswith("0001"), d; i=d.get("info", d); print(i["pid"])' "$C" <<<"$out" 2>&1)
check "inspect: status running, info with the pid" $? "$out $pid"

# ---- exec -s ---------------------------------------------------------------
c exec -s "$C" sh -c 'echo x; echo y >&2; exit 3' >"$W/o1" 2>"$W/e1"; rc=$?
[ "$rc" = 3 ] && [ "$(cat "$W/o1")" = x ] && [ "$(cat "$W/e1")" = y ]
check "exec -s: stdout, stderr, the command's exit code" $? "rc=$rc; out: $(cat "$W/o1"); err: $(cat "$W/e1")"
out=$(c exec -s --timeout 1 "$C" sleep 30 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *ExecSync* ]]
check "exec -s --timeout 1 of sleep 30 fails with the server's timeout" $? "rc=$rc $out"
c exec "$C" sh -c 'echo s-out; echo s-err >&2; exit 4' >"$W/o2" 2>"$W/e2"; rc=$?
[ "$rc" = 4 ] && [ "$(cat "$W/o2")" = s-out ] && [ "$(cat "$W/e2")" = s-err ]
check "exec without -s streams through the server's streaming URL: stdout, stderr, the exit code" $? "rc=$rc; out: $(cat "$W/o2"); err: $(cat "$W/e2")"

# ---- logs ------------------------------------------------------------------
LOG=$W/logs/p1/c1.log
wait_for 20 grep -q 'tick 3$' "$LOG"
if [ -n "$ENDPOINT" ]; then
    # Only the private containerd is set to split lines past 64 bytes.
    skip_check "the runtime wrote partial (P) records for the long line" "another server's line limit"
else
    grep -q " stdout P " "$LOG"
    check "the runtime wrote partial (P) records for the long line" $? "$(head -c 600 "$LOG")"
fi
c logs "$C" >"$W/lo" 2>"$W/le"; rc=$?
[ "$rc" = 0 ] && [ "$(sed -n 1p "$W/lo")" = out-1 ] && [ "$(sed -n 2p "$W/lo")" = "$long" ] &&
    [ "$(cat "$W/le")" = err-1 ] && grep -qx 'tick 3' "$W/lo"
check "logs: stdout and stderr apart, partial records joined into one line" $? \
    "rc=$rc; stdout: $(head -3 "$W/lo"); stderr: $(cat "$W/le")"
out=$(c logs --tail 1 "$C" 2>/dev/null)
[ "$(wc -l <<<"$out")" = 1 ] && [[ $out == "tick "* ]]
check "logs --tail 1: the last line" $? "$out"
out=$(c logs --tail 2 --timestamps "$C" 2>/dev/null)
[ "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) tick [0-9]+$' <<<"$out")" = 2 ]
check "logs --timestamps: RFC3339 then the line" $? "$out"
out=$(c logs --since 2099-01-01T00:00:00Z "$C" 2>&1); rc=$?
[ "$rc" = 0 ] && [ -z "$out" ]
check "logs --since a later time: nothing" $? "rc=$rc $out"

# -f across a rotation: the file renamed, ReopenContainerLog (logs -r),
# lines of the new file arrive.
c logs -f --tail 0 "$C" >"$W/follow" 2>&1 &
FOL=$!; BG="$BG $FOL"
wait_for 20 grep -q '^tick' "$W/follow"
mv "$LOG" "$LOG.1" && c logs -r --tail 0 "$C" >/dev/null 2>&1 && wait_for 20 grep -q 'tick' "$LOG"
k=$(tail -1 "$LOG" | awk '{print $NF}')
wait_for 20 grep -qx "tick $k" "$W/follow"
check "logs -f follows the log across a rotation (rename + reopen)" $? \
    "new file: $(head -2 "$LOG" 2>&1); followed: $(tail -3 "$W/follow")"

# ---- stats -----------------------------------------------------------------
out=$(c stats 2>&1)
head=$(head -1 <<<"$out" | tr -s ' ')
[ "$head" = "CONTAINER NAME CPU % MEM DISK INODES SWAP" ] && grep -q "^${C:0:13} *c1 " <<<"$out"
check "stats: crictl's columns and the container" $? "$out"
out=$(c stats -o json --id "$C" 2>&1)
python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["stats"][0]; assert s["attributes"]["id"]==sys.argv[1] and int(s["memory"]["workingSetBytes"]["value"])>0, d' "$C" <<<"$out" 2>&1
check "stats -o json --id: the container's memory" $? "$out"
out=$(c statsp 2>&1); rc=$?
if [[ $out == *Unimplemented* ]]; then
    skip_check "statsp" "the server does not implement ListPodSandboxStats: $out"
else
    [ "$rc" = 0 ] && [ "$(head -1 <<<"$out" | tr -s ' ')" = "POD POD ID CPU % MEM" ] && grep -q "^p1 *${P:0:13} " <<<"$out"
    check "statsp: crictl's columns and the pod" $? "$out"
fi

# ---- update ----------------------------------------------------------------
out=$(c update --memory 67108864 --cpu-share 512 "$C" 2>&1); rc=$?
d=$(cgroup_dir "$pid" memory)
lim=$(cat "$d/memory.limit_in_bytes" 2>/dev/null || cat "$d/memory.max" 2>/dev/null)
[ "$rc" = 0 ] && [ "$out" = "$C" ] && [ "$lim" = 67108864 ]
check "update --memory: the container's memory cgroup limit" $? "rc=$rc $out; $d: $lim"

# ---- stop, rm --------------------------------------------------------------
out=$(c stop -t 2 "$C" 2>&1)
[ "$out" = "$C" ] && [ "$(c ps -a --state exited -q 2>&1)" = "$C" ]
check "stop -t 2: the container exited" $? "$out; $(c ps -a 2>&1)"
wait_for 20 eval '! alive $FOL'
check "logs -f ends when the container stops" $? "$(tail -3 "$W/follow")"
out=$(c inspect -o yaml "$C" 2>&1)
grep -q "state: CONTAINER_EXITED" <<<"$out" && grep -q "exitCode:" <<<"$out"
check "inspect -o yaml of the exited container" $? "$out"
out=$(c rm "$C" 2>&1)
[ "$out" = "$C" ] && [ -z "$(c ps -aq 2>&1)" ] && [ ! -e "$LOG" ] && [ ! -e "$LOG.1" ]
check "rm: the container and its logs gone" $? "$out; $(c ps -a 2>&1); $(ls "$W/logs/p1")"

# ---- events ----------------------------------------------------------------
ev_has() { grep -q "\"containerEventType\": \"$1\"" "$W/events.out"; }
if grep -q Unimplemented "$W/events.err"; then
    skip_check "events: created, started, stopped" "the server does not implement GetContainerEvents: $(cat "$W/events.err")"
else
    wait_for 10 ev_has CONTAINER_STOPPED_EVENT
    ev_has CONTAINER_CREATED_EVENT && ev_has CONTAINER_STARTED_EVENT && ev_has CONTAINER_STOPPED_EVENT &&
        grep -q "\"containerId\": \"$C\"" "$W/events.out"
    check "events: created, started, stopped of the container" $? "$(head -c 800 "$W/events.out") $(cat "$W/events.err")"
fi

# ---- stopp, rmp ------------------------------------------------------------
out=$(c rmp "$P" 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"is running, please stop it first"* ]]
check "rmp of a ready pod without -f: refused" $? "rc=$rc $out"
out=$(c stopp "$P" 2>&1)
[ "$out" = "Stopped sandbox $P" ] && [ "$(c pods -q --state notready 2>&1)" = "$P" ]
check "stopp: Stopped sandbox ID, the pod NotReady" $? "$out; $(c pods 2>&1)"
out=$(c rmp "$P" 2>&1)
[ "$out" = "Removed sandbox $P" ] && [ -z "$(c pods -q 2>&1)" ]
check "rmp: Removed sandbox ID, no pods" $? "$out; $(c pods 2>&1)"

# ---- run -------------------------------------------------------------------
C2=$(c run --no-pull $(runtime_flag) "$W/c1.yaml" "$W/p2.json" 2>"$W/err"); rc=$?
P2=$(c ps -q --id "$C2" -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["containers"][0]["podSandboxId"])' 2>/dev/null)
PODS="$PODS $P2"
[ "$rc" = 0 ] && [ -n "$P2" ] && [ "$(c pods -q --name p2 2>&1)" = "$P2" ] && [ "$(c ps -q 2>&1)" = "$C2" ]
check "run: a pod and its container, running" $? "rc=$rc '$C2' $(cat "$W/err"); $(c ps -a 2>&1)"
out=$(c rmp -f "$P2" 2>&1)
[ "$(tail -1 <<<"$out")" = "Removed sandbox $P2" ] && [ -z "$(c pods -q 2>&1)" ] && [ -z "$(c ps -aq 2>&1)" ]
check "rmp -f: stops and removes the pod and its container" $? "$out; $(c pods 2>&1)"

# ---- bad input -------------------------------------------------------------
out=$(c inspect 0123456789abcdef 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"code = NotFound"* ]] && [[ $out == *0123456789abcdef* ]]
check "inspect of an unknown id: non-zero, the server's NotFound" $? "rc=$rc $out"
out=$(c stopp 0123456789abcdef 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"stopping the pod sandbox \"0123456789abcdef\""* ]] && [[ $out == *"rpc error"* ]]
check "stopp of an unknown id: non-zero, the server's message" $? "rc=$rc $out"
printf 'metadata:\n  name: bad\n  namespace: n\n  nmae: typo\n' >"$W/bad.yaml"
out=$(c runp "$W/bad.yaml" 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"$W/bad.yaml"* ]] && [[ $out == *'unknown field "metadata.nmae"'* ]] && [ -z "$(c pods -q 2>&1)" ]
check "runp of a config with an unknown field: the field and the file named, no pod" $? "rc=$rc $out"

# ---- --help ----------------------------------------------------------------
bad=
for v in runp stopp rmp pods inspectp create start stop rm ps inspect exec logs stats statsp update events run; do
    h=$("$BERTHCTL" "$v" --help 2>&1) && [[ $h == "Usage: berthctl $v"* ]] || bad="$bad $v"
done
[ -z "$bad" ]
check "--help on every runtime verb" $? "failed:$bad"

plan "$n"
exit $failed
