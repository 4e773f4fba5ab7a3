#!/bin/bash
# Build the libFuzzer targets in build-fuzz (clang, ASan+UBSan, the
# libraries they test instrumented), replay the regression inputs and the
# seed corpora, then fuzz for SECONDS in total (default 60, split evenly
# across the targets) over a scratch copy of the corpus. Nothing is
# written into the repo. Prints one line per target.
# Exit 0: no finding. Exit 1: a crash, leak, timeout or OOM; the input that
# triggered it is printed and kept under the scratch dir.
#   tests/fuzz/run.sh [SECONDS [TARGET...]]
# Environment: BUILD_DIR (default <repo>/build-fuzz), FUZZ_CXX (default
# clang++, used when configuring the build dir), FUZZ_KEEP=1 keeps the
# scratch dir even on success.
set -euo pipefail

total=${1:-60}
case $total in '' | *[!0-9]*) echo "usage: $0 [SECONDS [TARGET...]]" >&2; exit 2 ;; esac
shift || true
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build-fuzz}
all=(fuzz_config fuzz_json fuzz_cdi fuzz_berthd_config fuzz_image_spec fuzz_image_archive
     fuzz_auth_challenge fuzz_spdy_frame fuzz_ws_frame fuzz_ttrpc_frame fuzz_tar_unpack)
# Which seed corpus (corpus/NAME) and dictionary each target starts from.
declare -A corpus=([fuzz_config]=config [fuzz_json]=json [fuzz_cdi]=cdi [fuzz_berthd_config]=berthd_config
                   [fuzz_image_spec]=image_spec [fuzz_image_archive]=image_archive
                   [fuzz_auth_challenge]=auth_challenge [fuzz_spdy_frame]=spdy_frame [fuzz_ws_frame]=ws_frame
                   [fuzz_ttrpc_frame]=ttrpc_frame [fuzz_tar_unpack]=tar_unpack)
declare -A dict=([fuzz_config]=config.dict [fuzz_json]=config.dict [fuzz_cdi]=config.dict
                 [fuzz_berthd_config]=berthd_config.dict [fuzz_image_spec]=image_spec.dict
                 [fuzz_image_archive]=image_archive.dict [fuzz_auth_challenge]=auth_challenge.dict
                 [fuzz_spdy_frame]=spdy_frame.dict [fuzz_ws_frame]=ws_frame.dict
                 [fuzz_ttrpc_frame]=ttrpc_frame.dict [fuzz_tar_unpack]=tar_unpack.dict)
if (($#)); then targets=("$@"); else targets=("${all[@]}"); fi
for t in "${targets[@]}"; do
    [[ -n ${corpus[$t]:-} ]] || { echo "$0: unknown target $t (${all[*]})" >&2; exit 2; }
done

# clang even where CXX names another compiler (FUZZ_CXX overrides).
export CXX=${FUZZ_CXX:-clang++}
if [[ ! -f $build/build.ninja ]]; then
    echo "== configure $build"
    meson setup "$build" "$repo" -Dfuzz=true -Dstatic_berth=false -Dtests=disabled \
        -Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-fsanitize=fuzzer-no-link
fi
echo "== build ${targets[*]}"
ninja -C "$build" build.ninja >/dev/null   # regenerate first if a meson.build changed
meson compile -C "$build" "${targets[@]}"

# UBSan reports are recoverable by default; make each one a crash.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:print_stacktrace=1}

work=$(mktemp -d /tmp/berth-fuzz-run.XXXXXX)
# An interrupted run (Ctrl-C, a CI lane stopped) leaves no scratch dir.
trap '[[ ${FUZZ_KEEP:-} == 1 ]] || rm -rf "$work"; exit 130' INT TERM
mkdir "$work/tmp"
export TMPDIR=$work/tmp   # fuzz_config's bundle dir, fuzz_tar_unpack's scratch dir (it checks nothing else appears here)
status=0
found=()

# Replay: every regression input and every seed, each run once.
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    inputs=()
    for f in "$here/regressions/$t"/* "$here/corpus/${corpus[$t]}"/*; do
        [[ -f $f ]] && inputs+=("$f")
    done
    echo "== $t: replay ${#inputs[@]} regression and seed inputs"
    if ! "$bin" "${inputs[@]}" >"$work/$t.replay.log" 2>&1; then
        awk '/==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer|^fuzz_[a-z_]+: /{p=1} p&&n++<80' "$work/$t.replay.log"
        # libFuzzer prints "Running: FILE" before each input; the last one crashed.
        last=$(grep '^Running: ' "$work/$t.replay.log" | tail -n1 | sed 's/^Running: //')
        echo "FAIL: $t crashes on $last (log: $work/$t.replay.log)"
        found+=("$last")
        status=1
    fi
done
if ((status != 0)); then
    echo "== findings (reproduce: $build/tests/fuzz/<target> <input>):"
    for a in "${found[@]}"; do echo "  $a"; done
    echo "scratch dir kept: $work"
    exit 1
fi

# Fuzz: each target gets an equal share of the time, on a scratch corpus,
# and one line saying how it went.
per=$((total / ${#targets[@]}))
((per >= 1)) || per=1
summary=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    cp "$here/corpus/${corpus[$t]}"/* "$work/corpus/$t/"
    echo "== $t: fuzz for ${per}s"
    rc=0
    t0=$SECONDS
    "$bin" -max_total_time="$per" -timeout=10 -rss_limit_mb=4096 -max_len=16384 \
        -dict="$here/${dict[$t]}" -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t" >"$work/$t.log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n1)
    cov=$(grep -oE '^#[0-9]+.* cov: [0-9]+' "$work/$t.log" | tail -n1 | sed 's/.* cov: //')
    line="$t: ${runs:-?} runs in $((SECONDS - t0))s, cov ${cov:-?}, corpus $(ls "$work/corpus/$t" | wc -l)"
    if ((rc != 0)); then
        # The report, from its first line (the stats after it are noise).
        awk '/==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer|^fuzz_[a-z_]+: /{p=1} p&&n++<80' "$work/$t.log"
        for a in "$work/artifacts/$t"/*; do
            [[ -f $a ]] && found+=("$a")
        done
        line+=": FAIL (exit $rc, log: $work/$t.log)"
        status=1
    else
        line+=": ok"
    fi
    echo "$line"
    summary+=("$line")
done

echo "== per target"
for l in "${summary[@]}"; do echo "  $l"; done
if ((status != 0)); then
    echo "== findings (reproduce: $build/tests/fuzz/<target> <input>):"
    for a in "${found[@]}"; do echo "  $a"; done
    echo "scratch dir kept: $work"
    exit 1
fi
echo "== no findings in ${total}s"
if [[ ${FUZZ_KEEP:-} == 1 ]]; then echo "scratch dir kept: $work"; else rm -rf "$work"; fi
