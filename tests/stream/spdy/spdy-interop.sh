#!/bin/sh
# meson's e2e-spdy-interop: spdy-interop.js drives spdy-echo-server ($1)
# with npm's spdy-transport. Skips (77) without node or the modules.
set -u
if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: node not found (the SPDY interop test needs Node.js and tests/stream/spdy/npm-install.sh)"
	exit 77
fi
exec node "$(dirname "$0")/spdy-interop.js" "$1"
