#!/usr/bin/env bash
# The embedded default in one command: install what is missing, build, start a private
# Postgres and Redis on loopback under var/services, migrate, seed the example users and
# quotas, and run haid in the foreground with the 4 local nodes of config/haid.toml.
# A haid that dies (crash, kill -9, OOM) is restarted with a log line naming the cause while
# Postgres, Redis, the managers and their ranks keep running (scripts/lib/supervise.sh; 5
# deaths within 60 s give up). Ctrl-C stops haid, then Postgres and Redis.
#
#   HAI_CONFIG      config file (default config/haid.toml); its database and redis ports
#                   must match HAI_PG_PORT / HAI_REDIS_PORT
#   HAI_PG_PORT     private Postgres port (default 5433, as in config/haid.toml)
#   HAI_REDIS_PORT  private Redis port (default 6380, as in config/haid.toml)
#   HAI_BUILD_DIR   build directory (default build)
#   HAI_VAR_DIR     where Postgres and Redis keep their data (default var; services/ in it)
set -euo pipefail
cd "$(dirname "$0")/.."

config=${HAI_CONFIG:-config/haid.toml}
pg_port=${HAI_PG_PORT:-5433}
redis_port=${HAI_REDIS_PORT:-6380}
build=${HAI_BUILD_DIR:-build}
var=${HAI_VAR_DIR:-var}

scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target haid hai-manager hai-cli

mkdir -p "$var"
# Runs however the script ends (Ctrl-C, haid given up on, a failed step): Postgres and Redis
# go when the script goes, never before.
trap 'scripts/services.sh stop "$var/services"' EXIT
trap 'exit 130' INT TERM
# Not `eval "$(...)"`: that would hide a failed start behind eval's own success.
exports=$(scripts/services.sh start "$var/services" "$pg_port" "$redis_port")
eval "$exports"

"$build/bin/haid" migrate --config "$config"
# The seed only inserts what is missing (ON CONFLICT DO NOTHING), so reruns are harmless.
for seed in sql/seed/*.sql; do
  psql -q -v ON_ERROR_STOP=1 "$HAI_PG_URL" -f "$seed" >/dev/null
done

cat <<MSG
hai is starting: gRPC on 127.0.0.1:7611, metrics and health on http://127.0.0.1:7612.
In another shell (alice-token is the example user of sql/seed/):
  $build/bin/hai-cli init alice-token --url 127.0.0.1:7611
  $build/bin/hai-cli python train.py -- -n 2 -p HIGH
  $build/bin/hai-cli list
  $build/bin/hai-cli status TASK
  $build/bin/hai-cli logs -f TASK
  $build/bin/hai-cli nodes
Ctrl-C here stops haid, Postgres and Redis; a haid that dies is restarted.
MSG
# shellcheck source=lib/supervise.sh
. scripts/lib/supervise.sh
status=0
supervise "$build/bin/haid" --config "$config" || status=$?
exit "$status"
