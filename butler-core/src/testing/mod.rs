//! Shared test suites that every implementation of a core trait must pass
//! (enable the `testing` feature).
//!
//! - [`store`]: the store-agnostic [`Store`](crate::store::Store) suite.
//! - [`backend`]: the [`ClusterBackend`](crate::backend::ClusterBackend) conformance suite.

pub mod backend;
pub mod store;
