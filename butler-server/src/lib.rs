//! # butler-server
//!
//! Butler's reference HTTP service, built on the library's public API
//! alone, so it is also the model for teams that embed Butler in a service
//! of their own:
//!
//! - a REST API under `/api` for requests, migration groups and runs,
//!   users and the catalog (every route is listed in the OpenAPI 3
//!   document served at `/openapi.json`, generated from the handlers);
//! - login against Butler's stored users into a server-side session, as a
//!   browser cookie (`HttpOnly`, `Secure`, `SameSite=Strict`, with a CSRF
//!   token for writes) or a bearer token for scripts; login attempts are
//!   rate-limited per user and per address;
//! - errors as `application/problem+json` (RFC 9457) carrying Butler's
//!   stable codes; optimistic versions as `ETag` / `If-Match`;
//! - migration progress as server-sent events that resume from the last
//!   event id.
//!
//! The server never decides who may do what: every call goes to the
//! library as the logged-in [`Actor`](butler::auth::Actor), and the
//! library's policy answers.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let butler = butler::Butler::builder().build()?;
//! let server = butler_server::Server::new(butler, butler_server::HttpSettings::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! server.serve(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

// Handlers return `Result<_, Problem>`; a problem is built once per failed
// call and turned into a response at once, so its size costs nothing worth
// a box on every success path.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod config;
pub mod console;
pub mod extract;
mod listen;
pub mod problem;
pub mod runs;
pub mod session;
pub mod setup;

use butler::auth::Authenticator;
use butler::engine::EngineHandle;
use butler::Butler;
use chrono::Duration;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// HTTP-side settings (the library's own live in [`Butler`]).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body accepted, in bytes (413 beyond).
    pub body_limit: usize,
    /// Longest a call may take before the server answers 408/503.
    pub request_timeout: std::time::Duration,
    /// Mark the session cookie `Secure` (keep on; only a plain-HTTP
    /// demo on a host other than localhost needs it off).
    pub cookie_secure: bool,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, used or not.
    pub session_lifetime: Duration,
    /// Failed logins counted over this window.
    pub login_window: Duration,
    /// Failed logins per user name in the window.
    pub login_failures_per_user: usize,
    /// Failed logins per client address in the window.
    pub login_failures_per_address: usize,
    /// How long a client waits after its first failure past a budget (the
    /// wait doubles with each further failure, up to the window).
    pub login_first_delay: Duration,
    /// Take the client address from `X-Forwarded-For` (only behind a
    /// reverse proxy that sets it), as [`trusted_proxies`](Self::trusted_proxies) appended it.
    pub trust_forwarded_for: bool,
    /// The reverse proxies whose `X-Forwarded-For` is believed (empty:
    /// loopback, a proxy on the same host).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Finished migration runs whose events are kept for resuming streams.
    pub runs_kept: usize,
    /// Connections served at once; one more gets a `503` and is closed
    /// (keep it under the process's descriptor limit).
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers (slow
    /// or idle clients are closed after it).
    pub header_read_timeout: std::time::Duration,
    /// How often the catalog is refreshed from the platform (clusters,
    /// VLANs, images, categories), from the start; `None`: never by itself.
    pub catalog_refresh: Option<std::time::Duration>,
    /// How often every migration group's facts are refreshed, from the
    /// start; `None`: only when someone asks.
    pub facts_refresh: Option<std::time::Duration>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_limit: 1 << 20,
            request_timeout: std::time::Duration::from_secs(60),
            cookie_secure: true,
            session_idle: Duration::minutes(30),
            session_lifetime: Duration::hours(12),
            login_window: Duration::minutes(15),
            login_failures_per_user: 5,
            login_failures_per_address: 50,
            login_first_delay: Duration::seconds(1),
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
            runs_kept: 100,
            max_connections: 768,
            header_read_timeout: std::time::Duration::from_secs(10),
            catalog_refresh: Some(std::time::Duration::from_secs(15 * 60)),
            facts_refresh: Some(std::time::Duration::from_secs(5 * 60)),
        }
    }
}

struct Inner {
    butler: Butler,
    sessions: session::Sessions,
    limiter: session::LoginLimiter,
    runs: Arc<runs::Runs>,
    engine: Mutex<Option<EngineHandle>>,
    /// The inventory's background jobs: the reconcile and the lease watch.
    reconciler: Mutex<Vec<butler::inventory::ReconcilerHandle>>,
    /// The refreshers of the catalog and of the groups' facts.
    refreshers: Mutex<Refreshers>,
    directory: Option<Arc<dyn Authenticator>>,
    settings: HttpSettings,
}

