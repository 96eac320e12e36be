#!/usr/bin/env bash
# Builds the Python package the two ways users get it and installs each into
# a fresh virtual environment: the abi3 wheel (one build for every CPython
# >= 3.9) and the source distribution (pip compiles it: Rust needed). Each
# install then runs a request and a validation.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
MATURIN=.venv/bin/maturin

"$MATURIN" build -q --release -m butler-py/Cargo.toml -o "$OUT/wheel"
"$MATURIN" sdist -m butler-py/Cargo.toml -o "$OUT/sdist" >/dev/null
wheel=$(ls "$OUT"/wheel/*.whl)
case "$wheel" in
  *-cp39-abi3-*) echo "wheel: $(basename "$wheel") (abi3: every CPython >= 3.9)" ;;
  *) echo "expected an abi3 wheel, got $(basename "$wheel")" >&2; exit 1 ;;
esac
sdist=$(ls "$OUT"/sdist/*.tar.gz)
echo "sdist: $(basename "$sdist")"

for kind in wheel sdist; do
  python3 -m venv "$OUT/venv-$kind"
  pkg=$wheel
  [ "$kind" = sdist ] && pkg=$sdist
  # The sdist compiles in pip's build directory; registry crates come from
  # this checkout's release build instead of being compiled twice.
  CARGO_TARGET_DIR="$PWD/target" "$OUT/venv-$kind/bin/pip" install -q \
    --disable-pip-version-check "$pkg"
  (cd "$OUT" && "$OUT/venv-$kind/bin/python" - "$kind" <<'PY'
import sys
import butler

b = butler.Butler.demo()
ana = b.trusted_session("ana", ["requester"])
r = ana.create_request(butler.VmSpec.demo("dist01"))
assert r.state == "created" and r.estimate.total > 0
ops = b.trusted_session("olga", ["operator"])
g = ops.create_group_with_vms("dist", "c1-madrid", "c2-santiago", b.simulator.generate_fleet(20, 2))
ops.refresh(g.id)
report = ops.validate(g.id)
assert report.can_migrate, report.counts()
print(f"{sys.argv[1]} install: butler from {butler.__file__} works")
PY
  )
done
