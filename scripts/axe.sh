#!/usr/bin/env bash
# axe-core (npm registry) for the console tests' accessibility checks:
# installed once into target/axe, where butler-server/tests/browser finds it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.14.1
js=target/axe/node_modules/axe-core/axe.min.js
if [ -f "$js" ] && grep -q "axe v$version" "$js"; then
  exit 0
fi
npm install --prefix target/axe --no-audit --no-fund --silent "axe-core@$version"
test -f "$js"
