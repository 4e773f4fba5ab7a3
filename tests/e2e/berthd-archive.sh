#!/usr/bin/env bash
# berthd's berth.v1.Images end to end, through berthctl: load an OCI
# archive (umoci's layout, tarred) and docker-archives written by skopeo and
# podman; save as docker-archive and OCI archive, loaded again into a fresh
# berthd (the same image id), by podman and by skopeo; corrupt archives are
# InvalidArgument and leave nothing; pull shows a progress bar on a terminal
# (script from util-linux gives it one), keeps its one line elsewhere, and
# falls back to CRI's PullImage on a server without berth.v1 (containerd's
# CRI plugin). Everything lives under one temp dir (podman's and
# containerd's too); every process is killed by its pid. TAP output.
set -u
. "$(dirname "$0")/lib.sh"

skip() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root"
for v in BERTHD BERTHCTL; do [ -x "${!v:-}" ] || skip "$v is not built (grpc++, libcurl, libarchive, toml++ missing?)"; done
for t in docker-registry skopeo umoci python3 script; do command -v "$t" >/dev/null || skip "$t is not installed"; done

W=$(mktemp -d /tmp/berth-e2e-archive.XXXXXX)
REG_PID= B1_PID= B2_PID= B3_PID=
have_podman=0; command -v podman >/dev/null && have_podman=1
have_containerd=0; command -v containerd >/dev/null && command -v ctr >/dev/null && have_containerd=1
note_new /var/lib/containers /var/lib/containers/cache /var/lib/containers/cache/blob-info-cache-v1.boltdb
cleanup() {
    [ "$have_containerd" = 1 ] && [ -n "${CRI_DIR:-}" ] && cri_stop
    for p in $B1_PID $B2_PID ${B3_PID:-} $REG_PID; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ "$have_podman" = 1 ] && [ -f "$W/storage.conf" ] && pm rmi -af >/dev/null 2>&1
    umount_under "$W"
    rm -rf "$W"
    remove_new
}
on_exit cleanup

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# berthd N: start berthd number N on its own root, state and socket.
start_berthd() {
    "$BERTHD" --root "$W/root$1" --state "$W/state$1" --listen "$W/b$1.sock" --log-level debug >>"$W/berthd$1.log" 2>&1 &
    eval "B$1_PID=$!"
    wait_for 10 "$BERTHCTL" -r "unix://$W/b$1.sock" version >/dev/null 2>&1
}
c1() { "$BERTHCTL" -r "unix://$W/b1.sock" -t 60s "$@"; }
c2() { "$BERTHCTL" -r "unix://$W/b2.sock" -t 60s "$@"; }
# The config digest of the one image an OCI layout dir holds (its image id).
layout_id() {
    python3 - "$1" <<'X'
import json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
m = json.load(open(d + "/blobs/sha256/" + idx["manifests"][0]["digest"].split(":")[1]))
print(m["config"]["digest"])
X
}
# Every blob and layer under a berthd root, as one listing.
store_of() { (cd "$W/root$1" && ls content/blobs/sha256 layers 2>/dev/null; ls -A content/ingest tmp 2>/dev/null); }
pm() { timeout 120 podman "$@"; }

plan 30

# --- an image built with umoci: two layers (a busybox rootfs, then files)
make_rootfs "$W/src" || exit 1
(
    set -e
    cd "$W"
    umoci init --layout img
    umoci new --image img:bb
    umoci unpack --image img:bb u
    cp -a src/rootfs/. u/rootfs/
    umoci repack --image img:bb u
    umoci unpack --image img:bb u2
    mkdir -p u2/rootfs/data && echo archived > u2/rootfs/data/keep
    umoci repack --image img:bb u2
    umoci config --image img:bb --config.cmd /bin/sh --config.env A=1
    umoci gc --layout img
    (cd img && tar -cf ../bb-oci.tar .)
) >"$W/build.log" 2>&1
check "an image built with umoci, tarred as an OCI archive" $? "$(tail -5 "$W/build.log")"
ID=$(layout_id "$W/img")

