//! # butler-webhook
//!
//! Butler's billing adapter for chargeback systems that take events over
//! HTTP (SPEC §5): each activation is one `POST` of JSON to the configured
//! URL.
//!
//! - **Idempotent**: the header `Idempotency-Key: butler-billing-<vm name>`
//!   is the same on every attempt for a VM (the platform-wide VM name holds
//!   the request number), so the receiver keeps one activation however
//!   often a lost reply or a restart makes Butler send it again. A VM
//!   restored within its retirement's grace period starts a new life:
//!   its activation and its next stop carry `-life<n>` after the key
//!   (and `"restores": n` in the body), so they are new events, not
//!   repeats of the first life's.
//! - **Signed**: `X-Butler-Signature: v1=<hex>` is the HMAC-SHA256, with
//!   the shared secret, of a canonical string ([`Signed::canonical`]): the
//!   method, the URL's path, the `X-Butler-Timestamp` (Unix seconds), the
//!   idempotency key and the exact body bytes. Receivers recompute it,
//!   compare in constant time ([`signature`] shows how) and refuse a
//!   timestamp more than a few minutes from their clock; with the key
//!   signed, a captured delivery sent again under a new key is refused,
//!   and sent again unchanged it is the repeat the key makes harmless.
//! - **Answers**: any 2xx is success; 409 (the same key in flight), 429
//!   and 5xx are retried by the engine's retry policy; other 4xx are
//!   permanent.
//!
//! The body:
//!
//! ```json
//! {"event": "billing.activate", "request": 42,
//!  "vm": {"name": "web01-r42", "uuid": "…"}, "cost_center": "CC-1001",
//!  "effective_date": "2026-03-01", "restores": 0, "currency": "UF", "monthly_total": "3.9000",
//!  "resources": {"vcpus": 2, "ram_gib": 4, "storage_gib": 50, "disk_type": "SSD"},
//!  "estimate": {"card_version": "2026-01", "lines": […], "subtotal": "…", "total": "…", …}}
//! ```
//!
//! A receiver cannot be asked whether a VM is billed, so
//! [`is_active`](butler_core::backend::Billing::is_active) answers `false`
//! and the idempotency key makes the repeat harmless.

mod config;
mod notifier;
#[cfg(feature = "receiver")]
pub mod receiver;
mod sender;

pub use config::{ConfigError, WebhookConfig, SECRET_VAR};
pub use notifier::{DeliveryStats, WebhookNotifier, NOTIFY_SECRET_VAR};
pub use sender::{
    signature, ChargesAnswer, Signed, WebhookBilling, IDEMPOTENCY_HEADER, MAX_CHARGES_BYTES,
    SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
