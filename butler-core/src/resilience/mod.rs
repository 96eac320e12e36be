//! The resilience layer: how Butler calls the outside.
//!
//! - [`Guarded`] wraps any [`ClusterBackend`](crate::backend::ClusterBackend),
//!   [`Monitor`](crate::backend::Monitor) or [`Billing`](crate::backend::Billing):
//!   every call runs in a tracing span named after the operation and ends by
//!   a **deadline** on the injected clock, with a typed
//!   [`ErrorKind::Timeout`](crate::backend::ErrorKind::Timeout) when the
//!   backend does not answer. The engine and the migration service wrap
//!   their backends in it; a call that never returns can no longer hang a
//!   run, a shutdown or a cancelled migration.
//! - [`RetryPolicy`] is the one backoff policy (exponential, capped, "equal
//!   jitter" seeded by what is retried, so runs repeat exactly), and
//!   [`retry`] the one loop for idempotent calls. The engine's and the
//!   migration runner's attempt loops use the same policy and record every
//!   attempt they make.
//!
//! Every wait here goes through [`Clock`](crate::backend::Clock): on the
//! simulator's virtual clock a deadline costs no wall time.

mod layer;
mod retry;

pub use layer::{deadline, Guarded, DEFAULT_CALL_DEADLINE};
pub use retry::{retry, salt, RetryPolicy};
