#!/usr/bin/env bash
# A config that queues (queue = true) on a real berthd: two workloads of
# 48 MiB fill a 96 MiB quota, the next Runs get their ids at once, queued
# FIFO and listed so with their place; a queued one is canceled without
# ever starting; when a running one ends, the head of the queue starts
# (its creation time is the Run's), and a foreground `berthctl run` that
# was queued streams its output and exits with its code once it starts;
# Ctrl-C cancels a queued run; the queue survives a kill -9 of berthd; a
# queued execution is not removed until canceled. Then a Run's mounts:
# a host path under one of the config's mounts is bound in (read-only when
# asked); one outside them, or one leading out through a symlink or "..",
# is refused naming the field; removal leaves no staging mount. Nothing is
# left behind. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

W=$(mktemp -d /tmp/berth-e2e-execq.XXXXXX)
CG=/berth-e2e-execq-$$
BERTHD_PID=
FG_PID=
GQ=btq$$ U=btr$$
cleanup() {
    [ -n "$FG_PID" ] && kill -KILL "$FG_PID" 2>/dev/null
    berthd_cleanup "$CG"
    userdel "$U" 2>/dev/null
    groupdel "$GQ" 2>/dev/null
}
on_exit cleanup

plan 23

IMG=localhost/berthd-execq-e2e:1
groupadd "$GQ" && useradd -M -N -g "$GQ" -s /usr/sbin/nologin -d / "$U" || echo "# could not make the test's user"
cat >"$W/berthd.toml" <<X
socket_group = "$GQ"
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
[configs.fifo]
image = "$IMG"
resources.memory = "48m"
quota.memory = "96m"
queue = true
[configs.mine]
image = "$IMG"
groups = ["$GQ"]
resources.memory = "48m"
quota.memory = "1g"
quota.per_user.memory = "48m"
queue = true
[configs.vols]
image = "$IMG"
mounts = ["$W/shared"]
X
start_berthd
check "berthd starts with a config that queues" $? "$(tail -3 "$W/berthd.log")"
CTL=("$BERTHCTL" -r "unix://$W/berthd.sock")
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    "${CTL[@]}" load -i "$W/img.tar" >/dev/null 2>&1
check "the config's image loaded" $? ""

# field ID KEY: one field of `berthctl executions -a -o json`'s entry for ID
field() {
    "${CTL[@]}" executions -a -o json | python3 -c '
import json, sys
for e in json.load(sys.stdin)["executions"]:
    if e["id"] == sys.argv[1]: print(e.get(sys.argv[2], ""))' "$1" "$2"
}
state_is() { [ "$(field "$1" state)" = "$2" ]; }

r1=$("${CTL[@]}" run -d --config fifo -- sleep 300) && r2=$("${CTL[@]}" run -d --config fifo -- sleep 300)
check "two 48 MiB workloads fill the 96 MiB quota" $? "$r1 $r2"
q1=$("${CTL[@]}" run -d --config fifo -- sleep 300 2>"$W/q1.err")
rc=$?
q2=$("${CTL[@]}" run -d --config fifo -- sleep 300 2>"$W/q2.err")
q3=$("${CTL[@]}" run -d --config fifo -- sleep 300 2>/dev/null)
[ $rc = 0 ] && [ -n "$q1" ] && grep -q "queued (place 1)" "$W/q1.err" && grep -q "queued (place 2)" "$W/q2.err"
check "the next Runs return their ids at once, queued with their place" $? "rc=$rc q1=$q1 $(cat "$W/q1.err" "$W/q2.err")"
[ "$(field "$q1" state)" = queued ] && [ "$(field "$q1" queuePosition)" = 1 ] && [ "$(field "$q2" queuePosition)" = 2 ] &&
    [ "$(field "$q3" queuePosition)" = 3 ] && [ "$(field "$r1" state)" = running ]
check "List shows them queued, FIFO, beside the running ones" $? "$("${CTL[@]}" executions -a)"
pods=$("$CRI_CLIENT" -a "$W/berthd.sock" call ListPodSandbox '{}' | py 'len(d.get("items", []))')
[ "$pods" = 2 ]
check "a queued execution has no pod yet" $? "pods=$pods"

