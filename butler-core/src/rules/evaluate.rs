//! Evaluation: what a book decides for a request, and why.

use super::book::{Bounds, Conditions, Level, Outcome, Rule, RuleBook};
use crate::auth::{Role, RoleSet};
use crate::cost::Estimate;
use crate::request::Request;
use crate::vm_spec::ValidSpec;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a rule looks at in a request: its kind, where it goes, its sizes
/// and cost, and who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts<'a> {
    /// The request kind's name (`new_vm`, `reconfigure`, …).
    pub kind: &'static str,
    /// Division code.
    pub division: &'a str,
    /// Unit code.
    pub unit: &'a str,
    /// Environment code.
    pub environment: &'a str,
    /// Cluster name.
    pub cluster: &'a str,
    /// Boot image, if any.
    pub image: Option<&'a str>,
    /// Total vCPUs.
    pub vcpus: u32,
    /// RAM in GiB.
    pub ram_gib: u32,
    /// Total disk size in GiB.
    pub storage_gib: u64,
    /// The estimate's monthly total.
    pub monthly_cost: Decimal,
    /// Lease length in days (`None`: no lease).
    pub lease_days: Option<u32>,
    /// The requester's identity ([`crate::auth::identity_key`] of their name).
    pub requester: String,
    /// The requester's roles.
    pub roles: RoleSet,
}

impl<'a> Facts<'a> {
    /// The facts of `request`, asked by `requester` holding `roles`: the
    /// spec as it stands (for a reconfigure, the new one) and its estimate.
    pub fn of(request: &'a Request, requester: &str, roles: RoleSet) -> Facts<'a> {
        Facts::priced(
            request.kind.as_str(),
            &request.spec,
            &request.estimate,
            requester,
            roles,
        )
    }

    /// The facts of a request of `kind` for `spec` costing `estimate`.
    pub fn priced(
        kind: &'static str,
        spec: &'a ValidSpec,
        estimate: &Estimate,
        requester: &str,
        roles: RoleSet,
    ) -> Facts<'a> {
        let s = spec.spec();
        Facts {
            kind,
            division: &s.division,
            unit: &s.unit,
            environment: &s.environment,
            cluster: &s.cluster,
            image: s.image.as_deref(),
            vcpus: s.cores_per_socket.saturating_mul(s.sockets),
            ram_gib: s.ram_gib,
            storage_gib: s.disks_gib.iter().map(|&d| u64::from(d)).sum(),
            monthly_cost: estimate.total,
            lease_days: s.lease_days,
            requester: crate::auth::identity_key(requester),
            roles,
        }
    }
}

/// What a book decided for a request: the outcome, the book's version and
/// the rules that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Approve, the levels to approve at, or refuse.
    pub outcome: Outcome,
    /// The version of the book that decided.
    pub book_version: u32,
    /// The deciding rules, in book order: the first refusing rule; every
    /// rule demanding levels; the first approving rule. Empty when no rule
    /// matched (one approver, [`default_levels`]).
    pub rules: Vec<String>,
}

/// What a request needs when no rule matches: one approver, as before
/// rules existed.
pub fn default_levels() -> Vec<Level> {
    vec![Level::role(Role::Approver)]
}

impl Decision {
    /// The levels the request must be approved at (none when approved or
    /// refused).
    pub fn levels(&self) -> &[Level] {
        match &self.outcome {
            Outcome::Require { levels, .. } => levels,
            _ => &[],
        }
    }

    /// The same as [`Self::note`], as a code with its values: who decided
    /// first among its parts, then the levels it demands.
    pub fn said(&self) -> crate::said::Said {
        use crate::said::{Said, SaidCode};
        let names: Vec<String> = self.rules.iter().map(|r| format!("{r:?}")).collect();
        let by = match names.len() {
            0 => Said::just(SaidCode::NoRuleMatched),
            1 => Said::new(SaidCode::ByRule, [("rules", names.join(", "))]),
            _ => Said::new(SaidCode::ByRules, [("rules", names.join(", "))]),
        };
        let version = ("version", self.book_version.to_string());
        match &self.outcome {
            Outcome::Approve => Said::new(SaidCode::RulesApprove, [version]).with_parts(vec![by]),
            Outcome::Refuse { reason } => {
                Said::new(SaidCode::RulesRefuse, [version, ("reason", reason.clone())])
                    .with_parts(vec![by])
            }
            Outcome::Require { levels, .. } => Said::new(SaidCode::RulesRequire, [version])
                .with_parts(
                    std::iter::once(by)
                        .chain(levels.iter().map(Level::said))
                        .collect(),
                ),
        }
    }

