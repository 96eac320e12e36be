#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command): the Rust
# tests, then the Python bindings built into .venv and their pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pure rules must not reach the runtime (docs/architecture.md, "Layers"):
# butler-core's `layers` test, run with the workspace's tests below.

# Real services on loopback, started here and stopped on exit. Outside CI a
# missing one skips its tests loudly; under CI (CI=true) it fails the run.
services="$(mktemp -d /tmp/butler-services.XXXXXX)"
chmod 755 "$services"  # the daemon runs as nagios and must reach its folder
stop_services() {
  bash scripts/services/icinga2.sh stop "$services/icinga2" >/dev/null 2>&1 || true
  bash scripts/services/postgres.sh stop "$services/postgres" >/dev/null 2>&1 || true
  bash scripts/services/smtp.sh stop "$services/smtp" >/dev/null 2>&1 || true
  bash scripts/services/ldap.sh stop "$services/ldap" >/dev/null 2>&1 || true
  bash scripts/services/vcsim.sh stop "$services/vcsim" >/dev/null 2>&1 || true
  rm -rf "$services"
}
trap stop_services EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start NAME SCRIPT PORT_VARIABLE: starts one service and loads its env.
start() {
  if env "$3=$(free_port)" bash "scripts/services/$2.sh" start "$services/$2"; then
    # shellcheck disable=SC1090
    source "$services/$2/env"
  elif [ "${CI:-}" = "true" ]; then
    echo "CI: $1 is required (.ci/run installs it)" >&2
    exit 1
  else
    echo "*** $1 unavailable: its tests will be SKIPPED ***" >&2
  fi
}
start Icinga2 icinga2 BUTLER_TEST_ICINGA_PORT
start PostgreSQL postgres BUTLER_TEST_POSTGRES_PORT
start SMTP smtp BUTLER_TEST_SMTP_PORT
start "vcsim (VMware's vCenter simulator)" vcsim BUTLER_TEST_VCSIM_PORT
# slapd takes two ports: ldap:// (StartTLS) and ldaps:// on the next one.
ldap_port() { python3 -c 'import socket
for p in range(20000, 60000, 7):
    a, b = socket.socket(), socket.socket()
    try:
        a.bind(("127.0.0.1", p)); b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError: pass
    finally: a.close(); b.close()'; }
if env BUTLER_TEST_LDAP_PORT="$(ldap_port)" bash scripts/services/ldap.sh start "$services/ldap"; then
  # shellcheck disable=SC1091
  source "$services/ldap/env"
elif [ "${CI:-}" = "true" ]; then
  echo "CI: OpenLDAP is required (.ci/run installs it)" >&2
  exit 1
else
  echo "*** OpenLDAP unavailable: its tests will be SKIPPED ***" >&2
fi

# axe-core for the console tests' accessibility checks (npm registry).
if ! bash scripts/axe.sh; then
  if [ "${CI:-}" = "true" ]; then
    echo "CI: axe-core is required (.ci/run installs npm)" >&2
    exit 1
  fi
  echo "*** axe-core unavailable: accessibility checks will be SKIPPED ***" >&2
fi

# The core without its optional features, and a store crate alone (it
# takes the core without them): the workspace's unified features below
# would hide an item used outside its feature gate.
cargo check -q -p butler-core --no-default-features
cargo check -q -p butler-postgres

# butler-py is a Python extension; its tests are the pytest suite below.
# All features: the Nutanix adapter, its fake Prism and the deployment wiring.
cargo test --workspace --exclude butler-py --all-features --lib --bins --tests --examples
cargo test --workspace --exclude butler-py --all-features --doc
# The vSphere quickstart against the vcsim started above.
if [ -n "${BUTLER_TEST_VCSIM_URL:-}" ]; then
  cargo run -q --all-features --example quickstart_vsphere >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" pytest "mypy>=1.13,<2" \
    "pyarrow>=14" "pandas>=2" "openpyxl>=3.1" "schemathesis>=4.32,<5" \
    "ntnx-vmm-py-client==4.1.1" "ntnx-prism-py-client==4.0.1" \
    "ntnx-clustermgmt-py-client==4.0.2" "ntnx-networking-py-client==4.0.1"
# Recovery plans came with datapolicies and dataprotection 4.2, whose pin of
# certifi (>= 2024.7.4) excludes the older SDKs' (<= 2023.11.17): installed
# without their dependencies, which the SDKs above already bring (the
# tests speak plain HTTP to the fake; certifi's bundle is not used).
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
    "ntnx-dataprotection-py-client==4.2.1" "ntnx-datapolicies-py-client==4.2.1"
VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" .venv/bin/maturin develop -q -m butler-py/Cargo.toml
# The hand-written stubs must match the built module (names, signatures,
# defaults), or this fails.
.venv/bin/python -m mypy.stubtest butler._butler butler.aio
# The Python scripts' tests talk HTTP to a fake Prism in its own process.
cargo build -q --example fake_prism --features fake-prism
export BUTLER_FAKE_PRISM_BIN="$PWD/target/debug/examples/fake_prism"
.venv/bin/python -m pytest -q butler-py/tests
# The OpenAPI document judged by schemathesis against the demo server.
bash scripts/schemathesis.sh
# What users install: the abi3 wheel and the source distribution, each in a
# fresh virtual environment.
bash scripts/py-dist-check.sh
