#!/bin/bash
# Extra CI checks beyond the main build: the unit suite under ASan+UBSan
# (tests/sanitize.sh) and libFuzzer on every parser of outside data
# (tests/fuzz/run.sh: its eleven targets, 10 s each). Installs what it needs on
# Debian bookworm. Ends with exactly two TAP-like lines, one per check;
# exits non-zero if either failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# Split evenly across tests/fuzz/run.sh's targets: about 10 s each.
fuzz_seconds=110

# Install only the packages that are missing; libclang-rt-14-dev carries
# libFuzzer and the ASan/UBSan runtimes for clang 14.
need=(meson ninja-build pkg-config g++ libyajl-dev libcap-dev libseccomp-dev libcriterion-dev
      clang libclang-rt-14-dev
      # what the fuzz targets' libraries build on (as contrib/build.sh installs them)
      libyaml-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc libcurl4-openssl-dev
      libarchive-dev libssl-dev libtomlplusplus-dev zlib1g-dev)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "== installing: ${missing[*]}"
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq &&
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
        echo "ci-extra: apt-get install failed; carrying on" >&2
fi

san=0
t0=$SECONDS
echo "== tests/sanitize.sh"
"$here/sanitize.sh" || san=$?
echo "== tests/sanitize.sh: exit $san after $((SECONDS - t0)) s"
fuzz=0
t0=$SECONDS
echo "== tests/fuzz/run.sh $fuzz_seconds"
"$here/fuzz/run.sh" "$fuzz_seconds" || fuzz=$?
echo "== tests/fuzz/run.sh: exit $fuzz after $((SECONDS - t0)) s"

if ((san == 0)); then echo "ok - sanitize: unit tests under ASan+UBSan"
else echo "not ok - sanitize: unit tests under ASan+UBSan (exit $san)"; fi
if ((fuzz == 0)); then echo "ok - fuzz: ${fuzz_seconds} s without a crash"
else echo "not ok - fuzz: ${fuzz_seconds} s without a crash (exit $fuzz)"; fi
((san == 0 && fuzz == 0))