    /// How a request's history says it: the outcome, the rules and the
    /// book's version.
    pub fn note(&self) -> String {
        let by = if self.rules.is_empty() {
            "no rule matched".to_string()
        } else {
            let names: Vec<String> = self.rules.iter().map(|r| format!("{r:?}")).collect();
            format!(
                "rule{} {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            )
        };
        let v = self.book_version;
        match &self.outcome {
            Outcome::Approve => format!("approved automatically by {by} (rules v{v})"),
            Outcome::Refuse { reason } => format!("refused by {by} (rules v{v}): {reason}"),
            Outcome::Require { levels, .. } => {
                let levels: Vec<String> = levels.iter().map(Level::to_string).collect();
                format!(
                    "needs approval by {} ({by}, rules v{v})",
                    levels.join(", then ")
                )
            }
        }
    }
}

/// Decides for `facts` by `book`. Total and deterministic; the precedence:
///
/// 1. a matching rule that **refuses** wins (the first in book order);
/// 2. else the **levels** of every matching rule that demands levels, in
///    book order, one after the other (a level two rules both demand in
///    the same place is asked once);
/// 3. else the first matching rule that **approves** approves;
/// 4. else (no rule matches) one approver, as before rules existed.
///
/// So an automatic approval never skips a level a matching rule demands.
pub fn evaluate(book: &RuleBook, facts: &Facts<'_>) -> Decision {
    let mut approve: Option<&Rule> = None;
    let mut requiring: Vec<&Rule> = Vec::new();
    for rule in &book.rules {
        if !matches(&rule.when, facts) {
            continue;
        }
        match &rule.then {
            Outcome::Refuse { .. } => {
                return Decision {
                    outcome: rule.then.clone(),
                    book_version: book.version,
                    rules: vec![rule.name.clone()],
                }
            }
            Outcome::Require { .. } => requiring.push(rule),
            Outcome::Approve => {
                approve.get_or_insert(rule);
            }
        }
    }
    let decided = |outcome: Outcome, rules: Vec<&Rule>| Decision {
        outcome,
        book_version: book.version,
        rules: rules.iter().map(|r| r.name.clone()).collect(),
    };
    if !requiring.is_empty() {
        let restart_on_edit = requiring.iter().any(|r| {
            matches!(
                r.then,
                Outcome::Require {
                    restart_on_edit: true,
                    ..
                }
            )
        });
        let levels = merged_levels(&requiring)
            .iter()
            .map(|l| l.for_request(&book.approvers, facts.division, facts.unit))
            .collect();
        return decided(
            Outcome::Require {
                levels,
                restart_on_edit,
            },
            requiring,
        );
    }
    match approve {
        Some(rule) => decided(Outcome::Approve, vec![rule]),
        None => decided(
            Outcome::Require {
                levels: default_levels(),
                restart_on_edit: false,
            },
            Vec::new(),
        ),
    }
}

/// The levels of `rules`, one rule's after the other's, where a rule's
/// level at the position the merged list already holds is asked once.
fn merged_levels(rules: &[&Rule]) -> Vec<Level> {
    let mut merged: Vec<Level> = Vec::new();
    for rule in rules {
        if let Outcome::Require { levels, .. } = &rule.then {
            // A rule's levels are a prefix of the merged list when another
            // rule asked the same first; only what goes beyond is added.
            let shared = merged
                .iter()
                .zip(levels)
                .take_while(|(a, b)| a == b)
                .count();
            if shared == levels.len() {
                continue;
            }
            if shared == merged.len() {
                merged.extend(levels[shared..].iter().cloned());
            } else {
                merged.extend(levels.iter().cloned());
            }
        }
    }
    merged
}

fn in_list(list: &[String], v: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == v)
}

/// Every condition set holds. The lists come first: a book's rules mostly
/// differ by where a request goes, so most fail there.
pub(super) fn matches(c: &Conditions, f: &Facts<'_>) -> bool {
    in_list(&c.kinds, f.kind)
        && in_list(&c.divisions, f.division)
        && in_list(&c.units, f.unit)
        && in_list(&c.environments, f.environment)
        && in_list(&c.clusters, f.cluster)
        && (c.images.is_empty() || f.image.is_some_and(|i| c.images.iter().any(|x| x == i)))
        && c.vcpus.holds(f.vcpus)
        && c.ram_gib.holds(f.ram_gib)
        && c.storage_gib.holds(f.storage_gib)
        && c.monthly_cost.holds(f.monthly_cost)
        && lease_holds(&c.lease_days, f.lease_days)
        && (c.requester_roles.is_empty() || c.requester_roles.iter().any(|r| f.roles.contains(*r)))
        && (c.requesters.is_empty() || c.requesters.iter().any(|r| is_identity(r, &f.requester)))
}

