#!/usr/bin/env bash
# berthd over TCP with mutual TLS, with certificates contrib/tls/make-certs.sh
# makes: a client whose certificate the CA signed and whose Common Name maps
# to a user in group A lists and runs group A's config through berthctl
# --host --tlsverify; one mapped to a user outside the group is refused with
# PermissionDenied; an unmapped one too; a certificate from another CA, an
# expired one and none at all fail at the handshake; the CRI services stay
# root's. Only 127.0.0.1. TAP output.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/berthd-lib.sh"

berthd_needs openssl curl useradd groupadd
W=$(mktemp -d /tmp/berth-e2e-tls.XXXXXX)
CG=/berth-e2e-tls-$$
GA=btla$$ U=btlu$$ V=btlv$$
BERTHD_PID=
cleanup() {
    berthd_cleanup "$CG"
    userdel "$U" 2>/dev/null
    userdel "$V" 2>/dev/null
    groupdel "$GA" 2>/dev/null
}
on_exit cleanup

plan 11

MC=$BERTH_SRC/contrib/tls/make-certs.sh
sh "$MC" "$W/pki" --client alice --client bob --client mallory >/dev/null &&
    sh "$MC" "$W/pki" --client old --days -1 >/dev/null && sh "$MC" "$W/other" --client alice >/dev/null &&
    groupadd "$GA" && useradd -M -N -g "$GA" -s /usr/sbin/nologin -d / "$U" && useradd -M -N -s /usr/sbin/nologin -d / "$V"
check "a CA, berthd's certificate and client certificates (one expired, one from another CA); a user in group A and one not" $? ""

PORT=$(free_port)
IMG=localhost/berthd-tls-e2e:1
cat >"$W/berthd.toml" <<X
[runtime]
shim = "$BERTH_SHIM"
cgroup_parent = "$CG"
[tls]
address = "127.0.0.1:$PORT"
ca = "$W/pki/ca.pem"
cert = "$W/pki/server-cert.pem"
key = "$W/pki/server-key.pem"
clients.alice = { user = "$U", groups = ["$GA"] }
clients.bob = { user = "$V" }
[configs.for-a]
image = "$IMG"
groups = ["$GA"]
X
start_berthd
grep -q "mutual TLS on 127.0.0.1:$PORT" "$W/berthd.log"
check "berthd serves mutual TLS on 127.0.0.1" $? "$(tail -3 "$W/berthd.log")"
make_rootfs "$W/src" >/dev/null 2>&1 && make_docker_archive "$W/src/rootfs" "$W/img.tar" "$IMG" &&
    "$BERTHCTL" -r "unix://$W/berthd.sock" load -i "$W/img.tar" >/dev/null 2>&1
check "the config's image loaded (root, on the socket)" $? ""

remote() { local who=$1; shift; BERTH_CERT_PATH=$W/$who "$BERTHCTL" --host "tcp://127.0.0.1:$PORT" --tlsverify "$@"; }
# Another CA's client trusts our CA (so only the server's check can fail).
mv "$W/other/alice" "$W/other-alice" && cp "$W/pki/ca.pem" "$W/other-alice/ca.pem"
for c in alice bob mallory old; do mv "$W/pki/$c" "$W/$c"; done
out=$(remote alice configs 2>&1)
[[ $out == *for-a* ]]
check "a mapped client in group A lists group A's config over TLS" $? "$out"
out=$(remote alice run --config for-a -- sh -c 'echo remote-$((6*7))' 2>&1)
rc=$?
[ $rc = 0 ] && [ "$out" = remote-42 ]
check "...and runs it, its output streamed back" $? "rc=$rc $out"
grep -q "audit: allow user=$U uid=$(id -u "$U") .*config=for-a" "$W/berthd.log"
check "...audited as the user its certificate maps to" $? "$(grep audit "$W/berthd.log" | tail -2)"
out=$(remote bob run --config for-a -- true 2>&1)
[[ $out == *PermissionDenied*"TLS client bob"* ]]
check "a mapped client outside the group: PermissionDenied naming it" $? "$out"
out=$(remote mallory configs 2>&1)
[[ $out == *PermissionDenied*"no [tls.clients] entry"* ]]
check "a client the CA signed but no mapping names: PermissionDenied" $? "$out"
out=$(remote alice pods 2>&1)
[[ $out == *PermissionDenied*"root only"* ]]
check "the CRI services stay root's over TLS too" $? "$out"
bad=0 msgs=""
for who in other-alice old; do
    out=$(remote "$who" -t 5s configs 2>&1) && bad=1
    msgs="$msgs [$who: $out]"
done
out=$(curl -sS --max-time 5 --cacert "$W/pki/ca.pem" --http2-prior-knowledge "https://127.0.0.1:$PORT/berth.v1.Executions/ListConfigs" 2>&1) && bad=1
msgs="$msgs [no cert: $out]"
[ $bad = 0 ] && ! grep -q "for-a" <<<"$msgs" && [ "$(grep -c "Handshake failed.*certificate verify failed" "$W/berthd.log")" -ge 2 ] &&
    grep -q "Handshake failed.*peer did not return a certificate" "$W/berthd.log"
check "a certificate from another CA, an expired one and none at all fail at the handshake (berthd: verify failed, no certificate)" $? "$msgs $(grep Handshake "$W/berthd.log")"
out=$("$BERTHCTL" --host "tcp://127.0.0.1:$PORT" configs 2>&1)
[[ $out == *"--tlsverify"* ]] && alive "$BERTHD_PID"
check "--host without --tlsverify: berthctl says what is missing; berthd is alive" $? "$out"
exit $failed
