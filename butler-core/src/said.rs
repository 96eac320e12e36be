//! What the library writes for people to read — a line of a VM's history,
//! a note on a migration report's line — kept as a code and the values it
//! names, so that a user interface words it in its user's language.
//! [`Said`]'s `Display` is the English line, which the library also keeps
//! beside it (the REST API's and Python's `what` and `notes`).
//!
//! Text that comes from elsewhere (a platform's error, a notifier's
//! reason) is [`SaidCode::Text`]: shown as it is in every language.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Which line it is. A translation has one message per code, filled with
/// the line's [`Said::values`] (and its [`Said::parts`] joined as
/// `parts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SaidCode {
    /// Text from elsewhere, shown as it is (`text`).
    Text,
    /// A VM made by a request (`request`).
    Provisioned,
    /// A VM that predates Butler taken in (`owner`, `cost_center`).
    Adopted,
    /// A request Butler asks for itself about the VM (`kind`: the
    /// request's kind, `request`).
    Asked,
    /// A lease extension asked (`until`, `request`).
    LeaseExtensionAsked,
    /// The lease moved later (`until`, `request`).
    LeaseExtended,
    /// A VM in its grace period brought back (`request`).
    Restored,
    /// Retirement begun (`request`).
    Retiring,
    /// Retired (`request`).
    Retired,
    /// Kept off in its grace period (`until`).
    KeptOff,
    /// Its lease ended: retirement asked (`ended`, `request`).
    LeaseOver,
    /// Its grace period over: deletion asked (`request`).
    GraceOver,
    /// CPU, RAM, disks or NICs changed (`request`).
    Reconfigured,
    /// A lease-end notice sent (`days`).
    LeaseNotice,
    /// The lease-end notice that it ended.
    LeaseEnded,
    /// A power change done (`change`: the change's name).
    PowerDone,
    /// A power change that found the VM so already (`change`, `power`).
    PowerAlready,
    /// A guest that did not shut down in `secs`, powered off hard
    /// (`change`, `secs`).
    PowerForcedOff,
    /// A guest that did not shut down in `secs`, left on (`change`,
    /// `secs`).
    PowerStillOn,
    /// The reconcile found the power changed (`power`).
    ReconcilePower,
    /// The reconcile found the VM as recorded again.
    ReconcileMatches,
    /// The reconcile found differences (`parts`: each a `Drift*` line).
    ReconcileDrift,
    /// Deleted outside Butler.
    DriftDeleted,
    /// Resized outside Butler (`recorded`, `found`).
    DriftResized,
    /// Moved outside Butler (`from`, `to`).
    DriftMoved,
    /// Moved by a migration run (`from`, `to`, `run`).
    Migrated,
    /// Powered off by a migration run (`run`).
    MigrationPoweredOff,
    /// Powered on again by a migration run (`cluster`, `run`).
    MigrationPoweredOn,
    /// Left off while the platform moves it.
    LeftOffWhileMoved,
    /// Left off while the platform migrates its protection domain.
    LeftOffWhileMigrated,
    /// Powered off before migrating, the guest shut down.
    PoweredOffGuest,
    /// Powered off before migrating, the power cut after `secs`.
    PoweredOffForced,
    /// Found running on `cluster` (`because`: `pg` its protection domain
    /// did not move, `vm` it did not move, empty: moved).
    RunningOn,
    /// Powered on again on `cluster` (`because` as [`Self::RunningOn`]).
    PoweredOnAgain,
    /// Left powered off (`reason`).
    LeftOff,
    /// Its project changed on arrival (`from`, `to`).
    ProjectRemapped,
    /// Its project kept (`project`).
    ProjectKept,
    /// It has no project.
    NoProject,
    /// Protection schedules recreated (`count`).
    SchedulesRecreated,
    /// A line closed with an interrupted run.
    AccountedWhenClosed,
    /// Found on the destination when an interrupted run was closed.
    FoundWhenClosed,
    /// On the destination (`cluster`).
    OnDestination,
    /// On the destination before the run: post-move steps only.
    PostMoveOnly,
    /// On the destination although the move reported a failure
    /// (`reason`).
    OnDestinationAlthough,
    /// A VM made by an earlier attempt found (`vm`, `uuid`).
    VmFound,
    /// A VM created (`vm`, `uuid`).
    VmCreated,
    /// A step the deployment turns off.
    SkippedByConfiguration,
    /// A platform without protection groups.
    NoProtectionGroups,
    /// No backups asked for.
    NoBackups,
    /// Protected by a category policy (`group`).
    ProtectedByPolicy,
    /// Protected in a protection group (`group`, `count` schedules).
    ProtectedIn,
    /// Registered in monitoring already.
    AlreadyRegistered,
    /// Registered in monitoring (`address`).
    Registered,
    /// Billing active already.
    AlreadyBilled,
    /// Billing active (`cost_center`).
    Billed,
    /// Recorded in the inventory (`vm`: its record).
    Recorded,
    /// In the inventory already (`vm`).
    AlreadyRecorded,
    /// Gone from the platform already.
    AlreadyGone,
    /// Off already.
    AlreadyOff,
    /// A platform that cannot power VMs (its delete powers them off).
    CannotPower,
    /// Gone from the platform while shutting down.
    GoneFromPlatform,
    /// The guest shut down.
    GuestShutDown,
    /// Powered off hard after `secs`.
    PoweredOffAfter,
    /// In no protection group.
    InNoProtectionGroup,
    /// Removed from protection groups (`groups`).
    Unprotected,
    /// Not registered in monitoring.
    NotRegistered,
    /// A registration of the name that is another VM's (`vm`, `uuid`).
    RegistrationOfOther,
    /// Deregistered from monitoring.
    Deregistered,
    /// Not billed.
    NotBilled,
    /// Billing stopped (`cost_center`, `end`).
    BillingStopped,
    /// A VM deleted (`vm`, `uuid`).
    VmDeleted,
    /// Gone.
    Gone,
    /// Recorded retired (`parts`: how it went).
    RecordedRetired,
    /// Recorded retired already (`parts`: how it went).
    AlreadyRecordedRetired,
    /// Kept off until `until`, then deleted.
    KeptUntil,
    /// Retiring, kept until `until`.
    RetiringKept,
    /// On already.
    AlreadyOn,
    /// Powered on.
    PoweredOn,
    /// Protected already (`group`).
    AlreadyProtected,
    /// Registered again (`address`).
    RegisteredAgain,
    /// Billed again (`cost_center`).
    BilledAgain,
    /// Recorded active.
    RecordedActive,
    /// Recorded active already.
    AlreadyRecordedActive,
    /// The lease moved (`until`).
    LeaseNowEnds,
    /// The lease set already, or the VM retired (`until`).
    LeaseAlreadyEnds,
    /// The change needs the VM off (`why`).
    NeedsOff,
    /// The change applies with the VM as it is.
    AppliesAsIs,
    /// Not needed.
    NotNeeded,
    /// Applied already.
    AlreadyApplied,
    /// The change applied (`vcpus`, `ram`, `disks`, `nics`; before: `was_vcpus`, `was_ram`, `was_disks`, `was_nics`).
    Applied,
    /// The platform shows the change.
    ChangeShown,
    /// Not powered off by the flow.
    NotPoweredOff,
    /// Powered on again.
    PoweredBackOn,
    /// Billing changed (`total`, `currency`, `from`).
    BillingChanged,
    /// The change recorded.
    RecordedChange,
    /// The change recorded already.
    AlreadyRecordedChange,
    /// A provisioning step done (`step`; `parts`: what the step says it
    /// did, when it says anything).
    StepSucceeded,
    /// A provisioning step's attempt failed and is retried (`step`,
    /// `attempt`, `reason`: the platform's words).
    StepAttemptFailed,
    /// Approved by the rule book (`version`; `parts`: who decided, a `By*` line).
    RulesApprove,
    /// Refused by the rule book (`version`, `reason`; `parts` as [`Self::RulesApprove`]).
    RulesRefuse,
    /// Left for approvers (`version`; `parts`: who decided, then each `Level*` line).
    RulesRequire,
    /// No rule matched.
    NoRuleMatched,
    /// One rule decided (`rules`).
    ByRule,
    /// Rules decided (`rules`).
    ByRules,
    /// An approval level: anyone of a role (`role`).
    LevelRole,
    /// An approval level: some users of a role (`role`, `users`).
    LevelUsers,
    /// An approval level: the unit's approvers of a role (`role`).
    LevelUnit,
    /// An approval level: the division's approvers of a role (`role`).
    LevelDivision,
    /// A VM another request has just asked a change of (`vm`).
    JustAsked,
    /// A VM with a change open (`vm`, `request`, `kind`, `state`).
    ChangeOpen,
    /// A VM without a lease end to extend (`vm`).
    NoLeaseEnd,
    /// A VM being retired at its lease end (`vm`, `request`).
    RetiringAtLeaseEnd,
    /// A VM that is not in a grace period (`vm`, `lifecycle`).
    NotRestorable,
    /// A VM whose deletion Butler asked (`vm`, `request`).
    DeletionAsked,
    /// A VM whose grace period ended (`vm`, `until`).
    GraceEnded,
    /// A VM being restored (`vm`, `request`).
    BeingRestored,
    /// A VM changed meanwhile (`vm`).
    ChangedMeanwhile,
    /// A VM not active for a change (`vm`, `lifecycle`, `change`: retire, extend or reconfigure).
    NotActive,
    /// A retired VM to power (`vm`).
    NothingToPower,
    /// Why Butler asks a retirement (`vm`, `record`, `ended`).
    RetireAtLeaseEnd,
    /// Why it needs no approver: the deployment retires at lease end.
    DeploymentRetires,
    /// Why Butler asks a deletion (`vm`, `record`, `until`).
    DeleteAfterGrace,
    /// Why it needs no approver: the grace period is over.
    GracePeriodOver,
    /// Why a restore is asked (`vm`, `record`).
    RestoreInGrace,
    /// Why it needs no approver: an undo in the grace period.
    UndoNeedsNoApproval,
    /// A VM named that the platform does not have (`vm`; `quoted`: its
    /// name quoted and escaped, so that a hostile name cannot pass for the
    /// text around it).
    VmNotOnPlatform,
    /// VMs named that the platform does not have (`vm`: the first,
    /// `quoted` as [`Self::VmNotOnPlatform`], `more`: how many more).
    VmsNotOnPlatform,
    /// A cluster the platform does not have (`cluster`, `quoted` as
    /// [`Self::VmNotOnPlatform`]).
    ClusterNotOnPlatform,
    /// A run with no failed VMs to retry (`run`).
    RunNoFailed,
    /// A run that has ended (`run`).
    RunEnded,
}

