//! Prism Central v4 lists: VMs (`vmm`), clusters and storage containers
//! (`clustermgmt`), subnets (`networking`), categories (`prism`). Paged as
//! v4 pages (`$page` from 0, `$limit` 1–100, default 50, anything else a
//! validation error; `metadata.totalAvailableResults` on every page),
//! narrowed by OData `field eq 'literal'` filters joined by `and`, each
//! filter field checked against those the list knows. Nutanix's SDKs read
//! every answer in `butler-py/tests/test_nutanix_v4_sdk.py`.

use super::v4::{envelope, error, from_backend, known_categories, vm_json};
use super::*;
use axum::extract::{Path, Query};
use butler_core::backend::{ClusterInfo, ProjectInfo};
use std::collections::HashMap;

/// The ids v4 gives what a VM refers to.
pub(super) struct Ids {
    clusters: Vec<ClusterInfo>,
    projects: Vec<ProjectInfo>,
    subnets: Vec<ServedSubnet>,
    /// `(key, value, extId)`.
    categories: Vec<(String, String, String)>,
}

impl Ids {
    pub(super) async fn load(f: &Fake) -> Result<Ids, Response> {
        let clusters = f.sim.list_clusters().await.map_err(from_backend)?;
        let subnets = f.sim.list_subnets().await.map_err(from_backend)?;
        Ok(Ids {
            subnets: served_subnets(&f.quirks(), &subnets, &clusters),
            projects: f.sim.list_projects().await.map_err(from_backend)?,
            categories: known_categories(f).await,
            clusters,
        })
    }

    pub(super) fn cluster(&self, name: &str) -> String {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.uuid.clone())
            .unwrap_or_default()
    }

    pub(super) fn project(&self, name: &Option<String>) -> Option<String> {
        let name = name.as_ref()?;
        self.projects
            .iter()
            .find(|p| &p.name == name)
            .map(|p| p.uuid.clone())
    }

    /// The name of project `id`, if Prism has it.
    pub(super) fn project_name(&self, id: &str) -> Option<String> {
        self.projects
            .iter()
            .find(|p| p.uuid == id)
            .map(|p| p.name.clone())
    }

    /// The subnet `name` as a VM on `cluster` is attached to it.
    pub(super) fn subnet(&self, name: &str, cluster: &str) -> Option<String> {
        self.subnets
            .iter()
            .find(|s| s.name == name && s.cluster.as_ref().is_none_or(|c| c.name == cluster))
            .map(|s| s.uuid.clone())
    }

    /// The name of subnet `id`, if a VM on `cluster` may use it.
    pub(super) fn subnet_name(&self, id: &str, cluster: &str) -> Option<String> {
        self.subnets
            .iter()
            .find(|s| s.uuid == id && s.cluster.as_ref().is_none_or(|c| c.name == cluster))
            .map(|s| s.name.clone())
    }

    /// Category `key:value`'s id.
    pub(super) fn category(&self, pair: &str) -> Option<String> {
        let (k, v) = pair.split_once(':')?;
        self.categories
            .iter()
            .find(|(ck, cv, _)| ck == k && cv == v)
            .map(|(_, _, id)| id.clone())
    }
}

/// A v4 list query: the page asked and the filter's terms.
struct ListQuery {
    page: usize,
    limit: usize,
    terms: Vec<(String, String)>,
}

