#!/usr/bin/env bash
# Fails when a pure module of butler-core (the SPEC's rules: VM specs, cost,
# request transitions, authorization, catalog, migration facts, validation,
# plans, reports and tokens) names the runtime, a store, a backend's I/O or
# the engine, or when the store port names more than domain types. The rule
# and its proof (each kind of forbidden path planted in a scratch copy is
# caught) are the Rust test butler-core/tests/layers.rs, which reads the
# source as Rust: `super::`, grouped, renamed and aliased paths, full paths
# in code and macros all count.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -q -p butler-core --test layers
