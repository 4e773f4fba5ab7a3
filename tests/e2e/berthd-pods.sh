#!/usr/bin/env bash
# berthd's RuntimeService end to end, through its socket with the project's
# own gRPC client (cri-client call METHOD JSON), as kubelet drives it: pods
# with pinned namespaces (hostname, sysctls, a pod pid namespace with its
# init), containers from a pulled image (logs in the CRI format, exit codes
# and reasons, stop with a timeout), ExecSync (output, exit code, timeout),
# CRI status codes for bad requests, kill -9 of berthd and of a pod's shim,
# and that removal leaves nothing: no mount, shim, cgroup or state. The image
# is built with umoci and served by docker-registry on 127.0.0.1. Everything
# lives under one temp dir, containers under a cgroup parent of the test's
# own, and every process is killed by its pid. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

berthd_needs

W=$(mktemp -d /tmp/berth-e2e-pods.XXXXXX)
CG=/berth-e2e-pods-$$
REG_PID= BERTHD_PID= EV_PID=
cleanup() {
    [ -n "$EV_PID" ] && { kill -KILL "$EV_PID" 2>/dev/null; wait "$EV_PID" 2>/dev/null; }
    berthd_cleanup "$CG"
}
on_exit cleanup

st() { call ContainerStatus "{\"containerId\":\"$1\"}" | py "$2"; }

plan 54

# --- an image in a local registry
serve_image "" --config.env IMAGE_ENV=1 --config.workingdir /tmp
check "a busybox image built with umoci, pushed to docker-registry" $? "$(tail -5 "$W/build.log")"

# --- berthd
cat > "$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
seccomp_profile = "$BERTH_SRC/contrib/seccomp/default.json"
# Exits seen only as they happen: the sweep would hide a broken watch.
exit_sweep_interval = "1h"
[runtime.handlers.other]
X
start_berthd
out=$(call Status '{}' 2>&1)
[ "$(echo "$out" | py '[c["status"] for c in d["status"]["conditions"] if c["type"]=="RuntimeReady"][0]')" = True ]
check "Status: RuntimeReady" $? "$out $(tail -5 "$W/berthd.log")"
out=$(timeout 10 "$BERTHD" --config "$W/berthd.toml" --root "$W/root" --state "$W/state2" --listen "$W/other.sock" 2>&1); rc=$?
[ $rc != 0 ] && [[ $out == *"another berthd uses it"* ]] && [ ! -e "$W/other.sock" ]
check "a second berthd on the same root is refused" $? "rc=$rc $out"
out=$("$BERTHCTL" -r "unix://$W/berthd.sock" pull "$IMG" 2>&1)
check "the image pulled" $? "$out"

pod_json() {   # pod_json NAME [EXTRA-LINUX-JSON] [HOSTNET]
    local ns='"network":"POD","pid":"CONTAINER","ipc":"POD"'
    [ "${3:-}" = hostnet ] && ns='"network":"NODE","pid":"CONTAINER","ipc":"POD"'
    [ "${3:-}" = sharepid ] && ns='"network":"POD","pid":"POD","ipc":"POD"'
    printf '{"config":{"metadata":{"name":"%s","namespace":"e2e","uid":"uid-%s","attempt":0},"hostname":"%s-host","logDirectory":"%s","labels":{"app":"%s"},"linux":{"cgroupParent":"%s",%s"securityContext":{"namespaceOptions":{%s}}}}}' \
        "$1" "$1" "$1" "$W/logs/$1" "$1" "$CG" "${2:-}" "$ns"
}
ctr_json() {   # ctr_json POD_ID NAME CMD-JSON-ARRAY [EXTRA] [PIDMODE] [NETMODE]
    # kubelet sends the pod's namespace modes with each container.
    printf '{"podSandboxId":"%s","config":{"metadata":{"name":"%s"},"image":{"image":"%s"},"command":%s,"logPath":"%s.log","linux":{"securityContext":{"namespaceOptions":{"network":"%s","ipc":"POD","pid":"%s"}}}%s}}' \
        "$1" "$2" "$IMG" "$3" "$2" "${6:-POD}" "${5:-CONTAINER}" "${4:-}"
}

