#!/usr/bin/env bash
# Load run of butler-server with a real HTTP load generator (wrk).
#
#   bash scripts/load.sh [seconds]      (default 15 s per run)
#
# Starts the release server on loopback with a SQLite file store and the
# demo platform, logs in (cookie session + CSRF token, as a browser), and
# measures GET /api/requests/{id} and POST /api/requests (creates). Prints
# wrk's latency distribution and the server's resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build -q --release -p butler-server
DIR=$(mktemp -d /tmp/butler-load.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/butler.toml" <<TOML
listen = "127.0.0.1:$PORT"
[store]
sqlite = "$DIR/butler.sqlite"
[http]
cookie_secure = false
TOML
RUST_LOG=warn ./target/release/butler-server --config "$DIR/butler.toml" > "$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do grep -q listening "$DIR/server.log" && break; sleep 0.1; done
PW=$(awk '/log in as ana/ {print $NF}' "$DIR/server.log")
BASE="http://127.0.0.1:$PORT"
LOGIN=$(curl -s -D "$DIR/headers" -H 'content-type: application/json' \
  -d "{\"user\":\"ana\",\"password\":\"$PW\"}" "$BASE/api/login")
COOKIE=$(grep -i '^set-cookie:' "$DIR/headers" | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')
CSRF=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["csrf_token"])' "$LOGIN")
SPEC=$(python3 - <<'PY'
import json
print(json.dumps({"name":"load01","cores_per_socket":2,"sockets":1,"ram_gib":4,
 "division":"CORP","unit":"IT","environment":"PRD","disk_type":"SSD",
 "cluster":"c1-madrid","disks_gib":[50],"nics":["vlan-10"],"image":None,
 "backup_local":True,"backup_remote":False,"cdrom":False,"special_requirement":""}))
PY
)
ID=$(curl -s -H "cookie: $COOKIE" -H "x-csrf-token: $CSRF" -H 'content-type: application/json' \
  -d "$SPEC" "$BASE/api/requests" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("id") or d)')
case "$ID" in ''|*[!0-9]*) echo "could not create the first request: $ID" >&2; exit 1;; esac
cat > "$DIR/get.lua" <<LUA
wrk.headers["cookie"] = "$COOKIE"
LUA
python3 - "$DIR/post.lua" "$COOKIE" "$CSRF" "$SPEC" <<'PY'
import json, sys
path, cookie, csrf, spec = sys.argv[1:]
open(path, "w").write(
  'wrk.method = "POST"\n'
  f'wrk.body = {json.dumps(spec)}\n'
  'wrk.headers["content-type"] = "application/json"\n'
  f'wrk.headers["cookie"] = {json.dumps(cookie)}\n'
  f'wrk.headers["x-csrf-token"] = {json.dumps(csrf)}\n'
  'function response(status, headers, body)\n'
  '  if status ~= 201 then io.stderr:write("unexpected status " .. status .. "\\n") end\n'
  'end\n')
PY
echo "== GET /api/requests/$ID (cookie session), ${SECS}s, 2 threads, 32 connections"
wrk -t2 -c32 -d"${SECS}s" --latency -s "$DIR/get.lua" "$BASE/api/requests/$ID" | sed -n '1,20p'
echo "== POST /api/requests (create, cookie session + CSRF, SQLite file), ${SECS}s, 2 threads, 16 connections"
wrk -t2 -c16 -d"${SECS}s" --latency -s "$DIR/post.lua" "$BASE/api/requests" 2>"$DIR/wrk.err" | sed -n '1,20p'
if [ -s "$DIR/wrk.err" ]; then echo "non-201 answers:"; sort "$DIR/wrk.err" | uniq -c | head; fi
echo "== server resident memory: $(ps -o rss= -p $PID | awk '{printf "%.1f MiB", $1/1024}')"
TOTAL=$(curl -s -H "cookie: $COOKIE" "$BASE/api/requests?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "== requests stored: $TOTAL"
