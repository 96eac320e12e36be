//! Configuration: a TOML file for endpoints and options, passwords from the
//! environment.
//!
//! ```toml
//! page_size = 100                  # entities per list page, 1–500
//! list_concurrency = 8            # pages of one list fetched at once, 1–32
//! connect_timeout_secs = 10
//! read_timeout_secs = 60
//! insecure = false                # loudly logged when true
//! allow_plain_http = false        # http:// endpoints refused unless true (logged)
//! max_body_mib = 64               # larger responses are an error, streamed
//! max_list_entities = 5000000     # bounds paging
//! central_api = "auto"            # "auto" (probe for v4), "v3" or "v4"
//! migration = "protection_domains" # or "vm_by_vm": v4 cross-cluster moves;
//!                                  # or "recovery_plans": Leap planned failover
//! protection_category = "DataProtection:Gold" # protect by policy (v4), not by domain
//! ca_bundle = "/etc/butler/prism-ca.pem"
//!
//! [prism_central]
//! url = "https://pc.example.com:9440"
//! username = "butler"             # password: BUTLER_NUTANIX_PC_PASSWORD
//!
//! [clusters.c1-madrid]            # Prism Element of each cluster
//! url = "https://pe1.example.com:9440"
//! username = "butler"             # password: BUTLER_NUTANIX_C1_MADRID_PASSWORD
//! ```

use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One Prism endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL, e.g. `https://pc:9440`.
    pub url: String,
    /// User name.
    pub username: String,
    /// Password (never printed).
    pub password: SecretString,
}

/// Which Prism Central API creates, powers, deletes and follows VMs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CentralApi {
    /// v4 where Prism Central serves it (a probe of `GET
    /// /api/vmm/v4.1/ahv/config/vms?$limit=1` on first use: 404 means an
    /// older Prism Central, which stays on v3).
    #[default]
    Auto,
    /// v3 only.
    V3,
    /// v4, without probing (an error when Prism Central lacks it).
    V4,
}

/// How Butler's migrations move VMs between clusters on this Prism.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationPath {
    /// Legacy protection domains of Prism Element: one migrate moves a
    /// domain and every VM in it (the adapter declares `migration`).
    #[default]
    ProtectionDomains,
    /// VM by VM, Prism Central v4's cross-cluster migrate (cold, or live
    /// where the group asks), each judged first by its `$dryrun` (the
    /// adapter declares `vm_migration` and `live_migration` on v4, and
    /// not `migration`).
    VmByVm,
    /// Leap recovery plans (Prism Central v4, with `protection_category`):
    /// a group's VMs carry the category of a protection policy, and a
    /// migration is the planned failover of the recovery plan that
    /// recovers that category from the source cluster on the destination
    /// (adopted, or made by Butler and deleted after), validated by Prism
    /// first, live where the group asks (the adapter declares `migration`
    /// and `live_migration` on v4, and not `vm_migration`).
    RecoveryPlans,
}

/// Adapter settings.
#[derive(Debug, Clone)]
pub struct NutanixConfig {
    /// Prism Central.
    pub prism_central: Endpoint,
    /// Prism Element per cluster name.
    pub clusters: BTreeMap<String, Endpoint>,
    /// List page size (`length`), 1–500.
    pub page_size: u32,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Per-request read timeout (separate from any task deadline).
    pub read_timeout: Duration,
    /// Retries of idempotent calls on 408/429/502/503/rate-limit bodies.
    pub max_retries: u32,
    /// First retry delay (doubles, with jitter).
    pub retry_base: Duration,
    /// Skip TLS verification (for lab Prism with self-signed certificates).
    pub insecure: bool,
    /// Extra CA bundle (PEM) to trust.
    pub ca_bundle: Option<PathBuf>,
    /// Largest response body read, in bytes (streamed; a larger one is an
    /// error, never an allocation). Default 64 MiB.
    pub max_body_bytes: usize,
    /// Pages of one list fetched at once once its total is known, 1–32.
    /// Default 8.
    pub list_concurrency: usize,
    /// Most entities one list may return (bounds paging against a reply
    /// that claims billions, or a server that always fills its pages).
    /// Default 5,000,000.
    pub max_list_entities: usize,
    /// Accept `http://` endpoints (labs, the fake Prism). Off by default:
    /// Prism Element takes Basic credentials on every call, which would
    /// travel in clear. Logged as a warning when on.
    pub allow_plain_http: bool,
    /// v3 or v4 for VM creates, power, deletes and tasks. Default
    /// [`CentralApi::Auto`].
    pub central_api: CentralApi,
    /// How migrations move VMs. Default
    /// [`MigrationPath::ProtectionDomains`].
    pub migration: MigrationPath,
    /// Protect VMs by policy: the category `key:value` a protection policy
    /// of Prism Central applies to (Leap), associated with each VM to
    /// protect, instead of a Prism Element protection domain per VM (v4
    /// only). `None` (the default): protection domains.
    pub protection_category: Option<String>,
}

