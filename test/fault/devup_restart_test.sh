#!/usr/bin/env bash
# The embedded default survives its own faults (issue 16): under scripts/dev-up.sh a haid
# killed with SIGKILL is restarted with a log line naming the signal while Postgres and Redis
# keep running, and SIGTERM (what Ctrl-C amounts to) still stops everything. Part 1 checks
# the restart policy of scripts/lib/supervise.sh on a stand-in process; part 2 runs the real
# dev-up.sh with a private config, ports and data directory.
#   devup_restart_test.sh SOURCE_DIR BUILD_DIR
# Environment: HAI_TEST_PG_PORT / HAI_TEST_REDIS_PORT (the suite's services; this test starts
# its own on those ports + 7).
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/hai-devup-test.XXXXXX)
chmod 755 "$work"  # as root, Postgres runs as `postgres`, which must reach var/services/pg
devup_pid=""
cleanup() {
  [ -z "$devup_pid" ] || kill -TERM "$devup_pid" 2>/dev/null || true
  [ -z "$devup_pid" ] || wait "$devup_pid" 2>/dev/null || true
  pkill -KILL -f "$work/haid.toml" 2>/dev/null || true
  "$src/scripts/services.sh" stop "$work/var/services" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ ! -f "$work/devup.log" ] || { echo "--- dev-up.sh output:" >&2; tail -n 40 "$work/devup.log" >&2; }
  exit 1
}
wait_for() {  # wait_for SECONDS COMMAND...: polls every 0.1 s
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# ---- part 1: the restart policy, on a stand-in that dies as told by a file
. "$src/scripts/lib/supervise.sh"
cat >"$work/child.sh" <<'CHILD'
#!/usr/bin/env bash
echo start >>"$1/starts"
case "$(head -n "$(wc -l <"$1/starts")" "$1/plan" | tail -n 1)" in
  kill) kill -KILL $$ ;;
  fail) exit 3 ;;
  clean) exit 0 ;;
  run) exec sleep 600 ;;
esac
CHILD
chmod +x "$work/child.sh"
run_plan() {  # run_plan STEP...: one step per start; echoes supervise's status
  printf '%s\n' "$@" >"$work/plan"
  rm -f "$work/starts"
  local status=0
  SUPERVISE_RESTART_DELAY_S=0 supervise "$work/child.sh" "$work" 2>"$work/supervise.log" || status=$?
  echo "$status"
}
# Killed, failed, then a clean exit: restarted twice with the causes named, then it stops.
[ "$(run_plan kill fail clean)" = 0 ] || fail "a clean exit should end supervise with 0"
[ "$(wc -l <"$work/starts")" = 3 ] || fail "expected 3 starts, got $(wc -l <"$work/starts")"
grep -q "was killed by SIGKILL (status 137); restarting" "$work/supervise.log" ||
  fail "no log line naming SIGKILL: $(cat "$work/supervise.log")"
grep -q "exited with status 3; restarting" "$work/supervise.log" || fail "no line for status 3"
# Five deaths within the window: it gives up instead of restarting forever.
[ "$(run_plan fail fail fail fail fail run)" = 1 ] || fail "5 quick deaths should give up with 1"
[ "$(wc -l <"$work/starts")" = 5 ] || fail "gave up after $(wc -l <"$work/starts") starts, not 5"
grep -q "5 deaths within 60 s, giving up" "$work/supervise.log" || fail "no give-up line"
echo "part 1: supervise restarts on death, names the cause, stops on a clean exit, gives up"

# ---- part 2: the real dev-up.sh
pg_port=$((${HAI_TEST_PG_PORT:-55433} + 7))
redis_port=$((${HAI_TEST_REDIS_PORT:-56380} + 7))
read -r grpc_port http_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
sed -e "s/127.0.0.1:7611/127.0.0.1:$grpc_port/; s/127.0.0.1:7612/127.0.0.1:$http_port/" \
  -e "s/127.0.0.1:5433/127.0.0.1:$pg_port/; s/^port = 6380/port = $redis_port/" \
  -e "s|^data_dir = \"var\"|data_dir = \"$work/data\"|" \
  "$src/config/haid.toml" >"$work/haid.toml"
grep -q "$pg_port" "$work/haid.toml" && grep -q "port = $redis_port" "$work/haid.toml" ||
  fail "could not point the config at private ports"

healthy() {
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$http_port/healthz', timeout=1)" 2>/dev/null
}
haid_pid() { pgrep -f "bin/haid --config $work/haid.toml" | head -n 1; }
pg_up() { pg_isready -q -h 127.0.0.1 -p "$pg_port"; }

(cd "$src" && exec setsid env HAI_CONFIG="$work/haid.toml" HAI_PG_PORT="$pg_port" \
  HAI_REDIS_PORT="$redis_port" HAI_BUILD_DIR="$build" HAI_VAR_DIR="$work/var" \
  scripts/dev-up.sh >"$work/devup.log" 2>&1) &
devup_pid=$!
up_or_gone() { healthy || ! kill -0 "$devup_pid" 2>/dev/null; }
wait_for 120 up_or_gone && healthy || fail "haid did not become healthy under dev-up.sh"
first=$(haid_pid)
[ -n "$first" ] || fail "no haid process found"

kill -KILL "$first"
wait_for 15 grep -q "was killed by SIGKILL" "$work/devup.log" || fail "no log line for the kill"
wait_for 30 healthy || fail "haid was not restarted"
second=$(haid_pid)
[ -n "$second" ] && [ "$second" != "$first" ] || fail "no new haid (before $first, now '$second')"
pg_up || fail "Postgres went down with haid"
kill -0 "$devup_pid" 2>/dev/null || fail "dev-up.sh exited when haid died"
echo "part 2: haid $first killed, restarted as $second; Postgres kept running"

# Ctrl-C (SIGTERM here: a background job ignores SIGINT) stops haid, Postgres and Redis.
kill -TERM "$devup_pid"
wait_for 30 bash -c "! kill -0 $devup_pid 2>/dev/null" || fail "dev-up.sh did not stop on SIGTERM"
wait "$devup_pid" 2>/dev/null || true
devup_pid=""
[ -z "$(haid_pid)" ] || fail "haid still runs after dev-up.sh stopped"
! pg_up || fail "Postgres still runs after dev-up.sh stopped"
echo "part 2: SIGTERM stopped haid, Postgres and Redis"