# --- a pod: own network, IPC and UTS namespaces, pinned; sysctls
out=$(call RunPodSandbox "$(pod_json web '"sysctls":{"net.ipv4.ip_forward":"1","kernel.shmmni":"1234"},')" 2>&1)
POD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
[ -n "$POD" ]
check "RunPodSandbox" $? "$out $(tail -5 "$W/berthd.log")"
out=$(call PodSandboxStatus "{\"podSandboxId\":\"$POD\",\"verbose\":true}" 2>&1)
[ "$(echo "$out" | py 'd["status"]["state"]')" = SANDBOX_READY ] && [ "$(echo "$out" | py 'd["status"]["metadata"]["name"]')" = web ]
check "PodSandboxStatus: ready, with its metadata" $? "$out"
grep -q " $W/state/pods/$POD/ns/net " /proc/self/mountinfo && grep -q " $W/state/pods/$POD/ns/ipc " /proc/self/mountinfo &&
    grep -q " $W/state/pods/$POD/ns/uts " /proc/self/mountinfo
check "the pod's net, ipc and uts namespaces are pinned in its state dir" $? "$(grep -F "$W" /proc/self/mountinfo)"
[ "$(shim_pids "$POD" | wc -w)" = 1 ]
check "one shim for the pod" $? "$(shim_pids "$POD")"
out=$(call ListPodSandbox '{"filter":{"labelSelector":{"app":"web"}}}' 2>&1)
[ "$(echo "$out" | py 'len(d["items"])')" = 1 ] && [ "$(echo "$out" | py 'd["items"][0]["id"]')" = "$POD" ]
check "ListPodSandbox by label" $? "$out"
out=$(call v1alpha2/Version '{"version":"v1alpha2"}' 2>&1)
[ "$(echo "$out" | py 'd["runtimeApiVersion"]')" = v1alpha2 ]
check "runtime.v1alpha2 is served too (Version)" $? "$out"
out=$(call v1alpha2/ListPodSandbox '{}' 2>&1)
[ "$(echo "$out" | py 'd["items"][0]["id"]')" = "$POD" ]
check "runtime.v1alpha2 ListPodSandbox answers from the same pods" $? "$out"

# --- a container
out=$(call CreateContainer "$(ctr_json "$POD" app '["sh","-c","echo out-line; echo err-line >&2; exec sleep 1000"]')" 2>&1)
C1=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
[ -n "$C1" ]
check "CreateContainer" $? "$out $(tail -5 "$W/berthd.log")"
out=$(call ContainerStatus "{\"containerId\":\"$C1\"}" 2>&1)
[ "$(echo "$out" | py 'd["status"]["state"]')" = CONTAINER_CREATED ]
check "ContainerStatus: created" $? "$out"
out=$(call StartContainer "{\"containerId\":\"$C1\"}" 2>&1)
check "StartContainer" $? "$out $(tail -5 "$W/berthd.log")"
out=$(call ContainerStatus "{\"containerId\":\"$C1\",\"verbose\":true}" 2>&1)
[ "$(echo "$out" | py 'd["status"]["state"]')" = CONTAINER_RUNNING ] && [ "$(echo "$out" | py 'int(d["status"]["startedAt"]) > 0')" = True ]
check "ContainerStatus: running, started" $? "$out"
C1PID=$(echo "$out" | py 'json.loads(d["info"]["info"])["pid"]')
wait_for 5 grep -q err-line "$W/logs/web/app.log"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) stdout F out-line$' "$W/logs/web/app.log" &&
    grep -Eq ' stderr F err-line$' "$W/logs/web/app.log"
check "the log: CRI format lines for stdout and stderr" $? "$(cat "$W/logs/web/app.log" 2>&1)"