impl NutanixConfig {
    /// Checks what a struct-built configuration could get wrong: plain
    /// `http://` without `allow_plain_http`, credentials inside a URL.
    pub fn check_endpoints(&self) -> Result<(), ConfigError> {
        let all = std::iter::once(("prism_central", &self.prism_central))
            .chain(self.clusters.iter().map(|(k, v)| (k.as_str(), v)));
        for (name, e) in all {
            check_url(name, &e.url, self.allow_plain_http)?;
        }
        Ok(())
    }
}

/// The endpoint's URL as every adapter checks it.
fn check_url(endpoint: &str, url: &str, allow_plain_http: bool) -> Result<(), ConfigError> {
    butler_core::backend::check_endpoint_url(endpoint, url, allow_plain_http)
        .map_err(ConfigError::Invalid)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEndpoint {
    url: String,
    username: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    prism_central: FileEndpoint,
    #[serde(default)]
    clusters: BTreeMap<String, FileEndpoint>,
    page_size: Option<u32>,
    list_concurrency: Option<usize>,
    connect_timeout_secs: Option<u64>,
    read_timeout_secs: Option<u64>,
    max_retries: Option<u32>,
    insecure: Option<bool>,
    ca_bundle: Option<PathBuf>,
    allow_plain_http: Option<bool>,
    max_body_mib: Option<usize>,
    max_list_entities: Option<usize>,
    central_api: Option<CentralApi>,
    migration: Option<MigrationPath>,
    protection_category: Option<String>,
    // The deployment's other sections: `butler::deployment` reads them.
    #[serde(rename = "monitoring")]
    _monitoring: Option<toml::Value>,
    #[serde(rename = "billing")]
    _billing: Option<toml::Value>,
    #[serde(rename = "inventory")]
    _inventory: Option<toml::Value>,
    #[serde(rename = "approval")]
    _approval: Option<toml::Value>,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("nutanix config: {0}")]
    File(String),
    /// A password variable is missing.
    #[error("nutanix config: set the password of {endpoint} in the environment variable {var}")]
    MissingPassword {
        /// Which endpoint.
        endpoint: String,
        /// The variable to set.
        var: String,
    },
    /// A value is out of range.
    #[error("nutanix config: {0}")]
    Invalid(String),
}

/// The environment variable holding the password of `cluster` (or of PC for `None`).
pub fn password_var(cluster: Option<&str>) -> String {
    match cluster {
        None => "BUTLER_NUTANIX_PC_PASSWORD".into(),
        Some(c) => format!(
            "BUTLER_NUTANIX_{}_PASSWORD",
            c.chars()
                .map(|ch| if ch.is_ascii_alphanumeric() {
                    ch.to_ascii_uppercase()
                } else {
                    '_'
                })
                .collect::<String>()
        ),
    }
}

