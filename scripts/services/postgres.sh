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
  # TLS: a CA of the test's own and a server certificate for `localhost`
  # only, so a test can tell host-name checks (verify-full to 127.0.0.1
  # fails, verify-ca passes) from chain checks.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Butler test CA" \
    -keyout "$PGT/ca.key" -out "$PGT/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$PGT/server.key" -out "$PGT/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost\n' >"$PGT/san.ext"
  openssl x509 -req -in "$PGT/server.csr" -CA "$PGT/ca.crt" -CAkey "$PGT/ca.key" \
    -CAcreateserial -days 2 -extfile "$PGT/san.ext" -out "$PGT/server.crt" >/dev/null 2>&1
  chmod 600 "$PGT/server.key"
  chown -R postgres:postgres "$PGT"
  chmod 700 "$PGT"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGT/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$PGT/pw" -E UTF8 --locale=C.UTF-8 >"$PGT/initdb.log" 2>&1
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGT/data" -l "$PGT/pg.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGT -c fsync=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$PGT/server.crt -c ssl_key_file=$PGT/server.key" start >/dev/null
  PGPASSWORD="$super" psql -q -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 \
    -c "create role butler login createdb password '$app'" >/dev/null
  cat >"$PGT/env" <<ENV
export BUTLER_TEST_POSTGRES_URL=postgres://butler:$app@127.0.0.1:$PORT/postgres
export BUTLER_TEST_POSTGRES_CA=$PGT/ca.crt
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
