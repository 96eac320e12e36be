//! # butler-icinga
//!
//! Butler's monitoring adapter for Icinga2 (SPEC §5): each provisioned VM
//! becomes a host object named after its platform-wide name, through the
//! REST API v1 over HTTPS, verified against Icinga's CA.
//!
//! | Butler | Icinga2 host object |
//! |---|---|
//! | `vm_name` (`web01-r42`) | object name |
//! | `address` (the VM's first IP) | `address` |
//! | `display_name` (`web01`) | `display_name` |
//! | — | `check_command` (config, default `hostalive`) |
//! | request, requester, cost center, VM uuid, cluster | `vars.butler_request`, `vars.butler_requester`, `vars.cost_center`, `vars.butler_vm_uuid`, `vars.butler_cluster` |
//!
//! Registering is idempotent: an identical object is success, a different
//! one is updated in place, and a create that loses a race ("already
//! exists") reads the object back and reconciles.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use butler_icinga::{IcingaConfig, IcingaMonitor};
//! let text = r#"
//! url = "https://icinga.example.com:5665"
//! username = "butler"            # password: BUTLER_ICINGA_PASSWORD
//! ca_cert = "/etc/butler/icinga-ca.crt"
//! "#;
//! let config = IcingaConfig::from_toml(text, |k| std::env::var(k).ok())?;
//! let monitor = IcingaMonitor::new(config)?;
//! # Ok(()) }
//! ```

mod client;
mod config;
#[cfg(feature = "testing")]
pub mod testing;

pub use client::IcingaMonitor;
pub use config::{ConfigError, IcingaConfig, PASSWORD_VAR};
