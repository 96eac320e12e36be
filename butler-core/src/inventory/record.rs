//! The inventory's records, pure: what a VM record holds, its query, and
//! the comparison with what the platform reports.

use crate::backend::{PowerChange, PowerState, VmInfo, VmSize};
use crate::request::{Request, RequestId};
use crate::said::{Said, SaidCode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A VM record's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VmId(pub u64);

impl fmt::Display for VmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vm-{}", self.0)
    }
}

/// Where a VM is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// In use.
    Active,
    /// Being retired (a decommission is under way or in its grace period).
    Retiring,
    /// Gone: deleted on the platform, billing stopped.
    Retired,
}

impl Lifecycle {
    /// Its name (`active`).
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Retiring => "retiring",
            Lifecycle::Retired => "retired",
        }
    }

    /// The lifecycle named `name`.
    pub fn from_name(name: &str) -> Option<Lifecycle> {
        [Lifecycle::Active, Lifecycle::Retiring, Lifecycle::Retired]
            .into_iter()
            .find(|l| l.as_str() == name)
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a VM was built as (or, adopted, found as).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltSpec {
    /// vCPUs.
    pub vcpus: u32,
    /// RAM GiB.
    pub ram_gib: u32,
    /// Disk sizes GiB.
    pub disks_gib: Vec<u32>,
    /// Subnet of each NIC.
    pub nics: Vec<String>,
    /// The image cloned onto disk 0, if any.
    pub image: Option<String>,
}

/// Something a reconcile found changed outside Butler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Drift {
    /// The platform no longer has the VM.
    Deleted,
    /// Its size differs from the record's.
    Resized {
        /// The record's spec.
        recorded: BuiltSpec,
        /// What the platform reports.
        found: BuiltSpec,
    },
    /// It is on another cluster.
    Moved {
        /// The record's cluster.
        from: String,
        /// Where the platform has it.
        to: String,
    },
}

impl Drift {
    /// The difference as a line for people.
    pub fn said(&self) -> Said {
        let size = |s: &BuiltSpec| {
            format!(
                "{} vCPU / {} GiB / disks {:?}",
                s.vcpus, s.ram_gib, s.disks_gib
            )
        };
        match self {
            Drift::Deleted => Said::just(SaidCode::DriftDeleted),
            Drift::Resized { recorded, found } => Said::new(
                SaidCode::DriftResized,
                [("recorded", size(recorded)), ("found", size(found))],
            ),
            Drift::Moved { from, to } => Said::new(
                SaidCode::DriftMoved,
                [("from", from.clone()), ("to", to.clone())],
            ),
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.said().fmt(f)
    }
}

/// One line of a VM's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a user, or `butler` for the engine and the reconcile).
    pub actor: String,
    /// What happened, in a line (English).
    pub what: String,
    /// The same line as a code and its values, for a user interface to
    /// word in its language; `None` for text from elsewhere and for lines
    /// written before Butler kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<Said>,
}

impl VmEvent {
    /// The line `said` by `actor` at `at`.
    pub fn new(at: DateTime<Utc>, actor: &str, said: Said) -> VmEvent {
        VmEvent {
            at,
            actor: actor.to_string(),
            what: said.to_string(),
            said: (said.code != SaidCode::Text).then_some(said),
        }
    }

    /// The line as a code and its values (text as it is when it has none).
    pub fn said(&self) -> Said {
        self.said
            .clone()
            .unwrap_or_else(|| Said::text(self.what.clone()))
    }
}

/// A notice in a VM's outbox, and the notifiers that have delivered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingNotice {
    /// The notice.
    pub notice: super::notice::VmNotice,
    /// Notifiers done with it (delivered, or given up for good).
    #[serde(default)]
    pub done: BTreeSet<String>,
}

