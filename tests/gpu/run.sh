#!/usr/bin/env bash
# GPU check for CDI injection: what a session with the H100 machine runs.
#
# STATUS: NOT YET RUN on a GPU machine. It was written in a task that had
# no device machine (see /work/shared/reference/gpu-machine.md for that
# machine). Treat its first run there as the test of the script too.
#
# It needs root and an NVIDIA driver. Steps (TAP output):
#   1. `berth cdi generate nvidia` writes a spec for the host's driver;
#      `berth cdi list` shows nvidia.com/gpu=0, =GPU-<uuid> and =all.
#   2. A minimal glibc rootfs: busybox plus the host's loader and libc (and
#      what the CUDA program links), no driver files: CDI brings those.
#   3. `nvidia-smi -L` in a container that asks for nvidia.com/gpu=all by a
#      cdi.k8s.io annotation: prints "GPU 0: ... (UUID: ...)".
#   4. A CUDA program (tests/gpu/vecadd.cu, built with nvcc) under the
#      berth-gpu entry point with NVIDIA_VISIBLE_DEVICES=0: "vecadd OK".
#   5. berth-gpu with NVIDIA_VISIBLE_DEVICES=void: no /dev/nvidia0 inside.
#
# From the development machine (static berth, Debian's busybox-static and
# a vecadd built with nvcc travel; the GPU machine has neither busybox nor,
# perhaps, nvcc):
#   echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu
#   cp build/runtime/berth /bin/busybox .gpu/
#   /usr/local/cuda/bin/nvcc -O2 -o .gpu/vecadd tests/gpu/vecadd.cu
#   device run, carry [".gpu"]:  tests/gpu/run.sh .gpu/berth
# Environment: BUSYBOX, VECADD (paths; default .gpu/busybox, .gpu/vecadd,
# else busybox from PATH and nvcc to build vecadd), KEEP=1 keeps the work dir.
set -uo pipefail
cd "$(dirname "$0")/../.."

BERTH=$(realpath "${1:-${BERTH:-build/runtime/berth}}")
BUSYBOX=${BUSYBOX:-$( [[ -x .gpu/busybox ]] && echo .gpu/busybox || command -v busybox || true)}
VECADD=${VECADD:-$( [[ -x .gpu/vecadd ]] && echo .gpu/vecadd || true)}
W=$(mktemp -d /tmp/berth-gpu-XXXXXX)
STATE=$W/state
CG=/berth-gpu-test-$$
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
cleanup() {
    for id in gpu-a gpu-b gpu-c; do "$BERTH" --root "$STATE" delete --force "$id" >/dev/null 2>&1; done
    rmdir "/sys/fs/cgroup$CG" 2>/dev/null
    [[ -n "${KEEP:-}" ]] && echo "# kept $W" || rm -rf "$W"
}
trap cleanup EXIT

[[ $(id -u) == 0 ]] || { echo "1..0 # SKIP needs root"; exit 0; }
[[ -e /dev/nvidiactl ]] || { echo "1..0 # SKIP no NVIDIA driver (/dev/nvidiactl)"; exit 0; }
[[ -x "$BERTH" ]] || { echo "Bail out! no berth binary at $BERTH"; exit 1; }
[[ -n "$BUSYBOX" ]] || { echo "Bail out! no busybox (set BUSYBOX or carry .gpu/busybox)"; exit 1; }
echo "# host: $(nvidia-smi -L 2>&1 | head -1)"

# 1. The spec.
mkdir -p "$W/cdi"
if "$BERTH" cdi generate nvidia --output "$W/cdi/nvidia.yaml" 2>"$W/gen.err"; then
    ok "cdi generate nvidia"
else
    not_ok "cdi generate nvidia: $(cat "$W/gen.err")"
fi
sed 's/^/# /' "$W/cdi/nvidia.yaml" | head -80
list=$("$BERTH" --cdi-spec-dir "$W/cdi" cdi list 2>&1)
echo "$list" | sed 's/^/# /'
if grep -q '^nvidia.com/gpu=0' <<<"$list" && grep -q '^nvidia.com/gpu=all' <<<"$list" &&
    grep -q '^nvidia.com/gpu=GPU-' <<<"$list"; then
    ok "cdi list shows gpu=0, gpu=GPU-<uuid>, gpu=all"
