//! A rule book: the approval rules of a deployment, one version of them,
//! and the checks a book passes before it is used.

use crate::auth::Role;
use crate::catalog::Catalog;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The request kinds a rule may name: the ones a person asks. Requests
/// Butler asks and approves itself (a deletion after the grace period, a
/// restore) are not subject to rules.
pub const RULED_KINDS: [&str; 4] = ["new_vm", "reconfigure", "decommission", "extend_lease"];

/// The most rules a book holds.
pub const MAX_RULES: usize = 10_000;
/// The most values one condition lists.
pub const MAX_VALUES: usize = 1_000;
/// The most levels one rule demands.
pub const MAX_LEVELS: usize = 5;
/// The most characters of a rule's name.
pub const MAX_RULE_NAME_CHARS: usize = 64;

/// An inclusive range; an unset end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Bounds<T> {
    /// The least value that holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<T>,
    /// The greatest value that holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<T>,
}

impl<T: PartialOrd + Copy> Bounds<T> {
    /// Whether `v` is within the bounds.
    pub fn holds(&self, v: T) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }

    /// Whether neither end is set (the condition is not asked).
    pub fn is_open(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }
}

/// What a rule looks at. Every condition set must hold for the rule to
/// match (an empty list or open bounds is not asked); a value list holds
/// when the request's value is one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Request kinds ([`RULED_KINDS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Corporate divisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divisions: Vec<String>,
    /// Management units.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    /// Environments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Boot images (a request without one never matches a list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Requesters, by user name (compared by identity, as logins are).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requesters: Vec<String>,
    /// Roles of the requester: holding any one of them holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requester_roles: Vec<Role>,
    /// Total vCPUs.
    #[serde(default, skip_serializing_if = "Bounds::is_open")]
    pub vcpus: Bounds<u32>,
    /// RAM in GiB.
    #[serde(default, skip_serializing_if = "Bounds::is_open")]
    pub ram_gib: Bounds<u32>,
    /// Total disk size in GiB.
    #[serde(default, skip_serializing_if = "Bounds::is_open")]
    pub storage_gib: Bounds<u64>,
    /// The estimate's monthly total, in the rate card's currency.
    #[serde(default, skip_serializing_if = "Bounds::is_open")]
    pub monthly_cost: Bounds<Decimal>,
    /// Lease length in days; a request without a lease never matches
    /// bounds that set a maximum.
    #[serde(default, skip_serializing_if = "Bounds::is_open")]
    pub lease_days: Bounds<u32>,
}

/// One approval level: who may approve at it. An approver at a level
/// holds the Approver role (what approving needs at all) and the level's
/// role; where the level names users, they are one of them (a finance
/// level: `{ role = "approver", users = ["fin-ana", "fin-luis"] }`); a
/// level with a `scope` is for the approvers the book lists for the
/// request's unit or division (`{ role = "approver", scope = "unit" }`),
/// named when the request is decided ([`Approvers`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// The role an approver at this level holds.
    pub role: Role,
    /// When not empty, only these users approve at this level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Whose approvers: the request's unit's or division's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<LevelScope>,
}

/// Whose approvers a level is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelScope {
    /// The approvers listed for the request's unit (else its division's).
    Unit,
    /// The approvers listed for the request's division.
    Division,
}

/// The approvers of one unit or division, for the levels scoped to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approvers {
    /// A division's code (or `unit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// A unit's code (or `division`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Who approves for it.
    pub users: Vec<String>,
}

impl Level {
    /// A level for any holder of `role`.
    pub fn role(role: Role) -> Level {
        Level {
            role,
            users: Vec::new(),
            scope: None,
        }
    }

    /// This level for a request of `division` and `unit`: a scoped level
    /// names the approvers `approvers` lists for the unit (a unit level
    /// with none listed: the division's), or, with none listed, stays
    /// open to every holder of its role.
    pub fn for_request(&self, approvers: &[Approvers], division: &str, unit: &str) -> Level {
        let Some(scope) = self.scope else {
            return self.clone();
        };
        let of_unit = || {
            approvers
                .iter()
                .find(|a| a.unit.as_deref() == Some(unit))
                .map(|a| a.users.clone())
        };
        let of_division = || {
            approvers
                .iter()
                .find(|a| a.division.as_deref() == Some(division))
                .map(|a| a.users.clone())
        };
        let listed = match scope {
            LevelScope::Unit => of_unit().or_else(of_division),
            LevelScope::Division => of_division(),
        };
        let users = match (listed, self.users.is_empty()) {
            (Some(l), true) => l,
            // Both named: those in both lists.
            (Some(l), false) => self
                .users
                .iter()
                .filter(|u| l.iter().any(|x| crate::auth::same_user(x, u)))
                .cloned()
                .collect(),
            (None, _) => self.users.clone(),
        };
        Level {
            role: self.role,
            users,
            scope: Some(scope),
        }
    }

