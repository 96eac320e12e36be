//! A fake Prism (Central v3 + Element v2) over HTTP on 127.0.0.1, serving a
//! `butler-sim` platform with the real JSON shapes and quirks: Prism Central
//! listed among the clusters, default page 20 and maximum 500, `task_uuid`
//! as a string on POST and a list on GET, lowercase-insensitive power
//! states, non-JSON 401 bodies, session cookies that can expire, bursts of
//! 429 and `RATE_LIMIT_EXCEEDED`, added latency, and lost replies (the
//! simulator's `lose_reply` faults surface as 504 after the work is done).

use crate::config::{Endpoint, NutanixConfig};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use butler_core::backend::{
    BackendError, ClusterBackend, ErrorKind, PowerState, ProtectRequest, Schedule, ScheduleKind,
    TaskState, VmCreate, VmInfo, VmState,
};
use butler_sim::SimPlatform;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// User name the fake accepts.
pub const USER: &str = "admin";
/// Password the fake accepts.
pub const PASSWORD: &str = "fake-prism-secret";

struct Fake {
    sim: SimPlatform,
    sessions: Mutex<HashSet<String>>,
    declared: Mutex<BTreeSet<(String, String)>>,
    synthetic_tasks: Mutex<HashSet<String>>,
    rate_limit: AtomicU32,
    latency: Mutex<Duration>,
    requests: AtomicU64,
    counter: AtomicU64,
}

/// A running fake Prism; dropping it does not stop the server (it ends with the runtime).
#[derive(Clone)]
pub struct FakePrism {
    state: Arc<Fake>,
    addr: SocketAddr,
}

impl std::fmt::Debug for FakePrism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePrism")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakePrism {
    /// Serves `sim` on an ephemeral port of 127.0.0.1.
    pub async fn start(sim: SimPlatform) -> std::io::Result<FakePrism> {
        let state = Arc::new(Fake {
            sim,
            sessions: Mutex::new(HashSet::new()),
            declared: Mutex::new(BTreeSet::new()),
            synthetic_tasks: Mutex::new(HashSet::new()),
            rate_limit: AtomicU32::new(0),
            latency: Mutex::new(Duration::ZERO),
            requests: AtomicU64::new(0),
            counter: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("fake Prism stopped: {e}");
            }
        });
        Ok(FakePrism { state, addr })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An adapter configuration for this fake (PC plus a PE per simulated cluster).
    pub async fn config(&self) -> NutanixConfig {
        let ep = |url: String| Endpoint {
            url,
            username: USER.into(),
            password: SecretString::from(PASSWORD.to_string()),
        };
        let clusters = self.state.sim.list_clusters().await.unwrap_or_default();
        NutanixConfig {
            prism_central: ep(format!("http://{}", self.addr)),
            clusters: clusters
                .into_iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        ep(format!("http://{}/pe/{}", self.addr, c.name)),
                    )
                })
                .collect(),
            page_size: 100,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            max_retries: 5,
            retry_base: Duration::from_millis(2),
            insecure: false,
            ca_bundle: None,
        }
    }

    /// Makes every Prism Central session invalid (the next call gets a 401).
    pub fn expire_sessions(&self) {
        self.state
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The next `n` requests are refused with 429 or a `RATE_LIMIT_EXCEEDED` body.
    pub fn rate_limit_next(&self, n: u32) {
        self.state.rate_limit.store(n, Ordering::SeqCst);
    }

    /// Adds `d` of real latency to every request.
    pub fn set_latency(&self, d: Duration) {
        *self.state.latency.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }
}

fn error(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"api_version": "3.1", "code": status.as_u16(), "kind": "error", "state": "ERROR",
                      "message_list": [{"reason": reason, "message": message}]});
    (status, axum::Json(body)).into_response()
}

fn from_backend(e: BackendError) -> Response {
    match e.kind {
        ErrorKind::NotFound => error(StatusCode::NOT_FOUND, "ENTITY_NOT_FOUND", &e.message),
        ErrorKind::Invalid => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            &e.message,
        ),
        ErrorKind::Conflict => error(StatusCode::CONFLICT, "CONFLICT", &e.message),
        ErrorKind::Transient => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            &e.message,
        ),
        ErrorKind::RateLimited => error(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_EXCEEDED",
            &e.message,
        ),
        // A lost reply: the work may be done, the client never hears back.
        ErrorKind::Timeout => error(StatusCode::GATEWAY_TIMEOUT, "GATEWAY_TIMEOUT", &e.message),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            &e.message,
        ),
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("content-type", "text/html")],
        "<html><body>401 Authorization Required</body></html>",
    )
        .into_response()
}

