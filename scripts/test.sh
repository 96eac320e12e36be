#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command): the Rust
# tests, then the Python bindings built into .venv and their pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pure rules must not reach the runtime (docs/architecture.md, "Layers").
bash scripts/check-layers.sh
# butler-py is a Python extension; its tests are the pytest suite below.
cargo test --workspace --exclude butler-py --lib --bins --tests --examples
cargo test --workspace --exclude butler-py --doc

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" pytest
VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" .venv/bin/maturin develop -q -m butler-py/Cargo.toml
.venv/bin/python -m pytest -q butler-py/tests
