//! The inventory (SPEC §12): one record for every VM Butler made or
//! adopted, with who owns it, what it was built as, its power, its lease
//! and its life (active, retiring, retired), and what a reconcile found
//! changed outside Butler. The records, their query and the comparison
//! with the platform are pure (`inventory/record.rs`); [`VmService`] stores
//! and authorises.

mod lease;
mod life;
mod notice;
mod notices;
mod record;
mod service;

pub use lease::{LeaseConfig, LeaseSweep, LeaseWatch};
pub use life::{LifeMark, LifeState};
pub use notice::{VmNotice, VmNoticeKind};
pub use notices::{NoticePass, VmNotices};
pub use record::{
    drift, drift_from, found_spec, lease_end, BuiltSpec, Drift, Lifecycle, PendingNotice,
    PowerRequest, VmEvent, VmId, VmQuery, VmRecord, VmShape,
};
pub(crate) use service::{
    amend, next_page, record_migration, record_migration_power, replace_quietly,
};
pub use service::{InventoryConfig, PowerOutcome, ReconcileSummary, ReconcilerHandle, VmService};

#[cfg(test)]
mod tests;
