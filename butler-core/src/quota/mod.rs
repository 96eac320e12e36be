//! Quotas (SPEC §13): how much each division, unit and requester may hold
//! in vCPUs, RAM, storage, VMs and monthly cost, and what they hold now.
//!
//! **What counts.** A new VM's request holds its share from the moment it
//! is submitted until it is rejected or cancelled, or, once provisioned,
//! until its VM is retired (deleted): submitted, approved, provisioning,
//! in error and completed requests all count, so concurrent submits can
//! never admit more than a quota fits. A VM in its retirement's grace
//! period still holds its share (it can be restored). A reconfigure holds
//! what it adds (per dimension, never less than nothing) while it waits or
//! runs; once applied the VM holds its new size. An adopted VM holds its
//! size as found. Each of these is a [`Hold`] of one [`Holder`], counted
//! once in each of its three [`Scope`]s.
//!
//! **When it is checked.** At submit and at every approval (each level),
//! and whenever an approver's edit grows a request: in the same atomic
//! store write that sets the hold ([`crate::store::QuotaStore::hold`]),
//! so 1,000 submits at once against a quota that fits 100 admit exactly
//! 100, on every store. A change is refused when a scope would end above
//! a limit in a dimension where the change holds something and does not
//! hold less than before ([`apply`]): an approval of a request already
//! counted is refused while its scope is over a limit an Admin lowered,
//! a shrinking reconfigure or a release never is.
//!
//! Quotas are written beside the approval rules (`[[quota]]` tables,
//! versioned with them):
//!
//! ```
//! use butler_core::rules::Rules;
//! let rules: Rules = toml::from_str(r#"
//!     [[quota]]
//!     division = "D1"
//!     vcpus = 400
//!     monthly_cost = "20000"
//!
//!     [[quota]]
//!     requester = "*"      # each requester without a quota of their own
//!     vms = 10
//! "#)?;
//! assert_eq!(rules.quotas[1].limits.vms, Some(10));
//! # Ok::<(), toml::de::Error>(())
//! ```

mod book;
mod held;
#[cfg(test)]
mod tests;

pub(crate) use book::{check, limits_for};
pub use book::{Quota, QuotaLine, QuotaPreview, EVERY_REQUESTER, MAX_QUOTAS};
pub(crate) use held::after_engine_write;
pub use held::{freed_by, hold_of, holder_of, vm_hold};

use crate::inventory::VmId;
use crate::request::RequestId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Where a share counts: a division, a unit (by code) or a requester (by
/// identity, [`crate::auth::identity_key`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Scope {
    /// A corporate division.
    Division(String),
    /// A management unit.
    Unit(String),
    /// A requester.
    Requester(String),
}

impl Scope {
    /// The key a store files its usage under (`division:D1`).
    pub fn key(&self) -> String {
        let (kind, name) = self.parts();
        format!("{kind}:{name}")
    }

    /// The scope a [`key`](Self::key) names.
    pub fn from_key(key: &str) -> Option<Scope> {
        let (kind, name) = key.split_once(':')?;
        let name = name.to_string();
        match kind {
            "division" => Some(Scope::Division(name)),
            "unit" => Some(Scope::Unit(name)),
            "requester" => Some(Scope::Requester(name)),
            _ => None,
        }
    }

    /// Its kind (`division`, `unit`, `requester`) and name.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Scope::Division(n) => ("division", n),
            Scope::Unit(n) => ("unit", n),
            Scope::Requester(n) => ("requester", n),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = self.parts();
        write!(f, "{kind} {name}")
    }
}

/// An amount of each thing a quota limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Share {
    /// vCPUs.
    pub vcpus: u64,
    /// RAM, GiB.
    pub ram_gib: u64,
    /// Disk, GiB.
    pub storage_gib: u64,
    /// VMs.
    pub vms: u64,
    /// Monthly cost, in the rate card's currency.
    pub monthly_cost: Decimal,
}

/// The dimensions of a [`Share`], by name, in the order reports list them.
pub const DIMENSIONS: [&str; 5] = ["vcpus", "ram_gib", "storage_gib", "vms", "monthly_cost"];

impl Share {
    /// One VM of `spec`'s size costing `monthly_cost` a month.
    pub fn vm(spec: &crate::vm_spec::VmSpec, monthly_cost: Decimal) -> Share {
        Share {
            vcpus: u64::from(spec.vcpus()),
            ram_gib: u64::from(spec.ram_gib),
            storage_gib: spec.storage_gib(),
            vms: 1,
            monthly_cost,
        }
    }