"${CTL[@]}" cancel "$q2" >/dev/null
[ "$(field "$q2" state)" = exited ] && [ "$(field "$q2" reason)" = Canceled ] && [ "$(field "$q3" queuePosition)" = 2 ]
check "a queued one canceled leaves the queue without starting (reason Canceled); those behind move up" $? "$("${CTL[@]}" executions -a)"
out=$("${CTL[@]}" rm-execution "$q3" 2>&1)
[[ $out == *FailedPrecondition*"queued: Cancel it first"* ]]
check "a queued execution is not removed until canceled" $? "$out"

"${CTL[@]}" cancel --grace 0 "$r1" >/dev/null
wait_for 15 state_is "$q1" running
check "a running one ends: the head of the queue starts" $? "$("${CTL[@]}" executions -a)"
created=$(field "$q1" createdAt) started=$(field "$q1" startedAt)
[ -n "$created" ] && [ -n "$started" ] && [ "$created" -lt "$started" ] && state_is "$q3" queued
check "...its creation time is the Run's, before its start; the next still waits" $? "created=$created started=$started"

# A foreground run that has to wait: its output once it starts.
"${CTL[@]}" run --config fifo -- sh -c 'echo from-the-queue; exit 4' >"$W/fg.out" 2>"$W/fg.err" &
FG_PID=$!
wait_for 10 grep -qs "queued (place 2)" "$W/fg.err"
q_ok=$?
"${CTL[@]}" cancel --grace 0 "$r2" >/dev/null   # room for q3, then the foreground one once q3 goes
wait_for 15 state_is "$q3" running && "${CTL[@]}" cancel --grace 0 "$q3" >/dev/null
wait "$FG_PID"
rc=$? FG_PID=
[ $q_ok = 0 ] && [ $rc = 4 ] && [ "$(cat "$W/fg.out")" = from-the-queue ]
check "a queued foreground run streams its output and exits with its code once it starts" $? "rc=$rc out=$(cat "$W/fg.out") err=$(cat "$W/fg.err")"

# Ctrl-C on a queued run cancels it.
r3=$("${CTL[@]}" run -d --config fifo -- sleep 300)
"${CTL[@]}" run --config fifo -- echo never >"$W/int.out" 2>&1 &
FG_PID=$!
wait_for 10 grep -qs "queued (place 1)" "$W/int.out"
kill -INT "$FG_PID"
wait "$FG_PID"
rc=$? FG_PID=
last=$("${CTL[@]}" executions -a -o json | python3 -c 'import json,sys; e=json.load(sys.stdin)["executions"][0]; print(e["state"], e["reason"])')
[ $rc = 130 ] && [ "$last" = "exited Canceled" ] && ! grep -q '^never' "$W/int.out"
check "Ctrl-C on a queued run cancels it (exit 130, reason Canceled, never started)" $? "rc=$rc last=$last $(cat "$W/int.out")"

# The queue across a kill -9 of berthd.
q4=$("${CTL[@]}" run -d --config fifo -- sh -c 'echo after-restart' 2>/dev/null)
kill -KILL "$BERTHD_PID"
wait "$BERTHD_PID" 2>/dev/null
start_berthd
[ "$(field "$q4" state)" = queued ] && [ "$(field "$q4" queuePosition)" = 1 ]
check "after kill -9 and a restart of berthd the queued Run is still queued, in its place" $? "$("${CTL[@]}" executions -a)"
"${CTL[@]}" cancel --grace 0 "$r3" >/dev/null
rc=$("${CTL[@]}" wait "$q4" 2>&1)
out=$("${CTL[@]}" logs "$q4" 2>&1)
[ "$rc" = 0 ] && [ "$out" = after-restart ]
check "...and starts once there is room; wait follows it through the queue" $? "rc=$rc logs=$out"

out=$("${CTL[@]}" run -d --config fifo -l io.berth.execution=x -- true 2>&1)
[[ $out == *InvalidArgument*"io.berth.* labels are berthd's"* ]]
check "a bad request is refused at Run, not once it leaves the queue" $? "$out"

