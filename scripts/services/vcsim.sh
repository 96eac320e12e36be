#!/usr/bin/env bash
# VMware's vCenter simulator (govmomi's vcsim, from Debian's
# golang-github-vmware-govmomi-dev, built with Debian's golang-go) on
# loopback for the tests, its state in a scratch folder: `vcsim.sh start
# DIR` builds scripts/services/vcsim/main.go (cached by its hash), makes a
# CA and a certificate for 127.0.0.1, starts it and writes DIR/env (the
# BUTLER_TEST_VCSIM_* variables the tests read); `vcsim.sh stop DIR` stops
# it.
set -euo pipefail
cmd="${1:?start|stop}"
VC="${2:?state folder}"
PORT="${BUTLER_TEST_VCSIM_PORT:-8989}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=scripts/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "$cmd" in
start)
  command -v go >/dev/null || { echo "go is not installed (golang-go)" >&2; exit 3; }
  [ -d /usr/share/gocode/src/github.com/vmware/govmomi ] ||
    { echo "govmomi is not installed (golang-github-vmware-govmomi-dev)" >&2; exit 3; }
  rm -rf "$VC"
  mkdir -p "$VC/build"
  # Built once per version of main.go, outside the state folder.
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/butler-vcsim"
  bin="$cache/vcsim-$(sha256sum "$HERE/vcsim/main.go" | cut -c1-16)"
  if [ ! -x "$bin" ]; then
    mkdir -p "$cache"
    cp "$HERE/vcsim/main.go" "$VC/build/"
    (cd "$VC/build" && CGO_ENABLED=0 GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$cache/go-build" \
       go build -o "$bin.tmp" .) >"$VC/build.log" 2>&1 || { cat "$VC/build.log" >&2; exit 1; }
    mv "$bin.tmp" "$bin"
  fi
  # A CA of the test's own and a server certificate for 127.0.0.1 signed
  # by it: clients verify TLS against the CA, as against a vCenter's VMCA.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=butler test vcsim CA" \
    -keyout "$VC/ca.key" -out "$VC/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$VC/server.key" -out "$VC/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$VC/ext.cnf"
  openssl x509 -req -in "$VC/server.csr" -CA "$VC/ca.crt" -CAkey "$VC/ca.key" -CAcreateserial \
    -days 2 -extfile "$VC/ext.cnf" -out "$VC/server.crt" >/dev/null 2>&1
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  nohup "$bin" -listen "127.0.0.1:$PORT" -cert "$VC/server.crt" -key "$VC/server.key" \
    -user "butler@vsphere.local" -password "$password" >"$VC/stdout.log" 2>&1 &
  echo $! >"$VC/pid"
  for _ in $(seq 150); do
    if grep -q "vcsim serving" "$VC/stdout.log" 2>/dev/null; then
      cat >"$VC/env" <<ENV
export BUTLER_TEST_VCSIM_URL=https://127.0.0.1:$PORT/sdk
export BUTLER_TEST_VCSIM_USER=butler@vsphere.local
export BUTLER_TEST_VCSIM_PASSWORD=$password
export BUTLER_TEST_VCSIM_CA=$VC/ca.crt
ENV
      exit 0
    fi
    if ! kill -0 "$(cat "$VC/pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "vcsim did not start on port $PORT; see $VC/stdout.log" >&2
  cat "$VC/stdout.log" >&2 || true
  stop_pid "$(cat "$VC/pid")"
  exit 1
  ;;
stop)
  [ -f "$VC/pid" ] && stop_pid "$(cat "$VC/pid")"
  rm -rf "$VC"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