/// A VM Butler manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRecord {
    /// Its number.
    pub id: VmId,
    /// Bumped by every change (the store checks it).
    pub version: u64,
    /// Its name on the platform (`<name>-r<request>` for VMs Butler made).
    pub name: String,
    /// The name its owner gave it.
    pub display_name: String,
    /// The request that made it (`None`: adopted).
    pub request: Option<RequestId>,
    /// Its owner (who sees it and may power it).
    pub owner: String,
    /// Division.
    pub division: String,
    /// Unit.
    pub unit: String,
    /// Environment.
    pub environment: String,
    /// Cost center billed.
    pub cost_center: String,
    /// Cluster it runs on.
    pub cluster: String,
    /// What it was built as.
    pub spec: BuiltSpec,
    /// The platform's id for it.
    pub platform_id: String,
    /// Its power, as last seen.
    pub power: PowerState,
    /// The day its lease ends, if it has one ([`lease_end`]): notices go
    /// out before, and from that day it is retired where the deployment
    /// says so ([`super::LeaseWatch`]).
    pub lease_end: Option<NaiveDate>,
    /// Where it is in its life.
    pub lifecycle: Lifecycle,
    /// What the last reconcile found changed outside Butler (empty: none).
    pub drift: Vec<Drift>,
    /// When the record was made.
    pub created_at: DateTime<Utc>,
    /// Its history, oldest first.
    pub history: Vec<VmEvent>,
    /// The last reconfigure applied to it, if any: its spec and estimate
    /// are the VM's as approved now (else [`request`](Self::request)'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<RequestId>,
    /// The fewest days left a lease notice announced for the current lease
    /// end (0: that it ended); `None`: none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_noticed: Option<u32>,
    /// Notices about the VM not yet delivered by every notifier: the VM's
    /// own outbox, written in the same update as the change it announces
    /// and emptied by [`super::VmNotices`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<PendingNotice>,
    /// The decommission Butler asked when the lease ended, where the
    /// deployment retires VMs at lease end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_retirement: Option<RequestId>,
    /// The last lease extension asked for it: while that request waits or
    /// runs, the lease watch does not retire the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_extension: Option<RequestId>,
    /// Until when its retirement keeps it powered off before deleting it
    /// (the engine's `retirement_grace` setting);
    /// it can be restored until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<DateTime<Utc>>,
    /// The deletion Butler asked once the grace period was over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<RequestId>,
    /// The restore asked within the grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RequestId>,
    /// How many times it was restored (each restore starts a new life for
    /// billing, [`BillingActivation::restores`](crate::backend::BillingActivation::restores)).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restores: u32,
    /// The day-2 request a person last asked for it (decommission,
    /// reconfigure, lease extension): while that one waits or runs, no
    /// other is taken, so two changes never race on one VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_change: Option<RequestId>,
    /// The changes of its billable state since it was made (power, size,
    /// retirement), oldest first; empty while it stands as made
    /// ([`VmRecord::life_marks`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub life: Vec<super::LifeMark>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The day a lease of `days` days that starts on `at`'s day (UTC) ends, on
/// which the VM stops being leased: a lease of 30 days from 1 March ends on
/// 31 March. `None` past the calendar's end.
pub fn lease_end(at: DateTime<Utc>, days: u32) -> Option<NaiveDate> {
    at.date_naive()
        .checked_add_days(chrono::Days::new(u64::from(days)))
}

impl VmRecord {
    /// The record of the VM `request` made (the platform's id for it
    /// `platform_id`), numbered `id`; provisioning leaves it on.
    pub fn provisioned(
        id: VmId,
        request: &Request,
        platform_id: &str,
        at: DateTime<Utc>,
    ) -> VmRecord {
        let s = &request.spec;
        VmRecord {
            id,
            version: 1,
            name: request.platform_vm_name(),
            display_name: s.name.clone(),
            request: Some(request.id),
            owner: request.owner.clone(),
            division: s.division.clone(),
            unit: s.unit.clone(),
            environment: s.environment.clone(),
            cost_center: s.derived().cost_center.clone(),
            cluster: s.cluster.clone(),
            spec: BuiltSpec {
                vcpus: s.vcpus(),
                ram_gib: s.ram_gib,
                disks_gib: s.disks_gib.clone(),
                nics: s.nics.clone(),
                image: s.image.clone(),
            },
            platform_id: platform_id.to_string(),
            power: PowerState::On,
            lease_end: s.lease_days.and_then(|d| lease_end(at, d)),
            lifecycle: Lifecycle::Active,
            drift: Vec::new(),
            created_at: at,
            history: vec![VmEvent::new(
                at,
                "butler",
                Said::new(SaidCode::Provisioned, [("request", request.id.to_string())]),
            )],
            last_change: None,
            lease_noticed: None,
            outbox: Vec::new(),
            lease_retirement: None,
            lease_extension: None,
            kept_until: None,
            deletion: None,
            restore: None,
            restores: 0,
            open_change: None,
            life: Vec::new(),
        }
    }

