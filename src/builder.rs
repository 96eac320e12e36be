//! The composition root: one place where a whole Butler is wired.

use butler_core::auth::Policy;
use butler_core::backend::{Billing, Clock, ClusterBackend, Monitor, SystemClock};
use butler_core::catalog::Catalog;
use butler_core::cost::RateBook;
use butler_core::engine::{Engine, EngineConfig};
use butler_core::inventory::{InventoryConfig, LeaseWatch, VmNotices, VmService};
use butler_core::migration::{MigrationConfig, MigrationService};
use butler_core::notify::{Notifier, NotifyConfig, NotifyHub};
use butler_core::service::RequestService;
use butler_core::store::Store;
#[cfg(feature = "users")]
use butler_core::users::UserService;
use butler_core::ButlerError;
#[cfg(feature = "sqlite")]
use std::path::PathBuf;
use std::sync::Arc;

/// A wired Butler: the request service, the migration service, the stored
/// users and the provisioning engine, over one store, one platform and one
/// clock. Build it with [`Butler::builder`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use butler::{auth::Role, Butler};
/// // The simulator, an in-memory SQLite store, the demo catalog and rates.
/// let b = Butler::builder().seed(7).build()?;
/// let root = b.users().bootstrap_admin("root", "a long admin password").await?;
/// b.users().add(&root, "ana", [Role::Requester], "ana's long password").await?;
/// let ana = b.users().authenticate("ana", "ana's long password").await?;
/// let r = b.requests().create(&ana, butler::demo::spec("web01")).await?;
/// assert_eq!(r.owner, "ana");
/// # Ok::<(), butler::ButlerError>(())
/// # }).unwrap();
/// ```
pub struct Butler {
    requests: Arc<RequestService>,
    migrations: Arc<MigrationService>,
    vms: Arc<VmService>,
    leases: Arc<LeaseWatch>,
    vm_notices: Arc<VmNotices>,
    #[cfg(feature = "users")]
    users: Arc<UserService>,
    engine: Option<Arc<Engine>>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    platform: Arc<dyn ClusterBackend>,
    #[cfg(feature = "sim")]
    simulator: Option<crate::sim::SimPlatform>,
}

impl std::fmt::Debug for Butler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Butler")
            .field("engine", &self.engine.is_some())
            .finish_non_exhaustive()
    }
}

impl Butler {
    /// A builder with the defaults: the simulator (seed 0), an in-memory
    /// SQLite store, the demo catalog and rate book, SPEC §1 with four eyes.
    pub fn builder() -> ButlerBuilder {
        ButlerBuilder::default()
    }

    /// Requests: create, edit, review, approve, list, export (SPEC §2–§6).
    pub fn requests(&self) -> &Arc<RequestService> {
        &self.requests
    }

    /// Migration groups, facts, validation, migration, reports (SPEC §7–§9).
    pub fn migrations(&self) -> &Arc<MigrationService> {
        &self.migrations
    }

    /// The inventory: the VMs Butler made or adopted, their power and
    /// their reconcile with the platform (SPEC §12).
    pub fn vms(&self) -> &Arc<VmService> {
        &self.vms
    }

    /// The lease watch: notices before a VM's lease ends, its retirement
    /// when it has where the deployment says so (SPEC §12). Pass it with
    /// [`LeaseWatch::sweep`], or in the background with
    /// [`LeaseWatch::start`].
    pub fn leases(&self) -> &Arc<LeaseWatch> {
        &self.leases
    }

    /// The deliverer of the VMs' outboxes: notices of power changes and
    /// leases, to every notifier's [`Notifier::notify_vm`] (SPEC §12). Pass
    /// it with [`VmNotices::deliver`], or in the background with
    /// [`VmNotices::start`] (`butler-server` does). Notices are written only
    /// when the builder was given notifiers; a host that gives some runs
    /// this, or the VMs' outboxes keep growing.
    pub fn vm_notices(&self) -> &Arc<VmNotices> {
        &self.vm_notices
    }

