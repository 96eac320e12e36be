//! The server's TOML file: where to listen, the store, the platform, the
//! HTTP and login settings and the first admin. Secrets are never in the
//! file: they come from environment variables it names.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//!
//! [store]
//! sqlite = "/var/lib/butler/butler.sqlite"
//! # or, for several instances on one database:
//! # postgres_url_env = "BUTLER_DATABASE_URL"
//!
//! [platform]
//! # The Nutanix deployment file (Prism, Icinga2, billing; see
//! # `butler::deployment`), with the catalog and rate book it needs.
//! deployment = "/etc/butler/deployment.toml"
//! catalog = "/etc/butler/catalog.toml"
//! rates = "/etc/butler/rates.toml"
//!
//! [http]
//! body_limit_bytes = 1048576
//! request_timeout_seconds = 60
//! cookie_secure = true
//! trust_forwarded_for = false      # true only behind a reverse proxy
//! trusted_proxies = ["127.0.0.1"]  # whose X-Forwarded-For is believed (default: loopback)
//! max_connections = 768            # more get 503 at once (keep under the descriptor limit)
//! header_read_timeout_seconds = 10 # slow or idle clients are closed after it
//!
//! [refresh]
//! catalog_minutes = 15              # 0: never by itself
//! facts_minutes = 5
//!
//! [sessions]
//! idle_minutes = 30
//! lifetime_hours = 12
//!
//! [login]
//! window_minutes = 15
//! failures_per_user = 5
//! failures_per_address = 50
//!
//! [notifications.email]            # see butler_mail (SMTP with STARTTLS)
//! host = "smtp.example.org"
//! from = "Butler <butler@example.org>"
//! domain = "example.org"
//! support = ["support@example.org"]
//!
//! [notifications.webhook]          # see butler_webhook::WebhookNotifier;
//! url = "https://hooks.example.org/butler"   # secret in BUTLER_NOTIFY_WEBHOOK_SECRET
//!
//! [auth.ldap]                      # directory users; see butler_ldap
//! url = "ldaps://ldap.example.org"  # service password in BUTLER_LDAP_BIND_PASSWORD
//! bind_dn = "cn=butler,dc=example,dc=org"
//! user_base = "ou=people,dc=example,dc=org"
//! group_base = "ou=groups,dc=example,dc=org"
//! roles = { "cn=butler-approvers,ou=groups,dc=example,dc=org" = ["approver"] }
//!
//! [admin]
//! # Added when the store has no user yet; the password from this variable.
//! name = "root"
//! password_env = "BUTLER_ADMIN_PASSWORD"
//! ```

