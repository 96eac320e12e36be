//! Configuration: a TOML file for endpoints and options, passwords from the
//! environment.
//!
//! ```toml
//! page_size = 100
//! connect_timeout_secs = 10
//! read_timeout_secs = 60
//! insecure = false                # loudly logged when true
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
    connect_timeout_secs: Option<u64>,
    read_timeout_secs: Option<u64>,
    max_retries: Option<u32>,
    insecure: Option<bool>,
    ca_bundle: Option<PathBuf>,
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
        let endpoint = |e: FileEndpoint, cluster: Option<&str>| -> Result<Endpoint, ConfigError> {
            let var = password_var(cluster);
            let password = env(&var).ok_or_else(|| ConfigError::MissingPassword {
                endpoint: cluster.unwrap_or("prism_central").to_string(),
                var: var.clone(),
            })?;
            if !(e.url.starts_with("https://") || e.url.starts_with("http://")) {
                return Err(ConfigError::Invalid(format!(
                    "url {:?} must start with https://",
                    e.url
                )));
            }
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
        Ok(NutanixConfig {
            prism_central: pc,
            clusters,
            page_size,
            connect_timeout: Duration::from_secs(f.connect_timeout_secs.unwrap_or(10)),
            read_timeout: Duration::from_secs(f.read_timeout_secs.unwrap_or(60)),
            max_retries: f.max_retries.unwrap_or(5),
            retry_base: Duration::from_millis(500),
            insecure: f.insecure.unwrap_or(false),
            ca_bundle: f.ca_bundle,
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
