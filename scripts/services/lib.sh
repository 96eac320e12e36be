# Shared by the service scripts (sourced, not run).

# stop_pid PID: TERM, up to 10 s for it to go, then KILL.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do ps -o stat= -p "$1" | grep -qv Z || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
