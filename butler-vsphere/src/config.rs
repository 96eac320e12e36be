//! Configuration: a TOML file for the vCenter and its options, the
//! password from the environment.
//!
//! ```toml
//! connect_timeout_secs = 10
//! read_timeout_secs = 60
//! insecure = false                # loudly logged when true
//! allow_plain_http = false        # http:// refused unless true (logged)
//! ca_bundle = "/etc/butler/vcenter-ca.pem"
//! max_body_mib = 64               # larger answers are an error
//! page_size = 500                 # objects per PropertyCollector page
//! datacenter = "DC0"              # where VMs are made (default: the first)
//!
//! [vcenter]
//! url = "https://vcenter.example.com/sdk"
//! username = "butler@vsphere.local"   # password: BUTLER_VSPHERE_PASSWORD
//!
//! # vSphere has no projects: each is named here, with the clusters and
//! # port groups its VMs may use. A VM's project is its "Project" custom
//! # attribute.
//! [projects.prod-project]
//! clusters = ["DC0_C0", "DC0_C1"]
//! port_groups = ["DC0_DVPG0", "VM Network"]
//! ```

use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding the vCenter password.
pub const PASSWORD_VAR: &str = "BUTLER_VSPHERE_PASSWORD";

/// A project: the clusters and port groups its VMs may use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Cluster names.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Port group names.
    #[serde(default)]
    pub port_groups: Vec<String>,
}

/// Adapter settings.
#[derive(Debug, Clone)]
pub struct VsphereConfig {
    /// The SDK URL, e.g. `https://vcenter.example.com/sdk`.
    pub url: String,
    /// User name.
    pub username: String,
    /// Password (never printed).
    pub password: SecretString,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole-call timeout.
    pub read_timeout: Duration,
    /// Retries of a call that may be repeated, after the first try.
    pub max_retries: u32,
    /// First pause between retries (doubling, jittered).
    pub retry_base: Duration,
    /// Accept any certificate (logged loudly; prefer `ca_bundle`).
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM).
    pub ca_bundle: Option<PathBuf>,
    /// Larger answers are an error, read no further.
    pub max_body_bytes: usize,
    /// Objects per PropertyCollector page (`maxObjects`).
    pub page_size: u32,
    /// The datacenter VMs are made in (default: the first one).
    pub datacenter: Option<String>,
    /// Projects by name.
    pub projects: BTreeMap<String, Project>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    vcenter: FileEndpoint,
    connect_timeout_secs: Option<u64>,
    read_timeout_secs: Option<u64>,
    max_retries: Option<u32>,
    insecure: Option<bool>,
    ca_bundle: Option<PathBuf>,
    allow_plain_http: Option<bool>,
    max_body_mib: Option<usize>,
    page_size: Option<u32>,
    datacenter: Option<String>,
    #[serde(default)]
    projects: BTreeMap<String, Project>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEndpoint {
    url: String,
    username: String,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("vsphere config: {0}")]
    File(String),
    /// The password variable is missing.
    #[error("vsphere config: set the vCenter password in the environment variable {PASSWORD_VAR}")]
    MissingPassword,
    /// A value is out of range.
    #[error("vsphere config: {0}")]
    Invalid(String),
}

impl VsphereConfig {
    /// Parses TOML, taking the password from `env` (e.g. `|k|
    /// std::env::var(k).ok()`).
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<VsphereConfig, ConfigError> {
        let f: File = toml::from_str(text).map_err(|e| ConfigError::File(e.to_string()))?;
        let url = f.vcenter.url.trim_end_matches('/').to_string();
        butler_core::backend::check_endpoint_url(
            "vcenter",
            &url,
            f.allow_plain_http.unwrap_or(false),
        )
        .map_err(ConfigError::Invalid)?;
        let password = env(PASSWORD_VAR).ok_or(ConfigError::MissingPassword)?;
        let page_size = f.page_size.unwrap_or(500);
        if !(1..=10_000).contains(&page_size) {
            return Err(ConfigError::Invalid(format!(
                "page_size {page_size} must be 1 to 10000"
            )));
        }
        for (name, p) in &f.projects {
            if p.clusters.is_empty() || p.port_groups.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "project {name:?} needs at least one cluster and one port group"
                )));
            }
        }
        Ok(VsphereConfig {
            url,
            username: f.vcenter.username,
            password: SecretString::from(password),
            connect_timeout: Duration::from_secs(f.connect_timeout_secs.unwrap_or(10)),
            read_timeout: Duration::from_secs(f.read_timeout_secs.unwrap_or(60)),
            max_retries: f.max_retries.unwrap_or(5),
            retry_base: Duration::from_millis(500),
            insecure: f.insecure.unwrap_or(false),
            ca_bundle: f.ca_bundle,
            max_body_bytes: f.max_body_mib.unwrap_or(64).saturating_mul(1 << 20),
            page_size,
            datacenter: f.datacenter,
            projects: f.projects,
        })
    }

    /// Reads a TOML file; the password from the process environment.
    pub fn from_path(path: &std::path::Path) -> Result<VsphereConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text, |k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[vcenter]\nurl = \"https://vc/sdk\"\nusername = \"b\"\n";

    #[test]
    fn a_config_reads_with_defaults_and_refuses_what_is_wrong_by_name() {
        let env = |_: &str| Some("pw".to_string());
        let c = VsphereConfig::from_toml(BASE, env).unwrap();
        assert_eq!(
            (c.url.as_str(), c.page_size, c.insecure),
            ("https://vc/sdk", 500, false)
        );
        assert!(
            !format!("{c:?}").contains("pw\""),
            "the password stays out of Debug"
        );
        let plain = BASE.replace("https://", "http://");
        let e = VsphereConfig::from_toml(&plain, env).unwrap_err();
        assert!(e.to_string().contains("allow_plain_http"), "{e}");
        assert!(
            VsphereConfig::from_toml(&format!("allow_plain_http = true\n{plain}"), env).is_ok()
        );
        let e = VsphereConfig::from_toml(&BASE.replace("https://", "https://me:secret@"), env)
            .unwrap_err();
        assert!(e.to_string().contains("no user name or password"), "{e}");
        let e = VsphereConfig::from_toml(BASE, |_| None).unwrap_err();
        assert!(e.to_string().contains(PASSWORD_VAR), "{e}");
        let e = VsphereConfig::from_toml(
            &format!("{BASE}[projects.p]\nclusters = []\nport_groups = [\"x\"]\n"),
            env,
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"p\""), "{e}");
        let e = VsphereConfig::from_toml(&format!("colour = 1\n{BASE}"), env).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }
}
