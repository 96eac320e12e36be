#!/usr/bin/env bash
# Fails when a pure module of butler-core (the SPEC's rules: VM specs, cost,
# request transitions, authorization, catalog, migration facts, validation
# and tokens) imports the runtime, a store, a backend's I/O or the engine,
# or when the store port imports anything but domain types.
set -euo pipefail
cd "$(dirname "$0")/../butler-core/src"

pure=(vm_spec/*.rs cost/*.rs request/mod.rs request/action_kind.rs request/history.rs
      request/transition.rs catalog.rs auth/policy.rs auth/names.rs auth/users.rs
      migration/group.rs migration/facts.rs migration/validate.rs migration/token.rs
      migration/report.rs migration/plan.rs)
runtime='tokio|async fn|async_trait|crate::(store|engine|service|resilience|notify|users|catalog_sync|migration::(run|service|inventory))|dyn (ClusterBackend|Clock|Monitor|Billing)\b|backend::\{?[^;]*\b(ClusterBackend|Clock|Monitor|Billing)\b|rusqlite|reqwest|std::net'
status=0
for f in "${pure[@]}"; do
  if hits=$(grep -nE "^\s*(pub(\(crate\))? )?use .*($runtime)|($runtime)" "$f" | grep -vE '^\s*[0-9]+:\s*//' ); then
    echo "pure module $f reaches the runtime:"; echo "$hits" | sed 's/^/  /'; status=1
  fi
done
port='crate::(engine|service|resilience|notify|users)|migration::(run|service|inventory)|tokio::(spawn|time)|reqwest'
if hits=$(grep -nE "$port" store/mod.rs); then
  echo "the store port imports more than domain types:"; echo "$hits" | sed 's/^/  /'; status=1
fi
[ $status -eq 0 ] && echo "layers: ${#pure[@]} pure modules import no runtime; the store port imports domain types only"
exit $status
