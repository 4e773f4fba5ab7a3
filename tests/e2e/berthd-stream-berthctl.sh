#!/usr/bin/env bash
# berthctl's streaming verbs against a real berthd: exec (output and stderr
# apart, the exit code, stdin piped in to its end, 1 MiB through, a
# terminal started at our size and following a resize), attach (a
# container printing in a loop; a container reading its stdin to its end)
# and port-forward (a busybox httpd in the pod's own network namespace,
# several connections, a port nothing listens on). The terminal cases run
# berthctl under script(1), which gives it a pty. Checked afterwards: no
# berthctl, exec or FIFO left. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

berthd_needs script curl timeout

W=$(mktemp -d /tmp/berth-e2e-ctlstream.XXXXXX)
CG=/berth-e2e-ctlstream-$$
BERTHD_PID= PF_PID=
cleanup() {
    [ -n "$PF_PID" ] && kill_pid "$PF_PID" 2
    berthd_cleanup "$CG"
}
on_exit cleanup

plan 24

cat > "$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
seccomp_profile = "$BERTH_SRC/contrib/seccomp/default.json"
X
start_berthd
check "berthd starts" $? "$(tail -5 "$W/berthd.log")"
ctl() { "$BERTHCTL" -r "unix://$W/berthd.sock" "$@"; }
IMG=localhost/berthd-ctlstream-e2e:1
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    ctl load -i "$W/img.tar" >/dev/null 2>&1
check "a busybox image loaded" $? ""

POD_CFG=$(printf '{"metadata":{"name":"s","namespace":"e2e","uid":"uid-s","attempt":0},"hostname":"s","logDirectory":"%s","linux":{"cgroupParent":"%s","securityContext":{"namespaceOptions":{"network":"POD","pid":"CONTAINER","ipc":"POD"}}}}' "$W/logs" "$CG")
POD=$(call RunPodSandbox "{\"config\":$POD_CFG}" 2>&1 | py 'd["podSandboxId"]' 2>/dev/null)
# container NAME CMD-JSON [EXTRA-CONFIG-JSON]: created and started; prints its id.
container() {
    local id
    id=$(call CreateContainer "$(printf '{"podSandboxId":"%s","config":{"metadata":{"name":"%s"},"image":{"image":"%s"},"command":%s,%s"envs":[{"key":"WHO","value":"berth"}],"logPath":"%s.log"},"sandboxConfig":%s}' "$POD" "$1" "$IMG" "$2" "${3:+$3,}" "$1" "$POD_CFG")" | py 'd["containerId"]') &&
        call StartContainer "{\"containerId\":\"$id\"}" >/dev/null && echo "$id"
}
CTR=$(container c '["sleep","3600"]' 2>&1)
[ -n "$POD" ] && [[ $CTR =~ ^[0-9a-f]{64}$ ]]
check "a pod with a running container" $? "$CTR"

# --- exec
ctl exec "$CTR" sh -c 'echo out-$WHO; echo err-$WHO >&2; exit 3' >"$W/o" 2>"$W/e"
rc=$?
[ $rc = 3 ] && [ "$(cat "$W/o")" = out-berth ] && [ "$(cat "$W/e")" = err-berth ]
check "exec: stdout and stderr apart, and exit code 3 as berthctl's" $? "rc=$rc out=$(cat "$W/o") err=$(cat "$W/e")"
ctl exec "$CTR" true
check "exec: exit 0" $? ""
out=$(printf 'a\nb\n' | ctl exec -i "$CTR" sh -c 'cat; echo end' 2>&1)
[ "$out" = "$(printf 'a\nb\nend')" ]
check "exec -i: stdin piped in reaches the command, and its end ends cat" $? "$out"
head -c 1048576 /dev/urandom >"$W/mib"
got=$(ctl exec -i "$CTR" cat <"$W/mib" | sha256sum)
[ "$got" = "$(sha256sum <"$W/mib")" ]
check "exec -i: 1 MiB through cat and back intact" $? "$got"
out=$(ctl exec "$CTR" /no/such/binary 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *"/no/such/binary"* ]]
check "exec of a command that does not exist: an error naming it, non-zero exit" $? "rc=$rc $out"
out=$(ctl exec nope true 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *"nope"* ]]
check "exec in an unknown container: the RPC's error" $? "rc=$rc $out"
out=$(ctl exec -s "$CTR" sh -c 'echo sync; exit 2' 2>&1)
rc=$?
[ $rc = 2 ] && [ "$out" = sync ]
check "exec -s still runs through ExecSync" $? "rc=$rc $out"

