#!/usr/bin/env bash
# contrib/build.sh, the README's first command, configures a new build dir
# without the tests (so it builds only the programs, their man pages and
# completions), and with --tests, with them; a build dir set up with the
# tests keeps them. Run on a copy of the script with meson, ninja and dpkg
# stubbed: what it asks of them is what is checked. TAP.
#   SRC=<repo> tests/install/build_script.sh
set -uo pipefail
: "${SRC:?set SRC to the source tree}"
n=0 failed=0
check() {   # check DESCRIPTION STATUS [DETAIL]
	n=$((n + 1))
	if [ "$2" = 0 ]; then echo "ok $n - $1"; else
		echo "not ok $n - $1"; failed=1
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/# /'
	fi
}

T=$(mktemp -d /tmp/berth-build-script-test.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/tree/contrib" "$T/bin"
cp "$SRC/contrib/build.sh" "$T/tree/contrib/"
for tool in meson ninja; do
	printf '#!/bin/sh\necho "%s $*" >> %s/calls\n' "$tool" "$T" > "$T/bin/$tool"
done
# meson setup makes the build dir, as the real one does.
printf '#!/bin/sh\necho "meson $*" >> %s/calls\ncase "$1" in setup) for a; do d=$a; done; mkdir -p "%s/tree/$d"; touch "%s/tree/$d/build.ninja";; esac\n' \
	"$T" "$T" "$T" > "$T/bin/meson"
printf '#!/bin/sh\necho "install ok installed"\n' > "$T/bin/dpkg-query"
printf '#!/bin/sh\necho "apt-get $*" >> %s/calls\n' "$T" > "$T/bin/apt-get"
chmod +x "$T"/bin/*
run() { : > "$T/calls"; PATH="$T/bin:$PATH" bash "$T/tree/contrib/build.sh" "$@" >/dev/null 2>&1; cat "$T/calls"; }

calls=$(run)
grep -q -- '^meson setup -Dtests=disabled build' <<<"$calls"
check "a new build dir is set up without the tests" $? "$calls"
grep -qx 'ninja -C build' <<<"$calls"; check "and built" $? "$calls"
calls=$(run)
grep -q -- '^meson setup --reconfigure build' <<<"$calls" && ! grep -q -- '-Dtests' <<<"$calls"
check "an existing build dir keeps its tests option" $? "$calls"
calls=$(run --tests)
grep -q -- '^meson setup --reconfigure -Dtests=enabled build' <<<"$calls"
check "--tests turns the tests on" $? "$calls"
rm -rf "$T/tree/build"
calls=$(run --tests)
grep -q -- '^meson setup -Dtests=enabled build' <<<"$calls"
check "--tests on a new build dir sets it up with the tests" $? "$calls"

echo "1..$n"
exit $failed