    /// Whether `actor` may approve at this level.
    pub fn admits(&self, actor: &crate::auth::Actor) -> bool {
        actor.has(self.role)
            && (self.users.is_empty()
                || self
                    .users
                    .iter()
                    .any(|u| crate::auth::same_user(u, actor.name())))
    }
}

impl Level {
    /// The level as a line for people.
    pub fn said(&self) -> crate::said::Said {
        use crate::said::{Said, SaidCode};
        let role = ("role", self.role.as_str().to_string());
        if !self.users.is_empty() {
            return Said::new(
                SaidCode::LevelUsers,
                [role, ("users", self.users.join(", "))],
            );
        }
        match self.scope {
            Some(LevelScope::Unit) => Said::new(SaidCode::LevelUnit, [role]),
            Some(LevelScope::Division) => Said::new(SaidCode::LevelDivision, [role]),
            None => Said::new(SaidCode::LevelRole, [role]),
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.role.as_str())?;
        if !self.users.is_empty() {
            write!(f, " ({})", self.users.join(", "))?;
        } else if let Some(scope) = self.scope {
            let whose = match scope {
                LevelScope::Unit => "the unit's",
                LevelScope::Division => "the division's",
            };
            write!(f, " ({whose})")?;
        }
        Ok(())
    }
}

/// What a rule decides when it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// Butler approves the request at once.
    Approve,
    /// The request needs approval at these levels, in order.
    Require {
        /// The levels, first to last.
        levels: Vec<Level>,
        /// Whether an approver's edit after a level was passed sends the
        /// request back to level 1.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        restart_on_edit: bool,
    },
    /// Butler refuses the request.
    Refuse {
        /// Why, for the requester.
        reason: String,
    },
}

/// One rule: a name, what it looks at, and what it decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRule")]
pub struct Rule {
    /// Unique in its book; named by every decision it makes.
    pub name: String,
    /// What must hold for the rule to match (nothing: every request).
    #[serde(default)]
    pub when: Conditions,
    /// What it decides.
    #[serde(flatten)]
    pub then: Outcome,
}

/// A rule as written: the outcome's fields beside the rule's, each
/// refused where its outcome has no use for it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(default)]
    when: Conditions,
    outcome: String,
    levels: Option<Vec<Level>>,
    restart_on_edit: Option<bool>,
    reason: Option<String>,
}

impl TryFrom<RawRule> for Rule {
    type Error = String;

    fn try_from(r: RawRule) -> Result<Rule, String> {
        let restart = r.restart_on_edit;
        let then = match (r.outcome.as_str(), r.levels, r.reason) {
            ("require", Some(levels), None) => Outcome::Require {
                levels,
                restart_on_edit: restart.unwrap_or(false),
            },
            _ if restart.is_some() => {
                return Err(format!(
                    "rule {:?}: restart_on_edit goes with require only",
                    r.name
                ))
            }
            ("approve", None, None) => Outcome::Approve,
            ("refuse", None, Some(reason)) => Outcome::Refuse { reason },
            ("require", None, _) => return Err(format!("rule {:?}: require needs levels", r.name)),
            ("refuse", _, None) => return Err(format!("rule {:?}: refuse needs a reason", r.name)),
            ("approve" | "require" | "refuse", _, _) => {
                return Err(format!(
                    "rule {:?}: levels go with require only, a reason with refuse only",
                    r.name
                ))
            }
            (other, _, _) => {
                return Err(format!(
                    "rule {:?}: outcome {other:?}: one of approve, require, refuse",
                    r.name
                ))
            }
        };
        Ok(Rule {
            name: r.name,
            when: r.when,
            then,
        })
    }
}

/// The rules as a deployment file or an Admin writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// In the order they are listed (the order names the first of several
    /// matching rules).
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    /// The quotas ([`crate::quota`]), versioned with the rules.
    #[serde(default, rename = "quota", skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<crate::quota::Quota>,
    /// The approvers of units and divisions, for scoped levels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<Approvers>,
}

/// One version of a deployment's rules: the rules, which version they are,
/// and who wrote them when. Every decision names its book's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleBook {
    /// 1 for the first book, one more for each change.
    pub version: u32,
    /// The rules.
    pub rules: Vec<Rule>,
    /// The quotas (none: nothing is limited).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<crate::quota::Quota>,
    /// The approvers of units and divisions, for scoped levels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<Approvers>,
    /// Who wrote this version (the deployment file: `deployment`).
    pub changed_by: String,
    /// When.
    pub changed_at: DateTime<Utc>,
}