impl ListQuery {
    /// `$page`, `$limit` and `$filter` as Prism checks them; `fields` are
    /// those this list may be filtered on.
    fn read(
        q: &HashMap<String, String>,
        fields: &[&str],
        code: &str,
    ) -> Result<Self, Box<Response>> {
        let invalid = |message: String| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                code,
                "VALIDATION_ERROR",
                &message,
            ))
        };
        let limit = match q.get("$limit").map(|l| l.parse::<usize>()) {
            None => 50,
            Some(Ok(l)) if (1..=100).contains(&l) => l,
            Some(_) => return Err(invalid("$limit must be an integer from 1 to 100".into())),
        };
        let page = match q.get("$page").map(|p| p.parse::<usize>()) {
            None => 0,
            Some(Ok(p)) => p,
            Some(Err(_)) => return Err(invalid("$page must be a non-negative integer".into())),
        };
        let terms = match q.get("$filter") {
            None => Vec::new(),
            Some(f) => odata_equalities(f)
                .ok_or_else(|| invalid(format!("$filter {f:?} is not field eq '…' [and …]")))?,
        };
        if let Some((field, _)) = terms.iter().find(|(k, _)| !fields.contains(&k.as_str())) {
            return Err(invalid(format!(
                "$filter: this list cannot be filtered on {field:?}"
            )));
        }
        Ok(ListQuery { page, limit, terms })
    }

    fn wants(&self, field: &str, value: &str) -> bool {
        self.terms.iter().all(|(k, v)| k != field || v == value)
    }

    /// The page asked of `all` (already filtered) in v4's list envelope,
    /// with the total; `claimed` stands in for the total when a quirk
    /// makes Prism claim another.
    fn answer(&self, object_type: &str, all: Vec<Value>, claimed: Option<u64>) -> Response {
        let total = claimed.unwrap_or(all.len() as u64);
        let data: Vec<Value> = all
            .into_iter()
            .skip(self.page.saturating_mul(self.limit))
            .take(self.limit)
            .collect();
        let mut body = envelope(object_type, json!(data));
        body["metadata"]["totalAvailableResults"] = json!(total);
        axum::Json(body).into_response()
    }
}

/// A list of `all` as v4 pages it, narrowed by a `$filter` on `fields`
/// (top-level fields of each entity, compared as text).
pub(super) fn answer_list(
    q: &HashMap<String, String>,
    fields: &[&str],
    object_type: &str,
    mut all: Vec<Value>,
) -> Response {
    let query = match ListQuery::read(q, fields, "DATAPROTECTION-30100") {
        Ok(query) => query,
        Err(r) => return *r,
    };
    all.retain(|e| {
        query
            .terms
            .iter()
            .all(|(k, v)| e[k.as_str()].as_str() == Some(v.as_str()))
    });
    query.answer(object_type, all, None)
}

/// `field eq 'literal'` terms joined by ` and `, each literal unquoted
/// (`''` is a quote).
fn odata_equalities(filter: &str) -> Option<Vec<(String, String)>> {
    fn literal(s: &str) -> Option<(String, &str)> {
        let mut out = String::new();
        let mut chars = s.strip_prefix('\'')?.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|(_, n)| *n) == Some('\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    return Some((out, &s[i + 2..]));
                }
            } else {
                out.push(c);
            }
        }
        None
    }
    let mut terms = Vec::new();
    let mut rest = filter;
    loop {
        let (field, after) = rest.split_once(" eq ")?;
        let field_ok =
            !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '/');
        if !field_ok {
            return None;
        }
        let (value, after) = literal(after)?;
        terms.push((field.to_string(), value));
        if after.is_empty() {
            return Some(terms);
        }
        rest = after.strip_prefix(" and ")?;
    }
}

