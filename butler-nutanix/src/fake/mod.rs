//! A fake Prism (Central v3 + Element v2) over HTTP on 127.0.0.1, serving a
//! `butler-sim` platform with the real JSON shapes and quirks: Prism Central
//! listed among the clusters, default page 20 and maximum 500, `task_uuid`
//! as a string on POST and a list on GET, lowercase-insensitive power
//! states, non-JSON 401 bodies, session cookies that can expire, bursts of
//! 429 and `RATE_LIMIT_EXCEEDED`, added latency, and lost replies (the
//! simulator's `lose_reply` faults surface as 504 after the work is done).
//!
//! One axum route per Prism endpoint: `central.rs` (PC v3) and `element.rs`
//! (PE v2), behind a front door (request count, latency, rate-limit bursts)
//! and each API's authentication.

mod central;
mod element;
mod v4;
mod v4_changes;
mod v4_lists;
mod v4_moves;
mod v4_policy;
mod v4_recovery;

use crate::config::{Endpoint, NutanixConfig};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use butler_core::backend::{BackendError, ClusterBackend, ErrorKind};
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
    /// Category keys and their values created through `PUT /categories`.
    categories: Mutex<BTreeMap<String, BTreeSet<String>>>,
    synthetic_tasks: Mutex<HashSet<String>>,
    /// Tasks made failed, with why (a v4 dry run's objections).
    failed_tasks: Mutex<std::collections::HashMap<String, String>>,
    /// Protection policies: name and the category `key:value` each applies to.
    policies: Mutex<Vec<(String, String)>>,
    /// Leap recovery plans (`datapolicies`).
    recovery_plans: Mutex<Vec<v4_recovery::FakePlan>>,
    /// Recovery plan jobs (`dataprotection`).
    recovery_jobs: Mutex<Vec<v4_recovery::FakeJob>>,
    /// What each synthetic task names among `entitiesAffected`, by `rel`.
    task_entities: Mutex<std::collections::HashMap<String, Vec<(&'static str, String)>>>,
    /// Reads of each VM as a protected resource so far
    /// ([`Quirks::policy_applies_after_reads`]).
    protected_reads: Mutex<std::collections::HashMap<String, u32>>,
    rate_limit: AtomicU32,
    quirks: Mutex<Quirks>,
    latency: Mutex<Duration>,
    requests: AtomicU64,
    counter: AtomicU64,
    /// The last `POST /vms` body, as it crossed the wire.
    last_vm_create: Mutex<Option<Value>>,
    /// Reads of each task so far (for [`Quirks::slow_tasks`]).
    task_reads: Mutex<std::collections::HashMap<String, u32>>,
    /// The last v4 `POST /vms` body, as it crossed the wire.
    /// The last body of each kind of v4 write, as it crossed the wire:
    /// `vm` (create), `update-vm`, `disk`, `disk-update`, `nic`.
    last_v4_bodies: Mutex<BTreeMap<&'static str, Value>>,
    /// A VM that changes (its `ETag` moves) right after its next v4 read.
    etag_race: Mutex<Option<String>>,
    /// Changes made outside the adapter, per VM (part of its `ETag`).
    etag_bumps: Mutex<std::collections::HashMap<String, u32>>,
    /// Created after the next v4 VM list's first page.
    v4_list_growth: Mutex<Vec<butler_core::backend::VmCreate>>,
    /// v4 writes that passed their `If-Match`.
    v4_writes: AtomicU64,
    /// v4 mutations refused for a stale `If-Match`.
    stale_etags: AtomicU64,
}

