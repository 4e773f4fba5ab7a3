#!/usr/bin/env python3
"""berthd-pull-images.py OUT_LAYOUT ESCAPE_DIR: the images tests/e2e/berthd-pull.sh
pulls, as one OCI image layout (tags in index.json), made with tarfile and
gzip, byte for byte the same on every run. ESCAPE_DIR is where a hostile
layer would land if its entries escaped the layer. Prints a JSON summary:
{tag: {"manifest", "config", "layers": [...]}} (an index tag: {"index",
"platforms": {arch: summary}}).

  base          one small layer
  same          three layers (pulled twice at once)
  sharea/b      three layers each, the first two the same
  corrupt, loop, unavail, mc   one layer each, of their own (rules of the
                fake registry target them by digest)
  slow          a "layer" of 1000000 bytes, what the fake's slowloris action
                promises (it is never pulled to the end)
  dotdot        a layer with "../" entries
  abs           an absolute entry under ESCAPE_DIR
  symlink-abs   a symlink to ESCAPE_DIR, then a file through it
  symlink-rel   a symlink "../../../..", then a file through it
  truncgz       a layer whose gzip stream stops halfway (its digest matches)
  multi         an index: arm64 and amd64 images (the host's last), each with
                a layer holding /arch
"""

import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MTIME = 1700000000


def host_arch():
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


class Layout:
    def __init__(self, root):
        self.root = root
        self.index = []
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.root, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return "sha256:" + d

    def tag(self, name, media_type, digest, size):
        self.index.append({"mediaType": media_type, "digest": digest, "size": size,
                           "annotations": {"org.opencontainers.image.ref.name": name}})

    def finish(self):
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": self.index}, f)


def tar_of(entries):
    """entries: (name, kind, payload): kind "file" (bytes), "dir", "symlink" (target)."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = MTIME
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, payload, 0o777
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(payload), 0o644
                t.addfile(ti, io.BytesIO(payload))
    return b.getvalue()


def noise(seed, n):
    return random.Random(seed).randbytes(n)


def layer(entries):
    raw = tar_of(entries)
    return gzip.compress(raw, compresslevel=6, mtime=0), raw


def image(lay, tag, layers, arch=None, as_tag=True):
    """layers: [(gz bytes, raw tar bytes)]; returns the summary."""
    arch = arch or host_arch()
    digests = [lay.blob(gz) for gz, _ in layers]
    config = json.dumps({
        "created": "2024-01-01T00:00:00Z", "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["IMAGE=" + tag]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest() for _, raw in layers]},
    }, sort_keys=True).encode()
    cdig = lay.blob(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cdig, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZ, "digest": d, "size": len(gz)} for d, (gz, _) in zip(digests, layers)],
    }, sort_keys=True).encode()
    mdig = lay.blob(manifest)
    if as_tag:
        lay.tag(tag, OCI_MANIFEST, mdig, len(manifest))
    return {"manifest": mdig, "config": cdig, "layers": digests, "manifest_size": len(manifest)}


def main():
    out, escape = sys.argv[1], sys.argv[2].rstrip("/")
    lay = Layout(out)
    s = {}
    f = lambda name, data: (name, "file", data)
    d = lambda name: (name, "dir", None)

    s["base"] = image(lay, "base", [layer([d("etc"), f("etc/hello", b"hello from base\n")])])
    s["same"] = image(lay, "same", [layer([f("same%d" % i, noise("same%d" % i, 256 << 10))]) for i in range(3)])
    shared = [layer([f("shared%d" % i, noise("shared%d" % i, 256 << 10))]) for i in range(2)]
    s["sharea"] = image(lay, "sharea", shared + [layer([f("a", noise("a", 256 << 10))])])
    s["shareb"] = image(lay, "shareb", shared + [layer([f("b", noise("b", 256 << 10))])])
    for t in ("corrupt", "loop", "unavail", "mc"):
        s[t] = image(lay, t, [layer([f(t, noise(t, 64 << 10))])])
    s["slow"] = image(lay, "slow", [(b"x" * 1000000, b"")])

    s["dotdot"] = image(lay, "dotdot", [layer([f("ok", b"fine\n"), f("../escaped-dotdot", b"out\n")])])
    s["abs"] = image(lay, "abs", [layer([f("ok", b"fine\n"), f(escape + "/escaped-abs", b"out\n")])])
    s["symlink-abs"] = image(lay, "symlink-abs", [layer([("link", "symlink", escape), f("link/escaped-symlink-abs", b"out\n")])])
    s["symlink-rel"] = image(lay, "symlink-rel", [layer([("up", "symlink", "../../../.."), f("up/escaped-symlink-rel", b"out\n")])])
    gz, raw = layer([f("big", noise("truncgz", 256 << 10))])
    s["truncgz"] = image(lay, "truncgz", [(gz[: len(gz) // 2], raw)])

    # The index: the host's platform last, so taking the first entry is wrong.
    arches = ["arm64", "amd64"] if host_arch() != "arm64" else ["amd64", "arm64"]
    plats, entries = {}, []
    for a in arches:
        plats[a] = image(lay, "multi-" + a, [layer([f("arch", a.encode())])], arch=a, as_tag=False)
        p = {"architecture": a, "os": "linux"}
        if a == "arm64":
            p["variant"] = "v8"
        entries.append({"mediaType": OCI_MANIFEST, "digest": plats[a]["manifest"],
                        "size": plats[a]["manifest_size"], "platform": p})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, sort_keys=True).encode()
    idig = lay.blob(index)
    lay.tag("multi", OCI_INDEX, idig, len(index))
    s["multi"] = {"index": idig, "platforms": plats}

    lay.finish()
    json.dump(s, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