    /// Stored users and login (SPEC §1).
    #[cfg(feature = "users")]
    pub fn users(&self) -> &Arc<UserService> {
        &self.users
    }

    /// The provisioning engine; `None` when no monitoring or billing
    /// backend was given for a real platform.
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock every wait goes through.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The platform (cluster backend), unguarded.
    pub fn platform(&self) -> &Arc<dyn ClusterBackend> {
        &self.platform
    }

    /// The simulated platform, when Butler runs on it.
    #[cfg(feature = "sim")]
    pub fn simulator(&self) -> Option<&crate::sim::SimPlatform> {
        self.simulator.as_ref()
    }
}

enum StoreChoice {
    InMemorySqlite,
    #[cfg(feature = "sqlite")]
    SqliteFile(PathBuf),
    Given(Arc<dyn Store>),
}

/// Builds a [`Butler`]; every part has a default (see [`Butler::builder`]).
pub struct ButlerBuilder {
    store: StoreChoice,
    platform: Option<Arc<dyn ClusterBackend>>,
    monitor: Option<Arc<dyn Monitor>>,
    billing: Option<Arc<dyn Billing>>,
    clock: Option<Arc<dyn Clock>>,
    catalog: Option<Catalog>,
    rates: Option<RateBook>,
    notifiers: Vec<Arc<dyn Notifier>>,
    notify: NotifyConfig,
    engine: Option<EngineConfig>,
    migration: MigrationConfig,
    inventory: InventoryConfig,
    policy: Policy,
    rules: Option<crate::rules::Rules>,
    seed: u64,
    #[cfg(feature = "sim")]
    simulator: Option<crate::sim::SimPlatform>,
}

impl Default for ButlerBuilder {
    fn default() -> Self {
        ButlerBuilder {
            store: StoreChoice::InMemorySqlite,
            platform: None,
            monitor: None,
            billing: None,
            clock: None,
            catalog: None,
            rates: None,
            notifiers: Vec::new(),
            notify: NotifyConfig::default(),
            engine: None,
            migration: MigrationConfig::default(),
            inventory: InventoryConfig::default(),
            policy: Policy::standard(),
            rules: None,
            seed: 0,
            #[cfg(feature = "sim")]
            simulator: None,
        }
    }
}

