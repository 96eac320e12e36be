#!/usr/bin/env bash
# Runs the test command several times while every core is kept busy, and
# fails if any run fails: a test that passes alone but fails under load
# depends on the machine's speed, which is a defect.
#
#   bash scripts/stress.sh [RUNS] [-- COMMAND...]
#
# RUNS defaults to 5; COMMAND to `bash scripts/test.sh`. The load is
# stress-ng when installed, else one busy shell loop per core. Each run's
# output is kept in a folder named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
[ "${1:-}" = "--" ] && shift
cmd=("$@")
[ ${#cmd[@]} -eq 0 ] && cmd=(bash scripts/test.sh)
logs=$(mktemp -d /tmp/butler-stress.XXXXXX)
cores=$(nproc)

load=()
stop_load() {
  for pid in "${load[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_load EXIT
if command -v stress-ng >/dev/null; then
  stress-ng --cpu "$cores" --quiet &
  load+=($!)
else
  for _ in $(seq "$cores"); do
    (while :; do :; done) &
    load+=($!)
  done
fi
echo "load: ${#load[@]} process(es) keeping $cores core(s) busy"

failed=0
for run in $(seq "$runs"); do
  start=$(date +%s)
  if "${cmd[@]}" >"$logs/run-$run.log" 2>&1; then
    echo "run $run: passed in $(( $(date +%s) - start )) s"
  else
    echo "run $run: FAILED in $(( $(date +%s) - start )) s (see $logs/run-$run.log)"
    grep -E "FAILED|panicked|^E |failed" "$logs/run-$run.log" | head -20 || true
    failed=$((failed + 1))
  fi
done
echo "$((runs - failed)) passed, $failed failed"
echo "logs: $logs"
[ "$failed" -eq 0 ]
