#!/bin/sh
# Installs the SPDY interop test's pinned npm modules (package-lock.json)
# into node_modules beside this script. Idempotent; without npm or a
# reachable registry it says why and exits 0, and the test then skips.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
want=$(sed -n 's/.*"spdy-transport": "\([^"]*\)".*/\1/p' "$dir/package.json" | head -n1)
have=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$dir/node_modules/spdy-transport/package.json" 2>/dev/null | head -n1)
if [ -n "$have" ] && [ "$have" = "$want" ]; then
	echo "npm-install.sh: spdy-transport $have already installed in $dir/node_modules"
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "npm-install.sh: npm not found; the SPDY interop test (e2e-spdy-interop) will skip"
	exit 0
fi
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
	echo "npm-install.sh: npm ci failed (registry unreachable?); the SPDY interop test (e2e-spdy-interop) will skip"
	exit 0
fi
echo "npm-install.sh: installed spdy-transport $want in $dir/node_modules"
