//! Quotas as a deployment or an Admin writes them, checked before use, and
//! what a quota page or a form shows of them.

use super::{Limits, Scope, Share, DIMENSIONS};
use crate::catalog::Catalog;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The requester a quota for every requester names.
pub const EVERY_REQUESTER: &str = "*";

/// The most quotas a book holds.
pub const MAX_QUOTAS: usize = 10_000;

/// One quota: a scope and its limits. A requester quota for
/// [`EVERY_REQUESTER`] applies to each requester without one of their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawQuota", into = "RawQuota")]
pub struct Quota {
    /// Whose.
    pub scope: Scope,
    /// How much.
    pub limits: Limits,
}

/// A quota as written: one of `division`, `unit`, `requester`, and limits.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requester: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vcpus: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ram_gib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_gib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_cost: Option<Decimal>,
}

impl TryFrom<RawQuota> for Quota {
    type Error = String;

    fn try_from(r: RawQuota) -> Result<Quota, String> {
        let scope = match (r.division, r.unit, r.requester) {
            (Some(d), None, None) => Scope::Division(d),
            (None, Some(u), None) => Scope::Unit(u),
            (None, None, Some(q)) => Scope::Requester(q),
            _ => return Err("a quota names one of division, unit, requester".into()),
        };
        Ok(Quota {
            scope,
            limits: Limits {
                vcpus: r.vcpus,
                ram_gib: r.ram_gib,
                storage_gib: r.storage_gib,
                vms: r.vms,
                monthly_cost: r.monthly_cost,
            },
        })
    }
}

impl From<Quota> for RawQuota {
    fn from(q: Quota) -> RawQuota {
        let (mut division, mut unit, mut requester) = (None, None, None);
        match q.scope {
            Scope::Division(d) => division = Some(d),
            Scope::Unit(u) => unit = Some(u),
            Scope::Requester(n) => requester = Some(n),
        }
        let l = q.limits;
        RawQuota {
            division,
            unit,
            requester,
            vcpus: l.vcpus,
            ram_gib: l.ram_gib,
            storage_gib: l.storage_gib,
            vms: l.vms,
            monthly_cost: l.monthly_cost,
        }
    }
}

/// The limits `quotas` set for `scope`: its own quota, or for a requester
/// without one, the quota for [`EVERY_REQUESTER`].
pub(crate) fn limits_for<'a>(quotas: &'a [Quota], scope: &Scope) -> Option<&'a Limits> {
    let own = quotas.iter().find(|q| match (&q.scope, scope) {
        (Scope::Requester(a), Scope::Requester(b)) => {
            a != EVERY_REQUESTER && crate::auth::identity_key(a) == *b
        }
        (a, b) => a == b,
    });
    own.or_else(|| match scope {
        Scope::Requester(_) => quotas
            .iter()
            .find(|q| q.scope == Scope::Requester(EVERY_REQUESTER.into())),
        _ => None,
    })
    .map(|q| &q.limits)
}

/// The first problem of `quotas`, checked against the catalog: each names
/// a known division or unit (by code) or a valid user name (or
/// [`EVERY_REQUESTER`]), sets at least one limit, a cost not below zero,
/// and no two name the same scope. `(position from 1, scope, problem)`.
pub(crate) fn check(quotas: &[Quota], catalog: &Catalog) -> Result<(), (usize, String, String)> {
    if quotas.len() > MAX_QUOTAS {
        return Err((
            MAX_QUOTAS + 1,
            String::new(),
            format!("{} quotas; at most {MAX_QUOTAS}", quotas.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, q) in quotas.iter().enumerate() {
        let refuse = |p: String| (i + 1, q.scope.to_string(), p);
        match &q.scope {
            Scope::Division(d) if catalog.division(d).is_none() => {
                return Err(refuse(format!("no division {d:?} in the catalog")))
            }
            Scope::Unit(u) if catalog.unit(u).is_none() => {
                return Err(refuse(format!("no unit {u:?} in the catalog")))
            }
            Scope::Requester(n) if n != EVERY_REQUESTER => {
                crate::auth::normalize_user_name(n).map_err(|e| refuse(format!("{n:?}: {e}")))?;
            }
            _ => {}
        }
        if q.limits.is_empty() {
            return Err(refuse(format!(
                "no limit set (one of {})",
                DIMENSIONS.join(", ")
            )));
        }
        if q.limits.monthly_cost.is_some_and(|c| c < Decimal::ZERO) {
            return Err(refuse("monthly_cost below zero".into()));
        }
        let key = match &q.scope {
            Scope::Requester(n) if n != EVERY_REQUESTER => {
                Scope::Requester(crate::auth::identity_key(n))
            }
            s => s.clone(),
        };
        if !seen.insert(key) {
            return Err(refuse("another quota names this scope".into()));
        }
    }
    Ok(())
}

/// One scope's quota and usage as a quota page or a form shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLine {
    /// The scope.
    pub scope: Scope,
    /// Its limits (none set: no quota, usage shown only).
    pub limits: Limits,
    /// What it holds now.
    pub used: Share,
    /// What it would hold with the request previewed (absent on a quota
    /// page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_request: Option<Share>,
}

impl QuotaLine {
    /// What is left in dimension `d` now (`None`: no limit); below zero
    /// when over.
    pub fn left(&self, d: &str) -> Option<Decimal> {
        self.limits.get(d).map(|l| l - self.used.get(d))
    }

    /// What the previewed request would leave in dimension `d`.
    pub fn left_after(&self, d: &str) -> Option<Decimal> {
        let after = self.with_request.as_ref()?;
        self.limits.get(d).map(|l| l - after.get(d))
    }

    /// Whether the previewed request would take the scope over a limit.
    pub fn would_exceed(&self) -> bool {
        DIMENSIONS
            .iter()
            .any(|d| self.left_after(d).is_some_and(|l| l < Decimal::ZERO))
    }
}

/// What a request would hold and leave in each of its scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaPreview {
    /// What the request holds (a reconfigure: what it adds).
    pub share: Share,
    /// Its division, unit and requester, in that order.
    pub lines: Vec<QuotaLine>,
}

impl QuotaPreview {
    /// Whether the request would be refused for a quota now.
    pub fn would_exceed(&self) -> bool {
        self.lines.iter().any(QuotaLine::would_exceed)
    }
}
