//! The traits Butler talks to the outside through (SPEC §10).
//!
//! | Butler concept | trait | Nutanix | vSphere / OpenStack (for orientation) |
//! |---|---|---|---|
//! | cluster, project, subnet, image, VM | [`ClusterBackend`] | PC v3 clusters, projects, subnets, images, vms | cluster / tenant, port group / network, template / image, VM |
//! | platform task | [`TaskId`], [`TaskStatus`] | PC v3 task (`task_uuid`) | vSphere task / server status |
//! | protection group | [`ProtectionGroup`] | PE v2 protection domain (PD) | SRM protection group / Cinder consistency group |
//! | schedule | [`Schedule`] | PD cron schedule (local and remote retention) | replication/backup policy |
//! | remote site | [`RemoteSite`], named by its cluster ([`RemoteSite::target`]) in groups and schedules | PE v2 remote site (named as its PE likes; the adapter translates) | paired site |
//! | migrate a protection group | [`ClusterBackend::migrate_protection_group`] | PE v2 `protection_domains/{pd}/migrate` (planned failover) | SRM planned migration |
//! | monitoring registration | [`Monitor`] | – (e.g. Icinga host) | |
//! | billing activation | [`Billing`] | – (e.g. a billing CI) | |
//!
//! Every trait is `Send + Sync` and object safe, so backends are passed as
//! `Arc<dyn …>`. Each boundary has one error type with `is_retryable()`.

mod capabilities;
mod clock;
mod cluster;
mod endpoint;
mod error;
mod services;
mod shutdown;
mod uuid_text;

pub use capabilities::{Capabilities, Capability};
pub use clock::{after, note_parked_on_clock, outside, Clock, Outside, OutsideWait, SystemClock};
pub use cluster::{
    groups_holding, ClusterBackend, ClusterInfo, ImageInfo, PowerChange, PowerState, ProjectInfo,
    ProtectRequest, ProtectionGroup, RemoteSite, Schedule, ScheduleKind, SharedStrings,
    StorageContainerInfo, SubnetInfo, TaskId, TaskState, TaskStatus, VmBrief, VmCreate, VmInfo,
    VmMove, VmReconfig, VmSize, VmState,
};
pub use endpoint::check_endpoint_url;
pub use error::{error_chain, BackendError, ErrorClass, ErrorKind, ErrorSource};
pub use services::{
    Billing, BillingActivation, BillingStop, Charge, EveryBilling, Monitor, MonitorRegistration,
};
pub use shutdown::{shut_down, ShutDown};
pub use uuid_text::{uuid_text, uuid_v8};
