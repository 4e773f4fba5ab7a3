#!/bin/sh
# interop.sh [SCRIPT]: npm's `ws` client against berth's WebSocket servers.
#   interop.cjs (e2e-ws-interop, the default): ws-echo-server ($WS_ECHO_SERVER);
#   pf-interop.cjs (e2e-ws-portforward-interop): pf-ws-server ($PF_WS_SERVER).
# Skips (77, the reason printed) without node or the module. The module is
# looked for in $BERTH_NODE_MODULES, then next to package.json
# (npm-install.sh puts it there).
dir=${WS_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
script=${1:-interop.cjs}
case $script in
pf-interop.cjs) server_var=PF_WS_SERVER ;;
*) server_var=WS_ECHO_SERVER ;;
esac
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node not found (install nodejs, then run $dir/npm-install.sh)"
    exit 77
fi
modules=${BERTH_NODE_MODULES:-$dir/node_modules}
if [ ! -f "$modules/ws/package.json" ]; then
    echo "SKIP: npm module ws not in $modules (run $dir/npm-install.sh, or set BERTH_NODE_MODULES)"
    exit 77
fi
eval "server=\${$server_var:-}"
if [ ! -x "$server" ]; then
    echo "$server_var is not set to the built server $script drives"
    exit 1
fi
WS_NODE_MODULES=$modules exec node "$dir/$script"
