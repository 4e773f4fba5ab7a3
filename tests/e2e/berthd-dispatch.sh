#!/usr/bin/env bash
# berthctl run --config across two berthds (issue 16): A on a unix socket
# and TCP with mutual TLS on 127.0.0.1, B on a unix socket, each with its
# own root, state and cgroup parent, both with a config `small` (64m a
# workload, 192m for all). berthctl asks each its Capacity and runs on the
# one with the most room left, and -v says which and why: the fuller one is
# skipped, from --host flags and from a hosts file ($BERTH_CONFIG/hosts,
# a TLS dir per host); a host full for the workload, one without the config,
# one that does not admit the caller (told apart from neither), and one
# that is down are skipped; when none fits, berthctl fails listing each
# host's reason. executions lists both hosts'; other verbs take one host.
# TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

berthd_needs openssl
W=$(mktemp -d /tmp/berth-e2e-dispatch.XXXXXX)
CG=/berth-e2e-dispatch-$$
PID_a= PID_b=
cleanup() {
    local top=$W d pid
    for d in a b; do
        pid=PID_$d
        W=$top/$d BERTHD_PID=${!pid} berthd_cleanup "$CG-$d"
    done
    rm -rf "$top"
}
on_exit cleanup

plan 15

# start_daemon NAME: berthd on $W/NAME/berthd.toml, its root, state, socket
# and an empty CNI dir under $W/NAME; sets PID_NAME.
start_daemon() {
    local d=$W/$1
    mkdir -p "$d/cni-none"
    "$BERTHD" --config "$d/berthd.toml" --root "$d/root" --state "$d/state" --listen "$d/berthd.sock" \
        --cni-conf-dir "$d/cni-none" --log-level debug >>"$d/berthd.log" 2>&1 &
    printf -v "PID_$1" %s $!
    wait_for 10 "$BERTHCTL" -r "unix://$d/berthd.sock" version >/dev/null 2>&1
}
config() {   # config NAME CGROUP-PARENT [EXTRA TOML]: the daemon's berthd.toml
    mkdir -p "$W/$1"
    cat >"$W/$1/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$2"
${3:-}
[configs.small]
image = "$IMG"
resources.memory = "64m"
quota.memory = "192m"
X
}

IMG=localhost/berthd-dispatch-e2e:1
PORT=$(free_port)
sh "$BERTH_SRC/contrib/tls/make-certs.sh" "$W/pki" --client disp --client nobody >/dev/null
config a "$CG-a" "[tls]
address = \"127.0.0.1:$PORT\"
ca = \"$W/pki/ca.pem\"
cert = \"$W/pki/server-cert.pem\"
key = \"$W/pki/server-key.pem\"
clients.disp = { user = \"root\" }
clients.nobody = { user = \"nobody\" }"
config b "$CG-b" "[configs.b-only]
image = \"$IMG\""
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    start_daemon a && start_daemon b &&
    "$BERTHCTL" -r "unix://$W/a/berthd.sock" load -i "$W/img.tar" >/dev/null &&
    "$BERTHCTL" -r "unix://$W/b/berthd.sock" load -i "$W/img.tar" >/dev/null
check "two berthds (A: unix and TLS on 127.0.0.1; B: unix), separate roots, the image loaded in each" $? \
    "$(tail -n 3 "$W/a/berthd.log" "$W/b/berthd.log")"

A=tcp://127.0.0.1:$PORT B=unix://$W/b/berthd.sock
ON_A=("$BERTHCTL" -r "unix://$W/a/berthd.sock") ON_B=("$BERTHCTL" -r "$B")
# both: berthctl with A (TLS, as root) and B, fuller first
both() { BERTH_CERT_PATH=$W/pki/disp "$BERTHCTL" --tlsverify -H "$A" -H "$B" "$@"; }
a1=$("${ON_A[@]}" run -d --config small -- sleep 300) && a2=$("${ON_A[@]}" run -d --config small -- sleep 300)
check "A holds two sleeping workloads: 128m of its 192m" $? "$a1 $a2"

out=$(both run --config small -v -- echo hi 2>"$W/err")
rc=$? err=$(cat "$W/err")
[ $rc = 0 ] && [ "$out" = hi ] &&
    [[ $err == *"berthctl: running on $B: 192m left under config small's quota ($A: 64m left under config small's quota)"* ]] &&
    [ "$("${ON_B[@]}" executions -a -q | wc -l)" = 1 ]
check "-H A -H B run --config small: runs on B, the emptier, and -v says so" $? "rc=$rc out=$out err=$err"

mkdir -p "$W/ctx" && cp -r "$W/pki/disp" "$W/ctx/certs-a" &&
    printf '# dispatch test\n%s certs-a\n%s\n' "$A" "$B" >"$W/ctx/hosts"
b1=$(BERTH_CONFIG=$W/ctx BERTH_CERT_PATH=$W/nowhere "$BERTHCTL" run -d -v --config small -- sleep 300 2>"$W/err")
rc=$? err=$(cat "$W/err")
[ $rc = 0 ] && [[ $err == *"running on $B: 192m left"* ]] && "${ON_B[@]}" executions -q | grep -qx "$b1"
check "the same from a hosts file (\$BERTH_CONFIG/hosts, A's TLS dir relative to it)" $? "rc=$rc id=$b1 err=$err"

out=$(BERTH_CONFIG=$W/ctx "$BERTHCTL" executions 2>&1)
rc=$?
[ $rc = 0 ] && [ "$(grep -c "^$A .*sleep 300" <<<"$out")" = 2 ] && [ "$(grep -c "^$B .*sleep 300" <<<"$out")" = 1 ] &&
    [[ $(head -1 <<<"$out") == "HOST "*"EXECUTION ID"* ]]
check "executions with several hosts lists each one's, with a HOST column" $? "rc=$rc $out"

out=$(BERTH_CONFIG=$W/ctx "$BERTHCTL" pods 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *"pods: talks to one berthd, and 2 hosts are given ($W/ctx/hosts); name one with --host"* ]]
check "a verb that takes one host says so" $? "rc=$rc $out"

b2=$("${ON_B[@]}" run -d --config small -- sleep 300) && b3=$("${ON_B[@]}" run -d --config small -- sleep 300)
out=$(both run --config small -v -- echo on-a 2>"$W/err")
rc=$? err=$(cat "$W/err")
[ $rc = 0 ] && [ "$out" = on-a ] &&
    [[ $err == *"running on $A: 64m left under config small's quota ($B: full (config \"small\": the config's memory quota 192m: 192m reserved by 3 running execution(s), 0 left; this workload needs 64m))"* ]]
check "B full (3 x 64m): skipped, saying why; the run goes to A" $? "rc=$rc out=$out err=$err"

out=$(both run --config b-only -v -- echo only-b 2>"$W/err")
rc=$? err=$(cat "$W/err")
[ $rc = 0 ] && [ "$out" = only-b ] && [[ $err == *"running on $B: no quota on config b-only ($A: does not offer config b-only (or not to you))"* ]]
check "a config A does not have: A skipped, the run on B" $? "rc=$rc out=$out err=$err"

out=$(BERTH_CERT_PATH=$W/pki/nobody "$BERTHCTL" --tlsverify -H "$A" -H "$B" run --config small -v -- true 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == *"$A: does not offer config small (or not to you)"* ]] &&
    grep -q "audit: deny user=nobody .*config=small reason=.*Capacity: not in its groups" "$W/a/berthd.log"
