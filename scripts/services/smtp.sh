#!/usr/bin/env bash
# A real SMTP server (aiosmtpd from PyPI, with STARTTLS) on loopback for
# the tests: `smtp.sh start DIR` starts it and writes DIR/env
# (BUTLER_TEST_SMTP_{HOST,PORT,CA,MAILDIR}); every message it receives is a
# file in the Maildir. `smtp.sh stop DIR` stops it and removes DIR.
set -euo pipefail
cmd="${1:?start|stop}"
S="${2:?state folder}"
PORT="${BUTLER_TEST_SMTP_PORT:-2525}"
# The venv is kept between runs (pip is the slow part).
VENV="${BUTLER_SERVICES_CACHE:-$HOME/.cache/butler-services}/aiosmtpd"

case "$cmd" in
start)
  command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 3; }
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "aiosmtpd>=1.4,<2"
  fi
  rm -rf "$S"
  mkdir -p "$S/maildir/new" "$S/maildir/cur" "$S/maildir/tmp"
  # A CA and a server certificate it signs (rustls refuses a self-signed
  # CA certificate used as the server's own).
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Butler test SMTP CA" \
    -keyout "$S/ca.key" -out "$S/ca.pem" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout "$S/key.pem" -out "$S/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$S/ext.cnf"
  openssl x509 -req -in "$S/server.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial \
    -days 2 -extfile "$S/ext.cnf" -out "$S/cert.pem" >/dev/null 2>&1
  "$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$PORT" --tlscert "$S/cert.pem" --tlskey "$S/key.pem" \
    --no-requiretls -c aiosmtpd.handlers.Mailbox "$S/maildir" >"$S/smtpd.log" 2>&1 &
  echo $! >"$S/pid"
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { cat "$S/smtpd.log" >&2; exit 1; }
  cat >"$S/env" <<ENV
export BUTLER_TEST_SMTP_HOST=127.0.0.1
export BUTLER_TEST_SMTP_PORT=$PORT
export BUTLER_TEST_SMTP_CA=$S/ca.pem
export BUTLER_TEST_SMTP_MAILDIR=$S/maildir
ENV
  ;;
stop)
  if [ -f "$S/pid" ]; then
    pid="$(cat "$S/pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$S"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