    /// The record of a VM that predates Butler, adopted by `actor` for
    /// `owner` and `cost_center`, as the platform reports it.
    pub fn adopted(
        id: VmId,
        vm: &VmInfo,
        owner: &str,
        cost_center: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> VmRecord {
        VmRecord {
            id,
            version: 1,
            name: vm.name.clone(),
            display_name: vm.name.clone(),
            request: None,
            owner: owner.to_string(),
            division: String::new(),
            unit: String::new(),
            environment: String::new(),
            cost_center: cost_center.to_string(),
            cluster: vm.cluster.clone(),
            spec: found_spec(vm),
            platform_id: vm.uuid.clone(),
            power: vm.power,
            lease_end: None,
            lifecycle: Lifecycle::Active,
            drift: Vec::new(),
            created_at: at,
            history: vec![VmEvent::new(
                at,
                actor,
                Said::new(
                    SaidCode::Adopted,
                    [
                        ("owner", owner.to_string()),
                        ("cost_center", cost_center.to_string()),
                    ],
                ),
            )],
            last_change: None,
            lease_noticed: None,
            outbox: Vec::new(),
            lease_retirement: None,
            lease_extension: None,
            kept_until: None,
            deletion: None,
            restore: None,
            restores: 0,
            open_change: None,
            life: (vm.power == PowerState::Off)
                .then_some(super::LifeMark {
                    at,
                    state: super::LifeState {
                        off: true,
                        ..super::LifeState::START
                    },
                })
                .into_iter()
                .collect(),
        }
    }

    /// The record one version on, with `what` done by `actor` at `at`
    /// added to its history.
    pub fn next(&self, actor: &str, at: DateTime<Utc>, what: impl Into<Said>) -> VmRecord {
        let mut r = self.clone();
        r.version += 1;
        r.history.push(VmEvent::new(at, actor, what.into()));
        r
    }
}

/// What the platform reports of a VM, as a [`BuiltSpec`].
pub fn found_spec(vm: &VmInfo) -> BuiltSpec {
    BuiltSpec {
        vcpus: vm.vcpus,
        ram_gib: vm.ram_gib,
        disks_gib: vm.disks_gib.clone(),
        nics: vm.nics.clone(),
        image: None,
    }
}

/// What the reconcile reads of a record: enough to compare it with the
/// platform, decoded from the stored record without the rest (its history
/// above all), which a pass over a million records would only allocate
/// and free.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VmShape {
    /// Its number.
    pub id: VmId,
    /// The platform-wide name.
    pub name: String,
    /// The cluster it was last known on.
    pub cluster: String,
    /// Its power as last read.
    pub power: PowerState,
    /// The spec as built (or last changed).
    pub spec: BuiltSpec,
    /// What the last reconcile found changed outside Butler.
    #[serde(default)]
    pub drift: Vec<Drift>,
}

impl From<VmRecord> for VmShape {
    fn from(r: VmRecord) -> Self {
        VmShape {
            id: r.id,
            name: r.name,
            cluster: r.cluster,
            power: r.power,
            spec: r.spec,
            drift: r.drift,
        }
    }
}

