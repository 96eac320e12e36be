//! # butler-mail
//!
//! Butler's e-mail notifier (SPEC §5): one message per request event to
//! the people it concerns — the requester, the approvers (every Approver
//! when a request is submitted, the request's approver after that) and the
//! support list (when provisioning ends, well or not) — with a plain-text
//! and an HTML body holding the request's one-page summary: state, people,
//! spec, total GiB, cost center, estimate and the last history lines.
//!
//! - SMTP with **STARTTLS required** (or implicit TLS on 465), the server's
//!   certificate verified (system roots, or a CA file for a private
//!   server); optional login, the password from an environment variable.
//! - User names become addresses by a map or a domain (`ana` →
//!   `ana@example.org`); users without an address are skipped and logged.
//! - Transient failures are retried with backoff through the
//!   [`Clock`](butler_core::backend::Clock); failures are counted and
//!   logged and never reach the workflow.
//!
//! ```toml
//! [notifications.email]
//! host = "smtp.example.org"
//! port = 587                     # STARTTLS (465: implicit TLS)
//! from = "Butler <butler@example.org>"
//! username = "butler"            # optional; password in BUTLER_SMTP_PASSWORD
//! domain = "example.org"         # ana → ana@example.org
//! addresses = { olga = "olga.ops@example.org" }
//! support = ["support@example.org"]
//! ca_file = "/etc/butler/smtp-ca.pem"   # optional
//! ```

mod config;
mod notifier;
mod render;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{ConfigError, MailConfig, TlsMode, PASSWORD_VAR};
pub use notifier::{MailNotifier, MailStats};
pub use render::{render, Rendered};
