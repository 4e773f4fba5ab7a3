#!/usr/bin/env bash
# berthd's pulls end to end, through its socket with berthctl: registry
# auth (docker-registry with htpasswd; fake_registry.py's bearer tokens),
# a registry config dir in containerd's hosts.toml layout (a mirror that is
# down, one that serves, one with a corrupt copy, TLS with a private CA
# and a client certificate),
# hostile registries and layers (each a clear error with its CRI code, and
# nothing left in the store after a GC), concurrent pulls fetching each blob
# once, berthd answering while a pull trickles, and an index's platform
# choice. Images come from berthd-pull-images.py (an OCI layout served by
# tests/registry/fake_registry.py, which logs every request, and pushed to
# docker-registry with skopeo). Everything lives under one temp dir and
# every process is killed by its pid. TAP output.
set -u
. "$(dirname "$0")/lib.sh"

skip() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root"
for v in BERTHD BERTHCTL; do [ -x "${!v:-}" ] || skip "$v is not built (grpc++, libcurl, libarchive, toml++ missing?)"; done
for t in docker-registry skopeo python3 htpasswd openssl jq; do command -v "$t" >/dev/null || skip "$t is not installed"; done

HERE=$(cd "$(dirname "$0")" && pwd)
FAKE_PY="$HERE/../registry/fake_registry.py"
W=$(mktemp -d /tmp/berth-e2e-pull.XXXXXX)
PIDS=()        # servers, killed at exit
BERTHD_PID=
cleanup() {
    local p
    for p in $BERTHD_PID "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$W"
}
on_exit cleanup

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
up() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }

plan 32

# --- images: an OCI layout, and the digests the rules below aim at
python3 "$HERE/berthd-pull-images.py" "$W/layout" "$W" >"$W/images.json" 2>"$W/images.err"
check "test images built (berthd-pull-images.py)" $? "$(cat "$W/images.err")"
dig() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$W/images.json" "$1"; }
HOST_ARCH=$(python3 -c 'import os; m=os.uname().machine; print({"x86_64":"amd64","aarch64":"arm64"}.get(m,m))')

# --- registries: docker-registry plain, with htpasswd, with TLS; two fakes
registry() {   # registry NAME PORT [YAML for http:/auth: extras]
    mkdir -p "$W/$1"
    printf 'version: 0.1\nlog: { level: error, accesslog: { disabled: true } }\nstorage:\n  filesystem: { rootdirectory: %s }\n%s\n' \
        "$W/$1/data" "$3" >"$W/$1/config.yml"
    docker-registry serve "$W/$1/config.yml" >"$W/$1/log" 2>&1 &
    PIDS+=($!)
}
REG_PORT=$(free_port) AUTH_PORT=$(free_port) TLS_PORT=$(free_port) DEAD_PORT=$(free_port)
REG=127.0.0.1:$REG_PORT AREG=127.0.0.1:$AUTH_PORT TREG=127.0.0.1:$TLS_PORT
htpasswd -Bbc "$W/htpasswd" alice s3cret >/dev/null 2>&1
mkdir -p "$W/tls/skopeo"
(
    set -e
    cd "$W/tls"
    ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    # shellcheck disable=SC2086
    openssl req -x509 -days 2 $ec -subj "/CN=berth test CA" -keyout ca.key -out ca.crt
    # shellcheck disable=SC2086
    openssl req $ec -subj /CN=127.0.0.1 -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
    openssl x509 -req -days 2 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile san.ext -out server.crt
    # shellcheck disable=SC2086
    openssl req $ec -subj "/CN=berth test client" -keyout client.key -out client.csr
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -days 2 -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile client.ext -out client.crt
    cp ca.crt skopeo/ca.crt && cp client.crt skopeo/client.cert && cp client.key skopeo/client.key
) >"$W/tls.log" 2>&1 || { check "TLS certificates made with openssl" 1 "$(tail -5 "$W/tls.log")"; exit 1; }
registry reg "$REG_PORT" "http: { addr: $REG }"
registry areg "$AUTH_PORT" "http: { addr: $AREG }
auth: { htpasswd: { realm: berth-test, path: $W/htpasswd } }"
# The TLS registry wants a client certificate signed by the same CA.
registry treg "$TLS_PORT" "http: { addr: $TREG, tls: { certificate: $W/tls/server.crt, key: $W/tls/server.key, clientcas: [ $W/tls/ca.crt ] } }"