impl RuleBook {
    /// A book with no rules: every request needs one approver, as before
    /// rules existed.
    pub fn empty(at: DateTime<Utc>) -> RuleBook {
        RuleBook {
            version: 0,
            rules: Vec::new(),
            quotas: Vec::new(),
            approvers: Vec::new(),
            changed_by: DEPLOYMENT_AUTHOR.into(),
            changed_at: at,
        }
    }

    /// The limits this book sets for `scope` (a requester without a quota
    /// of their own: the quota for every requester), if any.
    pub fn limits_for(&self, scope: &crate::quota::Scope) -> Option<&crate::quota::Limits> {
        crate::quota::limits_for(&self.quotas, scope)
    }
}

/// A refused set of rules as the services report it.
fn invalid(why: impl std::fmt::Display) -> crate::ButlerError {
    crate::ButlerError::Invalid(format!("approval rules: {why}"))
}

impl From<RuleError> for crate::ButlerError {
    fn from(e: RuleError) -> Self {
        invalid(e)
    }
}

/// Who writes the rules a deployment gives (its file, or the builder).
pub const DEPLOYMENT_AUTHOR: &str = "deployment";

/// Why a set of rules was refused: the rule (by position and name) and
/// what is wrong with it. The book in use does not change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {position} ({name:?}): {problem}")]
pub struct RuleError {
    /// `rule` or `quota`.
    pub what: &'static str,
    /// From 1, in the order listed.
    pub position: usize,
    /// The rule's name as given.
    pub name: String,
    /// What is wrong.
    pub problem: String,
}

impl Rules {
    /// Rules from TOML text (`[[rule]]` tables, as in a deployment file).
    /// The text's shape is checked here; [`check`](Self::check) checks
    /// the names against the catalog.
    pub fn from_toml(text: &str) -> Result<Rules, toml::de::Error> {
        toml::from_str(text)
    }

    /// [`from_toml`](Self::from_toml) for a host handing on what a user
    /// sent: a text that does not parse is [`ButlerError::Invalid`](crate::ButlerError::Invalid)
    /// naming the rule and the problem, as a refused [`check`](Self::check) is.
    pub fn parse(text: &str) -> Result<Rules, crate::ButlerError> {
        Rules::from_toml(text).map_err(|e| invalid(e.message()))
    }

    /// The first problem of the first rule that has one, checked against
    /// the catalog (divisions, units and environments by code, clusters
    /// and images by name), so a typo cannot make a rule silently never
    /// match: names unique and printable, values known, bounds in order,
    /// levels and reasons given.
    pub fn check(&self, catalog: &Catalog) -> Result<(), RuleError> {
        if self.rules.len() > MAX_RULES {
            return Err(RuleError {
                what: "rule",
                position: MAX_RULES + 1,
                name: String::new(),
                problem: format!("{} rules; at most {MAX_RULES}", self.rules.len()),
            });
        }
        let mut names = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let refuse = |problem: String| RuleError {
                what: "rule",
                position: i + 1,
                name: rule.name.clone(),
                problem,
            };
            check_name(&rule.name).map_err(&refuse)?;
            if !names.insert(rule.name.to_lowercase()) {
                return Err(refuse("another rule has this name".into()));
            }
            check_conditions(&rule.when, catalog).map_err(&refuse)?;
            check_outcome(&rule.then).map_err(&refuse)?;
        }
        check_approvers(&self.approvers, catalog).map_err(|(position, name, problem)| {
            RuleError {
                what: "approvers",
                position,
                name,
                problem,
            }
        })?;
        crate::quota::check(&self.quotas, catalog).map_err(|(position, name, problem)| RuleError {
            what: "quota",
            position,
            name,
            problem,
        })
    }
}