# --- a terminal: script(1) gives berthctl a pty of 30x100; a background
# job resizes it, which reaches berthctl as SIGWINCH.
cat >"$W/tty.sh" <<X
stty cols 100 rows 30
( sleep 2; stty cols 120 rows 40 </dev/tty ) &
$BERTHCTL -r unix://$W/berthd.sock exec -it $CTR sh -c 'stty size; tty; sleep 4; stty size; exit 5'
X
timeout 30 script -qec "bash $W/tty.sh" /dev/null >"$W/tty.out" 2>&1 </dev/null
rc=$?
out=$(tr -d '\r' <"$W/tty.out")
[ $rc = 5 ] && [[ $out == *"30 100"*"/dev/pts/"*"40 120"* ]]
check "exec -it: a terminal at our size, following a resize, and its exit code" $? "rc=$rc $out"
cat >"$W/tty-in.sh" <<X
stty cols 90 rows 20
printf 'echo typed-\$((6*7))\nexit\n' | $BERTHCTL -r unix://$W/berthd.sock exec -t $CTR sh -c 'stty size'
(sleep 0.5; printf 'echo typed-\$((6*7)); exit\r') | $BERTHCTL -r unix://$W/berthd.sock exec -i -t $CTR sh
X
timeout 30 script -qec "bash $W/tty-in.sh" /dev/null >"$W/tty-in.out" 2>&1 </dev/null
out=$(tr -d '\r' <"$W/tty-in.out")
[[ $out == *"typed-42"* ]]
check "exec -it with stdin from a pipe: a shell reads it through the terminal" $? "$out"

# --- attach
TICK=$(container tick '["sh","-c","i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done"]' 2>&1)
timeout 2 "$BERTHCTL" -r "unix://$W/berthd.sock" attach "$TICK" >"$W/tick.out" 2>&1
rc=$?
ticks=$(grep -c '^tick-' "$W/tick.out")
[ $rc = 124 ] && [ "$ticks" -ge 4 ]
check "attach: a container printing in a loop, seen live until we leave" $? "rc=$rc lines=$ticks $(head -c 300 "$W/tick.out")"
state=$(call ContainerStatus "{\"containerId\":\"$TICK\"}" | py 'd["status"]["state"]' 2>&1)
[ "$state" = CONTAINER_RUNNING ]
check "...and the container runs on after the client left" $? "$state"
TALK=$(container talk '["sh","-c","while read l; do echo got-$l; done; echo bye; exit 4"]' '"stdin":true,"stdinOnce":true' 2>&1)
out=$(printf 'a\nb\n' | ctl attach -i "$TALK" 2>&1)
rc=$?
[ "$out" = "$(printf 'got-a\ngot-b\nbye')" ]
check "attach -i: stdin reaches the container, its end (stdin_once) ends it" $? "rc=$rc $out"

# --- port-forward
WEB=$(container web '["sh","-c","mkdir -p /www && echo hello-pf > /www/index.html && exec httpd -f -p 8080 -h /www"]' 2>&1)
[[ $WEB =~ ^[0-9a-f]{64}$ ]]
check "a container serving HTTP on 8080 in the pod's network namespace" $? "$WEB"
"$BERTHCTL" -r "unix://$W/berthd.sock" port-forward "$POD" :8080 9 >"$W/pf.out" 2>"$W/pf.err" &
PF_PID=$!
wait_for 10 grep -q 'Forwarding from 127.0.0.1:[0-9]* -> 9$' "$W/pf.out"
LP=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) -> 8080$/\1/p' "$W/pf.out")
[ -n "$LP" ] && [ "$LP" != 0 ]
check "port-forward :8080 listens on a free local port and says which" $? "$(cat "$W/pf.out" "$W/pf.err")"
sleep 0.3
out=$(curl -s --max-time 10 "http://127.0.0.1:$LP/")
[ "$out" = hello-pf ]
check "port-forward: HTTP through it reaches the httpd in the pod" $? "$out $(cat "$W/pf.err")"
ok=0
curls=()
for i in 1 2 3 4; do
    curl -s --max-time 10 "http://127.0.0.1:$LP/" >"$W/par.$i" &
    curls+=($!)
done
wait "${curls[@]}"
for i in 1 2 3 4; do [ "$(cat "$W/par.$i")" = hello-pf ] && ok=$((ok + 1)); done
[ $ok = 4 ]
check "port-forward: four connections at once, each its own stream" $? "ok=$ok $(cat "$W/pf.err")"
out=$(curl -s --max-time 10 "http://127.0.0.1:9/" 2>&1)
sleep 0.3
grep -q "error forwarding port 9" "$W/pf.err"
check "port-forward to a port nothing listens on: the connection ends and berthctl says why" $? "$(cat "$W/pf.err")"
alive "$PF_PID"
check "...and port-forward goes on serving" $? ""
kill_pid "$PF_PID" 5
PF_PID=
out=$(ctl port-forward nope 8080 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *nope* ]]
check "port-forward to an unknown pod fails at once, naming it" $? "rc=$rc $out"

# --- nothing left behind
sleep 0.5
[ -z "$(ls -A "$W/state/streams" 2>/dev/null)" ] && ! pgrep -f "berthctl -r unix://$W/" >/dev/null
check "no FIFO and no berthctl left" $? "$(ls -la "$W/state/streams"; pgrep -af "berthctl -r unix://$W/")"
call StopPodSandbox "{\"podSandboxId\":\"$POD\"}" >/dev/null 2>&1 && call RemovePodSandbox "{\"podSandboxId\":\"$POD\"}" >/dev/null 2>&1
check "the pod removed" $? ""
exit $failed
