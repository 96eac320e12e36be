//! # butler-nutanix
//!
//! Butler's Nutanix adapter: [`NutanixBackend`] implements
//! `butler_core::backend::ClusterBackend` over Prism Central v3 (inventory,
//! VM create and tasks, projects) and Prism Element v2 (protection domains,
//! schedules, migrate).
//!
//! - One [`PrismClient`] per endpoint (PC and each PE): session login on PC,
//!   one re-login on 401 (401 bodies are not JSON), connect and read
//!   timeouts separate from task deadlines, TLS verification on by default
//!   (extra CA bundle option; `insecure` is loudly logged).
//! - Idempotent calls retry 408/429/502/503 and `RATE_LIMIT_*` bodies with
//!   jittered backoff; creates are never retried blindly (callers look the
//!   VM up by name first).
//! - Lists page with `length` ≤ 500 and stop on a short page or
//!   `total_matches`, tolerating missing metadata; Prism Central is dropped
//!   from the cluster list.
//! - Errors carry the HTTP status and `message_list` reasons; malformed JSON
//!   is an error, never a panic. Passwords live in `secrecy` types.
//! - With the `fake-server` feature, [`fake::FakePrism`] serves the same
//!   endpoints from a `butler-sim` platform, with the real quirks, so the
//!   adapter is tested over real HTTP.

#![warn(missing_docs)]

mod backend;
pub mod billing;
mod client;
pub mod config;
pub mod decode;
mod error;
#[cfg(feature = "fake-server")]
pub mod fake;
mod url_safe;
pub(crate) mod v4;
mod v4_moves;
mod v4_policy;
mod v4_reads;
mod v4_reconfig;
mod v4_recovery;
mod vm_categories;

pub use backend::NutanixBackend;
pub use billing::CategoryBilling;
pub use client::{Api, PrismClient};
pub use config::{CentralApi, ConfigError, Endpoint, MigrationPath, NutanixConfig};
pub use error::NutanixError;