fn basic_ok(h: &HeaderMap) -> bool {
    // base64("admin:fake-prism-secret")
    let expected = format!("Basic {}", b64(format!("{USER}:{PASSWORD}").as_bytes()));
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn session_ok(f: &Fake, h: &HeaderMap) -> bool {
    let sessions = f.sessions.lock().unwrap_or_else(|e| e.into_inner());
    h.get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|c| c.split(';'))
        .any(|c| {
            c.trim()
                .strip_prefix("NTNX_IGW_SESSION=")
                .is_some_and(|t| sessions.contains(t))
        })
}

async fn handle(
    State(f): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    let latency = *f.latency.lock().unwrap_or_else(|e| e.into_inner());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let burst = f.rate_limit.load(Ordering::SeqCst);
    if burst > 0 {
        f.rate_limit.store(burst - 1, Ordering::SeqCst);
        return if burst % 2 == 0 {
            (StatusCode::TOO_MANY_REQUESTS, "").into_response()
        } else {
            error(
                StatusCode::BAD_REQUEST,
                "RATE_LIMIT_EXCEEDED",
                "too many requests, slow down",
            )
        };
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    &format!("body is not JSON: {e}"),
                )
            }
        }
    };
    let path = uri.path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", "nutanix", "v3", rest @ ..] => pc(&f, &method, rest, &headers, &body).await,
        ["pe", cluster, "PrismGateway", "services", "rest", "v2.0", rest @ ..] => {
            if !basic_ok(&headers) {
                return unauthorized();
            }
            pe(&f, &method, cluster, rest, &body).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("the requested URL {path} was not found"),
        ),
    }
}

async fn all_vms(sim: &SimPlatform) -> Result<Vec<VmInfo>, BackendError> {
    let mut out = Vec::new();
    for c in sim.list_clusters().await? {
        out.extend(sim.list_vms(&c.name).await?);
    }
    Ok(out)
}

fn vm_json(v: &VmInfo, cluster_uuid: &str, project_uuid: &str, task: Option<&str>) -> Value {
    let categories: serde_json::Map<String, Value> = v
        .categories
        .iter()
        .filter_map(|c| c.split_once(':'))
        .map(|(k, x)| (k.to_string(), json!(x)))
        .collect();
    let disks: Vec<Value> = v.disks_gib.iter().map(|d| json!({"device_properties": {"device_type": "DISK"}, "disk_size_mib": u64::from(*d) * 1024})).collect();
    let nics: Vec<Value> = v
        .nics
        .iter()
        .map(|n| json!({"subnet_reference": {"kind": "subnet", "name": n}, "is_connected": true}))
        .collect();
    let resources = json!({"power_state": if v.power == PowerState::On { "ON" } else { "OFF" }, "num_sockets": v.vcpus,
        "num_vcpus_per_socket": 1, "memory_size_mib": u64::from(v.ram_gib) * 1024, "disk_list": disks, "nic_list": nics});
    let state = match v.state {
        VmState::Pending => "PENDING",
        VmState::Ready => "COMPLETE",
        VmState::Error => "ERROR",
    };
    let mut status = json!({"name": v.name, "state": state, "cluster_reference": {"kind": "cluster", "name": v.cluster, "uuid": cluster_uuid}, "resources": resources});
    if let Some(t) = task {
        status["execution_context"] = json!({"task_uuid": [t]});
    }
    let mut metadata =
        json!({"kind": "vm", "uuid": v.uuid, "categories": categories, "spec_version": 0});
    if let Some(p) = &v.project {
        metadata["project_reference"] = json!({"kind": "project", "name": p, "uuid": project_uuid});
    }
    json!({"metadata": metadata, "spec": {"name": v.name, "resources": status["resources"].clone()}, "status": status})
}

fn page(entities: Vec<Value>, body: &Value, kind: &str, with_offsets: bool) -> Response {
    page_of(entities, body, kind, with_offsets, |v| v)
}