fake() {   # fake NAME CONFIG_JSON: fake_registry.py on the layout; its port in $W/NAME.port
    printf '%s\n' "$2" >"$W/$1.json"
    python3 "$FAKE_PY" --root "$W/layout" --port-file "$W/$1.port" --config "$W/$1.json" --log "$W/$1.jsonl" \
        >"$W/$1.out" 2>&1 &
    PIDS+=($!)
}
layer_of() { dig "d['$1']['layers'][$2]"; }
SAME_BLOBS=$(dig "'|'.join(x[7:] for x in [d['same']['config']] + d['same']['layers'])")
SHARE_BLOBS=$(dig "'|'.join(x[7:] for x in {d['sharea']['config'], d['shareb']['config'], *d['sharea']['layers'], *d['shareb']['layers']})")
fake fake "{\"rules\": [
  {\"path\": \"/blobs/$(layer_of corrupt 0)\$\", \"action\": \"corrupt\"},
  {\"path\": \"/blobs/$(layer_of mc 0)\$\", \"action\": \"corrupt\"},
  {\"path\": \"/blobs/$(layer_of loop 0)\$\", \"action\": \"redirect\", \"loop\": true},
  {\"path\": \"/blobs/$(layer_of unavail 0)\$\", \"action\": \"status\", \"status\": 503},
  {\"path\": \"/blobs/$(layer_of slow 0)\$\", \"action\": \"slowloris\", \"interval\": 1},
  {\"path\": \"/manifests/huge\$\", \"action\": \"oversize\", \"size\": 8388608},
  {\"path\": \"/blobs/sha256:($SAME_BLOBS)\$\", \"action\": \"gate\", \"file\": \"$W/gate-same\"},
  {\"path\": \"/blobs/sha256:($SHARE_BLOBS)\$\", \"action\": \"gate\", \"file\": \"$W/gate-share\"}
]}"
fake bearer '{"auth": {"scheme": "bearer", "users": {"alice": "secret"}, "anonymous": false}}'
wait_for 20 up "$REG_PORT" && wait_for 20 up "$AUTH_PORT" && wait_for 20 up "$TLS_PORT" &&
    wait_for 20 test -s "$W/fake.port" && wait_for 20 test -s "$W/bearer.port"
check "registries listen: docker-registry plain, htpasswd, TLS; fake_registry.py twice" $? \
    "$(tail -3 "$W"/*/log "$W"/*.out 2>/dev/null)"
FAKE=127.0.0.1:$(cat "$W/fake.port") BEARER=127.0.0.1:$(cat "$W/bearer.port")
FAKE_LOG=$W/fake.jsonl

push() {   # push TAG DEST [skopeo flags]
    local tag=$1 dest=$2; shift 2
    skopeo --insecure-policy copy -q --preserve-digests "$@" "oci:$W/layout:$tag" "docker://$dest" >>"$W/push.log" 2>&1
}
push base "$REG/test/base:1" --dest-tls-verify=false && push mc "$REG/test/mc:mc" --dest-tls-verify=false &&
    push base "$AREG/test/base:1" --dest-tls-verify=false --dest-creds alice:s3cret &&
    push base "$TREG/test/base:1" --dest-cert-dir "$W/tls/skopeo"
check "pushed to docker-registry (plain, htpasswd, TLS) with skopeo" $? "$(tail -5 "$W/push.log")"

# --- berthd
mkdir -p "$W/hosts"
"$BERTHD" --root "$W/root" --state "$W/state" --listen "$W/berthd.sock" --registry-config "$W/hosts" \
    --log-level debug >"$W/berthd.log" 2>&1 &
BERTHD_PID=$!
c() { "$BERTHCTL" -r "unix://$W/berthd.sock" -t 30s "$@"; }
pull() { c pull --pull-timeout 120 "$@"; }
wait_for 10 c version >/dev/null 2>&1
check "berthd answers on its socket" $? "$(tail -5 "$W/berthd.log")"

# expect_fail NAME CODE REF [berthctl pull flags]: the pull fails with CODE,
# and the message names the reference.
expect_fail() {
    local name=$1 code=$2 ref=$3 out rc; shift 3
    out=$(pull "$@" "$ref" 2>&1); rc=$?
    [ $rc != 0 ] && echo "$out" | grep -q "code = $code desc" && echo "$out" | grep -qF "$ref"
    check "$name: $code, naming the reference" $? "rc=$rc: $out"
}
pulled() { echo "$1" | grep -q '^Image is up to date for sha256:'; }

# --- auth
expect_fail "htpasswd registry, no credentials" Unauthenticated "$AREG/test/base:1"
expect_fail "htpasswd registry, a wrong password" Unauthenticated "$AREG/test/base:1" --creds alice:wrong
out=$(pull --creds alice:s3cret "$AREG/test/base:1" 2>&1) && pulled "$out" && c rmi "$AREG/test/base:1" >/dev/null &&
    out2=$(pull --auth "$(printf alice:s3cret | base64)" "$AREG/test/base:1" 2>&1) && pulled "$out2"
check "htpasswd registry, the right credentials (--creds, then --auth)" $? "$out ${out2:-}"
c rmi --all >/dev/null 2>&1

expect_fail "bearer tokens, no credentials" Unauthenticated "$BEARER/t/base:base"
out=$(pull --creds alice:secret "$BEARER/t/base:base" 2>&1)
pulled "$out" &&
    jq -e -s '[.[] | select(.path == "/token" and .status == 200 and (.authorization // "" | startswith("Basic ")))] | length >= 1' \
        "$W/bearer.jsonl" >/dev/null &&
    jq -e -s '[.[] | select((.path | contains("/blobs/")) and .status == 200)] | length >= 2 and
        all(.authorization // "" | startswith("Bearer "))' "$W/bearer.jsonl" >/dev/null
check "bearer tokens: a token for the credentials, blobs fetched with it" $? "$out $(tail -5 "$W/bearer.jsonl")"
c rmi --all >/dev/null 2>&1

# --- a registry config dir (containerd's hosts.toml layout, read at each pull)
hosts() {   # hosts DOMAIN TOML
    mkdir -p "$W/hosts/$1" && printf '%s\n' "$2" >"$W/hosts/$1/hosts.toml"
}
hosts mirror1.berth.test "server = \"http://$REG\"
[host.\"http://127.0.0.1:$DEAD_PORT\"]
  capabilities = [\"pull\", \"resolve\"]"
out=$(pull mirror1.berth.test/test/base:1 2>&1)
pulled "$out"
check "hosts.toml: a mirror that is down falls through to the server" $? "$out"

hosts mirror2.berth.test "server = \"http://127.0.0.1:$DEAD_PORT\"
[host.\"http://$FAKE\"]
  capabilities = [\"pull\", \"resolve\"]"
out=$(pull mirror2.berth.test/t/base:base 2>&1)
pulled "$out" && jq -e -s 'any(.path == "/v2/t/base/manifests/base" and .query == "ns=mirror2.berth.test")' "$FAKE_LOG" >/dev/null
check "hosts.toml: a mirror serves the image (server down), told the registry (?ns=)" $? "$out"

hosts mirror3.berth.test "server = \"http://$REG\"
[host.\"http://$FAKE\"]
  capabilities = [\"pull\", \"resolve\"]"
MC_LAYER=$(layer_of mc 0)
out=$(pull mirror3.berth.test/test/mc:mc 2>&1)
pulled "$out" && jq -e -s --arg p "/v2/test/mc/blobs/$MC_LAYER" 'any(.path == $p)' "$FAKE_LOG" >/dev/null &&
    [ "$(cat "$W"/root/layers/*/fs/mc 2>/dev/null | sha256sum)" = "$(python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random("mc").randbytes(65536))' | sha256sum)" ]
check "hosts.toml: a mirror's corrupt copy of a blob falls through to the server" $? "$out $(tail -3 "$W/berthd.log")"

hosts "$TREG" "server = \"https://$TREG\""
out=$(pull "$TREG/test/base:1" 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'code = Unavailable' && echo "$out" | grep -qi 'certificate'
check "TLS registry, its CA not configured: Unavailable, a certificate error" $? "rc=$rc $out"
hosts "$TREG" "server = \"https://$TREG\"
ca = \"$W/tls/ca.crt\""
out=$(pull "$TREG/test/base:1" 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'code = Unavailable' && echo "$out" | grep -qF "$TREG"
check "TLS registry, its CA in hosts.toml but no client certificate: Unavailable" $? "rc=$rc $out"
hosts "$TREG" "server = \"https://$TREG\"
ca = \"$W/tls/ca.crt\"
client = [[\"$W/tls/client.crt\", \"$W/tls/client.key\"]]"
out=$(pull "$TREG/test/base:1" 2>&1)
pulled "$out"
check "TLS registry with a private CA and a client certificate named in hosts.toml" $? "$out"
c rmi --all >/dev/null 2>&1

# --- hostile input: a clear error with its code, and nothing stored
# (content/, layers/, images/ empty after a GC: RemoveImage runs one).
store_left() {
    c pull "$FAKE/t/base:base" >/dev/null 2>&1 && c rmi "$FAKE/t/base:base" >/dev/null 2>&1
    (cd "$W/root" && find content layers images -mindepth 1 ! -type d; find layers -mindepth 1 -maxdepth 1)
}
hostile() {   # hostile NAME CODE TAG|REF [WORD]: WORD is in the message too
    local ref=$3 word=${4:-} out rc left
    [[ $ref == */* ]] || ref=$FAKE/t/$3:$3
    out=$(pull "$ref" 2>&1); rc=$?
    left=$(store_left)
    [ $rc != 0 ] && echo "$out" | grep -q "code = $2 desc" && echo "$out" | grep -qF "$ref" &&
        echo "$out" | grep -qiF -- "$word" && [ -z "$left" ]
    check "$1: $2 naming the reference, nothing stored" $? "rc=$rc: $out
left in the store: $left"
}
# (the digest named: a corrupt gzip stream would be DataLoss from the unpack too)
hostile "a blob that does not match its digest" DataLoss corrupt digest
hostile "a manifest over the size cap" ResourceExhausted huge
hostile "a layer with ../ entries" InvalidArgument dotdot
hostile "a layer with an absolute path" InvalidArgument abs
hostile "a layer with a symlink out (absolute) and a file through it" InvalidArgument symlink-abs
hostile "a layer with a symlink out (../../../..) and a file through it" InvalidArgument symlink-rel
hostile "a truncated gzip stream" DataLoss truncgz
hostile "a registry redirecting in a loop" Unavailable loop
hostile "a registry answering 503 for a blob, also on retries" Unavailable unavail
escaped=$(find "$W" -name 'escaped-*' 2>/dev/null)
[ -z "$escaped" ]
check "no hostile entry landed outside its layer" $? "$escaped"
before=$(wc -l <"$FAKE_LOG")
bad=0 outs=
for ref in "$FAKE/t/base:ta@g" "$FAKE/t/ba\$e:1" "$FAKE/t/base:a:b" "$FAKE/T/base:1" "$FAKE/t/base@sha256:1234" \
    "$FAKE/t/../base:1" "$FAKE/t/base:$(printf 'x%.0s' {1..129})" "$FAKE/t/ba se:1"; do
    out=$(pull "$ref" 2>&1) && bad=1
    echo "$out" | grep -q 'code = InvalidArgument desc' || bad=1
    outs+="$out"$'\n'
done
[ $bad = 0 ] && [ "$(wc -l <"$FAKE_LOG")" = "$before" ]
check "references with bad characters: InvalidArgument, the registry never asked" $? "$outs"

# --- concurrent pulls: the fake holds blob requests until a gate file
# exists, so both pulls are under way before any blob arrives.
blob_gets() {   # blob_gets DIGEST...: GETs of these blobs in the fake's log
    local d n=0
    for d in "$@"; do n=$((n + $(jq -s --arg d "$d" '[.[] | select(.method == "GET" and (.path | endswith("/blobs/" + $d)))] | length' "$FAKE_LOG"))); done
    echo $n
}
manifest_gets() { jq -s --arg p "$1" '[.[] | select(.method == "GET" and .path == $p)] | length' "$FAKE_LOG"; }
concurrent() {   # concurrent NAME GATE REF1 REF2 EXPECTED_GETS DIGESTS...
    local name=$1 gate=$2 r1=$3 r2=$4 want=$5 p1 p2 rc1 rc2 got m0; shift 5
    m0=$(( $(manifest_gets "/v2/t/${r1##*:}/manifests/${r1##*:}") + $(manifest_gets "/v2/t/${r2##*:}/manifests/${r2##*:}") ))
    pull "$r1" >"$W/c1.out" 2>&1 & p1=$!
    pull "$r2" >"$W/c2.out" 2>&1 & p2=$!
    wait_for 30 eval '[ $(( $(manifest_gets "/v2/t/${r1##*:}/manifests/${r1##*:}") + $(manifest_gets "/v2/t/${r2##*:}/manifests/${r2##*:}") - m0 )) -ge 2 ]'
    sleep 1   # the second pull reaches its blobs, which a broken dedup would request
    touch "$gate"
    wait $p1; rc1=$?
    wait $p2; rc2=$?
    got=$(blob_gets "$@")
    [ $rc1 = 0 ] && [ $rc2 = 0 ] && pulled "$(cat "$W/c1.out")" && pulled "$(cat "$W/c2.out")" && [ "$got" = "$want" ]
    check "$name: both succeed, each blob fetched once" $? "rc $rc1 $rc2, $got blob GETs for $want blobs: $(cat "$W/c1.out" "$W/c2.out")"
}
mapfile -t same < <(dig "'\n'.join([d['same']['config']] + d['same']['layers'])")
concurrent "two pulls of one image at once" "$W/gate-same" "$FAKE/t/same:same" "$FAKE/t/same:same" 4 "${same[@]}"
mapfile -t share < <(dig "'\n'.join(sorted({d['sharea']['config'], d['shareb']['config'], *d['sharea']['layers'], *d['shareb']['layers']}))")
concurrent "two images sharing two layers, at once" "$W/gate-share" "$FAKE/t/sharea:sharea" "$FAKE/t/shareb:shareb" 6 "${share[@]}"

# --- berthd answers while a pull trickles (one byte a second)
SLOW_LAYER=$(layer_of slow 0)
# berthctl itself in the background (not a function, whose subshell would
# take the TERM below and leave berthctl running).
"$BERTHCTL" -r "unix://$W/berthd.sock" pull --pull-timeout 120 "$FAKE/t/slow:slow" >"$W/slow.out" 2>&1 &
slow_pid=$!
wait_for 30 jq -e -s --arg p "/v2/t/slow/blobs/$SLOW_LAYER" 'any(.path == $p)' "$FAKE_LOG" >/dev/null
quick() { "$BERTHCTL" -r "unix://$W/berthd.sock" -t 5s "$@"; }
out=$(quick images 2>&1 && quick imagefsinfo 2>&1 && quick inspecti "$FAKE/t/same:same" 2>&1 && quick version 2>&1)
rc=$?
alive $slow_pid && [ $rc = 0 ]
check "while a pull trickles: images, imagefsinfo, inspecti and version answer" $? "rc=$rc $out $(cat "$W/slow.out")"
kill -TERM $slow_pid; wait $slow_pid 2>/dev/null
wait_for 30 grep -q "PullImage: .*slow.*cancel" "$W/berthd.log"
check "the client gone, berthd cancels that pull" $? "$(tail -5 "$W/berthd.log")"

# --- an index: the host's platform is picked (it is listed last)
out=$(pull "$FAKE/t/multi:multi" 2>&1)
info=$(c inspecti "$FAKE/t/multi:multi" 2>&1)
key=$(echo "$info" | jq -r '.info.chainIDs[0][7:23]' 2>/dev/null)
other=$(dig "[a for a in d['multi']['platforms'] if a != '$HOST_ARCH'][0]")
other_layer=$(dig "d['multi']['platforms']['$other']['layers'][0]")
pulled "$out" && [ "$(echo "$info" | jq -r .info.architecture)" = "$HOST_ARCH" ] &&
    [ "$(cat "$W/root/layers/$key/fs/arch" 2>/dev/null)" = "$HOST_ARCH" ] &&
    [ "$(echo "$info" | jq -r .info.indexDigest)" = "$(dig "d['multi']['index']")" ] &&
    [ "$(blob_gets "$other_layer")" = 0 ]
check "an index of $other and $HOST_ARCH: $HOST_ARCH is pulled, $other is not fetched" $? "$out $info"

kill -TERM "$BERTHD_PID"; wait "$BERTHD_PID"; rc=$?; BERTHD_PID=
check "berthd exits 0 on SIGTERM" $? "rc=$rc $(tail -5 "$W/berthd.log")"
exit $failed
