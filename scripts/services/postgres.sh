#!/usr/bin/env bash
# A real PostgreSQL (Debian's postgresql-15 binaries) on loopback for the
# tests, its cluster in a scratch folder: `postgres.sh start DIR` starts it
# and writes DIR/env (BUTLER_TEST_POSTGRES_URL: a role that may create the
# per-test databases); `postgres.sh stop DIR` stops it and removes DIR.
set -euo pipefail
cmd="${1:?start|stop}"
PGT="${2:?state folder}"
PORT="${BUTLER_TEST_POSTGRES_PORT:-54329}"
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"

case "$cmd" in
start)
  [ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found" >&2; exit 3; }
  rm -rf "$PGT"
  mkdir -p "$PGT"
  super="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  app="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  echo "$super" >"$PGT/pw"
  chown -R postgres:postgres "$PGT"
  chmod 700 "$PGT"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGT/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$PGT/pw" -E UTF8 --locale=C.UTF-8 >"$PGT/initdb.log" 2>&1
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGT/data" -l "$PGT/pg.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGT -c fsync=off -c max_connections=200" start >/dev/null
  PGPASSWORD="$super" psql -q -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 \
    -c "create role butler login createdb password '$app'" >/dev/null
  cat >"$PGT/env" <<ENV
export BUTLER_TEST_POSTGRES_URL=postgres://butler:$app@127.0.0.1:$PORT/postgres
ENV
  ;;
stop)
  if [ -d "$PGT/data" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGT/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PGT"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
