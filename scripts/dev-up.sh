#!/usr/bin/env bash
# The embedded default in one command: install what is missing, build, start a private
# Postgres and Redis on loopback under var/services, migrate, seed the example users and
# quotas, and run haid in the foreground with the 4 local nodes of config/haid.toml.
# Ctrl-C stops haid and the services (running tasks are stopped with them).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target haid hai-manager hai-cli

config=${HAI_CONFIG:-config/haid.toml}
mkdir -p var
exports=$(scripts/services.sh start var/services 5433 6380)
eval "$exports"
stop_services() { scripts/services.sh stop var/services; }
trap stop_services EXIT

build/bin/haid migrate --config "$config"
for seed in sql/seed/*.sql; do
  psql -q -v ON_ERROR_STOP=1 "$HAI_PG_URL" -f "$seed" >/dev/null
done

cat <<MSG
hai is starting: gRPC on 127.0.0.1:7611, metrics and health on http://127.0.0.1:7612.
In another shell:
  build/bin/hai-cli init alice-token --url 127.0.0.1:7611
  build/bin/hai-cli python train.py -- -n 2 -f
  build/bin/hai-cli list
Ctrl-C here stops haid, Postgres and Redis.
MSG
build/bin/haid --config "$config" &
haid_pid=$!
trap 'kill -TERM $haid_pid 2>/dev/null || true' INT TERM
wait $haid_pid || true
