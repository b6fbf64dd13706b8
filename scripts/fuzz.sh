#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) in a separate clang build, build-fuzz, with the whole
# tree instrumented (-fsanitize=fuzzer-no-link,address,undefined), then runs each target for
# SECONDS_PER_TARGET on its committed seed corpus (fuzz/corpus/<target>/) and dictionary
# (fuzz/<target>.dict, when there is one). Fails on the
# first crash, leak, sanitizer report, timeout or broken FUZZ_CHECK, and prints the
# reproducer (the input as hex and the command that replays it). .ci/run calls it.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]    (default 10)
#   HAI_FUZZ_BUILD_DIR (default build-fuzz)   HAI_FUZZ_TARGETS (default: all, space-separated)
# Replay one input: build-fuzz/bin/<target> FILE.  Grow the corpus: build-fuzz/bin/<target>
# fuzz/corpus/<target> -max_total_time=600 (then keep the new files small and few).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
build=${HAI_FUZZ_BUILD_DIR:-build-fuzz}

scripts/install-deps.sh
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# -O1 and line tables keep the instrumented build quick and its reports readable. Warnings
# stay warnings: the GCC build is the -Werror gate; this one looks for crashes.
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B "$build" -DHAI_FUZZ=ON -DHAI_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 "${launcher[@]}" \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_all

targets=${HAI_FUZZ_TARGETS:-$(cd fuzz && ls ./*_fuzz.cc | sed 's|^\./||; s|\.cc$||')}
work=$(mktemp -d /tmp/hai-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${symbolizer:+:external_symbolizer_path=$symbolizer}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=()
for t in $targets; do
  seeds="fuzz/corpus/$t"
  [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; exit 2; }
  mkdir -p "$work/$t"
  log="$work/$t.log"
  dict=()
  [ ! -f "fuzz/$t.dict" ] || dict=(-dict="fuzz/$t.dict")
  start=$(date +%s)
  # New inputs go to $work/$t (thrown away); the committed seeds are only read.
  if TMPDIR="$work" "$build/bin/$t" "$work/$t" "$seeds" -max_total_time="$seconds" \
       -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
       -artifact_prefix="$artifacts/$t-" "${dict[@]}" >"$log" 2>&1; then
    stats=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    echo "fuzz: $t ok ($(( $(date +%s) - start )) s, ${stats:-?} runs, ${cov:-cov: ?})"
  else
    failed+=("$t")
    echo "fuzz: $t FAILED; its log:"
    tail -n 60 "$log"
    crash=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
    if [ -n "$crash" ] && [ -f "$crash" ]; then
      echo "fuzz: reproducer $crash ($(stat -c %s "$crash") bytes):"
      od -A d -t x1z -v "$crash" | head -n 40
      echo "fuzz: replay with: $build/bin/$t $crash"
    fi
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets ok (${seconds} s each)"
