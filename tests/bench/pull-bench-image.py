#!/usr/bin/env python3
"""pull-bench-image.py OUT_LAYOUT [TOTAL_MB]: an OCI image layout (tag
"bench") of this machine's Debian files for tests/bench/pull-bench.sh: six
gzip layers (TOTAL_MB of uncompressed files in all, default 200, split over
/usr/lib/<triplet>, /usr/share, /usr/bin, /usr/lib/python3.*, /usr/include
and /usr/libexec), each the first files of its tree in sorted order, with
normalised owners and times, so the same machine makes the same bytes.
Prints one line of JSON: layers, uncompressed and compressed bytes, files.
"""

import glob
import gzip
import hashlib
import json
import os
import sys
import sysconfig
import tarfile

# (tree, share of the total)
TREES = [
    ("/usr/lib/" + (sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"), 0.25),
    ("/usr/share", 0.20),
    ("/usr/bin", 0.20),
    ((sorted(glob.glob("/usr/lib/python3.*")) or ["/usr/lib/python3"])[-1], 0.15),
    ("/usr/include", 0.12),
    ("/usr/libexec", 0.08),
]
MTIME = 1700000000


def entries(tree, budget):
    """Sorted paths under tree (dirs, files, symlinks) until budget bytes of files."""
    used = 0
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        yield root
        for name in sorted(files):
            p = os.path.join(root, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not (os.path.isfile(p) or os.path.islink(p)) or not os.access(p, os.R_OK):
                continue
            if os.path.islink(p) or st.st_size <= budget - used:
                used += 0 if os.path.islink(p) else st.st_size
                yield p
            if used >= budget * 0.999:
                return


class GzipSink:
    """Streams a tar into gzip while hashing both sides."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.gz_hash = hashlib.sha256()
        self.raw_hash = hashlib.sha256()
        self.raw = 0
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self, compresslevel=6, mtime=0)

    # what GzipFile writes (compressed)
    def write(self, b):
        self.gz_hash.update(b)
        return self.f.write(b)

    def flush(self):
        self.f.flush()

    # what tarfile writes (uncompressed)
    class Raw:
        def __init__(self, outer):
            self.o = outer

        def write(self, b):
            self.o.raw_hash.update(b)
            self.o.raw += len(b)
            return self.o.gz.write(b)

        def tell(self):
            return self.o.raw

    def close(self):
        self.gz.close()
        self.f.close()


def main():
    out = sys.argv[1]
    total = float(sys.argv[2]) if len(sys.argv) > 2 else 200.0
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    layers, diff_ids, raw_total, gz_total, files = [], [], 0, 0, 0
    for tree, share in TREES:
        if not os.path.isdir(tree):
            continue
        tmp = os.path.join(out, "layer.tmp")
        sink = GzipSink(tmp)
        with tarfile.open(fileobj=GzipSink.Raw(sink), mode="w|", format=tarfile.PAX_FORMAT) as t:
            for p in entries(tree, int(total * share * 1e6)):
                ti = t.gettarinfo(p, arcname=p.lstrip("/"))
                ti.mtime = MTIME
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = "root"
                if ti.isreg():
                    with open(p, "rb") as f:
                        t.addfile(ti, f)
                    files += 1
                else:
                    t.addfile(ti)
        sink.close()
        digest = sink.gz_hash.hexdigest()
        os.rename(tmp, os.path.join(blobs, digest))
        size = os.path.getsize(os.path.join(blobs, digest))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": "sha256:" + digest, "size": size})
        diff_ids.append("sha256:" + sink.raw_hash.hexdigest())
        raw_total += sink.raw
        gz_total += size

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + d, "size": len(data)}

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = put(json.dumps({
        "created": "2024-01-01T00:00:00Z", "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode())
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config, "layers": layers}, sort_keys=True).encode()
    m = put(manifest)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m["digest"], "size": m["size"],
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    print(json.dumps({"layers": len(layers), "uncompressed": raw_total, "compressed": gz_total, "files": files,
                      "manifest": m["digest"]}))


if __name__ == "__main__":
    main()