# One user's backlog does not hold back another's.
chmod 711 "$W"
cp "$BERTHCTL" "$W/berthctl" && chmod 755 "$W/berthctl"
as() { setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups "$W/berthctl" -r "unix://$W/berthd.sock" "$@"; }
u1= u2= mine=
u1=$(as run -d --config mine -- sleep 300 2>&1) && u2=$(as run -d --config mine -- sleep 300 2>/dev/null)
mine=$("${CTL[@]}" run -d --config mine -- sleep 300 2>"$W/mine.err")
state_is "$u1" running && state_is "$u2" queued && state_is "$mine" running && ! grep -q queued "$W/mine.err"
check "a user's run past their own cap queues; another user's run under the same config starts at once" $? "$u1 $u2 $mine $("${CTL[@]}" executions -a)"
as cancel --grace 0 "$u1" >/dev/null
wait_for 15 state_is "$u2" running
check "...and the user's queued run starts once their own ends" $? "$("${CTL[@]}" executions -a)"

# --- a Run's mounts
mkdir -p "$W/shared/data" "$W/shared/out" && echo hello >"$W/shared/data/hello" &&
    ln -s /etc "$W/shared/abs" && ln -s ../../../../../.. "$W/shared/up"
out=$("${CTL[@]}" run --config vols --mount "$W/shared/data:/data:ro" -- sh -c 'cat /data/hello; touch /data/x 2>/dev/null && echo writable' 2>&1)
[ "$out" = hello ] && [ ! -e "$W/shared/data/x" ]
check "a host path under the config's mounts is bound in, read-only when asked" $? "$out"
"${CTL[@]}" run --config vols --mount "$W/shared/out:/out" -- sh -c 'echo written >/out/f' >/dev/null 2>&1
[ "$(cat "$W/shared/out/f" 2>&1)" = written ]
check "...and read-write otherwise" $? "$(ls -la "$W/shared/out")"
out=$("${CTL[@]}" run --config vols --mount "/etc:/x" -- true 2>&1)
[[ $out == *PermissionDenied*"mounts[0].host_path"*'"/etc" is not under any of config "vols"'* ]]
check "a host path outside the config's mounts: PermissionDenied naming mounts[0]" $? "$out"
out=$("${CTL[@]}" run --config fifo --mount "$W/shared/data:/data" -- true 2>&1)
[[ $out == *PermissionDenied*'config "fifo"'*"allows none"* ]]
check "a config without mounts allows none" $? "$out"
out1=$("${CTL[@]}" run --config vols --mount "$W/shared/abs/passwd:/p" -- cat /p 2>&1)
out2=$("${CTL[@]}" run --config vols --mount "$W/shared/up/etc/passwd:/p" -- cat /p 2>&1)
out3=$("${CTL[@]}" run --config vols --mount "$W/shared/../../etc/passwd:/p" -- cat /p 2>&1)
[[ $out1 == *InvalidArgument*"mounts[0].host_path"* ]] && [[ $out2 == *InvalidArgument*"mounts[0].host_path"* ]] &&
    [[ $out3 == *InvalidArgument*'without "." or ".."'* ]] && [[ $out1$out2$out3 != *root:* ]]
check "symlinks (absolute or ../..) are resolved inside the allowed dir, and ".." is refused: the host's /etc stays out" $? "$out1 | $out2 | $out3"

for e in $("${CTL[@]}" executions -q); do "${CTL[@]}" cancel --grace 0 "$e" >/dev/null; done
for e in $("${CTL[@]}" executions -a -q); do "${CTL[@]}" rm-execution "$e" >/dev/null || echo "rm $e failed"; done
pods=$("$CRI_CLIENT" -a "$W/berthd.sock" call ListPodSandbox '{}' | py 'len(d.get("items", []))')
[ -z "$("${CTL[@]}" executions -a -q)" ] && [ "$pods" = 0 ] && [ -z "$(ls -A "$W/root/executions/queue")" ] &&
    ! grep -q "$W/state/executions/mounts" /proc/self/mountinfo && [ -z "$(ls -A "$W/state/executions/mounts" 2>/dev/null)" ]
check "cancel and rm-execution of everything: no execution, pod, queue record or staging mount is left" $? "pods=$pods $(ls -la "$W/root/executions/queue") $(grep "$W" /proc/self/mountinfo)"
exit $failed
