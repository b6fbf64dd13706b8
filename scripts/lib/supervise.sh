# supervise CMD [ARGS...]: runs CMD in the background and restarts it when it dies on its
# own, the way a service manager would, so a crashed haid under scripts/dev-up.sh comes
# back while Postgres, Redis, the managers and their ranks keep running.
#   - each death is logged with its cause (exit status, or the signal that killed it);
#   - a clean exit (status 0) is not restarted: haid exits 0 only when asked to stop;
#   - SUPERVISE_MAX_DEATHS deaths (default 5) within SUPERVISE_WINDOW_S seconds (default 60)
#     give up (a haid that cannot start, e.g. a bad config, is not restarted forever);
#   - SIGINT or SIGTERM to the script stops CMD (SIGTERM, then waits) and returns 130.
# Returns 0 after a clean exit of CMD, 1 after giving up, 130 when stopped by a signal.
# Sourced (bash); the caller's own traps for INT and TERM are replaced while it runs.

supervise_describe() {  # exit status -> "exited with status N" | "was killed by SIGX"
  local status=$1
  if [ "$status" -gt 128 ] && [ "$status" -lt 160 ]; then
    echo "was killed by SIG$(kill -l $((status - 128)) 2>/dev/null || echo "$((status - 128))") (status $status)"
  else
    echo "exited with status $status"
  fi
}

supervise() {
  local max_deaths=${SUPERVISE_MAX_DEATHS:-5} window=${SUPERVISE_WINDOW_S:-60}
  local delay=${SUPERVISE_RESTART_DELAY_S:-1}
  local deaths=() child status now recent t
  _supervise_stop=0
  _supervise_child=""
  trap '_supervise_stop=1; [ -z "$_supervise_child" ] || kill -TERM "$_supervise_child" 2>/dev/null || true' INT TERM
  while :; do
    "$@" &
    child=$!
    _supervise_child=$child
    # `wait` also returns when a trapped signal arrives; wait again until the child is gone.
    while :; do
      status=0
      wait "$child" || status=$?
      kill -0 "$child" 2>/dev/null || break
    done
    _supervise_child=""
    if [ "$_supervise_stop" = 1 ]; then
      trap - INT TERM
      return 130
    fi
    if [ "$status" = 0 ]; then
      echo "supervise: $1 (pid $child) exited cleanly; not restarting" >&2
      trap - INT TERM
      return 0
    fi
    now=$(date +%s)
    recent=()
    for t in "${deaths[@]}" "$now"; do
      [ $((now - t)) -lt "$window" ] && recent+=("$t")
    done
    deaths=("${recent[@]}")
    if [ "${#deaths[@]}" -ge "$max_deaths" ]; then
      echo "supervise: $1 (pid $child) $(supervise_describe "$status"); ${#deaths[@]} deaths within ${window} s, giving up" >&2
      trap - INT TERM
      return 1
    fi
    echo "supervise: $1 (pid $child) $(supervise_describe "$status"); restarting it in ${delay} s (death ${#deaths[@]} of $max_deaths allowed within ${window} s)" >&2
    sleep "$delay" &
    wait $! 2>/dev/null || true
    if [ "$_supervise_stop" = 1 ]; then
      trap - INT TERM
      return 130
    fi
  done
}
