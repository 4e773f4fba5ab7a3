#!/bin/bash
# Build berth with ASan+UBSan in build-asan and run the unit suite there.
# Any sanitizer report (memory error, leak, undefined behaviour) makes the
# test binary that hit it fail. Exit status: that of `meson test`.
#   tests/sanitize.sh
# Environment: BUILD_DIR (default <repo>/build-asan); SANITIZE_BUILD_ALL=1
# builds every target, not only those the unit suite runs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/build-asan}

if [[ ! -f $build/build.ninja ]]; then
    echo "== configure $build"
    # ASan cannot be linked statically, hence static_berth=false;
    # b_lundef=false as meson recommends with sanitizers.
    meson setup "$build" "$repo" -Db_sanitize=address,undefined -Db_lundef=false -Dstatic_berth=false
fi
# Build what the unit suite runs (the whole tree with SANITIZE_BUILD_ALL=1).
ninja -C "$build" build.ninja   # regenerate first if a meson.build changed
if [[ ${SANITIZE_BUILD_ALL:-0} == 1 ]]; then
    echo "== build all"
    meson compile -C "$build"
else
    mapfile -t unit_targets < <(python3 - "$build" <<'PY'
import json, os, sys
b = sys.argv[1]
info = os.path.join(b, "meson-info")
files = {t["id"]: t["filename"] for t in json.load(open(os.path.join(info, "intro-targets.json")))}
out = set()
for t in json.load(open(os.path.join(info, "intro-tests.json"))):
    if any(s.split(":")[-1] == "unit" for s in t["suite"]):
        for f in [t["cmd"][0]] + [f for d in t.get("depends", []) for f in files.get(d, [])]:
            if os.path.abspath(f).startswith(os.path.abspath(b) + "/"):
                out.add(os.path.relpath(f, b))
print("\n".join(sorted(out)))
PY
    )
    echo "== build ${unit_targets[*]}"
    ninja -C "$build" "${unit_targets[@]}"
fi

# Sanitizer reports abort the process, with a stack. halt_on_error=1 turns
# UBSan's otherwise recoverable reports into failures; meson keeps these
# values since they are already set. ASan's reports (leaks included, which
# would not fail a Criterion test on their own) also go to files under
# $logs: any file there fails the run.
logs=$build/meson-logs/sanitizer
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:log_path=$logs/asan}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# Without Criterion there is no unit suite; that must not read as a pass.
listed=$(meson test -C "$build" --suite unit --list --no-rebuild 2>/dev/null || true)
if ! grep -q ':unit / ' <<<"$listed"; then
    echo "sanitize: no unit tests in $build (is libcriterion-dev installed?)"
    exit 1
fi

echo "== meson test --suite unit"
echo "   ASAN_OPTIONS=$ASAN_OPTIONS"
echo "   UBSAN_OPTIONS=$UBSAN_OPTIONS"
rc=0
meson test -C "$build" --suite unit --print-errorlogs --no-rebuild || rc=$?

for f in "$logs"/*; do
    [[ -f $f ]] || continue
    echo "== sanitizer report $f"
    head -n 120 "$f"
    ((rc != 0)) || rc=1
done
if ((rc != 0)); then
    # Criterion's --tap mode silences the test workers' stderr, where UBSan
    # writes its report (GCC's UBSan ignores log_path): run each failed test
    # again in Criterion's default mode to show it.
    python3 - "$build/meson-logs/testlog.json" <<'PY' | while IFS= read -r -d '' cmd; do
import json, shlex, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(shlex.join(a for a in t["command"] if not a.startswith("--tap")), end="\0")
PY
        echo "== again without --tap: $cmd"
        bash -c "$cmd" 2>&1 | tail -n 150 || true
    done
    echo "sanitize: unit tests failed under ASan+UBSan (log: $build/meson-logs/testlog.txt)"
fi
exit "$rc"
