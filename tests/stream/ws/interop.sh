#!/bin/sh
# e2e-ws-interop: npm's `ws` client against ws-echo-server (interop.cjs).
# Skips (77, the reason printed) without node or the module. The module is
# looked for in $BERTH_NODE_MODULES, then next to package.json
# (npm-install.sh puts it there).
dir=${WS_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node not found (install nodejs, then run $dir/npm-install.sh)"
    exit 77
fi
modules=${BERTH_NODE_MODULES:-$dir/node_modules}
if [ ! -f "$modules/ws/package.json" ]; then
    echo "SKIP: npm module ws not in $modules (run $dir/npm-install.sh, or set BERTH_NODE_MODULES)"
    exit 77
fi
if [ ! -x "${WS_ECHO_SERVER:-}" ]; then
    echo "WS_ECHO_SERVER is not set to the built ws-echo-server"
    exit 1
fi
WS_NODE_MODULES=$modules exec node "$dir/interop.cjs"