/// The refreshers the server runs.
#[derive(Default)]
struct Refreshers {
    catalog: Option<tokio::task::JoinHandle<()>>,
    facts: Option<butler::migration::RefresherHandle>,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// The library.
    pub fn butler(&self) -> &Butler {
        &self.0.butler
    }

    /// Live sessions.
    pub fn sessions(&self) -> &session::Sessions {
        &self.0.sessions
    }

    pub(crate) fn limiter(&self) -> &session::LoginLimiter {
        &self.0.limiter
    }

    pub(crate) fn directory(&self) -> Option<&Arc<dyn Authenticator>> {
        self.0.directory.as_ref()
    }

    pub(crate) fn runs(&self) -> &Arc<runs::Runs> {
        &self.0.runs
    }

    /// The HTTP settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.0.settings
    }

    /// Tells the provisioning engine there is work (after an approval).
    pub(crate) fn wake_engine(&self) {
        if let Some(h) = self
            .0
            .engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            h.wake();
        }
    }
}

/// The service: the library plus sessions, runs and the router.
pub struct Server {
    state: AppState,
}

impl Server {
    /// Wraps `butler`; starts its provisioning engine (if it has one) and
    /// the inventory's reconcile (every
    /// [`InventoryConfig::reconcile_every`](butler::inventory::InventoryConfig))
    /// the lease watch ([`Butler::leases`]), the deliverer of the VMs'
    /// notices ([`Butler::vm_notices`]), and the refreshers of the catalog
    /// and of the groups' facts ([`HttpSettings::catalog_refresh`],
    /// [`HttpSettings::facts_refresh`]) in the background. Needs a tokio
    /// runtime.
    pub fn new(butler: Butler, settings: HttpSettings) -> Server {
        let engine = butler.engine().map(|e| e.clone().start());
        let refreshers = Refreshers {
            catalog: settings.catalog_refresh.map(|every| {
                butler
                    .requests()
                    .start_catalog_refresher(butler.platform().clone(), every)
            }),
            facts: settings
                .facts_refresh
                .map(|every| butler.migrations().start_refresher(every)),
        };
        let reconciler = vec![
            butler.vms().clone().start_reconciler(),
            butler.leases().clone().start(),
            butler.vm_notices().clone().start(),
        ];
        let state = AppState(Arc::new(Inner {
            sessions: session::Sessions::new(settings.session_idle, settings.session_lifetime),
            limiter: session::LoginLimiter::new(
                settings.login_window,
                settings.login_failures_per_user,
                settings.login_failures_per_address,
            )
            .with_first_delay(settings.login_first_delay),
            runs: runs::Runs::new(settings.runs_kept),
            engine: Mutex::new(engine),
            reconciler: Mutex::new(reconciler),
            refreshers: Mutex::new(refreshers),
            directory: None,
            butler,
            settings,
        }));
        Server { state }
    }

    /// Also lets directory users log in (e.g. `butler_ldap`): a name that
    /// is not a stored user is checked against `directory`, and the
    /// session keeps the roles it gave (until the session ends).
    pub fn with_directory(mut self, directory: Arc<dyn Authenticator>) -> Server {
        match Arc::get_mut(&mut self.state.0) {
            Some(inner) => inner.directory = Some(directory),
            None => tracing::error!("with_directory must be called before the server is shared"),
        }
        self
    }

    /// The shared state (for embedding next to routes of your own).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The router: `/api/...`, `/openapi.json` and `/healthz`.
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, then stops taking
    /// calls, asks running migrations to stop starting new work, and lets
    /// the engine finish the step it is in. Each connection must send its
    /// request headers within [`HttpSettings::header_read_timeout`]; past
    /// [`HttpSettings::max_connections`] open at once, a new one gets a
    /// `503` and is closed.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let s = self.state.settings();
        let (max, header_timeout) = (s.max_connections, s.header_read_timeout);
        listen::serve(listener, self.router(), max, header_timeout, shutdown).await?;
        self.shutdown().await;
        Ok(())
    }

    /// Stops the engine (after its current step), the inventory's
    /// reconciler and lease watch, and the migration runs.
    pub async fn shutdown(&self) {
        self.state.runs().cancel_all();
        let engine = self
            .state
            .0
            .engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(e) = engine {
            e.shutdown().await;
        }
        let jobs = std::mem::take(
            &mut *self
                .state
                .0
                .reconciler
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for job in jobs {
            job.shutdown().await;
        }
        let refreshers = std::mem::take(
            &mut *self
                .state
                .0
                .refreshers
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if let Some(c) = refreshers.catalog {
            c.abort();
        }
        if let Some(f) = refreshers.facts {
            f.shutdown().await;
        }
    }
}