/// The first problem of `approvers`: each names one known division or
/// unit, valid user names (at least one), and no two the same one.
fn check_approvers(
    approvers: &[Approvers],
    catalog: &Catalog,
) -> Result<(), (usize, String, String)> {
    let mut seen = BTreeSet::new();
    for (i, a) in approvers.iter().enumerate() {
        let (name, known) = match (&a.division, &a.unit) {
            (Some(d), None) => (format!("division {d}"), catalog.division(d).is_some()),
            (None, Some(u)) => (format!("unit {u}"), catalog.unit(u).is_some()),
            _ => {
                return Err((i + 1, String::new(), "names one of division, unit".into()));
            }
        };
        let refuse = |p: String| (i + 1, name.clone(), p);
        if !known {
            return Err(refuse("not in the catalog".into()));
        }
        if a.users.is_empty() {
            return Err(refuse("users: at least one".into()));
        }
        if a.users.len() > MAX_VALUES {
            return Err(refuse(format!(
                "users lists {}; at most {MAX_VALUES}",
                a.users.len()
            )));
        }
        for u in &a.users {
            crate::auth::normalize_user_name(u)
                .map_err(|e| refuse(format!("users: {u:?}: {e}")))?;
        }
        if !seen.insert(name.clone()) {
            return Err(refuse("listed twice".into()));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if name.trim().is_empty() {
        return Err("a rule needs a name".into());
    }
    if n > MAX_RULE_NAME_CHARS {
        return Err(format!(
            "the name has {n} characters; at most {MAX_RULE_NAME_CHARS}"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name holds a control character".into());
    }
    Ok(())
}

/// Whether a value of a list condition is one the catalog knows.
type IsKnown<'a> = dyn Fn(&str) -> bool + 'a;

fn check_conditions(c: &Conditions, known: &Catalog) -> Result<(), String> {
    let lists: [(&str, &[String], &IsKnown); 6] = [
        ("kinds", &c.kinds, &|k| RULED_KINDS.contains(&k)),
        ("divisions", &c.divisions, &|d| known.division(d).is_some()),
        ("units", &c.units, &|u| known.unit(u).is_some()),
        ("environments", &c.environments, &|e| {
            known.environment(e).is_some()
        }),
        ("clusters", &c.clusters, &|x| known.cluster(x).is_some()),
        ("images", &c.images, &|x| known.image(x).is_some()),
    ];
    for (field, values, is_known) in lists {
        if values.len() > MAX_VALUES {
            return Err(format!(
                "{field} lists {}; at most {MAX_VALUES}",
                values.len()
            ));
        }
        if let Some(v) = values.iter().find(|v| !is_known(v)) {
            let hint = if field == "kinds" {
                format!(" (one of {})", RULED_KINDS.join(", "))
            } else {
                " in the catalog".into()
            };
            return Err(format!("{field}: no {v:?}{hint}"));
        }
    }
    if c.requesters.len() > MAX_VALUES {
        return Err(format!(
            "requesters lists {}; at most {MAX_VALUES}",
            c.requesters.len()
        ));
    }
    for r in &c.requesters {
        crate::auth::normalize_user_name(r).map_err(|e| format!("requesters: {r:?}: {e}"))?;
    }
    in_order("vcpus", &c.vcpus)?;
    in_order("ram_gib", &c.ram_gib)?;
    in_order("storage_gib", &c.storage_gib)?;
    in_order("monthly_cost", &c.monthly_cost)?;
    in_order("lease_days", &c.lease_days)?;
    if c.monthly_cost.min.is_some_and(|m| m < Decimal::ZERO) {
        return Err("monthly_cost: min below zero".into());
    }
    Ok(())
}

fn in_order<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    b: &Bounds<T>,
) -> Result<(), String> {
    match (b.min, b.max) {
        (Some(lo), Some(hi)) if lo > hi => Err(format!("{field}: min {lo} is above max {hi}")),
        _ => Ok(()),
    }
}

fn check_outcome(o: &Outcome) -> Result<(), String> {
    match o {
        Outcome::Approve => Ok(()),
        Outcome::Require { levels, .. } => {
            if let Some(l) = levels.iter().find(|l| l.users.len() > MAX_VALUES) {
                return Err(format!(
                    "require: a level names {} users; at most {MAX_VALUES}",
                    l.users.len()
                ));
            }
            for u in levels.iter().flat_map(|l| &l.users) {
                crate::auth::normalize_user_name(u)
                    .map_err(|e| format!("require: user {u:?}: {e}"))?;
            }
            if levels.is_empty() {
                return Err("require: at least one level".into());
            }
            if levels.len() > MAX_LEVELS {
                return Err(format!(
                    "require: {} levels; at most {MAX_LEVELS}",
                    levels.len()
                ));
            }
            if let Some(l) = levels
                .iter()
                .find(|l| !matches!(l.role, Role::Approver | Role::Admin))
            {
                return Err(format!(
                    "require: a level by {:?}: only approver or admin may approve",
                    l.role
                ));
            }
            Ok(())
        }
        Outcome::Refuse { reason } => {
            if reason.trim().is_empty() {
                return Err("refuse: a reason for the requester".into());
            }
            let n = reason.chars().count();
            if n > crate::limits::MAX_REASON_CHARS {
                return Err(format!(
                    "refuse: the reason has {n} characters; at most {}",
                    crate::limits::MAX_REASON_CHARS
                ));
            }
            Ok(())
        }
    }
}
