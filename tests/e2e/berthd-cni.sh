#!/usr/bin/env bash
# berthd's pod networks through real CNI plugins (Debian's
# containernetworking-plugins: bridge, host-local, portmap) and one of the
# test's own ("record", which writes what it was given and passes its
# prevResult on, or fails or hangs when told to). berthd runs in a network
# namespace the test makes, so the bridge, the veths, portmap's iptables
# rules and every address live there and go with it. Checked through
# berthd's socket with cri-client: NetworkReady following the config dir,
# the CNI_* environment, prevResult chaining and the runtimeConfig
# capabilities, the pod's IPv4 and IPv6 addresses in PodSandboxStatus and
# inside its container, traffic to the pod and through a host port, CHECK,
# DEL from the cached result after a kill -9 and a config change, plugin
# errors and a hung plugin failing RunPodSandbox cleanly, and a failing DEL
# keeping the pod (and its address) until it succeeds. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

berthd_needs ip nsenter iptables
for p in bridge host-local portmap loopback; do
    [ -x /usr/lib/cni/$p ] || skip "CNI plugin /usr/lib/cni/$p is missing (containernetworking-plugins)"
done

W=$(mktemp -d /tmp/berth-e2e-cni.XXXXXX)
CG=/berth-e2e-cni-$$
NS=berth-e2e-cni-$$
BERTHD_PID=
cleanup() {
    berthd_cleanup "$CG"
    ip netns del "$NS" 2>/dev/null
}
on_exit cleanup

plan 50

ip netns add "$NS" || { echo "not ok 1 - a network namespace for the test"; exit 1; }
NETNS=/run/netns/$NS
in_ns() { nsenter --net="$NETNS" "$@"; }
in_ns ip link set lo up

# --- plugins and config
mkdir -p "$W/bin" "$W/net.d" "$W/rec" "$W/ipam"
cat > "$W/bin/record" <<'X'
#!/bin/sh
# A CNI plugin of the test's: keeps its stdin and CNI_* environment, fails
# or hangs when $out/fail-CMD or $out/hang-CMD exists, and passes its
# prevResult on for ADD.
in=$(cat)
out=$(printf '%s' "$in" | python3 -c 'import json,sys; print(json.load(sys.stdin)["out"])')
printf '%s' "$in" > "$out/$CNI_COMMAND-$CNI_CONTAINERID.json"
env | grep '^CNI_' > "$out/$CNI_COMMAND-$CNI_CONTAINERID.env"
if [ -e "$out/fail-$CNI_COMMAND" ]; then
    echo "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"record: told to fail $CNI_COMMAND\",\"details\":\"the test made fail-$CNI_COMMAND\"}"
    exit 1