/// Real Prism behaviours the fake can switch on, each a way a client can
/// reach a wrong result without noticing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quirks {
    /// PE v2 `migrate` answers 200 with a non-empty list: refused, nothing
    /// moves (the reasons given are these).
    pub refuse_migrations: Option<Vec<String>>,
    /// Projects come without `cluster_reference_list` (older Prism
    /// Central): not restricted to any cluster.
    pub projects_without_clusters: bool,
    /// Lists claim this `total_matches`, whatever they hold.
    pub claim_total: Option<u64>,
    /// Lists always answer a full page and no total, however far one pages.
    pub endless_pages: bool,
    /// Lists answer `200 OK` with v3's in-band error inside (`"state":
    /// "ERROR"` and a `message_list` whose `details` names a missing
    /// property), as Prism may: a client that trusts the status reads an
    /// empty list.
    pub in_band_errors: bool,
    /// Subnet lists hold an OVERLAY subnet of a VPC (no cluster
    /// reference) beside the VLANs.
    pub overlay_subnet: bool,
    /// `GET /users/me` accepts the credentials but sets no session
    /// cookie (a gateway in front of Prism): calls must carry Basic
    /// credentials.
    pub login_without_cookie: bool,
    /// `POST /protection_domains` answers 422 with PE's reason for new
    /// domains whose name starts as this says (Prism refuses names and
    /// settings for reasons other than "exists").
    pub refuse_pd_create: Option<PdRefusal>,
    /// Every task answers `QUEUED`, then `RUNNING`, for its first this-many
    /// reads before its real state, as real tasks take time (counted in
    /// reads, not seconds: no test depends on the machine's speed).
    pub slow_tasks: u32,
    /// A `PENDING` VM's `status` holds only its state and name, no cluster
    /// and no resources (Prism fills `status` when the intent is applied);
    /// its `spec` holds what was asked.
    pub pending_without_status: bool,
    /// A Prism Central older than v4's GA: every v4 path answers 404, so
    /// clients stay on v3.
    pub no_v4: bool,
    /// Lists serve at most this many entities a page, whatever `length`
    /// asks (real Prism Central versions cap pages at 50, 90 or 500), with
    /// the true `total_matches`.
    pub page_cap: Option<usize>,
    /// List answers carry this many bytes of padding.
    pub pad_bytes: usize,
    /// `protect_vms` with `ignore_dup_or_missing_vms` skips VMs it cannot
    /// add (missing, or in another protection domain) and still answers 200.
    pub silent_protect: bool,
    /// The next this-many VM PUTs answer 409 (`spec_version` changed).
    pub spec_version_conflicts: u32,
    /// VM PUTs are accepted (202) and their task then fails.
    pub failing_put_tasks: bool,
    /// Image lists also hold an ISO and an uploading image under the first
    /// image's name, and a second disk image under the second's.
    pub iso_and_duplicate_images: bool,
    /// A v3 power-off of a VM that is already off is accepted and its task
    /// fails with `INTERNAL_ERROR: ErrorCode: 9`, as Prism Central did
    /// (terraform-provider-nutanix issue 289).
    pub power_off_when_off_fails: bool,
    /// Remote sites are named this prefix plus the cluster's name (real
    /// Prism lets an administrator name them anything); `migrate` then
    /// wants that name and refuses a cluster name.
    pub remote_site_prefix: Option<String>,
    /// Subnets are per cluster, as on real Prism Central: each subnet name
    /// exists once on every cluster (own uuid, own VLAN), and a VM create
    /// naming another cluster's subnet is refused.
    pub per_cluster_subnets: bool,
    /// A v4 migrate dry run with objections answers a task that fails
    /// with them, instead of refusing the request with one message each.
    pub dry_run_answers_a_task: bool,
    /// A VM newly in a protection policy's category is read as a
    /// protected resource only after this many reads (404 until then), as
    /// Prism applies policies a little after the association.
    pub policy_applies_after_reads: u32,
    /// What Prism's validation of a recovery plan finds as errors (its
    /// words): a planned failover's job then fails in validation and
    /// moves nothing.
    pub plan_validation_errors: Vec<String>,
    /// What it finds as warnings, which do not block (guest tools missing
    /// on a VM, as real plans often warn).
    pub plan_validation_warnings: Vec<String>,
}

/// A protection-domain create Prism refuses for a reason of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PdRefusal {
    /// New domains whose name starts with this are refused.
    pub names_starting: String,
    /// Prism's reason, as its `message` says.
    pub message: String,
}

