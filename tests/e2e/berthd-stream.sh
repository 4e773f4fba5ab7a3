#!/usr/bin/env bash
# berthd's streaming exec end to end: the Exec RPC through its socket
# (cri-client) hands out a URL of berthd's streaming server, and a real
# client on it runs the command in a container: npm's spdy-transport
# (SPDY/3.1, as kubectl's and crictl's executor) and npm's ws (WebSocket,
# as client-go's WebSocket executor), over v4 and v5 and the older
# protocols, and port-forward to a pod's httpd over both. Checked: output
# and exit codes (the v4 metav1.Status), stdin through to the process and
# its end, 1 MiB each way intact, a terminal and its size, stderr apart, a
# single-use token (404 the second time), bad requests refused at the RPC
# with CRI's codes, a client that goes away (its process killed), the
# port-forward prefixes and errors, and no exec, FIFO or process left
# behind. TAP.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

berthd_needs node
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
export NODE_PATH=${BERTH_NODE_MODULES:-$ROOT_DIR/tests/stream/spdy/node_modules:$ROOT_DIR/tests/stream/ws/node_modules}
node -e "require('ws'); require('spdy-transport')" 2>/dev/null ||
    skip "npm's ws and spdy-transport are not installed (tests/stream/{ws,spdy}/npm-install.sh)"

W=$(mktemp -d /tmp/berth-e2e-stream.XXXXXX)
CG=/berth-e2e-stream-$$
BERTHD_PID=
cleanup() { berthd_cleanup "$CG"; }
on_exit cleanup
CLIENT="$ROOT_DIR/tests/e2e/stream-client.cjs"

plan 44

cat > "$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
seccomp_profile = "$BERTH_SRC/contrib/seccomp/default.json"
X
start_berthd
check "berthd starts" $? "$(tail -5 "$W/berthd.log")"
IMG=localhost/berthd-stream-e2e:1
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    "$BERTHCTL" -r "unix://$W/berthd.sock" load -i "$W/img.tar" >/dev/null 2>&1
check "a busybox image loaded" $? ""

POD_CFG=$(printf '{"metadata":{"name":"s","namespace":"e2e","uid":"uid-s","attempt":0},"hostname":"s","logDirectory":"%s","linux":{"cgroupParent":"%s","securityContext":{"namespaceOptions":{"network":"POD","pid":"CONTAINER","ipc":"POD"}}}}' "$W/logs" "$CG")
out=$(call RunPodSandbox "{\"config\":$POD_CFG}" 2>&1)
POD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
out=$(call CreateContainer "$(printf '{"podSandboxId":"%s","config":{"metadata":{"name":"c"},"image":{"image":"%s"},"command":["sleep","3600"],"envs":[{"key":"WHO","value":"berth"}],"logPath":"c.log"},"sandboxConfig":%s}' "$POD" "$IMG" "$POD_CFG")" 2>&1)
CTR=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
[ -n "$CTR" ] && call StartContainer "{\"containerId\":\"$CTR\"}" >/dev/null 2>&1
check "a pod with a running container" $? "$out"

# exec_url CMD-JSON [FLAGS-JSON]: the URL Exec hands out.
exec_url() { call Exec "{\"containerId\":\"$CTR\",\"cmd\":$1${2:+,$2}}" | py 'd["url"]'; }
run() { node "$CLIENT" "$@"; }
field() { py "$1"; }
b64out() { py 'base64.b64decode(d["stdout"]).decode()'; }

