//! # Butler
//!
//! VM provisioning requests and cluster-to-cluster migrations for an IaaS
//! platform, as a library. This crate gathers the parts so an application
//! depends on one crate:
//!
//! - the domain from [`butler_core`] (re-exported at the top level),
//! - [`sim`]: the in-memory simulated platform (feature `sim`, on by default),
//! - `nutanix`: the Prism Central v3 / Prism Element v2 adapter (feature `nutanix`),
//! - [`Butler::builder`]: the one composition root that wires them.
//!
//! Start with `cargo run --example quickstart` and `docs/architecture.md`.

pub use butler_core::*;

mod builder;
pub use builder::{Butler, ButlerBuilder};

#[cfg(feature = "sim")]
pub use butler_sim as sim;

#[cfg(feature = "nutanix")]
pub use butler_nutanix as nutanix;

#[cfg(feature = "vsphere")]
pub use butler_vsphere as vsphere;

#[cfg(feature = "nutanix")]
pub use butler_icinga as icinga;

#[cfg(feature = "nutanix")]
pub use butler_webhook as webhook;

#[cfg(feature = "nutanix")]
pub mod deployment;

#[cfg(feature = "postgres")]
pub use butler_postgres as postgres;

/// The README's Rust snippets, compiled as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
