//! # butler-core
//!
//! The domain of Butler: VM provisioning requests and cluster migrations for
//! an IaaS platform. Plain data, pure rules and the traits every backend
//! implements; no I/O of its own.
//!
//! | SPEC section | module |
//! |---|---|
//! | §1 actors and authorization | [`auth`] ([`auth::policy`]: the one table), [`users`] |
//! | §2 a provisioning request (fields, validation) | [`catalog`], [`vm_spec`] |
//! | §3 the request's life (states, actions, history) | [`request`] |
//! | §4 cost estimate | [`cost`] |
//! | §2–§4, §6 the operations a host calls | [`service`] |
//! | §14 actual cost per cost center | [`showback`] |
//! | §10 backends | [`backend`], [`store`] |
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use butler_core::{auth::{Actor, Role}, demo, service::RequestService, store::MemoryStore};
//! use std::sync::Arc;
//!
//! let svc = RequestService::new(Arc::new(MemoryStore::new()), demo::catalog(), demo::rate_book());
//! let ana = Actor::trusted("ana", [Role::Requester])?;
//! let boss = Actor::trusted("bea", [Role::Approver])?;
//! let r = svc.create(&ana, demo::spec("web01")).await?;
//! let r = svc.submit(&ana, r.id, r.version).await?;
//! let r = svc.approve(&boss, r.id, r.version).await?;
//! assert_eq!(r.state, butler_core::request::RequestState::Approved);
//! assert_eq!(r.history.len(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod backend;
pub mod catalog;
pub mod catalog_sync;
pub mod cost;
pub mod csv;
pub mod demo;
pub mod engine;
mod error;
#[cfg(feature = "xlsx")]
pub mod export;
pub mod inventory;
mod ledger;
pub mod limits;
pub mod migration;
pub mod notify;
pub mod quota;
pub mod request;
pub mod resilience;
pub mod rules;
pub mod said;
mod secret;
pub mod service;
pub mod showback;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(feature = "users")]
pub mod users;
pub mod vm_spec;

pub use error::ButlerError;
