//! Migrations (SPEC §7–§9): groups, facts, validation, execution, reports.
//!
//! ```text
//! MigrationService::refresh(group)      batched: Inventory::fetch → FactsSnapshot::build
//! MigrationService::validate(group)     pure: validate(group, facts, now) → ValidationReport,
//!                                       + a token signed with the store's key over the group
//!                                       version and the facts' content hash
//! MigrationService::migrate(token)      checks signature, version, facts hash, errors; then Runner: per protection group
//!                                       (or per VM, where the platform moves VMs one by one), ≤ max_parallel at once,
//!                                       retries until the deadline, wait, verify each VM
//!                                       → EventStream for observers, MigrationReport stored
//! ```

mod chunks;
mod facts;
mod facts_cache;
mod group;
mod inventory;
mod inventory_read;
mod moves;
mod name_table;
mod plan;
mod power;
mod report;
mod run;
mod service;
mod token;
mod validate;
mod watch;

pub use facts::{
    FactsSnapshot, GroupFacts, GroupIndex, ProjectFacts, VmFacts, VmFactsRow, NONE16, NONE32,
};
pub use facts_cache::FactsStatus;
pub use group::{
    check_vm_name, name_key, GroupError, GroupId, GroupVm, GroupVmsEdit, GroupVmsEdited,
    MigrationGroup, MAX_VM_NAME_CHARS,
};
pub use inventory::{Inventory, MoveVerdicts};
pub use report::{Attempt, MigrationReport, RunId, VmOutcome, VmReport};
pub use run::{EventOutcome, EventStream, MigrationConfig, MigrationEvent, MigrationStep};
pub use service::{Confirmations, MigrationHandle, MigrationService, RefresherHandle};
pub use token::{TokenError, ValidationToken, MAX_TOKEN_CHARS};
pub use validate::{
    validate, Finding, FindingCode, FindingValues, Severity, ValidationReport, STALE_AFTER_MINUTES,
};
pub use watch::{RunProgress, RunWatch, IDLE_REREAD};

#[cfg(test)]
mod tests;