ex() { call ExecSync "{\"containerId\":\"$1\",\"cmd\":$2,\"timeout\":${3:-10}}"; }
out=$(ex "$C1" '["sh","-c","hostname; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; pwd; echo $IMAGE_ENV"]' 2>&1)
got=$(b64 "$(echo "$out" | py 'd.get("stdout","")')" 2>&1)
[ "$got" = "$(printf 'web-host\n1\n1234\n/tmp\n1')" ]
check "ExecSync: the pod's hostname and sysctls, the image's cwd and env" $? "$out -> $got"
[ "$(readlink /proc/"$C1PID"/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
    [ "$(stat -L -c %i /proc/"$C1PID"/ns/net)" = "$(stat -c %i "$W/state/pods/$POD/ns/net")" ]
check "the container is in the pod's pinned network namespace, not the host's" $? "$(readlink /proc/"$C1PID"/ns/net)"
out=$(ex "$C1" '["sh","-c","echo to-err >&2; exit 3"]' 2>&1)
[ "$(echo "$out" | py 'd.get("exitCode",0)')" = 3 ] && [ "$(b64 "$(echo "$out" | py 'd.get("stderr","")')")" = "to-err" ]
check "ExecSync: exit code and stderr" $? "$out"
out=$(ex "$C1" '["sh","-c","head -c 17000000 /dev/zero; echo done >&2"]' 2>&1)
[ "$(echo "$out" | py 'len(base64.b64decode(d.get("stdout","")))')" = 16777216 ] && [ "$(b64 "$(echo "$out" | py 'd.get("stderr","")')")" = done ]
check "ExecSync: stdout over 16 MiB is cut at 16 MiB (kubelet's cap), the command still finishes" $? "$(echo "$out" | head -c 300)"
out=$(ex "$C1" '["sleep","30"]' 1 2>&1); rc=$?
[ $rc = 4 ] && echo "$out" | grep -q "timed out"
check "ExecSync past its timeout: DeadlineExceeded" $? "rc=$rc $out"

# Stats from the cgroups, new limits, a log reopened after a rename, events.
out=$(call ContainerStats "{\"containerId\":\"$C1\"}" 2>&1)
[ "$(echo "$out" | py 'int(d["stats"]["cpu"]["usageCoreNanoSeconds"]["value"]) > 0 and int(d["stats"]["memory"]["workingSetBytes"]["value"]) > 0 and "usedBytes" in d["stats"]["writableLayer"]')" = True ]
check "ContainerStats: cpu, working set and writable layer" $? "$out"
out=$(call ListPodSandboxStats "{\"filter\":{\"id\":\"$POD\"}}" 2>&1)
[ "$(echo "$out" | py 'len(d["stats"][0]["linux"]["containers"])')" = 1 ]
check "ListPodSandboxStats: the pod with its container" $? "$out"
out=$(call UpdateContainerResources "{\"containerId\":\"$C1\",\"linux\":{\"memoryLimitInBytes\":\"67108864\"}}" 2>&1)
mem=$(cat "$(cgroup_dir "$C1PID" memory)/memory.limit_in_bytes" "$(cgroup_dir "$C1PID" memory)/memory.max" 2>/dev/null | head -1)
[ "$mem" = 67108864 ] && [ "$(st "$C1" 'd["status"]["resources"]["linux"]["memoryLimitInBytes"]')" = 67108864 ]
check "UpdateContainerResources: the cgroup's memory limit, and the status" $? "$out mem=$mem"
"$BERTHCTL" -r "unix://$W/berthd.sock" events -o json >"$W/events.json" 2>&1 &
EV_PID=$!
sleep 0.5
out=$(call CreateContainer "$(ctr_json "$POD" ticker '["sh","-c","while :; do echo tick; sleep 0.1; done"]')" 2>&1)
CT=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
call StartContainer "{\"containerId\":\"$CT\"}" >/dev/null 2>&1
# One that exits by itself, which nobody asks about: with the sweep at 1h,
# only the shim's exit record (inotify) can tell berthd.
out=$(call CreateContainer "$(ctr_json "$POD" quick '["sh","-c","sleep 0.3; exit 3"]')" 2>&1)
CQ=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
call StartContainer "{\"containerId\":\"$CQ\"}" >/dev/null 2>&1
wait_for 5 grep -q tick "$W/logs/web/ticker.log"
mv "$W/logs/web/ticker.log" "$W/logs/web/ticker.log.1"
out=$(call ReopenContainerLog "{\"containerId\":\"$CT\"}" 2>&1)
wait_for 5 grep -q tick "$W/logs/web/ticker.log"
check "ReopenContainerLog: a new log at the path after a rename" $? "$out $(ls "$W/logs/web")"
call StopContainer "{\"containerId\":\"$CT\",\"timeout\":1}" >/dev/null 2>&1
call RemoveContainer "{\"containerId\":\"$CT\"}" >/dev/null 2>&1
events_of() {   # events_of ID: its event types in $W/events.json, in order
    python3 -c '
import json,sys
dec=json.JSONDecoder(); s=open(sys.argv[1]).read(); i=0; out=[]
while True:
    while i < len(s) and s[i].isspace(): i+=1
    if i >= len(s): break
    try: o,i=dec.raw_decode(s,i)
    except ValueError: break
    if o.get("containerId")==sys.argv[2]: out.append(o.get("containerEventType","CONTAINER_CREATED_EVENT"))
print(" ".join(out))' "$W/events.json" "$1" 2>&1
}
quick_stopped() { [[ $(events_of "$CQ") == *CONTAINER_STOPPED_EVENT* ]]; }
wait_for 10 quick_stopped
check "an exit nobody asked about is published at once (the shim's exit record, watched), not by the sweep" $? "$(events_of "$CQ") $(grep -i "exit" "$W/berthd.log" | tail -3)"
sleep 0.5
kill "$EV_PID" 2>/dev/null; wait "$EV_PID" 2>/dev/null
got=$(python3 -c '
import json,sys
dec=json.JSONDecoder(); s=open(sys.argv[1]).read(); i=0; out=[]
while True:
    while i < len(s) and s[i].isspace(): i+=1
    if i >= len(s): break
    o,i=dec.raw_decode(s,i)
    if o.get("containerId")==sys.argv[2]: out.append(o.get("containerEventType","CONTAINER_CREATED_EVENT"))
print(" ".join(out))' "$W/events.json" "$CT" 2>&1)
[ "$got" = "CONTAINER_CREATED_EVENT CONTAINER_STARTED_EVENT CONTAINER_STOPPED_EVENT CONTAINER_DELETED_EVENT" ]
check "GetContainerEvents (berthctl events): created, started, stopped, deleted" $? "$got $(head -c 600 "$W/events.json")"

# A second container shares the pod's IPC namespace and /dev/shm.
out=$(call CreateContainer "$(ctr_json "$POD" side '["sh","-c","echo shared > /dev/shm/x; exec sleep 1000"]')" 2>&1)
C2=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
call StartContainer "{\"containerId\":\"$C2\"}" >/dev/null 2>&1
out=$(ex "$C1" '["sh","-c","sleep 0.3; cat /dev/shm/x"]' 2>&1)
[ "$(b64 "$(echo "$out" | py 'd.get("stdout","")')")" = shared ]
check "two containers of a pod share its /dev/shm" $? "$out"

# Exits: reasons and codes; stop with a timeout on a process ignoring TERM.
out=$(call CreateContainer "$(ctr_json "$POD" done '["sh","-c","exit 0"]')" 2>&1)
C3=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
out=$(call CreateContainer "$(ctr_json "$POD" fail '["sh","-c","exit 7"]')" 2>&1)
C4=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
call StartContainer "{\"containerId\":\"$C3\"}" >/dev/null 2>&1
call StartContainer "{\"containerId\":\"$C4\"}" >/dev/null 2>&1
wait_for 10 eval '[ "$(st "$C3" "d[\"status\"][\"state\"]")" = CONTAINER_EXITED ]'
wait_for 10 eval '[ "$(st "$C4" "d[\"status\"][\"state\"]")" = CONTAINER_EXITED ]'
[ "$(st "$C3" 'd["status"].get("exitCode",0), d["status"]["reason"]')" = "(0, 'Completed')" ] &&
    [ "$(st "$C4" 'd["status"].get("exitCode",0), d["status"]["reason"]')" = "(7, 'Error')" ]
check "exited containers: exit 0 Completed, exit 7 Error" $? "$(st "$C3" 'd["status"]') $(st "$C4" 'd["status"]')"
out=$(call ListContainers '{"filter":{"state":{"state":"CONTAINER_RUNNING"}}}' 2>&1)
[ "$(echo "$out" | py '" ".join(sorted(c["metadata"]["name"] for c in d["containers"]))')" = "app side" ]
check "ListContainers by state" $? "$out"
out=$(call CreateContainer "$(ctr_json "$POD" stubborn '["sh","-c","trap \"\" TERM; while :; do sleep 1; done"]')" 2>&1)
C5=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
call StartContainer "{\"containerId\":\"$C5\"}" >/dev/null 2>&1
sleep 0.3
t0=$SECONDS
out=$(call StopContainer "{\"containerId\":\"$C5\",\"timeout\":2}" 2>&1); rc=$?
[ $rc = 0 ] && [ $((SECONDS - t0)) -ge 1 ] && [ "$(st "$C5" 'd["status"].get("exitCode",0)')" = 137 ]
check "StopContainer: TERM ignored, SIGKILL after the timeout (exit 137)" $? "rc=$rc $out $(st "$C5" 'd["status"]')"
out=$(call StopContainer "{\"containerId\":\"$C5\",\"timeout\":2}" 2>&1)
check "StopContainer again: no error" $? "$out"

# A memory limit the container outgrows: the kernel's OOM killer, exit 137, reason OOMKilled.
cat >"$W/hog.json" <<'X'
{"podSandboxId":"@POD@","config":{"metadata":{"name":"hog"},"image":{"image":"@IMG@"},
 "command":["sh","-c","x=$(head -c 200000000 /dev/zero | tr '\\000' a); echo survived"],
 "linux":{"resources":{"memoryLimitInBytes":"33554432"},
          "securityContext":{"namespaceOptions":{"network":"POD","ipc":"POD","pid":"CONTAINER"}}}}}
X
out=$(call CreateContainer "$(sed -e "s|@POD@|$POD|" -e "s|@IMG@|$IMG|" "$W/hog.json")" 2>&1)
CH=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
call StartContainer "{\"containerId\":\"$CH\"}" >/dev/null 2>&1
wait_for 30 eval '[ "$(st "$CH" "d[\"status\"][\"state\"]")" = CONTAINER_EXITED ]'
[ "$(st "$CH" 'd["status"]["exitCode"], d["status"]["reason"]')" = "(137, 'OOMKilled')" ]
check "a container over its memory limit: exit 137, reason OOMKilled" $? "$out $(st "$CH" 'd["status"]')"
call RemoveContainer "{\"containerId\":\"$CH\"}" >/dev/null 2>&1

# --- a pod sharing one pid namespace: the pod init is pid 1
out=$(call RunPodSandbox "$(pod_json pidpod '' sharepid)" 2>&1)
POD2=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
out=$(call CreateContainer "$(ctr_json "$POD2" a '["sleep","1000"]' '' POD)" 2>&1)
P2A=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
out=$(call CreateContainer "$(ctr_json "$POD2" b '["sleep","1001"]' '' POD)" 2>&1)
P2B=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
call StartContainer "{\"containerId\":\"$P2A\"}" >/dev/null 2>&1
call StartContainer "{\"containerId\":\"$P2B\"}" >/dev/null 2>&1
out=$(ex "$P2B" '["ps","-o","pid,args"]' 2>&1)
got=$(b64 "$(echo "$out" | py 'd.get("stdout","")')" 2>&1)
echo "$got" | grep -q 'sleep 1000' && echo "$got" | grep -Eq '^ *1 ' && ! echo "$got" | grep -Eq '^ *1 +sleep'
check "a shared pid namespace: b sees a's process, and pid 1 is the pod init" $? "$out -> $got"

# --- CRI status codes for bad requests
code() { "$@" >/dev/null 2>"$W/err"; echo $?; }
[ "$(code call CreateContainer "$(ctr_json "$POD" x '["true"]' | sed "s|$IMG|$REG/test/none:1|")")" = 5 ] && grep -q 'not found' "$W/err"
check "CreateContainer with an image not pulled: NotFound" $? "$(cat "$W/err")"
[ "$(code call CreateContainer "$(ctr_json 0123456789abcdef x '["true"]')")" = 5 ]
check "CreateContainer in an unknown pod: NotFound" $? "$(cat "$W/err")"
[ "$(code call CreateContainer "{\"podSandboxId\":\"$POD\",\"config\":{\"image\":{\"image\":\"$IMG\"}}}")" = 3 ] &&
    grep -q 'config.metadata.name' "$W/err"
check "CreateContainer without a name: InvalidArgument naming config.metadata.name" $? "$(cat "$W/err")"
[ "$(code call RunPodSandbox "$(pod_json web)")" = 6 ]
check "a second pod with the same name and attempt: AlreadyExists" $? "$(cat "$W/err")"
[ "$(code call RunPodSandbox "$(pod_json h2 | sed 's/^{/{"runtimeHandler":"nope",/')")" = 3 ] && grep -q 'nope' "$W/err"
check "an unknown runtime handler: InvalidArgument naming it" $? "$(cat "$W/err")"
[ "$(code call ContainerStatus '{"containerId":"feedfacefeedface"}')" = 5 ]
check "ContainerStatus of an unknown container: NotFound" $? "$(cat "$W/err")"
[ "$(code call RunPodSandbox "$(pod_json bad '"sysctls":{"kernel.hostname":"x"},')")" = 3 ] && grep -q 'kernel.hostname' "$W/err"
check "a sysctl that is not namespaced: InvalidArgument naming it" $? "$(cat "$W/err")"
[ ! -e "$W/state/pods" ] || [ "$(ls "$W/state/pods" | wc -l)" = 2 ]
check "failed requests left no pod state behind" $? "$(ls "$W/state/pods")"

# --- kill -9 of berthd: everything is still there, and manageable
kill -KILL "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
start_berthd
out=$(call ContainerStatus "{\"containerId\":\"$C1\"}" 2>&1)
[ "$(echo "$out" | py 'd["status"]["state"]')" = CONTAINER_RUNNING ] && alive "$C1PID"
check "after kill -9 of berthd: the container still runs, and is listed so" $? "$out"
out=$(ex "$C1" '["echo","again"]' 2>&1)
[ "$(b64 "$(echo "$out" | py 'd.get("stdout","")')")" = again ]
check "after the restart: ExecSync works" $? "$out"
[ "$(call ListPodSandbox '{}' | py 'len(d["items"])')" = 2 ]
check "after the restart: both pods are listed" $? "$(call ListPodSandbox '{}' 2>&1)"

# --- kill -9 of a pod's shim: its containers are killed and reported exited
SHIM2=$(shim_pids "$POD2")
P2APID=$(call ContainerStatus "{\"containerId\":\"$P2A\",\"verbose\":true}" | py 'json.loads(d["info"]["info"])["pid"]')
kill -KILL $SHIM2
wait_for 10 eval '[ "$(st "$P2A" "d[\"status\"][\"state\"]")" = CONTAINER_EXITED ]'
rc=$?
[ $rc = 0 ] && wait_for 5 eval "! alive $P2APID"
check "after kill -9 of the shim: the container is killed and reported exited" $? "$(st "$P2A" 'd["status"]') pid $P2APID"

# --- stop and removal leave nothing
out=$(call StopPodSandbox "{\"podSandboxId\":\"$POD\"}" 2>&1)
[ "$(call PodSandboxStatus "{\"podSandboxId\":\"$POD\"}" | py 'd["status"]["state"]')" = SANDBOX_NOTREADY ] &&
    [ "$(st "$C1" 'd["status"]["state"]')" = CONTAINER_EXITED ] && ! alive "$C1PID"
check "StopPodSandbox: not ready, its containers killed" $? "$out"
[ "$(code call CreateContainer "$(ctr_json "$POD" late '["true"]')")" = 9 ]
check "CreateContainer in a stopped pod: FailedPrecondition" $? "$(cat "$W/err")"
out=$(call RemovePodSandbox "{\"podSandboxId\":\"$POD\"}" 2>&1) && out2=$(call RemovePodSandbox "{\"podSandboxId\":\"$POD2\"}" 2>&1)
check "RemovePodSandbox" $? "$out $out2"
out=$(call RemovePodSandbox "{\"podSandboxId\":\"$POD\"}" 2>&1) && out2=$(call RemoveContainer "{\"containerId\":\"$C1\"}" 2>&1)
check "RemovePodSandbox and RemoveContainer again: no error" $? "$out $out2"
# 50 pods with one container each, started at once, then removed at once.
pids=()
for i in $(seq 1 50); do
    (
        p=$(call RunPodSandbox "$(pod_json "many-$i" '' hostnet)" 2>/dev/null | py 'd["podSandboxId"]' 2>/dev/null) &&
            c=$(call CreateContainer "$(ctr_json "$p" c '["sleep","600"]' '' CONTAINER NODE)" 2>/dev/null | py 'd["containerId"]' 2>/dev/null) &&
            call StartContainer "{\"containerId\":\"$c\"}" >/dev/null 2>&1 && echo "$p" >>"$W/many"
    ) &
    pids+=($!)
done
wait "${pids[@]}"   # (not berthd, also a child)
n_up=$(call ListContainers '{"filter":{"state":{"state":"CONTAINER_RUNNING"}}}' | py 'len([c for c in d["containers"] if c["metadata"]["name"]=="c"])')
[ "$(wc -l <"$W/many" 2>/dev/null)" = 50 ] && [ "$n_up" = 50 ]
check "50 pods started concurrently, each with a running container" $? "$(wc -l <"$W/many" 2>/dev/null) pods, $n_up running; $(grep -c level=error "$W/berthd.log") errors logged: $(grep level=error "$W/berthd.log" | tail -3)"
pids=()
for p in $(cat "$W/many"); do call RemovePodSandbox "{\"podSandboxId\":\"$p\"}" >/dev/null 2>&1 & pids+=($!); done
wait "${pids[@]}"
[ "$(call ListPodSandbox '{}' | py 'len(d["items"])')" = 0 ]
check "the 50 pods removed concurrently" $? "$(call ListPodSandbox '{}' 2>&1 | head -c 300)"
sleep 0.5
left=$(grep -F " $W/" /proc/self/mountinfo; find "$W/state/pods" "$W/root/pods" "$W/root/rootfs" -mindepth 1 -maxdepth 1 2>/dev/null;
       shim_pids "$POD"; shim_pids "$POD2";
       find /sys/fs/cgroup/*"$CG" /sys/fs/cgroup"$CG" -mindepth 1 -type d 2>/dev/null)
[ -z "$left" ]
check "nothing left: no mount, pod state, record, rootfs, shim or container cgroup" $? "$left"
[ -f "$W/logs/web/app.log" ]
check "the container log stays for kubelet" $? "$(ls -R "$W/logs")"

exit $failed