/// Pages `all` and renders only the page's items.
fn page_of<T>(
    all: Vec<T>,
    body: &Value,
    kind: &str,
    with_offsets: bool,
    render: impl Fn(T) -> Value,
) -> Response {
    let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    // Real Prism: 20 when `length` is missing, never more than 500.
    let length = body
        .get("length")
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .min(500) as usize;
    let total = all.len();
    let items: Vec<Value> = all
        .into_iter()
        .skip(offset)
        .take(length)
        .map(render)
        .collect();
    let mut metadata = json!({"kind": kind, "total_matches": total});
    if with_offsets {
        metadata["offset"] = json!(offset);
        metadata["length"] = json!(items.len());
    }
    axum::Json(json!({"api_version": "3.1", "metadata": metadata, "entities": items}))
        .into_response()
}

async fn pc(
    f: &Fake,
    method: &Method,
    rest: &[&str],
    headers: &HeaderMap,
    body: &Value,
) -> Response {
    let sim = &f.sim;
    if let (&Method::GET, ["users", "me"]) = (method, rest) {
        if !basic_ok(headers) {
            return unauthorized();
        }
        let token = format!("s{}", f.counter.fetch_add(1, Ordering::SeqCst));
        f.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone());
        return (
            StatusCode::OK,
            [(
                "set-cookie",
                format!("NTNX_IGW_SESSION={token}; Path=/; HttpOnly"),
            )],
            axum::Json(json!({"status": {"name": USER}})),
        )
            .into_response();
    }
    if !session_ok(f, headers) && !basic_ok(headers) {
        return unauthorized();
    }
    let clusters = match sim.list_clusters().await {
        Ok(c) => c,
        Err(e) => return from_backend(e),
    };
    let projects = match sim.list_projects().await {
        Ok(p) => p,
        Err(e) => return from_backend(e),
    };
    let cluster_uuid = |name: &str| {
        clusters
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.uuid.clone())
            .unwrap_or_default()
    };
    let project_uuid = |name: &Option<String>| {
        name.as_ref()
            .and_then(|n| projects.iter().find(|p| &p.name == n))
            .map(|p| p.uuid.clone())
            .unwrap_or_default()
    };
    match (method, rest) {
        (&Method::POST, [kinds, "list"]) => {
            let filter = body
                .get("filter")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            match *kinds {
                "clusters" => {
                    let mut list = vec![json!({"metadata": {"kind": "cluster", "uuid": "pc-0000"},
                        "status": {"name": "prism-central", "resources": {"config": {"service_list": ["PRISM_CENTRAL"]}}}})];
                    list.extend(clusters.iter().map(|c| json!({"metadata": {"kind": "cluster", "uuid": c.uuid},
                        "status": {"name": c.name, "resources": {"config": {"service_list": ["AOS"]}}}})));
                    page(list, body, "cluster", false)
                }
                "projects" => {
                    let list = projects
                        .iter()
                        .map(|p| json!({"metadata": {"kind": "project", "uuid": p.uuid}, "spec": {"name": p.name, "resources": {
                            "cluster_reference_list": p.clusters.iter().map(|c| json!({"kind": "cluster", "uuid": cluster_uuid(c)})).collect::<Vec<_>>(),
                            "subnet_reference_list": p.subnets.iter().map(|s| json!({"kind": "subnet", "name": s})).collect::<Vec<_>>()}}}))
                        .collect();
                    page(list, body, "project", true)
                }
                "subnets" => match sim.list_subnets().await {
                    Ok(s) => page(
                        s.iter().map(|s| json!({"metadata": {"kind": "subnet", "uuid": s.uuid}, "status": {"name": s.name, "resources": {"subnet_type": "VLAN", "vlan_id": s.vlan_id}}})).collect(),
                        body,
                        "subnet",
                        true,
                    ),
                    Err(e) => from_backend(e),
                },
                "images" => match sim.list_images().await {
                    Ok(i) => page(
                        i.iter().map(|i| json!({"metadata": {"kind": "image", "uuid": i.uuid}, "status": {"name": i.name, "resources": {"size_bytes": u64::from(i.size_gib) << 30}}})).collect(),
                        body,
                        "image",
                        true,
                    ),
                    Err(e) => from_backend(e),
                },
                "vms" => {
                    if let Some(c) = filter.strip_prefix("cluster_name==") {
                        let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
                        let length = body.get("length").and_then(Value::as_u64).unwrap_or(20).min(500) as usize;
                        return match sim.list_vms_page(c, offset, length).await {
                            Ok((vms, total)) => {
                                let items: Vec<Value> = vms.iter().map(|v| vm_json(v, &cluster_uuid(&v.cluster), &project_uuid(&v.project), None)).collect();
                                let n = items.len();
                                axum::Json(json!({"api_version": "3.1", "metadata": {"kind": "vm", "total_matches": total, "offset": offset, "length": n}, "entities": items})).into_response()
                            }
                            Err(e) => from_backend(e),
                        };
                    }
                    let vms = all_vms(sim).await.map(|all| match filter.strip_prefix("vm_name==") {
                        Some(n) => all.into_iter().filter(|v| v.name == n).collect(),
                        None => all,
                    });
                    match vms {
                        // "Entities that have not been created successfully are not listed" — but
                        // PENDING ones are, which is what makes look-up-before-create work.
                        Ok(vms) => page_of(vms, body, "vm", true, |v| vm_json(&v, &cluster_uuid(&v.cluster), &project_uuid(&v.project), None)),
                        Err(e) => from_backend(e),
                    }
                }
                other => error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("no list endpoint {other}")),
            }
        }
        (&Method::POST, ["vms"]) => {
            let s = |p: &[&str]| crate::decode::s(body, p);
            let r = crate::decode::at(body, &["spec", "resources"]);
            let cluster = clusters
                .iter()
                .find(|c| c.uuid == s(&["spec", "cluster_reference", "uuid"]))
                .map(|c| c.name.clone());
            let project = projects
                .iter()
                .find(|p| p.uuid == s(&["metadata", "project_reference", "uuid"]))
                .map(|p| p.name.clone());
            let (Some(cluster), Some(project)) = (cluster, project) else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    "unknown cluster_reference or project_reference",
                );
            };
            let subnets = sim.list_subnets().await.unwrap_or_default();
            let images = sim.list_images().await.unwrap_or_default();
            let mut disks = Vec::new();
            let mut image = None;
            let mut cdrom = false;
            for d in r
                .get("disk_list")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                if crate::decode::s(&d, &["device_properties", "device_type"]) == "CDROM" {
                    cdrom = true;
                    continue;
                }
                disks.push(
                    u32::try_from(
                        d.get("disk_size_mib").and_then(Value::as_u64).unwrap_or(0) / 1024,
                    )
                    .unwrap_or(0),
                );
                let img = crate::decode::s(&d, &["data_source_reference", "uuid"]);
                if !img.is_empty() {
                    image = images
                        .iter()
                        .find(|i| i.uuid == img)
                        .map(|i| i.name.clone());
                }
            }
            let nics = r
                .get("nic_list")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .map(|n| crate::decode::s(n, &["subnet_reference", "uuid"]))
                        .map(|u| {
                            subnets
                                .iter()
                                .find(|s| s.uuid == u)
                                .map(|s| s.name.clone())
                                .unwrap_or(u)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let category = crate::decode::at(body, &["metadata", "categories"])
                .as_object()
                .and_then(|m| {
                    m.iter()
                        .next()
                        .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
                })
                .unwrap_or_default();
            let n =
                |k: &str| u32::try_from(r.get(k).and_then(Value::as_u64).unwrap_or(1)).unwrap_or(1);
            let create = VmCreate {
                name: s(&["spec", "name"]),
                cluster,
                project,
                category,
                cores_per_socket: n("num_vcpus_per_socket"),
                sockets: n("num_sockets"),
                ram_gib: n("memory_size_mib") / 1024,
                disks_gib: disks,
                image,
                nics,
                cdrom,
                uefi: crate::decode::s(r, &["boot_config", "boot_type"]) == "UEFI",
                power_on: crate::decode::s(r, &["power_state"]) == "ON",
            };
            match sim.create_vm(&create).await {
                Ok(task) => {
                    let vm_uuid = sim
                        .task(&task)
                        .await
                        .ok()
                        .and_then(|t| t.entity_uuid)
                        .unwrap_or_default();
                    let resp = json!({"api_version": "3.1", "metadata": {"kind": "vm", "uuid": vm_uuid, "spec_version": 0},
                        "spec": body.get("spec").cloned().unwrap_or(Value::Null),
                        "status": {"state": "PENDING", "execution_context": {"task_uuid": task.0}}});
                    (StatusCode::ACCEPTED, axum::Json(resp)).into_response()
                }
                Err(e) => from_backend(e),
            }
        }
        (&Method::GET, ["vms", uuid]) => match all_vms(sim).await {
            Ok(all) => match all.iter().find(|v| v.uuid == *uuid) {
                Some(v) => axum::Json(vm_json(
                    v,
                    &cluster_uuid(&v.cluster),
                    &project_uuid(&v.project),
                    Some("t-create"),
                ))
                .into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    "ENTITY_NOT_FOUND",
                    &format!("VM {uuid} not found"),
                ),
            },
            Err(e) => from_backend(e),
        },
        (&Method::PUT, ["vms", uuid]) => {
            let p = crate::decode::s(body, &["metadata", "project_reference", "uuid"]);
            let Some(project) = projects.iter().find(|x| x.uuid == p) else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    "unknown project_reference",
                );
            };
            match sim.set_vm_project(uuid, &project.name).await {
                Ok(()) => {
                    let t = format!("put-{}", f.counter.fetch_add(1, Ordering::SeqCst));
                    f.synthetic_tasks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(t.clone());
                    (StatusCode::ACCEPTED, axum::Json(json!({"metadata": {"kind": "vm", "uuid": uuid}, "status": {"state": "PENDING", "execution_context": {"task_uuid": t}}}))).into_response()
                }
                Err(e) => from_backend(e),
            }
        }
        (&Method::POST, ["tasks", "poll"]) => {
            // The simulator's time is its own, so the fake answers at once:
            // finished tasks in `entities`, `has_poll_timed_out` otherwise.
            let ids: Vec<String> = body
                .get("task_uuid_list")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let mut done = Vec::new();
            for id in &ids {
                if let Ok(t) = sim.task(&butler_core::backend::TaskId(id.clone())).await {
                    let (status, detail) = match &t.state {
                        TaskState::Succeeded => ("SUCCEEDED", None),
                        TaskState::Aborted => ("ABORTED", None),
                        TaskState::Failed(r) => ("FAILED", Some(r.clone())),
                        TaskState::Queued | TaskState::Running => continue,
                    };
                    done.push(json!({"uuid": id, "status": status, "percentage_complete": 100, "error_detail": detail,
                        "entity_reference_list": t.entity_uuid.map(|u| vec![json!({"kind": "vm", "uuid": u})]).unwrap_or_default()}));
                }
            }
            let timed_out = done.is_empty();
            axum::Json(json!({"entities": done, "has_poll_timed_out": timed_out})).into_response()
        }
        (&Method::GET, ["tasks", id]) => {
            if f.synthetic_tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(*id)
            {
                return axum::Json(
                    json!({"uuid": id, "status": "SUCCEEDED", "percentage_complete": 100}),
                )
                .into_response();
            }
            match sim
                .task(&butler_core::backend::TaskId(id.to_string()))
                .await
            {
                Ok(t) => {
                    let (status, detail) = match &t.state {
                        TaskState::Queued => ("QUEUED", None),
                        TaskState::Running => ("RUNNING", None),
                        TaskState::Succeeded => ("SUCCEEDED", None),
                        TaskState::Failed(r) => ("FAILED", Some(r.clone())),
                        TaskState::Aborted => ("ABORTED", None),
                    };
                    axum::Json(json!({"uuid": id, "status": status, "percentage_complete": t.percent, "error_detail": detail,
                        "entity_reference_list": t.entity_uuid.map(|u| vec![json!({"kind": "vm", "uuid": u})]).unwrap_or_default()}))
                    .into_response()
                }
                Err(e) => from_backend(e),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no v3 endpoint {method} /{}", rest.join("/")),
        ),
    }
}

