#!/usr/bin/env bash
# `meson install` puts berth where a packager and a shell expect it: the
# stripped programs and the containerd-shim-berth-v2 link in bin, a man page
# for berth and for each of its commands in man8, and bash and zsh
# completions that offer berth's commands, flags and container ids. TAP.
#   BUILD=build tests/install/install.sh
set -uo pipefail
: "${BUILD:?set BUILD to the meson build dir}"

n=0 failed=0
check() {   # check DESCRIPTION STATUS [DETAIL]
	n=$((n + 1))
	if [ "$2" = 0 ]; then echo "ok $n - $1"; else
		echo "not ok $n - $1"; failed=1
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/# /'
	fi
}

D=$(mktemp -d /tmp/berth-install-test.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT
prefix=$(meson introspect "$BUILD" --buildoptions | python3 -c '
import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
out=$(meson install -C "$BUILD" --destdir "$D" --no-rebuild --strip 2>&1)
check "meson install --destdir --strip succeeds" $? "$out"
P=$D$prefix

# Programs, stripped; the shim's name for containerd.
for b in berth berth-shim; do
	[ -x "$P/bin/$b" ]; check "bin/$b installed" $?
	syms=$(readelf -S "$P/bin/$b" 2>&1 | grep -c '\.symtab')
	[ "$syms" = 0 ]; check "bin/$b is stripped" $? "$(readelf -S "$P/bin/$b" 2>&1 | grep -E 'symtab|debug')"
done
[ "$(readlink "$P/bin/containerd-shim-berth-v2")" = berth-shim ]
check "bin/containerd-shim-berth-v2 -> berth-shim" $? "$(ls -l "$P/bin" 2>&1)"

# A man page for berth and for each command its help lists.
berth=$P/bin/berth
cmds=$("$berth" help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1} on && !/^  /{on=0}' | grep -vx help)
[ -n "$cmds" ]; check "berth help lists the commands" $? "$("$berth" help 2>&1)"
M=$P/share/man/man8
for page in berth $(printf 'berth-%s ' $cmds); do
	[ -f "$M/$page.8" ]; check "man8/$page.8 installed" $?
done
if command -v groff >/dev/null; then
	for f in "$M"/*.8; do
		w=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
		[ -z "$w" ]; check "$(basename "$f") renders without warnings" $? "$w"
	done
	# Every flag a command's --help shows is in its page.
	for c in $cmds; do
		page=$(groff -man -Tutf8 "$M/berth-$c.8" 2>/dev/null | sed 's/.\x08//g')
		missing=
		for f in $("$berth" "$c" --help | grep -oE -- '--[a-z0-9-]+' | sort -u); do
			grep -qF -- "$f" <<<"$page" || missing="$missing $f"
		done
		[ -z "$missing" ]; check "berth-$c.8 names every flag of berth $c --help" $? "missing:$missing"
	done
fi

# bash: commands, a command's flags, and ids from `berth [--root R] list -q`.
bc=$P/share/bash-completion/completions/berth
[ -f "$bc" ]; check "bash completion installed" $?
stub=$D/stub-berth
printf '#!/bin/sh\necho "$*" >> %s/stub-args\necho alpha\necho beta\n' "$D" > "$stub"; chmod +x "$stub"
complete_words() {   # complete_words WORD... -> COMPREPLY, one per line
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _berth; printf "%s\n" "${COMPREPLY[@]}"' _ "$bc" "$@"
}
got=$(complete_words "$stub" up); [ "$got" = update ]; check "bash: completes the command" $? "$got"
got=$(complete_words "$stub" update --cpuset-c); [ "$got" = --cpuset-cpus ]; check "bash: completes a command's flag" $? "$got"
got=$(complete_words "$stub" --root /tmp/r kill ""); [ "$(echo $got)" = "alpha beta" ]
check "bash: completes container ids" $? "$got"
grep -qx -- "--root /tmp/r list -q" "$D/stub-args"; check "bash: lists ids with the --root given" $? "$(cat "$D/stub-args" 2>&1)"
got=$(complete_words "$stub" cdi generate ""); [ "$got" = nvidia ]; check "bash: completes subcommand words" $? "$got"
got=$(complete_words "$stub" kill alpha ""); [ -z "$got" ]; check "bash: no id after the id" $? "$got"

zc=$P/share/zsh/site-functions/_berth
[ -f "$zc" ]; check "zsh completion installed" $?
if command -v zsh >/dev/null; then
	out=$(zsh -n "$zc" 2>&1); check "zsh completion parses" $? "$out"
fi

echo "1..$n"
exit $failed