/// Whether user name `name` has the identity `key`
/// ([`crate::auth::identity_key`]); an ASCII name is compared without
/// normalising (its identity is its lower case).
fn is_identity(name: &str, key: &str) -> bool {
    if name.is_ascii() {
        name.eq_ignore_ascii_case(key)
    } else {
        crate::auth::identity_key(name) == key
    }
}

/// No lease is longer than any: it holds a minimum, never a maximum.
fn lease_holds(b: &Bounds<u32>, days: Option<u32>) -> bool {
    match days {
        Some(d) => b.holds(d),
        None => b.max.is_none(),
    }
}

/// One condition of a rule as checked against a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionCheck {
    /// The condition, e.g. `vcpus ≤ 4` or `environment in [dev, test]`.
    pub condition: String,
    /// The request's value.
    pub value: String,
    /// Whether it holds.
    pub holds: bool,
}

/// A rule as checked against a request: each condition it sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// The rule's name.
    pub rule: String,
    /// From 1, in book order.
    pub position: usize,
    /// Whether every condition holds.
    pub matched: bool,
    /// Each condition the rule sets (none: it matches every request).
    pub conditions: Vec<ConditionCheck>,
}

/// A decision and why: every rule of the book checked condition by
/// condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// What the book decides.
    pub decision: Decision,
    /// Every rule, in book order.
    pub rules: Vec<RuleCheck>,
}

/// [`evaluate`] with every rule's conditions checked one by one, for a
/// "why" view or a dry run.
pub fn explain(book: &RuleBook, facts: &Facts<'_>) -> Explanation {
    let rules = book
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let conditions = checks(&rule.when, facts);
            RuleCheck {
                rule: rule.name.clone(),
                position: i + 1,
                matched: conditions.iter().all(|c| c.holds),
                conditions,
            }
        })
        .collect();
    Explanation {
        decision: evaluate(book, facts),
        rules,
    }
}

fn checks(c: &Conditions, f: &Facts<'_>) -> Vec<ConditionCheck> {
    let mut out = Vec::new();
    let mut list = |name: &str, list: &[String], v: Option<&str>| {
        if !list.is_empty() {
            out.push(ConditionCheck {
                condition: format!("{name} in [{}]", list.join(", ")),
                value: v.unwrap_or("none").to_string(),
                holds: v.is_some_and(|v| list.iter().any(|x| x == v)),
            });
        }
    };
    list("kind", &c.kinds, Some(f.kind));
    list("division", &c.divisions, Some(f.division));
    list("unit", &c.units, Some(f.unit));
    list("environment", &c.environments, Some(f.environment));
    list("cluster", &c.clusters, Some(f.cluster));
    list("image", &c.images, f.image);
    if !c.requesters.is_empty() {
        out.push(ConditionCheck {
            condition: format!("requester in [{}]", c.requesters.join(", ")),
            value: f.requester.clone(),
            holds: c.requesters.iter().any(|r| is_identity(r, &f.requester)),
        });
    }
    if !c.requester_roles.is_empty() {
        let roles: Vec<&str> = c.requester_roles.iter().map(|r| r.as_str()).collect();
        let held: Vec<&str> = f.roles.iter().map(Role::as_str).collect();
        out.push(ConditionCheck {
            condition: format!("requester holds one of [{}]", roles.join(", ")),
            value: format!("[{}]", held.join(", ")),
            holds: c.requester_roles.iter().any(|r| f.roles.contains(*r)),
        });
    }
    bounds(&mut out, "vcpus", &c.vcpus, f.vcpus);
    bounds(&mut out, "ram_gib", &c.ram_gib, f.ram_gib);
    bounds(&mut out, "storage_gib", &c.storage_gib, f.storage_gib);
    bounds(&mut out, "monthly_cost", &c.monthly_cost, f.monthly_cost);
    if !c.lease_days.is_open() {
        out.push(ConditionCheck {
            condition: bounds_text("lease_days", &c.lease_days),
            value: f.lease_days.map_or("no lease".into(), |d| d.to_string()),
            holds: lease_holds(&c.lease_days, f.lease_days),
        });
    }
    out
}

fn bounds<T: Copy + PartialOrd + std::fmt::Display>(
    out: &mut Vec<ConditionCheck>,
    name: &str,
    b: &Bounds<T>,
    v: T,
) {
    if !b.is_open() {
        out.push(ConditionCheck {
            condition: bounds_text(name, b),
            value: v.to_string(),
            holds: b.holds(v),
        });
    }
}

fn bounds_text<T: std::fmt::Display>(name: &str, b: &Bounds<T>) -> String {
    match (&b.min, &b.max) {
        (Some(lo), Some(hi)) => format!("{lo} ≤ {name} ≤ {hi}"),
        (Some(lo), None) => format!("{name} ≥ {lo}"),
        (None, Some(hi)) => format!("{name} ≤ {hi}"),
        (None, None) => name.to_string(),
    }
}
