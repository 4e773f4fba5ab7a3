#!/usr/bin/env bash
# berthd end to end, driven by berthctl over its socket as kubelet or crictl
# would, against Debian's docker-registry on 127.0.0.1 (plain HTTP): pulls
# by tag, digest and name:tag@digest, the image list and status, fs info,
# removal and garbage collection, CRI error codes, and a berthd killed with
# -9 in the middle of a pull. Images are built here with umoci and pushed
# with skopeo. Everything lives under one temp dir and every process is
# killed by its pid. TAP output.
set -u
. "$(dirname "$0")/lib.sh"

skip() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root"
for v in BERTHD BERTHCTL; do [ -x "${!v:-}" ] || skip "$v is not built (grpc++, libcurl, libarchive, toml++ missing?)"; done
for t in docker-registry skopeo umoci python3; do command -v "$t" >/dev/null || skip "$t is not installed"; done

W=$(mktemp -d /tmp/berth-e2e-berthd.XXXXXX)
REG_PID= BERTHD_PID= PULL_PID=
cleanup() {
    for p in $PULL_PID $BERTHD_PID $REG_PID; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    # Container rootfs mounts are not made by this part of berthd; should one
    # be there, it goes before the dir.
    grep -F " $W/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- the registry
PORT=$(free_port)
REG=127.0.0.1:$PORT
mkdir -p "$W/reg"
cat > "$W/reg.yml" <<X
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $W/reg }
  delete: { enabled: true }
http: { addr: $REG }
X
docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
REG_PID=$!

plan 22
wait_for 10 curl -sf "http://$REG/v2/" -o /dev/null
check "docker-registry listens on $REG" $? "$(tail -5 "$W/reg.log")"

# --- images: bb (one layer), multi (three layers: whiteouts, which umoci
# writes per file, a hardlink, an xattr; opaque dirs are unit-tested), big (a 48 MiB layer, for the crash test)
make_rootfs "$W/src" || exit 1
push() {   # push OCI_DIR TAG NAME
    skopeo copy -q --dest-tls-verify=false "oci:$1:$2" "docker://$REG/test/$3" >>"$W/push.log" 2>&1
}
(
    set -e
    cd "$W"
    umoci init --layout img
    umoci new --image img:bb
    umoci unpack --image img:bb u
    cp -a src/rootfs/. u/rootfs/
    mkdir -p u/rootfs/data/dir u/rootfs/data/opq
    echo keep > u/rootfs/data/keep; echo gone > u/rootfs/data/gone; echo lower > u/rootfs/data/opq/lower
    umoci repack --image img:bb u
    umoci config --image img:bb --config.cmd /bin/sh --config.env A=1
    umoci unpack --image img:bb m
    rm m/rootfs/data/gone
    rm -rf m/rootfs/data/opq; mkdir m/rootfs/data/opq; echo upper > m/rootfs/data/opq/upper
    echo linked > m/rootfs/data/a; ln m/rootfs/data/a m/rootfs/data/b
    python3 -c 'import os; os.setxattr("m/rootfs/data/a", "user.berth", b"yes")'
    umoci repack --image img:multi m
    umoci unpack --image img:multi m3
    echo third > m3/rootfs/data/third
    umoci repack --image img:multi m3
    umoci unpack --image img:bb g
    head -c $((48 << 20)) /dev/urandom > g/rootfs/big.bin
    umoci repack --image img:big g
) >"$W/build.log" 2>&1
check "test images built with umoci" $? "$(tail -5 "$W/build.log")"
push "$W/img" bb bb:1 && push "$W/img" multi multi:1 && push "$W/img" big big:1
check "pushed to the registry with skopeo" $? "$(tail -5 "$W/push.log")"

# --- berthd
start_berthd() {
    "$BERTHD" --root "$W/root" --state "$W/state" --listen "$W/berthd.sock" --log-level debug >>"$W/berthd.log" 2>&1 &
    BERTHD_PID=$!
    # (A socket file may be left from a berthd killed with -9.)
    wait_for 10 "$BERTHCTL" -r "unix://$W/berthd.sock" version >/dev/null 2>&1
}
c() { "$BERTHCTL" -r "unix://$W/berthd.sock" -t 60s "$@"; }
start_berthd
out=$(c version 2>&1)
echo "$out" | grep -q 'RuntimeName:  berth' && echo "$out" | grep -q 'RuntimeApiVersion:  v1'
check "berthd serves CRI v1 on its socket (berthctl version)" $? "$out $(tail -5 "$W/berthd.log")"
[ "$(stat -c %a "$W/berthd.sock")" = 660 ]
check "the socket is mode 0660" $? "$(stat -c %a "$W/berthd.sock")"

