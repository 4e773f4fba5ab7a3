#!/usr/bin/env bash
# Install berth's build dependencies from Debian and build it into ./build:
# the programs (berth, berth-shim), their man pages and shell completions.
# Idempotent. `contrib/build.sh --tests` also installs what the test suites
# use and builds the tests; without it a new build dir leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(meson ninja-build g++ pkg-config libyajl-dev libyaml-dev libseccomp-dev libcap-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc libcurl4-openssl-dev libarchive-dev libssl-dev libtomlplusplus-dev zlib1g-dev busybox-static)
if [[ "${1:-}" == "--tests" ]]; then
    pkgs+=(libcriterion-dev iproute2 procps util-linux bsdutils python3 jq podman containerd docker.io docker-registry skopeo umoci apache2-utils containernetworking-plugins iptables golang-github-docker-spdystream-dev openssl curl passwd)
    # By command: a machine may have Node.js or Go from elsewhere (NodeSource's
    # nodejs bundles npm and conflicts with Debian's npm package).
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
    command -v go >/dev/null 2>&1 || pkgs+=(golang-go)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests option is set only when asked for (or for a new build dir), so
# a build dir set up for the tests keeps them.
opts=()
if [[ "${1:-}" == "--tests" ]]; then
    opts=(-Dtests=enabled)
elif [[ ! -f build/build.ninja ]]; then
    opts=(-Dtests=disabled)
fi
# The streaming tests' real clients: npm's spdy-transport and ws, pinned by
# their package-lock.json (the tests skip without them).
if [[ "${1:-}" == "--tests" ]]; then
    for f in tests/stream/*/npm-install.sh; do [[ -e $f ]] && sh "$f"; done
fi
if [[ -f build/build.ninja ]]; then
    meson setup --reconfigure "${opts[@]}" build >/dev/null
else
    meson setup "${opts[@]}" build >/dev/null
fi
ninja -C build