impl SaidCode {
    /// Every code, for a translation's completeness check.
    pub const ALL: &'static [SaidCode] = &[
        SaidCode::Text,
        SaidCode::Provisioned,
        SaidCode::Adopted,
        SaidCode::Asked,
        SaidCode::LeaseExtensionAsked,
        SaidCode::LeaseExtended,
        SaidCode::Restored,
        SaidCode::Retiring,
        SaidCode::Retired,
        SaidCode::KeptOff,
        SaidCode::LeaseOver,
        SaidCode::GraceOver,
        SaidCode::Reconfigured,
        SaidCode::LeaseNotice,
        SaidCode::LeaseEnded,
        SaidCode::PowerDone,
        SaidCode::PowerAlready,
        SaidCode::PowerForcedOff,
        SaidCode::PowerStillOn,
        SaidCode::ReconcilePower,
        SaidCode::ReconcileMatches,
        SaidCode::ReconcileDrift,
        SaidCode::DriftDeleted,
        SaidCode::DriftResized,
        SaidCode::DriftMoved,
        SaidCode::Migrated,
        SaidCode::MigrationPoweredOff,
        SaidCode::MigrationPoweredOn,
        SaidCode::LeftOffWhileMoved,
        SaidCode::LeftOffWhileMigrated,
        SaidCode::PoweredOffGuest,
        SaidCode::PoweredOffForced,
        SaidCode::RunningOn,
        SaidCode::PoweredOnAgain,
        SaidCode::LeftOff,
        SaidCode::ProjectRemapped,
        SaidCode::ProjectKept,
        SaidCode::NoProject,
        SaidCode::SchedulesRecreated,
        SaidCode::AccountedWhenClosed,
        SaidCode::FoundWhenClosed,
        SaidCode::OnDestination,
        SaidCode::PostMoveOnly,
        SaidCode::OnDestinationAlthough,
        SaidCode::VmFound,
        SaidCode::VmCreated,
        SaidCode::SkippedByConfiguration,
        SaidCode::NoProtectionGroups,
        SaidCode::NoBackups,
        SaidCode::ProtectedByPolicy,
        SaidCode::ProtectedIn,
        SaidCode::AlreadyRegistered,
        SaidCode::Registered,
        SaidCode::AlreadyBilled,
        SaidCode::Billed,
        SaidCode::Recorded,
        SaidCode::AlreadyRecorded,
        SaidCode::AlreadyGone,
        SaidCode::AlreadyOff,
        SaidCode::CannotPower,
        SaidCode::GoneFromPlatform,
        SaidCode::GuestShutDown,
        SaidCode::PoweredOffAfter,
        SaidCode::InNoProtectionGroup,
        SaidCode::Unprotected,
        SaidCode::NotRegistered,
        SaidCode::RegistrationOfOther,
        SaidCode::Deregistered,
        SaidCode::NotBilled,
        SaidCode::BillingStopped,
        SaidCode::VmDeleted,
        SaidCode::Gone,
        SaidCode::RecordedRetired,
        SaidCode::AlreadyRecordedRetired,
        SaidCode::KeptUntil,
        SaidCode::RetiringKept,
        SaidCode::AlreadyOn,
        SaidCode::PoweredOn,
        SaidCode::AlreadyProtected,
        SaidCode::RegisteredAgain,
        SaidCode::BilledAgain,
        SaidCode::RecordedActive,
        SaidCode::AlreadyRecordedActive,
        SaidCode::LeaseNowEnds,
        SaidCode::LeaseAlreadyEnds,
        SaidCode::NeedsOff,
        SaidCode::AppliesAsIs,
        SaidCode::NotNeeded,
        SaidCode::AlreadyApplied,
        SaidCode::Applied,
        SaidCode::ChangeShown,
        SaidCode::NotPoweredOff,
        SaidCode::PoweredBackOn,
        SaidCode::BillingChanged,
        SaidCode::RecordedChange,
        SaidCode::AlreadyRecordedChange,
        SaidCode::StepSucceeded,
        SaidCode::StepAttemptFailed,
        SaidCode::RulesApprove,
        SaidCode::RulesRefuse,
        SaidCode::RulesRequire,
        SaidCode::NoRuleMatched,
        SaidCode::ByRule,
        SaidCode::ByRules,
        SaidCode::LevelRole,
        SaidCode::LevelUsers,
        SaidCode::LevelUnit,
        SaidCode::LevelDivision,
        SaidCode::JustAsked,
        SaidCode::ChangeOpen,
        SaidCode::NoLeaseEnd,
        SaidCode::RetiringAtLeaseEnd,
        SaidCode::NotRestorable,
        SaidCode::DeletionAsked,
        SaidCode::GraceEnded,
        SaidCode::BeingRestored,
        SaidCode::ChangedMeanwhile,
        SaidCode::NotActive,
        SaidCode::NothingToPower,
        SaidCode::RetireAtLeaseEnd,
        SaidCode::DeploymentRetires,
        SaidCode::DeleteAfterGrace,
        SaidCode::GracePeriodOver,
        SaidCode::RestoreInGrace,
        SaidCode::UndoNeedsNoApproval,
        SaidCode::VmNotOnPlatform,
        SaidCode::VmsNotOnPlatform,
        SaidCode::ClusterNotOnPlatform,
        SaidCode::RunNoFailed,
        SaidCode::RunEnded,
    ];

    /// Its name (`provisioned`, `powered_on_again`, …), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            SaidCode::Text => "text",
            SaidCode::Provisioned => "provisioned",
            SaidCode::Adopted => "adopted",
            SaidCode::Asked => "asked",
            SaidCode::LeaseExtensionAsked => "lease_extension_asked",
            SaidCode::LeaseExtended => "lease_extended",
            SaidCode::Restored => "restored",
            SaidCode::Retiring => "retiring",
            SaidCode::Retired => "retired",
            SaidCode::KeptOff => "kept_off",
            SaidCode::LeaseOver => "lease_over",
            SaidCode::GraceOver => "grace_over",
            SaidCode::Reconfigured => "reconfigured",
            SaidCode::LeaseNotice => "lease_notice",
            SaidCode::LeaseEnded => "lease_ended",
            SaidCode::PowerDone => "power_done",
            SaidCode::PowerAlready => "power_already",
            SaidCode::PowerForcedOff => "power_forced_off",
            SaidCode::PowerStillOn => "power_still_on",
            SaidCode::ReconcilePower => "reconcile_power",
            SaidCode::ReconcileMatches => "reconcile_matches",
            SaidCode::ReconcileDrift => "reconcile_drift",
            SaidCode::DriftDeleted => "drift_deleted",
            SaidCode::DriftResized => "drift_resized",
            SaidCode::DriftMoved => "drift_moved",
            SaidCode::Migrated => "migrated",
            SaidCode::MigrationPoweredOff => "migration_powered_off",
            SaidCode::MigrationPoweredOn => "migration_powered_on",
            SaidCode::LeftOffWhileMoved => "left_off_while_moved",
            SaidCode::LeftOffWhileMigrated => "left_off_while_migrated",
            SaidCode::PoweredOffGuest => "powered_off_guest",
            SaidCode::PoweredOffForced => "powered_off_forced",
            SaidCode::RunningOn => "running_on",
            SaidCode::PoweredOnAgain => "powered_on_again",
            SaidCode::LeftOff => "left_off",
            SaidCode::ProjectRemapped => "project_remapped",
            SaidCode::ProjectKept => "project_kept",
            SaidCode::NoProject => "no_project",
            SaidCode::SchedulesRecreated => "schedules_recreated",
            SaidCode::AccountedWhenClosed => "accounted_when_closed",
            SaidCode::FoundWhenClosed => "found_when_closed",
            SaidCode::OnDestination => "on_destination",
            SaidCode::PostMoveOnly => "post_move_only",
            SaidCode::OnDestinationAlthough => "on_destination_although",
            SaidCode::VmFound => "vm_found",
            SaidCode::VmCreated => "vm_created",
            SaidCode::SkippedByConfiguration => "skipped_by_configuration",
            SaidCode::NoProtectionGroups => "no_protection_groups",
            SaidCode::NoBackups => "no_backups",
            SaidCode::ProtectedByPolicy => "protected_by_policy",
            SaidCode::ProtectedIn => "protected_in",
            SaidCode::AlreadyRegistered => "already_registered",
            SaidCode::Registered => "registered",
            SaidCode::AlreadyBilled => "already_billed",
            SaidCode::Billed => "billed",
            SaidCode::Recorded => "recorded",
            SaidCode::AlreadyRecorded => "already_recorded",
            SaidCode::AlreadyGone => "already_gone",
            SaidCode::AlreadyOff => "already_off",
            SaidCode::CannotPower => "cannot_power",
            SaidCode::GoneFromPlatform => "gone_from_platform",
            SaidCode::GuestShutDown => "guest_shut_down",
            SaidCode::PoweredOffAfter => "powered_off_after",
            SaidCode::InNoProtectionGroup => "in_no_protection_group",
            SaidCode::Unprotected => "unprotected",
            SaidCode::NotRegistered => "not_registered",
            SaidCode::RegistrationOfOther => "registration_of_other",
            SaidCode::Deregistered => "deregistered",
            SaidCode::NotBilled => "not_billed",
            SaidCode::BillingStopped => "billing_stopped",
            SaidCode::VmDeleted => "vm_deleted",
            SaidCode::Gone => "gone",
            SaidCode::RecordedRetired => "recorded_retired",
            SaidCode::AlreadyRecordedRetired => "already_recorded_retired",
            SaidCode::KeptUntil => "kept_until",
            SaidCode::RetiringKept => "retiring_kept",
            SaidCode::AlreadyOn => "already_on",
            SaidCode::PoweredOn => "powered_on",
            SaidCode::AlreadyProtected => "already_protected",
            SaidCode::RegisteredAgain => "registered_again",
            SaidCode::BilledAgain => "billed_again",
            SaidCode::RecordedActive => "recorded_active",
            SaidCode::AlreadyRecordedActive => "already_recorded_active",
            SaidCode::LeaseNowEnds => "lease_now_ends",
            SaidCode::LeaseAlreadyEnds => "lease_already_ends",
            SaidCode::NeedsOff => "needs_off",
            SaidCode::AppliesAsIs => "applies_as_is",
            SaidCode::NotNeeded => "not_needed",
            SaidCode::AlreadyApplied => "already_applied",
            SaidCode::Applied => "applied",
            SaidCode::ChangeShown => "change_shown",
            SaidCode::NotPoweredOff => "not_powered_off",
            SaidCode::PoweredBackOn => "powered_back_on",
            SaidCode::BillingChanged => "billing_changed",
            SaidCode::RecordedChange => "recorded_change",
            SaidCode::AlreadyRecordedChange => "already_recorded_change",
            SaidCode::StepSucceeded => "step_succeeded",
            SaidCode::StepAttemptFailed => "step_attempt_failed",
            SaidCode::RulesApprove => "rules_approve",
            SaidCode::RulesRefuse => "rules_refuse",
            SaidCode::RulesRequire => "rules_require",
            SaidCode::NoRuleMatched => "no_rule_matched",
            SaidCode::ByRule => "by_rule",
            SaidCode::ByRules => "by_rules",
            SaidCode::LevelRole => "level_role",
            SaidCode::LevelUsers => "level_users",
            SaidCode::LevelUnit => "level_unit",
            SaidCode::LevelDivision => "level_division",
            SaidCode::JustAsked => "just_asked",
            SaidCode::ChangeOpen => "change_open",
            SaidCode::NoLeaseEnd => "no_lease_end",
            SaidCode::RetiringAtLeaseEnd => "retiring_at_lease_end",
            SaidCode::NotRestorable => "not_restorable",
            SaidCode::DeletionAsked => "deletion_asked",
            SaidCode::GraceEnded => "grace_ended",
            SaidCode::BeingRestored => "being_restored",
            SaidCode::ChangedMeanwhile => "changed_meanwhile",
            SaidCode::NotActive => "not_active",
            SaidCode::NothingToPower => "nothing_to_power",
            SaidCode::RetireAtLeaseEnd => "retire_at_lease_end",
            SaidCode::DeploymentRetires => "deployment_retires",
            SaidCode::DeleteAfterGrace => "delete_after_grace",
            SaidCode::GracePeriodOver => "grace_period_over",
            SaidCode::RestoreInGrace => "restore_in_grace",
            SaidCode::UndoNeedsNoApproval => "undo_needs_no_approval",
            SaidCode::VmNotOnPlatform => "vm_not_on_platform",
            SaidCode::VmsNotOnPlatform => "vms_not_on_platform",
            SaidCode::ClusterNotOnPlatform => "cluster_not_on_platform",
            SaidCode::RunNoFailed => "run_no_failed",
            SaidCode::RunEnded => "run_ended",
        }
    }
}

