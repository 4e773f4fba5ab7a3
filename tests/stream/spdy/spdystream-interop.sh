#!/bin/sh
# meson's e2e-spdystream-interop: Kubernetes' own SPDY client library
# (moby/spdystream, Debian's golang-github-docker-spdystream-dev) drives
# spdy-echo-server ($1) as kubectl exec would. spdystream ignores flow
# control, so this is the check that berth's default (detect) mode serves
# kubelet's clients past 64 KiB. Skips (77) without go or spdystream.
set -u
server=$1
gopath=${BERTH_GOPATH:-/usr/share/gocode}
if ! command -v go >/dev/null 2>&1; then
	echo "SKIP: go not found (the spdystream interop test needs golang-go and golang-github-docker-spdystream-dev)"
	exit 77
fi
if [ ! -d "$gopath/src/github.com/moby/spdystream" ]; then
	echo "SKIP: moby/spdystream not in $gopath (Debian: golang-github-docker-spdystream-dev; or set BERTH_GOPATH)"
	exit 77
fi
tmp=$(mktemp -d /tmp/berth-spdystream.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && export GOCACHE="$tmp/go-cache"
if ! (cd "$(dirname "$0")/spdystream-client" && GO111MODULE=off GOPATH="$gopath" go build -o "$tmp/spdystream-client" .); then
	echo "not ok - building spdystream-client failed"
	exit 1
fi
"$server" >"$tmp/port" 2>"$tmp/server.err" &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$tmp/port")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then
	echo "not ok - spdy-echo-server did not print its port: $(cat "$tmp/server.err")"
	exit 1
fi
"$tmp/spdystream-client" "$port"
rc=$?
wait "$pid"
src=$?
pid=
stats=$(grep 'spdy-echo-server: echoed=' "$tmp/server.err")
echo "# server: ${stats#spdy-echo-server: }"
[ $rc -eq 0 ] || { cat "$tmp/server.err"; exit 1; }
if [ $src -ne 0 ]; then
	echo "not ok - spdy-echo-server exited $src: $(cat "$tmp/server.err")"
	exit 1
fi
case " $stats " in
*" echoed=327680 "*" peer_flow_control=0 "*) echo "ok - the server echoed all 320 KiB to a peer without flow control" ;;
*) echo "not ok - unexpected server counters"; exit 1 ;;
esac