/// What differs between a record and what the platform reports of its VM
/// (`None`: the platform no longer has it). Power is not drift: it is
/// simply read.
pub fn drift(record: &VmRecord, found: Option<&VmInfo>) -> Vec<Drift> {
    let found = found.cloned().map(VmSize::from);
    drift_from(&record.cluster, &record.spec, found.as_ref())
}

/// [`drift`] of a record on `cluster` built as `spec`, against what a
/// reconcile lists of its VM.
pub fn drift_from(cluster: &str, spec: &BuiltSpec, found: Option<&VmSize>) -> Vec<Drift> {
    let Some(vm) = found else {
        return vec![Drift::Deleted];
    };
    let mut out = Vec::new();
    if *vm.cluster != *cluster {
        out.push(Drift::Moved {
            from: cluster.to_string(),
            to: vm.cluster.to_string(),
        });
    }
    let r = spec;
    // Compared in place: a reconcile of a million VMs that match copies
    // nothing.
    if (vm.vcpus, vm.ram_gib, &vm.disks_gib) != (r.vcpus, r.ram_gib, &r.disks_gib) {
        out.push(Drift::Resized {
            recorded: BuiltSpec {
                image: None,
                ..r.clone()
            },
            found: BuiltSpec {
                vcpus: vm.vcpus,
                ram_gib: vm.ram_gib,
                disks_gib: vm.disks_gib.clone(),
                nics: vm.nics.iter().map(ToString::to_string).collect(),
                image: None,
            },
        });
    }
    out
}

/// A list of VM records: filters and a page. Newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmQuery {
    /// Only this owner.
    pub owner: Option<String>,
    /// Only on this cluster.
    pub cluster: Option<String>,
    /// Only in these lifecycles (empty: all).
    pub lifecycles: Vec<Lifecycle>,
    /// Only this cost center.
    pub cost_center: Option<String>,
    /// Only those a reconcile found changed.
    pub drifted: bool,
    /// Only records whose lease ends on or before this day.
    #[serde(default)]
    pub lease_ends_by: Option<NaiveDate>,
    /// Only records with notices waiting in their outbox.
    #[serde(default)]
    pub notices_pending: bool,
    /// Only records numbered below this one (keyset paging: pass the last
    /// id of a page to get the next, at the same cost however deep). A
    /// keyset page does not count the rest: its `total` is its own rows.
    #[serde(default)]
    pub before: Option<VmId>,
    /// Only records numbered above this one (with `before`, a range of
    /// numbers that a reader can page through on its own).
    #[serde(default)]
    pub after: Option<VmId>,
    /// Rows to skip.
    pub offset: usize,
    /// Rows to return (`None`: all).
    pub limit: Option<usize>,
}

impl Default for VmQuery {
    fn default() -> Self {
        VmQuery {
            owner: None,
            cluster: None,
            lifecycles: Vec::new(),
            cost_center: None,
            drifted: false,
            lease_ends_by: None,
            notices_pending: false,
            before: None,
            after: None,
            offset: 0,
            limit: Some(50),
        }
    }
}

impl VmQuery {
    /// Whether `r` passes the filters (ignoring paging).
    pub fn matches(&self, r: &VmRecord) -> bool {
        self.owner.as_ref().is_none_or(|o| *o == r.owner)
            && self.cluster.as_ref().is_none_or(|c| *c == r.cluster)
            && (self.lifecycles.is_empty() || self.lifecycles.contains(&r.lifecycle))
            && self
                .cost_center
                .as_ref()
                .is_none_or(|c| *c == r.cost_center)
            && (!self.drifted || !r.drift.is_empty())
            && self
                .lease_ends_by
                .is_none_or(|by| r.lease_end.is_some_and(|end| end <= by))
            && (!self.notices_pending || !r.outbox.is_empty())
            && self.before.is_none_or(|b| r.id < b)
            && self.after.is_none_or(|a| r.id > a)
    }
}

/// What a power request asks for: the change, and for a guest shutdown
/// whether to cut the power when the guest has not shut down in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerRequest {
    /// The change.
    pub change: PowerChange,
    /// For a guest shutdown: power off hard once the deadline passes.
    pub force_after_deadline: bool,
}