impl Quirks {
    /// Every behaviour a real Prism shows in normal operation on at once,
    /// so a suite run against it meets no friendlier Prism than a real one:
    /// remote sites named unlike their clusters, per-cluster subnets,
    /// protection domains refused for reasons other than "exists" (names
    /// starting `reserved-`), tasks that take several reads, pending VMs
    /// without status, pages capped at 50, ISOs and duplicate image names,
    /// a power-off of an off VM failing, VMs silently skipped by
    /// `protect_vms`, a `spec_version` conflict on the first VM update, and
    /// logins that set no session cookie. Failures (in-band errors, lying
    /// totals, refused migrations, failing tasks) stay off: each has its
    /// own test.
    pub fn realistic() -> Quirks {
        Quirks {
            remote_site_prefix: Some("dr-".into()),
            per_cluster_subnets: true,
            refuse_pd_create: Some(PdRefusal {
                names_starting: "reserved-".into(),
                message: "Protection domain names starting with reserved- are reserved".into(),
            }),
            slow_tasks: 2,
            pending_without_status: true,
            page_cap: Some(50),
            iso_and_duplicate_images: true,
            power_off_when_off_fails: true,
            silent_protect: true,
            spec_version_conflicts: 1,
            login_without_cookie: true,
            plan_validation_warnings: vec![
                "Nutanix Guest Tools are not installed on some VMs of the plan: their IP addresses are not customised on the recovery cluster".into(),
            ],
            ..Quirks::default()
        }
    }
}

impl Fake {
    fn quirks(&self) -> Quirks {
        self.quirks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts a read of task `id`; true while [`Quirks::slow_tasks`] says
    /// it is still in progress.
    fn task_in_progress(&self, id: &str) -> bool {
        let slow = self.quirks().slow_tasks;
        if slow == 0 {
            return false;
        }
        let mut reads = self.task_reads.lock().unwrap_or_else(|e| e.into_inner());
        let n = reads.entry(id.to_string()).or_insert(0);
        *n += 1;
        *n <= slow
    }
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
            categories: Mutex::new(BTreeMap::new()),
            synthetic_tasks: Mutex::new(HashSet::new()),
            failed_tasks: Mutex::new(std::collections::HashMap::new()),
            policies: Mutex::new(Vec::new()),
            protected_reads: Mutex::new(std::collections::HashMap::new()),
            recovery_plans: Mutex::new(Vec::new()),
            recovery_jobs: Mutex::new(Vec::new()),
            task_entities: Mutex::new(std::collections::HashMap::new()),
            rate_limit: AtomicU32::new(0),
            quirks: Mutex::new(Quirks::default()),
            latency: Mutex::new(Duration::ZERO),
            requests: AtomicU64::new(0),
            counter: AtomicU64::new(0),
            last_vm_create: Mutex::new(None),
            task_reads: Mutex::new(std::collections::HashMap::new()),
            last_v4_bodies: Mutex::new(BTreeMap::new()),
            etag_race: Mutex::new(None),
            v4_list_growth: Mutex::new(Vec::new()),
            etag_bumps: Mutex::new(std::collections::HashMap::new()),
            stale_etags: AtomicU64::new(0),
            v4_writes: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = ?e, "fake Prism stopped");
            }
        });
        Ok(FakePrism { state, addr })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The same configuration as a deployment file's TOML (passwords in
    /// `BUTLER_NUTANIX_*_PASSWORD`, all [`PASSWORD`]).
    pub async fn config_toml(&self) -> String {
        let mut text = format!(
            "allow_plain_http = true\n\n[prism_central]\nurl = \"http://{}\"\nusername = \"{USER}\"\n",
            self.addr
        );
        for c in self.state.sim.list_clusters().await.unwrap_or_default() {
            text.push_str(&format!(
                "\n[clusters.{:?}]\nurl = \"http://{}/pe/{}\"\nusername = \"{USER}\"\n",
                c.name, self.addr, c.name
            ));
        }
        text
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
            list_concurrency: 8,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            max_retries: 5,
            retry_base: Duration::from_millis(2),
            insecure: false,
            ca_bundle: None,
            // The fake serves plain http on loopback.
            allow_plain_http: true,
            max_body_bytes: 64 << 20,
            max_list_entities: 5_000_000,
            central_api: crate::config::CentralApi::Auto,
            migration: crate::config::MigrationPath::ProtectionDomains,
            protection_category: None,
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

    /// Switches on behaviours of real Prism that a careless client gets
    /// wrong (see [`Quirks`]).
    pub fn set_quirks(&self, quirks: Quirks) {
        *self.state.quirks.lock().unwrap_or_else(|e| e.into_inner()) = quirks;
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

    /// The last `POST /vms` body exactly as it arrived (tests check the
    /// adapter's wire format here, not through its own decoder).
    pub fn last_vm_create(&self) -> Option<Value> {
        self.state
            .last_vm_create
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// VM `uuid` changes right after its next v4 read, as if someone else
    /// edited it: a write under the tag read is refused with 412.
    pub fn change_vm_after_next_read(&self, uuid: &str) {
        *self
            .state
            .etag_race
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(uuid.to_string());
    }

    /// VMs created right after the next v4 VM list serves its first
    /// page, as a busy Prism grows while a client pages: the later pages
    /// carry a larger `totalAvailableResults`.
    pub fn create_during_next_v4_list(&self, vms: Vec<butler_core::backend::VmCreate>) {
        *self
            .state
            .v4_list_growth
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = vms;
    }

    /// v4 writes to existing VMs (deletes and `$actions`) that passed
    /// their `If-Match` so far.
    pub fn v4_writes(&self) -> u64 {
        self.state.v4_writes.load(Ordering::SeqCst)
    }

    /// v4 writes refused so far for a stale `If-Match`.
    pub fn stale_etags(&self) -> u64 {
        self.state.stale_etags.load(Ordering::SeqCst)
    }

    /// The last v4 `POST /api/vmm/…/vms` body exactly as it arrived (the
    /// SDK test checks it against Nutanix's own model).
    pub fn last_v4_create(&self) -> Option<Value> {
        self.state.last_v4_body("vm")
    }

    /// Adds a protection policy named `name` that applies to category
    /// `key:value` (served by `datapolicies`; a VM carrying the category
    /// is then a protected resource of `dataprotection`).
    pub fn add_protection_policy(&self, name: &str, category: &str) {
        // A policy applies to a category that exists.
        if let Some((k, v)) = category.split_once(':') {
            self.state
                .categories
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(k.to_string())
                .or_default()
                .insert(v.to_string());
        }
        self.state
            .policies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_string(), category.to_string()));
    }

    /// The names of the recovery plans Prism Central has (Leap), with the
    /// categories their stages recover (`key:value`).
    pub fn recovery_plans(&self) -> Vec<(String, Vec<String>)> {
        let plans = self
            .state
            .recovery_plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        plans.iter().map(|p| p.summary(&self.state)).collect()
    }

    /// Adds a recovery plan of the administrator's, `name`, recovering
    /// category `key:value` from cluster `primary` on cluster `recovery`
    /// (a plan Butler adopts rather than makes).
    pub async fn add_recovery_plan(
        &self,
        name: &str,
        category: &str,
        primary: &str,
        recovery: &str,
    ) {
        v4_recovery::add_plan(&self.state, name, category, primary, recovery).await;
    }

    /// The recovery plan jobs so far: name, action (`VALIDATE`,
    /// `PLANNED_FAILOVER`) and whether live.
    pub fn recovery_plan_jobs(&self) -> Vec<(String, String, bool)> {
        v4_recovery::job_summaries(&self.state)
    }

    /// The last body of a v4 write of `kind` exactly as it arrived: `vm`,
    /// `update-vm`, `disk`, `disk-update`, `nic`, `categories`, `migrate`
    /// (a cross-cluster migrate or its dry run), `recovery-plan`,
    /// `recovery-stage`, `plan-validate`, `planned-failover`.
    pub fn last_v4_body(&self, kind: &str) -> Option<Value> {
        self.state.last_v4_body(kind)
    }
}

