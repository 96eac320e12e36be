#!/usr/bin/env bash
# A real Icinga2 (Debian's package) on loopback for the tests, its state in
# a scratch folder: `icinga2.sh start DIR` starts it and writes DIR/env (the
# BUTLER_TEST_ICINGA_* variables the tests read); `icinga2.sh stop DIR` stops
# it. Active checks and notifications stay off: nothing leaves loopback.
set -euo pipefail
cmd="${1:?start|stop}"
IC="${2:?state folder}"
PORT="${BUTLER_TEST_ICINGA_PORT:-5665}"

# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "$cmd" in
start)
  command -v icinga2 >/dev/null || { echo "icinga2 is not installed" >&2; exit 3; }
  rm -rf "$IC"
  mkdir -p "$IC"
  cp -a /etc/icinga2 "$IC/etc"
  mkdir -p "$IC"/{lib,log,cache,spool,run,zones.d}
  chown -R nagios:nagios "$IC" 2>/dev/null || true
  D=(-DConfigDir="$IC/etc" -DDataDir="$IC/lib" -DLogDir="$IC/log" -DCacheDir="$IC/cache"
     -DSpoolDir="$IC/spool" -DInitRunDir="$IC/run" -DZonesDir="$IC/zones.d"
     -DApiBindHost=127.0.0.1 -DApiBindPort="$PORT")
  icinga2 api setup --cn localhost "${D[@]}" >"$IC/log/setup.log" 2>&1
  icinga2 feature disable checker notification "${D[@]}" >>"$IC/log/setup.log" 2>&1
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  echo "object ApiUser \"butler\" { password = \"$password\"; permissions = [ \"objects/*\", \"status/query\" ] }" \
    >"$IC/etc/conf.d/api-users.conf"
  chown -R nagios:nagios "$IC" 2>/dev/null || true
  icinga2 daemon -C -x warning "${D[@]}" -c "$IC/etc/icinga2.conf" >>"$IC/log/setup.log" 2>&1
  nohup icinga2 daemon "${D[@]}" -c "$IC/etc/icinga2.conf" >"$IC/log/stdout.log" 2>&1 &
  echo $! >"$IC/pid"
  for _ in $(seq 150); do
    if curl -sf --cacert "$IC/lib/certs/ca.crt" --resolve "localhost:$PORT:127.0.0.1" \
         -u "butler:$password" "https://localhost:$PORT/v1/status/IcingaApplication" >/dev/null 2>&1; then
      cat >"$IC/env" <<ENV
export BUTLER_TEST_ICINGA_URL=https://localhost:$PORT
export BUTLER_TEST_ICINGA_USER=butler
export BUTLER_TEST_ICINGA_PASSWORD=$password
export BUTLER_TEST_ICINGA_CA=$IC/lib/certs/ca.crt
ENV
      exit 0
    fi
    sleep 0.1
  done
  echo "icinga2 did not answer on port $PORT; see $IC/log" >&2
  stop_pid "$(cat "$IC/pid")"
  exit 1
  ;;
stop)
  [ -f "$IC/pid" ] && stop_pid "$(cat "$IC/pid")"
  # The daemon forks workers (run as nagios) that outlive the umbrella pid:
  # stop every process started with this folder's config, then wait.
  pkill -TERM -f -- "-DConfigDir=$IC/etc" 2>/dev/null || true
  for _ in $(seq 50); do
    pgrep -f -- "-DConfigDir=$IC/etc" >/dev/null || break
    sleep 0.1
  done
  pkill -KILL -f -- "-DConfigDir=$IC/etc" 2>/dev/null || true
  rm -rf "$IC"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