fn schedule_json(s: &Schedule) -> Value {
    let (ty, nth) = if s.every_minutes % 1440 == 0 {
        ("DAILY", s.every_minutes / 1440)
    } else if s.every_minutes % 60 == 0 {
        ("HOURLY", s.every_minutes / 60)
    } else {
        ("MINUTELY", s.every_minutes)
    };
    let retention = match &s.remote_site {
        Some(site) if s.kind == ScheduleKind::Remote => {
            json!({"local_max_snapshots": 1, "remote_max_snapshots": {site.as_str(): s.retention}})
        }
        _ => json!({"local_max_snapshots": s.retention, "remote_max_snapshots": {}}),
    };
    json!({"type": ty, "every_nth": nth, "retention_policy": retention, "suspended": false})
}

async fn pe(f: &Fake, method: &Method, cluster: &str, rest: &[&str], body: &Value) -> Response {
    let sim = &f.sim;
    match (method, rest) {
        (&Method::GET, ["protection_domains"]) | (&Method::GET, ["protection_domains", ""]) => {
            match sim.list_protection_groups(cluster).await {
                Ok(groups) => {
                    let mut names: BTreeMap<String, Value> = BTreeMap::new();
                    for g in &groups {
                        let links: Vec<Value> = g
                        .remote_sites
                        .iter()
                        .map(|s| match g.last_replica {
                            Some(t) => json!({"remote_site_name": s, "last_replication_start_time_in_usecs": t.timestamp_micros()}),
                            None => json!({"remote_site_name": s}),
                        })
                        .collect();
                        names.insert(g.name.clone(), json!({"name": g.name, "active": g.active,
                        "vms": g.vms.iter().map(|v| json!({"vm_name": v})).collect::<Vec<_>>(),
                        "remote_site_names": g.remote_sites, "cron_schedules": g.schedules.iter().map(schedule_json).collect::<Vec<_>>(),
                        "replication_links": links, "marked_for_removal": false}));
                    }
                    for (c, n) in f.declared.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                        if c == cluster && !names.contains_key(n) {
                            names.insert(n.clone(), json!({"name": n, "active": true, "vms": [], "remote_site_names": [], "cron_schedules": [], "replication_links": []}));
                        }
                    }
                    let n = names.len();
                    // Recorded quirk: total_entities 0 while count holds the real number.
                    axum::Json(json!({"metadata": {"grand_total_entities": n, "total_entities": 0, "count": n}, "entities": names.into_values().collect::<Vec<_>>()})).into_response()
                }
                Err(e) => from_backend(e),
            }
        }
        (&Method::POST, ["protection_domains"]) => {
            let name = body
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if name.is_empty() {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    "value (the protection domain name) is required",
                );
            }
            let exists = sim.protection_group(cluster, &name).is_some();
            let mut declared = f.declared.lock().unwrap_or_else(|e| e.into_inner());
            if exists || !declared.insert((cluster.to_string(), name.clone())) {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    &format!("protection domain {name} already exists"),
                );
            }
            (StatusCode::CREATED, axum::Json(json!({"value": name}))).into_response()
        }
        (&Method::POST, ["protection_domains", name, "protect_vms"]) => {
            let vms: Vec<String> = body
                .get("names")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for vm in vms {
                let req = ProtectRequest {
                    group: name.to_string(),
                    vm_name: vm,
                    schedules: vec![],
                };
                if let Err(e) = sim.protect_vm(cluster, &req).await {
                    return from_backend(e);
                }
            }
            axum::Json(json!([])).into_response()
        }
        (&Method::GET, ["protection_domains", name, "schedules"]) => {
            let list = sim
                .protection_group(cluster, name)
                .map(|g| g.schedules.iter().map(schedule_json).collect::<Vec<_>>())
                .unwrap_or_default();
            axum::Json(json!(list)).into_response()
        }
        (&Method::POST, ["protection_domains", name, "schedules"]) => {
            let Some(g) = sim.protection_group(cluster, name) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "ENTITY_NOT_FOUND",
                    &format!("no protection domain {name}"),
                );
            };
            let Some(vm) = g.vms.first().cloned() else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    "protect a VM before adding schedules",
                );
            };
            let decoded =
                crate::decode::protection_domain(&json!({"cron_schedules": [body]}), cluster)
                    .schedules;
            let req = ProtectRequest {
                group: name.to_string(),
                vm_name: vm,
                schedules: decoded,
            };
            match sim.protect_vm(cluster, &req).await {
                Ok(()) => (StatusCode::CREATED, axum::Json(body.clone())).into_response(),
                Err(e) => from_backend(e),
            }
        }
        (&Method::POST, ["protection_domains", name, "migrate"]) => {
            let dest = body
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match sim.migrate_protection_group(cluster, name, dest).await {
                Ok(()) => {
                    axum::Json(json!({"metadata": {"count": 0}, "entities": []})).into_response()
                }
                Err(e) => from_backend(e),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no v2 endpoint {method} /{}", rest.join("/")),
        ),
    }
}