impl Fake {
    /// Keeps `body` as the last v4 write of `kind`.
    fn keep_v4_body(&self, kind: &'static str, body: &Value) {
        self.last_v4_bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(kind, body.clone());
    }

    fn last_v4_body(&self, kind: &str) -> Option<Value> {
        self.last_v4_bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(kind)
            .cloned()
    }
}

/// Every Prism endpoint the adapter uses, one route each.
fn router(state: Arc<Fake>) -> Router {
    let central = Router::new()
        .route("/:kind/list", post(central::list))
        .route("/vms/list", post(central::list))
        .route("/vms", post(central::create_vm))
        .route(
            "/vms/:uuid",
            get(central::get_vm)
                .put(central::put_vm)
                .delete(central::delete_vm),
        )
        .route("/tasks/poll", post(central::poll_tasks))
        .route(
            "/categories/:key",
            axum::routing::put(central::put_category_key),
        )
        .route("/categories/:key/list", post(central::category_values))
        .route(
            "/categories/:key/:value",
            axum::routing::put(central::put_category_value),
        )
        .route("/tasks/:id", get(central::task))
        .route_layer(middleware::from_fn_with_state(state.clone(), central_auth))
        // Logging in is the one call without a session.
        .route("/users/me", get(central::login));
    let element = Router::new()
        .route(
            "/protection_domains",
            get(element::list).post(element::create),
        )
        .route("/protection_domains/", get(element::list))
        .route("/protection_domains/:name", get(element::one))
        .route(
            "/protection_domains/:name/protect_vms",
            post(element::protect_vms),
        )
        .route(
            "/protection_domains/:name/schedules",
            get(element::schedules).post(element::add_schedule),
        )
        .route(
            "/protection_domains/:name/unprotect_vms",
            post(element::unprotect_vms),
        )
        .route("/protection_domains/:name/migrate", post(element::migrate))
        .route("/vms/:uuid/set_power_state", post(element::set_power_state))
        .route("/remote_sites", get(element::remote_sites))
        .route("/storage_containers", get(element::storage_containers))
        .route("/storage_containers/", get(element::storage_containers))
        .route_layer(middleware::from_fn(element_auth));
    let v4 = Router::new()
        .route(
            "/vmm/:v/ahv/config/vms",
            get(v4_lists::vms).post(v4::create_vm),
        )
        .route(
            "/vmm/:v/ahv/config/vms/:ext_id",
            get(v4::get_vm)
                .put(v4_changes::update_vm)
                .delete(v4::delete_vm),
        )
        .route(
            "/vmm/:v/ahv/config/vms/:ext_id/disks",
            post(v4_changes::create_disk),
        )
        .route(
            "/vmm/:v/ahv/config/vms/:ext_id/disks/:disk",
            put(v4_changes::update_disk),
        )
        .route(
            "/vmm/:v/ahv/config/vms/:ext_id/nics",
            post(v4_changes::create_nic),
        )
        .route(
            "/vmm/:v/ahv/config/vms/:ext_id/nics/:nic",
            delete(v4_changes::delete_nic),
        )
        .route(
            "/vmm/:v/ahv/config/vms/:ext_id/$actions/:action",
            post(v4::action),
        )
        .route("/prism/:v/config/tasks/:ext_id", get(v4::task))
        .route(
            "/datapolicies/:v/config/protection-policies",
            get(v4_lists::protection_policies),
        )
        .route(
            "/dataprotection/:v/config/protected-resources/:ext_id",
            get(v4_policy::protected_resource),
        )
        // The 4.2 SDKs ask which version a namespace serves first.
        .route(
            "/datapolicies/unversioned/info",
            axum::routing::options(v4_recovery::version_info),
        )
        .route(
            "/dataprotection/unversioned/info",
            axum::routing::options(v4_recovery::version_info),
        )
        .route(
            "/datapolicies/:v/config/recovery-plans",
            get(v4_recovery::plans).post(v4_recovery::create_plan),
        )
        .route(
            "/datapolicies/:v/config/recovery-plans/:ext_id",
            get(v4_recovery::get_plan).delete(v4_recovery::delete_plan),
        )
        .route(
            "/datapolicies/:v/config/recovery-plans/:ext_id/stages",
            get(v4_recovery::stages).post(v4_recovery::create_stage),
        )
        .route(
            "/dataprotection/:v/operations/recovery-plans/:ext_id/$actions/:action",
            post(v4_recovery::action),
        )
        .route(
            "/dataprotection/:v/config/recovery-plan-jobs",
            get(v4_recovery::jobs),
        )
        .route(
            "/dataprotection/:v/config/recovery-plan-jobs/:ext_id",
            get(v4_recovery::job),
        )
        .route(
            "/dataprotection/:v/config/recovery-plan-jobs/:ext_id/:what",
            get(v4_recovery::job_list),
        )
        .route("/prism/:v/config/categories", get(v4_lists::categories))
        .route("/clustermgmt/:v/config/clusters", get(v4_lists::clusters))
        .route(
            "/clustermgmt/:v/config/storage-containers",
            get(v4_lists::storage_containers),
        )
        .route("/networking/:v/config/subnets", get(v4_lists::subnets))
        .route_layer(middleware::from_fn_with_state(state.clone(), v4_gate))
        .route_layer(middleware::from_fn_with_state(state.clone(), central_auth));
    Router::new()
        .nest("/api/nutanix/v3", central)
        .nest("/api", v4)
        // The fake's own window, for tests in other processes (the SDK
        // test checks the adapter's v4 body against Nutanix's model).
        .route("/fake/last-v4-body/:kind", get(last_v4_body))
        .nest("/pe/:cluster/PrismGateway/services/rest/v2.0", element)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), front_door))
        .with_state(state)
}