out=$(c pull "$REG/test/bb:1" 2>&1)
id=$(echo "$out" | sed -n 's/^Image is up to date for //p')
[ -n "$id" ] && [[ $id == sha256:* ]]
check "pull by tag" $? "$out $(tail -5 "$W/berthd.log")"
out=$(c images 2>&1)
echo "$out" | grep -q "$REG/test/bb *1 *${id:7:13}"
check "images lists it (repo, tag, id)" $? "$out"
digest=$(c images --digests -o json 2>&1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["images"][0]["repoDigests"][0].split("@")[1])' 2>&1)
out=$(c pull "$REG/test/bb@$digest" 2>&1) && out2=$(c pull "$REG/test/bb:1@$digest" 2>&1)
printf '%s\n%s\n' "$out" "$out2" | grep -c "$id" | grep -qx 2
check "pull by digest and by name:tag@digest: the same image" $? "$digest: $out $out2"
out=$(c inspecti "$REG/test/bb:1" 2>&1)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]["id"]; assert d["info"]["config"]["cmd"]==["/bin/sh"]; assert "A=1" in d["info"]["config"]["env"]' 2>&1
check "inspecti: status and the image config's defaults" $? "$out"

out=$(c pull "$REG/test/multi:1" 2>&1)
check "pull a three-layer image with whiteouts, a hardlink, an xattr" $? "$out"
layers=$(ls "$W/root/layers" | wc -l)
[ "$layers" = 3 ]
check "bb's layer is shared: three unpacked layers in all" $? "$(ls -l "$W/root/layers")"
top=$(for d in "$W"/root/layers/*/fs; do [ -e "$d/data/a" ] && echo "$d"; done)   # the second layer
[ -n "$top" ] && [ -c "$top/data/gone" ] && [ "$(stat -c '%t %T' "$top/data/gone")" = "0 0" ] &&
    [ -c "$top/data/opq/lower" ] && [ -f "$top/data/opq/upper" ] &&
    [ "$(stat -c %i "$top/data/a")" = "$(stat -c %i "$top/data/b")" ] &&
    [ "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.berth").decode())' "$top/data/a")" = yes ]
check "the second layer: whiteouts as 0/0 nodes, a hardlink, an xattr" $? "$(ls -la "$top/data" 2>&1)"

out=$(c imagefsinfo -o json 2>&1)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); u=d["imageFilesystems"][0]; assert int(u["usedBytes"]["value"]) > 1000000 and int(u["inodesUsed"]["value"]) > 10 and u["fsId"]["mountpoint"]' 2>&1
check "imagefsinfo: used bytes and inodes of the image store" $? "$out"

# --- CRI status codes
out=$(c pull "$REG/test/nothing:1" 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'code = NotFound' && echo "$out" | grep -q 'test/nothing'
check "an image the registry lacks: NotFound, naming it" $? "rc=$rc $out"
out=$(c pull 'UPPER/Case:tag' 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'code = InvalidArgument' && echo "$out" | grep -q 'UPPER/Case'
check "a bad reference: InvalidArgument, naming it" $? "rc=$rc $out"
out=$(c inspecti sha256:0000000000000000000000000000000000000000000000000000000000000000 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'no such image'
check "inspecti of an unknown image says so" $? "rc=$rc $out"

# --- removal and GC
out=$(c rmi "$REG/test/multi:1" 2>&1) && c rmi "$id" >/dev/null 2>&1 && out2=$(c rmi "$id" 2>&1; echo "rc=$?")
echo "$out" | grep -q "Deleted: $REG/test/multi:1"
check "rmi by tag and by id" $? "$out"
[ -z "$(c images -q 2>&1)" ] && [ -z "$(ls "$W/root/layers")" ] && [ -z "$(ls "$W/root/content/blobs/sha256" 2>/dev/null)" ]
check "nothing left: no image, layer or blob after GC" $? "$(c images 2>&1); $(ls -R "$W/root/layers" "$W/root/content" | head -20)"

# --- kill -9 in the middle of a pull
c pull "$REG/test/big:1" >"$W/pull.out" 2>&1 &
PULL_PID=$!
wait_for 30 sh -c "ls -A '$W/root/content/ingest' 2>/dev/null | grep -q ."
kill -KILL "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null; BERTHD_PID=
wait "$PULL_PID" 2>/dev/null; PULL_PID=
start_berthd
out=$(c images 2>&1)
! echo "$out" | grep -q test/big
check "after kill -9 mid-pull, the image is absent (not half there)" $? "$out"
out=$(c pull "$REG/test/big:1" 2>&1)
check "the retried pull succeeds" $? "$out $(tail -5 "$W/berthd.log")"
c rmi "$REG/test/big:1" >/dev/null 2>&1
left=$(for d in content/ingest layers content/blobs/sha256; do ls -A "$W/root/$d" 2>/dev/null; done)
[ -z "$left" ]
check "no temp files, layers or blobs after the next GC" $? "$left"

kill -TERM "$BERTHD_PID"; wait "$BERTHD_PID"; rc=$?; BERTHD_PID=
[ "$rc" = 0 ] && [ ! -e "$W/berthd.sock" ]
check "SIGTERM: berthd exits 0 and removes its socket" $? "rc=$rc"
exit $failed