start_berthd 1
check "berthd serves" $? "$(tail -5 "$W/berthd1.log")"

# --- OCI archive in
out=$(c1 load -i "$W/bb-oci.tar" --base-name localhost/bb 2>&1)
[ "$out" = "Loaded image: localhost/bb:bb" ] && c1 images 2>&1 | grep -q "localhost/bb *bb *${ID:7:13}"
check "load an OCI archive: named base:ref.name, its id the config digest" $? "$out; id $ID; $(c1 images 2>&1)"
f=$(for d in "$W"/root1/layers/*/fs; do [ -f "$d/data/keep" ] && echo "$d/data/keep"; done)
[ -n "$f" ] && [ "$(cat "$f")" = archived ] && [ "$(ls "$W/root1/layers" | wc -l)" = 2 ]
check "its two layers are unpacked in the layer store" $? "$(ls -R "$W/root1/layers" | head)"
out=$(c1 inspecti localhost/bb:bb 2>&1)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["info"]["config"]["cmd"]==["/bin/sh"]' 2>&1
check "inspecti shows the loaded image's config" $? "$out"

# --- docker-archives in: skopeo's, and podman's
skopeo copy -q "oci:$W/img:bb" "docker-archive:$W/sk.tar:localhost/skopeo:1" >"$W/sk.log" 2>&1 &&
    out=$(c1 load < "$W/sk.tar" 2>&1) && [ "$out" = "Loaded image: localhost/skopeo:1" ] &&
    c1 inspecti localhost/skopeo:1 >/dev/null 2>&1
check "load a docker-archive written by skopeo (from stdin)" $? "${out:-} $(cat "$W/sk.log")"

if [ "$have_podman" = 1 ]; then
    printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\ntmp_dir = "%s/libpod"\n' "$W" > "$W/containers.conf"
    printf '[storage]\ndriver = "overlay"\nrunroot = "%s/prun"\ngraphroot = "%s/pstorage"\n' "$W" "$W" > "$W/storage.conf"
    export CONTAINERS_CONF=$W/containers.conf CONTAINERS_STORAGE_CONF=$W/storage.conf
    pm load -i "$W/sk.tar" >"$W/pm.log" 2>&1 &&
        pm save --format docker-archive -o "$W/pm.tar" localhost/skopeo:1 >>"$W/pm.log" 2>&1 &&
        pm rmi -af >/dev/null 2>&1 &&
        out=$(c1 load -i "$W/pm.tar" 2>&1) && [ "$out" = "Loaded image: localhost/skopeo:1" ]
    check "load a docker-archive written by podman save" $? "${out:-} $(tail -5 "$W/pm.log")"
else
    echo "ok $((n += 1)) # SKIP podman is not installed"
fi

# --- save, and load into a fresh berthd: the same image
c1 save -o "$W/rt-docker.tar" localhost/bb:bb >"$W/save.log" 2>&1 &&
    c1 save --format oci-archive -o "$W/rt-oci.tar" "$ID" >>"$W/save.log" 2>&1 &&
    [ -z "$(ls "$W" | grep -E '^rt-.*\.tar\.')" ]
check "save as docker-archive (by tag) and as OCI archive (by id)" $? "$(cat "$W/save.log")"
start_berthd 2
out=$(c2 load -i "$W/rt-docker.tar" 2>&1)
[ "$out" = "Loaded image: localhost/bb:bb" ] && [ "$(c2 images -q 2>&1)" = "$ID" ]
check "berthctl save's docker-archive loads into a fresh berthd: the same id" $? "$out; $(c2 images 2>&1)"
c2 rmi "$ID" >/dev/null 2>&1
out=$(c2 load -i "$W/rt-oci.tar" 2>&1)
want=$(c1 inspecti -o json "$ID" | python3 -c 'import json,sys; print("\n".join(sorted("Loaded image: " + t for t in json.load(sys.stdin)["status"]["repoTags"])))')
[ "$(c2 images -q 2>&1)" = "$ID" ] && [ "$(echo "$out" | sort)" = "$want" ]
check "its OCI archive too (saved by id: with all the image's names)" $? "$out; want $want; $(c2 images 2>&1)"

# --- others read what berthctl save writes
raw=$(skopeo inspect --raw "docker-archive:$W/rt-docker.tar" 2>&1)
echo "$raw" | python3 -c 'import json,sys; assert json.load(sys.stdin)["config"]["digest"]==sys.argv[1]' "$ID" 2>&1
check "skopeo reads berthctl's docker-archive (its config is the image id)" $? "$raw"
raw=$(skopeo inspect --raw "oci-archive:$W/rt-oci.tar:localhost/bb:bb" 2>&1)
echo "$raw" | python3 -c 'import json,sys; assert json.load(sys.stdin)["config"]["digest"]==sys.argv[1]' "$ID" 2>&1
check "skopeo reads berthctl's OCI archive by its ref.name" $? "$raw"
if [ "$have_podman" = 1 ]; then
    out=$(pm load -i "$W/rt-docker.tar" 2>&1) && pid=$(pm inspect --format '{{.Id}}' localhost/bb:bb 2>&1)
    [ "sha256:${pid:-}" = "$ID" ]
    check "podman loads berthctl's docker-archive: the same image" $? "${out:-} ${pid:-}"
else
    echo "ok $((n += 1)) # SKIP podman is not installed"
fi

# --- corrupt archives: InvalidArgument, and nothing left (GC included)
# berthd 1 restarted first: its startup GC takes what the loads above left
# unreferenced (the OCI manifest the docker-archive load of the same image
# replaced), so that the listing below changes only through these loads.
kill -TERM "$B1_PID"; wait "$B1_PID"; B1_PID=
start_berthd 1
before=$(store_of 1)
head -c 100000 /dev/urandom > "$W/junk.tar"
out=$(c1 load -i "$W/junk.tar" 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'code = InvalidArgument' && echo "$out" | grep -q 'not a readable tar'
check "random bytes: InvalidArgument, not a readable tar" $? "rc=$rc $out"
python3 - "$W" <<'X' >"$W/mk.log" 2>&1
import gzip, hashlib, io, json, sys, tarfile
w = sys.argv[1]
def tar_of(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data in files:
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    return b.getvalue()
layer = tar_of([("hello", b"hello\n")])
other = tar_of([("hello", b"other\n")])
def config(diff):
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(diff).hexdigest()]}}).encode()
def archive(path, files):
    open(path, "wb").write(tar_of(files))
# manifest.json naming a file outside the archive
c = config(layer)
archive(w + "/outside.tar", [("c.json", c), ("l/layer.tar", layer),
        ("manifest.json", json.dumps([{"Config": "../../etc/passwd", "RepoTags": ["bad:1"], "Layers": ["l/layer.tar"]}]).encode())])
# a gzip layer whose content is not the diff id: stored, then refused at unpack
c = config(other)
archive(w + "/baddiff.tar", [("c.json", c), ("l/layer.tar.gz", gzip.compress(layer)),
        ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["bad:2"], "Layers": ["l/layer.tar.gz"]}]).encode())])
# A good docker-archive with one hostile member more: named out with ../,
# absolute, or written through a symlink (tar -x would follow it out).
c = config(layer)
good = [("c.json", c), ("l/layer.tar", layer),
        ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["bad:3"], "Layers": ["l/layer.tar"]}]).encode())]
archive(w + "/dotdot.tar", good + [("../../tmp/evil", b"x")])
archive(w + "/absolute.tar", good + [("/etc/cron.d/evil", b"x")])
b = io.BytesIO()
with tarfile.open(fileobj=b, mode="w") as t:
    for name, data in good:
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    i = tarfile.TarInfo("esc"); i.type = tarfile.SYMTYPE; i.linkname = "/etc"; t.addfile(i)
open(w + "/symlink-out.tar", "wb").write(b.getvalue())
b = io.BytesIO()
with tarfile.open(fileobj=b, mode="w") as t:
    i = tarfile.TarInfo("sub"); i.type = tarfile.DIRTYPE; t.addfile(i)
    i = tarfile.TarInfo("l"); i.type = tarfile.SYMTYPE; i.linkname = "sub"; t.addfile(i)
    for name, data in good:
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
open(w + "/symlinked-path.tar", "wb").write(b.getvalue())
# A well-formed archive whose layer has an entry named out of it.
evil = tar_of([("../../evil", b"x\n")])
c = config(evil)
archive(w + "/evil-layer.tar", [("c.json", c), ("l/layer.tar", evil),
        ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["bad:4"], "Layers": ["l/layer.tar"]}]).encode())])
X
# An OCI archive whose layer blob is not its name's digest (one byte flipped).
mkdir -p "$W/wrong" && tar -C "$W/wrong" -xf "$W/bb-oci.tar" &&
    python3 - "$W/wrong" <<'X' >>"$W/mk.log" 2>&1
import json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
m = json.load(open(d + "/blobs/sha256/" + idx["manifests"][0]["digest"].split(":")[1]))
p = d + "/blobs/sha256/" + m["layers"][-1]["digest"].split(":")[1]
b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(b)
print(m["layers"][-1]["digest"])
X
WRONG=$(tail -1 "$W/mk.log")
tar -C "$W/wrong" -cf "$W/wrong.tar" .
# The OCI archive cut short in the middle of a blob.
head -c $(( $(stat -c %s "$W/bb-oci.tar") / 2 )) "$W/bb-oci.tar" > "$W/truncated.tar"
out=$(c1 load -i "$W/outside.tar" 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'code = InvalidArgument' && echo "$out" | grep -q 'outside the archive'
check "manifest.json naming ../../etc/passwd: InvalidArgument, naming it" $? "rc=$rc $out $(cat "$W/mk.log")"
out=$(c1 load -i "$W/baddiff.tar" 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'code = InvalidArgument' && echo "$out" | grep -q 'the image config says'
check "a gzip layer that is not its diff id: InvalidArgument" $? "rc=$rc $out"
# refused LABEL FILE TEXT...: loading FILE fails with InvalidArgument and
# a message holding each TEXT.
refused() {
    local label=$1 file=$2 out rc t ok=0; shift 2
    out=$(c1 load -i "$W/$file" 2>&1); rc=$?
    [ $rc != 0 ] && echo "$out" | grep -q 'code = InvalidArgument' || ok=1
    for t in "$@"; do echo "$out" | grep -qF -- "$t" || ok=1; done
    check "$label" $ok "rc=$rc $out"
}
refused "a member named ../../tmp/evil: InvalidArgument naming it" dotdot.tar 'member "../../tmp/evil": a path with ".."'
refused "a member named /etc/cron.d/evil: InvalidArgument naming it" absolute.tar 'member "/etc/cron.d/evil": an absolute path'
refused "a symlink member to /etc: InvalidArgument naming it" symlink-out.tar 'member "esc": a symlink to "/etc"'
refused "members under a symlink (l -> sub): InvalidArgument naming one" symlinked-path.tar 'its parent "l" is a symlink'
refused "an OCI blob with the wrong digest: InvalidArgument naming it" wrong.tar "blobs/sha256/${WRONG#sha256:} has the digest"
refused "a truncated OCI archive: InvalidArgument naming the member cut" truncated.tar 'not a readable tar (at member' 'blobs/sha256/'
refused "a layer with an entry ../../evil: InvalidArgument naming the entry" evil-layer.tar 'entry "../../evil"'
after=$(store_of 1)
[ "$before" = "$after" ] && ! c1 images 2>&1 | grep -q bad
check "nothing left behind: no image, blob, layer or temp file" $? "$(diff <(echo "$before") <(echo "$after"))"

# --- a big archive streams: berthd's peak RSS stays far below its size
# (a fresh berthd 3, so the peak is this load's). 128 MiB of random bytes
# in one layer: holding the archive, or a layer, in memory would show.

mkdir -p "$W/bigfs" && head -c 128M /dev/urandom > "$W/bigfs/big" &&
    make_docker_archive "$W/bigfs" "$W/big.tar" localhost/big:1 && rm -rf "$W/bigfs"
start_berthd 3
out=$("$BERTHCTL" -r "unix://$W/b3.sock" -t 120s load -i "$W/big.tar" 2>&1)
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$B3_PID/status")
echo "# berthd peak RSS loading a $(( $(stat -c %s "$W/big.tar") >> 20 )) MiB archive: $((hwm >> 10)) MiB"
kill -TERM "$B3_PID"; wait "$B3_PID"; B3_PID=; rm -rf "$W/big.tar" "$W/root3"
[ "$out" = "Loaded image: localhost/big:1" ] && [ "${hwm:-999999}" -lt $((64 << 10)) ]
check "a 128 MiB archive loads with berthd's peak RSS under 64 MiB" $? "$out; VmHWM ${hwm:-?} kB"

# --- pull: a progress bar on a terminal, one line elsewhere
PORT=$(free_port)
REG=127.0.0.1:$PORT
mkdir -p "$W/reg"
printf 'version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: %s/reg }\nhttp: { addr: %s }\n' "$W" "$REG" > "$W/reg.yml"
docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
REG_PID=$!
wait_for 10 curl -sf "http://$REG/v2/" -o /dev/null &&
    skopeo copy -q --dest-tls-verify=false "oci:$W/img:bb" "docker://$REG/test/bb:1" >"$W/push.log" 2>&1
check "pushed to a local docker-registry" $? "$(tail -n 3 "$W/reg.log" "$W/push.log")"
# tty_pull SOCKET REF: berthctl pull under a pseudo-terminal; its output
# without carriage returns and cursor moves.
tty_pull() {
    timeout 120 script -qefc "$BERTHCTL -r unix://$1 -t 60s pull $2" /dev/null </dev/null 2>&1 |
        tr -d '\r' | sed 's/\x1b\[[0-9]*[AK]//g'
}
c2 rmi "$ID" >/dev/null 2>&1
out=$(tty_pull "$W/b2.sock" "$REG/test/bb:1")
[ "$(echo "$out" | tail -3 | head -2 | grep -c '^[0-9a-f]\{12\}: Pull complete$')" = 2 ] &&
    [ "$(echo "$out" | tail -1)" = "Image is up to date for $ID" ]
check "pull on a terminal: a line per layer, each to Pull complete, then the image id" $? "$out"
c2 rmi "$ID" >/dev/null 2>&1
out=$(c2 pull "$REG/test/bb:1" 2>&1)
[ "$out" = "Image is up to date for $ID" ]
check "pull into a pipe: the one line it always printed" $? "$out"

# --- a server without berth.v1: containerd's CRI plugin
if [ "$have_containerd" = 1 ] && command -v busybox >/dev/null; then
    . "$BERTH_SRC/tests/cri/containerd-cri.sh"
    cri_setup "$W/ctrd" "" "" >/dev/null 2>&1 &&
        printf '[plugins."io.containerd.grpc.v1.cri".registry.mirrors."%s"]\n  endpoint = ["http://%s"]\n' "$REG" "$REG" >>"$W/ctrd/config.toml" &&
        cri_start
    out=$(tty_pull "$CRI_SOCK" "$REG/test/bb:1")
    [ -n "${CRI_PID:-}" ] && [ "$(echo "$out" | grep -vc '^$')" = 1 ] && echo "$out" | grep -qx "Image is up to date for sha256:[0-9a-f]\{64\}"
    check "pull on a terminal against containerd: falls back to CRI PullImage" $? "$out $(tail -5 "$W/ctrd/containerd.log" 2>/dev/null)"
    cri_stop
else
    echo "ok $((n += 1)) # SKIP containerd or busybox is not installed"
fi

kill -TERM "$B1_PID" "$B2_PID"; wait "$B1_PID"; r1=$?; wait "$B2_PID"; r2=$?; B1_PID= B2_PID=
[ "$r1" = 0 ] && [ "$r2" = 0 ] && [ -z "$(find "$W/root1/tmp" "$W/root2/tmp" -mindepth 1 2>&1)" ]
check "both berthds exit 0 and leave no temp file" $? "rc $r1 $r2"
exit $failed
