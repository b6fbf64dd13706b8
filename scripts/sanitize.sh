#!/usr/bin/env bash
# The unit and integration tests under sanitizers, in a separate clang build (never the
# normal one's flags):
#   scripts/sanitize.sh [asan] [CTEST ARGS...]   ASan+UBSan in build-asan: memory errors,
#       leaks, undefined behaviour (-fno-sanitize-recover: the first report fails the test)
#   scripts/sanitize.sh tsan [CTEST ARGS...]     TSan in build-tsan: data races of the
#       threaded tests (the scheduling loop, the submit batcher, the manager's threads) and
#       of haid itself (gRPC threads, the loop's Run, the listener, the HTTP side port) in
#       three e2e tests that run a TSan-built haid, hai-manager and hai-cli
# Only the test binaries and the programs they start (hai-manager, hai-sim) are built, not
# the whole tree. Postgres and Redis come from scripts/services.sh as in scripts/test.sh.
# Suppressions, each with its reason: scripts/sanitizers/. .ci/run calls the asan mode.
#   HAI_SAN_BUILD_DIR   build directory (default build-asan / build-tsan)
#   HAI_TEST_PG_PORT / HAI_TEST_REDIS_PORT  private service ports (default 55453 / 56400)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=asan
select=()
case "${1:-}" in
  asan | tsan) mode=$1; shift ;;
esac
scripts/install-deps.sh

if [ "$mode" = asan ]; then
  build=${HAI_SAN_BUILD_DIR:-build-asan}
  san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  link="-fsanitize=address,undefined"
  # Python-only and npm tests: nothing of ours runs instrumented there.
  exclude='^(python_sdk_test|kube_validator_install|kube_manifests_schema)$'
  labels=(unit integration)
else
  build=${HAI_SAN_BUILD_DIR:-build-tsan}
  san="-fsanitize=thread"
  # Debian's libabsl is not TSan-instrumented: tell TSan about absl::Mutex (see the file).
  mkdir -p "$build"
  shim=$(cd "$build" && pwd)/tsan_absl_mutex.o
  # -fno-exceptions: the shim is linked into C programs too (CMake's compiler check), which
  # have no C++ personality routine.
  clang++-14 -std=c++20 -fsanitize=thread -fno-exceptions -O1 -g -c scripts/sanitizers/tsan_absl_mutex.cc -o "$shim.new"
  # CMake does not know the programs depend on the shim: a changed shim relinks them all.
  if ! cmp -s "$shim.new" "$shim"; then
    mv "$shim.new" "$shim"
    rm -f "$build"/bin/*
  fi
  rm -f "$shim.new"
  link="-fsanitize=thread $shim"
  exclude='^(python_sdk_test|kube_validator_install|kube_manifests_schema|policy_bench_smoke)$'
  labels=(unit integration e2e)
  # The tests whose code runs threads: the submit batcher (submit_batch_test, store_test),
  # the scheduling loop's units, the manager's lifecycle and store, the Kubernetes runtime's
  # watch thread; and haid's own threads under load in the e2e tests of preemption (the
  # loop, gRPC, LISTEN/NOTIFY, managers), fencing (supervision, relaunch) and the side port.
  # The 300 MB log line of kube_manager_test's memory case takes longer than its 120 s wait
  # through TSan's instrumentation; the normal and ASan builds run it.
  export GTEST_FILTER='-KubeManagerTest.EndlessLineIsCutAndManagerMemoryStaysFlat'
  select=(-R '^(submit_batch_test|store_test|pg_attempt_store_test|kube_manager_test|scheduler_pass_test|manager_supervisor_test|manager_lifecycle_test|manager_integration_test|preemption_e2e_test|fencing_e2e_test|side_port_e2e_test)$')
fi
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# -O1 and line tables: quick to build, readable reports. Warnings stay warnings here (the
# GCC build is the -Werror gate).
cmake -S . -B "$build" -DHAI_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 "${launcher[@]}" \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_EXE_LINKER_FLAGS="$link" -DCMAKE_SHARED_LINKER_FLAGS="$link" >/dev/null

# The targets: every program of ours a selected test runs (read from CTest's files, which
# name them before they are built), plus hai-manager (the manager tests start it).
label_re=$(IFS='|'; echo "${labels[*]}")
targets=$(ctest --test-dir "$build" -N -L "$label_re" -E "$exclude" "${select[@]}" --show-only=json-v1 |
  python3 -c '
import json, os, re, sys
build = os.path.realpath(sys.argv[1])
selected = {t["name"] for t in json.load(sys.stdin)["tests"]}
names = {"hai-manager"}
if sys.argv[2] == "tsan":  # the e2e tests start these from HAI_BIN_DIR
    names.update({"haid", "hai-cli"})
for d, _, files in os.walk(build):
    if "CTestTestfile.cmake" not in files:
        continue
    for line in open(os.path.join(d, "CTestTestfile.cmake")):
        m = re.match(r"add_test\(\[=\[(.*?)\]=\] (.*)\)$", line.strip())
        if m and m.group(1) in selected:
            names.update(re.findall(re.escape(build) + r"/bin/([A-Za-z0-9_.+-]+)", m.group(2)))
print(" ".join(sorted(names)))
' "$build" "$mode")
echo "sanitize ($mode): building $targets"
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target $targets

services=$(mktemp -d /tmp/hai-san-services.XXXXXX)
cleanup() {
  scripts/services.sh stop "$services" || true
  rm -rf "$services"
}
trap cleanup EXIT
exports=$(scripts/services.sh start "$services" "${HAI_TEST_PG_PORT:-55453}" "${HAI_TEST_REDIS_PORT:-56400}")
eval "$exports"
export HAI_PG_URL HAI_REDIS_PORT
HAI_BIN_DIR=$(cd "$build/bin" && pwd)
export HAI_BIN_DIR

supp=$(pwd)/scripts/sanitizers
symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
sym=${symbolizer:+:external_symbolizer_path=$symbolizer}
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:check_initialization_order=1${sym}"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp${sym}"

ctest --test-dir "$build" --output-on-failure -j2 --timeout 900 -L "$label_re" -E "$exclude" \
  "${select[@]}" "$@"