/// `GET /fake/last-v4-body/{kind}`: the last v4 write of that kind
/// (`null` when none), for the SDK test in another process.
async fn last_v4_body(
    State(f): State<Arc<Fake>>,
    axum::extract::Path(kind): axum::extract::Path<String>,
) -> Response {
    axum::Json(f.last_v4_body(&kind).unwrap_or(Value::Null)).into_response()
}

/// Every request: counted, delayed by the configured latency, and refused
/// while a rate-limit burst lasts (alternately 429 and a
/// `RATE_LIMIT_EXCEEDED` body, as Prism does).
async fn front_door(State(f): State<Arc<Fake>>, req: Request, next: Next) -> Response {
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
    next.run(req).await
}

/// Prism Central: a session cookie from `/users/me`, or Basic credentials.
async fn central_auth(State(f): State<Arc<Fake>>, req: Request, next: Next) -> Response {
    if !session_ok(&f, req.headers()) && !basic_ok(req.headers()) {
        return unauthorized();
    }
    next.run(req).await
}

/// v4 paths exist from v4.0 on, unless this Prism predates them
/// ([`Quirks::no_v4`]).
async fn v4_gate(State(f): State<Arc<Fake>>, req: Request, next: Next) -> Response {
    // `/{namespace}/{version}/…` under `/api`.
    // (`unversioned`: which versions a namespace serves.)
    let version = req.uri().path().split('/').nth(2).unwrap_or_default();
    if f.quirks().no_v4 || !(version.starts_with("v4.") || version == "unversioned") {
        return not_found(req.uri().clone(), req.method().clone()).await;
    }
    next.run(req).await
}