fi
[ -e "$out/hang-$CNI_COMMAND" ] && sleep 600
[ "$CNI_COMMAND" = ADD ] && printf '%s' "$in" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["prevResult"]))'
exit 0
X
chmod +x "$W/bin/record"
conflist() {   # conflist NAME SUBNET [V6-SUBNET]: bridge + host-local + portmap + record
    local v6=''
    [ -n "${3:-}" ] && v6=",[{\"subnet\":\"$3\"}]"
    cat <<X
{"cniVersion":"1.0.0","name":"$1","plugins":[
 {"type":"bridge","bridge":"bt-$1","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","dataDir":"$W/ipam","ranges":[[{"subnet":"$2"}]$v6],
          "routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true},"snat":true},
 {"type":"record","out":"$W/rec","capabilities":{"portMappings":true,"dns":true,"ipRanges":true,"bandwidth":true,
  "io.kubernetes.cri.pod-annotations":true}}
]}
X
}
cat > "$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
seccomp_profile = "$BERTH_SRC/contrib/seccomp/default.json"
[cni]
bin_dirs = ["$W/bin", "/usr/lib/cni"]
plugin_timeout = "3s"
X
# berthd in the test's network namespace: the pods' host side is there.
printf '#!/bin/sh\nexec nsenter --net=%s %s "$@"\n' "$NETNS" "$BERTHD" > "$W/berthd-in-ns"
chmod +x "$W/berthd-in-ns"
BERTHD=$W/berthd-in-ns CNI_CONF_DIR=$W/net.d start_berthd
check "berthd starts in the test's network namespace" $? "$(tail -5 "$W/berthd.log")"

net_ready() { call Status '{}' | py '[c for c in d["status"]["conditions"] if c["type"]=="NetworkReady"][0]'; }
out=$(net_ready 2>&1)
[ "$(echo "$out" | py 'd.get("status", False)')" = False ] && [[ $out == *"no valid CNI network config in $W/net.d"* ]]
check "NetworkReady is false with an empty config dir, and says where it looked" $? "$out"

echo '{"cniVersion":"1.0.0","name":"broken","plugins":[]}' > "$W/net.d/05-broken.conflist"
out=$(net_ready 2>&1)
[ "$(echo "$out" | py 'd.get("status", False)')" = False ] && [[ $out == *"05-broken.conflist"*"plugins: no plugins"* ]]
check "an invalid config is named with its error, and not used" $? "$out"

conflist berth-test 10.99.0.0/24 fd99:99::/64 > "$W/net.d/10-test.conflist"
out=$(net_ready 2>&1)
[ "$(echo "$out" | py 'd.get("status", False)')" = True ]
check "NetworkReady turns true when a valid config appears (the broken one sorts first and is passed over)" $? "$out"

out=$(call UpdateRuntimeConfig '{"runtimeConfig":{"networkConfig":{"podCidr":"10.99.0.0/24,fd99:99::/64"}}}' 2>&1)
check "UpdateRuntimeConfig takes the pod CIDRs" $? "$out"
out=$(call UpdateRuntimeConfig '{"runtimeConfig":{"networkConfig":{"podCidr":"10.99.0.0"}}}' 2>&1)
[[ $out == "3: "*pod_cidr* ]]
check "a pod CIDR that is not one is InvalidArgument naming the field" $? "$out"

pod_json() {   # pod_json NAME [EXTRA-CONFIG-JSON] [HOSTNET]
    local net=POD
    [ "${3:-}" = hostnet ] && net=NODE
    printf '{"config":{"metadata":{"name":"%s","namespace":"e2e","uid":"uid-%s","attempt":0},"hostname":"%s","logDirectory":"%s",%s"linux":{"cgroupParent":"%s","securityContext":{"namespaceOptions":{"network":"%s","pid":"CONTAINER","ipc":"POD"}}}}}' \
        "$1" "$1" "$1" "$W/logs/$1" "${2:-}" "$CG" "$net"
}
run_pod() { call RunPodSandbox "$(pod_json "$@")"; }
pod_ips() { call PodSandboxStatus "{\"podSandboxId\":\"$1\"}" | py '[d["status"]["network"].get("ip","")] + [a["ip"] for a in d["status"]["network"].get("additionalIps",[])]'; }
ipam_has() { grep -rqs "$1" "$W/ipam"; }   # ipam_has POD: host-local still holds an address for it

# --- a pod on the network
IMG=localhost/berthd-cni-e2e:1
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    "$BERTHCTL" -r "unix://$W/berthd.sock" load -i "$W/img.tar" >/dev/null 2>&1
check "a busybox image loaded into berthd" $? ""

extra='"portMappings":[{"protocol":"TCP","containerPort":8080,"hostPort":18080}],"dnsConfig":{"servers":["10.99.0.53"],"searches":["e2e.svc"],"options":["ndots:2"]},"annotations":{"kubernetes.io/ingress-bandwidth":"10M","team":"net"},'
out=$(run_pod web "$extra" 2>&1)
POD=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
[ -n "$POD" ]
check "RunPodSandbox with a CNI network" $? "$out $(tail -5 "$W/berthd.log")"
ips=$(pod_ips "$POD" 2>&1)
IP4=$(echo "$ips" | py 'd[0]' 2>/dev/null)
IP6=$(echo "$ips" | py 'd[1] if len(d) > 1 else ""' 2>/dev/null)
[[ $IP4 == 10.99.0.* ]] && [[ $IP6 == fd99:99::* ]]
check "PodSandboxStatus: its IPv4 address first, the IPv6 one in additional_ips" $? "$ips"

env_add=$(cat "$W/rec/ADD-$POD.env" 2>&1)
grep -qx "CNI_COMMAND=ADD" <<<"$env_add" && grep -qx "CNI_CONTAINERID=$POD" <<<"$env_add" &&
    grep -qx "CNI_NETNS=$W/state/pods/$POD/ns/net" <<<"$env_add" && grep -qx "CNI_IFNAME=eth0" <<<"$env_add" &&
    grep -qx "CNI_PATH=$W/bin:/usr/lib/cni" <<<"$env_add" &&
    grep -qx "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=$POD;K8S_POD_UID=uid-web" <<<"$env_add"
check "ADD's CNI_* environment: command, pod id, the pinned netns, eth0, plugin path, K8S_POD_* args" $? "$env_add"

rec=$(cat "$W/rec/ADD-$POD.json" 2>&1)
[ "$(echo "$rec" | py 'd["name"], d["cniVersion"]')" = "('berth-test', '1.0.0')" ] &&
    echo "$rec" | py '[i["address"] for i in d["prevResult"]["ips"]]' | grep -q "$IP4/24"
check "prevResult chains: the record plugin got bridge's and portmap's result, and the list's name and version" $? "$rec"
rc=$(echo "$rec" | py 'd["runtimeConfig"]' 2>&1)
[ "$(echo "$rc" | py 'd["portMappings"]')" = '[{"hostPort": 18080, "containerPort": 8080, "protocol": "tcp", "hostIP": ""}]' ] &&
    [ "$(echo "$rc" | py 'd["dns"]')" = '{"servers": ["10.99.0.53"], "searches": ["e2e.svc"], "options": ["ndots:2"]}' ] &&
    [ "$(echo "$rc" | py 'd["ipRanges"]')" = '[[{"subnet": "10.99.0.0/24"}], [{"subnet": "fd99:99::/64"}]]' ] &&
    [ "$(echo "$rc" | py 'd["bandwidth"]["ingressRate"]')" = 10000000 ] &&
    [ "$(echo "$rc" | py 'd["io.kubernetes.cri.pod-annotations"]["team"]')" = net ]
check "runtimeConfig: portMappings, dns, ipRanges, bandwidth and the pod's annotations" $? "$rc"
# --- inside the pod
out=$(call CreateContainer "$(printf '{"podSandboxId":"%s","config":{"metadata":{"name":"srv"},"image":{"image":"%s"},"command":["sh","-c","mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www"],"logPath":"srv.log"},"sandboxConfig":%s}' "$POD" "$IMG" "$(pod_json web "$extra" | py 'd["config"]')")" 2>&1)
CTR=$(echo "$out" | py 'd["containerId"]' 2>/dev/null)
[ -n "$CTR" ] && call StartContainer "{\"containerId\":\"$CTR\"}" >/dev/null 2>&1
check "a container in the pod serving HTTP on 8080" $? "$out $(tail -3 "$W/berthd.log")"
out=$(sh_in "$CTR" "ip -4 addr show eth0; ip -6 addr show eth0" 2>&1)
[[ $out == *"inet $IP4/24"* ]] && [[ $out == *"inet6 $IP6/64"* ]]
check "the container sees both addresses on its eth0" $? "$out"
out=$(in_ns busybox ping -c1 -W3 "$IP4" 2>&1)
check "the pod answers pings from the network namespace its bridge is in" $? "$out"
wait_for 5 in_ns sh -c "exec 3<>/dev/tcp/$IP4/8080" 2>/dev/null
out=$(in_ns python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://$IP4:8080/" 2>&1)
[[ $out == *hello-from-pod* ]]
check "HTTP to the pod's address reaches the container" $? "$out"
out=$(in_ns python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://10.99.0.1:18080/" 2>&1)
[[ $out == *hello-from-pod* ]]
check "HTTP to host port 18080 reaches it through portmap" $? "$out $(in_ns iptables -t nat -S 2>&1 | grep -i 18080 | head -3)"
out=$(in_ns python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://127.0.0.1:18080/" 2>&1)
[[ $out == *hello-from-pod* ]]
check "...and on 127.0.0.1 (portmap's localhost DNAT and SNAT)" $? "$out"

# --- a second pod on the bridge reaches the first by its address
sleeper() {   # sleeper POD POD-NAME [EXTRA] [HOSTNET]: a running sleep container in POD; prints its id
    local id
    id=$(call CreateContainer "$(printf '{"podSandboxId":"%s","config":{"metadata":{"name":"sleep"},"image":{"image":"%s"},"command":["sleep","3600"],"logPath":"sleep.log"},"sandboxConfig":%s}' "$1" "$IMG" "$(pod_json "$2" "${3:-}" "${4:-}" | py 'd["config"]')")" | py 'd["containerId"]') &&
        call StartContainer "{\"containerId\":\"$id\"}" >/dev/null && echo "$id"
}
PEER=$(run_pod peer 2>&1 | py 'd["podSandboxId"]' 2>/dev/null)
PCTR=$(sleeper "$PEER" peer 2>&1)
# (busybox-static's wget faults on its resolver; nc speaks HTTP/1.0 here)
out=$(sh_in "$PCTR" "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $IP4 8080" 2>&1)
[[ $out == *hello-from-pod* ]] && [[ $(pod_ips "$PEER") == '["10.99.0.'* ]]
check "two pods on the bridge: the second reaches the first's httpd at its address" $? "ctr=$PCTR out=$out $(pod_ips "$PEER" 2>&1)"
call StopPodSandbox "{\"podSandboxId\":\"$PEER\"}" >/dev/null 2>&1 && call RemovePodSandbox "{\"podSandboxId\":\"$PEER\"}" >/dev/null 2>&1
check "the second pod removed" $? ""

# --- DEL from the cache after kill -9 and a config change
kill -KILL "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
rm -f "$W/net.d/10-test.conflist"
conflist other-net 10.98.0.0/24 > "$W/net.d/20-other.conflist"
BERTHD=$W/berthd-in-ns CNI_CONF_DIR=$W/net.d start_berthd
check "berthd restarted after kill -9, with another network configured" $? "$(tail -5 "$W/berthd.log")"
ipam_has "$POD"
check "host-local still holds the pod's address" $? "$(ls -R "$W/ipam")"
out=$(call StopPodSandbox "{\"podSandboxId\":\"$POD\"}" 2>&1)
check "StopPodSandbox" $? "$out"
del=$(cat "$W/rec/DEL-$POD.json" 2>&1)
[ "$(echo "$del" | py 'd["name"]')" = berth-test ] && echo "$del" | py 'd["prevResult"]["ips"][0]["address"]' | grep -q "$IP4" &&
    ! ipam_has "$POD" && [ ! -e "$W/root/cni/$POD.json" ]
check "DEL ran with the cached config and result (network berth-test), released the address, dropped the cache" $? "$del $(ls -R "$W/ipam" "$W/root/cni")"
out=$(pod_ips "$POD" 2>&1)
[ "$out" = '[""]' ]
check "a stopped pod reports no address" $? "$out"
call RemovePodSandbox "{\"podSandboxId\":\"$POD\"}" >/dev/null 2>&1
check "RemovePodSandbox" $? ""
left=$({
    in_ns ip -o link show master bt-berth-test 2>&1
    in_ns iptables-save -t nat 2>&1 | grep -e "$POD" -e 18080
    ls -d "$W/state/pods/$POD" 2>/dev/null
    grep -F "$W/state/pods/$POD" /proc/self/mountinfo
})
[ -z "$left" ]
check "...and nothing of the pod is left: no veth on its bridge, no portmap rule, no netns pin, no pod dir" $? "$left"
# --- CHECK, on the new network (IPv4 only: portmap 1.1.1's CHECK looks
# for IPv4 rules among the IPv6 ones of a dual-stack pod and fails)
out=$(run_pod checked 2>&1)
CP=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
[[ $(pod_ips "$CP" 2>&1) == '["10.98.0.'* ]]
check "a pod on the network configured now (other-net, 10.98.0.0/24)" $? "$out"
out=$(call PodSandboxStatus "{\"podSandboxId\":\"$CP\",\"verbose\":true}" 2>&1)
[ "$(echo "$out" | py 'json.loads(d["info"]["info"])["cni"]["check"]')" = ok ] && [ -e "$W/rec/CHECK-$CP.json" ]
check "verbose PodSandboxStatus runs CNI CHECK (cniVersion 1.0.0): ok" $? "$out"
nsenter --net="$W/state/pods/$CP/ns/net" ip link del eth0 2>/dev/null
out=$(call PodSandboxStatus "{\"podSandboxId\":\"$CP\",\"verbose\":true}" 2>&1)
chk=$(echo "$out" | py 'json.loads(d["info"]["info"])["cni"]["check"]' 2>&1)
[[ $chk == "CNI plugin "*" CHECK failed: "* ]]
check "CHECK reports the plugin's error once the pod's eth0 is gone" $? "$chk"

call StopPodSandbox "{\"podSandboxId\":\"$CP\"}" >/dev/null 2>&1 && call RemovePodSandbox "{\"podSandboxId\":\"$CP\"}" >/dev/null 2>&1
check "that pod stopped and removed" $? ""
rm -f "$W/net.d/20-other.conflist"
conflist berth-test 10.99.0.0/24 fd99:99::/64 > "$W/net.d/10-test.conflist"

# --- a host-network pod: no CNI
out=$(run_pod hostnet '' hostnet 2>&1)
HP=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
[ -n "$HP" ] && [ ! -e "$W/rec/ADD-$HP.json" ] && [ "$(pod_ips "$HP")" = '[""]' ]
check "a host-network pod calls no plugin and has no address of its own" $? "$out"
HCTR=$(sleeper "$HP" hostnet '' hostnet 2>&1)
out=$(sh_in "$HCTR" 'ip -o link' 2>&1)
[[ $out == *bt-berth-test* ]]
check "...and sees the node's interfaces (the bridge in berthd's namespace)" $? "$out"
call StopPodSandbox "{\"podSandboxId\":\"$HP\"}" >/dev/null 2>&1 && call RemovePodSandbox "{\"podSandboxId\":\"$HP\"}" >/dev/null 2>&1
check "the host-network pod removed" $? ""

no_pod_left() {   # no_pod_left NAME: not listed, nothing pinned, no address, no cache
    [ "$(call ListPodSandbox '{}' | py "[p for p in d.get('items',[]) if p['metadata']['name']=='$1']")" = '[]' ] &&
        ! grep -q " $W/state/pods/" /proc/self/mountinfo && [ -z "$(ls "$W/root/cni")" ] &&
        [ -z "$(find "$W/ipam" -type f -name '10.*')" ]
}

# --- what CNI cannot carry is refused up front
out=$(run_pod badbw '"annotations":{"kubernetes.io/egress-bandwidth":"fast"},' 2>&1)
[[ $out == "3: "*"config.annotations[kubernetes.io/egress-bandwidth]"*fast* ]] && no_pod_left badbw
check "a bad bandwidth annotation is InvalidArgument naming it, before any plugin runs" $? "$out"
out=$(run_pod 'semi;colon' 2>&1)
[[ $out == "3: config.metadata.name: "*"CNI_ARGS cannot carry"* ]] && no_pod_left 'semi;colon'
check "a pod name CNI_ARGS cannot carry is InvalidArgument" $? "$out"

# --- a plugin error
touch "$W/rec/fail-ADD"
out=$(run_pod failing 2>&1)
[[ $out == *"record: told to fail ADD (code 11; the test made fail-ADD)"* ]] && [[ $out == *'CNI network "berth-test"'* ]]
check "a failing ADD fails RunPodSandbox with the plugin's message and code" $? "$out"
no_pod_left failing
check "...and leaves nothing: no pod, no pins, no cache, the address released by DEL" $? "$(call ListPodSandbox '{}') $(ls -R "$W/ipam" "$W/root/cni")"
rm -f "$W/rec/fail-ADD"

# --- a hung plugin
touch "$W/rec/hang-ADD"
start=$SECONDS
out=$(run_pod hanging 2>&1)
took=$((SECONDS - start))
[[ $out == "4: "* ]] && [[ $out == *"no answer in 3 s; killed"* ]] && [ "$took" -lt 30 ]
check "a hung plugin is killed after plugin_timeout (3 s) and RunPodSandbox fails" $? "took ${took}s: $out"
# The plugin's sleep, known by its CNI_PATH (this test's bin dir), not any
# sleep 600 another test on this machine runs.
left=$(for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "^sleep 600" &&
        grep -qsF "CNI_PATH=$W/bin" "$p/environ" && echo "${p#/proc/}"
done)
[ -z "$left" ]
check "...with what it started (its process group)" $? "left: $left"
rm -f "$W/rec/hang-ADD"
no_pod_left hanging
check "...and leaves nothing behind" $? "$(call ListPodSandbox '{}') $(ls -R "$W/ipam" "$W/root/cni")"

# --- a DEL that fails keeps the pod until it succeeds
out=$(run_pod sticky 2>&1)
SP=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
[ -n "$SP" ]
check "another pod" $? "$out"
touch "$W/rec/fail-DEL"
out=$(call StopPodSandbox "{\"podSandboxId\":\"$SP\"}" 2>&1)
[ -n "$out" ] && [[ $out == *"record: told to fail DEL"*"tried 3 times"* ]]
check "a failing DEL fails StopPodSandbox, retried and reported" $? "$out"
out=$(call RemovePodSandbox "{\"podSandboxId\":\"$SP\"}" 2>&1)
[[ $out == *"told to fail DEL"* ]] && [ "$(call ListPodSandbox '{}' | py "len([p for p in d.get('items',[]) if p['id']=='$SP'])")" = 1 ] &&
    ipam_has "$SP"
check "RemovePodSandbox refuses while the address is allocated; the pod stays listed" $? "$out"
rm -f "$W/rec/fail-DEL"
out=$(call StopPodSandbox "{\"podSandboxId\":\"$SP\"}" 2>&1) && out=$(call RemovePodSandbox "{\"podSandboxId\":\"$SP\"}" 2>&1)
check "once DEL works, stop and remove succeed" $? "$out"
no_pod_left sticky
check "...and leave nothing" $? "$(ls -R "$W/ipam" "$W/root/cni")"

# --- the config goes away
rm -f "$W/net.d/"*
out=$(net_ready 2>&1)
[ "$(echo "$out" | py 'd.get("status", False)')" = False ]
check "NetworkReady turns false when the config is removed" $? "$out"
out=$(run_pod lonely 2>&1)
LP=$(echo "$out" | py 'd["podSandboxId"]' 2>/dev/null)
[ -n "$LP" ] && [ ! -e "$W/rec/ADD-$LP.json" ]
check "without a network (unconfigured = loopback) a pod runs with lo alone" $? "$out"
call StopPodSandbox "{\"podSandboxId\":\"$LP\"}" >/dev/null 2>&1 && call RemovePodSandbox "{\"podSandboxId\":\"$LP\"}" >/dev/null 2>&1
check "...and is removed" $? ""

alive "$BERTHD_PID"
check "berthd is alive at the end" $? "$(tail -5 "$W/berthd.log")"
exit $failed
