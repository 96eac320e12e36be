//! Building the library from a [`ServerConfig`]: the demo (simulator,
//! demo catalog, demo users) or a Nutanix deployment.

use crate::config::{PlatformChoice, ServerConfig, StoreChoice};
use butler::auth::Role;
use butler::backend::{Schedule, SystemClock};
use butler::catalog::Catalog;
use butler::cost::RateBook;
use butler::engine::EngineConfig;
use butler::migration::MigrationConfig;
use butler::notify::Notifier;
use butler::store::Store;
use butler::{Butler, ButlerError};
use std::sync::Arc;

/// A demo user, printed at start so people can log in.
#[derive(Clone)]
pub struct DemoLogin {
    /// User name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// Its password, made up at start.
    pub password: String,
}

impl std::fmt::Debug for DemoLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoLogin")
            .field("user", &self.user)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The notifiers of `config` (e-mail, webhook), secrets from `env`.
pub fn notifiers(
    config: &ServerConfig,
    store: &Arc<dyn Store>,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> Result<Vec<Arc<dyn Notifier>>, ButlerError> {
    let invalid = |e: &dyn std::fmt::Display| ButlerError::Invalid(format!("notifications: {e}"));
    let clock: Arc<dyn butler::backend::Clock> = Arc::new(SystemClock);
    let mut out: Vec<Arc<dyn Notifier>> = vec![Arc::new(butler::notify::LoggingNotifier)];
    if let Some(v) = &config.email {
        let c = butler_mail::MailConfig::from_value(v.clone(), env).map_err(|e| invalid(&e))?;
        out.push(Arc::new(
            butler_mail::MailNotifier::new(c, store.clone(), clock.clone())
                .map_err(|e| invalid(&e))?,
        ));
    }
    if let Some(v) = &config.webhook {
        let c = butler_webhook::WebhookConfig::from_value_with_secret(
            v.clone(),
            env,
            butler_webhook::NOTIFY_SECRET_VAR,
        )
        .map_err(|e| invalid(&e))?;
        out.push(Arc::new(
            // One try per delivery: the hub retries later, for hours, and a
            // dead endpoint does not hold up the webhook's other events.
            butler_webhook::WebhookNotifier::new(c, clock, 1).map_err(|e| invalid(&e))?,
        ));
    }
    Ok(out)
}

/// The directory authenticator of `[auth.ldap]`, if configured.
pub fn directory(
    config: &ServerConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn butler::auth::Authenticator>>, ButlerError> {
    let Some(v) = &config.ldap else {
        return Ok(None);
    };
    let invalid = |e: &dyn std::fmt::Display| ButlerError::Invalid(format!("auth.ldap: {e}"));
    let c = butler_ldap::LdapConfig::from_value(v.clone(), env).map_err(|e| invalid(&e))?;
    Ok(Some(Arc::new(
        butler_ldap::LdapAuthenticator::new(c).map_err(|e| invalid(&e))?,
    )))
}

/// The store of `config` (connects to PostgreSQL and migrates its schema).
pub async fn open_store(
    config: &ServerConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Store>, ButlerError> {
    Ok(match &config.store {
        StoreChoice::Memory => Arc::new(butler::store::SqliteStore::open_in_memory()?),
        StoreChoice::Sqlite(p) => Arc::new(butler::store::SqliteStore::open(p)?),
        StoreChoice::Postgres { url_env } => {
            let url = env(url_env).ok_or_else(|| {
                ButlerError::Invalid(format!(
                    "store.postgres_url_env: set {url_env} to the PostgreSQL connection string"
                ))
            })?;
            Arc::new(butler::postgres::PostgresStore::connect(&url).await?)
        }
    })
}

/// The library for `config`, secrets from the process environment.
pub async fn build(config: &ServerConfig) -> Result<Butler, ButlerError> {
    let store = open_store(config, |k| std::env::var(k).ok()).await?;
    let mut builder = Butler::builder().store(store.clone());
    for n in notifiers(config, &store, |k| std::env::var(k).ok())? {
        builder = builder.notifier(n);
    }
    match &config.platform {
        PlatformChoice::Demo => demo_builder(builder).build(),
        PlatformChoice::Deployment {
            file,
            catalog,
            rates,
        } => {
            let read = |p: &std::path::Path| {
                std::fs::read_to_string(p)
                    .map_err(|e| ButlerError::Invalid(format!("{}: {e}", p.display())))
            };
            let catalog = Catalog::from_toml_str(&read(catalog)?)?;
            let rates = RateBook::from_toml_str(&read(rates)?)?;
            let d = butler::deployment::Deployment::from_path(file)
                .map_err(|e| ButlerError::Invalid(e.to_string()))?;
            d.apply(builder, EngineConfig::default())
                .catalog(catalog)
                .rate_book(rates)
                .build()
        }
    }
}

/// The demo platform on the wall clock: the simulated Madrid and Santiago
/// clusters replicating to each other, provisioning and migrating at once.
pub fn demo_builder(builder: butler::ButlerBuilder) -> butler::ButlerBuilder {
    let sim = butler::sim::SimPlatform::realtime_demo_builder(42).build();
    builder
        .simulator(sim)
        .clock(Arc::new(SystemClock))
        .migration_config(MigrationConfig {
            recreate_schedules: vec![Schedule::remote("c1-madrid", 60, 24)],
            ..MigrationConfig::default()
        })
}

/// Adds the demo users (an admin, a requester, an approver and an
/// operator) with made-up passwords, when the store has none.
pub async fn demo_users(butler: &Butler) -> Result<Vec<DemoLogin>, ButlerError> {
    let users = butler.users();
    let made_up = || crate::session::random_token()[..16].to_string();
    let admin_pw = made_up();
    let root = users.bootstrap_admin("admin", &admin_pw).await?;
    let mut out = vec![DemoLogin {
        user: "admin".into(),
        role: Role::Admin,
        password: admin_pw,
    }];
    for (name, role) in [
        ("ana", Role::Requester),
        ("bea", Role::Approver),
        ("olga", Role::Operator),
    ] {
        let pw = made_up();
        users.add(&root, name, [role], &pw).await?;
        out.push(DemoLogin {
            user: name.into(),
            role,
            password: pw,
        });
    }
    Ok(out)
}

/// Puts a small legacy estate on the demo's Madrid cluster (VMs in
/// protection groups, some with findings) so a migration drill has
/// something to move. Returns the VM names.
pub fn demo_fleet(butler: &Butler) -> Vec<String> {
    let Some(sim) = butler.simulator() else {
        return Vec::new();
    };
    let spec = butler::sim::fleet::FleetSpec {
        vms: 12,
        groups: 3,
        prefix: "legacy".into(),
        mix: butler::sim::fleet::ProblemMix {
            powered_on: 0.25,
            ..butler::sim::fleet::ProblemMix::NONE
        },
        seed: 7,
        ..butler::sim::fleet::FleetSpec::default()
    };
    butler::sim::fleet::generate(sim, &spec).vm_names
}