impl ButlerBuilder {
    /// Uses `store` (any [`Store`]: memory, SQLite, your own).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = StoreChoice::Given(store);
        self
    }

    /// Uses the SQLite file at `path` (created when missing).
    #[cfg(feature = "sqlite")]
    pub fn sqlite(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = StoreChoice::SqliteFile(path.into());
        self
    }

    /// Runs on a real platform (e.g. `butler::nutanix::NutanixBackend`),
    /// on the system clock unless [`clock`](Self::clock) says otherwise. A
    /// virtual clock with a real platform is logged as a warning: the
    /// platform's calls hold virtual time still while they wait, and their
    /// deadlines also run in real time (see `backend::outside`).
    pub fn platform(mut self, platform: Arc<dyn ClusterBackend>) -> Self {
        self.platform = Some(platform);
        self
    }

    /// The monitoring backend the engine registers VMs with.
    pub fn monitor(mut self, monitor: Arc<dyn Monitor>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// The billing backend the engine activates VMs with.
    pub fn billing(mut self, billing: Arc<dyn Billing>) -> Self {
        self.billing = Some(billing);
        self
    }

    /// Runs on this simulated platform (its clock, monitoring and billing).
    #[cfg(feature = "sim")]
    pub fn simulator(mut self, sim: crate::sim::SimPlatform) -> Self {
        self.simulator = Some(sim);
        self
    }

    /// The seed of the default simulator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The clock (default: the simulator's, or the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The catalog (default on the simulator: the demo catalog; required
    /// on a real platform).
    pub fn catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// The rate book (default on the simulator: the demo rates; required
    /// on a real platform).
    pub fn rate_book(mut self, rates: RateBook) -> Self {
        self.rates = Some(rates);
        self
    }

    /// Adds a notifier for every request event. Events wait in the store's
    /// outbox until delivered (delivery never blocks the workflow, and
    /// survives restarts and outages); names must differ.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifiers.push(notifier);
        self
    }

    /// How notifications are delivered: parallelism, attempt deadline,
    /// retry schedule (default: [`NotifyConfig::default`]).
    pub fn notify_config(mut self, config: NotifyConfig) -> Self {
        self.notify = config;
        self
    }

    /// Engine settings (default: [`EngineConfig::default`]).
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = Some(config);
        self
    }

    /// Migration settings.
    pub fn migration_config(mut self, config: MigrationConfig) -> Self {
        self.migration = config;
        self
    }

    /// Inventory settings (guest shutdown wait, reconcile page).
    pub fn inventory_config(mut self, config: InventoryConfig) -> Self {
        self.inventory = config;
        self
    }

    /// The authorization policy (default: [`Policy::standard`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The approval rules in force at start (default: none, so every
    /// request needs one approver). `build` checks them against the
    /// catalog and refuses the rule at fault; Admins replace them later
    /// with [`RequestService::set_rules`].
    pub fn rules(mut self, rules: crate::rules::Rules) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Wires everything. Fails on a store that cannot open, a real platform
    /// without a catalog or rate book, or deadlines that would outlive the
    /// engine's lease. Needs a tokio runtime when notifiers are given.
    pub fn build(self) -> Result<Butler, ButlerError> {
        let invalid = |m: &str| ButlerError::Invalid(m.to_string());
        let store: Arc<dyn Store> = match self.store {
            StoreChoice::Given(s) => s,
            #[cfg(feature = "sqlite")]
            StoreChoice::SqliteFile(p) => Arc::new(butler_core::store::SqliteStore::open(p)?),
            #[cfg(feature = "sqlite")]
            StoreChoice::InMemorySqlite => {
                Arc::new(butler_core::store::SqliteStore::open_in_memory()?)
            }
            #[cfg(not(feature = "sqlite"))]
            StoreChoice::InMemorySqlite => Arc::new(butler_core::store::MemoryStore::new()),
        };
        #[cfg_attr(not(feature = "sim"), allow(unused_mut))]
        let engine_config = self.engine;
        #[cfg(feature = "sim")]
        let (platform, monitor, billing, clock, simulator, demo) = match self.platform {
            Some(p) => (
                p,
                self.monitor,
                self.billing,
                self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                None,
                false,
            ),
            None => {
                let sim = self
                    .simulator
                    .unwrap_or_else(|| crate::sim::SimPlatform::demo(self.seed));
                let shared = Arc::new(sim.clone());
                let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| sim.clock());
                let monitor = self.monitor.unwrap_or_else(|| shared.clone());
                let billing = self.billing.unwrap_or_else(|| shared.clone());
                (
                    shared as Arc<dyn ClusterBackend>,
                    Some(monitor),
                    Some(billing),
                    clock,
                    Some(sim),
                    true,
                )
            }
        };
        #[cfg(not(feature = "sim"))]
        let (platform, monitor, billing, clock, demo) = (
            self.platform
                .ok_or_else(|| invalid("no platform: give one with .platform(..)"))?,
            self.monitor,
            self.billing,
            self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            false,
        );
        let catalog = match (self.catalog, demo) {
            (Some(c), _) => c,
            (None, true) => butler_core::demo::catalog(),
            (None, false) => return Err(invalid("a real platform needs a catalog: .catalog(..)")),
        };
        let rates = match (self.rates, demo) {
            (Some(r), _) => r,
            (None, true) => butler_core::demo::rate_book(),
            (None, false) => {
                return Err(invalid("a real platform needs a rate book: .rate_book(..)"))
            }
        };
        if clock.is_virtual() && !demo {
            // Allowed (tests drive real adapters this way), but never silent.
            tracing::warn!(
                "a virtual clock with a platform of your own: its calls count as outside waits \
                 (time stands still while they wait) and their deadlines also run in real time; \
                 a server in this process whose answers sleep on this clock would stall until then"
            );
        }
        let engine_config = engine_config.unwrap_or_default();
        if engine_config.call_deadline >= engine_config.lease_ttl {
            return Err(invalid(
                "engine call_deadline must be shorter than lease_ttl, or a slow call could outlive its lease",
            ));
        }
        let lease_config = self.inventory.leases.clone();
        let vms = VmService::new(
            store.clone(),
            platform.clone(),
            clock.clone(),
            self.policy,
            self.inventory,
        );
        // Notices of the VMs go into their outboxes only when someone
        // delivers them (`Butler::vm_notices`).
        let vms = Arc::new(match self.notifiers.is_empty() {
            true => vms,
            false => vms.with_notices(),
        });
        let vm_notices = Arc::new(VmNotices::new(
            store.clone(),
            self.notifiers.clone(),
            clock.clone(),
            vms.notice_waker().unwrap_or_default(),
            &self.notify,
        ));
        let mut requests = RequestService::with_clock(store.clone(), catalog, rates, clock.clone())
            .with_policy(self.policy);
        if let Some(rules) = self.rules {
            requests = requests.with_rules(rules)?;
        }
        if !self.notifiers.is_empty() {
            self.notify.check().map_err(|m| invalid(&m))?;
            let mut names = std::collections::BTreeSet::new();
            if let Some(n) = self.notifiers.iter().find(|n| !names.insert(n.name())) {
                return Err(invalid(&format!(
                    "two notifiers are named {:?}: give each its own name",
                    n.name()
                )));
            }
            requests = requests.with_notifications(NotifyHub::start(
                store.clone(),
                clock.clone(),
                self.notifiers,
                self.notify,
            ));
        }
        let requests = Arc::new(requests);
        let leases = Arc::new(LeaseWatch::new(
            store.clone(),
            requests.clone(),
            clock.clone(),
            vms.notice_waker(),
            lease_config,
        )?);
        // Each step needs its backend unless the deployment switched it off.
        let off = Engine::switched_off();
        let monitor = monitor
            .or_else(|| (!engine_config.monitoring).then(|| off.clone() as Arc<dyn Monitor>));
        let billing =
            billing.or_else(|| (!engine_config.billing).then_some(off as Arc<dyn Billing>));
        for (step, on) in [
            ("monitoring", engine_config.monitoring),
            ("billing", engine_config.billing),
        ] {
            if !on {
                tracing::warn!("{step} is switched off: its provisioning step is recorded as skipped by configuration");
            }
        }
        let engine = match (monitor, billing) {
            (Some(m), Some(b)) => Some(Arc::new(Engine::new(
                requests.clone(),
                platform.clone(),
                m,
                b,
                engine_config,
            ))),
            _ => {
                tracing::warn!("no monitoring or billing backend (and the steps are not switched off): this Butler does not provision");
                None
            }
        };
        let migrations = MigrationService::new(
            store.clone(),
            platform.clone(),
            clock.clone(),
            self.migration,
        );
        let migrations = Arc::new(match vms.notice_waker() {
            Some(wake) => migrations.with_vm_notices(wake),
            None => migrations,
        });
        Ok(Butler {
            requests,
            migrations,
            vms,
            leases,
            vm_notices,
            #[cfg(feature = "users")]
            users: Arc::new(UserService::with_clock(store.clone(), clock.clone())),
            engine,
            store,
            clock,
            platform,
            #[cfg(feature = "sim")]
            simulator,
        })
    }
}
