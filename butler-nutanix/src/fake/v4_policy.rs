//! Prism Central's `dataprotection` v4 view of a VM: `GET
//! /api/dataprotection/{v}/config/protected-resources/{extId}` answers a
//! `dataprotection.v4.config.ProtectedResource` when the VM carries the
//! category of a protection policy (after
//! [`Quirks::policy_applies_after_reads`](super::Quirks::policy_applies_after_reads)
//! reads), and 404 otherwise.

use super::v4::{envelope, error, vm_by_ext_id};
use super::*;
use axum::extract::Path;

pub(super) async fn protected_resource(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id)): Path<(String, String)>,
) -> Response {
    let not_protected = || {
        error(
            StatusCode::NOT_FOUND,
            "DATAPROTECTION-20005",
            "DATAPROTECTION_ERROR",
            &format!("protected resource {ext_id} not found"),
        )
    };
    let vm = match vm_by_ext_id(&f, &ext_id).await {
        Ok(vm) => vm,
        Err(_) => return not_protected(),
    };
    let policies = f.policies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let covered: Vec<&String> = policies
        .iter()
        .map(|(_, c)| c)
        .filter(|c| vm.categories.contains(c))
        .collect();
    if covered.is_empty() {
        return not_protected();
    }
    let reads = {
        let mut r = f.protected_reads.lock().unwrap_or_else(|e| e.into_inner());
        let n = r.entry(ext_id.clone()).or_insert(0);
        *n += 1;
        *n
    };
    if reads <= f.quirks().policy_applies_after_reads {
        return not_protected();
    }
    // Prism names categories `key/value` here.
    let names: Vec<String> = covered.iter().map(|c| c.replacen(':', "/", 1)).collect();
    let data = json!({"$objectType": "dataprotection.v4.config.ProtectedResource",
                      "extId": ext_id, "entityExtId": ext_id, "entityType": "VM",
                      "categoryFqNames": names});
    axum::Json(envelope(
        "dataprotection.v4.config.GetProtectedResourceApiResponse",
        data,
    ))
    .into_response()
}