url=$(exec_url '["sh","-c","echo out-$WHO; echo err-$WHO >&2; exit 3"]' '"stdout":true,"stderr":true' 2>&1)
[[ $url == http://127.0.0.1:*/exec/* ]]
check "Exec answers a URL of the streaming server" $? "$url"
res=$(run spdy "$url" --stderr 2>&1)
[ "$(echo "$res" | field 'd["status"]')" = "HTTP/1.1 101 Switching Protocols" ] && [ "$(echo "$res" | field 'd["protocol"]')" = v4.channel.k8s.io ] &&
    [ "$(echo "$res" | b64out)" = out-berth ] && [ "$(echo "$res" | py 'base64.b64decode(d["stderr"]).decode()')" = err-berth ]
check "SPDY v4: stdout and stderr apart, with the container's env" $? "$res"
st=$(echo "$res" | field 'd["error"]')
[ "$(echo "$st" | py 'd["status"], d["reason"], d["details"]["causes"][0]["reason"], d["details"]["causes"][0]["message"]')" = "('Failure', 'NonZeroExitCode', 'ExitCode', '3')" ]
check "SPDY v4: exit code 3 as a metav1.Status on the error stream" $? "$st"
res=$(run spdy "$url" 2>&1)
[[ $(echo "$res" | field 'd["status"]') == *404* ]]
check "the token works once: 404 the second time" $? "$res"

url=$(exec_url '["true"]' '"stdout":true')
res=$(run spdy "$url" 2>&1)
[ "$(echo "$res" | field 'json.loads(d["error"])["status"]')" = Success ]
check "SPDY v4: exit 0 is Success" $? "$res"

url=$(exec_url '["cat"]' '"stdin":true,"stdout":true')
res=$(run spdy "$url" --stdin-bytes 1048576 2>&1)
want=$(node -e "
const c=require('crypto');let s=c.createHash('sha256').update('berth').digest();const o=Buffer.alloc(1048576);
for(let a=0;a<o.length;a+=32){s.copy(o,a,0,Math.min(32,o.length-a));s=c.createHash('sha256').update(s).digest()}
console.log(c.createHash('sha256').update(o).digest('hex'))")
[ "$(echo "$res" | field 'd["length"]')" = 1048576 ] && [ "$(echo "$res" | field 'd["sha"]')" = "$want" ]
check "SPDY: 1 MiB through cat's stdin and back intact, stdin's end ends it" $? "$(echo "$res" | head -c 300)"

url=$(exec_url '["sh","-c","stty size; tty"]' '"stdout":true,"tty":true')
res=$(run spdy "$url" --tty --resize 123x45 2>&1)
o=$(echo "$res" | b64out | tr -d '\r')
[[ $o == *"45 123"* ]] && [[ $o == *"/dev/pts/"* ]]
check "SPDY: a terminal, sized by the resize stream" $? "$o $res"

url=$(exec_url '["sh","-c","echo old; exit 2"]' '"stdout":true')
res=$(run spdy "$url" --protocol v3.channel.k8s.io 2>&1)
[ "$(echo "$res" | field 'd["protocol"]')" = v3.channel.k8s.io ] && [ "$(echo "$res" | b64out)" = old ] &&
    [[ $(echo "$res" | field 'd["error"]') == *"command terminated with non-zero exit code"*2* ]]
check "SPDY v3 (older clients): the exit as text" $? "$res"

# --- WebSocket
url=$(exec_url '["sh","-c","echo ws-$WHO; exit 4"]' '"stdout":true')
res=$(run ws "$url" 2>&1)
[ "$(echo "$res" | field 'd["protocol"]')" = v5.channel.k8s.io ] && [ "$(echo "$res" | b64out)" = ws-berth ] &&
    [ "$(echo "$res" | field 'json.loads(d["error"])["details"]["causes"][0]["message"]')" = 4 ]
check "WebSocket v5: output and the exit code" $? "$res"
url=$(exec_url '["cat"]' '"stdin":true,"stdout":true')
res=$(run ws "$url" --stdin-bytes 1048576 2>&1)
[ "$(echo "$res" | field 'd["sha"]')" = "$want" ]
check "WebSocket v5: 1 MiB through stdin, closed with the CLOSE signal, back intact" $? "$(echo "$res" | head -c 300)"
url=$(exec_url '["sh","-c","echo b64"]' '"stdout":true')
res=$(run ws "$url" --protocol v4.base64.channel.k8s.io 2>&1)
[ "$(echo "$res" | field 'd["protocol"]')" = v4.base64.channel.k8s.io ] && [ "$(echo "$res" | b64out)" = b64 ] &&
    [ "$(echo "$res" | field 'json.loads(d["error"])["status"]')" = Success ]
check "WebSocket v4.base64: text messages" $? "$res"
url=$(exec_url '["sh","-c","stty size"]' '"stdout":true,"tty":true,"stdin":true')
res=$(run ws "$url" --tty --resize 80x24 --stdin '' 2>&1)
[[ $(echo "$res" | b64out | tr -d '\r') == *"24 80"* ]]
check "WebSocket: a terminal sized by the resize channel" $? "$res"
url=$(exec_url '["true"]' '"stdout":true')
res=$(run ws "$url" --protocol nonsense.k8s.io 2>&1)
[[ $(echo "$res" | field 'd["status"]') == *403* ]]
check "a protocol berthd does not speak: 403" $? "$res"

# --- a client that goes away
url=$(exec_url '["sh","-c","echo $$ > /tmp/gone.pid; exec sleep 300"]' '"stdout":true')
res=$(run spdy "$url" --close-after 1500 2>&1)
sleep 1
out=$(sh_in "$CTR" 'p=$(cat /tmp/gone.pid); [ -d /proc/$p ] && echo alive || echo gone' 2>&1)
[ "$out" = gone ]
check "a client that goes away: its process is killed" $? "$out $res"

# --- attach: a container's own stdio
out=$(call CreateContainer "$(printf '{"podSandboxId":"%s","config":{"metadata":{"name":"talk"},"image":{"image":"%s"},"command":["sh","-c","while read l; do echo got-$l; done; echo bye"],"stdin":true,"stdinOnce":true,"logPath":"talk.log"},"sandboxConfig":%s}' "$POD" "$IMG" "$POD_CFG")" 2>&1)
TALK=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
[ -n "$TALK" ] && call StartContainer "{\"containerId\":\"$TALK\"}" >/dev/null 2>&1
check "a container reading its stdin" $? "$out"
url=$(call Attach "{\"containerId\":\"$TALK\",\"stdin\":true,\"stdout\":true}" | py 'd["url"]' 2>&1)
[[ $url == http://127.0.0.1:*/attach/* ]]
check "Attach answers a URL" $? "$url"
res=$(run spdy "$url" --stdin $'a\nb\n' 2>&1)
[ "$(echo "$res" | b64out)" = "$(printf 'got-a\ngot-b\nbye')" ] && [ "$(echo "$res" | field 'json.loads(d["error"])["status"]')" = Success ]
check "SPDY attach: stdin reaches the container, its end (stdin_once) ends it, output comes back" $? "$res"
talk_exited() { [ "$(call ContainerStatus "{\"containerId\":\"$TALK\"}" | py 'd["status"]["state"]')" = CONTAINER_EXITED ]; }
wait_for 10 talk_exited
check "...and the container exited" $? "$(call ContainerStatus "{\"containerId\":\"$TALK\"}" 2>&1 | head -c 300)"
out=$(call Attach "{\"containerId\":\"$CTR\",\"stdin\":true,\"stdout\":true}" 2>&1)
[[ $out == "3: stdin: "*"not created with stdin"* ]]
check "Attach with stdin to a container without stdin: InvalidArgument" $? "$out"

# --- port-forward into the pod's network namespace
out=$(call CreateContainer "$(printf '{"podSandboxId":"%s","config":{"metadata":{"name":"web"},"image":{"image":"%s"},"command":["sh","-c","mkdir -p /www && echo hello-pf > /www/index.html && exec httpd -f -p 8080 -h /www"],"logPath":"web.log"},"sandboxConfig":%s}' "$POD" "$IMG" "$POD_CFG")" 2>&1)
WEB=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
[ -n "$WEB" ] && call StartContainer "{\"containerId\":\"$WEB\"}" >/dev/null 2>&1 && sleep 0.5
check "a container serving HTTP on 8080 inside the pod's own network namespace" $? "$out"
pf_url() { call PortForward "{\"podSandboxId\":\"$POD\",\"port\":[$1]}" | py 'd["url"]'; }
url=$(pf_url 8080 2>&1)
[[ $url == http://127.0.0.1:*/portforward/* ]]
check "PortForward answers a URL" $? "$url"
res=$(run pf "$url" --port 8080 --send 'GET / HTTP/1.0\r\n\r\n' 2>&1)
[[ $(echo "$res" | b64out) == *hello-pf* ]]
check "SPDY port-forward: HTTP through the stream pair reaches the pod's port 8080" $? "$res"
url=$(pf_url 8080,9)
res=$(run pf "$url" --port 9 --send x 2>&1)
[[ $(echo "$res" | field 'd["error"]') == *"error forwarding port 9 to pod $POD"*"connect to"*"9"* ]]
check "a port nothing listens on: the error stream says so" $? "$res"
url=$(pf_url 8080)
res=$(run pf "$url" --port 8081 --send x 2>&1)
[[ $(echo "$res" | field 'd["error"]') == *"port 8081 was not asked for"* ]]
check "a port the request did not name is refused" $? "$res"
# WebSocket (kubelet's /portforward with ?port=N): channels 0 and 1 open
# with the port (8080 = 0x1f90, little-endian "901f"); berthd closes (1000)
# once httpd has answered and closed.
url=$(pf_url 8080)
res=$(run wspf "$url" --port 8080 --send 'GET / HTTP/1.0\r\n\r\n' 2>&1)
[ "$(echo "$res" | field 'd["protocol"]')" = v4.channel.k8s.io ] && [[ $(echo "$res" | b64out) == *hello-pf* ]] &&
    [ "$(echo "$res" | field 'd["prefixes"]["0"], d["prefixes"]["1"], d["close"]')" = "('901f', '901f', 1000)" ] &&
    [ -z "$(echo "$res" | field 'd["error"]')" ]
check "WebSocket port-forward (v4): the port prefix on both channels, httpd's page on channel 0, then a normal close" $? "$res"
url=$(pf_url 8080)
res=$(run wspf "$url" --port 8080 --send 'GET / HTTP/1.0\r\n\r\n' --protocol v4.base64.channel.k8s.io 2>&1)
[ "$(echo "$res" | field 'd["protocol"]')" = v4.base64.channel.k8s.io ] && [[ $(echo "$res" | b64out) == *hello-pf* ]]
check "WebSocket port-forward (v4.base64): the page in base64 text messages" $? "$res"
url=$(pf_url 8080,9)
res=$(run wspf "$url" --port 9 2>&1)
[[ $(echo "$res" | field 'd["error"]') == *"error forwarding port 9 to pod $POD"*"connect to"*"9"* ]] &&
    [ "$(echo "$res" | field 'd["close"]')" = 1000 ]
check "WebSocket port-forward: a port nothing listens on, said on the error channel" $? "$res"
url=$(pf_url 8080)
res=$(run wspf "$url" --port 0 2>&1)
[[ $(echo "$res" | field 'd["status"]') == *400* ]] && [ "$(echo "$res" | field 'd["error"].strip()')" = 'port "0" must be > 0' ]
check "WebSocket port-forward with port=0: 400" $? "$res"
out=$(call PortForward "{\"podSandboxId\":\"$POD\",\"port\":[0]}" 2>&1)
[[ $out == "3: port[0]: 0 is not a port"* ]]
check "PortForward with port 0: InvalidArgument" $? "$out"

# --- refused at the RPC
out=$(call Exec "{\"containerId\":\"$CTR\",\"cmd\":[\"sh\"],\"tty\":true,\"stderr\":true,\"stdout\":true}" 2>&1)
[[ $out == "3: "*"tty and stderr cannot both be true"* ]]
check "tty with stderr: InvalidArgument" $? "$out"
out=$(call Exec "{\"containerId\":\"$CTR\",\"cmd\":[\"sh\"]}" 2>&1)
[[ $out == "3: "*"one of stdin, stdout, or stderr must be set"* ]]
check "no stream asked for: InvalidArgument" $? "$out"
out=$(call Exec "{\"containerId\":\"$CTR\",\"cmd\":[]}" 2>&1)
[[ $out == "3: cmd: required"* ]]
check "no command: InvalidArgument" $? "$out"
out=$(call Exec '{"containerId":"nope","cmd":["true"],"stdout":true}' 2>&1)
[[ $out == "5: "* ]]
check "an unknown container: NotFound" $? "$out"
res=$(run spdy "http://${url#http://}" 2>&1; curl -s -o /dev/null -w '%{http_code}' "${url%/exec/*}/exec/not-a-token")
[[ $res == *404 ]]
check "a made-up token: 404" $? "$res"

# --- a command that cannot run
url=$(exec_url '["/no/such/binary"]' '"stdout":true')
res=$(run spdy "$url" 2>&1)
err=$(echo "$res" | field 'd["error"]')
[[ $err == *"Failure"* ]] && [[ $err == *"/no/such/binary"* ]]
check "a command that cannot run: the error stream says why" $? "$res"

# --- nothing left behind
sleep 0.5
[ -z "$(ls -A "$W/state/streams" 2>/dev/null)" ]
check "no FIFO left in the streaming dir" $? "$(ls -la "$W/state/streams")"
out=$(sh_in "$CTR" 'for p in /proc/[0-9]*; do tr "\0" " " < $p/cmdline; echo; done' 2>&1)
! echo "$out" | grep -q -e '^cat' -e '^sleep 300 ' -e 'stty' -e 'netns-connect' 
check "no exec left running in the container" $? "$out"
alive "$BERTHD_PID"
check "berthd is alive" $? "$(tail -5 "$W/berthd.log")"

# --- berthd stopping ends its sessions first
url=$(exec_url '["sh","-c","echo $$ > /tmp/long.pid; exec sleep 300"]' '"stdout":true')
run spdy "$url" > "$W/long.out" 2>&1 &
CL=$!
wait_for 10 sh_in "$CTR" 'test -s /tmp/long.pid' >/dev/null
kill -TERM "$BERTHD_PID"
wait_for 20 sh -c "! kill -0 $BERTHD_PID 2>/dev/null"
gone_ok=$?
wait "$BERTHD_PID" 2>/dev/null; rc=$?
wait "$CL" 2>/dev/null
[ $gone_ok = 0 ] && [ $rc = 0 ]
check "SIGTERM with an exec session open: berthd ends it and exits 0" $? "rc=$rc $(tail -3 "$W/berthd.log") $(cat "$W/long.out" | head -c 200)"
start_berthd
out=$(sh_in "$CTR" 'p=$(cat /tmp/long.pid); [ -d /proc/$p ] && echo alive || echo gone' 2>&1)
[ "$out" = gone ]
check "...and its command was killed, as for a client that leaves" $? "$out"
call StopPodSandbox "{\"podSandboxId\":\"$POD\"}" >/dev/null 2>&1 && call RemovePodSandbox "{\"podSandboxId\":\"$POD\"}" >/dev/null 2>&1
check "the pod removed" $? ""
exit $failed