    /// What `self` holds beyond `current`, per dimension (nothing where it
    /// holds less), and no VM: what a reconfigure from `current` adds.
    pub fn beyond(&self, current: &Share) -> Share {
        Share {
            vcpus: self.vcpus.saturating_sub(current.vcpus),
            ram_gib: self.ram_gib.saturating_sub(current.ram_gib),
            storage_gib: self.storage_gib.saturating_sub(current.storage_gib),
            vms: 0,
            monthly_cost: (self.monthly_cost - current.monthly_cost).max(Decimal::ZERO),
        }
    }

    /// The value of dimension `d` (one of [`DIMENSIONS`]).
    pub fn get(&self, d: &str) -> Decimal {
        match d {
            "vcpus" => self.vcpus.into(),
            "ram_gib" => self.ram_gib.into(),
            "storage_gib" => self.storage_gib.into(),
            "vms" => self.vms.into(),
            _ => self.monthly_cost,
        }
    }

    pub(crate) fn add(&mut self, o: &Share) {
        self.vcpus = self.vcpus.saturating_add(o.vcpus);
        self.ram_gib = self.ram_gib.saturating_add(o.ram_gib);
        self.storage_gib = self.storage_gib.saturating_add(o.storage_gib);
        self.vms = self.vms.saturating_add(o.vms);
        self.monthly_cost = self.monthly_cost.saturating_add(o.monthly_cost);
    }

    pub(crate) fn sub(&mut self, o: &Share) {
        self.vcpus = self.vcpus.saturating_sub(o.vcpus);
        self.ram_gib = self.ram_gib.saturating_sub(o.ram_gib);
        self.storage_gib = self.storage_gib.saturating_sub(o.storage_gib);
        self.vms = self.vms.saturating_sub(o.vms);
        self.monthly_cost = (self.monthly_cost - o.monthly_cost).max(Decimal::ZERO);
    }

    /// Whether it holds nothing.
    pub fn is_zero(&self) -> bool {
        *self == Share::default()
    }
}

/// The most a scope may hold; an unset limit is no limit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// vCPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<u64>,
    /// RAM, GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_gib: Option<u64>,
    /// Disk, GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_gib: Option<u64>,
    /// VMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vms: Option<u64>,
    /// Monthly cost, in the rate card's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_cost: Option<Decimal>,
}

impl Limits {
    /// The limit of dimension `d` (one of [`DIMENSIONS`]), if set.
    pub fn get(&self, d: &str) -> Option<Decimal> {
        match d {
            "vcpus" => self.vcpus.map(Into::into),
            "ram_gib" => self.ram_gib.map(Into::into),
            "storage_gib" => self.storage_gib.map(Into::into),
            "vms" => self.vms.map(Into::into),
            _ => self.monthly_cost,
        }
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// What holds a share: a new VM's request (and, once made, its VM), a
/// reconfigure's increase, or an adopted VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Holder {
    /// A new VM, from submit to retirement.
    Request(RequestId),
    /// What a reconfigure adds while it waits or runs.
    Change(RequestId),
    /// A VM adopted by an Admin.
    Vm(VmId),
}

impl Holder {
    /// The key a store files the hold under (`r:12`).
    pub fn key(&self) -> String {
        match self {
            Holder::Request(r) => format!("r:{}", r.0),
            Holder::Change(r) => format!("c:{}", r.0),
            Holder::Vm(v) => format!("v:{}", v.0),
        }
    }

    /// What holds an inventory VM's share: the request that made it, or
    /// the VM itself when adopted.
    pub fn of_vm(vm: &crate::inventory::VmRecord) -> Holder {
        vm.request.map_or(Holder::Vm(vm.id), Holder::Request)
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Request(r) => write!(f, "request {}", r.0),
            Holder::Change(r) => write!(f, "reconfigure {}", r.0),
            Holder::Vm(v) => write!(f, "VM {}", v.0),
        }
    }
}

/// A holder's share and the scopes it counts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Who holds it.
    pub holder: Holder,
    /// The division's code.
    pub division: String,
    /// The unit's code.
    pub unit: String,
    /// The requester (owner), as an identity key.
    pub requester: String,
    /// How much.
    pub share: Share,
}

impl Hold {
    /// `holder`'s hold of `share` for a request or VM of `division`,
    /// `unit`, owned by `owner`.
    pub fn new(holder: Holder, division: &str, unit: &str, owner: &str, share: Share) -> Hold {
        Hold {
            holder,
            division: division.to_string(),
            unit: unit.to_string(),
            requester: crate::auth::identity_key(owner),
            share,
        }
    }