check "a caller A does not admit to small is told no more than for a config A lacks (and A audits it)" $? \
    "rc=$rc $out $(grep 'audit: deny' "$W/a/berthd.log" | tail -2)"

kill -TERM "$PID_b" && wait "$PID_b" 2>/dev/null
PID_b=
"${ON_A[@]}" cancel --grace 0 "$a2" >/dev/null && "${ON_A[@]}" wait "$a2" >/dev/null
out=$(both run --config small -v -- echo still 2>"$W/err")
rc=$? err=$(cat "$W/err")
[ $rc = 0 ] && [ "$out" = still ] && [[ $err == *"running on $A: 128m left under config small's quota ($B: down ("* ]]
check "B stopped: skipped as down, the run on A" $? "rc=$rc out=$out err=$err"

a3=$("${ON_A[@]}" run -d --config small -- sleep 300) && a4=$("${ON_A[@]}" run -d --config small -- sleep 300)
out=$(both run --config small -v -- echo never 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out != *never* ]] &&
    [[ $out == "berthctl: run --config small: no host can run it: $A: full (config \"small\": the config's memory quota 192m: 192m reserved by 3 running execution(s), 0 left; this workload needs 64m); $B: down ("* ]]
check "nothing fits (A full, B down): non-zero, with each host's reason" $? "rc=$rc $out"

out=$("$BERTHCTL" -H "unix://$W/a/berthd.sock" executions -q 2>&1)
[ "$(wc -l <<<"$out")" = 3 ] && [[ $out == *"$a1"* ]]
check "one --host unix:///PATH talks to that berthd as -r does" $? "$out"

out=$(BERTH_CERT_PATH=$W/pki/disp "$BERTHCTL" -H "$A" --tlsverify run --config small -- true 2>&1)
rc=$?
[ $rc != 0 ] && [[ $out == "berthctl: running under config \"small\": Run: rpc error: code = ResourceExhausted desc = "* ]]
check "one --host: no Capacity, no dispatch: Run's own error, as before" $? "rc=$rc $out"

"${ON_A[@]}" cancel --grace 0 "$a1" "$a3" "$a4" >/dev/null
for e in $("${ON_A[@]}" executions -a -q); do "${ON_A[@]}" rm-execution "$e" >/dev/null || echo "rm $e failed"; done
[ -z "$("${ON_A[@]}" executions -a -q)" ]
check "A's executions canceled and removed (B's go with its cleanup)" $? "$("${ON_A[@]}" executions -a)"

printf 'tcp://127.0.0.1:%s\nunix:///nowhere.sock certs\n' "$PORT" >"$W/ctx/hosts"
out=$(BERTH_CONFIG=$W/ctx "$BERTHCTL" executions 2>&1)
[[ $out == "berthctl: $W/ctx/hosts:2: TLS-DIR \"certs\": a unix socket takes none (tcp:// hosts only)" ]]
check "a bad hosts file: the error names file, line and field" $? "$out"
exit $failed