else
    not_ok "cdi list"
fi

# 2. The rootfs and the CUDA program.
if [[ -z "$VECADD" ]] && command -v nvcc >/dev/null; then
    nvcc -O2 -o "$W/vecadd" tests/gpu/vecadd.cu && VECADD=$W/vecadd
fi
R=$W/bundle/rootfs
mkdir -p "$R"/{bin,etc,proc,sys,dev,tmp,usr/bin,lib64,lib/x86_64-linux-gnu}
cp "$BUSYBOX" "$R/bin/busybox"
for t in sh ls cat grep echo test true tr head; do ln -sf busybox "$R/bin/$t"; done
copy_lib() { [[ -e "$1" ]] && cp -L "$1" "$R$1"; }
for l in /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/{libc.so.6,libm.so.6,libdl.so.2,libpthread.so.0,librt.so.1}; do
    mkdir -p "$R$(dirname "$l")"; copy_lib "$l"
done
if [[ -n "$VECADD" ]]; then
    cp "$VECADD" "$R/usr/bin/vecadd"
    for l in $(ldd "$VECADD" | awk '/=> \//{print $3}'); do mkdir -p "$R$(dirname "$l")"; copy_lib "$l"; done
fi
echo "root:x:0:0:root:/:/bin/sh" >"$R/etc/passwd"

# A bundle whose process is $1, with extra env $2 and annotation $3 (k=v).
bundle() {
    rm -f "$W/bundle/config.json"
    "$BERTH" spec --bundle "$W/bundle"
    python3 - "$W/bundle/config.json" "$1" "$2" "$3" "$CG" <<'EOF'
import json, sys
path, cmd, env, ann, cg = sys.argv[1:]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", cmd]
if env:
    c["process"]["env"].append(env)
if ann:
    k, v = ann.split("=", 1)
    c.setdefault("annotations", {})[k] = v
c["root"]["readonly"] = False
c["linux"]["cgroupsPath"] = cg + "/c"
json.dump(c, open(path, "w"), indent=1)
EOF
}

# 3. nvidia-smi -L, asked for by annotation.
bundle "nvidia-smi -L" "" "cdi.k8s.io/test=nvidia.com/gpu=all"
out=$("$BERTH" --root "$STATE" --cdi-spec-dir "$W/cdi" run --bundle "$W/bundle" gpu-a 2>&1)
echo "$out" | sed 's/^/# /'
grep -q '^GPU 0: .*UUID: GPU-' <<<"$out" && ok "nvidia-smi -L in a container (annotation)" || not_ok "nvidia-smi -L"

# 4. The CUDA program under berth-gpu, picking GPU 0 by the legacy env.
ln -sf "$BERTH" "$W/berth-gpu"
if [[ -n "$VECADD" ]]; then
    bundle "ls /dev | grep nvidia | tr '\n' ' '; echo; vecadd" "NVIDIA_VISIBLE_DEVICES=0" ""
    out=$("$W/berth-gpu" --root "$STATE" --cdi-spec-dir "$W/cdi" run --bundle "$W/bundle" gpu-b 2>&1)
    echo "$out" | sed 's/^/# /'
    grep -q 'vecadd OK' <<<"$out" && ok "CUDA vecadd under berth-gpu (NVIDIA_VISIBLE_DEVICES=0)" || not_ok "CUDA vecadd"
else
    echo "ok $((n += 1)) # SKIP no vecadd (no VECADD, no nvcc)"
fi

# 5. Opting out.
bundle "test -e /dev/nvidia0 && echo has-gpu || echo no-gpu" "NVIDIA_VISIBLE_DEVICES=void" ""
out=$("$W/berth-gpu" --root "$STATE" --cdi-spec-dir "$W/cdi" run --bundle "$W/bundle" gpu-c 2>&1)
grep -q no-gpu <<<"$out" && ok "NVIDIA_VISIBLE_DEVICES=void gets no GPU" || not_ok "void: $out"

echo "1..$n"
exit $((failed > 0))