    /// The scopes it counts in: its division, unit and requester (an
    /// adopted VM has no division or unit: its requester alone).
    pub fn scopes(&self) -> Vec<Scope> {
        [
            Scope::Division(self.division.clone()),
            Scope::Unit(self.unit.clone()),
            Scope::Requester(self.requester.clone()),
        ]
        .into_iter()
        .filter(|s| !s.parts().1.is_empty())
        .collect()
    }
}

/// One change to the holds: set a holder's hold, or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldChange {
    /// The holder holds this from now on (replacing what it held).
    Set(Hold),
    /// The holder holds nothing from now on.
    Release(Holder),
}

impl HoldChange {
    /// The holder changed.
    pub fn holder(&self) -> Holder {
        match self {
            HoldChange::Set(h) => h.holder,
            HoldChange::Release(h) => *h,
        }
    }
}

/// What a scope holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// The scope.
    pub scope: Scope,
    /// What its holders hold together.
    pub used: Share,
}

/// A change refused because a scope would be over its quota; nothing was
/// written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("quota exceeded: {scope} may use {limit} {dimension}; this would bring it to {would_use} ({used} in use)")]
pub struct QuotaExceeded {
    /// The scope over its quota.
    pub scope: Scope,
    /// Which limit (one of [`DIMENSIONS`]).
    pub dimension: String,
    /// The limit.
    pub limit: Decimal,
    /// What the scope holds now.
    pub used: Decimal,
    /// What it would hold after the change.
    pub would_use: Decimal,
}

/// The limits of the scopes a change touches, as the store checks them.
pub type ScopeLimits = Vec<(Scope, Limits)>;

/// Applies `changes` to `usage` (every scope they touch, missing ones
/// holding nothing), given what their holders `held` before, and checks
/// `limits`: the one computation every store makes inside its atomic
/// write. Returns the holds to store (a `None` is a release) or the first
/// refusal, in which case the caller writes nothing.
///
/// A scope with limits refuses when, in some dimension, it would end above
/// its limit while the change holds something there and does not hold
/// less there than before.
pub fn apply(
    changes: &[HoldChange],
    held: &BTreeMap<Holder, Hold>,
    usage: &mut BTreeMap<Scope, Share>,
    limits: &[(Scope, Limits)],
) -> Result<Vec<(Holder, Option<Hold>)>, QuotaExceeded> {
    let before = usage.clone();
    let mut held_before: BTreeMap<Scope, Share> = BTreeMap::new();
    let mut held_after: BTreeMap<Scope, Share> = BTreeMap::new();
    let mut out = Vec::with_capacity(changes.len());
    let mut current = held.clone();
    for change in changes {
        let holder = change.holder();
        if let Some(old) = current.remove(&holder) {
            for s in old.scopes() {
                usage.entry(s.clone()).or_default().sub(&old.share);
                held_before.entry(s).or_default().add(&old.share);
            }
        }
        let new = match change {
            HoldChange::Set(h) => {
                for s in h.scopes() {
                    usage.entry(s.clone()).or_default().add(&h.share);
                    held_after.entry(s).or_default().add(&h.share);
                }
                current.insert(holder, h.clone());
                Some(h.clone())
            }
            HoldChange::Release(_) => None,
        };
        out.push((holder, new));
    }
    for (scope, lim) in limits {
        let after = usage.get(scope).cloned().unwrap_or_default();
        let was = before.get(scope).cloned().unwrap_or_default();
        let mine_after = held_after.get(scope).cloned().unwrap_or_default();
        let mine_before = held_before.get(scope).cloned().unwrap_or_default();
        for d in DIMENSIONS {
            let Some(limit) = lim.get(d) else { continue };
            let holds_some = mine_after.get(d) > Decimal::ZERO;
            let not_less = mine_after.get(d) >= mine_before.get(d);
            if after.get(d) > limit && holds_some && not_less {
                return Err(QuotaExceeded {
                    scope: scope.clone(),
                    dimension: d.to_string(),
                    limit,
                    used: was.get(d),
                    would_use: after.get(d),
                });
            }
        }
    }
    Ok(out)
}

/// Usage of every scope from a full list of holds (a recount).
pub fn usage_of(holds: &[Hold]) -> BTreeMap<Scope, Share> {
    let mut usage: BTreeMap<Scope, Share> = BTreeMap::new();
    for h in holds {
        for s in h.scopes() {
            usage.entry(s).or_default().add(&h.share);
        }
    }
    usage
}