/// `GET /api/vmm/{v}/ahv/config/vms` (`vmm.v4.ahv.config.Vm`), filtered on
/// `name` or `cluster/extId`. Serving the first page may grow the fleet
/// ([`FakePrism::create_during_next_v4_list`]).
pub(super) async fn vms(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = match ListQuery::read(&q, &["name", "cluster/extId"], "VMM-30100") {
        Ok(query) => query,
        Err(r) => return *r,
    };
    let ids = match Ids::load(&f).await {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let mut all = Vec::new();
    for c in &ids.clusters {
        if !query.wants("cluster/extId", &c.uuid) {
            continue;
        }
        for v in f.sim.list_vms(&c.name).await.unwrap_or_default() {
            if query.wants("name", &v.name) {
                all.push(vm_json(&v, &ids));
            }
        }
    }
    let answer = query.answer(
        "vmm.v4.ahv.config.ListVmsApiResponse",
        all,
        f.quirks().claim_total,
    );
    if query.page == 0 {
        let growth =
            std::mem::take(&mut *f.v4_list_growth.lock().unwrap_or_else(|e| e.into_inner()));
        for vm in growth {
            if let Err(e) = f.sim.create_vm(&vm).await {
                return from_backend(e);
            }
        }
    }
    answer
}

/// `GET /api/clustermgmt/{v}/config/clusters`
/// (`clustermgmt.v4.config.Cluster`): Prism Central itself first, told
/// apart by its `clusterFunction`.
pub(super) async fn clusters(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = match ListQuery::read(&q, &["name"], "CLU-30100") {
        Ok(query) => query,
        Err(r) => return *r,
    };
    let clusters = match f.sim.list_clusters().await {
        Ok(c) => c,
        Err(e) => return from_backend(e),
    };
    let cluster = |name: &str, uuid: &str, function: &str| {
        json!({"$objectType": "clustermgmt.v4.config.Cluster", "extId": uuid, "name": name,
               "config": {"$objectType": "clustermgmt.v4.config.ClusterConfigReference",
                          "clusterFunction": [function], "hypervisorTypes": ["AHV"]}})
    };
    let mut all = vec![cluster(
        "prism-central",
        "00000000-0000-0000-0000-00000000fc01",
        "PRISM_CENTRAL",
    )];
    all.extend(clusters.iter().map(|c| cluster(&c.name, &c.uuid, "AOS")));
    all.retain(|c| query.wants("name", c["name"].as_str().unwrap_or_default()));
    query.answer("clustermgmt.v4.config.ListClustersApiResponse", all, None)
}

/// `GET /api/clustermgmt/{v}/config/storage-containers`
/// (`clustermgmt.v4.config.StorageContainer`), every cluster's.
pub(super) async fn storage_containers(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = match ListQuery::read(&q, &["name", "clusterExtId"], "CLU-30100") {
        Ok(query) => query,
        Err(r) => return *r,
    };
    let (containers, clusters) = match (
        f.sim.list_storage_containers().await,
        f.sim.list_clusters().await,
    ) {
        (Ok(a), Ok(c)) => (a, c),
        (Err(e), _) | (_, Err(e)) => return from_backend(e),
    };
    let all: Vec<Value> = containers
        .iter()
        .map(|c| {
            let cluster = clusters
                .iter()
                .find(|k| k.name == c.cluster)
                .map(|k| k.uuid.clone())
                .unwrap_or_default();
            json!({"$objectType": "clustermgmt.v4.config.StorageContainer",
                   "extId": c.uuid, "containerExtId": c.uuid, "name": c.name,
                   "clusterExtId": cluster, "clusterName": c.cluster,
                   "replicationFactor": 2, "isMarkedForRemoval": false})
        })
        .filter(|c| {
            query.wants("name", c["name"].as_str().unwrap_or_default())
                && query.wants(
                    "clusterExtId",
                    c["clusterExtId"].as_str().unwrap_or_default(),
                )
        })
        .collect();
    query.answer(
        "clustermgmt.v4.config.ListStorageContainersApiResponse",
        all,
        None,
    )
}

/// `GET /api/networking/{v}/config/subnets` (`networking.v4.config.Subnet`):
/// VLAN subnets with their VLAN (`networkId`) and cluster, OVERLAY ones
/// with their VPC.
pub(super) async fn subnets(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = match ListQuery::read(&q, &["name", "subnetType"], "NET-30100") {
        Ok(query) => query,
        Err(r) => return *r,
    };
    let ids = match Ids::load(&f).await {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let all: Vec<Value> = ids
        .subnets
        .iter()
        .map(|s| {
            let mut v = json!({"$objectType": "networking.v4.config.Subnet", "extId": s.uuid,
                               "name": s.name, "subnetType": "VLAN", "networkId": s.vlan_id});
            if let Some(c) = &s.cluster {
                v["clusterReference"] = json!(c.uuid);
                v["clusterName"] = json!(c.name);
            }
            if let Some(vpc) = s.vpc {
                v["subnetType"] = json!("OVERLAY");
                v["vpcReference"] = json!(vpc);
                if let Some(o) = v.as_object_mut() {
                    o.remove("networkId");
                }
            }
            v
        })
        .filter(|s| {
            query.wants("name", s["name"].as_str().unwrap_or_default())
                && query.wants("subnetType", s["subnetType"].as_str().unwrap_or_default())
        })
        .collect();
    query.answer("networking.v4.config.ListSubnetsApiResponse", all, None)
}

/// `GET /api/prism/{v}/config/categories` (`prism.v4.config.Category`),
/// filtered on `key` and `value`.
pub(super) async fn categories(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = match ListQuery::read(&q, &["key", "value"], "PRISM-30100") {
        Ok(query) => query,
        Err(r) => return *r,
    };
    let all: Vec<Value> = known_categories(&f)
        .await
        .into_iter()
        .filter(|(k, v, _)| query.wants("key", k) && query.wants("value", v))
        .map(|(k, v, id)| json!({"$objectType": "prism.v4.config.Category", "extId": id, "key": k, "value": v, "type": "USER"}))
        .collect();
    query.answer("prism.v4.config.ListCategoriesApiResponse", all, None)
}

/// `GET /api/datapolicies/{v}/config/protection-policies`: the policies a
/// test registered (`FakePrism::add_protection_policy`), each applying to
/// its category by id (`datapolicies.v4.config.ProtectionPolicy`).
pub(super) async fn protection_policies(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = match ListQuery::read(&q, &[], "DATAPOLICIES-30100") {
        Ok(query) => query,
        Err(r) => return *r,
    };
    let known = known_categories(&f).await;
    let clusters = match f.sim.list_clusters().await {
        Ok(c) => c,
        Err(e) => return from_backend(e),
    };
    let policies = f.policies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let all: Vec<Value> = policies
        .iter()
        .map(|(name, category)| {
            let ids: Vec<&str> = known
                .iter()
                .filter(|(k, v, _)| format!("{k}:{v}") == *category)
                .map(|(_, _, id)| id.as_str())
                .collect();
            // Every cluster replicates to every other, hourly (a
            // typical two-site policy).
            let locations: Vec<Value> = clusters
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({"$objectType": "datapolicies.v4.config.ReplicationLocation",
                           "label": c.name, "isPrimary": i == 0,
                           "replicationSubLocation": {"$objectType": "datapolicies.v4.config.NutanixCluster",
                                                      "clusterExtIds": [c.uuid]}})
                })
                .collect();
            let mut replications = Vec::new();
            for a in &clusters {
                for b in clusters.iter().filter(|b| b.uuid != a.uuid) {
                    replications.push(json!({
                        "$objectType": "datapolicies.v4.config.ReplicationConfiguration",
                        "sourceLocationLabel": a.name, "remoteLocationLabel": b.name,
                        "schedule": {"$objectType": "datapolicies.v4.config.Schedule",
                                     "recoveryPointType": "CRASH_CONSISTENT",
                                     "recoveryPointObjectiveTimeSeconds": 3600,
                                     "retention": {"$objectType": "datapolicies.v4.config.LinearRetention",
                                                   "local": 24, "remote": 24}}}));
                }
            }
            json!({"$objectType": "datapolicies.v4.config.ProtectionPolicy",
                   "extId": crate::v4::request_id(&["policy", name]),
                   "name": name, "categoryIds": ids,
                   "replicationLocations": locations,
                   "replicationConfigurations": replications})
        })
        .collect();
    query.answer(
        "datapolicies.v4.config.ListProtectionPoliciesApiResponse",
        all,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::odata_equalities;

    #[test]
    fn odata_equalities_read_quoted_literals_joined_by_and() {
        assert_eq!(
            odata_equalities("key eq 'Cost''s' and value eq 'a and b'"),
            Some(vec![
                ("key".into(), "Cost's".into()),
                ("value".into(), "a and b".into())
            ])
        );
        assert_eq!(
            odata_equalities("cluster/extId eq 'c-1'"),
            Some(vec![("cluster/extId".into(), "c-1".into())])
        );
        assert_eq!(odata_equalities("name eq 'x' or name eq 'y'"), None);
        assert_eq!(odata_equalities("name eq x"), None);
        assert_eq!(odata_equalities("name eq 'x"), None);
        assert_eq!(odata_equalities("na me eq 'x'"), None);
    }
}