/// Prism Element v2: Basic credentials on every call.
async fn element_auth(req: Request, next: Next) -> Response {
    if !basic_ok(req.headers()) {
        return unauthorized();
    }
    next.run(req).await
}

async fn not_found(uri: axum::http::Uri, method: axum::http::Method) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("no endpoint {method} {}", uri.path()),
    )
}

/// A request body read as JSON (empty: `null`), or Prism's error for a body
/// that is not JSON.
struct Body(Value);

#[axum::async_trait]
impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if bytes.is_empty() {
            return Ok(Body(Value::Null));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                &format!("body is not JSON: {e}"),
            )
        })
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

/// A subnet as this Prism serves it, to v3 and v4 alike.
pub(super) struct ServedSubnet {
    pub(super) uuid: String,
    pub(super) name: String,
    pub(super) vlan_id: u32,
    /// The cluster a VLAN subnet belongs to (`None`: every cluster).
    pub(super) cluster: Option<butler_core::backend::ClusterInfo>,
    /// The VPC of an OVERLAY subnet.
    pub(super) vpc: Option<&'static str>,
}

/// The simulator's subnets as the quirks serve them: one of each name per
/// cluster ([`Quirks::per_cluster_subnets`], own uuid and VLAN), or shared
/// by every cluster with a VPC's overlay subnet beside them
/// ([`Quirks::overlay_subnet`]).
pub(super) fn served_subnets(
    q: &Quirks,
    subnets: &[butler_core::backend::SubnetInfo],
    clusters: &[butler_core::backend::ClusterInfo],
) -> Vec<ServedSubnet> {
    if q.per_cluster_subnets && !q.overlay_subnet {
        let mut out = Vec::new();
        for (k, c) in clusters.iter().enumerate() {
            for s in subnets {
                out.push(ServedSubnet {
                    uuid: format!("{}:{}", s.uuid, c.name),
                    name: s.name.clone(),
                    vlan_id: s.vlan_id + 100 * u32::try_from(k).unwrap_or(0),
                    cluster: Some(c.clone()),
                    vpc: None,
                });
            }
        }
        return out;
    }
    let mut out: Vec<ServedSubnet> = subnets
        .iter()
        .map(|s| ServedSubnet {
            uuid: s.uuid.clone(),
            name: s.name.clone(),
            vlan_id: s.vlan_id,
            cluster: None,
            vpc: None,
        })
        .collect();
    if q.overlay_subnet {
        out.push(ServedSubnet {
            uuid: "overlay-0".into(),
            name: "vpc-apps".into(),
            vlan_id: 0,
            cluster: None,
            vpc: Some("vpc-0"),
        });
    }
    out
}
