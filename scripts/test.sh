#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install what is missing, build with warnings as
# errors, start a private Postgres and Redis on loopback in a temporary directory, and run
# every test (unit, integration, e2e, Python, deploy) through CTest. .ci/run calls this.
# Arguments go to ctest (e.g. `scripts/test.sh -L unit`, `-R config`).
#   HAI_BUILD_DIR   build directory (default build)     HAI_BUILD_TYPE  (default RelWithDebInfo)
#   HAI_TEST_PG_PORT / HAI_TEST_REDIS_PORT  private service ports (default 55433 / 56380)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

build=${HAI_BUILD_DIR:-build}
jobs=$(nproc)
cmake -S . -B "$build" -DHAI_WERROR=ON -DCMAKE_BUILD_TYPE="${HAI_BUILD_TYPE:-RelWithDebInfo}"
cmake --build "$build" -j"$jobs"

services=$(mktemp -d /tmp/hai-test-services.XXXXXX)
cleanup() {
  scripts/services.sh stop "$services" || true
  rm -rf "$services"
}
trap cleanup EXIT
pg_port=${HAI_TEST_PG_PORT:-55433}
redis_port=${HAI_TEST_REDIS_PORT:-56380}
# Not `eval "$(...)"`: that would hide a failed start behind eval's own success.
exports=$(scripts/services.sh start "$services" "$pg_port" "$redis_port")
eval "$exports"
export HAI_PG_URL HAI_REDIS_PORT
HAI_BIN_DIR=$(cd "$build/bin" && pwd)  # HAI_BUILD_DIR may be relative or absolute
export HAI_BIN_DIR

# -j2: e2e tests start real daemons and processes; more parallelism only adds noise.
ctest --test-dir "$build" --output-on-failure -j2 --timeout 900 "$@"
