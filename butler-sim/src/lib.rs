//! # butler-sim
//!
//! A simulated IaaS platform, in memory, for tests, demos and benchmarks. It
//! implements butler-core's [`ClusterBackend`](butler_core::backend::ClusterBackend),
//! [`Monitor`](butler_core::backend::Monitor) and [`Billing`](butler_core::backend::Billing)
//! on one [`SimPlatform`], and [`Clock`](butler_core::backend::Clock) on [`SimClock`].
//!
//! ## Building a platform
//! [`SimPlatform::demo`] matches `butler_core::demo::catalog()`; [`SimPlatform::builder`]
//! builds any other (clusters, remote sites, subnets, projects, images, timings, seed).
//! [`fleet::generate`] fills it with N VMs over P protection groups over C clusters
//! with a chosen mix of migration problems.
//!
//! ## Time
//! The default clock is virtual ([`ClockMode::Virtual`]): nothing waits for
//! real; `Clock::sleep` and [`SimClock::advance`] move time. Tasks go
//! `Queued → Running → Succeeded/Failed` as simulated time passes; a
//! migration takes `migrate_base + migrate_per_gib × GiB` ([`Timings`]).
//!
//! ## Faults
//! Per operation ([`Op`]): random transient / permanent / timeout errors,
//! lost replies after the work is done, added latency ([`FaultConfig`]), and
//! one-shot scripted faults ([`ScriptedFault`], e.g. "fail the 3rd migrate of
//! PD X"). Every random choice comes from the seed, so a run repeats exactly.
//!
//! ## Counters
//! [`SimPlatform::calls`] counts calls per operation, so tests and benchmarks
//! can assert how many backend calls a job made; [`SimPlatform::vms_named`],
//! [`SimPlatform::monitor_registrations`] and [`SimPlatform::billing_activations`]
//! count duplicates.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use butler_core::backend::{ClusterBackend, PowerState};
//! use butler_sim::{fleet, SimPlatform, ScriptedFault, FaultKind, Op};
//!
//! let sim = SimPlatform::demo(7);
//! let f = fleet::generate(&sim, &fleet::FleetSpec { vms: 100, groups: 10, ..fleet::FleetSpec::default() });
//! assert_eq!(sim.vm_count(), 100);
//! // The first migrate of this group will fail once with a transient error.
//! sim.script_fault(ScriptedFault::nth_call(Op::MigrateProtectionGroup, 1, Some(&f.groups[0].name), FaultKind::Transient));
//! let err = sim.migrate_protection_group(&f.groups[0].cluster, &f.groups[0].name, &f.destination).await.unwrap_err();
//! assert!(err.is_retryable());
//! # });
//! ```

#![warn(missing_docs)]

mod clock;
mod faults;
pub mod fleet;
mod platform;
mod world;

pub use clock::{ClockHold, ClockMode, SimClock};
pub use faults::{FaultConfig, FaultKind, Op, ScriptedFault};
pub use platform::{SimBuilder, SimPlatform};
pub use world::Timings;