impl NutanixConfig {
    /// Parses TOML, taking passwords from `env` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<NutanixConfig, ConfigError> {
        let f: File = toml::from_str(text).map_err(|e| ConfigError::File(e.to_string()))?;
        let allow_plain_http = f.allow_plain_http.unwrap_or(false);
        // Two endpoints must never share a password variable (a cluster
        // named "pc"; "c1-madrid" and "c1.madrid").
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        vars.insert(password_var(None), "prism_central".into());
        for name in f.clusters.keys() {
            if let Some(other) = vars.insert(password_var(Some(name)), name.clone()) {
                return Err(ConfigError::Invalid(format!(
                    "clusters {other:?} and {name:?} would share the password variable {}; rename one",
                    password_var(Some(name))
                )));
            }
        }
        let endpoint = |e: FileEndpoint, cluster: Option<&str>| -> Result<Endpoint, ConfigError> {
            check_url(cluster.unwrap_or("prism_central"), &e.url, allow_plain_http)?;
            let var = password_var(cluster);
            let password = env(&var).ok_or_else(|| ConfigError::MissingPassword {
                endpoint: cluster.unwrap_or("prism_central").to_string(),
                var: var.clone(),
            })?;
            Ok(Endpoint {
                url: e.url.trim_end_matches('/').to_string(),
                username: e.username,
                password: SecretString::from(password),
            })
        };
        let pc = endpoint(f.prism_central, None)?;
        let mut clusters = BTreeMap::new();
        for (name, e) in f.clusters {
            let ep = endpoint(e, Some(&name))?;
            clusters.insert(name, ep);
        }
        let page_size = f.page_size.unwrap_or(100);
        if !(1..=500).contains(&page_size) {
            return Err(ConfigError::Invalid(format!(
                "page_size {page_size} must be 1 to 500"
            )));
        }
        if let Some(c) = &f.protection_category {
            let well_formed = c
                .split_once(':')
                .is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty());
            if !well_formed {
                return Err(ConfigError::Invalid(format!(
                    "protection_category {c:?} must be key:value, as the category a protection policy applies to"
                )));
            }
        }
        if f.migration == Some(MigrationPath::RecoveryPlans) && f.protection_category.is_none() {
            return Err(ConfigError::Invalid(
                "migration = \"recovery_plans\" needs protection_category: a recovery plan recovers the VMs of a protection policy's category".into(),
            ));
        }
        let list_concurrency = f.list_concurrency.unwrap_or(8);
        if !(1..=32).contains(&list_concurrency) {
            return Err(ConfigError::Invalid(format!(
                "list_concurrency {list_concurrency} must be 1 to 32"
            )));
        }
        Ok(NutanixConfig {
            prism_central: pc,
            clusters,
            page_size,
            list_concurrency,
            connect_timeout: Duration::from_secs(f.connect_timeout_secs.unwrap_or(10)),
            read_timeout: Duration::from_secs(f.read_timeout_secs.unwrap_or(60)),
            max_retries: f.max_retries.unwrap_or(5),
            retry_base: Duration::from_millis(500),
            insecure: f.insecure.unwrap_or(false),
            ca_bundle: f.ca_bundle,
            allow_plain_http,
            max_body_bytes: f.max_body_mib.unwrap_or(64).saturating_mul(1 << 20),
            max_list_entities: f.max_list_entities.unwrap_or(5_000_000),
            central_api: f.central_api.unwrap_or_default(),
            migration: f.migration.unwrap_or_default(),
            protection_category: f.protection_category,
        })
    }

    /// Reads a TOML file; passwords from the process environment.
    pub fn from_path(path: &std::path::Path) -> Result<NutanixConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text, |k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_central_api_is_auto_unless_named_and_a_wrong_name_says_which_exist() {
        use super::{CentralApi, NutanixConfig};
        let env = |_: &str| Some("pw".to_string());
        let cfg = |extra: &str| {
            format!("{extra}\n[prism_central]\nurl = \"https://pc:9440\"\nusername = \"b\"\n")
        };
        let auto = NutanixConfig::from_toml(&cfg(""), env).unwrap();
        assert_eq!(auto.central_api, CentralApi::Auto);
        let v3 = NutanixConfig::from_toml(&cfg("central_api = \"v3\""), env).unwrap();
        assert_eq!(v3.central_api, CentralApi::V3);
        let err = NutanixConfig::from_toml(&cfg("central_api = \"v5\""), env).unwrap_err();
        assert_eq!(auto.migration, super::MigrationPath::ProtectionDomains);
        let moves = NutanixConfig::from_toml(&cfg("migration = \"vm_by_vm\""), env).unwrap();
        assert_eq!(moves.migration, super::MigrationPath::VmByVm);
        let plans = NutanixConfig::from_toml(
            &cfg("migration = \"recovery_plans\"\nprotection_category = \"DP:Gold\""),
            env,
        )
        .unwrap();
        assert_eq!(plans.migration, super::MigrationPath::RecoveryPlans);
        let alone =
            NutanixConfig::from_toml(&cfg("migration = \"recovery_plans\""), env).unwrap_err();
        assert!(alone.to_string().contains("protection_category"), "{alone}");
        let typo = NutanixConfig::from_toml(&cfg("migration = \"vm-by-vm\""), env).unwrap_err();
        assert!(typo.to_string().contains("migration"), "{typo}");
        assert_eq!(auto.protection_category, None);
        let policy = NutanixConfig::from_toml(&cfg("protection_category = \"DP:Gold\""), env);
        assert_eq!(
            policy.unwrap().protection_category.as_deref(),
            Some("DP:Gold")
        );
        let bad =
            NutanixConfig::from_toml(&cfg("protection_category = \"Gold\""), env).unwrap_err();
        assert!(bad.to_string().contains("key:value"), "{bad}");
        let text = err.to_string();
        assert!(
            text.contains("v5") && text.contains("auto") && text.contains("v4"),
            "{text}"
        );
    }

    #[test]
    fn plain_http_urls_with_credentials_and_shared_password_variables_are_refused() {
        let env = |_: &str| Some("pw".to_string());
        let cfg = |pc: &str, extra: &str| {
            format!("{extra}\n[prism_central]\nurl = \"{pc}\"\nusername = \"b\"\n")
        };
        let err = NutanixConfig::from_toml(&cfg("http://pc:9440", ""), env).unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        let ok = NutanixConfig::from_toml(&cfg("http://pc:9440", "allow_plain_http = true"), env)
            .unwrap();
        assert!(ok.allow_plain_http);
        let err =
            NutanixConfig::from_toml(&cfg("https://admin:secret@pc:9440", ""), env).unwrap_err();
        assert!(
            err.to_string()
                .contains("no user name or password in the url"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("secret"),
            "the secret is not echoed"
        );
        let two = format!(
            "{}[clusters.c1-madrid]\nurl = \"https://a\"\nusername = \"b\"\n[clusters.\"c1.madrid\"]\nurl = \"https://b\"\nusername = \"b\"\n",
            cfg("https://pc", "")
        );
        let err = NutanixConfig::from_toml(&two, env).unwrap_err();
        assert!(
            err.to_string().contains("share the password variable"),
            "{err}"
        );
        let pc = format!(
            "{}[clusters.pc]\nurl = \"https://a\"\nusername = \"b\"\n",
            cfg("https://pc", "")
        );
        assert!(
            NutanixConfig::from_toml(&pc, env).is_err(),
            "a cluster named pc shares PC's variable"
        );
    }

    use super::*;
    use secrecy::ExposeSecret;

    const TOML: &str = r#"
[prism_central]
url = "https://pc:9440/"
username = "butler"
[clusters.c1-madrid]
url = "https://pe1:9440"
username = "admin"
"#;

    #[test]
    fn passwords_come_from_the_environment_and_never_print() {
        let env = |k: &str| match k {
            "BUTLER_NUTANIX_PC_PASSWORD" => Some("pc-s3cret".to_string()),
            "BUTLER_NUTANIX_C1_MADRID_PASSWORD" => Some("pe-s3cret".to_string()),
            _ => None,
        };
        let c = NutanixConfig::from_toml(TOML, env).unwrap();
        assert_eq!(c.prism_central.url, "https://pc:9440");
        assert_eq!(
            c.clusters["c1-madrid"].password.expose_secret(),
            "pe-s3cret"
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let err = NutanixConfig::from_toml(TOML, |_| None).unwrap_err();
        assert_eq!(
            err,
            ConfigError::MissingPassword {
                endpoint: "prism_central".into(),
                var: "BUTLER_NUTANIX_PC_PASSWORD".into()
            }
        );
        let bad =
            NutanixConfig::from_toml(&format!("list_concurrency = 0\n{TOML}"), env).unwrap_err();
        assert!(bad.to_string().contains("list_concurrency 0"), "{bad}");
        let bad = NutanixConfig::from_toml(&format!("page_size = 900\n{TOML}"), env).unwrap_err();
        assert!(matches!(bad, ConfigError::Invalid(_)));
        // A misplaced or misspelt key is an error, not silently ignored.
        let typo = NutanixConfig::from_toml(&format!("{TOML}max_retries = 0\n"), env).unwrap_err();
        assert!(
            matches!(typo, ConfigError::File(ref m) if m.contains("max_retries")),
            "{typo}"
        );
    }
}
