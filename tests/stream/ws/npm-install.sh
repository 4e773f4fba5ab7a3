#!/bin/sh
# Install the interop test's node modules (package.json, pinned by
# package-lock.json) into tests/stream/ws/node_modules. Idempotent; when
# npm or the registry is missing it says why and exits 0, and the interop
# test then skips.
dir=$(cd "$(dirname "$0")" && pwd)
if ! command -v npm >/dev/null 2>&1; then
    echo "npm-install.sh: npm not found; the WebSocket interop test will skip"
    exit 0
fi
if [ -f "$dir/node_modules/ws/package.json" ] &&
   [ "$(node -p "require('$dir/node_modules/ws/package.json').version" 2>/dev/null)" = \
     "$(node -p "require('$dir/package.json').dependencies.ws" 2>/dev/null)" ]; then
    exit 0
fi
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "npm-install.sh: npm ci failed (registry unreachable?); the WebSocket interop test will skip"
fi
exit 0