use crate::HttpSettings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A configuration the server cannot start with, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {message}")]
pub struct ConfigError {
    /// The key or section, e.g. `http.body_limit_bytes`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn err(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    platform: PlatformSection,
    #[serde(default)]
    http: HttpSection,
    #[serde(default)]
    sessions: SessionsSection,
    #[serde(default)]
    login: LoginSection,
    #[serde(default)]
    refresh: RefreshSection,
    admin: Option<AdminSection>,
    #[serde(default)]
    notifications: NotificationsSection,
    #[serde(default)]
    auth: AuthSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    ldap: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsSection {
    email: Option<toml::Value>,
    webhook: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    sqlite: Option<PathBuf>,
    postgres_url_env: Option<String>,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// SQLite in memory (the demo; lost at exit).
    Memory,
    /// A SQLite file (one host).
    Sqlite(PathBuf),
    /// PostgreSQL, shared by several instances; the connection string
    /// (with its password) is read from this environment variable.
    Postgres {
        /// The variable's name.
        url_env: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformSection {
    deployment: Option<PathBuf>,
    catalog: Option<PathBuf>,
    rates: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    body_limit_bytes: Option<usize>,
    request_timeout_seconds: Option<u64>,
    cookie_secure: Option<bool>,
    trust_forwarded_for: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    max_connections: Option<usize>,
    header_read_timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshSection {
    catalog_minutes: Option<i64>,
    facts_minutes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionsSection {
    idle_minutes: Option<i64>,
    lifetime_hours: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginSection {
    window_minutes: Option<i64>,
    failures_per_user: Option<usize>,
    failures_per_address: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminSection {
    name: String,
    password_env: String,
}

/// Where the platform comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformChoice {
    /// The simulator with the demo catalog (no deployment file given).
    Demo,
    /// A Nutanix deployment file, its catalog and its rate book.
    Deployment {
        /// The deployment file.
        file: PathBuf,
        /// The catalog (TOML).
        catalog: PathBuf,
        /// The rate book (TOML).
        rates: PathBuf,
    },
}

/// The first admin, added when the store has no users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminBootstrap {
    /// User name.
    pub name: String,
    /// The environment variable holding the password.
    pub password_env: String,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// The store.
    pub store: StoreChoice,
    /// The platform.
    pub platform: PlatformChoice,
    /// HTTP settings.
    pub http: HttpSettings,
    /// The first admin.
    pub admin: Option<AdminBootstrap>,
    /// `[notifications.email]`, checked by `butler_mail::MailConfig`.
    pub email: Option<toml::Value>,
    /// `[notifications.webhook]`, checked by `butler_webhook::WebhookConfig`.
    pub webhook: Option<toml::Value>,
    /// `[auth.ldap]`, checked by `butler_ldap::LdapConfig`.
    pub ldap: Option<toml::Value>,
}

/// A refresh interval in minutes: 0 switches the refresher off.
fn refresh_every(
    key: &str,
    v: Option<i64>,
    default: i64,
) -> Result<Option<std::time::Duration>, ConfigError> {
    match v {
        Some(0) => Ok(None),
        v => {
            let m = positive(key, v, default)?;
            Ok(Some(std::time::Duration::from_secs(m.unsigned_abs() * 60)))
        }
    }
}

fn positive(key: &str, v: Option<i64>, default: i64) -> Result<i64, ConfigError> {
    match v {
        None => Ok(default),
        Some(n) if n > 0 && n <= 1_000_000 => Ok(n),
        Some(n) => Err(err(key, format!("{n} must be 1 to 1000000"))),
    }
}

impl ServerConfig {
    /// Reads a file.
    pub fn from_path(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err("file", format!("{}: {e}", path.display())))?;
        ServerConfig::from_toml(&text)
    }

    /// Parses the TOML text.
    pub fn from_toml(text: &str) -> Result<ServerConfig, ConfigError> {
        let f: File = toml::from_str(text).map_err(|e| err("file", e))?;
        let listen = f
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:8080")
            .parse()
            .map_err(|e| err("listen", e))?;
        let platform =
            match (f.platform.deployment, f.platform.catalog, f.platform.rates) {
                (None, None, None) => PlatformChoice::Demo,
                (Some(file), Some(catalog), Some(rates)) => PlatformChoice::Deployment {
                    file,
                    catalog,
                    rates,
                },
                _ => return Err(err(
                    "platform",
                    "give deployment, catalog and rates together (or none, for the demo simulator)",
                )),
            };
        let d = HttpSettings::default();
        let body_limit = f.http.body_limit_bytes.unwrap_or(d.body_limit);
        if !(1024..=(256 << 20)).contains(&body_limit) {
            return Err(err("http.body_limit_bytes", "must be 1 KiB to 256 MiB"));
        }
        let timeout = positive(
            "http.request_timeout_seconds",
            f.http
                .request_timeout_seconds
                .map(|v| v.min(i64::MAX as u64) as i64),
            60,
        )?;
        let http = HttpSettings {
            body_limit,
            request_timeout: std::time::Duration::from_secs(timeout.unsigned_abs()),
            cookie_secure: f.http.cookie_secure.unwrap_or(true),
            trust_forwarded_for: f.http.trust_forwarded_for.unwrap_or(false),
            trusted_proxies: f
                .http
                .trusted_proxies
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    p.trim().parse().map_err(|_| {
                        err(
                            "http.trusted_proxies",
                            format!("{p:?} is not an IP address"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            session_idle: chrono::Duration::minutes(positive(
                "sessions.idle_minutes",
                f.sessions.idle_minutes,
                30,
            )?),
            session_lifetime: chrono::Duration::hours(positive(
                "sessions.lifetime_hours",
                f.sessions.lifetime_hours,
                12,
            )?),
            login_window: chrono::Duration::minutes(positive(
                "login.window_minutes",
                f.login.window_minutes,
                15,
            )?),
            login_failures_per_user: positive(
                "login.failures_per_user",
                f.login
                    .failures_per_user
                    .map(|v| v.min(i64::MAX as usize) as i64),
                5,
            )?
            .unsigned_abs() as usize,
            login_failures_per_address: positive(
                "login.failures_per_address",
                f.login
                    .failures_per_address
                    .map(|v| v.min(i64::MAX as usize) as i64),
                50,
            )?
            .unsigned_abs() as usize,
            runs_kept: d.runs_kept,
            max_connections: positive(
                "http.max_connections",
                f.http
                    .max_connections
                    .map(|v| v.min(i64::MAX as usize) as i64),
                768,
            )?
            .unsigned_abs() as usize,
            header_read_timeout: std::time::Duration::from_secs(
                positive(
                    "http.header_read_timeout_seconds",
                    f.http
                        .header_read_timeout_seconds
                        .map(|v| v.min(i64::MAX as u64) as i64),
                    10,
                )?
                .unsigned_abs(),
            ),
            login_first_delay: d.login_first_delay,
            catalog_refresh: refresh_every(
                "refresh.catalog_minutes",
                f.refresh.catalog_minutes,
                15,
            )?,
            facts_refresh: refresh_every("refresh.facts_minutes", f.refresh.facts_minutes, 5)?,
        };
        Ok(ServerConfig {
            listen,
            store: match (f.store.sqlite, f.store.postgres_url_env) {
                (None, None) => StoreChoice::Memory,
                (Some(p), None) => StoreChoice::Sqlite(p),
                (None, Some(url_env)) => StoreChoice::Postgres { url_env },
                (Some(_), Some(_)) => {
                    return Err(err("store", "give sqlite or postgres_url_env, not both"))
                }
            },
            platform,
            http,
            admin: f.admin.map(|a| AdminBootstrap {
                name: a.name,
                password_env: a.password_env,
            }),
            email: f.notifications.email,
            webhook: f.notifications.webhook,
            ldap: f.auth.ldap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_demo_on_loopback_with_safe_defaults() {
        let c = ServerConfig::from_toml("").map_err(|e| e.to_string());
        let c = c.as_ref().map_err(String::as_str);
        assert!(matches!(c.map(|c| &c.platform), Ok(PlatformChoice::Demo)));
        let c = ServerConfig::from_toml("").ok();
        assert_eq!(
            c.as_ref().map(|c| c.listen.to_string()),
            Some("127.0.0.1:8080".into())
        );
        assert_eq!(c.as_ref().map(|c| c.http.cookie_secure), Some(true));
    }

    #[test]
    fn mistakes_name_their_key() {
        for (text, key) in [
            ("listen = \"nowhere\"", "listen"),
            ("[http]\nbody_limit_bytes = 10", "http.body_limit_bytes"),
            ("[sessions]\nidle_minutes = 0", "sessions.idle_minutes"),
            ("[platform]\ndeployment = \"d.toml\"", "platform"),
            ("[htp]\nx = 1", "file"),
            ("[store]\nsqlite = \"a\"\npostgres_url_env = \"B\"", "store"),
            (
                "[http]\ntrusted_proxies = [\"proxy\"]",
                "http.trusted_proxies",
            ),
            ("[refresh]\ncatalog_minutes = -5", "refresh.catalog_minutes"),
        ] {
            match ServerConfig::from_toml(text) {
                Err(e) => assert_eq!(e.key, key, "{text}"),
                Ok(_) => panic!("{text:?} was accepted"),
            }
        }
    }
}
