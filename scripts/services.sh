#!/usr/bin/env bash
# Private Postgres and Redis on loopback under one data directory, for development and tests.
#   scripts/services.sh start DATA_DIR [PG_PORT] [REDIS_PORT]   -> prints export lines
#   scripts/services.sh stop  DATA_DIR
# Postgres refuses to run as root, so as root the cluster runs as the `postgres` user.
# The Postgres superuser is `hai` (trust auth on loopback only); database `hai` is created.
set -euo pipefail

cmd=${1:?usage: services.sh start|stop DATA_DIR [PG_PORT] [REDIS_PORT]}
data=${2:?data dir required}
pg_port=${3:-5433}
redis_port=${4:-6380}
mkdir -p "$data"
data=$(cd "$data" && pwd)
# As root the cluster runs as `postgres`, which must be able to reach its data dir (mktemp
# creates 0700 directories).
[ "$(id -u)" != 0 ] || chmod 755 "$data"
pgdata="$data/pg"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_bin" ] || { echo "services.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if [ ! -f "$pgdata/PG_VERSION" ]; then
      mkdir -p "$pgdata"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$pgdata" && chmod 700 "$pgdata"
      as_pg "$pg_bin/initdb" -D "$pgdata" -U hai -A trust -E UTF8 --no-locale >"$data/initdb.log" 2>&1 \
        || { cat "$data/initdb.log" >&2; exit 1; }
    fi
    if ! as_pg "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
      # Socket dir inside the data dir: no dependence on /var/run/postgresql.
      as_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 30 \
        -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pgdata -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { tail -n 20 "$pgdata/server.log" >&2; exit 1; }
    fi
    if ! "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U hai -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='hai'" | grep -q 1; then
      "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U hai -d postgres -qc "CREATE DATABASE hai" >/dev/null
    fi
    if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
      redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
        --dir "$data" --pidfile "$data/redis.pid" --logfile "$data/redis.log"
      for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    echo "export HAI_PG_URL=postgresql://hai@127.0.0.1:$pg_port/hai"
    echo "export HAI_REDIS_PORT=$redis_port"
    ;;
  stop)
    as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
    if [ -f "$data/redis.pid" ]; then kill "$(cat "$data/redis.pid")" 2>/dev/null || true; fi
    ;;
  *) echo "usage: services.sh start|stop DATA_DIR [PG_PORT] [REDIS_PORT]" >&2; exit 2 ;;
esac