/// A line for people: its code, the values it names and, for a line made
/// of others (a reconcile's differences), those lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// Which line.
    pub code: SaidCode,
    /// What it names (`request`, `cluster`, …; see [`SaidCode`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// The lines it is made of, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Said>,
}

impl Said {
    /// `code` naming `values`.
    pub fn new<const N: usize>(code: SaidCode, values: [(&str, String); N]) -> Said {
        Said {
            code,
            values: values
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            parts: Vec::new(),
        }
    }

    /// `code`, naming nothing.
    pub fn just(code: SaidCode) -> Said {
        Said::new(code, [])
    }

    /// Text from elsewhere, shown as it is.
    pub fn text(text: impl Into<String>) -> Said {
        Said::new(SaidCode::Text, [("text", text.into())])
    }

    /// This line made of `parts`.
    pub fn with_parts(mut self, parts: Vec<Said>) -> Said {
        self.parts = parts;
        self
    }

    /// The value `key` names ("" when it names none).
    pub fn value(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }
}

impl From<&str> for Said {
    fn from(text: &str) -> Said {
        Said::text(text)
    }
}

impl From<String> for Said {
    fn from(text: String) -> Said {
        Said::text(text)
    }
}

impl fmt::Display for Said {
    /// The English line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SaidCode as C;
        let v = |k: &str| self.value(k);
        let parts = self
            .parts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        // A line whose first part says who and whose others list (the
        // levels of a rule's demand).
        let first = self
            .parts
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        let rest_then = self
            .parts
            .iter()
            .skip(1)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", then ");
        let changed = match v("change") {
            "retire" => "retired",
            "extend" => "extended",
            "reconfigure" => "changed",
            other => other,
        };
        let because = match v("because") {
            "pg" => " (its protection domain did not move)",
            "vm" => " (it did not move)",
            _ => "",
        };
        match self.code {
            C::Text => f.write_str(v("text")),
            C::Provisioned => write!(f, "provisioned by request {}", v("request")),
            C::Adopted => write!(
                f,
                "adopted for {}, cost center {}",
                v("owner"),
                v("cost_center")
            ),
            C::Asked => write!(f, "{} asked: request {}", v("kind"), v("request")),
            C::LeaseExtensionAsked => write!(
                f,
                "lease extension to {} asked by request {}",
                v("until"),
                v("request")
            ),
            C::LeaseExtended => write!(
                f,
                "lease extended to {} by request {}",
                v("until"),
                v("request")
            ),
            C::Restored => write!(f, "restored by request {}", v("request")),
            C::Retiring => write!(f, "retiring by request {}", v("request")),
            C::Retired => write!(f, "retired by request {}", v("request")),
            C::KeptOff => write!(
                f,
                "kept powered off until {} (grace period): restore it until then, deleted after",
                v("until")
            ),
            C::LeaseOver => write!(
                f,
                "lease ended on {}: retired by request {}",
                v("ended"),
                v("request")
            ),
            C::GraceOver => write!(f, "grace period over: deleted by request {}", v("request")),
            C::Reconfigured => write!(f, "changed by request {}", v("request")),
            C::LeaseNotice => write!(f, "lease notice: {} day(s) left", v("days")),
            C::LeaseEnded => f.write_str("lease notice: ended"),
            C::PowerDone => write!(f, "power {}: done", v("change")),
            C::PowerAlready => write!(f, "power {}: already {}", v("change"), v("power")),
            C::PowerForcedOff => write!(
                f,
                "power {}: the guest did not stop within {} s; powered off hard",
                v("change"),
                v("secs")
            ),
            C::PowerStillOn => write!(
                f,
                "power {}: the guest did not stop within {} s; still on",
                v("change"),
                v("secs")
            ),
            C::ReconcilePower => write!(f, "reconcile: power {}", v("power")),
            C::ReconcileMatches => f.write_str("reconcile: matches the platform again"),
            C::ReconcileDrift => {
                f.write_str("reconcile: ")?;
                for (i, p) in self.parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            C::DriftDeleted => f.write_str("deleted outside Butler"),
            C::DriftResized => write!(
                f,
                "resized outside Butler: {} recorded, {} found",
                v("recorded"),
                v("found")
            ),
            C::DriftMoved => write!(f, "moved outside Butler from {} to {}", v("from"), v("to")),
            C::Migrated => write!(
                f,
                "migrated from {} to {} by run {}",
                v("from"),
                v("to"),
                v("run")
            ),
            C::MigrationPoweredOff => write!(f, "powered off by migration run {}", v("run")),
            C::MigrationPoweredOn => write!(
                f,
                "powered on again on {} by migration run {}",
                v("cluster"),
                v("run")
            ),
            C::LeftOffWhileMoved => f.write_str("left powered off while the platform moves it"),
            C::LeftOffWhileMigrated => {
                f.write_str("left powered off while the platform migrates it")
            }
            C::PoweredOffGuest => f.write_str("powered off before migrating (guest shut down)"),
            C::PoweredOffForced => write!(
                f,
                "powered off before migrating (the guest did not shut down within {} s: power cut)",
                v("secs")
            ),
            C::RunningOn => write!(f, "running on {}{because}", v("cluster")),
            C::PoweredOnAgain => write!(f, "powered on again on {}{because}", v("cluster")),
            C::LeftOff => write!(f, "left powered off: {}", v("reason")),
            C::ProjectRemapped => write!(f, "project {} → {}", v("from"), v("to")),
            C::ProjectKept => write!(f, "project {} kept", v("project")),
            C::NoProject => f.write_str("no project"),
            C::SchedulesRecreated => write!(f, "{} schedule(s) recreated", v("count")),
            C::AccountedWhenClosed => {
                f.write_str("accounted for when the interrupted run was closed")
            }
            C::FoundWhenClosed => {
                f.write_str("found on the destination when the interrupted run was closed")
            }
            C::OnDestination => write!(f, "on {}", v("cluster")),
            C::PostMoveOnly => {
                f.write_str("on the destination before this run: post-move steps only")
            }
            C::OnDestinationAlthough => {
                write!(f, "on the destination although: {}", v("reason"))
            }
            C::VmFound => write!(f, "found VM {} ({}) made earlier", v("vm"), v("uuid")),
            C::VmCreated => write!(f, "created VM {} ({})", v("vm"), v("uuid")),
            C::SkippedByConfiguration => f.write_str("skipped by configuration"),
            C::NoProtectionGroups => f.write_str("skipped: the platform has no protection groups"),
            C::NoBackups => f.write_str("no backups requested"),
            C::ProtectedByPolicy => write!(f, "protected by policy ({})", v("group")),
            C::ProtectedIn => write!(
                f,
                "protected in {} with {} schedule(s)",
                v("group"),
                v("count")
            ),
            C::AlreadyRegistered => f.write_str("already registered"),
            C::Registered => write!(f, "registered with address {}", v("address")),
            C::AlreadyBilled => f.write_str("already active"),
            C::Billed => write!(f, "billing active for cost center {}", v("cost_center")),
            C::Recorded => write!(f, "recorded in the inventory as {}", v("vm")),
            C::AlreadyRecorded => write!(f, "already in the inventory as {}", v("vm")),
            C::AlreadyGone => f.write_str("already gone from the platform"),
            C::AlreadyOff => f.write_str("already off"),
            C::CannotPower => {
                f.write_str("skipped: the platform cannot power VMs (the delete powers it off)")
            }
            C::GoneFromPlatform => f.write_str("gone from the platform"),
            C::GuestShutDown => f.write_str("guest shut down"),
            C::PoweredOffAfter => write!(
                f,
                "powered off (the guest did not shut down within {} s)",
                v("secs")
            ),
            C::InNoProtectionGroup => f.write_str("in no protection group"),
            C::Unprotected => write!(f, "removed from protection group(s) {}", v("groups")),
            C::NotRegistered => f.write_str("not registered"),
            C::RegistrationOfOther => write!(
                f,
                "the registration of {} is another VM's ({}): kept",
                v("vm"),
                v("uuid")
            ),
            C::Deregistered => f.write_str("deregistered from monitoring"),
            C::NotBilled => f.write_str("not billed"),
            C::BillingStopped => write!(
                f,
                "billing stopped for cost center {} after {}",
                v("cost_center"),
                v("end")
            ),
            C::VmDeleted => write!(f, "deleted VM {} ({})", v("vm"), v("uuid")),
            C::Gone => f.write_str("gone"),
            C::RecordedRetired => write!(f, "{}; recorded retired in the inventory", parts),
            C::AlreadyRecordedRetired => write!(f, "{}; already recorded retired", parts),
            C::KeptUntil => write!(
                f,
                "kept powered off until {}: deleted then unless restored",
                v("until")
            ),
            C::RetiringKept => write!(f, "retiring: kept until {}, then deleted", v("until")),
            C::AlreadyOn => f.write_str("already on"),
            C::PoweredOn => f.write_str("powered on"),
            C::AlreadyProtected => write!(f, "already protected in {}", v("group")),
            C::RegisteredAgain => write!(f, "registered again with address {}", v("address")),
            C::BilledAgain => write!(
                f,
                "billing active again for cost center {}",
                v("cost_center")
            ),
            C::RecordedActive => f.write_str("recorded active in the inventory"),
            C::AlreadyRecordedActive => f.write_str("already recorded active"),
            C::LeaseNowEnds => write!(f, "the lease now ends on {}", v("until")),
            C::LeaseAlreadyEnds => write!(
                f,
                "the lease already ends on {}, or the VM is retired",
                v("until")
            ),
            C::NeedsOff => write!(f, "needs the VM off: {}", v("why")),
            C::AppliesAsIs => f.write_str("can be applied as the VM is"),
            C::NotNeeded => f.write_str("not needed"),
            C::AlreadyApplied => f.write_str("already applied"),
            C::Applied => write!(
                f,
                "{} vCPU, {} GiB RAM, disks {} GiB, NICs {} (was {} vCPU, {} GiB, {}, {})",
                v("vcpus"),
                v("ram"),
                v("disks"),
                v("nics"),
                v("was_vcpus"),
                v("was_ram"),
                v("was_disks"),
                v("was_nics")
            ),
            C::ChangeShown => f.write_str("the platform shows the change"),
            C::NotPoweredOff => f.write_str("not needed: the flow did not power it off"),
            C::PoweredBackOn => f.write_str("powered on again"),
            C::BillingChanged => write!(
                f,
                "billing at {} {} a month from {}",
                v("total"),
                v("currency"),
                v("from")
            ),
            C::RecordedChange => f.write_str("recorded in the inventory"),
            C::AlreadyRecordedChange => f.write_str("already recorded"),
            C::StepSucceeded if self.parts.is_empty() => write!(f, "{} done", v("step")),
            C::StepSucceeded => write!(f, "{} done: {parts}", v("step")),
            C::StepAttemptFailed => write!(
                f,
                "{} attempt {} failed: {}",
                v("step"),
                v("attempt"),
                v("reason")
            ),
            C::RulesApprove => write!(
                f,
                "approved automatically by {} (rules v{})",
                first,
                v("version")
            ),
            C::RulesRefuse => write!(
                f,
                "refused by {} (rules v{}): {}",
                first,
                v("version"),
                v("reason")
            ),
            C::RulesRequire => write!(
                f,
                "needs approval by {} ({}, rules v{})",
                rest_then,
                first,
                v("version")
            ),
            C::NoRuleMatched => f.write_str("no rule matched"),
            C::ByRule => write!(f, "rule {}", v("rules")),
            C::ByRules => write!(f, "rules {}", v("rules")),
            C::LevelRole => write!(f, "{}", v("role")),
            C::LevelUsers => write!(f, "{} ({})", v("role"), v("users")),
            C::LevelUnit => write!(f, "{} (the unit's)", v("role")),
            C::LevelDivision => write!(f, "{} (the division's)", v("role")),
            C::JustAsked => write!(f, "VM {} was just asked for by another request: reload it", v("vm")),
            C::ChangeOpen => write!(f, "VM {} has request {} ({}, {}) open: wait for it to end, or ask an approver to reject it", v("vm"), v("request"), v("kind"), v("state")),
            C::NoLeaseEnd => write!(f, "VM {} has no lease end to extend", v("vm")),
            C::RetiringAtLeaseEnd => write!(f, "VM {} is being retired at its lease end (request {})", v("vm"), v("request")),
            C::NotRestorable => write!(f, "VM {} is {}: only a VM kept powered off in its retirement's grace period can be restored", v("vm"), v("lifecycle")),
            C::DeletionAsked => write!(f, "Butler has asked the deletion of VM {} (request {}): it can no longer be restored", v("vm"), v("request")),
            C::GraceEnded => write!(f, "the grace period of VM {} ended at {}: it can no longer be restored", v("vm"), v("until")),
            C::BeingRestored => write!(f, "VM {} is being restored by request {}", v("vm"), v("request")),
            C::ChangedMeanwhile => write!(f, "VM {} changed meanwhile: look again", v("vm")),
            C::NotActive => write!(f, "VM {} is {}: it cannot be {}", v("vm"), v("lifecycle"), changed),
            C::NothingToPower => write!(f, "VM {} is retired: there is nothing to power", v("vm")),
            C::RetireAtLeaseEnd => write!(f, "retire {} ({}): its lease ended on {}", v("vm"), v("record"), v("ended")),
            C::DeploymentRetires => f.write_str("the deployment retires VMs at the end of their lease"),
            C::DeleteAfterGrace => write!(f, "delete {} ({}): its retirement kept it powered off until {}", v("vm"), v("record"), v("until")),
            C::GracePeriodOver => f.write_str("the retirement's grace period is over"),
            C::RestoreInGrace => write!(f, "restore {} ({}) within its grace period", v("vm"), v("record")),
            C::UndoNeedsNoApproval => f.write_str("an undo within the grace period needs no approval"),
            C::VmNotOnPlatform => write!(f, "VM {} is not on the platform", v("quoted")),
            C::VmsNotOnPlatform => write!(f, "VM {} and {} more are not on the platform", v("quoted"), v("more")),
            C::ClusterNotOnPlatform => write!(f, "cluster {} is not on the platform", v("quoted")),
            C::RunNoFailed => write!(f, "run {} has no failed VMs", v("run")),
            C::RunEnded => write!(f, "run {} has ended", v("run")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_serialised_as_its_name() {
        for c in SaidCode::ALL {
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(serde_json::Value::String(c.as_str().into()))
            );
        }
    }

    #[test]
    fn a_line_reads_back_as_it_was_written_and_in_english() {
        let s = Said::new(
            SaidCode::PoweredOnAgain,
            [("cluster", "c2".into()), ("because", "pg".into())],
        );
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Said>(&json).ok(), Some(s.clone()));
        assert_eq!(
            s.to_string(),
            "powered on again on c2 (its protection domain did not move)"
        );
        let drift = Said::just(SaidCode::ReconcileDrift).with_parts(vec![
            Said::just(SaidCode::DriftDeleted),
            Said::new(
                SaidCode::DriftMoved,
                [("from", "a".into()), ("to", "b".into())],
            ),
        ]);
        assert_eq!(
            drift.to_string(),
            "reconcile: deleted outside Butler; moved outside Butler from a to b"
        );
        assert_eq!(Said::from("as it is").to_string(), "as it is");
    }
}
